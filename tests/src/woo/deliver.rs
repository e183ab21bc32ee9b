//! Outgoing HTTP: webhook deliveries and pings, written on a raw socket so the bytes on the wire
//! are what WooCommerce 10's cURL transport sends (captured in `woocommerce-captures/`):
//! HTTP/1.1, `Content-Length` framing, `Connection: close`, `Accept: */*`, `Accept-Encoding`, in
//! the captured header order. An HTTP library would add or reorder headers.
//!
//! Also here: `wp_http_validate_url()` (the `wp_url_safety` switch), the signature and the
//! Delivery-ID.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// What came back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A parsed `http://host:port/path?query` URL.
#[derive(Debug, Clone)]
pub struct Url {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub explicit_port: bool,
    pub target: String,
}

pub fn parse_url(url: &str) -> Option<Url> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (authority, target) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port, explicit) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || authority.starts_with('[') => {
            (h.to_string(), p.parse().ok()?, true)
        }
        _ => (
            authority.to_string(),
            if scheme == "https" { 443 } else { 80 },
            false,
        ),
    };
    let target = target.split('#').next().unwrap_or("/");
    let target = if target.starts_with('?') {
        format!("/{target}")
    } else if target.is_empty() {
        "/".to_string()
    } else {
        target.to_string()
    };
    Some(Url {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        explicit_port: explicit,
        target,
    })
}

fn blocked_ipv4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 127
        || o[0] == 10
        || o[0] == 0
        || (o[0] == 172 && (16..=31).contains(&o[1]))
        || (o[0] == 192 && o[1] == 168)
        || (o[0] == 169 && o[1] == 254)
        || (o[0] == 100 && (64..=127).contains(&o[1]))
}

/// `wp_http_validate_url()` as used by `wp_safe_remote_request()`: http(s) only, no userinfo,
/// loopback/private/reserved IPv4 refused unless the host is the site's own host, ports other
/// than 80/443/8080 refused unless same host and port as home. `allowed` is the filter escape
/// hatch (`http_request_host_is_external` / `http_allowed_safe_ports`): URL prefixes let through.
pub fn validate_url(url: &str, home: &str, allowed: &[String]) -> bool {
    if allowed
        .iter()
        .any(|a| !a.is_empty() && url.starts_with(a.as_str()))
    {
        return true;
    }
    let Some(u) = parse_url(url) else {
        return false;
    };
    let home = parse_url(home);
    let same_host = home.as_ref().is_some_and(|h| h.host == u.host);
    if !same_host {
        let host = u.host.trim_matches('.');
        let ip = match host.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => match (host, 80).to_socket_addrs() {
                Ok(mut it) => it.find(SocketAddr::is_ipv4).map(|a| a.ip()),
                Err(_) => return false, // gethostbyname() failed
            },
        };
        match ip {
            Some(IpAddr::V4(v4)) if blocked_ipv4(v4) => return false,
            Some(IpAddr::V6(v6)) if v6.is_loopback() => return false,
            None => return false,
            _ => {}
        }
    }
    if !u.explicit_port || [80, 443, 8080].contains(&u.port) {
        return true;
    }
    home.is_some_and(|h| same_host && h.explicit_port && h.port == u.port)
}

/// `wp_hash(id . time())` = HMAC-MD5 keyed with the auth salt, 32 lowercase hex characters.
pub fn delivery_id(salt: &str, webhook_id: u64, unix: i64) -> String {
    let mut mac = Hmac::<md5::Md5>::new_from_slice(salt.as_bytes()).expect("hmac accepts any key");
    mac.update(format!("{webhook_id}{unix}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `wp_specialchars_decode($secret, ENT_QUOTES)`: the five entities WordPress decodes.
pub fn specialchars_decode(s: &str) -> String {
    // &amp; last so that "&amp;lt;" becomes "&lt;", not "<" (one pass, like PHP's strtr).
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let b = s.as_bytes();
    let table: [(&str, char); 8] = [
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&quot;", '"'),
        ("&#039;", '\''),
        ("&#39;", '\''),
        ("&#x27;", '\''),
        ("&#x22;", '"'),
    ];
    'outer: while i < b.len() {
        if b[i] == b'&' {
            for (ent, c) in table {
                if s[i..].starts_with(ent) {
                    out.push(c);
                    i += ent.len();
                    continue 'outer;
                }
            }
        }
        let c = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `X-WC-Webhook-Signature`: base64(HMAC-SHA256(body, entity-decoded secret)).
pub fn signature(body: &[u8], secret: &str) -> String {
    let key = specialchars_decode(secret);
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("hmac accepts any key");
    mac.update(body);
    B64.encode(mac.finalize().into_bytes())
}

/// Send one request and read the answer, all within `timeout`. Errors read like WordPress's
/// cURL errors so the delivery log looks like WooCommerce's.
pub fn send(
    url: &Url,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Answer, String> {
    if url.scheme != "http" {
        return Err("cURL error 1: woo-sim cannot speak TLS; use an http:// delivery URL".into());
    }
    let deadline = Instant::now() + timeout;
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|_| format!("cURL error 6: Could not resolve host: {}", url.host))?
        .collect();
    let mut stream = None;
    let mut last = String::new();
    for a in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&a, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!(
                    "cURL error 28: Connection timed out after {} milliseconds",
                    timeout.as_millis()
                );
            }
            Err(_) => {
                last = format!(
                    "cURL error 7: Failed to connect to {} port {}: Connection refused",
                    url.host, url.port
                );
            }
        }
    }
    let mut stream = stream.ok_or_else(|| {
        if last.is_empty() {
            format!("cURL error 6: Could not resolve host: {}", url.host)
        } else {
            last
        }
    })?;
    let timed_out = |got: usize| {
        format!(
            "cURL error 28: Operation timed out after {} milliseconds with {got} bytes received",
            timeout.as_millis()
        )
    };
    let mut req = format!("{method} {} HTTP/1.1\r\n", url.target).into_bytes();
    for (k, v) in headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    let _ = stream.set_write_timeout(Some(
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1)),
    ));
    stream
        .write_all(&req)
        .map_err(|e| format!("cURL error 55: Send failure: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut head_end = None;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    loop {
        if let Some(he) = head_end {
            let have = buf.len() - he;
            if let Some(cl) = content_length
                && have >= cl
            {
                break;
            }
            if chunked && buf[he..].windows(5).any(|w| w == b"0\r\n\r\n") {
                break;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(buf.len()));
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out(buf.len()));
            }
            Err(e) => {
                if head_end.is_some() {
                    break;
                }
                return Err(format!("cURL error 56: Recv failure: {e}"));
            }
        }
        if head_end.is_none()
            && let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n")
        {
            head_end = Some(i + 4);
            let head = String::from_utf8_lossy(&buf[..i]).to_string();
            for line in head.lines().skip(1) {
                if let Some((k, v)) = line.split_once(':') {
                    let k = k.trim().to_ascii_lowercase();
                    if k == "content-length" {
                        content_length = v.trim().parse().ok();
                    }
                    if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                        chunked = true;
                    }
                }
            }
        }
    }
    let Some(he) = head_end else {
        return Err("cURL error 52: Empty reply from server".into());
    };
    let head = String::from_utf8_lossy(&buf[..he - 4]).to_string();
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("cURL error 8: Weird server reply: {status_line}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[he..].to_vec();
    if let Some(cl) = content_length {
        body.truncate(cl);
    } else if chunked {
        body = dechunk(&body);
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..i])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || b.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[(i + 2 + size + 2).min(b.len())..];
    }
    out
}

/// The `Host` header as cURL writes it: the port only when it is not the scheme's default.
pub fn host_header(u: &Url) -> String {
    let default = if u.scheme == "https" { 443 } else { 80 };
    if u.port == default {
        u.host.clone()
    } else {
        format!("{}:{}", u.host, u.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_safety_like_wp_http_validate_url() {
        let home = "http://127.0.0.1:9000/";
        assert!(
            !validate_url("http://127.0.0.1:8765/hook", home, &[]),
            "odd port"
        );
        assert!(
            validate_url("http://127.0.0.1:9000/hook", home, &[]),
            "same host and port as home"
        );
        assert!(
            validate_url("http://127.0.0.1:8080/hook", home, &[]),
            "same host skips the IP check"
        );
        assert!(
            !validate_url("http://localhost:8080/hook", home, &[]),
            "loopback by name"
        );
        assert!(!validate_url("http://10.1.2.3/hook", home, &[]));
        assert!(!validate_url("http://192.168.1.1:443/hook", home, &[]));
        assert!(!validate_url("http://user:pw@93.184.216.34/", home, &[]));
        assert!(!validate_url("ftp://93.184.216.34/", home, &[]));
        assert!(validate_url("http://93.184.216.34/hook", home, &[]));
        assert!(validate_url(
            "http://localhost:8765/hook",
            home,
            &["http://localhost:8765/".into()]
        ));
    }

    #[test]
    fn entity_decoded_secret() {
        assert_eq!(
            specialchars_decode("rw&amp;<\"'>B-secret"),
            "rw&<\"'>B-secret"
        );
        assert_eq!(specialchars_decode("a&amp;lt;b&#039;"), "a&lt;b'");
        // Reference test vector (woocommerce.md §1.10).
        assert_eq!(
            signature(b"{\"id\":123}", "a&amp;b"),
            "zFPLpIBufGMBAbLpbENMe4lF0ThpJg3AwslPSHHIXqg="
        );
        assert_eq!(
            signature(b"{\"id\":123}", "s3cr3t"),
            "XBNzmKAUn/VQG5fIrC+YyrxoilcPe0JU2MsIJyZK14o="
        );
    }
}

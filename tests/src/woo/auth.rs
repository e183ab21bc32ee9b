//! REST authentication as `WC_REST_Authentication` does it (woocommerce.md §2.1 and the verified
//! section): over plain HTTP only OAuth 1.0a one-legged is looked at; Basic and
//! `?consumer_key=&consumer_secret=` count only when the request is HTTPS (`https_assumed`).
//! A request that carries no credentials WooCommerce recognises is simply unauthenticated, and
//! the route's permission check answers 401 `woocommerce_rest_cannot_*` later.

use super::model::State;
use crate::http::Request;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};

/// Why authentication failed outright (answered before routing, like `rest_authentication_errors`).
#[derive(Debug, Clone)]
pub struct AuthError {
    pub code: &'static str,
    pub message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> AuthError {
    AuthError {
        code,
        message: message.into(),
    }
}

/// The key pair the shop knows and its permission (`read`, `write` or `read_write`).
pub struct Keys<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub permissions: &'a str,
    pub https: bool,
    /// `home_url()` without trailing slash, as used in the OAuth base string.
    pub home: &'a str,
}

/// `Ok(true)`: authenticated; `Ok(false)`: no usable credentials; `Err`: refused.
pub fn authenticate(
    keys: &Keys,
    req: &Request,
    st: &mut State,
    now: i64,
) -> Result<bool, AuthError> {
    let mut user = false;
    if keys.https {
        user = basic(keys, req)?;
    }
    if !user {
        user = oauth(keys, req, st, now)?;
    }
    if user {
        // check_permissions() on rest_pre_dispatch.
        let read = matches!(keys.permissions, "read" | "read_write");
        let write = matches!(keys.permissions, "write" | "read_write");
        match req.method.as_str() {
            "GET" | "HEAD" if !read => {
                return Err(err(
                    "woocommerce_rest_authentication_error",
                    "The API key provided does not have read permissions.",
                ));
            }
            "POST" | "PUT" | "PATCH" | "DELETE" if !write => {
                return Err(err(
                    "woocommerce_rest_authentication_error",
                    "The API key provided does not have write permissions.",
                ));
            }
            _ => {}
        }
    }
    Ok(user)
}

fn basic(keys: &Keys, req: &Request) -> Result<bool, AuthError> {
    let mut pair = None;
    if let (Some(k), Some(s)) = (req.param("consumer_key"), req.param("consumer_secret"))
        && !k.is_empty()
        && !s.is_empty()
    {
        pair = Some((k.to_string(), s.to_string()));
    }
    if pair.is_none()
        && let Some(h) = req.header("authorization")
        && let Some(b) = h
            .strip_prefix("Basic ")
            .or_else(|| h.strip_prefix("basic "))
        && let Ok(raw) = B64.decode(b.trim())
        && let Ok(text) = String::from_utf8(raw)
        && let Some((u, p)) = text.split_once(':')
        && !u.is_empty()
        && !p.is_empty()
    {
        pair = Some((u.to_string(), p.to_string()));
    }
    let Some((k, s)) = pair else { return Ok(false) };
    if k != keys.consumer_key {
        // Unknown key: not authenticated, falls through to OAuth.
        return Ok(false);
    }
    if s != keys.consumer_secret {
        return Err(err(
            "woocommerce_rest_authentication_error",
            "Consumer secret is invalid.",
        ));
    }
    Ok(true)
}

/// PHP's view of a request parameter: a scalar, or an array from `name[]` / `name[k]`.
#[derive(Debug, Clone)]
enum PVal {
    S(String),
    A(Vec<(String, String)>),
}

/// Parse `k=v` pairs like PHP fills `$_GET`: last scalar wins, `a[]` appends, `a[k]` keys.
fn php_params(pairs: &[(String, String)], into: &mut Vec<(String, PVal)>) {
    for (k, v) in pairs {
        if let Some(open) = k.find('[')
            && k.ends_with(']')
            && open > 0
        {
            let name = &k[..open];
            let sub = &k[open + 1..k.len() - 1];
            let pos = into.iter().position(|(n, _)| n == name);
            let arr = match pos {
                Some(i) => {
                    if !matches!(into[i].1, PVal::A(_)) {
                        into[i].1 = PVal::A(Vec::new());
                    }
                    &mut into[i].1
                }
                None => {
                    into.push((name.to_string(), PVal::A(Vec::new())));
                    let last = into.len() - 1;
                    &mut into[last].1
                }
            };
            if let PVal::A(items) = arr {
                let key = if sub.is_empty() {
                    items
                        .iter()
                        .filter_map(|(k, _)| k.parse::<usize>().ok())
                        .max()
                        .map(|m| m + 1)
                        .unwrap_or(0)
                        .to_string()
                } else {
                    sub.to_string()
                };
                if let Some(e) = items.iter_mut().find(|(ik, _)| *ik == key) {
                    e.1 = v.clone();
                } else {
                    items.push((key, v.clone()));
                }
            }
        } else if let Some(e) = into.iter_mut().find(|(n, _)| n == k) {
            e.1 = PVal::S(v.clone());
        } else {
            into.push((k.clone(), PVal::S(v.clone())));
        }
    }
}

/// PHP `rawurlencode`: RFC 3986 unreserved characters stay, everything else is `%XX`.
pub fn rawurlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `WC_REST_Authentication::parse_header()`: `oauth_*="…"` pairs, urldecoded.
fn parse_oauth_header(h: &str) -> Vec<(String, String)> {
    let Some(rest) = h.trim().strip_prefix("OAuth ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if let Some((k, v)) = part.split_once('=')
            && k.starts_with("oauth_")
        {
            let v = v.trim().trim_matches('"');
            let dec: String = form_urlencoded::parse(format!("x={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            out.push((k.to_string(), dec));
        }
    }
    out
}

const REQUIRED: [&str; 5] = [
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
];

fn oauth(keys: &Keys, req: &Request, st: &mut State, now: i64) -> Result<bool, AuthError> {
    // array_merge($_GET, $_POST) then the Authorization header's oauth_* values.
    let mut params: Vec<(String, PVal)> = Vec::new();
    php_params(&req.query, &mut params);
    let is_form = req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        php_params(&req.form(), &mut params);
    }
    if let Some(h) = req.header("authorization") {
        php_params(&parse_oauth_header(h), &mut params);
    }
    let get = |name: &str| -> Option<String> {
        params
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| match v {
                PVal::S(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
    };
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|n| get(n).is_none())
        .collect();
    if missing.len() == REQUIRED.len() {
        return Ok(false);
    }
    if !missing.is_empty() {
        let word = if missing.len() == 1 {
            "parameter"
        } else {
            "parameters"
        };
        return Err(err(
            "woocommerce_rest_authentication_missing_parameter",
            format!("Missing OAuth {word} {}", missing.join(", ")),
        ));
    }
    let ck = get("oauth_consumer_key").unwrap_or_default();
    if ck != keys.consumer_key {
        return Err(err(
            "woocommerce_rest_authentication_error",
            "Consumer key is invalid.",
        ));
    }
    // check_oauth_signature()
    let scheme = if keys.https { "https" } else { "http" };
    let home = match keys.home.split_once("://") {
        Some((_, rest)) => format!("{scheme}://{rest}"),
        None => keys.home.to_string(),
    };
    let path = req.path.trim_start_matches('/');
    let base_uri = rawurlencode(&format!("{}/{path}", home.trim_end_matches('/')));
    let provided = get("oauth_signature").unwrap_or_default().replace(' ', "+");
    let provided = crate::http::percent_decode(&provided);
    let mut sorted: Vec<(String, PVal)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature")
        .cloned()
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut joined = Vec::new();
    for (k, v) in &sorted {
        let ek = rawurlencode(k);
        match v {
            PVal::S(s) => joined.push(rawurlencode(&format!("{ek}={}", rawurlencode(s)))),
            PVal::A(items) => {
                for (ik, iv) in items {
                    joined.push(rawurlencode(&format!(
                        "{ek}%5B{ik}%5D={}",
                        rawurlencode(iv)
                    )));
                }
            }
        }
    }
    let base = format!(
        "{}&{}&{}",
        req.method.to_ascii_uppercase(),
        base_uri,
        joined.join("%26")
    );
    let method = get("oauth_signature_method").unwrap_or_default();
    let key = format!("{}&", keys.consumer_secret);
    let expected = match method.as_str() {
        "HMAC-SHA1" => {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes())
                .map_err(|_| err("woocommerce_rest_authentication_error", "bad key"))?;
            mac.update(base.as_bytes());
            B64.encode(mac.finalize().into_bytes())
        }
        "HMAC-SHA256" => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
                .map_err(|_| err("woocommerce_rest_authentication_error", "bad key"))?;
            mac.update(base.as_bytes());
            B64.encode(mac.finalize().into_bytes())
        }
        _ => {
            return Err(err(
                "woocommerce_rest_authentication_error",
                "Invalid signature - signature method is invalid.",
            ));
        }
    };
    if expected != provided {
        return Err(err(
            "woocommerce_rest_authentication_error",
            "Invalid signature - provided signature does not match.",
        ));
    }
    // check_oauth_timestamp_and_nonce(): ±15 minutes against the (simulated) clock.
    let window = 15 * 60;
    let ts: i64 = get("oauth_timestamp")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if ts < now - window || ts > now + window {
        return Err(err(
            "woocommerce_rest_authentication_error",
            "Invalid timestamp.",
        ));
    }
    let nonce = get("oauth_nonce").unwrap_or_default();
    if st.nonces.values().any(|n| *n == nonce) {
        return Err(err(
            "woocommerce_rest_authentication_error",
            "Invalid nonce - nonce has already been used.",
        ));
    }
    st.nonces.insert(ts, nonce);
    st.nonces.retain(|t, _| *t >= now - window);
    Ok(true)
}

/// Sign a request the way the WooCommerce client libraries do (used by tests and by anyone
/// driving the simulator by hand): returns the query parameters to append, signature last.
pub fn sign_oauth(
    method: &str,
    url_without_query: &str,
    query: &[(String, String)],
    consumer_key: &str,
    consumer_secret: &str,
    timestamp: i64,
    nonce: &str,
    signature_method: &str,
) -> Vec<(String, String)> {
    let mut oauth = vec![
        ("oauth_consumer_key".to_string(), consumer_key.to_string()),
        ("oauth_nonce".to_string(), nonce.to_string()),
        (
            "oauth_signature_method".to_string(),
            signature_method.to_string(),
        ),
        ("oauth_timestamp".to_string(), timestamp.to_string()),
    ];
    let mut all: Vec<(String, PVal)> = Vec::new();
    let mut pairs = query.to_vec();
    pairs.extend(oauth.iter().cloned());
    php_params(&pairs, &mut all);
    all.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut joined = Vec::new();
    for (k, v) in &all {
        let ek = rawurlencode(k);
        match v {
            PVal::S(s) => joined.push(rawurlencode(&format!("{ek}={}", rawurlencode(s)))),
            PVal::A(items) => {
                for (ik, iv) in items {
                    joined.push(rawurlencode(&format!(
                        "{ek}%5B{ik}%5D={}",
                        rawurlencode(iv)
                    )));
                }
            }
        }
    }
    let base = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        rawurlencode(url_without_query),
        joined.join("%26")
    );
    let key = format!("{consumer_secret}&");
    let sig = if signature_method == "HMAC-SHA1" {
        let mut mac =
            Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("hmac accepts any key");
        mac.update(base.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    } else {
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("hmac accepts any key");
        mac.update(base.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    };
    oauth.push(("oauth_signature".to_string(), sig));
    oauth
}

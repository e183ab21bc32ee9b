//! The transport: one request out with its answer fully read ([`Answer`]), credentials and the
//! one retry after a 401 ([`X3Client::exchange`]), at most `x3.concurrency` requests at once
//! ([`Slots`]); and the checks of the URLs and the CA file behind [`X3Client::new`].

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::auth::Cred;
use super::{Op, Result, X3Client, X3Error, bump, lock};

/// Largest answer body read (ureq's default of 10 MB is tight for 100 orders with their lines).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// A counting semaphore: at most `max` requests in flight.
#[derive(Debug, Default)]
pub(super) struct Slots {
    pub(super) max: AtomicU64,
    busy: Mutex<u64>,
    freed: std::sync::Condvar,
}

struct SlotGuard<'a>(&'a Slots);

impl Slots {
    fn acquire(&self) -> SlotGuard<'_> {
        let mut busy = lock(&self.busy);
        loop {
            let max = self.max.load(Ordering::Relaxed);
            if max == 0 || *busy < max {
                *busy += 1;
                return SlotGuard(self);
            }
            busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.0.busy) -= 1;
        self.0.freed.notify_one();
    }
}

/// One HTTP answer, fully read.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) retry_after: Option<Duration>,
    pub(super) html: bool,
    pub(super) body: String,
}

impl Answer {
    pub(super) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(super) fn json(&self) -> Option<Value> {
        if self.html {
            return None;
        }
        serde_json::from_str(&self.body).ok()
    }
}

impl X3Client {
    /// Sends one request with credentials; a 401 gets one fresh token (or JWT) and one retry —
    /// safe even for a create, since a 401 means X3 did not process it.
    pub(super) fn exchange(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        op: Op,
    ) -> Result<Answer> {
        let first = self.authorization(None)?;
        let a = self.send_once(method, url, headers, body, Some(&first), op)?;
        if a.status != 401 {
            return Ok(a);
        }
        if matches!(self.cred, Cred::Basic { .. }) {
            return Err(self.auth_refused(&a, false));
        }
        bump(&self.counters.retries_after_401);
        let second = self.authorization(Some(&first))?;
        let a = self.send_once(method, url, headers, body, Some(&second), op)?;
        if a.status == 401 {
            return Err(self.auth_refused(&a, true));
        }
        Ok(a)
    }

    pub(super) fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        authorization: Option<&str>,
        op: Op,
    ) -> Result<Answer> {
        let target = authority_of(url);
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Accept", "application/json");
        if let Some(a) = authorization {
            b = b.header("Authorization", a);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(|e| X3Error::Config(format!("cannot build a request to {target}: {e}")))?;
        let _slot = self.slots.acquire();
        let mut resp = self
            .agent
            .run(req)
            .map_err(|e| self.transport_error(e, op, target))?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = header("retry-after")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let content_type = header("content-type").unwrap_or_default();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| self.transport_error(e, op, target))?;
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let html = content_type.to_ascii_lowercase().contains("html")
            || body.trim_start().starts_with('<');
        Ok(Answer {
            status,
            retry_after,
            html,
            body,
        })
    }
}

/// Checks `scheme://host[:port][/prefix]` and returns it without a trailing `/`, with `host:port`.
pub(super) fn check_base_url(url: &str, what: &str) -> Result<(String, String)> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(X3Error::Config(format!(
            "{what}: http:// or https:// URL expected"
        )));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(X3Error::Config(format!(
            "{what}: http:// or https:// URL expected, not {scheme}://"
        )));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Not echoed: user:password@ in the URL would put the secret in the message.
    if authority.contains('@') {
        return Err(X3Error::Config(format!(
            "{what}: credentials do not belong in the URL; use the auth settings"
        )));
    }
    if authority.is_empty() {
        return Err(X3Error::Config(format!("{what}: {url:?} has no host")));
    }
    if rest.contains(['?', '#']) && what == "base_url" {
        return Err(X3Error::Config(format!(
            "{what}: {url:?} must not carry a query or fragment"
        )));
    }
    let cleaned = url.trim_end_matches('/').to_string();
    ureq::http::Uri::try_from(cleaned.as_str())
        .map_err(|e| X3Error::Config(format!("{what}: {url:?} is not a valid URL: {e}")))?;
    Ok((cleaned, authority.to_string()))
}

pub(super) fn authority_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

pub(super) fn load_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let pem = std::fs::read(path)
        .map_err(|e| X3Error::Config(format!("cannot read the CA file {}: {e}", path.display())))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(X3Error::Config(format!(
                    "the CA file {} is not valid PEM: {e}",
                    path.display()
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(X3Error::Config(format!(
            "the CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

//! Helpers shared by the woo-sim tests: starting the simulator with short timeouts, an HTTP
//! client that never turns statuses into errors, an OAuth 1.0a signer written from RFC 5849 (not
//! the simulator's own code, so the two check each other), and a webhook receiver that records
//! exactly what arrives and answers as told.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use mlc_sim::woo::{WooConfig, WooSim};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn cfg() -> WooConfig {
    WooConfig {
        delivery_timeout: Duration::from_millis(800),
        ping_timeout: Duration::from_millis(800),
        threads: 4,
        ..WooConfig::default()
    }
}

pub fn start() -> WooSim {
    WooSim::start(cfg()).expect("woo-sim starts")
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// Status, lower-cased headers, body.
pub struct Got {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn got(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Got {
    let mut r = r.expect("HTTP exchange");
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Got {
        status,
        headers,
        body,
    }
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    got(req.call())
}

pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &Value) -> Got {
    let a = agent();
    let bytes = serde_json::to_vec(body).expect("json");
    let mut req = match method {
        "POST" => a.post(url),
        "PUT" => a.put(url),
        "PATCH" => a.patch(url),
        other => panic!("method {other}"),
    };
    req = req.header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    got(req.send(&bytes[..]))
}

pub fn delete(url: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = agent().delete(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    got(req.call())
}

pub fn post_json(url: &str, body: &Value) -> Got {
    send("POST", url, &[], body)
}

/// RFC 3986 percent-encoding (unreserved kept).
pub fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

static NONCE: AtomicU64 = AtomicU64::new(1);

pub fn nonce() -> String {
    format!(
        "n{}x{}",
        NONCE.fetch_add(1, Ordering::SeqCst),
        std::process::id()
    )
}

/// OAuth 1.0a one-legged signature per RFC 5849 §3.4.1 (pairs sorted by encoded name then
/// value, joined with `&`, the whole string encoded again), key = `secret&`.
pub fn oauth_params(
    method: &str,
    site_url_path: &str,
    query: &[(&str, &str)],
    key: &str,
    secret: &str,
    ts: i64,
    nonce: &str,
    sig_method: &str,
) -> Vec<(String, String)> {
    let mut oauth: Vec<(String, String)> = vec![
        ("oauth_consumer_key".into(), key.into()),
        ("oauth_nonce".into(), nonce.into()),
        ("oauth_signature_method".into(), sig_method.into()),
        ("oauth_timestamp".into(), ts.to_string()),
    ];
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (pct(k), pct(v)))
        .chain(oauth.iter().map(|(k, v)| (pct(k), pct(v))))
        .collect();
    pairs.sort();
    let norm = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!("{method}&{}&{}", pct(site_url_path), pct(&norm));
    let k = format!("{}&", pct(secret));
    let sig = if sig_method == "HMAC-SHA1" {
        let mut m = Hmac::<sha1::Sha1>::new_from_slice(k.as_bytes()).expect("key");
        m.update(base.as_bytes());
        B64.encode(m.finalize().into_bytes())
    } else {
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(k.as_bytes()).expect("key");
        m.update(base.as_bytes());
        B64.encode(m.finalize().into_bytes())
    };
    oauth.push(("oauth_signature".into(), sig));
    oauth
}

/// `GET`-style URL for `route` (e.g. `orders`) signed with OAuth in the query string.
pub fn signed_url(sim: &WooSim, method: &str, route: &str, query: &[(&str, &str)]) -> String {
    let c = sim.config();
    let path = format!("wp-json/wc/v3/{route}");
    let oauth = oauth_params(
        method,
        &format!("{}{path}", sim.site_url()),
        query,
        &c.consumer_key,
        &c.consumer_secret,
        sim.now(),
        &nonce(),
        "HMAC-SHA256",
    );
    let q: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .chain(oauth.iter().map(|(k, v)| format!("{}={}", pct(k), pct(v))))
        .collect();
    format!("{}/{path}?{}", sim.base_url(), q.join("&"))
}

pub fn api_get(sim: &WooSim, route: &str, query: &[(&str, &str)]) -> Got {
    get(&signed_url(sim, "GET", route, query), &[])
}

pub fn api_send(sim: &WooSim, method: &str, route: &str, body: &Value) -> Got {
    send(method, &signed_url(sim, method, route, &[]), &[], body)
}

pub fn api_delete(sim: &WooSim, route: &str, query: &[(&str, &str)]) -> Got {
    delete(&signed_url(sim, "DELETE", route, query), &[])
}

/// A checkout of two lines (simple + variation) by a guest with non-ASCII names.
pub fn checkout(sim: &WooSim) -> Value {
    sim.place_order(&serde_json::json!({
        "lines": [{"sku": "WOO-TSHIRT", "quantity": 1}, {"sku": "WOO-HOODIE-RED", "quantity": 2}],
        "billing": {"first_name": "Zoë", "last_name": "Ørsted 山田", "email": "o'brien+o2@example.com",
                    "address_1": "12 Rue de l'Église", "city": "Saint-Étienne", "postcode": "42000", "country": "FR"},
        "customer_id": 0
    }))
    .expect("checkout")
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Rec {
    pub method: String,
    pub url: String,
    pub http_version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Rec {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Mode {
    Status(u16),
    /// Answer with this status and a Location header.
    Redirect(u16, String),
    /// Sleep this long, then answer 200 (to provoke timeouts).
    Slow(u64),
}

/// A webhook receiver on 127.0.0.1:0.
pub struct Receiver {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Rec>>>,
    pub mode: Arc<Mutex<Mode>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind receiver");
        let port = server.server_addr().to_ip().expect("ip").port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(Mode::Status(200)));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, m, s) = (Arc::clone(&got), Arc::clone(&mode), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(req.as_reader(), &mut body);
                let rec = Rec {
                    method: req.method().as_str().to_string(),
                    url: req.url().to_string(),
                    http_version: req.http_version().to_string(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.as_str().as_str().to_string(),
                                h.value.as_str().to_string(),
                            )
                        })
                        .collect(),
                    body,
                };
                g.lock().expect("lock").push(rec);
                let mode = m.lock().expect("lock").clone();
                let resp = match mode {
                    Mode::Status(s) => tiny_http::Response::from_string("ok").with_status_code(s),
                    Mode::Redirect(s, loc) => tiny_http::Response::from_string("")
                        .with_status_code(s)
                        .with_header(
                            tiny_http::Header::from_bytes("Location", loc.as_bytes()).expect("hdr"),
                        ),
                    Mode::Slow(ms) => {
                        std::thread::sleep(Duration::from_millis(ms));
                        tiny_http::Response::from_string("late").with_status_code(200)
                    }
                };
                let _ = req.respond(resp);
            }
        });
        Receiver {
            port,
            got,
            mode,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().expect("lock") = mode;
    }

    pub fn all(&self) -> Vec<Rec> {
        self.got.lock().expect("lock").clone()
    }

    pub fn clear(&self) {
        self.got.lock().expect("lock").clear();
    }

    /// Only the JSON deliveries (pings are form-encoded).
    pub fn deliveries(&self) -> Vec<Rec> {
        self.all()
            .into_iter()
            .filter(|r| r.header("Content-Type") == Some("application/json"))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Standard receiver-side verification: base64(HMAC-SHA256(raw body, secret)).
pub fn verify(body: &[u8], secret: &str, signature: &str) -> bool {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    m.update(body);
    B64.encode(m.finalize().into_bytes()) == signature
}

/// Create a webhook over REST (OAuth-signed) and return its id.
pub fn create_webhook(sim: &WooSim, topic: &str, url: &str, secret: &str) -> u64 {
    let r = api_send(
        sim,
        "POST",
        "webhooks",
        &serde_json::json!({"name": topic, "topic": topic, "delivery_url": url, "secret": secret}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_u64().expect("id")
}

/// The control view of one webhook (secret, failure_count, pending_delivery).
pub fn internal(sim: &WooSim, id: u64) -> Value {
    let v = sim.webhooks();
    v.as_array()
        .and_then(|a| a.iter().find(|w| w["id"] == id).cloned())
        .expect("webhook exists")
}

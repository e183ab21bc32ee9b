//! A WooCommerce simulator faithful to the facts in `../shared/reference/woocommerce.md` (its
//! "Verified against a running WooCommerce" section first) and to the real WooCommerce 10
//! deliveries in `woocommerce-captures/`: REST v3 under `/wp-json/wc/v3/`, WooCommerce's own
//! authentication, and webhooks with their unpleasant parts (queued deliveries built at send
//! time, coalescing, pings, auto-disable after the 7th failure, error objects as payloads).
//!
//! Layout: [`model`] holds the shop and its rules, [`render`] the REST bodies, [`phpjson`] PHP's
//! `json_encode` bytes, [`auth`] OAuth 1.0a / Basic, [`deliver`] the outgoing HTTP, [`rest`] and
//! [`control`] the two request surfaces. This module ties them together: configuration, the
//! delivery runner (flush, ping, failure counting) and the in-process API.
//!
//! Knobs and the fact behind each one: `docs/simulators.md (woo-sim)`.

pub mod auth;
mod control;
pub mod deliver;
pub mod model;
pub mod phpjson;
pub mod render;
mod rest;
pub mod time;

use crate::http::{Reply, Request, Response, Server};
use model::{Pending, Settings, State, Webhook};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The WooCommerce and WordPress versions the simulator claims (those of the captures).
pub const WC_VERSION: &str = "10.0.2";
pub const USER_AGENT: &str = "WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)";
/// Test keys (ck_/cs_ + 40 hex, the format `class-wc-auth.php` generates). Printed by the
/// binary on purpose: they are a test tool's fixed credentials, not secrets.
pub const DEFAULT_CONSUMER_KEY: &str = "ck_0123456789abcdef0123456789abcdef01234567";
pub const DEFAULT_CONSUMER_SECRET: &str = "cs_fedcba9876543210fedcba9876543210fedcba98";
/// The site's `AUTH_KEY`/`AUTH_SALT` stand-in, keying `wp_hash()` for Delivery-IDs.
const AUTH_SALT: &str = "woo-sim auth salt: not a secret";

/// How the simulator runs. `Default` gives the documented test keys and WooCommerce's defaults.
#[derive(Debug, Clone)]
pub struct WooConfig {
    /// 0 = any free port.
    pub port: u16,
    pub consumer_key: String,
    pub consumer_secret: String,
    /// `read`, `write` or `read_write` (the key's permission in WooCommerce).
    pub key_permissions: String,
    /// Treat plain HTTP as HTTPS for auth, like WooCommerce behind a TLS-terminating proxy that
    /// the site trusts: Basic and `?consumer_key=&consumer_secret=` then work.
    pub https_assumed: bool,
    /// Refuse loopback/private delivery URLs and ports other than 80/443/8080 like
    /// `wp_safe_remote_request` (default false so tests can use 127.0.0.1 receivers).
    pub wp_url_safety: bool,
    /// URL prefixes let through despite `wp_url_safety` (the `http_request_host_is_external` /
    /// `http_allowed_safe_ports` filters).
    pub allowed_delivery_urls: Vec<String>,
    /// Delivery timeout (WooCommerce: 60 s).
    pub delivery_timeout: Duration,
    /// Ping timeout (WordPress default: 5 s).
    pub ping_timeout: Duration,
    /// None: deliveries only on flush; Some(d): a background runner sends due deliveries every
    /// d, like Action Scheduler's queue runner.
    pub auto_deliver: Option<Duration>,
    /// `woocommerce_max_webhook_delivery_failures` (default 5 → the 7th failure disables).
    pub max_failures: u32,
    /// `home_url('/')`: X-WC-Webhook-Source, links, OAuth base string. Empty: derived from the port.
    pub site_url: String,
    /// The site's UTC offset in minutes for the non-`_gmt` dates (the capture's site: +60).
    pub utc_offset_minutes: i32,
    /// The one standard tax rate applied at checkout, in percent.
    pub tax_rate_percent: Decimal,
    /// Flat-rate shipping cost (before tax).
    pub flat_rate: Decimal,
    /// Keep state in this JSON file across restarts (written after every change).
    pub state_file: Option<PathBuf>,
    /// HTTP worker threads.
    pub threads: usize,
}

impl Default for WooConfig {
    fn default() -> Self {
        WooConfig {
            port: 0,
            consumer_key: DEFAULT_CONSUMER_KEY.into(),
            consumer_secret: DEFAULT_CONSUMER_SECRET.into(),
            key_permissions: "read_write".into(),
            https_assumed: false,
            wp_url_safety: false,
            allowed_delivery_urls: Vec::new(),
            delivery_timeout: Duration::from_secs(60),
            ping_timeout: Duration::from_secs(5),
            auto_deliver: None,
            max_failures: 5,
            site_url: String::new(),
            utc_offset_minutes: 60,
            tax_rate_percent: Decimal::new(20, 0),
            flat_rate: Decimal::new(750, 2),
            state_file: None,
            threads: 8,
        }
    }
}

/// Shared by the HTTP workers, the runner thread and the in-process API.
pub(crate) struct Inner {
    cfg: WooConfig,
    home: OnceLock<String>,
    clock: time::Clock,
    st: Mutex<State>,
    settings: Settings,
    /// REST requests received, by method and route with ids as `<id>` (`GET /__sim/stats`).
    requests: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Inner {
    fn home(&self) -> &str {
        self.home
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1/")
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in one handler must not wedge the simulator for the rest of a test run.
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Counts one REST request under `METHOD route` with numeric segments as `<id>`.
    fn count_request(&self, method: &str, segs: &[&str]) {
        let route: Vec<&str> = segs
            .iter()
            .map(|s| if s.parse::<u64>().is_ok() { "<id>" } else { s })
            .collect();
        let key = format!("{method} {}", route.join("/"));
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(key).or_insert(0) += 1;
    }

    fn request_counts(&self) -> Value {
        let m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::to_value(&*m).unwrap_or(Value::Null)
    }

    fn site(&self) -> render::Site<'_> {
        render::Site {
            home: self.home(),
            utc_offset: self.cfg.utc_offset_minutes as i64 * 60,
            tax_rate_percent: self.settings.tax_rate_percent,
            currency_symbol: "€",
        }
    }

    fn persist(&self) {
        let Some(path) = &self.cfg.state_file else {
            return;
        };
        let mut st = self.lock().clone();
        st.clock_offset = self.clock.offset();
        if let Ok(bytes) = serde_json::to_vec(&st) {
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
    }

    /// The payload `build_payload()` makes when the delivery runs (woocommerce.md §1.6).
    fn payload(&self, st: &State, topic: &str, id: u64) -> Value {
        let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
        let site = self.site();
        if resource == "action" {
            return json!({"action": event, "arg": id});
        }
        if event == "deleted" {
            return json!({"id": id});
        }
        match resource {
            "order" => match st.orders.get(&id) {
                Some(o) => render::order(&site, st, o),
                None => render::error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404),
            },
            "product" => match st.products.get(&id) {
                Some(p) => render::product(&site, st, p),
                None => render::error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404),
            },
            "customer" => match st.customers.get(&id) {
                Some(c) => render::customer(&site, c),
                None => render::error("woocommerce_rest_invalid_id", "Invalid resource ID.", 404),
            },
            _ => render::error(
                "woocommerce_rest_shop_coupon_invalid_id",
                "Invalid ID.",
                404,
            ),
        }
    }

    /// Send every due delivery now; the log entries of what was sent.
    fn flush(&self) -> Vec<Value> {
        let now = self.now();
        let claimed: Vec<Pending> = {
            let mut st = self.lock();
            let (due, keep): (Vec<Pending>, Vec<Pending>) =
                st.queue.drain(..).partition(|p| p.scheduled_at <= now);
            st.queue = keep;
            due
        };
        let out = claimed.iter().map(|p| self.deliver(p)).collect();
        self.persist();
        out
    }

    fn log(&self, st: &mut State, mut entry: Map<String, Value>) -> Value {
        let seq = st.seq();
        entry.insert("seq".into(), json!(seq));
        let v = Value::Object(entry);
        st.deliveries.push(v.clone());
        // Bounded so a long benchmark cannot grow memory without limit.
        if st.deliveries.len() > 5000 {
            st.deliveries.remove(0);
        }
        v
    }

    /// `WC_Webhook::deliver()` + `log_delivery()` for one queued action.
    fn deliver(&self, p: &Pending) -> Value {
        let (wh, body) = {
            let mut st = self.lock();
            let Some(wh) = st.webhooks.get(&p.webhook_id).cloned() else {
                let mut e = Map::new();
                e.insert("kind".into(), json!("delivery"));
                e.insert("webhook_id".into(), json!(p.webhook_id));
                e.insert("resource_id".into(), json!(p.resource_id));
                e.insert(
                    "error".into(),
                    json!("webhook deleted before its queued delivery ran"),
                );
                e.insert("success".into(), json!(false));
                return self.log(&mut st, e);
            };
            let payload = self.payload(&st, &wh.topic, p.resource_id);
            (wh, phpjson::encode(&payload))
        };
        let now = self.now();
        let (resource, event) = wh.topic.split_once('.').unwrap_or((&wh.topic, ""));
        let sig = deliver::signature(&body, &wh.secret);
        let url = deliver::parse_url(&wh.delivery_url);
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(u) = &url {
            headers.push(("Host".into(), deliver::host_header(u)));
        }
        headers.extend(
            [
                ("User-Agent", USER_AGENT.to_string()),
                ("Accept", "*/*".to_string()),
                ("Accept-Encoding", "deflate, gzip, br, zstd".to_string()),
                ("Content-Type", "application/json".to_string()),
                ("X-WC-Webhook-Source", self.home().to_string()),
                ("X-WC-Webhook-Topic", wh.topic.clone()),
                ("X-WC-Webhook-Resource", resource.to_string()),
                ("X-WC-Webhook-Event", event.to_string()),
                ("X-WC-Webhook-Signature", sig),
                ("X-WC-Webhook-ID", wh.id.to_string()),
                (
                    "X-WC-Webhook-Delivery-ID",
                    deliver::delivery_id(AUTH_SALT, wh.id, now),
                ),
                ("Connection", "close".to_string()),
                ("Content-Length", body.len().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
        );
        let started = Instant::now();
        let result = match &url {
            Some(u)
                if !self.cfg.wp_url_safety
                    || deliver::validate_url(
                        &wh.delivery_url,
                        self.home(),
                        &self.cfg.allowed_delivery_urls,
                    ) =>
            {
                deliver::send(u, "POST", &headers, &body, self.cfg.delivery_timeout)
            }
            _ => Err("A valid URL was not provided.".to_string()),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let success = matches!(&result, Ok(a) if (200..303).contains(&a.status));
        let mut st = self.lock();
        let mut ping = false;
        let mut after = (wh.failure_count, wh.status.clone());
        if let Some(w) = st.webhooks.get_mut(&wh.id) {
            if success {
                w.failure_count = 0;
            } else if w.failure_count > self.cfg.max_failures {
                // failed_delivery(): "more than max" → disabled, the count stays.
                w.status = "disabled".into();
            } else {
                w.failure_count += 1;
            }
            w.date_modified = now;
            // The data store pings on every save of an active webhook still pending_delivery.
            ping = w.status == "active" && w.pending_delivery;
            after = (w.failure_count, w.status.clone());
        }
        let mut e = Map::new();
        e.insert("kind".into(), json!("delivery"));
        e.insert("webhook_id".into(), json!(wh.id));
        e.insert("topic".into(), json!(wh.topic));
        e.insert("resource_id".into(), json!(p.resource_id));
        e.insert("url".into(), json!(wh.delivery_url));
        e.insert("request".into(), request_json("POST", &headers, &body));
        response_fields(&mut e, &result);
        e.insert("duration_ms".into(), json!(duration_ms));
        e.insert("success".into(), json!(success));
        e.insert("failure_count".into(), json!(after.0));
        e.insert("webhook_status".into(), json!(after.1));
        e.insert("sent_at".into(), json!(time::format(now, 0)));
        let logged = self.log(&mut st, e);
        drop(st);
        if ping {
            self.ping(wh.id);
        }
        logged
    }

    /// `WC_Webhook::deliver_ping()`: form-encoded `webhook_id=N`, no X-WC headers, no signature,
    /// the WordPress defaults (5 s, up to 5 redirects); only an exact 200 clears pending_delivery.
    fn ping(&self, webhook_id: u64) -> Value {
        let wh = self.lock().webhooks.get(&webhook_id).cloned();
        let Some(wh) = wh else {
            return Value::Null;
        };
        let body = format!("webhook_id={webhook_id}").into_bytes();
        let started = Instant::now();
        let deadline = started + self.cfg.ping_timeout;
        let mut url_text = wh.delivery_url.clone();
        let mut method = "POST";
        let mut hops = Vec::new();
        let mut first_headers = Vec::new();
        let result = loop {
            let url = deliver::parse_url(&url_text);
            let safe = !self.cfg.wp_url_safety
                || deliver::validate_url(&url_text, self.home(), &self.cfg.allowed_delivery_urls);
            let Some(u) = url.filter(|_| safe) else {
                break Err("A valid URL was not provided.".to_string());
            };
            let mut headers: Vec<(String, String)> = vec![
                ("Host".into(), deliver::host_header(&u)),
                ("User-Agent".into(), USER_AGENT.into()),
                ("Accept".into(), "*/*".into()),
                ("Accept-Encoding".into(), "deflate, gzip, br, zstd".into()),
                ("Connection".into(), "close".into()),
            ];
            let send_body: &[u8] = if method == "POST" { &body } else { &[] };
            if method == "POST" {
                headers.push(("Content-Length".into(), body.len().to_string()));
                headers.push((
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
            }
            if first_headers.is_empty() {
                first_headers = headers.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let r = deliver::send(
                &u,
                method,
                &headers,
                send_body,
                left.max(Duration::from_millis(1)),
            );
            match r {
                Ok(a) if matches!(a.status, 301 | 302 | 303 | 307 | 308) && hops.len() < 5 => {
                    let loc = a
                        .headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                        .map(|(_, v)| v.clone());
                    let Some(loc) = loc else { break Ok(a) };
                    let next = if loc.starts_with("http://") || loc.starts_with("https://") {
                        loc
                    } else {
                        let port = if u.explicit_port {
                            format!(":{}", u.port)
                        } else {
                            String::new()
                        };
                        format!(
                            "{}://{}{port}{}",
                            u.scheme,
                            u.host,
                            if loc.starts_with('/') {
                                loc
                            } else {
                                format!("/{loc}")
                            }
                        )
                    };
                    hops.push(json!({"status": a.status, "location": next}));
                    // WP_Http::browser_redirect_compatibility: a redirected POST becomes a GET.
                    if matches!(a.status, 302 | 303) {
                        method = "GET";
                    }
                    url_text = next;
                }
                other => break other,
            }
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let ok = matches!(&result, Ok(a) if a.status == 200);
        let now = self.now();
        let mut st = self.lock();
        if ok && let Some(w) = st.webhooks.get_mut(&webhook_id) {
            w.pending_delivery = false;
            w.date_modified = now;
        }
        let pending = st.webhooks.get(&webhook_id).map(|w| w.pending_delivery);
        let mut e = Map::new();
        e.insert("kind".into(), json!("ping"));
        e.insert("webhook_id".into(), json!(webhook_id));
        e.insert("topic".into(), json!(wh.topic));
        e.insert("url".into(), json!(wh.delivery_url));
        e.insert(
            "request".into(),
            request_json("POST", &first_headers, &body),
        );
        e.insert("redirects".into(), Value::Array(hops));
        response_fields(&mut e, &result);
        e.insert("duration_ms".into(), json!(duration_ms));
        e.insert("success".into(), json!(ok));
        e.insert("pending_delivery".into(), json!(pending));
        e.insert("sent_at".into(), json!(time::format(now, 0)));
        self.log(&mut st, e)
    }

    /// Save of a webhook through REST: the data store pings an active webhook when its URL
    /// changed or it is still pending_delivery.
    fn after_webhook_save(&self, id: u64, url_changed: bool) {
        let ping = self
            .lock()
            .webhooks
            .get(&id)
            .is_some_and(|w| w.status == "active" && (url_changed || w.pending_delivery));
        if ping {
            self.ping(id);
        }
    }
}

fn request_json(method: &str, headers: &[(String, String)], body: &[u8]) -> Value {
    let mut h = Map::new();
    for (k, v) in headers {
        h.insert(k.clone(), json!(v));
    }
    json!({"method": method, "headers": h, "body": String::from_utf8_lossy(body)})
}

fn response_fields(e: &mut Map<String, Value>, result: &Result<deliver::Answer, String>) {
    match result {
        Ok(a) => {
            let mut h = Map::new();
            for (k, v) in &a.headers {
                h.insert(k.clone(), json!(v));
            }
            let mut body = String::from_utf8_lossy(&a.body).into_owned();
            body.truncate(4096);
            e.insert(
                "response".into(),
                json!({"status": a.status, "headers": h, "body": body}),
            );
            e.insert("error".into(), Value::Null);
        }
        Err(msg) => {
            e.insert("response".into(), Value::Null);
            e.insert("error".into(), json!(msg));
        }
    }
}

/// A REST/control answer encoded like WordPress does it (`wp_json_encode`).
pub(crate) fn json_response(status: u16, v: &Value) -> Response {
    Response::new(status)
        .header("Content-Type", "application/json; charset=UTF-8")
        .body(phpjson::encode(v))
}

/// The WooCommerce simulator, running.
pub struct WooSim {
    inner: Arc<Inner>,
    server: Option<Server>,
    stopping: Arc<AtomicBool>,
    runner: Option<JoinHandle<()>>,
}

impl WooSim {
    /// Bind 127.0.0.1:`cfg.port` and serve. Loads `cfg.state_file` when it exists.
    pub fn start(cfg: WooConfig) -> std::io::Result<WooSim> {
        let clock = time::Clock::default();
        let now = clock.now();
        let mut state = State::new(now);
        if let Some(path) = &cfg.state_file
            && let Ok(bytes) = std::fs::read(path)
        {
            state = serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::other(format!("state file {}: {e}", path.display()))
            })?;
            clock.set_offset(state.clock_offset);
        }
        let settings = Settings {
            tax_rate_percent: cfg.tax_rate_percent,
            flat_rate: cfg.flat_rate,
            currency: "EUR".into(),
        };
        let inner = Arc::new(Inner {
            cfg: cfg.clone(),
            home: OnceLock::new(),
            clock,
            st: Mutex::new(state),
            settings,
            requests: Mutex::new(std::collections::BTreeMap::new()),
        });
        let h = Arc::clone(&inner);
        let server = Server::start(cfg.port, cfg.threads.max(2), move |req: Request| {
            handle(&h, req)
        })?;
        let home = if cfg.site_url.is_empty() {
            format!("http://127.0.0.1:{}/", server.port())
        } else if cfg.site_url.ends_with('/') {
            cfg.site_url.clone()
        } else {
            format!("{}/", cfg.site_url)
        };
        let _ = inner.home.set(home);
        let stopping = Arc::new(AtomicBool::new(false));
        let runner = cfg.auto_deliver.map(|every| {
            let inner = Arc::clone(&inner);
            let stopping = Arc::clone(&stopping);
            std::thread::spawn(move || {
                while !stopping.load(Ordering::SeqCst) {
                    let until = Instant::now() + every;
                    while Instant::now() < until && !stopping.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(10).min(every));
                    }
                    if !stopping.load(Ordering::SeqCst) && !inner.lock().queue.is_empty() {
                        inner.flush();
                    }
                }
            })
        });
        inner.persist();
        Ok(WooSim {
            inner,
            server: Some(server),
            stopping,
            runner,
        })
    }

    pub fn port(&self) -> u16 {
        self.server.as_ref().map(Server::port).unwrap_or(0)
    }

    /// `http://127.0.0.1:<port>` (where to connect; the site URL may differ, see `site_url`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// `home_url('/')` as the shop reports it (X-WC-Webhook-Source, links, OAuth base string).
    pub fn site_url(&self) -> String {
        self.inner.home().to_string()
    }

    pub fn config(&self) -> &WooConfig {
        &self.inner.cfg
    }

    /// A checkout, same as `POST /__sim/orders`; the order as `GET /orders/<id>` answers it.
    pub fn place_order(&self, v: &Value) -> Result<Value, String> {
        let r = control::place_order(&self.inner, v);
        self.inner.persist();
        r
    }

    pub fn set_status(&self, id: u64, status: &str) -> Result<Value, String> {
        let r = control::set_status(&self.inner, id, status);
        self.inner.persist();
        r
    }

    /// A refund as the admin screen makes it (no gateway call unless `"api_refund": true`).
    pub fn refund(&self, id: u64, v: &Value) -> Result<Value, String> {
        let r = control::refund(&self.inner, id, v);
        self.inner.persist();
        r
    }

    pub fn trash(&self, id: u64) -> Result<(), String> {
        let now = self.inner.now();
        let r = self.inner.lock().trash(id, now);
        self.inner.persist();
        r
    }

    pub fn untrash(&self, id: u64) -> Result<(), String> {
        let now = self.inner.now();
        let r = self.inner.lock().untrash(id, now);
        self.inner.persist();
        r
    }

    /// Send all due deliveries now; returns the log entries of what was sent.
    pub fn flush(&self) -> Value {
        Value::Array(self.inner.flush())
    }

    /// REST requests received so far by `METHOD route` (`GET /__sim/stats` → `rest_requests`).
    pub fn rest_requests(&self) -> Value {
        self.inner.request_counts()
    }

    /// Adds simple products as the admin would (`POST /__sim/products`); returns their ids.
    pub fn add_products(&self, v: &Value) -> Result<Vec<u64>, String> {
        let r = control::add_products(&self.inner, v);
        self.inner.persist();
        r
    }

    /// The delivery log (`GET /__sim/deliveries`).
    pub fn deliveries(&self) -> Value {
        Value::Array(self.inner.lock().deliveries.clone())
    }

    /// Webhooks with their internal fields (`GET /__sim/webhooks`).
    pub fn webhooks(&self) -> Value {
        let st = self.inner.lock();
        let site = self.inner.site();
        Value::Array(
            st.webhooks
                .values()
                .map(|w| render::webhook_internal(&site, w))
                .collect(),
        )
    }

    /// Simulated unix time.
    pub fn now(&self) -> i64 {
        self.inner.now()
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(r) = self.runner.take() {
            let _ = r.join();
        }
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }
}

impl Drop for WooSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn handle(inner: &Arc<Inner>, req: Request) -> Reply {
    let resp = if req.path == "/__sim" || req.path.starts_with("/__sim/") {
        control::handle(inner, &req)
    } else if req.path.starts_with("/wp-json") {
        rest::handle(inner, &req)
    } else {
        Response::text(404, "Not Found")
    };
    if req.method != "GET" {
        inner.persist();
    }
    Reply::Send(resp)
}

/// Create a webhook record (REST create and the control API share it).
pub(crate) fn new_webhook(
    st: &mut State,
    name: String,
    topic: String,
    url: String,
    secret: String,
    now: i64,
) -> Webhook {
    let id = st.next_webhook_id;
    st.next_webhook_id += 1;
    let w = Webhook {
        id,
        name,
        status: "active".into(),
        topic,
        delivery_url: url,
        secret,
        api_version: "wp_api_v3".into(),
        user_id: 1,
        failure_count: 0,
        pending_delivery: true,
        date_created: now,
        date_modified: now,
    };
    st.webhooks.insert(id, w.clone());
    w
}

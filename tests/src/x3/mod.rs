//! x3-sim: a Sage X3 simulator faithful to `../shared/reference/x3-api.md` — REST api1 (SData),
//! GraphQL (`/xtrem/api`), Basic / connected-app JWT / OAuth2 auth, X3's business rules, and
//! fault injection — usable in-process (`X3Sim::start`) and as the `x3-sim` binary.
//!
//! Layout: `schema` (objects, field codes ↔ GraphQL names), `store` (records and rules),
//! `sdata` (REST `where`/`orderBy`), `rest`, `gqlparse` + `graphql`, `xfilter` (GraphQL filters),
//! `auth`, `util`. This file owns configuration, the server's life (including going down and
//! up on the same port), fault injection and the `/__sim/` control API.
//! Every knob is listed in `docs/simulators.md (x3-sim)`.

pub mod auth;
pub mod gqlparse;
pub mod graphql;
pub mod rest;
pub mod schema;
pub mod sdata;
pub mod store;
pub mod util;
pub mod xfilter;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use crate::http::{Reply, Request, Response, Server};
use schema::Kind;
use store::Store;
use util::{Rng, now_secs};

/// Class and representation per logical object (real sites publish custom ones, §1.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassNames {
    pub customer: (String, String),
    pub item: (String, String),
    pub order: (String, String),
    pub delivery: (String, String),
    pub invoice: (String, String),
    pub stock: (String, String),
    /// Miscellaneous stock receipt (`SMVTRCP`, our name: UNCONFIRMED).
    pub receipt: (String, String),
    /// Miscellaneous stock issue (`SMVTISS`, our name: UNCONFIRMED).
    pub issue: (String, String),
    /// Sales price list lines (`SPRICLIST`, our name: UNCONFIRMED).
    pub price_list: (String, String),
}

impl Default for ClassNames {
    fn default() -> Self {
        let p = |k: Kind| {
            let c = k.def().default_class.to_string();
            (c.clone(), c)
        };
        ClassNames {
            customer: p(Kind::Customer),
            item: p(Kind::Item),
            order: p(Kind::Order),
            delivery: p(Kind::Delivery),
            invoice: p(Kind::Invoice),
            stock: p(Kind::Stock),
            receipt: p(Kind::Receipt),
            issue: p(Kind::Issue),
            price_list: p(Kind::PriceList),
        }
    }
}

impl ClassNames {
    pub fn get(&self, k: Kind) -> &(String, String) {
        match k {
            Kind::Customer => &self.customer,
            Kind::Item => &self.item,
            Kind::Order => &self.order,
            Kind::Delivery => &self.delivery,
            Kind::Invoice => &self.invoice,
            Kind::Stock => &self.stock,
            Kind::Receipt => &self.receipt,
            Kind::Issue => &self.issue,
            Kind::PriceList => &self.price_list,
        }
    }

    pub fn kind_of(&self, class: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| self.get(*k).0 == class)
    }
}

/// Everything a test or the sandbox can set. `Default` holds fixed, documented test credentials.
#[derive(Debug, Clone)]
pub struct X3Config {
    /// 0 = any free port.
    pub port: u16,
    /// Syracuse endpoint name = X3 folder (path segment in REST, `x-xtrem-endpoint` in GraphQL).
    pub folder: String,
    /// HTTP Basic user and password.
    pub user: String,
    pub password: String,
    /// Connected application: client id (JWT `iss`), secret (HS256 key), allowed user (`sub`).
    pub client_id: String,
    pub secret: String,
    pub jwt_user: String,
    /// Expected JWT `aud`; empty accepts `""` or no `aud` (Sage's template has "").
    pub jwt_audience: String,
    /// Largest `exp - iat` accepted ("Tokens validity", e.g. 600, §4.3).
    pub token_validity_secs: u64,
    /// How far in the future `iat` may be.
    pub clock_skew_secs: u64,
    /// X3's clock against this machine's, for JWT validation (`iat`, `exp`): -30 = X3 is 30 s
    /// behind, so a client minting `iat = now` looks 30 s in the future.
    pub clock_offset_secs: i64,
    /// OAuth2 client for `POST /v1/token`.
    pub oauth_client_id: String,
    pub oauth_client_secret: String,
    /// Access token lifetime (5 minutes on the gateway, §4.4).
    pub oauth_token_validity_secs: u64,
    /// Let deliveries take stock below zero instead of refusing them.
    pub allow_negative_stock: bool,
    /// Give BPCUSTOMER a header `WEB` (GraphQL `email`), as some sites' custom representations do.
    /// Standard X3 has none: e-mails live on the address lines (`BPADDRESS` `WEB`, §5.1).
    pub customer_header_email: bool,
    /// `CLASS.FIELD` header fields a `PUT …$edit` (and a GraphQL `update`) leaves unchanged while
    /// answering 200, as when a representation does not expose the property as writable
    /// (UNCONFIRMED). Empty by default.
    pub ignored_edit_fields: Vec<String>,
    /// Let clients create, edit and delete STOCK lines directly. X3 changes stock only through
    /// stock transactions (deliveries, miscellaneous receipts and issues, §5.4), so by default
    /// STOCK is read-only.
    pub stock_writes: bool,
    /// REST facets each class's representation exposes, by class name (`SORDER` →
    /// `["query","details","lookup"]`, the standard SORDER representation, §1.8); a class not
    /// listed exposes every facet (sites publish custom representations; UNCONFIRMED for the
    /// standard ones). Facet names: `query`, `lookup`, `details`, `edit`, `create`.
    pub facets: BTreeMap<String, Vec<String>>,
    /// HTTP status of a REST create/edit/delete refused by a business rule. X3 answers 500 with
    /// `$diagnoses` (x3-api.md §7, §10 item 13); 400 is the lenient old behaviour.
    pub business_error_status: u16,
    pub classes: ClassNames,
    /// Loaded at start when present, written after every change.
    pub state_file: Option<PathBuf>,
    /// Worker threads (each request under latency holds one).
    pub threads: usize,
}

impl Default for X3Config {
    fn default() -> Self {
        X3Config {
            port: 0,
            folder: "SEED".into(),
            user: "admin".into(),
            password: "x3sim-password".into(),
            client_id: "5f3c8a1e2b4d4c6f9a7e0d1c2b3a4f5e".into(),
            secret: "x3sim-connected-app-secret".into(),
            jwt_user: "admin".into(),
            jwt_audience: String::new(),
            token_validity_secs: 600,
            clock_skew_secs: 5,
            clock_offset_secs: 0,
            oauth_client_id: "x3sim-oauth-client".into(),
            oauth_client_secret: "x3sim-oauth-secret".into(),
            oauth_token_validity_secs: 300,
            allow_negative_stock: false,
            business_error_status: 500,
            customer_header_email: false,
            ignored_edit_fields: Vec::new(),
            stock_writes: false,
            facets: BTreeMap::new(),
            classes: ClassNames::default(),
            state_file: None,
            threads: 16,
        }
    }
}

/// Injected faults (`/__sim/faults`); counters count down per API request.
#[derive(Debug, Default)]
struct Faults {
    fail_count: u32,
    fail_status: u16,
    rate_count: u32,
    retry_after: u64,
    latency_ms: u64,
    timeout_count: u32,
    timeout_ratio: f64,
    timeout_seed: u64,
    rng: Option<Rng>,
    html_count: u32,
    html_status: u16,
    down: bool,
}

impl Faults {
    fn to_json(&self) -> Value {
        json!({
            "fail": {"count": self.fail_count, "status": self.fail_status},
            "rate_limit": {"count": self.rate_count, "retry_after": self.retry_after},
            "latency_ms": self.latency_ms,
            "commit_then_timeout": {"count": self.timeout_count, "ratio": self.timeout_ratio, "seed": self.timeout_seed},
            "html_error": {"count": self.html_count, "status": self.html_status},
            "down": self.down,
        })
    }
}

struct Shared {
    cfg: X3Config,
    port: AtomicU16,
    store: Mutex<Store>,
    tokens: Mutex<auth::Tokens>,
    faults: Mutex<Faults>,
    server: Mutex<Option<Server>>,
    stopped: AtomicBool,
    /// Bumped on every down/up so a stale `down_ms` timer does not bring the server up.
    generation: AtomicU64,
    /// API requests received (not `/__sim/`), whatever their answer: calls per order in
    /// benchmarks.
    api_requests: AtomicU64,
    /// API requests by what they asked ([`call_name`]), whatever their answer: how many
    /// look-ups or writes a scenario made.
    calls: Mutex<BTreeMap<String, u64>>,
}

/// The facet names `X3Config::facets` takes.
pub const FACET_NAMES: [&str; 5] = ["query", "lookup", "details", "edit", "create"];

fn check_facets(cfg: &X3Config) -> Result<(), String> {
    for (class, list) in &cfg.facets {
        if cfg.classes.kind_of(class).is_none() {
            return Err(format!("facets: unknown class {class}"));
        }
        if let Some(f) = list.iter().find(|f| !FACET_NAMES.contains(&f.as_str())) {
            return Err(format!(
                "facets: unknown facet {f} for {class} (one of {})",
                FACET_NAMES.join(", ")
            ));
        }
    }
    Ok(())
}

impl X3Config {
    /// Does the representation of `class` expose `facet` (`$create`, …)?
    pub fn facet_allowed(&self, class: &str, facet: &str) -> bool {
        self.facets.get(class).is_none_or(|list| {
            list.iter()
                .any(|f| Some(f.as_str()) == facet.strip_prefix('$'))
        })
    }
}

/// The switches the record store applies; a switch naming a class or field the simulator does not
/// have is an error, so a typo in a test does not silently test nothing.
fn store_opts(cfg: &X3Config) -> Result<store::Opts, String> {
    let mut opts = store::Opts {
        allow_negative_stock: cfg.allow_negative_stock,
        customer_header_email: cfg.customer_header_email,
        stock_writes: cfg.stock_writes,
        ..store::Opts::default()
    };
    for spec in &cfg.ignored_edit_fields {
        let (class, field) = spec.split_once('.').ok_or(format!(
            "ignored_edit_fields: CLASS.FIELD expected, got {spec}"
        ))?;
        let kind = cfg
            .classes
            .kind_of(class)
            .ok_or(format!("ignored_edit_fields: unknown class {class}"))?;
        let def = Store::new(opts.clone()).def(kind);
        if def.field(field).is_none() || def.keys.contains(&field) {
            return Err(format!(
                "ignored_edit_fields: {class} has no editable header field {field}"
            ));
        }
        opts.ignored_edit.insert((kind, field.to_string()));
    }
    Ok(opts)
}

/// Lock, recovering from a poisoned mutex (a panicking handler must not wedge the simulator).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running simulator. Dropping it stops it.
pub struct X3Sim {
    shared: Arc<Shared>,
}

impl X3Sim {
    pub fn start(cfg: X3Config) -> std::io::Result<X3Sim> {
        check_facets(&cfg).map_err(std::io::Error::other)?;
        if !(400..600).contains(&cfg.business_error_status) {
            return Err(std::io::Error::other(
                "business_error_status: 4xx or 5xx expected",
            ));
        }
        let mut store = Store::new(store_opts(&cfg).map_err(std::io::Error::other)?);
        if let Some(path) = &cfg.state_file
            && path.exists()
        {
            let text = std::fs::read_to_string(path)?;
            let v: Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
            let classes = cfg.classes.clone();
            store
                .load_json(&v, &|c| classes.kind_of(c))
                .map_err(std::io::Error::other)?;
        }
        let shared = Arc::new(Shared {
            port: AtomicU16::new(cfg.port),
            cfg,
            store: Mutex::new(store),
            tokens: Mutex::new(auth::Tokens::default()),
            faults: Mutex::new(Faults::default()),
            server: Mutex::new(None),
            stopped: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            api_requests: AtomicU64::new(0),
            calls: Mutex::new(BTreeMap::new()),
        });
        let server = bind(&shared, Duration::ZERO)?;
        // Later re-binds (after "down") reuse the port the first bind got.
        shared.port.store(server.port(), Ordering::SeqCst);
        *lock(&shared.server) = Some(server);
        Ok(X3Sim { shared })
    }

    pub fn port(&self) -> u16 {
        self.shared.port.load(Ordering::SeqCst)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    pub fn config(&self) -> &X3Config {
        &self.shared.cfg
    }

    /// Same JSON as `GET /__sim/state`.
    pub fn state(&self) -> Value {
        state_json(&self.shared)
    }

    /// Same as `POST /__sim/seed`.
    pub fn seed(&self, v: &Value) -> Result<(), String> {
        let mut st = lock(&self.shared.store);
        st.seed(v, now_secs())?;
        save(&self.shared, &st);
        Ok(())
    }

    /// Same as `POST /__sim/deliveries`: a delivery entered in X3 by its staff, validated at once
    /// or left waiting (`CFMFLG` 1). Returns the stored record.
    pub fn create_delivery(&self, record: &Value, validated: bool) -> Result<Value, String> {
        let mut body = record.clone();
        if let Value::Object(m) = &mut body {
            m.insert(
                "CFMFLG".into(),
                Value::from(if validated {
                    store::VALIDATED
                } else {
                    store::NOT_VALIDATED
                }),
            );
        }
        staff_delivery(&self.shared, &body).map_err(|(_, m)| m)
    }

    /// Same as `POST /__sim/deliveries/<SDHNUM>/validate`. Returns the record after.
    pub fn validate_delivery(&self, sdhnum: &str) -> Result<Value, String> {
        validate_delivery(&self.shared, sdhnum).map_err(|(_, m)| m)
    }

    /// API requests received so far (`GET /__sim/stats`).
    pub fn api_requests(&self) -> u64 {
        self.shared.api_requests.load(Ordering::SeqCst)
    }

    /// API requests so far by what they asked (`GET /__sim/stats` → `calls`): REST
    /// `"PUT BPCUSTOMER $edit"`, `"GET BPCUSTOMER $query"`…; GraphQL
    /// `"GraphQL x3MasterData.customer.update"`, one per operation in the request.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.calls).clone()
    }

    /// How many requests asked `name` (see [`X3Sim::calls`]).
    pub fn calls_of(&self, name: &str) -> u64 {
        lock(&self.shared.calls).get(name).copied().unwrap_or(0)
    }

    /// Same as `POST /__sim/faults`; `down` takes effect before this returns.
    pub fn set_faults(&self, v: &Value) -> Result<(), String> {
        apply_faults(&self.shared, v, false)
    }

    /// `POST /__sim/reset`: forget every record, counter and category.
    pub fn reset(&self) {
        reset(&self.shared);
    }

    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for X3Sim {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        let srv = lock(&self.shared.server).take();
        if let Some(s) = srv {
            s.stop();
        }
    }
}

/// Bind the simulator's port, retrying while a previous listener is still closing.
fn bind(shared: &Arc<Shared>, patience: Duration) -> std::io::Result<Server> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        let s2 = Arc::clone(shared);
        match Server::start(
            shared.port.load(Ordering::SeqCst),
            shared.cfg.threads,
            move |req| handle(&s2, req),
        ) {
            Ok(s) => return Ok(s),
            Err(e) if std::time::Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn go_down(shared: &Arc<Shared>, down_ms: Option<u64>, from_worker: bool) {
    let gen_now = shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
    lock(&shared.faults).down = true;
    let srv = lock(&shared.server).take();
    if let Some(s) = srv {
        if from_worker {
            // A worker cannot join itself: stop from another thread once it has answered.
            std::thread::spawn(move || s.stop());
        } else {
            s.stop();
        }
    }
    if let Some(ms) = down_ms {
        let sh = Arc::clone(shared);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            if sh.generation.load(Ordering::SeqCst) == gen_now {
                let _ = go_up(&sh);
            }
        });
    }
}

fn go_up(shared: &Arc<Shared>) -> Result<(), String> {
    shared.generation.fetch_add(1, Ordering::SeqCst);
    if shared.stopped.load(Ordering::SeqCst) {
        return Ok(());
    }
    let mut slot = lock(&shared.server);
    if slot.is_none() {
        let s = bind(shared, Duration::from_secs(5)).map_err(|e| format!("cannot re-bind: {e}"))?;
        *slot = Some(s);
    }
    lock(&shared.faults).down = false;
    Ok(())
}

fn count_of(v: &Value, what: &str) -> Result<u32, String> {
    match v.get("count") {
        None => Ok(0),
        Some(c) => c
            .as_u64()
            .map(|n| n as u32)
            .ok_or(format!("{what}.count: a non-negative integer expected")),
    }
}

/// Merge a faults document into the current faults (see docs/simulators.md (x3-sim) for each key).
fn apply_faults(shared: &Arc<Shared>, v: &Value, from_worker: bool) -> Result<(), String> {
    let obj = v.as_object().ok_or("faults: a JSON object expected")?;
    for k in obj.keys() {
        if ![
            "fail",
            "rate_limit",
            "latency_ms",
            "commit_then_timeout",
            "html_error",
            "expire_tokens",
            "down",
            "down_ms",
        ]
        .contains(&k.as_str())
        {
            return Err(format!("faults: unknown key {k}"));
        }
    }
    let down = match obj.get("down") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err("down: true or false expected".into()),
    };
    let down_ms = match obj.get("down_ms") {
        None => None,
        Some(x) => Some(x.as_u64().ok_or("down_ms: milliseconds expected")?),
    };
    if down == Some(true) && from_worker && down_ms.is_none() {
        return Err(
            "down over HTTP needs down_ms: the control API goes down with the server".into(),
        );
    }
    {
        let mut f = lock(&shared.faults);
        if let Some(x) = obj.get("fail") {
            let status = x.get("status").and_then(Value::as_u64).unwrap_or(500) as u16;
            if !(400..600).contains(&status) {
                return Err("fail.status: 4xx or 5xx expected".into());
            }
            f.fail_count = count_of(x, "fail")?;
            f.fail_status = status;
        }
        if let Some(x) = obj.get("rate_limit") {
            f.rate_count = count_of(x, "rate_limit")?;
            f.retry_after = x.get("retry_after").and_then(Value::as_u64).unwrap_or(1);
        }
        if let Some(x) = obj.get("latency_ms") {
            f.latency_ms = x.as_u64().ok_or("latency_ms: milliseconds expected")?;
        }
        if let Some(x) = obj.get("commit_then_timeout") {
            f.timeout_count = count_of(x, "commit_then_timeout")?;
            f.timeout_ratio = x.get("ratio").and_then(Value::as_f64).unwrap_or(0.0);
            if !(0.0..=1.0).contains(&f.timeout_ratio) {
                return Err("commit_then_timeout.ratio: between 0 and 1 expected".into());
            }
            f.timeout_seed = x.get("seed").and_then(Value::as_u64).unwrap_or(0);
            f.rng = Some(Rng::new(f.timeout_seed));
        }
        if let Some(x) = obj.get("html_error") {
            let status = x.get("status").and_then(Value::as_u64).unwrap_or(502) as u16;
            f.html_count = count_of(x, "html_error")?;
            f.html_status = status;
        }
    }
    if obj.get("expire_tokens").and_then(Value::as_bool) == Some(true) {
        let mut t = lock(&shared.tokens);
        t.access.clear();
        t.jwt_not_before = now_secs();
    }
    match down {
        Some(true) => go_down(shared, down_ms, from_worker),
        Some(false) => go_up(shared)?,
        None => {}
    }
    Ok(())
}

fn clear_faults(shared: &Arc<Shared>) -> Result<(), String> {
    *lock(&shared.faults) = Faults::default();
    go_up(shared)
}

fn state_json(shared: &Shared) -> Value {
    let st = lock(&shared.store);
    let classes = &shared.cfg.classes;
    let mut v = st.to_json(&|k| classes.get(k).0.clone());
    if let Value::Object(m) = &mut v {
        m.insert("folder".into(), Value::String(shared.cfg.folder.clone()));
        let logical: serde_json::Map<String, Value> = Kind::ALL
            .iter()
            .map(|k| {
                let (c, r) = classes.get(*k);
                (k.def().logical.to_string(), json!([c, r]))
            })
            .collect();
        m.insert("classes".into(), Value::Object(logical));
    }
    v
}

/// Persist after a write (`--state-file`); written to a temporary file then renamed, so a
/// killed simulator never leaves half a file.
fn save(shared: &Shared, st: &Store) {
    let Some(path) = &shared.cfg.state_file else {
        return;
    };
    let classes = &shared.cfg.classes;
    let v = st.to_json(&|k| classes.get(k).0.clone());
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, serde_json::to_vec_pretty(&v).unwrap_or_default()).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

fn reset(shared: &Shared) {
    let mut st = lock(&shared.store);
    // Checked at start, so it cannot fail here.
    *st = Store::new(store_opts(&shared.cfg).unwrap_or_default());
    save(shared, &st);
}

const HTML_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

fn base_of(shared: &Shared, req: &Request) -> String {
    match req.header("host") {
        Some(h) if !h.is_empty() => format!("http://{h}"),
        _ => format!("http://127.0.0.1:{}", shared.port.load(Ordering::SeqCst)),
    }
}

fn handle(shared: &Arc<Shared>, req: Request) -> Reply {
    if let Some(rest) = req.path.strip_prefix("/__sim/") {
        return control(shared, rest, &req).into();
    }
    shared.api_requests.fetch_add(1, Ordering::SeqCst);
    if let Some(rest_path) = req.path.strip_prefix("/api1/x3/erp/") {
        count_call(shared, call_name(&req, rest_path));
    }
    // Faults that answer before the request is looked at, in a fixed order.
    let (latency, early) = {
        let mut f = lock(&shared.faults);
        let early = if f.html_count > 0 {
            f.html_count -= 1;
            Some(
                Response::new(f.html_status)
                    .header("Content-Type", "text/html")
                    .body(
                        HTML_502
                            .replace("502 Bad Gateway", &html_title(f.html_status))
                            .into_bytes(),
                    ),
            )
        } else if f.rate_count > 0 {
            f.rate_count -= 1;
            Some(
                rest::diag(429, "Too many requests")
                    .header("Retry-After", f.retry_after.to_string()),
            )
        } else if f.fail_count > 0 {
            f.fail_count -= 1;
            let msg = if f.fail_status == 503 {
                "Service unavailable: no X3 session available in the web-service pool"
            } else {
                "Internal server error"
            };
            Some(rest::diag(f.fail_status, msg))
        } else {
            None
        };
        (f.latency_ms, early)
    };
    if latency > 0 {
        std::thread::sleep(Duration::from_millis(latency));
    }
    if let Some(r) = early {
        return r.into();
    }
    let now = now_secs();
    let cfg = &shared.cfg;
    if req.path == "/v1/token" {
        if req.method != "POST" {
            return Response::json(405, &json!({"message":"Method not allowed"})).into();
        }
        let mut t = lock(&shared.tokens);
        return auth::token_endpoint(&req, cfg, &mut t, now).into();
    }
    let (wrote, created, resp) = if let Some(rest_path) = req.path.strip_prefix("/api1/x3/erp/") {
        if let Err(r) = auth::check(&req, cfg, &lock(&shared.tokens), now, true) {
            return r.into();
        }
        let base = base_of(shared, &req);
        let mut st = lock(&shared.store);
        let out = rest::handle(&req, rest_path, cfg, &mut st, now, &base);
        if out.wrote {
            save(shared, &st);
        }
        (out.wrote, out.created, out.resp)
    } else if req.path == "/xtrem/api" {
        if let Err(r) = auth::check(&req, cfg, &lock(&shared.tokens), now, false) {
            return r.into();
        }
        if req.method != "POST" {
            return Response::text(405, "Method not allowed").into();
        }
        let gql_err =
            |m: &str| Response::json(200, &json!({"errors":[{"message": m}],"data":null}));
        match req.header("x-xtrem-endpoint") {
            None => return gql_err("Missing x-xtrem-endpoint header").into(),
            Some(e) if e != cfg.folder => {
                return gql_err(&format!("Endpoint '{e}' does not exist")).into();
            }
            Some(_) => {}
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            // Node body-parser's answer to a malformed body (x3-api.md §3.6).
            Err(e) => return Response::text(400, format!("SyntaxError: {e}")).into(),
        };
        let mut st = lock(&shared.store);
        let (answer, out) = graphql::execute(&mut st, &body, now);
        if out.wrote {
            save(shared, &st);
        }
        drop(st);
        for op in &out.ops {
            count_call(shared, format!("GraphQL {op}"));
        }
        (out.wrote, out.created, Response::json(200, &answer))
    } else {
        return rest::diag(404, format!("No resource at {}", req.path)).into();
    };
    let _ = wrote;
    if created && should_hang(shared) {
        // Commit then time out: the record is stored, the client never hears about it.
        return Reply::Hang;
    }
    resp.into()
}

/// What a REST request asks, for the call counts: `METHOD CLASS FACET` (`PUT BPCUSTOMER $edit`,
/// `GET SORDER $query`, `GET BPCUSTOMER $template`).
fn call_name(req: &Request, rest_path: &str) -> String {
    let tail = rest_path.split_once('/').map_or("", |(_, t)| t);
    let (target, sub) = tail.split_once('/').unwrap_or((tail, ""));
    let class = target.split('(').next().unwrap_or("");
    let facet = if sub.is_empty() {
        req.param("representation")
            .and_then(|r| r.rfind(".$").map(|i| r[i + 1..].to_string()))
            .unwrap_or_default()
    } else {
        sub.split('(').next().unwrap_or("").to_string()
    };
    format!("{} {class} {facet}", req.method)
}

fn count_call(shared: &Shared, name: String) {
    *lock(&shared.calls).entry(name).or_insert(0) += 1;
}

fn html_title(status: u16) -> String {
    match status {
        502 => "502 Bad Gateway".into(),
        503 => "503 Service Temporarily Unavailable".into(),
        504 => "504 Gateway Time-out".into(),
        s => format!("{s} Error"),
    }
}

fn should_hang(shared: &Shared) -> bool {
    let mut f = lock(&shared.faults);
    if f.timeout_count > 0 {
        f.timeout_count -= 1;
        return true;
    }
    if f.timeout_ratio > 0.0 {
        let ratio = f.timeout_ratio;
        let seed = f.timeout_seed;
        let r = f.rng.get_or_insert_with(|| Rng::new(seed)).next_f64();
        return r < ratio;
    }
    false
}

/// `POST /__sim/deliveries`: the body is a delivery as `$create` takes it (strictly checked),
/// plus `CFMFLG` 1 (not validated) or 2 (validated, the default). Err: (status, message).
fn staff_delivery(shared: &Shared, body: &Value) -> Result<Value, (u16, String)> {
    let mut input = body
        .as_object()
        .cloned()
        .ok_or((400, "deliveries: a JSON object expected".to_string()))?;
    let validated = match input.remove("CFMFLG") {
        None | Some(Value::Null) => true,
        Some(v) if v.as_i64() == Some(store::VALIDATED) => true,
        Some(v) if v.as_i64() == Some(store::NOT_VALIDATED) => false,
        Some(v) => {
            return Err((
                400,
                format!("CFMFLG: 1 (not validated) or 2 (validated), got {v}"),
            ));
        }
    };
    let mut st = lock(&shared.store);
    let key = st
        .create_delivery_in_x3(&input, validated, now_secs())
        .map_err(|e| (biz_status(&e), e.message))?;
    save(shared, &st);
    Ok(st
        .get(Kind::Delivery, &key)
        .cloned()
        .map(Value::Object)
        .unwrap_or(Value::Null))
}

/// `POST /__sim/deliveries/<SDHNUM>/validate`. Err: (status, message).
fn validate_delivery(shared: &Shared, key: &str) -> Result<Value, (u16, String)> {
    let mut st = lock(&shared.store);
    st.validate_delivery(key, now_secs())
        .map_err(|e| (biz_status(&e), e.message))?;
    save(shared, &st);
    Ok(st
        .get(Kind::Delivery, key)
        .cloned()
        .map(Value::Object)
        .unwrap_or(Value::Null))
}

fn biz_status(e: &store::BizErr) -> u16 {
    match e.kind {
        store::ErrKind::NotFound => 404,
        store::ErrKind::Business => 400,
    }
}

fn control(shared: &Arc<Shared>, rest: &str, req: &Request) -> Response {
    let ok = || Response::json(200, &json!({"ok": true}));
    let err = |m: String| Response::json(400, &json!({"error": m}));
    match (req.method.as_str(), rest) {
        ("GET", "state") => Response::json(200, &state_json(shared)),
        ("POST", "seed") => {
            let v = match req.json() {
                Ok(v) => v,
                Err(e) => return err(e),
            };
            let mut st = lock(&shared.store);
            match st.seed(&v, now_secs()) {
                Ok(()) => {
                    save(shared, &st);
                    ok()
                }
                Err(e) => err(e),
            }
        }
        ("POST", "reset") => {
            reset(shared);
            ok()
        }
        ("POST", "deliveries") => {
            let v = match req.json() {
                Ok(v) => v,
                Err(e) => return err(e),
            };
            match staff_delivery(shared, &v) {
                Ok(rec) => Response::json(200, &rec),
                Err((status, m)) => Response::json(status, &json!({"error": m})),
            }
        }
        ("POST", path) if path.starts_with("deliveries/") && path.ends_with("/validate") => {
            let key = &path["deliveries/".len()..path.len() - "/validate".len()];
            match validate_delivery(shared, key) {
                Ok(rec) => Response::json(200, &rec),
                Err((status, m)) => Response::json(status, &json!({"error": m})),
            }
        }
        ("GET", "stats") => Response::json(
            200,
            &json!({
                "api_requests": shared.api_requests.load(Ordering::SeqCst),
                "calls": *lock(&shared.calls),
            }),
        ),
        ("GET", "faults") => Response::json(200, &lock(&shared.faults).to_json()),
        ("POST", "faults") => {
            let v = match req.json() {
                Ok(v) => v,
                Err(e) => return err(e),
            };
            match apply_faults(shared, &v, true) {
                Ok(()) => Response::json(200, &lock(&shared.faults).to_json()),
                Err(e) => err(e),
            }
        }
        ("DELETE", "faults") => match clear_faults(shared) {
            Ok(()) => Response::json(200, &lock(&shared.faults).to_json()),
            Err(e) => err(e),
        },
        _ => Response::json(
            404,
            &json!({"error": format!("no control endpoint {} /__sim/{rest}", req.method)}),
        ),
    }
}

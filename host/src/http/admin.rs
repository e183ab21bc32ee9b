//! The admin API under `/api/admin/`: what the WordPress plugin and an operator's shell use to
//! read and change the settings, import and export the mapping table, release holds, replay
//! orders and test the connections (`docs/admin-api.md`).
//!
//! - Auth: `Authorization: Bearer <token>`, the token generated at first start into
//!   `<data_dir>/admin.token` (0600) and compared in constant time. It never reaches a log line.
//! - Every write is validated whole before anything is applied: an invalid request changes
//!   nothing and is answered 422 with `{"errors": {"<field>": "<message>", …}}`.
//! - Settings written here are kept in the store's `kv` under `settings`, as the overrides the API
//!   received (secrets included: the data directory is the service's own), and override the
//!   config file at the next start ([`stored_config`]). They apply live: the pipeline's settings
//!   and status map are swapped, and the X3 / WooCommerce clients rebuilt.
//! - Secrets are write-only: an answer shows `{"set": true}`, never a value; every JSON answer is
//!   also scrubbed of the secrets in force before it leaves.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::component::{CoreRuntime, inventory, mapping, orders};
use crate::config::{ApiMode, AuthMode, Config, Secret};
use crate::http::Ctx;
use crate::http::intake::Answer;
use crate::http::server::headers_of;
use crate::store::{OrderRow, Store};

/// The token file, in the data directory.
pub const TOKEN_FILE: &str = "admin.token";
/// The read token of the status pages (`/status`, `/api/status`, `/metrics`), beside it: it
/// shows shoppers' names and totals but changes nothing, so it can be handed out more freely.
pub const READ_TOKEN_FILE: &str = "status.token";
/// The `kv` key of the settings written through the API.
const KV_SETTINGS: &str = "settings";
/// Largest request body: a mapping table of some ten thousand rows fits easily.
const MAX_BODY: usize = 8 << 20;
/// Orders a replay by state touches at most, so one request stays one short transaction.
const MAX_REPLAY: usize = 10_000;
/// Longest text setting: URLs and paths fit; a pasted document does not.
const MAX_TEXT: usize = 2048;

/// The order the settings are tried on (WooCommerce's documented sample, `GET /orders/727`).
const SAMPLE_ORDER: &str = include_str!("../../../core/testdata/samples/order.wc-v3.json");

/// The admin API's own state, one per running host.
pub struct Admin {
    token: Secret,
    /// The status pages' read token (the admin token is accepted there too).
    read_token: Secret,
    /// The configuration in force: the file's, with what the API changed since.
    config: RwLock<Config>,
    /// One settings or mapping write at a time: each is validated against what the other applies.
    writing: Mutex<()>,
}

impl Admin {
    /// Reads the token from `<data_dir>/admin.token`, creating it on first start.
    pub fn new(config: &Config) -> Result<Admin> {
        Ok(Admin {
            token: load_or_create_token(&config.data_dir)?,
            read_token: load_or_create_token_file(&config.data_dir, READ_TOKEN_FILE)?,
            config: RwLock::new(config.clone()),
            writing: Mutex::new(()),
        })
    }

    /// The configuration in force now (the config file with the API's changes).
    pub fn config(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Checks the `Authorization` header; the error is the 401 to send.
    fn authorize(&self, headers: &[(String, String)]) -> std::result::Result<(), Answer> {
        let given = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.trim());
        let Some(given) = given else {
            return Err(unauthorized(
                "Bearer realm=\"ml-connector\"",
                "an admin token is needed: Authorization: Bearer <token>",
            ));
        };
        let token = match given.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => {
                return Err(unauthorized(
                    "Bearer realm=\"ml-connector\"",
                    "an admin token is needed: Authorization: Bearer <token>",
                ));
            }
        };
        if !same_token(token, self.token.expose()) {
            warn!("admin API: refused a request with a wrong token");
            return Err(unauthorized(
                "Bearer realm=\"ml-connector\", error=\"invalid_token\"",
                "wrong admin token",
            ));
        }
        Ok(())
    }

    /// Whether `given` is the admin token or the status pages' read token.
    pub fn is_read_token(&self, given: &str) -> bool {
        // Both compared, always: the time taken does not tell which one matched.
        let admin = same_token(given, self.token.expose());
        let read = same_token(given, self.read_token.expose());
        admin | read
    }

    /// The configuration in force (the status page shows where it points now, not at start).
    pub fn config_in_force(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every secret an answer must never contain.
    fn secrets(&self) -> Vec<String> {
        let c = self.config.read().unwrap_or_else(|e| e.into_inner());
        [
            &self.token,
            &c.x3_password,
            &c.x3_secret,
            &c.x3_oauth_secret,
            &c.woo_consumer_secret,
            &c.webhook_secret,
            &c.webhook_secret_previous,
            &self.read_token,
            &c.metrics_token,
        ]
        .into_iter()
        .map(|s| s.expose().to_string())
        .collect()
    }
}

fn unauthorized(challenge: &str, message: &str) -> Answer {
    let mut a = Answer::json(401, &json!({ "error": message }));
    a.headers
        .push(("WWW-Authenticate".into(), challenge.to_string()));
    a
}

/// Compares digests rather than the tokens: the time taken depends on neither token's content,
/// and the fold has no early exit.
pub fn same_token(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The token in `dir/admin.token`; 32 random bytes as hex written there (mode 0600) when absent.
pub fn load_or_create_token(dir: &Path) -> Result<Secret> {
    load_or_create_token_file(dir, TOKEN_FILE)
}

/// A token in `dir/<name>`, created as [`load_or_create_token`] creates the admin token.
pub fn load_or_create_token_file(dir: &Path, name: &str) -> Result<Secret> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = dir.join(name);
    for _ in 0..2 {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let token = text.trim();
                if token.len() < 32 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                    bail!(
                        "{}: not an admin token (32 or more printable characters); delete it to have a new one generated",
                        path.display()
                    );
                }
                let mode = std::fs::metadata(&path)?.permissions().mode();
                if mode & 0o077 != 0 {
                    // Someone loosened it (a restore from backup, a copy): tighten, don't refuse.
                    warn!(
                        "{} was readable by others (mode {:o}); set to 0600",
                        path.display(),
                        mode & 0o777
                    );
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                }
                return Ok(Secret::new(token));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .context("reading /dev/urandom for the admin token")?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match file {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(format!("{token}\n").as_bytes())
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("writing {}", path.display()))?;
                info!("token created in {}", path.display());
                return Ok(Secret::new(token));
            }
            // Another process created it between our read and our create: read theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    bail!("{}: could not be read or created", path.display())
}

// ---------------------------------------------------------------------------------------------
// Routing

/// Every `/api/admin/…` request.
pub fn route(ctx: &Ctx, req: &mut tiny_http::Request) -> Answer {
    let headers = headers_of(req);
    if let Err(a) = ctx.admin.authorize(&headers) {
        return a;
    }
    let url = req.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let method = req.method().as_str().to_ascii_uppercase();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default()
    };
    let result = match (method.as_str(), path) {
        ("GET", "/api/admin/settings") => get_settings(ctx),
        ("PUT", "/api/admin/settings") => match read_json(req) {
            Ok(body) => put_settings(ctx, &body),
            Err(a) => Ok(a),
        },
        ("GET", "/api/admin/wire") => get_wire(ctx),
        ("GET", "/api/admin/mapping") => get_mapping(ctx, header("accept").contains("text/csv")),
        ("PUT", "/api/admin/mapping") => match read_body(req) {
            Ok(body) => put_mapping(ctx, &header("content-type"), &body),
            Err(a) => Ok(a),
        },
        ("GET", "/api/admin/mapping/coverage") => coverage(ctx),
        ("POST", "/api/admin/holds/release") => match read_json(req) {
            Ok(body) => release_holds(ctx, &body),
            Err(a) => Ok(a),
        },
        ("POST", "/api/admin/orders/replay") => match read_json(req) {
            Ok(body) => replay(ctx, &body),
            Err(a) => Ok(a),
        },
        ("GET", "/api/admin/orders") => list_orders(ctx, query),
        ("GET", p) if p.starts_with("/api/admin/orders/") => {
            show_order(ctx, &p["/api/admin/orders/".len()..])
        }
        ("GET", "/api/admin/reconcile") => {
            crate::http::jobs_api::reconcile(ctx, query, header("accept").contains("text/csv"))
        }
        ("POST", "/api/admin/test-connection") => match read_json(req) {
            Ok(body) => test_connection(ctx, &body),
            Err(a) => Ok(a),
        },
        ("GET", "/api/admin/webhooks") => Ok(crate::http::jobs_api::webhooks(ctx)),
        ("POST", "/api/admin/webhooks/register") => Ok(crate::http::jobs_api::register(ctx)),
        ("POST", "/api/admin/backfill") => match read_json(req) {
            Ok(body) => Ok(crate::http::jobs_api::backfill(ctx, &body)),
            Err(a) => Ok(a),
        },
        (_, p) => Ok(match allowed(p) {
            Some(allow) => {
                let mut a = Answer::json(405, &json!({ "error": format!("use {allow}") }));
                a.headers.push(("Allow".into(), allow.into()));
                a
            }
            None => Answer::json(404, &json!({ "error": "not found" })),
        }),
    };
    let answer = result.unwrap_or_else(|e| {
        error!("admin API {method} {path}: {e:#}");
        Answer::json(500, &json!({ "error": format!("{e:#}") }))
    });
    let mut answer = scrub(answer, &ctx.admin.secrets());
    // Settings and order details are nobody's to cache (a proxy, the browser behind the plugin).
    answer
        .headers
        .push(("Cache-Control".into(), "no-store".into()));
    answer
}

fn allowed(path: &str) -> Option<&'static str> {
    Some(match path {
        "/api/admin/settings" | "/api/admin/mapping" => "GET, PUT",
        "/api/admin/mapping/coverage"
        | "/api/admin/orders"
        | "/api/admin/reconcile"
        | "/api/admin/wire" => "GET",
        "/api/admin/holds/release"
        | "/api/admin/orders/replay"
        | "/api/admin/test-connection"
        | "/api/admin/webhooks/register"
        | "/api/admin/backfill" => "POST",
        "/api/admin/webhooks" => "GET",
        p if p.starts_with("/api/admin/orders/") => "GET",
        _ => return None,
    })
}

/// Replaces any secret in a JSON answer (defence in depth: the clients scrub their messages).
fn scrub(mut a: Answer, secrets: &[String]) -> Answer {
    if a.content_type != "application/json" {
        return a;
    }
    let Ok(mut text) = String::from_utf8(std::mem::take(&mut a.body)) else {
        return a;
    };
    // Very short secrets would blank out ordinary words; real ones are longer.
    for s in secrets.iter().filter(|s| s.len() >= 6) {
        if text.contains(s.as_str()) {
            text = text.replace(s.as_str(), "***");
        }
    }
    a.body = text.into_bytes();
    a
}

fn read_body(req: &mut tiny_http::Request) -> std::result::Result<Vec<u8>, Answer> {
    let mut body = Vec::new();
    let limit = u64::try_from(MAX_BODY).unwrap_or(u64::MAX) + 1;
    if let Err(e) = req.as_reader().take(limit).read_to_end(&mut body) {
        return Err(Answer::json(
            400,
            &json!({ "error": format!("reading the body: {e}") }),
        ));
    }
    if body.len() > MAX_BODY {
        return Err(Answer::json(
            413,
            &json!({ "error": format!("the body is over {MAX_BODY} bytes") }),
        ));
    }
    Ok(body)
}

/// The body as JSON; an empty body is `{}`.
fn read_json(req: &mut tiny_http::Request) -> std::result::Result<Value, Answer> {
    let body = read_body(req)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&body).map_err(|e| {
        Answer::json(
            400,
            &json!({ "error": format!("the body is not JSON: {e}") }),
        )
    })
}

/// Field-level errors, first message per field.
#[derive(Default)]
struct Errors(BTreeMap<String, Value>);

impl Errors {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0
            .entry(field.into())
            .or_insert_with(|| Value::String(message.into()));
    }

    fn has(&self, prefix: &str) -> bool {
        self.0
            .keys()
            .any(|k| k == prefix || k.starts_with(&format!("{prefix}.")))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn answer(self) -> Answer {
        let errors: Map<String, Value> = self.0.into_iter().collect();
        Answer::json(422, &json!({ "errors": errors }))
    }

    fn summary(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

// ---------------------------------------------------------------------------------------------
// Settings

/// The settings as GET shows them: secrets only as `{"set": bool}`.
fn settings_document(cfg: &Config, s: &orders::Settings, map: &[inventory::StatusRule]) -> Value {
    let set = |v: &Secret| json!({ "set": !v.is_empty() });
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let x = &cfg.x3;
    let w = &cfg.woo;
    json!({
        "orders": {
            "store-id": s.store_id,
            "reference-prefix": s.reference_prefix,
            "customer-prefix": s.customer_prefix,
            "guest-customer": s.guest_customer,
            "sales-site": s.sales_site,
            "shipment-site": s.shipment_site,
            "order-type": s.order_type,
            "invoice-type": s.invoice_type,
            "customer-category": s.customer_category,
            "document-kind": match s.document_kind {
                orders::DocumentKind::Order => "order",
                orders::DocumentKind::Invoice => "invoice",
            },
            "price-basis": match s.price_basis {
                orders::PriceBasis::Net => "net",
                orders::PriceBasis::Gross => "gross",
            },
            "default-sales-unit": s.default_sales_unit,
            "currency-decimals": s.currency_decimals,
            "dimension-types": s.dimension_types,
        },
        "x3": {
            "base-url": x.base_url,
            "folder": x.folder,
            "api": match x.api { ApiMode::Rest => "rest", ApiMode::Graphql => "graphql" },
            "auth": match x.auth {
                AuthMode::Basic => "basic",
                AuthMode::ConnectedApp => "connected-app",
                AuthMode::Oauth2 => "oauth2",
            },
            "user": x.user,
            "password": set(&cfg.x3_password),
            "client-id": x.client_id,
            "secret": set(&cfg.x3_secret),
            "jwt-user": x.jwt_user,
            "audience": x.audience,
            "jwt-lifetime-secs": x.jwt_lifetime_secs,
            "token-url": x.token_url,
            "oauth-client-id": x.oauth_client_id,
            "oauth-client-secret": set(&cfg.x3_oauth_secret),
            "ca-file": path(&x.ca_file),
            "timeout-secs": x.timeout_secs,
        },
        "woocommerce": {
            "url": w.url,
            "consumer-key": w.consumer_key,
            "consumer-secret": set(&cfg.woo_consumer_secret),
            "webhook-secret": set(&cfg.webhook_secret),
            "webhook-secret-previous": set(&cfg.webhook_secret_previous),
            "auth": w.auth.as_deref().unwrap_or("auto"),
            "ca-file": path(&w.ca_file),
            "timeout-secs": w.timeout_secs,
            "delivery-url": cfg.delivery_url(),
        },
        // The overrides in force; every name with its default is under GET /api/admin/wire.
        "x3-wire": cfg.x3.wire.0,
        "inventory": {
            "status-map": map.iter().map(|r| json!({
                "status": r.status,
                "stage": stage_name(r.stage),
            })).collect::<Vec<_>>(),
        },
    })
}

fn stage_name(s: inventory::Stage) -> &'static str {
    match s {
        inventory::Stage::None => "none",
        inventory::Stage::Posted => "posted",
        inventory::Stage::Shipped => "shipped",
        inventory::Stage::Delivered => "delivered",
        inventory::Stage::Cancelled => "cancelled",
    }
}

fn stage_of(name: &str) -> Option<inventory::Stage> {
    Some(match name {
        "none" => inventory::Stage::None,
        "posted" => inventory::Stage::Posted,
        "shipped" => inventory::Stage::Shipped,
        "delivered" => inventory::Stage::Delivered,
        "cancelled" => inventory::Stage::Cancelled,
        _ => return None,
    })
}

fn get_settings(ctx: &Ctx) -> Result<Answer> {
    let cfg = ctx.admin.config();
    let s = ctx
        .pipeline
        .settings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let map = ctx
        .pipeline
        .status_map
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Ok(Answer::json(200, &settings_document(&cfg, &s, &map)))
}

/// `GET /api/admin/wire`: every X3 name in force, with its default, where the default comes
/// from (empty: UNCONFIRMED, our choice) and whether the site overrides it.
fn get_wire(ctx: &Ctx) -> Result<Answer> {
    let s = crate::jobs::pipeline::current(&ctx.pipeline.settings);
    let names = crate::wire::Names::resolve(&ctx.core, &s)?;
    let list: Vec<Value> = names
        .all()
        .iter()
        .map(|n| {
            json!({
                "key": n.key,
                "value": n.value,
                "default": n.default_value,
                "source": n.source,
                "confirmed": !n.source.is_empty(),
                "overridden": n.value != n.default_value
                    || s.wire.iter().any(|(k, _)| *k == n.key),
                "description": n.description,
            })
        })
        .collect();
    Ok(Answer::json(200, &json!({ "names": list })))
}

/// A text value: a string without control characters, at most [`MAX_TEXT`] long.
fn text(v: &Value) -> std::result::Result<String, String> {
    let Value::String(s) = v else {
        return Err("a string expected".into());
    };
    if s.chars().count() > MAX_TEXT {
        return Err(format!("at most {MAX_TEXT} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("control characters are not allowed".into());
    }
    Ok(s.clone())
}

/// A text value, `null` (or empty) for none.
fn opt_text(v: &Value) -> std::result::Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        v => text(v).map(|s| (!s.trim().is_empty()).then_some(s)),
    }
}

fn uint(v: &Value, min: u64, max: u64) -> std::result::Result<u64, String> {
    match v.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("a whole number from {min} to {max} expected")),
    }
}

fn one_of<'a>(v: &Value, options: &[&'a str]) -> std::result::Result<&'a str, String> {
    let given = v.as_str().unwrap_or_default();
    options
        .iter()
        .find(|o| **o == given)
        .copied()
        .ok_or_else(|| format!("one of {} expected", options.join(", ")))
}

/// A secret: a string sets it, `null` clears it, `{"set": …}` (what GET shows) keeps it.
fn secret(v: &Value, current: &mut Secret) -> std::result::Result<(), String> {
    match v {
        Value::Object(_) => Ok(()),
        Value::Null => {
            *current = Secret::default();
            Ok(())
        }
        Value::String(_) => {
            let s = text(v)?;
            if s != s.trim() {
                return Err("no leading or trailing spaces".into());
            }
            *current = Secret::new(s);
            Ok(())
        }
        _ => Err("a string (the new value) or {\"set\": true} (keep it) expected".into()),
    }
}

/// An http(s) URL with a host.
fn url(v: &Value) -> std::result::Result<String, String> {
    let s = text(v)?;
    let s = s.trim().to_string();
    let uri: ureq::http::Uri = s
        .parse()
        .map_err(|e| format!("not a URL like https://host/ ({e})"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err("an http:// or https:// URL expected".into());
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(s)
}

/// A CA file path: must be readable now (relative paths are the config file's).
fn ca_file(v: &Value, base: &Path) -> std::result::Result<Option<PathBuf>, String> {
    let Some(p) = opt_text(v)? else {
        return Ok(None);
    };
    let path = PathBuf::from(&p);
    std::fs::metadata(base.join(&path))
        .map_err(|e| format!("{p}: {e}"))
        .and_then(|m| {
            if m.is_file() {
                Ok(Some(path))
            } else {
                Err(format!("{p}: not a file"))
            }
        })
}

/// Applies a settings document (the PUT body, or the stored overrides) to `cfg`, checking each
/// value's type and form. Returns the status map when the document has one.
fn apply(cfg: &mut Config, doc: &Value, errors: &mut Errors) -> Option<Vec<inventory::StatusRule>> {
    let Some(doc) = doc.as_object() else {
        errors.add(
            "settings",
            "a JSON object with orders, x3, woocommerce or inventory",
        );
        return None;
    };
    let mut status_map = None;
    for (section, fields) in doc {
        let Some(fields) = fields.as_object() else {
            errors.add(section.as_str(), "an object of settings expected");
            continue;
        };
        for (name, v) in fields {
            let field = format!("{section}.{name}");
            let r = match section.as_str() {
                "orders" => apply_orders(cfg, name, v),
                "x3" => apply_x3(cfg, name, v),
                "woocommerce" => apply_woo(cfg, name, v),
                "x3-wire" => apply_wire(cfg, name, v),
                "inventory" if name == "status-map" => {
                    status_map_of(v).map(|m| status_map = Some(m))
                }
                _ => Err(Unknown),
            };
            match r {
                Ok(()) => {}
                Err(Unknown) => errors.add(field, "unknown setting"),
                Err(Invalid(m)) => errors.add(field, m),
            }
        }
    }
    status_map
}

enum Refusal {
    Unknown,
    Invalid(String),
}
use Refusal::{Invalid, Unknown};

impl From<String> for Refusal {
    fn from(m: String) -> Self {
        Invalid(m)
    }
}

fn apply_orders(cfg: &mut Config, name: &str, v: &Value) -> std::result::Result<(), Refusal> {
    let o = &mut cfg.orders;
    match name {
        "store-id" => o.store_id = opt_text(v)?,
        "reference-prefix" => o.reference_prefix = opt_text(v)?,
        "customer-prefix" => o.customer_prefix = opt_text(v)?,
        "guest-customer" => o.guest_customer = opt_text(v)?,
        "sales-site" => o.sales_site = opt_text(v)?,
        "shipment-site" => o.shipment_site = opt_text(v)?,
        "order-type" => o.order_type = opt_text(v)?,
        "invoice-type" => o.invoice_type = opt_text(v)?,
        "customer-category" => o.customer_category = opt_text(v)?,
        "default-sales-unit" => o.default_sales_unit = opt_text(v)?,
        "document-kind" => {
            o.document_kind = match v {
                Value::Null => None,
                v => Some(one_of(v, &["order", "invoice"])?.to_string()),
            }
        }
        "price-basis" => {
            o.price_basis = match v {
                Value::Null => None,
                v => Some(one_of(v, &["net", "gross"])?.to_string()),
            }
        }
        "currency-decimals" => {
            o.currency_decimals = match v {
                Value::Null => None,
                v => Some(u8::try_from(uint(v, 0, 8)?).unwrap_or(2)),
            }
        }
        "dimension-types" => {
            o.dimension_types = match v {
                Value::Null => None,
                Value::Array(items) => {
                    let mut out = Vec::new();
                    for item in items {
                        let t = text(item)?;
                        if out.contains(&t) {
                            return Err(Invalid(format!("{t:?} is listed twice")));
                        }
                        out.push(t);
                    }
                    Some(out)
                }
                _ => return Err(Invalid("a list of X3 dimension type codes expected".into())),
            }
        }
        _ => return Err(Unknown),
    }
    Ok(())
}

/// One `[x3.wire]` override: a name sets it, `null` goes back to the default. Which keys exist
/// and what a valid name is, the core says (in `validate`).
fn apply_wire(cfg: &mut Config, key: &str, v: &Value) -> std::result::Result<(), Refusal> {
    match v {
        Value::Null => {
            cfg.x3.wire.0.remove(key);
        }
        v => {
            cfg.x3
                .wire
                .0
                .insert(key.to_string(), text(v)?.trim().to_string());
        }
    }
    Ok(())
}

fn apply_x3(cfg: &mut Config, name: &str, v: &Value) -> std::result::Result<(), Refusal> {
    let base = cfg.base_dir.clone();
    let x = &mut cfg.x3;
    match name {
        "base-url" => x.base_url = url(v)?,
        "folder" => x.folder = text(v)?.trim().to_string(),
        "api" => {
            x.api = match one_of(v, &["rest", "graphql"])? {
                "rest" => ApiMode::Rest,
                _ => ApiMode::Graphql,
            }
        }
        "auth" => {
            x.auth = match one_of(v, &["basic", "connected-app", "oauth2"])? {
                "basic" => AuthMode::Basic,
                "connected-app" => AuthMode::ConnectedApp,
                _ => AuthMode::Oauth2,
            }
        }
        "user" => x.user = opt_text(v)?,
        "client-id" => x.client_id = opt_text(v)?,
        "jwt-user" => x.jwt_user = opt_text(v)?,
        "audience" => x.audience = opt_text(v)?.unwrap_or_default(),
        "jwt-lifetime-secs" => x.jwt_lifetime_secs = uint(v, 1, 3600)?,
        "token-url" => {
            x.token_url = match v {
                Value::Null => None,
                v => Some(url(v)?),
            }
        }
        "oauth-client-id" => x.oauth_client_id = opt_text(v)?,
        "ca-file" => x.ca_file = ca_file(v, &base)?,
        "timeout-secs" => x.timeout_secs = uint(v, 1, 600)?,
        "password" => secret(v, &mut cfg.x3_password)?,
        "secret" => secret(v, &mut cfg.x3_secret)?,
        "oauth-client-secret" => secret(v, &mut cfg.x3_oauth_secret)?,
        _ => return Err(Unknown),
    }
    Ok(())
}

fn apply_woo(cfg: &mut Config, name: &str, v: &Value) -> std::result::Result<(), Refusal> {
    let base = cfg.base_dir.clone();
    let w = &mut cfg.woo;
    match name {
        "url" => w.url = url(v)?,
        "consumer-key" => w.consumer_key = text(v)?.trim().to_string(),
        "consumer-secret" => secret(v, &mut cfg.woo_consumer_secret)?,
        "webhook-secret" => {
            if v.is_null() {
                return Err(Invalid(
                    "cannot be cleared: no delivery could be verified without it".into(),
                ));
            }
            secret(v, &mut cfg.webhook_secret)?;
            if cfg.webhook_secret.is_empty() {
                return Err(Invalid("an empty secret verifies nothing".into()));
            }
        }
        // Accepted too during a rotation; `null` ends the rotation.
        "webhook-secret-previous" => secret(v, &mut cfg.webhook_secret_previous)?,
        "auth" => {
            w.auth = Some(one_of(v, &["auto", "oauth1", "basic", "query-string"])?.to_string())
        }
        "ca-file" => w.ca_file = ca_file(v, &base)?,
        "timeout-secs" => w.timeout_secs = uint(v, 1, 600)?,
        "delivery-url" => {
            w.delivery_url = if v.is_null() || v.as_str() == Some("") {
                None
            } else {
                let u = url(v)?;
                crate::config::check_delivery_url(&u).map_err(|e| Invalid(format!("{e:#}")))?;
                Some(u)
            }
        }
        _ => return Err(Unknown),
    }
    Ok(())
}

fn status_map_of(v: &Value) -> std::result::Result<Vec<inventory::StatusRule>, Refusal> {
    let Some(items) = v.as_array() else {
        return Err(Invalid(
            "a list of {\"status\": …, \"stage\": …} expected".into(),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let status = r.get("status").and_then(Value::as_str);
            let stage = r.get("stage").and_then(Value::as_str).and_then(stage_of);
            match (status, stage) {
                (Some(status), Some(stage)) => Ok(inventory::StatusRule {
                    status: status.to_string(),
                    stage,
                }),
                _ => Err(Invalid(format!(
                    "rule {}: a status and a stage (none, posted, shipped, delivered, cancelled) expected",
                    i + 1
                ))),
            }
        })
        .collect()
}

/// Rules that need several fields at once: each auth mode's credentials.
fn check_connection(cfg: &Config, errors: &mut Errors) {
    let x = &cfg.x3;
    let mut need = |field: &str, present: bool, why: &str| {
        if !present {
            errors.add(format!("x3.{field}"), format!("required when {why}"));
        }
    };
    match x.auth {
        AuthMode::Basic => {
            need("user", x.user.is_some(), "auth is basic");
            need("password", !cfg.x3_password.is_empty(), "auth is basic");
        }
        AuthMode::ConnectedApp => {
            let why = "auth is connected-app";
            need("client-id", x.client_id.is_some(), why);
            need("secret", !cfg.x3_secret.is_empty(), why);
            need("jwt-user", x.jwt_user.is_some(), why);
        }
        AuthMode::Oauth2 => {
            let why = "auth is oauth2";
            need("token-url", x.token_url.is_some(), why);
            need("oauth-client-id", x.oauth_client_id.is_some(), why);
            need("oauth-client-secret", !cfg.x3_oauth_secret.is_empty(), why);
        }
    }
    if cfg.woo.consumer_key.trim().is_empty() {
        errors.add("woocommerce.consumer-key", "required");
    }
    if cfg.woo_consumer_secret.is_empty() {
        errors.add("woocommerce.consumer-secret", "required");
    }
}

/// Which field a core `invalid-settings` message is about (it starts with the setting's name;
/// a wire name's says `x3.wire.<key>` or `unknown name "<key>"`).
fn core_field(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("x3.wire.") {
        let key = rest.split([':', ' ']).next().unwrap_or("");
        return format!("x3-wire.{key}");
    }
    if let Some(rest) = message.strip_prefix("x3.wire: unknown name \"") {
        let key = rest.split('"').next().unwrap_or("");
        return format!("x3-wire.{key}");
    }
    format!("orders.{}", orders_field(message))
}

fn orders_field(message: &str) -> &'static str {
    const NAMES: [&str; 9] = [
        "store-id",
        "reference-prefix",
        "customer-prefix",
        "sales-site",
        "shipment-site",
        "order-type",
        "invoice-type",
        "currency-decimals",
        "customer-category",
    ];
    if let Some(n) = NAMES.iter().find(|n| message.starts_with(*n)) {
        return n;
    }
    if message.contains("dimension type") {
        return "dimension-types";
    }
    "settings"
}

/// Every problem the core finds with `settings` (`field: message`), for `config check`.
pub fn settings_problems(
    core: &CoreRuntime,
    settings: &orders::Settings,
    mapping: &[mapping::MappingRow],
) -> Result<Vec<String>> {
    let mut errors = Errors::default();
    core_settings_errors(core, settings, mapping, &mut errors)?;
    Ok(errors
        .0
        .into_iter()
        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
        .collect())
}

/// Plans the sample order with `settings` and the mapping in force, and reports every
/// `invalid-settings` the core finds: each one found is set to a harmless value and the plan is
/// run again, so all of them are listed, not only the first.
fn core_settings_errors(
    core: &CoreRuntime,
    settings: &orders::Settings,
    mapping: &[mapping::MappingRow],
    errors: &mut Errors,
) -> Result<()> {
    let mut s = settings.clone();
    let mut rows = mapping.to_vec();
    rows.push(mapping::MappingRow {
        key: mapping::MappingKey::Default,
        item_code: "SAMPLE".into(),
        sales_unit: None,
        gl_account: None,
        dimensions: Vec::new(),
        site: None,
    });
    rows.push(mapping::MappingRow {
        key: mapping::MappingKey::Shipping("flat_rate".into()),
        item_code: "SAMPLE".into(),
        sales_unit: None,
        gl_account: None,
        dimensions: Vec::new(),
        site: None,
    });
    let known = orders::KnownState {
        customer_code: None,
    };
    for _ in 0..16 {
        let outcome = core
            .orders()
            .plan(SAMPLE_ORDER.as_bytes(), &rows, &s, &known)?;
        let Err(orders::Error::InvalidSettings(message)) = outcome else {
            return Ok(());
        };
        let field = core_field(&message);
        errors.add(&field, message);
        if let Some(key) = field.strip_prefix("x3-wire.") {
            // Without that override the rest can still be checked.
            let before = s.wire.len();
            s.wire.retain(|(k, _)| k != key);
            if s.wire.len() == before {
                return Ok(());
            }
            continue;
        }
        match field.strip_prefix("orders.").unwrap_or("") {
            "store-id" => s.store_id = "X".into(),
            "reference-prefix" => s.reference_prefix = "WC-".into(),
            "customer-prefix" => s.customer_prefix = String::new(),
            "sales-site" => s.sales_site = "X".into(),
            "shipment-site" => s.shipment_site = String::new(),
            "order-type" => s.order_type = "X".into(),
            "invoice-type" => s.invoice_type = "X".into(),
            "currency-decimals" => s.currency_decimals = 2,
            "customer-category" => s.customer_category = "X".into(),
            "dimension-types" => {
                s.dimension_types.clear();
                rows.iter_mut().for_each(|r| r.dimensions.clear());
            }
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Whether a client's settings error is about the CA file (the clients say "CA file" or
/// "ca_file", or name the certificate).
fn is_ca_problem(m: &str) -> bool {
    m.contains("CA file") || m.contains("ca_file") || m.contains("certificate")
}

/// A candidate configuration, checked whole; what applying it needs.
struct Candidate {
    config: Config,
    settings: orders::Settings,
    status_map: Option<Vec<inventory::StatusRule>>,
    x3: Option<crate::clients::x3::X3Client>,
    woo: Option<crate::clients::woo::WooClient>,
}

/// Applies `doc` to the configuration in force and validates the result with every rule there
/// is: form, auth completeness, the clients' own checks, the core's settings and status map.
fn validate(ctx: &Ctx, doc: &Value) -> Result<std::result::Result<Candidate, Errors>> {
    let mut errors = Errors::default();
    let mut config = ctx.admin.config();
    let status_map = apply(&mut config, doc, &mut errors);
    if errors.is_empty() {
        check_connection(&config, &mut errors);
    }
    let touched = |s: &str| doc.get(s).is_some();
    let mut x3 = None;
    if !errors.has("x3") && touched("x3") {
        match crate::clients::x3_client(&config) {
            Ok(c) => x3 = Some(c),
            Err(e) => {
                let m = format!("{e:#}");
                let field = if m.contains("folder") {
                    "x3.folder"
                } else if is_ca_problem(&m) {
                    "x3.ca-file"
                } else {
                    "x3.base-url"
                };
                errors.add(field, m);
            }
        }
    }
    let mut woo = None;
    if !errors.has("woocommerce") && touched("woocommerce") {
        match crate::clients::woo_client(&config) {
            Ok(c) => woo = Some(c),
            Err(e) => {
                let m = format!("{e:#}");
                let field = if is_ca_problem(&m) {
                    "woocommerce.ca-file"
                } else {
                    "woocommerce.url"
                };
                errors.add(field, m);
            }
        }
    }
    if let Some(map) = &status_map {
        let verdict = ctx.core.inventory().validate_status_map(map)?;
        if let Err(e) = verdict {
            let m = match e {
                inventory::Error::InvalidStatusMap(m)
                | inventory::Error::InvalidRefund(m)
                | inventory::Error::InvalidOrder(m)
                | inventory::Error::InvalidSettings(m) => m,
            };
            errors.add("inventory.status-map", m);
        }
    }
    let settings = match crate::config::orders::order_settings(&ctx.core, &config) {
        Ok(s) => s,
        Err(e) => {
            errors.add("orders", format!("{e:#}"));
            return Ok(Err(errors));
        }
    };
    let mapping = ctx
        .pipeline
        .mapping
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    // What the core finds wrong with the result. A setting still incomplete before this change
    // (a site not set yet) does not refuse a change elsewhere — the merchant fills the settings
    // in several saves, and a webhook-secret rotation must not wait for them; a problem the
    // change makes, or one in a field it sets, does.
    let mut after = Errors::default();
    core_settings_errors(&ctx.core, &settings, &mapping, &mut after)?;
    let mut before = Errors::default();
    let in_force = crate::jobs::pipeline::current(&ctx.pipeline.settings);
    core_settings_errors(&ctx.core, &in_force, &mapping, &mut before)?;
    for (field, message) in after.0 {
        let sets_it = field
            .split_once('.')
            .is_some_and(|(section, name)| doc.get(section).and_then(|s| s.get(name)).is_some());
        if sets_it || before.0.get(&field) != Some(&message) {
            errors.0.entry(field).or_insert(message);
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(Candidate {
        config,
        settings,
        status_map,
        x3,
        woo,
    }))
}

/// The overrides kept in `kv`, with `doc` merged in (secrets in the `{"set": …}` form kept as
/// they were).
fn merged_overrides(stored: Option<String>, doc: &Value) -> Result<Value> {
    let mut out: Map<String, Value> = match stored {
        Some(text) => serde_json::from_str(&text).context("the stored settings")?,
        None => Map::new(),
    };
    if let Some(doc) = doc.as_object() {
        for (section, fields) in doc {
            let Some(fields) = fields.as_object() else {
                continue;
            };
            let slot = out.entry(section.clone()).or_insert_with(|| json!({}));
            let Some(slot) = slot.as_object_mut() else {
                continue;
            };
            for (name, v) in fields {
                if v.is_object() {
                    // `{"set": true}`: a secret left as it is.
                    continue;
                }
                slot.insert(name.clone(), v.clone());
            }
        }
    }
    Ok(Value::Object(out))
}

/// The names of the settings a document sets, for the log (never the values).
fn field_names(doc: &Value) -> String {
    let mut names = Vec::new();
    if let Some(doc) = doc.as_object() {
        for (section, fields) in doc {
            if let Some(fields) = fields.as_object() {
                for (name, v) in fields {
                    if !v.is_object() {
                        names.push(format!("{section}.{name}"));
                    }
                }
            }
        }
    }
    names.join(", ")
}

/// A new webhook secret starts a rotation: unless the document says otherwise, the secret it
/// replaces stays accepted as `webhook-secret-previous` (deliveries signed before WooCommerce
/// has the new one still verify), until that is set to `null`.
fn with_rotation(doc: &Value, cfg: &Config) -> Value {
    let mut doc = doc.clone();
    let Some(woo) = doc.get_mut("woocommerce").and_then(Value::as_object_mut) else {
        return doc;
    };
    let new = woo.get("webhook-secret").and_then(Value::as_str);
    if new.is_some_and(|n| n != cfg.webhook_secret.expose())
        && !woo.contains_key("webhook-secret-previous")
    {
        woo.insert(
            "webhook-secret-previous".into(),
            json!(cfg.webhook_secret.expose()),
        );
    }
    doc
}

fn put_settings(ctx: &Ctx, doc: &Value) -> Result<Answer> {
    let _writing = ctx.admin.writing.lock().unwrap_or_else(|e| e.into_inner());
    let doc = &with_rotation(doc, &ctx.admin.config());
    let cand = match validate(ctx, doc)? {
        Ok(c) => c,
        Err(errors) => return Ok(errors.answer()),
    };
    // Stored first: if the store fails, nothing has changed.
    let merged = merged_overrides(ctx.store.kv_get(KV_SETTINGS)?, doc)?;
    ctx.store.kv_set(KV_SETTINGS, &merged.to_string())?;
    let p = &ctx.pipeline;
    *p.settings.write().unwrap_or_else(|e| e.into_inner()) = cand.settings;
    if let Some(map) = cand.status_map {
        *p.status_map.write().unwrap_or_else(|e| e.into_inner()) = map;
    }
    if let Some(x3) = cand.x3 {
        p.set_x3(Arc::new(x3));
    }
    if let Some(woo) = cand.woo {
        p.set_woo(Arc::new(woo));
    }
    ctx.lifecycle.set_delivery_url(cand.config.delivery_url());
    ctx.lifecycle.set_secret(cand.config.webhook_secret.clone());
    ctx.intake.secret.set(
        cand.config.webhook_secret.clone(),
        cand.config.webhook_secret_previous.clone(),
    );
    *ctx.admin.config.write().unwrap_or_else(|e| e.into_inner()) = cand.config;
    // A setting (a guest customer, a site) may be what held orders waited for.
    let released = ctx.store.requeue_held()?;
    p.notify();
    info!(
        "admin API: settings changed ({}); {released} held order(s) queued again",
        field_names(doc)
    );
    get_settings(ctx)
}

/// The names of the settings stored through the admin API (`x3.base-url`, …), sorted; none when
/// nothing was saved there.
pub fn stored_setting_names(store: &Store) -> Result<Vec<String>> {
    let Some(text) = store.kv_get(KV_SETTINGS)? else {
        return Ok(Vec::new());
    };
    let doc: Value = serde_json::from_str(&text).context("the settings stored by the admin API")?;
    let mut names: Vec<String> = doc
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(section, fields)| {
            fields
                .as_object()
                .into_iter()
                .flatten()
                .map(move |(name, _)| format!("{section}.{name}"))
        })
        .collect();
    names.sort();
    Ok(names)
}

/// The config file's configuration with the settings stored through the admin API applied, and
/// the stored status map if there is one: what `serve` starts with.
pub fn stored_config(
    store: &Store,
    cfg: &Config,
) -> Result<(Config, Option<Vec<inventory::StatusRule>>)> {
    let mut cfg = cfg.clone();
    let Some(text) = store.kv_get(KV_SETTINGS)? else {
        return Ok((cfg, None));
    };
    let doc: Value = serde_json::from_str(&text).context("the settings stored by the admin API")?;
    let mut errors = Errors::default();
    let map = apply(&mut cfg, &doc, &mut errors);
    if !errors.is_empty() {
        bail!(
            "the settings stored by the admin API no longer apply: {}",
            errors.summary()
        );
    }
    Ok((cfg, map))
}

// ---------------------------------------------------------------------------------------------
// Mapping

fn row_json(r: &mapping::MappingRow) -> Value {
    use mapping::MappingKey as K;
    let (key_type, key) = match &r.key {
        K::Variation(id) => ("variation", id.to_string()),
        K::Product(id) => ("product", id.to_string()),
        K::Sku(s) => ("sku", s.clone()),
        K::Shipping(s) => ("shipping", s.clone()),
        K::Fee(s) => ("fee", s.clone()),
        K::Default => ("default", String::new()),
    };
    let dims: Map<String, Value> = r
        .dimensions
        .iter()
        .map(|d| (d.dimension_type.clone(), json!(d.value)))
        .collect();
    json!({
        "key_type": key_type,
        "key": key,
        "item_code": r.item_code,
        "sales_unit": r.sales_unit.clone().unwrap_or_default(),
        "gl_account": r.gl_account.clone().unwrap_or_default(),
        "dimensions": dims,
        "site": r.site.clone().unwrap_or_default(),
    })
}

fn get_mapping(ctx: &Ctx, csv: bool) -> Result<Answer> {
    let rows = ctx
        .pipeline
        .mapping
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if csv {
        let text = ctx.core.mapping().to_csv(&rows)?;
        let mut a = Answer {
            status: 200,
            content_type: "text/csv; charset=utf-8",
            body: text.into_bytes(),
            headers: Vec::new(),
        };
        a.headers.push((
            "Content-Disposition".into(),
            "attachment; filename=\"ml-connector-mapping.csv\"".into(),
        ));
        return Ok(a);
    }
    Ok(Answer::json(
        200,
        &Value::Array(rows.iter().map(row_json).collect()),
    ))
}

fn put_mapping(ctx: &Ctx, content_type: &str, body: &[u8]) -> Result<Answer> {
    let Ok(text) = std::str::from_utf8(body) else {
        let mut e = Errors::default();
        e.add("table", "not UTF-8 text");
        return Ok(e.answer());
    };
    let _writing = ctx.admin.writing.lock().unwrap_or_else(|e| e.into_inner());
    let dims = ctx
        .pipeline
        .settings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .dimension_types
        .clone();
    let json = if content_type.contains("json") {
        true
    } else if content_type.contains("csv") {
        false
    } else {
        text.trim_start().starts_with('[')
    };
    let parsed = if json {
        ctx.core.mapping().parse_json(text, &dims)?
    } else {
        ctx.core.mapping().parse_csv(text, &dims)?
    };
    let rows = match parsed {
        Ok(rows) => rows,
        Err(mapping::Error::InvalidRows(rows)) => {
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| json!({ "row": r.row, "field": r.field, "message": r.message }))
                .collect();
            return Ok(Answer::json(422, &json!({ "errors": { "rows": rows } })));
        }
        Err(mapping::Error::Malformed(m)) => {
            let mut e = Errors::default();
            e.add("table", m);
            return Ok(e.answer());
        }
    };
    let csv = ctx.core.mapping().to_csv(&rows)?;
    ctx.store.kv_set("mapping", &csv)?;
    let count = rows.len();
    *ctx.pipeline
        .mapping
        .write()
        .unwrap_or_else(|e| e.into_inner()) = rows;
    let released = ctx.store.requeue_held()?;
    ctx.pipeline.notify();
    info!(
        "admin API: mapping table replaced ({count} rows); {released} held order(s) queued again"
    );
    Ok(Answer::json(
        200,
        &json!({ "rows": count, "released": released }),
    ))
}

fn entry_json(e: &mapping::CatalogueEntry) -> Value {
    json!({
        "product-id": e.product_id,
        "variation-id": e.variation_id,
        "sku": e.sku,
        "name": e.name,
    })
}

fn coverage(ctx: &Ctx) -> Result<Answer> {
    let catalogue = match ctx.pipeline.woo().catalogue() {
        Ok(c) => c,
        Err(e) => {
            return Ok(Answer::json(
                502,
                &json!({ "error": format!("reading the catalogue from WooCommerce failed: {e}") }),
            ));
        }
    };
    let entries: Vec<mapping::CatalogueEntry> = catalogue
        .into_iter()
        .map(|c| mapping::CatalogueEntry {
            product_id: c.product_id,
            variation_id: c.variation_id,
            sku: c.sku,
            name: c.name,
        })
        .collect();
    let rows = ctx
        .pipeline
        .mapping
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let report = ctx.core.mapping().coverage(&rows, &entries)?;
    Ok(Answer::json(
        200,
        &json!({
            "total": report.total,
            "mapped": report.mapped,
            "unmapped": report.unmapped.iter().map(entry_json).collect::<Vec<_>>(),
            "by-default": report.by_default.iter().map(entry_json).collect::<Vec<_>>(),
        }),
    ))
}

// ---------------------------------------------------------------------------------------------
// Orders

/// `{"orders": [ids]}` read strictly: every element a positive integer.
fn order_ids(v: &Value, errors: &mut Errors) -> Option<Vec<u64>> {
    let Some(items) = v.as_array() else {
        errors.add("orders", "a list of order ids expected");
        return None;
    };
    let mut ids = Vec::new();
    for item in items {
        match item.as_u64() {
            Some(id) if id > 0 => ids.push(id),
            _ => {
                errors.add("orders", format!("{item} is not an order id"));
                return None;
            }
        }
    }
    if ids.is_empty() {
        errors.add("orders", "no order ids given");
        return None;
    }
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

/// The orders among `ids` the store does not know.
fn unknown_orders(store: &Store, ids: &[u64]) -> Result<Vec<u64>> {
    let mut unknown = Vec::new();
    for id in ids {
        if store.load_order(*id)?.is_none() {
            unknown.push(*id);
        }
    }
    Ok(unknown)
}

fn list(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn only_keys(body: &Value, keys: &[&str], errors: &mut Errors) {
    match body.as_object() {
        Some(o) => {
            for k in o.keys().filter(|k| !keys.contains(&k.as_str())) {
                errors.add(k.as_str(), "unknown field");
            }
        }
        None => errors.add("body", "a JSON object expected"),
    }
}

fn release_holds(ctx: &Ctx, body: &Value) -> Result<Answer> {
    let mut errors = Errors::default();
    only_keys(body, &["orders"], &mut errors);
    if !errors.is_empty() {
        return Ok(errors.answer());
    }
    let released = match body.get("orders") {
        None => ctx.store.requeue_held()?,
        Some(v) => {
            let Some(ids) = order_ids(v, &mut errors) else {
                return Ok(errors.answer());
            };
            let unknown = unknown_orders(&ctx.store, &ids)?;
            let mut not_held = Vec::new();
            for id in &ids {
                if let Some(row) = ctx.store.load_order(*id)?
                    && row.state != "held"
                {
                    not_held.push(format!("{id} ({})", row.state));
                }
            }
            let mut problems = Vec::new();
            if !unknown.is_empty() {
                problems.push(format!("no such order: {}", list(&unknown)));
            }
            if !not_held.is_empty() {
                problems.push(format!("not on hold: {}", not_held.join(", ")));
            }
            if !problems.is_empty() {
                errors.add("orders", problems.join("; "));
                return Ok(errors.answer());
            }
            for id in &ids {
                ctx.store
                    .timeline_add(*id, "released", "hold released through the admin API")?;
            }
            ctx.store.requeue(&ids)?
        }
    };
    ctx.pipeline.notify();
    info!("admin API: {released} held order(s) queued again");
    Ok(Answer::json(200, &json!({ "released": released })))
}

/// States a replay by state may name: where an order waits for a person.
const REPLAY_STATES: [&str; 4] = ["attention", "failed", "held", "retrying"];

fn replay(ctx: &Ctx, body: &Value) -> Result<Answer> {
    let mut errors = Errors::default();
    only_keys(body, &["orders", "state"], &mut errors);
    if !errors.is_empty() {
        return Ok(errors.answer());
    }
    let ids = match (body.get("orders"), body.get("state")) {
        (Some(v), None) => {
            let Some(ids) = order_ids(v, &mut errors) else {
                return Ok(errors.answer());
            };
            let unknown = unknown_orders(&ctx.store, &ids)?;
            if !unknown.is_empty() {
                errors.add("orders", format!("no such order: {}", list(&unknown)));
                return Ok(Answer::json(
                    422,
                    &json!({ "errors": errors.0, "unknown": unknown }),
                ));
            }
            ids
        }
        (None, Some(state)) => {
            let state = match one_of(state, &REPLAY_STATES) {
                Ok(s) => s,
                Err(m) => {
                    errors.add("state", m);
                    return Ok(errors.answer());
                }
            };
            ctx.store
                .orders_in_state(state, MAX_REPLAY)?
                .into_iter()
                .map(|r| r.order_id)
                .collect()
        }
        _ => {
            errors.add("orders", "give either orders (a list of ids) or state");
            return Ok(errors.answer());
        }
    };
    for id in &ids {
        ctx.store
            .timeline_add(*id, "replay", "queued again through the admin API")?;
    }
    let requeued = ctx.store.requeue(&ids)?;
    ctx.pipeline.notify();
    info!("admin API: {requeued} order(s) queued again (replay)");
    Ok(Answer::json(
        200,
        &json!({ "requeued": requeued, "orders": ids }),
    ))
}

fn order_summary(r: &OrderRow) -> Value {
    json!({
        "id": r.order_id,
        "state": r.state,
        "status": r.status,
        "document-no": r.document_no,
        "customer-code": r.customer_code,
        "last-error": r.last_error,
        "attempts": r.attempts,
        "updated-at": r.updated_at,
    })
}

fn list_orders(ctx: &Ctx, query: &str) -> Result<Answer> {
    let mut errors = Errors::default();
    let mut state = None;
    let mut limit = 100usize;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "state" => {
                if v.is_empty()
                    || v.len() > 32
                    || !v.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                {
                    errors.add("state", "a state name like attention, held, posted");
                } else {
                    state = Some(v.into_owned());
                }
            }
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => limit = n,
                _ => errors.add("limit", "a whole number from 1 to 1000 expected"),
            },
            other => errors.add(other, "unknown parameter"),
        }
    }
    if !errors.is_empty() {
        return Ok(errors.answer());
    }
    let rows = match &state {
        Some(s) => ctx.store.orders_in_state(s, limit)?,
        None => ctx.store.recent_orders(limit)?,
    };
    Ok(Answer::json(
        200,
        &json!({ "orders": rows.iter().map(order_summary).collect::<Vec<_>>() }),
    ))
}

fn show_order(ctx: &Ctx, id: &str) -> Result<Answer> {
    let not_found = || Answer::json(404, &json!({ "error": format!("no order {id}") }));
    let Ok(order_id) = id.parse::<u64>() else {
        return Ok(not_found());
    };
    let Some(row) = ctx.store.load_order(order_id)? else {
        return Ok(not_found());
    };
    let mut v = order_summary(&row);
    let hold = row
        .hold
        .as_deref()
        .and_then(|h| serde_json::from_str::<Value>(h).ok());
    let timeline: Vec<Value> = ctx
        .store
        .timeline(order_id)?
        .into_iter()
        .map(|t| json!({ "at": t.at, "event": t.event, "detail": t.detail }))
        .collect();
    let ledger: Vec<Value> = ctx
        .store
        .ledger_for_order(order_id)?
        .into_iter()
        .map(|l| {
            json!({
                "idempotency-key": l.idempotency_key,
                "kind": l.kind,
                "reference": l.reference,
                "state": l.state,
                "x3-key": l.x3_key,
                "attempts": l.attempts,
            })
        })
        .collect();
    if let Some(o) = v.as_object_mut() {
        o.insert("trashed".into(), json!(row.trashed));
        o.insert("queued".into(), json!(row.dirty));
        o.insert("next-attempt-at".into(), json!(row.next_attempt_at));
        o.insert("hold".into(), hold.unwrap_or(Value::Null));
        o.insert("timeline".into(), Value::Array(timeline));
        o.insert("ledger".into(), Value::Array(ledger));
        o.insert(
            "x3".into(),
            crate::jobs::x3poll::order_json(&ctx.store, order_id)?,
        );
    }
    Ok(Answer::json(200, &v))
}

// ---------------------------------------------------------------------------------------------
// Connection test

fn test_connection(ctx: &Ctx, body: &Value) -> Result<Answer> {
    let empty = body.as_object().is_none_or(Map::is_empty);
    let (x3, woo) = if empty {
        (ctx.pipeline.x3(), ctx.pipeline.woo())
    } else {
        // Settings not saved yet: test them as they would be, change nothing.
        let cand = match validate(ctx, body)? {
            Ok(c) => c,
            Err(errors) => return Ok(errors.answer()),
        };
        (
            cand.x3.map_or_else(|| ctx.pipeline.x3(), Arc::new),
            cand.woo.map_or_else(|| ctx.pipeline.woo(), Arc::new),
        )
    };
    // Both at once: each may take up to its client's timeout.
    let (x3_verdict, woo_verdict) = std::thread::scope(|s| {
        let w = s.spawn(|| woo.ping().map_err(|e| e.to_string()));
        let x = x3.ping().map_err(|e| e.to_string());
        (
            x,
            w.join().unwrap_or_else(|_| Err("the test failed".into())),
        )
    });
    let verdict = |r: std::result::Result<String, String>| match r {
        Ok(m) => json!({ "ok": true, "message": m }),
        Err(m) => json!({ "ok": false, "message": m }),
    };
    Ok(Answer::json(
        200,
        &json!({ "x3": verdict(x3_verdict), "woocommerce": verdict(woo_verdict) }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(same_token("abc123", "abc123"));
        assert!(!same_token("abc124", "abc123"));
        assert!(!same_token("abc12", "abc123"));
        assert!(!same_token("", "abc123"));
    }

    #[test]
    fn the_token_file_is_created_0600_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("mlc-admin-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let first = load_or_create_token(&dir).expect("created");
        assert_eq!(first.expose().len(), 64);
        assert!(first.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        let mode = std::fs::metadata(dir.join(TOKEN_FILE))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create_token(&dir).expect("read");
        assert_eq!(first.expose(), again.expose());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn scrub_blanks_secrets_in_json_answers() {
        let a = Answer::json(200, &json!({ "message": "failed with pw-s3cret-9 inside" }));
        let a = scrub(a, &["pw-s3cret-9".into(), "abc".into()]);
        let text = String::from_utf8(a.body).expect("utf8");
        assert!(!text.contains("pw-s3cret-9"), "{text}");
    }

    #[test]
    fn core_messages_name_their_field() {
        assert_eq!(
            core_field("sales-site \"\": 1 to 5 characters of the allowed set"),
            "orders.sales-site"
        );
        assert_eq!(
            core_field(
                "mapping row sku:X uses dimension type \"Q\", which is not in dimension-types"
            ),
            "orders.dimension-types"
        );
        assert_eq!(
            core_field("customer-category is needed to create customers in X3"),
            "orders.customer-category"
        );
        assert_eq!(
            core_field("x3.wire.rest.order.class: \"A B\" is not a class"),
            "x3-wire.rest.order.class"
        );
        assert_eq!(
            core_field("x3.wire: unknown name \"rest.order.klass\" (docs/…)"),
            "x3-wire.rest.order.klass"
        );
    }
}

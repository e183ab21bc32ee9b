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
use crate::store::{OrderRow, OrderState, Store};

pub mod jobs;
mod mapping_table;
mod order_actions;
mod settings;

use mapping_table::*;
use order_actions::*;
use settings::*;
pub use settings::{settings_problems, stored_config, stored_setting_names};

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
            crate::http::admin::jobs::reconcile(ctx, query, header("accept").contains("text/csv"))
        }
        ("POST", "/api/admin/test-connection") => match read_json(req) {
            Ok(body) => test_connection(ctx, &body),
            Err(a) => Ok(a),
        },
        ("GET", "/api/admin/webhooks") => Ok(crate::http::admin::jobs::webhooks(ctx)),
        ("POST", "/api/admin/webhooks/register") => Ok(crate::http::admin::jobs::register(ctx)),
        ("POST", "/api/admin/backfill") => match read_json(req) {
            Ok(body) => Ok(crate::http::admin::jobs::backfill(ctx, &body)),
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
    fn core_fields_become_the_documents_names() {
        assert_eq!(document_field("sales-site"), "orders.sales-site");
        assert_eq!(document_field("dimension-types"), "orders.dimension-types");
        assert_eq!(
            document_field("wire.rest.order.class"),
            "x3-wire.rest.order.class"
        );
    }
}

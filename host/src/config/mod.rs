//! The configuration file (TOML) of `ml-connector serve`, and secrets.
//!
//! A secret may be written inline, or — better — read from a file (`{ file = "/etc/…" }`) or an
//! environment variable (`{ env = "NAME" }`), so the file itself can be world-readable. Once
//! loaded, a secret is a [`Secret`], whose `Debug` and `Display` print `***`: it cannot reach a
//! log line, an error message or a status page by accident.

pub mod master;
pub mod orders;
pub mod reconcile;
pub mod stock;
pub mod x3poll;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// A secret value. Only [`Secret::expose`] gives the text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "(unset)" } else { "***" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Where a secret comes from, as written in the file.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    Inline(String),
    File { file: PathBuf },
    Env { env: String },
}

/// Regression: the derived `Debug` printed inline secrets through `Config`'s `Debug`.
impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(***)"),
            SecretSource::File { file } => write!(f, "File({})", file.display()),
            SecretSource::Env { env } => write!(f, "Env({env})"),
        }
    }
}

impl SecretSource {
    fn load(&self, base: &Path, what: &str) -> Result<Secret> {
        match self {
            SecretSource::Inline(v) => Ok(Secret::new(v.clone())),
            SecretSource::File { file } => {
                let path = base.join(file);
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("{what}: reading {}", path.display()))?;
                // Editors add a final newline; a secret never ends with one.
                Ok(Secret::new(text.trim_end_matches(['\n', '\r']).to_string()))
            }
            SecretSource::Env { env } => std::env::var(env)
                .map(Secret::new)
                .with_context(|| format!("{what}: environment variable {env} is not set")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiMode {
    Rest,
    Graphql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    Basic,
    ConnectedApp,
    Oauth2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct X3File {
    pub base_url: String,
    pub folder: String,
    #[serde(default = "default_api")]
    pub api: ApiMode,
    #[serde(default = "default_auth")]
    pub auth: AuthMode,
    pub user: Option<String>,
    pub password: Option<SecretSource>,
    pub client_id: Option<String>,
    pub secret: Option<SecretSource>,
    pub jwt_user: Option<String>,
    #[serde(default)]
    pub audience: String,
    #[serde(default = "default_jwt_lifetime")]
    pub jwt_lifetime_secs: u64,
    /// Connected app: `iat` this many seconds in the past, for a host clock ahead of X3's
    /// (X3 refuses a JWT issued in the future, error 21). `exp` moves back too: the token lives
    /// `jwt-lifetime-secs - jwt-iat-backdate-secs` from now.
    #[serde(default)]
    pub jwt_iat_backdate_secs: u64,
    pub token_url: Option<String>,
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret: Option<SecretSource>,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_x3_timeout")]
    pub timeout_secs: u64,
    /// Requests to X3 at once: on-premise X3 serves web services from a small pool.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// `[x3.wire]`: the site's own X3 names (custom classes, representations, fields), by key
    /// (docs/x3-wire-format.md). Checked by the core, which knows every key.
    #[serde(default)]
    pub wire: WireOverrides,
}

/// `[x3.wire]` flattened: nested tables and dotted keys both give `rest.order.class`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireOverrides(pub BTreeMap<String, String>);

impl WireOverrides {
    /// As the core takes them.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl<'de> Deserialize<'de> for WireOverrides {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        fn flatten(
            prefix: &str,
            t: &toml::Table,
            out: &mut BTreeMap<String, String>,
        ) -> std::result::Result<(), String> {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    toml::Value::String(s) => {
                        out.insert(key, s.clone());
                    }
                    toml::Value::Table(inner) => flatten(&key, inner, out)?,
                    _ => return Err(format!("x3.wire.{key}: a name (a string) expected")),
                }
            }
            Ok(())
        }
        let t = toml::Table::deserialize(d)?;
        let mut out = BTreeMap::new();
        flatten("", &t, &mut out).map_err(serde::de::Error::custom)?;
        Ok(WireOverrides(out))
    }
}

fn default_api() -> ApiMode {
    ApiMode::Rest
}
fn default_auth() -> AuthMode {
    AuthMode::Basic
}
fn default_jwt_lifetime() -> u64 {
    // Sage's sample mints 60-second tokens; X3 rejects exp − iat above the app's validity.
    60
}
fn default_x3_timeout() -> u64 {
    30
}
fn default_concurrency() -> usize {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WooFile {
    /// The site's home URL (`https://shop.example/`).
    pub url: String,
    pub consumer_key: String,
    pub consumer_secret: SecretSource,
    /// The secret our webhooks are registered with.
    pub webhook_secret: SecretSource,
    /// During a rotation, the secret before it: deliveries signed with either are accepted.
    #[serde(default)]
    pub webhook_secret_previous: Option<SecretSource>,
    #[serde(default)]
    pub auth: Option<String>,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_woo_timeout")]
    pub timeout_secs: u64,
    /// Where WooCommerce delivers our webhooks: this host as the shop reaches it, path
    /// `/webhooks/woocommerce` included. Default `http://<listen>/webhooks/woocommerce`.
    #[serde(default)]
    pub delivery_url: Option<String>,
}

fn default_woo_timeout() -> u64 {
    30
}

/// The store's webhooks: which ones `webhooks register` creates, and the monitor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WebhooksFile {
    /// How often the monitor reads the webhooks' status (0: never).
    #[serde(default = "default_monitor_interval")]
    pub monitor_interval_secs: u64,
    /// Re-enable a disabled or paused webhook of ours and catch up the gap.
    #[serde(default = "default_true")]
    pub repair: bool,
    /// Also register `customer.*` and `product.*` (master-data sync).
    #[serde(default)]
    pub master_data: bool,
}

fn default_monitor_interval() -> u64 {
    300
}
fn default_true() -> bool {
    true
}

impl Default for WebhooksFile {
    fn default() -> Self {
        WebhooksFile {
            monitor_interval_secs: default_monitor_interval(),
            repair: true,
            master_data: false,
        }
    }
}

/// Catch-up polling: orders modified since the watermark, read over REST.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CatchUpFile {
    /// How often to poll (0: only on demand, `backfill` and after a webhook repair).
    #[serde(default = "default_catch_up_interval")]
    pub interval_secs: u64,
    /// Each poll starts this long before the newest modification it saw last time.
    #[serde(default = "default_overlap")]
    pub overlap_secs: u64,
}

fn default_catch_up_interval() -> u64 {
    600
}
fn default_overlap() -> u64 {
    300
}

impl Default for CatchUpFile {
    fn default() -> Self {
        CatchUpFile {
            interval_secs: default_catch_up_interval(),
            overlap_secs: default_overlap(),
        }
    }
}

/// Defaults for the documents: the core's settings, all optional here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OrdersFile {
    pub store_id: Option<String>,
    pub reference_prefix: Option<String>,
    pub customer_prefix: Option<String>,
    pub guest_customer: Option<String>,
    pub sales_site: Option<String>,
    pub shipment_site: Option<String>,
    pub order_type: Option<String>,
    pub invoice_type: Option<String>,
    pub customer_category: Option<String>,
    /// `order` or `invoice`.
    pub document_kind: Option<String>,
    /// `net` or `gross`.
    pub price_basis: Option<String>,
    pub default_sales_unit: Option<String>,
    pub currency_decimals: Option<u8>,
    pub dimension_types: Option<Vec<String>>,
    /// A mapping table (CSV or JSON by extension) loaded at start when the store has none.
    pub mapping_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RetryFile {
    #[serde(default = "default_base_backoff_ms")]
    pub base_backoff_ms: u64,
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
    /// Give up after this long (0: never). Transient failures only: X3 being down for a
    /// weekend must not lose an order.
    #[serde(default)]
    pub horizon_secs: u64,
}

fn default_base_backoff_ms() -> u64 {
    1000
}
fn default_max_backoff_secs() -> u64 {
    300
}

impl Default for RetryFile {
    fn default() -> Self {
        RetryFile {
            base_backoff_ms: default_base_backoff_ms(),
            max_backoff_secs: default_max_backoff_secs(),
            horizon_secs: 0,
        }
    }
}

/// The status page (`/status`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StatusFile {
    /// Origins allowed to show the page in a frame (the WordPress admin), besides the host
    /// itself: `["https://shop.example"]`. Sent as CSP `frame-ancestors`.
    #[serde(default)]
    pub frame_origins: Vec<String>,
    /// A token for `/metrics` only (a Prometheus scrape job's `authorization`), besides the read
    /// and admin tokens.
    #[serde(default)]
    pub metrics_token: Option<SecretSource>,
}

/// An origin is `scheme://host[:port]` and nothing else: it is copied into a header.
fn check_origin(o: &str) -> Result<()> {
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
        .unwrap_or("");
    let ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        bail!("status.frame-origins: {o:?} is not an origin like \"https://shop.example\"");
    }
    Ok(())
}

/// A delivery URL is an absolute http(s) URL with a host; WooCommerce refuses anything else.
pub fn check_delivery_url(u: &str) -> Result<()> {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .unwrap_or("");
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || u.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!(
            "woocommerce.delivery-url: {u:?} is not a URL like \
             \"https://connector.shop.example/webhooks/woocommerce\""
        );
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    #[serde(default = "default_listen")]
    pub listen: String,
    pub data_dir: PathBuf,
    /// Largest webhook body accepted (bytes).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    pub x3: X3File,
    pub woocommerce: WooFile,
    #[serde(default)]
    pub orders: OrdersFile,
    #[serde(default)]
    pub retry: RetryFile,
    #[serde(default)]
    pub status: StatusFile,
    #[serde(default)]
    pub webhooks: WebhooksFile,
    #[serde(default)]
    pub catch_up: CatchUpFile,
    /// Present: X3 is polled for changes (docs/x3-polling.md).
    #[serde(default, rename = "x3-poll")]
    pub x3_poll: Option<crate::config::x3poll::X3PollFile>,
    #[serde(default)]
    pub reconcile: crate::config::reconcile::ReconcileFile,
    /// The X3 actions after posting (docs/stock-and-refunds.md).
    #[serde(default)]
    pub stock: crate::config::stock::StockFile,
    /// Master data besides orders, each direction off by default (docs/master-data.md).
    #[serde(default, rename = "master-data")]
    pub master_data: crate::config::master::MasterDataFile,
}

fn default_listen() -> String {
    "127.0.0.1:8787".into()
}
fn default_max_body() -> usize {
    // A 500-line order is about 600 KB; 4 MB leaves room without inviting abuse.
    4 << 20
}

/// The configuration with secrets loaded and values checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub max_body_bytes: usize,
    pub x3: X3File,
    pub x3_password: Secret,
    pub x3_secret: Secret,
    pub x3_oauth_secret: Secret,
    pub woo: WooFile,
    pub woo_consumer_secret: Secret,
    pub webhook_secret: Secret,
    /// Accepted too while a rotation is under way (empty: no rotation).
    pub webhook_secret_previous: Secret,
    pub orders: OrdersFile,
    pub retry: RetryFile,
    pub status: StatusFile,
    /// `[status] metrics-token` (empty: `/metrics` takes the read or admin token only).
    pub metrics_token: Secret,
    pub webhooks: WebhooksFile,
    pub catch_up: CatchUpFile,
    pub x3_poll: Option<crate::config::x3poll::X3PollFile>,
    pub reconcile: crate::config::reconcile::ReconcileFile,
    pub stock: crate::config::stock::StockFile,
    pub master_data: crate::config::master::MasterDataFile,
    /// The directory relative paths are resolved against (the config file's).
    pub base_dir: PathBuf,
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&text, &base).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str, base: &Path) -> Result<Config> {
        let file: ConfigFile = toml::from_str(text)?;
        let listen: SocketAddr = file.listen.parse().with_context(|| {
            format!(
                "listen: {:?} is not an address like 127.0.0.1:8787",
                file.listen
            )
        })?;
        let load = |s: &Option<SecretSource>, what: &str| -> Result<Secret> {
            s.as_ref()
                .map(|s| s.load(base, what))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let x3_password = load(&file.x3.password, "x3.password")?;
        let x3_secret = load(&file.x3.secret, "x3.secret")?;
        let x3_oauth_secret = load(&file.x3.oauth_client_secret, "x3.oauth-client-secret")?;
        match file.x3.auth {
            AuthMode::Basic => {
                if file.x3.user.is_none() || x3_password.is_empty() {
                    bail!("x3: auth = \"basic\" needs user and password");
                }
            }
            AuthMode::ConnectedApp => {
                if file.x3.client_id.is_none() || x3_secret.is_empty() || file.x3.jwt_user.is_none()
                {
                    bail!("x3: auth = \"connected-app\" needs client-id, secret and jwt-user");
                }
                if file.x3.jwt_iat_backdate_secs >= file.x3.jwt_lifetime_secs {
                    bail!(
                        "x3: jwt-iat-backdate-secs must be less than jwt-lifetime-secs (the token would be expired when minted)"
                    );
                }
            }
            AuthMode::Oauth2 => {
                if file.x3.token_url.is_none()
                    || file.x3.oauth_client_id.is_none()
                    || x3_oauth_secret.is_empty()
                {
                    bail!(
                        "x3: auth = \"oauth2\" needs token-url, oauth-client-id and oauth-client-secret"
                    );
                }
            }
        }
        if file.x3.concurrency == 0 {
            bail!("x3.concurrency must be at least 1");
        }
        let woo_consumer_secret = file
            .woocommerce
            .consumer_secret
            .load(base, "woocommerce.consumer-secret")?;
        let webhook_secret = file
            .woocommerce
            .webhook_secret
            .load(base, "woocommerce.webhook-secret")?;
        if webhook_secret.is_empty() {
            bail!("woocommerce.webhook-secret is empty: no delivery could be verified");
        }
        let webhook_secret_previous = load(
            &file.woocommerce.webhook_secret_previous,
            "woocommerce.webhook-secret-previous",
        )?;
        for o in &file.status.frame_origins {
            check_origin(o)?;
        }
        let metrics_token = load(&file.status.metrics_token, "status.metrics-token")?;
        if !metrics_token.is_empty() && metrics_token.expose().len() < 16 {
            bail!("status.metrics-token: 16 characters or more (it guards shoppers' order counts)");
        }
        if let Some(u) = &file.woocommerce.delivery_url {
            check_delivery_url(u)?;
        }
        if let Some(p) = &file.x3_poll {
            p.check()?;
        }
        file.reconcile.check()?;
        file.master_data
            .check(file.x3_poll.as_ref(), file.webhooks.master_data)?;
        Ok(Config {
            listen,
            data_dir: base.join(&file.data_dir),
            max_body_bytes: file.max_body_bytes,
            x3: file.x3,
            x3_password,
            x3_secret,
            x3_oauth_secret,
            woo: file.woocommerce,
            woo_consumer_secret,
            webhook_secret,
            webhook_secret_previous,
            orders: file.orders,
            retry: file.retry,
            status: file.status,
            metrics_token,
            webhooks: file.webhooks,
            catch_up: file.catch_up,
            x3_poll: file.x3_poll,
            reconcile: file.reconcile,
            stock: file.stock,
            master_data: file.master_data,
            base_dir: base.to_path_buf(),
        })
    }

    /// Where WooCommerce delivers our webhooks.
    pub fn delivery_url(&self) -> String {
        match &self.woo.delivery_url {
            Some(u) if !u.trim().is_empty() => u.trim().to_string(),
            _ => format!("http://{}/webhooks/woocommerce", self.listen),
        }
    }

    pub fn x3_timeout(&self) -> Duration {
        Duration::from_secs(self.x3.timeout_secs.max(1))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
data-dir = "data"
[x3]
base-url = "http://127.0.0.1:8124"
folder = "SEED"
user = "admin"
password = "pw-inline"
[woocommerce]
url = "http://127.0.0.1:8080/"
consumer-key = "ck_x"
consumer-secret = { env = "PATH" }
webhook-secret = { file = "hook.secret" }
"#;

    #[test]
    fn secrets_come_from_inline_files_and_env_and_never_print() {
        let dir = std::env::temp_dir().join(format!("mlc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hook.secret"), "hook-s3cret\n").unwrap();
        let c = Config::parse(MINIMAL, &dir).unwrap();
        assert_eq!(c.webhook_secret.expose(), "hook-s3cret");
        // Read from the environment (PATH is set wherever tests run; set_var would need unsafe).
        assert_eq!(
            c.woo_consumer_secret.expose(),
            std::env::var("PATH").unwrap()
        );
        assert_eq!(c.x3_password.expose(), "pw-inline");
        assert_eq!(c.data_dir, dir.join("data"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:8787");
        let shown = format!("{c:?}");
        for secret in ["hook-s3cret", "pw-inline"] {
            assert!(!shown.contains(secret), "{secret} leaked into Debug");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_previous_webhook_secret_is_optional_and_loaded_like_the_others() {
        let dir = std::env::temp_dir();
        let c = Config::parse(
            &MINIMAL.replace("{ file = \"hook.secret\" }", "\"now\""),
            &dir,
        )
        .unwrap();
        assert!(c.webhook_secret_previous.is_empty());
        let rotating = MINIMAL
            .replace("{ file = \"hook.secret\" }", "\"now\"")
            .replace(
                "webhook-secret = \"now\"",
                "webhook-secret = \"now\"\nwebhook-secret-previous = \"before\"",
            );
        let c = Config::parse(&rotating, &dir).unwrap();
        assert_eq!(c.webhook_secret_previous.expose(), "before");
        assert!(!format!("{c:?}").contains("before"));
    }

    #[test]
    fn missing_pieces_are_named() {
        let dir = std::env::temp_dir();
        for (edit, want) in [
            (
                MINIMAL.replace("password = \"pw-inline\"", ""),
                "needs user and password",
            ),
            (
                MINIMAL.replace(
                    "webhook-secret = { file = \"hook.secret\" }",
                    "webhook-secret = \"\"",
                ),
                "webhook-secret is empty",
            ),
            (
                MINIMAL.replace("folder = \"SEED\"", "folder = \"SEED\"\nfoldr = 1"),
                "unknown field",
            ),
            (
                MINIMAL.replace(
                    "data-dir = \"data\"",
                    "data-dir = \"data\"\nlisten = \"localhost\"",
                ),
                "listen",
            ),
            (
                MINIMAL
                    .replace(
                        "consumer-secret = { env = \"PATH\" }",
                        "consumer-secret = { env = \"MLC_SURELY_UNSET\" }",
                    )
                    .replace(
                        "webhook-secret = { file = \"hook.secret\" }",
                        "webhook-secret = \"w\"",
                    ),
                "MLC_SURELY_UNSET is not set",
            ),
        ] {
            let err = format!("{:#}", Config::parse(&edit, &dir).unwrap_err());
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}

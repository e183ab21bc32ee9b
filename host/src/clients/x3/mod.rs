//! The Sage X3 client: REST api1 and GraphQL (`/xtrem/api`) over one `ureq` agent, with three ways
//! to authenticate (HTTP Basic, a connected-app JWT the client mints itself, an OAuth2 token
//! endpoint). One [`X3Client`] is shared by the worker threads: the agent pools connections and
//! the token state sits behind a `Mutex`.
//!
//! It owns the transport and nothing else: it builds no document and no query. The order
//! documents, the stock actions and their look-ups come rendered by the core (escaping included,
//! `docs/x3-wire-format.md`); the X3 polling and the customer sync build their `where` clauses
//! and GraphQL filters from literals the core escapes (`sdata-literal`, `graphql-literal`) or
//! from timestamps they format. This module sends them and sorts
//! every failure into an [`X3Error`] the worker can act on without guessing:
//! retry as is ([`X3Error::Transient`]), look the document up before retrying
//! ([`X3Error::Unknown`]), park it for a human ([`X3Error::Rejected`]), fix the credentials
//! ([`X3Error::Auth`]) or the settings ([`X3Error::Config`]).
//!
//! Facts are cited as `x3-api.md §N` (`../shared/reference/x3-api.md`). Secrets (passwords,
//! client secrets, tokens) never reach an error message or a `Debug` output: messages are built
//! without them and scrubbed once more before they leave this module.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Result of every X3 call.
pub type Result<T, E = X3Error> = std::result::Result<T, E>;

/// Rows asked per REST page (`count`; X3's default is 20, §1.3).
const PAGE_SIZE: usize = 100;
/// Bound on pages followed by one call, so a server whose `$next` never ends cannot loop us.
const MAX_PAGES: usize = 1000;
/// Largest answer body read (ureq's default of 10 MB is tight for 100 orders with their lines).
const MAX_BODY: u64 = 64 * 1024 * 1024;
/// Longest piece of a non-JSON body quoted in an error message.
const SNIPPET: usize = 200;
/// A connected-app JWT is re-minted this long (at most) before its `exp`.
const JWT_MARGIN: Duration = Duration::from_secs(30);
/// An OAuth2 access token is renewed this long (at most) before it expires: tokens live
/// 5 minutes (§4.4), so a call never starts with a token about to die.
const OAUTH_MARGIN: Duration = Duration::from_secs(60);
/// Shortest secret scrubbed from messages (see [`X3Client::redact`]).
const MIN_REDACTED: usize = 4;
/// The class `ping` queries when none is given (every X3 publishes customers, §1.1).
pub const PING_CLASS: &str = "BPCUSTOMER";

/// Which X3 API the documents go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiMode {
    /// REST api1 (Syracuse/SData, §1).
    Rest,
    /// GraphQL "Sage X3 Services" (`POST /xtrem/api`, §3).
    Graphql,
}

/// How the client proves who it is.
#[derive(Clone)]
pub enum X3Auth {
    /// HTTP Basic with a Syracuse user (§4.1).
    Basic { user: String, password: String },
    /// Connected application: the client mints its own HS256 JWT per x3-api.md §4.3
    /// ({"iss": client_id, "sub": user, "aud": audience, "iat": now, "exp": now + lifetime}), re-minted before exp.
    ConnectedApp {
        client_id: String,
        secret: String,
        user: String,
        audience: String,
        lifetime: Duration,
        /// `iat` (and so `exp`) this far in the past: a host clock ahead of X3's.
        backdate: Duration,
    },
    /// OAuth2 token endpoint (x3-sim's POST /v1/token): client_credentials, then refresh_token grants; tokens refreshed ahead of expiry (they live 5 minutes).
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
    },
}

impl fmt::Debug for X3Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HIDDEN: &str = "<redacted>";
        match self {
            X3Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &HIDDEN)
                .finish(),
            X3Auth::ConnectedApp {
                client_id,
                user,
                audience,
                lifetime,
                ..
            } => f
                .debug_struct("ConnectedApp")
                .field("client_id", client_id)
                .field("secret", &HIDDEN)
                .field("user", user)
                .field("audience", audience)
                .field("lifetime", lifetime)
                .finish(),
            X3Auth::OAuth2 {
                token_url,
                client_id,
                ..
            } => f
                .debug_struct("OAuth2")
                .field("token_url", token_url)
                .field("client_id", client_id)
                .field("client_secret", &HIDDEN)
                .finish(),
        }
    }
}

/// Where and how to reach one merchant's X3. `Debug` hides the secrets (see [`X3Auth`]).
#[derive(Debug, Clone)]
pub struct X3Settings {
    /// `scheme://host:port` (on-premise Syracuse listens on 8124 by default, §1.1).
    pub base_url: String,
    /// The Syracuse endpoint (= X3 folder): REST path segment and GraphQL `x-xtrem-endpoint`.
    pub folder: String,
    pub api: ApiMode,
    pub auth: X3Auth,
    /// PEM file of the CA(s) to trust instead of the public roots: on-premise X3 often has an
    /// internal CA.
    pub ca_file: Option<PathBuf>,
    /// Whole exchange, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Connecting alone (TCP + TLS): a connect failure means nothing was sent.
    pub connect_timeout: Duration,
}

/// One document to create, rendered by the core for both APIs; the mode picks which half is sent.
#[derive(Debug, Clone, Copy)]
pub struct CreateRequest<'a> {
    pub rest_class: &'a str,
    pub rest_representation: &'a str,
    /// The JSON body, sent as is.
    pub rest_body: &'a str,
    pub graphql_mutation: &'a str,
    /// JSON object of the mutation's variables (empty = none).
    pub graphql_variables: &'a str,
    /// Field of the created record holding the X3 key (`SOHNUM`, `BPCNUM`…).
    pub rest_key_field: &'a str,
    /// Field of the created node holding the key (`id`, `code`…).
    pub graphql_key_field: &'a str,
}

/// One duplicate check ("does X3 already hold this?"), rendered by the core for both APIs.
#[derive(Debug, Clone, Copy)]
pub struct LookupRequest<'a> {
    pub rest_class: &'a str,
    pub rest_representation: &'a str,
    /// SData `where` clause, already escaped by the core (`CUSORDREF eq 'WC-1'`); this client
    /// URL-encodes it.
    pub rest_where: &'a str,
    pub graphql_query: &'a str,
    /// JSON object of the query's variables (empty = none). A query declaring `$after` is paged.
    pub graphql_variables: &'a str,
    pub rest_key_field: &'a str,
    pub graphql_key_field: &'a str,
    /// Read from each record found, to tell ours from someone else's (empty: nothing).
    pub rest_check_field: &'a str,
    /// Dotted path in each GraphQL node (`soldToCustomer.code`).
    pub graphql_check_path: &'a str,
}

/// One record a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub key: String,
    /// The check field's value; None when none was asked or the record did not show it.
    pub check: Option<String>,
}

/// Every way an X3 call fails, sorted by what the caller must do next.
#[derive(Debug, thiserror::Error)]
pub enum X3Error {
    /// Safe to retry as is: the request was certainly not processed (connection refused, 429, 503 before sending, DNS…). `retry_after` from Retry-After.
    #[error("X3 temporarily unavailable: {message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// A create whose outcome is unknown: timeout or reset after sending, 5xx answer, proxy HTML page. The caller must look the document up before retrying.
    #[error("X3 outcome unknown: {message}")]
    Unknown { message: String },
    /// X3 refused it: 4xx with $diagnoses, GraphQL `errors`. Carries X3's messages, joined.
    #[error("X3 refused the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// A write answered 5xx with `$diagnoses` of severity error: X3's way of refusing on a
    /// business rule (x3-api.md §1.6, §7). Still a 500, so it may follow a commit: the caller
    /// looks the document up once, then treats it as refused.
    #[error("X3 refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    /// A read X3 cannot answer as asked: a 5xx with `$diagnoses` (an unknown property in the
    /// `where` clause, §1.3) or a GraphQL error on a query. Not X3 being down: the names in
    /// `[x3.wire]` do not match the site's representation. Carries X3's messages.
    #[error("X3 cannot answer the query as configured: {message}")]
    Misconfigured { message: String },
    /// 401 even after one refresh/re-mint and retry, or 403 (rights). Carries what X3 said.
    #[error("X3 authentication failed (HTTP {status}): {message}")]
    Auth { status: u16, message: String },
    /// Bad settings (unreadable CA file, malformed URL…).
    #[error("X3 settings: {0}")]
    Config(String),
}

impl X3Error {
    /// True when the same request may simply be sent again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, X3Error::Transient { .. })
    }

    /// How long X3 (or the proxy in front of it) asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            X3Error::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn map_message(self, f: impl Fn(String) -> String) -> X3Error {
        match self {
            X3Error::Transient {
                message,
                retry_after,
            } => X3Error::Transient {
                message: f(message),
                retry_after,
            },
            X3Error::Unknown { message } => X3Error::Unknown {
                message: f(message),
            },
            X3Error::Rejected { status, message } => X3Error::Rejected {
                status,
                message: f(message),
            },
            X3Error::Refused { status, message } => X3Error::Refused {
                status,
                message: f(message),
            },
            X3Error::Misconfigured { message } => X3Error::Misconfigured {
                message: f(message),
            },
            X3Error::Auth { status, message } => X3Error::Auth {
                status,
                message: f(message),
            },
            X3Error::Config(message) => X3Error::Config(f(message)),
        }
    }
}

/// What the client did to stay authenticated (for tests and the status page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Connected-app JWTs minted.
    pub jwt_mints: u64,
    /// OAuth2 `client_credentials` grants obtained.
    pub client_credentials_grants: u64,
    /// OAuth2 `refresh_token` grants obtained.
    pub refresh_grants: u64,
    /// Requests sent a second time after a 401 with a fresh token.
    pub retries_after_401: u64,
}

#[derive(Default)]
struct Counters {
    jwt_mints: AtomicU64,
    client_credentials_grants: AtomicU64,
    refresh_grants: AtomicU64,
    retries_after_401: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Whether a request changes X3: an ambiguous failure of a write is `Unknown` (it may have been
/// applied), of a read `Transient` (asking again is harmless).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
}

/// A token with the moment it must be replaced.
#[derive(Clone)]
struct Held {
    header: String,
    renew_at: SystemTime,
    expires_at: SystemTime,
}

#[derive(Default)]
struct OAuthState {
    access: Option<Held>,
    refresh: Option<String>,
}

enum Cred {
    Basic {
        user: String,
        header: String,
    },
    Jwt {
        client_id: String,
        secret: String,
        user: String,
        audience: String,
        lifetime: Duration,
        backdate: Duration,
        held: Mutex<Option<Held>>,
    },
    OAuth {
        token_url: String,
        client_id: String,
        client_secret: String,
        state: Mutex<OAuthState>,
    },
}

/// One HTTP answer, fully read.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    html: bool,
    body: String,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// X3's `$diagnoses` with severity error or fatal, anywhere in a JSON body, that say what
    /// was wrong with the request — not a generic technical failure ("Internal server error",
    /// "no session available"), which stays a failure of unknown outcome.
    fn has_error_diagnoses(&self) -> bool {
        const GENERIC: [&str; 6] = [
            "internal server error",
            "service unavailable",
            "timeout",
            "timed out",
            "session",
            "try again",
        ];
        self.json().is_some_and(|v| {
            let msgs = diagnoses(&v, true);
            !msgs.is_empty()
                && !msgs.iter().all(|m| {
                    let m = m.to_lowercase();
                    GENERIC.iter().any(|g| m.contains(g))
                })
        })
    }

    fn json(&self) -> Option<Value> {
        if self.html {
            return None;
        }
        serde_json::from_str(&self.body).ok()
    }

    /// What the server said, for a message: X3's diagnoses, GraphQL errors, a gateway
    /// `message`, an HTML page's title, or the start of the body.
    fn said(&self) -> String {
        if self.html {
            return format!("an HTML page \"{}\"", html_title(&self.body));
        }
        if let Ok(v) = serde_json::from_str::<Value>(&self.body) {
            let mut msgs = diagnoses(&v, true);
            if msgs.is_empty() {
                msgs = graphql_errors(&v);
            }
            if msgs.is_empty() {
                msgs = diagnoses(&v, false);
            }
            if msgs.is_empty()
                && let Some(m) = v.get("message").and_then(Value::as_str)
            {
                msgs.push(m.to_string());
            }
            if !msgs.is_empty() {
                return msgs.join("; ");
            }
        }
        let text = self.body.trim();
        if text.is_empty() {
            "(empty body)".to_string()
        } else {
            snippet(text)
        }
    }
}

/// The Sage X3 client of one merchant. `Send + Sync`: share it between workers behind an `Arc`.
pub struct X3Client {
    base: String,
    /// `host:port`, for messages.
    target: String,
    folder: String,
    api: ApiMode,
    agent: ureq::Agent,
    cred: Cred,
    timeout: Duration,
    connect_timeout: Duration,
    /// Strings that must never appear in a message (passwords, secrets, Basic credentials).
    secrets: Vec<String>,
    counters: Counters,
    /// Requests to X3 at once (`x3.concurrency`): a licence or web-service pool limit, kept even
    /// when more workers run (they plan and write SQLite while others wait for X3).
    slots: Slots,
}

/// A counting semaphore: at most `max` requests in flight.
#[derive(Debug, Default)]
struct Slots {
    max: AtomicU64,
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

impl fmt::Debug for X3Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X3Client")
            .field("base", &self.base)
            .field("folder", &self.folder)
            .field("api", &self.api)
            .field("auth", &self.auth_desc())
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another worker must not wedge authentication for all of them.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl X3Client {
    /// Checks the settings and builds the client; no request is sent (see [`X3Client::ping`]).
    pub fn new(settings: X3Settings) -> Result<X3Client> {
        let (base, target) = check_base_url(&settings.base_url, "base_url")?;
        let folder = settings.folder.trim().to_string();
        if folder.is_empty()
            || !folder
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(X3Error::Config(format!(
                "folder {:?}: an X3 endpoint name (letters, digits, _ and -) expected",
                settings.folder
            )));
        }
        if settings.timeout.is_zero() || settings.connect_timeout.is_zero() {
            return Err(X3Error::Config(
                "timeout and connect_timeout must be longer than zero".into(),
            ));
        }
        let mut config = ureq::Agent::config_builder()
            // X3's bodies carry the reasons ($diagnoses, GraphQL errors): read every answer.
            .http_status_as_error(false)
            .timeout_global(Some(settings.timeout))
            .timeout_connect(Some(settings.connect_timeout))
            // X3 does not redirect API calls; a redirect is a login page or a misrouted proxy,
            // reported as such rather than followed with our credentials.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("ml-connector/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &settings.ca_file {
            let certs = load_ca(path)?;
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        let agent = ureq::Agent::new_with_config(config.build());
        let mut secrets = Vec::new();
        let cred = match settings.auth {
            X3Auth::Basic { user, password } => {
                let b64 = STANDARD.encode(format!("{user}:{password}"));
                secrets.push(password);
                secrets.push(b64.clone());
                Cred::Basic {
                    user,
                    header: format!("Basic {b64}"),
                }
            }
            X3Auth::ConnectedApp {
                client_id,
                secret,
                user,
                audience,
                lifetime,
                backdate,
            } => {
                if lifetime < Duration::from_secs(1) {
                    return Err(X3Error::Config(
                        "connected app: token lifetime of at least 1 second expected".into(),
                    ));
                }
                if backdate >= lifetime {
                    return Err(X3Error::Config(
                        "connected app: the iat backdate must be shorter than the token lifetime"
                            .into(),
                    ));
                }
                secrets.push(secret.clone());
                Cred::Jwt {
                    client_id,
                    secret,
                    user,
                    audience,
                    lifetime,
                    backdate,
                    held: Mutex::new(None),
                }
            }
            X3Auth::OAuth2 {
                token_url,
                client_id,
                client_secret,
            } => {
                let (token_url, _) = check_base_url(&token_url, "token_url")?;
                secrets.push(client_secret.clone());
                Cred::OAuth {
                    token_url,
                    client_id,
                    client_secret,
                    state: Mutex::new(OAuthState::default()),
                }
            }
        };
        secrets.retain(|s| !s.is_empty());
        Ok(X3Client {
            base,
            target,
            folder,
            api: settings.api,
            agent,
            cred,
            timeout: settings.timeout,
            connect_timeout: settings.connect_timeout,
            secrets,
            counters: Counters::default(),
            slots: Slots::default(),
        })
    }

    /// What the client did to stay authenticated so far.
    /// At most `n` requests to X3 at once from this client (0: no limit, the default). A request
    /// waiting for a slot has not been sent: its timeout starts when it gets one.
    pub fn limit_in_flight(self, n: usize) -> X3Client {
        self.slots
            .max
            .store(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
        self
    }

    pub fn auth_stats(&self) -> AuthStats {
        let c = &self.counters;
        AuthStats {
            jwt_mints: c.jwt_mints.load(Ordering::Relaxed),
            client_credentials_grants: c.client_credentials_grants.load(Ordering::Relaxed),
            refresh_grants: c.refresh_grants.load(Ordering::Relaxed),
            retries_after_401: c.retries_after_401.load(Ordering::Relaxed),
        }
    }

    /// POST {base}/api1/x3/erp/{folder}/{class}?representation={rep}.$create (201 + body: read rest_key_field),
    /// or POST {base}/xtrem/api with x-xtrem-endpoint and {"query": mutation, "variables": …} (read graphql_key_field from the created node, wherever it is nested under data).
    /// Returns the X3 key (document number / customer code).
    pub fn create(&self, req: &CreateRequest) -> Result<String> {
        let r = match self.api {
            ApiMode::Rest => self.create_rest(req),
            ApiMode::Graphql => self.create_graphql(req),
        };
        self.finish(r)
    }

    /// Runs the lookup: REST $query with where= (URL-encoded!) and count, following $links.$next; GraphQL query with the variables.
    /// Returns every record found (0, 1 or more — more means X3 already holds duplicates).
    pub fn lookup(&self, req: &LookupRequest) -> Result<Vec<Found>> {
        let r = match self.api {
            ApiMode::Rest => self.lookup_rest(req),
            ApiMode::Graphql => self.lookup_graphql(req),
        };
        self.finish(r)
    }

    /// A generic REST $query for later polling (class, representation, where, orderBy, count) returning the raw $resources, following next links up to a limit.
    pub fn query_rest(
        &self,
        class: &str,
        representation: &str,
        where_: Option<&str>,
        order_by: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Value>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let count = limit.min(PAGE_SIZE).to_string();
        let mut params = vec![("count", count.as_str())];
        if let Some(w) = where_ {
            params.push(("where", w));
        }
        if let Some(o) = order_by {
            params.push(("orderBy", o));
        }
        let url = self.rest_url(class, None, representation, "$query", &params);
        let r = self.rest_pages(url, limit, &format!("query {class}"));
        self.finish(r)
    }

    /// Raw GraphQL call (for polling and for tests); returns `data` or Rejected with the errors.
    pub fn graphql(&self, query: &str, variables: &Value) -> Result<Value> {
        let op = if is_mutation(query) {
            Op::Write
        } else {
            Op::Read
        };
        let r = self.graphql_data(query, variables, op, "GraphQL call");
        self.finish(r)
    }

    /// Partial update: PUT …/{class}('{key}')?representation={rep}.$edit (key escaped: quotes doubled, URL-encoded).
    pub fn update_rest(
        &self,
        class: &str,
        representation: &str,
        key: &str,
        body: &Value,
    ) -> Result<Value> {
        let r = (|| -> Result<Value> {
            let url = self.rest_url(class, Some(key), representation, "$edit", &[]);
            let what = format!("update {class} {key}");
            let bytes = body.to_string();
            let a = self.exchange(
                "PUT",
                &url,
                &[("Content-Type", "application/json")],
                Some(bytes.as_bytes()),
                Op::Write,
            )?;
            if !a.ok() {
                return Err(self.status_error(&a, Op::Write, &what));
            }
            if a.body.trim().is_empty() {
                return Ok(Value::Null);
            }
            a.json().ok_or_else(|| X3Error::Unknown {
                message: format!(
                    "{what}: X3 answered {} with something that is not JSON ({}); the update may have been applied",
                    a.status,
                    a.said()
                ),
            })
        })();
        self.finish(r)
    }

    /// One record as REST `$details` (with its lines), for reconciliation; `None` when X3
    /// answers 404 (the record is gone).
    pub fn details_rest(
        &self,
        class: &str,
        representation: &str,
        key: &str,
    ) -> Result<Option<Value>> {
        let r = (|| -> Result<Option<Value>> {
            let url = self.rest_url(class, Some(key), representation, "$details", &[]);
            let what = format!("read {class} {key}");
            let a = self.exchange("GET", &url, &[], None, Op::Read)?;
            if a.status == 404 {
                return Ok(None);
            }
            if !a.ok() {
                return Err(self.status_error(&a, Op::Read, &what));
            }
            a.json().map(Some).ok_or_else(|| X3Error::Transient {
                message: format!(
                    "{what}: X3 answered {} with something that is not JSON ({})",
                    a.status,
                    a.said()
                ),
                retry_after: None,
            })
        })();
        self.finish(r)
    }

    /// Connection test for `ml-connector ping` against the customer class [`PING_CLASS`].
    pub fn ping(&self) -> Result<String> {
        self.ping_with(PING_CLASS, PING_CLASS)
    }

    /// Connection test querying one record of `class` (REST) or one customer (GraphQL). Says
    /// precisely what is wrong — DNS, connection refused, TLS (certificate), 401 (credentials),
    /// 403 (rights), wrong folder — or what it reached. Never includes a secret.
    pub fn ping_with(&self, class: &str, representation: &str) -> Result<String> {
        let r = match self.api {
            ApiMode::Rest => self.ping_rest(class, representation),
            ApiMode::Graphql => self.ping_graphql(),
        };
        self.finish(r).map(|s| self.redact(s))
    }

    // ---- REST ----

    fn create_rest(&self, req: &CreateRequest) -> Result<String> {
        let url = self.rest_url(
            req.rest_class,
            None,
            req.rest_representation,
            "$create",
            &[],
        );
        let what = format!("create {}", req.rest_class);
        let a = self.exchange(
            "POST",
            &url,
            &[("Content-Type", "application/json")],
            Some(req.rest_body.as_bytes()),
            Op::Write,
        )?;
        if !a.ok() {
            return Err(self.status_error(&a, Op::Write, &what));
        }
        let Some(v) = a.json() else {
            return Err(X3Error::Unknown {
                message: format!(
                    "{what}: X3 answered {} with something that is not JSON ({}); the document may exist",
                    a.status,
                    a.said()
                ),
            });
        };
        if let Some(key) = v.get(req.rest_key_field).and_then(key_string) {
            return Ok(key);
        }
        let errors = diagnoses(&v, true);
        if !errors.is_empty() {
            return Err(X3Error::Rejected {
                status: a.status,
                message: errors.join("; "),
            });
        }
        Err(X3Error::Unknown {
            message: format!(
                "{what}: X3 answered {} without {}; the document may exist",
                a.status, req.rest_key_field
            ),
        })
    }

    fn lookup_rest(&self, req: &LookupRequest) -> Result<Vec<Found>> {
        let count = PAGE_SIZE.to_string();
        let url = self.rest_url(
            req.rest_class,
            None,
            req.rest_representation,
            "$query",
            &[("count", count.as_str()), ("where", req.rest_where)],
        );
        let rows = self.rest_pages(url, usize::MAX, &format!("lookup {}", req.rest_class))?;
        rows.iter()
            .map(|r| {
                let key = r
                    .get(req.rest_key_field)
                    .and_then(key_string)
                    .or_else(|| r.get("$key").and_then(key_string))
                    .ok_or_else(|| X3Error::Misconfigured {
                        message: format!(
                            "lookup {}: a row without {} (is the key field right?)",
                            req.rest_class, req.rest_key_field
                        ),
                    })?;
                let check = (!req.rest_check_field.is_empty())
                    .then(|| r.get(req.rest_check_field).and_then(key_string))
                    .flatten();
                Ok(Found { key, check })
            })
            .collect()
    }

    /// GETs `url` and follows `$links.$next.$url` (§1.5) until `limit` rows or the last page.
    fn rest_pages(&self, first: String, limit: usize, what: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut url = first;
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let a = self.exchange("GET", &url, &[], None, Op::Read)?;
            if !a.ok() {
                return Err(self.status_error(&a, Op::Read, what));
            }
            let Some(v) = a.json() else {
                return Err(X3Error::Transient {
                    message: format!(
                        "{what}: X3 answered {} with something that is not JSON ({})",
                        a.status,
                        a.said()
                    ),
                    retry_after: None,
                });
            };
            let Some(rows) = v.get("$resources").and_then(Value::as_array) else {
                return Err(X3Error::Rejected {
                    status: a.status,
                    message: format!("{what}: the answer has no $resources: {}", a.said()),
                });
            };
            out.extend(rows.iter().cloned());
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
            let next = v
                .pointer("/$links/$next/$url")
                .and_then(Value::as_str)
                .map(|n| self.resolve_next(n));
            match next {
                Some(n) if seen.insert(n.clone()) => url = n,
                _ => break,
            }
        }
        Ok(out)
    }

    /// `{base}/api1/x3/erp/{folder}/{class}[('{key}')]?representation={rep}.{facet}&…` (§1.1).
    fn rest_url(
        &self,
        class: &str,
        key: Option<&str>,
        representation: &str,
        facet: &str,
        params: &[(&str, &str)],
    ) -> String {
        let mut url = format!(
            "{}/api1/x3/erp/{}/{}",
            self.base,
            pct(&self.folder, b""),
            pct(class, b"")
        );
        if let Some(k) = key {
            // SData keys: quotes doubled inside single quotes; `~` separates composite keys.
            url.push_str(&format!("('{}')", pct(&k.replace('\'', "''"), b"'")));
        }
        url.push_str("?representation=");
        url.push_str(&pct(&format!("{representation}.{facet}"), b""));
        for (k, v) in params {
            url.push_str(&format!("&{k}={}", pct(v, b"")));
        }
        url
    }

    /// A `$next` link, re-rooted on our base URL: X3 behind a proxy writes its own host there,
    /// and credentials must only ever go to the configured server.
    fn resolve_next(&self, next: &str) -> String {
        let path = match next.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => next,
        };
        let sep = if path.starts_with('/') { "" } else { "/" };
        format!("{}{sep}{}", self.base, sanitize_url(path))
    }

    // ---- GraphQL ----

    fn create_graphql(&self, req: &CreateRequest) -> Result<String> {
        let vars = parse_variables(req.graphql_variables)?;
        let what = "GraphQL create";
        let a = self.graphql_exchange(req.graphql_mutation, &vars, Op::Write)?;
        if !a.ok() {
            return Err(self.status_error(&a, Op::Write, what));
        }
        let Some(v) = a.json() else {
            return Err(X3Error::Unknown {
                message: format!(
                    "{what}: X3 answered {} with something that is not JSON ({}); the document may exist",
                    a.status,
                    a.said()
                ),
            });
        };
        // A key in `data` means the node exists, even next to errors (X3 can return partial
        // data, §3.6): recording it is what keeps the order from being posted twice.
        if let Some(key) = v
            .get("data")
            .and_then(|d| shallowest(d, req.graphql_key_field))
        {
            return Ok(key);
        }
        let errors = graphql_errors(&v);
        if !errors.is_empty() {
            return Err(X3Error::Rejected {
                status: a.status,
                message: errors.join("; "),
            });
        }
        Err(X3Error::Unknown {
            message: format!(
                "{what}: X3 answered without {} in data; the document may exist",
                req.graphql_key_field
            ),
        })
    }

    fn lookup_graphql(&self, req: &LookupRequest) -> Result<Vec<Found>> {
        let mut vars = parse_variables(req.graphql_variables)?;
        // Paging needs the query's cooperation: it must take `$after` (Xtrem cursors, §3.3).
        let paged = req.graphql_query.contains("$after");
        let mut keys = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let data = self.graphql_data(req.graphql_query, &vars, Op::Read, "GraphQL lookup")?;
            let next = collect_keys(
                &data,
                req.graphql_key_field,
                req.graphql_check_path,
                &mut keys,
            );
            match next {
                Some(cursor) if paged && seen.insert(cursor.clone()) => {
                    if let Value::Object(m) = &mut vars {
                        m.insert("after".into(), Value::String(cursor));
                    }
                }
                _ => break,
            }
        }
        Ok(keys)
    }

    fn graphql_data(&self, query: &str, variables: &Value, op: Op, what: &str) -> Result<Value> {
        let a = self.graphql_exchange(query, variables, op)?;
        if !a.ok() {
            return Err(self.status_error(&a, op, what));
        }
        let Some(v) = a.json() else {
            return Err(ambiguous(
                op,
                format!(
                    "{what}: X3 answered {} with something that is not JSON ({})",
                    a.status,
                    a.said()
                ),
            ));
        };
        let errors = graphql_errors(&v);
        if !errors.is_empty() {
            let message = errors.join("; ");
            // A query X3 refuses names something its schema does not have.
            return Err(match op {
                Op::Read => X3Error::Misconfigured {
                    message: misconfigured(what, &message),
                },
                Op::Write => X3Error::Rejected {
                    status: a.status,
                    message,
                },
            });
        }
        Ok(v.get("data").cloned().unwrap_or(Value::Null))
    }

    fn graphql_exchange(&self, query: &str, variables: &Value, op: Op) -> Result<Answer> {
        let body = json!({"query": query, "variables": variables}).to_string();
        self.exchange(
            "POST",
            &format!("{}/xtrem/api", self.base),
            &[
                ("Content-Type", "application/json"),
                ("x-xtrem-endpoint", &self.folder),
            ],
            Some(body.as_bytes()),
            op,
        )
    }

    // ---- ping ----

    fn ping_rest(&self, class: &str, representation: &str) -> Result<String> {
        let url = self.rest_url(class, None, representation, "$query", &[("count", "1")]);
        let a = self.exchange("GET", &url, &[], None, Op::Read)?;
        if a.status == 404 && self.names_the_folder(&a.said()) {
            return Err(self.wrong_folder(404, &a.said()));
        }
        if !a.ok() {
            return Err(self.status_error(&a, Op::Read, &format!("test query on {class}")));
        }
        let rows = a
            .json()
            .and_then(|v| v.get("$resources").and_then(Value::as_array).map(Vec::len))
            .ok_or_else(|| X3Error::Rejected {
                status: a.status,
                message: format!(
                    "{} answered the test query on {class} with something that is not an X3 feed ({}); is base_url the Syracuse server?",
                    self.target,
                    a.said()
                ),
            })?;
        Ok(format!(
            "OK: reached Sage X3 at {} (REST api1, folder {}, {}); the {class} query answered with {rows} record(s)",
            self.base,
            self.folder,
            self.auth_desc()
        ))
    }

    fn ping_graphql(&self) -> Result<String> {
        let query = "{ x3MasterData { customer { query(first: 1) { totalCount } } } }";
        match self.graphql_data(query, &json!({}), Op::Read, "GraphQL test query") {
            Ok(data) => {
                let total = data
                    .pointer("/x3MasterData/customer/query/totalCount")
                    .map_or_else(|| "?".to_string(), Value::to_string);
                Ok(format!(
                    "OK: reached Sage X3 at {} (GraphQL, endpoint {}, {}); it holds {total} customer(s)",
                    self.base,
                    self.folder,
                    self.auth_desc()
                ))
            }
            Err(X3Error::Rejected { status, message }) if self.names_the_folder(&message) => {
                Err(self.wrong_folder(status, &message))
            }
            Err(X3Error::Misconfigured { message }) if self.names_the_folder(&message) => {
                Err(self.wrong_folder(200, &message))
            }
            Err(e) => Err(e),
        }
    }

    /// X3's text for an unknown endpoint is UNCONFIRMED (§10.2); x3-sim says "Endpoint 'X' does
    /// not exist". Any refusal naming the endpoint or our folder counts.
    fn names_the_folder(&self, said: &str) -> bool {
        let lower = said.to_lowercase();
        lower.contains("endpoint") || lower.contains(&format!("'{}'", self.folder.to_lowercase()))
    }

    fn wrong_folder(&self, status: u16, said: &str) -> X3Error {
        X3Error::Rejected {
            status,
            message: format!(
                "X3 at {} does not know the folder (endpoint) '{}': check the folder setting (X3 said: {said})",
                self.target, self.folder
            ),
        }
    }

    // ---- transport ----

    /// Sends one request with credentials; a 401 gets one fresh token (or JWT) and one retry —
    /// safe even for a create, since a 401 means X3 did not process it.
    fn exchange(
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

    fn send_once(
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

    /// Sorts a failure below HTTP. Only what certainly happened before the request left is
    /// `Transient` for a write; anything later is ambiguous (see [`Op`]).
    fn transport_error(&self, e: ureq::Error, op: Op, target: &str) -> X3Error {
        let transient = |message: String| X3Error::Transient {
            message,
            retry_after: None,
        };
        match e {
            ureq::Error::HostNotFound => transient(format!(
                "cannot resolve the host name of {target} (DNS): no address found"
            )),
            ureq::Error::Timeout(ureq::Timeout::Resolve) => {
                transient(format!("the DNS lookup of {target} timed out"))
            }
            ureq::Error::Timeout(ureq::Timeout::Connect) => transient(format!(
                "no connection to {target} within {:?} ({}; nothing was sent)",
                self.connect_timeout,
                if self.base.starts_with("https://") {
                    "TCP connect or TLS handshake timed out"
                } else {
                    "connect timeout"
                }
            )),
            ureq::Error::Timeout(t) => ambiguous(
                op,
                format!(
                    "no complete answer from {target} within {:?} (timeout {t:?})",
                    self.timeout
                ),
            ),
            ureq::Error::Io(io) => self.io_error(&io, op, target),
            ureq::Error::Tls(m) => transient(format!("TLS handshake with {target} failed: {m}")),
            ureq::Error::Pem(p) => X3Error::Config(format!("TLS certificates: {p:?}")),
            ureq::Error::Rustls(r) => self.tls_error(&r.to_string(), op, target),
            ureq::Error::ConnectionFailed => transient(format!("cannot connect to {target}")),
            ureq::Error::BadUri(_)
            | ureq::Error::Http(_)
            | ureq::Error::RequireHttpsOnly(_)
            | ureq::Error::InvalidProxyUrl => {
                X3Error::Config(format!("invalid URL or request for {target}: {e}"))
            }
            other => ambiguous(op, format!("exchange with {target} failed: {other}")),
        }
    }

    fn io_error(&self, io: &io::Error, op: Op, target: &str) -> X3Error {
        let transient = |message: String| X3Error::Transient {
            message,
            retry_after: None,
        };
        let text = io.to_string();
        match io.kind() {
            io::ErrorKind::ConnectionRefused => transient(format!(
                "nothing is listening at {target} (connection refused)"
            )),
            io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::AddrNotAvailable => {
                transient(format!("cannot reach {target}: {text}"))
            }
            // std reports getaddrinfo failures with this text and no dedicated kind.
            _ if text.contains("failed to lookup address") => transient(format!(
                "cannot resolve the host name of {target} (DNS): {text}"
            )),
            // rustls failures surface as InvalidData I/O errors.
            io::ErrorKind::InvalidData if self.base.starts_with("https://") => {
                self.tls_error(&text, op, target)
            }
            _ => ambiguous(
                op,
                format!("connection to {target} broke during the exchange: {text}"),
            ),
        }
    }

    /// Certificate checks happen only in the handshake, before anything is sent; other TLS
    /// failures may come mid-exchange.
    fn tls_error(&self, text: &str, op: Op, target: &str) -> X3Error {
        let lower = text.to_lowercase();
        if lower.contains("certificate") || lower.contains("handshake") {
            let hint = if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
                " (unknown issuer: set [x3] ca-file to X3's internal CA)"
            } else {
                ""
            };
            return X3Error::Transient {
                message: format!("TLS handshake with {target} failed: {text}{hint}"),
                retry_after: None,
            };
        }
        ambiguous(
            op,
            format!("TLS failure with {target} (is it really an HTTPS server?): {text}"),
        )
    }

    /// Sorts a non-2xx answer (a 401 here has already had its one retry).
    fn status_error(&self, a: &Answer, op: Op, what: &str) -> X3Error {
        let said = a.said();
        match a.status {
            401 => self.auth_refused(a, true),
            403 => X3Error::Auth {
                status: 403,
                message: format!(
                    "{what}: X3 at {} accepted {} but refused the request: the user lacks the rights (X3 said: {said})",
                    self.target,
                    self.auth_desc()
                ),
            },
            // 408: the server gave up before reading the request; 429: throttled before it was
            // looked at; 503: no X3 session free in the web-service pool (§7).
            408 | 429 | 503 => X3Error::Transient {
                message: format!("{what}: HTTP {} from {}: {said}", a.status, self.target),
                retry_after: a.retry_after,
            },
            // 500 with $diagnoses of severity error is X3 refusing on a business rule (§1.6,
            // §7) — on a read, a property the representation does not have (§1.3). A 500
            // without them may be a crash after the commit: a write is ambiguous.
            500..=599 if a.has_error_diagnoses() => match op {
                Op::Write => X3Error::Refused {
                    status: a.status,
                    message: format!("{what}: {said}"),
                },
                Op::Read => X3Error::Misconfigured {
                    message: misconfigured(what, &said),
                },
            },
            500..=599 => ambiguous(
                op,
                format!(
                    "{what}: HTTP {} from {}{}: {said}",
                    a.status,
                    self.target,
                    if a.html { " (a proxy page)" } else { "" }
                ),
            ),
            300..=399 => X3Error::Rejected {
                status: a.status,
                message: format!(
                    "{what}: {} answered with a redirect (a login page or a proxy?); X3's api1 and GraphQL do not redirect: {said}",
                    self.target
                ),
            },
            _ => X3Error::Rejected {
                status: a.status,
                message: said,
            },
        }
    }

    fn auth_refused(&self, a: &Answer, after_renewal: bool) -> X3Error {
        let how = if after_renewal {
            ", even with a fresh token"
        } else {
            ""
        };
        // Error 21 (third-party doc, x3-api.md §4.3): the JWT's `iat` is in X3's future.
        let said = a.said();
        let hint = if said.contains("Error 21") {
            ": the token looks issued in the future, so this machine's clock is ahead of X3's; \
             synchronise the clocks, or set [x3] jwt-iat-backdate-secs"
        } else {
            ""
        };
        X3Error::Auth {
            status: a.status,
            message: format!(
                "X3 at {} refused the credentials of {}{how} (X3 said: {said}){hint}",
                self.target,
                self.auth_desc(),
            ),
        }
    }

    fn auth_desc(&self) -> String {
        match &self.cred {
            Cred::Basic { user, .. } => format!("user '{user}' (Basic auth)"),
            Cred::Jwt {
                client_id, user, ..
            } => format!("connected app {client_id} as user '{user}'"),
            Cred::OAuth { client_id, .. } => format!("OAuth2 client '{client_id}'"),
        }
    }

    // ---- credentials ----

    /// The Authorization header to send. `stale` is a header X3 just refused: when it is still
    /// the current one it is dropped and renewed (when another worker already renewed it, the
    /// new one is used as is).
    fn authorization(&self, stale: Option<&str>) -> Result<String> {
        match &self.cred {
            Cred::Basic { header, .. } => Ok(header.clone()),
            Cred::Jwt {
                client_id,
                secret,
                user,
                audience,
                lifetime,
                backdate,
                held,
            } => {
                let mut held = lock(held);
                if let (Some(s), Some(h)) = (stale, held.as_ref())
                    && h.header == s
                {
                    *held = None;
                }
                if let Some(h) = held.as_ref()
                    && SystemTime::now() < h.renew_at
                {
                    return Ok(h.header.clone());
                }
                let h = mint_jwt(client_id, secret, user, audience, *lifetime, *backdate)?;
                bump(&self.counters.jwt_mints);
                let header = h.header.clone();
                *held = Some(h);
                Ok(header)
            }
            Cred::OAuth {
                token_url,
                client_id,
                client_secret,
                state,
            } => {
                // Held across the token request on purpose: the other workers need the same
                // token, and one grant for all beats one per worker (refresh tokens are
                // single-use, §4.4).
                let mut st = lock(state);
                if let (Some(s), Some(h)) = (stale, st.access.as_ref())
                    && h.header == s
                {
                    st.access = None;
                }
                let now = SystemTime::now();
                if let Some(h) = st.access.as_ref()
                    && now < h.renew_at
                {
                    return Ok(h.header.clone());
                }
                let grant = self.oauth_grant(token_url, client_id, client_secret, &mut st);
                match grant {
                    Ok(h) => {
                        let header = h.header.clone();
                        st.access = Some(h);
                        Ok(header)
                    }
                    // Renewing ahead failed for now: the old token still works until it expires.
                    Err(e @ X3Error::Transient { .. }) => match st.access.as_ref() {
                        Some(h) if now < h.expires_at => Ok(h.header.clone()),
                        _ => Err(e),
                    },
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// A refresh_token grant when we hold a refresh token, falling back to client_credentials
    /// when the token endpoint refuses it (expired or already used).
    fn oauth_grant(
        &self,
        token_url: &str,
        client_id: &str,
        client_secret: &str,
        st: &mut OAuthState,
    ) -> Result<Held> {
        if let Some(rt) = st.refresh.take() {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ];
            match self.token_request(token_url, &form, "refresh_token", client_id) {
                Ok((held, refresh)) => {
                    bump(&self.counters.refresh_grants);
                    st.refresh = refresh;
                    return Ok(held);
                }
                Err(X3Error::Auth { .. } | X3Error::Rejected { .. }) => {}
                Err(e) => {
                    st.refresh = Some(rt);
                    return Err(e);
                }
            }
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ];
        let (held, refresh) =
            self.token_request(token_url, &form, "client_credentials", client_id)?;
        bump(&self.counters.client_credentials_grants);
        st.refresh = refresh;
        Ok(held)
    }

    /// POST to the token endpoint (form body, client credentials in it, §4.4). Nothing reaches
    /// X3's data endpoints here, so every transport failure is `Transient`.
    fn token_request(
        &self,
        token_url: &str,
        form: &[(&str, &str)],
        grant: &str,
        client_id: &str,
    ) -> Result<(Held, Option<String>)> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let what = format!("OAuth2 token endpoint {}", authority_of(token_url));
        let a = self.send_once(
            "POST",
            token_url,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(body.as_bytes()),
            None,
            Op::Read,
        )?;
        if !a.ok() {
            return Err(match a.status {
                400 | 401 | 403 => X3Error::Auth {
                    status: a.status,
                    message: format!(
                        "{what} refused the {grant} grant for client '{client_id}' (it said: {})",
                        a.said()
                    ),
                },
                _ => X3Error::Transient {
                    message: format!("{what}: HTTP {}: {}", a.status, a.said()),
                    retry_after: a.retry_after,
                },
            });
        }
        let v = a.json().unwrap_or(Value::Null);
        let Some(access) = v.get("access_token").and_then(Value::as_str) else {
            return Err(X3Error::Auth {
                status: a.status,
                message: format!("{what} answered without an access_token"),
            });
        };
        let life = Duration::from_secs(v.get("expires_in").and_then(Value::as_u64).unwrap_or(300));
        // The server counts in whole seconds: one more second of margin covers its rounding.
        let margin = (life / 5).min(OAUTH_MARGIN) + Duration::from_secs(1);
        let now = SystemTime::now();
        let held = Held {
            header: format!("Bearer {access}"),
            renew_at: now + life.saturating_sub(margin),
            expires_at: now + life,
        };
        let refresh = v
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok((held, refresh))
    }

    // ---- secrets ----

    /// Applies [`X3Client::redact`] to an error leaving the client.
    fn finish<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| e.map_message(|m| self.redact(m)))
    }

    /// Blanks every secret and live token out of a text (defence in depth: messages are built
    /// without them, but an echoing proxy or a future edit could slip one in).
    fn redact(&self, mut text: String) -> String {
        let mut live: Vec<String> = Vec::new();
        match &self.cred {
            Cred::Basic { .. } => {}
            Cred::Jwt { held, .. } => live.extend(lock(held).as_ref().map(|h| h.header.clone())),
            Cred::OAuth { state, .. } => {
                let st = lock(state);
                live.extend(st.access.as_ref().map(|h| h.header.clone()));
                live.extend(st.refresh.clone());
            }
        }
        let live = live
            .into_iter()
            .map(|h| h.strip_prefix("Bearer ").map(str::to_string).unwrap_or(h));
        for s in self.secrets.iter().cloned().chain(live) {
            // A secret of a few characters would blank ordinary words out of every message
            // ("p" in "HTTP"); the messages are built without secrets in the first place.
            if s.chars().count() >= MIN_REDACTED && text.contains(&s) {
                text = text.replace(&s, "<redacted>");
            }
        }
        text
    }
}

// ---- helpers ----

/// A read X3 refused, with the name it did not know first when X3 said it the usual way
/// (`WEB : Property does not exist (where clause)`).
fn misconfigured(what: &str, said: &str) -> String {
    let field = said.split(';').find_map(|m| {
        let (name, rest) = m.split_once(" : ")?;
        let name = name.trim();
        (rest.contains("does not exist") && !name.is_empty()).then(|| name.to_string())
    });
    match field {
        Some(f) => format!(
            "{what}: X3 does not know {f} ({said}); set the site's name for it in [x3.wire] \
             (docs/x3-wire-format.md)"
        ),
        None => format!(
            "{what}: {said}; check the names in [x3.wire] against the site's representation \
             (docs/x3-wire-format.md)"
        ),
    }
}

fn ambiguous(op: Op, message: String) -> X3Error {
    match op {
        Op::Write => X3Error::Unknown {
            message: format!("{message}; the request may have been processed"),
        },
        Op::Read => X3Error::Transient {
            message,
            retry_after: None,
        },
    }
}

/// Checks `scheme://host[:port][/prefix]` and returns it without a trailing `/`, with `host:port`.
fn check_base_url(url: &str, what: &str) -> Result<(String, String)> {
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

fn authority_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

fn load_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>> {
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

/// A connected-app JWT as Sage's sample mints it (TokenJWT.php, §4.3): HS256 over
/// `{"iss","sub","aud","iat","exp"}`, renewed a little before `exp`.
fn mint_jwt(
    client_id: &str,
    secret: &str,
    user: &str,
    audience: &str,
    lifetime: Duration,
    backdate: Duration,
) -> Result<Held> {
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| X3Error::Config("the system clock is before 1970".into()))?
        .as_secs()
        .saturating_sub(backdate.as_secs());
    let exp = iat + lifetime.as_secs().max(1);
    let claims = json!({"iss": client_id, "sub": user, "aud": audience, "iat": iat, "exp": exp});
    let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| X3Error::Config("connected app: unusable secret".into()))?;
    mac.update(format!("{head}.{body}").as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let expires_at = UNIX_EPOCH + Duration::from_secs(exp);
    Ok(Held {
        header: format!("Bearer {head}.{body}.{sig}"),
        renew_at: expires_at - (lifetime / 5).min(JWT_MARGIN),
        expires_at,
    })
}

fn parse_variables(text: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(Value::Null) => Ok(json!({})),
        Ok(_) => Err(X3Error::Config(
            "GraphQL variables: a JSON object expected".into(),
        )),
        Err(e) => Err(X3Error::Config(format!(
            "GraphQL variables are not JSON: {e}"
        ))),
    }
}

fn is_mutation(query: &str) -> bool {
    query
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("mutation"))
}

/// A key as text: X3 keys are strings, line numbers and counters may come as numbers.
fn key_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The value of `field` on the shallowest object holding it (the created node, not one of its
/// lines or addresses).
fn shallowest(v: &Value, field: &str) -> Option<String> {
    let mut queue = VecDeque::from([v]);
    while let Some(x) = queue.pop_front() {
        match x {
            Value::Object(m) => {
                if let Some(k) = m.get(field).and_then(key_string) {
                    return Some(k);
                }
                queue.extend(m.values());
            }
            Value::Array(a) => queue.extend(a),
            _ => {}
        }
    }
    None
}

/// The text at a dotted path (`soldToCustomer.code`) of a node.
fn at_path(node: &Value, path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let mut v = node;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    key_string(v)
}

/// Collects `field` (and the check path) of every `edges[].node` of the first connection under
/// `data` (not of nested line connections); without a connection (a `read`), the shallowest
/// `field`. Returns the next page's cursor when `pageInfo` says there is one.
fn collect_keys(data: &Value, field: &str, check: &str, out: &mut Vec<Found>) -> Option<String> {
    let mut queue = VecDeque::from([data]);
    while let Some(x) = queue.pop_front() {
        match x {
            Value::Object(m) => {
                if let Some(edges) = m.get("edges").and_then(Value::as_array) {
                    out.extend(edges.iter().filter_map(|e| {
                        let node = e.get("node")?;
                        Some(Found {
                            key: node.get(field).and_then(key_string)?,
                            check: at_path(node, check),
                        })
                    }));
                    let info = m.get("pageInfo")?;
                    if info.get("hasNextPage").and_then(Value::as_bool) == Some(true) {
                        return info
                            .get("endCursor")
                            .and_then(Value::as_str)
                            .map(str::to_string);
                    }
                    return None;
                }
                queue.extend(m.values());
            }
            Value::Array(a) => queue.extend(a),
            _ => {}
        }
    }
    out.extend(shallowest(data, field).map(|key| Found { key, check: None }));
    None
}

/// Every `$message` of X3's `$diagnoses`, wherever they sit: on the resource, under
/// `$properties.<field>` (prefixed with the field) or `$actions.<action>`, in lines (§1.6).
/// `errors_only` keeps severities `error` and `fatal`.
fn diagnoses(v: &Value, errors_only: bool) -> Vec<String> {
    fn walk(v: &Value, field: Option<&str>, errors_only: bool, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$diagnoses" {
                        for d in x.as_array().into_iter().flatten() {
                            let sev = d
                                .get("$severity")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_ascii_lowercase();
                            if errors_only && sev != "error" && sev != "fatal" {
                                continue;
                            }
                            if let Some(msg) = d.get("$message").and_then(Value::as_str) {
                                let msg = match field {
                                    Some(f) => format!("{f}: {msg}"),
                                    None => msg.to_string(),
                                };
                                if !out.contains(&msg) {
                                    out.push(msg);
                                }
                            }
                        }
                    } else if k == "$properties"
                        && let Value::Object(props) = x
                    {
                        for (name, p) in props {
                            walk(p, Some(name), errors_only, out);
                        }
                    } else {
                        walk(x, field, errors_only, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, field, errors_only, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, None, errors_only, &mut out);
    out
}

/// The `message` of every GraphQL error (§3.6).
fn graphql_errors(v: &Value) -> Vec<String> {
    v.get("errors")
        .and_then(Value::as_array)
        .map(|errs| {
            errs.iter()
                .map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .map_or_else(|| e.to_string(), str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn html_title(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let title = lower.find("<title>").and_then(|i| {
        let start = i + "<title>".len();
        lower[start..]
            .find("</title>")
            .map(|j| body[start..start + j].trim().to_string())
    });
    title.unwrap_or_else(|| snippet(body.trim()))
}

fn snippet(text: &str) -> String {
    let mut s: String = text.chars().take(SNIPPET).collect();
    if text.chars().count() > SNIPPET {
        s.push('…');
    }
    s.replace(['\r', '\n'], " ")
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `keep` (a space becomes
/// `%20`, which every server decodes, unlike `+`).
fn pct(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Encodes the bytes a server may leave raw in a link but a URI cannot hold.
fn sanitize_url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Changes to an existing record (closing or deleting a sales order), rendered by the core for
/// both APIs; the mode picks which half is sent. See docs/stock-and-refunds.md.
#[derive(Debug, Clone, Copy)]
pub struct EditRequest<'a> {
    pub rest_class: &'a str,
    pub rest_representation: &'a str,
    /// The record's key (`SOHNUM`).
    pub rest_key: &'a str,
    /// The partial update; empty = a DELETE.
    pub rest_body: &'a str,
    pub graphql_mutation: &'a str,
    pub graphql_variables: &'a str,
}

impl X3Client {
    /// Which API this client speaks.
    pub fn api_mode(&self) -> ApiMode {
        self.api
    }

    /// `$edit` PUT (partial update) or DELETE in REST; the mutation in GraphQL. A record that
    /// does not exist is `Rejected` with status 404 (REST) or X3's message (GraphQL). Returns
    /// what X3 answered: the record after the update (REST), the mutation's `data` (GraphQL),
    /// `Null` for a delete — X3 leaves alone a property its representation does not take, so
    /// the caller reads the answer.
    pub fn edit(&self, req: &EditRequest) -> Result<Value> {
        let r = match self.api {
            ApiMode::Rest if req.rest_body.is_empty() => (|| {
                let url = self.rest_url(
                    req.rest_class,
                    Some(req.rest_key),
                    req.rest_representation,
                    "$edit",
                    &[],
                );
                let what = format!("delete {} {}", req.rest_class, req.rest_key);
                let a = self.exchange("DELETE", &url, &[], None, Op::Write)?;
                if !a.ok() {
                    return Err(self.status_error(&a, Op::Write, &what));
                }
                Ok(Value::Null)
            })(),
            ApiMode::Rest => {
                let body: Value = serde_json::from_str(req.rest_body)
                    .map_err(|e| X3Error::Config(format!("the update body is not JSON: {e}")))?;
                return self.update_rest(
                    req.rest_class,
                    req.rest_representation,
                    req.rest_key,
                    &body,
                );
            }
            ApiMode::Graphql => (|| {
                let vars: Value = if req.graphql_variables.trim().is_empty() {
                    Value::Object(Default::default())
                } else {
                    serde_json::from_str(req.graphql_variables).map_err(|e| {
                        X3Error::Config(format!("the mutation variables are not JSON: {e}"))
                    })?
                };
                self.graphql_data(req.graphql_mutation, &vars, Op::Write, "GraphQL edit")
            })(),
        };
        self.finish(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnoses_are_collected_from_every_level_with_error_severity() {
        let v = json!({
            "$diagnoses": [{"$severity":"error","$message":"top"},{"$severity":"success","$message":"ok"}],
            "$properties": {"BPCNUM": {"$diagnoses": [{"$severity":"ERROR","$message":"too long"}]}},
            "$actions": {"$save": {"$diagnoses": [{"$severity":"fatal","$message":"save failed"}]}},
            "SOHSOP": [{"$diagnoses": [{"$severity":"error","$message":"line 1000: bad item"}]}]
        });
        assert_eq!(
            diagnoses(&v, true),
            [
                "top",
                "BPCNUM: too long",
                "save failed",
                "line 1000: bad item"
            ]
        );
        assert_eq!(diagnoses(&v, false).len(), 5);
    }

    #[test]
    fn keys_come_from_the_first_connection_not_nested_lines() {
        let data = json!({"x3Sales":{"salesOrder":{"query":{
            "edges":[{"node":{"id":"S1","lines":{"query":{"edges":[{"node":{"id":"L1"}}]}}}},
                     {"node":{"id":"S2"}}],
            "pageInfo":{"hasNextPage":true,"endCursor":"[\"S2\"]#2"}}}}});
        let mut keys = Vec::new();
        let next = collect_keys(&data, "id", "", &mut keys);
        let ids: Vec<&str> = keys.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(ids, ["S1", "S2"]);
        assert_eq!(next.as_deref(), Some("[\"S2\"]#2"));
        let mut keys = Vec::new();
        collect_keys(
            &json!({"x3Sales":{"salesOrder":{"read":null}}}),
            "id",
            "",
            &mut keys,
        );
        assert!(keys.is_empty());
        // The check path is read from each node: whose document it is.
        let data = json!({"x3Sales":{"salesOrder":{"query":{"edges":[
            {"node":{"id":"S1","soldToCustomer":{"code":"C1"}}},{"node":{"id":"S2"}}]}}}});
        let mut keys = Vec::new();
        collect_keys(&data, "id", "soldToCustomer.code", &mut keys);
        assert_eq!(
            keys,
            [
                Found {
                    key: "S1".into(),
                    check: Some("C1".into())
                },
                Found {
                    key: "S2".into(),
                    check: None
                }
            ]
        );
    }

    #[test]
    fn created_key_is_the_shallowest_match() {
        let data = json!({"x3MasterData":{"customer":{"create":{"addresses":[{"code":"BIL"}],"code":"WJANE"}}}});
        assert_eq!(shallowest(&data, "code").as_deref(), Some("WJANE"));
    }

    #[test]
    fn base_urls_are_checked_and_values_encoded() {
        let (base, target) =
            check_base_url("https://x3.example:8124/", "base_url").expect("valid base");
        assert_eq!(
            (base.as_str(), target.as_str()),
            ("https://x3.example:8124", "x3.example:8124")
        );
        assert!(check_base_url("http://u:p@x3:8124", "base_url").is_err());
        assert!(check_base_url("ftp://x3", "base_url").is_err());
        assert_eq!(pct("a b'c+d", b""), "a%20b%27c%2Bd");
        assert!(is_mutation("# create\n  mutation($d: X!) { x }"));
        assert!(!is_mutation(
            "{ x3Sales { salesOrder { query { totalCount } } } }"
        ));
    }
}

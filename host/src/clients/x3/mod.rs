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

mod auth;
mod errors;
mod graphql;
mod rest;
mod transport;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use auth::Cred;
use transport::{Slots, check_base_url, load_ca};

pub use auth::{AuthStats, X3Auth};
pub use errors::X3Error;

/// Result of every X3 call.
pub type Result<T, E = X3Error> = std::result::Result<T, E>;

/// Bound on pages followed by one call, so a server whose `$next` never ends cannot loop us.
const MAX_PAGES: usize = 1000;

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

/// A key as text: X3 keys are strings, line numbers and counters may come as numbers.
fn key_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
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
        let cred = Cred::new(settings.auth, &mut secrets)?;
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

    /// At most `n` requests to X3 at once from this client (0: no limit, the default). A request
    /// waiting for a slot has not been sent: its timeout starts when it gets one.
    pub fn limit_in_flight(self, n: usize) -> X3Client {
        self.slots
            .max
            .store(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
        self
    }

    /// Which API this client speaks.
    pub fn api_mode(&self) -> ApiMode {
        self.api
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

    /// `$edit` PUT (partial update) or DELETE in REST; the mutation in GraphQL. A record that
    /// does not exist is `Rejected` with status 404 (REST) or X3's message (GraphQL). Returns
    /// what X3 answered: the record after the update (REST), the mutation's `data` (GraphQL),
    /// `Null` for a delete — X3 leaves alone a property its representation does not take, so
    /// the caller reads the answer.
    pub fn edit(&self, req: &EditRequest) -> Result<Value> {
        let r = match self.api {
            ApiMode::Rest if req.rest_body.is_empty() => self.delete_rest(req),
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
            ApiMode::Graphql => self.edit_graphql(req),
        };
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

    // ---- ping ----

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
}

#[cfg(test)]
mod tests {
    use super::graphql::is_mutation;
    use super::rest::pct;
    use super::*;

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

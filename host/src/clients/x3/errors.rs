//! [`X3Error`] and how a failure is sorted into it: below HTTP (DNS, connect, TLS, timeouts),
//! by status, by X3's `$diagnoses` and GraphQL `errors` — retry as is, look up first, park,
//! fix the credentials or the settings; and the scrubbing of secrets out of every message
//! leaving the client.

use std::io;
use std::time::Duration;

use serde_json::Value;

use super::auth::Cred;
use super::transport::Answer;
use super::{Op, Result, X3Client, lock};

/// Longest piece of a non-JSON body quoted in an error message.
const SNIPPET: usize = 200;

/// Shortest secret scrubbed from messages (see [`X3Client::redact`]).
const MIN_REDACTED: usize = 4;

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

// What an answer means (the type and its reading are in `transport`).
impl Answer {
    /// X3's `$diagnoses` with severity error or fatal, anywhere in a JSON body, that say what
    /// was wrong with the request — not a generic technical failure ("Internal server error",
    /// "no session available"), which stays a failure of unknown outcome.
    pub(super) fn has_error_diagnoses(&self) -> bool {
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

    /// What the server said, for a message: X3's diagnoses, GraphQL errors, a gateway
    /// `message`, an HTML page's title, or the start of the body.
    pub(super) fn said(&self) -> String {
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

impl X3Client {
    /// Sorts a failure below HTTP. Only what certainly happened before the request left is
    /// `Transient` for a write; anything later is ambiguous (see [`Op`]).
    pub(super) fn transport_error(&self, e: ureq::Error, op: Op, target: &str) -> X3Error {
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
    pub(super) fn status_error(&self, a: &Answer, op: Op, what: &str) -> X3Error {
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

    pub(super) fn auth_refused(&self, a: &Answer, after_renewal: bool) -> X3Error {
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

    // ---- secrets ----

    /// Applies [`X3Client::redact`] to an error leaving the client.
    pub(super) fn finish<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| e.map_message(|m| self.redact(m)))
    }

    /// Blanks every secret and live token out of a text (defence in depth: messages are built
    /// without them, but an echoing proxy or a future edit could slip one in).
    pub(super) fn redact(&self, mut text: String) -> String {
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

/// A read X3 refused, with the name it did not know first when X3 said it the usual way
/// (`WEB : Property does not exist (where clause)`).
pub(super) fn misconfigured(what: &str, said: &str) -> String {
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

pub(super) fn ambiguous(op: Op, message: String) -> X3Error {
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

/// Every `$message` of X3's `$diagnoses`, wherever they sit: on the resource, under
/// `$properties.<field>` (prefixed with the field) or `$actions.<action>`, in lines (§1.6).
/// `errors_only` keeps severities `error` and `fatal`.
pub(super) fn diagnoses(v: &Value, errors_only: bool) -> Vec<String> {
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
pub(super) fn graphql_errors(v: &Value) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
}

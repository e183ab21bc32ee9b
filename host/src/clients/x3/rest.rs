//! The REST api1 side (Syracuse/SData, x3-api.md §1): the polling query, `$details`, the
//! partial update and delete, the create and lookup of a document, the connection test, the
//! URLs (keys and values percent-encoded) and the paging along `$links.$next`.

use std::collections::HashSet;

use serde_json::Value;

use super::errors::diagnoses;
use super::{
    CreateRequest, EditRequest, Found, LookupRequest, MAX_PAGES, Op, Result, X3Client, X3Error,
    key_string,
};

/// Rows asked per REST page (`count`; X3's default is 20, §1.3).
const PAGE_SIZE: usize = 100;

impl X3Client {
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

    /// The DELETE of an [`EditRequest`] without a body (see [`X3Client::edit`]).
    pub(super) fn delete_rest(&self, req: &EditRequest) -> Result<Value> {
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
    }

    pub(super) fn create_rest(&self, req: &CreateRequest) -> Result<String> {
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

    pub(super) fn lookup_rest(&self, req: &LookupRequest) -> Result<Vec<Found>> {
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

    pub(super) fn ping_rest(&self, class: &str, representation: &str) -> Result<String> {
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
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `keep` (a space becomes
/// `%20`, which every server decodes, unlike `+`).
pub(super) fn pct(s: &str, keep: &[u8]) -> String {
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

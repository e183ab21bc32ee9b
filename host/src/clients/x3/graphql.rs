//! The GraphQL side ("Sage X3 Services", `POST /xtrem/api`, x3-api.md §3): the raw call, the
//! create, lookup and edit of a document, the connection test, and reading keys out of
//! `data` (the created node, `edges[].node` of a connection, cursors for the next page).

use std::collections::{HashSet, VecDeque};

use serde_json::{Value, json};

use super::errors::{ambiguous, graphql_errors, misconfigured};
use super::transport::Answer;
use super::{
    CreateRequest, EditRequest, Found, LookupRequest, MAX_PAGES, Op, Result, X3Client, X3Error,
    key_string,
};

impl X3Client {
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

    pub(super) fn create_graphql(&self, req: &CreateRequest) -> Result<String> {
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

    pub(super) fn lookup_graphql(&self, req: &LookupRequest) -> Result<Vec<Found>> {
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

    /// The mutation of an [`EditRequest`] (see [`X3Client::edit`]).
    pub(super) fn edit_graphql(&self, req: &EditRequest) -> Result<Value> {
        let vars: Value = if req.graphql_variables.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_str(req.graphql_variables)
                .map_err(|e| X3Error::Config(format!("the mutation variables are not JSON: {e}")))?
        };
        self.graphql_data(req.graphql_mutation, &vars, Op::Write, "GraphQL edit")
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

    pub(super) fn ping_graphql(&self) -> Result<String> {
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

pub(super) fn is_mutation(query: &str) -> bool {
    query
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("mutation"))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

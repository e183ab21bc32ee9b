//! The X3 names in force, as the core resolves them from `[x3.wire]` (`orders#wire-names`),
//! for the parts of the host that read X3 records themselves: polling, reconciliation, the
//! connection test and `config check`. The documents the host sends are rendered by the core.
//!
//! Records read from X3 are handed on with their fields under the *default* REST codes (the
//! names the code reads, `SOHNUM`, `CUSORDREF`…), whatever a site renamed them to.

use std::collections::HashMap;

use anyhow::{Result, anyhow};
use serde_json::{Map, Value};

use crate::component::{CoreRuntime, orders};

/// Every name with the site's overrides applied.
#[derive(Debug, Clone, Default)]
pub struct Names {
    names: Vec<orders::WireName>,
    index: HashMap<String, usize>,
}

impl Names {
    /// The names in force for `settings` (its `wire` overrides); an unknown key or a malformed
    /// name is an error naming it.
    pub fn resolve(core: &CoreRuntime, settings: &orders::Settings) -> Result<Names> {
        let names = core
            .orders()
            .wire_names(&settings.wire)?
            .map_err(|e| match e {
                orders::Error::InvalidSettings(m)
                | orders::Error::InvalidOrder(m)
                | orders::Error::InvalidJson(m)
                | orders::Error::RestError(m) => anyhow!("{m}"),
                orders::Error::LegacyPayload => anyhow!("x3.wire"),
            })?;
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.key.clone(), i))
            .collect();
        Ok(Names { names, index })
    }

    /// The name in force for `key` (empty for a key the core does not have: a bug the tests
    /// catch, never a panic).
    pub fn get(&self, key: &str) -> &str {
        self.index
            .get(key)
            .map_or("", |&i| self.names[i].value.as_str())
    }

    fn default_of(&self, key: &str) -> &str {
        self.index
            .get(key)
            .map_or("", |&i| self.names[i].default_value.as_str())
    }

    /// `(package, node)` of a GraphQL node key (`graphql.order.node`).
    pub fn node(&self, key: &str) -> (&str, &str) {
        self.get(key).split_once('.').unwrap_or(("", ""))
    }

    /// Every name, in key order (for `config check` and the admin API).
    pub fn all(&self) -> &[orders::WireName] {
        &self.names
    }

    /// A field of `rest_key`/`graphql_key` pairs: the name the host's code reads (the default
    /// REST code), the REST name in force and the GraphQL property in force.
    pub fn field(&self, rest_key: &str, graphql_key: &str) -> Field {
        Field {
            canonical: self.default_of(rest_key).to_string(),
            rest: self.get(rest_key).to_string(),
            graphql: self.get(graphql_key).to_string(),
        }
    }
}

/// One field as read from X3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The default REST code: what the host's code looks records up by.
    pub canonical: String,
    pub rest: String,
    pub graphql: String,
}

/// A REST record with `fields` renamed to their canonical codes; other fields kept as they are.
pub fn canonical_rest(mut record: Map<String, Value>, fields: &[Field]) -> Map<String, Value> {
    for f in fields {
        if f.rest != f.canonical
            && let Some(v) = record.remove(&f.rest)
        {
            record.insert(f.canonical.clone(), v);
        }
    }
    record
}

/// A GraphQL node's `fields` under their canonical codes. A reference sub-selected as
/// `{ code }` gives its code.
pub fn canonical_graphql(node: &Value, fields: &[Field]) -> Map<String, Value> {
    let mut out = Map::new();
    for f in fields {
        let v = match &node[f.graphql.as_str()] {
            Value::Object(m) => m.get("code").cloned().unwrap_or(Value::Null),
            v => v.clone(),
        };
        out.insert(f.canonical.clone(), v);
    }
    out
}

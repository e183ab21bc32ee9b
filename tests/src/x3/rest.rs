//! REST api1 (Syracuse / SData 2.0 dialect, x3-api.md §1):
//! `/api1/x3/erp/{FOLDER}/{CLASS}?representation={REP}.$query|$lookup|$create`,
//! `/{CLASS}('KEY')?representation={REP}.$details|$edit` (also `("KEY")`, `~` composite keys),
//! `/{CLASS}/$template?representation={REP}.$create`.
//!
//! Status codes: unknown `where` property or unparsable `where`/`orderBy`/`key` → 500 (fact,
//! §1.3); business refusals → 500 (fact, §7 and §10 item 13; `business_error_status` switches it);
//! unknown key → 404, unknown folder/class → 404, wrong or missing representation/facet or a body
//! that is not a JSON object → 400, wrong method for the facet → 405 (these are our choice: the
//! reference only says "4xx/5xx with `$diagnoses`", §1.6).

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::X3Config;
use super::schema::{FieldDef, Kind, NodeDef, Ty};
use super::sdata::{self, Val, compare, field_val};
use super::store::{BizErr, ErrKind, Rec, Store, key_cmp, key_of};
use super::util::uuid;
use crate::http::{Request, Response};

/// Default `count` of `$query` (x3-api.md §1.3, D1).
pub const DEFAULT_COUNT: usize = 20;

/// What a REST call did, so the caller can apply "commit then time out" and save state.
pub struct Outcome {
    pub resp: Response,
    pub created: bool,
    pub wrote: bool,
}

pub fn diag(status: u16, msg: impl Into<String>) -> Response {
    Response::json(
        status,
        &json!({"$diagnoses":[{"$severity":"error","$message":msg.into()}]}),
    )
}

fn plain(resp: Response) -> Outcome {
    Outcome {
        resp,
        created: false,
        wrote: false,
    }
}

/// A refused write: business rules answer `business_error_status` (500 by default, as X3 does,
/// x3-api.md §7), a missing record 404.
fn biz(cfg: &X3Config, e: BizErr) -> Outcome {
    let status = match e.kind {
        ErrKind::Business => cfg.business_error_status,
        ErrKind::NotFound => 404,
    };
    plain(diag(status, e.message))
}

/// Undo the quoting of `('KEY')`/`("KEY")`: `''` inside single quotes is one quote.
fn parse_key(inner: &str) -> String {
    let inner = inner.trim();
    if let Some(s) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        s.replace("''", "'")
    } else if let Some(s) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        s.to_string()
    } else {
        inner.to_string()
    }
}

fn quote_key(key: &str) -> String {
    format!("('{}')", key.replace('\'', "''"))
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Percent-encode for a path segment, keeping the characters SData keys use as they are.
fn path_enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~'()!*$,;:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn details_url(base: &str, cfg: &X3Config, kind: Kind, key: &str) -> String {
    let (class, rep) = cfg.classes.get(kind);
    format!(
        "{base}/api1/x3/erp/{}/{class}{}?representation={}.%24details",
        cfg.folder,
        path_enc(&quote_key(key)),
        enc(rep)
    )
}

/// The `$details` form: `$uuid`, `$etag` (the update stamp, as in D2's example), `$key`,
/// `$url`, then field codes and lines.
fn details(base: &str, cfg: &X3Config, kind: Kind, rec: &Rec) -> Value {
    let key = key_of(kind.def(), rec);
    let mut m = Map::new();
    m.insert(
        "$uuid".into(),
        rec.get("$uuid").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "$etag".into(),
        rec.get("UPDDATTIM").cloned().unwrap_or(Value::Null),
    );
    m.insert("$key".into(), Value::String(key.clone()));
    m.insert(
        "$url".into(),
        Value::String(details_url(base, cfg, kind, &key)),
    );
    for (k, v) in rec {
        if k != "$uuid" {
            m.insert(k.clone(), v.clone());
        }
    }
    Value::Object(m)
}

/// Handle a request whose path starts with `/api1/x3/erp/`; `rest` is what follows.
pub fn handle(
    req: &Request,
    rest: &str,
    cfg: &X3Config,
    store: &mut Store,
    now: i64,
    base: &str,
) -> Outcome {
    let (folder, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if folder != cfg.folder {
        return plain(diag(404, format!("Endpoint '{folder}' does not exist")));
    }
    let (target, sub) = match tail.split_once('/') {
        Some((t, s)) => (t, Some(s)),
        None => (tail, None),
    };
    let (class, key) = match target.find('(') {
        Some(i) if target.ends_with(')') => (
            &target[..i],
            Some(parse_key(&target[i + 1..target.len() - 1])),
        ),
        Some(_) => return plain(diag(400, format!("Invalid resource '{target}'"))),
        None => (target, None),
    };
    let Some(kind) = cfg.classes.kind_of(class) else {
        return plain(diag(404, format!("Class '{class}' does not exist")));
    };
    if let Some(proto) = sub.and_then(|s| s.strip_prefix("$prototypes(")) {
        if req.method != "GET" {
            return plain(diag(405, "Method not allowed on $prototypes").header("Allow", "GET"));
        }
        let Some(inner) = proto.strip_suffix(')') else {
            return plain(diag(
                400,
                format!("Invalid resource '{}'", sub.unwrap_or("")),
            ));
        };
        let name = parse_key(inner);
        let (rep, facet) = match name.rfind(".$") {
            Some(i) => (&name[..i], &name[i + 1..]),
            None => (name.as_str(), ""),
        };
        let (_, want_rep) = cfg.classes.get(kind);
        if rep != want_rep {
            return plain(diag(
                400,
                format!("Representation '{rep}' does not exist for class '{class}'"),
            ));
        }
        if !FACETS.contains(&facet) {
            return plain(diag(400, format!("Unknown facet '{facet}'")));
        }
        if !cfg.facet_allowed(class, facet) {
            return plain(facet_refused(rep, facet));
        }
        let url = format!("{base}{}", req.path);
        return plain(Response::json(
            200,
            &prototypes(store.def(kind), &name, facet, &url),
        ));
    }
    let Some(representation) = req.param("representation") else {
        return plain(diag(400, "The representation parameter is mandatory"));
    };
    let (rep, facet) = match representation.rfind(".$") {
        Some(i) => (&representation[..i], &representation[i + 1..]),
        None => (representation, ""),
    };
    let (_, want_rep) = cfg.classes.get(kind);
    if rep != want_rep {
        return plain(diag(
            400,
            format!("Representation '{rep}' does not exist for class '{class}'"),
        ));
    }
    if FACETS.contains(&facet) && !cfg.facet_allowed(class, facet) {
        return plain(facet_refused(rep, facet));
    }
    let m = req.method.as_str();
    match (sub, key, facet, m) {
        (Some("$template"), None, "$create", "GET") => plain(template(store.def(kind))),
        (Some(s), _, _, _) => plain(diag(404, format!("Unknown resource '{s}'"))),
        (None, None, "$query" | "$lookup", "GET") => query(req, cfg, store, kind, base),
        (None, None, "$create", "POST") => create(req, cfg, store, kind, now, base),
        (None, Some(k), "$details" | "$edit", "GET") => match store.get(kind, &k) {
            Some(r) => plain(Response::json(200, &details(base, cfg, kind, r))),
            None => plain(diag(404, format!("{k}: Record does not exist"))),
        },
        (None, Some(k), "$edit", "PUT") => {
            let body = match req.json() {
                Ok(Value::Object(o)) => o,
                Ok(_) => return plain(diag(400, "A JSON object is expected")),
                Err(e) => return plain(diag(400, e)),
            };
            match store.update(kind, &k, &body, now) {
                Ok(()) => Outcome {
                    resp: Response::json(
                        200,
                        &store
                            .get(kind, &k)
                            .map(|r| details(base, cfg, kind, r))
                            .unwrap_or_default(),
                    ),
                    created: false,
                    wrote: true,
                },
                Err(e) => biz(cfg, e),
            }
        }
        (None, Some(k), "$edit", "DELETE") => match store.delete(kind, &k) {
            Ok(()) => Outcome {
                resp: Response::json(
                    200,
                    &json!({"$diagnoses":[{"$severity":"success","$message":"Resource has been deleted"}]}),
                ),
                created: false,
                wrote: true,
            },
            Err(e) => biz(cfg, e),
        },
        (None, _, "$query" | "$lookup" | "$create" | "$details" | "$edit", _) => plain(
            diag(
                405,
                format!("Method {m} is not allowed on facet {facet} here"),
            )
            .header("Allow", "GET, POST, PUT, DELETE"),
        ),
        _ => plain(diag(400, format!("Unknown facet '{facet}'"))),
    }
}

/// A facet the representation does not expose (`facets`; the standard SORDER representation has
/// Detail, Query and Lookup only, §1.8). 400, like an unknown facet: our choice, UNCONFIRMED.
fn facet_refused(rep: &str, facet: &str) -> Response {
    diag(
        400,
        format!("The facet {facet} is not available on representation {rep}"),
    )
}

/// The facets a representation can have (§1.1; `$summary` is not simulated).
const FACETS: [&str; 5] = ["$query", "$lookup", "$details", "$edit", "$create"];

/// One field in `$prototypes` form: `$type`, `$maxLength`, `$isMandatory` (§1.1, D3), and for a
/// dimensioned field `$maxItems` and `$item` (ours, UNCONFIRMED).
fn field_proto(f: &FieldDef, read_only: bool) -> Value {
    let mut m = Map::new();
    m.insert("$type".into(), Value::String(f.ty.sdata_type().into()));
    match f.ty {
        Ty::Str(n) => {
            m.insert("$maxLength".into(), Value::from(n));
        }
        Ty::Arr(n, len) => {
            m.insert("$maxItems".into(), Value::from(n));
            m.insert(
                "$item".into(),
                json!({"$type": Ty::Str(len).sdata_type(), "$maxLength": len}),
            );
        }
        _ => {}
    }
    if f.mandatory {
        m.insert("$isMandatory".into(), Value::Bool(true));
    }
    if read_only {
        m.insert("$isReadOnly".into(), Value::Bool(true));
    }
    Value::Object(m)
}

fn props_proto(fields: &[FieldDef], read_only: &[&str], create: bool) -> Map<String, Value> {
    fields
        .iter()
        .filter(|f| !(create && read_only.contains(&f.code)))
        .map(|f| {
            (
                f.code.to_string(),
                field_proto(f, read_only.contains(&f.code)),
            )
        })
        .collect()
}

/// `GET {CLASS}/$prototypes('{REP}.$facet')` (§1.1): the properties with their types and limits,
/// from the same table the simulator checks bodies against. The `$create` prototype leaves out
/// computed fields, as the template does.
fn prototypes(def: &NodeDef, name: &str, facet: &str, url: &str) -> Value {
    let create = facet == "$create";
    let mut props = props_proto(def.fields, def.read_only, create);
    for c in def.collections {
        props.insert(
            c.code.into(),
            json!({
                "$type": "application/x-array",
                "$isMandatory": true,
                "$item": {"$properties": props_proto(c.line.fields, c.line.read_only, create)},
            }),
        );
    }
    json!({"$url": url, "$prototype": name, "$properties": props})
}

fn template(def: &NodeDef) -> Response {
    let mut m = Map::new();
    m.insert("$uuid".into(), Value::String(uuid()));
    for f in def.fields {
        if def.read_only.contains(&f.code) {
            continue;
        }
        let v = match f.ty {
            Ty::Int | Ty::Dec => Value::from(0),
            Ty::Arr(n, _) => Value::Array(vec![Value::String(String::new()); n]),
            _ => Value::String(String::new()),
        };
        m.insert(f.code.into(), v);
    }
    for c in def.collections {
        m.insert(c.code.into(), Value::Array(Vec::new()));
    }
    Response::json(200, &Value::Object(m))
}

fn create(
    req: &Request,
    cfg: &X3Config,
    store: &mut Store,
    kind: Kind,
    now: i64,
    base: &str,
) -> Outcome {
    let body = match req.json() {
        Ok(Value::Object(o)) => o,
        Ok(_) => return plain(diag(400, "A JSON object is expected")),
        Err(e) => return plain(diag(400, e)),
    };
    match store.create(kind, &body, now) {
        Ok(key) => {
            let rec = store.get(kind, &key).cloned().unwrap_or_default();
            Outcome {
                resp: Response::json(201, &details(base, cfg, kind, &rec))
                    .header("Location", details_url(base, cfg, kind, &key)),
                created: true,
                wrote: true,
            }
        }
        Err(e) => biz(cfg, e),
    }
}

fn query(req: &Request, cfg: &X3Config, store: &Store, kind: Kind, base: &str) -> Outcome {
    let def = store.def(kind);
    let count = match req.param("count") {
        None => DEFAULT_COUNT,
        Some(c) => match c.trim().parse::<usize>() {
            Ok(0) => DEFAULT_COUNT,
            Ok(n) => n,
            Err(_) => return plain(diag(400, format!("Invalid count '{c}'"))),
        },
    };
    let filter = match req.param("where").filter(|w| !w.trim().is_empty()) {
        None => None,
        Some(w) => match sdata::parse_where(w, def) {
            Ok(e) => Some(e),
            Err(msg) => return plain(diag(500, msg)),
        },
    };
    let order = match req.param("orderBy").filter(|o| !o.trim().is_empty()) {
        None => Vec::new(),
        Some(o) => match sdata::parse_order_by(o, def) {
            Ok(v) => v,
            Err(msg) => return plain(diag(500, msg)),
        },
    };
    let key_cond = match req.param("key") {
        None => None,
        Some(k) => match k.split_once('.') {
            Some((op @ ("gt" | "ge" | "lt" | "le" | "eq" | "ne"), v)) => {
                Some((op.to_string(), parse_key(v)))
            }
            _ => return plain(diag(500, format!("Invalid key condition '{k}'"))),
        },
    };
    let start = req
        .param("startIndex")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let mut rows: Vec<(String, &Rec)> = store
        .all(kind)
        .into_iter()
        .map(|r| (key_of(def, r), r))
        .filter(|(k, r)| {
            let key_ok = key_cond.as_ref().is_none_or(|(op, v)| {
                let o = key_cmp(def, k, v);
                match op.as_str() {
                    "gt" => o == Ordering::Greater,
                    "ge" => o != Ordering::Less,
                    "lt" => o == Ordering::Less,
                    "le" => o != Ordering::Greater,
                    "eq" => o == Ordering::Equal,
                    _ => o != Ordering::Equal,
                }
            });
            key_ok && filter.as_ref().is_none_or(|e| sdata::matches(e, def, r))
        })
        .collect();
    if !order.is_empty() {
        rows.sort_by(|(ka, a), (kb, b)| {
            for (f, desc) in &order {
                let (x, y) = (field_val(def, a, f), field_val(def, b, f));
                let o = match (&x, &y) {
                    (Val::Null, Val::Null) => Ordering::Equal,
                    (Val::Null, _) => Ordering::Less,
                    (_, Val::Null) => Ordering::Greater,
                    _ => compare(&x, &y).unwrap_or(Ordering::Equal),
                };
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            key_cmp(def, ka, kb)
        });
    }
    let skip = start - 1;
    let has_next = rows.len() > skip + count;
    let page: Vec<&(String, &Rec)> = rows.iter().skip(skip).take(count).collect();
    let (class, rep) = cfg.classes.get(kind);
    let resources: Vec<Value> = page
        .iter()
        .map(|(k, r)| {
            let mut m = Map::new();
            m.insert(
                "$uuid".into(),
                r.get("$uuid").cloned().unwrap_or(Value::Null),
            );
            m.insert("$key".into(), Value::String(k.clone()));
            m.insert(
                "$url".into(),
                Value::String(details_url(base, cfg, kind, k)),
            );
            m.insert(
                "$etag".into(),
                r.get("UPDDATTIM").cloned().unwrap_or(Value::Null),
            );
            // The query facet shows header fields; lines are on $details.
            for (f, v) in r.iter() {
                if f != "$uuid" && def.field(f).is_some() {
                    m.insert(f.clone(), v.clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    let self_url = format!("{base}{}?{}", req.path, req.raw_query);
    let mut links = Map::new();
    if has_next {
        // Keyset paging (`key=gt.<last key>`, as real clients page, §1.3) when the order is the
        // key order; an index otherwise, since a key bound means nothing under another order.
        let keyset = order.is_empty()
            || (order.len() == 1
                && def.keys.len() == 1
                && order[0] == (def.keys[0].to_string(), false));
        let mut params: Vec<(String, String)> = req
            .query
            .iter()
            .filter(|(k, _)| k != "key" && k != "startIndex" && k != "count")
            .cloned()
            .collect();
        params.push(("count".into(), count.to_string()));
        if keyset {
            let last = page.last().map(|(k, _)| k.clone()).unwrap_or_default();
            if let Some((op, _)) = &key_cond
                && op != "gt"
                && op != "ge"
            {
                // Keep an upper bound the client set; X3 accepts one key condition, we page by index.
                params.push((
                    "key".into(),
                    req.param("key").unwrap_or_default().to_string(),
                ));
                params.push(("startIndex".into(), (skip + count + 1).to_string()));
            } else {
                params.push(("key".into(), format!("gt.{last}")));
            }
        } else {
            if let Some(k) = req.param("key") {
                params.push(("key".into(), k.to_string()));
            }
            params.push(("startIndex".into(), (skip + count + 1).to_string()));
        }
        let qs = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        links.insert(
            "$next".into(),
            json!({ "$url": format!("{base}{}?{qs}", req.path) }),
        );
    }
    let body = json!({
        "$url": self_url,
        "$descriptor": format!("{class} ({rep})"),
        "$startIndex": start,
        "$itemsPerPage": count,
        "$resources": resources,
        "$links": links,
    });
    plain(Response::json(200, &body))
}

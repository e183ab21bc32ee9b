//! GraphQL at `POST /xtrem/api` (x3-api.md §3): executes `x3MasterData{customer,product}`,
//! `x3Sales{salesOrder,salesInvoice,salesDelivery}`, `x3StockData{stock}` and
//! `x3Stock{miscellaneousReceipt,miscellaneousIssue}` operations against the same store as REST, through the field-code ↔ property-name tables of `schema`.
//!
//! Shapes: `query(first, after, filter, orderBy){totalCount edges{cursor node{…}} pageInfo{…}}`,
//! `read(_id:)`, mutations `create(data:)`, `update(data:)`, `delete(_id:)`; collections inside a
//! node are connections (`lines{query{edges{node{…}}}}`); only selected fields are returned;
//! references show as their code, or `{_id code id}` when sub-selected. Cursors are
//! `<JSON array of sort values>#<position>` like Sage's `["AE020"]#73` (§3.3).

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::gqlparse::{Field, OpKind, parse};
use super::schema::{CollDef, Conv, GqlProp, Kind, LineDef, NodeDef, is_package, node_by_gql};
use super::store::{Rec, Store, key_of, scalar_str};
use super::xfilter;

/// Default page size of `query` when `first` is absent (UNCONFIRMED in the reference, §3.3).
pub const DEFAULT_FIRST: usize = 20;

fn set_path(m: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            m.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            let e = m
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(sub) = e {
                set_path(sub, rest, v);
            }
        }
    }
}

fn props_view(props: &[GqlProp], rec: &Rec, m: &mut Map<String, Value>) {
    for p in props {
        let mut v = rec.get(p.code).cloned().unwrap_or(Value::Null);
        if p.conv == Conv::YesNo {
            v = match v.as_i64() {
                Some(2) => Value::Bool(true),
                Some(1) => Value::Bool(false),
                _ => Value::Null,
            };
        }
        set_path(m, p.path, v);
    }
}

fn line_view(line: &LineDef, parent: &str, l: &Rec) -> Value {
    let mut m = Map::new();
    let id = match line.line_no.and_then(|f| scalar_str(l.get(f))) {
        Some(n) => format!("{parent}|{n}"),
        None => scalar_str(l.get("$uuid")).unwrap_or_default(),
    };
    m.insert("_id".into(), Value::String(id));
    props_view(line.gql, l, &mut m);
    Value::Object(m)
}

/// The GraphQL view of a record: every property (null when unset), lines as arrays.
pub fn node_view(def: &NodeDef, rec: &Rec) -> Value {
    let key = key_of(def, rec);
    let mut m = Map::new();
    m.insert("_id".into(), Value::String(key.clone()));
    props_view(def.gql, rec, &mut m);
    for c in def.collections {
        let lines = match rec.get(c.code) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_object)
                .map(|l| line_view(c.line, &key, l))
                .collect(),
            _ => Vec::new(),
        };
        m.insert(c.gql.into(), Value::Array(lines));
    }
    let upd = rec.get("UPDDATTIM").cloned().unwrap_or(Value::Null);
    m.insert(
        "_createStamp".into(),
        rec.get("CREDATTIM").cloned().unwrap_or(Value::Null),
    );
    m.insert("_updateStamp".into(), upd.clone());
    m.insert("_etag".into(), upd);
    Value::Object(m)
}

fn input_props(
    props: &[GqlProp],
    colls: &[CollDef],
    data: &Map<String, Value>,
    prefix: &str,
    out: &mut Map<String, Value>,
) -> Result<(), String> {
    for (k, v) in data {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if prefix.is_empty() && k == "_id" {
            continue;
        }
        if prefix.is_empty()
            && let Some(cd) = colls.iter().find(|c| c.gql == k)
        {
            let arr = v
                .as_array()
                .ok_or(format!("{k}: a list of lines expected"))?;
            let mut lines = Vec::new();
            for l in arr {
                let obj = l.as_object().ok_or(format!("{k}: lines must be objects"))?;
                let mut lo = Map::new();
                input_props(cd.line.gql, &[], obj, "", &mut lo)?;
                lines.push(Value::Object(lo));
            }
            out.insert(cd.code.into(), Value::Array(lines));
            continue;
        }
        if let Some(p) = props.iter().find(|p| p.path == path) {
            let val = match (p.conv, v) {
                (Conv::Ref, Value::Object(o)) => o
                    .get("_id")
                    .or_else(|| o.get("code"))
                    .or_else(|| o.get("id"))
                    .cloned()
                    .unwrap_or(Value::Null),
                (Conv::YesNo, Value::Bool(b)) => Value::from(if *b { 2 } else { 1 }),
                (_, other) => other.clone(),
            };
            out.insert(p.code.into(), val);
        } else if let Value::Object(sub) = v
            && props
                .iter()
                .any(|p| p.path.starts_with(&format!("{path}.")))
        {
            input_props(props, &[], sub, &path, out)?;
        } else {
            return Err(format!("{path}: unknown property"));
        }
    }
    Ok(())
}

/// GraphQL `data` (property names) → REST body (field codes).
pub fn input_to_rest(def: &NodeDef, data: &Value) -> Result<Map<String, Value>, String> {
    let obj = data.as_object().ok_or("data: an input object expected")?;
    let mut out = Map::new();
    input_props(def.gql, def.collections, obj, "", &mut out)?;
    Ok(out)
}

/// What executing one request did, for the caller's faults and state file.
#[derive(Debug, Default)]
pub struct Outcome {
    pub created: bool,
    pub wrote: bool,
    /// The operations reached, `package.node.operation` (`x3MasterData.customer.update`), for
    /// the simulator's call counts.
    pub ops: Vec<String>,
}

struct Ctx<'a> {
    store: &'a mut Store,
    vars: Map<String, Value>,
    now: i64,
    out: Outcome,
}

/// Execute a request body; returns the JSON answer (always HTTP 200, see docs) and what changed.
pub fn execute(store: &mut Store, body: &Value, now: i64) -> (Value, Outcome) {
    let mut ctx = Ctx {
        store,
        vars: Map::new(),
        now,
        out: Outcome::default(),
    };
    match run(&mut ctx, body) {
        Ok(data) => (json!({ "data": data }), ctx.out),
        Err(msg) => (
            json!({ "errors": [ { "message": msg } ], "data": null }),
            ctx.out,
        ),
    }
}

fn run(ctx: &mut Ctx, body: &Value) -> Result<Value, String> {
    let text = body
        .get("query")
        .and_then(Value::as_str)
        .ok_or("Must provide query string.")?;
    let op_name = body.get("operationName").and_then(Value::as_str);
    let op = parse(text, op_name)?;
    let mut vars = match body.get("variables") {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::Null) | None => Map::new(),
        Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
        Some(Value::String(s)) => {
            serde_json::from_str(s).map_err(|e| format!("Variables are invalid JSON: {e}"))?
        }
        Some(_) => return Err("Variables must be an object.".into()),
    };
    for (name, default) in &op.var_defaults {
        if !vars.contains_key(name)
            && let Some(d) = default
        {
            vars.insert(name.clone(), d.to_json(&Map::new()));
        }
    }
    ctx.vars = vars;
    let root = if op.kind == OpKind::Query {
        "Query"
    } else {
        "Mutation"
    };
    // Validate the whole document first (as GraphQL servers do), so a bad selection fails even
    // when there is no data, and a mutation never half-runs.
    validate(ctx.store, &op.sel, op.kind, root)?;
    let mut data = Map::new();
    for f in &op.sel {
        if f.name == "__typename" {
            data.insert(f.out_name().into(), Value::String(root.into()));
            continue;
        }
        if !is_package(&f.name) {
            return Err(format!(
                "Cannot query field \"{}\" on type \"{root}\".",
                f.name
            ));
        }
        let mut pkg = Map::new();
        for nf in &f.sel {
            if nf.name == "__typename" {
                pkg.insert(nf.out_name().into(), Value::String(f.name.clone()));
                continue;
            }
            let kind = node_by_gql(&f.name, &nf.name).ok_or(format!(
                "Cannot query field \"{}\" on type \"{}\".",
                nf.name, f.name
            ))?;
            let mut node = Map::new();
            for opf in &nf.sel {
                if opf.name != "__typename" {
                    ctx.out
                        .ops
                        .push(format!("{}.{}.{}", f.name, nf.name, opf.name));
                }
                let v = match (op.kind, opf.name.as_str()) {
                    (_, "__typename") => Value::String(kind.def().type_name.into()),
                    (OpKind::Query, "query") => query(ctx, kind, opf)?,
                    (OpKind::Query, "read") => read(ctx, kind, opf)?,
                    (OpKind::Mutation, "create") => create(ctx, kind, opf)?,
                    (OpKind::Mutation, "update") => update(ctx, kind, opf)?,
                    (OpKind::Mutation, "delete") => delete(ctx, kind, opf)?,
                    _ => {
                        return Err(format!(
                            "Cannot query field \"{}\" on type \"{}\".",
                            opf.name,
                            kind.def().type_name
                        ));
                    }
                };
                node.insert(opf.out_name().into(), v);
            }
            pkg.insert(nf.out_name().into(), Value::Object(node));
        }
        data.insert(f.out_name().into(), Value::Object(pkg));
    }
    Ok(Value::Object(data))
}

fn arg(ctx: &Ctx, f: &Field, name: &str) -> Value {
    f.arg(name).map_or(Value::Null, |v| v.to_json(&ctx.vars))
}

fn query(ctx: &mut Ctx, kind: Kind, f: &Field) -> Result<Value, String> {
    let def = ctx.store.def(kind);
    let items: Vec<Value> = ctx
        .store
        .all(kind)
        .into_iter()
        .map(|r| node_view(def, r))
        .collect();
    connection(ctx, items, f, def.type_name, def.gql, def.collections)
}

fn read(ctx: &mut Ctx, kind: Kind, f: &Field) -> Result<Value, String> {
    let def = ctx.store.def(kind);
    let id = scalar_str(Some(&arg(ctx, f, "_id"))).ok_or("read: argument _id is required")?;
    match ctx.store.get(kind, &id) {
        Some(r) => project(
            ctx,
            &node_view(def, r),
            &f.sel,
            def.type_name,
            def.collections,
        ),
        None => Ok(Value::Null),
    }
}

fn create(ctx: &mut Ctx, kind: Kind, f: &Field) -> Result<Value, String> {
    let def = ctx.store.def(kind);
    let data = input_to_rest(def, &arg(ctx, f, "data"))?;
    let key = ctx
        .store
        .create(kind, &data, ctx.now)
        .map_err(|e| e.message)?;
    ctx.out.created = true;
    ctx.out.wrote = true;
    let rec = ctx.store.get(kind, &key).cloned().unwrap_or_default();
    project(
        ctx,
        &node_view(def, &rec),
        &f.sel,
        def.type_name,
        def.collections,
    )
}

fn update(ctx: &mut Ctx, kind: Kind, f: &Field) -> Result<Value, String> {
    let def = ctx.store.def(kind);
    let raw = arg(ctx, f, "data");
    let data = input_to_rest(def, &raw)?;
    let key = scalar_str(raw.get("_id"))
        .or_else(|| {
            let k = key_of(def, &data);
            (!k.replace('~', "").is_empty()).then_some(k)
        })
        .ok_or("update: the key (or _id) is required in data")?;
    ctx.store
        .update(kind, &key, &data, ctx.now)
        .map_err(|e| e.message)?;
    ctx.out.wrote = true;
    let rec = ctx.store.get(kind, &key).cloned().unwrap_or_default();
    project(
        ctx,
        &node_view(def, &rec),
        &f.sel,
        def.type_name,
        def.collections,
    )
}

fn delete(ctx: &mut Ctx, kind: Kind, f: &Field) -> Result<Value, String> {
    let id = scalar_str(Some(&arg(ctx, f, "_id"))).ok_or("delete: argument _id is required")?;
    ctx.store.delete(kind, &id).map_err(|e| e.message)?;
    ctx.out.wrote = true;
    Ok(Value::Bool(true))
}

fn get_path<'a>(v: &'a Value, path: &[String]) -> &'a Value {
    let mut cur = v;
    for seg in path {
        cur = match cur {
            Value::Object(m) => m.get(seg).unwrap_or(&Value::Null),
            // A reference shown as its code.
            Value::String(_) | Value::Number(_)
                if matches!(seg.as_str(), "_id" | "code" | "id") =>
            {
                cur
            }
            _ => &Value::Null,
        };
    }
    cur
}

fn cmp_nullable(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => xfilter::cmp_values(a, b).unwrap_or(Ordering::Equal),
    }
}

fn cmp_tuple(a: &[Value], b: &[Value], dirs: &[bool]) -> Ordering {
    for ((x, y), desc) in a.iter().zip(b).zip(dirs) {
        let o = cmp_nullable(x, y);
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn json_arg(v: Value, what: &str) -> Result<Value, String> {
    match v {
        Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
        Value::String(s) => xfilter::parse_literal(&s).map_err(|e| format!("Invalid {what}: {e}")),
        other => Ok(other),
    }
}

fn connection(
    ctx: &mut Ctx,
    items: Vec<Value>,
    f: &Field,
    type_name: &str,
    props: &[GqlProp],
    colls: &[CollDef],
) -> Result<Value, String> {
    if f.arg("last").is_some() || f.arg("before").is_some() {
        return Err("x3-sim: backward paging (last/before) is not supported".into());
    }
    let first = match arg(ctx, f, "first") {
        Value::Null => DEFAULT_FIRST,
        v => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or("first must be a non-negative integer")? as usize,
    };
    let filter = json_arg(arg(ctx, f, "filter"), "filter")?;
    let mut order: Vec<(Vec<String>, bool)> = match arg(ctx, f, "orderBy") {
        Value::Null => Vec::new(),
        Value::String(s) => {
            xfilter::parse_order_by(&s).map_err(|e| format!("Invalid orderBy: {e}"))?
        }
        other => xfilter::parse_order_by(&other.to_string())
            .map_err(|e| format!("Invalid orderBy: {e}"))?,
    };
    check_filter(&filter, props, colls, "")?;
    let mut kept = Vec::new();
    for it in items {
        if filter.is_null() || xfilter::eval(&filter, &it)? {
            kept.push(it);
        }
    }
    if let Some((p, _)) = order.iter().find(|(p, _)| !path_exists(p, props)) {
        return Err(format!(
            "Invalid orderBy: unknown property '{}'",
            p.join(".")
        ));
    }
    // Stable sort: without orderBy the natural order (key order, line order) is kept.
    let sorted_by_order = !order.is_empty();
    if !order.iter().any(|(p, _)| p.len() == 1 && p[0] == "_id") {
        order.push((vec!["_id".into()], false));
    }
    let dirs: Vec<bool> = order.iter().map(|(_, d)| *d).collect();
    let tuple =
        |v: &Value| -> Vec<Value> { order.iter().map(|(p, _)| get_path(v, p).clone()).collect() };
    if sorted_by_order {
        kept.sort_by(|a, b| cmp_tuple(&tuple(a), &tuple(b), &dirs));
    }
    let total = kept.len();
    let start = match arg(ctx, f, "after") {
        Value::Null => 0,
        Value::String(c) => {
            let (arr, _) = c.rsplit_once('#').ok_or("Invalid cursor")?;
            let t: Vec<Value> = serde_json::from_str(arr).map_err(|_| "Invalid cursor")?;
            if t.len() != order.len() {
                return Err("Invalid cursor: it does not match orderBy".into());
            }
            match kept.iter().position(|v| tuple(v) == t) {
                Some(i) => i + 1,
                None => kept
                    .iter()
                    .position(|v| cmp_tuple(&tuple(v), &t, &dirs) == Ordering::Greater)
                    .unwrap_or(total),
            }
        }
        _ => return Err("Invalid cursor".into()),
    };
    let end = (start + first).min(total);
    let cursor = |i: usize| -> String {
        format!(
            "{}#{}",
            serde_json::to_string(&tuple(&kept[i])).unwrap_or_default(),
            i + 1
        )
    };
    let mut out = Map::new();
    for s in &f.sel {
        let v = match s.name.as_str() {
            "__typename" => Value::String(format!("{type_name}Connection")),
            "totalCount" => Value::from(total),
            "edges" => {
                let mut edges = Vec::new();
                for (i, item) in kept.iter().enumerate().take(end).skip(start) {
                    let mut e = Map::new();
                    for es in &s.sel {
                        let v = match es.name.as_str() {
                            "__typename" => Value::String(format!("{type_name}Edge")),
                            "cursor" => Value::String(cursor(i)),
                            "node" => project(ctx, item, &es.sel, type_name, colls)?,
                            other => {
                                return Err(format!(
                                    "Cannot query field \"{other}\" on type \"{type_name}Edge\"."
                                ));
                            }
                        };
                        e.insert(es.out_name().into(), v);
                    }
                    edges.push(Value::Object(e));
                }
                Value::Array(edges)
            }
            "pageInfo" => {
                let mut p = Map::new();
                for ps in &s.sel {
                    let v = match ps.name.as_str() {
                        "__typename" => Value::String("PageInfo".into()),
                        "endCursor" if end > start => Value::String(cursor(end - 1)),
                        "startCursor" if end > start => Value::String(cursor(start)),
                        "endCursor" | "startCursor" => Value::Null,
                        "hasNextPage" => Value::Bool(end < total),
                        "hasPreviousPage" => Value::Bool(start > 0),
                        other => {
                            return Err(format!(
                                "Cannot query field \"{other}\" on type \"PageInfo\"."
                            ));
                        }
                    };
                    p.insert(ps.out_name().into(), v);
                }
                Value::Object(p)
            }
            other => {
                return Err(format!(
                    "Cannot query field \"{other}\" on type \"{type_name}Connection\"."
                ));
            }
        };
        out.insert(s.out_name().into(), v);
    }
    Ok(Value::Object(out))
}

/// An orderBy path must name a property (or a reference's `code`/`_id`).
fn path_exists(path: &[String], props: &[GqlProp]) -> bool {
    let joined = path.join(".");
    if matches!(
        joined.as_str(),
        "_id" | "_createStamp" | "_updateStamp" | "_etag"
    ) {
        return true;
    }
    props.iter().any(|p| {
        p.path == joined
            || (p.conv == Conv::Ref
                && joined
                    .strip_prefix(p.path)
                    .is_some_and(|rest| matches!(rest, "._id" | ".code" | ".id")))
    })
}

/// Refuse filters naming properties the node does not have, even when there is no data
/// (Xtrem validates the filter against the node's schema).
fn check_filter(
    v: &Value,
    props: &[GqlProp],
    colls: &[CollDef],
    prefix: &str,
) -> Result<(), String> {
    match v {
        Value::Array(a) => a
            .iter()
            .try_for_each(|x| check_filter(x, props, colls, prefix)),
        Value::Object(m) => {
            for (k, sub) in m {
                if matches!(k.as_str(), "_and" | "_or" | "_not") {
                    check_filter(sub, props, colls, prefix)?;
                    continue;
                }
                if k.starts_with('_') {
                    continue;
                }
                if prefix.is_empty()
                    && let Some(cd) = colls.iter().find(|c| c.gql == k)
                {
                    check_filter(sub, cd.line.gql, &[], "")?;
                    continue;
                }
                let path = format!("{prefix}{k}");
                if let Some(p) = props.iter().find(|p| p.path == path) {
                    if p.conv == Conv::Ref
                        && let Value::Object(o) = sub
                        && let Some(bad) = o
                            .keys()
                            .find(|x| !x.starts_with('_') && !matches!(x.as_str(), "code" | "id"))
                    {
                        return Err(format!("unknown property '{path}.{bad}' in filter"));
                    }
                    continue;
                }
                let nested = format!("{path}.");
                if props.iter().any(|p| p.path.starts_with(&nested)) {
                    check_filter(sub, props, &[], &nested)?;
                    continue;
                }
                return Err(format!("unknown property '{path}' in filter"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn project(
    ctx: &mut Ctx,
    view: &Value,
    sel: &[Field],
    type_name: &str,
    colls: &[CollDef],
) -> Result<Value, String> {
    if sel.is_empty() {
        return Err(format!(
            "Field of type \"{type_name}\" must have a selection of subfields."
        ));
    }
    let empty = Map::new();
    let m = view.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for f in sel {
        if f.name == "__typename" {
            out.insert(f.out_name().into(), Value::String(type_name.into()));
            continue;
        }
        let v = m.get(&f.name).ok_or(format!(
            "Cannot query field \"{}\" on type \"{type_name}\".",
            f.name
        ))?;
        let val = if let Some(cd) = colls.iter().find(|c| c.gql == f.name) {
            let items = v.as_array().cloned().unwrap_or_default();
            let coll_type = format!("{}Collection", cd.line.type_name);
            if f.sel.is_empty() {
                return Err(format!(
                    "Field of type \"{coll_type}\" must have a selection of subfields."
                ));
            }
            let mut cm = Map::new();
            for cs in &f.sel {
                let cv = match cs.name.as_str() {
                    "__typename" => Value::String(coll_type.clone()),
                    "query" => {
                        connection(ctx, items.clone(), cs, cd.line.type_name, cd.line.gql, &[])?
                    }
                    other => {
                        return Err(format!(
                            "Cannot query field \"{other}\" on type \"{coll_type}\"."
                        ));
                    }
                };
                cm.insert(cs.out_name().into(), cv);
            }
            Value::Object(cm)
        } else if let Value::Object(_) = v {
            let mut t = f.name.clone();
            if let Some(c) = t.get_mut(0..1) {
                c.make_ascii_uppercase();
            }
            project(ctx, v, &f.sel, &t, &[])?
        } else if !f.sel.is_empty() {
            if v.is_null() {
                Value::Null
            } else {
                // A reference: only its identity is known to the simulator.
                let r = json!({ "_id": v, "code": v, "id": v });
                project(ctx, &r, &f.sel, &f.name, &[])?
            }
        } else {
            v.clone()
        };
        out.insert(f.out_name().into(), val);
    }
    Ok(Value::Object(out))
}

fn no_field(name: &str, type_name: &str) -> String {
    format!("Cannot query field \"{name}\" on type \"{type_name}\".")
}

fn need_sel(f: &Field, type_name: &str) -> Result<(), String> {
    if f.sel.is_empty() {
        return Err(format!(
            "Field \"{}\" of type \"{type_name}\" must have a selection of subfields.",
            f.name
        ));
    }
    Ok(())
}

fn leaf(f: &Field, type_name: &str) -> Result<(), String> {
    if !f.sel.is_empty() {
        return Err(format!(
            "Field \"{}\" must not have a selection since type \"{type_name}\" has no subfields.",
            f.name
        ));
    }
    Ok(())
}

fn validate(store: &Store, sel: &[Field], kind: OpKind, root: &str) -> Result<(), String> {
    for f in sel {
        if f.name == "__typename" {
            continue;
        }
        if !is_package(&f.name) {
            return Err(no_field(&f.name, root));
        }
        need_sel(f, &f.name)?;
        for nf in &f.sel {
            if nf.name == "__typename" {
                continue;
            }
            let k = node_by_gql(&f.name, &nf.name).ok_or_else(|| no_field(&nf.name, &f.name))?;
            let def = store.def(k);
            need_sel(nf, def.type_name)?;
            for opf in &nf.sel {
                match (kind, opf.name.as_str()) {
                    (_, "__typename") => {}
                    (OpKind::Query, "query") => {
                        check_connection(opf, def.gql, def.collections, def.type_name)?
                    }
                    (OpKind::Query, "read") | (OpKind::Mutation, "create" | "update") => {
                        need_sel(opf, def.type_name)?;
                        check_object(&opf.sel, def.gql, def.collections, "", def.type_name, true)?;
                    }
                    (OpKind::Mutation, "delete") => leaf(opf, "Boolean")?,
                    _ => return Err(no_field(&opf.name, def.type_name)),
                }
            }
        }
    }
    Ok(())
}

fn check_connection(
    f: &Field,
    props: &[GqlProp],
    colls: &[CollDef],
    type_name: &str,
) -> Result<(), String> {
    let conn = format!("{type_name}Connection");
    need_sel(f, &conn)?;
    for s in &f.sel {
        match s.name.as_str() {
            "__typename" | "totalCount" => leaf(s, "Int")?,
            "edges" => {
                need_sel(s, &format!("{type_name}Edge"))?;
                for e in &s.sel {
                    match e.name.as_str() {
                        "__typename" | "cursor" => leaf(e, "String")?,
                        "node" => {
                            need_sel(e, type_name)?;
                            check_object(&e.sel, props, colls, "", type_name, true)?;
                        }
                        other => return Err(no_field(other, &format!("{type_name}Edge"))),
                    }
                }
            }
            "pageInfo" => {
                need_sel(s, "PageInfo")?;
                for p in &s.sel {
                    match p.name.as_str() {
                        "__typename" | "endCursor" | "startCursor" | "hasNextPage"
                        | "hasPreviousPage" => leaf(p, "PageInfo field")?,
                        other => return Err(no_field(other, "PageInfo")),
                    }
                }
            }
            other => return Err(no_field(other, &conn)),
        }
    }
    Ok(())
}

/// Check a selection on a node, a line or a nested object (`prefix` = `shipToAddress.`).
fn check_object(
    sel: &[Field],
    props: &[GqlProp],
    colls: &[CollDef],
    prefix: &str,
    type_name: &str,
    is_record: bool,
) -> Result<(), String> {
    for f in sel {
        let name = f.name.as_str();
        if name == "__typename" {
            continue;
        }
        if is_record && matches!(name, "_id" | "_createStamp" | "_updateStamp" | "_etag") {
            leaf(f, "String")?;
            continue;
        }
        if prefix.is_empty()
            && let Some(cd) = colls.iter().find(|c| c.gql == name)
        {
            let ct = format!("{}Collection", cd.line.type_name);
            need_sel(f, &ct)?;
            for cs in &f.sel {
                match cs.name.as_str() {
                    "__typename" => {}
                    "query" => check_connection(cs, cd.line.gql, &[], cd.line.type_name)?,
                    other => return Err(no_field(other, &ct)),
                }
            }
            continue;
        }
        let path = format!("{prefix}{name}");
        if let Some(p) = props.iter().find(|p| p.path == path) {
            if p.conv == Conv::Ref {
                for r in &f.sel {
                    if !matches!(r.name.as_str(), "_id" | "code" | "id" | "__typename") {
                        return Err(no_field(&r.name, name));
                    }
                    leaf(r, "String")?;
                }
            } else {
                leaf(f, "scalar")?;
            }
            continue;
        }
        let sub = format!("{path}.");
        if props.iter().any(|p| p.path.starts_with(&sub)) {
            need_sel(f, name)?;
            check_object(&f.sel, props, &[], &sub, name, false)?;
            continue;
        }
        return Err(no_field(name, type_name));
    }
    Ok(())
}

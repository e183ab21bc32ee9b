//! Reconciliation (docs/reconcile.md): every WooCommerce order created in a
//! period against the X3 document(s) carrying its reference (`CUSORDREF`), reporting orders
//! missing in X3, posted more than once, or whose total, tax or shipping differ beyond a
//! tolerance. `ml-connector reconcile`, `GET /api/admin/reconcile` and the status page's
//! "Reconciliation" section all run [`run`]; the last result is kept in `kv` so the status page
//! can show it and serve it as CSV without any secret.
//!
//! This module reads both sides (the shop's orders over REST, the X3 documents over REST or
//! GraphQL with the field names in force); the core computes and compares every amount, one
//! call per order (`reconcile` in `wit/orders.wit`, `core/src/reconcile.rs`). Amounts are exact:
//! X3's values read to four places ([`crate::x3values::decimal`]), the tolerance too (`0.01` as
//! written, not a float). The X3 side of each amount:
//! - total excl. tax: the header's net total field when the document carries one (`ORDNOT` on
//!   orders, `AMTNOT` on invoices, configurable), else the sum of its lines, each
//!   `round(QTY × (GROPRI − DISCRGVAL1..3), currency decimals)`;
//! - tax: header gross minus net (`ORDATI − ORDNOT`) when both are there; otherwise X3 computes
//!   tax from its own rules and does not show it in the document, so tax is not compared;
//! - shipping: the lines whose item is mapped to a shipping method.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clients::woo::WooClient;
use crate::clients::x3::{ApiMode, X3Client};
use crate::component::{CoreRuntime, inventory, mapping, orders};
use crate::config::reconcile::{ReconcileFile, tolerance as parse_tolerance};
use crate::html::utc;
use crate::store::{Store, now_ms};
use crate::x3values::{decimal, fmt_stamp};

// ---------------------------------------------------------------------------------------------
// Periods

/// A period as WooCommerce's exclusive `after`/`before` bounds (GMT, seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First second included.
    pub from: i64,
    /// First second excluded.
    pub until: i64,
}

/// `2026-11-01` (the whole day) or `2026-11-01T10:00:00[Z]` (that second), GMT.
fn parse_instant(s: &str) -> Option<(i64, bool)> {
    crate::dates::parse_utc(s)
}

impl Period {
    /// `from` and `to` both included: a date means the whole day.
    pub fn parse(from: &str, to: &str) -> Result<Period> {
        let bad = |w: &str, v: &str| {
            anyhow::anyhow!("{w}: {v:?} is not a date like 2026-11-01 or 2026-11-01T10:00:00Z")
        };
        let (f, _) = parse_instant(from).ok_or_else(|| bad("--from", from))?;
        let (t, day) = parse_instant(to).ok_or_else(|| bad("--to", to))?;
        let until = if day { t + 86_400 } else { t + 1 };
        if until <= f {
            bail!("the period is empty: --to {to} is before --from {from}");
        }
        Ok(Period { from: f, until })
    }

    fn woo(secs: i64) -> String {
        fmt_stamp(secs).trim_end_matches('Z').to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// The report

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    pub order_id: u64,
    pub number: String,
    pub created_gmt: String,
    pub status: String,
    pub currency: String,
    /// Whether the status map says the order is to be in X3.
    pub to_post: bool,
    pub reference: String,
    pub documents: Vec<String>,
    pub woo_total_excl_tax: String,
    pub x3_total_excl_tax: Option<String>,
    pub woo_tax: String,
    pub x3_tax: Option<String>,
    pub woo_shipping: String,
    pub x3_shipping: Option<String>,
    /// `missing`, `duplicated`, `total`, `tax`, `shipping` (the core's `reconcile-problem`), or
    /// `unreadable` (an amount in the order that is no number); empty = matches.
    pub problems: Vec<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub tolerance: String,
    pub generated_at: i64,
    pub api: String,
    pub orders_checked: usize,
    pub documents_found: usize,
    /// Orders with at least one problem.
    pub discrepancies: usize,
    /// Orders per problem.
    pub by_problem: BTreeMap<String, usize>,
    pub lines: Vec<Line>,
}

impl Report {
    pub fn problem_lines(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| !l.problems.is_empty())
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} order(s) from {} to {} checked against {} X3 document(s): {} discrepanc{}",
            self.orders_checked,
            self.from,
            self.to,
            self.documents_found,
            self.discrepancies,
            if self.discrepancies == 1 { "y" } else { "ies" }
        );
        if !self.by_problem.is_empty() {
            let parts: Vec<String> = self
                .by_problem
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = write!(s, " ({})", parts.join(", "));
        }
        s
    }

    /// A fixed-width table of the discrepancies, then the summary.
    pub fn table(&self) -> String {
        let head = [
            "ORDER",
            "STATUS",
            "X3 DOCUMENTS",
            "WOO NET",
            "X3 NET",
            "WOO TAX",
            "X3 TAX",
            "WOO SHIP",
            "X3 SHIP",
            "PROBLEMS",
        ];
        let dash = || "-".to_string();
        let rows: Vec<[String; 10]> = self
            .problem_lines()
            .map(|l| {
                [
                    l.order_id.to_string(),
                    l.status.clone(),
                    if l.documents.is_empty() {
                        dash()
                    } else {
                        l.documents.join(" ")
                    },
                    l.woo_total_excl_tax.clone(),
                    l.x3_total_excl_tax.clone().unwrap_or_else(dash),
                    l.woo_tax.clone(),
                    l.x3_tax.clone().unwrap_or_else(dash),
                    l.woo_shipping.clone(),
                    l.x3_shipping.clone().unwrap_or_else(dash),
                    l.problems.join(","),
                ]
            })
            .collect();
        let mut out = String::new();
        if !rows.is_empty() {
            let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
            let line = |cells: Vec<&str>| {
                let mut s = String::new();
                for (i, c) in cells.iter().enumerate() {
                    let pad = w[i] - c.chars().count();
                    s.push_str(c);
                    if i + 1 < cells.len() {
                        s.push_str(&" ".repeat(pad + 2));
                    }
                }
                s.push('\n');
                s
            };
            out.push_str(&line(head.to_vec()));
            for r in &rows {
                out.push_str(&line(r.iter().map(String::as_str).collect()));
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// Every order of the period, one CSV row each (RFC 4180; text cells that a spreadsheet
    /// would run as a formula are prefixed with `'`).
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "order_id,number,created_gmt,status,currency,to_post,reference,x3_documents,\
             woo_total_excl_tax,x3_total_excl_tax,woo_tax,x3_tax,woo_shipping,x3_shipping,\
             result,problems,detail\r\n",
        );
        for l in &self.lines {
            let cells = [
                l.order_id.to_string(),
                text_cell(&l.number),
                l.created_gmt.clone(),
                text_cell(&l.status),
                text_cell(&l.currency),
                l.to_post.to_string(),
                text_cell(&l.reference),
                text_cell(&l.documents.join(" ")),
                l.woo_total_excl_tax.clone(),
                l.x3_total_excl_tax.clone().unwrap_or_default(),
                l.woo_tax.clone(),
                l.x3_tax.clone().unwrap_or_default(),
                l.woo_shipping.clone(),
                l.x3_shipping.clone().unwrap_or_default(),
                if l.problems.is_empty() {
                    "ok"
                } else {
                    "discrepancy"
                }
                .to_string(),
                l.problems.join(" "),
                text_cell(&l.detail),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv_quote(c)).collect();
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

fn text_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing one order (pure)

/// One X3 document as the core compares it.
pub type X3Doc = orders::ReconcileDocument;

/// A document's values from its header and lines (REST field codes, canonical names): the core
/// computes the amounts ([`orders`]' `reconcile`). A missing or unreadable value counts as 0.
pub fn document(
    number: &str,
    header: &Value,
    lines: &[Value],
    net_field: &str,
    gross_field: &str,
) -> X3Doc {
    let value = |v: &Value, k: &str| {
        v.get(k)
            .and_then(decimal)
            .unwrap_or_default()
            .normalize()
            .to_string()
    };
    let header_total = |k: &str| {
        header
            .get(k)
            .and_then(decimal)
            .map(|d| d.normalize().to_string())
    };
    X3Doc {
        number: number.to_string(),
        net_total: header_total(net_field),
        gross_total: header_total(gross_field),
        lines: lines
            .iter()
            .map(|l| orders::ReconcileLine {
                item: l["ITMREF"].as_str().unwrap_or_default().to_string(),
                quantity: value(l, "QTY"),
                gross_price: value(l, "GROPRI"),
                discounts: ["DISCRGVAL1", "DISCRGVAL2", "DISCRGVAL3"]
                    .iter()
                    .map(|k| value(l, k))
                    .collect(),
            })
            .collect(),
    }
}

fn problem_name(p: orders::ReconcileProblem) -> &'static str {
    match p {
        orders::ReconcileProblem::Missing => "missing",
        orders::ReconcileProblem::Duplicated => "duplicated",
        orders::ReconcileProblem::Total => "total",
        orders::ReconcileProblem::Tax => "tax",
        orders::ReconcileProblem::Shipping => "shipping",
    }
}

/// A line filled with the core's verdict.
fn apply_verdict(line: &mut Line, v: orders::ReconcileVerdict) {
    line.woo_total_excl_tax = v.woo_total_excl_tax;
    line.woo_tax = v.woo_tax;
    line.woo_shipping = v.woo_shipping;
    line.documents = v.documents;
    line.x3_total_excl_tax = v.x3_total_excl_tax;
    line.x3_tax = v.x3_tax;
    line.x3_shipping = v.x3_shipping;
    line.problems = v
        .problems
        .into_iter()
        .map(|p| problem_name(p).to_string())
        .collect();
    line.detail = v.detail;
}

// ---------------------------------------------------------------------------------------------
// Running it

/// What a reconciliation needs: the clients and the settings in force.
pub struct Inputs<'a> {
    pub x3: &'a X3Client,
    pub api: ApiMode,
    pub woo: &'a WooClient,
    pub core: &'a CoreRuntime,
    pub settings: &'a orders::Settings,
    pub status_map: &'a [inventory::StatusRule],
    pub mapping: &'a [mapping::MappingRow],
    pub file: &'a ReconcileFile,
}

/// References looked up per X3 request.
const CHUNK: usize = 40;

/// Reconciles the period: the shop's orders against the X3 documents carrying their references.
pub fn run(inp: &Inputs, period: Period, tolerance: f64) -> Result<Report> {
    let tol = parse_tolerance(tolerance)?;
    let decimals = inp.settings.currency_decimals;
    let woo_orders = inp
        .woo
        .orders_created_between(&Period::woo(period.from - 1), &Period::woo(period.until))
        .context("reading the shop's orders")?;
    let shipping_items: BTreeSet<String> = inp
        .mapping
        .iter()
        .filter(|r| matches!(r.key, mapping::MappingKey::Shipping(_)))
        .map(|r| r.item_code.clone())
        .collect();
    let mut lines = shop_lines(inp, &woo_orders)?;
    let refs: Vec<String> = lines.iter().map(|l| l.reference.clone()).collect();
    let docs = x3_documents(inp, &refs)?;
    let rules = orders::ReconcileRules {
        reference: String::new(),
        to_post: false,
        shipping_items: shipping_items.into_iter().collect(),
        tolerance: tol.normalize().to_string(),
        decimals,
    };
    let (found, by_problem) = compare_lines(inp, &mut lines, &woo_orders, docs, rules)?;
    let tolerance_text = tol.normalize().to_string();
    Ok(Report {
        from: fmt_stamp(period.from),
        to: fmt_stamp(period.until - 1),
        tolerance: tolerance_text,
        generated_at: now_ms(),
        api: match inp.api {
            ApiMode::Rest => "rest",
            ApiMode::Graphql => "graphql",
        }
        .into(),
        orders_checked: lines.len(),
        documents_found: found,
        discrepancies: lines.iter().filter(|l| !l.problems.is_empty()).count(),
        by_problem,
        lines,
    })
}

/// One report line per shop order, with its reference and whether its status asks for a post.
fn shop_lines(inp: &Inputs, woo_orders: &[Value]) -> Result<Vec<Line>> {
    let s = inp.settings;
    let mut lines = Vec::new();
    for o in woo_orders {
        let Some(order_id) = o["id"].as_u64() else {
            continue;
        };
        let status = o["status"].as_str().unwrap_or("").to_string();
        let store_id = s.store_id.clone();
        let transition = inp.core.inventory().transition(
            &store_id,
            order_id,
            None,
            &status,
            inp.status_map,
            false,
        )?;
        let to_post = transition.is_ok_and(|t| {
            t.intents
                .iter()
                .any(|i| i.kind == inventory::IntentKind::Post)
        });
        lines.push(Line {
            order_id,
            number: o["number"].as_str().unwrap_or("").to_string(),
            created_gmt: o["date_created_gmt"].as_str().unwrap_or("").to_string(),
            status,
            currency: o["currency"].as_str().unwrap_or("").to_string(),
            to_post,
            reference: format!("{}{order_id}", s.reference_prefix),
            ..Line::default()
        });
    }
    Ok(lines)
}

/// The X3 documents (orders or invoices, as the settings post) carrying each reference, with
/// their amounts, looked up [`CHUNK`] references at a time.
fn x3_documents(inp: &Inputs, refs: &[String]) -> Result<BTreeMap<String, Vec<X3Doc>>> {
    let s = inp.settings;
    let invoice = s.document_kind == orders::DocumentKind::Invoice;
    let names = crate::wire::Names::resolve(inp.core, s)?;
    let (doc, net_field, gross_field) = if invoice {
        (
            "invoice",
            &inp.file.invoice_net_field,
            &inp.file.invoice_gross_field,
        )
    } else {
        (
            "order",
            &inp.file.order_net_field,
            &inp.file.order_gross_field,
        )
    };
    let n = |k: &str| names.get(&format!("rest.{doc}.{k}")).to_string();
    let line_fields: Vec<crate::wire::Field> = ["item", "quantity", "price", "discount"]
        .iter()
        .map(|f| {
            names.field(
                &format!("rest.line.{f}"),
                &format!("graphql.{doc}.line.{f}"),
            )
        })
        .collect();
    let rest = RestDocs {
        class: n("class"),
        rep: n("representation"),
        lines_field: n("lines"),
        key_field: n("key"),
        ref_field: n("reference"),
        net_field,
        gross_field,
        line_fields: &line_fields,
    };
    let mut docs: BTreeMap<String, Vec<X3Doc>> = BTreeMap::new();
    for chunk in refs.chunks(CHUNK) {
        let found = match inp.api {
            ApiMode::Rest => rest_docs(inp, &rest, chunk)?,
            ApiMode::Graphql => {
                let list = chunk
                    .iter()
                    .map(|r| inp.core.orders().graphql_literal(r))
                    .collect::<Result<Vec<_>>>()?
                    .join(",");
                let q = GraphqlDocs {
                    names: &names,
                    doc,
                    line_fields: &line_fields,
                };
                graphql_docs(inp.x3, &q, &list)?
            }
        };
        for (r, d) in found {
            docs.entry(r).or_default().push(d);
        }
    }
    Ok(docs)
}

/// What [`rest_docs`] reads: the document's class, representation and field names in force.
struct RestDocs<'a> {
    class: String,
    rep: String,
    lines_field: String,
    key_field: String,
    ref_field: String,
    net_field: &'a str,
    gross_field: &'a str,
    line_fields: &'a [crate::wire::Field],
}

/// Documents (with lines) for a chunk of references, through REST: a query by reference, then
/// each document's details.
fn rest_docs(inp: &Inputs, q: &RestDocs<'_>, chunk: &[String]) -> Result<Vec<(String, X3Doc)>> {
    let list = chunk
        .iter()
        .map(|r| inp.core.orders().sdata_literal(r))
        .collect::<Result<Vec<_>>>()?
        .join(",");
    let headers = inp
        .x3
        .query_rest(
            &q.class,
            &q.rep,
            Some(&format!("{} in ({list})", q.ref_field)),
            None,
            100_000,
        )
        .map_err(|e| anyhow::anyhow!("X3: {e}"))?;
    let mut out = Vec::new();
    for h in headers {
        let (Some(r), Some(n)) = (
            h[q.ref_field.as_str()].as_str(),
            h[q.key_field.as_str()].as_str(),
        ) else {
            continue;
        };
        let details = inp
            .x3
            .details_rest(&q.class, &q.rep, n)
            .map_err(|e| anyhow::anyhow!("X3: {e}"))?;
        // Deleted between the query and the read: it is not there.
        let Some(d) = details else { continue };
        let ls: Vec<Value> = d[q.lines_field.as_str()]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|l| match l {
                Value::Object(m) => Value::Object(crate::wire::canonical_rest(m, q.line_fields)),
                other => other,
            })
            .collect();
        out.push((
            r.to_string(),
            document(n, &d, &ls, q.net_field, q.gross_field),
        ));
    }
    Ok(out)
}

/// Compares each line with the documents found for its reference, through the core (one call
/// per order): the number of documents found, and the lines per problem.
fn compare_lines(
    inp: &Inputs,
    lines: &mut [Line],
    woo_orders: &[Value],
    mut docs: BTreeMap<String, Vec<X3Doc>>,
    mut rules: orders::ReconcileRules,
) -> Result<(usize, BTreeMap<String, usize>)> {
    let mut found = 0;
    let mut by_problem: BTreeMap<String, usize> = BTreeMap::new();
    let by_id: BTreeMap<u64, &Value> = woo_orders
        .iter()
        .filter_map(|o| Some((o["id"].as_u64()?, o)))
        .collect();
    for l in lines.iter_mut() {
        let d = docs.remove(&l.reference).unwrap_or_default();
        found += d.len();
        let order = by_id
            .get(&l.order_id)
            .map(serde_json::to_vec)
            .transpose()?
            .unwrap_or_else(|| b"{}".to_vec());
        rules.reference.clone_from(&l.reference);
        rules.to_post = l.to_post;
        match inp.core.orders().reconcile(&order, &d, &rules)? {
            Ok(v) => apply_verdict(l, v),
            Err(e) => {
                // An order the core cannot read (an amount that is no number): named, not hidden.
                l.documents = d.iter().map(|d| d.number.clone()).collect();
                l.problems = vec!["unreadable".into()];
                l.detail = crate::jobs::pipeline::plan_error(&e);
            }
        }
        for p in &l.problems {
            *by_problem.entry(p.clone()).or_default() += 1;
        }
    }
    Ok((found, by_problem))
}

/// What [`graphql_docs`] reads: the document node and its names in force.
struct GraphqlDocs<'a> {
    names: &'a crate::wire::Names,
    /// `order` or `invoice`.
    doc: &'a str,
    line_fields: &'a [crate::wire::Field],
}

/// Documents (with lines) for a list of quoted references, through GraphQL. Header totals are
/// not part of the GraphQL schema we know, so the net total comes from the lines and tax is
/// not compared.
fn graphql_docs(
    x3: &X3Client,
    q: &GraphqlDocs<'_>,
    quoted_refs: &str,
) -> Result<Vec<(String, X3Doc)>> {
    let doc = q.doc;
    let g = |k: &str| q.names.get(&format!("graphql.{doc}.{k}")).to_string();
    let (package, node) = q.names.node(&format!("graphql.{doc}.node"));
    let (key, reference, lines) = (g("key"), g("reference"), g("lines"));
    let props: Vec<&str> = q.line_fields.iter().map(|f| f.graphql.as_str()).collect();
    let query = format!(
        "query($filter: String, $after: String) {{ {package} {{ {node} {{ query(first: 100, after: $after, \
         filter: $filter) {{ edges {{ node {{ {key} {reference} {lines} {{ query(first: 1000) {{ \
         edges {{ node {{ {} }} }} }} }} }} }} pageInfo {{ endCursor hasNextPage }} }} }} }} }}",
        props.join(" ")
    );
    let filter = format!("{{{reference}:{{_in:[{quoted_refs}]}}}}");
    let mut out = Vec::new();
    let mut after = Value::Null;
    for _ in 0..1000 {
        let data = x3
            .graphql(&query, &json!({ "filter": filter, "after": after }))
            .map_err(|e| anyhow::anyhow!("X3: {e}"))?;
        let conn = &data[package][node]["query"];
        let edges = conn["edges"].as_array().cloned().unwrap_or_default();
        for e in &edges {
            let n = &e["node"];
            let (Some(r), Some(id)) = (n[reference.as_str()].as_str(), n[key.as_str()].as_str())
            else {
                continue;
            };
            let ls: Vec<Value> = n[lines.as_str()]["query"]["edges"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| Value::Object(crate::wire::canonical_graphql(&e["node"], q.line_fields)))
                .collect();
            out.push((r.to_string(), document(id, &Value::Null, &ls, "", "")));
        }
        let more = conn["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false);
        let cursor = conn["pageInfo"]["endCursor"].clone();
        if !more || edges.is_empty() || cursor.is_null() || cursor == after {
            break;
        }
        after = cursor;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Where the last result is kept and shown

const LAST_KEY: &str = "reconcile.last";

pub fn save_last(store: &Store, r: &Report) -> Result<()> {
    store.kv_set(LAST_KEY, &serde_json::to_string(r)?)
}

pub fn load_last(store: &Store) -> Option<Report> {
    store
        .kv_get(LAST_KEY)
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// The status page's section: the last run, its discrepancies, and the CSV link.
pub fn status_html(store: &Store) -> Markup {
    let Some(r) = load_last(store) else {
        return html! {
            section id="reconcile" {
                h2 { "Reconciliation" }
                p class="muted" {
                    "Not run yet: " code { "ml-connector reconcile --from … --to …" } " or "
                    code { "GET /api/admin/reconcile?from=…&to=…" } "."
                }
            }
        };
    };
    html! {
        section id="reconcile" {
            h2 { "Reconciliation" }
            p {
                "Run " (utc(r.generated_at)) " over " (r.from) " – " (r.to) " (tolerance "
                (r.tolerance) "): " (r.summary()) " · "
                a href="/status/reconcile.csv" { "CSV of every order" }
            }
            @if r.discrepancies > 0 {
                table {
                    tr {
                        th { "Order" } th { "Status" } th { "X3 documents" } th { "Problems" }
                        th { "Detail" }
                    }
                    @for l in r.problem_lines().take(50) {
                        tr {
                            td { a href={ "/status/orders/" (l.order_id) } { "#" (l.order_id) } }
                            td { (l.status) }
                            td { (l.documents.join(", ")) }
                            td { (l.problems.join(", ")) }
                            td class="msg" { (l.detail) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::x3values::{parse_decimal, round};
    use rust_decimal::Decimal;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn periods_include_both_ends() {
        let p = Period::parse("2026-11-01", "2026-11-30").unwrap();
        assert_eq!(fmt_stamp(p.from), "2026-11-01T00:00:00Z");
        assert_eq!(fmt_stamp(p.until), "2026-12-01T00:00:00Z");
        assert_eq!(Period::woo(p.from - 1), "2026-10-31T23:59:59");
        let q = Period::parse("2026-11-01T10:00:00Z", "2026-11-01T10:00:00Z").unwrap();
        assert_eq!(q.until - q.from, 1);
        assert!(Period::parse("2026-11-02", "2026-11-01T00:00:00Z").is_err());
        assert!(Period::parse("yesterday", "2026-11-01").is_err());
        assert!(Period::parse("2026-13-01", "2026-11-01").is_err());
    }

    #[test]
    fn documents_carry_the_header_totals_and_each_lines_values() {
        let lines = vec![
            json!({"ITMREF": "TSHIRT", "QTY": 3, "GROPRI": "3.3333"}),
            json!({"ITMREF": "MUG", "QTY": "2", "GROPRI": 10, "DISCRGVAL1": "1.5"}),
            json!({"GROPRI": "x"}),
        ];
        let x = document("S1", &json!({}), &lines, "ORDNOT", "ORDATI");
        assert_eq!(
            (x.net_total.as_deref(), x.gross_total.as_deref()),
            (None, None)
        );
        let values: Vec<(&str, &str, &str, Vec<&str>)> = x
            .lines
            .iter()
            .map(|l| {
                (
                    l.item.as_str(),
                    l.quantity.as_str(),
                    l.gross_price.as_str(),
                    l.discounts.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            values,
            [
                ("TSHIRT", "3", "3.3333", vec!["0", "0", "0"]),
                ("MUG", "2", "10", vec!["1.5", "0", "0"]),
                // What cannot be read counts as 0, as before the core computed the amounts.
                ("", "0", "0", vec!["0", "0", "0"]),
            ]
        );
        let h = json!({"ORDNOT": "31.990", "ORDATI": 38.39});
        let x = document("S1", &h, &lines, "ORDNOT", "ORDATI");
        assert_eq!(
            (x.net_total.as_deref(), x.gross_total.as_deref()),
            (Some("31.99"), Some("38.39"))
        );
        assert_eq!(parse_decimal("0.005").map(|v| round(v, 2)), Some(d("0.01")));
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let r = Report {
            lines: vec![Line {
                order_id: 1,
                number: "=1+1".into(),
                status: "on-hold".into(),
                detail: "a, \"b\"".into(),
                problems: vec!["missing".into()],
                ..Line::default()
            }],
            ..Report::default()
        };
        let csv = r.csv();
        let row = csv.lines().nth(1).unwrap();
        assert!(row.starts_with("1,'=1+1,"), "{row}");
        assert!(
            row.ends_with(",discrepancy,missing,\"a, \"\"b\"\"\""),
            "{row}"
        );
        assert!(csv.contains("\r\n"));
    }
}

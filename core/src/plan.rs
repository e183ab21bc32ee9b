//! An order, the mapping table, the settings and what the host knows become the ordered X3
//! operations to run — or a hold naming every missing mapping.
//!
//! Every operation is rendered for both X3 APIs (REST api1 field codes and GraphQL property
//! names, `docs/x3-wire-format.md`), carries an idempotency key that stays the same across
//! retries and re-deliveries, and says how to look up what an earlier attempt may have created.
//! When the customer look-up finds an existing X3 customer, the host plans again with that code
//! in [`Known::customer_code`]: planning is pure and cheap.

use std::collections::HashMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value, json};

use crate::customer::{customer_code, customer_key, key_digest};
use crate::date::date_part;
use crate::literal::{graphql_literal, sdata_literal};
use crate::mapping::{MappingKey, MappingRow, Match, Table};
use crate::order::{self, Address, Order};
use crate::text::{Fitter, Shortened};
use crate::wire::Wire;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the body is not JSON: {0}")]
    InvalidJson(String),
    #[error("legacy_v3 order body: set the webhook's API version to WP REST API Integration v3")]
    LegacyPayload,
    #[error("WooCommerce answered with an error instead of an order: {0}")]
    RestError(String),
    #[error("invalid order: {0}")]
    InvalidOrder(String),
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
}

impl From<order::Error> for Error {
    fn from(e: order::Error) -> Self {
        match e {
            order::Error::InvalidJson(m) => Error::InvalidJson(m),
            order::Error::LegacyPayload => Error::LegacyPayload,
            order::Error::RestError(m) => Error::RestError(m),
            order::Error::InvalidOrder(m) => Error::InvalidOrder(m),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Order,
    Invoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceBasis {
    Net,
    Gross,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub store_id: String,
    pub reference_prefix: String,
    pub customer_prefix: String,
    pub guest_customer: Option<String>,
    pub sales_site: String,
    pub shipment_site: String,
    pub order_type: String,
    pub invoice_type: String,
    pub customer_category: String,
    pub document_kind: DocumentKind,
    pub price_basis: PriceBasis,
    pub default_sales_unit: Option<String>,
    pub currency_decimals: u8,
    pub dimension_types: Vec<String>,
    pub field_limits: Vec<(String, u32)>,
    /// Overrides of the X3 names (`crate::wire`), by key; empty: the reference's names.
    pub wire: Vec<(String, String)>,
}

impl Default for Settings {
    /// Every default filled in; sites, types and the category are the merchant's to set.
    fn default() -> Self {
        Settings {
            store_id: "store".into(),
            reference_prefix: "WC-".into(),
            customer_prefix: "W".into(),
            guest_customer: None,
            sales_site: String::new(),
            shipment_site: String::new(),
            order_type: String::new(),
            invoice_type: String::new(),
            customer_category: String::new(),
            document_kind: DocumentKind::Order,
            price_basis: PriceBasis::Net,
            default_sales_unit: None,
            currency_decimals: 2,
            dimension_types: Vec::new(),
            field_limits: Vec::new(),
            wire: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    pub customer_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub rest_class: String,
    pub rest_representation: String,
    pub rest_where: String,
    pub graphql_query: String,
    pub graphql_variables: String,
    pub rest_key_field: String,
    pub graphql_key_field: String,
    /// A found record is ours only when this REST field (empty: no check) …
    pub rest_check_field: String,
    /// … or this dotted path in the GraphQL node (`soldToCustomer.code`) …
    pub graphql_check_path: String,
    /// … holds this value (the document's customer). Another value means another shop (or a
    /// person) made a document with our reference: never adopted, never duplicated.
    pub check_value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    EnsureCustomer,
    CreateSalesOrder,
    CreateSalesInvoice,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub kind: OperationKind,
    pub idempotency_key: String,
    pub reference: String,
    pub rest_class: String,
    pub rest_representation: String,
    pub rest_body: String,
    pub graphql_mutation: String,
    pub graphql_variables: String,
    pub lookup: Lookup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub order_id: u64,
    pub customer_code: String,
    pub customer_key: String,
    pub operations: Vec<Operation>,
    pub shortened: Vec<Shortened>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingMapping {
    pub line_id: u64,
    pub line_kind: String,
    pub name: String,
    pub tried: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub order_id: u64,
    pub missing: Vec<MissingMapping>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ready(Plan),
    Hold(Hold),
}

/// X3 field lengths: from the reference where it gives them (§5.1, §5.3: BPCNUM 15, BPRNAM 35,
/// BPRSHO 10, BCGCOD 5, BPAADD 5, CUR 3, ITMDES 30, CUSORDREF 20); the address ones are
/// UNCONFIRMED defaults. `field-limits` in the settings overrides any of them.
const FIELD_LIMITS: [(&str, u32); 14] = [
    ("BPCNUM", 15),
    ("BPRNAM", 35),
    ("BPRSHO", 10),
    ("BCGCOD", 5),
    ("CUR", 3),
    ("WEB", 80),
    ("BPAADDLIG", 50),
    ("POSCOD", 10),
    ("CTY", 40),
    ("SAT", 35),
    ("CRY", 3),
    ("TEL", 20),
    ("ITMDES", 30),
    ("CUSORDREF", 20),
];

struct Limits(HashMap<String, usize>);

impl Limits {
    fn new(overrides: &[(String, u32)]) -> Self {
        let mut map: HashMap<String, usize> = FIELD_LIMITS
            .iter()
            .map(|(k, v)| (k.to_string(), *v as usize))
            .collect();
        for (k, v) in overrides {
            map.insert(k.clone(), *v as usize);
        }
        Limits(map)
    }

    fn get(&self, field: &str) -> usize {
        self.0.get(field).copied().unwrap_or(usize::MAX)
    }
}

/// One object rendered for both APIs at once: each value goes in under its REST field code and
/// its GraphQL property name, so the two renderings cannot drift apart.
#[derive(Default)]
struct Both {
    rest: Map<String, Value>,
    gql: Map<String, Value>,
}

impl Both {
    fn put(&mut self, rest: &str, gql: &str, v: Value) {
        self.rest.insert(rest.to_string(), v.clone());
        self.gql.insert(gql.to_string(), v);
    }

    /// A decimal: a JSON number for REST (exact for X3's ≤ 14 significant digits), a string for
    /// GraphQL (as Sage's own sample sends decimals).
    fn put_decimal(&mut self, rest: &str, gql: &str, d: Decimal) {
        let d = d.normalize();
        let number = d
            .to_string()
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(d.to_string()));
        self.rest.insert(rest.to_string(), number);
        self.gql
            .insert(gql.to_string(), Value::String(d.to_string()));
    }

    fn put_list(&mut self, rest: &str, gql: &str, items: Vec<Both>) {
        let (r, g): (Vec<_>, Vec<_>) = items
            .into_iter()
            .map(|b| (Value::Object(b.rest), Value::Object(b.gql)))
            .unzip();
        self.rest.insert(rest.to_string(), Value::Array(r));
        self.gql.insert(gql.to_string(), Value::Array(g));
    }

    fn put_object(&mut self, rest: Option<&str>, gql: &str, inner: Both) {
        if let Some(rest) = rest {
            self.rest
                .insert(rest.to_string(), Value::Object(inner.rest));
        } else {
            self.rest.extend(inner.rest);
        }
        self.gql.insert(gql.to_string(), Value::Object(inner.gql));
    }
}

/// Renders text fields within their limits, recording cuts under `<scope>.<field>`.
struct Render<'a> {
    limits: &'a Limits,
    fitter: Fitter,
    w: &'a Wire,
}

impl Render<'_> {
    fn fit(&mut self, scope: &str, field: &str, limit_of: &str, value: &str) -> String {
        let limit = self.limits.get(limit_of);
        self.fitter.fit(&format!("{scope}.{field}"), value, limit)
    }
}

fn check_code(name: &str, value: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<()> {
    let n = value.chars().count();
    if n == 0 || n > max || !value.chars().all(allowed) {
        return Err(Error::InvalidSettings(format!(
            "{name} {value:?}: 1 to {max} characters of the allowed set"
        )));
    }
    Ok(())
}

fn x3_code(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
}

/// The X3 names in force for these settings.
pub fn wire_of(s: &Settings) -> Result<Wire> {
    Wire::new(&s.wire).map_err(|e| Error::InvalidSettings(e.to_string()))
}

/// One thing wrong with the settings, under the field of [`Settings`] it is about: `store-id`,
/// `dimension-types`, … (the WIT record's names), or `wire.<key>` for an X3 name override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsProblem {
    pub field: String,
    pub message: String,
}

/// Checks the settings and returns the X3 names in force: the first of [`check_settings`]'s
/// problems (without the mapping) is the error.
pub fn validate(s: &Settings) -> Result<Wire> {
    let mut problems = Vec::new();
    let w = collect_problems(s, &mut problems);
    match problems.into_iter().next() {
        Some(p) => Err(Error::InvalidSettings(p.message)),
        None => Ok(w),
    }
}

/// Every problem with the settings, in the order `plan` meets them, and with the dimension types
/// the mapping rows use and the customer category that creating a customer needs: what `plan`
/// would refuse, all at once rather than one per call. Empty: `plan` takes these settings.
pub fn check_settings(s: &Settings, mapping: &[MappingRow]) -> Vec<SettingsProblem> {
    let mut problems = Vec::new();
    collect_problems(s, &mut problems);
    for row in mapping {
        for d in &row.dimensions {
            if !s.dimension_types.contains(&d.dimension_type) {
                problems.push(SettingsProblem {
                    field: "dimension-types".into(),
                    message: mapping_dimension_message(row, &d.dimension_type),
                });
            }
        }
    }
    if s.customer_category.is_empty() {
        problems.push(SettingsProblem {
            field: "customer-category".into(),
            message: CUSTOMER_CATEGORY_NEEDED.into(),
        });
    }
    problems
}

const CUSTOMER_CATEGORY_NEEDED: &str = "customer-category is needed to create customers in X3";

fn mapping_dimension_message(row: &MappingRow, dimension_type: &str) -> String {
    format!(
        "mapping row {} uses dimension type {dimension_type:?}, which is not in dimension-types",
        row.key.label()
    )
}

/// The checks of [`validate`], each problem pushed under its field; the names in force, from the
/// overrides that are valid.
fn collect_problems(s: &Settings, out: &mut Vec<SettingsProblem>) -> Wire {
    let mut push = |field: &str, r: Result<()>| {
        if let Err(Error::InvalidSettings(message)) = r {
            out.push(SettingsProblem {
                field: field.into(),
                message,
            });
        }
    };
    push(
        "store-id",
        check_code("store-id", &s.store_id, 64, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')
        }),
    );
    push(
        "reference-prefix",
        check_code("reference-prefix", &s.reference_prefix, 8, |c| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '/')
        }),
    );
    // CUSORDREF is the prefix and the order id: with a digit at the end, "WC1" + 23 and
    // "WC12" + 3 are the same reference, so two shops' prefixes could not keep them apart.
    if s.reference_prefix.ends_with(|c: char| c.is_ascii_digit()) {
        push(
            "reference-prefix",
            Err(Error::InvalidSettings(format!(
                "reference-prefix {:?} ends with a digit: references would not be unique \
                 (\"WC1\" + order 23 = \"WC12\" + order 3); end it with a letter or - _ /",
                s.reference_prefix
            ))),
        );
    }
    if !s.customer_prefix.is_empty() {
        push(
            "customer-prefix",
            check_code("customer-prefix", &s.customer_prefix, 5, |c| {
                c.is_ascii_uppercase() || c.is_ascii_digit()
            }),
        );
    }
    push(
        "sales-site",
        check_code("sales-site", &s.sales_site, 5, x3_code),
    );
    if !s.shipment_site.is_empty() {
        push(
            "shipment-site",
            check_code("shipment-site", &s.shipment_site, 5, x3_code),
        );
    }
    match s.document_kind {
        DocumentKind::Order => push(
            "order-type",
            check_code("order-type", &s.order_type, 5, x3_code),
        ),
        DocumentKind::Invoice => push(
            "invoice-type",
            check_code("invoice-type", &s.invoice_type, 5, x3_code),
        ),
    }
    if s.currency_decimals > 8 {
        push(
            "currency-decimals",
            Err(Error::InvalidSettings(format!(
                "currency-decimals {}: at most 8",
                s.currency_decimals
            ))),
        );
    }
    for d in &s.dimension_types {
        push(
            "dimension-types",
            check_code("dimension type", d, 10, x3_code),
        );
    }
    // Each override on its own, so every bad one is named; the names in force are the good ones.
    let mut good = Vec::new();
    for (k, v) in &s.wire {
        match Wire::new(std::slice::from_ref(&(k.clone(), v.clone()))) {
            Ok(_) => good.push((k.clone(), v.clone())),
            Err(e) => push(
                &format!("wire.{}", k.trim()),
                Err(Error::InvalidSettings(e.to_string())),
            ),
        }
    }
    let w = Wire::new(&good).unwrap_or_else(|_| Wire::default());
    // An e-mail on a collection must be on the customer's addresses: that is what is written.
    for (path_key, addresses) in [
        (EMAIL_PATH, "rest.customer.addresses"),
        (GQL_EMAIL_PATH, "graphql.customer.addresses"),
    ] {
        let path = w.get(path_key);
        if let Some((coll, _)) = path.split_once('.')
            && coll != w.get(addresses)
        {
            push(
                &format!("wire.{path_key}"),
                Err(Error::InvalidSettings(format!(
                    "x3.wire.{path_key} {path:?}: the collection must be the customer's addresses ({})",
                    w.get(addresses)
                ))),
            );
        }
    }
    w
}

const EMAIL_PATH: &str = "rest.customer.email-path";
const GQL_EMAIL_PATH: &str = "graphql.customer.email-path";

/// What one document line is made of, whatever WooCommerce line it came from.
struct DocLine<'a> {
    kind: &'static str,
    name: &'a str,
    quantity: i64,
    subtotal: Decimal,
    total: Decimal,
    row: &'a MappingRow,
}

/// The plan's entry point.
pub fn plan(
    body: &[u8],
    mapping: &[MappingRow],
    settings: &Settings,
    known: &Known,
) -> Result<Outcome> {
    let order = Order::parse(body)?;
    plan_order(&order, mapping, settings, known)
}

/// Plans an already parsed order.
pub fn plan_order(
    order: &Order,
    mapping: &[MappingRow],
    s: &Settings,
    known: &Known,
) -> Result<Outcome> {
    let w = validate(s)?;
    for row in mapping {
        if let Some(d) = row
            .dimensions
            .iter()
            .find(|d| !s.dimension_types.contains(&d.dimension_type))
        {
            return Err(Error::InvalidSettings(mapping_dimension_message(
                row,
                &d.dimension_type,
            )));
        }
    }
    if order.line_items.is_empty() {
        return Err(Error::InvalidOrder(
            "line_items: the order has no product lines".into(),
        ));
    }
    if order.currency.len() != 3 || !order.currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::InvalidOrder(format!(
            "currency: {:?} is not an ISO 4217 code",
            order.currency
        )));
    }
    let date = date_part(&order.date_created)
        .or_else(|| date_part(&order.date_created_gmt))
        .ok_or_else(|| {
            Error::InvalidOrder(format!(
                "date_created: {:?} is not a date",
                order.date_created
            ))
        })?;
    let reference = format!("{}{}", s.reference_prefix, order.id);
    if reference.len() > 20 {
        return Err(Error::InvalidOrder(format!(
            "id: {} makes the reference {reference:?} longer than CUSORDREF's 20 characters",
            order.id
        )));
    }

    // Lines and their mapping rows; every miss is collected before deciding.
    let table = Table::new(mapping);
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    let mut warnings = Vec::new();
    for l in &order.line_items {
        match table.product_line(l.product_id, l.variation_id, l.sku.as_deref()) {
            Match::Row(row) | Match::Default(row) => lines.push(DocLine {
                kind: "line",
                name: &l.name,
                quantity: l.quantity,
                subtotal: l.subtotal,
                total: l.total,
                row,
            }),
            Match::Missing(tried) => missing.push(MissingMapping {
                line_id: l.id,
                line_kind: "line".into(),
                name: l.name.clone(),
                tried: tried.iter().map(MappingKey::label).collect(),
            }),
        }
    }
    let extras = order
        .fee_lines
        .iter()
        .map(|f| {
            (
                "fee",
                f.id,
                &f.name,
                f.total,
                MappingKey::Fee(f.name.trim().to_string()),
            )
        })
        .chain(order.shipping_lines.iter().map(|sh| {
            let key = MappingKey::Shipping(sh.method_id.trim().to_string());
            ("shipping", sh.id, &sh.method_title, sh.total, key)
        }));
    for (kind, id, name, total, key) in extras {
        match table.exact(&key) {
            Some(row) => lines.push(DocLine {
                kind,
                name,
                quantity: 1,
                subtotal: total,
                total,
                row,
            }),
            None if total.is_zero() => warnings.push(format!(
                "{kind} line {id} ({name}) has no mapping and a zero total: left out"
            )),
            None => missing.push(MissingMapping {
                line_id: id,
                line_kind: kind.into(),
                name: name.clone(),
                tried: vec![key.label()],
            }),
        }
    }

    // The customer.
    let email = order.billing.email.as_deref().unwrap_or("");
    let key = customer_key(email);
    let mut reasons = Vec::new();
    let code = match (&known.customer_code, key.is_empty(), &s.guest_customer) {
        (Some(code), _, _) => Some(code.clone()),
        (None, false, _) => Some(customer_code(&s.customer_prefix, &key)),
        (None, true, Some(guest)) => Some(guest.clone()),
        (None, true, None) => {
            reasons.push(
                "the order has no billing e-mail and no guest customer is configured".to_string(),
            );
            None
        }
    };
    let (Some(code), true) = (code, missing.is_empty()) else {
        return Ok(Outcome::Hold(Hold {
            order_id: order.id,
            missing,
            reasons,
        }));
    };

    let limits = Limits::new(&s.field_limits);
    let mut r = Render {
        limits: &limits,
        fitter: Fitter::default(),
        w: &w,
    };
    let mut operations = Vec::new();
    if known.customer_code.is_none() && !key.is_empty() {
        if s.customer_category.is_empty() {
            return Err(Error::InvalidSettings(CUSTOMER_CATEGORY_NEEDED.into()));
        }
        operations.push(customer_operation(order, s, &mut r, &key, &code));
    }
    operations.push(document_operation(
        order,
        s,
        &mut r,
        &code,
        &reference,
        &date,
        &lines,
        &mut warnings,
    ));
    Ok(Outcome::Ready(Plan {
        order_id: order.id,
        customer_code: code,
        customer_key: key,
        operations,
        shortened: r.fitter.shortened,
        warnings,
    }))
}

fn address(
    r: &mut Render<'_>,
    scope: &str,
    code: &str,
    description: &str,
    a: &Address,
    email: &AddressEmail<'_>,
    default: bool,
) -> Both {
    let w = r.w;
    let (rest, gql) = ("rest.customer.address", "graphql.customer.address");
    let name = |p: &str, n: &str| (w.get(&format!("{rest}.{n}")), w.get(&format!("{p}.{n}")));
    let mut b = Both::default();
    let (rc, gc) = name(gql, "code");
    b.put(rc, gc, json!(code));
    let (rd, gd) = name(gql, "description");
    b.put(rd, gd, json!(description));
    let lines_field = w.get("rest.customer.address.lines");
    let lines = [a.address_1.as_str(), a.address_2.as_str(), ""];
    let fitted: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| r.fit(scope, &format!("{lines_field}[{i}]"), "BPAADDLIG", l))
        .collect();
    b.put(
        lines_field,
        w.get("graphql.customer.address.lines"),
        json!(fitted),
    );
    for (n, limit, value) in [
        ("zip", "POSCOD", &a.postcode),
        ("city", "CTY", &a.city),
        ("state", "SAT", &a.state),
        ("country", "CRY", &a.country),
    ] {
        let (rf, gf) = name(gql, n);
        let v = r.fit(scope, rf, limit, value);
        b.put(rf, gf, json!(v));
    }
    let (rt, gt) = name(gql, "phone");
    let phone = r.fit(scope, rt, "TEL", a.phone.as_deref().unwrap_or(""));
    b.put(rt, gt, json!(phone));
    // The e-mail paths say whether, and under which field, an address holds it.
    if let Some(field) = email.rest_field {
        let v = r.fit(scope, field, "WEB", email.value);
        b.rest.insert(field.into(), json!(v));
    }
    if let Some(prop) = email.graphql_property {
        let v: String = email.value.chars().take(r.limits.get("WEB")).collect();
        b.gql.insert(prop.into(), json!(v));
    }
    b.rest.insert(
        w.get("rest.customer.address.is-default").into(),
        json!(if default { 2 } else { 1 }),
    );
    b.gql.insert(
        w.get("graphql.customer.address.is-default").into(),
        json!(default),
    );
    b
}

fn customer_name(order: &Order) -> String {
    let b = &order.billing;
    [b.company.trim().to_string(), b.full_name()]
        .into_iter()
        .find(|n| !n.is_empty())
        .or_else(|| order.billing.email.clone())
        .unwrap_or_else(|| "Web customer".into())
}

/// A GraphQL `_regex` matching `key` exactly, whatever the case of each letter: Xtrem filters
/// have no `upper()` (x3-api.md §3.4), and an X3 user may have typed `Anna@Example.com`.
pub fn case_insensitive_regex(key: &str) -> String {
    let mut out = String::from("^");
    for c in key.chars() {
        let (lo, up): (String, String) = (c.to_lowercase().collect(), c.to_uppercase().collect());
        if lo != up && lo.chars().count() == 1 && up.chars().count() == 1 {
            out.push('[');
            out.push_str(&lo);
            out.push_str(&up);
            out.push(']');
        } else if "\\^$.|?*+()[]{}/".contains(c) {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out.push('$');
    out
}

/// How to find the X3 customers whose e-mail is `key` (any case), on the header or on an
/// address, as the e-mail path says.
fn customer_lookup(w: &Wire, key: &str) -> Lookup {
    let class = w.get("rest.customer.class");
    let rep = w.get("rest.customer.representation");
    let code = w.get("rest.customer.code");
    let (package, node) = w.node("graphql.customer.node");
    let gcode = w.get("graphql.customer.code");
    let regex = graphql_literal(&case_insensitive_regex(key));
    let filter = match w.get(GQL_EMAIL_PATH).split_once('.') {
        Some((coll, prop)) => format!("{{{coll}:{{_atLeast:1,{prop}:{{_regex:{regex}}}}}}}"),
        None => format!("{{{}:{{_regex:{regex}}}}}", w.get(GQL_EMAIL_PATH)),
    };
    Lookup {
        rest_class: class.into(),
        rest_representation: rep.into(),
        rest_where: format!(
            "upper({}) eq {}",
            w.get(EMAIL_PATH),
            sdata_literal(&key.to_uppercase())
        ),
        graphql_query: format!(
            "query FindCustomer($filter: String) {{ {package} {{ {node} {{ query(first: 50, filter: $filter) {{ edges {{ node {{ {gcode} }} }} }} }} }} }}"
        ),
        graphql_variables: json!({ "filter": filter }).to_string(),
        rest_key_field: code.into(),
        graphql_key_field: gcode.into(),
        rest_check_field: String::new(),
        graphql_check_path: String::new(),
        check_value: String::new(),
    }
}

fn customer_operation(
    order: &Order,
    s: &Settings,
    r: &mut Render<'_>,
    key: &str,
    code: &str,
) -> Operation {
    let w = r.w;
    let f = |n: &str| {
        (
            w.get(&format!("rest.customer.{n}")),
            w.get(&format!("graphql.customer.{n}")),
        )
    };
    let mut c = Both::default();
    let (rf, gf) = f("category");
    let category = r.fit("customer", rf, "BCGCOD", &s.customer_category);
    c.put(rf, gf, json!(category));
    let (rf, gf) = f("code");
    c.put(rf, gf, json!(code));
    let (rf, gf) = f("name");
    let name = r.fit("customer", rf, "BPRNAM", &customer_name(order));
    c.put(rf, gf, json!(name));
    // The short name is derived, not the merchant's data: cutting it is expected, not reported.
    let short: String = name.chars().take(r.limits.get("BPRSHO")).collect();
    let (rf, gf) = f("short-name");
    c.put(rf, gf, json!(short.trim_end()));
    let (rf, gf) = f("currency");
    c.put(rf, gf, json!(order.currency));
    // The e-mail is sent as its match key, on the header or on every address, as the e-mail
    // paths say (`BPADDRESS.WEB`, `addresses.email`).
    let rest_path = w.get(EMAIL_PATH);
    let gql_path = w.get(GQL_EMAIL_PATH);
    if !rest_path.contains('.') {
        let email = r.fit("customer", rest_path, "WEB", key);
        c.rest.insert(rest_path.into(), json!(email));
    }
    if !gql_path.contains('.') {
        let email: String = key.chars().take(r.limits.get("WEB")).collect();
        c.gql.insert(gql_path.into(), json!(email));
    }
    let email = AddressEmail {
        value: key,
        rest_field: rest_path.split_once('.').map(|(_, f)| f),
        graphql_property: gql_path.split_once('.').map(|(_, p)| p),
    };
    let distinct_shipping =
        !order.shipping.is_empty() && !same_place(&order.shipping, &order.billing);
    let ship_code = if distinct_shipping { "SHP" } else { "BIL" };
    let (rf, gf) = f("bill-to-address");
    c.put(rf, gf, json!("BIL"));
    let (rf, gf) = f("default-address");
    c.put(rf, gf, json!("BIL"));
    let (rf, gf) = f("ship-to-address");
    c.put(rf, gf, json!(ship_code));
    let mut addresses = vec![address(
        r,
        "customer.BIL",
        "BIL",
        "Billing",
        &order.billing,
        &email,
        true,
    )];
    if distinct_shipping {
        let mut ship = order.shipping.clone();
        if ship.phone.is_none() {
            ship.phone = order.billing.phone.clone();
        }
        addresses.push(address(
            r,
            "customer.SHP",
            "SHP",
            "Shipping",
            &ship,
            &email,
            false,
        ));
    }
    let (rf, gf) = f("addresses");
    c.put_list(rf, gf, addresses);

    let digest: String = key_digest(key)[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (package, node) = w.node("graphql.customer.node");
    Operation {
        kind: OperationKind::EnsureCustomer,
        idempotency_key: format!("{}/customer/{digest}", s.store_id),
        reference: code.to_string(),
        rest_class: w.get("rest.customer.class").into(),
        rest_representation: w.get("rest.customer.representation").into(),
        rest_body: Value::Object(c.rest).to_string(),
        graphql_mutation: format!(
            "mutation CreateCustomer($data: {}!) {{ {package} {{ {node} {{ create(data: $data) {{ {} }} }} }} }}",
            w.get("graphql.customer.input"),
            w.get("graphql.customer.code")
        ),
        graphql_variables: json!({ "data": Value::Object(c.gql) }).to_string(),
        lookup: customer_lookup(w, key),
    }
}

/// The customer's e-mail as its addresses carry it: under which field, if at all.
struct AddressEmail<'a> {
    value: &'a str,
    rest_field: Option<&'a str>,
    graphql_property: Option<&'a str>,
}

fn same_place(a: &Address, b: &Address) -> bool {
    let norm = |s: &str| s.trim().to_lowercase();
    norm(&a.address_1) == norm(&b.address_1)
        && norm(&a.address_2) == norm(&b.address_2)
        && norm(&a.postcode) == norm(&b.postcode)
        && norm(&a.city) == norm(&b.city)
        && norm(&a.country) == norm(&b.country)
        && norm(&a.full_name()) == norm(&b.full_name())
}

/// The ship-to or bill-to block of a document: `rest.<doc>.<block>.*` fields at the header,
/// `graphql.<doc>.<block>` as one object. The name is one 35-character string (X3 types
/// `BPDNAM`/`BPINAM` so); a company goes on the third address line, which WooCommerce never
/// fills.
fn document_address(r: &mut Render<'_>, scope: &str, doc: &str, block: &str, a: &Address) -> Both {
    let w = r.w;
    let rest = |n: &str| w.get(&format!("rest.{doc}.{block}.{n}")).to_string();
    let gql = |n: &str| w.get(&format!("graphql.document.address.{n}")).to_string();
    let mut b = Both::default();
    let person = a.full_name();
    let company = a.company.trim();
    let (name, third) = if person.is_empty() {
        (company.to_string(), "")
    } else {
        (person, company)
    };
    let name_field = rest("name");
    let name = r.fit(scope, &name_field, "BPRNAM", &name);
    b.put(&name_field, &gql("name"), json!(name));
    let lines_field = rest("lines");
    let lines: Vec<String> = [a.address_1.as_str(), a.address_2.as_str(), third]
        .iter()
        .enumerate()
        .map(|(i, l)| r.fit(scope, &format!("{lines_field}[{i}]"), "BPAADDLIG", l))
        .collect();
    b.put(&lines_field, &gql("lines"), json!(lines));
    for (n, base, value) in [
        ("zip", "POSCOD", &a.postcode),
        ("city", "CTY", &a.city),
        ("state", "SAT", &a.state),
        ("country", "CRY", &a.country),
    ] {
        let field = rest(n);
        let v = r.fit(scope, &field, base, value);
        b.put(&field, &gql(n), json!(v));
    }
    b
}

/// Looks a document (`order`, `invoice`, `delivery`, `receipt`…) up by one of its fields
/// (`reference`, `description`, `key`), as the wire names in force have them; no customer check.
pub fn lookup_by(w: &Wire, doc: &str, field: &str, value: &str) -> Lookup {
    let (package, node) = w.node(&format!("graphql.{doc}.node"));
    let gkey = w.get(&format!("graphql.{doc}.key"));
    Lookup {
        rest_class: w.get(&format!("rest.{doc}.class")).into(),
        rest_representation: w.get(&format!("rest.{doc}.representation")).into(),
        rest_where: format!(
            "{} eq {}",
            w.get(&format!("rest.{doc}.{field}")),
            sdata_literal(value)
        ),
        graphql_query: format!(
            "query Find($filter: String) {{ {package} {{ {node} {{ query(first: 20, filter: $filter) {{ edges {{ node {{ {gkey} }} }} }} }} }} }}"
        ),
        graphql_variables: json!({
            "filter": format!(
                "{{{}:{}}}",
                w.get(&format!("graphql.{doc}.{field}")),
                graphql_literal(value)
            )
        })
        .to_string(),
        rest_key_field: w.get(&format!("rest.{doc}.key")).into(),
        graphql_key_field: gkey.into(),
        rest_check_field: String::new(),
        graphql_check_path: String::new(),
        check_value: String::new(),
    }
}

/// How to find the document an earlier attempt (or another host on the same shop) made for
/// `reference`: the customer is read too, so a document of another shop with the same
/// reference is told apart instead of adopted.
pub fn document_lookup(w: &Wire, doc: &str, reference: &str, customer: &str) -> Lookup {
    let mut l = lookup_by(w, doc, "reference", reference);
    let (package, node) = w.node(&format!("graphql.{doc}.node"));
    let gcust = w.get(&format!("graphql.{doc}.customer"));
    let code = w.get("graphql.reference.code");
    l.graphql_query = format!(
        "query FindDocument($filter: String) {{ {package} {{ {node} {{ query(first: 20, filter: $filter) {{ edges {{ node {{ {} {gcust} {{ {code} }} }} }} }} }} }} }}",
        l.graphql_key_field
    );
    l.rest_check_field = w.get(&format!("rest.{doc}.customer")).into();
    l.graphql_check_path = format!("{gcust}.{code}");
    l.check_value = customer.into();
    l
}

#[allow(clippy::too_many_arguments)]
fn document_operation(
    order: &Order,
    s: &Settings,
    r: &mut Render<'_>,
    customer: &str,
    reference: &str,
    date: &str,
    lines: &[DocLine<'_>],
    warnings: &mut Vec<String>,
) -> Operation {
    let w = r.w;
    let invoice = s.document_kind == DocumentKind::Invoice;
    let doc = if invoice { "invoice" } else { "order" };
    let h = |n: &str| {
        (
            w.get(&format!("rest.{doc}.{n}")),
            w.get(&format!("graphql.{doc}.{n}")),
        )
    };
    let shipment_site = if s.shipment_site.is_empty() {
        &s.sales_site
    } else {
        &s.shipment_site
    };
    let mut d = Both::default();
    let (rf, gf) = h("sales-site");
    d.put(rf, gf, json!(s.sales_site));
    let (rf, gf) = h("type");
    d.put(
        rf,
        gf,
        json!(if invoice {
            &s.invoice_type
        } else {
            &s.order_type
        }),
    );
    let (rf, gf) = h("customer");
    d.put(rf, gf, json!(customer));
    let (rf, gf) = h("date");
    d.put(rf, gf, json!(date));
    if !invoice {
        let (rf, gf) = h("shipment-site");
        d.put(rf, gf, json!(shipment_site));
    }
    let (rf, gf) = h("currency");
    d.put(rf, gf, json!(order.currency));
    let (rf, gf) = h("reference");
    d.put(rf, gf, json!(reference));
    let ship = if order.shipping.is_empty() {
        &order.billing
    } else {
        &order.shipping
    };
    // Invoices carry the delivery address too: the goods still go somewhere.
    let block = document_address(r, doc, doc, "ship-to", ship);
    d.put_object(None, w.get(&format!("graphql.{doc}.ship-to")), block);
    let block = document_address(r, doc, doc, "bill-to", &order.billing);
    d.put_object(None, w.get(&format!("graphql.{doc}.bill-to")), block);

    let (lines_field, glines) = h("lines");
    let line = |n: &str| {
        (
            w.get(&format!("rest.line.{n}")),
            w.get(&format!("graphql.{doc}.line.{n}")),
        )
    };
    let dp = u32::from(s.currency_decimals);
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let row = l.row;
        let line_scope = format!("{doc}.{lines_field}[{i}]");
        let mut b = Both::default();
        let (rf, gf) = line("item");
        b.put(rf, gf, json!(row.item_code));
        let (rf, gf) = line("description");
        let name = r.fit(&line_scope, rf, "ITMDES", l.name);
        b.put(rf, gf, json!(name));
        let (rf, gf) = line("quantity");
        b.put(rf, gf, json!(l.quantity));
        if let Some(unit) = row.sales_unit.as_ref().or(s.default_sales_unit.as_ref()) {
            let (rf, gf) = line("sales-unit");
            b.put(rf, gf, json!(unit));
        }
        let qty = Decimal::from(l.quantity);
        let price4 = |v: Decimal| {
            (v / qty).round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
        };
        let (price, discount) = match s.price_basis {
            PriceBasis::Net => (price4(l.total), Decimal::ZERO),
            PriceBasis::Gross => (price4(l.subtotal), price4(l.subtotal - l.total)),
        };
        let (rf, gf) = line("price");
        b.put_decimal(rf, gf, price);
        if s.price_basis == PriceBasis::Gross {
            let (rf, gf) = line("discount");
            b.put_decimal(rf, gf, discount);
        }
        let x3_amount = ((price - discount) * qty)
            .round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
        let woo_amount = l
            .total
            .round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
        if x3_amount != woo_amount {
            warnings.push(format!(
                "{} line {} ({}): X3 will compute {x3_amount} from {} × {price}, WooCommerce says {woo_amount}",
                l.kind,
                i + 1,
                l.name,
                l.quantity
            ));
        }
        if let Some(site) = &row.site {
            let (rf, gf) = line("shipment-site");
            b.put(rf, gf, json!(site));
        }
        if let Some(account) = &row.gl_account {
            b.put(
                w.get("rest.gl-account"),
                w.get("graphql.gl-account"),
                json!(account),
            );
        }
        for dim in &row.dimensions {
            let n = s
                .dimension_types
                .iter()
                .position(|t| *t == dim.dimension_type)
                .map_or(0, |p| p + 1);
            b.put(
                &w.numbered("rest.dimension", n),
                &w.numbered("graphql.dimension", n),
                json!(dim.value),
            );
        }
        out.push(b);
    }
    d.put_list(lines_field, glines, out);

    let (kind, op_name) = if invoice {
        (OperationKind::CreateSalesInvoice, "CreateSalesInvoice")
    } else {
        (OperationKind::CreateSalesOrder, "CreateSalesOrder")
    };
    let (package, node) = w.node(&format!("graphql.{doc}.node"));
    Operation {
        kind,
        // One document per order, whatever its kind: switching the setting later must not post
        // an invoice for an order already posted as a sales order.
        idempotency_key: format!("{}/order/{}/document", s.store_id, order.id),
        reference: reference.to_string(),
        rest_class: w.get(&format!("rest.{doc}.class")).into(),
        rest_representation: w.get(&format!("rest.{doc}.representation")).into(),
        rest_body: Value::Object(d.rest).to_string(),
        graphql_mutation: format!(
            "mutation {op_name}($data: {}!) {{ {package} {{ {node} {{ create(data: $data) {{ {} }} }} }} }}",
            w.get(&format!("graphql.{doc}.input")),
            w.get(&format!("graphql.{doc}.key"))
        ),
        graphql_variables: json!({ "data": Value::Object(d.gql) }).to_string(),
        lookup: document_lookup(w, doc, reference, customer),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

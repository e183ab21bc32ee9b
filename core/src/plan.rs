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
use crate::literal::{graphql_literal, sdata_literal};
use crate::mapping::{MappingKey, MappingRow, Match, Table};
use crate::order::{self, Address, Order};
use crate::text::{Fitter, Shortened};

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
pub struct WireNames {
    pub customer_class: String,
    pub customer_representation: String,
    pub order_class: String,
    pub order_representation: String,
    pub invoice_class: String,
    pub invoice_representation: String,
    pub order_lines_field: String,
    pub invoice_lines_field: String,
    pub customer_email_field: String,
    pub gl_account_field: String,
    pub rest_dimension_field: String,
    pub graphql_dimension_field: String,
}

impl Default for WireNames {
    fn default() -> Self {
        let s = |v: &str| v.to_string();
        WireNames {
            customer_class: s("BPCUSTOMER"),
            customer_representation: s("BPCUSTOMER"),
            order_class: s("SORDER"),
            order_representation: s("SORDER"),
            invoice_class: s("SINVOICE"),
            invoice_representation: s("SINVOICE"),
            order_lines_field: s("SOHSOP"),
            invoice_lines_field: s("SINVOICED"),
            customer_email_field: s("WEB"),
            gl_account_field: s("ACC"),
            rest_dimension_field: s("CCE{n}"),
            graphql_dimension_field: s("dimension{n}"),
        }
    }
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
    pub wire: WireNames,
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
            wire: WireNames::default(),
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

fn validate(s: &Settings) -> Result<()> {
    check_code("store-id", &s.store_id, 64, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')
    })?;
    check_code("reference-prefix", &s.reference_prefix, 8, |c| {
        c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '/')
    })?;
    if !s.customer_prefix.is_empty() {
        check_code("customer-prefix", &s.customer_prefix, 5, |c| {
            c.is_ascii_uppercase() || c.is_ascii_digit()
        })?;
    }
    check_code("sales-site", &s.sales_site, 5, x3_code)?;
    if !s.shipment_site.is_empty() {
        check_code("shipment-site", &s.shipment_site, 5, x3_code)?;
    }
    match s.document_kind {
        DocumentKind::Order => check_code("order-type", &s.order_type, 5, x3_code)?,
        DocumentKind::Invoice => check_code("invoice-type", &s.invoice_type, 5, x3_code)?,
    }
    if s.currency_decimals > 8 {
        return Err(Error::InvalidSettings(format!(
            "currency-decimals {}: at most 8",
            s.currency_decimals
        )));
    }
    for d in &s.dimension_types {
        check_code("dimension type", d, 10, x3_code)?;
    }
    Ok(())
}

/// `YYYY-MM-DD` of a WooCommerce date (`YYYY-MM-DDThh:mm:ss`, no zone).
fn date_part(date: &str) -> Option<String> {
    let d = date.get(..10)?;
    let b = d.as_bytes();
    let ok = b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        _ => c.is_ascii_digit(),
    });
    ok.then(|| d.to_string())
}

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
    validate(s)?;
    for row in mapping {
        if let Some(d) = row
            .dimensions
            .iter()
            .find(|d| !s.dimension_types.contains(&d.dimension_type))
        {
            return Err(Error::InvalidSettings(format!(
                "mapping row {} uses dimension type {:?}, which is not in dimension-types",
                row.key.label(),
                d.dimension_type
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
    };
    let mut operations = Vec::new();
    if known.customer_code.is_none() && !key.is_empty() {
        if s.customer_category.is_empty() {
            return Err(Error::InvalidSettings(
                "customer-category is needed to create customers in X3".into(),
            ));
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
    email: &str,
    default: bool,
) -> Both {
    let mut b = Both::default();
    b.put("BPAADD", "code", json!(code));
    b.put("BPADES", "description", json!(description));
    let lines = [a.address_1.as_str(), a.address_2.as_str(), ""];
    let fitted: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| r.fit(scope, &format!("BPAADDLIG[{i}]"), "BPAADDLIG", l))
        .collect();
    b.rest.insert("BPAADDLIG".into(), json!(fitted));
    for (i, l) in fitted.iter().enumerate() {
        b.gql.insert(format!("addressLine{}", i + 1), json!(l));
    }
    for (rest, gql, value) in [
        ("POSCOD", "zipCode", &a.postcode),
        ("CTY", "city", &a.city),
        ("SAT", "state", &a.state),
        ("CRY", "country", &a.country),
    ] {
        let v = r.fit(scope, rest, rest, value);
        b.put(rest, gql, json!(v));
    }
    let phone = r.fit(scope, "TEL", "TEL", a.phone.as_deref().unwrap_or(""));
    b.put("TEL", "telephone", json!(phone));
    let email = r.fit(scope, "WEB", "WEB", email);
    b.put("WEB", "email", json!(email));
    b.rest
        .insert("BPAADDFLG".into(), json!(if default { 2 } else { 1 }));
    b.gql.insert("isDefault".into(), json!(default));
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

fn customer_operation(
    order: &Order,
    s: &Settings,
    r: &mut Render<'_>,
    key: &str,
    code: &str,
) -> Operation {
    let w = &s.wire;
    let mut c = Both::default();
    let category = r.fit("customer", "BCGCOD", "BCGCOD", &s.customer_category);
    c.put("BCGCOD", "customerCategory", json!(category));
    c.put("BPCNUM", "code", json!(code));
    let name = r.fit("customer", "BPRNAM", "BPRNAM", &customer_name(order));
    c.put("BPRNAM", "companyName1", json!(name));
    // The short name is derived, not the merchant's data: cutting it is expected, not reported.
    let short: String = name.chars().take(r.limits.get("BPRSHO")).collect();
    c.put("BPRSHO", "shortCompanyName", json!(short.trim_end()));
    c.put("CUR", "currency", json!(order.currency));
    // The e-mail is sent as its match key so GraphQL's exact filter finds it again.
    let email = r.fit("customer", &w.customer_email_field, "WEB", key);
    c.put(&w.customer_email_field, "email", json!(email));
    let distinct_shipping =
        !order.shipping.is_empty() && !same_place(&order.shipping, &order.billing);
    let ship_code = if distinct_shipping { "SHP" } else { "BIL" };
    c.put("BPAINV", "billToAddress", json!("BIL"));
    c.put("BPAADD", "defaultAddress", json!("BIL"));
    c.put("BPDADD", "shipToAddress", json!(ship_code));
    let mut addresses = vec![address(
        r,
        "customer.BIL",
        "BIL",
        "Billing",
        &order.billing,
        key,
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
            key,
            false,
        ));
    }
    c.put_list("BPADDRESS", "addresses", addresses);

    let digest: String = key_digest(key)[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Operation {
        kind: OperationKind::EnsureCustomer,
        idempotency_key: format!("{}/customer/{digest}", s.store_id),
        reference: code.to_string(),
        rest_class: w.customer_class.clone(),
        rest_representation: w.customer_representation.clone(),
        rest_body: Value::Object(c.rest).to_string(),
        graphql_mutation: "mutation CreateCustomer($data: Customer_Input!) { x3MasterData { customer { create(data: $data) { code } } } }".into(),
        graphql_variables: json!({ "data": Value::Object(c.gql) }).to_string(),
        lookup: Lookup {
            rest_class: w.customer_class.clone(),
            rest_representation: w.customer_representation.clone(),
            rest_where: format!(
                "upper({}) eq {}",
                w.customer_email_field,
                sdata_literal(&key.to_uppercase())
            ),
            graphql_query: "query FindCustomer($filter: String) { x3MasterData { customer { query(first: 2, filter: $filter) { edges { node { code } } } } } }".into(),
            graphql_variables: json!({ "filter": format!("{{email:{}}}", graphql_literal(key)) }).to_string(),
            rest_key_field: "BPCNUM".into(),
            graphql_key_field: "code".into(),
        },
    }
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

/// The ship-to or bill-to block of a document (`BPD…`/`BPI…` fields, `shipToAddress`/…).
fn document_address(r: &mut Render<'_>, scope: &str, p: &str, a: &Address) -> Both {
    let mut b = Both::default();
    let name = r.fit(scope, &format!("{p}NAM[0]"), "BPRNAM", &a.full_name());
    let company = r.fit(scope, &format!("{p}NAM[1]"), "BPRNAM", &a.company);
    b.rest.insert(format!("{p}NAM"), json!([name, company]));
    b.gql.insert("name".into(), json!(name));
    b.gql.insert("companyName".into(), json!(company));
    let lines: Vec<String> = [a.address_1.as_str(), a.address_2.as_str(), ""]
        .iter()
        .enumerate()
        .map(|(i, l)| r.fit(scope, &format!("{p}ADDLIG[{i}]"), "BPAADDLIG", l))
        .collect();
    b.rest.insert(format!("{p}ADDLIG"), json!(lines));
    for (i, l) in lines.iter().enumerate() {
        b.gql.insert(format!("addressLine{}", i + 1), json!(l));
    }
    for (suffix, base, gql, value) in [
        ("POSCOD", "POSCOD", "zipCode", &a.postcode),
        ("CTY", "CTY", "city", &a.city),
        ("SAT", "SAT", "state", &a.state),
        ("CRY", "CRY", "country", &a.country),
    ] {
        let field = format!("{p}{suffix}");
        let v = r.fit(scope, &field, base, value);
        b.rest.insert(field, json!(v));
        b.gql.insert(gql.into(), json!(v));
    }
    b
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
    let w = &s.wire;
    let invoice = s.document_kind == DocumentKind::Invoice;
    let scope = if invoice { "invoice" } else { "order" };
    let shipment_site = if s.shipment_site.is_empty() {
        &s.sales_site
    } else {
        &s.shipment_site
    };
    let mut d = Both::default();
    d.put("SALFCY", "salesSite", json!(s.sales_site));
    if invoice {
        d.put("SIVTYP", "invoiceType", json!(s.invoice_type));
        d.put("BPCINV", "billToCustomer", json!(customer));
        d.put("INVDAT", "invoiceDate", json!(date));
    } else {
        d.put("SOHTYP", "salesOrderType", json!(s.order_type));
        d.put("BPCORD", "soldToCustomer", json!(customer));
        d.put("ORDDAT", "orderDate", json!(date));
        d.put("STOFCY", "shippingSite", json!(shipment_site));
    }
    d.put("CUR", "currency", json!(order.currency));
    d.put("CUSORDREF", "customerOrderReference", json!(reference));
    let ship = if order.shipping.is_empty() {
        &order.billing
    } else {
        &order.shipping
    };
    if !invoice {
        let block = document_address(r, scope, "BPD", ship);
        d.put_object(None, "shipToAddress", block);
    }
    let block = document_address(r, scope, "BPI", &order.billing);
    d.put_object(None, "billToAddress", block);

    let lines_field = if invoice {
        &w.invoice_lines_field
    } else {
        &w.order_lines_field
    };
    let dp = u32::from(s.currency_decimals);
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let row = l.row;
        let line_scope = format!("{scope}.{lines_field}[{i}]");
        let mut b = Both::default();
        b.put("ITMREF", "product", json!(row.item_code));
        let name = r.fit(&line_scope, "ITMDES", "ITMDES", l.name);
        b.put("ITMDES", "description", json!(name));
        b.put(
            "QTY",
            if invoice {
                "quantityInSalesUnit"
            } else {
                "quantityInSalesUnitOrdered"
            },
            json!(l.quantity),
        );
        if let Some(unit) = row.sales_unit.as_ref().or(s.default_sales_unit.as_ref()) {
            b.put("SAU", "salesUnit", json!(unit));
        }
        let qty = Decimal::from(l.quantity);
        let price4 = |v: Decimal| {
            (v / qty).round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
        };
        let (price, discount) = match s.price_basis {
            PriceBasis::Net => (price4(l.total), Decimal::ZERO),
            PriceBasis::Gross => (price4(l.subtotal), price4(l.subtotal - l.total)),
        };
        b.put_decimal("GROPRI", "grossPrice", price);
        if s.price_basis == PriceBasis::Gross {
            b.put_decimal("DISCRGVAL1", "discount1", discount);
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
            b.put("STOFCY", "shippingSite", json!(site));
        }
        if let Some(account) = &row.gl_account {
            b.put(&w.gl_account_field, "accountingCode", json!(account));
        }
        for dim in &row.dimensions {
            let n = s
                .dimension_types
                .iter()
                .position(|t| *t == dim.dimension_type)
                .map_or(0, |p| p + 1)
                .to_string();
            b.put(
                &w.rest_dimension_field.replace("{n}", &n),
                &w.graphql_dimension_field.replace("{n}", &n),
                json!(dim.value),
            );
        }
        out.push(b);
    }
    d.put_list(lines_field, "lines", out);

    let (kind, class, rep, mutation, node, key_field) = if invoice {
        (
            OperationKind::CreateSalesInvoice,
            &w.invoice_class,
            &w.invoice_representation,
            "mutation CreateSalesInvoice($data: SalesInvoice_Input!) { x3Sales { salesInvoice { create(data: $data) { id } } } }",
            "salesInvoice",
            "NUM",
        )
    } else {
        (
            OperationKind::CreateSalesOrder,
            &w.order_class,
            &w.order_representation,
            "mutation CreateSalesOrder($data: SalesOrder_Input!) { x3Sales { salesOrder { create(data: $data) { id } } } }",
            "salesOrder",
            "SOHNUM",
        )
    };
    Operation {
        kind,
        // One document per order, whatever its kind: switching the setting later must not post
        // an invoice for an order already posted as a sales order.
        idempotency_key: format!("{}/order/{}/document", s.store_id, order.id),
        reference: reference.to_string(),
        rest_class: class.clone(),
        rest_representation: rep.clone(),
        rest_body: Value::Object(d.rest).to_string(),
        graphql_mutation: mutation.into(),
        graphql_variables: json!({ "data": Value::Object(d.gql) }).to_string(),
        lookup: Lookup {
            rest_class: class.clone(),
            rest_representation: rep.clone(),
            rest_where: format!("CUSORDREF eq {}", sdata_literal(reference)),
            graphql_query: format!(
                "query FindDocument($filter: String) {{ x3Sales {{ {node} {{ query(first: 2, filter: $filter) {{ edges {{ node {{ id }} }} }} }} }} }}"
            ),
            graphql_variables: json!({
                "filter": format!("{{customerOrderReference:{}}}", graphql_literal(reference))
            })
            .to_string(),
            rest_key_field: key_field.into(),
            graphql_key_field: "id".into(),
        },
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

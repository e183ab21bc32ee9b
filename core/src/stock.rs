//! The X3 actions after an order is posted: the delivery that issues stock when it ships, closing
//! (or deleting) the sales order when it is cancelled before shipment, a credit note per refund,
//! and the stock put back when a refund restocked.
//!
//! Like [`crate::plan`], every action is rendered for both X3 APIs, carries an idempotency key
//! (the ledger's unique key: one action per order and transition, one credit note per refund)
//! and says how to find what an earlier attempt may have done. What X3 really offers here is
//! partly UNCONFIRMED (`docs/stock-and-refunds.md`), so the choices are [`StockSettings`].

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value, json};

use crate::inventory::{IntentKind, StatusRule, StockIntent, Transition, stage_of};
use crate::inventory::{Stage, validate_status_map};
use crate::literal::{graphql_literal, sdata_literal};
use crate::mapping::{MappingKey, MappingRow, Match, Table};
use crate::order::{Order, Refund};
use crate::plan::{Lookup, Settings};
use crate::text::Fitter;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid status map: {0}")]
    InvalidStatusMap(String),
    #[error("invalid order: {0}")]
    InvalidOrder(String),
    #[error("invalid refund: {0}")]
    InvalidRefund(String),
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<crate::inventory::Error> for Error {
    fn from(e: crate::inventory::Error) -> Self {
        match e {
            crate::inventory::Error::InvalidStatusMap(m) => Error::InvalidStatusMap(m),
            crate::inventory::Error::InvalidRefund(m) => Error::InvalidRefund(m),
        }
    }
}

/// What "cancelled before shipment" does to the X3 sales order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelMode {
    /// `ORDSTA` 2 (closed): the order stays in X3 as history.
    Close,
    /// `$edit` DELETE: the order disappears (X3 refuses it once something was delivered).
    Delete,
    /// Nothing is sent; the order page asks a person.
    Ignore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockSettings {
    pub delivery_class: String,
    pub delivery_representation: String,
    pub delivery_lines_field: String,
    /// `SIVTYP` of credit notes (UNCONFIRMED: each X3 site names its credit-note invoice type).
    /// Empty: refunds are not sent to X3.
    pub credit_note_type: String,
    /// Item for refunded amounts that are on no refunded line (amount-only refunds, fees,
    /// shipping WooCommerce does not itemise). None: such a refund is held for a person.
    pub refund_amount_item: Option<String>,
    pub cancel: CancelMode,
    /// Put refunded units back in X3 stock when WooCommerce restocked them.
    pub restock: bool,
    /// Deliver the fee and shipping lines of the sales order too (non-stock items in X3), so the
    /// order ends fully delivered; off: product lines only.
    pub deliver_charges: bool,
}

impl Default for StockSettings {
    fn default() -> Self {
        StockSettings {
            delivery_class: "SDELIVERY".into(),
            delivery_representation: "SDELIVERY".into(),
            delivery_lines_field: "SDELIVERYD".into(),
            credit_note_type: String::new(),
            refund_amount_item: None,
            cancel: CancelMode::Close,
            restock: true,
            deliver_charges: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    CreateDelivery,
    CloseOrder,
    DeleteOrder,
    CreateCreditNote,
}

/// One X3 write after posting, rendered for both APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub kind: ActionKind,
    pub idempotency_key: String,
    /// What the ledger and the timeline name: the sales order, or the credit note's CUSORDREF.
    pub reference: String,
    pub rest_class: String,
    pub rest_representation: String,
    /// The record a `$edit` PUT or DELETE addresses; empty for creates.
    pub rest_key: String,
    /// JSON: the create body, or the partial update; empty for a delete.
    pub rest_body: String,
    pub graphql_mutation: String,
    pub graphql_variables: String,
    /// How to find what an earlier attempt did: a hit means done.
    pub lookup: Option<Lookup>,
    /// Things a person should know (cut descriptions, lines left out).
    pub warnings: Vec<String>,
}

// One per refund, moved straight into the WIT record: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditOutcome {
    Ready(Action),
    /// Nothing can be sent as it is; each reason says what to set or do.
    Hold(Vec<String>),
}

/// Units of one refunded line to put back in X3 stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restock {
    pub idempotency_key: String,
    pub refund_id: u64,
    /// The order line.
    pub line_id: u64,
    pub item_code: String,
    pub site: String,
    pub quantity: u32,
}

fn key(store_id: &str, order_id: u64, kind: IntentKind) -> String {
    format!("{store_id}/order/{order_id}/{}", kind.slug())
}

/// What is still to do for an order at `current`, given the actions the ledger has done.
///
/// Unlike [`crate::inventory::transition`] this does not need the previous status: the ledger
/// is the memory, so the same webhook three times, deliveries out of order and restarts all give
/// the same answer. Stages up to `current` are filled in; cancelled before shipment gives
/// `cancel`; cancelled after shipment, or moving on after a cancel, needs a person.
pub fn due_intents(
    store_id: &str,
    order_id: u64,
    current: &str,
    rules: &[StatusRule],
    done: &[IntentKind],
) -> Result<Transition> {
    validate_status_map(rules)?;
    let to = stage_of(rules, current);
    let has = |k| done.contains(&k);
    let intent = |kind: IntentKind| StockIntent {
        kind,
        idempotency_key: key(store_id, order_id, kind),
        line_id: None,
        quantity: None,
    };
    let mut t = Transition::default();
    if to == Stage::Cancelled {
        if has(IntentKind::Ship) {
            t.attention = Some(format!(
                "order {order_id} was cancelled after it shipped: record a return in X3"
            ));
        } else if has(IntentKind::Post) && !has(IntentKind::Cancel) {
            t.intents.push(intent(IntentKind::Cancel));
        }
        return Ok(t);
    }
    if has(IntentKind::Cancel) {
        if to > Stage::None {
            t.attention = Some(format!(
                "order {order_id} moved to {current:?} after it was cancelled in X3: \
                 X3 is not changed automatically"
            ));
        }
        return Ok(t);
    }
    for (stage, kind) in [
        (Stage::Posted, IntentKind::Post),
        (Stage::Shipped, IntentKind::Ship),
        (Stage::Delivered, IntentKind::Deliver),
    ] {
        if stage <= to && !has(kind) {
            t.intents.push(intent(kind));
        }
    }
    Ok(t)
}

fn check_code(name: &str, value: &str, max: usize) -> Result<()> {
    let n = value.chars().count();
    if n == 0
        || n > max
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::InvalidSettings(format!(
            "{name} {value:?}: 1 to {max} of A-Z 0-9 - _"
        )));
    }
    Ok(())
}

fn shipment_site(s: &Settings) -> &str {
    if s.shipment_site.is_empty() {
        &s.sales_site
    } else {
        &s.shipment_site
    }
}

/// `YYYY-MM-DD` of a WooCommerce or host date.
fn date_part(date: &str) -> Option<String> {
    let d = date.get(..10)?;
    let ok = d.bytes().enumerate().all(|(i, c)| match i {
        4 | 7 => c == b'-',
        _ => c.is_ascii_digit(),
    });
    ok.then(|| d.to_string())
}

fn decimal_pair(d: Decimal) -> (Value, Value) {
    let d = d.normalize();
    let n = d
        .to_string()
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(d.to_string()));
    (n, Value::String(d.to_string()))
}

fn parse_order(body: &[u8]) -> Result<Order> {
    Order::parse(body).map_err(|e| Error::InvalidOrder(e.to_string()))
}

fn parse_refund(body: &[u8]) -> Result<Refund> {
    Refund::parse(body).map_err(|e| Error::InvalidRefund(e.to_string()))
}

/// The X3 delivery of an order that shipped: every line of the sales order `sales_order` in
/// full, from the shipment site. Validated at once in X3, which issues the stock.
///
/// The sales order's lines are the plan's: product lines, then mapped fee lines, then mapped
/// shipping lines (unmapped zero-total ones were left out), numbered 1000, 2000… (X3's default
/// numbering, x3-api.md §5.3). Fee and shipping lines are delivered too when `deliver-charges`
/// is set, so X3 sees the order fully delivered. `ITMREF` is sent on each line, so X3 refuses
/// a line that does not match rather than deliver the wrong item.
pub fn delivery(
    order_body: &[u8],
    sales_order: &str,
    customer_code: &str,
    mapping: &[MappingRow],
    s: &Settings,
    st: &StockSettings,
    date: &str,
) -> Result<Action> {
    let order = parse_order(order_body)?;
    if sales_order.trim().is_empty() {
        return Err(Error::InvalidOrder(format!(
            "order {}: no X3 sales order to deliver",
            order.id
        )));
    }
    let date = date_part(date)
        .ok_or_else(|| Error::InvalidSettings(format!("delivery date {date:?} is not a date")))?;
    let table = Table::new(mapping);
    let site = shipment_site(s);
    // (item, quantity, deliver?) for each sales order line, in the plan's order.
    let mut order_lines: Vec<(&str, i64, bool)> = Vec::new();
    for l in &order.line_items {
        let row = match table.product_line(l.product_id, l.variation_id, l.sku.as_deref()) {
            Match::Row(r) | Match::Default(r) => r,
            Match::Missing(_) => {
                return Err(Error::InvalidOrder(format!(
                    "line {} ({}) has no mapping any more: the delivery cannot name its item",
                    l.id, l.name
                )));
            }
        };
        order_lines.push((&row.item_code, l.quantity, true));
    }
    let charges = order
        .fee_lines
        .iter()
        .map(|f| (f.id, f.total, MappingKey::Fee(f.name.trim().to_string())))
        .chain(order.shipping_lines.iter().map(|sh| {
            (
                sh.id,
                sh.total,
                MappingKey::Shipping(sh.method_id.trim().to_string()),
            )
        }));
    for (id, total, key) in charges {
        match table.exact(&key) {
            Some(row) => order_lines.push((&row.item_code, 1, st.deliver_charges)),
            None if total.is_zero() => {}
            None => {
                return Err(Error::InvalidOrder(format!(
                    "line {id} ({}) has no mapping any more: the sales order's lines cannot be told apart",
                    key.label()
                )));
            }
        }
    }
    let mut rest_lines = Vec::new();
    let mut gql_lines = Vec::new();
    for (i, (item, quantity, deliver)) in order_lines.into_iter().enumerate() {
        if !deliver {
            continue;
        }
        let soplin = (i as u64 + 1) * 1000;
        rest_lines.push(json!({
            "SOHNUM": sales_order, "SOPLIN": soplin, "ITMREF": item, "QTY": quantity,
        }));
        gql_lines.push(json!({
            "salesOrder": sales_order, "salesOrderLine": soplin, "product": item,
            "quantityInSalesUnitDelivered": quantity.to_string(),
        }));
    }
    let mut rest = Map::new();
    rest.insert("SALFCY".into(), json!(s.sales_site));
    rest.insert("STOFCY".into(), json!(site));
    rest.insert("BPCORD".into(), json!(customer_code));
    rest.insert("DLVDAT".into(), json!(date));
    rest.insert("SOHNUM".into(), json!(sales_order));
    rest.insert(st.delivery_lines_field.clone(), Value::Array(rest_lines));
    let gql = json!({
        "salesSite": s.sales_site, "shippingSite": site, "soldToCustomer": customer_code,
        "deliveryDate": date, "salesOrder": sales_order, "lines": gql_lines,
    });
    Ok(Action {
        kind: ActionKind::CreateDelivery,
        idempotency_key: key(&s.store_id, order.id, IntentKind::Ship),
        reference: sales_order.to_string(),
        rest_class: st.delivery_class.clone(),
        rest_representation: st.delivery_representation.clone(),
        rest_key: String::new(),
        rest_body: Value::Object(rest).to_string(),
        graphql_mutation: "mutation CreateSalesDelivery($data: SalesDelivery_Input!) { x3Sales { salesDelivery { create(data: $data) { id } } } }".into(),
        graphql_variables: json!({ "data": gql }).to_string(),
        lookup: Some(Lookup {
            rest_class: st.delivery_class.clone(),
            rest_representation: st.delivery_representation.clone(),
            rest_where: format!("SOHNUM eq {}", sdata_literal(sales_order)),
            graphql_query: "query FindDelivery($filter: String) { x3Sales { salesDelivery { query(first: 2, filter: $filter) { edges { node { id } } } } } }".into(),
            graphql_variables: json!({
                "filter": format!("{{salesOrder:{}}}", graphql_literal(sales_order))
            })
            .to_string(),
            rest_key_field: "SDHNUM".into(),
            graphql_key_field: "id".into(),
        }),
        warnings: Vec::new(),
    })
}

/// What cancelling before shipment does to `sales_order`; None when the setting is to leave X3
/// alone.
pub fn cancel(
    order_id: u64,
    sales_order: &str,
    s: &Settings,
    st: &StockSettings,
) -> Result<Option<Action>> {
    if sales_order.trim().is_empty() {
        return Err(Error::InvalidOrder(format!(
            "order {order_id}: no X3 sales order to cancel"
        )));
    }
    let w = &s.wire;
    let base = |kind, rest_body: String, mutation: &str, vars: Value, lookup| Action {
        kind,
        idempotency_key: key(&s.store_id, order_id, IntentKind::Cancel),
        reference: sales_order.to_string(),
        rest_class: w.order_class.clone(),
        rest_representation: w.order_representation.clone(),
        rest_key: sales_order.to_string(),
        rest_body,
        graphql_mutation: mutation.into(),
        graphql_variables: vars.to_string(),
        lookup,
        warnings: Vec::new(),
    };
    Ok(match st.cancel {
        CancelMode::Ignore => None,
        CancelMode::Close => Some(base(
            ActionKind::CloseOrder,
            json!({ "ORDSTA": 2 }).to_string(),
            "mutation CloseSalesOrder($data: SalesOrder_Input!) { x3Sales { salesOrder { update(data: $data) { id } } } }",
            json!({ "data": { "id": sales_order, "orderStatus": 2 } }),
            // Closing twice is harmless, but an answer lost after a close is found here.
            Some(Lookup {
                rest_class: w.order_class.clone(),
                rest_representation: w.order_representation.clone(),
                rest_where: format!("SOHNUM eq {} and ORDSTA eq 2", sdata_literal(sales_order)),
                graphql_query: "query FindClosedOrder($filter: String) { x3Sales { salesOrder { query(first: 2, filter: $filter) { edges { node { id } } } } } }".into(),
                graphql_variables: json!({
                    "filter": format!("{{id:{},orderStatus:2}}", graphql_literal(sales_order))
                })
                .to_string(),
                rest_key_field: "SOHNUM".into(),
                graphql_key_field: "id".into(),
            }),
        )),
        CancelMode::Delete => Some(base(
            ActionKind::DeleteOrder,
            String::new(),
            "mutation DeleteSalesOrder($id: Id!) { x3Sales { salesOrder { delete(_id: $id) } } }",
            json!({ "id": sales_order }),
            // A delete that already happened answers "does not exist": the host takes that as done.
            None,
        )),
    })
}

/// The CUSORDREF of a refund's credit note: the order's reference, `R`, the refund id
/// (docs/x3-wire-format.md).
pub fn credit_note_reference(s: &Settings, order_id: u64, refund_id: u64) -> Result<String> {
    let r = format!("{}{order_id}R{refund_id}", s.reference_prefix);
    if r.chars().count() > 20 {
        return Err(Error::InvalidRefund(format!(
            "refund {refund_id}: the credit note reference {r:?} is longer than CUSORDREF's 20 characters"
        )));
    }
    Ok(r)
}

/// One credit-note line before rendering.
struct CreditLine<'a> {
    what: String,
    name: String,
    quantity: i64,
    /// Positive, excl. tax (or tax included for amount lines, see below).
    amount: Decimal,
    item: &'a str,
    row: Option<&'a MappingRow>,
}

/// The X3 credit note for one refund (`SINVOICE` with the credit-note invoice type).
///
/// Line-level: each refunded product line becomes a line with its item, the refunded quantity
/// and the refunded amount excl. tax (X3 computes the tax, as for the order). Refunded shipping
/// lines use the shipping method's mapping row. Whatever the refund amount holds beyond its
/// lines and their tax (an amount-only refund, fees, shipping WooCommerce did not itemise) goes
/// on one line of `refund-amount-item`, tax included; without that item the refund is held.
pub fn credit_note(
    order_body: &[u8],
    refund_body: &[u8],
    customer_code: &str,
    mapping: &[MappingRow],
    s: &Settings,
    st: &StockSettings,
) -> Result<CreditOutcome> {
    let order = parse_order(order_body)?;
    let refund = parse_refund(refund_body)?;
    if st.credit_note_type.is_empty() {
        return Ok(CreditOutcome::Hold(vec![
            "no credit-note invoice type is set ([stock] credit-note-type)".into(),
        ]));
    }
    check_code("credit-note-type", &st.credit_note_type, 5)?;
    let reference = credit_note_reference(s, order.id, refund.id)?;
    let table = Table::new(mapping);
    let dp = u32::from(s.currency_decimals);
    let round = |d: Decimal| d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    let mut lines: Vec<CreditLine<'_>> = Vec::new();
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    let mut on_lines = Decimal::ZERO;
    for l in &refund.line_items {
        let amount = -l.total;
        let qty = -l.quantity;
        if amount < Decimal::ZERO {
            return Err(Error::InvalidRefund(format!(
                "line {}: a refund line with a positive total",
                l.id
            )));
        }
        on_lines += amount - l.total_tax;
        let ol = l
            .refunded_item_id
            .and_then(|id| order.line_items.iter().find(|o| o.id == id));
        let (pid, vid, sku, name) = match ol {
            Some(o) => (o.product_id, o.variation_id, o.sku.clone(), o.name.clone()),
            None => (l.product_id, l.variation_id, l.sku.clone(), String::new()),
        };
        if amount.is_zero() {
            if qty > 0 {
                warnings.push(format!(
                    "refund line {} returns {qty} unit(s) for nothing: no credit-note line",
                    l.id
                ));
            }
            continue;
        }
        match table.product_line(pid, vid, sku.as_deref()) {
            Match::Row(row) | Match::Default(row) => lines.push(CreditLine {
                what: "line".into(),
                name,
                // An amount refunded on a line without units: one unit of that amount.
                quantity: qty.max(1),
                amount,
                item: &row.item_code,
                row: Some(row),
            }),
            Match::Missing(tried) => reasons.push(format!(
                "no mapping for refunded line {} ({})",
                l.id,
                tried
                    .iter()
                    .map(MappingKey::label)
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
        }
    }
    for sh in &refund.shipping_lines {
        let amount = -sh.total;
        if amount <= Decimal::ZERO {
            continue;
        }
        on_lines += amount - sh.total_tax;
        let method = match sh.refunded_item_id.and_then(|id| {
            order
                .shipping_lines
                .iter()
                .find(|o| o.id == id)
                .map(|o| o.method_id.clone())
        }) {
            Some(m) => m,
            None => sh.method_id.clone(),
        };
        let key = MappingKey::Shipping(method.trim().to_string());
        match table.exact(&key) {
            Some(row) => lines.push(CreditLine {
                what: "shipping".into(),
                name: format!("Shipping {method}"),
                quantity: 1,
                amount,
                item: &row.item_code,
                row: Some(row),
            }),
            None => reasons.push(format!(
                "no mapping for refunded shipping {} ({})",
                sh.id,
                key.label()
            )),
        }
    }
    let rest = round(refund.amount - on_lines);
    if rest > Decimal::ZERO {
        match &st.refund_amount_item {
            Some(item) => lines.push(CreditLine {
                what: "amount".into(),
                name: if refund.reason.trim().is_empty() {
                    "Refund".into()
                } else {
                    refund.reason.clone()
                },
                quantity: 1,
                amount: rest,
                item,
                row: None,
            }),
            None => reasons.push(format!(
                "{rest} of refund {} is on no refunded line: set [stock] refund-amount-item",
                refund.id
            )),
        }
    } else if rest < Decimal::ZERO {
        warnings.push(format!(
            "refund {}: its lines add up to {} more than the refunded amount {}",
            refund.id, -rest, refund.amount
        ));
    }
    if !reasons.is_empty() {
        return Ok(CreditOutcome::Hold(reasons));
    }
    if lines.is_empty() {
        return Ok(CreditOutcome::Hold(vec![format!(
            "refund {} has nothing to credit",
            refund.id
        )]));
    }
    let date = date_part(&refund.date_created)
        .or_else(|| date_part(&order.date_created))
        .ok_or_else(|| Error::InvalidRefund(format!("refund {}: no date", refund.id)))?;
    let w = &s.wire;
    let mut fitter = Fitter::default();
    let limit = s
        .field_limits
        .iter()
        .find(|(f, _)| f == "ITMDES")
        .map_or(30, |(_, n)| *n as usize);
    let mut rest_lines = Vec::new();
    let mut gql_lines = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let mut r = Map::new();
        let mut g = Map::new();
        r.insert("ITMREF".into(), json!(l.item));
        g.insert("product".into(), json!(l.item));
        let desc = fitter.fit(
            &format!("credit-note.{}[{i}].ITMDES", w.invoice_lines_field),
            &l.name,
            limit,
        );
        if !desc.is_empty() {
            r.insert("ITMDES".into(), json!(desc));
            g.insert("description".into(), json!(desc));
        }
        r.insert("QTY".into(), json!(l.quantity));
        // Invoice lines carry the order-line names in GraphQL (docs/simulators.md, UNCONFIRMED).
        g.insert("quantityInSalesUnitOrdered".into(), json!(l.quantity));
        let unit = l
            .row
            .and_then(|row| row.sales_unit.as_ref())
            .or(s.default_sales_unit.as_ref());
        if let Some(unit) = unit {
            r.insert("SAU".into(), json!(unit));
            g.insert("salesUnit".into(), json!(unit));
        }
        let qty = Decimal::from(l.quantity);
        let price =
            (l.amount / qty).round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero);
        if round(price * qty) != round(l.amount) {
            warnings.push(format!(
                "{} line {} ({}): X3 will compute {} from {} × {price}, WooCommerce refunded {}",
                l.what,
                i + 1,
                l.name,
                round(price * qty),
                l.quantity,
                round(l.amount)
            ));
        }
        let (pn, ps) = decimal_pair(price);
        r.insert("GROPRI".into(), pn);
        g.insert("grossPrice".into(), ps);
        if let Some(row) = l.row {
            if let Some(acc) = &row.gl_account {
                r.insert(w.gl_account_field.clone(), json!(acc));
                g.insert("accountingCode".into(), json!(acc));
            }
            for dim in &row.dimensions {
                let n = s
                    .dimension_types
                    .iter()
                    .position(|t| *t == dim.dimension_type)
                    .map_or(0, |p| p + 1)
                    .to_string();
                r.insert(w.rest_dimension_field.replace("{n}", &n), json!(dim.value));
                g.insert(
                    w.graphql_dimension_field.replace("{n}", &n),
                    json!(dim.value),
                );
            }
        }
        rest_lines.push(Value::Object(r));
        gql_lines.push(Value::Object(g));
    }
    for sh in fitter.shortened {
        warnings.push(format!(
            "{}: {:?} sent as {:?}",
            sh.field, sh.original, sh.sent
        ));
    }
    let mut rest = Map::new();
    rest.insert("SIVTYP".into(), json!(st.credit_note_type));
    rest.insert("SALFCY".into(), json!(s.sales_site));
    rest.insert("BPCINV".into(), json!(customer_code));
    rest.insert("INVDAT".into(), json!(date));
    rest.insert("CUR".into(), json!(order.currency));
    rest.insert("CUSORDREF".into(), json!(reference));
    rest.insert(w.invoice_lines_field.clone(), Value::Array(rest_lines));
    let gql = json!({
        "invoiceType": st.credit_note_type, "salesSite": s.sales_site,
        "billToCustomer": customer_code, "invoiceDate": date, "currency": order.currency,
        "customerOrderReference": reference, "lines": gql_lines,
    });
    Ok(CreditOutcome::Ready(Action {
        kind: ActionKind::CreateCreditNote,
        idempotency_key: format!(
            "{}/order/{}/refund/{}/credit-note",
            s.store_id, order.id, refund.id
        ),
        reference: reference.clone(),
        rest_class: w.invoice_class.clone(),
        rest_representation: w.invoice_representation.clone(),
        rest_key: String::new(),
        rest_body: Value::Object(rest).to_string(),
        graphql_mutation: "mutation CreateCreditNote($data: SalesInvoice_Input!) { x3Sales { salesInvoice { create(data: $data) { id } } } }".into(),
        graphql_variables: json!({ "data": gql }).to_string(),
        lookup: Some(Lookup {
            rest_class: w.invoice_class.clone(),
            rest_representation: w.invoice_representation.clone(),
            rest_where: format!("CUSORDREF eq {}", sdata_literal(&reference)),
            graphql_query: "query FindCreditNote($filter: String) { x3Sales { salesInvoice { query(first: 2, filter: $filter) { edges { node { id } } } } } }".into(),
            graphql_variables: json!({
                "filter": format!("{{customerOrderReference:{}}}", graphql_literal(&reference))
            })
            .to_string(),
            rest_key_field: "NUM".into(),
            graphql_key_field: "id".into(),
        }),
        warnings,
    }))
}

/// The units to put back in X3 stock for the order's refunds.
///
/// A refund body does not say whether it restocked; the order line does: WooCommerce adds the
/// restocked units up in its meta `_restock_refunded_items`. Those units are handed to the
/// refunds of that line in refund-id order, each at most what it refunded, so every refund and
/// line gets a stable key and the total put back equals what WooCommerce restocked — also when
/// the refunds are seen one by one.
pub fn restocks(
    order_body: &[u8],
    refund_bodies: &[Vec<u8>],
    mapping: &[MappingRow],
    s: &Settings,
    st: &StockSettings,
) -> Result<Vec<Restock>> {
    if !st.restock {
        return Ok(Vec::new());
    }
    let order = parse_order(order_body)?;
    let mut refunds = refund_bodies
        .iter()
        .map(|b| parse_refund(b))
        .collect::<Result<Vec<_>>>()?;
    refunds.sort_by_key(|r| r.id);
    let table = Table::new(mapping);
    let mut out = Vec::new();
    for line in &order.line_items {
        let mut left = line.restocked.max(0);
        if left == 0 {
            continue;
        }
        let row = match table.product_line(line.product_id, line.variation_id, line.sku.as_deref())
        {
            Match::Row(r) | Match::Default(r) => r,
            Match::Missing(_) => {
                return Err(Error::InvalidOrder(format!(
                    "line {} ({}) was restocked but has no mapping",
                    line.id, line.name
                )));
            }
        };
        for r in &refunds {
            let refunded: i64 = r
                .line_items
                .iter()
                .filter(|l| l.refunded_item_id == Some(line.id))
                .map(|l| -l.quantity)
                .sum();
            let n = refunded.min(left);
            if n <= 0 {
                continue;
            }
            left -= n;
            out.push(Restock {
                idempotency_key: format!(
                    "{}/order/{}/refund/{}/restock/{}",
                    s.store_id, order.id, r.id, line.id
                ),
                refund_id: r.id,
                line_id: line.id,
                item_code: row.item_code.clone(),
                site: row
                    .site
                    .clone()
                    .unwrap_or_else(|| shipment_site(s).to_string()),
                quantity: u32::try_from(n).map_err(|_| {
                    Error::InvalidRefund(format!("line {}: quantity {n} is out of range", line.id))
                })?,
            });
            if left == 0 {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "stock_tests.rs"]
mod tests;

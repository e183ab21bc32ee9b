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

use crate::date::date_part;
use crate::inventory::{IntentKind, StatusRule, StockIntent, Transition, stage_of};
use crate::inventory::{Stage, validate_status_map};
use crate::literal::{graphql_literal, sdata_literal};
use crate::mapping::{MappingKey, MappingRow, Match, Table};
use crate::order::{Order, Refund};
use crate::plan::{DocumentKind, Lookup, Settings, lookup_by};
use crate::text::Fitter;
use crate::wire::Wire;

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
    /// `SIVTYP` of credit notes (UNCONFIRMED: each X3 site names its credit-note invoice type).
    /// Empty: refunds are not sent to X3.
    pub credit_note_type: String,
    /// Item for refunded amounts that are on no refunded line (amount-only refunds, fees,
    /// shipping WooCommerce does not itemise). None: such a refund is held for a person.
    pub refund_amount_item: Option<String>,
    pub cancel: CancelMode,
    /// Put refunded units back in X3 stock when WooCommerce restocked them (a miscellaneous
    /// receipt).
    pub restock: bool,
    /// Deliver the fee and shipping lines of the sales order too (non-stock items in X3), so the
    /// order ends fully delivered; off: product lines only.
    pub deliver_charges: bool,
    /// Stock status of the units a restock puts back (`A`: available).
    pub restock_status: String,
    /// An order posted as an invoice that ships takes its units out of X3 stock with a
    /// miscellaneous issue (an invoice has no delivery); off: X3 stock is not moved.
    pub invoice_stock_issue: bool,
}

impl Default for StockSettings {
    fn default() -> Self {
        StockSettings {
            credit_note_type: String::new(),
            refund_amount_item: None,
            cancel: CancelMode::Close,
            restock: true,
            deliver_charges: true,
            restock_status: "A".into(),
            invoice_stock_issue: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    CreateDelivery,
    CloseOrder,
    DeleteOrder,
    CreateCreditNote,
    /// A miscellaneous receipt: refunded units back in stock.
    CreateReceipt,
    /// A miscellaneous issue: the units of an invoiced order that shipped.
    CreateIssue,
}

/// A field an `$edit` must show with this value afterwards: X3 answers 200 and leaves alone a
/// property its representation does not take, so the answer is read, not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub rest_field: String,
    /// Dotted path in the GraphQL mutation's answer node.
    pub graphql_path: String,
    /// JSON text of the value (`2`, `"A"`).
    pub value: String,
}

/// One X3 write after posting, rendered for both APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub kind: ActionKind,
    pub idempotency_key: String,
    /// What the ledger and the timeline name: the sales order, or the document's reference.
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
    /// What an edit's answer must show.
    pub expect: Vec<Expect>,
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

/// Units of one refunded line to put back in X3 stock, and the receipt that does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restock {
    pub idempotency_key: String,
    pub refund_id: u64,
    /// The order line.
    pub line_id: u64,
    pub item_code: String,
    pub site: String,
    pub quantity: u32,
    /// The miscellaneous receipt: additive, so it never overwrites a stock change made in X3
    /// meanwhile, and found again by its description after a lost answer.
    pub action: Action,
}

fn key(store_id: &str, order_id: u64, kind: IntentKind) -> String {
    format!("{store_id}/order/{order_id}/{}", kind.slug())
}

/// Where a posted order stands, from what X3 was asked to do for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostedState {
    Posted,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

/// The state of a posted order from its WooCommerce status and the intents the ledger has done:
/// a cancel wins (the X3 order is closed whatever came after), then a `refunded` status, then the
/// furthest stage done.
pub fn state_after_post(status: &str, done: &[IntentKind]) -> PostedState {
    if done.contains(&IntentKind::Cancel) {
        PostedState::Cancelled
    } else if status == "refunded" {
        PostedState::Refunded
    } else if done.contains(&IntentKind::Deliver) {
        PostedState::Delivered
    } else if done.contains(&IntentKind::Ship) {
        PostedState::Shipped
    } else {
        PostedState::Posted
    }
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

/// The sales order's lines as the plan made them: product lines, then mapped fee lines, then
/// mapped shipping lines (unmapped zero-total ones were left out). Each is (item, quantity,
/// product line?).
fn document_lines<'a>(order: &Order, table: &Table<'a>) -> Result<Vec<(&'a str, i64, bool)>> {
    let mut out: Vec<(&str, i64, bool)> = Vec::new();
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
        out.push((&row.item_code, l.quantity, true));
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
            Some(row) => out.push((&row.item_code, 1, false)),
            None if total.is_zero() => {}
            None => {
                return Err(Error::InvalidOrder(format!(
                    "line {id} ({}) has no mapping any more: the sales order's lines cannot be told apart",
                    key.label()
                )));
            }
        }
    }
    Ok(out)
}

fn wire(s: &Settings) -> Result<Wire> {
    crate::plan::wire_of(s).map_err(|e| Error::InvalidSettings(e.to_string()))
}

/// The GraphQL mutation creating one node and answering its key.
fn create_mutation(w: &Wire, name: &str, doc: &str) -> String {
    let (package, node) = w.node(&format!("graphql.{doc}.node"));
    format!(
        "mutation {name}($data: {}!) {{ {package} {{ {node} {{ create(data: $data) {{ {} }} }} }} }}",
        w.get(&format!("graphql.{doc}.input")),
        w.get(&format!("graphql.{doc}.key"))
    )
}

/// The X3 delivery of an order that shipped: every line of the sales order `sales_order` in
/// full, from the shipment site. Validated at once in X3, which issues the stock.
///
/// The lines are numbered 1000, 2000… in the plan's order (X3's default numbering, x3-api.md
/// §5.3). Fee and shipping lines are delivered too when `deliver-charges` is set, so X3 sees
/// the order fully delivered. The item is sent on each line, so X3 refuses a line that does
/// not match rather than deliver the wrong item.
///
/// An order posted as an invoice has no sales order to deliver: its product lines leave stock
/// by a miscellaneous issue instead ([`StockSettings::invoice_stock_issue`]), referenced by the
/// invoice number; None when that is off.
pub fn delivery(
    order_body: &[u8],
    document: &str,
    customer_code: &str,
    mapping: &[MappingRow],
    s: &Settings,
    st: &StockSettings,
    date: &str,
) -> Result<Option<Action>> {
    let order = parse_order(order_body)?;
    if document.trim().is_empty() {
        return Err(Error::InvalidOrder(format!(
            "order {}: no X3 document to deliver",
            order.id
        )));
    }
    let date = date_part(date)
        .ok_or_else(|| Error::InvalidSettings(format!("delivery date {date:?} is not a date")))?;
    let w = wire(s)?;
    let table = Table::new(mapping);
    let site = shipment_site(s);
    let lines = document_lines(&order, &table)?;
    if s.document_kind == DocumentKind::Invoice {
        if !st.invoice_stock_issue {
            return Ok(None);
        }
        return stock_movement(
            &w,
            Movement::Issue,
            key(&s.store_id, order.id, IntentKind::Ship),
            document,
            site,
            &date,
            None,
            lines
                .iter()
                .filter(|(_, _, product)| *product)
                .map(|(item, q, _)| (*item, *q)),
        )
        .map(Some);
    }
    let l = |n: &str| {
        (
            w.get(&format!("rest.delivery.line.{n}")).to_string(),
            w.get(&format!("graphql.delivery.line.{n}")).to_string(),
        )
    };
    let (r_order, g_order) = l("order");
    let (r_line, g_line) = l("order-line");
    let (r_item, g_item) = l("item");
    let (r_qty, g_qty) = l("quantity");
    let mut rest_lines = Vec::new();
    let mut gql_lines = Vec::new();
    for (i, (item, quantity, product)) in lines.into_iter().enumerate() {
        if !product && !st.deliver_charges {
            continue;
        }
        let soplin = (i as u64 + 1) * 1000;
        let mut r = Map::new();
        r.insert(r_order.clone(), json!(document));
        r.insert(r_line.clone(), json!(soplin));
        r.insert(r_item.clone(), json!(item));
        r.insert(r_qty.clone(), json!(quantity));
        rest_lines.push(Value::Object(r));
        let mut g = Map::new();
        g.insert(g_order.clone(), json!(document));
        g.insert(g_line.clone(), json!(soplin));
        g.insert(g_item.clone(), json!(item));
        g.insert(g_qty.clone(), json!(quantity.to_string()));
        gql_lines.push(Value::Object(g));
    }
    let h = |n: &str| {
        (
            w.get(&format!("rest.delivery.{n}")).to_string(),
            w.get(&format!("graphql.delivery.{n}")).to_string(),
        )
    };
    let mut rest = Map::new();
    let mut gql = Map::new();
    for (n, v) in [
        ("sales-site", s.sales_site.as_str()),
        ("shipment-site", site),
        ("customer", customer_code),
        ("date", date.as_str()),
        ("order", document),
    ] {
        let (rf, gf) = h(n);
        rest.insert(rf, json!(v));
        gql.insert(gf, json!(v));
    }
    rest.insert(h("lines").0, Value::Array(rest_lines));
    gql.insert(h("lines").1, Value::Array(gql_lines));
    Ok(Some(Action {
        kind: ActionKind::CreateDelivery,
        idempotency_key: key(&s.store_id, order.id, IntentKind::Ship),
        reference: document.to_string(),
        rest_class: w.get("rest.delivery.class").into(),
        rest_representation: w.get("rest.delivery.representation").into(),
        rest_key: String::new(),
        rest_body: Value::Object(rest).to_string(),
        graphql_mutation: create_mutation(&w, "CreateSalesDelivery", "delivery"),
        graphql_variables: json!({ "data": Value::Object(gql) }).to_string(),
        lookup: Some(lookup_by(&w, "delivery", "order", document)),
        expect: Vec::new(),
        warnings: Vec::new(),
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Movement {
    Receipt,
    Issue,
}

/// A miscellaneous receipt or issue of `lines` (item, quantity) at `site`, described by
/// `reference` (the document's description holds it, so a lost answer is found again).
#[allow(clippy::too_many_arguments)]
fn stock_movement<'a>(
    w: &Wire,
    movement: Movement,
    idempotency_key: String,
    reference: &str,
    site: &str,
    date: &str,
    status: Option<&str>,
    lines: impl Iterator<Item = (&'a str, i64)>,
) -> Result<Action> {
    let (doc, kind, name) = match movement {
        Movement::Receipt => (
            "receipt",
            ActionKind::CreateReceipt,
            "CreateMiscellaneousReceipt",
        ),
        Movement::Issue => ("issue", ActionKind::CreateIssue, "CreateMiscellaneousIssue"),
    };
    if reference.chars().count() > 30 {
        return Err(Error::InvalidOrder(format!(
            "the stock movement's reference {reference:?} is longer than 30 characters"
        )));
    }
    let f = |n: &str| {
        (
            w.get(&format!("rest.{doc}.{n}")).to_string(),
            w.get(&format!("graphql.{doc}.{n}")).to_string(),
        )
    };
    let (r_item, g_item) = f("line.item");
    let (r_qty, g_qty) = f("line.quantity");
    let mut rest_lines = Vec::new();
    let mut gql_lines = Vec::new();
    for (item, q) in lines.filter(|(_, q)| *q > 0) {
        let mut r = Map::new();
        let mut g = Map::new();
        r.insert(r_item.clone(), json!(item));
        g.insert(g_item.clone(), json!(item));
        r.insert(r_qty.clone(), json!(q));
        g.insert(g_qty.clone(), json!(q.to_string()));
        if let Some(st) = status {
            let (rf, gf) = f("line.status");
            r.insert(rf, json!(st));
            g.insert(gf, json!(st));
        }
        rest_lines.push(Value::Object(r));
        gql_lines.push(Value::Object(g));
    }
    if rest_lines.is_empty() {
        return Err(Error::InvalidOrder(format!(
            "{reference}: nothing to move in stock"
        )));
    }
    let mut rest = Map::new();
    let mut gql = Map::new();
    for (n, v) in [("site", site), ("date", date), ("description", reference)] {
        let (rf, gf) = f(n);
        rest.insert(rf, json!(v));
        gql.insert(gf, json!(v));
    }
    rest.insert(f("lines").0, Value::Array(rest_lines));
    gql.insert(f("lines").1, Value::Array(gql_lines));
    Ok(Action {
        kind,
        idempotency_key,
        reference: reference.to_string(),
        rest_class: w.get(&format!("rest.{doc}.class")).into(),
        rest_representation: w.get(&format!("rest.{doc}.representation")).into(),
        rest_key: String::new(),
        rest_body: Value::Object(rest).to_string(),
        graphql_mutation: create_mutation(w, name, doc),
        graphql_variables: json!({ "data": Value::Object(gql) }).to_string(),
        lookup: Some(lookup_by(w, doc, "description", reference)),
        expect: Vec::new(),
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
    let w = wire(s)?;
    let (package, node) = w.node("graphql.order.node");
    let gkey = w.get("graphql.order.key");
    let status = w.get("rest.order.status");
    let gstatus = w.get("graphql.order.status");
    let base = |kind, rest_body: String, mutation: String, vars: Value, lookup, expect| Action {
        kind,
        idempotency_key: key(&s.store_id, order_id, IntentKind::Cancel),
        reference: sales_order.to_string(),
        rest_class: w.get("rest.order.class").into(),
        rest_representation: w.get("rest.order.representation").into(),
        rest_key: sales_order.to_string(),
        rest_body,
        graphql_mutation: mutation,
        graphql_variables: vars.to_string(),
        lookup,
        expect,
        warnings: Vec::new(),
    };
    Ok(match st.cancel {
        CancelMode::Ignore => None,
        CancelMode::Close => {
            let mut lookup = lookup_by(&w, "order", "key", sales_order);
            // Closing twice is harmless, but an answer lost after a close is found here.
            lookup.rest_where = format!(
                "{} eq {} and {status} eq 2",
                w.get("rest.order.key"),
                sdata_literal(sales_order)
            );
            lookup.graphql_variables = json!({
                "filter": format!("{{{gkey}:{},{gstatus}:2}}", graphql_literal(sales_order))
            })
            .to_string();
            let mut rest = Map::new();
            rest.insert(status.into(), json!(2));
            let mut data = Map::new();
            data.insert(gkey.into(), json!(sales_order));
            data.insert(gstatus.into(), json!(2));
            Some(base(
                ActionKind::CloseOrder,
                Value::Object(rest).to_string(),
                format!(
                    "mutation CloseSalesOrder($data: {}!) {{ {package} {{ {node} {{ update(data: $data) {{ {gkey} {gstatus} }} }} }} }}",
                    w.get("graphql.order.input")
                ),
                json!({ "data": Value::Object(data) }),
                Some(lookup),
                vec![Expect {
                    rest_field: status.into(),
                    graphql_path: gstatus.into(),
                    value: "2".into(),
                }],
            ))
        }
        CancelMode::Delete => Some(base(
            ActionKind::DeleteOrder,
            String::new(),
            format!(
                "mutation DeleteSalesOrder($id: Id!) {{ {package} {{ {node} {{ delete(_id: $id) }} }} }}"
            ),
            json!({ "id": sales_order }),
            // A delete that already happened answers "does not exist": the host takes that as done.
            None,
            Vec::new(),
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
    let w = wire(s)?;
    let mut fitter = Fitter::default();
    let limit = s
        .field_limits
        .iter()
        .find(|(f, _)| f == "ITMDES")
        .map_or(30, |(_, n)| *n as usize);
    let lines_field = w.get("rest.invoice.lines");
    let line = |n: &str| {
        (
            w.get(&format!("rest.line.{n}")),
            w.get(&format!("graphql.invoice.line.{n}")),
        )
    };
    let mut rest_lines = Vec::new();
    let mut gql_lines = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let mut r = Map::new();
        let mut g = Map::new();
        let mut put = |(rf, gf): (&str, &str), v: Value| {
            r.insert(rf.into(), v.clone());
            g.insert(gf.into(), v);
        };
        put(line("item"), json!(l.item));
        let desc = fitter.fit(
            &format!("credit-note.{lines_field}[{i}].{}", line("description").0),
            &l.name,
            limit,
        );
        if !desc.is_empty() {
            put(line("description"), json!(desc));
        }
        put(line("quantity"), json!(l.quantity));
        let unit = l
            .row
            .and_then(|row| row.sales_unit.as_ref())
            .or(s.default_sales_unit.as_ref());
        if let Some(unit) = unit {
            put(line("sales-unit"), json!(unit));
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
        let (rf, gf) = line("price");
        r.insert(rf.into(), pn);
        g.insert(gf.into(), ps);
        if let Some(row) = l.row {
            if let Some(acc) = &row.gl_account {
                r.insert(w.get("rest.gl-account").into(), json!(acc));
                g.insert(w.get("graphql.gl-account").into(), json!(acc));
            }
            for dim in &row.dimensions {
                let n = s
                    .dimension_types
                    .iter()
                    .position(|t| *t == dim.dimension_type)
                    .map_or(0, |p| p + 1);
                r.insert(w.numbered("rest.dimension", n), json!(dim.value));
                g.insert(w.numbered("graphql.dimension", n), json!(dim.value));
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
    let h = |n: &str| {
        (
            w.get(&format!("rest.invoice.{n}")).to_string(),
            w.get(&format!("graphql.invoice.{n}")).to_string(),
        )
    };
    let mut rest = Map::new();
    let mut gql = Map::new();
    for (n, v) in [
        ("type", st.credit_note_type.as_str()),
        ("sales-site", s.sales_site.as_str()),
        ("customer", customer_code),
        ("date", date.as_str()),
        ("currency", order.currency.as_str()),
        ("reference", reference.as_str()),
    ] {
        let (rf, gf) = h(n);
        rest.insert(rf, json!(v));
        gql.insert(gf, json!(v));
    }
    rest.insert(h("lines").0, Value::Array(rest_lines));
    gql.insert(h("lines").1, Value::Array(gql_lines));
    Ok(CreditOutcome::Ready(Action {
        kind: ActionKind::CreateCreditNote,
        idempotency_key: format!(
            "{}/order/{}/refund/{}/credit-note",
            s.store_id, order.id, refund.id
        ),
        reference: reference.clone(),
        rest_class: w.get("rest.invoice.class").into(),
        rest_representation: w.get("rest.invoice.representation").into(),
        rest_key: String::new(),
        rest_body: Value::Object(rest).to_string(),
        graphql_mutation: create_mutation(&w, "CreateCreditNote", "invoice"),
        graphql_variables: json!({ "data": Value::Object(gql) }).to_string(),
        lookup: Some(crate::plan::document_lookup(
            &w,
            "invoice",
            &reference,
            customer_code,
        )),
        expect: Vec::new(),
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
    let w = wire(s)?;
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
            let idempotency_key = format!(
                "{}/order/{}/refund/{}/restock/{}",
                s.store_id, order.id, r.id, line.id
            );
            let site = row
                .site
                .clone()
                .unwrap_or_else(|| shipment_site(s).to_string());
            let date = date_part(&r.date_created)
                .or_else(|| date_part(&order.date_created))
                .ok_or_else(|| Error::InvalidRefund(format!("refund {}: no date", r.id)))?;
            let reference = format!("{}{}R{}L{}", s.reference_prefix, order.id, r.id, line.id);
            let action = stock_movement(
                &w,
                Movement::Receipt,
                idempotency_key.clone(),
                &reference,
                &site,
                &date,
                Some(&st.restock_status),
                std::iter::once((row.item_code.as_str(), n)),
            )?;
            out.push(Restock {
                idempotency_key,
                refund_id: r.id,
                line_id: line.id,
                item_code: row.item_code.clone(),
                site,
                quantity: u32::try_from(n).map_err(|_| {
                    Error::InvalidRefund(format!("line {}: quantity {n} is out of range", line.id))
                })?,
                action,
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

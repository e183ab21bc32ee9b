//! X3 → WooCommerce orders (`[master-data] complete-orders`, docs/master-data.md): a delivery
//! validated in X3 for one of our sales orders completes the WooCommerce order and adds a note
//! naming the delivery.
//!
//! Called by the X3 poller's `deliveries` part for every delivery it reads of one of our orders.
//! Exactly once, whatever the poll re-reads or a crash interrupts:
//! - the delivery is first recorded in the ledger as the order's shipment
//!   ([`Pipeline::record_x3_delivery`]), so the `order.updated` our own status change causes
//!   finds the shipment done and sends X3 no second delivery;
//! - a delivery the connector made itself (already the order's shipment in the ledger) is left
//!   alone: WooCommerce's status is what made it;
//! - progress per order and delivery is kept in the store's `kv` table
//!   (`x3complete/<order>/<delivery>`), written before each write to WooCommerce, so a re-read
//!   skips what is done and a restart resumes what was half done;
//! - the note is added only when none of the order's notes names the delivery yet.
//!
//! What was completed, and what was not and why, is kept for the status page (last 50 each).

use anyhow::Result;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clients::woo::WooError;
use crate::component::inventory;
use crate::html::utc;
use crate::jobs::pipeline::{Pipeline, ShipRecord};
use crate::store::{Store, now_ms};

/// The status WooCommerce orders are given.
pub const COMPLETED: &str = "completed";
/// Kept for the status page.
const LOG_KEY: &str = "x3poll.completions";
const KEEP: usize = 50;

/// Whether X3 says a delivery is validated (`CFMFLG` 2 / `isValidated` true).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validated {
    Yes,
    No,
    /// X3's answer does not show it (the representation or the selection lacks the field).
    Unknown,
}

/// X3's yes/no local menu (1 no, 2 yes, as a number or text) or GraphQL's Boolean.
pub fn validated_of(v: Option<&Value>) -> Validated {
    match v {
        Some(Value::Bool(true)) => Validated::Yes,
        Some(Value::Bool(false)) => Validated::No,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(2) => Validated::Yes,
            Some(1) => Validated::No,
            _ => Validated::Unknown,
        },
        Some(Value::String(s)) => match s.trim() {
            "2" | "true" => Validated::Yes,
            "1" | "false" => Validated::No,
            _ => Validated::Unknown,
        },
        _ => Validated::Unknown,
    }
}

/// What to do with a WooCommerce order whose delivery X3 validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Complete,
    AlreadyCompleted,
    /// Left as it is, and why.
    Leave(String),
}

/// An order already completed is not touched again; refunded, cancelled, failed and trashed
/// orders are not moved on by a delivery; nor are orders whose status the status map puts at or
/// beyond shipment (`shipped`, `delivered`: completing them would move them back).
pub fn decide(status: &str, map: &[inventory::StatusRule]) -> Decision {
    match status {
        COMPLETED => Decision::AlreadyCompleted,
        "refunded" | "cancelled" | "failed" | "trash" | "checkout-draft" => Decision::Leave(
            format!("it is {status} in WooCommerce; a delivery does not change that"),
        ),
        s => match map.iter().find(|r| r.status == s).map(|r| r.stage) {
            Some(inventory::Stage::Shipped | inventory::Stage::Delivered) => Decision::Leave(
                format!("it is already {s} in WooCommerce (shipped in the status map)"),
            ),
            Some(inventory::Stage::Cancelled) => Decision::Leave(format!(
                "it is {s} in WooCommerce (cancelled in the status map)"
            )),
            _ => Decision::Complete,
        },
    }
}

/// The note added to the WooCommerce order.
pub fn note_text(delivery: &str) -> String {
    format!("X3 delivery {delivery} validated")
}

/// Does any note name `delivery` (as a whole word: `SDH…01` is not in `SDH…010`)?
pub fn has_note_for(notes: &[Value], delivery: &str) -> bool {
    if delivery.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    notes
        .iter()
        .filter_map(|n| n.get("note").and_then(Value::as_str))
        .any(|text| {
            text.match_indices(delivery).any(|(i, _)| {
                !word(text[..i].chars().next_back())
                    && !word(text[i + delivery.len()..].chars().next())
            })
        })
}

// ---------------------------------------------------------------------------------------------
// Progress and the status page's log

/// How far one (order, delivery) got. `Started`: recorded in the ledger (or about to be), the
/// WooCommerce order not looked at yet; `Writing`: decided to complete it, writes under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Stage {
    Waiting,
    Started,
    Writing,
    Done,
    Left,
    Ours,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    stage: Stage,
    at: i64,
}

fn marker_key(order_id: u64, delivery: &str) -> String {
    format!("x3complete/{order_id}/{delivery}")
}

fn marker(store: &Store, order_id: u64, delivery: &str) -> Result<Option<Stage>> {
    Ok(store
        .kv_get(&marker_key(order_id, delivery))?
        .and_then(|t| serde_json::from_str::<Marker>(&t).ok())
        .map(|m| m.stage))
}

fn set_marker(store: &Store, order_id: u64, delivery: &str, stage: Stage) -> Result<()> {
    let m = Marker {
        stage,
        at: now_ms(),
    };
    store.kv_set(&marker_key(order_id, delivery), &serde_json::to_string(&m)?)
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: i64,
    pub order_id: u64,
    pub delivery: String,
    pub sales_order: String,
    /// Why it was not completed (empty for a completed one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// Orders completed from X3 and deliveries that completed nothing, newest last.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Log {
    pub completed: Vec<Entry>,
    pub not_completed: Vec<Entry>,
}

pub fn load_log(store: &Store) -> Log {
    store
        .kv_get(LOG_KEY)
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn save_log(store: &Store, log: &Log) -> Result<()> {
    store.kv_set(LOG_KEY, &serde_json::to_string(log)?)
}

/// Records an outcome: a completion drops the same delivery's "not completed" line; a reason
/// replaces the delivery's earlier one.
fn log_outcome(store: &Store, e: Entry) -> Result<()> {
    let mut log = load_log(store);
    let same = |x: &Entry| x.order_id == e.order_id && x.delivery == e.delivery;
    log.not_completed.retain(|x| !same(x));
    if e.reason.is_empty() {
        log.completed.retain(|x| !same(x));
        log.completed.push(e);
    } else {
        log.not_completed.push(e);
    }
    for list in [&mut log.completed, &mut log.not_completed] {
        let n = list.len();
        if n > KEEP {
            list.drain(..n - KEEP);
        }
    }
    save_log(store, &log)
}

// ---------------------------------------------------------------------------------------------
// The work

/// A WooCommerce error that a later poll may get past (the shop unreachable, busy, or our key
/// refused) fails the part; a request WooCommerce refuses for this order is the reason it is
/// not completed.
fn woo_failure(e: WooError) -> std::result::Result<String, anyhow::Error> {
    match e {
        WooError::Rejected { .. } => Ok(format!("WooCommerce refused: {e}")),
        other => Err(anyhow::anyhow!("WooCommerce: {other}")),
    }
}

/// One delivery of one of our orders, as the poller read it. Errors are what the part is to be
/// retried for; an order that cannot be completed is logged with the reason instead.
pub fn on_delivery(
    pipeline: &Pipeline,
    order_id: u64,
    sales_order: &str,
    delivery: &str,
    validated: Validated,
) -> Result<()> {
    let store = &*pipeline.store;
    let d = Delivery {
        pipeline,
        store,
        order_id,
        sales_order,
        delivery,
        known: store.load_order(order_id)?.is_some(),
    };
    let at_entry = marker(store, order_id, delivery)?;
    if matches!(at_entry, Some(Stage::Done | Stage::Left | Stage::Ours)) {
        return Ok(());
    }
    match validated {
        Validated::Yes => {}
        Validated::No | Validated::Unknown => return d.not_validated(validated, at_entry),
    }
    if d.record_shipment(at_entry)? {
        return Ok(());
    }
    d.complete(at_entry == Some(Stage::Writing))
}

/// One delivery [`on_delivery`] handles: the order, where its steps are recorded.
struct Delivery<'a> {
    pipeline: &'a Pipeline,
    store: &'a Store,
    order_id: u64,
    sales_order: &'a str,
    delivery: &'a str,
    /// The store has the order: its timeline is told.
    known: bool,
}

impl Delivery<'_> {
    /// The delivery's log entry, with the reason it was not completed (empty: completed).
    fn entry(&self, reason: String) -> Entry {
        Entry {
            at: now_ms(),
            order_id: self.order_id,
            delivery: self.delivery.to_string(),
            sales_order: self.sales_order.to_string(),
            reason,
        }
    }

    /// Adds to the order's timeline, when the store has the order.
    fn timeline(&self, event: &str, detail: &str) -> Result<()> {
        if self.known {
            self.store.timeline_add(self.order_id, event, detail)?;
        }
        Ok(())
    }

    /// Moves the delivery's marker to `stage`.
    fn mark(&self, stage: Stage) -> Result<()> {
        set_marker(self.store, self.order_id, self.delivery, stage)
    }

    /// Not validated in X3, or X3 does not show it: the order waits, said when the delivery is
    /// first seen.
    fn not_validated(&self, validated: Validated, at_entry: Option<Stage>) -> Result<()> {
        let (order_id, delivery) = (self.order_id, self.delivery);
        if at_entry.is_none() {
            let reason = if validated == Validated::No {
                "not validated in X3 yet: completed once it is".to_string()
            } else {
                "X3 does not show whether it is validated (CFMFLG / isValidated: see \
                 [x3.wire] rest.delivery.validated, graphql.delivery.validated)"
                    .to_string()
            };
            self.mark(Stage::Waiting)?;
            self.timeline(
                "x3",
                &format!("X3 delivery {delivery}: {reason} (WooCommerce order not completed)"),
            )?;
            info!("x3: order {order_id}, delivery {delivery}: {reason}");
            log_outcome(self.store, self.entry(reason))?;
        }
        Ok(())
    }

    /// The shipment in the ledger first: our own status change must find it done. True when
    /// the delivery is the connector's own, and nothing more is to be done.
    fn record_shipment(&self, at_entry: Option<Stage>) -> Result<bool> {
        let (pipeline, order_id, delivery) = (self.pipeline, self.order_id, self.delivery);
        let resuming = matches!(at_entry, Some(Stage::Started | Stage::Writing));
        if !resuming {
            if pipeline.shipment_of(order_id)?.as_deref() == Some(delivery) {
                // The connector made this delivery (WooCommerce's status asked for it).
                self.mark(Stage::Ours)?;
                return Ok(true);
            }
            self.mark(Stage::Started)?;
        }
        match pipeline.record_x3_delivery(order_id, self.sales_order, delivery)? {
            // A worker finished this very delivery while we waited for it: ours after all.
            ShipRecord::Ours if !resuming => {
                self.mark(Stage::Ours)?;
                return Ok(true);
            }
            ShipRecord::Other(first) => {
                info!("x3: order {order_id} shipped already as delivery {first}; {delivery} too");
            }
            _ => {}
        }
        Ok(false)
    }

    /// The WooCommerce order left as it is, and why: marker, timeline and log.
    fn leave(&self, reason: String) -> Result<()> {
        let (order_id, delivery) = (self.order_id, self.delivery);
        self.mark(Stage::Left)?;
        self.timeline(
            "x3",
            &format!("X3 delivery {delivery} validated; WooCommerce order not completed: {reason}"),
        )?;
        info!("x3: order {order_id}, delivery {delivery} validated; not completed: {reason}");
        log_outcome(self.store, self.entry(reason))
    }

    /// Completes the WooCommerce order with a note naming the delivery, unless its status says
    /// to leave it; `writing`: an earlier attempt began writing it.
    fn complete(&self, writing: bool) -> Result<()> {
        let (order_id, delivery, sales_order) = (self.order_id, self.delivery, self.sales_order);
        let woo = self.pipeline.woo();
        let order = match woo.get_order(order_id) {
            Ok(Some(b)) => serde_json::from_slice::<Value>(&b).unwrap_or_default(),
            Ok(None) => return self.leave("the order is no longer in WooCommerce".into()),
            Err(e) => return self.leave(woo_failure(e)?),
        };
        let status = order["status"].as_str().unwrap_or_default().to_string();
        let map = crate::jobs::pipeline::current(&self.pipeline.status_map);
        match decide(&status, &map) {
            Decision::Complete => {}
            // Completed by our own earlier attempt, which stopped before the note.
            Decision::AlreadyCompleted if writing => {}
            Decision::AlreadyCompleted => {
                return self.leave("it was already completed in WooCommerce".into());
            }
            Decision::Leave(reason) => return self.leave(reason),
        }
        self.mark(Stage::Writing)?;
        if status != COMPLETED
            && let Err(e) = woo.set_order_status(order_id, COMPLETED)
        {
            return self.leave(woo_failure(e)?);
        }
        let notes = match woo.order_notes(order_id) {
            Ok(Some(n)) => n,
            Ok(None) => return self.leave("the order is no longer in WooCommerce".into()),
            Err(e) => return self.leave(woo_failure(e)?),
        };
        let noted = has_note_for(&notes, delivery);
        if !noted && let Err(e) = woo.add_order_note(order_id, &note_text(delivery), false) {
            return self.leave(woo_failure(e)?);
        }
        self.mark(Stage::Done)?;
        let detail = format!(
            "WooCommerce order completed: X3 delivery {delivery} of {sales_order} validated{}",
            if noted { "" } else { " (note added)" }
        );
        self.timeline("completed", &detail)?;
        info!("x3: order {order_id} {detail}");
        log_outcome(self.store, self.entry(String::new()))
    }
}

// ---------------------------------------------------------------------------------------------
// Display

/// `/api/status` → `x3_poll.orders_from_x3`: `completed` and `not_completed` (`at`,
/// `order_id`, `delivery`, `sales_order`, `reason`), newest last.
pub fn status_json(store: &Store) -> Value {
    serde_json::to_value(load_log(store)).unwrap_or_else(|_| json!({}))
}

/// The "Orders completed from X3" part of the status page's X3 polling section (empty when
/// nothing was ever logged).
pub fn status_html(store: &Store) -> Markup {
    let log = load_log(store);
    if log.completed.is_empty() && log.not_completed.is_empty() {
        return Markup::default();
    }
    let link = |id: u64| html! { a href={ "/status/orders/" (id) } { "#" (id) } };
    html! {
        div id="x3-completions" {
            h3 { "Orders completed from X3" }
            @if !log.completed.is_empty() {
                table {
                    tr { th { "Order" } th { "X3 delivery" } th { "Completed" } }
                    @for e in log.completed.iter().rev().take(10) {
                        tr {
                            td { (link(e.order_id)) }
                            td { (e.delivery) " (" (e.sales_order) ")" }
                            td { (utc(e.at)) }
                        }
                    }
                }
            }
            @if !log.not_completed.is_empty() {
                p { "Not completed:" }
                table {
                    tr { th { "Order" } th { "X3 delivery" } th { "Why" } th { "When" } }
                    @for e in log.not_completed.iter().rev().take(KEEP) {
                        tr {
                            td { (link(e.order_id)) }
                            td { (e.delivery) " (" (e.sales_order) ")" }
                            td class="msg" { (e.reason) }
                            td { (utc(e.at)) }
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

    fn rule(status: &str, stage: inventory::Stage) -> inventory::StatusRule {
        inventory::StatusRule {
            status: status.into(),
            stage,
        }
    }

    #[test]
    fn x3_yes_no_reads_as_validated_only_for_2_or_true() {
        assert_eq!(validated_of(Some(&json!(2))), Validated::Yes);
        assert_eq!(validated_of(Some(&json!("2"))), Validated::Yes);
        assert_eq!(validated_of(Some(&json!(true))), Validated::Yes);
        assert_eq!(validated_of(Some(&json!(1))), Validated::No);
        assert_eq!(validated_of(Some(&json!(false))), Validated::No);
        assert_eq!(validated_of(Some(&json!(0))), Validated::Unknown);
        assert_eq!(validated_of(Some(&Value::Null)), Validated::Unknown);
        assert_eq!(validated_of(None), Validated::Unknown);
    }

    #[test]
    fn only_orders_not_yet_shipped_in_woocommerce_are_completed() {
        let map = vec![
            rule("processing", inventory::Stage::Posted),
            rule("completed", inventory::Stage::Shipped),
            rule("shipped", inventory::Stage::Shipped),
            rule("delivered", inventory::Stage::Delivered),
            rule("cancelled", inventory::Stage::Cancelled),
        ];
        assert_eq!(decide("processing", &map), Decision::Complete);
        assert_eq!(decide("on-hold", &map), Decision::Complete);
        assert_eq!(decide("partial-shipped", &map), Decision::Complete);
        assert_eq!(decide("completed", &map), Decision::AlreadyCompleted);
        for s in [
            "refunded",
            "cancelled",
            "failed",
            "trash",
            "shipped",
            "delivered",
        ] {
            match decide(s, &map) {
                Decision::Leave(why) => assert!(why.contains(s), "{why}"),
                d => panic!("{s}: {d:?}"),
            }
        }
    }

    #[test]
    fn a_note_names_a_delivery_only_as_a_whole_word() {
        let notes = vec![
            json!({"note": "Order status changed from Processing to Completed."}),
            json!({"note": "X3 delivery SDHFR011000010 validated"}),
        ];
        assert!(has_note_for(&notes, "SDHFR011000010"));
        assert!(!has_note_for(&notes, "SDHFR01100001"));
        assert!(!has_note_for(&notes, "SDHFR0110000100"));
        assert!(!has_note_for(&notes, ""));
        assert!(has_note_for(
            &[json!({"note": "shipped (SDH1), see X3"})],
            "SDH1"
        ));
        assert!(!has_note_for(&[json!({"id": 3})], "SDH1"));
        assert_eq!(note_text("SDH1"), "X3 delivery SDH1 validated");
    }

    #[test]
    fn the_log_keeps_one_line_per_delivery_and_a_completion_clears_its_reason() {
        let store = Store::open_in_memory().unwrap();
        let e = |order_id: u64, d: &str, reason: &str| Entry {
            at: 1,
            order_id,
            delivery: d.into(),
            sales_order: "SOH1".into(),
            reason: reason.into(),
        };
        log_outcome(&store, e(7, "SDH1", "not validated in X3 yet")).unwrap();
        log_outcome(&store, e(8, "SDH2", "it is refunded in WooCommerce")).unwrap();
        log_outcome(&store, e(7, "SDH1", "")).unwrap();
        let log = load_log(&store);
        assert_eq!(log.completed, vec![e(7, "SDH1", "")]);
        assert_eq!(
            log.not_completed,
            vec![e(8, "SDH2", "it is refunded in WooCommerce")]
        );
        let html = status_html(&store).into_string();
        assert!(html.contains("SDH1") && html.contains("refunded"), "{html}");
        assert_eq!(status_json(&store)["completed"][0]["order_id"], 7);
        assert!(
            status_html(&Store::open_in_memory().unwrap())
                .into_string()
                .is_empty(),
            "nothing logged, nothing shown"
        );
    }
}

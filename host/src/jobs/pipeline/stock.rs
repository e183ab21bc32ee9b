//! The X3 writes after posting, run for the core's decision loop: a delivery when the order
//! ships, the sales order closed (or deleted) when it is cancelled before shipment, a credit note
//! per WooCommerce refund and the units a refund put back in stock; and the order's refunds read
//! from WooCommerce.
//!
//! The core decides which write is due and renders it (`decisions#decide`, its after-post
//! stage); this module runs each through the same ledger as the documents: intent row committed
//! before the request leaves, `done` with the X3 key after, and after an earlier attempt X3 is
//! looked up before anything is sent again. It also records a delivery validated in X3 (the
//! X3 poll) as the order's shipment. See docs/stock-and-refunds.md.

use std::time::Duration;

use anyhow::Result;
use serde_json::Value;

use super::post::found_out;
use super::{Health, Pipeline, lookup_request};
use crate::clients::x3::{CreateRequest, EditRequest, X3Error};
use crate::component::{decisions as wd, inventory as wi};
use crate::store::OrderState;

/// The ledger's `kind` of a shipment: the name the core's after-post stage gives a delivery
/// (`core/src/decide/after_post.rs`, `DELIVERY`), for a delivery the X3 poll records.
const DELIVERY: &str = "delivery";

/// The kv key remembering which refunds were fully handled (credit notes and restock).
pub(super) fn refunds_marker(order_id: u64) -> String {
    format!("stock/refunds-done/{order_id}")
}

impl Pipeline {
    pub(super) fn stock_config(&self) -> Option<crate::config::stock::StockConfig> {
        self.stock.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs one after-post write exactly once: done already → `recorded`; an earlier attempt
    /// that may have reached X3 → looked up first (`found`); else intent, send, record. An
    /// edit's answer must show what the write expects, or nothing is taken as done.
    pub(super) fn run_action(
        &self,
        order_id: u64,
        req: &wd::ActionRequest,
        retry_after: &mut Option<Duration>,
    ) -> Result<wd::RequestOutcome> {
        let (a, what) = (&req.action, req.kind.as_str());
        let existing = self.store.ledger_get(&a.idempotency_key)?;
        if let Some(r) = &existing
            && r.state == "done"
        {
            return Ok(wd::RequestOutcome::Recorded(
                r.x3_key.clone().unwrap_or_default(),
            ));
        }
        if existing.is_some()
            && let Some(l) = &a.lookup
        {
            let query = format!("{what} lookup");
            match self.x3().lookup(&lookup_request(l)) {
                Ok(found) => {
                    self.x3_answered(&query);
                    if let Some(k) = found.first().map(|f| f.key.clone()) {
                        info!("order {order_id}: adopted X3 {what} {k} from an earlier attempt");
                        return Ok(wd::RequestOutcome::Found(found_out(found, true)));
                    }
                }
                Err(e) => {
                    let f = self.failure(&query, wd::Phase::Lookup, &e, retry_after);
                    return Ok(wd::RequestOutcome::Failed(f));
                }
            }
        }
        self.store
            .ledger_intent(&a.idempotency_key, order_id, what, &a.reference)?;
        let r = self.write(a);
        let r = match r {
            // A delete whose earlier attempt went through: the order is gone, as asked.
            Err(X3Error::Rejected { status: 404, .. })
                if a.kind == wi::ActionKind::DeleteOrder && existing.is_some() =>
            {
                Ok(a.reference.clone())
            }
            other => other,
        };
        match r {
            Ok(k) => {
                self.breaker.success();
                Health::record(&self.health.x3, None);
                self.store.ledger_done(&a.idempotency_key, &k)?;
                Ok(wd::RequestOutcome::Created(k))
            }
            Err(e) => {
                let state = if matches!(e, X3Error::Unknown { .. }) {
                    "unknown"
                } else {
                    "failed"
                };
                self.store
                    .ledger_not_done(&a.idempotency_key, state, &e.to_string())?;
                if let X3Error::Rejected { .. } = e {
                    warn!("order {order_id}: X3 refused the {what}: {e}");
                }
                let f = self.failure(what, wd::Phase::Create, &e, retry_after);
                Ok(wd::RequestOutcome::Failed(f))
            }
        }
    }

    /// Sends the write: a create, or an edit whose answer is checked against its expectations.
    fn write(&self, a: &wi::Action) -> std::result::Result<String, X3Error> {
        match a.kind {
            wi::ActionKind::CreateDelivery
            | wi::ActionKind::CreateCreditNote
            | wi::ActionKind::CreateReceipt
            | wi::ActionKind::CreateIssue => {
                let (rk, gk) = a.lookup.as_ref().map_or(("", ""), |l| {
                    (l.rest_key_field.as_str(), l.graphql_key_field.as_str())
                });
                self.x3().create(&CreateRequest {
                    rest_class: &a.rest_class,
                    rest_representation: &a.rest_representation,
                    rest_body: &a.rest_body,
                    graphql_mutation: &a.graphql_mutation,
                    graphql_variables: &a.graphql_variables,
                    rest_key_field: rk,
                    graphql_key_field: gk,
                })
            }
            wi::ActionKind::CloseOrder | wi::ActionKind::DeleteOrder => self
                .x3()
                .edit(&EditRequest {
                    rest_class: &a.rest_class,
                    rest_representation: &a.rest_representation,
                    rest_key: &a.rest_key,
                    rest_body: &a.rest_body,
                    graphql_mutation: &a.graphql_mutation,
                    graphql_variables: &a.graphql_variables,
                })
                .and_then(|answer| {
                    unmet(&a.expect, &answer).map_or(Ok(a.reference.clone()), |m| {
                        Err(X3Error::Rejected {
                            status: 200,
                            message: format!(
                                "X3 answered the change of {} but {m}: its representation \
                                     does not take that field. Nothing changed in X3; make the \
                                     change there by hand, or publish a representation that \
                                     takes it ([x3.wire], docs/x3-wire-format.md)",
                                a.reference
                            ),
                        })
                    })
                }),
        }
    }

    /// The order's refunds read from WooCommerce (their JSON bodies), or what went wrong.
    pub(super) fn read_refunds(&self, order_id: u64) -> wd::RequestOutcome {
        wd::RequestOutcome::Refunds(match self.woo().list_refunds(order_id) {
            Ok(r) => {
                Health::record(&self.health.woo, None);
                Ok(r)
            }
            Err(e) => {
                let msg = format!("reading the order's refunds from WooCommerce failed: {e}");
                Health::record(&self.health.woo, Some(msg.clone()));
                Err(msg)
            }
        })
    }

    /// The ledger key of the order's shipment (`<store>/order/<id>/ship`), as the core names it
    /// for an order that moves from posted to shipped.
    fn ship_key(&self, order_id: u64) -> Result<String> {
        let settings = crate::jobs::pipeline::current(&self.settings);
        let rules = [wi::StatusRule {
            status: "completed".into(),
            stage: wi::Stage::Shipped,
        }];
        let t = self
            .core
            .inventory()
            .due_intents(
                &settings.store_id,
                order_id,
                "completed",
                &rules,
                &[wi::IntentKind::Post],
            )?
            .map_err(|e| anyhow::anyhow!("the status map: {e:?}"))?;
        t.intents
            .into_iter()
            .find(|i| i.kind == wi::IntentKind::Ship)
            .map(|i| i.idempotency_key)
            .ok_or_else(|| anyhow::anyhow!("the core names no shipment for order {order_id}"))
    }

    /// The X3 delivery the ledger holds as the order's shipment, when it is done.
    pub(crate) fn shipment_of(&self, order_id: u64) -> Result<Option<String>> {
        let key = self.ship_key(order_id)?;
        Ok(self
            .store
            .ledger_get(&key)?
            .filter(|r| r.state == "done")
            .and_then(|r| r.x3_key))
    }

    /// A delivery validated in X3 for the order's sales order `sales_order`, recorded in the
    /// ledger as the order's shipment, so the `order.updated` that completing the WooCommerce
    /// order causes finds the shipment done and sends no delivery of its own. Done while no
    /// worker holds the order (a worker in the middle of shipping it finishes first).
    pub(crate) fn record_x3_delivery(
        &self,
        order_id: u64,
        sales_order: &str,
        delivery: &str,
    ) -> Result<ShipRecord> {
        let key = self.ship_key(order_id)?;
        let _hold = self.hold_order(order_id);
        let found = self.store.ledger_get(&key)?;
        Ok(match found {
            Some(r) if r.state == "done" => match r.x3_key {
                Some(k) if k == delivery => ShipRecord::Ours,
                other => ShipRecord::Other(other.unwrap_or_default()),
            },
            Some(r) => {
                // An attempt of ours that failed or whose answer was lost: X3 holds a delivery
                // for the order now, whoever made it, so the shipment is done.
                self.store.ledger_done(&key, delivery)?;
                self.store.timeline_add(
                    order_id,
                    "found",
                    &format!(
                        "X3 delivery {delivery} of {sales_order} validated in X3: the shipment \
                         ({} before) is done",
                        r.state
                    ),
                )?;
                ShipRecord::Adopted(r.state)
            }
            None => {
                self.store
                    .ledger_intent(&key, order_id, DELIVERY, sales_order)?;
                self.store.ledger_done(&key, delivery)?;
                self.store.timeline_add(
                    order_id,
                    "shipped",
                    &format!(
                        "X3 delivery {delivery} of {sales_order} made and validated in X3: \
                         recorded as the order's shipment (no delivery is sent for it)"
                    ),
                )?;
                ShipRecord::Recorded
            }
        })
    }

    /// Keeps workers off `order_id` until the hold is dropped, waiting for one that has it.
    fn hold_order(&self, order_id: u64) -> OrderHold<'_> {
        let mut flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        while flight.contains(&order_id) {
            flight = self
                .wake
                .wait_timeout(flight, std::time::Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        flight.insert(order_id);
        OrderHold {
            pipeline: self,
            order_id,
        }
    }
}

/// What the ledger made of a delivery validated in X3 ([`Pipeline::record_x3_delivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipRecord {
    /// The order's shipment is this delivery already: one the connector made (or recorded).
    Ours,
    /// Recorded now as the order's shipment.
    Recorded,
    /// An earlier attempt of ours (ledger state given) is now done with this delivery.
    Adopted(String),
    /// The shipment was done already with another delivery (given).
    Other(String),
}

/// An order held off the workers; released (and the workers woken) on drop.
struct OrderHold<'a> {
    pipeline: &'a Pipeline,
    order_id: u64,
}

impl Drop for OrderHold<'_> {
    fn drop(&mut self) {
        self.pipeline.release(self.order_id);
    }
}

/// The order row's state for where the core says a posted order stands.
pub(super) fn posted_state(s: wi::PostedState) -> OrderState {
    match s {
        wi::PostedState::Posted => OrderState::Posted,
        wi::PostedState::Shipped => OrderState::Shipped,
        wi::PostedState::Delivered => OrderState::Delivered,
        wi::PostedState::Cancelled => OrderState::Cancelled,
        wi::PostedState::Refunded => OrderState::Refunded,
    }
}

/// The first expectation an edit's answer does not meet, in words; None when all are met.
/// The REST answer is the record; the GraphQL answer is the mutation's `data`, where the path
/// is looked for under the node the mutation answered.
fn unmet(expect: &[wi::Expectation], answer: &Value) -> Option<String> {
    for e in expect {
        let want: Value = serde_json::from_str(&e.value).unwrap_or(Value::String(e.value.clone()));
        let got = answer
            .get(&e.rest_field)
            .cloned()
            .or_else(|| find_path(answer, &e.graphql_path));
        let same = |g: &Value| match (g, &want) {
            // X3 may answer a number as text (`"2"`): read the text as JSON.
            (Value::String(a), b) | (b, Value::String(a)) if !b.is_string() => {
                serde_json::from_str::<Value>(a.trim()).ok().as_ref() == Some(b)
            }
            (a, b) => a == b,
        };
        match got {
            Some(g) if same(&g) => {}
            Some(g) => return Some(format!("{} is {g}, not {want}", e.rest_field)),
            None => return Some(format!("its answer does not show {}", e.rest_field)),
        }
    }
    None
}

/// The value at a dotted `path` under the shallowest object that has its first part.
fn find_path(v: &Value, path: &str) -> Option<Value> {
    let mut parts = path.split('.');
    let first = parts.next().filter(|p| !p.is_empty())?;
    let mut queue = std::collections::VecDeque::from([v]);
    while let Some(x) = queue.pop_front() {
        match x {
            Value::Object(m) => {
                if let Some(mut found) = m.get(first) {
                    for p in parts.by_ref() {
                        found = found.get(p)?;
                    }
                    return Some(found.clone());
                }
                queue.extend(m.values());
            }
            Value::Array(a) => queue.extend(a),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn close() -> Vec<wi::Expectation> {
        vec![wi::Expectation {
            rest_field: "ORDSTA".into(),
            graphql_path: "orderStatus".into(),
            value: "2".into(),
        }]
    }

    #[test]
    fn an_edit_answer_must_show_the_field_taken() {
        assert_eq!(unmet(&close(), &json!({"SOHNUM": "S1", "ORDSTA": 2})), None);
        assert_eq!(unmet(&close(), &json!({"ORDSTA": "2"})), None);
        assert_eq!(
            unmet(&close(), &json!({"SOHNUM": "S1", "ORDSTA": 1})).as_deref(),
            Some("ORDSTA is 1, not 2")
        );
        let gql = json!({"x3Sales": {"salesOrder": {"update": {"id": "S1", "orderStatus": 2}}}});
        assert_eq!(unmet(&close(), &gql), None);
        let gql = json!({"x3Sales": {"salesOrder": {"update": {"id": "S1", "orderStatus": 1}}}});
        assert!(unmet(&close(), &gql).is_some());
        assert!(unmet(&close(), &Value::Null).is_some());
        assert_eq!(unmet(&[], &Value::Null), None);
    }
}

//! The X3 actions after posting, run by the workers: a delivery when the order ships, delivery
//! recorded, the sales order closed (or deleted) when it is cancelled before shipment, a credit
//! note per WooCommerce refund and the units a refund put back in stock.
//!
//! The core decides (`inventory#due-intents`, `#build-delivery`, `#build-cancel`,
//! `#build-credit-note`, `#build-restocks`); this module runs each decision through the same
//! ledger as the documents: intent row committed before the request leaves, `done` with the X3
//! key after, and after an unknown outcome X3 is looked up before anything is sent again. The
//! ledger, not the previous status, says what happened, so the same webhook three times,
//! deliveries out of order and restarts do each action once. See docs/stock-and-refunds.md.

use anyhow::Result;
use serde_json::{Value, json};

use super::{Finish, Health, Pipeline, Step, lookup_request};
use crate::clients::x3::{CreateRequest, EditRequest, X3Error};
use crate::component::{inventory as wi, orders};
use crate::store::{OrderRow, OrderState, now_ms};

/// The ledger's `kind` column for each action: what the order's ledger is read back by.
const DELIVERY: &str = "delivery";
const DELIVERED: &str = "delivered";
const CANCEL: &str = "cancel";
const CREDIT_NOTE: &str = "credit note";
const RESTOCK: &str = "restock";

/// The kv key remembering which refunds were fully handled (credit notes and restock).
fn refunds_marker(order_id: u64) -> String {
    format!("stock/refunds-done/{order_id}")
}

fn stock_error(e: &wi::Error) -> String {
    match e {
        wi::Error::InvalidStatusMap(m) => format!("the status map: {m}"),
        wi::Error::InvalidRefund(m) => format!("the refund cannot be credited: {m}"),
        wi::Error::InvalidOrder(m) => format!("the order cannot go further in X3: {m}"),
        wi::Error::InvalidSettings(m) => format!("the [stock] settings: {m}"),
    }
}

/// What the after-post steps of one order read: the order, its X3 document and customer, and the
/// settings in force when the attempt began.
struct Posted<'a> {
    row: &'a OrderRow,
    cfg: crate::config::stock::StockConfig,
    doc: String,
    customer: String,
    body: Vec<u8>,
    settings: orders::Settings,
    mapping: Vec<crate::component::mapping::MappingRow>,
}

impl Pipeline {
    fn stock_config(&self) -> Option<crate::config::stock::StockConfig> {
        self.stock.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A posted order: what its status and its refunds still ask of X3. The core's decision
    /// gave the intents due now (`due`) and the state the order is in when none of them runs.
    pub(super) fn after_post(
        &self,
        row: &OrderRow,
        status: &str,
        due: std::result::Result<wi::StockTransition, wi::Error>,
        state: wi::PostedState,
    ) -> Result<Step> {
        let done_as = |state: OrderState| {
            Step::Done(Finish {
                state,
                processed_status: Some(status.to_string()),
                ..Finish::default()
            })
        };
        let Some(cfg) = self.stock_config() else {
            return Ok(done_as(OrderState::Posted));
        };
        let order_id = row.order_id;
        let settings = crate::jobs::pipeline::current(&self.settings);
        let p = Posted {
            row,
            cfg,
            doc: row.document_no.clone().unwrap_or_default(),
            customer: row.customer_code.clone().unwrap_or_default(),
            body: row.body.clone().unwrap_or_default(),
            settings,
            mapping: crate::jobs::pipeline::current(&self.mapping),
        };

        let t = match self.core_answer(row, "this order", Ok(due))? {
            Ok(t) => t,
            Err(step) => return Ok(step),
        };
        for intent in &t.intents {
            let ended = match intent.kind {
                wi::IntentKind::Ship => self.ship(&p, &intent.idempotency_key)?,
                wi::IntentKind::Deliver => {
                    self.record_delivered(&p, &intent.idempotency_key)?;
                    None
                }
                wi::IntentKind::Cancel => self.cancel(&p)?,
                // Posting is the document path's; allocation is not modelled.
                wi::IntentKind::Post | wi::IntentKind::Allocate | wi::IntentKind::Restock => None,
            };
            if let Some(step) = ended {
                return Ok(step);
            }
        }

        if let Some(step) = self.refunds(&p)? {
            return Ok(step);
        }
        if let Some(a) = &t.attention {
            return self.needs_person(row, a);
        }
        // An action that ran moved the order on: where it stands now is the ledger's to say.
        let acted = t.intents.iter().any(|i| {
            matches!(
                i.kind,
                wi::IntentKind::Ship | wi::IntentKind::Deliver | wi::IntentKind::Cancel
            )
        });
        let state = if acted {
            self.state_after_post(order_id, status)?
        } else {
            posted_state(state)
        };
        Ok(done_as(state))
    }

    /// The shipment: an X3 delivery (a miscellaneous issue for an invoice) that takes the stock
    /// out, or only recorded when the settings move no stock. Some: the attempt ends here.
    fn ship(&self, p: &Posted, key: &str) -> Result<Option<Step>> {
        let (order_id, doc) = (p.row.order_id, &p.doc);
        let today = crate::html::utc(now_ms());
        let answer = self.core.inventory().build_delivery(
            &p.body,
            doc,
            &p.customer,
            &p.mapping,
            &p.settings,
            &p.cfg.settings,
            &today,
        );
        let action = match self.core_answer(p.row, "this order", answer)? {
            Ok(a) => a,
            Err(step) => return Ok(Some(step)),
        };
        let Some(action) = action else {
            self.record_only(
                order_id,
                key,
                DELIVERY,
                doc,
                "shipped",
                &format!(
                    "shipped; {doc} is an invoice and [stock] invoice-stock-issue is \
                     off, so X3 stock is not moved"
                ),
            )?;
            return Ok(None);
        };
        match self.run_action(order_id, &action, DELIVERY)? {
            Ok(number) => {
                let what = if action.kind == wi::ActionKind::CreateIssue {
                    format!("X3 miscellaneous issue {number} for invoice {doc}")
                } else {
                    format!("X3 delivery {number} for sales order {doc}")
                };
                info!("order {order_id}: {what}");
                self.store
                    .timeline_add(order_id, "shipped", &format!("{what}: stock issued"))?;
                Ok(None)
            }
            Err(step) => Ok(Some(step)),
        }
    }

    /// Delivered to the customer: recorded once, against the delivery X3 already holds.
    fn record_delivered(&self, p: &Posted, key: &str) -> Result<()> {
        let order_id = p.row.order_id;
        let delivery = self
            .store
            .ledger_for_order(order_id)?
            .into_iter()
            .find(|r| r.kind == DELIVERY && r.state == "done")
            .and_then(|r| r.x3_key)
            .unwrap_or_default();
        self.record_only(
            order_id,
            key,
            DELIVERED,
            &delivery,
            "delivered",
            &format!("delivered to the customer; X3 already holds it as delivery {delivery}"),
        )
    }

    /// Cancelled before shipment: the X3 sales order closed or deleted, as [stock] cancel says
    /// (attention when it says "ignore"). Some: the attempt ends here.
    fn cancel(&self, p: &Posted) -> Result<Option<Step>> {
        let (order_id, doc) = (p.row.order_id, &p.doc);
        let answer =
            self.core
                .inventory()
                .build_cancel(order_id, doc, &p.settings, &p.cfg.settings);
        let action = match self.core_answer(p.row, "this order", answer)? {
            Ok(a) => a,
            Err(step) => return Ok(Some(step)),
        };
        let Some(action) = action else {
            return self
                .needs_person(
                    p.row,
                    &format!(
                        "cancelled in WooCommerce; [stock] cancel = \"ignore\": \
                         close or delete {doc} in X3 by hand"
                    ),
                )
                .map(Some);
        };
        match self.run_action(order_id, &action, CANCEL)? {
            Ok(_) => {
                let how = if action.kind == wi::ActionKind::DeleteOrder {
                    "deleted"
                } else {
                    "closed"
                };
                info!("order {order_id}: X3 sales order {doc} {how}");
                self.store.timeline_add(
                    order_id,
                    "cancelled",
                    &format!("X3 sales order {doc} {how}: cancelled before shipment"),
                )?;
                Ok(None)
            }
            Err(step) => Ok(Some(step)),
        }
    }

    /// The state a posted order is in, from what the ledger says was done and its status.
    fn state_after_post(&self, order_id: u64, status: &str) -> Result<OrderState> {
        let done = self.done_intents(order_id)?;
        Ok(posted_state(
            self.core.inventory().state_after_post(status, &done)?,
        ))
    }

    /// What the ledger says was done for the order (posting is, since it has a document).
    pub(super) fn done_intents(&self, order_id: u64) -> Result<Vec<wi::IntentKind>> {
        let mut done = vec![wi::IntentKind::Post];
        for r in self.store.ledger_for_order(order_id)? {
            if r.state != "done" {
                continue;
            }
            let k = match r.kind.as_str() {
                DELIVERY => wi::IntentKind::Ship,
                DELIVERED => wi::IntentKind::Deliver,
                CANCEL => wi::IntentKind::Cancel,
                _ => continue,
            };
            if !done.contains(&k) {
                done.push(k);
            }
        }
        Ok(done)
    }

    /// What the core answered about `what` (`this order`, `refund 900`): its value, or the
    /// attention its refusal or its failure (a trap) calls for.
    fn core_answer<T>(
        &self,
        row: &OrderRow,
        what: &str,
        answer: Result<std::result::Result<T, wi::Error>>,
    ) -> Result<std::result::Result<T, Step>> {
        let message = match answer {
            Ok(Ok(v)) => return Ok(Ok(v)),
            Ok(Err(e)) => stock_error(&e),
            Err(e) => format!("the core failed on {what}: {e:#}"),
        };
        self.needs_person(row, &message).map(Err)
    }

    /// Attention, said once on the timeline however often the order comes back.
    fn needs_person(&self, row: &OrderRow, message: &str) -> Result<Step> {
        if row.state != OrderState::Attention || row.last_error.as_deref() != Some(message) {
            self.store
                .timeline_add(row.order_id, "attention", message)?;
        }
        Ok(Step::Done(Finish {
            state: OrderState::Attention,
            last_error: Some(message.to_string()),
            processed_status: row.status.clone(),
            ..Finish::default()
        }))
    }

    /// An action that changes nothing in X3 (recorded so it happens once).
    fn record_only(
        &self,
        order_id: u64,
        key: &str,
        kind: &str,
        x3_key: &str,
        event: &str,
        detail: &str,
    ) -> Result<()> {
        if self
            .store
            .ledger_get(key)?
            .is_some_and(|r| r.state == "done")
        {
            return Ok(());
        }
        self.store.ledger_intent(key, order_id, kind, x3_key)?;
        self.store.ledger_done(key, x3_key)?;
        self.store.timeline_add(order_id, event, detail)?;
        Ok(())
    }

    /// Runs one action exactly once: done already → its key; an earlier attempt that may have
    /// reached X3 → look it up first; else intent, send, record. An edit's answer must show
    /// what the action expects, or nothing is taken as done.
    fn run_action(
        &self,
        order_id: u64,
        a: &wi::Action,
        what: &str,
    ) -> Result<std::result::Result<String, Step>> {
        let existing = self.store.ledger_get(&a.idempotency_key)?;
        if let Some(r) = &existing
            && r.state == "done"
        {
            return Ok(Ok(r.x3_key.clone().unwrap_or_default()));
        }
        if existing.is_some()
            && let Some(l) = &a.lookup
        {
            let found = match self.x3_call(&format!("{what} lookup"), || {
                self.x3().lookup(&lookup_request(l))
            }) {
                Ok(found) => found,
                Err(step) => return Ok(Err(step)),
            };
            if let Some(k) = found.first().map(|f| f.key.clone()) {
                self.store.ledger_done(&a.idempotency_key, &k)?;
                info!("order {order_id}: adopted X3 {what} {k} from an earlier attempt");
                // Not "adopted": that event counts as a posted order in the throughput chart.
                self.store.timeline_add(
                    order_id,
                    "found",
                    &format!(
                        "found X3 {what} {k} ({}) from an earlier attempt",
                        a.reference
                    ),
                )?;
                return Ok(Ok(k));
            }
        }
        if existing.is_none() {
            for w in &a.warnings {
                self.store.timeline_add(order_id, "warning", w)?;
            }
        }
        self.store
            .ledger_intent(&a.idempotency_key, order_id, what, &a.reference)?;
        let r = match a.kind {
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
        };
        let r = match r {
            // A delete whose earlier attempt went through: the order is gone, as asked.
            Err(X3Error::Rejected { status: 404, .. })
                if a.kind == wi::ActionKind::DeleteOrder && existing.is_some() =>
            {
                Ok(a.reference.clone())
            }
            other => other,
        };
        self.finish_write(order_id, &a.idempotency_key, what, &a.reference, r)
    }

    /// Records a write's outcome in the ledger, the breaker and the health.
    fn finish_write(
        &self,
        order_id: u64,
        key: &str,
        what: &str,
        reference: &str,
        r: std::result::Result<String, X3Error>,
    ) -> Result<std::result::Result<String, Step>> {
        match r {
            Ok(k) => {
                self.breaker.success();
                Health::record(&self.health.x3, None);
                self.store.ledger_done(key, &k)?;
                Ok(Ok(k))
            }
            Err(e) => {
                let state = if matches!(e, X3Error::Unknown { .. }) {
                    "unknown"
                } else {
                    "failed"
                };
                self.store.ledger_not_done(key, state, &e.to_string())?;
                let event = if state == "unknown" {
                    "unknown"
                } else {
                    "error"
                };
                self.store
                    .timeline_add(order_id, event, &format!("{what} {reference}: {e}"))?;
                if let X3Error::Rejected { .. } = e {
                    warn!("order {order_id}: X3 refused the {what}: {e}");
                }
                Ok(Err(self.failure_step(what, &e)))
            }
        }
    }

    /// Credit notes and restock for the order's refunds not yet handled. None: carry on.
    fn refunds(&self, p: &Posted) -> Result<Option<Step>> {
        let order_id = p.row.order_id;
        let Some(seen) = self.unhandled_refunds(order_id, &p.body)? else {
            return Ok(None);
        };
        let sorted = match self.read_refunds(order_id) {
            Ok(sorted) => sorted,
            Err(msg) => return Ok(Some(Step::Retry(msg, None))),
        };
        for (rid, refund) in &sorted {
            if let Some(step) = self.credit_note(p, *rid, refund)? {
                return Ok(Some(step));
            }
        }
        let bodies: Vec<Vec<u8>> = sorted.into_iter().map(|(_, b)| b).collect();
        if let Some(step) = self.restock(p, &bodies)? {
            return Ok(Some(step));
        }
        self.store.kv_set(&refunds_marker(order_id), &seen)?;
        Ok(None)
    }

    /// The order's refund ids as the marker records them, when the order has refunds and they
    /// are not the ones already handled; None: nothing to do.
    fn unhandled_refunds(&self, order_id: u64, body: &[u8]) -> Result<Option<String>> {
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        let mut ids: Vec<u64> = v
            .get("refunds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.get("id").and_then(Value::as_u64))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort_unstable();
        if ids.is_empty() {
            return Ok(None);
        }
        let seen = json!(ids).to_string();
        if self.store.kv_get(&refunds_marker(order_id))?.as_deref() == Some(seen.as_str()) {
            return Ok(None);
        }
        Ok(Some(seen))
    }

    /// The order's refunds read from WooCommerce, by id, oldest first; what went wrong when the
    /// read fails (the attempt is retried).
    fn read_refunds(&self, order_id: u64) -> std::result::Result<Vec<(u64, Vec<u8>)>, String> {
        let refunds = match self.woo().list_refunds(order_id) {
            Ok(r) => {
                Health::record(&self.health.woo, None);
                r
            }
            Err(e) => {
                let msg = format!("reading the order's refunds from WooCommerce failed: {e}");
                Health::record(&self.health.woo, Some(msg.clone()));
                return Err(msg);
            }
        };
        let mut sorted: Vec<(u64, Vec<u8>)> = refunds
            .into_iter()
            .map(|b| {
                let id = serde_json::from_slice::<Value>(&b)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_u64))
                    .unwrap_or(0);
                (id, b)
            })
            .collect();
        sorted.sort_by_key(|(id, _)| *id);
        Ok(sorted)
    }

    /// One refund's X3 credit note, once (attention when the core holds or refuses it). Some:
    /// the attempt ends here.
    fn credit_note(&self, p: &Posted, rid: u64, refund: &[u8]) -> Result<Option<Step>> {
        let order_id = p.row.order_id;
        let outcome = self.core.inventory().build_credit_note(
            &p.body,
            refund,
            &p.customer,
            &p.mapping,
            &p.settings,
            &p.cfg.settings,
        );
        let action = match self.core_answer(p.row, &format!("refund {rid}"), outcome)? {
            Ok(wi::CreditOutcome::Ready(a)) => a,
            Ok(wi::CreditOutcome::Hold(reasons)) => {
                return Ok(Some(self.needs_person(
                    p.row,
                    &format!("refund {rid} waits: {}", reasons.join("; ")),
                )?));
            }
            Err(step) => return Ok(Some(step)),
        };
        let fresh = self
            .store
            .ledger_get(&action.idempotency_key)?
            .is_none_or(|r| r.state != "done");
        match self.run_action(order_id, &action, CREDIT_NOTE)? {
            Ok(number) => {
                if fresh {
                    info!("order {order_id}: refund {rid} credited as X3 {number}");
                    self.store.timeline_add(
                        order_id,
                        "refunded",
                        &format!(
                            "refund {rid}: X3 credit note {number} ({})",
                            action.reference
                        ),
                    )?;
                }
                Ok(None)
            }
            Err(step) => Ok(Some(step)),
        }
    }

    /// The units the refunds put back in stock, as X3 miscellaneous receipts once X3 has issued
    /// the stock (only recorded before that). Some: the attempt ends here.
    fn restock(&self, p: &Posted, refunds: &[Vec<u8>]) -> Result<Option<Step>> {
        let order_id = p.row.order_id;
        let answer = self.core.inventory().build_restocks(
            &p.body,
            refunds,
            &p.mapping,
            &p.settings,
            &p.cfg.settings,
        );
        let restocks = match self.core_answer(p.row, "the restock", answer)? {
            Ok(r) => r,
            Err(step) => return Ok(Some(step)),
        };
        // Units restocked before X3 issued any stock never left X3's stock: nothing to put back.
        let shipped = self.done_intents(order_id)?.contains(&wi::IntentKind::Ship);
        for r in &restocks {
            if !shipped {
                self.record_only(
                    order_id,
                    &r.idempotency_key,
                    RESTOCK,
                    "",
                    "restocked",
                    &format!(
                        "refund {}: {} × {} restocked in WooCommerce before X3 delivered: \
                         X3 stock unchanged",
                        r.refund_id, r.quantity, r.item_code
                    ),
                )?;
                continue;
            }
            let fresh = self
                .store
                .ledger_get(&r.idempotency_key)?
                .is_none_or(|l| l.state != "done");
            match self.run_action(order_id, &r.action, RESTOCK)? {
                Ok(number) => {
                    if fresh {
                        self.store.timeline_add(
                            order_id,
                            "restocked",
                            &format!(
                                "refund {}: {} × {} back in X3 stock at {} (miscellaneous receipt {number})",
                                r.refund_id, r.quantity, r.item_code, r.site
                            ),
                        )?;
                    }
                }
                Err(step) => return Ok(Some(step)),
            }
        }
        Ok(None)
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
            .map_err(|e| anyhow::anyhow!("{}", stock_error(&e)))?;
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

/// The first expectation an edit's answer does not meet, in words; None when all are met.
/// The REST answer is the record; the GraphQL answer is the mutation's `data`, where the path
/// is looked for under the node the mutation answered.
/// The order row's state for where the core says a posted order stands.
fn posted_state(s: wi::PostedState) -> OrderState {
    match s {
        wi::PostedState::Posted => OrderState::Posted,
        wi::PostedState::Shipped => OrderState::Shipped,
        wi::PostedState::Delivered => OrderState::Delivered,
        wi::PostedState::Cancelled => OrderState::Cancelled,
        wi::PostedState::Refunded => OrderState::Refunded,
    }
}

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

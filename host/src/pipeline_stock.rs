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
use crate::component::{inventory as wi, orders};
use crate::store::{OrderRow, now_ms};
use crate::x3::{CreateRequest, EditRequest, X3Error};

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

impl Pipeline {
    fn stock_config(&self) -> Option<crate::stock::StockConfig> {
        self.stock.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A posted order: what its status and its refunds still ask of X3.
    pub(super) fn after_post(&self, row: &OrderRow, status: &str) -> Result<Step> {
        let done_as = |state: &str| {
            Step::Done(Finish {
                state: state.into(),
                processed_status: Some(status.to_string()),
                ..Finish::default()
            })
        };
        let Some(cfg) = self.stock_config() else {
            return Ok(done_as("posted"));
        };
        let order_id = row.order_id;
        let doc = row.document_no.clone().unwrap_or_default();
        let customer = row.customer_code.clone().unwrap_or_default();
        let body = row.body.clone().unwrap_or_default();
        let settings = crate::pipeline::current(&self.settings);
        let map = crate::pipeline::current(&self.status_map);
        let mapping = crate::pipeline::current(&self.mapping);

        let done = self.done_intents(order_id)?;
        let t = match self.core.call(|c, s| {
            c.ml_connector_inventory().call_due_intents(
                s,
                &settings.store_id,
                order_id,
                status,
                &map,
                &done,
            )
        }) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return self.needs_person(row, &stock_error(&e)),
            Err(e) => {
                return self.needs_person(row, &format!("the core failed on this order: {e:#}"));
            }
        };
        for intent in &t.intents {
            match intent.kind {
                wi::IntentKind::Ship => {
                    if settings.document_kind == orders::DocumentKind::Invoice {
                        self.record_only(
                            order_id,
                            &intent.idempotency_key,
                            DELIVERY,
                            &doc,
                            "shipped",
                            &format!(
                                "shipped; {doc} is an invoice, so no X3 delivery is made from it"
                            ),
                        )?;
                        continue;
                    }
                    let today = crate::status::utc(now_ms());
                    let action = match self.core.call(|c, s| {
                        c.ml_connector_inventory().call_build_delivery(
                            s,
                            &body,
                            &doc,
                            &customer,
                            &mapping,
                            &settings,
                            &cfg.settings,
                            &today,
                        )
                    }) {
                        Ok(Ok(a)) => a,
                        Ok(Err(e)) => return self.needs_person(row, &stock_error(&e)),
                        Err(e) => {
                            return self.needs_person(
                                row,
                                &format!("the core failed on this order: {e:#}"),
                            );
                        }
                    };
                    match self.run_action(order_id, &action, DELIVERY)? {
                        Ok(number) => {
                            info!("order {order_id}: X3 delivery {number} for {doc}");
                            self.store.timeline_add(
                                order_id,
                                "shipped",
                                &format!(
                                    "X3 delivery {number} for sales order {doc}: stock issued"
                                ),
                            )?;
                        }
                        Err(step) => return Ok(step),
                    }
                }
                wi::IntentKind::Deliver => {
                    let delivery = self
                        .store
                        .ledger_for_order(order_id)?
                        .into_iter()
                        .find(|r| r.kind == DELIVERY && r.state == "done")
                        .and_then(|r| r.x3_key)
                        .unwrap_or_default();
                    self.record_only(
                        order_id,
                        &intent.idempotency_key,
                        DELIVERED,
                        &delivery,
                        "delivered",
                        &format!(
                            "delivered to the customer; X3 already holds it as delivery {delivery}"
                        ),
                    )?;
                }
                wi::IntentKind::Cancel => {
                    let action = match self.core.call(|c, s| {
                        c.ml_connector_inventory().call_build_cancel(
                            s,
                            order_id,
                            &doc,
                            &settings,
                            &cfg.settings,
                        )
                    }) {
                        Ok(Ok(a)) => a,
                        Ok(Err(e)) => return self.needs_person(row, &stock_error(&e)),
                        Err(e) => {
                            return self.needs_person(
                                row,
                                &format!("the core failed on this order: {e:#}"),
                            );
                        }
                    };
                    let Some(action) = action else {
                        return self.needs_person(
                            row,
                            &format!(
                                "cancelled in WooCommerce; [stock] cancel = \"ignore\": \
                                 close or delete {doc} in X3 by hand"
                            ),
                        );
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
                        }
                        Err(step) => return Ok(step),
                    }
                }
                // Posting is the document path's; allocation is not modelled.
                wi::IntentKind::Post | wi::IntentKind::Allocate | wi::IntentKind::Restock => {}
            }
        }

        if let Some(step) = self.refunds(row, &cfg, &body, &customer, &settings, &mapping)? {
            return Ok(step);
        }
        if let Some(a) = &t.attention {
            return self.needs_person(row, a);
        }
        let done = self.done_intents(order_id)?;
        let state = if done.contains(&wi::IntentKind::Cancel) {
            "cancelled"
        } else if status == "refunded" {
            "refunded"
        } else if done.contains(&wi::IntentKind::Deliver) {
            "delivered"
        } else if done.contains(&wi::IntentKind::Ship) {
            "shipped"
        } else {
            "posted"
        };
        Ok(done_as(state))
    }

    /// What the ledger says was done for the order (posting is, since it has a document).
    fn done_intents(&self, order_id: u64) -> Result<Vec<wi::IntentKind>> {
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

    /// Attention, said once on the timeline however often the order comes back.
    fn needs_person(&self, row: &OrderRow, message: &str) -> Result<Step> {
        if row.state != "attention" || row.last_error.as_deref() != Some(message) {
            self.store
                .timeline_add(row.order_id, "attention", message)?;
        }
        Ok(Step::Done(Finish {
            state: "attention".into(),
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
    /// reached X3 → look it up first; else intent, send, record.
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
            let found = match self.x3_call(|| self.x3().lookup(&lookup_request(l))) {
                Ok(found) => found,
                Err(step) => return Ok(Err(step)),
            };
            if let Some(k) = found.first() {
                self.store.ledger_done(&a.idempotency_key, k)?;
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
                return Ok(Ok(k.clone()));
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
            wi::ActionKind::CreateDelivery | wi::ActionKind::CreateCreditNote => {
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
                .map(|()| a.reference.clone()),
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
                Ok(Err(self.failure_step(&e)))
            }
        }
    }

    /// Credit notes and restock for the order's refunds not yet handled. None: carry on.
    fn refunds(
        &self,
        row: &OrderRow,
        cfg: &crate::stock::StockConfig,
        body: &[u8],
        customer: &str,
        settings: &orders::Settings,
        mapping: &[crate::component::mapping::MappingRow],
    ) -> Result<Option<Step>> {
        let order_id = row.order_id;
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
        let refunds = match self.woo().list_refunds(order_id) {
            Ok(r) => {
                Health::record(&self.health.woo, None);
                r
            }
            Err(e) => {
                let msg = format!("reading the order's refunds from WooCommerce failed: {e}");
                Health::record(&self.health.woo, Some(msg.clone()));
                return Ok(Some(Step::Retry(msg, None)));
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
        for (rid, refund) in &sorted {
            let outcome = self.core.call(|c, s| {
                c.ml_connector_inventory().call_build_credit_note(
                    s,
                    body,
                    refund,
                    customer,
                    mapping,
                    settings,
                    &cfg.settings,
                )
            });
            let action = match outcome {
                Ok(Ok(wi::CreditOutcome::Ready(a))) => a,
                Ok(Ok(wi::CreditOutcome::Hold(reasons))) => {
                    return Ok(Some(self.needs_person(
                        row,
                        &format!("refund {rid} waits: {}", reasons.join("; ")),
                    )?));
                }
                Ok(Err(e)) => return Ok(Some(self.needs_person(row, &stock_error(&e))?)),
                Err(e) => {
                    return Ok(Some(self.needs_person(
                        row,
                        &format!("the core failed on refund {rid}: {e:#}"),
                    )?));
                }
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
                }
                Err(step) => return Ok(Some(step)),
            }
        }
        let bodies: Vec<Vec<u8>> = sorted.into_iter().map(|(_, b)| b).collect();
        let restocks = match self.core.call(|c, s| {
            c.ml_connector_inventory().call_build_restocks(
                s,
                body,
                &bodies,
                mapping,
                settings,
                &cfg.settings,
            )
        }) {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Ok(Some(self.needs_person(row, &stock_error(&e))?)),
            Err(e) => {
                return Ok(Some(self.needs_person(
                    row,
                    &format!("the core failed on the restock: {e:#}"),
                )?));
            }
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
            if let Err(step) = self.restock(order_id, r, &cfg.stock_class)? {
                return Ok(Some(step));
            }
        }
        self.store.kv_set(&refunds_marker(order_id), &seen)?;
        Ok(None)
    }

    /// Raises X3 stock by what one refund restocked. The new quantity is read and fixed once, in
    /// the ledger's reference, before the request leaves: sending it again after an unknown
    /// outcome sets the same quantity, never adds twice.
    fn restock(
        &self,
        order_id: u64,
        r: &wi::Restock,
        class: &str,
    ) -> Result<std::result::Result<(), Step>> {
        let existing = self.store.ledger_get(&r.idempotency_key)?;
        if existing.as_ref().is_some_and(|e| e.state == "done") {
            return Ok(Ok(()));
        }
        let stock_key = format!("{}~{}", r.site, r.item_code);
        let fixed = existing.as_ref().and_then(|e| {
            e.reference
                .rsplit_once("QTYSTU=")
                .and_then(|(_, t)| t.parse::<rust_decimal_lite::Qty>().ok())
        });
        let target = match fixed {
            Some(t) => t,
            None => {
                let now = match self.x3_call(|| self.stock_quantity(class, &r.site, &r.item_code)) {
                    Ok(q) => q,
                    Err(step) => return Ok(Err(step)),
                };
                let t = now.add(r.quantity);
                self.store.ledger_intent(
                    &r.idempotency_key,
                    order_id,
                    RESTOCK,
                    &format!("{stock_key} QTYSTU={t}"),
                )?;
                t
            }
        };
        if fixed.is_some() {
            self.store
                .ledger_intent(&r.idempotency_key, order_id, RESTOCK, "")?;
        }
        let rest_body = json!({ "QTYSTU": target.json() }).to_string();
        let vars = json!({ "data": {
            "_id": stock_key, "quantityInStockUnit": target.to_string(),
        }})
        .to_string();
        let res = self
            .x3()
            .edit(&EditRequest {
                rest_class: class,
                rest_representation: class,
                rest_key: &stock_key,
                rest_body: &rest_body,
                graphql_mutation: "mutation Restock($data: Stock_Input!) { x3StockData { stock { update(data: $data) { quantityInStockUnit } } } }",
                graphql_variables: &vars,
            })
            .map(|()| target.to_string());
        match self.finish_write(order_id, &r.idempotency_key, RESTOCK, &stock_key, res)? {
            Ok(q) => {
                self.store.timeline_add(
                    order_id,
                    "restocked",
                    &format!(
                        "refund {}: {} × {} back in X3 stock at {} (now {q})",
                        r.refund_id, r.quantity, r.item_code, r.site
                    ),
                )?;
                Ok(Ok(()))
            }
            Err(step) => Ok(Err(step)),
        }
    }

    /// `QTYSTU` of one item on one site (0 when X3 has no stock record for it).
    fn stock_quantity(
        &self,
        class: &str,
        site: &str,
        item: &str,
    ) -> std::result::Result<rust_decimal_lite::Qty, X3Error> {
        let lit = |v: &str| format!("'{}'", v.replace('\'', "''"));
        let rows = match self.x3().api_mode() {
            crate::x3::ApiMode::Rest => self.x3().query_rest(
                class,
                class,
                Some(&format!(
                    "STOFCY eq {} and ITMREF eq {}",
                    lit(site),
                    lit(item)
                )),
                None,
                1,
            )?,
            crate::x3::ApiMode::Graphql => {
                let glit = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
                let data = self.x3().graphql(
                    "query StockOf($filter: String) { x3StockData { stock { query(first: 1, filter: $filter) { edges { node { QTYSTU: quantityInStockUnit } } } } } }",
                    &json!({ "filter": format!("{{stockSite:{},product:{}}}", glit(site), glit(item)) }),
                )?;
                data.pointer("/x3StockData/stock/query/edges")
                    .and_then(Value::as_array)
                    .map(|e| e.iter().filter_map(|n| n.get("node").cloned()).collect())
                    .unwrap_or_default()
            }
        };
        let q = rows
            .first()
            .and_then(|r| r.get("QTYSTU"))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "0".into());
        q.parse::<rust_decimal_lite::Qty>()
            .map_err(|_| X3Error::Unknown {
                message: format!("X3 stock of {item} at {site} is not a quantity: {q}"),
            })
    }
}

/// Stock quantities without a decimal crate in the host: X3 quantities have at most a few
/// decimals, kept exactly as an integer count of 10⁻⁶ units.
mod rust_decimal_lite {
    use std::str::FromStr;

    const SCALE: i128 = 1_000_000;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Qty(i128);

    impl Qty {
        pub fn add(self, n: u32) -> Qty {
            Qty(self.0 + i128::from(n) * SCALE)
        }

        /// A JSON number (exact: at most 6 decimals).
        pub fn json(self) -> serde_json::Value {
            self.to_string()
                .parse::<serde_json::Number>()
                .map(serde_json::Value::Number)
                .unwrap_or_else(|_| serde_json::Value::String(self.to_string()))
        }
    }

    impl FromStr for Qty {
        type Err = ();
        fn from_str(s: &str) -> Result<Qty, ()> {
            let s = s.trim();
            let (neg, s) = match s.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, s),
            };
            let (int, frac) = s.split_once('.').unwrap_or((s, ""));
            if int.is_empty() && frac.is_empty()
                || frac.len() > 6
                || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
                || int.len() > 20
            {
                return Err(());
            }
            let i: i128 = if int.is_empty() {
                0
            } else {
                int.parse().map_err(|_| ())?
            };
            let f: i128 = if frac.is_empty() {
                0
            } else {
                format!("{frac:0<6}").parse().map_err(|_| ())?
            };
            let v = i * SCALE + f;
            Ok(Qty(if neg { -v } else { v }))
        }
    }

    impl std::fmt::Display for Qty {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let sign = if self.0 < 0 { "-" } else { "" };
            let a = self.0.abs();
            let (i, r) = (a / SCALE, a % SCALE);
            if r == 0 {
                write!(f, "{sign}{i}")
            } else {
                let frac = format!("{r:06}");
                write!(f, "{sign}{i}.{}", frac.trim_end_matches('0'))
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn quantities_parse_add_and_print_exactly() {
            for (s, plus, want) in [
                ("10", 2, "12"),
                ("0", 1, "1"),
                ("-3", 1, "-2"),
                ("2.5", 1, "3.5"),
                ("0.125", 0, "0.125"),
                ("7.000", 3, "10"),
            ] {
                assert_eq!(
                    s.parse::<Qty>().expect("a quantity").add(plus).to_string(),
                    want,
                    "{s}"
                );
            }
            for bad in ["", "-", "1.2345678", "x", "1e3", "1.2.3"] {
                assert!(bad.parse::<Qty>().is_err(), "{bad}");
            }
            assert_eq!(
                "12".parse::<Qty>().expect("a quantity").json(),
                serde_json::json!(12)
            );
        }
    }
}

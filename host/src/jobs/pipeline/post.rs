//! One attempt at an order through the core's decision loop (`decisions#decide`): the core says
//! where the order stands and what to ask of X3 (and of WooCommerce, for the refunds); this
//! module runs the requests, reports how each ended, writes what the core records, and turns the
//! verdict into the order row's state. The after-post writes are run by `stock.rs`.
//!
//! What stays here is the exactly-once protocol, not a business rule: an intent row committed
//! before a create leaves, `done` with the X3 key after it, `unknown` when the answer was lost
//! (or X3 refused with a 500, which may have committed), and never a create for a key the
//! ledger records done.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::stock::{posted_state, refunds_marker};
use super::{Finish, Health, Pipeline, Step, current, lookup_request, plan_error};
use crate::clients::x3::{CreateRequest, Found, X3Error};
use crate::component::{decisions as wd, orders};
use crate::store::{OrderRow, OrderState, now_ms};

/// A guard against a core that never stops asking, far above what an order needs: two calls is
/// usual, five when the customer create fails, the look-up finds the customer under another code
/// and the document's create is refused, and one more per write after posting (the core asks
/// for them one a call). Every call adds an outcome and the core asks
/// for each write once per attempt, so only a core bug reaches it: the attempt is then retried,
/// and the next one starts from what the ledger records done.
const MAX_CALLS: usize = 256;

/// What the loop carries between calls: the facts so far, the records written, and the floor
/// X3's `Retry-After` put under the backoff.
struct Attempt {
    facts: wd::Facts,
    written: usize,
    retry_after: Option<Duration>,
}

impl Pipeline {
    /// Asks the core, runs what it asks, until it says where the order ends this attempt.
    pub(super) fn attempt(&self, row: &OrderRow) -> Result<Step> {
        let order_id = row.order_id;
        let status = row.status.clone().unwrap_or_default();
        let (settings, mapping, map) = (
            current(&self.settings),
            current(&self.mapping),
            current(&self.status_map),
        );
        let body = row.body.clone().unwrap_or_default();
        let stock = self.stock_config().map(|c| c.settings);
        let mut a = Attempt {
            facts: wd::Facts {
                order_id,
                status: status.clone(),
                trashed: row.trashed,
                posted: row.document_no.as_ref().map(|d| wd::PostedAs {
                    document: d.clone(),
                    customer_code: row.customer_code.clone().unwrap_or_default(),
                }),
                // Read for a new order too: a crash after its shipment but before its row was
                // finished leaves the shipment done in the ledger, and it must not be due again.
                ledger: self.ledger_facts(order_id)?,
                today: crate::html::utc(now_ms()),
                refunds_handled: self
                    .store
                    .kv_get(&refunds_marker(order_id))?
                    .and_then(|v| serde_json::from_str(&v).ok())
                    .unwrap_or_default(),
                attention: (row.state == OrderState::Attention)
                    .then(|| row.last_error.clone())
                    .flatten(),
                outcomes: Vec::new(),
            },
            written: 0,
            retry_after: None,
        };
        for _ in 0..MAX_CALLS {
            let answer = self.core.decisions().decide(
                &body,
                &mapping,
                &settings,
                &map,
                stock.as_ref(),
                &a.facts,
            );
            let d = match answer {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => return super::attention(&self.store, order_id, &plan_error(&e)),
                Err(e) => {
                    let msg = format!("the core failed on this order: {e:#}");
                    return super::attention(&self.store, order_id, &msg);
                }
            };
            let fresh = d.records.get(a.written..).unwrap_or_default();
            self.write_records(order_id, fresh)?;
            a.written = a.written.max(d.records.len());
            let step = match d.verdict {
                wd::Verdict::Run(requests) => {
                    let before = a.facts.outcomes.len();
                    self.run_requests(order_id, &requests, &mut a)?;
                    if a.facts.outcomes.len() > before {
                        continue;
                    }
                    let msg = "the core asked for nothing to run";
                    return super::attention(&self.store, order_id, msg);
                }
                wd::Verdict::Waiting => Step::Done(Finish {
                    state: OrderState::Waiting,
                    processed_status: Some(status),
                    ..Finish::default()
                }),
                wd::Verdict::Trashed => Step::Done(Finish {
                    state: OrderState::Trashed,
                    ..Finish::default()
                }),
                wd::Verdict::Held(h) => self.held(row, &h)?,
                wd::Verdict::Attention(message) => Step::Done(Finish {
                    state: OrderState::Attention,
                    last_error: Some(message),
                    ..Finish::default()
                }),
                wd::Verdict::Retry(message) => Step::Retry(message, a.retry_after),
                wd::Verdict::Posted(p) => self.posted(row, p, &status, a.retry_after),
            };
            return Ok(step);
        }
        Ok(Step::Retry(
            "the core kept asking for more X3 requests".into(),
            a.retry_after,
        ))
    }

    /// Held: said on the timeline when the hold is new or its reasons changed.
    fn held(&self, row: &OrderRow, h: &orders::Hold) -> Result<Step> {
        let hold = hold_json(h);
        let summary = hold_summary(h);
        if row.state != OrderState::Held || row.hold.as_deref() != Some(hold.as_str()) {
            self.store.timeline_add(row.order_id, "held", &summary)?;
        }
        Ok(Step::Done(Finish {
            state: OrderState::Held,
            hold: Some(hold),
            last_error: Some(summary),
            ..Finish::default()
        }))
    }

    /// In X3: where the after-post stage left it, with the new document and customer when this
    /// attempt posted it (and a registered customer linked).
    fn posted(
        &self,
        row: &OrderRow,
        p: wd::Posted,
        status: &str,
        retry_after: Option<Duration>,
    ) -> Step {
        if p.now {
            self.link_registered_customer(row.order_id, &p);
        }
        let (state, last_error, hold) = match p.end {
            wd::AfterPost::Done(s) => (posted_state(s), None, None),
            wd::AfterPost::Attention(m) => (OrderState::Attention, Some(m), None),
            // Kept as a hold's reasons: a settings or mapping change queues the order again
            // (`Store::requeue_held`), and the order page shows what it waits for.
            wd::AfterPost::Waits(m) => {
                let hold = json!({ "missing": [], "reasons": [m] }).to_string();
                (OrderState::Attention, Some(m), Some(hold))
            }
            wd::AfterPost::Retry(m) => return Step::Retry(m, retry_after),
        };
        let (document_no, customer_code) = if p.now {
            (Some(p.document), Some(p.customer_code))
        } else {
            (None, None)
        };
        Step::Done(Finish {
            state,
            last_error,
            hold,
            document_no,
            customer_code,
            processed_status: Some(status.to_string()),
            ..Finish::default()
        })
    }

    /// The order's ledger rows, as the core reads them.
    fn ledger_facts(&self, order_id: u64) -> Result<Vec<wd::LedgerEntry>> {
        Ok(self
            .store
            .ledger_for_order(order_id)?
            .into_iter()
            .map(|r| wd::LedgerEntry {
                done: r.state == "done",
                idempotency_key: r.idempotency_key,
                kind: r.kind,
                x3_key: r.x3_key,
            })
            .collect())
    }

    /// A registered customer's order is posted: which X3 customer that WooCommerce customer is,
    /// for their later address changes (`crate::jobs::customer_sync`). Guests (`customer_id` 0)
    /// and the guest customer code are not linked. A hint only (the sync reads the customer
    /// before using it, and finds it by e-mail without): failing to store it fails nothing.
    fn link_registered_customer(&self, order_id: u64, p: &wd::Posted) {
        if p.woo_customer_id > 0
            && !p.customer_key.is_empty()
            && let Err(e) =
                self.store
                    .link_woo_customer(p.woo_customer_id, &p.customer_key, &p.customer_code)
        {
            warn!("order {order_id}: could not remember its customer: {e:#}");
        }
    }

    /// Writes what the core recorded, in order.
    fn write_records(&self, order_id: u64, records: &[wd::Record]) -> Result<()> {
        for r in records {
            match r {
                wd::Record::Note((event, detail)) => {
                    match event.as_str() {
                        "attention" => warn!("order {order_id}: {detail}"),
                        "posted" | "adopted" | "customer" | "shipped" | "cancelled"
                        | "refunded" => {
                            info!("order {order_id}: {event}: {detail}");
                        }
                        _ => {}
                    }
                    self.store.timeline_add(order_id, event, detail)?;
                }
                wd::Record::Adopted(a) => {
                    let kind = ledger_kind(a.kind);
                    self.store
                        .ledger_intent(&a.idempotency_key, order_id, kind, &a.reference)?;
                    self.store.ledger_done(&a.idempotency_key, &a.document)?;
                }
                wd::Record::LedgerDone((key, x3_key)) => self.store.ledger_done(key, x3_key)?,
                wd::Record::LedgerFailed((key, error)) => {
                    self.store.ledger_not_done(key, "failed", error)?;
                }
                wd::Record::CustomerMatch((key, code)) => {
                    self.store.remember_customer(key, code)?;
                }
                wd::Record::Recorded(r) => {
                    let done = self.store.ledger_get(&r.idempotency_key)?;
                    if done.is_none_or(|l| l.state != "done") {
                        self.store.ledger_intent(
                            &r.idempotency_key,
                            order_id,
                            &r.kind,
                            &r.x3_key,
                        )?;
                        self.store.ledger_done(&r.idempotency_key, &r.x3_key)?;
                    }
                }
                wd::Record::RefundsHandled(ids) => {
                    let seen = json!(ids).to_string();
                    self.store.kv_set(&refunds_marker(order_id), &seen)?;
                }
            }
        }
        Ok(())
    }

    /// Runs the requests in order, each outcome into the facts; stops after one that did not
    /// end as the core expects. (A write after posting, or the refunds read, comes alone.)
    fn run_requests(&self, order_id: u64, requests: &[wd::Request], a: &mut Attempt) -> Result<()> {
        for req in requests {
            let (key, outcome, go_on) = match req {
                wd::Request::Document(req) => {
                    let outcome = self.run_request(order_id, req, &mut a.retry_after)?;
                    let go_on = match &outcome {
                        wd::RequestOutcome::Created(k)
                        | wd::RequestOutcome::Recorded(k)
                        | wd::RequestOutcome::Cached(k) => {
                            req.expected_key.as_ref().is_none_or(|e| e == k)
                        }
                        _ => false,
                    };
                    (&req.operation.idempotency_key, outcome, go_on)
                }
                wd::Request::Action(req) => {
                    let outcome = self.run_action(order_id, req, &mut a.retry_after)?;
                    (&req.action.idempotency_key, outcome, false)
                }
                wd::Request::ReadRefunds(key) => (key, self.read_refunds(order_id), false),
            };
            a.facts.outcomes.push(wd::Reported {
                idempotency_key: key.clone(),
                outcome,
            });
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// One request: the ledger, the cache and X3 in the order the request says, then the
    /// create when nothing was found.
    fn run_request(
        &self,
        order_id: u64,
        req: &wd::DocumentRequest,
        retry_after: &mut Option<Duration>,
    ) -> Result<wd::RequestOutcome> {
        let op = &req.operation;
        let lookup = lookup_request(&op.lookup);
        let query = if op.kind == orders::OperationKind::EnsureCustomer {
            "customer lookup"
        } else {
            "document lookup"
        };
        let ledger = self.store.ledger_get(&op.idempotency_key)?;
        let done = ledger
            .as_ref()
            .filter(|r| r.state == "done")
            .and_then(|r| r.x3_key.clone());
        let look = |retry_after: &mut Option<Duration>, tried_before: bool| match self
            .x3()
            .lookup(&lookup)
        {
            Ok(found) => {
                self.x3_answered(query);
                Ok(found_out(found, tried_before))
            }
            Err(e) => Err(self.failure(query, wd::Phase::Lookup, &e, retry_after)),
        };
        if req.lookup_only {
            return Ok(match look(retry_after, true) {
                Ok(found) => wd::RequestOutcome::Found(found),
                Err(failure) => wd::RequestOutcome::Failed(failure),
            });
        }
        if req.ledger_first
            && let Some(key) = &done
        {
            return Ok(wd::RequestOutcome::Recorded(key.clone()));
        }
        if let Some(key) = &req.cache_key
            && let Some(code) = self
                .store
                .fresh_customer_code(key, self.customer_cache_ms())?
        {
            return Ok(wd::RequestOutcome::Cached(code));
        }
        match look(retry_after, ledger.is_some()) {
            Err(failure) => return Ok(wd::RequestOutcome::Failed(failure)),
            Ok(found) if !found.records.is_empty() => return Ok(wd::RequestOutcome::Found(found)),
            Ok(_) => {}
        }
        if let Some(key) = done {
            return Ok(wd::RequestOutcome::Recorded(key));
        }
        self.create(order_id, op, retry_after)
    }

    /// Writes the intent, sends the create, records what happened in the ledger. A refusal
    /// answered 500 stays "unknown" until the core's one look says otherwise.
    fn create(
        &self,
        order_id: u64,
        op: &orders::Operation,
        retry_after: &mut Option<Duration>,
    ) -> Result<wd::RequestOutcome> {
        let what = ledger_kind(op.kind);
        self.store
            .ledger_intent(&op.idempotency_key, order_id, what, &op.reference)?;
        let req = CreateRequest {
            rest_class: &op.rest_class,
            rest_representation: &op.rest_representation,
            rest_body: &op.rest_body,
            graphql_mutation: &op.graphql_mutation,
            graphql_variables: &op.graphql_variables,
            rest_key_field: &op.lookup.rest_key_field,
            graphql_key_field: &op.lookup.graphql_key_field,
        };
        match self.x3().create(&req) {
            Ok(key) => {
                self.breaker.success();
                Health::record(&self.health.x3, None);
                self.store.ledger_done(&op.idempotency_key, &key)?;
                Ok(wd::RequestOutcome::Created(key))
            }
            Err(e) => {
                let state = if matches!(e, X3Error::Unknown { .. } | X3Error::Refused { .. }) {
                    "unknown"
                } else {
                    "failed"
                };
                self.store
                    .ledger_not_done(&op.idempotency_key, state, &e.to_string())?;
                if let X3Error::Rejected { .. } | X3Error::Refused { .. } = e {
                    warn!("order {order_id}: X3 refused the {what}: {e}");
                }
                let failure = self.failure(what, wd::Phase::Create, &e, retry_after);
                Ok(wd::RequestOutcome::Failed(failure))
            }
        }
    }

    /// An X3 read answered: the breaker closes, the contact is recorded, and a configuration
    /// problem `what` had is cleared.
    pub(super) fn x3_answered(&self, what: &str) {
        self.breaker.success();
        Health::record(&self.health.x3, None);
        self.health.clear_x3_config(what);
    }

    /// A failed X3 call for the core: told to the breaker and the status page
    /// ([`Pipeline::note_failure`]), classified, its `Retry-After` kept.
    pub(super) fn failure(
        &self,
        what: &str,
        during: wd::Phase,
        e: &X3Error,
        retry_after: &mut Option<Duration>,
    ) -> wd::Failure {
        let kind = match e {
            X3Error::Rejected { .. } => wd::FailureKind::Rejected,
            X3Error::Refused { .. } => wd::FailureKind::Refused,
            X3Error::Config(_) => wd::FailureKind::Config,
            X3Error::Misconfigured { .. } => wd::FailureKind::Misconfigured,
            X3Error::Transient { .. } => wd::FailureKind::Transient,
            X3Error::Unknown { .. } => wd::FailureKind::Unknown,
            X3Error::Auth { .. } => wd::FailureKind::Auth,
        };
        self.note_failure(what, e);
        if let X3Error::Transient {
            retry_after: Some(after),
            ..
        } = e
        {
            *retry_after = Some(*after);
        }
        wd::Failure {
            during,
            kind,
            message: e.to_string(),
        }
    }
}

/// The ledger's `kind` column for an order's documents.
fn ledger_kind(kind: orders::OperationKind) -> &'static str {
    match kind {
        orders::OperationKind::EnsureCustomer => "customer",
        orders::OperationKind::CreateSalesOrder => "sales order",
        orders::OperationKind::CreateSalesInvoice => "sales invoice",
    }
}

pub(super) fn found_out(found: Vec<Found>, tried_before: bool) -> wd::Found {
    wd::Found {
        records: found
            .into_iter()
            .map(|f| wd::FoundRecord {
                key: f.key,
                check: f.check,
            })
            .collect(),
        tried_before,
    }
}

fn hold_json(h: &orders::Hold) -> String {
    json!({
        "missing": h.missing.iter().map(|m| json!({
            "line_id": m.line_id, "line_kind": m.line_kind, "name": m.name, "tried": m.tried,
        })).collect::<Vec<_>>(),
        "reasons": h.reasons,
    })
    .to_string()
}

fn hold_summary(h: &orders::Hold) -> String {
    let mut parts: Vec<String> = h
        .missing
        .iter()
        .map(|m| {
            format!(
                "no mapping for {} {} ({})",
                m.line_kind,
                m.name,
                m.tried.join(" ")
            )
        })
        .collect();
    parts.extend(h.reasons.iter().cloned());
    parts.join("; ")
}

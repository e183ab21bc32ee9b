//! The after-post stage of the decision loop: what a posted order's status and refunds still ask
//! of X3, one step at a time.
//!
//! The stage is a script read against the outcomes the host reports, like the plan's walk: the
//! intents due (a delivery when the order ships, delivery recorded, the sales order closed or
//! deleted when it is cancelled before shipment), then the refunds not handled yet (read from
//! WooCommerce, a credit note each, the units they put back in stock). The first write (or the
//! refunds read) whose outcome is not reported yet is the one request of the answer: one at a
//! time, so the host writes each write's records (its timeline note) right after it, and a crash
//! cannot lose them. Records are written only for steps whose outcomes are known, so each call's
//! records extend the previous call's.
//!
//! The ledger is the memory (`Facts::ledger`): a write it records done is not asked for again,
//! so the same webhook three times, deliveries out of order and restarts do each action once.

use super::{
    ActionRequest, AfterPost, Facts, Fold, Input, Posted, PostedAs, Record, Reported, Request,
    RequestOutcome, Verdict,
};
use crate::inventory::IntentKind;
use crate::order::{Order, Refund};
use crate::stock::{self, Action, ActionKind, CreditOutcome, StockSettings};

/// The ledger's kind column for each after-post action: what the order's ledger is read by.
pub const DELIVERY: &str = "delivery";
pub const DELIVERED: &str = "delivered";
pub const CANCEL: &str = "cancel";
pub const CREDIT_NOTE: &str = "credit note";
pub const RESTOCK: &str = "restock";

/// The intent a ledger kind records done.
fn intent_of(kind: &str) -> Option<IntentKind> {
    match kind {
        DELIVERY => Some(IntentKind::Ship),
        DELIVERED => Some(IntentKind::Deliver),
        CANCEL => Some(IntentKind::Cancel),
        _ => None,
    }
}

/// What the ledger says was done for a posted order (posting is: it has a document).
pub fn done_intents(facts: &Facts) -> Vec<IntentKind> {
    let mut done = vec![IntentKind::Post];
    for e in facts.ledger.iter().filter(|e| e.done) {
        if let Some(k) = intent_of(&e.kind)
            && !done.contains(&k)
        {
            done.push(k);
        }
    }
    done
}

/// A stock decision the core cannot make, in words for the order page.
pub fn stock_error(e: &stock::Error) -> String {
    match e {
        stock::Error::InvalidStatusMap(m) => format!("the status map: {m}"),
        stock::Error::InvalidRefund(m) => format!("the refund cannot be credited: {m}"),
        stock::Error::InvalidOrder(m) => format!("the order cannot go further in X3: {m}"),
        stock::Error::InvalidSettings(m) => format!("the [stock] settings: {m}"),
    }
}

/// Why the script stopped before its end.
enum Halt {
    /// This request's outcome is missing: it is the verdict (boxed: a rendered write is large,
    /// and the script passes `Halt` up through every step).
    Run(Box<Request>),
    /// The stage ends here.
    End(AfterPost),
}

type Flow<T> = Result<T, Halt>;

/// The stage's walk over the outcomes left after the plan's.
struct Stage<'a, 'f> {
    fold: &'f mut Fold,
    input: &'a Input<'a>,
    stock: &'a StockSettings,
    posted: &'a PostedAs,
    /// The order, when the plan's walk parsed it already.
    order: Option<&'a Order>,
    outcomes: std::slice::Iter<'a, Reported>,
    /// The intents done, the ledger's and this attempt's.
    done: Vec<IntentKind>,
    /// The X3 delivery of the order's shipment, once there is one.
    shipment: Option<String>,
}

impl Fold {
    /// The posted verdict for `p`, or the after-post requests to run first. `order`: the order
    /// as parsed by the plan's walk (none when posted before this attempt). `customer` is the
    /// plan's e-mail match key and WooCommerce customer id (empty and 0 when posted before).
    pub(super) fn after_post(
        &mut self,
        input: &Input,
        p: PostedAs,
        order: Option<&Order>,
        outcomes: &[Reported],
        customer: (&str, u64),
        now: bool,
    ) -> Verdict {
        let end = match input.stock {
            // Off: nothing after posting is done, and the order stays posted.
            None => match outcomes.first() {
                None => AfterPost::Done(stock::PostedState::Posted),
                Some(r) => AfterPost::Attention(self.unasked(&r.idempotency_key)),
            },
            Some(stock) => {
                let facts = input.facts;
                let mut stage = Stage {
                    fold: self,
                    input,
                    stock,
                    posted: &p,
                    order,
                    outcomes: outcomes.iter(),
                    done: done_intents(facts),
                    shipment: facts
                        .ledger
                        .iter()
                        .find(|e| e.kind == DELIVERY && e.done)
                        .and_then(|e| e.x3_key.clone()),
                };
                match stage.script() {
                    Ok(end) | Err(Halt::End(end)) => end,
                    Err(Halt::Run(request)) => return Verdict::Run(vec![*request]),
                }
            }
        };
        Verdict::Posted(Posted {
            document: p.document,
            customer_code: p.customer_code,
            customer_key: customer.0.to_string(),
            woo_customer_id: customer.1,
            now,
            end,
        })
    }

    /// An outcome nobody asked for: said, and nothing more is sent.
    fn unasked(&mut self, key: &str) -> String {
        let m = format!(
            "the host reported an outcome for {key} that no request of the plan asked for; nothing more was sent"
        );
        self.note("attention", m.clone());
        m
    }
}

impl<'a> Stage<'a, '_> {
    fn facts(&self) -> &'a Facts {
        self.input.facts
    }

    fn script(&mut self) -> Flow<AfterPost> {
        let facts = self.facts();
        let t = stock::due_intents(
            &self.input.settings.store_id,
            facts.order_id,
            &facts.status,
            self.input.status_map,
            &self.done,
        );
        let t = match t {
            Ok(t) => t,
            Err(e) => return Err(self.attention(stock_error(&e))),
        };
        for intent in &t.intents {
            match intent.kind {
                IntentKind::Ship => self.ship(&intent.idempotency_key)?,
                IntentKind::Deliver => self.deliver(&intent.idempotency_key)?,
                IntentKind::Cancel => self.cancel()?,
                // Posting is the plan's; allocation is not modelled.
                IntentKind::Post | IntentKind::Allocate | IntentKind::Restock => {}
            }
        }
        self.refunds()?;
        if let Some(rest) = self.outcomes.next() {
            let m = self.fold.unasked(&rest.idempotency_key);
            return Err(Halt::End(AfterPost::Attention(m)));
        }
        if let Some(a) = &t.attention {
            return Err(self.attention(a.clone()));
        }
        Ok(AfterPost::Done(stock::state_after_post(
            &self.facts().status,
            &self.done,
        )))
    }

    /// Attention, said once on the timeline however often the order comes back.
    fn attention(&mut self, message: String) -> Halt {
        self.for_a_person(message, AfterPost::Attention)
    }

    /// Attention until a setting or a mapping row is given, said once.
    fn waits(&mut self, message: String) -> Halt {
        self.for_a_person(message, AfterPost::Waits)
    }

    fn for_a_person(&mut self, message: String, end: fn(String) -> AfterPost) -> Halt {
        if self.facts().attention.as_deref() != Some(message.as_str()) {
            self.fold.note("attention", message.clone());
        }
        Halt::End(end(message))
    }

    fn note(&mut self, event: &str, detail: String) {
        self.fold.note(event, detail);
    }

    fn ledger_done(&self, key: &str) -> Option<String> {
        self.facts()
            .ledger
            .iter()
            .find(|e| e.idempotency_key == key && e.done)
            .map(|e| e.x3_key.clone().unwrap_or_default())
    }

    /// A step that writes nothing to X3, recorded so it happens once.
    fn record_only(
        &mut self,
        key: &str,
        kind: &str,
        x3_key: &str,
        event: &str,
        detail: String,
    ) -> Flow<()> {
        if self.ledger_done(key).is_some() {
            return Ok(());
        }
        self.fold.records.push(Record::Recorded {
            idempotency_key: key.to_string(),
            kind: kind.to_string(),
            x3_key: x3_key.to_string(),
        });
        self.note(event, detail);
        Ok(())
    }

    /// One write, exactly once: done in the ledger → its key; its outcome reported → what it
    /// says; else asked for (the script stops here). (key, fresh): done, and `fresh` when this
    /// attempt did it.
    fn action(&mut self, a: &Action, kind: &str) -> Flow<(String, bool)> {
        if let Some(k) = self.ledger_done(&a.idempotency_key) {
            return Ok((k, false));
        }
        let Some(reported) = self.outcomes.next() else {
            return Err(Halt::Run(Box::new(Request::Action(ActionRequest {
                kind: kind.to_string(),
                action: a.clone(),
            }))));
        };
        if reported.idempotency_key != a.idempotency_key {
            let m = self.fold.unasked(&reported.idempotency_key);
            return Err(Halt::End(AfterPost::Attention(m)));
        }
        let tried = self
            .facts()
            .ledger
            .iter()
            .any(|e| e.idempotency_key == a.idempotency_key);
        if !tried {
            for w in &a.warnings {
                self.note("warning", w.clone());
            }
        }
        match &reported.outcome {
            RequestOutcome::Recorded(k) => Ok((k.clone(), false)),
            RequestOutcome::Created(k) => Ok((k.clone(), true)),
            RequestOutcome::Found { records, .. } if !records.is_empty() => {
                let k = records[0].key.clone();
                self.fold.records.push(Record::LedgerDone {
                    idempotency_key: a.idempotency_key.clone(),
                    x3_key: k.clone(),
                });
                // Not "adopted": that event counts as a posted order in the throughput chart.
                self.note(
                    "found",
                    format!(
                        "found X3 {kind} {k} ({}) from an earlier attempt",
                        a.reference
                    ),
                );
                Ok((k, true))
            }
            RequestOutcome::Failed(f) => {
                if f.during == super::Phase::Create {
                    let event = if f.kind == super::FailureKind::Unknown {
                        "unknown"
                    } else {
                        "error"
                    };
                    self.note(event, format!("{kind} {}: {}", a.reference, f.message));
                }
                let end = if f.kind.needs_person() {
                    AfterPost::Attention(f.message.clone())
                } else {
                    AfterPost::Retry(f.message.clone())
                };
                Err(Halt::End(end))
            }
            RequestOutcome::Found { .. }
            | RequestOutcome::Cached(_)
            | RequestOutcome::Refunds(_) => {
                let m = format!(
                    "the host reported an answer a {kind} cannot give ({}); nothing more was sent",
                    a.idempotency_key
                );
                self.note("attention", m.clone());
                Err(Halt::End(AfterPost::Attention(m)))
            }
        }
    }

    /// The shipment: an X3 delivery (a miscellaneous issue for an invoice) that takes the stock
    /// out, or only recorded when the settings move no stock.
    fn ship(&mut self, key: &str) -> Flow<()> {
        let i = self.input;
        let doc = self.posted.document.clone();
        let built = stock::delivery(
            i.body,
            &doc,
            &self.posted.customer_code,
            i.mapping,
            i.settings,
            self.stock,
            &i.facts.today,
        );
        let action = match built {
            Ok(a) => a,
            Err(e) => return Err(self.attention(stock_error(&e))),
        };
        let Some(action) = action else {
            self.record_only(
                key,
                DELIVERY,
                &doc,
                "shipped",
                format!(
                    "shipped; {doc} is an invoice and [stock] invoice-stock-issue is off, so X3 \
                     stock is not moved"
                ),
            )?;
            self.shipped(doc);
            return Ok(());
        };
        let (number, _) = self.action(&action, DELIVERY)?;
        let what = if action.kind == ActionKind::CreateIssue {
            format!("X3 miscellaneous issue {number} for invoice {doc}")
        } else {
            format!("X3 delivery {number} for sales order {doc}")
        };
        self.note("shipped", format!("{what}: stock issued"));
        self.shipped(number);
        Ok(())
    }

    fn shipped(&mut self, delivery: String) {
        self.shipment = Some(delivery);
        self.done.push(IntentKind::Ship);
    }

    /// Delivered to the customer: recorded once, against the delivery X3 already holds.
    fn deliver(&mut self, key: &str) -> Flow<()> {
        let delivery = self.shipment.clone().unwrap_or_default();
        self.record_only(
            key,
            DELIVERED,
            &delivery,
            "delivered",
            format!("delivered to the customer; X3 already holds it as delivery {delivery}"),
        )?;
        self.done.push(IntentKind::Deliver);
        Ok(())
    }

    /// Cancelled before shipment: the X3 sales order closed or deleted, as [stock] cancel says
    /// (attention when it says "ignore").
    fn cancel(&mut self) -> Flow<()> {
        let doc = self.posted.document.clone();
        let built = stock::cancel(self.facts().order_id, &doc, self.input.settings, self.stock);
        let action = match built {
            Ok(Some(a)) => a,
            Ok(None) => {
                return Err(self.attention(format!(
                    "cancelled in WooCommerce; [stock] cancel = \"ignore\": close or delete {doc} \
                     in X3 by hand"
                )));
            }
            Err(e) => return Err(self.attention(stock_error(&e))),
        };
        self.action(&action, CANCEL)?;
        let how = if action.kind == ActionKind::DeleteOrder {
            "deleted"
        } else {
            "closed"
        };
        self.note(
            "cancelled",
            format!("X3 sales order {doc} {how}: cancelled before shipment"),
        );
        self.done.push(IntentKind::Cancel);
        Ok(())
    }

    /// Credit notes and restocks for the order's refunds, when they are not the ones handled.
    fn refunds(&mut self) -> Flow<()> {
        let refund_ids = |o: &Order| o.refunds.iter().map(|r| r.id).collect();
        let mut ids: Vec<u64> = match self.order {
            Some(o) => refund_ids(o),
            None => Order::parse(self.input.body)
                .map(|o| refund_ids(&o))
                .unwrap_or_default(),
        };
        ids.sort_unstable();
        if ids.is_empty() || ids == self.facts().refunds_handled {
            return Ok(());
        }
        let key = format!(
            "{}/order/{}/refunds",
            self.input.settings.store_id,
            self.facts().order_id
        );
        let Some(reported) = self.outcomes.next() else {
            return Err(Halt::Run(Box::new(Request::ReadRefunds(key))));
        };
        let bodies = match &reported.outcome {
            _ if reported.idempotency_key != key => {
                let m = self.fold.unasked(&reported.idempotency_key);
                return Err(Halt::End(AfterPost::Attention(m)));
            }
            RequestOutcome::Refunds(Ok(bodies)) => bodies,
            RequestOutcome::Refunds(Err(message)) => {
                return Err(Halt::End(AfterPost::Retry(message.clone())));
            }
            _ => {
                let m = format!(
                    "the host reported an answer a refunds read cannot give ({key}); nothing more was sent"
                );
                self.note("attention", m.clone());
                return Err(Halt::End(AfterPost::Attention(m)));
            }
        };
        let mut sorted: Vec<(u64, &Vec<u8>)> = bodies
            .iter()
            .map(|b| (Refund::parse(b).map_or(0, |r| r.id), b))
            .collect();
        sorted.sort_by_key(|(id, _)| *id);
        for (rid, refund) in &sorted {
            self.credit_note(*rid, refund)?;
        }
        let bodies: Vec<Vec<u8>> = sorted.into_iter().map(|(_, b)| b.clone()).collect();
        self.restock(&bodies)?;
        self.fold.records.push(Record::RefundsHandled(ids));
        Ok(())
    }

    /// One refund's X3 credit note, once (attention when it is held or refused).
    fn credit_note(&mut self, rid: u64, refund: &[u8]) -> Flow<()> {
        let i = self.input;
        let built = stock::credit_note(
            i.body,
            refund,
            &self.posted.customer_code,
            i.mapping,
            i.settings,
            self.stock,
        );
        let action = match built {
            Ok(CreditOutcome::Ready(a)) => a,
            Ok(CreditOutcome::Hold(reasons)) => {
                return Err(self.waits(format!("refund {rid} waits: {}", reasons.join("; "))));
            }
            Err(e) => return Err(self.attention(stock_error(&e))),
        };
        if let (number, true) = self.action(&action, CREDIT_NOTE)? {
            self.note(
                "refunded",
                format!(
                    "refund {rid}: X3 credit note {number} ({})",
                    action.reference
                ),
            );
        }
        Ok(())
    }

    /// The units the refunds put back in stock, as X3 miscellaneous receipts once X3 has issued
    /// the stock (only recorded before that).
    fn restock(&mut self, refunds: &[Vec<u8>]) -> Flow<()> {
        let i = self.input;
        let built = stock::restocks(i.body, refunds, i.mapping, i.settings, self.stock);
        let restocks = match built {
            Ok(r) => r,
            Err(e) => return Err(self.attention(stock_error(&e))),
        };
        // Units restocked before X3 issued any stock never left X3's stock: nothing to put back.
        let shipped = self.done.contains(&IntentKind::Ship);
        for r in &restocks {
            if !shipped {
                self.record_only(
                    &r.idempotency_key,
                    RESTOCK,
                    "",
                    "restocked",
                    format!(
                        "refund {}: {} × {} restocked in WooCommerce before X3 delivered: X3 \
                         stock unchanged",
                        r.refund_id, r.quantity, r.item_code
                    ),
                )?;
                continue;
            }
            if let (number, true) = self.action(&r.action, RESTOCK)? {
                self.note(
                    "restocked",
                    format!(
                        "refund {}: {} × {} back in X3 stock at {} (miscellaneous receipt {number})",
                        r.refund_id, r.quantity, r.item_code, r.site
                    ),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

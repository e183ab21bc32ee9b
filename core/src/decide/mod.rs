//! The order's decision loop: where one order stands, and what to ask of X3 next.
//!
//! The host calls [`decide`] with the order body, the settings, the mapping, the status map and
//! the [`Facts`] it holds: the order row (status, trashed, the X3 document once posted, why it
//! waits for a person), its ledger rows, today's date, the refunds handled, and the outcome of
//! every request it ran in this attempt, in the order it ran them. The answer is a [`Verdict`] (requests to run, or where the
//! order ends this attempt) and the [`Record`]s the outcomes call for: timeline notes, ledger rows
//! of adopted documents, customer matches to cache.
//!
//! The host runs the requests, appends their outcomes and calls again, until the verdict is not
//! `Run`. A new order's attempt usually takes two calls: the plan's requests, then `Posted`.
//! A posted order's after-post stage (a delivery, a cancel, credit notes and restocks, the
//! refunds read from WooCommerce) goes through the same loop ([`after_post`]).
//!
//! [`decide`] is a fold over the outcomes: the same facts give the same decision, and since each
//! call's outcomes extend the last call's, so do its records. The host writes the records past
//! those it has written in this attempt, and no record depends on an outcome not reported yet.
//!
//! A plan made before any outcome is speculative: the host's e-mail → customer cache, asked by
//! the first request, may name the customer, and the plan is then made again with that code (as
//! the host used to plan with the cached code). A plan's notes (`planned`, `warning`,
//! `shortened`) are recorded once the plan is the one in use: at its first outcome, or at once
//! when it is made from an outcome.

use crate::inventory::{self, IntentKind, StatusRule};
use crate::mapping::MappingRow;
use crate::order::Order;
use crate::plan::{self, Error, Hold, Known, Operation, OperationKind, Plan, Settings};
use crate::stock::{Action, PostedState, StockSettings};

mod after_post;

/// What the host knows of the order when it asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The WooCommerce order id (the row's: a body too broken to read still has one).
    pub order_id: u64,
    /// The order's WooCommerce status as stored in its row.
    pub status: String,
    /// WooCommerce moved the order to the trash.
    pub trashed: bool,
    /// The X3 document the order was posted as, and its customer; none: not posted yet.
    pub posted: Option<PostedAs>,
    /// The order's ledger rows as the attempt began: which writes were tried, which are done.
    pub ledger: Vec<LedgerEntry>,
    /// Today (UTC, `YYYY-MM-DD…`): the date of a delivery made now. One value per attempt.
    pub today: String,
    /// The order's refund ids whose credit notes and restocks were all handled.
    pub refunds_handled: Vec<u64>,
    /// The reason the order row is waiting for a person, when it is: said once on the timeline.
    pub attention: Option<String>,
    /// Every request of this attempt that ran, with how it ended, in the order they ran.
    pub outcomes: Vec<Reported>,
}

/// One row of the order's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub idempotency_key: String,
    /// The ledger's kind column (`sales order`, `delivery`, `credit note`, …).
    pub kind: String,
    /// Done: X3 has it (else an intent, unknown or failed).
    pub done: bool,
    /// The X3 key it is done with.
    pub x3_key: Option<String>,
}

/// A posted order's X3 document and customer (the order row's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedAs {
    pub document: String,
    pub customer_code: String,
}

/// How one request ended, under its operation's idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub idempotency_key: String,
    pub outcome: RequestOutcome,
}

/// What running one [`Request`] gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// The ledger records the write done with this X3 key; X3 was not asked to create it.
    Recorded(String),
    /// The host's e-mail → customer cache (young enough to trust) holds this code.
    Cached(String),
    /// The look-up found these records (empty only for a look-up-only request).
    /// `tried_before`: the ledger had a row for the key (an earlier attempt may have sent it).
    Found {
        records: Vec<FoundRecord>,
        tried_before: bool,
    },
    /// X3 created it: its key (document number, customer code); for an edit, the reference.
    Created(String),
    /// The look-up or the write got no usable answer, or a refusal.
    Failed(Failure),
    /// The order's refund bodies WooCommerce listed, or why reading them failed.
    Refunds(Result<Vec<Vec<u8>>, String>),
}

/// One record a look-up found: its key and the value of the lookup's check field, if read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRecord {
    pub key: String,
    pub check: Option<String>,
}

/// A failed X3 call, as the host's client classified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub during: Phase,
    pub kind: FailureKind,
    /// The client's message (no secrets: the host's errors never carry them).
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Lookup,
    /// The write: a create, or an after-post edit.
    Create,
}

/// The host's X3 error classes (docs/x3-wire-format.md, "errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A 4xx business refusal: nothing was written.
    Rejected,
    /// A business error answered 500 (`$diagnoses`): X3 may still have committed.
    Refused,
    /// The connection settings cannot work (no such folder, bad URL).
    Config,
    /// X3 answered that a name it was sent does not exist (an `[x3.wire]` override).
    Misconfigured,
    /// X3 is down or busy for now (5xx, 429, connection refused).
    Transient,
    /// No answer at all: the request may or may not have reached X3.
    Unknown,
    /// Authentication failed (a token, a password): worth retrying after a fix.
    Auth,
}

impl FailureKind {
    /// X3 answered, and waiting will not change the answer: a person is needed.
    fn needs_person(self) -> bool {
        matches!(
            self,
            FailureKind::Rejected
                | FailureKind::Refused
                | FailureKind::Config
                | FailureKind::Misconfigured
        )
    }
}

/// One thing for the host to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A document of the plan, or its customer.
    Document(DocumentRequest),
    /// An X3 write after posting, run exactly once.
    Action(ActionRequest),
    /// Read the order's refunds from WooCommerce; reported under this key.
    ReadRefunds(String),
}

/// An after-post write and the ledger kind it is recorded under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRequest {
    /// The ledger's kind column (`delivery`, `cancel`, `credit note`, `restock`).
    pub kind: String,
    pub action: Action,
}

/// One document (or customer) to look up and create in X3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRequest {
    pub operation: Operation,
    /// Only look up (the check after a refused create); never create.
    pub lookup_only: bool,
    /// Ask the ledger before X3: a write it records done is not looked up (documents). When
    /// false the ledger is asked after an empty look-up (customers, who may have been merged).
    pub ledger_first: bool,
    /// The e-mail match key the host's customer cache may answer this request by.
    pub cache_key: Option<String>,
    /// The host goes past this request to the next only when it ended `Created`, `Recorded`
    /// or `Cached` with this key (when set) — otherwise it stops and asks again. (Writes after
    /// posting are asked one a call.)
    pub expected_key: Option<String>,
}

/// Where the order ends this attempt, or what to run first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Run these in order, stopping as [`DocumentRequest::expected_key`] says, then ask again.
    Run(Vec<Request>),
    /// The status asks for no post (yet).
    Waiting,
    /// Trashed before it was posted: nothing to do.
    Trashed,
    /// Cannot be posted until a person adds mappings or settings.
    Held(Hold),
    /// A person must look; the sentence says why.
    Attention(String),
    /// Failed for now; the sentence says why. The host's backoff says when.
    Retry(String),
    /// In X3 (before this attempt or by it), and where the after-post stage left it.
    Posted(Posted),
}

/// A posted order and how its after-post stage ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub document: String,
    pub customer_code: String,
    /// The e-mail match key of the plan (empty: guest, or posted before this attempt).
    pub customer_key: String,
    /// WooCommerce's `customer_id` (0: a guest).
    pub woo_customer_id: u64,
    /// Posted by this attempt (not before it).
    pub now: bool,
    /// How the after-post stage ended.
    pub end: AfterPost,
}

/// How a posted order's after-post stage ends this attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterPost {
    /// Where the order stands: everything its status and refunds ask is done.
    Done(PostedState),
    /// A person must look; why (said on the timeline when new).
    Attention(String),
    /// A person must set something (a setting, a mapping row); why. Tried again when the
    /// settings or the mapping change.
    Waits(String),
    /// Failed for now; why.
    Retry(String),
}

/// Something the host writes for the outcomes: in order, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A line on the order's timeline.
    Note { event: String, detail: String },
    /// A document found in X3 is ours: ledger intent and done with its number.
    Adopted {
        idempotency_key: String,
        kind: OperationKind,
        reference: String,
        document: String,
    },
    /// A write whose intent row exists is now known done with this X3 key.
    LedgerDone {
        idempotency_key: String,
        x3_key: String,
    },
    /// A create X3 refused and then did not have: certainly not done.
    LedgerFailed {
        idempotency_key: String,
        error: String,
    },
    /// The X3 customer matched to an e-mail key, for the host's cache.
    CustomerMatch { customer_key: String, code: String },
    /// An after-post step that writes nothing to X3, done once: ledger intent and done.
    Recorded {
        idempotency_key: String,
        kind: String,
        x3_key: String,
    },
    /// These refund ids (sorted) are all handled: credit notes and restocks.
    RefundsHandled(Vec<u64>),
}

/// One answer of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub records: Vec<Record>,
}

/// The order's next step from what the host knows. An error is the body or the settings
/// refused (what `plan` refuses them for), never a fact of X3.
pub fn decide(
    body: &[u8],
    mapping: &[MappingRow],
    settings: &Settings,
    status_map: &[StatusRule],
    stock: Option<&StockSettings>,
    facts: &Facts,
) -> Result<Decision, Error> {
    let input = Input {
        body,
        mapping,
        settings,
        status_map,
        stock,
        facts,
    };
    let mut fold = Fold::default();
    if facts.trashed {
        let verdict = match &facts.posted {
            Some(p) => fold.attention(format!(
                "trashed in WooCommerce after it was posted to X3 as {}",
                p.document
            )),
            None => Verdict::Trashed,
        };
        return Ok(fold.end(verdict));
    }
    if let Some(p) = &facts.posted {
        let verdict = fold.after_post(&input, p.clone(), None, &facts.outcomes, ("", 0), false);
        return Ok(fold.end(verdict));
    }
    let to_post = inventory::transition(
        &settings.store_id,
        facts.order_id,
        None,
        &facts.status,
        status_map,
        false,
    )
    .map_err(|e| Error::InvalidSettings(e.to_string()))?
    .intents
    .iter()
    .any(|i| i.kind == IntentKind::Post);
    if !to_post {
        return Ok(fold.end(Verdict::Waiting));
    }
    let order = Order::parse(body)?;
    let verdict = fold.run(&order, &input)?;
    Ok(fold.end(verdict))
}

/// What `decide` was given, for the stages of the walk.
struct Input<'a> {
    body: &'a [u8],
    mapping: &'a [MappingRow],
    settings: &'a Settings,
    status_map: &'a [StatusRule],
    stock: Option<&'a StockSettings>,
    facts: &'a Facts,
}

/// What one operation of the plan in use is waiting for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Look up, create when absent.
    Ensure,
    /// Look up only: the create was refused (or failed for a customer) and may have committed.
    Recheck,
}

#[derive(Default)]
struct Fold {
    records: Vec<Record>,
}

/// The state of an attempt while the outcomes are read.
struct Walk {
    plan: Plan,
    /// Notes of the plan not recorded yet (it is still speculative).
    pending_notes: bool,
    /// The next operation of the plan, and what it waits for.
    next: usize,
    mode: Mode,
    /// The create failure a recheck answers for.
    refused: Option<Failure>,
    customer_code: String,
    document: Option<String>,
}

/// What reading one outcome did to the walk.
enum Step {
    /// On to the next operation (or the same one, in another mode).
    Go,
    /// Plan again with this customer code.
    Replan(String),
    /// The attempt ends here.
    End(Verdict),
}

impl Fold {
    fn note(&mut self, event: &str, detail: String) {
        self.records.push(Record::Note {
            event: event.into(),
            detail,
        });
    }

    fn attention(&mut self, message: String) -> Verdict {
        self.note("attention", message.clone());
        Verdict::Attention(message)
    }

    fn end(self, verdict: Verdict) -> Decision {
        Decision {
            verdict,
            records: self.records,
        }
    }

    fn plan_notes(&mut self, plan: &Plan) {
        self.note(
            "planned",
            format!(
                "{} X3 operation(s) for customer {}",
                plan.operations.len(),
                plan.customer_code
            ),
        );
        for w in &plan.warnings {
            self.note("warning", w.clone());
        }
        for s in &plan.shortened {
            self.note(
                "shortened",
                format!("{}: {:?} sent as {:?}", s.field, s.original, s.sent),
            );
        }
    }

    /// Reads every outcome against the plan in use; the verdict once they are all read.
    fn run(&mut self, order: &Order, input: &Input) -> Result<Verdict, Error> {
        let (mapping, settings, facts) = (input.mapping, input.settings, input.facts);
        let plan = match plan_with(order, mapping, settings, None)? {
            Ok(p) => p,
            Err(v) => return Ok(v),
        };
        let mut w = Walk {
            customer_code: plan.customer_code.clone(),
            plan,
            pending_notes: true,
            next: 0,
            mode: Mode::Ensure,
            refused: None,
            document: None,
        };
        let mut read = 0;
        for reported in &facts.outcomes {
            if w.next >= w.plan.operations.len() {
                // The plan is done: the rest are the after-post stage's.
                break;
            }
            read += 1;
            let due = w.plan.operations.get(w.next).cloned();
            let Some(op) = due.filter(|op| op.idempotency_key == reported.idempotency_key) else {
                return Ok(self.attention(format!(
                    "the host reported an outcome for {} that no request of the plan asked for; nothing more was sent",
                    reported.idempotency_key
                )));
            };
            let cached = matches!(reported.outcome, RequestOutcome::Cached(_));
            if w.pending_notes && !cached {
                w.pending_notes = false;
                let plan = w.plan.clone();
                self.plan_notes(&plan);
            }
            let step = match op.kind {
                OperationKind::EnsureCustomer => self.customer(&mut w, &op, &reported.outcome),
                _ => self.document(&mut w, &op, &reported.outcome),
            };
            match step {
                Step::Go => {}
                Step::End(v) => return Ok(v),
                Step::Replan(code) => {
                    // At most once: a plan made with a known code has no customer step, so no
                    // later outcome can name another customer.
                    let plan = match plan_with(order, mapping, settings, Some(code.clone()))? {
                        Ok(p) => p,
                        Err(v) => return Ok(v),
                    };
                    self.plan_notes(&plan);
                    w.pending_notes = false;
                    w.plan = plan;
                    w.customer_code = code;
                    w.next = 0;
                    w.mode = Mode::Ensure;
                }
            }
        }
        if w.next < w.plan.operations.len() {
            return Ok(Verdict::Run(requests(&w)));
        }
        let Some(document) = w.document else {
            return Ok(self.attention("the plan has no document to post".into()));
        };
        let posted = PostedAs {
            document,
            customer_code: w.customer_code.clone(),
        };
        let customer = (w.plan.customer_key.as_str(), order.customer_id);
        let rest = &facts.outcomes[read..];
        Ok(self.after_post(input, posted, Some(order), rest, customer, true))
    }

    /// The plan's customer step.
    fn customer(&mut self, w: &mut Walk, op: &Operation, outcome: &RequestOutcome) -> Step {
        let key = w.plan.customer_key.clone();
        if w.mode == Mode::Recheck {
            // After a failed create: another worker may have created it between our look-up
            // and our create ("Record already exists"). Found: ours; else the create's failure.
            let refused = w.refused.take();
            if let RequestOutcome::Found { records, .. } = outcome
                && let Some(code) = self.choose_customer(&key, records)
            {
                self.records.push(Record::LedgerDone {
                    idempotency_key: op.idempotency_key.clone(),
                    x3_key: code.clone(),
                });
                return self.customer_is(w, code);
            }
            let f = refused.unwrap_or_else(|| Failure {
                during: Phase::Create,
                kind: FailureKind::Unknown,
                message: "the customer create failed".into(),
            });
            return Step::End(self.failed(&f));
        }
        match outcome {
            RequestOutcome::Cached(code) => {
                // The cache says who the customer is: the plan is the one the code gives.
                Step::Replan(code.clone())
            }
            RequestOutcome::Found { records, .. } => match self.choose_customer(&key, records) {
                Some(code) => self.customer_is(w, code),
                None => Step::End(self.bad_fact(op, "an empty look-up answer for a create")),
            },
            RequestOutcome::Recorded(code) => {
                // Not found by e-mail, but created by us (its e-mail changed in X3?): still
                // ours, and creating it again would fail on its code.
                self.records.push(Record::CustomerMatch {
                    customer_key: key,
                    code: code.clone(),
                });
                self.customer_is(w, code.clone())
            }
            RequestOutcome::Created(code) => {
                self.records.push(Record::CustomerMatch {
                    customer_key: key,
                    code: code.clone(),
                });
                self.note("customer", format!("created X3 customer {code}"));
                self.customer_is(w, code.clone())
            }
            RequestOutcome::Failed(f) if f.during == Phase::Create => {
                self.create_failed(op, "customer", f);
                w.mode = Mode::Recheck;
                w.refused = Some(f.clone());
                Step::Go
            }
            RequestOutcome::Failed(f) => Step::End(self.failed(f)),
            RequestOutcome::Refunds(_) => {
                Step::End(self.bad_fact(op, "an answer a customer request cannot give"))
            }
        }
    }

    /// The customer step ended with this code: on to the document, or a re-plan under it.
    fn customer_is(&mut self, w: &mut Walk, code: String) -> Step {
        if code != w.customer_code {
            return Step::Replan(code);
        }
        w.next += 1;
        w.mode = Mode::Ensure;
        Step::Go
    }

    /// The X3 customer an order's e-mail matched: the lowest code when several share the
    /// e-mail (deterministic, whichever host or attempt asks; docs/x3-wire-format.md).
    fn choose_customer(&mut self, customer_key: &str, found: &[FoundRecord]) -> Option<String> {
        let mut codes: Vec<&str> = found.iter().map(|f| f.key.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        let code = codes.first().map(|c| (*c).to_string())?;
        self.records.push(Record::CustomerMatch {
            customer_key: customer_key.to_string(),
            code: code.clone(),
        });
        let detail = if codes.len() > 1 {
            format!(
                "matched X3 customer {code} by e-mail: {} X3 customers have it ({}), the lowest code is used",
                codes.len(),
                codes.join(", ")
            )
        } else {
            format!("matched X3 customer {code} by e-mail")
        };
        self.note("customer", detail);
        Some(code)
    }

    /// The plan's sales order or invoice.
    fn document(&mut self, w: &mut Walk, op: &Operation, outcome: &RequestOutcome) -> Step {
        let kind = kind_name(op.kind);
        if w.mode == Mode::Recheck {
            let refused = w.refused.take();
            return match outcome {
                RequestOutcome::Found { records, .. } if !records.is_empty() => {
                    self.adopt_found(w, op, records, true)
                }
                RequestOutcome::Failed(f) => Step::End(self.failed(f)),
                _ => {
                    let f = refused.unwrap_or_else(|| Failure {
                        during: Phase::Create,
                        kind: FailureKind::Refused,
                        message: format!("the {kind} create was refused"),
                    });
                    self.records.push(Record::LedgerFailed {
                        idempotency_key: op.idempotency_key.clone(),
                        error: f.message.clone(),
                    });
                    Step::End(self.failed(&f))
                }
            };
        }
        match outcome {
            RequestOutcome::Recorded(doc) => self.document_is(w, doc.clone()),
            RequestOutcome::Created(doc) => {
                self.note("posted", format!("X3 {kind} {doc} ({})", op.reference));
                self.document_is(w, doc.clone())
            }
            RequestOutcome::Found {
                records,
                tried_before,
            } if !records.is_empty() => self.adopt_found(w, op, records, *tried_before),
            RequestOutcome::Found { .. }
            | RequestOutcome::Cached(_)
            | RequestOutcome::Refunds(_) => {
                Step::End(self.bad_fact(op, "an answer a document request cannot give"))
            }
            RequestOutcome::Failed(f) if f.during == Phase::Create => {
                self.create_failed(op, kind, f);
                if f.kind == FailureKind::Refused {
                    // A refusal answered 500: X3 may still have committed it. One look.
                    w.mode = Mode::Recheck;
                    w.refused = Some(f.clone());
                    return Step::Go;
                }
                Step::End(self.failed(f))
            }
            RequestOutcome::Failed(f) => Step::End(self.failed(f)),
        }
    }

    fn document_is(&mut self, w: &mut Walk, doc: String) -> Step {
        w.document = Some(doc);
        w.next += 1;
        w.mode = Mode::Ensure;
        Step::Go
    }

    /// What a look-up by the document's reference found: ours (same customer) is adopted; a
    /// document of another customer under our reference is someone else's, and the order
    /// needs a person — never adopted, never a second document with the same reference.
    fn adopt_found(
        &mut self,
        w: &mut Walk,
        op: &Operation,
        found: &[FoundRecord],
        tried_before: bool,
    ) -> Step {
        let want = &op.lookup.check_value;
        let (mut ours, foreign): (Vec<&FoundRecord>, Vec<&FoundRecord>) = found
            .iter()
            .partition(|f| want.is_empty() || f.check.as_ref().is_none_or(|c| c == want));
        ours.sort_by(|a, b| a.key.cmp(&b.key));
        if let Some(doc) = ours.first().map(|f| f.key.clone()) {
            if ours.len() > 1 {
                let all: Vec<&str> = ours.iter().map(|f| f.key.as_str()).collect();
                self.note(
                    "attention",
                    format!(
                        "X3 holds {} documents with reference {}: {}",
                        ours.len(),
                        op.reference,
                        all.join(", ")
                    ),
                );
            }
            self.records.push(Record::Adopted {
                idempotency_key: op.idempotency_key.clone(),
                kind: op.kind,
                reference: op.reference.clone(),
                document: doc.clone(),
            });
            let how = if tried_before {
                "from an earlier attempt"
            } else {
                "already in X3 (posted before this host's records begin)"
            };
            self.note("adopted", format!("found {doc} ({}) {how}", op.reference));
            return self.document_is(w, doc);
        }
        let f = foreign.first().map_or("?", |f| f.key.as_str());
        let theirs = foreign
            .first()
            .and_then(|f| f.check.as_deref())
            .unwrap_or("?");
        Step::End(self.attention(format!(
            "X3 already has {f} with reference {} for customer {theirs}, not this order's \
             customer {want}: another shop (or a person) uses this reference. Nothing was \
             posted; give each shop feeding this X3 folder its own [orders] reference-prefix",
            op.reference
        )))
    }

    /// The timeline line of a create that failed.
    fn create_failed(&mut self, op: &Operation, what: &str, f: &Failure) {
        let event = if f.kind == FailureKind::Unknown {
            "unknown"
        } else {
            "error"
        };
        self.note(event, format!("{what} {}: {}", op.reference, f.message));
    }

    /// Where a failure leaves the order: a person's when X3 answered, a retry when it did not.
    fn failed(&mut self, f: &Failure) -> Verdict {
        if f.kind.needs_person() {
            self.attention(f.message.clone())
        } else {
            Verdict::Retry(f.message.clone())
        }
    }

    /// An outcome no request of this kind gives: the host's mistake, said, never guessed at.
    fn bad_fact(&mut self, op: &Operation, what: &str) -> Verdict {
        self.attention(format!(
            "the host reported {what} ({}); nothing more was sent",
            op.idempotency_key
        ))
    }
}

/// Plans the order with a known customer code (or none), or the verdict without a plan.
fn plan_with(
    order: &Order,
    mapping: &[MappingRow],
    settings: &Settings,
    known: Option<String>,
) -> Result<Result<Plan, Verdict>, Error> {
    let known = Known {
        customer_code: known,
    };
    Ok(match plan::plan_order(order, mapping, settings, &known)? {
        plan::Outcome::Ready(p) => Ok(p),
        plan::Outcome::Hold(h) => Err(Verdict::Held(h)),
    })
}

/// The requests still to run: the rest of the plan, or the one look-up a recheck waits for.
fn requests(w: &Walk) -> Vec<Request> {
    document_requests(w)
        .into_iter()
        .map(Request::Document)
        .collect()
}

fn document_requests(w: &Walk) -> Vec<DocumentRequest> {
    let ops = &w.plan.operations[w.next..];
    if w.mode == Mode::Recheck {
        return ops
            .first()
            .map(|op| DocumentRequest {
                operation: op.clone(),
                lookup_only: true,
                ledger_first: false,
                cache_key: None,
                expected_key: None,
            })
            .into_iter()
            .collect();
    }
    ops.iter()
        .map(|op| {
            let customer = op.kind == OperationKind::EnsureCustomer;
            // A document the ledger records done is not looked up; any other is looked up in
            // X3 before its create, the first one too (the ledger may be a restored backup,
            // lost, or another host's: X3 is what counts). A customer is looked up in X3 even
            // when the ledger says we created it (it may have been merged or re-addressed since),
            // and the ledger is asked only when X3 has none under the e-mail.
            DocumentRequest {
                operation: op.clone(),
                lookup_only: false,
                ledger_first: !customer,
                cache_key: (customer && !w.plan.customer_key.is_empty())
                    .then(|| w.plan.customer_key.clone()),
                expected_key: customer.then(|| w.customer_code.clone()),
            }
        })
        .collect()
}

/// The document an operation creates, in words.
fn kind_name(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::EnsureCustomer => "customer",
        OperationKind::CreateSalesOrder => "sales order",
        OperationKind::CreateSalesInvoice => "sales invoice",
    }
}

#[cfg(test)]
mod tests;

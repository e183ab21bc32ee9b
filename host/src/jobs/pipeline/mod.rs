//! The workers: take an order whose job is due, ask the core what to post, post it to X3 exactly
//! once, record the outcome.
//!
//! Exactly-once without help from X3: before a create, the ledger gets an `intent` row keyed by
//! the core's idempotency key, committed before the request leaves. A create that succeeds marks
//! it `done` with the X3 key. A row that exists but is not `done` — a timeout, a reset, a crash,
//! a `kill -9` between request and answer — means "this may be in X3": the next attempt looks X3
//! up by the document's reference (CUSORDREF) and adopts what it finds before creating anything.
//!
//! One job per order at a time (an in-memory set of orders in flight), twice as many workers as
//! X3 requests allowed at once (`x3.concurrency`, which the X3 client itself enforces: a worker
//! waiting on SQLite leaves its X3 slot to another), exponential backoff with jitter for
//! transient failures, and a circuit breaker so a dead X3 is probed, not hammered.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use crate::clients::woo::WooClient;
use crate::clients::x3::{CreateRequest, Found, LookupRequest, X3Client, X3Error};
use crate::component::{CoreRuntime, inventory, mapping, orders};
use crate::config::RetryFile;
use crate::store::{Finish, OrderRow, OrderState, Store, now_ms};

/// Consecutive transient failures that open the breaker.
const BREAKER_THRESHOLD: u32 = 5;
/// Longest the breaker stays open before one probe is let through.
const BREAKER_MAX_OPEN_MS: i64 = 30_000;

/// Stops calls to an X3 that keeps failing; lets one probe through when the cool-down ends.
#[derive(Default)]
pub struct Breaker {
    inner: Mutex<BreakerState>,
}

#[derive(Default)]
struct BreakerState {
    failures: u32,
    open_until: i64,
    /// When the probe in flight was let through (0: none). A probe whose job ends without
    /// calling X3 (the order was held, say) reports nothing, so a probe expires after the
    /// longest cool-down instead of blocking every later call.
    probe_since: i64,
}

impl Breaker {
    /// May a worker call X3 now? While open, no; after the cool-down, one probe at a time.
    pub fn allow(&self, now: i64) -> bool {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if s.failures < BREAKER_THRESHOLD {
            return true;
        }
        let probing = s.probe_since != 0 && now < s.probe_since + BREAKER_MAX_OPEN_MS;
        if now < s.open_until || probing {
            return false;
        }
        s.probe_since = now;
        true
    }

    pub fn success(&self) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *s = BreakerState::default();
    }

    pub fn failure(&self, now: i64) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.failures = s.failures.saturating_add(1);
        s.probe_since = 0;
        if s.failures >= BREAKER_THRESHOLD {
            let exp = (s.failures - BREAKER_THRESHOLD).min(10);
            s.open_until = now + (1000i64 << exp).min(BREAKER_MAX_OPEN_MS);
        }
    }

    /// When the breaker opens for calls again (0: closed).
    pub fn open_until(&self) -> i64 {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if s.failures >= BREAKER_THRESHOLD {
            s.open_until
        } else {
            0
        }
    }
}

/// What the host last heard from a remote system since it started: for the status page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// The last answer (ms since the epoch); a business refusal is an answer.
    pub last_success_at: Option<i64>,
    /// The last call that got no usable answer, and why.
    pub last_failure_at: Option<i64>,
    pub last_failure: Option<String>,
}

/// [`Contact`]s with X3 and the WooCommerce REST API, recorded by the workers.
#[derive(Default)]
pub struct Health {
    x3: Mutex<Contact>,
    woo: Mutex<Contact>,
    /// Queries X3 answered but could not run as configured (an `[x3.wire]` name the site's
    /// representation lacks), by what was asked: cleared when the same query next succeeds.
    x3_config: Mutex<std::collections::BTreeMap<String, (i64, String)>>,
}

impl Health {
    pub fn x3(&self) -> Contact {
        self.x3.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The configuration problems X3 reported, oldest first: (when, what was asked, message).
    pub fn x3_config_problems(&self) -> Vec<(i64, String, String)> {
        let m = self.x3_config.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = m
            .iter()
            .map(|(what, (at, msg))| (*at, what.clone(), msg.clone()))
            .collect();
        v.sort();
        v
    }

    /// Records that `what` could not run as configured; true when this is news (to log once).
    pub(crate) fn record_x3_config(&self, what: &str, message: &str) -> bool {
        let mut m = self.x3_config.lock().unwrap_or_else(|e| e.into_inner());
        let news = m.get(what).is_none_or(|(_, old)| old != message);
        m.insert(what.to_string(), (now_ms(), message.to_string()));
        news
    }

    pub(crate) fn clear_x3_config(&self, what: &str) {
        let mut m = self.x3_config.lock().unwrap_or_else(|e| e.into_inner());
        if m.remove(what).is_some() {
            info!("X3: {what} works again");
        }
    }

    pub fn woo(&self) -> Contact {
        self.woo.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a contact with WooCommerce made outside the workers (monitor, catch-up).
    pub fn record_woo(&self, failure: Option<String>) {
        Health::record(&self.woo, failure);
    }

    /// Records a contact with X3 made outside the order workers (`crate::jobs::customer_sync`).
    pub(crate) fn record_x3(&self, failure: Option<String>) {
        Health::record(&self.x3, failure);
    }

    fn record(c: &Mutex<Contact>, failure: Option<String>) {
        let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
        match failure {
            None => c.last_success_at = Some(now_ms()),
            Some(m) => {
                c.last_failure_at = Some(now_ms());
                c.last_failure = Some(m);
            }
        }
    }
}

/// Everything the workers share.
pub struct Pipeline {
    pub store: Arc<Store>,
    pub core: Arc<CoreRuntime>,
    /// The clients, swapped whole when the admin API changes the connection settings: a worker
    /// takes its own `Arc` per call, so a request in flight finishes on the client it began with.
    x3: RwLock<Arc<X3Client>>,
    woo: RwLock<Arc<WooClient>>,
    pub settings: RwLock<orders::Settings>,
    pub status_map: RwLock<Vec<inventory::StatusRule>>,
    pub mapping: RwLock<Vec<mapping::MappingRow>>,
    /// The actions after posting (`[stock]`); None: off.
    stock: RwLock<Option<crate::config::stock::StockConfig>>,
    pub retry: RetryFile,
    pub breaker: Breaker,
    pub health: Health,
    in_flight: Mutex<HashSet<u64>>,
    wake: Condvar,
    stopping: AtomicBool,
    /// How long an e-mail → X3 customer match is trusted (`[master-data] customer-cache-secs`).
    customer_cache_ms: AtomicI64,
}

/// How one attempt at an order ended.
enum Step {
    Done(Finish),
    /// Try again later (transient); the error is recorded. X3's `Retry-After`, when it gave one,
    /// is a floor under the backoff.
    Retry(String, Option<Duration>),
}

impl Pipeline {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<Store>,
        core: Arc<CoreRuntime>,
        x3: Arc<X3Client>,
        woo: Arc<WooClient>,
        settings: orders::Settings,
        status_map: Vec<inventory::StatusRule>,
        mapping: Vec<mapping::MappingRow>,
        retry: RetryFile,
    ) -> Pipeline {
        Pipeline {
            stock: RwLock::new(crate::config::stock::StockConfig::defaults(&core).ok()),
            store,
            core,
            x3: RwLock::new(x3),
            woo: RwLock::new(woo),
            settings: RwLock::new(settings),
            status_map: RwLock::new(status_map),
            mapping: RwLock::new(mapping),
            retry,
            breaker: Breaker::default(),
            health: Health::default(),
            in_flight: Mutex::new(HashSet::new()),
            wake: Condvar::new(),
            stopping: AtomicBool::new(false),
            customer_cache_ms: AtomicI64::new(86_400_000),
        }
    }

    /// How long a cached e-mail → X3 customer match is trusted before X3 is asked again.
    pub fn set_customer_cache_secs(&self, secs: u64) {
        let ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.customer_cache_ms.store(ms.max(1), Ordering::SeqCst);
    }

    pub fn customer_cache_ms(&self) -> i64 {
        self.customer_cache_ms.load(Ordering::SeqCst)
    }

    /// The X3 client in use now.
    pub fn x3(&self) -> Arc<X3Client> {
        Arc::clone(&self.x3.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The WooCommerce client in use now.
    pub fn woo(&self) -> Arc<WooClient> {
        Arc::clone(&self.woo.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the X3 client (new connection settings). The breaker is reset: its failures were
    /// the old settings'.
    pub fn set_x3(&self, client: Arc<X3Client>) {
        *self.x3.write().unwrap_or_else(|e| e.into_inner()) = client;
        self.breaker.success();
    }

    /// Replaces the WooCommerce client (new connection settings).
    pub fn set_woo(&self, client: Arc<WooClient>) {
        *self.woo.write().unwrap_or_else(|e| e.into_inner()) = client;
    }

    /// The settings of the actions after posting (`[stock]`); `enabled = false` turns them off.
    pub fn set_stock(&self, c: crate::config::stock::StockConfig) {
        let c = c.enabled.then_some(c);
        *self.stock.write().unwrap_or_else(|e| e.into_inner()) = c;
    }

    /// Wakes idle workers (a delivery arrived, a replay was asked for).
    pub fn notify(&self) {
        self.wake.notify_all();
    }

    /// Asks workers to stop after their current job.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_all();
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Orders being worked on now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Picks a due order nobody is working on, and claims it.
    fn claim(&self) -> Result<Option<u64>> {
        let now = now_ms();
        let mut flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let due = self.store.due_orders(now, 64)?;
        let Some(pick) = due.into_iter().find(|id| !flight.contains(id)) else {
            return Ok(None);
        };
        // Asked only with a job in hand: a probe slot taken here is always used.
        if !self.breaker.allow(now) {
            return Ok(None);
        }
        flight.insert(pick);
        Ok(Some(pick))
    }

    fn release(&self, order_id: u64) {
        let mut flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        flight.remove(&order_id);
        drop(flight);
        self.wake.notify_all();
    }

    /// A worker's loop: runs until [`Pipeline::stop`].
    pub fn run_worker(&self) {
        while !self.stopping() {
            match self.claim() {
                Ok(Some(order_id)) => {
                    if let Err(e) = self.process(order_id) {
                        // The store failed (disk full, locked): leave the order queued and back off.
                        warn!("order {order_id}: could not record progress: {e:#}");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    self.release(order_id);
                }
                Ok(None) => self.idle(),
                Err(e) => {
                    warn!("reading the job queue failed: {e:#}");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    fn idle(&self) {
        let now = now_ms();
        let next = self
            .store
            .next_due_at()
            .ok()
            .flatten()
            .unwrap_or(now + 1000);
        let next = next.max(self.breaker.open_until());
        let wait = (next - now).clamp(5, 1000);
        let flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.wake.wait_timeout(
            flight,
            Duration::from_millis(u64::try_from(wait).unwrap_or(1000)),
        );
    }

    /// Runs every due job until none is left (tests, `orders replay --wait`).
    pub fn drain(&self) -> Result<()> {
        while let Some(id) = self.claim()? {
            self.process(id)?;
            self.release(id);
        }
        Ok(())
    }

    pub(crate) fn backoff(&self, attempts: i64) -> i64 {
        let base = i64::try_from(self.retry.base_backoff_ms)
            .unwrap_or(1000)
            .max(1);
        let max =
            i64::try_from(self.retry.max_backoff_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let exp = attempts.clamp(0, 20);
        let delay = base.saturating_mul(1 << exp).min(max);
        // Jitter between 50% and 100% so orders that failed together do not retry together.
        let jitter = 50 + (now_ms().rem_euclid(51));
        now_ms() + delay * jitter / 100
    }

    /// One attempt at one order.
    pub fn process(&self, order_id: u64) -> Result<()> {
        let Some(mut row) = self.store.load_order(order_id)? else {
            return Ok(());
        };
        if row.refetch || row.body.is_none() {
            match self.refetch(&row)? {
                Some(r) => row = r,
                None => return Ok(()),
            }
        }
        let step = self.attempt(&row)?;
        let finish = match step {
            Step::Done(f) => f,
            Step::Retry(error, retry_after) => self.retry_finish(&row, error, retry_after)?,
        };
        self.store.finish_order(order_id, row.rev, &finish)?;
        Ok(())
    }

    /// Reads the order from the WooCommerce REST API into its row: the row as it is now, or None
    /// when the job ended here (the order is gone from WooCommerce, or the read is retried).
    fn refetch(&self, row: &OrderRow) -> Result<Option<OrderRow>> {
        let order_id = row.order_id;
        match self.woo().get_order(order_id) {
            Ok(Some(body)) => {
                Health::record(&self.health.woo, None);
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let status = v.get("status").and_then(|s| s.as_str()).map(str::to_string);
                let modified = v
                    .get("date_modified_gmt")
                    .and_then(|s| s.as_str())
                    .map(str::to_string);
                self.store.apply_fetched_order(
                    order_id,
                    &body,
                    status.as_deref(),
                    modified.as_deref(),
                )?;
                self.store.timeline_add(
                    order_id,
                    "fetched",
                    "order read from the WooCommerce REST API",
                )?;
                self.store.load_order(order_id)
            }
            Ok(None) => {
                Health::record(&self.health.woo, None);
                let state = if row.document_no.is_some() {
                    OrderState::Attention
                } else {
                    OrderState::Deleted
                };
                let error = row
                    .document_no
                    .as_ref()
                    .map(|d| format!("deleted in WooCommerce after it was posted to X3 as {d}"));
                self.store.timeline_add(
                    order_id,
                    "deleted",
                    "WooCommerce no longer has this order",
                )?;
                self.store.finish_order(
                    order_id,
                    row.rev,
                    &Finish {
                        state,
                        last_error: error,
                        ..Finish::default()
                    },
                )?;
                Ok(None)
            }
            Err(e) => {
                let msg = format!("reading the order from WooCommerce failed: {e}");
                Health::record(&self.health.woo, Some(msg.clone()));
                let retry_at = self.backoff(row.attempts);
                self.store.finish_order(
                    order_id,
                    row.rev,
                    &Finish {
                        state: OrderState::Retrying,
                        retry_at: Some(retry_at),
                        last_error: Some(msg),
                        ..Finish::default()
                    },
                )?;
                Ok(None)
            }
        }
    }

    /// How an attempt that failed for now ends: retrying after a backoff (X3's `Retry-After` a
    /// floor under it), or failed once the retry horizon has passed since the first failure.
    fn retry_finish(
        &self,
        row: &OrderRow,
        error: String,
        retry_after: Option<Duration>,
    ) -> Result<Finish> {
        let order_id = row.order_id;
        let horizon =
            i64::try_from(self.retry.horizon_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let first = row.first_failure_at.unwrap_or_else(now_ms);
        if self.retry.horizon_secs > 0 && now_ms() - first > horizon {
            self.store.timeline_add(
                order_id,
                "failed",
                &format!("gave up after retrying: {error}"),
            )?;
            return Ok(Finish {
                state: OrderState::Failed,
                last_error: Some(error),
                ..Finish::default()
            });
        }
        let floor = retry_after.map_or(0, |d| {
            now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        });
        let retry_at = self.backoff(row.attempts).max(floor);
        // Said in the log when it starts and again every tenth attempt: an order
        // that keeps failing must not be silent.
        if row.attempts == 0 {
            info!("order {order_id}: will retry: {error}");
        } else if (row.attempts + 1) % 10 == 0 {
            warn!(
                "order {order_id}: still failing after {} attempts: {error}",
                row.attempts + 1
            );
        }
        self.store.timeline_add(
            order_id,
            "retrying",
            &format!(
                "attempt {} failed, retrying in {} s: {error}",
                row.attempts + 1,
                (retry_at - now_ms()).max(0) / 1000
            ),
        )?;
        Ok(Finish {
            state: OrderState::Retrying,
            retry_at: Some(retry_at),
            last_error: Some(error),
            ..Finish::default()
        })
    }

    /// Plans and posts an order not in X3 yet, or runs the later stages of one that is.
    fn attempt(&self, row: &OrderRow) -> Result<Step> {
        let order_id = row.order_id;
        let status = row.status.clone().unwrap_or_default();
        if row.trashed {
            return self.trashed(row);
        }
        if row.document_no.is_some() {
            // Posted already: what the status and the refunds ask of X3 now.
            return self.after_post(row, &status);
        }
        let settings = current(&self.settings);
        if let Some(step) = self.not_to_post(order_id, &status, &settings.store_id)? {
            return Ok(step);
        }
        let body = row.body.clone().unwrap_or_default();
        let mut known_code = self.known_customer(&body)?;
        // At most one re-plan: when X3 already has the customer under another code.
        for _ in 0..2 {
            let plan = match self.plan(row, &body, &settings, known_code.clone())? {
                Ok(plan) => plan,
                Err(step) => return Ok(step),
            };
            self.record_plan(&plan)?;
            match self.execute(&plan, &status)? {
                Exec::Replan(code) => known_code = Some(code),
                Exec::Step(Step::Done(posted)) if posted.state == OrderState::Posted => {
                    return self.just_posted(row, &body, &plan, posted, &status);
                }
                Exec::Step(step) => return Ok(step),
            }
        }
        Ok(Step::Retry(
            "the customer code kept changing between plans".into(),
            None,
        ))
    }

    /// A trashed order: attention when it was posted to X3 already, else trashed.
    fn trashed(&self, row: &OrderRow) -> Result<Step> {
        if let Some(doc) = &row.document_no {
            let msg = format!("trashed in WooCommerce after it was posted to X3 as {doc}");
            self.store.timeline_add(row.order_id, "attention", &msg)?;
            return Ok(Step::Done(Finish {
                state: OrderState::Attention,
                last_error: Some(msg),
                ..Finish::default()
            }));
        }
        Ok(Step::Done(Finish {
            state: OrderState::Trashed,
            ..Finish::default()
        }))
    }

    /// How an attempt ends before planning: waiting when the status asks for no post, attention
    /// when the core fails on the status map; None when the order is to be posted.
    fn not_to_post(&self, order_id: u64, status: &str, store_id: &str) -> Result<Option<Step>> {
        let map = current(&self.status_map);
        let transition = self
            .core
            .inventory()
            .transition(store_id, order_id, None, status, &map, false);
        let post = match transition {
            Ok(Ok(t)) => t
                .intents
                .iter()
                .any(|i| i.kind == inventory::IntentKind::Post),
            Ok(Err(e)) => {
                return attention(&self.store, order_id, &format!("status map: {e:?}")).map(Some);
            }
            Err(e) => {
                return attention(
                    &self.store,
                    order_id,
                    &format!("the core failed on this order: {e:#}"),
                )
                .map(Some);
            }
        };
        if post {
            return Ok(None);
        }
        Ok(Some(Step::Done(Finish {
            state: OrderState::Waiting,
            processed_status: Some(status.to_string()),
            ..Finish::default()
        })))
    }

    /// The core's plan for the order with the customer code known so far, or how the attempt
    /// ends without one: held, or attention when the core cannot plan it.
    fn plan(
        &self,
        row: &OrderRow,
        body: &[u8],
        settings: &orders::Settings,
        known_code: Option<String>,
    ) -> Result<std::result::Result<orders::OrderPlan, Step>> {
        let order_id = row.order_id;
        let mapping = current(&self.mapping);
        let known = orders::KnownState {
            customer_code: known_code,
        };
        let outcome = self.core.orders().plan(body, &mapping, settings, &known);
        match outcome {
            Err(e) => attention(
                &self.store,
                order_id,
                &format!("the core failed on this order: {e:#}"),
            )
            .map(Err),
            Ok(Err(e)) => attention(&self.store, order_id, &plan_error(&e)).map(Err),
            Ok(Ok(orders::PlanOutcome::Hold(h))) => {
                let hold = hold_json(&h);
                let summary = hold_summary(&h);
                if row.state != OrderState::Held || row.hold.as_deref() != Some(hold.as_str()) {
                    self.store.timeline_add(order_id, "held", &summary)?;
                }
                Ok(Err(Step::Done(Finish {
                    state: OrderState::Held,
                    hold: Some(hold),
                    last_error: Some(summary),
                    ..Finish::default()
                })))
            }
            Ok(Ok(orders::PlanOutcome::Ready(p))) => Ok(Ok(p)),
        }
    }

    /// Puts a ready plan on the order's timeline: its operations, warnings and shortened fields.
    fn record_plan(&self, plan: &orders::OrderPlan) -> Result<()> {
        let order_id = plan.order_id;
        self.store.timeline_add(
            order_id,
            "planned",
            &format!(
                "{} X3 operation(s) for customer {}",
                plan.operations.len(),
                plan.customer_code
            ),
        )?;
        for w in &plan.warnings {
            self.store.timeline_add(order_id, "warning", w)?;
        }
        for s in &plan.shortened {
            self.store.timeline_add(
                order_id,
                "shortened",
                &format!("{}: {:?} sent as {:?}", s.field, s.original, s.sent),
            )?;
        }
        Ok(())
    }

    /// An order just posted: links its registered customer and runs the later stages at once,
    /// keeping the new document and customer in the outcome.
    fn just_posted(
        &self,
        row: &OrderRow,
        body: &[u8],
        plan: &orders::OrderPlan,
        posted: Finish,
        status: &str,
    ) -> Result<Step> {
        self.link_registered_customer(body, plan, posted.customer_code.as_deref());
        // First seen already shipped (or refunded): the later stages at once.
        let mut r = row.clone();
        r.document_no.clone_from(&posted.document_no);
        r.customer_code.clone_from(&posted.customer_code);
        Ok(match self.after_post(&r, status)? {
            Step::Done(f) => Step::Done(Finish {
                document_no: posted.document_no,
                customer_code: posted.customer_code,
                ..f
            }),
            retry => retry,
        })
    }

    /// A registered customer's order is posted: which X3 customer that WooCommerce customer is,
    /// for their later address changes (`crate::jobs::customer_sync`). Guests (`customer_id` 0) and
    /// the guest customer code are not linked. A hint only (the sync reads the customer before
    /// using it, and finds it by e-mail without): failing to store it fails nothing.
    fn link_registered_customer(&self, body: &[u8], plan: &orders::OrderPlan, code: Option<&str>) {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let customer_id = v.get("customer_id").and_then(|c| c.as_u64()).unwrap_or(0);
        if let Some(code) = code
            && customer_id > 0
            && !plan.customer_key.is_empty()
            && let Err(e) = self
                .store
                .link_woo_customer(customer_id, &plan.customer_key, code)
        {
            warn!(
                "order {}: could not remember its customer: {e:#}",
                plan.order_id
            );
        }
    }

    fn known_customer(&self, body: &[u8]) -> Result<Option<String>> {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let email = v
            .pointer("/billing/email")
            .and_then(|e| e.as_str())
            .unwrap_or("")
            .to_string();
        if email.trim().is_empty() {
            return Ok(None);
        }
        let key = self.core.orders().customer_key(&email)?;
        // A match older than the cache limit is not used: the plan then looks X3 up again.
        self.store
            .fresh_customer_code(&key, self.customer_cache_ms())
    }

    /// Runs a ready plan's operations in order.
    fn execute(&self, plan: &orders::OrderPlan, status: &str) -> Result<Exec> {
        let mut customer_code = plan.customer_code.clone();
        let mut document_no = None;
        for op in &plan.operations {
            let lookup = lookup_request(&op.lookup);
            let ended = match op.kind {
                orders::OperationKind::EnsureCustomer => {
                    self.ensure_customer(plan, op, &lookup, &mut customer_code)?
                }
                orders::OperationKind::CreateSalesOrder
                | orders::OperationKind::CreateSalesInvoice => {
                    self.create_document(plan.order_id, op, &lookup, &mut document_no)?
                }
            };
            if let Some(exec) = ended {
                return Ok(exec);
            }
        }
        Ok(Exec::Step(Step::Done(Finish {
            state: OrderState::Posted,
            document_no,
            customer_code: Some(customer_code),
            processed_status: Some(status.to_string()),
            ..Finish::default()
        })))
    }

    /// The plan's customer step: finds the customer in X3 or creates it, into `customer_code`.
    /// Some when the plan ends here: a re-plan under another code, or the attempt's step.
    fn ensure_customer(
        &self,
        plan: &orders::OrderPlan,
        op: &orders::Operation,
        lookup: &LookupRequest<'_>,
        customer_code: &mut String,
    ) -> Result<Option<Exec>> {
        let order_id = plan.order_id;
        // X3 first: the customer may exist already (created by hand, by another
        // host, or by an earlier attempt whose answer was lost), and the plan only
        // has this step when the cache holds no match young enough to trust — so
        // X3 is asked again even for a customer the ledger says we created: it may
        // have been merged or re-addressed in X3 since.
        let found = match self.x3_call("customer lookup", || self.x3().lookup(lookup)) {
            Ok(found) => found,
            Err(step) => return Ok(Some(Exec::Step(step))),
        };
        if let Some(code) = self.choose_customer(order_id, plan, &found)? {
            if code != *customer_code {
                return Ok(Some(Exec::Replan(code)));
            }
            return Ok(None);
        }
        // Not found by e-mail, but created by us (its e-mail changed in X3?): still
        // ours, and creating it again would fail on its code.
        if let Some(row) = self.store.ledger_get(&op.idempotency_key)?
            && row.state == "done"
            && let Some(code) = row.x3_key
        {
            self.store.remember_customer(&plan.customer_key, &code)?;
            if code != *customer_code {
                return Ok(Some(Exec::Replan(code)));
            }
            return Ok(None);
        }
        match self.create(order_id, op, "customer")? {
            Ok(code) => {
                self.store.remember_customer(&plan.customer_key, &code)?;
                self.store.timeline_add(
                    order_id,
                    "customer",
                    &format!("created X3 customer {code}"),
                )?;
                *customer_code = code;
            }
            Err(e) => {
                // Two orders of one new customer at once: another worker created
                // the customer between our look-up and our create, and X3 refused
                // the second ("Record already exists"). Look again before failing.
                let again = self.x3().lookup(lookup).unwrap_or_default();
                let Some(code) = self.choose_customer(order_id, plan, &again)? else {
                    return Ok(Some(Exec::Step(self.failure_step("customer create", &e))));
                };
                self.store.ledger_done(&op.idempotency_key, &code)?;
                if code != *customer_code {
                    return Ok(Some(Exec::Replan(code)));
                }
            }
        }
        Ok(None)
    }

    /// The plan's sales order or invoice: adopted from the ledger or X3, else created, into
    /// `document_no`. Some when the plan ends here (the attempt's step).
    fn create_document(
        &self,
        order_id: u64,
        op: &orders::Operation,
        lookup: &LookupRequest<'_>,
        document_no: &mut Option<String>,
    ) -> Result<Option<Exec>> {
        let existing = self.store.ledger_get(&op.idempotency_key)?;
        if let Some(row) = &existing
            && row.state == "done"
        {
            *document_no = row.x3_key.clone();
            return Ok(None);
        }
        // X3 before every create, the first one too: the ledger may be a restored
        // backup, lost, or another host's; X3 is what counts.
        let found = match self.x3_call("document lookup", || self.x3().lookup(lookup)) {
            Ok(found) => found,
            Err(step) => return Ok(Some(Exec::Step(step))),
        };
        let kind = if op.kind == orders::OperationKind::CreateSalesOrder {
            "sales order"
        } else {
            "sales invoice"
        };
        match self.adopt(order_id, op, kind, &found, existing.is_some())? {
            Adopt::Ours(doc) => {
                *document_no = Some(doc);
                return Ok(None);
            }
            Adopt::Foreign(step) => return Ok(Some(Exec::Step(step))),
            Adopt::None => {}
        }
        match self.create(order_id, op, kind)? {
            Ok(doc) => {
                info!("order {order_id}: posted as X3 {kind} {doc}");
                self.store.timeline_add(
                    order_id,
                    "posted",
                    &format!("X3 {kind} {doc} ({})", op.reference),
                )?;
                *document_no = Some(doc);
            }
            Err(e @ X3Error::Refused { .. }) => {
                // A refusal answered 500: X3 may still have committed it. One look.
                let found = match self.x3_call("document lookup", || self.x3().lookup(lookup)) {
                    Ok(found) => found,
                    Err(step) => return Ok(Some(Exec::Step(step))),
                };
                match self.adopt(order_id, op, kind, &found, true)? {
                    Adopt::Ours(doc) => *document_no = Some(doc),
                    Adopt::Foreign(step) => return Ok(Some(Exec::Step(step))),
                    Adopt::None => {
                        self.store.ledger_not_done(
                            &op.idempotency_key,
                            "failed",
                            &e.to_string(),
                        )?;
                        return Ok(Some(Exec::Step(self.failure_step(kind, &e))));
                    }
                }
            }
            Err(e) => return Ok(Some(Exec::Step(self.failure_step(kind, &e)))),
        }
        Ok(None)
    }

    /// The X3 customer an order's e-mail matched, when X3 has one: the lowest code when several
    /// share the e-mail (deterministic, whichever host or attempt asks; docs/x3-wire-format.md),
    /// said on the timeline.
    fn choose_customer(
        &self,
        order_id: u64,
        plan: &orders::OrderPlan,
        found: &[Found],
    ) -> Result<Option<String>> {
        let mut codes: Vec<&str> = found.iter().map(|f| f.key.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        let Some(code) = codes.first().map(|c| (*c).to_string()) else {
            return Ok(None);
        };
        self.store.remember_customer(&plan.customer_key, &code)?;
        let detail = if codes.len() > 1 {
            format!(
                "matched X3 customer {code} by e-mail: {} X3 customers have it ({}), the lowest code is used",
                codes.len(),
                codes.join(", ")
            )
        } else {
            format!("matched X3 customer {code} by e-mail")
        };
        self.store.timeline_add(order_id, "customer", &detail)?;
        Ok(Some(code))
    }

    /// What a look-up by the document's reference found: ours (same customer) is adopted; a
    /// document of another customer under our reference is someone else's, and the order
    /// needs a person — never adopted, never a second document with the same reference.
    fn adopt(
        &self,
        order_id: u64,
        op: &orders::Operation,
        kind: &str,
        found: &[Found],
        tried_before: bool,
    ) -> Result<Adopt> {
        let want = &op.lookup.check_value;
        let (mut ours, foreign): (Vec<&Found>, Vec<&Found>) = found
            .iter()
            .partition(|f| want.is_empty() || f.check.as_ref().is_none_or(|c| c == want));
        ours.sort_by(|a, b| a.key.cmp(&b.key));
        if let Some(doc) = ours.first().map(|f| f.key.clone()) {
            if ours.len() > 1 {
                let all: Vec<&str> = ours.iter().map(|f| f.key.as_str()).collect();
                warn!(
                    "order {order_id}: X3 holds {} documents with reference {}",
                    ours.len(),
                    op.reference
                );
                self.store.timeline_add(
                    order_id,
                    "attention",
                    &format!(
                        "X3 holds {} documents with reference {}: {}",
                        ours.len(),
                        op.reference,
                        all.join(", ")
                    ),
                )?;
            }
            self.store
                .ledger_intent(&op.idempotency_key, order_id, kind, &op.reference)?;
            self.store.ledger_done(&op.idempotency_key, &doc)?;
            let how = if tried_before {
                "from an earlier attempt"
            } else {
                "already in X3 (posted before this host's records begin)"
            };
            info!(
                "order {order_id}: adopted X3 document {doc} ({}) {how}",
                op.reference
            );
            self.store.timeline_add(
                order_id,
                "adopted",
                &format!("found {doc} ({}) {how}", op.reference),
            )?;
            return Ok(Adopt::Ours(doc));
        }
        if let Some(f) = foreign.first() {
            let msg = format!(
                "X3 already has {} with reference {} for customer {}, not this order's customer \
                 {want}: another shop (or a person) uses this reference. Nothing was posted; give \
                 each shop feeding this X3 folder its own [orders] reference-prefix",
                f.key,
                op.reference,
                f.check.as_deref().unwrap_or("?")
            );
            warn!("order {order_id}: {msg}");
            return Ok(Adopt::Foreign(attention(&self.store, order_id, &msg)?));
        }
        Ok(Adopt::None)
    }

    /// One X3 read through the breaker; a failure becomes the step to take. `what` names the
    /// query for the status page when X3 cannot run it as configured.
    // The step is moved once per call and returned as it is: boxing it would buy nothing.
    #[allow(clippy::result_large_err)]
    fn x3_call<T>(
        &self,
        what: &str,
        f: impl FnOnce() -> Result<T, X3Error>,
    ) -> std::result::Result<T, Step> {
        match f() {
            Ok(v) => {
                self.breaker.success();
                Health::record(&self.health.x3, None);
                self.health.clear_x3_config(what);
                Ok(v)
            }
            Err(e) => Err(self.failure_step(what, &e)),
        }
    }

    fn failure_step(&self, what: &str, e: &X3Error) -> Step {
        match e {
            X3Error::Rejected { .. } | X3Error::Refused { .. } | X3Error::Config(_) => {
                // X3 answered; it is not down.
                self.breaker.success();
                Health::record(
                    &self.health.x3,
                    matches!(e, X3Error::Config(_)).then(|| e.to_string()),
                );
                Step::Done(Finish {
                    state: OrderState::Attention,
                    last_error: Some(e.to_string()),
                    ..Finish::default()
                })
            }
            X3Error::Misconfigured { message } => {
                // X3 is up and says what it does not know: the status page and the log name it.
                self.breaker.success();
                Health::record(&self.health.x3, None);
                if self.health.record_x3_config(what, message) {
                    warn!("X3 configuration: {what}: {message}");
                }
                Step::Done(Finish {
                    state: OrderState::Attention,
                    last_error: Some(e.to_string()),
                    ..Finish::default()
                })
            }
            X3Error::Transient { retry_after, .. } => {
                Health::record(&self.health.x3, Some(e.to_string()));
                self.breaker.failure(now_ms());
                Step::Retry(e.to_string(), *retry_after)
            }
            X3Error::Unknown { .. } | X3Error::Auth { .. } => {
                Health::record(&self.health.x3, Some(e.to_string()));
                self.breaker.failure(now_ms());
                Step::Retry(e.to_string(), None)
            }
        }
    }

    /// Writes the intent, sends the create, records what happened. A refusal answered 500
    /// stays "unknown" in the ledger until the caller has looked.
    fn create(
        &self,
        order_id: u64,
        op: &orders::Operation,
        what: &str,
    ) -> Result<std::result::Result<String, X3Error>> {
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
                Ok(Ok(key))
            }
            Err(e) => {
                let state = if matches!(e, X3Error::Unknown { .. } | X3Error::Refused { .. }) {
                    "unknown"
                } else {
                    "failed"
                };
                self.store
                    .ledger_not_done(&op.idempotency_key, state, &e.to_string())?;
                let event = if matches!(e, X3Error::Unknown { .. }) {
                    "unknown"
                } else {
                    "error"
                };
                self.store.timeline_add(
                    order_id,
                    event,
                    &format!("{what} {}: {e}", op.reference),
                )?;
                if let X3Error::Rejected { .. } | X3Error::Refused { .. } = e {
                    warn!("order {order_id}: X3 refused the {what}: {e}");
                }
                Ok(Err(e))
            }
        }
    }
}

/// What a look-up by reference means for the create.
enum Adopt {
    /// Our document: adopted.
    Ours(String),
    /// Someone else's document under our reference: the step is attention.
    Foreign(Step),
    None,
}

mod stock;
pub use stock::ShipRecord;

/// A copy of what is in force now (settings, status map, mapping): the admin API may swap it
/// while an order is being worked on, and the order finishes with the copy it started with.
pub(crate) fn current<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read().unwrap_or_else(|e| e.into_inner()).clone()
}

enum Exec {
    Step(Step),
    Replan(String),
}

fn attention(store: &Store, order_id: u64, message: &str) -> Result<Step> {
    store.timeline_add(order_id, "attention", message)?;
    Ok(Step::Done(Finish {
        state: OrderState::Attention,
        last_error: Some(message.to_string()),
        ..Finish::default()
    }))
}

fn lookup_request(l: &orders::Lookup) -> LookupRequest<'_> {
    LookupRequest {
        rest_class: &l.rest_class,
        rest_representation: &l.rest_representation,
        rest_where: &l.rest_where,
        graphql_query: &l.graphql_query,
        graphql_variables: &l.graphql_variables,
        rest_key_field: &l.rest_key_field,
        graphql_key_field: &l.graphql_key_field,
        rest_check_field: &l.rest_check_field,
        graphql_check_path: &l.graphql_check_path,
    }
}

/// The core's business errors in words for the order's page.
pub fn plan_error(e: &orders::Error) -> String {
    match e {
        orders::Error::InvalidJson(m) => format!("the order body is not JSON: {m}"),
        orders::Error::LegacyPayload => {
            "a legacy_v3 body: set the webhook's API version to WP REST API v3".into()
        }
        orders::Error::RestError(m) => {
            format!("WooCommerce answered with an error instead of the order: {m}")
        }
        orders::Error::InvalidOrder(m) => format!("the order cannot be posted: {m}"),
        orders::Error::InvalidSettings(m) => format!("the settings are incomplete: {m}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_repeated_failures_and_lets_one_probe_through() {
        let b = Breaker::default();
        let t = 1_000_000;
        for _ in 0..BREAKER_THRESHOLD {
            assert!(b.allow(t));
            b.failure(t);
        }
        assert!(!b.allow(t + 10), "open right after the threshold");
        let reopen = b.open_until();
        assert!(reopen > t);
        assert!(b.allow(reopen), "one probe after the cool-down");
        assert!(!b.allow(reopen + 1), "only one probe at a time");
        b.success();
        assert!(
            b.allow(reopen + 2) && b.allow(reopen + 3),
            "closed again after a success"
        );
    }

    #[test]
    fn a_probe_that_never_reports_does_not_block_the_breaker_forever() {
        // Regression: a probe job that ended without calling X3 (a held order) left the
        // breaker refusing every call.
        let b = Breaker::default();
        let t = 1_000_000;
        for _ in 0..BREAKER_THRESHOLD {
            b.failure(t);
        }
        let reopen = b.open_until();
        assert!(b.allow(reopen));
        assert!(!b.allow(reopen + 1));
        assert!(
            b.allow(reopen + BREAKER_MAX_OPEN_MS),
            "the silent probe expired"
        );
    }
}

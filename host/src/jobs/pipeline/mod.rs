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

use crate::clients::woo::WooClient;
use crate::clients::x3::{LookupRequest, X3Client, X3Error};
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

    /// What a failed X3 call tells the breaker and the status page: a refusal is an answer (X3
    /// is up), a configuration problem is named once, no answer counts towards the breaker.
    fn note_failure(&self, what: &str, e: &X3Error) {
        match e {
            X3Error::Rejected { .. } | X3Error::Refused { .. } | X3Error::Config(_) => {
                // X3 answered; it is not down.
                self.breaker.success();
                Health::record(
                    &self.health.x3,
                    matches!(e, X3Error::Config(_)).then(|| e.to_string()),
                );
            }
            X3Error::Misconfigured { message } => {
                // X3 is up and says what it does not know: the status page and the log name it.
                self.breaker.success();
                Health::record(&self.health.x3, None);
                if self.health.record_x3_config(what, message) {
                    warn!("X3 configuration: {what}: {message}");
                }
            }
            X3Error::Transient { .. } | X3Error::Unknown { .. } | X3Error::Auth { .. } => {
                Health::record(&self.health.x3, Some(e.to_string()));
                self.breaker.failure(now_ms());
            }
        }
    }
}

mod post;
mod stock;
pub use stock::ShipRecord;

/// A copy of what is in force now (settings, status map, mapping): the admin API may swap it
/// while an order is being worked on, and the order finishes with the copy it started with.
pub(crate) fn current<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read().unwrap_or_else(|e| e.into_inner()).clone()
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

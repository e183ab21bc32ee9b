//! The durable state of the host, in one SQLite file (WAL, `synchronous=FULL`: a committed write
//! survives power loss, which is what lets the intake acknowledge a delivery).
//!
//! - `inbox`: every verified delivery, raw, before it is acknowledged; duplicates (same webhook,
//!   resource and `date_modified_gmt`) are recognised by a unique key.
//! - `orders`: the newest known revision of each order and where it stands; it is also the job
//!   queue (`dirty`, `next_attempt_at`), so one order is one job however many deliveries came.
//! - `ledger`: one row per X3 write, keyed by the core's idempotency key. A row is written as an
//!   `intent` before the request goes out; a row that is not `done` means "look X3 up before
//!   trying again". This is what makes posting exactly-once without help from X3.
//! - `customers`: e-mail match key → X3 customer code, so X3 is asked once per customer while
//!   the match is younger than `[master-data] customer-cache-secs`, then again.
//! - `customer_updates`, `woo_customers`: WooCommerce customers' address changes waiting for
//!   X3, and which X3 customer each WooCommerce customer is (`crate::jobs::customer_sync`).
//! - `timeline`: what happened to each order, for the status page and `orders show`.
//! - `counters`, `kv`: rejected deliveries and small settings (the mapping table).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// 2: `orders.body_inbox_id` (a delivered body is stored once, in the inbox).
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    webhook_id TEXT,
    delivery_id TEXT,
    topic TEXT,
    resource TEXT,
    resource_id INTEGER,
    modified_gmt TEXT,
    dedup_key TEXT UNIQUE,
    headers TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY,
    -- The newest body: here when it was fetched from the REST API, else NULL and in the inbox
    -- row `body_inbox_id` (a delivery's body is written once, not twice: ORDER_BODY reads it).
    body BLOB,
    body_inbox_id INTEGER,
    status TEXT,
    modified_gmt TEXT,
    trashed INTEGER NOT NULL DEFAULT 0,
    rev INTEGER NOT NULL DEFAULT 0,
    dirty INTEGER NOT NULL DEFAULT 0,
    refetch INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'new',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    first_failure_at INTEGER,
    last_error TEXT,
    hold TEXT,
    document_no TEXT,
    customer_code TEXT,
    processed_status TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_due ON orders(dirty, next_attempt_at);
CREATE INDEX IF NOT EXISTS orders_state ON orders(state);
CREATE TABLE IF NOT EXISTS ledger (
    idempotency_key TEXT PRIMARY KEY,
    order_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    state TEXT NOT NULL,
    x3_key TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_order ON ledger(order_id);
CREATE TABLE IF NOT EXISTS customers (
    email_key TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS timeline (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_order ON timeline(order_id, id);
-- The status page: orders posted in the last hour, and the delivery each was posted after.
CREATE INDEX IF NOT EXISTS timeline_event_at ON timeline(event, at);
CREATE INDEX IF NOT EXISTS inbox_resource ON inbox(resource_id, received_at);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// A verified delivery to store.
#[derive(Debug, Clone, Default)]
pub struct NewDelivery {
    /// `order`, `deleted`, `customer` (a `customer.updated` to apply to X3), `ping`,
    /// `rest-error`, `other`.
    pub kind: String,
    pub webhook_id: Option<String>,
    pub delivery_id: Option<String>,
    pub topic: Option<String>,
    pub resource: Option<String>,
    pub resource_id: Option<u64>,
    pub modified_gmt: Option<String>,
    /// `None`: not deduplicated (deletions are idempotent anyway).
    pub dedup_key: Option<String>,
    pub headers_json: String,
    pub body: Vec<u8>,
    /// The order status in the body, for `kind = order`.
    pub status: Option<String>,
    /// `restored` clears the trashed flag.
    pub restored: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub order_id: u64,
    pub body: Option<Vec<u8>>,
    pub status: Option<String>,
    pub modified_gmt: Option<String>,
    pub trashed: bool,
    pub rev: i64,
    pub dirty: bool,
    pub refetch: bool,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub first_failure_at: Option<i64>,
    pub last_error: Option<String>,
    pub hold: Option<String>,
    pub document_no: Option<String>,
    pub customer_code: Option<String>,
    pub processed_status: Option<String>,
    pub updated_at: i64,
}

/// What a worker decided for an order.
#[derive(Debug, Clone, Default)]
pub struct Finish {
    pub state: String,
    /// Keep the job queued (a retry), due at `next_attempt_at`.
    pub retry_at: Option<i64>,
    pub last_error: Option<String>,
    pub hold: Option<String>,
    pub document_no: Option<String>,
    pub customer_code: Option<String>,
    pub processed_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub idempotency_key: String,
    pub order_id: u64,
    pub kind: String,
    pub reference: String,
    pub state: String,
    pub x3_key: Option<String>,
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: i64,
    pub event: String,
    pub detail: String,
}

pub struct Store {
    conn: Mutex<Connection>,
    /// Group commit of deliveries ([`Store::insert_delivery`]).
    batch: Mutex<Batch>,
    /// Counter increments not written yet ([`Store::bump_counter`]).
    counters: Mutex<PendingCounters>,
}

/// Counter increments kept in memory: a refused delivery costs no SQLite write, and no wait
/// for the write lock that a group commit holds through its fsync. They are written with the
/// next batch of deliveries, or by the next bump a second after the last write; `counters()`
/// adds what is pending. Counters were already written without their own fsync (a power cut
/// could lose the last ones); now a crash can lose up to a second of them too.
#[derive(Default)]
struct PendingCounters {
    by_name: std::collections::BTreeMap<String, i64>,
    written_at: Option<std::time::Instant>,
}

/// How long pending counter increments wait at most for a write (while more come).
const COUNTER_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);

impl Drop for Store {
    fn drop(&mut self) {
        // Counters still in memory are written before the connection closes.
        let _ = self.flush_counters();
    }
}

fn write_counters(
    conn: &Connection,
    counters: &std::collections::BTreeMap<String, i64>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO counters (name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = value + ?2",
    )?;
    for (name, n) in counters {
        stmt.execute(params![name, n])?;
    }
    Ok(())
}

/// Deliveries waiting for a commit, and whether one is being made.
#[derive(Default)]
struct Batch {
    committing: bool,
    queue: Vec<(NewDelivery, Slot)>,
}

/// Where a delivery's outcome is left for the caller waiting on it.
type Slot = std::sync::Arc<SlotInner>;

struct SlotInner {
    result: Mutex<Option<Result<Inserted, String>>>,
    /// The caller, woken when its result is in or when it is to make the next commit.
    waiter: std::thread::Thread,
}

fn id(v: u64) -> i64 {
    // WooCommerce ids are far below i64::MAX; a larger one was refused by the core already.
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens (creating if needed) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // A read-only data directory makes SQLite say only "unable to open database file".
        // One name per process and call: several processes (serve, the CLI) may open it at once.
        let probe = dir.join(format!(
            ".ml-connector-write-test-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .with_context(|| format!("the data directory {} is not writable", dir.display()))?;
        let path = dir.join("ml-connector.sqlite3");
        let conn =
            Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
        Store::init(conn)
    }

    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Room for every statement the intake, the workers and the status page cache.
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&conn)?;
        conn.execute_batch(X3_SCHEMA)?;
        conn.execute_batch(CUSTOMER_SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
            batch: Mutex::new(Batch::default()),
            counters: Mutex::new(PendingCounters::default()),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn batch(&self) -> MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a delivery durably and applies it to its order; returns once it is committed.
    ///
    /// Group commit: deliveries arriving while a commit is being made wait for it and go
    /// together into the next transaction (one fsync for all, `synchronous=FULL`), each in a
    /// savepoint of its own so that one failing delivery does not fail the others. The first
    /// waiting caller makes the commit; nobody waits for a timer. BENCHMARKS.md (intake).
    pub fn insert_delivery(&self, d: &NewDelivery) -> Result<Inserted> {
        let slot = std::sync::Arc::new(SlotInner {
            result: Mutex::new(None),
            waiter: std::thread::current(),
        });
        let mut batch = self.batch();
        batch.queue.push((d.clone(), std::sync::Arc::clone(&slot)));
        loop {
            if let Some(result) = slot.result.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return result.map_err(|e| anyhow::anyhow!(e));
            }
            if batch.committing {
                // Woken exactly when wanted (a condvar's notify_all woke every waiter at every
                // commit, 30 context switches for one batch at 64 senders). An unpark that
                // comes first makes this return at once; the timeout is only a safety net.
                drop(batch);
                std::thread::park_timeout(std::time::Duration::from_millis(50));
                batch = self.batch();
                continue;
            }
            batch.committing = true;
            let jobs = std::mem::take(&mut batch.queue);
            drop(batch);
            let results = self.insert_batch(jobs.iter().map(|(d, _)| d));
            for (i, (_, slot)) in jobs.iter().enumerate() {
                let r = match &results {
                    Ok(each) => each[i].clone(),
                    Err(e) => Err(format!("{e:#}")),
                };
                *slot.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                slot.waiter.unpark();
            }
            batch = self.batch();
            batch.committing = false;
            // Deliveries that came during this commit: the first of them makes the next one.
            if let Some((_, next)) = batch.queue.first() {
                next.waiter.unpark();
            }
        }
    }

    /// One transaction for several deliveries, a savepoint each.
    fn insert_batch<'a>(
        &self,
        ds: impl Iterator<Item = &'a NewDelivery>,
    ) -> Result<Vec<Result<Inserted, String>>> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let mut out = Vec::new();
        // Pending counters ride along (put back if this transaction fails).
        let counters = self.take_counters();
        if let Err(e) = write_counters(&tx, &counters) {
            self.restore_counters(counters);
            return Err(e);
        }
        for d in ds {
            let mut sp = tx.savepoint()?;
            match insert_one(&sp, d) {
                Ok(i) => {
                    sp.commit()?;
                    out.push(Ok(i));
                }
                Err(e) => {
                    // SQLite rolls the whole transaction back by itself on some errors (disk
                    // full, I/O): then nothing of the batch is stored, whatever came before.
                    if sp.is_autocommit() {
                        self.restore_counters(counters);
                        return Err(e.context("the transaction was rolled back"));
                    }
                    sp.rollback()?;
                    out.push(Err(format!("{e:#}")));
                }
            }
        }
        if let Err(e) = tx.commit() {
            self.restore_counters(counters);
            return Err(e.into());
        }
        Ok(out)
    }

    fn take_counters(&self) -> std::collections::BTreeMap<String, i64> {
        let mut pending = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        pending.written_at = Some(std::time::Instant::now());
        std::mem::take(&mut pending.by_name)
    }

    fn restore_counters(&self, counters: std::collections::BTreeMap<String, i64>) {
        let mut pending = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        for (name, n) in counters {
            *pending.by_name.entry(name).or_insert(0) += n;
        }
    }

    /// Writes pending counter increments now (relaxed: no fsync of their own).
    fn flush_counters(&self) -> Result<()> {
        let counters = self.take_counters();
        if counters.is_empty() {
            return Ok(());
        }
        let written = self.relaxed(|c| write_counters(c, &counters));
        if written.is_err() {
            self.restore_counters(counters);
        }
        written
    }

    /// Applies an order body fetched from the REST API (refetch, catch-up).
    pub fn apply_fetched_order(
        &self,
        order_id: u64,
        body: &[u8],
        status: Option<&str>,
        modified_gmt: Option<&str>,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE orders SET refetch = 0 WHERE order_id = ?1",
            params![id(order_id)],
        )?;
        apply_order_body(
            &tx,
            order_id,
            Body::Fetched(body),
            status,
            modified_gmt,
            false,
            now_ms(),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Counts one event (a refused delivery, a ping). Kept in memory and written within about a
    /// second ([`PendingCounters`]).
    pub fn bump_counter(&self, name: &str) -> Result<()> {
        let due = {
            let mut pending = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            *pending.by_name.entry(name.to_string()).or_insert(0) += 1;
            pending
                .written_at
                .is_none_or(|at| at.elapsed() >= COUNTER_FLUSH)
        };
        if due {
            self.flush_counters()?;
        }
        Ok(())
    }

    /// A write that need not reach the disk before the call returns: counters, the timeline, the
    /// customer cache. It commits with `synchronous=NORMAL`, which in WAL mode skips the fsync;
    /// the next `FULL` commit (an acknowledged delivery, a ledger intent) fsyncs the WAL and so
    /// makes it durable too. A power cut can lose it, never corrupt or reorder it — and nothing
    /// that exactly-once rests on is written this way. One fsync less per call: the store's
    /// commits are serialised, and they were the pipeline's bottleneck (BENCHMARKS.md).
    fn relaxed<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn();
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let r = f(&conn);
        let back = conn.pragma_update(None, "synchronous", "FULL");
        let r = r?;
        back?;
        Ok(r)
    }

    /// Every counter, the pending increments included.
    pub fn counters(&self) -> Result<Vec<(String, i64)>> {
        let mut all: std::collections::BTreeMap<String, i64> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT name, value FROM counters ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let pending = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        for (name, n) in &pending.by_name {
            *all.entry(name.clone()).or_insert(0) += n;
        }
        Ok(all.into_iter().collect())
    }

    pub fn inbox_count(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM inbox", [], |r| r.get(0))?)
    }

    /// Orders whose job is due, oldest first.
    pub fn due_orders(&self, now: i64, limit: usize) -> Result<Vec<u64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT order_id FROM orders WHERE dirty = 1 AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, order_id LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![now, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| r.get::<_, i64>(0),
        )?;
        Ok(rows
            .map(|r| r.map(|v| u64::try_from(v).unwrap_or(0)))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// When the next queued job is due, if any.
    pub fn next_due_at(&self) -> Result<Option<i64>> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_attempt_at) FROM orders WHERE dirty = 1",
            [],
            |r| r.get(0),
        )?)
    }

    pub fn load_order(&self, order_id: u64) -> Result<Option<OrderRow>> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!(
                    "SELECT order_id, {ORDER_BODY}, status, modified_gmt, trashed, rev, dirty,
                        refetch, state, attempts, next_attempt_at, first_failure_at, last_error,
                        hold, document_no, customer_code, processed_status, updated_at
                     FROM orders WHERE order_id = ?1"
                ),
                params![id(order_id)],
                order_row,
            )
            .optional()?;
        Ok(row)
    }

    pub fn orders_in_state(&self, state: &str, limit: usize) -> Result<Vec<OrderRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT order_id, {ORDER_BODY}, status, modified_gmt, trashed, rev, dirty, refetch,
                    state, attempts, next_attempt_at, first_failure_at, last_error, hold,
                    document_no, customer_code, processed_status, updated_at
             FROM orders WHERE state = ?1 ORDER BY updated_at DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(
            params![state, i64::try_from(limit).unwrap_or(i64::MAX)],
            order_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The most recently updated orders, whatever their state (admin API, `orders list`).
    pub fn recent_orders(&self, limit: usize) -> Result<Vec<OrderRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT order_id, {ORDER_BODY}, status, modified_gmt, trashed, rev, dirty, refetch,
                    state, attempts, next_attempt_at, first_failure_at, last_error, hold,
                    document_no, customer_code, processed_status, updated_at
             FROM orders ORDER BY updated_at DESC, order_id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], order_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Counts of orders per state.
    pub fn state_counts(&self) -> Result<Vec<(String, i64)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT state, COUNT(*) FROM orders GROUP BY state ORDER BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records a worker's decision. The job leaves the queue only if no newer revision arrived
    /// while it ran (`rev` unchanged); otherwise it stays dirty and runs again on the new body.
    pub fn finish_order(&self, order_id: u64, rev: i64, f: &Finish) -> Result<()> {
        let conn = self.conn();
        let now = now_ms();
        let (dirty_if_same, next) = match f.retry_at {
            Some(at) => (1, at),
            None => (0, 0),
        };
        conn.execute(
            "UPDATE orders SET
                state = ?3,
                dirty = CASE WHEN rev = ?2 THEN ?4 ELSE 1 END,
                next_attempt_at = CASE WHEN rev = ?2 THEN ?5 ELSE 0 END,
                attempts = CASE WHEN ?6 IS NOT NULL THEN attempts + 1 ELSE 0 END,
                first_failure_at = CASE WHEN ?6 IS NOT NULL THEN COALESCE(first_failure_at, ?9) ELSE NULL END,
                last_error = ?7,
                hold = ?8,
                document_no = COALESCE(?10, document_no),
                customer_code = COALESCE(?11, customer_code),
                processed_status = COALESCE(?12, processed_status),
                updated_at = ?9
             WHERE order_id = ?1",
            params![
                id(order_id),
                rev,
                f.state,
                dirty_if_same,
                next,
                f.retry_at,
                f.last_error,
                f.hold,
                now,
                f.document_no,
                f.customer_code,
                f.processed_status
            ],
        )?;
        Ok(())
    }

    /// Puts orders back in the queue now (replay, hold release). Returns how many.
    pub fn requeue(&self, order_ids: &[u64]) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut n = 0;
        for o in order_ids {
            n += tx.execute(
                "UPDATE orders SET dirty = 1, next_attempt_at = 0, rev = rev + 1, attempts = 0,
                    first_failure_at = NULL WHERE order_id = ?1",
                params![id(*o)],
            )?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Every held order back in the queue (after the mapping changed).
    pub fn requeue_held(&self) -> Result<usize> {
        Ok(self.conn().execute(
            "UPDATE orders SET dirty = 1, next_attempt_at = 0, rev = rev + 1 WHERE state = 'held'",
            [],
        )?)
    }

    // ---- ledger ----

    pub fn ledger_get(&self, key: &str) -> Result<Option<LedgerRow>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT idempotency_key, order_id, kind, reference, state, x3_key, attempts
                 FROM ledger WHERE idempotency_key = ?1",
                params![key],
                ledger_row,
            )
            .optional()?)
    }

    /// Records that a create is about to be sent. Committed (and synced) before the request
    /// leaves, so after a crash the row says "this may have reached X3".
    pub fn ledger_intent(
        &self,
        key: &str,
        order_id: u64,
        kind: &str,
        reference: &str,
    ) -> Result<()> {
        let now = now_ms();
        self.conn().execute(
            "INSERT INTO ledger (idempotency_key, order_id, kind, reference, state, attempts, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'intent', 1, ?5, ?5)
             ON CONFLICT(idempotency_key) DO UPDATE SET
                state = CASE WHEN state = 'done' THEN state ELSE 'intent' END,
                attempts = attempts + 1, updated_at = ?5",
            params![key, id(order_id), kind, reference, now],
        )?;
        Ok(())
    }

    pub fn ledger_done(&self, key: &str, x3_key: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE ledger SET state = 'done', x3_key = ?2, last_error = NULL, updated_at = ?3
             WHERE idempotency_key = ?1",
            params![key, x3_key, now_ms()],
        )?;
        Ok(())
    }

    /// Marks a create whose outcome is unknown, or one that certainly did not happen
    /// (`state = 'failed'`). Either way the next attempt looks X3 up first.
    pub fn ledger_not_done(&self, key: &str, state: &str, error: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE ledger SET state = ?2, last_error = ?3, updated_at = ?4
             WHERE idempotency_key = ?1 AND state <> 'done'",
            params![key, state, error, now_ms()],
        )?;
        Ok(())
    }

    pub fn ledger_for_order(&self, order_id: u64) -> Result<Vec<LedgerRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT idempotency_key, order_id, kind, reference, state, x3_key, attempts
             FROM ledger WHERE order_id = ?1 ORDER BY created_at",
        )?;
        let rows = stmt.query_map(params![id(order_id)], ledger_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- customers ----

    /// The cached X3 code for an e-mail match key, whatever its age.
    pub fn customer_code(&self, email_key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT code FROM customers WHERE email_key = ?1",
                params![email_key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The cached X3 code for an e-mail match key, if it was matched (or confirmed) less than
    /// `max_age_ms` ago. An older match is not trusted: the X3 customer may have been merged,
    /// deleted or given another e-mail in X3 since, so X3 is asked again (which refreshes it).
    pub fn fresh_customer_code(&self, email_key: &str, max_age_ms: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT code FROM customers WHERE email_key = ?1 AND updated_at > ?2",
                params![email_key, now_ms().saturating_sub(max_age_ms)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Drops the cached match of an e-mail that no longer names the customer (it was changed
    /// in WooCommerce and written to X3).
    pub fn forget_customer(&self, email_key: &str) -> Result<()> {
        self.relaxed(|c| {
            c.execute(
                "DELETE FROM customers WHERE email_key = ?1",
                params![email_key],
            )
            .map(drop)
            .map_err(Into::into)
        })
    }

    pub fn remember_customer(&self, email_key: &str, code: &str) -> Result<()> {
        // A cache: losing it costs one lookup in X3.
        self.relaxed(|c| {
            c.execute(
                "INSERT INTO customers (email_key, code, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(email_key) DO UPDATE SET code = ?2, updated_at = ?3",
                params![email_key, code, now_ms()],
            )
            .map(drop)
            .map_err(Into::into)
        })
    }

    // ---- timeline ----

    pub fn timeline_add(&self, order_id: u64, event: &str, detail: &str) -> Result<()> {
        self.relaxed(|c| add_timeline(c, order_id, event, detail))
    }

    pub fn timeline(&self, order_id: u64) -> Result<Vec<TimelineEntry>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT at, event, detail FROM timeline WHERE order_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![id(order_id)], |r| {
            Ok(TimelineEntry {
                at: r.get(0)?,
                event: r.get(1)?,
                detail: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- kv ----

    pub fn kv_get(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM kv WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn kv_set(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }
}

/// What the store holds of an order's latest revision (catch-up compares with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRevision {
    pub modified_gmt: Option<String>,
    pub status: Option<String>,
    pub trashed: bool,
}

impl Store {
    pub fn order_revision(&self, order_id: u64) -> Result<Option<OrderRevision>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT modified_gmt, status, trashed FROM orders WHERE order_id = ?1",
                params![id(order_id)],
                |r| {
                    Ok(OrderRevision {
                        modified_gmt: r.get(0)?,
                        status: r.get(1)?,
                        trashed: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// When the last delivery from one webhook was stored (ms), if ever.
    pub fn last_received_from(&self, webhook_id: &str) -> Result<Option<i64>> {
        Ok(self.conn().query_row(
            "SELECT MAX(received_at) FROM inbox WHERE webhook_id = ?1",
            params![webhook_id],
            |r| r.get(0),
        )?)
    }
}

/// A webhook as the host has seen it: what it delivered and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSeen {
    pub webhook_id: Option<String>,
    pub topic: Option<String>,
    pub deliveries: i64,
    pub last_received_at: i64,
}

/// A delivery of one order, for its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySeen {
    pub received_at: i64,
    pub kind: String,
    pub topic: Option<String>,
    pub webhook_id: Option<String>,
    pub modified_gmt: Option<String>,
}

/// Read-only queries for the status page and `/metrics`.
impl Store {
    /// Answers when a delivery could be stored now (`/healthz`): takes the write lock and lets it
    /// go, writing nothing. A plain read would succeed in WAL mode while writes are blocked.
    pub fn ping(&self) -> Result<()> {
        self.conn().execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
        Ok(())
    }

    /// Orders waiting for a worker, and since when the longest-waiting one has waited (a retried
    /// order counts from its first failure, not its last attempt).
    pub fn queue_depth(&self) -> Result<(i64, Option<i64>)> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*), MIN(COALESCE(first_failure_at, updated_at)) FROM orders WHERE dirty = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// When the last delivery was stored (pings and refused deliveries are not stored).
    pub fn last_delivery_at(&self) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT received_at FROM inbox ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Deliveries per webhook and topic among the last 10,000 (a bounded scan per page view).
    pub fn webhooks_seen(&self) -> Result<Vec<WebhookSeen>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT webhook_id, topic, COUNT(*), MAX(received_at) FROM inbox
             WHERE id > (SELECT COALESCE(MAX(id), 0) FROM inbox) - 10000
             GROUP BY webhook_id, topic ORDER BY MAX(received_at) DESC LIMIT 50",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(WebhookSeen {
                webhook_id: r.get(0)?,
                topic: r.get(1)?,
                deliveries: r.get(2)?,
                last_received_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Orders posted to X3 since `since`: (when, lag in ms from the last delivery of the order
    /// received before that). Adopted documents count: they are in X3 once, by this host.
    pub fn posted_since(&self, since: i64) -> Result<Vec<(i64, Option<i64>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT t.at, t.at - (SELECT MAX(i.received_at) FROM inbox i
                                  WHERE i.kind = 'order' AND i.resource_id = t.order_id
                                    AND i.received_at <= t.at)
             FROM timeline t WHERE t.event IN ('posted', 'adopted') AND t.at >= ?1 ORDER BY t.at",
        )?;
        let rows = stmt.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Orders that have an X3 document.
    pub fn posted_total(&self) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM orders WHERE document_no IS NOT NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// The deliveries that named an order, oldest first.
    pub fn deliveries_of(&self, order_id: u64) -> Result<Vec<DeliverySeen>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT received_at, kind, topic, webhook_id, modified_gmt FROM inbox
             WHERE resource_id = ?1 AND kind IN ('order', 'deleted') ORDER BY id LIMIT 200",
        )?;
        let rows = stmt.query_map(params![id(order_id)], |r| {
            Ok(DeliverySeen {
                received_at: r.get(0)?,
                kind: r.get(1)?,
                topic: r.get(2)?,
                webhook_id: r.get(3)?,
                modified_gmt: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// An order's newest body, wherever it is (`orders.body` or its inbox row).
const ORDER_BODY: &str =
    "COALESCE(body, (SELECT i.body FROM inbox i WHERE i.id = orders.body_inbox_id))";

fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        anyhow::bail!(
            "the data directory was written by a newer ml-connector (schema {version}, this one knows {SCHEMA_VERSION})"
        );
    }
    conn.execute_batch(SCHEMA)?;
    // Schema 1 → 2: every existing order keeps its body in `orders.body`.
    let has_inbox_body = conn
        .prepare("SELECT 1 FROM pragma_table_info('orders') WHERE name = 'body_inbox_id'")?
        .exists([])?;
    if !has_inbox_body {
        conn.execute_batch("ALTER TABLE orders ADD COLUMN body_inbox_id INTEGER")?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Stores one delivery and applies it to its order, inside the caller's transaction.
fn insert_one(tx: &Connection, d: &NewDelivery) -> Result<Inserted> {
    {
        let now = now_ms();
        let inserted = tx.prepare_cached(
            "INSERT OR IGNORE INTO inbox (received_at, kind, webhook_id, delivery_id, topic, resource,
                resource_id, modified_gmt, dedup_key, headers, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
                now,
                d.kind,
                d.webhook_id,
                d.delivery_id,
                d.topic,
                d.resource,
                d.resource_id.map(id),
                d.modified_gmt,
                d.dedup_key,
                d.headers_json,
                d.body
        ])?;
        if inserted == 0 {
            return Ok(Inserted::Duplicate);
        }
        match (d.kind.as_str(), d.resource_id) {
            ("order", Some(order_id)) => apply_order_body(
                tx,
                order_id,
                Body::Inbox(tx.last_insert_rowid(), &d.body),
                d.status.as_deref(),
                d.modified_gmt.as_deref(),
                d.restored,
                now,
            )?,
            ("deleted", Some(order_id)) => {
                tx.execute(
                    "INSERT INTO orders (order_id, trashed, rev, dirty, created_at, updated_at)
                     VALUES (?1, 1, 1, 1, ?2, ?2)
                     ON CONFLICT(order_id) DO UPDATE SET trashed = 1, rev = rev + 1, dirty = 1,
                        next_attempt_at = 0, updated_at = ?2",
                    params![id(order_id), now],
                )?;
                add_timeline(
                    tx,
                    order_id,
                    "trashed",
                    "WooCommerce moved the order to the trash",
                )?;
            }
            ("customer", Some(customer_id)) => apply_customer_revision(
                tx,
                customer_id,
                tx.last_insert_rowid(),
                &d.body,
                d.modified_gmt.as_deref(),
                now,
            )?,
            _ => {}
        }
        Ok(Inserted::New)
    }
}

fn add_timeline(conn: &Connection, order_id: u64, event: &str, detail: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO timeline (order_id, at, event, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id(order_id), now_ms(), event, detail])?;
    Ok(())
}

/// An order body to apply, and where it is stored.
enum Body<'a> {
    /// Delivered: in the inbox row of this id already.
    Inbox(i64, &'a [u8]),
    /// Fetched from the REST API: stored in the orders row.
    Fetched(&'a [u8]),
}

/// A newer body replaces the stored one and queues the order; an older or equal one changes
/// nothing (deliveries arrive late and out of order; `date_modified_gmt` orders them).
fn apply_order_body(
    conn: &Connection,
    order_id: u64,
    body: Body<'_>,
    status: Option<&str>,
    modified_gmt: Option<&str>,
    restored: bool,
    now: i64,
) -> Result<()> {
    let (inbox_id, body) = match body {
        Body::Inbox(i, b) => (Some(i), b),
        Body::Fetched(b) => (None, b),
    };
    // Stored in one place only: the orders row keeps a fetched body, or NULL and the inbox id.
    let own_body = inbox_id.is_none().then_some(body);
    let row: Option<(Option<String>, Option<Vec<u8>>)> = conn
        .prepare_cached(&format!(
            "SELECT modified_gmt, {ORDER_BODY} FROM orders WHERE order_id = ?1"
        ))?
        .query_row(params![id(order_id)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let stored = row.as_ref().map(|(m, _)| m.clone());
    // Regression: a status change in the same second as the previous revision (a checkout paid
    // at once) has the same `date_modified_gmt`; it was dropped and the order never posted. A
    // different body with the same time is a new revision too.
    let same_second_change = |old: &str, new: &str| {
        new == old && row.as_ref().and_then(|(_, b)| b.as_deref()) != Some(body)
    };
    let newer = match (&stored, modified_gmt) {
        (None, _) => true,
        (Some(None), _) => true,
        (Some(Some(_)), None) => false,
        (Some(Some(old)), Some(new)) => new > old.as_str() || same_second_change(old, new),
    };
    let received = || {
        add_timeline(
            conn,
            order_id,
            "received",
            &format!(
                "verified revision {} ({})",
                modified_gmt.unwrap_or("without a date"),
                status.unwrap_or("no status")
            ),
        )
    };
    if stored.is_none() {
        conn.prepare_cached(
            "INSERT INTO orders (order_id, body, body_inbox_id, status, modified_gmt, rev, dirty,
                created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, 1, ?6, ?6)",
        )?
        .execute(params![
            id(order_id),
            own_body,
            inbox_id,
            status,
            modified_gmt,
            now
        ])?;
        received()?;
    } else if newer {
        received()?;
        conn.prepare_cached(
            "UPDATE orders SET body = ?2, body_inbox_id = ?7, status = ?3, modified_gmt = ?4,
                rev = rev + 1, dirty = 1, next_attempt_at = 0,
                trashed = CASE WHEN ?6 THEN 0 ELSE trashed END, updated_at = ?5
             WHERE order_id = ?1",
        )?
        .execute(params![
            id(order_id),
            own_body,
            status,
            modified_gmt,
            now,
            restored,
            inbox_id
        ])?;
    } else if restored {
        conn.execute(
            "UPDATE orders SET trashed = 0, rev = rev + 1, dirty = 1, next_attempt_at = 0, updated_at = ?2
             WHERE order_id = ?1",
            params![id(order_id), now],
        )?;
    }
    Ok(())
}

fn ledger_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok(LedgerRow {
        idempotency_key: r.get(0)?,
        order_id: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
        kind: r.get(2)?,
        reference: r.get(3)?,
        state: r.get(4)?,
        x3_key: r.get(5)?,
        attempts: r.get(6)?,
    })
}

fn order_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrderRow> {
    Ok(OrderRow {
        order_id: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        body: r.get(1)?,
        status: r.get(2)?,
        modified_gmt: r.get(3)?,
        trashed: r.get::<_, i64>(4)? != 0,
        rev: r.get(5)?,
        dirty: r.get::<_, i64>(6)? != 0,
        refetch: r.get::<_, i64>(7)? != 0,
        state: r.get(8)?,
        attempts: r.get(9)?,
        next_attempt_at: r.get(10)?,
        first_failure_at: r.get(11)?,
        last_error: r.get(12)?,
        hold: r.get(13)?,
        document_no: r.get(14)?,
        customer_code: r.get(15)?,
        processed_status: r.get(16)?,
        updated_at: r.get(17)?,
    })
}

// ---- X3 polling (crate::jobs::x3poll) -----------------------------------------------------------------

/// What polling X3 learnt about our orders, one row per WooCommerce order. Apart from `orders`
/// so the poller never touches the job queue; `CREATE … IF NOT EXISTS` keeps it additive.
const X3_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS x3_orders (
    order_id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL,
    documents TEXT NOT NULL DEFAULT '[]',
    order_status INTEGER,
    delivery_status INTEGER,
    invoice_status INTEGER,
    deliveries TEXT NOT NULL DEFAULT '[]',
    invoices TEXT NOT NULL DEFAULT '[]',
    x3_updated TEXT,
    seen_at INTEGER NOT NULL
);
";

/// An order as X3 shows it (X3's own numbers: status 1/2/3 as in `DLVSTA`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct X3OrderState {
    pub order_id: u64,
    /// The `CUSORDREF` it was found by.
    pub reference: String,
    /// Sales documents (`SOHNUM`) carrying the reference.
    pub documents: Vec<String>,
    pub order_status: Option<i64>,
    pub delivery_status: Option<i64>,
    pub invoice_status: Option<i64>,
    pub deliveries: Vec<String>,
    pub invoices: Vec<String>,
    /// X3's newest update stamp seen for it.
    pub x3_updated: Option<String>,
    /// When the poller last wrote this row (ms).
    pub seen_at: i64,
}

fn json_list(text: String) -> Vec<String> {
    serde_json::from_str(&text).unwrap_or_default()
}

impl Store {
    pub fn x3_order(&self, order_id: u64) -> Result<Option<X3OrderState>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT order_id, reference, documents, order_status, delivery_status, invoice_status,
                        deliveries, invoices, x3_updated, seen_at
                 FROM x3_orders WHERE order_id = ?1",
                params![id(order_id)],
                |r| {
                    Ok(X3OrderState {
                        order_id: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                        reference: r.get(1)?,
                        documents: json_list(r.get(2)?),
                        order_status: r.get(3)?,
                        delivery_status: r.get(4)?,
                        invoice_status: r.get(5)?,
                        deliveries: json_list(r.get(6)?),
                        invoices: json_list(r.get(7)?),
                        x3_updated: r.get(8)?,
                        seen_at: r.get(9)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn x3_order_save(&self, s: &X3OrderState) -> Result<()> {
        let list = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        self.conn().execute(
            "INSERT INTO x3_orders (order_id, reference, documents, order_status, delivery_status,
                                    invoice_status, deliveries, invoices, x3_updated, seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(order_id) DO UPDATE SET reference = ?2, documents = ?3, order_status = ?4,
                 delivery_status = ?5, invoice_status = ?6, deliveries = ?7, invoices = ?8,
                 x3_updated = ?9, seen_at = ?10",
            params![
                id(s.order_id),
                s.reference,
                list(&s.documents),
                s.order_status,
                s.delivery_status,
                s.invoice_status,
                list(&s.deliveries),
                list(&s.invoices),
                s.x3_updated,
                s.seen_at
            ],
        )?;
        Ok(())
    }

    /// The order an X3 sales document belongs to: posted by us, or seen by the poller.
    pub fn order_of_document(&self, document_no: &str) -> Result<Option<u64>> {
        let conn = self.conn();
        let posted: Option<i64> = conn
            .query_row(
                "SELECT order_id FROM orders WHERE document_no = ?1",
                params![document_no],
                |r| r.get(0),
            )
            .optional()?;
        let found = match posted {
            Some(v) => Some(v),
            None => conn
                .query_row(
                    "SELECT order_id FROM x3_orders WHERE instr(documents, ?1) > 0",
                    params![serde_json::to_string(document_no)?],
                    |r| r.get(0),
                )
                .optional()?,
        };
        Ok(found.and_then(|v| u64::try_from(v).ok()))
    }
}

// ---- WooCommerce → X3 customers (crate::jobs::customer_sync) ----------------------------------------

/// The customers' address changes waiting for X3, one row per WooCommerce customer (the newest
/// revision wins, like `orders`), and which X3 customer a WooCommerce customer is. Additive:
/// `CREATE … IF NOT EXISTS`, so older data directories gain them on open.
const CUSTOMER_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customer_updates (
    customer_id INTEGER PRIMARY KEY,
    -- The newest revision's body is in this inbox row (stored once).
    body_inbox_id INTEGER NOT NULL,
    modified_gmt TEXT,
    rev INTEGER NOT NULL DEFAULT 1,
    dirty INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'waiting',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    first_failure_at INTEGER,
    last_error TEXT,
    detail TEXT,
    applied_modified_gmt TEXT,
    email_key TEXT,
    x3_code TEXT,
    writes INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS customer_updates_due ON customer_updates(dirty, next_attempt_at);
CREATE TABLE IF NOT EXISTS woo_customers (
    customer_id INTEGER PRIMARY KEY,
    email_key TEXT NOT NULL,
    code TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
";

/// A newer `customer.updated` replaces the queued one and queues the customer; an older or
/// equal one changes nothing: deliveries come late and out of order, and an older address must
/// never overwrite a newer one in X3. Same rule as orders (`apply_order_body`), same-second
/// changes included.
fn apply_customer_revision(
    conn: &Connection,
    customer_id: u64,
    inbox_id: i64,
    body: &[u8],
    modified_gmt: Option<&str>,
    now: i64,
) -> Result<()> {
    let row: Option<(Option<String>, Option<Vec<u8>>)> = conn
        .prepare_cached(
            "SELECT c.modified_gmt, i.body FROM customer_updates c
             LEFT JOIN inbox i ON i.id = c.body_inbox_id WHERE c.customer_id = ?1",
        )?
        .query_row(params![id(customer_id)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((stored, stored_body)) = row else {
        conn.prepare_cached(
            "INSERT INTO customer_updates (customer_id, body_inbox_id, modified_gmt, created_at,
                updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        )?
        .execute(params![id(customer_id), inbox_id, modified_gmt, now])?;
        return Ok(());
    };
    let newer = match (stored.as_deref(), modified_gmt) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(old), Some(new)) => new > old || (new == old && stored_body.as_deref() != Some(body)),
    };
    if newer {
        conn.prepare_cached(
            "UPDATE customer_updates SET body_inbox_id = ?2, modified_gmt = ?3, rev = rev + 1,
                dirty = 1, next_attempt_at = 0, state = 'waiting', updated_at = ?4
             WHERE customer_id = ?1",
        )?
        .execute(params![id(customer_id), inbox_id, modified_gmt, now])?;
    }
    Ok(())
}

/// One WooCommerce customer's address change as the worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerUpdateRow {
    pub customer_id: u64,
    /// The newest revision's body (`customer.updated` payload).
    pub body: Option<Vec<u8>>,
    pub modified_gmt: Option<String>,
    pub rev: i64,
    pub dirty: bool,
    /// `waiting`, `retrying`, `updated` (written to X3), `unchanged` (X3 had it already),
    /// `unknown` (no X3 customer to update), `attention`, `failed`.
    pub state: String,
    pub attempts: i64,
    pub first_failure_at: Option<i64>,
    pub last_error: Option<String>,
    /// What was done, in words.
    pub detail: Option<String>,
    /// The revision last written to X3 or found there already.
    pub applied_modified_gmt: Option<String>,
    /// The e-mail match key of the last revision handled.
    pub email_key: Option<String>,
    /// The X3 customer it was matched to.
    pub x3_code: Option<String>,
    /// X3 writes made for this customer.
    pub writes: i64,
    pub updated_at: i64,
}

/// What the worker decided for a customer's revision.
#[derive(Debug, Clone, Default)]
pub struct CustomerFinish {
    pub state: String,
    /// Keep it queued (a retry), due then.
    pub retry_at: Option<i64>,
    pub last_error: Option<String>,
    pub detail: Option<String>,
    /// Set when this revision is now what X3 has.
    pub applied_modified_gmt: Option<String>,
    pub email_key: Option<String>,
    pub x3_code: Option<String>,
    /// An X3 write was made.
    pub wrote: bool,
}

fn customer_update_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CustomerUpdateRow> {
    Ok(CustomerUpdateRow {
        customer_id: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        body: r.get(1)?,
        modified_gmt: r.get(2)?,
        rev: r.get(3)?,
        dirty: r.get::<_, i64>(4)? != 0,
        state: r.get(5)?,
        attempts: r.get(6)?,
        first_failure_at: r.get(7)?,
        last_error: r.get(8)?,
        detail: r.get(9)?,
        applied_modified_gmt: r.get(10)?,
        email_key: r.get(11)?,
        x3_code: r.get(12)?,
        writes: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

const CUSTOMER_UPDATE_COLUMNS: &str = "c.customer_id, i.body, c.modified_gmt, c.rev, c.dirty,
    c.state, c.attempts, c.first_failure_at, c.last_error, c.detail, c.applied_modified_gmt,
    c.email_key, c.x3_code, c.writes, c.updated_at
    FROM customer_updates c LEFT JOIN inbox i ON i.id = c.body_inbox_id";

impl Store {
    /// Customers whose address change is due, oldest first.
    pub fn due_customer_updates(&self, now: i64, limit: usize) -> Result<Vec<u64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT customer_id FROM customer_updates WHERE dirty = 1 AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, customer_id LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![now, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| r.get::<_, i64>(0),
        )?;
        Ok(rows
            .map(|r| r.map(|v| u64::try_from(v).unwrap_or(0)))
            .collect::<rusqlite::Result<_>>()?)
    }

    pub fn load_customer_update(&self, customer_id: u64) -> Result<Option<CustomerUpdateRow>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {CUSTOMER_UPDATE_COLUMNS} WHERE c.customer_id = ?1"),
                params![id(customer_id)],
                customer_update_row,
            )
            .optional()?)
    }

    /// The most recently handled customers, newest first (status page).
    pub fn recent_customer_updates(&self, limit: usize) -> Result<Vec<CustomerUpdateRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {CUSTOMER_UPDATE_COLUMNS} ORDER BY c.updated_at DESC, c.customer_id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map(
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
            customer_update_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Customers per state, and how many are queued (`dirty`, whatever their state).
    pub fn customer_update_counts(&self) -> Result<(Vec<(String, i64)>, i64)> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT state, COUNT(*) FROM customer_updates GROUP BY state ORDER BY state",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let by_state = rows.collect::<rusqlite::Result<_>>()?;
        let queued = conn.query_row(
            "SELECT COUNT(*) FROM customer_updates WHERE dirty = 1",
            [],
            |r| r.get(0),
        )?;
        Ok((by_state, queued))
    }

    /// Records the worker's decision. The job leaves the queue only if no newer revision came
    /// while it ran (`rev` unchanged), as `finish_order` does.
    pub fn finish_customer_update(
        &self,
        customer_id: u64,
        rev: i64,
        f: &CustomerFinish,
    ) -> Result<()> {
        let now = now_ms();
        let (dirty_if_same, next) = match f.retry_at {
            Some(at) => (1, at),
            None => (0, 0),
        };
        self.conn().execute(
            "UPDATE customer_updates SET
                state = CASE WHEN rev = ?2 THEN ?3 ELSE 'waiting' END,
                dirty = CASE WHEN rev = ?2 THEN ?4 ELSE 1 END,
                next_attempt_at = CASE WHEN rev = ?2 THEN ?5 ELSE 0 END,
                attempts = CASE WHEN ?6 IS NOT NULL THEN attempts + 1 ELSE 0 END,
                first_failure_at = CASE WHEN ?6 IS NOT NULL THEN COALESCE(first_failure_at, ?9) ELSE NULL END,
                last_error = ?7,
                detail = COALESCE(?8, detail),
                applied_modified_gmt = COALESCE(?10, applied_modified_gmt),
                email_key = COALESCE(?11, email_key),
                x3_code = COALESCE(?12, x3_code),
                writes = writes + ?13,
                updated_at = ?9
             WHERE customer_id = ?1",
            params![
                id(customer_id),
                rev,
                f.state,
                dirty_if_same,
                next,
                f.retry_at,
                f.last_error,
                f.detail,
                now,
                f.applied_modified_gmt,
                f.email_key,
                f.x3_code,
                i64::from(f.wrote)
            ],
        )?;
        Ok(())
    }

    /// The X3 customer a WooCommerce customer was last posted or updated as: (e-mail key, code).
    pub fn woo_customer(&self, customer_id: u64) -> Result<Option<(String, String)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT email_key, code FROM woo_customers WHERE customer_id = ?1",
                params![id(customer_id)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Remembers which X3 customer a WooCommerce customer is. A hint, like the e-mail cache:
    /// the record is read from X3 before it is used, and losing it costs a lookup by e-mail.
    pub fn link_woo_customer(&self, customer_id: u64, email_key: &str, code: &str) -> Result<()> {
        self.relaxed(|c| {
            c.execute(
                "INSERT INTO woo_customers (customer_id, email_key, code, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(customer_id) DO UPDATE SET email_key = ?2, code = ?3, updated_at = ?4",
                params![id(customer_id), email_key, code, now_ms()],
            )
            .map(drop)
            .map_err(Into::into)
        })
    }

    /// Forgets a link whose X3 customer is gone.
    pub fn unlink_woo_customer(&self, customer_id: u64) -> Result<()> {
        self.relaxed(|c| {
            c.execute(
                "DELETE FROM woo_customers WHERE customer_id = ?1",
                params![id(customer_id)],
            )
            .map(drop)
            .map_err(Into::into)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn order_delivery(order: u64, modified: &str, status: &str, webhook: &str) -> NewDelivery {
        NewDelivery {
            kind: "order".into(),
            webhook_id: Some(webhook.into()),
            topic: Some("order.updated".into()),
            resource: Some("order".into()),
            resource_id: Some(order),
            modified_gmt: Some(modified.into()),
            dedup_key: Some(format!("{webhook}/order/{order}/{modified}")),
            headers_json: "{}".into(),
            body: format!("{{\"id\":{order},\"status\":\"{status}\"}}").into_bytes(),
            status: Some(status.into()),
            ..NewDelivery::default()
        }
    }

    #[test]
    fn migrations_apply_twice_and_refuse_a_newer_schema() {
        let dir = std::env::temp_dir().join(format!("mlc-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).unwrap();
        s.insert_delivery(&order_delivery(1, "2026-01-01T00:00:00", "processing", "7"))
            .unwrap();
        drop(s);
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.inbox_count().unwrap(), 1, "reopening keeps the data");
        s.conn().pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        let err = Store::open(&dir).err().unwrap().to_string();
        assert!(err.contains("newer ml-connector"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_delivered_body_is_stored_once_and_read_back_from_the_inbox() {
        let s = Store::open_in_memory().unwrap();
        let d = order_delivery(21, "2026-11-27T10:00:00", "processing", "7");
        s.insert_delivery(&d).unwrap();
        let in_orders: Option<Vec<u8>> = s
            .conn()
            .query_row("SELECT body FROM orders WHERE order_id = 21", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(in_orders, None, "the body is in the inbox only");
        assert_eq!(
            s.load_order(21).unwrap().unwrap().body,
            Some(d.body.clone())
        );
        assert_eq!(s.recent_orders(5).unwrap()[0].body, Some(d.body));
        // A body fetched from the REST API has no inbox row: it is kept in the order.
        let fetched = br#"{"id":21,"status":"completed"}"#;
        s.apply_fetched_order(21, fetched, Some("completed"), Some("2026-11-27T11:00:00"))
            .unwrap();
        assert_eq!(
            s.load_order(21).unwrap().unwrap().body.as_deref(),
            Some(&fetched[..])
        );
        // And a newer delivery after it points at its inbox row again.
        let newer = order_delivery(21, "2026-11-27T12:00:00", "delivered", "7");
        s.insert_delivery(&newer).unwrap();
        assert_eq!(s.load_order(21).unwrap().unwrap().body, Some(newer.body));
    }

    #[test]
    fn a_schema_1_database_keeps_its_order_bodies() {
        let dir = std::env::temp_dir().join(format!("mlc-store-v1-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).unwrap();
        let d = order_delivery(4, "2026-11-27T10:00:00", "processing", "7");
        s.insert_delivery(&d).unwrap();
        // What schema 1 looked like: the body in the orders row, no body_inbox_id.
        s.conn()
            .execute_batch(
                "UPDATE orders SET body = (SELECT body FROM inbox WHERE id = body_inbox_id);
                 ALTER TABLE orders DROP COLUMN body_inbox_id;
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        drop(s);
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.load_order(4).unwrap().unwrap().body, Some(d.body));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn duplicate_deliveries_are_recognised_and_change_nothing() {
        let s = Store::open_in_memory().unwrap();
        let d = order_delivery(39, "2026-11-27T08:59:07", "processing", "15");
        assert_eq!(s.insert_delivery(&d).unwrap(), Inserted::New);
        let rev = s.load_order(39).unwrap().unwrap().rev;
        assert_eq!(s.insert_delivery(&d).unwrap(), Inserted::Duplicate);
        assert_eq!(s.inbox_count().unwrap(), 1);
        assert_eq!(s.load_order(39).unwrap().unwrap().rev, rev);
        // The same revision from another webhook (order.created + order.updated) is stored but
        // does not queue the order again.
        s.finish_order(
            39,
            rev,
            &Finish {
                state: "posted".into(),
                ..Finish::default()
            },
        )
        .unwrap();
        assert_eq!(
            s.insert_delivery(&order_delivery(
                39,
                "2026-11-27T08:59:07",
                "processing",
                "16"
            ))
            .unwrap(),
            Inserted::New
        );
        let o = s.load_order(39).unwrap().unwrap();
        assert!(!o.dirty);
        assert_eq!(o.rev, rev);
    }

    #[test]
    fn older_revisions_never_replace_newer_ones() {
        let s = Store::open_in_memory().unwrap();
        s.insert_delivery(&order_delivery(5, "2026-11-27T10:00:00", "completed", "1"))
            .unwrap();
        s.insert_delivery(&order_delivery(5, "2026-11-27T09:00:00", "processing", "1"))
            .unwrap();
        let o = s.load_order(5).unwrap().unwrap();
        assert_eq!(o.status.as_deref(), Some("completed"));
        assert_eq!(o.rev, 1);
        s.insert_delivery(&order_delivery(5, "2026-11-27T11:00:00", "delivered", "1"))
            .unwrap();
        let o = s.load_order(5).unwrap().unwrap();
        assert_eq!((o.status.as_deref(), o.rev), (Some("delivered"), 2));
    }

    #[test]
    fn a_status_change_in_the_same_second_is_a_new_revision() {
        let s = Store::open_in_memory().unwrap();
        s.insert_delivery(&order_delivery(12, "2026-11-27T10:00:00", "pending", "1"))
            .unwrap();
        let mut paid = order_delivery(12, "2026-11-27T10:00:00", "processing", "1");
        paid.dedup_key = Some("1/order/12/2026-11-27T10:00:00/paid".into());
        s.insert_delivery(&paid).unwrap();
        let o = s.load_order(12).unwrap().unwrap();
        assert_eq!((o.status.as_deref(), o.rev), (Some("processing"), 2));
    }

    #[test]
    fn a_revision_arriving_during_a_job_keeps_the_order_queued() {
        let s = Store::open_in_memory().unwrap();
        s.insert_delivery(&order_delivery(8, "2026-11-27T10:00:00", "processing", "1"))
            .unwrap();
        let seen = s.load_order(8).unwrap().unwrap();
        s.insert_delivery(&order_delivery(8, "2026-11-27T10:05:00", "completed", "1"))
            .unwrap();
        s.finish_order(
            8,
            seen.rev,
            &Finish {
                state: "posted".into(),
                ..Finish::default()
            },
        )
        .unwrap();
        let o = s.load_order(8).unwrap().unwrap();
        assert!(o.dirty, "the newer revision still needs processing");
        assert_eq!(s.due_orders(now_ms(), 10).unwrap(), vec![8]);
        s.finish_order(
            8,
            o.rev,
            &Finish {
                state: "posted".into(),
                ..Finish::default()
            },
        )
        .unwrap();
        assert!(s.due_orders(now_ms(), 10).unwrap().is_empty());
    }

    #[test]
    fn retries_wait_until_due_and_count_attempts() {
        let s = Store::open_in_memory().unwrap();
        s.insert_delivery(&order_delivery(9, "2026-11-27T10:00:00", "processing", "1"))
            .unwrap();
        let o = s.load_order(9).unwrap().unwrap();
        let later = now_ms() + 60_000;
        s.finish_order(
            9,
            o.rev,
            &Finish {
                state: "retrying".into(),
                retry_at: Some(later),
                last_error: Some("X3 down".into()),
                ..Finish::default()
            },
        )
        .unwrap();
        assert!(s.due_orders(now_ms(), 10).unwrap().is_empty());
        assert_eq!(s.due_orders(later, 10).unwrap(), vec![9]);
        let o = s.load_order(9).unwrap().unwrap();
        assert_eq!((o.attempts, o.last_error.as_deref()), (1, Some("X3 down")));
        assert!(o.first_failure_at.is_some());
        assert_eq!(s.next_due_at().unwrap(), Some(later));
    }

    #[test]
    fn deletions_mark_the_order_trashed_and_restores_clear_it() {
        let s = Store::open_in_memory().unwrap();
        s.insert_delivery(&order_delivery(3, "2026-11-27T10:00:00", "processing", "1"))
            .unwrap();
        let del = NewDelivery {
            kind: "deleted".into(),
            resource_id: Some(3),
            headers_json: "{}".into(),
            body: b"{\"id\":3}".to_vec(),
            ..NewDelivery::default()
        };
        s.insert_delivery(&del).unwrap();
        s.insert_delivery(&del).unwrap();
        assert!(s.load_order(3).unwrap().unwrap().trashed);
        let mut restore = order_delivery(3, "2026-11-27T10:00:00", "processing", "2");
        restore.restored = true;
        s.insert_delivery(&restore).unwrap();
        assert!(!s.load_order(3).unwrap().unwrap().trashed);
    }

    #[test]
    fn ledger_intent_then_done_survives_and_never_regresses() {
        let s = Store::open_in_memory().unwrap();
        s.ledger_intent("s/order/1/document", 1, "document", "WC-1")
            .unwrap();
        assert_eq!(
            s.ledger_get("s/order/1/document").unwrap().unwrap().state,
            "intent"
        );
        s.ledger_not_done("s/order/1/document", "unknown", "timeout")
            .unwrap();
        s.ledger_intent("s/order/1/document", 1, "document", "WC-1")
            .unwrap();
        s.ledger_done("s/order/1/document", "SOH001").unwrap();
        s.ledger_not_done("s/order/1/document", "unknown", "late")
            .unwrap();
        s.ledger_intent("s/order/1/document", 1, "document", "WC-1")
            .unwrap();
        let row = s.ledger_get("s/order/1/document").unwrap().unwrap();
        assert_eq!(
            (row.state.as_str(), row.x3_key.as_deref(), row.attempts),
            ("done", Some("SOH001"), 3)
        );
    }

    #[test]
    fn concurrent_deliveries_are_committed_together_and_each_once() {
        let dir = std::env::temp_dir().join(format!("mlc-store-batch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = std::sync::Arc::new(Store::open(&dir).unwrap());
        // 16 threads, 50 deliveries each; every delivery is sent twice.
        let threads: Vec<_> = (0..16u64)
            .map(|t| {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || {
                    let mut seen = (0, 0);
                    for i in 0..50u64 {
                        let mut d =
                            order_delivery(t * 100 + i, "2026-01-01T00:00:00", "processing", "7");
                        d.dedup_key = Some(format!("7/order/{}/updated/x", t * 100 + i));
                        for _ in 0..2 {
                            match s.insert_delivery(&d).unwrap() {
                                Inserted::New => seen.0 += 1,
                                Inserted::Duplicate => seen.1 += 1,
                            }
                        }
                    }
                    seen
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), (50, 50));
        }
        assert_eq!(s.inbox_count().unwrap(), 800);
        drop(s);
        // Durable: a fresh connection sees every order.
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.inbox_count().unwrap(), 800);
        assert!(s.load_order(1549).unwrap().is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn customer_delivery(customer: u64, modified: &str, city: &str) -> NewDelivery {
        NewDelivery {
            kind: "customer".into(),
            webhook_id: Some("21".into()),
            topic: Some("customer.updated".into()),
            resource: Some("customer".into()),
            resource_id: Some(customer),
            modified_gmt: Some(modified.into()),
            dedup_key: Some(format!("21/customer/{customer}/updated/{modified}/{city}")),
            headers_json: "{}".into(),
            body: format!(
                "{{\"id\":{customer},\"date_modified_gmt\":\"{modified}\",\"billing\":{{\"city\":\"{city}\"}}}}"
            )
            .into_bytes(),
            ..NewDelivery::default()
        }
    }

    #[test]
    fn a_cached_customer_match_older_than_the_limit_is_not_trusted_until_refreshed() {
        let s = Store::open_in_memory().unwrap();
        s.remember_customer("anna@example.com", "WANNA").unwrap();
        let day = 86_400_000;
        assert_eq!(
            s.fresh_customer_code("anna@example.com", day).unwrap(),
            Some("WANNA".into())
        );
        // Matched two days ago: X3 is asked again.
        s.conn()
            .execute(
                "UPDATE customers SET updated_at = ?1",
                params![now_ms() - 2 * day],
            )
            .unwrap();
        assert_eq!(
            s.fresh_customer_code("anna@example.com", day).unwrap(),
            None
        );
        assert_eq!(
            s.customer_code("anna@example.com").unwrap(),
            Some("WANNA".into()),
            "still there, only not trusted"
        );
        // X3 answered again: the entry is refreshed.
        s.remember_customer("anna@example.com", "WANNA").unwrap();
        assert_eq!(
            s.fresh_customer_code("anna@example.com", day).unwrap(),
            Some("WANNA".into())
        );
        s.forget_customer("anna@example.com").unwrap();
        assert_eq!(s.customer_code("anna@example.com").unwrap(), None);
    }

    #[test]
    fn customer_revisions_queue_the_newest_and_an_older_one_changes_nothing() {
        let s = Store::open_in_memory().unwrap();
        let newer = customer_delivery(7, "2026-11-27T10:00:00", "Lyon");
        s.insert_delivery(&newer).unwrap();
        let row = s.load_customer_update(7).unwrap().unwrap();
        assert_eq!(
            (row.rev, row.dirty, row.state.as_str()),
            (1, true, "waiting")
        );
        assert_eq!(row.body, Some(newer.body.clone()));
        s.finish_customer_update(
            7,
            row.rev,
            &CustomerFinish {
                state: "updated".into(),
                applied_modified_gmt: Some("2026-11-27T10:00:00".into()),
                x3_code: Some("WANNA".into()),
                wrote: true,
                ..CustomerFinish::default()
            },
        )
        .unwrap();
        // A late delivery of an older revision: stored in the inbox, never queued.
        let older = customer_delivery(7, "2026-11-27T09:00:00", "Paris");
        assert_eq!(s.insert_delivery(&older).unwrap(), Inserted::New);
        let row = s.load_customer_update(7).unwrap().unwrap();
        assert!(!row.dirty);
        assert_eq!(row.body, Some(newer.body.clone()), "the newer body stays");
        assert_eq!(
            (row.state.as_str(), row.writes, row.x3_code.as_deref()),
            ("updated", 1, Some("WANNA"))
        );
        // The same delivery again is a duplicate; a newer one queues the customer again.
        assert_eq!(s.insert_delivery(&newer).unwrap(), Inserted::Duplicate);
        s.insert_delivery(&customer_delivery(7, "2026-11-27T11:00:00", "Nice"))
            .unwrap();
        let row = s.load_customer_update(7).unwrap().unwrap();
        assert_eq!((row.rev, row.dirty), (2, true));
        assert_eq!(s.due_customer_updates(now_ms(), 10).unwrap(), vec![7]);
        assert_eq!(
            row.applied_modified_gmt.as_deref(),
            Some("2026-11-27T10:00:00")
        );
    }

    #[test]
    fn a_customer_revision_arriving_during_its_job_keeps_it_queued() {
        let s = Store::open_in_memory().unwrap();
        s.insert_delivery(&customer_delivery(8, "2026-11-27T10:00:00", "Lyon"))
            .unwrap();
        let seen = s.load_customer_update(8).unwrap().unwrap();
        s.insert_delivery(&customer_delivery(8, "2026-11-27T10:05:00", "Nice"))
            .unwrap();
        s.finish_customer_update(
            8,
            seen.rev,
            &CustomerFinish {
                state: "updated".into(),
                applied_modified_gmt: seen.modified_gmt.clone(),
                ..CustomerFinish::default()
            },
        )
        .unwrap();
        let row = s.load_customer_update(8).unwrap().unwrap();
        assert!(row.dirty, "the newer revision still needs X3");
        assert_eq!(row.state, "waiting");
        assert_eq!(
            row.applied_modified_gmt.as_deref(),
            Some("2026-11-27T10:00:00")
        );
        // A retry waits until due and counts attempts.
        let later = now_ms() + 60_000;
        s.finish_customer_update(
            8,
            row.rev,
            &CustomerFinish {
                state: "retrying".into(),
                retry_at: Some(later),
                last_error: Some("X3 down".into()),
                ..CustomerFinish::default()
            },
        )
        .unwrap();
        assert!(s.due_customer_updates(now_ms(), 10).unwrap().is_empty());
        assert_eq!(s.due_customer_updates(later, 10).unwrap(), vec![8]);
        let (by_state, queued) = s.customer_update_counts().unwrap();
        assert_eq!((by_state, queued), (vec![("retrying".to_string(), 1)], 1));
    }

    #[test]
    fn a_woo_customer_is_linked_to_its_x3_customer_until_unlinked() {
        let s = Store::open_in_memory().unwrap();
        assert_eq!(s.woo_customer(5).unwrap(), None);
        s.link_woo_customer(5, "anna@example.com", "WANNA").unwrap();
        s.link_woo_customer(5, "anna@new.example", "WANNA").unwrap();
        assert_eq!(
            s.woo_customer(5).unwrap(),
            Some(("anna@new.example".into(), "WANNA".into()))
        );
        s.unlink_woo_customer(5).unwrap();
        assert_eq!(s.woo_customer(5).unwrap(), None);
    }
}

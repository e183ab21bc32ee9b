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

mod customers;
mod inbox;
mod ledger;
mod orders;
mod x3_orders;

pub use customers::*;
pub use inbox::*;
pub use ledger::*;
pub use orders::*;
pub use x3_orders::*;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// 2: `orders.body_inbox_id` (a delivered body is stored once, in the inbox).
/// 3: `inbox.status`, `inbox.applied` (a delivery's receipt on the timeline is its inbox row).
const SCHEMA_VERSION: i64 = 3;

// inbox.status, inbox.applied: an order delivery's status, and whether it was applied (1) or
// older than the stored revision (0); the order's timeline shows the receipt from here. NULL
// before schema 3, whose receipts are timeline rows. (No comment inside a CREATE TABLE: SQLite's
// DROP COLUMN rewrites the statement and fails on one after the last column.)
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
    body BLOB NOT NULL,
    status TEXT,
    applied INTEGER
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

/// Read-only queries for the status page and `/metrics`.
impl Store {
    /// Answers when a delivery could be stored now (`/healthz`): takes the write lock and lets it
    /// go, writing nothing. A plain read would succeed in WAL mode while writes are blocked.
    pub fn ping(&self) -> Result<()> {
        self.conn().execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
        Ok(())
    }
}

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
    // Schema 2 → 3: deliveries stored before keep their receipts in the timeline table.
    let has_applied = conn
        .prepare("SELECT 1 FROM pragma_table_info('inbox') WHERE name = 'applied'")?
        .exists([])?;
    if !has_applied {
        conn.execute_batch(
            "ALTER TABLE inbox ADD COLUMN status TEXT; ALTER TABLE inbox ADD COLUMN applied INTEGER;",
        )?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
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
    fn order_states_round_trip_by_name_and_an_unknown_name_is_an_error() {
        let names: std::collections::BTreeSet<&str> =
            OrderState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names.len(), OrderState::ALL.len(), "one name each");
        for s in OrderState::ALL {
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderState::parse("Posted"), None);
        let conn = Connection::open_in_memory().unwrap();
        let read: rusqlite::Result<OrderState> = conn.query_row("SELECT 'sent'", [], |r| r.get(0));
        assert!(read.is_err(), "{read:?}");
        let read: OrderState = conn.query_row("SELECT 'held'", [], |r| r.get(0)).unwrap();
        assert_eq!(read, OrderState::Held);
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
    fn each_stored_delivery_is_on_the_timeline_once_in_time_order() {
        let s = Store::open_in_memory().unwrap();
        let first = order_delivery(8, "2026-11-27T10:00:00", "pending", "7");
        // Distinct milliseconds: at the same one, a receipt is shown before an event.
        let tick = || std::thread::sleep(std::time::Duration::from_millis(3));
        s.insert_delivery(&first).unwrap();
        tick();
        s.timeline_add(8, "posted", "SOH0001").unwrap();
        tick();
        // A duplicate is not stored, so not shown again; an older revision is, and says so.
        s.insert_delivery(&first).unwrap();
        s.insert_delivery(&order_delivery(8, "2026-11-27T12:00:00", "processing", "7"))
            .unwrap();
        s.insert_delivery(&order_delivery(8, "2026-11-27T11:00:00", "on-hold", "7"))
            .unwrap();
        // Another order's delivery stays on its own timeline.
        s.insert_delivery(&order_delivery(9, "2026-11-27T10:00:00", "pending", "7"))
            .unwrap();
        let t = s.timeline(8).unwrap();
        let shown: Vec<(&str, &str)> = t
            .iter()
            .map(|e| (e.event.as_str(), e.detail.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "received",
                    "verified revision 2026-11-27T10:00:00 (pending)"
                ),
                ("posted", "SOH0001"),
                (
                    "received",
                    "verified revision 2026-11-27T12:00:00 (processing)"
                ),
                (
                    "received",
                    "verified revision 2026-11-27T11:00:00 (on-hold): not newer than the stored \
                     revision, kept and not applied"
                ),
            ]
        );
        assert!(t.windows(2).all(|w| w[0].at <= w[1].at), "{t:?}");
        // A revision fetched from the REST API has no inbox row: a timeline row of its own.
        s.apply_fetched_order(
            8,
            br#"{"id":8}"#,
            Some("completed"),
            Some("2026-11-27T13:00:00"),
        )
        .unwrap();
        let t = s.timeline(8).unwrap();
        assert_eq!(
            t.last().map(|e| e.detail.as_str()),
            Some("verified revision 2026-11-27T13:00:00 (completed)")
        );
        assert_eq!(s.timeline(9).unwrap().len(), 1);
    }

    #[test]
    fn a_schema_2_database_keeps_its_receipts_once() {
        let dir = std::env::temp_dir().join(format!("mlc-store-v2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).unwrap();
        s.insert_delivery(&order_delivery(4, "2026-11-27T10:00:00", "processing", "7"))
            .unwrap();
        // What schema 2 looked like: the receipt a timeline row, no status or applied columns.
        s.conn()
            .execute_batch(
                "INSERT INTO timeline (order_id, at, event, detail)
                   VALUES (4, 1, 'received', 'verified revision 2026-11-27T10:00:00 (processing)');
                 ALTER TABLE inbox DROP COLUMN status;
                 ALTER TABLE inbox DROP COLUMN applied;
                 PRAGMA user_version = 2;",
            )
            .unwrap();
        drop(s);
        let s = Store::open(&dir).unwrap();
        s.insert_delivery(&order_delivery(4, "2026-11-27T11:00:00", "completed", "7"))
            .unwrap();
        let details: Vec<String> = s
            .timeline(4)
            .unwrap()
            .into_iter()
            .map(|e| e.detail)
            .collect();
        assert_eq!(
            details,
            [
                "verified revision 2026-11-27T10:00:00 (processing)",
                "verified revision 2026-11-27T11:00:00 (completed)"
            ]
        );
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
                state: OrderState::Posted,
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
                state: OrderState::Posted,
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
                state: OrderState::Posted,
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
                state: OrderState::Retrying,
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

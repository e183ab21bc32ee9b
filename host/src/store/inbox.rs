//! The inbox: every verified delivery, stored raw with a group commit before it is acknowledged,
//! and what the status page reads back about deliveries.

use super::*;

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

/// Deliveries waiting for a commit, and whether one is being made.
#[derive(Default)]
pub(super) struct Batch {
    committing: bool,
    queue: Vec<(NewDelivery, Slot)>,
}

/// Where a delivery's outcome is left for the caller waiting on it.
pub(super) type Slot = std::sync::Arc<SlotInner>;

pub(super) struct SlotInner {
    result: Mutex<Option<Result<Inserted, String>>>,
    /// The caller, woken when its result is in or when it is to make the next commit.
    waiter: std::thread::Thread,
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

/// Stores one delivery and applies it to its order, inside the caller's transaction.
pub(super) fn insert_one(tx: &Connection, d: &NewDelivery) -> Result<Inserted> {
    {
        let now = now_ms();
        let inserted = tx.prepare_cached(
            "INSERT OR IGNORE INTO inbox (received_at, kind, webhook_id, delivery_id, topic, resource,
                resource_id, modified_gmt, dedup_key, headers, body, status, applied)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
                d.body,
                d.status,
                (d.kind == "order").then_some(true)
        ])?;
        if inserted == 0 {
            return Ok(Inserted::Duplicate);
        }
        match (d.kind.as_str(), d.resource_id) {
            ("order", Some(order_id)) => {
                let row = tx.last_insert_rowid();
                let applied = apply_order_body(
                    tx,
                    order_id,
                    Body::Inbox(row, &d.body),
                    d.status.as_deref(),
                    d.modified_gmt.as_deref(),
                    d.restored,
                    now,
                )?;
                if !applied {
                    // Rare (a revision older than the stored one): the timeline says so.
                    tx.prepare_cached("UPDATE inbox SET applied = 0 WHERE id = ?1")?
                        .execute(params![row])?;
                }
            }
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

impl Store {
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

    pub fn inbox_count(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM inbox", [], |r| r.get(0))?)
    }

    /// When the last delivery from one webhook was stored (ms), if ever.
    pub fn last_received_from(&self, webhook_id: &str) -> Result<Option<i64>> {
        Ok(self.conn().query_row(
            "SELECT MAX(received_at) FROM inbox WHERE webhook_id = ?1",
            params![webhook_id],
            |r| r.get(0),
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

//! The orders table (the newest revision of each order, and the job queue) and its timeline.

use super::*;

/// Where an order stands: its one list of states, stored by name in `orders.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum OrderState {
    /// Stored, not looked at yet.
    #[default]
    New,
    /// Its status does not ask for posting yet (pending payment, …).
    Waiting,
    /// A mapping or setting is missing; looked at again when the mapping or settings change.
    Held,
    /// In X3.
    Posted,
    /// X3 refused it, or it needs a person; not retried by itself.
    Attention,
    /// X3 or WooCommerce could not be reached; retried with back-off.
    Retrying,
    /// Retried for too long; given up.
    Failed,
    /// Moved to the trash in WooCommerce.
    Trashed,
    /// Deleted in WooCommerce.
    Deleted,
    /// After posting (docs/stock-and-refunds.md): delivered in X3.
    Shipped,
    /// Marked delivered.
    Delivered,
    /// Cancelled, and the X3 order closed or deleted.
    Cancelled,
    /// Refunded, with a credit note in X3.
    Refunded,
}

impl OrderState {
    /// Every state, for a stable set of series in `/metrics`.
    pub const ALL: [OrderState; 13] = [
        OrderState::New,
        OrderState::Waiting,
        OrderState::Held,
        OrderState::Posted,
        OrderState::Attention,
        OrderState::Retrying,
        OrderState::Failed,
        OrderState::Trashed,
        OrderState::Deleted,
        OrderState::Shipped,
        OrderState::Delivered,
        OrderState::Cancelled,
        OrderState::Refunded,
    ];

    /// The stored name (`held`), also what the status page, the admin API and the CLI show.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::New => "new",
            OrderState::Waiting => "waiting",
            OrderState::Held => "held",
            OrderState::Posted => "posted",
            OrderState::Attention => "attention",
            OrderState::Retrying => "retrying",
            OrderState::Failed => "failed",
            OrderState::Trashed => "trashed",
            OrderState::Deleted => "deleted",
            OrderState::Shipped => "shipped",
            OrderState::Delivered => "delivered",
            OrderState::Cancelled => "cancelled",
            OrderState::Refunded => "refunded",
        }
    }

    pub fn parse(name: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for OrderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for OrderState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl rusqlite::types::ToSql for OrderState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for OrderState {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let name = v.as_str()?;
        OrderState::parse(name).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown order state {name:?}").into())
        })
    }
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
    pub state: OrderState,
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
    pub state: OrderState,
    /// Keep the job queued (a retry), due at `next_attempt_at`.
    pub retry_at: Option<i64>,
    pub last_error: Option<String>,
    pub hold: Option<String>,
    pub document_no: Option<String>,
    pub customer_code: Option<String>,
    pub processed_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: i64,
    pub event: String,
    pub detail: String,
}

/// What the store holds of an order's latest revision (catch-up compares with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRevision {
    pub modified_gmt: Option<String>,
    pub status: Option<String>,
    pub trashed: bool,
}

/// An order's newest body, wherever it is (`orders.body` or its inbox row).
pub(super) const ORDER_BODY: &str =
    "COALESCE(body, (SELECT i.body FROM inbox i WHERE i.id = orders.body_inbox_id))";

pub(super) fn add_timeline(
    conn: &Connection,
    order_id: u64,
    event: &str,
    detail: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO timeline (order_id, at, event, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id(order_id), now_ms(), event, detail])?;
    Ok(())
}

/// What the timeline says of a received revision.
fn received_detail(modified_gmt: Option<&str>, status: Option<&str>, applied: bool) -> String {
    let what = format!(
        "verified revision {} ({})",
        modified_gmt.unwrap_or("without a date"),
        status.unwrap_or("no status")
    );
    if applied {
        what
    } else {
        format!("{what}: not newer than the stored revision, kept and not applied")
    }
}

/// Two lists in time order merged into one; at the same time, `first`'s entry comes first.
fn merge_by_time(first: Vec<TimelineEntry>, second: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
    let mut out = Vec::with_capacity(first.len() + second.len());
    let mut a = first.into_iter().peekable();
    let mut b = second.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.at <= y.at,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

/// An order body to apply, and where it is stored.
pub(super) enum Body<'a> {
    /// Delivered: in the inbox row of this id already.
    Inbox(i64, &'a [u8]),
    /// Fetched from the REST API: stored in the orders row.
    Fetched(&'a [u8]),
}

/// A newer body replaces the stored one and queues the order; an older or equal one changes
/// nothing (deliveries arrive late and out of order; `date_modified_gmt` orders them).
pub(super) fn apply_order_body(
    conn: &Connection,
    order_id: u64,
    body: Body<'_>,
    status: Option<&str>,
    modified_gmt: Option<&str>,
    restored: bool,
    now: i64,
) -> Result<bool> {
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
    // different body with the same time is a new revision too (`mlc_core::revision`).
    let same_body = row.as_ref().and_then(|(_, b)| b.as_deref()) == Some(body);
    let newer = mlc_core::revision::is_newer(
        stored.as_ref().and_then(|m| m.as_deref()),
        modified_gmt,
        same_body,
    );
    // A delivered revision is on the order's timeline through its inbox row
    // ([`Store::timeline`]): one row less on the intake's path. A fetched one has no inbox row.
    let received = || {
        if inbox_id.is_some() {
            return Ok(());
        }
        add_timeline(
            conn,
            order_id,
            "received",
            &received_detail(modified_gmt, status, true),
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
    Ok(stored.is_none() || newer)
}

pub(super) fn order_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrderRow> {
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

impl Store {
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

    pub fn orders_in_state(&self, state: OrderState, limit: usize) -> Result<Vec<OrderRow>> {
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

    /// Every held order back in the queue (after the mapping or the settings changed).
    pub fn requeue_held(&self) -> Result<usize> {
        // Held orders, and posted orders waiting in attention for a setting (a refund without
        // a credit-note type): the only attention rows that carry a hold.
        Ok(self.conn().execute(
            "UPDATE orders SET dirty = 1, next_attempt_at = 0, rev = rev + 1 \
             WHERE state = 'held' OR (state = 'attention' AND hold IS NOT NULL)",
            [],
        )?)
    }

    // ---- timeline ----

    pub fn timeline_add(&self, order_id: u64, event: &str, detail: &str) -> Result<()> {
        self.relaxed(|c| add_timeline(c, order_id, event, detail))
    }

    /// The order's timeline: its events, and each delivery of it stored since schema 3 (a
    /// delivery's receipt is its inbox row, not a timeline row of its own), by time; at the same
    /// millisecond a receipt comes first, as it came before what it caused.
    pub fn timeline(&self, order_id: u64) -> Result<Vec<TimelineEntry>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT at, event, detail FROM timeline WHERE order_id = ?1 ORDER BY id")?;
        let events = stmt
            .query_map(params![id(order_id)], |r| {
                Ok(TimelineEntry {
                    at: r.get(0)?,
                    event: r.get(1)?,
                    detail: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = conn.prepare(
            "SELECT received_at, modified_gmt, status, applied FROM inbox
             WHERE resource_id = ?1 AND kind = 'order' AND applied IS NOT NULL ORDER BY id",
        )?;
        let receipts = stmt
            .query_map(params![id(order_id)], |r| {
                let modified: Option<String> = r.get(1)?;
                let status: Option<String> = r.get(2)?;
                let applied: bool = r.get(3)?;
                Ok(TimelineEntry {
                    at: r.get(0)?,
                    event: "received".into(),
                    detail: received_detail(modified.as_deref(), status.as_deref(), applied),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(merge_by_time(receipts, events))
    }

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

    /// Orders waiting for a worker, and since when the longest-waiting one has waited (a retried
    /// order counts from its first failure, not its last attempt).
    pub fn queue_depth(&self) -> Result<(i64, Option<i64>)> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*), MIN(COALESCE(first_failure_at, updated_at)) FROM orders WHERE dirty = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
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
}

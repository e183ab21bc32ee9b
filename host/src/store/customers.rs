//! WooCommerce customers' address changes waiting for X3, and which X3 customer each WooCommerce
//! customer is (`crate::jobs::customer_sync`).

use super::*;

/// The customers' address changes waiting for X3, one row per WooCommerce customer (the newest
/// revision wins, like `orders`), and which X3 customer a WooCommerce customer is. Additive:
/// `CREATE … IF NOT EXISTS`, so older data directories gain them on open.
pub(super) const CUSTOMER_SCHEMA: &str = "
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
/// never overwrite a newer one in X3. The rule of orders too (`mlc_core::revision::is_newer`),
/// same-second changes included.
pub(super) fn apply_customer_revision(
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
    let newer = mlc_core::revision::is_newer(
        stored.as_deref(),
        modified_gmt,
        stored_body.as_deref() == Some(body),
    );
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

pub(super) fn customer_update_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CustomerUpdateRow> {
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

pub(super) const CUSTOMER_UPDATE_COLUMNS: &str =
    "c.customer_id, i.body, c.modified_gmt, c.rev, c.dirty,
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

//! The idempotency ledger (one row per X3 write, an intent before the request) and the
//! customer cache (e-mail match key → X3 customer code).

use super::*;

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

pub(super) fn ledger_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
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

impl Store {
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

    // ---- customer cache ----

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
}

//! What X3 polling learns about our orders (`crate::jobs::x3poll`): document numbers, statuses,
//! deliveries and invoices, in the `x3_orders` table.

use super::*;

/// What polling X3 learnt about our orders, one row per WooCommerce order. Apart from `orders`
/// so the poller never touches the job queue; `CREATE … IF NOT EXISTS` keeps it additive.
pub(super) const X3_SCHEMA: &str = "
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

pub(super) fn json_list(text: String) -> Vec<String> {
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

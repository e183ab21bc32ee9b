//! `[reconcile]`: the tolerance and the X3 fields the reconciliation compares (`jobs::reconcile`).

use anyhow::{Result, bail};
use rust_decimal::Decimal;
use serde::Deserialize;

/// `[reconcile]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReconcileFile {
    /// Largest difference (in the order currency) that is not a discrepancy.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Header fields with the net and gross totals (x3-api.md §5.3 `ORDNOT/ORDATI`, §5.5
    /// `AMTATI`; `AMTNOT` is UNCONFIRMED). Used when the document carries them (REST).
    #[serde(default = "default_order_net")]
    pub order_net_field: String,
    #[serde(default = "default_order_gross")]
    pub order_gross_field: String,
    #[serde(default = "default_invoice_net")]
    pub invoice_net_field: String,
    #[serde(default = "default_invoice_gross")]
    pub invoice_gross_field: String,
}

fn default_tolerance() -> f64 {
    0.01
}
fn default_order_net() -> String {
    "ORDNOT".into()
}
fn default_order_gross() -> String {
    "ORDATI".into()
}
fn default_invoice_net() -> String {
    "AMTNOT".into()
}
fn default_invoice_gross() -> String {
    "AMTATI".into()
}

impl Default for ReconcileFile {
    fn default() -> Self {
        ReconcileFile {
            tolerance: default_tolerance(),
            order_net_field: default_order_net(),
            order_gross_field: default_order_gross(),
            invoice_net_field: default_invoice_net(),
            invoice_gross_field: default_invoice_gross(),
        }
    }
}

impl ReconcileFile {
    pub fn check(&self) -> Result<()> {
        tolerance(self.tolerance).map(drop)
    }
}

/// A tolerance as a decimal to four places (as written: `0.01`, not the float's binary
/// neighbour); negative or absurd values are refused.
pub fn tolerance(t: f64) -> Result<Decimal> {
    if !t.is_finite() || !(0.0..=1_000_000.0).contains(&t) {
        bail!("reconcile tolerance must be between 0 and 1000000, not {t}");
    }
    // `f64`'s shortest text (`0.01`) is the number the merchant wrote.
    let d = Decimal::from_str_exact(&t.to_string())
        .map_err(|e| anyhow::anyhow!("reconcile tolerance {t}: {e}"))?;
    Ok(d.round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
}

//! `[x3-poll]`: which changes `jobs::x3poll` reads back from X3, and how often.

use anyhow::{Result, bail};
use serde::Deserialize;

/// `[x3-poll]`: present = polling on (unless `enabled = false`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct X3PollFile {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seconds between two polls (X3 has no rate limit, but its web-service pool is small, §7).
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Each poll re-reads this many seconds before the watermark.
    #[serde(default = "default_overlap")]
    pub overlap_secs: u64,
    /// With no watermark yet, start this far back.
    #[serde(default = "default_lookback")]
    pub initial_lookback_secs: u64,
    /// Document numbers and statuses of our orders (orders, invoices, deliveries).
    #[serde(default = "yes")]
    pub orders: bool,
    /// Stock levels pushed to WooCommerce.
    #[serde(default)]
    pub stock: bool,
    /// Customer changes noticed.
    #[serde(default = "yes")]
    pub customers: bool,
    /// Stock sites (`STOFCY`) summed for WooCommerce; empty = every site.
    #[serde(default)]
    pub stock_sites: Vec<String>,
    /// Most records read per part and poll; the rest is read at the next poll.
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
    /// Moved to `[x3.wire]` (`rest.delivery.class`, `rest.stock.class`, `rest.customer.class`):
    /// read only to say so.
    #[serde(default)]
    pub delivery_class: Option<String>,
    #[serde(default)]
    pub stock_class: Option<String>,
    #[serde(default)]
    pub customer_class: Option<String>,
    /// GraphQL filter selecting records changed since `{since}` (replaced by a quoted datetime
    /// literal). Filtering on `_updateStamp` is UNCONFIRMED (x3-api.md §8), hence configurable.
    #[serde(default = "default_graphql_filter")]
    pub graphql_since_filter: String,
}

fn yes() -> bool {
    true
}
fn default_interval() -> u64 {
    60
}
fn default_overlap() -> u64 {
    // X3 stamps to the second; a few seconds also cover a transaction committed late.
    5
}
fn default_lookback() -> u64 {
    86_400
}
fn default_max_rows() -> usize {
    5000
}
fn default_graphql_filter() -> String {
    "{_updateStamp:{_gte:{since}}}".into()
}

impl Default for X3PollFile {
    fn default() -> Self {
        toml::from_str("").unwrap_or_else(|_| unreachable!("every field has a default"))
    }
}

impl X3PollFile {
    pub fn check(&self) -> Result<()> {
        for (old, set, key) in [
            (
                "delivery-class",
                &self.delivery_class,
                "rest.delivery.class",
            ),
            ("stock-class", &self.stock_class, "rest.stock.class"),
            (
                "customer-class",
                &self.customer_class,
                "rest.customer.class",
            ),
        ] {
            if set.is_some() {
                bail!("x3-poll.{old} has moved: set {key} (and its representation) in [x3.wire]");
            }
        }
        if self.interval_secs == 0 {
            bail!("x3-poll.interval-secs must be at least 1");
        }
        if self.max_rows == 0 {
            bail!("x3-poll.max-rows must be at least 1");
        }
        if !self.graphql_since_filter.contains("{since}") {
            bail!("x3-poll.graphql-since-filter must contain {{since}}");
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_means_polling_on_with_defaults() {
        let c: X3PollFile = toml::from_str("").unwrap();
        assert!(c.enabled && c.orders && c.customers && !c.stock);
        assert_eq!((c.interval_secs, c.overlap_secs), (60, 5));
        c.check().unwrap();
        let bad: X3PollFile = toml::from_str("interval-secs = 0").unwrap();
        assert!(bad.check().is_err());
        assert!(toml::from_str::<X3PollFile>("intervall-secs = 1").is_err());
    }
}

//! `[master-data]`: which master data flows between X3 and WooCommerce besides orders
//! (docs/master-data.md). Each direction is off by default and switched on here:
//!
//! - X3 → WooCommerce products (`products`): name, description, active/blocked status and price
//!   of the X3 items the mapping table names, read by `[x3-poll]` and written in batches through
//!   WooCommerce's `products/batch`. Stock stays `[x3-poll] stock`; `stock-quantity` says which
//!   X3 quantity it pushes.
//! - X3 → WooCommerce orders (`complete-orders`): a delivery validated in X3 for one of our sales
//!   orders completes the WooCommerce order, with a note naming the delivery.
//! - WooCommerce → X3 customers (`customer-addresses`): a registered customer's changed billing
//!   or shipping address (`customer.updated`) updates the X3 customer's addresses.

use anyhow::{Result, bail};
use serde::Deserialize;

/// A WooCommerce product field the sync may write; a merchant can keep any of them shop-owned.
pub const PRODUCT_FIELDS: [&str; 5] = ["name", "description", "status", "price", "stock"];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MasterDataFile {
    /// X3 items → WooCommerce products (name, description, status, price).
    #[serde(default)]
    pub products: bool,
    /// The X3 price list (`PLI`) prices come from; unset: the item's base price.
    #[serde(default)]
    pub price_list: Option<String>,
    /// Fields never written to any product (`name`, `description`, `status`, `price`, `stock`).
    /// A product's own meta `ml_connector_shop_owned` (the same names, comma-separated) adds to
    /// these for that product.
    #[serde(default)]
    pub shop_owned: Vec<String>,
    /// `ITMSTA` values of an item that may be sold (X3: 1 active); others are blocked.
    #[serde(default = "default_active_statuses")]
    pub active_item_statuses: Vec<i64>,
    /// WooCommerce status of a product whose X3 item is blocked (`private` or `draft`).
    #[serde(default = "default_blocked_status")]
    pub blocked_status: String,
    /// Which X3 quantity `[x3-poll] stock` pushes: `available` (physical minus allocated) or
    /// `physical`.
    #[serde(default = "default_stock_quantity")]
    pub stock_quantity: String,
    /// A delivery validated in X3 completes the WooCommerce order, with a note.
    #[serde(default)]
    pub complete_orders: bool,
    /// `customer.updated` → the X3 customer's addresses.
    #[serde(default)]
    pub customer_addresses: bool,
    /// How long an e-mail → X3 customer code match is trusted before X3 is asked again.
    #[serde(default = "default_customer_cache")]
    pub customer_cache_secs: u64,
}

fn default_active_statuses() -> Vec<i64> {
    vec![1]
}
fn default_blocked_status() -> String {
    "private".into()
}
fn default_stock_quantity() -> String {
    "available".into()
}
fn default_customer_cache() -> u64 {
    86_400
}

impl Default for MasterDataFile {
    fn default() -> Self {
        toml::from_str("").unwrap_or_else(|_| unreachable!("every field has a default"))
    }
}

impl MasterDataFile {
    /// Checks the section on its own and against the rest of the config (`x3_poll`: the
    /// `[x3-poll]` section is present and enabled; `webhooks`: `[webhooks] master-data`).
    pub fn check(
        &self,
        x3_poll: Option<&crate::config::x3poll::X3PollFile>,
        webhooks: bool,
    ) -> Result<()> {
        for f in &self.shop_owned {
            if !PRODUCT_FIELDS.contains(&f.as_str()) {
                bail!(
                    "master-data.shop-owned: {f:?} is not a product field the sync writes ({})",
                    PRODUCT_FIELDS.join(", ")
                );
            }
        }
        if !matches!(self.blocked_status.as_str(), "private" | "draft") {
            bail!(
                "master-data.blocked-status: {:?}; a blocked item's product is \"private\" or \"draft\"",
                self.blocked_status
            );
        }
        if !matches!(self.stock_quantity.as_str(), "available" | "physical") {
            bail!(
                "master-data.stock-quantity: {:?}; \"available\" (physical minus allocated) or \"physical\"",
                self.stock_quantity
            );
        }
        if self.active_item_statuses.is_empty() {
            bail!("master-data.active-item-statuses: empty, so every item would be blocked");
        }
        if let Some(p) = &self.price_list
            && (p.trim().is_empty() || p.len() > 10)
        {
            bail!(
                "master-data.price-list: {p:?} is not an X3 price list code (1 to 10 characters)"
            );
        }
        let polling = x3_poll.filter(|p| p.enabled);
        if self.products && polling.is_none() {
            bail!("master-data.products needs X3 polling: add an [x3-poll] section");
        }
        if self.complete_orders && !polling.is_some_and(|p| p.orders) {
            bail!(
                "master-data.complete-orders needs X3 polling of orders: [x3-poll] with orders = true"
            );
        }
        if self.customer_addresses && !webhooks {
            bail!(
                "master-data.customer-addresses needs the customer webhooks: [webhooks] master-data = true"
            );
        }
        if self.customer_cache_secs == 0 {
            bail!("master-data.customer-cache-secs: 0 would ask X3 for every order; at least 1");
        }
        Ok(())
    }

    /// The fields shop-owned for one product: the section's plus the product's meta.
    pub fn shop_owned_for(&self, product: &serde_json::Value) -> Vec<String> {
        let mut owned = self.shop_owned.clone();
        for m in product["meta_data"].as_array().into_iter().flatten() {
            if m["key"].as_str() == Some("ml_connector_shop_owned")
                && let Some(v) = m["value"].as_str()
            {
                for f in v.split(',').map(str::trim) {
                    if PRODUCT_FIELDS.contains(&f) && !owned.iter().any(|o| o == f) {
                        owned.push(f.to_string());
                    }
                }
            }
        }
        owned
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_direction_is_off_by_default_and_the_defaults_check() {
        let m = MasterDataFile::default();
        assert!(!m.products && !m.complete_orders && !m.customer_addresses);
        assert_eq!(m.stock_quantity, "available");
        assert_eq!(m.active_item_statuses, vec![1]);
        m.check(None, false).unwrap();
    }

    #[test]
    fn a_direction_without_what_feeds_it_is_refused_with_the_missing_setting_named() {
        let poll = crate::config::x3poll::X3PollFile::default();
        let on = |t: &str| toml::from_str::<MasterDataFile>(t).unwrap();
        let e = on("products = true").check(None, false).unwrap_err();
        assert!(e.to_string().contains("[x3-poll]"), "{e}");
        on("products = true").check(Some(&poll), false).unwrap();
        let e = on("customer-addresses = true")
            .check(None, false)
            .unwrap_err();
        assert!(e.to_string().contains("[webhooks] master-data"), "{e}");
        on("customer-addresses = true").check(None, true).unwrap();
        let mut no_orders = poll.clone();
        no_orders.orders = false;
        let e = on("complete-orders = true")
            .check(Some(&no_orders), false)
            .unwrap_err();
        assert!(e.to_string().contains("orders = true"), "{e}");
        for bad in [
            "shop-owned = [\"sku\"]",
            "blocked-status = \"trash\"",
            "stock-quantity = \"free\"",
            "active-item-statuses = []",
            "price-list = \"\"",
            "customer-cache-secs = 0",
        ] {
            assert!(on(bad).check(Some(&poll), true).is_err(), "{bad}");
        }
        assert!(toml::from_str::<MasterDataFile>("product = true").is_err());
    }

    #[test]
    fn a_products_meta_adds_shop_owned_fields_to_the_sections() {
        let m: MasterDataFile = toml::from_str("shop-owned = [\"description\"]").unwrap();
        let p = json!({"meta_data": [
            {"key": "other", "value": "price"},
            {"key": "ml_connector_shop_owned", "value": "price, name,bogus,description"},
        ]});
        assert_eq!(m.shop_owned_for(&p), vec!["description", "price", "name"]);
        assert_eq!(m.shop_owned_for(&json!({})), vec!["description"]);
    }
}

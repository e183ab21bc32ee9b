//! `[stock]`: the settings of the X3 actions after posting (deliveries, cancellations, credit
//! notes, restock). The decisions are the core's (`inventory#build-*`); the pipeline runs them
//! (`pipeline::stock_actions`). See docs/stock-and-refunds.md.

use anyhow::{Result, bail};
use serde::Deserialize;

use crate::component::{CoreRuntime, inventory};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StockFile {
    /// Run the actions after posting at all (default true).
    pub enabled: Option<bool>,
    pub delivery_class: Option<String>,
    pub delivery_representation: Option<String>,
    pub delivery_lines_field: Option<String>,
    /// `SIVTYP` of credit notes. Unset: refunds wait on the order page until it is set.
    pub credit_note_type: Option<String>,
    /// Item for refunded amounts that are on no refunded line.
    pub refund_amount_item: Option<String>,
    /// `close` (default), `delete` or `ignore`.
    pub cancel: Option<String>,
    /// Put units back in X3 stock when WooCommerce restocked them (default true).
    pub restock: Option<bool>,
    /// Deliver fee and shipping lines too (default true).
    pub deliver_charges: Option<bool>,
    /// The class (and representation) whose `QTYSTU` a restock raises (default `STOCK`).
    pub stock_class: Option<String>,
}

/// What the pipeline needs: the core's settings plus the host-side ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockConfig {
    pub enabled: bool,
    pub settings: inventory::StockSettings,
    pub stock_class: String,
}

impl StockConfig {
    /// The core's defaults, enabled.
    pub fn defaults(core: &CoreRuntime) -> Result<StockConfig> {
        Ok(StockConfig {
            enabled: true,
            settings: core
                .call(|c, s| c.ml_connector_inventory().call_default_stock_settings(s))?,
            stock_class: "STOCK".into(),
        })
    }

    /// The defaults, then the config file's `[stock]`.
    pub fn from_file(core: &CoreRuntime, f: &StockFile) -> Result<StockConfig> {
        let mut c = StockConfig::defaults(core)?;
        let s = &mut c.settings;
        let set = |field: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                field.clone_from(v);
            }
        };
        set(&mut s.delivery_class, &f.delivery_class);
        set(&mut s.delivery_representation, &f.delivery_representation);
        if f.delivery_class.is_some() && f.delivery_representation.is_none() {
            s.delivery_representation.clone_from(&s.delivery_class);
        }
        set(&mut s.delivery_lines_field, &f.delivery_lines_field);
        set(&mut s.credit_note_type, &f.credit_note_type);
        if f.refund_amount_item.is_some() {
            s.refund_amount_item.clone_from(&f.refund_amount_item);
        }
        s.cancel = match f.cancel.as_deref() {
            None | Some("close") => inventory::CancelMode::Close,
            Some("delete") => inventory::CancelMode::Delete,
            Some("ignore") => inventory::CancelMode::Ignore,
            Some(other) => {
                bail!("stock.cancel: {other:?} is not one of \"close\", \"delete\", \"ignore\"")
            }
        };
        if let Some(r) = f.restock {
            s.restock = r;
        }
        if let Some(d) = f.deliver_charges {
            s.deliver_charges = d;
        }
        c.enabled = f.enabled.unwrap_or(true);
        set(&mut c.stock_class, &f.stock_class);
        Ok(c)
    }
}

//! `[stock]`: the settings of the X3 actions after posting (deliveries, cancellations, credit
//! notes, restock). The decisions are the core's (`decisions#decide`, its after-post stage); the
//! pipeline runs them (`jobs::pipeline::stock`). See docs/stock-and-refunds.md.

use anyhow::{Result, bail};
use serde::Deserialize;

use crate::component::{CoreRuntime, inventory};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StockFile {
    /// Run the actions after posting at all (default true).
    pub enabled: Option<bool>,
    /// Moved to `[x3.wire]`: read only to say so.
    pub delivery_class: Option<String>,
    pub delivery_representation: Option<String>,
    pub delivery_lines_field: Option<String>,
    pub stock_class: Option<String>,
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
    /// Stock status of the units a restock puts back (default `A`).
    pub restock_status: Option<String>,
    /// An invoiced order that ships leaves X3 stock by a miscellaneous issue (default true).
    pub invoice_stock_issue: Option<bool>,
}

/// The names of `cancel` (the config file's and the admin API's), each with its mode.
pub const CANCEL_MODES: [(&str, inventory::CancelMode); 3] = [
    ("close", inventory::CancelMode::Close),
    ("delete", inventory::CancelMode::Delete),
    ("ignore", inventory::CancelMode::Ignore),
];

/// The name of a cancel mode, as `cancel` takes it.
pub fn cancel_name(mode: inventory::CancelMode) -> &'static str {
    CANCEL_MODES
        .iter()
        .find(|(_, m)| *m == mode)
        .map_or("close", |(name, _)| name)
}

/// What the pipeline needs: the core's settings plus the host-side ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockConfig {
    pub enabled: bool,
    pub settings: inventory::StockSettings,
}

impl StockConfig {
    /// The core's defaults, enabled.
    pub fn defaults(core: &CoreRuntime) -> Result<StockConfig> {
        Ok(StockConfig {
            enabled: true,
            settings: core.inventory().default_stock_settings()?,
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
        for (old, set, key) in [
            ("delivery-class", &f.delivery_class, "rest.delivery.class"),
            (
                "delivery-representation",
                &f.delivery_representation,
                "rest.delivery.representation",
            ),
            (
                "delivery-lines-field",
                &f.delivery_lines_field,
                "rest.delivery.lines",
            ),
            ("stock-class", &f.stock_class, "rest.stock.class"),
        ] {
            if set.is_some() {
                bail!("stock.{old} has moved: set {key} in [x3.wire]");
            }
        }
        set(&mut s.credit_note_type, &f.credit_note_type);
        if f.refund_amount_item.is_some() {
            s.refund_amount_item.clone_from(&f.refund_amount_item);
        }
        if let Some(name) = f.cancel.as_deref() {
            s.cancel = match CANCEL_MODES.iter().find(|(n, _)| *n == name) {
                Some((_, mode)) => *mode,
                None => {
                    bail!("stock.cancel: {name:?} is not one of \"close\", \"delete\", \"ignore\"")
                }
            };
        }
        if let Some(r) = f.restock {
            s.restock = r;
        }
        if let Some(d) = f.deliver_charges {
            s.deliver_charges = d;
        }
        set(&mut s.restock_status, &f.restock_status);
        if let Some(v) = f.invoice_stock_issue {
            s.invoice_stock_issue = v;
        }
        c.enabled = f.enabled.unwrap_or(true);
        Ok(c)
    }
}

//! The core's order settings and mapping table from the configuration, validated by the core.

use anyhow::Result;

use crate::component::{CoreRuntime, mapping, orders};
use crate::config::Config;

/// The core's settings: its defaults, then the config file's `[orders]`.
pub fn order_settings(core: &CoreRuntime, cfg: &Config) -> Result<orders::Settings> {
    let mut s = core.orders().default_settings()?;
    let o = &cfg.orders;
    let set = |field: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            field.clone_from(v);
        }
    };
    set(&mut s.store_id, &o.store_id);
    set(&mut s.reference_prefix, &o.reference_prefix);
    set(&mut s.customer_prefix, &o.customer_prefix);
    set(&mut s.sales_site, &o.sales_site);
    set(&mut s.shipment_site, &o.shipment_site);
    set(&mut s.order_type, &o.order_type);
    set(&mut s.invoice_type, &o.invoice_type);
    set(&mut s.customer_category, &o.customer_category);
    if o.guest_customer.is_some() {
        s.guest_customer.clone_from(&o.guest_customer);
    }
    if o.default_sales_unit.is_some() {
        s.default_sales_unit.clone_from(&o.default_sales_unit);
    }
    if let Some(d) = o.currency_decimals {
        s.currency_decimals = d;
    }
    if let Some(d) = &o.dimension_types {
        s.dimension_types.clone_from(d);
    }
    match o.document_kind.as_deref() {
        None | Some("order") => s.document_kind = orders::DocumentKind::Order,
        Some("invoice") => s.document_kind = orders::DocumentKind::Invoice,
        Some(other) => {
            anyhow::bail!("orders.document-kind: {other:?} is not \"order\" or \"invoice\"")
        }
    }
    match o.price_basis.as_deref() {
        None | Some("net") => s.price_basis = orders::PriceBasis::Net,
        Some("gross") => s.price_basis = orders::PriceBasis::Gross,
        Some(other) => anyhow::bail!("orders.price-basis: {other:?} is not \"net\" or \"gross\""),
    }
    s.wire = cfg.x3.wire.pairs();
    Ok(s)
}

/// Parses a mapping table through the core (CSV, or JSON when it starts with `[`).
pub fn parse_mapping(
    core: &CoreRuntime,
    text: &str,
    dims: &[String],
) -> Result<Vec<mapping::MappingRow>> {
    let parsed = if text.trim_start().starts_with('[') {
        core.mapping().parse_json(text, dims)?
    } else {
        core.mapping().parse_csv(text, dims)?
    };
    parsed.map_err(|e| anyhow::anyhow!("{}", mapping_error(&e)))
}

pub fn mapping_error(e: &mapping::Error) -> String {
    match e {
        mapping::Error::Malformed(m) => format!("not a mapping table: {m}"),
        mapping::Error::InvalidRows(rows) => rows
            .iter()
            .map(|r| format!("row {}, {}: {}", r.row, r.field, r.message))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

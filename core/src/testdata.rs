//! Fixtures for the native tests: WooCommerce's documented samples and deliveries captured from a
//! running WooCommerce 10 (copied from `shared/reference/` into `core/testdata/`).

use serde_json::{Value, json};

use crate::webhook::Headers;

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// A sample body from `testdata/samples/`.
pub fn sample(name: &str) -> Vec<u8> {
    let path = dir().join("samples").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A captured delivery: the headers from `<name>.http`, the raw bytes from `<name>.body`.
pub fn capture(name: &str) -> (Headers, Vec<u8>) {
    let base = dir().join("captures");
    let http = std::fs::read_to_string(base.join(format!("{name}.http"))).expect("capture .http");
    let body = std::fs::read(base.join(format!("{name}.body"))).expect("capture .body");
    let mut h = Headers::default();
    for line in http.lines().skip(1).take_while(|l| !l.trim().is_empty()) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = Some(v.trim().to_string());
        match k.trim().to_ascii_lowercase().as_str() {
            "x-wc-webhook-topic" => h.topic = v,
            "x-wc-webhook-resource" => h.resource = v,
            "x-wc-webhook-event" => h.event = v,
            "x-wc-webhook-signature" => h.signature = v,
            "x-wc-webhook-id" => h.webhook_id = v,
            "x-wc-webhook-delivery-id" => h.delivery_id = v,
            "content-type" => h.content_type = v,
            _ => {}
        }
    }
    (h, body)
}

/// A refund as WooCommerce renders it: negative quantities/totals, `_refunded_item_id` meta.
pub fn refund(id: u64, amount: &str, lines: &[(u64, i64, &str, &str)]) -> Vec<u8> {
    let items: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, (item, qty, total, tax))| {
            json!({
                "id": id + 1 + i as u64, "product_id": 0, "variation_id": 0,
                "quantity": -qty, "total": format!("-{total}"), "total_tax": format!("-{tax}"),
                "meta_data": [{"id": 1, "key": "_refunded_item_id", "value": item.to_string()}],
            })
        })
        .collect();
    json!({
        "id": id, "date_created": "2026-11-20T10:00:00", "amount": amount, "reason": "damaged",
        "line_items": items,
    })
    .to_string()
    .into_bytes()
}

/// The settings, mapping and stock settings the docs sample order 727 (`order.wc-v3.json`: two
/// product lines and flat-rate shipping) is tested with.
pub mod sample_727 {
    use crate::plan::Settings;
    use crate::stock::StockSettings;

    pub const MAPPING: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
product,93,SINGLE1,UN,706100,CCT=WEB,
sku,Bar3,BAR3,,,,FR012
shipping,flat_rate,CARRIAGE,,708500,,
";

    pub fn settings() -> Settings {
        Settings {
            store_id: "shop1".into(),
            sales_site: "FR011".into(),
            shipment_site: "FR011".into(),
            order_type: "WEB".into(),
            customer_category: "WEBCU".into(),
            dimension_types: vec!["CCT".into()],
            ..Settings::default()
        }
    }

    /// Credit notes of type `AVO`, the rest the defaults.
    pub fn stock() -> StockSettings {
        StockSettings {
            credit_note_type: "AVO".into(),
            ..StockSettings::default()
        }
    }
}

//! Order parsing and planning: any body gives an order, a hold or an error, never a panic.
//! Bytes that are a JSON object are also planned with a sample order's fields replaced, so the
//! planner sees mostly-valid orders and not only parse errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlc_core::mapping::parse_csv;
use mlc_core::plan::{Known, Settings, plan};

const MAPPING: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
product,13,TSHIRT,UN,706100,CCT=WEB,
variation,17,HOODIE-RED,UN,706100,CCT=WEB;DEP=APPAREL,FR012
sku,RW-CAP,CAP01,,,,
shipping,flat_rate,CARRIAGE,,708500,,
fee,Gift wrap,GIFTWRAP,,,,
";

const SAMPLE: &[u8] = include_bytes!("../../testdata/samples/order.wc-v3.json");

fuzz_target!(|data: &[u8]| {
    let settings = Settings {
        store_id: "shop1".into(),
        sales_site: "FR011".into(),
        order_type: "WEB".into(),
        invoice_type: "FAC".into(),
        customer_category: "WEBCU".into(),
        dimension_types: vec!["CCT".into(), "DEP".into()],
        ..Settings::default()
    };
    let rows = parse_csv(MAPPING, &settings.dimension_types).expect("the fixed mapping parses");
    let _ = plan(data, &rows, &settings, &Known::default());
    let _ = plan(
        data,
        &rows,
        &settings,
        &Known {
            customer_code: Some("C0001".into()),
        },
    );
    // The sample with the fuzzed object's fields laid over it.
    if let Ok(serde_json::Value::Object(patch)) = serde_json::from_slice::<serde_json::Value>(data)
    {
        let mut order: serde_json::Value =
            serde_json::from_slice(SAMPLE).expect("the sample parses");
        for (k, v) in patch {
            order[k] = v;
        }
        let body = order.to_string();
        let _ = plan(body.as_bytes(), &rows, &settings, &Known::default());
    }
});

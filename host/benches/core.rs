//! Benchmark: planning an order natively (the core as a Rust library) against the same call
//! through the WebAssembly component the host runs (`CoreRuntime::call`, pooled instances, as in production).
//! Run: `cargo bench -p ml-connector --bench core`. Prints one line per case; BENCHMARKS.md
//! records them with the command. Not a test: no assertion on time.

use std::time::{Duration, Instant};

use ml_connector::component::{CoreRuntime, mapping as wm, orders as wo};
use mlc_core::mapping::parse_csv;
use mlc_core::plan::{Known, Settings, plan};

const MAPPING: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
product,13,TSHIRT,UN,706100,CCT=WEB,
variation,17,HOODIE-RED,UN,706100,CCT=WEB;DEP=APPAREL,FR012
sku,RW-CAP,CAP01,,,,
shipping,flat_rate,CARRIAGE,,708500,,
";

fn body(lines: usize) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/testdata/captures/delivery-order.created.body"
    );
    let raw = std::fs::read(path).expect("capture");
    if lines <= 3 {
        return raw;
    }
    let mut v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    let template = v["line_items"][0].clone();
    v["line_items"] = (0..lines)
        .map(|i| {
            let mut l = template.clone();
            l["id"] = (1000 + i).into();
            l
        })
        .collect::<Vec<_>>()
        .into();
    v.to_string().into_bytes()
}

fn measure(mut f: impl FnMut()) -> (Duration, u32) {
    // Warm up, then run for about a second.
    for _ in 0..20 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(1) {
        f();
        n += 1;
    }
    (start.elapsed() / n, n)
}

fn main() {
    let native_settings = Settings {
        store_id: "bench".into(),
        sales_site: "FR011".into(),
        order_type: "WEB".into(),
        customer_category: "WEBCU".into(),
        dimension_types: vec!["CCT".into(), "DEP".into()],
        ..Settings::default()
    };
    let native_rows = parse_csv(MAPPING, &native_settings.dimension_types).expect("mapping");
    let (core, _) = CoreRuntime::embedded(None).expect("component");
    let mut settings = core.orders().default_settings().expect("defaults");
    settings.store_id = "bench".into();
    settings.sales_site = "FR011".into();
    settings.order_type = "WEB".into();
    settings.customer_category = "WEBCU".into();
    settings.dimension_types = vec!["CCT".into(), "DEP".into()];
    let rows: Vec<wm::MappingRow> = core
        .mapping()
        .parse_csv(MAPPING, &settings.dimension_types)
        .expect("call")
        .expect("mapping");
    let known = wo::KnownState {
        customer_code: None,
    };
    for (name, lines) in [
        ("typical order (3 lines + shipping)", 3),
        ("200-line order", 200),
    ] {
        let body = body(lines);
        let (native, n1) = measure(|| {
            let out = plan(&body, &native_rows, &native_settings, &Known::default()).expect("plan");
            std::hint::black_box(out);
        });
        let (component, n2) = measure(|| {
            let out = core
                .orders()
                .plan(&body, &rows, &settings, &known)
                .expect("call");
            std::hint::black_box(out.expect("plan"));
        });
        println!(
            "{name}: native {:.1} µs/plan ({n1} runs), component {:.1} µs/plan ({n2} runs), ratio {:.2}×",
            native.as_secs_f64() * 1e6,
            component.as_secs_f64() * 1e6,
            component.as_secs_f64() / native.as_secs_f64()
        );
    }
}

//! Benchmark: one order through the core's decision loop natively (the core as a Rust library)
//! against the same calls through the WebAssembly component the host runs (`CoreRuntime::call`,
//! pooled instances, as in production). A new order is the two `decide` calls a new customer's
//! order takes: the first gives the customer and sales order requests, the second (with both
//! created) the posted verdict. A shipment is the two calls a posted order takes when it is
//! completed: the delivery asked for, then (created) the shipped verdict.
//! Run: `cargo bench -p ml-connector --bench core`. Prints one line per case; BENCHMARKS.md
//! records them with the command. Not a test: no assertion on time.

use std::time::{Duration, Instant};

use ml_connector::component::{CoreRuntime, decisions as wd, mapping as wm};
use mlc_core::decide::{self, Facts, Reported, Request, RequestOutcome, Verdict};
use mlc_core::inventory::default_status_map;
use mlc_core::mapping::parse_csv;
use mlc_core::plan::Settings;
use mlc_core::stock::StockSettings;

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

/// Rounds of each side, interleaved, and how long each round runs: a slow moment of the machine
/// then hits both sides, not one.
const ROUNDS: usize = 9;
const ROUND: Duration = Duration::from_millis(300);

/// Mean time per run of `f` over one round (after a short warm-up).
fn measure(f: &mut impl FnMut()) -> Duration {
    for _ in 0..5 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < ROUND {
        f();
        n += 1;
    }
    start.elapsed() / n
}

/// Native and component rounds taken in turn: the median of each, and the median of the
/// rounds' ratios.
fn compare(mut native: impl FnMut(), mut component: impl FnMut()) -> (Duration, Duration, f64) {
    let (mut n, mut c, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let a = measure(&mut native);
        let b = measure(&mut component);
        r.push(b.as_secs_f64() / a.as_secs_f64());
        n.push(a);
        c.push(b);
    }
    n.sort();
    c.sort();
    r.sort_by(f64::total_cmp);
    (n[ROUNDS / 2], c[ROUNDS / 2], r[ROUNDS / 2])
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
    let native_map = default_status_map();
    let map = core.inventory().default_status_map().expect("map");
    // The after-post stage on, as `[stock]` is by default.
    let native_stock = StockSettings::default();
    let stock = core.inventory().default_stock_settings().expect("stock");
    let new = Facts {
        order_id: 39,
        status: "processing".into(),
        today: "2026-12-04".into(),
        ..Facts::default()
    };
    let shipment = Facts {
        status: "completed".into(),
        posted: Some(decide::PostedAs {
            document: "SO0001".into(),
            customer_code: "C1".into(),
        }),
        ..new.clone()
    };
    for (name, lines, first) in [
        ("typical order (3 lines + shipping)", 3, &new),
        ("200-line order", 200, &new),
        ("shipment of the typical order", 3, &shipment),
        ("shipment of the 200-line order", 200, &shipment),
    ] {
        let body = body(lines);
        // The second call's facts: what the first call asked for, created.
        let d = decide::decide(
            &body,
            &native_rows,
            &native_settings,
            &native_map,
            Some(&native_stock),
            first,
        )
        .expect("decide");
        let Verdict::Run(reqs) = d.verdict else {
            panic!("expected requests")
        };
        let mut second = first.clone();
        second.outcomes = reqs
            .iter()
            .map(|r| match r {
                Request::Document(r) => Reported {
                    idempotency_key: r.operation.idempotency_key.clone(),
                    outcome: RequestOutcome::Created(
                        r.expected_key.clone().unwrap_or_else(|| "SO0001".into()),
                    ),
                },
                Request::Action(a) => Reported {
                    idempotency_key: a.action.idempotency_key.clone(),
                    outcome: RequestOutcome::Created("DLV1".into()),
                },
                Request::ReadRefunds(_) => panic!("these orders have no refunds"),
            })
            .collect();
        let wfacts = |f: &Facts| wd::Facts {
            order_id: f.order_id,
            status: f.status.clone(),
            trashed: false,
            posted: f.posted.as_ref().map(|p| wd::PostedAs {
                document: p.document.clone(),
                customer_code: p.customer_code.clone(),
            }),
            ledger: vec![],
            today: f.today.clone(),
            refunds_handled: vec![],
            attention: None,
            outcomes: f
                .outcomes
                .iter()
                .map(|r| wd::Reported {
                    idempotency_key: r.idempotency_key.clone(),
                    outcome: match &r.outcome {
                        RequestOutcome::Created(k) => wd::RequestOutcome::Created(k.clone()),
                        _ => unreachable!("only creates are reported here"),
                    },
                })
                .collect(),
        };
        let (wfirst, wsecond) = (wfacts(first), wfacts(&second));
        let (native, component, ratio) = compare(
            || {
                for f in [first, &second] {
                    let out = decide::decide(
                        &body,
                        &native_rows,
                        &native_settings,
                        &native_map,
                        Some(&native_stock),
                        f,
                    )
                    .expect("decide");
                    std::hint::black_box(out);
                }
            },
            || {
                for f in [&wfirst, &wsecond] {
                    let out = core
                        .decisions()
                        .decide(&body, &rows, &settings, &map, Some(&stock), f)
                        .expect("call");
                    std::hint::black_box(out.expect("decide"));
                }
            },
        );
        let end = core
            .decisions()
            .decide(&body, &rows, &settings, &map, Some(&stock), &wsecond)
            .expect("call")
            .expect("decide");
        let want = if first.posted.is_some() {
            wd::AfterPost::Done(ml_connector::component::inventory::PostedState::Shipped)
        } else {
            wd::AfterPost::Done(ml_connector::component::inventory::PostedState::Posted)
        };
        assert!(
            matches!(&end.verdict, wd::Verdict::Posted(p) if p.end == want),
            "the second call ends the attempt: {:?}",
            end.verdict
        );
        println!(
            "{name}: native {:.1} µs/order, component {:.1} µs/order (medians of {ROUNDS} interleaved rounds of {} ms), ratio {ratio:.2}× (median of the rounds' ratios; 2 decide calls per order)",
            native.as_secs_f64() * 1e6,
            component.as_secs_f64() * 1e6,
            ROUND.as_millis()
        );
    }
}

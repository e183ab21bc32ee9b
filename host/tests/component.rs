//! Boundary tests: the real component, built by `build.rs` and embedded in the host, loaded in
//! wasmtime and called through every export — including each error variant — so a type that
//! does not survive the trip across the boundary fails here, not in production.

#![allow(clippy::unwrap_used)] // a test fails loudly on what it did not expect

use std::collections::BTreeSet;
use std::path::PathBuf;

use ml_connector::component::{
    Compiled, CoreRuntime, EMBEDDED, VERSION, check_export_names, decisions as wd,
    exported_functions, inventory as wi, mapping as wm, orders as wo,
};
use wasmtime::component::Component;

fn core() -> CoreRuntime {
    CoreRuntime::embedded(None)
        .expect("the embedded component loads")
        .0
}

fn testdata(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../core/testdata")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every export this file calls. `every_export_has_a_boundary_test` fails when the component
/// gains an export that is not listed (and so not tested) here.
const COVERED: [&str; 17] = [
    "decisions#decide",
    "mapping#parse-csv",
    "mapping#parse-json",
    "mapping#to-csv",
    "mapping#coverage",
    "orders#default-settings",
    "orders#check-settings",
    "orders#customer-key",
    "orders#wire-names",
    "orders#sdata-literal",
    "orders#graphql-literal",
    "orders#reconcile",
    "inventory#default-status-map",
    "inventory#validate-status-map",
    "inventory#transition",
    "inventory#default-stock-settings",
    "inventory#due-intents",
];

#[test]
fn component_imports_nothing_and_exports_the_four_interfaces() {
    let core = core();
    let component = Component::new(core.engine(), EMBEDDED).unwrap();
    let ty = component.component_type();
    assert_eq!(
        ty.imports(core.engine()).count(),
        0,
        "the core must import nothing"
    );
    let exports: BTreeSet<String> = ty
        .exports(core.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    let want: BTreeSet<String> = ["mapping", "orders", "inventory", "decisions"]
        .iter()
        .map(|i| format!("ml:connector/{i}@{VERSION}"))
        .collect();
    assert_eq!(VERSION, "0.7.0");
    assert_eq!(exports, want);
}

#[test]
fn every_export_has_a_boundary_test() {
    let core = core();
    let component = Component::new(core.engine(), EMBEDDED).unwrap();
    let exported = exported_functions(core.engine(), &component);
    let covered: BTreeSet<String> = COVERED.iter().map(|s| s.to_string()).collect();
    assert_eq!(exported, covered);
}

/// A component for the same world but another package version, made from the WIT text.
fn component_with_version(version: &str) -> Vec<u8> {
    // The package's files (one per interface) as one text under one `package` line.
    let wit_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&wit_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wit"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut text = format!("package ml:connector@{version};\n");
    for file in files {
        let body = std::fs::read_to_string(file).unwrap();
        assert!(body.contains(&format!("package ml:connector@{VERSION};")));
        for line in body.lines().filter(|l| !l.starts_with("package ")) {
            text.push_str(line);
            text.push('\n');
        }
    }
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("connector.wit", &text).unwrap();
    let world = resolve.select_world(&[pkg], Some("core")).unwrap();
    let mut module =
        wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .encode()
        .unwrap()
}

#[test]
fn a_component_of_another_wit_version_is_refused() {
    // The shipped 0.1.0 to 0.6.0 and a future 0.8.0 alike: a frozen version is never loaded
    // as another.
    for other in [
        "0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.8.0",
    ] {
        let bytes = component_with_version(other);
        let err = CoreRuntime::load(&bytes, None)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains(&format!("ml:connector@{other}"))
                && err.contains(&format!("supports ml:connector@{VERSION}")),
            "{err}"
        );
    }
    // The same world at our version passes the check (its functions are dummies, never called).
    assert!(CoreRuntime::load(&component_with_version(VERSION), None).is_ok());
    let missing: BTreeSet<String> = ["orders", "inventory", "decisions"]
        .iter()
        .map(|i| format!("ml:connector/{i}@{VERSION}"))
        .collect();
    let err = check_export_names(&missing).unwrap_err().to_string();
    assert!(
        err.contains(&format!("ml:connector/mapping@{VERSION}")),
        "{err}"
    );
}

#[test]
fn cache_file_overwritten_under_a_loaded_runtime_does_not_crash_and_is_rebuilt() {
    let dir = std::env::temp_dir().join(format!("mlc-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (_, first) = CoreRuntime::embedded(Some(&dir)).unwrap();
    assert_eq!(first, Compiled::Fresh);
    let (core, second) = CoreRuntime::embedded(Some(&dir)).unwrap();
    assert_eq!(second, Compiled::FromCache);
    // The cached one works.
    assert_eq!(core.orders().customer_key(" A@B.C ").unwrap(), "a@b.c");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    std::fs::write(&files[0], b"not a compiled component").unwrap();
    let (core, third) = CoreRuntime::embedded(Some(&dir)).unwrap();
    assert_eq!(third, Compiled::Fresh);
    assert_eq!(core.orders().sdata_literal("'").unwrap(), "''''");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn runaway_calls_are_stopped_by_the_deadline_as_an_outer_error() {
    let mut core = core();
    let body = testdata("captures/delivery-order.created.body");
    let settings = core_settings(&core);
    core.set_deadline_ticks(0);
    let result = decide(&core, &body, &[], &settings, &facts(vec![]));
    assert!(
        result.is_err(),
        "a trap is the outer error, not a business outcome"
    );
}

#[test]
fn pooled_instances_answer_as_fresh_ones_and_a_trapped_one_is_not_reused() {
    let mut core = core();
    let body = testdata("captures/delivery-order.created.body");
    let settings = core_settings(&core);
    let plan = |core: &CoreRuntime| decide(core, &body, &[], &settings, &facts(vec![]));
    // A fresh runtime's first answer is the reference.
    let reference = plan(
        &ml_connector::component::CoreRuntime::embedded(None)
            .unwrap()
            .0,
    )
    .unwrap();
    // The same instance, called again and again, in between other exports.
    for _ in 0..5 {
        assert_eq!(plan(&core).unwrap(), reference);
        core.orders().customer_key("Zoë@Example.com").unwrap();
    }
    // A call past its deadline traps; the next call still answers as a fresh instance.
    core.set_deadline_ticks(0);
    assert!(plan(&core).is_err());
    core.set_deadline_ticks(ml_connector::component::DEFAULT_DEADLINE_TICKS);
    assert_eq!(plan(&core).unwrap(), reference);
    // From several threads at once.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..3 {
                    assert_eq!(plan(&core).unwrap(), reference);
                }
            });
        }
    });
}

#[test]
fn orders_reconcile_compares_through_the_boundary_and_names_bad_input() {
    let core = core();
    let o = core.orders();
    let order = br#"{"id":7,"status":"processing","total":"26.00","total_tax":"4.00","shipping_total":"5.00"}"#;
    let line = |item: &str, q: &str, p: &str, discounts: &[&str]| wo::ReconcileLine {
        item: item.into(),
        quantity: q.into(),
        gross_price: p.into(),
        discounts: discounts.iter().map(|d| d.to_string()).collect(),
    };
    let doc = |number: &str, net: Option<&str>, gross: Option<&str>| wo::ReconcileDocument {
        number: number.into(),
        net_total: net.map(Into::into),
        gross_total: gross.map(Into::into),
        lines: vec![
            line("MUG", "2", "9", &["0.5", "0"]),
            line("SHIP", "1", "5", &[]),
        ],
    };
    let rules = wo::ReconcileRules {
        reference: "WC-7".into(),
        to_post: true,
        shipping_items: vec!["SHIP".into()],
        tolerance: "0.01".into(),
        decimals: 2,
    };
    // Lines: 2 × (9 − 0.5) + 5 = 22.00 excl. tax, shipping 5.00; tax from the header.
    let v = o
        .reconcile(
            order,
            &[
                doc("SOH2", None, None),
                doc("SOH1", Some("22"), Some("26.5")),
            ],
            &rules,
        )
        .unwrap()
        .unwrap();
    assert_eq!(v.documents, ["SOH1", "SOH2"]);
    assert_eq!(
        v.problems,
        [wo::ReconcileProblem::Duplicated, wo::ReconcileProblem::Tax]
    );
    assert_eq!(
        (
            v.x3_total_excl_tax.as_deref(),
            v.x3_tax.as_deref(),
            v.x3_shipping.as_deref()
        ),
        (Some("22.00"), Some("4.50"), Some("5.00"))
    );
    assert_eq!(v.woo_total_excl_tax, "22.00");
    assert!(
        v.detail.contains("tax 4.00 in WooCommerce, 4.50 in X3"),
        "{}",
        v.detail
    );
    let missing = o.reconcile(order, &[], &rules).unwrap().unwrap();
    assert_eq!(missing.problems, [wo::ReconcileProblem::Missing]);
    assert_eq!(missing.x3_total_excl_tax, None);
    // Each refusal crosses as its variant.
    assert!(matches!(
        o.reconcile(b"{", &[], &rules).unwrap(),
        Err(wo::Error::InvalidJson(_))
    ));
    assert!(matches!(
        o.reconcile(br#"{"total":"abc"}"#, &[], &rules).unwrap(),
        Err(wo::Error::InvalidOrder(m)) if m.contains("total")
    ));
    let bad = wo::ReconcileRules {
        tolerance: "0,01".into(),
        ..rules.clone()
    };
    assert!(matches!(
        o.reconcile(order, &[], &bad).unwrap(),
        Err(wo::Error::InvalidSettings(m)) if m.contains("tolerance")
    ));
}

#[test]
fn a_posted_orders_state_crosses_the_boundary() {
    let core = core();
    let settings = core_settings(&core);
    let rows = rows(&core);
    let entry = |key: &str, kind: &str| wd::LedgerEntry {
        idempotency_key: key.into(),
        kind: kind.into(),
        done: true,
        x3_key: Some("X".into()),
    };
    let shipped = entry("shop1/order/39/ship", "delivery");
    let cases = [
        ("completed", vec![shipped.clone()], wi::PostedState::Shipped),
        ("refunded", vec![], wi::PostedState::Refunded),
        (
            "refunded",
            vec![entry("shop1/order/39/cancel", "cancel")],
            wi::PostedState::Cancelled,
        ),
        (
            "delivered",
            vec![entry("shop1/order/39/deliver", "delivered"), shipped],
            wi::PostedState::Delivered,
        ),
        ("processing", vec![], wi::PostedState::Posted),
    ];
    for (status, ledger, want) in cases {
        let f = wd::Facts {
            ledger,
            ..posted_facts(status)
        };
        let d = decide(&core, &body_bytes(), &rows, &settings, &f)
            .unwrap()
            .unwrap();
        assert_eq!(end(&d), wd::AfterPost::Done(want), "{status}");
    }
}

// ---- mapping ----

const CSV: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
product,13,TSHIRT,UN,706100,CCT=WEB,
variation,17,HOODIE-RED,UN,706100,CCT=WEB,FR012
sku,RW-CAP,CAP01,,,,
shipping,flat_rate,CARRIAGE,,708500,,
";

fn dims() -> Vec<String> {
    vec!["CCT".into()]
}

fn rows(core: &CoreRuntime) -> Vec<wm::MappingRow> {
    core.mapping().parse_csv(CSV, &dims()).unwrap().unwrap()
}

#[test]
fn mapping_parse_csv_json_and_to_csv_round_trip_through_the_boundary() {
    let core = core();
    let rows = rows(&core);
    assert_eq!(rows.len(), 4);
    assert!(matches!(rows[1].key, wm::MappingKey::Variation(17)));
    assert_eq!(rows[1].site.as_deref(), Some("FR012"));
    assert_eq!(rows[0].dimensions[0].dimension_type, "CCT");
    let csv = core.mapping().to_csv(&rows).unwrap();
    let again = core.mapping().parse_csv(&csv, &dims()).unwrap().unwrap();
    assert_eq!(again, rows);
    let json = r#"[{"key_type":"default","item_code":"MISC"},{"key_type":"fee","key":"Gift wrap","item_code":"GIFT"}]"#;
    let parsed = core.mapping().parse_json(json, &[]).unwrap().unwrap();
    assert!(matches!(parsed[0].key, wm::MappingKey::Default));
    assert!(matches!(&parsed[1].key, wm::MappingKey::Fee(n) if n == "Gift wrap"));
}

#[test]
fn mapping_errors_carry_every_row() {
    let core = core();
    let bad = "key_type,key,item_code\nproduct,x,A\nsku,,B\nsku,OK,C\n";
    match core.mapping().parse_csv(bad, &[]).unwrap() {
        Err(wm::Error::InvalidRows(errs)) => {
            assert_eq!(
                errs.iter()
                    .map(|e| (e.row, e.field.as_str()))
                    .collect::<Vec<_>>(),
                vec![(1, "key"), (2, "key")]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        core.mapping().parse_csv("a,b\n", &[]).unwrap(),
        Err(wm::Error::Malformed(_))
    ));
    assert!(matches!(
        core.mapping().parse_json("{", &[]).unwrap(),
        Err(wm::Error::Malformed(_))
    ));
}

#[test]
fn mapping_coverage_through_the_boundary() {
    let core = core();
    let rows = rows(&core);
    let entry = |p, v, sku: Option<&str>| wm::CatalogueEntry {
        product_id: p,
        variation_id: v,
        sku: sku.map(Into::into),
        name: format!("{p}/{v}"),
    };
    let catalogue = vec![
        entry(13, 0, Some("RW-TSHIRT")),
        entry(15, 17, None),
        entry(15, 18, Some("X")),
        entry(14, 0, Some("RW-CAP")),
    ];
    let cov = core.mapping().coverage(&rows, &catalogue).unwrap();
    assert_eq!((cov.mapped, cov.total), (3, 4));
    assert_eq!(cov.unmapped.len(), 1);
    assert_eq!(cov.unmapped[0].variation_id, 18);
    assert!(cov.by_default.is_empty());
}

// ---- orders ----

fn core_settings(core: &CoreRuntime) -> wo::Settings {
    let mut s = core.orders().default_settings().unwrap();
    s.store_id = "shop1".into();
    s.sales_site = "FR011".into();
    s.order_type = "WEB".into();
    s.customer_category = "WEBCU".into();
    s.dimension_types = dims();
    s
}

#[test]
fn orders_default_settings_are_the_documented_ones() {
    let core = core();
    let s = core.orders().default_settings().unwrap();
    assert_eq!(s.reference_prefix, "WC-");
    assert_eq!(s.currency_decimals, 2);
    assert_eq!(s.document_kind, wo::DocumentKind::Order);
    assert_eq!(s.price_basis, wo::PriceBasis::Net);
    assert!(s.wire.is_empty(), "no overrides: the reference's names");
    assert!(s.sales_site.is_empty() && s.order_type.is_empty());
}

#[test]
fn orders_check_settings_names_every_problem_under_its_field_and_plan_refuses_the_first() {
    let core = core();
    let good = core_settings(&core);
    assert_eq!(core.orders().check_settings(&good, &[]).unwrap(), vec![]);
    let mut bad = good.clone();
    bad.store_id = String::new();
    bad.reference_prefix = "WC1".into();
    bad.sales_site = "TOO-LONG-SITE".into();
    bad.customer_category = String::new();
    bad.wire = vec![
        ("rest.order.klass".into(), "X".into()),
        ("rest.order.class".into(), "A B".into()),
    ];
    let rows = vec![wm::MappingRow {
        key: wm::MappingKey::Sku("S1".into()),
        item_code: "ITEM".into(),
        sales_unit: None,
        gl_account: None,
        dimensions: vec![wm::Dimension {
            dimension_type: "NOPE".into(),
            value: "V".into(),
        }],
        site: None,
    }];
    let problems = core.orders().check_settings(&bad, &rows).unwrap();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "store-id",
            "reference-prefix",
            "sales-site",
            "wire.rest.order.klass",
            "wire.rest.order.class",
            "dimension-types",
            "customer-category"
        ]
    );
    assert!(
        problems[1].message.contains("ends with a digit"),
        "{problems:?}"
    );
    assert!(problems[5].message.contains("NOPE"), "{problems:?}");
    // `decide` refuses the same settings with the first problem's text.
    let refused = decide(&core, &body_bytes(), &rows, &bad, &facts(vec![])).unwrap();
    assert_eq!(
        refused,
        Err(wo::Error::InvalidSettings(problems[0].message.clone()))
    );
}

#[test]
fn orders_wire_names_resolve_overrides_and_name_a_bad_key() {
    let core = core();
    let all = core
        .orders()
        .wire_names(&[("rest.order.class".into(), "YSORDER".into())])
        .unwrap()
        .unwrap();
    let get = |k: &str| all.iter().find(|n| n.key == k).unwrap();
    let order = get("rest.order.class");
    assert_eq!(
        (
            order.value.as_str(),
            order.default_value.as_str(),
            order.source.as_str()
        ),
        ("YSORDER", "SORDER", "§1.1")
    );
    assert_eq!(get("rest.order.lines").value, "SOHSOP");
    assert_eq!(get("rest.customer.email-path").value, "BPADDRESS.WEB");
    assert_eq!(get("rest.stock.allocated").source, "", "ours: UNCONFIRMED");
    let keys: Vec<&str> = all.iter().map(|n| n.key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted, "in key order");
    for (k, v) in [("rest.order.klass", "X"), ("rest.order.class", "Y ORDER")] {
        let r = core.orders().wire_names(&[(k.into(), v.into())]).unwrap();
        assert!(
            matches!(&r, Err(wo::Error::InvalidSettings(m)) if m.contains(k)),
            "{k}: {r:?}"
        );
    }
}

/// The facts of order 39 in `processing`, with these outcomes reported.
fn facts(outcomes: Vec<(String, wd::RequestOutcome)>) -> wd::Facts {
    wd::Facts {
        order_id: 39,
        status: "processing".into(),
        trashed: false,
        posted: None,
        ledger: vec![],
        today: "2026-11-27".into(),
        refunds_handled: vec![],
        attention: None,
        outcomes: outcomes
            .into_iter()
            .map(|(idempotency_key, outcome)| wd::Reported {
                idempotency_key,
                outcome,
            })
            .collect(),
    }
}

/// Order 39 posted as SO0001 for customer C1, in `status`.
fn posted_facts(status: &str) -> wd::Facts {
    wd::Facts {
        status: status.into(),
        posted: Some(wd::PostedAs {
            document: "SO0001".into(),
            customer_code: "C1".into(),
        }),
        ..facts(vec![])
    }
}

/// `decisions#decide` with the default status map and stock settings (read once, from a
/// runtime of their own: the one given may be set to trap).
fn decide(
    core: &CoreRuntime,
    body: &[u8],
    rows: &[wm::MappingRow],
    settings: &wo::Settings,
    facts: &wd::Facts,
) -> anyhow::Result<Result<wd::Decision, wo::Error>> {
    static STOCK: std::sync::OnceLock<wi::StockSettings> = std::sync::OnceLock::new();
    let stock = STOCK.get_or_init(core_runtime_stock);
    decide_with(core, body, rows, settings, Some(stock), facts)
}

fn decide_with(
    core: &CoreRuntime,
    body: &[u8],
    rows: &[wm::MappingRow],
    settings: &wo::Settings,
    stock: Option<&wi::StockSettings>,
    facts: &wd::Facts,
) -> anyhow::Result<Result<wd::Decision, wo::Error>> {
    static MAP: std::sync::OnceLock<Vec<wi::StatusRule>> = std::sync::OnceLock::new();
    let map = MAP.get_or_init(core_runtime_map);
    core.decisions()
        .decide(body, rows, settings, map, stock, facts)
}

fn core_runtime_stock() -> wi::StockSettings {
    core().inventory().default_stock_settings().unwrap()
}

fn core_runtime_map() -> Vec<wi::StatusRule> {
    core().inventory().default_status_map().unwrap()
}

/// The document requests of a `run` verdict.
fn requests(d: &wd::Decision) -> Vec<wd::DocumentRequest> {
    match &d.verdict {
        wd::Verdict::Run(r) => r
            .iter()
            .map(|r| match r {
                wd::Request::Document(d) => d.clone(),
                other => panic!("expected a document request, got {other:?}"),
            })
            .collect(),
        other => panic!("expected requests, got {other:?}"),
    }
}

/// The after-post requests of a `run` verdict.
fn after_post_requests(d: &wd::Decision) -> Vec<wd::Request> {
    match &d.verdict {
        wd::Verdict::Run(r) => r.clone(),
        other => panic!("expected requests, got {other:?}"),
    }
}

/// The one action of a `run` verdict.
fn only_action(d: &wd::Decision) -> wd::ActionRequest {
    match after_post_requests(d).as_slice() {
        [wd::Request::Action(a)] => a.clone(),
        other => panic!("expected one action, got {other:?}"),
    }
}

fn end(d: &wd::Decision) -> wd::AfterPost {
    match &d.verdict {
        wd::Verdict::Posted(p) => p.end.clone(),
        other => panic!("expected posted, got {other:?}"),
    }
}

#[test]
fn decisions_decide_a_captured_order_through_the_boundary() {
    let core = core();
    let settings = core_settings(&core);
    let rows = rows(&core);
    let body = testdata("captures/delivery-order.created.body");
    let first = decide(&core, &body, &rows, &settings, &facts(vec![]))
        .unwrap()
        .unwrap();
    assert!(first.records.is_empty());
    // The hoodie variation maps, the t-shirt by product, the cap by SKU, shipping by method.
    let reqs = requests(&first);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].operation.kind, wo::OperationKind::EnsureCustomer);
    assert_eq!(reqs[0].cache_key.as_deref(), Some("o'brien+o2@example.com"));
    let customer = reqs[0].expected_key.clone().unwrap();
    let doc = &reqs[1].operation;
    assert!(reqs[1].ledger_first);
    assert_eq!(doc.kind, wo::OperationKind::CreateSalesOrder);
    assert_eq!(doc.reference, "WC-39");
    assert_eq!(doc.idempotency_key, "shop1/order/39/document");
    assert_eq!(doc.lookup.rest_where, "CUSORDREF eq 'WC-39'");
    let json: serde_json::Value = serde_json::from_str(&doc.rest_body).unwrap();
    let items: Vec<&str> = json["SOHSOP"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ITMREF"].as_str().unwrap())
        .collect();
    assert_eq!(items, vec!["TSHIRT", "HOODIE-RED", "CAP01", "CARRIAGE"]);
    assert_eq!(json["SOHSOP"][1]["GROPRI"], 47);
    let gql: serde_json::Value = serde_json::from_str(&doc.graphql_variables).unwrap();
    assert_eq!(gql["data"]["lines"][1]["grossPrice"], "47");

    // Every outcome variant crosses the boundary; the second call ends the attempt.
    let end = decide(
        &core,
        &body,
        &rows,
        &settings,
        &facts(vec![
            (
                reqs[0].operation.idempotency_key.clone(),
                wd::RequestOutcome::Created(customer.clone()),
            ),
            (
                doc.idempotency_key.clone(),
                wd::RequestOutcome::Found(wd::Found {
                    records: vec![wd::FoundRecord {
                        key: "SO0001".into(),
                        check: Some(customer.clone()),
                    }],
                    tried_before: false,
                }),
            ),
        ]),
    )
    .unwrap()
    .unwrap();
    let wd::Verdict::Posted(p) = &end.verdict else {
        panic!("{:?}", end.verdict)
    };
    assert_eq!((p.document.as_str(), p.now), ("SO0001", true));
    assert_eq!(p.end, wd::AfterPost::Done(wi::PostedState::Posted));
    assert_eq!(p.woo_customer_id, 2);
    assert!(end.records.contains(&wd::Record::CustomerMatch((
        "o'brien+o2@example.com".into(),
        customer.clone()
    ))));
    assert!(end.records.iter().any(|r| matches!(r,
        wd::Record::Adopted(a) if a.document == "SO0001" && a.kind == wo::OperationKind::CreateSalesOrder)));

    // A cached customer: planned again under its code, the document only.
    let cached = decide(
        &core,
        &body,
        &rows,
        &settings,
        &facts(vec![(
            reqs[0].operation.idempotency_key.clone(),
            wd::RequestOutcome::Cached("C1".into()),
        )]),
    )
    .unwrap()
    .unwrap();
    let again = requests(&cached);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].operation.lookup.check_value, "C1");
    assert_eq!(
        cached.records,
        vec![wd::Record::Note((
            "planned".into(),
            "1 X3 operation(s) for customer C1".into()
        ))]
    );

    // A refused create: one look-up only; then the ledger hears it failed.
    let refused = wd::RequestOutcome::Failed(wd::Failure {
        during: wd::Phase::Create,
        kind: wd::FailureKind::Refused,
        message: "locked".into(),
    });
    let base = vec![
        (
            reqs[0].operation.idempotency_key.clone(),
            wd::RequestOutcome::Created(customer),
        ),
        (doc.idempotency_key.clone(), refused),
    ];
    let look = decide(&core, &body, &rows, &settings, &facts(base.clone()))
        .unwrap()
        .unwrap();
    assert!(requests(&look)[0].lookup_only);
    let mut absent = base;
    absent.push((
        doc.idempotency_key.clone(),
        wd::RequestOutcome::Found(wd::Found {
            records: vec![],
            tried_before: true,
        }),
    ));
    let failed = decide(&core, &body, &rows, &settings, &facts(absent))
        .unwrap()
        .unwrap();
    assert_eq!(failed.verdict, wd::Verdict::Attention("locked".into()));
    assert!(failed.records.contains(&wd::Record::LedgerFailed((
        doc.idempotency_key.clone(),
        "locked".into()
    ))));
}

#[test]
fn decisions_each_verdict_without_x3() {
    let core = core();
    let settings = core_settings(&core);
    let rows = rows(&core);
    let mut f = facts(vec![]);
    f.status = "pending".into();
    let ask = |f: &wd::Facts| {
        decide(&core, &body_bytes(), &rows, &settings, f)
            .unwrap()
            .unwrap()
            .verdict
    };
    assert_eq!(ask(&f), wd::Verdict::Waiting);
    f.trashed = true;
    assert_eq!(ask(&f), wd::Verdict::Trashed);
    f.posted = Some(wd::PostedAs {
        document: "SO0001".into(),
        customer_code: "C1".into(),
    });
    assert!(matches!(ask(&f), wd::Verdict::Attention(m) if m.contains("trashed")));
    f.trashed = false;
    f.status = "completed".into();
    let wd::Verdict::Run(r) = ask(&f) else {
        panic!()
    };
    assert!(
        matches!(&r[..], [wd::Request::Action(a)] if a.kind == "delivery"),
        "{r:?}"
    );
    f.ledger = vec![wd::LedgerEntry {
        idempotency_key: "shop1/order/39/ship".into(),
        kind: "delivery".into(),
        done: true,
        x3_key: Some("DLV1".into()),
    }];
    let wd::Verdict::Posted(p) = ask(&f) else {
        panic!()
    };
    assert!(!p.now);
    assert_eq!(p.end, wd::AfterPost::Done(wi::PostedState::Shipped));
    // A failure X3 did not answer is a retry.
    let reqs = requests(
        &decide(&core, &body_bytes(), &rows, &settings, &facts(vec![]))
            .unwrap()
            .unwrap(),
    );
    let transient = facts(vec![(
        reqs[0].operation.idempotency_key.clone(),
        wd::RequestOutcome::Failed(wd::Failure {
            during: wd::Phase::Lookup,
            kind: wd::FailureKind::Transient,
            message: "busy".into(),
        }),
    )]);
    assert_eq!(ask(&transient), wd::Verdict::Retry("busy".into()));
    let recorded = facts(vec![(
        reqs[0].operation.idempotency_key.clone(),
        wd::RequestOutcome::Recorded("C7".into()),
    )]);
    // The ledger's code differs from the plan's: planned again under it.
    let wd::Verdict::Run(r) = ask(&recorded) else {
        panic!()
    };
    assert!(
        matches!(&r[0], wd::Request::Document(d) if d.operation.lookup.check_value == "C7"),
        "{r:?}"
    );
}

fn body_bytes() -> Vec<u8> {
    testdata("captures/delivery-order.created.body")
}

#[test]
fn decisions_decide_holds_with_every_missing_key() {
    let core = core();
    let settings = core_settings(&core);
    let rows: Vec<wm::MappingRow> = rows(&core)
        .into_iter()
        .filter(|r| !matches!(r.key, wm::MappingKey::Variation(_)))
        .collect();
    let outcome = decide(&core, &body_bytes(), &rows, &settings, &facts(vec![])).unwrap();
    let Ok(wd::Decision {
        verdict: wd::Verdict::Held(hold),
        ..
    }) = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(hold.missing.len(), 1);
    assert_eq!(hold.missing[0].line_id, 70);
    assert_eq!(
        hold.missing[0].tried,
        vec!["variation:17", "product:15", "sku:RW-HOODIE-RED"]
    );
}

#[test]
fn decisions_decide_each_error_variant() {
    let core = core();
    let good = core_settings(&core);
    let rows = rows(&core);
    let plan = |body: &[u8], s: &wo::Settings| {
        decide(&core, body, &rows, s, &facts(vec![]))
            .unwrap()
            .map(|d| d.verdict)
    };
    assert!(matches!(
        plan(b"<html>", &good),
        Err(wo::Error::InvalidJson(_))
    ));
    assert_eq!(
        plan(&testdata("samples/order.legacy-v3.json"), &good),
        Err(wo::Error::LegacyPayload)
    );
    assert!(matches!(
        plan(br#"{"code":"woocommerce_rest_cannot_view","message":"Sorry","data":{"status":401}}"#, &good),
        Err(wo::Error::RestError(m)) if m.contains("401")
    ));
    assert!(
        matches!(plan(br#"{"id":5,"line_items":[{"id":1,"quantity":-1}]}"#, &good), Err(wo::Error::InvalidOrder(m)) if m.contains("quantity"))
    );
    let mut bad = good.clone();
    bad.reference_prefix = "much-too-long".into();
    assert!(
        matches!(plan(&body_bytes(), &bad), Err(wo::Error::InvalidSettings(m)) if m.contains("reference-prefix"))
    );
}

#[test]
fn orders_customer_key_and_literals() {
    let core = core();
    let o = core.orders();
    assert_eq!(
        o.customer_key("  ZOË@Example.FR ").unwrap(),
        "zoë@example.fr"
    );
    assert_eq!(
        o.sdata_literal("o'brien@example.com").unwrap(),
        "'o''brien@example.com'"
    );
    assert_eq!(o.graphql_literal("o'brien\n").unwrap(), r"'o\'brien\u000a'");
}

// ---- inventory ----

#[test]
fn inventory_status_map_transition_and_refunds_through_the_boundary() {
    let core = core();
    let map = core.inventory().default_status_map().unwrap();
    assert!(
        map.iter()
            .any(|r| r.status == "completed" && r.stage == wi::Stage::Shipped)
    );
    assert_eq!(core.inventory().validate_status_map(&map).unwrap(), Ok(()));
    let mut dup = map.clone();
    dup.push(map[0].clone());
    assert!(matches!(
        core.inventory().validate_status_map(&dup).unwrap(),
        Err(wi::Error::InvalidStatusMap(m)) if m.contains("twice")
    ));
    let t = core
        .inventory()
        .transition("shop1", 39, Some("pending"), "completed", &map, true)
        .unwrap()
        .unwrap();
    let kinds: Vec<wi::IntentKind> = t.intents.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        vec![
            wi::IntentKind::Post,
            wi::IntentKind::Allocate,
            wi::IntentKind::Ship
        ]
    );
    assert_eq!(t.intents[2].idempotency_key, "shop1/order/39/ship");
    assert!(matches!(
        core.inventory()
            .transition("shop1", 39, None, "x", &dup, false)
            .unwrap(),
        Err(wi::Error::InvalidStatusMap(_))
    ));
}

#[test]
fn inventory_actions_after_posting_through_the_boundary() {
    let core = core();
    let settings = core_settings(&core);
    let rows = rows(&core);
    let map = core.inventory().default_status_map().unwrap();
    let mut st = core.inventory().default_stock_settings().unwrap();
    assert_eq!(
        (
            st.credit_note_type.as_str(),
            st.cancel,
            st.restock,
            st.deliver_charges,
            st.restock_status.as_str(),
            st.invoice_stock_issue
        ),
        ("", wi::CancelMode::Close, true, true, "A", true)
    );

    // due-intents: the ledger is the memory.
    let due = |cur: &str, done: &[wi::IntentKind]| {
        core.inventory()
            .due_intents("shop1", 39, cur, &map, done)
            .unwrap()
    };
    let t = due("delivered", &[wi::IntentKind::Post]).unwrap();
    assert_eq!(
        t.intents.iter().map(|i| i.kind).collect::<Vec<_>>(),
        vec![wi::IntentKind::Ship, wi::IntentKind::Deliver]
    );
    let t = due("cancelled", &[wi::IntentKind::Post, wi::IntentKind::Ship]).unwrap();
    assert!(t.intents.is_empty() && t.attention.unwrap().contains("after it shipped"));
    let mut bad = map.clone();
    bad.push(map[0].clone());
    assert!(matches!(
        core.inventory()
            .due_intents("shop1", 39, "x", &bad, &[])
            .unwrap(),
        Err(wi::Error::InvalidStatusMap(_))
    ));

    // The after-post stage through decide: a completed order's delivery, one line per line.
    let order = testdata("captures/delivery-order.created.body");
    let ask = |body: &[u8], st: &wi::StockSettings, f: &wd::Facts| {
        decide_with(&core, body, &rows, &settings, Some(st), f)
            .unwrap()
            .unwrap()
    };
    let req = only_action(&ask(&order, &st, &posted_facts("completed")));
    assert_eq!(req.kind, "delivery");
    let d = req.action;
    assert_eq!(d.kind, wi::ActionKind::CreateDelivery);
    assert_eq!(d.idempotency_key, "shop1/order/39/ship");
    let body: serde_json::Value = serde_json::from_str(&d.rest_body).unwrap();
    let lines: Vec<(i64, String, i64)> = body["SDELIVERYD"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["SOPLIN"].as_i64().unwrap(),
                l["ITMREF"].as_str().unwrap().to_string(),
                l["QTY"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (1000, "TSHIRT".into(), 1),
            (2000, "HOODIE-RED".into(), 2),
            (3000, "CAP01".into(), 1),
            (4000, "CARRIAGE".into(), 1)
        ]
    );
    assert_eq!(d.lookup.unwrap().rest_key_field, "SDHNUM");
    // Its outcomes cross back: created, then a refusal, a lost answer.
    let mut f = posted_facts("completed");
    f.outcomes.push(wd::Reported {
        idempotency_key: d.idempotency_key.clone(),
        outcome: wd::RequestOutcome::Created("DLV1".into()),
    });
    let shipped = ask(&order, &st, &f);
    assert_eq!(end(&shipped), wd::AfterPost::Done(wi::PostedState::Shipped));
    assert_eq!(
        shipped.records,
        vec![wd::Record::Note((
            "shipped".into(),
            "X3 delivery DLV1 for sales order SO0001: stock issued".into()
        ))]
    );
    f.outcomes[0].outcome = wd::RequestOutcome::Failed(wd::Failure {
        during: wd::Phase::Create,
        kind: wd::FailureKind::Unknown,
        message: "no answer".into(),
    });
    assert_eq!(
        end(&ask(&order, &st, &f)),
        wd::AfterPost::Retry("no answer".into())
    );
    // An order the delivery cannot be built from, a date that is not one: a person's.
    let attention = |body: &[u8], f: &wd::Facts| match end(&ask(body, &st, f)) {
        wd::AfterPost::Attention(m) => m,
        other => panic!("{other:?}"),
    };
    assert!(
        attention(b"{", &posted_facts("completed"))
            .starts_with("the order cannot go further in X3")
    );
    let later = wd::Facts {
        today: "later".into(),
        ..posted_facts("completed")
    };
    assert!(attention(&order, &later).starts_with("the [stock] settings"));

    // Cancelled before shipment: close, delete, or a person.
    let cancel = |st: &wi::StockSettings| ask(&order, st, &posted_facts("cancelled"));
    let a = only_action(&cancel(&st)).action;
    assert_eq!(
        (a.kind, a.rest_key.as_str()),
        (wi::ActionKind::CloseOrder, "SO0001")
    );
    assert_eq!(a.rest_body, r#"{"ORDSTA":2}"#);
    assert_eq!(a.expect[0].rest_field, "ORDSTA");
    st.cancel = wi::CancelMode::Delete;
    assert_eq!(
        only_action(&cancel(&st)).action.kind,
        wi::ActionKind::DeleteOrder
    );
    st.cancel = wi::CancelMode::Ignore;
    assert!(matches!(end(&cancel(&st)), wd::AfterPost::Attention(m) if m.contains("by hand")));

    // Refunds: read from WooCommerce, then held without a credit-note type, credited and
    // restocked with one.
    let mut v: serde_json::Value = serde_json::from_slice(&order).unwrap();
    v["refunds"] = serde_json::json!([{"id": 900, "reason": "", "total": "-23.99"}]);
    v["line_items"][0]["meta_data"] =
        serde_json::json!([{"id": 1, "key": "_restock_refunded_items", "value": "1"}]);
    let refunded = v.to_string().into_bytes();
    let mut f = posted_facts("completed");
    f.ledger = vec![wd::LedgerEntry {
        idempotency_key: "shop1/order/39/ship".into(),
        kind: "delivery".into(),
        done: true,
        x3_key: Some("DLV1".into()),
    }];
    let read = "shop1/order/39/refunds";
    assert_eq!(
        after_post_requests(&ask(&refunded, &st, &f)),
        vec![wd::Request::ReadRefunds(read.into())]
    );
    let refund = br#"{"id":900,"date_created":"2026-11-27T11:00:00","amount":"23.99","line_items":[{"id":901,"product_id":13,"quantity":-1,"total":"-19.99","total_tax":"-4.00","meta_data":[{"key":"_refunded_item_id","value":"69"}]}]}"#;
    let with_refunds = |bodies: Vec<Vec<u8>>| {
        let mut g = f.clone();
        g.outcomes.push(wd::Reported {
            idempotency_key: read.into(),
            outcome: wd::RequestOutcome::Refunds(Ok(bodies)),
        });
        g
    };
    let held = ask(&refunded, &st, &with_refunds(vec![refund.to_vec()]));
    assert!(
        matches!(end(&held), wd::AfterPost::Waits(m) if m.starts_with("refund 900 waits") && m.contains("credit-note-type"))
    );
    st.credit_note_type = "AVO".into();
    // One write a call: the credit note, then (reported created) the restock.
    let mut g = with_refunds(vec![refund.to_vec()]);
    let credit = only_action(&ask(&refunded, &st, &g));
    g.outcomes.push(wd::Reported {
        idempotency_key: credit.action.idempotency_key.clone(),
        outcome: wd::RequestOutcome::Created("AVO1".into()),
    });
    let restock = only_action(&ask(&refunded, &st, &g));
    let a = &credit.action;
    assert_eq!(credit.kind, "credit note");
    assert_eq!(a.idempotency_key, "shop1/order/39/refund/900/credit-note");
    assert_eq!(a.reference, "WC-39R900");
    let body: serde_json::Value = serde_json::from_str(&a.rest_body).unwrap();
    assert_eq!(body["SIVTYP"], "AVO");
    assert_eq!(body["SINVOICED"][0]["ITMREF"], "TSHIRT");
    assert_eq!(body["SINVOICED"][0]["GROPRI"], 19.99);
    let a = &restock.action;
    assert_eq!(restock.kind, "restock");
    assert_eq!(a.idempotency_key, "shop1/order/39/refund/900/restock/69");
    assert_eq!(a.kind, wi::ActionKind::CreateReceipt);
    assert_eq!(a.rest_class, "SMVTRCP");
    assert_eq!(
        a.lookup.as_ref().unwrap().rest_where,
        "VCRDES eq 'WC-39R900L69'"
    );
    let broken = ask(&refunded, &st, &with_refunds(vec![b"[]".to_vec()]));
    assert!(
        matches!(end(&broken), wd::AfterPost::Attention(m) if m.starts_with("the refund cannot be credited"))
    );
}

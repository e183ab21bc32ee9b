//! End to end: orders placed on woo-sim, delivered by its webhooks to the real `ml-connector`
//! binary, end in x3-sim as one sales document each — checked field by field in X3's records.

#![allow(clippy::unwrap_used)] // a test fails loudly on what it did not expect

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Auth, Env, HostProc, Lcg, Options, checkout, wait_until};
use serde_json::Value;

/// Places `n` orders and returns them as WooCommerce answered.
fn place(env: &Env, n: u64, seed: u64) -> Vec<Value> {
    let mut rng = Lcg(seed);
    (0..n)
        .map(|i| env.woo.place_order(&checkout(&mut rng, i)).unwrap())
        .collect()
}

fn sku_item(line: &Value) -> &'static str {
    match (
        line["sku"].as_str().unwrap_or(""),
        line["variation_id"].as_u64().unwrap_or(0),
        line["product_id"].as_u64().unwrap_or(0),
    ) {
        (_, 14, _) => "HOODIE-RED",
        (_, 15, _) => "HOODIE-BLUE",
        ("WOO-TSHIRT", _, _) => "TSHIRT",
        ("WOO-CAP", _, _) => "CAP",
        ("WOO-MUG", _, _) => "MUG",
        (_, _, 16) => "GIFTWRAP",
        other => panic!("unexpected line {other:?}"),
    }
}

fn dec(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_f64().unwrap(),
    }
}

/// Every placed order is in X3 exactly once, with the right customer, lines, prices, addresses
/// and dimensions. `lines_field` is where the document keeps its lines.
pub fn assert_posted_exactly_once(env: &Env, placed: &[Value]) {
    let by_ref = env.x3_orders_by_reference();
    let customers: BTreeMap<String, Value> = env
        .x3_records("BPCUSTOMER")
        .into_iter()
        .map(|c| (c["BPCNUM"].as_str().unwrap().to_string(), c))
        .collect();
    let twice: Vec<_> = by_ref
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, v)| (k.clone(), v.len()))
        .collect();
    assert!(
        twice.is_empty(),
        "CUSORDREF posted more than once: {twice:?}"
    );
    assert_eq!(by_ref.len(), placed.len(), "one X3 document per order");
    for o in placed {
        let id = o["id"].as_u64().unwrap();
        let docs = by_ref
            .get(&format!("WC-{id}"))
            .unwrap_or_else(|| panic!("order {id} is not in X3"));
        let doc = &docs[0];
        assert_eq!(doc["SALFCY"], "FR011");
        assert_eq!(doc["SOHTYP"], "WEB");
        assert_eq!(doc["CUR"], o["currency"]);
        assert_eq!(
            doc["ORDDAT"].as_str().unwrap(),
            &o["date_created"].as_str().unwrap()[..10]
        );
        let customer = &customers[doc["BPCORD"].as_str().unwrap()];
        let email = o["billing"]["email"]
            .as_str()
            .unwrap()
            .trim()
            .to_lowercase();
        // Standard BPCUSTOMER keeps the e-mail on its addresses (x3-api.md §5.1).
        assert_eq!(
            customer["BPADDRESS"][0]["WEB"].as_str().unwrap(),
            email,
            "order {id}: customer matched by e-mail"
        );
        let name = format!(
            "{} {}",
            o["billing"]["first_name"].as_str().unwrap(),
            o["billing"]["last_name"].as_str().unwrap()
        );
        assert_eq!(
            customer["BPRNAM"].as_str().unwrap(),
            name.chars().take(35).collect::<String>().trim_end()
        );
        assert_eq!(doc["BPDCTY"], o["shipping"]["city"]);
        assert_eq!(doc["BPDPOSCOD"], o["shipping"]["postcode"]);
        let lines = doc["SOHSOP"].as_array().unwrap();
        let woo_lines = o["line_items"].as_array().unwrap();
        assert_eq!(
            lines.len(),
            woo_lines.len() + 1,
            "order {id}: product lines and the shipping line"
        );
        for (x3, woo) in lines.iter().zip(woo_lines) {
            assert_eq!(x3["ITMREF"], sku_item(woo), "order {id}");
            let qty = woo["quantity"].as_f64().unwrap();
            assert_eq!(dec(&x3["QTY"]), qty);
            let unit = (dec(&woo["total"]) / qty * 10_000.0).round() / 10_000.0;
            assert!(
                (dec(&x3["GROPRI"]) - unit).abs() < 1e-9,
                "order {id}: price {} vs {unit}",
                x3["GROPRI"]
            );
            assert_eq!(
                x3["CCE1"].as_str().unwrap_or(""),
                if sku_item(woo) == "GIFTWRAP" {
                    ""
                } else {
                    "WEB"
                }
            );
            assert_eq!(x3["SAU"], "UN");
        }
        let ship = lines.last().unwrap();
        assert_eq!(ship["ITMREF"], "CARRIAGE");
        assert_eq!(dec(&ship["GROPRI"]), dec(&o["shipping_total"]));
        assert_eq!(ship["ACC"], "708500");
    }
}

fn run_scenario(name: &str, opts: Options, orders: u64) {
    let env = Env::new(name, opts);
    let host = HostProc::start(&env);
    let placed = place(&env, orders, 7);
    let settled = wait_until(Duration::from_secs(180), || {
        env.x3_records("SORDER").len() >= placed.len()
    });
    assert!(
        settled,
        "only {} of {} orders reached X3; host log:\n{}",
        env.x3_records("SORDER").len(),
        placed.len(),
        host.log()
    );
    // Let late deliveries arrive: nothing may be posted twice afterwards.
    std::thread::sleep(Duration::from_millis(500));
    assert_posted_exactly_once(&env, &placed);
    let status = host.terminate();
    assert!(status.success(), "SIGTERM drains and exits 0, got {status}");
}

#[test]
fn two_hundred_orders_become_two_hundred_sales_orders_over_rest_with_basic_auth() {
    run_scenario("rest-basic", Options::default(), 200);
}

#[test]
fn orders_post_over_graphql_with_a_connected_app_jwt() {
    run_scenario(
        "graphql-jwt",
        Options {
            graphql: true,
            auth: Auth::ConnectedApp,
            ..Options::default()
        },
        60,
    );
}

#[test]
fn orders_post_over_rest_with_oauth2_tokens() {
    run_scenario(
        "rest-oauth2",
        Options {
            auth: Auth::OAuth2,
            ..Options::default()
        },
        60,
    );
}

#[test]
fn orders_post_over_graphql_with_basic_auth() {
    run_scenario(
        "graphql-basic",
        Options {
            graphql: true,
            ..Options::default()
        },
        60,
    );
}

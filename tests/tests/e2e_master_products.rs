//! End to end: X3 item data reaches WooCommerce (`[master-data] products`), with the real
//! `ml-connector` binary against both simulators. Names, descriptions, base prices and blocked
//! items changed in x3-sim are written to the mapped woo-sim products and variations through
//! `products/batch`, only where they differ, never into a field the merchant keeps shop-owned,
//! and never publishing a product we did not block; stock is pushed as physical minus allocated.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed assertion

mod common;

use std::time::Duration;

use common::{Env, HostProc, Options, wait_until};
use serde_json::{Value, json};

const POLL: &str = r#"[x3-poll]
interval-secs = 1
overlap-secs = 2
"#;

fn options(graphql: bool, tail: &str) -> Options {
    Options {
        graphql,
        config_tail: format!("{POLL}{tail}"),
        ..Options::default()
    }
}

fn woo_url(env: &Env, path: &str) -> String {
    let c = env.woo.config();
    format!(
        "{}/wp-json/wc/v3/{path}?consumer_key={}&consumer_secret={}",
        env.woo.base_url(),
        c.consumer_key,
        c.consumer_secret
    )
}

/// A product or variation as WooCommerce's REST API answers it.
fn product(env: &Env, path: &str) -> Value {
    ureq::get(&woo_url(env, path))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

/// A shop manager's edit of a product in the admin.
fn edit(env: &Env, path: &str, body: &Value) {
    ureq::put(&woo_url(env, path)).send_json(body).unwrap();
}

fn requests(env: &Env, route: &str) -> u64 {
    env.woo.rest_requests()[route].as_u64().unwrap_or(0)
}

/// Waits until the host has completed one more poll than it had when called.
fn one_more_poll(host: &HostProc) {
    let seen = host.status()["x3_poll"]["last_poll_at"]
        .as_i64()
        .unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(30), || {
            host.status()["x3_poll"]["last_poll_at"]
                .as_i64()
                .unwrap_or(0)
                > seen
        }),
        "no poll completed"
    );
}

fn item(code: &str, extra: Value) -> Value {
    let mut v = json!({"ITMREF": code, "DES1AXX": code, "TCLCOD": "WEB", "STU": "UN", "SAU": "UN"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn item_data_changed_in_x3_reaches_the_mapped_products() {
    item_scenario("master-products-rest", false);
}

#[test]
fn item_data_changed_in_x3_reaches_the_mapped_products_over_graphql() {
    item_scenario("master-products-gql", true);
}

fn item_scenario(name: &str, graphql: bool) {
    let env = Env::new(name, options(graphql, "[master-data]\nproducts = true\n"));
    // The merchant prepares the cap as a draft: X3 saying the item is active must not publish it.
    edit(&env, "products/11", &json!({"status": "draft"}));
    env.x3
        .seed(&json!({"items": [
            item("TSHIRT", json!({"DES1AXX": "T-shirt bio", "DES2AXX": "Coton bio", "DES3AXX": "180 g", "BASPRI": "21.5"})),
            item("MUG", json!({"DES1AXX": "Mug", "ITMSTA": 6, "BASPRI": 9.5})),
            item("HOODIE-RED", json!({"DES1AXX": "Hoodie rouge", "DES2AXX": "Rouge", "BASPRI": "49"})),
            // An item the shop does not sell: not pushed, and not listed as a problem.
            item("SPARE", json!({"DES1AXX": "Spare part", "BASPRI": "3"})),
        ]}))
        .unwrap();
    // The harness's own edits (stock raised, the draft above) are not the host's.
    let puts_before = requests(&env, "PUT products/<id>");
    let variation_puts = requests(&env, "PUT products/<id>/variations/<id>");
    let host = HostProc::start(&env);
    let pushed = wait_until(Duration::from_secs(60), || {
        product(&env, "products/10")["name"] == "T-shirt bio"
            && product(&env, "products/12")["status"] == "private"
            && product(&env, "products/13/variations/14")["regular_price"] == "49.00"
    });
    assert!(pushed, "item data not pushed\n{}", host.log());
    let tshirt = product(&env, "products/10");
    assert_eq!(tshirt["short_description"], "Coton bio 180 g");
    assert_eq!(tshirt["regular_price"], "21.50");
    let mug = product(&env, "products/12");
    assert_eq!(
        mug["regular_price"], "9.50",
        "a blocked item's price is still X3's"
    );
    assert!(
        mug["meta_data"]
            .to_string()
            .contains("ml_connector_blocked"),
        "{mug}"
    );
    let red = product(&env, "products/13/variations/14");
    assert_eq!(red["description"], "Rouge", "a variation's description");
    let hoodie = product(&env, "products/13");
    assert_eq!(
        hoodie["name"], "Woo Hoodie",
        "the variable parent is not an X3 item"
    );
    assert_eq!(
        product(&env, "products/11")["status"],
        "draft",
        "a draft we did not block stays a draft"
    );
    assert_eq!(
        product(&env, "products/11")["name"],
        "CAP",
        "the cap's name is X3's"
    );
    // Batches only: no product was written one by one.
    assert!(requests(&env, "POST products/batch") >= 1);
    assert_eq!(
        requests(&env, "PUT products/<id>"),
        puts_before,
        "no product written one by one"
    );
    assert_eq!(
        requests(&env, "PUT products/<id>/variations/<id>"),
        variation_puts
    );

    // Nothing changes in X3: the next polls write nothing.
    one_more_poll(&host);
    let batches = requests(&env, "POST products/batch")
        + requests(&env, "POST products/<id>/variations/batch");
    one_more_poll(&host);
    one_more_poll(&host);
    assert_eq!(
        requests(&env, "POST products/batch")
            + requests(&env, "POST products/<id>/variations/batch"),
        batches,
        "a poll that reads no change writes nothing"
    );

    // The mug is sellable again in X3: published, the mark cleared; a new price on the T-shirt.
    env.x3
        .seed(&json!({"items": [
            item("MUG", json!({"DES1AXX": "Mug", "ITMSTA": 1, "BASPRI": 9.5})),
            item("TSHIRT", json!({"DES1AXX": "T-shirt bio", "DES2AXX": "Coton bio", "DES3AXX": "180 g", "BASPRI": "23.90"})),
        ]}))
        .unwrap();
    // The poll writes the products first and its status after: wait for both.
    let again = wait_until(Duration::from_secs(30), || {
        product(&env, "products/12")["status"] == "publish"
            && product(&env, "products/10")["regular_price"] == "23.90"
            && host.status()["x3_poll"]["products_pushed"]
                .as_array()
                .is_some_and(|l| {
                    l.iter().any(|p| {
                        p["item"] == "TSHIRT"
                            && p["fields"]["regular_price"] == json!(["21.50", "23.90"])
                    })
                })
    });
    assert!(again, "{}", host.status()["x3_poll"]);
    let mug = product(&env, "products/12");
    assert!(
        !mug["meta_data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["key"] == "ml_connector_blocked" && m["value"] != ""),
        "{mug}"
    );
    let status = host.status()["x3_poll"].clone();
    assert!(status["errors"].as_object().unwrap().is_empty(), "{status}");
    assert!(
        !status.to_string().contains("SPARE"),
        "an unmapped item is not news: {status}"
    );
    let last = status["products_pushed"].as_array().unwrap();
    assert!(
        last.iter()
            .any(|p| p["item"] == "TSHIRT"
                && p["fields"]["regular_price"] == json!(["21.50", "23.90"])),
        "{status}"
    );
    let page = host
        .get("/status")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(page.contains("id=\"products-pushed\""), "{page}");
    assert!(page.contains("23.90"), "{page}");
}

#[test]
fn fields_the_merchant_keeps_are_never_written() {
    let env = Env::new(
        "master-products-owned",
        options(
            false,
            "[master-data]\nproducts = true\nshop-owned = [\"name\"]\n",
        ),
    );
    // This one product's price is the shop's too (its own meta).
    edit(
        &env,
        "products/10",
        &json!({"meta_data": [{"key": "ml_connector_shop_owned", "value": "price"}]}),
    );
    env.x3
        .seed(&json!({"items": [
            item("TSHIRT", json!({"DES1AXX": "T-shirt bio", "DES2AXX": "Coton bio", "BASPRI": "30"})),
            item("MUG", json!({"DES1AXX": "Mug", "BASPRI": "12"})),
        ]}))
        .unwrap();
    let host = HostProc::start(&env);
    let pushed = wait_until(Duration::from_secs(60), || {
        product(&env, "products/12")["regular_price"] == "12.00"
            && product(&env, "products/10")["short_description"] == "Coton bio"
    });
    assert!(pushed, "{}\n{}", host.status()["x3_poll"], host.log());
    one_more_poll(&host);
    let tshirt = product(&env, "products/10");
    assert_eq!(tshirt["name"], "Woo T-shirt", "names are shop-owned");
    assert_eq!(tshirt["regular_price"], "19.99", "this product's price is");
    assert_eq!(product(&env, "products/12")["name"], "Café Mug");
}

#[test]
fn stock_pushed_is_what_can_be_sold_physical_minus_allocated() {
    for (name, quantity, want) in [
        ("master-stock-available", "available", 25),
        ("master-stock-physical", "physical", 40),
    ] {
        let env = Env::new(
            name,
            options(
                false,
                &format!("stock = true\n[master-data]\nstock-quantity = \"{quantity}\"\n"),
            ),
        );
        env.x3
            .seed(&json!({"stock": [
                {"STOFCY": "FR011", "ITMREF": "TSHIRT", "QTYSTU": 40, "CUMALLQTY": 15},
                {"STOFCY": "FR011", "ITMREF": "MUG", "QTYSTU": 5, "CUMALLQTY": 8},
            ]}))
            .unwrap();
        let puts_before = requests(&env, "PUT products/<id>");
        let host = HostProc::start(&env);
        let pushed = wait_until(Duration::from_secs(60), || {
            product(&env, "products/10")["stock_quantity"] == want
        });
        assert!(
            pushed,
            "{quantity}: {}\n{}",
            product(&env, "products/10")["stock_quantity"],
            host.log()
        );
        let mug = product(&env, "products/12")["stock_quantity"].clone();
        if quantity == "available" {
            assert_eq!(
                mug, 0,
                "more allocated than on hand: none to sell, never negative"
            );
        } else {
            assert_eq!(mug, 5);
        }
        assert_eq!(
            requests(&env, "PUT products/<id>"),
            puts_before,
            "batches only"
        );
    }
}

#[test]
fn prices_come_from_the_price_list_line_valid_today() {
    prices_scenario("master-prices-rest", false);
}

#[test]
fn prices_come_from_the_price_list_line_valid_today_over_graphql() {
    prices_scenario("master-prices-gql", true);
}

fn prices_scenario(name: &str, graphql: bool) {
    let env = Env::new(
        name,
        options(
            graphql,
            "[master-data]\nproducts = true\nprice-list = \"WEB\"\n",
        ),
    );
    let line = |pli: &str, n: &str, item: &str, price: &str, start: &str, end: Option<&str>| {
        let mut v = json!({"PLI": pli, "PLICRD": n, "PLICRI1": item, "PRI": price, "CUR": "EUR",
                           "PLISTRDAT": start});
        if let Some(e) = end {
            v["PLIENDDAT"] = json!(e);
        }
        v
    };
    env.x3
        .seed(&json!({
            // The base price is not the shop's price when a price list is configured.
            "items": [item("TSHIRT", json!({"BASPRI": "21.5"}))],
            "price_lists": [
                line("WEB", "1", "TSHIRT", "18", "2000-01-01", None),
                line("WEB", "2", "TSHIRT", "25", "2999-01-01", None),
                line("B2B", "1", "TSHIRT", "10", "2000-01-01", None),
                line("WEB", "3", "MUG", "5", "2000-01-01", Some("2001-01-01")),
                line("WEB", "4", "HOODIE-BLUE", "44.5", "2000-01-01", None),
            ],
        }))
        .unwrap();
    let host = HostProc::start(&env);
    let priced = wait_until(Duration::from_secs(60), || {
        product(&env, "products/10")["regular_price"] == "18.00"
            && product(&env, "products/13/variations/15")["regular_price"] == "44.50"
    });
    assert!(
        priced,
        "{} {}\n{}",
        product(&env, "products/10")["regular_price"],
        host.status()["x3_poll"],
        host.log()
    );
    one_more_poll(&host);
    assert_eq!(product(&env, "products/10")["regular_price"], "18.00");
    assert_eq!(
        product(&env, "products/12")["regular_price"],
        "9.50",
        "an ended line leaves the shop's price"
    );
    // A new price on the line in force.
    env.x3
        .seed(&json!({"price_lists": [line("WEB", "1", "TSHIRT", "17.5", "2000-01-01", None)]}))
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || {
            product(&env, "products/10")["regular_price"] == "17.50"
        }),
        "{}",
        host.status()["x3_poll"]
    );
    let status = host.status()["x3_poll"].clone();
    assert!(status["errors"].as_object().unwrap().is_empty(), "{status}");
    assert!(status["parts"]["prices"]["ok"] == true, "{status}");
}

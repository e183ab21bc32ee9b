//! x3-sim stock over real HTTP: STOCK keyed `STOFCY~STOCOU` (site + stock-line counter), several
//! lines per site and item, deliveries taking stock line by line, the seed form, and the stock
//! movement documents (miscellaneous receipts and issues).

mod x3_sim_common;

use mlc_sim::x3::X3Config;
use serde_json::{Value, json};
use x3_sim_common::{Resp, T};

#[track_caller]
fn assert_refused(r: &Resp, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    assert_eq!(v["$diagnoses"][0]["$severity"], "error", "{}", r.body);
    let msg = v["$diagnoses"][0]["$message"].as_str().unwrap_or("");
    assert!(msg.contains(needle), "{needle:?} not in {}", r.body);
}

fn stock_line(t: &T, key: &str) -> Value {
    let r = t.get(&t.rest(&format!("STOCK('{key}')"), "STOCK.$details"));
    assert_eq!(r.status, 200, "{key}: {}", r.body);
    r.json()
}

/// (key, QTYSTU) of every stock line of an item, in the order the query gives them.
fn lines_of(t: &T, item: &str) -> Vec<(String, Value)> {
    t.query_where("STOCK", &format!("ITMREF eq '{item}'"))
        .iter()
        .map(|r| {
            (
                r["$key"].as_str().unwrap_or("").to_string(),
                r["QTYSTU"].clone(),
            )
        })
        .collect()
}

fn order(t: &T, item: &str, qty: u32) -> String {
    let r = t.order("WC-S", "2025-06-01", json!([{"ITMREF": item, "QTY": qty}]));
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["SOHNUM"].as_str().expect("SOHNUM").to_string()
}

fn deliver(t: &T, soh: &str, qty: u32) -> Resp {
    t.create(
        "SDELIVERY",
        &json!({"SALFCY":"FR011","STOFCY":"FR011","BPCORD":"C001","DLVDAT":"2025-06-02","SOHNUM":soh,
                "SDELIVERYD":[{"SOPLIN":1000,"QTY":qty}]}),
    )
}

#[test]
fn stock_is_keyed_by_site_and_line_counter() {
    let t = T::seeded();
    let v = stock_line(&t, "FR011~1");
    for (k, want) in [
        ("$key", json!("FR011~1")),
        ("STOFCY", json!("FR011")),
        ("STOCOU", json!(1)),
        ("ITMREF", json!("ITM1")),
        ("STA", json!("A")),
        ("QTYSTU", json!(10)),
        ("CUMALLQTY", json!(0)),
    ] {
        assert_eq!(v[k], want, "{k}: {v}");
    }
    assert_eq!(stock_line(&t, "FR011~2")["ITMREF"], "ITM2");
    let r = t.get(&t.rest("STOCK('FR011~ITM1')", "STOCK.$details"));
    assert_refused(&r, 404, "does not exist");
    let r = t.get(&t.rest("STOCK", "STOCK.$lookup&where=ITMREF%20eq%20'ITM1'"));
    assert_eq!(r.json()["$resources"][0]["$key"], "FR011~1", "{}", r.body);
}

#[test]
fn deliveries_take_status_a_stock_line_by_line_in_counter_order() {
    let t = T::seeded();
    t.sim
        .seed(&json!({"stock": [
            {"STOFCY":"FR011","STOCOU":3,"ITMREF":"ITM2","LOT":"L1","QTYSTU":2},
            {"STOFCY":"FR011","STOCOU":4,"ITMREF":"ITM2","LOT":"L2","QTYSTU":5,"CUMALLQTY":1},
            {"STOFCY":"FR011","STOCOU":5,"ITMREF":"ITM2","STA":"Q","QTYSTU":100}
        ]}))
        .expect("seed");
    // ITM2: FR011~2 holds 1 (from the common seed), ~3 holds 2, ~4 holds 5 of which 1 allocated,
    // ~5 is in quality control (status Q) and is not available.
    let soh = order(&t, "ITM2", 9);
    assert_refused(&deliver(&t, &soh, 8), 500, "7 available, 8 required");
    let r = deliver(&t, &soh, 4);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        lines_of(&t, "ITM2"),
        [
            ("FR011~2".into(), json!(0)),
            ("FR011~3".into(), json!(0)),
            ("FR011~4".into(), json!(4)),
            ("FR011~5".into(), json!(100))
        ]
    );
    assert_refused(&deliver(&t, &soh, 4), 500, "Insufficient stock");
    assert_eq!(deliver(&t, &soh, 3).status, 201);
    assert_eq!(
        stock_line(&t, "FR011~4")["QTYSTU"],
        1,
        "the allocated unit stays"
    );
}

#[test]
fn seeding_without_stocou_assigns_the_next_counter_per_site() {
    let t = T::new();
    let base = t.sim.base_url();
    t.sim
        .seed(
            &json!({"items":[{"ITMREF":"ITM1","DES1AXX":"W","TCLCOD":"FIN","STU":"UN"}],
                          "stock": [
                {"STOFCY":"FR011","ITMREF":"ITM1","QTYSTU":1},
                {"STOFCY":"FR011","ITMREF":"ITM2","QTYSTU":2},
                {"STOFCY":"FR012","ITMREF":"ITM1","QTYSTU":3},
                {"STOFCY":"FR011","ITMREF":"ITM1","LOT":"L9","QTYSTU":4}
            ]}),
        )
        .expect("seed");
    let keys = |t: &T| -> Vec<String> {
        t.sim.state()["records"]["STOCK"]
            .as_array()
            .expect("stock")
            .iter()
            .map(|r| {
                format!(
                    "{}~{}={}",
                    r["STOFCY"].as_str().unwrap_or(""),
                    r["STOCOU"],
                    r["QTYSTU"]
                )
            })
            .collect()
    };
    assert_eq!(
        keys(&t),
        ["FR011~1=1", "FR011~2=2", "FR011~3=4", "FR012~1=3"]
    );
    // The control API takes the same form; the same site, item, status, lot and location again
    // updates that line, as seeds did when STOCK was keyed by site and item.
    let body = json!({"stock":[{"STOFCY":"FR011","ITMREF":"ITM1","QTYSTU":7}]}).to_string();
    let r = x3_sim_common::send(
        &t.agent,
        "POST",
        &format!("{base}/__sim/seed"),
        &[],
        Some(body.as_bytes()),
    )
    .expect("seed");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        keys(&t),
        ["FR011~1=7", "FR011~2=2", "FR011~3=4", "FR012~1=3"]
    );
    // An explicit STOCOU names its line; ten lines sort as numbers.
    let many: Vec<Value> = (4..=10)
        .map(|n| json!({"STOFCY":"FR011","STOCOU":n,"ITMREF":"ITM2","QTYSTU":n}))
        .collect();
    t.sim.seed(&json!({ "stock": many })).expect("seed");
    let k = keys(&t);
    assert_eq!((k[8].as_str(), k[9].as_str()), ("FR011~9=9", "FR011~10=10"));
    let r = t
        .sim
        .seed(&json!({"stock":[{"STOFCY":"FR011","QTYSTU":1}]}));
    assert!(r.is_err_and(|e| e.contains("ITMREF")));
}

#[test]
fn graphql_stock_node_shows_each_line() {
    let t = T::seeded();
    t.sim
        .seed(&json!({"stock": [{"STOFCY":"FR011","ITMREF":"ITM1","LOT":"L2","LOC":"A01","QTYSTU":3,"CUMALLQTY":1}]}))
        .expect("seed");
    let v = t.gql(
        "{ x3StockData { stock { query(filter: \"{product:{code:'ITM1'}}\") { edges { node {
            _id stockSite { code } product { code } lot location status quantityInStockUnit allocatedQuantity } } } } } }",
        Value::Null,
    );
    let nodes: Vec<Value> = v["data"]["x3StockData"]["stock"]["query"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(
        nodes,
        [
            json!({"_id":"FR011~1","stockSite":{"code":"FR011"},"product":{"code":"ITM1"},"lot":null,
                   "location":null,"status":"A","quantityInStockUnit":10,"allocatedQuantity":0}),
            json!({"_id":"FR011~3","stockSite":{"code":"FR011"},"product":{"code":"ITM1"},"lot":"L2",
                   "location":"A01","status":"A","quantityInStockUnit":3,"allocatedQuantity":1})
        ]
    );
    let v = t.gql(
        "{ x3StockData { stock { read(_id: \"FR011~2\") { product { code } quantityInStockUnit } } } }",
        Value::Null,
    );
    assert_eq!(
        v["data"]["x3StockData"]["stock"]["read"],
        json!({"product":{"code":"ITM2"},"quantityInStockUnit":1})
    );
}

#[test]
fn stock_lines_are_read_only_unless_stock_writes() {
    let t = T::seeded();
    let line = json!({"STOFCY":"FR011","ITMREF":"ITM1","QTYSTU":5});
    assert_refused(&t.create("STOCK", &line), 500, "stock movements");
    let edit = t.rest("STOCK('FR011~1')", "STOCK.$edit");
    assert_refused(
        &t.call("PUT", &edit, &json!({"QTYSTU":99})),
        500,
        "stock movements",
    );
    assert_refused(&t.call("DELETE", &edit, &json!({})), 500, "stock movements");
    let v = t.gql(
        "mutation { x3StockData { stock { create(data: {stockSite:\"FR011\", product:\"ITM1\", quantityInStockUnit: 5}) { _id } } } }",
        Value::Null,
    );
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("stock movements")),
        "{v}"
    );
    assert_eq!(stock_line(&t, "FR011~1")["QTYSTU"], 10);

    let t = T::with(X3Config {
        stock_writes: true,
        ..X3Config::default()
    });
    t.sim.seed(&x3_sim_common::seed()).expect("seed");
    let r = t.create("STOCK", &line);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (r.json()["$key"].clone(), r.json()["STA"].clone()),
        (json!("FR011~3"), json!("A"))
    );
    let edit = t.rest("STOCK('FR011~3')", "STOCK.$edit");
    assert_eq!(
        t.call("PUT", &edit, &json!({"QTYSTU":6})).json()["QTYSTU"],
        6
    );
    assert_eq!(t.call("DELETE", &edit, &json!({})).status, 200);
}

#[test]
fn stock_pages_by_key_in_counter_order_past_nine_lines() {
    let t = T::new();
    let lines: Vec<Value> = (1..=12)
        .map(|n| json!({"STOFCY":"FR011","ITMREF":"ITM1","LOT":format!("L{n}"),"QTYSTU":n}))
        .collect();
    t.sim.seed(&json!({ "stock": lines })).expect("seed");
    let mut url = t.rest("STOCK", "STOCK.$query&count=5");
    let mut seen = Vec::new();
    loop {
        let v = t.get(&url).json();
        for r in v["$resources"].as_array().expect("rows") {
            seen.push(r["$key"].as_str().unwrap_or("").to_string());
        }
        match v["$links"]["$next"]["$url"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    let want: Vec<String> = (1..=12).map(|n| format!("FR011~{n}")).collect();
    assert_eq!(seen, want);
    let v = t
        .get(&t.rest("STOCK", "STOCK.$query&key=gt.FR011~9"))
        .json();
    let keys: Vec<&str> = v["$resources"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["$key"].as_str())
        .collect();
    assert_eq!(keys, ["FR011~10", "FR011~11", "FR011~12"]);
}

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

// ---- stock movements: miscellaneous receipts (SMVTRCP) and issues (SMVTISS)

fn movement(site: &str, reference: &str, lines: Value) -> Value {
    json!({"STOFCY": site, "IPTDAT": "2025-06-05", "VCRDES": reference, "SMVTD": lines})
}

#[test]
fn miscellaneous_receipt_adds_to_the_first_line_of_site_item_status_or_a_new_one() {
    let t = T::seeded();
    let r = t.create(
        "SMVTRCP",
        &movement(
            "FR011",
            "WC-REFUND-17",
            json!([{"ITMREF":"ITM1","QTYSTU":3},{"ITMREF":"ITM2","QTYSTU":"2","STA":"Q","LOC":"QC1"}]),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let loc = r.header("location").expect("Location").to_string();
    assert!(loc.contains("/SMVTRCP('SMRFR011000001')"), "{loc}");
    let v = r.json();
    assert_eq!(v["VCRNUM"], "SMRFR011000001");
    assert_eq!(
        (
            v["SMVTD"][0]["VCRLIN"].clone(),
            v["SMVTD"][1]["VCRLIN"].clone()
        ),
        (json!(1000), json!(2000))
    );
    assert_eq!(v["SMVTD"][0]["STA"], "A", "status A unless given");
    assert!(v["CREDATTIM"].is_string() && v["UPDDATTIM"].is_string());
    assert_eq!(stock_line(&t, "FR011~1")["QTYSTU"], 13);
    assert_eq!(
        stock_line(&t, "FR011~2")["QTYSTU"],
        1,
        "status A line untouched"
    );
    let q = stock_line(&t, "FR011~3");
    assert_eq!(
        (
            q["ITMREF"].clone(),
            q["STA"].clone(),
            q["LOC"].clone(),
            q["QTYSTU"].clone()
        ),
        (json!("ITM2"), json!("Q"), json!("QC1"), json!(2))
    );
    // A site without stock gets its first line.
    let r = t.create(
        "SMVTRCP",
        &movement("FR012", "R2", json!([{"ITMREF":"ITM1","QTYSTU":5}])),
    );
    assert_eq!(r.json()["VCRNUM"], "SMRFR012000001", "{}", r.body);
    assert_eq!(stock_line(&t, "FR012~1")["QTYSTU"], 5);

    // Queryable by the client's reference, readable, never modified.
    let rs = t.query_where("SMVTRCP", "VCRDES eq 'WC-REFUND-17'");
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["$key"], "SMRFR011000001");
    let d = t.get(&loc).json();
    assert_eq!(d["SMVTD"][1]["LOC"], "QC1");
    let edit = t.rest("SMVTRCP('SMRFR011000001')", "SMVTRCP.$edit");
    assert_refused(
        &t.call("PUT", &edit, &json!({"VCRDES":"x"})),
        500,
        "cannot be modified",
    );
    assert_refused(
        &t.call("DELETE", &edit, &json!({})),
        500,
        "cannot be deleted",
    );
}

#[test]
fn refused_movements_change_no_stock() {
    let t = T::seeded();
    let given = movement("FR011", "R", json!([{"ITMREF":"ITM1","QTYSTU":1}]));
    let mut with_number = given.clone();
    with_number["VCRNUM"] = json!("MYREF1");
    assert_eq!(t.create("SMVTRCP", &with_number).status, 201);
    for (class, body, needle) in [
        ("SMVTRCP", with_number.clone(), "Record already exists"),
        (
            "SMVTISS",
            movement("FR011", "R", json!([{"ITMREF":"NOPE","QTYSTU":1}])),
            "product NOPE",
        ),
        (
            "SMVTRCP",
            movement("FR011", "R", json!([{"ITMREF":"ITM1","QTYSTU":0}])),
            "QTYSTU",
        ),
        (
            "SMVTISS",
            movement("FR011", "R", json!([{"ITMREF":"ITM1","QTYSTU":-1}])),
            "QTYSTU",
        ),
        ("SMVTRCP", movement("FR011", "R", json!([])), "SMVTD"),
        (
            "SMVTRCP",
            movement(
                "FR011",
                &"x".repeat(31),
                json!([{"ITMREF":"ITM1","QTYSTU":1}]),
            ),
            "VCRDES",
        ),
        (
            "SMVTISS",
            movement("FR011", "R", json!([{"ITMREF":"ITM1","QTYSTU":12}])),
            "Insufficient stock",
        ),
        (
            "SMVTISS",
            movement(
                "FR011",
                "R",
                json!([{"ITMREF":"ITM2","QTYSTU":1,"STA":"Q"}]),
            ),
            "Insufficient stock",
        ),
    ] {
        assert_refused(&t.create(class, &body), 500, needle);
    }
    let mut no_date = given;
    no_date.as_object_mut().map(|m| m.remove("IPTDAT"));
    assert_refused(&t.create("SMVTRCP", &no_date), 500, "IPTDAT");
    assert_eq!(
        stock_line(&t, "FR011~1")["QTYSTU"],
        11,
        "only the first receipt counted"
    );
    assert_eq!(t.sim.state()["counts"]["SMVTISS"], 0);
}

#[test]
fn miscellaneous_issue_takes_stock_like_a_delivery() {
    let t = T::seeded();
    t.sim
        .seed(&json!({"stock":[{"STOFCY":"FR011","ITMREF":"ITM1","LOT":"L2","QTYSTU":3}]}))
        .expect("seed");
    let r = t.create(
        "SMVTISS",
        &movement("FR011", "WC-SHIP-9", json!([{"ITMREF":"ITM1","QTYSTU":12}])),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["VCRNUM"], "SMIFR011000001");
    assert_eq!(
        lines_of(&t, "ITM1"),
        [("FR011~1".into(), json!(0)), ("FR011~3".into(), json!(1))],
        "taken line by line in STOCOU order"
    );
    assert_refused(
        &t.create(
            "SMVTISS",
            &movement("FR011", "R", json!([{"ITMREF":"ITM1","QTYSTU":2}])),
        ),
        500,
        "1 available, 2 required",
    );
    assert_eq!(t.query_where("SMVTISS", "VCRDES eq 'WC-SHIP-9'").len(), 1);

    let t = T::with(X3Config {
        allow_negative_stock: true,
        ..X3Config::default()
    });
    t.sim.seed(&x3_sim_common::seed()).expect("seed");
    let r = t.create(
        "SMVTISS",
        &movement("FR011", "R", json!([{"ITMREF":"ITM2","QTYSTU":3}])),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(stock_line(&t, "FR011~2")["QTYSTU"], -2);
}

#[test]
fn delivery_with_a_number_already_used_is_refused_before_taking_stock() {
    let t = T::seeded();
    let soh = order(&t, "ITM1", 4);
    let body = |n: &str| {
        json!({"SDHNUM":n,"SALFCY":"FR011","STOFCY":"FR011","BPCORD":"C001","DLVDAT":"2025-06-02",
               "SOHNUM":soh,"SDELIVERYD":[{"SOPLIN":1000,"QTY":1}]})
    };
    assert_eq!(t.create("SDELIVERY", &body("DLV1")).status, 201);
    assert_refused(
        &t.create("SDELIVERY", &body("DLV1")),
        500,
        "Record already exists",
    );
    assert_eq!(stock_line(&t, "FR011~1")["QTYSTU"], 9, "taken once");
    // An automatic number skips one a client took.
    let r = deliver(&t, &soh, 1);
    assert_eq!(r.json()["SDHNUM"], "SDHFR011000001");
    assert_eq!(t.create("SDELIVERY", &body("SDHFR011000002")).status, 201);
    assert_eq!(deliver(&t, &soh, 1).json()["SDHNUM"], "SDHFR011000003");
}

const RECEIPT_FIELDS: &str = "id stockSite { code } effectiveDate description _createStamp _updateStamp
    lines { query { edges { node { lineNumber product { code } quantityInStockUnit status location } } } }";

#[test]
fn graphql_x3stock_receipts_and_issues() {
    let t = T::seeded();
    let v = t.gql(
        &format!(
            "mutation($d: MiscellaneousReceipt_Input!) {{ x3Stock {{ miscellaneousReceipt {{ create(data: $d) {{ {RECEIPT_FIELDS} }} }} }} }}"
        ),
        json!({"d": {"stockSite":"FR011","effectiveDate":"2025-06-05","description":"WC-R1",
                     "lines":[{"product":"ITM2","quantityInStockUnit":"4","location":"A01"}]}}),
    );
    let n = &v["data"]["x3Stock"]["miscellaneousReceipt"]["create"];
    assert_eq!(n["id"], "SMRFR011000001", "{v}");
    assert_eq!(
        (
            n["stockSite"].clone(),
            n["effectiveDate"].clone(),
            n["description"].clone()
        ),
        (json!({"code":"FR011"}), json!("2025-06-05"), json!("WC-R1"))
    );
    assert_eq!(
        n["lines"]["query"]["edges"][0]["node"],
        json!({"lineNumber":1000,"product":{"code":"ITM2"},"quantityInStockUnit":4,"status":"A","location":"A01"})
    );
    assert!(n["_createStamp"].is_string());
    assert_eq!(stock_line(&t, "FR011~2")["QTYSTU"], 5);

    let v = t.gql(
        "{ x3Stock { miscellaneousReceipt { query(filter: \"{description:'WC-R1'}\") { totalCount edges { node { id } } } } } }",
        Value::Null,
    );
    assert_eq!(
        v["data"]["x3Stock"]["miscellaneousReceipt"]["query"]["edges"][0]["node"]["id"],
        "SMRFR011000001",
        "{v}"
    );
    let v = t.gql(
        "mutation { x3Stock { miscellaneousIssue { create(data: {stockSite:\"FR011\", effectiveDate:\"2025-06-06\",
            description:\"WC-I1\", lines:[{product:\"ITM2\", quantityInStockUnit:\"5\"}]}) { id } } } }",
        Value::Null,
    );
    assert_eq!(
        v["data"]["x3Stock"]["miscellaneousIssue"]["create"]["id"], "SMIFR011000001",
        "{v}"
    );
    assert_eq!(stock_line(&t, "FR011~2")["QTYSTU"], 0);
    let v = t.gql(
        "{ x3Stock { miscellaneousIssue { read(_id: \"SMIFR011000001\") { description lines { query { totalCount } } } } } }",
        Value::Null,
    );
    assert_eq!(
        v["data"]["x3Stock"]["miscellaneousIssue"]["read"],
        json!({"description":"WC-I1","lines":{"query":{"totalCount":1}}})
    );
    for m in [
        "mutation { x3Stock { miscellaneousIssue { update(data: {id:\"SMIFR011000001\", description:\"x\"}) { id } } } }",
        "mutation { x3Stock { miscellaneousReceipt { delete(_id: \"SMRFR011000001\") } } }",
    ] {
        let v = t.gql(m, Value::Null);
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .is_some_and(|e| e.contains("validated")),
            "{v}"
        );
    }
}

#[test]
fn movement_class_names_are_configurable() {
    let mut cfg = X3Config::default();
    cfg.classes.receipt = ("YSMR".into(), "YSMRWEB".into());
    cfg.classes.issue = ("YSMI".into(), "YSMI".into());
    let t = T::with(cfg);
    t.sim.seed(&x3_sim_common::seed()).expect("seed");
    let body = movement("FR011", "R", json!([{"ITMREF":"ITM1","QTYSTU":1}]));
    assert_eq!(t.create("SMVTRCP", &body).status, 404);
    let r = t.call("POST", &t.rest("YSMR", "YSMRWEB.$create"), &body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(t.create("YSMI", &body).status, 201);
    assert_eq!(
        t.sim.state()["classes"]["receipt"],
        json!(["YSMR", "YSMRWEB"])
    );
    assert_eq!(stock_line(&t, "FR011~1")["QTYSTU"], 10);
}

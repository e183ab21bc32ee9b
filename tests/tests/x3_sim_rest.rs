//! x3-sim REST api1 over real HTTP: CRUD, the `where` grammar, paging, errors, business rules,
//! auto-numbering, CUSORDREF duplicates, deliveries, configurable classes.

mod x3_sim_common;

use mlc_sim::x3::{X3Config, X3Sim};
use serde_json::{Value, json};
use x3_sim_common::{T, seed};

fn diag_message(v: &Value) -> String {
    v["$diagnoses"][0]["$message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn codes(rs: &[Value], field: &str) -> Vec<String> {
    rs.iter()
        .map(|r| r[field].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn customer_create_read_partial_update_delete() {
    let t = T::seeded();
    let body = json!({"BCGCOD":"WEB","BPCNUM":"WABC","BPRNAM":"Jane Doe","BPRSHO":"Jane Doe","CUR":"EUR",
        "BPAINV":"BIL","BPAADD":"BIL","BPDADD":"BIL",
        "BPADDRESS":[{"BPAADD":"BIL","BPADES":"Billing","BPAADDLIG":["1 rue X","",""],"POSCOD":"75001",
                      "CTY":"Paris","CRY":"FR","WEB":"jane@example.com","BPAADDFLG":2}]});
    let r = t.create("BPCUSTOMER", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let loc = r.header("location").expect("Location").to_string();
    assert!(
        loc.contains("/api1/x3/erp/SEED/BPCUSTOMER('WABC')"),
        "{loc}"
    );
    let created = r.json();
    assert_eq!(created["BPRNAM"], "Jane Doe");
    let cre = created["CREDATTIM"].as_str().unwrap_or("").to_string();
    assert_eq!(cre.len(), 20, "ISO stamp: {cre}");
    assert!(created["$uuid"].is_string() && created["$etag"].is_string());
    assert!(created["BPADDRESS"][0]["$uuid"].is_string());

    let r = t.get(&loc);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["BPADDRESS"][0]["CTY"], "Paris");

    let edit = t.rest("BPCUSTOMER('WABC')", "BPCUSTOMER.$edit");
    let r = t.call("PUT", &edit, &json!({"BPRNAM":"Jane Smith"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["BPRNAM"], "Jane Smith");
    assert_eq!(v["CUR"], "EUR", "a partial PUT keeps what it does not name");
    assert_eq!(v["CREDATTIM"], cre.as_str());
    assert!(v["UPDDATTIM"].as_str().is_some_and(|u| u >= cre.as_str()));

    let r = t.call("DELETE", &edit, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(t.get(&loc).status, 404);
}

#[test]
fn second_customer_with_the_same_code_is_refused() {
    let t = T::seeded();
    let body =
        json!({"BCGCOD":"WEB","BPCNUM":"WDUP","BPRNAM":"Twin","BPADDRESS":[{"BPAADD":"BIL"}]});
    assert_eq!(t.create("BPCUSTOMER", &body).status, 201);
    let r = t.create("BPCUSTOMER", &body);
    assert_eq!(r.status, 500);
    assert!(
        diag_message(&r.json()).contains("already exists"),
        "{}",
        r.body
    );
    assert_eq!(t.sim.state()["counts"]["BPCUSTOMER"], 3);
}

#[test]
fn customer_validation_errors_carry_diagnoses() {
    let t = T::seeded();
    for (body, needle) in [
        (
            json!({"BPCNUM":"W1","BPRNAM":"X","BPADDRESS":[{"BPAADD":"BIL"}]}),
            "BCGCOD",
        ),
        (
            json!({"BCGCOD":"WEB","BPCNUM":"W1","BPADDRESS":[{"BPAADD":"BIL"}]}),
            "BPRNAM",
        ),
        (
            json!({"BCGCOD":"WEB","BPCNUM":"W1","BPRNAM":"X"}),
            "BPADDRESS",
        ),
        (
            json!({"BCGCOD":"WEB","BPCNUM":"W1","BPRNAM":"X","BPADDRESS":[]}),
            "BPADDRESS",
        ),
        (
            json!({"BCGCOD":"NOPE","BPCNUM":"W1","BPRNAM":"X","BPADDRESS":[{"BPAADD":"BIL"}]}),
            "category",
        ),
        (
            json!({"BCGCOD":"WEB","BPCNUM":"W1","BPRNAM":"X","BPAINV":"SHP","BPADDRESS":[{"BPAADD":"BIL"}]}),
            "BPAINV",
        ),
        (
            json!({"BCGCOD":"WEB","BPCNUM":"W1","BPRNAM":"X","BPADDRESS":[{"BPAADD":"BIL"}],"EMAIL":"x"}),
            "unknown property",
        ),
    ] {
        let r = t.create("BPCUSTOMER", &body);
        assert_eq!(r.status, 500, "{body}: {}", r.body);
        let v = r.json();
        assert_eq!(v["$diagnoses"][0]["$severity"], "error");
        assert!(diag_message(&v).contains(needle), "{needle}: {}", r.body);
    }
    assert_eq!(
        t.sim.state()["counts"]["BPCUSTOMER"],
        2,
        "nothing was stored"
    );
}

#[test]
fn order_is_auto_numbered_with_lines_1000_2000_and_starts_open() {
    let t = T::seeded();
    let r = t.order(
        "WC-1",
        "2025-06-01",
        json!([{"ITMREF":"ITM1","QTY":"2","GROPRI":"12.5000"},{"ITMREF":"ITM2","QTY":1}]),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(v["SOHNUM"], "SOHFR011000001");
    assert_eq!(v["SOHSOP"][0]["SOPLIN"], 1000);
    assert_eq!(v["SOHSOP"][1]["SOPLIN"], 2000);
    assert_eq!(
        v["SOHSOP"][0]["QTY"], 2,
        "quantities sent as strings are numbers"
    );
    assert_eq!(v["SOHSOP"][0]["GROPRI"], 12.5);
    assert_eq!(
        (v["DLVSTA"].clone(), v["ORDSTA"].clone()),
        (json!(1), json!(1))
    );
    let r = t.order("WC-2", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}]));
    assert_eq!(r.json()["SOHNUM"], "SOHFR011000002");
}

#[test]
fn order_validation_errors() {
    let t = T::seeded();
    let good = json!({"SALFCY":"FR011","SOHTYP":"WEB","BPCORD":"C001","ORDDAT":"2025-06-01",
                      "STOFCY":"FR011","CUR":"EUR","SOHSOP":[{"ITMREF":"ITM1","QTY":1}]});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = good.clone();
        b.as_object_mut().map(|m| m.remove(k));
        b
    };
    for (body, needle) in [
        (with("BPCORD", json!("NOPE")), "BPCORD"),
        (with("SOHSOP", json!([{"ITMREF":"NOPE","QTY":1}])), "NOPE"),
        (with("SOHSOP", json!([{"ITMREF":"ITM1","QTY":0}])), "QTY"),
        (with("SOHSOP", json!([{"ITMREF":"ITM1","QTY":"-1"}])), "QTY"),
        (with("SOHSOP", json!([])), "SOHSOP"),
        (with("ORDDAT", json!("2025-02-30")), "ORDDAT"),
        (without("SALFCY"), "SALFCY"),
        (without("SOHTYP"), "SOHTYP"),
        (without("STOFCY"), "STOFCY"),
        (without("CUR"), "CUR"),
        (without("ORDDAT"), "ORDDAT"),
    ] {
        let r = t.create("SORDER", &body);
        assert_eq!(r.status, 500, "{body}: {}", r.body);
        assert!(
            diag_message(&r.json()).contains(needle),
            "{needle}: {}",
            r.body
        );
    }
    assert_eq!(t.sim.state()["counts"]["SORDER"], 0);
}

#[test]
fn same_cusordref_twice_is_stored_twice() {
    // X3 does not enforce CUSORDREF uniqueness (x3-api.md §6): dedupe is the connector's job,
    // and the tests that check it count what the simulator stored.
    let t = T::seeded();
    for _ in 0..2 {
        let r = t.order("WC-1234", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}]));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let rs = t.query_where("SORDER", "CUSORDREF eq 'WC-1234'");
    assert_eq!(rs.len(), 2);
    assert_eq!(t.sim.state()["counts"]["SORDER"], 2);
}

#[test]
fn where_grammar_quotes_functions_lists_ranges_patterns_and_dates() {
    let t = T::seeded();
    for (r, d) in [
        ("A-1", "2025-01-10"),
        ("B-2", "2025-03-05"),
        ("C-3", "2025-06-20"),
    ] {
        assert_eq!(
            t.order(r, d, json!([{"ITMREF":"ITM1","QTY":1}])).status,
            201
        );
    }
    let q = |c: &str, w: &str, f: &str| codes(&t.query_where(c, w), f);
    assert_eq!(
        q("BPCUSTOMER", "BPRNAM eq 'O''Brien Ltd'", "BPCNUM"),
        ["C001"]
    );
    assert_eq!(
        q(
            "BPCUSTOMER",
            "upper(BPADDRESS.WEB) eq 'O''BRIEN@EXAMPLE.COM'",
            "BPCNUM"
        ),
        ["C001"]
    );
    assert_eq!(
        q("BPCUSTOMER", "left(BPRNAM,4) eq 'Acme'", "BPCNUM"),
        ["C002"]
    );
    assert_eq!(q("BPCUSTOMER", "CUR in ('USD','GBP')", "BPCNUM"), ["C002"]);
    assert_eq!(
        q("BPCUSTOMER", "BPADDRESS.WEB like '%example%'", "BPCNUM"),
        ["C001"]
    );
    assert_eq!(
        q(
            "BPCUSTOMER",
            "not (CUR eq 'EUR') or BPCNUM eq 'C001'",
            "BPCNUM"
        ),
        ["C001", "C002"]
    );
    assert_eq!(
        q(
            "SORDER",
            "ORDDAT between @2025-02-01@ and @2025-06-20@",
            "CUSORDREF"
        ),
        ["B-2", "C-3"]
    );
    assert_eq!(
        q(
            "SORDER",
            "ORDDAT lt @2025-02-01@ and CUSORDREF ne 'X'",
            "CUSORDREF"
        ),
        ["A-1"]
    );
    assert_eq!(
        q(
            "SORDER",
            "CUSORDREF gt 'A-1' and CUSORDREF le 'B-2'",
            "CUSORDREF"
        ),
        ["B-2"]
    );
    // Datetime literal glued to `and`, as production code sends it (x3-api.md §1.4).
    assert_eq!(
        q(
            "SORDER",
            "CREDATTIM ge @2000-01-01T00:00:01Z@and CUSORDREF eq 'C-3'",
            "CUSORDREF"
        ),
        ["C-3"]
    );
    assert!(q("SORDER", "UPDDATTIM gt @2999-01-01T00:00:00Z@", "CUSORDREF").is_empty());
    assert_eq!(
        q("SORDER", "DLVSTA eq 1 and ORDSTA ge 1", "CUSORDREF").len(),
        3
    );
    let r = t.get(&t.rest("SORDER", "SORDER.$query&orderBy=ORDDAT%20desc;SOHNUM"));
    assert_eq!(
        codes(
            r.json()["$resources"].as_array().expect("rows"),
            "CUSORDREF"
        ),
        ["C-3", "B-2", "A-1"]
    );
}

#[test]
fn paging_follows_next_links_and_key_gt() {
    let t = T::new();
    let items: Vec<Value> = (1..=25)
        .map(|i| json!({"ITMREF": format!("P{i:03}"), "DES1AXX":"x","TCLCOD":"FIN","STU":"UN"}))
        .collect();
    t.sim.seed(&json!({"items": items})).expect("seed");
    let mut url = t.rest("ITMMASTER", "ITMMASTER.$query&count=10");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let v = t.get(&url).json();
        assert_eq!(v["$itemsPerPage"], 10);
        let rs = v["$resources"].as_array().cloned().unwrap_or_default();
        for r in &rs {
            assert!(r["$uuid"].is_string() && r["$url"].is_string());
            assert_eq!(r["$key"], r["ITMREF"]);
        }
        seen.extend(codes(&rs, "ITMREF"));
        pages += 1;
        match v["$links"]["$next"]["$url"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let want: Vec<String> = (1..=25).map(|i| format!("P{i:03}")).collect();
    assert_eq!(seen, want);
    let v = t
        .get(&t.rest("ITMMASTER", "ITMMASTER.$query&count=3&key=gt.P020"))
        .json();
    assert_eq!(
        codes(v["$resources"].as_array().expect("rows"), "ITMREF"),
        ["P021", "P022", "P023"]
    );
    let v = t
        .get(&t.rest("ITMMASTER", "ITMMASTER.$query&key=gt.P020"))
        .json();
    assert_eq!(v["$itemsPerPage"], 20, "default count");
    assert!(v["$links"]["$next"].is_null(), "no next on the last page");
}

#[test]
fn unknown_where_field_or_bad_syntax_is_500_with_diagnoses() {
    let t = T::seeded();
    for w in [
        "NOSUCHFIELD%20eq%201",
        "CUSORDREF%20eq%20'unterminated",
        "CUSORDREF%20eq",
        "(CUSORDREF%20eq%20'a'",
        "nosuchfn(CUSORDREF)%20eq%20'a'",
    ] {
        let r = t.get(&t.rest("SORDER", &format!("SORDER.$query&where={w}")));
        assert_eq!(r.status, 500, "{w}: {}", r.body);
        assert_eq!(r.json()["$diagnoses"][0]["$severity"], "error");
    }
    let r = t.get(&t.rest("SORDER", "SORDER.$query&orderBy=NOPE"));
    assert_eq!(r.status, 500);
}

#[test]
fn unknown_folder_class_or_representation_is_an_error() {
    let t = T::seeded();
    let base = t.sim.base_url();
    for (url, status) in [
        (
            format!("{base}/api1/x3/erp/OTHER/SORDER?representation=SORDER.$query"),
            404,
        ),
        (
            format!("{base}/api1/x3/erp/SEED/NOPE?representation=NOPE.$query"),
            404,
        ),
        (
            format!("{base}/api1/x3/erp/SEED/SORDER?representation=BPCUSTOMER.$query"),
            400,
        ),
        (format!("{base}/api1/x3/erp/SEED/SORDER"), 400),
        (
            format!("{base}/api1/x3/erp/SEED/SORDER?representation=SORDER.$bogus"),
            400,
        ),
        (
            format!("{base}/api1/x3/erp/SEED/SORDER('NOPE')?representation=SORDER.$details"),
            404,
        ),
    ] {
        let r = t.get(&url);
        assert_eq!(r.status, status, "{url}: {}", r.body);
        assert!(r.json()["$diagnoses"].is_array());
    }
}

#[test]
fn composite_keys_double_quotes_and_stock_lookup() {
    let t = T::seeded();
    for key in ["('FR011~1')", "(\"FR011~1\")"] {
        let r = t.get(&t.rest(&format!("STOCK{key}"), "STOCK.$details"));
        assert_eq!(r.status, 200, "{key}: {}", r.body);
        assert_eq!(r.json()["QTYSTU"], 10);
    }
    let r = t.get(&t.rest("STOCK", "STOCK.$lookup&where=ITMREF%20eq%20'ITM2'"));
    assert_eq!(r.status, 200);
    let rs = r.json()["$resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["$key"], "FR011~2");
    let r = t.get(&t.rest("BPCUSTOMER('C001')", "BPCUSTOMER.$details"));
    assert_eq!(r.json()["BPRNAM"], "O'Brien Ltd");
}

/// The quantity on the (only) FR011 stock line of an item.
fn stock(t: &T, item: &str) -> Value {
    let rs = t.query_where(
        "STOCK",
        &format!("STOFCY eq 'FR011' and ITMREF eq '{item}'"),
    );
    assert_eq!(rs.len(), 1, "{rs:?}");
    rs[0]["QTYSTU"].clone()
}

fn deliver(t: &T, soh: &str, lines: Value) -> x3_sim_common::Resp {
    t.create(
        "SDELIVERY",
        &json!({"SALFCY":"FR011","STOFCY":"FR011","BPCORD":"C001","DLVDAT":"2025-06-02","SOHNUM":soh,
                "SDELIVERYD":lines}),
    )
}

#[test]
fn delivery_decrements_stock_and_moves_dlvsta_1_2_3() {
    let t = T::seeded();
    let o = t
        .order(
            "WC-9",
            "2025-06-01",
            json!([{"ITMREF":"ITM1","QTY":3},{"ITMREF":"ITM2","QTY":1}]),
        )
        .json();
    let soh = o["SOHNUM"].as_str().expect("SOHNUM").to_string();
    let order_url = t.rest(&format!("SORDER('{soh}')"), "SORDER.$details");

    let r = deliver(
        &t,
        &soh,
        json!([{"SOHNUM":soh,"SOPLIN":1000,"ITMREF":"ITM1","QTY":2}]),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["SDHNUM"], "SDHFR011000001");
    assert_eq!(stock(&t, "ITM1"), 8);
    let o = t.get(&order_url).json();
    assert_eq!(o["DLVSTA"], 2, "partly delivered");
    assert_eq!(o["SOHSOP"][0]["DLVQTY"], 2);

    let r = deliver(&t, &soh, json!([{"SOPLIN":1000,"QTY":2}]));
    assert_eq!(r.status, 500, "over-delivery: {}", r.body);
    let r = deliver(&t, &soh, json!([{"SOPLIN":1000,"ITMREF":"ITM2","QTY":1}]));
    assert_eq!(r.status, 500, "wrong item: {}", r.body);

    let r = deliver(
        &t,
        &soh,
        json!([{"SOPLIN":1000,"QTY":1},{"SOPLIN":2000,"QTY":"1"}]),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!((stock(&t, "ITM1"), stock(&t, "ITM2")), (json!(7), json!(0)));
    assert_eq!(t.get(&order_url).json()["DLVSTA"], 3, "fully delivered");

    let edit = t.rest(&format!("SORDER('{soh}')"), "SORDER.$edit");
    let r = t.call("PUT", &edit, &json!({"ORDSTA":2}));
    assert_eq!(
        r.status, 500,
        "a delivered order cannot be closed: {}",
        r.body
    );
}

#[test]
fn delivery_refused_for_insufficient_stock_changes_nothing() {
    let t = T::seeded();
    let soh = t
        .order(
            "WC-10",
            "2025-06-01",
            json!([{"ITMREF":"ITM1","QTY":1},{"ITMREF":"ITM2","QTY":5}]),
        )
        .json()["SOHNUM"]
        .as_str()
        .expect("SOHNUM")
        .to_string();
    let r = deliver(
        &t,
        &soh,
        json!([{"SOPLIN":1000,"QTY":1},{"SOPLIN":2000,"QTY":5}]),
    );
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("Insufficient stock"), "{}", r.body);
    assert_eq!(
        (stock(&t, "ITM1"), stock(&t, "ITM2")),
        (json!(10), json!(1))
    );
    let o = t
        .get(&t.rest(&format!("SORDER('{soh}')"), "SORDER.$details"))
        .json();
    assert_eq!(o["DLVSTA"], 1);
    assert_eq!(t.sim.state()["counts"]["SDELIVERY"], 0);

    // Closing an open order works, and a closed order takes no delivery.
    let edit = t.rest(&format!("SORDER('{soh}')"), "SORDER.$edit");
    let r = t.call("PUT", &edit, &json!({"ORDSTA":2}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["ORDSTA"], 2);
    let r = deliver(&t, &soh, json!([{"SOPLIN":1000,"QTY":1}]));
    assert_eq!(r.status, 500, "{}", r.body);
}

#[test]
fn negative_stock_is_allowed_when_configured() {
    let t = T::with(X3Config {
        allow_negative_stock: true,
        ..X3Config::default()
    });
    t.sim.seed(&seed()).expect("seed");
    let soh = t
        .order("WC-11", "2025-06-01", json!([{"ITMREF":"ITM2","QTY":3}]))
        .json()["SOHNUM"]
        .as_str()
        .expect("SOHNUM")
        .to_string();
    assert_eq!(
        deliver(&t, &soh, json!([{"SOPLIN":1000,"QTY":3}])).status,
        201
    );
    assert_eq!(stock(&t, "ITM2"), -2);
}

#[test]
fn invoice_is_numbered_and_validated() {
    let t = T::seeded();
    let good = json!({"SIVTYP":"INV","SALFCY":"FR011","BPCINV":"C001","CUR":"EUR","INVDAT":"2025-06-03",
                      "CUSORDREF":"WC-5","SINVOICED":[{"ITMREF":"ITM1","QTY":1,"GROPRI":"9.99"}]});
    let r = t.create("SINVOICE", &good);
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(v["NUM"], "SIHFR011000001");
    assert_eq!(v["SINVOICED"][0]["SIDLIN"], 1000);
    let mut bad = good.clone();
    bad["BPCINV"] = json!("NOPE");
    assert_eq!(t.create("SINVOICE", &bad).status, 500);
    let mut bad = good.clone();
    bad["SINVOICED"] = json!([{"ITMREF":"NOPE","QTY":1}]);
    assert_eq!(t.create("SINVOICE", &bad).status, 500);
    let mut bad = good;
    bad.as_object_mut().map(|m| m.remove("SIVTYP"));
    assert_eq!(t.create("SINVOICE", &bad).status, 500);
}

#[test]
fn class_and_representation_names_are_configurable() {
    let mut cfg = X3Config::default();
    cfg.classes.order = ("YSOH".into(), "YSOHWEB".into());
    let sim = X3Sim::start(cfg).expect("start");
    let t = x3_sim_common::T {
        auth: x3_sim_common::basic_header(sim.config()),
        agent: x3_sim_common::agent(std::time::Duration::from_secs(5)),
        sim,
    };
    t.sim.seed(&seed()).expect("seed");
    assert_eq!(t.get(&t.rest("SORDER", "SORDER.$query")).status, 404);
    assert_eq!(
        t.get(&t.rest("YSOH", "YSOH.$query")).status,
        400,
        "wrong representation"
    );
    assert_eq!(t.get(&t.rest("YSOH", "YSOHWEB.$query")).status, 200);
    let r = t.call(
        "POST",
        &t.rest("YSOH", "YSOHWEB.$create"),
        &json!({"SALFCY":"FR011","SOHTYP":"WEB","BPCORD":"C001","ORDDAT":"2025-06-01",
                "STOFCY":"FR011","CUR":"EUR","SOHSOP":[{"ITMREF":"ITM1","QTY":1}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(t.sim.state()["counts"]["YSOH"], 1);
}

#[test]
fn template_lists_writable_fields() {
    let t = T::seeded();
    let r = t.get(&t.rest("SORDER/$template", "SORDER.$create"));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(v.get("CUSORDREF").is_some() && v.get("SOHSOP").is_some());
    assert!(v.get("CREDATTIM").is_none(), "stamps are computed");
}

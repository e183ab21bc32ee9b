//! x3-sim is at least as strict as the reference (`../shared/reference/x3-api.md`): business
//! refusals answer 500 with `$diagnoses`, and each lenient behaviour is a switch. Over real HTTP.

mod x3_sim_common;

use mlc_sim::x3::X3Config;
use serde_json::{Value, json};
use x3_sim_common::{Resp, T, seed};

fn diag_message(v: &Value) -> String {
    v["$diagnoses"][0]["$message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// A refusal: `status`, one `$diagnoses` entry of severity `error` whose message has `needle`.
#[track_caller]
fn assert_refused(r: &Resp, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    assert_eq!(v["$diagnoses"][0]["$severity"], "error", "{}", r.body);
    assert!(
        diag_message(&v).contains(needle),
        "{needle:?} not in {}",
        r.body
    );
}

fn seeded_with(cfg: X3Config) -> T {
    let t = T::with(cfg);
    t.sim.seed(&seed()).expect("seed");
    t
}

fn soh_of(r: &Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["SOHNUM"].as_str().expect("SOHNUM").to_string()
}

fn deliver(t: &T, soh: &str, lines: Value) -> Resp {
    t.create(
        "SDELIVERY",
        &json!({"SALFCY":"FR011","STOFCY":"FR011","BPCORD":"C001","DLVDAT":"2025-06-02","SOHNUM":soh,
                "SDELIVERYD":lines}),
    )
}

/// Every kind of business refusal the simulator knows, each answered with `status`.
fn every_business_refusal_answers(t: &T, status: u16) {
    let customer =
        json!({"BCGCOD":"WEB","BPCNUM":"WDUP","BPRNAM":"Twin","BPADDRESS":[{"BPAADD":"BIL"}]});
    assert_eq!(t.create("BPCUSTOMER", &customer).status, 201);
    assert_refused(
        &t.create("BPCUSTOMER", &customer),
        status,
        "Record already exists",
    );
    assert_refused(
        &t.create(
            "BPCUSTOMER",
            &json!({"BCGCOD":"WEB","BPCNUM":"W2","BPADDRESS":[{"BPAADD":"BIL"}]}),
        ),
        status,
        "BPRNAM",
    );
    assert_refused(
        &t.create(
            "BPCUSTOMER",
            &json!({"BCGCOD":"WEB","BPCNUM":"W3","BPRNAM":"X","BPADDRESS":[{"BPAADD":"BIL"}],"NOPE":"x"}),
        ),
        status,
        "NOPE",
    );
    let order = |bpc: &str, itm: &str| {
        t.create(
            "SORDER",
            &json!({"SALFCY":"FR011","SOHTYP":"WEB","BPCORD":bpc,"ORDDAT":"2025-06-01","STOFCY":"FR011",
                    "CUR":"EUR","SOHSOP":[{"ITMREF":itm,"QTY":1}]}),
        )
    };
    assert_refused(&order("NOPE", "ITM1"), status, "customer NOPE");
    assert_refused(&order("C001", "NOPE"), status, "product NOPE");

    let soh = soh_of(&t.order(
        "WC-1",
        "2025-06-01",
        json!([{"ITMREF":"ITM1","QTY":2},{"ITMREF":"ITM2","QTY":5}]),
    ));
    assert_refused(
        &deliver(t, &soh, json!([{"SOPLIN":1000,"QTY":3}])),
        status,
        "left to deliver",
    );
    assert_refused(
        &deliver(t, &soh, json!([{"SOPLIN":2000,"QTY":5}])),
        status,
        "Insufficient stock",
    );
    let r = deliver(
        t,
        &soh,
        json!([{"SOPLIN":1000,"QTY":2},{"SOPLIN":2000,"QTY":1}]),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let sdh = r.json()["SDHNUM"].as_str().expect("SDHNUM").to_string();
    let sdh_edit = t.rest(&format!("SDELIVERY('{sdh}')"), "SDELIVERY.$edit");
    assert_refused(
        &t.call("PUT", &sdh_edit, &json!({"DLVDAT":"2025-06-03"})),
        status,
        "cannot be modified",
    );
    assert_refused(
        &t.call("DELETE", &sdh_edit, &json!({})),
        status,
        "cannot be deleted",
    );

    // Closing a fully delivered order is refused.
    let soh2 = soh_of(&t.order("WC-2", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}])));
    assert_eq!(
        deliver(t, &soh2, json!([{"SOPLIN":1000,"QTY":1}])).status,
        201
    );
    let edit = t.rest(&format!("SORDER('{soh2}')"), "SORDER.$edit");
    assert_refused(
        &t.call("PUT", &edit, &json!({"ORDSTA":2})),
        status,
        "cannot be closed",
    );
    assert_refused(
        &t.call("DELETE", &edit, &json!({})),
        status,
        "has deliveries",
    );
    let c001 = t.rest("BPCUSTOMER('C001')", "BPCUSTOMER.$edit");
    assert_refused(
        &t.call("DELETE", &c001, &json!({})),
        status,
        "used by documents",
    );
}

#[test]
fn business_refusals_are_500_with_error_diagnoses() {
    every_business_refusal_answers(&T::seeded(), 500);
}

#[test]
fn business_error_status_400_switch_answers_400_for_the_same_refusals() {
    every_business_refusal_answers(
        &seeded_with(X3Config {
            business_error_status: 400,
            ..X3Config::default()
        }),
        400,
    );
}

#[test]
fn unknown_where_property_is_500_naming_the_field_first() {
    for status in [500, 400] {
        // The switch is for business refusals only; a bad `where` stays 500.
        let t = seeded_with(X3Config {
            business_error_status: status,
            ..X3Config::default()
        });
        let r = t.get(&t.rest("SORDER", "SORDER.$query&where=NOPE%20eq%20'x'"));
        assert_refused(&r, 500, "NOPE : Property does not exist (where clause)");
        assert_eq!(
            diag_message(&r.json()),
            "NOPE : Property does not exist (where clause)"
        );
    }
}

#[test]
fn malformed_requests_stay_400_or_405_and_an_unknown_key_404() {
    let t = T::seeded();
    let create = t.rest("SORDER", "SORDER.$create");
    let r = x3_sim_common::send(
        &t.agent,
        "POST",
        &create,
        &[("Authorization", &t.auth)],
        Some(b"{not json"),
    )
    .expect("post");
    assert_refused(&r, 400, "JSON");
    assert_refused(&t.call("POST", &create, &json!([1, 2])), 400, "JSON object");
    assert_refused(
        &t.get(&t.rest("SORDER", "SORDER.$bogus")),
        400,
        "Unknown facet",
    );
    assert_refused(
        &t.call("DELETE", &t.rest("SORDER", "SORDER.$query"), &json!({})),
        405,
        "not allowed",
    );
    assert_refused(
        &t.get(&t.rest("SORDER('NOPE')", "SORDER.$details")),
        404,
        "does not exist",
    );
    assert_refused(
        &t.call(
            "PUT",
            &t.rest("SORDER('NOPE')", "SORDER.$edit"),
            &json!({"ORDSTA":2}),
        ),
        404,
        "does not exist",
    );
}

#[test]
fn graphql_mutation_refusals_stay_errors_with_http_200() {
    let t = T::seeded();
    let v = t.gql(
        "mutation($d: SalesOrder_Input!) { x3Sales { salesOrder { create(data: $d) { id } } } }",
        json!({"d": {"salesSite":"FR011","salesOrderType":"WEB","soldToCustomer":"NOPE","orderDate":"2025-06-01",
                     "shippingSite":"FR011","currency":"EUR","lines":[{"product":"ITM1","quantityInSalesUnitOrdered":1}]}}),
    );
    assert_eq!(v["data"], Value::Null, "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("NOPE")),
        "{v}"
    );
}

// ---- item 2: standard BPCUSTOMER has no header WEB (x3-api.md §5.1)

fn customer(code: &str, name: &str, emails: &[&str]) -> Value {
    let addrs: Vec<Value> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"BPAADD": format!("A{i}"), "WEB": e}))
        .collect();
    json!({"BCGCOD":"WEB","BPCNUM":code,"BPRNAM":name,"BPADDRESS":addrs})
}

fn codes(rs: &[Value]) -> Vec<String> {
    rs.iter()
        .map(|r| r["BPCNUM"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn customer_has_no_header_web_create_and_where_on_it_are_refused() {
    let t = T::seeded();
    let mut body = customer("WANNA", "Anna", &["anna@example.com"]);
    body["WEB"] = json!("anna@example.com");
    assert_refused(&t.create("BPCUSTOMER", &body), 500, "WEB: unknown property");
    let r = t.get(&t.rest(
        "BPCUSTOMER",
        "BPCUSTOMER.$query&where=upper(WEB)%20eq%20'ANNA@EXAMPLE.COM'",
    ));
    assert_refused(&r, 500, "WEB : Property does not exist (where clause)");
    let c = t
        .get(&t.rest("BPCUSTOMER('C001')", "BPCUSTOMER.$details"))
        .json();
    assert!(c.get("WEB").is_none(), "{c}");
    assert_eq!(c["BPADDRESS"][0]["WEB"], "o'brien@example.com");
    let tpl = t
        .get(&t.rest("BPCUSTOMER/$template", "BPCUSTOMER.$create"))
        .json();
    assert!(tpl.get("WEB").is_none(), "{tpl}");
}

#[test]
fn where_member_access_matches_when_any_address_line_matches() {
    let t = T::seeded();
    for c in [
        customer("W1", "One", &["other@example.com", "Anna@Example.com"]),
        customer("W2", "Two", &["anna@example.org"]),
        customer("W3", "Three", &["ANNA@EXAMPLE.COM"]),
    ] {
        assert_eq!(t.create("BPCUSTOMER", &c).status, 201);
    }
    assert_eq!(
        codes(&t.query_where("BPCUSTOMER", "upper(BPADDRESS.WEB) eq 'ANNA@EXAMPLE.COM'")),
        ["W1", "W3"]
    );
    assert_eq!(
        codes(&t.query_where(
            "BPCUSTOMER",
            "not (upper(BPADDRESS.WEB) eq 'ANNA@EXAMPLE.COM') and left(BPCNUM,1) eq 'W'"
        )),
        ["W2"]
    );
    assert_eq!(
        codes(&t.query_where(
            "BPCUSTOMER",
            "BPADDRESS.WEB like '%example.org' or BPADDRESS.BPAADD eq 'A1'"
        )),
        ["W1", "W2"]
    );
    for (w, name) in [
        ("BPADDRESS.NOPE%20eq%20'x'", "BPADDRESS.NOPE"),
        ("NOPE.WEB%20eq%20'x'", "NOPE.WEB"),
    ] {
        let r = t.get(&t.rest("BPCUSTOMER", &format!("BPCUSTOMER.$query&where={w}")));
        assert_refused(
            &r,
            500,
            &format!("{name} : Property does not exist (where clause)"),
        );
    }
}

#[test]
fn order_by_bpcnum_is_deterministic_asc_and_desc() {
    let t = T::new();
    // Seeded out of order, with equal names so only the key can order them.
    let cs: Vec<Value> = ["K3", "K1", "K5", "K2", "K4"]
        .iter()
        .map(|c| customer(c, "Same", &["x@example.com"]))
        .collect();
    t.sim.seed(&json!({ "customers": cs })).expect("seed");
    let q = |o: &str| {
        let r = t.get(&t.rest("BPCUSTOMER", &format!("BPCUSTOMER.$query&orderBy={o}")));
        assert_eq!(r.status, 200, "{}", r.body);
        codes(r.json()["$resources"].as_array().expect("rows"))
    };
    for _ in 0..3 {
        assert_eq!(q("BPCNUM"), ["K1", "K2", "K3", "K4", "K5"]);
        assert_eq!(q("BPCNUM%20desc"), ["K5", "K4", "K3", "K2", "K1"]);
        assert_eq!(q("BPRNAM"), ["K1", "K2", "K3", "K4", "K5"], "ties by key");
    }
}

#[test]
fn customer_header_email_switch_adds_a_header_web() {
    let t = seeded_with(X3Config {
        customer_header_email: true,
        ..X3Config::default()
    });
    let mut body = customer("WANNA", "Anna", &["anna@example.com"]);
    body["WEB"] = json!("Anna@Example.com");
    let r = t.create("BPCUSTOMER", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["WEB"], "Anna@Example.com");
    assert_eq!(
        codes(&t.query_where("BPCUSTOMER", "upper(WEB) eq 'ANNA@EXAMPLE.COM'")),
        ["WANNA"]
    );
    let v = t.gql(
        "{ x3MasterData { customer { query(filter: \"{email:'Anna@Example.com'}\") { edges { node { code email } } } } } }",
        Value::Null,
    );
    assert_eq!(
        v["data"]["x3MasterData"]["customer"]["query"]["edges"][0]["node"],
        json!({"code":"WANNA","email":"Anna@Example.com"}),
        "{v}"
    );
}

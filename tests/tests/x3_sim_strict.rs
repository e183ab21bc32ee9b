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

// ---- item 4: types and lengths are enforced

fn order_body() -> Value {
    json!({"SALFCY":"FR011","SOHTYP":"WEB","BPCORD":"C001","ORDDAT":"2025-06-01","STOFCY":"FR011",
           "CUR":"EUR","CUSORDREF":"WC-1","SOHSOP":[{"ITMREF":"ITM1","QTY":1}]})
}

fn invoice_body() -> Value {
    json!({"SIVTYP":"INV","SALFCY":"FR011","BPCINV":"C001","CUR":"EUR","INVDAT":"2025-06-03",
           "SINVOICED":[{"ITMREF":"ITM1","QTY":1,"GROPRI":"9.99"}]})
}

fn customer_body() -> Value {
    json!({"BCGCOD":"WEB","BPCNUM":"WLEN","BPRNAM":"Len","BPADDRESS":[{"BPAADD":"BIL"}]})
}

/// `body` with `path` (`"BPRNAM"`, `"SOHSOP/0/ITMREF"`, `"BPADDRESS/0/BPAADDLIG/1"`) set to `v`.
fn with(body: &Value, path: &str, v: Value) -> Value {
    let mut b = body.clone();
    let (parent, last) = match path.rsplit_once('/') {
        Some((p, l)) => (format!("/{p}"), l),
        None => (String::new(), path),
    };
    match b.pointer_mut(&parent) {
        Some(Value::Object(m)) => {
            m.insert(last.to_string(), v);
        }
        Some(Value::Array(a)) => {
            let i: usize = last.parse().expect("index");
            a[i] = v;
        }
        _ => panic!("{path}"),
    }
    b
}

fn x(n: usize) -> Value {
    Value::String("x".repeat(n))
}

#[test]
fn bpdnam_and_bpinam_are_35_character_strings_not_arrays() {
    let t = T::seeded();
    for class in ["SORDER", "SINVOICE"] {
        let base = if class == "SORDER" {
            order_body()
        } else {
            invoice_body()
        };
        for field in ["BPDNAM", "BPINAM"] {
            let mut b = base.clone();
            b[field] = json!(["Jane Doe", "Acme"]);
            let r = t.create(class, &b);
            assert_refused(&r, 500, field);
            let msg = diag_message(&r.json());
            assert!(
                msg.contains("application/x-string of at most 35 characters")
                    && msg.contains("got an array"),
                "{msg}"
            );
            b[field] = x(36);
            let r = t.create(class, &b);
            assert_refused(
                &r,
                500,
                &format!("{field}: 36 characters exceed the maximum length 35"),
            );
            b[field] = x(35);
            let r = t.create(class, &b);
            assert_eq!(r.status, 201, "{class} {field}: {}", r.body);
            assert_eq!(r.json()[field], x(35));
        }
    }
}

#[test]
fn values_longer_than_the_field_are_refused_naming_field_type_and_limit() {
    let t = T::seeded();
    let cases: Vec<(&str, Value, &str, usize)> = vec![
        ("BPCUSTOMER", customer_body(), "BPCNUM", 15),
        ("BPCUSTOMER", customer_body(), "BPRNAM", 35),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPRSHO", json!("")),
            "BPRSHO",
            10,
        ),
        ("BPCUSTOMER", customer_body(), "BCGCOD", 5),
        (
            "BPCUSTOMER",
            with(&customer_body(), "CUR", json!("")),
            "CUR",
            3,
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "PTE", json!("")),
            "PTE",
            15,
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "ACCCOD", json!("")),
            "ACCCOD",
            10,
        ),
        ("BPCUSTOMER", customer_body(), "BPADDRESS/0/BPAADD", 5),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPADDRESS/0/POSCOD", json!("")),
            "BPADDRESS/0/POSCOD",
            10,
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPADDRESS/0/CTY", json!("")),
            "BPADDRESS/0/CTY",
            40,
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPADDRESS/0/SAT", json!("")),
            "BPADDRESS/0/SAT",
            35,
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPADDRESS/0/TEL", json!("")),
            "BPADDRESS/0/TEL",
            20,
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPADDRESS/0/WEB", json!("")),
            "BPADDRESS/0/WEB",
            80,
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPADDRESS/0/BPAADDLIG", json!(["", ""])),
            "BPADDRESS/0/BPAADDLIG/1",
            50,
        ),
        ("SORDER", order_body(), "CUSORDREF", 20),
        ("SORDER", order_body(), "SOHTYP", 5),
        ("SORDER", order_body(), "SALFCY", 5),
        ("SORDER", order_body(), "STOFCY", 5),
        ("SORDER", order_body(), "CUR", 3),
        (
            "SORDER",
            with(&order_body(), "SOHNUM", json!("")),
            "SOHNUM",
            20,
        ),
        (
            "SORDER",
            with(&order_body(), "SOHSOP/0/ITMDES", json!("")),
            "SOHSOP/0/ITMDES",
            30,
        ),
        ("SORDER", order_body(), "SOHSOP/0/ITMREF", 20),
        ("SINVOICE", invoice_body(), "SIVTYP", 5),
    ];
    for (class, body, path, max) in cases {
        // The field code: the last path segment that is not a line index.
        let field = path
            .rsplit('/')
            .find(|s| s.parse::<usize>().is_err())
            .unwrap_or(path);
        let r = t.create(class, &with(&body, path, x(max + 1)));
        assert_refused(&r, 500, field);
        let msg = diag_message(&r.json());
        assert!(
            msg.contains(&format!(
                "{} characters exceed the maximum length {max}",
                max + 1
            )) && msg.contains("application/x-string"),
            "{path}: {msg}"
        );
    }
    // At the limit everything is taken.
    let mut b = customer_body();
    for (path, n) in [
        ("BPCNUM", 15),
        ("BPRNAM", 35),
        ("BPRSHO", 10),
        ("BPADDRESS/0/BPAADD", 5),
    ] {
        b = with(&b, path, x(n));
    }
    b["BPADDRESS"][0]["WEB"] = x(80);
    b["BPADDRESS"][0]["BPAADDLIG"] = json!([x(50), x(50), x(50)]);
    let r = t.create("BPCUSTOMER", &b);
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn values_of_the_wrong_json_type_are_refused() {
    let t = T::seeded();
    for (class, body, path, v, got) in [
        (
            "BPCUSTOMER",
            customer_body(),
            "BPRNAM",
            json!(["Jane", "Doe"]),
            "got an array",
        ),
        (
            "BPCUSTOMER",
            customer_body(),
            "BPRNAM",
            json!({"name":"Jane"}),
            "got an object",
        ),
        (
            "BPCUSTOMER",
            customer_body(),
            "BPCNUM",
            json!(1234),
            "got a number",
        ),
        (
            "BPCUSTOMER",
            customer_body(),
            "BCGCOD",
            json!(1),
            "got a number",
        ),
        (
            "BPCUSTOMER",
            customer_body(),
            "BPADDRESS/0/BPAADD",
            json!(true),
            "got a boolean",
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPADDRESS/0/BPAADDLIG", json!([])),
            "BPADDRESS/0/BPAADDLIG",
            json!("1 rue X"),
            "got a string",
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPADDRESS/0/BPAADDLIG", json!([])),
            "BPADDRESS/0/BPAADDLIG",
            json!(["a", "b", "c", "d"]),
            "at most 3",
        ),
        (
            "BPCUSTOMER",
            with(&customer_body(), "BPADDRESS/0/BPAADDLIG", json!([])),
            "BPADDRESS/0/BPAADDLIG",
            json!([1]),
            "got a number",
        ),
        (
            "SORDER",
            order_body(),
            "SOHSOP/0/QTY",
            json!(true),
            "got a boolean",
        ),
        (
            "SORDER",
            order_body(),
            "SOHSOP/0/QTY",
            json!("two"),
            "application/x-decimal",
        ),
        (
            "SORDER",
            order_body(),
            "SOHSOP/0/ITMREF",
            json!(1),
            "got a number",
        ),
        (
            "SORDER",
            order_body(),
            "ORDDAT",
            json!(20250601),
            "got a number",
        ),
        (
            "SORDER",
            order_body(),
            "ORDSTA",
            json!("open"),
            "application/x-integer",
        ),
    ] {
        let r = t.create(class, &with(&body, path, v));
        let field = path
            .rsplit('/')
            .find(|s| s.parse::<usize>().is_err())
            .unwrap_or(path);
        assert_refused(&r, 500, field);
        assert!(diag_message(&r.json()).contains(got), "{path}: {}", r.body);
    }
    assert_eq!(t.sim.state()["counts"]["SORDER"], 0);
    // Decimals as numeric strings are what Xtrem clients send (§3.5): taken.
    let r = t.create("SORDER", &with(&order_body(), "SOHSOP/0/QTY", json!("2")));
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn graphql_input_obeys_the_same_types_and_lengths() {
    let t = T::seeded();
    let v = t.gql(
        "mutation($d: Customer_Input!) { x3MasterData { customer { create(data: $d) { code } } } }",
        json!({"d": {"code":"WLONG","customerCategory":"WEB","companyName1": "x".repeat(36),
                     "addresses":[{"code":"BIL"}]}}),
    );
    let msg = v["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("BPRNAM: 36 characters exceed the maximum length 35"),
        "{v}"
    );
    let v = t.gql(
        "mutation($d: SalesOrder_Input!) { x3Sales { salesOrder { create(data: $d) { id } } } }",
        json!({"d": {"salesSite":"FR011","salesOrderType":"WEB","soldToCustomer":"C001","orderDate":"2025-06-01",
                     "shippingSite":"FR011","currency":"EUR","shipToAddress":{"name":["Jane","Acme"]},
                     "lines":[{"product":"ITM1","quantityInSalesUnitOrdered":1}]}}),
    );
    let msg = v["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("BPDNAM") && msg.contains("got an array"),
        "{v}"
    );
}

#[test]
fn prototypes_show_type_and_max_length_from_the_same_table() {
    let t = T::seeded();
    let p = t.get(&format!(
        "{}/api1/x3/erp/SEED/SORDER/$prototypes('SORDER.$create')",
        t.sim.base_url()
    ));
    assert_eq!(p.status, 200, "{}", p.body);
    let props = &p.json()["$properties"];
    assert_eq!(
        props["CUSORDREF"],
        json!({"$type":"application/x-string","$maxLength":20})
    );
    assert_eq!(
        props["BPDNAM"],
        json!({"$type":"application/x-string","$maxLength":35})
    );
    assert_eq!(
        props["SALFCY"],
        json!({"$type":"application/x-string","$maxLength":5,"$isMandatory":true})
    );
    assert_eq!(props["ORDDAT"]["$type"], "application/x-date");
    assert_eq!(
        props["BPDADDLIG"],
        json!({"$type":"application/x-array","$maxItems":3,
               "$item":{"$type":"application/x-string","$maxLength":50}})
    );
    let line = &props["SOHSOP"]["$item"]["$properties"];
    assert_eq!(props["SOHSOP"]["$type"], "application/x-array");
    assert_eq!(
        line["ITMREF"],
        json!({"$type":"application/x-string","$maxLength":20,"$isMandatory":true})
    );
    assert_eq!(line["ITMDES"]["$maxLength"], 30);
    assert!(
        props.get("CREDATTIM").is_none() && line.get("DLVQTY").is_none(),
        "computed fields are not in $create"
    );
    let p = t
        .get(&format!(
            "{}/api1/x3/erp/SEED/BPCUSTOMER/$prototypes('BPCUSTOMER.$details')",
            t.sim.base_url()
        ))
        .json();
    let props = &p["$properties"];
    assert_eq!(props["BPCNUM"]["$maxLength"], 15);
    assert!(props.get("WEB").is_none());
    assert_eq!(props["CREDATTIM"]["$isReadOnly"], true);
    let addr = &props["BPADDRESS"]["$item"]["$properties"];
    for (f, n) in [
        ("BPAADD", 5),
        ("POSCOD", 10),
        ("CTY", 40),
        ("SAT", 35),
        ("TEL", 20),
        ("WEB", 80),
    ] {
        assert_eq!(addr[f]["$maxLength"], n, "{f}");
    }
    let r = t.get(&format!(
        "{}/api1/x3/erp/SEED/SORDER/$prototypes('BPCUSTOMER.$create')",
        t.sim.base_url()
    ));
    assert_refused(&r, 400, "Representation");
}

#[test]
fn invoice_takes_a_delivery_address_besides_the_invoice_address() {
    let t = T::seeded();
    let mut b = invoice_body();
    for (k, v) in [
        ("BPDNAM", json!("Jane Ship")),
        ("BPDADDLIG", json!(["1 rue X"])),
        ("BPDPOSCOD", json!("75001")),
        ("BPDCTY", json!("Paris")),
        ("BPDSAT", json!("IDF")),
        ("BPDCRY", json!("FR")),
        ("BPINAM", json!("Jane Bill")),
        ("BPICTY", json!("Lyon")),
    ] {
        b[k] = v;
    }
    let r = t.create("SINVOICE", &b);
    assert_eq!(r.status, 201, "{}", r.body);
    let num = r.json()["NUM"].as_str().expect("NUM").to_string();
    let v = t.gql(
        "query($id: Id!) { x3Sales { salesInvoice { read(_id: $id) {
            shipToAddress { name addressLines zipCode city state country } billToAddress { name city } } } } }",
        json!({ "id": num }),
    );
    assert_eq!(
        v["data"]["x3Sales"]["salesInvoice"]["read"],
        json!({"shipToAddress":{"name":"Jane Ship","addressLines":["1 rue X","",""],"zipCode":"75001",
                                "city":"Paris","state":"IDF","country":"FR"},
               "billToAddress":{"name":"Jane Bill","city":"Lyon"}}),
        "{v}"
    );
}

// ---- item 5: $edit of a field X3 does not take

#[test]
fn ignored_edit_field_answers_200_with_the_field_unchanged() {
    let t = seeded_with(X3Config {
        ignored_edit_fields: vec!["SORDER.ORDSTA".into()],
        ..X3Config::default()
    });
    let soh = soh_of(&t.order("WC-1", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}])));
    let edit = t.rest(&format!("SORDER('{soh}')"), "SORDER.$edit");
    let r = t.call("PUT", &edit, &json!({"ORDSTA":2, "CUSORDREF":"WC-1b"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["ORDSTA"], 1, "the answer shows the unchanged value: {v}");
    assert_eq!(v["CUSORDREF"], "WC-1b", "the rest of the edit is taken");
    let d = t
        .get(&t.rest(&format!("SORDER('{soh}')"), "SORDER.$details"))
        .json();
    assert_eq!(
        (d["ORDSTA"].clone(), d["CUSORDREF"].clone()),
        (json!(1), json!("WC-1b"))
    );
    let v = t.gql(
        "mutation($d: SalesOrder_Input!) { x3Sales { salesOrder { update(data: $d) { id orderStatus } } } }",
        json!({"d": {"id": soh, "orderStatus": 2}}),
    );
    assert_eq!(
        v["data"]["x3Sales"]["salesOrder"]["update"],
        json!({"id": soh, "orderStatus": 1}),
        "{v}"
    );
    // The order stays open: it still takes a delivery.
    assert_eq!(
        deliver(&t, &soh, json!([{"SOPLIN":1000,"QTY":1}])).status,
        201
    );
}

#[test]
fn ignored_edit_fields_default_to_none_and_unknown_ones_are_refused_at_start() {
    let t = T::seeded();
    assert!(t.sim.config().ignored_edit_fields.is_empty());
    let soh = soh_of(&t.order("WC-1", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}])));
    let edit = t.rest(&format!("SORDER('{soh}')"), "SORDER.$edit");
    assert_eq!(
        t.call("PUT", &edit, &json!({"ORDSTA":2})).json()["ORDSTA"],
        2
    );
    for bad in ["SORDER", "NOPE.ORDSTA", "SORDER.NOPE", "SORDER.SOHNUM"] {
        let r = mlc_sim::x3::X3Sim::start(X3Config {
            ignored_edit_fields: vec![bad.into()],
            ..X3Config::default()
        });
        assert!(r.is_err(), "{bad} accepted");
    }
}

// ---- item 8: standard representations without write facets

fn gql_order(t: &T) -> String {
    let v = t.gql(
        "mutation($d: SalesOrder_Input!) { x3Sales { salesOrder { create(data: $d) { id } } } }",
        json!({"d": {"salesSite":"FR011","salesOrderType":"WEB","soldToCustomer":"C001","orderDate":"2025-06-01",
                     "shippingSite":"FR011","currency":"EUR","lines":[{"product":"ITM1","quantityInSalesUnitOrdered":1}]}}),
    );
    v["data"]["x3Sales"]["salesOrder"]["create"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

#[test]
fn standard_sorder_representation_exposes_detail_query_and_lookup_only() {
    let t = seeded_with(X3Config {
        facets: [(
            "SORDER".to_string(),
            vec!["query".into(), "details".into(), "lookup".into()],
        )]
        .into(),
        ..X3Config::default()
    });
    let soh = gql_order(&t);
    for facet in ["$query", "$lookup"] {
        assert_eq!(
            t.get(&t.rest("SORDER", &format!("SORDER.{facet}"))).status,
            200
        );
    }
    let key = format!("SORDER('{soh}')");
    assert_eq!(t.get(&t.rest(&key, "SORDER.$details")).status, 200);
    let refused = "The facet $create is not available on representation SORDER";
    assert_refused(
        &t.order("WC-1", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}])),
        400,
        refused,
    );
    assert_refused(
        &t.get(&t.rest("SORDER/$template", "SORDER.$create")),
        400,
        refused,
    );
    let base = t.sim.base_url();
    assert_refused(
        &t.get(&format!(
            "{base}/api1/x3/erp/SEED/SORDER/$prototypes('SORDER.$create')"
        )),
        400,
        refused,
    );
    assert_eq!(
        t.get(&format!(
            "{base}/api1/x3/erp/SEED/SORDER/$prototypes('SORDER.$details')"
        ))
        .status,
        200
    );
    let edit = t.rest(&key, "SORDER.$edit");
    let no_edit = "The facet $edit is not available";
    assert_refused(&t.get(&edit), 400, no_edit);
    assert_refused(&t.call("PUT", &edit, &json!({"ORDSTA":2})), 400, no_edit);
    assert_refused(&t.call("DELETE", &edit, &json!({})), 400, no_edit);
    assert_eq!(
        t.sim.state()["counts"]["SORDER"],
        1,
        "only the GraphQL order"
    );
    // Other classes keep every facet.
    assert_eq!(
        t.create(
            "BPCUSTOMER",
            &json!({"BCGCOD":"WEB","BPCNUM":"W1","BPRNAM":"X","BPADDRESS":[{"BPAADD":"BIL"}]})
        )
        .status,
        201
    );
}

#[test]
fn facets_default_to_every_facet_and_unknown_names_refuse_to_start() {
    assert!(X3Config::default().facets.is_empty());
    assert_eq!(
        T::seeded()
            .order("WC-1", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}]))
            .status,
        201
    );
    for (class, facet) in [
        ("NOPE", "query"),
        ("SORDER", "$create"),
        ("SORDER", "summary"),
    ] {
        let r = mlc_sim::x3::X3Sim::start(X3Config {
            facets: [(class.to_string(), vec![facet.to_string()])].into(),
            ..X3Config::default()
        });
        assert!(r.is_err(), "{class}={facet} accepted");
    }
}

// ---- every switch as a flag of the binary

#[test]
fn binary_takes_every_strictness_switch_as_a_flag() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_x3-sim"))
        .args([
            "--port",
            "0",
            "--business-error-status",
            "400",
            "--customer-header-email",
            "--ignore-edit-field",
            "SORDER.ORDSTA",
            "--ignore-edit-field",
            "SORDER.CUSORDREF",
            "--facets",
            "SORDER=query,details,lookup",
            "--stock-writes",
            "--class-receipt",
            "YSMR:YSMRWEB",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn x3-sim");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("line");
    let v: Value = serde_json::from_str(&line).expect("JSON line");
    let base = v["base_url"].as_str().expect("base_url").to_string();
    let agent = x3_sim_common::agent(std::time::Duration::from_secs(5));
    let auth = x3_sim_common::basic_header(&X3Config::default());
    let call = |method: &str, url: &str, body: &Value| {
        let b = body.to_string();
        x3_sim_common::send(
            &agent,
            method,
            url,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some(b.as_bytes()),
        )
        .expect(method)
    };
    let rest =
        |class: &str, rep: &str| format!("{base}/api1/x3/erp/SEED/{class}?representation={rep}");
    let seed = call("POST", &format!("{base}/__sim/seed"), &seed());
    let results = (
        seed.status,
        // --business-error-status 400
        call("POST", &rest("BPCUSTOMER", "BPCUSTOMER.$create"), &json!({"BCGCOD":"WEB","BPCNUM":"W1"})).status,
        // --customer-header-email
        call(
            "POST",
            &rest("BPCUSTOMER", "BPCUSTOMER.$create"),
            &json!({"BCGCOD":"WEB","BPCNUM":"W2","BPRNAM":"X","WEB":"x@example.com","BPADDRESS":[{"BPAADD":"BIL"}]}),
        )
        .status,
        // --facets SORDER=query,details,lookup
        call(
            "POST",
            &rest("SORDER", "SORDER.$create"),
            &json!({"SALFCY":"FR011","SOHTYP":"WEB","BPCORD":"C001","ORDDAT":"2025-06-01","STOFCY":"FR011",
                    "CUR":"EUR","SOHSOP":[{"ITMREF":"ITM1","QTY":1}]}),
        )
        .status,
        // --stock-writes
        call("POST", &rest("STOCK", "STOCK.$create"), &json!({"STOFCY":"FR011","ITMREF":"ITM1","QTYSTU":1})).status,
        // --class-receipt YSMR:YSMRWEB
        call(
            "POST",
            &rest("YSMR", "YSMRWEB.$create"),
            &json!({"STOFCY":"FR011","IPTDAT":"2025-06-05","SMVTD":[{"ITMREF":"ITM1","QTYSTU":1}]}),
        )
        .status,
    );
    // --ignore-edit-field (repeated), through GraphQL since SORDER has no $edit here.
    let gql = |q: &str, vars: Value| {
        let b = json!({"query": q, "variables": vars}).to_string();
        x3_sim_common::send(
            &agent,
            "POST",
            &format!("{base}/xtrem/api"),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
                ("x-xtrem-endpoint", "SEED"),
            ],
            Some(b.as_bytes()),
        )
        .expect("graphql")
        .json()
    };
    let created = gql(
        "mutation($d: SalesOrder_Input!) { x3Sales { salesOrder { create(data: $d) { id } } } }",
        json!({"d": {"salesSite":"FR011","salesOrderType":"WEB","soldToCustomer":"C001","orderDate":"2025-06-01",
                     "shippingSite":"FR011","currency":"EUR","customerOrderReference":"A",
                     "lines":[{"product":"ITM1","quantityInSalesUnitOrdered":1}]}}),
    );
    let id = created["data"]["x3Sales"]["salesOrder"]["create"]["id"].clone();
    let updated = gql(
        "mutation($d: SalesOrder_Input!) { x3Sales { salesOrder { update(data: $d) { orderStatus customerOrderReference } } } }",
        json!({"d": {"id": id, "orderStatus": 2, "customerOrderReference": "B"}}),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(results, (200, 400, 201, 400, 201, 201));
    assert_eq!(
        updated["data"]["x3Sales"]["salesOrder"]["update"],
        json!({"orderStatus":1,"customerOrderReference":"A"}),
        "{updated}"
    );
}

#[test]
fn price_list_lines_price_existing_items_and_show_in_both_apis() {
    let t = seeded_with(X3Config::default());
    let line = |n: &str, item: &str, start: &str, end: &str| {
        json!({"PLI":"WEB","PLICRD":n,"PLICRI1":item,"PRI":"12.5","CUR":"EUR",
               "PLISTRDAT":start,"PLIENDDAT":end})
    };
    let r = t.create("SPRICLIST", &line("1", "ITM1", "2026-01-01", "2026-12-31"));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_refused(
        &t.create("SPRICLIST", &line("2", "NOPE", "2026-01-01", "2026-12-31")),
        500,
        "product NOPE does not exist",
    );
    assert_refused(
        &t.create("SPRICLIST", &line("3", "ITM1", "2026-12-31", "2026-01-01")),
        500,
        "before the start date",
    );
    assert_refused(
        &t.create("SPRICLIST", &line("1", "ITM2", "2026-01-01", "2026-12-31")),
        500,
        "Record already exists",
    );
    let found = t.query_where("SPRICLIST", "PLI eq 'WEB' and PLICRI1 in ('ITM1','ITM2')");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["PRI"], json!(12.5));
    let v = t.gql(
        "{ x3Sales { salesPriceList { query(filter: \"{code:{_eq:'WEB'},product:{_in:['ITM1']}}\") { edges { node { code recordNumber product { code } price startDate endDate } } } } } }",
        Value::Null,
    );
    let node = &v["data"]["x3Sales"]["salesPriceList"]["query"]["edges"][0]["node"];
    assert_eq!(node["product"], json!({"code": "ITM1"}), "{v}");
    assert_eq!(node["endDate"], "2026-12-31");
    // Items carry a status (active unless seeded otherwise) and a base price in both APIs.
    let items = t.query_where("ITMMASTER", "ITMREF eq 'ITM1'");
    assert_eq!(items[0]["ITMSTA"], 1);
    let v = t.gql(
        "{ x3MasterData { product { query(filter: \"{code:{_eq:'ITM1'}}\") { edges { node { code productStatus basePrice } } } } } }",
        Value::Null,
    );
    assert_eq!(
        v["data"]["x3MasterData"]["product"]["query"]["edges"][0]["node"]["productStatus"], 1,
        "{v}"
    );
}

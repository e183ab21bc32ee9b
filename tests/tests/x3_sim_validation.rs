//! x3-sim deliveries and their validation (`CFMFLG`, GraphQL `isValidated`): a delivery made
//! through the API is validated at once; one entered by X3 staff (`/__sim/deliveries`) may wait
//! unvalidated, holding its quantities without moving stock, until `/validate` issues the stock,
//! delivers the order lines and stamps it anew.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed assertion

mod x3_sim_common;

use serde_json::{Value, json};
use x3_sim_common::{Resp, T, send};

fn order(t: &T, item: &str, qty: u32) -> String {
    let r = t.order("WC-V", "2025-06-01", json!([{"ITMREF": item, "QTY": qty}]));
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["SOHNUM"].as_str().expect("SOHNUM").to_string()
}

fn delivery(soh: &str, qty: u32) -> Value {
    json!({"STOFCY":"FR011","BPCORD":"C001","DLVDAT":"2025-06-02","SOHNUM":soh,
           "SDELIVERYD":[{"SOPLIN":1000,"QTY":qty}]})
}

/// A control call: status and JSON body.
fn control(t: &T, path: &str, body: &Value) -> (u16, Value) {
    let bytes = body.to_string();
    let r: Resp = send(
        &t.agent,
        "POST",
        &format!("{}/__sim/{path}", t.sim.base_url()),
        &[("Content-Type", "application/json")],
        Some(bytes.as_bytes()),
    )
    .expect("control");
    (r.status, r.json())
}

fn stock(t: &T, item: &str) -> f64 {
    t.query_where("STOCK", &format!("ITMREF eq '{item}'"))
        .iter()
        .map(|r| r["QTYSTU"].as_f64().expect("QTYSTU"))
        .sum()
}

fn order_rec(t: &T, soh: &str) -> Value {
    let r = t.get(&t.rest(&format!("SORDER('{soh}')"), "SORDER.$details"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn delivery_rec(t: &T, sdh: &str) -> Value {
    let r = t.get(&t.rest(&format!("SDELIVERY('{sdh}')"), "SDELIVERY.$details"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn a_delivery_created_through_the_api_is_validated_and_the_client_cannot_say_otherwise() {
    let t = T::seeded();
    let soh = order(&t, "ITM1", 2);
    let mut body = delivery(&soh, 2);
    // Computed by X3: ignored on input like the stamps, whatever the client sends.
    body["CFMFLG"] = json!(1);
    let r = t.create("SDELIVERY", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let sdh = r.json()["SDHNUM"].as_str().unwrap().to_string();
    assert_eq!(delivery_rec(&t, &sdh)["CFMFLG"], 2);
    assert_eq!(stock(&t, "ITM1"), 8.0);
    // Strict as ever: an unknown header field is refused.
    let mut typo = delivery(&soh, 1);
    typo["CFMFLAG"] = json!(2);
    let r = t.create("SDELIVERY", &typo);
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("CFMFLAG"), "{}", r.body);
    // GraphQL shows the flag as a Boolean and filters on it.
    let v = t.gql(
        "{ x3Sales { salesDelivery { query(filter: \"{isValidated: true}\") { edges { node { id isValidated } } } } } }",
        Value::Null,
    );
    let edges = v["data"]["x3Sales"]["salesDelivery"]["query"]["edges"].clone();
    assert_eq!(
        edges,
        json!([{"node": {"id": sdh, "isValidated": true}}]),
        "{v}"
    );
}

#[test]
fn a_staff_delivery_waits_unvalidated_then_validation_moves_stock_and_the_stamp() {
    let t = T::seeded();
    let soh = order(&t, "ITM1", 3);
    let (status, rec) = control(&t, "deliveries", &{
        let mut b = delivery(&soh, 3);
        b["CFMFLG"] = json!(1);
        b
    });
    assert_eq!(status, 200, "{rec}");
    let sdh = rec["SDHNUM"].as_str().unwrap().to_string();
    assert_eq!(rec["CFMFLG"], 1);
    let created = rec["UPDDATTIM"].as_str().unwrap().to_string();
    // Nothing moved: stock, delivered quantities and the order's delivery status stay.
    assert_eq!(stock(&t, "ITM1"), 10.0);
    let o = order_rec(&t, &soh);
    assert_eq!(o["DLVSTA"], 1);
    assert_eq!(o["SOHSOP"][0]["DLVQTY"], 0);
    // GraphQL: not validated.
    let v = t.gql(
        "query($f: String) { x3Sales { salesDelivery { query(filter: $f) { edges { node { id isValidated } } } } } }",
        json!({"f": "{isValidated: false}"}),
    );
    assert_eq!(
        v["data"]["x3Sales"]["salesDelivery"]["query"]["edges"][0]["node"],
        json!({"id": sdh, "isValidated": false}),
        "{v}"
    );
    // The quantities it holds are not left for another delivery.
    let r = t.create("SDELIVERY", &delivery(&soh, 1));
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("exceeds"), "{}", r.body);

    // X3 stamps to the second: validate in a later one so the change is visible.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (status, after) = control(&t, &format!("deliveries/{sdh}/validate"), &json!({}));
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["CFMFLG"], 2);
    assert!(
        after["UPDDATTIM"].as_str().unwrap() > created.as_str(),
        "{after}"
    );
    assert_eq!(stock(&t, "ITM1"), 7.0);
    let o = order_rec(&t, &soh);
    assert_eq!(o["DLVSTA"], 3);
    assert_eq!(o["SOHSOP"][0]["DLVQTY"], 3);
    // Once only.
    let (status, again) = control(&t, &format!("deliveries/{sdh}/validate"), &json!({}));
    assert_eq!(status, 400, "{again}");
    assert!(
        again["error"]
            .as_str()
            .unwrap()
            .contains("already validated"),
        "{again}"
    );
    assert_eq!(stock(&t, "ITM1"), 7.0);
    // A poll by update stamp sees it.
    let changed = t.query_where(
        "SDELIVERY",
        &format!("UPDDATTIM ge @{}@", after["UPDDATTIM"].as_str().unwrap()),
    );
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["CFMFLG"], 2);
}

#[test]
fn staff_deliveries_are_checked_like_any_and_validation_needs_the_stock() {
    let t = T::seeded();
    // ITM2 has 1 in stock: an unvalidated delivery of 2 may be entered, not validated.
    let soh = order(&t, "ITM2", 2);
    let mut b = delivery(&soh, 2);
    b["CFMFLG"] = json!(1);
    let (status, rec) = control(&t, "deliveries", &b);
    assert_eq!(status, 200, "{rec}");
    let sdh = rec["SDHNUM"].as_str().unwrap().to_string();
    let (status, refused) = control(&t, &format!("deliveries/{sdh}/validate"), &json!({}));
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("Insufficient stock"),
        "{refused}"
    );
    assert_eq!(delivery_rec(&t, &sdh)["CFMFLG"], 1, "nothing changed");
    // An unvalidated delivery may be deleted (nothing happened yet); a validated one may not.
    let r = t.call(
        "DELETE",
        &t.rest(&format!("SDELIVERY('{sdh}')"), "SDELIVERY.$edit"),
        &json!({}),
    );
    assert!(r.status < 300, "{}", r.body);

    // Validated at once by default; strict about fields and the flag's values.
    let soh1 = order(&t, "ITM1", 1);
    let (status, rec) = control(&t, "deliveries", &delivery(&soh1, 1));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["CFMFLG"], 2);
    assert_eq!(stock(&t, "ITM1"), 9.0);
    let (status, e) = control(&t, "deliveries", &{
        let mut b = delivery(&soh1, 1);
        b["CFMFLG"] = json!(3);
        b
    });
    assert_eq!(status, 400, "{e}");
    let (status, e) = control(&t, "deliveries", &{
        let mut b = delivery(&soh1, 1);
        b["BOGUS"] = json!("x");
        b
    });
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("BOGUS"), "{e}");
    let (status, e) = control(&t, "deliveries/SDHNOPE/validate", &json!({}));
    assert_eq!(status, 404, "{e}");
    // The in-process API does the same.
    let soh2 = order(&t, "ITM1", 1);
    let rec = t.sim.create_delivery(&delivery(&soh2, 1), false).unwrap();
    assert_eq!(rec["CFMFLG"], 1);
    let sdh2 = rec["SDHNUM"].as_str().unwrap();
    assert_eq!(t.sim.validate_delivery(sdh2).unwrap()["CFMFLG"], 2);
    assert_eq!(stock(&t, "ITM1"), 8.0);
}

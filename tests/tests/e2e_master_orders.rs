//! End to end: X3 → WooCommerce orders (`[master-data] complete-orders`) with the real
//! `ml-connector` binary against both simulators, over REST and GraphQL. A delivery X3 staff
//! validate completes the WooCommerce order with exactly one note naming it, and the
//! `order.updated` that completion fires sends X3 no second delivery (stock moves once). A
//! delivery not validated yet does nothing until X3 validates it; the connector's own deliveries
//! add no note; an order refunded in WooCommerce is left as it is, with the reason shown; polls
//! re-reading the same deliveries (and a restart) change nothing more; with the setting off
//! nothing happens at all.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed assertion

mod common;

use std::time::Duration;

use common::{Env, HostProc, Options, wait_until};
use serde_json::{Value, json};

/// Polling every second; a 30 s overlap, so every poll of the scenario re-reads the deliveries.
const ON: &str = r#"[x3-poll]
interval-secs = 1
overlap-secs = 30
customers = false

[master-data]
complete-orders = true
"#;

const OFF: &str = r#"[x3-poll]
interval-secs = 1
overlap-secs = 30
customers = false
"#;

fn env(name: &str, graphql: bool, tail: &str) -> Env {
    let env = Env::new(
        name,
        Options {
            graphql,
            config_tail: tail.into(),
            ..Options::default()
        },
    );
    env.x3
        .seed(&json!({"stock": [
            {"STOFCY": "FR011", "ITMREF": "MUG", "QTYSTU": 40},
            {"STOFCY": "FR011", "ITMREF": "TSHIRT", "QTYSTU": 50},
            {"STOFCY": "FR011", "ITMREF": "CAP", "QTYSTU": 30},
            {"STOFCY": "FR011", "ITMREF": "HOODIE-RED", "QTYSTU": 20},
        ]}))
        .unwrap();
    env
}

/// A paid one-line order without shipping (one X3 order line, 1000).
fn place(env: &Env, n: u64, sku: &str, qty: u64) -> u64 {
    let o = env
        .woo
        .place_order(&json!({
            "lines": [{"sku": sku, "quantity": qty}],
            "billing": {"first_name": "Ana", "last_name": format!("Lopez{n}"),
                        "email": format!("ana{n}@example.com"), "address_1": "1 Calle",
                        "city": "Madrid", "postcode": "28001", "country": "ES"},
            "status": "processing", "shipping_method": "none"}))
        .unwrap();
    o["id"].as_u64().unwrap()
}

/// GET on woo-sim's REST API (query-string keys: it assumes HTTPS).
fn woo_get(env: &Env, path: &str) -> Value {
    let c = env.woo.config();
    let mut resp = ureq::get(&format!("{}/wp-json/wc/v3/{path}", env.woo.base_url()))
        .query("consumer_key", &c.consumer_key)
        .query("consumer_secret", &c.consumer_secret)
        .call()
        .unwrap();
    resp.body_mut().read_json().unwrap()
}

fn woo_status(env: &Env, id: u64) -> String {
    woo_get(env, &format!("orders/{id}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The texts of the order's notes that name `delivery`.
fn notes_naming(env: &Env, id: u64, delivery: &str) -> Vec<String> {
    woo_get(env, &format!("orders/{id}/notes"))
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["note"].as_str())
        .filter(|t| t.contains(delivery))
        .map(str::to_string)
        .collect()
}

/// The sales order X3 holds for a WooCommerce order.
fn sales_order(env: &Env, id: u64) -> (String, String) {
    let o = env.x3_orders_by_reference()[&format!("WC-{id}")][0].clone();
    (
        o["SOHNUM"].as_str().unwrap().to_string(),
        o["BPCORD"].as_str().unwrap().to_string(),
    )
}

/// X3's deliveries of a sales order.
fn deliveries_of(env: &Env, soh: &str) -> Vec<String> {
    env.x3_records("SDELIVERY")
        .iter()
        .filter(|d| d["SOHNUM"] == soh)
        .map(|d| d["SDHNUM"].as_str().unwrap().to_string())
        .collect()
}

fn stock(env: &Env, item: &str) -> f64 {
    env.x3_records("STOCK")
        .iter()
        .filter(|r| r["ITMREF"] == item && r["STOFCY"] == "FR011")
        .map(|r| r["QTYSTU"].as_f64().unwrap())
        .sum()
}

/// What X3 staff enter: a delivery of the whole order line 1000, validated or not.
fn staff_delivery(env: &Env, id: u64, qty: u64, validated: bool) -> String {
    let (soh, bpc) = sales_order(env, id);
    let rec = env
        .x3
        .create_delivery(
            &json!({"STOFCY": "FR011", "BPCORD": bpc, "DLVDAT": "2026-11-27", "SOHNUM": soh,
                    "SDELIVERYD": [{"SOHNUM": soh, "SOPLIN": 1000, "QTY": qty}]}),
            validated,
        )
        .unwrap();
    rec["SDHNUM"].as_str().unwrap().to_string()
}

fn admin(env: &Env, host: &HostProc, path: &str) -> Value {
    let token = std::fs::read_to_string(env.dir.join("data/admin.token")).unwrap();
    ureq::get(&host.url(path))
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

fn wait_for(what: &str, host: &HostProc, cond: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(60), cond),
        "{what}; host log:\n{}",
        host.log()
    );
}

/// Waits until `n` more polls have completed (each re-reads the deliveries in the overlap).
fn polls(host: &HostProc, n: i64) {
    let at = || {
        host.status()["x3_poll"]["last_success_at"]
            .as_i64()
            .unwrap_or(0)
    };
    for _ in 0..n {
        let seen = at();
        wait_for("another complete poll", host, || at() > seen);
    }
}

fn from_x3(host: &HostProc) -> Value {
    host.status()["x3_poll"]["orders_from_x3"].clone()
}

fn listed(v: &Value, list: &str, id: u64) -> Option<Value> {
    v[list]
        .as_array()?
        .iter()
        .find(|e| e["order_id"] == id)
        .cloned()
}

#[test]
fn a_delivery_validated_in_x3_completes_the_order_once_over_rest() {
    scenario("master-orders-rest", false);
}

#[test]
fn a_delivery_validated_in_x3_completes_the_order_once_over_graphql() {
    scenario("master-orders-gql", true);
}

fn scenario(name: &str, graphql: bool) {
    let env = env(name, graphql, ON);
    let mut host = HostProc::start(&env);
    let a = place(&env, 1, "WOO-MUG", 2);
    let b = place(&env, 2, "WOO-TSHIRT", 1);
    let c = place(&env, 3, "WOO-CAP", 3);
    let d = place(&env, 4, "WOO-HOODIE-RED", 1);
    wait_for("the four orders posted", &host, || {
        let by_ref = env.x3_orders_by_reference();
        [a, b, c, d]
            .iter()
            .all(|id| by_ref.contains_key(&format!("WC-{id}")))
    });

    // D is refunded in full in WooCommerce before X3 ships it.
    let total = woo_get(&env, &format!("orders/{d}"))["total"]
        .as_str()
        .unwrap()
        .to_string();
    env.woo.refund(d, &json!({"amount": total})).unwrap();
    assert_eq!(woo_status(&env, d), "refunded");

    // In X3: staff ship A and D (validated) and B (not validated yet); the shop completes C
    // itself, so the connector delivers C.
    let sdh_a = staff_delivery(&env, a, 2, true);
    let sdh_b = staff_delivery(&env, b, 1, false);
    let sdh_d = staff_delivery(&env, d, 1, true);
    env.put_status(c, "completed");

    wait_for("A completed with its note", &host, || {
        woo_status(&env, a) == "completed" && !notes_naming(&env, a, &sdh_a).is_empty()
    });
    // The order.updated our completion fired went through the pipeline: shipped, nothing sent.
    wait_for("A shipped on the host", &host, || {
        admin(&env, &host, &format!("/api/admin/orders/{a}"))["state"] == "shipped"
    });
    wait_for("C delivered by the connector", &host, || {
        deliveries_of(&env, &sales_order(&env, c).0).len() == 1
            && admin(&env, &host, &format!("/api/admin/orders/{c}"))["state"] == "shipped"
    });
    wait_for("B and D reported", &host, || {
        let v = from_x3(&host);
        listed(&v, "not_completed", b).is_some() && listed(&v, "not_completed", d).is_some()
    });
    polls(&host, 3);

    // A: completed once, one note, one delivery in X3, stock issued once.
    assert_eq!(woo_status(&env, a), "completed");
    assert_eq!(
        notes_naming(&env, a, &sdh_a),
        [format!("X3 delivery {sdh_a} validated")]
    );
    let (soh_a, _) = sales_order(&env, a);
    assert_eq!(deliveries_of(&env, &soh_a), [sdh_a.as_str()]);
    assert_eq!(stock(&env, "MUG"), 38.0);
    let order_a = admin(&env, &host, &format!("/api/admin/orders/{a}"));
    let ship: Vec<&Value> = order_a["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "delivery")
        .collect();
    assert_eq!(ship.len(), 1, "{order_a}");
    assert_eq!(ship[0]["state"], "done");
    assert_eq!(ship[0]["x3-key"], json!(sdh_a));
    let timeline = order_a["timeline"].to_string();
    assert!(
        timeline.contains("\"completed\"") && timeline.contains(&sdh_a),
        "{timeline}"
    );
    let log = from_x3(&host);
    assert_eq!(
        listed(&log, "completed", a).unwrap()["delivery"],
        json!(sdh_a)
    );

    // B: nothing yet, and why.
    assert_eq!(woo_status(&env, b), "processing");
    assert!(notes_naming(&env, b, &sdh_b).is_empty());
    assert_eq!(stock(&env, "TSHIRT"), 50.0);
    let why = listed(&log, "not_completed", b).unwrap();
    assert!(
        why["reason"].as_str().unwrap().contains("not validated"),
        "{why}"
    );

    // C: the connector's own delivery adds no note and no second delivery.
    let (soh_c, _) = sales_order(&env, c);
    let sdh_c = deliveries_of(&env, &soh_c).pop().unwrap();
    assert_eq!(woo_status(&env, c), "completed");
    assert!(notes_naming(&env, c, &sdh_c).is_empty());
    assert_eq!(stock(&env, "CAP"), 27.0);
    assert!(listed(&log, "completed", c).is_none(), "{log}");
    assert!(listed(&log, "not_completed", c).is_none(), "{log}");

    // D: refunded stays refunded, with the reason on the status page.
    assert_eq!(woo_status(&env, d), "refunded");
    assert!(notes_naming(&env, d, &sdh_d).is_empty());
    let why = listed(&log, "not_completed", d).unwrap();
    assert!(
        why["reason"].as_str().unwrap().contains("refunded"),
        "{why}"
    );
    let page = host
        .get("/status")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(page.contains("Orders completed from X3"), "{page}");
    assert!(page.contains(&sdh_a) && page.contains(&sdh_d), "{page}");

    // X3 validates B later: now it completes, once.
    env.x3.validate_delivery(&sdh_b).unwrap();
    wait_for("B completed with its note", &host, || {
        woo_status(&env, b) == "completed" && !notes_naming(&env, b, &sdh_b).is_empty()
    });
    wait_for("B shipped on the host", &host, || {
        admin(&env, &host, &format!("/api/admin/orders/{b}"))["state"] == "shipped"
    });
    polls(&host, 2);
    assert_eq!(notes_naming(&env, b, &sdh_b).len(), 1);
    assert_eq!(
        deliveries_of(&env, &sales_order(&env, b).0),
        [sdh_b.as_str()]
    );
    assert_eq!(stock(&env, "TSHIRT"), 49.0);
    let log = from_x3(&host);
    assert!(listed(&log, "completed", b).is_some(), "{log}");
    assert!(listed(&log, "not_completed", b).is_none(), "{log}");

    if !graphql {
        // A restart re-reads the same deliveries from the stored watermark: nothing more.
        assert!(host.terminate().success());
        host = HostProc::start(&env);
        polls(&host, 3);
    }
    for (id, sdh) in [(a, &sdh_a), (b, &sdh_b)] {
        assert_eq!(notes_naming(&env, id, sdh).len(), 1, "order {id}");
        assert_eq!(deliveries_of(&env, &sales_order(&env, id).0).len(), 1);
    }
    assert!(notes_naming(&env, c, &sdh_c).is_empty());
    assert_eq!(deliveries_of(&env, &soh_c).len(), 1);
    assert_eq!(stock(&env, "MUG"), 38.0);
    assert_eq!(stock(&env, "CAP"), 27.0);
    assert_eq!(stock(&env, "TSHIRT"), 49.0);
    drop(host);
}

#[test]
fn with_the_setting_off_a_validated_delivery_changes_nothing_in_woocommerce() {
    let env = env("master-orders-off", false, OFF);
    let host = HostProc::start(&env);
    let a = place(&env, 1, "WOO-MUG", 2);
    wait_for("posted", &host, || {
        env.x3_orders_by_reference()
            .contains_key(&format!("WC-{a}"))
    });
    let sdh = staff_delivery(&env, a, 2, true);
    // The poller sees the delivery (the order page lists it) …
    wait_for("the delivery seen", &host, || {
        admin(&env, &host, &format!("/api/admin/orders/{a}"))["x3"]["deliveries"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == &json!(sdh)))
    });
    polls(&host, 3);
    // … and leaves WooCommerce alone.
    assert_eq!(woo_status(&env, a), "processing");
    assert!(notes_naming(&env, a, &sdh).is_empty());
    let ledger = admin(&env, &host, &format!("/api/admin/orders/{a}"))["ledger"].clone();
    assert!(
        !ledger.to_string().contains(&sdh),
        "nothing recorded: {ledger}"
    );
    let log = from_x3(&host);
    assert_eq!(log["completed"], json!([]), "{log}");
    assert_eq!(log["not_completed"], json!([]), "{log}");
}

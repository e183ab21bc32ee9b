//! End to end: the rest of an order's life. Orders placed on woo-sim move through processing →
//! completed/shipped → delivered, are cancelled before and after shipment, and are refunded in
//! part (restocked) and in full; the real `ml-connector` binary turns that into X3 deliveries,
//! stock movements, closed orders and credit notes in x3-sim — each exactly once, also when the
//! same status webhook arrives three times (three saves, and one delivery replayed three times).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Env, HostProc, Options, wait_until};
use serde_json::{Value, json};

const STOCK: &str = r#"[stock]
credit-note-type = "AVO"
refund-amount-item = "REFUND"
"#;

fn env(name: &str) -> Env {
    let env = Env::new(
        name,
        Options {
            config_tail: STOCK.into(),
            ..Options::default()
        },
    );
    // Known stock levels to check against, and the item refunded amounts go on.
    env.x3
        .seed(&json!({
            "items": [{"ITMREF": "REFUND", "DES1AXX": "Refund", "TCLCOD": "WEB", "STU": "UN"}],
            "stock": [
                {"STOFCY": "FR011", "ITMREF": "TSHIRT", "QTYSTU": 50},
                {"STOFCY": "FR011", "ITMREF": "MUG", "QTYSTU": 40},
                {"STOFCY": "FR011", "ITMREF": "CAP", "QTYSTU": 30},
                {"STOFCY": "FR011", "ITMREF": "HOODIE-RED", "QTYSTU": 20},
            ],
        }))
        .unwrap();
    env
}

fn place(env: &Env, n: u64, lines: Value) -> Value {
    env.woo
        .place_order(&json!({
            "lines": lines,
            "billing": {
                "first_name": "Stock", "last_name": format!("Tester{n}"), "company": "",
                "address_1": "1 Rue du Dépôt", "address_2": "", "city": "Lyon", "state": "",
                "postcode": "69001", "country": "FR", "email": format!("stock{n}@example.com"),
                "phone": ""
            },
            "status": "processing",
            "shipping_method": "flat_rate",
        }))
        .unwrap()
}

/// The same status three times, each save delivered before the next.
fn status_thrice(env: &Env, id: u64, status: &str) {
    for _ in 0..3 {
        env.put_status(id, status);
        drained(env);
    }
}

fn drained(env: &Env) {
    let ok = wait_until(Duration::from_secs(30), || {
        let q: Value = ureq::get(&format!("{}/__sim/queue", env.woo.base_url()))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        q.as_array().is_some_and(Vec::is_empty)
    });
    assert!(ok, "woo-sim's delivery queue did not drain");
}

/// Sends the last logged delivery for `order_id` to the host again, byte for byte, `times` times.
fn replay_last_delivery(env: &Env, host: &HostProc, order_id: u64, times: usize) {
    let log = env.woo.deliveries();
    let d = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|d| d["kind"] == "delivery" && d["resource_id"].as_u64() == Some(order_id))
        .unwrap()
        .clone();
    let headers: Vec<(String, String)> = match &d["request"]["headers"] {
        Value::Array(hs) => hs
            .iter()
            .filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string())))
            .collect(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect(),
        other => panic!("headers: {other}"),
    };
    let body = d["request"]["body"].as_str().unwrap().to_string();
    for _ in 0..times {
        let mut req = ureq::post(&host.url("/webhooks/woocommerce"))
            .config()
            .http_status_as_error(false)
            .build();
        for (k, v) in &headers {
            if !matches!(
                k.to_ascii_lowercase().as_str(),
                "host" | "content-length" | "connection"
            ) {
                req = req.header(k, v);
            }
        }
        assert_eq!(req.send(body.as_bytes()).unwrap().status(), 200);
    }
}

fn stock(env: &Env, item: &str) -> f64 {
    env.x3_records("STOCK")
        .iter()
        .find(|s| s["STOFCY"] == "FR011" && s["ITMREF"] == item)
        .map_or(0.0, |s| dec(&s["QTYSTU"]))
}

fn dec(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_f64().unwrap(),
    }
}

fn sales_order(env: &Env, order_id: u64) -> Value {
    let by_ref = env.x3_orders_by_reference();
    let docs = by_ref
        .get(&format!("WC-{order_id}"))
        .unwrap_or_else(|| panic!("order {order_id} is not in X3"));
    assert_eq!(docs.len(), 1, "order {order_id} posted once");
    docs[0].clone()
}

fn deliveries_of(env: &Env, soh: &str) -> Vec<Value> {
    env.x3_records("SDELIVERY")
        .into_iter()
        .filter(|d| d["SOHNUM"] == soh)
        .collect()
}

fn credit_notes(env: &Env, reference_prefix: &str) -> Vec<Value> {
    env.x3_records("SINVOICE")
        .into_iter()
        .filter(|i| {
            i["CUSORDREF"]
                .as_str()
                .is_some_and(|r| r.starts_with(reference_prefix))
        })
        .collect()
}

/// (item, quantity) of a document's lines.
fn lines(doc: &Value, field: &str) -> Vec<(String, f64)> {
    doc[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["ITMREF"].as_str().unwrap().to_string(), dec(&l["QTY"])))
        .collect()
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

fn state_of(env: &Env, host: &HostProc, id: u64) -> Value {
    admin(env, host, &format!("/api/admin/orders/{id}"))
}

fn wait_for(what: &str, host: &HostProc, cond: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(60), cond),
        "{what}; host log:\n{}",
        host.log()
    );
}

#[test]
fn orders_ship_deliver_cancel_and_refund_in_x3_exactly_once() {
    let env = env("stock-life");
    let host = HostProc::start(&env);

    // A: processing → completed (three times) → delivered (three times).
    let a = place(
        &env,
        1,
        json!([{"sku": "WOO-TSHIRT", "quantity": 2}, {"sku": "WOO-MUG", "quantity": 1}]),
    );
    // B: processing → shipped (a plugin status), replayed three times byte for byte.
    let b = place(&env, 2, json!([{"sku": "WOO-CAP", "quantity": 3}]));
    // C: processing → cancelled (three times), before shipment.
    let c = place(&env, 3, json!([{"sku": "WOO-TSHIRT", "quantity": 1}]));
    // D: completed, then cancelled: a person must record the return.
    let d = place(
        &env,
        4,
        json!([{"product_id": 13, "variation_id": 14, "quantity": 1}]),
    );
    let id = |o: &Value| o["id"].as_u64().unwrap();
    let (a_id, b_id, c_id, d_id) = (id(&a), id(&b), id(&c), id(&d));
    wait_for("four sales orders", &host, || {
        env.x3_records("SORDER").len() == 4
    });
    assert_eq!(stock(&env, "TSHIRT"), 50.0, "posting issues no stock");

    status_thrice(&env, a_id, "completed");
    let soh_a = sales_order(&env, a_id)["SOHNUM"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("A delivered in X3", &host, || {
        !deliveries_of(&env, &soh_a).is_empty()
    });
    status_thrice(&env, a_id, "delivered");

    env.put_status(b_id, "shipped");
    drained(&env);
    replay_last_delivery(&env, &host, b_id, 3);

    status_thrice(&env, c_id, "cancelled");

    env.put_status(d_id, "completed");
    drained(&env);
    let soh_d = sales_order(&env, d_id)["SOHNUM"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("D delivered in X3", &host, || {
        !deliveries_of(&env, &soh_d).is_empty()
    });
    status_thrice(&env, d_id, "cancelled");

    wait_for(
        "A delivered, B shipped, C cancelled, D needs a person",
        &host,
        || {
            state_of(&env, &host, a_id)["state"] == "delivered"
                && state_of(&env, &host, b_id)["state"] == "shipped"
                && state_of(&env, &host, c_id)["state"] == "cancelled"
                && state_of(&env, &host, d_id)["state"] == "attention"
        },
    );
    // Late work may not double anything.
    std::thread::sleep(Duration::from_millis(500));

    // A: one delivery, every line in full (the shipping line too, so X3 sees it fully
    // delivered), stock issued once.
    let da = deliveries_of(&env, &soh_a);
    assert_eq!(da.len(), 1, "one delivery for A: {da:?}");
    assert_eq!(
        lines(&da[0], "SDELIVERYD"),
        vec![
            ("TSHIRT".into(), 2.0),
            ("MUG".into(), 1.0),
            ("CARRIAGE".into(), 1.0)
        ]
    );
    assert_eq!(da[0]["STOFCY"], "FR011");
    let soa = sales_order(&env, a_id);
    assert_eq!(soa["DLVSTA"], 3);
    assert_eq!(soa["ORDSTA"], 1);
    // B: one delivery of 3 caps.
    let soh_b = sales_order(&env, b_id)["SOHNUM"]
        .as_str()
        .unwrap()
        .to_string();
    let db = deliveries_of(&env, &soh_b);
    assert_eq!(db.len(), 1);
    assert_eq!(
        lines(&db[0], "SDELIVERYD"),
        vec![("CAP".into(), 3.0), ("CARRIAGE".into(), 1.0)]
    );
    // C: closed, never delivered.
    let soc = sales_order(&env, c_id);
    assert_eq!(soc["ORDSTA"], 2, "C closed in X3");
    assert!(deliveries_of(&env, soc["SOHNUM"].as_str().unwrap()).is_empty());
    // D: delivered once and left open; the order page says why.
    let sod = sales_order(&env, d_id);
    assert_eq!(
        (sod["ORDSTA"].clone(), sod["DLVSTA"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(deliveries_of(&env, &soh_d).len(), 1);
    let dstate = state_of(&env, &host, d_id);
    assert!(
        dstate["last-error"]
            .as_str()
            .unwrap_or("")
            .contains("cancelled after it shipped"),
        "{dstate}"
    );
    // Stock: exactly what the deliveries issued.
    assert_eq!(stock(&env, "TSHIRT"), 48.0);
    assert_eq!(stock(&env, "MUG"), 39.0);
    assert_eq!(stock(&env, "CAP"), 27.0);
    assert_eq!(stock(&env, "HOODIE-RED"), 19.0);
    assert_eq!(
        env.x3_records("SDELIVERY").len(),
        3,
        "three deliveries in all"
    );
    // Each action once on A's timeline, however many webhooks came.
    let timeline = state_of(&env, &host, a_id)["timeline"].clone();
    let count = |event: &str| {
        timeline
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == event)
            .count()
    };
    assert_eq!((count("shipped"), count("delivered")), (1, 1), "{timeline}");
    // And each action once in the ledgers of B and C.
    for (order, kind) in [(b_id, "delivery"), (c_id, "cancel")] {
        let ledger = state_of(&env, &host, order)["ledger"].clone();
        let rows: Vec<&Value> = ledger
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == kind)
            .collect();
        assert_eq!(rows.len(), 1, "{ledger}");
        assert_eq!(
            (rows[0]["state"].clone(), rows[0]["attempts"].clone()),
            (json!("done"), json!(1)),
            "{ledger}"
        );
    }

    let status = host.terminate();
    assert!(status.success());
}

#[test]
fn refunds_become_credit_notes_and_restock_once_each() {
    let env = env("stock-refunds");
    let host = HostProc::start(&env);
    let id = |o: &Value| o["id"].as_u64().unwrap();
    // E: shipped, then one of two T-shirts refunded with restock — replayed three times.
    let e = place(
        &env,
        5,
        json!([{"sku": "WOO-TSHIRT", "quantity": 2}, {"sku": "WOO-CAP", "quantity": 1}]),
    );
    // F: shipped, then refunded in full without restock (order status → refunded).
    let f = place(&env, 6, json!([{"sku": "WOO-MUG", "quantity": 2}]));
    let (e_id, f_id) = (id(&e), id(&f));
    wait_for("two sales orders", &host, || {
        env.x3_records("SORDER").len() == 2
    });
    env.put_status(e_id, "completed");
    env.put_status(f_id, "completed");
    drained(&env);
    wait_for("E and F delivered", &host, || {
        env.x3_records("SDELIVERY").len() == 2
    });
    assert_eq!(stock(&env, "TSHIRT"), 48.0);
    assert_eq!(stock(&env, "MUG"), 38.0);

    // The partial refund: one T-shirt, restocked.
    let shirt = e["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sku"] == "WOO-TSHIRT")
        .unwrap()
        .clone();
    let unit = dec(&shirt["total"]) / 2.0;
    let refund_e = env
        .woo
        .refund(
            e_id,
            &json!({"reason": "too small", "restock": true,
                    "line_items": [{"id": shirt["id"], "quantity": 1,
                                    "refund_total": format!("{unit:.2}")}]}),
        )
        .unwrap();
    drained(&env);
    replay_last_delivery(&env, &host, e_id, 3);

    // The full refund: every line and the shipping, no restock.
    let mug = &f["line_items"][0];
    let refund_f = env
        .woo
        .refund(
            f_id,
            &json!({"amount": f["total"], "reason": "lost in transit", "restock": false,
                    "line_items": [{"id": mug["id"], "quantity": 2, "refund_total": mug["total"]}]}),
        )
        .unwrap();
    drained(&env);
    // The order is now `refunded`; its webhook three times.
    status_thrice(&env, f_id, "refunded");

    let e_prefix = format!("WC-{e_id}R");
    let f_prefix = format!("WC-{f_id}R");
    wait_for("both credit notes", &host, || {
        credit_notes(&env, &e_prefix).len() == 1
            && credit_notes(&env, &f_prefix).len() == 1
            && state_of(&env, &host, f_id)["state"] == "refunded"
            && stock(&env, "TSHIRT") == 49.0
    });
    std::thread::sleep(Duration::from_millis(500));

    // E: one line, one T-shirt at its price, on the credit-note type; one unit back in stock.
    let ce = credit_notes(&env, &e_prefix);
    assert_eq!(ce.len(), 1, "{ce:?}");
    let ce = &ce[0];
    assert_eq!(ce["SIVTYP"], "AVO");
    assert_eq!(ce["CUSORDREF"], format!("WC-{e_id}R{}", refund_e["id"]));
    assert_eq!(ce["BPCINV"], sales_order(&env, e_id)["BPCORD"]);
    assert_eq!(lines(ce, "SINVOICED"), vec![("TSHIRT".into(), 1.0)]);
    assert!((dec(&ce["SINVOICED"][0]["GROPRI"]) - unit).abs() < 1e-9);
    assert_eq!(stock(&env, "TSHIRT"), 49.0, "restocked once");
    assert_eq!(stock(&env, "CAP"), 29.0, "the cap was not refunded");

    // F: the mugs at their price and the shipping (with its tax) on the refund item; no restock.
    let cf = credit_notes(&env, &f_prefix);
    assert_eq!(cf.len(), 1, "{cf:?}");
    let cf = &cf[0];
    assert_eq!(cf["CUSORDREF"], format!("WC-{f_id}R{}", refund_f["id"]));
    assert_eq!(
        lines(cf, "SINVOICED"),
        vec![("MUG".into(), 2.0), ("REFUND".into(), 1.0)]
    );
    let shipping_gross = dec(&f["shipping_total"]) + dec(&f["shipping_tax"]);
    assert!(
        (dec(&cf["SINVOICED"][1]["GROPRI"]) - shipping_gross).abs() < 1e-9,
        "{cf}"
    );
    assert!(
        (dec(&cf["SINVOICED"][0]["GROPRI"]) - dec(&mug["total"]) / 2.0).abs() < 1e-9,
        "{cf}"
    );
    assert_eq!(stock(&env, "MUG"), 38.0, "not restocked");

    // Exactly two credit notes in X3, and no further deliveries.
    let invoices: BTreeMap<String, usize> =
        env.x3_records("SINVOICE")
            .iter()
            .fold(BTreeMap::new(), |mut m, i| {
                *m.entry(i["CUSORDREF"].as_str().unwrap().to_string())
                    .or_default() += 1;
                m
            });
    assert_eq!(invoices.len(), 2, "{invoices:?}");
    assert!(invoices.values().all(|n| *n == 1));
    assert_eq!(env.x3_records("SDELIVERY").len(), 2);

    // A restart reads the same ledger: nothing is sent again.
    let status = host.terminate();
    assert!(status.success());
    let host = HostProc::start(&env);
    env.put_status(e_id, "completed");
    drained(&env);
    wait_for("E seen again after the restart", &host, || {
        state_of(&env, &host, e_id)["state"] == "shipped"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.x3_records("SINVOICE").len(), 2);
    assert_eq!(env.x3_records("SDELIVERY").len(), 2);
    assert_eq!(stock(&env, "TSHIRT"), 49.0);
    let status = host.terminate();
    assert!(status.success());
}

#[test]
fn the_same_actions_over_graphql() {
    let env = Env::new(
        "stock-graphql",
        Options {
            graphql: true,
            config_tail: STOCK.into(),
            ..Options::default()
        },
    );
    env.x3
        .seed(&json!({
            "items": [{"ITMREF": "REFUND", "DES1AXX": "Refund", "TCLCOD": "WEB", "STU": "UN"}],
            "stock": [{"STOFCY": "FR011", "ITMREF": "TSHIRT", "QTYSTU": 50}],
        }))
        .unwrap();
    let host = HostProc::start(&env);
    let id = |o: &Value| o["id"].as_u64().unwrap();
    let g = place(&env, 7, json!([{"sku": "WOO-TSHIRT", "quantity": 3}]));
    let h = place(&env, 8, json!([{"sku": "WOO-TSHIRT", "quantity": 1}]));
    let (g_id, h_id) = (id(&g), id(&h));
    wait_for("two sales orders", &host, || {
        env.x3_records("SORDER").len() == 2
    });
    status_thrice(&env, g_id, "completed");
    status_thrice(&env, h_id, "cancelled");
    wait_for("G delivered", &host, || {
        env.x3_records("SDELIVERY").len() == 1
    });
    let line = g["line_items"][0].clone();
    env.woo
        .refund(
            g_id,
            &json!({"restock": true, "line_items": [{"id": line["id"], "quantity": 2}]}),
        )
        .unwrap();
    drained(&env);
    replay_last_delivery(&env, &host, g_id, 3);
    wait_for("G credited and restocked, H closed", &host, || {
        credit_notes(&env, &format!("WC-{g_id}R")).len() == 1
            && stock(&env, "TSHIRT") == 49.0
            && sales_order(&env, h_id)["ORDSTA"] == 2
    });
    std::thread::sleep(Duration::from_millis(500));
    let soh_g = sales_order(&env, g_id)["SOHNUM"]
        .as_str()
        .unwrap()
        .to_string();
    let dg = deliveries_of(&env, &soh_g);
    assert_eq!(dg.len(), 1);
    assert_eq!(
        lines(&dg[0], "SDELIVERYD"),
        vec![("TSHIRT".into(), 3.0), ("CARRIAGE".into(), 1.0)]
    );
    let cn = credit_notes(&env, &format!("WC-{g_id}R"));
    assert_eq!(cn.len(), 1);
    assert_eq!(cn[0]["SIVTYP"], "AVO");
    assert_eq!(lines(&cn[0], "SINVOICED"), vec![("TSHIRT".into(), 2.0)]);
    // 50 − 3 delivered + 2 restocked.
    assert_eq!(stock(&env, "TSHIRT"), 49.0);
    assert!(deliveries_of(&env, sales_order(&env, h_id)["SOHNUM"].as_str().unwrap()).is_empty());
    let status = host.terminate();
    assert!(status.success());
}

#[test]
fn unanswered_deliveries_and_credit_notes_are_found_not_sent_twice_even_across_kill_9() {
    let env = Env::new(
        "stock-unknown",
        Options {
            x3_timeout_secs: 1,
            config_tail: STOCK.into(),
            ..Options::default()
        },
    );
    env.x3
        .seed(&json!({"stock": [{"STOFCY": "FR011", "ITMREF": "MUG", "QTYSTU": 40}]}))
        .unwrap();
    let mut host = HostProc::start(&env);
    let o = place(&env, 9, json!([{"sku": "WOO-MUG", "quantity": 2}]));
    let id = o["id"].as_u64().unwrap();
    wait_for("the sales order", &host, || {
        env.x3_records("SORDER").len() == 1
    });
    let mut logs = String::new();

    // The delivery is committed by X3 and never answered; the host is killed while it waits.
    env.x3
        .set_faults(&json!({"commit_then_timeout": {"count": 1}}))
        .unwrap();
    env.put_status(id, "completed");
    drained(&env);
    wait_for("the delivery committed in X3", &host, || {
        env.x3_records("SDELIVERY").len() == 1
    });
    logs.push_str(&host.log());
    host.kill9();
    host = HostProc::start(&env);
    env.put_status(id, "completed");
    drained(&env);
    wait_for("the order shipped", &host, || {
        state_of(&env, &host, id)["state"] == "shipped"
    });

    // The credit note too: committed, unanswered, then found by its reference.
    env.x3
        .set_faults(&json!({"commit_then_timeout": {"count": 1}}))
        .unwrap();
    let mug = &o["line_items"][0];
    env.woo
        .refund(
            id,
            &json!({"restock": true, "line_items": [{"id": mug["id"], "quantity": 1}]}),
        )
        .unwrap();
    drained(&env);
    wait_for("credited and restocked", &host, || {
        credit_notes(&env, &format!("WC-{id}R")).len() == 1 && stock(&env, "MUG") == 39.0
    });
    std::thread::sleep(Duration::from_millis(1500));
    logs.push_str(&host.log());

    assert_eq!(env.x3_records("SDELIVERY").len(), 1, "delivered once");
    assert_eq!(env.x3_records("SINVOICE").len(), 1, "credited once");
    // 40 − 2 delivered + 1 restocked.
    assert_eq!(stock(&env, "MUG"), 39.0);
    for what in ["delivery", "credit note"] {
        assert!(
            logs.contains(&format!("adopted X3 {what}")),
            "the unanswered {what} was not found; logs:\n{logs}"
        );
    }
    let status = host.terminate();
    assert!(status.success());
}

//! End to end: broken and hostile deliveries get their documented answer (docs/webhooks.md) and
//! leave nothing behind — no order state, nothing in X3 — while good deliveries still work.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Env, HostProc, Options, WEBHOOK_SECRET, wait_until};
use mlc_sim::woo::deliver::signature;
use serde_json::{Value, json};

fn post(host: &HostProc, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    let mut req = ureq::post(&host.url("/webhooks/woocommerce"))
        .config()
        .http_status_as_error(false)
        .build();
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn order_headers<'a>(topic: &'a str, sig: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("Content-Type", "application/json"),
        ("X-WC-Webhook-Topic", topic),
        ("X-WC-Webhook-Resource", "order"),
        ("X-WC-Webhook-Event", "updated"),
        ("X-WC-Webhook-ID", "99"),
        (
            "X-WC-Webhook-Delivery-ID",
            "0123456789abcdef0123456789abcdef",
        ),
        ("X-WC-Webhook-Signature", sig),
    ]
}

#[test]
fn hostile_deliveries_get_their_documented_answers_and_leave_no_state() {
    // No webhooks deliver on their own here: every request below is made by the test.
    let env = Env::new(
        "hostile",
        Options {
            woo_auto_deliver: None,
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    // A genuine order body from the store, not yet delivered.
    let order = env
        .woo
        .place_order(&common::checkout(&mut common::Lcg(1), 1))
        .unwrap();
    let body = mlc_sim::woo::phpjson::encode(&order);
    let good_sig = signature(&body, WEBHOOK_SECRET);

    // Forged signature: 401.
    let forged = signature(&body, "someone-else's-secret");
    let (status, answer) = post(&host, &order_headers("order.updated", &forged), &body);
    assert_eq!(status, 401, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("signature"));
    // No signature at all: 401.
    let (status, _) = post(
        &host,
        &[
            ("Content-Type", "application/json"),
            ("X-WC-Webhook-Topic", "order.updated"),
        ],
        &body,
    );
    assert_eq!(status, 401);
    // Truncated body with the full body's signature: 401 (the signature covers every byte).
    let (status, _) = post(
        &host,
        &order_headers("order.updated", &good_sig),
        &body[..body.len() / 2],
    );
    assert_eq!(status, 401);
    // 10 MB body: 413, refused on its declared length.
    let big = vec![b'x'; 10 << 20];
    let (status, _) = post(
        &host,
        &order_headers("order.updated", &signature(&big, WEBHOOK_SECRET)),
        &big,
    );
    assert_eq!(status, 413);
    // A REST error object as the payload, correctly signed: acknowledged, counted, no order.
    let err = br#"{"code":"woocommerce_rest_shop_order_invalid_id","message":"Invalid ID.","data":{"status":404}}"#;
    let (status, answer) = post(
        &host,
        &order_headers("order.updated", &signature(err, WEBHOOK_SECRET)),
        err,
    );
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    // A legacy_v3 payload, correctly signed: 400 with what to change.
    let legacy = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/testdata/samples/order.legacy-v3.json"
    ))
    .unwrap();
    let (status, answer) = post(
        &host,
        &order_headers("order.updated", &signature(&legacy, WEBHOOK_SECRET)),
        &legacy,
    );
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("API version"),
        "{answer}"
    );
    // Invalid UTF-8 and deep nesting, signed: 400, and the host is still there.
    for junk in [vec![0xff, 0xfe, 0xfd], "[".repeat(100_000).into_bytes()] {
        let (status, _) = post(
            &host,
            &order_headers("order.updated", &signature(&junk, WEBHOOK_SECRET)),
            &junk,
        );
        assert_eq!(status, 400);
    }
    // The wrong method.
    let resp = ureq::get(&host.url("/webhooks/woocommerce"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);

    // Nothing of the above left an order behind, and X3 saw nothing.
    let status = host.status();
    assert_eq!(status["orders"], json!({}), "{status}");
    let counters = &status["deliveries"]["counters"];
    assert_eq!(counters["rejected_signature"], 3, "{status}");
    assert_eq!(counters["rejected_too_large"], 1);
    assert_eq!(counters["rejected_legacy"], 1);
    assert_eq!(counters["rejected_body"], 2);
    assert_eq!(counters["payload_rest_error"], 1);
    std::thread::sleep(Duration::from_millis(300));
    assert!(env.x3_records("SORDER").is_empty());

    // A ping is answered 200 and stores nothing; then the genuine delivery goes through.
    let (status, answer) = post(
        &host,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"webhook_id=99",
    );
    assert_eq!((status, answer["status"].as_str()), (200, Some("pong")));
    let (status, _) = post(&host, &order_headers("order.updated", &good_sig), &body);
    assert_eq!(status, 200);
    // The same delivery again is a duplicate, acknowledged but not processed twice.
    let (status, answer) = post(&host, &order_headers("order.updated", &good_sig), &body);
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert!(
        wait_until(Duration::from_secs(30), || env.x3_records("SORDER").len()
            == 1),
        "{}",
        host.log()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(env.x3_records("SORDER").len(), 1);
    assert_eq!(
        env.x3_records("SORDER")[0]["CUSORDREF"],
        format!("WC-{}", order["id"])
    );
    // No secret in the log.
    let log = host.log();
    assert!(
        !log.contains("e2e-hook-s3cret") && !log.contains(&env.x3.config().password),
        "{log}"
    );
}

/// A woo-sim order (real id), changed by `f` and then as text by `t`, delivered signed:
/// (order as changed, status, answer).
fn deliver_changed(
    env: &Env,
    host: &HostProc,
    checkout: &Value,
    f: impl FnOnce(&mut Value),
    t: impl FnOnce(String) -> String,
) -> (Value, u16, Value) {
    let mut order = env.woo.place_order(checkout).unwrap();
    f(&mut order);
    let body = t(String::from_utf8(mlc_sim::woo::phpjson::encode(&order)).unwrap());
    let sig = signature(body.as_bytes(), WEBHOOK_SECRET);
    let (status, answer) = post(host, &order_headers("order.updated", &sig), body.as_bytes());
    (order, status, answer)
}

fn keep(s: String) -> String {
    s
}

/// The order summaries the status API lists under `list` (`held`, `attention`), by order id.
fn listed(host: &HostProc, list: &str, id: u64) -> Option<Value> {
    host.status()[list]
        .as_array()?
        .iter()
        .find(|o| o["order_id"] == id)
        .cloned()
}

fn order_in_x3(env: &Env, order: &Value) -> Option<Value> {
    env.x3_orders_by_reference()
        .get(&format!("WC-{}", order["id"]))
        .map(|v| {
            assert_eq!(v.len(), 1, "{} posted {} times", order["id"], v.len());
            v[0].clone()
        })
}

/// The catalogue of docs/hostile-input.md, each with its expected answer and what X3 holds after.
#[test]
fn hostile_input_catalogue() {
    let env = Env::new(
        "catalogue",
        Options {
            woo_auto_deliver: None,
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    let simple = json!({
        "lines": [{"sku": "WOO-MUG", "quantity": 1}],
        "billing": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com",
            "address_1": "1 Main St", "city": "Lyon", "postcode": "69001", "country": "FR"},
        "status": "processing", "shipping_method": "flat_rate",
    });

    // Huge numbers: a quantity beyond any integer, a total beyond any decimal. Stored, then set
    // aside for attention with the field named; nothing reaches X3.
    let (huge_qty, status, _) = deliver_changed(
        &env,
        &host,
        &simple,
        |_| {},
        |b| {
            b.replacen(
                "\"quantity\":1,",
                "\"quantity\":100000000000000000000000000000,",
                1,
            )
        },
    );
    assert_eq!(status, 200);
    let (huge_total, status, _) = deliver_changed(
        &env,
        &host,
        &simple,
        |_| {},
        |b| {
            let total = b.find("\"total\":\"").unwrap();
            let end = b[total + 9..].find('"').unwrap() + total + 9;
            format!(
                "{}\"total\":\"{}\"{}",
                &b[..total],
                "9".repeat(40),
                &b[end + 1..]
            )
        },
    );
    assert_eq!(status, 200);
    // An order id beyond 64 bits is not a WooCommerce payload: 400.
    let (_, status, answer) = deliver_changed(
        &env,
        &host,
        &simple,
        |_| {},
        |b| {
            let at = b.find("\"id\":").unwrap();
            let end = b[at..].find(',').unwrap() + at;
            format!("{}\"id\":184467440737095516160{}", &b[..at], &b[end..])
        },
    );
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("not a resource id"),
        "{answer}"
    );
    // Negative and fractional quantities.
    let (negative, status, _) = deliver_changed(
        &env,
        &host,
        &simple,
        |o| o["line_items"][0]["quantity"] = json!(-1),
        keep,
    );
    assert_eq!(status, 200);
    let (fractional, status, _) = deliver_changed(
        &env,
        &host,
        &simple,
        |o| o["line_items"][0]["quantity"] = json!(1.5),
        keep,
    );
    assert_eq!(status, 200);
    // No billing e-mail (and no guest customer configured): held, the reason named.
    let (no_email, status, _) = deliver_changed(
        &env,
        &host,
        &simple,
        |o| o["billing"]["email"] = json!(""),
        keep,
    );
    assert_eq!(status, 200);
    // Quotes, unicode and control characters in names and the e-mail: posted.
    let odd_email = "zoë.o'brien+\"q\"@exämple.com";
    let (odd, status, _) = deliver_changed(
        &env,
        &host,
        &simple,
        |o| {
            o["billing"]["first_name"] = json!("Zoë \"Z\"");
            o["billing"]["last_name"] = json!("O'Brien\u{7}山田");
            o["billing"]["email"] = json!(odd_email);
        },
        keep,
    );
    assert_eq!(status, 200);
    // SQL- and SData-looking text in every text field, twice for the same e-mail: posted
    // verbatim, and the second order finds the customer the first created (the look-up filter
    // is escaped, not interpreted).
    let sql_email = "x'or'1'eq'1@example.com";
    let sqlish = |o: &mut Value| {
        let b = &mut o["billing"];
        b["first_name"] = json!("Robert'); --");
        b["last_name"] = json!("x' or 1 eq 1");
        b["company"] = json!("'; DROP TABLE x;--");
        b["address_1"] = json!("$filter=WEB eq '*'");
        b["address_2"] = json!("{email:\"a\"} OR 1=1");
        b["city"] = json!("a' and 'b' eq 'b");
        b["postcode"] = json!("1' OR '1");
        b["phone"] = json!("1;SELECT 1");
        b["email"] = json!(sql_email);
        o["shipping"] = b.clone();
        o["line_items"][0]["name"] = json!("Mug'); DELETE");
        o["customer_note"] = json!("'); DROP TABLE SORDER; --");
    };
    let (sql1, status, _) = deliver_changed(&env, &host, &simple, sqlish, keep);
    assert_eq!(status, 200);
    let (sql2, status, _) = deliver_changed(&env, &host, &simple, sqlish, keep);
    assert_eq!(status, 200);
    // Six orders of one new customer at once (three workers): one customer, six orders. Two
    // workers creating the same customer made X3 refuse the second ("Record already exists").
    let same_customer = |o: &mut Value| o["billing"]["email"] = json!("twice@example.com");
    let burst: Vec<Value> = (0..6)
        .map(|_| deliver_changed(&env, &host, &simple, same_customer, keep))
        .map(|(o, status, _)| {
            assert_eq!(status, 200);
            o
        })
        .collect();
    // A valid signature made with another webhook's secret: 401, nothing stored.
    let mut other = env.woo.place_order(&simple).unwrap();
    other["billing"]["first_name"] = json!("Other");
    let body = mlc_sim::woo::phpjson::encode(&other);
    let sig = signature(&body, "the-other-webhook's-secret");
    let mut headers = order_headers("order.updated", &sig);
    headers[4] = ("X-WC-Webhook-ID", "100");
    let (status, _) = post(&host, &headers, &body);
    assert_eq!(status, 401);
    // A 500-line order: posted whole.
    let products = [
        json!({"sku": "WOO-TSHIRT"}),
        json!({"sku": "WOO-CAP"}),
        json!({"sku": "WOO-MUG"}),
        json!({"product_id": 13, "variation_id": 14}),
        json!({"product_id": 13, "variation_id": 15}),
        json!({"product_id": 16}),
    ];
    let mut big = simple.clone();
    big["lines"] = (0..500)
        .map(|i| {
            let mut l = products[i % products.len()].clone();
            l["quantity"] = json!(1 + i % 4);
            l
        })
        .collect();
    let (big, status, _) = deliver_changed(&env, &host, &big, |_| {}, keep);
    assert_eq!(status, 200);
    // A replayed old delivery: after a newer revision, the first body again is a duplicate and
    // nothing is posted twice.
    let first = env.woo.place_order(&simple).unwrap();
    let first_body = mlc_sim::woo::phpjson::encode(&first);
    let first_sig = signature(&first_body, WEBHOOK_SECRET);
    assert_eq!(
        post(
            &host,
            &order_headers("order.updated", &first_sig),
            &first_body
        )
        .0,
        200
    );
    let id = first["id"].as_u64().unwrap();
    assert!(wait_until(Duration::from_secs(60), || order_in_x3(
        &env, &first
    )
    .is_some()));
    let newer = env.woo.set_status(id, "completed").unwrap();
    let newer_body = mlc_sim::woo::phpjson::encode(&newer);
    let (status, answer) = post(
        &host,
        &order_headers("order.updated", &signature(&newer_body, WEBHOOK_SECRET)),
        &newer_body,
    );
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    let (status, answer) = post(
        &host,
        &order_headers("order.updated", &first_sig),
        &first_body,
    );
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );

    // What X3 holds afterwards.
    let mut posted = vec![&odd, &sql1, &sql2, &big, &first];
    posted.extend(burst.iter());
    assert!(
        wait_until(Duration::from_secs(120), || posted
            .iter()
            .all(|o| order_in_x3(&env, o).is_some())),
        "{}",
        host.log()
    );
    for (o, needle) in [
        (&huge_qty, "quantity"),
        (&huge_total, "total"),
        (&negative, "must be positive"),
        (&fractional, "not a whole number"),
    ] {
        let id = o["id"].as_u64().unwrap();
        assert!(
            wait_until(Duration::from_secs(60), || listed(&host, "attention", id)
                .is_some()),
            "{id} not set aside: {}",
            host.status()
        );
        let a = listed(&host, "attention", id).unwrap();
        assert!(a.to_string().contains(needle), "{a}");
        assert!(order_in_x3(&env, o).is_none());
    }
    let held = listed(&host, "held", no_email["id"].as_u64().unwrap()).unwrap();
    assert!(held.to_string().contains("no billing e-mail"), "{held}");
    assert!(order_in_x3(&env, &no_email).is_none());

    let customers = env.x3_records("BPCUSTOMER");
    let doc = order_in_x3(&env, &odd).unwrap();
    // Sent as they are, control character included (docs/hostile-input.md).
    assert_eq!(doc["BPINAM"], "Zoë \"Z\" O'Brien\u{7}山田");
    let customer = customers
        .iter()
        .find(|c| c["BPCNUM"] == doc["BPCORD"])
        .unwrap();
    assert_eq!(customer["BPADDRESS"][0]["WEB"], odd_email, "{customer}");
    let doc1 = order_in_x3(&env, &sql1).unwrap();
    let doc2 = order_in_x3(&env, &sql2).unwrap();
    assert_eq!(
        doc1["BPCORD"], doc2["BPCORD"],
        "one customer for one e-mail"
    );
    let email_of = |c: &Value| c["BPADDRESS"][0]["WEB"].clone();
    let sql_customers: Vec<&Value> = customers
        .iter()
        .filter(|c| email_of(c) == sql_email)
        .collect();
    assert_eq!(sql_customers.len(), 1, "{customers:?}");
    let burst_customers: Vec<&Value> = customers
        .iter()
        .filter(|c| email_of(c) == "twice@example.com")
        .collect();
    assert_eq!(burst_customers.len(), 1, "{customers:?}");
    for o in &burst {
        assert_eq!(
            order_in_x3(&env, o).unwrap()["BPCORD"],
            burst_customers[0]["BPCNUM"]
        );
    }
    for doc in [&doc1, &doc2] {
        assert_eq!(doc["BPINAM"], "Robert'); -- x' or 1 eq 1");
        // The company goes on the third address line (BPINAM is one 35-character string).
        assert_eq!(doc["BPIADDLIG"][2], "'; DROP TABLE x;--");
        assert_eq!(doc["BPIADDLIG"][0], "$filter=WEB eq '*'");
        assert_eq!(doc["BPIADDLIG"][1], "{email:\"a\"} OR 1=1");
        assert_eq!(doc["BPICTY"], "a' and 'b' eq 'b");
        assert_eq!(doc["BPIPOSCOD"], "1' OR '1");
        assert_eq!(doc["BPDCTY"], "a' and 'b' eq 'b");
        assert_eq!(doc["SOHSOP"][0]["ITMDES"], "Mug'); DELETE");
    }
    let big_doc = order_in_x3(&env, &big).unwrap();
    let lines = big_doc["SOHSOP"].as_array().unwrap();
    assert_eq!(lines.len(), 501, "500 lines and the shipping line");
    for (i, l) in lines.iter().take(500).enumerate() {
        assert_eq!(l["QTY"], json!(1 + i % 4), "line {i}");
    }
    // Every X3 order is one of the posted ones, once.
    assert_eq!(env.x3_records("SORDER").len(), posted.len());
}

/// Regression (issue 14): a verified delivery of an order under a topic WooCommerce does not have
/// (`order.exploded`) was posted like an order. It is stored and acknowledged, counted and noted,
/// and not posted; the same body under `order.created` then is, once.
#[test]
fn an_unknown_order_topic_is_stored_and_acknowledged_but_not_posted() {
    let env = Env::new(
        "unknown-topic",
        Options {
            woo_auto_deliver: None,
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    let order = env
        .woo
        .place_order(&common::checkout(&mut common::Lcg(7), 1))
        .unwrap();
    let body = mlc_sim::woo::phpjson::encode(&order);
    let sig = signature(&body, WEBHOOK_SECRET);
    let mut headers = order_headers("order.exploded", &sig);
    headers.retain(|(k, _)| *k != "X-WC-Webhook-Event");
    headers.push(("X-WC-Webhook-Event", "exploded"));
    let (status, answer) = post(&host, &headers, &body);
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    // Stored before the answer: no order came of it, and it is counted and explained.
    let status = host.status();
    assert_eq!(status["orders"], json!({}), "{status}");
    assert_eq!(status["deliveries"]["counters"]["unknown_topic"], 1);
    assert_eq!(status["deliveries"]["stored"], 1);
    let notes = status["store"]["notes"].to_string();
    assert!(notes.contains("not posted"), "{notes}");
    assert!(
        status["store"]["webhooks"]
            .to_string()
            .contains("order.exploded"),
        "{status}"
    );
    assert!(host.log().contains("\"order.exploded\""), "{}", host.log());

    let (status, _) = post(&host, &order_headers("order.created", &sig), &body);
    assert_eq!(status, 200);
    assert!(
        wait_until(Duration::from_secs(30), || order_in_x3(&env, &order)
            .is_some()),
        "{}",
        host.log()
    );
    assert_eq!(env.x3_records("SORDER").len(), 1);
}

//! End to end: broken and hostile deliveries get their documented answer (docs/webhooks.md) and
//! leave nothing behind — no order state, nothing in X3 — while good deliveries still work.

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

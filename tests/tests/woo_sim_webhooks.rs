//! woo-sim webhooks over real HTTP against a recording receiver: the delivery request itself,
//! queueing and coalescing, payloads built at send time, pings, failure counting, URL safety,
//! and the REST webhook endpoints.

mod woo_sim_support;

use mlc_sim::woo::{WooConfig, WooSim};
use serde_json::{Value, json};
use std::time::Duration;
use woo_sim_support::*;

fn body_json(r: &Rec) -> Value {
    serde_json::from_slice(&r.body).expect("JSON body")
}

#[test]
fn delivery_carries_all_headers_and_a_verifiable_signature() {
    let sim = start();
    let rx = Receiver::start();
    let secret = "rw&amp;<\"'>B-secret";
    let wid = create_webhook(&sim, "order.created", &rx.url("/hook/a"), secret);
    let o = checkout(&sim);
    rx.clear();
    let sent = sim.flush();
    assert_eq!(sent.as_array().map(Vec::len), Some(1));
    let got = rx.deliveries();
    assert_eq!(got.len(), 1);
    let d = &got[0];
    assert_eq!(d.method, "POST");
    assert_eq!(d.url, "/hook/a");
    assert_eq!(
        d.http_version, "1.1",
        "HTTP/1.1 as captured, not the documented 1.0"
    );
    let want = [
        (
            "User-Agent",
            "WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)".to_string(),
        ),
        ("Accept", "*/*".to_string()),
        ("Accept-Encoding", "deflate, gzip, br, zstd".to_string()),
        ("Content-Type", "application/json".to_string()),
        ("X-WC-Webhook-Source", sim.site_url()),
        ("X-WC-Webhook-Topic", "order.created".to_string()),
        ("X-WC-Webhook-Resource", "order".to_string()),
        ("X-WC-Webhook-Event", "created".to_string()),
        ("X-WC-Webhook-ID", wid.to_string()),
        ("Connection", "close".to_string()),
        ("Content-Length", d.body.len().to_string()),
    ];
    for (k, v) in want {
        assert_eq!(d.header(k), Some(v.as_str()), "{k}");
    }
    assert!(sim.site_url().ends_with('/'));
    let did = d.header("X-WC-Webhook-Delivery-ID").expect("delivery id");
    assert!(
        did.len() == 32
            && did
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    // Receiver-side standard check, over the received bytes, with the entity-decoded secret.
    let sig = d.header("X-WC-Webhook-Signature").expect("signature");
    assert!(verify(&d.body, "rw&<\"'>B-secret", sig));
    // PHP encoding on the wire: escaped slashes and \u escapes, not raw UTF-8.
    let text = String::from_utf8(d.body.clone()).expect("ascii");
    assert!(text.is_ascii());
    assert!(
        text.contains("Zo\\u00eb")
            && text.contains("\\u5c71\\u7530")
            && text.contains("http:\\/\\/127.0.0.1")
    );
    assert_eq!(body_json(d), o);
    // The log shows the same request and the answer.
    let log = &sim
        .deliveries()
        .as_array()
        .expect("log")
        .iter()
        .rev()
        .find(|e| e["kind"] == "delivery")
        .cloned()
        .expect("entry");
    assert_eq!(log["response"]["status"], json!(200));
    assert_eq!(log["request"]["headers"]["X-WC-Webhook-Signature"], sig);
    assert_eq!(log["failure_count"], json!(0));
}

#[test]
fn ping_on_create_is_form_encoded_unsigned_and_only_200_clears_pending() {
    let sim = start();
    let rx = Receiver::start();
    rx.set(Mode::Status(204));
    let wid = create_webhook(&sim, "order.updated", &rx.url("/hook/c"), "s");
    let pings = rx.all();
    assert_eq!(pings.len(), 1);
    let p = &pings[0];
    assert_eq!(p.body, format!("webhook_id={wid}").into_bytes());
    assert_eq!(
        p.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(p.header("Connection"), Some("close"));
    assert_eq!(
        p.header("User-Agent"),
        Some("WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)")
    );
    assert!(
        p.headers
            .iter()
            .all(|(k, _)| !k.to_ascii_lowercase().starts_with("x-wc-")),
        "no X-WC headers"
    );
    assert_eq!(
        internal(&sim, wid)["pending_delivery"],
        json!(true),
        "a 204 does not clear it"
    );
    // Every save while pending pings again; a 200 clears it.
    rx.set(Mode::Status(200));
    let r = api_send(
        &sim,
        "PUT",
        &format!("webhooks/{wid}"),
        &json!({"name": "renamed"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(rx.all().len(), 2);
    assert_eq!(internal(&sim, wid)["pending_delivery"], json!(false));
    // No longer pending: a save does not ping.
    api_send(
        &sim,
        "PUT",
        &format!("webhooks/{wid}"),
        &json!({"name": "again"}),
    );
    assert_eq!(rx.all().len(), 2);
}

#[test]
fn ping_follows_redirects_and_create_answers_201_whatever_the_ping_did() {
    let sim = start();
    let rx = Receiver::start();
    rx.set(Mode::Redirect(302, rx.url("/elsewhere")));
    let r = api_send(
        &sim,
        "POST",
        "webhooks",
        &json!({"topic": "order.created", "delivery_url": rx.url("/hook"), "status": "paused"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json()["status"],
        "active",
        "a status in the create body is ignored"
    );
    let got = rx.all();
    assert!(got.len() >= 2, "redirect followed");
    assert_eq!(got[1].url, "/elsewhere");
    assert_eq!(got[1].method, "GET");
    // Unreachable URL: still 201.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let r = api_send(
        &sim,
        "POST",
        "webhooks",
        &json!({"topic": "order.created", "delivery_url": format!("http://127.0.0.1:{port}/x")}),
    );
    assert_eq!(r.status, 201);
}

#[test]
fn two_status_changes_before_a_flush_coalesce_into_one_delivery_with_the_last_status() {
    let sim = start();
    let rx = Receiver::start();
    create_webhook(&sim, "order.updated", &rx.url("/u"), "s");
    let id = checkout(&sim)["id"].as_u64().expect("id");
    sim.set_status(id, "completed").expect("status");
    sim.set_status(id, "shipped").expect("status");
    rx.clear();
    sim.flush();
    let got = rx.deliveries();
    assert_eq!(got.len(), 1, "one pending delivery per webhook and order");
    assert_eq!(body_json(&got[0])["status"], "shipped");
    // Once sent, the next event queues a new delivery.
    sim.set_status(id, "delivered").expect("status");
    sim.flush();
    assert_eq!(rx.deliveries().len(), 2);
}

#[test]
fn created_delivery_sent_after_a_status_change_already_shows_the_new_status() {
    let sim = start();
    let rx = Receiver::start();
    create_webhook(&sim, "order.created", &rx.url("/c"), "s");
    let id = checkout(&sim)["id"].as_u64().expect("id");
    sim.set_status(id, "completed").expect("status");
    sim.flush();
    let d = rx.deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].header("X-WC-Webhook-Topic"), Some("order.created"));
    assert_eq!(body_json(&d[0])["status"], "completed");
}

#[test]
fn one_checkout_fires_both_created_and_updated_webhooks() {
    let sim = start();
    let rx = Receiver::start();
    create_webhook(&sim, "order.created", &rx.url("/created"), "a");
    create_webhook(&sim, "order.updated", &rx.url("/updated"), "b");
    checkout(&sim);
    sim.flush();
    let mut topics: Vec<String> = rx
        .deliveries()
        .iter()
        .map(|r| r.header("X-WC-Webhook-Topic").unwrap_or("").to_string())
        .collect();
    topics.sort();
    assert_eq!(topics, vec!["order.created", "order.updated"]);
    // Identical bodies, both built when the queue ran (README of the captures).
    let d = rx.deliveries();
    assert_eq!(d[0].body, d[1].body);
}

#[test]
fn trash_sends_only_the_id_and_untrash_sends_restored() {
    let sim = start();
    let rx = Receiver::start();
    create_webhook(&sim, "order.deleted", &rx.url("/d"), "secret-e");
    create_webhook(&sim, "order.restored", &rx.url("/r"), "secret-r");
    let id = checkout(&sim)["id"].as_u64().expect("id");
    sim.trash(id).expect("trash");
    sim.flush();
    let d = rx.deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].body, format!("{{\"id\":{id}}}").into_bytes());
    assert!(verify(
        &d[0].body,
        "secret-e",
        d[0].header("X-WC-Webhook-Signature").expect("sig")
    ));
    post_json(
        &format!("{}/__sim/orders/{id}/untrash", sim.base_url()),
        &json!({}),
    );
    sim.flush();
    let d = rx.deliveries();
    assert_eq!(d.len(), 2);
    assert_eq!(d[1].header("X-WC-Webhook-Topic"), Some("order.restored"));
    assert_eq!(body_json(&d[1])["status"], "processing");
}

#[test]
fn force_delete_fires_nothing_and_a_pending_delivery_sends_the_error_object() {
    let sim = start();
    let rx = Receiver::start();
    create_webhook(&sim, "order.deleted", &rx.url("/d"), "s");
    create_webhook(&sim, "order.updated", &rx.url("/u"), "s");
    let id = checkout(&sim)["id"].as_u64().expect("id");
    let r = api_delete(&sim, &format!("orders/{id}"), &[("force", "true")]);
    assert_eq!(r.status, 200);
    sim.flush();
    let d = rx.deliveries();
    assert_eq!(d.len(), 1, "only the order.updated queued by the checkout");
    assert_eq!(d[0].header("X-WC-Webhook-Topic"), Some("order.updated"));
    assert_eq!(
        String::from_utf8(d[0].body.clone()).expect("utf8"),
        r#"{"code":"woocommerce_rest_shop_order_invalid_id","message":"Invalid ID.","data":{"status":404}}"#
    );
    assert!(verify(
        &d[0].body,
        "s",
        d[0].header("X-WC-Webhook-Signature").expect("sig")
    ));
}

#[test]
fn refund_fires_order_updated_for_the_parent() {
    let sim = start();
    let rx = Receiver::start();
    create_webhook(&sim, "order.updated", &rx.url("/u"), "s");
    let id = checkout(&sim)["id"].as_u64().expect("id");
    sim.flush();
    rx.clear();
    sim.refund(id, &json!({"amount": "5.00", "reason": "late"}))
        .expect("refund");
    sim.flush();
    let d = rx.deliveries();
    assert_eq!(d.len(), 1);
    let b = body_json(&d[0]);
    assert_eq!(b["id"], json!(id));
    assert_eq!(b["refunds"][0]["total"], "-5.00");
}

#[test]
fn only_active_webhooks_queue_but_a_delivery_queued_before_a_pause_is_sent() {
    let sim = start();
    let rx = Receiver::start();
    let wid = create_webhook(&sim, "order.updated", &rx.url("/u"), "s");
    let id = checkout(&sim)["id"].as_u64().expect("id");
    let r = api_send(
        &sim,
        "PUT",
        &format!("webhooks/{wid}"),
        &json!({"status": "paused"}),
    );
    assert_eq!(r.json()["status"], "paused");
    sim.flush();
    assert_eq!(
        rx.deliveries().len(),
        1,
        "queued before the pause: still sent"
    );
    sim.set_status(id, "completed").expect("status");
    sim.flush();
    assert_eq!(rx.deliveries().len(), 1, "paused webhooks queue nothing");
}

#[test]
fn seventh_consecutive_failure_disables_success_resets_and_reenable_keeps_the_count() {
    let sim = start();
    let rx = Receiver::start();
    let wid = create_webhook(&sim, "order.updated", &rx.url("/u"), "s");
    let id = checkout(&sim)["id"].as_u64().expect("id");
    sim.flush();
    rx.set(Mode::Status(500));
    for n in 1..=6 {
        sim.set_status(id, "processing").expect("status");
        sim.flush();
        let w = internal(&sim, wid);
        assert_eq!(w["failure_count"], json!(n));
        assert_eq!(w["status"], "active", "failure {n}");
    }
    // One success resets.
    rx.set(Mode::Status(200));
    sim.set_status(id, "processing").expect("status");
    sim.flush();
    assert_eq!(internal(&sim, wid)["failure_count"], json!(0));
    rx.set(Mode::Status(404));
    for _ in 0..7 {
        sim.set_status(id, "processing").expect("status");
        sim.flush();
    }
    let w = internal(&sim, wid);
    assert_eq!(w["status"], "disabled", "7th failure disables");
    assert_eq!(w["failure_count"], json!(6), "the count stays");
    assert_eq!(
        api_get(&sim, &format!("webhooks/{wid}"), &[]).json()["status"],
        "disabled"
    );
    assert!(
        api_get(&sim, &format!("webhooks/{wid}"), &[])
            .json()
            .get("failure_count")
            .is_none()
    );
    // Re-enable: count kept, so the next failure disables again.
    let r = api_send(
        &sim,
        "PUT",
        &format!("webhooks/{wid}"),
        &json!({"status": "active"}),
    );
    assert_eq!(r.json()["status"], "active");
    assert_eq!(internal(&sim, wid)["failure_count"], json!(6));
    sim.set_status(id, "processing").expect("status");
    sim.flush();
    assert_eq!(internal(&sim, wid)["status"], "disabled");
}

#[test]
fn redirect_answers_count_as_success_and_are_not_followed() {
    let sim = start();
    let rx = Receiver::start();
    let wid = create_webhook(&sim, "order.updated", &rx.url("/u"), "s");
    rx.set(Mode::Status(500));
    let id = checkout(&sim)["id"].as_u64().expect("id");
    sim.flush();
    assert_eq!(internal(&sim, wid)["failure_count"], json!(1));
    rx.set(Mode::Redirect(302, rx.url("/moved")));
    rx.clear();
    sim.set_status(id, "completed").expect("status");
    sim.flush();
    assert_eq!(internal(&sim, wid)["failure_count"], json!(0));
    assert!(
        rx.all()
            .iter()
            .all(|r| r.url != "/moved" || r.header("Content-Type") != Some("application/json"))
    );
    rx.set(Mode::Redirect(303, rx.url("/moved")));
    sim.set_status(id, "processing").expect("status");
    sim.flush();
    assert_eq!(internal(&sim, wid)["failure_count"], json!(1), "303 fails");
}

#[test]
fn timeouts_and_refused_connections_count_as_failures() {
    let sim = WooSim::start(WooConfig {
        delivery_timeout: Duration::from_millis(200),
        ..cfg()
    })
    .expect("start");
    let rx = Receiver::start();
    let wid = create_webhook(&sim, "order.updated", &rx.url("/slow"), "s");
    rx.set(Mode::Slow(600));
    checkout(&sim);
    let sent = sim.flush();
    assert!(
        sent[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{sent}"
    );
    assert_eq!(internal(&sim, wid)["failure_count"], json!(1));
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let w2 = create_webhook(
        &sim,
        "order.created",
        &format!("http://127.0.0.1:{port}/gone"),
        "s",
    );
    checkout(&sim);
    sim.flush();
    assert_eq!(internal(&sim, w2)["failure_count"], json!(1));
}

#[test]
fn wp_url_safety_refuses_loopback_and_odd_ports_unless_allowed() {
    let rx = Receiver::start();
    let allowed = rx.url("/ok");
    let sim = WooSim::start(WooConfig {
        wp_url_safety: true,
        allowed_delivery_urls: vec![allowed.clone()],
        ..cfg()
    })
    .expect("start");
    let odd = create_webhook(&sim, "order.created", &rx.url("/odd"), "s");
    let by_name = create_webhook(
        &sim,
        "order.created",
        &format!("http://localhost:{}/name", rx.port),
        "s",
    );
    let ok = create_webhook(&sim, "order.created", &allowed, "s");
    rx.clear();
    checkout(&sim);
    let sent = sim.flush();
    let arr = sent.as_array().expect("list");
    for wid in [odd, by_name] {
        let e = arr
            .iter()
            .find(|e| e["webhook_id"] == json!(wid))
            .expect("logged");
        assert_eq!(e["error"], "A valid URL was not provided.");
        assert_eq!(internal(&sim, wid)["failure_count"], json!(1));
    }
    assert_eq!(internal(&sim, ok)["failure_count"], json!(0));
    let urls: Vec<String> = rx.deliveries().iter().map(|r| r.url.clone()).collect();
    assert_eq!(urls, vec!["/ok".to_string()]);
    // With a site on another host, 127.0.0.1 itself is refused even on port 8080.
    let shop = WooSim::start(WooConfig {
        wp_url_safety: true,
        site_url: "https://shop.example/".into(),
        ..cfg()
    })
    .expect("start");
    let w = create_webhook_signed_for(&shop, "order.created", "http://127.0.0.1:8080/x");
    checkout(&shop);
    let sent = shop.flush();
    assert_eq!(sent[0]["webhook_id"], json!(w));
    assert_eq!(sent[0]["error"], "A valid URL was not provided.");
}

/// Create a webhook on a sim whose site URL is not where it listens: the OAuth base string uses
/// the site's host with the scheme of the request (plain HTTP here), like `home_url(path, 'http')`.
fn create_webhook_signed_for(sim: &WooSim, topic: &str, url: &str) -> u64 {
    let c = sim.config().clone();
    let site = sim.site_url().replacen("https://", "http://", 1);
    let o = oauth_params(
        "POST",
        &format!("{site}wp-json/wc/v3/webhooks"),
        &[],
        &c.consumer_key,
        &c.consumer_secret,
        sim.now(),
        &nonce(),
        "HMAC-SHA1",
    );
    let q: Vec<String> = o.iter().map(|(k, v)| format!("{k}={}", pct(v))).collect();
    let r = send(
        "POST",
        &format!("{}/wp-json/wc/v3/webhooks?{}", sim.base_url(), q.join("&")),
        &[],
        &json!({"topic": topic, "delivery_url": url}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_u64().expect("id")
}

#[test]
fn two_deliveries_of_one_webhook_in_one_second_share_the_delivery_id() {
    let sim = start();
    let rx = Receiver::start();
    create_webhook(&sim, "order.updated", &rx.url("/u"), "s");
    post_json(
        &format!("{}/__sim/clock", sim.base_url()),
        &json!({"set": "2026-11-27T10:00:00Z"}),
    );
    // Deliveries in the same simulated second: retry until both land in one real second.
    for _ in 0..5 {
        rx.clear();
        checkout(&sim);
        checkout(&sim);
        let sent = sim.flush();
        let a = sent[0]["request"]["headers"]["X-WC-Webhook-Delivery-ID"].clone();
        let b = sent[1]["request"]["headers"]["X-WC-Webhook-Delivery-ID"].clone();
        if sent[0]["sent_at"] == sent[1]["sent_at"] {
            assert_eq!(a, b);
            return;
        }
    }
    panic!("could not get two deliveries into one second");
}

#[test]
fn webhooks_crud_validation_and_the_secret_is_never_returned() {
    let sim = start();
    let rx = Receiver::start();
    let r = api_send(
        &sim,
        "POST",
        "webhooks",
        &json!({"name": "Orders", "topic": "order.updated", "delivery_url": rx.url("/w")}),
    );
    assert_eq!(r.status, 201);
    let v = r.json();
    let wid = v["id"].as_u64().expect("id");
    assert_eq!(
        r.header("Location"),
        Some(format!("{}wp-json/wc/v3/webhooks/{wid}", sim.site_url()).as_str())
    );
    let keys: Vec<&str> = v
        .as_object()
        .expect("obj")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "status",
            "topic",
            "resource",
            "event",
            "hooks",
            "delivery_url",
            "date_created",
            "date_created_gmt",
            "date_modified",
            "date_modified_gmt",
            "_links"
        ]
    );
    assert_eq!(
        v["hooks"],
        json!(["woocommerce_update_order", "woocommerce_order_refunded"])
    );
    // Generated secret: 50 chars, kept internally, never in REST bodies.
    let secret = internal(&sim, wid)["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    assert_eq!(secret.chars().count(), 50);
    for body in [
        api_get(&sim, &format!("webhooks/{wid}"), &[]).body,
        api_get(&sim, "webhooks", &[]).body,
    ] {
        assert!(
            !body.contains("secret") && !body.contains("api_version"),
            "{body}"
        );
    }
    let bad_topic = api_send(
        &sim,
        "POST",
        "webhooks",
        &json!({"topic": "order.exploded", "delivery_url": rx.url("/")}),
    );
    assert_eq!(bad_topic.status, 400);
    assert_eq!(
        bad_topic.json()["code"],
        "woocommerce_rest_shop_webhook_invalid_topic"
    );
    let bad_url = api_send(
        &sim,
        "POST",
        "webhooks",
        &json!({"topic": "order.created", "delivery_url": "ftp://x"}),
    );
    assert_eq!(
        bad_url.json()["code"],
        "woocommerce_rest_shop_webhook_invalid_delivery_url"
    );
    let action = api_send(
        &sim,
        "POST",
        "webhooks",
        &json!({"topic": "action.woocommerce_order_status_completed", "delivery_url": rx.url("/a")}),
    );
    assert_eq!(action.status, 201);
    let bad_status = api_send(
        &sim,
        "PUT",
        &format!("webhooks/{wid}"),
        &json!({"status": "enabled"}),
    );
    assert_eq!(bad_status.status, 400);
    assert_eq!(bad_status.json()["code"], "rest_invalid_param");
    let list = api_get(&sim, "webhooks", &[("status", "active")]);
    assert_eq!(list.header("X-WP-Total"), Some("2"));
    let no_force = api_delete(&sim, &format!("webhooks/{wid}"), &[]);
    assert_eq!(no_force.status, 501);
    assert_eq!(
        no_force.json()["code"],
        "woocommerce_rest_trash_not_supported"
    );
    let gone = api_delete(&sim, &format!("webhooks/{wid}"), &[("force", "true")]);
    assert_eq!(gone.status, 200);
    assert_eq!(
        api_get(&sim, &format!("webhooks/{wid}"), &[]).json()["code"],
        "woocommerce_rest_shop_webhook_invalid_id"
    );
}

#[test]
fn control_flush_and_auto_deliver_runner() {
    let sim = WooSim::start(WooConfig {
        auto_deliver: Some(Duration::from_millis(30)),
        ..cfg()
    })
    .expect("start");
    let rx = Receiver::start();
    create_webhook(&sim, "order.created", &rx.url("/auto"), "s");
    checkout(&sim);
    // Wait (bounded) for the background runner; no timing assertion, only the outcome.
    for _ in 0..200 {
        if !rx.deliveries().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rx.deliveries().len(), 1);
    let manual = start();
    let rx2 = Receiver::start();
    create_webhook(&manual, "order.created", &rx2.url("/m"), "s");
    checkout(&manual);
    std::thread::sleep(Duration::from_millis(50));
    assert!(rx2.deliveries().is_empty(), "nothing sent without a flush");
    let r = post_json(&format!("{}/__sim/flush", manual.base_url()), &json!({}));
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));
    assert_eq!(rx2.deliveries().len(), 1);
    let log = get(&format!("{}/__sim/deliveries", manual.base_url()), &[]).json();
    assert!(log.as_array().is_some_and(
        |l| l.iter().any(|e| e["kind"] == "ping") && l.iter().any(|e| e["kind"] == "delivery")
    ));
    let hooks = get(&format!("{}/__sim/webhooks", manual.base_url()), &[]).json();
    assert!(
        hooks[0]["secret"].is_string()
            && hooks[0]["failure_count"].is_number()
            && hooks[0]["pending_delivery"].is_boolean()
    );
}

//! The WooCommerce REST client against woo-sim over real HTTP (127.0.0.1, port 0): exact order
//! bytes, paging from a watermark, the three auth modes and where WooCommerce accepts them,
//! webhooks whose deliveries verify with our secret, refunds, SKUs, stock, the catalogue, the
//! ping verdicts, and secrets kept out of every error and `Debug` output.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use ml_connector::clients::woo::{CatalogueItem, WooAuth, WooClient, WooError, WooSettings};
use mlc_sim::woo::{WooConfig, WooSim, phpjson};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn start(cfg: WooConfig) -> WooSim {
    WooSim::start(WooConfig {
        port: 0,
        ping_timeout: Duration::from_millis(800),
        delivery_timeout: Duration::from_millis(800),
        threads: 4,
        ..cfg
    })
    .expect("woo-sim starts")
}

fn sim() -> WooSim {
    start(WooConfig::default())
}

fn settings(sim: &WooSim, auth: WooAuth) -> WooSettings {
    WooSettings {
        auth,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ..WooSettings::new(
            &sim.site_url(),
            &sim.config().consumer_key,
            &sim.config().consumer_secret,
        )
    }
}

fn client(sim: &WooSim) -> WooClient {
    WooClient::new(settings(sim, WooAuth::Auto)).expect("client")
}

fn control(sim: &WooSim, path: &str, body: &Value) -> Value {
    let mut r = ureq::post(&format!("{}/__sim/{path}", sim.base_url()))
        .send_json(body)
        .expect("control API answers");
    r.body_mut().read_json().expect("control API JSON")
}

fn advance(sim: &WooSim, secs: i64) {
    control(sim, "clock", &json!({ "advance_secs": secs }));
}

fn checkout(sim: &WooSim) -> Value {
    sim.place_order(&json!({"lines": [{"sku": "WOO-TSHIRT", "quantity": 1}]}))
        .expect("checkout")
}

fn id_of(v: &Value) -> u64 {
    v["id"].as_u64().expect("numeric id")
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

/// Requests a test server received: head (request line and headers) and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A one-thread HTTP server that reads each request and answers `status` with `body`,
/// recording (headers, body) of what arrived.
struct Server {
    url: String,
    got: Received,
}

fn serve(status: &'static str, extra_headers: &'static str, body: &'static str) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let got: Received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            while buf.len() < head_end + len {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let received = buf[head_end..].to_vec();
            log.lock().expect("log").push((head, received));
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\n{extra_headers}Content-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Server { url, got }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

#[test]
fn get_order_returns_the_exact_bytes_served_and_none_once_deleted_for_good() {
    let sim = sim();
    let c = client(&sim);
    let placed = checkout(&sim);
    let id = id_of(&placed);
    let bytes = c.get_order(id).expect("get").expect("exists");
    // The body as WooCommerce encodes it (`\/`, `\uXXXX`), not a re-serialisation.
    assert_eq!(bytes, phpjson::encode(&placed));
    assert!(String::from_utf8_lossy(&bytes).contains(r"\/wp-json\/wc\/v3\/orders"));

    let refund = sim
        .refund(id, &json!({"amount": "1.00", "reason": "dent"}))
        .expect("refund");
    assert_eq!(
        c.get_order(id_of(&refund)).expect("get"),
        None,
        "a refund id is not an order"
    );
    assert_eq!(c.get_order(999_999).expect("get"), None);

    control(&sim, &format!("orders/{id}/delete"), &json!({}));
    assert_eq!(c.get_order(id).expect("get"), None);
}

#[test]
fn orders_modified_after_pages_in_modified_order_from_the_watermark() {
    let sim = sim();
    let c = client(&sim);
    // Small clock steps: OAuth timestamps must stay within 15 minutes of the simulated clock.
    let old: Vec<u64> = (0..3).map(|_| id_of(&checkout(&sim))).collect();
    advance(&sim, 30);
    let watermark = mlc_sim::woo::time::format(sim.now(), 0);
    advance(&sim, 2);
    let mut new = Vec::new();
    for i in 0..25 {
        new.push(id_of(&checkout(&sim)));
        if i % 5 == 4 {
            advance(&sim, 3);
        }
    }
    advance(&sim, 5);
    sim.set_status(new[0], "completed").expect("status");
    advance(&sim, 5);
    sim.set_status(old[0], "completed").expect("status");

    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let p = c.orders_modified_after(&watermark, page, 10).expect("page");
        assert_eq!((p.total, p.total_pages), (26, 3), "page {page}");
        seen.extend(p.orders.iter().map(|b| parse(b)));
        if u64::from(page) >= p.total_pages {
            break;
        }
        page += 1;
    }
    let ids: Vec<u64> = seen.iter().map(id_of).collect();
    let mut expected: Vec<u64> = new[1..].to_vec();
    expected.extend([new[0], old[0]]);
    assert_eq!(ids, expected, "modified ascending, ID tiebreak");
    for o in &seen {
        assert!(o["date_modified_gmt"].as_str().expect("date") > watermark.as_str());
    }
    assert!(!ids.contains(&old[1]) && !ids.contains(&old[2]));
    // A compact re-serialisation of the list item carries the same order as GET /orders/<id>.
    let direct = parse(&c.get_order(new[3]).expect("get").expect("exists"));
    assert_eq!(seen[2], direct);
    // Out of range: empty with the same totals.
    let p = c.orders_modified_after(&watermark, 4, 10).expect("page 4");
    assert!(p.orders.is_empty() && p.total == 26);
}

#[test]
fn oauth1_works_over_plain_http_and_basic_is_ignored_there() {
    let sim = sim();
    assert!(client(&sim).list_webhooks().expect("OAuth1").is_empty());
    let oauth = WooClient::new(settings(&sim, WooAuth::OAuth1)).expect("client");
    assert!(
        oauth
            .find_product_by_sku("WOO-MUG")
            .expect("OAuth1")
            .is_some()
    );
    for auth in [WooAuth::Basic, WooAuth::QueryString] {
        let c = WooClient::new(settings(&sim, auth)).expect("client");
        match c.list_webhooks() {
            Err(WooError::Auth { status, code, .. }) => {
                assert_eq!(
                    (status, code.as_str()),
                    (401, "woocommerce_rest_cannot_view")
                );
            }
            other => panic!("{auth:?} over plain HTTP: {other:?}"),
        }
    }
}

#[test]
fn basic_and_query_string_work_when_wordpress_sees_https() {
    let sim = start(WooConfig {
        https_assumed: true,
        ..WooConfig::default()
    });
    for auth in [WooAuth::Basic, WooAuth::QueryString] {
        let c = WooClient::new(settings(&sim, auth)).expect("client");
        let id = id_of(&checkout(&sim));
        assert!(c.get_order(id).expect("get").is_some(), "{auth:?}");
        assert!(
            c.ping().expect("ping").contains("reads and writes"),
            "{auth:?}"
        );
    }
}

#[test]
fn wrong_secret_is_auth_with_woocommerce_code_and_the_secret_never_shows() {
    let sim = start(WooConfig {
        https_assumed: true,
        ..WooConfig::default()
    });
    let wrong = "cs_wrong_secret_0123456789";
    for auth in [WooAuth::Basic, WooAuth::QueryString] {
        let mut s = settings(&sim, auth);
        s.consumer_secret = wrong.into();
        let c = WooClient::new(s.clone()).expect("client");
        let e = c.get_order(17).expect_err("refused");
        match &e {
            WooError::Auth {
                status: 401,
                code,
                message,
            } => {
                assert_eq!(code, "woocommerce_rest_authentication_error");
                assert_eq!(message, "Consumer secret is invalid.");
            }
            other => panic!("{other:?}"),
        }
        for text in [
            format!("{e}"),
            format!("{e:?}"),
            format!("{c:?}"),
            format!("{s:?}"),
        ] {
            assert!(!text.contains(wrong), "{text}");
        }
    }
    // OAuth over plain HTTP: the signature does not match.
    let sim = self::sim();
    let mut s = settings(&sim, WooAuth::OAuth1);
    s.consumer_secret = wrong.into();
    let e = WooClient::new(s)
        .expect("client")
        .list_webhooks()
        .expect_err("refused");
    match &e {
        WooError::Auth { code, message, .. } => {
            assert_eq!(code, "woocommerce_rest_authentication_error");
            assert!(message.contains("signature"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains(wrong) && !text.contains("oauth_signature"),
        "{text}"
    );
}

#[test]
fn secrets_stay_out_of_transport_errors_and_debug_output() {
    // Nothing listens: the URL carrying consumer_secret must not be echoed.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let secret = "cs_do_not_print_me";
    for auth in [WooAuth::QueryString, WooAuth::OAuth1, WooAuth::Basic] {
        let s = WooSettings {
            auth,
            ..WooSettings::new(&format!("http://127.0.0.1:{port}/"), "ck_key", secret)
        };
        let c = WooClient::new(s.clone()).expect("client");
        let e = c.get_order(1).expect_err("nothing listens");
        assert!(matches!(e, WooError::Transient(_)), "{e:?}");
        for text in [
            format!("{e}"),
            format!("{e:?}"),
            format!("{c:?}"),
            format!("{s:?}"),
        ] {
            assert!(!text.contains(secret), "{auth:?}: {text}");
            assert!(!text.contains("oauth_signature"), "{auth:?}: {text}");
            assert!(!text.contains("consumer_secret="), "{auth:?}: {text}");
        }
    }
}

#[test]
fn webhooks_create_list_pause_delete_and_deliveries_verify_with_our_secret() {
    let sim = sim();
    let c = client(&sim);
    let receiver = serve("200 OK", "Content-Type: text/plain\r\n", "ok");
    let url = format!("{}hooks/woocommerce", receiver.url);
    let secret = "ml-connector-webhook-secret";
    let w = c
        .create_webhook("ml-connector order.updated", "order.updated", &url, secret)
        .expect("create");
    assert_eq!(
        (
            w.name.as_str(),
            w.status.as_str(),
            w.topic.as_str(),
            w.delivery_url.as_str()
        ),
        (
            "ml-connector order.updated",
            "active",
            "order.updated",
            url.as_str()
        )
    );
    let stored = sim.webhooks();
    assert_eq!(stored[0]["secret"], secret, "the shop keeps our secret");
    assert_eq!(c.list_webhooks().expect("list"), vec![w.clone()]);

    // A delivery to the receiver verifies with the secret we chose.
    checkout(&sim);
    sim.flush();
    let got = receiver.got.lock().expect("log").clone();
    let (head, body) = got
        .iter()
        .find(|(h, _)| header(h, "x-wc-webhook-topic") == Some("order.updated"))
        .expect("a delivery arrived");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    assert_eq!(
        header(head, "x-wc-webhook-signature"),
        Some(B64.encode(mac.finalize().into_bytes()).as_str())
    );

    let paused = c.set_webhook_status(w.id, "paused").expect("pause");
    assert_eq!(paused.status, "paused");
    assert_eq!(c.list_webhooks().expect("list")[0].status, "paused");
    match c.set_webhook_status(w.id, "sleeping") {
        Err(WooError::Rejected {
            status: 400, code, ..
        }) => assert_eq!(code, "rest_invalid_param"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.set_webhook_status(w.id, "active")
            .expect("re-enable")
            .status,
        "active"
    );

    // Many webhooks page through (per_page 100 is the maximum).
    for i in 0..3 {
        c.create_webhook(&format!("extra {i}"), "order.created", &url, secret)
            .expect("create");
    }
    assert_eq!(c.list_webhooks().expect("list").len(), 4);

    c.delete_webhook(w.id).expect("delete");
    c.delete_webhook(w.id).expect("deleting again is fine");
    assert!(
        !c.list_webhooks()
            .expect("list")
            .iter()
            .any(|x| x.id == w.id)
    );
}

#[test]
fn refunds_are_listed_and_fetched_one_by_one() {
    let sim = sim();
    let c = client(&sim);
    let id = id_of(&checkout(&sim));
    assert!(c.list_refunds(id).expect("none yet").is_empty());
    let r1 = sim
        .refund(id, &json!({"amount": "2.00", "reason": "late"}))
        .expect("refund");
    let r2 = sim
        .refund(id, &json!({"amount": "3.00", "reason": "dent"}))
        .expect("refund");
    let listed: Vec<Value> = c
        .list_refunds(id)
        .expect("list")
        .iter()
        .map(|b| parse(b))
        .collect();
    let mut ids: Vec<u64> = listed.iter().map(id_of).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![id_of(&r1), id_of(&r2)]);
    let one = c.get_refund(id, id_of(&r2)).expect("get").expect("exists");
    assert_eq!(one, phpjson::encode(&r2));
    assert_eq!(c.get_refund(id, 999_999).expect("get"), None);
    assert_eq!(c.get_refund(999_999, id_of(&r2)).expect("get"), None);
    match c.list_refunds(999_999) {
        Err(WooError::Rejected {
            status: 404, code, ..
        }) => {
            assert_eq!(code, "woocommerce_rest_invalid_order_id");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sku_lookup_finds_products_and_variations_and_stock_updates_land() {
    let sim = sim();
    let c = client(&sim);
    let shirt = c
        .find_product_by_sku("WOO-TSHIRT")
        .expect("find")
        .expect("exists");
    assert_eq!(shirt["id"], 10);
    let red = c
        .find_product_by_sku("WOO-HOODIE-RED")
        .expect("find")
        .expect("exists");
    assert_eq!(
        (red["id"].as_u64(), red["parent_id"].as_u64()),
        (Some(14), Some(13))
    );
    assert_eq!(c.find_product_by_sku("NOPE").expect("find"), None);
    assert_eq!(c.find_product_by_sku("").expect("find"), None);

    c.set_stock(10, 0, 42).expect("simple");
    c.set_stock(13, 14, 7).expect("variation");
    c.set_stock(11, 0, 3).expect("unmanaged becomes managed");
    let stock = |sku: &str| {
        let p = c.find_product_by_sku(sku).expect("find").expect("exists");
        (p["manage_stock"].clone(), p["stock_quantity"].clone())
    };
    assert_eq!(stock("WOO-TSHIRT"), (json!(true), json!(42)));
    assert_eq!(stock("WOO-HOODIE-RED"), (json!(true), json!(7)));
    assert_eq!(stock("WOO-CAP"), (json!(true), json!(3)));
    match c.set_stock(13, 999, 1) {
        Err(WooError::Rejected { status: 404, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn catalogue_lists_simple_products_and_variations_not_variable_parents() {
    let sim = sim();
    let mut items = client(&sim).catalogue().expect("catalogue");
    items.sort_by_key(|i| (i.product_id, i.variation_id));
    let item = |p, v, sku: Option<&str>, name: &str| CatalogueItem {
        product_id: p,
        variation_id: v,
        sku: sku.map(str::to_string),
        name: name.to_string(),
    };
    assert_eq!(
        items,
        vec![
            item(10, 0, Some("WOO-TSHIRT"), "Woo T-shirt"),
            item(11, 0, Some("WOO-CAP"), "Woo Cap"),
            item(12, 0, Some("WOO-MUG"), "Café Mug"),
            item(13, 14, Some("WOO-HOODIE-RED"), "Woo Hoodie - Red"),
            item(13, 15, Some("WOO-HOODIE-BLUE"), "Woo Hoodie - Blue"),
            item(16, 0, None, "Gift wrapping"),
        ]
    );
}

#[test]
fn ping_gives_a_precise_verdict() {
    let sim = sim();
    let ok = client(&sim).ping().expect("good keys");
    assert!(
        ok.contains("reads and writes") && ok.contains("OAuth 1.0a"),
        "{ok}"
    );

    let mut s = settings(&sim, WooAuth::Auto);
    s.consumer_key = "ck_unknown".into();
    match WooClient::new(s).expect("client").ping() {
        Err(WooError::Auth { code, message, .. }) => {
            assert_eq!(code, "woocommerce_rest_authentication_error");
            assert!(message.contains("wrong consumer key"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let mut s = settings(&sim, WooAuth::Auto);
    s.consumer_secret = "cs_wrong".into();
    let e = WooClient::new(s)
        .expect("client")
        .ping()
        .expect_err("wrong secret");
    assert!(e.to_string().contains("wrong consumer secret"), "{e}");
    assert!(!e.to_string().contains("cs_wrong"), "{e}");

    let s = settings(&sim, WooAuth::Basic);
    let e = WooClient::new(s)
        .expect("client")
        .ping()
        .expect_err("Basic over HTTP");
    assert!(e.to_string().contains("only OAuth 1.0a"), "{e}");

    let read_only = start(WooConfig {
        key_permissions: "read".into(),
        ..WooConfig::default()
    });
    match client(&read_only).ping() {
        Err(WooError::Auth { message, .. }) => {
            assert!(message.contains("read but not write"), "{message}")
        }
        other => panic!("{other:?}"),
    }

    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let s = WooSettings::new(&format!("http://127.0.0.1:{port}/"), "ck_x", "cs_x");
    match WooClient::new(s).expect("client").ping() {
        Err(WooError::Transient(m)) => assert!(m.contains("refused"), "{m}"),
        other => panic!("{other:?}"),
    }

    let html = serve(
        "404 Not Found",
        "Content-Type: text/html\r\n",
        "<html>nope</html>",
    );
    let s = WooSettings::new(&html.url, "ck_x", "cs_x");
    match WooClient::new(s).expect("client").ping() {
        Err(WooError::Rejected {
            status: 404,
            message,
            ..
        }) => {
            assert!(message.contains("not a WooCommerce site"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !html.got.lock().expect("log")[0]
            .0
            .contains("ml-connector-write-probe"),
        "the write probe runs only once reading works"
    );

    assert!(matches!(
        WooClient::new(WooSettings::new("shop.example", "ck", "cs")),
        Err(WooError::Config(_))
    ));
}

#[test]
fn one_client_serves_many_threads_with_fresh_nonces() {
    fn shareable<T: Send + Sync>() {}
    shareable::<WooClient>();
    let sim = sim();
    let c = client(&sim);
    let id = id_of(&checkout(&sim));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10 {
                    // The shop refuses a reused nonce: 40 successes mean 40 distinct nonces.
                    assert!(c.get_order(id).expect("get").is_some());
                }
            });
        }
    });
}

#[test]
fn a_404_without_woocommerce_invalid_id_is_not_a_deleted_order() {
    let html = serve(
        "404 Not Found",
        "Content-Type: text/html\r\n",
        "<html>nope</html>",
    );
    let c = WooClient::new(WooSettings::new(&html.url, "ck_x", "cs_x")).expect("client");
    match c.get_order(17) {
        Err(WooError::Rejected { status: 404, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_redirect_is_reported_not_followed_and_its_query_not_echoed() {
    let moved = serve(
        "301 Moved Permanently",
        "Location: https://shop.example/wp-json/wc/v3/orders/17?oauth_signature=abc\r\n",
        "",
    );
    let c = WooClient::new(WooSettings::new(&moved.url, "ck_x", "cs_x")).expect("client");
    match c.get_order(17) {
        Err(WooError::Config(m)) => {
            assert!(
                m.contains("https://shop.example/wp-json/wc/v3/orders/17"),
                "{m}"
            );
            assert!(!m.contains("oauth_signature") && !m.contains("abc"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(moved.got.lock().expect("log").len(), 1, "not followed");
}

//! woo-sim over real HTTP: PHP-compatible encoding against the real WooCommerce captures,
//! authentication, orders, refunds, products, customers, the control API and the binary.

mod woo_sim_support;

use mlc_sim::woo::{WooConfig, WooSim, deliver, phpjson};
use serde_json::{Value, json};
use std::time::Duration;
use woo_sim_support::*;

/// The captures, copied into the repository from `shared/reference/` so the tests do not
/// depend on where the repository sits.
const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/testdata/captures");

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CAPTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn capture_header(name: &str, header: &str) -> String {
    let text = String::from_utf8(capture(name)).expect("utf8");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{header}: ")).map(str::to_string))
        .unwrap_or_else(|| panic!("{header} in {name}"))
}

#[test]
fn encoder_reproduces_captured_order_body_byte_for_byte() {
    for name in [
        "delivery-order.created.body",
        "delivery-order.updated.body",
        "delivery-order.deleted.body",
    ] {
        let raw = capture(name);
        let parsed: Value = serde_json::from_slice(&raw).expect("capture parses");
        assert_eq!(phpjson::encode(&parsed), raw, "{name} re-encoded differs");
    }
}

#[test]
fn captured_signatures_verify_with_entity_decoded_secrets() {
    for (name, secret) in [
        ("delivery-order.created", "realwoo-secret-A"),
        ("delivery-order.updated", "rw&amp;<\"'>B-secret"),
        ("delivery-order.deleted", "secret-e"),
    ] {
        let body = capture(&format!("{name}.body"));
        let want = capture_header(&format!("{name}.http"), "X-WC-Webhook-Signature");
        assert_eq!(deliver::signature(&body, secret), want, "{name}");
    }
    // A receiver using the secret as registered (not decoded) would fail: the trap is real.
    let body = capture("delivery-order.updated.body");
    let want = capture_header("delivery-order.updated.http", "X-WC-Webhook-Signature");
    assert!(verify(&body, "rw&<\"'>B-secret", &want));
    assert!(!verify(&body, "rw&amp;<\"'>B-secret", &want));
}

#[test]
fn order_body_has_the_captured_keys_in_the_captured_order() {
    let sim = start();
    let order = sim
        .place_order(&json!({
            "lines": [{"sku": "WOO-TSHIRT", "quantity": 1}, {"sku": "WOO-HOODIE-RED", "quantity": 2}, {"sku": "WOO-CAP", "quantity": 1}],
            "billing": {"first_name": "Zoë", "email": "z@example.com"},
            "customer_id": 2
        }))
        .expect("checkout");
    let cap: Value = serde_json::from_slice(&capture("delivery-order.created.body")).expect("json");
    fn keys(v: &Value) -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
    assert_eq!(keys(&order), keys(&cap));
    for k in ["billing", "shipping", "_links"] {
        assert_eq!(keys(&order[k]), keys(&cap[k]), "{k}");
    }
    for k in ["line_items", "tax_lines", "shipping_lines"] {
        assert_eq!(keys(&order[k][0]), keys(&cap[k][0]), "{k}[0]");
    }
    assert_eq!(
        keys(&order["line_items"][0]["taxes"][0]),
        keys(&cap["line_items"][0]["taxes"][0])
    );
    // Same totals as the real shop for the same basket, tax 20 %, flat rate 7.50.
    assert_eq!(order["total"], "163.79");
    assert_eq!(order["cart_tax"], "25.80");
    assert_eq!(order["shipping_tax"], "1.50");
    assert_eq!(order["line_items"][1]["price"], json!(47));
    assert_eq!(order["line_items"][0]["price"], json!(19.99));
    assert_eq!(order["line_items"][1]["image"], json!({"id": 0, "src": ""}));
    assert_eq!(order["created_via"], "checkout");
    assert_eq!(order["status"], "processing");
    assert!(
        order["date_created"]
            .as_str()
            .is_some_and(|d| d.len() == 19 && !d.ends_with('Z'))
    );
    // REST GET answers byte-identically to what the control API returned.
    let got = api_get(&sim, &format!("orders/{}", order["id"]), &[]);
    assert_eq!(got.status, 200);
    assert_eq!(got.body.as_bytes(), phpjson::encode(&order));
    assert!(got.body.contains("\\/wp-json\\/wc\\/v3\\/orders") && got.body.contains("Zo\\u00eb"));
}

#[test]
fn checkout_computes_coupons_and_reduces_stock() {
    let sim = start();
    let before = api_get(&sim, "products", &[("sku", "WOO-TSHIRT")]).json()[0]["stock_quantity"]
        .as_i64()
        .expect("stock");
    let o = sim
        .place_order(&json!({"lines": [{"sku": "WOO-TSHIRT", "quantity": 3}], "coupon": "save10", "shipping_method": "free_shipping"}))
        .expect("checkout");
    // 3 × 19.99 = 59.97; 10 % = 6.00 (5.997 rounded); 53.97 + 20 % tax 10.79 = 64.76
    assert_eq!(o["discount_total"], "6.00");
    assert_eq!(o["line_items"][0]["subtotal"], "59.97");
    assert_eq!(o["line_items"][0]["total"], "53.97");
    assert_eq!(o["total"], "64.76");
    assert_eq!(o["coupon_lines"][0]["code"], "save10");
    assert_eq!(o["coupon_lines"][0]["discount_type"], "percent");
    assert_eq!(o["line_items"][0]["price"], json!(17.99));
    let after = api_get(&sim, "products", &[("sku", "WOO-TSHIRT")]).json()[0]["stock_quantity"]
        .as_i64()
        .expect("stock");
    assert_eq!(after, before - 3);
    let fixed = sim
        .place_order(&json!({"lines": [{"sku": "WOO-CAP", "quantity": 1}, {"sku": "WOO-MUG", "quantity": 1}], "coupon": "FIVEOFF"}))
        .expect("checkout");
    assert_eq!(fixed["discount_total"], "5.00");
    assert!(
        sim.place_order(&json!({"lines": [{"sku": "NOPE", "quantity": 1}]}))
            .is_err()
    );
    assert!(
        sim.place_order(&json!({"lines": [{"sku": "WOO-HOODIE-BLUE", "quantity": 99}]}))
            .is_err()
    );
}

#[test]
fn oauth1_over_plain_http_accepts_sha1_and_sha256() {
    let sim = start();
    let c = sim.config().clone();
    for method in ["HMAC-SHA1", "HMAC-SHA256"] {
        let url = format!("{}wp-json/wc/v3/orders", sim.site_url());
        let q = [("per_page", "5"), ("status", "processing")];
        let o = oauth_params(
            "GET",
            &url,
            &q,
            &c.consumer_key,
            &c.consumer_secret,
            sim.now(),
            &nonce(),
            method,
        );
        // Header form this time (query form is what api_get uses everywhere else).
        let header = format!(
            "OAuth {}",
            o.iter()
                .map(|(k, v)| format!("{k}=\"{}\"", pct(v)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let r = get(
            &format!(
                "{}/wp-json/wc/v3/orders?per_page=5&status=processing",
                sim.base_url()
            ),
            &[("Authorization", &header)],
        );
        assert_eq!(r.status, 200, "{method}: {}", r.body);
    }
}

#[test]
fn oauth1_rejects_bad_signature_old_timestamp_and_replayed_nonce() {
    let sim = start();
    let c = sim.config().clone();
    let url = format!("{}wp-json/wc/v3/orders", sim.site_url());
    let call = |o: &[(String, String)]| {
        let q: Vec<String> = o.iter().map(|(k, v)| format!("{k}={}", pct(v))).collect();
        get(
            &format!("{}/wp-json/wc/v3/orders?{}", sim.base_url(), q.join("&")),
            &[],
        )
    };
    let bad = oauth_params(
        "GET",
        &url,
        &[],
        &c.consumer_key,
        "wrong-secret",
        sim.now(),
        &nonce(),
        "HMAC-SHA256",
    );
    let r = call(&bad);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "woocommerce_rest_authentication_error");
    assert_eq!(
        r.json()["message"],
        "Invalid signature - provided signature does not match."
    );
    assert!(r.header("WWW-Authenticate").is_none());
    let old = oauth_params(
        "GET",
        &url,
        &[],
        &c.consumer_key,
        &c.consumer_secret,
        sim.now() - 16 * 60,
        &nonce(),
        "HMAC-SHA256",
    );
    assert_eq!(call(&old).json()["message"], "Invalid timestamp.");
    let n = nonce();
    let once = oauth_params(
        "GET",
        &url,
        &[],
        &c.consumer_key,
        &c.consumer_secret,
        sim.now(),
        &n,
        "HMAC-SHA256",
    );
    assert_eq!(call(&once).status, 200);
    let again = call(&once);
    assert_eq!(again.status, 401);
    assert_eq!(
        again.json()["message"],
        "Invalid nonce - nonce has already been used."
    );
    let unknown = oauth_params(
        "GET",
        &url,
        &[],
        "ck_unknown",
        &c.consumer_secret,
        sim.now(),
        &nonce(),
        "HMAC-SHA256",
    );
    assert_eq!(call(&unknown).json()["message"], "Consumer key is invalid.");
    let partial = get(
        &format!(
            "{}/wp-json/wc/v3/orders?oauth_consumer_key={}",
            sim.base_url(),
            c.consumer_key
        ),
        &[],
    );
    assert_eq!(
        partial.json()["code"],
        "woocommerce_rest_authentication_missing_parameter"
    );
}

#[test]
fn oauth_timestamp_is_checked_against_the_simulated_clock() {
    let sim = start();
    post_json(
        &format!("{}/__sim/clock", sim.base_url()),
        &json!({"advance_secs": 3600}),
    );
    // Signed with the simulated now: accepted although an hour ahead of the real clock.
    assert_eq!(api_get(&sim, "orders", &[]).status, 200);
}

#[test]
fn basic_auth_and_query_keys_are_ignored_over_plain_http() {
    let sim = start();
    let c = sim.config().clone();
    let basic = format!(
        "Basic {}",
        base64_of(&format!("{}:{}", c.consumer_key, c.consumer_secret))
    );
    let r = get(
        &format!("{}/wp-json/wc/v3/orders", sim.base_url()),
        &[("Authorization", &basic)],
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "woocommerce_rest_cannot_view");
    let q = format!(
        "{}/wp-json/wc/v3/orders?consumer_key={}&consumer_secret={}",
        sim.base_url(),
        c.consumer_key,
        c.consumer_secret
    );
    assert_eq!(get(&q, &[]).json()["code"], "woocommerce_rest_cannot_view");
    let create = send(
        "POST",
        &format!("{}/wp-json/wc/v3/webhooks", sim.base_url()),
        &[("Authorization", &basic)],
        &json!({"topic": "order.created", "delivery_url": "http://example.com/"}),
    );
    assert_eq!(create.status, 401);
    assert_eq!(create.json()["code"], "woocommerce_rest_cannot_create");
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn basic_auth_and_query_keys_work_when_https_is_assumed() {
    let sim = WooSim::start(WooConfig {
        https_assumed: true,
        ..cfg()
    })
    .expect("start");
    let c = sim.config().clone();
    let basic = format!(
        "Basic {}",
        base64_of(&format!("{}:{}", c.consumer_key, c.consumer_secret))
    );
    assert_eq!(
        get(
            &format!("{}/wp-json/wc/v3/orders", sim.base_url()),
            &[("Authorization", &basic)]
        )
        .status,
        200
    );
    let q = format!(
        "{}/wp-json/wc/v3/orders?consumer_key={}&consumer_secret={}",
        sim.base_url(),
        c.consumer_key,
        c.consumer_secret
    );
    assert_eq!(get(&q, &[]).status, 200);
    let wrong = format!("Basic {}", base64_of(&format!("{}:nope", c.consumer_key)));
    let r = get(
        &format!("{}/wp-json/wc/v3/orders", sim.base_url()),
        &[("Authorization", &wrong)],
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "woocommerce_rest_authentication_error");
    assert_eq!(r.json()["message"], "Consumer secret is invalid.");
    assert!(r.header("WWW-Authenticate").is_none());
}

#[test]
fn read_only_key_cannot_write() {
    let sim = WooSim::start(WooConfig {
        key_permissions: "read".into(),
        ..cfg()
    })
    .expect("start");
    assert_eq!(api_get(&sim, "orders", &[]).status, 200);
    let r = api_send(
        &sim,
        "POST",
        "webhooks",
        &json!({"topic": "order.created", "delivery_url": "http://example.com/"}),
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["message"],
        "The API key provided does not have write permissions."
    );
}

#[test]
fn orders_list_filters_pages_and_links() {
    let sim = start();
    let base = sim.base_url();
    post_json(
        &format!("{base}/__sim/clock"),
        &json!({"set": "2026-11-27T10:00:00Z"}),
    );
    let mut ids = Vec::new();
    for i in 0..5 {
        let o = checkout(&sim);
        ids.push(o["id"].as_u64().expect("id"));
        if i == 2 {
            post_json(
                &format!("{base}/__sim/clock"),
                &json!({"advance_secs": 3600}),
            );
        }
    }
    sim.set_status(ids[0], "completed").expect("status");
    sim.set_status(ids[1], "shipped")
        .expect("plugin status accepted");
    // Page 1 of 2 by ID ascending, per_page 2, with status[] array: only processing.
    let r = api_get(
        &sim,
        "orders",
        &[
            ("status", "processing"),
            ("orderby", "id"),
            ("order", "asc"),
            ("per_page", "2"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("X-WP-Total"), Some("3"));
    assert_eq!(r.header("X-WP-TotalPages"), Some("2"));
    let page: Vec<u64> = r
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|o| o["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(page, vec![ids[2], ids[3]]);
    let link = r.header("Link").expect("Link").to_string();
    assert!(
        link.contains("rel=\"next\"")
            && !link.contains("rel=\"prev\"")
            && !link.contains("first")
            && !link.contains("last"),
        "{link}"
    );
    assert!(
        link.contains("page=2") && link.contains("oauth_signature=") && link.contains("per_page=2"),
        "Link repeats every parameter: {link}"
    );
    let r2 = api_get(
        &sim,
        "orders",
        &[
            ("status", "processing"),
            ("orderby", "id"),
            ("order", "asc"),
            ("per_page", "2"),
            ("page", "2"),
        ],
    );
    assert!(
        r2.header("Link")
            .is_some_and(|l| l.contains("rel=\"prev\"") && !l.contains("rel=\"next\""))
    );
    // Several statuses, comma form.
    let r = api_get(&sim, "orders", &[("status", "completed,shipped")]);
    assert_eq!(r.header("X-WP-Total"), Some("2"));
    // modified_after in GMT: the two orders created an hour later, plus the two changed now.
    let r = api_get(
        &sim,
        "orders",
        &[
            ("modified_after", "2026-11-27T10:30:00"),
            ("dates_are_gmt", "true"),
            ("orderby", "modified"),
            ("order", "asc"),
        ],
    );
    assert_eq!(r.header("X-WP-Total"), Some("4"), "{}", r.body);
    // after in site-local time (UTC+1): 11:30 local = 10:30 GMT.
    let r = api_get(&sim, "orders", &[("after", "2026-11-27T11:30:00")]);
    assert_eq!(r.header("X-WP-Total"), Some("2"));
    let r = api_get(
        &sim,
        "orders",
        &[("before", "2026-11-27T10:30:00"), ("dates_are_gmt", "1")],
    );
    assert_eq!(r.header("X-WP-Total"), Some("3"));
    // Default ordering: date desc with ID tiebreak.
    let all: Vec<u64> = api_get(&sim, "orders", &[])
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|o| o["id"].as_u64().expect("id"))
        .collect();
    let mut want = ids.clone();
    want.reverse();
    assert_eq!(all, want);
}

#[test]
fn per_page_101_is_rest_invalid_param() {
    let sim = start();
    for bad in ["101", "0"] {
        let r = api_get(&sim, "orders", &[("per_page", bad)]);
        assert_eq!(r.status, 400);
        let v = r.json();
        assert_eq!(v["code"], "rest_invalid_param");
        assert_eq!(
            v["data"]["params"]["per_page"],
            "per_page must be between 1 (inclusive) and 100 (inclusive)"
        );
    }
    assert_eq!(api_get(&sim, "orders", &[("per_page", "100")]).status, 200);
    assert_eq!(
        api_get(&sim, "orders", &[("status", "bogus")]).json()["code"],
        "rest_invalid_param"
    );
}

#[test]
fn unknown_order_and_route_give_wordpress_error_bodies() {
    let sim = start();
    let r = api_get(&sim, "orders/999999", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}})
    );
    let r = api_get(&sim, "nothing-here", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "rest_no_route");
}

#[test]
fn order_update_trash_and_force_delete_over_rest() {
    let sim = start();
    let id = checkout(&sim)["id"].as_u64().expect("id");
    let r = api_send(
        &sim,
        "PUT",
        &format!("orders/{id}"),
        &json!({"status": "completed"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "completed");
    assert!(r.json()["date_completed"].is_string());
    let r = api_send(
        &sim,
        "PUT",
        &format!("orders/{id}"),
        &json!({"status": "partial-shipped"}),
    );
    assert_eq!(r.json()["status"], "partial-shipped");
    let r = api_delete(&sim, &format!("orders/{id}"), &[]);
    assert_eq!(r.json()["status"], "trash");
    assert_eq!(
        api_get(&sim, "orders", &[("status", "trash")]).header("X-WP-Total"),
        Some("1")
    );
    assert_eq!(api_get(&sim, "orders", &[]).header("X-WP-Total"), Some("0"));
    let again = api_delete(&sim, &format!("orders/{id}"), &[]);
    assert_eq!(again.status, 410);
    let r = api_delete(&sim, &format!("orders/{id}"), &[("force", "true")]);
    assert_eq!(r.status, 200);
    assert_eq!(api_get(&sim, &format!("orders/{id}"), &[]).status, 404);
}

#[test]
fn refunds_negative_lines_parent_links_and_full_refund() {
    let sim = start();
    let o = checkout(&sim);
    let id = o["id"].as_u64().expect("id");
    let line = o["line_items"][1]["id"].as_u64().expect("line");
    let stock_before =
        api_get(&sim, "products", &[("sku", "WOO-HOODIE-RED")]).json()[0]["stock_quantity"]
            .as_i64()
            .expect("stock");
    let r = sim
        .refund(id, &json!({"amount": "56.40", "reason": "damaged", "line_items": [{"id": line, "quantity": 1, "refund_total": "47.00"}], "restock": true}))
        .expect("refund");
    assert_eq!(r["amount"], "56.40");
    assert_eq!(r["line_items"][0]["quantity"], json!(-1));
    assert_eq!(r["line_items"][0]["total"], "-47.00");
    assert_eq!(r["line_items"][0]["price"], json!(-47));
    assert_eq!(
        r["line_items"][0]["meta_data"][0]["key"],
        "_refunded_item_id"
    );
    assert_eq!(
        r["line_items"][0]["meta_data"][0]["value"],
        line.to_string()
    );
    let rid = r["id"].as_u64().expect("rid");
    let stock_after =
        api_get(&sim, "products", &[("sku", "WOO-HOODIE-RED")]).json()[0]["stock_quantity"]
            .as_i64()
            .expect("stock");
    assert_eq!(stock_after, stock_before + 1);
    let order = api_get(&sim, &format!("orders/{id}"), &[]).json();
    assert_eq!(
        order["refunds"],
        json!([{"id": rid, "reason": "damaged", "total": "-56.40"}])
    );
    assert_eq!(order["status"], "processing");
    let one = api_get(&sim, &format!("orders/{id}/refunds/{rid}"), &[]);
    assert_eq!(one.status, 200);
    assert_eq!(
        one.json()["_links"]["up"][0]["href"],
        format!("{}wp-json/wc/v3/orders/{id}", sim.site_url())
    );
    assert_eq!(
        api_get(&sim, &format!("orders/{id}/refunds"), &[])
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let all = api_get(&sim, "refunds", &[]).json();
    assert_eq!(all[0]["parent_id"], json!(id));
    // A refund id is not an order.
    assert_eq!(api_get(&sim, &format!("orders/{rid}"), &[]).status, 404);
    // REST refunds ask the gateway by default; bacs cannot.
    let r = api_send(
        &sim,
        "POST",
        &format!("orders/{id}/refunds"),
        &json!({"amount": "1.00"}),
    );
    assert_eq!(r.status, 500);
    assert_eq!(
        r.json()["code"],
        "woocommerce_rest_cannot_create_order_refund"
    );
    let r = api_send(
        &sim,
        "POST",
        &format!("orders/{id}/refunds"),
        &json!({"amount": "-1", "api_refund": false}),
    );
    assert_eq!(r.json()["code"], "woocommerce_rest_invalid_order_refund");
    // The rest of the money: full refund moves the order to refunded.
    let r = api_send(
        &sim,
        "POST",
        &format!("orders/{id}/refunds"),
        &json!({"amount": "89.39", "api_refund": false}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        api_get(&sim, &format!("orders/{id}"), &[]).json()["status"],
        "refunded"
    );
    let over = api_send(
        &sim,
        "POST",
        &format!("orders/{id}/refunds"),
        &json!({"amount": "0.01", "api_refund": false}),
    );
    assert_eq!(over.json()["message"], "Invalid refund amount.");
}

#[test]
fn default_catalogue_and_stock_push_by_sku() {
    let sim = start();
    let r = api_get(&sim, "products", &[("per_page", "100")]);
    let list = r.json();
    let arr = list.as_array().expect("list");
    assert!(arr.iter().any(
        |p| p["type"] == "variable" && p["variations"].as_array().is_some_and(|v| v.len() >= 2)
    ));
    assert!(
        arr.iter().any(|p| p["sku"] == ""),
        "one product without SKU"
    );
    assert!(
        arr.iter()
            .filter(|p| p["type"] == "simple" && p["sku"] != "")
            .count()
            >= 2
    );
    // sku= finds a variation too, like WooCommerce (post_type product + product_variation).
    let v = api_get(&sim, "products", &[("sku", "WOO-HOODIE-BLUE")]).json();
    assert_eq!(v[0]["type"], "variation");
    let (pid, vid) = (
        v[0]["parent_id"].as_u64().expect("parent"),
        v[0]["id"].as_u64().expect("id"),
    );
    let r = api_send(
        &sim,
        "PUT",
        &format!("products/{pid}/variations/{vid}"),
        &json!({"stock_quantity": 42}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["stock_quantity"], json!(42));
    assert_eq!(
        api_get(&sim, &format!("products/{pid}/variations"), &[])
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let s = api_get(&sim, "products", &[("sku", "WOO-MUG")]).json();
    let mid = s[0]["id"].as_u64().expect("id");
    let r = api_send(
        &sim,
        "PUT",
        &format!("products/{mid}"),
        &json!({"stock_quantity": 7, "manage_stock": true}),
    );
    assert_eq!(r.json()["stock_quantity"], json!(7));
    assert_eq!(
        api_get(&sim, &format!("products/{mid}"), &[]).json()["name"],
        "Café Mug"
    );
    assert_eq!(
        api_get(&sim, "products/999999", &[]).json()["code"],
        "woocommerce_rest_product_invalid_id"
    );
}

#[test]
fn products_batch_applies_each_update_and_answers_refusals_in_place() {
    let sim = start();
    let mug = api_get(&sim, "products", &[("sku", "WOO-MUG")]).json()[0]["id"]
        .as_u64()
        .expect("id");
    let r = api_send(
        &sim,
        "POST",
        "products/batch",
        &json!({"update": [
            {"id": mug, "regular_price": "11.20", "status": "private", "short_description": "Grès",
             "meta_data": [{"key": "ml_connector_blocked", "value": "6"}]},
            {"id": 999_999, "regular_price": "1.00"},
            {"id": mug, "status": "sold-out"},
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let up = v["update"].as_array().expect("update answers");
    assert_eq!(up.len(), 3, "one answer per item, in order");
    assert_eq!(up[0]["regular_price"], "11.20");
    assert_eq!(up[1]["id"], 999_999);
    assert_eq!(
        up[1]["error"]["code"],
        "woocommerce_rest_product_invalid_id"
    );
    assert_eq!(up[2]["error"]["code"], "rest_invalid_param");
    let p = api_get(&sim, &format!("products/{mug}"), &[]).json();
    assert_eq!(p["status"], "private", "the refused item changed nothing");
    assert_eq!(p["short_description"], "Grès");
    assert_eq!(p["purchasable"], true);
    assert_eq!(p["meta_data"][0]["key"], "ml_connector_blocked");
    // The meta is updated by key, not added twice.
    api_send(
        &sim,
        "POST",
        "products/batch",
        &json!({"update": [{"id": mug, "meta_data": [{"key": "ml_connector_blocked", "value": ""}]}]}),
    );
    let meta = api_get(&sim, &format!("products/{mug}"), &[]).json()["meta_data"].clone();
    assert_eq!(meta.as_array().map(Vec::len), Some(1), "{meta}");
    assert_eq!(meta[0]["value"], "");
    // A variation through its parent's batch; through the products batch it is not a product.
    let v = api_get(&sim, "products", &[("sku", "WOO-HOODIE-RED")]).json();
    let (pid, vid) = (
        v[0]["parent_id"].as_u64().expect("parent"),
        v[0]["id"].as_u64().expect("id"),
    );
    let r = api_send(
        &sim,
        "POST",
        &format!("products/{pid}/variations/batch"),
        &json!({"update": [{"id": vid, "regular_price": "45", "status": "future"}]}),
    );
    assert_eq!(
        r.json()["update"][0]["error"]["code"],
        "rest_invalid_param",
        "future is not a variation status"
    );
    let r = api_send(
        &sim,
        "POST",
        &format!("products/{pid}/variations/batch"),
        &json!({"update": [{"id": vid, "regular_price": "45"}]}),
    );
    assert_eq!(r.json()["update"][0]["regular_price"], "45.00");
    let r = api_send(
        &sim,
        "POST",
        "products/batch",
        &json!({"update": [{"id": vid, "regular_price": "1"}]}),
    );
    assert!(r.json()["update"][0]["error"].is_object());
    // More than 100 items in all: refused whole.
    let many: Vec<Value> = (0..101)
        .map(|_| json!({"id": mug, "regular_price": "1"}))
        .collect();
    let r = api_send(&sim, "POST", "products/batch", &json!({"update": many}));
    assert_eq!(r.status, 413);
    assert_eq!(
        r.json()["code"],
        "woocommerce_rest_request_entity_too_large"
    );
    assert_eq!(
        api_get(&sim, &format!("products/{mug}"), &[]).json()["regular_price"],
        "11.20"
    );
    assert!(sim.rest_requests()["POST products/batch"].as_u64() >= Some(4));
}

#[test]
fn a_catalogue_is_added_in_one_call_and_read_by_sku_lists() {
    let sim = start();
    let ids = sim
        .add_products(&json!({"count": 250, "sku_prefix": "CAT", "price": "4.50", "stock": 3}))
        .expect("catalogue added");
    assert_eq!(ids.len(), 250);
    let skus: Vec<String> = (1..=100).map(|i| format!("CAT{i:05}")).collect();
    let r = api_get(
        &sim,
        "products",
        &[("sku", &skus.join(",")), ("per_page", "100")],
    );
    assert_eq!(r.json().as_array().map(Vec::len), Some(100));
    assert!(
        sim.add_products(&json!({"sku": "CAT00001"})).is_err(),
        "SKUs are unique"
    );
}

#[test]
fn customers_created_by_checkout_and_control_api() {
    let sim = start();
    let base = sim.base_url();
    let o = sim
        .place_order(&json!({"lines": [{"sku": "WOO-CAP", "quantity": 1}], "customer_id": 77, "billing": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}}))
        .expect("checkout");
    assert_eq!(o["customer_id"], json!(77));
    assert_eq!(
        o["_links"]["customer"][0]["href"],
        format!("{}wp-json/wc/v3/customers/77", sim.site_url())
    );
    let c = api_get(&sim, "customers/77", &[]).json();
    assert_eq!(c["email"], "ann@example.com");
    assert_eq!(c["is_paying_customer"], json!(true));
    let made = post_json(
        &format!("{base}/__sim/customers"),
        &json!({"email": "bob@example.com", "first_name": "Bob"}),
    );
    assert_eq!(made.status, 201);
    let list = api_get(&sim, "customers", &[("email", "bob@example.com")]).json();
    assert_eq!(list[0]["first_name"], "Bob");
    assert_eq!(api_get(&sim, "customers/424242", &[]).status, 404);
}

#[test]
fn control_api_orders_status_trash_untrash_clock_reset() {
    let sim = start();
    let base = sim.base_url();
    let r = post_json(
        &format!("{base}/__sim/orders"),
        &json!({"lines": [{"product_id": 13, "variation_id": 14, "quantity": 1}], "status": "on-hold"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_u64().expect("id");
    assert_eq!(r.json()["status"], "on-hold");
    assert_eq!(r.json()["line_items"][0]["sku"], "WOO-HOODIE-RED");
    let s = post_json(
        &format!("{base}/__sim/orders/{id}/status"),
        &json!({"status": "delivered"}),
    );
    assert_eq!(s.json()["status"], "delivered");
    assert_eq!(
        post_json(&format!("{base}/__sim/orders/{id}/trash"), &json!({})).json()["status"],
        "trash"
    );
    assert_eq!(
        post_json(&format!("{base}/__sim/orders/{id}/untrash"), &json!({})).json()["status"],
        "delivered"
    );
    let clock = post_json(
        &format!("{base}/__sim/clock"),
        &json!({"set": "2027-01-02T03:04:05Z"}),
    )
    .json();
    assert_eq!(
        clock["unix"]
            .as_i64()
            .map(|u| (u - 1_798_859_045).abs() < 5),
        Some(true),
        "{clock}"
    );
    let o = sim
        .place_order(&json!({"lines": [{"sku": "WOO-CAP", "quantity": 1}]}))
        .expect("checkout");
    assert!(
        o["date_created_gmt"]
            .as_str()
            .is_some_and(|d| d.starts_with("2027-01-02T03:0"))
    );
    assert!(
        o["date_created"]
            .as_str()
            .is_some_and(|d| d.starts_with("2027-01-02T04:0")),
        "site-local is UTC+1"
    );
    assert_eq!(
        post_json(&format!("{base}/__sim/reset"), &json!({})).status,
        200
    );
    assert_eq!(api_get(&sim, "orders", &[]).header("X-WP-Total"), Some("0"));
}

#[test]
fn state_file_survives_a_restart() {
    let path = std::env::temp_dir().join(format!("woo-sim-state-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let id = {
        let sim = WooSim::start(WooConfig {
            state_file: Some(path.clone()),
            ..cfg()
        })
        .expect("start");
        let id = checkout(&sim)["id"].as_u64().expect("id");
        sim.stop();
        id
    };
    let sim = WooSim::start(WooConfig {
        state_file: Some(path.clone()),
        ..cfg()
    })
    .expect("restart");
    assert_eq!(api_get(&sim, &format!("orders/{id}"), &[]).status, 200);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn binary_prints_one_json_line_with_port_and_keys() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_woo-sim"))
        .args([
            "--port",
            "0",
            "--consumer-key",
            "ck_test",
            "--https-assumed",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn woo-sim");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let v: Value = serde_json::from_str(&line).expect("JSON line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(v["port"].as_u64().is_some_and(|p| p > 0), "{v}");
    assert_eq!(v["consumer_key"], "ck_test");
    assert!(
        v["consumer_secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("cs_"))
    );
    assert_eq!(v["https_assumed"], json!(true));
    assert!(
        v["base_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:"))
    );
}

#[test]
fn php_float_price_for_non_terminating_division() {
    let sim = start();
    let o = sim
        .place_order(&json!({"lines": [{"sku": "WOO-CAP", "quantity": 3, "price": "8.3333333333"}], "shipping_method": "none"}))
        .expect("checkout");
    let body = phpjson::encode_string(&o);
    // total 25.00 (rounded line total kept at full precision internally is 24.9999999999)
    assert!(body.contains("\"price\":8.3333333333"), "{body}");
    let _ = Duration::ZERO;
}

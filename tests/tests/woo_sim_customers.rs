//! woo-sim customers over real HTTP: `PUT /customers/<id>` as WooCommerce's REST controller
//! answers it (only the fields given change, refusals with WooCommerce's codes), and the
//! `customer.updated` webhook it fires, built at send time like every payload.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed assertion

mod woo_sim_support;

use serde_json::{Value, json};
use woo_sim_support::*;

/// woo-sim's default registered customer (docs/simulators.md, woo-sim).
const ZOE: u64 = 2;

fn advance(sim: &mlc_sim::woo::WooSim, secs: i64) {
    let r = post_json(
        &format!("{}/__sim/clock", sim.base_url()),
        &json!({ "advance_secs": secs }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn an_update_changes_only_the_fields_given_and_fires_customer_updated_with_the_customer() {
    let sim = start();
    let rx = Receiver::start();
    let secret = "cust-secret";
    let wid = create_webhook(&sim, "customer.updated", &rx.url("/hook"), secret);
    let before = api_get(&sim, &format!("customers/{ZOE}"), &[]).json();
    advance(&sim, 90);
    let r = api_send(
        &sim,
        "PUT",
        &format!("customers/{ZOE}"),
        &json!({"billing": {"city": "Lyon", "postcode": "69001", "unknown": "x"},
                "shipping": {"address_1": "5 Allée Verte", "phone": "+33 6"},
                "first_name": "Zoé"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = r.json();
    assert_eq!(after["billing"]["city"], "Lyon");
    assert_eq!(after["billing"]["postcode"], "69001");
    assert_eq!(
        after["billing"]["address_1"], before["billing"]["address_1"],
        "a field not given stays"
    );
    assert!(
        after["billing"].get("unknown").is_none(),
        "not a schema field"
    );
    assert_eq!(after["shipping"]["address_1"], "5 Allée Verte");
    assert_eq!(after["shipping"]["phone"], "+33 6");
    assert_eq!(after["first_name"], "Zoé");
    assert_eq!(after["email"], before["email"]);
    assert!(
        after["date_modified_gmt"].as_str() > before["date_modified_gmt"].as_str(),
        "the save moves date_modified: {} after {}",
        after["date_modified_gmt"],
        before["date_modified_gmt"]
    );
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&after), keys(&before), "answered as GET shows it");
    assert_eq!(
        api_get(&sim, &format!("customers/{ZOE}"), &[]).json(),
        after
    );

    rx.clear();
    sim.flush();
    let got = rx.deliveries();
    assert_eq!(got.len(), 1, "one delivery for the save's two hooks");
    let d = &got[0];
    assert_eq!(d.header("X-WC-Webhook-Topic"), Some("customer.updated"));
    assert_eq!(d.header("X-WC-Webhook-Resource"), Some("customer"));
    assert_eq!(d.header("X-WC-Webhook-Event"), Some("updated"));
    assert_eq!(d.header("X-WC-Webhook-ID"), Some(wid.to_string().as_str()));
    assert!(verify(
        &d.body,
        secret,
        d.header("X-WC-Webhook-Signature").unwrap()
    ));
    let body: Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(body, after, "the payload is GET /customers/<id>");
}

#[test]
fn saves_before_a_delivery_coalesce_into_one_with_the_last_state() {
    let sim = start();
    let rx = Receiver::start();
    create_webhook(&sim, "customer.updated", &rx.url("/hook"), "s");
    for city in ["Lyon", "Nice", "Brest"] {
        let r = api_send(
            &sim,
            "PUT",
            &format!("customers/{ZOE}"),
            &json!({"billing": {"city": city}}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    rx.clear();
    sim.flush();
    let got = rx.deliveries();
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["billing"]["city"], "Brest");
}

#[test]
fn refusals_are_woocommerces_and_fire_nothing() {
    let sim = start();
    let rx = Receiver::start();
    create_webhook(&sim, "customer.updated", &rx.url("/hook"), "s");
    let r = post_json(
        &format!("{}/__sim/customers", sim.base_url()),
        &json!({"email": "other@example.com", "first_name": "O", "last_name": "Ther"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let route = format!("customers/{ZOE}");
    for (route, body, status, code) in [
        (
            "customers/999".to_string(),
            json!({"first_name": "X"}),
            400,
            "woocommerce_rest_invalid_id",
        ),
        (
            route.clone(),
            json!({"email": "Other@Example.com"}),
            400,
            "woocommerce_rest_customer_invalid_email",
        ),
        (
            route.clone(),
            json!({"username": "someone-else"}),
            400,
            "woocommerce_rest_customer_invalid_argument",
        ),
        (
            route.clone(),
            json!({"email": "not-an-address"}),
            400,
            "rest_invalid_param",
        ),
        (
            route.clone(),
            json!({"billing": "Lyon"}),
            400,
            "rest_invalid_param",
        ),
    ] {
        let r = api_send(&sim, "PUT", &route, &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.json()["code"], code, "{body}: {}", r.body);
        assert_eq!(r.json()["data"]["status"], status);
    }
    let r = api_send(&sim, "PUT", &route, &json!({"email": "not-an-address"}));
    assert_eq!(
        r.json()["data"]["params"]["email"],
        "Invalid email address.",
        "{}",
        r.body
    );
    // Without credentials: WooCommerce's 401.
    let r = send(
        "PUT",
        &format!("{}/wp-json/wc/v3/{route}", sim.base_url()),
        &[],
        &json!({"first_name": "X"}),
    );
    assert_eq!(r.status, 401, "{}", r.body);
    // WooCommerce's quirk: `email_exists()` ignores case, the controller's `!==` does not, so
    // the customer's own address in another case is refused; the same address is not.
    let own = api_get(&sim, &route, &[]).json()["email"]
        .as_str()
        .unwrap()
        .to_string();
    let r = api_send(&sim, "PUT", &route, &json!({ "email": own.to_uppercase() }));
    assert_eq!(
        r.json()["code"],
        "woocommerce_rest_customer_invalid_email",
        "{}",
        r.body
    );
    rx.clear();
    assert_eq!(
        sim.flush().as_array().map(Vec::len),
        Some(0),
        "nothing fired"
    );
    let r = api_send(&sim, "PUT", &route, &json!({ "email": own }));
    assert_eq!(r.status, 200, "{}", r.body);
}

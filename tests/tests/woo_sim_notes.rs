//! woo-sim's order notes over real HTTP, as WooCommerce's v3 order notes controller answers:
//! `GET|POST /orders/<id>/notes`, `GET|DELETE /orders/<id>/notes/<note_id>`, the fields and
//! their order, WordPress's checks in WordPress's order, status changes leaving a system note,
//! and a note firing no webhook while a status change fires `order.updated`.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed assertion

mod woo_sim_support;

use serde_json::{Value, json};
use woo_sim_support::*;

fn queue(sim: &mlc_sim::woo::WooSim) -> Vec<Value> {
    get(&format!("{}/__sim/queue", sim.base_url()), &[])
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_note_is_created_listed_read_and_deleted_with_woocommerces_fields() {
    let sim = start();
    let id = checkout(&sim)["id"].as_u64().unwrap();
    let r = api_send(
        &sim,
        "POST",
        &format!("orders/{id}/notes"),
        &json!({"note": "X3 delivery SDHFR011000001 validated"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let n = r.json();
    let keys: Vec<&str> = n.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "author",
            "date_created",
            "date_created_gmt",
            "note",
            "customer_note",
            "_links"
        ],
        "added_by_user is an input only: {n}"
    );
    let nid = n["id"].as_u64().unwrap();
    assert_eq!(n["note"], "X3 delivery SDHFR011000001 validated");
    assert_eq!(n["customer_note"], false);
    assert_eq!(n["author"], "WooCommerce");
    let location = r.header("location").unwrap().to_string();
    assert!(
        location.ends_with(&format!("wp-json/wc/v3/orders/{id}/notes/{nid}")),
        "{location}"
    );
    assert!(
        n["_links"]["up"][0]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("orders/{id}")),
        "{n}"
    );
    // Site-local and GMT dates (the site is UTC+1).
    assert_ne!(n["date_created"], n["date_created_gmt"]);

    // A customer note by the key's user.
    let r = api_send(
        &sim,
        "POST",
        &format!("orders/{id}/notes"),
        &json!({"note": "Your parcel left", "customer_note": "true", "added_by_user": true}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let c = r.json();
    assert_eq!(c["customer_note"], true);
    assert_eq!(c["author"], "admin");

    // Listed newest first; `type` filters; no paging.
    let all = api_get(&sim, &format!("orders/{id}/notes"), &[]);
    assert_eq!(all.status, 200, "{}", all.body);
    assert!(all.header("x-wp-total").is_none());
    let ids: Vec<u64> = all
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids[..2], [c["id"].as_u64().unwrap(), nid], "{}", all.body);
    let customer = api_get(&sim, &format!("orders/{id}/notes"), &[("type", "customer")]).json();
    assert_eq!(customer.as_array().unwrap().len(), 1, "{customer}");
    let bad = api_get(&sim, &format!("orders/{id}/notes"), &[("type", "private")]);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["code"], "rest_invalid_param");

    // One note; another order's note id is not this order's.
    let one = api_get(&sim, &format!("orders/{id}/notes/{nid}"), &[]);
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.json(), n);
    let other = checkout(&sim)["id"].as_u64().unwrap();
    let wrong = api_get(&sim, &format!("orders/{other}/notes/{nid}"), &[]);
    assert_eq!(wrong.status, 404);
    assert_eq!(wrong.json()["code"], "woocommerce_rest_invalid_id");

    // Delete needs force, with the controller's (copied) wording.
    let r = api_delete(&sim, &format!("orders/{id}/notes/{nid}"), &[]);
    assert_eq!(r.status, 501, "{}", r.body);
    assert_eq!(r.json()["message"], "Webhooks do not support trashing.");
    let r = api_delete(
        &sim,
        &format!("orders/{id}/notes/{nid}"),
        &[("force", "true")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], nid);
    assert_eq!(
        api_get(&sim, &format!("orders/{id}/notes/{nid}"), &[]).status,
        404
    );
}

#[test]
fn wordpress_checks_come_first_and_unknown_orders_are_404() {
    let sim = start();
    let id = checkout(&sim)["id"].as_u64().unwrap();
    let r = api_send(
        &sim,
        "POST",
        &format!("orders/{id}/notes"),
        &json!({"customer_note": true}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.json();
    assert_eq!(e["code"], "rest_missing_callback_param");
    assert_eq!(e["message"], "Missing parameter(s): note");
    assert_eq!(e["data"]["params"], json!(["note"]));
    // Checked before the permission: no key gets the same 400.
    let anon = send(
        "POST",
        &format!("{}/wp-json/wc/v3/orders/{id}/notes", sim.base_url()),
        &[],
        &json!({}),
    );
    assert_eq!(anon.status, 400, "{}", anon.body);
    let anon = send(
        "POST",
        &format!("{}/wp-json/wc/v3/orders/{id}/notes", sim.base_url()),
        &[],
        &json!({"note": "x"}),
    );
    assert_eq!(anon.status, 401, "{}", anon.body);
    assert_eq!(anon.json()["code"], "woocommerce_rest_cannot_create");

    for (body, param) in [
        (json!({"note": 5}), "note"),
        (
            json!({"note": "x", "customer_note": "maybe"}),
            "customer_note",
        ),
        (json!({"note": "x", "added_by_user": 2}), "added_by_user"),
    ] {
        let r = api_send(&sim, "POST", &format!("orders/{id}/notes"), &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()["code"], "rest_invalid_param", "{body}");
        assert!(
            r.json()["data"]["params"].get(param).is_some(),
            "{}",
            r.body
        );
    }
    let r = api_send(
        &sim,
        "POST",
        &format!("orders/{id}/notes"),
        &json!({"note": "x", "id": 4}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], "woocommerce_rest_shop_order_exists");

    let r = api_send(&sim, "POST", "orders/999999/notes", &json!({"note": "x"}));
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["code"], "woocommerce_rest_order_invalid_id");
    let r = api_get(&sim, "orders/999999/notes", &[]);
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["code"], "woocommerce_rest_shop_order_invalid_id");
    // No PUT on a note.
    let r = api_send(
        &sim,
        "PUT",
        &format!("orders/{id}/notes/1"),
        &json!({"note": "y"}),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "rest_no_route");
}

#[test]
fn a_status_change_fires_order_updated_and_leaves_a_note_and_a_note_fires_nothing() {
    let sim = start();
    let id = checkout(&sim)["id"].as_u64().unwrap();
    create_webhook(&sim, "order.updated", "http://127.0.0.1:9/hook", "s3cret");
    sim.flush();
    assert!(queue(&sim).is_empty());
    let notes = |sim: &mlc_sim::woo::WooSim| -> Vec<String> {
        api_get(sim, &format!("orders/{id}/notes"), &[])
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["note"].as_str().unwrap().to_string())
            .collect()
    };
    // The checkout moved it from pending to processing.
    assert_eq!(
        notes(&sim),
        ["Order status changed from Pending payment to Processing."]
    );

    let r = api_send(
        &sim,
        "POST",
        &format!("orders/{id}/notes"),
        &json!({"note": "internal remark"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        queue(&sim).is_empty(),
        "add_order_note() saves nothing on the order"
    );

    let r = api_send(
        &sim,
        "PUT",
        &format!("orders/{id}"),
        &json!({"status": "completed"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let q = queue(&sim);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["resource_id"], id);
    assert_eq!(
        notes(&sim)[0],
        "Order status changed from Processing to Completed."
    );
    // Saving with the same status changes nothing to note.
    let r = api_send(
        &sim,
        "PUT",
        &format!("orders/{id}"),
        &json!({"status": "completed"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(notes(&sim).len(), 3, "{:?}", notes(&sim));
}

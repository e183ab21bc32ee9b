//! End to end against an X3 that behaves as Sage documents it (x3-sim's strict defaults,
//! `../shared/reference/x3-api.md`): business refusals answered 500 with `$diagnoses`, e-mails on
//! the customer's addresses, 35-character name fields, `$edit` answers that do not take a field,
//! stock keyed by X3's own counter, site-specific class names, several hosts or shops on one X3
//! folder, invoices that ship, and a new installation's first catch-up. Each test asserts what
//! ended up in the simulated X3 (and, where it is the point, what the merchant is told).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Env, HostProc, Options, wait_until};
use mlc_sim::x3::X3Config;
use serde_json::{Value, json};

/// An admin API answer; `null` for 404 (an order the host has not heard of yet).
fn admin_get(env: &Env, host: &HostProc, path: &str) -> Value {
    let token = std::fs::read_to_string(env.dir.join("data/admin.token")).unwrap();
    let mut resp = ureq::get(&host.url(path))
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    if resp.status() == 404 {
        return Value::Null;
    }
    assert_eq!(resp.status(), 200, "{path}");
    resp.body_mut().read_json().unwrap()
}

fn order_page(env: &Env, host: &HostProc, id: u64) -> Value {
    admin_get(env, host, &format!("/api/admin/orders/{id}"))
}

fn state(env: &Env, host: &HostProc, id: u64) -> String {
    order_page(env, host, id)["state"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Waits for the order to reach one of `states`; panics with the order's page otherwise.
fn wait_state(env: &Env, host: &HostProc, id: u64, states: &[&str]) -> Value {
    let ok = wait_until(Duration::from_secs(60), || {
        states.contains(&state(env, host, id).as_str())
    });
    let page = order_page(env, host, id);
    assert!(
        ok,
        "order {id} never reached {states:?}: {page:#}\nhost log:\n{}",
        host.log()
    );
    page
}

fn timeline_text(page: &Value) -> String {
    page["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{} {}", e["event"], e["detail"]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn place(env: &Env, email: &str, lines: Value) -> u64 {
    env.woo
        .place_order(&json!({
            "lines": lines,
            "billing": {
                "first_name": "Anna", "last_name": "Schmidt", "company": "Schmidt & Söhne GmbH",
                "address_1": "1 Hauptstraße", "address_2": "", "city": "Köln", "state": "",
                "postcode": "50667", "country": "DE", "email": email, "phone": "+49 221 0000"
            },
            "status": "processing",
            "shipping_method": "flat_rate",
        }))
        .unwrap()["id"]
        .as_u64()
        .unwrap()
}

fn tshirt() -> Value {
    json!([{"sku": "WOO-TSHIRT", "quantity": 1}])
}

fn orders_for(env: &Env, reference: &str) -> Vec<Value> {
    env.x3_orders_by_reference()
        .remove(reference)
        .unwrap_or_default()
}

fn dec(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_f64().unwrap(),
    }
}

/// Physical stock of an item on FR011, over every stock line X3 keeps for it.
fn stock_of(env: &Env, item: &str) -> f64 {
    env.x3_records("STOCK")
        .iter()
        .filter(|s| s["STOFCY"] == "FR011" && s["ITMREF"] == item)
        .map(|s| dec(&s["QTYSTU"]))
        .sum()
}

// ---- 1. refusals answered 500 --------------------------------------------------------------

#[test]
fn an_order_mapped_to_an_item_x3_does_not_have_goes_to_attention_with_x3s_message() {
    // horizon-secs = 0: before the fix this order was "outcome unknown" and retried for ever.
    let env = Env::new("fidelity-refusal", Options::default());
    let mut csv = std::fs::read_to_string(env.dir.join("mapping.csv")).unwrap();
    csv = csv.replace("sku,WOO-CAP,CAP,", "sku,WOO-CAP,NOSUCHITEM,");
    std::fs::write(env.dir.join("mapping.csv"), csv).unwrap();
    let host = HostProc::start(&env);
    let id = place(
        &env,
        "refused@example.com",
        json!([{"sku": "WOO-CAP", "quantity": 1}]),
    );
    let page = wait_state(&env, &host, id, &["attention"]);
    let error = page["last-error"].as_str().unwrap_or("");
    assert!(
        error.contains("NOSUCHITEM") || error.to_lowercase().contains("item"),
        "X3's message is shown: {error}"
    );
    assert!(orders_for(&env, &format!("WC-{id}")).is_empty());
    // It was looked up once after the 500 (the write may have committed), and is not retried.
    assert!(!timeline_text(&page).contains("retrying"), "{page:#}");
    assert!(
        host.log().contains("refused"),
        "the log says so at warning level"
    );
    // A later good order still goes through: X3 is not "down".
    let ok = place(&env, "fine@example.com", tshirt());
    wait_state(&env, &host, ok, &["posted"]);
    assert_eq!(orders_for(&env, &format!("WC-{ok}")).len(), 1);
    assert_ne!(host.status()["x3"]["verdict"], "down");
}

#[test]
fn a_read_x3_cannot_run_is_a_configuration_problem_named_on_the_status_page() {
    // A header e-mail field the standard BPCUSTOMER does not have.
    let env = Env::new(
        "fidelity-misconfigured",
        Options {
            config_tail: "[x3.wire]\nrest.customer.email-path = \"WEB\"\n".into(),
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    let id = place(&env, "anyone@example.com", tshirt());
    let page = wait_state(&env, &host, id, &["attention"]);
    assert!(
        page["last-error"].as_str().unwrap().contains("WEB"),
        "{page:#}"
    );
    let x3 = &host.status()["x3"];
    assert_eq!(x3["verdict"], "misconfigured", "{x3:#}");
    let problems = x3["config_problems"].to_string();
    assert!(
        problems.contains("WEB") && problems.contains("x3.wire"),
        "{problems}"
    );
    assert!(env.x3_records("BPCUSTOMER").is_empty() && env.x3_records("SORDER").is_empty());
    assert!(host.log().contains("X3 configuration"), "said in the log");
}

// ---- 2, 3. customers matched by their addresses --------------------------------------------

fn seed_customers(env: &Env) {
    let customer = |code: &str, email: &str| {
        json!({"BPCNUM": code, "BCGCOD": "WEBCU", "BPRNAM": format!("Customer {code}"), "CUR": "EUR",
            "BPAINV": "A1", "BPAADD": "A1", "BPDADD": "A1",
            "BPADDRESS": [{"BPAADD": "A1", "BPADES": "Main", "BPAADDLIG": ["1 Road", "", ""],
                "POSCOD": "50667", "CTY": "Köln", "CRY": "DE", "WEB": email, "BPAADDFLG": 2}]})
    };
    env.x3
        .seed(&json!({"customers": [
            customer("ZED02", "Anna@Example.com"),
            customer("ANNA01", "ANNA@example.COM"),
            customer("OTHER9", "someone@example.com"),
        ]}))
        .unwrap();
}

fn customers_found_by_address(graphql: bool) {
    let name = if graphql {
        "fidelity-cust-gql"
    } else {
        "fidelity-cust-rest"
    };
    let env = Env::new(
        name,
        Options {
            graphql,
            ..Options::default()
        },
    );
    seed_customers(&env);
    let host = HostProc::start(&env);
    let id = place(&env, "anna@example.com", tshirt());
    let page = wait_state(&env, &host, id, &["posted"]);
    let docs = orders_for(&env, &format!("WC-{id}"));
    assert_eq!(docs.len(), 1);
    // Two X3 customers carry the e-mail (in other cases): the lowest code, said on the timeline.
    assert_eq!(docs[0]["BPCORD"], "ANNA01", "{page:#}");
    let tl = timeline_text(&page);
    assert!(tl.contains("ANNA01") && tl.contains("ZED02"), "{tl}");
    assert_eq!(env.x3_records("BPCUSTOMER").len(), 3, "no twin created");

    // A new customer is created once; her second order finds her on her address.
    let first = place(&env, "new.buyer@example.com", tshirt());
    wait_state(&env, &host, first, &["posted"]);
    let second = place(&env, "New.Buyer@Example.com", tshirt());
    wait_state(&env, &host, second, &["posted"]);
    let customers = env.x3_records("BPCUSTOMER");
    assert_eq!(customers.len(), 4, "one customer for both orders");
    let created = customers
        .iter()
        .find(|c| !["ZED02", "ANNA01", "OTHER9"].contains(&c["BPCNUM"].as_str().unwrap()))
        .unwrap();
    assert!(created.get("WEB").is_none(), "no header e-mail: {created}");
    assert_eq!(created["BPADDRESS"][0]["WEB"], "new.buyer@example.com");
    let a = &orders_for(&env, &format!("WC-{first}"))[0];
    let b = &orders_for(&env, &format!("WC-{second}"))[0];
    assert_eq!(a["BPCORD"], b["BPCORD"]);
    assert_eq!(a["BPCORD"], created["BPCNUM"]);
}

#[test]
fn an_x3_customer_whose_email_is_only_on_its_address_is_matched_not_twinned_rest() {
    customers_found_by_address(false);
}

#[test]
fn an_x3_customer_whose_email_is_only_on_its_address_is_matched_not_twinned_graphql() {
    customers_found_by_address(true);
}

// ---- 4. name fields are strings --------------------------------------------------------------

#[test]
fn delivery_and_invoice_names_are_35_character_strings() {
    let env = Env::new("fidelity-names", Options::default());
    let host = HostProc::start(&env);
    let id = place(&env, "names@example.com", tshirt());
    wait_state(&env, &host, id, &["posted"]);
    let doc = &orders_for(&env, &format!("WC-{id}"))[0];
    assert_eq!(doc["BPDNAM"], "Anna Schmidt", "{doc}");
    assert_eq!(doc["BPINAM"], "Anna Schmidt", "{doc}");
    // The company is not lost: it is on the third address line.
    assert_eq!(doc["BPIADDLIG"][2], "Schmidt & Söhne GmbH", "{doc}");
}

// ---- 5. the site's own names ------------------------------------------------------------------

#[test]
fn a_site_with_its_own_order_class_gets_its_orders_there() {
    // The standard SORDER representation has no $create (x3-api.md §1.8): the site publishes
    // YSORDER/YSOH, and says so in [x3.wire].
    let mut x3 = X3Config::default();
    x3.classes.order = ("YSORDER".into(), "YSOH".into());
    let env = Env::new(
        "fidelity-wire",
        Options {
            x3,
            config_tail:
                "[x3.wire]\nrest.order.class = \"YSORDER\"\nrest.order.representation = \"YSOH\"\n"
                    .into(),
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    let id = place(&env, "wire@example.com", tshirt());
    wait_state(&env, &host, id, &["posted"]);
    let docs: Vec<Value> = env
        .x3_records("YSORDER")
        .into_iter()
        .filter(|d| d["CUSORDREF"] == format!("WC-{id}"))
        .collect();
    assert_eq!(docs.len(), 1);
    let names = admin_get(&env, &host, "/api/admin/wire");
    let class = names["names"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["key"] == "rest.order.class")
        .unwrap()
        .clone();
    assert_eq!(
        (class["value"].as_str(), class["overridden"].as_bool()),
        (Some("YSORDER"), Some(true))
    );
    drop(host);

    // A misspelt key is refused at start, naming it.
    let text = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        text.replace("rest.order.class", "rest.order.klass"),
    )
    .unwrap();
    let out = std::process::Command::new(common::host_binary())
        .args(["config", "check", "--config"])
        .arg(&env.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rest.order.klass"), "{err}");
}

// ---- 6. restock by X3's own stock lines --------------------------------------------------------

#[test]
fn a_restock_is_a_miscellaneous_receipt_on_x3s_stock_lines() {
    let env = Env::new(
        "fidelity-restock",
        Options {
            config_tail: "[stock]\ncredit-note-type = \"AVO\"\nrefund-amount-item = \"CARRIAGE\"\n"
                .into(),
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    let before = stock_of(&env, "TSHIRT");
    let order = env
        .woo
        .place_order(&json!({
            "lines": [{"sku": "WOO-TSHIRT", "quantity": 3}],
            "billing": {"first_name": "Re", "last_name": "Stock", "company": "",
                "address_1": "1 Rue", "address_2": "", "city": "Lyon", "state": "",
                "postcode": "69001", "country": "FR", "email": "restock@example.com", "phone": ""},
            "status": "processing",
            "shipping_method": "flat_rate",
        }))
        .unwrap();
    let id = order["id"].as_u64().unwrap();
    wait_state(&env, &host, id, &["posted"]);
    env.put_status(id, "completed");
    wait_state(&env, &host, id, &["shipped"]);
    assert_eq!(stock_of(&env, "TSHIRT"), before - 3.0);
    let shirt = &order["line_items"][0];
    let unit = dec(&shirt["total"]) / 3.0;
    env.woo
        .refund(
            id,
            &json!({"reason": "too small", "restock": true,
                "line_items": [{"id": shirt["id"], "quantity": 2,
                                "refund_total": format!("{:.2}", unit * 2.0)}]}),
        )
        .unwrap();
    let ok = wait_until(Duration::from_secs(60), || {
        stock_of(&env, "TSHIRT") == before - 1.0
    });
    assert!(
        ok,
        "stock back: {}\n{}",
        stock_of(&env, "TSHIRT"),
        host.log()
    );
    let receipts = env.x3_records("SMVTRCP");
    assert_eq!(receipts.len(), 1, "{receipts:#?}");
    assert!(
        receipts[0]["VCRDES"]
            .as_str()
            .unwrap()
            .starts_with(&format!("WC-{id}R"))
    );
    // Stock lines keep X3's own keys: site and counter.
    for s in env.x3_records("STOCK") {
        assert!(s["STOCOU"].as_i64().is_some(), "{s}");
    }
}

// ---- 7. an edit that does not take -------------------------------------------------------------

#[test]
fn a_close_that_x3_does_not_take_is_attention_not_closed() {
    let env = Env::new(
        "fidelity-close",
        Options {
            x3: X3Config {
                ignored_edit_fields: vec!["SORDER.ORDSTA".into()],
                ..X3Config::default()
            },
            config_tail: "[stock]\ncredit-note-type = \"AVO\"\n".into(),
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    let id = place(&env, "close@example.com", tshirt());
    wait_state(&env, &host, id, &["posted"]);
    env.put_status(id, "cancelled");
    let page = wait_state(&env, &host, id, &["attention"]);
    let error = page["last-error"].as_str().unwrap();
    assert!(error.contains("ORDSTA"), "{error}");
    let doc = &orders_for(&env, &format!("WC-{id}"))[0];
    assert_eq!(doc["ORDSTA"], 1, "X3 still has it open");
    assert!(
        !timeline_text(&page).contains("closed: cancelled"),
        "{page:#}"
    );
}

// ---- 8. exactly once without the ledger ----------------------------------------------------------

#[test]
fn a_lost_data_directory_does_not_post_an_order_twice() {
    let env = Env::new("fidelity-ledger", Options::default());
    let host = HostProc::start(&env);
    let id = place(&env, "ledger@example.com", tshirt());
    wait_state(&env, &host, id, &["posted"]);
    drop(host);
    // The data directory is gone (a restore, a new machine, a second host on the shop).
    std::fs::remove_dir_all(env.dir.join("data")).unwrap();
    let host = HostProc::start(&env);
    // The order comes again (WooCommerce re-saves it): the host looks X3 up before creating.
    env.put_status(id, "processing");
    let page = wait_state(&env, &host, id, &["posted"]);
    assert_eq!(orders_for(&env, &format!("WC-{id}")).len(), 1, "{page:#}");
    assert!(timeline_text(&page).contains("adopted"), "{page:#}");
}

// ---- 9. two shops, one X3 folder --------------------------------------------------------------

#[test]
fn two_shops_with_one_reference_never_adopt_each_others_orders() {
    let a = Env::new("fidelity-shop-a", Options::default());
    let b = Env::new("fidelity-shop-b", Options::default());
    // Shop B's host posts to shop A's X3.
    let text = std::fs::read_to_string(&b.config).unwrap();
    std::fs::write(
        &b.config,
        text.replace(&b.x3.base_url(), &a.x3.base_url())
            .replace("store-id = \"e2e\"", "store-id = \"e2e-b\""),
    )
    .unwrap();
    let host_a = HostProc::start(&a);
    let ida = place(&a, "shop.a@example.com", tshirt());
    wait_state(&a, &host_a, ida, &["posted"]);
    let host_b = HostProc::start(&b);
    let idb = place(&b, "shop.b@example.com", tshirt());
    assert_eq!(ida, idb, "both shops number their first order alike");
    let page = wait_state(&b, &host_b, idb, &["attention"]);
    let error = page["last-error"].as_str().unwrap();
    assert!(error.contains("reference-prefix"), "{error}");
    let docs = orders_for(&a, &format!("WC-{ida}"));
    assert_eq!(docs.len(), 1, "one document, shop A's: {docs:#?}");

    // With its own prefix, shop B's order goes through.
    drop(host_b);
    let text = std::fs::read_to_string(&b.config).unwrap();
    std::fs::write(
        &b.config,
        text.replace("[orders]\n", "[orders]\nreference-prefix = \"WB-\"\n"),
    )
    .unwrap();
    let host_b = HostProc::start(&b);
    // What the merchant does once the prefix is fixed: replay the order.
    let token = std::fs::read_to_string(b.dir.join("data/admin.token")).unwrap();
    let resp = ureq::post(&host_b.url("/api/admin/orders/replay"))
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .send_json(json!({ "orders": [idb] }))
        .unwrap();
    assert_eq!(resp.status(), 200);
    wait_state(&b, &host_b, idb, &["posted"]);
    assert_eq!(orders_for(&a, &format!("WB-{idb}")).len(), 1);
    assert_eq!(orders_for(&a, &format!("WC-{ida}")).len(), 1);

    // A prefix that cannot keep references apart is refused.
    let text = std::fs::read_to_string(&b.config).unwrap();
    std::fs::write(&b.config, text.replace("\"WB-\"", "\"WB1\"")).unwrap();
    let out = std::process::Command::new(common::host_binary())
        .args(["config", "check", "--config"])
        .arg(&b.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reference-prefix"));
}

// ---- 10. invoices carry the delivery address and move stock ------------------------------------

#[test]
fn an_invoiced_order_carries_its_delivery_address_and_leaves_stock_when_shipped() {
    let env = Env::new(
        "fidelity-invoice",
        Options {
            orders_extra: "document-kind = \"invoice\"".into(),
            config_tail: "[stock]\ncredit-note-type = \"AVO\"\n".into(),
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    let before = stock_of(&env, "MUG");
    let id = place(
        &env,
        "invoice@example.com",
        json!([{"sku": "WOO-MUG", "quantity": 2}]),
    );
    wait_state(&env, &host, id, &["posted"]);
    let inv: Vec<Value> = env
        .x3_records("SINVOICE")
        .into_iter()
        .filter(|i| i["CUSORDREF"] == format!("WC-{id}"))
        .collect();
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0]["BPDNAM"], "Anna Schmidt", "{:#}", inv[0]);
    assert_eq!(inv[0]["BPDCTY"], "Köln");
    env.put_status(id, "completed");
    wait_state(&env, &host, id, &["shipped"]);
    assert_eq!(stock_of(&env, "MUG"), before - 2.0);
    let issues = env.x3_records("SMVTISS");
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["VCRDES"], inv[0]["NUM"]);
}

// ---- 11. a new installation does not import history -----------------------------------------

#[test]
fn a_new_installation_does_not_import_orders_placed_before_it() {
    let env = Env::new(
        "fidelity-history",
        Options {
            config_tail: "[catch-up]\ninterval-secs = 1\noverlap-secs = 300\n".into(),
            ..Options::default()
        },
    );
    // Orders of the shop's past: placed while nothing listened (their deliveries failed).
    let old: Vec<u64> = (0..3)
        .map(|i| place(&env, &format!("history{i}@example.com"), tshirt()))
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let host = HostProc::start(&env);
    // A few polls, each reaching back 300 s before the watermark, but not before installation.
    std::thread::sleep(Duration::from_secs(5));
    let new = place(&env, "after@example.com", tshirt());
    wait_state(&env, &host, new, &["posted"]);
    std::thread::sleep(Duration::from_secs(3));
    for id in old {
        assert!(
            orders_for(&env, &format!("WC-{id}")).is_empty(),
            "order {id} imported"
        );
    }
    assert_eq!(env.x3_records("SORDER").len(), 1);
}

//! End to end: WooCommerce → X3 customers with the real `ml-connector` binary against both
//! simulators. A registered customer who ordered (so X3 has them) changes their billing address
//! in woo-sim; the X3 customer's billing address changes — once, however often the webhook is
//! delivered, never to an older revision, and nothing comes back to WooCommerce. With the
//! setting off nothing changes in X3; an unknown customer gets no X3 write and the status page
//! says so; the e-mail cache expires and X3 is asked again; a changed e-mail moves the match.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed assertion

mod common;

use std::time::Duration;

use common::{Env, FaultProxy, HostProc, Options, wait_until};
use serde_json::{Value, json};

/// woo-sim's registered customer (docs/simulators.md, woo-sim): Zoë Ørsted, zoe@example.com.
const ZOE: u64 = 2;

const ON: &str = "[webhooks]\nmaster-data = true\nmonitor-interval-secs = 0\n\n\
                  [master-data]\ncustomer-addresses = true\n";

fn env(name: &str, graphql: bool, tail: &str) -> Env {
    let env = Env::new(
        name,
        Options {
            graphql,
            config_tail: tail.into(),
            ..Options::default()
        },
    );
    env.create_webhook("customer.updated", &env.delivery_url());
    env
}

fn zoe_billing(email: &str) -> Value {
    json!({"first_name": "Zoë", "last_name": "Ørsted", "company": "",
           "address_1": "12 Rue de l'Église", "address_2": "", "city": "Saint-Étienne",
           "state": "", "postcode": "42000", "country": "FR", "email": email,
           "phone": "+33 4 77 00 00 00"})
}

fn grenoble() -> Value {
    json!({"first_name": "Zoë", "last_name": "Ørsted", "company": "", "address_1": "5 Allée Verte",
           "address_2": "", "city": "Grenoble", "state": "", "postcode": "38000", "country": "FR",
           "phone": "+33 4 77 00 00 00"})
}

/// A checkout by `customer_id` (0: a guest); returns the order id once X3 has its document.
fn order(env: &Env, host: &HostProc, customer_id: u64, billing: Value, shipping: Value) -> u64 {
    let o = env
        .woo
        .place_order(&json!({
            "lines": [{"sku": "WOO-TSHIRT", "quantity": 1}],
            "billing": billing, "shipping": shipping, "customer_id": customer_id,
            "status": "processing", "shipping_method": "flat_rate",
        }))
        .unwrap();
    let id = o["id"].as_u64().unwrap();
    let posted = wait_until(Duration::from_secs(60), || {
        env.x3_orders_by_reference()
            .contains_key(&format!("WC-{id}"))
    });
    assert!(posted, "order {id} not in X3; host log:\n{}", host.log());
    id
}

fn x3_customer_of_order(env: &Env, order_id: u64) -> String {
    env.x3_orders_by_reference()[&format!("WC-{order_id}")][0]["BPCORD"]
        .as_str()
        .unwrap()
        .to_string()
}

fn x3_customer(env: &Env, code: &str) -> Value {
    env.x3_records("BPCUSTOMER")
        .into_iter()
        .find(|c| c["BPCNUM"] == code)
        .unwrap_or_else(|| panic!("no X3 customer {code}"))
}

/// One address of an X3 customer, without its line id (an update replaces the lines).
fn address(c: &Value, code: &str) -> Value {
    let mut a = c["BPADDRESS"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["BPAADD"] == code)
        .cloned()
        .unwrap_or_else(|| panic!("no address {code}: {c}"));
    a.as_object_mut().unwrap().remove("$uuid");
    a
}

/// `PUT /customers/<id>` over woo-sim's REST API, as the shopper's "My account" saves it. The
/// shop's clock is moved on a minute first, so each save is a revision of its own second (the
/// waits below tell revisions apart by `date_modified_gmt`).
fn save_customer(env: &Env, id: u64, body: &Value) -> Value {
    advance_woo_clock(env, 60);
    let c = env.woo.config();
    let mut resp = ureq::put(&format!(
        "{}/wp-json/wc/v3/customers/{id}",
        env.woo.base_url()
    ))
    .query("consumer_key", &c.consumer_key)
    .query("consumer_secret", &c.consumer_secret)
    .send_json(body)
    .unwrap();
    resp.body_mut().read_json().unwrap()
}

fn woo_customer(env: &Env, id: u64) -> Value {
    let c = env.woo.config();
    let mut resp = ureq::get(&format!(
        "{}/wp-json/wc/v3/customers/{id}",
        env.woo.base_url()
    ))
    .query("consumer_key", &c.consumer_key)
    .query("consumer_secret", &c.consumer_secret)
    .call()
    .unwrap();
    resp.body_mut().read_json().unwrap()
}

fn advance_woo_clock(env: &Env, secs: i64) {
    let r = ureq::post(&format!("{}/__sim/clock", env.woo.base_url()))
        .send_json(json!({ "advance_secs": secs }))
        .unwrap();
    assert!(r.status().is_success());
}

/// The host's record of one customer on `/api/status` (the last few handled).
fn handled(host: &HostProc, id: u64) -> Option<Value> {
    host.status()["customer_updates"]["recent"]
        .as_array()?
        .iter()
        .find(|r| r["customer_id"] == id)
        .cloned()
}

/// Waits until the host has handled the revision WooCommerce answered (`saved`), and returns
/// its record.
fn wait_handled(host: &HostProc, saved: &Value) -> Value {
    let id = saved["id"].as_u64().unwrap();
    let revision = saved["date_modified_gmt"].clone();
    let mut last = None;
    let done = wait_until(Duration::from_secs(60), || {
        last = handled(host, id);
        last.as_ref().is_some_and(|r| {
            r["applied_revision"] == revision
                && !matches!(r["state"].as_str(), Some("waiting" | "retrying"))
        })
    });
    assert!(
        done,
        "customer {id} revision {revision} not handled: {last:?}\n{}",
        host.log()
    );
    last.unwrap()
}

/// The woo-sim log entries of `customer.updated` deliveries, oldest first.
fn customer_deliveries(env: &Env) -> Vec<Value> {
    env.woo
        .deliveries()
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "delivery" && d["topic"] == "customer.updated")
        .cloned()
        .collect()
}

/// Sends a logged delivery to the host again, byte for byte (WooCommerce re-delivering it).
fn replay(env: &Env, delivery: &Value) -> Value {
    let req = &delivery["request"];
    let mut r = ureq::post(&env.delivery_url());
    for (k, v) in req["headers"].as_object().unwrap() {
        let k = k.to_ascii_lowercase();
        if k.starts_with("x-wc-") || k == "content-type" || k == "user-agent" {
            r = r.header(&k, v.as_str().unwrap());
        }
    }
    let mut resp = r.send(req["body"].as_str().unwrap().as_bytes()).unwrap();
    resp.body_mut().read_json().unwrap()
}

/// X3 writes to customers so far, in the API in use.
fn customer_writes(env: &Env) -> u64 {
    env.x3.calls_of("PUT BPCUSTOMER $edit")
        + env.x3.calls_of("GraphQL x3MasterData.customer.update")
}

#[test]
fn a_new_billing_address_reaches_the_x3_customer_once_over_rest() {
    address_scenario("cust-rest", false);
}

#[test]
fn a_new_billing_address_reaches_the_x3_customer_once_over_graphql() {
    address_scenario("cust-gql", true);
}

fn address_scenario(name: &str, graphql: bool) {
    // X3 polling of customers on: our own write comes back as a change X3 shows, and must go
    // nowhere.
    let env = env(
        name,
        graphql,
        &format!("{ON}\n[x3-poll]\ninterval-secs = 1\noverlap-secs = 1\norders = false\n"),
    );
    let host = HostProc::start(&env);

    // Before any order X3 has no such customer: nothing to update, and the status page says so.
    let saved = save_customer(&env, ZOE, &json!({ "shipping": grenoble() }));
    let r = wait_handled(&host, &saved);
    assert_eq!(r["state"], "unknown", "{r}");
    assert_eq!(customer_writes(&env), 0);
    assert!(env.x3_records("BPCUSTOMER").is_empty());
    let st = host.status()["customer_updates"].clone();
    assert_eq!(st["enabled"], true);
    assert_eq!(st["no_x3_customer"], 1, "{st}");

    // Zoë orders, shipping elsewhere: X3 gets her as a customer with BIL and SHP.
    let o = order(&env, &host, ZOE, zoe_billing("zoe@example.com"), grenoble());
    let code = x3_customer_of_order(&env, o);
    let before = x3_customer(&env, &code);
    assert_eq!(address(&before, "BIL")["CTY"], "Saint-Étienne");
    assert_eq!(address(&before, "SHP")["CTY"], "Grenoble");

    // She moves: the billing address changes in WooCommerce.
    let saved = save_customer(
        &env,
        ZOE,
        &json!({"billing": {"address_1": "9 Quai Bas", "city": "Lyon", "postcode": "69001"}}),
    );
    let r = wait_handled(&host, &saved);
    assert_eq!(r["state"], "updated", "{r}\n{}", host.log());
    assert_eq!(r["x3_code"], code.as_str());
    let after = x3_customer(&env, &code);
    let bil = address(&after, "BIL");
    assert_eq!(bil["BPAADDLIG"], json!(["9 Quai Bas", "", ""]));
    assert_eq!(
        (bil["CTY"].as_str(), bil["POSCOD"].as_str()),
        (Some("Lyon"), Some("69001"))
    );
    assert_eq!(bil["WEB"], "zoe@example.com");
    assert_eq!(bil["TEL"], "+33 4 77 00 00 00");
    assert_eq!(
        address(&after, "SHP"),
        address(&before, "SHP"),
        "shipping unchanged"
    );
    assert_eq!(after["BPRNAM"], before["BPRNAM"]);
    assert!(after["UPDDATTIM"].as_str() >= before["UPDDATTIM"].as_str());
    assert_eq!(customer_writes(&env), 1, "one X3 write");
    assert_eq!(env.x3_records("BPCUSTOMER").len(), 1, "no twin");

    // WooCommerce delivers the same webhook three more times: no second write.
    let last = customer_deliveries(&env).last().cloned().unwrap();
    assert_eq!(last["success"], true, "{last}");
    for _ in 0..3 {
        assert_eq!(replay(&env, &last)["status"], "duplicate");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(customer_writes(&env), 1, "re-deliveries write nothing");
    assert_eq!(handled(&host, ZOE).unwrap()["writes"], 1);
    assert_eq!(x3_customer(&env, &code)["BPADDRESS"], after["BPADDRESS"]);

    // No loop: X3 polling sees our write as a change of the customer, and pushes nothing back
    // (WooCommerce's customer is not saved again, so no customer.updated follows).
    let deliveries = customer_deliveries(&env).len();
    let stamp = after["UPDDATTIM"].clone();
    let seen = wait_until(Duration::from_secs(30), || {
        host.status()["x3_poll"]["customers_changed"]
            .as_array()
            .is_some_and(|l| {
                l.iter()
                    .any(|c| c["code"] == code.as_str() && c["x3_updated"] == stamp)
            })
    });
    assert!(
        seen,
        "the poll did not see our write: {}",
        host.status()["x3_poll"]
    );
    std::thread::sleep(Duration::from_millis(1500));
    let zoe = woo_customer(&env, ZOE);
    assert_eq!(zoe["date_modified_gmt"], saved["date_modified_gmt"]);
    assert_eq!(zoe["billing"], saved["billing"]);
    assert_eq!(customer_deliveries(&env).len(), deliveries);
    assert_eq!(customer_writes(&env), 1);

    // The status page shows the section.
    let mut page = host.get("/status").call().unwrap();
    let html = page.body_mut().read_to_string().unwrap();
    assert!(html.contains("Customer addresses → X3"), "{html}");
    assert!(html.contains(&code), "the X3 customer is listed");
    let status = host.terminate();
    assert!(status.success());
}

#[test]
fn an_older_revision_arriving_after_a_newer_one_never_overwrites_it_in_x3() {
    // Over GraphQL, through a proxy that can fail (WooCommerce's delivery of the older revision
    // fails; it is sent again later, after the newer one), and X3 briefly unavailable.
    let env = Env::new(
        "cust-order",
        Options {
            graphql: true,
            config_tail: ON.into(),
            ..Options::default()
        },
    );
    let proxy = FaultProxy::start(format!("127.0.0.1:{}", env.host_port));
    env.create_webhook("customer.updated", &proxy.url());
    let host = HostProc::start(&env);
    let o = order(
        &env,
        &host,
        ZOE,
        zoe_billing("zoe@example.com"),
        zoe_billing("zoe@example.com"),
    );
    let code = x3_customer_of_order(&env, o);

    proxy.fail(true);
    let older = save_customer(&env, ZOE, &json!({"billing": {"city": "Nice"}}));
    let failed = wait_until(Duration::from_secs(30), || {
        customer_deliveries(&env)
            .iter()
            .any(|d| d["success"] == false)
    });
    assert!(failed, "the older revision's delivery did not fail");
    let nice = customer_deliveries(&env)
        .into_iter()
        .find(|d| d["success"] == false)
        .unwrap();
    assert!(nice["request"]["body"].as_str().unwrap().contains("Nice"));
    proxy.fail(false);

    // The newer revision, with X3 answering 503 twice first: retried, then written.
    env.x3
        .set_faults(&json!({"fail": {"count": 2, "status": 503}}))
        .unwrap();
    let newer = save_customer(&env, ZOE, &json!({"billing": {"city": "Brest"}}));
    assert!(newer["date_modified_gmt"].as_str() > older["date_modified_gmt"].as_str());
    let r = wait_handled(&host, &newer);
    assert_eq!(r["state"], "updated", "{r}\n{}", host.log());
    assert_eq!(address(&x3_customer(&env, &code), "BIL")["CTY"], "Brest");
    assert_eq!(customer_writes(&env), 1);

    // WooCommerce's older delivery arrives now: stored, never applied.
    assert_eq!(replay(&env, &nice)["status"], "stored");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(address(&x3_customer(&env, &code), "BIL")["CTY"], "Brest");
    assert_eq!(customer_writes(&env), 1);
    let st = host.status()["customer_updates"].clone();
    assert_eq!(st["waiting"], 0, "{st}");
    assert_eq!(
        handled(&host, ZOE).unwrap()["applied_revision"],
        newer["date_modified_gmt"]
    );
    assert!(host.terminate().success());
}

#[test]
fn with_the_setting_off_nothing_changes_in_x3() {
    let env = env(
        "cust-off",
        false,
        "[webhooks]\nmaster-data = true\nmonitor-interval-secs = 0\n",
    );
    let host = HostProc::start(&env);
    let o = order(
        &env,
        &host,
        ZOE,
        zoe_billing("zoe@example.com"),
        zoe_billing("zoe@example.com"),
    );
    let code = x3_customer_of_order(&env, o);
    let before = x3_customer(&env, &code);
    let saved = save_customer(&env, ZOE, &json!({"billing": {"city": "Lyon"}}));
    // The delivery is acknowledged and stored…
    let delivered = wait_until(Duration::from_secs(30), || {
        customer_deliveries(&env).iter().any(|d| {
            d["success"] == true
                && d["request"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains(saved["date_modified_gmt"].as_str().unwrap()))
        })
    });
    assert!(delivered, "{:?}", customer_deliveries(&env));
    std::thread::sleep(Duration::from_millis(800));
    // …and X3 is not touched.
    assert_eq!(customer_writes(&env), 0);
    assert_eq!(x3_customer(&env, &code)["BPADDRESS"], before["BPADDRESS"]);
    let st = host.status()["customer_updates"].clone();
    assert_eq!(st["enabled"], false);
    assert_eq!(st["recent"], json!([]));
    let mut page = host.get("/status").call().unwrap();
    let html = page.body_mut().read_to_string().unwrap();
    assert!(
        html.contains(
            "customer-addresses</code>): WooCommerce customer changes are stored, not sent"
        )
    );
    assert!(host.terminate().success());
}

#[test]
fn a_refusal_needs_a_person_with_x3s_message() {
    // A site whose customer representation takes no edits (no `$edit` facet).
    let mut opts = Options {
        config_tail: ON.into(),
        ..Options::default()
    };
    opts.x3.facets.insert(
        "BPCUSTOMER".into(),
        ["query", "details", "lookup", "create"]
            .map(String::from)
            .to_vec(),
    );
    let env = Env::new("cust-refused", opts);
    env.create_webhook("customer.updated", &env.delivery_url());
    let host = HostProc::start(&env);
    let o = order(
        &env,
        &host,
        ZOE,
        zoe_billing("zoe@example.com"),
        zoe_billing("zoe@example.com"),
    );
    let code = x3_customer_of_order(&env, o);
    let saved = save_customer(&env, ZOE, &json!({"billing": {"city": "Lyon"}}));
    let r = wait_handled_state(&host, ZOE, "attention");
    let msg = r["last_error"].as_str().unwrap();
    assert!(msg.contains("$edit"), "X3's own message: {msg}");
    assert_eq!(
        address(&x3_customer(&env, &code), "BIL")["CTY"],
        "Saint-Étienne"
    );
    assert_eq!(
        env.x3.calls_of("PUT BPCUSTOMER $edit"),
        1,
        "tried once, not retried"
    );
    assert_eq!(r["revision"], saved["date_modified_gmt"]);
    let st = host.status()["customer_updates"].clone();
    assert_eq!(
        (st["attention"].clone(), st["waiting"].clone()),
        (json!(1), json!(0))
    );
    assert!(host.terminate().success());
}

/// Waits until the host's record of a customer is in `state`.
fn wait_handled_state(host: &HostProc, id: u64, state: &str) -> Value {
    let mut last = None;
    let done = wait_until(Duration::from_secs(60), || {
        last = handled(host, id);
        last.as_ref().is_some_and(|r| r["state"] == state)
    });
    assert!(done, "customer {id} not {state}: {last:?}\n{}", host.log());
    last.unwrap()
}

#[test]
fn an_expired_cache_entry_makes_x3_asked_again() {
    let env = env("cust-cache", false, "");
    let lookups = || env.x3.calls_of("GET BPCUSTOMER $query");
    let anna = || {
        let mut b = zoe_billing("anna@example.com");
        b["first_name"] = json!("Anna");
        b
    };
    let host = HostProc::start(&env);
    let first = order(&env, &host, 0, anna(), anna());
    assert_eq!(lookups(), 1, "a new customer: looked up once, then created");
    let second = order(&env, &host, 0, anna(), anna());
    assert_eq!(lookups(), 1, "the match is trusted while young");
    assert_eq!(
        x3_customer_of_order(&env, first),
        x3_customer_of_order(&env, second)
    );
    assert!(host.terminate().success());

    // A cache limit of one second, and the match is older than that now.
    let mut cfg = std::fs::read_to_string(&env.config).unwrap();
    cfg.push_str("\n[master-data]\ncustomer-cache-secs = 1\n");
    std::fs::write(&env.config, cfg).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let host = HostProc::start(&env);
    let third = order(&env, &host, 0, anna(), anna());
    assert_eq!(lookups(), 2, "an expired match: X3 asked again");
    assert_eq!(
        x3_customer_of_order(&env, third),
        x3_customer_of_order(&env, first),
        "and the answer refreshes it, no twin"
    );
    assert_eq!(env.x3_records("BPCUSTOMER").len(), 1);
    assert!(host.terminate().success());
}

#[test]
fn a_changed_email_moves_the_match_to_the_new_one_and_drops_the_old() {
    let env = env("cust-email", false, ON);
    let lookups = || env.x3.calls_of("GET BPCUSTOMER $query");
    let host = HostProc::start(&env);
    let o = order(
        &env,
        &host,
        ZOE,
        zoe_billing("zoe@example.com"),
        zoe_billing("zoe@example.com"),
    );
    let code = x3_customer_of_order(&env, o);
    assert_eq!(lookups(), 1);

    let saved = save_customer(
        &env,
        ZOE,
        &json!({"email": "zoe.new@example.com", "billing": {"email": "zoe.new@example.com"}}),
    );
    let r = wait_handled(&host, &saved);
    assert_eq!(r["state"], "updated", "{r}");
    let c = x3_customer(&env, &code);
    assert_eq!(address(&c, "BIL")["WEB"], "zoe.new@example.com");
    assert_eq!(lookups(), 1, "found through the order it was posted to");

    // An order with the new e-mail goes to the same X3 customer without asking X3.
    let again = order(
        &env,
        &host,
        ZOE,
        zoe_billing("zoe.new@example.com"),
        zoe_billing("zoe.new@example.com"),
    );
    assert_eq!(x3_customer_of_order(&env, again), code);
    assert_eq!(lookups(), 1);
    // The old e-mail's match is gone: an order with it asks X3, which no longer has it. The
    // customer created for that e-mail is still the one the ledger names (a new one would get
    // the same derived code and be refused): posted there, no twin.
    let old = order(
        &env,
        &host,
        0,
        zoe_billing("zoe@example.com"),
        zoe_billing("zoe@example.com"),
    );
    assert_eq!(lookups(), 2, "the old e-mail was asked again");
    assert_eq!(x3_customer_of_order(&env, old), code);
    assert_eq!(env.x3_records("BPCUSTOMER").len(), 1);
    assert!(host.terminate().success());
}

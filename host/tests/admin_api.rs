//! The admin API over real HTTP: a host started in-process with `serve::start` against x3-sim and
//! woo-sim (the end-to-end harness's environment), and for the log check the real binary.
//!
//! What is asserted is what the API answers and what ended up in the simulated X3, never what
//! the host logged (except that the log holds no secret).

#![allow(clippy::unwrap_used)]

#[path = "../../tests/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Env, HostProc, MAPPING, Options, WEBHOOK_SECRET, wait_until};
use ml_connector::cli::serve::{self, Host};
use ml_connector::config::Config;
use serde_json::{Value, json};

/// The mapping without the mug: mug orders are held.
fn mapping_without_mug() -> String {
    MAPPING
        .lines()
        .filter(|l| !l.contains("WOO-MUG"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn mug_order() -> Value {
    json!({
        "lines": [{"sku": "WOO-MUG", "quantity": 1}],
        "billing": {
            "first_name": "Ana", "last_name": "García", "company": "", "address_1": "1 Calle Mayor",
            "address_2": "", "city": "Madrid", "state": "", "postcode": "28001", "country": "ES",
            "email": "ana@example.com", "phone": ""
        },
        "status": "processing",
        "shipping_method": "flat_rate",
    })
}

fn tshirt_order(email: &str) -> Value {
    let mut o = mug_order();
    o["lines"] = json!([{"sku": "WOO-TSHIRT", "quantity": 2}]);
    o["billing"]["email"] = json!(email);
    o
}

/// A host in this process on the environment's port, sharing one compiled-core cache between
/// tests (compiling the component is most of a start).
fn start(env: &Env) -> Host {
    let cache = std::env::temp_dir().join("mlc-admin-api-core-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let data = env.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    if !data.join("cache").exists() {
        std::os::unix::fs::symlink(&cache, data.join("cache")).unwrap();
    }
    let cfg = Config::load(&env.config).unwrap();
    serve::start(&cfg).unwrap()
}

/// A host started in-process ([`start`]) and an API client with its admin token.
fn connect(env: &Env) -> (Host, Api) {
    let host = start(env);
    let api = Api::new(&host.http.addr().to_string(), Some(token(env)));
    (host, api)
}

fn token_path(env: &Env) -> PathBuf {
    env.dir.join("data").join("admin.token")
}

fn token(env: &Env) -> String {
    std::fs::read_to_string(token_path(env))
        .unwrap()
        .trim()
        .to_string()
}

/// One answer: status, the headers asked about, and the body as text.
struct Reply {
    status: u16,
    www_authenticate: Option<String>,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

struct Api {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    /// Every answer body, for the "no secret anywhere" checks.
    seen: std::cell::RefCell<Vec<String>>,
}

impl Api {
    fn new(addr: &str, token: Option<String>) -> Api {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Api {
            base: format!("http://{addr}"),
            token,
            agent,
            seen: Default::default(),
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<(&str, Vec<u8>)>, accept: &str) -> Reply {
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Accept", accept);
        if let Some(t) = &self.token {
            b = b.header("Authorization", format!("Bearer {t}"));
        }
        let resp = match body {
            Some((ctype, bytes)) => self
                .agent
                .run(b.header("Content-Type", ctype).body(bytes).unwrap()),
            None => self.agent.run(b.body(()).unwrap()),
        };
        let mut resp = resp.unwrap();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let www_authenticate = header("www-authenticate");
        let content_type = header("content-type").unwrap_or_default();
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap();
        self.seen.borrow_mut().push(body.clone());
        Reply {
            status,
            www_authenticate,
            content_type,
            body,
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, "application/json")
    }

    fn json(&self, method: &str, path: &str, v: &Value) -> Reply {
        self.send(
            method,
            path,
            Some(("application/json", v.to_string().into_bytes())),
            "application/json",
        )
    }

    fn csv(&self, path: &str, text: &str) -> Reply {
        self.send(
            "PUT",
            path,
            Some(("text/csv", text.as_bytes().to_vec())),
            "application/json",
        )
    }

    fn order(&self, id: u64) -> Value {
        let r = self.get(&format!("/api/admin/orders/{id}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    fn wait_state(&self, id: u64, state: &str) -> Value {
        let mut last = Value::Null;
        let ok = wait_until(Duration::from_secs(60), || {
            let r = self.get(&format!("/api/admin/orders/{id}"));
            if r.status == 200 {
                last = r.json();
                return last["state"] == state;
            }
            false
        });
        assert!(ok, "order {id} never reached {state}: {last:#}");
        last
    }
}

/// The harness's woo-sim assumes HTTPS (`https_assumed`), where WordPress takes Basic auth, while
/// the config's `http://` site URL makes the client sign with OAuth 1.0a: the host could not read
/// the shop. Switched through the API, which also rebuilds the live WooCommerce client.
fn woo_basic_auth(api: &Api) {
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "woocommerce": { "auth": "basic" } }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn order_id(placed: &Value) -> u64 {
    placed["id"].as_u64().unwrap()
}

#[test]
fn requests_without_the_token_or_with_a_wrong_one_are_refused_and_the_token_is_kept() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new("admin-auth", Options::default());
    let host = start(&env);
    let addr = host.http.addr().to_string();
    let mode = std::fs::metadata(token_path(&env))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the token file must be private");
    let first = token(&env);
    assert_eq!(first.len(), 64);

    let anonymous = Api::new(&addr, None);
    for path in [
        "/api/admin/settings",
        "/api/admin/mapping",
        "/api/admin/orders",
        "/api/admin/no-such-endpoint",
    ] {
        let r = anonymous.get(path);
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert!(
            r.www_authenticate
                .as_deref()
                .is_some_and(|h| h.starts_with("Bearer")),
            "{path}: {:?}",
            r.www_authenticate
        );
    }
    let r = anonymous.json(
        "POST",
        "/api/admin/orders/replay",
        &json!({"state": "attention"}),
    );
    assert_eq!(r.status, 401);

    // The right token with its last character changed — to something else (it may end in "0").
    let last = if first.ends_with('0') { '1' } else { '0' };
    let wrong = Api::new(&addr, Some(format!("{}{last}", &first[..63])));
    let r = wrong.get("/api/admin/settings");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(!r.body.contains(&first));
    // Another scheme with the right token is still not a bearer token.
    let basic = anonymous
        .agent
        .get(format!("http://{addr}/api/admin/settings"))
        .header("Authorization", format!("Basic {first}"))
        .call()
        .unwrap();
    assert_eq!(basic.status().as_u16(), 401);

    let api = Api::new(&addr, Some(first.clone()));
    assert_eq!(api.get("/api/admin/settings").status, 200);
    assert_eq!(api.get("/api/admin/no-such-endpoint").status, 404);
    let r = api.get("/api/admin/orders/replay");
    assert_eq!(
        r.status, 404,
        "GET on a POST-only path is no order: {}",
        r.body
    );
    let r = api.send("DELETE", "/api/admin/settings", None, "application/json");
    assert_eq!(r.status, 405);

    host.shutdown();
    let host = start(&env);
    assert_eq!(token(&env), first, "the token is reused after a restart");
    let api = Api::new(&host.http.addr().to_string(), Some(first));
    assert_eq!(api.get("/api/admin/settings").status, 200);
    host.shutdown();
}

#[test]
fn settings_show_secrets_as_set_refuse_invalid_fields_whole_and_apply_valid_ones_live() {
    let env = Env::new("admin-settings", Options::default());
    let host = start(&env);
    let addr = host.http.addr().to_string();
    let api = Api::new(&addr, Some(token(&env)));

    let before = api.get("/api/admin/settings").json();
    assert_eq!(before["x3"]["password"], json!({"set": true}));
    assert_eq!(before["x3"]["secret"], json!({"set": false}));
    assert_eq!(
        before["woocommerce"]["consumer-secret"],
        json!({"set": true})
    );
    assert_eq!(
        before["woocommerce"]["webhook-secret"],
        json!({"set": true})
    );
    assert_eq!(before["orders"]["order-type"], "WEB");
    assert_eq!(before["orders"]["dimension-types"], json!(["CCT", "DEP"]));
    assert!(before["inventory"]["status-map"].as_array().unwrap().len() >= 4);

    // Several invalid fields, and one valid one: all listed, nothing applied.
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({
            "orders": {
                "sales-site": "MUCH-TOO-LONG",
                "reference-prefix": "lower",
                "order-type": "WEB9",
                "currency-decimals": 12,
                "colour": "blue",
            },
            "x3": { "base-url": "ftp://x3.example", "api": "soap", "timeout-secs": 0 },
            "woocommerce": { "webhook-secret": null },
            "inventory": { "status-map": [{"status": "processing", "stage": "teleported"}] },
        }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let errors = r.json()["errors"].clone();
    for field in [
        "orders.colour",
        "orders.currency-decimals",
        "x3.base-url",
        "x3.api",
        "x3.timeout-secs",
        "woocommerce.webhook-secret",
        "inventory.status-map",
    ] {
        assert!(
            errors.get(field).is_some(),
            "{field} missing from {errors:#}"
        );
    }
    assert!(errors.get("orders.order-type").is_none(), "{errors:#}");

    // Form errors fixed, the core's rules remain: each setting it refuses is named.
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "orders": { "sales-site": "MUCH-TOO-LONG", "reference-prefix": "lower", "order-type": "WEB9" } }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let errors = r.json()["errors"].clone();
    assert!(errors.get("orders.sales-site").is_some(), "{errors:#}");
    assert!(
        errors.get("orders.reference-prefix").is_some(),
        "{errors:#}"
    );
    assert_eq!(errors.as_object().unwrap().len(), 2, "{errors:#}");
    // Credentials that go together: basic auth without a password.
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "x3": { "password": null } }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.json()["errors"].get("x3.password").is_some(),
        "{}",
        r.body
    );
    // A status map the core refuses (a status twice).
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "inventory": { "status-map": [
            {"status": "processing", "stage": "posted"},
            {"status": "processing", "stage": "shipped"},
        ] } }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.json()["errors"].get("inventory.status-map").is_some());
    assert_eq!(
        api.get("/api/admin/settings").json(),
        before,
        "nothing applied"
    );

    // Valid: applied live, the very next X3 document has the new order type.
    let mut doc = before.clone();
    doc["orders"]["order-type"] = json!("WEB2");
    let r = api.json("PUT", "/api/admin/settings", &doc);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["orders"]["order-type"], "WEB2");
    assert_eq!(r.json()["x3"]["password"], json!({"set": true}), "kept");
    let placed = env
        .woo
        .place_order(&tshirt_order("web2@example.com"))
        .unwrap();
    let id = order_id(&placed);
    api.wait_state(id, "posted");
    let docs = env.x3_orders_by_reference();
    assert_eq!(docs[&format!("WC-{id}")][0]["SOHTYP"], "WEB2");
    // The password was kept: the order got through with the same credentials.

    // The status page shows the connection in force, not the one at start.
    assert_eq!(api.get("/api/status").json()["x3"]["api"], "rest");
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "x3": { "api": "graphql" } }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.get("/api/status").json()["x3"]["api"], "graphql");

    // Kept across a restart: the stored settings override the config file.
    host.shutdown();
    let (host, api) = connect(&env);
    let after = api.get("/api/admin/settings").json();
    assert_eq!(after["orders"]["order-type"], "WEB2");
    assert_eq!(after["orders"]["sales-site"], "FR011");
    host.shutdown();
}

#[test]
fn stock_settings_are_shown_checked_field_by_field_applied_live_and_kept() {
    let env = Env::new("admin-stock", Options::default());
    let (host, api) = connect(&env);

    // Every field in force, the core's defaults included.
    let before = api.get("/api/admin/settings").json();
    assert_eq!(
        before["stock"],
        json!({
            "enabled": true, "credit-note-type": "", "refund-amount-item": null,
            "cancel": "close", "restock": true, "deliver-charges": true,
            "restock-status": "A", "invoice-stock-issue": true,
        })
    );

    // Each wrong field named; nothing applied.
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "stock": {
            "cancel": "shred", "restock": "yes", "credit-note-type": 5, "colour": "blue",
        } }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let errors = r.json()["errors"].clone();
    for field in [
        "stock.cancel",
        "stock.restock",
        "stock.credit-note-type",
        "stock.colour",
    ] {
        assert!(
            errors.get(field).is_some(),
            "{field} missing from {errors:#}"
        );
    }
    assert_eq!(api.get("/api/admin/settings").json(), before);

    // Applied live: with cancel = "ignore" a cancelled order is left open in X3 for a person.
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "stock": { "cancel": "ignore", "credit-note-type": "AVO" } }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["stock"]["cancel"], "ignore");
    assert_eq!(r.json()["stock"]["credit-note-type"], "AVO");
    let placed = env
        .woo
        .place_order(&tshirt_order("stock@example.com"))
        .unwrap();
    let id = order_id(&placed);
    api.wait_state(id, "posted");
    env.put_status(id, "cancelled");
    let row = api.wait_state(id, "attention");
    assert!(
        row["last-error"].as_str().unwrap_or("").contains("by hand"),
        "{row:#}"
    );
    let so = &env.x3_orders_by_reference()[&format!("WC-{id}")][0];
    assert_eq!(so["ORDSTA"], 1, "left open in X3: {so:#}");

    // Kept across a restart.
    host.shutdown();
    let (host, api) = connect(&env);
    let after = api.get("/api/admin/settings").json();
    assert_eq!(after["stock"]["cancel"], "ignore");
    assert_eq!(after["stock"]["credit-note-type"], "AVO");
    assert_eq!(after["stock"]["restock"], true, "not set: the default");
    host.shutdown();
}

#[test]
fn a_refund_waiting_for_the_credit_note_type_goes_to_x3_once_it_is_set() {
    let env = Env::new("admin-credit-type", Options::default());
    let (host, api) = connect(&env);
    let placed = env
        .woo
        .place_order(&tshirt_order("refund@example.com"))
        .unwrap();
    let id = order_id(&placed);
    api.wait_state(id, "posted");
    let line = &placed["line_items"][0];
    env.woo
        .refund(
            id,
            &json!({"line_items": [{"id": line["id"], "quantity": 1}]}),
        )
        .unwrap();
    let row = api.wait_state(id, "attention");
    let why = row["last-error"].as_str().unwrap_or("").to_string();
    assert!(why.contains("credit-note-type"), "{row:#}");
    assert!(env.x3_records("SINVOICE").is_empty(), "nothing sent yet");
    // It counts as held: it may be released by id (and waits again, still without a type).
    let r = api.json(
        "POST",
        "/api/admin/holds/release",
        &json!({ "orders": [id] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["released"], 1);
    let mut row = Value::Null;
    let again = wait_until(Duration::from_secs(30), || {
        row = api.get(&format!("/api/admin/orders/{id}")).json();
        row["queued"] == false
    });
    assert!(again, "the released order was never worked on: {row:#}");
    assert_eq!(row["state"], "attention", "{row:#}");
    assert_eq!(row["last-error"].as_str(), Some(why.as_str()));

    // Setting it is enough: the order is queued again and the credit note goes.
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "stock": { "credit-note-type": "AVO" } }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    api.wait_state(id, "posted");
    let notes = env.x3_records("SINVOICE");
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(notes[0]["SIVTYP"], "AVO");
    assert!(
        notes[0]["CUSORDREF"]
            .as_str()
            .unwrap()
            .starts_with(&format!("WC-{id}R")),
        "{notes:#?}"
    );
    host.shutdown();
}

#[test]
fn a_mapping_import_lists_bad_rows_and_a_good_one_releases_held_orders() {
    let env = Env::new("admin-mapping", Options::default());
    let (host, api) = connect(&env);

    woo_basic_auth(&api);
    let r = api.csv("/api/admin/mapping", &mapping_without_mug());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["rows"], 6);
    let placed = env.woo.place_order(&mug_order()).unwrap();
    let id = order_id(&placed);
    let held = api.wait_state(id, "held");
    assert!(
        held["hold"]["missing"][0]["tried"]
            .as_array()
            .unwrap()
            .contains(&json!("sku:WOO-MUG"))
    );
    let r = api.get("/api/admin/orders?state=held");
    assert_eq!(r.json()["orders"][0]["id"], id);
    let r = api.get("/api/admin/mapping/coverage");
    assert_eq!(r.status, 200, "{}", r.body);
    let unmapped = r.json()["unmapped"].clone();
    assert!(
        unmapped
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["sku"] == "WOO-MUG"),
        "{unmapped:#}"
    );

    // Release by hand without a fix: queued again, held again; the answer counts it.
    let r = api.json(
        "POST",
        "/api/admin/holds/release",
        &json!({ "orders": [id] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["released"], 1);
    let r = api.json(
        "POST",
        "/api/admin/holds/release",
        &json!({ "orders": [id, 999_999] }),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.json()["errors"]["orders"]
            .as_str()
            .unwrap()
            .contains("999999")
    );
    let shown = api.wait_state(id, "held");
    assert!(
        shown["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["event"] == "released"),
        "{shown:#}"
    );

    // One bad row: refused with that row, and the table in force is unchanged.
    let bad = format!("{MAPPING}sku,WOO-NEW,,UN,706100,CCT=WEB,\n");
    let r = api.csv("/api/admin/mapping", &bad);
    assert_eq!(r.status, 422, "{}", r.body);
    let rows = r.json()["errors"]["rows"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows:#}");
    assert_eq!(rows[0]["row"], 8);
    assert_eq!(rows[0]["field"], "item_code");
    let csv = api.send("GET", "/api/admin/mapping", None, "text/csv");
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert!(!csv.body.contains("WOO-MUG"), "{}", csv.body);
    // Malformed JSON rows are refused too.
    let r = api.json("PUT", "/api/admin/mapping", &json!([{ "key_type": "sku" }]));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.json()["errors"]["rows"].as_array().is_some());
    assert_eq!(api.order(id)["state"], "held");

    // The good table: stored, the held order released and posted to X3.
    let r = api.csv("/api/admin/mapping", MAPPING);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["released"].as_u64().unwrap() >= 1, "{}", r.body);
    let posted = api.wait_state(id, "posted");
    let doc_no = posted["document-no"].as_str().unwrap().to_string();
    let docs = env.x3_orders_by_reference();
    let in_x3 = &docs[&format!("WC-{id}")];
    assert_eq!(in_x3.len(), 1);
    assert_eq!(in_x3[0]["SOHNUM"], doc_no);
    assert!(
        posted["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["state"] == "done")
    );

    // Export in both forms; the JSON form imports back unchanged.
    let rows = api.get("/api/admin/mapping").json();
    assert_eq!(rows.as_array().unwrap().len(), 7);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == "WOO-MUG")
    );
    let r = api.json("PUT", "/api/admin/mapping", &rows);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.get("/api/admin/mapping").json(), rows);
    let r = api.get("/api/admin/mapping/coverage").json();
    let unmapped = r["unmapped"].as_array().unwrap();
    assert!(!unmapped.iter().any(|e| e["sku"] == "WOO-MUG"), "{r:#}");
    host.shutdown();
}

#[test]
fn replay_posts_an_attention_order_once_its_cause_is_fixed() {
    let env = Env::new("admin-replay", Options::default());
    let (host, api) = connect(&env);

    // The mug mapped to an item X3 does not have: X3 refuses, the order needs attention.
    let table = MAPPING.replace("sku,WOO-MUG,MUG,", "sku,WOO-MUG,MUG2,");
    assert_eq!(api.csv("/api/admin/mapping", &table).status, 200);
    let id = order_id(&env.woo.place_order(&mug_order()).unwrap());
    let shown = api.wait_state(id, "attention");
    assert!(
        shown["last-error"].as_str().unwrap().contains("MUG2"),
        "{shown:#}"
    );
    let r = api.get("/api/admin/orders?state=attention&limit=5");
    assert_eq!(r.json()["orders"][0]["id"], id);
    // A misspelt state is refused, naming the states, not answered with an empty list.
    let r = api.get("/api/admin/orders?state=atention");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.json()["errors"]["state"]
            .as_str()
            .unwrap()
            .contains("attention"),
        "{}",
        r.body
    );

    // Refusals: unknown ids, neither ids nor state, a state that is not replayable, bad limit.
    let r = api.json(
        "POST",
        "/api/admin/orders/replay",
        &json!({ "orders": [id, 424_242] }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["unknown"], json!([424_242]));
    assert!(
        r.json()["errors"]["orders"]
            .as_str()
            .unwrap()
            .contains("424242")
    );
    let r = api.json("POST", "/api/admin/orders/replay", &json!({}));
    assert_eq!(r.status, 422);
    let r = api.json(
        "POST",
        "/api/admin/orders/replay",
        &json!({ "state": "posted" }),
    );
    assert_eq!(r.status, 422);
    assert!(r.json()["errors"].get("state").is_some());
    let r = api.get("/api/admin/orders?limit=0");
    assert_eq!(r.status, 422);
    assert!(r.json()["errors"].get("limit").is_some());
    assert_eq!(api.order(id)["state"], "attention", "nothing replayed");

    // The cause fixed in X3 (the item created there), then replayed: posted, once.
    env.x3
        .seed(&json!({
            "items": [{"ITMREF": "MUG2", "DES1AXX": "MUG2", "TCLCOD": "WEB", "STU": "UN", "SAU": "UN"}],
            "stock": [{"STOFCY": "FR011", "ITMREF": "MUG2", "QTYSTU": 1000}],
        }))
        .unwrap();
    let r = api.json(
        "POST",
        "/api/admin/orders/replay",
        &json!({ "state": "attention" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["requeued"], 1);
    let posted = api.wait_state(id, "posted");
    let docs = env.x3_orders_by_reference();
    assert_eq!(docs[&format!("WC-{id}")].len(), 1);
    assert_eq!(
        docs[&format!("WC-{id}")][0]["SOHNUM"],
        posted["document-no"]
    );
    // Replaying a posted order is harmless: still one document.
    let r = api.json(
        "POST",
        "/api/admin/orders/replay",
        &json!({ "orders": [id] }),
    );
    assert_eq!(r.status, 200);
    assert!(wait_until(
        Duration::from_secs(20),
        || api.order(id)["queued"] == false
    ));
    assert_eq!(env.x3_orders_by_reference()[&format!("WC-{id}")].len(), 1);
    host.shutdown();
}

#[test]
fn the_connection_test_reports_each_side_and_a_wrong_x3_password() {
    let env = Env::new("admin-ping", Options::default());
    let (host, api) = connect(&env);
    woo_basic_auth(&api);

    let r = api.json("POST", "/api/admin/test-connection", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["x3"]["ok"], true, "{v:#}");
    assert_eq!(v["woocommerce"]["ok"], true, "{v:#}");

    // Settings not saved yet can be tried: a wrong password fails with X3's verdict.
    let r = api.json(
        "POST",
        "/api/admin/test-connection",
        &json!({ "x3": { "password": "not-the-password" } }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["x3"]["ok"], false, "{v:#}");
    assert!(
        v["x3"]["message"].as_str().unwrap().contains("401"),
        "{v:#}"
    );
    assert_eq!(v["woocommerce"]["ok"], true);
    // … and was not saved.
    let v = api
        .json("POST", "/api/admin/test-connection", &json!({}))
        .json();
    assert_eq!(v["x3"]["ok"], true, "{v:#}");

    // Saved: the live client is rebuilt, the test now fails; put back, it passes again.
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "x3": { "password": "not-the-password" } }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = api
        .json("POST", "/api/admin/test-connection", &json!({}))
        .json();
    assert_eq!(v["x3"]["ok"], false, "{v:#}");
    let good = env.x3.config().password.clone();
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "x3": { "password": good } }),
    );
    assert_eq!(r.status, 200);
    let v = api
        .json("POST", "/api/admin/test-connection", &json!({}))
        .json();
    assert_eq!(v["x3"]["ok"], true, "{v:#}");
    // Invalid candidate settings are refused like a PUT.
    let r = api.json(
        "POST",
        "/api/admin/test-connection",
        &json!({ "x3": { "base-url": "nope" } }),
    );
    assert_eq!(r.status, 422);
    host.shutdown();
}

#[test]
fn no_secret_appears_in_any_answer_or_in_the_log() {
    let env = Env::new("admin-secrets", Options::default());
    let host = HostProc::start(&env);
    let admin_token = token(&env);
    let api = Api::new(&host.addr, Some(admin_token.clone()));
    let new_password = "n3w-X3-pa55word";
    woo_basic_auth(&api);

    api.get("/api/admin/settings");
    api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "x3": { "password": new_password, "api": "soap" } }),
    );
    api.json(
        "POST",
        "/api/admin/test-connection",
        &json!({ "x3": { "password": new_password } }),
    );
    api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "x3": { "password": new_password } }),
    );
    api.json("POST", "/api/admin/test-connection", &json!({}));
    let good = env.x3.config().password.clone();
    api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "x3": { "password": good } }),
    );
    let id = order_id(
        &env.woo
            .place_order(&tshirt_order("secret@example.com"))
            .unwrap(),
    );
    api.wait_state(id, "posted");
    api.get("/api/admin/orders");
    api.get("/api/admin/mapping");
    api.send("GET", "/api/admin/mapping", None, "text/csv");
    api.get("/api/admin/mapping/coverage");
    api.json(
        "POST",
        "/api/admin/orders/replay",
        &json!({ "orders": [id] }),
    );
    api.json("POST", "/api/admin/holds/release", &json!({}));
    let wrong = Api::new(&host.addr, Some("0".repeat(64)));
    wrong.get("/api/admin/settings");
    let anonymous = Api::new(&host.addr, None);
    anonymous.get("/api/admin/settings");

    let secrets = [
        ("X3 password", env.x3.config().password.clone()),
        ("new X3 password", new_password.to_string()),
        ("webhook secret", WEBHOOK_SECRET.to_string()),
        ("consumer secret", env.woo.config().consumer_secret.clone()),
        ("admin token", admin_token.clone()),
    ];
    let answers = api.seen.borrow().clone();
    assert!(answers.len() >= 14);
    for body in answers
        .iter()
        .chain(wrong.seen.borrow().iter())
        .chain(anonymous.seen.borrow().iter())
    {
        for (what, s) in &secrets {
            assert!(
                !body.contains(s.as_str()),
                "the {what} is in an answer: {body}"
            );
        }
    }
    let status = host.terminate();
    assert!(status.success());
    let log = std::fs::read_dir(&env.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(log.contains("admin API: settings changed"), "{log}");
    for (what, s) in &secrets {
        assert!(
            !log.contains(s.as_str()),
            "the {what} is in the log:\n{log}"
        );
    }
}

/// One signed delivery of the core's sample order to the host: the answer's status.
fn deliver_signed(addr: &str, secret: &str) -> u16 {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/testdata/samples/order.wc-v3.json"
    ))
    .unwrap();
    let resp = ureq::post(format!("http://{addr}/webhooks/woocommerce"))
        .config()
        .http_status_as_error(false)
        .build()
        .header("Content-Type", "application/json")
        .header("X-WC-Webhook-Topic", "order.updated")
        .header("X-WC-Webhook-ID", "77")
        .header(
            "X-WC-Webhook-Signature",
            mlc_sim::woo::deliver::signature(&body, secret),
        )
        .send(&body[..])
        .unwrap();
    resp.status().as_u16()
}

/// Issue 14: the webhook secret is set through the admin API (the plugin's "rotate"), and during
/// the rotation deliveries signed with the old or the new secret are both accepted — WooCommerce's
/// queued deliveries still carry the old one until the webhooks are registered again. Clearing
/// the previous secret ends the rotation; all of it survives a restart.
#[test]
fn the_webhook_secret_rotates_with_both_secrets_accepted_until_the_rotation_ends() {
    const NEW: &str = "rotated-webhook-secret-9fK2qT";
    let env = Env::new("admin-rotate", Options::default());
    let host = start(&env);
    let addr = host.http.addr().to_string();
    let api = Api::new(&addr, Some(token(&env)));
    woo_basic_auth(&api);
    assert_eq!(deliver_signed(&addr, NEW), 401, "not yet the secret");
    assert!(api.get("/api/status").json()["store"]["secret_rotation"].is_null());

    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "woocommerce": { "webhook-secret": NEW } }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["woocommerce"]["webhook-secret"],
        json!({"set": true})
    );
    assert_eq!(
        r.json()["woocommerce"]["webhook-secret-previous"],
        json!({"set": true}),
        "the replaced secret is kept for the rotation"
    );
    assert_eq!(deliver_signed(&addr, NEW), 200);
    assert_eq!(
        deliver_signed(&addr, WEBHOOK_SECRET),
        200,
        "the old one too"
    );
    assert_eq!(deliver_signed(&addr, "a-third-secret"), 401);
    // The store's webhooks still sign with the old secret: an order placed now gets through.
    let placed = env
        .woo
        .place_order(&tshirt_order("old@example.com"))
        .unwrap();
    api.wait_state(order_id(&placed), "posted");
    let rotation = api.get("/api/status").json()["store"]["secret_rotation"].clone();
    assert!(
        rotation["previous_used"].as_u64().unwrap() >= 2,
        "{rotation}"
    );

    // Registering gives the store's webhooks the new secret.
    let r = api.json("POST", "/api/admin/webhooks/register", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let hooks = env.woo.webhooks();
    let secrets: Vec<&str> = hooks
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["secret"].as_str())
        .collect();
    assert!(
        !secrets.is_empty() && secrets.iter().all(|s| *s == NEW),
        "{hooks}"
    );
    let placed = env
        .woo
        .place_order(&tshirt_order("new@example.com"))
        .unwrap();
    api.wait_state(order_id(&placed), "posted");

    // The end of the rotation: only the new secret.
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "woocommerce": { "webhook-secret-previous": null } }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["woocommerce"]["webhook-secret-previous"],
        json!({"set": false})
    );
    assert_eq!(deliver_signed(&addr, WEBHOOK_SECRET), 401);
    assert_eq!(deliver_signed(&addr, NEW), 200);
    assert!(api.get("/api/status").json()["store"]["secret_rotation"].is_null());
    // Clearing the secret itself is refused: nothing could be verified.
    let r = api.json(
        "PUT",
        "/api/admin/settings",
        &json!({ "woocommerce": { "webhook-secret": null } }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.json()["errors"]
            .get("woocommerce.webhook-secret")
            .is_some()
    );
    for body in api.seen.borrow().iter() {
        assert!(
            !body.contains(NEW) && !body.contains("e2e-hook-s3cret"),
            "{body}"
        );
    }

    host.shutdown();
    let host = start(&env);
    let addr = host.http.addr().to_string();
    assert_eq!(deliver_signed(&addr, NEW), 200, "kept across a restart");
    assert_eq!(deliver_signed(&addr, WEBHOOK_SECRET), 401);
    host.shutdown();
}

//! X3 → WooCommerce orders, the steps a crash or a lost answer can split: a host started
//! in-process (`serve::start`) between x3-sim and woo-sim, `master_orders::on_delivery` called as
//! the poller calls it, and a proxy in front of woo-sim failing WooCommerce requests from a given
//! one on. Whatever failed, the next call completes the order with exactly one note naming the
//! delivery; the connector's own delivery asks nothing of WooCommerce.

#![allow(clippy::unwrap_used)]

#[path = "../../tests/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Env, FaultProxy, Options, wait_until};
use ml_connector::cli::serve::{self, Host};
use ml_connector::clients::woo::{WooAuth, WooClient, WooSettings};
use ml_connector::config::Config;
use ml_connector::jobs::master_orders::{Validated, on_delivery};
use serde_json::{Value, json};

/// No poller (the test calls what it would), no webhook monitor and no catch-up: the only
/// requests through the proxy are the ones under test.
const QUIET: &str = "[webhooks]\nmonitor-interval-secs = 0\n\n[catch-up]\ninterval-secs = 0\n";

fn start(env: &Env) -> Host {
    let cache = std::env::temp_dir().join("mlc-admin-api-core-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let data = env.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    if !data.join("cache").exists() {
        std::os::unix::fs::symlink(&cache, data.join("cache")).unwrap();
    }
    serve::start(&Config::load(&env.config).unwrap()).unwrap()
}

struct World {
    env: Env,
    host: Host,
    proxy: FaultProxy,
    order_id: u64,
    soh: String,
}

/// A posted order, and the host's WooCommerce client going through the proxy.
fn world(name: &str) -> World {
    let env = Env::new(
        name,
        Options {
            config_tail: QUIET.into(),
            ..Options::default()
        },
    );
    let host = start(&env);
    let o = env
        .woo
        .place_order(&json!({"lines": [{"sku": "WOO-MUG", "quantity": 2}],
            "billing": {"first_name": "Ana", "last_name": "Lopez", "email": "ana@example.com",
                        "address_1": "1 Calle", "city": "Madrid", "postcode": "28001", "country": "ES"},
            "status": "processing", "shipping_method": "none"}))
        .unwrap();
    let order_id = o["id"].as_u64().unwrap();
    let reference = format!("WC-{order_id}");
    assert!(wait_until(Duration::from_secs(60), || env
        .x3_orders_by_reference()
        .contains_key(&reference)));
    let soh = env.x3_orders_by_reference()[&reference][0]["SOHNUM"]
        .as_str()
        .unwrap()
        .to_string();
    let proxy = FaultProxy::start(format!("127.0.0.1:{}", env.woo.port()));
    let c = env.woo.config();
    let client = WooClient::new(WooSettings {
        auth: WooAuth::Basic,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ..WooSettings::new(
            &format!("http://{}/", proxy.addr),
            &c.consumer_key,
            &c.consumer_secret,
        )
    })
    .unwrap();
    host.pipeline.set_woo(Arc::new(client));
    World {
        env,
        host,
        proxy,
        order_id,
        soh,
    }
}

impl World {
    fn staff_delivery(&self) -> String {
        let bpc = self.env.x3_orders_by_reference()[&format!("WC-{}", self.order_id)][0]["BPCORD"]
            .clone();
        let rec = self
            .env
            .x3
            .create_delivery(
                &json!({"STOFCY": "FR011", "BPCORD": bpc, "DLVDAT": "2026-11-27",
                        "SOHNUM": self.soh, "SDELIVERYD": [{"SOHNUM": self.soh, "SOPLIN": 1000, "QTY": 2}]}),
                true,
            )
            .unwrap();
        rec["SDHNUM"].as_str().unwrap().to_string()
    }

    fn run(&self, sdh: &str) -> anyhow::Result<()> {
        on_delivery(
            &self.host.pipeline,
            self.order_id,
            &self.soh,
            sdh,
            Validated::Yes,
        )
    }

    /// Straight to woo-sim, not through the proxy.
    fn woo(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let c = self.env.woo.config();
        let url = format!("{}/wp-json/wc/v3/{path}", self.env.woo.base_url());
        let q = [
            ("consumer_key", c.consumer_key.as_str()),
            ("consumer_secret", c.consumer_secret.as_str()),
        ];
        let mut resp = match (method, body) {
            ("GET", _) => ureq::get(&url).query_pairs(q).call().unwrap(),
            (_, b) => ureq::post(&url)
                .query_pairs(q)
                .send_json(b.unwrap_or_default())
                .unwrap(),
        };
        resp.body_mut().read_json().unwrap()
    }

    fn status(&self) -> Value {
        self.woo("GET", &format!("orders/{}", self.order_id), None)["status"].clone()
    }

    fn notes_naming(&self, sdh: &str) -> usize {
        self.woo("GET", &format!("orders/{}/notes", self.order_id), None)
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["note"].as_str().unwrap().contains(sdh))
            .count()
    }
}

#[test]
fn a_failure_between_completing_and_noting_is_resumed_with_one_note() {
    let w = world("mo-resume");
    let sdh = w.staff_delivery();
    // The order read and the status change go through; the notes read does not.
    w.proxy.fail_after(2);
    assert!(w.run(&sdh).is_err(), "an unreachable shop fails the poll");
    assert_eq!(w.status(), "completed");
    assert_eq!(w.notes_naming(&sdh), 0);
    w.proxy.fail(false);
    w.run(&sdh).unwrap();
    assert_eq!(w.notes_naming(&sdh), 1);
    // Read again (the poll's overlap): nothing more, and WooCommerce is not even asked.
    w.proxy.fail(true);
    w.run(&sdh).unwrap();
    w.proxy.fail(false);
    assert_eq!(w.notes_naming(&sdh), 1);
    let log = ml_connector::jobs::master_orders::load_log(&w.host.pipeline.store);
    assert_eq!(log.completed.len(), 1, "{log:?}");
    assert!(log.not_completed.is_empty(), "{log:?}");
    // One delivery in X3, recorded as the order's shipment.
    let ledger = w.host.pipeline.store.ledger_for_order(w.order_id).unwrap();
    assert!(
        ledger.iter().any(|l| l.kind == "delivery"
            && l.state == "done"
            && l.x3_key.as_deref() == Some(&sdh)),
        "{ledger:?}"
    );
    w.host.shutdown();
}

#[test]
fn a_note_that_reached_woocommerce_before_the_failure_is_not_added_again() {
    let w = world("mo-lost-note");
    let sdh = w.staff_delivery();
    // Order read, status change, notes read pass; the note's POST fails.
    w.proxy.fail_after(3);
    assert!(w.run(&sdh).is_err());
    assert_eq!(w.notes_naming(&sdh), 0);
    // As if that POST had reached WooCommerce and only its answer was lost.
    w.woo(
        "POST",
        &format!("orders/{}/notes", w.order_id),
        Some(json!({"note": format!("X3 delivery {sdh} validated")})),
    );
    w.proxy.fail(false);
    w.run(&sdh).unwrap();
    assert_eq!(w.notes_naming(&sdh), 1);
    assert_eq!(w.status(), "completed");
    w.host.shutdown();
}

#[test]
fn the_connectors_own_delivery_asks_nothing_of_woocommerce() {
    let w = world("mo-own");
    // The shop completes the order: the connector delivers it in X3.
    w.env.put_status(w.order_id, "completed");
    let store = Arc::clone(&w.host.pipeline.store);
    let shipped = || {
        store
            .ledger_for_order(w.order_id)
            .unwrap()
            .into_iter()
            .find(|l| l.kind == "delivery" && l.state == "done")
            .and_then(|l| l.x3_key)
    };
    assert!(wait_until(Duration::from_secs(60), || shipped().is_some()));
    let sdh = shipped().unwrap();
    // Any request to WooCommerce would fail.
    w.proxy.fail(true);
    w.run(&sdh).unwrap();
    w.run(&sdh).unwrap();
    w.proxy.fail(false);
    assert_eq!(w.notes_naming(&sdh), 0);
    let log = ml_connector::jobs::master_orders::load_log(&store);
    assert!(
        log.completed.is_empty() && log.not_completed.is_empty(),
        "{log:?}"
    );
    w.host.shutdown();
}

//! End to end: X3 polling and reconciliation with the real `ml-connector` binary against both
//! simulators. Stock changed in x3-sim reaches the mapped woo-sim products (and nothing else);
//! deliveries made in X3 show on the order; `reconcile` finds exactly the order deleted in X3
//! and the one whose total was altered there.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed assertion

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use common::{Env, HostProc, Options, host_binary, wait_until};
use serde_json::{Value, json};

/// Polling every second, stock on, two of x3-sim's sites summed.
const POLL: &str = r#"[x3-poll]
interval-secs = 1
overlap-secs = 2
stock = true
stock-sites = ["FR011", "FR012"]
"#;

fn options(graphql: bool, tail: &str) -> Options {
    Options {
        graphql,
        woo_extra: "auth = \"basic\"".into(),
        config_tail: tail.into(),
        ..Options::default()
    }
}

/// GET on woo-sim's REST API (query-string keys: it assumes HTTPS).
fn woo_get(env: &Env, path: &str) -> Value {
    let c = env.woo.config();
    let mut resp = ureq::get(&format!("{}/wp-json/wc/v3/{path}", env.woo.base_url()))
        .query("consumer_key", &c.consumer_key)
        .query("consumer_secret", &c.consumer_secret)
        .query("per_page", "100")
        .call()
        .unwrap();
    resp.body_mut().read_json().unwrap()
}

/// Every product and variation: id → (manage_stock, stock_quantity).
fn woo_stock(env: &Env) -> BTreeMap<u64, (bool, Value)> {
    let mut out = BTreeMap::new();
    for p in woo_get(env, "products").as_array().unwrap() {
        let id = p["id"].as_u64().unwrap();
        out.insert(id, (p["manage_stock"] == true, p["stock_quantity"].clone()));
        if p["type"] == "variable" {
            for v in woo_get(env, &format!("products/{id}/variations"))
                .as_array()
                .unwrap()
            {
                out.insert(
                    v["id"].as_u64().unwrap(),
                    (v["manage_stock"] == true, v["stock_quantity"].clone()),
                );
            }
        }
    }
    out
}

fn quantity(env: &Env, id: u64) -> Value {
    woo_stock(env)[&id].1.clone()
}

fn x3_auth(env: &Env) -> String {
    let c = env.x3.config();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.user, c.password))
    )
}

/// An X3 REST URL of x3-sim.
fn x3_url(env: &Env, class_key: &str, facet: &str) -> String {
    let class = class_key.split('(').next().unwrap();
    format!(
        "{}/api1/x3/erp/{}/{class_key}?representation={class}.{facet}",
        env.x3.base_url(),
        env.x3.config().folder
    )
}

fn stock_of(env: &Env) -> BTreeMap<String, f64> {
    env.x3_records("STOCK")
        .iter()
        .map(|r| {
            (
                format!(
                    "{}~{}",
                    r["STOFCY"].as_str().unwrap(),
                    r["ITMREF"].as_str().unwrap()
                ),
                r["QTYSTU"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn stock_changed_in_x3_reaches_the_mapped_products_and_nothing_else() {
    stock_scenario("x3poll-stock-rest", false);
}

#[test]
fn stock_changed_in_x3_reaches_the_mapped_products_over_graphql() {
    stock_scenario("x3poll-stock-gql", true);
}

fn stock_scenario(name: &str, graphql: bool) {
    let env = Env::new(name, options(graphql, POLL));
    // An X3 item no mapping row names.
    env.x3
        .seed(&json!({"items": [{"ITMREF": "SPARE", "DES1AXX": "Spare", "TCLCOD": "WEB", "STU": "UN"}]}))
        .unwrap();
    let host = HostProc::start(&env);
    // The first poll aligns WooCommerce with X3's seeded 100000 per item (FR011 only).
    let aligned = wait_until(Duration::from_secs(60), || {
        let s = woo_stock(&env);
        [10, 12, 14, 15].iter().all(|id| s[id].1 == json!(100_000))
    });
    assert!(
        aligned,
        "initial stock not pushed: {:?}\n{}",
        woo_stock(&env),
        host.log()
    );
    let before = woo_stock(&env);
    assert_eq!(before[&11], (false, Value::Null), "the cap is not managed");
    assert_eq!(
        before[&16],
        (false, Value::Null),
        "gift wrapping is not managed"
    );

    // In X3: the T-shirt at two summed sites and one ignored, the red hoodie, the unmanaged
    // cap, and an item nothing maps.
    env.x3
        .seed(&json!({"stock": [
            {"STOFCY": "FR011", "ITMREF": "TSHIRT", "QTYSTU": 40},
            {"STOFCY": "FR012", "ITMREF": "TSHIRT", "QTYSTU": "2.5"},
            {"STOFCY": "FR099", "ITMREF": "TSHIRT", "QTYSTU": 1000},
            {"STOFCY": "FR011", "ITMREF": "HOODIE-RED", "QTYSTU": 7},
            {"STOFCY": "FR011", "ITMREF": "CAP", "QTYSTU": 3},
            {"STOFCY": "FR011", "ITMREF": "SPARE", "QTYSTU": 9},
        ]}))
        .unwrap();
    let pushed = wait_until(Duration::from_secs(30), || {
        quantity(&env, 10) == json!(42) && quantity(&env, 14) == json!(7)
    });
    assert!(
        pushed,
        "stock not pushed: {:?}\n{}",
        woo_stock(&env),
        host.log()
    );
    // One more complete poll after the change, so a wrong push would have happened by now.
    let seen = host.status()["x3_poll"]["last_poll_at"].as_i64().unwrap();
    assert!(wait_until(Duration::from_secs(30), || {
        host.status()["x3_poll"]["last_poll_at"].as_i64().unwrap() > seen
    }));

    let after = woo_stock(&env);
    let changed: Vec<u64> = after
        .iter()
        .filter(|(id, v)| before.get(id) != Some(v))
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        changed,
        [10, 14],
        "only the T-shirt and the red hoodie change: {after:?}"
    );
    assert_eq!(
        after[&10],
        (true, json!(42)),
        "40 + 2.5 (whole units), FR099 not summed"
    );
    assert_eq!(after[&11], (false, Value::Null), "unmanaged: untouched");

    let status = host.status()["x3_poll"].clone();
    assert!(status["errors"].as_object().unwrap().is_empty(), "{status}");
    let unmatched = status["stock_unmatched"].to_string();
    assert!(unmatched.contains("SPARE"), "{status}");
    let unmanaged = status["stock_unmanaged"].to_string();
    assert!(unmanaged.contains("CAP"), "{status}");
    let page = host
        .get("/status")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(page.contains("id=\"x3-poll\""), "{page}");
    assert!(page.contains("SPARE"));
    // X3's stock itself is what the test wrote: the host only reads it.
    assert_eq!(stock_of(&env)["FR011~TSHIRT"], 40.0);
}

#[test]
fn x3_down_is_reported_and_polling_resumes_without_losing_the_change() {
    let env = Env::new("x3poll-down", options(false, POLL));
    let host = HostProc::start(&env);
    assert!(wait_until(Duration::from_secs(60), || quantity(&env, 12)
        == json!(100_000)));
    env.x3
        .set_faults(&json!({"fail": {"count": 1_000_000, "status": 503}}))
        .unwrap();
    env.x3
        .seed(&json!({"stock": [{"STOFCY": "FR011", "ITMREF": "MUG", "QTYSTU": 11}]}))
        .unwrap();
    let failing = wait_until(Duration::from_secs(30), || {
        host.status()["x3_poll"]["errors"]
            .as_object()
            .is_some_and(|e| e.contains_key("stock"))
    });
    assert!(failing, "{}", host.status()["x3_poll"]);
    assert_eq!(quantity(&env, 12), json!(100_000));
    ureq::delete(&format!("{}/__sim/faults", env.x3.base_url()))
        .call()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || quantity(&env, 12) == json!(11)),
        "{}",
        host.status()["x3_poll"]
    );
    assert!(wait_until(Duration::from_secs(30), || {
        host.status()["x3_poll"]["errors"]
            .as_object()
            .is_some_and(serde_json::Map::is_empty)
    }));
}

#[test]
fn a_delivery_made_in_x3_shows_on_the_order() {
    let env = Env::new(
        "x3poll-orders",
        options(false, "[x3-poll]\ninterval-secs = 1\n"),
    );
    let host = HostProc::start(&env);
    let order = env
        .woo
        .place_order(&json!({"lines": [{"sku": "WOO-MUG", "quantity": 2}],
            "billing": {"first_name": "Ana", "last_name": "Lopez", "email": "ana@example.com",
                        "address_1": "1 Calle", "city": "Madrid", "postcode": "28001", "country": "ES"},
            "status": "processing", "shipping_method": "none"}))
        .unwrap();
    let id = order["id"].as_u64().unwrap();
    let reference = format!("WC-{id}");
    assert!(wait_until(Duration::from_secs(60), || env
        .x3_orders_by_reference()
        .contains_key(&reference)));
    let soh = env.x3_orders_by_reference()[&reference][0].clone();
    let sohnum = soh["SOHNUM"].as_str().unwrap().to_string();
    // The warehouse ships it in X3.
    let mut resp = ureq::post(&x3_url(&env, "SDELIVERY", "$create"))
        .header("Authorization", &x3_auth(&env))
        .send_json(
            json!({"STOFCY": "FR011", "BPCORD": soh["BPCORD"], "DLVDAT": "2026-11-27",
            "SOHNUM": sohnum, "SDELIVERYD": [{"SOHNUM": sohnum, "SOPLIN": 1000, "QTY": 2}]}),
        )
        .unwrap();
    let delivery: Value = resp.body_mut().read_json().unwrap();
    let sdhnum = delivery["SDHNUM"].as_str().unwrap().to_string();
    let page = |p: &str| {
        host.get(p)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    };
    let shown = wait_until(Duration::from_secs(30), || {
        let h = page(&format!("/status/orders/{id}"));
        h.contains(&sdhnum) && h.contains("3 (delivered)")
    });
    assert!(
        shown,
        "{}\n{}",
        page(&format!("/status/orders/{id}")),
        host.log()
    );
    assert!(page(&format!("/status/orders/{id}")).contains(&sohnum));
    // The admin API's order JSON carries the same.
    let token = std::fs::read_to_string(env.dir.join("data/admin.token")).unwrap();
    let mut resp = ureq::get(&host.url(&format!("/api/admin/orders/{id}")))
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .call()
        .unwrap();
    let o: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(o["x3"]["documents"], json!([sohnum]), "{o}");
    assert_eq!(o["x3"]["deliveries"], json!([sdhnum]), "{o}");
    assert_eq!(o["x3"]["delivery_status"], 3, "{o}");
    assert_eq!(o["x3"]["reference"], json!(reference), "{o}");
}

/// Runs `ml-connector reconcile` and returns (exit success, stdout, stderr).
fn reconcile(env: &Env, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(host_binary())
        .arg("reconcile")
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .env("MLC_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn day(offset_days: i64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + offset_days * 86_400;
    // Civil date from days (Hinnant), to avoid a date crate in tests.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 {
        yoe + era * 400 + 1
    } else {
        yoe + era * 400
    };
    format!("{y:04}-{m:02}-{d:02}")
}

#[test]
fn reconcile_reports_exactly_the_order_deleted_in_x3_and_the_one_altered() {
    reconcile_scenario("x3poll-reconcile-rest", false);
}

#[test]
fn reconcile_over_graphql_reports_the_same_two() {
    reconcile_scenario("x3poll-reconcile-gql", true);
}

fn reconcile_scenario(name: &str, graphql: bool) {
    let env = Env::new(name, options(graphql, ""));
    let host = HostProc::start(&env);
    let mut rng = common::Lcg(7);
    let placed: Vec<Value> = (0..6)
        .map(|i| env.woo.place_order(&common::checkout(&mut rng, i)).unwrap())
        .collect();
    // A pending order is not to be posted: it is not "missing".
    let mut pending = common::checkout(&mut rng, 99);
    pending["status"] = json!("pending");
    let pending = env.woo.place_order(&pending).unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || env
            .x3_orders_by_reference()
            .len()
            == 6),
        "{}",
        host.log()
    );
    let (ok, out, err) = reconcile(&env, &["--from", &day(-1), "--to", &day(1)]);
    assert!(ok, "a clean run exits 0: {out}\n{err}");
    assert!(
        out.contains("7 order(s)") && out.contains(": 0 discrepancies"),
        "{out}"
    );

    let deleted = placed[1]["id"].as_u64().unwrap();
    let altered = placed[4]["id"].as_u64().unwrap();
    let by_ref = env.x3_orders_by_reference();
    // Someone deletes one order in X3 …
    let soh = by_ref[&format!("WC-{deleted}")][0]["SOHNUM"]
        .as_str()
        .unwrap()
        .to_string();
    ureq::delete(&x3_url(&env, &format!("SORDER('{soh}')"), "$edit"))
        .header("Authorization", &x3_auth(&env))
        .call()
        .unwrap();
    // … and raises a price on another.
    let soh = by_ref[&format!("WC-{altered}")][0]["SOHNUM"]
        .as_str()
        .unwrap()
        .to_string();
    let mut resp = ureq::get(&x3_url(&env, &format!("SORDER('{soh}')"), "$details"))
        .header("Authorization", &x3_auth(&env))
        .call()
        .unwrap();
    let details: Value = resp.body_mut().read_json().unwrap();
    let mut lines: Vec<Value> = details["SOHSOP"].as_array().unwrap().clone();
    for l in &mut lines {
        let m = l.as_object_mut().unwrap();
        m.retain(|k, _| !k.starts_with('$') && k != "DLVQTY");
    }
    let price = lines[0]["GROPRI"].as_f64().unwrap();
    lines[0]["GROPRI"] = json!(price + 10.0);
    ureq::put(&x3_url(&env, &format!("SORDER('{soh}')"), "$edit"))
        .header("Authorization", &x3_auth(&env))
        .send_json(json!({ "SOHSOP": lines }))
        .unwrap();

    let csv_path = env.dir.join("reconcile.csv");
    let (ok, out, err) = reconcile(
        &env,
        &[
            "--from",
            &day(-1),
            "--to",
            &day(1),
            "--csv",
            csv_path.to_str().unwrap(),
        ],
    );
    assert!(!ok, "discrepancies exit 1: {out}");
    assert!(err.contains("2 discrepancies"), "{err}");
    // The table: a header, one row per discrepancy, the summary.
    let rows: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert!(rows[0].starts_with("ORDER"), "{out}");
    let problem_of = |id: u64| {
        rows.iter()
            .find(|r| r.split_whitespace().next() == Some(&id.to_string()))
            .map(|r| r.split_whitespace().last().unwrap().to_string())
    };
    assert_eq!(problem_of(deleted).as_deref(), Some("missing"), "{out}");
    assert_eq!(problem_of(altered).as_deref(), Some("total"), "{out}");

    // The CSV: every order, exactly those two marked.
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut results = BTreeMap::new();
    for l in lines {
        // No cell of these orders holds a comma or a quote.
        let cells: Vec<&str> = l.split(',').collect();
        results.insert(
            cells[col("order_id")].parse::<u64>().unwrap(),
            (
                cells[col("result")].to_string(),
                cells[col("problems")].to_string(),
            ),
        );
    }
    assert_eq!(results.len(), 7, "{csv}");
    for (id, (result, problems)) in &results {
        let want = if *id == deleted {
            ("discrepancy", "missing")
        } else if *id == altered {
            ("discrepancy", "total")
        } else {
            ("ok", "")
        };
        assert_eq!(
            (result.as_str(), problems.as_str()),
            want,
            "order {id}: {csv}"
        );
    }
    assert!(results.contains_key(&pending["id"].as_u64().unwrap()));

    // The status page shows the last run and serves its CSV without any secret.
    let page = host
        .get("/status")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(page.contains("id=\"reconcile\"") && page.contains("/status/reconcile.csv"));
    assert!(page.contains(&format!("#{deleted}")) && page.contains(&format!("#{altered}")));
    let mut resp = host.get("/status/reconcile.csv").call().unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(resp.body_mut().read_to_string().unwrap(), csv);

    // The admin API runs the same reconciliation: JSON, and CSV when asked.
    let token = std::fs::read_to_string(env.dir.join("data/admin.token")).unwrap();
    let auth = format!("Bearer {}", token.trim());
    let url = host.url(&format!(
        "/api/admin/reconcile?from={}&to={}",
        day(-1),
        day(1)
    ));
    let mut resp = ureq::get(&url)
        .header("Authorization", &auth)
        .call()
        .unwrap();
    let report: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(report["orders_checked"], 7, "{report}");
    assert_eq!(report["discrepancies"], 2, "{report}");
    let flagged: BTreeMap<u64, Value> = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["problems"].as_array().unwrap().is_empty())
        .map(|l| (l["order_id"].as_u64().unwrap(), l["problems"].clone()))
        .collect();
    assert_eq!(
        flagged,
        BTreeMap::from([(deleted, json!(["missing"])), (altered, json!(["total"]))])
    );
    let mut resp = ureq::get(&url)
        .header("Authorization", &auth)
        .header("Accept", "text/csv")
        .call()
        .unwrap();
    let api_csv = resp.body_mut().read_to_string().unwrap();
    assert_eq!(api_csv.lines().count(), 8, "{api_csv}");
    assert_eq!(
        api_csv
            .lines()
            .filter(|l| l.contains(",discrepancy,"))
            .count(),
        2
    );
    assert_eq!(
        ureq::get(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap()
            .status(),
        401,
        "the admin API needs the token"
    );
}

#[test]
fn reconcile_reads_invoices_when_the_documents_are_invoices() {
    let mut opts = options(false, "");
    opts.orders_extra = "document-kind = \"invoice\"".into();
    let env = Env::new("x3poll-reconcile-invoice", opts);
    let host = HostProc::start(&env);
    let mut rng = common::Lcg(11);
    for i in 0..3 {
        env.woo.place_order(&common::checkout(&mut rng, i)).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(60), || env.x3_records("SINVOICE").len()
            == 3),
        "{}",
        host.log()
    );
    assert!(env.x3_records("SORDER").is_empty());
    let (ok, out, err) = reconcile(&env, &["--from", &day(-1), "--to", &day(1)]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("3 order(s)") && out.contains("against 3 X3 document(s): 0 discrepancies"),
        "{out}"
    );
}

#[test]
fn woocommerce_refusing_is_reported_and_the_change_is_pushed_after_a_restart() {
    let tail =
        "[x3-poll]\ninterval-secs = 1\noverlap-secs = 1\ninitial-lookback-secs = 0\nstock = true\n";
    let env = Env::new("x3poll-woo-refuses", options(false, tail));
    let good = std::fs::read_to_string(&env.config).unwrap();
    let secret = &env.woo.config().consumer_secret;
    std::fs::write(&env.config, good.replace(secret.as_str(), "cs_wrong")).unwrap();
    let host = HostProc::start(&env);
    let since_start = env.woo.now();
    env.x3
        .seed(&json!({"stock": [{"STOFCY": "FR011", "ITMREF": "TSHIRT", "QTYSTU": 42}]}))
        .unwrap();
    let refused = wait_until(Duration::from_secs(30), || {
        host.status()["x3_poll"]["errors"]["stock"]
            .as_str()
            .is_some_and(|e| e.starts_with("WooCommerce"))
    });
    assert!(refused, "{}", host.status()["x3_poll"]);
    let status = host.status()["x3_poll"].to_string();
    assert!(
        !status.contains("cs_wrong") && !status.contains(secret.as_str()),
        "{status}"
    );
    assert_eq!(quantity(&env, 10), json!(1_000_000));
    host.terminate();
    // Later than the overlap after the change: a watermark recomputed from "now" would miss it.
    assert!(wait_until(Duration::from_secs(10), || env.woo.now() >= since_start + 3));
    std::fs::write(&env.config, &good).unwrap();
    let host = HostProc::start(&env);
    assert!(
        wait_until(Duration::from_secs(30), || quantity(&env, 10) == json!(42)),
        "{}\n{}",
        host.status()["x3_poll"],
        host.log()
    );
}

#[test]
fn more_changes_in_one_second_than_max_rows_are_all_read() {
    // x3-sim stamps the seven seeded stock records in the same second; two per read would
    // re-read the same two at every poll without the escalation.
    let tail = "[x3-poll]\ninterval-secs = 1\nmax-rows = 2\nstock = true\n";
    let env = Env::new("x3poll-mass-update", options(false, tail));
    let host = HostProc::start(&env);
    let aligned = wait_until(Duration::from_secs(60), || {
        let s = woo_stock(&env);
        [10, 12, 14, 15].iter().all(|id| s[id].1 == json!(100_000))
    });
    assert!(
        aligned,
        "{:?}\n{}",
        woo_stock(&env),
        host.status()["x3_poll"]
    );
}

//! End to end under faults: X3 committing and then never answering, the host killed with -9
//! mid-run, X3 down, tokens expiring, and a storm of duplicate and out-of-order deliveries.
//! Whatever happens, X3 ends with exactly one document per order.

#![allow(clippy::unwrap_used)] // a test fails loudly on what it did not expect

mod common;

use std::time::Duration;

use common::{Auth, Env, HostProc, Lcg, Options, checkout, wait_until};
use serde_json::{Value, json};

/// Waits until woo-sim has nothing left to deliver.
fn deliveries_drained(env: &Env) -> bool {
    wait_until(Duration::from_secs(30), || {
        let q: Value = ureq::get(&format!("{}/__sim/queue", env.woo.base_url()))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        q.as_array().is_some_and(Vec::is_empty)
    })
}

fn assert_exactly_once(env: &Env, placed: &[Value]) {
    let by_ref = env.x3_orders_by_reference();
    let twice: Vec<_> = by_ref
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, v)| (k.clone(), v.len()))
        .collect();
    assert!(twice.is_empty(), "posted more than once: {twice:?}");
    for o in placed {
        assert!(
            by_ref.contains_key(&format!("WC-{}", o["id"])),
            "order {} is missing from X3",
            o["id"]
        );
    }
    assert_eq!(by_ref.len(), placed.len());
}

#[test]
fn commit_then_timeout_and_two_kill_9_restarts_post_each_order_once() {
    let env = Env::new(
        "kill9",
        Options {
            x3_timeout_secs: 1,
            // A delivery in flight when the host is killed is lost (WooCommerce never retries);
            // the catch-up poll is what brings such an order in, as in production.
            config_tail: "[catch-up]\ninterval-secs = 2\noverlap-secs = 30\n".into(),
            ..Options::default()
        },
    );
    // One create in ten is performed by X3 and never answered: the host cannot know it worked.
    env.x3
        .set_faults(&json!({"commit_then_timeout": {"ratio": 0.1, "seed": 42}}))
        .unwrap();
    let mut rng = Lcg(11);
    let mut placed = Vec::new();
    let mut host = HostProc::start(&env);
    let mut logs = String::new();
    for round in 0..3 {
        for i in 0..40 {
            placed.push(
                env.woo
                    .place_order(&checkout(&mut rng, round * 40 + i))
                    .unwrap(),
            );
        }
        assert!(deliveries_drained(&env), "woo-sim could not deliver");
        if round < 2 {
            // Kill while X3 requests are in flight (posting lags the deliveries).
            wait_until(Duration::from_secs(20), || {
                env.x3_records("SORDER").len() >= placed.len() / 2
            });
            logs.push_str(&host.log());
            host.kill9();
            host = HostProc::start(&env);
        }
    }
    let all = wait_until(Duration::from_secs(240), || {
        let by_ref = env.x3_orders_by_reference();
        placed
            .iter()
            .all(|o| by_ref.contains_key(&format!("WC-{}", o["id"])))
    });
    assert!(all, "not every order reached X3; log:\n{}", host.log());
    std::thread::sleep(Duration::from_secs(2));
    assert_exactly_once(&env, &placed);
    // The fault really happened: creates X3 committed without answering were found and adopted.
    logs.push_str(&host.log());
    assert!(
        logs.contains("adopted"),
        "no create was ever adopted; logs:\n{logs}"
    );
}

#[test]
fn x3_down_expiring_tokens_and_a_storm_of_replayed_deliveries_post_each_order_once() {
    let env = Env::new(
        "storm",
        Options {
            auth: Auth::OAuth2,
            x3_timeout_secs: 2,
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    // X3 goes down before the orders arrive.
    env.x3.set_faults(&json!({"down": true})).unwrap();
    let mut rng = Lcg(23);
    let placed: Vec<Value> = (0..50)
        .map(|i| env.woo.place_order(&checkout(&mut rng, i)).unwrap())
        .collect();
    // Some orders move on, so there are several revisions of them to deliver out of order.
    for o in placed.iter().step_by(3) {
        env.woo
            .set_status(o["id"].as_u64().unwrap(), "completed")
            .unwrap();
    }
    assert!(deliveries_drained(&env));
    std::thread::sleep(Duration::from_secs(2));
    assert!(env.x3_records("SORDER").is_empty(), "X3 was down");
    // Replay what WooCommerce sent, 500 times, shuffled, from 8 senders at once.
    let log: Value = env.woo.deliveries();
    let sent: Vec<(Vec<(String, String)>, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "delivery")
        .map(|d| {
            let headers = d["request"]["headers"]
                .as_array()
                .map(|hs| {
                    hs.iter()
                        .filter_map(|h| {
                            Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string()))
                        })
                        .collect()
                })
                .or_else(|| {
                    d["request"]["headers"].as_object().map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect()
                    })
                })
                .unwrap();
            (headers, d["request"]["body"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(sent.len() >= 100, "{} deliveries logged", sent.len());
    let url = host.url("/webhooks/woocommerce");
    let senders: Vec<_> = (0..8u64)
        .map(|t| {
            let sent = sent.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                let mut rng = Lcg(100 + t);
                let mut ok = 0;
                for _ in 0..63 {
                    let (headers, body) = &sent[rng.below(sent.len() as u64) as usize];
                    let mut req = ureq::post(&url)
                        .config()
                        .http_status_as_error(false)
                        .build();
                    for (k, v) in headers {
                        if !matches!(
                            k.to_ascii_lowercase().as_str(),
                            "host" | "content-length" | "connection"
                        ) {
                            req = req.header(k, v);
                        }
                    }
                    if req.send(body.as_bytes()).unwrap().status() == 200 {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let accepted: u32 = senders.into_iter().map(|s| s.join().unwrap()).sum();
    assert_eq!(
        accepted,
        8 * 63,
        "every replayed delivery is genuine and acknowledged"
    );
    // Tokens expire while X3 comes back.
    env.x3
        .set_faults(&json!({"down": false, "expire_tokens": true}))
        .unwrap();
    let all = wait_until(Duration::from_secs(120), || {
        env.x3_records("SORDER").len() >= placed.len()
    });
    assert!(
        all,
        "{} of {} posted; log:\n{}",
        env.x3_records("SORDER").len(),
        placed.len(),
        host.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_exactly_once(&env, &placed);
    let status = host.status();
    assert!(
        status["deliveries"]["counters"]["duplicates"]
            .as_i64()
            .unwrap()
            > 300,
        "{status}"
    );
}

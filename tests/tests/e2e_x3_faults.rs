//! End to end: X3 faults the host must survive (docs/hostile-input.md, "X3 faults").
//!
//! - X3 behind a proxy answering HTML error pages (502): retried, posted once, the error says
//!   what it was, no secret anywhere.
//! - Clocks: X3's clock behind this machine's makes a connected-app JWT "issued in the future"
//!   (error 21): the host says so and what to set; with `jwt-iat-backdate-secs` it posts.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Auth, Env, HostProc, Lcg, Options, checkout, wait_until};
use mlc_sim::x3::X3Config;
use serde_json::{Value, json};

fn admin_get(env: &Env, host: &HostProc, path: &str) -> Value {
    let token = std::fs::read_to_string(env.dir.join("data/admin.token")).unwrap();
    let mut resp = ureq::get(&host.url(path))
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .call()
        .unwrap();
    resp.body_mut().read_json().unwrap()
}

#[test]
fn html_error_pages_from_a_proxy_are_retried_and_the_order_posted_once() {
    let env = Env::new("x3html", Options::default());
    // Every request answers a proxy's HTML 502 page for a while: the customer look-up, its
    // create, the order's create.
    env.x3
        .set_faults(&json!({"html_error": {"count": 6, "status": 502}}))
        .unwrap();
    let host = HostProc::start(&env);
    let order = env.woo.place_order(&checkout(&mut Lcg(7), 7)).unwrap();
    let reference = format!("WC-{}", order["id"]);
    assert!(
        wait_until(Duration::from_secs(120), || env
            .x3_orders_by_reference()
            .contains_key(&reference)),
        "{}",
        host.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.x3_orders_by_reference()[&reference].len(), 1);
    assert_eq!(env.x3_records("SORDER").len(), 1);
    // The order's timeline says a proxy page came back, and with which status.
    let shown = admin_get(&env, &host, &format!("/api/admin/orders/{}", order["id"]));
    let timeline = shown["timeline"].to_string();
    assert!(
        timeline.contains("HTTP 502")
            && timeline.contains("a proxy page")
            && timeline.contains("502 Bad Gateway"),
        "{shown}"
    );
    // No secret in the log, the status API, the order's page.
    let status = host.status().to_string();
    let page = host
        .get(&format!("/status/orders/{}", order["id"]))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let x3 = env.x3.config();
    for text in [host.log(), status, page, shown.to_string()] {
        assert!(!text.contains(&x3.password), "{text}");
        // The page is summed up by its title, not copied.
        assert!(!text.contains("<center>nginx"), "HTML copied as is: {text}");
    }
}

#[test]
fn a_jwt_issued_in_x3s_future_is_explained_and_backdating_fixes_it() {
    let env = Env::new(
        "x3skew",
        Options {
            auth: Auth::ConnectedApp,
            x3: X3Config {
                port: 0,
                // X3 is 30 s behind this machine; it tolerates 5 s.
                clock_offset_secs: -30,
                clock_skew_secs: 5,
                ..X3Config::default()
            },
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    let order = env.woo.place_order(&checkout(&mut Lcg(8), 8)).unwrap();
    let reference = format!("WC-{}", order["id"]);
    // Refused with error 21; the host says what it means and what to set, and keeps retrying.
    assert!(
        wait_until(Duration::from_secs(60), || {
            host.status()["x3"]["last_failure"]
                .as_str()
                .is_some_and(|f| f.contains("Error 21"))
        }),
        "{}",
        host.status()
    );
    let failure = host.status()["x3"]["last_failure"].clone();
    let failure = failure.as_str().unwrap();
    assert!(
        failure.contains("clock is ahead") && failure.contains("jwt-iat-backdate-secs"),
        "{failure}"
    );
    assert!(!failure.contains(&env.x3.config().secret), "{failure}");
    assert!(env.x3_records("SORDER").is_empty());
    host.terminate();

    // iat 40 s in the past (less than the 60 s lifetime): accepted, the order is posted once.
    let config = std::fs::read_to_string(&env.config).unwrap();
    let config = config.replace(
        "jwt-lifetime-secs = 60\n",
        "jwt-lifetime-secs = 60\njwt-iat-backdate-secs = 40\n",
    );
    std::fs::write(&env.config, config).unwrap();
    let host = HostProc::start(&env);
    assert!(
        wait_until(Duration::from_secs(120), || env
            .x3_orders_by_reference()
            .contains_key(&reference)),
        "{}",
        host.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.x3_records("SORDER").len(), 1);
    assert!(!host.log().contains(&env.x3.config().secret));
}

//! x3-sim auth modes, fault injection, control API, state file and the binary, over real HTTP.

mod x3_sim_common;

use std::io::BufRead;
use std::time::{Duration, Instant};

use mlc_sim::x3::auth::mint_jwt;
use mlc_sim::x3::util::now_secs;
use mlc_sim::x3::{X3Config, X3Sim};
use serde_json::{Value, json};
use x3_sim_common::{Resp, T, agent, basic_header, send};

fn rest_url(t: &T) -> String {
    t.rest("ITMMASTER", "ITMMASTER.$query")
}

fn get_with(t: &T, auth: &str) -> Resp {
    send(
        &t.agent,
        "GET",
        &rest_url(t),
        &[("Authorization", auth)],
        None,
    )
    .expect("GET")
}

fn gql_with(t: &T, auth: &str) -> Resp {
    let body = json!({"query":"{ x3MasterData { product { query { totalCount } } } }"}).to_string();
    send(
        &t.agent,
        "POST",
        &format!("{}/xtrem/api", t.sim.base_url()),
        &[
            ("Authorization", auth),
            ("x-xtrem-endpoint", "SEED"),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    )
    .expect("POST")
}

fn claims(cfg: &X3Config) -> Value {
    let now = now_secs();
    json!({"iss": cfg.client_id, "sub": cfg.jwt_user, "aud": cfg.jwt_audience, "iat": now, "exp": now + 60})
}

#[test]
fn basic_auth_is_checked_on_every_request_and_cookies_are_ignored() {
    let t = T::seeded();
    assert_eq!(get_with(&t, &t.auth).status, 200);
    assert_eq!(gql_with(&t, &t.auth).status, 200);
    let mut wrong = t.sim.config().clone();
    wrong.password = "nope".into();
    let r = get_with(&t, &basic_header(&wrong));
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Basic"))
    );
    assert_eq!(gql_with(&t, &basic_header(&wrong)).status, 401);
    // Stateless api1: a session cookie from an earlier call opens nothing (x3-api.md §1.7).
    let r = send(
        &t.agent,
        "GET",
        &rest_url(&t),
        &[("Cookie", "syracuse.sid=abc")],
        None,
    )
    .expect("GET");
    assert_eq!(r.status, 401);
}

#[test]
fn connected_app_jwt_is_accepted_and_each_bad_claim_rejected() {
    let t = T::seeded();
    let cfg = t.sim.config().clone();
    let good = format!("Bearer {}", mint_jwt(&cfg.secret, &claims(&cfg)));
    assert_eq!(gql_with(&t, &good).status, 200);
    assert_eq!(get_with(&t, &good).status, 200);
    let now = now_secs();
    let with = |k: &str, v: Value| {
        let mut c = claims(&cfg);
        c[k] = v;
        c
    };
    let cases = [
        (
            "forged signature",
            mint_jwt("other-secret", &claims(&cfg)),
            "Error 50",
        ),
        (
            "wrong iss",
            mint_jwt(&cfg.secret, &with("iss", json!("someone"))),
            "Error 41",
        ),
        (
            "wrong sub",
            mint_jwt(&cfg.secret, &with("sub", json!("intruder"))),
            "Error 42",
        ),
        (
            "wrong aud",
            mint_jwt(
                &cfg.secret,
                &with("aud", json!("https://elsewhere/xtrem/api")),
            ),
            "Error 45",
        ),
        (
            "expired",
            mint_jwt(
                &cfg.secret,
                &json!({"iss":cfg.client_id,"sub":cfg.jwt_user,"aud":"","iat":now-120,"exp":now-60}),
            ),
            "Error 50",
        ),
        (
            "iat in the future",
            mint_jwt(
                &cfg.secret,
                &json!({"iss":cfg.client_id,"sub":cfg.jwt_user,"aud":"","iat":now+600,"exp":now+660}),
            ),
            "Error 21",
        ),
        (
            "lifetime too long",
            mint_jwt(&cfg.secret, &with("exp", json!(now + 3600))),
            "Error 50",
        ),
        ("garbage", "a.b.c".to_string(), "Error 50"),
    ];
    for (what, tok, want) in cases {
        let auth = format!("Bearer {tok}");
        for r in [gql_with(&t, &auth), get_with(&t, &auth)] {
            assert_eq!(r.status, 401, "{what}");
            assert_eq!(r.body, format!("{want}: Invalid token"), "{what}");
        }
    }
}

#[test]
fn configured_jwt_audience_must_match() {
    let t = T::with(X3Config {
        jwt_audience: "http://x3.example/xtrem/api".into(),
        ..X3Config::default()
    });
    let cfg = t.sim.config().clone();
    let good = format!("Bearer {}", mint_jwt(&cfg.secret, &claims(&cfg)));
    assert_eq!(gql_with(&t, &good).status, 200);
    let mut c = claims(&cfg);
    c["aud"] = json!("");
    let r = gql_with(&t, &format!("Bearer {}", mint_jwt(&cfg.secret, &c)));
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, "Error 45: Invalid token")
    );
}

fn token(t: &T, body: &Value) -> Resp {
    let b = body.to_string();
    send(
        &t.agent,
        "POST",
        &format!("{}/v1/token", t.sim.base_url()),
        &[("Content-Type", "application/json")],
        Some(b.as_bytes()),
    )
    .expect("token")
}

#[test]
fn oauth2_client_credentials_and_refresh_rotation() {
    let t = T::seeded();
    let cfg = t.sim.config().clone();
    let r = token(
        &t,
        &json!({"grant_type":"client_credentials","client_id":cfg.oauth_client_id,"client_secret":cfg.oauth_client_secret}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["expires_in"], 300);
    assert_eq!(v["token_type"], "Bearer");
    let access = format!("Bearer {}", v["access_token"].as_str().expect("access"));
    let refresh = v["refresh_token"].as_str().expect("refresh").to_string();
    assert_eq!(get_with(&t, &access).status, 200);
    assert_eq!(gql_with(&t, &access).status, 200);

    // Form-encoded works too; wrong secret and unknown grants do not.
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        cfg.oauth_client_id, cfg.oauth_client_secret
    );
    let url = format!("{}/v1/token", t.sim.base_url());
    let h = [("Content-Type", "application/x-www-form-urlencoded")];
    assert_eq!(
        send(&t.agent, "POST", &url, &h, Some(form.as_bytes()))
            .expect("form")
            .status,
        200
    );
    let r = token(
        &t,
        &json!({"grant_type":"client_credentials","client_id":cfg.oauth_client_id,"client_secret":"nope"}),
    );
    assert_eq!(r.status, 401);
    assert_eq!(token(&t, &json!({"grant_type":"password"})).status, 400);

    let r = token(
        &t,
        &json!({"grant_type":"refresh_token","refresh_token":refresh,"client_id":cfg.oauth_client_id,"client_secret":cfg.oauth_client_secret}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v2 = r.json();
    assert_ne!(
        v2["refresh_token"],
        json!(refresh),
        "refresh tokens are reissued"
    );
    assert_eq!(
        get_with(
            &t,
            &format!("Bearer {}", v2["access_token"].as_str().expect("a"))
        )
        .status,
        200
    );
    let r = token(
        &t,
        &json!({"grant_type":"refresh_token","refresh_token":refresh}),
    );
    assert_eq!(r.status, 401, "a used refresh token is revoked");

    let r = get_with(&t, "Bearer at-unknown-token");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["message"], "Unauthorised");
}

#[test]
fn oauth2_access_token_past_its_lifetime_is_rejected() {
    let t = T::with(X3Config {
        oauth_token_validity_secs: 0,
        ..X3Config::default()
    });
    let cfg = t.sim.config().clone();
    let v = token(&t, &json!({"grant_type":"client_credentials","client_id":cfg.oauth_client_id,"client_secret":cfg.oauth_client_secret})).json();
    let r = get_with(
        &t,
        &format!("Bearer {}", v["access_token"].as_str().expect("a")),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn expire_tokens_fault_rejects_issued_tokens_and_old_jwts() {
    let t = T::seeded();
    let cfg = t.sim.config().clone();
    let v = token(&t, &json!({"grant_type":"client_credentials","client_id":cfg.oauth_client_id,"client_secret":cfg.oauth_client_secret})).json();
    let access = format!("Bearer {}", v["access_token"].as_str().expect("a"));
    let mut old = claims(&cfg);
    old["iat"] = json!(now_secs() - 2);
    let jwt = format!("Bearer {}", mint_jwt(&cfg.secret, &old));
    assert_eq!(get_with(&t, &access).status, 200);
    assert_eq!(get_with(&t, &jwt).status, 200);
    t.sim
        .set_faults(&json!({"expire_tokens": true}))
        .expect("faults");
    assert_eq!(get_with(&t, &access).status, 401);
    assert_eq!(get_with(&t, &jwt).status, 401);
    // Recovery: refresh (refresh tokens survive) or mint a new JWT.
    let r = token(
        &t,
        &json!({"grant_type":"refresh_token","refresh_token":v["refresh_token"]}),
    );
    assert_eq!(
        get_with(
            &t,
            &format!("Bearer {}", r.json()["access_token"].as_str().expect("a"))
        )
        .status,
        200
    );
    let fresh = format!("Bearer {}", mint_jwt(&cfg.secret, &claims(&cfg)));
    assert_eq!(get_with(&t, &fresh).status, 200);
}

fn faults(t: &T, method: &str, body: &Value) -> Resp {
    let b = body.to_string();
    send(
        &t.agent,
        method,
        &format!("{}/__sim/faults", t.sim.base_url()),
        &[],
        Some(b.as_bytes()),
    )
    .expect("faults")
}

#[test]
fn fail_next_requests_with_500_or_503_then_recover() {
    let t = T::seeded();
    assert_eq!(
        faults(&t, "POST", &json!({"fail":{"count":2,"status":503}})).status,
        200
    );
    assert_eq!(faults(&t, "GET", &json!({})).json()["fail"]["count"], 2);
    for _ in 0..2 {
        let r = t.get(&rest_url(&t));
        assert_eq!(r.status, 503);
        assert_eq!(r.json()["$diagnoses"][0]["$severity"], "error");
    }
    assert_eq!(t.get(&rest_url(&t)).status, 200);
    t.sim
        .set_faults(&json!({"fail":{"count":1}}))
        .expect("faults");
    assert_eq!(gql_with(&t, &t.auth).status, 500);
    assert_eq!(gql_with(&t, &t.auth).status, 200);
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let t = T::seeded();
    t.sim
        .set_faults(&json!({"rate_limit":{"count":1,"retry_after":7}}))
        .expect("faults");
    let r = t.get(&rest_url(&t));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(t.get(&rest_url(&t)).status, 200);
}

#[test]
fn proxy_html_error_pages() {
    let t = T::seeded();
    t.sim
        .set_faults(&json!({"html_error":{"count":2}}))
        .expect("faults");
    let r = t.get(&rest_url(&t));
    assert_eq!(r.status, 502);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(r.body.contains("502 Bad Gateway"));
    assert_eq!(gql_with(&t, &t.auth).status, 502);
    assert_eq!(t.get(&rest_url(&t)).status, 200);
}

#[test]
fn latency_is_applied_per_request_without_serialising_others() {
    let t = T::seeded();
    t.sim
        .set_faults(&json!({"latency_ms": 400}))
        .expect("faults");
    let quick = agent(Duration::from_millis(100));
    let r = send(
        &quick,
        "GET",
        &rest_url(&t),
        &[("Authorization", &t.auth)],
        None,
    );
    assert!(
        matches!(r, Err(ureq::Error::Timeout(_))),
        "latency applied: {:?}",
        r.err()
    );
    // Concurrent requests all get through (each waits in its own worker).
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (url, auth) = (rest_url(&t), t.auth.clone());
            std::thread::spawn(move || {
                send(
                    &agent(Duration::from_secs(10)),
                    "GET",
                    &url,
                    &[("Authorization", &auth)],
                    None,
                )
                .map(|r| r.status)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread").expect("answer"), 200);
    }
    t.sim.set_faults(&json!({"latency_ms": 0})).expect("faults");
}

fn order_body(r: &str) -> Value {
    json!({"SALFCY":"FR011","SOHTYP":"WEB","BPCORD":"C001","ORDDAT":"2025-06-01","STOFCY":"FR011",
           "CUR":"EUR","CUSORDREF":r,"SOHSOP":[{"ITMREF":"ITM1","QTY":1}]})
}

/// Create with a short client timeout; true when the simulator never answered.
fn create_times_out(t: &T, r: &str) -> bool {
    let quick = agent(Duration::from_millis(300));
    let body = order_body(r).to_string();
    match send(
        &quick,
        "POST",
        &t.rest("SORDER", "SORDER.$create"),
        &[
            ("Authorization", &t.auth),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    ) {
        Ok(resp) => {
            assert_eq!(resp.status, 201, "{}", resp.body);
            false
        }
        Err(ureq::Error::Timeout(_)) => true,
        Err(e) => panic!("unexpected transport error {e}"),
    }
}

#[test]
fn commit_then_timeout_stores_the_record_but_never_answers() {
    let t = T::seeded();
    t.sim
        .set_faults(&json!({"commit_then_timeout":{"count":1}}))
        .expect("faults");
    assert!(create_times_out(&t, "WC-HANG"), "the client must time out");
    let rs = t.query_where("SORDER", "CUSORDREF eq 'WC-HANG'");
    assert_eq!(rs.len(), 1, "the order was committed");
    assert!(
        !create_times_out(&t, "WC-NEXT"),
        "only the next create hangs"
    );
    assert_eq!(t.sim.state()["counts"]["SORDER"], 2);

    // GraphQL creates hang the same way.
    t.sim
        .set_faults(&json!({"commit_then_timeout":{"count":1}}))
        .expect("faults");
    let body = json!({"query":"mutation($d: SalesOrder_Input!) { x3Sales { salesOrder { create(data: $d) { id } } } }",
        "variables":{"d":{"salesSite":"FR011","salesOrderType":"WEB","soldToCustomer":"C001","orderDate":"2025-06-01",
            "shippingSite":"FR011","currency":"EUR","customerOrderReference":"WC-GQL","lines":[{"product":"ITM1","quantityInSalesUnitOrdered":1}]}}}).to_string();
    let r = send(
        &agent(Duration::from_millis(300)),
        "POST",
        &format!("{}/xtrem/api", t.sim.base_url()),
        &[
            ("Authorization", &t.auth),
            ("x-xtrem-endpoint", "SEED"),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    );
    assert!(matches!(r, Err(ureq::Error::Timeout(_))));
    assert_eq!(t.query_where("SORDER", "CUSORDREF eq 'WC-GQL'").len(), 1);
}

#[test]
fn commit_then_timeout_ratio_is_deterministic_for_a_seed() {
    let t = T::seeded();
    let run = |tag: &str| -> Vec<bool> {
        t.sim
            .set_faults(&json!({"commit_then_timeout":{"ratio":0.5,"seed":42}}))
            .expect("faults");
        (0..6)
            .map(|i| create_times_out(&t, &format!("{tag}{i}")))
            .collect()
    };
    let a = run("A");
    let b = run("B");
    assert_eq!(a, b, "same seed, same outcomes");
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
    assert_eq!(
        t.sim.state()["counts"]["SORDER"],
        12,
        "every create was committed"
    );
}

fn refused(url: &str) -> bool {
    // A fresh agent: no pooled connection from before the fault.
    matches!(
        send(&agent(Duration::from_secs(2)), "GET", url, &[], None),
        Err(ureq::Error::Io(_)) | Err(ureq::Error::ConnectionFailed)
    )
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    // Generous: stopping the listener joins its workers, which takes a while on a loaded
    // 2-core machine running every test binary at once (it timed out at 5 s in a full run).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn down_refuses_connections_and_up_rebinds_the_same_port() {
    let t = T::seeded();
    let port = t.sim.port();
    let url = rest_url(&t);
    t.sim.set_faults(&json!({"down": true})).expect("down");
    assert!(refused(&url), "connections are refused while down");
    assert_eq!(
        t.sim.state()["counts"]["ITMMASTER"],
        2,
        "the library still answers in-process"
    );
    t.sim.set_faults(&json!({"down": false})).expect("up");
    assert_eq!(t.sim.port(), port);
    let fresh = agent(Duration::from_secs(5));
    let r = send(&fresh, "GET", &url, &[("Authorization", &t.auth)], None).expect("up again");
    assert_eq!(r.status, 200);

    // Over HTTP the control API goes down too, so a duration is required.
    assert_eq!(faults(&t, "POST", &json!({"down": true})).status, 400);
    assert_eq!(
        faults(&t, "POST", &json!({"down": true, "down_ms": 400})).status,
        200
    );
    wait_until("down", || refused(&url));
    wait_until("up", || !refused(&url));
}

#[test]
fn faults_are_listed_merged_and_cleared() {
    let t = T::seeded();
    faults(&t, "POST", &json!({"latency_ms": 5, "fail": {"count": 3}}));
    faults(&t, "POST", &json!({"rate_limit": {"count": 1}}));
    let v = faults(&t, "GET", &json!({})).json();
    assert_eq!(
        (
            v["latency_ms"].clone(),
            v["fail"]["count"].clone(),
            v["rate_limit"]["count"].clone()
        ),
        (json!(5), json!(3), json!(1))
    );
    assert_eq!(faults(&t, "POST", &json!({"nope": 1})).status, 400);
    let v = faults(&t, "DELETE", &json!({})).json();
    assert_eq!(
        (v["latency_ms"].clone(), v["fail"]["count"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(t.get(&rest_url(&t)).status, 200);
}

#[test]
fn control_api_seed_state_reset() {
    let t = T::new();
    let base = t.sim.base_url();
    let seed = x3_sim_common::seed().to_string();
    let r = send(
        &t.agent,
        "POST",
        &format!("{base}/__sim/seed"),
        &[],
        Some(seed.as_bytes()),
    )
    .expect("seed");
    assert_eq!(r.status, 200, "{}", r.body);
    let bad = send(
        &t.agent,
        "POST",
        &format!("{base}/__sim/seed"),
        &[],
        Some(b"{\"orders\":[]}"),
    )
    .expect("seed");
    assert_eq!(bad.status, 400);
    let s = send(&t.agent, "GET", &format!("{base}/__sim/state"), &[], None)
        .expect("state")
        .json();
    assert_eq!(
        s["counts"],
        json!({"BPCUSTOMER":2,"ITMMASTER":2,"SORDER":0,"SDELIVERY":0,"SINVOICE":0,"STOCK":2,
               "SMVTRCP":0,"SMVTISS":0,"SPRICLIST":0})
    );
    assert_eq!(s["records"]["BPCUSTOMER"][0]["BPCNUM"], "C001");
    assert_eq!(s["folder"], "SEED");
    assert_eq!(s, t.sim.state());
    send(&t.agent, "POST", &format!("{base}/__sim/reset"), &[], None).expect("reset");
    assert_eq!(t.sim.state()["counts"]["BPCUSTOMER"], 0);
}

#[test]
fn state_file_round_trip_keeps_records_and_counters() {
    let dir =
        std::env::temp_dir().join(format!("x3sim-state-{}-{}", std::process::id(), now_secs()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("x3.json");
    let cfg = X3Config {
        state_file: Some(path.clone()),
        ..X3Config::default()
    };
    let t = T::with(cfg.clone());
    t.sim.seed(&x3_sim_common::seed()).expect("seed");
    assert_eq!(
        t.order("WC-S1", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}]))
            .status,
        201
    );
    drop(t);
    assert!(path.exists());
    let t = T::with(cfg);
    assert_eq!(t.sim.state()["counts"]["SORDER"], 1);
    let r = t.order("WC-S2", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}]));
    assert_eq!(r.json()["SOHNUM"], "SOHFR011000002", "the counter survived");
    drop(t);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binary_prints_one_json_line_with_port_and_credentials() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_x3-sim"))
        .args([
            "--port",
            "0",
            "--password",
            "pw-from-flag",
            "--folder",
            "TEST",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn x3-sim");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("line");
    let v: Value = serde_json::from_str(&line).expect("JSON line");
    for k in [
        "port",
        "base_url",
        "folder",
        "user",
        "password",
        "client_id",
        "secret",
        "jwt_user",
        "jwt_audience",
        "oauth_client_id",
        "oauth_client_secret",
        "token_url",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {line}");
    }
    assert_eq!(
        (v["password"].clone(), v["folder"].clone()),
        (json!("pw-from-flag"), json!("TEST"))
    );
    let port = v["port"].as_u64().expect("port");
    assert!(port > 0);
    let cfg = X3Config {
        user: v["user"].as_str().unwrap_or("").into(),
        password: "pw-from-flag".into(),
        ..X3Config::default()
    };
    let url = format!(
        "http://127.0.0.1:{port}/api1/x3/erp/TEST/ITMMASTER?representation=ITMMASTER.$query"
    );
    let r = send(
        &agent(Duration::from_secs(5)),
        "GET",
        &url,
        &[("Authorization", &basic_header(&cfg))],
        None,
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.expect("answer").status, 200);
}

#[test]
fn default_config_is_the_documented_one() {
    let c = X3Config::default();
    assert_eq!(
        (
            c.folder.as_str(),
            c.user.as_str(),
            c.token_validity_secs,
            c.clock_skew_secs
        ),
        ("SEED", "admin", 600, 5)
    );
    let sim = X3Sim::start(c).expect("start");
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    sim.stop();
}

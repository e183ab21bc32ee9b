//! Helpers shared by the x3-sim integration tests: a simulator with seed data, and a tiny HTTP
//! client (ureq) that never turns statuses into errors.
#![allow(dead_code)]

use std::time::Duration;

use base64::Engine;
use mlc_sim::x3::{X3Config, X3Sim};
use serde_json::{Value, json};

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn agent(timeout: Duration) -> ureq::Agent {
    let cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build();
    ureq::Agent::new_with_config(cfg)
}

/// One request; `Err` only for transport failures (refused, timed out).
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Resp, ureq::Error> {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(body.map(<[u8]>::to_vec).unwrap_or_default())
        .expect("request");
    let mut resp = agent.run(req)?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp.body_mut().read_to_string()?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}

pub fn basic_header(cfg: &X3Config) -> String {
    let raw = format!("{}:{}", cfg.user, cfg.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A simulator plus an authenticated client for it.
pub struct T {
    pub sim: X3Sim,
    pub agent: ureq::Agent,
    pub auth: String,
}

impl T {
    pub fn new() -> T {
        T::with(X3Config::default())
    }

    pub fn with(cfg: X3Config) -> T {
        let sim = X3Sim::start(cfg).expect("start x3-sim");
        let auth = basic_header(sim.config());
        T {
            sim,
            agent: agent(Duration::from_secs(10)),
            auth,
        }
    }

    pub fn seeded() -> T {
        let t = T::new();
        t.sim.seed(&seed()).expect("seed");
        t
    }

    /// URL of a REST resource: `rest("SORDER", "SORDER.$query&count=5")`.
    pub fn rest(&self, class_and_key: &str, rep_and_params: &str) -> String {
        format!(
            "{}/api1/x3/erp/{}/{class_and_key}?representation={rep_and_params}",
            self.sim.base_url(),
            self.sim.config().folder
        )
    }

    pub fn get(&self, url: &str) -> Resp {
        send(
            &self.agent,
            "GET",
            url,
            &[("Authorization", &self.auth)],
            None,
        )
        .expect("GET")
    }

    pub fn call(&self, method: &str, url: &str, body: &Value) -> Resp {
        let bytes = body.to_string();
        send(
            &self.agent,
            method,
            url,
            &[
                ("Authorization", &self.auth),
                ("Content-Type", "application/json"),
            ],
            Some(bytes.as_bytes()),
        )
        .expect(method)
    }

    pub fn create(&self, class: &str, body: &Value) -> Resp {
        self.call("POST", &self.rest(class, &format!("{class}.$create")), body)
    }

    /// `$query` with a `where` clause, returning the `$resources`.
    pub fn query_where(&self, class: &str, clause: &str) -> Vec<Value> {
        let enc: String = form_urlencoded::byte_serialize(clause.as_bytes()).collect();
        let r = self.get(&self.rest(class, &format!("{class}.$query&count=100&where={enc}")));
        assert_eq!(r.status, 200, "{clause}: {}", r.body);
        r.json()["$resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn gql(&self, query: &str, variables: Value) -> Value {
        let body = json!({"query": query, "variables": variables}).to_string();
        let r = send(
            &self.agent,
            "POST",
            &format!("{}/xtrem/api", self.sim.base_url()),
            &[
                ("Authorization", &self.auth),
                ("Content-Type", "application/json"),
                ("x-xtrem-endpoint", &self.sim.config().folder),
            ],
            Some(body.as_bytes()),
        )
        .expect("graphql");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub fn order(&self, cusordref: &str, date: &str, lines: Value) -> Resp {
        self.create(
            "SORDER",
            &json!({"SALFCY":"FR011","SOHTYP":"WEB","BPCORD":"C001","ORDDAT":date,
                    "STOFCY":"FR011","CUR":"EUR","CUSORDREF":cusordref,"SOHSOP":lines}),
        )
    }
}

pub fn seed() -> Value {
    json!({
        "customer_categories": ["WEB", "RET"],
        "customers": [
            {"BPCNUM":"C001","BCGCOD":"WEB","BPRNAM":"O'Brien Ltd","CUR":"EUR",
             "BPADDRESS":[{"BPAADD":"BIL","BPAADDLIG":["1 Main St","",""],"CTY":"Paris","CRY":"FR",
                           "WEB":"o'brien@example.com"}]},
            {"BPCNUM":"C002","BCGCOD":"RET","BPRNAM":"Acme","CUR":"USD",
             "BPADDRESS":[{"BPAADD":"BIL","CRY":"US","WEB":"sales@acme.test"}]}
        ],
        "items": [
            {"ITMREF":"ITM1","DES1AXX":"Widget","TCLCOD":"FIN","STU":"UN","SAU":"UN"},
            {"ITMREF":"ITM2","DES1AXX":"Gadget","TCLCOD":"FIN","STU":"UN","SAU":"UN"}
        ],
        "stock": [
            {"STOFCY":"FR011","ITMREF":"ITM1","QTYSTU":10},
            {"STOFCY":"FR011","ITMREF":"ITM2","QTYSTU":1}
        ]
    })
}

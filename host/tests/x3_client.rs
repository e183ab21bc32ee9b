//! The X3 client over real HTTP against x3-sim (`mlc_sim::x3`, in-process on port 0): creates and
//! lookups in both APIs with each auth mode, every error class from the simulator's faults, token
//! renewal, `ping`'s verdicts, and that no secret ever shows in an error or a `Debug` output.
//! Assertions look at what ended up in the simulator (`sim.state()`), not only at return values.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use ml_connector::clients::x3::{
    ApiMode, CreateRequest, LookupRequest, X3Auth, X3Client, X3Error, X3Settings,
};
use mlc_sim::x3::{X3Config, X3Sim};
use serde_json::{Value, json};

// ---- fixtures ----

/// Queries exactly as the core renders them (core/src/plan.rs).
const FIND_CUSTOMER: &str = "query FindCustomer($filter: String) { x3MasterData { customer { query(first: 50, filter: $filter) { edges { node { code } } } } } }";
const FIND_ORDER: &str = "query FindDocument($filter: String) { x3Sales { salesOrder { query(first: 2, filter: $filter) { edges { node { id } } } } } }";
const CREATE_CUSTOMER: &str = "mutation CreateCustomer($data: Customer_Input!) { x3MasterData { customer { create(data: $data) { code } } } }";
const CREATE_ORDER: &str = "mutation CreateSalesOrder($data: SalesOrder_Input!) { x3Sales { salesOrder { create(data: $data) { id } } } }";

fn start(cfg: X3Config) -> X3Sim {
    let sim = X3Sim::start(cfg).expect("start x3-sim");
    sim.seed(&json!({
        "customer_categories": ["WEB"],
        "customers": [
            // A decoy one apostrophe away from the customer the tests look up.
            {"BPCNUM":"DECOY","BCGCOD":"WEB","BPRNAM":"O Brien",
             "BPADDRESS":[{"BPAADD":"BIL","CRY":"FR","WEB":"obrien@x.com"}]}
        ],
        "items": [{"ITMREF":"ITM1","DES1AXX":"Widget","TCLCOD":"FIN","STU":"UN","SAU":"UN"}]
    }))
    .expect("seed");
    sim
}

fn sim() -> X3Sim {
    start(X3Config::default())
}

fn basic(sim: &X3Sim) -> X3Auth {
    let c = sim.config();
    X3Auth::Basic {
        user: c.user.clone(),
        password: c.password.clone(),
    }
}

fn connected_app(sim: &X3Sim, lifetime: Duration) -> X3Auth {
    let c = sim.config();
    X3Auth::ConnectedApp {
        client_id: c.client_id.clone(),
        secret: c.secret.clone(),
        user: c.jwt_user.clone(),
        audience: c.jwt_audience.clone(),
        lifetime,
        backdate: Duration::ZERO,
    }
}

fn oauth2(sim: &X3Sim) -> X3Auth {
    let c = sim.config();
    X3Auth::OAuth2 {
        token_url: format!("{}/v1/token", sim.base_url()),
        client_id: c.oauth_client_id.clone(),
        client_secret: c.oauth_client_secret.clone(),
    }
}

/// Short timeouts: a hung request (commit then time out) costs one second.
fn settings(base_url: &str, api: ApiMode, auth: X3Auth) -> X3Settings {
    X3Settings {
        base_url: base_url.to_string(),
        folder: "SEED".into(),
        api,
        auth,
        ca_file: None,
        timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_millis(500),
    }
}

fn client(sim: &X3Sim, api: ApiMode, auth: X3Auth) -> X3Client {
    X3Client::new(settings(&sim.base_url(), api, auth)).expect("client")
}

/// A document rendered for both APIs, owning its strings.
struct Doc {
    class: &'static str,
    rest_body: String,
    mutation: &'static str,
    variables: String,
    rest_key: &'static str,
    graphql_key: &'static str,
}

impl Doc {
    fn req(&self) -> CreateRequest<'_> {
        CreateRequest {
            rest_class: self.class,
            rest_representation: self.class,
            rest_body: &self.rest_body,
            graphql_mutation: self.mutation,
            graphql_variables: &self.variables,
            rest_key_field: self.rest_key,
            graphql_key_field: self.graphql_key,
        }
    }
}

/// The keys a lookup found.
fn lookup_keys(x3: &X3Client, r: &LookupRequest) -> Result<Vec<String>, X3Error> {
    x3.lookup(r).map(|v| v.into_iter().map(|f| f.key).collect())
}

fn customer(code: &str, email: &str) -> Doc {
    Doc {
        class: "BPCUSTOMER",
        rest_body:
            json!({"BCGCOD":"WEB","BPCNUM":code,"BPRNAM":"Seán O'Brien","BPRSHO":"Seán O'Br",
            "CUR":"EUR","BPAINV":"BIL","BPAADD":"BIL","BPDADD":"BIL",
            "BPADDRESS":[{"BPAADD":"BIL","BPADES":"Billing","BPAADDLIG":["1 rue X","",""],
                "POSCOD":"75001","CTY":"Paris","CRY":"FR","WEB":email,"BPAADDFLG":2}]})
            .to_string(),
        mutation: CREATE_CUSTOMER,
        variables:
            json!({"data": {"code":code,"customerCategory":"WEB","companyName1":"Seán O'Brien",
            "shortCompanyName":"Seán O'Br","currency":"EUR","defaultAddress":"BIL",
            "billToAddress":"BIL","shipToAddress":"BIL",
            "addresses":[{"code":"BIL","description":"Billing","addressLines":["1 rue X","",""],
                "zipCode":"75001","city":"Paris","country":"FR","email":email,"isDefault":true}]}})
            .to_string(),
        rest_key: "BPCNUM",
        graphql_key: "code",
    }
}

fn order(customer: &str, reference: &str) -> Doc {
    Doc {
        class: "SORDER",
        rest_body: json!({"SALFCY":"FR011","SOHTYP":"WEB","BPCORD":customer,"ORDDAT":"2025-06-01",
            "STOFCY":"FR011","CUR":"EUR","CUSORDREF":reference,
            "SOHSOP":[{"ITMREF":"ITM1","ITMDES":"Widget","QTY":2,"GROPRI":"12.5"}]})
        .to_string(),
        mutation: CREATE_ORDER,
        variables: json!({"data": {"salesSite":"FR011","salesOrderType":"WEB","soldToCustomer":customer,
            "orderDate":"2025-06-01","shippingSite":"FR011","currency":"EUR","customerOrderReference":reference,
            "lines":[{"product":"ITM1","description":"Widget","quantityInSalesUnitOrdered":"2","grossPrice":"12.5"}]}})
        .to_string(),
        rest_key: "SOHNUM",
        graphql_key: "id",
    }
}

/// A lookup rendered for both APIs, owning its strings.
struct Find {
    class: &'static str,
    rest_where: String,
    query: &'static str,
    variables: String,
    rest_key: &'static str,
    graphql_key: &'static str,
}

impl Find {
    fn req(&self) -> LookupRequest<'_> {
        LookupRequest {
            rest_class: self.class,
            rest_representation: self.class,
            rest_where: &self.rest_where,
            graphql_query: self.query,
            graphql_variables: &self.variables,
            rest_key_field: self.rest_key,
            graphql_key_field: self.graphql_key,
            rest_check_field: "",
            graphql_check_path: "",
        }
    }
}

/// The core's literals: SData doubles the quote, the Xtrem filter backslash-escapes it; the
/// e-mail is on the customer's addresses, matched in any case (a regex of both cases in Xtrem).
fn find_customer(rest_literal: &str, regex_literal: &str) -> Find {
    Find {
        class: "BPCUSTOMER",
        rest_where: format!("upper(BPADDRESS.WEB) eq {rest_literal}"),
        query: FIND_CUSTOMER,
        variables: json!({"filter": format!(
            "{{addresses:{{_atLeast:1,email:{{_regex:{regex_literal}}}}}}}"
        )})
        .to_string(),
        rest_key: "BPCNUM",
        graphql_key: "code",
    }
}

fn find_order(reference: &str) -> Find {
    Find {
        class: "SORDER",
        rest_where: format!("CUSORDREF eq '{reference}'"),
        query: FIND_ORDER,
        variables: json!({"filter": format!("{{customerOrderReference:'{reference}'}}")})
            .to_string(),
        rest_key: "SOHNUM",
        graphql_key: "id",
    }
}

fn obrien() -> Find {
    find_customer(
        "'O''BRIEN@X.COM'",
        r"'^[oO]\'[bB][rR][iI][eE][nN]@[xX]\\.[cC][oO][mM]$'",
    )
}

fn records(sim: &X3Sim, class: &str) -> Vec<Value> {
    sim.state()["records"][class]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn count(sim: &X3Sim, class: &str) -> u64 {
    sim.state()["counts"][class].as_u64().unwrap_or(0)
}

fn orders_with(sim: &X3Sim, reference: &str) -> usize {
    records(sim, "SORDER")
        .iter()
        .filter(|o| o["CUSORDREF"] == reference)
        .count()
}

fn faults(sim: &X3Sim, v: Value) {
    sim.set_faults(&v).expect("faults");
}

/// A port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A tiny HTTP server answering every connection with one canned answer (for what x3-sim does
/// not model, such as 403).
fn canned(status: &str, content_type: &str, body: &str) -> String {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let _ = s.write_all(response.as_bytes());
        }
    });
    base
}

/// A server that reads each request and hangs up without answering (a reset after sending).
fn hangup() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
        }
    });
    base
}

// ---- create + lookup, both APIs, each auth mode ----

/// Customer and sales order created and found again; the e-mail carries an apostrophe, so the
/// REST `where` and the GraphQL filter must both survive URL and JSON encoding.
fn round_trip(api: ApiMode, auth: fn(&X3Sim) -> X3Auth) {
    let sim = sim();
    let x3 = client(&sim, api, auth(&sim));

    assert_eq!(
        lookup_keys(&x3, &obrien().req()).expect("lookup before"),
        Vec::<String>::new()
    );
    let code = x3
        .create(&customer("WOBRIEN", "o'brien@x.com").req())
        .expect("create customer");
    assert_eq!(code, "WOBRIEN");
    let stored = records(&sim, "BPCUSTOMER");
    let c = stored
        .iter()
        .find(|c| c["BPCNUM"] == "WOBRIEN")
        .expect("customer stored");
    assert_eq!(c["BPADDRESS"][0]["WEB"], "o'brien@x.com");
    assert_eq!(c["BPRNAM"], "Seán O'Brien");
    assert_eq!(
        lookup_keys(&x3, &obrien().req()).expect("lookup after"),
        ["WOBRIEN"]
    );

    assert_eq!(
        lookup_keys(&x3, &find_order("WC-1001").req()).expect("none"),
        Vec::<String>::new()
    );
    let number = x3
        .create(&order("WOBRIEN", "WC-1001").req())
        .expect("create order");
    assert_eq!(number, "SOHFR011000001");
    let o = &records(&sim, "SORDER")[0];
    assert_eq!(
        (
            o["SOHNUM"].as_str(),
            o["CUSORDREF"].as_str(),
            o["BPCORD"].as_str()
        ),
        (Some(number.as_str()), Some("WC-1001"), Some("WOBRIEN"))
    );
    assert_eq!(o["SOHSOP"][0]["ITMREF"], "ITM1");
    assert_eq!(o["SOHSOP"][0]["QTY"], 2);
    assert_eq!(
        lookup_keys(&x3, &find_order("WC-1001").req()).expect("found"),
        [number]
    );
    assert_eq!(count(&sim, "SORDER"), 1);
}

#[test]
fn rest_with_basic_auth_creates_and_finds_customer_and_order() {
    round_trip(ApiMode::Rest, basic);
}

#[test]
fn rest_with_connected_app_creates_and_finds_customer_and_order() {
    round_trip(ApiMode::Rest, |s| {
        connected_app(s, Duration::from_secs(300))
    });
}

#[test]
fn rest_with_oauth2_creates_and_finds_customer_and_order() {
    round_trip(ApiMode::Rest, oauth2);
}

#[test]
fn graphql_with_basic_auth_creates_and_finds_customer_and_order() {
    round_trip(ApiMode::Graphql, basic);
}

#[test]
fn graphql_with_connected_app_creates_and_finds_customer_and_order() {
    round_trip(ApiMode::Graphql, |s| {
        connected_app(s, Duration::from_secs(300))
    });
}

#[test]
fn graphql_with_oauth2_creates_and_finds_customer_and_order() {
    round_trip(ApiMode::Graphql, oauth2);
}

#[test]
fn email_with_apostrophe_is_escaped_in_where_clause_and_filter() {
    let sim = sim();
    let rest = client(&sim, ApiMode::Rest, basic(&sim));
    let gql = client(&sim, ApiMode::Graphql, basic(&sim));
    rest.create(&customer("WQ1", "o'brien+shop@x.com").req())
        .expect("create");
    // `+` and spaces must reach X3 as themselves, not as spaces.
    let find = find_customer(
        "'O''BRIEN+SHOP@X.COM'",
        r"'^[oO]\'[bB][rR][iI][eE][nN]\\+[sS][hH][oO][pP]@[xX]\\.[cC][oO][mM]$'",
    );
    assert_eq!(lookup_keys(&rest, &find.req()).expect("rest"), ["WQ1"]);
    assert_eq!(lookup_keys(&gql, &find.req()).expect("graphql"), ["WQ1"]);
    // The decoy without the apostrophe is never confused with it.
    let decoy = find_customer(
        "'OBRIEN@X.COM'",
        r"'^[oO][bB][rR][iI][eE][nN]@[xX]\\.[cC][oO][mM]$'",
    );
    assert_eq!(lookup_keys(&rest, &decoy.req()).expect("rest"), ["DECOY"]);
    assert_eq!(lookup_keys(&gql, &decoy.req()).expect("graphql"), ["DECOY"]);
}

#[test]
fn lookup_finds_zero_one_and_two_orders_with_one_reference() {
    // CUSORDREF is not unique in X3 (x3-api.md §6): a lookup must report every match.
    let sim = sim();
    for api in [ApiMode::Rest, ApiMode::Graphql] {
        sim.reset();
        sim.seed(&json!({"customers":[{"BPCNUM":"C1","BCGCOD":"WEB","BPRNAM":"C","BPADDRESS":[{"BPAADD":"BIL"}]}],
                         "items":[{"ITMREF":"ITM1","DES1AXX":"W","TCLCOD":"FIN","STU":"UN"}]}))
            .expect("seed");
        let x3 = client(&sim, api, basic(&sim));
        let find = find_order("WC-7");
        assert!(
            lookup_keys(&x3, &find.req()).expect("0").is_empty(),
            "{api:?}"
        );
        let first = x3.create(&order("C1", "WC-7").req()).expect("first");
        assert_eq!(
            lookup_keys(&x3, &find.req()).expect("1"),
            std::slice::from_ref(&first),
            "{api:?}"
        );
        let second = x3.create(&order("C1", "WC-7").req()).expect("second");
        let mut found = lookup_keys(&x3, &find.req()).expect("2");
        found.sort();
        assert_eq!(found, [first, second], "{api:?}");
        assert_eq!(orders_with(&sim, "WC-7"), 2);
    }
}

#[test]
fn rest_lookup_and_query_follow_next_links() {
    let sim = sim();
    let customers: Vec<Value> = (0..130)
        .map(|i| {
            json!({"BPCNUM": format!("P{i:03}"), "BCGCOD":"WEB","BPRNAM":"Bulk",
                        "BPADDRESS":[{"BPAADD":"BIL","WEB":"bulk@x.com"}]})
        })
        .collect();
    sim.seed(&json!({ "customers": customers })).expect("seed");
    let x3 = client(&sim, ApiMode::Rest, basic(&sim));
    let find = find_customer("'BULK@X.COM'", r"'^bulk@x\\.com$'");
    let keys = lookup_keys(&x3, &find.req()).expect("lookup");
    assert_eq!(keys.len(), 130, "two pages of 100");
    let rows = x3
        .query_rest(
            "BPCUSTOMER",
            "BPCUSTOMER",
            Some("BPADDRESS.WEB eq 'bulk@x.com'"),
            Some("BPCNUM desc"),
            120,
        )
        .expect("query");
    assert_eq!(rows.len(), 120);
    assert_eq!(rows[0]["BPCNUM"], "P129");
    assert_eq!(rows[119]["BPCNUM"], "P010");
    assert!(
        x3.query_rest("BPCUSTOMER", "BPCUSTOMER", None, None, 0)
            .expect("none")
            .is_empty()
    );
}

#[test]
fn update_rest_escapes_quotes_in_the_key() {
    let sim = sim();
    let x3 = client(&sim, ApiMode::Rest, basic(&sim));
    x3.create(&customer("W'Q 1", "q@x.com").req())
        .expect("create");
    let v = x3
        .update_rest(
            "BPCUSTOMER",
            "BPCUSTOMER",
            "W'Q 1",
            &json!({"BPRNAM":"Renamed"}),
        )
        .expect("update");
    assert_eq!(v["BPRNAM"], "Renamed");
    let c = records(&sim, "BPCUSTOMER")
        .into_iter()
        .find(|c| c["BPCNUM"] == "W'Q 1")
        .expect("stored");
    assert_eq!(c["BPRNAM"], "Renamed");
    assert_eq!(c["CUR"], "EUR", "a partial update keeps the rest");
    match x3.update_rest("BPCUSTOMER", "BPCUSTOMER", "NOPE", &json!({"BPRNAM":"x"})) {
        Err(X3Error::Rejected {
            status: 404,
            message,
        }) => {
            assert!(message.contains("NOPE"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn raw_graphql_returns_data_or_the_errors() {
    let sim = sim();
    let x3 = client(&sim, ApiMode::Graphql, oauth2(&sim));
    let data = x3
        .graphql(
            "{ x3MasterData { customer { query { totalCount } } } }",
            &json!({}),
        )
        .expect("data");
    assert_eq!(data["x3MasterData"]["customer"]["query"]["totalCount"], 1);
    // A query X3 refuses names something its schema lacks: a configuration problem.
    match x3.graphql("{ x3MasterData { customer { nope } } }", &json!({})) {
        Err(X3Error::Misconfigured { message }) => {
            assert!(message.contains("nope"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

// ---- errors from the simulator's faults ----

#[test]
fn fail_500_is_unknown_for_a_create_and_transient_for_a_lookup() {
    let sim = sim();
    for api in [ApiMode::Rest, ApiMode::Graphql] {
        let x3 = client(&sim, api, basic(&sim));
        faults(&sim, json!({"fail": {"count": 1, "status": 500}}));
        match x3.create(&customer("W500", "a@x.com").req()) {
            Err(X3Error::Unknown { message }) => {
                assert!(message.contains("500"), "{message}")
            }
            other => panic!("{api:?}: {other:?}"),
        }
        faults(&sim, json!({"fail": {"count": 1, "status": 500}}));
        assert!(
            matches!(
                lookup_keys(&x3, &obrien().req()),
                Err(X3Error::Transient { .. })
            ),
            "{api:?}"
        );
    }
    assert_eq!(count(&sim, "BPCUSTOMER"), 1, "only the seeded decoy");
}

#[test]
fn fail_503_is_transient_and_nothing_is_created() {
    let sim = sim();
    let x3 = client(&sim, ApiMode::Rest, basic(&sim));
    faults(&sim, json!({"fail": {"count": 1, "status": 503}}));
    match x3.create(&customer("W503", "a@x.com").req()) {
        Err(e @ X3Error::Transient { .. }) => {
            assert!(e.is_transient());
            assert!(e.to_string().contains("web-service pool"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&sim, "BPCUSTOMER"), 1);
    x3.create(&customer("W503", "a@x.com").req())
        .expect("the retry goes through");
    assert_eq!(count(&sim, "BPCUSTOMER"), 2);
}

#[test]
fn rate_limit_429_is_transient_with_retry_after() {
    let sim = sim();
    let x3 = client(&sim, ApiMode::Graphql, basic(&sim));
    faults(&sim, json!({"rate_limit": {"count": 1, "retry_after": 7}}));
    let e = x3
        .create(&customer("W429", "a@x.com").req())
        .expect_err("throttled");
    assert!(matches!(e, X3Error::Transient { .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(count(&sim, "BPCUSTOMER"), 1);
}

#[test]
fn commit_then_timeout_is_unknown_and_the_document_exists() {
    let sim = sim();
    for (api, reference) in [(ApiMode::Rest, "WC-T1"), (ApiMode::Graphql, "WC-T2")] {
        let x3 = client(&sim, api, basic(&sim));
        faults(&sim, json!({"commit_then_timeout": {"count": 1}}));
        match x3.create(&order("DECOY", reference).req()) {
            Err(X3Error::Unknown { message }) => {
                assert!(message.contains("may have been processed"), "{message}")
            }
            other => panic!("{api:?}: {other:?}"),
        }
        assert_eq!(orders_with(&sim, reference), 1, "X3 committed it");
        // What the caller must do next: look it up and adopt it.
        let found = lookup_keys(&x3, &find_order(reference).req()).expect("lookup");
        assert_eq!(found.len(), 1, "{api:?}");
    }
}

#[test]
fn html_error_page_from_a_proxy_is_unknown_for_a_create() {
    let sim = sim();
    let x3 = client(&sim, ApiMode::Rest, basic(&sim));
    faults(&sim, json!({"html_error": {"count": 1, "status": 502}}));
    match x3.create(&order("DECOY", "WC-H").req()) {
        Err(X3Error::Unknown { message }) => {
            assert!(message.contains("502 Bad Gateway"), "{message}");
            assert!(!message.contains("<html>"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    faults(&sim, json!({"html_error": {"count": 1, "status": 502}}));
    assert!(matches!(
        lookup_keys(&x3, &find_order("WC-H").req()),
        Err(X3Error::Transient { .. })
    ));
}

#[test]
fn connection_closed_after_sending_is_unknown_for_a_create_only() {
    let base = hangup();
    let auth = X3Auth::Basic {
        user: "u".into(),
        password: "p".into(),
    };
    let x3 = X3Client::new(settings(&base, ApiMode::Rest, auth)).expect("client");
    assert!(
        matches!(
            x3.create(&order("C", "WC-R").req()),
            Err(X3Error::Unknown { .. })
        ),
        "the create may have been committed"
    );
    assert!(matches!(
        lookup_keys(&x3, &find_order("WC-R").req()),
        Err(X3Error::Transient { .. })
    ));
}

#[test]
fn x3_down_is_transient_and_nothing_is_stored() {
    let sim = sim();
    faults(&sim, json!({"down": true}));
    for api in [ApiMode::Rest, ApiMode::Graphql] {
        let x3 = client(&sim, api, basic(&sim));
        match x3.create(&order("DECOY", "WC-D").req()) {
            Err(X3Error::Transient { message, .. }) => {
                assert!(message.contains("connection refused"), "{message}")
            }
            other => panic!("{api:?}: {other:?}"),
        }
    }
    faults(&sim, json!({"down": false}));
    assert_eq!(orders_with(&sim, "WC-D"), 0);
    let x3 = client(&sim, ApiMode::Rest, basic(&sim));
    x3.create(&order("DECOY", "WC-D").req()).expect("back up");
    assert_eq!(orders_with(&sim, "WC-D"), 1);
}

#[test]
fn expired_tokens_are_renewed_once_and_the_create_succeeds() {
    let sim = sim();
    let oauth = client(&sim, ApiMode::Graphql, oauth2(&sim));
    lookup_keys(&oauth, &obrien().req()).expect("first token");
    faults(&sim, json!({"expire_tokens": true}));
    oauth
        .create(&order("DECOY", "WC-E1").req())
        .expect("refreshed and retried");
    let s = oauth.auth_stats();
    assert_eq!(
        (
            s.client_credentials_grants,
            s.refresh_grants,
            s.retries_after_401
        ),
        (1, 1, 1)
    );

    let jwt = client(
        &sim,
        ApiMode::Rest,
        connected_app(&sim, Duration::from_secs(300)),
    );
    lookup_keys(&jwt, &obrien().req()).expect("first JWT");
    // The simulator refuses JWTs issued strictly before the expiry second.
    std::thread::sleep(Duration::from_millis(1100));
    faults(&sim, json!({"expire_tokens": true}));
    jwt.create(&order("DECOY", "WC-E2").req())
        .expect("re-minted and retried");
    let s = jwt.auth_stats();
    assert_eq!((s.jwt_mints, s.retries_after_401), (2, 1));
    assert_eq!(orders_with(&sim, "WC-E1") + orders_with(&sim, "WC-E2"), 2);
}

#[test]
fn second_401_after_a_fresh_token_is_auth() {
    // Access tokens that die at once: the renewed token is refused too.
    let sim = start(X3Config {
        oauth_token_validity_secs: 0,
        ..X3Config::default()
    });
    let x3 = client(&sim, ApiMode::Rest, oauth2(&sim));
    match x3.create(&order("DECOY", "WC-A1").req()) {
        Err(X3Error::Auth {
            status: 401,
            message,
        }) => {
            assert!(message.contains("even with a fresh token"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(x3.auth_stats().retries_after_401, 1, "retried once only");

    // A connected app whose tokens outlive what X3 accepts: every JWT is refused.
    let x3 = client(
        &sim,
        ApiMode::Graphql,
        connected_app(&sim, Duration::from_secs(3600)),
    );
    match x3.create(&order("DECOY", "WC-A2").req()) {
        Err(X3Error::Auth {
            status: 401,
            message,
        }) => {
            assert!(message.contains("Invalid token"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(x3.auth_stats().jwt_mints, 2);
    assert_eq!(count(&sim, "SORDER"), 0);
}

#[test]
fn wrong_password_is_auth_without_a_retry() {
    let sim = sim();
    for api in [ApiMode::Rest, ApiMode::Graphql] {
        let x3 = client(
            &sim,
            api,
            X3Auth::Basic {
                user: "admin".into(),
                password: "wrong-pass-123".into(),
            },
        );
        match x3.create(&customer("WPW", "a@x.com").req()) {
            Err(X3Error::Auth {
                status: 401,
                message,
            }) => {
                assert!(message.contains("user 'admin'"), "{message}")
            }
            other => panic!("{api:?}: {other:?}"),
        }
        assert_eq!(x3.auth_stats().retries_after_401, 0);
    }
    let bad_client = client(
        &sim,
        ApiMode::Rest,
        X3Auth::OAuth2 {
            token_url: format!("{}/v1/token", sim.base_url()),
            client_id: "x3sim-oauth-client".into(),
            client_secret: "not-the-secret".into(),
        },
    );
    assert!(matches!(
        lookup_keys(&bad_client, &obrien().req()),
        Err(X3Error::Auth { status: 401, .. })
    ));
    assert_eq!(count(&sim, "BPCUSTOMER"), 1);
}

#[test]
fn forbidden_403_is_auth() {
    // x3-sim does not model rights; a canned Syracuse-style 403 stands in.
    let base = canned(
        "403 Forbidden",
        "application/json",
        r#"{"$diagnoses":[{"$severity":"error","$message":"Access denied: SORDER"}]}"#,
    );
    let x3 = X3Client::new(settings(
        &base,
        ApiMode::Rest,
        X3Auth::Basic {
            user: "u".into(),
            password: "p-secret".into(),
        },
    ))
    .expect("client");
    match x3.create(&order("C", "WC-F").req()) {
        Err(X3Error::Auth {
            status: 403,
            message,
        }) => {
            assert!(message.contains("Access denied: SORDER"), "{message}");
            assert!(message.contains("rights"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn validation_error_is_rejected_with_x3_message() {
    let sim = sim();
    for api in [ApiMode::Rest, ApiMode::Graphql] {
        let x3 = client(&sim, api, basic(&sim));
        // REST: X3 answers a business refusal 500 with $diagnoses (x3-api.md §7); GraphQL
        // answers errors[].
        match (api, x3.create(&order("NOSUCH", "WC-V").req())) {
            (
                ApiMode::Rest,
                Err(X3Error::Refused {
                    status: 500,
                    message,
                }),
            )
            | (ApiMode::Graphql, Err(X3Error::Rejected { message, .. })) => {
                assert!(message.contains("NOSUCH"), "{api:?}: {message}")
            }
            (_, other) => panic!("{api:?}: {other:?}"),
        }
    }
    assert_eq!(count(&sim, "SORDER"), 0);
}

// ---- token lifetimes ----

#[test]
fn connected_app_jwt_is_re_minted_before_exp() {
    let sim = sim();
    let x3 = client(
        &sim,
        ApiMode::Graphql,
        connected_app(&sim, Duration::from_secs(2)),
    );
    lookup_keys(&x3, &obrien().req()).expect("first");
    lookup_keys(&x3, &obrien().req()).expect("same token");
    assert_eq!(x3.auth_stats().jwt_mints, 1);
    // Past lifetime − margin: a new JWT before the old one's exp, not after a 401.
    std::thread::sleep(Duration::from_millis(1700));
    x3.create(&customer("WJWT", "j@x.com").req())
        .expect("create");
    let s = x3.auth_stats();
    assert_eq!((s.jwt_mints, s.retries_after_401), (2, 0));
    assert_eq!(count(&sim, "BPCUSTOMER"), 2);
}

#[test]
fn oauth2_token_is_refreshed_ahead_of_expiry() {
    let sim = start(X3Config {
        oauth_token_validity_secs: 3,
        ..X3Config::default()
    });
    let x3 = client(&sim, ApiMode::Rest, oauth2(&sim));
    lookup_keys(&x3, &obrien().req()).expect("first");
    lookup_keys(&x3, &obrien().req()).expect("same token");
    assert_eq!(x3.auth_stats().client_credentials_grants, 1);
    std::thread::sleep(Duration::from_millis(1500));
    x3.create(&customer("WOA", "o@x.com").req())
        .expect("create");
    let s = x3.auth_stats();
    assert_eq!(
        (
            s.client_credentials_grants,
            s.refresh_grants,
            s.retries_after_401
        ),
        (1, 1, 0),
        "refreshed with the refresh token before X3 refused anything"
    );
    assert_eq!(count(&sim, "BPCUSTOMER"), 2);
}

#[test]
fn one_client_serves_several_threads_with_one_token() {
    let sim = sim();
    let x3 = Arc::new(client(&sim, ApiMode::Graphql, oauth2(&sim)));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let x3 = Arc::clone(&x3);
            std::thread::spawn(move || {
                for i in 0..3 {
                    x3.create(&order("DECOY", &format!("WC-{t}-{i}")).req())
                        .expect("create");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker");
    }
    assert_eq!(count(&sim, "SORDER"), 12);
    assert_eq!(x3.auth_stats().client_credentials_grants, 1);
}

// ---- ping ----

#[test]
fn ping_says_ok_and_what_it_reached() {
    let sim = sim();
    for (api, auth) in [
        (ApiMode::Rest, basic(&sim)),
        (
            ApiMode::Graphql,
            connected_app(&sim, Duration::from_secs(60)),
        ),
        (ApiMode::Rest, oauth2(&sim)),
    ] {
        let msg = client(&sim, api, auth).ping().expect("ping");
        assert!(
            msg.starts_with("OK: reached Sage X3 at http://127.0.0.1:"),
            "{msg}"
        );
        assert!(msg.contains("SEED"), "{msg}");
    }
}

#[test]
fn ping_names_a_wrong_folder() {
    let sim = sim();
    for api in [ApiMode::Rest, ApiMode::Graphql] {
        let mut s = settings(&sim.base_url(), api, basic(&sim));
        s.folder = "NOPE".into();
        let e = X3Client::new(s)
            .expect("client")
            .ping()
            .expect_err("wrong folder");
        assert!(matches!(e, X3Error::Rejected { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("does not know the folder (endpoint) 'NOPE'"),
            "{api:?}: {e}"
        );
    }
}

#[test]
fn ping_names_refused_credentials() {
    let sim = sim();
    let mut s = settings(&sim.base_url(), ApiMode::Rest, basic(&sim));
    s.auth = X3Auth::Basic {
        user: "admin".into(),
        password: "hunter2-wrong".into(),
    };
    let e = X3Client::new(s).expect("client").ping().expect_err("401");
    assert!(matches!(e, X3Error::Auth { status: 401, .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("refused the credentials of user 'admin'"),
        "{e}"
    );
}

#[test]
fn ping_says_when_nothing_listens_or_the_name_does_not_resolve() {
    let x3 = X3Client::new(settings(
        &format!("http://127.0.0.1:{}", dead_port()),
        ApiMode::Rest,
        X3Auth::Basic {
            user: "u".into(),
            password: "p".into(),
        },
    ))
    .expect("client");
    let e = x3.ping().expect_err("refused");
    assert!(matches!(e, X3Error::Transient { .. }), "{e:?}");
    assert!(
        e.to_string().contains("nothing is listening at 127.0.0.1:"),
        "{e}"
    );

    let x3 = X3Client::new(settings(
        "http://x3.invalid:8124",
        ApiMode::Graphql,
        X3Auth::Basic {
            user: "u".into(),
            password: "p".into(),
        },
    ))
    .expect("client");
    let e = x3.ping().expect_err("dns");
    assert!(matches!(e, X3Error::Transient { .. }), "{e:?}");
    assert!(e.to_string().contains("(DNS)"), "{e}");
}

#[test]
fn ping_over_https_to_a_plain_http_server_is_a_tls_failure() {
    let plain = canned("400 Bad Request", "text/plain", "not TLS");
    let base = plain.replace("http://", "https://");
    let x3 = X3Client::new(settings(
        &base,
        ApiMode::Rest,
        X3Auth::Basic {
            user: "u".into(),
            password: "p".into(),
        },
    ))
    .expect("client");
    let e = x3.ping().expect_err("tls");
    assert!(matches!(e, X3Error::Transient { .. }), "{e:?}");
    assert!(e.to_string().contains("TLS"), "{e}");
}

// ---- secrets and settings ----

/// Tokens x3-sim hands out look like `at<hex>` / `rt<hex>`; JWTs start with `eyJ`.
fn assert_no_token(text: &str) {
    assert!(!text.contains("Bearer"), "{text}");
    assert!(!text.contains("eyJ"), "{text}");
    for w in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        let hexy = w.len() > 12
            && (w.starts_with("at") || w.starts_with("rt"))
            && w[2..].bytes().all(|b| b.is_ascii_hexdigit());
        assert!(!hexy, "token in {text}");
    }
}

#[test]
fn secrets_never_appear_in_errors_or_debug() {
    let sim = sim();
    let cfg = sim.config().clone();
    let secrets = [
        cfg.password.as_str(),
        cfg.secret.as_str(),
        cfg.oauth_client_secret.as_str(),
        "not-the-secret-xyz",
    ];
    let check = |what: &str, text: String| {
        for s in secrets {
            assert!(!text.contains(s), "{what} leaks {s}: {text}");
        }
        assert!(
            !text.contains("YWRtaW46"),
            "{what} leaks Basic credentials: {text}"
        );
        assert_no_token(&text);
    };
    let auths = [
        basic(&sim),
        connected_app(&sim, Duration::from_secs(60)),
        oauth2(&sim),
    ];
    for auth in auths {
        let s = settings(&sim.base_url(), ApiMode::Rest, auth);
        check("settings Debug", format!("{s:?}"));
        let x3 = X3Client::new(s).expect("client");
        lookup_keys(&x3, &obrien().req()).expect("token in hand");
        check("client Debug", format!("{x3:?}"));
        for fault in [
            json!({"fail": {"count": 1, "status": 500}}),
            json!({"rate_limit": {"count": 1}}),
            json!({"html_error": {"count": 1}}),
        ] {
            faults(&sim, fault);
            let e = x3.create(&order("DECOY", "WC-S").req()).expect_err("fault");
            check("error", e.to_string());
            check("error Debug", format!("{e:?}"));
        }
        let e = x3
            .create(&order("NOSUCH", "WC-S").req())
            .expect_err("rejected");
        check("rejection", format!("{e} {e:?}"));
    }
    // Wrong secrets of each kind.
    for auth in [
        X3Auth::Basic {
            user: "admin".into(),
            password: "not-the-secret-xyz".into(),
        },
        X3Auth::ConnectedApp {
            client_id: cfg.client_id.clone(),
            secret: "not-the-secret-xyz".into(),
            user: "admin".into(),
            audience: String::new(),
            lifetime: Duration::from_secs(60),
            backdate: Duration::ZERO,
        },
        X3Auth::OAuth2 {
            token_url: format!("{}/v1/token", sim.base_url()),
            client_id: cfg.oauth_client_id.clone(),
            client_secret: "not-the-secret-xyz".into(),
        },
    ] {
        let x3 = client(&sim, ApiMode::Graphql, auth);
        check("client Debug", format!("{x3:?}"));
        let e = x3.create(&order("DECOY", "WC-S").req()).expect_err("auth");
        assert!(matches!(e, X3Error::Auth { .. }), "{e:?}");
        check("auth error", format!("{e} {e:?}"));
        let e = x3.ping().expect_err("ping");
        check("ping", e.to_string());
    }
    // A server echoing the Authorization header back is scrubbed too.
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{}", cfg.password))
    );
    let echo = canned(
        "400 Bad Request",
        "text/plain",
        &format!("bad header: {header} (admin)"),
    );
    let x3 = X3Client::new(settings(&echo, ApiMode::Rest, basic(&sim))).expect("client");
    let e = lookup_keys(&x3, &obrien().req()).expect_err("400");
    check("echoed header", format!("{e} {e:?}"));
    assert!(e.to_string().contains("<redacted>"), "{e}");
}

#[test]
fn bad_settings_are_config_errors() {
    let sim = sim();
    let mut s = settings(&sim.base_url(), ApiMode::Rest, basic(&sim));
    s.ca_file = Some("/nonexistent/x3-ca.pem".into());
    match X3Client::new(s) {
        Err(X3Error::Config(m)) => assert!(m.contains("/nonexistent/x3-ca.pem"), "{m}"),
        other => panic!("{other:?}"),
    }

    let dir = std::env::temp_dir().join(format!("x3-client-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("write");
    let mut s = settings(&sim.base_url(), ApiMode::Rest, basic(&sim));
    s.ca_file = Some(junk);
    assert!(matches!(X3Client::new(s), Err(X3Error::Config(_))));
    let _ = std::fs::remove_dir_all(&dir);

    for base in [
        "127.0.0.1:8124",
        "ftp://x3:21",
        "http://admin:pw@x3:8124",
        "http://",
    ] {
        match X3Client::new(settings(base, ApiMode::Rest, basic(&sim))) {
            Err(X3Error::Config(m)) => assert!(!m.contains("pw@"), "{m}"),
            other => panic!("{base}: {other:?}"),
        }
    }
    let mut s = settings(&sim.base_url(), ApiMode::Rest, basic(&sim));
    s.folder = "SEED/../x".into();
    assert!(matches!(X3Client::new(s), Err(X3Error::Config(_))));

    let x3 = client(&sim, ApiMode::Graphql, basic(&sim));
    let mut doc = customer("WV", "v@x.com");
    doc.variables = "{not json".into();
    assert!(matches!(x3.create(&doc.req()), Err(X3Error::Config(_))));
}

#[test]
fn client_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<X3Client>();
}

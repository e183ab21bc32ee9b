//! The status page, `/api/status`, `/metrics` and `/healthz` against a host started in-process
//! (`ml_connector::cli::serve::start`) between x3-sim and woo-sim: some orders post, one is held for a
//! product with no mapping row, one is refused by X3 (its item does not exist there). Shoppers'
//! names carry HTML. Then headless Chromium reads the page (`tests/browser/status-page.mjs`).
//!
//! The browser part needs `npm ci` at the repository root and Debian's `chromium`; set
//! `MLC_SKIP_BROWSER=1` to leave it out on a machine without them.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ml_connector::cli::serve::{Host, start};
use ml_connector::config::Config;
use mlc_sim::woo::{WooConfig, WooSim};
use mlc_sim::x3::{X3Config, X3Sim};
use serde_json::{Value, json};

const WEBHOOK_SECRET: &str = "status-hook-s3cret-Kq7";
const X3_PASSWORD: &str = "status-x3-pw-Vb2";
const FRAME_ORIGIN: &str = "https://shop.example";
/// `[status] metrics-token`: a Prometheus scrape's token, good for `/metrics` only.
const METRICS_TOKEN: &str = "metrics-scrape-token-Zr81x";
/// Shoppers' names that must come out as text, never as markup.
const SCRIPT_NAME: &str = "<script>alert(1)</script>";
const IMG_NAME: &str = "<img src=x onerror=alert(2)>";

/// woo-sim's catalogue, except the cap (no row: its orders are held). The mug maps to an item
/// that X3 does not have (it refuses the order).
const MAPPING: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
sku,WOO-TSHIRT,TSHIRT,UN,706100,CCT=WEB,
sku,WOO-MUG,MUG,UN,706200,CCT=WEB,
variation,14,HOODIE-RED,UN,706100,CCT=WEB,
variation,15,HOODIE-BLUE,UN,706100,CCT=WEB,
product,16,GIFTWRAP,UN,708000,,
shipping,flat_rate,CARRIAGE,UN,708500,,
";

fn x3_seed() -> Value {
    let codes = [
        "TSHIRT",
        "HOODIE-RED",
        "HOODIE-BLUE",
        "GIFTWRAP",
        "CARRIAGE",
    ];
    json!({
        "items": codes.iter().map(|c| json!({"ITMREF": c, "DES1AXX": c, "TCLCOD": "WEB", "STU": "UN", "SAU": "UN"})).collect::<Vec<_>>(),
        "stock": codes.iter().map(|c| json!({"STOFCY": "FR011", "ITMREF": c, "QTYSTU": 100000})).collect::<Vec<_>>(),
    })
}

struct World {
    x3: X3Sim,
    woo: WooSim,
    host: Host,
    dir: PathBuf,
}

impl World {
    fn start(name: &str) -> World {
        let dir = std::env::temp_dir().join(format!("mlc-status-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let x3 = X3Sim::start(X3Config {
            port: 0,
            password: X3_PASSWORD.into(),
            ..X3Config::default()
        })
        .unwrap();
        x3.seed(&x3_seed()).unwrap();
        let woo = WooSim::start(WooConfig {
            port: 0,
            auto_deliver: Some(Duration::from_millis(50)),
            ..WooConfig::default()
        })
        .unwrap();
        std::fs::write(dir.join("mapping.csv"), MAPPING).unwrap();
        std::fs::write(dir.join("webhook.secret"), WEBHOOK_SECRET).unwrap();
        let w = woo.config();
        let toml = format!(
            r#"listen = "127.0.0.1:0"
data-dir = "data"

[x3]
base-url = "{x3url}"
folder = "{folder}"
user = "{user}"
password = "{X3_PASSWORD}"
timeout-secs = 5
concurrency = 2

[woocommerce]
url = "{woo}"
consumer-key = "{ck}"
consumer-secret = "{cs}"
webhook-secret = {{ file = "webhook.secret" }}

[orders]
store-id = "status"
sales-site = "FR011"
order-type = "WEB"
invoice-type = "FAC"
customer-category = "WEBCU"
dimension-types = ["CCT", "DEP"]
mapping-file = "mapping.csv"

[retry]
base-backoff-ms = 100
max-backoff-secs = 2

[status]
frame-origins = ["{FRAME_ORIGIN}", "http://127.0.0.1:{embed}"]
metrics-token = "{METRICS_TOKEN}"
"#,
            x3url = x3.base_url(),
            folder = x3.config().folder,
            user = x3.config().user,
            woo = woo.site_url(),
            ck = w.consumer_key,
            cs = w.consumer_secret,
            embed = free_port(),
        );
        let path = dir.join("config.toml");
        std::fs::write(&path, toml).unwrap();
        let host = start(&Config::load(&path).unwrap()).unwrap();
        // As an operator would after starting the service: `ml-connector webhooks register`.
        let registered = host.ctx.lifecycle.register().unwrap();
        assert_eq!(registered.len(), 4);
        assert!(registered.iter().all(|r| r.action == "created"));
        World { x3, woo, host, dir }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host.http.addr())
    }

    /// The status pages' read token (`<data-dir>/status.token`).
    fn read_token(&self) -> String {
        token_file(&self.dir.join("data").join("status.token"))
    }

    fn admin_token(&self) -> String {
        token_file(&self.dir.join("data").join("admin.token"))
    }

    /// A status page as its reader gets it: with the read token.
    fn get(&self, url: &str) -> Got {
        get_with(url, Some(&format!("Bearer {}", self.read_token())))
    }

    /// Every secret of the configuration, and the consumer key (not secret, never shown).
    fn secrets(&self) -> Vec<String> {
        let w = self.woo.config();
        vec![
            WEBHOOK_SECRET.into(),
            X3_PASSWORD.into(),
            w.consumer_secret.clone(),
            w.consumer_key.clone(),
            METRICS_TOKEN.into(),
            self.read_token(),
            self.admin_token(),
        ]
    }

    fn place(&self, lines: Value, first: &str, last: &str, email: &str) -> u64 {
        let order = self
            .woo
            .place_order(&json!({
                "lines": lines,
                "billing": {
                    "first_name": first, "last_name": last, "company": "", "address_1": "1 Rue de l'Église",
                    "address_2": "", "city": "Saint-Étienne", "state": "", "postcode": "42000", "country": "FR",
                    "email": email, "phone": "+33 4 77 00 00 00"
                },
                "status": "processing",
                "shipping_method": "flat_rate",
            }))
            .unwrap();
        order["id"].as_u64().unwrap()
    }
}

struct Got {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn token_file(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

/// A GET without any token.
fn get(url: &str) -> Got {
    get_with(url, None)
}

/// A GET with this `Authorization` header.
fn get_with(url: &str, authorization: Option<&str>) -> Got {
    let mut req = ureq::get(url).config().http_status_as_error(false).build();
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    let mut resp = req.call().unwrap();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    Got {
        status: resp.status().as_u16(),
        headers,
        body: resp.body_mut().read_to_string().unwrap(),
    }
}

/// A loopback port for the browser check's embedding page (an origin allowed to frame).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn status_page_shows_flow_holds_and_refusals_escaped_and_without_secrets() {
    let w = World::start("page");
    let posted: Vec<u64> = vec![
        w.place(
            json!([{"sku": "WOO-TSHIRT", "quantity": 2}]),
            "Zoë",
            "Ørsted 山田",
            "zoe@example.com",
        ),
        w.place(
            json!([{"product_id": 13, "variation_id": 14, "quantity": 1}]),
            "Seán",
            "O'Brien",
            "sean@example.com",
        ),
        w.place(
            json!([{"product_id": 16, "quantity": 1}, {"sku": "WOO-TSHIRT", "quantity": 1}]),
            "Ana",
            "García-López",
            "ana@example.com",
        ),
    ];
    let held = w.place(
        json!([{"sku": "WOO-CAP", "quantity": 1}]),
        SCRIPT_NAME,
        "O'Brien & \"Sons\"",
        "held@example.com",
    );
    let refused = w.place(
        json!([{"sku": "WOO-MUG", "quantity": 1}]),
        IMG_NAME,
        "Dupont",
        "refused@example.com",
    );

    let api = || -> Value { serde_json::from_str(&w.get(&w.url("/api/status")).body).unwrap() };
    assert!(
        wait_until(Duration::from_secs(60), || {
            let s = api();
            s["orders"]["posted"] == 3 && s["orders"]["held"] == 1 && s["orders"]["attention"] == 1
        }),
        "orders did not settle: {}",
        api()
    );
    assert_eq!(
        w.x3.state()["records"]["SORDER"].as_array().unwrap().len(),
        3
    );

    // JSON.
    let s = api();
    assert_eq!(s["queue"]["depth"], 0, "{s}");
    assert_eq!(s["x3"]["verdict"], "ok", "{s}");
    assert_eq!(s["x3"]["breaker"], "closed");
    assert_eq!(s["x3"]["url"], w.x3.base_url());
    assert!(s["x3"]["last_success_at"].as_i64().is_some());
    assert_eq!(s["store"]["verdict"], "ok", "{s}");
    assert!(s["store"]["last_delivery_at"].as_i64().is_some());
    assert!(s["deliveries"]["stored"].as_i64().unwrap() >= 5);
    assert_eq!(s["throughput"]["posted"], 3);
    assert_eq!(
        s["throughput"]["posted_per_minute"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        3
    );
    assert!(s["throughput"]["lag_max_ms"].as_i64().unwrap() >= 0);
    let h = &s["held"][0];
    assert_eq!(h["order_id"], held);
    assert_eq!(
        h["customer"],
        format!("{SCRIPT_NAME} O'Brien & \"Sons\""),
        "JSON carries the raw text"
    );
    assert!(
        h["missing"][0]["tried"]
            .as_array()
            .unwrap()
            .contains(&json!("sku:WOO-CAP")),
        "{h}"
    );
    let a = &s["attention"][0];
    assert_eq!(a["order_id"], refused);
    let x3_message = a["message"].as_str().unwrap().to_string();
    assert!(
        x3_message.contains("MUG does not exist"),
        "X3's own words: {x3_message}"
    );

    // HTML.
    let page = w.get(&w.url("/status"));
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains(&format!("frame-ancestors 'self' {FRAME_ORIGIN}")),
        "{csp}"
    );
    assert!(
        csp.contains("default-src 'none'"),
        "no script may run: {csp}"
    );
    assert!(
        page.header("x-frame-options").is_none(),
        "CSP decides framing"
    );
    let html = &page.body;
    assert!(!html.contains("<script"), "no script, and no shopper's one");
    assert!(!html.contains("<img"));
    // The template (maud) escapes `&`, `<`, `>` and `"`; an apostrophe is left as is, inert in
    // text and in its double-quoted attributes (the hand-written escaper wrote `&#39;`).
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; O'Brien &amp; &quot;Sons&quot;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains(&format!("href=\"/status/orders/{held}\"")));
    assert!(html.contains(&format!("href=\"/status/orders/{refused}\"")));
    assert!(html.contains("<code>sku:WOO-CAP</code>"), "the missing key");
    assert!(html.contains("MUG does not exist"), "the X3 message");
    assert!(html.contains("<td id=\"count-posted\">3</td>"));
    assert!(html.contains("<td id=\"count-held\">1</td>"));
    assert!(html.contains("<td id=\"count-attention\">1</td>"));
    assert!(html.contains("<svg class=\"chart\" id=\"chart-posted\""));
    assert!(html.contains("<svg class=\"chart\" id=\"chart-lag\""));
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "no external asset"
    );
    assert!(!html.contains("<link"), "no external stylesheet");

    // One order's page.
    let order = w.get(&w.url(&format!("/status/orders/{refused}")));
    assert_eq!(order.status, 200);
    assert!(order.header("content-security-policy").is_some());
    assert!(order.body.contains("id=\"timeline\""));
    assert!(order.body.contains("id=\"ledger\""));
    assert!(order.body.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(!order.body.contains("<img"));
    assert!(order.body.contains("MUG does not exist"));
    let one_posted = w.get(&w.url(&format!("/status/orders/{}", posted[0])));
    assert!(
        one_posted.body.contains("done"),
        "the ledger row of the create"
    );
    let missing = w.get(&w.url("/status/orders/999999"));
    assert_eq!(missing.status, 404);
    assert_eq!(w.get(&w.url("/status/orders/%3Cx%3E")).status, 404);

    // Metrics.
    let m = w.get(&w.url("/metrics"));
    assert_eq!(m.status, 200);
    assert!(
        m.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    for line in [
        "ml_connector_orders{state=\"posted\"} 3",
        "ml_connector_orders{state=\"held\"} 1",
        "ml_connector_orders{state=\"attention\"} 1",
        "ml_connector_orders{state=\"failed\"} 0",
        "ml_connector_orders_posted_total 3",
        "ml_connector_queue_depth 0",
        "ml_connector_queue_oldest_age_seconds 0",
        "ml_connector_x3_breaker_open 0",
        "# TYPE ml_connector_deliveries_stored_total counter",
    ] {
        assert!(m.body.lines().any(|l| l == line), "{line} in\n{}", m.body);
    }

    // Health.
    let hz = get(&w.url("/healthz"));
    assert_eq!((hz.status, hz.body.contains("ok")), (200, true));

    // No secret anywhere.
    let bodies = [
        &page.body,
        &order.body,
        &one_posted.body,
        &m.body,
        &w.get(&w.url("/api/status")).body,
    ];
    for secret in w.secrets() {
        for b in bodies {
            assert!(!b.contains(&secret), "{secret} leaked");
        }
    }

    // Headless Chromium reads the page and clicks through to an order.
    browser_check(&w.url("/status"), &w.read_token());

    w.host.shutdown();
    let _ = std::fs::remove_dir_all(&w.dir);
}

fn browser_check(status_url: &str, read_token: &str) {
    if std::env::var_os("MLC_SKIP_BROWSER").is_some() {
        eprintln!("MLC_SKIP_BROWSER is set: the headless Chromium check is skipped");
        return;
    }
    let root = repo_root();
    assert!(
        root.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm ci` at {} (or set MLC_SKIP_BROWSER=1)",
        root.display()
    );
    let out = root.join("test-output");
    std::fs::create_dir_all(&out).unwrap();
    let run = Command::new("node")
        .arg(root.join("tests/browser/status-page.mjs"))
        .arg(status_url)
        .arg(out.join("status-page.png"))
        .env("MLC_STATUS_TOKEN", read_token)
        .current_dir(&root)
        .output()
        .expect("node is not installed");
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    eprintln!("{log}");
    assert!(run.status.success(), "the browser check failed:\n{log}");
}

#[test]
fn health_is_503_while_the_store_does_not_answer() {
    let w = World::start("down");
    assert_eq!(get(&w.url("/healthz")).status, 200);
    // Before anything happened: unknown, not ok.
    let s: Value = serde_json::from_str(&w.get(&w.url("/api/status")).body).unwrap();
    assert_eq!(s["x3"]["verdict"], "unknown", "{s}");
    assert_eq!(s["store"]["verdict"], "unknown");
    assert!(
        s["store"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("No delivery received yet")
    );
    // Another process holds the database's write lock (a stuck maintenance script): no delivery
    // could be stored, so the host is not healthy — after SQLite's 5-second busy timeout.
    let db = w.dir.join("data").join("ml-connector.sqlite3");
    let thief = rusqlite::Connection::open(&db).unwrap();
    thief.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let down = get(&w.url("/healthz"));
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.body.contains("unavailable"), "{}", down.body);
    // Reads still work (WAL): the page says what it can.
    assert_eq!(w.get(&w.url("/status")).status, 200);
    thief.execute_batch("ROLLBACK;").unwrap();
    drop(thief);
    assert_eq!(get(&w.url("/healthz")).status, 200);
    w.host.shutdown();
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[test]
fn frame_origins_that_are_not_origins_are_refused() {
    let base = "data-dir = \"d\"\n[x3]\nbase-url = \"http://x\"\nfolder = \"F\"\nuser = \"u\"\npassword = \"p\"\n\
                [woocommerce]\nurl = \"http://w/\"\nconsumer-key = \"k\"\nconsumer-secret = \"s\"\nwebhook-secret = \"h\"\n";
    for bad in [
        "https://shop.example; script-src *",
        "shop.example",
        "https://shop.example/wp-admin",
        "'none'",
        "*",
    ] {
        let text = format!("{base}[status]\nframe-origins = [{bad:?}]\n");
        let err = format!("{:#}", Config::parse(&text, Path::new("/tmp")).unwrap_err());
        assert!(err.contains("frame-origins"), "{bad}: {err}");
    }
    let ok = format!(
        "{base}[status]\nframe-origins = [\"https://shop.example\", \"http://localhost:8080\"]\n"
    );
    assert_eq!(
        Config::parse(&ok, Path::new("/tmp"))
            .unwrap()
            .status
            .frame_origins
            .len(),
        2
    );
}

/// Issue 14: the pages show shoppers' names, e-mails and totals, so every one of them needs a
/// token: the read token or the admin token (Bearer, or Basic with the token as the password — a
/// browser's login prompt), and `/metrics` also `[status] metrics-token`. `/healthz` stays open.
/// The read token opens no admin endpoint.
#[test]
fn status_pages_need_the_read_or_admin_token_and_metrics_takes_its_own() {
    use base64::Engine as _;
    use std::os::unix::fs::PermissionsExt;
    let w = World::start("tokens");
    let paths = [
        "/status",
        "/status/orders/1",
        "/api/status",
        "/metrics",
        "/status/reconcile.csv",
    ];
    let read = w.read_token();
    assert_eq!(read.len(), 64);
    assert_ne!(read, w.admin_token());
    let mode = std::fs::metadata(w.dir.join("data").join("status.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let basic = |token: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("anyone:{token}"))
        )
    };
    for path in paths {
        let url = w.url(path);
        let none = get(&url);
        assert_eq!(none.status, 401, "{path}: {}", none.body);
        assert!(
            none.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Basic realm=")),
            "{path}: a browser is asked for the password: {:?}",
            none.headers
        );
        assert!(
            !none.body.contains("ml-connector</h1>"),
            "{path}: nothing shown"
        );
        for wrong in [
            format!("Bearer {read}x"),
            basic("not-the-token"),
            format!("Basic {read}"),
            format!("Bearer {METRICS_TOKEN}"),
        ] {
            if path == "/metrics" && wrong.ends_with(METRICS_TOKEN) {
                continue;
            }
            assert_eq!(
                get_with(&url, Some(&wrong)).status,
                401,
                "{path} with {wrong}"
            );
        }
        for right in [
            format!("Bearer {read}"),
            basic(&read),
            format!("Bearer {}", w.admin_token()),
            basic(&w.admin_token()),
        ] {
            let got = get_with(&url, Some(&right));
            assert_ne!(got.status, 401, "{path}: {}", got.body);
        }
    }
    let m = get_with(&w.url("/metrics"), Some(&format!("Bearer {METRICS_TOKEN}")));
    assert_eq!(m.status, 200, "{}", m.body);
    assert!(m.body.contains("ml_connector_queue_depth"));
    assert_eq!(get(&w.url("/healthz")).status, 200, "health stays open");
    // The read token is not an admin token.
    let admin = get_with(
        &w.url("/api/admin/settings"),
        Some(&format!("Bearer {read}")),
    );
    assert_eq!(admin.status, 401);
    // A restart keeps the token.
    let before = w.read_token();
    let data = w.dir.join("data");
    w.host.shutdown();
    let again =
        ml_connector::http::admin::load_or_create_token_file(&data, "status.token").unwrap();
    assert_eq!(again.expose(), before);
    let _ = std::fs::remove_dir_all(&w.dir);
}

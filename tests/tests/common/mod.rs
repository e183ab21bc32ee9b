//! The end-to-end harness: both simulators in-process, the real `ml-connector` binary as a child
//! process, and helpers to read what ended up in the simulated X3.
//!
//! The binary is found next to the test executable's target directory (`target/<profile>/`), or
//! at `$ML_CONNECTOR_BIN`; `tests/run-all` builds it before running the tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mlc_sim::woo::{WooConfig, WooSim};
use mlc_sim::x3::{X3Config, X3Sim};
use serde_json::{Value, json};

pub const WEBHOOK_SECRET: &str = "e2e-hook-s3cret&amp;<x>";

/// The mapping every scenario uses: woo-sim's default catalogue to X3 items.
pub const MAPPING: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
sku,WOO-TSHIRT,TSHIRT,UN,706100,CCT=WEB,
sku,WOO-CAP,CAP,UN,706100,CCT=WEB,
sku,WOO-MUG,MUG,UN,706200,CCT=WEB;DEP=HOME,
variation,14,HOODIE-RED,UN,706100,CCT=WEB;DEP=APPAREL,
variation,15,HOODIE-BLUE,UN,706100,CCT=WEB;DEP=APPAREL,
product,16,GIFTWRAP,UN,708000,,
shipping,flat_rate,CARRIAGE,UN,708500,,
";

/// The X3 items of [`MAPPING`], as x3-sim seeds them.
pub fn x3_items() -> Value {
    let items: Vec<Value> = [
        "TSHIRT",
        "CAP",
        "MUG",
        "HOODIE-RED",
        "HOODIE-BLUE",
        "GIFTWRAP",
        "CARRIAGE",
    ]
    .iter()
    .map(|code| json!({"ITMREF": code, "DES1AXX": code, "TCLCOD": "WEB", "STU": "UN", "SAU": "UN"}))
    .collect();
    let stock: Vec<Value> = [
        "TSHIRT",
        "CAP",
        "MUG",
        "HOODIE-RED",
        "HOODIE-BLUE",
        "GIFTWRAP",
        "CARRIAGE",
    ]
    .iter()
    .map(|code| json!({"STOFCY": "FR011", "ITMREF": code, "QTYSTU": 100000}))
    .collect();
    json!({ "items": items, "stock": stock })
}

/// woo-sim's default stock runs out after a few dozen orders; scenarios place hundreds.
fn raise_stock(woo: &WooSim) {
    let c = woo.config();
    for path in [
        "products/10",
        "products/12",
        "products/13/variations/14",
        "products/13/variations/15",
    ] {
        let resp = ureq::put(&format!("{}/wp-json/wc/v3/{path}", woo.base_url()))
            .query("consumer_key", &c.consumer_key)
            .query("consumer_secret", &c.consumer_secret)
            .send_json(json!({"stock_quantity": 1_000_000}))
            .unwrap();
        assert!(resp.status().is_success(), "{path}");
    }
}

/// The ml-connector binary to test.
pub fn host_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ML_CONNECTOR_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test-binary> → target/<profile>/ml-connector
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("ml-connector");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p ml-connector, or tests/run-all)",
        bin.display()
    );
    bin
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlc-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How the host talks to X3 in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Basic,
    ConnectedApp,
    OAuth2,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub graphql: bool,
    pub auth: Auth,
    pub x3_timeout_secs: u64,
    pub concurrency: usize,
    /// Extra lines for the `[orders]` section.
    pub orders_extra: String,
    pub x3: X3Config,
    pub woo_auto_deliver: Option<Duration>,
    /// Extra lines for the `[woocommerce]` section. Default `auth = "basic"`: woo-sim assumes
    /// HTTPS (a TLS-terminating proxy), where WooCommerce takes Basic auth, while the host's
    /// OAuth 1.0a over http:// would be refused.
    pub woo_extra: String,
    /// Whole sections appended to the config (`[webhooks]`, `[x3-poll]`, `[reconcile]`…).
    pub config_tail: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            graphql: false,
            auth: Auth::Basic,
            x3_timeout_secs: 5,
            concurrency: 3,
            orders_extra: String::new(),
            x3: X3Config {
                port: 0,
                ..X3Config::default()
            },
            woo_auto_deliver: Some(Duration::from_millis(50)),
            woo_extra: "auth = \"basic\"".into(),
            config_tail: String::new(),
        }
    }
}

/// Both simulators, a data directory and a config for the host.
pub struct Env {
    pub x3: X3Sim,
    pub woo: WooSim,
    pub dir: PathBuf,
    pub host_port: u16,
    pub config: PathBuf,
    pub opts: Options,
}

impl Env {
    pub fn new(name: &str, opts: Options) -> Env {
        let dir = scratch_dir(name);
        let x3 = X3Sim::start(opts.x3.clone()).unwrap();
        x3.seed(&x3_items()).unwrap();
        // https_assumed: as behind a TLS-terminating proxy, so Basic auth works over plain HTTP (the
        // harness raises stock with it, and the host uses it: `auth = "basic"` below).
        let woo = WooSim::start(WooConfig {
            port: 0,
            auto_deliver: opts.woo_auto_deliver,
            https_assumed: true,
            ..WooConfig::default()
        })
        .unwrap();
        raise_stock(&woo);
        let host_port = free_port();
        std::fs::write(dir.join("mapping.csv"), MAPPING).unwrap();
        std::fs::write(dir.join("webhook.secret"), WEBHOOK_SECRET).unwrap();
        let config = dir.join("config.toml");
        let env = Env {
            x3,
            woo,
            dir,
            host_port,
            config,
            opts,
        };
        std::fs::write(&env.config, env.config_toml()).unwrap();
        for topic in [
            "order.created",
            "order.updated",
            "order.deleted",
            "order.restored",
        ] {
            env.create_webhook(topic, &env.delivery_url());
        }
        env
    }

    pub fn delivery_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhooks/woocommerce", self.host_port)
    }

    pub fn create_webhook(&self, topic: &str, url: &str) {
        let resp = ureq::post(&format!("{}/__sim/webhooks", self.woo.base_url()))
            .send_json(json!({"name": format!("ml-connector: {topic}"), "topic": topic, "delivery_url": url, "secret": WEBHOOK_SECRET, "status": "active"}))
            .unwrap();
        assert!(resp.status().is_success());
    }

    fn config_toml(&self) -> String {
        let x = self.x3.config();
        let auth = match self.opts.auth {
            Auth::Basic => format!(
                "auth = \"basic\"\nuser = \"{}\"\npassword = \"{}\"\n",
                x.user, x.password
            ),
            Auth::ConnectedApp => format!(
                "auth = \"connected-app\"\nclient-id = \"{}\"\nsecret = \"{}\"\njwt-user = \"{}\"\njwt-lifetime-secs = 60\n",
                x.client_id, x.secret, x.jwt_user
            ),
            Auth::OAuth2 => format!(
                "auth = \"oauth2\"\ntoken-url = \"{}/v1/token\"\noauth-client-id = \"{}\"\noauth-client-secret = \"{}\"\n",
                self.x3.base_url(),
                x.oauth_client_id,
                x.oauth_client_secret
            ),
        };
        let w = self.woo.config();
        format!(
            r#"listen = "127.0.0.1:{port}"
data-dir = "data"

[x3]
base-url = "{x3url}"
folder = "{folder}"
api = "{api}"
{auth}timeout-secs = {timeout}
concurrency = {concurrency}

[woocommerce]
url = "{woo}"
consumer-key = "{ck}"
consumer-secret = "{cs}"
webhook-secret = {{ file = "webhook.secret" }}
{woo_extra}

[orders]
store-id = "e2e"
sales-site = "FR011"
order-type = "WEB"
invoice-type = "FAC"
customer-category = "WEBCU"
dimension-types = ["CCT", "DEP"]
mapping-file = "mapping.csv"
{extra}

[retry]
base-backoff-ms = 100
max-backoff-secs = 2

{tail}
"#,
            port = self.host_port,
            x3url = self.x3.base_url(),
            folder = x.folder,
            api = if self.opts.graphql { "graphql" } else { "rest" },
            timeout = self.opts.x3_timeout_secs,
            concurrency = self.opts.concurrency,
            woo = self.woo.site_url(),
            ck = w.consumer_key,
            cs = w.consumer_secret,
            extra = self.opts.orders_extra,
            woo_extra = self.opts.woo_extra,
            tail = self.opts.config_tail,
        )
    }

    /// `PUT /orders/<id>` over woo-sim's REST API, as the shop's admin screen saves an order:
    /// every save fires `order.updated`.
    pub fn put_status(&self, id: u64, status: &str) {
        let c = self.woo.config();
        let resp = ureq::put(&format!(
            "{}/wp-json/wc/v3/orders/{id}",
            self.woo.base_url()
        ))
        .query("consumer_key", &c.consumer_key)
        .query("consumer_secret", &c.consumer_secret)
        .send_json(json!({ "status": status }))
        .unwrap();
        assert!(resp.status().is_success());
    }

    /// Every X3 record of a class.
    pub fn x3_records(&self, class: &str) -> Vec<Value> {
        self.x3.state()["records"][class]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Sales orders in X3 grouped by CUSORDREF.
    pub fn x3_orders_by_reference(&self) -> BTreeMap<String, Vec<Value>> {
        let mut by_ref: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for o in self.x3_records("SORDER") {
            by_ref
                .entry(o["CUSORDREF"].as_str().unwrap_or("").to_string())
                .or_default()
                .push(o);
        }
        by_ref
    }
}

/// A running `ml-connector serve`.
pub struct HostProc {
    child: Child,
    pub addr: String,
    log: PathBuf,
    data_dir: PathBuf,
}

impl HostProc {
    pub fn start(env: &Env) -> HostProc {
        let log = env.dir.join(format!(
            "host-{}.log",
            Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id())
        ));
        let log = if log.exists() {
            env.dir.join(format!("host-{}.log", free_port()))
        } else {
            log
        };
        let mut child = Command::new(host_binary())
            .args(["serve", "--config"])
            .arg(&env.config)
            .env("MLC_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the host did not get ready; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(ready["event"], "ready", "{line}");
        HostProc {
            child,
            addr: ready["listen"].as_str().unwrap().to_string(),
            log,
            data_dir: env.dir.join("data"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no drain, no goodbye.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the host did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn status(&self) -> Value {
        let mut resp = self.get("/api/status").call().unwrap();
        resp.body_mut().read_json().unwrap()
    }

    /// The status pages' read token (they need it: they show shoppers' data).
    pub fn read_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("status.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// A GET of a status page (`/status…`, `/api/status`, `/metrics`) with the read token.
    pub fn get(&self, path: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        ureq::get(&self.url(path)).header("Authorization", format!("Bearer {}", self.read_token()))
    }
}

impl Drop for HostProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` every 100 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

/// A small deterministic generator, so a failing run can be replayed exactly.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const NAMES: [(&str, &str); 6] = [
    ("Zoë", "Ørsted 山田"),
    ("Seán", "O'Brien"),
    ("Ana", "García-López"),
    ("Jean", "Dupont"),
    ("Анна", "Иванова"),
    ("Li", "Wei"),
];

/// A realistic checkout: 1–3 lines from the default catalogue, some coupons, repeat customers.
pub fn checkout(rng: &mut Lcg, n: u64) -> Value {
    let products = [
        json!({"sku": "WOO-TSHIRT"}),
        json!({"sku": "WOO-CAP"}),
        json!({"sku": "WOO-MUG"}),
        json!({"product_id": 13, "variation_id": 14}),
        json!({"product_id": 13, "variation_id": 15}),
        json!({"product_id": 16}),
    ];
    let count = 1 + rng.below(3);
    let mut lines = Vec::new();
    let mut used = Vec::new();
    while lines.len() < count as usize {
        let i = rng.below(products.len() as u64) as usize;
        if used.contains(&i) {
            continue;
        }
        used.push(i);
        let mut l = products[i].clone();
        l["quantity"] = json!(1 + rng.below(3));
        lines.push(l);
    }
    // One order in three is from one of ten returning customers; the rest are new.
    let customer = if n.is_multiple_of(3) {
        n % 10
    } else {
        1000 + n
    };
    let (first, last) = NAMES[(customer % NAMES.len() as u64) as usize];
    let email = if customer % 2 == 0 {
        format!(
            "{}.{}+{customer}@Example.com",
            first.to_lowercase(),
            "o'brien"
        )
    } else {
        format!("buyer{customer}@example.com")
    };
    let mut order = json!({
        "lines": lines,
        "billing": {
            "first_name": first, "last_name": last, "company": "",
            "address_1": format!("{n} Rue de l'Église"), "address_2": "", "city": "Saint-Étienne",
            "state": "", "postcode": "42000", "country": "FR", "email": email, "phone": "+33 4 77 00 00 00"
        },
        "status": "processing",
        "shipping_method": "flat_rate",
    });
    if n.is_multiple_of(5) {
        order["coupon"] = json!("save10");
    }
    order
}

/// A TCP forwarder that can be told to fail: a proxy, load balancer or firewall between the shop
/// and the connector (or the connector and the shop's REST API). Failing, it answers 502 with an
/// HTML page. Requests are forwarded with `Connection: close`.
pub struct FaultProxy {
    pub addr: String,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Requests still let through while failing is on (then it fails).
    budget: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub failed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl FaultProxy {
    pub fn start(target: String) -> FaultProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let failing = Arc::new(AtomicBool::new(false));
        let budget = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let (f, b, n) = (
            Arc::clone(&failing),
            Arc::clone(&budget),
            Arc::clone(&failed),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (f, b, n, target) = (
                    Arc::clone(&f),
                    Arc::clone(&b),
                    Arc::clone(&n),
                    target.clone(),
                );
                std::thread::spawn(move || {
                    let _ = forward(conn, &target, &f, &b, &n);
                });
            }
        });
        FaultProxy {
            addr,
            failing,
            budget,
            failed,
        }
    }

    /// `http://<proxy>/webhooks/woocommerce`, for a proxy in front of the host.
    pub fn url(&self) -> String {
        format!("http://{}/webhooks/woocommerce", self.addr)
    }

    pub fn fail(&self, on: bool) {
        self.budget.store(0, std::sync::atomic::Ordering::SeqCst);
        self.failing.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Let `n` more requests through, then fail every one.
    pub fn fail_after(&self, n: u64) {
        self.budget.store(n, std::sync::atomic::Ordering::SeqCst);
        self.failing
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn forward(
    mut client: std::net::TcpStream,
    target: &str,
    failing: &std::sync::atomic::AtomicBool,
    budget: &std::sync::atomic::AtomicU64,
    failed: &std::sync::atomic::AtomicU64,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
        if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&req[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while req.len() < head_end + len {
        let n = client.read(&mut buf)?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let pass = !failing.load(Ordering::SeqCst)
        || budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
            .is_ok();
    if !pass {
        failed.fetch_add(1, Ordering::SeqCst);
        let body = b"<html><head><title>502 Bad Gateway</title></head><body>502</body></html>";
        write!(
            client,
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        )?;
        return client.write_all(body);
    }
    // One request per upstream connection: the answer ends when the upstream closes.
    let mut out: Vec<u8> = Vec::with_capacity(req.len() + 19);
    for (i, line) in head.trim_end_matches("\r\n").split("\r\n").enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&req[head_end..]);
    let mut upstream = std::net::TcpStream::connect(target)?;
    upstream.write_all(&out)?;
    let mut resp = Vec::new();
    upstream.read_to_end(&mut resp)?;
    client.write_all(&with_connection_close(&resp))
}

/// The answer with `Connection: close` in its head: the proxy closes the client's connection
/// after each answer, and a client that was not told so keeps it for the next request, which
/// then meets a closed socket (a reset, under load).
fn with_connection_close(resp: &[u8]) -> Vec<u8> {
    let Some(head_end) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        return resp.to_vec();
    };
    let head = String::from_utf8_lossy(&resp[..head_end]);
    let mut out = Vec::with_capacity(resp.len() + 19);
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&resp[head_end + 4..]);
    out
}

//! `ml-connector sandbox`: the whole product on one machine, with nothing to set up.
//!
//! Starts the X3 and WooCommerce simulators in this process, seeds X3 with the items of
//! woo-sim's default catalogue, writes a config and a mapping into a data directory, starts the
//! real host on them ([`serve::start`], the same code as `serve`), registers the shop's webhooks
//! through the WooCommerce REST API, and places a stream of realistic orders: guests and
//! registered customers, variations, coupons, names with accents, apostrophes and CJK, orders
//! paid later (pending → processing) and completed later (processing → completed).
//!
//! With `--orders N --exit-when-done` it is a self-check: every order is postable, and the run
//! succeeds only if X3 ends up with exactly one sales document per order. Without it, it keeps
//! placing an order every few seconds until Ctrl-C, and now and then sells the gift wrapping,
//! which the sandbox mapping leaves out on purpose, so the status page shows a hold.
//!
//! Human output (the status URL, progress) goes to stderr; stdout carries only the one-line JSON
//! summary, so `ml-connector sandbox --orders 30 --exit-when-done | jq` works.

use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mlc_sim::woo::{WooConfig, WooSim};
use mlc_sim::x3::{X3Config, X3Sim};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::serve::{self, Host};
use crate::config::Config;
use crate::store::OrderState;

/// The port the sandbox listens on when `--port` is not given (8787 is `serve`'s default, so a
/// real service on the same machine does not collide); when taken, any free port.
pub const DEFAULT_PORT: u16 = 8788;

/// The webhook secret of the sandbox shop. Fixed: the sandbox listens on 127.0.0.1 only.
const WEBHOOK_SECRET: &str = "sandbox-webhook-secret";

/// woo-sim's default catalogue, mapped. Product 16 (gift wrapping, no SKU) is left out on
/// purpose: the continuous stream sells it now and then to show what a hold looks like.
const MAPPING: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
sku,WOO-TSHIRT,TSHIRT,UN,706100,CCT=WEB,
sku,WOO-CAP,CAP,UN,706100,CCT=WEB,
sku,WOO-MUG,MUG,UN,706200,CCT=WEB;DEP=HOME,
variation,14,HOODIE-RED,UN,706100,CCT=WEB;DEP=APPAREL,
variation,15,HOODIE-BLUE,UN,706100,CCT=WEB;DEP=APPAREL,
shipping,flat_rate,CARRIAGE,UN,708500,,
shipping,free_shipping,CARRIAGE,UN,708500,,
";

/// X3 items: every mapped one, and GIFTWRAP so that mapping product 16 releases its holds.
const ITEMS: [&str; 7] = [
    "TSHIRT",
    "CAP",
    "MUG",
    "HOODIE-RED",
    "HOODIE-BLUE",
    "GIFTWRAP",
    "CARRIAGE",
];

/// States an order does not leave without a new event or an operator.
const SETTLED: [OrderState; 5] = [
    OrderState::Posted,
    OrderState::Held,
    OrderState::Attention,
    OrderState::Failed,
    OrderState::Trashed,
];

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Orders to place; None: a stream without end.
    pub orders: Option<u64>,
    pub exit_when_done: bool,
    /// None: [`DEFAULT_PORT`], or any free port when it is taken. Some(0): any free port.
    pub port: Option<u16>,
    /// None: a new directory under the system's temp directory.
    pub data_dir: Option<PathBuf>,
}

/// The one-line JSON summary of `--exit-when-done`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub orders_placed: u64,
    /// Sales documents in X3 (the simulator starts empty, so all of them are the sandbox's).
    pub documents_in_x3: u64,
    /// Documents beyond the first for one order reference.
    pub duplicates: u64,
    pub held: u64,
    /// Orders in `attention` or `failed`.
    pub failed: u64,
    /// From the first order placed until every order settled.
    pub elapsed_ms: u64,
}

/// Both simulators and the host wired to them.
pub struct Sandbox {
    pub x3: X3Sim,
    pub woo: WooSim,
    pub host: Host,
    pub data_dir: PathBuf,
    pub config_path: PathBuf,
    /// `http://127.0.0.1:<port>/status`
    pub status_url: String,
}

impl Sandbox {
    /// Starts the simulators and the host, and registers the webhooks.
    pub fn start(data_dir: &Path, port: Option<u16>) -> Result<Sandbox> {
        if data_dir.join("ml-connector.sqlite3").exists() {
            bail!(
                "{} already holds a sandbox's orders, and the simulators start empty every time \
                 (their order numbers would collide with the stored ones): give a new --data-dir \
                 or delete this one",
                data_dir.display()
            );
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let x3 = X3Sim::start(X3Config::default()).context("starting the X3 simulator")?;
        x3.seed(&x3_seed())
            .map_err(|e| anyhow::anyhow!("seeding the X3 simulator: {e}"))?;
        // Deliveries run every 50 ms, as Action Scheduler would run them soon after the event.
        let woo = WooSim::start(WooConfig {
            auto_deliver: Some(Duration::from_millis(50)),
            ..WooConfig::default()
        })
        .context("starting the WooCommerce simulator")?;

        std::fs::write(data_dir.join("mapping.csv"), MAPPING)?;
        let config_path = data_dir.join("config.toml");
        let (cfg, host) = match port {
            Some(p) => start_host(data_dir, &config_path, &x3, &woo, p)
                .with_context(|| format!("starting the host on 127.0.0.1:{p}"))?,
            None => match start_host(data_dir, &config_path, &x3, &woo, DEFAULT_PORT) {
                Ok(v) => v,
                // Taken (another sandbox, say): any free port will do.
                Err(_) => {
                    start_host(data_dir, &config_path, &x3, &woo, 0).context("starting the host")?
                }
            },
        };
        let addr = host.http.addr();
        let client = crate::clients::woo_client(&cfg)?;
        // woo-sim's default stock runs out after a few dozen orders.
        for (product, variation) in [(10, 0), (12, 0), (13, 14), (13, 15)] {
            client
                .set_stock(product, variation, 1_000_000)
                .with_context(|| format!("raising the stock of product {product}"))?;
        }
        // As an operator would: `ml-connector webhooks register` (which also runs the monitor's
        // first check, so the status page has no stale "no webhook" alert).
        host.ctx
            .lifecycle
            .register()
            .map_err(|e| anyhow::anyhow!("registering the webhooks: {e}"))?;
        Ok(Sandbox {
            x3,
            woo,
            host,
            data_dir: data_dir.to_path_buf(),
            config_path,
            status_url: format!("http://{addr}/status"),
        })
    }

    /// Stops the shop first (no more deliveries), then the host (drains), then X3.
    pub fn stop(self) {
        self.woo.stop();
        self.host.shutdown();
        self.x3.stop();
    }

    /// Sales documents in X3 per customer order reference.
    pub fn documents_by_reference(&self) -> BTreeMap<String, u64> {
        let class = &self.x3.config().classes.order.0;
        let mut out = BTreeMap::new();
        if let Some(docs) = self.x3.state()["records"][class.as_str()].as_array() {
            for d in docs {
                let r = d["CUSORDREF"].as_str().unwrap_or("").to_string();
                *out.entry(r).or_insert(0) += 1;
            }
        }
        out
    }

    /// Deliveries woo-sim has queued and not sent yet.
    fn deliveries_pending(&self) -> Result<usize> {
        let mut r = ureq::get(&format!("{}/__sim/queue", self.woo.base_url())).call()?;
        let v: Value = r.body_mut().read_json()?;
        Ok(v.as_array().map_or(0, Vec::len))
    }
}

fn x3_seed() -> Value {
    let items: Vec<Value> = ITEMS
        .iter()
        .map(|c| json!({"ITMREF": c, "DES1AXX": c, "TCLCOD": "WEB", "STU": "UN", "SAU": "UN"}))
        .collect();
    let stock: Vec<Value> = ITEMS
        .iter()
        .map(|c| json!({"STOFCY": "FR011", "ITMREF": c, "QTYSTU": 1_000_000}))
        .collect();
    json!({ "items": items, "stock": stock })
}

/// Writes the config for `port` and starts the host on it.
fn start_host(
    data_dir: &Path,
    config_path: &Path,
    x3: &X3Sim,
    woo: &WooSim,
    port: u16,
) -> Result<(Config, Host)> {
    write_private(config_path, &config_toml(data_dir, x3, woo, port))?;
    let cfg = Config::load(config_path)?;
    let host = serve::start(&cfg)?;
    Ok((cfg, host))
}

/// The config holds the simulators' (fixed, documented) credentials: readable by its owner only,
/// like any real one.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut f, text.as_bytes())?;
    Ok(())
}

fn config_toml(data_dir: &Path, x3: &X3Sim, woo: &WooSim, port: u16) -> String {
    let x = x3.config();
    let w = woo.config();
    format!(
        r#"# Written by `ml-connector sandbox`: the host against in-process simulators.
# The simulators are gone once the sandbox stops; the orders stay in this directory, so
# `ml-connector orders list --config {path}` still works.
listen = "127.0.0.1:{port}"
data-dir = {data_dir}

[x3]
base-url = "{x3url}"
folder = "{folder}"
api = "rest"
auth = "basic"
user = "{user}"
password = "{password}"
timeout-secs = 10
concurrency = 3

[woocommerce]
url = "{woo}"
consumer-key = "{ck}"
consumer-secret = "{cs}"
webhook-secret = "{WEBHOOK_SECRET}"

[orders]
store-id = "sandbox"
sales-site = "FR011"
order-type = "WEB"
invoice-type = "FAC"
customer-category = "WEBCU"
dimension-types = ["CCT", "DEP"]
mapping-file = "mapping.csv"

[retry]
base-backoff-ms = 200
max-backoff-secs = 5

# The sandbox shows posting; shipped/cancelled/refunded orders (docs/stock-and-refunds.md) would
# leave "posted" for states its tally and the CLI tests do not count yet.
[stock]
enabled = false
"#,
        path = data_dir.join("config.toml").display(),
        data_dir = toml::Value::String(data_dir.display().to_string()),
        x3url = x3.base_url(),
        folder = x.folder,
        user = x.user,
        password = x.password,
        woo = woo.site_url(),
        ck = w.consumer_key,
        cs = w.consumer_secret,
    )
}

/// A small deterministic generator: the same run places the same orders.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Shoppers: accents, an apostrophe in a name and in an e-mail, Cyrillic, CJK.
const SHOPPERS: [(&str, &str, &str); 8] = [
    ("Zoë", "Ørsted 山田", "zoe.orsted@example.com"),
    ("Seán", "O'Brien", "sean.o'brien@example.ie"),
    ("Ana", "García-López", "ana.garcia@example.es"),
    ("Jean", "Dupont", "jean.dupont@example.fr"),
    ("Анна", "Иванова", "anna.ivanova@example.com"),
    ("Li", "Wei", "li.wei@example.cn"),
    ("Chloé", "D'Arcy-Lefèvre", "Chloe.DArcy@Example.FR"),
    ("Ngọc", "Nguyễn", "ngoc.nguyen@example.vn"),
];

const CITIES: [(&str, &str, &str); 4] = [
    ("Saint-Étienne", "42000", "FR"),
    ("L'Haÿ-les-Roses", "94240", "FR"),
    ("Köln", "50667", "DE"),
    ("Dún Laoghaire", "A96 K2F0", "IE"),
];

/// One order to place and what happens to it afterwards.
struct Planned {
    checkout: Value,
    first_status: &'static str,
    /// Status changes after the checkout, in order.
    later: Vec<&'static str>,
    describe: String,
}

/// The n-th order of the stream. `allow_unmapped`: may sell the unmapped gift wrapping.
fn plan(rng: &mut Lcg, n: u64, allow_unmapped: bool) -> Planned {
    let products = [
        (json!({"sku": "WOO-TSHIRT"}), "T-shirt"),
        (json!({"sku": "WOO-CAP"}), "cap"),
        (json!({"sku": "WOO-MUG"}), "mug"),
        (json!({"product_id": 13, "variation_id": 14}), "red hoodie"),
        (json!({"product_id": 13, "variation_id": 15}), "blue hoodie"),
    ];
    let count = 1 + rng.below(3) as usize;
    let mut lines = Vec::new();
    let mut names = Vec::new();
    let mut used = Vec::new();
    while lines.len() < count {
        let i = rng.below(products.len() as u64) as usize;
        if used.contains(&i) {
            continue;
        }
        used.push(i);
        let mut l = products[i].0.clone();
        let qty = 1 + rng.below(3);
        l["quantity"] = json!(qty);
        lines.push(l);
        names.push(format!("{qty}× {}", products[i].1));
    }
    if allow_unmapped && n % 12 == 7 {
        lines.push(json!({"product_id": 16, "quantity": 1}));
        names.push("gift wrapping (unmapped)".into());
    }
    let (first, last, email) = SHOPPERS[rng.below(SHOPPERS.len() as u64) as usize];
    let (city, postcode, country) = CITIES[rng.below(CITIES.len() as u64) as usize];
    // Two orders in five come from a registered customer (a few of them, who come back); the
    // rest are guests with an e-mail of their own.
    let registered = rng.below(5) < 2;
    let (customer_id, email) = if registered {
        let c = 100 + rng.below(6);
        (c, format!("customer{c}.{email}"))
    } else {
        (0, format!("guest{n}.{email}"))
    };
    let billing = json!({
        "first_name": first, "last_name": last, "company": if n % 9 == 4 { "Café de l'Ouest SARL" } else { "" },
        "address_1": format!("{} rue de l'Église", 1 + n % 120), "address_2": "",
        "city": city, "state": "", "postcode": postcode, "country": country,
        "email": email, "phone": "+33 4 77 00 00 00"
    });
    let mut checkout = json!({
        "lines": lines,
        "billing": billing,
        "customer_id": customer_id,
        "shipping_method": if n % 6 == 5 { "free_shipping" } else { "flat_rate" },
        "payment_method": if n % 4 == 1 { "bacs" } else { "stripe" },
    });
    let mut coupon = "";
    if n.is_multiple_of(5) {
        coupon = "save10";
    } else if n % 7 == 3 {
        coupon = "fiveoff";
    }
    if !coupon.is_empty() {
        checkout["coupon"] = json!(coupon);
    }
    // Bank transfers are paid later: pending, then processing. One order in three ships.
    let (first_status, mut later) = if n % 4 == 1 {
        ("pending", vec!["processing"])
    } else {
        ("processing", Vec::new())
    };
    if n.is_multiple_of(3) {
        later.push("completed");
    }
    checkout["status"] = json!(first_status);
    let who = if registered {
        format!("customer #{customer_id}")
    } else {
        "guest".to_string()
    };
    let describe = format!(
        "{first} {last} ({who}): {}{}{}",
        names.join(", "),
        if coupon.is_empty() {
            String::new()
        } else {
            format!(", coupon {coupon}")
        },
        if later.is_empty() {
            String::new()
        } else {
            format!(", then {}", later.join(" → "))
        }
    );
    Planned {
        checkout,
        first_status,
        later,
        describe,
    }
}

/// A placed order and the status it should end with.
struct Placed {
    id: u64,
    final_status: &'static str,
}

/// Shows progress: a bar on a terminal, plain lines otherwise. Both on stderr.
struct Progress {
    bar: Option<ProgressBar>,
    last_line: Instant,
    last_text: String,
}

impl Progress {
    fn new(total: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(n) => {
                    let b = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr());
                    b.set_style(
                        ProgressStyle::with_template("{spinner} {bar:24} {pos}/{len} · {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b
                }
                None => {
                    let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    b.set_style(
                        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    b
                }
            };
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            last_line: Instant::now(),
            last_text: String::new(),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(b) => b.println(text),
            None => errln!("{text}"),
        }
    }

    fn update(&mut self, settled: u64, text: String) {
        match &self.bar {
            Some(b) => {
                b.set_position(settled);
                b.set_message(text);
            }
            // Plain lines: one when something changed, at most one a second.
            None => {
                let text = format!("{settled} settled · {text}");
                if text != self.last_text && self.last_line.elapsed() >= Duration::from_secs(1) {
                    errln!("{text}");
                    self.last_line = Instant::now();
                    self.last_text = text;
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Counts of the placed orders by where they stand.
#[derive(Debug, Default)]
struct Tally {
    settled: u64,
    posted: u64,
    held: u64,
    failed: u64,
}

fn tally(sandbox: &Sandbox, placed: &[Placed]) -> Result<(Tally, Vec<u64>)> {
    let store = &sandbox.host.ctx.store;
    let mut t = Tally::default();
    let mut held = Vec::new();
    for p in placed {
        let Some(row) = store.load_order(p.id)? else {
            continue;
        };
        match row.state {
            OrderState::Posted => t.posted += 1,
            OrderState::Held => {
                t.held += 1;
                held.push(p.id);
            }
            OrderState::Attention | OrderState::Failed => t.failed += 1,
            _ => {}
        }
        // Settled: in a resting state, no job queued, and the newest status we set seen.
        if SETTLED.contains(&row.state)
            && !row.dirty
            && row.status.as_deref() == Some(p.final_status)
        {
            t.settled += 1;
        }
    }
    Ok((t, held))
}

/// Runs the sandbox until done (`--exit-when-done`) or until Ctrl-C.
pub fn run(opts: &Options) -> Result<()> {
    let (data_dir, temporary) = match &opts.data_dir {
        Some(d) => (d.clone(), false),
        None => {
            let d = std::env::temp_dir().join(format!(
                "ml-connector-sandbox-{}-{}",
                std::process::id(),
                crate::store::now_ms()
            ));
            (d, true)
        }
    };
    // Absolute: the config written into it names it, and messages print it.
    let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first Ctrl-C stops cleanly (drains the host); a second one exits at once.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }

    errln!("ml-connector sandbox: starting simulated Sage X3 and WooCommerce…");
    let sandbox = Sandbox::start(&data_dir, opts.port)?;
    errln!("  status page   {}", sandbox.status_url);
    errln!(
        "  its login     any user name; the password is the read token: cat {}",
        sandbox
            .data_dir
            .join(crate::http::admin::READ_TOKEN_FILE)
            .display()
    );
    errln!("  X3 (sim)      {}", sandbox.x3.base_url());
    errln!("  shop (sim)    {}", sandbox.woo.site_url());
    errln!("  data, config  {}", sandbox.data_dir.display());
    errln!(
        "  try           ml-connector orders list --config {}",
        sandbox.config_path.display()
    );
    if !opts.exit_when_done {
        errln!("Placing orders; Ctrl-C stops.");
    }

    let outcome = drive(&sandbox, opts, &stop);
    let stopped_by_user = stop.load(Ordering::SeqCst);
    sandbox.stop();
    let summary = match outcome {
        Ok(s) => s,
        Err(e) => {
            return Err(e.context(format!(
                "the sandbox's data is kept in {}",
                data_dir.display()
            )));
        }
    };
    if !opts.exit_when_done {
        errln!(
            "Stopped. The orders are kept in {} (ml-connector orders list --config {}).",
            data_dir.display(),
            data_dir.join("config.toml").display()
        );
        return Ok(());
    }
    outln!("{}", serde_json::to_string(&summary)?);
    let postable = summary.orders_placed;
    if stopped_by_user {
        bail!("interrupted before every order settled");
    }
    if summary.documents_in_x3 != postable || summary.duplicates > 0 || summary.held > 0 {
        bail!(
            "X3 holds {} sales document(s) for {} order(s) ({} duplicate(s), {} held, {} failed); \
             the sandbox's data is kept in {}",
            summary.documents_in_x3,
            postable,
            summary.duplicates,
            summary.held,
            summary.failed,
            data_dir.display()
        );
    }
    if temporary {
        // Success leaves nothing behind; a failure keeps the data to look into.
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    Ok(())
}

/// Places the orders and, for `--exit-when-done`, waits for them to settle.
fn drive(sandbox: &Sandbox, opts: &Options, stop: &AtomicBool) -> Result<Summary> {
    let mut d = Driver::new(sandbox, opts.orders);
    let mut last_progress = Instant::now();
    let mut last_tally = Instant::now();
    let mut last_settled = 0;
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        d.place_if_due(Instant::now())?;
        d.change_statuses()?;
        // Reading the store shares its lock with the host's workers: a few times a second.
        if last_tally.elapsed() < Duration::from_millis(200) {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        last_tally = Instant::now();
        let t = d.report()?;
        if t.settled != last_settled {
            last_settled = t.settled;
            last_progress = Instant::now();
        }
        if let Some(n) = d.limit
            && opts.exit_when_done
            && d.placed.len() as u64 == n
            && d.later.is_empty()
        {
            if t.settled == n && sandbox.deliveries_pending()? == 0 {
                break;
            }
            // Each order settles in well under a second; two minutes without one is a hang.
            if last_progress.elapsed() > Duration::from_secs(120) {
                d.progress.finish();
                bail!(
                    "{} of {n} orders settled, and none more in two minutes",
                    t.settled
                );
            }
        }
    }
    d.progress.finish();
    d.summary()
}

/// What [`drive`]'s loop keeps between rounds: the orders placed, the status changes still to
/// make, and the progress display.
struct Driver<'a> {
    sandbox: &'a Sandbox,
    /// Orders to place; None: a stream without end.
    limit: Option<u64>,
    pace: Duration,
    follow_up: Duration,
    allow_unmapped: bool,
    rng: Lcg,
    progress: Progress,
    placed: Vec<Placed>,
    /// Per order: when its next status change is due, and the changes still to make.
    later: Vec<(Instant, u64, VecDeque<&'static str>)>,
    announced_holds: Vec<u64>,
    next_order: Instant,
    started: Option<Instant>,
}

impl Driver<'_> {
    /// A driver for `limit` orders (None: a stream without end), nothing placed yet.
    fn new(sandbox: &Sandbox, limit: Option<u64>) -> Driver<'_> {
        let rng = Lcg(0x5eed_2024);
        // A burst when the count is given; a shop's pace otherwise.
        let pace = if limit.is_some() {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(1500)
        };
        // More than a second between two changes of one order, counted from when the previous
        // one was made: WooCommerce's date_modified_gmt has one-second resolution, and the host
        // keeps only a strictly newer revision, so a second change within the same second as the
        // last delivered one would be dropped as a duplicate.
        let follow_up = if limit.is_some() {
            Duration::from_millis(1100)
        } else {
            Duration::from_secs(4)
        };
        Driver {
            sandbox,
            limit,
            pace,
            follow_up,
            allow_unmapped: limit.is_none(),
            rng,
            progress: Progress::new(limit),
            placed: Vec::new(),
            later: Vec::new(),
            announced_holds: Vec::new(),
            next_order: Instant::now(),
            started: None,
        }
    }

    /// Places the next order in the simulated shop when one is due (and the count is not
    /// reached), with its later status changes queued.
    fn place_if_due(&mut self, now: Instant) -> Result<()> {
        let limit = self.limit;
        let more = limit.is_none_or(|n| (self.placed.len() as u64) < n);
        if !more || now < self.next_order {
            return Ok(());
        }
        let p = plan(&mut self.rng, self.placed.len() as u64, self.allow_unmapped);
        let order = self
            .sandbox
            .woo
            .place_order(&p.checkout)
            .map_err(|e| anyhow::anyhow!("placing an order in the simulated shop: {e}"))?;
        let id = order["id"].as_u64().context("the shop answered no id")?;
        self.started.get_or_insert(now);
        if limit.is_none() {
            self.progress.line(&format!("order {id}: {}", p.describe));
        }
        self.placed.push(Placed {
            id,
            final_status: p.later.last().copied().unwrap_or(p.first_status),
        });
        if !p.later.is_empty() {
            self.later
                .push((Instant::now() + self.follow_up, id, p.later.into()));
        }
        // Jitter the stream's pace so it looks like a shop, not a metronome.
        self.next_order = now
            + if limit.is_some() {
                self.pace
            } else {
                self.pace + Duration::from_millis(self.rng.below(2000))
            };
        Ok(())
    }

    /// Makes each order's next status change that is due, and forgets orders with none left.
    fn change_statuses(&mut self) -> Result<()> {
        for (due, id, statuses) in self.later.iter_mut() {
            if *due > Instant::now() {
                continue;
            }
            if let Some(status) = statuses.pop_front() {
                self.sandbox
                    .woo
                    .set_status(*id, status)
                    .map_err(|e| anyhow::anyhow!("order {id} → {status}: {e}"))?;
                *due = Instant::now() + self.follow_up;
                if self.limit.is_none() {
                    self.progress.line(&format!("order {id}: now {status}"));
                }
            }
        }
        self.later.retain(|(_, _, statuses)| !statuses.is_empty());
        Ok(())
    }

    /// Counts the placed orders by state, says each new hold and why, and updates the progress
    /// display.
    fn report(&mut self) -> Result<Tally> {
        let (t, held) = tally(self.sandbox, &self.placed)?;
        for id in held {
            if !self.announced_holds.contains(&id) {
                self.announced_holds.push(id);
                let why = self
                    .sandbox
                    .host
                    .ctx
                    .store
                    .load_order(id)?
                    .and_then(|r| r.last_error)
                    .unwrap_or_default();
                self.progress.line(&format!("order {id}: held — {why}"));
            }
        }
        self.progress.update(
            t.settled,
            format!(
                "{} placed · {} posted · {} held · {} failed",
                self.placed.len(),
                t.posted,
                t.held,
                t.failed
            ),
        );
        Ok(t)
    }

    /// What the run left in X3, counted once more after a moment.
    fn summary(&self) -> Result<Summary> {
        let elapsed_ms = self.started.map_or(0, |s| s.elapsed().as_millis() as u64);
        // Late deliveries (an order.updated still in flight) must not post anything twice: look
        // again after a moment.
        std::thread::sleep(Duration::from_millis(300));
        let (t, _) = tally(self.sandbox, &self.placed)?;
        let docs = self.sandbox.documents_by_reference();
        Ok(Summary {
            orders_placed: self.placed.len() as u64,
            documents_in_x3: docs.values().sum(),
            duplicates: docs.values().map(|n| n.saturating_sub(1)).sum(),
            held: t.held,
            failed: t.failed,
            elapsed_ms,
        })
    }
}

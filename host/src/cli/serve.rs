//! `ml-connector serve`: wires the configuration, the store, the core, the clients, the intake
//! and the workers together, and runs until SIGTERM or SIGINT.
//!
//! Shutdown drains: the intake stops taking deliveries, workers finish the order in hand, then
//! the process exits. A `kill -9` at any moment is also safe (everything acknowledged is in
//! SQLite; the ledger covers writes that were in flight), it just skips the drain.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::clients::{woo_client, x3_client};
use crate::component::{CoreRuntime, mapping};
use crate::config::Config;
use crate::config::orders::{order_settings, parse_mapping};
use crate::http::Ctx;
use crate::http::intake::{Answer, Intake};
use crate::http::server::{HttpServer, headers_of};
use crate::jobs::pipeline::Pipeline;
use crate::store::Store;

/// What every HTTP route can reach.
/// The running host: what tests and the sandbox hold on to.
pub struct Host {
    pub http: HttpServer,
    pub ctx: Arc<Ctx>,
    pub pipeline: Arc<Pipeline>,
    workers: Vec<std::thread::JoinHandle<()>>,
    lifecycle: Option<std::thread::JoinHandle<()>>,
}

impl Host {
    /// Stops the intake, lets workers finish what they hold, and returns.
    pub fn shutdown(self) {
        self.http.stop();
        self.ctx.lifecycle.stop();
        self.pipeline.stop();
        if let Some(l) = self.lifecycle {
            let _ = l.join();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// The mapping in force: the stored one, else the configured file (stored from then on).
fn load_mapping(
    core: &CoreRuntime,
    store: &Store,
    cfg: &Config,
    dims: &[String],
) -> Result<Vec<mapping::MappingRow>> {
    if let Some(text) = store.kv_get("mapping")? {
        return parse_mapping(core, &text, dims).context("the stored mapping table");
    }
    let Some(file) = &cfg.orders.mapping_file else {
        return Ok(Vec::new());
    };
    let path = cfg.base_dir.join(file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let rows =
        parse_mapping(core, &text, dims).with_context(|| format!("in {}", path.display()))?;
    let csv = core.mapping().to_csv(&rows)?;
    store.kv_set("mapping", &csv)?;
    Ok(rows)
}

/// Starts everything; returns the running host.
pub fn start(cfg: &Config) -> Result<Host> {
    let store = Arc::new(Store::open(&cfg.data_dir)?);
    // Settings changed through the admin API override the file's.
    let (cfg, stored_status_map) = crate::http::admin::stored_config(&store, cfg)?;
    let cfg = &cfg;
    let (core, compiled) = CoreRuntime::embedded(Some(&cfg.data_dir.join("cache")))?;
    info!("core component loaded ({compiled:?})");
    let core = Arc::new(core);
    let settings = order_settings(&core, cfg)?;
    let mapping = load_mapping(&core, &store, cfg, &settings.dimension_types)?;
    let status_map = match stored_status_map {
        Some(map) => map,
        None => core.inventory().default_status_map()?,
    };
    let x3 = Arc::new(x3_client(cfg)?);
    let woo = Arc::new(woo_client(cfg)?);
    let pipeline = Arc::new(Pipeline::new(
        Arc::clone(&store),
        Arc::clone(&core),
        x3,
        woo,
        settings,
        status_map,
        mapping,
        cfg.retry.clone(),
    ));
    pipeline.set_stock(crate::config::stock::StockConfig::from_file(
        &core, &cfg.stock,
    )?);
    pipeline.set_customer_cache_secs(cfg.master_data.customer_cache_secs);
    // Orders held for a mapping that has changed since get another look.
    let released = store.requeue_held()?;
    if released > 0 {
        info!("{released} held order(s) queued again");
    }
    let intake = Arc::new(Intake {
        store: Arc::clone(&store),
        secret: Arc::new(crate::http::webhook_secret::WebhookSecrets::new(
            cfg.webhook_secret.clone(),
            cfg.webhook_secret_previous.clone(),
        )),
        max_body: cfg.max_body_bytes,
        pipeline: Some(Arc::clone(&pipeline)),
        customer_updates: cfg.master_data.customer_addresses,
    });
    let ctx = Arc::new(Ctx {
        config: cfg.clone(),
        store: Arc::clone(&store),
        core: Arc::clone(&core),
        pipeline: Arc::clone(&pipeline),
        intake,
        started_at: crate::store::now_ms(),
        admin: crate::http::admin::Admin::new(cfg)?,
        lifecycle: Arc::new(crate::jobs::lifecycle::Lifecycle::new(
            cfg,
            Arc::clone(&store),
            Arc::clone(&pipeline),
        )),
    });
    let handler_ctx = Arc::clone(&ctx);
    let handler = Arc::new(move |req: &mut tiny_http::Request| route(&handler_ctx, req));
    let http = HttpServer::start(cfg.listen, crate::http::server::WORKERS, handler)?;
    if cfg.listen.port() == 0 && cfg.woo.delivery_url.is_none() {
        // Any free port was asked for: the default delivery URL is the one actually bound.
        ctx.lifecycle
            .set_delivery_url(format!("http://{}/webhooks/woocommerce", http.addr()));
    }
    // Twice as many workers as X3 slots: while some wait for X3, others plan, look up and
    // commit to SQLite, so X3's slots stay busy (the client holds requests to `concurrency`).
    let mut workers: Vec<_> = (0..cfg.x3.concurrency.saturating_mul(2))
        .map(|_| {
            let p = Arc::clone(&pipeline);
            std::thread::spawn(move || p.run_worker())
        })
        .collect();
    let l = Arc::clone(&ctx.lifecycle);
    let lifecycle = Some(std::thread::spawn(move || l.run()));
    // X3 polling ([x3-poll]): stops with the workers, joined on shutdown like them.
    workers.extend(crate::jobs::x3poll::spawn(cfg, &store, &pipeline, &core));
    // Customer addresses → X3 ([master-data] customer-addresses): stops with the workers too.
    workers.extend(crate::jobs::customer_sync::spawn(
        cfg, &store, &pipeline, &core,
    ));
    Ok(Host {
        http,
        ctx,
        pipeline,
        workers,
        lifecycle,
    })
}

/// Every HTTP route. The status page and the admin API live in their own modules.
fn route(ctx: &Ctx, req: &mut tiny_http::Request) -> Answer {
    let path = req.url().split('?').next().unwrap_or("").to_string();
    let method = req.method().as_str().to_ascii_uppercase();
    let intake = &ctx.intake;
    if crate::http::status::needs_token(&path)
        && let Some(refused) = crate::http::status::refuse(ctx, &path, &headers_of(req))
    {
        return refused;
    }
    match (method.as_str(), path.as_str()) {
        ("POST", "/webhooks/woocommerce") => {
            let headers = headers_of(req);
            let declared = req.body_length();
            let mut body = crate::http::server::DeadlineReader::new(
                req.as_reader(),
                crate::http::server::BODY_DEADLINE,
            );
            match intake.read_body(declared, &mut body) {
                Ok(body) => intake.deliver(&headers, &body),
                Err(answer) => answer,
            }
        }
        (_, "/webhooks/woocommerce") => {
            let mut a = Answer::json(405, &json!({ "error": "use POST" }));
            a.headers.push(("Allow".into(), "POST".into()));
            a
        }
        ("GET", "/healthz") => crate::http::status::healthz(ctx),
        ("GET", "/metrics") => crate::http::status::metrics(ctx),
        ("GET", "/api/status") => crate::http::status::api(ctx),
        ("GET", "/status/reconcile.csv") => crate::http::admin::jobs::last_csv(&ctx.store),
        ("GET", p) if p == "/status" || p.starts_with("/status/") => {
            crate::http::status::page(ctx, p)
        }
        (_, p) if p.starts_with("/api/admin/") => crate::http::admin::route(ctx, req),
        _ => Answer::json(404, &json!({ "error": "not found" })),
    }
}

/// systemd's notification socket (`Type=notify`, `$NOTIFY_SOCKET`): `READY=1` once deliveries
/// can be taken, `STATUS=` with the queue every few seconds (what `systemctl status` shows),
/// `WATCHDOG=1` at half of `$WATCHDOG_USEC` (the unit's `WatchdogSec=`) while the process runs
/// and its database can be read, and `STOPPING=1` when the drain starts. Nothing without systemd.
struct Notifier {
    sock: std::os::unix::net::UnixDatagram,
    addr: std::os::unix::net::SocketAddr,
    /// Half the watchdog timeout, when systemd asked for a watchdog for this process.
    watchdog: Option<Duration>,
}

/// How often `STATUS=` is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(5);

impl Notifier {
    fn from_env() -> Option<Notifier> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::SocketAddr;
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        // A path, or an abstract socket written with a leading '@'.
        let addr = match path.to_str().and_then(|p| p.strip_prefix('@')) {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
            None => SocketAddr::from_pathname(&path),
        };
        let addr = match addr {
            Ok(a) => a,
            Err(e) => {
                warn!("NOTIFY_SOCKET is not a socket address: {e}");
                return None;
            }
        };
        let sock = std::os::unix::net::UnixDatagram::unbound().ok()?;
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .is_none_or(|pid| pid.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|u| *u > 0 && for_us)
            .map(|u| Duration::from_micros(u / 2));
        Some(Notifier {
            sock,
            addr,
            watchdog,
        })
    }

    fn send(&self, message: &str) {
        if let Err(e) = self.sock.send_to_addr(message.as_bytes(), &self.addr) {
            warn!("could not notify systemd: {e}");
        }
    }
}

/// `STATUS=` text: the queue and X3, in a line.
fn status_line(host: &Host) -> Option<String> {
    let (depth, _) = host.ctx.store.queue_depth().ok()?;
    let p = &host.pipeline;
    let x3 = p.health.x3();
    let x3 = if p.breaker.open_until() > crate::store::now_ms() {
        "down (calls paused)"
    } else {
        match (x3.last_success_at, x3.last_failure_at) {
            (None, None) => "not called yet",
            (Some(s), Some(f)) if f > s => "failing",
            (None, Some(_)) => "failing",
            _ => "ok",
        }
    };
    Some(format!(
        "{depth} order(s) waiting, {} being posted; X3 {x3}",
        p.in_flight()
    ))
}

/// Runs `serve` until SIGTERM or SIGINT.
pub fn run(config_path: &Path) -> Result<()> {
    let cfg = Config::load(config_path)?;
    let host = start(&cfg)?;
    let term = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&term))?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&term))?;
    // One line on stdout, for scripts and tests that started us with port 0.
    // Not println!, which panics when stdout is closed: the service runs on without a reader.
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "{}",
            json!({ "event": "ready", "listen": host.http.addr().to_string() })
        );
        let _ = stdout.flush();
    }
    info!("listening on {}", host.http.addr());
    let notifier = Notifier::from_env();
    if let Some(n) = &notifier {
        n.send(&format!(
            "READY=1\nSTATUS={}",
            status_line(&host).unwrap_or_else(|| "listening".into())
        ));
    }
    let started = std::time::Instant::now();
    let (mut next_status, mut next_watchdog) = (started + STATUS_EVERY, started);
    while !term.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        let Some(n) = &notifier else { continue };
        let now = std::time::Instant::now();
        if let Some(every) = n.watchdog
            && now >= next_watchdog
        {
            // Alive, and the database answers a read (WAL: a read never waits for a writer).
            if host.ctx.store.queue_depth().is_ok() {
                n.send("WATCHDOG=1");
            }
            next_watchdog = now + every;
        }
        if now >= next_status {
            if let Some(line) = status_line(&host) {
                n.send(&format!("STATUS={line}"));
            }
            next_status = now + STATUS_EVERY;
        }
    }
    info!("stopping: finishing the orders in hand");
    if let Some(n) = &notifier {
        n.send("STOPPING=1\nSTATUS=stopping: finishing the orders in hand");
    }
    host.shutdown();
    info!("stopped");
    Ok(())
}

//! `woo-sim`: the WooCommerce simulator as a process. Prints one JSON line with the port and the
//! credentials a client needs (its fixed test keys — printing them is this tool's job), then
//! serves until killed. Every flag is described in docs/simulators.md (woo-sim).

use anyhow::Context;
use clap::Parser;
use mlc_sim::woo::{WooConfig, WooSim};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "woo-sim",
    about = "WooCommerce 10 simulator (REST v3 + webhooks) for tests"
)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, env = "WOO_SIM_CONSUMER_KEY")]
    consumer_key: Option<String>,
    #[arg(long, env = "WOO_SIM_CONSUMER_SECRET")]
    consumer_secret: Option<String>,
    /// Key permission: read, write or read_write.
    #[arg(long, default_value = "read_write")]
    key_permissions: String,
    /// Treat plain HTTP as HTTPS for auth (Basic and query-string keys accepted).
    #[arg(long)]
    https_assumed: bool,
    /// Refuse loopback/private delivery URLs and ports other than 80/443/8080.
    #[arg(long)]
    wp_url_safety: bool,
    /// URL prefix allowed despite --wp-url-safety (repeatable).
    #[arg(long = "allow-delivery-url")]
    allow_delivery_url: Vec<String>,
    /// Webhook delivery timeout in milliseconds (WooCommerce: 60000).
    #[arg(long, default_value_t = 60_000)]
    delivery_timeout_ms: u64,
    /// Ping timeout in milliseconds (WordPress: 5000).
    #[arg(long, default_value_t = 5_000)]
    ping_timeout_ms: u64,
    /// Send due deliveries every N ms in the background (0 = only on POST /__sim/flush).
    #[arg(long, default_value_t = 0)]
    auto_deliver_ms: u64,
    /// woocommerce_max_webhook_delivery_failures.
    #[arg(long, default_value_t = 5)]
    max_failures: u32,
    /// home_url('/') (default http://127.0.0.1:<port>/).
    #[arg(long, default_value = "")]
    site_url: String,
    /// Keep state in this JSON file.
    #[arg(long)]
    state_file: Option<PathBuf>,
    #[arg(long, default_value_t = 8)]
    threads: usize,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let d = WooConfig::default();
    let cfg = WooConfig {
        port: a.port,
        consumer_key: a.consumer_key.unwrap_or(d.consumer_key.clone()),
        consumer_secret: a.consumer_secret.unwrap_or(d.consumer_secret.clone()),
        key_permissions: a.key_permissions,
        https_assumed: a.https_assumed,
        wp_url_safety: a.wp_url_safety,
        allowed_delivery_urls: a.allow_delivery_url,
        delivery_timeout: Duration::from_millis(a.delivery_timeout_ms),
        ping_timeout: Duration::from_millis(a.ping_timeout_ms),
        auto_deliver: (a.auto_deliver_ms > 0).then(|| Duration::from_millis(a.auto_deliver_ms)),
        max_failures: a.max_failures,
        site_url: a.site_url,
        state_file: a.state_file,
        threads: a.threads,
        ..d
    };
    let sim = WooSim::start(cfg).context("starting woo-sim")?;
    let line = serde_json::json!({
        "port": sim.port(),
        "base_url": sim.base_url(),
        "site_url": sim.site_url(),
        "consumer_key": sim.config().consumer_key,
        "consumer_secret": sim.config().consumer_secret,
        "https_assumed": sim.config().https_assumed,
    });
    println!("{line}");
    use std::io::Write;
    std::io::stdout().flush().context("flushing stdout")?;
    loop {
        std::thread::park();
    }
}

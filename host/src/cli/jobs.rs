//! The commands that run a background job once, from the command line: `webhooks register`,
//! `webhooks list`, `backfill` (the webhook monitor and the catch-up) and `reconcile`.

use std::path::Path;

use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::clients::woo::Webhook;
use crate::component::CoreRuntime;
use crate::config::Config;
use crate::jobs::lifecycle::{
    LAST_RUN, advance_watermark, catch_up, gmt, parse_gmt, register, same_url, topics,
};
use crate::jobs::reconcile::{Inputs, Period, run, save_last};
use crate::store::{Store, now_ms};

// ---- webhooks and catch-up ------------------------------------------------------------------

/// The configuration as the service runs it: the file, with the settings stored through the
/// admin API (the plugin may have set the shop's keys) when the database exists.
fn service_config(path: &std::path::Path) -> Result<(Config, Option<Store>)> {
    let cfg = crate::cli::ops::load_config(path)?;
    if !cfg.data_dir.join("ml-connector.sqlite3").exists() {
        return Ok((cfg, None));
    }
    let store = crate::cli::ops::open_store(&cfg)?;
    let (cfg, _) = crate::http::admin::stored_config(&store, &cfg)?;
    Ok((cfg, Some(store)))
}

/// `ml-connector webhooks register`.
pub fn webhooks_register(path: &std::path::Path) -> Result<()> {
    let (cfg, _) = service_config(path)?;
    let woo = crate::clients::woo_client(&cfg)?;
    let url = cfg.delivery_url();
    let list = register(
        &woo,
        &url,
        cfg.webhook_secret.expose(),
        &topics(cfg.webhooks.master_data),
    )
    .map_err(|e| anyhow::anyhow!("registering the webhooks failed: {e}"))?;
    outln!(
        "{:<8} {:<18} {:<9} {:<18} delivery URL",
        "id",
        "topic",
        "status",
        "action"
    );
    for r in &list {
        outln!(
            "{:<8} {:<18} {:<9} {:<18} {}",
            r.id,
            r.topic,
            r.status,
            r.action,
            r.delivery_url
        );
    }
    Ok(())
}

/// `ml-connector webhooks list`.
pub fn webhooks_list(path: &std::path::Path, as_json: bool) -> Result<()> {
    let (cfg, _) = service_config(path)?;
    let woo = crate::clients::woo_client(&cfg)?;
    let url = cfg.delivery_url();
    let list = woo
        .list_webhooks()
        .map_err(|e| anyhow::anyhow!("reading the webhooks failed: {e}"))?;
    let mut problems = Vec::new();
    for topic in topics(cfg.webhooks.master_data) {
        let ours: Vec<&Webhook> = list
            .iter()
            .filter(|w| w.topic == topic && same_url(&w.delivery_url, &url))
            .collect();
        if ours.is_empty() {
            problems.push(format!("no webhook for {topic} delivers to {url}"));
        }
        for w in ours.iter().filter(|w| w.status != "active") {
            problems.push(format!("webhook {} ({topic}) is {}", w.id, w.status));
        }
    }
    if as_json {
        let hooks: Vec<Value> = list
            .iter()
            .map(|w| {
                json!({"id": w.id, "name": w.name, "topic": w.topic, "status": w.status,
                       "delivery-url": w.delivery_url, "ours": same_url(&w.delivery_url, &url)})
            })
            .collect();
        outln!(
            "{}",
            json!({"delivery-url": url, "webhooks": hooks, "problems": problems})
        );
    } else {
        outln!(
            "{:<8} {:<18} {:<9} {:<5} delivery URL",
            "id",
            "topic",
            "status",
            "ours"
        );
        for w in &list {
            let ours = if same_url(&w.delivery_url, &url) {
                "yes"
            } else {
                ""
            };
            outln!(
                "{:<8} {:<18} {:<9} {:<5} {}",
                w.id,
                w.topic,
                w.status,
                ours,
                w.delivery_url
            );
        }
        for p in &problems {
            outln!("problem: {p}");
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} problem(s) with the webhooks: run `ml-connector webhooks register`",
            problems.len()
        )
    }
}

/// `ml-connector backfill --since DATE`.
pub fn backfill(path: &std::path::Path, since: &str) -> Result<()> {
    let Some(secs) = parse_gmt(since) else {
        anyhow::bail!(
            "--since {since:?}: a GMT date like 2026-11-01 or 2026-11-01T08:00:00Z expected"
        );
    };
    let (cfg, store) = service_config(path)?;
    // Refuse like the other commands: the wrong config would fill a new, unused database.
    let store = match store {
        Some(s) => s,
        None => crate::cli::ops::open_store(&cfg)?,
    };
    let woo = crate::clients::woo_client(&cfg)?;
    let since = gmt(secs);
    let stop = AtomicBool::new(false);
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let r = catch_up(&woo, &store, &since, &stop, |r| {
        if tty {
            eprint!(
                "\r{} order(s) read, {} new, page {}",
                r.found, r.taken_in, r.pages
            );
        }
    })?;
    if tty {
        errln!();
    }
    advance_watermark(&store, r.newest.as_deref())?;
    store.kv_set(LAST_RUN, &json!({"at": now_ms(), "report": r}).to_string())?;
    outln!("{}", serde_json::to_string(&r)?);
    Ok(())
}

// ---- reconcile ----------------------------------------------------------------------------

/// `ml-connector reconcile`.
pub fn reconcile(
    config: &Path,
    from: &str,
    to: &str,
    csv: Option<&Path>,
    tolerance: Option<f64>,
    as_json: bool,
) -> Result<()> {
    let cfg = crate::cli::ops::load_config(config)?;
    let period = Period::parse(from, to)?;
    let db = cfg.data_dir.join("ml-connector.sqlite3");
    let store = if db.exists() {
        Some(Store::open(&cfg.data_dir)?)
    } else {
        None
    };
    // The settings in force: the admin API's stored ones win over the file's, as in `serve`.
    let (cfg, stored_map) = match &store {
        Some(s) => crate::http::admin::stored_config(s, &cfg)?,
        None => (cfg, None),
    };
    let cache = cfg.data_dir.join("cache");
    let (core, _) = CoreRuntime::embedded(cfg.data_dir.exists().then_some(cache.as_path()))?;
    let settings = crate::config::orders::order_settings(&core, &cfg)?;
    let status_map = match stored_map {
        Some(m) => m,
        None => core.inventory().default_status_map()?,
    };
    let mapping_text = match store
        .as_ref()
        .map(|s| s.kv_get("mapping"))
        .transpose()?
        .flatten()
    {
        Some(t) => Some(t),
        None => match &cfg.orders.mapping_file {
            Some(f) => {
                let p = cfg.base_dir.join(f);
                Some(
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                )
            }
            None => None,
        },
    };
    let mapping = match mapping_text {
        Some(t) => crate::config::orders::parse_mapping(&core, &t, &settings.dimension_types)?,
        None => Vec::new(),
    };
    let x3 = crate::clients::x3_client(&cfg)?;
    let woo = crate::clients::woo_client(&cfg)?;
    let report = run(
        &Inputs {
            x3: &x3,
            api: crate::clients::x3_api(&cfg),
            woo: &woo,
            core: &core,
            settings: &settings,
            status_map: &status_map,
            mapping: &mapping,
            file: &cfg.reconcile,
        },
        period,
        tolerance.unwrap_or(cfg.reconcile.tolerance),
    )?;
    if let Some(path) = csv {
        std::fs::write(path, report.csv())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(s) = &store {
        save_last(s, &report)?;
    }
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{}", report.table());
    }
    if report.discrepancies > 0 {
        bail!("{}", report.summary());
    }
    Ok(())
}

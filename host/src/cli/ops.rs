//! The operator's commands: `ping`, `orders list|show|replay`, `mapping import|export|check` and
//! `config check`.
//!
//! They work on the data directory directly. SQLite in WAL mode lets a running service and these
//! commands use the database at once: a replay is a row update that the service's workers pick up
//! within a second (they look at the queue at least that often). Results go to stdout, progress to
//! stderr; a failure is an `Err` whose cause chain `main` prints once.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::component::{CoreRuntime, mapping, orders};
use crate::config::{ApiMode, AuthMode, Config, ConfigFile, SecretSource};
use crate::store::{OrderRow, OrderState, Store};

/// Reads a config. The TOML is checked first on its own, so that a syntax error is reported as
/// `line, column: message` without the line's text, which could be an inline secret.
pub fn load_config(path: &Path) -> Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if let Err(e) = toml::from_str::<ConfigFile>(&text) {
        let at = e.span().map(|s| {
            let before = &text[..s.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(", line {line}, column {column}")
        });
        bail!(
            "{}{}: {}",
            path.display(),
            at.unwrap_or_default(),
            e.message().trim_end()
        );
    }
    Config::load(path)
}

/// The service's database. Refuses to create one: a command pointed at the wrong config would
/// otherwise look at an empty new database and report "no orders".
pub(crate) fn open_store(cfg: &Config) -> Result<Store> {
    let db = cfg.data_dir.join("ml-connector.sqlite3");
    if !db.exists() {
        bail!(
            "no database at {}: the service has not run with this config yet (or data-dir points \
             elsewhere)",
            db.display()
        );
    }
    Store::open(&cfg.data_dir)
}

/// The core, with the service's compile cache when the data directory exists.
fn core(cfg: &Config) -> Result<CoreRuntime> {
    let cache = cfg.data_dir.join("cache");
    let dir = cfg.data_dir.exists().then_some(cache.as_path());
    Ok(CoreRuntime::embedded(dir)?.0)
}

/// `2025-06-01 12:34:56Z` from milliseconds since the epoch.
pub fn format_ms(ms: i64) -> String {
    format!("{}Z", crate::dates::format_utc(ms.div_euclid(1000), ' '))
}

/// A progress bar on a terminal (stderr), nothing otherwise.
fn bar(total: u64, what: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b.set_message(what.to_string());
    Some(b)
}

// ---- ping -------------------------------------------------------------------------------------

/// Tests the X3 and WooCommerce connections with the configured credentials.
pub fn ping(config: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    let x3 = crate::clients::x3_client(&cfg).and_then(|c| c.ping().map_err(anyhow::Error::from));
    let woo = crate::clients::woo_client(&cfg).and_then(|c| c.ping().map_err(anyhow::Error::from));
    let mut failed = Vec::new();
    for (name, verdict) in [("X3", x3), ("WooCommerce", woo)] {
        match verdict {
            Ok(said) => outln!("{name:<12} ok: {said}"),
            Err(e) => {
                outln!("{name:<12} FAILED: {e:#}");
                failed.push(name);
            }
        }
    }
    match failed.as_slice() {
        [] => Ok(()),
        [one] => bail!("the {one} connection test failed"),
        _ => bail!("both connection tests failed"),
    }
}

// ---- orders -----------------------------------------------------------------------------------

/// Every order, or those in `state`, newest change first.
fn orders_of(store: &Store, state: Option<&str>, limit: usize) -> Result<Vec<OrderRow>> {
    // A name that is no state lists nothing, as a state no order is in.
    let states: Vec<OrderState> = match state {
        Some(s) => OrderState::parse(s).into_iter().collect(),
        None => store
            .state_counts()?
            .into_iter()
            .filter_map(|(s, _)| OrderState::parse(&s))
            .collect(),
    };
    let mut rows = Vec::new();
    for s in states {
        rows.extend(store.orders_in_state(s, limit)?);
    }
    rows.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then(b.order_id.cmp(&a.order_id))
    });
    rows.truncate(limit);
    Ok(rows)
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > max {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

fn row_json(r: &OrderRow) -> Value {
    json!({
        "order_id": r.order_id,
        "state": r.state,
        "woocommerce_status": r.status,
        "document_no": r.document_no,
        "customer_code": r.customer_code,
        "attempts": r.attempts,
        "queued": r.dirty,
        "next_attempt_at": (r.dirty && r.next_attempt_at > 0).then(|| format_ms(r.next_attempt_at)),
        "last_error": r.last_error,
        "hold": r.hold.as_deref().and_then(|h| serde_json::from_str::<Value>(h).ok()),
        "trashed": r.trashed,
        "updated_at": format_ms(r.updated_at),
    })
}

/// `orders list`.
pub fn orders_list(config: &Path, state: Option<&str>, limit: usize, as_json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let store = open_store(&cfg)?;
    let rows = orders_of(&store, state, limit)?;
    if as_json {
        let v: Vec<Value> = rows.iter().map(row_json).collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if rows.is_empty() {
        match state {
            Some(s) => outln!("no orders in state {s}"),
            None => outln!("no orders yet"),
        }
    } else {
        outln!(
            "{:>8}  {:<10} {:<11} {:<14} {:<20}  NOTE",
            "ORDER",
            "STATE",
            "WOO STATUS",
            "DOCUMENT",
            "UPDATED"
        );
        for r in &rows {
            outln!(
                "{:>8}  {:<10} {:<11} {:<14} {:<20}  {}",
                r.order_id,
                r.state,
                r.status.as_deref().unwrap_or("-"),
                r.document_no.as_deref().unwrap_or("-"),
                format_ms(r.updated_at),
                first_line(r.last_error.as_deref().unwrap_or(""), 70)
            );
        }
    }
    let counts = store.state_counts()?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let by_state: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
    outln!(
        "{total} order(s) in all{}{}",
        if by_state.is_empty() { "" } else { ": " },
        by_state.join(", ")
    );
    Ok(())
}

/// `orders show`.
pub fn orders_show(config: &Path, order_id: u64, as_json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let store = open_store(&cfg)?;
    let Some(r) = store.load_order(order_id)? else {
        bail!("order {order_id} is unknown here: no delivery for it has been received");
    };
    let timeline = store.timeline(order_id)?;
    let ledger = store.ledger_for_order(order_id)?;
    if as_json {
        let mut v = row_json(&r);
        v["timeline"] = timeline
            .iter()
            .map(|t| json!({"at": format_ms(t.at), "event": t.event, "detail": t.detail}))
            .collect();
        v["ledger"] = ledger
            .iter()
            .map(|l| {
                json!({"kind": l.kind, "reference": l.reference, "state": l.state,
                    "x3_key": l.x3_key, "attempts": l.attempts, "idempotency_key": l.idempotency_key})
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let dash = |o: Option<&str>| o.unwrap_or("-").to_string();
    outln!("order {order_id}");
    outln!("  state          {}", r.state);
    outln!(
        "  WooCommerce    {}{}",
        dash(r.status.as_deref()),
        if r.trashed { " (in the trash)" } else { "" }
    );
    outln!("  X3 document    {}", dash(r.document_no.as_deref()));
    outln!("  X3 customer    {}", dash(r.customer_code.as_deref()));
    outln!(
        "  queue          {}",
        if !r.dirty {
            "not queued".to_string()
        } else if r.next_attempt_at > crate::store::now_ms() {
            format!(
                "retry {} at {}",
                r.attempts + 1,
                format_ms(r.next_attempt_at)
            )
        } else {
            "due now".to_string()
        }
    );
    outln!("  last error     {}", dash(r.last_error.as_deref()));
    if let Some(h) = &r.hold {
        outln!("  hold           {h}");
    }
    outln!("  updated        {}", format_ms(r.updated_at));
    outln!("timeline");
    for t in &timeline {
        outln!("  {}  {:<10} {}", format_ms(t.at), t.event, t.detail);
    }
    if !ledger.is_empty() {
        outln!("X3 writes (ledger)");
        for l in &ledger {
            outln!(
                "  {:<13} {:<14} {:<8} {:<12} attempts {}",
                l.kind,
                l.reference,
                l.state,
                l.x3_key.as_deref().unwrap_or("-"),
                l.attempts
            );
        }
    }
    Ok(())
}

/// `orders replay`: puts orders back in the queue. Already posted orders are not posted again
/// (the ledger knows their document); the others get a fresh attempt.
pub fn orders_replay(config: &Path, ids: &[u64], state: Option<&str>) -> Result<()> {
    let cfg = load_config(config)?;
    let store = open_store(&cfg)?;
    let (targets, unknown): (Vec<u64>, Vec<u64>) = match state {
        Some(s) => (
            match OrderState::parse(s) {
                Some(s) => store.orders_in_state(s, usize::MAX)?,
                None => Vec::new(),
            }
            .iter()
            .map(|r| r.order_id)
            .collect(),
            Vec::new(),
        ),
        None => {
            let mut known = Vec::new();
            let mut unknown = Vec::new();
            for id in ids {
                if store.load_order(*id)?.is_some() {
                    known.push(*id);
                } else {
                    unknown.push(*id);
                }
            }
            (known, unknown)
        }
    };
    // Small transactions, so the running service's workers are never locked out for long.
    const CHUNK: usize = 50;
    let progress = (targets.len() > CHUNK)
        .then(|| bar(targets.len() as u64, "queued"))
        .flatten();
    let mut queued = 0;
    for chunk in targets.chunks(CHUNK) {
        queued += store.requeue(chunk)?;
        match &progress {
            Some(b) => b.inc(chunk.len() as u64),
            None if targets.len() > CHUNK => {
                errln!("queued {queued} of {}", targets.len());
            }
            None => {}
        }
    }
    if let Some(b) = progress {
        b.finish_and_clear();
    }
    match (state, queued) {
        (Some(s), 0) => outln!("no orders in state {s}"),
        _ => outln!(
            "{queued} order(s) queued again; a running service picks them up within a second, \
             a stopped one when it starts"
        ),
    }
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(u64::to_string).collect();
        bail!(
            "unknown order(s) {}: no delivery for them has been received",
            list.join(", ")
        );
    }
    Ok(())
}

// ---- mapping ----------------------------------------------------------------------------------

/// The mapping in force: the stored one, else the configured file.
fn current_mapping(
    cfg: &Config,
    core: &CoreRuntime,
    dims: &[String],
) -> Result<Option<(Vec<mapping::MappingRow>, String)>> {
    let db = cfg.data_dir.join("ml-connector.sqlite3");
    if db.exists()
        && let Some(text) = Store::open(&cfg.data_dir)?.kv_get("mapping")?
    {
        let rows = crate::config::orders::parse_mapping(core, &text, dims)
            .context("the stored mapping table")?;
        return Ok(Some((rows, format!("stored in {}", db.display()))));
    }
    let Some(file) = &cfg.orders.mapping_file else {
        return Ok(None);
    };
    let path = cfg.base_dir.join(file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let rows = crate::config::orders::parse_mapping(core, &text, dims)
        .with_context(|| format!("in {}", path.display()))?;
    Ok(Some((rows, path.display().to_string())))
}

/// Whether a service answers on the configured address (it keeps the mapping it loaded).
fn service_running(cfg: &Config) -> bool {
    std::net::TcpStream::connect_timeout(&cfg.listen, Duration::from_millis(300)).is_ok()
}

/// `mapping import`: validated by the core (every bad row named), stored, holds released.
pub fn mapping_import(config: &Path, file: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading the mapping from stdin")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let core = core(&cfg)?;
    let settings = crate::config::orders::order_settings(&core, &cfg)?;
    let rows = crate::config::orders::parse_mapping(&core, &text, &settings.dimension_types)
        .with_context(|| format!("{} was not imported", file.display()))?;
    let csv = core.mapping().to_csv(&rows)?;
    let store = Store::open(&cfg.data_dir)?;
    store.kv_set("mapping", &csv)?;
    let released = store.requeue_held()?;
    outln!(
        "imported {} mapping row(s); {released} held order(s) queued again",
        rows.len()
    );
    if service_running(&cfg) {
        outln!(
            "note: the service running on {} keeps the mapping it loaded at start; restart it \
             (systemctl restart ml-connector) so held orders are planned with this one",
            cfg.listen
        );
    }
    Ok(())
}

/// `mapping export`: the mapping in force, as CSV, to a file or stdout.
pub fn mapping_export(config: &Path, file: Option<&Path>) -> Result<()> {
    let cfg = load_config(config)?;
    let core = core(&cfg)?;
    let settings = crate::config::orders::order_settings(&core, &cfg)?;
    let Some((rows, from)) = current_mapping(&cfg, &core, &settings.dimension_types)? else {
        bail!("there is no mapping yet: import one (ml-connector mapping import FILE)");
    };
    let csv = core.mapping().to_csv(&rows)?;
    match file {
        Some(path) if path != Path::new("-") => {
            std::fs::write(path, &csv).with_context(|| format!("writing {}", path.display()))?;
            errln!(
                "wrote {} row(s) from {from} to {}",
                rows.len(),
                path.display()
            );
        }
        _ => out!("{csv}"),
    }
    Ok(())
}

fn describe_entry(e: &mapping::CatalogueEntry) -> String {
    let what = if e.variation_id == 0 {
        format!("product {}", e.product_id)
    } else {
        format!("variation {} of product {}", e.variation_id, e.product_id)
    };
    let sku = match &e.sku {
        Some(s) => format!("SKU {s}"),
        None => "no SKU".to_string(),
    };
    format!("{what} {:?} ({sku})", e.name)
}

/// `mapping check`: which products of the shop the mapping covers.
pub fn mapping_check(config: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    let core = core(&cfg)?;
    let settings = crate::config::orders::order_settings(&core, &cfg)?;
    let (rows, from) = current_mapping(&cfg, &core, &settings.dimension_types)?
        .unwrap_or_else(|| (Vec::new(), "no mapping".to_string()));
    let catalogue: Vec<mapping::CatalogueEntry> = crate::clients::woo_client(&cfg)?
        .catalogue()
        .context("reading the shop's catalogue")?
        .into_iter()
        .map(|c| mapping::CatalogueEntry {
            product_id: c.product_id,
            variation_id: c.variation_id,
            sku: c.sku,
            name: c.name,
        })
        .collect();
    let report = core.mapping().coverage(&rows, &catalogue)?;
    outln!(
        "{} of {} catalogue entries mapped ({} row(s), {from})",
        report.mapped,
        report.total,
        rows.len()
    );
    if !report.by_default.is_empty() {
        outln!("covered only by the default row:");
        for e in &report.by_default {
            outln!("  {}", describe_entry(e));
        }
    }
    if !report.unmapped.is_empty() {
        outln!("not mapped (orders with them are held):");
        for e in &report.unmapped {
            outln!("  {}", describe_entry(e));
        }
        bail!(
            "{} catalogue entr{} not mapped",
            report.unmapped.len(),
            if report.unmapped.len() == 1 {
                "y is"
            } else {
                "ies are"
            }
        );
    }
    Ok(())
}

// ---- config check -----------------------------------------------------------------------------

fn source(s: Option<&SecretSource>) -> String {
    match s {
        None => "not set".into(),
        Some(SecretSource::Inline(_)) => "set inline (better: { file = … } or { env = … })".into(),
        Some(SecretSource::File { file }) => format!("set, from file {}", file.display()),
        Some(SecretSource::Env { env }) => format!("set, from environment variable {env}"),
    }
}

/// A setting's value, or that it has none (an order cannot be posted without it).
fn or_unset(v: &str) -> &str {
    if v.trim().is_empty() { "(not set)" } else { v }
}

/// Enough of a key to tell two apart, not enough to use it.
fn hint(key: &str) -> String {
    let head: String = key.chars().take(7).collect();
    format!("{head}…")
}

/// `config check`: loads and validates everything `serve` would — the config file with the
/// settings and mapping saved through the admin API (the plugin) applied, as `serve` starts with
/// them — and prints the settings in force without any secret.
pub fn config_check(config: &Path) -> Result<()> {
    let file_cfg = load_config(config)?;
    let (cfg, saved) = if file_cfg.data_dir.join("ml-connector.sqlite3").exists() {
        let store = open_store(&file_cfg)?;
        let (cfg, _) = crate::http::admin::stored_config(&store, &file_cfg)?;
        (cfg, crate::http::admin::stored_setting_names(&store)?)
    } else {
        (file_cfg, Vec::new())
    };
    let core = core(&cfg)?;
    let settings = crate::config::orders::order_settings(&core, &cfg).context("[orders]")?;
    let mapping = match current_mapping(&cfg, &core, &settings.dimension_types)? {
        None => "none (import one with `ml-connector mapping import` or the plugin)".to_string(),
        Some((rows, from)) => format!("{} rows, {from}", rows.len()),
    };
    // A secret saved through the admin API is the one in force, whatever the file says.
    let saved_here = |name: &str| saved.iter().any(|n| n == name);
    let source = |name: &str, s: Option<&SecretSource>| {
        if saved_here(name) {
            "set, saved through the admin API (in the database)".to_string()
        } else {
            source(s)
        }
    };
    let data = if cfg.data_dir.join("ml-connector.sqlite3").exists() {
        "database present"
    } else if cfg.data_dir.exists() {
        "exists, no database yet"
    } else {
        "does not exist yet (created at first start)"
    };
    let x = &cfg.x3;
    let auth = match x.auth {
        AuthMode::Basic => format!(
            "basic, user {}, password {}",
            x.user.as_deref().unwrap_or("?"),
            source("x3.password", x.password.as_ref())
        ),
        AuthMode::ConnectedApp => format!(
            "connected app {}, JWT user {}, secret {}",
            x.client_id.as_deref().unwrap_or("?"),
            x.jwt_user.as_deref().unwrap_or("?"),
            source("x3.secret", x.secret.as_ref())
        ),
        AuthMode::Oauth2 => format!(
            "OAuth2 client {} at {}, secret {}",
            x.oauth_client_id.as_deref().unwrap_or("?"),
            x.token_url.as_deref().unwrap_or("?"),
            source("x3.oauth-client-secret", x.oauth_client_secret.as_ref())
        ),
    };
    let w = &cfg.woo;
    outln!("{}: OK", config.display());
    if saved.is_empty() {
        outln!("  settings       the config file's (none saved through the admin API)");
    } else {
        outln!(
            "  settings       the config file's, with {} saved through the admin API or the \
             plugin, which are in force: {}",
            saved.len(),
            saved.join(", ")
        );
    }
    outln!("  listen         {}", cfg.listen);
    outln!("  data dir       {} ({data})", cfg.data_dir.display());
    outln!(
        "  X3             {} folder {}, {} API, {} request(s) at once, timeout {} s",
        x.base_url,
        x.folder,
        match x.api {
            ApiMode::Rest => "REST",
            ApiMode::Graphql => "GraphQL",
        },
        x.concurrency,
        x.timeout_secs
    );
    outln!("  X3 auth        {auth}");
    outln!("  WooCommerce    {}", w.url);
    outln!(
        "  Woo key        {}, secret {}",
        hint(&w.consumer_key),
        source("woocommerce.consumer-secret", Some(&w.consumer_secret))
    );
    outln!(
        "  webhook secret {}{}",
        source("woocommerce.webhook-secret", Some(&w.webhook_secret)),
        if cfg.webhook_secret_previous.is_empty() {
            ""
        } else {
            "; being rotated (the previous one is accepted too)"
        }
    );
    outln!(
        "  documents      sales {} of type {} at site {}, {} prices, customer codes {}…",
        match settings.document_kind {
            orders::DocumentKind::Order => "orders",
            orders::DocumentKind::Invoice => "invoices",
        },
        or_unset(&settings.order_type),
        or_unset(&settings.sales_site),
        match settings.price_basis {
            orders::PriceBasis::Net => "net",
            orders::PriceBasis::Gross => "gross",
        },
        settings.customer_prefix
    );
    outln!("  mapping        {mapping}");
    print_wire(&core, &settings)?;
    Ok(())
}

/// The X3 names in force (`[x3.wire]` over the reference's defaults), and a refusal of settings
/// the core cannot use — among them a reference prefix that cannot keep CUSORDREF unique.
fn print_wire(core: &CoreRuntime, settings: &orders::Settings) -> Result<()> {
    // Names and references are refused here; a site or type not set yet is only said (the
    // plugin may set it, and orders wait for it).
    let (fatal, incomplete): (Vec<String>, Vec<String>) =
        crate::http::admin::settings_problems(core, settings, &[])?
            .into_iter()
            .partition(|p| {
                p.starts_with("x3-wire.")
                    || p.starts_with("orders.reference-prefix")
                    || p.starts_with("orders.store-id")
            });
    if !fatal.is_empty() {
        bail!("the settings cannot be used:\n  {}", fatal.join("\n  "));
    }
    for p in incomplete {
        outln!("  incomplete     {p}");
    }
    let names = crate::wire::Names::resolve(core, settings)?;
    let all = names.all();
    let set = settings.wire.len();
    let unconfirmed = all.iter().filter(|n| n.source.is_empty()).count();
    outln!(
        "  X3 names       {} in force, {set} set in [x3.wire] (*); {unconfirmed} UNCONFIRMED in the reference (?)",
        all.len()
    );
    for n in all {
        let mark = if settings.wire.iter().any(|(k, _)| *k == n.key) {
            '*'
        } else if n.source.is_empty() {
            '?'
        } else {
            ' '
        };
        outln!("    {mark} {:<40} {}", n.key, n.value);
    }
    Ok(())
}

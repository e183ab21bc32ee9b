//! The status page and its machine-readable twins: `GET /status` (HTML), `GET /status/orders/{id}`
//! (one order's timeline), `GET /api/status` (the same as JSON), `GET /metrics` (Prometheus text)
//! and `GET /healthz`.
//!
//! Everything is read from the store and the pipeline at request time into one [`Status`], which
//! the JSON serialises and the HTML renders: the two cannot drift apart. The HTML has no external
//! asset (inline CSS and SVG) and no script, so it reads the same without JavaScript and can be
//! framed by the WordPress admin; framing is allowed only for `[status] frame-origins`.
//!
//! Order data comes from shoppers: every value goes through [`esc`] on its way into HTML. Config
//! values are never shown except the X3 and store URLs (without any user-info or query) and the
//! X3 folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Value, json};

use crate::html::{esc, utc};
use crate::http::Ctx;
use crate::http::intake::Answer;
use crate::store::{OrderRow, now_ms};

/// Every state an order can be in, so `/metrics` has a stable set of series.
const STATES: [&str; 13] = [
    "new",
    "waiting",
    "held",
    "posted",
    "attention",
    "retrying",
    "failed",
    "trashed",
    "deleted",
    // After posting (docs/stock-and-refunds.md).
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
];
/// Most orders listed in a section; the counts above the list are complete.
const LIST_LIMIT: usize = 50;
const MINUTE: i64 = 60_000;
/// The charts' window, in minutes.
const WINDOW: usize = 60;

// ---------------------------------------------------------------------------------------------
// The snapshot

/// What the status page shows. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub generated_at: i64,
    pub started_at: i64,
    /// Orders per state (states with no order are left out).
    pub orders: BTreeMap<String, i64>,
    pub deliveries: Deliveries,
    pub x3: X3Health,
    pub store: StoreHealth,
    pub queue: Queue,
    pub throughput: Throughput,
    /// Orders in `attention` or `failed`, most recent first.
    pub attention: Vec<OrderSummary>,
    /// Orders on hold, with what is missing.
    pub held: Vec<OrderSummary>,
    /// X3 polling (`null` when it never ran): watermarks, errors, stock pushed.
    pub x3_poll: Value,
    /// WooCommerce customers' address changes → X3 (`crate::jobs::customer_sync`): applied, waiting,
    /// needing attention, the last few.
    pub customer_updates: Value,
    /// Problems a person should know about now, in words (a webhook of ours disabled, paused or
    /// missing; the webhooks unreadable). Empty when all is well. The plugin shows them as an
    /// admin notice.
    pub alerts: Vec<String>,
    /// The webhook monitor and the catch-up poll.
    pub lifecycle: LifecycleStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct LifecycleStatus {
    pub delivery_url: String,
    /// When the monitor last read the webhooks.
    pub webhooks_checked_at: Option<i64>,
    /// What the monitor did lately (re-enabled a webhook, caught up), newest first.
    pub repairs: Vec<String>,
    /// The newest WooCommerce modification time (GMT) the catch-up has taken in.
    pub catch_up_watermark: Option<String>,
    /// The last catch-up: when, and what it found or why it failed.
    pub catch_up_last: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Deliveries {
    /// Deliveries stored (pings and refused deliveries are not).
    pub stored: i64,
    /// Refused deliveries, duplicates and pings, by counter name (`rejected_signature`, …).
    pub counters: BTreeMap<String, i64>,
    /// Sum of the `rejected_*` counters.
    pub rejected: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct X3Health {
    /// `ok`, `failing`, `down` (breaker open) or `unknown` (no call since start).
    pub verdict: &'static str,
    pub url: String,
    pub folder: String,
    pub api: &'static str,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    pub last_failure: Option<String>,
    /// `open` (calls stopped until `breaker_open_until`) or `closed`.
    pub breaker: &'static str,
    pub breaker_open_until: Option<i64>,
    /// Queries X3 answered but could not run as configured (an `[x3.wire]` name the site's
    /// representation lacks): `<what>: <X3's message>`. Not X3 being down.
    pub config_problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreHealth {
    /// `ok`, `warning` (deliveries refused, REST failing) or `unknown` (nothing received yet).
    pub verdict: &'static str,
    pub url: String,
    pub last_delivery_at: Option<i64>,
    /// Pings answered (WooCommerce pings a webhook when it is created or its URL changes).
    pub pings: i64,
    /// Deliveries refused for their signature: a webhook whose secret is not ours.
    pub rejected_signature: i64,
    /// The REST API, used to re-read orders.
    pub rest_last_success_at: Option<i64>,
    pub rest_last_failure_at: Option<i64>,
    pub rest_last_failure: Option<String>,
    /// What each webhook delivered, among the last 10,000 deliveries.
    pub webhooks: Vec<WebhookSummary>,
    /// One line per problem the host can see, in words.
    pub notes: Vec<String>,
    /// While the webhook secret is being rotated (the previous one is accepted too).
    pub secret_rotation: Option<SecretRotation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretRotation {
    /// Deliveries verified with the previous secret since the host started.
    pub previous_used: u64,
    pub previous_last_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookSummary {
    pub webhook_id: Option<String>,
    pub topic: Option<String>,
    pub deliveries: i64,
    pub last_received_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    /// Orders waiting for a worker (new revisions and retries).
    pub depth: i64,
    pub in_flight: usize,
    /// Since when the longest-waiting order has waited.
    pub oldest_since: Option<i64>,
    pub oldest_age_secs: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub window_minutes: usize,
    /// Orders posted in the window.
    pub posted: usize,
    /// Orders posted per minute, oldest minute first; the last is the current minute.
    pub posted_per_minute: Vec<u32>,
    /// Average lag (delivery received → posted) per minute, ms; `null` where nothing posted.
    pub lag_avg_ms_per_minute: Vec<Option<i64>>,
    pub lag_p50_ms: Option<i64>,
    pub lag_p95_ms: Option<i64>,
    pub lag_max_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderSummary {
    pub order_id: u64,
    pub state: String,
    /// The WooCommerce status.
    pub status: Option<String>,
    pub customer: String,
    pub total: String,
    pub updated_at: i64,
    pub attempts: i64,
    /// X3's message, or why the order is held.
    pub message: Option<String>,
    pub document_no: Option<String>,
    /// Lines with no mapping row (held orders).
    pub missing: Vec<MissingMapping>,
    /// Other reasons for a hold.
    pub reasons: Vec<String>,
    pub link: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MissingMapping {
    pub line_kind: String,
    pub name: String,
    /// The keys looked up, in order (`sku:WOO-CAP`, `product:11`, …).
    pub tried: Vec<String>,
}

/// Reads everything the page shows.
pub fn snapshot(ctx: &Ctx) -> Result<Status> {
    let now = now_ms();
    let store = &ctx.store;
    let orders: BTreeMap<String, i64> = store.state_counts()?.into_iter().collect();
    let counters: BTreeMap<String, i64> = store.counters()?.into_iter().collect();
    let rejected = counters
        .iter()
        .filter(|(k, _)| k.starts_with("rejected_"))
        .map(|(_, v)| v)
        .sum();
    let deliveries = Deliveries {
        stored: store.inbox_count()?,
        rejected,
        counters: counters.clone(),
    };

    let p = &ctx.pipeline;
    let x3c = p.health.x3();
    let open_until = p.breaker.open_until();
    let breaker_open = open_until > now;
    // Where the connections point now: the admin API may have moved them since the start.
    let in_force = ctx.admin.config_in_force();
    let x = &in_force.x3;
    let config_problems: Vec<String> = p
        .health
        .x3_config_problems()
        .into_iter()
        .map(|(_, what, m)| format!("{what}: {m}"))
        .collect();
    let x3 = X3Health {
        verdict: if breaker_open {
            "down"
        } else if !config_problems.is_empty() {
            "misconfigured"
        } else {
            verdict(x3c.last_success_at, x3c.last_failure_at)
        },
        url: public_url(&x.base_url),
        folder: x.folder.clone(),
        api: match x.api {
            crate::config::ApiMode::Rest => "rest",
            crate::config::ApiMode::Graphql => "graphql",
        },
        last_success_at: x3c.last_success_at,
        last_failure_at: x3c.last_failure_at,
        last_failure: x3c.last_failure,
        breaker: if breaker_open { "open" } else { "closed" },
        breaker_open_until: breaker_open.then_some(open_until),
        config_problems,
    };

    let woo = p.health.woo();
    let last_delivery_at = store.last_delivery_at()?;
    let rejected_signature = counters.get("rejected_signature").copied().unwrap_or(0);
    let mut notes = Vec::new();
    if last_delivery_at.is_none() {
        notes.push(
            "No delivery received yet: check that the store's webhooks point at this host \
             (/webhooks/woocommerce) and are active."
                .to_string(),
        );
    }
    if rejected_signature > 0 {
        notes.push(format!(
            "{rejected_signature} deliveries refused for their signature: a webhook's secret \
             differs from the configured one, or someone else is posting."
        ));
    }
    if counters.get("rejected_legacy").copied().unwrap_or(0) > 0 {
        notes.push(
            "Legacy deliveries refused: set each webhook's API version to WP REST API \
             Integration v3."
                .to_string(),
        );
    }
    let unknown_topic = counters.get("unknown_topic").copied().unwrap_or(0);
    if unknown_topic > 0 {
        notes.push(format!(
            "{unknown_topic} deliveries of an order came with a topic ml-connector does not \
             handle (only order.created, .updated, .deleted and .restored are orders): stored and \
             acknowledged, not posted. Their topics are under Webhook deliveries."
        ));
    }
    let monitor = ctx.lifecycle.state();
    notes.extend(monitor.alerts.iter().cloned());
    let rest_failing = verdict(woo.last_success_at, woo.last_failure_at) == "failing";
    if rest_failing {
        notes.push("Reading orders from the WooCommerce REST API is failing.".to_string());
    }
    let store_health = StoreHealth {
        verdict: if !notes.is_empty() && last_delivery_at.is_some() {
            "warning"
        } else if last_delivery_at.is_none() {
            "unknown"
        } else {
            "ok"
        },
        url: public_url(&in_force.woo.url),
        last_delivery_at,
        pings: counters.get("pings").copied().unwrap_or(0),
        rejected_signature,
        rest_last_success_at: woo.last_success_at,
        rest_last_failure_at: woo.last_failure_at,
        rest_last_failure: woo.last_failure,
        webhooks: store
            .webhooks_seen()?
            .into_iter()
            .map(|w| WebhookSummary {
                webhook_id: w.webhook_id,
                topic: w.topic,
                deliveries: w.deliveries,
                last_received_at: w.last_received_at,
            })
            .collect(),
        notes,
        secret_rotation: ctx.intake.secret.rotating().then(|| {
            let (previous_used, previous_last_at) = ctx.intake.secret.previous_used();
            SecretRotation {
                previous_used,
                previous_last_at,
            }
        }),
    };

    let (depth, oldest_since) = store.queue_depth()?;
    let queue = Queue {
        depth,
        in_flight: p.in_flight(),
        oldest_since,
        oldest_age_secs: oldest_since.map(|t| ((now - t) / 1000).max(0)),
    };

    let throughput = throughput(now, &store.posted_since(now - WINDOW as i64 * MINUTE)?);

    let mut attention: Vec<OrderSummary> = store
        .orders_in_state("attention", LIST_LIMIT)?
        .iter()
        .chain(store.orders_in_state("failed", LIST_LIMIT)?.iter())
        .map(summary)
        .collect();
    attention.sort_by_key(|a| std::cmp::Reverse(a.updated_at));
    attention.truncate(LIST_LIMIT);
    let held = store
        .orders_in_state("held", LIST_LIMIT)?
        .iter()
        .map(summary)
        .collect();

    Ok(Status {
        generated_at: now,
        started_at: ctx.started_at,
        orders,
        deliveries,
        x3,
        store: store_health,
        queue,
        throughput,
        attention,
        held,
        alerts: monitor.alerts,
        lifecycle: LifecycleStatus {
            delivery_url: ctx.lifecycle.delivery_url(),
            webhooks_checked_at: monitor.checked_at,
            repairs: monitor.repairs,
            catch_up_watermark: crate::jobs::lifecycle::watermark(store),
            catch_up_last: crate::jobs::lifecycle::last_catch_up(store),
        },
        x3_poll: crate::jobs::x3poll::status_json(&ctx.store),
        customer_updates: crate::jobs::customer_sync::status_json(
            &ctx.store,
            ctx.config.master_data.customer_addresses,
        ),
    })
}

fn verdict(success: Option<i64>, failure: Option<i64>) -> &'static str {
    match (success, failure) {
        (None, None) => "unknown",
        (Some(_), None) => "ok",
        (None, Some(_)) => "failing",
        (Some(s), Some(f)) if s >= f => "ok",
        _ => "failing",
    }
}

/// A URL without user-info, query or fragment: what may be shown.
fn public_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or("");
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

fn throughput(now: i64, posted: &[(i64, Option<i64>)]) -> Throughput {
    // Minute buckets aligned on the clock, the last one being the current minute.
    let current = now.div_euclid(MINUTE);
    let mut counts = vec![0u32; WINDOW];
    let mut lag_sum = vec![(0i64, 0i64); WINDOW];
    let mut lags = Vec::new();
    for (at, lag) in posted {
        let back = current - at.div_euclid(MINUTE);
        let Ok(back) = usize::try_from(back) else {
            continue;
        };
        if back >= WINDOW {
            continue;
        }
        let i = WINDOW - 1 - back;
        counts[i] += 1;
        if let Some(l) = lag {
            let l = (*l).max(0);
            lag_sum[i].0 += l;
            lag_sum[i].1 += 1;
            lags.push(l);
        }
    }
    lags.sort_unstable();
    let quantile = |q: f64| -> Option<i64> {
        if lags.is_empty() {
            return None;
        }
        // Nearest rank.
        let rank = ((q * lags.len() as f64).ceil() as usize).clamp(1, lags.len());
        Some(lags[rank - 1])
    };
    Throughput {
        window_minutes: WINDOW,
        posted: counts.iter().map(|c| *c as usize).sum(),
        posted_per_minute: counts,
        lag_avg_ms_per_minute: lag_sum
            .iter()
            .map(|(sum, n)| (*n > 0).then(|| sum / n))
            .collect(),
        lag_p50_ms: quantile(0.5),
        lag_p95_ms: quantile(0.95),
        lag_max_ms: lags.last().copied(),
    }
}

fn body_json(o: &OrderRow) -> Value {
    o.body
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null)
}

fn customer_of(body: &Value) -> String {
    let b = &body["billing"];
    let s = |k: &str| b[k].as_str().unwrap_or("").trim().to_string();
    let name = format!("{} {}", s("first_name"), s("last_name"))
        .trim()
        .to_string();
    match (name.is_empty(), s("company").is_empty()) {
        (false, _) => name,
        (true, false) => s("company"),
        (true, true) => s("email"),
    }
}

fn total_of(body: &Value) -> String {
    match (body["total"].as_str(), body["currency"].as_str()) {
        (Some(t), Some(c)) => format!("{t} {c}"),
        (Some(t), None) => t.to_string(),
        _ => String::new(),
    }
}

/// The `hold` column: `{"missing":[{line_id,line_kind,name,tried}],"reasons":[…]}`.
fn parse_hold(hold: Option<&str>) -> (Vec<MissingMapping>, Vec<String>) {
    let v: Value = hold
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or(Value::Null);
    let missing = v["missing"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| MissingMapping {
                    line_kind: m["line_kind"].as_str().unwrap_or("").to_string(),
                    name: m["name"].as_str().unwrap_or("").to_string(),
                    tried: m["tried"]
                        .as_array()
                        .map(|t| {
                            t.iter()
                                .filter_map(|k| k.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let reasons = v["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    (missing, reasons)
}

fn summary(o: &OrderRow) -> OrderSummary {
    let body = body_json(o);
    let (missing, reasons) = parse_hold(o.hold.as_deref());
    OrderSummary {
        order_id: o.order_id,
        state: o.state.clone(),
        status: o.status.clone(),
        customer: customer_of(&body),
        total: total_of(&body),
        updated_at: o.updated_at,
        attempts: o.attempts,
        message: o.last_error.clone(),
        document_no: o.document_no.clone(),
        missing,
        reasons,
        link: format!("/status/orders/{}", o.order_id),
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

/// Whether a path shows order data and so needs a token: everything here but `/healthz`.
pub fn needs_token(path: &str) -> bool {
    path == "/status" || path.starts_with("/status/") || path == "/api/status" || path == "/metrics"
}

/// The token a request carries: `Authorization: Bearer <token>`, or Basic with the token as the
/// password (any user name) — what a browser sends after its login prompt, and what Prometheus'
/// `basic_auth` sends.
fn presented_token(headers: &[(String, String)]) -> Option<String> {
    use base64::Engine as _;
    let value = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim())?;
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split_once(':')
            .map(|(_, password)| password.to_string());
    }
    None
}

/// The status pages show shoppers' names, e-mails and totals: they need the read token
/// (`<data-dir>/status.token`) or the admin token; `/metrics` also takes `[status]
/// metrics-token`. `None` lets the request through; `Some` is the 401 to send.
pub fn refuse(ctx: &Ctx, path: &str, headers: &[(String, String)]) -> Option<Answer> {
    if !needs_token(path) {
        return None;
    }
    let given = presented_token(headers);
    if let Some(t) = &given {
        let metrics = &ctx.config.metrics_token;
        let metrics_ok = path == "/metrics"
            && !metrics.is_empty()
            && crate::http::admin::same_token(t, metrics.expose());
        if ctx.admin.is_read_token(t) | metrics_ok {
            return None;
        }
        warn!("status page: refused a request for {path} with a wrong token");
    }
    let mut a = no_store(Answer {
        status: 401,
        content_type: "text/plain; charset=utf-8",
        body: b"The status pages need a token: the read token (status.token in the host's data \
directory) or the admin token, as the password of any user name, or as a Bearer token.\n"
            .to_vec(),
        headers: Vec::new(),
    });
    // A browser asks for the password (Basic); scripts and Prometheus may use either.
    a.headers.push((
        "WWW-Authenticate".into(),
        "Basic realm=\"ml-connector status\", charset=\"UTF-8\"".into(),
    ));
    a.headers.push((
        "WWW-Authenticate".into(),
        format!(
            "Bearer realm=\"ml-connector status\"{}",
            if given.is_some() {
                ", error=\"invalid_token\""
            } else {
                ""
            }
        ),
    ));
    Some(a)
}

/// `GET /healthz`: 200 when the store answers, 503 otherwise.
pub fn healthz(ctx: &Ctx) -> Answer {
    match ctx.store.ping() {
        Ok(()) => no_store(Answer::json(200, &json!({ "status": "ok" }))),
        Err(e) => no_store(Answer::json(
            503,
            &json!({ "status": "unavailable", "error": format!("the store does not answer: {e:#}") }),
        )),
    }
}

/// `GET /api/status`.
pub fn api(ctx: &Ctx) -> Answer {
    match snapshot(ctx).and_then(|s| Ok(serde_json::to_value(s)?)) {
        Ok(v) => no_store(Answer::json(200, &v)),
        Err(e) => unavailable(&e),
    }
}

/// `GET /metrics`.
pub fn metrics(ctx: &Ctx) -> Answer {
    match snapshot(ctx).and_then(|s| Ok((s.clone(), ctx.store.posted_total()?))) {
        Ok((s, posted_total)) => no_store(Answer {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: prometheus(&s, posted_total).into_bytes(),
            headers: Vec::new(),
        }),
        Err(e) => unavailable(&e),
    }
}

/// `GET /status` and `GET /status/orders/{id}`.
pub fn page(ctx: &Ctx, path: &str) -> Answer {
    let result = match path.trim_end_matches('/') {
        "/status" => snapshot(ctx).map(|s| {
            // Sections owned by other modules, appended after the core ones.
            let extra = crate::jobs::x3poll::status_html(&ctx.store)
                + &crate::jobs::reconcile::status_html(&ctx.store)
                + &crate::jobs::customer_sync::status_html(
                    &ctx.store,
                    ctx.config.master_data.customer_addresses,
                );
            Some(render_status(&s, &extra))
        }),
        p => match p
            .strip_prefix("/status/orders/")
            .and_then(|id| id.parse::<u64>().ok())
        {
            Some(id) => render_order(ctx, id),
            None => Ok(None),
        },
    };
    let (status, body) = match result {
        Ok(Some(html)) => (200, html),
        Ok(None) => (
            404,
            layout(
                "Not found",
                false,
                "<p>No such page or order. <a href=\"/status\">Back to the status page</a>.</p>",
            ),
        ),
        Err(e) => (
            503,
            layout(
                "Status unavailable",
                false,
                &format!(
                    "<p class=\"bad\">The store could not be read: {}</p>",
                    esc(&format!("{e:#}"))
                ),
            ),
        ),
    };
    let mut a = no_store(Answer {
        status,
        content_type: "text/html; charset=utf-8",
        body: body.into_bytes(),
        headers: Vec::new(),
    });
    a.headers.push((
        "Content-Security-Policy".into(),
        csp(&ctx.config.status.frame_origins),
    ));
    a.headers
        .push(("X-Content-Type-Options".into(), "nosniff".into()));
    a.headers
        .push(("Referrer-Policy".into(), "no-referrer".into()));
    a
}

/// No script at all, styles inline, images only as `data:`; framed by this host and the
/// configured origins only (origins are checked when the config is loaded).
pub fn csp(frame_origins: &[String]) -> String {
    let mut ancestors = String::from("'self'");
    for o in frame_origins {
        ancestors.push(' ');
        ancestors.push_str(o);
    }
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; \
         form-action 'none'; frame-ancestors {ancestors}"
    )
}

fn no_store(mut a: Answer) -> Answer {
    a.headers.push(("Cache-Control".into(), "no-store".into()));
    a
}

fn unavailable(e: &anyhow::Error) -> Answer {
    no_store(Answer::json(
        503,
        &json!({ "error": format!("the store could not be read: {e:#}") }),
    ))
}

// ---------------------------------------------------------------------------------------------
// Prometheus

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn prometheus(s: &Status, posted_total: i64) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, i64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let mut states: BTreeMap<String, i64> = STATES.iter().map(|s| ((*s).to_string(), 0)).collect();
    states.extend(s.orders.iter().map(|(k, v)| (k.clone(), *v)));
    metric(
        "ml_connector_orders",
        "gauge",
        "Orders by state.",
        &states
            .iter()
            .map(|(k, v)| (format!("{{state=\"{}\"}}", label(k)), *v))
            .collect::<Vec<_>>(),
    );
    metric(
        "ml_connector_orders_posted_total",
        "counter",
        "Orders that have an X3 document.",
        &[(String::new(), posted_total)],
    );
    metric(
        "ml_connector_deliveries_stored_total",
        "counter",
        "Webhook deliveries stored.",
        &[(String::new(), s.deliveries.stored)],
    );
    let (rejected, other): (Vec<_>, Vec<_>) = s
        .deliveries
        .counters
        .iter()
        .partition(|(k, _)| k.starts_with("rejected_"));
    metric(
        "ml_connector_deliveries_rejected_total",
        "counter",
        "Webhook deliveries refused, by reason.",
        &rejected
            .iter()
            .map(|(k, v)| {
                let reason = k.strip_prefix("rejected_").unwrap_or(k);
                (format!("{{reason=\"{}\"}}", label(reason)), **v)
            })
            .collect::<Vec<_>>(),
    );
    metric(
        "ml_connector_delivery_events_total",
        "counter",
        "Other delivery events: duplicates, pings, REST errors as payloads.",
        &other
            .iter()
            .map(|(k, v)| (format!("{{event=\"{}\"}}", label(k)), **v))
            .collect::<Vec<_>>(),
    );
    metric(
        "ml_connector_queue_depth",
        "gauge",
        "Orders waiting for a worker.",
        &[(String::new(), s.queue.depth)],
    );
    metric(
        "ml_connector_queue_in_flight",
        "gauge",
        "Orders being worked on.",
        &[(
            String::new(),
            i64::try_from(s.queue.in_flight).unwrap_or(i64::MAX),
        )],
    );
    metric(
        "ml_connector_queue_oldest_age_seconds",
        "gauge",
        "How long the longest-waiting order has waited (0: queue empty).",
        &[(String::new(), s.queue.oldest_age_secs.unwrap_or(0))],
    );
    metric(
        "ml_connector_x3_breaker_open",
        "gauge",
        "1 while calls to X3 are stopped after repeated failures.",
        &[(String::new(), i64::from(s.x3.breaker == "open"))],
    );
    let secs = |t: Option<i64>| t.map(|t| vec![(String::new(), t / 1000)]);
    for (name, help, value) in [
        (
            "ml_connector_x3_last_success_timestamp_seconds",
            "When X3 last answered.",
            s.x3.last_success_at,
        ),
        (
            "ml_connector_x3_last_failure_timestamp_seconds",
            "When a call to X3 last failed.",
            s.x3.last_failure_at,
        ),
        (
            "ml_connector_last_delivery_timestamp_seconds",
            "When the last webhook delivery was stored.",
            s.store.last_delivery_at,
        ),
    ] {
        if let Some(samples) = secs(value) {
            metric(name, "gauge", help, &samples);
        }
    }
    metric(
        "ml_connector_start_time_seconds",
        "gauge",
        "When this process started.",
        &[(String::new(), s.started_at / 1000)],
    );
    out
}

// ---------------------------------------------------------------------------------------------
// HTML

const CSS: &str = "
:root{--fg:#1d2327;--muted:#646970;--line:#dcdcde;--bg:#fff;--ok:#00a32a;--warn:#dba617;--bad:#d63638;--accent:#2271b1}
*{box-sizing:border-box}
body{margin:0;padding:16px 20px;font:14px/1.45 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Oxygen,Ubuntu,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:14px;margin:0 0 6px}
a{color:var(--accent)}
.muted{color:var(--muted)}.bad{color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:4px;padding:10px 12px}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;background:var(--muted);vertical-align:middle}
.badge.ok{background:var(--ok)}.badge.warning,.badge.failing,.badge.retrying,.badge.held{background:var(--warn);color:#1d2327}
.badge.down,.badge.misconfigured,.badge.attention,.badge.failed{background:var(--bad)}.badge.posted,.badge.shipped,.badge.delivered{background:var(--ok)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px}
td.msg{overflow-wrap:anywhere;max-width:480px}
.num{font-size:22px;font-weight:600}
.kpis{display:flex;flex-wrap:wrap;gap:24px}
svg.chart{width:100%;max-width:640px;height:auto;display:block}
svg.chart text{font-size:10px;fill:var(--muted)}
code{font-size:12px;background:#f6f7f7;padding:0 3px}
ul.notes{margin:6px 0 0;padding-left:18px}
ul.missing{margin:0;padding-left:16px}
";

fn layout(title: &str, refresh: bool, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{}\
         <title>{} · ml-connector</title><style>{CSS}</style></head><body>{body}</body></html>\n",
        if refresh {
            // Without a script, a plain refresh keeps a framed page current.
            "<meta http-equiv=\"refresh\" content=\"30\">"
        } else {
            ""
        },
        esc(title)
    )
}

/// `45 s`, `12 min`, `3 h`, `2 d`.
fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A time with how long ago it was, or `never`.
fn when(now: i64, t: Option<i64>) -> String {
    match t {
        Some(t) => format!(
            "<span title=\"{}\">{} ago</span>",
            esc(&utc(t)),
            esc(&duration(now - t))
        ),
        None => "<span class=\"muted\">never</span>".to_string(),
    }
}

fn badge(v: &str) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", esc(v))
}

fn opt(v: Option<&str>) -> String {
    match v {
        Some(v) if !v.is_empty() => esc(v).to_string(),
        _ => "<span class=\"muted\">—</span>".to_string(),
    }
}

fn render_status(s: &Status, extra: &str) -> String {
    let now = s.generated_at;
    let mut h = String::new();
    let _ = write!(
        h,
        "<header><h1>ml-connector</h1><p class=\"muted\">WooCommerce → Sage X3 · generated {} · \
         running for {} · <a href=\"/api/status\">JSON</a> · <a href=\"/metrics\">metrics</a></p></header>",
        esc(&utc(now)),
        esc(&duration(now - s.started_at))
    );

    if !s.alerts.is_empty() {
        h.push_str("<section id=\"alerts\" class=\"alerts\" role=\"alert\"><h2>Alerts</h2><ul>");
        for a in &s.alerts {
            let _ = write!(h, "<li>{}</li>", esc(a));
        }
        h.push_str("</ul></section>");
    }

    // Connections.
    h.push_str("<section id=\"connections\"><h2>Connections</h2><div class=\"grid\">");
    h.push_str(&x3_card(&s.x3, now));
    h.push_str(&store_card(&s.store, &s.deliveries, now));
    h.push_str("</div></section>");

    // Queue and states.
    let q = &s.queue;
    let _ = write!(
        h,
        "<section id=\"queue\"><h2>Queue</h2><div class=\"kpis\">\
         <div><div class=\"num\" id=\"queue-depth\">{}</div><div class=\"muted\">orders waiting</div></div>\
         <div><div class=\"num\">{}</div><div class=\"muted\">being posted</div></div>\
         <div><div class=\"num\" id=\"queue-oldest\">{}</div><div class=\"muted\">oldest waiting</div></div>\
         <div><div class=\"num\">{}</div><div class=\"muted\">posted in the last hour</div></div>\
         </div><table class=\"states\"><tr>",
        q.depth,
        q.in_flight,
        match q.oldest_age_secs {
            Some(a) => esc(&duration(a * 1000)).to_string(),
            None => "—".to_string(),
        },
        s.throughput.posted,
    );
    for state in STATES {
        let _ = write!(h, "<th>{}</th>", esc(state));
    }
    h.push_str("</tr><tr>");
    for state in STATES {
        let _ = write!(
            h,
            "<td id=\"count-{0}\">{1}</td>",
            esc(state),
            s.orders.get(state).copied().unwrap_or(0)
        );
    }
    h.push_str("</tr></table></section>");

    // Charts.
    let t = &s.throughput;
    let _ = write!(
        h,
        "<section id=\"throughput\"><h2>Throughput and lag, last {} minutes</h2><div class=\"grid\"><div>",
        t.window_minutes
    );
    h.push_str(&bar_chart(
        "chart-posted",
        "Orders posted per minute",
        now,
        &t.posted_per_minute
            .iter()
            .map(|c| Some(i64::from(*c)))
            .collect::<Vec<_>>(),
        |v| format!("{v} posted"),
        "#2271b1",
    ));
    h.push_str("</div><div>");
    h.push_str(&bar_chart(
        "chart-lag",
        "Average lag, delivery received → posted",
        now,
        &t.lag_avg_ms_per_minute,
        lag_text,
        "#8c5ae6",
    ));
    let _ = write!(
        h,
        "<p class=\"muted\">Lag over the hour: median {}, 95th percentile {}, max {}.</p></div></div></section>",
        ms_opt(t.lag_p50_ms),
        ms_opt(t.lag_p95_ms),
        ms_opt(t.lag_max_ms)
    );

    // Orders needing attention.
    let _ = write!(
        h,
        "<section id=\"attention\"><h2>Needs attention ({})</h2>",
        s.orders.get("attention").copied().unwrap_or(0)
            + s.orders.get("failed").copied().unwrap_or(0)
    );
    if s.attention.is_empty() {
        h.push_str("<p class=\"muted\">Nothing: no order was refused by X3 or given up on.</p>");
    } else {
        h.push_str(
            "<table><tr><th>Order</th><th>State</th><th>Customer</th><th>Total</th>\
             <th>Updated</th><th>Message</th></tr>",
        );
        for o in &s.attention {
            let _ = write!(
                h,
                "<tr class=\"order\" data-order=\"{}\"><td><a href=\"{}\">#{}</a></td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td class=\"msg\">{}</td></tr>",
                o.order_id,
                esc(&o.link),
                o.order_id,
                badge(&o.state),
                esc(&o.customer),
                esc(&o.total),
                when(now, Some(o.updated_at)),
                opt(o.message.as_deref()),
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    // Held orders.
    let _ = write!(
        h,
        "<section id=\"held\"><h2>On hold ({})</h2>",
        s.orders.get("held").copied().unwrap_or(0)
    );
    if s.held.is_empty() {
        h.push_str("<p class=\"muted\">Nothing: every line of every order has a mapping.</p>");
    } else {
        h.push_str(
            "<p class=\"muted\">Add the missing rows to the mapping table; held orders are \
             looked at again when it changes.</p><table><tr><th>Order</th><th>Customer</th>\
             <th>Total</th><th>Held since</th><th>Missing mappings</th></tr>",
        );
        for o in &s.held {
            let _ = write!(
                h,
                "<tr class=\"order\" data-order=\"{}\"><td><a href=\"{}\">#{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"msg\">",
                o.order_id,
                esc(&o.link),
                o.order_id,
                esc(&o.customer),
                esc(&o.total),
                when(now, Some(o.updated_at)),
            );
            h.push_str(&missing_list(&o.missing, &o.reasons));
            h.push_str("</td></tr>");
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    // Deliveries.
    h.push_str("<section id=\"deliveries\"><h2>Webhook deliveries</h2><div class=\"grid\"><div>");
    if s.store.webhooks.is_empty() {
        h.push_str("<p class=\"muted\">No delivery stored yet.</p>");
    } else {
        h.push_str(
            "<table><tr><th>Webhook</th><th>Topic</th><th>Deliveries</th><th>Last</th></tr>",
        );
        for w in &s.store.webhooks {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                opt(w.webhook_id.as_deref()),
                opt(w.topic.as_deref()),
                w.deliveries,
                when(now, Some(w.last_received_at))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</div><div>");
    if s.deliveries.counters.is_empty() {
        h.push_str("<p class=\"muted\">No delivery refused, duplicated or pinged.</p>");
    } else {
        h.push_str("<table><tr><th>Counter</th><th>Count</th></tr>");
        for (k, v) in &s.deliveries.counters {
            let _ = write!(h, "<tr><td><code>{}</code></td><td>{v}</td></tr>", esc(k));
        }
        h.push_str("</table>");
    }
    h.push_str("</div></div></section>");

    // Webhooks and catch-up.
    let l = &s.lifecycle;
    let _ = write!(
        h,
        "<section id=\"catch-up\"><h2>Webhook monitor and catch-up</h2><dl>\
         <dt>Delivery URL</dt><dd><code>{}</code></dd>\
         <dt>Webhooks checked</dt><dd>{}</dd>\
         <dt>Catch-up watermark</dt><dd>{}</dd><dt>Last catch-up</dt><dd>{}</dd></dl>",
        esc(&l.delivery_url),
        when(now, l.webhooks_checked_at),
        opt(l.catch_up_watermark.as_deref()),
        esc(&catch_up_summary(l.catch_up_last.as_ref()))
    );
    if !l.repairs.is_empty() {
        h.push_str("<ul>");
        for r in &l.repairs {
            let _ = write!(h, "<li>{}</li>", esc(r));
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
    h.push_str(extra);
    layout("Status", true, &h)
}

/// The X3 card. X3's last failure message is shown while the verdict is not `ok`: once X3 has
/// answered again, an old message would contradict the badge (the time of the failure stays).
fn x3_card(x: &X3Health, now: i64) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<div class=\"card\" id=\"x3\"><h3>Sage X3 {}</h3><dl>\
         <dt>Endpoint</dt><dd>{} · folder {} · {}</dd>\
         <dt>Last answer</dt><dd>{}</dd><dt>Last failure</dt><dd>{}</dd>",
        badge(x.verdict),
        esc(&x.url),
        esc(&x.folder),
        esc(x.api),
        when(now, x.last_success_at),
        when(now, x.last_failure_at),
    );
    if let Some(m) = x.last_failure.as_ref().filter(|_| x.verdict != "ok") {
        let _ = write!(h, "<dt>Message</dt><dd class=\"msg\">{}</dd>", esc(m));
    }
    for m in &x.config_problems {
        let _ = write!(
            h,
            "<dt>Configuration</dt><dd class=\"msg config\">{}</dd>",
            esc(m)
        );
    }
    let _ = write!(h, "<dt>Circuit breaker</dt><dd>{}", esc(x.breaker));
    if let Some(t) = x.breaker_open_until {
        let _ = write!(
            h,
            " — calls resume in {} (after repeated failures, X3 is probed, not hammered)",
            esc(&duration(t - now))
        );
    }
    h.push_str("</dd></dl></div>");
    h
}

/// The store card. The REST API's last failure message is shown only while reading orders fails
/// (its last call failed), not after it answered again.
fn store_card(st: &StoreHealth, deliveries: &Deliveries, now: i64) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<div class=\"card\" id=\"store\"><h3>WooCommerce store {}</h3><dl>\
         <dt>Site</dt><dd>{}</dd><dt>Last delivery</dt><dd>{}</dd>\
         <dt>Deliveries stored</dt><dd>{}</dd><dt>Deliveries refused</dt><dd>{}</dd>\
         <dt>Pings answered</dt><dd>{}</dd>\
         <dt>REST API</dt><dd>last answer {}, last failure {}</dd>",
        badge(st.verdict),
        esc(&st.url),
        when(now, st.last_delivery_at),
        deliveries.stored,
        deliveries.rejected,
        st.pings,
        when(now, st.rest_last_success_at),
        when(now, st.rest_last_failure_at),
    );
    let rest_failing = verdict(st.rest_last_success_at, st.rest_last_failure_at) == "failing";
    if let Some(m) = st.rest_last_failure.as_ref().filter(|_| rest_failing) {
        let _ = write!(h, "<dt>Message</dt><dd class=\"msg\">{}</dd>", esc(m));
    }
    if let Some(r) = &st.secret_rotation {
        let _ = write!(
            h,
            "<dt>Webhook secret</dt><dd id=\"secret-rotation\">being rotated: the previous secret \
             is still accepted ({} deliveries signed with it since the start, last {})</dd>",
            r.previous_used,
            when(now, r.previous_last_at)
        );
    }
    h.push_str("</dl>");
    if !st.notes.is_empty() {
        h.push_str("<ul class=\"notes\">");
        for n in &st.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("</div>");
    h
}

fn catch_up_summary(last: Option<&serde_json::Value>) -> String {
    let Some(v) = last else {
        return "none yet".into();
    };
    let at = v
        .get("at")
        .and_then(serde_json::Value::as_i64)
        .map_or_else(String::new, |a| format!("{}: ", utc(a)));
    if let Some(e) = v.get("error").and_then(serde_json::Value::as_str) {
        return format!("{at}{e}");
    }
    let r = &v["report"];
    format!(
        "{at}since {}, {} order(s) read, {} new to us",
        r["since"].as_str().unwrap_or("?"),
        r["found"].as_u64().unwrap_or(0),
        r["taken-in"].as_u64().unwrap_or(0)
    )
}

fn ms_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| esc(&lag_text(v)).to_string())
}

/// A lag as a person reads it: `850 ms`, `12.3 s`, `4 min 40 s`, `2 h 5 min` (not `279777 ms`).
pub fn lag_text(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{}.{} s", ms / 1000, ms % 1000 / 100),
        60_000..3_600_000 => {
            let s = (ms + 500) / 1000;
            format!("{} min {} s", s / 60, s % 60)
        }
        _ => {
            let m = (ms + 30_000) / 60_000;
            format!("{} h {} min", m / 60, m % 60)
        }
    }
}

fn missing_list(missing: &[MissingMapping], reasons: &[String]) -> String {
    let mut h = String::from("<ul class=\"missing\">");
    for m in missing {
        let _ = write!(
            h,
            "<li>{} <strong>{}</strong>: no row for {}</li>",
            esc(&m.line_kind),
            esc(&m.name),
            m.tried
                .iter()
                .map(|k| format!("<code>{}</code>", esc(k)))
                .collect::<Vec<_>>()
                .join(" or ")
        );
    }
    for r in reasons {
        let _ = write!(h, "<li>{}</li>", esc(r));
    }
    h.push_str("</ul>");
    h
}

/// A bar per minute, oldest left; `None` draws nothing. Each bar has a `<title>` (a tooltip,
/// and what a screen reader says).
fn bar_chart(
    id: &str,
    title: &str,
    now: i64,
    values: &[Option<i64>],
    label: impl Fn(i64) -> String,
    colour: &str,
) -> String {
    const W: i64 = 600;
    const H: i64 = 150;
    // Room for the y axis' top label ("12 min 40 s" at 10 px) left of the plot.
    const LEFT: i64 = 72;
    const BOTTOM: i64 = 20;
    const TOP: i64 = 10;
    let n = i64::try_from(values.len().max(1)).unwrap_or(1);
    let max = values.iter().flatten().copied().max().unwrap_or(0).max(1);
    let plot_w = W - LEFT - 4;
    let plot_h = H - BOTTOM - TOP;
    let mut s = format!("<h3>{}</h3>", esc(title));
    let _ = write!(
        s,
        "<svg class=\"chart\" id=\"{}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        esc(id),
        esc(title),
        esc(title)
    );
    // Axes and the top value.
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{y0}\" stroke=\"#dcdcde\"/>\
         <line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{W}\" y2=\"{y0}\" stroke=\"#dcdcde\"/>\
         <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{}</text>\
         <text x=\"{lx}\" y=\"{y0}\" text-anchor=\"end\">0</text>\
         <text x=\"{LEFT}\" y=\"{ly}\">−{n} min</text>\
         <text x=\"{W}\" y=\"{ly}\" text-anchor=\"end\">now</text>",
        esc(&label(max)),
        y0 = TOP + plot_h,
        lx = LEFT - 4,
        ty = TOP + 8,
        ly = H - 4,
    );
    let slot = plot_w as f64 / n as f64;
    let current = now.div_euclid(MINUTE);
    let mut any = false;
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v else { continue };
        let i = i64::try_from(i).unwrap_or(0);
        any = true;
        let bh = ((*v as f64 / max as f64) * plot_h as f64).max(if *v > 0 { 1.0 } else { 0.0 });
        let x = LEFT as f64 + 1.0 + i as f64 * slot;
        let minute = (current - (n - 1 - i)) * MINUTE;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\">\
             <title>{}: {}</title></rect>",
            (TOP + plot_h) as f64 - bh,
            (slot - 1.0).max(1.0),
            esc(colour),
            esc(&utc(minute)[11..16]),
            esc(&label(*v)),
        );
    }
    if !any || values.iter().flatten().all(|v| *v == 0) {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">nothing posted in this window</text>",
            LEFT + plot_w / 2,
            TOP + plot_h / 2
        );
    }
    s.push_str("</svg>");
    s
}

fn render_order(ctx: &Ctx, order_id: u64) -> Result<Option<String>> {
    let store = &ctx.store;
    let Some(o) = store.load_order(order_id)? else {
        return Ok(None);
    };
    let now = now_ms();
    let body = body_json(&o);
    let (missing, reasons) = parse_hold(o.hold.as_deref());
    let mut h = String::new();
    let _ = write!(
        h,
        "<p><a href=\"/status\">← Status</a></p><h1>Order #{} {}</h1><dl class=\"card\" id=\"order\">\
         <dt>WooCommerce status</dt><dd>{}</dd><dt>Customer</dt><dd>{}</dd><dt>Total</dt><dd>{}</dd>\
         <dt>X3 document</dt><dd>{}</dd><dt>X3 customer</dt><dd>{}</dd>\
         <dt>Attempts</dt><dd>{}</dd><dt>Queued</dt><dd>{}</dd><dt>Updated</dt><dd>{}</dd>",
        o.order_id,
        badge(&o.state),
        opt(o.status.as_deref()),
        opt(Some(&customer_of(&body))),
        opt(Some(&total_of(&body))),
        opt(o.document_no.as_deref()),
        opt(o.customer_code.as_deref()),
        o.attempts,
        if o.dirty {
            if o.next_attempt_at > now {
                format!(
                    "yes, next attempt in {}",
                    esc(&duration(o.next_attempt_at - now))
                )
            } else {
                "yes, due now".to_string()
            }
        } else {
            "no".to_string()
        },
        when(now, Some(o.updated_at)),
    );
    if o.trashed {
        h.push_str("<dt>Trashed</dt><dd>yes, in WooCommerce</dd>");
    }
    if let Some(e) = &o.last_error {
        let _ = write!(
            h,
            "<dt>Message</dt><dd class=\"msg\" id=\"message\">{}</dd>",
            esc(e)
        );
    }
    if !missing.is_empty() || !reasons.is_empty() {
        let _ = write!(
            h,
            "<dt>Missing</dt><dd>{}</dd>",
            missing_list(&missing, &reasons)
        );
    }
    h.push_str("</dl>");

    h.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
    let timeline = store.timeline(order_id)?;
    if timeline.is_empty() {
        h.push_str("<p class=\"muted\">Nothing recorded yet.</p>");
    } else {
        h.push_str("<table><tr><th>When</th><th>Event</th><th>Detail</th></tr>");
        for t in &timeline {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"msg\">{}</td></tr>",
                esc(&utc(t.at)),
                esc(&t.event),
                esc(&t.detail)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section><section id=\"ledger\"><h2>X3 writes (ledger)</h2>");
    let ledger = store.ledger_for_order(order_id)?;
    if ledger.is_empty() {
        h.push_str("<p class=\"muted\">No write to X3 for this order.</p>");
    } else {
        h.push_str(
            "<p class=\"muted\">One row per X3 create; a row that is not <code>done</code> is looked \
             up in X3 before anything is created again.</p><table><tr><th>What</th><th>Reference</th>\
             <th>State</th><th>X3 key</th><th>Attempts</th><th>Idempotency key</th></tr>",
        );
        for l in &ledger {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&l.kind),
                esc(&l.reference),
                esc(&l.state),
                opt(l.x3_key.as_deref()),
                l.attempts,
                esc(&l.idempotency_key)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section><section id=\"order-deliveries\"><h2>Deliveries</h2>");
    let deliveries = store.deliveries_of(order_id)?;
    if deliveries.is_empty() {
        h.push_str("<p class=\"muted\">None stored (the order was read from the REST API).</p>");
    } else {
        h.push_str(
            "<table><tr><th>Received</th><th>Kind</th><th>Topic</th><th>Webhook</th>\
             <th>Modified (GMT)</th></tr>",
        );
        for d in &deliveries {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&utc(d.received_at)),
                esc(&d.kind),
                opt(d.topic.as_deref()),
                opt(d.webhook_id.as_deref()),
                opt(d.modified_gmt.as_deref())
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
    h.push_str(&crate::jobs::x3poll::order_html(store, order_id)?);
    Ok(Some(layout(&format!("Order #{order_id}"), false, &h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopper_text_is_escaped() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>").to_string(),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(esc("Zoë Ørsted 山田").to_string(), "Zoë Ørsted 山田");
    }

    #[test]
    fn urls_lose_user_info_and_query() {
        assert_eq!(
            public_url("https://admin:pw@x3.example:8124/api?token=s"),
            "https://x3.example:8124/api"
        );
        assert_eq!(public_url("http://127.0.0.1:80/"), "http://127.0.0.1:80/");
    }

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_210_096_000), "2024-02-29 12:34:56 UTC");
    }

    #[test]
    fn throughput_buckets_by_minute_and_ranks_lag() {
        let now = 100 * MINUTE + 30_000;
        let posted = [
            (now - 1_000, Some(200)),
            (now - 2_000, Some(400)),
            (now - 5 * MINUTE, Some(1_000)),
            (now - 2 * 60 * MINUTE, Some(9_999)),
        ];
        let t = throughput(now, &posted);
        assert_eq!(t.posted, 3);
        assert_eq!(t.posted_per_minute[WINDOW - 1], 2);
        assert_eq!(t.posted_per_minute[WINDOW - 6], 1);
        assert_eq!(t.lag_avg_ms_per_minute[WINDOW - 1], Some(300));
        assert_eq!((t.lag_p50_ms, t.lag_max_ms), (Some(400), Some(1_000)));
    }

    #[test]
    fn lag_reads_as_a_duration_not_raw_milliseconds() {
        // Regression (issue 14): the page said "279777 ms".
        assert_eq!(lag_text(279_777), "4 min 40 s");
        assert_eq!(lag_text(850), "850 ms");
        assert_eq!(lag_text(12_345), "12.3 s");
        assert_eq!(lag_text(7_500_000), "2 h 5 min");
        assert_eq!(lag_text(-5), "0 ms");
        assert_eq!(ms_opt(Some(279_777)), "4 min 40 s");
    }

    #[test]
    fn the_lag_charts_top_label_fits_left_of_the_plot() {
        // Regression (issue 14): "279777 ms" right-aligned at x = 40 ran off the chart's left edge.
        let mut values = vec![None; WINDOW];
        values[WINDOW - 1] = Some(2_759_999); // the widest text under an hour: "46 min 0 s"
        let svg = bar_chart("chart-lag", "Lag", 0, &values, lag_text, "#000");
        let label = "46 min 0 s";
        let at = svg
            .find(&format!(">{label}</text>"))
            .expect("the top label");
        let x: f64 = svg[..at]
            .rsplit("<text x=\"")
            .next()
            .and_then(|t| t.split('"').next())
            .and_then(|x| x.parse().ok())
            .expect("its x");
        // 10 px sans-serif: at most ~6 px a character.
        assert!(
            x - 6.0 * label.len() as f64 >= 0.0,
            "{label} at x={x} is clipped"
        );
    }

    fn x3(verdict: &'static str) -> X3Health {
        X3Health {
            verdict,
            url: "http://x3.example".into(),
            folder: "SEED".into(),
            api: "rest",
            last_success_at: Some(2_000),
            last_failure_at: Some(1_000),
            last_failure: Some("X3 temporarily unavailable: connection refused".into()),
            breaker: "closed",
            breaker_open_until: None,
            config_problems: Vec::new(),
        }
    }

    #[test]
    fn a_misconfigured_card_names_what_x3_did_not_know() {
        let mut x = x3("misconfigured");
        x.config_problems = vec!["customer lookup: X3 does not know WEB <b>".into()];
        let h = x3_card(&x, 3_000);
        assert!(h.contains("misconfigured"), "{h}");
        assert!(h.contains("X3 does not know WEB &lt;b&gt;"), "escaped: {h}");
    }

    #[test]
    fn a_card_marked_ok_shows_no_old_failure_message() {
        // Regression (issue 14): the X3 card said "ok" above the last failure's message.
        let ok = x3_card(&x3("ok"), 3_000);
        assert!(ok.contains("badge ok"));
        assert!(!ok.contains("connection refused"), "{ok}");
        assert!(ok.contains("Last failure"), "the time of the failure stays");
        let failing = x3_card(&x3("failing"), 3_000);
        assert!(failing.contains("connection refused"), "{failing}");

        let mut st = StoreHealth {
            verdict: "ok",
            url: "https://shop.example/".into(),
            last_delivery_at: Some(1_000),
            pings: 0,
            rejected_signature: 0,
            rest_last_success_at: Some(2_000),
            rest_last_failure_at: Some(1_000),
            rest_last_failure: Some("401 Consumer key is invalid".into()),
            webhooks: Vec::new(),
            notes: Vec::new(),
            secret_rotation: None,
        };
        let d = Deliveries {
            stored: 1,
            counters: BTreeMap::new(),
            rejected: 0,
        };
        assert!(!store_card(&st, &d, 3_000).contains("Consumer key is invalid"));
        st.rest_last_failure_at = Some(2_500);
        assert!(store_card(&st, &d, 3_000).contains("Consumer key is invalid"));
    }

    #[test]
    fn frame_ancestors_lists_self_and_the_configured_origins() {
        assert!(csp(&[]).ends_with("frame-ancestors 'self'"));
        assert!(
            csp(&["https://shop.example".into()])
                .ends_with("frame-ancestors 'self' https://shop.example")
        );
    }
}

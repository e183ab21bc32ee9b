//! The status snapshot: everything the page, `/api/status` and `/metrics` show, read once.

use super::*;

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
    pub state: OrderState,
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

    // Where the connections point now: the admin API may have moved them since the start.
    let in_force = ctx.admin.config_in_force();
    let x3 = x3_health(ctx, &in_force, now);
    let monitor = ctx.lifecycle.state();
    let store_health = store_health(ctx, &in_force, &counters, &monitor)?;
    let p = &ctx.pipeline;
    let (depth, oldest_since) = store.queue_depth()?;
    let queue = Queue {
        depth,
        in_flight: p.in_flight(),
        oldest_since,
        oldest_age_secs: oldest_since.map(|t| ((now - t) / 1000).max(0)),
    };

    let throughput = throughput(now, &store.posted_since(now - WINDOW as i64 * MINUTE)?);

    let (attention, held) = attention_and_held(store)?;

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

/// X3: its verdict, where it is, the breaker, the configuration problems.
fn x3_health(ctx: &Ctx, in_force: &crate::config::Config, now: i64) -> X3Health {
    let p = &ctx.pipeline;
    let x = &in_force.x3;
    let x3c = p.health.x3();
    let open_until = p.breaker.open_until();
    let breaker_open = open_until > now;
    let config_problems: Vec<String> = p
        .health
        .x3_config_problems()
        .into_iter()
        .map(|(_, what, m)| format!("{what}: {m}"))
        .collect();
    X3Health {
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
    }
}

/// The store: its deliveries, its REST API, and the notes a merchant should read.
fn store_health(
    ctx: &Ctx,
    in_force: &crate::config::Config,
    counters: &BTreeMap<String, i64>,
    monitor: &crate::jobs::lifecycle::MonitorState,
) -> Result<StoreHealth> {
    let store = &ctx.store;
    let woo = ctx.pipeline.health.woo();
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
    notes.extend(monitor.alerts.iter().cloned());
    let rest_failing = verdict(woo.last_success_at, woo.last_failure_at) == "failing";
    if rest_failing {
        notes.push("Reading orders from the WooCommerce REST API is failing.".to_string());
    }
    Ok(StoreHealth {
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
    })
}

/// The orders that need a person (attention, failed; newest first) and those on hold.
fn attention_and_held(
    store: &crate::store::Store,
) -> Result<(Vec<OrderSummary>, Vec<OrderSummary>)> {
    let mut attention: Vec<OrderSummary> = store
        .orders_in_state(OrderState::Attention, LIST_LIMIT)?
        .iter()
        .chain(
            store
                .orders_in_state(OrderState::Failed, LIST_LIMIT)?
                .iter(),
        )
        .map(summary)
        .collect();
    attention.sort_by_key(|a| std::cmp::Reverse(a.updated_at));
    attention.truncate(LIST_LIMIT);
    let held = store
        .orders_in_state(OrderState::Held, LIST_LIMIT)?
        .iter()
        .map(summary)
        .collect();

    Ok((attention, held))
}

pub(super) fn verdict(success: Option<i64>, failure: Option<i64>) -> &'static str {
    match (success, failure) {
        (None, None) => "unknown",
        (Some(_), None) => "ok",
        (None, Some(_)) => "failing",
        (Some(s), Some(f)) if s >= f => "ok",
        _ => "failing",
    }
}

/// A URL without user-info, query or fragment: what may be shown.
pub(super) fn public_url(url: &str) -> String {
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

pub(super) fn throughput(now: i64, posted: &[(i64, Option<i64>)]) -> Throughput {
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

pub(super) fn body_json(o: &OrderRow) -> Value {
    o.body
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null)
}

pub(super) fn customer_of(body: &Value) -> String {
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

pub(super) fn total_of(body: &Value) -> String {
    match (body["total"].as_str(), body["currency"].as_str()) {
        (Some(t), Some(c)) => format!("{t} {c}"),
        (Some(t), None) => t.to_string(),
        _ => String::new(),
    }
}

/// The `hold` column: `{"missing":[{line_id,line_kind,name,tried}],"reasons":[…]}`.
pub(super) fn parse_hold(hold: Option<&str>) -> (Vec<MissingMapping>, Vec<String>) {
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

pub(super) fn summary(o: &OrderRow) -> OrderSummary {
    let body = body_json(o);
    let (missing, reasons) = parse_hold(o.hold.as_deref());
    OrderSummary {
        order_id: o.order_id,
        state: o.state,
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

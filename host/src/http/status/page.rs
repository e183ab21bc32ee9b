//! The status page and the order page as HTML, written as `maud` templates: every value is
//! escaped by the template on its way in; nothing here escapes by hand.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::*;
use crate::html::woo_text;

pub(super) const CSS: &str = "
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

/// The whole page around `body`: the document's head (inline CSS, and a refresh for the status
/// page) and `body`.
pub(super) fn layout(title: &str, refresh: bool, body: &Markup) -> String {
    let page = html! {
        (DOCTYPE) "\n"
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh {
                    // Without a script, a plain refresh keeps a framed page current.
                    meta http-equiv="refresh" content="30";
                }
                title { (title) " · ml-connector" }
                // The page's own constant stylesheet, not a value: nothing in it to escape.
                style { (PreEscaped(CSS)) }
            }
            body { (body) }
        }
        "\n"
    };
    page.into_string()
}

/// `45 s`, `12 min`, `3 h`, `2 d`.
pub(super) fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A time with how long ago it was, or `never`.
pub(super) fn when(now: i64, t: Option<i64>) -> Markup {
    html! {
        @match t {
            Some(t) => span title=(utc(t)) { (duration(now - t)) " ago" },
            None => span class="muted" { "never" },
        }
    }
}

pub(super) fn badge(v: &str) -> Markup {
    html! { span class={ "badge " (v) } { (v) } }
}

pub(super) fn opt(v: Option<&str>) -> Markup {
    html! {
        @match v {
            Some(v) if !v.is_empty() => (v),
            _ => span class="muted" { "—" },
        }
    }
}

pub(super) fn render_status(s: &Status, extra: &Markup) -> String {
    let now = s.generated_at;
    let body = html! {
        (head_section(s, now))
        (connections_section(s, now))
        (queue_section(s))
        (charts_section(s, now))
        (attention_section(s, now))
        (held_section(s, now))
        (deliveries_section(s, now))
        (catch_up_section(s, now))
        (extra)
    };
    layout("Status", true, &body)
}

/// The page's heading and the alerts.
fn head_section(s: &Status, now: i64) -> Markup {
    html! {
        header {
            h1 { "ml-connector" }
            p class="muted" {
                "WooCommerce → Sage X3 · generated " (utc(now))
                " · running for " (duration(now - s.started_at))
                " · " a href="/api/status" { "JSON" } " · " a href="/metrics" { "metrics" }
            }
        }
        @if !s.alerts.is_empty() {
            section id="alerts" class="alerts" role="alert" {
                h2 { "Alerts" }
                ul { @for a in &s.alerts { li { (a) } } }
            }
        }
    }
}

/// The X3 and store cards.
fn connections_section(s: &Status, now: i64) -> Markup {
    html! {
        section id="connections" {
            h2 { "Connections" }
            div class="grid" {
                (x3_card(&s.x3, now))
                (store_card(&s.store, &s.deliveries, now))
            }
        }
    }
}

/// The queue: depth, age, and the count of orders in each state.
fn queue_section(s: &Status) -> Markup {
    let q = &s.queue;
    html! {
        section id="queue" {
            h2 { "Queue" }
            div class="kpis" {
                div {
                    div class="num" id="queue-depth" { (q.depth) }
                    div class="muted" { "orders waiting" }
                }
                div {
                    div class="num" { (q.in_flight) }
                    div class="muted" { "being posted" }
                }
                div {
                    div class="num" id="queue-oldest" {
                        @match q.oldest_age_secs {
                            Some(a) => (duration(a * 1000)),
                            None => "—",
                        }
                    }
                    div class="muted" { "oldest waiting" }
                }
                div {
                    div class="num" { (s.throughput.posted) }
                    div class="muted" { "posted in the last hour" }
                }
            }
            table class="states" {
                tr { @for state in OrderState::ALL { th { (state.as_str()) } } }
                tr {
                    @for state in OrderState::ALL {
                        td id={ "count-" (state.as_str()) } {
                            (s.orders.get(state.as_str()).copied().unwrap_or(0))
                        }
                    }
                }
            }
        }
    }
}

/// Orders posted and lag per minute over the window.
fn charts_section(s: &Status, now: i64) -> Markup {
    let t = &s.throughput;
    let posted: Vec<Option<i64>> = t
        .posted_per_minute
        .iter()
        .map(|c| Some(i64::from(*c)))
        .collect();
    html! {
        section id="throughput" {
            h2 { "Throughput and lag, last " (t.window_minutes) " minutes" }
            div class="grid" {
                div {
                    (bar_chart("chart-posted", "Orders posted per minute", now, &posted,
                        |v| format!("{v} posted"), "#2271b1"))
                }
                div {
                    (bar_chart("chart-lag", "Average lag, delivery received → posted", now,
                        &t.lag_avg_ms_per_minute, lag_text, "#8c5ae6"))
                    p class="muted" {
                        "Lag over the hour: median " (ms_opt(t.lag_p50_ms))
                        ", 95th percentile " (ms_opt(t.lag_p95_ms))
                        ", max " (ms_opt(t.lag_max_ms)) "."
                    }
                }
            }
        }
    }
}

fn count(s: &Status, state: OrderState) -> i64 {
    s.orders.get(state.as_str()).copied().unwrap_or(0)
}

/// Orders X3 refused or that were given up on.
fn attention_section(s: &Status, now: i64) -> Markup {
    html! {
        section id="attention" {
            h2 {
                "Needs attention ("
                (count(s, OrderState::Attention) + count(s, OrderState::Failed)) ")"
            }
            @if s.attention.is_empty() {
                p class="muted" { "Nothing: no order was refused by X3 or given up on." }
            } @else {
                table {
                    tr {
                        th { "Order" } th { "State" } th { "Customer" } th { "Total" }
                        th { "Updated" } th { "Message" }
                    }
                    @for o in &s.attention {
                        tr class="order" data-order=(o.order_id) {
                            td { a href=(o.link) { "#" (o.order_id) } }
                            td { (badge(o.state.as_str())) }
                            td { (o.customer) }
                            td { (o.total) }
                            td { (when(now, Some(o.updated_at))) }
                            td class="msg" { (opt(o.message.as_deref())) }
                        }
                    }
                }
            }
        }
    }
}

/// Orders held for missing mappings or settings.
fn held_section(s: &Status, now: i64) -> Markup {
    html! {
        section id="held" {
            h2 { "On hold (" (count(s, OrderState::Held)) ")" }
            @if s.held.is_empty() {
                p class="muted" { "Nothing: every line of every order has a mapping." }
            } @else {
                p class="muted" {
                    "Add the missing rows to the mapping table; held orders are looked at again \
                     when it changes."
                }
                table {
                    tr {
                        th { "Order" } th { "Customer" } th { "Total" } th { "Held since" }
                        th { "Missing mappings" }
                    }
                    @for o in &s.held {
                        tr class="order" data-order=(o.order_id) {
                            td { a href=(o.link) { "#" (o.order_id) } }
                            td { (o.customer) }
                            td { (o.total) }
                            td { (when(now, Some(o.updated_at))) }
                            td class="msg" { (missing_list(&o.missing, &o.reasons)) }
                        }
                    }
                }
            }
        }
    }
}

/// Webhook deliveries stored, and the counters of refused ones.
fn deliveries_section(s: &Status, now: i64) -> Markup {
    html! {
        section id="deliveries" {
            h2 { "Webhook deliveries" }
            div class="grid" {
                div {
                    @if s.store.webhooks.is_empty() {
                        p class="muted" { "No delivery stored yet." }
                    } @else {
                        table {
                            tr { th { "Webhook" } th { "Topic" } th { "Deliveries" } th { "Last" } }
                            @for w in &s.store.webhooks {
                                tr {
                                    td { (opt(w.webhook_id.as_deref())) }
                                    td { (opt(w.topic.as_deref())) }
                                    td { (w.deliveries) }
                                    td { (when(now, Some(w.last_received_at))) }
                                }
                            }
                        }
                    }
                }
                div {
                    @if s.deliveries.counters.is_empty() {
                        p class="muted" { "No delivery refused, duplicated or pinged." }
                    } @else {
                        table {
                            tr { th { "Counter" } th { "Count" } }
                            @for (k, v) in &s.deliveries.counters {
                                tr { td { code { (k) } } td { (v) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The webhook monitor and the catch-up.
fn catch_up_section(s: &Status, now: i64) -> Markup {
    let l = &s.lifecycle;
    html! {
        section id="catch-up" {
            h2 { "Webhook monitor and catch-up" }
            dl {
                dt { "Delivery URL" } dd { code { (l.delivery_url) } }
                dt { "Webhooks checked" } dd { (when(now, l.webhooks_checked_at)) }
                dt { "Catch-up watermark" } dd { (opt(l.catch_up_watermark.as_deref())) }
                dt { "Last catch-up" } dd { (catch_up_summary(l.catch_up_last.as_ref())) }
            }
            @if !l.repairs.is_empty() {
                ul { @for r in &l.repairs { li { (r) } } }
            }
        }
    }
}

/// The X3 card. X3's last failure message is shown while the verdict is not `ok`: once X3 has
/// answered again, an old message would contradict the badge (the time of the failure stays).
pub(super) fn x3_card(x: &X3Health, now: i64) -> Markup {
    html! {
        div class="card" id="x3" {
            h3 { "Sage X3 " (badge(x.verdict)) }
            dl {
                dt { "Endpoint" } dd { (x.url) " · folder " (x.folder) " · " (x.api) }
                dt { "Last answer" } dd { (when(now, x.last_success_at)) }
                dt { "Last failure" } dd { (when(now, x.last_failure_at)) }
                @if let Some(m) = x.last_failure.as_ref().filter(|_| x.verdict != "ok") {
                    dt { "Message" } dd class="msg" { (m) }
                }
                @for m in &x.config_problems {
                    dt { "Configuration" } dd class="msg config" { (m) }
                }
                dt { "Circuit breaker" }
                dd {
                    (x.breaker)
                    @if let Some(t) = x.breaker_open_until {
                        " — calls resume in " (duration(t - now))
                        " (after repeated failures, X3 is probed, not hammered)"
                    }
                }
            }
        }
    }
}

/// The store card. The REST API's last failure message is shown only while reading orders fails
/// (its last call failed), not after it answered again.
pub(super) fn store_card(st: &StoreHealth, deliveries: &Deliveries, now: i64) -> Markup {
    let rest_failing = verdict(st.rest_last_success_at, st.rest_last_failure_at) == "failing";
    html! {
        div class="card" id="store" {
            h3 { "WooCommerce store " (badge(st.verdict)) }
            dl {
                dt { "Site" } dd { (st.url) }
                dt { "Last delivery" } dd { (when(now, st.last_delivery_at)) }
                dt { "Deliveries stored" } dd { (deliveries.stored) }
                dt { "Deliveries refused" } dd { (deliveries.rejected) }
                dt { "Pings answered" } dd { (st.pings) }
                dt { "REST API" }
                dd {
                    "last answer " (when(now, st.rest_last_success_at))
                    ", last failure " (when(now, st.rest_last_failure_at))
                }
                @if let Some(m) = st.rest_last_failure.as_ref().filter(|_| rest_failing) {
                    dt { "Message" } dd class="msg" { (m) }
                }
                @if let Some(r) = &st.secret_rotation {
                    dt { "Webhook secret" }
                    dd id="secret-rotation" {
                        "being rotated: the previous secret is still accepted ("
                        (r.previous_used) " deliveries signed with it since the start, last "
                        (when(now, r.previous_last_at)) ")"
                    }
                }
            }
            @if !st.notes.is_empty() {
                ul class="notes" { @for n in &st.notes { li { (n) } } }
            }
        }
    }
}

pub(super) fn catch_up_summary(last: Option<&serde_json::Value>) -> String {
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

pub(super) fn ms_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "—".to_string(), lag_text)
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

/// What holds an order: the lines with no mapping row (their names as WooCommerce wrote them,
/// entities decoded) and the other reasons.
pub(super) fn missing_list(missing: &[MissingMapping], reasons: &[String]) -> Markup {
    html! {
        ul class="missing" {
            @for m in missing {
                li {
                    (m.line_kind) " " strong { (woo_text(&m.name)) } ": no row for "
                    @for (i, k) in m.tried.iter().enumerate() {
                        @if i > 0 { " or " }
                        code { (k) }
                    }
                }
            }
            @for r in reasons { li { (r) } }
        }
    }
}

/// A bar per minute, oldest left; `None` draws nothing. Each bar has a `<title>` (a tooltip,
/// and what a screen reader says).
pub(super) fn bar_chart(
    id: &str,
    title: &str,
    now: i64,
    values: &[Option<i64>],
    label: impl Fn(i64) -> String,
    colour: &str,
) -> Markup {
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
    let y0 = TOP + plot_h;
    let lx = LEFT - 4;
    let ly = H - 4;
    let slot = plot_w as f64 / n as f64;
    let current = now.div_euclid(MINUTE);
    let bars: Vec<_> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let v = (*v)?;
            let i = i64::try_from(i).unwrap_or(0);
            let bh = ((v as f64 / max as f64) * plot_h as f64).max(if v > 0 { 1.0 } else { 0.0 });
            let x = LEFT as f64 + 1.0 + i as f64 * slot;
            let minute = (current - (n - 1 - i)) * MINUTE;
            Some((x, bh, minute, v))
        })
        .collect();
    let empty = bars.is_empty() || bars.iter().all(|b| b.3 == 0);
    // SVG elements are closed explicitly (`<line …></line>`): inside HTML, an SVG element
    // written like an HTML void one would swallow its following siblings.
    html! {
        h3 { (title) }
        svg class="chart" id=(id) viewBox={ "0 0 " (W) " " (H) } role="img" aria-label=(title)
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            // Axes and the top value.
            line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(y0) stroke="#dcdcde" {}
            line x1=(LEFT) y1=(y0) x2=(W) y2=(y0) stroke="#dcdcde" {}
            text x=(lx) y=(TOP + 8) text-anchor="end" { (label(max)) }
            text x=(lx) y=(y0) text-anchor="end" { "0" }
            text x=(LEFT) y=(ly) { "−" (n) " min" }
            text x=(W) y=(ly) text-anchor="end" { "now" }
            @for (x, bh, minute, v) in &bars {
                rect x=(format!("{x:.1}")) y=(format!("{:.1}", y0 as f64 - bh))
                    width=(format!("{:.1}", (slot - 1.0).max(1.0))) height=(format!("{bh:.1}"))
                    fill=(colour) {
                    title { (utc(*minute)[11..16]) ": " (label(*v)) }
                }
            }
            @if empty {
                text x=(LEFT + plot_w / 2) y=(TOP + plot_h / 2) text-anchor="middle" {
                    "nothing posted in this window"
                }
            }
        }
    }
}

pub(super) fn render_order(ctx: &Ctx, order_id: u64) -> Result<Option<String>> {
    let store = &ctx.store;
    let Some(o) = store.load_order(order_id)? else {
        return Ok(None);
    };
    let body = html! {
        (order_card(&o, now_ms()))
        section id="timeline" { h2 { "Timeline" } (timeline_table(&store.timeline(order_id)?)) }
        section id="ledger" {
            h2 { "X3 writes (ledger)" }
            (ledger_table(&store.ledger_for_order(order_id)?))
        }
        section id="order-deliveries" {
            h2 { "Deliveries" }
            (deliveries_table(&store.deliveries_of(order_id)?))
        }
        (crate::jobs::x3poll::order_html(store, order_id)?)
    };
    Ok(Some(layout(&format!("Order #{order_id}"), false, &body)))
}

/// The order's card: where it stands, in WooCommerce and in X3.
fn order_card(o: &OrderRow, now: i64) -> Markup {
    let body = body_json(o);
    let (missing, reasons) = parse_hold(o.hold.as_deref());
    html! {
        p { a href="/status" { "← Status" } }
        h1 { "Order #" (o.order_id) " " (badge(o.state.as_str())) }
        dl class="card" id="order" {
            dt { "WooCommerce status" } dd { (opt(o.status.as_deref())) }
            dt { "Customer" } dd { (opt(Some(&customer_of(&body)))) }
            dt { "Total" } dd { (opt(Some(&total_of(&body)))) }
            dt { "X3 document" } dd { (opt(o.document_no.as_deref())) }
            dt { "X3 customer" } dd { (opt(o.customer_code.as_deref())) }
            dt { "Attempts" } dd { (o.attempts) }
            dt { "Queued" }
            dd {
                @if !o.dirty {
                    "no"
                } @else if o.next_attempt_at > now {
                    "yes, next attempt in " (duration(o.next_attempt_at - now))
                } @else {
                    "yes, due now"
                }
            }
            dt { "Updated" } dd { (when(now, Some(o.updated_at))) }
            @if o.trashed {
                dt { "Trashed" } dd { "yes, in WooCommerce" }
            }
            @if let Some(e) = &o.last_error {
                dt { "Message" } dd class="msg" id="message" { (e) }
            }
            @if !missing.is_empty() || !reasons.is_empty() {
                dt { "Missing" } dd { (missing_list(&missing, &reasons)) }
            }
        }
    }
}

/// What happened to the order, oldest first.
fn timeline_table(timeline: &[crate::store::TimelineEntry]) -> Markup {
    html! {
        @if timeline.is_empty() {
            p class="muted" { "Nothing recorded yet." }
        } @else {
            table {
                tr { th { "When" } th { "Event" } th { "Detail" } }
                @for t in timeline {
                    tr { td { (utc(t.at)) } td { (t.event) } td class="msg" { (t.detail) } }
                }
            }
        }
    }
}

/// The order's X3 writes, one ledger row each.
fn ledger_table(ledger: &[crate::store::LedgerRow]) -> Markup {
    html! {
        @if ledger.is_empty() {
            p class="muted" { "No write to X3 for this order." }
        } @else {
            p class="muted" {
                "One row per X3 create; a row that is not " code { "done" } " is looked up in X3 \
                 before anything is created again."
            }
            table {
                tr {
                    th { "What" } th { "Reference" } th { "State" } th { "X3 key" }
                    th { "Attempts" } th { "Idempotency key" }
                }
                @for l in ledger {
                    tr {
                        td { (l.kind) }
                        td { (l.reference) }
                        td { (l.state) }
                        td { (opt(l.x3_key.as_deref())) }
                        td { (l.attempts) }
                        td { code { (l.idempotency_key) } }
                    }
                }
            }
        }
    }
}

/// The deliveries stored for the order.
fn deliveries_table(deliveries: &[crate::store::DeliverySeen]) -> Markup {
    html! {
        @if deliveries.is_empty() {
            p class="muted" { "None stored (the order was read from the REST API)." }
        } @else {
            table {
                tr {
                    th { "Received" } th { "Kind" } th { "Topic" } th { "Webhook" }
                    th { "Modified (GMT)" }
                }
                @for d in deliveries {
                    tr {
                        td { (utc(d.received_at)) }
                        td { (d.kind) }
                        td { (opt(d.topic.as_deref())) }
                        td { (opt(d.webhook_id.as_deref())) }
                        td { (opt(d.modified_gmt.as_deref())) }
                    }
                }
            }
        }
    }
}

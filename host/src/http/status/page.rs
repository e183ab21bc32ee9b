//! The status page and the order page as HTML.

use super::*;

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

pub(super) fn layout(title: &str, refresh: bool, body: &str) -> String {
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
pub(super) fn when(now: i64, t: Option<i64>) -> String {
    match t {
        Some(t) => format!(
            "<span title=\"{}\">{} ago</span>",
            esc(&utc(t)),
            esc(&duration(now - t))
        ),
        None => "<span class=\"muted\">never</span>".to_string(),
    }
}

pub(super) fn badge(v: &str) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", esc(v))
}

pub(super) fn opt(v: Option<&str>) -> String {
    match v {
        Some(v) if !v.is_empty() => esc(v).to_string(),
        _ => "<span class=\"muted\">—</span>".to_string(),
    }
}

pub(super) fn render_status(s: &Status, extra: &str) -> String {
    let now = s.generated_at;
    let mut h = head_section(s, now);
    h.push_str(&connections_section(s, now));
    h.push_str(&queue_section(s, now));
    h.push_str(&charts_section(s, now));
    h.push_str(&attention_section(s, now));
    h.push_str(&held_section(s, now));
    h.push_str(&deliveries_section(s, now));
    h.push_str(&catch_up_section(s, now));
    h.push_str(extra);
    layout("Status", true, &h)
}

/// The page's heading and the alerts.
fn head_section(s: &Status, now: i64) -> String {
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
    h
}

/// The X3 and store cards.
fn connections_section(s: &Status, now: i64) -> String {
    let mut h = String::new();
    h.push_str("<section id=\"connections\"><h2>Connections</h2><div class=\"grid\">");
    h.push_str(&x3_card(&s.x3, now));
    h.push_str(&store_card(&s.store, &s.deliveries, now));
    h.push_str("</div></section>");
    h
}

/// The queue: depth, age, and the count of orders in each state.
fn queue_section(s: &Status, _now: i64) -> String {
    let mut h = String::new();
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
    for state in OrderState::ALL {
        let _ = write!(h, "<th>{}</th>", esc(state.as_str()));
    }
    h.push_str("</tr><tr>");
    for state in OrderState::ALL {
        let _ = write!(
            h,
            "<td id=\"count-{0}\">{1}</td>",
            esc(state.as_str()),
            s.orders.get(state.as_str()).copied().unwrap_or(0)
        );
    }
    h.push_str("</tr></table></section>");
    h
}

/// Orders posted and lag per minute over the window.
fn charts_section(s: &Status, now: i64) -> String {
    let mut h = String::new();
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
    h
}

/// Orders X3 refused or that were given up on.
fn attention_section(s: &Status, now: i64) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<section id=\"attention\"><h2>Needs attention ({})</h2>",
        s.orders
            .get(OrderState::Attention.as_str())
            .copied()
            .unwrap_or(0)
            + s.orders
                .get(OrderState::Failed.as_str())
                .copied()
                .unwrap_or(0)
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
                badge(o.state.as_str()),
                esc(&o.customer),
                esc(&o.total),
                when(now, Some(o.updated_at)),
                opt(o.message.as_deref()),
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
    h
}

/// Orders held for missing mappings or settings.
fn held_section(s: &Status, now: i64) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<section id=\"held\"><h2>On hold ({})</h2>",
        s.orders
            .get(OrderState::Held.as_str())
            .copied()
            .unwrap_or(0)
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
    h
}

/// Webhook deliveries stored, and the counters of refused ones.
fn deliveries_section(s: &Status, now: i64) -> String {
    let mut h = String::new();
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
    h
}

/// The webhook monitor and the catch-up.
fn catch_up_section(s: &Status, now: i64) -> String {
    let mut h = String::new();
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
    h
}

/// The X3 card. X3's last failure message is shown while the verdict is not `ok`: once X3 has
/// answered again, an old message would contradict the badge (the time of the failure stays).
pub(super) fn x3_card(x: &X3Health, now: i64) -> String {
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
pub(super) fn store_card(st: &StoreHealth, deliveries: &Deliveries, now: i64) -> String {
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

pub(super) fn missing_list(missing: &[MissingMapping], reasons: &[String]) -> String {
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
pub(super) fn bar_chart(
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

pub(super) fn render_order(ctx: &Ctx, order_id: u64) -> Result<Option<String>> {
    let store = &ctx.store;
    let Some(o) = store.load_order(order_id)? else {
        return Ok(None);
    };
    let mut h = order_card(&o, now_ms());
    h.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
    h.push_str(&timeline_table(&store.timeline(order_id)?));
    h.push_str("</section><section id=\"ledger\"><h2>X3 writes (ledger)</h2>");
    h.push_str(&ledger_table(&store.ledger_for_order(order_id)?));
    h.push_str("</section><section id=\"order-deliveries\"><h2>Deliveries</h2>");
    h.push_str(&deliveries_table(&store.deliveries_of(order_id)?));
    h.push_str("</section>");
    h.push_str(&crate::jobs::x3poll::order_html(store, order_id)?);
    Ok(Some(layout(&format!("Order #{order_id}"), false, &h)))
}

/// The order's card: where it stands, in WooCommerce and in X3.
fn order_card(o: &OrderRow, now: i64) -> String {
    let body = body_json(o);
    let (missing, reasons) = parse_hold(o.hold.as_deref());
    let mut h = String::new();
    let _ = write!(
        h,
        "<p><a href=\"/status\">← Status</a></p><h1>Order #{} {}</h1><dl class=\"card\" id=\"order\">\
         <dt>WooCommerce status</dt><dd>{}</dd><dt>Customer</dt><dd>{}</dd><dt>Total</dt><dd>{}</dd>\
         <dt>X3 document</dt><dd>{}</dd><dt>X3 customer</dt><dd>{}</dd>\
         <dt>Attempts</dt><dd>{}</dd><dt>Queued</dt><dd>{}</dd><dt>Updated</dt><dd>{}</dd>",
        o.order_id,
        badge(o.state.as_str()),
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
    h
}

/// What happened to the order, oldest first.
fn timeline_table(timeline: &[crate::store::TimelineEntry]) -> String {
    let mut h = String::new();
    if timeline.is_empty() {
        h.push_str("<p class=\"muted\">Nothing recorded yet.</p>");
    } else {
        h.push_str("<table><tr><th>When</th><th>Event</th><th>Detail</th></tr>");
        for t in timeline {
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
    h
}

/// The order's X3 writes, one ledger row each.
fn ledger_table(ledger: &[crate::store::LedgerRow]) -> String {
    let mut h = String::new();
    if ledger.is_empty() {
        h.push_str("<p class=\"muted\">No write to X3 for this order.</p>");
    } else {
        h.push_str(
            "<p class=\"muted\">One row per X3 create; a row that is not <code>done</code> is looked \
             up in X3 before anything is created again.</p><table><tr><th>What</th><th>Reference</th>\
             <th>State</th><th>X3 key</th><th>Attempts</th><th>Idempotency key</th></tr>",
        );
        for l in ledger {
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
    h
}

/// The deliveries stored for the order.
fn deliveries_table(deliveries: &[crate::store::DeliverySeen]) -> String {
    let mut h = String::new();
    if deliveries.is_empty() {
        h.push_str("<p class=\"muted\">None stored (the order was read from the REST API).</p>");
    } else {
        h.push_str(
            "<table><tr><th>Received</th><th>Kind</th><th>Topic</th><th>Webhook</th>\
             <th>Modified (GMT)</th></tr>",
        );
        for d in deliveries {
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
    h
}

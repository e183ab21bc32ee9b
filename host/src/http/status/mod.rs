//! The status page and its machine-readable twins: `GET /status` (HTML), `GET /status/orders/{id}`
//! (one order's timeline), `GET /api/status` (the same as JSON), `GET /metrics` (Prometheus text)
//! and `GET /healthz`.
//!
//! Everything is read from the store and the pipeline at request time into one [`Status`], which
//! the JSON serialises and the HTML renders: the two cannot drift apart. The HTML has no external
//! asset (inline CSS and SVG) and no script, so it reads the same without JavaScript and can be
//! framed by the WordPress admin; framing is allowed only for `[status] frame-origins`.
//!
//! Order data comes from shoppers: the HTML is written as `maud` templates (`page.rs`, and the
//! jobs' own sections), which escape every value on its way in. Config values are never shown
//! except the X3 and store URLs (without any user-info or query) and the X3 folder.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Value, json};

use crate::html::utc;
use crate::http::Ctx;
use crate::http::intake::Answer;
use crate::store::{OrderRow, OrderState, now_ms};

mod page;
mod prometheus;
mod snapshot;

pub use page::lag_text;
use page::*;
use prometheus::*;
pub use snapshot::*;

/// Most orders listed in a section; the counts above the list are complete.
const LIST_LIMIT: usize = 50;
const MINUTE: i64 = 60_000;
/// The charts' window, in minutes.
const WINDOW: usize = 60;

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
            let extra = maud::html! {
                (crate::jobs::x3poll::status_html(&ctx.store))
                (crate::jobs::reconcile::status_html(&ctx.store))
                (crate::jobs::customer_sync::status_html(
                    &ctx.store,
                    ctx.config.master_data.customer_addresses,
                ))
            };
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
                &maud::html! {
                    p {
                        "No such page or order. "
                        a href="/status" { "Back to the status page" } "."
                    }
                },
            ),
        ),
        Err(e) => (
            503,
            layout(
                "Status unavailable",
                false,
                &maud::html! {
                    p class="bad" { "The store could not be read: " (format!("{e:#}")) }
                },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_product_name_and_message_are_escaped_on_the_page() {
        let missing = [
            MissingMapping {
                line_kind: "product".into(),
                name: "<script>alert(1)</script>".into(),
                tried: vec!["sku:<b>\"'&".into()],
            },
            MissingMapping {
                line_kind: "product".into(),
                // WooCommerce encodes what WordPress stored: decoded, then escaped again.
                name: "&lt;img src=x onerror=alert(2)&gt;".into(),
                tried: vec!["product:12".into()],
            },
        ];
        let reasons = ["note: \"'&<>".to_string()];
        let h = layout("<Status>", false, &missing_list(&missing, &reasons));
        assert!(
            !h.contains("<script") && !h.contains("<img") && !h.contains("<b>"),
            "{h}"
        );
        assert!(
            h.contains("<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>"),
            "{h}"
        );
        assert!(h.contains("<code>sku:&lt;b&gt;&quot;'&amp;</code>"), "{h}");
        assert!(
            h.contains("<strong>&lt;img src=x onerror=alert(2)&gt;</strong>"),
            "{h}"
        );
        assert!(h.contains("<li>note: &quot;'&amp;&lt;&gt;</li>"), "{h}");
        assert!(
            h.contains("<title>&lt;Status&gt; · ml-connector</title>"),
            "{h}"
        );
    }

    #[test]
    fn woocommerce_encoded_names_show_as_written_not_as_entities() {
        // Regression (issue 13): a variation's name showed `Ship Your Idea &ndash; Color: Black`.
        let missing = [MissingMapping {
            line_kind: "product".into(),
            name: "Ship Your Idea &ndash; Color: Black &amp; White".into(),
            tried: vec!["sku:IDEA".into()],
        }];
        let h = missing_list(&missing, &[]).into_string();
        assert!(
            h.contains("<strong>Ship Your Idea – Color: Black &amp; White</strong>"),
            "{h}"
        );
        assert!(!h.contains("&amp;ndash;"), "{h}");
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
        let svg = bar_chart("chart-lag", "Lag", 0, &values, lag_text, "#000").into_string();
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
        let h = x3_card(&x, 3_000).into_string();
        assert!(h.contains("misconfigured"), "{h}");
        assert!(h.contains("X3 does not know WEB &lt;b&gt;"), "escaped: {h}");
    }

    #[test]
    fn a_card_marked_ok_shows_no_old_failure_message() {
        // Regression (issue 14): the X3 card said "ok" above the last failure's message.
        let ok = x3_card(&x3("ok"), 3_000).into_string();
        assert!(ok.contains("badge ok"));
        assert!(!ok.contains("connection refused"), "{ok}");
        assert!(ok.contains("Last failure"), "the time of the failure stays");
        let failing = x3_card(&x3("failing"), 3_000).into_string();
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
        assert!(
            !store_card(&st, &d, 3_000)
                .0
                .contains("Consumer key is invalid")
        );
        st.rest_last_failure_at = Some(2_500);
        assert!(
            store_card(&st, &d, 3_000)
                .0
                .contains("Consumer key is invalid")
        );
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

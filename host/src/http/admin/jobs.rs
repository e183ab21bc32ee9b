//! The admin API's endpoints over the background jobs: the webhook monitor and the catch-up
//! (`/api/admin/webhooks…`, `/api/admin/backfill`) and the reconciliation
//! (`/api/admin/reconcile`, `/status/reconcile.csv`).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use serde_json::{Value, json};

use crate::clients::woo::WooError;
use crate::config::reconcile::tolerance;
use crate::http::Ctx;
use crate::http::intake::Answer;
use crate::jobs::lifecycle::{gmt, parse_gmt, watermark};
use crate::jobs::reconcile::{Inputs, Period, Report, load_last, run, save_last};
use crate::store::Store;

/// `GET /api/admin/webhooks`: the monitor's last findings and the catch-up's state.
pub fn webhooks(ctx: &Ctx) -> Answer {
    let l = &ctx.lifecycle;
    let st = l.state();
    Answer::json(
        200,
        &json!({
            "delivery-url": l.delivery_url(),
            "webhooks": st.webhooks,
            "alerts": st.alerts,
            "repairs": st.repairs,
            "checked-at": st.checked_at,
            "catch-up": {
                "watermark": watermark(&l.store),
                "last": l.last_catch_up(),
            },
        }),
    )
}

/// `POST /api/admin/webhooks/register`.
pub fn register(ctx: &Ctx) -> Answer {
    match ctx.lifecycle.register() {
        Ok(list) => {
            info!(
                "admin API: webhooks registered ({})",
                list.iter()
                    .map(|r| format!("{} {} {}", r.id, r.topic, r.action))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Answer::json(200, &json!({ "webhooks": list }))
        }
        Err(WooError::Config(m)) => {
            Answer::json(422, &json!({ "errors": { "woocommerce.url": m } }))
        }
        Err(e) => Answer::json(
            502,
            &json!({ "error": format!("registering the webhooks failed: {e}") }),
        ),
    }
}

/// `POST /api/admin/backfill` `{"since": "2026-11-01T00:00:00Z"}`: a catch-up from that time,
/// in the background (progress on `GET /api/admin/webhooks` → `catch-up.last`).
pub fn backfill(ctx: &Ctx, body: &Value) -> Answer {
    let Some(since) = body
        .get("since")
        .and_then(Value::as_str)
        .and_then(parse_gmt)
    else {
        return Answer::json(
            422,
            &json!({ "errors": { "since": "a GMT date like 2026-11-01 or 2026-11-01T08:00:00Z expected" } }),
        );
    };
    let since = gmt(since);
    let l = Arc::clone(&ctx.lifecycle);
    let s = since.clone();
    std::thread::spawn(move || match l.run_catch_up(&s) {
        Ok(r) => info!(
            "backfill since {s}: {} order(s) read, {} new to us",
            r.found, r.taken_in
        ),
        Err(e) => warn!("backfill since {s}: {e:#}"),
    });
    Answer::json(202, &json!({ "started": true, "since": since }))
}

// ---- reconcile ----------------------------------------------------------------------------

/// `GET /status/reconcile.csv`: the last run as CSV (404 when none).
pub fn last_csv(store: &Store) -> Answer {
    match load_last(store) {
        Some(r) => csv_answer(&r),
        None => Answer::json(404, &json!({ "error": "no reconciliation run yet" })),
    }
}

pub fn csv_answer(r: &Report) -> Answer {
    let mut a = Answer {
        status: 200,
        content_type: "text/csv; charset=utf-8",
        body: r.csv().into_bytes(),
        headers: Vec::new(),
    };
    a.headers.push((
        "Content-Disposition".into(),
        "attachment; filename=\"reconcile.csv\"".into(),
    ));
    a.headers.push(("Cache-Control".into(), "no-store".into()));
    a
}

/// `GET /api/admin/reconcile?from=&to=[&tolerance=]` (behind the admin token).
pub fn reconcile(ctx: &Ctx, query: &str, want_csv: bool) -> Result<Answer> {
    let params: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let (Some(from), Some(to)) = (params.get("from"), params.get("to")) else {
        return Ok(Answer::json(
            400,
            &json!({ "error": "from and to are required (2026-11-01 or 2026-11-01T10:00:00Z)" }),
        ));
    };
    let period = match Period::parse(from, to) {
        Ok(p) => p,
        Err(e) => return Ok(Answer::json(400, &json!({ "error": format!("{e:#}") }))),
    };
    let file = ctx.config.reconcile.clone();
    let tolerance = match params.get("tolerance") {
        None => file.tolerance,
        Some(t) => match t.parse::<f64>().ok().filter(|t| tolerance(*t).is_ok()) {
            Some(t) => t,
            None => {
                return Ok(Answer::json(
                    400,
                    &json!({ "error": format!("tolerance {t:?} is not a number ≥ 0") }),
                ));
            }
        },
    };
    let p = &ctx.pipeline;
    let settings = p.settings.read().unwrap_or_else(|e| e.into_inner()).clone();
    let status_map = p
        .status_map
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mapping = p.mapping.read().unwrap_or_else(|e| e.into_inner()).clone();
    let (x3, woo) = (p.x3(), p.woo());
    let report = match run(
        &Inputs {
            x3: &x3,
            api: crate::clients::x3_api(&ctx.config),
            woo: &woo,
            core: &ctx.core,
            settings: &settings,
            status_map: &status_map,
            mapping: &mapping,
            file: &file,
        },
        period,
        tolerance,
    ) {
        Ok(r) => r,
        Err(e) => return Ok(Answer::json(502, &json!({ "error": format!("{e:#}") }))),
    };
    save_last(&ctx.store, &report)?;
    Ok(if want_csv {
        csv_answer(&report)
    } else {
        Answer::json(200, &serde_json::to_value(&report)?)
    })
}

//! The store's side of the order flow that webhooks alone cannot guarantee:
//!
//! - **Register**: create or repair our webhooks (`order.created|updated|deleted|restored`, and
//!   `customer.*`/`product.*` with master-data sync) with our secret, pointing at this host.
//!   Idempotent: a re-run creates nothing twice and removes duplicates of ours.
//! - **Monitor**: WooCommerce disables a webhook after more than five consecutive failed
//!   deliveries and never retries one (woocommerce.md §1.7): the monitor reads the webhooks'
//!   status, raises an alert for one of ours that is `disabled` or `paused` (or missing), and —
//!   `[webhooks] repair`, default on — re-enables it and catches up the whole gap.
//! - **Catch-up**: `GET /orders?modified_after=…&dates_are_gmt=true&orderby=modified&order=asc`
//!   through all pages, on a schedule and on demand (`ml-connector backfill --since`). Every order
//!   found is stored through the same path as a webhook delivery (inbox row, order revision,
//!   exactly-once pipeline). The watermark is the newest `date_modified_gmt` taken in; a poll
//!   starts `overlap-secs` before it, so a modification committed late is still seen.
//!
//! Times: watermarks are WooCommerce's GMT modification times (the shop's clock, 1-second
//! resolution); the host's clock is only used for "since the last delivery we received", with the
//! overlap covering a skew between the two machines.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Digest;

use crate::clients::woo::{Webhook, WooClient, WooError};
use crate::config::Config;
use crate::jobs::pipeline::Pipeline;
use crate::store::{NewDelivery, Store, now_ms};

/// The topics every installation needs.
pub const ORDER_TOPICS: [&str; 4] = [
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
];

/// Added when `[webhooks] master-data` is on.
pub const MASTER_DATA_TOPICS: [&str; 6] = [
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "product.created",
    "product.updated",
    "product.deleted",
];

/// Our webhooks are named `ml-connector: <topic>` (shown in WooCommerce → Settings → Advanced →
/// Webhooks, so the merchant knows who made them).
pub const NAME_PREFIX: &str = "ml-connector: ";

/// How soon the monitor looks again while it has alerts.
const ALERT_RECHECK: Duration = Duration::from_secs(30);

/// `kv` keys.
const WATERMARK: &str = "catch_up.watermark";
/// When the first watermark was set: polls never reach back before it, overlap or not (the
/// shop's history before the installation is `backfill`'s job, docs/webhook-lifecycle.md).
const FLOOR: &str = "catch_up.floor";
pub const LAST_RUN: &str = "catch_up.last";
const MONITOR: &str = "webhooks.monitor";

/// The topics to register for a configuration.
pub fn topics(master_data: bool) -> Vec<&'static str> {
    let mut t = ORDER_TOPICS.to_vec();
    if master_data {
        t.extend(MASTER_DATA_TOPICS);
    }
    t
}

/// Two delivery URLs name the same endpoint (scheme and host compared without case, one trailing
/// slash ignored).
pub fn same_url(a: &str, b: &str) -> bool {
    fn norm(u: &str) -> String {
        let u = u.trim().trim_end_matches('/');
        match u.find("://") {
            Some(i) => {
                let (scheme, rest) = u.split_at(i + 3);
                let (auth, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                format!(
                    "{}{}{path}",
                    scheme.to_ascii_lowercase(),
                    auth.to_ascii_lowercase()
                )
            }
            None => u.to_string(),
        }
    }
    norm(a) == norm(b)
}

/// One webhook after `register`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Registered {
    pub id: u64,
    pub topic: String,
    pub status: String,
    pub delivery_url: String,
    /// `created`, `repaired` (URL or status put right), `unchanged`, `removed-duplicate`.
    pub action: String,
}

/// Creates or repairs our webhooks. For each topic, "ours" is a webhook on that topic delivering
/// to `delivery_url`; when there is none, one named `ml-connector: <topic>` that delivers
/// elsewhere (the host moved) is repaired instead of creating another. The secret is sent on every
/// run (WooCommerce never shows it, so it cannot be compared): a re-run puts ours back.
pub fn register(
    woo: &WooClient,
    delivery_url: &str,
    secret: &str,
    topics: &[&str],
) -> Result<Vec<Registered>, WooError> {
    let existing = woo.list_webhooks()?;
    let mut out = Vec::new();
    for topic in topics {
        let mut mine: Vec<&Webhook> = existing
            .iter()
            .filter(|w| w.topic == *topic && same_url(&w.delivery_url, delivery_url))
            .collect();
        if mine.is_empty() {
            mine = existing
                .iter()
                .filter(|w| w.topic == *topic && w.name.starts_with(NAME_PREFIX))
                .collect();
        }
        // Keep an active one delivering here if there is one, else the oldest.
        mine.sort_by_key(|w| {
            (
                !same_url(&w.delivery_url, delivery_url),
                w.status != "active",
                w.id,
            )
        });
        let Some((keep, extra)) = mine.split_first() else {
            let w = woo.create_webhook(
                &format!("{NAME_PREFIX}{topic}"),
                topic,
                delivery_url,
                secret,
            )?;
            out.push(registered(&w, "created"));
            continue;
        };
        let mut changes = json!({ "secret": secret });
        let mut repaired = false;
        if !same_url(&keep.delivery_url, delivery_url) {
            changes["delivery_url"] = json!(delivery_url);
            repaired = true;
        }
        if keep.status != "active" {
            changes["status"] = json!("active");
            repaired = true;
        }
        let w = woo.update_webhook(keep.id, &changes)?;
        out.push(registered(
            &w,
            if repaired { "repaired" } else { "unchanged" },
        ));
        for dup in extra {
            woo.delete_webhook(dup.id)?;
            out.push(registered(dup, "removed-duplicate"));
        }
    }
    Ok(out)
}

fn registered(w: &Webhook, action: &str) -> Registered {
    Registered {
        id: w.id,
        topic: w.topic.clone(),
        status: w.status.clone(),
        delivery_url: w.delivery_url.clone(),
        action: action.into(),
    }
}

// ---- dates ---------------------------------------------------------------------------------

/// `YYYY-MM-DDTHH:MM:SS` (GMT, WooCommerce's `*_gmt` form) for a Unix time in seconds.
pub fn gmt(unix_secs: i64) -> String {
    crate::dates::format_utc(unix_secs, 'T')
}

/// Unix seconds for `YYYY-MM-DD` or a date and time (GMT unless it says otherwise), or None:
/// [`crate::dates::parse_utc`], which refuses a day the month does not have.
pub fn parse_gmt(s: &str) -> Option<i64> {
    crate::dates::parse_utc(s).map(|(secs, _)| secs)
}

// ---- catch-up ------------------------------------------------------------------------------

/// What one catch-up did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct CatchUpReport {
    /// The `modified_after` asked (GMT).
    pub since: String,
    /// Orders read (each once, trashed ones included).
    pub found: u64,
    /// Orders whose revision was new to us, now stored and queued.
    pub taken_in: u64,
    pub pages: u64,
    /// The newest `date_modified_gmt` among them.
    pub newest: Option<String>,
}

/// One order body from the REST API, as much as the catch-up needs.
struct Seen {
    id: u64,
    status: String,
    modified_gmt: Option<String>,
}

fn seen(body: &[u8]) -> Option<Seen> {
    let v: Value = serde_json::from_slice(body).ok()?;
    Some(Seen {
        id: v.get("id")?.as_u64()?,
        status: v.get("status")?.as_str()?.to_string(),
        modified_gmt: v
            .get("date_modified_gmt")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Stores one order read over REST, the way the intake stores a delivery. Returns whether it was
/// a revision we did not have.
pub fn take_in(store: &Store, body: &[u8]) -> Result<bool> {
    let Some(s) = seen(body) else {
        anyhow::bail!("an order in WooCommerce's list has no id or status");
    };
    let known = store.order_revision(s.id)?;
    if s.status == "trash" {
        if known.as_ref().is_some_and(|k| k.trashed) {
            return Ok(false);
        }
        let d = NewDelivery {
            kind: "deleted".into(),
            webhook_id: Some("catch-up".into()),
            topic: Some("order.deleted".into()),
            resource: Some("order".into()),
            resource_id: Some(s.id),
            headers_json: "{}".into(),
            body: body.to_vec(),
            ..NewDelivery::default()
        };
        store.insert_delivery(&d)?;
        return Ok(true);
    }
    let restored = known.as_ref().is_some_and(|k| k.trashed);
    // The same revision seen again (the overlap, or a webhook was first): nothing to do.
    if let Some(k) = &known
        && !restored
        && mlc_core::revision::is_same_listed(
            k.modified_gmt.as_deref(),
            k.status.as_deref(),
            s.modified_gmt.as_deref(),
            &s.status,
        )
    {
        return Ok(false);
    }
    let digest = sha2::Sha256::digest(body);
    let d = NewDelivery {
        kind: "order".into(),
        webhook_id: Some("catch-up".into()),
        topic: Some("order.updated".into()),
        resource: Some("order".into()),
        resource_id: Some(s.id),
        modified_gmt: s.modified_gmt.clone(),
        dedup_key: Some(mlc_core::revision::delivery_key(
            "catch-up",
            "order",
            s.id,
            "updated",
            s.modified_gmt.as_deref(),
            &digest[..8],
        )),
        headers_json: "{}".into(),
        body: body.to_vec(),
        status: Some(s.status.clone()),
        restored,
        ..NewDelivery::default()
    };
    Ok(store.insert_delivery(&d)? == crate::store::Inserted::New)
}

/// Reads every order modified after `since_gmt` (all statuses, trash included), page by page,
/// and stores each. If the list shifted under us (an order modified while we paged moves to the
/// end, and the one behind it slides onto a page already read), the pass is repeated.
pub fn catch_up(
    woo: &WooClient,
    store: &Store,
    since_gmt: &str,
    stop: &AtomicBool,
    mut on_page: impl FnMut(&CatchUpReport),
) -> Result<CatchUpReport> {
    let mut report = CatchUpReport {
        since: since_gmt.to_string(),
        ..CatchUpReport::default()
    };
    for status in ["any", "trash"] {
        for pass in 0..3 {
            let mut ids = HashSet::new();
            let mut total;
            let mut page = 1;
            loop {
                if stop.load(Ordering::Relaxed) {
                    anyhow::bail!("stopped");
                }
                let p = woo.orders_modified_after_in(since_gmt, status, page, 100)?;
                report.pages += 1;
                total = p.total;
                for body in &p.orders {
                    if take_in(store, body)? {
                        report.taken_in += 1;
                    }
                    if let Some(s) = seen(body) {
                        if ids.insert(s.id) {
                            report.found += 1;
                        }
                        if let Some(m) = s.modified_gmt
                            && report.newest.as_ref().is_none_or(|n| m > *n)
                        {
                            report.newest = Some(m);
                        }
                    }
                }
                on_page(&report);
                if p.orders.is_empty() || u64::from(page) >= p.total_pages {
                    break;
                }
                page += 1;
            }
            if ids.len() as u64 >= total {
                break;
            }
            info!(
                "catch-up: the list moved while it was read ({} of {total} orders seen), reading it again (pass {})",
                ids.len(),
                pass + 2
            );
        }
    }
    Ok(report)
}

// ---- the running service -------------------------------------------------------------------

/// A webhook as the monitor last saw it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct WebhookView {
    pub id: u64,
    pub topic: String,
    pub status: String,
    pub delivery_url: String,
    pub ours: bool,
}

/// What the monitor knows; kept in `kv` so the CLI and a restarted service see it too.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct MonitorState {
    /// When the webhooks were last read (ms), whether or not that worked.
    pub checked_at: Option<i64>,
    /// Problems now: a webhook of ours disabled/paused/missing, WooCommerce unreadable.
    pub alerts: Vec<String>,
    /// What the monitor did about them lately (newest first, at most 20).
    pub repairs: Vec<String>,
    pub webhooks: Vec<Value>,
}

/// The webhook monitor and the catch-up poller of one `serve`.
pub struct Lifecycle {
    pub store: Arc<Store>,
    pub pipeline: Arc<Pipeline>,
    delivery_url: std::sync::RwLock<String>,
    secret: std::sync::RwLock<crate::config::Secret>,
    topics: Vec<&'static str>,
    repair: bool,
    monitor_every: Duration,
    poll_every: Duration,
    overlap_secs: i64,
    /// One catch-up at a time (schedule, repair and `POST /api/admin/backfill` share it).
    running: Mutex<()>,
    /// One webhook check at a time: two at once save the list each of them read, so the
    /// monitor's check, begun before a registration removed a duplicate, could overwrite the
    /// registration's own check with the list from before.
    checking: Mutex<()>,
    stop: AtomicBool,
}

impl Lifecycle {
    pub fn new(cfg: &Config, store: Arc<Store>, pipeline: Arc<Pipeline>) -> Lifecycle {
        Lifecycle {
            store,
            pipeline,
            delivery_url: std::sync::RwLock::new(cfg.delivery_url()),
            secret: std::sync::RwLock::new(cfg.webhook_secret.clone()),
            topics: topics(cfg.webhooks.master_data),
            repair: cfg.webhooks.repair,
            monitor_every: Duration::from_secs(cfg.webhooks.monitor_interval_secs),
            poll_every: Duration::from_secs(cfg.catch_up.interval_secs),
            overlap_secs: i64::try_from(cfg.catch_up.overlap_secs).unwrap_or(300),
            running: Mutex::new(()),
            checking: Mutex::new(()),
            stop: AtomicBool::new(false),
        }
    }

    pub fn delivery_url(&self) -> String {
        self.delivery_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The admin API changed `woocommerce.delivery-url`: register and monitor that one.
    pub fn set_delivery_url(&self, url: String) {
        *self.delivery_url.write().unwrap_or_else(|e| e.into_inner()) = url;
    }

    /// The admin API rotated the webhook secret: register with the new one from now on.
    pub fn set_secret(&self, secret: crate::config::Secret) {
        *self.secret.write().unwrap_or_else(|e| e.into_inner()) = secret;
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Creates or repairs our webhooks now (the admin API's and the CLI's `register`).
    pub fn register(&self) -> Result<Vec<Registered>, WooError> {
        let woo = self.pipeline.woo();
        let secret = self
            .secret
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let r = register(&woo, &self.delivery_url(), secret.expose(), &self.topics);
        self.pipeline
            .health
            .record_woo(r.as_ref().err().map(ToString::to_string));
        if r.is_ok() {
            let _ = self.check();
        }
        r
    }

    /// The monitor's last findings.
    pub fn state(&self) -> MonitorState {
        load_state(&self.store)
    }

    /// Reads the webhooks once: alerts for ours that are disabled, paused or missing; with
    /// `repair`, re-enables them and catches up from the last delivery each of them brought.
    pub fn check(&self) -> Result<MonitorState> {
        let _one = self.checking.lock().unwrap_or_else(|e| e.into_inner());
        let mut state = load_state(&self.store);
        state.checked_at = Some(now_ms());
        let delivery_url = self.delivery_url();
        let list = match self.pipeline.woo().list_webhooks() {
            Ok(l) => {
                self.pipeline.health.record_woo(None);
                l
            }
            Err(e) => {
                let msg = format!("the webhooks could not be read from WooCommerce: {e}");
                self.pipeline.health.record_woo(Some(msg.clone()));
                state.alerts = vec![msg];
                save_state(&self.store, &state)?;
                return Ok(state);
            }
        };
        let ours: Vec<&Webhook> = list
            .iter()
            .filter(|w| same_url(&w.delivery_url, &delivery_url))
            .collect();
        let mut alerts = Vec::new();
        let mut gap_since: Option<i64> = None;
        for topic in &self.topics {
            if !ours.iter().any(|w| w.topic == *topic) {
                alerts.push(format!(
                    "no webhook for {topic} delivers to {delivery_url}: run `ml-connector webhooks register`"
                ));
            }
        }
        for w in &ours {
            if w.status == "active" {
                continue;
            }
            let what = format!("webhook {} ({}) is {}", w.id, w.topic, w.status);
            if !self.repair {
                alerts.push(format!("{what}: deliveries are not sent"));
                continue;
            }
            match self.pipeline.woo().set_webhook_status(w.id, "active") {
                Ok(_) => {
                    let last = self.store.last_received_from(&w.id.to_string())?;
                    warn!("{what}: re-enabled it; catching up since its last delivery");
                    state.repairs.insert(
                        0,
                        format!(
                            "{}: {what}; re-enabled (last delivery received {})",
                            gmt(now_ms() / 1000),
                            last.map_or_else(|| "never".to_string(), |ms| gmt(ms / 1000))
                        ),
                    );
                    // Never received anything: from the watermark (the overlap covers it).
                    let from = last.unwrap_or_else(|| self.watermark_ms().unwrap_or(0));
                    gap_since = Some(gap_since.map_or(from, |g| g.min(from)));
                }
                Err(e) => alerts.push(format!("{what}, and re-enabling it failed: {e}")),
            }
        }
        state.repairs.truncate(20);
        state.alerts = alerts;
        state.webhooks = list
            .iter()
            .map(|w| {
                json!({
                    "id": w.id, "topic": w.topic, "status": w.status,
                    "delivery-url": w.delivery_url,
                    "ours": same_url(&w.delivery_url, &delivery_url),
                })
            })
            .collect();
        save_state(&self.store, &state)?;
        if let Some(from_ms) = gap_since {
            let since = gmt(self.floored(from_ms / 1000 - self.overlap_secs)?);
            match self.run_catch_up(&since) {
                Ok(r) => {
                    let note = format!(
                        "{}: caught up since {since}: {} order(s) read, {} new to us",
                        gmt(now_ms() / 1000),
                        r.found,
                        r.taken_in
                    );
                    info!("{note}");
                    state.repairs.insert(0, note);
                }
                Err(e) => {
                    let msg = format!("catching up after re-enabling a webhook failed: {e:#}");
                    warn!("{msg}");
                    state.alerts.push(msg);
                }
            }
            state.repairs.truncate(20);
            save_state(&self.store, &state)?;
        }
        Ok(state)
    }

    fn watermark_ms(&self) -> Option<i64> {
        let w = self.store.kv_get(WATERMARK).ok().flatten()?;
        parse_gmt(&w).map(|s| s * 1000)
    }

    /// One catch-up from `since_gmt`; moves the watermark forward to the newest modification
    /// taken in (never back).
    pub fn run_catch_up(&self, since_gmt: &str) -> Result<CatchUpReport> {
        let _one = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let woo = self.pipeline.woo();
        let pipeline = Arc::clone(&self.pipeline);
        let r = catch_up(&woo, &self.store, since_gmt, &self.stop, |_| {
            pipeline.notify()
        });
        let last = match &r {
            Ok(rep) => {
                self.pipeline.health.record_woo(None);
                advance_watermark(&self.store, rep.newest.as_deref())?;
                json!({"at": now_ms(), "report": rep})
            }
            Err(e) => {
                let msg = format!("catch-up since {since_gmt} failed: {e:#}");
                if !self.stop.load(Ordering::Relaxed) {
                    self.pipeline.health.record_woo(Some(msg.clone()));
                }
                json!({"at": now_ms(), "since": since_gmt, "error": msg})
            }
        };
        self.store.kv_set(LAST_RUN, &last.to_string())?;
        r
    }

    /// A scheduled poll: from the watermark less the overlap. The first one only sets the
    /// watermark (history is `backfill`'s job, so a new installation does not import the shop).
    pub fn poll(&self) -> Result<Option<CatchUpReport>> {
        let Some(w) = self.store.kv_get(WATERMARK)? else {
            self.set_first_watermark()?;
            return Ok(None);
        };
        let since = match parse_gmt(&w) {
            Some(s) => gmt(self.floored(s - self.overlap_secs)?),
            None => w.clone(),
        };
        self.run_catch_up(&since).map(Some)
    }

    /// The first watermark, and the floor no later poll goes back beyond. The floor is one
    /// second before now: `modified_after` excludes its own second, and an order placed in the
    /// second the host started is the host's to take.
    fn set_first_watermark(&self) -> Result<()> {
        let now = now_ms() / 1000;
        if self.store.kv_get(FLOOR)?.is_none() {
            self.store.kv_set(FLOOR, &gmt(now - 1))?;
        }
        self.store.kv_set(WATERMARK, &gmt(now))
    }

    /// `secs` (GMT seconds), but not before the installation's floor.
    fn floored(&self, secs: i64) -> Result<i64> {
        let floor = self.store.kv_get(FLOOR)?.and_then(|f| parse_gmt(&f));
        Ok(floor.map_or(secs, |f| secs.max(f)))
    }

    /// The monitor and poller loop; returns at [`Lifecycle::stop`].
    pub fn run(&self) {
        let mut next_check = now_ms();
        // First poll one interval after start; the first call sets the watermark.
        if let Err(e) = self.poll_first() {
            warn!("catch-up: {e:#}");
        }
        let mut next_poll = now_ms() + ms(self.poll_every);
        while !self.stop.load(Ordering::SeqCst) {
            let now = now_ms();
            if !self.monitor_every.is_zero() && now >= next_check {
                let every = match self.check() {
                    // While something is wrong, look again sooner: an alert that a person has
                    // since fixed (webhooks added by hand, the shop back) should not linger.
                    Ok(st) if !st.alerts.is_empty() => self.monitor_every.min(ALERT_RECHECK),
                    Ok(_) => self.monitor_every,
                    Err(e) => {
                        warn!("webhook monitor: {e:#}");
                        self.monitor_every.min(ALERT_RECHECK)
                    }
                };
                next_check = now_ms() + ms(every);
            }
            if !self.poll_every.is_zero() && now >= next_poll {
                match self.poll() {
                    Ok(Some(r)) if r.taken_in > 0 => info!(
                        "catch-up since {}: {} order revision(s) the webhooks had not brought",
                        r.since, r.taken_in
                    ),
                    Ok(_) => {}
                    Err(e) => warn!("catch-up: {e:#}"),
                }
                next_poll = now_ms() + ms(self.poll_every);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn poll_first(&self) -> Result<()> {
        if self.store.kv_get(WATERMARK)?.is_none() {
            self.set_first_watermark()?;
        }
        Ok(())
    }

    /// The last catch-up's outcome, for the status page and the admin API.
    pub fn last_catch_up(&self) -> Option<Value> {
        last_catch_up(&self.store)
    }
}

pub fn last_catch_up(store: &Store) -> Option<Value> {
    let text = store.kv_get(LAST_RUN).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

pub fn watermark(store: &Store) -> Option<String> {
    store.kv_get(WATERMARK).ok().flatten()
}

/// Moves the watermark to `newest` when that is later (GMT strings of one format compare as
/// text).
pub fn advance_watermark(store: &Store, newest: Option<&str>) -> Result<()> {
    let Some(newest) = newest else {
        return Ok(());
    };
    let current = store.kv_get(WATERMARK)?;
    if current.as_deref().is_none_or(|c| newest > c) {
        store.kv_set(WATERMARK, newest)?;
    }
    Ok(())
}

pub fn load_state(store: &Store) -> MonitorState {
    store
        .kv_get(MONITOR)
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn save_state(store: &Store, state: &MonitorState) -> Result<()> {
    store.kv_set(MONITOR, &serde_json::to_string(state)?)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gmt_round_trips_and_rejects_garbage() {
        for (unix, text) in [
            (0, "1970-01-01T00:00:00"),
            (951_782_400, "2000-02-29T00:00:00"),
            (1_795_770_061, "2026-11-27T09:01:01"),
            (4_107_542_399, "2100-02-28T23:59:59"),
        ] {
            assert_eq!(gmt(unix), text);
            assert_eq!(parse_gmt(text), Some(unix));
        }
        assert_eq!(parse_gmt("2026-11-27"), parse_gmt("2026-11-27T00:00:00"));
        assert_eq!(parse_gmt("2026-11-27T09:01:01Z"), Some(1_795_770_061));
        assert_eq!(parse_gmt("2026-11-27 09:01"), Some(1_795_770_060));
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-11-27T25:00",
            "2026-11-27T1:2:3:4",
        ] {
            assert_eq!(parse_gmt(bad), None, "{bad}");
        }
    }

    #[test]
    fn delivery_urls_compare_without_case_in_scheme_and_host_or_trailing_slash() {
        assert!(same_url(
            "HTTP://Shop.Example:8787/webhooks/woocommerce/",
            "http://shop.example:8787/webhooks/woocommerce"
        ));
        assert!(!same_url(
            "http://shop.example:8787/webhooks/WooCommerce",
            "http://shop.example:8787/webhooks/woocommerce"
        ));
        assert!(!same_url(
            "http://shop.example:8788/webhooks/woocommerce",
            "http://shop.example:8787/webhooks/woocommerce"
        ));
    }

    fn order(id: u64, status: &str, modified: &str) -> Vec<u8> {
        json!({"id": id, "status": status, "date_modified_gmt": modified, "line_items": []})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn take_in_stores_new_revisions_once_and_trash_as_a_deletion() {
        let store = Store::open_in_memory().unwrap();
        assert!(take_in(&store, &order(7, "processing", "2026-11-27T09:00:00")).unwrap());
        // The overlap brings it again, re-encoded: not a new revision.
        let again = format!(
            " {}",
            String::from_utf8(order(7, "processing", "2026-11-27T09:00:00")).unwrap()
        );
        assert!(!take_in(&store, again.as_bytes()).unwrap());
        // Same second, other status: a new revision (a checkout paid at once).
        assert!(take_in(&store, &order(7, "completed", "2026-11-27T09:00:00")).unwrap());
        let row = store.load_order(7).unwrap().unwrap();
        assert_eq!(row.status.as_deref(), Some("completed"));
        assert!(row.dirty);
        // Trashed: stored as a deletion, once.
        assert!(take_in(&store, &order(7, "trash", "2026-11-27T09:05:00")).unwrap());
        assert!(store.load_order(7).unwrap().unwrap().trashed);
        assert!(!take_in(&store, &order(7, "trash", "2026-11-27T09:05:00")).unwrap());
        // Restored (seen again with a live status): the trashed flag goes.
        assert!(take_in(&store, &order(7, "completed", "2026-11-27T09:06:00")).unwrap());
        assert!(!store.load_order(7).unwrap().unwrap().trashed);
        // Not an order: a clear error, nothing stored.
        assert!(take_in(&store, b"{\"code\":\"x\"}").is_err());
    }

    #[test]
    fn the_watermark_only_moves_forward() {
        let store = Store::open_in_memory().unwrap();
        advance_watermark(&store, Some("2026-11-27T09:00:00")).unwrap();
        advance_watermark(&store, Some("2026-11-27T08:00:00")).unwrap();
        advance_watermark(&store, None).unwrap();
        assert_eq!(watermark(&store).as_deref(), Some("2026-11-27T09:00:00"));
        advance_watermark(&store, Some("2026-11-27T09:00:01")).unwrap();
        assert_eq!(watermark(&store).as_deref(), Some("2026-11-27T09:00:01"));
    }
}

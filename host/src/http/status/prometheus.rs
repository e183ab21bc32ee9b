//! `/metrics`: the snapshot in the Prometheus text format.

use std::fmt::Write as _;

use super::*;

pub(super) fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(super) fn prometheus(s: &Status, posted_total: i64) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, i64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let mut states: BTreeMap<String, i64> = OrderState::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
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

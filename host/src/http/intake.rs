//! The HTTP side of the host: WooCommerce's webhook deliveries come in here.
//!
//! A delivery is acknowledged (2xx) only after it is committed to SQLite; a delivery that cannot be
//! stored gets 503 so it is not lost silently (WooCommerce does not retry, but counts the failure,
//! and the catch-up poll finds the order). No X3 call happens on this path: answering takes
//! milliseconds, far inside WooCommerce's 60-second timeout.
//!
//! Answers (`docs/webhooks.md`):
//! - ping `webhook_id=N` → 200, nothing stored;
//! - verified order, deletion, other resource, or a REST error object as payload → 200 and stored
//!   (the error object only raises a counter: it names no order); an order with a topic that is
//!   not one of WooCommerce's order topics (`order.exploded`) → 200 and stored, not posted; a
//!   `customer.updated` → 200 and stored, queued for X3 when `customer-addresses` is on;
//! - the same revision again → 200 `duplicate`, not processed again;
//! - missing, malformed or wrong signature → 401; a `legacy_v3` body → 400; a verified body that is
//!   not a WooCommerce payload → 400; a body over the size limit → 413; another method → 405;
//!   storage failing → 503. None of these store anything but a counter.

use std::io::Read;
use std::sync::Arc;

use serde_json::json;
use sha2::Digest;

use mlc_core::webhook;

use crate::http::webhook_secret::WebhookSecrets;
use crate::jobs::pipeline::Pipeline;
use crate::store::{Inserted, NewDelivery, Store};

/// What the intake needs.
pub struct Intake {
    pub store: Arc<Store>,
    /// The current webhook secret and, during a rotation, the previous one.
    pub secret: Arc<WebhookSecrets>,
    pub max_body: usize,
    pub pipeline: Option<Arc<Pipeline>>,
    /// `[master-data] customer-addresses`: a `customer.updated` is stored as a job for
    /// `crate::jobs::customer_sync` (kind `customer`); off, it is kept like any other resource.
    pub customer_updates: bool,
}

/// A response before it becomes a tiny_http one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(status: u16, v: &serde_json::Value) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    fn error(status: u16, message: &str) -> Answer {
        Answer::json(status, &json!({ "error": message }))
    }
}

/// The header names the core looks at, from a list of (name, value).
pub fn webhook_headers(headers: &[(String, String)]) -> webhook::Headers {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    webhook::Headers {
        topic: get("x-wc-webhook-topic"),
        resource: get("x-wc-webhook-resource"),
        event: get("x-wc-webhook-event"),
        signature: get("x-wc-webhook-signature"),
        webhook_id: get("x-wc-webhook-id"),
        delivery_id: get("x-wc-webhook-delivery-id"),
        content_type: get("content-type"),
    }
}

impl Intake {
    /// Reads at most `max_body + 1` bytes: a larger body is refused without reading it all.
    pub fn read_body(
        &self,
        declared: Option<usize>,
        reader: &mut dyn Read,
    ) -> Result<Vec<u8>, Answer> {
        if declared.is_some_and(|n| n > self.max_body) {
            let _ = self.store.bump_counter("rejected_too_large");
            return Err(Answer::error(
                413,
                &format!("body larger than {} bytes", self.max_body),
            ));
        }
        let mut body = Vec::with_capacity(declared.unwrap_or(0).min(self.max_body));
        let limit = u64::try_from(self.max_body)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        if let Err(e) = reader.take(limit).read_to_end(&mut body) {
            let _ = self.store.bump_counter("rejected_unreadable");
            // A body that stalled (socket timeout) or took too long (deadline): 408.
            let status = match e.kind() {
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => 408,
                _ => 400,
            };
            return Err(Answer::error(
                status,
                &format!("could not read the body: {e}"),
            ));
        }
        if body.len() > self.max_body {
            let _ = self.store.bump_counter("rejected_too_large");
            return Err(Answer::error(
                413,
                &format!("body larger than {} bytes", self.max_body),
            ));
        }
        Ok(body)
    }

    /// Handles one delivery whose body has been read.
    ///
    /// The signature is checked first ([`crate::http::webhook_secret::verify`]): a forged or
    /// unsigned delivery is refused for the price of one HMAC. A verified body is classified by
    /// the core's own `classify`; the one exception is a body that looks like a ping
    /// (`webhook_id=N`, which WooCommerce sends unsigned), which the core's `accept` decides. Both
    /// run natively: they are pure functions of the request (`core/src/webhook.rs`), and a
    /// component call costs more than the function itself (BENCHMARKS.md §1,
    /// docs/architecture.md). A panic in them is answered 500 by the server,
    /// nothing stored.
    pub fn deliver(&self, headers: &[(String, String)], body: &[u8]) -> Answer {
        let h = webhook_headers(headers);
        let verified =
            crate::http::webhook_secret::verify(&self.secret, body, h.signature.as_deref());
        let verdict = match &verified {
            Ok(_) => webhook::classify(body, &h),
            Err(_) if may_be_ping(body) => {
                let secret = self.secret.current();
                webhook::accept(body, &h, secret.expose())
            }
            Err(e) => return self.refuse(e),
        };
        let delivery = match verdict {
            Err(e) => return self.refuse(&e),
            Ok(d) => d,
        };
        let d = match self.new_delivery(&h, headers, body, &verified, &delivery) {
            Ok(d) => d,
            Err(answer) => return answer,
        };
        self.commit(&d, &h)
    }

    /// The row a classified delivery becomes; a ping is answered at once (`Err`), not stored.
    fn new_delivery(
        &self,
        h: &webhook::Headers,
        headers: &[(String, String)],
        body: &[u8],
        verified: &Result<[u8; 32], mlc_core::webhook::Error>,
        delivery: &webhook::Delivery,
    ) -> Result<NewDelivery, Answer> {
        let mut d = NewDelivery {
            webhook_id: h.webhook_id.clone(),
            delivery_id: h.delivery_id.clone(),
            topic: h.topic.clone(),
            headers_json: headers_json(headers),
            body: body.to_vec(),
            ..NewDelivery::default()
        };
        match delivery {
            webhook::Delivery::Ping(id) => {
                let _ = self.store.bump_counter("pings");
                return Err(Answer::json(
                    200,
                    &json!({ "status": "pong", "webhook_id": id }),
                ));
            }
            webhook::Delivery::Resource(r) => {
                d.kind = if known_order_topic(&r.resource, &r.event) {
                    "order".into()
                } else if self.customer_updates && r.resource == "customer" && r.event == "updated"
                {
                    "customer".into()
                } else {
                    "other".into()
                };
                d.resource = Some(r.resource.clone());
                d.resource_id = Some(r.id);
                d.modified_gmt = r.date_modified_gmt.clone();
                d.status = r.status.clone();
                d.restored = r.event == "restored";
                // The body's hash too (`mlc_core::revision`): the verified HMAC is that hash
                // (one SHA-256 pass over the body, not two); it depends on the secret as well,
                // so after a secret change a re-delivery of the same body is stored again, and
                // changes nothing (the same body is not newer).
                let digest: [u8; 32] = match verified {
                    Ok(mac) => *mac,
                    Err(_) => sha2::Sha256::digest(body).into(),
                };
                d.dedup_key = Some(mlc_core::revision::delivery_key(
                    h.webhook_id.as_deref().unwrap_or("-"),
                    &r.resource,
                    r.id,
                    &r.event,
                    r.date_modified_gmt.as_deref(),
                    &digest[..8],
                ));
            }
            webhook::Delivery::Deleted { resource, id } => {
                d.kind = if resource == "order" {
                    "deleted".into()
                } else {
                    "other".into()
                };
                d.resource = Some(resource.clone());
                d.resource_id = Some(*id);
            }
            webhook::Delivery::Action { .. } => d.kind = "other".into(),
            webhook::Delivery::RestError(e) => {
                warn!(
                    "webhook {} delivered a WooCommerce error instead of a resource: {} ({})",
                    h.webhook_id.as_deref().unwrap_or("?"),
                    e.code,
                    e.message
                );
                let _ = self.store.bump_counter("payload_rest_error");
                d.kind = "rest-error".into();
            }
        }
        Ok(d)
    }

    /// Stores a delivery and answers for it: 200 only once it is committed.
    fn commit(&self, d: &NewDelivery, h: &webhook::Headers) -> Answer {
        match self.store.insert_delivery(d) {
            Ok(Inserted::New) if d.kind == "other" && d.resource.as_deref() == Some("order") => {
                // Kept, so nothing WooCommerce sent is lost, but not an order to post.
                warn!(
                    "webhook {} delivered order {} with topic {:?}, which is not an order topic \
                     ml-connector handles: stored, not posted",
                    h.webhook_id.as_deref().unwrap_or("?"),
                    d.resource_id.unwrap_or(0),
                    h.topic.as_deref().unwrap_or("")
                );
                let _ = self.store.bump_counter("unknown_topic");
                Answer::json(200, &json!({ "status": "stored" }))
            }
            Ok(Inserted::New) => {
                if let Some(p) = &self.pipeline {
                    p.notify();
                }
                Answer::json(200, &json!({ "status": "stored" }))
            }
            Ok(Inserted::Duplicate) => {
                let _ = self.store.bump_counter("duplicates");
                Answer::json(200, &json!({ "status": "duplicate" }))
            }
            Err(e) => {
                warn!("could not store a delivery, answering 503: {e:#}");
                Answer::error(503, "the delivery could not be stored; it was not accepted")
            }
        }
    }

    fn refuse(&self, e: &webhook::Error) -> Answer {
        let (status, counter, message) = match e {
            webhook::Error::MissingSignature => (
                401,
                "rejected_signature",
                "missing X-WC-Webhook-Signature".to_string(),
            ),
            webhook::Error::MalformedSignature(m) => (
                401,
                "rejected_signature",
                format!("malformed signature: {m}"),
            ),
            webhook::Error::SignatureMismatch => (
                401,
                "rejected_signature",
                "signature does not match".to_string(),
            ),
            webhook::Error::EmptySecret => (
                500,
                "rejected_no_secret",
                "no webhook secret is configured".to_string(),
            ),
            webhook::Error::InvalidJson(m) => {
                (400, "rejected_body", format!("body is not JSON: {m}"))
            }
            webhook::Error::LegacyPayload => (
                400,
                "rejected_legacy",
                "legacy_v3 payload: set the webhook's API version to WP REST API Integration v3"
                    .to_string(),
            ),
            webhook::Error::Unrecognised(m) => (
                400,
                "rejected_body",
                format!("not a WooCommerce payload: {m}"),
            ),
        };
        let _ = self.store.bump_counter(counter);
        Answer::error(status, &message)
    }
}

/// The order topics WooCommerce has (`order.created|updated|restored`; `order.deleted` is a
/// deletion): only these are orders to post. Any other event on the order resource is stored and
/// acknowledged, never posted.
fn known_order_topic(resource: &str, event: &str) -> bool {
    resource == "order" && matches!(event, "created" | "updated" | "restored")
}

/// A body the core may take for a ping (`webhook_id=N`, unsigned): the component decides.
fn may_be_ping(body: &[u8]) -> bool {
    body.len() < 64 && body.trim_ascii_start().starts_with(b"webhook_id=")
}

/// The headers worth keeping with a delivery (the WooCommerce ones and the transport basics).
fn headers_json(headers: &[(String, String)]) -> String {
    let kept: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k.starts_with("x-wc-") || k == "content-type" || k == "user-agent"
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
        .collect();
    serde_json::Value::Object(kept).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_short_webhook_id_bodies_go_to_the_component_unverified() {
        assert!(may_be_ping(b"webhook_id=12"));
        assert!(may_be_ping(b"  webhook_id=abc"));
        assert!(!may_be_ping(br#"{"id":1}"#));
        assert!(!may_be_ping(
            format!("webhook_id={}", "9".repeat(100)).as_bytes()
        ));
    }
}

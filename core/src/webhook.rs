//! WooCommerce webhook deliveries: the signature check and what a delivery is.
//!
//! Facts (`woocommerce.md`, verified section and §1.5–1.8): the signature is standard base64 of
//! HMAC-SHA256 over the exact body bytes, keyed with the webhook secret after
//! `wp_specialchars_decode(secret, ENT_QUOTES)`; a ping is an unsigned form post `webhook_id=N`;
//! `*.deleted` bodies are `{"id":N}`; `action.*` bodies are `{"action":…,"arg":…}`; and when the
//! resource is gone WooCommerce delivers its REST error object as the body.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Why a delivery is refused or cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the delivery has no X-WC-Webhook-Signature header")]
    MissingSignature,
    #[error("the signature header is malformed: {0}")]
    MalformedSignature(String),
    #[error("the signature does not match the body and the webhook secret")]
    SignatureMismatch,
    #[error("no webhook secret is configured, so no delivery can be verified")]
    EmptySecret,
    #[error("the body is not JSON: {0}")]
    InvalidJson(String),
    #[error("legacy_v3 payload: set the webhook's API version to WP REST API Integration v3")]
    LegacyPayload,
    #[error("not a WooCommerce webhook body: {0}")]
    Unrecognised(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The delivery headers the core looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pub topic: Option<String>,
    pub resource: Option<String>,
    pub event: Option<String>,
    pub signature: Option<String>,
    pub webhook_id: Option<String>,
    pub delivery_id: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceEvent {
    pub resource: String,
    pub event: String,
    pub id: u64,
    pub status: Option<String>,
    pub date_modified_gmt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub code: String,
    pub message: String,
    pub status: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Ping(u64),
    Resource(ResourceEvent),
    Deleted { resource: String, id: u64 },
    Action { hook: String, arg: String },
    RestError(RestError),
}

/// `wp_specialchars_decode($secret, ENT_QUOTES)`: one left-to-right pass (PHP's `strtr`), so
/// `&amp;lt;` becomes `&lt;`, not `<`. Numeric forms with leading zeros are accepted as WordPress
/// normalises them first.
pub fn decode_secret(secret: &str) -> String {
    let mut out = String::with_capacity(secret.len());
    let mut rest = secret;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        match decode_entity(tail) {
            Some((ch, len)) => {
                out.push(ch);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The entity at the start of `s` (which starts with `&`), with its length in bytes.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    for (name, ch) in [
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&quot;", '"'),
    ] {
        if s.starts_with(name) {
            return Some((ch, name.len()));
        }
    }
    let body = s.strip_prefix("&#")?;
    let end = body.find(';')?;
    let digits = &body[..end];
    let (value, ok) = if let Some(hex) = digits.strip_prefix(['x', 'X']) {
        (u32::from_str_radix(hex, 16).ok(), !hex.is_empty())
    } else {
        (digits.parse::<u32>().ok(), !digits.is_empty())
    };
    let ch = match (value?, ok) {
        (39, true) => '\'',
        (34, true) => '"',
        (60, true) if !digits.starts_with(['x', 'X']) => '<',
        (62, true) if !digits.starts_with(['x', 'X']) => '>',
        (38, true) => '&',
        _ => return None,
    };
    Some((ch, 2 + end + 1))
}

/// base64(HMAC-SHA256(body, decoded secret)), as WooCommerce computes it.
pub fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = hmac_for(secret);
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn hmac_for(secret: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    match Hmac::<Sha256>::new_from_slice(decode_secret(secret).as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    }
}

/// Checks the signature in constant time (`Mac::verify_slice`).
pub fn verify_signature(body: &[u8], signature: Option<&str>, secret: &str) -> Result<()> {
    if secret.is_empty() {
        return Err(Error::EmptySecret);
    }
    let signature = signature.map(str::trim).filter(|s| !s.is_empty());
    let signature = signature.ok_or(Error::MissingSignature)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|e| Error::MalformedSignature(format!("not base64 ({e})")))?;
    if raw.len() != 32 {
        return Err(Error::MalformedSignature(format!(
            "{} bytes, an HMAC-SHA256 has 32",
            raw.len()
        )));
    }
    let mut mac = hmac_for(secret);
    mac.update(body);
    mac.verify_slice(&raw).map_err(|_| Error::SignatureMismatch)
}

/// The id of a ping body `webhook_id=N` (surrounding whitespace allowed), if it is one.
fn ping_id(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let digits = text.strip_prefix("webhook_id=")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An id as WooCommerce may send it: a JSON integer, or digits in a string.
pub(crate) fn json_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// A REST error object (`{"code","message","data":{"status"}}`) rather than a resource.
pub(crate) fn as_rest_error(v: &Value) -> Option<RestError> {
    let obj = v.as_object()?;
    if obj.contains_key("id") {
        return None;
    }
    let code = obj.get("code")?.as_str()?;
    let message = obj.get("message")?.as_str()?;
    let status = obj
        .get("data")
        .and_then(|d| d.get("status"))
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok());
    Some(RestError {
        code: code.to_string(),
        message: message.to_string(),
        status,
    })
}

/// A legacy REST API body wraps the resource: `{"order":{…}}`.
pub(crate) fn is_legacy(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        !o.contains_key("id")
            && ["order", "product", "customer", "coupon"]
                .iter()
                .any(|k| o.get(*k).is_some_and(Value::is_object))
    })
}

/// Parses JSON the way every entry point of the core does: UTF-8 first (a clear message for
/// invalid bytes), then serde_json with its default depth limit (deep nesting is an error, not a
/// stack overflow).
pub(crate) fn parse_json(body: &[u8]) -> std::result::Result<Value, String> {
    let text = std::str::from_utf8(body)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The body as [`parse_json`] checks it, but only the top-level fields [`classify`] reads are
/// built: every other value (an order's lines, addresses, meta) is checked as JSON, with the same
/// depth limit, and skipped without allocating. A legacy wrapper (`order`, `product`, …) is kept
/// as an empty object when it is one, which is all [`is_legacy`] asks. Not an object: `null`
/// (classify refuses it as it refused the array or string before).
fn parse_top_level(body: &[u8]) -> std::result::Result<Value, String> {
    let text = std::str::from_utf8(body)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    serde_json::from_str::<TopLevel>(text)
        .map(|t| t.0)
        .map_err(|e| e.to_string())
}

struct TopLevel(Value);

impl<'de> serde::Deserialize<'de> for TopLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> serde::de::Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<TopLevel, A::Error> {
        let mut kept = serde_json::Map::new();
        while let Some(key) = map.next_key::<TopKey>()? {
            match key {
                TopKey::Kept(k) => {
                    kept.insert(k.to_string(), map.next_value::<Value>()?);
                }
                TopKey::Wrapper(k) => {
                    let Skipped(is_object) = map.next_value()?;
                    let v = if is_object {
                        Value::Object(serde_json::Map::new())
                    } else {
                        Value::Null
                    };
                    kept.insert(k.to_string(), v);
                }
                TopKey::Other => {
                    map.next_value::<Skipped>()?;
                }
            }
        }
        Ok(TopLevel(Value::Object(kept)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        seq: A,
    ) -> std::result::Result<TopLevel, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| TopLevel(Value::Null))
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel(Value::Null))
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel(Value::Null))
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel(Value::Null))
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel(Value::Null))
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel(Value::Null))
    }
    fn visit_unit<E>(self) -> std::result::Result<TopLevel, E> {
        Ok(TopLevel(Value::Null))
    }
}

/// The top-level keys [`classify`] reads, and the legacy wrappers [`is_legacy`] looks for.
enum TopKey {
    Kept(&'static str),
    Wrapper(&'static str),
    Other,
}

impl<'de> serde::Deserialize<'de> for TopKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TopKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, k: &str) -> std::result::Result<TopKey, E> {
                const KEPT: [&str; 8] = [
                    "id",
                    "status",
                    "date_modified_gmt",
                    "code",
                    "message",
                    "data",
                    "action",
                    "arg",
                ];
                const WRAPPERS: [&str; 4] = ["order", "product", "customer", "coupon"];
                Ok(if let Some(k) = KEPT.iter().find(|x| **x == k) {
                    TopKey::Kept(k)
                } else if let Some(k) = WRAPPERS.iter().find(|x| **x == k) {
                    TopKey::Wrapper(k)
                } else {
                    TopKey::Other
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A value checked and dropped; true when it was an object.
struct Skipped(bool);

impl<'de> serde::Deserialize<'de> for Skipped {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor).map(Skipped)
    }
}

struct SkipVisitor;

impl<'de> serde::de::Visitor<'de> for SkipVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<bool, A::Error> {
        while map.next_key::<Skipped>()?.is_some() {
            map.next_value::<Skipped>()?;
        }
        Ok(true)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<bool, A::Error> {
        while seq.next_element::<Skipped>()?.is_some() {}
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> std::result::Result<bool, E> {
        Ok(false)
    }
}

/// Topic resource and event, from `X-WC-Webhook-Topic` or the Resource/Event headers.
fn topic_parts(h: &Headers) -> Option<(String, String)> {
    if let Some(topic) = h.topic.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let (resource, event) = topic.split_once('.')?;
        return Some((resource.to_string(), event.to_string()));
    }
    let resource = h.resource.as_deref()?.trim();
    let event = h.event.as_deref()?.trim();
    (!resource.is_empty() && !event.is_empty()).then(|| (resource.to_string(), event.to_string()))
}

/// Classifies a delivery without checking its signature.
pub fn classify(body: &[u8], headers: &Headers) -> Result<Delivery> {
    if let Some(id) = ping_id(body) {
        return Ok(Delivery::Ping(id));
    }
    let value = parse_top_level(body).map_err(Error::InvalidJson)?;
    if is_legacy(&value) {
        return Err(Error::LegacyPayload);
    }
    if let Some(err) = as_rest_error(&value) {
        return Ok(Delivery::RestError(err));
    }
    let (resource, event) = topic_parts(headers).ok_or_else(|| {
        Error::Unrecognised("no X-WC-Webhook-Topic (or Resource and Event) header".into())
    })?;
    let obj = value
        .as_object()
        .ok_or_else(|| Error::Unrecognised("the body is not a JSON object".into()))?;
    if resource == "action" {
        let hook = obj
            .get("action")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Unrecognised("action payload without \"action\"".into()))?;
        let arg = obj.get("arg").cloned().unwrap_or(Value::Null);
        return Ok(Delivery::Action {
            hook: hook.to_string(),
            arg: arg.to_string(),
        });
    }
    let id = obj
        .get("id")
        .ok_or_else(|| Error::Unrecognised("no \"id\" in the body".into()))?;
    let id = json_id(id)
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::Unrecognised(format!("\"id\" is not a resource id: {id}")))?;
    if event == "deleted" {
        return Ok(Delivery::Deleted { resource, id });
    }
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Delivery::Resource(ResourceEvent {
        status: if resource == "order" {
            text("status")
        } else {
            None
        },
        date_modified_gmt: text("date_modified_gmt"),
        resource,
        event,
        id,
    }))
}

/// The intake's one call: pings pass unsigned, everything else must verify first.
pub fn accept(body: &[u8], headers: &Headers, secret: &str) -> Result<Delivery> {
    if let Some(id) = ping_id(body) {
        return Ok(Delivery::Ping(id));
    }
    verify_signature(body, headers.signature.as_deref(), secret)?;
    classify(body, headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    fn topic(t: &str) -> Headers {
        Headers {
            topic: Some(t.into()),
            ..Headers::default()
        }
    }

    #[test]
    fn reference_hmac_vectors_verify() {
        // woocommerce.md §1.10.
        let cases: &[(&[u8], &str, &str)] = &[
            (
                br#"{"id":123}"#,
                "s3cr3t",
                "XBNzmKAUn/VQG5fIrC+YyrxoilcPe0JU2MsIJyZK14o=",
            ),
            (
                br#"{"id":1,"name":"Caf\u00e9","permalink":"https:\/\/shop.example\/product\/x\/"}"#,
                "s3cr3t",
                "JGw+oEGuO4OTztR1m57lF4GXe3JxDlszV+ZYVhSQ2T4=",
            ),
            (
                r#"{"id":1,"name":"Café","permalink":"https://shop.example/product/x/"}"#
                    .as_bytes(),
                "s3cr3t",
                "UcjcpIF06Y2ywjE3vqsNPLzDcj3cHyE0w5a06/HEHZ8=",
            ),
            (
                br#"{"id":123}"#,
                "a&b",
                "zFPLpIBufGMBAbLpbENMe4lF0ThpJg3AwslPSHHIXqg=",
            ),
            (
                br#"{"id":123}"#,
                "a&amp;b",
                "zFPLpIBufGMBAbLpbENMe4lF0ThpJg3AwslPSHHIXqg=",
            ),
        ];
        for (body, secret, sig) in cases {
            assert_eq!(sign(body, secret), *sig, "secret {secret}");
            assert_eq!(verify_signature(body, Some(sig), secret), Ok(()));
        }
    }

    #[test]
    fn captured_deliveries_verify_with_their_secrets() {
        for (name, secret) in [
            ("delivery-order.created", "realwoo-secret-A"),
            ("delivery-order.updated", "rw&amp;<\"'>B-secret"),
            ("delivery-order.deleted", "secret-e"),
        ] {
            let (headers, body) = testdata::capture(name);
            assert_eq!(
                verify_signature(&body, headers.signature.as_deref(), secret),
                Ok(()),
                "{name}"
            );
            // The same bytes re-serialised (as a careless receiver would) no longer verify.
            let reserialised = serde_json::to_vec(&parse_json(&body).unwrap()).unwrap();
            if reserialised != body {
                assert_eq!(
                    verify_signature(&reserialised, headers.signature.as_deref(), secret),
                    Err(Error::SignatureMismatch)
                );
            }
        }
    }

    #[test]
    fn entity_decoding_matches_wp_specialchars_decode() {
        let cases = [
            ("rw&amp;<\"'>B-secret", "rw&<\"'>B-secret"),
            ("&lt;&gt;&quot;&#039;&#39;&#x27;&#034;&#x22;", "<>\"'''\"\""),
            ("&#060;&#062;&#038;&#x26;&#0000039;", "<>&&'"),
            // One pass: the decoded `&` does not start a new entity.
            ("&amp;lt;", "&lt;"),
            // Not entities WordPress decodes: left alone.
            ("&nbsp;&eacute;&#x3c;&#65;&", "&nbsp;&eacute;&#x3c;&#65;&"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(decode_secret(input), want, "{input}");
        }
    }

    #[test]
    fn each_signature_error_variant() {
        let body = br#"{"id":1}"#;
        let good = sign(body, "k");
        assert_eq!(
            verify_signature(body, Some(&good), ""),
            Err(Error::EmptySecret)
        );
        assert_eq!(
            verify_signature(body, None, "k"),
            Err(Error::MissingSignature)
        );
        assert_eq!(
            verify_signature(body, Some("  "), "k"),
            Err(Error::MissingSignature)
        );
        assert!(matches!(
            verify_signature(body, Some("not base64!"), "k"),
            Err(Error::MalformedSignature(_))
        ));
        assert!(matches!(
            verify_signature(body, Some("aGVsbG8="), "k"),
            Err(Error::MalformedSignature(m)) if m.contains("5 bytes")
        ));
        assert_eq!(
            verify_signature(body, Some(&good), "other"),
            Err(Error::SignatureMismatch)
        );
        assert_eq!(
            verify_signature(br#"{"id":2}"#, Some(&good), "k"),
            Err(Error::SignatureMismatch)
        );
    }

    #[test]
    fn classifies_each_kind_of_delivery() {
        let (h, body) = testdata::capture("delivery-order.created");
        assert_eq!(
            classify(&body, &h),
            Ok(Delivery::Resource(ResourceEvent {
                resource: "order".into(),
                event: "created".into(),
                id: 39,
                status: Some("processing".into()),
                date_modified_gmt: Some("2026-11-27T08:59:07".into()),
            }))
        );
        let (h, body) = testdata::capture("delivery-order.deleted");
        assert_eq!(
            classify(&body, &h),
            Ok(Delivery::Deleted {
                resource: "order".into(),
                id: 38
            })
        );
        let (h, body) = testdata::capture("ping-on-create");
        assert_eq!(classify(&body, &h), Ok(Delivery::Ping(19)));
        assert_eq!(
            classify(
                br#"{"action":"woocommerce_add_to_cart","arg":"7cbb"}"#,
                &topic("action.woocommerce_add_to_cart")
            ),
            Ok(Delivery::Action {
                hook: "woocommerce_add_to_cart".into(),
                arg: "\"7cbb\"".into()
            })
        );
        assert_eq!(
            classify(
                &testdata::sample("error-rest_no_route.json"),
                &topic("order.updated")
            ),
            Ok(Delivery::RestError(RestError {
                code: "rest_no_route".into(),
                message: "No route was found matching the URL and request method".into(),
                status: Some(404)
            }))
        );
        assert_eq!(
            classify(
                &testdata::sample("order.legacy-v3.json"),
                &topic("order.updated")
            ),
            Err(Error::LegacyPayload)
        );
        // A deleted payload may carry the id as digits in a string.
        assert_eq!(
            classify(br#"{"id":"12"}"#, &topic("order.deleted")),
            Ok(Delivery::Deleted {
                resource: "order".into(),
                id: 12
            })
        );
    }

    /// The top-level parse must read every body as the full parse does: the same fields, the same
    /// legacy and REST-error verdicts, the same refusals.
    #[test]
    fn the_top_level_parse_agrees_with_the_full_parse() {
        let agree = |body: &[u8]| {
            let top = parse_top_level(body);
            let full = parse_json(body);
            match (&top, &full) {
                (Ok(t), Ok(f)) => {
                    assert_eq!(
                        is_legacy(t),
                        is_legacy(f),
                        "{}",
                        String::from_utf8_lossy(body)
                    );
                    assert_eq!(as_rest_error(t), as_rest_error(f));
                    assert_eq!(t.is_object(), f.is_object());
                    for k in ["id", "status", "date_modified_gmt", "action", "arg"] {
                        assert_eq!(t.get(k), f.get(k), "{k}");
                    }
                }
                (Err(_), Err(_)) => {}
                _ => panic!(
                    "{}: top {top:?}, full {full:?}",
                    String::from_utf8_lossy(body)
                ),
            }
        };
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut n = 0;
        for sub in ["samples", "captures"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("json" | "body")
                ) {
                    agree(&std::fs::read(&path).unwrap());
                    n += 1;
                }
            }
        }
        assert!(n >= 15, "{n} fixtures");
        let deep_inside = format!("{{\"id\":1,\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        for body in [
            &br#"{"id":1,"id":2,"status":"a","status":"b"}"#[..],
            br#"{"order":{"id":1}}"#,
            br#"{"order":{"id":1},"order":3}"#,
            br#"{"order":3,"order":{}}"#,
            br#"{"code":"x","message":"y","data":{"status":404}}"#,
            br#"{"action":"woocommerce_x","arg":{"a":[1,{"b":null}]}}"#,
            br#"{"id":1,"line_items":[{"id":2}],"x":"\u00e9\ud83d\ude00"}"#,
            br#"{"id":1,"x":"\ud800"}"#,
            br#"{"id":1,"x":tru}"#,
            br#"{"id":1} trailing"#,
            br#"{"id":1,}"#,
            br#"[1,{"a":2}]"#,
            br#""a string""#,
            b"12",
            b"null",
            b"",
            deep_inside.as_bytes(),
        ] {
            agree(body);
        }
        // The depth limit holds inside skipped values too.
        assert!(parse_top_level(deep_inside.as_bytes()).is_err());
    }

    #[test]
    fn broken_bodies_are_errors_not_panics() {
        let h = topic("order.updated");
        assert!(matches!(
            classify(b"{\"id\":", &h),
            Err(Error::InvalidJson(_))
        ));
        assert!(
            matches!(classify(&[0xff, 0xfe, b'{'], &h), Err(Error::InvalidJson(m)) if m.contains("UTF-8"))
        );
        let deep = "[".repeat(100_000);
        assert!(matches!(
            classify(deep.as_bytes(), &h),
            Err(Error::InvalidJson(_))
        ));
        assert!(matches!(
            classify(b"[1,2]", &h),
            Err(Error::Unrecognised(_))
        ));
        assert!(
            matches!(classify(br#"{"name":"x"}"#, &h), Err(Error::Unrecognised(m)) if m.contains("id"))
        );
        assert!(matches!(
            classify(br#"{"id":99999999999999999999999}"#, &h),
            Err(Error::Unrecognised(_))
        ));
        assert!(matches!(
            classify(br#"{"id":-3}"#, &h),
            Err(Error::Unrecognised(_))
        ));
        assert!(
            matches!(classify(br#"{"id":1}"#, &Headers::default()), Err(Error::Unrecognised(m)) if m.contains("Topic"))
        );
        assert!(matches!(
            classify(b"webhook_id=", &h),
            Err(Error::InvalidJson(_))
        ));
    }

    #[test]
    fn accept_lets_pings_through_unsigned_and_nothing_else() {
        let (h, body) = testdata::capture("ping-on-create");
        assert_eq!(accept(&body, &h, "whatever"), Ok(Delivery::Ping(19)));
        let (h, body) = testdata::capture("delivery-order.created");
        assert!(matches!(
            accept(&body, &h, "realwoo-secret-A"),
            Ok(Delivery::Resource(_))
        ));
        // A valid signature made with another webhook's secret is refused.
        assert_eq!(accept(&body, &h, "secret-e"), Err(Error::SignatureMismatch));
        let unsigned = Headers {
            signature: None,
            ..h
        };
        assert_eq!(
            accept(&body, &unsigned, "realwoo-secret-A"),
            Err(Error::MissingSignature)
        );
        // A forged body with a legacy shape is refused before it is even looked at.
        let legacy = testdata::sample("order.legacy-v3.json");
        let sig = sign(&legacy, "k");
        let h = Headers {
            signature: Some(sig),
            ..topic("order.updated")
        };
        assert_eq!(accept(&legacy, &h, "k"), Err(Error::LegacyPayload));
    }
}

//! Webhook classification and acceptance: any bytes under any headers give an answer, never a
//! panic; a delivery signed with the secret is never refused for its signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlc_core::webhook::{self, Headers};

const TOPICS: [&str; 6] = [
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "product.updated",
    "action.woocommerce_x",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let topic = TOPICS[usize::from(selector) % TOPICS.len()];
    let (resource, event) = topic.split_once('.').unwrap_or(("order", "updated"));
    let mut h = Headers {
        topic: Some(topic.into()),
        resource: Some(resource.into()),
        event: Some(event.into()),
        webhook_id: Some("7".into()),
        delivery_id: Some("0123456789abcdef0123456789abcdef".into()),
        content_type: Some(if selector & 0x80 == 0 {
            "application/json".into()
        } else {
            "application/x-www-form-urlencoded".into()
        }),
        ..Headers::default()
    };
    let _ = webhook::classify(body, &h);
    // Unsigned, then signed with the secret.
    let _ = webhook::accept(body, &h, "s3cret&amp;");
    h.signature = Some(webhook::sign(body, "s3cret&amp;"));
    if let Err(e) = webhook::accept(body, &h, "s3cret&amp;") {
        assert!(
            !matches!(
                e,
                webhook::Error::MissingSignature
                    | webhook::Error::MalformedSignature(_)
                    | webhook::Error::SignatureMismatch
            ),
            "signed with the secret, refused for its signature: {e:?}"
        );
    }
});

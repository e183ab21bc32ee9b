//! The webhook secrets in force, and the one check that uses them.
//!
//! Our webhooks are registered with the current secret. While it is being rotated (the admin API,
//! the plugin, or `webhook-secret-previous` in the config file), the one before it is accepted
//! too: deliveries WooCommerce signed before it learnt the new secret — queued, in flight, or
//! from a webhook made by hand — still verify. The rotation ends when the previous secret is
//! cleared. Both are swapped live, without a restart.

use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::config::Secret;

/// The current secret and, during a rotation, the previous one (empty otherwise).
#[derive(Default)]
pub struct WebhookSecrets {
    pair: RwLock<(Secret, Secret)>,
    /// Deliveries verified with the previous secret since the start, and the last one's time:
    /// once nothing uses it any more, the rotation can end.
    previous_used: AtomicU64,
    previous_last_at: AtomicI64,
}

impl WebhookSecrets {
    pub fn new(current: Secret, previous: Secret) -> WebhookSecrets {
        WebhookSecrets {
            pair: RwLock::new((current, previous)),
            ..WebhookSecrets::default()
        }
    }

    /// The secret our webhooks are (to be) registered with.
    pub fn current(&self) -> Secret {
        self.pair
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// Whether a rotation is under way (a previous secret is accepted too).
    pub fn rotating(&self) -> bool {
        !self
            .pair
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .is_empty()
    }

    pub fn set(&self, current: Secret, previous: Secret) {
        *self.pair.write().unwrap_or_else(|e| e.into_inner()) = (current, previous);
    }

    /// Deliveries the previous secret verified since the start, and when the last one came.
    pub fn previous_used(&self) -> (u64, Option<i64>) {
        let at = self.previous_last_at.load(Ordering::Relaxed);
        (
            self.previous_used.load(Ordering::Relaxed),
            (at > 0).then_some(at),
        )
    }
}

/// Whether a delivery is signed by the shop: the current secret, and — only for a signature
/// that does not match it, during a rotation — the previous one (the check itself is the core's,
/// run natively: [`verify_signature`]). Returns the MAC that matched.
pub fn verify(
    secrets: &WebhookSecrets,
    body: &[u8],
    signature: Option<&str>,
) -> std::result::Result<[u8; 32], mlc_core::webhook::Error> {
    let (current, previous) = secrets
        .pair
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match verify_signature(body, signature, &[current.expose()]) {
        Err(mlc_core::webhook::Error::SignatureMismatch) if !previous.is_empty() => {
            let verdict = verify_signature(body, signature, &[previous.expose()]);
            if verdict.is_ok() {
                secrets.previous_used.fetch_add(1, Ordering::Relaxed);
                secrets
                    .previous_last_at
                    .store(crate::store::now_ms(), Ordering::Relaxed);
            }
            verdict
        }
        verdict => verdict,
    }
}

/// Checks a delivery's signature against each configured secret; the MAC that matched.
///
/// The one place the intake decides "signed by the shop": the core's own check
/// (`mlc_core::webhook::verify_signature`, constant time), run natively. A missing or malformed
/// signature does not depend on the secret; a mismatch with one secret is tried with the next
/// (several secrets: a secret being changed, where the old one still signs deliveries in flight).
pub fn verify_signature(
    body: &[u8],
    signature: Option<&str>,
    secrets: &[&str],
) -> Result<[u8; 32], mlc_core::webhook::Error> {
    use base64::Engine as _;
    use mlc_core::webhook::Error;
    let mut result = Err(Error::EmptySecret);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        result = mlc_core::webhook::verify_signature(body, signature, secret).map(|()| [0; 32]);
        if !matches!(result, Err(Error::SignatureMismatch)) {
            break;
        }
    }
    result?;
    // Verified: the header is the MAC, base64 of 32 bytes.
    let mut mac = [0u8; 32];
    let raw = base64::engine::general_purpose::STANDARD
        .decode(signature.unwrap_or_default().trim())
        .map_err(|e| Error::MalformedSignature(e.to_string()))?;
    mac.copy_from_slice(raw.get(..32).ok_or(Error::SignatureMismatch)?);
    Ok(mac)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mlc_core::webhook::{Error, sign};

    #[test]
    fn a_signature_verifies_against_any_of_the_secrets_and_returns_its_mac() {
        let body = br#"{"id":1}"#;
        let sig = sign(body, "new-secret");
        let mac = verify_signature(body, Some(&sig), &["old-secret", "new-secret"]).unwrap();
        use base64::Engine as _;
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(mac),
            sig,
            "the MAC is the signature's bytes"
        );
        assert_eq!(
            verify_signature(body, Some(&sig), &["old-secret", "other"]),
            Err(Error::SignatureMismatch)
        );
        // Missing or malformed does not depend on the secret; no secret at all is its own error.
        assert_eq!(
            verify_signature(body, None, &["new-secret"]),
            Err(Error::MissingSignature)
        );
        assert!(matches!(
            verify_signature(body, Some("not base64!"), &["a", "b"]),
            Err(Error::MalformedSignature(_))
        ));
        assert_eq!(
            verify_signature(body, Some(&sig), &["", ""]),
            Err(Error::EmptySecret)
        );
        assert_eq!(
            verify_signature(body, Some(&sig), &[]),
            Err(Error::EmptySecret)
        );
    }
}

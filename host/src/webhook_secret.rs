//! The webhook secrets in force, and the one check that uses them.
//!
//! Our webhooks are registered with the current secret. While it is being rotated (the admin API,
//! the plugin, or `webhook-secret-previous` in the config file), the one before it is accepted
//! too: deliveries WooCommerce signed before it learnt the new secret — queued, in flight, or
//! from a webhook made by hand — still verify. The rotation ends when the previous secret is
//! cleared. Both are swapped live, without a restart.

use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use anyhow::Result;

use crate::component::{CoreRuntime, webhook};
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

/// The core's `accept` with the current secret and — only for a signature that does not match it,
/// during a rotation — with the previous one. Either verifies a delivery; the outer error is a
/// trap, as for the core's own call.
pub fn accept(
    core: &CoreRuntime,
    body: &[u8],
    headers: &webhook::Headers,
    secrets: &WebhookSecrets,
) -> Result<std::result::Result<webhook::Delivery, webhook::Error>> {
    let (current, previous) = secrets
        .pair
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let call = |secret: &Secret| {
        core.call(|c, s| {
            c.ml_connector_webhook()
                .call_accept(s, body, headers, secret.expose())
        })
    };
    match call(&current)? {
        Err(webhook::Error::SignatureMismatch) if !previous.is_empty() => {
            let verdict = call(&previous)?;
            if verdict.is_ok() {
                secrets.previous_used.fetch_add(1, Ordering::Relaxed);
                secrets
                    .previous_last_at
                    .store(crate::store::now_ms(), Ordering::Relaxed);
            }
            Ok(verdict)
        }
        verdict => Ok(verdict),
    }
}

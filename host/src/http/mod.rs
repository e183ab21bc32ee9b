//! The HTTP side of the host: one server, its routes, and what they answer.
//!
//! - [`server`]: the connection handling (one watching thread, a fixed pool of workers).
//! - [`intake`]: WooCommerce's webhook deliveries, stored durably before they are acknowledged.
//! - [`webhook_secret`]: the webhook secrets in force (two during a rotation).
//! - [`admin`]: the admin API (`/api/admin/…`).
//! - [`status`]: the status page, `/api/status`, `/metrics` and `/healthz`.
//!
//! Imports point down only: `jobs`, `clients`, `store`, `config` and the base modules, never
//! `cli` (`docs/architecture.md`; `host/tests/layers.rs`).

pub mod admin;
pub mod intake;
pub mod server;
pub mod status;
pub mod webhook_secret;

use std::sync::Arc;

use crate::component::CoreRuntime;
use crate::config::Config;
use crate::jobs::pipeline::Pipeline;
use crate::store::Store;

/// What every route can reach: the running service's parts.
pub struct Ctx {
    pub config: Config,
    pub store: Arc<Store>,
    pub core: Arc<CoreRuntime>,
    pub pipeline: Arc<Pipeline>,
    pub intake: Arc<intake::Intake>,
    /// When this process started (ms since the epoch).
    pub started_at: i64,
    /// The admin API: its token, and the configuration in force (`config` is the one at start).
    pub admin: admin::Admin,
    /// The webhook monitor and the catch-up poller.
    pub lifecycle: Arc<crate::jobs::lifecycle::Lifecycle>,
}

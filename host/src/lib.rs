//! ml-connector's host: everything that does I/O around the pure core.
//!
//! # Layers
//! Each folder is a layer; a module imports only from its own layer's lower modules and from the
//! layers below it, so there is no import circle (`host/tests/layers.rs` checks it, and
//! `docs/architecture.md` draws it). From the top:
//! - [`cli`]: the command line, `serve` (which wires everything together), the operator
//!   commands and the sandbox.
//! - [`http`]: the server, the webhook intake, the admin API and the status page.
//! - [`jobs`]: the order pipeline, the webhook monitor and catch-up, X3 polling, reconcile.
//! - [`clients`]: Sage X3 and WooCommerce.
//! - [`store`]: SQLite — inbox, orders (the job queue), idempotency ledger, timeline.
//! - [`config`]: every section's settings, loading, and the overlay stored from the admin API.
//! - the base: [`component`] (the core, sandboxed), [`wire`] (X3's field names), [`dates`],
//!   [`html`], [`x3values`], [`log`].

#[macro_use]
pub mod log;

pub mod cli;
pub mod clients;
pub mod component;
pub mod config;
pub mod dates;
pub mod html;
pub mod http;
pub mod jobs;
pub mod store;
pub mod wire;
pub mod x3values;

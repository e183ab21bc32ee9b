//! ml-connector's host: everything that does I/O around the pure core.
//!
//! # Layout
//! - [`cli`]: the command line (`ml-connector …`).
//! - [`config`]: the TOML configuration and secrets that never print.
//! - [`component`]: loads the core WebAssembly component and calls it, sandboxed.
//! - [`store`]: SQLite — inbox, orders (the job queue), idempotency ledger, timeline.
//! - [`intake`] and [`server`]: the HTTP side — webhook deliveries, stored before they are acknowledged.
//! - [`pipeline`]: the workers that post orders to X3 exactly once.
//! - [`stock`]: `[stock]`, the settings of deliveries, cancellations, credit notes and restock.
//! - [`x3`]: the Sage X3 client (REST api1 and GraphQL, three auth modes).
//! - [`woo`]: the WooCommerce REST client (orders, refunds, webhooks).
//! - [`serve`]: `ml-connector serve`, which wires the above together.
//! - [`status`]: the status page, `/api/status`, `/metrics` and `/healthz`.
//! - [`admin`]: the admin API (`/api/admin/…`): settings, mapping, holds, replay, connection test.
//! - `sandbox` (feature `sandbox`): `ml-connector sandbox` — the host against in-process simulators.
//! - [`ops`]: the operator commands (`ping`, `orders`, `mapping`, `config check`).
//! - [`x3poll`]: reads changes back from X3 (documents, statuses, stock → WooCommerce, customers).
//! - [`master`]: `[master-data]`, which master data flows in which direction.
//! - [`catalogue`]: X3 item data (name, descriptions, status, price, stock) → WooCommerce products.
//! - [`master_orders`]: a delivery validated in X3 completes the WooCommerce order.
//! - [`customer_sync`]: WooCommerce customers' changed addresses → the X3 customer's addresses.
//! - [`reconcile`]: every WooCommerce order of a period against its X3 document(s).
//! - [`webhook_secret`]: the webhook secrets in force (two during a rotation) and the check.
//! - [`log`]: one line per event on stderr.

#[macro_use]
pub mod log;

pub mod admin;
pub mod catalogue;
pub mod cli;
pub mod component;
pub mod config;
pub mod customer_sync;
pub mod dates;
pub mod intake;
pub mod lifecycle;
pub mod master;
pub mod master_orders;
pub mod ops;
pub mod pipeline;
pub mod reconcile;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod serve;
pub mod server;
pub mod status;
pub mod stock;
pub mod store;
pub mod webhook_secret;
pub mod wire;
pub mod woo;
pub mod x3;
pub mod x3poll;

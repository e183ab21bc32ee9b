//! The work the host does in the background, each a loop or a run over the store and the clients.
//!
//! - [`pipeline`]: the workers that post orders to X3 exactly once (and `pipeline::stock`, the
//!   stock movements and documents after an order is posted).
//! - [`lifecycle`]: the webhook monitor (registration, re-enabling) and the REST catch-up poll.
//! - [`x3poll`]: reading X3's changes back (documents, statuses, stock, customers).
//! - [`catalogue`]: X3 item data → WooCommerce products, for `x3poll`.
//! - [`master_orders`]: a delivery validated in X3 completes the WooCommerce order.
//! - [`customer_sync`]: WooCommerce customers' changed addresses → X3.
//! - [`reconcile`]: every WooCommerce order of a period against its X3 document(s).
//!
//! Imports point down only: `clients`, `store`, `config` and the base modules, never `http` or
//! `cli` (`docs/architecture.md`; `host/tests/layers.rs` fails on an import that points up or
//! closes a circle).

pub mod catalogue;
pub mod customer_sync;
pub mod lifecycle;
pub mod master_orders;
pub mod pipeline;
pub mod reconcile;
pub mod x3poll;

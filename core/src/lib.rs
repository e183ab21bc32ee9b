//! The decisions of ml-connector, with no I/O: a WooCommerce order in, the X3 documents to post
//! out.
//!
//! Built twice: natively (the tests and benchmarks call this plain Rust API) and for
//! `wasm32-unknown-unknown`, where the small `wit` module exports it as the component the host
//! runs. The component imports nothing; every input arrives as an argument.
//!
//! Layout:
//! - [`webhook`]: signature check and classification of deliveries.
//! - [`order`]: the WooCommerce order model (REST v3 JSON, exact decimals).
//! - [`mapping`]: the mapping table (CSV/JSON), precedence and coverage.
//! - [`customer`]: matching customers by e-mail and the X3 customer to create.
//! - [`plan`]: an order, the mapping and the settings become ordered X3 operations.
//! - [`decide`]: the order's decision loop: its state and next X3 requests from what the host knows.
//! - [`literal`]: escaping values into SData `where` clauses and GraphQL filter strings.
//! - [`inventory`]: status changes and refunds become stock intents.
//! - [`stock`]: the X3 actions after posting: delivery, close/delete, credit notes, restock.
//! - [`reconcile`]: one order's amounts against the X3 documents carrying its reference.
//! - [`revision`]: which revision of an order or customer is newer, and a delivery's inbox key.
//! - [`text`]: fitting text into X3 field lengths, reporting what was shortened.
//! - [`wire`]: every X3 name the connector uses, with its default and source, and overrides.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod customer;
pub mod date;
pub mod decide;
pub mod inventory;
pub mod literal;
pub mod mapping;
pub mod order;
pub mod plan;
pub mod reconcile;
pub mod revision;
pub mod stock;
pub mod text;
pub mod webhook;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod wit;

#[cfg(test)]
pub(crate) mod testdata;

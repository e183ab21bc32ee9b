//! ml-connector's host: everything that does I/O around the pure core.
//!
//! # Layout
//! - [`component`]: loads the core WebAssembly component and calls it, sandboxed.
//! - [`cli`]: the command line (`ml-connector …`).
//! - [`x3`]: the Sage X3 client (REST api1 and GraphQL, three auth modes).
//! - [`woo`]: the WooCommerce REST client (orders, refunds, webhooks).

pub mod cli;
pub mod component;
pub mod woo;
pub mod x3;

//! Simulators of Sage X3 (`x3`) and WooCommerce (`woo`), usable in-process by the end-to-end tests
//! and by the host's sandbox mode, and as the `x3-sim` / `woo-sim` binaries.

pub mod http;
pub mod woo;
pub mod x3;

//! The WooCommerce REST client (being written).

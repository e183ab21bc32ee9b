//! The Sage X3 client (being written).

//! ml-connector's host: everything that does I/O around the pure core.
//!
//! # Layout
//! - [`component`]: loads the core WebAssembly component and calls it, sandboxed.
//! - [`cli`]: the command line (`ml-connector …`).

pub mod cli;
pub mod component;

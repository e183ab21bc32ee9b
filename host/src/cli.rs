//! The command line. One `main` maps errors to exit codes and prints the cause chain once.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::component::{CoreRuntime, EMBEDDED};

/// ml-connector: every WooCommerce order in Sage X3, exactly once.
#[derive(Debug, Parser)]
#[command(name = "ml-connector", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the connector: receive WooCommerce webhooks and post orders to Sage X3.
    Serve {
        /// The configuration file (TOML; see docs/configuration.md).
        #[arg(long, short, value_name = "FILE", env = "ML_CONNECTOR_CONFIG")]
        config: PathBuf,
    },
    /// Work with the embedded core component (the WebAssembly module that makes every decision).
    Component {
        /// Write the embedded component to this file (inspect it with `wasm-tools component wit`).
        #[arg(long, value_name = "PATH")]
        emit: Option<PathBuf>,
        /// Load the component as `serve` would and list its exported functions.
        #[arg(long)]
        check: bool,
    },
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { config } => crate::serve::run(&config),
        Command::Component { emit, check } => {
            if let Some(path) = emit {
                std::fs::write(&path, EMBEDDED)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {} ({} bytes)", path.display(), EMBEDDED.len());
            }
            if check {
                let (core, _) = CoreRuntime::embedded(None)?;
                let component = wasmtime::component::Component::new(core.engine(), EMBEDDED)?;
                for f in crate::component::exported_functions(core.engine(), &component) {
                    println!("{f}");
                }
            }
            Ok(())
        }
    }
}

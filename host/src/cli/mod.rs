//! The command line. Each command is a thin call into [`crate::cli::serve`], `crate::cli::sandbox` or
//! [`crate::cli::ops`]; one `main` maps errors to exit codes and prints the cause chain once.

pub mod jobs;
pub mod ops;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod serve;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::component::{CoreRuntime, EMBEDDED};

/// ml-connector: every WooCommerce order in Sage X3, exactly once.
#[derive(Debug, Parser)]
#[command(
    name = "ml-connector",
    version,
    about,
    long_about = None,
    after_help = "Exit status: 0 success; 1 the command failed (the message says why and what to \
                  do); 2 the command line is wrong. See docs/cli.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The configuration file every operator command reads.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file (TOML; see docs/install.md).
    #[arg(
        long,
        short,
        value_name = "FILE",
        env = "ML_CONNECTOR_CONFIG",
        default_value = "/etc/ml-connector/config.toml"
    )]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the connector: receive WooCommerce webhooks and post orders to Sage X3.
    ///
    /// Runs until SIGTERM or SIGINT, then finishes the orders in hand. Under systemd
    /// (Type=notify) it reports readiness once it listens.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Try the whole product on this machine: simulated X3 and WooCommerce, real connector.
    ///
    /// Starts an X3 simulator and a WooCommerce simulator in this process, a connector wired to
    /// them, registers the shop's webhooks, and places realistic orders (guests and registered
    /// customers, variations, coupons, unicode names, pending → processing → completed). Prints
    /// the status page's URL and runs until Ctrl-C.
    ///
    /// With --orders N --exit-when-done it is a self-check: places N orders, waits until each
    /// has settled, prints one line of JSON (orders_placed, documents_in_x3, duplicates, held,
    /// failed, elapsed_ms) and exits 0 only if X3 holds exactly one sales document per order.
    Sandbox {
        /// Place this many orders (default: one every few seconds until Ctrl-C).
        #[arg(long, value_name = "N")]
        orders: Option<u64>,
        /// Exit once the --orders have settled, with the JSON summary (needs --orders).
        #[arg(long, requires = "orders")]
        exit_when_done: bool,
        /// Port of the connector (default 8788, or any free one when taken; 0: any free one).
        #[arg(long, value_name = "PORT")]
        port: Option<u16>,
        /// Keep the data here (a new, empty directory) instead of a temporary one.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Test the connections to X3 and to the shop with the configured credentials.
    ///
    /// Reads one record from X3 and one page of orders from WooCommerce, and says precisely
    /// what is wrong when one fails: DNS, connection refused, TLS certificate, wrong user or
    /// password (401), wrong X3 folder, missing rights, read-only WooCommerce key. Changes
    /// nothing. Exits 1 when either test fails.
    Ping {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Look at orders, find out why one did not reach X3, and replay it.
    Orders {
        #[command(subcommand)]
        command: OrdersCommand,
    },
    /// Import, export and check the mapping table (WooCommerce products → X3 items).
    Mapping {
        #[command(subcommand)]
        command: MappingCommand,
    },
    /// Create, repair and inspect the shop's webhooks that deliver to this host.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Read every order modified since a date from the WooCommerce REST API and take in what the
    /// webhooks did not bring (the same exactly-once path: nothing is posted twice).
    ///
    /// A running service posts what was found within a second. Use it after an outage, after
    /// installing on a shop that already has orders, or when a webhook was disabled for a while.
    Backfill {
        /// GMT date or time: 2026-11-01, 2026-11-01T08:00:00Z.
        #[arg(long, value_name = "DATE")]
        since: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Compare every WooCommerce order of a period with its X3 document(s).
    ///
    /// Reads the shop's orders created from --from to --to (both included; GMT) and, for each,
    /// the X3 documents whose CUSORDREF is the order's reference. Reports orders missing in X3
    /// (unless the status map says they are not to be posted), posted more than once, or whose
    /// total, tax or shipping differ by more than the tolerance. Prints the discrepancies as a
    /// table (or JSON), writes every order to --csv, and exits 1 when there is any.
    Reconcile {
        /// First day (2026-11-01) or instant (2026-11-01T10:00:00Z), GMT.
        #[arg(long, value_name = "DATE")]
        from: String,
        /// Last day or instant, included.
        #[arg(long, value_name = "DATE")]
        to: String,
        /// Write every order of the period, with the result, to this CSV file.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Largest difference that is not a discrepancy (default: [reconcile] tolerance, 0.01).
        #[arg(long, value_name = "AMOUNT")]
        tolerance: Option<f64>,
        /// The whole report as JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Check the configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
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

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// List orders with their state, X3 document and last error, newest change first.
    ///
    /// States: new, waiting (status not posted yet, e.g. pending payment), retrying (X3 or the
    /// shop unreachable, retried with backoff), held (a line has no mapping), attention (X3
    /// refused the document; needs a person), failed (gave up retrying), posted, trashed,
    /// deleted.
    List {
        /// Only orders in this state.
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Everything known about one order: state, X3 document, last error, hold, timeline, the
    /// X3 writes made for it.
    Show {
        /// The WooCommerce order id.
        id: u64,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Queue orders again: a running service picks them up within a second.
    ///
    /// Safe for any order: one already in X3 is not posted twice (the ledger knows its
    /// document). Use it after fixing what X3 refused, or after an outage that outlasted the
    /// retry horizon.
    Replay {
        /// WooCommerce order ids.
        #[arg(required_unless_present = "state", conflicts_with = "state")]
        ids: Vec<u64>,
        /// Every order in this state (e.g. attention, failed, held).
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Validate a mapping table (CSV or JSON) and make it the one in force.
    ///
    /// CSV header: key_type,key,item_code,sales_unit,gl_account,dimensions,site. Every bad row
    /// is reported with its number and nothing is stored then. On success the table is stored
    /// in the data directory and held orders are queued again.
    Import {
        /// The table (`-`: standard input).
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Write the mapping in force as CSV (to standard output without FILE).
    Export {
        file: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Compare the mapping with the shop's catalogue: list products and variations no row
    /// covers (their orders would be held). Exits 1 when some are not covered.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Create our webhooks (order.created, order.updated, order.deleted, order.restored; with
    /// `[webhooks] master-data`, customer.* and product.* too) or repair them: the delivery URL,
    /// the status (a disabled one is re-enabled) and the secret are put back. Safe to re-run: it
    /// never creates a second webhook for a topic and removes duplicates of ours.
    Register {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List the shop's webhooks, which are ours, and what is wrong with them. Exits 1 when one
    /// of ours is disabled, paused or missing.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration as `serve` would (secrets read, settings checked by
    /// the core, mapping file parsed) and print a summary without any secret. Exits 1 with
    /// the precise problem otherwise.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    use crate::cli::ops;
    // The logger first, so that the libraries' first records are not lost.
    crate::log::init();
    match cli.command {
        Command::Serve { config } => crate::cli::serve::run(&config.config),
        #[cfg(feature = "sandbox")]
        Command::Sandbox {
            orders,
            exit_when_done,
            port,
            data_dir,
        } => crate::cli::sandbox::run(&crate::cli::sandbox::Options {
            orders,
            exit_when_done,
            port,
            data_dir,
        }),
        #[cfg(not(feature = "sandbox"))]
        Command::Sandbox { .. } => anyhow::bail!(
            "this ml-connector was built without the sandbox (the simulators are not in the \
             production binary): cargo run --release -p ml-connector --features sandbox -- sandbox"
        ),
        Command::Ping { config } => ops::ping(&config.config),
        Command::Orders { command } => match command {
            OrdersCommand::List {
                state,
                limit,
                json,
                config,
            } => ops::orders_list(&config.config, state.as_deref(), limit, json),
            OrdersCommand::Show { id, json, config } => ops::orders_show(&config.config, id, json),
            OrdersCommand::Replay { ids, state, config } => {
                ops::orders_replay(&config.config, &ids, state.as_deref())
            }
        },
        Command::Mapping { command } => match command {
            MappingCommand::Import { file, config } => ops::mapping_import(&config.config, &file),
            MappingCommand::Export { file, config } => {
                ops::mapping_export(&config.config, file.as_deref())
            }
            MappingCommand::Check { config } => ops::mapping_check(&config.config),
        },
        Command::Webhooks { command } => match command {
            WebhooksCommand::Register { config } => {
                crate::cli::jobs::webhooks_register(&config.config)
            }
            WebhooksCommand::List { json, config } => {
                crate::cli::jobs::webhooks_list(&config.config, json)
            }
        },
        Command::Backfill { since, config } => crate::cli::jobs::backfill(&config.config, &since),
        Command::Reconcile {
            from,
            to,
            csv,
            tolerance,
            json,
            config,
        } => {
            crate::cli::jobs::reconcile(&config.config, &from, &to, csv.as_deref(), tolerance, json)
        }
        Command::Config { command } => match command {
            ConfigCommand::Check { config } => ops::config_check(&config.config),
        },
        Command::Component { emit, check } => {
            if let Some(path) = emit {
                std::fs::write(&path, EMBEDDED)
                    .with_context(|| format!("writing {}", path.display()))?;
                outln!("wrote {} ({} bytes)", path.display(), EMBEDDED.len());
            }
            if check {
                let (core, _) = CoreRuntime::embedded(None)?;
                let component = wasmtime::component::Component::new(core.engine(), EMBEDDED)?;
                for f in crate::component::exported_functions(core.engine(), &component) {
                    outln!("{f}");
                }
            }
            Ok(())
        }
    }
}

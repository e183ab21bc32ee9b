//! The `ml-connector` binary.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = ml_connector::cli::Cli::parse();
    match ml_connector::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Not eprintln!: it panics when stderr is closed.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

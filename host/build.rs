//! Builds the core for `wasm32-unknown-unknown` and turns it into a WebAssembly component that the
//! binary embeds, so `cargo build --release` at the root is the only build step.
//!
//! The nested cargo uses its own target directory: sharing the outer one would deadlock on cargo's
//! build lock. Debug info is stripped from the component (it only makes the binary larger; the
//! core's logic is tested natively).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    if let Err(e) = run() {
        // A build script reports failure by exiting non-zero; the message is what the user sees.
        eprintln!("error: building the core component failed: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest
        .parent()
        .ok_or_else(|| anyhow::anyhow!("host/ has no parent directory"))?;
    for watched in ["core/src", "core/Cargo.toml", "wit", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let target_dir = workspace.join("target").join("core-wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "-p",
            "ml-connector-core",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(&target_dir)
        // The outer build's flags are for the host target, not wasm32 (its own are set below).
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        // Every call of the core pays the deadline's check at each function entry: inlining
        // more (and LTO with one codegen unit, so it can) makes fewer of them. A typical order
        // through the component went from 1.56x to 1.40x native (BENCHMARKS.md §3).
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            "-Cllvm-args=-inline-threshold=1000",
        )
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-unknown-unknown")
            && stderr.contains("target may not be installed")
        {
            "\nhint: run `rustup target add wasm32-unknown-unknown`"
        } else {
            ""
        };
        anyhow::bail!("cargo build of ml-connector-core for wasm32 failed:\n{stderr}{hint}");
    }
    let module_path = target_dir.join("wasm32-unknown-unknown/release/mlc_core.wasm");
    let module = std::fs::read(&module_path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", module_path.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()?;
    let out = Path::new(&std::env::var("OUT_DIR")?).join("core.component.wasm");
    std::fs::write(&out, component)?;
    Ok(())
}

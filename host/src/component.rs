//! Runs the core component: one [`Engine`], one pre-instantiation, and a small pool of instances,
//! each call with a fuel limit (a hostile body cannot spin forever) and a memory limit (nor
//! exhaust memory). An instance is reused only after a call that returned normally and left its
//! memory small; one that trapped is dropped — the core keeps no state between calls, so a reused
//! instance answers exactly as a fresh one (the boundary tests run through the pool too).
//!
//! Compiling the component takes most of start-up, so the compiled artifact is cached in the data
//! directory, keyed by a hash of the component bytes and of the engine's compatibility hash; a
//! stale or unreadable cache entry is rebuilt, never trusted.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};

wasmtime::component::bindgen!({
    world: "core",
    path: "../wit",
    additional_derives: [PartialEq, Eq],
});

pub use exports::ml::connector::{inventory, mapping, orders, webhook};

/// The component built from `core/` by `build.rs`.
pub const EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/core.component.wasm"));

/// The WIT package and version this host is written against.
pub const PACKAGE: &str = "ml:connector";
pub const VERSION: &str = "0.3.0";
/// The interfaces the component must export.
pub const INTERFACES: [&str; 4] = ["webhook", "mapping", "orders", "inventory"];

/// Fuel for one call. Planning a 500-line order takes well under a tenth of this; the limit only
/// stops runaway input.
pub const DEFAULT_FUEL: u64 = 5_000_000_000;
/// Linear memory one call may grow to.
const MEMORY_LIMIT: usize = 512 << 20;
/// An instance whose memory grew past this (a huge order) is not kept: memory never shrinks.
const REUSE_MEMORY_LIMIT: usize = 16 << 20;
/// Idle instances kept for reuse (about one per thread calling the core).
const POOL_SIZE: usize = 32;

pub struct State {
    limits: StoreLimits,
    /// The linear memory's size after its last growth.
    memory: usize,
}

impl wasmtime::ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        if ok {
            self.memory = desired;
        }
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }
}

/// The loaded core, shared by every thread of the host.
pub struct CoreRuntime {
    engine: Engine,
    pre: CorePre<State>,
    fuel: u64,
    /// Instances ready for another call.
    idle: std::sync::Mutex<Vec<(Store<State>, Core)>>,
}

/// Where a compiled artifact came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiled {
    FromCache,
    Fresh,
}

fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.consume_fuel(true);
    Ok(Engine::new(&config)?)
}

/// Checks the component's exports and imports against what this host supports.
pub fn check_interface(engine: &Engine, component: &Component) -> Result<()> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    if !imports.is_empty() {
        bail!(
            "the core component must import nothing, but imports {}",
            imports.join(", ")
        );
    }
    let exports: BTreeSet<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    check_export_names(&exports)
}

/// The version rule on export names alone (`ml:connector/webhook@0.3.0`, …).
pub fn check_export_names(exports: &BTreeSet<String>) -> Result<()> {
    let prefix = format!("{PACKAGE}/");
    let versions: BTreeSet<&str> = exports
        .iter()
        .filter_map(|n| n.strip_prefix(&prefix))
        .filter_map(|n| n.split_once('@').map(|(_, v)| v))
        .collect();
    if let Some(other) = versions.iter().find(|v| **v != VERSION) {
        bail!(
            "the component implements {PACKAGE}@{other}; this ml-connector supports {PACKAGE}@{VERSION} \
             (use the ml-connector release that matches the component)"
        );
    }
    let missing: Vec<String> = INTERFACES
        .iter()
        .map(|i| format!("{PACKAGE}/{i}@{VERSION}"))
        .filter(|n| !exports.contains(n))
        .collect();
    if !missing.is_empty() {
        bail!("the component does not export {}", missing.join(", "));
    }
    Ok(())
}

/// Every exported function, as `interface#function`, for the boundary tests.
pub fn exported_functions(engine: &Engine, component: &Component) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, ext) in component.component_type().exports(engine) {
        if let ComponentItem::ComponentInstance(inst) = ext.ty {
            let iface = name.split('/').nth(1).unwrap_or(name);
            let iface = iface.split('@').next().unwrap_or(iface);
            for (f, e) in inst.exports(engine) {
                if matches!(e.ty, ComponentItem::ComponentFunc(_)) {
                    out.insert(format!("{iface}#{f}"));
                }
            }
        }
    }
    out
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .context("compiling the core component")
}

fn cache_path(dir: &Path, engine: &Engine, bytes: &[u8]) -> PathBuf {
    // DefaultHasher is stable within one build of the host, which is all a cache key needs:
    // a different host binary may use a different hasher and simply misses the cache.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!("core-{:016x}.cwasm", h.finish()))
}

#[allow(unsafe_code)]
fn load_cached(engine: &Engine, path: &Path) -> Option<Component> {
    // Read into memory rather than `deserialize_file`: that one maps the file, and a file
    // replaced or truncated under a running host would then crash it (SIGBUS).
    let bytes = std::fs::read(path).ok()?;
    // SAFETY: `deserialize` trusts the bytes to be wasmtime's own output. The file lives in the
    // host's private data directory, is written by `write_cache` below (to a temporary name,
    // then renamed) under a name derived from the engine's compatibility hash, and wasmtime
    // still checks its header and version; anything it rejects is recompiled.
    unsafe { Component::deserialize(engine, &bytes) }.ok()
}

impl CoreRuntime {
    /// Loads `bytes` (a component), compiling it or reusing the compiled artifact in `cache_dir`.
    pub fn load(bytes: &[u8], cache_dir: Option<&Path>) -> Result<(CoreRuntime, Compiled)> {
        let engine = engine()?;
        let (component, compiled) = match cache_dir {
            Some(dir) => {
                let path = cache_path(dir, &engine, bytes);
                match load_cached(&engine, &path) {
                    Some(c) => (c, Compiled::FromCache),
                    None => {
                        let c = compile(&engine, bytes)?;
                        write_cache(dir, &path, &c);
                        (c, Compiled::Fresh)
                    }
                }
            }
            None => (compile(&engine, bytes)?, Compiled::Fresh),
        };
        check_interface(&engine, &component)?;
        let linker = Linker::<State>::new(&engine);
        let pre = CorePre::new(linker.instantiate_pre(&component)?)?;
        Ok((
            CoreRuntime {
                engine,
                pre,
                fuel: DEFAULT_FUEL,
                idle: std::sync::Mutex::new(Vec::new()),
            },
            compiled,
        ))
    }

    /// The component embedded in this binary.
    pub fn embedded(cache_dir: Option<&Path>) -> Result<(CoreRuntime, Compiled)> {
        CoreRuntime::load(EMBEDDED, cache_dir)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Sets the fuel each call gets.
    pub fn set_fuel(&mut self, fuel: u64) {
        self.fuel = fuel;
    }

    /// Runs `f` against an instance from the pool (or a new one) with the full fuel allowance.
    /// The outer error is a trap or an infrastructure failure (quarantine the input; the
    /// instance is dropped); business outcomes are the inner `Result` the exports return.
    pub fn call<R>(
        &self,
        f: impl FnOnce(&Core, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (mut store, instance) = match pooled {
            Some(p) => p,
            None => self.instantiate()?,
        };
        store.set_fuel(self.fuel)?;
        let r = f(&instance, &mut store)?;
        if store.data().memory <= REUSE_MEMORY_LIMIT {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < POOL_SIZE {
                idle.push((store, instance));
            }
        }
        Ok(r)
    }

    fn instantiate(&self) -> Result<(Store<State>, Core)> {
        let mut store = Store::new(
            &self.engine,
            State {
                limits: StoreLimitsBuilder::new().memory_size(MEMORY_LIMIT).build(),
                memory: 0,
            },
        );
        store.limiter(|s| s);
        let instance = self.pre.instantiate(&mut store)?;
        Ok((store, instance))
    }
}

fn write_cache(dir: &Path, path: &Path, component: &Component) {
    // A cache that cannot be written costs start-up time, nothing else: never fail on it.
    let Ok(bytes) = component.serialize() else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

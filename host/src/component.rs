//! Runs the core component: one [`Engine`], one pre-instantiation, and a small pool of instances,
//! each call with a deadline (a hostile body cannot spin forever) and a memory limit (nor
//! exhaust memory). The deadline counts the engine's epoch, which a clock thread advances every
//! 10 ms: checking it costs the core a load and a compare, where counting fuel made every call
//! about half as slow again (BENCHMARKS.md §3). An instance is reused only after a call that returned normally and left its
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

pub use exports::ml::connector::{decisions, inventory, mapping, orders};

/// The component built from `core/` by `build.rs`.
pub const EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/core.component.wasm"));

/// The WIT package and version this host is written against.
pub const PACKAGE: &str = "ml:connector";
pub const VERSION: &str = "0.7.0";
/// The interfaces the component must export.
pub const INTERFACES: [&str; 4] = ["mapping", "orders", "inventory", "decisions"];

/// How often the epoch advances: the unit of a call's deadline.
const TICK: std::time::Duration = std::time::Duration::from_millis(10);
/// Ticks one call may run: 10 s. Planning a 500-line order takes a few milliseconds; the limit
/// only stops runaway input.
pub const DEFAULT_DEADLINE_TICKS: u64 = 1000;
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
    deadline_ticks: u64,
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
    config.epoch_interruption(true);
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

/// The version rule on export names alone (`ml:connector/webhook@0.4.0`, …).
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

/// Advances the engine's epoch every [`TICK`] for as long as the engine lives.
fn start_clock(engine: &Engine) -> Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("core-clock".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .context("starting the core's deadline clock")?;
    Ok(())
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
        start_clock(&engine)?;
        let linker = Linker::<State>::new(&engine);
        let pre = CorePre::new(linker.instantiate_pre(&component)?)?;
        Ok((
            CoreRuntime {
                engine,
                pre,
                deadline_ticks: DEFAULT_DEADLINE_TICKS,
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

    /// Sets how many ticks of the epoch clock (10 ms each) a call may run; 0 traps at once.
    pub fn set_deadline_ticks(&mut self, ticks: u64) {
        self.deadline_ticks = ticks;
    }

    /// Runs `f` against an instance from the pool (or a new one) with the full deadline.
    /// The outer error is a trap or an infrastructure failure (quarantine the input; the
    /// instance is dropped); business outcomes are the inner `Result` the exports return.
    fn call<R>(
        &self,
        f: impl FnOnce(&Core, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (mut store, instance) = match pooled {
            Some(p) => p,
            None => self.instantiate()?,
        };
        store.set_epoch_deadline(self.deadline_ticks);
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
// ---------------------------------------------------------------------------------------------
// The typed wrapper: the only way the host calls the core.

impl CoreRuntime {
    /// The `mapping` interface: the mapping table.
    pub fn mapping(&self) -> MappingApi<'_> {
        MappingApi(self)
    }

    /// The `orders` interface: an order's X3 documents.
    pub fn orders(&self) -> OrdersApi<'_> {
        OrdersApi(self)
    }

    /// The `inventory` interface: stock and the documents after posting.
    pub fn inventory(&self) -> InventoryApi<'_> {
        InventoryApi(self)
    }

    /// The `decisions` interface: the order's decision loop.
    pub fn decisions(&self) -> DecisionsApi<'_> {
        DecisionsApi(self)
    }
}

/// The core's `mapping` interface, each call through the pool ([`CoreRuntime::call`]).
pub struct MappingApi<'a>(&'a CoreRuntime);

impl MappingApi<'_> {
    /// Parses CSV with header `key_type,key,item_code,sales_unit,gl_account,dimensions,site`
    /// (`dimensions` as `TYPE=VALUE;TYPE=VALUE`). Every bad row is reported, not only the first.
    pub fn parse_csv(
        &self,
        text: &str,
        dimension_types: &[String],
    ) -> Result<Result<Vec<mapping::MappingRow>, mapping::Error>> {
        self.0.call(|c, s| {
            c.ml_connector_mapping()
                .call_parse_csv(s, text, dimension_types)
        })
    }

    /// Parses the JSON form: an array of objects with the same fields as the CSV columns.
    pub fn parse_json(
        &self,
        text: &str,
        dimension_types: &[String],
    ) -> Result<Result<Vec<mapping::MappingRow>, mapping::Error>> {
        self.0.call(|c, s| {
            c.ml_connector_mapping()
                .call_parse_json(s, text, dimension_types)
        })
    }

    /// Renders rows as CSV that `parse-csv` reads back unchanged.
    pub fn to_csv(&self, rows: &[mapping::MappingRow]) -> Result<String> {
        self.0
            .call(|c, s| c.ml_connector_mapping().call_to_csv(s, rows))
    }

    /// Which catalogue entries the table covers.
    pub fn coverage(
        &self,
        rows: &[mapping::MappingRow],
        catalogue: &[mapping::CatalogueEntry],
    ) -> Result<mapping::CoverageReport> {
        self.0
            .call(|c, s| c.ml_connector_mapping().call_coverage(s, rows, catalogue))
    }
}

/// The core's `decisions` interface, each call through the pool ([`CoreRuntime::call`]).
pub struct DecisionsApi<'a>(&'a CoreRuntime);

impl DecisionsApi<'_> {
    /// The order's next step from what the host knows: requests to run, or where it ends.
    /// `stock`: the after-post settings, none when `[stock]` is off.
    pub fn decide(
        &self,
        order: &[u8],
        mapping: &[mapping::MappingRow],
        settings: &orders::Settings,
        status_map: &[inventory::StatusRule],
        stock: Option<&inventory::StockSettings>,
        facts: &decisions::Facts,
    ) -> Result<Result<decisions::Decision, orders::Error>> {
        self.0.call(|c, s| {
            c.ml_connector_decisions()
                .call_decide(s, order, mapping, settings, status_map, stock, facts)
        })
    }
}

/// The core's `orders` interface, each call through the pool ([`CoreRuntime::call`]).
pub struct OrdersApi<'a>(&'a CoreRuntime);

impl OrdersApi<'_> {
    /// Every problem `plan` would refuse these settings for, all at once, each under its field
    /// (`store-id`, `wire.<key>`, …). Empty: usable.
    pub fn check_settings(
        &self,
        settings: &orders::Settings,
        mapping: &[mapping::MappingRow],
    ) -> Result<Vec<orders::SettingsProblem>> {
        self.0.call(|c, s| {
            c.ml_connector_orders()
                .call_check_settings(s, settings, mapping)
        })
    }

    /// The settings with every default filled in (sites and types empty: the merchant's to set).
    pub fn default_settings(&self) -> Result<orders::Settings> {
        self.0
            .call(|c, s| c.ml_connector_orders().call_default_settings(s))
    }

    /// The customer match key of an e-mail: trimmed, Unicode lower-cased. Empty stays empty.
    pub fn customer_key(&self, email: &str) -> Result<String> {
        self.0
            .call(|c, s| c.ml_connector_orders().call_customer_key(s, email))
    }

    /// Every X3 name in force with these overrides, in key order. An unknown key or a malformed
    /// name is `invalid-settings` naming the key.
    pub fn wire_names(
        &self,
        overrides: &[(String, String)],
    ) -> Result<Result<Vec<orders::WireName>, orders::Error>> {
        self.0
            .call(|c, s| c.ml_connector_orders().call_wire_names(s, overrides))
    }

    /// A value as an SData string literal: single-quoted, `'` doubled.
    pub fn sdata_literal(&self, value: &str) -> Result<String> {
        self.0
            .call(|c, s| c.ml_connector_orders().call_sdata_literal(s, value))
    }

    /// A value as a string literal inside a GraphQL filter string: single-quoted, `\` and `'`
    /// escaped, control characters as `\u` and four hex digits (`\u000a`).
    pub fn graphql_literal(&self, value: &str) -> Result<String> {
        self.0
            .call(|c, s| c.ml_connector_orders().call_graphql_literal(s, value))
    }

    /// One order (REST v3 JSON) against the X3 documents carrying its reference.
    pub fn reconcile(
        &self,
        order: &[u8],
        documents: &[orders::ReconcileDocument],
        rules: &orders::ReconcileRules,
    ) -> Result<Result<orders::ReconcileVerdict, orders::Error>> {
        self.0.call(|c, s| {
            c.ml_connector_orders()
                .call_reconcile(s, order, documents, rules)
        })
    }
}

/// The core's `inventory` interface, each call through the pool ([`CoreRuntime::call`]).
pub struct InventoryApi<'a>(&'a CoreRuntime);

impl InventoryApi<'_> {
    /// The default map: processing/on-hold → posted, completed/shipped → shipped,
    /// delivered → delivered, cancelled → cancelled; other statuses → none.
    pub fn default_status_map(&self) -> Result<Vec<inventory::StatusRule>> {
        self.0
            .call(|c, s| c.ml_connector_inventory().call_default_status_map(s))
    }

    /// Checks a map: every status once, non-empty slugs.
    pub fn validate_status_map(
        &self,
        rules: &[inventory::StatusRule],
    ) -> Result<Result<(), inventory::Error>> {
        self.0.call(|c, s| {
            c.ml_connector_inventory()
                .call_validate_status_map(s, rules)
        })
    }

    /// The intents for an order moving from `previous` (none: first seen) to `current`. Stages
    /// between are filled in (pending → completed gives post and ship), backward moves give
    /// nothing, and `allocate` accompanies `post` when `allocate-on-post` is set.
    pub fn transition(
        &self,
        store_id: &str,
        order_id: u64,
        previous: Option<&str>,
        current: &str,
        rules: &[inventory::StatusRule],
        allocate_on_post: bool,
    ) -> Result<Result<inventory::StockTransition, inventory::Error>> {
        self.0.call(|c, s| {
            c.ml_connector_inventory().call_transition(
                s,
                store_id,
                order_id,
                previous,
                current,
                rules,
                allocate_on_post,
            )
        })
    }

    /// The defaults (credit-note type empty: the merchant's to set).
    pub fn default_stock_settings(&self) -> Result<inventory::StockSettings> {
        self.0
            .call(|c, s| c.ml_connector_inventory().call_default_stock_settings(s))
    }

    /// What is still to do for an order at `current`, given the intents the ledger has done:
    /// stages up to `current` not yet done; `cancel` when cancelled after posting and before
    /// shipment; attention when cancelled after shipment or moved on after a cancel.
    pub fn due_intents(
        &self,
        store_id: &str,
        order_id: u64,
        current: &str,
        rules: &[inventory::StatusRule],
        done: &[inventory::IntentKind],
    ) -> Result<Result<inventory::StockTransition, inventory::Error>> {
        self.0.call(|c, s| {
            c.ml_connector_inventory()
                .call_due_intents(s, store_id, order_id, current, rules, done)
        })
    }
}

//! Issue 8's pipeline, footprint and catch-up benchmarks, on the real release binary against both
//! simulators (BENCHMARKS.md has the figures and how to read them).
//!
//! ```sh
//! cargo build --release -p ml-connector && cargo bench -p ml-connector-sim --bench flow [pipeline|backlog|catalogue]
//! ```
//!
//! - `pipeline`: orders per second from webhook to X3 document with x3-sim answering every call in
//!   50 ms and X3 concurrency 3, against the bound those allow: X3 calls made × 50 ms ÷ 3.
//! - `backlog`: binary size; start-up time to ready with the compiled component cached; resident
//!   memory idle; `backfill` of 10,000 orders against the time woo-sim takes to serve the same
//!   pages to a bare client; resident memory (peak) while draining that backlog into X3.
//! - `catalogue`: 10,000 X3 items priced and stocked in WooCommerce by X3 polling
//!   (`[master-data] products`, `[x3-poll] stock`), against the time woo-sim takes to answer the
//!   same batch requests sent by a bare client.

#![allow(clippy::unwrap_used)] // a test fails loudly on what it did not expect

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let all = which.is_empty();
    println!(
        "machine: {} cores, load average before: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    if all || which.iter().any(|w| w == "pipeline") {
        pipeline(300);
    }
    if all || which.iter().any(|w| w == "backlog") {
        backlog(10_000);
    }
    if all || which.iter().any(|w| w == "catalogue") {
        catalogue(10_000);
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `VmRSS` and `VmHWM` (peak) of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

fn posted(host: &HostProc) -> u64 {
    host.status()["orders"]["posted"].as_u64().unwrap_or(0)
}

fn quiet() -> String {
    "[webhooks]\nmonitor-interval-secs = 0\n\n[catch-up]\ninterval-secs = 0\n".into()
}

fn pipeline(n: u64) {
    let env = Env::new(
        "bench-pipeline",
        Options {
            concurrency: 3,
            woo_auto_deliver: Some(Duration::from_millis(10)),
            config_tail: quiet(),
            ..Options::default()
        },
    );
    let host = HostProc::start(&env);
    // MLC_BENCH_LATENCY_MS: another X3 latency, to see the host's own cost per order (0).
    let latency: u64 = std::env::var("MLC_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    env.x3
        .set_faults(&json!({ "latency_ms": latency }))
        .unwrap();
    let mut rng = Lcg(8);
    // One order first, so the figures below are the steady state.
    env.woo.place_order(&checkout(&mut rng, 0)).unwrap();
    assert!(wait_until(Duration::from_secs(60), || posted(&host) == 1));
    let calls_before = env.x3.api_requests();
    let load = loadavg();
    let t0 = Instant::now();
    for i in 1..=n {
        env.woo.place_order(&checkout(&mut rng, i)).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(600), || posted(&host) == n + 1),
        "not all posted: {}",
        posted(&host)
    );
    let elapsed = t0.elapsed().as_secs_f64();
    let st = host.status();
    let calls = env.x3.api_requests() - calls_before;
    let bound = calls as f64 * latency as f64 / 1000.0 / 3.0;
    assert_eq!(env.x3_orders_by_reference().len() as u64, n + 1);
    println!(
        "pipeline (X3 latency {latency} ms, concurrency 3): {n} orders in {elapsed:.2} s = {:.2} orders/s; X3 calls {calls} ({:.2}/order); \
         bound {bound:.2} s = {:.2} orders/s; measured/bound time {:.3} ({:.1} % of the bound's \
         throughput); load average at start {load}",
        n as f64 / elapsed,
        calls as f64 / n as f64,
        n as f64 / bound,
        elapsed / bound,
        100.0 * bound / elapsed
    );
    println!(
        "pipeline: the last delivery arrived {:.2} s before the last order was posted; lag from \
         delivery to X3 document p50 {} ms, p95 {} ms",
        (st["generated_at"].as_i64().unwrap_or(0)
            - st["store"]["last_delivery_at"].as_i64().unwrap_or(0)) as f64
            / 1000.0,
        st["throughput"]["lag_p50_ms"],
        st["throughput"]["lag_p95_ms"]
    );
    let _ = host.terminate();
}

fn backlog(n: u64) {
    let env = Env::new(
        "bench-backlog",
        Options {
            // No deliveries at all: the backlog comes in through the catch-up.
            woo_auto_deliver: None,
            config_tail: quiet(),
            ..Options::default()
        },
    );
    let bin = host_binary();
    let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
    // The first start compiles the component into the data directory's cache.
    let cold = Instant::now();
    let first = HostProc::start(&env);
    let cold = cold.elapsed();
    let _ = first.terminate();
    let warm = Instant::now();
    let host = HostProc::start(&env);
    let warm = warm.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let (idle_rss, _) = memory(host.pid());
    let _ = host.terminate();
    println!(
        "footprint: binary {:.1} MiB; start-up to ready {:.0} ms with the component cached \
         ({:.0} ms compiling it on the first start); idle RSS {idle_rss:.1} MiB",
        size as f64 / 1_048_576.0,
        warm.as_secs_f64() * 1000.0,
        cold.as_secs_f64() * 1000.0
    );

    let mut rng = Lcg(10);
    for i in 0..n {
        env.woo.place_order(&checkout(&mut rng, i)).unwrap();
    }
    // Baseline: the same pages, read by a bare client that does nothing with them.
    let c = env.woo.config();
    let load = loadavg();
    let t = Instant::now();
    let mut pages = 0;
    let mut seen = 0;
    for page in 1.. {
        let mut resp = ureq::get(&format!("{}/wp-json/wc/v3/orders", env.woo.base_url()))
            .query("modified_after", "2000-01-01T00:00:00")
            .query("dates_are_gmt", "true")
            .query("orderby", "modified")
            .query("order", "asc")
            .query("per_page", "100")
            .query("page", page.to_string())
            .query("status", "any")
            .query("consumer_key", &c.consumer_key)
            .query("consumer_secret", &c.consumer_secret)
            .call()
            .unwrap();
        let v: Value = resp.body_mut().read_json().unwrap();
        pages += 1;
        seen += v.as_array().map_or(0, Vec::len);
        if v.as_array().is_none_or(Vec::is_empty) || seen as u64 >= n {
            break;
        }
    }
    let serve = t.elapsed().as_secs_f64();
    assert_eq!(seen as u64, n);
    let t = Instant::now();
    let out = Command::new(&bin)
        .args(["backfill", "--since", "2000-01-01", "--config"])
        .arg(&env.config)
        .output()
        .unwrap();
    let catch_up = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["taken-in"], n, "{report}");
    println!(
        "catch-up: backfill of {n} orders ({} pages) {catch_up:.2} s; the same pages served to a \
         bare client {serve:.2} s ({pages} requests); ratio {:.2}; load average at start {load}",
        report["pages"],
        catch_up / serve
    );

    let host = HostProc::start(&env);
    let t = Instant::now();
    let mut peak_rss: f64 = 0.0;
    let mut samples = 0;
    let drained = wait_until(Duration::from_secs(1800), || {
        let (rss, _) = memory(host.pid());
        peak_rss = peak_rss.max(rss);
        samples += 1;
        posted(&host) == n
    });
    assert!(drained, "not drained: {}", posted(&host));
    let drain = t.elapsed().as_secs_f64();
    let (rss_after, hwm) = memory(host.pid());
    println!(
        "footprint: draining {n} orders into X3 took {drain:.1} s ({:.0} orders/s); RSS while \
         draining: peak sampled {peak_rss:.1} MiB ({samples} samples), VmHWM {hwm:.1} MiB, after \
         {rss_after:.1} MiB",
        n as f64 / drain
    );
    let _ = host.terminate();
}

/// `n` items in X3 and the same SKUs in WooCommerce, mapped one to one; the host's first poll
/// prices (name, description, base price) and stocks (physical − allocated) every product.
fn catalogue(n: u64) {
    let env = Env::new(
        "bench-catalogue",
        Options {
            config_tail: format!(
                "{}\n[x3-poll]\ninterval-secs = 3600\nmax-rows = 20000\norders = false\ncustomers = false\nstock = true\n\n\
                 [master-data]\nproducts = true\n",
                quiet()
            ),
            ..Options::default()
        },
    );
    let sku = |i: u64| format!("CAT{i:05}");
    let price = |i: u64| format!("{}.{:02}", 5 + i % 95, i % 100);
    let ids = env
        .woo
        .add_products(&json!({"count": n, "sku_prefix": "CAT", "price": "1.00", "stock": 0}))
        .unwrap();
    assert_eq!(ids.len() as u64, n);
    let items: Vec<Value> = (1..=n)
        .map(|i| {
            json!({"ITMREF": sku(i), "DES1AXX": format!("Article {i}"), "DES2AXX": "Catalogue",
                   "TCLCOD": "WEB", "STU": "UN", "SAU": "UN", "BASPRI": price(i)})
        })
        .collect();
    let stock: Vec<Value> = (1..=n)
        .map(|i| json!({"STOFCY": "FR011", "ITMREF": sku(i), "QTYSTU": 10 + i % 50, "CUMALLQTY": i % 7}))
        .collect();
    env.x3
        .seed(&json!({"items": items, "stock": stock}))
        .unwrap();
    let mut mapping = MAPPING.to_string();
    for i in 1..=n {
        mapping.push_str(&format!("sku,{},{},UN,706100,,\n", sku(i), sku(i)));
    }
    std::fs::write(env.dir.join("mapping.csv"), mapping).unwrap();

    let load = loadavg();
    let x3_before = env.x3.api_requests();
    let t = Instant::now();
    let host = HostProc::start(&env);
    let done = wait_until(Duration::from_secs(1800), || {
        let p = &host.status()["x3_poll"]["parts"];
        p["items"]["ok"] == true && p["stock"]["ok"] == true
    });
    let elapsed = t.elapsed().as_secs_f64();
    assert!(done, "{}\n{}", host.status()["x3_poll"], host.log());
    let st = host.status()["x3_poll"].clone();
    assert!(
        st["errors"]
            .as_object()
            .is_some_and(serde_json::Map::is_empty),
        "{st}"
    );
    let x3_calls = env.x3.api_requests() - x3_before;
    let woo = env.woo.rest_requests();
    let count = |k: &str| woo[k].as_u64().unwrap_or(0);
    let (batches, reads) = (count("POST products/batch"), count("GET products"));
    let _ = host.terminate();

    // Every product priced and stocked as X3 says, read back 100 SKUs at a time.
    let c = env.woo.config();
    let get = |skus: &str| -> Value {
        ureq::get(&format!("{}/wp-json/wc/v3/products", env.woo.base_url()))
            .query("sku", skus)
            .query("per_page", "100")
            .query("consumer_key", &c.consumer_key)
            .query("consumer_secret", &c.consumer_secret)
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap()
    };
    let mut checked = 0;
    for chunk in (1..=n).collect::<Vec<_>>().chunks(100) {
        let list: Vec<String> = chunk.iter().map(|i| sku(*i)).collect();
        for p in get(&list.join(",")).as_array().unwrap() {
            let i: u64 = p["sku"].as_str().unwrap()[3..].parse().unwrap();
            assert_eq!(p["regular_price"], price(i), "{p}");
            assert_eq!(p["stock_quantity"], 10 + i % 50 - i % 7, "{p}");
            assert_eq!(p["name"], format!("Article {i}"));
            checked += 1;
        }
    }
    assert_eq!(checked, n);

    // Baseline: the same batches (what the host sent: one for name, description and price, one
    // for stock, per 100 products) and the same reads, sent to woo-sim by a bare client.
    let rebuilt = Env::new("bench-catalogue-bare", Options::default());
    let ids = rebuilt
        .woo
        .add_products(&json!({"count": n, "sku_prefix": "CAT", "price": "1.00", "stock": 0}))
        .unwrap();
    let rc = rebuilt.woo.config();
    let url = |path: &str| {
        format!(
            "{}/wp-json/wc/v3/{path}?consumer_key={}&consumer_secret={}",
            rebuilt.woo.base_url(),
            rc.consumer_key,
            rc.consumer_secret
        )
    };
    let t = Instant::now();
    for pass in 0..2 {
        for chunk in ids.chunks(100) {
            let list: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(k, _)| sku((chunk[0] - ids[0]) + k as u64 + 1))
                .collect();
            let _: Value = ureq::get(&url("products"))
                .query("sku", list.join(","))
                .query("per_page", "100")
                .query("context", "edit")
                .call()
                .unwrap()
                .body_mut()
                .read_json()
                .unwrap();
            let update: Vec<Value> = chunk
                .iter()
                .map(|id| {
                    let i = id - ids[0] + 1;
                    if pass == 0 {
                        json!({"id": id, "name": format!("Article {i}"), "short_description": "Catalogue",
                               "regular_price": price(i)})
                    } else {
                        json!({"id": id, "stock_quantity": 10 + i % 50 - i % 7})
                    }
                })
                .collect();
            let r: Value = ureq::post(&url("products/batch"))
                .send_json(json!({ "update": update }))
                .unwrap()
                .body_mut()
                .read_json()
                .unwrap();
            assert_eq!(r["update"].as_array().map(Vec::len), Some(chunk.len()));
        }
    }
    let bare = t.elapsed().as_secs_f64();

    // And the X3 side: the same reads from x3-sim by a bare client (changed items and stock
    // lines in pages of 100 by UPDDATTIM, then the stock of 100 items per query).
    let xc = env.x3.config();
    let auth = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", xc.user, xc.password)
        )
    );
    let x3_read = |class: &str, clause: &str, order: bool| -> usize {
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        let mut url = format!(
            "{}/api1/x3/erp/{}/{class}?representation={class}.$query&count=100&where={}{}",
            env.x3.base_url(),
            xc.folder,
            enc(clause),
            if order {
                "&orderBy=UPDDATTIM%20asc"
            } else {
                ""
            }
        );
        let mut rows = 0;
        loop {
            let v: Value = ureq::get(&url)
                .header("Authorization", &auth)
                .call()
                .unwrap()
                .body_mut()
                .read_json()
                .unwrap();
            rows += v["$resources"].as_array().map_or(0, Vec::len);
            match v.pointer("/$links/$next/$url").and_then(Value::as_str) {
                Some(next) => url = next.to_string(),
                None => break rows,
            }
        }
    };
    let t = Instant::now();
    let since = "UPDDATTIM ge @2000-01-01T00:00:00Z@";
    assert!(x3_read("ITMMASTER", since, true) as u64 >= n);
    assert!(x3_read("STOCK", since, true) as u64 >= n);
    for chunk in (1..=n).collect::<Vec<_>>().chunks(100) {
        let list: Vec<String> = chunk.iter().map(|i| format!("'{}'", sku(*i))).collect();
        x3_read("STOCK", &format!("ITMREF in ({})", list.join(",")), false);
    }
    let bare_x3 = t.elapsed().as_secs_f64();
    println!(
        "catalogue: {n} items priced and stocked in {elapsed:.2} s from the host's start \
         ({:.0} products/s); WooCommerce requests: {reads} product reads, {batches} batches; X3 \
         requests {x3_calls}; the same reads and batches sent to woo-sim by a bare client \
         {bare:.2} s, the same X3 reads from x3-sim {bare_x3:.2} s; host / (both) {:.2}; load \
         average at start {load}",
        n as f64 / elapsed,
        elapsed / (bare + bare_x3)
    );
}

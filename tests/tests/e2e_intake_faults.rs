//! End to end: the intake under hostile senders and storage faults (docs/hostile-input.md).
//!
//! - Slow senders (slowloris: idle connections, heads and bodies sent a byte at a time) do not
//!   block other deliveries, and are disconnected in the end.
//! - A declared Content-Length far beyond the limit is refused and the host keeps running.
//! - Disk full (a tmpfs filled up; needs root to mount, skipped otherwise): deliveries are answered
//!   503, never acknowledged and lost; the host keeps running and recovers once space is freed.
//! - A read-only data directory at start: the host refuses to start, with a clear error.
//! - SQLite busy (another process holds the write lock): 503, not a hang and not a 200.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Env, HostProc, Lcg, Options, WEBHOOK_SECRET, wait_until};
use mlc_sim::woo::deliver::signature;
use serde_json::Value;

/// Generous: a blocked intake makes the test fail here instead of hanging.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

fn env(name: &str) -> Env {
    Env::new(
        name,
        Options {
            woo_auto_deliver: None,
            ..Options::default()
        },
    )
}

fn order_headers(sig: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "application/json".into()),
        ("X-WC-Webhook-Topic", "order.updated".into()),
        ("X-WC-Webhook-Resource", "order".into()),
        ("X-WC-Webhook-Event", "updated".into()),
        ("X-WC-Webhook-ID", "99".into()),
        (
            "X-WC-Webhook-Delivery-ID",
            "0123456789abcdef0123456789abcdef".into(),
        ),
        ("X-WC-Webhook-Signature", sig.into()),
    ]
}

/// Posts a signed delivery; (status, answer). A fresh agent: no pooled connection.
fn deliver(host: &HostProc, body: &[u8]) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(CLIENT_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut req = agent.post(&host.url("/webhooks/woocommerce"));
    for (k, v) in order_headers(&signature(body, WEBHOOK_SECRET)) {
        req = req.header(k, &v);
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A new order in woo-sim (not delivered) and its webhook body.
fn new_order(env: &Env, n: u64) -> (Value, Vec<u8>) {
    let order = env
        .woo
        .place_order(&common::checkout(&mut Lcg(n), n))
        .unwrap();
    let body = mlc_sim::woo::phpjson::encode(&order);
    (order, body)
}

fn reference(order: &Value) -> String {
    format!("WC-{}", order["id"])
}

fn healthy(host: &HostProc) -> bool {
    ureq::get(&host.url("/healthz"))
        .config()
        .http_status_as_error(false)
        .timeout_global(Some(CLIENT_TIMEOUT))
        .build()
        .call()
        .is_ok()
}

#[derive(Clone, Copy, Debug)]
enum Slow {
    /// Connects and sends nothing.
    Idle,
    /// Sends a request head a byte at a time.
    Head,
    /// Sends a complete head, then the body a byte at a time.
    Body,
}

/// One slow client: what it ended with (`closed` once the server hung up or answered).
struct SlowClient {
    kind: Slow,
    answer: Arc<std::sync::Mutex<Option<String>>>,
}

fn slow_client(
    addr: &str,
    kind: Slow,
    started: &Arc<AtomicUsize>,
    stop: &Arc<AtomicBool>,
) -> SlowClient {
    let answer = Arc::new(std::sync::Mutex::new(None));
    let (addr, started, stop, out) = (
        addr.to_string(),
        Arc::clone(started),
        Arc::clone(stop),
        Arc::clone(&answer),
    );
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let body_head = "POST /webhooks/woocommerce HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-WC-Webhook-Topic: order.updated\r\nX-WC-Webhook-Signature: AAAA\r\nContent-Length: 100000\r\n\r\n";
        let (first, trickle): (Vec<u8>, Vec<u8>) = match kind {
            Slow::Idle => (Vec::new(), Vec::new()),
            Slow::Head => (
                Vec::new(),
                b"POST /webhooks/woocommerce HTTP/1.1\r\nHost: x\r\nX-Padding: "
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(b'a', 100_000))
                    .collect(),
            ),
            Slow::Body => (
                body_head.as_bytes().to_vec(),
                std::iter::repeat_n(b'{', 100_000).collect(),
            ),
        };
        s.write_all(&first).unwrap();
        let mut sent = 0;
        let mut counted = false;
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            // What the server says, if anything.
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if !seen.is_empty() {
                        break;
                    }
                }
                Err(_) => break,
            }
            if stop.load(Ordering::SeqCst) {
                *out.lock().unwrap() = Some("still open when the test stopped".into());
                return;
            }
            if let Some(b) = trickle.get(sent) {
                if s.write_all(&[*b]).is_err() {
                    // Hung up on: collect what it said before.
                    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        seen.extend_from_slice(&buf[..n]);
                    }
                    break;
                }
                sent += 1;
            }
            if !counted && (sent >= 2 || trickle.is_empty()) {
                counted = true;
                started.fetch_add(1, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let text = String::from_utf8_lossy(&seen).to_string();
        *out.lock().unwrap() = Some(if text.is_empty() {
            "closed".into()
        } else {
            text
        });
    });
    SlowClient { kind, answer }
}

#[test]
fn slow_senders_do_not_block_deliveries_and_are_cut_off() {
    let env = env("slowloris");
    let host = HostProc::start(&env);
    let started = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // More slow clients of each kind than the server has threads taking requests (16).
    let clients: Vec<SlowClient> = [Slow::Idle, Slow::Head, Slow::Body]
        .iter()
        .flat_map(|k| std::iter::repeat_n(*k, 24))
        .map(|k| slow_client(&host.addr, k, &started, &stop))
        .collect();
    assert!(
        wait_until(Duration::from_secs(60), || started.load(Ordering::SeqCst)
            == clients.len()),
        "slow clients did not start"
    );

    // While they hold their connections, a genuine delivery is acknowledged and posted.
    let (order, body) = new_order(&env, 1);
    let (status, answer) = deliver(&host, &body);
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    assert!(
        wait_until(Duration::from_secs(60), || env
            .x3_orders_by_reference()
            .contains_key(&reference(&order))),
        "{}",
        host.log()
    );
    assert!(healthy(&host));

    // A declared length far beyond the limit: 413, and the host is still there (it used to
    // abort, allocating the declared size to throw the unread body away).
    let mut s = TcpStream::connect(&host.addr).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.write_all(b"POST /webhooks/woocommerce HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999999\r\n\r\n{\"id\":1")
        .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    drop(s);
    // The same on a route that never reads a body.
    let mut s = TcpStream::connect(&host.addr).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.write_all(
        b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\nx",
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(healthy(&host), "{}", host.log());

    // The slow clients are disconnected in the end: heads get 408 (or a close), bodies 408.
    let t_cut = std::time::Instant::now();
    let cut = wait_until(Duration::from_secs(300), || {
        clients.iter().all(|c| c.answer.lock().unwrap().is_some())
    });
    eprintln!(
        "slow clients: all cut off = {cut} after {:?}",
        t_cut.elapsed()
    );
    assert!(
        wait_until(Duration::from_secs(300), || clients.iter().all(|c| c
            .answer
            .lock()
            .unwrap()
            .is_some())),
        "some slow clients are still connected after {:?}: {:?}",
        t_cut.elapsed(),
        clients
            .iter()
            .filter(|c| c.answer.lock().unwrap().is_none())
            .map(|c| c.kind)
            .collect::<Vec<_>>()
    );
    stop.store(true, Ordering::SeqCst);
    for c in &clients {
        let a = c.answer.lock().unwrap().clone().unwrap();
        match c.kind {
            Slow::Idle => assert_eq!(a, "closed", "{:?}", c.kind),
            Slow::Head => assert!(a == "closed" || a.starts_with("HTTP/1.1 408"), "{a}"),
            Slow::Body => assert!(a.starts_with("HTTP/1.1 408"), "{a}"),
        }
    }
    // Nothing of theirs was stored; the genuine order went to X3 once.
    let status = host.status();
    assert_eq!(status["deliveries"]["counters"]["rejected_unreadable"], 24);
    assert_eq!(env.x3_records("SORDER").len(), 1);
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Mounts a tmpfs of `size` at `dir`; false when this is not allowed (not root, no privilege).
fn mount_tmpfs(dir: &std::path::Path, size: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    is_root()
        && std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &std::path::Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    // Single bytes for the last partial block.
    while f.write_all(&[0]).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn disk_full_answers_503_never_loses_an_acknowledged_delivery_and_recovers() {
    let env = env("diskfull");
    let data = env.dir.join("data");
    if !mount_tmpfs(&data, "16m") {
        eprintln!("SKIPPED: mounting a tmpfs needs root (docs/hostile-input.md)");
        return;
    }
    let _unmount = Unmount(data.clone());
    let host = HostProc::start(&env);
    let (first, body) = new_order(&env, 1);
    assert_eq!(deliver(&host, &body).0, 200);
    assert!(wait_until(Duration::from_secs(60), || env
        .x3_orders_by_reference()
        .contains_key(&reference(&first))));

    fill(&data.join("filler"));
    // Deliveries until one is refused: a commit may still fit in the WAL's existing pages, and
    // such a commit is durable, so it is rightly acknowledged.
    let mut acknowledged = vec![reference(&first)];
    let mut refused = Vec::new();
    for n in 2..200 {
        let (order, body) = new_order(&env, n);
        let (status, answer) = deliver(&host, &body);
        match status {
            200 => acknowledged.push(reference(&order)),
            503 => {
                assert!(
                    answer["error"].as_str().unwrap().contains("not accepted"),
                    "{answer}"
                );
                refused.push((reference(&order), body));
                if refused.len() == 3 {
                    break;
                }
            }
            other => panic!("answered {other}: {answer}"),
        }
    }
    assert_eq!(refused.len(), 3, "no delivery was refused on a full disk");
    // Still running: the status page answers and says why.
    assert!(healthy(&host), "{}", host.log());
    assert!(host.log().contains("answering 503"), "{}", host.log());

    // Space again: the refused deliveries, sent again (WooCommerce's next delivery or the
    // catch-up poll), are stored; every acknowledged order is in X3 exactly once.
    std::fs::remove_file(data.join("filler")).unwrap();
    for (_, body) in &refused {
        let (status, answer) = deliver(&host, body);
        assert_eq!(status, 200, "{answer}");
    }
    let all: Vec<String> = acknowledged
        .iter()
        .cloned()
        .chain(refused.iter().map(|(r, _)| r.clone()))
        .collect();
    assert!(
        wait_until(Duration::from_secs(120), || {
            let in_x3 = env.x3_orders_by_reference();
            all.iter().all(|r| in_x3.contains_key(r))
        }),
        "{}",
        host.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let in_x3 = env.x3_orders_by_reference();
    for r in &all {
        assert_eq!(in_x3[r].len(), 1, "{r} posted {} times", in_x3[r].len());
    }
    assert_eq!(in_x3.len(), all.len());
    drop(host);
}

#[test]
fn read_only_data_directory_refuses_to_start_with_a_clear_error() {
    let env = env("readonly");
    let data = env.dir.join("data");
    if !mount_tmpfs(&data, "16m") {
        eprintln!("SKIPPED: mounting a tmpfs needs root (docs/hostile-input.md)");
        return;
    }
    let _unmount = Unmount(data.clone());
    // A database made by a first run, then the file system read-only.
    HostProc::start(&env).terminate();
    let ok = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&data)
        .status()
        .unwrap()
        .success();
    assert!(ok, "remount read-only");
    let out = std::process::Command::new(common::host_binary())
        .args(["serve", "--config"])
        .arg(&env.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("read-only") || err.contains("readonly"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ready"));
}

#[test]
fn sqlite_busy_answers_503_then_recovers() {
    let env = env("busy");
    let host = HostProc::start(&env);
    // Another process (here: this test) holds the database's write lock.
    let db = rusqlite::Connection::open(env.dir.join("data/ml-connector.sqlite3")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE; INSERT INTO kv (key, value) VALUES ('busy-test', 'x');")
        .unwrap();
    let (order, body) = new_order(&env, 1);
    let (status, answer) = deliver(&host, &body);
    assert_eq!(status, 503, "{answer}");
    assert!(healthy(&host));
    db.execute_batch("ROLLBACK").unwrap();
    let (status, answer) = deliver(&host, &body);
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("stored")),
        "{answer}"
    );
    assert!(
        wait_until(Duration::from_secs(60), || env
            .x3_orders_by_reference()
            .contains_key(&reference(&order))),
        "{}",
        host.log()
    );
    assert_eq!(env.x3_records("SORDER").len(), 1);
}

/// A body the host does not read is thrown away up to 64 MiB; past that the connection is
/// closed. What follows in the body is never parsed as another request (smuggling).
#[test]
fn an_unread_body_is_never_taken_for_the_next_request() {
    let env = env("smuggle");
    let host = HostProc::start(&env);
    let mut s = TcpStream::connect(&host.addr).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let declared: usize = 100 << 20;
        let head =
            format!("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n");
        if w.write_all(head.as_bytes()).is_err() {
            return;
        }
        // Exactly 64 MiB of padding (what the host throws away), then requests one after the
        // other, all inside the declared body: wherever the throwing away stops, a server that
        // went on parsing would answer one of them (or a 400 for a partial line).
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            if w.write_all(&chunk).is_err() {
                return;
            }
        }
        let fake = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(4096);
        let _ = w.write_all(&fake);
        let _ = w.write_all(&vec![b'x'; declared - (64 << 20) - fake.len()]);
    });
    let mut answers = Vec::new();
    let _ = s.read_to_end(&mut answers);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&answers);
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{text}");
    assert!(healthy(&host));
}

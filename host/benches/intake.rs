//! Benchmark: signed webhook deliveries per second and acknowledgement latency through the real
//! intake (patched tiny_http, a thread per request, the core component checking the signature,
//! SQLite WAL with `synchronous=FULL`, committed before the 200), against a bare tiny_http server
//! answering 200 doing nothing, in the same process and run.
//!
//! Run: `cargo bench -p ml-connector --bench intake` (`MLC_BENCH_SECS`, default 5, per case).
//! Senders connect per delivery and send HTTP/1.0 with `Connection: close`, as WordPress does.
//! Not a test: nothing is asserted on time; every answer must be a 200 and every acknowledged
//! delivery must be in the inbox afterwards, or the run fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ml_connector::component::CoreRuntime;
use ml_connector::config::Secret;
use ml_connector::intake::{Answer, Intake};
use ml_connector::server::{BODY_DEADLINE, DeadlineReader, HttpServer, headers_of};
use ml_connector::store::Store;

const SECRET: &str = "bench-s3cret";

/// One prepared request per delivery: distinct order ids, so none is a duplicate.
fn requests(n: usize) -> Vec<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/testdata/captures/delivery-order.created.body"
    );
    let raw = std::fs::read(path).expect("capture");
    let mut v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    (0..n)
        .map(|i| {
            v["id"] = serde_json::json!(1_000_000 + i);
            let body = v.to_string();
            let sig = mlc_core::webhook::sign(body.as_bytes(), SECRET);
            format!(
                "POST /webhooks/woocommerce HTTP/1.0\r\nHost: bench\r\nConnection: close\r\n\
                 Content-Type: application/json\r\nX-WC-Webhook-Topic: order.updated\r\n\
                 X-WC-Webhook-Resource: order\r\nX-WC-Webhook-Event: updated\r\n\
                 X-WC-Webhook-ID: 7\r\nX-WC-Webhook-Delivery-ID: 0123456789abcdef0123456789abcdef\r\n\
                 X-WC-Webhook-Signature: {sig}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        })
        .collect()
}

struct Run {
    done: usize,
    secs: f64,
    latencies_us: Vec<u64>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.done as f64 / self.secs
    }
    fn pct(&self, p: f64) -> f64 {
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// `senders` threads send deliveries for `secs` seconds; every answer must be 200.
fn load(addr: SocketAddr, senders: usize, secs: f64, reqs: &Arc<Vec<Vec<u8>>>) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..senders)
        .map(|_| {
            let (next, stop, reqs) = (Arc::clone(&next), Arc::clone(&stop), Arc::clone(reqs));
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut buf = Vec::with_capacity(512);
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(req) = reqs.get(i) else { break };
                    let t = Instant::now();
                    let mut s = TcpStream::connect(addr).expect("connect");
                    s.set_nodelay(true).expect("nodelay");
                    s.write_all(req).expect("send");
                    buf.clear();
                    s.read_to_end(&mut buf).expect("answer");
                    lat.push(t.elapsed().as_micros() as u64);
                    assert!(
                        buf.starts_with(b"HTTP/1.0 200") || buf.starts_with(b"HTTP/1.1 200"),
                        "{}",
                        String::from_utf8_lossy(&buf)
                    );
                }
                lat
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("sender"))
        .collect();
    let secs = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    Run {
        done: latencies_us.len(),
        secs,
        latencies_us,
    }
}

/// tiny_http as it comes, 16 threads answering 200 with nothing.
fn bare_server() -> (SocketAddr, Arc<tiny_http::Server>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
    let addr = server.server_addr().to_ip().expect("ip");
    for _ in 0..16 {
        let s = Arc::clone(&server);
        std::thread::spawn(move || {
            while let Ok(req) = s.recv() {
                let _ = req.respond(tiny_http::Response::empty(200));
            }
        });
    }
    (addr, server)
}

/// The host's intake: the same pieces and route as `ml-connector serve`, without the workers.
fn intake_server(dir: &std::path::Path) -> (HttpServer, Arc<Store>) {
    let store = Arc::new(Store::open(dir).expect("store"));
    let (core, _) = CoreRuntime::embedded(Some(&dir.join("cache"))).expect("core");
    let intake = Arc::new(Intake {
        store: Arc::clone(&store),
        core: Arc::new(core),
        secret: Arc::new(ml_connector::webhook_secret::WebhookSecrets::new(
            Secret::new(SECRET.to_string()),
            Secret::default(),
        )),
        max_body: 4 << 20,
        pipeline: None,
    });
    let handler = Arc::new(move |req: &mut tiny_http::Request| -> Answer {
        let headers = headers_of(req);
        let declared = req.body_length();
        let mut body = DeadlineReader::new(req.as_reader(), BODY_DEADLINE);
        match intake.read_body(declared, &mut body) {
            Ok(body) => intake.deliver(&headers, &body),
            Err(a) => a,
        }
    });
    let http = HttpServer::start("127.0.0.1:0".parse().expect("addr"), 16, handler).expect("http");
    (http, store)
}

/// The disk's floor: write 4 KiB and fsync, 300 times, in the data directory.
fn fsync_floor(dir: &std::path::Path) -> (f64, f64) {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).expect("probe");
    let mut lat: Vec<f64> = (0..300)
        .map(|_| {
            let t = Instant::now();
            f.write_all(&[0u8; 4096]).expect("write");
            f.sync_all().expect("fsync");
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let _ = std::fs::remove_file(&path);
    lat.sort_by(f64::total_cmp);
    (lat[150], lat[297])
}

fn main() {
    let secs: f64 = std::env::var("MLC_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let dir = std::env::temp_dir().join(format!("mlc-bench-intake-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (f50, f99) = fsync_floor(&dir);
    println!("fsync of 4 KiB in the data directory: p50 {f50:.2} ms, p99 {f99:.2} ms\n");
    let (bare_addr, _bare) = bare_server();
    let (http, store) = intake_server(&dir);
    let reqs = Arc::new(requests(400_000));
    println!(
        "| senders | bare tiny_http deliveries/s | bare p50 ms | bare p99 ms | intake deliveries/s | intake p50 ms | intake p99 ms | intake / bare |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut offset = 0;
    for senders in [1usize, 8, 64] {
        let bare = load(bare_addr, senders, secs, &reqs);
        // Fresh requests for the intake (the bare server stored nothing, ids may repeat there).
        let slice: Arc<Vec<Vec<u8>>> = Arc::new(reqs[offset..].to_vec());
        let before = store.inbox_count().expect("count");
        let intake = load(http.addr(), senders, secs, &slice);
        offset += intake.done;
        let stored = store.inbox_count().expect("count") - before;
        assert_eq!(
            stored as usize, intake.done,
            "acknowledged deliveries missing from the inbox"
        );
        println!(
            "| {senders} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} |",
            bare.rate(),
            bare.pct(0.5),
            bare.pct(0.99),
            intake.rate(),
            intake.pct(0.5),
            intake.pct(0.99),
            intake.rate() / bare.rate()
        );
    }
    http.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

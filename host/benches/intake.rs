//! Benchmark: signed webhook deliveries per second and acknowledgement latency through the real
//! intake (the host's HTTP server and route, the signature checked and the body classified by
//! the core's own functions, SQLite WAL with `synchronous=FULL`, committed before the 200),
//! against a bare tiny_http server answering 200 doing nothing, in the same process and run; and forged
//! deliveries (a well-formed signature made with another secret), which must cost less.
//!
//! Run: `cargo bench -p ml-connector --bench intake`. Settings (environment):
//! - `MLC_BENCH_SECS` (default 5): seconds per case;
//! - `MLC_BENCH_SENDERS` (default `1,8,64`): sender counts;
//! - `MLC_BENCH_CASES` (default `bare,intake,forged`): which servers, e.g. `intake` alone while
//!   profiling;
//! - `MLC_BENCH_REQUESTS`: deliveries prepared per case (default: enough for 20,000/s).
//!
//! Senders connect per delivery and send HTTP/1.0 with `Connection: close`, as WordPress does.
//! Every delivery is a distinct order (the captured WooCommerce 10 `order.created` body, its own
//! bytes, with the order id replaced). Not a test: nothing is asserted on time; every answer
//! must be the expected status (200, or 401 for forged ones), every acknowledged delivery must
//! be in the inbox afterwards and no forged one, or the run fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ml_connector::config::Secret;
use ml_connector::http::intake::{Answer, Intake};
use ml_connector::http::server::{BODY_DEADLINE, DeadlineReader, HttpServer, WORKERS, headers_of};
use ml_connector::store::Store;

const SECRET: &str = "bench-s3cret";

/// One prepared request per delivery, order ids from `first`: none is a duplicate. `secret`
/// signs them (another secret makes forged deliveries).
fn requests(first: usize, n: usize, secret: &str) -> Vec<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/testdata/captures/delivery-order.created.body"
    );
    let raw = String::from_utf8(std::fs::read(path).expect("capture")).expect("utf-8");
    // The capture's own bytes (PHP's escaping), only the id and number changed.
    let template = raw
        .strip_prefix(r#"{"id":39,"#)
        .expect("the capture starts with its id")
        .replacen(r#""number":"39""#, r#""number":"{ID}""#, 1);
    (first..first + n)
        .map(|id| {
            let body = format!(
                r#"{{"id":{id},{}"#,
                template.replace("{ID}", &id.to_string())
            );
            let sig = mlc_core::webhook::sign(body.as_bytes(), secret);
            format!(
                "POST /webhooks/woocommerce HTTP/1.0\r\nHost: bench\r\nConnection: close\r\n\
                 User-Agent: WooCommerce/10.0.2 Hookshot (WordPress/6.8.1)\r\n\
                 Content-Type: application/json\r\nX-WC-Webhook-Source: https://shop.example/\r\n\
                 X-WC-Webhook-Topic: order.created\r\nX-WC-Webhook-Resource: order\r\n\
                 X-WC-Webhook-Event: created\r\nX-WC-Webhook-ID: 7\r\n\
                 X-WC-Webhook-Delivery-ID: 0123456789abcdef0123456789abcdef\r\n\
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

/// `senders` threads send `reqs` in turn for `secs` seconds (or until they run out; `wrap`:
/// from the start again, for servers that store nothing); every answer must have status
/// `expect`.
fn load(
    addr: SocketAddr,
    senders: usize,
    secs: f64,
    reqs: &Arc<Vec<Vec<u8>>>,
    wrap: bool,
    expect: &'static str,
) -> Run {
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
                    let mut i = next.fetch_add(1, Ordering::Relaxed);
                    if wrap {
                        i %= reqs.len();
                    }
                    let Some(req) = reqs.get(i) else { break };
                    let t = Instant::now();
                    let mut s = TcpStream::connect(addr).expect("connect");
                    s.set_nodelay(true).expect("nodelay");
                    s.write_all(req).expect("send");
                    buf.clear();
                    s.read_to_end(&mut buf).expect("answer");
                    lat.push(t.elapsed().as_micros() as u64);
                    let status = buf.get(9..12).unwrap_or_default();
                    assert!(
                        buf.starts_with(b"HTTP/1.") && status == expect.as_bytes(),
                        "expected {expect}: {}",
                        String::from_utf8_lossy(&buf)
                    );
                }
                lat
            })
        })
        .collect();
    let deadline = started + Duration::from_secs_f64(secs);
    while Instant::now() < deadline && !threads.iter().all(|t| t.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("sender"))
        .collect();
    let secs = started.elapsed().as_secs_f64();
    if !wrap && next.load(Ordering::Relaxed) > reqs.len() {
        eprintln!("(ran out of prepared requests: raise the count in main)");
    }
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
    let intake = Arc::new(Intake {
        store: Arc::clone(&store),
        secret: Arc::new(ml_connector::http::webhook_secret::WebhookSecrets::new(
            Secret::new(SECRET.to_string()),
            Secret::default(),
        )),
        max_body: 4 << 20,
        pipeline: None,
        customer_updates: false,
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
    let http =
        HttpServer::start("127.0.0.1:0".parse().expect("addr"), WORKERS, handler).expect("http");
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

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn cell(run: Option<&Run>) -> String {
    match run {
        Some(r) => format!("{:.0} | {:.2} | {:.2}", r.rate(), r.pct(0.5), r.pct(0.99)),
        None => "– | – | –".into(),
    }
}

fn main() {
    let secs: f64 = std::env::var("MLC_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let senders: Vec<usize> = env_list("MLC_BENCH_SENDERS", "1,8,64")
        .iter()
        .map(|s| s.parse().expect("MLC_BENCH_SENDERS: numbers"))
        .collect();
    let cases = env_list("MLC_BENCH_CASES", "bare,intake,forged");
    let has = |c: &str| cases.iter().any(|x| x == c);
    let dir = std::env::temp_dir().join(format!("mlc-bench-intake-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (f50, f99) = fsync_floor(&dir);
    println!("fsync of 4 KiB in the data directory: p50 {f50:.2} ms, p99 {f99:.2} ms\n");
    let (bare_addr, _bare) = bare_server();
    let (http, store) = intake_server(&dir);
    // Enough for 20,000 stored deliveries/s per case (`MLC_BENCH_REQUESTS` for fewer, under
    // valgrind); `load` says if they ran out.
    let per_case = std::env::var("MLC_BENCH_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or((20_000.0 * secs) as usize);
    let valid: Vec<Arc<Vec<Vec<u8>>>> = (0..senders.len())
        .map(|i| Arc::new(requests(1_000_000 + i * per_case, per_case, SECRET)))
        .collect();
    let forged = Arc::new(requests(1, per_case.min(10_000), "not-the-secret"));
    println!(
        "| senders | bare deliveries/s | bare p50 ms | bare p99 ms | intake deliveries/s | intake p50 ms | intake p99 ms | intake / bare | forged rejected/s | forged p50 ms | forged p99 ms | forged / bare |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, &n) in senders.iter().enumerate() {
        // The bare server stores nothing: the same requests do for it.
        let bare = has("bare").then(|| load(bare_addr, n, secs, &valid[i], true, "200"));
        let intake = has("intake").then(|| {
            let before = store.inbox_count().expect("count");
            let run = load(http.addr(), n, secs, &valid[i], false, "200");
            let stored = store.inbox_count().expect("count") - before;
            assert_eq!(
                stored as usize, run.done,
                "acknowledged deliveries missing from the inbox"
            );
            run
        });
        let rejected = has("forged").then(|| {
            let before = store.inbox_count().expect("count");
            let run = load(http.addr(), n, secs, &forged, true, "401");
            assert_eq!(
                store.inbox_count().expect("count"),
                before,
                "a forged delivery was stored"
            );
            run
        });
        let ratio = |r: &Option<Run>| match (r, &bare) {
            (Some(r), Some(b)) => format!("{:.2}", r.rate() / b.rate()),
            _ => "–".into(),
        };
        println!(
            "| {n} | {} | {} | {} | {} | {} |",
            cell(bare.as_ref()),
            cell(intake.as_ref()),
            ratio(&intake),
            cell(rejected.as_ref()),
            ratio(&rejected),
        );
    }
    http.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

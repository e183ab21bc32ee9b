//! The host's HTTP server: tiny_http (patched, `host/vendor/tiny_http/PATCHED.md`), one routing
//! function.
//!
//! Slow and hostile clients (docs/hostile-input.md): every socket has a read and write timeout
//! ([`SOCKET_TIMEOUT`]); a request head must arrive within [`HEAD_DEADLINE`] (tiny_http's
//! connection thread enforces it, before a request reaches us); a webhook body must arrive within
//! [`BODY_DEADLINE`] ([`DeadlineReader`]). A few threads take requests from tiny_http and hand
//! each to a thread of its own, so a client trickling its body holds that thread only, never the
//! ones other deliveries need; past [`MAX_IN_FLIGHT`] requests at once, the taking thread
//! answers the request itself (back-pressure, still bounded by the deadlines).

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use crate::intake::Answer;

pub type Handler = dyn Fn(&mut tiny_http::Request) -> Answer + Send + Sync;

/// Read and write timeout of every client socket: a client silent this long is disconnected
/// (also an idle keep-alive connection).
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(20);
/// Time from a request head's first byte to its end (request line and headers).
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// Time to receive a webhook body, from when its handler starts reading it.
pub const BODY_DEADLINE: Duration = Duration::from_secs(30);
/// Requests handled at once on threads of their own.
pub const MAX_IN_FLIGHT: usize = 256;

fn limits() -> tiny_http::Limits {
    tiny_http::Limits {
        socket_timeout: SOCKET_TIMEOUT,
        head_deadline: HEAD_DEADLINE,
        max_line: 16 * 1024,
        max_headers: 128,
    }
}

/// A reader that fails with `TimedOut` once its deadline has passed. Each read of a socket
/// returns within [`SOCKET_TIMEOUT`], so a body is given up at most that long after the deadline.
pub struct DeadlineReader<'a> {
    inner: &'a mut dyn Read,
    deadline: Instant,
}

impl<'a> DeadlineReader<'a> {
    pub fn new(inner: &'a mut dyn Read, limit: Duration) -> DeadlineReader<'a> {
        DeadlineReader {
            inner,
            deadline: Instant::now() + limit,
        }
    }
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if Instant::now() > self.deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the body took too long to arrive",
            ));
        }
        self.inner.read(buf)
    }
}

pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    in_flight: Arc<AtomicUsize>,
}

impl HttpServer {
    pub fn start(listen: SocketAddr, threads: usize, handler: Arc<Handler>) -> Result<HttpServer> {
        let server = tiny_http::Server::http_with_limits(listen, limits())
            .map_err(|e| anyhow!("listening on {listen}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow!("listening on {listen}: no IP address"))?;
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let workers = (0..threads.max(1))
            .map(|_| {
                let server = Arc::clone(&server);
                let handler = Arc::clone(&handler);
                let stopping = Arc::clone(&stopping);
                let in_flight = Arc::clone(&in_flight);
                std::thread::spawn(move || {
                    while !stopping.load(Ordering::SeqCst) {
                        let Ok(req) = server.recv() else { break };
                        dispatch(req, &handler, &in_flight);
                    }
                })
            })
            .collect();
        Ok(HttpServer {
            server,
            addr,
            stopping,
            workers,
            in_flight,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests; requests being answered finish first.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        // Requests on threads of their own finish too (their deadlines bound the wait).
        let limit = Instant::now() + HEAD_DEADLINE + BODY_DEADLINE + SOCKET_TIMEOUT;
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// One request counted in flight until dropped (also if its handler panicked).
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers `req` on a thread of its own, or on this one past [`MAX_IN_FLIGHT`].
fn dispatch(mut req: tiny_http::Request, handler: &Arc<Handler>, in_flight: &Arc<AtomicUsize>) {
    if in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
        in_flight.fetch_sub(1, Ordering::SeqCst);
        let answer = handler(&mut req);
        let _ = req.respond(to_response(answer));
        return;
    }
    let handler = Arc::clone(handler);
    let counter = InFlight(Arc::clone(in_flight));
    let spawned = std::thread::Builder::new()
        .name("http-request".into())
        .spawn(move || {
            let _counted = counter;
            let answer = handler(&mut req);
            let _ = req.respond(to_response(answer));
        });
    if let Err(e) = spawned {
        // The request and the count went down with the closure: tiny_http answers a dropped
        // request 500.
        warn!("could not start a thread for a request: {e}");
    }
}

fn to_response(a: Answer) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut r = tiny_http::Response::from_data(a.body).with_status_code(a.status);
    if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", a.content_type) {
        r.add_header(h);
    }
    for (k, v) in a.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            r.add_header(h);
        }
    }
    r
}

/// The request's headers as (name, value) pairs.
pub fn headers_of(req: &tiny_http::Request) -> Vec<(String, String)> {
    req.headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_string(),
                h.value.as_str().to_string(),
            )
        })
        .collect()
}

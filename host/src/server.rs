//! The host's HTTP server: tiny_http on a pool of threads, one routing function.
//!
//! A pool, not a thread per request: the number of requests handled at once is bounded, and a
//! slow client holds one thread, not the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::{Result, anyhow};

use crate::intake::Answer;

pub type Handler = dyn Fn(&mut tiny_http::Request) -> Answer + Send + Sync;

pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl HttpServer {
    pub fn start(listen: SocketAddr, threads: usize, handler: Arc<Handler>) -> Result<HttpServer> {
        let server =
            tiny_http::Server::http(listen).map_err(|e| anyhow!("listening on {listen}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow!("listening on {listen}: no IP address"))?;
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let workers = (0..threads.max(1))
            .map(|_| {
                let server = Arc::clone(&server);
                let handler = Arc::clone(&handler);
                let stopping = Arc::clone(&stopping);
                std::thread::spawn(move || {
                    while !stopping.load(Ordering::SeqCst) {
                        let Ok(mut req) = server.recv() else { break };
                        let answer = handler(&mut req);
                        let _ = req.respond(to_response(answer));
                    }
                })
            })
            .collect();
        Ok(HttpServer {
            server,
            addr,
            stopping,
            workers,
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
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
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

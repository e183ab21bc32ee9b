//! The small HTTP layer both simulators share: a tiny_http server bound to 127.0.0.1 with a pool of
//! worker threads (so one stalled request — a simulated hang — never blocks the others), and a
//! request type with the method, path, decoded query, headers and raw body already read.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// Largest body a simulator reads; larger requests get 413 (real servers have limits too).
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// One request, fully read.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path without the query string, percent-decoded.
    pub path: String,
    /// The raw query string (after `?`), undecoded.
    pub raw_query: String,
    /// Query parameters in order, decoded (`+` is a space, as PHP and SData clients send it).
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote: Option<SocketAddr>,
}

impl Request {
    /// First value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a query parameter (also `name[]` forms, as WordPress accepts arrays).
    pub fn params(&self, name: &str) -> Vec<&str> {
        let arr = format!("{name}[]");
        self.query
            .iter()
            .filter(|(k, _)| k == name || *k == arr)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, or a message saying why it is not.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("invalid JSON body: {e}"))
    }

    /// The body parsed as a form (`application/x-www-form-urlencoded`).
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

/// A response to send.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON response (serialised compactly).
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response::new(status)
            .header("Content-Type", "application/json; charset=UTF-8")
            .body(serde_json::to_vec(value).unwrap_or_default())
    }

    /// A plain-text response.
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(text.into().into_bytes())
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
}

/// What a handler decides for a request.
pub enum Reply {
    /// Answer now.
    Send(Response),
    /// Never answer: hold the connection open until the client gives up or the server stops
    /// (used for "commit then time out" and hangs).
    Hang,
}

impl From<Response> for Reply {
    fn from(r: Response) -> Self {
        Reply::Send(r)
    }
}

/// A running server; dropping it (or calling `stop`) stops accepting and joins the workers.
pub struct Server {
    inner: Arc<tiny_http::Server>,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    /// The listening socket, to stop listening at once (see `shutdown`).
    closer: std::net::TcpListener,
}

impl Server {
    /// Bind `127.0.0.1:port` (0 = any free port) and serve `handler` on `threads` workers.
    pub fn start<H>(port: u16, threads: usize, handler: H) -> std::io::Result<Server>
    where
        H: Fn(Request) -> Reply + Send + Sync + 'static,
    {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let closer = listener.try_clone()?;
        let inner = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let addr = inner
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("server has no IP address"))?;
        let inner = Arc::new(inner);
        let handler = Arc::new(handler);
        let stopping = Arc::new(AtomicBool::new(false));
        let workers = (0..threads.max(1))
            .map(|_| {
                let inner = Arc::clone(&inner);
                let handler = Arc::clone(&handler);
                let stopping = Arc::clone(&stopping);
                std::thread::spawn(move || worker(&inner, &*handler, &stopping))
            })
            .collect();
        Ok(Server {
            inner,
            addr,
            stopping,
            workers,
            closer,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Stop serving: no new requests are taken; requests being held by `Reply::Hang` are dropped.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Stop listening now. tiny_http closes its listener on its accept thread some time after
        // the server is dropped; until then a new connection was still accepted and then reset,
        // which is not what "X3 is down" looks like (connection refused). shutdown(2) on the
        // listening socket refuses new connections at once and makes the blocked accept() fail,
        // which ends tiny_http's accept thread.
        #[allow(unsafe_code)]
        // SAFETY: a valid socket descriptor we own (a clone of the listener).
        unsafe {
            libc::shutdown(self.closer.as_raw_fd(), libc::SHUT_RDWR);
        }
        for _ in 0..self.workers.len() {
            self.inner.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn worker<H>(server: &tiny_http::Server, handler: &H, stopping: &AtomicBool)
where
    H: Fn(Request) -> Reply,
{
    let mut held: Vec<tiny_http::Request> = Vec::new();
    while !stopping.load(Ordering::SeqCst) {
        let mut raw = match server.recv() {
            Ok(r) => r,
            Err(_) => break,
        };
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let req = match read_request(&mut raw) {
            Ok(r) => r,
            Err(resp) => {
                let _ = raw.respond(to_tiny(resp));
                continue;
            }
        };
        match handler(req) {
            Reply::Send(resp) => {
                let _ = raw.respond(to_tiny(resp));
            }
            // Keeping the request object keeps the socket open without an answer. Bounded so
            // a long fault run cannot exhaust file descriptors.
            Reply::Hang => {
                held.push(raw);
                if held.len() > 64 {
                    held.remove(0);
                }
            }
        }
    }
}

fn read_request(raw: &mut tiny_http::Request) -> Result<Request, Response> {
    let url = raw.url().to_string();
    let (path, raw_query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (url.clone(), String::new()),
    };
    let path = percent_decode(&path);
    let query = form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let headers = raw
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let mut reader = raw.as_reader().take(MAX_BODY as u64 + 1);
    if reader.read_to_end(&mut body).is_err() {
        return Err(Response::text(400, "could not read request body"));
    }
    if body.len() > MAX_BODY {
        return Err(Response::text(413, "request body too large"));
    }
    Ok(Request {
        method: raw.method().as_str().to_ascii_uppercase(),
        path,
        raw_query,
        query,
        headers,
        body,
        remote: raw.remote_addr().copied(),
    })
}

fn to_tiny(resp: Response) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut out = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
    for (name, value) in resp.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            out.add_header(h);
        }
    }
    out
}

/// Decode `%XX` sequences in a path (a `+` stays a `+` in paths).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse query parameters into a map (last value wins), for handlers that want one value each.
pub fn query_map(req: &Request) -> BTreeMap<String, String> {
    req.query.iter().cloned().collect()
}

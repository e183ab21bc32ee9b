//! The host's HTTP server: one thread watches every connection, a fixed pool of threads answers
//! complete requests.
//!
//! The watching thread (epoll, through rustix's safe wrappers) accepts connections and reads
//! them without blocking until a request's head and, for a body of up to [`BUFFERED_BODY`], its
//! whole body have arrived; only then is the request handed to a worker. So a slow or silent
//! client holds a buffer, never a thread, and a connection flood costs at most
//! [`MAX_CONNECTIONS`] buffers (past that, connections wait in the kernel's backlog). Workers
//! (a fixed number, no thread per connection or per request) run the routes on tiny_http's
//! `Request` and `Response` types (`tiny_http::Request::from_parts`, patched tiny_http:
//! `host/vendor/tiny_http/PATCHED.md`) and give a kept-alive connection back to the watcher.
//!
//! Slow and hostile clients (docs/hostile-input.md): a connection silent for [`SOCKET_TIMEOUT`]
//! is closed; a request head must arrive within [`HEAD_DEADLINE`] of its first byte (else 408);
//! a body within [`BODY_DEADLINE`] of its head (else the route is given what came, then a
//! timeout, and answers 408). Lines are at most 16 KiB, heads at most 128 headers and 64 KiB. What the
//! watcher does not buffer — a chunked body, `Expect: 100-continue`, a body declared larger
//! than [`BUFFERED_BODY`], or one past the [`BUFFER_BUDGET`] — a worker reads from the socket
//! with the same deadlines, and that connection is closed after its answer.

use std::collections::{HashMap, VecDeque};
use std::io::{BufWriter, Cursor, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustix::event::{EventfdFlags, Timespec, epoll};
use rustix::fd::OwnedFd;

use crate::http::intake::Answer;

pub type Handler = dyn Fn(&mut tiny_http::Request) -> Answer + Send + Sync;

/// Read and write timeout of every client socket: a client silent this long is disconnected
/// (also an idle keep-alive connection).
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(20);
/// Time from a request head's first byte to its end (request line and headers).
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// Time to receive a webhook body, from the end of its head.
pub const BODY_DEADLINE: Duration = Duration::from_secs(30);
/// Threads answering requests. Deliveries wait on a group commit in them, so this is also how
/// many deliveries one commit can take together.
pub const WORKERS: usize = 32;
/// Connections held at once; more wait in the kernel's listen backlog.
pub const MAX_CONNECTIONS: usize = 1024;
/// A body up to this size is read by the watcher before a worker sees the request (a
/// WooCommerce order of 500 lines is about 400 KB).
pub const BUFFERED_BODY: usize = 1 << 20;
/// Bytes of bodies buffered at once, over all connections.
pub const BUFFER_BUDGET: usize = 64 << 20;
const MAX_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 128;
/// A request head, all lines (WooCommerce's are about 1 KiB): with [`MAX_CONNECTIONS`], at
/// most 64 MiB of heads are held.
const MAX_HEAD: usize = 64 * 1024;
/// How often deadlines are looked at.
const SWEEP: Duration = Duration::from_millis(100);

const LISTENER: u64 = 0;
const WAKER: u64 = 1;

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
            return Err(timed_out());
        }
        self.inner.read(buf)
    }
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the body took too long to arrive",
    )
}

/// The rest of a body that did not arrive within [`BODY_DEADLINE`].
struct TimedOut;

impl Read for TimedOut {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(timed_out())
    }
}

/// A socket shared by a request's body reader and its response writer.
struct SharedStream(Arc<TcpStream>);

impl Read for SharedStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for SharedStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        (&*self.0).flush()
    }
}

/// A parsed request head.
struct Head {
    method: tiny_http::Method,
    path: String,
    version: tiny_http::HTTPVersion,
    headers: Vec<tiny_http::Header>,
    /// Bytes of the head, blank line included.
    len: usize,
    /// The declared length, when the watcher can buffer the body.
    buffered_body: Option<usize>,
    keep_alive: bool,
}

/// How a worker gets a request's body.
enum Body {
    /// All of it is in the buffer, after the head.
    Complete,
    /// What is in the buffer, then the socket.
    Streamed,
    /// What is in the buffer, then a timeout.
    TimedOut,
}

/// A request for a worker.
struct Job {
    stream: TcpStream,
    remote: Option<SocketAddr>,
    head: Head,
    buf: Vec<u8>,
    body: Body,
}

/// A connection the watcher holds.
struct Conn {
    stream: TcpStream,
    remote: Option<SocketAddr>,
    buf: Vec<u8>,
    /// Last time bytes arrived (or the connection was opened or given back).
    active: Instant,
    /// When the current head's first byte arrived.
    head_started: Option<Instant>,
    /// The head, once complete, and when it was.
    head: Option<(Head, Instant)>,
    /// Where to look for the end of the head next.
    scanned: usize,
    /// Bytes of this connection's body counted in the budget.
    budgeted: usize,
}

/// A connection given back after its answer: the socket, its peer, bytes already read.
type KeptAlive = (TcpStream, Option<SocketAddr>, Vec<u8>);

/// What the workers share with the watcher.
struct Pool {
    jobs: Mutex<VecDeque<Job>>,
    job_ready: Condvar,
    /// Kept-alive connections given back by workers (with bytes already read past the request).
    returned: Mutex<Vec<KeptAlive>>,
    /// An eventfd the watcher waits on beside the sockets.
    waker: OwnedFd,
    stopping: AtomicBool,
}

impl Pool {
    fn wake(&self) {
        let _ = rustix::io::write(&self.waker, &1u64.to_ne_bytes());
    }
}

pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Pool>,
    watcher: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl HttpServer {
    /// Listens on `listen`, answers with `handler` on `threads` worker threads.
    pub fn start(listen: SocketAddr, threads: usize, handler: Arc<Handler>) -> Result<HttpServer> {
        let listener =
            TcpListener::bind(listen).with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let waker = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
            .context("eventfd")?;
        let shared = Arc::new(Pool {
            jobs: Mutex::new(VecDeque::new()),
            job_ready: Condvar::new(),
            returned: Mutex::new(Vec::new()),
            waker,
            stopping: AtomicBool::new(false),
        });
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).context("epoll")?;
        epoll::add(
            &epoll,
            &listener,
            epoll::EventData::new_u64(LISTENER),
            epoll::EventFlags::IN,
        )?;
        epoll::add(
            &epoll,
            &shared.waker,
            epoll::EventData::new_u64(WAKER),
            epoll::EventFlags::IN,
        )?;
        let watcher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("http-watch".into())
                .spawn(move || Watcher::new(epoll, listener, shared).run())?
        };
        let workers = (0..threads.max(1))
            .map(|_| {
                let shared = Arc::clone(&shared);
                let handler = Arc::clone(&handler);
                std::thread::Builder::new()
                    .name("http-worker".into())
                    .spawn(move || work(&shared, &handler))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(HttpServer {
            addr,
            shared,
            watcher: Some(watcher),
            workers,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests; requests already complete are answered first.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake();
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
        self.shared.job_ready.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if self.watcher.is_some() {
            self.shutdown();
        }
    }
}

struct Watcher {
    epoll: OwnedFd,
    listener: TcpListener,
    shared: Arc<Pool>,
    conns: HashMap<u64, Conn>,
    next_token: u64,
    accepting: bool,
    budget_used: usize,
    last_sweep: Instant,
}

impl Watcher {
    fn new(epoll: OwnedFd, listener: TcpListener, shared: Arc<Pool>) -> Watcher {
        Watcher {
            epoll,
            listener,
            shared,
            conns: HashMap::new(),
            next_token: 2,
            accepting: true,
            budget_used: 0,
            last_sweep: Instant::now(),
        }
    }

    fn run(mut self) {
        let mut events = Vec::with_capacity(256);
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: i64::try_from(SWEEP.as_nanos()).unwrap_or(100_000_000),
        };
        let mut chunk = vec![0u8; 64 * 1024];
        while !self.shared.stopping.load(Ordering::SeqCst) {
            events.clear();
            if let Err(e) = epoll::wait(
                &self.epoll,
                rustix::buffer::spare_capacity(&mut events),
                Some(&timeout),
            ) {
                if e != rustix::io::Errno::INTR {
                    warn!("http: waiting for connections failed: {e}");
                    std::thread::sleep(SWEEP);
                }
                continue;
            }
            for ev in &events {
                let data = ev.data;
                match data.u64() {
                    LISTENER => self.accept(),
                    WAKER => self.take_returned(),
                    token => self.readable(token, &mut chunk),
                }
            }
            if self.last_sweep.elapsed() >= SWEEP {
                self.sweep();
            }
        }
        // Stopping: connections without a complete request are closed.
    }

    fn register(&mut self, stream: TcpStream, remote: Option<SocketAddr>, buf: Vec<u8>) {
        let token = self.next_token;
        self.next_token += 1;
        if let Err(e) = epoll::add(
            &self.epoll,
            &stream,
            epoll::EventData::new_u64(token),
            epoll::EventFlags::IN | epoll::EventFlags::RDHUP,
        ) {
            warn!("http: cannot watch a connection: {e}");
            return;
        }
        let now = Instant::now();
        let pending = !buf.is_empty();
        self.conns.insert(
            token,
            Conn {
                stream,
                remote,
                head_started: pending.then_some(now),
                buf,
                active: now,
                head: None,
                scanned: 0,
                budgeted: 0,
            },
        );
        if pending {
            self.advance(token);
        }
    }

    fn accept(&mut self) {
        while self.conns.len() < MAX_CONNECTIONS {
            match self.listener.accept() {
                Ok((stream, remote)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    // Answers over one segment without waiting for a delayed ACK (PATCHED.md).
                    let _ = stream.set_nodelay(true);
                    self.register(stream, Some(remote), Vec::new());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // stop taking connections until the next sweep rather than spin.
                    warn!("http: accepting a connection failed: {e}");
                    self.pause_accepting();
                    return;
                }
            }
        }
        self.pause_accepting();
    }

    fn pause_accepting(&mut self) {
        if self.accepting {
            self.accepting = false;
            let _ = epoll::modify(
                &self.epoll,
                &self.listener,
                epoll::EventData::new_u64(LISTENER),
                epoll::EventFlags::empty(),
            );
        }
    }

    fn resume_accepting(&mut self) {
        if !self.accepting && self.conns.len() < MAX_CONNECTIONS {
            self.accepting = true;
            let _ = epoll::modify(
                &self.epoll,
                &self.listener,
                epoll::EventData::new_u64(LISTENER),
                epoll::EventFlags::IN,
            );
        }
    }

    fn take_returned(&mut self) {
        let mut counter = [0u8; 8];
        let _ = rustix::io::read(&self.shared.waker, &mut counter);
        let returned = std::mem::take(&mut *lock(&self.shared.returned));
        for (stream, remote, buf) in returned {
            self.register(stream, remote, buf);
        }
    }

    fn readable(&mut self, token: u64, chunk: &mut [u8]) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        loop {
            match (&conn.stream).read(chunk) {
                Ok(0) => {
                    // The client hung up (or half-closed) before a complete request.
                    self.close(token);
                    return;
                }
                Ok(n) => {
                    conn.active = Instant::now();
                    conn.head_started.get_or_insert(conn.active);
                    conn.buf.extend_from_slice(&chunk[..n]);
                    // Enough for a decision; the rest stays in the socket until then.
                    if n < chunk.len() || conn.buf.len() > BUFFERED_BODY + MAX_LINE {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(token);
                    return;
                }
            }
        }
        self.advance(token);
    }

    /// Looks at what a connection has sent: a complete request goes to a worker.
    fn advance(&mut self, token: u64) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if conn.head.is_none() {
            let from = conn.scanned.saturating_sub(3);
            match find_head_end(&conn.buf[from..]) {
                Some(end) if from + end > MAX_HEAD => {
                    self.refuse(token, 400);
                    return;
                }
                Some(end) => match parse_head(&conn.buf[..from + end]) {
                    Ok(head) => conn.head = Some((head, Instant::now())),
                    Err(refusal) => {
                        let status = refusal.status();
                        self.refuse(token, status);
                        return;
                    }
                },
                None => {
                    conn.scanned = conn.buf.len();
                    // No blank line yet: a line or a head beyond the limits is refused.
                    let last_line = conn
                        .buf
                        .rsplit(|b| *b == b'\n')
                        .next()
                        .map_or(0, <[u8]>::len);
                    if last_line > MAX_LINE || conn.buf.len() > MAX_HEAD {
                        self.close(token);
                    }
                    return;
                }
            }
        }
        let Some((head, _)) = &conn.head else { return };
        let arrived = conn.buf.len() - head.len;
        let body = match head.buffered_body {
            Some(n) if arrived >= n => Body::Complete,
            Some(n) => {
                let more = n - conn.budgeted;
                if conn.budgeted == 0 && self.budget_used + more > BUFFER_BUDGET {
                    Body::Streamed
                } else {
                    self.budget_used += more;
                    conn.budgeted += more;
                    return;
                }
            }
            None => Body::Streamed,
        };
        self.dispatch(token, body);
    }

    /// Hands a connection's request to a worker.
    fn dispatch(&mut self, token: u64, body: Body) {
        let Some(conn) = self.conns.remove(&token) else {
            return;
        };
        self.budget_used -= conn.budgeted;
        let _ = epoll::delete(&self.epoll, &conn.stream);
        let Some((head, _)) = conn.head else { return };
        lock(&self.shared.jobs).push_back(Job {
            stream: conn.stream,
            remote: conn.remote,
            head,
            buf: conn.buf,
            body,
        });
        self.shared.job_ready.notify_one();
        self.resume_accepting();
    }

    /// Answers `status` with no body and closes (a head that cannot be parsed or took too long).
    fn refuse(&mut self, token: u64, status: u16) {
        if let Some(conn) = self.conns.get(&token) {
            let reason = match status {
                408 => "Request Timeout",
                505 => "HTTP Version Not Supported",
                _ => "Bad Request",
            };
            let answer = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            // A fresh socket's buffer takes this at once; if not, the client is not reading.
            let _ = (&conn.stream).write(answer.as_bytes());
        }
        self.close(token);
    }

    fn close(&mut self, token: u64) {
        if let Some(conn) = self.conns.remove(&token) {
            self.budget_used -= conn.budgeted;
            let _ = epoll::delete(&self.epoll, &conn.stream);
        }
        self.resume_accepting();
    }

    /// Deadlines: silent connections are closed, slow heads answered 408, slow bodies handed to
    /// the route with a timeout after what came.
    fn sweep(&mut self) {
        let now = Instant::now();
        self.last_sweep = now;
        let mut silent = Vec::new();
        let mut slow_heads = Vec::new();
        let mut slow_bodies = Vec::new();
        for (token, c) in &self.conns {
            match (&c.head, c.head_started) {
                (Some((_, at)), _) if now.duration_since(*at) > BODY_DEADLINE => {
                    slow_bodies.push(*token);
                }
                (Some(_), _) if now.duration_since(c.active) > SOCKET_TIMEOUT => {
                    slow_bodies.push(*token);
                }
                (None, Some(at)) if now.duration_since(at) > HEAD_DEADLINE => {
                    slow_heads.push(*token);
                }
                _ if now.duration_since(c.active) > SOCKET_TIMEOUT => silent.push(*token),
                _ => {}
            }
        }
        for t in silent {
            self.close(t);
        }
        for t in slow_heads {
            self.refuse(t, 408);
        }
        for t in slow_bodies {
            self.dispatch(t, Body::TimedOut);
        }
        self.resume_accepting();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing a panic could leave half-done is behind these locks (queues of owned values).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The offset just past the blank line ending a head, if it has arrived.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Why a head is refused.
enum Refusal {
    BadRequest,
    Version,
}

impl Refusal {
    fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest => 400,
            Refusal::Version => 505,
        }
    }
}

/// Parses a request head (request line, headers, blank line), as tiny_http does.
fn parse_head(bytes: &[u8]) -> Result<Head, Refusal> {
    let text = std::str::from_utf8(bytes).map_err(|_| Refusal::BadRequest)?;
    if !text.is_ascii() {
        return Err(Refusal::BadRequest);
    }
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").trim().split(' ');
    let method = request_line
        .next()
        .and_then(|m| tiny_http::Method::from_str(m).ok())
        .ok_or(Refusal::BadRequest)?;
    let path = request_line.next().ok_or(Refusal::BadRequest)?.to_string();
    let version = match request_line.next() {
        Some("HTTP/1.0") => tiny_http::HTTPVersion(1, 0),
        Some("HTTP/1.1") => tiny_http::HTTPVersion(1, 1),
        Some("HTTP/2.0" | "HTTP/3.0") => return Err(Refusal::Version),
        _ => return Err(Refusal::BadRequest),
    };
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        if headers.len() >= MAX_HEADERS || line.len() > MAX_LINE {
            return Err(Refusal::BadRequest);
        }
        headers.push(tiny_http::Header::from_str(line.trim()).map_err(|()| Refusal::BadRequest)?);
    }
    let get = |name: &'static str| {
        headers
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str())
    };
    // What tiny_http would read itself: chunked bodies and `Expect` (a 100 Continue is sent
    // only when the route reads the body).
    let buffered_body = if get("Transfer-Encoding").is_some() || get("Expect").is_some() {
        None
    } else {
        match get("Content-Length").map(|v| v.trim().parse::<usize>()) {
            None | Some(Err(_)) => Some(0),
            Some(Ok(n)) if n <= BUFFERED_BODY => Some(n),
            Some(Ok(_)) => None,
        }
    };
    // The connection's fate after this request, as tiny_http's own connection handling decides.
    let connection = get("Connection").map(str::to_ascii_lowercase);
    let keep_alive = match connection.as_deref() {
        Some(c) if c.contains("close") || c.contains("upgrade") => false,
        Some(c) => c.contains("keep-alive") || version == tiny_http::HTTPVersion(1, 1),
        None => version == tiny_http::HTTPVersion(1, 1),
    };
    Ok(Head {
        method,
        path,
        version,
        headers,
        len: bytes.len(),
        buffered_body,
        keep_alive,
    })
}

/// A worker: takes complete requests until the server stops and no request is left.
fn work(shared: &Pool, handler: &Arc<Handler>) {
    loop {
        let job = {
            let mut jobs = lock(&shared.jobs);
            loop {
                if let Some(job) = jobs.pop_front() {
                    break job;
                }
                if shared.stopping.load(Ordering::SeqCst) {
                    return;
                }
                jobs = shared
                    .job_ready
                    .wait_timeout(jobs, SWEEP)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
        };
        if let Some(back) = answer(job, handler)
            && !shared.stopping.load(Ordering::SeqCst)
        {
            lock(&shared.returned).push(back);
            shared.wake();
        }
    }
}

/// Answers one request; the connection, when it is kept alive.
fn answer(job: Job, handler: &Arc<Handler>) -> Option<KeptAlive> {
    let Job {
        stream,
        remote,
        head,
        mut buf,
        body,
    } = job;
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(SOCKET_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(SOCKET_TIMEOUT)).is_err()
    {
        return None;
    }
    let stream = Arc::new(stream);
    let keep = matches!(body, Body::Complete) && head.keep_alive;
    // Bytes past this request (a pipelined next one) stay with the connection.
    let rest = match body {
        Body::Complete => {
            buf.split_off((head.len + head.buffered_body.unwrap_or(0)).min(buf.len()))
        }
        _ => Vec::new(),
    };
    // The body is what follows the head.
    let mut arrived = Cursor::new(buf);
    arrived.set_position(head.len as u64);
    let source: Box<dyn Read + Send> = match body {
        Body::Complete => Box::new(arrived),
        Body::Streamed => Box::new(arrived.chain(SharedStream(Arc::clone(&stream)))),
        Body::TimedOut => Box::new(arrived.chain(TimedOut)),
    };
    let poison = Arc::new(AtomicBool::new(false));
    let writer = BufWriter::with_capacity(4096, SharedStream(Arc::clone(&stream)));
    let request = tiny_http::Request::from_parts(
        head.method,
        head.path,
        head.version,
        head.headers,
        remote,
        source,
        writer,
        Some(Arc::clone(&poison)),
    );
    let mut req = match request {
        Ok(r) => r,
        Err(e) => {
            let status = if e.kind() == std::io::ErrorKind::InvalidInput {
                417
            } else {
                400
            };
            let _ = (&*stream).write_all(
                format!("HTTP/1.1 {status} \r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            return None;
        }
    };
    let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&mut req)));
    let response = match answered {
        Ok(a) => to_response(a),
        Err(_) => {
            warn!("http: a request handler panicked; answered 500");
            to_response(Answer {
                status: 500,
                content_type: "text/plain",
                body: b"internal error".to_vec(),
                headers: Vec::new(),
            })
        }
    };
    let sent = req.respond(response).is_ok();
    if !(keep && sent) || poison.load(Ordering::SeqCst) {
        return None;
    }
    let stream = Arc::try_unwrap(stream).ok()?;
    stream.set_nonblocking(true).ok()?;
    Some((stream, remote, rest))
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

//! The host's HTTP server (`ml_connector::http::server`) on 127.0.0.1:0 with a small handler:
//! keep-alive and pipelined requests, bodies read before the handler runs, a connection flood
//! that adds no thread, and heads it refuses. One test per process matters for the flood (it
//! counts this process's threads), so they run one after the other from a single `#[test]`.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use ml_connector::http::intake::Answer;
use ml_connector::http::server::{HttpServer, MAX_CONNECTIONS};

/// Answers `<method> <path> <body length> <body>` as text (of a long body, its first and last
/// byte: a long answer would be chunked).
fn echo_server(workers: usize) -> HttpServer {
    let handler = Arc::new(|req: &mut tiny_http::Request| -> Answer {
        let mut body = Vec::new();
        req.as_reader().read_to_end(&mut body).unwrap();
        let shown = if body.len() > 64 {
            vec![body[0], body[body.len() - 1]]
        } else {
            body.clone()
        };
        Answer {
            status: 200,
            content_type: "text/plain",
            body: format!(
                "{} {} {} {}",
                req.method(),
                req.url(),
                body.len(),
                String::from_utf8_lossy(&shown)
            )
            .into_bytes(),
            headers: Vec::new(),
        }
    });
    HttpServer::start("127.0.0.1:0".parse().unwrap(), workers, handler).unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Reads one response with a Content-Length body; its status line and body.
fn read_response(s: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "connection closed mid-head");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (
        head.lines().next().unwrap().to_string(),
        String::from_utf8(body).unwrap(),
    )
}

fn threads_of_this_process() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn http_server() {
    keep_alive_and_pipelined_requests_are_answered_in_order();
    a_body_sent_in_pieces_reaches_the_handler_whole();
    heads_it_cannot_parse_are_refused_and_closed();
    a_connection_flood_adds_no_thread_and_a_delivery_still_gets_through();
}

fn keep_alive_and_pipelined_requests_are_answered_in_order() {
    let server = echo_server(4);
    let mut s = connect(server.addr());
    s.write_all(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .unwrap();
    assert_eq!(
        read_response(&mut s),
        ("HTTP/1.1 200 OK".into(), "POST /a 3 abc".into())
    );
    // Two at once on the same connection, the second without a body.
    s.write_all(
        b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut s).1, "POST /b 2 hi");
    assert_eq!(read_response(&mut s).1, "GET /c 0 ");
    // HTTP/1.0 without keep-alive: answered, then closed.
    let mut s = connect(server.addr());
    s.write_all(b"GET /d HTTP/1.0\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    assert!(
        all.starts_with("HTTP/1.0 200") && all.ends_with("GET /d 0 "),
        "{all}"
    );
    server.stop();
}

fn a_body_sent_in_pieces_reaches_the_handler_whole() {
    let server = echo_server(4);
    let mut s = connect(server.addr());
    let body = "x".repeat(200_000);
    let head = format!(
        "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    for piece in body.as_bytes().chunks(30_000) {
        std::thread::sleep(Duration::from_millis(20));
        s.write_all(piece).unwrap();
    }
    let (status, answer) = read_response(&mut s);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(answer, "POST /big 200000 xx");
    // A body larger than the watcher buffers is read by the handler from the socket.
    let big = format!(
        "a{}z",
        "y".repeat(ml_connector::http::server::BUFFERED_BODY + 10)
    );
    let mut s = connect(server.addr());
    s.write_all(
        format!(
            "POST /bigger HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let (_, answer) = read_response(&mut s);
    assert_eq!(answer, format!("POST /bigger {} az", big.len()));
    server.stop();
}

fn heads_it_cannot_parse_are_refused_and_closed() {
    let server = echo_server(2);
    for (request, want) in [
        (&b"NOT A REQUEST\r\n\r\n"[..], "HTTP/1.1 400"),
        (b"GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505"),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", "HTTP/1.1 400"),
        (b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n", "HTTP/1.1 400"),
    ] {
        let mut s = connect(server.addr());
        s.write_all(request).unwrap();
        let mut all = String::new();
        let _ = s.read_to_string(&mut all);
        assert!(all.starts_with(want), "{all}");
    }
    // 64 KiB of head at most, however it is split into lines.
    let mut s = connect(server.addr());
    let long: String = (0..20)
        .map(|i| format!("X-{i}: {}\r\n", "v".repeat(8000)))
        .collect();
    s.write_all(format!("GET / HTTP/1.1\r\n{long}\r\n").as_bytes())
        .unwrap();
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    assert!(all.is_empty() || all.starts_with("HTTP/1.1 400"), "{all}");
    let mut s = connect(server.addr());
    let too_many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    s.write_all(format!("GET / HTTP/1.1\r\n{too_many}\r\n").as_bytes())
        .unwrap();
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    assert!(all.starts_with("HTTP/1.1 400"), "{all}");
    server.stop();
}

fn a_connection_flood_adds_no_thread_and_a_delivery_still_gets_through() {
    let server = echo_server(8);
    let before = threads_of_this_process();
    // Hundreds of idle connections and of connections that sent half a head.
    let flood: Vec<TcpStream> = (0..MAX_CONNECTIONS / 2)
        .map(|i| {
            let mut s = TcpStream::connect(server.addr()).unwrap();
            if i % 2 == 0 {
                s.write_all(b"POST /webhooks/woocommerce HTTP/1.1\r\nHost: x\r\n")
                    .unwrap();
            }
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        threads_of_this_process(),
        before,
        "the server started threads for connections"
    );
    let mut s = connect(server.addr());
    s.write_all(b"POST /webhooks/woocommerce HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .unwrap();
    assert_eq!(read_response(&mut s).1, "POST /webhooks/woocommerce 2 {}");
    drop(flood);
    server.stop();
}

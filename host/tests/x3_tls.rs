//! TLS to X3 for real: an HTTPS server with a certificate from a private CA (made here with
//! rcgen), the X3 client with and without that CA (docs/hostile-input.md, "X3 faults").

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ml_connector::clients::x3::{ApiMode, X3Auth, X3Client, X3Error, X3Settings};

struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "ml-connector test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    }
}

/// An HTTPS server on 127.0.0.1 answering every request with an empty X3 resource list.
fn https_x3(server: Arc<rustls::ServerConfig>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let conn = rustls::ServerConnection::new(server).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut reader = BufReader::new(&mut tls);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    // A failed handshake (the client refused our certificate) ends here.
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let answer = r#"{"$itemsPerPage":1,"$resources":[]}"#;
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    format!("https://127.0.0.1:{}", addr.port())
}

fn settings(base_url: &str, ca_file: Option<PathBuf>) -> X3Settings {
    X3Settings {
        base_url: base_url.to_string(),
        folder: "SEED".into(),
        api: ApiMode::Rest,
        auth: X3Auth::Basic {
            user: "admin".into(),
            password: "tls-test-password".into(),
        },
        ca_file,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
    }
}

#[test]
fn a_private_ca_in_ca_file_is_trusted_and_an_unknown_one_is_refused_clearly() {
    let pki = pki();
    let url = https_x3(Arc::clone(&pki.server));
    let dir = std::env::temp_dir().join(format!("mlc-x3-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("internal-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();

    // With the CA: the request goes through.
    let x3 = X3Client::new(settings(&url, Some(ca))).unwrap();
    let reached = x3.ping().unwrap();
    assert!(!reached.contains("tls-test-password"), "{reached}");

    // Without it (the system's roots only): refused, and the error says what to do.
    let x3 = X3Client::new(settings(&url, None)).unwrap();
    let e = x3.ping().unwrap_err();
    let text = e.to_string();
    assert!(
        text.to_lowercase().contains("certificate") && text.contains("[x3] ca-file"),
        "{text} / {e:?}"
    );
    assert!(!text.contains("tls-test-password"), "{text}");
    assert!(!matches!(e, X3Error::Rejected { .. }), "{e:?}");

    // Another CA's certificate in ca_file: refused the same way.
    let other = pki_ca_only();
    let wrong = dir.join("other-ca.pem");
    std::fs::write(&wrong, other).unwrap();
    let x3 = X3Client::new(settings(&url, Some(wrong))).unwrap();
    let text = x3.ping().unwrap_err().to_string();
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn https_to_a_plain_http_server_says_so() {
    // A plain HTTP server where HTTPS was configured.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let x3 = X3Client::new(settings(&format!("https://127.0.0.1:{port}"), None)).unwrap();
    let text = x3.ping().unwrap_err().to_string();
    assert!(text.contains("TLS"), "{text}");
    assert!(!text.contains("tls-test-password"), "{text}");
}

fn pki_ca_only() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.self_signed(&key).unwrap().pem()
}

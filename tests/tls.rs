//! `brooklet server --tls-cert --tls-key`: the API over HTTPS, HTTP/1.1 or HTTP/2 by ALPN.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use tokio_rustls::rustls;

fn client(
    cert: &rustls::pki_types::CertificateDer<'static>,
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A server over TLS with a new self-signed certificate for `localhost` (written to
/// `cert.pem` in `dir`).
fn tls_server(
    dir: &std::path::Path,
) -> (
    common::http::Server,
    rcgen::CertifiedKey,
    std::path::PathBuf,
) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, generated.cert.pem()).unwrap();
    std::fs::write(&key_file, generated.key_pair.serialize_pem()).unwrap();
    let server = common::http::start_with(
        &dir.join("data"),
        &[
            "--tls-cert",
            cert_file.to_str().unwrap(),
            "--tls-key",
            key_file.to_str().unwrap(),
        ],
    );
    (server, generated, cert_file)
}

#[test]
fn the_api_is_served_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (server, generated, _) = tls_server(dir.path());
    let addr = server.addr.clone();
    let cert = generated.cert.der().clone();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

    // HTTP/1.1 by ALPN: a statement and its answer.
    let conn = rustls::ClientConnection::new(client(&cert, &[b"http/1.1"]), name.clone()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(&addr).unwrap());
    let body = r#"{"ksql": "SHOW STREAMS;"}"#;
    write!(
        tls,
        "POST /ksql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""@type":"streams""#), "{answer}");
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"http/1.1"[..]));

    // HTTP/2 is offered too.
    let conn = rustls::ClientConnection::new(client(&cert, &[b"h2", b"http/1.1"]), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(&addr).unwrap());
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    tls.flush().unwrap();
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"h2"[..]));
    let mut frame = [0u8; 9];
    tls.read_exact(&mut frame).unwrap();
    assert_eq!(frame[3], 4, "the server's first HTTP/2 frame is SETTINGS");

    // The clear-text protocol is not served on that port.
    let mut plain = TcpStream::connect(&addr).unwrap();
    write!(
        plain,
        "GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("KsqlServerInfo"));
    // Served over TLS only: the clear-text request above got no answer.
    drop(server);
}

/// `brooklet --server https://...`: the shell over TLS, trusting the server's CA given with
/// `--tls-ca`; without it, the unknown certificate is refused.
#[test]
fn the_remote_shell_speaks_https() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, cert_file) = tls_server(dir.path());
    let port = server.addr.rsplit(':').next().unwrap();
    let url = format!("https://localhost:{port}");
    let script = "CREATE STREAM over_tls (v STRING) WITH (KAFKA_TOPIC='t', PARTITIONS=1, VALUE_FORMAT='JSON');\nSHOW STREAMS;\n";
    let (ok, out, err) = common::shell(
        &["--server", &url, "--tls-ca", cert_file.to_str().unwrap()],
        script,
    );
    assert!(ok, "{err}");
    assert!(out.contains("OVER_TLS"), "{out}\n{err}");
    // Not trusted: the shell says why instead of talking in the clear.
    let (_, out, err) = common::shell(&["--server", &url], "SHOW STREAMS;\n");
    assert!(!out.contains("OVER_TLS"), "{out}");
    assert!(
        format!("{out}{err}").contains("TLS") || format!("{out}{err}").contains("certificate"),
        "{out}\n{err}"
    );
}

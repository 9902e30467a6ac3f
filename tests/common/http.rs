//! Driving `brooklet server` over plain sockets (HTTP/1.1).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// A server on a free port, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(data: &std::path::Path) -> Server {
    start_with(data, &[])
}

pub fn start_with(data: &std::path::Path, extra: &[&str]) -> Server {
    let mut child = Command::new(super::bin())
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "server",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // `http://ADDR`, or `https://ADDR` when serving TLS.
    let addr = line.trim().rsplit("://").next().unwrap().to_string();
    Server { child, addr }
}

/// Sends one request; the status code and the body (chunks joined). `accept` may carry
/// further header lines.
pub fn request(addr: &str, method: &str, path: &str, accept: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let accept = if accept.is_empty() {
        String::new()
    } else if accept.contains(':') {
        format!("{accept}\r\n")
    } else {
        format!("Accept: {accept}\r\n")
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Content-Type: application/vnd.ksql.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

pub fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

pub fn ksql(addr: &str, sql: &str) -> (u16, serde_json::Value) {
    ksql_with(addr, sql, serde_json::json!({}))
}

/// `ksql` with session properties (`streamsProperties`).
pub fn ksql_with(addr: &str, sql: &str, properties: serde_json::Value) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"ksql": sql, "streamsProperties": properties}).to_string();
    let (status, text) = request(addr, "POST", "/ksql", "", &body);
    (status, serde_json::from_str(&text).unwrap_or_default())
}

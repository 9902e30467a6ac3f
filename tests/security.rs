//! Attacks on `brooklet server` and `brooklet run`, each of which worked before it was closed:
//! files read and written through connectors, cross-site requests, password guessing, bodies,
//! statements and queries without limits, slow clients, statements that nest without end.
//! See docs/SECURITY.md.

mod common;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One raw HTTP/1.1 exchange: the status, the head (lower-cased) and the body.
fn raw(addr: &str, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    let head = head.to_ascii_lowercase();
    let body = if head.contains("transfer-encoding: chunked") {
        common::http::dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, head, body)
}

/// A POST with the given extra header lines (each ending in `\r\n`).
fn post(addr: &str, path: &str, headers: &str, body: &str) -> (u16, String, String) {
    raw(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// Waits (up to `secs`) until `done` holds; fails naming `what` if it never does.
fn eventually(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const JSON: &str = "Content-Type: application/vnd.ksql.v1+json\r\n";

fn ksql(addr: &str, sql: &str) -> (u16, Value) {
    let (status, _, body) = post(addr, "/ksql", JSON, &json!({ "ksql": sql }).to_string());
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_string()
}

fn property(name: &str, value: &str) -> String {
    format!("{name}={value}")
}

/// A source connector reads only files inside `brooklet.connect.file.dirs`; `brooklet server`
/// allows none until configured, and no request (nor SET) can change that.
#[test]
fn connectors_read_no_file_outside_the_allowed_directories() {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed");
    let secret = dir.path().join("secret");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("key"), "private\n").unwrap();
    std::fs::write(allowed.join("in.txt"), "one\ntwo\n").unwrap();
    std::os::unix::fs::symlink(secret.join("key"), allowed.join("link")).unwrap();
    let source = |file: &str| {
        format!("CREATE SOURCE CONNECTOR c{} WITH ('connector.class'='FileStreamSource', 'file'='{file}', 'topic'='t');",
            file.len())
    };

    // Not configured: nothing at all, not even /etc/passwd.
    let server = common::http::start(&dir.path().join("data1"));
    let (status, v) = ksql(&server.addr, &source("/etc/passwd"));
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("brooklet.connect.file.dirs"), "{v}");
    assert!(message(&v).contains("none is allowed"), "{v}");
    // A request property is not the server setting.
    let (status, _, body) = post(
        &server.addr,
        "/ksql",
        JSON,
        &json!({"ksql": source("/etc/passwd"),
            "streamsProperties": {"brooklet.connect.file.dirs": "/"}})
        .to_string(),
    );
    assert_eq!(status, 400, "{body}");
    drop(server);

    let dirs = property("brooklet.connect.file.dirs", allowed.to_str().unwrap());
    let server = common::http::start_with(&dir.path().join("data2"), &["--property", &dirs]);
    for outside in [
        "/etc/passwd".to_string(),
        format!("{}/../secret/key", allowed.display()),
        format!("{}/link", allowed.display()),
        secret.join("key").display().to_string(),
    ] {
        let (status, v) = ksql(&server.addr, &source(&outside));
        assert_eq!(status, 400, "{outside}: {v}");
        assert!(
            message(&v).contains("brooklet.connect.file.dirs"),
            "{outside}: {v}"
        );
    }
    // SET in the same request does not widen it either.
    let (status, v) = ksql(
        &server.addr,
        &format!(
            "SET 'brooklet.connect.file.dirs'='/'; {}",
            source("/etc/passwd")
        ),
    );
    assert_eq!(status, 400, "{v}");
    // Inside: the file's lines arrive.
    let inside = allowed.join("in.txt").display().to_string();
    let (status, v) = ksql(&server.addr, &source(&inside));
    assert_eq!(status, 200, "{v}");
    let (status, _, body) = post(
        &server.addr,
        "/query-stream",
        JSON,
        &json!({"sql": "PRINT 't' FROM BEGINNING LIMIT 2;"}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("value: one") && body.contains("value: two"),
        "{body}"
    );
}

/// A sink appends only inside the allowed directories, never through a symlink, never
/// truncating what the file held.
#[test]
fn sinks_write_no_file_outside_the_allowed_directories() {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join(".profile"), "original\n").unwrap();
    std::os::unix::fs::symlink(outside.join(".profile"), allowed.join("link")).unwrap();
    std::os::unix::fs::symlink(&outside, allowed.join("dir")).unwrap();
    std::fs::write(allowed.join("out.txt"), "kept\n").unwrap();
    let dirs = property("brooklet.connect.file.dirs", allowed.to_str().unwrap());
    let server = common::http::start_with(&dir.path().join("data"), &["--property", &dirs]);
    let (status, v) = ksql(
        &server.addr,
        "CREATE STREAM s (v STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');
         INSERT INTO s (v) VALUES ('echo pwned');",
    );
    assert_eq!(status, 200, "{v}");
    let sink = |file: String| {
        format!("CREATE SINK CONNECTOR k{} WITH ('connector.class'='FileStreamSink', 'file'='{file}', 'topics'='s');",
            file.len())
    };
    for target in [
        outside.join(".profile").display().to_string(),
        format!("{}/../outside/.profile", allowed.display()),
        format!("{}/link", allowed.display()),
        format!("{}/dir/.profile", allowed.display()),
        format!("{}/dir/new", allowed.display()),
    ] {
        let (status, v) = ksql(&server.addr, &sink(target.clone()));
        assert_eq!(status, 400, "{target}: {v}");
        assert!(
            message(&v).contains("brooklet.connect.file.dirs"),
            "{target}: {v}"
        );
    }
    let (status, v) = ksql(
        &server.addr,
        &sink(allowed.join("out.txt").display().to_string()),
    );
    assert_eq!(status, 200, "{v}");
    let out = || std::fs::read_to_string(allowed.join("out.txt")).unwrap();
    eventually(30, "the sink wrote nothing", || out().lines().count() >= 2);
    assert_eq!(out(), "kept\n{\"V\":\"echo pwned\"}\n");
    assert_eq!(
        std::fs::read_to_string(outside.join(".profile")).unwrap(),
        "original\n"
    );
    assert!(!outside.join("new").exists());
}

/// `brooklet run` may use the current directory and the query file's, and nothing else unless
/// the setting says so.
#[test]
fn a_query_file_reads_beside_itself_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(dir.path().join("in.txt"), "{\"a\": 1}\n").unwrap();
    let (ok, lines, _) = common::run_file(
        &data,
        "CREATE SOURCE CONNECTOR c WITH ('connector.class'='FileStreamSource', 'file'='/etc/passwd', 'topic'='pw');",
    );
    assert!(!ok);
    let error = lines.iter().find(|l| l["@type"] == "error").unwrap();
    assert!(
        message(error).contains("brooklet.connect.file.dirs"),
        "{error}"
    );
    let inside = format!(
        "CREATE SOURCE CONNECTOR c WITH ('connector.class'='FileStreamSource', 'file'='{}/in.txt', 'topic'='t');",
        dir.path().display()
    );
    let (ok, _, err) = common::run_file(&data, &inside);
    assert!(ok, "{err}");
}

/// A web page cannot drive the server: foreign origins get 403, and the content types a browser
/// sends cross-site without a preflight get 415 without the statement running.
#[test]
fn cross_site_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("data"));
    let addr = &server.addr;
    let create = json!({"ksql": "CREATE STREAM x (v STRING) WITH (KAFKA_TOPIC='x', PARTITIONS=1, VALUE_FORMAT='JSON');"}).to_string();
    let (status, _, body) = post(
        addr,
        "/ksql",
        &format!("{JSON}Origin: http://evil.example\r\n"),
        &create,
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("access.control.allow.origin"), "{body}");
    // DNS rebinding: a page of a name that now resolves to the server sends its own name as
    // both Origin and Host; the console's own origin is trusted by address only.
    let port = addr.rsplit(':').next().unwrap();
    let rebound = format!("evil.example:{port}");
    let (status, _, body) = raw(
        addr,
        &format!(
            "POST /ksql HTTP/1.1\r\nHost: {rebound}\r\n{JSON}Origin: http://{rebound}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{create}",
            create.len()
        ),
    );
    assert_eq!(status, 403, "{body}");
    // Another port of the same address is another origin.
    let (status, ..) = post(
        addr,
        "/ksql",
        &format!("{JSON}Origin: http://127.0.0.1:1\r\n"),
        &create,
    );
    assert_eq!(status, 403);
    let (status, ..) = post(addr, "/ksql", &format!("{JSON}Origin: null\r\n"), &create);
    assert_eq!(status, 403);
    for content_type in [
        "Content-Type: text/plain\r\n",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        "Content-Type: multipart/form-data; boundary=x\r\n",
        "",
    ] {
        let (status, _, body) = post(addr, "/ksql", content_type, &create);
        assert_eq!(status, 415, "{content_type}: {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error_code"],
            41500
        );
    }
    let (status, _, body) = post(
        addr,
        "/query-stream",
        "Content-Type: text/plain\r\n",
        r#"{"sql": "SELECT * FROM KSQL_PROCESSING_LOG EMIT CHANGES;"}"#,
    );
    assert_eq!(status, 415, "{body}");
    // None of them ran.
    let (_, v) = ksql(addr, "SHOW STREAMS;");
    assert!(!v.to_string().contains("\"X\""), "{v}");
    // The server's own console (its origin is the address the request went to) may.
    let (status, _, body) = post(
        addr,
        "/ksql",
        &format!("{JSON}Origin: http://{addr}\r\n"),
        &create,
    );
    assert_eq!(status, 200, "{body}");
    // A preflight from a foreign origin gets no CORS answer.
    let (status, head, _) = raw(addr, &format!(
        "OPTIONS /ksql HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 403);
    assert!(!head.contains("access-control-allow-origin"), "{head}");
}

/// Origins the operator allows get ksqlDB's CORS answers; others still get 403.
#[test]
fn allowed_origins_get_cors_answers() {
    let dir = tempfile::tempdir().unwrap();
    let origins = property(
        "access.control.allow.origin",
        "http://localhost:3000, https://*.example.com",
    );
    let server = common::http::start_with(&dir.path().join("data"), &["--property", &origins]);
    let addr = &server.addr;
    let (status, head, _) = raw(addr, &format!(
        "OPTIONS /ksql HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 204, "{head}");
    assert!(
        head.contains("access-control-allow-origin: https://app.example.com"),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-methods: get, post, head"),
        "{head}"
    );
    assert!(head.contains("access-control-allow-headers:"), "{head}");
    let show = r#"{"ksql": "SHOW STREAMS;"}"#;
    let (status, head, body) = post(
        addr,
        "/ksql",
        &format!("{JSON}Origin: http://localhost:3000\r\n"),
        show,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains("access-control-allow-origin: http://localhost:3000"),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-credentials: true"),
        "{head}"
    );
    let (status, ..) = post(
        addr,
        "/ksql",
        &format!("{JSON}Origin: https://example.com.evil.net\r\n"),
        show,
    );
    assert_eq!(status, 403);
}

/// Hashed passwords work; guessing in a loop locks the address out (429), even for the right
/// password, until the lockout ends; the health probes stay open.
#[test]
fn password_guessing_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, hash, err) = common::shell(&["hash-password"], "s3cret\n");
    assert!(ok, "{err}");
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let auth = dir.path().join("users");
    std::fs::write(&auth, format!("fred: {hash},admin\nann: plain\n")).unwrap();
    let server = common::http::start_with(
        &dir.path().join("data"),
        &[
            "--auth-file",
            auth.to_str().unwrap(),
            "--property",
            "brooklet.auth.max.failures=5",
            "--property",
            "brooklet.auth.lockout.ms=2000",
        ],
    );
    let addr = &server.addr;
    let basic = |user_password: &str| {
        use base64::Engine as _;
        format!(
            "{JSON}Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(user_password)
        )
    };
    let show = r#"{"ksql": "SHOW STREAMS;"}"#;
    assert_eq!(post(addr, "/ksql", &basic("fred:s3cret"), show).0, 200);
    assert_eq!(post(addr, "/ksql", &basic("ann:plain"), show).0, 200);
    assert_eq!(
        post(addr, "/ksql", &basic(&format!("fred:{hash}")), show).0,
        401
    );
    for guess in 0..3 {
        let (status, ..) = post(addr, "/ksql", &basic(&format!("fred:guess{guess}")), show);
        assert_eq!(status, 401);
    }
    // The fifth failure locks the address out, the right password included.
    assert_eq!(post(addr, "/ksql", &basic("nobody:x"), show).0, 401);
    let (status, head, body) = post(addr, "/ksql", &basic("fred:s3cret"), show);
    assert_eq!(status, 429, "{body}");
    assert!(head.contains("retry-after:"), "{head}");
    let (status, ..) = raw(
        addr,
        &format!("GET /chc/live HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(post(addr, "/ksql", &basic("fred:s3cret"), show).0, 200);
}

/// Bodies, statements per request and push queries have limits; beyond them, clear errors.
#[test]
fn requests_and_push_queries_have_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start_with(
        &dir.path().join("data"),
        &[
            "--property",
            "brooklet.request.max.bytes=4096",
            "--property",
            "brooklet.request.max.statements=3",
            "--property",
            "ksql.max.push.queries=3",
            "--property",
            "brooklet.push.queries.per.client=2",
        ],
    );
    let addr = &server.addr;
    let big = json!({"ksql": format!("SHOW STREAMS; -- {}", "x".repeat(5000))}).to_string();
    let (status, _, body) = post(addr, "/ksql", JSON, &big);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("brooklet.request.max.bytes"), "{body}");
    let (status, v) = ksql(
        addr,
        "SHOW STREAMS; SHOW STREAMS; SHOW STREAMS; SHOW STREAMS;",
    );
    assert_eq!(status, 400, "{v}");
    assert!(
        message(&v).contains("brooklet.request.max.statements"),
        "{v}"
    );

    // Push queries held open: two for this client, the third refused with ksqlDB's code.
    let push = json!({"sql": "SELECT * FROM KSQL_PROCESSING_LOG EMIT CHANGES;"}).to_string();
    let open = || {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST /query-stream HTTP/1.1\r\nHost: {addr}\r\n{JSON}Content-Length: {}\r\n\r\n{push}",
            push.len()
        )
        .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        (s, String::from_utf8_lossy(&head).into_owned())
    };
    let (first, status1) = open();
    let (_second, status2) = open();
    assert!(
        status1.ends_with("200") && status2.ends_with("200"),
        "{status1} {status2}"
    );
    let (status, _, body) = post(addr, "/query-stream", JSON, &push);
    assert_eq!(status, 429, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error_code"], 40003, "{v}");
    assert!(
        message(&v).contains("brooklet.push.queries.per.client"),
        "{v}"
    );
    // A pull query is not a push query.
    let (status, _, body) = post(
        addr,
        "/query-stream",
        JSON,
        &json!({"sql": "SELECT * FROM KSQL_PROCESSING_LOG;"}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    // Closing one gives its slot back.
    drop(first);
    eventually(10, "the slot never came back", || open().1.ends_with("200"));
}

/// Slow clients cannot hold connections: a head, a body or an HTTP/2 preface that does not
/// arrive in time closes the connection; beyond the connection limit, 503.
#[test]
fn slow_clients_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start_with(
        &dir.path().join("data"),
        &[
            "--property",
            "brooklet.server.header.timeout.ms=500",
            "--property",
            "brooklet.server.body.timeout.ms=500",
            "--property",
            "brooklet.server.max.connections=4",
        ],
    );
    let addr = &server.addr;
    let closed_within = |mut s: TcpStream, limit: Duration| {
        s.set_read_timeout(Some(limit)).unwrap();
        let mut buf = Vec::new();
        // EOF (or a reset) before the read timeout: the server closed the connection.
        match s.read_to_end(&mut buf) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    };
    // Slowloris: a head that never ends.
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "POST /ksql HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert!(closed_within(s, Duration::from_secs(10)));
    // A connection that says nothing; one that starts HTTP/2's preface and stops.
    assert!(closed_within(
        TcpStream::connect(addr).unwrap(),
        Duration::from_secs(10)
    ));
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n").unwrap();
    assert!(closed_within(s, Duration::from_secs(10)));
    // A body that trickles: 408.
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /ksql HTTP/1.1\r\nHost: x\r\n{JSON}Content-Length: 100\r\n\r\n{{\"ksql\""
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    drop(server);

    // Beyond the connection limit: 503. Four connections are held open (each mid-request),
    // so the fifth arrives while they are.
    let server = common::http::start_with(
        &dir.path().join("data2"),
        &["--property", "brooklet.server.max.connections=4"],
    );
    let addr = &server.addr;
    let held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /info HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (status, _, body) = raw(
        addr,
        "GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("brooklet.server.max.connections"), "{body}");
    drop(held);
    eventually(10, "connections were never given back", || {
        raw(
            addr,
            "GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .0 == 200
    });
}

/// Statements that nest or chain without end are refused at once with a position, and the
/// server goes on; a deep statement within the limits runs.
#[test]
fn statements_that_nest_without_end_neither_crash_nor_stall() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("data"));
    let addr = &server.addr;
    let nested_struct = format!(
        "CREATE STREAM s (c {}INT{}) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');",
        "STRUCT<f ".repeat(5000),
        ">".repeat(5000)
    );
    let parens = format!(
        "SELECT {}1{} AS x FROM KSQL_PROCESSING_LOG EMIT CHANGES;",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let sum = format!(
        "SELECT {} AS x FROM KSQL_PROCESSING_LOG EMIT CHANGES;",
        vec!["1"; 100_000].join(" + ")
    );
    let array = format!(
        "SELECT ARRAY{}1{} AS x FROM KSQL_PROCESSING_LOG EMIT CHANGES;",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let statements = [
        ("/ksql", "ksql", nested_struct),
        ("/query-stream", "sql", parens),
        ("/query-stream", "sql", sum),
        ("/query", "ksql", array),
    ];
    for (path, field, sql) in statements {
        let (status, _, body) = post(addr, path, JSON, &json!({ field: sql }).to_string());
        assert_eq!(status, 400, "{}", &body[..body.len().min(300)]);
        let v: Value = serde_json::from_str(&body).unwrap();
        let m = message(&v);
        assert!(m.contains("too deeply") && m.starts_with("line 1:"), "{m}");
    }
    let (status, ..) = raw(
        addr,
        &format!("GET /healthcheck HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200);
    // Deep, but within the limits: it runs, here through planning to a result.
    let deep = format!(
        "SELECT {} AS x FROM KSQL_PROCESSING_LOG LIMIT 1;",
        vec!["1"; 200].join(" + ")
    );
    let (status, _, body) = post(
        addr,
        "/query-stream",
        JSON,
        &json!({"sql": deep}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let (status, v) = ksql(addr, &format!(
        "CREATE STREAM deep (c {}INT{}) WITH (KAFKA_TOPIC='deep', PARTITIONS=1, VALUE_FORMAT='JSON');",
        "STRUCT<f ".repeat(30), ">".repeat(30)));
    assert_eq!(status, 200, "{v}");
}

/// JSON nested without end, in a request body and in a record, is refused (serde_json's depth
/// limit of 128): a 400, and the record to the processing log, with the server going on.
#[test]
fn json_nested_without_end_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("data"));
    let addr = &server.addr;
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, _, body) = post(addr, "/ksql", JSON, &format!(r#"{{"ksql": {deep}}}"#));
    assert_eq!(status, 400, "{}", &body[..body.len().min(300)]);
    assert!(
        body.contains("Invalid JSON"),
        "{}",
        &body[..body.len().min(300)]
    );
    let (status, v) = ksql(
        addr,
        "CREATE STREAM j (a ARRAY<INT>) WITH (KAFKA_TOPIC='j', PARTITIONS=1, VALUE_FORMAT='JSON');",
    );
    assert_eq!(status, 200, "{v}");
    let rows = format!("{{\"target\": \"J\"}}\n{{\"A\": {deep}}}\n{{\"A\": [7]}}\n");
    let (status, _, acks) = post(addr, "/inserts-stream", JSON, &rows);
    assert_eq!(status, 200, "{}", &acks[..acks.len().min(300)]);
    // The deep row is refused, the next one written.
    let acks: Vec<Value> = acks
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(acks.len(), 2, "{acks:?}");
    assert_eq!(acks[0]["status"], "error", "{acks:?}");
    assert_eq!(acks[1]["status"], "ok", "{acks:?}");
    let (status, _, body) = post(
        addr,
        "/query-stream",
        JSON,
        &json!({"sql": "SELECT * FROM j EMIT CHANGES LIMIT 1;",
            "properties": {"auto.offset.reset": "earliest"}})
        .to_string(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("[[7]]"), "{body}");
}

/// The schema registry's PUTs (`/config`) pass the same guard as POSTs: a browser's cross-site
/// request, a body that does not say it is JSON, and a body over the limit are refused before
/// the registry sees them.
#[test]
fn registry_puts_are_guarded_like_posts() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start_with(
        &dir.path().join("data"),
        &["--property", "brooklet.request.max.bytes=4096"],
    );
    let addr = &server.addr;
    let put = |headers: &str, body: &str| {
        raw(
            addr,
            &format!(
                "PUT /config HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let none = r#"{"compatibility": "NONE"}"#;
    let (status, _, body) = put("Content-Type: text/plain\r\n", none);
    assert_eq!(status, 415, "{body}");
    let (status, _, body) = put(&format!("{JSON}Origin: http://evil.example\r\n"), none);
    assert_eq!(status, 403, "{body}");
    let big = format!(
        r#"{{"compatibility": "NONE", "x": "{}"}}"#,
        "x".repeat(5000)
    );
    let (status, _, body) = put(JSON, &big);
    assert_eq!(status, 413, "{body}");
    // None of them changed the level; a proper request does.
    let (_, _, body) = raw(
        addr,
        &format!("GET /config HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert!(body.contains("BACKWARD"), "{body}");
    let (status, _, body) = put(JSON, none);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""compatibility":"NONE""#), "{body}");
}

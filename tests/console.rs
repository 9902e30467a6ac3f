//! The web console in a real browser (headless Chromium through ChromeDriver): create a
//! stream, run a push query and see rows arrive, open a query's topology, run a pull query,
//! and see a syntax error marked in the editor. Each step's screenshot is written to
//! `<target>/tmp/console-screenshots/` (`CARGO_TARGET_TMPDIR`), the test's artifacts.

mod common;

use common::webdriver::{Browser, CONTROL, ENTER, RELEASE};
use std::path::PathBuf;

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
}

/// Replaces the editor's text with `sql` and runs it (Ctrl-Enter).
fn run(b: &Browser, sql: &str) {
    let editor = b.find(".cm-content");
    b.click(&editor);
    b.type_into(&editor, &format!("{CONTROL}a{RELEASE}"));
    // Typed as one line: Enter would take a completion the popup offers.
    b.type_into(&editor, &format!("{sql}\u{E00C}"));
    b.type_into(&editor, &format!("{CONTROL}{ENTER}{RELEASE}"));
}

fn insert(addr: &str, user: &str, page: &str, ms: i64) {
    let sql = format!("INSERT INTO clicks (user_id, page, ms) VALUES ('{user}', '{page}', {ms});");
    let (status, body) = common::http::ksql(addr, &sql);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn the_console_runs_statements_streams_rows_and_marks_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("d"));
    let b = Browser::start();
    let url = format!("http://{}/", server.addr);
    b.open(&url);
    b.find(".cm-content");
    // The page's cold load, for the notes.
    let load = b.script(
        "const n = performance.getEntriesByType('navigation')[0]; \
         return [n.domContentLoadedEventEnd, n.loadEventEnd, \
                 performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, n.transferSize)];",
    );
    println!(
        "cold load: DOMContentLoaded {} ms, load {} ms, {} bytes",
        load[0], load[1], load[2]
    );
    b.screenshot(&shots().join("1-console.png"));

    run(&b, "CREATE STREAM clicks (user_id VARCHAR KEY, page VARCHAR, ms INT) WITH (KAFKA_TOPIC='clicks', PARTITIONS=1, VALUE_FORMAT='JSON');");
    b.wait_for(".result .message", |t| t.contains("Stream created"));
    // The catalog shows the new stream.
    b.wait_for(".catalog .source", |t| t.contains("CLICKS"));
    b.screenshot(&shots().join("2-stream-created.png"));
    // The editor completes stream names from the catalog.
    let editor = b.find(".cm-content");
    b.click(&editor);
    b.type_into(&editor, &format!("{CONTROL}a{RELEASE}SELECT * FROM CLI"));
    b.wait_for(".cm-tooltip-autocomplete", |t| t.contains("CLICKS"));

    run(&b, "SELECT user_id, page, ms FROM clicks EMIT CHANGES;");
    b.wait_for(".result.query .status", |t| t == "running");
    for (user, page, ms) in [
        ("alice", "/home", 120),
        ("bob", "/cart", 300),
        ("alice", "/pay", 900),
    ] {
        insert(&server.addr, user, page, ms);
    }
    b.wait_for(".result.query .count", |t| t == "3 rows");
    let cells = b.wait_for(".result.query tr.row[data-row='2']", |t| t.contains("/pay"));
    assert!(b.text(&cells).contains("alice"));
    // A chart of the numeric column, which can be picked.
    b.wait_for(".result.query .chart .chart-column", |t| t.contains("MS"));
    b.screenshot(&shots().join("3-push-query.png"));
    // A burst: the table keeps up and draws only the rows in view.
    let burst = 5_000;
    let rows: String = (0..burst)
        .map(|i| {
            format!(
                "{{\"USER_ID\":\"u{}\",\"PAGE\":\"/p{i}\",\"MS\":{i}}}\n",
                i % 50
            )
        })
        .collect();
    let body = format!("{{\"target\":\"CLICKS\"}}\n{rows}");
    let started = std::time::Instant::now();
    let (status, _) = common::http::request(&server.addr, "POST", "/inserts-stream", "", &body);
    assert_eq!(status, 200);
    let total = format!("{} rows", burst + 3);
    b.wait_for(".result.query .count", |t| t == total);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "results table: {burst} rows in {secs:.2} s, {:.0} rows/s",
        burst as f64 / secs
    );
    assert!(b.count(".result.query tr.row") < 100, "every row drawn");
    b.click(&b.find(".result.query .stop"));
    b.wait_for(".result.query .status", |t| t == "stopped");

    run(&b, "CREATE TABLE per_user AS SELECT user_id, COUNT(*) AS clicks, SUM(ms) AS ms FROM clicks GROUP BY user_id;");
    b.wait_for(".result .message", |t| t.contains("CTAS_PER_USER"));
    b.click(&b.wait_for(".catalog .topology-link", |t| {
        t.starts_with("CTAS_PER_USER")
    }));
    let figures = format!("in {}", burst + 3);
    b.wait_for(
        ".topology .op[data-operator='AGGREGATE'] .op-figures",
        |t| t.contains(&figures),
    );
    assert_eq!(b.count(".topology .op[data-operator='SOURCE']"), 1);
    b.screenshot(&shots().join("4-topology.png"));
    // A source's DESCRIBE EXTENDED figures.
    b.click(&b.find(".catalog .source[data-name='PER_USER'] summary"));
    b.wait_for(".catalog .source[data-name='PER_USER'] .extended", |t| {
        t.contains("Rows of state held") && t.contains("CTAS_PER_USER_0")
    });

    run(&b, "SELECT * FROM per_user WHERE user_id = 'alice';");
    b.wait_for(".result.query[data-kind='pull'] .status", |t| t == "done");
    b.wait_for(".result.query tr.row", |t| {
        t.contains("alice") && t.contains("1020")
    });
    b.screenshot(&shots().join("5-pull-query.png"));

    run(
        &b,
        "SELECT * FROM clicks EMIT CHANGES; SELEC * FROM clicks;",
    );
    let error = b.wait_for(".result.error pre", |t| t.contains("SELEC"));
    assert!(b.text(&error).contains("line 1:1"), "{}", b.text(&error));
    // The error is marked in the editor, on the second statement's first word.
    let mark = b.find(".cm-lintRange-error");
    assert_eq!(b.text(&mark), "SELEC");
    b.screenshot(&shots().join("6-syntax-error.png"));
}

/// The page, its script and style are served from the binary with their security headers,
/// the script gzipped to browsers that take it, and only to users who may use the API.
#[test]
fn the_console_is_served_with_its_headers_and_behind_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("d"));
    let get = |path: &str, extra: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{extra}Connection: close\r\n\r\n",
            server.addr
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        (head, raw[split + 4..].to_vec())
    };
    let (head, body) = get("/", "");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'self'"),
        "{head}"
    );
    assert!(head.contains("frame-ancestors 'none'"), "{head}");
    assert!(head.contains("x-frame-options: deny"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("/console.js"));
    let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/web/dist/");
    let (head, body) = get("/console.js", "");
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, std::fs::read(format!("{dist}console.js")).unwrap());
    let (head, body) = get("/console.js", "Accept-Encoding: gzip, deflate, br\r\n");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert_eq!(body, std::fs::read(format!("{dist}console.js.gz")).unwrap());
    assert_eq!(&body[..2], [0x1f, 0x8b]);
    let (head, _) = get("/console.css", "");
    assert!(head.contains("content-type: text/css"), "{head}");
    drop(server);

    let users = dir.path().join("users");
    std::fs::write(&users, "ann: s3cret\n").unwrap();
    let server = common::http::start_with(
        &dir.path().join("d2"),
        &["--auth-file", users.to_str().unwrap()],
    );
    let get = |path: &str, extra: &str| {
        let accept = extra.trim_end();
        common::http::request(&server.addr, "GET", path, accept, "")
    };
    let (status, _) = get("/", "");
    assert_eq!(status, 401);
    let (status, _) = get("/console.js", "");
    assert_eq!(status, 401);
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("ann:s3cret");
    let (status, body) = get("/", &format!("Authorization: Basic {basic}\r\n"));
    assert_eq!(status, 200);
    assert!(body.contains("console.js"));
}

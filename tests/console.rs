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
    // The topic is listed, with the query that reads it, and its records can be printed.
    b.wait_for(".catalog .topic-item[data-name='clicks']", |t| {
        t.contains("1 partition") && t.contains("0 queries read")
    });
    b.click(&b.find(".catalog .topic-item[data-name='clicks'] .print"));
    let printed = b.wait_for(".result.query[data-kind='print'] pre.print", |t| {
        t.contains("/pay")
    });
    let text = b.text(&printed);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.starts_with("rowtime: "), "{text}");
    assert!(text.contains("key: alice"), "{text}");
    b.wait_for(".result.query[data-kind='print'] .count", |t| {
        t == "3 records"
    });
    b.screenshot(&shots().join("3b-print-topic.png"));
    b.click(&b.find(".result.query[data-kind='print'] .stop"));
    run(&b, "SELECT user_id, page, ms FROM clicks EMIT CHANGES;");
    b.wait_for(".result.query .count", |t| t == "3 rows");
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
    b.wait_for(".catalog .topic-item[data-name='clicks']", |t| {
        t.contains("1 query reads")
    });
    let figures = format!("in {}", burst + 3);
    b.wait_for(
        ".topology .op[data-operator='AGGREGATE'] .op-figures",
        |t| t.contains(&figures),
    );
    assert_eq!(b.count(".topology .op[data-operator='SOURCE']"), 1);
    // The query's schema: what it reads, what it writes, its columns.
    b.wait_for(".topology .query-schema", |t| {
        t.contains("CLICKS → PER_USER")
            && t.contains("USER_ID STRING key")
            && t.contains("MS INTEGER")
    });
    b.screenshot(&shots().join("4-topology.png"));
    // `BROOKLET_BLESS=1` makes this the README's picture.
    if std::env::var_os("BROOKLET_BLESS").is_some() {
        let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/console.png");
        std::fs::copy(shots().join("4-topology.png"), readme).unwrap();
    }
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

    // TERMINATE and DROP from the catalog, each after a confirmation.
    b.click(&b.find(".catalog .query-item[data-id='CTAS_PER_USER_0'] .terminate"));
    assert_eq!(b.accept_dialog(), "Terminate CTAS_PER_USER_0?");
    wait_gone(&b, ".catalog .query-item[data-id='CTAS_PER_USER_0']");
    b.click(&b.find(".catalog .source[data-name='PER_USER'] .drop"));
    assert_eq!(b.accept_dialog(), "Drop table PER_USER?");
    wait_gone(&b, ".catalog .source[data-name='PER_USER']");
    let (_, tables) = common::http::ksql(&server.addr, "SHOW TABLES;");
    assert_eq!(tables[0]["tables"], serde_json::json!([]), "{tables}");
}

/// Waits until `css` selects nothing (30 s at most).
fn wait_gone(b: &Browser, css: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while b.count(css) > 0 {
        assert!(std::time::Instant::now() < deadline, "{css} is still there");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
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
    // The first script, which draws the page, stays small; the editor comes after it.
    assert!(
        body.len() < 32 * 1024,
        "console.js.gz is {} bytes",
        body.len()
    );
    let (head, body) = get("/editor.js", "Accept-Encoding: gzip\r\n");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("vary: accept-encoding"), "{head}");
    assert_eq!(body, std::fs::read(format!("{dist}editor.js.gz")).unwrap());
    let (head, _) = get("/console.css", "");
    assert!(head.contains("content-type: text/css"), "{head}");
    // A reload with the ETag it was given costs a 304 and no body; a stale one the body.
    let tag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .to_string();
    let (head, body) = get("/console.css", &format!("If-None-Match: {tag}\r\n"));
    assert!(head.starts_with("http/1.1 304"), "{head}");
    assert!(body.is_empty());
    let (head, body) = get("/console.css", "If-None-Match: \"0000\"\r\n");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, std::fs::read(format!("{dist}console.css")).unwrap());
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
    for path in ["/console.js", "/editor.js", "/console.css"] {
        assert_eq!(get(path, "").0, 401, "{path}");
    }
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("ann:s3cret");
    let (status, body) = get("/", &format!("Authorization: Basic {basic}\r\n"));
    assert_eq!(status, 200);
    assert!(body.contains("console.js"));
}

/// Over a slow link (400 ms round trips, 100 KB/s) the page is drawn, with its catalog, from
/// the small first script, before the editor's larger one arrives; a reload revalidates
/// (ETag) instead of downloading again. The times are printed for the notes: the test
/// asserts what the page does, not how fast.
#[test]
fn the_console_draws_the_page_before_the_editor_over_a_slow_link() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("d"));
    let (status, _) = common::http::ksql(
        &server.addr,
        "CREATE STREAM slow (id INT KEY, v INT) WITH (KAFKA_TOPIC='slow', PARTITIONS=1, VALUE_FORMAT='JSON');",
    );
    assert_eq!(status, 200);
    let mut b = Browser::start();
    let links = [
        ("slow link, cold", 400, 100_000),
        ("slow link, reloaded", 400, 100_000),
        ("fast 3G, cold", 150, 200_000),
    ];
    for (name, latency, rate) in links {
        if name.ends_with("cold") {
            b = Browser::start();
        }
        b.throttle(latency, rate);
        b.open(&format!("http://{}/", server.addr));
        b.wait_for(".catalog .source", |t| t.contains("SLOW"));
        b.find(".cm-content");
        let marks = b.script(
            "const m = (n) => performance.getEntriesByName(n)[0].startTime; \
             const p = performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint'); \
             const r = performance.getEntriesByType('resource'); \
             const bytes = r.reduce((s, e) => s + e.transferSize, performance.getEntriesByType('navigation')[0].transferSize); \
             const editor = r.find((e) => e.name.endsWith('/editor.js')); \
             return [p ? p.startTime : -1, m('brooklet:page'), m('brooklet:editor'), bytes, \
                     editor ? editor.fetchStart : null];",
        );
        println!(
            "{name} ({latency} ms, {} KB/s): first paint {:.0} ms, page drawn {:.0} ms, editor ready {:.0} ms, {} bytes",
            rate / 1000,
            marks[0].as_f64().unwrap(),
            marks[1].as_f64().unwrap(),
            marks[2].as_f64().unwrap(),
            marks[3]
        );
        // The editor's script is a second file, asked for once the page is drawn.
        let editor_fetch = marks[4].as_f64().expect("editor.js was loaded");
        assert!(marks[1].as_f64().unwrap() <= editor_fetch, "{marks}");
    }
    // The editor works once it has come: it completes from the catalog.
    let editor = b.find(".cm-content");
    b.click(&editor);
    b.type_into(&editor, &format!("{CONTROL}a{RELEASE}SELECT * FROM SL"));
    b.wait_for(".cm-tooltip-autocomplete", |t| t.contains("SLOW"));
}

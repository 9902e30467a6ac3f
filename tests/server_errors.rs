//! The server under bad input and bad clients: ksqlDB-style 4xx answers, a client that stops
//! reading, and `/ksql/terminate`.

mod common;

use brooklet::log::{EmbeddedLog, FsyncPolicy, Log, Record};
use common::http::{ksql, request, start};
use serde_json::Value;
use std::io::{Read, Write};

fn generic_error(body: &str) -> (u64, String) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert_eq!(v["@type"], "generic_error", "{body}");
    (
        v["error_code"].as_u64().unwrap(),
        v["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn bad_requests_get_ksqldb_errors_and_disturb_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let addr = server.addr.as_str();
    let (status, e) = ksql(
        addr,
        "CREATE STREAM s (id INT KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);
         INSERT INTO s (id, v) VALUES (1, 10);",
    );
    assert_eq!(status, 200, "{e}");
    let post = |path: &str, headers: &str, body: &str| request(addr, "POST", path, headers, body);

    // Malformed JSON, a body that is not an object, an unknown field, a missing field.
    for (path, body, code, text) in [
        ("/ksql", "{not json", 40000, "Invalid JSON"),
        ("/ksql", "[1, 2]", 40000, "must be a JSON object"),
        (
            "/ksql",
            r#"{"ksql": "SHOW STREAMS;", "bogus": 1}"#,
            40000,
            "Unrecognized field \"bogus\"",
        ),
        (
            "/query-stream",
            r#"{"ksql": "SELECT * FROM s;"}"#,
            40000,
            "Unrecognized field \"ksql\"",
        ),
        (
            "/query-stream",
            r#"{"properties": {}}"#,
            40000,
            "no 'sql' field",
        ),
        (
            "/close-query",
            r#"{"queryId": "nope", "x": 1}"#,
            40000,
            "Unrecognized field \"x\"",
        ),
    ] {
        let (status, body) = post(path, "", body);
        assert_eq!(status, 400, "{path} {body}");
        let (c, m) = generic_error(&body);
        assert_eq!(c, code, "{body}");
        assert!(m.contains(text), "{m}");
    }
    // A content type the API does not read.
    let (status, body) = post(
        "/ksql",
        "Content-Type: text/xml",
        r#"{"ksql": "SHOW STREAMS;"}"#,
    );
    assert_eq!(status, 415, "{body}");
    assert_eq!(generic_error(&body).0, 41500);
    // A wrong method, and a body over the limit (4 MB by default, brooklet.request.max.bytes).
    let (status, body) = request(addr, "GET", "/ksql", "", "");
    assert_eq!((status, generic_error(&body).0), (405, 40500));
    let big = format!(r#"{{"ksql": "{}"}}"#, " ".repeat(5 << 20));
    let (status, body) = post("/ksql", "", &big);
    assert_eq!((status, generic_error(&body).0), (413, 41300), "{body}");
    // PRINT: lines of text, in the delimited framing only.
    let print = r#"{"sql": "PRINT 's' FROM BEGINNING LIMIT 1;"}"#;
    let (status, body) = post("/query-stream", "application/json", print);
    assert_eq!((status, generic_error(&body).0), (406, 40600));
    let (status, body) = post("/query-stream", "", print);
    assert_eq!(status, 200);
    assert!(
        body.lines().any(|l| l.contains(r#"value: {"V":10}"#)),
        "{body}"
    );
    // The server still answers, the data is intact.
    let (status, rows) = post(
        "/query-stream",
        "",
        r#"{"sql": "SELECT v FROM s EMIT CHANGES LIMIT 1;", "properties": {"auto.offset.reset": "earliest"}}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(rows.lines().nth(1), Some("[10]"), "{rows}");
}

/// A client that stops reading a push query's rows: the query ends after the timeout with an
/// error (written after the rows it buffered), while other queries go on.
#[test]
fn a_client_that_stops_reading_has_its_query_closed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    const N: usize = 300_000;
    {
        let log = EmbeddedLog::open(&data, FsyncPolicy::Never).unwrap();
        log.create_topic("big", 1).unwrap();
        let pad = "x".repeat(200);
        let recs: Vec<Record> = (0..N)
            .map(|i| Record {
                key: None,
                value: Some(format!(r#"{{"I": {i}, "PAD": "{pad}"}}"#).into_bytes()),
                timestamp: i as i64,
                ..Default::default()
            })
            .collect();
        for chunk in recs.chunks(10_000) {
            log.append("big", 0, chunk).unwrap();
        }
    }
    let server = start(&data);
    let addr = server.addr.clone();
    let (status, e) = ksql(
        &addr,
        "CREATE STREAM big (i INT, pad STRING) WITH (kafka_topic='big', value_format='JSON');",
    );
    assert_eq!(status, 200, "{e}");
    let body = serde_json::json!({
        "sql": "SELECT * FROM big EMIT CHANGES;",
        "properties": {"auto.offset.reset": "earliest", "brooklet.push.client.timeout.ms": "300"}
    })
    .to_string();
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        slow,
        "POST /query-stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Not reading: the socket buffers fill, then the query's, then it gives up.
    std::thread::sleep(std::time::Duration::from_secs(2));
    // Meanwhile another query runs to its end.
    let (status, rows) = request(
        &addr,
        "POST",
        "/query-stream",
        "",
        r#"{"sql": "SELECT i FROM big EMIT CHANGES LIMIT 3;", "properties": {"auto.offset.reset": "earliest"}}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(
        rows.lines().skip(1).collect::<Vec<_>>(),
        ["[0]", "[1]", "[2]"]
    );
    // The slow client now reads: some rows, then the error, then the end of the response.
    let mut raw = Vec::new();
    // Generous: under a loaded machine, a debug build formats the buffered rows slowly.
    slow.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    slow.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let rows = text.matches("\"xxxxxxxxxx").count();
    assert!(rows > 0 && rows < N, "{rows} rows");
    assert!(
        text.contains(
            r#""error_code":50000,"message":"Push query closed: its client took no rows for 300 ms"#
        ),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert!(text.ends_with("0\r\n\r\n"), "the response is complete");
}

#[test]
fn terminate_cluster_drops_everything_and_deletes_listed_topics() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data);
    let addr = server.addr.clone();
    let (status, e) = ksql(
        &addr,
        "CREATE STREAM a (id INT KEY, v INT) WITH (kafka_topic='a_topic', value_format='JSON', partitions=1);
         CREATE STREAM b (id INT KEY, v INT) WITH (kafka_topic='b_topic', value_format='JSON', partitions=1);
         CREATE TABLE counts AS SELECT id, COUNT(*) AS n FROM a GROUP BY id EMIT CHANGES;",
    );
    assert_eq!(status, 200, "{e}");
    let (status, body) = request(
        &addr,
        "POST",
        "/ksql/terminate",
        "",
        r#"{"deleteTopicList": ["A_.*", "counts"]}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["commandStatus"]["status"], "SUCCESS", "{body}");
    let listed = |sql: &str, key: &str| -> Vec<String> {
        let (_, e) = ksql(&addr, sql);
        e[0][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed("SHOW STREAMS;", "streams"), ["KSQL_PROCESSING_LOG"]);
    assert!(listed("SHOW TABLES;", "tables").is_empty());
    assert!(listed("SHOW QUERIES;", "queries").is_empty());
    let topics = listed("SHOW TOPICS;", "topics");
    assert!(topics.contains(&"b_topic".to_string()), "{topics:?}");
    assert!(!topics.contains(&"a_topic".to_string()), "{topics:?}");
    assert!(!topics.contains(&"COUNTS".to_string()), "{topics:?}");
    // A restart does not bring them back.
    drop(server);
    let server = start(&data);
    let (_, e) = ksql(&server.addr, "SHOW TABLES;");
    assert_eq!(e[0]["tables"], serde_json::json!([]));
}

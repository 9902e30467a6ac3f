//! Pull queries and DELETE from query files: tables' materialized state and stream scans.

mod common;

use brooklet::log::{EmbeddedLog, FsyncPolicy, Log, Record};
use common::run_file;
use serde_json::Value;

/// The rows of each pull query in a run's output, one list per query (a query's rows end at
/// its `finalMessage`).
fn answers(lines: &[Value]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for l in lines {
        if l.get("header").is_some() {
            current = Some(Vec::new());
        } else if let Some(r) = l.get("row") {
            current.as_mut().unwrap().push(r["columns"].to_string());
        } else if l.get("finalMessage").is_some() {
            out.extend(current.take());
        }
    }
    out
}

/// The message of the error that ended a run (written as a JSON line).
fn error(lines: &[Value], stderr: &str) -> String {
    lines
        .iter()
        .find(|l| l["@type"] == "error")
        .map(|l| l["message"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| stderr.to_string())
}

const ORDERS: &str = "SET 'auto.offset.reset' = 'earliest';
CREATE STREAM orders (id INT KEY, customer STRING, amount DOUBLE) WITH (kafka_topic='orders', value_format='JSON', partitions=3);
INSERT INTO orders (ROWTIME, id, customer, amount) VALUES (1000, 1, 'ann', 1.5);
INSERT INTO orders (ROWTIME, id, customer, amount) VALUES (2000, 2, 'bob', 2.5);
INSERT INTO orders (ROWTIME, id, customer, amount) VALUES (3000, 1, 'cid', 3.0);
INSERT INTO orders (ROWTIME, id, customer, amount) VALUES (4000, 3, 'dee', 4.0);
INSERT INTO orders (ROWTIME, id, customer, amount) VALUES (5000, 4, 'eve', 0.5);
CREATE TABLE totals AS SELECT id, COUNT(*) AS n, SUM(amount) AS total FROM orders GROUP BY id EMIT CHANGES;
";

#[test]
fn pull_queries_look_up_keys_scan_filter_order_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let sql = format!(
        "{ORDERS}
SELECT * FROM totals WHERE id = 1;
SELECT * FROM totals WHERE id = 99;
SELECT id, total FROM totals WHERE id IN (4, 2, 42, 2) ORDER BY id;
SELECT id FROM totals WHERE id >= 3 ORDER BY id;
SELECT id, n FROM totals WHERE total > 2 AND n = 1 ORDER BY total DESC;
SELECT * FROM totals ORDER BY total DESC LIMIT 2;
SELECT id, total * 2 AS twice FROM totals WHERE id = 3 OR customer_count(id) IS NULL;
"
    );
    // The last query calls an unknown function: an error, after the others ran.
    let (ok, lines, err) = run_file(&dir.path().join("d"), &sql);
    assert!(!ok);
    let err = error(&lines, &err);
    assert!(err.to_uppercase().contains("CUSTOMER_COUNT"), "{err}");
    let got = answers(&lines);
    assert_eq!(
        got,
        vec![
            vec!["[1,2,4.5]"],
            vec![],
            vec!["[2,2.5]", "[4,0.5]"],
            vec!["[3]", "[4]"],
            vec!["[3,1]", "[2,1]"],
            vec!["[1,2,4.5]", "[3,1,4.0]"],
        ]
    );
    // The legacy header of a pull query marks the key column.
    let header = lines.iter().find_map(|l| l.get("header")).unwrap();
    assert_eq!(
        header["schema"],
        "`ID` INTEGER KEY, `N` BIGINT, `TOTAL` DOUBLE"
    );
}

#[test]
fn pull_queries_scan_streams_and_refuse_what_they_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let sql = format!(
        "{ORDERS}
SELECT customer, amount FROM orders WHERE id = 1 ORDER BY amount DESC;
SELECT ROWTIME, customer FROM orders WHERE amount < 2 ORDER BY ROWTIME LIMIT 1;
SELECT id, COUNT(*) FROM orders GROUP BY id;
"
    );
    let (ok, lines, err) = run_file(&dir.path().join("d"), &sql);
    assert!(!ok);
    let err = error(&lines, &err);
    assert!(
        err.contains("Pull queries don't support GROUP BY clauses."),
        "{err}"
    );
    assert_eq!(
        answers(&lines),
        vec![
            vec![r#"["cid",3.0]"#, r#"["ann",1.5]"#],
            vec![r#"[1000,"ann"]"#],
        ]
    );
    // ORDER BY belongs to pull queries.
    let (ok, lines, err) = run_file(
        &dir.path().join("e"),
        &format!("{ORDERS}SELECT * FROM orders ORDER BY id EMIT CHANGES;"),
    );
    let err = error(&lines, &err);
    assert!(
        !ok && err.contains("ORDER BY is supported in pull queries only"),
        "{err}"
    );
}

#[test]
fn windowed_tables_answer_per_window_and_bound_by_window_start() {
    let dir = tempfile::tempdir().unwrap();
    let sql = format!(
        "{ORDERS}
CREATE TABLE per_2s AS SELECT id, COUNT(*) AS n FROM orders WINDOW TUMBLING (SIZE 2 SECONDS) GROUP BY id EMIT CHANGES;
SELECT * FROM per_2s WHERE id = 1;
SELECT id, n FROM per_2s WHERE id = 1 AND WINDOWSTART >= 2000;
SELECT id, WINDOWSTART FROM per_2s WHERE WINDOWEND <= 4000 ORDER BY WINDOWSTART, id;
"
    );
    let (ok, lines, err) = run_file(&dir.path().join("d"), &sql);
    assert!(ok, "{err}");
    assert_eq!(
        answers(&lines),
        vec![
            vec!["[1,0,2000,1]", "[1,2000,4000,1]"],
            vec!["[1,1]"],
            vec!["[1,0]", "[1,2000]", "[2,2000]"],
        ]
    );
    let header = lines.iter().find_map(|l| l.get("header")).unwrap();
    assert_eq!(
        header["schema"],
        "`ID` INTEGER KEY, `WINDOWSTART` BIGINT KEY, `WINDOWEND` BIGINT KEY, `N` BIGINT"
    );
}

fn append(dir: &std::path::Path, topic: &str, records: &[(&str, Option<&str>)]) {
    let log = EmbeddedLog::open(dir, FsyncPolicy::Never).unwrap();
    if log.topic(topic).is_none() {
        log.create_topic(topic, 1).unwrap();
    }
    let recs: Vec<Record> = records
        .iter()
        .map(|(k, v)| Record {
            key: Some(k.as_bytes().to_vec()),
            value: v.map(|v| v.as_bytes().to_vec()),
            timestamp: 1,
            ..Default::default()
        })
        .collect();
    log.append(topic, 0, &recs).unwrap();
}

#[test]
fn tables_over_topics_upsert_delete_on_tombstones_and_on_delete() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    append(
        &data,
        "users",
        &[
            ("ann", Some(r#"{"AGE": 30}"#)),
            ("bob", Some(r#"{"AGE": 40}"#)),
            ("cid", Some(r#"{"AGE": 50}"#)),
            ("ann", Some(r#"{"AGE": 31}"#)),
            ("bob", None),
            ("dee", Some("not json")),
            ("eve", Some(r#"{"AGE": 20}"#)),
        ],
    );
    let sql = "CREATE TABLE users (name STRING PRIMARY KEY, age INT) WITH (kafka_topic='users', value_format='JSON');
SELECT * FROM users ORDER BY name;
DELETE FROM users WHERE name = 'ann';
DELETE FROM users WHERE age > 45;
SELECT * FROM users ORDER BY name;
SELECT * FROM users WHERE name = 'ann';
CREATE SOURCE TABLE users_again (name STRING PRIMARY KEY, age INT) WITH (kafka_topic='users', value_format='JSON');
SELECT name FROM users_again;
DELETE FROM users_again;
";
    let (ok, lines, err) = run_file(&data, sql);
    // A source table reads the same topic, and is read-only.
    assert!(!ok);
    assert!(
        error(&lines, &err)
            .contains("Cannot delete from USERS_AGAIN: it is a read-only SOURCE table."),
        "{err}"
    );
    assert_eq!(
        answers(&lines),
        vec![
            vec![r#"["ann",31]"#, r#"["cid",50]"#, r#"["eve",20]"#],
            vec![r#"["eve",20]"#],
            vec![],
            vec![r#"["eve"]"#],
        ]
    );
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["message"].as_str())
        .filter(|m| m.starts_with("Deleted"))
        .collect();
    assert_eq!(
        messages,
        vec!["Deleted 1 row from USERS.", "Deleted 1 row from USERS."]
    );
    // The deletions are tombstones on the topic, keyed as the rows were.
    let log = EmbeddedLog::open(&data, FsyncPolicy::Never).unwrap();
    let recs = log.read("users", 0, 7, 10).unwrap();
    let tombstones: Vec<(String, bool)> = recs
        .iter()
        .map(|r| {
            (
                String::from_utf8_lossy(r.record.key.as_deref().unwrap()).into_owned(),
                r.record.value.is_none(),
            )
        })
        .collect();
    assert_eq!(
        tombstones,
        vec![("ann".to_string(), true), ("cid".to_string(), true)]
    );
    // A query's table and a stream cannot be deleted from.
    let (ok, lines, err) = run_file(
        &dir.path().join("e"),
        &format!("{ORDERS}DELETE FROM totals WHERE id = 1;"),
    );
    let err = error(&lines, &err);
    assert!(
        !ok && err.contains("written by query CTAS_TOTALS_0"),
        "{err}"
    );
    let (ok, lines, err) = run_file(
        &dir.path().join("f"),
        &format!("{ORDERS}DELETE FROM orders;"),
    );
    let err = error(&lines, &err);
    assert!(!ok && err.contains("is a stream"), "{err}");
}

//! Queries over one table: a table again, keyed as its source. A row the filter rejects, and a
//! deletion, delete the key downstream (as ksqlDB's table filter forwards tombstones).

mod common;

use common::{rows, run_file};

#[test]
fn a_query_over_a_table_is_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SET 'auto.offset.reset' = 'earliest';
CREATE TABLE users (id INT PRIMARY KEY, name STRING, age INT) WITH (kafka_topic='users', value_format='JSON', partitions=1);
INSERT INTO users (id, name, age) VALUES (1, 'ann', 30);
INSERT INTO users (id, name, age) VALUES (2, 'bob', 17);
INSERT INTO users (id, name, age) VALUES (3, 'cy', 40);
INSERT INTO users (id, name, age) VALUES (1, 'ann', 15);
CREATE TABLE adults AS SELECT id, UCASE(name) AS name, age FROM users WHERE age >= 18;
SELECT * FROM adults EMIT CHANGES LIMIT 2;
SELECT * FROM adults WHERE id IN (1, 2, 3);
SELECT * FROM users WHERE id = 1;
";
    let (ok, lines, err) = run_file(&dir.path().join("d"), sql);
    assert!(ok, "{err}");
    let got: Vec<String> = rows(&lines).iter().map(|r| r.to_string()).collect();
    assert_eq!(
        got,
        [
            // The push query: the rows the filter kept, in order (deletions are not rows).
            r#"[1,"ANN",30]"#,
            r#"[3,"CY",40]"#,
            // The table now: ann turned 15 and left it.
            r#"[3,"CY",40]"#,
            r#"[1,"ann",15]"#,
        ]
    );
}

#[test]
fn tables_are_not_streams() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (statement, error)) in [
        (
            "CREATE STREAM s AS SELECT * FROM users;",
            "Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.",
        ),
        (
            "CREATE TABLE p AS SELECT * FROM users PARTITION BY name;",
            "PARTITION BY is only supported on streams: USERS is a table.",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let sql = format!(
            "CREATE TABLE users (id INT PRIMARY KEY, name STRING) WITH (kafka_topic='users', value_format='JSON', partitions=1);
{statement}"
        );
        let (ok, lines, _) = run_file(&dir.path().join(i.to_string()), &sql);
        assert!(!ok, "{statement}");
        let text = serde_json::to_string(&lines).unwrap();
        assert!(text.contains(error), "{statement}: {text}");
    }
}

/// Over HTTP: a table-to-table query, and a push query over the table it makes.
#[test]
fn table_queries_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("data"));
    let addr = server.addr.as_str();
    let (status, e) = common::http::ksql(
        addr,
        // The persistent query reads from the latest offset: the rows come after it.
        "CREATE TABLE users (id INT PRIMARY KEY, name STRING, age INT) WITH (kafka_topic='users', value_format='JSON', partitions=1);
         CREATE TABLE adults AS SELECT id, name FROM users WHERE age >= 18;
         INSERT INTO users (id, name, age) VALUES (2, 'bob', 17);
         INSERT INTO users (id, name, age) VALUES (1, 'ann', 30);",
    );
    assert_eq!(status, 200, "{e}");
    let q = r#"{"sql":"SELECT * FROM adults EMIT CHANGES LIMIT 1;","properties":{"auto.offset.reset":"earliest"}}"#;
    let (status, body) = common::http::request(addr, "POST", "/query-stream", "", q);
    assert_eq!(status, 200, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(&lines[1..], [r#"[1,"ann"]"#], "{body}");
}

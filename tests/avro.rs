//! AVRO, PROTOBUF and JSON_SR values through the whole engine, from a query file: a source
//! declared with columns or inferred from the registry, a query writing the format, a record
//! that is not in it skipped into the processing log, and what the registry holds afterwards.

mod common;

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

/// The rows of the query results among `lines`, in order.
fn rows(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| l["row"]["columns"].as_array().cloned())
        .map(Value::Array)
        .collect()
}

#[test]
fn a_query_file_reads_writes_and_infers_avro_and_skips_what_is_not() {
    reads_writes_and_infers("AVRO");
}

#[test]
fn a_query_file_reads_writes_and_infers_protobuf_and_skips_what_is_not() {
    reads_writes_and_infers("PROTOBUF");
}

#[test]
fn a_query_file_reads_writes_and_infers_json_sr_and_skips_what_is_not() {
    reads_writes_and_infers("JSON_SR");
}

/// The same statements in each format, and the same rows but for PROTOBUF's NULL strings.
fn reads_writes_and_infers(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = common::run_file(
        &data,
        &format!(
            "CREATE STREAM s (id INT KEY, amount DECIMAL(6, 2), tags ARRAY<STRING>,
           who STRUCT<name STRING>) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='{format}');
         INSERT INTO s (id, amount, tags, who) VALUES (1, 10.50, ARRAY['a'], STRUCT(name:='x'));"
        ),
    );
    assert!(ok, "{err}");
    // A record some producer wrote that is not AVRO at all.
    let mut load = Command::new(common::bin())
        .args(["--data-dir", data.to_str().unwrap(), "topic-load", "s"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        load.stdin.take().unwrap(),
        r#"{{"p":0,"o":1,"ts":1,"k":null,"v":"6e6f74206176726f","h":[]}}"#
    )
    .unwrap();
    assert!(load.wait().unwrap().success());
    let (ok, lines, err) = common::run_file(
        &data,
        &format!(
            "SET 'auto.offset.reset'='earliest';
         INSERT INTO s (id, amount) VALUES (2, 1.25);
         CREATE STREAM doubled WITH (KAFKA_TOPIC='d', VALUE_FORMAT='{format}') AS
           SELECT id, amount * 2 AS twice, tags[1] AS tag, who->name AS name FROM s;
         CREATE STREAM seen WITH (KAFKA_TOPIC='d', VALUE_FORMAT='{format}');
         SELECT * FROM doubled;
         DESCRIBE seen;
         SELECT * FROM seen;
         SELECT MESSAGE FROM KSQL_PROCESSING_LOG;"
        ),
    );
    assert!(ok, "{err}");
    let got = rows(&lines);
    // PROTOBUF has no NULL strings: the NULLs written read back as proto3's default, as in
    // ksqlDB.
    let null = if format == "PROTOBUF" { "\"\"" } else { "null" };
    let want: Vec<Value> = serde_json::from_str(&format!(
        r#"[[1, 21.00, "a", "x"], [2, 2.50, {null}, {null}],
            [21.00, "a", "x"], [2.50, {null}, {null}]]"#
    ))
    .unwrap();
    assert_eq!(got[..4], want[..], "{format}: {lines:?}");
    // The inferred stream has the sink's value columns, from the registry.
    let described = lines
        .iter()
        .find(|l| l["sourceDescription"].is_object())
        .map(|l| l["sourceDescription"]["fields"].to_string())
        .unwrap_or_default();
    assert!(
        described.contains("TWICE") && described.contains("DECIMAL(17, 2)"),
        "{format}: {described}"
    );
    let plog = got[4..]
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plog.contains("magic byte"), "{format}: {plog}");
}

#[test]
fn a_source_without_columns_needs_a_registered_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, lines, err) = common::run_file(
        &dir.path().join("data"),
        "CREATE STREAM nothing WITH (KAFKA_TOPIC='n', PARTITIONS=1, VALUE_FORMAT='AVRO');",
    );
    assert!(!ok, "{lines:?}");
    let all = format!("{lines:?}{err}");
    assert!(
        all.contains("does not exist in the Schema Registry"),
        "{all}"
    );
    assert!(all.contains("n-value"), "{all}");
}

/// With `ksql.schema.registry.url`, schemas go to that registry (here another Brooklet
/// server's) and its refusals reach the statement.
#[test]
fn an_external_registry_is_used_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let registry = common::http::start(&dir.path().join("registry"));
    let url = format!("ksql.schema.registry.url=http://{}", registry.addr);
    let sql = "SET 'auto.offset.reset'='earliest';
        CREATE STREAM s (id INT KEY, n INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1,
          VALUE_FORMAT='AVRO');
        INSERT INTO s (id, n) VALUES (1, 7);
        SELECT * FROM s;";
    let file = dir.path().join("q.sql");
    std::fs::write(&file, sql).unwrap();
    let run = |sql_file: &std::path::Path| {
        common::parse_output(
            Command::new(common::bin())
                .args(["--data-dir", dir.path().join("run").to_str().unwrap()])
                .args(["--property", &url, "--output", "json", "run"])
                .arg(sql_file)
                .output()
                .unwrap(),
        )
    };
    let (ok, lines, err) = run(&file);
    assert!(ok, "{err}");
    assert_eq!(rows(&lines), vec![serde_json::json!([1, 7])], "{lines:?}");
    let (status, body) = common::http::request(&registry.addr, "GET", "/subjects", "", "");
    assert_eq!((status, body.as_str()), (200, r#"["s-value"]"#));
    // A query whose sink's value schema cannot read what the topic's has: a CREATE over a
    // topic with a schema registers none (as ksqlDB's), a query's sink always registers.
    let other = dir.path().join("other.sql");
    std::fs::write(
        &other,
        "CREATE STREAM t (id INT KEY, n BOOLEAN) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='AVRO');
         CREATE STREAM u WITH (KAFKA_TOPIC='s', VALUE_FORMAT='AVRO') AS SELECT id, n > 0 AS n FROM s;",
    )
    .unwrap();
    let (ok, lines, err) = run(&other);
    let all = format!("{lines:?}{err}");
    assert!(!ok && all.contains("incompatible"), "{all}");
}

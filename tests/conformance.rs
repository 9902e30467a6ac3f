//! ksqlDB rules implemented from its source, on variants its QTT files do not show: magic
//! timestamps, comparison typing, GROUP BY with NULL parts, records without key or value, JSON
//! numbers read into whole-number columns, arithmetic typing.

mod common;

use brooklet::log::{EmbeddedLog, FsyncPolicy, Log, Record};
use common::{rows, run_file};

/// Runs `sql` that must fail; returns the text of its output (the error among it).
fn refused(name: &str, sql: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (ok, lines, err) = run_file(&dir.path().join(name), sql);
    assert!(!ok, "{name} ran: {lines:?}");
    format!("{} {err}", serde_json::to_string(&lines).unwrap())
}

/// The rows of the push and pull queries of `sql`, as JSON text.
fn answers(name: &str, sql: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (ok, lines, err) = run_file(&dir.path().join(name), sql);
    assert!(ok, "{name}: {err} {lines:?}");
    rows(&lines).iter().map(|r| r.to_string()).collect()
}

const EVENTS: &str = "SET 'auto.offset.reset' = 'earliest';
CREATE STREAM events (id INT KEY, v INT) WITH (kafka_topic='events', value_format='JSON', partitions=1);
INSERT INTO events (ROWTIME, id, v) VALUES (1577836800000, 1, 10);
INSERT INTO events (ROWTIME, id, v) VALUES (1609459200000, 2, 20);
INSERT INTO events (ROWTIME, id, v) VALUES (1612137600000, 3, 30);
";

#[test]
fn strings_compared_with_rowtime_are_points_in_time() {
    // 2020-01-01, 2021-01-01 and 2021-02-01 (UTC): partial texts are their period's start,
    // an offset moves the instant, and BETWEEN bounds are converted too.
    let sql = format!(
        "{EVENTS}SELECT id FROM events WHERE ROWTIME >= '2021' EMIT CHANGES LIMIT 2;
SELECT id FROM events WHERE ROWTIME BETWEEN '2020-12-31T23' AND '2021-01-15' EMIT CHANGES LIMIT 1;
SELECT id FROM events WHERE '2021-01-01T01:00:00+0100' = ROWTIME EMIT CHANGES LIMIT 1;
"
    );
    assert_eq!(answers("magic", &sql), ["[2]", "[3]", "[2]", "[2]"]);
    let text = refused(
        "magic_bad",
        &format!("{EVENTS}SELECT id FROM events WHERE ROWTIME > 'soon' EMIT CHANGES LIMIT 1;"),
    );
    assert!(text.contains("Cannot compare"), "{text}");
}

#[test]
fn comparisons_follow_ksqldb_typing() {
    for (what, clause) in [
        ("string with number", "CAST(v AS STRING) > 1"),
        ("boolean ordering", "(v > 1) < (v > 2)"),
        ("array ordering", "ARRAY[v] < ARRAY[1]"),
        ("number with string", "v = '10'"),
    ] {
        let text = refused(
            "cmp",
            &format!("{EVENTS}SELECT id FROM events WHERE {clause} EMIT CHANGES;"),
        );
        assert!(text.contains("Cannot compare"), "{what}: {text}");
    }
    // Equality of arrays, and strings with dates, are comparable.
    let sql = format!(
        "{EVENTS}SELECT id FROM events WHERE ARRAY[v] = ARRAY[20] EMIT CHANGES LIMIT 1;
SELECT id FROM events WHERE FROM_DAYS(18262) = '2020-01-01' AND v = 10 EMIT CHANGES LIMIT 1;
"
    );
    assert_eq!(answers("cmp_ok", &sql), ["[2]", "[1]"]);
    let text = refused(
        "where_type",
        &format!("{EVENTS}SELECT id FROM events WHERE v + 1 EMIT CHANGES;"),
    );
    assert!(
        text.contains("Type error in WHERE expression: Should evaluate to boolean"),
        "{text}"
    );
}

#[test]
fn arithmetic_takes_numbers_and_joins_strings() {
    for expr in [
        "ARRAY[v] + 1",
        "v * NULL",
        "MAP('a' := v) - 1",
        "(v > 1) + 1",
    ] {
        let text = refused(
            "arith",
            &format!("{EVENTS}SELECT {expr} FROM events EMIT CHANGES;"),
        );
        assert!(text.contains("Arithmetic on types"), "{expr}: {text}");
    }
    let sql = format!("{EVENTS}SELECT 'n' + CAST(v AS STRING) FROM events EMIT CHANGES LIMIT 1;");
    assert_eq!(answers("concat", &sql), [r#"["n10"]"#]);
}

#[test]
fn a_grouping_with_a_null_part_is_excluded() {
    // A windowed aggregation over two grouping expressions: rows with either one NULL do not
    // count (ksqlDB's GroupByParamsFactory), for a table source as for a stream.
    let sql = "SET 'auto.offset.reset' = 'earliest';
CREATE STREAM s (id INT KEY, a STRING, b INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);
INSERT INTO s (id, a, b) VALUES (1, 'x', 1);
INSERT INTO s (id, a, b) VALUES (2, NULL, 1);
INSERT INTO s (id, a, b) VALUES (3, 'x', NULL);
INSERT INTO s (id, a, b) VALUES (4, 'x', 1);
CREATE TABLE counts WITH (key_format='JSON') AS SELECT a, b, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY a, b;
CREATE TABLE t (id INT PRIMARY KEY, a STRING, b INT) WITH (kafka_topic='t', value_format='JSON', partitions=1);
INSERT INTO t (id, a, b) VALUES (1, 'x', 1);
INSERT INTO t (id, a, b) VALUES (2, 'x', NULL);
CREATE TABLE by_ab WITH (key_format='JSON') AS SELECT a, b, COUNT(*) AS n FROM t GROUP BY a, b;
SELECT a, b, n FROM counts EMIT CHANGES LIMIT 2;
SELECT a, b, n FROM by_ab EMIT CHANGES LIMIT 1;
";
    assert_eq!(
        answers("groups", sql),
        [r#"["x",1,1]"#, r#"["x",1,2]"#, r#"["x",1,1]"#]
    );
}

fn stream_records(data: &std::path::Path, topic: &str) -> Vec<(Option<String>, Option<String>)> {
    let log = EmbeddedLog::open(data, FsyncPolicy::Never).unwrap();
    let text = |b: Option<Vec<u8>>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
    log.read(topic, 0, 0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| (text(r.record.key), text(r.record.value)))
        .collect()
}

#[test]
fn records_without_key_or_value_keep_what_they_lack() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let log = EmbeddedLog::open(&data, FsyncPolicy::Never).unwrap();
        log.create_topic("in", 1).unwrap();
        let rec = |k: Option<&str>, v: Option<&str>| Record {
            key: k.map(|k| k.as_bytes().to_vec()),
            value: v.map(|v| v.as_bytes().to_vec()),
            ..Default::default()
        };
        log.append(
            "in",
            0,
            &[
                rec(Some(r#"{"K1":"a","K2":1}"#), Some(r#"{"V":-2.9}"#)),
                // No key: the query passes its key on, so none is written.
                rec(None, Some(r#"{"V":7}"#)),
                // No value: PARTITION BY keeps the key column it names and gives NULL for
                // the value expression.
                rec(Some(r#"{"K1":"b","K2":2}"#), None),
            ],
        )
        .unwrap();
    }
    let (ok, lines, err) = run_file(
        &data,
        "SET 'auto.offset.reset' = 'earliest';
CREATE STREAM s (k1 STRING KEY, k2 INT KEY, v BIGINT) WITH (kafka_topic='in', format='JSON');
CREATE STREAM copy AS SELECT * FROM s;
CREATE STREAM moved AS SELECT k1, v, k2 FROM s PARTITION BY k1, v;",
    );
    assert!(ok, "{err} {lines:?}");
    assert_eq!(
        stream_records(&data, "COPY"),
        [
            // A fraction read into a BIGINT is dropped toward zero, as Jackson reads it.
            (s(r#"{"K1":"a","K2":1}"#), s(r#"{"V":-2}"#)),
            (None, s(r#"{"V":7}"#)),
            (s(r#"{"K1":"b","K2":2}"#), None),
        ]
    );
    let moved = stream_records(&data, "MOVED");
    assert_eq!(moved[2], (s(r#"{"K1":"b","V":null}"#), None), "{moved:?}");
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn delimited_values_hold_only_primitive_aggregation_state() {
    let source = "CREATE STREAM d (id STRING KEY, x DOUBLE) WITH (kafka_topic='d', value_format='DELIMITED', partitions=1);\n";
    for f in [
        "AVG(x)",
        "COLLECT_LIST(x)",
        "LATEST_BY_OFFSET(x)",
        "STDDEV_SAMP(x)",
    ] {
        let text = refused(
            "delimited_state",
            &format!("{source}CREATE TABLE t AS SELECT id, {f} AS v FROM d GROUP BY id;"),
        );
        assert!(text.contains("intermediate type"), "{f}: {text}");
    }
    let sql = format!(
        "SET 'auto.offset.reset' = 'earliest';
{source}INSERT INTO d (id, x) VALUES ('a', 1.5);
INSERT INTO d (id, x) VALUES ('a', 2.0);
CREATE TABLE t AS SELECT id, SUM(x) AS s, MAX(x) AS m, COUNT(*) AS n FROM d GROUP BY id;
SELECT * FROM t EMIT CHANGES LIMIT 2;
"
    );
    assert_eq!(
        answers("delimited_sum", &sql),
        [r#"["a",1.5,1.5,1]"#, r#"["a",3.5,2.0,2]"#]
    );
}

#[test]
fn map_constructors_take_columns_as_keys_and_refuse_unknowable_types() {
    let sql = "SET 'auto.offset.reset' = 'earliest';
CREATE STREAM m (id INT KEY, k1 STRING, k2 STRING, v INT) WITH (kafka_topic='m', value_format='JSON', partitions=1);
INSERT INTO m (id, k1, k2, v) VALUES (1, 'a', 'b', 5);
SELECT MAP(k1 := v, k2 := v * 2, 'c' := CAST(NULL AS INT)) AS mm FROM m EMIT CHANGES LIMIT 1;
";
    assert_eq!(answers("maps", sql), [r#"[{"a":5,"b":10,"c":null}]"#]);
    let source = "CREATE STREAM m (id INT KEY, k1 STRING, v INT) WITH (kafka_topic='m', value_format='JSON', partitions=1);\n";
    for (expr, error) in [
        (
            "MAP(k1 := NULL)",
            "Cannot construct a map with all NULL values",
        ),
        (
            "MAP(NULL := v)",
            "Cannot construct a map with all NULL keys",
        ),
        ("MAP()", "Map constructor cannot be empty"),
    ] {
        let text = refused(
            "maps_bad",
            &format!("{source}SELECT {expr} FROM m EMIT CHANGES;"),
        );
        assert!(text.contains(error), "{expr}: {text}");
    }
}

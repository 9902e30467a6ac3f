//! The function library from a query file: SHOW FUNCTIONS and DESCRIBE FUNCTION list what
//! exists, and a persistent query calls functions of several families on every record.

mod common;

use common::http::{ksql, request, start};
use common::{rows, run_file};

#[test]
fn functions_are_listed_described_and_called() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SET 'auto.offset.reset' = 'earliest';
SHOW FUNCTIONS;
DESCRIBE FUNCTION substring;
CREATE STREAM events (id INT KEY, doc STRING, tags ARRAY<STRING>, day DATE) WITH (kafka_topic='events', value_format='JSON', partitions=1);
INSERT INTO events (id, doc, tags, day) VALUES (1, '{\"user\": {\"name\": \"ann\"}, \"n\": [1, 2]}', ARRAY['b', 'a'], FROM_DAYS(10));
INSERT INTO events (id, doc, tags, day) VALUES (2, 'not json', NULL, NULL);
CREATE STREAM facts AS SELECT id,
  EXTRACTJSONFIELD(doc, '$.user.name') AS who,
  JSON_ARRAY_LENGTH(EXTRACTJSONFIELD(doc, '$.n')) AS n,
  TRANSFORM(ARRAY_SORT(tags), t => UCASE(t)) AS tags,
  REGEXP_EXTRACT('([a-z]+)', doc, 1) AS word,
  SUBSTRING(doc, -5, 3) AS tail,
  DATEADD(DAYS, 1, day) AS next_day,
  MD5(doc) AS digest
FROM events;
SELECT * FROM facts EMIT CHANGES LIMIT 2;
";
    let (ok, lines, err) = run_file(&dir.path().join("d"), sql);
    assert!(ok, "{err}");
    let listing = |kind: &str| lines.iter().find(|l| l["@type"] == kind).unwrap().clone();
    let names = listing("function_names")["functions"].to_string();
    for f in [
        r#"{"name":"TRANSFORM","type":"SCALAR""#,
        r#"{"name":"EXPLODE","type":"TABLE""#,
        r#"{"name":"COUNT","type":"AGGREGATE""#,
        r#"{"name":"EXTRACTJSONFIELD","type":"SCALAR""#,
    ] {
        assert!(names.contains(f), "{f} in {names}");
    }
    let substring = listing("describe_function");
    assert_eq!(substring["name"], "SUBSTRING");
    assert_eq!(
        substring["functions"][1],
        serde_json::json!({"arguments": "SUBSTRING(VARCHAR, INT, INT)", "returnType": "STRING"})
    );
    let got: Vec<String> = rows(&lines).iter().map(|r| r.to_string()).collect();
    assert_eq!(
        got,
        [
            // MD5s as Python's hashlib computes them.
            r#"[1,"ann",2,["A","B"],"user",", 2",11,"f2d383c4b9151df9d7012ea3b426a2a8"]"#,
            r#"[2,null,null,null,"not"," js",null,"83e12cc6068a0f3c5555be0d55fb01bb"]"#,
        ]
    );
}

#[test]
fn decimals_wider_than_38_digits_are_read_computed_and_written() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SET 'auto.offset.reset' = 'earliest';
CREATE STREAM w (id INT KEY, d DECIMAL(50, 30), b BIGINT) WITH (kafka_topic='w', value_format='JSON', partitions=1);
CREATE STREAM wd (id INT KEY, d DECIMAL(50, 30)) WITH (kafka_topic='wd', value_format='DELIMITED', partitions=1);
INSERT INTO w (id, d, b) VALUES (1, 12345678901234567890.123456789012345678901234567890, 7);
INSERT INTO w (id, d, b) VALUES (2, -0.5, NULL);
INSERT INTO wd (id, d) VALUES (1, 12345678901234567890.123456789012345678901234567890);
SELECT id, d, d * 2, d + b, CAST(d AS STRING), d > 0 FROM w EMIT CHANGES LIMIT 2;
SELECT * FROM wd EMIT CHANGES LIMIT 1;
";
    let (ok, lines, err) = run_file(&dir.path().join("d"), sql);
    assert!(ok, "{err}");
    let got: Vec<String> = rows(&lines).iter().map(|r| r.to_string()).collect();
    let d = "12345678901234567890.123456789012345678901234567890";
    let zeros = "0".repeat(29);
    assert_eq!(
        got,
        [
            format!(
                "[1,{d},24691357802469135780.246913578024691357802469135780,\
                 12345678901234567897.123456789012345678901234567890,\"{d}\",true]"
            ),
            format!("[2,-0.5{zeros},-1.0{zeros},null,\"-0.5{zeros}\",false]"),
            format!("[1,{d}]"),
        ]
    );
}

/// An expression that fails on a record is NULL for that record (a failing filter drops it),
/// and the failure is in the processing log; the record and the query go on, as in ksqlDB:
/// in projections, filters, and aggregations.
#[test]
fn failing_expressions_are_null_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SET 'auto.offset.reset' = 'earliest';
CREATE STREAM raw (id INT KEY, g INT, s STRING) WITH (kafka_topic='raw', value_format='JSON', partitions=1);
INSERT INTO raw (id, g, s) VALUES (1, 0, '7');
INSERT INTO raw (id, g, s) VALUES (2, 0, 'seven');
INSERT INTO raw (id, g, s) VALUES (3, 0, '9');
CREATE STREAM parsed AS SELECT id, CAST(s AS INT) AS n, UCASE(s) AS u FROM raw;
CREATE STREAM big AS SELECT id, s FROM raw WHERE CAST(s AS INT) > 8;
CREATE TABLE totals AS SELECT g, SUM(CAST(s AS INT)) AS total, COUNT(*) AS n FROM raw GROUP BY g;
SELECT * FROM parsed EMIT CHANGES LIMIT 3;
SELECT * FROM big EMIT CHANGES LIMIT 1;
SELECT * FROM totals WHERE g = 0;
SELECT MESSAGE->RECORDPROCESSINGERROR->ERRORMESSAGE AS msg FROM KSQL_PROCESSING_LOG EMIT CHANGES LIMIT 3;
";
    let (ok, lines, err) = run_file(&dir.path().join("d"), sql);
    assert!(ok, "{err}");
    let got: Vec<String> = rows(&lines).iter().map(|r| r.to_string()).collect();
    assert_eq!(
        &got[..5],
        [
            r#"[1,7,"7"]"#,
            r#"[2,null,"SEVEN"]"#,
            r#"[3,9,"9"]"#,
            r#"[3,"9"]"#,
            // SUM skips the NULL; COUNT(*) counts the record.
            "[0,16,3]"
        ]
    );
    assert_eq!(got.len(), 8, "{got:?}");
    for logged in &got[5..] {
        assert!(logged.contains("Cannot cast string 'seven'"), "{logged}");
    }
}

/// Over HTTP: functions and casts in a push query, a failing cast NULL in its row, and a cast
/// ksqlDB does not have refused with its message.
#[test]
fn functions_and_casts_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let addr = server.addr.as_str();
    let (status, e) = ksql(
        addr,
        "CREATE STREAM raw (id INT KEY, s STRING) WITH (kafka_topic='raw', value_format='JSON', partitions=1);
         INSERT INTO raw (id, s) VALUES (1, '7');
         INSERT INTO raw (id, s) VALUES (2, 'seven');",
    );
    assert_eq!(status, 200, "{e}");
    let q = r#"{"sql":"SELECT id, CAST(s AS INT) AS n, CAST(CAST(s AS INT) * 1.5 AS STRING) AS t, LPAD(s, 3, '*') AS p FROM raw EMIT CHANGES LIMIT 2;","properties":{"auto.offset.reset":"earliest"}}"#;
    let (status, body) = request(addr, "POST", "/query-stream", "", q);
    assert_eq!(status, 200, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines[0].contains(r#""columnTypes":["INTEGER","INTEGER","STRING","STRING"]"#),
        "{body}"
    );
    assert_eq!(
        &lines[1..],
        [r#"[1,7,"10.5","**7"]"#, r#"[2,null,null,"sev"]"#]
    );
    let (status, e) = ksql(
        addr,
        "CREATE STREAM bad AS SELECT id, CAST(s = 'x' AS INT) AS b FROM raw;",
    );
    assert_eq!(status, 400, "{e}");
    assert_eq!(
        e["message"], "Cast of BOOLEAN to INTEGER is not supported",
        "{e}"
    );
}

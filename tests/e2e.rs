//! End-to-end tests through the `brooklet` binary: batch files, the shell, restarts, crashes.

mod common;

use brooklet::log::{EmbeddedLog, FsyncPolicy, Log, Record};
use common::{repl, rows, run_file};
use serde_json::json;
use std::io::Write;

const PAGEVIEWS: &str = "SET 'auto.offset.reset'='earliest';
CREATE STREAM pageviews (user_id STRING KEY, page STRING, ms INT) WITH (KAFKA_TOPIC='pageviews', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO pageviews (user_id, page, ms) VALUES ('alice', '/home', 1200);
INSERT INTO pageviews (user_id, page, ms) VALUES ('bob', '/cart', 300);
INSERT INTO pageviews (user_id, page, ms) VALUES ('alice', '/buy', 4500);
INSERT INTO pageviews (user_id, page, ms) VALUES ('carol', '/home', 50);
";

fn read_topic(dir: &std::path::Path, topic: &str) -> Vec<Record> {
    let log = EmbeddedLog::open(dir, FsyncPolicy::Never).unwrap();
    let parts = log.topic(topic).unwrap().partitions;
    (0..parts)
        .flat_map(|p| log.read(topic, p, 0, 1_000_000).unwrap())
        .map(|r| r.record)
        .collect()
}

/// Runs the binary on a data directory with JSON output: (success, output lines, stderr).
fn brooklet_json(data: &std::path::Path, args: &[&str]) -> (bool, Vec<serde_json::Value>, String) {
    let out = std::process::Command::new(common::bin())
        .args(["--data-dir", data.to_str().unwrap(), "--output", "json"])
        .args(args)
        .output()
        .unwrap();
    common::parse_output(out)
}

fn value_json(r: &Record) -> serde_json::Value {
    serde_json::from_slice(r.value.as_ref().unwrap()).unwrap()
}

#[test]
fn csas_with_filter_and_projection_writes_its_topic() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sql = format!(
        "{PAGEVIEWS}CREATE STREAM long_views AS SELECT user_id, UCASE(page) AS page, ms * 2 AS double_ms FROM pageviews WHERE ms >= 1000;"
    );
    let sql = sql.replace("UCASE", "UPPER");
    let (ok, lines, err) = run_file(&data, &sql);
    assert!(ok, "{err}");
    assert!(
        lines.iter().any(|l| l["queryId"] == "CSAS_LONG_VIEWS_0"),
        "{lines:?}"
    );
    let out = read_topic(&data, "LONG_VIEWS");
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].key.as_deref(), Some(&b"alice"[..]));
    assert_eq!(
        value_json(&out[0]),
        json!({"PAGE": "/HOME", "DOUBLE_MS": 2400})
    );
    assert_eq!(
        value_json(&out[1]),
        json!({"PAGE": "/BUY", "DOUBLE_MS": 9000})
    );
    // Output records keep the input records' timestamps.
    let input = read_topic(&data, "pageviews");
    assert_eq!(out[1].timestamp, input[2].timestamp);
}

#[test]
fn push_query_with_limit_returns_exactly_those_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sql = format!("{PAGEVIEWS}SELECT user_id, page FROM pageviews WHERE ms > 100 EMIT CHANGES LIMIT 2;\nSHOW STREAMS;");
    let (ok, lines, err) = run_file(&data, &sql);
    assert!(ok, "{err}");
    assert_eq!(
        rows(&lines),
        vec![json!(["alice", "/home"]), json!(["bob", "/cart"])]
    );
    assert!(lines.iter().any(|l| l["finalMessage"] == "Limit Reached"));
    let header = lines.iter().find_map(|l| l.get("header")).unwrap();
    assert_eq!(header["schema"], "`USER_ID` STRING, `PAGE` STRING");
    // Without LIMIT a batch file's push query ends when the input is consumed.
    let (ok, lines, _) = run_file(
        &data,
        "SET 'auto.offset.reset'='earliest';\nSELECT page FROM pageviews EMIT CHANGES;",
    );
    assert!(ok);
    assert_eq!(rows(&lines).len(), 4);
    assert!(lines.iter().any(|l| l["finalMessage"] == "Query Completed"));
}

#[test]
fn catalog_and_queries_survive_a_restart_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = run_file(
        &data,
        &format!("{PAGEVIEWS}CREATE STREAM copy AS SELECT * FROM pageviews;"),
    );
    assert!(ok, "{err}");
    assert_eq!(read_topic(&data, "COPY").len(), 4);
    // Second run: the stream and query come back; new input is processed once.
    let (ok, lines, err) =
        run_file(&data, "INSERT INTO pageviews (user_id, page, ms) VALUES ('dave', '/x', 1);\nSHOW QUERIES;\nDESCRIBE copy;");
    assert!(ok, "{err}");
    let queries = lines.iter().find(|l| l["@type"] == "queries").unwrap();
    assert_eq!(queries["queries"][0]["id"], "CSAS_COPY_0");
    let out = read_topic(&data, "COPY");
    assert_eq!(
        out.len(),
        5,
        "{:?}",
        out.iter().map(value_json).collect::<Vec<_>>()
    );
    assert_eq!(value_json(&out[4]), json!({"PAGE": "/x", "MS": 1}));
}

#[test]
fn statement_errors_and_syntax_errors_are_reported_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, lines, _) = run_file(&data, "SHOW STREAMS;\nSELECT * FORM t EMIT CHANGES;");
    assert!(!ok);
    let err = lines.iter().find(|l| l["@type"] == "error").unwrap();
    assert_eq!(err["kind"], "Parse");
    assert!(
        err["message"].as_str().unwrap().starts_with("line 2:10:"),
        "{err}"
    );
    let (ok, lines, _) = run_file(&data, "SELECT * FROM nope EMIT CHANGES;");
    assert!(!ok);
    assert_eq!(lines[0]["kind"], "Statement");
    assert_eq!(lines[0]["message"], "NOPE does not exist.");
}

#[test]
fn malformed_records_go_to_the_processing_log_and_the_query_continues() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let log = EmbeddedLog::open(&data, FsyncPolicy::Never).unwrap();
        log.create_topic("raw", 1).unwrap();
        let rec = |v: &str| Record {
            value: Some(v.as_bytes().to_vec()),
            timestamp: 7,
            ..Default::default()
        };
        log.append(
            "raw",
            0,
            &[
                rec(r#"{"id": 1}"#),
                rec("{not json"),
                rec(r#"{"id": "x"}"#),
                rec(r#"{"ID": 4}"#),
            ],
        )
        .unwrap();
    }
    let sql = "SET 'auto.offset.reset'='earliest';
CREATE STREAM raw (id INT) WITH (KAFKA_TOPIC='raw', VALUE_FORMAT='JSON');
CREATE STREAM ids AS SELECT id * 10 AS id10 FROM raw;
SELECT MESSAGE->DESERIALIZATIONERROR->TOPIC AS topic, MESSAGE->DESERIALIZATIONERROR->ERRORMESSAGE AS msg FROM KSQL_PROCESSING_LOG EMIT CHANGES;";
    let (ok, lines, err) = run_file(&data, sql);
    assert!(ok, "{err}");
    let out: Vec<serde_json::Value> = read_topic(&data, "IDS").iter().map(value_json).collect();
    assert_eq!(out, vec![json!({"ID10": 10}), json!({"ID10": 40})]);
    let errors = rows(&lines);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|e| e[0] == "raw"));
    assert!(
        errors[0][1].as_str().unwrap().contains("JSON"),
        "{errors:?}"
    );
}

/// A record whose timestamp column holds no time goes to the processing log and the query
/// goes on; with `ksql.timestamp.throw.on.invalid` it stops the query instead.
#[test]
fn invalid_timestamps_are_skipped_or_fatal_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let script = |fail: bool| {
        format!(
            "SET 'auto.offset.reset'='earliest';
SET 'ksql.timestamp.throw.on.invalid' = '{fail}';
CREATE STREAM raw (k STRING KEY, id BIGINT, ts STRING) WITH (kafka_topic='raw', value_format='JSON', partitions=1, timestamp='ts', timestamp_format='yyyy-MM-dd');
INSERT INTO raw (k, id, ts) VALUES ('a', 1, '2020-01-02');
INSERT INTO raw (k, id, ts) VALUES ('b', 2, 'not a date');
INSERT INTO raw (k, id, ts) VALUES ('c', 3, '2020-01-03');
CREATE STREAM out AS SELECT k, id FROM raw;"
        )
    };
    let skipping = dir.path().join("skip");
    let (ok, _, err) = run_file(&skipping, &script(false));
    assert!(ok, "{err}");
    let ids: Vec<serde_json::Value> = read_topic(&skipping, "OUT")
        .iter()
        .map(value_json)
        .collect();
    assert_eq!(ids, vec![json!({"ID": 1}), json!({"ID": 3})]);
    let failing = dir.path().join("fail");
    let (_, _, err) = run_file(&failing, &script(true));
    assert!(
        err.contains("Fatal user code error in TimestampExtractor callback"),
        "{err}"
    );
    assert!(read_topic(&failing, "OUT").is_empty());
}

#[test]
fn torn_log_tail_is_recovered_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let log = EmbeddedLog::open(&data, FsyncPolicy::Always).unwrap();
        log.create_topic("t", 1).unwrap();
        let recs: Vec<Record> = (0..5)
            .map(|i| Record {
                value: Some(format!(r#"{{"N": {i}}}"#).into_bytes()),
                ..Default::default()
            })
            .collect();
        // Two appends, two batches: 0..4 and 4.
        log.append("t", 0, &recs[..4]).unwrap();
        log.append("t", 0, &recs[4..]).unwrap();
    }
    let seg = data.join("topics/t/0").join(format!("{:020}.log", 0));
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let sql = "SET 'auto.offset.reset'='earliest';
CREATE STREAM t (n INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');
SELECT n FROM t EMIT CHANGES;";
    let (ok, lines, err) = run_file(&data, sql);
    assert!(ok, "{err}");
    assert_eq!(
        rows(&lines),
        vec![json!([0]), json!([1]), json!([2]), json!([3])]
    );
    assert!(err.contains("truncated a torn tail"), "{err}");
}

#[test]
fn the_shell_runs_multi_line_statements() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = "SET 'auto.offset.reset'='earliest';
CREATE STREAM s (id INT KEY, name STRING)
  WITH (KAFKA_TOPIC='s', PARTITIONS=2, VALUE_FORMAT='JSON');
INSERT INTO s (id, name) VALUES (1, 'one'); INSERT INTO s (id, name) VALUES (2, 'two');
SELECT name FROM s
  WHERE id = 2 EMIT CHANGES LIMIT 1;
help
SELECT * FORM s;
exit
";
    let (ok, out, err) = repl(&data, input);
    assert!(ok, "{err}");
    assert!(out.contains("Stream created"), "{out}");
    assert!(out.contains("|two"), "{out}");
    assert!(out.contains("Limit Reached"), "{out}");
    assert!(err.contains("line 1:10"), "{err}");
}

#[test]
fn group_by_aggregates_per_record_and_resumes_its_state_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sql = format!(
        "{PAGEVIEWS}CREATE TABLE per_user AS SELECT user_id, COUNT(*) AS views, SUM(ms) AS total, MIN(page) AS first_page, AVG(ms) AS avg_ms FROM pageviews WHERE ms > 100 GROUP BY user_id HAVING SUM(ms) < 5000;"
    );
    let (ok, lines, err) = run_file(&data, &sql);
    assert!(ok, "{err}");
    assert!(
        lines.iter().any(|l| l["queryId"] == "CTAS_PER_USER_0"),
        "{lines:?}"
    );
    let view = |r: &Record| {
        (
            String::from_utf8(r.key.clone().unwrap()).unwrap(),
            r.value.as_ref().map(|_| value_json(r)),
        )
    };
    let out = read_topic(&data, "PER_USER");
    assert_eq!(
        out.iter().map(view).collect::<Vec<_>>(),
        vec![
            (
                "alice".to_string(),
                Some(json!({"VIEWS": 1, "TOTAL": 1200, "FIRST_PAGE": "/home", "AVG_MS": 1200.0}))
            ),
            (
                "bob".to_string(),
                Some(json!({"VIEWS": 1, "TOTAL": 300, "FIRST_PAGE": "/cart", "AVG_MS": 300.0}))
            ),
            // alice's group stops matching HAVING: a tombstone (carol's never matched WHERE).
            ("alice".to_string(), None),
        ]
    );
    // After a restart the state is rebuilt from the input: bob's count goes on from 1, and a
    // group that stops matching after the restart still gets its tombstone.
    let more = "INSERT INTO pageviews (user_id, page, ms) VALUES ('bob', '/a', 200);\nINSERT INTO pageviews (user_id, page, ms) VALUES ('alice', '/b', 300);\nINSERT INTO pageviews (user_id, page, ms) VALUES ('bob', '/c', 4600);";
    let (ok, _, err) = run_file(&data, more);
    assert!(ok, "{err}");
    let out = read_topic(&data, "PER_USER");
    assert_eq!(
        out[3..].iter().map(view).collect::<Vec<_>>(),
        vec![
            (
                "bob".to_string(),
                Some(json!({"VIEWS": 2, "TOTAL": 500, "FIRST_PAGE": "/a", "AVG_MS": 250.0}))
            ),
            ("bob".to_string(), None),
        ]
    );
    let input = read_topic(&data, "pageviews");
    assert_eq!(
        out[3].timestamp, input[4].timestamp,
        "an aggregate carries the latest contributing timestamp"
    );
}

#[test]
fn tumbling_windows_key_their_results_and_push_queries_aggregate_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sql = "SET 'auto.offset.reset'='earliest';
CREATE STREAM clicks (user_id STRING KEY, page STRING) WITH (KAFKA_TOPIC='clicks', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO clicks (ROWTIME, user_id, page) VALUES (1000, 'a', '/x');
INSERT INTO clicks (ROWTIME, user_id, page) VALUES (1500, 'a', '/y');
INSERT INTO clicks (ROWTIME, user_id, page) VALUES (2100, 'a', '/z');
INSERT INTO clicks (ROWTIME, user_id, page) VALUES (9000, 'b', '/z');
INSERT INTO clicks (ROWTIME, user_id, page) VALUES (1200, 'a', '/late');
CREATE TABLE per_second AS SELECT user_id, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS n
  FROM clicks WINDOW TUMBLING (SIZE 1 SECOND, GRACE PERIOD 2 SECONDS) GROUP BY user_id;
CREATE TABLE final_per_second AS SELECT user_id, COUNT(*) AS n
  FROM clicks WINDOW TUMBLING (SIZE 1 SECOND, GRACE PERIOD 2 SECONDS) GROUP BY user_id EMIT FINAL;
SELECT page, COUNT(*) AS n FROM clicks GROUP BY page EMIT CHANGES LIMIT 4;";
    let (ok, lines, err) = run_file(&data, sql);
    assert!(ok, "{err}");
    let out = read_topic(&data, "PER_SECOND");
    let windowed: Vec<(Vec<u8>, serde_json::Value, i64)> = out
        .iter()
        .map(|r| (r.key.clone().unwrap(), value_json(r), r.timestamp))
        .collect();
    let key = |k: &str, start: i64| [k.as_bytes(), &start.to_be_bytes()].concat();
    assert_eq!(
        windowed,
        vec![
            (
                key("a", 1000),
                json!({"WS": 1000, "WE": 2000, "N": 1}),
                1000
            ),
            (
                key("a", 1000),
                json!({"WS": 1000, "WE": 2000, "N": 2}),
                1500
            ),
            (
                key("a", 2000),
                json!({"WS": 2000, "WE": 3000, "N": 1}),
                2100
            ),
            (
                key("b", 9000),
                json!({"WS": 9000, "WE": 10000, "N": 1}),
                9000
            ),
            // The record at 1200 arrives after stream time 9000 passed its window's end + grace: dropped.
        ]
    );
    // EMIT FINAL: each window once, when stream time (9000) passes its end + grace; b's window
    // is still open when the input ends, and the end of the bounded run closes it.
    let finals: Vec<(Vec<u8>, serde_json::Value, i64)> = read_topic(&data, "FINAL_PER_SECOND")
        .iter()
        .map(|r| (r.key.clone().unwrap(), value_json(r), r.timestamp))
        .collect();
    assert_eq!(
        finals,
        vec![
            (key("a", 1000), json!({"N": 2}), 1500),
            (key("a", 2000), json!({"N": 1}), 2100),
            (key("b", 9000), json!({"N": 1}), 9000)
        ]
    );
    assert_eq!(
        rows(&lines),
        vec![
            json!(["/x", 1]),
            json!(["/y", 1]),
            json!(["/z", 1]),
            json!(["/z", 2])
        ]
    );
    // The late record is counted (and still after a restart, which rebuilds the state).
    let (ok, lines, err) = run_file(&data, "DESCRIBE per_second EXTENDED;");
    assert!(ok, "{err}");
    assert_eq!(
        lines[0]["sourceDescription"]["lateRecords"],
        json!(1),
        "{lines:?}"
    );
    // Without checkpoints a restart rebuilds the windows by replay, and its end-of-run flush
    // does not write the final results a second time.
    std::fs::remove_dir_all(data.join("state")).unwrap();
    let (ok, _, err) = run_file(&data, "SHOW QUERIES;");
    assert!(ok, "{err}");
    assert_eq!(read_topic(&data, "FINAL_PER_SECOND").len(), 3);
}

/// The example query files run as the README says, and `queries/windows.sql` gives its final
/// windows and sessions (the end of the bounded run closes them).
#[test]
fn example_query_files_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/queries/").to_string() + name)
            .unwrap()
    };
    let (ok, _, err) = run_file(&dir.path().join("quickstart"), &file("quickstart.sql"));
    assert!(ok, "{err}");
    // The generator's hot auctions: bid counts of closed 10-second windows.
    let (ok, lines, err) = run_file(
        &dir.path().join("generated"),
        &file("nexmark/generated.sql"),
    );
    assert!(ok, "{err}");
    let hot = rows(&lines);
    assert!(hot.len() >= 10, "{hot:?}");
    assert!(hot.iter().all(|r| r[2].as_i64().unwrap() > 300), "{hot:?}");
    let (ok, lines, err) = run_file(&dir.path().join("windows"), &file("windows.sql"));
    assert!(ok, "{err}");
    let printed: Vec<String> = lines
        .iter()
        .filter_map(|l| l["record"].as_str())
        .map(|r| r[r.find("key: ").unwrap()..r.find(", partition").unwrap()].to_string())
        .collect();
    assert_eq!(
        printed,
        vec![
            r#"key: [alice@1767261600000/1767261660000], value: {"MINUTE":"10:00","CLICKS":3,"PAGES":["/home","/cart","/pay"]}"#,
            r#"key: [bob@1767261600000/1767261660000], value: {"MINUTE":"10:00","CLICKS":1,"PAGES":["/home"]}"#,
            r#"key: [bob@1767261660000/1767261720000], value: {"MINUTE":"10:01","CLICKS":1,"PAGES":["/help"]}"#,
            r#"key: [alice@1767261960000/1767262020000], value: {"MINUTE":"10:06","CLICKS":1,"PAGES":["/home"]}"#,
            r#"key: [alice@1767261600000/1767261650000], value: {"CLICKS":3,"SECONDS":50,"ENTRY_PAGE":"/home","EXIT_PAGE":"/pay"}"#,
            r#"key: [bob@1767261625000/1767261700000], value: {"CLICKS":2,"SECONDS":75,"ENTRY_PAGE":"/home","EXIT_PAGE":"/help"}"#,
            r#"key: [alice@1767262000000/1767262000000], value: {"CLICKS":1,"SECONDS":0,"ENTRY_PAGE":"/home","EXIT_PAGE":"/home"}"#,
        ]
    );
}

/// A restart loads the aggregation state from its checkpoint and gives the same results as
/// one that rebuilds it by replaying the whole input (the checkpoint removed).
#[test]
fn aggregations_resume_from_checkpoints_as_from_a_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let setup = "SET 'auto.offset.reset'='earliest';
CREATE STREAM events (id INT KEY, team STRING, score DOUBLE, tag STRING)
  WITH (KAFKA_TOPIC='events', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE TABLE members (name STRING PRIMARY KEY, team STRING, age INT)
  WITH (KAFKA_TOPIC='members', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE TABLE stats AS SELECT team, COUNT(*) AS n, AVG(score) AS avg, STDDEV_SAMP(score) AS sd,
  TOPK(score, 2) AS top, COLLECT_SET(tag) AS tags, HISTOGRAM(tag) AS hist,
  EARLIEST_BY_OFFSET(tag, 2) AS first_tags, LATEST_BY_OFFSET(score) AS last,
  COUNT_DISTINCT(tag) AS distinct_tags
  FROM events GROUP BY team;
CREATE TABLE teams AS SELECT team, COUNT(*) AS members, SUM(age) AS ages,
  COLLECT_LIST(name) AS names FROM members GROUP BY team;
INSERT INTO events (id, team, score, tag) VALUES (1, 'red', 1.5, 'a');
INSERT INTO events (id, team, score, tag) VALUES (2, 'blue', 4.0, 'b');
INSERT INTO events (id, team, score, tag) VALUES (3, 'red', 2.5, 'b');
INSERT INTO members (name, team, age) VALUES ('ann', 'red', 30);
INSERT INTO members (name, team, age) VALUES ('bo', 'red', 40);
INSERT INTO members (name, team, age) VALUES ('cy', 'blue', 50);";
    let (ok, _, err) = run_file(&first, setup);
    assert!(ok, "{err}");
    let checkpoints: Vec<_> = std::fs::read_dir(first.join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        checkpoints.iter().any(|c| c.starts_with("CTAS_STATS")),
        "{checkpoints:?}"
    );
    let second = dir.path().join("second");
    common::copy_dir(&first, &second);
    std::fs::remove_dir_all(second.join("state")).unwrap();
    // A third copy with damaged checkpoints: they are reported and ignored (full replay).
    let third = dir.path().join("third");
    common::copy_dir(&first, &third);
    for c in &checkpoints {
        let path = third.join("state").join(c);
        let mut data = std::fs::read(&path).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        std::fs::write(&path, data).unwrap();
    }
    let more = "INSERT INTO events (id, team, score, tag) VALUES (4, 'red', 9.0, 'a');
INSERT INTO events (id, team, score, tag) VALUES (5, 'blue', 1.0, 'c');
INSERT INTO members (name, team, age) VALUES ('bo', 'blue', 41);
INSERT INTO members (name, team, age) VALUES ('ann', 'red', 31);";
    for data in [&first, &second, &third] {
        let (ok, _, err) = run_file(data, more);
        assert!(ok, "{err}");
        // Only the damaged checkpoints are ignored; the first restores from its own.
        assert_eq!(
            err.contains("ignoring a damaged checkpoint"),
            data == &third,
            "{err}"
        );
        assert!(!err.contains("ignoring checkpoint"), "{err}");
    }
    for topic in ["STATS", "TEAMS"] {
        let values = |d: &std::path::Path| -> Vec<serde_json::Value> {
            read_topic(d, topic).iter().map(value_json).collect()
        };
        let (restored, replayed) = (values(&first), values(&second));
        assert_eq!(restored, replayed, "{topic}");
        assert_eq!(values(&third), replayed, "{topic}");
        assert!(restored.len() >= 5, "{topic}: {restored:?}");
    }
    // The table aggregation retracted bo's and ann's old rows.
    let teams = read_topic(&first, "TEAMS");
    let last = value_json(teams.last().unwrap());
    assert_eq!(last, json!({"MEMBERS": 1, "AGES": 31, "NAMES": ["ann"]}));
}

/// A file goes into a topic through a FileStreamSource connector, a query transforms it, a
/// FileStreamSink writes the result to a file; `--define` and DEFINE fill `${variables}`; a
/// restart resumes the connectors instead of reading the file again.
#[test]
fn file_connectors_and_variables() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"a\": 1}\n{\"a\": 2}\nnot json\n{\"a\": 3}\n").unwrap();
    let sql = "DEFINE out = 'out.jsonl';
CREATE SOURCE CONNECTOR src WITH ('connector.class'='FileStreamSource', 'file'='${dir}/in.jsonl', 'topic'='nums');
SET 'auto.offset.reset'='earliest';
CREATE STREAM nums (a INT) WITH (KAFKA_TOPIC='nums', VALUE_FORMAT='JSON');
CREATE STREAM doubled AS SELECT a * 2 AS b FROM nums;
CREATE SINK CONNECTOR snk WITH ('connector.class'='org.apache.kafka.connect.file.FileStreamSinkConnector', 'file'='${dir}/${out}', 'topics'='DOUBLED');
SHOW VARIABLES;
SHOW CONNECTORS;";
    let file = dir.path().join("q.sql");
    std::fs::write(&file, sql).unwrap();
    let run = |args: &[&str]| brooklet_json(&data, args);
    let define = format!("dir={}", dir.path().display());
    let (ok, lines, err) = run(&["--define", &define, "run", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    let vars = lines.iter().find(|l| l.get("variables").is_some()).unwrap();
    assert_eq!(vars["variables"].as_array().unwrap().len(), 2, "{vars}");
    let out = dir.path().join("out.jsonl");
    // The line that is not JSON went to the processing log; the others through.
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"B\":2}\n{\"B\":4}\n{\"B\":6}\n"
    );
    let (ok, lines, err) = run(&["topic-stats", "DOUBLED", "--sum", "B"]);
    assert!(ok, "{err}");
    assert_eq!(lines[0]["records"], json!(3));
    assert_eq!(lines[0]["sums"]["B"], json!("12"));
    // A restart resumes: only the new line is read and written.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .unwrap()
        .write_all(b"{\"a\": 10}\n")
        .unwrap();
    std::fs::write(file.with_extension("show"), "SHOW CONNECTORS;").unwrap();
    let (ok, lines, err) = run(&["run", file.with_extension("show").to_str().unwrap()]);
    assert!(ok, "{err}");
    let connectors = lines[0]["connectors"].as_array().unwrap();
    // Both connectors came back with the catalog.
    let names: Vec<&str> = connectors
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, vec!["SNK", "SRC"]);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"B\":2}\n{\"B\":4}\n{\"B\":6}\n{\"B\":20}\n"
    );
}

/// A file of many batches goes into its topic whole (every line once, in order; CRLF line ends
/// and a last line without one), and a restart reads only what was appended since.
#[test]
fn a_file_source_reads_a_large_file_whole_and_then_only_what_was_added() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = dir.path().join("big.jsonl");
    let line = |i: u64| format!("{{\"N\": {i}, \"PAD\": \"{}\"}}", "x".repeat(100));
    let mut text = String::new();
    for i in 1..=60_000u64 {
        text += &line(i);
        text += if i % 7 == 0 { "\r\n" } else { "\n" };
    }
    text.pop();
    std::fs::write(&input, &text).unwrap();
    let sql = "CREATE SOURCE CONNECTOR src WITH ('connector.class'='FileStreamSource', 'file'='${dir}/big.jsonl', 'topic'='big');";
    let file = dir.path().join("q.sql");
    std::fs::write(&file, sql).unwrap();
    let define = format!("dir={}", dir.path().display());
    let run = |args: &[&str]| brooklet_json(&data, args);
    let (ok, _, err) = run(&["--define", &define, "run", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    let values: Vec<String> = read_topic(&data, "big")
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(values.len(), 60_000);
    assert!(values
        .iter()
        .enumerate()
        .all(|(i, v)| *v == line(i as u64 + 1)));
    // The last line had no line end: appending to it adds a line after it.
    let mut more = std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .unwrap();
    more.write_all(format!("\n{}\n", line(60_001)).as_bytes())
        .unwrap();
    // The connector comes back with the catalog and goes on where it stopped.
    let show = dir.path().join("show.sql");
    std::fs::write(&show, "SHOW CONNECTORS;").unwrap();
    let (ok, _, err) = run(&["run", show.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, lines, err) = run(&["topic-stats", "big", "--sum", "N"]);
    assert!(ok, "{err}");
    assert_eq!(lines[0]["records"], json!(60_001));
    assert_eq!(
        lines[0]["sums"]["N"],
        json!((60_001u64 * 60_002 / 2).to_string())
    );
}

/// In the shell, a source connector still loading reports its progress after each statement.
#[test]
fn the_shell_shows_the_progress_of_long_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = repl(
        &dir.path().join("data"),
        "CREATE SOURCE CONNECTOR gen WITH ('connector.class'='Nexmark', 'bids'='1000000', 'throttle'='1000');\nSHOW STREAMS;\n",
    );
    assert!(ok, "{err}");
    assert!(err.contains("Connector GEN is loading: "), "{err}");
    assert!(
        err.contains("%, ") && err.contains("records so far."),
        "{err}"
    );
}

/// DROP ... DELETE TOPIC, then a source of the same name again: a restart (which replays the
/// statements) keeps the new topic's records.
#[test]
fn a_dropped_and_recreated_sink_keeps_its_records_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = run_file(
        &data,
        "SET 'auto.offset.reset'='earliest';
CREATE STREAM s (k INT KEY, v INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO s (k, v) VALUES (1, 1);
CREATE STREAM o AS SELECT k, v FROM s;",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run_file(&data, "TERMINATE ALL; DROP STREAM o DELETE TOPIC;");
    assert!(ok, "{err}");
    let (ok, _, err) = run_file(
        &data,
        "SET 'auto.offset.reset'='earliest';
CREATE STREAM o AS SELECT k, v + 1 AS w FROM s;",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run_file(&data, "SHOW QUERIES;");
    assert!(ok, "{err}");
    let out = read_topic(&data, "O");
    assert_eq!(out.len(), 1);
    assert_eq!(value_json(&out[0]), json!({"W": 2}));
}

/// INSERT INTO casts into the sink's DECIMAL columns as ksqlDB does: a number literal that
/// fits without rounding, and a DECIMAL with no more digits before or after the point; any
/// other difference is refused.
#[test]
fn insert_into_casts_numbers_into_the_sinks_decimals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let setup = "SET 'auto.offset.reset'='earliest';
CREATE STREAM src (id INT KEY, d DECIMAL(3,1)) WITH (KAFKA_TOPIC='src', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE STREAM wide (id INT KEY, d DECIMAL(6,3)) WITH (KAFKA_TOPIC='wide', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE STREAM dst (id INT KEY, d DECIMAL(5,2), n DECIMAL(5,2)) WITH (KAFKA_TOPIC='dst', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO src (id, d) VALUES (1, 12.5);
INSERT INTO dst SELECT id, d, 7 AS n FROM src;";
    let (ok, _, err) = run_file(&data, setup);
    assert!(ok, "{err}");
    let out = read_topic(&data, "dst");
    assert_eq!(out.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(out[0].value.as_deref().unwrap()),
        r#"{"D":12.50,"N":7.00}"#
    );
    for refused in [
        // Three digits after the point do not fit two.
        "INSERT INTO dst SELECT id, d, 1.125 AS n FROM src;",
        // Neither does a DECIMAL(6,3).
        "INSERT INTO dst SELECT id, d, d AS n FROM wide;",
        // Nor a DOUBLE column.
        "INSERT INTO dst SELECT id, d, CAST(d AS DOUBLE) AS n FROM src;",
    ] {
        let said = common::run_file_refused(&data, refused);
        assert!(
            said.contains("Incompatible schema between results and sink"),
            "{refused}: {said}"
        );
    }
}

/// A push query may aggregate without GROUP BY: every row is one group, and each row updates
/// it (ksqlDB's `SELECT COUNT(*) FROM s EMIT CHANGES`). A persistent query may not.
#[test]
fn push_queries_aggregate_without_group_by() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sql = format!(
        "{PAGEVIEWS}SELECT COUNT(*) AS views, SUM(ms) AS total FROM pageviews EMIT CHANGES LIMIT 4;
SELECT COUNT(*) AS views FROM pageviews WHERE ms > 100 HAVING COUNT(*) > 1 EMIT CHANGES LIMIT 2;"
    );
    let (ok, lines, err) = run_file(&data, &sql);
    assert!(ok, "{err}");
    assert_eq!(
        rows(&lines),
        vec![
            json!([1, 1200]),
            json!([2, 1500]),
            json!([3, 6000]),
            json!([4, 6050]),
            json!([2]),
            json!([3])
        ]
    );
    let said = common::run_file_refused(
        &data,
        "CREATE STREAM counted AS SELECT COUNT(*) AS views FROM pageviews;",
    );
    assert!(
        said.contains("Aggregate query needs GROUP BY clause"),
        "{said}"
    );
}

/// INSERT VALUES fits a struct to its column by field name, as ksqlDB's coercer: a field
/// the value lacks is NULL, one the column lacks is left out.
#[test]
fn insert_values_fits_structs_to_their_column_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sql = "CREATE STREAM s (id INT KEY, st STRUCT<a INT, b STRING>) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO s (id, st) VALUES (1, STRUCT(b := 'x'));
INSERT INTO s (id, st) VALUES (2, STRUCT(b := 'y', extra := 3, a := 7));";
    let (ok, _, err) = run_file(&data, sql);
    assert!(ok, "{err}");
    let out: Vec<serde_json::Value> = read_topic(&data, "s").iter().map(value_json).collect();
    assert_eq!(
        out,
        vec![
            json!({"ST": {"A": null, "B": "x"}}),
            json!({"ST": {"A": 7, "B": "y"}})
        ]
    );
}

//! Crash safety: kill -9 during a running persistent query, restart, and the sink holds every
//! result exactly once; and the mechanism behind it, tested deterministically.

mod common;

use brooklet::exec::persistent::consumer_group;
use brooklet::log::{EmbeddedLog, FsyncPolicy, Log, Record};
use brooklet::{Engine, EngineConfig, Session};
use std::process::Command;
use std::time::{Duration, Instant};

const N: usize = 200_000;

/// Writes `per_partition` records to each of the topic `input`'s partitions.
fn write_input(
    dir: &std::path::Path,
    partitions: u32,
    per_partition: usize,
    record: impl Fn(u32, usize) -> Record,
) {
    write_topic(dir, "input", partitions, per_partition, record)
}

fn write_topic(
    dir: &std::path::Path,
    topic: &str,
    partitions: u32,
    per_partition: usize,
    record: impl Fn(u32, usize) -> Record,
) {
    let log = EmbeddedLog::open(dir, FsyncPolicy::Never).unwrap();
    log.create_topic(topic, partitions).unwrap();
    for p in 0..partitions {
        let recs: Vec<Record> = (0..per_partition).map(|i| record(p, i)).collect();
        log.append(topic, p, &recs).unwrap();
    }
}

const QUERY: &str = "SET 'auto.offset.reset'='earliest';
CREATE STREAM input (k STRING KEY, n BIGINT, p INT) WITH (KAFKA_TOPIC='input', VALUE_FORMAT='JSON');
CREATE STREAM output WITH (PARTITIONS=3) AS SELECT k, n, p, n % 7 AS m FROM input WHERE n % 3 <> 1;
";

fn check_output(dir: &std::path::Path) {
    let log = EmbeddedLog::open(dir, FsyncPolicy::Never).unwrap();
    let mut seen = vec![[0u32; 2]; N / 2];
    let mut count = 0;
    for p in 0..3 {
        for r in log.read("OUTPUT", p, 0, usize::MAX).unwrap() {
            let v: serde_json::Value =
                serde_json::from_slice(r.record.value.as_ref().unwrap()).unwrap();
            let (n, part) = (
                v["N"].as_u64().unwrap() as usize,
                v["P"].as_u64().unwrap() as usize,
            );
            seen[n][part] += 1;
            count += 1;
        }
    }
    let expected = (0..N / 2).filter(|n| n % 3 != 1).count() * 2;
    let dupes = seen.iter().flatten().filter(|c| **c > 1).count();
    assert_eq!(dupes, 0, "duplicated outputs");
    assert_eq!(count, expected, "missing outputs");
}

fn committed_input(dir: &std::path::Path, query: &str) -> u64 {
    let hex: String = consumer_group(query)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::read_to_string(dir.join("groups").join(hex))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("input "))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Runs `sql` with `--follow` and SIGKILLs it once `query` has committed some input but not
/// all `total` records; then a bounded run restarts the queries to the end of the input.
fn kill_then_restart(data: &std::path::Path, sql: &str, query: &str, total: u64) -> String {
    let file = data.with_extension("follow.sql");
    std::fs::write(&file, sql).unwrap();
    let mut child = Command::new(common::bin())
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "run",
            "--follow",
            file.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut killed_at = 0;
    while start.elapsed() < Duration::from_secs(60) {
        let done = committed_input(data, query);
        if done > 0 {
            killed_at = done;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(killed_at > 0, "the query never committed");
    assert!(
        killed_at < total,
        "the query finished before it could be killed; make the input larger"
    );
    let (ok, _, err) = common::run_file(data, "SHOW QUERIES;");
    assert!(ok, "{err}");
    err
}

#[test]
fn kill_9_during_a_persistent_query_then_restart_gives_complete_output_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_input(&data, 2, N / 2, |p, i| Record {
        key: Some(format!("k{}", i % 100).into_bytes()),
        value: Some(format!(r#"{{"N": {}, "P": {p}}}"#, i).into_bytes()),
        timestamp: i as i64,
        ..Default::default()
    });
    kill_then_restart(&data, QUERY, "CSAS_OUTPUT_0", N as u64);
    check_output(&data);
}

const WINDOWED: &str = "SET 'auto.offset.reset'='earliest';
SET 'brooklet.checkpoint.interval.ms'='50';
CREATE STREAM input (k STRING KEY, n BIGINT) WITH (KAFKA_TOPIC='input', VALUE_FORMAT='JSON');
CREATE TABLE per_second AS SELECT k, COUNT(*) AS c, SUM(n) AS s, LATEST_BY_OFFSET(n) AS last
  FROM input WINDOW HOPPING (SIZE 1 SECOND, ADVANCE BY 500 MILLISECONDS, GRACE PERIOD 100 MILLISECONDS)
  GROUP BY k HAVING COUNT(*) % 5 <> 3;
CREATE TABLE sessions AS SELECT k, COUNT(*) AS c, COLLECT_LIST(n) AS ns
  FROM input WINDOW SESSION (300 MILLISECONDS) GROUP BY k EMIT FINAL;
";

/// A stored record's key, value and timestamp.
type Kvt = (Option<Vec<u8>>, Option<Vec<u8>>, i64);

/// Every record of a topic's partitions.
fn topic_records(dir: &std::path::Path, topic: &str) -> Vec<Vec<Kvt>> {
    let log = EmbeddedLog::open(dir, FsyncPolicy::Never).unwrap();
    let parts = log.topic(topic).unwrap().partitions;
    (0..parts)
        .map(|p| {
            log.read(topic, p, 0, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|r| (r.record.key, r.record.value, r.record.timestamp))
                .collect()
        })
        .collect()
}

#[test]
fn kill_9_during_windowed_aggregations_then_restart_gives_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    // Keys come in bursts of 1000 records 5 ms apart (sessions that close), with jittered
    // timestamps (some records late for the hopping windows' grace).
    let record = |_: u32, i: usize| Record {
        key: Some(format!("k{}", (i / 1000) % 50).into_bytes()),
        value: Some(format!(r#"{{"N": {i}}}"#).into_bytes()),
        timestamp: (i * 5 + (i % 13) * 40) as i64,
        ..Default::default()
    };
    let reference = dir.path().join("reference");
    write_input(&reference, 1, N, record);
    let (ok, _, err) = common::run_file(&reference, WINDOWED);
    assert!(ok, "{err}");
    let crashed = dir.path().join("crashed");
    write_input(&crashed, 1, N, record);
    let err = kill_then_restart(&crashed, WINDOWED, "CTAS_PER_SECOND_0", N as u64);
    // The restart loaded the checkpoints the killed run wrote.
    assert!(crashed.join("state").read_dir().unwrap().count() >= 2);
    assert!(!err.contains("ignoring"), "{err}");
    // 200 bursts: one session each, emitted once when closed.
    assert_same_topics(
        &reference,
        &crashed,
        &[("PER_SECOND", 100_000), ("SESSIONS", 200)],
    );
}

/// Each topic holds the same records in both data directories (and at least so many).
fn assert_same_topics(
    reference: &std::path::Path,
    crashed: &std::path::Path,
    topics: &[(&str, usize)],
) {
    for &(topic, least) in topics {
        let (want, got) = (
            topic_records(reference, topic),
            topic_records(crashed, topic),
        );
        let count = want.iter().map(Vec::len).sum::<usize>();
        assert!(count >= least, "{topic} has {count} records");
        assert!(want == got, "{topic} differs after kill -9 and restart");
    }
}

const JOINS: &str = "SET 'auto.offset.reset'='earliest';
SET 'brooklet.checkpoint.interval.ms'='50';
CREATE STREAM input (k STRING KEY, n BIGINT) WITH (KAFKA_TOPIC='input', VALUE_FORMAT='JSON');
CREATE STREAM other (k STRING KEY, m BIGINT) WITH (KAFKA_TOPIC='other', VALUE_FORMAT='JSON');
CREATE TABLE other_t (k STRING PRIMARY KEY, m BIGINT) WITH (KAFKA_TOPIC='other', VALUE_FORMAT='JSON');
CREATE STREAM joined AS SELECT ROWKEY AS k, n, m FROM input i FULL OUTER JOIN other o
  WITHIN 40 MILLISECONDS GRACE PERIOD 20 MILLISECONDS ON i.k = o.k;
CREATE STREAM enriched AS SELECT i.k, n, m FROM input i LEFT JOIN other_t ON i.k = other_t.k;
CREATE TABLE pairs AS SELECT i.k, COUNT(*) AS c, MAX(m) AS top FROM input i JOIN other o
  WITHIN 40 MILLISECONDS ON i.k = o.k GROUP BY i.k;
";

#[test]
fn kill_9_during_joins_then_restart_gives_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    // Timestamps jitter by up to 48 ms: some rows arrive after their join window closed.
    let left = |_: u32, i: usize| Record {
        key: Some(format!("k{}", i % 50).into_bytes()),
        value: Some(format!(r#"{{"N": {i}}}"#).into_bytes()),
        timestamp: (i * 5 + (i % 13) * 4) as i64,
        ..Default::default()
    };
    let right = |_: u32, i: usize| Record {
        key: Some(format!("k{}", i % 37).into_bytes()),
        value: Some(format!(r#"{{"M": {i}}}"#).into_bytes()),
        timestamp: (i * 10 + (i % 7) * 6) as i64,
        ..Default::default()
    };
    let reference = dir.path().join("reference");
    write_input(&reference, 1, N, left);
    write_topic(&reference, "other", 1, N / 2, right);
    let (ok, _, err) = common::run_file(&reference, JOINS);
    assert!(ok, "{err}");
    let crashed = dir.path().join("crashed");
    write_input(&crashed, 1, N, left);
    write_topic(&crashed, "other", 1, N / 2, right);
    let err = kill_then_restart(&crashed, JOINS, "CSAS_JOINED_0", N as u64 * 3 / 2);
    assert!(crashed.join("state").read_dir().unwrap().count() >= 2);
    assert!(!err.contains("ignoring"), "{err}");
    assert_same_topics(
        &reference,
        &crashed,
        &[("JOINED", N), ("ENRICHED", N), ("PAIRS", 10_000)],
    );
}

/// Runs `CREATE STREAM b AS SELECT k, v + 1 AS w FROM a` over `inserts` into `a`, stops, then
/// overwrites the query's committed offsets with `commit` (a crash at the wrong moment).
fn run_then_commit(
    rt: &tokio::runtime::Runtime,
    data: &std::path::Path,
    inserts: &str,
    commit: &[(String, u32, u64)],
) {
    rt.block_on(async {
        let engine = Engine::open(data, FsyncPolicy::Never, EngineConfig::default()).unwrap();
        let mut s = Session::default();
        let sql = format!(
            "SET 'auto.offset.reset'='earliest';
             CREATE STREAM a (k INT KEY, v INT) WITH (KAFKA_TOPIC='a', PARTITIONS=1, VALUE_FORMAT='JSON');
             {inserts}
             CREATE STREAM b AS SELECT k, v + 1 AS w FROM a;"
        );
        engine.execute(&sql, &mut s).unwrap();
        engine.quiesce().await;
        engine.shutdown();
        engine.log().commit(&consumer_group("CSAS_B_0"), commit).unwrap();
    });
}

/// Two inputs whose outputs were appended to B, then a crash before the offsets were committed.
fn crash_before_the_commit(rt: &tokio::runtime::Runtime, data: &std::path::Path) {
    run_then_commit(
        rt,
        data,
        "INSERT INTO a (k, v) VALUES (1, 10); INSERT INTO a (k, v) VALUES (2, 20);",
        &[("a".into(), 0, 0), (">B".into(), 0, 0)],
    );
}

#[test]
fn outputs_written_after_the_last_commit_are_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Runtime::new().unwrap();
    crash_before_the_commit(&rt, &data);
    rt.block_on(async {
        let engine = Engine::open(&data, FsyncPolicy::Never, EngineConfig::default()).unwrap();
        engine.quiesce().await;
        let out = engine.log().read("B", 0, 0, 100).unwrap();
        assert_eq!(out.len(), 2, "replayed outputs were written twice");
        // Skipping them, the query committed the sink's end past them (a table read through
        // its sink, as pull queries read it, would otherwise stay behind them).
        let committed = engine.log().committed(&consumer_group("CSAS_B_0")).unwrap();
        assert!(committed.contains(&(">B".into(), 0, 2)), "{committed:?}");
        let mut s = Session::default();
        engine
            .execute("INSERT INTO a (k, v) VALUES (3, 30);", &mut s)
            .unwrap();
        engine.quiesce().await;
        let out = engine.log().read("B", 0, 0, 100).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].record.value.as_deref(), Some(&br#"{"W":31}"#[..]));
        engine.shutdown();
    });
}

/// A crash right after a restart's first commit, before the replay committed anything: the
/// outputs written after the last commit are still found and not written again.
#[test]
fn a_crash_right_after_a_restart_doubles_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Runtime::new().unwrap();
    crash_before_the_commit(&rt, &data);
    drop(rt);
    let noop = dir.path().join("noop.sql");
    std::fs::write(&noop, "SHOW STREAMS;\n").unwrap();
    let out = std::process::Command::new(common::bin())
        .arg("--data-dir")
        .arg(&data)
        .arg("run")
        .arg(&noop)
        .env("BROOKLET_FAULT_CRASH_AT", "after-start-commit")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("crash point after-start-commit"), "{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::open(&data, FsyncPolicy::Never, EngineConfig::default()).unwrap();
        engine.quiesce().await;
        let out = engine.log().read("B", 0, 0, 100).unwrap();
        assert_eq!(out.len(), 2, "outputs were written twice");
        engine.shutdown();
    });
}

/// Committed offsets past the end of the input (possible after a power loss without
/// `--fsync always`) do not make the query skip the records appended next.
#[test]
fn offsets_ahead_of_the_data_do_not_skip_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Runtime::new().unwrap();
    run_then_commit(
        &rt,
        &data,
        "INSERT INTO a (k, v) VALUES (1, 10);",
        &[("a".into(), 0, 50)],
    );
    rt.block_on(async {
        let engine = Engine::open(&data, FsyncPolicy::Never, EngineConfig::default()).unwrap();
        let mut s = Session::default();
        engine
            .execute("INSERT INTO a (k, v) VALUES (2, 20);", &mut s)
            .unwrap();
        engine.quiesce().await;
        let out = engine.log().read("B", 0, 0, 100).unwrap();
        assert_eq!(
            out.len(),
            2,
            "the record appended after the restart was skipped"
        );
        assert_eq!(out[1].record.value.as_deref(), Some(&br#"{"W":21}"#[..]));
        engine.shutdown();
    });
}

const FINAL: &str = "SET 'auto.offset.reset'='earliest';
SET 'brooklet.checkpoint.interval.ms'='0';
CREATE STREAM a (k INT KEY, v INT) WITH (KAFKA_TOPIC='a', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO a (k, v, ROWTIME) VALUES (1, 10, 1000);
INSERT INTO a (k, v, ROWTIME) VALUES (2, 20, 1500);
INSERT INTO a (k, v, ROWTIME) VALUES (1, 30, 12000);
CREATE TABLE f AS SELECT k, COUNT(*) AS c, SUM(v) AS s FROM a
  WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY k EMIT FINAL;";

/// Opens the engine in `data`, runs `sql`, then (when `finish`) ends the input as a bounded run
/// does, closing the open windows; a process killed at the end of this leaves no more behind.
fn run_engine(rt: &tokio::runtime::Runtime, data: &std::path::Path, sql: &str, finish: bool) {
    rt.block_on(async {
        let engine = Engine::open(data, FsyncPolicy::Never, EngineConfig::default()).unwrap();
        engine.execute(sql, &mut Session::default()).unwrap();
        engine.quiesce().await;
        if finish {
            engine.finish().await;
        }
        engine.shutdown();
    });
}

fn final_windows(data: &std::path::Path) -> Vec<String> {
    let log = EmbeddedLog::open(data, FsyncPolicy::Never).unwrap();
    log.read("F", 0, 0, 100)
        .unwrap()
        .into_iter()
        .map(|r| String::from_utf8(r.record.value.unwrap()).unwrap())
        .collect()
}

/// Killed after the query processed all its input but before the end of the run closed the
/// windows: the restarted run's end closes them (they were lost: the flush's outputs were taken
/// for outputs of records processed before the crash).
#[test]
fn a_crash_before_the_final_flush_loses_no_window() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = dir.path().join("data");
    run_engine(&rt, &data, FINAL, false);
    assert_eq!(
        final_windows(&data),
        [r#"{"C":1,"S":10}"#, r#"{"C":1,"S":20}"#]
    );
    run_engine(&rt, &data, "SHOW QUERIES;", true);
    assert_eq!(
        final_windows(&data),
        [
            r#"{"C":1,"S":10}"#,
            r#"{"C":1,"S":20}"#,
            r#"{"C":1,"S":30}"#
        ]
    );
}

/// Killed after the flush's outputs were written and committed but before the checkpoint that
/// follows it: the restarted run does not reopen and emit those windows again.
#[test]
fn a_crash_between_the_final_flush_and_its_checkpoint_doubles_no_window() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = dir.path().join("data");
    run_engine(&rt, &data, FINAL, false);
    let before = dir.path().join("state-before");
    common::copy_dir(&data.join("state"), &before);
    run_engine(&rt, &data, "SHOW QUERIES;", true);
    assert_eq!(final_windows(&data).len(), 3);
    // The checkpoint written after the flush is lost.
    std::fs::remove_dir_all(data.join("state")).unwrap();
    common::copy_dir(&before, &data.join("state"));
    run_engine(&rt, &data, "SHOW QUERIES;", true);
    assert_eq!(final_windows(&data).len(), 3, "{:?}", final_windows(&data));
    // And more input after the end of a run: late for the windows it closed, as before the
    // crash (the replayed flush left stream time where the first one did)...
    run_engine(
        &rt,
        &data,
        "INSERT INTO a (k, v, ROWTIME) VALUES (3, 40, 15000);",
        true,
    );
    assert_eq!(final_windows(&data).len(), 3, "{:?}", final_windows(&data));
    // ...while a later window opens and closes as usual.
    run_engine(
        &rt,
        &data,
        "INSERT INTO a (k, v, ROWTIME) VALUES (3, 50, 25000);",
        true,
    );
    assert_eq!(final_windows(&data)[3], r#"{"C":1,"S":50}"#);
}

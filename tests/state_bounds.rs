//! State that does not grow without bound: windowed aggregations and a stream-stream join run
//! over a long range of event time, and the rows of state they hold stay flat (windows close
//! and are evicted, sessions close, join buffers drop rows past the join window and grace).

use brooklet::log::Record;
use brooklet::{Engine, EngineConfig, Session};

const KEYS: usize = 50;

const QUERIES: &str = "SET 'auto.offset.reset'='earliest';
CREATE STREAM input (k STRING KEY, n BIGINT) WITH (KAFKA_TOPIC='input', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE STREAM other (k STRING KEY, m BIGINT) WITH (KAFKA_TOPIC='other', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE TABLE tumbling AS SELECT k, COUNT(*) AS c FROM input
  WINDOW TUMBLING (SIZE 1 SECOND, GRACE PERIOD 1 SECOND) GROUP BY k;
CREATE TABLE hopping AS SELECT k, SUM(n) AS s FROM input
  WINDOW HOPPING (SIZE 4 SECONDS, ADVANCE BY 1 SECOND, GRACE PERIOD 0 SECONDS) GROUP BY k EMIT FINAL;
CREATE TABLE sessions AS SELECT k, COUNT(*) AS c FROM input
  WINDOW SESSION (300 MILLISECONDS, GRACE PERIOD 0 SECONDS) GROUP BY k;
CREATE STREAM joined AS SELECT i.k, n, m FROM input i JOIN other o
  WITHIN 1 SECOND GRACE PERIOD 500 MILLISECONDS ON i.k = o.k;
";

/// Records of both inputs for event time `[from, to)` ms: a record every 10 ms per input, keys
/// in turn; every 7th second each key pauses (its sessions close).
fn chunk(from: i64, to: i64, topic_field: &str) -> Vec<Record> {
    (from / 10..to / 10)
        .map(|i| i * 10)
        .filter(|t| (t / 1000) % 7 != 0)
        .map(|t| Record {
            key: Some(format!("k{}", (t / 10) as usize % KEYS).into_bytes()),
            value: Some(format!(r#"{{"{topic_field}": {t}}}"#).into_bytes()),
            timestamp: t,
            ..Default::default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_and_join_state_stays_flat_over_a_long_event_time_range() {
    let engine = Engine::in_memory(EngineConfig::default()).unwrap();
    engine.execute(QUERIES, &mut Session::default()).unwrap();
    let queries = [
        "CTAS_TUMBLING_0",
        "CTAS_HOPPING_1",
        "CTAS_SESSIONS_2",
        "CSAS_JOINED_3",
    ];
    const SPAN: i64 = 100_000; // 100 s of event time per step, 30 steps: 50 minutes
    let mut history: Vec<[u64; 4]> = Vec::new();
    for step in 0..30 {
        let (from, to) = (step * SPAN, (step + 1) * SPAN);
        engine
            .log()
            .append("input", 0, &chunk(from, to, "N"))
            .unwrap();
        engine
            .log()
            .append("other", 0, &chunk(from, to, "M"))
            .unwrap();
        engine.quiesce().await;
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        engine.quiesce().await;
        history.push(queries.map(|q| engine.state_rows(q).unwrap()));
    }
    // Bounds from the windows alone, whatever the input's length: per key, tumbling windows of
    // 1 s open for 2 s (size and grace): 3; hopping windows of 4 s every 1 s: 5; one session;
    // a join keeps each side's last 2.5 s of rows (before, after, grace), purged every quarter
    // of that: 2 x 320 rows.
    let bounds = [
        KEYS as u64 * 3,
        KEYS as u64 * 5,
        KEYS as u64 * 2,
        2 * 320 + 2 * KEYS as u64,
    ];
    for (i, q) in queries.iter().enumerate() {
        let rows: Vec<u64> = history.iter().map(|h| h[i]).collect();
        assert!(rows.iter().any(|r| *r > 0), "{q} held no state: {rows:?}");
        let max = *rows.iter().max().unwrap();
        assert!(
            max <= bounds[i],
            "{q} holds {max} rows (bound {}): {rows:?}",
            bounds[i]
        );
        // Flat: the last third holds no more than the first third at its largest.
        let early = rows[..10].iter().max().unwrap();
        let late = rows[20..].iter().max().unwrap();
        assert!(late <= early, "{q} grows: {rows:?}");
        eprintln!("{q}: at most {max} rows of state (bound {})", bounds[i]);
    }
    engine.shutdown();
}

/// A stream of records no query can read fills the processing log, which keeps only its
/// retention (the oldest segments are deleted), so bad input cannot fill the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_processing_log_keeps_only_its_retention() {
    use brooklet::exec::processing_log::{RETENTION_BYTES, TOPIC};
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::default();
    config
        .properties
        .insert(brooklet::engine::SEGMENT_BYTES.into(), "65536".into());
    config
        .properties
        .insert(RETENTION_BYTES.into(), "300000".into());
    let engine = Engine::open(dir.path(), brooklet::log::FsyncPolicy::Never, config).unwrap();
    engine
        .execute(
            "SET 'auto.offset.reset'='earliest';
             CREATE STREAM input (k STRING KEY, n BIGINT) WITH (KAFKA_TOPIC='input', PARTITIONS=1, VALUE_FORMAT='JSON');
             CREATE STREAM out AS SELECT k, n FROM input;",
            &mut Session::default(),
        )
        .unwrap();
    let bad: Vec<Record> = (0..20_000)
        .map(|i| Record {
            key: Some(b"k".to_vec()),
            value: Some(format!("not json {i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    engine.log().append("input", 0, &bad).unwrap();
    engine.quiesce().await;
    let end = engine.log().end_offset(TOPIC, 0).unwrap();
    assert_eq!(end, 20_000, "every bad record is logged");
    let start = engine.log().start_offset(TOPIC, 0).unwrap();
    assert!(start > 0, "nothing was deleted");
    let held: u64 = std::fs::read_dir(dir.path().join("topics").join(TOPIC).join("0"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        held <= 300_000 + 65_536 * 2,
        "the processing log holds {held} bytes"
    );
    // What is left reads from its start.
    let first = engine.log().read(TOPIC, 0, 0, 1).unwrap();
    assert_eq!(first[0].offset, start);
    engine.shutdown();
}

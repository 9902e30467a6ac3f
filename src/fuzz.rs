//! Fuzz targets: what a hostile or broken input reaches, each a function of arbitrary bytes that
//! must return (no panic, no hang) whatever the bytes are. The coverage-guided fuzzers under
//! `fuzz/` (libFuzzer through cargo-fuzz, run on demand by `fuzz/run.sh`) and the short pass in
//! CI (`tests/fuzz.rs`, mutations of seed corpora) call the same functions.
//!
//! - [`statement`]: the statement parser, on any text;
//! - [`Decoders::decode`]: the JSON, DELIMITED and KAFKA decoders, on any record key and value,
//!   for sources of every column type;
//! - [`log_segment`]: the log's recovery and reads, on any bytes as a segment file;
//! - [`qtt`]: the QTT loader, on any file text;
//! - [`Http::request`]: the HTTP service, on any request body to each endpoint.

use crate::engine::{Engine, EngineConfig, Session};
use crate::exec::processing_log::ProcessingLog;
use crate::log::{EmbeddedLog, FsyncPolicy, Log, Record, StoredRecord};
use std::sync::Arc;

/// Parses `data` as statements.
pub fn statement(data: &[u8]) {
    let _ = crate::sql::parse(&String::from_utf8_lossy(data));
}

/// Loads `data` as a QTT file.
pub fn qtt(data: &[u8]) {
    let _ = crate::qtt::load::load_text("fuzz", &String::from_utf8_lossy(data));
}

/// Opens a partition whose only segment holds `data`, reads it all, appends and reads again.
/// Offsets read must ascend and the appended record must come back.
pub fn log_segment(data: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "brooklet-fuzz-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let part = dir.join("topics/t/0");
    let written = std::fs::create_dir_all(&part)
        .and_then(|()| std::fs::write(dir.join("topics/t/meta"), "1"))
        .and_then(|()| {
            let marker = format!("brooklet-log {}\n", crate::log::frame::FORMAT_VERSION);
            std::fs::write(dir.join("FORMAT"), marker)
        })
        .and_then(|()| std::fs::write(part.join(format!("{:020}.log", 0)), data));
    if written.is_ok() {
        if let Ok(log) = EmbeddedLog::open(&dir, FsyncPolicy::Never) {
            read_and_append(&log);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn read_and_append(log: &EmbeddedLog) {
    let read = |log: &EmbeddedLog| {
        let recs = log.read("t", 0, 0, usize::MAX).unwrap_or_default();
        assert!(recs.windows(2).all(|w| w[0].offset < w[1].offset));
        recs
    };
    read(log);
    let end = log.end_offset("t", 0).unwrap_or(0);
    let record = Record {
        value: Some(b"after".to_vec()),
        ..Default::default()
    };
    if log.append("t", 0, std::slice::from_ref(&record)).is_ok() {
        let again = read(log);
        let last = again.last().expect("the appended record is read back");
        assert_eq!((last.offset, &last.record), (end, &record));
    }
}

/// Sources of every column type in each format, to decode fuzzed records with.
pub struct Decoders {
    sources: Vec<Arc<crate::catalog::Source>>,
    /// A valid value of each format with schemas (AVRO, PROTOBUF, JSON_SR), to start from.
    pub seeds: Vec<Vec<u8>>,
    plog: ProcessingLog,
    _rt: tokio::runtime::Runtime,
}

/// Columns of every primitive type (DELIMITED has no others), then the nested types.
const PRIMITIVE: &str = "A INT, B BIGINT, C DOUBLE, D STRING, E BOOLEAN, F DECIMAL(6, 2), \
    J TIMESTAMP, K DATE, L TIME, M BYTES";
const NESTED: &str = ", G ARRAY<STRING>, H MAP<STRING, INT>, I STRUCT<X INT, Y ARRAY<DOUBLE>>";

impl Default for Decoders {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoders {
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let _guard = rt.enter();
        let engine = Engine::in_memory(EngineConfig::default()).expect("an engine");
        let mut names = Vec::new();
        for (i, (key, value, extra)) in [
            ("JSON", "JSON", ""),
            ("KAFKA", "DELIMITED", ""),
            ("DELIMITED", "JSON", ""),
            ("JSON", "DELIMITED", ", VALUE_DELIMITER='|'"),
        ]
        .into_iter()
        .enumerate()
        {
            let key_col = if key == "KAFKA" {
                "KK STRING KEY"
            } else {
                "KK INT KEY"
            };
            let nested = if value == "JSON" { NESTED } else { "" };
            let sql = format!(
                "CREATE STREAM s{i} ({key_col}, {PRIMITIVE}{nested}) WITH (KAFKA_TOPIC='s{i}', \
                 PARTITIONS=1, KEY_FORMAT='{key}', VALUE_FORMAT='{value}'{extra});"
            );
            engine
                .execute(&sql, &mut Session::default())
                .expect("the fuzz sources are valid");
            names.push(format!("S{i}"));
        }
        // The formats with schemas, each with one valid record written by the engine.
        let mut seeds = Vec::new();
        for format in ["AVRO", "PROTOBUF", "JSON_SR"] {
            let name = format.replace('_', "");
            let sql = format!(
                "CREATE STREAM {name} (KK INT KEY, {PRIMITIVE}{NESTED}) WITH (KAFKA_TOPIC='{name}', \
                 PARTITIONS=1, KEY_FORMAT='{format}', VALUE_FORMAT='{format}');
                 INSERT INTO {name} (KK, A, B, C, D, E, F, J, K, L, M, G, H, I) VALUES (1, 2, 3, \
                 1.5, 'x', true, 12.34, 1700000000000, 19000, 3600000, TO_BYTES('AAE=', 'base64'), \
                 ARRAY['a'], MAP('k' := 1), STRUCT(X := 1, Y := ARRAY[1.0]));"
            );
            engine
                .execute(&sql, &mut Session::default())
                .expect("the fuzz sources are valid");
            let written = engine.log().read(&name, 0, 0, 1).unwrap_or_default();
            seeds.extend(written.into_iter().filter_map(|r| r.record.value));
            names.push(name);
        }
        let single = "CREATE STREAM one (V ARRAY<INT>) WITH (KAFKA_TOPIC='one', PARTITIONS=1, \
                      VALUE_FORMAT='JSON', WRAP_SINGLE_VALUE=false);";
        engine
            .execute(single, &mut Session::default())
            .expect("the fuzz sources are valid");
        names.push("ONE".into());
        Decoders {
            sources: names.iter().filter_map(|n| engine.source(n)).collect(),
            seeds,
            plog: ProcessingLog::new(engine.log().clone()).muted(),
            _rt: rt,
        }
    }

    /// Decodes a record made of `data` (the first byte says how much of it is the key) with
    /// every source.
    pub fn decode(&self, data: &[u8]) {
        let (split, rest) = data
            .split_first()
            .map_or((0, data), |(s, r)| (*s as usize, r));
        let (key, value) = rest.split_at(split.min(rest.len()));
        let record = StoredRecord {
            partition: 0,
            offset: 0,
            record: Record {
                key: Some(key.to_vec()),
                value: Some(value.to_vec()),
                ..Default::default()
            },
        };
        for source in &self.sources {
            let needed = vec![true; source.values().count()];
            let _ = crate::exec::decode::decode_checked(
                source,
                &[record.as_ref()],
                &self.plog,
                "fuzz",
                &needed,
                false,
            );
        }
    }
}

/// The HTTP service over an engine with a stream and a table, for fuzzed request bodies.
pub struct Http {
    rt: tokio::runtime::Runtime,
    service: axum::Router,
}

/// The endpoints [`Http::request`] sends bodies to.
pub const ENDPOINTS: [&str; 6] = [
    "/ksql",
    "/query",
    "/query-stream",
    "/inserts-stream",
    "/close-query",
    "/ksql/terminate",
];

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let service = rt.block_on(async {
            let engine = Engine::in_memory(EngineConfig::default()).expect("an engine");
            engine
                .execute(
                    "CREATE STREAM s (k INT KEY, v STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, \
                     VALUE_FORMAT='JSON'); CREATE TABLE t (k INT PRIMARY KEY, v STRING) WITH \
                     (KAFKA_TOPIC='t', PARTITIONS=1, VALUE_FORMAT='JSON');",
                    &mut Session::default(),
                )
                .expect("the fuzz sources are valid");
            crate::server::service(engine, crate::server::config::ServerConfig::default())
        });
        Http { rt, service }
    }

    /// Sends `data` to an endpoint (its first byte picks which) and reads the response for at
    /// most 200 ms (a push query streams until its client goes). The service must not fail
    /// with a 500: every bad body is the client's error.
    pub fn request(&self, data: &[u8]) {
        use tower::ServiceExt;
        let (pick, body) = data.split_first().map_or((0, data), |(p, b)| (*p, b));
        let path = ENDPOINTS[pick as usize % ENDPOINTS.len()];
        let request = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_vec()))
            .expect("a request");
        let service = self.service.clone();
        self.rt.block_on(async move {
            let response = service.oneshot(request).await.expect("infallible");
            assert_ne!(
                response.status(),
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "{path} answered 500 to {:?}",
                String::from_utf8_lossy(body)
            );
            let read = axum::body::to_bytes(response.into_body(), 1 << 20);
            let _ = tokio::time::timeout(std::time::Duration::from_millis(200), read).await;
        });
    }
}

//! The processing log: records that could not be processed, written to a topic that is
//! queryable as the `KSQL_PROCESSING_LOG` stream, and counted.

use crate::log::{Record, SharedLog};
use base64::Engine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub const TOPIC: &str = "default_ksql_processing_log";
/// How much of the processing log is kept (its oldest segments go first), so that a stream of
/// bad records cannot fill the disk.
pub const RETENTION_BYTES: &str = "brooklet.processing.log.retention.bytes";
pub const DEFAULT_RETENTION_BYTES: u64 = 256 << 20;
pub const STREAM: &str = "KSQL_PROCESSING_LOG";
pub const COLUMNS: &str = "LOGGER STRING, LEVEL STRING, TIME BIGINT, MESSAGE STRUCT<TYPE INT, DESERIALIZATIONERROR STRUCT<TARGET STRING, ERRORMESSAGE STRING, RECORDB64 STRING, TOPIC STRING>, RECORDPROCESSINGERROR STRUCT<ERRORMESSAGE STRING, RECORD STRING>>";

#[derive(Clone)]
pub struct ProcessingLog {
    log: SharedLog,
    errors: Arc<AtomicU64>,
    muted: bool,
}

impl ProcessingLog {
    pub fn new(log: SharedLog) -> Self {
        ProcessingLog {
            log,
            errors: Arc::new(AtomicU64::new(0)),
            muted: false,
        }
    }

    /// A log that records nothing: for replaying input whose errors were logged before.
    pub fn muted(&self) -> Self {
        ProcessingLog {
            muted: true,
            ..self.clone()
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    fn write(&self, query_id: &str, message: serde_json::Value) {
        if self.muted {
            return;
        }
        self.errors.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let value = serde_json::json!({
            "LOGGER": format!("processing.{query_id}"),
            "LEVEL": "ERROR",
            "TIME": now,
            "MESSAGE": message,
        });
        tracing::warn!(query = query_id, "processing error: {message}");
        let record = Record {
            value: Some(value.to_string().into_bytes()),
            timestamp: now,
            ..Default::default()
        };
        if let Err(e) = self.log.append(TOPIC, 0, &[record]) {
            tracing::error!("cannot write to the processing log: {e}");
        }
    }

    pub fn deserialization_error(
        &self,
        query_id: &str,
        topic: &str,
        target: &str,
        msg: &str,
        bytes: Option<&[u8]>,
    ) {
        let b64 = bytes.map(|b| base64::engine::general_purpose::STANDARD.encode(b));
        self.write(
            query_id,
            serde_json::json!({"TYPE": 0, "DESERIALIZATIONERROR": {
                "TARGET": target, "ERRORMESSAGE": msg, "RECORDB64": b64, "TOPIC": topic }}),
        );
    }

    pub fn processing_error(&self, query_id: &str, msg: &str) {
        self.write(query_id, serde_json::json!({"TYPE": 1, "RECORDPROCESSINGERROR": {"ERRORMESSAGE": msg, "RECORD": null}}));
    }
}

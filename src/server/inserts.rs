//! `POST /inserts-stream`: a first JSON object naming the target, then one JSON object per
//! row (a line each). The request is read as it arrives: the rows that have arrived are
//! written as one batch and acked (one ack per row, in order) while the client may still be
//! sending, so a client can keep the request open and stream rows for as long as it likes.
//! A row that is not a JSON object, or cannot be converted, gets an error ack; the others
//! are written.

use super::lines::LineBuffer;
use super::{error, Server};
use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::sync::Arc;

/// The longest line (one row) accepted.
const MAX_LINE: usize = 16 << 20;
/// Rows written (and acked) together at most.
const BATCH: usize = 8192;

pub async fn handle(State(server): State<Arc<Server>>, headers: HeaderMap, body: Body) -> Response {
    let mut reader = Lines::new(body.into_data_stream());
    let first = match reader.next_lines(1).await {
        Ok(Some(mut l)) if !l.is_empty() => l.remove(0),
        Ok(_) => return error(StatusCode::BAD_REQUEST, 0, "The request names no target"),
        Err(e) => return error(StatusCode::BAD_REQUEST, 0, &e),
    };
    let first: Value = match serde_json::from_str(&first) {
        Ok(v) => v,
        Err(_) => return error(StatusCode::BAD_REQUEST, 0, "Invalid JSON in inserts stream"),
    };
    let Some(target) = first["target"].as_str() else {
        return error(
            StatusCode::BAD_REQUEST,
            0,
            "The first object names no 'target'",
        );
    };
    let Some(source) = server
        .engine
        .sources()
        .into_iter()
        .find(|s| s.name.eq_ignore_ascii_case(target))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            0,
            &format!("Cannot insert values into an unknown stream/table: {target}"),
        );
    };
    if source.is_source {
        return error(
            StatusCode::BAD_REQUEST,
            0,
            &format!(
                "Cannot insert values into read-only source: {}",
                source.name
            ),
        );
    }
    let json_array = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let feed = Feed {
        reader,
        server,
        source,
        seq: 0,
        pending: VecDeque::new(),
        json_array,
        started: false,
        done: false,
    };
    let stream = futures::stream::unfold(feed, |mut f| async move {
        loop {
            if let Some(b) = f.pending.pop_front() {
                return Some((b, f));
            }
            if f.done {
                return None;
            }
            f.step().await;
        }
    });
    let content_type = if json_array {
        "application/json"
    } else {
        "application/vnd.ksqlapi.delimited.v1"
    };
    super::streamed(content_type, stream)
}

/// The rows being read and acked.
struct Feed {
    reader: Lines,
    server: Arc<Server>,
    source: Arc<crate::catalog::Source>,
    /// The next row's sequence number.
    seq: u64,
    pending: VecDeque<Bytes>,
    /// Acks as one JSON array (`Accept: application/json`), else one per line.
    json_array: bool,
    started: bool,
    done: bool,
}

impl Feed {
    /// Reads the rows that have arrived (waiting for at least one), writes them, queues acks.
    async fn step(&mut self) {
        let lines = match self.reader.next_lines(BATCH).await {
            Ok(Some(lines)) => lines,
            Ok(None) => return self.finish(),
            Err(e) => {
                let seq = self.seq;
                self.ack(json!({"status": "error", "seq": seq, "error_code": 40000, "message": e}));
                return self.finish();
            }
        };
        let mut acks: Vec<Option<Value>> = Vec::with_capacity(lines.len());
        let mut rows: Vec<Map<String, Value>> = Vec::new();
        for line in &lines {
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(row)) => {
                    rows.push(row);
                    acks.push(None);
                }
                _ => acks.push(Some(json!("Invalid JSON row: not an object"))),
            }
        }
        let engine = self.server.engine.clone();
        let source = self.source.clone();
        let written = tokio::task::spawn_blocking(move || {
            let refs: Vec<&Map<String, Value>> = rows.iter().collect();
            crate::engine::insert::insert_json(&engine, &source, &refs)
        })
        .await
        .map_err(|e| crate::error::Error::generic(e.to_string()))
        .and_then(|r| r);
        let mut results = match written {
            Ok(r) => r
                .into_iter()
                .map(|r| r.err())
                .collect::<Vec<_>>()
                .into_iter(),
            // The whole batch failed: every row of it is told why.
            Err(e) => {
                let n = acks.iter().filter(|a| a.is_none()).count();
                vec![Some(e.message); n].into_iter()
            }
        };
        for a in acks {
            let seq = self.seq;
            self.seq += 1;
            let failure = match a {
                Some(message) => Some(message.as_str().unwrap_or_default().to_string()),
                None => results.next().flatten(),
            };
            self.ack(match failure {
                None => json!({"status": "ok", "seq": seq}),
                Some(m) => {
                    json!({"status": "error", "seq": seq, "error_code": 40000, "message": m})
                }
            });
        }
    }

    fn ack(&mut self, ack: Value) {
        let text = if !self.json_array {
            format!("{ack}\n")
        } else if self.started {
            format!(",{ack}")
        } else {
            format!("[{ack}")
        };
        self.started = true;
        self.pending.push_back(Bytes::from(text));
    }

    fn finish(&mut self) {
        if self.json_array {
            let end = if self.started { "]" } else { "[]" };
            self.pending.push_back(Bytes::from_static(end.as_bytes()));
        }
        self.done = true;
    }
}

/// Lines of a request body as it arrives (blank lines skipped).
struct Lines {
    body: BodyDataStream,
    buffer: LineBuffer,
    ended: bool,
}

impl Lines {
    fn new(body: BodyDataStream) -> Lines {
        Lines {
            body,
            buffer: LineBuffer::default(),
            ended: false,
        }
    }

    /// Up to `max` complete lines: waits until there is at least one, then adds those whose
    /// bytes have already arrived; `None` at the end.
    async fn next_lines(&mut self, max: usize) -> Result<Option<Vec<String>>, String> {
        let mut lines = Vec::new();
        loop {
            while lines.len() < max {
                let Some(line) = self.buffer.next_line() else {
                    break;
                };
                push_text(&mut lines, line);
            }
            if lines.len() >= max {
                return Ok(Some(lines));
            }
            if self.ended {
                push_text(&mut lines, &self.buffer.take_rest());
                return Ok((!lines.is_empty()).then_some(lines));
            }
            if self.buffer.unread() > MAX_LINE {
                return Err(format!("A row is longer than {MAX_LINE} bytes"));
            }
            let next = if lines.is_empty() {
                self.body.next().await
            } else {
                match self.body.next().now_or_never() {
                    Some(next) => next,
                    None => return Ok(Some(lines)),
                }
            };
            match next {
                Some(Ok(data)) => self.buffer.push(&data),
                Some(Err(e)) => return Err(format!("Cannot read the request: {e}")),
                None => self.ended = true,
            }
        }
    }
}

/// A line's text, trimmed, unless it is blank.
fn push_text(lines: &mut Vec<String>, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if !text.is_empty() {
        lines.push(text.to_string());
    }
}

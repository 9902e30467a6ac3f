//! `POST /inserts-stream`: a first JSON object naming the target, then one JSON object per
//! row (a line each); one ack per row, in order, as the rows are written.

use super::{error, Server};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub async fn handle(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let invalid = || error(StatusCode::BAD_REQUEST, 0, "Invalid JSON in inserts stream");
    let Some(Ok(first)) = lines.next().map(serde_json::from_str::<Value>) else {
        return invalid();
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
    let mut acks = Vec::new();
    for (seq, line) in lines.enumerate() {
        let Ok(Value::Object(row)) = serde_json::from_str::<Value>(line) else {
            return invalid();
        };
        let statement = insert_statement(&source, &row);
        let engine = server.engine.clone();
        let result = tokio::task::spawn_blocking(move || {
            let parsed = crate::sql::parse(&statement)?;
            let mut session = crate::engine::Session::default();
            for p in &parsed {
                engine.execute_parsed(p, &mut session)?;
            }
            Ok::<(), crate::error::Error>(())
        })
        .await
        .map_err(|e| crate::error::Error::generic(e.to_string()))
        .and_then(|r| r);
        acks.push(match result {
            Ok(()) => json!({"status": "ok", "seq": seq}),
            Err(e) => {
                json!({"status": "error", "seq": seq, "error_code": 40000, "message": e.message})
            }
        });
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if accept.contains("application/json") {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            Value::Array(acks).to_string(),
        )
            .into_response();
    }
    let chunks: Vec<Result<Bytes, std::convert::Infallible>> = acks
        .into_iter()
        .map(|a| Ok(Bytes::from(format!("{a}\n"))))
        .collect();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/vnd.ksqlapi.delimited.v1")],
        Body::from_stream(futures::stream::iter(chunks)),
    )
        .into_response()
}

/// `INSERT INTO target (columns) VALUES (literals)` for a JSON row (names matched ignoring
/// case; objects become structs, arrays arrays).
fn insert_statement(source: &crate::catalog::Source, row: &Map<String, Value>) -> String {
    let mut names = Vec::new();
    let mut values = Vec::new();
    for (k, v) in row {
        let name = source
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(k))
            .map_or(k.clone(), |c| c.name.clone());
        names.push(format!("`{}`", name.replace('`', "``")));
        values.push(literal(v));
    }
    format!(
        "INSERT INTO `{}` ({}) VALUES ({});",
        source.name.replace('`', "``"),
        names.join(", "),
        values.join(", ")
    )
}

fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Array(a) => format!(
            "ARRAY[{}]",
            a.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "STRUCT({})",
            o.iter()
                .map(|(k, v)| format!("`{}` := {}", k.to_uppercase(), literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

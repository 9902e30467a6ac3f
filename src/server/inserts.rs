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
    let mut rows = Vec::new();
    for line in lines {
        let Ok(Value::Object(row)) = serde_json::from_str::<Value>(line) else {
            return invalid();
        };
        rows.push(row);
    }
    // One batch for the whole request (rows a clean conversion fails are acked as errors).
    let engine = server.engine.clone();
    let written = tokio::task::spawn_blocking(move || {
        let refs: Vec<&Map<String, Value>> = rows.iter().collect();
        crate::engine::insert::insert_json(&engine, &source, &refs)
    })
    .await
    .map_err(|e| crate::error::Error::generic(e.to_string()))
    .and_then(|r| r);
    let results = match written {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, 0, &e.message),
    };
    let acks: Vec<Value> = results
        .into_iter()
        .enumerate()
        .map(|(seq, r)| match r {
            Ok(()) => json!({"status": "ok", "seq": seq}),
            Err(m) => json!({"status": "error", "seq": seq, "error_code": 40000, "message": m}),
        })
        .collect();
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

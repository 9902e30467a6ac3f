//! `POST /ksql/terminate` (`{"deleteTopicList": ["FOO", "bar.*"]}`): ksqlDB's TERMINATE CLUSTER.
//! Every persistent query is terminated and every stream and table dropped (through ordinary,
//! recorded statements, so a restart does not bring them back); topics matching the list (each
//! entry a regular expression over the whole name, case-insensitive) are deleted. The server
//! keeps running, empty.

use super::{error, json_response, parse_body, Server, V1_JSON};
use crate::engine::Session;
use crate::exec::processing_log::STREAM as PROCESSING_LOG_STREAM;
use crate::sql::ast::SourceKind;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

pub async fn handle(State(server): State<Arc<Server>>, body: Bytes) -> Response {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        body
    };
    let request = match parse_body(&body, &["deleteTopicList", "streamsProperties"]) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let mut patterns = Vec::new();
    for p in request["deleteTopicList"].as_array().into_iter().flatten() {
        let compiled = p.as_str().and_then(|p| {
            regex::RegexBuilder::new(&format!("^(?:{p})$"))
                .case_insensitive(true)
                .build()
                .ok()
        });
        match compiled {
            Some(r) => patterns.push(r),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    0,
                    &format!("Invalid topic pattern in deleteTopicList: {p}"),
                )
            }
        }
    }
    let engine = server.engine.clone();
    let result = tokio::task::spawn_blocking(move || -> crate::error::Result<String> {
        let mut session = Session::default();
        engine.execute("TERMINATE ALL;", &mut session)?;
        let matches = |topic: &str| patterns.iter().any(|r| r.is_match(topic));
        let mut dropped = 0;
        for s in engine.sources() {
            if s.name == PROCESSING_LOG_STREAM {
                continue;
            }
            let kind = match s.kind {
                SourceKind::Stream => "STREAM",
                SourceKind::Table => "TABLE",
            };
            let delete = if matches(&s.topic) {
                " DELETE TOPIC"
            } else {
                ""
            };
            engine.execute(
                &format!("DROP {kind} IF EXISTS `{}`{delete};", s.name),
                &mut session,
            )?;
            dropped += 1;
        }
        // Topics of no source that the list names.
        let mut deleted: Vec<String> = Vec::new();
        for t in engine.log().topics() {
            if !t.name.starts_with("_brooklet") && matches(&t.name) {
                engine.log().delete_topic(&t.name)?;
                deleted.push(t.name);
            }
        }
        Ok(format!(
            "Cluster terminated: {dropped} streams and tables dropped, {} further topics deleted.",
            deleted.len()
        ))
    })
    .await
    .unwrap_or_else(|e| Err(crate::error::Error::generic(e.to_string())));
    match result {
        Ok(message) => json_response(
            StatusCode::OK,
            json!([{
                "@type": "currentStatus",
                "statementText": "TERMINATE CLUSTER;",
                "commandId": "cluster/`CLUSTER`/terminate",
                "commandStatus": {"status": "SUCCESS", "message": message, "queryId": null},
                "commandSequenceNumber": -1,
                "warnings": [],
            }]),
            V1_JSON,
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, 0, &e.message),
    }
}

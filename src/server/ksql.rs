//! `POST /ksql`: runs statements (not queries) and answers with one ksqlDB entity per
//! statement, or a `statement_error` with the entities of the statements before it.

use super::{error, json_response, json_type, parse_body, session, Server};
use crate::engine::Output;
use crate::sql::ast::{SourceKind, Statement};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn handle(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match parse_body(&body, super::KSQL_REQUEST) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let Some(sql) = request["ksql"].as_str() else {
        return error(
            StatusCode::BAD_REQUEST,
            0,
            "The request has no 'ksql' field",
        );
    };
    let mut session = session(&request["streamsProperties"], &request["sessionVariables"]);
    let content_type = json_type(&headers);
    // Brooklet's own shell asks for listings as it shows them (`brooklet --server`).
    let shell = request["requestProperties"]["brooklet.shell"] == json!(true);
    let mut entities: Vec<Value> = Vec::new();
    let chunks = crate::sql::script::split_statements(sql);
    if chunks.len() > server.config.max_statements {
        return error(
            StatusCode::BAD_REQUEST,
            0,
            &format!(
                "Too many statements in one request: {}, at most {} (brooklet.request.max.statements)",
                chunks.len(),
                server.config.max_statements
            ),
        );
    }
    for chunk in chunks {
        let text = crate::sql::script::substitute(&chunk.text, &session.variables);
        let statement_error = |e: &crate::error::Error, entities: &[Value]| {
            json_response(
                StatusCode::BAD_REQUEST,
                json!({
                    "@type": "statement_error",
                    "error_code": 40001,
                    "message": e.message,
                    "statementText": text.trim(),
                    "entities": entities,
                }),
                content_type,
            )
        };
        let parsed = match crate::sql::parse(&chunk.positioned(&text)) {
            Ok(p) => p,
            Err(e) => return statement_error(&e, &entities),
        };
        for p in parsed {
            if matches!(p.statement, Statement::Select(_) | Statement::Print { .. }) {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({
                        "@type": "statement_error",
                        "error_code": 40002,
                        "message": "The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT",
                        "statementText": p.text.trim(),
                        "entities": entities,
                    }),
                    content_type,
                );
            }
            let engine = server.engine.clone();
            let (result, back) = tokio::task::spawn_blocking({
                let p = p.clone();
                let mut s = std::mem::take(&mut session);
                move || (engine.execute_parsed(&p, &mut s), s)
            })
            .await
            .unwrap_or_else(|e| {
                (
                    Err(crate::error::Error::generic(format!(
                        "statement failed: {e}"
                    ))),
                    crate::engine::Session::default(),
                )
            });
            session = back;
            match result {
                Ok(out) => {
                    let e = entity(&p, out, shell);
                    if let Some(e) = e.as_ref().filter(|e| e["commandId"].is_string()) {
                        let status = &e["commandStatus"];
                        server
                            .commands
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(
                                e["commandId"].as_str().unwrap_or_default().to_string(),
                                (
                                    status["message"].as_str().unwrap_or_default().to_string(),
                                    status["queryId"].as_str().map(str::to_string),
                                ),
                            );
                    }
                    entities.extend(e);
                }
                Err(e) => return statement_error(&e, &entities),
            }
        }
    }
    json_response(StatusCode::OK, Value::Array(entities), content_type)
}

/// The entity of a statement's result (none for INSERT VALUES, as ksqlDB). With `shell`, a
/// listing also carries its table as the shell draws it (`"brooklet"`: title, headers, rows,
/// footer).
fn entity(p: &crate::sql::ast::Parsed, out: Output, shell: bool) -> Option<Value> {
    let text = p.text.trim();
    match out {
        Output::Message { .. } if matches!(p.statement, Statement::InsertValues { .. }) => None,
        Output::Message {
            text: message,
            query_id,
        } => Some(json!({
            "@type": "currentStatus",
            "statementText": text,
            "commandId": command_id(&p.statement),
            "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
            "commandSequenceNumber": -1,
            "warnings": [],
        })),
        Output::Listing(l) => {
            let mut j = l.json;
            if !j.is_object() {
                j = json!({});
            }
            if let Some(o) = j.as_object_mut() {
                o.insert("@type".into(), l.kind.into());
                o.insert("statementText".into(), text.into());
                o.insert("warnings".into(), json!([]));
                if shell {
                    o.insert(
                        "brooklet".into(),
                        json!({"title": l.title, "headers": l.headers, "rows": l.rows, "footer": l.footer}),
                    );
                }
            }
            Some(j)
        }
        // Queries are refused before they run.
        Output::Push(_) | Output::Print(_) => None,
    }
}

/// ksqlDB's command id: ``stream/`PAGEVIEWS`/create``.
fn command_id(statement: &Statement) -> String {
    let kind = |k: &SourceKind| match k {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table",
    };
    match statement {
        Statement::CreateSource { kind: k, name, .. }
        | Statement::CreateAs { kind: k, name, .. } => {
            format!("{}/`{name}`/create", kind(k))
        }
        Statement::InsertSelect { target, .. } => format!("stream/`{target}`/create"),
        Statement::Drop { kind: k, name, .. } => format!("{}/`{name}`/drop", kind(k)),
        Statement::Terminate(id) => {
            format!("terminate/`{}`/execute", id.as_deref().unwrap_or("ALL"))
        }
        _ => "statement/`ksql`/execute".to_string(),
    }
}

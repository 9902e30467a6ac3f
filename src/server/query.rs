//! Streaming query results: `POST /query-stream` (the current API), `POST /query` (the
//! legacy one) and `POST /close-query`. The `Accept` header picks the framing; the header and
//! each row are written as chunks of their own (clients parse chunk by chunk).

use super::limits::Slot;
use super::{error, parse_body, session, Server, V1_JSON};
use crate::catalog::Column;
use crate::engine::Output;
use crate::exec::push::{PushEvent, PushQuery};
use crate::sql::ast::Statement;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::array::AsArray;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;

const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// A header line, then a JSON array per row, each ending in `\n`.
    Delimited,
    /// One JSON array: the header, then the rows.
    JsonArray,
    /// ksqlDB's StreamedRow array: `{"header":...}`, `{"row":...}`, `{"finalMessage":...}`.
    Legacy,
}

fn framing(headers: &HeaderMap, legacy_endpoint: bool) -> Framing {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if accept.contains(DELIMITED) {
        Framing::Delimited
    } else if accept.contains(V1_JSON) {
        Framing::Legacy
    } else if accept.contains("application/json") {
        if legacy_endpoint {
            Framing::Legacy
        } else {
            Framing::JsonArray
        }
    } else {
        Framing::Delimited
    }
}

/// `POST /query-stream`: `{"sql": ..., "properties": ..., "sessionVariables": ...}`.
pub async fn stream(
    State(server): State<Arc<Server>>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let framing = framing(&headers, false);
    let client = super::client(&extensions);
    run(server, body, framing, "sql", "properties", client).await
}

/// `POST /query`: `{"ksql": ..., "streamsProperties": ...}`.
pub async fn legacy(
    State(server): State<Arc<Server>>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let framing = framing(&headers, true);
    let client = super::client(&extensions);
    run(server, body, framing, "ksql", "streamsProperties", client).await
}

/// A slot for a push query or PRINT of `client`, or ksqlDB's error (with 429).
fn push_slot(server: &Server, client: &str) -> Result<Slot, Box<Response>> {
    let config = &server.config;
    server
        .push_slots
        .take(client, config.max_push_queries, config.push_per_client)
        .map_err(|refused| {
            tracing::warn!("push query of {client} refused: {}", refused.message());
            Box::new(super::json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"@type": "generic_error", "error_code": 40003, "message": refused.message()}),
                V1_JSON,
            ))
        })
}

async fn run(
    server: Arc<Server>,
    body: Bytes,
    framing: Framing,
    sql_field: &str,
    props_field: &str,
    client: String,
) -> Response {
    let fields: &[&str] = if sql_field == "sql" {
        &["sql", "properties", "sessionVariables", "requestProperties"]
    } else {
        super::KSQL_REQUEST
    };
    let request = match parse_body(&body, fields) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let Some(sql) = request[sql_field].as_str() else {
        return error(
            StatusCode::BAD_REQUEST,
            0,
            &format!("The request has no '{sql_field}' field"),
        );
    };
    let mut session = session(&request[props_field], &request["sessionVariables"]);
    // The legacy endpoint marks a table's deletions (`"tombstone": true`).
    session.tombstones = framing == Framing::Legacy;
    let sql = crate::sql::script::substitute(sql, &session.variables);
    let statement_error = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, V1_JSON)],
            json!({
                "@type": "statement_error",
                "error_code": 40001,
                "message": message,
                "statementText": sql.trim(),
                "entities": [],
            })
            .to_string(),
        )
            .into_response()
    };
    let parsed = match crate::sql::parse(&sql) {
        Ok(p) => p,
        Err(e) => return statement_error(&e.message),
    };
    let [p] = parsed.as_slice() else {
        return statement_error("Expected exactly one statement: a query");
    };
    let print = matches!(p.statement, Statement::Print { .. });
    if !print && !matches!(p.statement, Statement::Select(_)) {
        return statement_error("Only SELECT and PRINT statements are supported on this endpoint");
    }
    // PRINT writes lines of text: the delimited framing only (or the legacy endpoint's).
    if print && sql_field == "sql" && framing != Framing::Delimited {
        return error(
            StatusCode::NOT_ACCEPTABLE,
            0,
            "PRINT is served with Accept: application/vnd.ksqlapi.delimited.v1 only",
        );
    }
    let engine = server.engine.clone();
    let p = p.clone();
    let result = tokio::task::spawn_blocking(move || engine.execute_parsed(&p, &mut session))
        .await
        .map_err(|e| crate::error::Error::generic(format!("query failed: {e}")))
        .and_then(|r| r);
    let (q, slot) = match result {
        Ok(Output::Push(q)) if q.pull => (q, None),
        Ok(Output::Push(q)) => match push_slot(&server, &client) {
            Ok(slot) => (q, Some(slot)),
            Err(refused) => {
                q.cancel();
                return *refused;
            }
        },
        Ok(Output::Print(p)) => match push_slot(&server, &client) {
            Ok(slot) => return print_response(p, slot),
            Err(refused) => return *refused,
        },
        Ok(_) => return statement_error("The statement is not a query"),
        Err(e) => return statement_error(&e.message),
    };
    let id = q.id.clone();
    server
        .queries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), q.canceller());
    let content_type = match framing {
        Framing::Delimited => DELIMITED,
        Framing::JsonArray => "application/json",
        Framing::Legacy => V1_JSON,
    };
    let mut feed = Feed {
        _slot: slot,
        pending: VecDeque::new(),
        framing,
        done: false,
        server,
        id,
        columns: q.columns.clone(),
        q,
    };
    feed.pending.push_back(feed.header());
    let stream = futures::stream::unfold(feed, |mut f| async move {
        loop {
            if let Some(b) = f.pending.pop_front() {
                return Some((b, f));
            }
            if f.done {
                return None;
            }
            match f.q.next().await {
                Some(PushEvent::Rows(batch)) => {
                    // A table's deletion: a flag column after the row's (`exec::push`).
                    let tombstones = (batch.num_columns() > f.columns.len())
                        .then(|| batch.column(f.columns.len()).as_boolean_opt().cloned())
                        .flatten();
                    for row in 0..batch.num_rows() {
                        let values = crate::cli::render::row_json(&batch, row, &f.columns);
                        let deleted = tombstones.as_ref().is_some_and(|t| t.value(row));
                        let chunk = f.row(values, deleted);
                        f.pending.push_back(chunk);
                    }
                }
                Some(PushEvent::End(message)) => {
                    let end = f.end(Some(message), None);
                    f.pending.extend(end);
                    f.done = true;
                }
                Some(PushEvent::Error(message)) => {
                    let end = f.end(None, Some(message));
                    f.pending.extend(end);
                    f.done = true;
                }
                None => {
                    let end = f.end(None, None);
                    f.pending.extend(end);
                    f.done = true;
                }
            }
        }
    });
    super::streamed(content_type, stream)
}

/// PRINT's lines, each a chunk ending in a newline, until its LIMIT or the client leaves
/// (which gives its slot back).
fn print_response(p: crate::exec::print::PrintStream, slot: Slot) -> Response {
    let stream = futures::stream::unfold((p, slot), |(mut p, slot)| async move {
        let line = p.lines.recv().await?;
        Some((Bytes::from(line + "\n"), (p, slot)))
    });
    super::streamed(DELIMITED, stream)
}

/// A query's response being written.
struct Feed {
    /// A push query's place among those open (none for a pull query).
    _slot: Option<Slot>,
    q: PushQuery,
    columns: Vec<Column>,
    framing: Framing,
    pending: VecDeque<Bytes>,
    done: bool,
    server: Arc<Server>,
    id: String,
}

impl Drop for Feed {
    /// The response is over (or the client went away): the query stops and is forgotten.
    fn drop(&mut self) {
        self.q.cancel();
        self.server
            .queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl Feed {
    fn header(&self) -> Bytes {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let types: Vec<String> = self.columns.iter().map(|c| c.ty.to_string()).collect();
        let meta = json!({"queryId": self.id, "columnNames": names, "columnTypes": types});
        Bytes::from(match self.framing {
            Framing::Delimited => format!("{meta}\n"),
            Framing::JsonArray => format!("[{meta}"),
            Framing::Legacy => {
                let header = crate::exec::push::legacy_header(&self.id, &self.columns, self.q.pull);
                format!("[{header},\n")
            }
        })
    }

    /// A row; `/query` marks a table's deletion with `"tombstone": true`.
    fn row(&self, values: Value, tombstone: bool) -> Bytes {
        Bytes::from(match self.framing {
            Framing::Delimited => format!("{values}\n"),
            Framing::JsonArray => format!(",{values}"),
            Framing::Legacy if tombstone => format!(
                "{},\n",
                json!({"row": {"columns": values, "tombstone": true}})
            ),
            Framing::Legacy => format!("{},\n", json!({"row": {"columns": values}})),
        })
    }

    /// The end of the response: a final message (LIMIT reached, input ended) or an error.
    fn end(&self, message: Option<&str>, error: Option<String>) -> Option<Bytes> {
        let error =
            error.map(|m| json!({"@type": "generic_error", "error_code": 50000, "message": m}));
        Some(Bytes::from(match self.framing {
            Framing::Delimited => format!("{}\n", error?),
            Framing::JsonArray => match error {
                Some(e) => format!(",{e}]"),
                None => "]".to_string(),
            },
            Framing::Legacy => match error {
                Some(e) => format!("{}]\n", json!({"errorMessage": e})),
                None => format!(
                    "{}]\n",
                    json!({"finalMessage": message.unwrap_or("Query Completed")})
                ),
            },
        }))
    }
}

/// `POST /close-query`: `{"queryId": ...}` ends that query's response.
pub async fn close(State(server): State<Arc<Server>>, body: Bytes) -> Response {
    let request = match parse_body(&body, &["queryId"]) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let id = request["queryId"].as_str().unwrap_or_default();
    let found = server
        .queries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(id)
        .cloned();
    match found {
        Some(stop) => {
            stop.send_replace(true);
            StatusCode::OK.into_response()
        }
        None => error(
            StatusCode::BAD_REQUEST,
            0,
            &format!("No query with id {id}"),
        ),
    }
}

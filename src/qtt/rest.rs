//! ksqlDB's REST query-validation cases (`rest-query-validation-tests`), run against a
//! Brooklet server started in-process on a free local port: the statements before the first
//! SELECT go to `/ksql`, the inputs are produced, then each SELECT goes to `/query`. The
//! entities and query responses must match `responses` in order (an admin entity holds the
//! expected fields; a query's header schema is compared as text, its rows as QTT values), or
//! the failing statement's error must match `expectedError` (its class, status and text).

use super::case::{check_outputs, create_topics, produce_inputs, MessageMatch, Status};
use super::compare::matches;
use super::load::{Case, RestExpectation};
use crate::engine::Engine;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long one request may take (a push query waits for its LIMIT).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(
    engine: &Arc<Engine>,
    case: &Case,
    rest: &RestExpectation,
) -> (Status, MessageMatch) {
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(format!("cannot listen: {e}")),
    };
    let server = tokio::spawn(crate::server::serve_listener(
        engine.clone(),
        listener,
        None,
        None,
        crate::server::config::ServerConfig::default(),
    ));
    let result = run_with(engine, case, rest, addr).await;
    server.abort();
    result
}

fn fail(why: String) -> (Status, MessageMatch) {
    (Status::Fail(why), MessageMatch::NotApplicable)
}

async fn run_with(
    engine: &Arc<Engine>,
    case: &Case,
    rest: &RestExpectation,
    addr: SocketAddr,
) -> (Status, MessageMatch) {
    if let Err(e) = create_topics(engine, case) {
        return (Status::Fail(e), MessageMatch::NotApplicable);
    }
    let first_query = case
        .statements
        .iter()
        .position(|s| s.trim_start().to_uppercase().starts_with("SELECT"))
        .unwrap_or(case.statements.len());
    let (admin, queries) = case.statements.split_at(first_query);
    let mut actual = Vec::new();
    for stmt in admin {
        match post(
            addr,
            "/ksql",
            &json!({"ksql": stmt, "streamsProperties": {}}),
        )
        .await
        {
            Ok((200, body)) => match body {
                Value::Array(entities) => {
                    actual.extend(entities.into_iter().map(|e| json!({"admin": e})))
                }
                other => return fail(format!("/ksql answered {other}")),
            },
            Ok((status, body)) => return expected_error(rest, status, &body),
            Err(e) => return fail(e),
        }
    }
    if !rest.inputs_after_query {
        if let Err(e) = produce_inputs(engine, case).await {
            return fail(format!("input: {e}"));
        }
        engine.quiesce().await;
    }
    for q in queries {
        let request = json!({"ksql": q, "streamsProperties": {}});
        let response = if rest.inputs_after_query {
            let pending = tokio::spawn(async move { post(addr, "/query", &request).await });
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Err(e) = produce_inputs(engine, case).await {
                return fail(format!("input: {e}"));
            }
            match pending.await {
                Ok(r) => r,
                Err(e) => Err(e.to_string()),
            }
        } else {
            post(addr, "/query", &request).await
        };
        match response {
            Ok((200, body)) => actual.push(json!({"query": body})),
            Ok((status, body)) => return expected_error(rest, status, &body),
            Err(e) => return fail(e),
        }
    }
    if let Some(e) = &rest.error {
        return fail(format!("expected the error {e} but nothing failed"));
    }
    if let Err(why) = compare_responses(&rest.responses, &actual) {
        return fail(why);
    }
    if let Some(outputs) = &case.outputs {
        engine.quiesce().await;
        if let Err(why) = check_outputs(engine, case, outputs) {
            return fail(why);
        }
    }
    (Status::Pass, MessageMatch::NotApplicable)
}

/// A statement failed with HTTP `status`: the case passes if it expected that error (its
/// class and status; the text is reported apart, as for QTT's expected exceptions).
fn expected_error(rest: &RestExpectation, status: u16, body: &Value) -> (Status, MessageMatch) {
    let message = body["message"].as_str().unwrap_or_default();
    let Some(e) = &rest.error else {
        return fail(format!("HTTP {status}: {message}"));
    };
    if e["status"].as_u64().is_some_and(|s| s != u64::from(status)) {
        return fail(format!(
            "expected HTTP {}, got {status}: {message}",
            e["status"]
        ));
    }
    let statement_error = body["@type"] == "statement_error";
    if e["type"]
        .as_str()
        .is_some_and(|t| t.ends_with("KsqlStatementErrorMessage"))
        && !statement_error
    {
        return fail(format!("expected a statement error, got {body}"));
    }
    let m = match e["message"].as_str() {
        Some(m) if !message.contains(m) => MessageMatch::Differs,
        _ => MessageMatch::Matched,
    };
    (Status::Pass, m)
}

fn compare_responses(expected: &[Value], actual: &[Value]) -> Result<(), String> {
    if expected.len() != actual.len() {
        return Err(format!(
            "expected {} responses, got {}: {}",
            expected.len(),
            actual.len(),
            Value::Array(actual.to_vec())
        ));
    }
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        let ok = match (e.get("admin"), e.get("query")) {
            (Some(e), _) => holds(e, &a["admin"]),
            (_, Some(Value::Array(e))) => query_matches(e, a["query"].as_array()),
            _ => true,
        };
        if !ok {
            return Err(format!("response {i}: expected {e}, got {a}"));
        }
    }
    Ok(())
}

/// Whether `actual` has every field of `expected`, equal (objects compared the same way).
fn holds(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| holds(v, av))),
        _ => expected == actual || matches(expected, actual),
    }
}

/// A query response: the header's schema as text, the rows as a multiset (a pull query's rows
/// come in no promised order), any final message.
fn query_matches(expected: &[Value], actual: Option<&Vec<Value>>) -> bool {
    let Some(actual) = actual else {
        return false;
    };
    // A pull query ends with `{"finalMessage":"Query Completed"}` (ksqlDB's API reference);
    // the REST files leave it out of what they expect.
    let mut actual = actual.clone();
    let completed = json!({"finalMessage": "Query Completed"});
    if actual.last() == Some(&completed) && expected.last() != Some(&completed) {
        actual.pop();
    }
    if expected.len() != actual.len() {
        return false;
    }
    let row = |v: &Value| v.get("row").map(|r| r["columns"].clone());
    // The expected rows, and the actual rows still to match.
    let mut rows: Vec<Value> = Vec::new();
    let mut left: Vec<Value> = Vec::new();
    for (e, a) in expected.iter().zip(&actual) {
        match (e.get("header"), row(e)) {
            (Some(h), _) => {
                if h["schema"] != a["header"]["schema"] {
                    return false;
                }
            }
            (None, Some(cols)) => match row(a) {
                Some(got) => {
                    rows.push(cols);
                    left.push(got);
                }
                None => return false,
            },
            (None, None) => {
                if !holds(e, a) {
                    return false;
                }
            }
        }
    }
    // Each expected row matches a distinct actual row.
    rows.iter()
        .all(|e| match left.iter().position(|a| matches(e, a)) {
            Some(i) => {
                left.remove(i);
                true
            }
            None => false,
        })
}

/// POSTs a JSON body; the status and the body read as JSON (a stream of rows is one array).
async fn post(addr: SocketAddr, path: &str, body: &Value) -> Result<(u16, Value), String> {
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, addr.to_string())
            .header(hyper::header::CONTENT_TYPE, "application/vnd.ksql.v1+json")
            .header(hyper::header::ACCEPT, "application/vnd.ksql.v1+json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, value))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{path} did not answer in {REQUEST_TIMEOUT:?}"))?
}

//! The Confluent Schema Registry's REST API (`/subjects`, `/schemas`, `/config`,
//! `/compatibility`) over the server's [`Registry`], so Confluent's serializers and clients
//! can use `brooklet server` as their registry. Answers are
//! `application/vnd.schemaregistry.v1+json`; errors are Confluent's
//! `{"error_code": ..., "message": ...}`.

use super::Server;
use crate::registry::{
    parse_version, Compatibility, Reference, Registry, RegistryError, RegistryResult, SchemaType,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const SR_JSON: &str = "application/vnd.schemaregistry.v1+json";

/// The registry's routes.
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route(
            "/subjects/{subject}/versions/{version}",
            get(version).delete(delete_version),
        )
        .route("/subjects/{subject}/versions/{version}/schema", get(raw))
        .route("/schemas/ids/{id}", get(by_id))
        .route("/schemas/ids/{id}/schema", get(raw_by_id))
        .route("/schemas/types", get(types))
        .route("/config", get(global_level).put(set_global_level))
        .route(
            "/config/{subject}",
            get(subject_level).put(set_subject_level),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility),
        )
}

fn answer(result: RegistryResult<Value>) -> Response {
    match result {
        Ok(v) => ([(header::CONTENT_TYPE, SR_JSON)], v.to_string()).into_response(),
        Err(e) => error(&e),
    }
}

fn error(e: &RegistryError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error_code": e.code, "message": e.message});
    (status, [(header::CONTENT_TYPE, SR_JSON)], body.to_string()).into_response()
}

fn registry(server: &Server) -> RegistryResult<&Registry> {
    server.registry.as_deref().ok_or_else(|| RegistryError {
        status: 503,
        code: 50001,
        message: "The schema registry is not available on this server".into(),
    })
}

/// Runs a registry call off the async threads (it may read and append to the log).
async fn call(
    server: Arc<Server>,
    f: impl FnOnce(&Registry) -> RegistryResult<Value> + Send + 'static,
) -> Response {
    let done = tokio::task::spawn_blocking(move || f(registry(&server)?)).await;
    answer(done.unwrap_or_else(|e| {
        Err(RegistryError {
            status: 500,
            code: 50001,
            message: format!("the request failed: {e}"),
        })
    }))
}

fn bad_request(message: String) -> RegistryError {
    RegistryError {
        status: 422,
        code: 42201,
        message,
    }
}

/// A request body's JSON object.
fn object(body: &[u8]) -> RegistryResult<serde_json::Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(RegistryError {
            status: 400,
            code: 400,
            message: "Invalid JSON in request: an object is expected".into(),
        }),
    }
}

/// A request's `{"schema": ..., "schemaType": ...}`.
fn schema_of(body: &[u8]) -> RegistryResult<(SchemaType, String)> {
    let map = object(body)?;
    let kind = SchemaType::parse(map.get("schemaType").and_then(Value::as_str))?;
    let text = map
        .get("schema")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("Empty schema".into()))?;
    Ok((kind, text.to_string()))
}

async fn subjects(State(s): State<Arc<Server>>) -> Response {
    call(s, |r| Ok(json!(r.subjects()?))).await
}

async fn versions(State(s): State<Arc<Server>>, Path(subject): Path<String>) -> Response {
    call(s, move |r| Ok(json!(r.versions(&subject)?))).await
}

async fn register(
    State(s): State<Arc<Server>>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    call(s, move |r| {
        let (kind, text) = schema_of(&body)?;
        let map = object(&body)?;
        // Confluent's `"id"`: the registration keeps the id the schema has elsewhere.
        let id = map.get("id").and_then(Value::as_u64).map(|id| id as u32);
        let references = map
            .get("references")
            .map(Reference::parse_all)
            .unwrap_or_default();
        Ok(json!({"id": r.register_with(&subject, kind, &text, &references, id)?}))
    })
    .await
}

async fn lookup(
    State(s): State<Arc<Server>>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    call(s, move |r| {
        let (kind, text) = schema_of(&body)?;
        Ok(r.lookup(&subject, kind, &text)?.to_json())
    })
    .await
}

/// `?format=serialized`: a PROTOBUF schema as its base64 descriptor (as Confluent answers).
fn in_format(
    r: &Registry,
    kind: SchemaType,
    text: String,
    references: &[Reference],
    params: &HashMap<String, String>,
) -> RegistryResult<String> {
    match (kind, params.get("format").map(String::as_str)) {
        (SchemaType::Protobuf, Some("serialized")) => {
            let imports = crate::registry::Schemas::imports(r, references)?;
            crate::format::protobuf::serialized(&text, &imports).map_err(bad_request)
        }
        _ => Ok(text),
    }
}

async fn version(
    State(s): State<Arc<Server>>,
    Path((subject, version)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    call(s, move |r| {
        let mut v = r.version(&subject, parse_version(&version)?)?;
        v.schema = in_format(r, v.kind, v.schema, &v.references, &params)?;
        Ok(v.to_json())
    })
    .await
}

/// The schema alone, as text (`.../schema`).
async fn raw(
    State(s): State<Arc<Server>>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    call(s, move |r| {
        let v = r.version(&subject, parse_version(&version)?)?;
        Ok(serde_json::from_str(&v.schema).unwrap_or(Value::String(v.schema)))
    })
    .await
}

async fn by_id(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    call(s, move |r| {
        let schema = r.schema(id_of(&id)?)?;
        let text = in_format(r, schema.kind, schema.text, &schema.references, &params)?;
        let mut v = json!({ "schema": text });
        crate::registry::describe(&mut v, schema.kind, &schema.references);
        Ok(v)
    })
    .await
}

async fn raw_by_id(State(s): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    call(s, move |r| {
        let text = r.schema(id_of(&id)?)?.text;
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    })
    .await
}

fn id_of(id: &str) -> RegistryResult<u32> {
    id.parse().map_err(|_| RegistryError {
        status: 404,
        code: 40403,
        message: format!("Schema {id} not found"),
    })
}

async fn types() -> Response {
    answer(Ok(json!(["JSON", "PROTOBUF", "AVRO"])))
}

async fn delete_subject(State(s): State<Arc<Server>>, Path(subject): Path<String>) -> Response {
    call(s, move |r| Ok(json!(r.delete(&subject, None)?))).await
}

async fn delete_version(
    State(s): State<Arc<Server>>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    call(s, move |r| {
        let deleted = r.delete(&subject, Some(parse_version(&version)?))?;
        Ok(json!(deleted.first()))
    })
    .await
}

async fn global_level(State(s): State<Arc<Server>>) -> Response {
    call(s, |r| {
        Ok(json!({"compatibilityLevel": r.level(None, true)?.name()}))
    })
    .await
}

async fn subject_level(
    State(s): State<Arc<Server>>,
    Path(subject): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let fall_back = params.get("defaultToGlobal").is_some_and(|v| v == "true");
    call(s, move |r| {
        let level = r.level(Some(&subject), fall_back)?;
        Ok(json!({"compatibilityLevel": level.name()}))
    })
    .await
}

/// `{"compatibility": "FULL"}`.
fn level_of(body: &[u8]) -> RegistryResult<Compatibility> {
    let map = object(body)?;
    let level = map
        .get("compatibility")
        .and_then(Value::as_str)
        .unwrap_or("");
    Compatibility::parse(level)
}

async fn set_global_level(State(s): State<Arc<Server>>, body: Bytes) -> Response {
    set_level(s, None, body).await
}

async fn set_subject_level(
    State(s): State<Arc<Server>>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    set_level(s, Some(subject), body).await
}

/// `PUT /config[/{subject}]`.
async fn set_level(s: Arc<Server>, subject: Option<String>, body: Bytes) -> Response {
    call(s, move |r| {
        let level = level_of(&body)?;
        r.set_level(subject.as_deref(), level)?;
        Ok(json!({"compatibility": level.name()}))
    })
    .await
}

async fn compatibility(
    State(s): State<Arc<Server>>,
    Path((subject, version)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    call(s, move |r| {
        let version = parse_version(&version)?;
        let (kind, text) = schema_of(&body)?;
        Ok(json!({"is_compatible": r.compatible(&subject, version, kind, &text)?}))
    })
    .await
}

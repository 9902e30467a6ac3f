//! The HTTP server: ksqlDB's REST API over the engine, HTTP/1.1 and cleartext HTTP/2 (prior
//! knowledge) on one port. `ksql` runs statements, `query` streams query rows; the rest
//! (`/info`, `/healthcheck`, ...) describes the server.

pub mod auth;
pub mod cluster;
pub mod config;
mod console;
mod guard;
mod inserts;
mod ksql;
mod limits;
pub mod lines;
mod listen;
mod query;
mod registry;
mod terminate;
pub mod tls;

use crate::engine::Engine;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The version of ksqlDB whose API this server speaks.
pub const KSQL_VERSION: &str = "0.29.0";
const V1_JSON: &str = "application/vnd.ksql.v1+json";

/// What the handlers share.
pub struct Server {
    engine: Arc<Engine>,
    /// Running push queries by id, to close them (`/close-query`).
    queries: Mutex<HashMap<String, Arc<tokio::sync::watch::Sender<bool>>>>,
    /// The commands `/ksql` ran, by command id, with their status message and query
    /// (`/status`; commands run synchronously, so all are SUCCESS).
    commands: Mutex<std::collections::BTreeMap<String, (String, Option<String>)>>,
    /// With `--auth-file`: who may use the API.
    users: Option<Arc<auth::Users>>,
    /// Failed logins per address, logins that passed.
    auth: auth::Guard,
    /// The operator's settings: origins and limits.
    config: Arc<config::ServerConfig>,
    /// Push queries open, in all and per client.
    push_slots: Arc<limits::PushSlots>,
    /// The servers of this one's service (`/clusterStatus`).
    cluster: Arc<cluster::Cluster>,
    /// The schema registry it serves (`server::registry`); `None` if its topic could not be
    /// opened (its requests then answer 503).
    registry: Option<Arc<crate::registry::Registry>>,
}

/// Serves the API on `addr` until the process ends; over TLS when given an acceptor.
pub async fn serve(
    engine: Arc<Engine>,
    addr: SocketAddr,
    users: Option<auth::Users>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    config: config::ServerConfig,
) -> std::io::Result<()> {
    // A deep accept queue: a burst of connections (hundreds of clients starting push queries
    // at once) must wait to be accepted, not be refused or reset (the default is 128).
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(4096)?;
    // The address actually bound (a port of 0 picks one): scripts and tests read this line.
    println!(
        "Brooklet server listening on {}://{}",
        if tls.is_some() { "https" } else { "http" },
        listener.local_addr()?
    );
    serve_listener(engine, listener, users, tls, config).await
}

/// Serves the API on a bound `listener` (the REST QTT runner's in-process server).
pub async fn serve_listener(
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
    users: Option<auth::Users>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    config: config::ServerConfig,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    let server = engine_server(engine.clone(), users, config.clone());
    server
        .cluster
        .start(engine, advertised(&server.engine, &listener)?);
    listen::serve(listener, app(server), tls, config).await
}

fn engine_server(
    engine: Arc<Engine>,
    users: Option<auth::Users>,
    config: Arc<config::ServerConfig>,
) -> Arc<Server> {
    Arc::new(Server {
        queries: Mutex::new(HashMap::new()),
        commands: Mutex::new(std::collections::BTreeMap::new()),
        users: users.map(Arc::new),
        auth: auth::Guard::default(),
        config,
        push_slots: Arc::default(),
        cluster: Arc::default(),
        registry: engine.registry().cloned(),
        engine,
    })
}

/// Where the other servers of the service reach this one: `ksql.advertised.listener` (its
/// `host:port`), else the address bound (the loopback address when bound to all).
fn advertised(engine: &Engine, listener: &tokio::net::TcpListener) -> std::io::Result<String> {
    let session = crate::engine::Session::default();
    if let Some(url) = engine.property(&session, "ksql.advertised.listener") {
        let url = url.trim();
        return Ok(url.split_once("://").map_or(url, |(_, a)| a).to_string());
    }
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(addr.to_string())
}

/// The HTTP service over `engine` without a listener (the fuzzers send it requests).
pub fn service(engine: Arc<Engine>, config: config::ServerConfig) -> Router {
    app(engine_server(engine, None, Arc::new(config)))
}

fn app(server: Arc<Server>) -> Router {
    Router::new()
        .route("/", get(console::index))
        .route("/console.js", get(console::script))
        .route("/editor.js", get(console::editor))
        .route("/console.css", get(console::style))
        .route("/info", get(info))
        .route("/healthcheck", get(healthcheck))
        .route("/chc/live", get(|| async { StatusCode::OK }))
        .route("/chc/ready", get(|| async { StatusCode::OK }))
        .route("/clusterStatus", get(cluster_status))
        .route("/status", get(statuses))
        .route("/status/{kind}/{entity}/{action}", get(status))
        .route(
            "/is_valid_property/{name}",
            get(|| async { json_response(StatusCode::OK, serde_json::json!(true), V1_JSON) }),
        )
        .route("/ksql", post(ksql::handle))
        .route("/ksql/terminate", post(terminate::handle))
        .route("/query", post(query::legacy))
        .route("/query-stream", post(query::stream))
        .route("/close-query", post(query::close))
        // Read as it arrives, for as long as the client sends rows: no limit on the whole.
        .route(
            "/inserts-stream",
            post(inserts::handle).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .merge(registry::routes())
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found") })
        // `guard` reads bodies within `brooklet.request.max.bytes`.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            server.clone(),
            auth::check,
        ))
        .layer(axum::middleware::from_fn_with_state(
            server.clone(),
            guard::check,
        ))
        .with_state(server)
}

/// `GET /status`: every command's status by command id.
async fn statuses(State(server): State<Arc<Server>>) -> Response {
    let all: serde_json::Map<String, serde_json::Value> = server
        .commands
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .map(|id| (id.clone(), "SUCCESS".into()))
        .collect();
    json_response(StatusCode::OK, serde_json::Value::Object(all), V1_JSON)
}

/// `GET /status/{type}/{entity}/{action}`: one command's status.
async fn status(
    State(server): State<Arc<Server>>,
    Path((kind, entity, action)): Path<(String, String, String)>,
) -> Response {
    let id = format!("{kind}/{entity}/{action}");
    let found = server
        .commands
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&id)
        .cloned();
    match found {
        Some((message, query_id)) => json_response(
            StatusCode::OK,
            serde_json::json!({"status": "SUCCESS", "message": message, "queryId": query_id}),
            V1_JSON,
        ),
        None => error(
            StatusCode::NOT_FOUND,
            0,
            &format!("Could not find command with id {id}"),
        ),
    }
}

async fn info() -> Response {
    json_response(
        StatusCode::OK,
        serde_json::json!({"KsqlServerInfo": {
            "version": KSQL_VERSION,
            "kafkaClusterId": "brooklet",
            "ksqlServiceId": "default_",
            "serverStatus": "RUNNING"
        }}),
        V1_JSON,
    )
}

async fn healthcheck() -> Response {
    json_response(
        StatusCode::OK,
        serde_json::json!({
            "isHealthy": true,
            "details": {
                "metastore": {"isHealthy": true},
                "kafka": {"isHealthy": true},
                "commandRunner": {"isHealthy": true}
            },
            "serverState": "READY"
        }),
        V1_JSON,
    )
}

async fn cluster_status(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:8088")
        .to_string();
    let status = tokio::task::spawn_blocking(move || server.cluster.status(&server.engine, &host))
        .await
        .unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}));
    json_response(StatusCode::OK, status, V1_JSON)
}

/// The content type of a JSON answer: `application/json` when asked for, else ksqlDB's own.
fn json_type(headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if accept.contains("application/json") && !accept.contains(V1_JSON) {
        "application/json"
    } else {
        V1_JSON
    }
}

/// A 200 answer whose body is `chunks`, each written (and flushed) as it comes: clients parse
/// streamed answers chunk by chunk.
fn streamed(
    content_type: &'static str,
    chunks: impl futures::Stream<Item = axum::body::Bytes> + Send + 'static,
) -> Response {
    use futures::StreamExt;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(chunks.map(Ok::<_, std::convert::Infallible>)),
    )
        .into_response()
}

fn json_response(status: StatusCode, body: serde_json::Value, content_type: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, content_type.to_string())],
        Body::from(body.to_string()),
    )
        .into_response()
}

/// ksqlDB's error envelope; the error code is the status times 100 plus `n`.
fn error(status: StatusCode, n: u16, message: &str) -> Response {
    json_response(
        status,
        serde_json::json!({
            "@type": "generic_error",
            "error_code": status.as_u16() as u32 * 100 + n as u32,
            "message": message
        }),
        V1_JSON,
    )
}

/// Who sent a request, for per-client limits: the authenticated user, else the address.
fn client(extensions: &axum::http::Extensions) -> String {
    if let Some(user) = extensions.get::<auth::User>() {
        return format!("user {}", user.0);
    }
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string())
}

/// A request body: a JSON object with only `fields`.
fn parse_body(body: &[u8], fields: &[&str]) -> Result<serde_json::Value, Box<Response>> {
    guard::object(body, fields).map(serde_json::Value::Object)
}

/// The fields of `/ksql` and `/query` requests (ksqlDB's `KsqlRequest`).
const KSQL_REQUEST: &[&str] = &[
    "ksql",
    "streamsProperties",
    "sessionVariables",
    "commandSequenceNumber",
    "requestProperties",
];

/// A session from a request's properties and variables (`ksql.streams.` prefixes dropped).
fn session(props: &serde_json::Value, vars: &serde_json::Value) -> crate::engine::Session {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut session = crate::engine::Session::default();
    if let Some(p) = props.as_object() {
        for (k, v) in p {
            let k = k.strip_prefix("ksql.streams.").unwrap_or(k);
            session.properties.insert(k.to_string(), text(v));
        }
    }
    if let Some(p) = vars.as_object() {
        for (k, v) in p {
            session.variables.insert(k.to_uppercase(), text(v));
        }
    }
    session
}

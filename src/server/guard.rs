//! What every request passes through before it reaches a handler:
//! - **Origins.** A browser names the page that sent a request in `Origin`. Only origins the
//!   operator allowed (`access.control.allow.origin`, none by default) and the server's own
//!   console (`same_origin`) may call the API: any other gets 403, so a web page the user opens
//!   cannot drive a local server. Allowed origins
//!   get CORS answers (preflights, `Access-Control-Allow-*`) as ksqlDB's server gives them.
//! - **Content types.** A POST or PUT must say it sends JSON (or ksqlDB's delimited rows): the
//!   types a browser may send cross-site without asking (`text/plain`, forms, none at all) are
//!   refused with 415.
//! - **Bodies.** A body must arrive within `brooklet.server.body.timeout.ms` and be at most
//!   `brooklet.request.max.bytes` (413); `/inserts-stream`, which streams, is exempt.
//! - **Panics.** A handler that panics answers 500; the server goes on.
//!
//! Error answers that are not JSON (an unknown path, a wrong method) are rewritten into ksqlDB's
//! `generic_error`, so clients that parse `error_code` always can.

use super::{error, Server};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures::FutureExt;
use std::sync::Arc;

/// Media types a POST body may have (parameters such as `charset` aside). None of them is one a
/// browser may send cross-site without a CORS preflight.
const ACCEPTED: &[&str] = &[
    "application/json",
    "application/vnd.ksql.v1+json",
    "application/vnd.ksqlapi.delimited.v1",
];

fn accepted(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.ends_with("+json") || ACCEPTED.contains(&media.as_str())
}

pub async fn check(State(server): State<Arc<Server>>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("?").to_string());
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if let Some(origin) = &origin {
        if !server.config.origin_allowed(origin) && !same_origin(origin, host) {
            return error(
                StatusCode::FORBIDDEN,
                0,
                &format!("Cross-origin request refused: origin '{origin}' is not allowed (access.control.allow.origin)"),
            );
        }
        if request.method() == Method::OPTIONS {
            return preflight(&server, origin);
        }
    }
    let path = request.uri().path().to_string();
    let request = match body(&server, request, &path).await {
        Ok(r) => r,
        Err(refused) => return *refused,
    };
    let response = std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!("a request to {path} panicked");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                0,
                "Internal error: the request failed; the server goes on",
            )
        });
    let mut response = envelope(response, &path).await;
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// Whether a request comes from a page this server served (the console at `/`): its `Origin`
/// names the host and port the request was sent to, and that host is an IP address or
/// `localhost`. A name such as `evil.example` is not trusted even when it matches `Host`: a
/// page of that name whose DNS record was switched to this server's address (DNS rebinding)
/// sends exactly that. To open the console by a DNS name, allow its origin
/// (`access.control.allow.origin`).
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    if !authority.eq_ignore_ascii_case(host) {
        return false;
    }
    let name = match host.rsplit_once(':') {
        // `[::1]:8088`, `127.0.0.1:8088`, `localhost:8088`
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// A CORS preflight from an allowed origin.
fn preflight(server: &Server, origin: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    let mut set = |name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    set(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        &server.config.allow_methods,
    );
    set(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        &server.config.allow_headers,
    );
    set(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    set(header::ACCESS_CONTROL_MAX_AGE, "600");
    set(header::VARY, "Origin");
    response
}

/// A POST's or PUT's content type checked and its body read within the limits (all but
/// `/inserts-stream`'s, which is read as it streams). Other methods' bodies are never read.
async fn body(server: &Server, request: Request, path: &str) -> Result<Request, Box<Response>> {
    if request.method() != Method::POST && request.method() != Method::PUT {
        return Ok(request);
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?").to_string());
    // ksql-python-ng sends `/close-query` with no content type; closing a query by its id is
    // allowed so (browsers' cross-site requests are refused by their Origin already).
    let untyped_close = content_type.is_none() && path == "/close-query";
    if !untyped_close && !content_type.as_deref().is_some_and(accepted) {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            0,
            &format!(
                "Unsupported content type '{}': send Content-Type: application/vnd.ksql.v1+json (or application/json)",
                content_type.unwrap_or_default()
            ),
        )));
    }
    if path == "/inserts-stream" {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let limit = server.config.max_body_bytes;
    let read = tokio::time::timeout(server.config.body_timeout, to_bytes(body, limit)).await;
    match read {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(_)) => Err(Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            0,
            &format!("Request body too large for {path}: at most {limit} bytes (brooklet.request.max.bytes)"),
        ))),
        Err(_) => Err(Box::new(error(
            StatusCode::REQUEST_TIMEOUT,
            0,
            &format!(
                "The request body did not arrive within {} ms (brooklet.server.body.timeout.ms)",
                server.config.body_timeout.as_millis()
            ),
        ))),
    }
}

/// An error answer that is not JSON, in ksqlDB's `generic_error` envelope.
async fn envelope(response: Response, path: &str) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = to_bytes(response.into_body(), 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match status {
        StatusCode::NOT_FOUND => format!("Not found: {path}"),
        StatusCode::METHOD_NOT_ALLOWED => format!("Method not allowed on {path}"),
        StatusCode::PAYLOAD_TOO_LARGE => format!("Request body too large for {path}: {text}"),
        _ if text.is_empty() => status.to_string(),
        _ => text,
    };
    error(status, 0, &message)
}

/// A request body that must be a JSON object with only `fields` (ksqlDB's request classes
/// refuse unknown properties).
pub fn object(
    body: &[u8],
    fields: &[&str],
) -> Result<serde_json::Map<String, serde_json::Value>, Box<Response>> {
    let bad = |m: String| Box::new(error(StatusCode::BAD_REQUEST, 0, &m));
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("Invalid JSON in request: {e}")))?;
    let serde_json::Value::Object(map) = value else {
        return Err(bad("The request body must be a JSON object".into()));
    };
    if let Some(unknown) = map.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(bad(format!(
            "Unrecognized field \"{unknown}\": known fields are {}",
            fields.join(", ")
        )));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_json_content_types() {
        use super::accepted;
        assert!(accepted("application/json"));
        assert!(accepted("application/vnd.ksql.v1+json; charset=utf-8"));
        assert!(accepted("Application/JSON"));
        assert!(accepted("application/vnd.ksqlapi.delimited.v1"));
        for simple in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "",
        ] {
            assert!(!accepted(simple), "{simple}");
        }
    }

    #[test]
    fn only_the_servers_own_pages_by_address_are_same_origin() {
        use super::same_origin;
        assert!(same_origin("http://127.0.0.1:8088", Some("127.0.0.1:8088")));
        assert!(same_origin("http://localhost:8088", Some("localhost:8088")));
        assert!(same_origin("https://[::1]:8088", Some("[::1]:8088")));
        // Another port or host is another origin.
        assert!(!same_origin(
            "http://127.0.0.1:3000",
            Some("127.0.0.1:8088")
        ));
        assert!(!same_origin(
            "http://localhost:8088",
            Some("127.0.0.1:8088")
        ));
        // DNS rebinding: a name that now resolves here.
        assert!(!same_origin(
            "http://evil.example:8088",
            Some("evil.example:8088")
        ));
        assert!(!same_origin("null", Some("127.0.0.1:8088")));
        assert!(!same_origin("http://127.0.0.1:8088", None));
    }
}

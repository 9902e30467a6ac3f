//! What every request passes through: a content type the API reads (JSON), and error answers in
//! ksqlDB's envelope even when they come from the HTTP layer (an unknown path, a wrong method,
//! a body over the limit), so clients that parse `error_code` always can.

use super::error;
use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Media types a request body may have (parameters such as `charset` aside). `curl -d` sends
/// its JSON as `application/x-www-form-urlencoded` unless told otherwise, as ksqlDB's own
/// examples do, so that is read as JSON too.
const ACCEPTED: &[&str] = &[
    "application/json",
    "application/vnd.ksql.v1+json",
    "application/vnd.ksqlapi.delimited.v1",
    "application/x-www-form-urlencoded",
    "text/plain",
];

fn accepted(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.is_empty() || media.ends_with("+json") || ACCEPTED.contains(&media.as_str())
}

/// Refuses bodies of other content types (415); rewrites error answers that are not JSON into
/// ksqlDB's `generic_error`.
pub async fn check(request: Request, next: Next) -> Response {
    if request.method() == Method::POST {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?").to_string());
        if let Some(ct) = content_type.filter(|ct| !accepted(ct)) {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                0,
                &format!(
                    "Unsupported content type '{ct}': send application/json or application/vnd.ksql.v1+json"
                ),
            );
        }
    }
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
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

//! The web console at `/`: the page and its script and style, built from `web/` (`npm run
//! build`, output committed in `web/dist`) and compiled into the binary, so the server needs
//! no other files and the page no network. It calls the same REST API as any client, through
//! the same authentication and origin rules (its own origin is allowed: see `server::guard`).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX: &[u8] = include_bytes!("../../web/dist/index.html");
const SCRIPT: &[u8] = include_bytes!("../../web/dist/console.js");
const SCRIPT_GZ: &[u8] = include_bytes!("../../web/dist/console.js.gz");
const STYLE: &[u8] = include_bytes!("../../web/dist/console.css");

/// The page may load only its own script and style and talk only to this server; CodeMirror
/// sets styles inline. No frame may embed it (clickjacking).
const POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                      frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn asset(content_type: &'static str, body: &'static [u8], gzip: bool) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    response
}

pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX, false)
}

/// The script, gzipped for clients that take it.
pub async fn script(headers: HeaderMap) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    match gzip {
        true => asset("text/javascript; charset=utf-8", SCRIPT_GZ, true),
        false => asset("text/javascript; charset=utf-8", SCRIPT, false),
    }
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE, false)
}

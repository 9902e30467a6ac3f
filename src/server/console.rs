//! The web console at `/`: the page and its scripts and style, built from `web/` (`npm run
//! build`, output committed in `web/dist`) and compiled into the binary, so the server needs
//! no other files and the page no network. It calls the same REST API as any client, through
//! the same authentication and origin rules (its own origin is allowed: see `server::guard`).
//!
//! Two scripts: `console.js` draws the page and `editor.js` (CodeMirror, most of the bytes)
//! is loaded after it, so the page shows before the editor arrives. Scripts are sent gzipped
//! to browsers that take it; every asset has an ETag (hashed once), so a reload costs a 304.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

/// A file of the console: its type, its bytes and, for scripts, the same gzipped; the ETags
/// of both, computed on first use.
struct Asset {
    content_type: &'static str,
    body: &'static [u8],
    gzipped: Option<&'static [u8]>,
    tags: OnceLock<(String, String)>,
}

impl Asset {
    const fn new(
        content_type: &'static str,
        body: &'static [u8],
        gzipped: Option<&'static [u8]>,
    ) -> Asset {
        Asset {
            content_type,
            body,
            gzipped,
            tags: OnceLock::new(),
        }
    }

    /// The ETag of the plain or the gzipped bytes.
    fn tag(&self, gzipped: bool) -> &str {
        let (plain, gz) = self
            .tags
            .get_or_init(|| (etag(self.body), self.gzipped.map_or(String::new(), etag)));
        if gzipped {
            gz
        } else {
            plain
        }
    }
}

static INDEX: Asset = Asset::new(
    "text/html; charset=utf-8",
    include_bytes!("../../web/dist/index.html"),
    None,
);
static SCRIPT: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_bytes!("../../web/dist/console.js"),
    Some(include_bytes!("../../web/dist/console.js.gz")),
);
static EDITOR: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_bytes!("../../web/dist/editor.js"),
    Some(include_bytes!("../../web/dist/editor.js.gz")),
);
static STYLE: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_bytes!("../../web/dist/console.css"),
    None,
);

/// The page may load only its own scripts and style and talk only to this server;
/// CodeMirror sets styles inline. No frame may embed it (clickjacking).
const POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                      frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// An ETag for `body`: its FNV-1a hash, quoted.
fn etag(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let gzip = asset.gzipped.filter(|_| accepts_gzip(request));
    let body = gzip.unwrap_or(asset.body);
    let tag = asset.tag(gzip.is_some());
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = match fresh {
        true => StatusCode::NOT_MODIFIED.into_response(),
        false => (StatusCode::OK, body).into_response(),
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if asset.gzipped.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if gzip.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

pub async fn index(request: HeaderMap) -> Response {
    serve(&INDEX, &request)
}

pub async fn script(request: HeaderMap) -> Response {
    serve(&SCRIPT, &request)
}

pub async fn editor(request: HeaderMap) -> Response {
    serve(&EDITOR, &request)
}

pub async fn style(request: HeaderMap) -> Response {
    serve(&STYLE, &request)
}

//! The dashboard's files, compiled into the binary: the server room has no internet and the
//! daemon must not depend on files lying next to it. ETags are computed at compile time so a
//! reload costs a 304.

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Name under `/assets/` (or `index.html` for `/`).
    pub name: &'static str,
    /// MIME type.
    pub content_type: &'static str,
    /// Bytes.
    pub body: &'static [u8],
    /// Strong validator: FNV-1a of the bytes, computed at compile time.
    pub etag: &'static str,
}

/// FNV-1a 64 (a cheap, stable content hash; collisions only cost a stale cache entry).
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// Formats a hash as a quoted ETag at compile time.
const fn etag_of(bytes: &[u8]) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h = fnv1a(bytes);
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((h >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

macro_rules! asset {
    ($name:literal, $ct:literal) => {{
        const BODY: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $name));
        const TAG: [u8; 18] = etag_of(BODY);
        Asset {
            name: $name,
            content_type: $ct,
            body: BODY,
            etag: match std::str::from_utf8(&TAG) {
                Ok(s) => s,
                Err(_) => panic!("ETag is ASCII"),
            },
        }
    }};
}

/// Every file of the dashboard. `index.html` references all the others, so a first load fetches
/// exactly these.
pub static ASSETS: [Asset; 4] = [
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Uncompressed size of everything a first load fetches from the embedded assets: the upper
/// bound of their transfer (gzip only makes it smaller), checked against the 200 KB budget.
pub fn first_load_bytes() -> usize {
    ASSETS.iter().map(|a| a.body.len()).sum()
}

/// Content-Security-Policy of the dashboard: only the daemon's own scripts, styles and API.
const CSP: &str =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn serve(a: &Asset, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
    let common = [
        (header::ETAG, a.etag),
        // Revalidate every time: a daemon upgrade must never leave an old dashboard running.
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Everything comes from the daemon itself; nothing inline, no framing by other sites.
        (header::CONTENT_SECURITY_POLICY, CSP),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, a.content_type)], a.body).into_response()
}

/// `GET /`: the dashboard page.
pub async fn index(headers: HeaderMap) -> Response {
    serve(&ASSETS[0], &headers)
}

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().skip(1).find(|a| a.name == name) {
        Some(a) => serve(a, &headers),
        None => ApiError::not_found(format!("no asset named {name}")).into_response(),
    }
}

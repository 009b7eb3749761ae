//! The web page at `/`: one HTML file, a style sheet and plain JavaScript
//! modules, embedded in the binary (nothing to install, no build step),
//! served with their types, a strict Content-Security-Policy and cache
//! headers. The page uses only the public API, so anything it does, a
//! script can do. What it shows and why: `docs/web.md`.
//!
//! Asset URLs carry a version (a digest of every asset): `/ui/<version>/...`
//! is cached for a year, `/` is revalidated on each load (`ETag`), so a
//! new build is picked up at the next reload and never mixed with an old
//! module.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::Inbox;

/// The page's policy (CSP Level 3). Scripts and styles only from files of
/// this origin: no inline script or style, no `eval`; the only frame is a
/// message's HTML body from `/view/` (itself sandboxed); nothing may frame
/// the page. Trusted Types with no policy: the page cannot hand a string
/// to `innerHTML` at all, so received content is only ever set as text.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
    trusted-types 'none'";

/// One embedded file.
struct Asset {
    path: &'static str,
    media: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $media:expr) => {
        Asset {
            path: $path,
            media: $media,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the page but `index.html`.
const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("js/api.js", JS),
    asset!("js/app.js", JS),
    asset!("js/conversation.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/inbox.js", JS),
    asset!("js/keys.js", JS),
    asset!("js/live.js", JS),
    asset!("js/message.js", JS),
    asset!("js/mime.js", JS),
    asset!("js/rules.js", JS),
    asset!("js/sessions.js", JS),
    asset!("js/steps.js", JS),
];

const INDEX: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/index.html"));

/// The digest of every asset: the version in asset URLs.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    digest.update(INDEX.as_bytes());
    for asset in ASSETS {
        digest.update(asset.path.as_bytes());
        digest.update(asset.body);
    }
    digest
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
});

/// `index.html` with the version in its asset URLs.
static PAGE: LazyLock<String> = LazyLock::new(|| INDEX.replace("{{version}}", &VERSION));

pub(super) fn routes() -> Router<Inbox> {
    Router::new()
        .route("/", get(page))
        .route("/index.html", get(page))
        .route("/ui/{version}/{*path}", get(asset))
}

/// Headers every part of the page carries.
fn page_headers(response: &mut Response, media: &'static str, cache: &'static str) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    // A window this page opens (a link in a message) cannot reach back.
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
}

async fn page(request: HeaderMap) -> Response {
    let etag = format!("\"{}\"", *VERSION);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        PAGE.as_str().into_response()
    };
    page_headers(&mut response, "text/html; charset=utf-8", "no-cache");
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

async fn asset(Path((version, path)): Path<(String, String)>) -> Response {
    let Some(found) = ASSETS.iter().find(|a| a.path == path) else {
        return super::api::ApiError::not_found("404 page not found").into_response();
    };
    // An older page asking for its version gets today's file, not cached
    // (it reloads soon enough); the current version is cached for good.
    let cache = if version == *VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = found.body.into_response();
    page_headers(&mut response, found.media, cache);
    response
}

/// The version in asset URLs (tests and docs).
pub fn version() -> &'static str {
    &VERSION
}

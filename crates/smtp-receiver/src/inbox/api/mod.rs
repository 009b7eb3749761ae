//! The HTTP API: Mailpit's REST API v1 for what tests use, and beyond it
//! the sessions, a long-poll wait, the rules, `/metrics`.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /api/v1/messages?start&limit` | list, newest first (Mailpit) |
//! | `PUT /api/v1/messages` | mark read/unread by `IDs`, `Search` or all (Mailpit) |
//! | `DELETE /api/v1/messages` | delete by `IDs`, or all (Mailpit) |
//! | `GET /api/v1/search?query&start&limit` | search (Mailpit) |
//! | `DELETE /api/v1/search?query` | delete what matches (Mailpit) |
//! | `GET /api/v1/message/{ID}` | one message; marks it read (Mailpit) |
//! | `GET /api/v1/message/{ID}/headers` / `raw` / `part/{PartID}` | (Mailpit) |
//! | `GET /view/{ID}.html` / `.txt` | the bodies; mark read (Mailpit); `?remote=1` allows remote images, `?embed=1` opens links in a new window |
//! | `GET /api/v1/tags`, `PUT /api/v1/tags` | tags (Mailpit) |
//! | `GET /api/v1/info`, `GET /api/v1/webui` | (Mailpit) |
//! | `GET`/`PUT /api/v1/chaos` | chaos triggers, as reply rules (Mailpit) |
//! | `GET /api/v1/sessions?start&limit&outcome` | recorded sessions |
//! | `GET /api/v1/session/{ID}` | one session, its transcript annotated |
//! | `GET /api/v1/message/{ID}/session` | the session that delivered a message |
//! | `GET /api/v1/message/{ID}/tree` | the MIME tree, with part ids for `part/{PartID}` |
//! | `GET /api/v1/wait?query&timeout` | wait until a message matches |
//! | `GET /api/v1/events` | changes as server-sent events (new, deleted, session) |
//! | `GET`/`PUT /api/v1/rules` | the reply rules as text lines |
//! | `GET /metrics`, `GET /livez`, `GET /readyz` | |
//! | `GET /`, `GET /ui/{version}/...` | the web page ([`web`](super::web)) |
//!
//! `{ID}` can be `latest` (the newest message, or with `?query=` the newest
//! matching one). Errors are JSON `{"Error": "..."}` with the right status.

mod auth;
mod events;
mod extra;
mod messages;
mod one;
mod serve;
pub mod view;

use axum::Router;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;

pub use auth::{HtpasswdError, HtpasswdUsers};
pub use serve::{HttpListener, serve};

use super::Inbox;
use super::store::StoreError;

/// The largest request body accepted (JSON bodies are small).
const BODY_LIMIT: usize = 1024 * 1024;

/// How the API is served.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ApiOptions {
    /// Basic authentication (`--http-auth FILE`).
    pub auth: Option<HtpasswdUsers>,
    /// Allow requests from pages of other origins (off: a browser page
    /// elsewhere cannot read or delete the captured mail).
    pub cors_any: bool,
}

impl ApiOptions {
    /// With basic authentication from these users.
    pub fn with_auth(mut self, users: HtpasswdUsers) -> ApiOptions {
        self.auth = Some(users);
        self
    }
}

/// An API error: a status and a message, sent as `{"Error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 500 with `message`: something stored could not be read.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        tracing::warn!(%error, "API request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "Error": self.message })),
        )
            .into_response()
    }
}

/// The result of an API handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// Mailpit answers PUT and DELETE with `200 text/plain "ok"`.
pub(crate) fn ok() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response()
}

/// `GET /livez` (200 while the process serves) and `GET /readyz` (200
/// while `ready`, 503 once the server drains): what a load balancer's or
/// an orchestrator's HTTP health check reads. Served on its own by
/// `smtp-receive --http` when there is no inbox (onward delivery).
pub fn health<S: Clone + Send + Sync + 'static>(ready: Arc<AtomicBool>) -> Router<S> {
    Router::new().route("/livez", get(|| async { "ok" })).route(
        "/readyz",
        get(move || {
            let ready = ready.load(Ordering::Relaxed);
            async move {
                if ready {
                    ok()
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
                }
            }
        }),
    )
}

/// The API of `inbox`, with `options`.
pub fn router(inbox: Inbox, options: ApiOptions) -> Router {
    let ready = inbox.readiness();
    let api = Router::new()
        .merge(health(ready))
        .merge(messages::routes())
        .merge(one::routes())
        .merge(extra::routes())
        .merge(events::routes())
        .merge(super::web::routes())
        .fallback(|| async { ApiError::not_found("404 page not found") })
        .with_state(inbox)
        .layer(middleware::from_fn(same_origin_only))
        .layer(middleware::from_fn(security_headers))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(CompressionLayer::new());
    let api = match options.auth {
        Some(users) => api.layer(middleware::from_fn_with_state(users, auth::require)),
        None => api,
    };
    let api = if options.cors_any {
        api.layer(tower_http::cors::CorsLayer::permissive())
    } else {
        api
    };
    // Duplicate slashes are collapsed before routing (cypress-mailpit asks
    // for `//view/ID.html`; Mailpit redirects, we serve).
    Router::new()
        .fallback_service(api)
        .layer(middleware::map_request(collapse_slashes))
}

async fn collapse_slashes(mut request: Request) -> Request {
    let path = request.uri().path();
    if !path.contains("//") {
        return request;
    }
    let mut collapsed = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    if let Ok(uri) = format!("{collapsed}{query}").parse() {
        *request.uri_mut() = uri;
    }
    request
}

/// A browser page of another origin may not use the API (Mailpit's
/// default): a request whose `Origin` names a host other than the one it
/// was sent to gets 403. Clients that are not browsers send no `Origin`.
async fn same_origin_only(request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, rest)| rest.trim_end_matches('/'));
        if host.is_none() || origin_host != host {
            return (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({"Error": "cross-origin request refused"})),
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Every answer: no sniffing a type, no framing by other sites.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Mailpit's integer query parameters: a bad or negative number is the default.
pub(crate) fn number(value: Option<&String>, default: u64) -> u64 {
    value
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .map_or(default, |n| n as u64)
}

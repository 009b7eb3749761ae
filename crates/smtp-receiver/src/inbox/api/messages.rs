//! The message collection: list, search, mark read, delete, tags.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use super::view::Listing;
use super::{ApiError, ApiResult, number, ok};
use crate::inbox::Inbox;
use crate::inbox::entry::clean_tag;
use crate::inbox::search::Filter;

/// Mailpit's page size when none is asked for.
const DEFAULT_LIMIT: u64 = 50;

type Params = Query<HashMap<String, String>>;

pub(super) fn routes() -> Router<Inbox> {
    Router::new()
        .route("/api/v1/messages", get(list).put(set_read).delete(delete))
        .route("/api/v1/search", get(search).delete(delete_matching))
        .route("/api/v1/tags", get(tags).put(set_tags))
}

/// A JSON object body with its keys lower-cased (Go's decoder matches keys
/// without regard to case, and Mailpit clients rely on it); `None` when
/// the body is empty or not a JSON object.
pub(super) fn body_object(body: &Bytes) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Object(map) => Some(
            map.into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
        ),
        _ => None,
    }
}

/// A list of strings under `key` (`None` when absent or not a list of strings).
pub(super) fn strings(body: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    let list = body.get(key)?.as_array()?;
    list.iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// `query`, required and trimmed (Mailpit: `Error: no search query`).
fn query_of(params: &HashMap<String, String>) -> ApiResult<Filter> {
    match params.get("query").map(|q| q.trim()) {
        Some(q) if !q.is_empty() => Ok(Filter::parse(q)),
        _ => Err(ApiError::bad_request("Error: no search query")),
    }
}

async fn list(State(inbox): State<Inbox>, Query(params): Params) -> ApiResult<Response> {
    let limit = number(params.get("limit"), DEFAULT_LIMIT);
    // Mailpit: limit 0 means no limit, and then start is ignored.
    let start = if limit == 0 {
        0
    } else {
        number(params.get("start"), 0)
    };
    let page = inbox.store().page(Filter::all(), start, limit).await?;
    Ok(axum::Json(Listing::new(page, start)).into_response())
}

async fn search(State(inbox): State<Inbox>, Query(params): Params) -> ApiResult<Response> {
    let filter = query_of(&params)?;
    let limit = number(params.get("limit"), DEFAULT_LIMIT);
    let start = number(params.get("start"), 0);
    // Mailpit answers limit=0 with an empty page; here it means 50.
    let limit = if limit == 0 { DEFAULT_LIMIT } else { limit };
    let page = inbox.store().page(filter, start, limit).await?;
    Ok(axum::Json(Listing::new(page, start)).into_response())
}

/// `{"IDs": [...]}` deletes those; no body, an empty one, one that is not
/// JSON, or no IDs: everything (as Mailpit: clients rely on it).
async fn delete(State(inbox): State<Inbox>, body: Bytes) -> ApiResult<Response> {
    let ids = body_object(&body)
        .and_then(|b| strings(&b, "ids"))
        .filter(|ids| !ids.is_empty());
    inbox.store().delete(ids, Filter::all()).await?;
    Ok(ok())
}

async fn delete_matching(State(inbox): State<Inbox>, Query(params): Params) -> ApiResult<Response> {
    let filter = query_of(&params)?;
    inbox.store().delete(None, filter).await?;
    Ok(ok())
}

/// `{"Read": bool, "IDs": [...], "Search": "..."}`; `Read` omitted is
/// false (unread); neither IDs nor Search: every message.
async fn set_read(State(inbox): State<Inbox>, body: Bytes) -> ApiResult<Response> {
    let Some(body) = body_object(&body) else {
        return Err(ApiError::bad_request(
            "a JSON object is required: {\"Read\": true, \"IDs\": [...]}",
        ));
    };
    let read = body.get("read").and_then(Value::as_bool).unwrap_or(false);
    let ids = strings(&body, "ids").filter(|ids| !ids.is_empty());
    let search = body
        .get("search")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let filter = match (&ids, search) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "You may specify either IDs or a search query, not both",
            ));
        }
        (_, Some(search)) => Filter::parse(search),
        _ => Filter::all(),
    };
    inbox.store().set_read(ids, filter, read).await?;
    Ok(ok())
}

async fn tags(State(inbox): State<Inbox>) -> ApiResult<Response> {
    let tags: Vec<String> = inbox
        .store()
        .tag_counts()
        .await?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    Ok(axum::Json(tags).into_response())
}

/// `{"IDs": [...], "Tags": [...]}` replaces the tags of those messages.
async fn set_tags(State(inbox): State<Inbox>, body: Bytes) -> ApiResult<Response> {
    let body =
        body_object(&body).ok_or_else(|| ApiError::bad_request("a JSON object is required"))?;
    let ids = strings(&body, "ids").unwrap_or_default();
    let mut tags: Vec<String> = strings(&body, "tags")
        .unwrap_or_default()
        .iter()
        .filter_map(|t| clean_tag(t))
        .collect();
    tags.sort_by_key(|t| t.to_lowercase());
    tags.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    inbox.store().set_tags(ids, tags).await?;
    Ok(ok())
}

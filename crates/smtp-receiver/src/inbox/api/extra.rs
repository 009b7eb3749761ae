//! Info, chaos and rules, sessions, the long-poll wait, metrics.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::messages::{body_object, strings};
use super::view::Listing;
use super::{ApiError, ApiResult, number};
use crate::inbox::Inbox;
use crate::inbox::search::Filter;
use crate::inbox::sessions::StoredSession;
use crate::rules::{ChaosTrigger, ChaosTriggers, Rule};

/// The longest a wait may be asked to last.
const MAX_WAIT: Duration = Duration::from_secs(120);
/// A wait without `timeout`.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

type Params = Query<HashMap<String, String>>;

pub(super) fn routes() -> Router<Inbox> {
    Router::new()
        .route("/api/v1/info", get(info))
        .route("/api/v1/webui", get(webui))
        .route("/api/v1/chaos", get(chaos).put(set_chaos))
        .route("/api/v1/rules", get(rules).put(set_rules))
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/session/{id}", get(session))
        .route("/api/v1/wait", get(wait))
        .route("/metrics", get(metrics))
}

async fn info(State(inbox): State<Inbox>) -> ApiResult<Response> {
    let page = inbox.store().page(Filter::all(), 0, 1).await?;
    let tags: BTreeMap<String, i64> = inbox.store().tag_counts().await?.into_iter().collect();
    let db = inbox.store().db_path();
    let size = std::fs::metadata(db).map_or(0, |m| m.len());
    let stats = inbox.shared.metrics.runtime();
    Ok(axum::Json(json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "LatestVersion": "disabled",
        "Database": db.display().to_string(),
        "DatabaseSize": size,
        "Messages": page.total,
        "Unread": page.unread,
        "Tags": tags,
        "RuntimeStats": {
            "Uptime": inbox.shared.started.elapsed().as_secs(),
            "Memory": resident_bytes(),
            "MessagesDeleted": 0,
            "SMTPAccepted": stats.accepted,
            "SMTPAcceptedSize": stats.bytes,
            "SMTPRejected": stats.refused,
            "SMTPIgnored": 0,
        },
    }))
    .into_response())
}

/// The resident set size (Linux; 0 elsewhere).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

async fn webui() -> Response {
    axum::Json(json!({
        "Label": "smtp-receive inbox",
        "MessageRelay": {"Enabled": false, "SMTPServer": "", "ReturnPath": "", "AllowedRecipients": "",
            "BlockedRecipients": "", "OverrideFrom": "", "PreserveMessageIDs": false,
            "RecipientAllowlist": ""},
        "SpamAssassin": false,
        "ChaosEnabled": true,
        "DuplicatesIgnored": false,
        "HideDeleteAllButton": false,
    }))
    .into_response()
}

fn chaos_json(t: ChaosTriggers) -> Response {
    let one = |t: ChaosTrigger| json!({"ErrorCode": t.error_code, "Probability": t.probability});
    axum::Json(json!({
        "Sender": one(t.sender),
        "Recipient": one(t.recipient),
        "Authentication": one(t.authentication),
    }))
    .into_response()
}

async fn chaos(State(inbox): State<Inbox>) -> Response {
    chaos_json(inbox.rules().chaos())
}

/// Mailpit's PUT: a trigger left out is reset; code 0 or missing takes the
/// default; codes 400..=599, probabilities 0..=100.
async fn set_chaos(State(inbox): State<Inbox>, body: Bytes) -> ApiResult<Response> {
    let body = if body.is_empty() {
        Map::new()
    } else {
        body_object(&body).ok_or_else(|| ApiError::bad_request("a JSON object is required"))?
    };
    let defaults = ChaosTriggers::default();
    let read = |key: &str, default: ChaosTrigger| -> ApiResult<ChaosTrigger> {
        let Some(Value::Object(t)) = body.get(key) else {
            return Ok(default);
        };
        let t: Map<String, Value> = t
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect();
        let code = t.get("errorcode").and_then(Value::as_i64).unwrap_or(0);
        let code = if code == 0 {
            i64::from(default.error_code)
        } else {
            code
        };
        if !(400..=599).contains(&code) {
            return Err(ApiError::bad_request(
                "error code must be between 400 and 599",
            ));
        }
        let probability = t.get("probability").and_then(Value::as_i64).unwrap_or(0);
        if !(0..=100).contains(&probability) {
            return Err(ApiError::bad_request(
                "probability must be between 0 and 100",
            ));
        }
        Ok(ChaosTrigger {
            error_code: code as u16,
            probability: probability as u8,
        })
    };
    let triggers = ChaosTriggers {
        sender: read("sender", defaults.sender)?,
        recipient: read("recipient", defaults.recipient)?,
        authentication: read("authentication", defaults.authentication)?,
    };
    inbox.rules().set_chaos(triggers);
    Ok(chaos_json(inbox.rules().chaos()))
}

async fn rules(State(inbox): State<Inbox>) -> Response {
    let rules: Vec<String> = inbox.rules().list().iter().map(Rule::to_string).collect();
    axum::Json(json!({ "Rules": rules })).into_response()
}

/// `{"Rules": ["rcpt:*@x=550 ...", ...]}` replaces the rules (the chaos
/// triggers stay); a rule that does not parse refuses the whole request.
async fn set_rules(State(inbox): State<Inbox>, body: Bytes) -> ApiResult<Response> {
    let body =
        body_object(&body).ok_or_else(|| ApiError::bad_request("a JSON object is required"))?;
    let lines = strings(&body, "rules")
        .ok_or_else(|| ApiError::bad_request("\"Rules\" is a list of rule lines"))?;
    let parsed = lines
        .iter()
        .map(|l| l.parse::<Rule>())
        .collect::<Result<Vec<_>, _>>();
    inbox
        .rules()
        .replace(parsed.map_err(|e| ApiError::bad_request(e.to_string()))?);
    Ok(rules(State(inbox)).await)
}

/// The listing fields of a session record (its lines left out, the
/// judge's badge in).
pub(super) fn summary(record: &str) -> Value {
    StoredSession::parse(record)
        .and_then(|session| serde_json::to_value(session.summary()).ok())
        .unwrap_or(Value::Null)
}

async fn sessions(State(inbox): State<Inbox>, Query(params): Params) -> ApiResult<Response> {
    let start = number(params.get("start"), 0);
    let limit = number(params.get("limit"), 50);
    let outcome = params.get("outcome").filter(|o| !o.is_empty()).cloned();
    let (total, rows) = inbox.store().sessions(outcome, start, limit).await?;
    let list: Vec<Value> = rows.iter().map(|r| summary(&r.record)).collect();
    Ok(
        axum::Json(
            json!({ "total": total, "count": list.len(), "start": start, "sessions": list }),
        )
        .into_response(),
    )
}

/// One session record as JSON.
pub(super) async fn session_response(inbox: &Inbox, id: String) -> ApiResult<Response> {
    match inbox.store().session(id).await? {
        Some(record) => match StoredSession::parse(&record) {
            Some(session) => Ok(axum::Json(session.explained()).into_response()),
            None => Err(ApiError::internal("the session record is not readable")),
        },
        None => Err(ApiError::not_found("session not found")),
    }
}

async fn session(State(inbox): State<Inbox>, Path(id): Path<String>) -> ApiResult<Response> {
    session_response(&inbox, id).await
}

/// Long poll: answers as soon as at least `count` (default 1) messages
/// match `query` (no query: any message), with the search result; 408
/// after `timeout` (`10s` default, `500ms`, at most 120 s).
async fn wait(State(inbox): State<Inbox>, Query(params): Params) -> ApiResult<Response> {
    let filter = params
        .get("query")
        .map(|q| q.trim())
        .filter(|q| !q.is_empty())
        .map_or_else(Filter::all, Filter::parse);
    let count = number(params.get("count"), 1).max(1);
    let timeout = match params.get("timeout") {
        Some(t) => crate::rules::parse_duration(t)
            .ok_or_else(|| ApiError::bad_request("timeout: 500ms, 10s, 2m"))?,
        None => DEFAULT_WAIT,
    }
    .min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut changes = inbox.store().changes();
    loop {
        changes.borrow_and_update();
        let page = inbox.store().page(filter.clone(), 0, 50).await?;
        if page.matched >= count {
            return Ok(axum::Json(Listing::new(page, 0)).into_response());
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() {
                return Err(ApiError::not_found("the inbox is closing"));
            },
            () = tokio::time::sleep_until(deadline) => {
                return Ok((StatusCode::REQUEST_TIMEOUT,
                    axum::Json(json!({"Error": "no matching message before the timeout"}))).into_response());
            }
        }
    }
}

async fn metrics(State(inbox): State<Inbox>) -> ApiResult<Response> {
    let total = inbox
        .store()
        .page(Filter::all(), 0, 1)
        .await
        .map(|p| p.total)
        .unwrap_or(0);
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        inbox.shared.metrics.render(total),
    )
        .into_response())
}

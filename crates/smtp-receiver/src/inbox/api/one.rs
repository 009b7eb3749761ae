//! One message: as JSON, its headers, its source, one part, its bodies,
//! the session that delivered it.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::view::{MessageView, headers};
use super::{ApiError, ApiResult};
use crate::inbox::Inbox;
use crate::inbox::search::Filter;
use crate::inbox::store::MessageRow;

/// What a received message may do where it is shown: nothing. No script,
/// no plugins, no forms, no navigation; styles and images inline only
/// (its own `cid:` images are rewritten to `data:` URLs), never from
/// elsewhere: a remote image tells the sender the message was opened.
pub(crate) const CONTENT_CSP: &str = "default-src 'none'; img-src data: cid:; \
    style-src 'unsafe-inline'; font-src data:; sandbox";

/// The policy of a body asked for with `?remote=1` (remote images allowed,
/// at the reader's request: the page's "load remote images") and
/// `?embed=1` (links may open a new window, outside the sandbox: the page
/// frames no other origin, so in the frame a link could go nowhere).
/// Script stays forbidden whatever is asked.
fn content_csp(remote: bool, embed: bool) -> String {
    let images = if remote {
        "img-src data: cid: https: http:"
    } else {
        "img-src data: cid:"
    };
    let sandbox = if embed {
        "sandbox allow-popups allow-popups-to-escape-sandbox"
    } else {
        "sandbox"
    };
    format!("default-src 'none'; {images}; style-src 'unsafe-inline'; font-src data:; {sandbox}")
}

/// Inline images larger than this stay `cid:` references (not shown).
const MAX_INLINE_IMAGE: usize = 5 * 1024 * 1024;

/// Downloads: a unique origin and nothing runs, whatever the browser
/// thinks the bytes are.
const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox";

type Params = Query<HashMap<String, String>>;

pub(super) fn routes() -> Router<Inbox> {
    Router::new()
        .route("/api/v1/message/{id}", get(message))
        .route("/api/v1/message/{id}/headers", get(message_headers))
        .route("/api/v1/message/{id}/raw", get(raw))
        .route("/api/v1/message/{id}/part/{part}", get(part))
        .route("/api/v1/message/{id}/session", get(session_of))
        .route("/api/v1/message/{id}/tree", get(tree))
        .route("/view/{file}", get(view))
}

/// The row and bytes of `{ID}` (or `latest`, optionally `?query=`). A row
/// whose file went away in between (a delete racing this read) is 404.
async fn resolve(
    inbox: &Inbox,
    id: &str,
    params: &HashMap<String, String>,
) -> ApiResult<(MessageRow, Vec<u8>)> {
    let row = if id == "latest" {
        let filter = params
            .get("query")
            .map_or_else(Filter::all, |q| Filter::parse(q));
        inbox.store().latest(filter).await?
    } else {
        inbox.store().get(id.to_string()).await?
    };
    let Some(row) = row else {
        return Err(ApiError::not_found("Message not found"));
    };
    match tokio::fs::read(inbox.store().root().join(&row.entry.path)).await {
        Ok(raw) => Ok((row, raw)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ApiError::not_found("Message not found"))
        }
        Err(e) => Err(ApiError::from(crate::inbox::store::StoreError::Io {
            action: "read",
            path: row.entry.path.into(),
            source: e,
        })),
    }
}

async fn mark_read(inbox: &Inbox, row: &MessageRow) -> ApiResult<()> {
    if !row.read {
        inbox
            .store()
            .set_read(Some(vec![row.entry.id.clone()]), Filter::all(), true)
            .await?;
    }
    Ok(())
}

/// The full message; marks it read (Mailpit).
async fn message(
    State(inbox): State<Inbox>,
    Path(id): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let (row, raw) = resolve(&inbox, &id, &params).await?;
    mark_read(&inbox, &row).await?;
    Ok(axum::Json(MessageView::new(row, &raw)).into_response())
}

async fn message_headers(
    State(inbox): State<Inbox>,
    Path(id): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let (_, raw) = resolve(&inbox, &id, &params).await?;
    Ok(axum::Json(headers(&raw)).into_response())
}

fn download(content_type: &str, file_name: &str, body: Vec<u8>) -> Response {
    // RFC 6266: a plain-ASCII name, quotes and controls removed.
    let safe: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let pairs = [
        (header::CONTENT_TYPE, content_type.to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{safe}\""),
        ),
        (header::CONTENT_SECURITY_POLICY, DOWNLOAD_CSP.to_string()),
    ];
    let mut response = body.into_response();
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The stored bytes exactly; always an attachment.
async fn raw(
    State(inbox): State<Inbox>,
    Path(id): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let (row, raw) = resolve(&inbox, &id, &params).await?;
    Ok(download(
        "text/plain; charset=utf-8",
        &format!("{}.eml", row.entry.id),
        raw,
    ))
}

/// One part, decoded, as an attachment.
async fn part(
    State(inbox): State<Inbox>,
    Path((id, part)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Response> {
    let (_, raw) = resolve(&inbox, &id, &params).await?;
    let found = smtp_mime::parts(&raw)
        .into_iter()
        .find(|p| p.part_id == part);
    let Some(found) = found else {
        return Err(ApiError::not_found("part not found"));
    };
    let name = found
        .filename
        .clone()
        .or(found.content_id.clone())
        .unwrap_or_else(|| format!("part-{part}"));
    let media = if found.content_type.contains('/') && found.content_type.is_ascii() {
        found.content_type.clone()
    } else {
        "application/octet-stream".to_string()
    };
    Ok(download(&media, &name, found.bytes))
}

/// `/view/{ID}.html` and `/view/{ID}.txt`: the bodies; mark read.
/// `?remote=1` allows remote images, `?embed=1` makes links open a new
/// window (both asked for by the web page).
async fn view(
    State(inbox): State<Inbox>,
    Path(file): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let (id, html) = match (file.strip_suffix(".html"), file.strip_suffix(".txt")) {
        (Some(id), _) => (id, true),
        (_, Some(id)) => (id, false),
        _ => return Err(ApiError::not_found("404 page not found")),
    };
    let (row, raw) = resolve(&inbox, id, &params).await?;
    mark_read(&inbox, &row).await?;
    let msg = smtp_mime::inspect(&raw);
    let asked = |name: &str| params.get(name).is_some_and(|v| v == "1");
    let (remote, embed) = (asked("remote"), asked("embed"));
    let (body, media) = if html {
        let Some(html) = msg.html else {
            return Err(ApiError::not_found(
                "This message does not contain a HTML part",
            ));
        };
        let html = inline_parts(&html, &raw);
        // `?embed=1` (the web page's frame): links open a new window. In
        // the frame they could not go anywhere: the page allows no other
        // origin in a frame (`frame-src 'self'`).
        let html = if embed {
            format!("<base target=\"_blank\">{html}")
        } else {
            html
        };
        (html, "text/html; charset=utf-8")
    } else {
        (msg.text.unwrap_or_default(), "text/plain; charset=utf-8")
    };
    let csp = if remote || embed {
        HeaderValue::from_str(&content_csp(remote, embed))
            .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_CSP))
    } else {
        HeaderValue::from_static(CONTENT_CSP)
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    // Received HTML never runs script in the API's origin.
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    Ok(response)
}

/// `cid:` references (RFC 2392) to the message's own images, rewritten to
/// `data:` URLs (RFC 2397) so that inline images show. Not links to the
/// part endpoint: the body's frame is sandboxed (an opaque origin), so
/// such requests would be cross-origin, and the frame asks the API for
/// nothing at all.
fn inline_parts(html: &str, raw: &[u8]) -> String {
    use base64::Engine as _;
    let mut html = html.to_string();
    for part in smtp_mime::parts(raw) {
        let Some(cid) = part.content_id.as_deref().filter(|c| !c.is_empty()) else {
            continue;
        };
        let media = &part.content_type;
        let plain_type = media
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b));
        if !media.starts_with("image/") || !plain_type || part.bytes.len() > MAX_INLINE_IMAGE {
            continue;
        }
        let url = format!(
            "data:{media};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&part.bytes)
        );
        for quote in ['"', '\''] {
            html = html.replace(
                &format!("{quote}cid:{cid}{quote}"),
                &format!("{quote}{url}{quote}"),
            );
        }
    }
    html
}

/// The MIME tree: each node's part id, type, file name, size, and whether
/// `/part/{PartID}` serves it.
async fn tree(
    State(inbox): State<Inbox>,
    Path(id): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let (_, raw) = resolve(&inbox, &id, &params).await?;
    let tree = smtp_mime::part_tree(&raw).map(|t| node_json(&t));
    Ok(axum::Json(tree).into_response())
}

fn node_json(node: &smtp_mime::PartNode) -> serde_json::Value {
    serde_json::json!({
        "PartID": node.part_id,
        "ContentType": node.content_type,
        "FileName": node.filename.clone().unwrap_or_default(),
        "ContentID": node.content_id.clone().unwrap_or_default(),
        "Attachment": node.attachment,
        "Body": node.body,
        "Size": node.size,
        // What `smtp_mime::parts` lists, so what `part` serves.
        "Download": !node.body && !node.content_type.starts_with("multipart/"),
        "Children": node.children.iter().map(node_json).collect::<Vec<_>>(),
    })
}

/// The session that delivered `{ID}`.
async fn session_of(
    State(inbox): State<Inbox>,
    Path(id): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let (row, _) = resolve(&inbox, &id, &params).await?;
    let Some(session) = row.session_id else {
        return Err(ApiError::not_found(
            "no session recorded for this message (yet: a session is recorded when it ends)",
        ));
    };
    super::extra::session_response(&inbox, session).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_variant_of_the_body_policy_allows_script_or_same_origin() {
        for (remote, embed) in [(false, false), (true, false), (false, true), (true, true)] {
            let csp = content_csp(remote, embed);
            assert!(csp.starts_with("default-src 'none';"), "{csp}");
            assert!(csp.contains("sandbox"), "{csp}");
            assert!(
                !csp.contains("script") && !csp.contains("same-origin"),
                "{csp}"
            );
            assert_eq!(csp.contains("https:"), remote, "{csp}");
            assert_eq!(csp.contains("allow-popups"), embed, "{csp}");
        }
        assert_eq!(content_csp(false, false), CONTENT_CSP);
    }
}

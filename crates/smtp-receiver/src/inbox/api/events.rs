//! `GET /api/v1/events`: what changes in the inbox, live, as server-sent
//! events (`text/event-stream`, HTML Living Standard §9.2), for the web
//! page and for any script (`curl -N`).
//!
//! | event | data |
//! |---|---|
//! | `ready` | `{}`: subscribed; what happens from now on is told |
//! | `new` | the new message's listing item (as in `/api/v1/messages`) |
//! | `deleted` | `{"IDs": [...]}` |
//! | `updated` | `{}`: read flags or tags changed |
//! | `session` | the recorded session's listing item (as in `/api/v1/sessions`) |
//! | `resync` | `{"Missed": n}`: this client fell behind; reload what you show |
//!
//! Server-sent events rather than a WebSocket: the traffic goes one way,
//! the browser reconnects by itself, and a proxy or `curl` sees plain
//! HTTP. The source of truth is the index's change feed
//! ([`Store::events`](crate::inbox::store::Store::events)), told after each
//! commit, so what an event names can already be read.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use super::serve::Stopping;
use super::view::Summary;
use crate::inbox::Inbox;
use crate::inbox::store::Change;

pub(super) fn routes() -> Router<Inbox> {
    Router::new().route("/api/v1/events", get(events))
}

/// The stream's state: the inbox (to read what a change names), the change
/// feed, and whether `ready` was sent.
struct Feed {
    inbox: Inbox,
    changes: Receiver<Change>,
    greeted: bool,
}

async fn events(
    State(inbox): State<Inbox>,
    stopping: Option<Extension<Stopping>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before the handler returns: nothing committed after the
    // client sees `ready` is missed.
    let feed = Feed {
        changes: inbox.store().events(),
        inbox,
        greeted: false,
    };
    // The stream ends when the server stops, so that a page left open
    // does not hold up a graceful shutdown.
    let stopping = stopping.map(|Extension(s)| s);
    let stopped = async move {
        match stopping {
            Some(stopping) => stopping.wait().await,
            None => std::future::pending().await,
        }
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        if !feed.greeted {
            feed.greeted = true;
            return Some((Ok(event("ready", "{}".into())), feed));
        }
        loop {
            let next = match feed.changes.recv().await {
                Ok(change) => describe(&feed.inbox, change).await,
                Err(RecvError::Lagged(missed)) => {
                    Some(event("resync", json!({ "Missed": missed }).to_string()))
                }
                Err(RecvError::Closed) => return None,
            };
            if let Some(next) = next {
                return Some((Ok(next), feed));
            }
        }
    });
    Sse::new(stream.take_until(stopped)).keep_alive(KeepAlive::default())
}

fn event(name: &str, data: String) -> Event {
    Event::default().event(name).data(data)
}

/// The event telling `change`; `None` when what it names is already gone
/// (a message deleted right after it arrived: its `deleted` follows).
async fn describe(inbox: &Inbox, change: Change) -> Option<Event> {
    match change {
        Change::Added(id) => {
            let row = inbox.store().get(id).await.ok()??;
            let data = serde_json::to_string(&Summary::new(row)).ok()?;
            Some(event("new", data))
        }
        Change::Deleted(ids) => Some(event("deleted", json!({ "IDs": ids }).to_string())),
        Change::Updated => Some(event("updated", "{}".into())),
        Change::Session(id) => {
            let record = inbox.store().session(id).await.ok()??;
            Some(event("session", super::extra::summary(&record).to_string()))
        }
    }
}

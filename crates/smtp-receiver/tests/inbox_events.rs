//! `/api/v1/events`: the inbox's changes as server-sent events, read by a
//! real HTTP client while smtplib delivers and the API deletes; and the
//! stream ends when the server stops.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod inbox_support;

use std::time::{Duration, Instant};

use inbox_support::{smtplib_send, start_inbox};
use serde_json::Value;
use smtp_receiver::inbox::api::ApiOptions;

/// Reads server-sent events off a streaming response.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(base: &str) -> Events {
        let response = reqwest::get(format!("{base}/api/v1/events")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (name, data), keep-alive comments skipped; `None`
    /// when the stream ended.
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut data) = (String::new(), String::new());
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event:") {
                        name = n.trim().to_string();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                if name.is_empty() {
                    continue;
                }
                return Some((name, serde_json::from_str(&data).unwrap()));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event named `name` (others skipped).
    async fn expect(&mut self, name: &str) -> Value {
        loop {
            let (n, data) = self.next().await.expect("the stream ended");
            if n == name {
                return data;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_arrive_as_server_sent_events() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = start_inbox(dir.path(), ApiOptions::default(), |_| {}).await;
    let mut events = Events::open(&inbox.base).await;
    assert_eq!(events.next().await.unwrap().0, "ready");

    let sent = Instant::now();
    smtplib_send(&inbox, "Live one").await;
    let new = events.expect("new").await;
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(new["Subject"], "Live one");
    assert_eq!(
        new["Envelope"]["To"],
        serde_json::json!(["bob+signup@example.org", "hidden@example.org"])
    );
    let id = new["ID"].as_str().unwrap().to_string();

    let session = events.expect("session").await;
    assert_eq!(session["Outcome"], "delivered");
    assert_eq!(session["Messages"], serde_json::json!([id]));
    assert!(
        session.get("Lines").is_none(),
        "a listing item, not the record"
    );

    let marked = inbox
        .http
        .put(inbox.url("/api/v1/messages"))
        .json(&serde_json::json!({"Read": true, "IDs": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(marked.status(), 200);
    events.expect("updated").await;

    let deleted = inbox
        .http
        .delete(inbox.url("/api/v1/messages"))
        .json(&serde_json::json!({"IDs": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        events.expect("deleted").await,
        serde_json::json!({"IDs": [id]})
    );

    // A page left open does not hold up the shutdown: its stream ends.
    let stopping = Instant::now();
    inbox.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(5));
    while events.next().await.is_some() {}
}

//! The API reading while 20 SMTP sessions write, and deletes racing the
//! deliveries: every message that got its 250 is either listed (with its
//! whole file) or was deleted through the API; nothing half-written is
//! ever served.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod inbox_support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use inbox_support::{TestInbox, start_inbox};
use serde_json::Value;

const SESSIONS: usize = 20;
const PER_SESSION: usize = 10;

async fn deliver(inbox: &TestInbox, session: usize) -> Vec<String> {
    let mut client = inbox.server.connect().await;
    client.reply().await;
    client.cmd("EHLO c.example").await;
    let mut ids = Vec::new();
    for n in 0..PER_SESSION {
        client.cmd("MAIL FROM:<a@c.example>").await;
        client.cmd("RCPT TO:<b@example.org>").await;
        client.cmd("DATA").await;
        let line = "x".repeat(76);
        let body = format!(
            "Subject: s{session} m{n}\r\n\r\n{}.",
            format!("{line}\r\n").repeat(50)
        );
        let reply = client.cmd(&body).await;
        let id = reply.trim().rsplit(' ').next().unwrap().to_string();
        assert!(reply.starts_with("250"), "{reply}");
        ids.push(id);
    }
    client.cmd("QUIT").await;
    ids
}

/// Lists, and reads each listed message whole: 200 with exactly `Size`
/// octets, or 404 when a delete got there first.
async fn read_everything(inbox: &TestInbox) -> usize {
    let list = inbox.json("/api/v1/messages?limit=0").await;
    let messages = list["messages"].as_array().unwrap().clone();
    for m in &messages {
        let id = m["ID"].as_str().unwrap();
        let r = inbox
            .http
            .get(inbox.url(&format!("/api/v1/message/{id}/raw")))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => assert_eq!(
                r.bytes().await.unwrap().len() as u64,
                m["Size"].as_u64().unwrap(),
                "{id} whole"
            ),
            404 => {}
            other => panic!("{id}: {other}"),
        }
    }
    messages.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_writers_and_deleters_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = Arc::new(start_inbox(dir.path(), Default::default(), |c| c.max_messages = 0).await);
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let (inbox, done) = (inbox.clone(), done.clone());
        tokio::spawn(async move {
            let mut rounds = 0;
            while !done.load(Ordering::Relaxed) {
                read_everything(&inbox).await;
                rounds += 1;
            }
            rounds
        })
    };
    let deleter = {
        let (inbox, done) = (inbox.clone(), done.clone());
        tokio::spawn(async move {
            let mut deleted = BTreeSet::new();
            while !done.load(Ordering::Relaxed) {
                let list = inbox
                    .json("/api/v1/search?query=subject:m3&limit=100")
                    .await;
                let ids: Vec<String> = list["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["ID"].as_str().unwrap().to_string())
                    .collect();
                if !ids.is_empty() {
                    let body = serde_json::json!({ "IDs": ids }).to_string();
                    let r = inbox
                        .http
                        .delete(inbox.url("/api/v1/messages"))
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    deleted.extend(ids);
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            deleted
        })
    };
    let writers: Vec<_> = (0..SESSIONS)
        .map(|s| {
            let inbox = inbox.clone();
            tokio::spawn(async move { deliver(&inbox, s).await })
        })
        .collect();
    let mut delivered = BTreeSet::new();
    for w in writers {
        delivered.extend(w.await.unwrap());
    }
    done.store(true, Ordering::Relaxed);
    let rounds = reader.await.unwrap();
    let deleted = deleter.await.unwrap();
    assert!(rounds > 0);
    assert_eq!(delivered.len(), SESSIONS * PER_SESSION, "unique queue ids");

    let list: Value = inbox.json("/api/v1/messages?limit=0").await;
    let listed: BTreeSet<String> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ID"].as_str().unwrap().to_string())
        .collect();
    assert!(listed.is_disjoint(&deleted));
    let accounted: BTreeSet<String> = listed.union(&deleted).cloned().collect();
    assert_eq!(accounted, delivered, "every 250 is listed or was deleted");
    let files = std::fs::read_dir(dir.path().join("new")).unwrap().count();
    assert_eq!(
        files,
        listed.len(),
        "one file per listed message, none left of the deleted"
    );
    assert_eq!(read_everything(&inbox).await, listed.len());
    Arc::try_unwrap(inbox).ok().unwrap().stop().await;
}

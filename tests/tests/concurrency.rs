//! 100 concurrent sessions, 100 messages: each found exactly once in the
//! Maildir, byte-identical after its trace fields (with the Maildir's LF
//! line ends).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::HashMap;

use smtp_e2e::harness::Receiver;
use smtp_sender::{Client, Envelope, TlsMode};

const SESSIONS: usize = 100;

fn message(n: usize) -> Vec<u8> {
    format!(
        "From: sender{n}@client.example.com\r\nTo: bob@example.org\r\nSubject: message {n}\r\n\
         X-Sequence: {n}\r\n\r\nThis is message number {n}.\r\n.leading dot {n}\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_sessions_each_message_stored_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start_in(dir.path()).await.unwrap();

    let mut tasks = Vec::new();
    for n in 0..SESSIONS {
        // Half over STARTTLS, half over implicit TLS.
        let tls = if n % 2 == 0 {
            TlsMode::StartTls
        } else {
            TlsMode::Implicit
        };
        let config = receiver.client_config(tls);
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(config).await?;
            let from = format!("sender{n}@client.example.com");
            let envelope = Envelope::new(&from, &["bob@example.org"])?;
            let report = client.send(&envelope, &message(n)).await?;
            client.quit().await?;
            Ok::<_, smtp_sender::SendError>(report.all_accepted())
        }));
    }
    for (n, task) in tasks.into_iter().enumerate() {
        let accepted = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("session {n}: {e}"));
        assert!(accepted, "session {n} was refused");
    }

    let stored = receiver.messages().unwrap();
    receiver.stop().await.unwrap();
    assert_eq!(stored.len(), SESSIONS, "messages in new/");
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    for m in &stored {
        *seen.entry(m.without_trace().to_vec()).or_default() += 1;
    }
    for n in 0..SESSIONS {
        assert_eq!(
            seen.get(&smtp_peers::normalize_newlines(&message(n))),
            Some(&1),
            "message {n} must be stored exactly once"
        );
    }
    assert!(
        std::fs::read_dir(dir.path().join("maildir/tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

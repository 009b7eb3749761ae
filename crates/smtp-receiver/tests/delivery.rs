//! Delivery into a Maildir over real sockets: what a 250 means, and that a
//! failure or a dropped connection leaves nothing behind. Graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io;
use std::path::Path;
use std::time::Duration;

use common::{code, envelope, files, lf, start, strip_trace, test_config};
use smtp_receiver::maildir::storage_error_reply;
use smtp_receiver::{Envelope, Handler, Maildir, MaildirHandler, MessageBody};
use smtp_wire::Reply;

fn maildir_is_empty(root: &Path) {
    assert!(files(&root.join("tmp")).is_empty(), "tmp/ not empty");
    assert!(files(&root.join("new")).is_empty(), "new/ not empty");
}

#[tokio::test]
async fn a_250_means_the_message_is_in_new() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        test_config(None),
        MaildirHandler::open(dir.path(), "mx.test").unwrap(),
    )
    .await;
    let mut c = server.connect().await;
    c.reply().await;
    envelope(&mut c).await;
    assert_eq!(code(&c.cmd("RCPT TO:<carol@EXAMPLE.org>").await), 250);
    assert_eq!(code(&c.cmd("DATA").await), 354);
    let message = "From: alice@client.example\r\nSubject: hi\r\n\r\n..dot\r\nbye\r\n";
    let reply = c.cmd(&format!("{message}.")).await;
    let id = reply.trim_end().rsplit(' ').next().unwrap().to_string();
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    // The reply came after the rename: the file is there now.
    let stored = files(&dir.path().join("new"));
    assert_eq!(stored.len(), 1);
    assert!(files(&dir.path().join("tmp")).is_empty());
    let name = stored[0].file_name().unwrap().to_str().unwrap().to_string();
    assert_eq!(name, format!("{id}.mx.test"));
    let bytes = std::fs::read(&stored[0]).unwrap();
    // Stored with LF line ends, as Postfix and Dovecot store (maildir.rs).
    assert_eq!(strip_trace(&bytes), lf(message.replace("..dot", ".dot")));
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with(
        "Return-Path: <alice@client.example>\nX-Original-To: bob@example.org,\n\tcarol@EXAMPLE.org\n\
         Received: from client.example ([127.0.0.1])\n\tby mx.test with ESMTP id "
    ), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn a_connection_dropped_mid_data_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        test_config(None),
        MaildirHandler::open(dir.path(), "mx.test").unwrap(),
    )
    .await;
    let mut c = server.connect().await;
    c.reply().await;
    envelope(&mut c).await;
    assert_eq!(code(&c.cmd("DATA").await), 354);
    // Enough to be past the write buffer: a real file is being written.
    let line = format!("{}\r\n", "q".repeat(998));
    for _ in 0..600 {
        c.send(&line).await;
    }
    drop(c);
    server.transcripts(1).await; // the session has ended
    maildir_is_empty(dir.path());
    server.stop().await;
}

/// A handler whose disk "fills up" after `limit` octets: the write fails
/// with ENOSPC (452 4.3.1) or another I/O error (451 4.3.0).
#[derive(Clone)]
struct FailingDisk {
    maildir: std::sync::Arc<Maildir>,
    limit: usize,
    error: io::ErrorKind,
}

impl Handler for FailingDisk {
    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        let mut delivery = self
            .maildir
            .begin(&envelope.id)
            .await
            .map_err(|e| e.reply())?;
        let mut written = 0;
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            if written + chunk.len() > self.limit {
                // The disk is full: the partial file is dropped (and removed).
                return Err(storage_error_reply(&io::Error::from(self.error)));
            }
            delivery.write(chunk).await.map_err(|e| e.reply())?;
            written += chunk.len();
        }
        delivery.commit().await.map_err(|e| e.reply())?;
        Ok(())
    }
}

#[tokio::test]
async fn a_full_disk_answers_452_and_stores_nothing() {
    for (error, want) in [
        (io::ErrorKind::StorageFull, "452 4.3.1 "),
        (io::ErrorKind::Other, "451 4.3.0 "),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let maildir = std::sync::Arc::new(Maildir::create(dir.path(), "mx.test").unwrap());
        let server = start(
            test_config(None),
            FailingDisk {
                maildir,
                limit: 100_000,
                error,
            },
        )
        .await;
        let mut c = server.connect().await;
        c.reply().await;
        envelope(&mut c).await;
        c.cmd("DATA").await;
        let line = format!("{}\r\n", "f".repeat(500));
        c.send(line.repeat(1000)).await;
        let reply = c.cmd(".").await;
        assert!(reply.starts_with(want), "{reply}");
        assert_eq!(code(&c.cmd("NOOP").await), 250, "the session goes on");
        maildir_is_empty(dir.path());
        server.stop().await;
    }
}

#[tokio::test]
async fn an_io_error_in_the_maildir_answers_451_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        test_config(None),
        MaildirHandler::open(dir.path(), "mx.test").unwrap(),
    )
    .await;
    // new/ is not a directory any more: the rename fails.
    std::fs::remove_dir(dir.path().join("new")).unwrap();
    std::fs::write(dir.path().join("new"), b"").unwrap();
    let mut c = server.connect().await;
    c.reply().await;
    envelope(&mut c).await;
    c.cmd("DATA").await;
    let reply = c.cmd("Subject: x\r\n\r\ny\r\n.").await;
    assert!(reply.starts_with("451 4.3.0 "), "{reply}");
    assert!(files(&dir.path().join("tmp")).is_empty());
    server.stop().await;
}

/// Refuses every message without reading it.
#[derive(Clone)]
struct Impatient;

impl Handler for Impatient {
    async fn data(&mut self, _: &Envelope, _: &mut MessageBody<'_>) -> Result<(), Reply> {
        Err(Reply::enhanced(
            554,
            smtp_wire::EnhancedCode::new(5, 7, 1),
            "Not from you",
        ))
    }
}

#[tokio::test]
async fn a_handler_that_refuses_early_gets_its_reply_after_the_whole_body() {
    let server = start(test_config(None), Impatient).await;
    let mut c = server.connect().await;
    c.reply().await;
    envelope(&mut c).await;
    assert_eq!(code(&c.cmd("DATA").await), 354);
    // The body is still read to its end (a "command" inside it is not run).
    let big = format!("{}\r\n", "i".repeat(500)).repeat(300);
    c.send(format!("Subject: x\r\n\r\n{big}QUIT\r\n{big}.\r\nNOOP\r\n"))
        .await;
    assert_eq!(c.reply().await, "554 5.7.1 Not from you\r\n");
    assert_eq!(code(&c.reply().await), 250);
    server.stop().await;
}

#[tokio::test]
async fn refused_messages_never_reach_the_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        test_config(None),
        MaildirHandler::open(dir.path(), "mx.test").unwrap(),
    )
    .await;
    let mut c = server.connect().await;
    c.reply().await;
    envelope(&mut c).await;
    c.cmd("DATA").await;
    let big = format!("{}\r\n", "b".repeat(900)).repeat(200);
    let reply = c
        .cmd(&format!("Subject: x\r\n\r\n{big}bare\rCR\r\n{big}."))
        .await;
    assert!(reply.starts_with("550 5.6.11 "), "{reply}");
    maildir_is_empty(dir.path());
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_a_message_finish_and_turns_idle_sessions_away() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        test_config(None),
        MaildirHandler::open(dir.path(), "mx.test").unwrap(),
    )
    .await;
    let mut idle = server.connect().await;
    idle.reply().await;
    let mut busy = server.connect().await;
    busy.reply().await;
    envelope(&mut busy).await;
    busy.cmd("DATA").await;
    busy.send("Subject: in flight\r\n\r\nfirst half\r\n").await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    server.shutdown.shutdown();
    // The idle session is told at once.
    assert!(
        idle.read_to_end()
            .await
            .starts_with("421 4.3.2 mx.test shutting down")
    );
    // The message in flight may finish, and is stored; then 421.
    busy.send("second half\r\n.\r\n").await;
    assert!(busy.reply().await.starts_with("250 2.0.0 Ok: queued as "));
    assert!(busy.read_to_end().await.starts_with("421 4.3.2 "));
    assert_eq!(files(&dir.path().join("new")).len(), 1);
    // Nobody new is accepted, and run() has returned.
    tokio::time::timeout(common::PATIENCE, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(server.plain).await.is_err());
}

#[tokio::test]
async fn shutdown_grace_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(None);
    config.shutdown_grace = Duration::from_millis(300);
    let server = start(config, MaildirHandler::open(dir.path(), "mx.test").unwrap()).await;
    let mut slow = server.connect().await;
    slow.reply().await;
    envelope(&mut slow).await;
    slow.cmd("DATA").await;
    slow.send("Subject: never finished\r\n\r\n").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown.shutdown();
    let started = std::time::Instant::now();
    assert!(slow.read_to_end().await.starts_with("421 4.3.2 "));
    assert!(started.elapsed() < Duration::from_secs(3));
    tokio::time::timeout(common::PATIENCE, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    maildir_is_empty(dir.path());
}

#[tokio::test]
async fn concurrent_sessions_each_store_their_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        test_config(None),
        MaildirHandler::open(dir.path(), "mx.test").unwrap(),
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut c = server.connect().await;
        tasks.push(tokio::spawn(async move {
            c.reply().await;
            envelope(&mut c).await;
            for n in 0..5 {
                c.cmd("DATA").await;
                let reply = c.cmd(&format!("Subject: {i}/{n}\r\n\r\nbody\r\n.")).await;
                assert_eq!(code(&reply), 250, "{reply}");
                c.cmd("MAIL FROM:<alice@client.example>").await;
                c.cmd("RCPT TO:<bob@example.org>").await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(files(&dir.path().join("new")).len(), 50);
    server.stop().await;
}

/// RFC 3030 §2: between two BDAT chunks the message is still in flight;
/// shutdown gives it the grace period, as it does inside DATA.
#[tokio::test]
async fn shutdown_lets_a_bdat_message_finish_between_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        test_config(None),
        MaildirHandler::open(dir.path(), "mx.test").unwrap(),
    )
    .await;
    let mut c = server.connect().await;
    c.reply().await;
    envelope(&mut c).await;
    c.send("BDAT 14\r\nSubject: x\r\n\r\n").await;
    let reply = c.reply().await;
    assert!(reply.starts_with("250 2.0.0 14 octets"), "{reply}");
    server.shutdown.shutdown();
    // Well within the grace period (5 s), the client sends the last chunk.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.send("BDAT 6 LAST\r\nbody\r\n").await;
    let reply = c.reply().await;
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    assert!(c.read_to_end().await.starts_with("421 4.3.2 "));
    let stored = files(&dir.path().join("new"));
    assert_eq!(stored.len(), 1);
    assert_eq!(
        strip_trace(&std::fs::read(&stored[0]).unwrap()),
        b"Subject: x\n\nbody\n"
    );
    tokio::time::timeout(common::PATIENCE, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Never answers EHLO: an application call that does not return.
#[derive(Clone)]
struct Stuck;

impl Handler for Stuck {
    async fn ehlo(&mut self, _: &smtp_wire::path::Domain, _: bool) -> Result<(), Reply> {
        std::future::pending().await
    }

    async fn data(&mut self, _: &Envelope, _: &mut MessageBody<'_>) -> Result<(), Reply> {
        Err(Reply::new(554, "unused"))
    }
}

/// Shutdown always completes: after the grace period and the abort margin,
/// sessions stuck in the application, in a TLS handshake or anywhere else
/// are dropped.
#[tokio::test]
async fn shutdown_has_a_hard_deadline() {
    let certs = common::TestCerts::generate();
    let mut config = test_config(Some(&certs));
    config.session.timeouts.command = Duration::from_secs(60);
    config.session.timeouts.tls_handshake = Duration::from_secs(60);
    config.shutdown_grace = Duration::from_millis(200);
    config.shutdown_abort = Duration::from_millis(300);
    let server = start(config, Stuck).await;
    let mut stuck = server.connect().await;
    stuck.reply().await;
    stuck.send("EHLO client.example\r\n").await;
    // Connected to the implicit-TLS port, and silent: the handshake waits.
    let silent = tokio::net::TcpStream::connect(server.tls.unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server.shutdown.shutdown();
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("run() returns within grace + abort margin")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    // The stuck session's socket was closed.
    assert_eq!(stuck.read_to_end().await, "");
    drop(silent);
}

/// Takes its time before reading the body (e.g. a slow spam check).
#[derive(Clone)]
struct SlowStart;

impl Handler for SlowStart {
    async fn data(&mut self, _: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        while body.chunk().await.map_err(|e| e.reply())?.is_some() {}
        Ok(())
    }
}

/// RFC 5321 §4.5.3.2.2: the client waits for the 354 only a limited time;
/// it goes out before the application is called, not when it starts reading.
#[tokio::test]
async fn the_354_is_sent_before_the_application_is_asked() {
    let server = start(test_config(None), SlowStart).await;
    let mut c = server.connect().await;
    c.reply().await;
    envelope(&mut c).await;
    c.send("DATA\r\n").await;
    let reply = tokio::time::timeout(Duration::from_secs(1), c.reply())
        .await
        .expect("354 at once, whatever the application does");
    assert_eq!(code(&reply), 354);
    let reply = c.cmd("Subject: x\r\n\r\nbody\r\n.").await;
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    server.stop().await;
}

/// Stores with the Maildir, then takes its time before answering: the
/// slow end of a commit (a directory fsync on a busy disk, an index to
/// update), after the link into `new/` and before the 250.
#[derive(Clone)]
struct SlowToAnswer {
    maildir: Maildir,
    delay: Duration,
}

impl Handler for SlowToAnswer {
    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        self.maildir.deliver(envelope, body).await?;
        tokio::time::sleep(self.delay).await;
        Ok(())
    }
}

/// RFC 5321 §6.1 at shutdown: every message either got its 250 and is in
/// `new/` once, or got no 250 and is not stored. Never stored without the
/// 250: its client would send it again (a duplicate). Four clients are in
/// the middle of DATA when the shutdown is requested and end their data
/// at different moments: at once (the hard deadline then falls inside the
/// application's commit, which used to drop the session between the link
/// into `new/` and the 250), within the grace period, after it, and after
/// the hard deadline.
#[tokio::test]
async fn shutdown_never_stores_a_message_without_its_250() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(None);
    // The hard deadline comes 700 ms after the shutdown, inside the
    // commit of a message whose data ended at once (1.5 s long).
    config.shutdown_grace = Duration::from_millis(500);
    config.shutdown_abort = Duration::from_millis(200);
    let handler = SlowToAnswer {
        maildir: Maildir::create(dir.path(), "mx.test").unwrap(),
        delay: Duration::from_millis(1500),
    };
    let server = start(config, handler).await;
    let mut clients = Vec::new();
    for n in 0..4 {
        let mut c = server.connect().await;
        c.reply().await;
        envelope(&mut c).await;
        assert_eq!(code(&c.cmd("DATA").await), 354);
        c.send(format!("Subject: {n}\r\n\r\nfirst half\r\n")).await;
        clients.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown.shutdown();
    let mut ending = Vec::new();
    for (c, after_ms) in clients.into_iter().zip([0, 200, 600, 2000]) {
        let mut c = c;
        ending.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            // The server may have closed already (421 at the end of the grace).
            c.try_send("second half\r\n.\r\n").await;
            let told = c.read_to_end().await;
            told.lines()
                .find_map(|l| l.strip_prefix("250 2.0.0 Ok: queued as "))
                .map(str::to_string)
        }));
    }
    let mut told = Vec::new();
    for task in ending {
        told.push(task.await.unwrap());
    }
    tokio::time::timeout(common::PATIENCE, server.task)
        .await
        .expect("run() returns once the commits are done")
        .unwrap()
        .unwrap();

    let mut stored: Vec<String> = files(&dir.path().join("new"))
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".mx.test", "")
        })
        .collect();
    let mut answered: Vec<String> = told.iter().flatten().cloned().collect();
    stored.sort();
    answered.sort();
    assert_eq!(stored, answered, "told: {told:?}");
    assert!(
        told[0].is_some(),
        "data complete before the deadline: stored and answered"
    );
    assert!(
        told[3].is_none(),
        "data ended after the hard deadline: {told:?}"
    );
    assert!(files(&dir.path().join("tmp")).is_empty());
}

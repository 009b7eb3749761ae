//! The protocol over real loopback sockets: pipelining, smuggling, limits,
//! timeouts, connection limits.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{Client, code, codes, envelope, start, test_config};
use smtp_receiver::SinkHandler;
use smtp_receiver::config::{ContentPolicy, RecipientPolicy};
use smtp_wire::data::smuggling::{SMUGGLED_TRANSACTION, VECTORS};
use tokio::net::TcpStream;

#[tokio::test]
async fn pipelined_commands_in_one_write_get_every_reply_in_order() {
    let server = start(test_config(None), SinkHandler::default()).await;
    let mut c = server.connect().await;
    assert_eq!(code(&c.reply().await), 220);
    // RFC 2920: everything up to DATA in one packet; then the body and
    // more commands in a second one.
    c.send(
        "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<b@example.org>\r\n\
         RCPT TO:<nobody@elsewhere.example>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
    )
    .await;
    let replies = c.replies(6).await;
    assert_eq!(codes(&replies.concat()), [250, 250, 250, 550, 250, 354]);
    c.send("Subject: one\r\n\r\nbody\r\n.\r\nRSET\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<b@example.org>\r\nNOOP\r\nQUIT\r\n")
        .await;
    let replies = c.replies(6).await;
    assert_eq!(
        codes(&replies.concat()),
        [250, 250, 250, 250, 250, 221],
        "{replies:?}"
    );
    assert!(replies[0].starts_with("250 2.0.0 Ok: queued as "));
    // Exactly that many: nothing duplicated, nothing more before close.
    assert_eq!(c.read_to_end().await, "");

    // The whole conversation, message included, in a single write.
    let mut c = server.connect().await;
    c.send(
        "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
         Subject: two\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<b@example.org>\r\n\
         BDAT 5 LAST\r\nhelloQUIT\r\n",
    )
    .await;
    let all = c.read_to_end().await;
    assert_eq!(
        codes(&all),
        [220, 250, 250, 250, 354, 250, 250, 250, 250, 221],
        "{all}"
    );
    server.stop().await;
}

/// Every smuggling vector, under both content policies, gives one reply
/// to the one message (kept as data, or refused) and never a second
/// transaction: the smuggled MAIL/RCPT/DATA are never answered.
#[tokio::test]
async fn every_smuggling_sequence_gives_one_reply_and_no_second_message() {
    for policy in [ContentPolicy::Liberal, ContentPolicy::Strict] {
        let sink = SinkHandler::default();
        let mut config = test_config(None);
        config.session.content_policy = policy;
        let server = start(config, sink.clone()).await;
        let mut kept = 0;
        for vector in VECTORS {
            let name = format!("{policy:?} {}", vector.name);
            let mut c = server.connect().await;
            c.reply().await;
            envelope(&mut c).await;
            assert_eq!(code(&c.cmd("DATA").await), 354);
            c.send(
                [
                    &b"Subject: legit\r\n\r\nhi"[..],
                    vector.fake,
                    SMUGGLED_TRANSACTION,
                    b".\r\nQUIT\r\n",
                ]
                .concat(),
            )
            .await;
            let rest = c.read_to_end().await;
            // Only the liberal policy keeps bare-LF content (normalised).
            if policy == ContentPolicy::Liberal && vector.bare_lf {
                kept += 1;
                assert_eq!(codes(&rest), [250, 221], "{name}: {rest}");
            } else {
                assert_eq!(codes(&rest), [550, 221], "{name}: {rest}");
                assert!(rest.starts_with("550 5.6.11 "), "{name}: {rest}");
            }
            assert_eq!(sink.messages(), kept, "{name}: one message at most");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn bare_lf_command_lines_are_refused() {
    let server = start(test_config(None), SinkHandler::default()).await;
    let mut c = server.connect().await;
    c.reply().await;
    c.send("EHLO client.example\n").await;
    let reply = c.reply().await;
    assert!(
        reply.starts_with("500 5.5.2 Command line ended in a bare LF, not CRLF"),
        "{reply}"
    );
    assert_eq!(code(&c.cmd("EHLO client.example").await), 250);
    server.stop().await;
}

#[tokio::test]
async fn size_limits() {
    let mut config = test_config(None);
    config.session.limits.message_size = 64 * 1024;
    let sink = SinkHandler::default();
    let server = start(config, sink.clone()).await;
    let mut c = server.connect().await;
    c.reply().await;
    assert!(
        c.cmd("EHLO client.example")
            .await
            .contains("250-SIZE 65536\r\n")
    );
    let reply = c.cmd("MAIL FROM:<a@client.example> SIZE=65537").await;
    assert!(reply.starts_with("552 5.3.4 "), "{reply}");
    assert_eq!(
        code(&c.cmd("MAIL FROM:<a@client.example> SIZE=65536").await),
        250
    );
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.org>").await), 250);
    assert_eq!(code(&c.cmd("DATA").await), 354);
    // 100 KiB in 100-octet lines (past the limit, under twice the limit):
    // read to the end, then refused (RFC 1870 §6.2).
    let line = format!("{}\r\n", "z".repeat(98));
    for _ in 0..(100 << 10) / 100 {
        c.send(&line).await;
    }
    c.send(".\r\n").await;
    let reply = c.reply().await;
    assert!(reply.starts_with("552 5.3.4 "), "{reply}");
    assert_eq!(code(&c.cmd("NOOP").await), 250, "the session goes on");
    assert_eq!(sink.messages(), 0);

    // 1 MiB: past twice the limit the server stops reading, 552 + 421.
    assert_eq!(code(&c.cmd("MAIL FROM:<a@client.example>").await), 250);
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.org>").await), 250);
    assert_eq!(code(&c.cmd("DATA").await), 354);
    for _ in 0..(1 << 20) / 100 {
        if !c.try_send(&line).await {
            break;
        }
    }
    let rest = c.read_to_end().await;
    assert!(rest.starts_with("552 5.3.4 "), "{rest}");
    assert!(rest.contains("\r\n421 4.5.0 "), "{rest}");
    assert_eq!(sink.messages(), 0);
    server.stop().await;
}

/// RFC 5321 §4.5.3.1.6's 1000 octets apply under the strict policy only.
#[tokio::test]
async fn text_lines_longer_than_1000_octets_are_kept_unless_strict() {
    for (policy, long_line) in [(ContentPolicy::Liberal, 250), (ContentPolicy::Strict, 550)] {
        let sink = SinkHandler::default();
        let mut config = test_config(None);
        config.session.content_policy = policy;
        let server = start(config, sink.clone()).await;
        let mut c = server.connect().await;
        c.reply().await;
        envelope(&mut c).await;
        c.cmd("DATA").await;
        let reply = c
            .cmd(&format!("Subject: long\r\n\r\n{}\r\n.", "L".repeat(1200)))
            .await;
        assert_eq!(code(&reply), long_line, "{policy:?}: {reply}");
        if long_line == 550 {
            assert!(reply.starts_with("550 5.6.0 "), "{reply}");
        }
        c.cmd("MAIL FROM:<a@client.example>").await;
        c.cmd("RCPT TO:<b@example.org>").await;
        c.cmd("DATA").await;
        let reply = c
            .cmd(&format!("Subject: ok\r\n\r\n{}\r\n.", "L".repeat(998)))
            .await;
        assert_eq!(code(&reply), 250, "{policy:?}");
        assert_eq!(sink.messages(), if long_line == 250 { 2 } else { 1 });
        server.stop().await;
    }
}

#[tokio::test]
async fn recipient_limit_then_452() {
    let server = start(test_config(None), SinkHandler::default()).await;
    let mut c = server.connect().await;
    c.reply().await;
    c.cmd("EHLO client.example").await;
    c.cmd("MAIL FROM:<a@client.example>").await;
    let rcpts: String = (0..101)
        .map(|i| format!("RCPT TO:<r{i}@example.org>\r\n"))
        .collect();
    c.send(rcpts).await;
    let replies = c.replies(101).await;
    assert!(replies[..100].iter().all(|r| code(r) == 250));
    assert!(replies[100].starts_with("452 4.5.3 "), "{}", replies[100]);
    server.stop().await;
}

#[tokio::test]
async fn errors_per_session_then_421_and_close() {
    let server = start(test_config(None), SinkHandler::default()).await;
    let mut c = server.connect().await;
    c.reply().await;
    c.send("FROB\r\n".repeat(20)).await;
    let rest = c.read_to_end().await;
    let codes = codes(&rest);
    assert_eq!(codes.len(), 11, "{rest}");
    assert_eq!(*codes.last().unwrap(), 421);
    server.stop().await;
}

#[tokio::test]
async fn long_command_lines_are_refused_not_split() {
    let server = start(test_config(None), SinkHandler::default()).await;
    let mut c = server.connect().await;
    c.reply().await;
    // 4 KiB line whose tail looks like a command: refused once, never executed.
    c.send(format!("NOOP {}QUIT\r\nNOOP\r\n", "x".repeat(4096)))
        .await;
    assert!(c.reply().await.starts_with("500 5.5.2 Line too long"));
    assert_eq!(code(&c.reply().await), 250);
    server.stop().await;
}

#[tokio::test]
async fn a_trickling_client_is_cut_off_by_the_command_deadline() {
    let mut config = test_config(None);
    config.session.timeouts.command = Duration::from_millis(800);
    let server = start(config, SinkHandler::default()).await;
    let mut c = server.connect().await;
    c.reply().await;
    let started = Instant::now();
    // One octet every 200 ms: each read is quick, the line never completes in time.
    for byte in b"NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP\r\n" {
        if !c.try_send([*byte]).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rest = c.read_to_end().await;
    assert!(rest.starts_with("421 4.4.2 "), "{rest:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cut off after {:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_trickling_message_is_cut_off_by_the_data_block_deadline() {
    let mut config = test_config(None);
    config.session.timeouts.data_block = Duration::from_millis(800);
    let server = start(config, SinkHandler::default()).await;
    let mut c = server.connect().await;
    c.reply().await;
    envelope(&mut c).await;
    assert_eq!(code(&c.cmd("DATA").await), 354);
    let started = Instant::now();
    // One octet every 200 ms: every read succeeds, the block never completes.
    for _ in 0..15 {
        if !c.try_send("x").await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rest = c.read_to_end().await;
    assert!(rest.starts_with("421 4.4.2 "), "{rest:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    server.stop().await;
}

#[tokio::test]
async fn connection_limits_total_and_per_ip() {
    let mut config = test_config(None);
    config.session.limits.connections_per_ip = 2;
    // Loopback is trusted (exempt from per-client limits) by default.
    config.trusted_networks.clear();
    let server = start(config, SinkHandler::default()).await;
    let mut first = server.connect().await;
    let mut second = server.connect().await;
    assert_eq!(code(&first.reply().await), 220);
    assert_eq!(code(&second.reply().await), 220);
    let mut third = server.connect().await;
    let refused = third.read_to_end().await;
    assert!(
        refused.starts_with("421 4.7.0 mx.test too many connections"),
        "{refused:?}"
    );
    // A session ends: there is room again.
    first.cmd("QUIT").await;
    first.read_to_end().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = server.connect().await;
    assert_eq!(code(&fourth.reply().await), 220);
    server.stop().await;

    let mut config = test_config(None);
    config.session.limits.connections = 1;
    let server = start(config, SinkHandler::default()).await;
    let mut only = server.connect().await;
    assert_eq!(code(&only.reply().await), 220);
    let mut extra = server.connect().await;
    assert!(extra.read_to_end().await.starts_with("421 "));
    server.stop().await;
}

#[tokio::test]
async fn bdat_over_the_wire_with_pipelining() {
    let sink = SinkHandler::default();
    let server = start(test_config(None), sink.clone()).await;
    let mut c = server.connect().await;
    c.reply().await;
    assert!(
        c.cmd("EHLO client.example")
            .await
            .contains("250-CHUNKING\r\n")
    );
    c.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<b@example.org>\r\nBDAT 12\r\nSubject: x\r\n")
        .await;
    c.send("BDAT 6 LAST\r\n\r\nhi\r\nQUIT\r\n").await;
    let rest = c.read_to_end().await;
    assert_eq!(codes(&rest), [250, 250, 250, 250, 221], "{rest}");
    assert_eq!(sink.messages(), 1);
    server.stop().await;
}

#[tokio::test]
async fn open_relay_is_refused_over_the_wire() {
    let mut config = test_config(None);
    config.session.recipients = RecipientPolicy::default();
    let server = start(config, SinkHandler::default()).await;
    let mut c = server.connect().await;
    c.reply().await;
    c.cmd("EHLO client.example").await;
    c.cmd("MAIL FROM:<a@client.example>").await;
    assert!(
        c.cmd("RCPT TO:<victim@example.org>")
            .await
            .starts_with("550 5.7.1 ")
    );
    assert_eq!(code(&c.cmd("RCPT TO:<postmaster>").await), 250);
    server.stop().await;
}

#[tokio::test]
async fn ipv6_loopback_works_too() {
    let mut config = test_config(None);
    config.listeners.clear();
    config.listen_plain("[::1]:0".parse().unwrap());
    let Ok(server) = smtp_receiver::Server::bind(config, SinkHandler::default()).await else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    let addr = server.local_addrs()[0].addr;
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.run());
    let mut c = Client::new(TcpStream::connect(addr).await.unwrap());
    assert_eq!(code(&c.reply().await), 220);
    c.cmd("EHLO client.example").await;
    c.cmd("MAIL FROM:<a@client.example>").await;
    c.cmd("RCPT TO:<b@example.org>").await;
    c.cmd("DATA").await;
    assert_eq!(code(&c.cmd("x\r\n.").await), 250);
    shutdown.shutdown();
    task.await.unwrap().unwrap();
}

/// A burst of connection attempts larger than tokio's default backlog
/// (128) waits in the kernel until the server accepts it: none is dropped,
/// since a dropped SYN costs its client a second or more before it tries
/// again. The server is bound but not yet running, so nothing is accepted
/// while the burst arrives; each attempt completes its handshake or times
/// out.
#[test]
fn a_burst_of_connections_waits_in_the_backlog_instead_of_being_dropped() {
    const BURST: usize = 300;
    // The kernel caps every backlog at net.core.somaxconn (4096 since
    // Linux 5.4; 128 before).
    let cap = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok());
    if cap.is_some_and(|cap| cap < BURST) {
        eprintln!("net.core.somaxconn is {cap:?}, below {BURST}: skipped");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(smtp_receiver::Server::bind(
            test_config(None),
            SinkHandler::default(),
        ))
        .unwrap();
    let addr = server.local_addrs()[0].addr;
    let mut waiting = Vec::with_capacity(BURST);
    for attempt in 0..BURST {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => waiting.push(stream),
            Err(e) => panic!("attempt {attempt} of {BURST} was not queued: {e}"),
        }
    }
    // Once the server runs, each of them is served.
    let shutdown = server.shutdown_handle();
    let task = runtime.spawn(server.run());
    for stream in &mut waiting {
        use std::io::Read as _;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut greeting = [0u8; 3];
        stream.read_exact(&mut greeting).unwrap();
        assert_eq!(&greeting, b"220");
    }
    drop(waiting);
    shutdown.shutdown();
    runtime.block_on(task).unwrap().unwrap();
}

/// A client that talks before reading: the refusal must still reach it. A
/// socket closed with unread input sends a TCP RST, which can make the
/// client's kernel discard the 421 (RFC 5321 §3.1: a 421 greeting, then
/// the connection closes).
#[tokio::test]
async fn the_too_many_connections_421_survives_an_eager_client() {
    let mut config = test_config(None);
    config.session.limits.connections = 1;
    let server = start(config, SinkHandler::default()).await;
    let mut only = server.connect().await;
    assert_eq!(code(&only.reply().await), 220);
    for attempt in 0..20 {
        let mut tcp = TcpStream::connect(server.plain).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = tcp
            .write_all(b"EHLO eager.example\r\nMAIL FROM:<a@eager.example>\r\n")
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut got = Vec::new();
        let read = tokio::time::timeout(common::PATIENCE, tcp.read_to_end(&mut got))
            .await
            .expect("the server closes");
        let got = String::from_utf8_lossy(&got);
        assert!(
            got.starts_with("421 4.7.0 mx.test too many connections"),
            "attempt {attempt}: {got:?} ({read:?})"
        );
        // A clean close (FIN), not a reset: no client stack may drop the 421.
        assert!(read.is_ok(), "attempt {attempt}: {read:?}");
    }
    server.stop().await;
}

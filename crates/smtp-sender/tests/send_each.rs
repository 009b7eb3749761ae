//! `Client::send_each`: one message after another, each message's commands
//! written with the previous message's final dot (RFC 2920 §3.1). Against
//! Postfix's smtp-sink, which dumps every transaction (every message must
//! arrive once, intact, with its own envelope), and against scripted
//! servers that refuse a message after its dot or close in the middle
//! (every message taken gets exactly one report, in order).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use smtp_peers::{Peer, SinkMode, SmtpSink, normalize_newlines};
use smtp_sender::{
    Client, ClientConfig, Envelope, Outcome, Report, SendError, TlsMode, TransportError,
};
use smtp_testkit::server::{Conn, serve};

fn config(addr: std::net::SocketAddr) -> ClientConfig {
    let mut config = ClientConfig::new("127.0.0.1", addr.port());
    config.tls = TlsMode::None;
    config.ehlo_name = Some("client.example".into());
    config
}

fn message(i: usize) -> Vec<u8> {
    // Dots to stuff, and a last line that looks like the end of data.
    format!("Subject: message {i}\r\n\r\n.leading dot {i}\r\nbody {i}\r\n.\r\n").into_bytes()
}

#[tokio::test]
async fn every_message_reaches_smtp_sink_once_with_one_round_trip_each() {
    if let Err(missing) = Peer::SmtpSink.usable() {
        eprintln!("skipped: {missing}");
        return;
    }
    let sink = tokio::task::spawn_blocking(|| SmtpSink::start(SinkMode::Dump))
        .await
        .unwrap()
        .expect("smtp-sink starts");
    let envelopes: Vec<Envelope> = (0..30)
        .map(|i| Envelope::new("alice@example.com", &[format!("rcpt{i}@example.org")]).unwrap())
        .collect();
    let messages: Vec<Vec<u8>> = (0..30).map(message).collect();
    let mut client = Client::connect(config(sink.addr())).await.unwrap();
    assert!(client.server_info().offers("PIPELINING"));
    let mut reports = Vec::new();
    client
        .send_each(
            envelopes.iter().zip(messages.iter().map(Vec::as_slice)),
            |i, report| reports.push((i, report)),
        )
        .await
        .unwrap();
    client.quit().await.unwrap();

    assert_eq!(reports.len(), 30);
    for (n, (i, report)) in reports.iter().enumerate() {
        assert_eq!(*i, n, "reports in order");
        assert!(report.as_ref().unwrap().all_accepted(), "message {i}");
    }
    let dumps = tokio::task::spawn_blocking(move || {
        sink.wait_for_dumps(30, Duration::from_secs(20)).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(dumps.len(), 30, "no message lost, none twice");
    let mut seen: Vec<usize> = dumps
        .iter()
        .map(|dump| {
            let rcpt = &dump.envelope.rcpt_to[0];
            let i: usize = rcpt["rcpt".len()..rcpt.find('@').unwrap()].parse().unwrap();
            // Each message under its own envelope, un-stuffed as sent
            // (smtp-sink ends each dump with an empty line of its own).
            let dumped = dump.file.normalized();
            let dumped = dumped.strip_suffix(b"\n").unwrap_or(&dumped);
            assert!(
                dumped.ends_with(&normalize_newlines(&message(i))),
                "{rcpt}: {:?}",
                String::from_utf8_lossy(dumped)
            );
            i
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..30).collect::<Vec<_>>());

    // On the wire: each message's final dot, then the next group, before
    // the reply to the dot (one round trip per message).
    let text = client.transcript().render();
    let lines: Vec<&str> = text.lines().collect();
    let handovers = lines
        .windows(2)
        .filter(|w| w[0] == "C: ." && w[1] == "C: RSET")
        .count();
    assert_eq!(handovers, 29, "{text}");
}

/// A scripted server's greeting, EHLO reply with PIPELINING, and the first
/// message's group and content (its dot not answered yet).
async fn first_message(c: &mut Conn) {
    first_group(c).await;
    c.read_data().await;
}

/// A scripted server's greeting, EHLO reply with PIPELINING, and the first
/// message's group, answered up to its 354.
async fn first_group(c: &mut Conn) {
    c.greet("250-mx\r\n250 PIPELINING\r\n").await;
    c.expect("MAIL").await;
    c.expect("RCPT").await;
    c.expect("DATA").await;
    c.send("250 ok\r\n250 ok\r\n354 go\r\n").await;
}

/// What a scripted server sees of the next message's group, which follows
/// the previous message's dot: RSET, MAIL, RCPT, DATA.
async fn next_group(c: &mut Conn) {
    c.expect("RSET").await;
    c.expect("MAIL").await;
    c.expect("RCPT").await;
    c.expect("DATA").await;
}

/// What one `send_each` call did.
struct Sent {
    result: Result<(), SendError>,
    /// How many messages it took from the iterator.
    taken: usize,
    reports: Vec<(usize, Result<Report, SendError>)>,
}

/// Connects to the scripted server at `addr`, sends `messages` to one
/// recipient with `send_each`, and QUITs if the session is still open.
async fn send_all(addr: std::net::SocketAddr, messages: &[Vec<u8>]) -> Sent {
    let envelope = Envelope::new("alice@example.com", &["bob@example.org"]).unwrap();
    let mut client = Client::connect(config(addr)).await.unwrap();
    let (mut taken, mut reports) = (0, Vec::new());
    let result = client
        .send_each(
            messages
                .iter()
                .inspect(|_| taken += 1)
                .map(|m| (&envelope, m.as_slice())),
            |i, report| reports.push((i, report)),
        )
        .await;
    if result.is_ok() {
        client.quit().await.unwrap();
    } else {
        assert!(client.is_closed());
    }
    Sent {
        result,
        taken,
        reports,
    }
}

fn outcome(report: &Result<Report, SendError>) -> Outcome {
    report.as_ref().unwrap().recipients[0].outcome
}

#[tokio::test]
async fn a_message_refused_after_its_dot_does_not_stop_the_next() {
    let (addr, server) = serve(|mut c| async move {
        first_message(&mut c).await;
        // The second group arrives before the first message is answered.
        next_group(&mut c).await;
        c.send("554 5.7.1 not this one\r\n250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n")
            .await;
        c.read_data().await;
        next_group(&mut c).await;
        c.send("250 2.0.0 queued 2\r\n250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n")
            .await;
        c.read_data().await;
        c.send("250 2.0.0 queued 3\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
    })
    .await;
    let messages: Vec<Vec<u8>> = (0..3).map(message).collect();
    let sent = send_all(addr, &messages).await;
    server.await.unwrap();
    sent.result.unwrap();
    let reports = sent.reports;
    let outcomes: Vec<(usize, Outcome)> = reports.iter().map(|(i, r)| (*i, outcome(r))).collect();
    assert_eq!(
        outcomes,
        [
            (0, Outcome::Refused),
            (1, Outcome::Accepted),
            (2, Outcome::Accepted)
        ]
    );
}

#[tokio::test]
async fn a_server_closing_after_a_dot_leaves_one_report_per_message_taken() {
    let (addr, server) = serve(|mut c| async move {
        first_message(&mut c).await;
        next_group(&mut c).await;
        // RFC 5321 §3.8: going away instead of answering the dot.
        c.send("421 4.3.2 shutting down\r\n").await;
    })
    .await;
    let messages: Vec<Vec<u8>> = (0..5).map(message).collect();
    let Sent {
        result,
        taken,
        reports,
    } = send_all(addr, &messages).await;
    server.await.unwrap();
    // Temporary: a caller that retries temporary failures retries them.
    let sent = result.unwrap_err();
    assert!(
        matches!(sent, SendError::Transport(TransportError::SessionBroken)),
        "{sent:?}"
    );
    assert!(sent.is_temporary());
    // The first message and the one whose group had left: one report
    // each, neither accepted; the other three were never taken.
    assert_eq!(taken, 2);
    let indices: Vec<usize> = reports.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [0, 1]);
    for (i, report) in &reports {
        let accepted = report.as_ref().is_ok_and(Report::all_accepted);
        assert!(!accepted, "message {i}: {report:?}");
    }
    let first = format!("{:?}", reports[0].1);
    assert!(first.contains("421"), "{first}");
    for (i, report) in &reports {
        let temporary = match report {
            Ok(report) => report
                .recipients
                .iter()
                .all(|r| r.outcome == Outcome::Deferred),
            Err(error) => error.is_temporary(),
        };
        assert!(temporary, "message {i}: {report:?}");
    }
    assert!(
        matches!(
            reports[1].1,
            Err(SendError::Transport(TransportError::SessionBroken))
        ),
        "{:?}",
        reports[1].1
    );
}

#[tokio::test]
async fn without_pipelining_no_message_is_taken_before_its_turn() {
    let (addr, server) = serve(|mut c| async move {
        c.greet("250-mx\r\n250 8BITMIME\r\n").await;
        c.expect("MAIL").await;
        c.send("250 ok\r\n").await;
        c.expect("RCPT").await;
        c.send("250 ok\r\n").await;
        c.expect("DATA").await;
        c.send("354 go\r\n").await;
        c.read_data().await;
        // Gone before answering the dot.
    })
    .await;
    let messages: Vec<Vec<u8>> = (0..3).map(message).collect();
    let Sent {
        result,
        taken,
        reports,
    } = send_all(addr, &messages).await;
    server.await.unwrap();
    assert!(result.is_err());
    assert_eq!(taken, 1, "the next message waits for the reply to the dot");
    assert_eq!(reports.len(), 1);
}

#[tokio::test]
async fn a_message_refused_locally_is_reported_at_once_and_skipped() {
    let (addr, server) = serve(|mut c| async move {
        c.greet("250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")
            .await;
        c.expect("MAIL").await;
        c.expect("RCPT").await;
        c.expect("DATA").await;
        c.send("250 ok\r\n250 ok\r\n354 go\r\n").await;
        c.read_data().await;
        // The message over the SIZE limit never reaches the wire: the
        // third message's group follows the first one's dot.
        next_group(&mut c).await;
        c.send("250 2.0.0 queued 1\r\n250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n")
            .await;
        let third = c.read_data().await;
        c.send("250 2.0.0 queued 3\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
        third
    })
    .await;
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(2000)).into_bytes();
    let sent = send_all(addr, &[message(0), big, message(2)]).await;
    let third = server.await.unwrap();
    sent.result.unwrap();
    let reports = sent.reports;
    assert!(String::from_utf8_lossy(&third).contains("message 2"));
    // Decided in this order: the big one before the first one's reply.
    let order: Vec<(usize, bool)> = reports
        .iter()
        .map(|(i, r)| (*i, r.as_ref().is_ok_and(Report::all_accepted)))
        .collect();
    assert_eq!(order, [(1, false), (0, true), (2, true)]);
    assert!(matches!(reports[0].1, Err(SendError::Protocol(_))));
}

/// A stream that keeps a copy of every write its user made, as made.
struct Recorded {
    inner: tokio::io::DuplexStream,
    writes: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl tokio::io::AsyncRead for Recorded {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Recorded {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let written = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = written {
            self.writes.lock().unwrap().push(buf[..n].to_vec());
        }
        written
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_final_dot_leaves_in_one_write_with_the_next_messages_group() {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let writes = std::sync::Arc::default();
    let stream = Recorded {
        inner: ours,
        writes: std::sync::Arc::clone(&writes),
    };
    let server = tokio::spawn(async move {
        let mut c = Conn::new(theirs);
        first_message(&mut c).await;
        for _ in 1..3 {
            next_group(&mut c).await;
            c.send("250 queued\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
                .await;
            c.read_data().await;
        }
        c.send("250 queued\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
    });
    let mut config = ClientConfig::new("mx.example", 25);
    config.tls = TlsMode::None;
    config.ehlo_name = Some("client.example".into());
    let mut client = Client::from_stream(stream, config).await.unwrap();
    let envelope = Envelope::new("alice@example.com", &["bob@example.org"]).unwrap();
    let messages: Vec<Vec<u8>> = (0..3).map(message).collect();
    let mut reports = Vec::new();
    client
        .send_each(
            messages.iter().map(|m| (&envelope, m.as_slice())),
            |i, report| reports.push((i, report)),
        )
        .await
        .unwrap();
    client.quit().await.unwrap();
    server.await.unwrap();
    assert!(
        reports
            .iter()
            .all(|(_, r)| r.as_ref().unwrap().all_accepted())
    );

    let writes = writes.lock().unwrap();
    let has = |write: &[u8], text: &[u8]| write.windows(text.len()).any(|w| w == text);
    // Messages 1 and 2: their final dot, then the next group, one write.
    let handovers = writes
        .iter()
        .filter(|w| has(w, b"\r\n.\r\nRSET\r\nMAIL FROM:<alice@example.com>\r\n"))
        .count();
    assert_eq!(handovers, 2, "writes: {writes:?}");
    // The last message's dot, and QUIT, left too (nothing stayed held).
    assert!(writes.iter().any(|w| w.ends_with(b"body 2\r\n..\r\n.\r\n")));
    assert_eq!(writes.last().map(Vec::as_slice), Some(&b"QUIT\r\n"[..]));
}

/// Sends one message of `size` octets with `send_each` to a server that
/// stops reading after its 354, over a pipe too small for the message; the
/// data-block timeout is 1 s, the wait for the final reply 60 s. Returns
/// the error of the message's report.
async fn stalled_after_354(size: usize) -> String {
    let (ours, theirs) = tokio::io::duplex(512);
    let server = tokio::spawn(async move {
        let mut c = Conn::new(theirs);
        first_group(&mut c).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let config = ClientConfig::builder("mx.example", 25)
        .tls(TlsMode::None)
        .ehlo_name("client.example")
        .timeouts(smtp_sender::Timeouts {
            data_block: Duration::from_secs(1),
            data_termination: Duration::from_secs(60),
            ..Default::default()
        })
        .build();
    let mut client = Client::from_stream(ours, config).await.unwrap();
    let envelope = Envelope::new("alice@example.com", &["bob@example.org"]).unwrap();
    let line = "x".repeat(70) + "\r\n";
    let message = "Subject: big\r\n\r\n".to_string() + &line.repeat(size / line.len());
    let mut reports = Vec::new();
    let started = std::time::Instant::now();
    let sent = tokio::time::timeout(
        Duration::from_secs(20),
        client.send_each([(&envelope, message.as_bytes())], |i, report| {
            reports.push((i, report))
        }),
    )
    .await
    .expect("the data-block timeout (1 s) applies, not the 60 s wait for the reply");
    server.abort();
    assert!(sent.is_err(), "{sent:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(reports.len(), 1);
    reports[0].1.as_ref().unwrap_err().to_string()
}

#[tokio::test]
async fn a_final_dot_that_cannot_be_written_fails_within_the_data_block_timeout() {
    // One block of content: it is the held one.
    let error = stalled_after_354(20_000).await;
    assert!(
        error.contains("did not finish before its deadline"),
        "{error}"
    );
    // Several blocks: the first ones are written as they come, each
    // within its own deadline (the connection's: a timeout it names).
    let error = stalled_after_354(200_000).await;
    assert!(error.contains("a block of message data"), "{error}");
}

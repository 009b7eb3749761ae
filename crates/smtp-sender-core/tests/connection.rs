//! The connection-level machine driven by bytes and injected time alone:
//! every RFC 5321 §4.5.3.2 deadline, the STARTTLS injection check,
//! unsolicited replies, the last word after a failed write, the RSET and
//! courtesy-QUIT decisions. No sockets, no sleeping: time is a value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::time::{Duration, Instant};

mod support;

use smtp_sender_core::{
    Action, Connection, Envelope, Input, Message, Outcome, Preferences, ProtocolError, Quit,
    SendError, Timeouts, TlsMode, TranscriptLimits, TransportError,
};
use support::steps::{handshake, next, protocol, transport, write_of};

const SECOND: Duration = Duration::from_secs(1);

/// Distinct timeouts, so each deadline says which wait it belongs to.
fn timeouts() -> Timeouts {
    Timeouts {
        connect: SECOND,
        greeting: 2 * SECOND,
        mail: 3 * SECOND,
        rcpt: 4 * SECOND,
        data_init: 5 * SECOND,
        data_block: 6 * SECOND,
        data_termination: 7 * SECOND,
        command: 8 * SECOND,
    }
}

fn connection() -> Connection {
    Connection::new(timeouts(), TranscriptLimits::default())
}

fn envelope() -> Envelope {
    Envelope::new("alice@example.com", &["bob@example.org"]).unwrap()
}

const PLAIN: Preferences = Preferences {
    pipelining: false,
    chunking: false,
};

/// A connection after greeting and EHLO with these EHLO lines.
fn opened(ehlo: &str, now: Instant) -> Connection {
    let mut conn = connection();
    let mut hs = handshake(TlsMode::None);
    assert_eq!(next(&mut conn, &mut hs, now), Action::Read);
    conn.handle(Input::Bytes(b"220 mx ESMTP\r\n"));
    assert_eq!(
        write_of(next(&mut conn, &mut hs, now)),
        "EHLO client.example\r\n"
    );
    assert_eq!(next(&mut conn, &mut hs, now), Action::Read);
    conn.handle(Input::Bytes(ehlo.as_bytes()));
    assert_eq!(next(&mut conn, &mut hs, now), Action::Done);
    conn.handshake_done(&hs);
    conn
}

#[test]
fn each_wait_has_its_own_deadline() {
    let t0 = Instant::now();
    let mut conn = opened("250 mx\r\n", t0);
    let mut tx = conn
        .transaction(&envelope(), Message::new(b"Hi\r\n"), PLAIN)
        .unwrap();
    // (what the connection asked for, its deadline after `now`, the reply)
    let mut seen = Vec::new();
    let mut now = t0;
    let mut replies = ["250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"].into_iter();
    loop {
        now += SECOND / 10; // time passes between steps
        let action = next(&mut conn, &mut tx, now);
        let left = conn.poll_timeout().map(|at| at - now);
        match action {
            Action::Write(bytes) => {
                let text = String::from_utf8(bytes).unwrap();
                seen.push((text.lines().next().unwrap_or("").to_string(), left));
            }
            Action::Read => {
                seen.push(("read".to_string(), left));
                conn.handle(Input::Bytes(replies.next().unwrap().as_bytes()));
            }
            Action::Done => break,
            other => panic!("{other:?}"),
        }
    }
    let expected = [
        ("MAIL FROM:<alice@example.com>", 3),
        ("read", 3), // §4.5.3.2.2
        ("RCPT TO:<bob@example.org>", 4),
        ("read", 4), // §4.5.3.2.3
        ("DATA", 5),
        ("read", 5), // §4.5.3.2.4
        ("Hi", 6),   // §4.5.3.2.5: the content block
        ("read", 7), // §4.5.3.2.6
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(what, s)| (what.to_string(), Some(*s * SECOND)))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(conn.poll_timeout(), None, "no deadline once done");
    assert!(conn.transaction_done(tx, Ok(())).unwrap().all_accepted());
}

#[test]
fn the_greeting_times_out_and_only_at_its_deadline() {
    let t0 = Instant::now();
    let mut conn = connection();
    let mut hs = handshake(TlsMode::None);
    assert_eq!(next(&mut conn, &mut hs, t0), Action::Read);
    let deadline = conn.poll_timeout().unwrap();
    assert_eq!(deadline - t0, 2 * SECOND, "§4.5.3.2.1");
    conn.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(conn.poll(&mut hs, t0).unwrap(), Action::Read, "not yet");
    conn.handle_timeout(deadline);
    let error = transport(conn.poll(&mut hs, deadline).unwrap_err());
    // Not one byte came: the error says what such silence usually means
    // (first_word.rs has the rest of that story).
    assert!(
        matches!(error, TransportError::NoGreeting { waited, closed: false } if waited == 2 * SECOND),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "no greeting after 2 s: this port may expect implicit TLS (RFC 8314); try --tls implicit"
    );
}

#[test]
fn a_reply_dripping_in_keeps_its_first_deadline() {
    let t0 = Instant::now();
    let mut conn = connection();
    let mut hs = handshake(TlsMode::None);
    assert_eq!(next(&mut conn, &mut hs, t0), Action::Read);
    let deadline = conn.poll_timeout().unwrap();
    for i in 1..10u32 {
        conn.handle(Input::Bytes(b"220-still greeting\r\n"));
        let later = t0 + SECOND / 10 * i;
        assert_eq!(conn.poll(&mut hs, later).unwrap(), Action::Read);
        assert_eq!(
            conn.poll_timeout(),
            Some(deadline),
            "the whole reply, one deadline"
        );
    }
    conn.handle_timeout(deadline);
    let error = transport(conn.poll(&mut hs, deadline).unwrap_err());
    assert!(
        matches!(error, TransportError::Timeout { stage: "the greeting", after } if after == 2 * SECOND),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "timed out after 2 s waiting for the greeting"
    );
}

#[test]
fn the_tls_handshake_has_the_command_deadline() {
    let t0 = Instant::now();
    let mut conn = connection();
    let mut hs = handshake(TlsMode::Implicit);
    // RFC 8314 §3.3: TLS before anything else.
    assert_eq!(next(&mut conn, &mut hs, t0), Action::StartTls);
    assert_eq!(conn.poll_timeout(), Some(t0 + 8 * SECOND));
    conn.handle_timeout(t0 + 8 * SECOND);
    let error = transport(conn.poll(&mut hs, t0).unwrap_err());
    assert!(matches!(
        error,
        TransportError::Timeout {
            stage: "the TLS handshake",
            ..
        }
    ));
}

#[test]
fn bytes_after_the_220_to_starttls_are_an_injection() {
    let t0 = Instant::now();
    let mut conn = connection();
    let mut hs = handshake(TlsMode::StartTls);
    next(&mut conn, &mut hs, t0);
    conn.handle(Input::Bytes(b"220 mx\r\n"));
    assert_eq!(
        write_of(next(&mut conn, &mut hs, t0)),
        "EHLO client.example\r\n"
    );
    next(&mut conn, &mut hs, t0);
    conn.handle(Input::Bytes(b"250-mx\r\n250 STARTTLS\r\n"));
    assert_eq!(write_of(next(&mut conn, &mut hs, t0)), "STARTTLS\r\n");
    assert_eq!(next(&mut conn, &mut hs, t0), Action::Read);
    // The 220 and a forged EHLO reply in one packet (CVE-2011-0411).
    conn.handle(Input::Bytes(
        b"220 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n",
    ));
    let error = conn.poll(&mut hs, t0).unwrap_err();
    assert!(matches!(protocol(error), ProtocolError::ResponseInjection));
}

#[test]
fn after_tls_the_machine_says_ehlo_again() {
    let t0 = Instant::now();
    let mut conn = connection();
    let mut hs = handshake(TlsMode::StartTls);
    next(&mut conn, &mut hs, t0);
    conn.handle(Input::Bytes(b"220 mx\r\n"));
    next(&mut conn, &mut hs, t0);
    next(&mut conn, &mut hs, t0);
    conn.handle(Input::Bytes(b"250-mx\r\n250 STARTTLS\r\n"));
    next(&mut conn, &mut hs, t0);
    next(&mut conn, &mut hs, t0);
    conn.handle(Input::Bytes(b"220 go ahead\r\n"));
    assert_eq!(next(&mut conn, &mut hs, t0), Action::StartTls);
    conn.handle(Input::TlsEstablished);
    assert_eq!(
        write_of(next(&mut conn, &mut hs, t0)),
        "EHLO client.example\r\n"
    );
    assert!(
        conn.transcript()
            .render()
            .contains("-- TLS started --\nC: EHLO")
    );
}

#[test]
fn an_extra_reply_is_refused_before_the_next_command() {
    let t0 = Instant::now();
    let mut conn = opened("250 mx\r\n", t0);
    let mut tx = conn
        .transaction(&envelope(), Message::new(b"Hi\r\n"), PLAIN)
        .unwrap();
    assert!(write_of(next(&mut conn, &mut tx, t0)).starts_with("MAIL"));
    assert_eq!(next(&mut conn, &mut tx, t0), Action::Read);
    // MAIL's reply and an extra one: RCPT must not be paired with it.
    conn.handle(Input::Bytes(b"250 mail ok\r\n250 2.1.5 bogus extra\r\n"));
    let error = protocol(conn.poll(&mut tx, t0).unwrap_err());
    match error {
        ProtocolError::UnexpectedServerReply { before, received } => {
            assert_eq!(before, "RCPT");
            assert_eq!(received, "250 2.1.5 bogus extra");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bytes_found_by_the_input_check_are_refused_too() {
    let t0 = Instant::now();
    let mut conn = opened("250 mx\r\n", t0);
    let mut tx = conn
        .transaction(&envelope(), Message::new(b"Hi\r\n"), PLAIN)
        .unwrap();
    // Before MAIL: the driver looks for bytes without waiting and finds some.
    assert_eq!(conn.poll(&mut tx, t0).unwrap(), Action::ReadReady);
    conn.handle(Input::Bytes(b"250 nobody asked\r\n"));
    let error = protocol(conn.poll(&mut tx, t0).unwrap_err());
    assert!(
        matches!(error, ProtocolError::UnexpectedServerReply { ref before, .. } if before == "MAIL")
    );
    assert!(
        conn.transcript()
            .render()
            .ends_with("S: 250 nobody asked\n")
    );
}

#[test]
fn a_close_while_waiting_names_what_was_awaited() {
    let t0 = Instant::now();
    let mut conn = opened("250 mx\r\n", t0);
    let mut tx = conn
        .transaction(&envelope(), Message::new(b"Hi\r\n"), PLAIN)
        .unwrap();
    next(&mut conn, &mut tx, t0);
    assert_eq!(next(&mut conn, &mut tx, t0), Action::Read);
    conn.handle(Input::Eof);
    let error = conn.poll(&mut tx, t0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the server closed the connection while we waited for the reply to MAIL"
    );
    assert!(error.is_temporary());
}

/// A message of several DATA blocks, refused with 552 after the first: the
/// write fails, and the reply waiting in the input is the outcome.
fn write_fails_mid_data(last_word: Option<&[u8]>) -> (Connection, Result<(), SendError>, Instant) {
    let t0 = Instant::now();
    let mut conn = opened("250 mx\r\n", t0);
    let big = b"0123456789012345678901234567890123456789\r\n".repeat(5000);
    let mut tx = conn
        .transaction(&envelope(), Message::new(&big), PLAIN)
        .unwrap();
    for reply in ["250 ok\r\n", "250 ok\r\n", "354 go\r\n"] {
        while !matches!(next(&mut conn, &mut tx, t0), Action::Read) {}
        conn.handle(Input::Bytes(reply.as_bytes()));
    }
    assert!(matches!(next(&mut conn, &mut tx, t0), Action::Write(_)));
    conn.handle(Input::WriteFailed(io::ErrorKind::BrokenPipe.into()));
    assert_eq!(
        conn.poll(&mut tx, t0).unwrap(),
        Action::Read,
        "listening for the last word"
    );
    assert_eq!(conn.poll_timeout(), Some(t0 + 2 * SECOND));
    match last_word {
        Some(bytes) => conn.handle(Input::Bytes(bytes)),
        None => conn.handle_timeout(t0 + 2 * SECOND),
    }
    let run = conn.poll(&mut tx, t0).map(|_| ());
    let report = conn.transaction_done(tx, run);
    (
        conn,
        report.map(|r| assert_eq!(r.recipients[0].outcome, Outcome::Refused)),
        t0,
    )
}

#[test]
fn after_a_failed_write_the_servers_last_word_is_the_news() {
    let (_, outcome, _) = write_fails_mid_data(Some(b"552 5.3.4 message too big\r\n"));
    outcome.unwrap();
    let (_, outcome, _) = write_fails_mid_data(None);
    let error = transport(outcome.unwrap_err());
    assert!(matches!(error, TransportError::Io(ref e) if e.kind() == io::ErrorKind::BrokenPipe));
}

#[test]
fn rset_comes_before_a_further_transaction_only_when_needed() {
    let t0 = Instant::now();
    let mut conn = opened("250-mx\r\n250 PIPELINING\r\n", t0);
    let pipelined = Preferences {
        pipelining: true,
        chunking: false,
    };
    let mut first_writes = Vec::new();
    for (round, replies) in [
        // Completed: the next one starts with RSET.
        &["250 ok\r\n250 ok\r\n354 go\r\n", "250 queued\r\n"][..],
        // RSET, then refused (MAIL): the machine reset it itself.
        &[
            "250 reset\r\n550 no\r\n503 no\r\n503 no\r\n",
            "250 reset\r\n",
        ][..],
        // So no RSET first here.
        &["250 ok\r\n250 ok\r\n354 go\r\n", "250 queued\r\n"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let mut tx = conn
            .transaction(&envelope(), Message::new(b"Hi\r\n"), pipelined)
            .unwrap();
        first_writes.push(write_of(next(&mut conn, &mut tx, t0)));
        let mut replies = replies.iter();
        loop {
            match next(&mut conn, &mut tx, t0) {
                Action::Read => conn.handle(Input::Bytes(replies.next().unwrap().as_bytes())),
                Action::Write(_) => {}
                Action::Done => break,
                other => panic!("{other:?}"),
            }
        }
        let report = conn.transaction_done(tx, Ok(()));
        assert_eq!(report.is_ok(), round != 1, "round {round}");
    }
    assert!(first_writes[0].starts_with("MAIL"), "{first_writes:?}");
    assert!(
        first_writes[1].starts_with("RSET\r\nMAIL"),
        "{first_writes:?}"
    );
    assert!(first_writes[2].starts_with("MAIL"), "{first_writes:?}");
}

#[test]
fn a_courtesy_quit_only_while_the_conversation_is_in_step() {
    let refused: SendError = ProtocolError::Rejected {
        command: "EHLO",
        reply: smtp_sender_core::Reply::new(550, "go away"),
    }
    .into();
    let t0 = Instant::now();
    let mut conn = connection();
    let mut quit: Quit = conn.courtesy_quit(&refused).expect("a refusal keeps step");
    assert_eq!(write_of(next(&mut conn, &mut quit, t0)), "QUIT\r\n");
    // The QUIT may not wait the command timeout: at most 10 s (here 8 s).
    assert_eq!(conn.poll_timeout(), Some(t0 + 8 * SECOND));

    let untrusted: [SendError; 5] = [
        TransportError::Io(io::ErrorKind::ConnectionReset.into()).into(),
        TransportError::Timeout {
            stage: "the greeting",
            after: SECOND,
        }
        .into(),
        ProtocolError::ServiceClosing(smtp_sender_core::Reply::new(421, "bye")).into(),
        ProtocolError::ResponseInjection.into(),
        ProtocolError::UnexpectedServerReply {
            before: "RCPT".into(),
            received: "250".into(),
        }
        .into(),
    ];
    for error in &untrusted {
        assert!(connection().courtesy_quit(error).is_none(), "{error:?}");
    }
}

#[test]
fn the_courtesy_quit_is_capped_at_ten_seconds() {
    let refused: SendError =
        ProtocolError::AuthFailed(smtp_sender_core::Reply::new(535, "no")).into();
    let t0 = Instant::now();
    let mut conn = Connection::new(Timeouts::default(), TranscriptLimits::default());
    let mut quit = conn.courtesy_quit(&refused).unwrap();
    next(&mut conn, &mut quit, t0);
    assert_eq!(conn.poll_timeout(), Some(t0 + 10 * SECOND));
}

#[test]
fn an_endless_line_is_cut_off() {
    let t0 = Instant::now();
    let mut conn = connection();
    let mut hs = handshake(TlsMode::None);
    next(&mut conn, &mut hs, t0);
    conn.handle(Input::Bytes(b"220 "));
    let mut error = None;
    for _ in 0..100 {
        conn.handle(Input::Bytes(&[b'a'; 4096]));
        match conn.poll(&mut hs, t0) {
            Ok(Action::Read) => {}
            Ok(other) => panic!("{other:?}"),
            Err(e) => {
                error = Some(protocol(e));
                break;
            }
        }
    }
    assert!(
        matches!(
            error,
            Some(ProtocolError::MalformedReply(_) | ProtocolError::ReplyTooLong(_))
        ),
        "{error:?}"
    );
}

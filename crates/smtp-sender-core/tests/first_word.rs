//! The wrong TLS mode, told by the server's first word (bytes and injected
//! time alone): silence where the plain-text greeting was due (RFC 5321
//! §3.1) suggests implicit TLS (RFC 8314), a plain-text reply to the TLS
//! ClientHello suggests STARTTLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

mod support;

use smtp_sender_core::{
    Action, Connection, Handshake, Input, SILENCE_LIMIT, Timeouts, TlsError, TlsMode,
    TranscriptLimits, TransportError,
};
use support::steps::{handshake, next, transport};

const SECOND: Duration = Duration::from_secs(1);
/// The RFC 5321 §4.5.3.2.1 greeting wait: 5 minutes.
const GREETING: Duration = Duration::from_secs(300);

fn connection(silence: Option<Duration>) -> Connection {
    let mut conn = Connection::new(Timeouts::default(), TranscriptLimits::default());
    conn.set_silence_limit(silence);
    conn
}

/// Waits for the greeting of a STARTTLS handshake: its deadline.
fn waiting_for_the_greeting(conn: &mut Connection, hs: &mut Handshake, t0: Instant) -> Instant {
    assert_eq!(conn.poll(hs, t0).unwrap(), Action::Read);
    conn.poll_timeout().unwrap()
}

#[test]
fn a_silent_server_is_given_up_at_the_silence_limit() {
    let t0 = Instant::now();
    let mut conn = connection(Some(SILENCE_LIMIT));
    let mut hs = handshake(TlsMode::StartTls);
    let deadline = waiting_for_the_greeting(&mut conn, &mut hs, t0);
    assert_eq!(deadline - t0, SILENCE_LIMIT);
    conn.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(conn.poll(&mut hs, t0).unwrap(), Action::Read, "not yet");
    conn.handle_timeout(deadline);
    let error = conn.poll(&mut hs, deadline).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no greeting after 10 s: this port may expect implicit TLS (RFC 8314); try --tls implicit"
    );
    assert!(
        matches!(transport(error), TransportError::NoGreeting { waited, closed: false } if waited == SILENCE_LIMIT)
    );
}

#[test]
fn a_server_that_says_anything_gets_the_rfc_greeting_wait() {
    // Postfix's postscreen sends "220-" at once and the rest seconds later.
    let t0 = Instant::now();
    let mut conn = connection(Some(SILENCE_LIMIT));
    let mut hs = handshake(TlsMode::StartTls);
    waiting_for_the_greeting(&mut conn, &mut hs, t0);
    conn.handle(Input::Bytes(b"220-mx.example ESMTP\r\n"));
    assert_eq!(conn.poll(&mut hs, t0 + SECOND).unwrap(), Action::Read);
    assert_eq!(conn.poll_timeout(), Some(t0 + GREETING), "§4.5.3.2.1");
    conn.handle_timeout(t0 + SILENCE_LIMIT);
    assert_eq!(
        conn.poll(&mut hs, t0 + SILENCE_LIMIT).unwrap(),
        Action::Read
    );
    conn.handle(Input::Bytes(b"220 mx.example ESMTP\r\n"));
    assert!(matches!(
        next(&mut conn, &mut hs, t0 + 2 * SILENCE_LIMIT),
        Action::Write(bytes) if bytes.starts_with(b"EHLO")
    ));
}

#[test]
fn without_a_silence_limit_the_rfc_wait_holds_and_still_names_the_cause() {
    let t0 = Instant::now();
    let mut conn = connection(None);
    let mut hs = handshake(TlsMode::StartTls);
    let deadline = waiting_for_the_greeting(&mut conn, &mut hs, t0);
    assert_eq!(deadline - t0, GREETING);
    conn.handle_timeout(deadline);
    assert!(matches!(
        transport(conn.poll(&mut hs, deadline).unwrap_err()),
        TransportError::NoGreeting { waited, closed: false } if waited == GREETING
    ));
}

#[test]
fn a_silent_server_that_closes_is_named_too() {
    // An implicit-TLS server gives up on a client that never says
    // ClientHello (the first wave saw this after 60 s).
    let t0 = Instant::now();
    let mut conn = connection(None);
    let mut hs = handshake(TlsMode::StartTls);
    waiting_for_the_greeting(&mut conn, &mut hs, t0);
    conn.handle(Input::Eof);
    let error = conn.poll(&mut hs, t0 + 60 * SECOND).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no greeting after 60 s, then the server closed the connection: \
         this port may expect implicit TLS (RFC 8314); try --tls implicit"
    );
    assert!(error.is_temporary(), "it may be a slow or busy server");
}

#[test]
fn a_close_after_a_partial_greeting_is_a_plain_close() {
    let t0 = Instant::now();
    let mut conn = connection(Some(SILENCE_LIMIT));
    let mut hs = handshake(TlsMode::StartTls);
    waiting_for_the_greeting(&mut conn, &mut hs, t0);
    conn.handle(Input::Bytes(b"220-mx"));
    conn.handle(Input::Eof);
    assert!(matches!(
        transport(conn.poll(&mut hs, t0).unwrap_err()),
        TransportError::ConnectionClosed {
            during: "the greeting"
        }
    ));
}

#[test]
fn under_implicit_tls_a_silent_server_is_only_slow() {
    let t0 = Instant::now();
    let mut conn = connection(Some(SILENCE_LIMIT));
    let mut hs = handshake(TlsMode::Implicit);
    assert_eq!(conn.poll(&mut hs, t0).unwrap(), Action::StartTls);
    conn.handle(Input::TlsEstablished);
    let deadline = waiting_for_the_greeting(&mut conn, &mut hs, t0);
    assert_eq!(deadline - t0, GREETING, "no silence limit under TLS");
    conn.handle_timeout(deadline);
    assert!(matches!(
        transport(conn.poll(&mut hs, deadline).unwrap_err()),
        TransportError::Timeout {
            stage: "the greeting",
            ..
        }
    ));
}

/// The handshake's own error, as the driver would report it.
fn handshake_failed() -> TransportError {
    TransportError::Tls(TlsError::Handshake {
        name: "mx.example".into(),
        detail: "received corrupt message of type InvalidContentType".into(),
    })
}

#[test]
fn a_plain_reply_to_the_client_hello_says_try_starttls() {
    let t0 = Instant::now();
    let mut conn = connection(None);
    let mut hs = handshake(TlsMode::Implicit);
    assert_eq!(conn.poll(&mut hs, t0).unwrap(), Action::StartTls);
    // What the server sent in the clear during the handshake, then its failure.
    conn.handle(Input::Bytes(b"220 mx.example ESMTP ready\r\n"));
    conn.handle(Input::TlsFailed(handshake_failed()));
    let error = conn.poll(&mut hs, t0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the server speaks plain SMTP on this port; try --tls starttls \
         (it answered the TLS ClientHello with \"220 mx.example ESMTP ready\")"
    );
    assert!(error.is_permanent(), "the same port answers the same way");
    assert!(
        conn.transcript()
            .render()
            .contains("S: 220 mx.example ESMTP ready")
    );
}

#[test]
fn other_bytes_keep_the_handshake_error() {
    let t0 = Instant::now();
    for clear in [
        &b"HTTP/1.1 400 Bad Request\r\n"[..],
        b"\x15\x03\x03\x00\x02",
        b"",
    ] {
        let mut conn = connection(None);
        let mut hs = handshake(TlsMode::Implicit);
        assert_eq!(conn.poll(&mut hs, t0).unwrap(), Action::StartTls);
        conn.handle(Input::Bytes(clear));
        conn.handle(Input::TlsFailed(handshake_failed()));
        let error = transport(conn.poll(&mut hs, t0).unwrap_err());
        assert!(matches!(error, TransportError::Tls(_)), "{error:?}");
    }
}

#[test]
fn a_failed_starttls_handshake_is_not_called_plain_smtp() {
    // After the greeting, a reply-like answer to the ClientHello is a
    // broken server, not the wrong port.
    let t0 = Instant::now();
    let mut conn = connection(None);
    let mut hs = handshake(TlsMode::StartTls);
    waiting_for_the_greeting(&mut conn, &mut hs, t0);
    conn.handle(Input::Bytes(b"220 mx\r\n"));
    assert!(matches!(next(&mut conn, &mut hs, t0), Action::Write(_)));
    assert_eq!(next(&mut conn, &mut hs, t0), Action::Read);
    conn.handle(Input::Bytes(b"250-mx\r\n250 STARTTLS\r\n"));
    assert!(matches!(next(&mut conn, &mut hs, t0), Action::Write(_)));
    assert_eq!(next(&mut conn, &mut hs, t0), Action::Read);
    conn.handle(Input::Bytes(b"220 go ahead\r\n"));
    assert_eq!(conn.poll(&mut hs, t0).unwrap(), Action::StartTls);
    conn.handle(Input::Bytes(b"500 5.5.2 what?\r\n"));
    conn.handle(Input::TlsFailed(handshake_failed()));
    assert!(matches!(
        transport(conn.poll(&mut hs, t0).unwrap_err()),
        TransportError::Tls(_)
    ));
}

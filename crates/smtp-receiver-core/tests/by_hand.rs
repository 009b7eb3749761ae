//! The session driven by hand, as a driver does it: bytes and the time
//! in, replies and events out, deadlines honoured. No sockets, no sleeps.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use smtp_receiver_core::config::{RecipientPolicy, SessionConfig};
use smtp_receiver_core::{ConnectionInfo, Event, ListenerKind, Request, Session};

/// Polls until the session needs more input or closes, answering yes to
/// every question and accepting every message; returns the replies.
fn drive(session: &mut Session, input: &[u8], now: Instant) -> (String, Vec<u8>) {
    let (mut body, mut message) = (Vec::new(), Vec::new());
    let mut used = 0;
    loop {
        let (n, event) = session.poll(&input[used..], &mut body, now, SystemTime::now());
        used += n;
        match event {
            Event::Ask(_) => session.answer(Ok(())), // the application says yes
            Event::Body => message.append(&mut body),
            Event::BodyEnd => session.finish_message(Ok(())), // stored
            Event::Message(_) | Event::Reset => {}
            Event::NeedMore | Event::Close => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    (String::from_utf8(session.take_output()).unwrap(), message)
}

#[test]
fn a_whole_session_by_hand() {
    let mut config = SessionConfig::new("mx.example.org");
    config.recipients = RecipientPolicy::domains(["example.org"]);
    let info = ConnectionInfo::new(
        "192.0.2.1:40000".parse().unwrap(),
        "192.0.2.2:25".parse().unwrap(),
        ListenerKind::Plain,
    );
    let mut session = Session::new(Arc::new(config), info);
    let start = Instant::now(); // the driver reads the clocks, not the session

    // The first question: is this client welcome?
    let (_, event) = session.poll(b"", &mut Vec::new(), start, SystemTime::now());
    assert_eq!(event, Event::Ask(Request::Connect));

    let (out, _) = drive(&mut session, b"EHLO client.example\r\nNOOP\r\n", start);
    assert!(out.starts_with("220 mx.example.org"));
    assert!(out.contains("250-PIPELINING\r\n"));
    assert!(out.ends_with("250 2.0.0 OK\r\n"));
    // Waiting for the next command: five minutes (RFC 5321 §4.5.3.2.7).
    assert_eq!(
        session.poll_timeout(),
        Some(start + Duration::from_secs(300))
    );

    let later = start + Duration::from_secs(60);
    let (out, message) = drive(
        &mut session,
        b"MAIL FROM:<a@client.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nHi\r\n.\r\n",
        later,
    );
    assert!(out.ends_with("\r\n"), "{out}");
    assert!(
        out.contains("354 ") && out.contains("250 2.0.0 Ok: queued as "),
        "{out}"
    );
    assert!(
        message.ends_with(b"\r\nHi\r\n"),
        "trace lines, then the message"
    );

    // The client goes quiet: at the deadline, 421 and close.
    let deadline = session.poll_timeout().unwrap();
    assert_eq!(deadline, later + Duration::from_secs(300));
    session.handle_timeout(deadline);
    let (out, _) = drive(&mut session, b"", deadline);
    assert_eq!(
        out,
        "421 4.4.2 mx.example.org timeout, closing connection\r\n"
    );
    assert!(session.is_closed());
}

//! The receiver's session machine (smtp-receiver-core) driven by arbitrary
//! steps: client bytes in arbitrary reads, the application's verdicts, TLS
//! handshakes, the passing of time and a shutdown. Beyond "no panic" it
//! checks what must hold whatever the client does: every reply line is a
//! 2xx-5xx code with `-` or a space and at most 512 octets (RFC 5321 §4.2,
//! §4.5.3.1.5), printable US-ASCII; a message always has an accepted
//! recipient (RFC 5321 §3.3); the session never asks for more input after
//! it closed; queued output stays bounded.
//!
//! Input layout: byte 0 sets the configuration (STARTTLS, AUTH, strict
//! content), then steps of `op, len, len octets`.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use smtp_receiver_core::config::{RecipientPolicy, SessionConfig};
use smtp_receiver_core::{ConnectionInfo, ContentPolicy, Event, ListenerKind, Reply, Session};

fn check_replies(out: &[u8]) {
    assert!(out.is_empty() || out.ends_with(b"\r\n"), "{out:?}");
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").expect("CRLF line ends");
        assert!(line.len() >= 3 && line.len() + 2 <= 512, "{line:?}");
        assert!((b'2'..=b'5').contains(&line[0]) && line[1..3].iter().all(u8::is_ascii_digit));
        assert!(matches!(line.get(3), None | Some(b' ') | Some(b'-')), "{line:?}");
        assert!(line.iter().all(|&b| b == b'\t' || (32..127).contains(&b)), "{line:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let mut config = SessionConfig::new("mx.example.org");
    config.recipients = RecipientPolicy::domains(["example.org"]);
    config.starttls = flags & 1 != 0;
    config.auth.enabled = flags & 2 != 0;
    if flags & 4 != 0 {
        config.content_policy = ContentPolicy::Strict;
    }
    let info = ConnectionInfo::new(
        "192.0.2.1:40000".parse().unwrap(),
        "192.0.2.25:25".parse().unwrap(),
        ListenerKind::Plain,
    );
    let mut session = Session::new(Arc::new(config), info);
    let mut now = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_751_371_200);
    let (mut pending, mut body) = (Vec::new(), Vec::new());
    let mut verdict: Result<(), Reply> = Ok(());
    let mut in_message = false;
    while let [op, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;
        match op % 8 {
            // The application changes its mind.
            0 => verdict = if verdict.is_ok() { Err(Reply::new(554, "5.7.1 no")) } else { Ok(()) },
            // Time passes; the deadlines apply.
            1 => {
                now += Duration::from_secs(len as u64 * 10);
                session.handle_timeout(now);
            }
            // The server begins to shut down.
            2 => session.begin_shutdown(now + Duration::from_secs(len as u64)),
            // Client bytes.
            _ => pending.extend_from_slice(bytes),
        }
        for _ in 0..10_000 {
            let (used, event) = session.poll(&pending, &mut body, now, wall);
            pending.drain(..used);
            match event {
                Event::NeedMore => break,
                Event::Flush => check_replies(&session.take_output()),
                Event::Ask(_) => session.answer(verdict.clone()),
                Event::Message(envelope) => {
                    assert!(!envelope.recipients.is_empty(), "a message without a recipient");
                    in_message = true;
                }
                Event::Body => body.clear(),
                Event::BodyRefused(reply) => {
                    if std::mem::take(&mut in_message) {
                        session.finish_message(Err(reply));
                    }
                }
                Event::BodyEnd => {
                    if std::mem::take(&mut in_message) {
                        session.finish_message(verdict.clone());
                    } else {
                        break;
                    }
                }
                Event::BodyAborted(_) => {
                    in_message = false;
                    session.finish_message(Err(Reply::new(451, "4.3.0 aborted")));
                }
                Event::Reset => {}
                Event::StartTls { .. } => {
                    pending.clear();
                    session.tls_established();
                }
                Event::Close => {
                    check_replies(&session.take_output());
                    assert!(session.is_closed());
                    return;
                }
            }
        }
        let out = session.take_output();
        // One read's worth of commands cannot queue unbounded replies.
        assert!(out.len() < 1 << 20, "{} octets of replies queued", out.len());
        check_replies(&out);
    }
});

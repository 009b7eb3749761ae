//! Drives a [`Session`] the way the server's driver does, answering the
//! application's questions with a configurable verdict.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smtp_wire::Reply;

use crate::config::{RecipientPolicy, SessionConfig};
use crate::{Abort, ConnectionInfo, Envelope, Event, ListenerKind, Request, Session};

pub(super) type Verdict = Box<dyn FnMut(&Request) -> Result<(), Reply>>;

pub(super) struct Harness {
    pub session: Session,
    /// The injected monotonic time given to every poll.
    pub now: Instant,
    body: Vec<u8>,
    in_message: bool,
    current: Vec<u8>,
    /// The application's answers to `Ask` (default: yes to everything).
    pub verdict: Verdict,
    /// The application's verdict on each message (default: accept).
    pub data_verdict: Result<(), Reply>,
    /// When set, the application returns this verdict as soon as a message
    /// starts, without reading its body (allowed by `Handler::data`).
    pub early_verdict: Option<Result<(), Reply>>,
    /// When set, the application takes its time: it has read a whole
    /// message but not answered yet (the test calls `finish_message`).
    pub hold_verdict: bool,
    pub asked: Vec<Request>,
    pub envelopes: Vec<Envelope>,
    /// Complete messages the application read (trace headers included).
    pub messages: Vec<Vec<u8>>,
    pub resets: usize,
    pub aborted: usize,
    /// Why each abandoned message was abandoned.
    pub aborts: Vec<Abort>,
    /// Octets the session dropped before a TLS handshake.
    pub discarded: usize,
    pub flushes: usize,
    pub starttls: bool,
    pub closed: bool,
}

pub(super) fn wall_clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_751_371_200) // Tue, 01 Jul 2025 12:00:00 +0000
}

pub(super) fn config() -> SessionConfig {
    let mut config = SessionConfig::new("mx.example.org");
    config.recipients = RecipientPolicy::domains(["example.org"]);
    config.starttls = true;
    config.auth.enabled = true;
    config
}

pub(super) fn info(peer: &str) -> ConnectionInfo {
    ConnectionInfo::new(
        peer.parse().unwrap(),
        "192.0.2.25:25".parse().unwrap(),
        ListenerKind::Plain,
    )
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(config(), false)
    }

    /// A session on a plain listener, or (`tls`) on an implicit-TLS one
    /// whose handshake has just succeeded.
    pub fn with(config: SessionConfig, tls: bool) -> Harness {
        if !tls {
            return Harness::with_listener(config, ListenerKind::Plain);
        }
        let mut h = Harness::with_listener(config, ListenerKind::ImplicitTls);
        h.feed(b"");
        assert!(
            h.starttls,
            "an implicit-TLS session starts with the handshake"
        );
        h.starttls = false;
        h.session.tls_established();
        h
    }

    /// A fresh session on a listener of that kind.
    pub fn with_listener(config: SessionConfig, kind: ListenerKind) -> Harness {
        let mut info = info("192.0.2.1:40000");
        info.listener = kind;
        Harness::from_session(Session::new(Arc::new(config), info))
    }

    pub fn from_session(session: Session) -> Harness {
        Harness {
            session,
            now: Instant::now(),
            body: Vec::new(),
            in_message: false,
            current: Vec::new(),
            verdict: Box::new(|_| Ok(())),
            data_verdict: Ok(()),
            early_verdict: None,
            hold_verdict: false,
            asked: Vec::new(),
            envelopes: Vec::new(),
            messages: Vec::new(),
            resets: 0,
            aborted: 0,
            aborts: Vec::new(),
            discarded: 0,
            flushes: 0,
            starttls: false,
            closed: false,
        }
    }

    /// Feeds `input`; returns the replies written meanwhile (as text) and
    /// how much input was used (less than all after STARTTLS or close).
    pub fn feed(&mut self, input: &[u8]) -> (String, usize) {
        let mut out = Vec::new();
        let mut used = 0;
        loop {
            let (n, event) =
                self.session
                    .poll(&input[used..], &mut self.body, self.now, wall_clock());
            used += n;
            match event {
                Event::NeedMore => break,
                Event::Flush => {
                    self.flushes += 1;
                    out.extend(self.session.take_output());
                }
                Event::Ask(request) => {
                    let verdict = (self.verdict)(&request);
                    self.asked.push(request);
                    self.session.answer(verdict);
                }
                Event::Message(envelope) => {
                    self.envelopes.push(*envelope);
                    self.current.clear();
                    match self.early_verdict.clone() {
                        Some(verdict) => self.session.finish_message(verdict),
                        None => self.in_message = true,
                    }
                }
                Event::Body => {
                    if self.in_message {
                        self.current.extend_from_slice(&self.body);
                    }
                    self.body.clear();
                }
                Event::BodyRefused(refusal) => {
                    if self.in_message {
                        self.in_message = false;
                        self.current.clear();
                        self.session.finish_message(Err(refusal));
                    }
                }
                Event::BodyEnd if self.hold_verdict => {
                    if self.in_message {
                        self.in_message = false;
                        self.messages.push(std::mem::take(&mut self.current));
                    }
                    break;
                }
                Event::BodyEnd => {
                    if self.in_message {
                        self.in_message = false;
                        self.messages.push(std::mem::take(&mut self.current));
                        self.session.finish_message(self.data_verdict.clone());
                    }
                }
                Event::BodyAborted(why) => {
                    self.aborts.push(why);
                    self.aborted += 1;
                    self.in_message = false;
                    self.session.finish_message(Err(Reply::new(451, "aborted")));
                }
                Event::Reset => self.resets += 1,
                Event::StartTls { discarded } => {
                    self.starttls = true;
                    self.discarded += discarded;
                    break;
                }
                Event::Close => {
                    self.closed = true;
                    break;
                }
            }
        }
        out.extend(self.session.take_output());
        // RFC 5321 §4.2: reply text is %d09 / %d32-126; every reply of every
        // test is checked.
        assert!(
            out.iter()
                .all(|&b| b == b'\t' || b == b'\r' || b == b'\n' || (32..127).contains(&b)),
            "non-ASCII or control octets in replies: {:?}",
            String::from_utf8_lossy(&out)
        );
        (String::from_utf8(out).unwrap(), used)
    }

    /// Moves the injected clock forward and applies the deadline, as a
    /// driver does when `poll_timeout` has passed.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.session.handle_timeout(self.now);
    }

    /// Feeds `input` and returns the replies.
    pub fn send(&mut self, input: &str) -> String {
        self.feed(input.as_bytes()).0
    }

    /// The reply codes in `text`, one per reply (multi-line replies once).
    pub fn codes(text: &str) -> Vec<u16> {
        text.split("\r\n")
            .filter(|line| line.len() >= 4 && line.as_bytes()[3] == b' ')
            .map(|line| line[..3].parse().unwrap())
            .collect()
    }

    /// Feeds `input` and returns the reply codes.
    pub fn codes_of(&mut self, input: &str) -> Vec<u16> {
        Harness::codes(&self.send(input))
    }

    /// A session past the greeting (its 220 already taken).
    pub fn greeted() -> Harness {
        Harness::greeted_with(config())
    }

    /// A session with this configuration, past the greeting.
    pub fn greeted_with(config: SessionConfig) -> Harness {
        let mut h = Harness::with(config, false);
        assert!(h.send("").starts_with("220 mx.example.org "));
        h
    }
}

/// A stored message without the trace header lines (and their folded
/// continuations) that the session prepends.
pub(super) fn without_trace(message: &[u8]) -> &[u8] {
    let mut at = 0;
    loop {
        let rest = &message[at..];
        let starts_trace = [&b"Return-Path:"[..], b"X-Original-To:", b"Received:", b"\t"]
            .iter()
            .any(|p| rest.starts_with(p));
        if !starts_trace {
            return rest;
        }
        let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        at += end + 2;
    }
}

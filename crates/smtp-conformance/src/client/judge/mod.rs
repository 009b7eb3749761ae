//! The judging Receiver-SMTP as a sans-IO state machine.
//!
//! The driver feeds it what the client sent ([`Judge::received`]) and asks
//! what to do next ([`Judge::next`]): read more, write a reply (after a
//! short delay), start TLS, linger, close. Because every reply is delayed
//! a little and the driver reads whatever arrives meanwhile before writing
//! it, the judge knows which commands were sent *before* the client could
//! have seen the previous reply: that is how pipelining without PIPELINING,
//! commands after DATA/EHLO/STARTTLS in one group, message text before the
//! 354 and early talkers are caught.

mod commands;
mod finish;
mod message;
mod tls_auth;

use std::collections::VecDeque;
use std::time::Duration;

use smtp_wire::{
    BdatReader, Capabilities, DataDecoder, LineDecoder, LineEvent, MAX_COMMAND_LINE, Reply,
    Transcript, TranscriptLimits,
};

use super::ClientTls;
use super::body::BodyScanner;
use super::checks::{Check, Findings};
use super::rules::{self, Fault};
use super::scenario::Scenario;

/// The judge's settings for one session.
#[derive(Debug, Clone)]
pub(crate) struct JudgeConfig {
    pub(crate) scenario: Scenario,
    pub(crate) domain: String,
    pub(crate) tls: ClientTls,
    pub(crate) size_limit: u64,
    pub(crate) reply_delay: Duration,
    pub(crate) greeting_delay: Duration,
    pub(crate) reaction_window: Duration,
}

/// What the driver should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Write the parts in order; wait each part's delay first, reading
    /// (and handing to [`Judge::received`]) what arrives meanwhile; report
    /// each part with [`Judge::sent`], then call [`Judge::written`].
    Write(Vec<(Duration, Vec<u8>)>),
    /// Call [`Judge::tls_starting`], run the TLS handshake, then
    /// [`Judge::tls_started`] or [`Judge::tls_failed`].
    StartTls,
    /// Read (and hand over) what arrives during this time, then ask again.
    Linger(Duration),
    /// Close the connection; the session is over.
    Close,
    /// Read more input (or report the end with [`Judge::eof`] / [`Judge::timed_out`]).
    Read,
}

/// Where the input stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Command,
    /// Message text after a 354.
    Data,
    /// Octets of a BDAT chunk.
    Chunk,
    /// Waiting for the AUTH PLAIN response line.
    AuthPlain,
    /// AUTH LOGIN user name, then password.
    AuthLogin {
        password: bool,
    },
    /// OAUTHBEARER or XOAUTH2 without an initial response: the client
    /// message comes next.
    AuthToken(smtp_wire::sasl::Mechanism),
    /// After a 421: lines are only recorded.
    Lingering,
    Closed,
}

/// The current mail transaction.
#[derive(Debug, Default)]
struct Txn {
    open: bool,
    body_8bit: bool,
    smtputf8: bool,
    size: Option<u64>,
    tried: usize,
    accepted: usize,
    chunks: Option<BodyScanner>,
    chunk_bytes: u64,
}

/// The scenario reaction being watched.
#[derive(Debug, Default)]
struct Reaction {
    triggered: bool,
    violation: Option<(String, Vec<String>)>,
    note: Option<String>,
}

/// The judging receiver for one session.
pub(crate) struct Judge {
    cfg: JudgeConfig,
    findings: Findings,
    transcript: Transcript,
    actions: VecDeque<Action>,
    buf: Vec<u8>,
    /// Octets at the front of `buf` that arrived before the last reply was written.
    early: usize,
    /// The command (or "greeting") whose reply those octets did not wait for.
    early_after: Option<&'static str>,
    /// The command whose reply is being prepared.
    current: Option<&'static str>,
    lines: LineDecoder,
    phase: Phase,
    tls: bool,
    ever_tls: bool,
    tls_failure: Option<String>,
    /// The next command is the first after the handshake.
    first_after_tls: bool,
    greeted: bool,
    ehlo_tried: bool,
    ehlo_refused: bool,
    helo_after_refusal: bool,
    caps: Capabilities,
    authed: bool,
    txn: Txn,
    data: Option<(DataDecoder, BodyScanner)>,
    chunk: Option<(BdatReader, bool, bool)>,
    messages: usize,
    /// The last reply to DATA was not 354: text lines may follow by mistake.
    data_refused: bool,
    quit: bool,
    ended: Option<String>,
    closed_by_us: bool,
    reaction: Reaction,
    /// Injection scenario: the EHLO after TLS is answered late.
    injection_armed: bool,
    mail_in_clear: bool,
    commands_in_tls: usize,
    /// Command lines received (AUTH responses excluded).
    commands: usize,
}

impl Judge {
    pub(crate) fn new(cfg: JudgeConfig) -> Judge {
        let limits = TranscriptLimits {
            body_head_lines: 8,
            body_tail_lines: 4,
            ..TranscriptLimits::default()
        };
        let mut judge = Judge {
            findings: Findings::default(),
            transcript: Transcript::with_limits(limits),
            actions: VecDeque::new(),
            buf: Vec::new(),
            early: 0,
            early_after: None,
            current: Some("greeting"),
            lines: LineDecoder::new(MAX_COMMAND_LINE),
            phase: Phase::Command,
            tls: cfg.tls == ClientTls::Implicit,
            ever_tls: cfg.tls == ClientTls::Implicit,
            tls_failure: None,
            first_after_tls: false,
            greeted: false,
            ehlo_tried: false,
            ehlo_refused: false,
            helo_after_refusal: false,
            caps: Capabilities::default(),
            authed: false,
            txn: Txn::default(),
            data: None,
            chunk: None,
            messages: 0,
            data_refused: false,
            quit: false,
            ended: None,
            closed_by_us: false,
            reaction: Reaction::default(),
            injection_armed: false,
            mail_in_clear: false,
            commands_in_tls: 0,
            commands: 0,
            cfg,
        };
        judge.greet();
        judge
    }

    /// The greeting, delayed so that early talkers show (RFC 5321 §4.3.1);
    /// in the multi-line scenario the last line comes after a pause.
    fn greet(&mut self) {
        let d = &self.cfg.domain;
        let delay = self.cfg.greeting_delay;
        let parts = if self.cfg.scenario == Scenario::MultilineGreeting {
            self.reaction.triggered = true;
            vec![
                (
                    delay,
                    format!("220-{d} ESMTP smtp-conform judging receiver\r\n").into_bytes(),
                ),
                (
                    self.cfg.reaction_window,
                    b"220-this greeting has three lines\r\n220 and this is the last one\r\n"
                        .to_vec(),
                ),
            ]
        } else {
            vec![(
                delay,
                format!("220 {d} ESMTP smtp-conform judging receiver\r\n").into_bytes(),
            )]
        };
        self.actions.push_back(Action::Write(parts));
    }

    /// Hand over octets the client sent.
    pub(crate) fn received(&mut self, bytes: &[u8]) {
        self.transcript.client(bytes);
        self.buf.extend_from_slice(bytes);
    }

    /// One part of an [`Action::Write`] went out (recorded now, so the
    /// transcript shows what the client sent before it).
    pub(crate) fn sent(&mut self, bytes: &[u8]) {
        self.transcript.server(bytes);
    }

    /// The last [`Action::Write`] is on the wire: whatever is buffered now
    /// was sent before the client could see it.
    pub(crate) fn written(&mut self) {
        self.early = self.buf.len();
        self.early_after = self.current.take();
    }

    /// The client closed the connection.
    pub(crate) fn eof(&mut self) {
        if self.ended.is_none() {
            self.ended = Some("the client closed the connection".into());
        }
        self.phase = Phase::Closed;
    }

    /// Nothing arrived for too long.
    pub(crate) fn timed_out(&mut self) {
        if self.ended.is_none() {
            self.ended = Some("the client went silent (timeout)".into());
        }
        self.phase = Phase::Closed;
    }

    /// The handshake is about to start: plaintext the client pipelined
    /// after STARTTLS is dropped, never run as commands (RFC 3207 §4.2).
    pub(crate) fn tls_starting(&mut self) {
        if !self.buf.is_empty() {
            let n = self.buf.len();
            self.violate(
                Check::WaitsForReplies,
                format!("{n} octets sent after STARTTLS before its 220 reply (dropped)"),
            );
            self.buf.clear();
            self.early = 0;
        }
        self.lines = LineDecoder::new(MAX_COMMAND_LINE);
    }

    /// The handshake succeeded: the session starts over (RFC 3207 §4.2).
    pub(crate) fn tls_started(&mut self) {
        self.transcript.tls_started();
        self.tls = true;
        self.ever_tls = true;
        self.first_after_tls = true;
        self.greeted = false;
        self.caps = Capabilities::default();
        self.txn = Txn::default();
        if self.cfg.scenario == Scenario::StartTlsInjection {
            self.injection_armed = true;
        }
    }

    /// The handshake of implicit TLS (RFC 8314) succeeded: the recording
    /// says so before anything else.
    pub(crate) fn implicit_tls_started(&mut self) {
        self.transcript.tls_started();
    }

    /// The handshake failed (the client refused the certificate, ...).
    pub(crate) fn tls_failed(&mut self, error: &str) {
        self.transcript
            .note(&format!("TLS handshake failed: {error}"));
        self.tls_failure = Some(error.to_string());
        self.ended = Some(format!("TLS handshake failed: {error}"));
        self.closed_by_us = true;
        self.phase = Phase::Closed;
        self.actions.clear();
    }

    /// What to do next.
    pub(crate) fn next(&mut self) -> Action {
        loop {
            if let Some(action) = self.actions.pop_front() {
                return action;
            }
            match self.phase {
                Phase::Closed => return Action::Close,
                Phase::Data => {
                    if !self.step_data() {
                        return Action::Read;
                    }
                }
                Phase::Chunk => {
                    if !self.step_chunk() {
                        return Action::Read;
                    }
                }
                Phase::Lingering => {
                    self.step_linger();
                    self.phase = Phase::Closed;
                    return Action::Close;
                }
                _ => {
                    if !self.step_line() {
                        return Action::Read;
                    }
                }
            }
        }
    }

    /// Evidence: the last lines of the transcript.
    fn evidence(&self) -> Vec<String> {
        let rendered = self.transcript.render();
        let lines: Vec<&str> = rendered.lines().collect();
        let skip = lines.len().saturating_sub(14);
        lines[skip..].iter().map(|s| s.to_string()).collect()
    }

    fn violate(&mut self, check: Check, text: String) {
        let evidence = self.evidence();
        self.findings.violate(check, text, evidence);
    }

    /// Records a broken rule, if any.
    fn fault(&mut self, fault: Option<Fault>) {
        if let Some((check, text)) = fault {
            self.violate(check, text);
        }
    }

    fn react_violation(&mut self, text: String) {
        if self.reaction.violation.is_none() {
            let evidence = self.evidence();
            self.reaction.violation = Some((text, evidence));
        }
    }

    fn has_cap(&self, keyword: &str) -> bool {
        self.caps.has(keyword)
    }

    /// Queues a reply: recorded in the transcript, written after the delay.
    fn reply(&mut self, reply: Reply) {
        let mut reply = reply;
        if !self.has_cap("ENHANCEDSTATUSCODES") {
            reply.enhanced = None;
        }
        self.send_raw(reply.to_bytes(), self.cfg.reply_delay);
    }

    fn send_raw(&mut self, bytes: Vec<u8>, delay: Duration) {
        self.actions.push_back(Action::Write(vec![(delay, bytes)]));
    }

    /// Takes the next command line, if complete, and handles it.
    fn step_line(&mut self) -> bool {
        let was_early = self.early > 0;
        let (used, event) = self.lines.decode(&self.buf);
        let parsed = match event {
            LineEvent::NeedMore => None,
            LineEvent::TooLong => Some(Err(())),
            LineEvent::Line { line, bare_lf } => Some(Ok((line.to_vec(), bare_lf))),
        };
        self.buf.drain(..used);
        self.early = self.early.saturating_sub(used);
        match parsed {
            None => false,
            Some(Err(())) => {
                self.fault(Some(rules::command_too_long()));
                self.current = Some("(too long)");
                self.reply(Reply::enhanced(
                    500,
                    smtp_wire::EnhancedCode::new(5, 5, 6),
                    "line too long",
                ));
                true
            }
            Some(Ok((line, bare_lf))) => {
                self.fault(rules::command_line_end(&line, bare_lf));
                self.findings
                    .exercised(Check::Crlf, "every line ended with CRLF");
                self.line(&line, was_early);
                true
            }
        }
    }

    fn step_data(&mut self) -> bool {
        let Some((decoder, scanner)) = self.data.as_mut() else {
            self.phase = Phase::Command;
            return true;
        };
        if self.buf.is_empty() {
            return false;
        }
        let mut scratch = Vec::new();
        let progress = decoder.decode(&self.buf, &mut scratch);
        scanner.scan(&self.buf[..progress.consumed]);
        if self.early > 0 {
            self.early = 0;
            self.fault(Some(rules::text_before_354()));
        }
        self.buf.drain(..progress.consumed);
        if progress.done {
            self.end_of_data();
            return true;
        }
        progress.consumed > 0 && !self.buf.is_empty()
    }

    fn step_chunk(&mut self) -> bool {
        let Some((reader, _, _)) = self.chunk.as_mut() else {
            self.phase = Phase::Command;
            return true;
        };
        if !reader.is_done() && self.buf.is_empty() {
            return false;
        }
        let mut scratch = Vec::new();
        let used = reader.read(&self.buf, &mut scratch);
        let done = reader.is_done();
        if let Some(scanner) = self.txn.chunks.as_mut() {
            scanner.scan(&scratch);
        }
        self.txn.chunk_bytes += used as u64;
        self.buf.drain(..used);
        self.early = self.early.saturating_sub(used);
        if done {
            self.end_of_chunk();
        }
        true
    }

    fn step_linger(&mut self) {
        // Every complete line that arrived after the 421 was seen.
        while let (used, LineEvent::Line { line, .. }) = self.lines.decode(&self.buf) {
            let early = self.early > 0;
            let text = String::from_utf8_lossy(line).into_owned();
            self.buf.drain(..used);
            self.early = self.early.saturating_sub(used);
            if !early && !text.eq_ignore_ascii_case("QUIT") {
                self.react_violation(format!("{text:?} sent after the 421 reply"));
            }
        }
    }

    /// The session report, and the judge's recording of the session.
    pub(crate) fn finish(
        self,
        target: String,
        duration: Duration,
    ) -> (crate::model::Report, Transcript) {
        let transcript = self.transcript.clone();
        (finish::report(self, target, duration), transcript)
    }
}

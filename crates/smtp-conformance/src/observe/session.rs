//! The walk through a recorded session: one pass over the steps, in the
//! order the server saw them, keeping what the client could know at each
//! point (the replies it had been sent, the extensions offered, the
//! transaction, TLS). Client lines are read in `commands.rs` and
//! `message.rs`, server lines in `replies.rs`.

use std::collections::{HashSet, VecDeque};

use smtp_wire::Capabilities;

use super::message::Message;
use super::steps::{Ending, Step, Wire};
use super::{Finding, SessionEnd};
use crate::client::Scenario;
use crate::client::rules::{self, Fault, Progress};
use crate::model::{CaseInfo, Level};

/// The scenario reactions of `smtp-conform client` that a recording can
/// show: a message over the advertised SIZE, commands after a 421, message
/// text after a refused DATA.
pub(super) const REACTIONS: &[Scenario] = &[
    Scenario::SizeTooSmall,
    Scenario::Shutdown421,
    Scenario::RcptRefused,
];

/// RFC 5321 §4.1.1.10: "[the sender] SHOULD wait until it receives the
/// reply" to QUIT. The active judge cannot see it (it closes after its
/// 221); a recording can: QUIT with no reply after it.
pub(super) const QUIT_REPLY: CaseInfo = CaseInfo {
    id: "client.quit-reply",
    title: "Waits for the reply to QUIT before closing",
    rfc: "RFC 5321 §4.1.1.10",
    level: Level::Should,
};

/// What the client lines are, at this point.
#[derive(Debug)]
pub(super) enum Mode {
    /// Command lines.
    Command,
    /// Sent after DATA or AUTH before its reply: the reply says what they
    /// are (message text after 354, a response after 334, commands
    /// otherwise), so they wait for it, as the transcript itself does.
    Held(Vec<Step>),
    /// The next line answers a 334 challenge (RFC 4954 §4).
    AuthResponse,
    /// DATA text after the 354, up to `<CRLF>.<CRLF>`.
    Body(Message),
    /// The octets of a BDAT chunk (RFC 3030 §2).
    Chunk { left: u64, last: bool },
    /// Client bytes were not recorded: nothing is judged until TLS starts
    /// (where the transcript records again).
    Blind,
}

/// What MAIL declared for the transaction.
#[derive(Debug, Default)]
pub(super) struct Txn {
    /// The MAIL line.
    pub(super) line: usize,
    pub(super) size: Option<u64>,
    pub(super) body_8bit: bool,
    pub(super) smtputf8: bool,
    /// The text of BDAT chunks so far.
    pub(super) chunks: Option<Message>,
}

/// The state of the walk.
pub(super) struct Walk {
    findings: Vec<Finding>,
    seen: HashSet<(usize, &'static str)>,
    /// What is waiting for a final reply, oldest first: the greeting, then
    /// each command (RFC 2920 §3.1: replies come in command order).
    pub(super) pending: VecDeque<&'static str>,
    /// The lines of a multi-line reply read so far.
    pub(super) reply: Vec<String>,
    pub(super) mode: Mode,
    /// The extensions of the last EHLO reply.
    pub(super) caps: Capabilities,
    /// EHLO was sent in this connection (HELO is for when it fails).
    pub(super) ehlo_tried: bool,
    /// EHLO/HELO accepted; MAIL accepted; RCPTs sent since MAIL.
    pub(super) greeted: bool,
    pub(super) mail: bool,
    pub(super) rcpts: usize,
    /// A command whose text the recording hides (sent inside an AUTH
    /// exchange) may have changed the transaction: the order is not
    /// judged until it is known again.
    pub(super) blurred: bool,
    pub(super) txn: Txn,
    pub(super) tls: bool,
    /// STARTTLS got its 220: the handshake is next.
    pub(super) starttls: bool,
    pub(super) first_after_tls: bool,
    /// The line of QUIT, and whether it was answered.
    pub(super) quit: Option<usize>,
    pub(super) quit_answered: bool,
    /// The server ended the session: 421, or the code of a greeting other
    /// than 220 (RFC 5321 §3.1: 554, "no SMTP service here").
    pub(super) closing: Option<u16>,
    /// The last DATA got no 354: what follows is not message text.
    pub(super) data_refused: bool,
    /// In an AUTH exchange: what the last client line was, and whether the
    /// credentials crossed in the clear were already reported.
    pub(super) auth_step: &'static str,
    pub(super) auth_mechanism: String,
    pub(super) auth_in_clear: bool,
    /// A command line shown before its end (a note came in between).
    partial: Option<Wire>,
    /// Index of the last client line.
    pub(super) last_client: Option<usize>,
    /// Commands since the start, or since TLS started (a client that
    /// closes right after the handshake refused the server's certificate).
    pub(super) commands: usize,
}

/// Walks the steps of one session and returns what the client did wrong.
pub(super) fn walk(steps: &[Step], end: SessionEnd) -> Vec<Finding> {
    let mut w = Walk {
        findings: Vec::new(),
        seen: HashSet::new(),
        pending: VecDeque::from(["greeting"]),
        reply: Vec::new(),
        mode: Mode::Command,
        caps: Capabilities::default(),
        ehlo_tried: false,
        greeted: false,
        mail: false,
        rcpts: 0,
        blurred: false,
        txn: Txn::default(),
        tls: false,
        starttls: false,
        first_after_tls: false,
        quit: None,
        quit_answered: false,
        closing: None,
        data_refused: false,
        auth_step: "AUTH",
        auth_mechanism: String::new(),
        auth_in_clear: false,
        partial: None,
        last_client: None,
        commands: 0,
    };
    for step in steps {
        w.step(step);
    }
    if end == SessionEnd::Closed {
        w.session_end();
    }
    w.findings
}

impl Walk {
    fn step(&mut self, step: &Step) {
        match step {
            Step::TlsStarted => self.tls_started(),
            _ if matches!(self.mode, Mode::Blind) => {}
            Step::Lost => self.mode = Mode::Blind,
            Step::Note => {}
            Step::Server(line) => self.server(line),
            Step::Client(line) => self.client_line(line),
            Step::Elided { .. } => self.client(step),
        }
    }

    /// A client line: one shown before its end is joined to its rest.
    fn client_line(&mut self, line: &Wire) {
        self.last_client = Some(line.index);
        if matches!(self.mode, Mode::Chunk { .. }) {
            // Chunk octets are counted, whatever their lines.
            return self.client(&Step::Client(line.clone()));
        }
        let line = match self.partial.take() {
            Some(mut start) => {
                start.bytes.extend_from_slice(&line.bytes);
                start.cut += line.cut;
                start.ending = line.ending;
                start
            }
            None => line.clone(),
        };
        if line.ending == Ending::None {
            // Its end comes later, or never (the recording stops there).
            self.partial = Some(line);
        } else {
            self.client(&Step::Client(line));
        }
    }

    /// A complete client line (or left-out body lines), by mode.
    pub(super) fn client(&mut self, step: &Step) {
        match (&mut self.mode, step) {
            (Mode::Held(held), _) => held.push(step.clone()),
            (Mode::Body(_) | Mode::Chunk { .. }, _) => self.text(step),
            (Mode::AuthResponse, Step::Client(line)) => self.auth_response(line),
            (Mode::Command, Step::Client(line)) => self.command(line),
            _ => {}
        }
    }

    /// RFC 3207 §4.2: after the handshake the session starts over; the
    /// client forgets what it learnt in the clear. With implicit TLS
    /// (RFC 8314) the handshake comes before the greeting, which is still
    /// awaited.
    fn tls_started(&mut self) {
        self.pending.retain(|p| *p == "greeting");
        self.reply.clear();
        self.mode = Mode::Command;
        self.caps = Capabilities::default();
        self.greeted = false;
        self.mail = false;
        self.rcpts = 0;
        self.blurred = false;
        self.txn = Txn::default();
        self.tls = true;
        self.first_after_tls = std::mem::take(&mut self.starttls);
        self.data_refused = false;
        self.partial = None;
        self.commands = 0;
    }

    /// What the client could know when it sent its next command.
    pub(super) fn progress(&self) -> Progress {
        Progress {
            greeted: self.greeted || self.pending.iter().any(|p| matches!(*p, "EHLO" | "HELO")),
            mail: self.mail || self.pending.contains(&"MAIL"),
            rcpts: self.rcpts,
        }
    }

    /// The transaction is over (RSET, EHLO, the reply to its message).
    pub(super) fn reset(&mut self) {
        self.mail = false;
        self.rcpts = 0;
        self.blurred = false;
    }

    /// Records a broken client rule on `line`.
    pub(super) fn fault(&mut self, line: usize, fault: Option<Fault>) {
        if let Some((check, text)) = fault {
            self.finding(line, check.info(), text);
        }
    }

    /// Records a broken scenario rule on `line`.
    pub(super) fn reaction(&mut self, line: usize, scenario: Scenario, text: String) {
        if let Some(info) = scenario.reaction() {
            self.finding(line, info, text);
        }
    }

    /// Records a finding; one per rule and line.
    pub(super) fn finding(&mut self, line: usize, info: CaseInfo, text: String) {
        if self.seen.insert((line, info.id)) {
            self.findings.push(Finding {
                line,
                check: info.id,
                level: info.level,
                text,
                rfc: info.rfc,
            });
        }
    }

    /// How the session ended (RFC 5321 §4.1.1.10): with QUIT, and after
    /// its reply. Not judged when the server ended it (421), when the
    /// client stopped at the TLS handshake (a certificate it refused), or
    /// when the recording does not show the end.
    fn session_end(&mut self) {
        let Some(last) = self.last_client else {
            return;
        };
        let unknown = matches!(self.mode, Mode::Blind | Mode::Held(_));
        if self.commands == 0 || unknown || self.closing.is_some() || self.starttls {
            return;
        }
        match self.quit {
            None => self.fault(last, Some(rules::no_quit("the session ended without it"))),
            Some(line) if !self.quit_answered => self.finding(
                line,
                QUIT_REPLY,
                "the connection closed before the reply to QUIT".into(),
            ),
            Some(_) => {}
        }
    }
}

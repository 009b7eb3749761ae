//! Client command lines: each judged by the shared rules on what the
//! client could know when it sent it.

use smtp_wire::{Command, MailParams};

use super::message::Message;
use super::session::{Mode, Txn, Walk};
use super::steps::{Ending, Wire};
use crate::client::Scenario;
use crate::client::rules;

/// How the transcript shows a secret (RFC 4954 §4): the whole line, or
/// what follows `AUTH <mechanism>`.
const REDACTED: &[u8] = b"<redacted>";

impl Walk {
    /// One command line.
    pub(super) fn command(&mut self, line: &Wire) {
        let at = line.index;
        if line.bytes == REDACTED {
            // Sent inside an AUTH exchange, and it turned out not to be a
            // response: a command whose text is hidden.
            self.early(at, "a hidden command");
            self.blurred = true;
            return self.pending.push_back("(hidden)");
        }
        self.fault(
            at,
            rules::command_line_end(&line.bytes, line.ending == Ending::BareLf),
        );
        if !rules::fits_command_line(line.len()) {
            // The server refuses it unread (RFC 5321 §4.5.3.1.4).
            self.fault(at, Some(rules::command_too_long()));
            return self.pending.push_back("(too long)");
        }
        let (parsed, initial_response) = parse(&line.bytes);
        let verb = match &parsed {
            Ok(cmd) => cmd.verb(),
            Err(_) => "(invalid)",
        };
        self.commands += 1;
        self.early(at, verb);
        if self.quit.is_some() {
            self.fault(at, Some(rules::after_quit(verb)));
        }
        if self.closing == Some(421) && verb != "QUIT" {
            // RFC 5321 §3.8: after a 421 the client sends at most QUIT.
            let text = format!("{verb} sent after the 421 reply");
            self.reaction(at, Scenario::Shutdown421, text);
        }
        if std::mem::take(&mut self.first_after_tls) {
            self.fault(at, rules::first_after_tls(verb));
        }
        let cmd = match parsed {
            Ok(cmd) => cmd,
            Err(error) => {
                if self.data_refused {
                    let text = rules::text_after_refused_data(&line.bytes);
                    self.reaction(at, Scenario::RcptRefused, text);
                }
                self.fault(at, Some(rules::bad_syntax(&line.bytes, &error)));
                return self.pending.push_back("(invalid)");
            }
        };
        self.data_refused = false;
        let awaits = self.order(at, &cmd);
        self.pending.push_back(awaits);
        if let Command::Bdat { .. } = cmd
            && (line.ending != Ending::Crlf || line.cut > 0)
        {
            // No server reads a chunk after a line it refuses (RFC 5321
            // §2.3.8), and neither does the transcript.
            return;
        }
        self.act(at, cmd, initial_response);
    }

    /// RFC 5321 §4.3.1, RFC 2920 §3.1: sent before the reply to the
    /// previous command (or the greeting) had been written.
    pub(super) fn early(&mut self, at: usize, verb: &str) {
        if let Some(prev) = self.pending.back().copied() {
            let pipelining = self.caps.has("PIPELINING");
            self.fault(at, rules::sent_early(verb, prev, pipelining));
        }
    }

    /// The order rules (RFC 5321 §4.1.4, §3.3) before the command counts;
    /// returns what waits for the reply.
    fn order(&mut self, at: usize, cmd: &Command) -> &'static str {
        let verb = cmd.verb();
        if !self.blurred {
            let was_early = !self.pending.is_empty();
            self.fault(at, rules::order(verb, self.progress(), was_early));
        }
        match cmd {
            Command::Bdat { last: true, .. } => "BDAT LAST",
            _ => verb,
        }
    }

    /// What the command changes for what follows.
    fn act(&mut self, at: usize, cmd: Command, initial_response: bool) {
        match cmd {
            Command::Mail { from, params } => self.mail(at, from.is_utf8(), &params),
            Command::Rcpt { to, params } => {
                self.rcpts += 1;
                self.fault(at, rules::rcpt_params(&params, &self.caps));
                let declared = self.txn.smtputf8;
                self.fault(at, rules::utf8_address(to.is_utf8(), declared, "RCPT"));
            }
            Command::Ehlo(_) => self.ehlo_tried = true,
            Command::Helo(_) => self.fault(at, rules::helo_first(self.ehlo_tried)),
            Command::Data => self.mode = Mode::Held(Vec::new()),
            Command::Bdat { size, last } => {
                self.fault(at, rules::bdat_offered(&self.caps));
                self.txn.chunks.get_or_insert_with(|| Message::new(false));
                self.mode = Mode::Chunk { left: size, last };
                if size == 0 {
                    self.chunk_done();
                }
            }
            Command::Quit => self.quit = Some(at),
            Command::Auth { mechanism, .. } => self.auth(at, mechanism, initial_response),
            _ => {}
        }
    }

    fn mail(&mut self, at: usize, utf8: bool, params: &MailParams) {
        self.rcpts = 0;
        self.fault(at, rules::mail_params(params, &self.caps));
        let declared = params.smtputf8 && self.caps.has("SMTPUTF8");
        self.fault(at, rules::utf8_address(utf8, declared, "MAIL"));
        self.txn = Txn {
            line: at,
            size: params.size,
            body_8bit: rules::declares_8bit(params),
            smtputf8: params.smtputf8,
            chunks: None,
        };
    }

    /// RFC 4954 §4 and RFC 3207 §6: no credentials before TLS. When the
    /// server did not offer AUTH in the clear, the command itself is the
    /// fault; when it did, the credentials crossing in the clear are.
    fn auth(&mut self, at: usize, mechanism: String, initial_response: bool) {
        self.mode = Mode::Held(Vec::new());
        self.auth_step = "AUTH";
        self.auth_in_clear = false;
        self.auth_mechanism = mechanism;
        if self.tls {
            return;
        }
        if !self.caps.has("AUTH") {
            self.auth_in_clear = true;
            let fault = rules::auth_before_tls(&self.auth_mechanism);
            self.fault(at, Some(fault));
        } else if initial_response {
            self.credentials(at);
        }
    }

    /// A line that carries credentials (an initial response, or the answer
    /// to a 334), reported once per exchange when it crossed in the clear.
    pub(super) fn credentials(&mut self, at: usize) {
        let secretless = matches!(self.auth_mechanism.as_str(), "EXTERNAL" | "ANONYMOUS");
        if self.tls || secretless || std::mem::replace(&mut self.auth_in_clear, true) {
            return;
        }
        let fault = rules::credentials_in_clear(&self.auth_mechanism);
        self.fault(at, Some(fault));
    }

    /// The line that answers a 334.
    pub(super) fn auth_response(&mut self, line: &Wire) {
        self.credentials(line.index);
        self.auth_step = "AUTH response";
        self.mode = Mode::Held(Vec::new());
    }
}

/// Parses a command line; `AUTH <mechanism> <redacted>` is read as the
/// AUTH command it was, with an initial response (true) that is hidden.
fn parse(line: &[u8]) -> (Result<Command, smtp_wire::CommandError>, bool) {
    if let Some(start) = line
        .strip_suffix(REDACTED)
        .and_then(|l| l.strip_suffix(b" "))
        && let Ok(cmd @ Command::Auth { .. }) = Command::parse(start)
    {
        return (Ok(cmd), true);
    }
    let parsed = Command::parse(line);
    let initial =
        matches!(&parsed, Ok(Command::Auth { initial_response: Some(r), .. }) if r != "=");
    (parsed, initial)
}

//! The shell's protocol side, sans-IO: what a typed line becomes on the
//! wire, what to warn about first, what each reply changes, and what the
//! learner reads. The driver (`shell.rs`) only moves lines and bytes:
//!
//! - a typed line goes to [`Shell::input`], which answers with a
//!   [`Step`]: text to print, bytes to send, a question to ask;
//! - a reply goes to [`Shell::reply`], which answers with an [`Answer`]:
//!   the lines to print and what comes next (the user's next line, more
//!   bytes, the TLS handshake, the end);
//! - [`Shell::awaits_reply`] says which of the two the driver waits for.
//!
//! Every line shown goes through the one [`Annotator`] of the session, so
//! the notes are those of `smtp-send --explain`.

mod auth;
mod message;

use smtp_wire::annotate::{Annotator, Style, explained_line};
use smtp_wire::command::Command;
use smtp_wire::data::DotStuffer;
use smtp_wire::param::{Body, MailParams};
use smtp_wire::reply::Reply;
use smtp_wire::sasl::{self, Credentials};
use smtp_wire::{Capabilities, Direction, TranscriptLine};

use super::checks::{Context, Offered, warnings};
use super::help;

/// The column of the shell's own notes and warnings: under the text of
/// the numbered lines (`   3  C: ...`).
const INDENT: &str = "      ";

/// The longest text line RFC 5321 §4.5.3.1.6 promises to carry, with its CRLF.
const MAX_TEXT_LINE: usize = 1000;

/// What the driver does with a typed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Print these lines; nothing is sent.
    Print(Vec<String>),
    /// Print these lines and write the bytes; then wait for a reply when
    /// [`Shell::awaits_reply`] says so, else read the next line.
    Send {
        /// What to print first.
        out: Vec<String>,
        /// What to write.
        bytes: Vec<u8>,
    },
    /// Print the warnings and ask whether to send anyway; answer with
    /// [`Shell::confirm`].
    Confirm(Vec<String>),
    /// Ask for the user name (when `user` is `None`) and the password,
    /// then give them to [`Shell::credentials`].
    Credentials {
        /// The user name typed on the AUTH line, if any.
        user: Option<String>,
    },
    /// Print these lines and close the connection without another byte:
    /// the input ended inside a message, which must not be ended for the
    /// user.
    Abandon(Vec<String>),
}

/// What follows a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Read the user's next line (or wait for the next reply when
    /// [`Shell::awaits_reply`] says so).
    Input,
    /// Write these bytes, then wait for the next reply (the AUTH LOGIN
    /// helper answering a 334 challenge).
    Send(Vec<u8>),
    /// Do the TLS handshake now, then tell [`Shell::tls_started`].
    StartTls,
    /// The server said goodbye (221, `clean`) or is closing on its own
    /// (421): close.
    Closed {
        /// QUIT was answered: the session ended as it should.
        clean: bool,
    },
}

/// What to print for a reply, and what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The lines to print.
    pub out: Vec<String>,
    /// What the driver does next.
    pub next: Next,
}

/// The AUTH mechanisms the shell encodes for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Helper {
    /// RFC 4616: one base64 message, `authzid NUL authcid NUL passwd`.
    Plain,
    /// The LOGIN mechanism (draft-murchison-sasl-login): the user name and
    /// the password, each base64, each answering a 334.
    Login,
}

impl Helper {
    fn name(self) -> &'static str {
        match self {
            Helper::Plain => "PLAIN",
            Helper::Login => "LOGIN",
        }
    }
}

/// Where an AUTH LOGIN exchange is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LoginStep {
    /// `AUTH LOGIN` sent: the next 334 asks for the user name.
    Sent,
    /// The user name sent: the next 334 asks for the password.
    User,
    /// The password sent: the next reply is the verdict.
    Password,
}

/// The reply the shell waits for, and what it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    /// AUTH PLAIN encoded by the shell, or an AUTH the user typed whole.
    Auth,
    /// AUTH LOGIN driven by the shell.
    Login {
        user: String,
        password: String,
        step: LoginStep,
    },
    /// A response the user typed to a 334 challenge.
    AuthResponse,
    Mail(MailParams),
    Data,
    EndOfData,
    Bdat {
        last: bool,
    },
    Rset,
    Quit,
    Other,
}

impl Expect {
    /// How long to wait: RFC 5321 §4.5.3.2's client timeouts.
    fn wait_seconds(&self) -> u64 {
        match self {
            // §4.5.3.2.4: DATA initiation, 2 minutes.
            Expect::Data => 120,
            // §4.5.3.2.6: DATA termination, 10 minutes (and a last BDAT,
            // RFC 3030 §4, which stands for it).
            Expect::EndOfData | Expect::Bdat { .. } => 600,
            // §4.5.3.2.1-3: the greeting, MAIL, RCPT: 5 minutes; the
            // others the same.
            _ => 300,
        }
    }
}

/// A message being typed after 354.
#[derive(Debug, Clone)]
struct MessageText {
    /// The wire form: dot-stuffed, CRLF line ends (RFC 5321 §4.5.2).
    wire: DotStuffer,
    /// The message itself, CRLF line ends, to count its octets as SIZE
    /// does (RFC 1870 §3).
    text: DotStuffer,
    text_octets: u64,
    wire_octets: u64,
    lines: u64,
    /// BODY=8BITMIME or SMTPUTF8 was declared on MAIL.
    eight_bit_declared: bool,
    eight_bit_warned: bool,
}

/// A BDAT chunk being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Chunk {
    size: u64,
    remaining: u64,
    last: bool,
}

/// What typed lines are.
#[derive(Debug, Clone)]
enum Phase {
    /// Commands.
    Commands,
    /// The message, after 354, until a line holding one `.`.
    Data(Box<MessageText>),
    /// The octets of a BDAT chunk.
    Chunk(Chunk),
    /// A base64 response to the server's 334 challenge.
    AuthResponse,
}

/// A command checked and ready, held while the user is asked.
#[derive(Debug, Clone)]
enum Prepared {
    /// A line to send as typed.
    Line {
        text: String,
        expect: Option<Expect>,
        chunk: Option<Chunk>,
    },
    /// AUTH PLAIN or LOGIN, to encode once the credentials are known.
    Auth {
        helper: Helper,
        user: Option<String>,
        password: Option<String>,
    },
}

/// One SMTP session typed by a person: what the server offered, what is
/// waiting for a reply, what the typed lines are.
#[derive(Debug)]
pub struct Shell {
    offered: Offered,
    tls: bool,
    authenticated: bool,
    /// The MAIL parameters of the open transaction.
    transaction: Option<MailParams>,
    phase: Phase,
    expect: Option<Expect>,
    /// A command waiting for the user's yes or no.
    held: Option<Prepared>,
    /// AUTH waiting for the credentials.
    auth: Option<Prepared>,
    /// End the session once the current exchange is over (the input
    /// ended in the middle of an AUTH exchange).
    quit_after: bool,
    /// QUIT sent, or the server said it is closing.
    closing: bool,
    /// QUIT sent: the end of the connection is the one asked for.
    quit_sent: bool,
    annotator: Annotator,
    number: usize,
    style: Style,
    /// Show every message line as sent (input from a pipe, where the
    /// typed lines are not on the screen), not only those changed.
    echo_text: bool,
}

impl Shell {
    /// A session about to connect, printed in `style`; `echo_text` shows
    /// each message line as it goes (for piped input).
    pub fn new(style: Style, echo_text: bool) -> Shell {
        Shell {
            offered: Offered::NotYet,
            tls: false,
            authenticated: false,
            transaction: None,
            phase: Phase::Commands,
            expect: Some(Expect::Greeting),
            held: None,
            auth: None,
            quit_after: false,
            closing: false,
            quit_sent: false,
            annotator: Annotator::new(),
            number: 0,
            style,
            echo_text,
        }
    }

    /// The connection is open: its marker line.
    pub fn connected(&mut self, peer: &str, implicit_tls: bool) -> Vec<String> {
        let mode = if implicit_tls { "implicit" } else { "none" };
        let mut out = vec![self.marker(&format!("-- connected to {peer} (TLS: {mode}) --"))];
        out.push(self.note("type SMTP commands; help lists them, Tab completes, quit ends"));
        out
    }

    /// The TLS handshake succeeded (implicit TLS, or after the 220 to
    /// STARTTLS): RFC 3207 §4.2, both sides forget what they knew.
    pub fn tls_started(&mut self, detail: &str) -> Vec<String> {
        let after_starttls = !matches!(self.expect, Some(Expect::Greeting));
        self.tls = true;
        self.authenticated = false;
        self.transaction = None;
        self.offered = Offered::ForgottenByTls;
        let mut out = vec![self.marker("-- TLS started --"), self.note(detail)];
        if after_starttls {
            out.push(self.note(
                "RFC 3207 §4.2: the server forgets everything it knew (and so does this \
                 tool): say EHLO again before anything else",
            ));
        }
        out
    }

    /// The server closed the connection (its end of the stream).
    pub fn closed_by_server(&mut self) -> Vec<String> {
        let mut out = vec![self.marker("-- connection closed by the server --")];
        if !self.quit_sent {
            out.push(self.warning(
                "the server closed the connection without being asked to (no QUIT was sent)",
            ));
        }
        self.closing = true;
        out
    }

    /// True while a reply is due: the driver reads from the server, not
    /// from the user.
    pub fn awaits_reply(&self) -> bool {
        self.expect.is_some() && !matches!(self.phase, Phase::Chunk(_))
    }

    /// RFC 5321 §4.5.3.2: how long to wait for the reply now due, in seconds.
    pub fn reply_wait_seconds(&self) -> u64 {
        self.expect.as_ref().map_or(300, Expect::wait_seconds)
    }

    /// True once QUIT was sent: a close is then the end asked for.
    pub fn quit_sent(&self) -> bool {
        self.quit_sent
    }

    /// True when the session should end now that the exchange is over.
    pub fn wants_quit(&self) -> bool {
        self.quit_after && self.expect.is_none() && matches!(self.phase, Phase::Commands)
    }

    /// The server's extensions for completion (`None` when unknown).
    pub fn capabilities(&self) -> Option<Capabilities> {
        self.offered.capabilities()
    }

    /// The prompt for the next line, which says what the line will be.
    pub fn prompt(&self) -> String {
        match &self.phase {
            Phase::Commands => "smtp> ".to_string(),
            Phase::Data(_) => "data> ".to_string(),
            Phase::Chunk(chunk) => format!("bdat ({} octets left)> ", chunk.remaining),
            Phase::AuthResponse => "base64> ".to_string(),
        }
    }

    /// True when the next line is a secret (a typed AUTH response).
    pub fn secret_input(&self) -> bool {
        matches!(self.phase, Phase::AuthResponse)
    }

    /// One typed line, without its line end.
    pub fn input(&mut self, line: &str) -> Step {
        match &self.phase {
            Phase::Commands => {
                let step = self.command_line(line);
                match step {
                    // From a pipe the typed line is not on the screen: say
                    // which one was not sent (without its password).
                    Step::Print(mut out) if self.echo_text && !out.is_empty() => {
                        out.insert(0, self.typed(line));
                        Step::Print(out)
                    }
                    Step::Confirm(mut out) if self.echo_text => {
                        out.insert(0, self.typed(line));
                        Step::Confirm(out)
                    }
                    step => step,
                }
            }
            Phase::Data(_) => self.body_line(line),
            Phase::Chunk(_) => self.chunk_line(line),
            Phase::AuthResponse => self.auth_response(line),
        }
    }

    /// The input ended (Ctrl-D, or the end of a pipe).
    pub fn end_of_input(&mut self) -> Step {
        match &self.phase {
            Phase::Commands => self.quit(),
            Phase::Data(_) | Phase::Chunk(_) => {
                let out = vec![self.warning(
                    "the input ended inside the message: it is abandoned, not ended for you. \
                     Only the end-of-data line makes the server take a message \
                     (RFC 5321 §4.1.1.4), so closing the connection now leaves nothing \
                     delivered",
                )];
                Step::Abandon(out)
            }
            Phase::AuthResponse => {
                // RFC 4954 §4: "*" cancels the exchange; the server answers 501.
                self.quit_after = true;
                self.phase = Phase::Commands;
                self.expect = Some(Expect::AuthResponse);
                let out = vec![
                    self.client("*"),
                    self.note("RFC 4954 §4: a line holding \"*\" cancels the AUTH exchange"),
                ];
                Step::Send {
                    out,
                    bytes: b"*\r\n".to_vec(),
                }
            }
        }
    }

    /// The answer to [`Step::Confirm`]: send the held command, or not.
    pub fn confirm(&mut self, yes: bool) -> Step {
        let Some(held) = self.held.take() else {
            return Step::Print(Vec::new());
        };
        if yes {
            return self.commit(held);
        }
        let typed = match &held {
            Prepared::Line { text, .. } => redacted(&visible(text)),
            Prepared::Auth { helper, .. } => format!("AUTH {}", helper.name()),
        };
        Step::Print(vec![self.note(&format!(
            "not sent (type !{typed} to send it without questions)"
        ))])
    }

    /// The credentials asked for by [`Step::Credentials`].
    pub fn credentials(&mut self, user: String, password: String) -> Step {
        match self.auth.take() {
            Some(Prepared::Auth { helper, .. }) => self.commit(Prepared::Auth {
                helper,
                user: Some(user),
                password: Some(password),
            }),
            _ => Step::Print(Vec::new()),
        }
    }

    /// A complete reply from the server: `raw` its lines as received
    /// (without line ends), `reply` the same parsed.
    pub fn reply(&mut self, raw: &[String], reply: &Reply) -> Answer {
        let mut out = self.server_lines(raw);
        let code = reply.code;
        let expect = self.expect.take();
        let mut next = Next::Input;
        match (expect, code) {
            (None, _) => out.push(self.note(
                "no command was waiting for this reply: the server spoke on its own \
                 (RFC 5321 §4.2: replies answer commands, except a 421 before closing)",
            )),
            (Some(Expect::Greeting), 220) => {}
            (Some(Expect::Greeting), 554) => out.push(self.note(
                "RFC 5321 §3.1: a server that will not talk greets with 554 and then \
                 answers every command but QUIT with 503",
            )),
            (Some(Expect::Ehlo), 250) => {
                let caps = Capabilities::from_ehlo_reply(reply);
                let keywords: Vec<&str> = caps.lines().collect();
                out.push(self.note(&format!(
                    "remembered: {} (the tool warns before an extension not in this list; \
                     Tab completes their parameters)",
                    if keywords.is_empty() {
                        "no extensions".to_string()
                    } else {
                        keywords.join(", ")
                    }
                )));
                self.offered = Offered::Ehlo(caps);
                self.transaction = None;
            }
            (Some(Expect::Ehlo), 500..=599) => out.push(
                self.note("RFC 5321 §3.2: a server that does not know EHLO is greeted with HELO"),
            ),
            (Some(Expect::Helo), 250) => {
                self.offered = Offered::Helo;
                self.transaction = None;
                out.push(self.note(
                    "HELO: no extensions in this session (RFC 5321 §3.2); EHLO would list them",
                ));
            }
            (Some(Expect::StartTls), 220) => next = Next::StartTls,
            (Some(Expect::Mail(params)), 250) => self.transaction = Some(params),
            (Some(Expect::Rset), 250) => self.transaction = None,
            (Some(Expect::EndOfData), _) => self.transaction = None,
            (Some(Expect::Bdat { last }), _) => {
                if last || code >= 400 {
                    self.transaction = None;
                }
            }
            (
                Some(Expect::Login {
                    user,
                    password,
                    step,
                }),
                334,
            ) => {
                out.extend(self.challenge(reply));
                return self.login_step(out, user, password, step);
            }
            (Some(Expect::Auth | Expect::Login { .. } | Expect::AuthResponse), 235) => {
                self.authenticated = true;
            }
            (Some(Expect::Auth | Expect::AuthResponse), 334) => {
                out.extend(self.challenge(reply));
                out.push(self.note(
                    "type the base64 response to this challenge (RFC 4954 §4), or * to cancel",
                ));
                self.phase = Phase::AuthResponse;
                return Answer { out, next };
            }
            (Some(Expect::Quit), _) => next = Next::Closed { clean: true },
            (Some(_), 354) => {
                out.push(self.note(
                    "now type the message: header fields, an empty line, the body \
                     (RFC 5322 §2). A line holding only \".\" ends it; lines that start \
                     with \".\" get a second one for you (dot-stuffing, RFC 5321 §4.5.2), \
                     and every line ends in CRLF",
                ));
                let declared = self
                    .transaction
                    .as_ref()
                    .is_some_and(|mail| mail.body == Some(Body::EightBitMime) || mail.smtputf8);
                self.phase = Phase::Data(Box::new(MessageText {
                    wire: DotStuffer::new(),
                    text: DotStuffer::crlf_only(),
                    text_octets: 0,
                    wire_octets: 0,
                    lines: 0,
                    eight_bit_declared: declared,
                    eight_bit_warned: false,
                }));
            }
            (Some(_), _) => {}
        }
        if code == 421 {
            self.closing = true;
            out.push(self.note(
                "RFC 5321 §3.8: 421, the server is closing the connection; nothing more \
                 can be sent",
            ));
            next = Next::Closed { clean: false };
        }
        if code == 221 {
            next = Next::Closed { clean: true };
        }
        Answer { out, next }
    }

    // --- typed commands ---

    fn command_line(&mut self, line: &str) -> Step {
        let word = line.trim();
        if word.is_empty() {
            return Step::Print(Vec::new());
        }
        if word.eq_ignore_ascii_case("help") || word == "?" {
            return Step::Print(help::text(&self.offered));
        }
        if word.eq_ignore_ascii_case("quit") || word.eq_ignore_ascii_case("exit") {
            return self.quit();
        }
        let (forced, text) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        if let Some(step) = self.auth_helper(forced, text) {
            return step;
        }
        let command = match Command::parse(text.as_bytes()) {
            Ok(command) => command,
            Err(_) if forced => {
                return self.commit(Prepared::Line {
                    text: text.to_string(),
                    expect: Some(Expect::Other),
                    chunk: None,
                });
            }
            Err(error) => {
                let reply = error.reply();
                return Step::Print(vec![
                    self.warning(&format!("not sent: {error}")),
                    self.note(&format!(
                        "a server would answer \"{}\" (RFC 5321 §4.2.2); type !{} to \
                         send it as typed",
                        reply.to_string().trim_end(),
                        redacted(&visible(text))
                    )),
                ]);
            }
        };
        if let Command::Auth { .. } = command
            && !self.tls
            && !forced
        {
            return Step::Print(self.plain_auth_refused(&redacted(&visible(text))));
        }
        let prepared = self.prepare(&command, text);
        if forced {
            return self.commit(prepared);
        }
        self.commit_or_confirm(&command, prepared)
    }

    /// Sends `prepared` at once, or, when `command` draws warnings (a
    /// command or parameter the server did not offer, see `checks`), holds
    /// it and asks first.
    fn commit_or_confirm(&mut self, command: &Command, prepared: Prepared) -> Step {
        let context = Context {
            tls: self.tls,
            authenticated: self.authenticated,
            mail: self.transaction.as_ref(),
        };
        let said = warnings(command, &self.offered, context);
        if said.is_empty() {
            return self.commit(prepared);
        }
        self.held = Some(prepared);
        Step::Confirm(said.iter().map(|w| self.warning(w)).collect())
    }

    /// What a parsed command waits for.
    fn prepare(&self, command: &Command, text: &str) -> Prepared {
        let line = |expect| Prepared::Line {
            text: text.to_string(),
            expect: Some(expect),
            chunk: None,
        };
        match command {
            Command::Ehlo(_) | Command::Lhlo(_) => line(Expect::Ehlo),
            Command::Helo(_) => line(Expect::Helo),
            Command::StartTls => line(Expect::StartTls),
            Command::Auth { .. } => line(Expect::Auth),
            Command::Mail { params, .. } => line(Expect::Mail(params.clone())),
            Command::Data => line(Expect::Data),
            Command::Rset => line(Expect::Rset),
            Command::Quit => line(Expect::Quit),
            // RFC 3030 §2: the chunk follows the command at once; the
            // reply comes after its last octet.
            Command::Bdat { size: 0, last } => line(Expect::Bdat { last: *last }),
            Command::Bdat { size, last } => Prepared::Line {
                text: text.to_string(),
                expect: None,
                chunk: Some(Chunk {
                    size: *size,
                    remaining: *size,
                    last: *last,
                }),
            },
            _ => line(Expect::Other),
        }
    }

    fn quit(&mut self) -> Step {
        if self.closing {
            return Step::Print(Vec::new());
        }
        self.commit(Prepared::Line {
            text: "QUIT".to_string(),
            expect: Some(Expect::Quit),
            chunk: None,
        })
    }

    /// Sends a prepared command.
    fn commit(&mut self, prepared: Prepared) -> Step {
        match prepared {
            Prepared::Line {
                text,
                expect,
                chunk,
            } => {
                let mut out = vec![self.client(&redacted(&visible(&text)))];
                if matches!(expect, Some(Expect::Quit)) {
                    self.closing = true;
                    self.quit_sent = true;
                }
                if let Some(chunk) = chunk {
                    out.push(self.note(&format!(
                        "type the chunk: exactly {} octets, each line counting with its CRLF \
                         (2 octets); no dot-stuffing and no end line: the size says where it \
                         ends (RFC 3030 §2)",
                        chunk.size
                    )));
                    self.phase = Phase::Chunk(chunk);
                }
                self.expect = expect;
                let mut bytes = text.into_bytes();
                bytes.extend_from_slice(b"\r\n");
                Step::Send { out, bytes }
            }
            Prepared::Auth {
                helper,
                user: Some(user),
                password: Some(password),
            } => self.send_auth(helper, user, password),
            Prepared::Auth { helper, user, .. } => {
                let asked = user.clone();
                self.auth = Some(Prepared::Auth {
                    helper,
                    user,
                    password: None,
                });
                Step::Credentials { user: asked }
            }
        }
    }

    // --- output ---

    fn client(&mut self, text: &str) -> String {
        self.shown(TranscriptLine {
            dir: Some(Direction::Client),
            text: text.to_string(),
        })
    }

    fn marker(&mut self, text: &str) -> String {
        self.shown(TranscriptLine {
            dir: None,
            text: text.to_string(),
        })
    }

    fn server_lines(&mut self, raw: &[String]) -> Vec<String> {
        raw.iter()
            .map(|line| {
                self.shown(TranscriptLine {
                    dir: Some(Direction::Server),
                    text: visible(line),
                })
            })
            .collect()
    }

    /// A numbered line with its note, as `--explain` prints it.
    fn shown(&mut self, line: TranscriptLine) -> String {
        self.number += 1;
        let note = self.annotator.note(&line);
        explained_line(self.number, &line, note.as_ref(), self.style)
    }

    /// A typed line that was not sent, as typed (an AUTH password left out).
    fn typed(&self, line: &str) -> String {
        let shown = history_entry(line).unwrap_or_default();
        format!("{INDENT}> {}", visible(&shown))
    }

    /// The shell's own remark, under the line it is about.
    fn note(&self, text: &str) -> String {
        let text = format!("{INDENT}# {text}");
        match self.style {
            Style::Plain => text,
            Style::Ansi => format!("\x1b[2m{text}\x1b[0m"),
        }
    }

    /// A warning: something the server will likely refuse or mishandle.
    fn warning(&self, text: &str) -> String {
        let text = format!("{INDENT}! {text}");
        match self.style {
            Style::Plain => text,
            Style::Ansi => format!("\x1b[33m{text}\x1b[0m"),
        }
    }
}

/// True when `word` is base64 of a PLAIN message (two NULs, RFC 4616
/// §2): the user wrote the initial response already.
fn is_plain_message(word: &str) -> bool {
    sasl::decode(word.as_bytes()).is_ok_and(|bytes| bytes.iter().filter(|&&b| b == 0).count() == 2)
}

/// A typed line as shown: control characters escaped, so nothing typed
/// can move the cursor or colour the terminal.
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A command line as shown: the initial response of a typed AUTH is a
/// secret (RFC 4954 §4; the transcript redacts it the same way).
fn redacted(text: &str) -> String {
    let words: Vec<&str> = text.splitn(3, ' ').collect();
    match words.as_slice() {
        [verb, mechanism, _] if verb.eq_ignore_ascii_case("AUTH") => {
            format!("{verb} {mechanism} <redacted>")
        }
        _ => text.to_string(),
    }
}

/// What goes into the line editor's history for a typed line: an AUTH
/// line loses its password (the history is kept in memory only, but it is
/// shown again with the arrow keys).
pub fn history_entry(line: &str) -> Option<String> {
    if line.trim().is_empty() {
        return None;
    }
    let bare = line.strip_prefix('!').unwrap_or(line);
    let mut words = bare.splitn(4, ' ');
    let is_auth = words.next().is_some_and(|w| w.eq_ignore_ascii_case("AUTH"));
    if is_auth {
        let kept: Vec<&str> = bare.splitn(4, ' ').take(3).collect();
        let prefix = if bare.len() == line.len() { "" } else { "!" };
        // The user name typed for the PLAIN and LOGIN helpers is kept; any
        // other third word is an initial response, a secret (`AUTH PLAIN
        // <base64>` included).
        let helper = kept
            .get(1)
            .is_some_and(|m| m.eq_ignore_ascii_case("PLAIN") || m.eq_ignore_ascii_case("LOGIN"));
        let kept = if kept.len() == 3 && (!helper || is_plain_message(kept[2])) {
            &kept[..2]
        } else {
            &kept[..]
        };
        return Some(format!("{prefix}{}", kept.join(" ")));
    }
    Some(line.to_string())
}

#[cfg(test)]
mod tests;

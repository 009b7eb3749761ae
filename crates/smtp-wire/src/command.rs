//! SMTP commands: parse a command line into a [`Command`], serialize one back.
//!
//! Covers every RFC 821 §4.1 command (HELO MAIL RCPT DATA RSET SEND SOML SAML
//! VRFY EXPN HELP NOOP QUIT TURN) and EHLO (RFC 5321 §4.1.1.1), STARTTLS
//! (RFC 3207), AUTH (RFC 4954) and BDAT (RFC 3030).
//!
//! The parser follows the RFC 5321 §4.1.1 grammar strictly: verbs and the
//! `FROM:` / `TO:` keywords are case-insensitive (§2.4), arguments are
//! separated by exactly one SP, commands without arguments refuse them, and
//! an error says what was expected. One documented tolerance: a single space
//! after `FROM:` / `TO:` is accepted (`MAIL FROM: <a@b>`), because many
//! clients send it even though RFC 5321 §3.3 says no space is permitted there.
//! Trailing spaces are *not* tolerated.
//!
//! ```
//! use smtp_wire::command::{Command, CommandError};
//! let cmd = Command::parse(b"mail from:<a@example.com> SIZE=1000").unwrap();
//! assert_eq!(cmd.verb(), "MAIL");
//! assert_eq!(cmd.to_string(), "MAIL FROM:<a@example.com> SIZE=1000");
//!
//! let err = Command::parse(b"MAIL <a@example.com>").unwrap_err();
//! assert_eq!(err.to_string(), r#"expected "MAIL FROM:<reverse-path>""#);
//! assert_eq!(err.reply().code, 501);
//! ```

use std::fmt;

use crate::param::{MailParams, ParamError, RcptParams};
use crate::path::{Domain, ForwardPath, PathError, ReversePath};
use crate::reply::{EnhancedCode, Reply};

mod parse;

use parse::{EXPECT_MAIL, EXPECT_RCPT, EXPECT_SAML, EXPECT_SEND, EXPECT_SOML};

/// One SMTP command, as the client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `HELO domain` (RFC 5321 §4.1.1.1; an address literal is accepted too).
    Helo(Domain),
    /// `EHLO domain-or-address-literal` (RFC 5321 §4.1.1.1).
    Ehlo(Domain),
    /// `LHLO domain` (RFC 2033 §4.1): LMTP's EHLO.
    Lhlo(Domain),
    /// `MAIL FROM:<reverse-path> [params]` (RFC 5321 §4.1.1.2).
    Mail {
        /// The sender, or `<>`.
        from: ReversePath,
        /// ESMTP parameters (SIZE, BODY, SMTPUTF8, AUTH, RET, ENVID, ...).
        params: MailParams,
    },
    /// `RCPT TO:<forward-path> [params]` (RFC 5321 §4.1.1.3).
    Rcpt {
        /// The recipient, or `<Postmaster>`.
        to: ForwardPath,
        /// ESMTP parameters (NOTIFY, ORCPT, ...).
        params: RcptParams,
    },
    /// `DATA` (RFC 5321 §4.1.1.4).
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2).
    Bdat {
        /// The chunk size in octets.
        size: u64,
        /// True for the last chunk.
        last: bool,
    },
    /// `RSET` (RFC 5321 §4.1.1.5).
    Rset,
    /// `QUIT` (RFC 5321 §4.1.1.10).
    Quit,
    /// `STARTTLS` (RFC 3207 §4).
    StartTls,
    /// `TURN` (RFC 821 §4.1.1; not to be implemented per RFC 5321 §4.1.1 /
    /// RFC 2821 §4.1.1, a receiver answers 502).
    Turn,
    /// `SEND FROM:<reverse-path>` (RFC 821; a receiver answers 502).
    Send(ReversePath),
    /// `SOML FROM:<reverse-path>` (RFC 821; a receiver answers 502).
    Soml(ReversePath),
    /// `SAML FROM:<reverse-path>` (RFC 821; a receiver answers 502).
    Saml(ReversePath),
    /// `VRFY string` (RFC 5321 §4.1.1.6), the argument verbatim.
    Vrfy(String),
    /// `EXPN string` (RFC 5321 §4.1.1.7), the argument verbatim.
    Expn(String),
    /// `HELP [string]` (RFC 5321 §4.1.1.8).
    Help(Option<String>),
    /// `NOOP [string]` (RFC 5321 §4.1.1.9).
    Noop(Option<String>),
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    Auth {
        /// The SASL mechanism name, upper-cased.
        mechanism: String,
        /// The base64 initial response as sent, or `"="` for an empty one.
        initial_response: Option<String>,
    },
    /// `XCLIENT NAME=... ADDR=... ...` (Postfix's XCLIENT extension): a
    /// trusted proxy names the client it speaks for. Attribute names
    /// upper-cased, values xtext-decoded, in the order given.
    Xclient(Vec<(String, String)>),
}

/// Why a command line could not be parsed.
///
/// [`CommandError::reply`] gives the reply a server sends for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The line was empty (or only spaces).
    #[error("empty command line")]
    Empty,
    /// The verb is not an SMTP command. Holds the verb, cut to 16 characters
    /// with anything but printable ASCII replaced by `?`, so it is safe to
    /// echo in a reply.
    #[error("unknown command \"{0}\"")]
    Unknown(String),
    /// The arguments did not match the command's grammar.
    #[error("expected \"{expected}\"")]
    Syntax {
        /// The command's syntax, e.g. `MAIL FROM:<reverse-path>`.
        expected: &'static str,
    },
    /// The path or domain argument is malformed or too long.
    #[error("expected \"{expected}\": {source}")]
    Path {
        /// The command's syntax, e.g. `RCPT TO:<forward-path>`.
        expected: &'static str,
        /// What is wrong with the path.
        source: PathError,
    },
    /// A MAIL / RCPT parameter is malformed, duplicated or has a bad value.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The line is not valid UTF-8.
    #[error("command line is not valid UTF-8")]
    NotUtf8,
}

impl CommandError {
    /// The standard reply for this error, with its RFC 3463 enhanced code:
    ///
    /// | error | reply |
    /// |---|---|
    /// | `Empty`, `NotUtf8` | 500 5.5.2 (X.5.2 syntax error) |
    /// | `Unknown` | 500 5.5.1 (X.5.1 invalid command) |
    /// | `Syntax`, `Param` | 501 5.5.4 (X.5.4 invalid command arguments) |
    /// | `Path` in MAIL/SEND/SOML/SAML | 501 5.1.7 (X.1.7 bad sender's mailbox address syntax) |
    /// | `Path` in RCPT | 501 5.1.3 (X.1.3 bad destination mailbox address syntax) |
    /// | `Path` in HELO/EHLO | 501 5.5.4 |
    ///
    /// RFC 5321 §4.2.2: 500 is "command unrecognized", 501 "syntax error in
    /// parameters or arguments" (including "path too long", §4.5.3.1.10).
    ///
    /// ```
    /// use smtp_wire::command::Command;
    /// let reply = Command::parse(b"FOO").unwrap_err().reply();
    /// assert_eq!(reply.to_string(), "500 5.5.1 Command unrecognized: \"FOO\"");
    /// ```
    pub fn reply(&self) -> Reply {
        let (code, enhanced, text) = match self {
            CommandError::Empty => (
                500,
                EnhancedCode::new(5, 5, 2),
                "Syntax error: empty command line".to_owned(),
            ),
            CommandError::NotUtf8 => (
                500,
                EnhancedCode::new(5, 5, 2),
                format!("Syntax error: {self}"),
            ),
            CommandError::Unknown(verb) => (
                500,
                EnhancedCode::new(5, 5, 1),
                format!("Command unrecognized: \"{verb}\""),
            ),
            CommandError::Syntax { .. } => (
                501,
                EnhancedCode::new(5, 5, 4),
                format!("Syntax error: {self}"),
            ),
            CommandError::Param(_) => (
                501,
                EnhancedCode::new(5, 5, 4),
                format!("Syntax error in parameters: {self}"),
            ),
            CommandError::Path { expected, .. } => match *expected {
                EXPECT_MAIL | EXPECT_SEND | EXPECT_SOML | EXPECT_SAML => (
                    501,
                    EnhancedCode::new(5, 1, 7),
                    format!("Bad sender address syntax: {self}"),
                ),
                EXPECT_RCPT => (
                    501,
                    EnhancedCode::new(5, 1, 3),
                    format!("Bad recipient address syntax: {self}"),
                ),
                _ => (
                    501,
                    EnhancedCode::new(5, 5, 4),
                    format!("Syntax error: {self}"),
                ),
            },
        };
        Reply::enhanced(code, enhanced, &text)
    }
}

impl Command {
    /// Parses one command line, given WITHOUT its CRLF. Never panics.
    ///
    /// ```
    /// use smtp_wire::command::Command;
    /// use smtp_wire::path::ForwardPath;
    /// match Command::parse(b"RCPT TO:<Postmaster>").unwrap() {
    ///     Command::Rcpt { to, .. } => assert_eq!(to, ForwardPath::Postmaster),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert!(Command::parse(b"DATA x").is_err());
    /// ```
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        parse::parse(line)
    }

    /// The canonical upper-case verb: `"MAIL"`, `"EHLO"`, `"STARTTLS"`, ...
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Helo(_) => "HELO",
            Command::Ehlo(_) => "EHLO",
            Command::Lhlo(_) => "LHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Turn => "TURN",
            Command::Send(_) => "SEND",
            Command::Soml(_) => "SOML",
            Command::Saml(_) => "SAML",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::Noop(_) => "NOOP",
            Command::Auth { .. } => "AUTH",
            Command::Xclient(_) => "XCLIENT",
        }
    }

    /// Appends the command line WITH its CRLF to `out`.
    ///
    /// ```
    /// use smtp_wire::command::Command;
    /// let mut out = Vec::new();
    /// Command::Bdat { size: 42, last: true }.write_to(&mut out);
    /// assert_eq!(out, b"BDAT 42 LAST\r\n");
    /// ```
    pub fn write_to(&self, out: &mut Vec<u8>) {
        use fmt::Write as _;
        // Writing into a Vec cannot fail; a Display impl here never errors.
        let _ = write!(VecWriter(out), "{self}");
        out.extend_from_slice(b"\r\n");
    }
}

/// `fmt::Write` into a byte vector, so serialization needs no temporary String.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl fmt::Display for Command {
    /// The line without CRLF, with the canonical upper-case verb, e.g.
    /// `MAIL FROM:<a@b> SIZE=10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = self.verb();
        match self {
            Command::Helo(domain) | Command::Ehlo(domain) | Command::Lhlo(domain) => {
                write!(f, "{verb} {domain}")
            }
            Command::Mail { from, params } => {
                write!(f, "MAIL FROM:{from}")?;
                if !params.is_empty() {
                    write!(f, " {params}")?;
                }
                Ok(())
            }
            Command::Rcpt { to, params } => {
                write!(f, "RCPT TO:{to}")?;
                if !params.is_empty() {
                    write!(f, " {params}")?;
                }
                Ok(())
            }
            Command::Send(from) | Command::Soml(from) | Command::Saml(from) => {
                write!(f, "{verb} FROM:{from}")
            }
            Command::Data | Command::Rset | Command::Quit | Command::StartTls | Command::Turn => {
                f.write_str(verb)
            }
            Command::Bdat { size, last } => {
                write!(f, "BDAT {size}")?;
                if *last {
                    f.write_str(" LAST")?;
                }
                Ok(())
            }
            Command::Vrfy(arg) | Command::Expn(arg) => write!(f, "{verb} {arg}"),
            Command::Help(arg) | Command::Noop(arg) => match arg {
                Some(arg) => write!(f, "{verb} {arg}"),
                None => f.write_str(verb),
            },
            Command::Xclient(attributes) => {
                f.write_str(verb)?;
                for (name, value) in attributes {
                    write!(f, " {name}={}", crate::param::xtext_encode(value))?;
                }
                Ok(())
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                write!(f, "AUTH {mechanism}")?;
                if let Some(response) = initial_response {
                    write!(f, " {response}")?;
                }
                Ok(())
            }
        }
    }
}

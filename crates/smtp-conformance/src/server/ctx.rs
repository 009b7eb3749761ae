//! What a server case gets to work with: the target, what the server
//! advertised, helpers that open sessions and turn network trouble into
//! verdicts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use smtp_wire::{Capabilities, Domain, Reply, Transcript, TranscriptLimits};

use super::conn::{Conn, ConnError, Endpoint, Log, with_log};
use super::judge::Judge;
use super::want::Want;
use super::{Protocol, ServerOptions, TlsMode};
use crate::model::Verdict;

/// A case step result: `Err` carries the verdict that ends the case early.
pub(crate) type Flow<T> = Result<T, Verdict>;

/// Everything resolved once per run.
pub(crate) struct Target {
    pub(crate) endpoint: Endpoint,
    pub(crate) protocol: Protocol,
    pub(crate) options: ServerOptions,
    pub(crate) tls: Arc<ClientConfig>,
    pub(crate) server_name: ServerName<'static>,
    /// The relay judge, with `--relay-to` (SMTP targets only).
    pub(crate) judge: Option<Judge>,
}

impl Target {
    /// The command that opens a session: EHLO, or LHLO for LMTP
    /// (RFC 2033 §4.1: "LHLO" in place of HELO and EHLO, same semantics).
    pub(crate) fn hello_verb(&self) -> &'static str {
        match self.protocol {
            Protocol::Smtp => "EHLO",
            Protocol::Lmtp => "LHLO",
        }
    }
}

/// What the server said when the suite first connected.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    /// The EHLO reply in the clear (None with implicit TLS).
    pub(crate) plain_caps: Option<Capabilities>,
    /// The EHLO reply in the session mode of the run (after STARTTLS with
    /// `--tls starttls`).
    pub(crate) caps: Capabilities,
}

/// The context of one case.
pub(crate) struct Ctx {
    pub(crate) target: Arc<Target>,
    pub(crate) probe: Arc<Probe>,
    pub(crate) log: Log,
    connections: usize,
    /// Facts for the report's notes (deduplicated across cases).
    pub(crate) report_notes: Vec<String>,
}

impl Ctx {
    pub(crate) fn new(target: Arc<Target>, probe: Arc<Probe>) -> Ctx {
        let limits = TranscriptLimits {
            body_head_lines: 6,
            body_tail_lines: 4,
            ..TranscriptLimits::default()
        };
        Ctx {
            target,
            probe,
            log: Arc::new(Mutex::new(Transcript::with_limits(limits))),
            connections: 0,
            report_notes: Vec::new(),
        }
    }

    pub(crate) fn options(&self) -> &ServerOptions {
        &self.target.options
    }

    /// Replaces `{from}`, `{rcpt}` and `{helo}` in a template, and
    /// `{ehlo}` / `{ehlo-lc}` by the session-opening verb (EHLO, or LHLO on
    /// LMTP), upper or lower case.
    pub(crate) fn expand(&self, template: &str) -> String {
        let o = self.options();
        let verb = self.target.hello_verb();
        template
            .replace("{from}", &o.from)
            .replace("{rcpt}", &o.rcpt)
            .replace("{helo}", &o.helo)
            .replace("{ehlo}", verb)
            .replace("{ehlo-lc}", &verb.to_ascii_lowercase())
    }

    /// Adds a note to the transcript.
    pub(crate) fn note(&self, text: &str) {
        with_log(&self.log, |t| t.note(text));
    }

    /// Adds a note to the report (shown above the results, once per run
    /// however many cases add it): what a server does that is worth
    /// knowing but is not a failure.
    pub(crate) fn report_note(&mut self, text: &str) {
        self.report_notes.push(text.to_string());
    }

    /// Opens a connection (with the implicit TLS handshake when configured)
    /// without reading anything.
    pub(crate) async fn open(&mut self) -> Flow<Conn> {
        self.connections += 1;
        if self.connections > 1 {
            self.note(&format!("connection {}", self.connections));
        }
        let t = &self.target;
        let implicit = match t.options.tls {
            TlsMode::Implicit => Some((&t.tls, &t.server_name)),
            _ => None,
        };
        Conn::open(&t.endpoint, implicit, t.options.timeout, self.log.clone())
            .await
            .map_err(|e| Verdict::Inconclusive(format!("could not connect: {e}")))
    }

    /// Opens a connection and reads the greeting, which must be 220.
    pub(crate) async fn connect(&mut self) -> Flow<Conn> {
        let mut conn = self.open().await?;
        let greeting = setup(conn.reply().await, "the greeting")?;
        if greeting.code != 220 {
            return Err(Verdict::Inconclusive(format!(
                "the server greeted with {greeting}"
            )));
        }
        Ok(conn)
    }

    /// Sends EHLO (LHLO on LMTP) and returns the capabilities (setup:
    /// anything but 250 is inconclusive).
    pub(crate) async fn ehlo(&self, conn: &mut Conn) -> Flow<Capabilities> {
        let line = format!("{} {}", self.target.hello_verb(), self.options().helo);
        let reply = self.expect(conn, &line, &Want::Codes(&[250])).await?;
        Ok(Capabilities::from(reply))
    }

    /// Greeting + EHLO, and STARTTLS + EHLO again with `--tls starttls`:
    /// the usual start of a case.
    pub(crate) async fn session(&mut self) -> Flow<Conn> {
        let mut conn = self.connect().await?;
        self.ehlo(&mut conn).await?;
        if self.options().tls == TlsMode::StartTls {
            self.starttls(&mut conn).await?;
            self.ehlo(&mut conn).await?;
        }
        Ok(conn)
    }

    /// A session in which no EHLO/HELO is in effect: just the greeting, or
    /// with `--tls starttls` greeting + EHLO + STARTTLS (RFC 3207 §4.2: the
    /// handshake resets the session to its initial state).
    pub(crate) async fn fresh(&mut self) -> Flow<Conn> {
        let mut conn = self.connect().await?;
        if self.options().tls == TlsMode::StartTls {
            self.ehlo(&mut conn).await?;
            self.starttls(&mut conn).await?;
        }
        Ok(conn)
    }

    /// STARTTLS and the handshake (setup).
    pub(crate) async fn starttls(&self, conn: &mut Conn) -> Flow<()> {
        self.expect(conn, "STARTTLS", &Want::Codes(&[220])).await?;
        self.handshake(conn).await
    }

    /// The TLS handshake alone (setup: a failure is inconclusive).
    pub(crate) async fn handshake(&self, conn: &mut Conn) -> Flow<()> {
        conn.handshake(&self.target.tls, &self.target.server_name)
            .await
            .map_err(|e| Verdict::Inconclusive(format!("{e} (use --ca FILE or --insecure)")))
    }

    /// Sends a command line (template expanded) and requires a reply
    /// matching `want`; anything else makes the case inconclusive.
    pub(crate) async fn expect(&self, conn: &mut Conn, line: &str, want: &Want) -> Flow<Reply> {
        let line = self.expand(line);
        let reply = setup(conn.command(&line).await, &line)?;
        if want.accepts(&reply) {
            Ok(reply)
        } else {
            Err(Verdict::Inconclusive(format!(
                "set-up command {} got {reply} ({want})",
                short(&line)
            )))
        }
    }

    /// Sends a command line (template expanded) and returns its reply; no
    /// reply at all is a violation of RFC 5321 §4.2 ("every command MUST
    /// generate exactly one reply").
    pub(crate) async fn command(&self, conn: &mut Conn, line: &str) -> Flow<Reply> {
        let line = self.expand(line);
        checked(conn.command(&line).await, &line)
    }

    /// Sends a command and checks its reply against `want`.
    pub(crate) async fn check(&self, conn: &mut Conn, line: &str, want: &Want) -> Flow<Reply> {
        let reply = self.command(conn, line).await?;
        if want.accepts(&reply) {
            Ok(reply)
        } else {
            Err(Verdict::Violation(format!(
                "{} got {reply}, {want}",
                short(&self.expand(line))
            )))
        }
    }

    /// The MAIL and RCPT of a transaction to the accepted recipient (setup).
    pub(crate) async fn envelope(&self, conn: &mut Conn) -> Flow<()> {
        self.expect(conn, "MAIL FROM:<{from}>", &Want::Codes(&[250]))
            .await?;
        self.expect(conn, "RCPT TO:<{rcpt}>", &Want::Codes(&[250, 251]))
            .await?;
        Ok(())
    }

    /// How long to wait for a reply that must *not* come.
    pub(crate) fn grace(&self) -> Duration {
        self.options().grace
    }

    /// Capabilities of the session mode.
    pub(crate) fn caps(&self) -> &Capabilities {
        &self.probe.caps
    }

    /// The case's transcript as the report keeps it
    /// ([`crate::model::report_lines`]).
    pub(crate) fn transcript(&self) -> Vec<smtp_wire::TranscriptLine> {
        let mut lines = Vec::new();
        with_log(&self.log, |t| lines = t.lines());
        crate::model::report_lines(lines)
    }

    /// The rendered tail of the transcript, as evidence.
    pub(crate) fn evidence(&self, max_lines: usize) -> Vec<String> {
        let mut rendered = Vec::new();
        with_log(&self.log, |t| {
            rendered = t.render().lines().map(str::to_string).collect();
        });
        let skip = rendered.len().saturating_sub(max_lines);
        let mut out = Vec::new();
        if skip > 0 {
            out.push(format!("-- {skip} earlier lines --"));
        }
        out.extend(rendered.into_iter().skip(skip));
        out
    }
}

/// Turns a set-up exchange's error into an inconclusive verdict.
pub(crate) fn setup<T>(result: Result<T, ConnError>, what: &str) -> Flow<T> {
    result.map_err(|e| Verdict::Inconclusive(format!("{}: {e}", short(what))))
}

/// Turns a checked exchange's error into a violation: the server did not
/// answer as every command requires.
pub(crate) fn checked<T>(result: Result<T, ConnError>, what: &str) -> Flow<T> {
    result.map_err(|e| match e {
        ConnError::Io(_) | ConnError::Tls(_) => {
            Verdict::Inconclusive(format!("{}: {e}", short(what)))
        }
        other => Verdict::Violation(format!("{}: {other}", short(what))),
    })
}

/// A command shown in a verdict: cut to 60 characters, and an AUTH
/// initial response (credentials) replaced by `<redacted>`.
pub(crate) fn short(line: &str) -> String {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut words = line.splitn(3, ' ');
    if let (Some(verb), Some(mech), Some(_)) = (words.next(), words.next(), words.next())
        && verb.eq_ignore_ascii_case("AUTH")
    {
        return format!("{verb} {mech} <redacted>");
    }
    if line.chars().count() > 60 {
        let cut: String = line.chars().take(57).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    }
}

/// True when `word` is a Domain or an address literal (RFC 5321 §4.1.2).
pub(crate) fn is_domain_or_literal(word: &str) -> bool {
    !word.is_empty() && Domain::parse(word).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_redacts_auth_and_cuts() {
        assert_eq!(
            super::short("AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
            "AUTH PLAIN <redacted>"
        );
        assert_eq!(super::short("AUTH LOGIN"), "AUTH LOGIN");
        assert_eq!(super::short(&"x".repeat(80)).chars().count(), 60);
    }
}

//! Opening the session: greeting, EHLO (or HELO), STARTTLS, AUTH.
//!
//! ```text
//! S: 220 mx.example.org ESMTP                 greeting (may be multi-line)
//! C: EHLO client.example.com                   RFC 5321 §4.1.1.1
//! S: 250-mx.example.org / 250-STARTTLS / 250 PIPELINING
//! C: STARTTLS                                  RFC 3207 §4
//! S: 220 Go ahead
//!    ... TLS handshake ...                     everything learned so far is forgotten
//! C: EHLO client.example.com                   RFC 3207 §4.2: ask again
//! S: 250-mx.example.org / 250-AUTH PLAIN LOGIN / 250 SIZE 10240000
//! C: AUTH PLAIN ...                            RFC 4954, only under TLS by default
//! S: 235 2.7.0 Authentication successful
//! ```

use smtp_wire::command::Command;
use smtp_wire::path::Domain;
use smtp_wire::{Capabilities, Reply};

use super::step::{Exchange, Machine, Step, Wait};
use crate::auth::{AuthNext, Authenticator, Mechanism};
use crate::config::{Credentials, TlsMode};
use crate::error::SendError;

/// What the handshake needs to know.
#[derive(Debug, Clone)]
pub struct HandshakeSettings {
    /// The name sent with EHLO/HELO (already checked).
    pub ehlo_name: Domain,
    /// The TLS mode.
    pub tls: TlsMode,
    /// True when the connection is already encrypted (implicit TLS).
    pub tls_active: bool,
    /// Plain RFC 821: HELO and no extensions.
    pub classic: bool,
    /// Credentials for AUTH, if any.
    pub credentials: Option<Credentials>,
    /// Allow AUTH without TLS.
    pub allow_plaintext_auth: bool,
}

/// What the session learned about the server once the handshake is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The 220 greeting.
    pub greeting: Reply,
    /// The EHLO capabilities (empty after HELO, and in classic mode).
    pub capabilities: Capabilities,
    /// True when extensions may be used: EHLO was accepted and classic mode is off.
    pub esmtp: bool,
    /// True when the connection is encrypted.
    pub tls: bool,
    /// True when AUTH succeeded.
    pub authenticated: bool,
}

impl ServerInfo {
    /// True when the server offers `keyword` and extensions may be used.
    pub fn offers(&self, keyword: &str) -> bool {
        self.esmtp && self.capabilities.has(keyword)
    }
}

/// What is known before (or without) a successful EHLO: nothing.
pub(crate) fn no_capabilities() -> Capabilities {
    Capabilities {
        domain: String::new(),
        list: Vec::new(),
    }
}

#[derive(Debug)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth,
}

/// The opening of an SMTP session, as a sans-IO machine.
#[derive(Debug)]
pub struct Handshake {
    settings: HandshakeSettings,
    exchange: Exchange<Expect>,
    greeting: Option<Reply>,
    capabilities: Capabilities,
    ehlo_accepted: bool,
    tls_active: bool,
    authenticator: Option<Authenticator>,
    authenticated: bool,
    done: bool,
}

impl Handshake {
    /// A handshake that starts by waiting for the greeting.
    pub fn new(settings: HandshakeSettings) -> Result<Handshake, SendError> {
        if settings.classic && settings.credentials.is_some() {
            return Err(SendError::Config(
                "AUTH is an ESMTP extension (RFC 4954); classic RFC 821 mode cannot authenticate"
                    .into(),
            ));
        }
        if settings.tls == TlsMode::Implicit && !settings.tls_active {
            return Err(SendError::Config(
                "implicit TLS: the connection must be encrypted before the greeting".into(),
            ));
        }
        let mut exchange = Exchange::new();
        // RFC 5321 §3.1: the server speaks first.
        exchange.expect(Expect::Greeting, Wait::Greeting);
        Ok(Handshake {
            tls_active: settings.tls_active,
            settings,
            exchange,
            greeting: None,
            capabilities: no_capabilities(),
            ehlo_accepted: false,
            authenticator: None,
            authenticated: false,
            done: false,
        })
    }

    /// What was learned; meaningful once [`Step::Done`] was returned.
    pub fn server_info(&self) -> ServerInfo {
        ServerInfo {
            greeting: self.greeting.clone().unwrap_or_else(|| Reply::new(220, "")),
            capabilities: self.capabilities.clone(),
            esmtp: self.ehlo_accepted && !self.settings.classic,
            tls: self.tls_active,
            authenticated: self.authenticated,
        }
    }

    /// EHLO, or HELO in classic mode. Classic mode still says EHLO when it
    /// must learn whether STARTTLS is offered (HELO cannot tell).
    fn say_hello(&mut self) {
        let must_learn_starttls = !self.tls_active
            && matches!(
                self.settings.tls,
                TlsMode::StartTls | TlsMode::Opportunistic
            );
        if self.settings.classic && !must_learn_starttls {
            self.send_helo();
        } else {
            let ehlo = Command::Ehlo(self.settings.ehlo_name.clone());
            self.exchange.command(&ehlo, Expect::Ehlo, Wait::Command);
        }
    }

    fn send_helo(&mut self) {
        let helo = Command::Helo(self.settings.ehlo_name.clone());
        self.exchange.command(&helo, Expect::Helo, Wait::Command);
    }

    fn on_greeting(&mut self, reply: Reply) -> Result<(), SendError> {
        // RFC 5321 §4.3.1: 220 ready, or 554 "no SMTP service here".
        if reply.code != 220 {
            return Err(SendError::GreetingRefused(reply));
        }
        self.greeting = Some(reply);
        self.say_hello();
        Ok(())
    }

    fn on_ehlo(&mut self, reply: Reply) -> Result<(), SendError> {
        if reply.is_positive() {
            self.capabilities = Capabilities::from_ehlo_reply(&reply);
            self.ehlo_accepted = true;
            return self.after_hello();
        }
        // RFC 5321 §3.2: an old server that does not know EHLO answers
        // "command not recognized"; fall back to HELO (no extensions).
        if matches!(reply.code, 500 | 502) {
            self.send_helo();
            return Ok(());
        }
        Err(SendError::Rejected {
            command: "EHLO",
            reply,
        })
    }

    fn on_helo(&mut self, reply: Reply) -> Result<(), SendError> {
        if !reply.is_positive() {
            return Err(SendError::Rejected {
                command: "HELO",
                reply,
            });
        }
        self.capabilities = no_capabilities();
        self.ehlo_accepted = false;
        self.after_hello()
    }

    /// After a successful greeting exchange: STARTTLS if wanted, then AUTH.
    fn after_hello(&mut self) -> Result<(), SendError> {
        if !self.tls_active {
            // RFC 3207 §4: STARTTLS only when offered (EHLO keyword).
            let offered = self.ehlo_accepted && self.capabilities.has("STARTTLS");
            match (self.settings.tls, offered) {
                (TlsMode::StartTls | TlsMode::Opportunistic, true) => {
                    self.exchange
                        .command(&Command::StartTls, Expect::StartTls, Wait::Command);
                    return Ok(());
                }
                (TlsMode::StartTls, false) => return Err(SendError::StartTlsUnavailable),
                _ => {}
            }
        }
        self.authenticate()
    }

    fn on_starttls(&mut self, reply: Reply) -> Result<(), SendError> {
        // RFC 3207 §4: 220 go ahead; 454 TLS not available; 501 syntax error.
        if reply.code == 220 {
            self.exchange.start_tls();
            return Ok(());
        }
        if self.settings.tls == TlsMode::StartTls {
            return Err(SendError::StartTlsRefused(reply));
        }
        // Opportunistic: the session goes on in plain text (RFC 3207 §4.1).
        self.authenticate()
    }

    fn authenticate(&mut self) -> Result<(), SendError> {
        let Some(credentials) = self.settings.credentials.clone() else {
            self.done = true;
            return Ok(());
        };
        // RFC 4954 §4 / RFC 8314 §3: never send credentials in the clear
        // unless the caller said so explicitly. Checked before anything is sent.
        if !self.tls_active && !self.settings.allow_plaintext_auth {
            return Err(SendError::AuthRequiresTls);
        }
        let offered = if self.ehlo_accepted {
            self.capabilities.auth_mechanisms()
        } else {
            Vec::new()
        };
        let mechanism = Mechanism::choose(&offered).ok_or_else(|| SendError::AuthUnavailable {
            offered: offered.join(" "),
        })?;
        let authenticator = Authenticator::new(mechanism, credentials)?;
        self.exchange
            .command(&authenticator.command(), Expect::Auth, Wait::Command);
        self.authenticator = Some(authenticator);
        Ok(())
    }

    fn on_auth(&mut self, reply: Reply) -> Result<(), SendError> {
        let Some(authenticator) = self.authenticator.as_mut() else {
            return Err(SendError::UnexpectedReply {
                command: "AUTH",
                reply,
            });
        };
        match authenticator.on_reply(reply)? {
            AuthNext::Respond(line) => {
                self.exchange.write(line, Wait::Command);
                self.exchange.expect(Expect::Auth, Wait::Command);
            }
            AuthNext::Done => {
                // RFC 4954 §4: no need to repeat EHLO after AUTH.
                self.authenticated = true;
                self.authenticator = None;
                self.done = true;
            }
        }
        Ok(())
    }
}

impl Machine for Handshake {
    fn next_step(&mut self) -> Step {
        // Every reply either queues more work or sets `done`, so an idle
        // exchange means the handshake is over.
        self.exchange.next_step().unwrap_or(Step::Done)
    }

    fn on_reply(&mut self, reply: Reply) -> Result<(), SendError> {
        // RFC 5321 §3.8: 421 at any point means the server is closing.
        if reply.code == 421 {
            return Err(SendError::ServiceClosing(reply));
        }
        match self.exchange.reply_arrived() {
            Some(Expect::Greeting) => self.on_greeting(reply),
            Some(Expect::Ehlo) => self.on_ehlo(reply),
            Some(Expect::Helo) => self.on_helo(reply),
            Some(Expect::StartTls) => self.on_starttls(reply),
            Some(Expect::Auth) => self.on_auth(reply),
            None => Err(SendError::UnexpectedReply {
                command: "(none)",
                reply,
            }),
        }
    }

    fn on_tls_established(&mut self) {
        // RFC 3207 §4.2: "the client MUST discard any knowledge obtained from
        // the server ... which was not obtained from the TLS negotiation
        // itself", and SHOULD send EHLO again.
        self.tls_active = true;
        self.capabilities = no_capabilities();
        self.ehlo_accepted = false;
        if self.settings.classic {
            self.send_helo();
        } else {
            let ehlo = Command::Ehlo(self.settings.ehlo_name.clone());
            self.exchange.command(&ehlo, Expect::Ehlo, Wait::Command);
        }
    }
}

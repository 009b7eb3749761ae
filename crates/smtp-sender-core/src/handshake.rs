//! Opening the session: implicit TLS, greeting, EHLO (or HELO), STARTTLS, AUTH.
//!
//! ```text
//!    ... TLS handshake ...                     implicit TLS only (RFC 8314 §3.3): before any SMTP byte
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
use smtp_wire::sasl::{ClientExchange, ClientStep, Credentials, Mechanism, SaslError};
use smtp_wire::{Capabilities, Reply};

use crate::error::ProtocolError;
use crate::settings::TlsMode;
use crate::step::{Exchange, Machine, Step, Wait};

/// What the handshake needs to know.
#[derive(Debug, Clone)]
pub struct HandshakeSettings {
    /// The name sent with EHLO/HELO (already checked).
    pub ehlo_name: Domain,
    /// The TLS mode.
    pub tls: TlsMode,
    /// True when the connection is already encrypted. With
    /// [`TlsMode::Implicit`] and `false`, the handshake starts with the TLS
    /// handshake ([`Step::StartTls`]) before waiting for the greeting.
    pub tls_active: bool,
    /// Plain RFC 821: HELO and no extensions.
    pub classic: bool,
    /// LMTP (RFC 2033): LHLO instead of EHLO, and no HELO to fall back on
    /// (§4.1). The transaction then reads one reply per recipient after
    /// the data ([`ServerInfo::lmtp`]).
    pub lmtp: bool,
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
    /// True on an LMTP session (RFC 2033): after the data, one reply per
    /// accepted recipient instead of one for the message (§4.2).
    pub lmtp: bool,
}

impl ServerInfo {
    /// True when the server offers `keyword` and extensions may be used.
    pub fn offers(&self, keyword: &str) -> bool {
        self.esmtp && self.capabilities.has(keyword)
    }
}

impl Default for ServerInfo {
    /// What is known before the handshake: nothing.
    fn default() -> Self {
        ServerInfo {
            greeting: Reply::new(220, ""),
            capabilities: Capabilities::default(),
            esmtp: false,
            tls: false,
            authenticated: false,
            lmtp: false,
        }
    }
}

/// One AUTH exchange in progress (RFC 4954), over smtp-wire's SASL client.
#[derive(Debug)]
struct Auth {
    sasl: ClientExchange,
    /// The challenge we answered with `*` (RFC 4954 §4: the client
    /// cancels): the failure to report once the server has answered.
    cancelled_by: Option<Reply>,
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
    auth: Option<Auth>,
    authenticated: bool,
    done: bool,
}

impl Handshake {
    /// A handshake that starts by waiting for the greeting (after the TLS
    /// handshake, for implicit TLS on a connection not yet encrypted).
    pub fn new(settings: HandshakeSettings) -> Result<Handshake, ProtocolError> {
        if settings.classic && settings.lmtp {
            return Err(ProtocolError::Config(
                "LMTP starts with LHLO (RFC 2033 §4.1); it has no classic RFC 821 form".into(),
            ));
        }
        if settings.classic && settings.credentials.is_some() {
            return Err(ProtocolError::Config(
                "AUTH is an ESMTP extension (RFC 4954); classic RFC 821 mode cannot authenticate"
                    .into(),
            ));
        }
        let mut exchange = Exchange::new();
        if settings.tls == TlsMode::Implicit && !settings.tls_active {
            // RFC 8314 §3.3: TLS starts at once, before the greeting.
            exchange.start_tls();
        }
        // RFC 5321 §3.1: the server speaks first.
        exchange.expect(Expect::Greeting, Wait::Greeting);
        Ok(Handshake {
            tls_active: settings.tls_active,
            settings,
            exchange,
            greeting: None,
            capabilities: Capabilities::default(),
            ehlo_accepted: false,
            auth: None,
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
            lmtp: self.settings.lmtp,
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
            self.send_ehlo();
        }
    }

    /// EHLO, or LHLO on an LMTP session (RFC 2033 §4.1: same syntax, same
    /// reply, the extensions listed alike).
    fn send_ehlo(&mut self) {
        let name = self.settings.ehlo_name.clone();
        let hello = if self.settings.lmtp {
            Command::Lhlo(name)
        } else {
            Command::Ehlo(name)
        };
        self.exchange.command(&hello, Expect::Ehlo, Wait::Command);
    }

    fn send_helo(&mut self) {
        let helo = Command::Helo(self.settings.ehlo_name.clone());
        self.exchange.command(&helo, Expect::Helo, Wait::Command);
    }

    fn on_greeting(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        // RFC 5321 §4.3.1: 220 ready, or 554 "no SMTP service here".
        if reply.code != 220 {
            return Err(ProtocolError::GreetingRefused(reply));
        }
        self.greeting = Some(reply);
        self.say_hello();
        Ok(())
    }

    fn on_ehlo(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        if reply.is_positive() {
            self.capabilities = Capabilities::from(reply);
            self.ehlo_accepted = true;
            return self.after_hello();
        }
        // RFC 5321 §3.2: an old server that does not know EHLO answers
        // "command not recognized"; fall back to HELO (no extensions).
        // LMTP has no HELO (RFC 2033 §4.1): a refused LHLO ends it.
        if matches!(reply.code, 500 | 502) && !self.settings.lmtp {
            self.send_helo();
            return Ok(());
        }
        Err(ProtocolError::Rejected {
            command: if self.settings.lmtp { "LHLO" } else { "EHLO" },
            reply,
        })
    }

    fn on_helo(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        if !reply.is_positive() {
            return Err(ProtocolError::Rejected {
                command: "HELO",
                reply,
            });
        }
        self.capabilities = Capabilities::default();
        self.ehlo_accepted = false;
        self.after_hello()
    }

    /// After a successful greeting exchange: STARTTLS if wanted, then AUTH.
    fn after_hello(&mut self) -> Result<(), ProtocolError> {
        if !self.tls_active {
            // RFC 3207 §4: STARTTLS only when offered (EHLO keyword).
            let offered = self.ehlo_accepted && self.capabilities.has("STARTTLS");
            match (self.settings.tls, offered) {
                (TlsMode::StartTls | TlsMode::Opportunistic, true) => {
                    self.exchange
                        .command(&Command::StartTls, Expect::StartTls, Wait::Command);
                    return Ok(());
                }
                (TlsMode::StartTls, false) => return Err(ProtocolError::StartTlsUnavailable),
                _ => {}
            }
        }
        self.authenticate()
    }

    fn on_starttls(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        // RFC 3207 §4: 220 go ahead; 454 TLS not available; 501 syntax error.
        if reply.code == 220 {
            self.exchange.start_tls();
            return Ok(());
        }
        if self.settings.tls == TlsMode::StartTls {
            return Err(ProtocolError::StartTlsRefused(reply));
        }
        // Opportunistic: the session goes on in plain text (RFC 3207 §4.1).
        self.authenticate()
    }

    fn authenticate(&mut self) -> Result<(), ProtocolError> {
        let Some(credentials) = self.settings.credentials.clone() else {
            self.done = true;
            return Ok(());
        };
        // RFC 4954 §4 / RFC 8314 §3: never send credentials in the clear
        // unless the caller said so explicitly. Checked before anything is sent.
        if !self.tls_active && !self.settings.allow_plaintext_auth {
            return Err(ProtocolError::AuthRequiresTls);
        }
        let offered = if self.ehlo_accepted {
            self.capabilities.auth_mechanisms()
        } else {
            Vec::new()
        };
        // A password goes with PLAIN or LOGIN, a bearer token with
        // OAUTHBEARER (RFC 7628) or XOAUTH2; never one where the other is due.
        let mechanism = Mechanism::choose_for(&credentials, &offered).ok_or_else(|| {
            ProtocolError::AuthUnavailable {
                offered: offered.join(" "),
            }
        })?;
        let username = credentials.username.clone();
        let sasl = ClientExchange::new(mechanism, credentials).map_err(|error| {
            ProtocolError::InvalidInput {
                what: "credentials",
                value: username,
                reason: match error {
                    SaslError::NulInCredentials => {
                        "a NUL cannot be sent with AUTH PLAIN (RFC 4616 §2)".into()
                    }
                    other => other.to_string(),
                },
            }
        })?;
        let command = Command::Auth {
            mechanism: mechanism.name().to_string(),
            // RFC 4954 §4: PLAIN and the token mechanisms go with the
            // command, saving a round trip.
            initial_response: sasl.initial_response(),
        };
        self.exchange.command(&command, Expect::Auth, Wait::Command);
        self.auth = Some(Auth {
            sasl,
            cancelled_by: None,
        });
        Ok(())
    }

    /// RFC 4954 §4: 334 is a challenge to answer, 235 success, anything
    /// else failure.
    fn on_auth(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        let Some(auth) = self.auth.as_mut() else {
            return Err(ProtocolError::UnexpectedReply {
                command: "AUTH",
                reply,
            });
        };
        if let Some(challenge) = auth.cancelled_by.take() {
            return Err(ProtocolError::AuthFailed(challenge));
        }
        if reply.is_positive() {
            // RFC 4954 §4: no need to repeat EHLO after AUTH.
            self.authenticated = true;
            self.auth = None;
            self.done = true;
            return Ok(());
        }
        if reply.code != 334 {
            return Err(ProtocolError::AuthFailed(reply));
        }
        match auth.sasl.challenge(reply.text()) {
            ClientStep::Respond(line) => {
                // A challenge the mechanism has no answer for was answered
                // with "*"; the server's 501 comes next, the failure is this.
                if auth.sasl.is_cancelled() {
                    auth.cancelled_by = Some(reply);
                }
                self.exchange.write(line, Wait::Command);
                self.exchange.expect(Expect::Auth, Wait::Command);
                Ok(())
            }
            ClientStep::Cancelled => Err(ProtocolError::AuthFailed(reply)),
        }
    }
}

impl Machine for Handshake {
    fn next_step(&mut self) -> Step {
        // Every reply either queues more work or sets `done`, so an idle
        // exchange means the handshake is over.
        self.exchange.next_step().unwrap_or(Step::Done)
    }

    fn on_reply(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        // RFC 5321 §3.8: 421 at any point means the server is closing.
        if reply.code == 421 {
            return Err(ProtocolError::ServiceClosing(reply));
        }
        match self.exchange.reply_arrived() {
            Some(Expect::Greeting) => self.on_greeting(reply),
            Some(Expect::Ehlo) => self.on_ehlo(reply),
            Some(Expect::Helo) => self.on_helo(reply),
            Some(Expect::StartTls) => self.on_starttls(reply),
            Some(Expect::Auth) => self.on_auth(reply),
            None => Err(ProtocolError::UnexpectedReply {
                command: "(none)",
                reply,
            }),
        }
    }

    fn on_tls_established(&mut self) {
        self.tls_active = true;
        if self.greeting.is_none() {
            // Implicit TLS: the greeting comes next, under TLS.
            return;
        }
        // RFC 3207 §4.2: "the client MUST discard any knowledge obtained from
        // the server ... which was not obtained from the TLS negotiation
        // itself", and SHOULD send EHLO again.
        self.capabilities = Capabilities::default();
        self.ehlo_accepted = false;
        if self.settings.classic {
            self.send_helo();
        } else {
            self.send_ehlo();
        }
    }
}

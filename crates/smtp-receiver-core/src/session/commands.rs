//! The commands, one method each: the checks RFC 5321 and its extensions
//! ask for before a command is accepted, and what it changes.

use smtp_wire::command::Command;
use smtp_wire::param::{MailParams, RcptParams};
use smtp_wire::path::{Domain, ForwardPath, ReversePath};
use smtp_wire::sasl::{self, Mechanism, SaslError, ServerExchange, ServerStep};
use smtp_wire::{BdatReader, Capabilities, Capability, DataDecoder, Reply};

use super::{Abort, Event, Phase, Request, Session};
use crate::message::Framing;
use crate::{auth, replies, trace};

impl Session {
    pub(super) fn hello(&mut self, domain: Domain, extended: bool) {
        // RFC 5321 §4.1.4: a new EHLO/HELO resets the transaction, like RSET.
        if self.transaction.take().is_some() {
            self.events.push_back(Event::Reset);
        }
        self.pending = Some(Request::Hello { domain, extended });
    }

    pub(super) fn ehlo_reply(&self, client: &Domain) -> Reply {
        let greeting = format!(
            "{} greets {}",
            self.config.hostname,
            self.client_name(client)
        );
        let mut caps = Capabilities::new(&greeting);
        caps.extend([
            Capability::Pipelining,                                  // RFC 2920
            Capability::Size(Some(self.config.limits.message_size)), // RFC 1870
            Capability::EightBitMime,                                // RFC 6152
            Capability::EnhancedStatusCodes,                         // RFC 2034
            Capability::SmtpUtf8,                                    // RFC 6531
            Capability::Chunking,                                    // RFC 3030
            Capability::Dsn,                                         // RFC 3461
        ]);
        // RFC 3207 §4.2: not offered again once TLS is on.
        if self.config.starttls && !self.tls {
            caps.push(Capability::StartTls);
        }
        // RFC 4954 §4 + RFC 8314: credentials only inside TLS by default.
        if self.auth_allowed() {
            let names = self.offered_mechanisms().map(|m| m.name().to_string());
            caps.push(Capability::Auth(names.collect()));
        }
        // Postfix's XCLIENT, to trusted proxies only.
        if self.info.xclient {
            caps.push(Capability::Other {
                keyword: "XCLIENT".into(),
                params: ["NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN"]
                    .map(String::from)
                    .to_vec(),
            });
        }
        caps.push(Capability::Help);
        caps.to_reply()
    }

    pub(super) fn mail(&mut self, from: ReversePath, params: MailParams) {
        let Some(hello) = &self.hello else {
            return self.error(replies::bad_sequence(
                "Send EHLO/HELO first (RFC 5321 section 4.1.4)",
            ));
        };
        let extended = hello.extended;
        if self.transaction.is_some() {
            return self.error(replies::bad_sequence(
                "Nested MAIL command (RFC 5321 section 4.1.4)",
            ));
        }
        if self.config.auth.required && self.authenticated.is_none() {
            return self.send(replies::auth_required());
        }
        if let Some(reply) = unsupported_mail_params(&params, extended) {
            return self.error(reply);
        }
        if from.is_utf8() && !params.smtputf8 && !self.undeclared_utf8_allowed() {
            return self.error(replies::needs_smtputf8());
        }
        // RFC 1870 §6.1: a declared size above the limit is refused at once.
        if params
            .size
            .is_some_and(|size| size > self.config.limits.message_size)
        {
            return self.send(replies::too_big(self.config.limits.message_size));
        }
        self.pending = Some(Request::Mail { from, params });
    }

    pub(super) fn rcpt(&mut self, to: ForwardPath, params: RcptParams) {
        let Some(transaction) = &self.transaction else {
            return self.error(replies::bad_sequence(
                "Need MAIL before RCPT (RFC 5321 section 4.1.4)",
            ));
        };
        if transaction.recipients.len() >= self.config.limits.recipients {
            return self.send(replies::too_many_recipients());
        }
        let smtputf8 = transaction.params.smtputf8;
        if let Some(reply) = unsupported_rcpt_params(&params) {
            return self.error(reply);
        }
        if to.is_utf8() && !smtputf8 && !self.undeclared_utf8_allowed() {
            return self.error(replies::needs_smtputf8());
        }
        if !self.is_local_recipient(&to) {
            return self.error(replies::relay_denied());
        }
        self.pending = Some(Request::Rcpt { to, params });
    }

    pub(super) fn data(&mut self) {
        match &self.transaction {
            None => self.error(replies::bad_sequence(
                "Need MAIL before DATA (RFC 5321 section 3.3)",
            )),
            Some(t) if t.recipients.is_empty() => {
                self.error(replies::bad_sequence(
                    "Need RCPT before DATA (RFC 5321 section 3.3)",
                ));
            }
            Some(_) => {
                self.send(replies::start_data());
                self.begin_message(Framing::Data(DataDecoder::new()));
            }
        }
    }

    pub(super) fn bdat(&mut self, size: u64, last: bool) {
        // RFC 3030 §2 + RFC 1870 §6.2: a chunk that would take the message
        // past the size limit is never read. Its octets cannot be skipped
        // within reason (the size may be 2^64-1), and unread they would be
        // taken for commands: 552, then close.
        let so_far = self.message.as_ref().map_or(0, |m| m.size);
        if so_far.saturating_add(size) > self.config.limits.message_size {
            return self.give_up_oversized("a BDAT chunk beyond the size limit");
        }
        // RFC 3030 §4: the rest of a transfer that already failed: read,
        // dropped, and answered with the same reply (not a protocol error).
        if let Some(reply) = &self.failed_bdat {
            let reply = reply.clone();
            if last {
                self.failed_bdat = None;
            }
            return self.skip_chunk_then(size, reply, false);
        }
        let refusal = match (&self.hello, &self.transaction) {
            (Some(hello), _) if !hello.extended => Some("BDAT requires EHLO (RFC 3030 section 2)"),
            (_, None) => Some("Need MAIL before BDAT (RFC 3030 section 2)"),
            (_, Some(t)) if t.recipients.is_empty() => {
                Some("Need RCPT before BDAT (RFC 3030 section 2)")
            }
            _ => None,
        };
        if let Some(text) = refusal {
            // RFC 3030 §2: the chunk's octets follow the command whatever
            // we answer; read and drop them, then reply.
            return self.skip_chunk_then(size, replies::bad_sequence(text), true);
        }
        let framing = Framing::Bdat {
            reader: BdatReader::new(size),
            size,
            last,
        };
        match self.message.as_mut() {
            Some(message) => {
                message.framing = framing;
                self.phase = Phase::Body;
            }
            None => self.begin_message(framing),
        }
    }

    fn skip_chunk_then(&mut self, size: u64, reply: Reply, counted: bool) {
        self.phase = Phase::SkipChunk {
            reader: BdatReader::new(size),
            reply,
            counted,
        };
    }

    pub(super) fn rset(&mut self) {
        self.abort_message(Abort::Client);
        self.transaction = None;
        self.send(replies::reset());
        self.events.push_back(Event::Reset);
    }

    pub(super) fn starttls(&mut self) {
        if !self.config.starttls {
            return self.error(replies::not_implemented("STARTTLS"));
        }
        if self.tls {
            return self.error(replies::bad_sequence(
                "TLS already active (RFC 3207 section 4.2)",
            ));
        }
        if !self.hello.as_ref().is_some_and(|h| h.extended) {
            return self.error(replies::bad_sequence(
                "Send EHLO first (RFC 3207 section 4)",
            ));
        }
        if self.transaction.is_some() {
            return self.error(replies::bad_sequence(
                "STARTTLS not allowed in a mail transaction",
            ));
        }
        self.send(replies::ready_for_tls());
        self.phase = Phase::AwaitTls { implicit: false };
    }

    pub(super) fn auth(&mut self, mechanism: &str, initial: Option<&str>) {
        if !self.config.auth.enabled {
            return self.error(replies::not_implemented("AUTH"));
        }
        if !self.auth_allowed() {
            return self.error(replies::auth_needs_tls());
        }
        if !self.hello.as_ref().is_some_and(|h| h.extended) {
            return self.error(replies::bad_sequence(
                "Send EHLO first (RFC 4954 section 4)",
            ));
        }
        if self.authenticated.is_some() {
            return self.error(replies::bad_sequence(
                "Already authenticated (RFC 4954 section 4)",
            ));
        }
        if self.transaction.is_some() {
            return self.error(replies::bad_sequence(
                "AUTH not allowed in a mail transaction (RFC 4954 section 4)",
            ));
        }
        // RFC 4954 §4: a mechanism we do not offer gets 504.
        let Some(mechanism) = self
            .offered_mechanisms()
            .find(|m| m.name().eq_ignore_ascii_case(mechanism))
        else {
            return self.error(replies::auth_unknown_mechanism());
        };
        if let Mechanism::Custom(name) = mechanism {
            let Some(added) = self
                .config
                .extra_mechanisms
                .iter()
                .find(|m| m.name() == name)
            else {
                return self.error(replies::auth_unknown_mechanism());
            };
            let mut exchange = added.start();
            let step = match initial.map(|line| sasl::decode(line.as_bytes())) {
                None => exchange.step(None),
                Some(Ok(bytes)) => exchange.step(Some(&bytes)),
                Some(Err(error)) => return self.error(auth::failure_reply(error)),
            };
            return self.custom_auth_step(mechanism, exchange, step);
        }
        self.auth_step(mechanism, ServerExchange::start(mechanism, initial));
    }

    /// Postfix's XCLIENT (XCLIENT_README): a trusted proxy names the
    /// client it speaks for. ADDR and PORT replace the client's address
    /// (used from here on: `Received:`, the application's
    /// `ConnectionInfo`), LOGIN marks the session authenticated as that
    /// user; NAME, PROTO and HELO are checked and otherwise left to the
    /// EHLO that follows. The session then starts again: state forgotten,
    /// a new 220 greeting.
    pub(super) fn xclient(&mut self, attributes: &[(String, String)]) {
        if !self.info.xclient {
            return self.error(replies::xclient_not_authorized());
        }
        if self.transaction.is_some() {
            return self.error(replies::bad_sequence(
                "XCLIENT not allowed in a mail transaction",
            ));
        }
        let unknown = |v: &str| v == "[UNAVAILABLE]" || v == "[TEMPUNAVAIL]";
        let mut peer = self.info.peer;
        let mut login = None;
        for (name, value) in attributes {
            match name.as_str() {
                "ADDR" if unknown(value) => {}
                "ADDR" => {
                    let text = value
                        .get(..5)
                        .filter(|p| p.eq_ignore_ascii_case("IPV6:"))
                        .map_or(value.as_str(), |_| &value[5..]);
                    match text.parse::<core::net::IpAddr>() {
                        Ok(ip) => peer.set_ip(ip),
                        Err(_) => return self.error(replies::xclient_bad("ADDR")),
                    }
                }
                "PORT" if unknown(value) => {}
                "PORT" => match value.parse::<u16>() {
                    Ok(port) => peer.set_port(port),
                    Err(_) => return self.error(replies::xclient_bad("PORT")),
                },
                "LOGIN" if unknown(value) => login = Some(None),
                "LOGIN" if value.chars().any(char::is_control) || value.is_empty() => {
                    return self.error(replies::xclient_bad("LOGIN"));
                }
                "LOGIN" => login = Some(Some(value.clone())),
                "NAME" | "HELO" if unknown(value) => {}
                "NAME" | "HELO" => {
                    if Domain::parse(value).is_err() {
                        return self.error(replies::xclient_bad(name));
                    }
                }
                "PROTO"
                    if value.eq_ignore_ascii_case("SMTP")
                        || value.eq_ignore_ascii_case("ESMTP") => {}
                _ => return self.error(replies::xclient_bad(name)),
            }
        }
        self.info.peer = peer;
        if let Some(login) = login {
            self.authenticated = login;
        }
        self.hello = None;
        self.events.push_back(Event::Reset);
        self.send(replies::greeting(&self.config.hostname));
    }

    /// The mechanisms in the EHLO `AUTH` line, in order: PLAIN and LOGIN,
    /// the token mechanisms when [`AuthPolicy::tokens`](crate::AuthPolicy::tokens),
    /// then the application's.
    pub(super) fn offered_mechanisms(&self) -> impl Iterator<Item = Mechanism> + '_ {
        let tokens = self.config.auth.tokens;
        Mechanism::ALL
            .into_iter()
            .filter(move |m| tokens || !m.takes_token())
            .chain(
                self.config
                    .extra_mechanisms
                    .iter()
                    .map(|m| Mechanism::Custom(m.name())),
            )
    }

    /// A step of an application's mechanism (RFC 4954 §4: challenges go
    /// out base64-encoded after 334).
    pub(super) fn custom_auth_step(
        &mut self,
        mechanism: Mechanism,
        exchange: Box<dyn sasl::MechanismExchange>,
        step: sasl::MechanismStep,
    ) {
        match step {
            sasl::MechanismStep::Challenge(bytes) => {
                self.send(replies::auth_challenge(&sasl::encode(bytes)));
                self.phase = Phase::AuthCustom(mechanism, exchange);
            }
            sasl::MechanismStep::Done(credentials) => {
                self.phase = Phase::Commands;
                self.pending = Some(Request::Auth {
                    mechanism,
                    credentials,
                });
            }
            sasl::MechanismStep::Fail(text) => {
                self.phase = Phase::Commands;
                self.error(replies::auth_bad_response(&text));
            }
        }
    }

    pub(super) fn auth_step(&mut self, mechanism: Mechanism, step: ServerStep) {
        match step {
            ServerStep::Challenge(challenge, exchange) => {
                self.send(replies::auth_challenge(challenge));
                self.phase = Phase::Auth(mechanism, exchange);
            }
            ServerStep::Done(credentials) => {
                self.phase = Phase::Commands;
                self.pending = Some(Request::Auth {
                    mechanism,
                    credentials,
                });
            }
            // RFC 7628 §3.2.3: the client acknowledged the error challenge
            // of a refused token; now the refusal the application chose.
            ServerStep::Fail(SaslError::TokenRefused) => {
                self.phase = Phase::Commands;
                let reply = self
                    .token_refusal
                    .take()
                    .unwrap_or_else(replies::auth_failed);
                self.auth_refused(reply);
            }
            ServerStep::Fail(error) => {
                self.phase = Phase::Commands;
                self.error(auth::failure_reply(error));
            }
        }
    }

    /// The client's EHLO/HELO name as reply text may show it: RFC 5321
    /// §4.2 allows only printable ASCII there, so a U-label name (RFC 6531)
    /// is shown as the client's address literal instead.
    pub(super) fn client_name(&self, client: &Domain) -> String {
        let name = client.to_string();
        if name.bytes().all(|b| b.is_ascii_graphic()) {
            name
        } else {
            trace::address_literal(self.info.peer.ip())
        }
    }

    // ----- policy ---------------------------------------------------------

    /// RFC 6531 §3.4: a UTF-8 address needs the SMTPUTF8 parameter on MAIL
    /// (`553 5.6.7`). The liberal content policy accepts one without it, as
    /// Postfix does (msmtp never sends the parameter), and records it
    /// ([`Envelope::undeclared_utf8`](crate::Envelope::undeclared_utf8)).
    fn undeclared_utf8_allowed(&self) -> bool {
        self.config.content_policy.accepts_undeclared_utf8()
    }

    /// AUTH is offered and accepted inside TLS, or on loopback when the
    /// configuration explicitly allows plaintext there.
    pub(super) fn auth_allowed(&self) -> bool {
        let auth = &self.config.auth;
        auth.enabled && (self.tls || (auth.allow_plaintext_on_loopback && self.info.is_loopback()))
    }

    /// Not an open relay: only our domains, plus postmaster (RFC 5321 §4.5.1).
    pub(super) fn is_local_recipient(&self, to: &ForwardPath) -> bool {
        match to {
            ForwardPath::Postmaster => true,
            ForwardPath::Mailbox(mailbox) => {
                (mailbox.local.eq_ignore_ascii_case("postmaster")
                    && mailbox.domain.eq_ignore_case(&self.config.hostname))
                    || self.config.recipients.accepts_domain(&mailbox.domain)
            }
        }
    }
}

/// Commands a client may send between BDAT chunks (RFC 3030 §3; NOOP,
/// HELP, VRFY and EXPN are allowed anywhere, RFC 5321 §4.1.4).
pub(super) fn allowed_between_chunks(command: &Command) -> bool {
    matches!(
        command,
        Command::Bdat { .. }
            | Command::Rset
            | Command::Quit
            | Command::Noop(_)
            | Command::Help(_)
            | Command::Vrfy(_)
            | Command::Expn(_)
    )
}

pub(super) fn looks_like_bdat(line: &[u8]) -> bool {
    line.len() >= 4
        && line[..4].eq_ignore_ascii_case(b"BDAT")
        && line.get(4).is_none_or(|&b| b == b' ')
}

/// MAIL parameters we do not advertise get 555 (RFC 5321 §4.1.1.11).
/// RET and ENVID (RFC 3461 §4.3, §4.4) are kept in the envelope: DSN is
/// advertised, and the handler decides what a report needs.
pub(super) fn unsupported_mail_params(params: &MailParams, extended: bool) -> Option<Reply> {
    use smtp_wire::param::Body;
    let any = params.size.is_some()
        || params.body.is_some()
        || params.smtputf8
        || params.auth.is_some()
        || params.ret.is_some()
        || params.envid.is_some()
        || !params.other.is_empty();
    if !extended && any {
        return Some(replies::params_need_ehlo());
    }
    if params.body == Some(Body::BinaryMime) {
        return Some(replies::unsupported_parameter("BODY=BINARYMIME"));
    }
    params
        .other
        .first()
        .map(|p| replies::unsupported_parameter(&p.keyword))
}

/// RCPT parameters: NOTIFY and ORCPT (RFC 3461 §4.1, §4.2) are kept with
/// the recipient; anything else gets 555 (RFC 5321 §4.1.1.11).
pub(super) fn unsupported_rcpt_params(params: &RcptParams) -> Option<Reply> {
    params
        .other
        .first()
        .map(|p| replies::unsupported_parameter(&p.keyword))
}

//! What the judge answers to each command, and what it notes about it.

use smtp_wire::{
    BdatReader, Capabilities, Capability, Command, DataDecoder, EnhancedCode, MailParams, Reply,
};

use super::{Action, Judge, Phase, Txn};
use crate::client::ClientTls;
use crate::client::body::BodyScanner;
use crate::client::checks::Check;
use crate::client::rules::{self, Progress};
use crate::client::scenario::Scenario;

/// An enhanced status code (RFC 3463).
pub(super) fn code(class: u8, subject: u16, detail: u16) -> EnhancedCode {
    EnhancedCode::new(class, subject, detail)
}

impl Judge {
    /// The capabilities offered now (RFC 5321 §4.1.1.1), per scenario and TLS state.
    fn offer(&self, domain: &str) -> Capabilities {
        let s = self.cfg.scenario;
        let mut caps = Capabilities::new(&format!("{domain} greets you"));
        if s != Scenario::Minimal {
            caps.push(Capability::Pipelining);
            let limit = if s == Scenario::SizeTooSmall {
                64
            } else {
                self.cfg.size_limit
            };
            caps.push(Capability::Size(Some(limit)));
            caps.push(Capability::EightBitMime);
            caps.push(Capability::SmtpUtf8);
            caps.push(Capability::Chunking);
            caps.push(Capability::EnhancedStatusCodes);
        }
        caps.push(Capability::Help);
        if !self.tls && self.cfg.tls == ClientTls::StartTls && s != Scenario::NoStartTls {
            caps.push(Capability::StartTls);
        }
        if self.tls {
            // RFC 4954 §4: plaintext mechanisms only under TLS.
            caps.push(Capability::Auth(
                ["PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"]
                    .map(String::from)
                    .to_vec(),
            ));
        }
        caps
    }

    pub(super) fn size_limit(&self) -> Option<u64> {
        self.caps.size_limit()
    }

    /// One command line (or an AUTH response line).
    pub(super) fn line(&mut self, line: &[u8], was_early: bool) {
        match self.phase {
            Phase::AuthPlain | Phase::AuthLogin { .. } | Phase::AuthToken(_) => {
                return self.auth_response(line, was_early);
            }
            _ => {}
        }
        self.commands += 1;
        let parsed = Command::parse(line);
        let verb = match &parsed {
            Ok(cmd) => cmd.verb(),
            Err(_) => "(invalid)",
        };
        if was_early {
            self.early_command(verb);
        }
        self.current = Some(verb);
        if self.quit {
            self.fault(Some(rules::after_quit(verb)));
        }
        if self.tls {
            self.commands_in_tls += 1;
            if matches!(
                self.cfg.scenario,
                Scenario::BadCertName | Scenario::UntrustedCert
            ) {
                self.react_violation(format!("{verb} sent over TLS with a bad certificate"));
            }
        }
        if self.first_after_tls {
            self.first_after_tls = false;
            self.findings
                .exercised(Check::EhloAfterTls, "EHLO first after the handshake");
            self.fault(rules::first_after_tls(verb));
        }
        let cmd = match parsed {
            Ok(cmd) => cmd,
            Err(e) => {
                if self.data_refused && self.cfg.scenario == Scenario::RcptRefused {
                    self.react_violation(rules::text_after_refused_data(line));
                }
                self.fault(Some(rules::bad_syntax(line, &e)));
                return self.reply(e.reply());
            }
        };
        self.findings
            .exercised(Check::CommandSyntax, "every command well-formed");
        self.data_refused = false;
        self.command(cmd, was_early);
    }

    /// A command sent before the reply to the previous one was written.
    pub(super) fn early_command(&mut self, verb: &'static str) {
        let prev = self.early_after.unwrap_or("?");
        if prev == "greeting" && self.cfg.scenario == Scenario::MultilineGreeting {
            self.react_violation(format!("{verb} sent before the last greeting line"));
        }
        if self.injection_armed && prev == "EHLO" {
            self.react_violation(format!(
                "{verb} sent before the EHLO reply inside TLS: the client read the injected plaintext as that reply"
            ));
        }
        let pipelining = self.has_cap("PIPELINING");
        self.fault(rules::sent_early(verb, prev, pipelining));
    }

    /// The order rules (RFC 5321 §4.1.4, §3.3), on the judge's own state.
    fn check_order(&mut self, verb: &str, was_early: bool) {
        let progress = Progress {
            greeted: self.greeted,
            mail: self.txn.open,
            rcpts: self.txn.tried,
        };
        self.fault(rules::order(verb, progress, was_early));
    }

    fn command(&mut self, cmd: Command, was_early: bool) {
        let domain = self.cfg.domain.clone();
        match cmd {
            Command::Ehlo(_) => {
                self.ehlo_tried = true;
                self.findings
                    .exercised(Check::EhloPreferred, "opened with EHLO");
                if self.cfg.scenario == Scenario::EhloRefused {
                    self.reaction.triggered = true;
                    self.ehlo_refused = true;
                    return self.reply(Reply::new(
                        502,
                        "EHLO not supported (scenario ehlo-refused)",
                    ));
                }
                self.greeted = true;
                self.txn = Txn::default();
                self.caps = self.offer(&domain);
                let delay = if self.injection_armed {
                    // Give a client that took the injected line for this
                    // reply the time to show it (RFC 3207 §4.2).
                    self.reaction.triggered = true;
                    self.cfg.reaction_window
                } else {
                    self.cfg.reply_delay
                };
                self.send_raw(self.caps.to_reply().to_bytes(), delay);
            }
            Command::Helo(_) => {
                self.helo_after_refusal = self.ehlo_refused;
                self.fault(rules::helo_first(self.ehlo_tried));
                self.greeted = true;
                self.txn = Txn::default();
                // RFC 5321 §3.2: no extensions after HELO.
                self.caps = Capabilities::default();
                self.reply(Reply::new(250, &domain));
            }
            Command::Mail { from, params } => self.mail(from.is_utf8(), &params, was_early),
            Command::Rcpt { to, params } => self.rcpt(to.is_utf8(), &params, was_early),
            Command::Data => self.data(was_early),
            Command::Bdat { size, last } => self.bdat(size, last, was_early),
            Command::Rset => {
                self.txn = Txn::default();
                self.reply(Reply::enhanced(250, code(2, 0, 0), "reset"));
            }
            Command::Noop(_) => self.reply(Reply::enhanced(250, code(2, 0, 0), "ok")),
            Command::Vrfy(_) => self.reply(Reply::enhanced(
                252,
                code(2, 1, 5),
                "cannot verify, will try",
            )),
            Command::Expn(_) => {
                self.reply(Reply::enhanced(502, code(5, 5, 1), "EXPN not implemented"))
            }
            Command::Help(_) => self.reply(Reply::enhanced(
                214,
                code(2, 0, 0),
                "smtp-conform judging receiver",
            )),
            Command::Quit => {
                self.quit = true;
                self.findings
                    .exercised(Check::Quit, "QUIT, then nothing more");
                self.reply(Reply::enhanced(
                    221,
                    code(2, 0, 0),
                    &format!("{domain} closing"),
                ));
                self.ended = Some("QUIT".into());
                self.phase = Phase::Closed;
            }
            Command::StartTls => self.starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response),
            // LHLO is LMTP's (RFC 2033): an SMTP server does not know it.
            Command::Lhlo(_) => self.reply(Reply::enhanced(
                500,
                code(5, 5, 1),
                "LHLO is LMTP's (RFC 2033); this is SMTP",
            )),
            Command::Turn
            | Command::Send(_)
            | Command::Soml(_)
            | Command::Saml(_)
            | Command::Xclient(_) => self.reply(Reply::enhanced(
                502,
                code(5, 5, 1),
                "command not implemented",
            )),
        }
    }

    fn not_greeted(&mut self, verb: &str) -> bool {
        if self.greeted {
            return false;
        }
        if self.cfg.scenario == Scenario::EhloRefused
            && self.ehlo_refused
            && !self.helo_after_refusal
        {
            self.react_violation(format!("{verb} sent after EHLO was refused, without HELO"));
        }
        self.reply(Reply::enhanced(503, code(5, 5, 1), "send EHLO first"));
        true
    }

    fn mail(&mut self, utf8: bool, params: &MailParams, was_early: bool) {
        self.check_order("MAIL", was_early);
        if !self.tls {
            self.mail_in_clear = true;
            if self.cfg.scenario == Scenario::NoStartTls {
                self.react_violation(
                    "MAIL sent in the clear although STARTTLS was not offered".into(),
                );
            }
        }
        if self.not_greeted("MAIL") {
            return;
        }
        self.findings
            .exercised(Check::EhloFirst, "EHLO/HELO before MAIL");
        if self.txn.open {
            return self.reply(Reply::enhanced(503, code(5, 5, 1), "nested MAIL"));
        }
        self.findings
            .exercised(Check::CommandOrder, "MAIL, RCPT, DATA in order");
        self.findings
            .exercised(Check::ParamsOffered, "only offered parameters used");
        self.fault(rules::mail_params(params, &self.caps));
        self.check_utf8(utf8, params.smtputf8 && self.has_cap("SMTPUTF8"), "MAIL");
        match self.cfg.scenario {
            Scenario::Shutdown421 => {
                self.reaction.triggered = true;
                let domain = self.cfg.domain.clone();
                self.reply(Reply::enhanced(
                    421,
                    code(4, 3, 2),
                    &format!("{domain} shutting down (scenario 421-mid-session)"),
                ));
                self.actions
                    .push_back(Action::Linger(self.cfg.reaction_window));
                self.ended = Some("421 sent by the judge".into());
                self.closed_by_us = true;
                self.phase = Phase::Lingering;
                return;
            }
            Scenario::TempfailMail => {
                self.reaction.triggered = true;
                return self.reply(Reply::enhanced(
                    451,
                    code(4, 3, 0),
                    "try again later (scenario tempfail-mail)",
                ));
            }
            _ => {}
        }
        if let (Some(declared), Some(limit)) = (params.size, self.size_limit())
            && declared > limit
        {
            self.reaction.note = Some(format!("SIZE={declared} declared and refused"));
            return self.reply(Reply::enhanced(
                552,
                code(5, 3, 4),
                "message size exceeds fixed maximum message size",
            ));
        }
        self.txn = Txn {
            open: true,
            body_8bit: rules::declares_8bit(params),
            smtputf8: params.smtputf8,
            size: params.size,
            ..Txn::default()
        };
        self.reply(Reply::enhanced(250, code(2, 1, 0), "sender ok"));
    }

    fn check_utf8(&mut self, utf8: bool, declared: bool, verb: &str) {
        self.findings
            .exercised(Check::SmtpUtf8, "addresses ASCII or declared");
        self.fault(rules::utf8_address(utf8, declared, verb));
    }

    fn rcpt(&mut self, utf8: bool, params: &smtp_wire::RcptParams, was_early: bool) {
        self.check_order("RCPT", was_early);
        if self.not_greeted("RCPT") {
            return;
        }
        if !self.txn.open {
            if !was_early && self.cfg.scenario == Scenario::TempfailMail {
                self.react_violation("RCPT sent after MAIL got 451".into());
            }
            return self.reply(Reply::enhanced(503, code(5, 5, 1), "need MAIL first"));
        }
        self.fault(rules::rcpt_params(params, &self.caps));
        let declared = self.txn.smtputf8;
        self.check_utf8(utf8, declared, "RCPT");
        self.txn.tried += 1;
        if self.cfg.scenario == Scenario::RcptRefused && self.txn.tried == 1 {
            self.reaction.triggered = true;
            return self.reply(Reply::enhanced(
                550,
                code(5, 1, 1),
                "no such user (scenario rcpt-refused)",
            ));
        }
        if self.txn.accepted >= 100 {
            // RFC 5321 §4.5.3.1.10: 452 past the implementation limit.
            return self.reply(Reply::enhanced(452, code(4, 5, 3), "too many recipients"));
        }
        self.txn.accepted += 1;
        self.reply(Reply::enhanced(250, code(2, 1, 5), "recipient ok"));
    }

    fn data(&mut self, was_early: bool) {
        self.check_order("DATA", was_early);
        if self.not_greeted("DATA") {
            return;
        }
        if !self.txn.open || self.txn.tried == 0 {
            if !was_early && self.cfg.scenario == Scenario::TempfailMail && !self.txn.open {
                self.react_violation("DATA sent after MAIL got 451".into());
            }
            self.data_refused = true;
            return self.reply(Reply::enhanced(
                503,
                code(5, 5, 1),
                "need MAIL and RCPT first",
            ));
        }
        if self.txn.accepted == 0 {
            self.data_refused = true;
            return self.reply(Reply::enhanced(554, code(5, 5, 1), "no valid recipients"));
        }
        self.data = Some((DataDecoder::new(), BodyScanner::new(true)));
        self.reply(Reply::new(354, "end data with <CR><LF>.<CR><LF>"));
        self.phase = Phase::Data;
    }

    fn bdat(&mut self, size: u64, last: bool, was_early: bool) {
        self.fault(rules::bdat_offered(&self.caps));
        self.check_order("BDAT", was_early);
        let refused = !self.greeted || !self.txn.open || self.txn.accepted == 0;
        if !refused && self.txn.chunks.is_none() {
            self.txn.chunks = Some(BodyScanner::new(false));
        }
        // RFC 3030 §2: the chunk is read even when the command is refused.
        self.chunk = Some((BdatReader::new(size), last, refused));
        self.phase = Phase::Chunk;
    }
}

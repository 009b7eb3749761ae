//! STARTTLS and AUTH: what the judge answers, and the AUTH rules.

use smtp_wire::Reply;
use smtp_wire::sasl::{Mechanism, ServerExchange, ServerStep};

use super::commands::code;
use super::{Action, Judge, Phase};
use crate::client::checks::Check;
use crate::client::rules;
use crate::client::scenario::Scenario;

impl Judge {
    pub(super) fn starttls(&mut self) {
        if self.tls {
            return self.reply(Reply::enhanced(503, code(5, 5, 1), "TLS already active"));
        }
        if !self.has_cap("STARTTLS") {
            return self.reply(Reply::enhanced(502, code(5, 5, 1), "STARTTLS not offered"));
        }
        let mut bytes = Reply::enhanced(220, code(2, 0, 0), "ready to start TLS").to_bytes();
        if self.cfg.scenario == Scenario::StartTlsInjection {
            // Plaintext that a careless client will take for the reply to
            // its EHLO inside TLS.
            bytes.extend_from_slice(b"250-injected.invalid\r\n250 PIPELINING\r\n");
        }
        self.send_raw(bytes, self.cfg.reply_delay);
        self.actions.push_back(Action::StartTls);
    }

    pub(super) fn auth(&mut self, mechanism: &str, initial: Option<String>) {
        if !self.tls {
            self.fault(Some(rules::auth_before_tls(mechanism)));
            return self.reply(Reply::enhanced(
                538,
                code(5, 7, 11),
                "encryption required for authentication",
            ));
        }
        self.findings
            .exercised(Check::NoAuthInClear, "AUTH only inside TLS");
        if self.authed {
            return self.reply(Reply::enhanced(503, code(5, 5, 1), "already authenticated"));
        }
        if self.txn.open {
            return self.reply(Reply::enhanced(
                503,
                code(5, 5, 1),
                "AUTH not permitted during a transaction",
            ));
        }
        match (mechanism, initial) {
            ("PLAIN", Some(_)) => self.authenticated(),
            ("PLAIN", None) => {
                self.phase = Phase::AuthPlain;
                self.reply(Reply::new(334, ""));
            }
            ("LOGIN", Some(_)) => {
                self.phase = Phase::AuthLogin { password: true };
                self.reply(Reply::new(334, smtp_wire::sasl::LOGIN_PASSWORD_PROMPT));
            }
            ("LOGIN", None) => {
                self.phase = Phase::AuthLogin { password: false };
                self.reply(Reply::new(334, smtp_wire::sasl::LOGIN_USERNAME_PROMPT));
            }
            ("OAUTHBEARER" | "XOAUTH2", initial) => {
                let Some(mechanism) = Mechanism::from_name(mechanism) else {
                    return;
                };
                match initial {
                    Some(message) => self.token_message(mechanism, message.as_bytes()),
                    None => {
                        self.phase = Phase::AuthToken(mechanism);
                        self.reply(Reply::new(334, ""));
                    }
                }
            }
            _ => self.reply(Reply::enhanced(
                504,
                code(5, 5, 4),
                "mechanism not supported",
            )),
        }
    }

    /// RFC 7628 §3.1 / XOAUTH2: the client message must carry a user and a
    /// bearer token; the judge accepts any token, and says what is wrong
    /// with a malformed message.
    fn token_message(&mut self, mechanism: Mechanism, line: &[u8]) {
        match ServerExchange::start(mechanism, std::str::from_utf8(line).ok()) {
            ServerStep::Done(_) => self.authenticated(),
            ServerStep::Fail(error) => {
                self.phase = Phase::Command;
                self.reply(Reply::enhanced(501, code(5, 5, 2), &error.to_string()));
            }
            ServerStep::Challenge(..) => {
                self.phase = Phase::Command;
                self.reply(Reply::enhanced(501, code(5, 5, 2), "empty client message"));
            }
        }
    }

    fn authenticated(&mut self) {
        self.authed = true;
        self.phase = Phase::Command;
        self.reply(Reply::enhanced(
            235,
            code(2, 7, 0),
            "authenticated (the judge accepts any credentials)",
        ));
    }

    pub(super) fn auth_response(&mut self, line: &[u8], was_early: bool) {
        if was_early {
            self.early_command("AUTH response");
        }
        self.current = Some("AUTH response");
        if line == b"*" {
            self.phase = Phase::Command;
            return self.reply(Reply::enhanced(501, code(5, 0, 0), "AUTH cancelled"));
        }
        if smtp_wire::sasl::decode(line).is_err() {
            self.phase = Phase::Command;
            return self.reply(Reply::enhanced(501, code(5, 5, 2), "invalid base64"));
        }
        match self.phase {
            Phase::AuthToken(mechanism) => self.token_message(mechanism, line),
            Phase::AuthLogin { password: false } => {
                self.phase = Phase::AuthLogin { password: true };
                self.reply(Reply::new(334, smtp_wire::sasl::LOGIN_PASSWORD_PROMPT));
            }
            _ => self.authenticated(),
        }
    }
}

//! AUTH typed in clear (RFC 4954): `AUTH PLAIN` and `AUTH LOGIN` encoded
//! for the user, the password never shown, each challenge answered.

use super::*;

impl Shell {
    /// `AUTH PLAIN [user [password]]` and `AUTH LOGIN [user [password]]`
    /// typed in clear; `None` for anything else (another mechanism, or
    /// PLAIN with its base64 already written, which go as typed).
    pub(super) fn auth_helper(&mut self, forced: bool, text: &str) -> Option<Step> {
        // AUTH, the mechanism, the user, and the rest of the line: the
        // password may hold spaces.
        let parts: Vec<&str> = text.splitn(4, ' ').collect();
        if !parts.first()?.eq_ignore_ascii_case("AUTH") {
            return None;
        }
        let helper = match parts.get(1)?.to_ascii_uppercase().as_str() {
            "PLAIN" => Helper::Plain,
            "LOGIN" => Helper::Login,
            _ => return None,
        };
        let user = parts.get(2).copied().filter(|u| !u.is_empty());
        let password = parts.get(3).map(|p| (*p).to_string());
        if helper == Helper::Plain
            && password.is_none()
            && user.is_some_and(|u| u == "=" || is_plain_message(u))
        {
            // Already encoded (RFC 4954 §4: "=" is an empty response).
            return None;
        }
        if !self.tls && !forced {
            return Some(Step::Print(self.plain_auth_refused(&format!(
                "AUTH {}{}",
                helper.name(),
                user.map(|u| format!(" {u}")).unwrap_or_default()
            ))));
        }
        let prepared = Prepared::Auth {
            helper,
            user: user.map(str::to_string),
            password,
        };
        if forced {
            return Some(self.commit(prepared));
        }
        let command = Command::Auth {
            mechanism: helper.name().to_string(),
            initial_response: None,
        };
        Some(self.commit_or_confirm(&command, prepared))
    }

    pub(super) fn plain_auth_refused(&self, typed: &str) -> Vec<String> {
        vec![
            self.warning(
                "not sent: AUTH on a connection without TLS shows the password to anyone on \
                 the path (PLAIN and LOGIN are only base64, not encryption: RFC 4616 §6, \
                 RFC 4954 §4 and §9)",
            ),
            self.note(&format!(
                "type STARTTLS first (then EHLO again), or !{typed} to send it anyway"
            )),
        ]
    }

    pub(super) fn send_auth(&mut self, helper: Helper, user: String, password: String) -> Step {
        if user.contains('\0') || password.contains('\0') {
            return Step::Print(vec![
                self.warning(&format!("not sent: {}", sasl::SaslError::NulInCredentials)),
            ]);
        }
        match helper {
            Helper::Plain => {
                let response = sasl::plain_response(&Credentials::new(&user, &password));
                // Shown as the transcript shows it: the secret redacted.
                let out = vec![
                    self.client("AUTH PLAIN <redacted>"),
                    self.note(&format!(
                        "sent for you: AUTH PLAIN and base64 of \"\\0{user}\\0********\" \
                         (RFC 4616 §2: authorization id, NUL, user, NUL, password; RFC 4954 \
                         §4: the initial response on the AUTH line)"
                    )),
                ];
                self.expect = Some(Expect::Auth);
                Step::Send {
                    out,
                    bytes: format!("AUTH PLAIN {response}\r\n").into_bytes(),
                }
            }
            Helper::Login => {
                let out = vec![
                    self.client("AUTH LOGIN"),
                    self.note(
                        "the tool answers the server's two 334 challenges for you: the user \
                         name, then the password, each in base64",
                    ),
                ];
                self.expect = Some(Expect::Login {
                    user,
                    password,
                    step: LoginStep::Sent,
                });
                Step::Send {
                    out,
                    bytes: b"AUTH LOGIN\r\n".to_vec(),
                }
            }
        }
    }

    /// The next AUTH LOGIN line, after a 334.
    pub(super) fn login_step(
        &mut self,
        mut out: Vec<String>,
        user: String,
        password: String,
        step: LoginStep,
    ) -> Answer {
        match step {
            LoginStep::Sent => {
                let encoded = sasl::encode(&user);
                out.push(self.client(&encoded));
                out.push(self.note(&format!("base64 of the user name \"{user}\"")));
                self.expect = Some(Expect::Login {
                    user,
                    password,
                    step: LoginStep::User,
                });
                Answer {
                    out,
                    next: Next::Send(format!("{encoded}\r\n").into_bytes()),
                }
            }
            LoginStep::User => {
                out.push(self.client("<redacted>"));
                out.push(self.note("the password, base64-encoded (masked here)"));
                let bytes = format!("{}\r\n", sasl::encode(&password)).into_bytes();
                self.expect = Some(Expect::Login {
                    user,
                    password,
                    step: LoginStep::Password,
                });
                Answer {
                    out,
                    next: Next::Send(bytes),
                }
            }
            LoginStep::Password => {
                out.push(self.note(
                    "a third challenge: LOGIN has no more to say; type a base64 response \
                     or * to cancel",
                ));
                self.phase = Phase::AuthResponse;
                Answer {
                    out,
                    next: Next::Input,
                }
            }
        }
    }

    /// The decoded text of a 334 challenge, when it is readable.
    pub(super) fn challenge(&self, reply: &Reply) -> Option<String> {
        let text = reply.first_line();
        let decoded = sasl::decode(text.trim().as_bytes()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        if decoded.is_empty() {
            return None;
        }
        Some(self.note(&format!(
            "the challenge decodes to \"{}\"",
            visible(&decoded)
        )))
    }

    /// A response to a 334, typed in base64 by the user.
    pub(super) fn auth_response(&mut self, line: &str) -> Step {
        self.phase = Phase::Commands;
        self.expect = Some(Expect::AuthResponse);
        let out = vec![self.client("<redacted>")];
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        Step::Send { out, bytes }
    }
}

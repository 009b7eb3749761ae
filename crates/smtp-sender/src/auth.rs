//! AUTH PLAIN and AUTH LOGIN (RFC 4954), sans-IO.
//!
//! ```text
//! C: AUTH PLAIN AGFsaWNlAHMzY3JldA==      (RFC 4616: authzid NUL authcid NUL passwd)
//! S: 235 2.7.0 Authentication successful
//!
//! C: AUTH LOGIN                            (draft-murchison-sasl-login)
//! S: 334 VXNlcm5hbWU6                      ("Username:")
//! C: YWxpY2U=
//! S: 334 UGFzc3dvcmQ6                      ("Password:")
//! C: czNjcmV0
//! S: 235 2.7.0 Authentication successful
//! ```
//! The secrets only ever exist base64-encoded in the bytes handed to the
//! driver; the smtp-wire [`Transcript`](smtp_wire::Transcript) redacts them
//! (the argument after `AUTH <mech>` and every line until a non-334 reply).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use smtp_wire::Reply;
use smtp_wire::command::Command;

use crate::config::Credentials;
use crate::error::SendError;

/// The SASL mechanisms this client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// RFC 4616, sent as an initial response (RFC 4954 §4): one round trip.
    Plain,
    /// The widespread LOGIN mechanism: user name and password in two steps.
    Login,
}

impl Mechanism {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }

    /// Picks from what the server offers (RFC 4954 §3: the EHLO `AUTH`
    /// keyword): PLAIN first (one round trip), then LOGIN.
    ///
    /// ```
    /// use smtp_sender::auth::Mechanism;
    /// let offered = vec!["LOGIN".to_string(), "CRAM-MD5".to_string()];
    /// assert_eq!(Mechanism::choose(&offered), Some(Mechanism::Login));
    /// assert_eq!(Mechanism::choose(&[]), None);
    /// ```
    pub fn choose(offered: &[String]) -> Option<Mechanism> {
        [Mechanism::Plain, Mechanism::Login]
            .into_iter()
            .find(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(m.name())))
    }
}

/// What to do after a reply during AUTH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthNext {
    /// Send this line (CRLF included) and read the next reply.
    Respond(Vec<u8>),
    /// Authenticated (235).
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Started,
    SentUsername,
    SentPassword,
    /// We answered an unexpected challenge with `*` (RFC 4954 §4: the client
    /// cancels); the reply that provoked it is kept for the error.
    Cancelled(Reply),
}

/// One AUTH exchange.
#[derive(Debug)]
pub struct Authenticator {
    mechanism: Mechanism,
    credentials: Credentials,
    state: State,
}

impl Authenticator {
    /// Prepares an exchange. PLAIN cannot carry a NUL inside the user name
    /// or password (RFC 4616 §2), so such credentials are refused here.
    pub fn new(mechanism: Mechanism, credentials: Credentials) -> Result<Self, SendError> {
        if mechanism == Mechanism::Plain
            && (credentials.username.contains('\0') || credentials.password().contains('\0'))
        {
            return Err(SendError::InvalidInput {
                what: "credentials",
                value: credentials.username.clone(),
                reason: "a NUL cannot be sent with AUTH PLAIN (RFC 4616 §2)".into(),
            });
        }
        Ok(Authenticator {
            mechanism,
            credentials,
            state: State::Started,
        })
    }

    /// The AUTH command that opens the exchange.
    pub fn command(&self) -> Command {
        let initial_response = match self.mechanism {
            // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd; no authzid.
            Mechanism::Plain => Some(BASE64.encode(format!(
                "\0{}\0{}",
                self.credentials.username,
                self.credentials.password()
            ))),
            Mechanism::Login => None,
        };
        Command::Auth {
            mechanism: self.mechanism.name().to_string(),
            initial_response,
        }
    }

    /// RFC 4954 §4: 334 is a challenge to answer, 235 success, anything else failure.
    pub fn on_reply(&mut self, reply: Reply) -> Result<AuthNext, SendError> {
        if let State::Cancelled(challenge) = &self.state {
            return Err(SendError::AuthFailed(challenge.clone()));
        }
        if reply.is_positive() {
            return Ok(AuthNext::Done);
        }
        if reply.code != 334 {
            return Err(SendError::AuthFailed(reply));
        }
        let answer = match (self.mechanism, &self.state) {
            (Mechanism::Login, State::Started) => {
                self.state = State::SentUsername;
                BASE64.encode(&self.credentials.username)
            }
            (Mechanism::Login, State::SentUsername) => {
                self.state = State::SentPassword;
                BASE64.encode(self.credentials.password())
            }
            // A challenge we have no answer for: cancel with "*" (RFC 4954 §4)
            // and read the server's 501 before reporting the failure.
            _ => {
                self.state = State::Cancelled(reply);
                "*".to_string()
            }
        };
        let mut line = answer.into_bytes();
        line.extend_from_slice(b"\r\n");
        Ok(AuthNext::Respond(line))
    }
}

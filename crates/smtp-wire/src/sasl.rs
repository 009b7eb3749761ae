//! SASL inside SMTP AUTH (RFC 4954), both directions, sans-IO: the PLAIN
//! (RFC 4616) and LOGIN mechanisms, their base64 encoding, and one
//! [`Credentials`] type for the client that presents them and the server
//! that checks them.
//!
//! ```text
//! C: AUTH PLAIN AGFsaWNlAHMzY3JldA==      initial response (RFC 4954 §4): authzid NUL authcid NUL passwd
//! S: 235 2.7.0 Authentication successful
//!
//! C: AUTH LOGIN                            (draft-murchison-sasl-login)
//! S: 334 VXNlcm5hbWU6                      "Username:"
//! C: YWxpY2U=
//! S: 334 UGFzc3dvcmQ6                      "Password:"
//! C: czNjcmV0
//! S: 235 2.7.0 Authentication successful
//! ```
//!
//! The client side is [`ClientExchange`]; the server side is
//! [`ServerExchange`]. Neither knows about replies or sockets: the caller
//! turns a [`SaslError`] into the reply its policy wants.
//!
//! ```
//! use smtp_wire::sasl::{ClientExchange, Credentials, Mechanism, ServerExchange, ServerStep};
//!
//! let alice = Credentials::new("alice", "s3cret");
//! let client = ClientExchange::new(Mechanism::Plain, alice.clone()).unwrap();
//! let initial = client.initial_response();            // Some("AGFsaWNlAHMzY3JldA==")
//! match ServerExchange::start(Mechanism::Plain, initial.as_deref()) {
//!     ServerStep::Done(presented) => assert_eq!(presented, alice),
//!     other => panic!("{other:?}"),
//! }
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A SASL mechanism this project speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// RFC 4616: one message, `[authzid] NUL authcid NUL passwd`.
    Plain,
    /// The widespread LOGIN mechanism (draft-murchison-sasl-login): user
    /// name and password in two steps.
    Login,
}

impl Mechanism {
    /// Every mechanism, in the client's order of preference: PLAIN first
    /// (one round trip with an initial response), then LOGIN.
    pub const ALL: [Mechanism; 2] = [Mechanism::Plain, Mechanism::Login];

    /// The name on the wire (RFC 4954 §3, upper case).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }

    /// The mechanism called `name` (any case), if this project speaks it.
    ///
    /// ```
    /// use smtp_wire::sasl::Mechanism;
    /// assert_eq!(Mechanism::from_name("login"), Some(Mechanism::Login));
    /// assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| name.eq_ignore_ascii_case(m.name()))
    }

    /// Picks from what a server offers (the EHLO `AUTH` keyword, RFC 4954
    /// §3), in the order of [`Mechanism::ALL`].
    ///
    /// ```
    /// use smtp_wire::sasl::Mechanism;
    /// let offered = ["LOGIN".to_string(), "CRAM-MD5".to_string()];
    /// assert_eq!(Mechanism::choose(&offered), Some(Mechanism::Login));
    /// assert_eq!(Mechanism::choose(&[]), None);
    /// ```
    pub fn choose(offered: &[String]) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(m.name())))
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A user name and password, as a client presents them and a server
/// receives them. `Debug` never shows the password.
///
/// ```
/// use smtp_wire::sasl::Credentials;
/// let c = Credentials::new("alice", "s3cret");
/// assert_eq!(c.password(), "s3cret");
/// assert!(!format!("{c:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// PLAIN's authorization identity (RFC 4616 §2), when one is given:
    /// the identity to act as, if not the user's own.
    pub authzid: Option<String>,
    /// The authentication identity (the user name).
    pub username: String,
    password: String,
}

impl Credentials {
    /// A user name and its password, with no authorization identity.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            authzid: None,
            username: username.into(),
            password: password.into(),
        }
    }

    /// The same credentials acting as `authzid` (RFC 4616 §2).
    pub fn with_authzid(mut self, authzid: impl Into<String>) -> Self {
        self.authzid = Some(authzid.into());
        self
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why a SASL exchange failed. The server turns each into its reply
/// (RFC 4954 §4 and §6 give the codes); the client reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client sent `*` (RFC 4954 §4).
    #[error("authentication cancelled")]
    Cancelled,
    /// A response line that is not base64 (RFC 4954 §4).
    #[error("invalid base64 in AUTH response")]
    InvalidBase64,
    /// A decoded message that does not have the mechanism's shape (PLAIN
    /// without its two NULs, an empty LOGIN user name, ...).
    #[error("malformed {0} response")]
    Malformed(Mechanism),
    /// Identities and passwords are UTF-8 (RFC 4616 §2).
    #[error("{0} response is not UTF-8")]
    NotUtf8(Mechanism),
    /// PLAIN without an authentication identity (RFC 4616 §2).
    #[error("PLAIN response without a user name")]
    NoUsername,
    /// A control character in an identity: no meaning in a user name, and
    /// refusing them keeps CR/LF and escape sequences out of checks and log
    /// lines. (A password may hold anything but NUL: it is never shown.)
    #[error("control characters not allowed in an identity")]
    ControlCharacters,
    /// PLAIN cannot carry a NUL inside an identity or the password
    /// (RFC 4616 §2); the client refuses such credentials before sending.
    #[error("a NUL cannot be sent with AUTH PLAIN (RFC 4616 section 2)")]
    NulInCredentials,
}

/// Base64 as SASL uses it inside SMTP (RFC 4954 §4: standard alphabet,
/// padded).
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    BASE64.encode(bytes)
}

/// Decodes one response line (without its CRLF). RFC 4954 §4: `=` stands
/// for an empty response; anything else must be base64.
///
/// ```
/// use smtp_wire::sasl::{decode, SaslError};
/// assert_eq!(decode(b"YWxpY2U=").unwrap(), b"alice");
/// assert_eq!(decode(b"=").unwrap(), b"");
/// assert_eq!(decode(b"not base64!"), Err(SaslError::InvalidBase64));
/// ```
pub fn decode(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    if line == b"=" {
        return Ok(Vec::new());
    }
    BASE64.decode(line).map_err(|_| SaslError::InvalidBase64)
}

/// The PLAIN message (RFC 4616 §2: `[authzid] NUL authcid NUL passwd`),
/// base64-encoded, as sent after `AUTH PLAIN`.
///
/// ```
/// use smtp_wire::sasl::{plain_response, Credentials};
/// assert_eq!(plain_response(&Credentials::new("alice", "s3cret")), "AGFsaWNlAHMzY3JldA==");
/// ```
pub fn plain_response(credentials: &Credentials) -> String {
    let authzid = credentials.authzid.as_deref().unwrap_or("");
    encode(format!(
        "{authzid}\0{}\0{}",
        credentials.username, credentials.password
    ))
}

/// base64("Username:"), LOGIN's first challenge.
pub const LOGIN_USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
/// base64("Password:"), LOGIN's second challenge.
pub const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

// ----- client side ----------------------------------------------------------

/// What the client does after a `334` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientStep {
    /// Send this response line (CRLF included) and read the next reply.
    Respond(Vec<u8>),
    /// A challenge the mechanism has no answer for: the client sent `*`
    /// (RFC 4954 §4, in [`Respond`](ClientStep::Respond) the step before)
    /// and the exchange has failed.
    Cancelled,
}

/// The client's side of one AUTH exchange. The caller sends
/// [`command_argument`](Self::command_argument) after `AUTH`, and hands
/// every `334` challenge to [`challenge`](Self::challenge); a `235` ends it
/// well, anything else badly.
#[derive(Debug)]
pub struct ClientExchange {
    mechanism: Mechanism,
    credentials: Credentials,
    answered: u8,
    cancelled: bool,
}

impl ClientExchange {
    /// Prepares an exchange. PLAIN cannot carry a NUL inside the user name
    /// or password (RFC 4616 §2), so such credentials are refused here,
    /// before anything is sent.
    pub fn new(mechanism: Mechanism, credentials: Credentials) -> Result<Self, SaslError> {
        let has_nul = |s: &str| s.contains('\0');
        if mechanism == Mechanism::Plain
            && (has_nul(&credentials.username)
                || has_nul(&credentials.password)
                || credentials.authzid.as_deref().is_some_and(has_nul))
        {
            return Err(SaslError::NulInCredentials);
        }
        Ok(ClientExchange {
            mechanism,
            credentials,
            answered: 0,
            cancelled: false,
        })
    }

    /// The mechanism in use.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The initial response sent with the AUTH command (RFC 4954 §4): the
    /// whole PLAIN message, saving a round trip; none for LOGIN.
    pub fn initial_response(&self) -> Option<String> {
        match self.mechanism {
            Mechanism::Plain => Some(plain_response(&self.credentials)),
            Mechanism::Login => None,
        }
    }

    /// True once the client cancelled the exchange with `*`.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Answers a `334` challenge (its text, still base64). LOGIN answers
    /// the first with the user name and the second with the password; any
    /// other challenge is cancelled with `*` (RFC 4954 §4), after which the
    /// server's reply ends the exchange as a failure.
    pub fn challenge(&mut self, _challenge: &str) -> ClientStep {
        if self.cancelled {
            return ClientStep::Cancelled;
        }
        let answer = match (self.mechanism, self.answered) {
            (Mechanism::Login, 0) => encode(&self.credentials.username),
            (Mechanism::Login, 1) => encode(&self.credentials.password),
            _ => {
                self.cancelled = true;
                "*".to_string()
            }
        };
        self.answered = self.answered.saturating_add(1);
        let mut line = answer.into_bytes();
        line.extend_from_slice(b"\r\n");
        ClientStep::Respond(line)
    }
}

// ----- server side ----------------------------------------------------------

/// Where a server's AUTH exchange stands while it waits for a response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerExchange {
    /// PLAIN without an initial response: waiting for the PLAIN message.
    Plain,
    /// LOGIN: waiting for the user name.
    LoginUsername,
    /// LOGIN: waiting for the password.
    LoginPassword {
        /// The user name already given.
        username: String,
    },
}

/// One step of a server's exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStep {
    /// Send `334 <challenge>` (already base64; empty for PLAIN's empty
    /// challenge) and pass the next line to [`ServerExchange::respond`].
    Challenge(&'static str, ServerExchange),
    /// The client presented these credentials: check them.
    Done(Credentials),
    /// The exchange failed.
    Fail(SaslError),
}

impl ServerExchange {
    /// Starts an exchange for `mechanism`, with the initial response from
    /// the AUTH command if there was one (RFC 4954 §4: `=` is an empty one).
    pub fn start(mechanism: Mechanism, initial: Option<&str>) -> ServerStep {
        let exchange = match mechanism {
            Mechanism::Plain => ServerExchange::Plain,
            Mechanism::Login => ServerExchange::LoginUsername,
        };
        match initial {
            Some(response) => exchange.respond(response.as_bytes()),
            None => ServerStep::Challenge(exchange.prompt(), exchange),
        }
    }

    /// The challenge that asks for this step's response.
    fn prompt(&self) -> &'static str {
        match self {
            ServerExchange::Plain => "",
            ServerExchange::LoginUsername => LOGIN_USERNAME_PROMPT,
            ServerExchange::LoginPassword { .. } => LOGIN_PASSWORD_PROMPT,
        }
    }

    /// Feeds one response line (without CRLF) into the exchange.
    pub fn respond(self, line: &[u8]) -> ServerStep {
        // RFC 4954 §4: a client cancels the exchange with a line holding "*".
        if line == b"*" {
            return ServerStep::Fail(SaslError::Cancelled);
        }
        let decoded = match decode(line) {
            Ok(decoded) => decoded,
            Err(error) => return ServerStep::Fail(error),
        };
        match self {
            ServerExchange::Plain => parse_plain(&decoded),
            ServerExchange::LoginUsername => match String::from_utf8(decoded) {
                Ok(username) if has_controls(&username) => {
                    ServerStep::Fail(SaslError::ControlCharacters)
                }
                Ok(username) if !username.is_empty() => {
                    let next = ServerExchange::LoginPassword { username };
                    ServerStep::Challenge(next.prompt(), next)
                }
                Ok(_) => ServerStep::Fail(SaslError::Malformed(Mechanism::Login)),
                Err(_) => ServerStep::Fail(SaslError::NotUtf8(Mechanism::Login)),
            },
            ServerExchange::LoginPassword { username } => match String::from_utf8(decoded) {
                Ok(password) => ServerStep::Done(Credentials {
                    authzid: None,
                    username,
                    password,
                }),
                Err(_) => ServerStep::Fail(SaslError::NotUtf8(Mechanism::Login)),
            },
        }
    }
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`, all UTF-8, authcid not empty.
fn parse_plain(message: &[u8]) -> ServerStep {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return ServerStep::Fail(SaslError::Malformed(Mechanism::Plain));
    };
    let (Ok(authzid), Ok(username), Ok(password)) = (
        std::str::from_utf8(authzid),
        std::str::from_utf8(authcid),
        std::str::from_utf8(passwd),
    ) else {
        return ServerStep::Fail(SaslError::NotUtf8(Mechanism::Plain));
    };
    if username.is_empty() {
        return ServerStep::Fail(SaslError::NoUsername);
    }
    if has_controls(authzid) || has_controls(username) {
        return ServerStep::Fail(SaslError::ControlCharacters);
    }
    ServerStep::Done(Credentials {
        authzid: (!authzid.is_empty()).then(|| authzid.to_string()),
        username: username.to_string(),
        password: password.to_string(),
    })
}

fn has_controls(identity: &str) -> bool {
    identity.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(step: ServerStep) -> Credentials {
        match step {
            ServerStep::Done(c) => c,
            other => panic!("expected credentials, got {other:?}"),
        }
    }

    fn failed(step: ServerStep) -> SaslError {
        match step {
            ServerStep::Fail(e) => e,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn challenge(step: ServerStep) -> (&'static str, ServerExchange) {
        match step {
            ServerStep::Challenge(prompt, next) => (prompt, next),
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    #[test]
    fn plain_round_trip_with_and_without_authzid() {
        for credentials in [
            Credentials::new("alice", "s3cret"),
            Credentials::new("alice", "pw").with_authzid("admin"),
        ] {
            let client = ClientExchange::new(Mechanism::Plain, credentials.clone()).unwrap();
            let initial = client.initial_response();
            assert_eq!(
                done(ServerExchange::start(Mechanism::Plain, initial.as_deref())),
                credentials
            );
        }
    }

    #[test]
    fn plain_with_an_empty_challenge() {
        let (prompt, next) = challenge(ServerExchange::start(Mechanism::Plain, None));
        assert_eq!(prompt, "");
        let presented = done(next.respond(encode(b"\0bob\0pw").as_bytes()));
        assert_eq!(
            (presented.username.as_str(), presented.password()),
            ("bob", "pw")
        );
    }

    #[test]
    fn login_round_trip() {
        let mut client =
            ClientExchange::new(Mechanism::Login, Credentials::new("carol", "pw")).unwrap();
        assert_eq!(client.initial_response(), None);
        let (prompt, next) = challenge(ServerExchange::start(Mechanism::Login, None));
        assert_eq!(prompt, LOGIN_USERNAME_PROMPT);
        let ClientStep::Respond(line) = client.challenge(prompt) else {
            panic!()
        };
        let (prompt, next) = challenge(next.respond(line.trim_ascii_end()));
        assert_eq!(prompt, LOGIN_PASSWORD_PROMPT);
        let ClientStep::Respond(line) = client.challenge(prompt) else {
            panic!()
        };
        let presented = done(next.respond(line.trim_ascii_end()));
        assert_eq!(
            (presented.username.as_str(), presented.password()),
            ("carol", "pw")
        );
        // A third challenge has no answer: the client cancels.
        assert_eq!(
            client.challenge("?"),
            ClientStep::Respond(b"*\r\n".to_vec())
        );
        assert!(client.is_cancelled());
        assert_eq!(client.challenge("?"), ClientStep::Cancelled);
    }

    #[test]
    fn login_with_the_user_name_as_initial_response() {
        let (prompt, _) = challenge(ServerExchange::start(
            Mechanism::Login,
            Some(&encode("dave")),
        ));
        assert_eq!(prompt, LOGIN_PASSWORD_PROMPT);
    }

    #[test]
    fn server_failures() {
        let plain = |bytes: &[u8]| ServerExchange::start(Mechanism::Plain, Some(&encode(bytes)));
        assert_eq!(
            failed(ServerExchange::Plain.respond(b"*")),
            SaslError::Cancelled
        );
        assert_eq!(
            failed(ServerExchange::Plain.respond(b"not base64!")),
            SaslError::InvalidBase64
        );
        assert_eq!(
            failed(ServerExchange::start(Mechanism::Plain, Some("="))),
            SaslError::Malformed(Mechanism::Plain)
        );
        assert_eq!(
            failed(plain(b"one-part")),
            SaslError::Malformed(Mechanism::Plain)
        );
        assert_eq!(failed(plain(b"\0\0pw")), SaslError::NoUsername);
        assert_eq!(
            failed(plain(b"\0a\xff\0pw")),
            SaslError::NotUtf8(Mechanism::Plain)
        );
        assert_eq!(failed(plain(b"\0a\r\nb\0pw")), SaslError::ControlCharacters);
        assert_eq!(
            failed(ServerExchange::LoginUsername.respond(b"=")),
            SaslError::Malformed(Mechanism::Login)
        );
    }

    #[test]
    fn the_client_refuses_a_nul_in_plain() {
        let nul = Credentials::new("a\0b", "pw");
        assert_eq!(
            ClientExchange::new(Mechanism::Plain, nul.clone()).err(),
            Some(SaslError::NulInCredentials)
        );
        assert!(ClientExchange::new(Mechanism::Login, nul).is_ok());
    }
}

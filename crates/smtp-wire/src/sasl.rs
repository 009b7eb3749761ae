//! SASL inside SMTP AUTH (RFC 4954), both directions, sans-IO: the PLAIN
//! (RFC 4616) and LOGIN mechanisms for passwords, OAUTHBEARER (RFC 7628)
//! and XOAUTH2 (Google's and Microsoft's submission servers) for OAuth 2.0
//! bearer tokens, their base64 encoding, one [`Credentials`] type for the
//! client that presents them and the server that checks them, and the
//! [`ServerMechanism`] trait through which a server adds any other.
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
//!
//! C: AUTH OAUTHBEARER bixhPWFsaWNlLAFhdXRoPUJlYXJlciB5YTI5LnZ2CgEB     RFC 7628 §3.1
//! S: 334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=  a refused token: an error challenge (§3.2.2)
//! C: AQ==                                      the client acknowledges with %x01 (§3.2.3)
//! S: 535 5.7.8 Authentication credentials invalid
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
    /// RFC 7628: an OAuth 2.0 bearer token, in a GS2 header and key-value
    /// pairs.
    OAuthBearer,
    /// Google's XOAUTH2 (also Microsoft's): `user=...^Aauth=Bearer ...^A^A`.
    XOAuth2,
    /// A mechanism a server added through [`ServerMechanism`], by its name.
    Custom(&'static str),
}

impl Mechanism {
    /// The mechanisms built in, in the client's order of preference:
    /// PLAIN (one round trip with an initial response), LOGIN, then the
    /// token mechanisms, standard first.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::OAuthBearer,
        Mechanism::XOAuth2,
    ];

    /// The name on the wire (RFC 4954 §3, upper case).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::Custom(name) => name,
        }
    }

    /// True for the mechanisms that carry a bearer token, not a password.
    pub fn takes_token(self) -> bool {
        matches!(self, Mechanism::OAuthBearer | Mechanism::XOAuth2)
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

    /// Picks a password mechanism from what a server offers (the EHLO
    /// `AUTH` keyword, RFC 4954 §3), PLAIN before LOGIN.
    ///
    /// ```
    /// use smtp_wire::sasl::Mechanism;
    /// let offered = ["LOGIN".to_string(), "CRAM-MD5".to_string()];
    /// assert_eq!(Mechanism::choose(&offered), Some(Mechanism::Login));
    /// assert_eq!(Mechanism::choose(&[]), None);
    /// ```
    pub fn choose(offered: &[String]) -> Option<Mechanism> {
        Mechanism::choose_for(&Credentials::new("", ""), offered)
    }

    /// Picks the mechanism for `credentials` from what a server offers:
    /// PLAIN or LOGIN for a password, OAUTHBEARER or XOAUTH2 for a bearer
    /// token (a token is never sent where a password is expected, nor
    /// the other way round).
    ///
    /// ```
    /// use smtp_wire::sasl::{Credentials, Mechanism};
    /// let offered = ["PLAIN".to_string(), "XOAUTH2".to_string()];
    /// let token = Credentials::bearer("alice@example.com", "ya29.token");
    /// assert_eq!(Mechanism::choose_for(&token, &offered), Some(Mechanism::XOAuth2));
    /// ```
    pub fn choose_for(credentials: &Credentials, offered: &[String]) -> Option<Mechanism> {
        let token = credentials.token().is_some();
        Mechanism::ALL
            .into_iter()
            .filter(|m| m.takes_token() == token)
            .filter(|m| credentials.only.is_none_or(|only| only == *m))
            .find(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(m.name())))
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A user name with its password or an OAuth 2.0 bearer token, as a
/// client presents them and a server receives them. `Debug` never shows
/// the secret.
///
/// ```
/// use smtp_wire::sasl::Credentials;
/// let c = Credentials::new("alice", "s3cret");
/// assert_eq!(c.password(), "s3cret");
/// assert!(!format!("{c:?}").contains("s3cret"));
/// let t = Credentials::bearer("alice", "ya29.token");
/// assert_eq!((t.token(), t.password()), (Some("ya29.token"), ""));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// PLAIN's authorization identity (RFC 4616 §2), when one is given:
    /// the identity to act as, if not the user's own.
    pub authzid: Option<String>,
    /// The authentication identity (the user name).
    pub username: String,
    secret: Secret,
    /// The one mechanism to use (a client's choice), if not the best offered.
    only: Option<Mechanism>,
}

/// What proves the identity.
#[derive(Clone, PartialEq, Eq)]
enum Secret {
    Password(String),
    /// RFC 6750 bearer token (RFC 7628 §3.1 `auth=Bearer <token>`).
    Bearer(String),
}

impl Credentials {
    /// A user name and its password, with no authorization identity.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            authzid: None,
            username: username.into(),
            secret: Secret::Password(password.into()),
            only: None,
        }
    }

    /// A user name and an OAuth 2.0 bearer token (RFC 6750), for
    /// OAUTHBEARER or XOAUTH2.
    pub fn bearer(username: impl Into<String>, token: impl Into<String>) -> Self {
        Credentials {
            authzid: None,
            username: username.into(),
            secret: Secret::Bearer(token.into()),
            only: None,
        }
    }

    /// The same credentials, presented with `mechanism` only (a client
    /// then fails when the server does not offer it, rather than pick
    /// another): for a server whose OAUTHBEARER misbehaves, or to test one
    /// mechanism.
    ///
    /// ```
    /// use smtp_wire::sasl::{Credentials, Mechanism};
    /// let token = Credentials::bearer("a", "t").with_mechanism(Mechanism::XOAuth2);
    /// let offered = ["OAUTHBEARER".to_string(), "XOAUTH2".to_string()];
    /// assert_eq!(Mechanism::choose_for(&token, &offered), Some(Mechanism::XOAuth2));
    /// assert_eq!(Mechanism::choose_for(&token, &offered[..1]), None);
    /// ```
    pub fn with_mechanism(mut self, mechanism: Mechanism) -> Self {
        self.only = Some(mechanism);
        self
    }

    /// The bearer token, for token credentials.
    pub fn token(&self) -> Option<&str> {
        match &self.secret {
            Secret::Bearer(token) => Some(token),
            Secret::Password(_) => None,
        }
    }

    /// The same credentials acting as `authzid` (RFC 4616 §2).
    pub fn with_authzid(mut self, authzid: impl Into<String>) -> Self {
        self.authzid = Some(authzid.into());
        self
    }

    /// The password; empty for token credentials (check [`token`](Self::token)
    /// first: a password check must refuse them).
    pub fn password(&self) -> &str {
        match &self.secret {
            Secret::Password(password) => password,
            Secret::Bearer(_) => "",
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field(
                if self.token().is_some() {
                    "token"
                } else {
                    "password"
                },
                &"<redacted>",
            )
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
    /// The token was refused (the reply the session kept follows).
    #[error("bearer token refused")]
    TokenRefused,
    /// A password for a token mechanism, or a token for a password one.
    #[error("{0} needs a bearer token for OAUTHBEARER/XOAUTH2, a password otherwise")]
    WrongSecret(Mechanism),
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
        credentials.username,
        credentials.password()
    ))
}

/// The XOAUTH2 message, base64-encoded: `user=NAME^Aauth=Bearer TOKEN^A^A`
/// (Google's definition, also Microsoft's).
///
/// ```
/// use smtp_wire::sasl::{decode, xoauth2_response};
/// let line = xoauth2_response("alice@example.com", "ya29.vv");
/// assert_eq!(decode(line.as_bytes()).unwrap(), b"user=alice@example.com\x01auth=Bearer ya29.vv\x01\x01");
/// ```
pub fn xoauth2_response(user: &str, token: &str) -> String {
    encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

/// The OAUTHBEARER client message (RFC 7628 §3.1), base64-encoded: the
/// GS2 header naming the user (`n,a=NAME,`, with `=` and `,` escaped as
/// RFC 5801 §4 says), then `^Aauth=Bearer TOKEN^A^A`.
///
/// ```
/// use smtp_wire::sasl::{decode, oauthbearer_response};
/// let line = oauthbearer_response("a,b=c@example.com", "vF9dft4qmT");
/// assert_eq!(decode(line.as_bytes()).unwrap(),
///            b"n,a=a=2Cb=3Dc@example.com,\x01auth=Bearer vF9dft4qmT\x01\x01");
/// ```
pub fn oauthbearer_response(user: &str, token: &str) -> String {
    let saslname = user.replace('=', "=3D").replace(',', "=2C");
    encode(format!("n,a={saslname},\x01auth=Bearer {token}\x01\x01"))
}

/// What a server sends as the RFC 7628 §3.2.2 error challenge when a token
/// is refused (base64 of `{"status":"invalid_token"}`); the client answers
/// it and then gets the failure reply.
pub fn oauth_error_challenge() -> String {
    encode(br#"{"status":"invalid_token","schemes":"bearer"}"#)
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
        if mechanism.takes_token() != credentials.token().is_some() {
            return Err(SaslError::WrongSecret(mechanism));
        }
        // The token mechanisms separate fields with ^A: one inside the
        // user name or the token would forge a field.
        if mechanism.takes_token()
            && (credentials.username.contains('\x01')
                || credentials.token().is_some_and(|t| t.contains('\x01')))
        {
            return Err(SaslError::ControlCharacters);
        }
        let has_nul = |s: &str| s.contains('\0');
        if mechanism == Mechanism::Plain
            && (has_nul(&credentials.username)
                || has_nul(credentials.password())
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
        let token = self.credentials.token().unwrap_or_default();
        let user = &self.credentials.username;
        match self.mechanism {
            Mechanism::Plain => Some(plain_response(&self.credentials)),
            Mechanism::OAuthBearer => Some(oauthbearer_response(user, token)),
            Mechanism::XOAuth2 => Some(xoauth2_response(user, token)),
            Mechanism::Login | Mechanism::Custom(_) => None,
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
            (Mechanism::Login, 1) => encode(self.credentials.password()),
            // RFC 7628 §3.2.3: a 334 after the token is the error
            // challenge; the client answers with a lone %x01 and the server
            // then sends its failure reply. XOAUTH2 answers with an empty
            // line (Google's definition).
            (Mechanism::OAuthBearer, 0) => encode(b"\x01"),
            (Mechanism::XOAuth2, 0) => String::new(),
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
    /// OAUTHBEARER or XOAUTH2 without an initial response: waiting for
    /// the client message.
    Token(Mechanism),
    /// A token was refused and the RFC 7628 §3.2.2 error challenge sent:
    /// waiting for the client's acknowledgement, after which the failure
    /// reply (kept by the session) is sent.
    TokenRefused,
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
            Mechanism::OAuthBearer | Mechanism::XOAuth2 => ServerExchange::Token(mechanism),
            // Run by the session through their ServerMechanism.
            Mechanism::Custom(_) => return ServerStep::Fail(SaslError::Malformed(mechanism)),
        };
        match initial {
            Some(response) => exchange.respond(response.as_bytes()),
            None => ServerStep::Challenge(exchange.prompt(), exchange),
        }
    }

    /// The challenge that asks for this step's response.
    fn prompt(&self) -> &'static str {
        match self {
            ServerExchange::Plain | ServerExchange::Token(_) | ServerExchange::TokenRefused => "",
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
            ServerExchange::Token(mechanism) => parse_token(mechanism, &decoded),
            // Whatever the acknowledgement says, the refusal stands.
            ServerExchange::TokenRefused => ServerStep::Fail(SaslError::TokenRefused),
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
                Ok(password) => ServerStep::Done(Credentials::new(username, password)),
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
    let credentials = Credentials::new(username, password);
    ServerStep::Done(if authzid.is_empty() {
        credentials
    } else {
        credentials.with_authzid(authzid)
    })
}

/// OAUTHBEARER (RFC 7628 §3.1: `gs2-header kvsep *(kvpair) kvsep`, the user
/// in the GS2 header's `a=`) or XOAUTH2 (`user=` as the first pair): the
/// user and the token of `auth=Bearer TOKEN`.
fn parse_token(mechanism: Mechanism, message: &[u8]) -> ServerStep {
    let malformed = ServerStep::Fail(SaslError::Malformed(mechanism));
    let Ok(text) = std::str::from_utf8(message) else {
        return ServerStep::Fail(SaslError::NotUtf8(mechanism));
    };
    let mut fields = text.split('\x01');
    let user = match mechanism {
        Mechanism::OAuthBearer => {
            // "n,a=user," (or "y,..."/"p=..." channel binding flags).
            let Some(gs2) = fields.next() else {
                return malformed;
            };
            gs2.split(',')
                .find_map(|part| part.strip_prefix("a="))
                .map(|name| name.replace("=2C", ",").replace("=3D", "="))
        }
        _ => None,
    };
    let mut user = user;
    let mut token = None;
    for field in fields {
        if let Some(name) = field.strip_prefix("user=") {
            user = Some(name.to_string());
        } else if let Some(auth) = field.strip_prefix("auth=") {
            // RFC 6750 §2.1: the scheme name is case-insensitive.
            if auth.len() > 7 && auth[..7].eq_ignore_ascii_case("Bearer ") {
                token = Some(auth[7..].to_string());
            }
        }
    }
    match (user, token) {
        (Some(user), Some(token)) if !user.is_empty() && !token.is_empty() => {
            if has_controls(&user) || has_controls(&token) {
                return ServerStep::Fail(SaslError::ControlCharacters);
            }
            ServerStep::Done(Credentials::bearer(user, token))
        }
        (None, Some(_)) | (Some(_), Some(_)) => ServerStep::Fail(SaslError::NoUsername),
        _ => malformed,
    }
}

// ----- mechanisms a server adds ----------------------------------------------

/// A SASL mechanism a server runs besides the built-in ones: implement it,
/// register it in the receiver's session configuration, and it is
/// advertised in EHLO's `AUTH` line and run for `AUTH NAME` without any
/// change to the session machine (RFC 4954 §4: challenges and responses
/// are base64; the session encodes and decodes them).
///
/// ```
/// use smtp_wire::sasl::{Credentials, MechanismExchange, MechanismStep, ServerMechanism};
///
/// /// `AUTH X-TOKEN <base64 of user:token>` in one step.
/// #[derive(Debug)]
/// struct XToken;
/// #[derive(Debug)]
/// struct XTokenExchange;
///
/// impl ServerMechanism for XToken {
///     fn name(&self) -> &'static str { "X-TOKEN" }
///     fn start(&self) -> Box<dyn MechanismExchange> { Box::new(XTokenExchange) }
/// }
///
/// impl MechanismExchange for XTokenExchange {
///     fn step(&mut self, response: Option<&[u8]>) -> MechanismStep {
///         let Some(response) = response else { return MechanismStep::Challenge(Vec::new()) };
///         match std::str::from_utf8(response).ok().and_then(|t| t.split_once(':')) {
///             Some((user, token)) => MechanismStep::Done(Credentials::bearer(user, token)),
///             None => MechanismStep::Fail("expected user:token".into()),
///         }
///     }
/// }
///
/// let mut exchange = XToken.start();
/// assert!(matches!(exchange.step(None), MechanismStep::Challenge(_)));
/// assert!(matches!(exchange.step(Some(b"bob:t0k")), MechanismStep::Done(c) if c.token() == Some("t0k")));
/// ```
pub trait ServerMechanism: fmt::Debug + Send + Sync {
    /// The mechanism's name, upper case (RFC 4954 §3).
    fn name(&self) -> &'static str;
    /// A new exchange, for one AUTH command.
    fn start(&self) -> Box<dyn MechanismExchange>;
}

/// One AUTH exchange of a [`ServerMechanism`].
pub trait MechanismExchange: fmt::Debug + Send {
    /// The next step. `response` is the decoded initial response of the
    /// AUTH command, or `None` when it had none; after a
    /// [`Challenge`](MechanismStep::Challenge), the client's decoded answer.
    fn step(&mut self, response: Option<&[u8]>) -> MechanismStep;
}

/// What a [`MechanismExchange`] wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MechanismStep {
    /// Send `334` with these octets base64-encoded, and wait for an answer.
    Challenge(Vec<u8>),
    /// The client presented these credentials: the application checks them.
    Done(Credentials),
    /// The exchange failed (the session answers `501 5.5.2` with this text).
    Fail(String),
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

    #[test]
    fn token_mechanisms_round_trip() {
        for mechanism in [Mechanism::OAuthBearer, Mechanism::XOAuth2] {
            let token = Credentials::bearer("a,b=c@example.com", "ya29.t-k_n");
            let client = ClientExchange::new(mechanism, token.clone()).unwrap();
            let initial = client.initial_response();
            assert_eq!(
                done(ServerExchange::start(mechanism, initial.as_deref())),
                token,
                "{mechanism}"
            );
            // Without an initial response: an empty challenge first.
            let (prompt, next) = challenge(ServerExchange::start(mechanism, None));
            assert_eq!(prompt, "");
            assert_eq!(done(next.respond(initial.unwrap().as_bytes())), token);
        }
    }

    #[test]
    fn the_token_error_challenge_is_acknowledged() {
        let token = Credentials::bearer("alice", "expired");
        let mut bearer = ClientExchange::new(Mechanism::OAuthBearer, token.clone()).unwrap();
        let ClientStep::Respond(ack) = bearer.challenge(&oauth_error_challenge()) else {
            panic!()
        };
        assert_eq!(ack, b"AQ==\r\n", "RFC 7628 §3.2.3: %x01");
        assert!(!bearer.is_cancelled());
        let mut xoauth2 = ClientExchange::new(Mechanism::XOAuth2, token).unwrap();
        assert_eq!(
            xoauth2.challenge("e30="),
            ClientStep::Respond(b"\r\n".to_vec())
        );
        assert_eq!(
            failed(ServerExchange::TokenRefused.respond(b"AQ==")),
            SaslError::TokenRefused
        );
    }

    #[test]
    fn tokens_and_passwords_do_not_mix() {
        assert_eq!(
            ClientExchange::new(Mechanism::Plain, Credentials::bearer("a", "t")).unwrap_err(),
            SaslError::WrongSecret(Mechanism::Plain)
        );
        assert_eq!(
            ClientExchange::new(Mechanism::XOAuth2, Credentials::new("a", "pw")).unwrap_err(),
            SaslError::WrongSecret(Mechanism::XOAuth2)
        );
        assert_eq!(
            ClientExchange::new(Mechanism::XOAuth2, Credentials::bearer("a\x01auth=x", "t"))
                .unwrap_err(),
            SaslError::ControlCharacters
        );
        let offered = [
            "PLAIN".to_string(),
            "OAUTHBEARER".to_string(),
            "XOAUTH2".to_string(),
        ];
        let token = Credentials::bearer("a", "t");
        assert_eq!(
            Mechanism::choose_for(&token, &offered),
            Some(Mechanism::OAuthBearer)
        );
        assert_eq!(Mechanism::choose(&offered), Some(Mechanism::Plain));
        assert_eq!(Mechanism::choose_for(&token, &offered[..1]), None);
        assert!(
            format!("{:?}", Credentials::bearer("a", "SECRET")).contains("token: \"<redacted>\"")
        );
    }

    #[test]
    fn malformed_token_messages_fail() {
        let start = |m, bytes: &[u8]| ServerExchange::start(m, Some(&encode(bytes)));
        assert_eq!(
            failed(start(Mechanism::XOAuth2, b"user=a\x01\x01")),
            SaslError::Malformed(Mechanism::XOAuth2)
        );
        assert_eq!(
            failed(start(Mechanism::XOAuth2, b"auth=Bearer t\x01\x01")),
            SaslError::NoUsername
        );
        assert_eq!(
            failed(start(
                Mechanism::OAuthBearer,
                b"n,,\x01auth=Bearer t\x01\x01"
            )),
            SaslError::NoUsername
        );
        assert_eq!(
            failed(start(
                Mechanism::OAuthBearer,
                b"n,a=x\r\ny,\x01auth=Bearer t\x01\x01"
            )),
            SaslError::ControlCharacters
        );
        assert_eq!(
            failed(start(Mechanism::OAuthBearer, &[0xff, 0xfe])),
            SaslError::NotUtf8(Mechanism::OAuthBearer)
        );
    }
}

//! The server side of SASL PLAIN (RFC 4616) and LOGIN inside SMTP AUTH
//! (RFC 4954), sans-IO: a line in, a challenge or a result out.
//!
//! ```text
//! C: AUTH PLAIN AGFsaWNlAHNlY3JldA==          initial response (RFC 4954 §4)
//! S: 235 2.7.0 Authentication successful
//!
//! C: AUTH LOGIN
//! S: 334 VXNlcm5hbWU6                          "Username:"
//! C: YWxpY2U=
//! S: 334 UGFzc3dvcmQ6                          "Password:"
//! C: c2VjcmV0
//! S: 235 2.7.0 Authentication successful
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use smtp_wire::Reply;

use super::replies;

/// A SASL mechanism the receiver offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// The de-facto LOGIN mechanism (draft-murchison-sasl-login).
    Login,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        })
    }
}

/// What a client presented in AUTH. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The mechanism used.
    pub mechanism: Mechanism,
    /// PLAIN's authorization identity, when the client gave one.
    pub authzid: Option<String>,
    /// The user name (authentication identity).
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("mechanism", &self.mechanism)
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where an AUTH exchange stands while the server waits for a response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// PLAIN without an initial response: waiting for the PLAIN message.
    Plain,
    /// LOGIN: waiting for the user name.
    LoginUsername,
    /// LOGIN: waiting for the password.
    LoginPassword { username: String },
}

/// The outcome of one step of the exchange.
pub(crate) enum Step {
    /// Send this 334 challenge and wait for the next line.
    Challenge(Reply, Exchange),
    /// The client presented these credentials: ask the application.
    Done(Credentials),
    /// The exchange failed (cancelled, bad base64, malformed message).
    Fail(Reply),
}

const USERNAME_PROMPT: &str = "VXNlcm5hbWU6"; // base64("Username:")
const PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6"; // base64("Password:")

/// Starts an exchange for `mechanism` (already upper-cased by the parser)
/// with an optional initial response (RFC 4954 §4: `=` stands for an empty one).
pub(crate) fn start(mechanism: &str, initial: Option<&str>) -> Step {
    match (mechanism, initial) {
        ("PLAIN", None) => Step::Challenge(replies::auth_challenge(""), Exchange::Plain),
        ("PLAIN", Some(response)) => respond(Exchange::Plain, response.as_bytes()),
        ("LOGIN", None) => Step::Challenge(
            replies::auth_challenge(USERNAME_PROMPT),
            Exchange::LoginUsername,
        ),
        ("LOGIN", Some(response)) => respond(Exchange::LoginUsername, response.as_bytes()),
        _ => Step::Fail(replies::auth_unknown_mechanism()),
    }
}

/// Feeds one response line (without CRLF) into the exchange.
pub(crate) fn respond(state: Exchange, line: &[u8]) -> Step {
    // RFC 4954 §4: a client cancels the exchange with a line holding "*".
    if line == b"*" {
        return Step::Fail(replies::auth_cancelled());
    }
    let decoded = match decode(line) {
        Ok(decoded) => decoded,
        Err(reply) => return Step::Fail(reply),
    };
    match state {
        Exchange::Plain => parse_plain(&decoded),
        Exchange::LoginUsername => match String::from_utf8(decoded) {
            Ok(username) if has_controls(&username) => Step::Fail(controls_refused()),
            Ok(username) if !username.is_empty() => Step::Challenge(
                replies::auth_challenge(PASSWORD_PROMPT),
                Exchange::LoginPassword { username },
            ),
            _ => Step::Fail(replies::auth_bad_response("Malformed LOGIN user name")),
        },
        Exchange::LoginPassword { username } => match String::from_utf8(decoded) {
            Ok(password) => Step::Done(Credentials {
                mechanism: Mechanism::Login,
                authzid: None,
                username,
                password,
            }),
            Err(_) => Step::Fail(replies::auth_bad_response("Malformed LOGIN password")),
        },
    }
}

/// RFC 4954 §4: "=" is an empty response; anything else must be base64,
/// or the server rejects the AUTH command with 501.
fn decode(line: &[u8]) -> Result<Vec<u8>, Reply> {
    if line == b"=" {
        return Ok(Vec::new());
    }
    BASE64
        .decode(line)
        .map_err(|_| replies::auth_bad_response("Invalid base64 in AUTH response"))
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`, all UTF-8, authcid not empty.
fn parse_plain(message: &[u8]) -> Step {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Step::Fail(replies::auth_bad_response("Malformed PLAIN response"));
    };
    let (Ok(authzid), Ok(username), Ok(password)) = (
        std::str::from_utf8(authzid),
        std::str::from_utf8(authcid),
        std::str::from_utf8(passwd),
    ) else {
        return Step::Fail(replies::auth_bad_response("PLAIN response is not UTF-8"));
    };
    if username.is_empty() {
        return Step::Fail(replies::auth_bad_response(
            "PLAIN response without a user name",
        ));
    }
    if has_controls(authzid) || has_controls(username) {
        return Step::Fail(controls_refused());
    }
    Step::Done(Credentials {
        mechanism: Mechanism::Plain,
        authzid: (!authzid.is_empty()).then(|| authzid.to_string()),
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// RFC 4616 §2: identities are UTF8SAFE (no NUL); control characters have
/// no meaning in a user name either, and refusing them keeps CR/LF and
/// escape sequences out of the application's checks and log lines. (The
/// password may hold anything but NUL: it is never shown.)
fn has_controls(identity: &str) -> bool {
    identity.chars().any(char::is_control)
}

fn controls_refused() -> Reply {
    replies::auth_bad_response("Control characters not allowed in an identity")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        BASE64.encode(s)
    }

    fn done(step: Step) -> Credentials {
        match step {
            Step::Done(c) => c,
            Step::Challenge(r, _) | Step::Fail(r) => panic!("expected credentials, got {r}"),
        }
    }

    fn failed(step: Step) -> Reply {
        match step {
            Step::Fail(r) => r,
            Step::Challenge(r, _) => panic!("expected failure, got challenge {r}"),
            Step::Done(c) => panic!("expected failure, got {c:?}"),
        }
    }

    #[test]
    fn plain_with_initial_response() {
        let c = done(start("PLAIN", Some(&b64(b"\0alice\0s3cret"))));
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("alice", "s3cret")
        );
        assert_eq!(c.authzid, None);
        let c = done(start("PLAIN", Some(&b64(b"admin\0alice\0pw"))));
        assert_eq!(c.authzid.as_deref(), Some("admin"));
    }

    #[test]
    fn plain_with_challenge() {
        let Step::Challenge(reply, state) = start("PLAIN", None) else {
            panic!()
        };
        assert_eq!((reply.code, reply.text()), (334, String::new()));
        let c = done(respond(state, b64(b"\0bob\0pw").as_bytes()));
        assert_eq!(c.username, "bob");
    }

    #[test]
    fn login_two_steps() {
        let Step::Challenge(reply, state) = start("LOGIN", None) else {
            panic!()
        };
        assert_eq!(reply.text(), USERNAME_PROMPT);
        let Step::Challenge(reply, state) = respond(state, b64(b"carol").as_bytes()) else {
            panic!()
        };
        assert_eq!(reply.text(), PASSWORD_PROMPT);
        let c = done(respond(state, b64(b"pw").as_bytes()));
        assert_eq!(
            (c.mechanism, c.username.as_str(), c.password.as_str()),
            (Mechanism::Login, "carol", "pw")
        );
    }

    #[test]
    fn login_with_initial_user_name() {
        let Step::Challenge(reply, _) = start("LOGIN", Some(&b64(b"dave"))) else {
            panic!()
        };
        assert_eq!(reply.text(), PASSWORD_PROMPT);
    }

    #[test]
    fn failures_have_the_rfc4954_codes() {
        assert_eq!(failed(respond(Exchange::Plain, b"*")).code, 501);
        assert_eq!(failed(respond(Exchange::Plain, b"not base64!")).code, 501);
        assert_eq!(failed(start("PLAIN", Some("="))).code, 501);
        assert_eq!(
            failed(start("PLAIN", Some(&b64(b"only-one-part")))).code,
            501
        );
        assert_eq!(failed(start("PLAIN", Some(&b64(b"\0\0pw")))).code, 501);
        assert_eq!(failed(start("CRAM-MD5", None)).code, 504);
    }

    #[test]
    fn debug_hides_the_password() {
        let c = done(start("PLAIN", Some(&b64(b"\0alice\0s3cret"))));
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}

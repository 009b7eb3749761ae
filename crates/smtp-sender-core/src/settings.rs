//! The choices that shape a session and that the protocol itself needs:
//! the TLS mode and the RFC 5321 §4.5.3.2 timeouts. (Where to connect and
//! which certificates to trust is the driver's business.)

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How the connection is protected by TLS.
///
/// ```
/// use smtp_sender_core::TlsMode;
/// assert_eq!(TlsMode::default_for_port(465), TlsMode::Implicit);
/// assert_eq!(TlsMode::default_for_port(587), TlsMode::StartTls);
/// assert_eq!("opportunistic".parse::<TlsMode>(), Ok(TlsMode::Opportunistic));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// RFC 8314 §3: TLS from the first byte (port 465, "submissions").
    Implicit,
    /// RFC 3207, required: if STARTTLS is not offered, is refused or the
    /// handshake fails, stop before AUTH or MAIL.
    StartTls,
    /// RFC 3207 when the server offers it; plain text otherwise. The
    /// certificate is still verified when TLS is used.
    Opportunistic,
    /// No TLS at all (explicit choice; AUTH is then refused unless
    /// plaintext AUTH is allowed explicitly).
    None,
}

impl TlsMode {
    /// The default for a port: `Implicit` on 465 (RFC 8314 §3.3), `StartTls` elsewhere.
    pub fn default_for_port(port: u16) -> TlsMode {
        if port == 465 {
            TlsMode::Implicit
        } else {
            TlsMode::StartTls
        }
    }

    /// How long a server may stay silent before the client suspects the
    /// wrong TLS mode, when the mode was chosen by
    /// [`TlsMode::default_for_port`] (see [`SILENCE_LIMIT`]): `None` on
    /// port 465 (the client speaks first) and on port 25, where servers
    /// delay their greeting on purpose and no implicit-TLS service exists;
    /// [`SILENCE_LIMIT`] on every other port.
    ///
    /// ```
    /// use smtp_sender_core::{SILENCE_LIMIT, TlsMode};
    /// assert_eq!(TlsMode::default_silence_limit(25), None);
    /// assert_eq!(TlsMode::default_silence_limit(465), None);
    /// assert_eq!(TlsMode::default_silence_limit(587), Some(SILENCE_LIMIT));
    /// assert_eq!(TlsMode::default_silence_limit(4650), Some(SILENCE_LIMIT));
    /// ```
    pub fn default_silence_limit(port: u16) -> Option<Duration> {
        match port {
            25 | 465 => None,
            _ => Some(SILENCE_LIMIT),
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Implicit => "implicit",
            TlsMode::StartTls => "starttls",
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::None => "none",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "implicit" | "tls" | "smtps" => Ok(TlsMode::Implicit),
            // "require": the word MTAs use for this level (Postfix's
            // smtp_tls_security_level = encrypt).
            "starttls" | "require" | "required" => Ok(TlsMode::StartTls),
            "opportunistic" => Ok(TlsMode::Opportunistic),
            "none" | "plain" => Ok(TlsMode::None),
            other => Err(format!(
                "unknown TLS mode {other:?} (expected implicit, starttls, opportunistic or none)"
            )),
        }
    }
}

/// How long a server that has sent nothing at all may keep the client
/// waiting for its greeting when the TLS mode was not chosen explicitly:
/// 10 s.
///
/// A server on an implicit-TLS port (RFC 8314 §3.3) says nothing: it waits
/// for the client's TLS ClientHello, while a STARTTLS client waits for a
/// plain-text greeting (RFC 5321 §3.1), so both sides wait until one gives
/// up. RFC 5321 §4.5.3.2.1 lets a client wait 5 minutes for the greeting,
/// and servers do delay it on purpose (Postfix's postscreen for about 6 s,
/// sendmail's `greet_pause` typically 5 s), so the limit is a little
/// longer than those delays and far shorter than the RFC's: a client that
/// chose its mode from the port stops after it and says "try --tls
/// implicit" ([`TransportError::NoGreeting`](crate::TransportError::NoGreeting)).
/// An explicitly chosen mode keeps the RFC timeouts, and a server that
/// sends any byte (e.g. postscreen's `220-` first line) is not silent.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(10);

/// How long to wait for each step, RFC 5321 §4.5.3.2 (all configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the TCP connection (not in the RFC; 60 s).
    pub connect: Duration,
    /// §4.5.3.2.1 Initial 220 message: 5 minutes.
    pub greeting: Duration,
    /// §4.5.3.2.2 MAIL command: 5 minutes.
    pub mail: Duration,
    /// §4.5.3.2.3 RCPT command: 5 minutes.
    pub rcpt: Duration,
    /// §4.5.3.2.4 DATA initiation (waiting for 354): 2 minutes.
    pub data_init: Duration,
    /// §4.5.3.2.5 Data block (each write of message content): 3 minutes.
    pub data_block: Duration,
    /// §4.5.3.2.6 DATA termination (the reply after `.`): 10 minutes.
    pub data_termination: Duration,
    /// Every other command (EHLO, STARTTLS and its handshake, AUTH, RSET,
    /// QUIT): 5 minutes, like MAIL.
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        const MINUTE: Duration = Duration::from_secs(60);
        Timeouts {
            connect: MINUTE,
            greeting: 5 * MINUTE,
            mail: 5 * MINUTE,
            rcpt: 5 * MINUTE,
            data_init: 2 * MINUTE,
            data_block: 3 * MINUTE,
            data_termination: 10 * MINUTE,
            command: 5 * MINUTE,
        }
    }
}

impl Timeouts {
    /// Every timeout set to the same value (handy in tests).
    pub fn all(d: Duration) -> Self {
        Timeouts {
            connect: d,
            greeting: d,
            mail: d,
            rcpt: d,
            data_init: d,
            data_block: d,
            data_termination: d,
            command: d,
        }
    }
}

//! How to reach the server and how to talk to it: [`ClientConfig`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use smtp_wire::transcript::TranscriptLimits;

/// How the connection is protected by TLS.
///
/// ```
/// use smtp_sender::TlsMode;
/// assert_eq!(TlsMode::default_for_port(465), TlsMode::Implicit);
/// assert_eq!(TlsMode::default_for_port(587), TlsMode::StartTls);
/// assert_eq!("opportunistic".parse::<TlsMode>().unwrap(), TlsMode::Opportunistic);
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
    /// [`ClientConfig::allow_plaintext_auth`] is set).
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
            "starttls" => Ok(TlsMode::StartTls),
            "opportunistic" => Ok(TlsMode::Opportunistic),
            "none" | "plain" => Ok(TlsMode::None),
            other => Err(format!(
                "unknown TLS mode {other:?} (expected implicit, starttls, opportunistic or none)"
            )),
        }
    }
}

/// A user name and password for AUTH (RFC 4954).
///
/// The password never appears in `Debug` output, logs or transcripts.
///
/// ```
/// use smtp_sender::Credentials;
/// let c = Credentials::new("alice", "s3cret");
/// assert!(!format!("{c:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity.
    pub username: String,
    password: String,
}

impl Credentials {
    /// Bundles a user name and its password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The password (only the AUTH encoder needs it).
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

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

/// Everything [`Client::connect`](crate::Client::connect) needs.
///
/// ```
/// use smtp_sender::{ClientConfig, Credentials, TlsMode};
/// let mut config = ClientConfig::new("mail.example.com", 587);
/// assert_eq!(config.tls, TlsMode::StartTls);
/// config.credentials = Some(Credentials::new("alice", "s3cret"));
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server's host name or IP address.
    pub host: String,
    /// The server's port (25, 465, 587, ...).
    pub port: u16,
    /// TLS mode; [`ClientConfig::new`] picks [`TlsMode::default_for_port`].
    pub tls: TlsMode,
    /// A PEM file of extra trust anchors (private CA), added to the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The name to send as SNI and to check the certificate against;
    /// `host` when `None`.
    pub servername: Option<String>,
    /// Accept any certificate. Dangerous: anyone on the path can read and
    /// change the mail. A warning is logged each time it is used.
    pub insecure_skip_verify: bool,
    /// The name sent with EHLO/HELO (RFC 5321 §4.1.4: the client's FQDN, or an
    /// address literal). `None`: the machine's host name, or the local IP
    /// address as a literal when the host name is not a usable domain.
    pub ehlo_name: Option<String>,
    /// Authenticate with these (AUTH PLAIN or LOGIN, whichever the server offers).
    pub credentials: Option<Credentials>,
    /// Allow credentials over an unencrypted connection (RFC 4954 §4 warns
    /// against it). Off by default.
    pub allow_plaintext_auth: bool,
    /// Use PIPELINING (RFC 2920) when the server offers it. On by default.
    pub pipelining: bool,
    /// Use CHUNKING/BDAT (RFC 3030) when the server offers it. Off by default.
    pub chunking: bool,
    /// Speak plain RFC 821: HELO, no extensions (EHLO is still sent first
    /// when it is needed to learn about STARTTLS).
    pub classic: bool,
    /// RFC 5321 §4.5.3.2 timeouts.
    pub timeouts: Timeouts,
    /// How much of each message body the transcript keeps (the commands and
    /// replies are always kept; bodies are cut to their first and last lines
    /// so memory stays bounded).
    pub transcript_limits: TranscriptLimits,
}

impl ClientConfig {
    /// A configuration with safe defaults: TLS chosen by port (implicit on
    /// 465, required STARTTLS elsewhere), verification on with the system's
    /// trust roots, pipelining on, chunking off, RFC 5321 timeouts.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ClientConfig {
            host: host.into(),
            port,
            tls: TlsMode::default_for_port(port),
            ca_file: None,
            servername: None,
            insecure_skip_verify: false,
            ehlo_name: None,
            credentials: None,
            allow_plaintext_auth: false,
            pipelining: true,
            chunking: false,
            classic: false,
            timeouts: Timeouts::default(),
            transcript_limits: TranscriptLimits::default(),
        }
    }

    /// The name the certificate must match: `servername`, else `host`.
    pub fn tls_name(&self) -> &str {
        self.servername.as_deref().unwrap_or(&self.host)
    }
}

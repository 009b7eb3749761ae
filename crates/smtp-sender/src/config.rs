//! How to reach the server and how to talk to it: [`ClientConfig`], and
//! [`ClientConfigBuilder`] to write one in a single expression.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use smtp_sender_core::{Credentials, Timeouts, TlsMode, TranscriptLimits};

/// Everything [`Client::connect`](crate::Client::connect) needs.
///
/// Its fields are public: set them after [`ClientConfig::new`], or use
/// [`ClientConfig::builder`]. New fields may come (`#[non_exhaustive]`),
/// so it is never written as a struct literal.
///
/// ```
/// use smtp_sender::{ClientConfig, Credentials, TlsMode};
/// let mut config = ClientConfig::new("mail.example.com", 587);
/// assert_eq!(config.tls, TlsMode::StartTls);
/// assert_eq!(config.silence_limit, Some(std::time::Duration::from_secs(10)));
/// config.credentials = Some(Credentials::new("alice", "s3cret"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The server's host name or IP address.
    pub host: String,
    /// The server's port (25, 465, 587, ...).
    pub port: u16,
    /// TLS mode; [`ClientConfig::new`] picks [`TlsMode::default_for_port`].
    pub tls: TlsMode,
    /// How long a server that has sent nothing at all may keep the client
    /// waiting for its plain-text greeting before the session stops with
    /// [`TransportError::NoGreeting`](crate::TransportError::NoGreeting)
    /// ("this port may expect implicit TLS (RFC 8314); try --tls
    /// implicit"): a STARTTLS client on an implicit-TLS port would
    /// otherwise wait until one side gives up. [`ClientConfig::new`] sets
    /// [`TlsMode::default_silence_limit`] (10 s except on ports 25 and
    /// 465), because the mode was guessed from the port; `None` waits the
    /// full RFC 5321 §4.5.3.2.1 greeting timeout, and
    /// [`ClientConfigBuilder::tls`] sets `None`: an explicitly chosen mode
    /// keeps the RFC timeouts. A server that sends anything is not silent.
    pub silence_limit: Option<Duration>,
    /// A rustls configuration, used as it is (trust anchors, client
    /// certificate, protocol versions: all yours). `None`: one is built
    /// from the system's trust roots plus [`ca_file`](Self::ca_file), with
    /// errors that name the certificate's problem. Giving both this and
    /// `ca_file` or `insecure_skip_verify` is a configuration error.
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
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
    /// Speak LMTP (RFC 2033) instead of SMTP: LHLO, and one reply per
    /// recipient after the data, each in the [`Report`](crate::Report).
    /// For delivery into a mailbox server (Dovecot, Cyrus). Off by default.
    pub lmtp: bool,
    /// Connect to this Unix socket instead of `host:port` (LMTP servers
    /// often listen on one, e.g. Dovecot's `/run/dovecot/lmtp`); `host`
    /// still names the server for TLS and the transcript.
    pub unix_socket: Option<PathBuf>,
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
            silence_limit: TlsMode::default_silence_limit(port),
            tls_config: None,
            ca_file: None,
            servername: None,
            insecure_skip_verify: false,
            ehlo_name: None,
            credentials: None,
            allow_plaintext_auth: false,
            pipelining: true,
            chunking: false,
            classic: false,
            lmtp: false,
            unix_socket: None,
            timeouts: Timeouts::default(),
            transcript_limits: TranscriptLimits::default(),
        }
    }

    /// A builder starting from [`ClientConfig::new`]'s defaults.
    ///
    /// ```
    /// use smtp_sender::{ClientConfig, Credentials, TlsMode};
    /// let config = ClientConfig::builder("mail.example.com", 465)
    ///     .credentials(Credentials::new("alice", "s3cret"))
    ///     .ca_file("ca.pem")
    ///     .build();
    /// assert_eq!(config.tls, TlsMode::Implicit);
    /// assert!(config.pipelining);
    /// ```
    pub fn builder(host: impl Into<String>, port: u16) -> ClientConfigBuilder {
        ClientConfigBuilder(ClientConfig::new(host, port))
    }

    /// The name the certificate must match: `servername`, else `host`.
    pub fn tls_name(&self) -> &str {
        self.servername.as_deref().unwrap_or(&self.host)
    }
}

/// Builds a [`ClientConfig`]; each method sets the field of the same name.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientConfigBuilder(ClientConfig);

impl ClientConfigBuilder {
    /// [`ClientConfig::tls`], chosen explicitly: also clears
    /// [`ClientConfig::silence_limit`] (the RFC 5321 greeting timeout holds).
    pub fn tls(mut self, mode: TlsMode) -> Self {
        self.0.tls = mode;
        self.0.silence_limit = None;
        self
    }

    /// [`ClientConfig::silence_limit`] (after [`ClientConfigBuilder::tls`]
    /// to keep one with an explicit mode).
    pub fn silence_limit(mut self, limit: Option<Duration>) -> Self {
        self.0.silence_limit = limit;
        self
    }

    /// [`ClientConfig::tls_config`]: this rustls configuration, as it is.
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.0.tls_config = Some(config);
        self
    }

    /// [`ClientConfig::ca_file`].
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.ca_file = Some(path.into());
        self
    }

    /// [`ClientConfig::servername`].
    pub fn servername(mut self, name: impl Into<String>) -> Self {
        self.0.servername = Some(name.into());
        self
    }

    /// [`ClientConfig::insecure_skip_verify`]. Dangerous: see there.
    pub fn insecure_skip_verify(mut self, skip: bool) -> Self {
        self.0.insecure_skip_verify = skip;
        self
    }

    /// [`ClientConfig::ehlo_name`].
    pub fn ehlo_name(mut self, name: impl Into<String>) -> Self {
        self.0.ehlo_name = Some(name.into());
        self
    }

    /// [`ClientConfig::credentials`].
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.0.credentials = Some(credentials);
        self
    }

    /// [`ClientConfig::allow_plaintext_auth`].
    pub fn allow_plaintext_auth(mut self, allow: bool) -> Self {
        self.0.allow_plaintext_auth = allow;
        self
    }

    /// [`ClientConfig::pipelining`].
    pub fn pipelining(mut self, use_it: bool) -> Self {
        self.0.pipelining = use_it;
        self
    }

    /// [`ClientConfig::chunking`].
    pub fn chunking(mut self, use_it: bool) -> Self {
        self.0.chunking = use_it;
        self
    }

    /// [`ClientConfig::lmtp`].
    pub fn lmtp(mut self, lmtp: bool) -> Self {
        self.0.lmtp = lmtp;
        self
    }

    /// [`ClientConfig::unix_socket`].
    pub fn unix_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.unix_socket = Some(path.into());
        self
    }

    /// [`ClientConfig::classic`].
    pub fn classic(mut self, classic: bool) -> Self {
        self.0.classic = classic;
        self
    }

    /// [`ClientConfig::timeouts`].
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.0.timeouts = timeouts;
        self
    }

    /// [`ClientConfig::transcript_limits`].
    pub fn transcript_limits(mut self, limits: TranscriptLimits) -> Self {
        self.0.transcript_limits = limits;
        self
    }

    /// The configuration.
    pub fn build(self) -> ClientConfig {
        self.0
    }
}

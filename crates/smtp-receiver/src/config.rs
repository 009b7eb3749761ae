//! Configuration: who we are, what we accept, and every limit, with safe defaults.
//!
//! [`SessionConfig`] is all the sans-IO [`Session`](crate::session::Session)
//! needs (no clocks, no sockets); [`ServerConfig`] adds what the network
//! driver needs: listeners, TLS, timeouts, connection limits and the
//! transcript hook.
//!
//! ```
//! use smtp_receiver::config::{ServerConfig, RecipientPolicy};
//! let mut config = ServerConfig::new("mx.example.org");
//! config.listen_plain("127.0.0.1:0".parse().unwrap());
//! config.session.recipients = RecipientPolicy::domains(["example.org"]);
//! config.session.limits.message_size = 10 * 1024 * 1024;
//! assert_eq!(config.session.limits.recipients, 100);
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smtp_wire::Transcript;

use crate::handler::ConnectionInfo;

/// Size and count limits. Every field has a safe default ([`Limits::default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included. RFC 5321 §4.5.3.1.4: 512 octets.
    pub command_line: usize,
    /// Longest SASL response line during AUTH, CRLF included.
    /// RFC 4954 §4: AUTH lines may be up to 12288 octets.
    pub auth_line: usize,
    /// Longest text line in a message, CRLF included; `None` accepts any length.
    /// RFC 5321 §4.5.3.1.6: 1000 octets.
    pub text_line: Option<usize>,
    /// Largest message accepted, in octets (advertised as `SIZE`, RFC 1870).
    pub message_size: u64,
    /// Recipients per message. RFC 5321 §4.5.3.1.8 asks for at least 100;
    /// beyond the limit RCPT gets 452 4.5.3 (§4.5.3.1.10).
    pub recipients: usize,
    /// Protocol errors (500-504, 555) per session before 421 and close.
    pub errors: u32,
    /// Failed AUTH attempts per session before 421 and close.
    pub auth_failures: u32,
    /// Simultaneous sessions in total; beyond it a new connection gets 421.
    pub connections: usize,
    /// Simultaneous sessions from one client IP address.
    pub connections_per_ip: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            command_line: smtp_wire::MAX_COMMAND_LINE,
            auth_line: 12288,
            text_line: Some(smtp_wire::MAX_TEXT_LINE),
            message_size: 25 * 1024 * 1024,
            recipients: 100,
            errors: 10,
            auth_failures: 3,
            connections: 256,
            connections_per_ip: 16,
        }
    }
}

/// Which recipients RCPT accepts, so that the receiver is never an open relay.
///
/// `<Postmaster>` and `postmaster@<hostname>` are always accepted
/// (RFC 5321 §4.5.1); everything else must match this policy or gets
/// `550 5.7.1` (relay denied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientPolicy {
    /// Only mailboxes in these domains (compared ignoring ASCII case).
    /// The default is an empty list: nothing but postmaster.
    Domains(Vec<String>),
    /// Any recipient (test set-ups). Mail is only ever stored, never forwarded.
    AcceptAny,
}

impl Default for RecipientPolicy {
    fn default() -> Self {
        RecipientPolicy::Domains(Vec::new())
    }
}

impl RecipientPolicy {
    /// A policy accepting mailboxes in the given domains.
    pub fn domains<I, S>(domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RecipientPolicy::Domains(domains.into_iter().map(Into::into).collect())
    }

    /// True when `domain` is one we accept mail for.
    pub fn accepts_domain(&self, domain: &smtp_wire::path::Domain) -> bool {
        match self {
            RecipientPolicy::AcceptAny => true,
            RecipientPolicy::Domains(list) => list.iter().any(|d| domain.eq_ignore_case(d)),
        }
    }
}

/// When AUTH is offered and accepted (RFC 4954).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthPolicy {
    /// Offer AUTH PLAIN LOGIN at all (off by default: the application must
    /// implement [`Handler::auth`](crate::Handler::auth)).
    pub enabled: bool,
    /// MAIL is refused with 530 5.7.0 until the client has authenticated.
    pub required: bool,
    /// Offer and accept AUTH without TLS when the client is on a loopback
    /// address. Off by default: credentials only travel inside TLS.
    pub allow_plaintext_on_loopback: bool,
}

/// Everything the sans-IO session needs.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our name: greeting, EHLO reply, `Received: by`.
    pub hostname: String,
    /// Size and count limits.
    pub limits: Limits,
    /// Which recipients are ours.
    pub recipients: RecipientPolicy,
    /// AUTH policy.
    pub auth: AuthPolicy,
    /// Whether STARTTLS can be offered (set by the server when a TLS
    /// certificate is configured).
    pub starttls: bool,
    /// Add an `X-Original-To:` trace header listing the envelope recipients
    /// (on by default; the Maildir keeps one file per message, and this is
    /// where its recipients are recorded).
    pub record_recipients: bool,
}

impl SessionConfig {
    /// A configuration with safe defaults for host `hostname`.
    pub fn new(hostname: impl Into<String>) -> Self {
        SessionConfig {
            hostname: hostname.into(),
            limits: Limits::default(),
            recipients: RecipientPolicy::Domains(Vec::new()),
            auth: AuthPolicy::default(),
            starttls: false,
            record_recipients: true,
        }
    }
}

/// Timeouts, applied as deadlines: per command line and per block of
/// message data, never per read, so a client that trickles one byte every
/// few seconds is still cut off (RFC 5321 §4.5.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Time allowed to send one complete command line, and to accept a
    /// reply we write. RFC 5321 §4.5.3.2.7: at least 5 minutes.
    pub command: Duration,
    /// Time allowed for each [`DATA_BLOCK`] octets of message data.
    /// RFC 5321 §4.5.3.2.5: 3 minutes per data block.
    pub data_block: Duration,
    /// Time allowed for a TLS handshake (implicit TLS or after STARTTLS).
    pub tls_handshake: Duration,
    /// On shutdown, how long sessions in the middle of a message may take
    /// to finish it before they get 421 4.3.2.
    pub shutdown_grace: Duration,
    /// After the grace period, how long sessions may take to send their
    /// 421 and close before their tasks are dropped wherever they are (in
    /// the application, a TLS handshake, a write to a client that does not
    /// read). A shutdown always completes within `shutdown_grace +
    /// shutdown_abort`.
    pub shutdown_abort: Duration,
}

/// The size of a "data block" for [`Timeouts::data_block`]: 64 KiB.
pub const DATA_BLOCK: usize = 64 * 1024;

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command: Duration::from_secs(5 * 60),
            data_block: Duration::from_secs(3 * 60),
            tls_handshake: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            shutdown_abort: Duration::from_secs(5),
        }
    }
}

/// How a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerKind {
    /// Plain SMTP; STARTTLS offered when a certificate is configured (RFC 3207).
    Plain,
    /// TLS from the first byte, the "port 465" style (RFC 8314 §3.3).
    ImplicitTls,
}

impl fmt::Display for ListenerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListenerKind::Plain => "smtp",
            ListenerKind::ImplicitTls => "smtps",
        })
    }
}

/// One address to listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    /// Address and port (port 0: the system picks one).
    pub addr: SocketAddr,
    /// Plain (+STARTTLS) or implicit TLS.
    pub kind: ListenerKind,
}

/// Called once per finished session with its transcript (see
/// [`ServerConfig::on_transcript`]). AUTH secrets are already redacted.
pub type TranscriptHook = Arc<dyn Fn(&ConnectionInfo, &Transcript) + Send + Sync>;

/// Everything a [`Server`](crate::Server) needs.
#[derive(Clone)]
pub struct ServerConfig {
    /// The protocol side.
    pub session: SessionConfig,
    /// Addresses to listen on.
    pub listeners: Vec<Listen>,
    /// TLS configuration (certificate and key). Enables STARTTLS on plain
    /// listeners; required for implicit-TLS listeners.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Deadlines.
    pub timeouts: Timeouts,
    /// Receives each session's transcript when it ends (e.g. `-v`).
    pub transcript: Option<TranscriptHook>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("session", &self.session)
            .field("listeners", &self.listeners)
            .field("tls", &self.tls.is_some())
            .field("timeouts", &self.timeouts)
            .field("transcript", &self.transcript.is_some())
            .finish()
    }
}

impl ServerConfig {
    /// A configuration with safe defaults and no listeners yet.
    pub fn new(hostname: impl Into<String>) -> Self {
        ServerConfig {
            session: SessionConfig::new(hostname),
            listeners: Vec::new(),
            tls: None,
            timeouts: Timeouts::default(),
            transcript: None,
        }
    }

    /// Adds a plain listener (STARTTLS offered when TLS is configured).
    pub fn listen_plain(&mut self, addr: SocketAddr) -> &mut Self {
        self.listeners.push(Listen {
            addr,
            kind: ListenerKind::Plain,
        });
        self
    }

    /// Adds an implicit-TLS listener (RFC 8314).
    pub fn listen_tls(&mut self, addr: SocketAddr) -> &mut Self {
        self.listeners.push(Listen {
            addr,
            kind: ListenerKind::ImplicitTls,
        });
        self
    }

    /// Calls `hook` with each session's transcript when the session ends.
    pub fn on_transcript(
        &mut self,
        hook: impl Fn(&ConnectionInfo, &Transcript) + Send + Sync + 'static,
    ) -> &mut Self {
        self.transcript = Some(Arc::new(hook));
        self
    }
}

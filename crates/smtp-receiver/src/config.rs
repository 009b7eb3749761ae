//! Configuration: who we are, what we accept, every limit, with safe defaults.
//!
//! [`SessionConfig`] (from `smtp-receiver-core`) is all the sans-IO
//! session needs: limits, timeouts, recipients, AUTH policy.
//! [`ServerConfig`] adds what the network side needs: listeners, TLS, the
//! shutdown periods and the transcript hook. Build one with
//! [`ServerConfig::builder`], or start from [`ServerConfig::new`] and set
//! the public fields.
//!
//! ```
//! use smtp_receiver::config::{RecipientPolicy, ServerConfig};
//! let config = ServerConfig::builder("mx.example.org")
//!     .listen_plain("127.0.0.1:0".parse().unwrap())
//!     .recipients(RecipientPolicy::domains(["example.org"]))
//!     .message_size(10 * 1024 * 1024)
//!     .build();
//! assert_eq!(config.session.limits.recipients, 100);
//! assert_eq!(config.session.limits.message_size, 10 * 1024 * 1024);
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use smtp_wire::Transcript;

use crate::network::Cidr;
use crate::server::SessionRecord;

pub use smtp_receiver_core::config::{
    AuthPolicy, ContentPolicy, DATA_BLOCK, Limits, RecipientPolicy, SessionConfig, Timeouts,
};
pub use smtp_receiver_core::{ConnectionInfo, ListenerKind};

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

/// Called once per finished session with its record (see
/// [`ServerConfig::on_session`]).
pub type SessionHook = Arc<dyn Fn(SessionRecord) + Send + Sync>;

/// Everything a [`Server`](crate::Server) needs.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The protocol side: limits, timeouts, recipients, AUTH.
    pub session: SessionConfig,
    /// Addresses [`Server::bind`](crate::Server::bind) listens on.
    pub listeners: Vec<Listen>,
    /// Unix sockets [`Server::bind`](crate::Server::bind) serves LMTP on
    /// (RFC 2033; an MTA's `lmtp:unix:PATH`). A stale socket is replaced;
    /// the socket is removed at shutdown. Its access is the directory's:
    /// put it where only the MTA's user can reach it, as Postfix does.
    pub lmtp_sockets: Vec<std::path::PathBuf>,
    /// TLS configuration (certificate and key). Enables STARTTLS on plain
    /// listeners; required for implicit-TLS listeners.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// On shutdown, how long sessions in the middle of a message may take
    /// to finish it before they get 421 4.3.2 (RFC 5321 §3.8).
    pub shutdown_grace: Duration,
    /// After the grace period, how long sessions may take to send their
    /// 421 and close before their tasks are dropped wherever they are (in
    /// the application, a TLS handshake, a write to a client that does not
    /// read). A shutdown completes within `shutdown_grace +
    /// shutdown_abort`, except that a message already read to its end is
    /// stored and answered first (RFC 5321 §6.1: never stored without its
    /// 250, which would make the client send it again), for at most 10
    /// minutes more (RFC 5321 §4.5.3.2.6).
    pub shutdown_abort: Duration,
    /// Receives each session's transcript when it ends (e.g. `-v`).
    pub transcript: Option<TranscriptHook>,
    /// Receives each session's record when it ends (the test inbox).
    pub sessions: Option<SessionHook>,
    /// Clients exempt from the per-client limits
    /// ([`Limits::connections_per_ip`], the per-address count of AUTH
    /// failures): loopback by default, as Postfix exempts `$mynetworks`.
    /// Empty it to apply the limits to loopback clients too (tests do).
    pub trusted_networks: Vec<Cidr>,
    /// AUTH failures counted across connections (trusted networks exempt).
    pub auth_throttle: AuthThrottle,
    /// Behind a load balancer: every connection of the listeners starts
    /// with a PROXY protocol header (v1 or v2) from one of its trusted
    /// addresses, naming the real client (docs/receiver.md, "Behind a load
    /// balancer"). `None` (the default): no header is expected.
    pub proxy_protocol: Option<crate::server::ProxyProtocol>,
    /// Clients allowed to use XCLIENT (Postfix's extension) to name the
    /// client they speak for: a mail proxy such as nginx's mail module.
    /// Empty by default (as Postfix's `smtpd_authorized_xclient_hosts`).
    pub xclient_hosts: Vec<Cidr>,
}

/// How failed AUTH attempts are counted across connections, per client
/// (an IPv4 address or an IPv6 /64) and per user name: each failure after
/// the first in a window is answered a little later, and at the threshold
/// AUTH is refused (`454 4.7.0`) for a while, even with the right password.
/// Every failure is logged on one line (docs/receiver.md, "Limits and
/// attacks", gives the fail2ban pattern).
///
/// ```
/// use smtp_receiver::config::AuthThrottle;
/// let strict = AuthThrottle { failures: 5, ..AuthThrottle::default() };
/// assert_eq!(strict.window.as_secs(), 15 * 60);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthThrottle {
    /// Failures within [`window`](Self::window) that lock the client (or
    /// the user name) out. Default 10: a user mistyping a password a few
    /// times, or a mail client retrying an old one, stays below it.
    pub failures: u32,
    /// The window failures are counted in. Default 15 minutes.
    pub window: Duration,
    /// How long AUTH stays refused. Default 15 minutes.
    pub lockout: Duration,
    /// The delay added per failure after the first. Default 1 s.
    pub delay_step: Duration,
    /// The longest delay. Default 5 s: long enough to slow guessing to a
    /// crawl, short enough that clients do not time out (RFC 5321
    /// §4.5.3.2.7 gives them 5 minutes for any reply).
    pub max_delay: Duration,
}

impl Default for AuthThrottle {
    fn default() -> AuthThrottle {
        AuthThrottle {
            failures: 10,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
            delay_step: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("session", &self.session)
            .field("listeners", &self.listeners)
            .field("tls", &self.tls.is_some())
            .field("shutdown_grace", &self.shutdown_grace)
            .field("shutdown_abort", &self.shutdown_abort)
            .field("transcript", &self.transcript.is_some())
            .field("sessions", &self.sessions.is_some())
            .field("trusted_networks", &self.trusted_networks)
            .field("auth_throttle", &self.auth_throttle)
            .field("proxy_protocol", &self.proxy_protocol)
            .field("xclient_hosts", &self.xclient_hosts)
            .finish()
    }
}

impl ServerConfig {
    /// A configuration with safe defaults and no listeners yet.
    pub fn new(hostname: impl Into<String>) -> Self {
        ServerConfig {
            session: SessionConfig::new(hostname),
            listeners: Vec::new(),
            lmtp_sockets: Vec::new(),
            tls: None,
            shutdown_grace: Duration::from_secs(30),
            shutdown_abort: Duration::from_secs(5),
            transcript: None,
            sessions: None,
            trusted_networks: Cidr::loopback(),
            auth_throttle: AuthThrottle::default(),
            proxy_protocol: None,
            xclient_hosts: Vec::new(),
        }
    }

    /// A builder starting from [`ServerConfig::new`].
    pub fn builder(hostname: impl Into<String>) -> ServerConfigBuilder {
        ServerConfigBuilder(ServerConfig::new(hostname))
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

    /// Adds an LMTP listener (RFC 2033): LHLO, one reply per recipient
    /// after the message, for an MTA that delivers through this server.
    pub fn listen_lmtp(&mut self, addr: SocketAddr) -> &mut Self {
        self.listeners.push(Listen {
            addr,
            kind: ListenerKind::Lmtp,
        });
        self
    }

    /// Loads the certificate chain (leaf first) and the private key from
    /// PEM files into [`tls`](Self::tls).
    pub fn load_tls(&mut self, cert: &Path, key: &Path) -> Result<&mut Self, smtp_io::TlsError> {
        self.tls = Some(smtp_io::tls::server_config_from_pem_files(cert, key)?);
        Ok(self)
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

impl ServerConfig {
    /// Calls `hook` with each session's [`SessionRecord`] when the session
    /// ends: the connection, TLS, outcome, delivered queue ids and the
    /// transcript (AUTH redacted). Called from the session's task: hand
    /// slow work to another task.
    pub fn on_session(
        &mut self,
        hook: impl Fn(SessionRecord) + Send + Sync + 'static,
    ) -> &mut Self {
        self.sessions = Some(Arc::new(hook));
        self
    }
}

/// Builds a [`ServerConfig`] in one expression; see the [module](self) example.
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerConfigBuilder(ServerConfig);

impl ServerConfigBuilder {
    /// Adds a plain listener (STARTTLS offered when TLS is configured).
    pub fn listen_plain(mut self, addr: SocketAddr) -> Self {
        self.0.listen_plain(addr);
        self
    }

    /// Adds an implicit-TLS listener (RFC 8314).
    pub fn listen_tls(mut self, addr: SocketAddr) -> Self {
        self.0.listen_tls(addr);
        self
    }

    /// The TLS configuration: STARTTLS on plain listeners, and what
    /// implicit-TLS listeners present.
    pub fn tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.0.tls = Some(tls);
        self
    }

    /// Which recipients are ours (RFC 5321 §7.1: never an open relay).
    pub fn recipients(mut self, policy: RecipientPolicy) -> Self {
        self.0.session.recipients = policy;
        self
    }

    /// How message content and addresses are judged: the liberal default
    /// (as Postfix 3.9+) or [`ContentPolicy::Strict`] (`smtp-receive
    /// --strict`); see docs/receiver.md, "Policy".
    pub fn content_policy(mut self, policy: ContentPolicy) -> Self {
        self.0.session.content_policy = policy;
        self
    }

    /// When AUTH is offered and required (RFC 4954).
    pub fn auth(mut self, policy: AuthPolicy) -> Self {
        self.0.session.auth = policy;
        self
    }

    /// Every limit at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.0.session.limits = limits;
        self
    }

    /// The largest message accepted, in octets (advertised as `SIZE`, RFC 1870).
    pub fn message_size(mut self, octets: u64) -> Self {
        self.0.session.limits.message_size = octets;
        self
    }

    /// The session's deadlines (RFC 5321 §4.5.3.2).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.0.session.timeouts = timeouts;
        self
    }

    /// How long a message in flight may take to finish at shutdown, and
    /// how long after that sessions are dropped.
    pub fn shutdown(mut self, grace: Duration, abort: Duration) -> Self {
        self.0.shutdown_grace = grace;
        self.0.shutdown_abort = abort;
        self
    }

    /// Whether to add `X-Original-To:` with the envelope recipients.
    pub fn record_recipients(mut self, record: bool) -> Self {
        self.0.session.record_recipients = record;
        self
    }

    /// Clients exempt from per-client limits (replaces the default,
    /// loopback; an empty list exempts nobody).
    pub fn trusted_networks(mut self, networks: Vec<Cidr>) -> Self {
        self.0.trusted_networks = networks;
        self
    }

    /// Calls `hook` with each session's transcript when the session ends.
    pub fn on_transcript(
        mut self,
        hook: impl Fn(&ConnectionInfo, &Transcript) + Send + Sync + 'static,
    ) -> Self {
        self.0.on_transcript(hook);
        self
    }

    /// The configuration.
    pub fn build(self) -> ServerConfig {
        self.0
    }
}

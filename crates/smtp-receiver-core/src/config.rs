//! What the session enforces: who we are, what we accept, every limit and
//! every deadline, with safe defaults.
//!
//! ```
//! use smtp_receiver_core::config::{RecipientPolicy, SessionConfig};
//! let mut config = SessionConfig::new("mx.example.org");
//! config.recipients = RecipientPolicy::domains(["example.org"]);
//! config.limits.message_size = 10 * 1024 * 1024;
//! assert_eq!(config.limits.recipients, 100);
//! assert_eq!(config.timeouts.command.as_secs(), 300);
//! ```

use std::time::Duration;

/// Size and count limits. Every field has a safe default ([`Limits::default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest command line, CRLF included. RFC 5321 §4.5.3.1.4: 512 octets.
    pub command_line: usize,
    /// Longest SASL response line during AUTH, CRLF included.
    /// RFC 4954 §4: AUTH lines may be up to 12288 octets.
    pub auth_line: usize,
    /// Longest text line in a message, CRLF included; `None` accepts any
    /// length. RFC 5321 §4.5.3.1.6: 1000 octets. Enforced under
    /// [`ContentPolicy::Strict`] only: the liberal default keeps long lines
    /// (bounded by [`message_size`](Self::message_size)), as §4.5.3.1 asks
    /// receivers to avoid such limits "to the maximum extent possible".
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
    /// Simultaneous sessions in total; beyond it a new connection gets 421
    /// (applied by the server, which sees every connection, and lowers it
    /// to what its open-files limit allows). Default 2048: that many busy
    /// sessions fit in 1 GiB (docs/receiver.md, "Limits and attacks").
    pub connections: usize,
    /// Junk commands (NOOP, RSET, VRFY, HELP, EXPN) a session may send
    /// between two accepted messages; one more gets `421 4.7.0` and close,
    /// so NOOP every minute cannot hold a session for ever. Default 100,
    /// Postfix's `smtpd_junk_command_limit`.
    pub junk_commands: u32,
    /// [`junk_commands`](Self::junk_commands) while the server is under
    /// stress ([`Session::set_stress`](crate::Session::set_stress)).
    /// Default 10 (Postfix uses 1, but counts fewer commands: RSET between
    /// messages is common).
    pub junk_commands_under_stress: u32,
    /// Simultaneous sessions from one client (an IPv4 address or an IPv6
    /// /64; applied by the server, trusted networks exempt). Default 50,
    /// Postfix's `smtpd_client_connection_count_limit`.
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
            junk_commands: 100,
            junk_commands_under_stress: 10,
            connections: 2048,
            connections_per_ip: 50,
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
    ///
    /// ```
    /// use smtp_receiver_core::config::RecipientPolicy;
    /// use smtp_wire::path::Domain;
    /// let policy = RecipientPolicy::domains(["example.org"]);
    /// assert!(policy.accepts_domain(&Domain::parse("EXAMPLE.org").unwrap()));
    /// assert!(!policy.accepts_domain(&Domain::parse("example.net").unwrap()));
    /// ```
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

/// How message content and addresses are judged: the liberal default
/// takes what mainstream servers take, the strict level refuses what the
/// RFCs forbid (docs/receiver.md, "Policy").
///
/// At both levels the end of data is only the raw `<CRLF>.<CRLF>` (decided
/// by smtp-wire's `DataDecoder` before any normalisation, RFC 5321
/// §4.1.1.4), a command line ended by a bare LF is refused, not executed
/// (§2.3.8), and a message holding a bare CR (`550 5.6.11`) or a NUL octet
/// (`550 5.6.0`, RFC 5322 §2.2) is refused. The levels differ in three
/// places:
///
/// | | `Liberal` (default) | `Strict` |
/// |---|---|---|
/// | content line ended by a bare LF | taken as if it ended in CRLF | `550 5.6.11` |
/// | text line over [`Limits::text_line`] | kept | `550 5.6.0` |
/// | UTF-8 address without `SMTPUTF8` | accepted, recorded ([`Envelope::undeclared_utf8`](crate::Envelope::undeclared_utf8), `Received:`) | `553 5.6.7` |
///
/// ```
/// use smtp_receiver_core::config::{ContentPolicy, SessionConfig};
/// let mut config = SessionConfig::new("mx.example.org");
/// assert_eq!(config.content_policy, ContentPolicy::Liberal);
/// config.content_policy = ContentPolicy::Strict; // what `smtp-receive --strict` sets
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentPolicy {
    /// What Postfix 3.9+ accepts with its default `smtpd_forbid_bare_newline
    /// = normalize`: the senders that send bare-LF lines (scripts, curl,
    /// smtplib with bytes) and long lines get their mail through, and every
    /// handler reads canonical CRLF text.
    #[default]
    Liberal,
    /// RFC 5321 and RFC 6531 to the letter: what a conformance lab or a
    /// developer testing a client wants to be told.
    Strict,
}

impl ContentPolicy {
    /// True when content lines ended by a bare LF are taken as CRLF lines.
    pub fn normalizes_bare_lf(self) -> bool {
        self == ContentPolicy::Liberal
    }

    /// The text line limit in force: [`Limits::text_line`] when strict,
    /// none when liberal.
    pub fn text_line_limit(self, limits: &Limits) -> Option<usize> {
        match self {
            ContentPolicy::Liberal => None,
            ContentPolicy::Strict => limits.text_line,
        }
    }

    /// True when a UTF-8 address is accepted without the SMTPUTF8 parameter.
    pub fn accepts_undeclared_utf8(self) -> bool {
        self == ContentPolicy::Liberal
    }
}

/// When AUTH is offered and accepted (RFC 4954).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AuthPolicy {
    /// Offer AUTH (PLAIN, LOGIN) at all (off by default: the application must
    /// answer [`Request::Auth`](crate::Request::Auth)).
    pub enabled: bool,
    /// MAIL is refused with 530 5.7.0 until the client has authenticated.
    pub required: bool,
    /// Offer and accept AUTH without TLS when the client is on a loopback
    /// address. Off by default: credentials only travel inside TLS.
    pub allow_plaintext_on_loopback: bool,
    /// Also offer OAUTHBEARER (RFC 7628) and XOAUTH2: the application then
    /// receives [`Credentials`](smtp_wire::sasl::Credentials) holding a
    /// bearer token ([`token`](smtp_wire::sasl::Credentials::token)) to
    /// check. Off by default: a password check would only refuse them.
    pub tokens: bool,
}

/// The size of a "data block" for [`Timeouts::data_block`]: 64 KiB.
pub const DATA_BLOCK: usize = 64 * 1024;

/// Deadlines per unit of work, never per read, so a client that trickles
/// one octet every few seconds is still cut off (RFC 5321 §4.5.3.2). The
/// session turns them into instants ([`Session::poll_timeout`](crate::Session::poll_timeout)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Time allowed to send one complete command line, which also bounds
    /// the writing of our replies to a client that does not read them.
    /// RFC 5321 §4.5.3.2.7: at least 5 minutes.
    pub command: Duration,
    /// Time allowed for each [`DATA_BLOCK`] octets of message data.
    /// RFC 5321 §4.5.3.2.5: 3 minutes per data block.
    pub data_block: Duration,
    /// Time allowed for a TLS handshake (implicit TLS, or after the `220`
    /// to STARTTLS, that reply's writing included).
    pub tls_handshake: Duration,
    /// What [`command`](Self::command) and [`data_block`](Self::data_block)
    /// drop to while the server is under stress (most session slots taken,
    /// [`Session::set_stress`](crate::Session::set_stress)), for running
    /// sessions too, so idle and trickling clients free their slots.
    /// Default 10 s, as Postfix's `smtpd_timeout` under stress.
    pub under_stress: Duration,
    /// The longest a session may last, whatever it does; then `421 4.7.0`
    /// and close. Default 1 hour: a busy relay sending thousands of
    /// messages reconnects once an hour; a session that dribbles commands
    /// forever does not keep its slot.
    pub session: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command: Duration::from_secs(5 * 60),
            data_block: Duration::from_secs(3 * 60),
            tls_handshake: Duration::from_secs(60),
            under_stress: Duration::from_secs(10),
            session: Duration::from_secs(60 * 60),
        }
    }
}

/// Everything the sans-IO session needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Our name: greeting, EHLO reply, `Received: by`.
    pub hostname: String,
    /// Size and count limits.
    pub limits: Limits,
    /// Deadlines.
    pub timeouts: Timeouts,
    /// Which recipients are ours.
    pub recipients: RecipientPolicy,
    /// How message content and addresses are judged (liberal by default).
    pub content_policy: ContentPolicy,
    /// AUTH policy.
    pub auth: AuthPolicy,
    /// Whether STARTTLS can be offered (the server sets it when a TLS
    /// certificate is configured).
    pub starttls: bool,
    /// Add an `X-Original-To:` trace header listing the envelope recipients
    /// (on by default; the Maildir keeps one file per message, and this is
    /// where its recipients are recorded).
    pub record_recipients: bool,
    /// SASL mechanisms added by the application (advertised after the
    /// built-in ones, run by the session through the trait; see
    /// [`smtp_wire::sasl::ServerMechanism`]).
    pub extra_mechanisms: Vec<std::sync::Arc<dyn smtp_wire::sasl::ServerMechanism>>,
    /// Makes this process's queue ids differ from those of other processes
    /// storing into the same place: the server sets its process id. (The
    /// session cannot ask the system: it makes no system calls.)
    pub instance_id: u32,
}

impl SessionConfig {
    /// A configuration with safe defaults for host `hostname`.
    pub fn new(hostname: impl Into<String>) -> Self {
        SessionConfig {
            hostname: hostname.into(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            recipients: RecipientPolicy::default(),
            content_policy: ContentPolicy::default(),
            auth: AuthPolicy::default(),
            starttls: false,
            record_recipients: true,
            extra_mechanisms: Vec::new(),
            instance_id: 0,
        }
    }
}

//! The link under the conversation: connecting, reading, writing, TLS,
//! timeouts. The values are plain data; the driver fills them in (the
//! rustls error becomes a [`TlsError`] there), the core only carries them.

use std::time::Duration;

/// A failure of the link: every one of them is temporary except
/// [`TransportError::Closed`] (the caller's own doing),
/// [`TransportError::PlainSmtp`] (the wrong TLS mode for the port) and a
/// local TLS configuration that cannot work ([`TlsError::is_local_config`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port` as configured.
        addr: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Reading from or writing to the connection failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection when a reply was still expected.
    #[error("the server closed the connection while we waited for {during}")]
    ConnectionClosed {
        /// What we were waiting for (e.g. "the reply to RCPT").
        during: &'static str,
    },
    /// Not one byte came where the plain-text greeting was due (RFC 5321
    /// §3.1: the server speaks first), until the wait ran out or the server
    /// closed. A server on an implicit-TLS port (RFC 8314 §3.3) behaves
    /// exactly so: it waits for the client's TLS ClientHello in silence.
    #[error(
        "no greeting after {} s{}: this port may expect implicit TLS (RFC 8314); try --tls implicit",
        tenths(*waited),
        if *closed { ", then the server closed the connection" } else { "" }
    )]
    NoGreeting {
        /// How long the client waited.
        waited: Duration,
        /// True when the server closed the connection; false when the wait ran out.
        closed: bool,
    },
    /// Implicit TLS (RFC 8314 §3.3) was asked for and the server answered
    /// the TLS ClientHello with a plain-text SMTP reply (RFC 5321 §4.2):
    /// this port speaks plain SMTP, STARTTLS (RFC 3207) is the way to TLS.
    #[error(
        "the server speaks plain SMTP on this port; try --tls starttls (it answered the TLS ClientHello with {said:?})"
    )]
    PlainSmtp {
        /// The first line the server sent.
        said: String,
    },
    /// RFC 5321 §4.5.3.2: the server took longer than the configured timeout.
    #[error("timed out after {} s waiting for {stage}", after.as_secs_f32())]
    Timeout {
        /// What we were waiting for.
        stage: &'static str,
        /// The timeout that expired.
        after: Duration,
    },
    /// The TLS handshake failed, or TLS could not be set up; the inner
    /// error says why (expired, self-signed, unknown CA, wrong name, ...).
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The client was already closed (after QUIT or a fatal error).
    #[error("the connection is closed")]
    Closed,
    /// The session broke while this message's commands were already on
    /// their way, written after the previous message's final dot (RFC 2920
    /// §3.1, `Client::send_each`): the cause is in that message's report.
    /// Nothing of this message was delivered; trying again may work.
    #[error(
        "the session broke before this message was answered \
         (the reason is in the report of the message before it)"
    )]
    SessionBroken,
}

impl TransportError {
    /// True when trying again later may succeed: network trouble, timeouts
    /// and TLS failures are temporary, as mail transfer agents treat them
    /// (they queue and retry; a TLS failure is often fixed on the server's
    /// side). Using a closed client is not.
    pub fn is_temporary(&self) -> bool {
        // A plain-SMTP answer to implicit TLS is the configuration's fault
        // and will be the same next time; silence may be a slow server.
        match self {
            TransportError::Closed | TransportError::PlainSmtp { .. } => false,
            TransportError::Tls(tls) => !tls.is_local_config(),
            _ => true,
        }
    }

    /// True when the failure is in our own configuration, found before
    /// the server was asked anything (a CA file that cannot be used, no
    /// trust roots at all): retrying cannot help until someone fixes it.
    ///
    /// ```
    /// use smtp_sender_core::{TlsError, TransportError};
    ///
    /// let bad_ca = TransportError::from(TlsError::CaFile {
    ///     path: "ca.pem".into(),
    ///     reason: "no CERTIFICATE block found".into(),
    /// });
    /// assert!(bad_ca.is_local_config() && !bad_ca.is_temporary());
    /// ```
    pub fn is_local_config(&self) -> bool {
        matches!(self, TransportError::Tls(tls) if tls.is_local_config())
    }
}

/// Seconds to one decimal, as people read them: `10`, `0.3`, `59.9`.
fn tenths(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 10.0).round() / 10.0
}

/// Why TLS could not be set up or the server's certificate was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate's validity period is over.
    #[error("certificate of {name} has expired")]
    Expired {
        /// The name that was checked.
        name: String,
    },
    /// The certificate's validity period has not begun.
    #[error("certificate of {name} is not valid yet")]
    NotYetValid {
        /// The name that was checked.
        name: String,
    },
    /// The certificate signs itself instead of being issued by a trusted CA.
    #[error(
        "certificate of {name} is self-signed (issued by itself, not by a trusted \
         certificate authority; a test set-up needs a CA certificate and --ca FILE)"
    )]
    SelfSigned {
        /// The name that was checked.
        name: String,
    },
    /// The certificate chains to no trusted authority.
    #[error(
        "certificate of {name} is issued by an unknown certificate authority \
         (for a private CA, pass its certificate with --ca FILE)"
    )]
    UnknownIssuer {
        /// The name that was checked.
        name: String,
    },
    /// The certificate is valid but for other names.
    #[error("certificate is not valid for {name} (it is for: {})", if presented.is_empty() { "no names listed".to_string() } else { presented.join(", ") })]
    WrongName {
        /// The name that was checked (`servername`, else the host).
        name: String,
        /// The names in the certificate, when known.
        presented: Vec<String>,
    },
    /// The certificate was revoked.
    #[error("certificate of {name} has been revoked")]
    Revoked {
        /// The name that was checked.
        name: String,
    },
    /// Any other certificate problem.
    #[error("certificate of {name} was rejected: {detail}")]
    Certificate {
        /// The name that was checked.
        name: String,
        /// rustls's description.
        detail: String,
    },
    /// The handshake failed for a reason other than the certificate.
    #[error("handshake with {name} failed: {detail}")]
    Handshake {
        /// The name that was checked.
        name: String,
        /// What went wrong.
        detail: String,
    },
    /// The name to verify is neither a DNS name nor an IP address.
    #[error("{0:?} is not a valid TLS server name")]
    InvalidServerName(String),
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why it is unusable.
        reason: String,
    },
    /// Neither the system nor a CA file supplied a trust anchor.
    #[error("no trust roots: the system trust store is empty and no --ca FILE was given")]
    NoTrustRoots,
}

impl TlsError {
    /// True for a local configuration that cannot work ([`CaFile`],
    /// [`NoTrustRoots`]), as opposed to what the server presented.
    ///
    /// [`CaFile`]: TlsError::CaFile
    /// [`NoTrustRoots`]: TlsError::NoTrustRoots
    pub fn is_local_config(&self) -> bool {
        matches!(self, TlsError::CaFile { .. } | TlsError::NoTrustRoots)
    }
}

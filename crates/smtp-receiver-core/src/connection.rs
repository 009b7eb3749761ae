//! The network side of a session, as values: who is connected, where, and
//! through which kind of listener. The session reads them (the peer's
//! address goes into `Received:`; AUTH may be allowed on loopback); it
//! never opens or inspects a socket.

use core::fmt;
use core::net::{IpAddr, SocketAddr};

/// How a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerKind {
    /// Plain SMTP; STARTTLS offered when a certificate is configured (RFC 3207).
    Plain,
    /// TLS from the first byte, the "port 465" style (RFC 8314 §3.3).
    ImplicitTls,
    /// LMTP (RFC 2033): LHLO instead of EHLO, and one reply per accepted
    /// recipient after the message, for an MTA that delivers through us.
    Lmtp,
}

impl fmt::Display for ListenerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListenerKind::Plain => "smtp",
            ListenerKind::ImplicitTls => "smtps",
            ListenerKind::Lmtp => "lmtp",
        })
    }
}

/// One connection, as the session and the application see it.
///
/// Streams without IP addresses (a Unix socket, an in-memory pipe) have
/// none to give: whoever creates the connection picks the addresses, and
/// the receiver's own listeners use `127.0.0.1:0` for them.
///
/// ```
/// use smtp_receiver_core::{ConnectionInfo, ListenerKind};
/// let info = ConnectionInfo::new(
///     "192.0.2.1:40000".parse().unwrap(),
///     "192.0.2.2:25".parse().unwrap(),
///     ListenerKind::Plain,
/// );
/// assert!(!info.is_loopback());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address (the listener's).
    pub local: SocketAddr,
    /// Which kind of listener accepted the connection.
    pub listener: ListenerKind,
    /// The client is a trusted proxy (Postfix's
    /// `smtpd_authorized_xclient_hosts`): XCLIENT is offered to it and
    /// may name the client it speaks for. False unless the server says so.
    pub xclient: bool,
}

impl ConnectionInfo {
    /// A connection from `peer` to `local` through a `listener`.
    pub fn new(peer: SocketAddr, local: SocketAddr, listener: ListenerKind) -> Self {
        ConnectionInfo {
            peer,
            local,
            listener,
            xclient: false,
        }
    }

    /// True when the client is on a loopback address (an IPv4-mapped one
    /// included).
    pub fn is_loopback(&self) -> bool {
        match self.peer.ip() {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        }
    }
}

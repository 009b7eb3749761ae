//! Where connections come from: anything that accepts byte streams.
//! [`Server::serve`](crate::Server::serve) takes a [`Listener`]; tokio's
//! TCP and Unix listeners are ones.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// The addresses given to connections that have none: those from a Unix
/// socket (and a good choice for in-memory streams). `127.0.0.1:0` is a
/// loopback address, so
/// [`AuthPolicy::allow_plaintext_on_loopback`](crate::config::AuthPolicy::allow_plaintext_on_loopback)
/// applies to them, and they all count as one client for
/// [`Limits::connections_per_ip`](crate::config::Limits::connections_per_ip).
pub const NO_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// One accepted connection.
#[derive(Debug)]
pub struct Accepted<S> {
    /// The byte stream.
    pub stream: S,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address on this connection.
    pub local: SocketAddr,
}

/// A source of connections.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use smtp_receiver::config::{ListenerKind, RecipientPolicy, ServerConfig};
/// use smtp_receiver::{Server, SinkHandler};
///
/// let config = ServerConfig::builder("mx.example.org")
///     .recipients(RecipientPolicy::AcceptAny)
///     .build();
/// let server = Server::new(config, SinkHandler::default());
/// let socket = tokio::net::UnixListener::bind("/run/smtp.sock")?;
/// server.serve(socket, ListenerKind::Plain).await?; // until shut down
/// # Ok(()) }
/// ```
pub trait Listener: Send + 'static {
    /// The streams it accepts.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The next connection. Must be cancel-safe (the server stops waiting
    /// for one when it shuts down), as tokio's `accept`s are.
    fn accept(&mut self) -> impl Future<Output = io::Result<Accepted<Self::Stream>>> + Send;
}

impl Listener for TcpListener {
    type Stream = TcpStream;

    async fn accept(&mut self) -> io::Result<Accepted<TcpStream>> {
        accept_tcp(self, None).await
    }
}

#[cfg(unix)]
impl Listener for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;

    /// A Unix socket's peer has no IP address: both addresses are
    /// [`NO_ADDRESS`].
    async fn accept(&mut self) -> io::Result<Accepted<tokio::net::UnixStream>> {
        let (stream, _) = tokio::net::UnixListener::accept(self).await?;
        Ok(Accepted {
            stream,
            peer: NO_ADDRESS,
            local: NO_ADDRESS,
        })
    }
}

/// A TCP listener the server bound itself, with its address known.
pub(crate) struct BoundTcp {
    pub(crate) listener: TcpListener,
    pub(crate) addr: SocketAddr,
}

impl Listener for BoundTcp {
    type Stream = TcpStream;

    fn accept(&mut self) -> impl Future<Output = io::Result<Accepted<TcpStream>>> + Send {
        // A listener bound to one address accepts connections on exactly
        // that address and port: no getsockname(2) per connection then.
        let known = (!self.addr.ip().is_unspecified()).then_some(self.addr);
        accept_tcp(&self.listener, known)
    }
}

async fn accept_tcp(
    listener: &TcpListener,
    local: Option<SocketAddr>,
) -> io::Result<Accepted<TcpStream>> {
    let (stream, peer) = listener.accept().await?;
    // Replies are small and must leave at once (RFC 2920 §3.1 groups them
    // already): no Nagle delay.
    let _ = stream.set_nodelay(true);
    let local = match local {
        Some(local) => local,
        None => stream.local_addr()?,
    };
    Ok(Accepted {
        stream,
        peer,
        local,
    })
}

//! The network side: listeners, connection limits, the per-connection
//! driver, TLS, graceful shutdown.
//!
//! Three ways to feed a [`Server`] connections:
//!
//! * [`Server::bind`] then [`Server::run`]: the TCP listeners of the
//!   configuration;
//! * [`Server::serve`]: any [`Listener`] (a Unix socket, a listener you
//!   bound yourself);
//! * [`Server::serve_connection`]: one stream you accepted yourself (a
//!   PROXY-protocol connection, an in-memory duplex in a test).
//!
//! ```no_run
//! use smtp_receiver::{Server, SinkHandler};
//! use smtp_receiver::config::{ServerConfig, RecipientPolicy};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::builder("mx.example.org")
//!     .listen_plain("127.0.0.1:0".parse()?)
//!     .recipients(RecipientPolicy::AcceptAny)
//!     .build();
//! let server = Server::bind(config, SinkHandler::default()).await?;
//! let addr = server.local_addrs()[0].addr;          // the port the system chose
//! let shutdown = server.shutdown_handle();
//! let running = tokio::spawn(server.run());
//! // ... talk to `addr` ...
//! shutdown.shutdown();
//! running.await??;
//! # Ok(()) }
//! ```

mod accept;
mod auth_guard;
mod body;
mod capacity;
mod commit;
mod connection;
mod driver;
mod limits;
mod listener;
mod proxy;
pub mod record;
mod shutdown;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

pub use body::{BodyError, MessageBody};
pub use listener::{Accepted, Listener, NO_ADDRESS};
pub use proxy::{HEADER_TIMEOUT, ProxyError, ProxyProtocol, parse_proxy_header};
pub use record::{Outcome, SessionRecord};
pub use shutdown::ShutdownHandle;

use crate::config::{ListenerKind, ServerConfig, SessionConfig, SessionHook, TranscriptHook};
use crate::handler::Backend;
use crate::session::ConnectionInfo;
use auth_guard::AuthGuard;
use commit::Commits;
use limits::Tracker;
use listener::BoundTcp;
use shutdown::ShutdownState;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No listener was configured.
    #[error("no listener configured")]
    NoListeners,
    /// An implicit-TLS listener needs a certificate.
    #[error("listener {0} is implicit TLS but no certificate is configured")]
    TlsRequired(SocketAddr),
    /// Binding an address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// Binding a Unix socket failed (or another server answers on it).
    #[error("cannot listen on unix:{}: {source}", path.display())]
    BindSocket {
        /// The socket's path.
        path: std::path::PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// The listen backlog for a server that serves `connections` sessions at
/// once: that many connection attempts wait in the kernel for `accept`.
///
/// A burst of new connections (a sender opening hundreds of sessions, a
/// restart behind a load balancer) fills the queue before the accept loop
/// runs; a full queue drops the SYN, and the client retries only after its
/// retransmission timeout, a second or more (RFC 6298 §2.1), so one dropped
/// attempt costs that client a second. tokio's (and std's) `bind` asks for
/// 128 (the bench gives Postfix's smtp-sink 1000). The kernel caps the
/// figure at `net.core.somaxconn` (4096 by default since Linux 5.4).
fn listen_backlog(connections: usize) -> u32 {
    u32::try_from(connections).unwrap_or(u32::MAX).max(128)
}

/// Binds a TCP listener as tokio's `TcpListener::bind` does (address reuse
/// on Unix, so a restarted server can bind while old connections linger in
/// TIME_WAIT), with the [`listen_backlog`] asked for.
fn bind_tcp(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Binds a Unix socket at `path`, replacing a stale one left by a server
/// that is gone, never one that a live server still answers on.
fn bind_socket(path: &std::path::Path) -> io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::FileTypeExt as _;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another server is listening there",
            ));
        }
        std::fs::remove_file(path)?;
    }
    tokio::net::UnixListener::bind(path)
}

/// A listener the server is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundListener {
    /// The actual address (with the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Plain (+STARTTLS) or implicit TLS.
    pub kind: ListenerKind,
    /// Whether STARTTLS is offered on it (plain listeners with a certificate).
    pub starttls: bool,
}

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) session: Arc<SessionConfig>,
    pub(crate) acceptor: Option<TlsAcceptor>,
    pub(crate) transcript: Option<TranscriptHook>,
    pub(crate) sessions: Option<SessionHook>,
    pub(crate) shutdown: Arc<watch::Sender<ShutdownState>>,
    pub(crate) shutdown_grace: Duration,
    pub(crate) shutdown_abort: Duration,
    /// Messages read to their end whose reply is not out yet: the
    /// shutdown's hard deadline waits for them.
    pub(crate) commits: Commits,
    pub(crate) tracker: Arc<Tracker>,
    pub(crate) auth_guard: AuthGuard,
    /// Connections being turned away right now (see `accept::refuse`).
    pub(crate) refusing: AtomicUsize,
    /// A PROXY header is read before each session of the listeners.
    pub(crate) proxy: Option<ProxyProtocol>,
    /// Clients allowed to use XCLIENT.
    pub(crate) xclient_hosts: Vec<crate::network::Cidr>,
}

/// An SMTP server: the application's [`Backend`] (or a cloneable
/// [`Handler`](crate::Handler)), the configuration, and the listeners it
/// bound.
pub struct Server<B: Backend> {
    listeners: Vec<(TcpListener, BoundListener)>,
    /// LMTP on Unix sockets ([`ServerConfig::lmtp_sockets`](crate::config::ServerConfig::lmtp_sockets)).
    sockets: Vec<(tokio::net::UnixListener, std::path::PathBuf)>,
    shared: Arc<Shared>,
    backend: Arc<B>,
}

impl<B: Backend> Server<B> {
    /// A server with no listener of its own: feed it with
    /// [`serve`](Self::serve) or [`serve_connection`](Self::serve_connection).
    /// STARTTLS is offered when `config.tls` is set.
    pub fn new(config: ServerConfig, backend: B) -> Server<B> {
        let mut session = config.session;
        session.starttls = config.tls.is_some();
        // Queue ids differ between processes storing into one Maildir.
        session.instance_id = std::process::id();
        let limits = &session.limits;
        let total = capacity::fitting_total(limits.connections);
        let tracker = Tracker::new(total, limits.connections_per_ip, config.trusted_networks);
        let shared = Shared {
            acceptor: config.tls.map(TlsAcceptor::from),
            transcript: config.transcript,
            sessions: config.sessions,
            shutdown: Arc::new(watch::Sender::new(ShutdownState::Running)),
            shutdown_grace: config.shutdown_grace,
            shutdown_abort: config.shutdown_abort,
            commits: Commits::default(),
            tracker,
            auth_guard: AuthGuard::new(config.auth_throttle),
            refusing: AtomicUsize::new(0),
            proxy: config.proxy_protocol,
            xclient_hosts: config.xclient_hosts,
            session: Arc::new(session),
        };
        Server {
            listeners: Vec::new(),
            sockets: Vec::new(),
            shared: Arc::new(shared),
            backend: Arc::new(backend),
        }
    }

    /// A server bound to every listener of `config` (port 0: the system
    /// picks one; see [`local_addrs`](Self::local_addrs)).
    pub async fn bind(config: ServerConfig, backend: B) -> Result<Server<B>, ServerError> {
        if config.listeners.is_empty() && config.lmtp_sockets.is_empty() {
            return Err(ServerError::NoListeners);
        }
        let listens = config.listeners.clone();
        let paths = config.lmtp_sockets.clone();
        let backlog = listen_backlog(config.session.limits.connections);
        let mut server = Server::new(config, backend);
        let tls = server.shared.acceptor.is_some();
        for listen in listens {
            if listen.kind == ListenerKind::ImplicitTls && !tls {
                return Err(ServerError::TlsRequired(listen.addr));
            }
            let bind_error = |source| ServerError::Bind {
                addr: listen.addr,
                source,
            };
            let listener = bind_tcp(listen.addr, backlog).map_err(bind_error)?;
            let addr = listener.local_addr().map_err(bind_error)?;
            let bound = BoundListener {
                addr,
                kind: listen.kind,
                starttls: listen.kind == ListenerKind::Plain && tls,
            };
            server.listeners.push((listener, bound));
        }
        for path in paths {
            let listener = bind_socket(&path).map_err(|source| ServerError::BindSocket {
                path: path.clone(),
                source,
            })?;
            server.sockets.push((listener, path));
        }
        Ok(server)
    }

    /// The Unix sockets the server listens on (LMTP).
    pub fn local_sockets(&self) -> Vec<&std::path::Path> {
        self.sockets
            .iter()
            .map(|(_, path)| path.as_path())
            .collect()
    }

    /// The bound listeners, in configuration order.
    pub fn local_addrs(&self) -> Vec<BoundListener> {
        self.listeners.iter().map(|(_, bound)| *bound).collect()
    }

    /// The first bound address of a kind.
    pub fn local_addr(&self, kind: ListenerKind) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(_, b)| b.kind == kind)
            .map(|(_, b)| b.addr)
    }

    /// A handle to shut the server down gracefully (also after `run` started).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle::new(
            Arc::clone(&self.shared.shutdown),
            self.shared.shutdown_grace,
        )
    }

    /// Serves the bound listeners until shut down, then waits for the last
    /// session to end: at most
    /// [`shutdown_grace`](crate::config::ServerConfig::shutdown_grace) +
    /// [`shutdown_abort`](crate::config::ServerConfig::shutdown_abort),
    /// after which the sessions left are dropped; except that a message
    /// read to its end is committed and answered first (see
    /// [`ShutdownHandle`]).
    pub async fn run(self) -> Result<(), ServerError> {
        let Server {
            listeners,
            sockets,
            shared,
            backend,
        } = self;
        let mut accepting = JoinSet::new();
        let mut paths = Vec::new();
        for (listener, path) in sockets {
            let (shared, backend) = (Arc::clone(&shared), Arc::clone(&backend));
            accepting.spawn(accept::accept_loop(
                listener,
                ListenerKind::Lmtp,
                shared,
                backend,
            ));
            paths.push(path);
        }
        for (listener, bound) in listeners {
            let listener = BoundTcp {
                listener,
                addr: bound.addr,
            };
            let (shared, backend) = (Arc::clone(&shared), Arc::clone(&backend));
            accepting.spawn(accept::accept_loop(listener, bound.kind, shared, backend));
        }
        accept::shutdown_began(&shared).await;
        // The accept loops stop by themselves; they close their listeners.
        while accepting.join_next().await.is_some() {}
        // Nobody listens there any more: a client should not find a dead socket.
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
        accept::drain(&shared).await;
        Ok(())
    }

    /// [`run`](Self::run) until `stop` resolves (Ctrl-C, say), then shuts
    /// down gracefully as [`ShutdownHandle::shutdown`] does.
    ///
    /// ```no_run
    /// # async fn demo(server: smtp_receiver::Server<smtp_receiver::SinkHandler>) -> Result<(), smtp_receiver::ServerError> {
    /// server.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await
    /// # }
    /// ```
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> Result<(), ServerError> {
        let shutdown = self.shutdown_handle();
        let running = self.run();
        tokio::pin!(running);
        tokio::select! {
            result = &mut running => return result,
            () = stop => shutdown.shutdown(),
        }
        running.await
    }

    /// Serves connections from `listener` (see [`Listener`]) until shut
    /// down, then waits for its sessions as [`run`](Self::run) does.
    /// Connections from it speak `kind` (implicit TLS needs `config.tls`).
    pub async fn serve<L: Listener>(
        &self,
        listener: L,
        kind: ListenerKind,
    ) -> Result<(), ServerError> {
        if kind == ListenerKind::ImplicitTls && self.shared.acceptor.is_none() {
            return Err(ServerError::TlsRequired(NO_ADDRESS));
        }
        let (shared, backend) = (Arc::clone(&self.shared), Arc::clone(&self.backend));
        accept::accept_loop(listener, kind, shared, backend).await;
        accept::drain(&self.shared).await;
        Ok(())
    }

    /// Serves one connection to its end: any byte stream (a PROXY-protocol
    /// connection after its header, a Unix socket, an in-memory duplex),
    /// described by `info` (for streams without IP addresses, see
    /// [`NO_ADDRESS`]). The connection limits and the shutdown apply as to
    /// any other connection.
    pub async fn serve_connection<S>(&self, stream: S, info: ConnectionInfo)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        accept::run_session(Box::new(stream), info, &self.shared, self.backend.as_ref()).await;
    }
}

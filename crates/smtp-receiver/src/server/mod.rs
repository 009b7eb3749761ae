//! The network side: listeners, connection limits, the per-connection
//! driver, TLS, graceful shutdown.
//!
//! ```no_run
//! use smtp_receiver::{Server, SinkHandler};
//! use smtp_receiver::config::{ServerConfig, RecipientPolicy};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = ServerConfig::new("mx.example.org");
//! config.listen_plain("127.0.0.1:0".parse()?);
//! config.session.recipients = RecipientPolicy::AcceptAny;
//! let server = Server::bind(config, SinkHandler::default()).await?;
//! let addr = server.local_addrs()[0].addr;          // the port the system chose
//! let shutdown = server.shutdown_handle();
//! let running = tokio::spawn(server.run());
//! // ... talk to `addr` ...
//! shutdown.shutdown();
//! running.await??;
//! # Ok(()) }
//! ```

mod body;
mod connection;
mod driver;
mod limits;
mod shutdown;
mod stream;
pub mod tls;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

pub use body::{BodyError, MessageBody};
pub use shutdown::ShutdownHandle;

use crate::config::{ListenerKind, ServerConfig, SessionConfig, Timeouts, TranscriptHook};
use crate::handler::{ConnectionInfo, Handler};
use crate::session::replies;
use limits::Tracker;
use shutdown::ShutdownState;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
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
    pub(crate) timeouts: Timeouts,
    pub(crate) acceptor: Option<TlsAcceptor>,
    pub(crate) transcript: Option<TranscriptHook>,
    pub(crate) shutdown: Arc<watch::Sender<ShutdownState>>,
    pub(crate) tracker: Arc<Tracker>,
}

/// An SMTP server: bound listeners plus the application's [`Handler`].
///
/// [`bind`](Self::bind) first (so the addresses are known, port 0 works),
/// then [`run`](Self::run) until [`ShutdownHandle::shutdown`].
pub struct Server<H: Handler> {
    listeners: Vec<(TcpListener, BoundListener)>,
    shared: Arc<Shared>,
    handler: H,
}

impl<H: Handler> Server<H> {
    /// Binds every configured listener. STARTTLS is offered on plain
    /// listeners when `config.tls` is set.
    pub async fn bind(config: ServerConfig, handler: H) -> Result<Server<H>, ServerError> {
        if config.listeners.is_empty() {
            return Err(ServerError::NoListeners);
        }
        let mut session = config.session.clone();
        session.starttls = config.tls.is_some();
        let mut listeners = Vec::new();
        for listen in &config.listeners {
            if listen.kind == ListenerKind::ImplicitTls && config.tls.is_none() {
                return Err(ServerError::TlsRequired(listen.addr));
            }
            let listener =
                TcpListener::bind(listen.addr)
                    .await
                    .map_err(|source| ServerError::Bind {
                        addr: listen.addr,
                        source,
                    })?;
            let addr = listener.local_addr().map_err(|source| ServerError::Bind {
                addr: listen.addr,
                source,
            })?;
            let starttls = listen.kind == ListenerKind::Plain && session.starttls;
            listeners.push((
                listener,
                BoundListener {
                    addr,
                    kind: listen.kind,
                    starttls,
                },
            ));
        }
        let limits = &session.limits;
        let tracker = Tracker::new(limits.connections, limits.connections_per_ip);
        let shared = Shared {
            timeouts: config.timeouts.clone(),
            acceptor: config.tls.clone().map(TlsAcceptor::from),
            transcript: config.transcript.clone(),
            shutdown: Arc::new(watch::Sender::new(ShutdownState::Running)),
            tracker,
            session: Arc::new(session),
        };
        Ok(Server {
            listeners,
            shared: Arc::new(shared),
            handler,
        })
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
            self.shared.timeouts.shutdown_grace,
        )
    }

    /// Serves until shut down, then waits for the last session to end.
    pub async fn run(self) -> Result<(), ServerError> {
        let Server {
            listeners,
            shared,
            handler,
        } = self;
        let mut accepting = JoinSet::new();
        for (listener, bound) in listeners {
            accepting.spawn(accept_loop(
                listener,
                bound,
                Arc::clone(&shared),
                handler.clone(),
            ));
        }
        let mut state = shared.shutdown.subscribe();
        // Only fails if the sender is gone, and `shared` holds it.
        let _ = state.wait_for(ShutdownState::is_draining).await;
        // Stop accepting: dropping the accept loops closes the listeners.
        accepting.shutdown().await;
        tracing::info!(sessions = shared.tracker.active(), "shutting down");
        shared.tracker.wait_idle().await;
        Ok(())
    }
}

async fn accept_loop<H: Handler>(
    listener: TcpListener,
    bound: BoundListener,
    shared: Arc<Shared>,
    handler: H,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // E.g. EMFILE: wait a little instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(permit) = shared.tracker.try_acquire(peer.ip()) else {
            tracing::info!(%peer, "too many connections; refused");
            if bound.kind == ListenerKind::Plain {
                // One non-blocking write into a fresh socket's empty buffer;
                // an implicit-TLS client would not understand plaintext.
                let _ = tcp
                    .try_write(&replies::too_many_connections(&shared.session.hostname).to_bytes());
            }
            continue;
        };
        let local = tcp.local_addr().unwrap_or(bound.addr);
        let info = ConnectionInfo {
            peer,
            local,
            listener: bound.kind,
        };
        tokio::spawn(driver::serve_connection(
            tcp,
            info,
            Arc::clone(&shared),
            handler.clone(),
            permit,
        ));
    }
}

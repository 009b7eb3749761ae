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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, timeout_at};
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
    /// Connections being turned away right now (see [`refuse`]).
    refusing: AtomicUsize,
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
            refusing: AtomicUsize::new(0),
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

    /// Serves until shut down, then waits for the last session to end: at
    /// most [`shutdown_grace`](crate::config::Timeouts::shutdown_grace) +
    /// [`shutdown_abort`](crate::config::Timeouts::shutdown_abort), after
    /// which the sessions left are dropped.
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
        let grace_deadline = state
            .wait_for(ShutdownState::is_draining)
            .await
            .ok()
            .and_then(|state| state.grace_deadline());
        // Stop accepting: dropping the accept loops closes the listeners.
        accepting.shutdown().await;
        tracing::info!(sessions = shared.tracker.active(), "shutting down");
        // Every session task drops itself at grace + abort (see
        // `abort_at_hard_deadline`); one more second for that to happen, and
        // run() returns even if a task is stuck in blocking code.
        let hard = grace_deadline.unwrap_or_else(tokio::time::Instant::now)
            + shared.timeouts.shutdown_abort
            + Duration::from_secs(1);
        if timeout_at(hard, shared.tracker.wait_idle()).await.is_err() {
            tracing::warn!(
                sessions = shared.tracker.active(),
                "sessions did not end after the shutdown deadline; not waiting for them"
            );
        }
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
            // An implicit-TLS client would not understand a plaintext 421,
            // and a TLS handshake to say it costs the CPU the limit is
            // there to protect: those connections are just closed.
            if bound.kind == ListenerKind::Plain {
                refuse(tcp, &shared);
            }
            continue;
        };
        // A listener bound to one address accepts connections on exactly
        // that address and port: no getsockname(2) per connection then.
        let local = if bound.addr.ip().is_unspecified() {
            tcp.local_addr().unwrap_or(bound.addr)
        } else {
            bound.addr
        };
        let info = ConnectionInfo {
            peer,
            local,
            listener: bound.kind,
        };
        let hard_stop =
            abort_at_hard_deadline(shared.shutdown.subscribe(), shared.timeouts.shutdown_abort);
        let serve =
            driver::serve_connection(tcp, info, Arc::clone(&shared), handler.clone(), permit);
        tokio::spawn(async move {
            tokio::select! {
                () = serve => {}
                () = hard_stop => tracing::warn!(%peer, "session dropped at the shutdown deadline"),
            }
        });
    }
}

/// Resolves `abort` after the end of the shutdown grace period: the session
/// task is then dropped wherever it is (in the application, a TLS
/// handshake, a write to a client that does not read), so a shutdown always
/// completes. Never resolves while the server runs.
async fn abort_at_hard_deadline(mut shutdown: watch::Receiver<ShutdownState>, abort: Duration) {
    let grace_deadline = shutdown
        .wait_for(ShutdownState::is_draining)
        .await
        .ok()
        .and_then(|state| state.grace_deadline());
    match grace_deadline {
        Some(deadline) => sleep_until(deadline + abort).await,
        None => std::future::pending().await,
    }
}

/// At most this many refused connections linger at once; beyond, they are
/// closed without a reply.
const MAX_REFUSING: usize = 64;

/// How long a refused connection may linger so that the 421 arrives.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// RFC 5321 §3.1: a server may answer a connection with 421 and close it.
/// The reply must not be lost: closing a socket with unread input sends a
/// TCP RST, which may make the client discard the 421. So: write the 421,
/// shut down our side (FIN), read and drop what the client sends until it
/// closes, for at most [`REFUSAL_LINGER`], in a task of its own so the
/// accept loop goes on.
fn refuse(tcp: TcpStream, shared: &Arc<Shared>) {
    let reply = replies::too_many_connections(&shared.session.hostname).to_bytes();
    if shared.refusing.fetch_add(1, Ordering::Relaxed) >= MAX_REFUSING {
        shared.refusing.fetch_sub(1, Ordering::Relaxed);
        let _ = tcp.try_write(&reply);
        return;
    }
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let mut tcp = tcp;
        let linger = async {
            tcp.write_all(&reply).await?;
            tcp.shutdown().await?;
            let mut scratch = [0u8; 1024];
            while tcp.read(&mut scratch).await? > 0 {}
            io::Result::Ok(())
        };
        let _ = timeout(REFUSAL_LINGER, linger).await;
        shared.refusing.fetch_sub(1, Ordering::Relaxed);
    });
}

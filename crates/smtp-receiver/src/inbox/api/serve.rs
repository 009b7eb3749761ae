//! Serving the API on plain TCP or HTTPS (`--http-tls`, with the
//! receiver's certificate), until shut down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long requests still running at shutdown may go on (a long-poll
/// wait lasts up to two minutes; nobody should wait for it).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Told to handlers whose answers never end by themselves (the event
/// stream), so that they end when the server stops: a request extension
/// set by [`serve`].
#[derive(Clone)]
pub(crate) struct Stopping(pub(crate) watch::Receiver<bool>);

impl Stopping {
    /// Resolves once the server is stopping (never, when it was not
    /// started by [`serve`]).
    pub(crate) async fn wait(mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A bound HTTP listener, plain or TLS.
pub enum HttpListener {
    /// Plain HTTP.
    Plain(TcpListener),
    /// HTTPS.
    Tls(TcpListener, Arc<rustls::ServerConfig>),
}

impl HttpListener {
    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            HttpListener::Plain(l) | HttpListener::Tls(l, _) => l.local_addr(),
        }
    }
}

/// Serves `router` on `listener` until `stop` resolves (then finishes the
/// requests in flight, for two seconds at most; event streams end at once).
pub async fn serve(
    listener: HttpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stopping, stopped) = watch::channel(false);
    let router = router.layer(axum::Extension(Stopping(stopped.clone())));
    let stop = async move {
        stop.await;
        let _ = stopping.send(true);
    };
    let grace = async move {
        Stopping(stopped).wait().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = serve_until(listener, router, stop) => result,
        () = grace => Ok(()),
    }
}

async fn serve_until(
    listener: HttpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    match listener {
        HttpListener::Plain(listener) => {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
        }
        HttpListener::Tls(listener, config) => {
            let local = listener.local_addr()?;
            let (tx, rx) = mpsc::channel(64);
            let accepting = tokio::spawn(handshakes(listener, TlsAcceptor::from(config), tx));
            let result = axum::serve(TlsListener { rx, local }, router)
                .with_graceful_shutdown(stop)
                .await;
            accepting.abort();
            result
        }
    }
}

/// Accepts connections and does each handshake in its own task, so a slow
/// client holds up no one.
async fn handshakes(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "HTTPS handshake failed"),
                Err(_) => tracing::debug!(%peer, "HTTPS handshake timed out"),
            }
        });
    }
}

struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(accepted) => accepted,
            // The accept task is gone: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

//! Accepting connections: the accept loop, the connection limits (a 421
//! for those beyond them), one task per session with its hard stop, and
//! waiting for the sessions at shutdown.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout, timeout_at};

use super::commit::{COMMIT_LIMIT, SessionCommit};
use super::connection::Io;
use super::listener::Listener;
use super::shutdown::{ShutdownState, draining};
use super::{Shared, driver};
use crate::config::ListenerKind;
use crate::handler::Backend;
use crate::session::{ConnectionInfo, replies};

/// Accepts connections from `listener` until the server begins to shut
/// down, one task each.
pub(super) async fn accept_loop<L: Listener, B: Backend>(
    mut listener: L,
    kind: ListenerKind,
    shared: Arc<Shared>,
    backend: Arc<B>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown_began(&shared) => return,
        };
        match accepted {
            Ok(accepted) => {
                let (shared, backend) = (Arc::clone(&shared), Arc::clone(&backend));
                tokio::spawn(async move {
                    let mut peer = accepted.peer;
                    let mut stream: Io = Box::new(accepted.stream);
                    // PROXY headers come from the balancer in front of the
                    // SMTP listeners; an MTA delivers over LMTP directly.
                    if let Some(proxy) =
                        shared.proxy.as_ref().filter(|_| kind != ListenerKind::Lmtp)
                    {
                        match proxy.accept(stream, peer).await {
                            Ok((client, rest)) => {
                                peer = client.unwrap_or(peer);
                                stream = rest;
                            }
                            Err(error) => {
                                // Closed without a greeting (see proxy.rs).
                                tracing::info!(peer = %accepted.peer, "{error}");
                                return;
                            }
                        }
                    }
                    let mut info = ConnectionInfo::new(peer, accepted.local, kind);
                    info.xclient = shared.xclient_hosts.iter().any(|c| c.contains(peer.ip()));
                    run_session(stream, info, &shared, backend.as_ref()).await;
                });
            }
            Err(error) => {
                // E.g. EMFILE: wait a little instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One session within the connection limits, dropped at the shutdown's
/// hard deadline wherever it is.
pub(super) async fn run_session<B: Backend>(
    stream: Io,
    info: ConnectionInfo,
    shared: &Shared,
    backend: &B,
) {
    let peer = info.peer;
    let Some(_permit) = shared.tracker.try_acquire(peer.ip()) else {
        tracing::info!(%peer, "too many connections; refused");
        // An implicit-TLS client would not understand a plaintext 421,
        // and a TLS handshake to say it costs the CPU the limit is
        // there to protect: those connections are just closed.
        if info.listener != ListenerKind::ImplicitTls {
            refuse(stream, shared).await;
        }
        return;
    };
    let commit = shared.commits.session();
    let hard_stop = hard_deadline(shared.shutdown.subscribe(), shared.shutdown_abort, &commit);
    tokio::select! {
        () = driver::serve(stream, info, shared, backend, commit.clone()) => {}
        () = hard_stop => tracing::warn!(%peer, "session dropped at the shutdown deadline"),
    }
    commit.end();
}

/// Resolves `abort` after the end of the shutdown grace period: the session
/// task is then dropped wherever it is (in the application, a TLS
/// handshake, a write to a client that does not read), so a shutdown always
/// completes. Never resolves while the server runs.
///
/// Except in the middle of a commit (see [`commit`](super::commit)): a
/// message read to its end is stored and its reply written first, for at
/// most [`COMMIT_LIMIT`], so that no message is stored without its 250
/// (and sent again by its client: a duplicate). The session runs in this
/// same task, so when this resolves it is not inside a commit, and it is
/// dropped before it can begin another.
async fn hard_deadline(
    mut shutdown: watch::Receiver<ShutdownState>,
    abort: Duration,
    commit: &SessionCommit,
) {
    sleep_until(draining(&mut shutdown).await + abort).await;
    if commit.is_active() {
        tracing::warn!("shutdown deadline passed while a message is being stored; finishing it");
        if timeout(COMMIT_LIMIT, commit.finished()).await.is_err() {
            tracing::error!(
                "the application has not finished storing a message after {} s; dropped: \
                 the message may be stored without the client being told",
                COMMIT_LIMIT.as_secs()
            );
        }
    }
}

/// Resolves once the server has begun to shut down.
pub(super) async fn shutdown_began(shared: &Shared) {
    draining(&mut shared.shutdown.subscribe()).await;
}

/// After the accept loops stopped: waits for the sessions, at most until
/// every one has been dropped at the hard deadline (and one second more,
/// so a task stuck in blocking code cannot hold the server).
pub(super) async fn drain(shared: &Shared) {
    let grace_deadline = shared.shutdown.borrow().grace_deadline();
    tracing::info!(sessions = shared.tracker.active(), "shutting down");
    let hard = grace_deadline.unwrap_or_else(tokio::time::Instant::now)
        + shared.shutdown_abort
        + Duration::from_secs(1);
    let mut idle = timeout_at(hard, shared.tracker.wait_idle()).await.is_ok();
    if !idle && shared.commits.in_progress() > 0 {
        // Sessions storing a message outlive the hard deadline (see
        // `hard_deadline`); returning now would end the process under them.
        tracing::warn!(
            messages = shared.commits.in_progress(),
            "waiting for messages being stored"
        );
        let _ = timeout(COMMIT_LIMIT, shared.commits.none()).await;
        // Their sessions are dropped as soon as their replies are out.
        idle = timeout(Duration::from_secs(1), shared.tracker.wait_idle())
            .await
            .is_ok();
    }
    if !idle {
        tracing::warn!(
            sessions = shared.tracker.active(),
            "sessions did not end after the shutdown deadline; not waiting for them"
        );
    }
}

/// At most this many refused connections linger at once; beyond, they are
/// closed without waiting.
const MAX_REFUSING: usize = 64;

/// How long a refused connection may linger so that the 421 arrives.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// RFC 5321 §3.1: a server may answer a connection with 421 and close it.
/// The reply must not be lost: closing a socket with unread input sends a
/// TCP RST, which may make the client discard the 421. So: write the 421,
/// shut down our side (FIN), read and drop what the client sends until it
/// closes, for at most [`REFUSAL_LINGER`] (in the connection's own task:
/// the accept loop goes on).
async fn refuse(mut stream: Io, shared: &Shared) {
    let reply = replies::too_many_connections(&shared.session.hostname).to_bytes();
    if shared.refusing.fetch_add(1, Ordering::Relaxed) >= MAX_REFUSING {
        shared.refusing.fetch_sub(1, Ordering::Relaxed);
        // One attempt, no waiting (a zero timeout still polls the write once).
        let _ = timeout(Duration::ZERO, stream.write(&reply)).await;
        return;
    }
    let linger = async move {
        stream.write_all(&reply).await?;
        stream.shutdown().await?;
        let mut scratch = [0u8; 1024];
        while stream.read(&mut scratch).await? > 0 {}
        std::io::Result::Ok(())
    };
    let _ = timeout(REFUSAL_LINGER, linger).await;
    shared.refusing.fetch_sub(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::SinkHandler;
    use crate::config::{RecipientPolicy, ServerConfig};

    /// An idle session costs what its task holds (docs/benchmarks.md, "The
    /// session's task, smaller"): the future of `run_session`, plus
    /// tokio's task header, rounded up to the allocator's size class
    /// (jemalloc's next classes are 5,120 and 6,144 octets). The DATA phase
    /// and the STARTTLS handshake are boxed so that this stays small; a
    /// change that puts a large state back into it fails here.
    #[test]
    fn an_idle_session_keeps_its_future_small() {
        let config = ServerConfig::builder("mx.example.org")
            .recipients(RecipientPolicy::AcceptAny)
            .build();
        let server = crate::Server::new(config, SinkHandler::default());
        let (stream, _peer) = tokio::io::duplex(64);
        let addr: SocketAddr = ([127, 0, 0, 1], 25).into();
        let info = ConnectionInfo::new(addr, addr, ListenerKind::Plain);
        let future = run_session(
            Box::new(stream),
            info,
            &server.shared,
            server.backend.as_ref(),
        );
        let size = std::mem::size_of_val(&future);
        assert!(size <= 4_608, "run_session's future is {size} octets");
    }
}

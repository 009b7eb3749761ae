//! The connection driver: runs one session over one stream and puts the
//! session's questions to the application. It moves bytes
//! ([`Connection::next`]) and calls the application; every protocol
//! decision is the session's.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use smtp_wire::Reply;
use smtp_wire::sasl::{Credentials, Mechanism};
use tracing::Instrument as _;

use super::Shared;
use super::body::MessageBody;
use super::commit::SessionCommit;
use super::connection::{Connection, Io};
use super::record::{Outcome, SessionRecord, Tally, session_id};
use crate::handler::{Backend, Handler};
use crate::session::{Event, Request, Session};
use crate::{ConnectionInfo, Envelope};
use smtp_receiver_core::replies;

/// Body buffer capacity kept between messages (more is released).
const BODY_BUFFER_KEPT: usize = 16 * 1024;

/// Serves one connection to its end, inside a `session` span (the
/// session id and the client's address on every log line).
pub(crate) async fn serve<B: Backend>(
    stream: Io,
    info: ConnectionInfo,
    shared: &Shared,
    backend: &B,
    commit: SessionCommit,
) {
    let started = SystemTime::now();
    let id = session_id(started);
    let span = tracing::info_span!("session", id = %id, peer = %info.peer);
    // Built here and lent to the session: an `async fn` keeps room in its
    // future for each argument twice, the argument and the local it is
    // moved into (rust-lang/rust#62958), 448 octets per idle session for a
    // `Connection` passed by value.
    let mut conn = Connection::new(
        stream,
        shared.acceptor.clone(),
        shared.shutdown.subscribe(),
        stress_signal(shared),
        commit,
        shared.transcript.is_some() || shared.sessions.is_some(),
    );
    serve_session(&mut conn, info, shared, backend, id, started)
        .instrument(span)
        .await;
}

async fn serve_session<B: Backend>(
    conn: &mut Connection,
    info: ConnectionInfo,
    shared: &Shared,
    backend: &B,
    id: String,
    started: SystemTime,
) {
    let mut tally = Tally::default();
    let mut session = Session::new(Arc::clone(&shared.session), info.clone());
    let mut body = Vec::new();
    tracing::debug!(peer = %info.peer, listener = %info.listener, "session started");
    // Until the application has welcomed the client: on an implicit-TLS
    // listener the handshake, then the question.
    let handler = loop {
        match conn.next(&mut session, &mut body).await {
            Some(Event::Ask(Request::Connect)) => match backend.connect(&info).await {
                Ok(handler) => {
                    session.answer(Ok(()));
                    break Some(handler);
                }
                Err(reply) => session.answer(Err(reply)),
            },
            Some(_) => {} // nothing else comes before the client is welcome
            None => break None,
        }
    };
    if let Some(mut handler) = handler {
        let mut app = App {
            handler: &mut handler,
            shared,
            info: &info,
        };
        drive(conn, &mut session, &mut app, &mut body, &mut tally).await;
        handler.disconnect().await;
    }
    tracing::debug!(peer = %info.peer, "session ended");
    if let (Some(hook), Some(transcript)) = (&shared.transcript, &conn.transcript) {
        hook(&info, transcript);
    }
    if let (Some(hook), Some(transcript)) = (&shared.sessions, conn.transcript.take()) {
        hook(SessionRecord {
            outcome: Outcome::of(&transcript, !tally.delivered.is_empty()),
            id,
            info,
            started,
            ended: SystemTime::now(),
            tls: conn.tls_parameters(),
            delivered: tally.delivered,
            helo: tally.helo,
            auth_user: tally.auth_user,
            transcript,
        });
    }
}

/// The tracker's stress signal, marked changed so that a session starting
/// under stress learns it at its first poll.
fn stress_signal(shared: &Shared) -> tokio::sync::watch::Receiver<bool> {
    let mut stress = shared.tracker.stress();
    stress.mark_changed();
    stress
}

/// What the loop answers with: the application's handler, and the
/// server's state across sessions.
struct App<'a, H> {
    handler: &'a mut H,
    shared: &'a Shared,
    info: &'a ConnectionInfo,
}

/// The loop: the application's part of every event, until the session ends.
async fn drive<H: Handler>(
    conn: &mut Connection,
    session: &mut Session,
    app: &mut App<'_, H>,
    body: &mut Vec<u8>,
    tally: &mut Tally,
) {
    loop {
        let handler = &mut *app.handler;
        match conn.next(session, body).await {
            None => return,
            Some(Event::Ask(request)) => {
                tally.asked(&request);
                let verdict = match request {
                    Request::Auth {
                        mechanism,
                        credentials,
                    } => authenticate(app, mechanism, &credentials).await,
                    request => ask(handler, request).await,
                };
                tally.answered(verdict.is_ok());
                session.answer(verdict);
            }
            Some(Event::Message(envelope)) => {
                // Boxed, one allocation per message: its state is the
                // largest of the session's, and an idle session (between
                // messages, or before its first) should not keep room for it.
                Box::pin(receive_message(conn, session, handler, &envelope, body)).await;
                // The session queued its reply: a 250 names the queue id.
                let queued = format!("queued as {}\r\n", envelope.id);
                if session
                    .output()
                    .windows(queued.len())
                    .any(|w| w == queued.as_bytes())
                {
                    tally.delivered.push(envelope.id.clone());
                }
            }
            Some(Event::Reset) => handler.reset().await,
            // The rest of a message the application no longer reads.
            Some(_) => body.clear(),
        }
    }
}

/// [`Event::Message`]: hands the body to the application as a stream, then
/// gives the session its verdict.
async fn receive_message<H: Handler>(
    conn: &mut Connection,
    session: &mut Session,
    handler: &mut H,
    envelope: &Envelope,
    body: &mut Vec<u8>,
) {
    // RFC 5321 §4.5.3.2.2: the client waits for the 354 only so long; it
    // goes out now, not when the application starts reading the body.
    if conn.write(session).await.is_err() {
        return;
    }
    let verdict = {
        let mut stream = MessageBody::live(conn, session, body);
        handler.data(envelope, &mut stream).await
    };
    if verdict.is_ok() && !session.message_fully_read() && !session.is_closed() {
        // RFC 5321 §6.1: the session answers 451 instead of 250.
        tracing::warn!(
            id = %envelope.id,
            "the application returned Ok before reading the whole message; answering 451 \
             (Handler::data must read the body to its end before accepting it)"
        );
    }
    tracing::debug!(id = %envelope.id, accepted = verdict.is_ok(), "application verdict");
    session.finish_message(verdict);
    // The body buffer holds up to one 64 KiB chunk; a session that goes
    // idle after a large message should not keep it.
    if body.capacity() > BODY_BUFFER_KEPT {
        *body = Vec::new();
    } else {
        body.clear();
    }
}

/// AUTH, guarded across connections ([`AuthGuard`](super::auth_guard)):
/// refused with 454 while the client or the user name is locked out, and
/// each failure logged and its reply delayed. Trusted networks are exempt.
async fn authenticate<H: Handler>(
    app: &mut App<'_, H>,
    mechanism: Mechanism,
    credentials: &Credentials,
) -> Result<(), Reply> {
    let client = app.info.peer.ip();
    let user = &credentials.username;
    let guard = (!app.shared.tracker.is_trusted(client)).then_some(&app.shared.auth_guard);
    if let Some(guard) = guard
        && let Err(until) = guard.admit(client, user, Instant::now())
    {
        tracing::warn!(
            client = %client,
            mechanism = %mechanism,
            locked_for_s = until.saturating_duration_since(Instant::now()).as_secs(),
            "authentication refused: locked out"
        );
        return Err(replies::auth_locked_out());
    }
    let verdict = app.handler.auth(mechanism, credentials).await;
    if verdict.is_err() {
        let failures = guard.map(|guard| guard.failed(client, user, Instant::now()));
        // One stable line per failure for fail2ban-style tools. The user
        // name stays out of it (a "user name" is often a password typed
        // in the wrong field; `WithUsers` logs it at debug, escaped).
        tracing::warn!(
            client = %client,
            mechanism = %mechanism,
            failures = failures.map_or(0, |f| f.client_failures),
            "authentication failed"
        );
        if let Some(failure) = failures {
            tokio::time::sleep(failure.delay).await;
        }
    }
    verdict
}

/// Puts a session's question to the application.
async fn ask<H: Handler>(handler: &mut H, request: Request) -> Result<(), Reply> {
    match request {
        // Answered by the backend before there is a handler.
        Request::Connect => Ok(()),
        Request::Hello { domain, extended } => handler.ehlo(&domain, extended).await,
        Request::Auth {
            mechanism,
            credentials,
        } => handler.auth(mechanism, &credentials).await,
        Request::Mail { from, params } => handler.mail(&from, &params).await,
        Request::Rcpt { to, params } => handler.rcpt(&to, &params).await,
    }
}

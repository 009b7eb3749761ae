//! The connection driver: runs one session over one socket. It only moves
//! bytes and calls the application; every protocol decision is the
//! session's.

use std::sync::Arc;

use smtp_wire::Reply;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::Shared;
use super::body::MessageBody;
use super::connection::{Connection, Failure, ReadError};
use super::limits::Permit;
use super::stream::Stream;
use crate::config::ListenerKind;
use crate::handler::{ConnectionInfo, Envelope, Handler};
use crate::session::{Event, Request, Session};

/// Body buffer capacity kept between messages (more is released).
const BODY_BUFFER_KEPT: usize = 16 * 1024;

/// Serves one accepted connection to its end.
pub(crate) async fn serve_connection<H: Handler>(
    tcp: TcpStream,
    info: ConnectionInfo,
    shared: Arc<Shared>,
    mut handler: H,
    permit: Permit,
) {
    let _ = tcp.set_nodelay(true);
    let mut conn = Connection::new(
        Stream::Plain(tcp),
        shared.timeouts.clone(),
        shared.shutdown.subscribe(),
        shared.transcript.is_some(),
    );
    let implicit_tls = info.listener == ListenerKind::ImplicitTls;
    if implicit_tls {
        // RFC 8314 §3.3: TLS from the first byte; no handshake, no session.
        let Some(acceptor) = &shared.acceptor else {
            return;
        };
        if let Err(error) = conn
            .start_tls(acceptor, shared.timeouts.tls_handshake)
            .await
        {
            tracing::debug!(peer = %info.peer, %error, "implicit TLS handshake failed");
            return finish(&shared, &info, conn, permit);
        }
    }
    let mut session = Session::new(shared.session.clone(), info.clone(), implicit_tls);
    if let Err(reply) = handler.connect(&info).await {
        session.refuse(reply);
    }
    tracing::debug!(peer = %info.peer, listener = %info.listener, "session started");
    drive(
        &mut conn,
        &mut session,
        &mut handler,
        shared.acceptor.as_ref(),
        &shared,
    )
    .await;
    tracing::debug!(peer = %info.peer, "session ended");
    finish(&shared, &info, conn, permit);
}

fn finish(shared: &Shared, info: &ConnectionInfo, conn: Connection, permit: Permit) {
    if let (Some(hook), Some(transcript)) = (&shared.transcript, &conn.transcript) {
        hook(info, transcript);
    }
    drop(permit);
}

/// The loop: poll the session, do what it says, repeat until it closes.
async fn drive<H: Handler>(
    conn: &mut Connection,
    session: &mut Session,
    handler: &mut H,
    acceptor: Option<&TlsAcceptor>,
    shared: &Shared,
) {
    let mut body = Vec::new();
    loop {
        let (used, event) = session.poll(conn.input(), &mut body);
        conn.consume(used);
        let go_on = match event {
            Event::NeedMore => {
                // RFC 2920 §3.1: all replies are sent once the input is drained.
                if conn.write_output(session).await.is_err() {
                    return;
                }
                match conn.read_more(session).await {
                    Ok(()) => true,
                    Err(ReadError::Timeout) => {
                        session.timed_out();
                        true
                    }
                    Err(ReadError::Shutdown) => {
                        session.shut_down();
                        true
                    }
                    Err(ReadError::Closed) => false,
                    Err(ReadError::Io(error)) => {
                        tracing::debug!(%error, "read failed");
                        false
                    }
                }
            }
            Event::Flush => conn.write_output(session).await.is_ok(),
            Event::Ask(request) => {
                let verdict = ask(handler, request).await;
                session.answer(verdict);
                true
            }
            Event::Message(envelope) => {
                receive_message(conn, session, handler, &envelope, &mut body).await
            }
            // Only while the rest of a message is being discarded.
            Event::Body | Event::BodyEnd | Event::BodyAborted => {
                body.clear();
                true
            }
            Event::Reset => {
                handler.reset().await;
                true
            }
            Event::StartTls => start_tls(conn, session, acceptor, shared).await,
            Event::Close => {
                let _ = conn.write_output(session).await;
                conn.close().await;
                false
            }
        };
        if !go_on {
            return;
        }
    }
}

/// [`Event::Message`]: hands the body to the application as a stream, then
/// gives the session its verdict. False when the connection is lost.
async fn receive_message<H: Handler>(
    conn: &mut Connection,
    session: &mut Session,
    handler: &mut H,
    envelope: &Envelope,
    body: &mut Vec<u8>,
) -> bool {
    // RFC 5321 §4.5.3.2.2: the client waits for the 354 only so long; it
    // goes out now, not when the application starts reading the body.
    if conn.write_output(session).await.is_err() {
        return false;
    }
    let verdict = {
        let mut stream = MessageBody::new(conn, session, body);
        handler.data(envelope, &mut stream).await
    };
    if verdict.is_ok() && !session.message_fully_read() {
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
    match conn.failure.take() {
        None => {}
        Some(Failure::Timeout) => session.timed_out(),
        Some(Failure::Shutdown) => session.shut_down(),
        Some(Failure::Lost) => return false,
    }
    true
}

/// [`Event::StartTls`]: the `220`, then the handshake (RFC 3207 §4).
/// False when the session cannot go on.
async fn start_tls(
    conn: &mut Connection,
    session: &mut Session,
    acceptor: Option<&TlsAcceptor>,
    shared: &Shared,
) -> bool {
    if conn.write_output(session).await.is_err() {
        return false;
    }
    // RFC 3207 §4.2 / CVE-2011-0411: anything the client sent after
    // STARTTLS before the handshake is plaintext that an attacker may have
    // injected; it is thrown away, unread.
    let injected = conn.discard_input();
    if injected > 0 {
        tracing::warn!(octets = injected, "discarded plaintext sent after STARTTLS");
        if let Some(transcript) = conn.transcript.as_mut() {
            transcript.note(&format!("discarded {injected} octets sent after STARTTLS"));
        }
    }
    let Some(acceptor) = acceptor else {
        return false;
    };
    if let Err(error) = conn
        .start_tls(acceptor, shared.timeouts.tls_handshake)
        .await
    {
        tracing::debug!(%error, "STARTTLS handshake failed");
        return false;
    }
    session.tls_established();
    true
}

/// Puts a session's question to the application.
async fn ask<H: Handler>(handler: &mut H, request: Request) -> Result<(), Reply> {
    match request {
        Request::Hello { domain, extended } => handler.ehlo(&domain, extended).await,
        Request::Auth(credentials) => handler.auth(&credentials).await,
        Request::Mail { from, params } => handler.mail(&from, &params).await,
        Request::Rcpt { to, params } => handler.rcpt(&to, &params).await,
    }
}

//! The message body as the application sees it: a stream of chunks pulled
//! from the connection as the application asks for them, so memory stays
//! bounded whatever the message size; or, in an application's own tests,
//! chunks given in memory.

use std::collections::VecDeque;

use smtp_wire::Reply;

use super::connection::Connection;
use crate::session::{Abort, Event, Session, replies};

/// Why the body stream stopped before its end. The message must be
/// dropped; the library sends the right reply whatever the application
/// returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The library refuses the message (a bare CR or a NUL; with the strict
    /// content policy a bare LF or a line too long; too big); the rest is
    /// read and discarded, then this reply is sent.
    #[error("message refused: {0}")]
    Refused(Reply),
    /// The client abandoned the message (RSET or QUIT between BDAT chunks).
    #[error("message abandoned by the client")]
    Aborted,
    /// The client was too slow (RFC 5321 §4.5.3.2).
    #[error("timeout while reading the message")]
    Timeout,
    /// The server is shutting down and the grace period is over.
    #[error("server shutting down")]
    Shutdown,
    /// The connection was lost.
    #[error("connection lost")]
    ConnectionLost,
}

impl BodyError {
    /// A reply for the application to return from
    /// [`Handler::data`](crate::Handler::data) (the library may send a
    /// better one, e.g. the refusal itself).
    pub fn reply(&self) -> Reply {
        match self {
            BodyError::Refused(reply) => reply.clone(),
            _ => replies::local_error(),
        }
    }
}

/// Where the octets come from.
enum Source<'a> {
    /// A client, through the session.
    Live {
        conn: &'a mut Connection,
        session: &'a mut Session,
        buf: &'a mut Vec<u8>,
    },
    /// Chunks given in advance, then an end or an error.
    Memory {
        chunks: VecDeque<Vec<u8>>,
        current: Vec<u8>,
        end: Option<BodyError>,
    },
}

/// The message body: call [`chunk`](Self::chunk) until it returns `Ok(None)`.
///
/// From a client, the first chunks are the trace header lines (see
/// [`Envelope::trace`](crate::Envelope::trace)), then the message as the
/// client sent it (dot-unstuffed for DATA, the CRLF before the final dot
/// included; BDAT chunks concatenated), always with CRLF line ends: under
/// the liberal [`ContentPolicy`](crate::ContentPolicy) (the default) a
/// line the client ended with a bare LF arrives ended by CRLF, so a
/// handler sees one form whatever the client sent.
///
/// An application's tests make one from memory:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use smtp_receiver::{BodyError, MessageBody};
///
/// let mut body = MessageBody::from_chunks(["Subject: hi\r\n", "\r\nHello\r\n"]);
/// let mut message = Vec::new();
/// while let Some(chunk) = body.chunk().await.unwrap() {
///     message.extend_from_slice(chunk);
/// }
/// assert_eq!(message, b"Subject: hi\r\n\r\nHello\r\n");
///
/// // A client that goes away in the middle.
/// let mut body = MessageBody::from_bytes("Subject: cut").ending_with(BodyError::ConnectionLost);
/// assert!(body.chunk().await.unwrap().is_some());
/// assert_eq!(body.chunk().await, Err(BodyError::ConnectionLost));
/// # }
/// ```
pub struct MessageBody<'a> {
    source: Source<'a>,
    ended: bool,
    failed: Option<BodyError>,
    octets: u64,
}

impl std::fmt::Debug for MessageBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageBody")
            .field("octets", &self.octets)
            .field("ended", &self.ended)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl MessageBody<'static> {
    /// A body of exactly these octets, in one chunk.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        MessageBody::from_chunks([bytes])
    }

    /// A body of these chunks, in order.
    pub fn from_chunks<I>(chunks: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Vec<u8>>,
    {
        MessageBody::new(Source::Memory {
            chunks: chunks.into_iter().map(Into::into).collect(),
            current: Vec::new(),
            end: None,
        })
    }

    /// After the chunks, `error` instead of the end: what the application
    /// sees when the library refuses the message or the client goes away.
    pub fn ending_with(mut self, error: BodyError) -> Self {
        if let Source::Memory { end, .. } = &mut self.source {
            *end = Some(error);
        }
        self
    }
}

impl<'a> MessageBody<'a> {
    fn new(source: Source<'a>) -> Self {
        MessageBody {
            source,
            ended: false,
            failed: None,
            octets: 0,
        }
    }

    /// The body of the message the session is receiving on `conn`.
    pub(crate) fn live(
        conn: &'a mut Connection,
        session: &'a mut Session,
        buf: &'a mut Vec<u8>,
    ) -> Self {
        MessageBody::new(Source::Live { conn, session, buf })
    }

    /// The next piece of the message, `Ok(None)` at its end. Pieces from a
    /// client are at most 64 KiB (plus the trace header lines in the first).
    pub async fn chunk(&mut self) -> Result<Option<&[u8]>, BodyError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.ended {
            return Ok(None);
        }
        let next = match &mut self.source {
            Source::Live { conn, session, buf } => {
                buf.clear();
                match conn.next(session, buf).await {
                    Some(Event::Body) => Ok(Some(&buf[..])),
                    Some(Event::BodyEnd) => {
                        conn.begin_commit();
                        Ok(None)
                    }
                    Some(Event::BodyRefused(reply)) => Err(BodyError::Refused(reply)),
                    Some(Event::BodyAborted(Abort::Timeout)) => Err(BodyError::Timeout),
                    Some(Event::BodyAborted(Abort::Shutdown)) => Err(BodyError::Shutdown),
                    // RSET or QUIT between chunks, too many errors: the message is gone.
                    Some(_) => Err(BodyError::Aborted),
                    None => Err(BodyError::ConnectionLost),
                }
            }
            Source::Memory {
                chunks,
                current,
                end,
            } => match chunks.pop_front() {
                Some(chunk) => {
                    *current = chunk;
                    Ok(Some(&current[..]))
                }
                None => end.take().map_or(Ok(None), Err),
            },
        };
        match next {
            Ok(Some(chunk)) => {
                self.octets += chunk.len() as u64;
                Ok(Some(chunk))
            }
            Ok(None) => {
                self.ended = true;
                Ok(None)
            }
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Octets handed out so far (trace header lines included).
    pub fn octets(&self) -> u64 {
        self.octets
    }
}

//! The message body as the application sees it: a stream of chunks pulled
//! from the connection as the application asks for them, so memory stays
//! bounded whatever the message size.

use smtp_wire::Reply;

use super::connection::{Connection, Failure};
use crate::session::{Event, Session, replies};

/// Why the body stream stopped before its end. The message must be
/// dropped; the library sends the right reply whatever the application
/// returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The library refuses the message (bare CR/LF, too big, line too
    /// long); the rest is read and discarded, then this reply is sent.
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

/// The message body: call [`chunk`](Self::chunk) until it returns `Ok(None)`.
///
/// The first chunks are the trace header lines (see
/// [`Envelope::trace`](crate::Envelope::trace)), then the message exactly
/// as the client sent it (dot-unstuffed for DATA, the CRLF before the
/// final dot included; BDAT chunks concatenated).
pub struct MessageBody<'a> {
    conn: &'a mut Connection,
    session: &'a mut Session,
    buf: &'a mut Vec<u8>,
    ended: bool,
    failed: Option<BodyError>,
    octets: u64,
}

impl<'a> MessageBody<'a> {
    pub(crate) fn new(
        conn: &'a mut Connection,
        session: &'a mut Session,
        buf: &'a mut Vec<u8>,
    ) -> Self {
        MessageBody {
            conn,
            session,
            buf,
            ended: false,
            failed: None,
            octets: 0,
        }
    }

    /// The next piece of the message, `Ok(None)` at its end. Pieces are at
    /// most 64 KiB (plus the trace header lines in the first).
    pub async fn chunk(&mut self) -> Result<Option<&[u8]>, BodyError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.ended {
            return Ok(None);
        }
        self.buf.clear();
        loop {
            let (used, event) = self.session.poll(self.conn.input(), self.buf);
            self.conn.consume(used);
            if let Some(reply) = self.session.body_refusal() {
                let reply = reply.clone();
                return Err(self.fail(BodyError::Refused(reply), None));
            }
            match event {
                Event::Body => {
                    self.octets += self.buf.len() as u64;
                    return Ok(Some(&self.buf[..]));
                }
                Event::BodyEnd => {
                    self.ended = true;
                    return Ok(None);
                }
                Event::NeedMore | Event::Flush => {
                    // RFC 2920 §3.1: replies (a BDAT chunk's 250) go out
                    // before we block on reading.
                    if self.conn.write_output(self.session).await.is_err() {
                        return Err(self.fail(BodyError::ConnectionLost, Some(Failure::Lost)));
                    }
                    if event == Event::NeedMore
                        && let Err(error) = self.conn.read_more(self.session).await
                    {
                        let failure = Failure::from(&error);
                        let body_error = match failure {
                            Failure::Timeout => BodyError::Timeout,
                            Failure::Shutdown => BodyError::Shutdown,
                            Failure::Lost => BodyError::ConnectionLost,
                        };
                        return Err(self.fail(body_error, Some(failure)));
                    }
                }
                // RSET/QUIT between chunks, too many errors: the message is gone.
                _ => return Err(self.fail(BodyError::Aborted, None)),
            }
        }
    }

    /// Octets handed out so far (trace header lines included).
    pub fn octets(&self) -> u64 {
        self.octets
    }

    fn fail(&mut self, error: BodyError, failure: Option<Failure>) -> BodyError {
        if failure.is_some() {
            self.conn.failure = failure;
        }
        self.failed = Some(error.clone());
        error
    }
}

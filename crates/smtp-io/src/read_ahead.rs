//! [`ReadAhead`]: the transport under TLS, read in big pieces.
//!
//! rustls asks its transport for at most 4 KiB at a time (its record
//! reader grows by that much per read), so a 100 MiB message over TLS cost
//! the receiver some 25,600 `recvfrom` calls, each through tokio's
//! readiness machinery. Under TLS the transport is wrapped in this: one
//! read asks the kernel for up to [`READ_AHEAD`] octets, and rustls's small
//! reads are served from memory.
//!
//! The buffer lives only while data flows. It is freed as soon as it is
//! empty and the transport has nothing more to give (the read is pending),
//! so an idle TLS session holds no more memory than without it. Writes go
//! straight through.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most one read of the transport asks for: four TLS records.
pub const READ_AHEAD: usize = 64 * 1024;

/// A transport whose reads are made [`READ_AHEAD`] octets at a time.
pub struct ReadAhead<S> {
    inner: S,
    /// Empty while idle; [`READ_AHEAD`] octets while data flows.
    buf: Vec<u8>,
    /// The unread octets are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl<S> ReadAhead<S> {
    /// Wraps `inner`; nothing is allocated until the first read.
    pub fn new(inner: S) -> Self {
        ReadAhead {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Octets read from the transport and not yet handed on.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Hands on what is buffered, as much as `out` takes.
    fn hand_on(&mut self, out: &mut ReadBuf<'_>) {
        let n = out.remaining().min(self.end - self.start);
        out.put_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for ReadAhead<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadAhead")
            .field("inner", &self.inner)
            .field("buffered", &self.buffered())
            .finish()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.start < this.end {
            this.hand_on(out);
            return Poll::Ready(Ok(()));
        }
        if out.remaining() >= READ_AHEAD {
            // A read as big as ours needs no buffer of its own.
            this.buf = Vec::new();
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        if this.buf.is_empty() {
            this.buf = vec![0; READ_AHEAD];
        }
        let mut into = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.inner).poll_read(cx, &mut into) {
            Poll::Pending => {
                // Nothing flows: the buffer goes until something does.
                this.buf = Vec::new();
                Poll::Pending
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(())) => {
                // Zero octets is the end of the stream: `out` stays as it
                // is, which tells the reader so.
                this.end = into.filled().len();
                this.hand_on(out);
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Small reads are served from one big read of the transport, in
    /// order, octet for octet; the end of the stream comes through.
    #[tokio::test]
    async fn small_reads_come_from_one_big_read_in_order() {
        let (mut far, near) = tokio::io::duplex(4 * READ_AHEAD);
        let data: Vec<u8> = (0..3 * READ_AHEAD + 17).map(|i| (i % 251) as u8).collect();
        far.write_all(&data).await.unwrap();
        drop(far);
        let mut reader = ReadAhead::new(near);
        let mut got = Vec::new();
        let mut piece = [0u8; 4096];
        loop {
            let n = reader.read(&mut piece).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
            assert!(reader.buffered() < READ_AHEAD);
        }
        assert_eq!(got, data);
    }

    /// The buffer is filled in one read of the transport: after the first
    /// 4 KiB read the rest of what was there is held, not left in the
    /// transport.
    #[tokio::test]
    async fn one_transport_read_fills_the_buffer() {
        let (mut far, near) = tokio::io::duplex(4 * READ_AHEAD);
        far.write_all(&vec![b'x'; 40_000]).await.unwrap();
        let mut reader = ReadAhead::new(near);
        let mut piece = [0u8; 4096];
        assert_eq!(reader.read(&mut piece).await.unwrap(), 4096);
        assert_eq!(reader.buffered(), 40_000 - 4096);
    }

    /// Idle (nothing to read), no buffer is held.
    #[tokio::test]
    async fn an_idle_stream_holds_no_buffer() {
        let (mut far, near) = tokio::io::duplex(1024);
        let mut reader = ReadAhead::new(near);
        far.write_all(b"abc").await.unwrap();
        let mut piece = [0u8; 8];
        assert_eq!(reader.read(&mut piece).await.unwrap(), 3);
        let pending = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            reader.read(&mut piece),
        )
        .await;
        assert!(pending.is_err(), "nothing was sent");
        assert_eq!(reader.buf.capacity(), 0, "the buffer went while idle");
        far.write_all(b"de").await.unwrap();
        assert_eq!(reader.read(&mut piece).await.unwrap(), 2);
        assert_eq!(&piece[..2], b"de");
    }
}

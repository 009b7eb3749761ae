//! A copy of the first bytes the server sends during the implicit-TLS
//! handshake, for the core to read when the handshake fails: a server that
//! answers the ClientHello with `220 ...` speaks plain SMTP on that port
//! (`smtp-sender-core`'s `connection/first_word.rs` decides). rustls
//! consumes those bytes and reports only "corrupt message", so they are
//! copied on their way in.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Enough for an SMTP greeting line (RFC 5321 §4.5.3.1.5: 512 octets).
const KEEP: usize = 512;

/// The shared copy: filled by [`Tapped`] while on, taken by the client.
#[derive(Debug, Clone, Default)]
pub(super) struct Tap {
    on: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Tap {
    /// A tap that copies from the start.
    pub(super) fn on() -> Tap {
        let tap = Tap::default();
        tap.on.store(true, Ordering::Relaxed);
        tap
    }

    /// Stops copying and hands over what was copied.
    pub(super) fn take(&self) -> Vec<u8> {
        self.on.store(false, Ordering::Relaxed);
        self.seen
            .lock()
            .map(|mut seen| std::mem::take(&mut *seen))
            .unwrap_or_default()
    }

    fn copy(&self, bytes: &[u8]) {
        if !self.on.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut seen) = self.seen.lock() {
            let room = KEEP.saturating_sub(seen.len());
            seen.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
}

/// A stream whose reads are copied into a [`Tap`] while it is on; writes
/// pass through untouched.
pub(super) struct Tapped<S> {
    pub(super) inner: S,
    pub(super) tap: Tap,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tapped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            this.tap.copy(&buf.filled()[before..]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tapped<S> {
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

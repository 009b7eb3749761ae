//! A handler that accepts every valid message and stores nothing: for
//! benchmarks (`smtp-receive --sink`) and tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use smtp_wire::Reply;

use crate::{Envelope, Handler, MessageBody};

/// Reads every message to its end, counts it, and throws it away.
///
/// ```
/// let sink = smtp_receiver::SinkHandler::default();
/// assert_eq!(sink.messages(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SinkHandler {
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    messages: AtomicU64,
    octets: AtomicU64,
}

impl SinkHandler {
    /// Messages accepted so far, over all clones of this handler.
    pub fn messages(&self) -> u64 {
        self.counters.messages.load(Ordering::Relaxed)
    }

    /// Octets received so far (trace header lines included).
    pub fn octets(&self) -> u64 {
        self.counters.octets.load(Ordering::Relaxed)
    }
}

impl Handler for SinkHandler {
    async fn data(&mut self, _: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        let mut octets = 0u64;
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            octets += chunk.len() as u64;
        }
        self.counters.octets.fetch_add(octets, Ordering::Relaxed);
        self.counters.messages.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

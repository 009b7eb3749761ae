//! The sections: the comparisons of issues 8, 15, 17 and 20 (the codec's
//! by criterion) and the sessions sweep behind the chart. Each starts its
//! servers, runs the contenders alternately, and stops everything (the
//! guards) before the next one starts.

mod codec;
mod inbox;
mod memory;
mod outbound;
mod receiver;
mod sender;
mod tls;

use std::time::Duration;

pub use codec::{CodecPlan, SECTION as CODEC_SECTION, codec};
pub use inbox::inbox;
pub use memory::memory;
pub use outbound::outbound;
pub use receiver::{receiver_maildir, receiver_sink};
pub use sender::{SWEEP_MESSAGES_PER_SESSION, sender, sweep};
pub use tls::tls;

use crate::loads::{Bulk, Source};

/// Postfix smtp-source's message with `-l 10000` is 10,138 octets on the
/// wire (headers and CRLFs included, measured from an smtp-sink dump):
/// smtp-send sends the same size.
const SOURCE_MESSAGE_OCTETS: u64 = 10_138;

/// The name of the extra contender `--baseline DIR` adds: the same program
/// from another build, always the last contender.
const BASELINE: &str = "baseline build";

/// The smtp-source / smtp-send pair of section 3.
impl crate::Plan {
    fn sender(&self) -> (Source, Bulk) {
        let source = self.sender_source;
        let bulk = Bulk {
            count: u64::from(source.messages),
            sessions: u64::from(source.sessions),
            size: SOURCE_MESSAGE_OCTETS,
        };
        (source, bulk)
    }
}

/// A generous deadline for one run.
pub fn timeout_for(quick: bool) -> Duration {
    Duration::from_secs(if quick { 60 } else { 300 })
}

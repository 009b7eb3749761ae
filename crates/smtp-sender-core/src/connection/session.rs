//! What the connection remembers between machines: the server's
//! capabilities, whether the next transaction starts with RSET, and
//! whether an error still allows a courtesy QUIT.

use std::time::Duration;

use super::Connection;
use crate::envelope::Envelope;
use crate::error::{ProtocolError, SendError};
use crate::handshake::Handshake;
use crate::message::Message;
use crate::plan::{Preferences, plan};
use crate::quit::Quit;
use crate::report::Report;
use crate::sampling::ContentSampler;
use crate::transaction::Transaction;

/// How long a courtesy QUIT may take after a refusal.
const QUIT_GRACE: Duration = Duration::from_secs(10);

impl Connection {
    /// Keeps what a finished handshake learned (greeting, capabilities,
    /// TLS, AUTH): the transactions are planned against it.
    pub fn handshake_done(&mut self, handshake: &Handshake) {
        self.server = handshake.server_info();
    }

    /// Plans `message` for this server ([`plan()`](crate::plan())) and
    /// prepares its transaction, with an RSET first when the previous
    /// transaction ran to its end (RFC 5321 §4.1.1.5: a clean slate before
    /// a further transaction on the same session). Refusals here are local:
    /// nothing was sent, the session stays usable.
    pub fn transaction<'a>(
        &mut self,
        envelope: &Envelope,
        message: Message<'a>,
        prefs: Preferences,
    ) -> Result<Transaction<'a>, ProtocolError> {
        let plan = plan(envelope, &message, &self.server, prefs)?;
        let chunking = plan.chunking;
        let enhanced = self.server.offers("ENHANCEDSTATUSCODES");
        let transaction = Transaction::new(envelope, message, plan, self.needs_reset, enhanced)?;
        // DATA content is sampled for the transcript; BDAT chunks are
        // recorded as they are (the transcript cuts their content itself).
        self.sampler = (!chunking).then(ContentSampler::default);
        Ok(transaction)
    }

    /// Like [`Connection::transaction`], for the transaction that follows
    /// `ending` while `ending` still awaits its final replies
    /// ([`Handover`](crate::Handover)): the RSET decision is the one
    /// `ending` will leave behind (it writes nothing more, so it ends
    /// without an RSET of its own).
    pub fn transaction_after<'a>(
        &mut self,
        ending: &Transaction<'_>,
        envelope: &Envelope,
        message: Message<'a>,
        prefs: Preferences,
    ) -> Result<Transaction<'a>, ProtocolError> {
        self.needs_reset = ending.needs_reset_after();
        self.transaction(envelope, message, prefs)
    }

    /// The transaction's outcome, given how running it ended: its report,
    /// or after a failure what the replies already received still say
    /// ([`Transaction::report_after_failure`]).
    pub fn transaction_done(
        &mut self,
        transaction: Transaction<'_>,
        run: Result<(), SendError>,
    ) -> Result<Report, SendError> {
        // The content sampler is left as it is: after a handover it is
        // already the next transaction's, and every transaction sets its own.
        match run {
            Ok(()) => {
                self.needs_reset = transaction.needs_reset_after();
                transaction.into_report()
            }
            Err(error) => transaction.report_after_failure(error),
        }
    }

    /// After `error` ended a run: the QUIT to send before closing when the
    /// conversation is still in step (a refusal: RFC 5321 §4.1.1.10 asks
    /// for QUIT), with every wait cut to a few seconds; `None` after I/O
    /// trouble, a timeout, a TLS failure, a 421, a malformed or
    /// out-of-turn reply or an injection: that connection is not trusted.
    pub fn courtesy_quit(&mut self, error: &SendError) -> Option<Quit> {
        if !error.conversation_intact() {
            return None;
        }
        self.grace = Some(QUIT_GRACE);
        self.outgoing = None;
        self.reading = None;
        self.deadline = None;
        Some(Quit::new())
    }
}

//! Onward delivery: accepted mail goes to a next hop (a mailbox server
//! over LMTP, a smarthost over SMTP) through the outbound engine's spool,
//! instead of (or as well as) into a Maildir.
//!
//! Two ways to answer the client, both keeping RFC 5321 §6.1's promise
//! (a 250 means the message is safe):
//!
//! - **queued** (the default): the message is written into the spool and
//!   fsynced before the 250 (as the Maildir is); the queue runner then
//!   delivers it with retries and bounces ([`QueueRunner`]).
//! - **synchronous** ([`Forwarder::synchronous`]): the message goes to the
//!   next hop while the client waits, and the client gets the next hop's
//!   answer. Every recipient accepted: 250. None accepted: the next hop's
//!   refusal itself (4yz when any recipient may succeed later, else 5yz),
//!   so the client learns why. Some accepted: 250, and the others are
//!   spooled, so the runner retries or bounces them (SMTP has one reply for
//!   the data, RFC 5321 §4.1.1.4; refusing it would duplicate the
//!   accepted copies).
//!
//! With a Maildir as well, each message is committed to the Maildir first
//! and then to the spool; when the spool fails, the Maildir copy is
//! removed before the 4yz, so a retried message is never stored twice.
//! Synchronously, the copy is made once the next hop has accepted the
//! message (for one recipient at least), and never for a refused one.
//!
//! What goes on carries this server's `Received:` field and not the rest
//! of the trace block a final delivery writes (`Return-Path:`, and the
//! envelope's recipients in `X-Original-To:`, Bcc ones included): RFC 5321
//! §4.4 and §7.2. The Maildir copy keeps the whole block.

use std::path::PathBuf;
use std::sync::Arc;

use smtp_receiver_core::trace::relay_trace;
use smtp_sender::outbound::{QueueRunner, Spool, SpoolError, SpoolWriter};
use smtp_sender::{Client, ClientConfig, Dsn, Outcome, RecipientDsn, Report, SendError};
use smtp_wire::Reply;
use smtp_wire::reply::EnhancedCode;

use crate::maildir::{Maildir, MaildirError, storage_error_reply};
use crate::{Envelope, Handler, MessageBody};

/// How many octets are gathered before one write into the spool file.
const WRITE_BUFFER: usize = 256 * 1024;

/// What a [`Forwarder`] needs.
#[derive(Debug)]
pub struct ForwardConfig {
    /// The spool (the outbound engine's format) that holds messages until
    /// the next hop has them.
    pub spool: Spool,
    /// Synchronous delivery: the next hop's client configuration. `None`:
    /// queued.
    pub next_hop: Option<ClientConfig>,
    /// A Maildir that keeps a copy of every message as well.
    pub maildir: Option<Maildir>,
    /// The runner delivering `spool`, woken after each message spooled
    /// (so it goes at once, not at the runner's next poll).
    pub runner: Option<QueueRunner>,
}

/// Delivers each accepted message onward; cheap to clone (one per
/// connection).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use smtp_receiver::forward::{ForwardConfig, Forwarder};
/// use smtp_sender::outbound::Spool;
///
/// let forwarder = Forwarder::new(ForwardConfig {
///     spool: Spool::open("/var/spool/smtp-receive")?,
///     next_hop: None, // queued: a QueueRunner on the same spool delivers
///     maildir: None,
///     runner: None,
/// });
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Forwarder {
    shared: Arc<ForwardConfig>,
}

impl Forwarder {
    /// A forwarder as configured.
    pub fn new(config: ForwardConfig) -> Forwarder {
        Forwarder {
            shared: Arc::new(config),
        }
    }

    /// The spool.
    pub fn spool(&self) -> &Spool {
        &self.shared.spool
    }
}

impl Handler for Forwarder {
    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        match self.shared.next_hop.clone() {
            Some(client) => self.deliver_now(envelope, body, client).await,
            None => self.spool_and_copy(envelope, body).await.map(|_| ()),
        }
    }
}

impl Forwarder {
    /// The queued way: the message into the spool (and the Maildir).
    async fn spool_and_copy(
        &self,
        envelope: &Envelope,
        body: &mut MessageBody<'_>,
    ) -> Result<String, Reply> {
        let shared = &self.shared;
        let spool = shared.spool.clone();
        let now = envelope.received_at;
        let mut writer = blocking(envelope, move || spool.create(now)).await?;
        let logged = |error: MaildirError| error.logged(&envelope.id);
        let mut copy = match &shared.maildir {
            Some(maildir) => Some(maildir.begin(&envelope.id).await.map_err(logged)?),
            None => None,
        };
        let mut pending = Vec::with_capacity(WRITE_BUFFER);
        let mut onward_text = OnwardText::start(envelope, &mut pending);
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            if let Some(copy) = copy.as_mut() {
                copy.write(chunk).await.map_err(logged)?;
            }
            pending.extend_from_slice(onward_text.of(chunk));
            if pending.len() >= WRITE_BUFFER {
                (writer, pending) = write(envelope, writer, pending).await?;
            }
        }
        (writer, _) = write(envelope, writer, pending).await?;
        let copied: Option<PathBuf> = match copy {
            Some(copy) => Some(copy.commit().await.map_err(logged)?),
            None => None,
        };
        let onward = onward_envelope(envelope);
        let committed = blocking(envelope, move || writer.commit(&onward)).await;
        let id = match committed {
            Ok(id) => id,
            Err(reply) => {
                // The client will send it again: the copy must not stay.
                if let Some(path) = copied {
                    let _ = std::fs::remove_file(path);
                }
                return Err(reply);
            }
        };
        tracing::info!(id = %envelope.id, spool_id = %id, "spooled for onward delivery");
        if let Some(runner) = &shared.runner {
            runner.wake();
        }
        Ok(id)
    }

    /// The synchronous way: the next hop's answer is the client's.
    async fn deliver_now(
        &self,
        envelope: &Envelope,
        body: &mut MessageBody<'_>,
        client: ClientConfig,
    ) -> Result<(), Reply> {
        // The session's size limit bounds this buffer.
        let mut message = Vec::new();
        let mut onward_text = OnwardText::start(envelope, &mut message);
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            message.extend_from_slice(onward_text.of(chunk));
        }
        let onward = onward_envelope(envelope);
        let report = match send(client, &onward, &message).await {
            Ok(report) => report,
            Err(error) => return Err(refusal_of(&error)),
        };
        if report.accepted().next().is_some() {
            // The next hop has it (for some recipients at least): only now
            // is the Maildir copy kept, so a refused message leaves none.
            self.copy(envelope, &message).await;
        }
        if report.all_accepted() {
            tracing::info!(id = %envelope.id, "delivered to the next hop");
            return Ok(());
        }
        if report.accepted().next().is_none() {
            // Nobody has it: the client keeps responsibility, with the
            // next hop's own words. 4yz when any recipient may still
            // succeed later (RFC 5321 §4.2.1: the client retries all).
            let decisive = report
                .deferred()
                .chain(report.refused())
                .next()
                .map(|r| r.reply.clone())
                .unwrap_or_else(|| next_hop_unavailable("no recipient accepted"));
            return Err(decisive);
        }
        // Some have it: 250, and the others go through the spool.
        let mut rest = onward.clone();
        let pending: Vec<usize> = (0..report.recipients.len())
            .filter(|&i| report.recipients[i].outcome != Outcome::Accepted)
            .collect();
        rest.to = pending.iter().map(|&i| onward.to[i].clone()).collect();
        if let Some(dsn) = &mut rest.dsn {
            dsn.recipients = pending.iter().map(|&i| dsn.recipient(i)).collect();
        }
        let spool = self.shared.spool.clone();
        let now = envelope.received_at;
        blocking(envelope, move || spool.enqueue(&rest, &message, now)).await?;
        if let Some(runner) = &self.shared.runner {
            runner.wake();
        }
        tracing::info!(id = %envelope.id, spooled = pending.len(), "partly delivered; the rest is spooled");
        Ok(())
    }
}

impl Forwarder {
    /// `--deliver-sync`'s Maildir copy of a message the next hop accepted.
    /// A failure is logged and does not change the answer: refusing now
    /// would make the client send again what the next hop already has.
    async fn copy(&self, envelope: &Envelope, message: &[u8]) {
        let Some(maildir) = &self.shared.maildir else {
            return;
        };
        // The final delivery's copy has the whole trace block back.
        let text = message
            .get(relay_trace(&envelope.trace).len()..)
            .unwrap_or_default();
        let stored = async {
            let mut delivery = maildir.begin(&envelope.id).await?;
            delivery.write(&envelope.trace).await?;
            delivery.write(text).await?;
            delivery.commit().await
        };
        if let Err(error) = stored.await {
            error.logged(&envelope.id);
        }
    }
}

/// The message as it goes on: the session's trace block starts the body
/// stream, and of it only the `Received:` field goes on
/// ([`relay_trace`]: no `Return-Path:`, no list of the envelope's
/// recipients); the Maildir copy, a final delivery, keeps it whole.
struct OnwardText {
    /// Octets of the trace block still to drop from the stream.
    skip: usize,
}

impl OnwardText {
    /// Writes the relay's trace into `out`.
    fn start(envelope: &Envelope, out: &mut Vec<u8>) -> OnwardText {
        out.extend_from_slice(relay_trace(&envelope.trace));
        OnwardText {
            skip: envelope.trace.len(),
        }
    }

    /// What of `chunk` goes on.
    fn of<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        let dropped = self.skip.min(chunk.len());
        self.skip -= dropped;
        &chunk[dropped..]
    }
}

async fn send(
    client: ClientConfig,
    envelope: &smtp_sender::Envelope,
    message: &[u8],
) -> Result<Report, SendError> {
    let mut session = Client::connect(client).await?;
    let report = session.send(envelope, message).await;
    let _ = session.quit().await;
    report
}

/// What the client hears when the next hop could not be asked or refused
/// the transaction as a whole.
fn refusal_of(error: &SendError) -> Reply {
    match error.reply() {
        Some(reply) if !reply.is_positive() => reply.clone(),
        _ if error.is_permanent() => Reply::enhanced(
            554,
            EnhancedCode::new(5, 3, 0),
            &one_line(&format!("cannot forward: {error}")),
        ),
        _ => next_hop_unavailable(&error.to_string()),
    }
}

fn next_hop_unavailable(why: &str) -> Reply {
    Reply::enhanced(
        451,
        EnhancedCode::new(4, 4, 1),
        &one_line(&format!("next hop unavailable: {why}")),
    )
}

/// Reply text is one line (RFC 5321 §4.2), whatever an error says.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// The envelope to send onward: the same paths, and the DSN requests the
/// client made (RFC 3461 §5.2: a relaying MTA passes them on).
pub fn onward_envelope(envelope: &Envelope) -> smtp_sender::Envelope {
    let asked = envelope.mail_params.ret.is_some()
        || envelope.mail_params.envid.is_some()
        || envelope
            .recipients
            .iter()
            .any(|r| r.params.notify.is_some() || r.params.orcpt.is_some());
    let dsn = asked.then(|| Dsn {
        ret: envelope.mail_params.ret,
        envid: envelope.mail_params.envid.clone(),
        recipients: envelope
            .recipients
            .iter()
            .map(|r| RecipientDsn {
                notify: r.params.notify,
                orcpt: r.params.orcpt.clone(),
            })
            .collect(),
    });
    smtp_sender::Envelope {
        from: envelope.from.clone(),
        to: envelope.recipients.iter().map(|r| r.to.clone()).collect(),
        dsn,
    }
}

/// Appends `pending` to the entry in a blocking task; gives both back.
async fn write(
    envelope: &Envelope,
    mut writer: SpoolWriter,
    mut pending: Vec<u8>,
) -> Result<(SpoolWriter, Vec<u8>), Reply> {
    blocking(envelope, move || {
        writer.write(&pending)?;
        pending.clear();
        Ok((writer, pending))
    })
    .await
}

/// Runs spool file work off the async threads; a failure is logged (the
/// client only sees a 4yz and retries) and becomes the reply to send.
async fn blocking<T: Send + 'static>(
    envelope: &Envelope,
    work: impl FnOnce() -> Result<T, SpoolError> + Send + 'static,
) -> Result<T, Reply> {
    let error = match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(error)) => error,
        Err(join) => SpoolError::Io {
            action: "spooling",
            path: PathBuf::new(),
            error: std::io::Error::other(join.to_string()),
        },
    };
    tracing::error!(id = %envelope.id, %error, "spooling failed");
    Err(match &error {
        SpoolError::Io { error, .. } => storage_error_reply(error),
        _ => storage_error_reply(&std::io::Error::other("spool")),
    })
}

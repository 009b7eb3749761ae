//! Delivery into the inbox: the Maildir first (durable), then the index
//! row, then the 250.

use std::time::{Instant, SystemTime};

use smtp_wire::Reply;
use smtp_wire::sasl::{Credentials, Mechanism};

use super::Inbox;
use super::entry::Entry;
use crate::session::replies;
use crate::{Backend, ConnectionInfo, Envelope, Handler, MessageBody};

/// Makes one [`InboxHandler`] per connection (and counts open sessions).
#[derive(Clone)]
pub struct InboxBackend {
    inbox: Inbox,
}

impl InboxBackend {
    /// The backend of `inbox`.
    pub fn new(inbox: Inbox) -> InboxBackend {
        InboxBackend { inbox }
    }
}

impl Backend for InboxBackend {
    type Handler = InboxHandler;

    async fn connect(&self, _: &ConnectionInfo) -> Result<InboxHandler, Reply> {
        self.inbox.shared.metrics.session_opened();
        Ok(InboxHandler {
            inbox: self.inbox.clone(),
        })
    }
}

/// One session's handler: stores each message and indexes it.
pub struct InboxHandler {
    inbox: Inbox,
}

impl Handler for InboxHandler {
    /// The configured users, else any credentials when so configured
    /// (the `inbox` preset shows them), else refused.
    async fn auth(&mut self, _: Mechanism, credentials: &Credentials) -> Result<(), Reply> {
        let config = &self.inbox.shared.config;
        match &config.users {
            Some(users) => users.authenticate(credentials),
            None if config.accept_any_auth => Ok(()),
            None => Err(replies::auth_failed()),
        }
    }

    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        let shared = &self.inbox.shared;
        let began = Instant::now();
        let root = shared.maildir.root().to_path_buf();
        let (_, read) = shared
            .maildir
            .deliver_inspecting(envelope, body, move |path, stored| {
                let relative = path.strip_prefix(&root).unwrap_or(path);
                let relative = relative.to_string_lossy();
                match stored {
                    Some(raw) => Ok(Entry::read(&relative, raw, SystemTime::now())),
                    None => std::fs::read(path)
                        .map(|raw| Entry::read(&relative, &raw, SystemTime::now())),
                }
            })
            .await?;
        // The message is durable; from here on a failure only delays its
        // row to the next start's scan, so the answer stays 250.
        match read {
            Ok(entry) => {
                let size = entry.size;
                let username = envelope.authenticated.clone().unwrap_or_default();
                match shared.store.insert(entry, username).await {
                    Ok(()) => shared.metrics.stored(size, began.elapsed()),
                    Err(error) => {
                        tracing::warn!(id = %envelope.id, %error, "stored but not indexed")
                    }
                }
            }
            Err(error) => tracing::warn!(id = %envelope.id, %error, "stored but not indexed"),
        }
        Ok(())
    }

    async fn disconnect(&mut self) {
        self.inbox.shared.metrics.session_closed();
    }
}

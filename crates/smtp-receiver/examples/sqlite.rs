//! A receiver that stores each message in an SQLite database, one row per
//! message, and shows the per-connection API: a [`Backend`] that makes a
//! [`Handler`] for each connection, with a `disconnect` hook.
//!
//! ```text
//! cargo run -p smtp-receiver --example sqlite -- 127.0.0.1:2525 mail.sqlite
//! swaks --server 127.0.0.1:2525 --to bob@example.org      # in another terminal
//! sqlite3 mail.sqlite 'SELECT id, sender, recipients, subject FROM messages'
//! ```
//!
//! Its `Handler` is unit-tested below with an in-memory body and database:
//! `cargo test -p smtp-receiver --example sqlite`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use smtp_receiver::config::{RecipientPolicy, ServerConfig};
use smtp_receiver::session::replies;
use smtp_receiver::{Backend, ConnectionInfo, Envelope, Handler, MessageBody, Reply, Server};

/// The database every connection writes to. SQLite serialises writers;
/// one connection behind a mutex is the simplest correct sharing.
#[derive(Clone)]
struct Store {
    db: Arc<Mutex<Connection>>,
}

impl Store {
    fn new(db: Connection) -> rusqlite::Result<Store> {
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (
                id          TEXT PRIMARY KEY,  -- the queue id from '250 ... queued as'
                received_at INTEGER NOT NULL,  -- Unix seconds
                sender      TEXT NOT NULL,
                recipients  TEXT NOT NULL,
                subject     TEXT,
                message     BLOB NOT NULL      -- trace lines and message, as received
            )",
        )?;
        Ok(Store {
            db: Arc::new(Mutex::new(db)),
        })
    }

    /// Stores one message; runs on a blocking thread (SQLite does IO).
    fn insert(&self, envelope: &Envelope, message: Vec<u8>) -> Result<(), String> {
        let received_at = envelope
            .received_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let recipients: Vec<String> = envelope
            .recipients
            .iter()
            .map(|r| r.to.to_string())
            .collect();
        let subject = smtp_mime::inspect(&message).subject;
        let db = self.db.lock().map_err(|_| "database lock poisoned")?;
        db.execute(
            "INSERT INTO messages (id, received_at, sender, recipients, subject, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                envelope.id,
                received_at as i64,
                envelope.from.to_string(),
                recipients.join(", "),
                subject,
                message,
            ],
        )
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// One connection's session: what it has stored, for the log line at the end.
struct Session {
    store: Store,
    peer: SocketAddr,
    stored: u32,
}

impl Backend for Store {
    type Handler = Session;

    async fn connect(&self, info: &ConnectionInfo) -> Result<Session, Reply> {
        Ok(Session {
            store: self.clone(),
            peer: info.peer,
            stored: 0,
        })
    }
}

impl Handler for Session {
    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        let mut message = Vec::new();
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            message.extend_from_slice(chunk);
        }
        // Only once the row is committed may the client hear 250
        // (RFC 5321 §6.1); otherwise 451: it keeps the message and retries.
        let (store, envelope_copy) = (self.store.clone(), envelope.clone());
        let inserted = tokio::task::spawn_blocking(move || store.insert(&envelope_copy, message))
            .await
            .map_err(|e| e.to_string())
            .and_then(|inserted| inserted);
        if let Err(error) = inserted {
            eprintln!("{}: not stored: {error}", envelope.id);
            return Err(replies::local_error());
        }
        self.stored += 1;
        Ok(())
    }

    async fn disconnect(&mut self) {
        println!("{}: {} message(s) stored", self.peer, self.stored);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:2525".to_string());
    let path = args.next().unwrap_or_else(|| "mail.sqlite".to_string());
    let store = Store::new(Connection::open(&path)?)?;
    let config = ServerConfig::builder("localhost")
        .listen_plain(addr.parse()?)
        .recipients(RecipientPolicy::AcceptAny)
        .build();
    let server = Server::bind(config, store).await?;
    println!(
        "listening on {}, storing into {path}",
        server.local_addrs()[0].addr
    );
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use smtp_receiver::{BodyError, ForwardPath, ListenerKind, NO_ADDRESS, ReversePath};

    use super::*;

    fn envelope() -> Envelope {
        Envelope::new(
            ReversePath::parse("<alice@example.com>").unwrap(),
            [
                ForwardPath::parse("<bob@example.org>").unwrap(),
                ForwardPath::parse("<carol@example.org>").unwrap(),
            ],
        )
    }

    async fn session(store: &Store) -> Session {
        let info = ConnectionInfo::new(NO_ADDRESS, NO_ADDRESS, ListenerKind::Plain);
        store.connect(&info).await.unwrap()
    }

    fn rows(store: &Store) -> Vec<(String, String, Option<String>, Vec<u8>)> {
        let db = store.db.lock().unwrap();
        let mut query = db
            .prepare("SELECT sender, recipients, subject, message FROM messages")
            .unwrap();
        query
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[tokio::test]
    async fn a_message_becomes_a_row() {
        let store = Store::new(Connection::open_in_memory().unwrap()).unwrap();
        let mut session = session(&store).await;
        let mut body = MessageBody::from_chunks(["Subject: Hello\r\n", "\r\nHi Bob\r\n"]);
        session.data(&envelope(), &mut body).await.unwrap();
        assert_eq!(
            rows(&store),
            [(
                "<alice@example.com>".to_string(),
                "<bob@example.org>, <carol@example.org>".to_string(),
                Some("Hello".to_string()),
                b"Subject: Hello\r\n\r\nHi Bob\r\n".to_vec(),
            )]
        );
        assert_eq!(session.stored, 1);
    }

    #[tokio::test]
    async fn a_message_the_library_refuses_is_not_stored() {
        let store = Store::new(Connection::open_in_memory().unwrap()).unwrap();
        let mut session = session(&store).await;
        let refusal = replies::bare_line_ending();
        let mut body = MessageBody::from_bytes("Subject: x\r\n")
            .ending_with(BodyError::Refused(refusal.clone()));
        assert_eq!(session.data(&envelope(), &mut body).await, Err(refusal));
        assert!(rows(&store).is_empty());
    }

    #[tokio::test]
    async fn a_failed_insert_answers_451_so_the_client_retries() {
        let store = Store::new(Connection::open_in_memory().unwrap()).unwrap();
        let mut session = session(&store).await;
        let mut body = MessageBody::from_bytes("Subject: once\r\n\r\n.\r\n");
        session.data(&envelope(), &mut body).await.unwrap();
        // The same queue id again: the primary key refuses the row.
        let mut again = MessageBody::from_bytes("Subject: twice\r\n\r\n.\r\n");
        let reply = session.data(&envelope(), &mut again).await.unwrap_err();
        assert_eq!(reply.code, 451);
        assert_eq!(rows(&store).len(), 1);
    }
}

//! A receiver that prints each message it accepts: the envelope and the
//! subject. Mail for any recipient is accepted, and nothing is stored.
//!
//! ```text
//! cargo run -p smtp-receiver --example print -- 127.0.0.1:2525
//! swaks --server 127.0.0.1:2525 --to bob@example.org      # in another terminal
//! ```
//!
//! Ctrl-C stops it (gracefully: a message in flight may finish).

use smtp_receiver::config::{RecipientPolicy, ServerConfig};
use smtp_receiver::{Envelope, Handler, MessageBody, Reply, Server};

/// The application: one method, `data`. A `Clone` handler is cloned for
/// each connection, so it could keep per-connection state in its fields.
#[derive(Clone)]
struct Printer;

impl Handler for Printer {
    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        // Read the whole body (up to the configured size limit, 25 MiB by
        // default); `e.reply()` is the right answer if it cannot be read.
        let mut message = Vec::new();
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            message.extend_from_slice(chunk);
        }
        println!("{}: from {}", envelope.id, envelope.from);
        for recipient in &envelope.recipients {
            println!("  to {}", recipient.to);
        }
        let subject = smtp_mime::inspect(&message).subject.unwrap_or_default();
        println!("  subject {subject:?}, {} octets", message.len());
        // Ok means "stored safely": the client gets 250 and forgets the
        // message. Here printing it was the whole job.
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2525".to_string())
        .parse()?;
    let config = ServerConfig::builder("localhost")
        .listen_plain(addr)
        .recipients(RecipientPolicy::AcceptAny)
        .build();
    let server = Server::bind(config, Printer).await?;
    println!("listening on {}", server.local_addrs()[0].addr);
    // Until Ctrl-C; then a message in flight may finish.
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

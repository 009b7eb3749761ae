//! Send an HTML message with an attachment over implicit TLS (RFC 8314,
//! port 465 style), trusting a private CA: the shape most programs need.
//!
//! ```text
//! cargo run -p smtp-sender --example html_attachment -- HOST:PORT CA_FILE [FROM TO]
//! ```
//!
//! Try it against this project's receiver:
//!
//! ```text
//! cargo xtask certs                         # a test CA and a localhost certificate in .certs/
//! cargo run -p smtp-receiver --bin smtp-receive -- --listen-tls 127.0.0.1:4650 \
//!     --cert .certs/server.pem --key .certs/server.key --maildir /tmp/maildir --domain example.org &
//! cargo run -p smtp-sender --example html_attachment -- localhost:4650 .certs/ca.pem \
//!     alice@example.com bob@example.org
//! ```
//!
//! `tests/example_html_attachment.rs` runs `compose` and `send` against a
//! scripted TLS server and checks what arrived.

use std::path::Path;

use anyhow::{Context, bail};
use smtp_mime::{Address, Attachment, MessageBuilder};
use smtp_sender::{ClientConfig, Envelope, Report, TlsMode, send_mail};

/// The attachment's content: a small CSV file.
pub const FIGURES: &[u8] = b"quarter,revenue\r\nQ1,1200\r\nQ2,1350\r\n";

/// The message: an HTML body, its plain-text alternative (RFC 2046
/// multipart/alternative, for readers that show no HTML), and a CSV file
/// attached. smtp-mime writes the MIME structure, the Date and the
/// Message-ID, with CRLF line ends (RFC 5322 §2.1).
pub fn compose(from: &str, to: &str) -> anyhow::Result<Vec<u8>> {
    let message = MessageBuilder::new()
        .from(from.parse::<Address>().context("the sender")?)
        .to(to.parse::<Address>().context("the recipient")?)
        .subject("Quarterly figures")
        .text("Hello,\n\nthe quarterly figures are attached.\n")
        .html("<p>Hello,</p><p>the <b>quarterly figures</b> are attached.</p>")
        .attach(Attachment {
            filename: "figures.csv".into(),
            content_type: "text/csv".into(),
            bytes: FIGURES.to_vec(),
        })
        .build()?;
    Ok(message.bytes)
}

/// Sends `message` to `server` (`host:port`) over implicit TLS, checking
/// the server's certificate against the system's roots and `ca_file`.
pub async fn send(
    server: &str,
    ca_file: &Path,
    from: &str,
    to: &str,
    message: &[u8],
) -> anyhow::Result<Report> {
    let (host, port) = server.rsplit_once(':').context("the server is HOST:PORT")?;
    let port: u16 = port.parse().context("the port")?;
    let config = ClientConfig::builder(host, port)
        .tls(TlsMode::Implicit)
        .ca_file(ca_file)
        .build();
    // MAIL FROM and RCPT TO: here the same addresses as the headers.
    let envelope = Envelope::new(from, &[to])?;
    Ok(send_mail(config, &envelope, message).await?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (server, ca_file, from, to) = match args.as_slice() {
        [server, ca] => (server, ca, "alice@example.com", "bob@example.org"),
        [server, ca, from, to] => (server, ca, from.as_str(), to.as_str()),
        _ => bail!("usage: html_attachment HOST:PORT CA_FILE [FROM TO]"),
    };
    let message = compose(from, to)?;
    let report = send(server, Path::new(ca_file), from, to, &message).await?;
    // One line per recipient: `accepted <bob@example.org>: 250 2.0.0 queued`.
    print!("{report}");
    if !report.all_accepted() {
        bail!("not every recipient accepted the message");
    }
    Ok(())
}

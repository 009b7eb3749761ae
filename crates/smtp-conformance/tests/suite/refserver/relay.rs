//! The reference server as a relay: a message for the relay recipient is
//! sent on to the suite's judge once accepted, with a Received: field
//! (RFC 5321 §4.4), dot-stuffed (§4.5.2), BODY=8BITMIME passed on
//! (RFC 6152 §3) — unless a fault says otherwise.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use smtp_wire::{DotStuffer, ReplyParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Config, Fault};

/// Sends one message on to `judge`. Failures are dropped: the relay case
/// then finds nothing at the judge, which is what it reports.
pub async fn forward(
    judge: SocketAddr,
    from: String,
    rcpt: String,
    eight_bit: bool,
    content: Vec<u8>,
    cfg: Arc<Config>,
) {
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        send(judge, &from, &rcpt, eight_bit, &content, &cfg),
    )
    .await;
}

async fn send(
    judge: SocketAddr,
    from: &str,
    rcpt: &str,
    eight_bit: bool,
    content: &[u8],
    cfg: &Config,
) -> std::io::Result<()> {
    let mut tcp = TcpStream::connect(judge).await?;
    let mut replies = Replies::default();
    replies.next(&mut tcp).await?;
    let body = if eight_bit && !cfg.has(&Fault::RelayDrops8BitMime) {
        " BODY=8BITMIME"
    } else {
        ""
    };
    for line in [
        "EHLO ref.example.test".to_string(),
        format!("MAIL FROM:<{from}>{body}"),
        format!("RCPT TO:<{rcpt}>"),
        "DATA".to_string(),
    ] {
        tcp.write_all(format!("{line}\r\n").as_bytes()).await?;
        replies.next(&mut tcp).await?;
    }
    let mut text = Vec::new();
    if !cfg.has(&Fault::RelayNoReceived) {
        text.extend_from_slice(
            format!(
                "Received: from conform.example.net (localhost [127.0.0.1])\r\n\tby \
                 ref.example.test with ESMTP; {}\r\n",
                smtp_wire::date::rfc5322(SystemTime::now())
            )
            .as_bytes(),
        );
    }
    if cfg.has(&Fault::RelayAddsReturnPath) {
        text.extend_from_slice(format!("Return-Path: <{from}>\r\n").as_bytes());
    }
    text.extend_from_slice(content);
    let mut wire = Vec::new();
    if cfg.has(&Fault::RelayNoDotStuffing) {
        wire = text;
        wire.extend_from_slice(b".\r\n");
    } else {
        let mut stuffer = DotStuffer::new();
        stuffer.encode(&text, &mut wire);
        stuffer.finish(&mut wire);
    }
    tcp.write_all(&wire).await?;
    replies.next(&mut tcp).await?;
    tcp.write_all(b"QUIT\r\n").await?;
    // Whatever the judge answers now (a faulty relay's stray lines
    // included) is of no interest.
    let _ = tokio::time::timeout(Duration::from_millis(500), replies.next(&mut tcp)).await;
    Ok(())
}

/// Reads replies (any code: the judge decides, not the relay).
#[derive(Default)]
struct Replies {
    buf: Vec<u8>,
    parser: ReplyParser,
}

impl Replies {
    async fn next(&mut self, tcp: &mut TcpStream) -> std::io::Result<()> {
        let mut chunk = [0u8; 4096];
        loop {
            let (used, reply) = self
                .parser
                .decode(&self.buf)
                .map_err(std::io::Error::other)?;
            self.buf.drain(..used);
            if reply.is_some() {
                return Ok(());
            }
            let n = tcp.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

//! 5. An attacker who bypasses the sender's encoder and writes raw bytes:
//!    the receiver's own defence against SMTP smuggling.

use std::time::Duration;

use smtp_wire::transcript::Transcript;
use smtp_wire::{Reply, ReplyParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Conversation, collect_delivered, maildir_names};
use crate::harness::{CLIENT_NAME, Receiver};

/// How long the attacker waits for any one reply.
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// The body the attacker sends: a `\n.\n` (bare LF, dot, bare LF) meant to
/// end the data early in a receiver that accepts bare LF as a line end, then
/// a whole second transaction whose content the real `<CRLF>.<CRLF>` (sent
/// next) would end: a vulnerable receiver would deliver two messages, the
/// second one spoofed.
pub const SMUGGLING_BODY: &[u8] =
    b"Subject: innocent\r\n\r\nhello\n.\nMAIL FROM:<mallory@attacker.test>\r\n\
RCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nspoofed\r\n";

/// A raw client, no smtp-sender: EHLO, MAIL, RCPT, DATA, the smuggling body,
/// the real `<CRLF>.<CRLF>`, QUIT; each reply read before the next command.
pub async fn smuggling_attack(receiver: &Receiver) -> super::Conversation {
    let mut c = Conversation::new(
        "A smuggling attack written by hand, straight to the receiver",
        "An attacker bypasses any careful sender and writes raw bytes: '\\n.\\n' inside the \
         data, then a second MAIL/RCPT/DATA. Only <CRLF>.<CRLF> ends the data (RFC 5321 \
         §4.1.1.4), decided on the raw bytes: the receiver reads on to the real end. By default \
         it then takes the bare LFs as line ends, as Postfix 3.9 does, and stores one message \
         whose text holds the would-be commands; with --strict it refuses the whole message \
         (bare LF is not allowed in SMTP, §2.3.8). One message or one refusal: never a second \
         transaction.",
    );
    let before = maildir_names(receiver);
    let mut transcript = Transcript::new();
    let replies = attack(receiver, &mut transcript).await;
    c.transcript = transcript.lines();
    collect_delivered(&mut c, receiver, &before);
    match replies {
        Ok(replies) => {
            let codes: Vec<u16> = replies.iter().map(|r| r.code).collect();
            c.report.push(format!("reply codes: {codes:?}"));
            c.check(
                replies.get(5).is_some_and(|r| r.code == 250),
                "one reply to the whole message after its real end: 250, one message",
            );
            c.check(
                codes.len() == 7 && codes.last() == Some(&221),
                "exactly one reply per real command: the smuggled ones never ran",
            );
        }
        Err(e) => c.check(false, format!("the raw session failed: {e}")),
    }
    let one = match c.delivered.as_slice() {
        [only] => {
            let text = only.without_trace();
            text.starts_with(b"Subject: innocent\n")
                && text
                    .windows(b"\nMAIL FROM:<mallory@".len())
                    .any(|w| w == b"\nMAIL FROM:<mallory@")
        }
        _ => false,
    };
    c.check(
        one,
        "one message in the Maildir, the smuggled commands inside its text",
    );
    c
}

async fn attack(receiver: &Receiver, t: &mut Transcript) -> std::io::Result<Vec<Reply>> {
    let mut stream = TcpStream::connect(receiver.plain).await?;
    let mut conn = Raw {
        stream: &mut stream,
        buf: Vec::new(),
        parser: ReplyParser::new(),
        replies: Vec::new(),
    };
    conn.reply(t).await?; // greeting
    let ehlo = format!("EHLO {CLIENT_NAME}\r\n");
    for command in [
        ehlo.as_bytes(),
        b"MAIL FROM:<alice@client.example.com>\r\n",
        b"RCPT TO:<bob@example.org>\r\n",
        b"DATA\r\n",
    ] {
        conn.send(t, command).await?;
        conn.reply(t).await?;
    }
    conn.send(t, SMUGGLING_BODY).await?;
    conn.send(t, b".\r\n").await?;
    conn.reply(t).await?;
    conn.send(t, b"QUIT\r\n").await?;
    conn.reply(t).await?;
    // Anything after 221 would be a reply to a smuggled command.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(REPLY_WAIT, conn.stream.read_to_end(&mut rest)).await;
    if !rest.is_empty() {
        t.server(&rest);
        conn.replies
            .push(Reply::new(599, "unexpected bytes after 221"));
    }
    Ok(conn.replies)
}

struct Raw<'a> {
    stream: &'a mut TcpStream,
    buf: Vec<u8>,
    parser: ReplyParser,
    replies: Vec<Reply>,
}

impl Raw<'_> {
    async fn send(&mut self, t: &mut Transcript, bytes: &[u8]) -> std::io::Result<()> {
        t.client(bytes);
        self.stream.write_all(bytes).await
    }

    async fn reply(&mut self, t: &mut Transcript) -> std::io::Result<()> {
        loop {
            let (used, reply) = self
                .parser
                .decode(&self.buf)
                .map_err(std::io::Error::other)?;
            if used > 0 {
                t.server(&self.buf[..used]);
                self.buf.drain(..used);
            }
            if let Some(reply) = reply {
                self.replies.push(reply);
                return Ok(());
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(REPLY_WAIT, self.stream.read(&mut chunk))
                .await
                .map_err(|_| std::io::Error::other("no reply within 10 s"))??;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

//! A compact SMTP client built on smtp-wire: correct by default, with
//! [`CFault`]s that each break one rule a client must follow.

use std::net::SocketAddr;
use std::sync::Arc;

use smtp_conformance::tls::{self, Trust};
use smtp_wire::{Capabilities, DotStuffer, Reply, ReplyParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// One way for a client to be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CFault {
    EarlyTalker,
    BareLf,
    BadSyntax,
    MailFirst,
    HeloFirst,
    RcptBeforeMail,
    PipelineWithoutOffer,
    BodyBeforeReply,
    NoDotStuffing,
    LongLine,
    EightBitUndeclared,
    Utf8Undeclared,
    UnofferedParam,
    SizeUnderstated,
    AuthInClear,
    NoEhloAfterTls,
    NoQuit,
    NoHeloFallback,
    IgnoreRcptRefusal,
    IgnoreSize,
    Ignore421,
    IgnoreTempfail,
    NoGreetingWait,
    ReadsInjected,
    OpportunisticTls,
    TrustAnyCert,
}

/// How the client connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    StartTls,
    Implicit,
}

#[derive(Debug, Clone)]
pub struct ClientCfg {
    pub mode: Mode,
    pub ca: String,
    pub auth: bool,
    pub faults: Vec<CFault>,
}

impl ClientCfg {
    pub fn new(mode: Mode, ca: &str) -> ClientCfg {
        ClientCfg {
            mode,
            ca: ca.to_string(),
            auth: true,
            faults: Vec::new(),
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Gone,
}

struct Client {
    cfg: ClientCfg,
    stream: Stream,
    buf: Vec<u8>,
    parser: ReplyParser,
}

type R<T> = Result<T, String>;

impl Client {
    fn has(&self, f: CFault) -> bool {
        self.cfg.faults.contains(&f)
    }

    async fn send(&mut self, bytes: &[u8]) -> R<()> {
        let r = match &mut self.stream {
            Stream::Plain(s) => s.write_all(bytes).await,
            Stream::Tls(s) => {
                s.write_all(bytes).await.map_err(|e| e.to_string())?;
                s.flush().await
            }
            Stream::Gone => return Err("gone".into()),
        };
        r.map_err(|e| e.to_string())
    }

    async fn line(&mut self, line: &str) -> R<()> {
        let end = if self.has(CFault::BareLf) {
            "\n"
        } else {
            "\r\n"
        };
        self.send(format!("{line}{end}").as_bytes()).await
    }

    async fn read_more(&mut self) -> R<()> {
        let mut chunk = [0u8; 8192];
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read(&mut chunk).await,
            Stream::Tls(s) => s.read(&mut chunk).await,
            Stream::Gone => Ok(0),
        }
        .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn reply(&mut self) -> R<Reply> {
        loop {
            let (used, reply) = self.parser.decode(&self.buf).map_err(|e| e.to_string())?;
            self.buf.drain(..used);
            if let Some(r) = reply {
                return Ok(r);
            }
            self.read_more().await?;
        }
    }

    async fn cmd(&mut self, line: &str) -> R<Reply> {
        self.line(line).await?;
        self.reply().await
    }

    async fn tls(&mut self) -> R<()> {
        let trust = if self.has(CFault::TrustAnyCert) {
            Trust::Insecure
        } else {
            Trust::CaPem(self.cfg.ca.clone())
        };
        let config = tls::client_config(&trust).map_err(|e| e.to_string())?;
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err("not plain".into());
        };
        let name = tls::server_name("localhost").ok_or("name")?;
        let tls = TlsConnector::from(Arc::clone(&config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    async fn ehlo(&mut self) -> R<Option<Capabilities>> {
        let r = self.cmd("EHLO client.example.test").await?;
        Ok(r.is_positive().then(|| Capabilities::from(r)))
    }

    async fn quit(&mut self) -> R<()> {
        if self.has(CFault::NoQuit) {
            return Ok(());
        }
        let _ = self.cmd("QUIT").await;
        Ok(())
    }
}

fn message(faults: &[CFault]) -> Vec<u8> {
    let mut m = String::from(
        "From: <a@example.test>\nTo: <b@example.test>\nSubject: test\n\nHello.\n.a line starting with a dot\n.\nend\n",
    );
    if faults.contains(&CFault::LongLine) {
        m.push_str(&"y".repeat(1500));
        m.push('\n');
    }
    if faults.contains(&CFault::EightBitUndeclared) {
        m.push_str("Grüße\n");
    }
    m.into_bytes()
}

/// Runs one client session against `addr`; Ok even when the client gave up.
pub async fn run(addr: SocketAddr, cfg: ClientCfg) -> R<()> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut c = Client {
        cfg,
        stream: Stream::Plain(tcp),
        buf: Vec::new(),
        parser: ReplyParser::new(),
    };
    let result = session(&mut c).await;
    if let Stream::Tls(s) = &mut c.stream {
        let _ = s.shutdown().await;
    }
    result
}

async fn session(c: &mut Client) -> R<()> {
    if c.cfg.mode == Mode::Implicit {
        c.tls().await?;
    }
    if c.has(CFault::EarlyTalker) {
        c.line("EHLO client.example.test").await?;
        c.reply().await?;
        let r = c.reply().await?;
        return transaction(c, Capabilities::from(r)).await;
    }
    if c.has(CFault::NoGreetingWait) {
        // Reads one line of the greeting, not the whole reply.
        while !c.buf.contains(&b'\n') {
            c.read_more().await?;
        }
        c.buf.clear();
        c.line("EHLO client.example.test").await?;
        let _rest_of_greeting = c.reply().await?;
        let r = c.reply().await?;
        return transaction(c, Capabilities::from(r)).await;
    } else {
        c.reply().await?;
    }
    if c.has(CFault::MailFirst) {
        c.cmd("MAIL FROM:<a@example.test>").await?;
    }
    let caps = if c.has(CFault::HeloFirst) {
        c.cmd("HELO client.example.test").await?;
        Capabilities::default()
    } else {
        match c.ehlo().await? {
            Some(caps) => caps,
            None if c.has(CFault::NoHeloFallback) => return c.quit().await,
            None => {
                c.cmd("HELO client.example.test").await?;
                Capabilities::default()
            }
        }
    };
    let mut caps = caps;
    if c.has(CFault::AuthInClear) {
        c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await?;
    }
    if c.cfg.mode == Mode::StartTls {
        if caps.has("STARTTLS") {
            let r = c.cmd("STARTTLS").await?;
            if r.code != 220 {
                return c.quit().await;
            }
            if !c.has(CFault::ReadsInjected) {
                // RFC 3207 §4.2: nothing read before the handshake counts.
                c.buf.clear();
                c.parser = ReplyParser::new();
            }
            c.tls().await?;
            if !c.has(CFault::NoEhloAfterTls) {
                caps = c.ehlo().await?.ok_or("EHLO refused after TLS")?;
            }
        } else if !c.has(CFault::OpportunisticTls) {
            return c.quit().await;
        }
    }
    if c.cfg.auth && caps.auth_mechanisms().iter().any(|m| m == "PLAIN") {
        c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await?;
    }
    transaction(c, caps).await
}

async fn transaction(c: &mut Client, caps: Capabilities) -> R<()> {
    let msg = message(&c.cfg.faults);
    let mut body = Vec::new();
    if c.has(CFault::NoDotStuffing) {
        for line in msg.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            body.extend_from_slice(line);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b".\r\n");
    } else {
        let mut s = DotStuffer::new();
        s.encode(&msg, &mut body);
        s.finish(&mut body);
    }
    let size = msg.len() as u64 + msg.iter().filter(|b| **b == b'\n').count() as u64;
    if let Some(limit) = caps.size_limit()
        && size > limit
        && !c.has(CFault::IgnoreSize)
    {
        // RFC 1870 §6: do not send what the server cannot take.
        return c.quit().await;
    }
    let mut mail = if c.has(CFault::Utf8Undeclared) {
        "MAIL FROM:<jörg@example.test>".to_string()
    } else if c.has(CFault::BadSyntax) {
        "MAIL FROM:a@example.test".to_string()
    } else {
        "MAIL FROM:<a@example.test>".to_string()
    };
    if caps.has("SIZE") && !c.has(CFault::IgnoreSize) {
        let declared = if c.has(CFault::SizeUnderstated) {
            10
        } else {
            size
        };
        mail.push_str(&format!(" SIZE={declared}"));
    }
    if c.has(CFault::UnofferedParam) {
        mail.push_str(" X-UNOFFERED=1");
    }
    let rcpt = "RCPT TO:<b@example.test>";
    if c.has(CFault::RcptBeforeMail) {
        c.cmd(rcpt).await?;
    }
    let pipelining =
        caps.has("PIPELINING") && !c.has(CFault::IgnoreTempfail) && !c.has(CFault::Ignore421);
    if c.has(CFault::PipelineWithoutOffer) || c.has(CFault::BodyBeforeReply) || pipelining {
        let mut group = format!("{mail}\r\n{rcpt}\r\nDATA\r\n").into_bytes();
        if c.has(CFault::BodyBeforeReply) {
            group.extend_from_slice(&body);
        }
        c.send(&group).await?;
        let m = c.reply().await?;
        let r = c.reply().await?;
        let d = c.reply().await?;
        if c.has(CFault::BodyBeforeReply) {
            c.reply().await?;
        } else if d.code == 354 {
            c.send(&body).await?;
            c.reply().await?;
        } else if c.has(CFault::IgnoreRcptRefusal) {
            c.send(&body).await?;
            let _ = c.reply().await;
        } else if !(m.is_positive() && r.is_positive()) {
            c.cmd("RSET").await?;
        }
        return c.quit().await;
    }
    let m = c.cmd(&mail).await?;
    if m.code == 421 {
        if c.has(CFault::Ignore421) {
            let _ = c.cmd("RSET").await;
        }
        return Ok(());
    }
    if !m.is_positive() && !c.has(CFault::IgnoreTempfail) {
        c.cmd("RSET").await?;
        return c.quit().await;
    }
    let r = c.cmd(rcpt).await?;
    if !r.is_positive() && !c.has(CFault::IgnoreRcptRefusal) {
        c.cmd("RSET").await?;
        return c.quit().await;
    }
    let d = c.cmd("DATA").await?;
    if d.code == 354 || c.has(CFault::IgnoreRcptRefusal) {
        c.send(&body).await?;
        let _ = c.reply().await;
    }
    c.quit().await
}

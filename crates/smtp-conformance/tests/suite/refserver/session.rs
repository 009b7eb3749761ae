//! One session of the reference server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use smtp_wire::sasl::{ServerExchange, ServerStep};
use smtp_wire::{
    BdatReader, Capabilities, Capability, Command, CommandError, ForwardPath, LineDecoder,
    LineEvent, MailParams, ReversePath,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::data::DataState;
use super::{Config, Fault};

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Gone,
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
            Stream::Gone => Ok(0),
        }
    }
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes).await,
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
}

#[derive(Default)]
struct Txn {
    open: bool,
    smtputf8: bool,
    tried: usize,
    accepted: usize,
    chunk_size: u64,
    /// The accepted recipients, in RCPT order (LMTP answers for each).
    rcpts: Vec<String>,
    /// A BDAT chunk was accepted in this transaction (RFC 3030 §2: then
    /// no DATA).
    chunked: bool,
    /// The reverse-path and BODY=8BITMIME, for relaying.
    from: String,
    eight_bit: bool,
}

enum Mode {
    Command,
    Data(DataState),
    Chunk {
        reader: BdatReader,
        last: bool,
        refused: bool,
        seen: Vec<u8>,
    },
    AuthPlain,
    AuthLoginUser,
    AuthLoginPass(String),
}

struct Session {
    cfg: Arc<Config>,
    stream: Stream,
    buf: Vec<u8>,
    out: Vec<Vec<u8>>,
    lines: LineDecoder,
    mode: Mode,
    greeted: bool,
    tls: bool,
    authed: bool,
    txn: Txn,
    errors: usize,
    messages: usize,
    close: bool,
    start_tls: bool,
}

fn limit_line(cfg: &Config) -> usize {
    cfg.faults
        .iter()
        .find_map(|f| match f {
            Fault::MaxCommandLine(n) => Some(*n),
            _ => None,
        })
        .unwrap_or(smtp_wire::MAX_COMMAND_LINE)
}

pub async fn serve(tcp: TcpStream, cfg: Arc<Config>, active: usize) {
    let _ = tcp.set_nodelay(true);
    let mut s = Session {
        stream: Stream::Plain(tcp),
        buf: Vec::new(),
        out: Vec::new(),
        lines: LineDecoder::new(if cfg.has(&Fault::SplitLongCommandLines) {
            1 << 20
        } else {
            limit_line(&cfg)
        }),
        mode: Mode::Command,
        greeted: false,
        tls: false,
        authed: false,
        txn: Txn::default(),
        errors: 0,
        messages: 0,
        close: false,
        start_tls: false,
        cfg,
    };
    if s.cfg.implicit && !s.handshake().await {
        return;
    }
    if active > s.cfg.max_sessions {
        let _ = s.stream.write(b"421 4.3.2 too busy\r\n").await;
        return;
    }
    let greeting = s
        .cfg
        .faults
        .iter()
        .find_map(|f| match f {
            Fault::Greeting(g) => Some(g.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "220 ref.example.test ESMTP reference server\r\n".into());
    s.out.push(greeting.into_bytes());
    s.run().await;
}

impl Session {
    fn has(&self, f: &Fault) -> bool {
        self.cfg.has(f)
    }

    fn reply(&mut self, text: &str) {
        let mut bytes = text.as_bytes().to_vec();
        if !text.ends_with('\n') {
            bytes.extend_from_slice(b"\r\n");
        }
        if text.starts_with('5') {
            self.errors += 1;
            if self.errors >= self.cfg.max_errors && !self.has(&Fault::NoErrorLimit) {
                self.out.push(bytes);
                self.out.push(b"421 4.7.0 too many errors\r\n".to_vec());
                self.close = true;
                return;
            }
        }
        self.out.push(bytes);
    }

    async fn flush(&mut self) -> bool {
        let out = std::mem::take(&mut self.out);
        if self.has(&Fault::SlowReplies) {
            for (i, r) in out.iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                if self.stream.write(r).await.is_err() {
                    return false;
                }
            }
            return true;
        }
        let all: Vec<u8> = out.concat();
        all.is_empty() || self.stream.write(&all).await.is_ok()
    }

    async fn handshake(&mut self) -> bool {
        let Some(config) = self.cfg.tls.clone() else {
            return false;
        };
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return false;
        };
        match TlsAcceptor::from(config).accept(tcp).await {
            Ok(tls) => {
                self.stream = Stream::Tls(Box::new(tls));
                self.tls = true;
                true
            }
            Err(_) => false,
        }
    }

    async fn run(&mut self) {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut partial_since: Option<Instant> = None;
        loop {
            while self.step() {
                if self.close || self.start_tls {
                    break;
                }
            }
            if !self.flush().await || self.close {
                return;
            }
            if self.start_tls {
                self.start_tls = false;
                if !self.has(&Fault::KeepBufferAcrossTls) {
                    // RFC 3207 §4.2 / CVE-2011-0411: nothing sent in the
                    // clear after STARTTLS may survive the handshake.
                    self.buf.clear();
                }
                if !self.handshake().await {
                    return;
                }
                if !self.has(&Fault::KeepsEhloAcrossTls) {
                    self.greeted = false;
                }
                self.txn = Txn::default();
                continue;
            }
            // Deadlines: idle time, and the total time of one command line.
            let idle = if self.has(&Fault::NoIdleTimeout) {
                Duration::from_secs(3600)
            } else {
                self.cfg.idle
            };
            let mut wait = idle;
            if self.buf.is_empty() || !matches!(self.mode, Mode::Command) {
                partial_since = None;
            } else if !self.has(&Fault::NoCommandDeadline) {
                let since = *partial_since.get_or_insert_with(Instant::now);
                wait = wait.min(self.cfg.command_deadline.saturating_sub(since.elapsed()));
            }
            match tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {
                    let _ = self.stream.write(b"421 4.4.2 timeout\r\n").await;
                    return;
                }
            }
        }
    }

    /// Handles what the buffer holds; false when more input is needed.
    fn step(&mut self) -> bool {
        match &mut self.mode {
            Mode::Data(state) => {
                let (used, done) = state.feed(&self.buf);
                self.buf.drain(..used);
                if done {
                    let Mode::Data(state) = std::mem::replace(&mut self.mode, Mode::Command) else {
                        return false;
                    };
                    self.end_of_data(&state);
                    return true;
                }
                false
            }
            Mode::Chunk { .. } => self.step_chunk(),
            _ => self.step_line(),
        }
    }

    fn step_line(&mut self) -> bool {
        let (used, event) = self.lines.decode(&self.buf);
        let line = match event {
            LineEvent::NeedMore => return false,
            LineEvent::TooLong => {
                self.buf.drain(..used);
                self.reply("500 5.5.6 line too long");
                return true;
            }
            LineEvent::Line { line, bare_lf } => {
                let line = line.to_vec();
                self.buf.drain(..used);
                if bare_lf && !self.has(&Fault::AcceptBareLf) {
                    // RFC 5321 §2.3.8: a command line ends with CRLF only.
                    self.reply("500 5.5.2 bare LF not allowed");
                    return true;
                }
                line
            }
        };
        if self.has(&Fault::SplitLongCommandLines) && line.len() > 510 {
            // The bug: the tail of an over-long line becomes a new line.
            let mut rest = line[510..].to_vec();
            rest.extend_from_slice(b"\r\n");
            rest.extend_from_slice(&self.buf);
            self.buf = rest;
            self.reply("500 5.5.6 line too long");
            return true;
        }
        match self.mode {
            Mode::AuthPlain | Mode::AuthLoginUser | Mode::AuthLoginPass(_) => self.auth_line(&line),
            _ => self.line(&line),
        }
        if self.has(&Fault::DiscardPipelined) {
            self.buf.clear();
        }
        true
    }

    fn step_chunk(&mut self) -> bool {
        let dot_ends = self.has(&Fault::BdatDotEnds);
        let Mode::Chunk { reader, seen, .. } = &mut self.mode else {
            return false;
        };
        if self.buf.is_empty() && !reader.is_done() {
            return false;
        }
        let mut out = Vec::new();
        let mut take = self.buf.len();
        if dot_ends {
            // The bug: a dot line inside the chunk ends the message.
            let mut probe = seen.clone();
            probe.extend_from_slice(&self.buf);
            if let Some(p) = probe.windows(5).position(|w| w == b"\r\n.\r\n") {
                take = (p + 5).saturating_sub(seen.len()).min(self.buf.len());
                let used = reader.read(&self.buf[..take], &mut out);
                self.buf.drain(..used);
                self.mode = Mode::Command;
                self.txn = Txn::default();
                self.reply("250 2.0.0 message accepted");
                return true;
            }
        }
        let used = reader.read(&self.buf[..take], &mut out);
        seen.extend_from_slice(&out);
        self.buf.drain(..used);
        self.txn.chunk_size += used as u64;
        if !reader.is_done() {
            return false;
        }
        if self.has(&Fault::BdatDropsPipelined) {
            self.buf.clear();
        }
        let Mode::Chunk { last, refused, .. } = std::mem::replace(&mut self.mode, Mode::Command)
        else {
            return false;
        };
        if refused {
            self.reply("503 5.5.1 need MAIL and RCPT first");
        } else if last {
            let over =
                self.txn.chunk_size > self.cfg.size_limit() && !self.has(&Fault::BdatIgnoresSize);
            let txn = if self.has(&Fault::BdatAfterLastAccepted) {
                Txn {
                    open: true,
                    accepted: self.txn.accepted,
                    rcpts: self.txn.rcpts.clone(),
                    ..Txn::default()
                }
            } else {
                Txn::default()
            };
            let txn = std::mem::replace(&mut self.txn, txn);
            self.messages += 1;
            // RFC 1870 §6.3 / RFC 3030 §2: the limit counts every chunk.
            let reply = if over {
                "552 5.3.4 message size exceeds fixed maximum message size"
            } else {
                "250 2.0.0 message accepted"
            };
            self.final_replies(reply, &txn, true);
        } else {
            self.txn.chunked = true;
            self.reply("250 2.0.0 chunk accepted");
        }
        true
    }

    fn matches(pattern: &str, upper: &str) -> bool {
        if let Some(exact) = pattern.strip_suffix('$') {
            upper == exact
        } else if let Some(part) = pattern.strip_prefix('*') {
            upper.contains(part)
        } else {
            upper.starts_with(pattern)
        }
    }

    fn line(&mut self, line: &[u8]) {
        let upper = String::from_utf8_lossy(line).to_uppercase();
        for fault in self.cfg.faults.clone() {
            match fault {
                Fault::On(p, reply) if Self::matches(p, &upper) => return self.reply(reply),
                Fault::CloseOn(p, reply) if Self::matches(p, &upper) => {
                    self.reply(reply);
                    self.close = true;
                    return;
                }
                _ => {}
            }
        }
        if self.has(&Fault::CaseSensitiveVerbs)
            && line.iter().take(4).any(|b| b.is_ascii_lowercase())
        {
            return self.reply("500 5.5.1 unknown command");
        }
        if self.has(&Fault::BdatLenientSize)
            && let Some(rest) = upper.strip_prefix("BDAT ")
            && !rest.starts_with(|c: char| c.is_ascii_digit())
        {
            let refused = !self.txn.open || self.txn.accepted == 0;
            return self.start_chunk(0, rest.contains("LAST"), refused);
        }
        if self.has(&Fault::LenientPaths)
            && upper.starts_with("MAIL FROM:")
            && !upper.starts_with("MAIL FROM:<")
        {
            self.txn = Txn {
                open: true,
                ..Txn::default()
            };
            return self.reply("250 2.1.0 ok");
        }
        match Command::parse(line) {
            Ok(cmd) => self.command(cmd, line),
            Err(e) => {
                if upper.starts_with("RCPT") && self.txn.open {
                    self.txn.tried += 1;
                }
                self.parse_error(&e)
            }
        }
    }

    fn parse_error(&mut self, e: &CommandError) {
        if self.has(&Fault::ErrorResetsTransaction) {
            self.txn = Txn::default();
        }
        let reply = e.reply();
        self.reply(String::from_utf8_lossy(&reply.to_bytes()).trim_end());
    }

    fn caps(&self) -> Capabilities {
        let mut list = vec![
            Capability::Pipelining,
            Capability::Size(Some(self.cfg.size_limit())),
            Capability::EightBitMime,
            Capability::SmtpUtf8,
            Capability::Chunking,
            Capability::EnhancedStatusCodes,
            Capability::Dsn,
            Capability::Help,
        ];
        let tls_available = self.cfg.tls.is_some() && !self.cfg.implicit;
        if tls_available && (!self.tls || self.has(&Fault::StartTlsOfferedAfterTls)) {
            list.push(Capability::StartTls);
        }
        if self.tls || self.has(&Fault::AuthInClear) {
            list.push(Capability::Auth(vec!["PLAIN".into(), "LOGIN".into()]));
        }
        for f in &self.cfg.faults {
            match f {
                Fault::AddCap(line) => list.push(Capability::parse(line)),
                Fault::ReplaceCap(kw, line) => {
                    for c in list.iter_mut() {
                        if c.keyword().eq_ignore_ascii_case(kw) {
                            *c = Capability::Other {
                                keyword: line.split(' ').next().unwrap_or("").into(),
                                params: line.split(' ').skip(1).map(str::to_string).collect(),
                            };
                        }
                    }
                }
                _ => {}
            }
        }
        let mut caps = Capabilities::new("ref.example.test greets you");
        caps.extend(list);
        caps
    }

    fn command(&mut self, cmd: Command, raw: &[u8]) {
        let needs_helo = !matches!(cmd, Command::Ehlo(_) | Command::Helo(_) | Command::Lhlo(_))
            && (self.has(&Fault::RequireHeloForAll)
                || matches!(
                    cmd,
                    Command::Mail { .. }
                        | Command::Rcpt { .. }
                        | Command::Data
                        | Command::Bdat { .. }
                ))
            && !self.greeted
            && !(self.has(&Fault::NoHeloRequired) && matches!(cmd, Command::Mail { .. }));
        if needs_helo {
            if let Command::Bdat { size, last } = cmd {
                return self.start_chunk(size, last, true);
            }
            return self.reply("503 5.5.1 send EHLO first");
        }
        let lmtp = self.cfg.lmtp;
        match cmd {
            // RFC 2033 §4.1: LMTP has LHLO instead of HELO and EHLO.
            Command::Ehlo(_) | Command::Helo(_) if lmtp => {
                self.reply("500 5.5.1 this is LMTP: greet with LHLO")
            }
            Command::Lhlo(_) if lmtp => {
                self.greeted = true;
                self.txn = Txn::default();
                let bytes = self.caps().to_reply().to_bytes();
                self.out.push(bytes);
            }
            Command::Ehlo(_) => {
                self.greeted = true;
                if !self.has(&Fault::EhloKeepsTransaction) {
                    self.txn = Txn::default();
                }
                let bytes = self.caps().to_reply().to_bytes();
                self.out.push(bytes);
            }
            Command::Helo(_) => {
                self.greeted = true;
                self.txn = Txn::default();
                if self.has(&Fault::HeloLikeEhlo) {
                    let bytes = self.caps().to_reply().to_bytes();
                    self.out.push(bytes);
                } else {
                    self.reply("250 ref.example.test");
                }
            }
            Command::Mail { from, params } => self.mail(&from, &params),
            Command::Rcpt { to, params } => self.rcpt(&to, !params.other.is_empty(), raw),
            Command::Data => self.data(),
            Command::Bdat { size, last } => {
                let refused = if self.has(&Fault::BdatWithoutRcpt) {
                    !self.txn.open
                } else {
                    !self.txn.open || self.txn.accepted == 0
                };
                self.start_chunk(size, last, refused);
            }
            Command::Rset => {
                let keep = self.has(&Fault::RsetKeepsTransaction)
                    || (self.txn.chunked && self.has(&Fault::RsetKeepsChunks));
                if !keep {
                    self.txn = Txn::default();
                }
                self.reply("250 2.0.0 reset");
            }
            Command::Noop(_) => self.reply("250 2.0.0 ok"),
            Command::Vrfy(_) => self.reply("252 2.1.5 cannot verify, will try"),
            Command::Expn(_) => self.reply("502 5.5.1 EXPN not implemented"),
            Command::Help(_) => self.reply("214 2.0.0 reference server"),
            Command::Turn
            | Command::Send(_)
            | Command::Soml(_)
            | Command::Saml(_)
            | Command::Lhlo(_)
            | Command::Xclient(_) => self.reply("502 5.5.1 not implemented"),
            Command::Quit => {
                if self.txn.open && self.has(&Fault::QuitRefusedInTransaction) {
                    return self.reply("503 5.5.1 finish the transaction first");
                }
                self.reply("221 2.0.0 bye");
                self.close = !self.has(&Fault::QuitKeepsOpen);
            }
            Command::StartTls => self.starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response),
        }
    }

    fn mail(&mut self, from: &ReversePath, params: &MailParams) {
        if self.txn.open && !self.has(&Fault::NestedMailAllowed) {
            return self.reply("503 5.5.1 nested MAIL");
        }
        if self.messages > 0 && self.has(&Fault::OneMessagePerSession) {
            return self.reply("503 5.5.1 one message per session");
        }
        if !params.other.is_empty() && !self.has(&Fault::IgnoreUnknownParams) {
            return self.reply("555 5.5.4 unsupported parameter");
        }
        if let Some(size) = params.size
            && size > self.cfg.size_limit()
            && !self.has(&Fault::IgnoreDeclaredSize)
        {
            return self.reply("552 5.3.4 message size exceeds fixed maximum message size");
        }
        if from.is_utf8() && !params.smtputf8 && !self.has(&Fault::Utf8AnyTime) {
            return self.reply("553 5.6.7 non-ASCII address needs SMTPUTF8");
        }
        if let Some(mailbox) = from.mailbox() {
            let max_local = self.cfg.faults.iter().find_map(|f| match f {
                Fault::MaxLocalPart(n) => Some(*n),
                _ => None,
            });
            if max_local.is_some_and(|n| mailbox.local.len() > n) {
                return self.reply("501 5.1.7 local part too long");
            }
        }
        self.txn = Txn {
            open: true,
            smtputf8: params.smtputf8,
            from: from.mailbox().map(|m| m.to_string()).unwrap_or_default(),
            eight_bit: params.body == Some(smtp_wire::Body::EightBitMime),
            ..Txn::default()
        };
        self.reply("250 2.1.0 sender ok");
    }

    fn rcpt(&mut self, to: &ForwardPath, unknown_params: bool, raw: &[u8]) {
        if !self.txn.open {
            return self.reply("503 5.5.1 need MAIL first");
        }
        self.txn.tried += 1;
        if unknown_params && !self.has(&Fault::IgnoreUnknownParams) {
            return self.reply("555 5.5.4 unsupported parameter");
        }
        if to.is_utf8() && !self.txn.smtputf8 {
            return self.reply("553 5.6.7 non-ASCII address needs SMTPUTF8");
        }
        let ok = match to {
            ForwardPath::Postmaster => {
                !self.has(&Fault::PostmasterCaseSensitive)
                    || String::from_utf8_lossy(raw).contains("<Postmaster>")
            }
            ForwardPath::Mailbox(m) => {
                let m = m.to_string();
                m.eq_ignore_ascii_case(&self.cfg.rcpt)
                    || self
                        .cfg
                        .more_rcpts
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(&m))
                    || self
                        .cfg
                        .relay
                        .as_ref()
                        .is_some_and(|(r, _)| r.eq_ignore_ascii_case(&m))
            }
        };
        if !ok {
            return self.reply("550 5.1.1 no such user");
        }
        let limit = self.cfg.faults.iter().find_map(|f| match f {
            Fault::MaxRecipients(n) => Some(*n),
            _ => None,
        });
        let limit = if self.has(&Fault::NoRecipientLimit) {
            usize::MAX
        } else {
            limit.unwrap_or(self.cfg.max_rcpt)
        };
        if self.txn.accepted >= limit {
            return self.reply("452 4.5.3 too many recipients");
        }
        self.txn.accepted += 1;
        self.txn.rcpts.push(match to {
            ForwardPath::Postmaster => "Postmaster".to_string(),
            ForwardPath::Mailbox(m) => m.to_string(),
        });
        self.reply("250 2.1.5 recipient ok");
    }

    fn data(&mut self) {
        let allowed = if self.has(&Fault::CountsRejectedRcpts) {
            self.txn.open && self.txn.tried > 0
        } else if self.has(&Fault::DataWithoutRecipients) {
            self.txn.open
        } else {
            self.txn.open && self.txn.accepted > 0
        };
        if !self.txn.open {
            return self.reply("503 5.5.1 need MAIL first");
        }
        // RFC 3030 §2: "DATA and BDAT commands cannot be used in the same
        // transaction".
        if self.txn.chunked && !self.has(&Fault::DataAfterBdat) {
            return self.reply("503 5.5.1 BDAT already used in this transaction");
        }
        if !allowed {
            // RFC 2033 §4.2: in LMTP this "MUST fail with a 503".
            if self.cfg.lmtp && !self.has(&Fault::LmtpNoRcpt554) {
                return self.reply("503 5.5.1 no valid recipients");
            }
            return self.reply("554 5.5.1 no valid recipients");
        }
        self.mode = Mode::Data(DataState::new(self.cfg.naive()));
        self.reply("354 end data with <CR><LF>.<CR><LF>");
    }

    fn end_of_data(&mut self, state: &DataState) {
        let txn = if self.has(&Fault::KeepsEnvelopeAfterData) {
            Txn {
                rcpts: self.txn.rcpts.clone(),
                tried: self.txn.tried,
                ..Txn::default()
            }
        } else {
            std::mem::take(&mut self.txn)
        };
        let reply = self.data_verdict(state);
        if reply.starts_with("250")
            && let Some((relay_rcpt, judge)) = &self.cfg.relay
            && txn.rcpts.iter().any(|r| r.eq_ignore_ascii_case(relay_rcpt))
        {
            tokio::spawn(super::relay::forward(
                *judge,
                txn.from.clone(),
                relay_rcpt.clone(),
                txn.eight_bit,
                state.content.clone(),
                self.cfg.clone(),
            ));
        }
        self.final_replies(&reply, &txn, false);
    }

    /// SMTP: `reply`. LMTP (RFC 2033 §4.2, §4.3): `reply` once per accepted
    /// recipient, in RCPT order, each naming its recipient.
    fn final_replies(&mut self, reply: &str, txn: &Txn, bdat: bool) {
        if !self.cfg.lmtp {
            return self.reply(reply);
        }
        let mut names = txn.rcpts.clone();
        if self.has(&Fault::LmtpRepliesReversed) {
            names.reverse();
        }
        let mut n = names.len();
        if self.has(&Fault::LmtpRepliesPerRcptTried) {
            n = txn.tried;
        }
        if self.has(&Fault::LmtpOneReply) || (bdat && self.has(&Fault::LmtpBdatOneReply)) {
            n = 1;
        }
        let text = reply.trim_end();
        for i in 0..n {
            let name = names.get(i).map_or("a refused recipient", String::as_str);
            self.reply(&format!("{text} for <{name}>"));
        }
    }

    /// The reply at the end of DATA, from what the text held.
    fn data_verdict(&mut self, state: &DataState) -> String {
        self.messages += 1;
        if self.has(&Fault::DiscardAfterData) {
            self.buf.clear();
        }
        if let Some(reply) = self.cfg.faults.iter().find_map(|f| match f {
            Fault::DataFinal(r) => Some(*r),
            _ => None,
        }) {
            return reply.to_string();
        }
        let max_line = self.cfg.faults.iter().find_map(|f| match f {
            Fault::MaxTextLine(n) => Some(*n),
            _ => None,
        });
        if max_line.is_some_and(|n| state.longest > n) {
            return "500 5.5.6 line too long".to_string();
        }
        if state.size > self.cfg.size_limit() && !self.has(&Fault::IgnoreActualSize) {
            return "552 5.3.4 message size exceeds fixed maximum message size".to_string();
        }
        if state.bare && !self.has(&Fault::KeepBareLineEnds) {
            return "550 5.6.11 bare CR or LF in the message refused".to_string();
        }
        if state.long_lines {
            return "550 5.6.0 text line over 1000 octets refused".to_string();
        }
        "250 2.0.0 message accepted".to_string()
    }

    fn start_chunk(&mut self, size: u64, last: bool, refused: bool) {
        if refused && self.has(&Fault::BdatRefusedNotConsumed) {
            return self.reply("503 5.5.1 need MAIL and RCPT first");
        }
        self.mode = Mode::Chunk {
            reader: BdatReader::new(size),
            last,
            refused,
            seen: Vec::new(),
        };
    }

    fn starttls(&mut self) {
        if self.tls {
            if self.has(&Fault::StartTlsTwice) {
                self.reply("220 2.0.0 go ahead");
                self.close = true;
                return;
            }
            return self.reply("503 5.5.1 TLS already active");
        }
        if self.cfg.tls.is_none() || self.cfg.implicit {
            return self.reply("502 5.5.1 STARTTLS not available");
        }
        self.reply("220 2.0.0 ready to start TLS");
        self.start_tls = true;
    }

    fn auth(&mut self, mechanism: &str, initial: Option<String>) {
        if !self.tls && !self.has(&Fault::AuthInClear) {
            // RFC 4954 §4: no plaintext passwords without TLS.
            return self.reply("538 5.7.11 encryption required");
        }
        if self.authed && !self.has(&Fault::AuthTwiceAllowed) {
            return self.reply("503 5.5.1 already authenticated");
        }
        if self.txn.open && !self.has(&Fault::AuthInTransaction) {
            return self.reply("503 5.5.1 AUTH not permitted during a transaction");
        }
        match (mechanism, initial) {
            ("PLAIN", Some(ir)) => self.check_plain(&ir),
            ("PLAIN", None) => {
                self.mode = Mode::AuthPlain;
                self.reply("334 ");
            }
            ("LOGIN", _) => {
                self.mode = Mode::AuthLoginUser;
                self.reply(&format!("334 {}", smtp_wire::sasl::LOGIN_USERNAME_PROMPT));
            }
            _ => self.reply("504 5.5.4 mechanism not supported"),
        }
    }

    fn check_plain(&mut self, b64: &str) {
        let ok = match ServerExchange::Plain.respond(b64.as_bytes()) {
            ServerStep::Done(presented) => {
                presented.username == self.cfg.user && presented.password() == self.cfg.password
            }
            ServerStep::Fail(smtp_wire::sasl::SaslError::InvalidBase64) => {
                return self.reply("501 5.5.2 invalid base64");
            }
            _ => false,
        };
        self.finish_auth(ok);
    }

    fn finish_auth(&mut self, ok: bool) {
        self.mode = Mode::Command;
        let accept =
            (ok || self.has(&Fault::AcceptAnyPassword)) && !self.has(&Fault::RejectAllPasswords);
        if accept {
            self.authed = true;
            self.reply("235 2.7.0 authenticated");
        } else {
            self.reply("535 5.7.8 authentication failed");
        }
    }

    fn auth_line(&mut self, line: &[u8]) {
        if line == b"*" {
            self.mode = Mode::Command;
            if self.has(&Fault::AuthCancelWrongCode) {
                return self.reply("535 5.7.8 authentication failed");
            }
            return self.reply("501 5.0.0 AUTH cancelled");
        }
        let text = String::from_utf8_lossy(line).into_owned();
        match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::AuthPlain => self.check_plain(&text),
            Mode::AuthLoginUser => {
                let user = smtp_wire::sasl::decode(text.as_bytes()).unwrap_or_default();
                self.mode = Mode::AuthLoginPass(String::from_utf8_lossy(&user).into_owned());
                self.reply(&format!("334 {}", smtp_wire::sasl::LOGIN_PASSWORD_PROMPT));
            }
            Mode::AuthLoginPass(user) => {
                let pass = smtp_wire::sasl::decode(text.as_bytes()).unwrap_or_default();
                let ok = user == self.cfg.user && pass == self.cfg.password.as_bytes();
                self.finish_auth(ok);
            }
            _ => {}
        }
    }
}

//! A compact in-process SMTP server built on smtp-wire: correct by default
//! (it passes every server case), and configurable with [`Fault`]s that
//! each break one rule the way real servers have broken it.

mod data;
mod relay;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How a faulty end-of-data reader frames the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naive {
    /// Lines end at LF; trailing CRs are stripped; "." ends the data.
    LfStripCr,
    /// CR, LF or CRLF each end a line; "." ends the data.
    AnyNewline,
    /// A leading ".." is unstuffed *before* the "." test.
    UnstuffFirst,
    /// Any line starting with "." ends the data.
    LeadingDot,
    /// The data ends whenever it ends with ".\r\n".
    SuffixDotCrlf,
    /// The data ends only at "\r\n.\r\n" inside the text (the DATA line's CRLF not counted).
    NeedsCrlfDotCrlf,
    /// Lines are cut at 1000 octets; "." ends the data.
    SplitAt1000,
}

/// One way to be wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The greeting line(s) instead of the normal one.
    Greeting(&'static str),
    /// A command line matching the pattern (upper-cased; `X$` exact, `*X`
    /// contains, else prefix) gets this raw reply, nothing else happens.
    On(&'static str, &'static str),
    /// Like `On`, then the connection is closed.
    CloseOn(&'static str, &'static str),
    /// An extra EHLO keyword line.
    AddCap(&'static str),
    /// The EHLO line with this keyword is replaced by another.
    ReplaceCap(&'static str, &'static str),
    EhloKeepsTransaction,
    HeloLikeEhlo,
    CaseSensitiveVerbs,
    NoHeloRequired,
    DataWithoutRecipients,
    NestedMailAllowed,
    RsetKeepsTransaction,
    CountsRejectedRcpts,
    ErrorResetsTransaction,
    PostmasterCaseSensitive,
    LenientPaths,
    IgnoreUnknownParams,
    Utf8AnyTime,
    MaxLocalPart(usize),
    RequireHeloForAll,
    QuitKeepsOpen,
    QuitRefusedInTransaction,
    /// The reply at the end of data.
    DataFinal(&'static str),
    Naive(Naive),
    MaxTextLine(usize),
    KeepsEnvelopeAfterData,
    OneMessagePerSession,
    AcceptBareLf,
    /// Message content with bare CR or LF is accepted (kept as data, as a
    /// server that normalises bare LFs does), not refused.
    KeepBareLineEnds,
    DiscardPipelined,
    SlowReplies,
    DiscardAfterData,
    IgnoreDeclaredSize,
    IgnoreActualSize,
    SizeLimit(u64),
    BdatDotEnds,
    BdatRefusedNotConsumed,
    StartTlsOfferedAfterTls,
    StartTlsTwice,
    KeepsEhloAcrossTls,
    KeepBufferAcrossTls,
    AuthInClear,
    AcceptAnyPassword,
    RejectAllPasswords,
    AuthTwiceAllowed,
    AuthCancelWrongCode,
    AuthInTransaction,
    MaxCommandLine(usize),
    SplitLongCommandLines,
    MaxRecipients(usize),
    NoRecipientLimit,
    NoErrorLimit,
    NoIdleTimeout,
    NoCommandDeadline,
    Serial,
    /// BDAT is refused only without MAIL: MAIL alone is enough.
    BdatWithoutRcpt,
    /// DATA after a BDAT chunk of the same transaction gets 354.
    DataAfterBdat,
    /// RSET after a BDAT chunk keeps the transaction and its chunks.
    RsetKeepsChunks,
    /// The transaction stays open after BDAT LAST: another BDAT is taken.
    BdatAfterLastAccepted,
    /// A BDAT size that is not a number counts as 0.
    BdatLenientSize,
    /// No SIZE limit on chunked messages.
    BdatIgnoresSize,
    /// What was pipelined after a chunk is lost.
    BdatDropsPipelined,
    /// Relaying: no Received: field added.
    RelayNoReceived,
    /// Relaying: a Return-Path: field added.
    RelayAddsReturnPath,
    /// Relaying: the text sent on without dot-stuffing.
    RelayNoDotStuffing,
    /// Relaying: BODY=8BITMIME not passed on.
    RelayDrops8BitMime,
    /// LMTP: one reply after the data, whatever the number of recipients
    /// (an SMTP server's habit).
    LmtpOneReply,
    /// LMTP: one reply after the data per RCPT tried, refused ones too.
    LmtpRepliesPerRcptTried,
    /// LMTP: the replies after the data in reverse RCPT order.
    LmtpRepliesReversed,
    /// LMTP: DATA without an accepted recipient gets SMTP's 554, not 503.
    LmtpNoRcpt554,
    /// LMTP: BDAT LAST gets one reply, whatever the number of recipients.
    LmtpBdatOneReply,
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub tls: Option<Arc<ServerConfig>>,
    pub implicit: bool,
    /// Speak LMTP (RFC 2033): LHLO, a reply per recipient after the data.
    pub lmtp: bool,
    pub rcpt: String,
    /// Further recipients accepted besides `rcpt`.
    pub more_rcpts: Vec<String>,
    /// Relaying: mail for this recipient is forwarded to this judge.
    pub relay: Option<(String, SocketAddr)>,
    pub user: String,
    pub password: String,
    pub size_limit: u64,
    pub max_rcpt: usize,
    pub max_errors: usize,
    pub idle: Duration,
    pub command_deadline: Duration,
    pub max_sessions: usize,
    pub faults: Vec<Fault>,
}

impl Config {
    pub fn new(tls: Option<Arc<ServerConfig>>) -> Config {
        Config {
            tls,
            implicit: false,
            lmtp: false,
            rcpt: "inbox@example.test".into(),
            more_rcpts: vec!["second@example.test".into(), "third@example.test".into()],
            relay: None,
            user: "alice".into(),
            password: "secret".into(),
            size_limit: 100_000,
            max_rcpt: 200,
            max_errors: 10,
            idle: Duration::from_millis(1500),
            command_deadline: Duration::from_millis(1500),
            max_sessions: 50,
            faults: Vec::new(),
        }
    }

    pub fn has(&self, fault: &Fault) -> bool {
        self.faults.contains(fault)
    }

    pub fn naive(&self) -> Option<Naive> {
        self.faults.iter().find_map(|f| match f {
            Fault::Naive(n) => Some(*n),
            _ => None,
        })
    }

    pub fn size_limit(&self) -> u64 {
        self.faults
            .iter()
            .find_map(|f| match f {
                Fault::SizeLimit(n) => Some(*n),
                _ => None,
            })
            .unwrap_or(self.size_limit)
    }
}

/// A running server; stops when dropped.
pub struct Running {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server on 127.0.0.1, port 0.
pub async fn spawn(config: Config) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Arc::new(config);
    let active = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(async move {
        let mut sessions = tokio::task::JoinSet::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let serial = config.has(&Fault::Serial);
            let config = config.clone();
            let active = active.clone();
            let run = async move {
                let n = active.fetch_add(1, Ordering::SeqCst) + 1;
                session::serve(tcp, config, n).await;
                active.fetch_sub(1, Ordering::SeqCst);
            };
            if serial {
                run.await;
            } else {
                sessions.spawn(run);
            }
            while sessions.try_join_next().is_some() {}
        }
    });
    Running { addr, task }
}

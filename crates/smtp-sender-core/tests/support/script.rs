//! Drives a sans-IO machine through a [`Connection`] against a scripted
//! server: the script's replies are handed over one at a time, each when
//! the connection asks to read. No sockets, no sleeping.

use std::time::Instant;

use smtp_sender_core::{
    Action, Connection, Input, Machine, ProtocolError, SendError, Timeouts, TranscriptLimits,
};
use smtp_wire::ReplyParser;

/// What the machine did against the script.
pub struct Run {
    /// Every byte the client wrote, in order; a TLS upgrade shows as `<TLS>\r\n`.
    pub wrote: Vec<u8>,
    /// The separate writes (a pipelined group is one write).
    pub writes: Vec<Vec<u8>>,
    /// How the machine ended.
    pub result: Result<(), SendError>,
    /// True when the machine wanted a reply the script did not have.
    pub starved: bool,
    /// The connection, for its transcript.
    pub connection: Connection,
}

impl Run {
    /// The client's bytes as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.wrote).into_owned()
    }

    /// The client's command lines (content lines included), without CRLF.
    pub fn lines(&self) -> Vec<String> {
        self.text()
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The protocol error the run ended with.
    pub fn protocol_error(&self) -> &ProtocolError {
        match &self.result {
            Err(SendError::Protocol(error)) => error,
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }
}

/// The protocol error a run ended with.
pub fn protocol_error(result: Result<(), SendError>) -> ProtocolError {
    match result {
        Err(SendError::Protocol(error)) => error,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The script cut into replies, as a server would send them one by one.
pub fn replies(script: &str) -> Vec<Vec<u8>> {
    let mut parser = ReplyParser::new();
    let mut rest = script.as_bytes();
    let mut out = Vec::new();
    let mut start = rest;
    let mut taken = 0;
    while !rest.is_empty() {
        let (used, reply) = parser.decode(rest).expect("scripted replies are valid");
        taken += used;
        rest = &rest[used..];
        if reply.is_some() {
            out.push(start[..taken].to_vec());
            start = rest;
            taken = 0;
        } else if used == 0 {
            panic!("incomplete reply at the end of the script: {rest:?}");
        }
    }
    out
}

/// Runs `machine` until it is done, fails, or needs a reply `script` lacks.
pub fn run(machine: &mut impl Machine, script: &str) -> Run {
    let mut connection = Connection::new(Timeouts::default(), TranscriptLimits::default());
    let mut replies = replies(script).into_iter();
    let now = Instant::now();
    let mut run = Run {
        wrote: Vec::new(),
        writes: Vec::new(),
        result: Ok(()),
        starved: false,
        connection: Connection::new(Timeouts::default(), TranscriptLimits::default()),
    };
    for step in 0.. {
        assert!(step < 100_000, "the machine never finished");
        match connection.poll(machine, now) {
            Err(error) => {
                run.result = Err(error);
                break;
            }
            Ok(Action::ReadReady) => {}
            Ok(Action::Write(bytes)) => {
                run.wrote.extend_from_slice(&bytes);
                run.writes.push(bytes);
            }
            Ok(Action::Read) => match replies.next() {
                Some(reply) => connection.handle(Input::Bytes(&reply)),
                None => {
                    run.starved = true;
                    break;
                }
            },
            Ok(Action::StartTls) => {
                run.wrote.extend_from_slice(b"<TLS>\r\n");
                connection.handle(Input::TlsEstablished);
            }
            Ok(Action::Done) => break,
        }
    }
    run.connection = connection;
    run
}

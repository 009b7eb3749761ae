//! Drives a sans-IO machine with a scripted server: no sockets at all.

use smtp_sender::SendError;
use smtp_sender::client::{Machine, Step};
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
}

/// Runs `machine` until it is done, fails, or needs a reply `script` lacks.
pub fn run(machine: &mut impl Machine, script: &str) -> Run {
    let mut parser = ReplyParser::new();
    let mut input = script.as_bytes().to_vec();
    let mut run = Run {
        wrote: Vec::new(),
        writes: Vec::new(),
        result: Ok(()),
        starved: false,
    };
    for _ in 0..100_000 {
        match machine.next_step() {
            Step::Send { bytes, .. } => {
                run.wrote.extend_from_slice(&bytes);
                run.writes.push(bytes);
            }
            Step::ReadReply { .. } => {
                let reply = loop {
                    let (used, reply) = parser.decode(&input).expect("scripted replies are valid");
                    input.drain(..used);
                    if reply.is_some() || used == 0 {
                        break reply;
                    }
                };
                let Some(reply) = reply else {
                    run.starved = true;
                    return run;
                };
                if let Err(e) = machine.on_reply(reply) {
                    run.result = Err(e);
                    return run;
                }
            }
            Step::StartTls => {
                run.wrote.extend_from_slice(b"<TLS>\r\n");
                machine.on_tls_established();
            }
            Step::Done => return run,
        }
    }
    panic!("the machine never finished");
}

//! The sender's machines (handshake, transaction, QUIT) through the
//! connection against arbitrary server output: plausible replies, wrong
//! replies, extra replies, garbage, cut at any boundary, with or without an
//! end of file. Whatever the server does, the client:
//!
//! * finishes (done or an error), without panic;
//! * writes only CRLF-ended lines (RFC 5321 §2.3.8), none over 1000 octets
//!   for commands (§4.5.3.1.4);
//! * sends the message text only after a 354 to its DATA (RFC 5321 §3.3),
//!   or inside BDAT (RFC 3030);
//! * writes nothing between STARTTLS and its reply or the TLS handshake
//!   (RFC 3207 §4.2);
//! * reports a recipient accepted only when the server gave a 2xx after
//!   the end of the message (RFC 5321 §6.1: the 250 to the data is what
//!   makes the server responsible).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use proptest::prelude::*;
use smtp_sender_core::{
    Action, Connection, Credentials, Domain, Envelope, Handshake, HandshakeSettings, Input,
    Machine, Message, Preferences, Quit, Timeouts, TlsMode, Transaction, TranscriptLimits, plan,
};

/// A line of the message that cannot appear in any command.
const MARKER: &str = "marker-line-of-the-message";

/// Server output pieces: replies a server might send at any point.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    let replies = prop_oneof![
        4 => Just("220 mx.example.org ESMTP\r\n"),
        4 => Just("250-mx.example.org\r\n250-PIPELINING\r\n250-STARTTLS\r\n250-CHUNKING\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"),
        2 => Just("250-mx.example.org\r\n250 SIZE 100\r\n"),
        4 => Just("250-mx.example.org\r\n250 PIPELINING\r\n"),
        8 => Just("250 2.0.0 ok\r\n"),
        4 => Just("354 go ahead\r\n"),
        1 => Just("235 2.7.0 ok\r\n"),
        1 => Just("334 \r\n"),
        1 => Just("221 2.0.0 bye\r\n"),
        2 => Just("421 4.3.2 closing\r\n"),
        2 => Just("450 4.2.1 busy\r\n"),
        2 => Just("550 5.1.1 no such user\r\n"),
        1 => Just("554 5.7.1 no\r\n"),
        1 => Just("250 no line end"),
        1 => Just("\r\n"),
        1 => Just("2500 too long a code\r\n"),
    ];
    prop_oneof![
        12 => replies.prop_map(|r| r.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

/// What one run of the three machines saw and did.
struct Observed {
    wrote: Vec<u8>,
    /// The run's end: the report's accepted recipients, or an error.
    accepted: usize,
}

/// Runs `machine` through `connection`, handing over the server's output
/// whenever it reads (an end of file when there is no more); true when
/// the machine finished, false when the run ended in an error.
fn drive(
    machine: &mut impl Machine,
    connection: &mut Connection,
    feed: &mut Feed,
    wrote: &mut Vec<u8>,
) -> Result<bool, TestCaseError> {
    let now = Instant::now();
    let mut starttls_sent = false;
    for step in 0.. {
        prop_assert!(step < 10_000, "the machine never finished");
        match connection.poll(machine, now) {
            Err(_) => return Ok(false),
            Ok(Action::ReadReady) => {}
            Ok(Action::Write(bytes)) => {
                prop_assert!(!starttls_sent, "a write between STARTTLS and the handshake");
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if text.contains(MARKER) {
                    // RFC 5321 §3.3 / RFC 3030: the text after a 354 to
                    // DATA, or in a BDAT chunk.
                    let in_bdat =
                        String::from_utf8_lossy(wrote).contains("BDAT ") || text.contains("BDAT ");
                    prop_assert!(
                        feed.fed_354 || in_bdat,
                        "message text before any 354:\n{}",
                        String::from_utf8_lossy(wrote)
                    );
                }
                if text.contains(&format!("{MARKER}\r\n.\r\n")) || text.contains(" LAST\r\n") {
                    feed.after_end = Some(Vec::new());
                }
                starttls_sent = text.ends_with("STARTTLS\r\n");
                wrote.extend_from_slice(&bytes);
            }
            Ok(Action::Read) => match feed.next() {
                Some(chunk) => {
                    // A reply to STARTTLS may be complete: a refusal lets
                    // the client go on in the clear (opportunistic TLS).
                    starttls_sent &= !chunk.contains(&b'\n');
                    connection.handle(Input::Bytes(&chunk));
                }
                None => connection.handle(Input::Eof),
            },
            Ok(Action::StartTls) => {
                starttls_sent = false;
                connection.handle(Input::TlsEstablished);
            }
            Ok(Action::Done) => return Ok(true),
        }
    }
    Ok(false)
}

/// The server's output, handed out in chunks: each piece (one write of
/// the server) cut in reads of varying sizes, never two pieces in one read.
struct Feed {
    pieces: Vec<Vec<u8>>,
    piece: usize,
    at: usize,
    cuts: Vec<usize>,
    turn: usize,
    /// A 354 reply was handed out.
    fed_354: bool,
    /// What was handed out since the end of the message was sent.
    after_end: Option<Vec<u8>>,
}

impl Feed {
    fn next(&mut self) -> Option<Vec<u8>> {
        while self
            .pieces
            .get(self.piece)
            .is_some_and(|p| self.at >= p.len())
        {
            self.piece += 1;
            self.at = 0;
        }
        let piece = self.pieces.get(self.piece)?;
        let size = 1 + self.cuts[self.turn % self.cuts.len()] % 64;
        self.turn += 1;
        let end = (self.at + size).min(piece.len());
        let chunk = piece[self.at..end].to_vec();
        self.fed_354 |= piece[..end].windows(5).any(|w| w == b"354 g");
        self.at = end;
        if let Some(after_end) = &mut self.after_end {
            after_end.extend_from_slice(&chunk);
        }
        Some(chunk)
    }

    /// The 2xx replies handed out since the end of the message was sent:
    /// their last lines, `2yz SP text` (RFC 5321 §4.2), counted in the
    /// octets as handed out, so that a reply cut between two reads counts
    /// too (counting read by read missed `25` + `0 ok`).
    fn positive_after_end(&self) -> usize {
        let Some(bytes) = &self.after_end else {
            return 0;
        };
        bytes
            .split(|&b| b == b'\n')
            .filter(|line| {
                line.len() >= 4
                    && line[0] == b'2'
                    && line[1..3].iter().all(u8::is_ascii_digit)
                    && line[3] == b' '
            })
            .count()
    }
}

fn run(
    pieces: &[Vec<u8>],
    cuts: Vec<usize>,
    tls: TlsMode,
    auth: bool,
) -> Result<Observed, TestCaseError> {
    let mut feed = Feed {
        pieces: pieces.to_vec(),
        piece: 0,
        at: 0,
        cuts,
        turn: 0,
        fed_354: false,
        after_end: None,
    };
    let mut connection = Connection::new(Timeouts::default(), TranscriptLimits::default());
    let mut wrote = Vec::new();
    let settings = HandshakeSettings {
        ehlo_name: Domain::parse("client.example").unwrap(),
        tls,
        tls_active: false,
        classic: false,
        lmtp: false,
        credentials: auth.then(|| Credentials::new("alice", "s3cret")),
        allow_plaintext_auth: true,
    };
    let mut handshake = Handshake::new(settings).unwrap();
    let greeted = drive(&mut handshake, &mut connection, &mut feed, &mut wrote)?;
    let mut accepted = 0;
    if greeted {
        let server = handshake.server_info();
        let envelope =
            Envelope::new("alice@example.com", &["b@example.org", "c@example.org"]).unwrap();
        let text = format!("Subject: t\r\n\r\n.dot\r\n{MARKER}\r\n");
        let message = Message::new(text.as_bytes());
        let preferences = Preferences {
            pipelining: true,
            chunking: true,
        };
        if let Ok(plan) = plan(&envelope, &message, &server, preferences) {
            let enhanced = server.offers("ENHANCEDSTATUSCODES");
            let mut tx = Transaction::new(&envelope, message, plan, false, enhanced).unwrap();
            drive(&mut tx, &mut connection, &mut feed, &mut wrote)?;
            if let Ok(report) = tx.into_report() {
                accepted = report.accepted().count();
            }
            let mut quit = Quit::new();
            drive(&mut quit, &mut connection, &mut feed, &mut wrote)?;
        }
    }
    if accepted > 0 {
        prop_assert!(
            feed.positive_after_end() > 0,
            "{accepted} accepted without a 2xx after the end of the message:\n{}",
            String::from_utf8_lossy(&wrote)
        );
    }
    Ok(Observed { wrote, accepted })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn the_client_keeps_its_invariants_whatever_the_server_sends(
        pieces in proptest::collection::vec(piece(), 0..24),
        cuts in proptest::collection::vec(any::<usize>(), 1..8),
        tls in prop_oneof![Just(TlsMode::None), Just(TlsMode::StartTls), Just(TlsMode::Opportunistic)],
        auth in any::<bool>(),
    ) {
        let observed = run(&pieces, cuts, tls, auth)?;
        let text = String::from_utf8_lossy(&observed.wrote);
        // Only CRLF line ends, and every write ends a line.
        prop_assert!(observed.wrote.is_empty() || text.ends_with("\r\n"), "{text}");
        let bytes = &observed.wrote;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                prop_assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF:\n{text}");
            }
            if b == b'\r' {
                prop_assert!(bytes.get(i + 1) == Some(&b'\n'), "bare CR:\n{text}");
            }
        }
        prop_assert!(text.split("\r\n").all(|l| l.len() <= 998), "{text}");
        // AUTH is never sent in the clear unless allowed (it is here), and
        // the secret never appears in a form other than base64.
        prop_assert!(!text.contains("s3cret"), "{text}");
    }
}

/// The proptest above can fail: a run where the server accepts everything
/// delivers, so the checks are not vacuous.
#[test]
fn a_cooperative_server_gets_the_message() {
    let pieces: Vec<Vec<u8>> = [
        "220 mx.example.org ESMTP\r\n",
        "250-mx.example.org\r\n250 PIPELINING\r\n",
        "250 ok\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n",
        "250 2.0.0 queued\r\n",
        "221 bye\r\n",
    ]
    .iter()
    .map(|p| p.as_bytes().to_vec())
    .collect();
    let observed = run(&pieces, vec![7, 3, 64], TlsMode::None, false).unwrap();
    assert_eq!(
        observed.accepted,
        2,
        "{}",
        String::from_utf8_lossy(&observed.wrote)
    );
    assert!(String::from_utf8_lossy(&observed.wrote).contains(MARKER));
}

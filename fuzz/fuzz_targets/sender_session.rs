//! The sender's machines (smtp-sender-core: handshake, transaction, QUIT)
//! through the connection against arbitrary server output in arbitrary
//! reads. Beyond "no panic" it checks what the client must hold whatever
//! the server says: it finishes; it writes CRLF-ended lines only (RFC 5321
//! §2.3.8); it sends the message text only after a 354 to DATA or inside
//! BDAT (RFC 5321 §3.3, RFC 3030); nothing between STARTTLS and its reply.
//!
//! Input layout: byte 0 picks the TLS mode and AUTH, byte 1 the read size,
//! the rest is what the server sends.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use smtp_sender_core::{
    Action, Connection, Credentials, Domain, Envelope, Handshake, HandshakeSettings, Input,
    Machine, Message, Preferences, Quit, Timeouts, TlsMode, Transaction, TranscriptLimits, plan,
};

const MARKER: &[u8] = b"marker-line-of-the-message";

struct Server<'a> {
    bytes: &'a [u8],
    read: usize,
    saw_354: bool,
}

/// Runs one machine; true when it finished, false on an error.
fn drive(machine: &mut impl Machine, conn: &mut Connection, server: &mut Server, wrote: &mut Vec<u8>) -> bool {
    let now = Instant::now();
    let mut after_starttls = false;
    for _ in 0..100_000 {
        match conn.poll(machine, now) {
            Err(_) => return false,
            Ok(Action::ReadReady) => {}
            Ok(Action::Write(bytes)) => {
                assert!(!after_starttls, "a write between STARTTLS and its reply");
                let in_bdat = wrote.windows(5).any(|w| w == b"BDAT ") || bytes.windows(5).any(|w| w == b"BDAT ");
                if bytes.windows(MARKER.len()).any(|w| w == MARKER) {
                    assert!(server.saw_354 || in_bdat, "message text before a 354");
                }
                after_starttls = bytes.ends_with(b"STARTTLS\r\n");
                wrote.extend_from_slice(&bytes);
            }
            Ok(Action::Read) => {
                if server.bytes.is_empty() {
                    conn.handle(Input::Eof);
                } else {
                    let n = server.read.min(server.bytes.len());
                    let (chunk, rest) = server.bytes.split_at(n);
                    server.bytes = rest;
                    server.saw_354 |= chunk.windows(3).any(|w| w == b"354");
                    after_starttls &= !chunk.contains(&b'\n');
                    conn.handle(Input::Bytes(chunk));
                }
            }
            Ok(Action::StartTls) => {
                after_starttls = false;
                conn.handle(Input::TlsEstablished);
            }
            Ok(Action::Done) => return true,
        }
    }
    panic!("the machine never finished");
}

fuzz_target!(|data: &[u8]| {
    let [flags, read, bytes @ ..] = data else {
        return;
    };
    let tls = match flags % 3 {
        0 => TlsMode::None,
        1 => TlsMode::StartTls,
        _ => TlsMode::Opportunistic,
    };
    let settings = HandshakeSettings {
        ehlo_name: Domain::parse("client.example").unwrap(),
        tls,
        tls_active: false,
        classic: flags & 4 != 0,
        lmtp: flags & 16 != 0 && flags & 4 == 0,
        credentials: (flags & 8 != 0 && flags & 4 == 0).then(|| Credentials::new("alice", "s3cret")),
        allow_plaintext_auth: true,
    };
    let mut server = Server { bytes, read: usize::from(*read).max(1), saw_354: false };
    let mut conn = Connection::new(Timeouts::default(), TranscriptLimits::default());
    let mut wrote = Vec::new();
    let Ok(mut handshake) = Handshake::new(settings) else {
        return;
    };
    if drive(&mut handshake, &mut conn, &mut server, &mut wrote) {
        let info = handshake.server_info();
        let envelope = Envelope::new("alice@example.com", &["b@example.org", "c@example.org"]).unwrap();
        let text = b"Subject: t\r\n\r\n.dot\r\nmarker-line-of-the-message\r\n";
        let message = Message::new(text);
        let preferences = Preferences { pipelining: true, chunking: true };
        if let Ok(plan) = plan(&envelope, &message, &info, preferences) {
            let enhanced = info.offers("ENHANCEDSTATUSCODES");
            if let Ok(mut tx) = Transaction::new(&envelope, message, plan, false, enhanced) {
                drive(&mut tx, &mut conn, &mut server, &mut wrote);
                let _ = tx.into_report();
                drive(&mut Quit::new(), &mut conn, &mut server, &mut wrote);
            }
        }
    }
    assert!(!wrote.windows(6).any(|w| w == b"s3cret"), "the password in the clear");
    for (i, &b) in wrote.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && wrote[i - 1] == b'\r', "a bare LF written");
        }
    }
});

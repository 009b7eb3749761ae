//! Messages: DATA and BDAT framing, trace headers, the bare CR/LF policy,
//! smuggling, size and line limits.

use super::harness::{Harness, config};

const ENVELOPE: &str = "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\n";

fn after_envelope() -> Harness {
    let mut h = Harness::greeted();
    assert_eq!(h.codes_of(ENVELOPE), [250, 250, 250]);
    h
}

/// The message as stored, without the trace header lines.
fn without_trace(message: &[u8]) -> &[u8] {
    let text = message;
    let mut at = 0;
    // Trace lines and their folded continuations come first.
    loop {
        let rest = &text[at..];
        let starts_trace = [&b"Return-Path:"[..], b"X-Original-To:", b"Received:", b"\t"]
            .iter()
            .any(|p| rest.starts_with(p));
        if !starts_trace {
            return rest;
        }
        let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        at += end + 2;
    }
}

#[test]
fn data_message_is_unstuffed_and_traced() {
    let mut h = after_envelope();
    let out = h.send("DATA\r\nSubject: t\r\n\r\n..leading dot\r\nend\r\n.\r\n");
    assert_eq!(Harness::codes(&out), [354, 250]);
    let id = &h.envelopes[0].id;
    assert!(
        out.ends_with(&format!("250 2.0.0 Ok: queued as {id}\r\n")),
        "{out}"
    );
    let stored = String::from_utf8(h.messages[0].clone()).unwrap();
    let expected_trace = format!(
        "Return-Path: <a@c.example>\r\n\
         X-Original-To: u@example.org\r\n\
         Received: from c.example ([192.0.2.1])\r\n\
         \tby mx.example.org with ESMTP id {id}\r\n\
         \tfor <u@example.org>;\r\n\
         \tTue, 01 Jul 2025 12:00:00 +0000\r\n"
    );
    assert_eq!(
        stored,
        format!("{expected_trace}Subject: t\r\n\r\n.leading dot\r\nend\r\n")
    );
    assert_eq!(h.envelopes[0].trace, expected_trace.as_bytes());
    assert_eq!(h.resets, 1, "the application is reset after the message");
}

#[test]
fn helo_sessions_are_traced_with_smtp_and_several_recipients_without_for() {
    let mut h = Harness::greeted();
    h.send("HELO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nRCPT TO:<Postmaster>\r\nDATA\r\nx\r\n.\r\n");
    let stored = String::from_utf8(h.messages[0].clone()).unwrap();
    assert!(
        stored.starts_with("Return-Path: <>\r\nX-Original-To: u@example.org,\r\n\tPostmaster\r\n"),
        "{stored}"
    );
    assert!(stored.contains(" with SMTP id "), "{stored}");
    assert!(!stored.contains("\tfor "), "{stored}");
}

#[test]
fn empty_message_and_pipelined_commands_after_the_dot() {
    let mut h = after_envelope();
    let out = h.send("DATA\r\n.\r\nNOOP\r\n");
    assert_eq!(Harness::codes(&out), [354, 250, 250]);
    assert_eq!(without_trace(&h.messages[0]), b"");
}

/// Every smuggling sequence yields exactly one message or one refusal,
/// never a second transaction (the smuggled MAIL is message content).
#[test]
fn smuggling_sequences_never_start_a_second_transaction() {
    let sequences: [&str; 7] = [
        "\n.\n",
        "\n.\r\n",
        "\r\n.\n",
        "\r.\r",
        "\r\n.\r",
        "\r.\r\n",
        "\r\r\n.\r\r\n",
    ];
    for seq in sequences {
        let mut h = after_envelope();
        let input = format!(
            "DATA\r\nSubject: legit\r\n\r\nhello{seq}MAIL FROM:<evil@x.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\nNOOP\r\n"
        );
        let out = h.send(&input);
        let codes = Harness::codes(&out);
        assert_eq!(codes, [354, 550, 250], "{seq:?}: {out}");
        assert!(out.contains("550 5.6.11 "), "{seq:?}: {out}");
        assert_eq!(h.envelopes.len(), 1, "{seq:?}: one transaction only");
        assert!(
            h.messages.is_empty(),
            "{seq:?}: a refused message never reaches the application's store"
        );
        assert_eq!(
            h.asked
                .iter()
                .filter(|r| matches!(r, crate::session::Request::Mail { .. }))
                .count(),
            1
        );
    }
}

#[test]
fn bare_cr_or_lf_anywhere_refuses_the_whole_message() {
    for body in ["a\nb\r\n", "a\rb\r\n", "line\r\n\nmore\r\n", "x\r\r\n"] {
        let mut h = after_envelope();
        let out = h.send(&format!("DATA\r\n{body}.\r\nNOOP\r\n"));
        assert_eq!(Harness::codes(&out), [354, 550, 250], "{body:?}");
        assert!(out.contains("550 5.6.11 Message refused: bare CR/LF not allowed"));
    }
}

#[test]
fn size_declared_too_big_is_refused_at_once() {
    let mut c = config();
    c.limits.message_size = 1000;
    let mut h = Harness::with(c, false);
    let out = h.send("EHLO c.example\r\nMAIL FROM:<a@c.example> SIZE=1001\r\nMAIL FROM:<a@c.example> SIZE=1000\r\n");
    assert!(out.contains("250-SIZE 1000\r\n"));
    assert_eq!(Harness::codes(&out)[2..], [552, 250]);
    assert!(out.contains("552 5.3.4 "));
}

#[test]
fn data_growing_past_the_limit_is_read_to_its_end_then_refused() {
    let mut c = config();
    c.limits.message_size = 100;
    let mut h = Harness::with(c, false);
    h.send(ENVELOPE);
    let line = "x".repeat(70) + "\r\n";
    let mut out = h.send("DATA\r\n");
    for _ in 0..50 {
        out += &h.send(&line);
    }
    out += &h.send(".\r\nNOOP\r\n");
    assert_eq!(Harness::codes(&out), [354, 552, 250], "{out}");
    assert!(h.messages.is_empty());
}

#[test]
fn long_text_lines_are_refused() {
    let mut h = after_envelope();
    let long = "y".repeat(999);
    let out = h.send(&format!("DATA\r\n{long}\r\n.\r\n"));
    assert_eq!(Harness::codes(&out), [354, 550]);
    assert!(out.contains("550 5.6.0 "));
    let mut relaxed = config();
    relaxed.limits.text_line = None;
    let mut h = Harness::with(relaxed, false);
    h.send(ENVELOPE);
    assert_eq!(h.codes_of(&format!("DATA\r\n{long}\r\n.\r\n")), [354, 250]);
}

#[test]
fn body_is_identical_whatever_the_chunk_boundaries() {
    let input = b"DATA\r\nA: b\r\n\r\n..x\r\n.y\r\nlast\r\n.\r\n";
    let mut whole = after_envelope();
    whole.feed(input);
    let mut bytewise = after_envelope();
    // Feed one octet at a time, keeping unconsumed octets like a driver.
    let mut pending = Vec::new();
    for &b in input {
        pending.push(b);
        let (_, used) = bytewise.feed(&pending);
        pending.drain(..used);
    }
    assert_eq!(
        without_trace(&whole.messages[0]),
        without_trace(&bytewise.messages[0])
    );
    assert_eq!(
        without_trace(&whole.messages[0]),
        b"A: b\r\n\r\n.x\r\ny\r\nlast\r\n"
    );
}

#[test]
fn bdat_chunks_make_one_message() {
    let mut h = after_envelope();
    let out = h.send("BDAT 5\r\nHelloNOOP\r\nBDAT 9 LAST\r\n, world\r\n");
    assert_eq!(Harness::codes(&out), [250, 250, 250], "{out}");
    assert!(out.starts_with("250 2.0.0 5 octets received\r\n"));
    assert_eq!(without_trace(&h.messages[0]), b"Hello, world\r\n");
    assert_eq!(h.envelopes.len(), 1);
}

#[test]
fn bdat_cannot_be_mixed_with_data() {
    let mut h = after_envelope();
    let out = h.send("BDAT 3\r\nabcDATA\r\nBDAT 0 LAST\r\n");
    assert_eq!(Harness::codes(&out), [250, 503, 250]);
    assert!(out.contains("DATA cannot be mixed with BDAT"));
    assert_eq!(without_trace(&h.messages[0]), b"abc");
}

#[test]
fn a_refused_bdat_chunk_is_skipped_not_executed() {
    let mut h = Harness::greeted();
    h.send("EHLO c.example\r\n");
    // The 6 octets of the chunk look like a command; they must be skipped.
    let out = h.send("BDAT 6\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(Harness::codes(&out), [503, 250]);
    assert!(!h.closed);
}

#[test]
fn rset_between_bdat_chunks_abandons_the_message() {
    let mut h = after_envelope();
    let out = h.send("BDAT 3\r\nabcRSET\r\nMAIL FROM:<a@c.example>\r\n");
    assert_eq!(Harness::codes(&out), [250, 250, 250]);
    assert_eq!(h.aborted, 1);
    assert!(h.messages.is_empty());
}

#[test]
fn bdat_past_the_size_limit_is_refused_at_the_end_of_its_chunk() {
    let mut c = config();
    c.limits.message_size = 10;
    let mut h = Harness::with(c, false);
    h.send(ENVELOPE);
    let out = h.send("BDAT 8\r\n12345678BDAT 8 LAST\r\n12345678NOOP\r\n");
    // First chunk fine, second crosses the limit: 552 ends the transaction.
    assert_eq!(Harness::codes(&out), [250, 552, 250], "{out}");
    assert!(h.messages.is_empty());
}

#[test]
fn an_invalid_bdat_size_ends_the_session() {
    let mut h = after_envelope();
    let out = h.send("BDAT lots\r\nNOOP\r\n");
    assert_eq!(Harness::codes(&out), [501, 421]);
    assert!(h.closed);
}

#[test]
fn the_application_chooses_the_final_reply() {
    let mut h = after_envelope();
    h.data_verdict = Err(smtp_wire::Reply::enhanced(
        554,
        smtp_wire::EnhancedCode::new(5, 7, 1),
        "No thanks",
    ));
    let out = h.send("DATA\r\nx\r\n.\r\n");
    assert!(out.ends_with("554 5.7.1 No thanks\r\n"), "{out}");
}

//! Messages: DATA and BDAT framing, trace headers, size limits, early
//! verdicts. (Content policies and smuggling: `content_policy.rs`.)

use super::harness::{Harness, config, without_trace};

const ENVELOPE: &str = "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\n";

fn after_envelope() -> Harness {
    let mut h = Harness::greeted();
    assert_eq!(h.codes_of(ENVELOPE), [250, 250, 250]);
    h
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
    c.limits.message_size = 1000;
    let mut h = Harness::with(c, false);
    h.send(ENVELOPE);
    let line = "x".repeat(70) + "\r\n";
    let mut out = h.send("DATA\r\n");
    // 1800 octets: past the limit, under twice the limit.
    for _ in 0..25 {
        out += &h.send(&line);
    }
    out += &h.send(".\r\nNOOP\r\n");
    assert_eq!(Harness::codes(&out), [354, 552, 250], "{out}");
    assert!(h.messages.is_empty());
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

// ----- early verdicts (the reply says 250 iff the message was stored once) --

fn early(verdict: Result<(), smtp_wire::Reply>) -> Harness {
    let mut h = after_envelope();
    h.early_verdict = Some(verdict);
    h
}

fn no_thanks() -> smtp_wire::Reply {
    smtp_wire::Reply::enhanced(554, smtp_wire::EnhancedCode::new(5, 7, 1), "No thanks")
}

/// RFC 5321 §6.1 + RFC 3030 §2: an application that returns `Ok` before the
/// last chunk cannot have stored the message; no chunk may be answered with
/// the final 250, and the LAST chunk must not get a 503 either.
#[test]
fn an_early_ok_never_acknowledges_a_bdat_message() {
    let mut h = early(Ok(()));
    let out = h.send("BDAT 5\r\nhelloBDAT 5 LAST\r\nworldNOOP\r\n");
    assert!(!out.contains("queued as"), "{out}");
    // RFC 3030 §4: the failure is reported on the chunk, and the chunks
    // already in the pipeline are read and answered with the same reply.
    assert_eq!(Harness::codes(&out), [451, 451, 250], "{out}");
    assert!(out.starts_with("451 4.3.0 "), "{out}");
    assert_eq!(h.envelopes.len(), 1);
}

#[test]
fn an_early_ok_never_acknowledges_a_data_message() {
    let mut h = early(Ok(()));
    let out = h.send("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n");
    assert_eq!(Harness::codes(&out), [354, 451, 250], "{out}");
    // A bare CR later in the body: the content refusal is the final reply,
    // and there is exactly one final reply.
    let mut h = early(Ok(()));
    let out = h.send("DATA\r\nSubject: x\r\n\r\nbare\rCR\r\n.\r\nNOOP\r\n");
    assert_eq!(Harness::codes(&out), [354, 550, 250], "{out}");
}

#[test]
fn an_early_refusal_is_repeated_for_every_pipelined_chunk_until_last() {
    let mut h = early(Err(no_thanks()));
    let out = h.send(
        "BDAT 5\r\nhelloBDAT 3\r\nabcBDAT 5 LAST\r\nworldNOOP\r\nMAIL FROM:<a@c.example>\r\n",
    );
    assert_eq!(Harness::codes(&out), [554, 554, 554, 250, 250], "{out}");
    assert_eq!(out.matches("554 5.7.1 No thanks\r\n").count(), 3, "{out}");
    assert!(!out.contains("503"), "{out}");
    assert!(!h.closed, "discarded chunks are not protocol errors");
    // The transaction ended with the refusal: a new MAIL is accepted at once.
    assert!(out.ends_with("250 2.1.0 Sender OK\r\n"), "{out}");
}

#[test]
fn a_client_may_start_over_after_a_refused_chunk() {
    // RFC 3030 §4: after a 4xx/5xx to a chunk the transaction has failed;
    // the client sends no more chunks and may begin a new transaction.
    let mut h = early(Err(no_thanks()));
    let out = h.send("BDAT 5\r\nhello");
    assert_eq!(Harness::codes(&out), [554]);
    h.early_verdict = None;
    let out =
        h.send("MAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nBDAT 2 LAST\r\nokNOOP\r\n");
    assert_eq!(Harness::codes(&out), [250, 250, 250, 250], "{out}");
    assert!(out.contains("queued as"), "{out}");
    // After a new transaction, a stray BDAT is a sequence error again.
    assert_eq!(h.codes_of("BDAT 1\r\nx"), [503]);
}

#[test]
fn a_bdat_chunk_that_cannot_fit_the_size_limit_ends_the_session_unread() {
    // RFC 3030 §2 + RFC 1870 §6.2: the chunk's octets are never read (a
    // client declaring 2^64-1 octets could otherwise hold the session for
    // ever), and nothing after it can be resynchronised: 552, then close.
    let mut h = after_envelope();
    let out = h.send("BDAT 18446744073709551615\r\nxxxx");
    assert_eq!(Harness::codes(&out), [552, 421], "{out}");
    assert!(out.starts_with("552 5.3.4 "), "{out}");
    assert!(h.closed);

    // Also when the chunk would only cross the limit, and for a chunk that
    // is refused anyway (no transaction).
    let mut c = config();
    c.limits.message_size = 10;
    let mut h = Harness::with(c.clone(), false);
    h.send(ENVELOPE);
    let out = h.send("BDAT 8\r\n12345678BDAT 3 LAST\r\n123");
    assert_eq!(Harness::codes(&out), [250, 552, 421], "{out}");
    assert!(h.closed && h.messages.is_empty());
    let mut h = Harness::with(c, false);
    let out = h.send("EHLO c.example\r\nBDAT 11\r\n");
    assert_eq!(Harness::codes(&out), [220, 250, 552, 421], "{out}");
}

#[test]
fn a_refused_data_message_is_not_read_for_ever() {
    // Past twice the limit the session stops discarding: 552 and close.
    let mut c = config();
    c.limits.message_size = 100;
    let mut h = Harness::with(c, false);
    h.send(ENVELOPE);
    let line = "x".repeat(70) + "\r\n";
    let mut out = h.send("DATA\r\n");
    for _ in 0..2 {
        out += &h.send(&line);
    }
    assert_eq!(Harness::codes(&out), [354], "144 octets: still reading");
    out += &h.send(&line);
    assert_eq!(Harness::codes(&out), [354, 552, 421], "{out}");
    assert!(h.closed && h.messages.is_empty());
}

/// RFC 5321 §4.4: `From-domain = "FROM" FWS Extended-Domain`; a name that is
/// not a plain LDH domain or a standard IP literal is shown escaped in the
/// TCP-info comment, so it can neither forge the `;` before the date nor
/// put raw 8-bit octets into the header of a non-SMTPUTF8 message.
#[test]
fn odd_ehlo_names_cannot_forge_received_fields() {
    for (ehlo, shown) in [
        ("[x:a;b]", "from [192.0.2.1] ([192.0.2.1] helo=[x:a%3Bb])"),
        (
            "b\u{fc}cher.example",
            "from [192.0.2.1] ([192.0.2.1] helo=b%C3%BCcher.example)",
        ),
        ("c.example", "from c.example ([192.0.2.1])"),
        ("[192.0.2.7]", "from [192.0.2.7] ([192.0.2.1])"),
        (
            "[IPv6:2001:db8::1]",
            "from [IPv6:2001:db8::1] ([192.0.2.1])",
        ),
    ] {
        let mut h = Harness::greeted();
        let out = h.send(&format!(
            "EHLO {ehlo}\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nx\r\n.\r\n"
        ));
        assert!(out.contains("queued as"), "{ehlo}: {out}");
        let trace = &h.envelopes[0].trace;
        assert!(trace.is_ascii(), "{ehlo}: {trace:?}");
        let text = String::from_utf8(trace.clone()).unwrap();
        let received = &text[text.find("Received:").unwrap()..];
        assert!(
            received.starts_with(&format!("Received: {shown}\r\n")),
            "{received}"
        );
        assert_eq!(received.matches(';').count(), 1, "{received}");
    }
}

/// `X-Original-To:` records every envelope recipient, Bcc ones included, in
/// the one stored copy (docs/receiver.md, "Trace headers"); a set-up whose
/// Maildir is read by the recipients turns it off.
#[test]
fn x_original_to_can_be_left_out() {
    let input = "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\n\
                 RCPT TO:<hidden@example.org>\r\nDATA\r\nTo: u@example.org\r\n\r\nx\r\n.\r\n";
    let mut h = Harness::greeted();
    h.send(input);
    let stored = String::from_utf8(h.messages[0].clone()).unwrap();
    assert!(stored.contains("hidden@example.org"), "{stored}");
    let mut c = config();
    c.record_recipients = false;
    let mut h = Harness::with(c, false);
    h.send(input);
    let stored = String::from_utf8(h.messages[0].clone()).unwrap();
    assert!(!stored.contains("X-Original-To"), "{stored}");
    assert!(!stored.contains("hidden"), "{stored}");
}

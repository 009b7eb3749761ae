//! The two content policies (docs/receiver.md, "Policy"): what the liberal
//! default accepts and how, what `Strict` refuses, what both refuse, and
//! every smuggling vector under both.

use smtp_wire::data::smuggling::{SMUGGLED_TRANSACTION, VECTORS};

use super::harness::{Harness, config, without_trace};
use crate::Request;
use crate::config::ContentPolicy::{self, Liberal, Strict};

const LEVELS: [ContentPolicy; 2] = [Liberal, Strict];

const ENVELOPE: &str = "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\n";

fn greeted(policy: ContentPolicy) -> Harness {
    let mut c = config();
    c.content_policy = policy;
    Harness::greeted_with(c)
}

fn after_envelope(policy: ContentPolicy) -> Harness {
    let mut h = greeted(policy);
    assert_eq!(h.codes_of(ENVELOPE), [250, 250, 250]);
    h
}

/// True when every LF of `text` follows a CR and every CR precedes an LF.
fn canonical(text: &[u8]) -> bool {
    text.iter().enumerate().all(|(i, &b)| match b {
        b'\n' => i > 0 && text[i - 1] == b'\r',
        b'\r' => text.get(i + 1) == Some(&b'\n'),
        _ => true,
    })
}

/// Every smuggling vector yields exactly one message or one refusal, never
/// a second transaction (the smuggled MAIL is message content), at both
/// levels. The liberal policy keeps the bare-LF vectors as one message,
/// normalised; the bare-CR ones are refused at every level.
#[test]
fn smuggling_sequences_never_start_a_second_transaction_at_either_level() {
    for policy in LEVELS {
        for vector in VECTORS {
            let name = format!("{policy:?} {}", vector.name);
            let mut h = after_envelope(policy);
            let input = [
                &b"DATA\r\nSubject: legit\r\n\r\nhello"[..],
                vector.fake,
                SMUGGLED_TRANSACTION,
                b".\r\nNOOP\r\n",
            ]
            .concat();
            let (out, used) = h.feed(&input);
            assert_eq!(used, input.len(), "{name}");
            assert_eq!(h.envelopes.len(), 1, "{name}: one transaction only");
            let mails = h.asked.iter().filter(|r| matches!(r, Request::Mail { .. }));
            assert_eq!(mails.count(), 1, "{name}");
            if policy == Liberal && vector.bare_lf {
                assert_eq!(Harness::codes(&out), [354, 250, 250], "{name}: {out}");
                let body = without_trace(&h.messages[0]);
                assert!(
                    body.starts_with(b"Subject: legit\r\n\r\nhello\r\n"),
                    "{name}"
                );
                assert!(body.ends_with(SMUGGLED_TRANSACTION), "{name}");
                assert!(canonical(body), "{name}: {body:?}");
            } else {
                assert_eq!(Harness::codes(&out), [354, 550, 250], "{name}: {out}");
                assert!(out.contains("550 5.6.11 "), "{name}: {out}");
                assert!(h.messages.is_empty(), "{name}: never stored");
            }
        }
    }
}

/// `<LF>.<LF>` under the liberal policy: the lone dot is kept as a line of
/// the one message (it is neither the end of the data nor stuffing).
#[test]
fn a_lone_dot_after_a_bare_lf_is_content() {
    let mut h = after_envelope(Liberal);
    let out = h.send("DATA\r\nhello\n.\nMAIL FROM:<x@c.example>\r\n.\r\n");
    assert_eq!(Harness::codes(&out), [354, 250], "{out}");
    assert_eq!(
        without_trace(&h.messages[0]),
        b"hello\r\n.\r\nMAIL FROM:<x@c.example>\r\n"
    );
}

/// What Python's `smtplib.sendmail(a, [b], b'Subject: x\n\nhi\n')` sends:
/// its bare-LF lines, then CRLF . CRLF.
#[test]
fn bare_lf_content_is_normalised_by_default_and_refused_when_strict() {
    let input = "DATA\r\nSubject: x\n\nhi\n\r\n.\r\nNOOP\r\n";
    let mut h = after_envelope(Liberal);
    assert_eq!(h.codes_of(input), [354, 250, 250]);
    assert_eq!(
        without_trace(&h.messages[0]),
        b"Subject: x\r\n\r\nhi\r\n\r\n"
    );
    let mut h = after_envelope(Strict);
    let out = h.send(input);
    assert_eq!(Harness::codes(&out), [354, 550, 250], "{out}");
    assert!(out.contains("550 5.6.11 Message refused: bare CR/LF not allowed\r\n"));
    assert!(h.messages.is_empty());
}

/// smtplib doubles the dot of every line that starts with one, also after
/// a bare LF; the liberal policy removes it there too, as Postfix does.
#[test]
fn lines_after_a_bare_lf_are_unstuffed_in_data_not_in_bdat() {
    let mut h = after_envelope(Liberal);
    assert_eq!(h.codes_of("DATA\r\nx\n..dot\n..\n\r\n.\r\n"), [354, 250]);
    assert_eq!(without_trace(&h.messages[0]), b"x\r\n.dot\r\n.\r\n\r\n");
    h.send("MAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\n");
    assert_eq!(
        h.codes_of("BDAT 4\r\na\n..BDAT 3 LAST\r\nb\r\n"),
        [250, 250]
    );
    assert_eq!(without_trace(&h.messages[1]), b"a\r\n..b\r\n");
    let mut h = after_envelope(Strict);
    assert_eq!(h.codes_of("BDAT 4 LAST\r\na\nb."), [550]);
}

/// A CRLF split between two BDAT chunks is one line end, under both
/// policies; under the liberal one the LF that starts the second chunk is
/// judged by what ended the first (the normaliser and the content check
/// share one survey of each piece, told that the text before it ended
/// with a CR).
#[test]
fn a_crlf_split_between_bdat_chunks_is_not_bare() {
    for policy in LEVELS {
        for second in ["\nb\n", "\nb\r\n"] {
            if policy == Strict && second == "\nb\n" {
                continue; // a bare LF of its own, refused when strict
            }
            let mut h = after_envelope(policy);
            let out = h.send(&format!(
                "BDAT 2\r\na\rBDAT {} LAST\r\n{second}",
                second.len()
            ));
            assert_eq!(
                Harness::codes(&out),
                [250, 250],
                "{policy:?} {second:?}: {out}"
            );
            assert_eq!(without_trace(&h.messages[0]), b"a\r\nb\r\n");
        }
    }
}

#[test]
fn bare_cr_is_refused_at_both_levels() {
    for policy in LEVELS {
        for body in ["a\rb\r\n", "x\r\r\n", "a\n\rb\r\n"] {
            let mut h = after_envelope(policy);
            let out = h.send(&format!("DATA\r\n{body}.\r\nNOOP\r\n"));
            assert_eq!(Harness::codes(&out), [354, 550, 250], "{policy:?} {body:?}");
            assert!(out.contains("550 5.6.11 "), "{out}");
            assert!(h.messages.is_empty());
        }
    }
}

#[test]
fn nul_is_refused_at_both_levels() {
    for policy in LEVELS {
        let mut h = after_envelope(policy);
        let out = h.send("DATA\r\nSubject: x\r\n\r\na\0b\r\n.\r\nNOOP\r\n");
        assert_eq!(Harness::codes(&out), [354, 550, 250], "{policy:?}: {out}");
        assert!(
            out.contains("550 5.6.0 Message refused: NUL octets not allowed\r\n"),
            "{out}"
        );
        let out =
            h.send("MAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nBDAT 3 LAST\r\na\0b");
        assert_eq!(Harness::codes(&out), [250, 250, 550], "{policy:?}: {out}");
        assert!(h.messages.is_empty());
    }
}

/// RFC 5321 §4.5.3.1: servers should avoid line limits "to the maximum
/// extent possible"; the strict policy applies §4.5.3.1.6's 1000 octets.
#[test]
fn long_text_lines_are_kept_by_default_and_refused_when_strict() {
    let long = "y".repeat(1500);
    let input = format!("DATA\r\n{long}\r\n.\r\n");
    let mut h = after_envelope(Liberal);
    assert_eq!(h.codes_of(&input), [354, 250]);
    assert_eq!(
        without_trace(&h.messages[0]),
        format!("{long}\r\n").as_bytes()
    );
    let mut h = after_envelope(Strict);
    let out = h.send(&input);
    assert_eq!(Harness::codes(&out), [354, 550]);
    assert!(out.contains("550 5.6.0 Message refused: text line longer than 1000 octets"));
    let mut relaxed = config();
    relaxed.content_policy = Strict;
    relaxed.limits.text_line = None;
    let mut h = Harness::greeted_with(relaxed);
    h.send(ENVELOPE);
    assert_eq!(h.codes_of(&input), [354, 250]);
}

#[test]
fn utf8_addresses_without_smtputf8_are_accepted_and_recorded_by_default() {
    let mut h = greeted(Liberal);
    let out = h.send(
        "EHLO c.example\r\nMAIL FROM:<jösé@c.example>\r\nRCPT TO:<ü@example.org>\r\nDATA\r\nx\r\n.\r\n",
    );
    assert_eq!(Harness::codes(&out), [250, 250, 250, 354, 250], "{out}");
    assert!(h.envelopes[0].undeclared_utf8);
    let trace = String::from_utf8(h.envelopes[0].trace.clone()).unwrap();
    assert!(
        trace.contains("\tby mx.example.org with ESMTP (UTF-8 address without SMTPUTF8) id "),
        "{trace}"
    );
    // Only a UTF-8 recipient, or with the parameter: recorded accordingly.
    let out = h.send("MAIL FROM:<a@c.example>\r\nRCPT TO:<ü@example.org>\r\nDATA\r\nx\r\n.\r\n");
    assert_eq!(Harness::codes(&out), [250, 250, 354, 250], "{out}");
    assert!(h.envelopes[1].undeclared_utf8);
    let out = h.send(
        "MAIL FROM:<jösé@c.example> SMTPUTF8\r\nRCPT TO:<u@example.org>\r\nDATA\r\nx\r\n.\r\n",
    );
    assert_eq!(Harness::codes(&out), [250, 250, 354, 250], "{out}");
    assert!(!h.envelopes[2].undeclared_utf8);
    let trace = String::from_utf8(h.envelopes[2].trace.clone()).unwrap();
    assert!(trace.contains(" with UTF8SMTP id "), "{trace}");
}

#[test]
fn utf8_addresses_need_smtputf8_when_strict() {
    let mut h = greeted(Strict);
    h.send("EHLO c.example\r\n");
    let out = h.send("MAIL FROM:<jösé@c.example>\r\n");
    assert_eq!(out, "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n");
    assert_eq!(
        h.codes_of("MAIL FROM:<jösé@c.example> SMTPUTF8\r\nRCPT TO:<ü@example.org>\r\n"),
        [250, 250]
    );
    h.send("RSET\r\n");
    let out = h.send("MAIL FROM:<a@c.example>\r\nRCPT TO:<ü@example.org>\r\n");
    assert_eq!(Harness::codes(&out), [250, 553], "{out}");
}

/// RFC 5321 §2.3.8: command lines stay strict at both levels.
#[test]
fn a_command_ended_by_a_bare_lf_is_refused_at_both_levels() {
    for policy in LEVELS {
        let mut h = greeted(policy);
        let out = h.send("EHLO c.example\nNOOP\r\n");
        assert_eq!(
            out,
            "500 5.5.2 Command line ended in a bare LF, not CRLF: not executed \
             (RFC 5321 section 2.3.8)\r\n250 2.0.0 OK\r\n",
            "{policy:?}"
        );
        assert!(h.asked.iter().all(|r| !matches!(r, Request::Hello { .. })));
    }
}

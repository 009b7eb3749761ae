//! One recorded session per rule (some rules have several), each with the
//! line its finding must be on; and the proof that the table covers every
//! rule of the passive judge, and every rule of the active suite that a
//! recording can show.

use std::collections::BTreeSet;

use super::{DATA, ENVELOPE, MINIMAL, OPEN, QUIT, STARTTLS, line_of, record, show};
use crate::client::{self, Scenario};
use crate::observe::{checks, judge};

/// (rule id, the session, the line its finding is on).
type Case = (&'static str, Vec<&'static [&'static str]>, &'static str);

/// A text line of 1002 octets with its CRLF.
const LONG_TEXT: &str = "C: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// A command line of 517 octets with its CRLF.
const LONG_COMMAND: &str = "C: NOOP xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

fn cases() -> Vec<Case> {
    vec![
        (
            "client.greeting-wait",
            vec![
                &[
                    "C: EHLO early.example.test",
                    "S: 220 mx.example.test",
                    "S: 250 mx",
                ],
                QUIT,
            ],
            "C: EHLO early.example.test",
        ),
        (
            "client.crlf",
            vec![OPEN, &["C+ NOOP\n", "S: 500 5.5.2 bare LF"], QUIT],
            "C: NOOP\\n",
        ),
        (
            "client.crlf",
            vec![
                OPEN,
                ENVELOPE,
                &[
                    "C: DATA",
                    "S: 354 go",
                    "C+ Subject: hi\r\n\r\nbare\nend\r\n.\r\n",
                    "S: 250 ok",
                ],
                QUIT,
            ],
            "C: bare\\n",
        ),
        (
            "client.command-syntax",
            vec![
                OPEN,
                &["C: MAIL FROM:a@example.test", "S: 501 5.1.7 bad"],
                QUIT,
            ],
            "C: MAIL FROM:a@example.test",
        ),
        (
            "client.ehlo-first",
            vec![
                &[
                    "S: 220 mx",
                    "C: MAIL FROM:<a@example.test>",
                    "S: 503 5.5.1 EHLO first",
                ],
                QUIT,
            ],
            "C: MAIL FROM:<a@example.test>",
        ),
        (
            "client.ehlo-preferred",
            vec![
                &["S: 220 mx", "C: HELO client.example.test", "S: 250 mx"],
                QUIT,
            ],
            "C: HELO client.example.test",
        ),
        (
            "client.command-order",
            vec![
                OPEN,
                &["C: RCPT TO:<b@example.test>", "S: 503 5.5.1 MAIL first"],
                QUIT,
            ],
            "C: RCPT TO:<b@example.test>",
        ),
        (
            "client.command-order",
            vec![
                OPEN,
                &[
                    "C: MAIL FROM:<a@example.test>",
                    "S: 250 ok",
                    "C: DATA",
                    "S: 503 5.5.1 RCPT first",
                ],
                QUIT,
            ],
            "C: DATA",
        ),
        (
            "client.waits-for-replies",
            vec![
                MINIMAL,
                &[
                    "C+ MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n",
                    "S: 250 ok",
                    "S: 250 ok",
                ],
                QUIT,
            ],
            "C: RCPT TO:<b@example.test>",
        ),
        (
            "client.waits-for-replies",
            vec![
                &[
                    "S: 220 mx",
                    "C+ EHLO client.example.test\r\nNOOP\r\n",
                    "S: 250 mx",
                    "S: 250 ok",
                ],
                QUIT,
            ],
            "C: NOOP",
        ),
        (
            "client.waits-for-replies",
            vec![
                OPEN,
                ENVELOPE,
                &[
                    "C+ DATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\n",
                    "S: 354 go",
                    "S: 250 ok",
                ],
                QUIT,
            ],
            "C: Subject: hi",
        ),
        (
            "client.waits-for-replies",
            vec![
                OPEN,
                &[
                    "C+ STARTTLS\r\nEHLO early.example.test\r\n",
                    "S: 220 go",
                    "TLS",
                ],
                QUIT,
            ],
            "C: EHLO early.example.test",
        ),
        (
            "client.waits-for-replies",
            vec![
                OPEN,
                STARTTLS,
                &[
                    "C+ AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@example.test>\r\n",
                    "S: 235 ok",
                    "S: 250 ok",
                ],
                QUIT,
            ],
            "C: <redacted>",
        ),
        (
            "client.dot-stuffing",
            vec![
                OPEN,
                ENVELOPE,
                &["C: DATA", "S: 354 go", "C: .hidden", "C: .", "S: 250 ok"],
                QUIT,
            ],
            "C: .hidden",
        ),
        (
            "client.dot-stuffing",
            vec![
                OPEN,
                ENVELOPE,
                &[
                    "C: DATA",
                    "S: 354 go",
                    "C+ x\n.\nsmuggled\r\n.\r\n",
                    "S: 250 ok",
                ],
                QUIT,
            ],
            "C: .\\n",
        ),
        (
            "client.line-length",
            vec![
                OPEN,
                ENVELOPE,
                &["C: DATA", "S: 354 go", LONG_TEXT, "C: .", "S: 250 ok"],
                QUIT,
            ],
            LONG_TEXT,
        ),
        (
            "client.line-length",
            vec![OPEN, &[LONG_COMMAND, "S: 500 5.5.6 too long"], QUIT],
            LONG_COMMAND,
        ),
        (
            "client.8bit-data",
            vec![
                OPEN,
                &[
                    "C: MAIL FROM:<a@example.test> SIZE=20",
                    "S: 250 ok",
                    "C: RCPT TO:<b@example.test>",
                    "S: 250 ok",
                ],
                &[
                    "C: DATA",
                    "S: 354 go",
                    "C: Subject: Grüße",
                    "C: .",
                    "S: 250 ok",
                ],
                QUIT,
            ],
            "C: Subject: Grüße",
        ),
        (
            "client.smtputf8",
            vec![
                OPEN,
                &[
                    "C: MAIL FROM:<jörg@example.test>",
                    "S: 553 5.6.7 SMTPUTF8 needed",
                ],
                QUIT,
            ],
            "C: MAIL FROM:<jörg@example.test>",
        ),
        (
            "client.params-offered",
            vec![
                MINIMAL,
                &[
                    "C: MAIL FROM:<a@example.test> SIZE=22",
                    "S: 555 5.5.4 no SIZE",
                ],
                QUIT,
            ],
            "C: MAIL FROM:<a@example.test> SIZE=22",
        ),
        (
            "client.params-offered",
            vec![
                MINIMAL,
                &[
                    "C: MAIL FROM:<a@example.test>",
                    "S: 250 ok",
                    "C: RCPT TO:<b@example.test>",
                    "S: 250 ok",
                ],
                &["C+ BDAT 4 LAST\r\nabcd", "S: 502 no"],
                QUIT,
            ],
            "C: BDAT 4 LAST",
        ),
        (
            "client.size-declared",
            vec![
                OPEN,
                &[
                    "C: MAIL FROM:<a@example.test>",
                    "S: 250 ok",
                    "C: RCPT TO:<b@example.test>",
                    "S: 250 ok",
                ],
                DATA,
                QUIT,
            ],
            "C: MAIL FROM:<a@example.test>",
        ),
        (
            "client.no-auth-in-clear",
            vec![
                OPEN,
                &[
                    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==",
                    "S: 538 5.7.11 encryption required",
                ],
                QUIT,
            ],
            "C: AUTH PLAIN <redacted>",
        ),
        (
            "client.no-auth-in-clear",
            vec![
                &[
                    "S: 220 mx",
                    "C: EHLO client.example.test",
                    "S: 250-mx",
                    "S: 250 AUTH LOGIN",
                ],
                &[
                    "C: AUTH LOGIN",
                    "S: 334 VXNlcm5hbWU6",
                    "C: YWxpY2U=",
                    "S: 334 UGFzc3dvcmQ6",
                    "C: c2VjcmV0",
                    "S: 235 ok",
                ],
                QUIT,
            ],
            "C: <redacted>",
        ),
        (
            "client.ehlo-after-starttls",
            vec![
                OPEN,
                &["C: STARTTLS", "S: 220 go", "TLS", "C: NOOP", "S: 250 ok"],
                QUIT,
            ],
            "C: NOOP",
        ),
        (
            "client.quit",
            vec![OPEN, ENVELOPE],
            "C: RCPT TO:<b@example.test>",
        ),
        ("client.quit", vec![OPEN, QUIT, &["C: NOOP"]], "C: NOOP"),
        ("client.quit-reply", vec![OPEN, &["C: QUIT"]], "C: QUIT"),
        (
            "scenario.size-too-small",
            vec![
                OPEN,
                &[
                    "C: MAIL FROM:<a@example.test> SIZE=2004",
                    "S: 250 ok",
                    "C: RCPT TO:<b@example.test>",
                    "S: 250 ok",
                ],
                &["C: DATA", "S: 354 go"],
                &[LONG_TEXT, LONG_TEXT],
                &["C: .", "S: 552 5.3.4 too big"],
                QUIT,
            ],
            "C: .",
        ),
        (
            "scenario.421-mid-session",
            vec![
                OPEN,
                &[
                    "C: MAIL FROM:<a@example.test>",
                    "S: 421 4.3.2 closing",
                    "C: RSET",
                ],
            ],
            "C: RSET",
        ),
        (
            "scenario.rcpt-refused",
            vec![
                OPEN,
                &[
                    "C: MAIL FROM:<a@example.test>",
                    "S: 250 ok",
                    "C: RCPT TO:<b@example.test>",
                    "S: 550 5.1.1 no",
                ],
                &[
                    "C: DATA",
                    "S: 554 5.5.1 no valid recipients",
                    "C: Subject: hi",
                    "S: 500 5.5.1 what",
                ],
                QUIT,
            ],
            "C: Subject: hi",
        ),
    ]
}

#[test]
fn every_rule_is_found_on_its_line() {
    let mut missed = Vec::new();
    for (id, parts, shown) in cases() {
        let t = record(&parts);
        let j = judge(&t);
        let line = line_of(&t, shown);
        if !j.on_line(line).any(|f| f.check == id) {
            missed.push(format!("{id} expected on line {line}:\n{}", show(&t, &j)));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// Scenario reactions a recording cannot show, and why.
const NOT_IN_A_RECORDING: &[(&str, &str)] = &[
    (
        "scenario.ehlo-refused",
        "giving up without HELO is right for a client that requires TLS, which a recording does not say",
    ),
    (
        "scenario.tempfail-mail",
        "seen as client.command-order (RCPT without an accepted MAIL)",
    ),
    (
        "scenario.multiline-greeting",
        "seen as client.greeting-wait",
    ),
    ("scenario.starttls-injection", "needs a server that injects"),
    (
        "scenario.no-starttls",
        "the client's TLS policy is not in a recording",
    ),
    (
        "scenario.bad-cert-name",
        "the certificate is not in a recording",
    ),
    (
        "scenario.untrusted-cert",
        "the certificate is not in a recording",
    ),
];

#[test]
fn the_table_covers_every_rule_and_every_active_rule_a_recording_shows() {
    let tested: BTreeSet<&str> = cases().iter().map(|(id, _, _)| *id).collect();
    let passive: BTreeSet<&str> = checks().iter().map(|c| c.id).collect();
    assert_eq!(
        tested, passive,
        "every rule of the passive judge has a case"
    );
    for check in client::catalogue() {
        assert!(
            passive.contains(check.id),
            "{} has no passive counterpart",
            check.id
        );
    }
    for (scenario, reaction) in client::reactions() {
        let explained = NOT_IN_A_RECORDING.iter().any(|(id, _)| *id == reaction.id);
        assert!(
            passive.contains(reaction.id) != explained,
            "{scenario}: {} must be judged passively or explained, not both",
            reaction.id
        );
    }
    assert!(Scenario::ALL.len() > NOT_IN_A_RECORDING.len());
}

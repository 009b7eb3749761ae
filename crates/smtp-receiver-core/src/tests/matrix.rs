//! Every command in every state (RFC 5321 §4.1.4, §3.3): the first reply
//! code of each command, in a fresh session brought to each state.

use super::harness::{Harness, config};

/// The states, each reached by a command sequence after the greeting.
const STATES: [(&str, &str); 8] = [
    ("fresh", ""),
    ("ehlo", "EHLO c.example\r\n"),
    ("helo", "HELO c.example\r\n"),
    ("mail", "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\n"),
    (
        "rcpt",
        "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\n",
    ),
    (
        "helo-rcpt",
        "HELO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\n",
    ),
    (
        "bdat",
        "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nBDAT 3\r\nabc",
    ),
    (
        "after-message",
        "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nx\r\n.\r\n",
    ),
];

/// Command, then the expected code in each state of [`STATES`].
const MATRIX: &[(&str, [u16; 8])] = &[
    //                                   fresh ehlo helo mail rcpt h-rc bdat after
    (
        "EHLO c.example",
        /*              */ [250, 250, 250, 250, 250, 250, 503, 250],
    ),
    (
        "HELO c.example",
        /*              */ [250, 250, 250, 250, 250, 250, 503, 250],
    ),
    (
        "MAIL FROM:<a@c.example>",
        /*     */ [503, 250, 250, 503, 503, 503, 503, 250],
    ),
    (
        "RCPT TO:<u@example.org>",
        /*     */ [503, 503, 503, 250, 250, 250, 503, 503],
    ),
    (
        "DATA",
        /*                        */ [503, 503, 503, 503, 354, 354, 503, 503],
    ),
    (
        "BDAT 0 LAST",
        /*                 */ [503, 503, 503, 503, 250, 503, 250, 503],
    ),
    (
        "RSET",
        /*                        */ [250, 250, 250, 250, 250, 250, 250, 250],
    ),
    (
        "NOOP",
        /*                        */ [250, 250, 250, 250, 250, 250, 250, 250],
    ),
    (
        "HELP",
        /*                        */ [214, 214, 214, 214, 214, 214, 214, 214],
    ),
    (
        "VRFY someone",
        /*                */ [252, 252, 252, 252, 252, 252, 252, 252],
    ),
    (
        "EXPN list",
        /*                   */ [502, 502, 502, 502, 502, 502, 502, 502],
    ),
    (
        "QUIT",
        /*                        */ [221, 221, 221, 221, 221, 221, 221, 221],
    ),
    (
        "STARTTLS",
        /*                    */ [503, 220, 503, 503, 503, 503, 503, 220],
    ),
    (
        "AUTH PLAIN AHUAcA==",
        /*         */ [538, 538, 538, 538, 538, 538, 503, 538],
    ),
    (
        "TURN",
        /*                        */ [502, 502, 502, 502, 502, 502, 503, 502],
    ),
    (
        "SEND FROM:<a@c.example>",
        /*     */ [502, 502, 502, 502, 502, 502, 503, 502],
    ),
    (
        "SOML FROM:<a@c.example>",
        /*     */ [502, 502, 502, 502, 502, 502, 503, 502],
    ),
    (
        "SAML FROM:<a@c.example>",
        /*     */ [502, 502, 502, 502, 502, 502, 503, 502],
    ),
    (
        "FROB",
        /*                        */ [500, 500, 500, 500, 500, 500, 500, 500],
    ),
    (
        "",
        /*                            */ [500, 500, 500, 500, 500, 500, 500, 500],
    ),
    (
        "EHLO",
        /*                        */ [501, 501, 501, 501, 501, 501, 501, 501],
    ),
    (
        "HELO",
        /*                        */ [501, 501, 501, 501, 501, 501, 501, 501],
    ),
    (
        "MAIL FROM:<no-at-sign",
        /*       */ [501, 501, 501, 501, 501, 501, 501, 501],
    ),
    (
        "RCPT TO:",
        /*                    */ [501, 501, 501, 501, 501, 501, 501, 501],
    ),
    (
        "DATA now",
        /*                    */ [501, 501, 501, 501, 501, 501, 501, 501],
    ),
    (
        "RSET please",
        /*                 */ [501, 501, 501, 501, 501, 501, 501, 501],
    ),
    (
        "QUIT now",
        /*                    */ [501, 501, 501, 501, 501, 501, 501, 501],
    ),
];

fn in_state(setup: &str) -> Harness {
    let mut h = Harness::greeted();
    let codes = h.codes_of(setup);
    assert!(
        codes.iter().all(|&c| c < 400),
        "setup {setup:?} failed: {codes:?}"
    );
    h
}

#[test]
fn every_command_in_every_state() {
    let mut failures = Vec::new();
    for (command, expected) in MATRIX {
        for ((state, setup), want) in STATES.iter().zip(expected) {
            let mut h = in_state(setup);
            let got = h.codes_of(&format!("{command}\r\n"));
            if got.first() != Some(want) {
                failures.push(format!("{command:?} in {state}: want {want}, got {got:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_bare_lf_command_is_refused_in_every_state() {
    for (state, setup) in STATES {
        let mut h = in_state(setup);
        let reply = h.send("NOOP\n");
        assert!(reply.starts_with("500 5.5.2 "), "{state}: {reply:?}");
        assert!(
            reply.contains("line ended in a bare LF, not CRLF: not executed"),
            "{state}: {reply:?}"
        );
    }
}

#[test]
fn nothing_is_read_after_quit() {
    let mut h = Harness::greeted();
    let (out, used) = h.feed(b"QUIT\r\nNOOP\r\nNOOP\r\n");
    assert_eq!(Harness::codes(&out), [221]);
    assert_eq!(used, 6, "input after QUIT stays unread");
    assert!(h.closed);
}

/// Inside TLS the AUTH column changes; STARTTLS is refused.
#[test]
fn auth_and_starttls_inside_tls() {
    let states: [(&str, &str, u16, u16); 4] = [
        // state, setup, AUTH, STARTTLS
        ("tls-fresh", "", 503, 503),
        ("tls-ehlo", "EHLO c.example\r\n", 235, 503),
        (
            "tls-mail",
            "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\n",
            503,
            503,
        ),
        (
            "tls-authed",
            "EHLO c.example\r\nAUTH PLAIN AHUAcA==\r\n",
            503,
            503,
        ),
    ];
    for (state, setup, auth, starttls) in states {
        for (command, want) in [("AUTH PLAIN AHUAcA==", auth), ("STARTTLS", starttls)] {
            let mut h = Harness::with(config(), true);
            h.send(setup);
            let got = h.codes_of(&format!("{command}\r\n"));
            assert_eq!(got.first(), Some(&want), "{command} in {state}: {got:?}");
        }
    }
}

/// RFC 5321 §4.2: reply text is `%d09 / %d32-126`. Every command in every
/// state, plus the inputs that produce the other replies (errors, AUTH,
/// messages, limits, a U-label EHLO), gives printable ASCII only, and
/// nothing had to be replaced by `?` on the way out.
#[test]
fn every_reply_is_printable_ascii() {
    let extras = [
        "EHLO b\u{fc}cher.example\r\n",
        "HELO b\u{fc}cher.example\r\n",
        "EHLO [x:a;b]\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nx\r\n.\r\n",
        "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nbare\nLF\r\n.\r\n",
        "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nBDAT 3\r\nabcDATA\r\nMAIL FROM:<a@c.example>\r\n",
        "EHLO c.example\r\nMAIL FROM:<a@c.example> SIZE=99999999999\r\nMAIL FROM:<a@c.example> BODY=BINARYMIME\r\n",
        "EHLO c.example\r\nMAIL FROM:<j\u{f6}rg@c.example>\r\nAUTH PLAIN\r\n",
        "EHLO c.example\r\nNOOP\n",
        "EHLO c.example\r\nBDAT x\r\n",
        "EHLO c.example\r\nSTARTTLS now\r\n",
    ];
    let mut inputs: Vec<String> = extras.iter().map(|s| s.to_string()).collect();
    for (command, _) in MATRIX {
        for (_, setup) in STATES {
            inputs.push(format!("{setup}{command}\r\n"));
        }
    }
    inputs.push(format!("{}\r\n", "N".repeat(600)));
    for input in &inputs {
        let mut h = Harness::new();
        let out = h.send(input);
        assert!(!out.contains('?'), "{input:?} gave {out:?}");
        // The replies to a timeout and to a shutdown, whichever comes.
        let mut late = Harness::new();
        late.send(input);
        h.advance(std::time::Duration::from_secs(3600));
        late.session.begin_shutdown(late.now);
        let out = String::from_utf8([h.session.take_output(), late.session.take_output()].concat())
            .unwrap();
        assert!(out.is_ascii() && !out.contains('?'), "{out:?}");
    }
    // Inside TLS: AUTH and its replies.
    for input in [
        "EHLO c.example\r\nAUTH PLAIN\r\n*\r\n",
        "EHLO c.example\r\nAUTH LOGIN\r\nYWxpY2U=\r\ncGFzcw==\r\n",
        "EHLO c.example\r\nAUTH PLAIN !!!\r\nAUTH CRAM-MD5\r\n",
        "EHLO c.example\r\nAUTH PLAIN AGFsaWNlAHM=\r\nAUTH PLAIN AGFsaWNlAHM=\r\nAUTH PLAIN AGFsaWNlAHM=\r\n",
    ] {
        let mut h = Harness::with(config(), true);
        h.verdict = Box::new(|r| match r {
            crate::Request::Auth { .. } => Err(crate::replies::auth_failed()),
            _ => Ok(()),
        });
        let out = h.send(input);
        assert!(!out.contains('?'), "{input:?} gave {out:?}");
    }
}

//! Transcript: AUTH redaction, DATA/BDAT content never taken for commands,
//! bounded memory, visible escapes, structured lines.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use proptest::prelude::*;
use smtp_wire::transcript::{Direction, Event, Transcript, TranscriptLimits, TranscriptLine};

/// Feed a scripted conversation, each side's bytes in `chunk`-sized pieces.
fn record(script: &[(Direction, &[u8])], chunk: usize) -> Transcript {
    let mut t = Transcript::new();
    for (dir, bytes) in script {
        for piece in bytes.chunks(chunk.max(1)) {
            match dir {
                Direction::Client => t.client(piece),
                Direction::Server => t.server(piece),
            }
        }
    }
    t
}

use Direction::{Client as C, Server as S};

const PLAIN_SECRET: &str = "AGFsaWNlAGNvcnJlY3QgaG9yc2U="; // "\0alice\0correct horse"
const LOGIN_USER: &str = "YWxpY2VAZXhhbXBsZS5jb20="; // alice@example.com
const LOGIN_PASS: &str = "Y29ycmVjdCBob3JzZQ=="; // correct horse

fn auth_plain_script() -> Vec<(Direction, &'static [u8])> {
    vec![
        (S, b"220 mx ESMTP\r\n"),
        (C, b"EHLO client\r\n"),
        (S, b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n"),
        (C, b"AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2U=\r\n"),
        (S, b"235 2.7.0 Authentication successful\r\n"),
        (C, b"MAIL FROM:<alice@example.com>\r\n"),
        (S, b"250 2.1.0 Ok\r\n"),
    ]
}

fn auth_login_script() -> Vec<(Direction, &'static [u8])> {
    vec![
        (S, b"220 mx ESMTP\r\n"),
        (C, b"EHLO client\r\n"),
        (S, b"250-mx\r\n250 AUTH LOGIN\r\n"),
        (C, b"AUTH LOGIN\r\n"),
        (S, b"334 VXNlcm5hbWU6\r\n"),
        (C, b"YWxpY2VAZXhhbXBsZS5jb20=\r\n"),
        (S, b"334 UGFzc3dvcmQ6\r\n"),
        (C, b"Y29ycmVjdCBob3JzZQ==\r\n"),
        (S, b"235 2.7.0 Authentication successful\r\n"),
        (C, b"MAIL FROM:<alice@example.com>\r\n"),
        (S, b"250 2.1.0 Ok\r\n"),
    ]
}

fn assert_no_secret(t: &Transcript, secrets: &[&str]) {
    let text = t.render();
    for secret in secrets {
        assert!(!text.contains(secret), "secret {secret} in\n{text}");
        let in_events = t.events().iter().any(|e| match e {
            Event::Bytes { bytes, .. } => {
                bytes.windows(secret.len()).any(|w| w == secret.as_bytes())
            }
            Event::Note(n) => n.contains(secret),
            Event::TlsStarted => false,
        });
        assert!(!in_events, "secret {secret} in events");
    }
}

#[test]
fn auth_plain_initial_response_is_redacted() {
    for chunk in [1, 3, 10, 1000] {
        let t = record(&auth_plain_script(), chunk);
        assert_no_secret(&t, &[PLAIN_SECRET, "AGFsaWNl"]);
        assert_eq!(
            t.render(),
            "S: 220 mx ESMTP\nC: EHLO client\nS: 250-mx\nS: 250 AUTH PLAIN LOGIN\n\
C: AUTH PLAIN <redacted>\nS: 235 2.7.0 Authentication successful\n\
C: MAIL FROM:<alice@example.com>\nS: 250 2.1.0 Ok\n",
            "chunk {chunk}"
        );
    }
}

#[test]
fn auth_login_two_rounds_are_redacted() {
    for chunk in [1, 5, 1000] {
        let t = record(&auth_login_script(), chunk);
        assert_no_secret(&t, &[LOGIN_USER, LOGIN_PASS, "YWxpY2"]);
        let text = t.render();
        assert_eq!(text.matches("C: <redacted>\n").count(), 2, "{text}");
        assert!(text.contains("C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: <redacted>\nS: 334 UGFzc3dvcmQ6\nC: <redacted>\nS: 235"));
        // After the 235 the exchange is over: commands are shown again.
        assert!(
            text.contains("C: MAIL FROM:<alice@example.com>\n"),
            "{text}"
        );
    }
}

#[test]
fn secret_is_redacted_even_before_its_line_ends() {
    let mut t = Transcript::new();
    t.client(b"AUTH PLAIN AGFsaWNl");
    assert!(!t.render().contains("AGFsaWNl"), "{}", t.render());
    assert_eq!(t.render(), "C: AUTH PLAIN <redacted> [no line end]\n");
    t.client(b"AGNvcnJlY3QgaG9yc2U=\r\n");
    t.server(b"334 \r\n");
    t.client(b"c2Vjb25k");
    assert!(!t.render().contains("c2Vjb25k"));
    // TLS start / a note flush the unfinished line, still redacted.
    t.note("peer went quiet");
    assert_no_secret(&t, &[PLAIN_SECRET, "c2Vjb25k"]);
    assert!(
        t.render()
            .ends_with("C: <redacted> [no line end]\n-- peer went quiet --\n"),
        "{}",
        t.render()
    );
}

#[test]
fn long_initial_response_leaks_nothing_not_even_its_length() {
    let limits = TranscriptLimits {
        max_line_bytes: 16,
        ..TranscriptLimits::default()
    };
    let mut t = Transcript::with_limits(limits);
    t.client(format!("AUTH PLAIN {}\r\n", "QUJD".repeat(100)).as_bytes());
    assert_eq!(t.render(), "C: AUTH PLAIN <redacted>\n");
}

#[test]
fn auth_failure_and_cancel_end_the_exchange() {
    let t = record(
        &[
            (C, b"AUTH LOGIN\r\n"),
            (S, b"334 VXNlcm5hbWU6\r\n"),
            (C, b"*\r\n"),
            (S, b"501 5.7.0 Authentication cancelled\r\n"),
            (C, b"AUTH PLAIN\r\n"),
            (S, b"334 \r\n"),
            (C, b"d3JvbmctcGFzc3dvcmQ=\r\n"),
            (
                S,
                b"535-5.7.8 Authentication\r\n535 5.7.8 credentials invalid\r\n",
            ),
            (C, b"QUIT\r\n"),
        ],
        1000,
    );
    assert_no_secret(&t, &["d3JvbmctcGFzc3dvcmQ="]);
    assert!(
        t.render()
            .ends_with("S: 535 5.7.8 credentials invalid\nC: QUIT\n"),
        "{}",
        t.render()
    );
}

#[test]
fn pipelined_replies_are_matched_to_their_commands() {
    // RFC 2920: the 250 for EHLO must not end the AUTH exchange started after it.
    let t = record(
        &[
            (C, b"EHLO client\r\nAUTH LOGIN\r\n"),
            (S, b"250-mx\r\n250 AUTH LOGIN\r\n"),
            (S, b"334 VXNlcm5hbWU6\r\n"),
            (C, b"YWxpY2VAZXhhbXBsZS5jb20=\r\n"),
            (S, b"334 UGFzc3dvcmQ6\r\n"),
            (C, b"Y29ycmVjdCBob3JzZQ==\r\n"),
            (S, b"235 ok\r\n"),
        ],
        1000,
    );
    assert_no_secret(&t, &[LOGIN_USER, LOGIN_PASS]);
}

#[test]
fn data_body_lines_are_never_commands() {
    let t = record(
        &[
            (C, b"DATA\r\n"),
            (S, b"354 go ahead\r\n"),
            // Inside the body: looks like AUTH, must not start an exchange.
            (
                C,
                b"Subject: test\r\n\r\nAUTH PLAIN notasecret\r\n.leading dot\r\n.\r\n",
            ),
            (S, b"250 2.0.0 queued\r\n"),
            (C, b"AUTH PLAIN c2VjcmV0\r\n"),
            (S, b"235 ok\r\n"),
            (C, b"QUIT\r\n"),
        ],
        4,
    );
    let text = t.render();
    assert!(
        text.contains("C: AUTH PLAIN notasecret\n"),
        "body shown as sent:\n{text}"
    );
    assert!(text.contains("C: .leading dot\nC: .\nS: 250 2.0.0 queued\nC: AUTH PLAIN <redacted>\nS: 235 ok\nC: QUIT\n"), "{text}");
    assert_no_secret(&t, &["c2VjcmV0"]);
}

#[test]
fn smuggled_end_of_data_is_visible_and_not_taken_as_the_end() {
    // SMTP smuggling: "\n.\n" or "\n.\r\n" is not <CRLF>.<CRLF> (RFC 5321 §4.5.2).
    let t = record(
        &[
            (C, b"DATA\r\n"),
            (S, b"354 go\r\n"),
            (C, b"hello\n.\r\nAUTH PLAIN bodytext\r\nhi\r\n.\n\r\n.\r\n"),
            (S, b"250 ok\r\n"),
            (C, b"AUTH PLAIN c2VjcmV0\r\n"),
        ],
        1000,
    );
    let text = t.render();
    assert!(
        text.contains("C: hello\\n\nC: .\nC: AUTH PLAIN bodytext\nC: hi\nC: .\\n\nC: \nC: .\nS: 250 ok\nC: AUTH PLAIN <redacted>\n"),
        "{text}"
    );
}

#[test]
fn body_sent_before_the_354_is_still_body() {
    // A receiver records what it reads: a client may send the body early.
    let t = record(
        &[
            (
                C,
                b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nAUTH PLAIN bodytext\r\n.\r\n",
            ),
            (S, b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n"),
            (C, b"AUTH PLAIN c2VjcmV0\r\n"),
        ],
        1000,
    );
    assert!(t.render().contains("C: AUTH PLAIN bodytext\n"));
    assert_no_secret(&t, &["c2VjcmV0"]);
}

#[test]
fn refused_data_returns_to_commands() {
    let t = record(
        &[
            (C, b"DATA\r\n"),
            (S, b"554 5.5.1 No valid recipients\r\n"),
            (C, b"AUTH PLAIN c2VjcmV0\r\n"),
        ],
        1000,
    );
    assert_no_secret(&t, &["c2VjcmV0"]);
}

#[test]
fn bdat_chunk_is_content_not_commands() {
    // RFC 3030: exactly 22 octets follow, even if they look like commands.
    let t = record(
        &[
            (C, b"BDAT 22\r\nAUTH PLAIN x\r\nRSET\r\nab"),
            (S, b"250 2.0.0 22 octets\r\n"),
            (C, b"BDAT 0 LAST\r\n"),
            (S, b"250 queued\r\n"),
            (C, b"AUTH PLAIN c2VjcmV0\r\n"),
        ],
        3,
    );
    let text = t.render();
    assert!(
        text.starts_with("C: BDAT 22\nC: AUTH PLAIN x\nC: RSET\nC: ab [no line end]\nS: 250 2.0.0 22 octets\nC: BDAT 0 LAST\n"),
        "{text}"
    );
    assert_no_secret(&t, &["c2VjcmV0"]);
}

#[test]
fn big_body_keeps_head_and_tail_and_counts_the_rest() {
    let mut t = Transcript::new();
    t.client(b"DATA\r\n");
    t.server(b"354 go\r\n");
    let lines = 100_000;
    let mut body_bytes = 0;
    for i in 0..lines {
        let line = format!("body line {i}\r\n");
        body_bytes += line.len();
        t.client(line.as_bytes());
    }
    // While the body is still coming, lines() shows head, note and current tail.
    let live = t.render();
    assert!(
        live.contains("C: body line 9\n-- 99987 body lines"),
        "{live}"
    );
    assert!(live.ends_with("C: body line 99999\n"), "{live}");
    t.client(b".\r\n");
    t.server(b"250 ok\r\n");
    let text = t.render();
    let shown: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("C: body line"))
        .collect();
    assert_eq!(shown.len(), 13);
    assert_eq!(shown[0], "C: body line 0");
    assert_eq!(shown[9], "C: body line 9");
    assert_eq!(shown[10], "C: body line 99997");
    assert_eq!(shown[12], "C: body line 99999");
    let elided_bytes: usize = (10..99_997)
        .map(|i| format!("body line {i}\r\n").len())
        .sum();
    assert!(
        text.contains(&format!(
            "-- 99987 body lines ({elided_bytes} bytes) not shown --\nC: body line 99997\n"
        )),
        "{text}"
    );
    assert!(text.ends_with("C: body line 99999\nC: .\nS: 250 ok\n"));
    // Memory: what is stored is a tiny fraction of the body.
    let stored: usize = t
        .events()
        .iter()
        .map(|e| match e {
            Event::Bytes { bytes, .. } => bytes.len(),
            Event::Note(n) => n.len(),
            Event::TlsStarted => 0,
        })
        .sum();
    assert!(stored < 1000 && body_bytes > 1_000_000, "stored {stored}");
}

#[test]
fn no_tail_lines_elides_every_body_line_after_the_head() {
    let limits = TranscriptLimits {
        body_head_lines: 1,
        body_tail_lines: 0,
        max_line_bytes: 8,
        max_total_bytes: 1 << 20,
    };
    let mut t = Transcript::with_limits(limits);
    t.client(b"DATA\r\n");
    t.server(b"354 go\r\n");
    t.client(b"a\r\nb\r\nc and more than eight\r\n.\r\n");
    assert_eq!(
        t.render(),
        "C: DATA\nS: 354 go\nC: a\n-- 2 body lines (26 bytes) not shown --\nC: .\n"
    );
}

#[test]
fn limits_are_configurable() {
    let limits = TranscriptLimits {
        body_head_lines: 1,
        body_tail_lines: 1,
        max_line_bytes: 8,
        max_total_bytes: 1 << 20,
    };
    let mut t = Transcript::with_limits(limits);
    t.client(b"DATA\r\n");
    t.server(b"354 go\r\n");
    t.client(b"a\r\nb\r\nc\r\nd\r\n.\r\n");
    t.client(b"MAIL FROM:<averyveryverylong@example.com>\r\n");
    assert_eq!(
        t.render(),
        "C: DATA\nS: 354 go\nC: a\n-- 2 body lines (6 bytes) not shown --\nC: d\nC: .\nC: MAIL FRO\n-- line cut: 33 more bytes not shown --\n"
    );

    // The total cap: further lines are counted, not kept.
    let mut t = Transcript::with_limits(TranscriptLimits {
        max_total_bytes: 20,
        ..TranscriptLimits::default()
    });
    for _ in 0..10 {
        t.client(b"NOOP\r\n");
    }
    let text = t.render();
    assert_eq!(text.matches("C: NOOP\n").count(), 3);
    assert!(
        text.ends_with("-- transcript limit reached: 7 more lines not recorded --\n"),
        "{text}"
    );
}

#[test]
fn escapes_make_everything_visible() {
    let mut t = Transcript::new();
    t.client(b"bare\rCR\r\n");
    t.client(b"bare LF\n");
    t.client(b"nul\0 esc\x1b tab\t del\x7f\r\n");
    t.client(b"latin1 \xe9 utf8 \xc3\xa9\r\n");
    t.client(b"back\\slash\r\n");
    t.client("bidi \u{202e}txt\r\n".as_bytes());
    t.server(b"250 ok\r\r\n");
    t.server(b"221 bye");
    assert_eq!(
        t.render(),
        "C: bare\\rCR\nC: bare LF\\n\nC: nul\\x00 esc\\x1b tab\\t del\\x7f\nC: latin1 \\xe9 utf8 é\nC: back\\\\slash\n\
C: bidi \\u{202e}txt\nS: 250 ok\\r\nS: 221 bye [no line end]\n"
    );
}

#[test]
fn structured_lines_and_markers() {
    let mut t = Transcript::new();
    t.server(b"220 mx\r\n");
    t.client(b"STARTTLS\r\n");
    t.server(b"220 go\r\n");
    t.tls_started();
    t.note("cert: CN=mx.example\nnext");
    t.client(b"EHLO c\r\n");
    let lines = t.lines();
    let line = |dir, text: &str| TranscriptLine {
        dir,
        text: text.to_string(),
    };
    assert_eq!(
        lines,
        [
            line(Some(S), "220 mx"),
            line(Some(C), "STARTTLS"),
            line(Some(S), "220 go"),
            line(None, "-- TLS started --"),
            line(None, "-- cert: CN=mx.example\\nnext --"),
            line(Some(C), "EHLO c"),
        ]
    );
    assert_eq!(t.events()[3], Event::TlsStarted);
    assert_eq!(Transcript::default().render(), "");
}

#[test]
fn plaintext_injected_before_tls_shows_before_the_marker() {
    // The CVE-2011-0411 class: commands pipelined after STARTTLS in clear text.
    let mut t = Transcript::new();
    t.client(b"STARTTLS\r\nRSET\r\nMAIL FR");
    t.server(b"220 go\r\n");
    t.tls_started();
    assert_eq!(
        t.render(),
        "C: STARTTLS\nC: RSET\nS: 220 go\nC: MAIL FR [no line end]\n-- TLS started --\n"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn redaction_holds_under_any_chunking(sizes in prop::collection::vec(1usize..30, 1..10), login in any::<bool>()) {
        let script = if login { auth_login_script() } else { auth_plain_script() };
        let mut t = Transcript::new();
        let mut sizes = sizes.iter().cycle();
        for (dir, bytes) in &script {
            let mut rest: &[u8] = bytes;
            while !rest.is_empty() {
                let n = (*sizes.next().unwrap_or(&1)).min(rest.len());
                match dir { Direction::Client => t.client(&rest[..n]), Direction::Server => t.server(&rest[..n]) }
                rest = &rest[n..];
                // Mid-stream renders never leak either.
                let text = t.render();
                for secret in [PLAIN_SECRET, LOGIN_USER, LOGIN_PASS] {
                    for cut in [8, secret.len()] {
                        prop_assert!(!text.contains(&secret[..cut]), "{} in {}", &secret[..cut], text);
                    }
                }
            }
        }
        prop_assert_eq!(t.render(), record(&script, 1000).render());
    }

    #[test]
    fn never_panics_and_stays_bounded(
        pieces in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..200)), 0..60),
    ) {
        let limits = TranscriptLimits { body_head_lines: 2, body_tail_lines: 2, max_line_bytes: 64, max_total_bytes: 2048 };
        let mut t = Transcript::with_limits(limits);
        for (client, bytes) in &pieces {
            if *client { t.client(bytes) } else { t.server(bytes) }
        }
        let stored: usize = t.events().iter().map(|e| match e { Event::Bytes { bytes, .. } => bytes.len(), Event::Note(n) => n.len(), Event::TlsStarted => 0 }).sum();
        prop_assert!(stored <= 2048);
        let _ = t.render();
    }
}

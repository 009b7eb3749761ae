//! Transcript redaction when the client pipelines (RFC 2920): bytes sent
//! after DATA or AUTH before the server's reply, malformed BDAT lines, and a
//! model-based property: whatever the server answers, whenever its replies
//! arrive and however the bytes are cut, no byte the server reads as an AUTH
//! credential is ever shown.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use proptest::prelude::*;
use smtp_wire::command::Command;
use smtp_wire::transcript::{Event, Transcript, TranscriptLimits};

/// "\0alice\0secret"
const SECRET: &str = "AGFsaWNlAHNlY3JldA==";

/// The secret is nowhere: not in render(), lines() or events().
fn assert_hidden(t: &Transcript, secret: &str) {
    let text = t.render();
    assert!(!text.contains(secret), "{secret} shown in\n{text}");
    for event in t.events() {
        let found = match event {
            Event::Bytes { bytes, .. } => {
                bytes.windows(secret.len()).any(|w| w == secret.as_bytes())
            }
            Event::Note(n) => n.contains(secret),
            Event::TlsStarted => false,
        };
        assert!(!found, "{secret} in events {:?}", t.events());
    }
}

/// Feed `client` in `chunk`-sized pieces, checking nothing leaks meanwhile.
fn client_in_pieces(t: &mut Transcript, client: &[u8], chunk: usize, secret: &str) {
    for piece in client.chunks(chunk) {
        t.client(piece);
        assert_hidden(t, secret);
    }
}

#[test]
fn trigger_1_auth_pipelined_after_refused_data_is_redacted() {
    for chunk in [1, 2, 5, 7, 1000] {
        let mut t = Transcript::new();
        t.server(b"220 mx ESMTP\r\n");
        t.client(b"STARTTLS\r\n");
        t.server(b"220 go ahead\r\n");
        t.tls_started();
        let packet = format!("EHLO y\r\nDATA\r\nAUTH PLAIN {SECRET}\r\n");
        client_in_pieces(&mut t, packet.as_bytes(), chunk, SECRET);
        // Before the replies: held, shown as commands would be.
        assert!(
            t.render().ends_with("C: DATA\nC: AUTH PLAIN <redacted>\n"),
            "{}",
            t.render()
        );
        t.server(b"250-mx\r\n250 AUTH PLAIN\r\n");
        t.server(b"503 5.5.1 No transaction\r\n");
        assert_hidden(&t, SECRET);
        t.server(b"235 2.7.0 Authentication successful\r\n");
        t.client(b"MAIL FROM:<alice@example.com>\r\n");
        assert_hidden(&t, SECRET);
        assert!(
            t.render().ends_with(
                "C: EHLO y\nC: DATA\nC: AUTH PLAIN <redacted>\nS: 250-mx\nS: 250 AUTH PLAIN\n\
                 S: 503 5.5.1 No transaction\nS: 235 2.7.0 Authentication successful\n\
                 C: MAIL FROM:<alice@example.com>\n"
            ),
            "chunk {chunk}:\n{}",
            t.render()
        );
    }
}

#[test]
fn trigger_1_variant_body_lines_then_auth_after_refused_data() {
    // Even lines that looked like a body before the refusal are commands.
    let mut t = Transcript::new();
    t.client(b"DATA\r\nSubject: x\r\n\r\nAUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n");
    assert_hidden(&t, "YWxpY2U=");
    assert_hidden(&t, "c2VjcmV0");
    t.server(b"503 no\r\n500 what\r\n500 what\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n");
    t.server(b"235 ok\r\n");
    assert_hidden(&t, "YWxpY2U=");
    assert_hidden(&t, "c2VjcmV0");
    // In the order recorded; the responses hidden once the 334s say so.
    assert_eq!(
        t.render(),
        "C: DATA\nC: Subject: x\nC: \nC: AUTH LOGIN\nC: <redacted>\nC: <redacted>\n\
         S: 503 no\nS: 500 what\nS: 500 what\nS: 334 VXNlcm5hbWU6\nS: 334 UGFzc3dvcmQ6\nS: 235 ok\n"
    );
}

#[test]
fn trigger_2_malformed_bdat_is_not_a_chunk() {
    // Command::parse refuses all of these (RFC 5321 §4.1.1 one SP, RFC 3030
    // §2 grammar, §2.3.8 CRLF, §4.5.3.1.4 length), so the server reads no
    // chunk and runs the AUTH line.
    let long = format!("BDAT {}40", "0".repeat(520));
    let malformed: [&str; 8] = [
        "BDAT\t40\r\n",
        "BDAT  40\r\n",
        "BDAT 40 \r\n",
        "BDAT 40\n",
        "BDAT +40\r\n",
        "BDAT 40 LAST x\r\n",
        "bdat\t40 last\r\n",
        &format!("{long}\r\n"),
    ];
    for bdat in malformed {
        // Each is refused by the parser, or before it (bare LF, too long).
        let line = bdat.trim_end_matches(['\r', '\n']).as_bytes();
        assert!(Command::parse(line).is_err() || !bdat.ends_with("\r\n") || line.len() > 510);
        for chunk in [1, 3, 1000] {
            let mut t = Transcript::new();
            let packet = format!("{bdat}AUTH PLAIN {SECRET}\r\n");
            client_in_pieces(&mut t, packet.as_bytes(), chunk, SECRET);
            t.server(b"500 5.5.2 Syntax error\r\n235 2.7.0 ok\r\n");
            t.client(b"QUIT\r\n");
            assert_hidden(&t, SECRET);
            assert!(
                t.render()
                    .contains("C: AUTH PLAIN <redacted>\nS: 500 5.5.2 Syntax error\nS: 235 2.7.0 ok\nC: QUIT\n"),
                "{bdat:?} chunk {chunk}:\n{}",
                t.render()
            );
        }
    }
}

#[test]
fn valid_bdat_chunk_is_still_shown_as_content() {
    // RFC 3030 §2: the 40 octets after a valid BDAT line are data, whatever
    // they look like and whatever the reply.
    let content = format!("AUTH PLAIN {SECRET}\r\nRSET\r\n");
    let content = format!("{content}{}", "x".repeat(40 - content.len()));
    let mut t = Transcript::new();
    t.client(format!("BDAT 40 LAST\r\n{content}AUTH PLAIN c2VjcmV0\r\n").as_bytes());
    t.server(b"250 ok\r\n235 ok\r\n");
    let text = t.render();
    assert!(
        text.contains(&format!(
            "C: BDAT 40 LAST\nC: AUTH PLAIN {SECRET}\nC: RSET\nC: x [no line end]\n"
        )),
        "{text}"
    );
    assert!(text.contains("C: AUTH PLAIN <redacted>\n"), "{text}");
    assert_hidden(&t, "c2VjcmV0");
}

#[test]
fn body_sent_before_the_354_is_shown_once_the_354_comes() {
    let mut t = Transcript::new();
    t.client(b"DATA\r\nSubject: x\r\nhello\r\n.\r\nAUTH PLAIN c2VjcmV0\r\n");
    // Not known yet: in lines() as commands would be, not in events().
    assert_eq!(
        t.render(),
        "C: DATA\nC: Subject: x\nC: hello\nC: .\nC: AUTH PLAIN <redacted>\n"
    );
    assert_eq!(t.events().len(), 1);
    t.server(b"354 go\r\n250 queued\r\n");
    assert_eq!(
        t.render(),
        "C: DATA\nC: Subject: x\nC: hello\nC: .\nC: AUTH PLAIN <redacted>\nS: 354 go\nS: 250 queued\n"
    );
    assert_hidden(&t, "c2VjcmV0");
    // events() has everything once known.
    assert_eq!(t.events().len(), 2, "{:?}", t.events());
}

#[test]
fn lines_sent_during_an_auth_exchange_stay_hidden_whatever_the_reply() {
    // The client pipelines its LOGIN responses; the server refuses the
    // mechanism, so it reads them as (unknown) commands. They were meant as
    // credentials: still hidden.
    let mut t = Transcript::new();
    t.client(b"AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n");
    t.server(b"504 5.5.4 Unrecognized authentication type\r\n");
    t.server(b"500 5.5.2 what\r\n500 5.5.2 what\r\n");
    t.client(b"NOOP\r\n");
    assert_hidden(&t, "YWxpY2U=");
    assert_hidden(&t, "c2VjcmV0");
    assert!(
        t.render().ends_with("C: <redacted>\nC: <redacted>\nS: 504 5.5.4 Unrecognized authentication type\nS: 500 5.5.2 what\nS: 500 5.5.2 what\nC: NOOP\n"),
        "{}",
        t.render()
    );
}

#[test]
fn commands_inside_a_refused_auth_keep_the_chunk_count_right() {
    // The server refuses AUTH X and then reads "BDAT 9" and its 9 octets
    // ("BDAT 50\r\n", content). Losing that BDAT would make the content a
    // 50-octet chunk that swallows the next AUTH exchange, shown unredacted.
    let mut t = Transcript::new();
    t.client(b"AUTH X\r\nBDAT 9\r\n");
    t.server(b"504 5.5.4 no\r\n");
    t.client(b"BDAT 50\r\nAUTH LOGIN\r\n");
    t.server(b"250 2.0.0 9 octets\r\n334 VXNlcm5hbWU6\r\n");
    t.client(b"YWxpY2U=\r\n");
    assert_hidden(&t, "YWxpY2U=");
    assert!(
        t.render().ends_with(
            "C: AUTH LOGIN\nS: 250 2.0.0 9 octets\nS: 334 VXNlcm5hbWU6\nC: <redacted>\n"
        ),
        "{}",
        t.render()
    );
}

#[test]
fn replies_are_matched_to_every_pipelined_command() {
    // No command is forgotten, however many wait: the 334 belongs to AUTH.
    let mut t = Transcript::new();
    t.client("NOOP\r\n".repeat(3000).as_bytes());
    t.client(b"AUTH LOGIN\r\n");
    t.server("250 ok\r\n".repeat(3000).as_bytes());
    t.server(b"334 VXNlcm5hbWU6\r\n");
    t.client(b"YWxpY2U=\r\n");
    assert_hidden(&t, "YWxpY2U=");
}

#[test]
fn a_note_inside_a_line_does_not_change_what_the_line_is() {
    // "BD" + note + "AT 5": the server reads one BDAT line.
    let mut t = Transcript::new();
    t.client(b"BD");
    t.note("slow client");
    t.client(b"AT 14\r\nAUTH PLAIN x\r\nAUTH PLAIN c2VjcmV0\r\n");
    assert_eq!(
        t.render(),
        "C: BD [no line end]\n-- slow client --\nC: AT 14\nC: AUTH PLAIN x\nC: AUTH PLAIN <redacted>\n"
    );
    // The "." that ends the body, split by a note, still ends it.
    let mut t = Transcript::new();
    t.client(b"DATA\r\n");
    t.server(b"354 go\r\n");
    t.client(b"hi\r\n.");
    t.note("pause");
    t.client(b"\r\nAUTH PLAIN c2VjcmV0\r\n");
    assert_hidden(&t, "c2VjcmV0");
    // And an initial response split by a note is hidden on both sides.
    let mut t = Transcript::new();
    t.client(b"AUTH PLAIN");
    t.note("pause");
    t.client(b" c2VjcmV0\r\n");
    assert_hidden(&t, "c2VjcmV0");
    assert_eq!(
        t.render(),
        "C: AUTH PLAIN [no line end]\n-- pause --\nC: <redacted>\n"
    );
}

#[test]
fn too_much_held_stops_recording_the_client_until_tls() {
    let limits = TranscriptLimits {
        max_total_bytes: 400,
        ..TranscriptLimits::default()
    };
    let mut t = Transcript::with_limits(limits);
    t.client(b"DATA\r\nAUTH PLAIN c2VjcmV0\r\n");
    t.client("NOOP\r\n".repeat(80).as_bytes());
    t.client(b"AUTH PLAIN b3RoZXI=\r\n");
    t.server(b"503 no\r\n");
    t.client(b"AUTH LOGIN\r\n");
    t.server(b"235 ok\r\n334 VXNlcm5hbWU6\r\n");
    t.client(b"YWxpY2U=\r\n");
    for secret in ["c2VjcmV0", "b3RoZXI=", "YWxpY2U="] {
        assert_hidden(&t, secret);
    }
    let text = t.render();
    assert!(
        text.contains("C: DATA\nC: AUTH PLAIN <redacted>\n"),
        "{text}"
    );
    assert!(text.contains("client bytes not recorded"), "{text}");
    // TLS starts the conversation over: recorded again.
    t.tls_started();
    t.client(b"EHLO y\r\n");
    assert!(
        t.render().ends_with("-- TLS started --\nC: EHLO y\n"),
        "{}",
        t.render()
    );
    let stored: usize = t
        .events()
        .iter()
        .map(|e| match e {
            Event::Bytes { bytes, .. } => bytes.len(),
            Event::Note(n) => n.len(),
            Event::TlsStarted => 0,
        })
        .sum();
    assert!(stored <= 400, "{stored}");
}

#[test]
fn tls_switch_records_held_lines_as_shown_and_starts_over() {
    // Plaintext pipelined after STARTTLS (CVE-2011-0411 class) that the
    // server discards: recorded before the marker, redacted as commands.
    let mut t = Transcript::new();
    t.client(b"STARTTLS\r\nDATA\r\nAUTH PLAIN c2VjcmV0\r\nBDAT 100\r\n");
    t.server(b"220 go\r\n");
    t.tls_started();
    t.client(b"EHLO y\r\nAUTH LOGIN\r\n");
    t.server(b"250 mx\r\n334 VXNlcm5hbWU6\r\n");
    t.client(b"YWxpY2U=\r\n");
    assert_hidden(&t, "c2VjcmV0");
    assert_hidden(&t, "YWxpY2U=");
    assert_eq!(
        t.render(),
        "C: STARTTLS\nC: DATA\nC: AUTH PLAIN <redacted>\nC: <redacted>\nS: 220 go\n-- TLS started --\n\
         C: EHLO y\nC: AUTH LOGIN\nS: 250 mx\nS: 334 VXNlcm5hbWU6\nC: <redacted>\n"
    );
}

#[test]
fn held_bdat_does_not_hide_an_auth_after_the_body() {
    // Found by the property below: DATA's 354 comes late. Read as commands,
    // "BDAT 12" would make ".\r\nAUTH PLAI" a chunk and show "N <secret>";
    // read as a body (what the 354 says) "AUTH PLAIN <secret>" is a command.
    let mut t = Transcript::new();
    let packet = format!("DATA\r\nBDAT 12\r\n.\r\nAUTH PLAIN {SECRET}\r\n");
    client_in_pieces(&mut t, packet.as_bytes(), 1, SECRET);
    assert!(
        t.render().ends_with("C: .\nC: AUTH PLAIN <redacted>\n"),
        "{}",
        t.render()
    );
    t.server(b"354 go\r\n250 ok\r\n235 ok\r\n");
    assert_hidden(&t, SECRET);
    // A chunk could also end past the classified start of a long line.
    let mut t = Transcript::new();
    let packet = format!(
        "DATA\r\nBDAT 600\r\n{}AUTH PLAIN {SECRET}\r\n",
        "x".repeat(600)
    );
    client_in_pieces(&mut t, packet.as_bytes(), 7, SECRET);
    t.server(b"503 no\r\n");
    assert_hidden(&t, SECRET);
}

// ----- the model-based property ---------------------------------------

/// Client lines to pick from; `{s}` is replaced by a secret unique to the
/// occurrence, `{long}` by 600 octets (longer than a command line).
const LINES: &[&str] = &[
    "EHLO y",
    "MAIL FROM:<a@b>",
    "RCPT TO:<c@d>",
    "NOOP",
    "RSET",
    "DATA",
    "DATA x",
    "data",
    "AUTH PLAIN {s}",
    "auth plain {s}",
    "AUTH\tPLAIN {s}",
    " AUTH PLAIN {s}",
    "AUTH PLAIN",
    "AUTH LOGIN",
    "AUTH LOGIN {s}",
    "{s}",
    "{s}",
    "*",
    "BDAT 12",
    "BDAT\t12",
    "BDAT  12",
    "BDAT 12 ",
    "BDAT 9",
    "BDAT 600",
    "{long}",
    "BDAT 5 LAST",
    "bdat 0 last",
    "Subject: hi",
    "",
    ".",
    "..",
    "hello world",
];

/// A conversation: what the client sends, what the server answers (and the
/// earliest client offset each reply can follow), and where the secrets the
/// server reads as credentials start.
struct Script {
    client: Vec<u8>,
    replies: Vec<(usize, Vec<u8>)>,
    secrets: Vec<(usize, String)>,
}

/// How a server (smtp-wire semantics) reads the client's bytes.
enum Reading {
    Command,
    Response,
    Body { prev_crlf: bool },
    Chunk(usize),
}

fn looks_like_auth_command(line: &[u8]) -> bool {
    let line = line.trim_ascii_start();
    line.len() > 5 && line[..4].eq_ignore_ascii_case(b"AUTH") && matches!(line[4], b' ' | b'\t')
}

/// Build the conversation: the client sends the picked lines without
/// waiting; a reference server reads them with smtp-wire's rules (lines end
/// with CRLF, `Command::parse`, RFC 3030 chunks counted, RFC 5321 §4.5.2 end
/// of data) and answers each with a code `choices` picks among those it
/// could send.
fn script(picks: &[(usize, bool)], choices: &[u8]) -> Script {
    let mut client = Vec::new();
    let mut tokens = Vec::new();
    for (k, &(index, bare_lf)) in picks.iter().enumerate() {
        let template = LINES[index % LINES.len()];
        let token = format!("q{k:03}xU2VjcmV0");
        if let Some(at) = template.find("{s}") {
            tokens.push((client.len() + at, token.clone()));
        }
        let line = template
            .replace("{s}", &token)
            .replace("{long}", &"x".repeat(600));
        client.extend_from_slice(line.as_bytes());
        client.extend_from_slice(if bare_lf { b"\n" } else { b"\r\n" });
    }
    let mut choice = choices.iter().cycle();
    let mut pick = |codes: &[u16]| codes[usize::from(*choice.next().unwrap()) % codes.len()];
    let reply = |code: u16| -> Vec<u8> {
        match code {
            250 => b"250-mx\r\n250 ok\r\n".to_vec(),
            _ => format!("{code} 0.0.0 reply\r\n").into_bytes(),
        }
    };
    let mut replies = Vec::new();
    let mut credentials = Vec::new();
    let mut reading = Reading::Command;
    let mut pos = 0;
    while pos < client.len() {
        if let Reading::Chunk(size) = reading {
            let n = size.min(client.len() - pos);
            pos += n;
            if n == size {
                replies.push((pos, reply(pick(&[250, 503]))));
                reading = Reading::Command;
            } else {
                reading = Reading::Chunk(size - n);
            }
            continue;
        }
        let lf = pos + client[pos..].iter().position(|&b| b == b'\n').unwrap();
        let end = lf + 1;
        let crlf = lf > pos && client[lf - 1] == b'\r';
        let line = &client[pos..if crlf { lf - 1 } else { lf }];
        match reading {
            Reading::Command => {
                if looks_like_auth_command(line) {
                    credentials.push(pos..end);
                }
                let code = if !crlf || line.len() + 2 > 512 {
                    500
                } else {
                    match Command::parse(line) {
                        Ok(Command::Data) => {
                            let code = pick(&[354, 503]);
                            if code == 354 {
                                reading = Reading::Body { prev_crlf: true };
                            }
                            code
                        }
                        Ok(Command::Auth { .. }) => {
                            let code = pick(&[334, 235, 535, 504]);
                            if code == 334 {
                                reading = Reading::Response;
                            }
                            code
                        }
                        Ok(Command::Bdat { size, .. }) if size > 0 => {
                            reading = Reading::Chunk(usize::try_from(size).unwrap());
                            pos = end;
                            continue;
                        }
                        Ok(_) => pick(&[250, 503]),
                        Err(_) => pick(&[500, 501]),
                    }
                };
                replies.push((end, reply(code)));
            }
            Reading::Response => {
                credentials.push(pos..end);
                let code = if crlf { pick(&[334, 235, 535]) } else { 500 };
                if code != 334 {
                    reading = Reading::Command;
                }
                replies.push((end, reply(code)));
            }
            Reading::Body { prev_crlf } => {
                if prev_crlf && crlf && line == b"." {
                    replies.push((end, reply(pick(&[250, 554]))));
                    reading = Reading::Command;
                } else {
                    reading = Reading::Body { prev_crlf: crlf };
                }
            }
            Reading::Chunk(_) => unreachable!(),
        }
        pos = end;
    }
    let secrets = tokens
        .into_iter()
        .filter(|(at, token)| {
            credentials
                .iter()
                .any(|r| r.start <= *at && at + token.len() <= r.end)
        })
        .collect();
    Script {
        client,
        replies,
        secrets,
    }
}

/// No part (4+ bytes) of a credential that was sent so far is shown.
fn check(t: &Transcript, script: &Script, sent: usize) -> Result<(), TestCaseError> {
    let text = t.render();
    for (at, token) in &script.secrets {
        let fed = sent.saturating_sub(*at).min(token.len());
        if fed < 4 {
            continue;
        }
        let part = &token[..fed];
        prop_assert!(!text.contains(part), "{} shown:\n{}", part, text);
        for event in t.events() {
            if let Event::Bytes { bytes, .. } = event {
                prop_assert!(
                    !bytes.windows(fed).any(|w| w == part.as_bytes()),
                    "{} in events",
                    part
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn no_credential_is_ever_shown(
        picks in prop::collection::vec((0..LINES.len(), prop::bool::weighted(0.1)), 1..40),
        choices in prop::collection::vec(any::<u8>(), 1..40),
        delays in prop::collection::vec(0usize..60, 1..20),
        chunks in prop::collection::vec(1usize..30, 1..10),
        notes in prop::collection::vec(0usize..1500, 0..3),
        tiny_limits in any::<bool>(),
        tls_at_end in any::<bool>(),
    ) {
        let script = script(&picks, &choices);
        let limits = if tiny_limits {
            TranscriptLimits { body_head_lines: 1, body_tail_lines: 1, max_line_bytes: 8, max_total_bytes: 400 }
        } else {
            TranscriptLimits::default()
        };
        let mut t = Transcript::with_limits(limits);
        // Replies come in order, each some time after what it answers.
        let mut at = Vec::new();
        let mut last = 0;
        for (i, (earliest, _)) in script.replies.iter().enumerate() {
            last = (*earliest).max(last) + delays[i % delays.len()];
            at.push(last.min(script.client.len()));
        }
        let mut chunk = chunks.iter().cycle();
        let (mut pos, mut next) = (0, 0);
        loop {
            while next < at.len() && at[next] <= pos {
                let bytes = &script.replies[next].1;
                let cut = chunk.next().unwrap() % bytes.len();
                t.server(&bytes[..cut]);
                check(&t, &script, pos)?;
                t.server(&bytes[cut..]);
                check(&t, &script, pos)?;
                next += 1;
            }
            if pos >= script.client.len() {
                break;
            }
            if notes.contains(&pos) {
                t.note("note");
            }
            let limit = at.get(next).copied().unwrap_or(script.client.len());
            let n = (*chunk.next().unwrap()).min(limit - pos);
            t.client(&script.client[pos..pos + n]);
            pos += n;
            check(&t, &script, pos)?;
        }
        if tls_at_end {
            t.tls_started();
            check(&t, &script, pos)?;
        }
    }
}

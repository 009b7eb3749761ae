//! envelope_from_headers: recipients from To/Cc/Bcc, Bcc stripped and everything else
//! byte-identical, the same envelope as Python's smtplib.send_message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use smtp_mime::envelope_from_headers;

/// The envelope smtplib.send_message derives: (reverse-path, recipients).
fn smtplib_envelope(message: &[u8]) -> (String, Vec<String>) {
    let script = format!(
        "{}/tests/python/smtplib_envelope.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines().map(str::to_string);
    (lines.next().unwrap(), lines.collect())
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

const TRICKY: &[u8] = b"Received: from x by y; Mon, 1 Jan 2024 10:00:00 +0000\r\n\
From: \"Doe, John\" <john@example.org>\r\n\
To: Ann <ann@example.net>, \"Smith, Bob\" <bob@example.net>,\r\n\tcarol@example.net (Carol, in a comment)\r\n\
Cc: Team: dave@example.net, =?utf-8?q?Zo=C3=AB?= <zoe@example.net>;, undisclosed-recipients:;\r\n\
Subject: Tricky lists\r\n\
Bcc: secret1@example.net,\r\n secret2@example.net\r\n\
X-Bcc-Note: Bcc: is mentioned here but this field stays\r\n\
\r\n\
Bcc: body-line@example.net stays in the body\r\n";

#[test]
fn tricky_address_lists_match_smtplib() {
    let env = envelope_from_headers(TRICKY);
    assert_eq!(env.from.as_deref(), Some("john@example.org"));
    assert_eq!(
        env.recipients,
        [
            "ann@example.net",
            "bob@example.net",
            "carol@example.net",
            "dave@example.net",
            "zoe@example.net",
            "secret1@example.net",
            "secret2@example.net"
        ]
    );
    let (from, rcpts) = smtplib_envelope(TRICKY);
    assert_eq!(env.from.unwrap(), from);
    assert_eq!(
        sorted(env.recipients),
        sorted(rcpts.into_iter().filter(|r| !r.is_empty()).collect())
    );
}

#[test]
fn bcc_is_removed_and_the_rest_is_byte_identical() {
    let env = envelope_from_headers(TRICKY);
    let expected = [
        &b"Received: from x by y; Mon, 1 Jan 2024 10:00:00 +0000\r\n"[..],
        b"From: \"Doe, John\" <john@example.org>\r\n",
        b"To: Ann <ann@example.net>, \"Smith, Bob\" <bob@example.net>,\r\n\tcarol@example.net (Carol, in a comment)\r\n",
        b"Cc: Team: dave@example.net, =?utf-8?q?Zo=C3=AB?= <zoe@example.net>;, undisclosed-recipients:;\r\n",
        b"Subject: Tricky lists\r\n",
        b"X-Bcc-Note: Bcc: is mentioned here but this field stays\r\n",
        b"\r\n",
        b"Bcc: body-line@example.net stays in the body\r\n",
    ]
    .concat();
    assert_eq!(
        String::from_utf8_lossy(&env.message),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn every_bcc_form_is_removed() {
    let msg = b"BCC: a@example.net\nFrom: f@example.org\nbcc : b@example.net\nResent-Bcc: c@example.net\nTo: t@example.net\nBcc:\n\nbody\n";
    let env = envelope_from_headers(msg);
    assert_eq!(
        env.message,
        b"From: f@example.org\nTo: t@example.net\n\nbody\n"
    );
    assert_eq!(
        env.recipients,
        ["t@example.net", "a@example.net", "b@example.net"]
    );
}

#[test]
fn sender_is_the_reverse_path_when_present() {
    let msg = b"From: boss@example.org\r\nSender: secretary@example.org\r\nTo: t@example.net\r\n\r\nx\r\n";
    let env = envelope_from_headers(msg);
    assert_eq!(env.from.as_deref(), Some("secretary@example.org"));
    assert_eq!(smtplib_envelope(msg).0, "secretary@example.org");
    assert_eq!(env.message, msg, "nothing to strip");
}

#[test]
fn resent_block_is_used_when_present() {
    let msg = b"Resent-From: forwarder@example.org\r\n\
Resent-Date: Tue, 2 Jan 2024 10:00:00 +0000\r\n\
Resent-To: new@example.net\r\n\
Resent-Bcc: hidden@example.net\r\n\
From: author@example.org\r\n\
To: original@example.net\r\n\
Bcc: original-hidden@example.net\r\n\
Subject: fwd\r\n\r\nbody\r\n";
    let env = envelope_from_headers(msg);
    assert_eq!(env.from.as_deref(), Some("forwarder@example.org"));
    assert_eq!(env.recipients, ["new@example.net", "hidden@example.net"]);
    let text = String::from_utf8(env.message.clone()).unwrap();
    assert!(!text.contains("hidden@"), "{text}");
    let (from, rcpts) = smtplib_envelope(msg);
    assert_eq!(env.from.unwrap(), from);
    assert_eq!(sorted(env.recipients), sorted(rcpts));
}

#[test]
fn utf8_addresses_and_garbage() {
    let msg = "From: Zoë <zoë@exämple.org>\r\nTo: bjørn@example.net\r\n\r\nhej\r\n".as_bytes();
    let env = envelope_from_headers(msg);
    assert_eq!(env.from.as_deref(), Some("zoë@exämple.org"));
    assert_eq!(env.recipients, ["bjørn@example.net"]);
    assert!(smtp_mime::needs_8bitmime(msg));
    let (from, rcpts) = smtplib_envelope(msg);
    assert_eq!((env.from.unwrap(), env.recipients), (from, rcpts));

    for garbage in [
        &b""[..],
        b"\r\n\r\n",
        b"no header here",
        b"\xff\xfe:\x00\r\n\r\n",
        b"Bcc",
    ] {
        let env = envelope_from_headers(garbage);
        assert!(env.recipients.is_empty());
        assert_eq!(env.message, garbage);
    }
}

fn field() -> impl Strategy<Value = (String, bool)> {
    let name = prop::sample::select(vec![
        "To",
        "Cc",
        "Bcc",
        "BCC",
        "Resent-Bcc",
        "Subject",
        "X-Bcc",
        "Bccx",
        "From",
    ]);
    (name, "[a-z]{1,8}@example\\.net", prop::bool::ANY).prop_map(|(name, addr, folded)| {
        let value = if folded {
            format!(" {addr},\r\n {addr}")
        } else {
            format!(" {addr}")
        };
        let is_bcc = name.eq_ignore_ascii_case("bcc") || name == "Resent-Bcc";
        (format!("{name}:{value}\r\n"), is_bcc)
    })
}

proptest! {
    #[test]
    fn stripping_removes_exactly_the_bcc_fields(
        fields in prop::collection::vec(field(), 0..12),
        body in "[a-zA-Z:\r\n ]{0,200}",
    ) {
        let message: String = fields.iter().map(|(f, _)| f.as_str()).collect::<String>() + "\r\n" + &body;
        let expected: String = fields.iter().filter(|(_, bcc)| !bcc).map(|(f, _)| f.as_str()).collect::<String>() + "\r\n" + &body;
        let env = envelope_from_headers(message.as_bytes());
        prop_assert_eq!(String::from_utf8(env.message).unwrap(), expected);
    }
}

//! Malformed input never panics and still yields what can be read: a corpus of broken
//! messages (tests/corpus/*.eml), pathological shapes built in code, and random damage
//! done to good messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use smtp_mime::{Address, Attachment, Inspected, MessageBuilder, inspect, render_message};

fn corpus(name: &str) -> Inspected {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    let raw = std::fs::read(&path).unwrap();
    let msg = inspect(&raw);
    assert_renders_safely(&msg);
    msg
}

/// The rendering never panics and never lets a control character reach the terminal.
fn assert_renders_safely(msg: &Inspected) {
    let shown = render_message(msg);
    assert!(
        !shown
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "control character in rendering: {shown:?}"
    );
}

fn text(msg: &Inspected) -> &str {
    msg.text.as_deref().unwrap_or_default()
}

#[test]
fn every_corpus_file_is_read_without_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "eml") {
            let raw = std::fs::read(&path).unwrap();
            assert_renders_safely(&inspect(&raw));
            // The one-parse form the test inbox indexes with sees the same.
            assert_eq!(
                smtp_mime::inspect_with_parts(&raw),
                (inspect(&raw), smtp_mime::parts(&raw)),
                "{}",
                path.display()
            );
            // Every prefix too: a message can be cut anywhere.
            for cut in (0..raw.len()).step_by(7) {
                assert_renders_safely(&inspect(&raw[..cut]));
            }
            count += 1;
        }
    }
    assert!(count >= 15, "corpus has only {count} files");
}

#[test]
fn multipart_with_a_boundary_that_never_appears_is_shown_as_text() {
    let msg = corpus("wrong_boundary.eml");
    assert_eq!(
        msg.subject.as_deref(),
        Some("Boundary declared but never used")
    );
    assert!(text(&msg).contains("Hello, the text is still here."));
    assert!(msg.attachments.is_empty());
    let msg = corpus("empty_boundary.eml");
    assert!(text(&msg).contains("Is this a part?"));
}

#[test]
fn unclosed_multipart_keeps_its_parts() {
    let msg = corpus("unclosed_multipart.eml");
    assert_eq!(text(&msg).trim_end(), "First part survives.");
    let data = smtp_mime::attachment_by_name(&msg, "data.bin").unwrap();
    assert_eq!(data.bytes, (0..10).collect::<Vec<u8>>());
}

#[test]
fn truncated_base64_gives_the_bytes_it_still_carries() {
    let msg = corpus("truncated_base64.eml");
    assert_eq!(text(&msg).trim_end(), "Text before the cut.");
    let photo = smtp_mime::attachment_by_name(&msg, "photo.png").unwrap();
    assert!(
        photo.bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{:?}",
        photo.bytes
    );
    assert!(
        photo.bytes.ends_with(b"IEND"),
        "decoded up to the cut: {:?}",
        photo.bytes
    );
}

#[test]
fn base64_garbage_is_skipped_as_rfc_2045_says() {
    let msg = corpus("bad_base64_characters.eml");
    assert_eq!(text(&msg).trim_end(), "Readable text.");
    let pdf = smtp_mime::attachment_by_name(&msg, "broken.pdf").unwrap();
    assert!(pdf.bytes.starts_with(b"%PDF-1"), "{:?}", pdf.bytes);
}

#[test]
fn broken_quoted_printable_keeps_the_text() {
    let msg = corpus("bad_quoted_printable.eml");
    assert!(
        text(&msg).starts_with("Café with a bad escape"),
        "{:?}",
        msg.text
    );
    assert!(text(&msg).contains("soft break at the very end"));
}

#[test]
fn raw_8bit_headers_fall_back_to_latin1() {
    let msg = corpus("eight_bit_garbage.eml");
    assert_eq!(msg.subject.as_deref(), Some("Café crème ÿþ raw 8-bit"));
    assert_eq!(
        msg.from,
        vec![Address::with_name("René", "rene@example.org")]
    );
    assert!(text(&msg).starts_with("Body with invalid UTF-8"));
}

#[test]
fn headers_without_body_and_bare_lf_and_unknown_charsets() {
    let msg = corpus("headers_only.eml");
    assert_eq!(msg.subject.as_deref(), Some("No body at all"));
    assert_eq!(msg.date.as_deref(), Some("Mon, 1 Jan 2024 10:00:00 +0000"));

    let msg = corpus("bare_lf.eml");
    assert_eq!(text(&msg), "plain line one\nplain line two");
    assert_eq!(msg.html.as_deref(), Some("<p>html</p>"));

    let msg = corpus("unknown_charset.eml");
    assert_eq!(
        text(&msg).trim_end(),
        "Plain ASCII survives an unknown charset."
    );
}

#[test]
fn bad_encoded_words_are_left_as_written() {
    let msg = corpus("bad_encoded_words.eml");
    let subject = msg.subject.unwrap();
    assert!(
        subject.starts_with("=?utf-8?q?unterminated_word"),
        "{subject}"
    );
    assert!(
        subject.ends_with("oké"),
        "the good word is still decoded: {subject}"
    );
    assert_eq!(msg.from[0].email, "ann@example.org");
}

#[test]
fn parts_without_proper_headers_default_to_text() {
    let msg = corpus("no_content_type_parts.eml");
    // RFC 2045 §5.2: no Content-Type means text/plain; us-ascii.
    assert!(text(&msg).starts_with("Part without any header is text/plain"));
    assert_eq!(msg.parts.children.len(), 3);
    assert_eq!(msg.parts.children[0].content_type, "text/plain");
    assert!(
        msg.attachments
            .iter()
            .any(|a| a.bytes == b"Nonsense content type.")
    );
}

#[test]
fn truncated_attached_message_is_still_an_attachment() {
    let msg = corpus("truncated_nested_message.eml");
    assert_eq!(text(&msg).trim_end(), "See the forwarded message.");
    let inner = msg
        .attachments
        .iter()
        .find(|a| a.content_type == "message/rfc822")
        .unwrap();
    let inner = inspect(&inner.bytes);
    assert_eq!(inner.subject.as_deref(), Some("Inner"));
    assert!(text(&inner).contains("inner text"));
}

#[test]
fn control_characters_are_kept_in_data_but_never_rendered() {
    let msg = corpus("nul_and_controls.eml");
    assert!(msg.subject.as_deref().unwrap().contains('\u{1b}'));
    let shown = render_message(&msg);
    assert!(!shown.contains('\u{1b}') && !shown.contains('\0'));
    assert!(shown.contains("title"));
}

#[test]
fn trace_fields_are_collected() {
    let msg = corpus("trace_fields.eml");
    assert_eq!(msg.return_path.as_deref(), Some("bounce@example.org"));
    assert_eq!(msg.received.len(), 2);
    assert!(
        msg.received[0].starts_with(
            "from client.example.org (client.example.org [192.0.2.1]) by mx.example.net"
        )
    );
    assert!(msg.received[1].ends_with("with ESMTPSA; Mon, 1 Jan 2024 10:00:00 +0000"));
    assert_eq!(msg.message_id.as_deref(), Some("trace-1@example.org"));
}

#[test]
fn bytes_that_are_not_a_message_are_shown_as_text() {
    let msg = corpus("not_a_message.eml");
    assert!(msg.headers.is_empty());
    assert!(text(&msg).contains("this is a picture, not mail"));
    assert_eq!(
        inspect(b""),
        Inspected {
            parts: smtp_mime::Part {
                content_type: "text/plain".into(),
                ..Default::default()
            },
            ..Default::default()
        }
    );
}

#[test]
fn deep_nesting_neither_overflows_nor_explodes() {
    let depth = 20_000;
    let mut raw = String::from(
        "From: a@example.org\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n",
    );
    for level in 1..depth {
        raw.push_str(&format!(
            "--b{}\r\nContent-Type: multipart/mixed; boundary=b{level}\r\n\r\n",
            level - 1
        ));
    }
    raw.push_str(&format!(
        "--b{}\r\nContent-Type: text/plain\r\n\r\ndeepest\r\n",
        depth - 1
    ));
    let msg = inspect(raw.as_bytes());
    assert_eq!(msg.subject.as_deref(), Some("deep"));
    let mut levels = 0;
    let mut part = &msg.parts;
    while let Some(child) = part.children.first() {
        part = child;
        levels += 1;
    }
    assert!(levels <= 64, "tree depth is capped, got {levels}");
    assert_renders_safely(&msg);
}

#[test]
fn huge_header_line_and_many_parts() {
    let long = "x".repeat(200_000);
    let mut raw = format!(
        "From: a@example.org\r\nSubject: {long}\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
    );
    for i in 0..5000 {
        raw.push_str(&format!("--q\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"f{i}\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"));
    }
    raw.push_str("--q--\r\n");
    let msg = inspect(raw.as_bytes());
    assert_eq!(msg.subject.as_deref().map(str::len), Some(200_000));
    assert_eq!(msg.attachments.len(), 5000);
    assert!(msg.attachments.iter().all(|a| a.bytes == [0, 1, 2]));
}

fn good_message() -> Vec<u8> {
    MessageBuilder::new()
        .from(Address::with_name("Zoë", "zoe@example.org"))
        .to(Address::new("bob@example.net"))
        .subject("Good message")
        .text("Some text\nover lines\n")
        .html("<p>Some <b>html</b></p>")
        .attach(Attachment {
            filename: "a.bin".into(),
            content_type: "application/octet-stream".into(),
            bytes: (0..=255).collect(),
        })
        .build()
        .unwrap()
        .bytes
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4000)) {
        assert_renders_safely(&inspect(&bytes));
    }

    #[test]
    fn damaged_messages_never_panic_and_keep_their_headers(
        cut in 0usize..4000,
        flips in prop::collection::vec((0usize..4000, any::<u8>()), 0..20),
        insert_at in 0usize..4000,
        insert in prop::sample::select(vec!["\r\n--", "\r\n\r\n", "=?utf-8?b?", "\n.\n", "\r", "--\r\n", "Content-Type: multipart/mixed; boundary=x\r\n"]),
    ) {
        let good = good_message();
        let header_end = good.windows(4).position(|w| w == b"\r\n\r\n").unwrap();

        let truncated = &good[..cut.min(good.len())];
        let msg = inspect(truncated);
        assert_renders_safely(&msg);
        if truncated.len() > header_end {
            prop_assert_eq!(msg.subject.as_deref(), Some("Good message"));
        }

        let mut damaged = good.clone();
        for (at, byte) in &flips {
            let at = at % damaged.len();
            if at > header_end { damaged[at] = *byte; }
        }
        let at = insert_at % damaged.len();
        damaged.splice(at..at, insert.bytes());
        let msg = inspect(&damaged);
        assert_renders_safely(&msg);
        if at > header_end + 4 {
            prop_assert_eq!(msg.subject.as_deref(), Some("Good message"));
        }
    }
}

//! Property tests: what is composed is what is inspected, and every composed message
//! obeys RFC 5322 §2.1.1 (lines of at most 998 octets) and §2.3 (CRLF only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use smtp_mime::{Address, Attachment, ComposedMessage, MAX_LINE_OCTETS, MessageBuilder, inspect};

/// Line ends normalised (CRLF, bare CR, bare LF all become LF) and the final line break
/// the composer adds to non-empty text (RFC 2046 §4.1.1 canonical form).
fn normalise(text: &str) -> String {
    let mut s = text.replace("\r\n", "\n").replace('\r', "\n");
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn assert_wire_form(msg: &ComposedMessage) {
    let bytes = &msg.bytes;
    assert!(bytes.ends_with(b"\r\n"), "message does not end with CRLF");
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue; // after the final LF
        }
        let content = line.strip_suffix(b"\r").unwrap_or_else(|| {
            panic!(
                "line {i} not ended by CRLF: {:?}",
                String::from_utf8_lossy(line)
            )
        });
        assert!(!content.contains(&b'\r'), "bare CR in line {i}");
        assert!(
            content.len() <= MAX_LINE_OCTETS,
            "line {i} has {} octets",
            content.len()
        );
    }
}

fn content_type() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "application/octet-stream",
        "application/pdf",
        "image/png",
        "text/plain",
        "text/csv; charset=iso-8859-1",
        "text/html",
    ])
    .prop_map(str::to_string)
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (
        "[\\PC&&[^/\\\\]]{1,40}",
        content_type(),
        prop::collection::vec(any::<u8>(), 0..3000),
    )
        .prop_map(|(filename, content_type, bytes)| Attachment {
            filename: filename.trim().to_string().replace(['\u{0}'], "_") + ".bin",
            content_type,
            bytes,
        })
}

// 256 cases by default; PROPTEST_CASES=5000 for a longer run.
proptest! {
    #[test]
    fn composed_then_inspected_gives_the_same_content(
        subject in "\\PC{0,200}",
        text in any::<String>(),
        html in prop::option::of("[\\PC\n\r\t]{0,2000}"),
        attachments in prop::collection::vec(attachment(), 0..4),
        images in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..500), 0..3),
        long_line in prop::option::of(1000usize..5000),
    ) {
        let mut text = text;
        if let Some(n) = long_line {
            text.push_str(&"x".repeat(n)); // a line far over 998 octets
        }
        let mut builder = MessageBuilder::new()
            .from(Address::with_name("Zoë Test", "zoe@example.org"))
            .to("Bob <bob@example.net>".parse().unwrap())
            .subject(subject.clone())
            .text(text.clone());
        if let Some(html) = &html {
            builder = builder.html(html.clone());
        }
        // Inline images come first in the inspected list: they sit next to the HTML (or,
        // without HTML, first in the multipart/mixed), before the attachments.
        let mut expected = Vec::new();
        for (i, bytes) in images.iter().enumerate() {
            let image = Attachment { filename: format!("image{i}.png"), content_type: "image/png".into(), bytes: bytes.clone() };
            builder = builder.inline_image(format!("image{i}@example.org"), image.clone());
            expected.push(image);
        }
        for a in &attachments {
            builder = builder.attach(a.clone());
            expected.push(a.clone());
        }
        let msg = builder.build().unwrap();
        assert_wire_form(&msg);
        prop_assert!(!msg.needs_smtputf8);
        prop_assert!(!msg.needs_8bitmime, "bodies are encoded, headers too: 7-bit only");

        let seen = inspect(&msg.bytes);
        prop_assert_eq!(seen.subject.as_deref().unwrap_or(""), subject.trim_matches([' ', '\t']));
        prop_assert_eq!(normalise(seen.text.as_deref().unwrap_or("")), normalise(&text));
        prop_assert_eq!(seen.html.as_deref().map(normalise), html.as_deref().map(normalise));
        prop_assert_eq!(seen.attachments.len(), expected.len());
        for (got, sent) in seen.attachments.iter().zip(&expected) {
            prop_assert_eq!(&got.filename, &sent.filename);
            prop_assert_eq!(&got.content_type, sent.content_type.split(';').next().unwrap());
            prop_assert!(got.bytes == sent.bytes, "attachment {} differs", sent.filename);
        }
        prop_assert_eq!(seen.message_id.as_deref(), Some(msg.message_id.as_str()));
        prop_assert_eq!(seen.from, vec![Address::with_name("Zoë Test", "zoe@example.org")]);
    }

    #[test]
    fn no_line_exceeds_998_octets_and_all_end_with_crlf(
        text in "[a-zé \\t\\r\\n]{0,4000}",
        word in 990usize..3000,
        header_value in "[ -~]{0,1500}",
        name in "[\\PC]{1,100}",
    ) {
        let long_word = "y".repeat(word);
        let msg = MessageBuilder::new()
            .from(Address::with_name(name, "a@example.org"))
            .to(Address::new("b@example.org"))
            .subject(format!("{long_word} {header_value}"))
            .text(format!("{text}{long_word}\n{text}"))
            .html(format!("<p>{long_word}</p>"))
            .header("X-Long", format!("{header_value} {long_word}"))
            .header("X-Printable", header_value)
            .build()
            .unwrap();
        assert_wire_form(&msg);
    }
}

#[test]
fn structure_and_headers_of_a_full_message() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("Résumé final.pdf");
    std::fs::write(&report, b"%PDF-1.7\n\xff\xfe binary").unwrap();
    let msg = MessageBuilder::new()
        .from("Zoë Dupont <zoe@example.org>".parse().unwrap())
        .to("\"Doe, John\" <john@example.net>".parse().unwrap())
        .cc("carol@example.net".parse().unwrap())
        .reply_to("Replies <replies@example.org>".parse().unwrap())
        .subject("Réunion ☕")
        .text("See the plan.\n")
        .html("<p>See <img src=\"cid:logo@example.org\"></p>")
        .inline_image(
            "logo@example.org",
            Attachment {
                filename: "logo.png".into(),
                content_type: "image/png".into(),
                bytes: vec![0x89, b'P', b'N', b'G'],
            },
        )
        .attach_file(&report)
        .unwrap()
        .header("X-Mailer", "smtp-mime tests")
        .build()
        .unwrap();
    let raw = String::from_utf8(msg.bytes.clone()).unwrap();
    // RFC 2047 for the subject and the display name, RFC 2231 for the file name.
    assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
    assert!(
        raw.contains("filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf"),
        "{raw}"
    );
    assert!(raw.contains("Content-ID: <logo@example.org>"), "{raw}");
    assert!(raw.contains("\r\nDate: "), "{raw}");
    assert!(
        raw.contains(&format!("Message-ID: <{}>", msg.message_id)),
        "{raw}"
    );
    assert!(msg.message_id.ends_with("@example.org"));
    assert_eq!(msg.size(), msg.bytes.len());

    let seen = inspect(&msg.bytes);
    assert_eq!(seen.subject.as_deref(), Some("Réunion ☕"));
    assert_eq!(seen.to[0].name.as_deref(), Some("Doe, John"));
    assert_eq!(seen.cc[0].email, "carol@example.net");
    let header = |n: &str| {
        seen.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("Reply-To"), Some("Replies <replies@example.org>"));
    assert_eq!(header("X-Mailer"), Some("smtp-mime tests"));
    let types = |p: &smtp_mime::Part| {
        p.children
            .iter()
            .map(|c| c.content_type.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(seen.parts.content_type, "multipart/mixed");
    assert_eq!(
        types(&seen.parts),
        ["multipart/alternative", "application/pdf"]
    );
    let alternative = &seen.parts.children[0];
    assert_eq!(types(alternative), ["text/plain", "multipart/related"]);
    assert_eq!(types(&alternative.children[1]), ["text/html", "image/png"]);
    let names: Vec<_> = seen
        .attachments
        .iter()
        .map(|a| a.filename.as_str())
        .collect();
    assert_eq!(names, ["logo.png", "Résumé final.pdf"]);
    assert_eq!(seen.attachments[1].bytes, std::fs::read(&report).unwrap());
    assert_eq!(seen.attachments[1].content_type, "application/pdf");
}

#[test]
fn header_injection_is_refused() {
    let base = || MessageBuilder::new().from(Address::new("a@example.org"));
    for (name, value) in [
        ("X-Evil", "ok\r\nBcc: victim@example.net"),
        ("X-Evil", "ok\nBcc: victim@example.net"),
        ("X-Evil\r\nBcc", "victim@example.net"),
        ("X Evil", "space in name"),
        ("X-Evil:", "colon in name"),
        ("", "empty name"),
        ("Content-Type", "text/html"),
        ("message-id", "<mine@example.org>"),
    ] {
        let err = base().header(name, value).build().unwrap_err();
        assert!(
            matches!(err, smtp_mime::MimeError::InvalidHeader { .. }),
            "{name:?}: {err}"
        );
    }
    assert!(base().subject("hi\r\nBcc: x@example.net").build().is_err());
    assert!(
        base()
            .to(Address::new("x@example.net>\r\nBcc: y@example.net"))
            .build()
            .is_err()
    );
    assert!(
        base()
            .to(Address::with_name(
                "Eve\r\nBcc: y@example.net",
                "x@example.net"
            ))
            .build()
            .is_err()
    );
    let bad_type = Attachment {
        filename: "a".into(),
        content_type: "text/plain\r\nBcc: x@y".into(),
        bytes: vec![],
    };
    assert!(base().attach(bad_type).build().is_err());
    assert!(
        MessageBuilder::new()
            .to(Address::new("b@example.org"))
            .build()
            .is_err(),
        "From is required"
    );
    let image = Attachment {
        filename: "i.png".into(),
        content_type: "image/png".into(),
        bytes: vec![1],
    };
    for bad_cid in ["", "two words@x", "a>\r\nBcc: x@y", "zoë@example.org"] {
        assert!(
            base().inline_image(bad_cid, image.clone()).build().is_err(),
            "{bad_cid:?}"
        );
    }
    assert!(
        base()
            .inline_image("<ok@example.org>", image)
            .build()
            .is_ok(),
        "brackets are optional"
    );
}

#[test]
fn utf8_addresses_require_smtputf8_and_8bitmime() {
    let msg = MessageBuilder::new()
        .from(Address::new("zoë@exämple.org"))
        .to(Address::new("bob@example.net"))
        .text("hi")
        .build()
        .unwrap();
    assert!(msg.needs_smtputf8);
    assert!(msg.needs_8bitmime);
    assert!(
        msg.message_id.ends_with("@localhost"),
        "no UTF-8 in the Message-ID"
    );
    let ascii = MessageBuilder::new()
        .from(Address::with_name("Zoë", "zoe@example.org"))
        .text("héllo wörld")
        .build()
        .unwrap();
    assert!(!ascii.needs_smtputf8 && !ascii.needs_8bitmime);
}

#[test]
fn bcc_is_written_for_the_envelope_and_stripped_for_transmission() {
    let msg = MessageBuilder::new()
        .from(Address::new("a@example.org"))
        .to(Address::new("b@example.org"))
        .bcc(Address::new("hidden@example.org"))
        .text("hi")
        .build()
        .unwrap();
    let env = smtp_mime::envelope_from_headers(&msg.bytes);
    assert_eq!(env.recipients, ["b@example.org", "hidden@example.org"]);
    assert!(!String::from_utf8_lossy(&env.message).contains("hidden@"));
}

#[test]
fn empty_message_is_still_well_formed() {
    let msg = MessageBuilder::new()
        .from(Address::new("a@example.org"))
        .build()
        .unwrap();
    assert_wire_form(&msg);
    let seen = inspect(&msg.bytes);
    assert_eq!(seen.parts.content_type, "text/plain");
    assert!(seen.attachments.is_empty());
}

#[test]
fn attaching_a_missing_file_is_an_io_error_naming_it() {
    let err = MessageBuilder::new()
        .attach_file(std::path::Path::new("/nonexistent/report.pdf"))
        .unwrap_err();
    assert!(matches!(err, smtp_mime::MimeError::Io { .. }));
    assert!(
        err.to_string().starts_with("/nonexistent/report.pdf: "),
        "{err}"
    );
}

//! Reply parsing and serialization: tables of good and bad inputs, limits,
//! incremental feeding, and the teaching texts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use smtp_wire::reply::{
    DEFAULT_MAX_REPLY_LINES, EnhancedCode, MAX_REPLY_LINE, Reply, ReplyError, ReplyParser,
    explain_code,
};

/// Parse exactly one reply that must use all of `input`.
fn parse_one(input: &[u8]) -> Result<Reply, ReplyError> {
    let mut parser = ReplyParser::new();
    let (used, reply) = parser.decode(input)?;
    assert_eq!(used, input.len(), "whole input consumed for {input:?}");
    Ok(reply.unwrap_or_else(|| panic!("no complete reply in {input:?}")))
}

/// Feed `input` with the caller-owned-buffer pattern, `chunk` bytes at a time.
fn parse_chunked(
    input: &[u8],
    chunk: usize,
    parser: &mut ReplyParser,
) -> Result<Vec<Reply>, ReplyError> {
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let (used, reply) = parser.decode(&buf)?;
            buf.drain(..used);
            match reply {
                Some(r) => replies.push(r),
                None => break,
            }
        }
    }
    assert!(buf.is_empty() || replies.is_empty() || !buf.contains(&b'\n'));
    Ok(replies)
}

#[test]
fn good_replies() {
    let e = |c, s, d| Some(EnhancedCode::new(c, s, d));
    // (wire, code, enhanced code, text lines)
    type Case<'a> = (&'a [u8], u16, Option<EnhancedCode>, &'a [&'a str]);
    let table: &[Case] = &[
        (b"250 OK\r\n", 250, None, &["OK"]),
        (
            b"220 mx.example.com ESMTP ready\r\n",
            220,
            None,
            &["mx.example.com ESMTP ready"],
        ),
        // RFC 5321 §4.2: the text is optional; Postfix's smtp-sink sends "250 ".
        (b"250\r\n", 250, None, &[""]),
        (b"250 \r\n", 250, None, &[""]),
        (
            b"250-sink.example\r\n250-PIPELINING\r\n250 \r\n",
            250,
            None,
            &["sink.example", "PIPELINING", ""],
        ),
        (b"250-\r\n250\r\n", 250, None, &["", ""]),
        (
            b"550 5.1.1 No such user\r\n",
            550,
            e(5, 1, 1),
            &["No such user"],
        ),
        (
            b"550-5.1.1 first\r\n550 5.1.1 second\r\n",
            550,
            e(5, 1, 1),
            &["first", "second"],
        ),
        (b"451 4.3.0\r\n", 451, e(4, 3, 0), &[""]),
        (b"250-2.0.0\r\n250 2.0.0 \r\n", 250, e(2, 0, 0), &["", ""]),
        (
            b"250 2.1.0  two spaces\r\n",
            250,
            e(2, 1, 0),
            &[" two spaces"],
        ),
        (
            b"535 5.7.8 Authentication credentials invalid\r\n",
            535,
            e(5, 7, 8),
            &["Authentication credentials invalid"],
        ),
        (
            b"554 5.7.123 three-digit detail\r\n",
            554,
            e(5, 7, 123),
            &["three-digit detail"],
        ),
        // Class must match the code's first digit (RFC 3463 §2), else it is text.
        (
            b"250 5.1.1 not enhanced\r\n",
            250,
            None,
            &["5.1.1 not enhanced"],
        ),
        // RFC 3463 has no class 3: 334/354 texts are never enhanced codes.
        (b"334 3.0.0\r\n", 334, None, &["3.0.0"]),
        (
            b"354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            354,
            None,
            &["Start mail input; end with <CRLF>.<CRLF>"],
        ),
        (b"334 VXNlcm5hbWU6\r\n", 334, None, &["VXNlcm5hbWU6"]),
        // Leading zeros are not RFC 3463 syntax: kept as text.
        (b"550 5.01.1 x\r\n", 550, None, &["5.01.1 x"]),
        // A later line with a different enhanced code keeps it as text.
        (
            b"550-5.1.1 a\r\n550 5.2.2 b\r\n",
            550,
            e(5, 1, 1),
            &["a", "5.2.2 b"],
        ),
        // Bare LF line ends are accepted (documented leniency).
        (b"250-a\n250 b\n", 250, None, &["a", "b"]),
        (b"250 tab\there\r\n", 250, None, &["tab\there"]),
        (b"250 Gr\xc3\xbc\xc3\x9fe\r\n", 250, None, &["Grüße"]),
        (b"599 top of range\r\n", 599, None, &["top of range"]),
        (b"200 bottom of range\r\n", 200, None, &["bottom of range"]),
    ];
    for (input, code, enhanced, lines) in table {
        let reply = parse_one(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(reply.code, *code, "{input:?}");
        assert_eq!(reply.enhanced, *enhanced, "{input:?}");
        assert_eq!(reply.lines().collect::<Vec<_>>(), *lines, "{input:?}");
    }
}

#[test]
fn invalid_utf8_text_is_replaced_not_rejected() {
    let reply = parse_one(b"250 caf\xe9\r\n").unwrap();
    assert_eq!(reply.text(), "caf\u{fffd}");
}

#[test]
fn bad_replies() {
    let table: &[(&[u8], ReplyError)] = &[
        (b"25O ok\r\n", ReplyError::BadCode("25O ok".into())),
        (b"ok\r\n", ReplyError::BadCode("ok".into())),
        (b"\r\n", ReplyError::BadCode(String::new())),
        (b"25\r\n", ReplyError::BadCode("25".into())),
        (b" 250 ok\r\n", ReplyError::BadCode(" 250 ok".into())),
        (b"199 too low\r\n", ReplyError::CodeOutOfRange(199)),
        (b"100 x\r\n", ReplyError::CodeOutOfRange(100)),
        (b"600 too high\r\n", ReplyError::CodeOutOfRange(600)),
        (b"000\r\n", ReplyError::CodeOutOfRange(0)),
        (b"999\r\n", ReplyError::CodeOutOfRange(999)),
        (
            b"250-a\r\n251 b\r\n",
            ReplyError::MixedCodes {
                first: 250,
                then: 251,
            },
        ),
        (
            b"250-a\r\n250-b\r\n550 c\r\n",
            ReplyError::MixedCodes {
                first: 250,
                then: 550,
            },
        ),
        (b"2500 ok\r\n", ReplyError::BadSeparator),
        (b"250x\r\n", ReplyError::BadSeparator),
        (b"250\tok\r\n", ReplyError::BadSeparator),
        (b"250 a\rb\r\n", ReplyError::ControlChar(b'\r')),
        (b"250 ok\r\r\n", ReplyError::ControlChar(b'\r')),
        (b"250 nul\0\r\n", ReplyError::ControlChar(0)),
        (b"250 esc\x1b[31m\r\n", ReplyError::ControlChar(0x1b)),
        (b"250 del\x7f\r\n", ReplyError::ControlChar(0x7f)),
    ];
    for (input, expected) in table {
        let mut parser = ReplyParser::new();
        assert_eq!(
            parser.decode(input).err().as_ref(),
            Some(expected),
            "{input:?}"
        );
        // Byte by byte, the same error comes out.
        let mut parser = ReplyParser::new();
        assert_eq!(
            parse_chunked(input, 1, &mut parser).err().as_ref(),
            Some(expected),
            "{input:?} chunked"
        );
    }
}

#[test]
fn line_length_limit_is_512_including_crlf() {
    // RFC 5321 §4.5.3.1.5: 512 octets including CRLF.
    let exact = [b"250 ".as_slice(), &vec![b'x'; MAX_REPLY_LINE - 6], b"\r\n"].concat();
    assert_eq!(exact.len(), 512);
    assert_eq!(parse_one(&exact).unwrap().text().len(), 506);

    let over = [b"250 ".as_slice(), &vec![b'x'; MAX_REPLY_LINE - 5], b"\r\n"].concat();
    assert_eq!(
        ReplyParser::new().decode(&over),
        Err(ReplyError::LineTooLong)
    );

    // Reported as soon as the limit is passed, without waiting for an LF
    // that may never come (bounded memory).
    let mut parser = ReplyParser::new();
    assert_eq!(parser.decode(&vec![b'2'; 511]), Ok((0, None)));
    assert_eq!(
        parser.decode(&vec![b'2'; 512]),
        Err(ReplyError::LineTooLong)
    );

    // Configurable.
    let mut small = ReplyParser::with_limits(10, 100);
    assert!(small.decode(b"250 abcd\r\n").unwrap().1.is_some()); // 10 octets
    assert_eq!(small.decode(b"250 abcde\r\n"), Err(ReplyError::LineTooLong));
}

#[test]
fn continuation_line_limit() {
    let reply_of = |n: usize| {
        let mut input = Vec::new();
        for i in 0..n {
            let sep = if i + 1 == n { ' ' } else { '-' };
            input.extend_from_slice(format!("250{sep}line {i}\r\n").as_bytes());
        }
        input
    };
    let ok = parse_one(&reply_of(DEFAULT_MAX_REPLY_LINES)).unwrap();
    assert_eq!(ok.line_count(), 100);
    assert_eq!(
        ReplyParser::new().decode(&reply_of(101)),
        Err(ReplyError::TooManyLines)
    );

    // An endless run of continuation lines stops at the limit, chunk by chunk.
    let mut parser = ReplyParser::with_limits(512, 5);
    let endless: Vec<u8> = b"250-more\r\n".repeat(1000);
    assert_eq!(
        parse_chunked(&endless, 7, &mut parser),
        Err(ReplyError::TooManyLines)
    );
    let mut parser = ReplyParser::with_limits(512, 5);
    assert_eq!(
        parser.decode(&reply_of(5)).unwrap().1.unwrap().line_count(),
        5
    );
    assert_eq!(parser.decode(&reply_of(6)), Err(ReplyError::TooManyLines));
}

#[test]
fn incremental_any_chunk_size_and_pipelined_replies() {
    let wire = b"220 ready\r\n250-mx\r\n250-PIPELINING\r\n250 2.0.0 \r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go\n";
    let whole = parse_chunked(wire, wire.len(), &mut ReplyParser::new()).unwrap();
    assert_eq!(whole.len(), 4);
    assert_eq!(whole[1].text(), "mx\nPIPELINING\n2.0.0 ");
    assert_eq!(whole[2].to_string(), "550 5.1.1 no / such user");
    for chunk in 1..wire.len() {
        assert_eq!(
            parse_chunked(wire, chunk, &mut ReplyParser::new()).unwrap(),
            whole,
            "chunk {chunk}"
        );
    }
}

#[test]
fn consumes_complete_lines_and_leaves_the_next_reply() {
    let mut parser = ReplyParser::new();
    // A complete continuation line is consumed even though the reply is not complete.
    assert_eq!(parser.decode(b"250-a\r\n250 b"), Ok((7, None)));
    let (used, reply) = parser.decode(b"250 b\r\n221 bye\r\n").unwrap();
    assert_eq!(used, 7);
    assert_eq!(reply.unwrap().text(), "a\nb");
    assert_eq!(parser.decode(b"221 bye\r\n").unwrap().1.unwrap().code, 221);
}

#[test]
fn does_not_rescan_bytes_already_scanned() {
    // White-box check that the scan offset is kept: the caller (wrongly)
    // changes bytes the parser already looked at; since it does not look at
    // them again, the LF planted there is not seen.
    let mut parser = ReplyParser::new();
    assert_eq!(parser.decode(b"250 abc"), Ok((0, None)));
    // Rescanning would find "250 " + LF at offset 4 and return a reply; the
    // parser instead continues from offset 7, so its line is "250 \nbcd".
    assert_eq!(
        parser.decode(b"250 \nbcd\r\n"),
        Err(ReplyError::ControlChar(b'\n'))
    );
}

#[test]
fn error_resets_the_parser() {
    let mut parser = ReplyParser::new();
    assert!(parser.decode(b"250-a\r\n251 b\r\n").is_err());
    let (_, reply) = parser.decode(b"250 fresh\r\n").unwrap();
    assert_eq!(reply.unwrap().text(), "fresh");
}

#[test]
fn serialize_forms() {
    let e = EnhancedCode::new(2, 1, 5);
    let table: &[(Reply, &[u8])] = &[
        (Reply::new(250, "OK"), b"250 OK\r\n"),
        (Reply::new(250, ""), b"250 \r\n"),
        (Reply::new(334, ""), b"334 \r\n"),
        (Reply::new(250, "a\nb\nc"), b"250-a\r\n250-b\r\n250 c\r\n"),
        (Reply::new(250, "a\n"), b"250 a\r\n"),
        (Reply::new(250, "a\n\nb"), b"250-a\r\n250-\r\n250 b\r\n"),
        (Reply::new(221, "bye\r\n"), b"221 bye\r\n"),
        (Reply::enhanced(250, e, "ok"), b"250 2.1.5 ok\r\n"),
        (Reply::enhanced(250, e, ""), b"250 2.1.5\r\n"),
        (
            Reply::enhanced(250, e, "x\ny"),
            b"250-2.1.5 x\r\n250 2.1.5 y\r\n",
        ),
        // Class mismatch: the enhanced code is left out (RFC 3463 §2).
        (
            Reply::enhanced(250, EnhancedCode::new(5, 1, 1), "x"),
            b"250 x\r\n",
        ),
        // Out-of-range code: written as 451 so the wire stays valid.
        (Reply::new(99, "bug"), b"451 bug\r\n"),
        (Reply::new(1000, "bug"), b"451 bug\r\n"),
        (Reply::from_lines(250, [""; 0]), b"250 \r\n"),
        // Text set directly with a newline or CR inside still cannot break the reply.
        (
            Reply::from_lines(250, ["a\r\n250 injected"]),
            b"250-a\r\n250 250 injected\r\n",
        ),
        (
            Reply::from_lines(550, ["bell\x07 cr\r nul\0"]),
            b"550 bell? cr nul?\r\n",
        ),
    ];
    for (reply, wire) in table {
        assert_eq!(reply.to_bytes(), *wire, "{reply:?}");
    }
    // Reply::new sanitizes too, so the value equals what goes on the wire.
    assert_eq!(Reply::new(250, "a\rb\x1bc").text(), "ab?c");
}

#[test]
fn display_and_classes() {
    assert_eq!(Reply::new(250, "").to_string(), "250");
    assert_eq!(
        Reply::enhanced(550, EnhancedCode::new(5, 1, 1), "No such user").to_string(),
        "550 5.1.1 No such user"
    );
    assert_eq!(Reply::new(250, "a\nb").to_string(), "250 a / b");
    assert_eq!(Reply::new(250, "a\nb").text(), "a\nb");
    let classes = |c| {
        let r = Reply::new(c, "");
        (
            r.is_positive(),
            r.is_intermediate(),
            r.is_transient(),
            r.is_permanent(),
        )
    };
    assert_eq!(classes(250), (true, false, false, false));
    assert_eq!(classes(354), (false, true, false, false));
    assert_eq!(classes(421), (false, false, true, false));
    assert_eq!(classes(554), (false, false, false, true));
}

#[test]
fn enhanced_code_syntax() {
    for good in ["2.0.0", "5.1.1", "4.7.0", "5.7.123", "5.999.999", "5.10.0"] {
        let code: EnhancedCode = good.parse().unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(code.to_string(), good);
    }
    for bad in [
        "", "5", "5.1", "5.1.1.1", "3.0.0", "1.0.0", "6.0.0", "5.01.1", "5.1.01", "5.1000.1",
        "5.1.1000", "5..1", "a.b.c", "5.1.1 ", " 5.1.1", "+5.1.1", "5.-1.1", "٥.1.1",
    ] {
        assert!(bad.parse::<EnhancedCode>().is_err(), "{bad:?} accepted");
    }
}

#[test]
fn every_basic_code_has_its_own_explanation() {
    // RFC 5321 §4.2.2-§4.2.3 plus RFC 3207 / RFC 4954 / RFC 7504 codes.
    let codes = [
        211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 432, 450, 451, 452, 454, 455, 500,
        501, 502, 503, 504, 521, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556,
    ];
    let class_texts = [
        explain_code(299),
        explain_code(399),
        explain_code(499),
        explain_code(599),
    ];
    let mut seen = std::collections::HashSet::new();
    for code in codes {
        let text = explain_code(code);
        assert!(
            !class_texts.contains(&text),
            "{code} falls back to its class"
        );
        assert!(seen.insert(text), "{code} shares its text");
    }
    assert!(explain_code(354).contains("<CRLF>.<CRLF>"));
    assert!(explain_code(299).starts_with("Positive completion"));
    assert!(explain_code(100).starts_with("Not an SMTP reply code"));
    assert!(explain_code(600).starts_with("Not an SMTP reply code"));
    assert_eq!(Reply::new(535, "").explain(), explain_code(535));
}

#[test]
fn every_enhanced_code_has_its_own_explanation() {
    // RFC 3463 §3.2-§3.9: every subject.detail defined there...
    let mut codes: Vec<(u16, u16)> = vec![(0, 0)];
    for (subject, last) in [(1, 8), (2, 4), (3, 5), (4, 7), (5, 5), (6, 5), (7, 7)] {
        codes.extend((0..=last).map(|d| (subject, d)));
    }
    // ...and later additions: RFC 4954 (5.5.6, 5.7.8, 5.7.9, 5.7.11, 4.7.12),
    // RFC 6531 (5.6.7-5.6.9), RFC 7505 (5.1.10, 5.7.27), RFC 4468 (5.6.6).
    codes.extend([
        (5, 6),
        (7, 8),
        (7, 9),
        (7, 11),
        (7, 12),
        (6, 7),
        (6, 8),
        (6, 9),
        (1, 10),
        (7, 27),
        (6, 6),
    ]);
    let mut seen = std::collections::HashSet::new();
    for (subject, detail) in codes {
        let code = EnhancedCode::new(5, subject, detail);
        let text = code.explain();
        if detail != 0 {
            let fallback = EnhancedCode::new(5, subject, 999).explain();
            assert_ne!(text, fallback, "{code} falls back to its subject");
        }
        assert!(seen.insert(text), "{code} shares its text");
    }
    assert_eq!(
        EnhancedCode::new(5, 1, 1).explain_class(),
        "Permanent failure"
    );
    assert_eq!(
        EnhancedCode::new(4, 2, 2).explain_class(),
        "Persistent transient failure"
    );
    assert_eq!(EnhancedCode::new(2, 0, 0).explain_class(), "Success");
    assert!(
        EnhancedCode::new(5, 7, 8)
            .explain()
            .contains("credentials invalid")
    );
    assert!(
        EnhancedCode::new(5, 7, 0)
            .explain()
            .contains("authentication required")
    );
    assert!(
        EnhancedCode::new(5, 7, 11)
            .explain()
            .contains("Encryption required")
    );
    assert!(
        EnhancedCode::new(5, 6, 7)
            .explain()
            .contains("Non-ASCII addresses")
    );
    assert!(
        EnhancedCode::new(5, 1, 1)
            .describe()
            .starts_with("Permanent failure: Bad destination mailbox")
    );
    assert!(
        EnhancedCode::new(5, 42, 1)
            .explain()
            .starts_with("Unknown subject")
    );
}

#[test]
fn c1_controls_are_refused_like_c0_controls() {
    // U+0085 (NEL) encoded in UTF-8: a control the serializer would never write.
    let err = smtp_wire::ReplyParser::new()
        .decode("250 ok\u{85}then\r\n".as_bytes())
        .unwrap_err();
    assert!(
        matches!(err, smtp_wire::ReplyError::ControlChar(0x85)),
        "{err:?}"
    );
}

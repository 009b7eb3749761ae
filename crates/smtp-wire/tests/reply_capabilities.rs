//! EHLO capabilities in both directions (RFC 5321 §4.1.1.1).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use smtp_wire::capability::{Capabilities, Capability};
use smtp_wire::reply::{Reply, ReplyParser};

fn parse_wire(wire: &[u8]) -> Reply {
    let (used, reply) = ReplyParser::new().decode(wire).unwrap();
    assert_eq!(used, wire.len());
    reply.unwrap()
}

#[test]
fn postfix_style_ehlo_reply() {
    let wire = b"250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n\
250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n\
250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";
    let caps = Capabilities::from_ehlo_reply(&parse_wire(wire));
    assert_eq!(caps.domain(), "mail.example.com");
    assert_eq!(
        caps.list().collect::<Vec<_>>(),
        [
            Capability::Pipelining,
            Capability::Size(Some(10_240_000)),
            Capability::Other {
                keyword: "VRFY".into(),
                params: vec![]
            },
            Capability::Other {
                keyword: "ETRN".into(),
                params: vec![]
            },
            Capability::StartTls,
            Capability::Auth(vec!["PLAIN".into(), "LOGIN".into()]),
            Capability::Other {
                keyword: "AUTH=PLAIN".into(),
                params: vec!["LOGIN".into()]
            },
            Capability::EnhancedStatusCodes,
            Capability::EightBitMime,
            Capability::Dsn,
            Capability::SmtpUtf8,
            Capability::Chunking,
        ]
    );
    assert!(caps.has("starttls") && caps.has("Chunking") && caps.has("vrfy"));
    assert!(!caps.has("BINARYMIME") && !caps.has("HELP"));
    assert_eq!(caps.size_limit(), Some(10_240_000));
    assert_eq!(caps.auth_mechanisms(), ["PLAIN", "LOGIN"]);
}

#[test]
fn smtp_sink_ehlo_reply_ends_with_an_empty_line() {
    // Postfix's smtp-sink ends its EHLO reply with a bare "250 ".
    let caps = Capabilities::from_ehlo_reply(&parse_wire(
        b"250-sink.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 \r\n",
    ));
    assert_eq!(caps.domain(), "sink.example");
    assert_eq!(
        caps.list().collect::<Vec<_>>(),
        [Capability::Pipelining, Capability::EightBitMime]
    );
    // A line of Unicode white space (here U+00A0) is blank too.
    let caps = Capabilities::from_ehlo_reply(&parse_wire(
        b"250-sink.example\r\n250-\xc2\xa0\r\n250 8BITMIME\r\n",
    ));
    assert_eq!(caps.list().collect::<Vec<_>>(), [Capability::EightBitMime]);
}

#[test]
fn transcript_lines_are_read_as_written() {
    // From a transcript, a CR inside a line separates keyword and number as
    // any ASCII white space does: nothing is sanitized before reading.
    let caps = Capabilities::from_ehlo_lines(["mx", "SIZE\r1000", "\u{0c}", "PIPELINING"]);
    assert_eq!(
        caps.list().collect::<Vec<_>>(),
        [Capability::Size(Some(1000)), Capability::Pipelining]
    );
    assert_eq!(Capabilities::from_ehlo_lines([]), Capabilities::default());
}

#[test]
fn single_line_reply_has_no_capabilities() {
    let caps = Capabilities::from_ehlo_reply(&parse_wire(b"250 old.example Hello\r\n"));
    assert_eq!(caps.domain(), "old.example Hello");
    assert!(caps.is_empty());
    assert_eq!(caps.size_limit(), None);
    assert!(caps.auth_mechanisms().is_empty());
}

#[test]
fn parse_table() {
    let other = |k: &str, p: &[&str]| Capability::Other {
        keyword: k.into(),
        params: p.iter().map(|s| s.to_string()).collect(),
    };
    let table = [
        ("PIPELINING", Capability::Pipelining),
        ("pipelining", Capability::Pipelining),
        ("SIZE", Capability::Size(None)),
        ("SIZE 0", Capability::Size(Some(0))),
        ("Size 35882577", Capability::Size(Some(35_882_577))),
        (
            "SIZE 18446744073709551615",
            Capability::Size(Some(u64::MAX)),
        ),
        (
            "SIZE 18446744073709551616",
            other("SIZE", &["18446744073709551616"]),
        ),
        ("SIZE abc", other("SIZE", &["abc"])),
        ("SIZE -1", other("SIZE", &["-1"])),
        ("SIZE 1 2", other("SIZE", &["1", "2"])),
        ("8BITMIME", Capability::EightBitMime),
        ("SMTPUTF8", Capability::SmtpUtf8),
        ("CHUNKING", Capability::Chunking),
        ("BINARYMIME", Capability::BinaryMime),
        ("STARTTLS", Capability::StartTls),
        ("ENHANCEDSTATUSCODES", Capability::EnhancedStatusCodes),
        ("DSN", Capability::Dsn),
        ("HELP", Capability::Help),
        ("AUTH", Capability::Auth(vec![])),
        (
            "AUTH plain  cram-md5 XOAUTH2",
            Capability::Auth(vec!["PLAIN".into(), "CRAM-MD5".into(), "XOAUTH2".into()]),
        ),
        // A keyword-only capability with parameters is kept verbatim.
        ("STARTTLS now", other("STARTTLS", &["now"])),
        ("X-EXPS GSSAPI NTLM", other("X-EXPS", &["GSSAPI", "NTLM"])),
        ("", other("", &[])),
        ("AUTHé", other("AUTHé", &[])),
    ];
    for (line, expected) in table {
        assert_eq!(Capability::parse(line), expected, "{line:?}");
    }
}

#[test]
fn display_and_keyword_round_trip() {
    let caps = [
        Capability::Pipelining,
        Capability::Size(None),
        Capability::Size(Some(1000)),
        Capability::EightBitMime,
        Capability::SmtpUtf8,
        Capability::Chunking,
        Capability::BinaryMime,
        Capability::StartTls,
        Capability::EnhancedStatusCodes,
        Capability::Dsn,
        Capability::Help,
        Capability::Auth(vec![]),
        Capability::Auth(vec!["PLAIN".into(), "LOGIN".into()]),
        Capability::Other {
            keyword: "XCLIENT".into(),
            params: vec!["NAME".into(), "ADDR".into()],
        },
    ];
    for cap in caps {
        let line = cap.to_string();
        assert!(line.starts_with(cap.keyword()));
        assert_eq!(Capability::parse(&line), cap, "{line}");
    }
    assert_eq!(Capability::Size(Some(10)).to_string(), "SIZE 10");
    assert_eq!(
        Capability::Auth(vec!["PLAIN".into()]).to_string(),
        "AUTH PLAIN"
    );
}

#[test]
fn receiver_reply_round_trips_through_the_wire() {
    let mut caps = Capabilities::new("mx.example.com greets client.example");
    caps.extend([
        Capability::Pipelining,
        Capability::Size(Some(26_214_400)),
        Capability::EightBitMime,
        Capability::StartTls,
        Capability::Auth(vec!["PLAIN".into()]),
        Capability::EnhancedStatusCodes,
        Capability::Help,
    ]);
    let reply = caps.to_reply();
    assert_eq!(reply.code, 250);
    assert_eq!(
        reply.enhanced, None,
        "RFC 2034 §4: no enhanced code on the EHLO reply"
    );
    let wire = reply.to_bytes();
    assert!(wire.starts_with(b"250-mx.example.com greets client.example\r\n250-PIPELINING\r\n"));
    assert!(wire.ends_with(b"250 HELP\r\n"));
    assert_eq!(Capabilities::from_ehlo_reply(&parse_wire(&wire)), caps);

    // No capabilities: a one-line reply.
    let bare = Capabilities::new("mx");
    assert_eq!(bare.to_reply().to_bytes(), b"250 mx\r\n");
}

#[test]
fn size_and_auth_edge_cases() {
    let caps = |lines: &[&str]| Capabilities::from_ehlo_reply(&Reply::from_lines(250, lines));
    assert_eq!(
        caps(&["d", "SIZE 0"]).size_limit(),
        None,
        "RFC 1870: 0 = no fixed limit"
    );
    assert_eq!(caps(&["d", "SIZE"]).size_limit(), None);
    assert_eq!(caps(&["d", "SIZE x"]).size_limit(), None);
    assert!(caps(&["d", "SIZE x"]).has("size"));
    // Old servers advertise only the pre-standard form.
    assert_eq!(
        caps(&["d", "AUTH=login PLAIN"]).auth_mechanisms(),
        ["LOGIN", "PLAIN"]
    );
    assert_eq!(
        caps(&["d", "AUTH LOGIN", "AUTH=LOGIN PLAIN"]).auth_mechanisms(),
        ["LOGIN", "PLAIN"]
    );
    // Non-ASCII after "AUTH=" must not panic (byte-wise slicing); an empty
    // "AUTH=" offers nothing; SASL names are upper-cased ASCII-wise only.
    assert_eq!(caps(&["d", "AUTH=", "AUTH=é"]).auth_mechanisms(), ["é"]);
}

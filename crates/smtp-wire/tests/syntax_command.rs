//! Unit tables for the command parser and serializer (RFC 821 §4.1,
//! RFC 5321 §4.1.1, RFC 3207, RFC 4954, RFC 3030) and the replies for parse
//! errors (RFC 5321 §4.2, RFC 3463).

// Tests may unwrap: a panic is the failure report (the workspace lints warn on it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use smtp_wire::command::{Command, CommandError};
use smtp_wire::param::{Body, MailParams, Notify, RcptParams};
use smtp_wire::path::{Domain, ForwardPath, Mailbox, PathError, ReversePath};

fn mailbox(s: &str) -> Mailbox {
    Mailbox::parse(s).unwrap()
}

#[test]
fn every_command_parses_and_serializes() {
    // (input, expected value, canonical serialization)
    let table: Vec<(&str, Command, &str)> = vec![
        (
            "HELO client.example",
            Command::Helo(Domain::Name("client.example".into())),
            "HELO client.example",
        ),
        (
            "EHLO client.example",
            Command::Ehlo(Domain::Name("client.example".into())),
            "EHLO client.example",
        ),
        (
            "EHLO [192.0.2.1]",
            Command::Ehlo(Domain::parse("[192.0.2.1]").unwrap()),
            "EHLO [192.0.2.1]",
        ),
        (
            "helo [IPv6:::1]",
            Command::Helo(Domain::parse("[IPv6:::1]").unwrap()),
            "HELO [IPv6:::1]",
        ),
        (
            "MAIL FROM:<a@example.com>",
            Command::Mail {
                from: ReversePath::Mailbox(mailbox("a@example.com")),
                params: MailParams::default(),
            },
            "MAIL FROM:<a@example.com>",
        ),
        (
            "MAIL FROM:<>",
            Command::Mail {
                from: ReversePath::Null,
                params: MailParams::default(),
            },
            "MAIL FROM:<>",
        ),
        (
            "MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME",
            Command::Mail {
                from: ReversePath::Mailbox(mailbox("a@example.com")),
                params: MailParams {
                    size: Some(100),
                    body: Some(Body::EightBitMime),
                    ..Default::default()
                },
            },
            "MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME",
        ),
        (
            "RCPT TO:<b@example.com>",
            Command::Rcpt {
                to: ForwardPath::Mailbox(mailbox("b@example.com")),
                params: RcptParams::default(),
            },
            "RCPT TO:<b@example.com>",
        ),
        (
            "RCPT TO:<Postmaster>",
            Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: RcptParams::default(),
            },
            "RCPT TO:<Postmaster>",
        ),
        (
            "RCPT TO:<b@example.com> NOTIFY=NEVER",
            Command::Rcpt {
                to: ForwardPath::Mailbox(mailbox("b@example.com")),
                params: RcptParams {
                    notify: Some(Notify::default()),
                    ..Default::default()
                },
            },
            "RCPT TO:<b@example.com> NOTIFY=NEVER",
        ),
        ("DATA", Command::Data, "DATA"),
        (
            "BDAT 1000",
            Command::Bdat {
                size: 1000,
                last: false,
            },
            "BDAT 1000",
        ),
        (
            "BDAT 0 LAST",
            Command::Bdat {
                size: 0,
                last: true,
            },
            "BDAT 0 LAST",
        ),
        (
            "bdat 18446744073709551615 last",
            Command::Bdat {
                size: u64::MAX,
                last: true,
            },
            "BDAT 18446744073709551615 LAST",
        ),
        ("RSET", Command::Rset, "RSET"),
        ("QUIT", Command::Quit, "QUIT"),
        ("STARTTLS", Command::StartTls, "STARTTLS"),
        ("StartTLS", Command::StartTls, "STARTTLS"),
        ("TURN", Command::Turn, "TURN"),
        (
            "SEND FROM:<a@example.com>",
            Command::Send(ReversePath::Mailbox(mailbox("a@example.com"))),
            "SEND FROM:<a@example.com>",
        ),
        (
            "SOML FROM:<>",
            Command::Soml(ReversePath::Null),
            "SOML FROM:<>",
        ),
        (
            "saml from:<a@example.com>",
            Command::Saml(ReversePath::Mailbox(mailbox("a@example.com"))),
            "SAML FROM:<a@example.com>",
        ),
        ("VRFY Smith", Command::Vrfy("Smith".into()), "VRFY Smith"),
        (
            "VRFY <smith@example.com>",
            Command::Vrfy("<smith@example.com>".into()),
            "VRFY <smith@example.com>",
        ),
        (
            "EXPN Example-People",
            Command::Expn("Example-People".into()),
            "EXPN Example-People",
        ),
        (
            "EXPN \"John Smith\"",
            Command::Expn("\"John Smith\"".into()),
            "EXPN \"John Smith\"",
        ),
        ("HELP", Command::Help(None), "HELP"),
        ("HELP MAIL", Command::Help(Some("MAIL".into())), "HELP MAIL"),
        ("NOOP", Command::Noop(None), "NOOP"),
        (
            "NOOP anything at all",
            Command::Noop(Some("anything at all".into())),
            "NOOP anything at all",
        ),
        (
            "AUTH PLAIN",
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: None,
            },
            "AUTH PLAIN",
        ),
        (
            "auth plain AHVzZXIAcGFzcw==",
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some("AHVzZXIAcGFzcw==".into()),
            },
            "AUTH PLAIN AHVzZXIAcGFzcw==",
        ),
        (
            "AUTH EXTERNAL =",
            Command::Auth {
                mechanism: "EXTERNAL".into(),
                initial_response: Some("=".into()),
            },
            "AUTH EXTERNAL =",
        ),
        (
            "AUTH SCRAM-SHA-256",
            Command::Auth {
                mechanism: "SCRAM-SHA-256".into(),
                initial_response: None,
            },
            "AUTH SCRAM-SHA-256",
        ),
    ];
    for (input, want, canonical) in table {
        let got = Command::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got, want, "{input:?}");
        assert_eq!(got.to_string(), canonical, "{input:?}");
        let mut wire = Vec::new();
        got.write_to(&mut wire);
        assert_eq!(wire, format!("{canonical}\r\n").into_bytes(), "{input:?}");
        assert_eq!(
            Command::parse(canonical.as_bytes()).unwrap(),
            want,
            "{canonical:?}"
        );
        assert_eq!(
            got.verb(),
            canonical.split(' ').next().unwrap(),
            "{input:?}"
        );
    }
}

#[test]
fn verbs_are_case_insensitive() {
    // RFC 5321 §2.4.
    for line in [
        "mail from:<a@b>",
        "Mail From:<a@b>",
        "MAIL FROM:<a@b>",
        "mAiL fRoM:<a@b>",
    ] {
        let cmd = Command::parse(line.as_bytes()).unwrap();
        assert_eq!(cmd.to_string(), "MAIL FROM:<a@b>", "{line}");
    }
    for line in ["rcpt to:<a@b>", "RCPT To:<a@b>", "Rcpt tO:<a@b>"] {
        assert_eq!(
            Command::parse(line.as_bytes()).unwrap().to_string(),
            "RCPT TO:<a@b>",
            "{line}"
        );
    }
    for verb in ["data", "Data", "dAtA"] {
        assert_eq!(Command::parse(verb.as_bytes()), Ok(Command::Data));
    }
    assert_eq!(
        Command::parse(b"rcpt to:<postmaster>").unwrap().to_string(),
        "RCPT TO:<Postmaster>"
    );
}

#[test]
fn one_space_after_the_colon_is_tolerated() {
    // Documented leniency: RFC 5321 §3.3 forbids it, many clients send it.
    assert_eq!(
        Command::parse(b"MAIL FROM: <a@b>").unwrap().to_string(),
        "MAIL FROM:<a@b>"
    );
    assert_eq!(
        Command::parse(b"RCPT TO: <a@b> NOTIFY=NEVER")
            .unwrap()
            .to_string(),
        "RCPT TO:<a@b> NOTIFY=NEVER"
    );
    assert_eq!(
        Command::parse(b"MAIL FROM: <>").unwrap().to_string(),
        "MAIL FROM:<>"
    );
    // ... but only one, and never before the colon.
    for line in [
        "MAIL FROM:  <a@b>",
        "MAIL FROM :<a@b>",
        "RCPT TO :<a@b>",
        "MAIL  FROM:<a@b>",
    ] {
        assert!(
            Command::parse(line.as_bytes()).is_err(),
            "{line:?} was accepted"
        );
    }
}

/// What kind of error a table row expects, with the reply it must produce.
struct Bad {
    line: &'static str,
    message: &'static str,
    code: u16,
    enhanced: &'static str,
}

const fn bad(line: &'static str, message: &'static str, code: u16, enhanced: &'static str) -> Bad {
    Bad {
        line,
        message,
        code,
        enhanced,
    }
}

#[test]
fn bad_commands_get_the_standard_reply() {
    let table = [
        bad("", "empty command line", 500, "5.5.2"),
        bad("   ", "empty command line", 500, "5.5.2"),
        bad("FOO", "unknown command \"FOO\"", 500, "5.5.1"),
        bad("FOO bar", "unknown command \"FOO\"", 500, "5.5.1"),
        bad(
            "MAILFROM:<a@b>",
            "unknown command \"MAILFROM:<a@b>\"",
            500,
            "5.5.1",
        ),
        bad(
            "MAIL\tFROM:<a@b>",
            "unknown command \"MAIL?FROM:<a@b>\"",
            500,
            "5.5.1",
        ),
        bad(
            "XVERYLONGVERBNAMEISCUT",
            "unknown command \"XVERYLONGVERBNAM\"",
            500,
            "5.5.1",
        ),
        bad(" MAIL FROM:<a@b>", "unknown command \"\"", 500, "5.5.1"),
        // Commands without arguments refuse them (RFC 5321 §4.1.1).
        bad("DATA x", "expected \"DATA\"", 501, "5.5.4"),
        bad("DATA ", "expected \"DATA\"", 501, "5.5.4"),
        bad("RSET now", "expected \"RSET\"", 501, "5.5.4"),
        bad("QUIT please", "expected \"QUIT\"", 501, "5.5.4"),
        bad("STARTTLS x", "expected \"STARTTLS\"", 501, "5.5.4"),
        bad("TURN x", "expected \"TURN\"", 501, "5.5.4"),
        // MAIL.
        bad(
            "MAIL",
            "expected \"MAIL FROM:<reverse-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL FROM",
            "expected \"MAIL FROM:<reverse-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL TO:<a@b>",
            "expected \"MAIL FROM:<reverse-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL FROM:a@b",
            "expected \"MAIL FROM:<reverse-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL FROM:",
            "expected \"MAIL FROM:<reverse-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL <a@b>",
            "expected \"MAIL FROM:<reverse-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL FROM:<a@b",
            "expected \"MAIL FROM:<reverse-path>\": expected \">\" at the end of the path",
            501,
            "5.1.7",
        ),
        bad(
            "MAIL FROM:<a..b@c>",
            "expected \"MAIL FROM:<reverse-path>\": expected an atom before \".\" in the local part",
            501,
            "5.1.7",
        ),
        bad(
            "MAIL FROM:<a@b>x",
            "expected \"MAIL FROM:<reverse-path> [SP <mail-parameters>]\"",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL FROM:<a@b> ",
            "expected \"MAIL FROM:<reverse-path> [SP <mail-parameters>]\"",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL FROM:<a@b> SIZE=abc",
            "invalid SIZE parameter: expected SIZE=<decimal octet count that fits in 64 bits>",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL FROM:<a@b> SIZE=123456789012345678901234567890",
            "invalid SIZE parameter: expected SIZE=<decimal octet count that fits in 64 bits>",
            501,
            "5.5.4",
        ),
        bad(
            "MAIL FROM:<a@b> SIZE=1 SIZE=2",
            "duplicate parameter SIZE",
            501,
            "5.5.4",
        ),
        // RCPT.
        bad("RCPT", "expected \"RCPT TO:<forward-path>\"", 501, "5.5.4"),
        bad(
            "RCPT TO:b@c",
            "expected \"RCPT TO:<forward-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "RCPT FROM:<b@c>",
            "expected \"RCPT TO:<forward-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "RCPT TO:<>",
            "expected \"RCPT TO:<forward-path>\": expected a local part",
            501,
            "5.1.3",
        ),
        bad(
            "RCPT TO:<b@c> NOTIFY=NEVER,SUCCESS",
            "invalid NOTIFY parameter: expected NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY",
            501,
            "5.5.4",
        ),
        // HELO / EHLO.
        bad("EHLO", "expected \"EHLO <domain>\"", 501, "5.5.4"),
        bad("HELO", "expected \"HELO <domain>\"", 501, "5.5.4"),
        bad(
            "EHLO ",
            "expected \"EHLO <domain>\": expected a domain",
            501,
            "5.5.4",
        ),
        bad(
            "EHLO a b",
            "expected \"EHLO <domain>\": expected the end of the domain",
            501,
            "5.5.4",
        ),
        bad(
            "EHLO -bad",
            "expected \"EHLO <domain>\": expected a letter or digit at the start of a domain label",
            501,
            "5.5.4",
        ),
        // VRFY / EXPN / HELP / NOOP.
        bad("VRFY", "expected \"VRFY <string>\"", 501, "5.5.4"),
        bad("VRFY ", "expected \"VRFY <string>\"", 501, "5.5.4"),
        bad("EXPN", "expected \"EXPN <string>\"", 501, "5.5.4"),
        bad("HELP ", "expected \"HELP [<string>]\"", 501, "5.5.4"),
        bad("NOOP \u{1}", "expected \"NOOP [<string>]\"", 501, "5.5.4"),
        bad("NOOP a\rb", "expected \"NOOP [<string>]\"", 501, "5.5.4"),
        // AUTH (RFC 4954 §4).
        bad(
            "AUTH",
            "expected \"AUTH <mechanism> [<initial-response>]\"",
            501,
            "5.5.4",
        ),
        bad(
            "AUTH PL@IN",
            "expected \"AUTH <mechanism> [<initial-response>]\"",
            501,
            "5.5.4",
        ),
        bad(
            "AUTH PLAIN abc",
            "expected \"AUTH <mechanism> [<initial-response>]\"",
            501,
            "5.5.4",
        ),
        bad(
            "AUTH PLAIN ab=c",
            "expected \"AUTH <mechanism> [<initial-response>]\"",
            501,
            "5.5.4",
        ),
        bad(
            "AUTH PLAIN AAAA AAAA",
            "expected \"AUTH <mechanism> [<initial-response>]\"",
            501,
            "5.5.4",
        ),
        bad(
            "AUTH ABCDEFGHIJKLMNOPQRSTU",
            "expected \"AUTH <mechanism> [<initial-response>]\"",
            501,
            "5.5.4",
        ),
        // BDAT (RFC 3030 §2).
        bad(
            "BDAT",
            "expected \"BDAT <chunk-size> [LAST]\"",
            501,
            "5.5.4",
        ),
        bad(
            "BDAT x",
            "expected \"BDAT <chunk-size> [LAST]\"",
            501,
            "5.5.4",
        ),
        bad(
            "BDAT -1",
            "expected \"BDAT <chunk-size> [LAST]\"",
            501,
            "5.5.4",
        ),
        bad(
            "BDAT 10 FIRST",
            "expected \"BDAT <chunk-size> [LAST]\"",
            501,
            "5.5.4",
        ),
        bad(
            "BDAT 10 LAST x",
            "expected \"BDAT <chunk-size> [LAST]\"",
            501,
            "5.5.4",
        ),
        bad(
            "BDAT  10",
            "expected \"BDAT <chunk-size> [LAST]\"",
            501,
            "5.5.4",
        ),
        bad(
            "BDAT 18446744073709551616",
            "expected \"BDAT <chunk-size> [LAST]\"",
            501,
            "5.5.4",
        ),
        bad(
            "BDAT 123456789012345678901234567890",
            "expected \"BDAT <chunk-size> [LAST]\"",
            501,
            "5.5.4",
        ),
        // SEND / SOML / SAML.
        bad(
            "SEND",
            "expected \"SEND FROM:<reverse-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "SOML FROM:<a@b> SIZE=1",
            "expected \"SOML FROM:<reverse-path>\"",
            501,
            "5.5.4",
        ),
        bad(
            "SAML FROM:<a@@b>",
            "expected \"SAML FROM:<reverse-path>\": expected a domain",
            501,
            "5.1.7",
        ),
    ];
    for row in table {
        let err = match Command::parse(row.line.as_bytes()) {
            Ok(cmd) => panic!("{:?} was accepted as {cmd:?}", row.line),
            Err(e) => e,
        };
        assert_eq!(err.to_string(), row.message, "{:?}", row.line);
        let reply = err.reply();
        assert_eq!(reply.code, row.code, "{:?}", row.line);
        assert_eq!(
            reply.enhanced.map(|e| e.to_string()).as_deref(),
            Some(row.enhanced),
            "{:?}",
            row.line
        );
        assert!(reply.is_permanent());
    }
}

#[test]
fn path_length_errors_reply_501() {
    // RFC 5321 §4.5.3.1.10: "501 Path too long".
    let long_local = "l".repeat(65);
    let err = Command::parse(format!("RCPT TO:<{long_local}@example.com>").as_bytes()).unwrap_err();
    assert_eq!(
        err,
        CommandError::Path {
            expected: "RCPT TO:<forward-path>",
            source: PathError::LocalPartTooLong
        }
    );
    let reply = err.reply();
    assert_eq!(
        (reply.code, reply.enhanced.unwrap().to_string()),
        (501, "5.1.3".to_string())
    );
    let err =
        Command::parse(format!("MAIL FROM:<{long_local}@example.com>").as_bytes()).unwrap_err();
    assert_eq!(err.reply().enhanced.unwrap().to_string(), "5.1.7");
    let long_domain = format!("a@{}.example", "d".repeat(250));
    let err = Command::parse(format!("RCPT TO:<{long_domain}>").as_bytes()).unwrap_err();
    assert!(matches!(
        err,
        CommandError::Path {
            source: PathError::DomainTooLong,
            ..
        }
    ));
}

#[test]
fn non_utf8_and_controls_are_refused() {
    let err = Command::parse(b"MAIL FROM:<\xff@example.com>").unwrap_err();
    assert_eq!(err, CommandError::NotUtf8);
    let reply = err.reply();
    assert_eq!(
        (reply.code, reply.enhanced.unwrap().to_string()),
        (500, "5.5.2".to_string())
    );
    for line in [
        &b"MAIL FROM:<a\r@b>"[..],
        b"MAIL FROM:<a@b\r>",
        b"RCPT TO:<a\n@b>",
        b"RCPT TO:<a@b>\r",
        b"RCPT TO:<a@b>\0",
        b"RCPT TO:<a\0@b>",
        b"EHLO a\rb",
        b"DATA\r",
        b"VRFY a\0",
    ] {
        assert!(
            Command::parse(line).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn utf8_paths_parse_and_are_flagged() {
    // RFC 6531: valid UTF-8 is parsed; is_utf8() lets the receiver demand SMTPUTF8.
    let cmd = Command::parse("MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8".as_bytes()).unwrap();
    let Command::Mail { from, params } = cmd else {
        panic!("not MAIL")
    };
    assert!(from.is_utf8());
    assert!(params.smtputf8);
    let Command::Rcpt { to, .. } = Command::parse("RCPT TO:<用户@例子.广告>".as_bytes()).unwrap()
    else {
        panic!("not RCPT")
    };
    assert!(to.is_utf8());
}

#[test]
fn unknown_verb_is_safe_to_echo() {
    let err = Command::parse("BÄD\u{7}\u{1b}[31m stuff".as_bytes()).unwrap_err();
    let CommandError::Unknown(verb) = &err else {
        panic!("{err:?}")
    };
    assert!(verb.bytes().all(|b| b.is_ascii_graphic()), "{verb:?}");
    let reply = err.reply();
    assert_eq!(reply.line_count(), 1);
    assert!(!reply.to_string().contains('\u{1b}'));
}

//! Unit tables for MAIL / RCPT parameters and xtext (RFC 5321 §4.1.2,
//! RFC 1870, RFC 6152, RFC 3030, RFC 6531, RFC 4954 §5, RFC 3461).

// Tests may unwrap: a panic is the failure report (the workspace lints warn on it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use smtp_wire::param::{
    Body, MailParams, Notify, Orcpt, Param, ParamError, RcptParams, Ret, xtext_decode, xtext_encode,
};

#[test]
fn empty_parameter_list_is_default() {
    assert_eq!(MailParams::parse(""), Ok(MailParams::default()));
    assert_eq!(RcptParams::parse(""), Ok(RcptParams::default()));
    assert_eq!(MailParams::default().to_string(), "");
    assert_eq!(RcptParams::default().to_string(), "");
}

#[test]
fn mail_parameters_are_typed() {
    let p = MailParams::parse(
        "SIZE=12345 BODY=8BITMIME SMTPUTF8 AUTH=e+3Dmc2@example.com RET=HDRS ENVID=QQ314159+2B1 X-FOO=bar X-FLAG",
    )
    .unwrap();
    assert_eq!(p.size, Some(12345));
    assert_eq!(p.body, Some(Body::EightBitMime));
    assert!(p.smtputf8);
    assert_eq!(p.auth.as_deref(), Some("e=mc2@example.com"));
    assert_eq!(p.ret, Some(Ret::Hdrs));
    assert_eq!(p.envid.as_deref(), Some("QQ314159+1"));
    assert_eq!(
        p.other,
        vec![
            Param {
                keyword: "X-FOO".into(),
                value: Some("bar".into())
            },
            Param {
                keyword: "X-FLAG".into(),
                value: None
            },
        ]
    );
    assert_eq!(
        p.to_string(),
        "SIZE=12345 BODY=8BITMIME SMTPUTF8 AUTH=e+3Dmc2@example.com RET=HDRS ENVID=QQ314159+2B1 X-FOO=bar X-FLAG"
    );
}

#[test]
fn keywords_and_known_values_are_case_insensitive() {
    let p = MailParams::parse("size=10 body=binarymime smtputf8 ret=full").unwrap();
    assert_eq!(p.size, Some(10));
    assert_eq!(p.body, Some(Body::BinaryMime));
    assert!(p.smtputf8);
    assert_eq!(p.ret, Some(Ret::Full));
    assert_eq!(p.to_string(), "SIZE=10 BODY=BINARYMIME SMTPUTF8 RET=FULL");
    assert_eq!(
        MailParams::parse("Body=7bit").unwrap().body,
        Some(Body::SevenBit)
    );
    let r = RcptParams::parse("notify=success,Failure,DELAY").unwrap();
    assert_eq!(
        r.notify,
        Some(Notify {
            success: true,
            failure: true,
            delay: true
        })
    );
    assert_eq!(r.to_string(), "NOTIFY=SUCCESS,FAILURE,DELAY");
}

#[test]
fn size_edge_values() {
    assert_eq!(MailParams::parse("SIZE=0").unwrap().size, Some(0));
    assert_eq!(
        MailParams::parse(&format!("SIZE={}", u64::MAX))
            .unwrap()
            .size,
        Some(u64::MAX)
    );
    assert_eq!(
        MailParams::parse("SIZE=00000000000000000001").unwrap().size,
        Some(1)
    );
}

/// The kind of error a table row expects.
enum Want {
    Invalid(&'static str),
    Duplicate(&'static str),
    Syntax,
}

impl Want {
    fn matches(&self, e: &ParamError) -> bool {
        match (self, e) {
            (Want::Invalid(want), ParamError::InvalidValue { keyword, .. }) => keyword == want,
            (Want::Duplicate(want), ParamError::Duplicate(keyword)) => keyword == want,
            (Want::Syntax, ParamError::Syntax { .. }) => true,
            _ => false,
        }
    }
}

#[test]
fn malformed_mail_parameters_are_refused() {
    use Want::*;
    let long_envid = format!("ENVID={}", "e".repeat(101));
    let table: &[(&str, Want)] = &[
        ("SIZE=abc", Invalid("SIZE")),
        ("SIZE=", Syntax),
        ("SIZE", Invalid("SIZE")),
        ("SIZE=-1", Invalid("SIZE")),
        ("SIZE=+1", Invalid("SIZE")),
        ("SIZE=1e3", Invalid("SIZE")),
        // 30 digits: refused without overflow.
        ("SIZE=123456789012345678901234567890", Invalid("SIZE")),
        // u64::MAX + 1
        ("SIZE=18446744073709551616", Invalid("SIZE")),
        ("SIZE=99999999999999999999", Invalid("SIZE")),
        ("BODY=9BIT", Invalid("BODY")),
        ("BODY", Invalid("BODY")),
        ("SMTPUTF8=yes", Invalid("SMTPUTF8")),
        ("RET=ALL", Invalid("RET")),
        ("AUTH=not-a-mailbox", Invalid("AUTH")),
        ("AUTH=a+2", Invalid("AUTH")),
        ("AUTH", Invalid("AUTH")),
        ("ENVID=a+0Db", Invalid("ENVID")),
        ("ENVID=+FF", Invalid("ENVID")),
        (&long_envid, Invalid("ENVID")),
        // Duplicates, compared case-insensitively.
        ("SIZE=1 SIZE=2", Duplicate("SIZE")),
        ("SIZE=1 size=1", Duplicate("SIZE")),
        ("BODY=7BIT BODY=7BIT", Duplicate("BODY")),
        ("SMTPUTF8 SMTPUTF8", Duplicate("SMTPUTF8")),
        ("RET=FULL RET=HDRS", Duplicate("RET")),
        ("ENVID=a ENVID=b", Duplicate("ENVID")),
        ("AUTH=<> AUTH=<>", Duplicate("AUTH")),
        ("X-A=1 x-a=2", Duplicate("x-a")),
        // esmtp-param grammar (RFC 5321 §4.1.2).
        (" SIZE=1", Syntax),
        ("SIZE=1 ", Syntax),
        ("SIZE=1  BODY=7BIT", Syntax),
        ("-X=1", Syntax),
        ("X_Y=1", Syntax),
        ("=1", Syntax),
        ("X=a=b", Syntax),
        ("X=a\tb", Syntax),
        ("X=a\rb", Syntax),
        ("X=a\0b", Syntax),
        ("X=\u{85}", Syntax),
        ("X\u{e9}=1", Syntax),
    ];
    for (input, want) in table {
        match MailParams::parse(input) {
            Ok(p) => panic!("{input:?} was accepted: {p:?}"),
            Err(e) => assert!(want.matches(&e), "{input:?}: unexpected error {e:?}"),
        }
    }
}

#[test]
fn auth_parameter_accepts_mailbox_or_null() {
    assert_eq!(
        MailParams::parse("AUTH=<>").unwrap().auth.as_deref(),
        Some("<>")
    );
    let p = MailParams::parse("AUTH=user+2Btag@example.com").unwrap();
    assert_eq!(p.auth.as_deref(), Some("user+tag@example.com"));
    assert_eq!(p.to_string(), "AUTH=user+2Btag@example.com");
}

#[test]
fn rcpt_parameters_are_typed() {
    let r =
        RcptParams::parse("NOTIFY=FAILURE,DELAY ORCPT=rfc822;Bob+2Bx@Example.COM X-Y=z").unwrap();
    assert_eq!(
        r.notify,
        Some(Notify {
            success: false,
            failure: true,
            delay: true
        })
    );
    assert_eq!(
        r.orcpt,
        Some(Orcpt {
            addr_type: "rfc822".into(),
            addr: "Bob+x@Example.COM".into()
        })
    );
    assert_eq!(
        r.other,
        vec![Param {
            keyword: "X-Y".into(),
            value: Some("z".into())
        }]
    );
    assert_eq!(
        r.to_string(),
        "NOTIFY=FAILURE,DELAY ORCPT=rfc822;Bob+2Bx@Example.COM X-Y=z"
    );

    let never = RcptParams::parse("NOTIFY=NEVER").unwrap();
    assert_eq!(never.notify, Some(Notify::default()));
    assert_eq!(never.to_string(), "NOTIFY=NEVER");
    // RFC 6533 utf-8 address type: the value after decoding may be UTF-8.
    let utf8 = RcptParams::parse("ORCPT=utf-8;+C3+BCser@example.com").unwrap();
    assert_eq!(utf8.orcpt.unwrap().addr, "üser@example.com");
}

#[test]
fn malformed_rcpt_parameters_are_refused() {
    let table: &[&str] = &[
        "NOTIFY=NEVER,SUCCESS",
        "NOTIFY=SUCCESS,NEVER",
        "NOTIFY=",
        "NOTIFY",
        "NOTIFY=SOMETIMES",
        "NOTIFY=SUCCESS,",
        "NOTIFY=,SUCCESS",
        "NOTIFY=SUCCESS NOTIFY=FAILURE",
        "ORCPT=rfc822",
        "ORCPT=;a@b",
        "ORCPT=rfc822;",
        "ORCPT=rf(c;a@b",
        "ORCPT=rfc822;a+0Ab",
        "ORCPT=rfc822;a+zz",
        "ORCPT=rfc822;a@b ORCPT=rfc822;c@d",
        "X=1 X=2",
        "",
    ];
    for input in &table[..table.len() - 1] {
        assert!(RcptParams::parse(input).is_err(), "{input:?} was accepted");
    }
    let long = format!("ORCPT=rfc822;{}", "a".repeat(500));
    assert!(RcptParams::parse(&long).is_err());
}

#[test]
fn mail_only_keywords_are_unknown_to_rcpt_and_vice_versa() {
    // A receiver answers 555 for these (RFC 5321 §4.1.1.11); the parser keeps them.
    let r = RcptParams::parse("SIZE=10").unwrap();
    assert_eq!(
        r.other,
        vec![Param {
            keyword: "SIZE".into(),
            value: Some("10".into())
        }]
    );
    let m = MailParams::parse("NOTIFY=NEVER").unwrap();
    assert_eq!(
        m.other,
        vec![Param {
            keyword: "NOTIFY".into(),
            value: Some("NEVER".into())
        }]
    );
}

#[test]
fn xtext_table() {
    let table: &[(&str, &str)] = &[
        ("", ""),
        ("plain@example.com", "plain@example.com"),
        ("a+b", "a+2Bb"),
        ("a=b", "a+3Db"),
        ("a b", "a+20b"),
        ("tab\t", "tab+09"),
        ("crlf\r\n", "crlf+0D+0A"),
        ("ü", "+C3+BC"),
        ("~!", "~!"),
        ("\u{7f}", "+7F"),
    ];
    for &(decoded, encoded) in table {
        assert_eq!(xtext_encode(decoded), encoded, "{decoded:?}");
        assert_eq!(xtext_decode(encoded).as_deref(), Ok(decoded), "{encoded:?}");
    }
    // Lower-case hex is accepted on input.
    assert_eq!(xtext_decode("a+2bb").as_deref(), Ok("a+b"));
    for bad in ["+", "+2", "+2G", "a=b", "a b", "é", "+FF", "+C3", "\t"] {
        assert!(xtext_decode(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn errors_are_readable() {
    let e = MailParams::parse("SIZE=abc").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid SIZE parameter: expected SIZE=<decimal octet count that fits in 64 bits>"
    );
    let e = MailParams::parse("SIZE=1 SIZE=1").unwrap_err();
    assert_eq!(e.to_string(), "duplicate parameter SIZE");
}

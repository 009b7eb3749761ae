//! Unit tables for paths, mailboxes and domains (RFC 5321 §4.1.2, §4.1.3,
//! §4.5.3.1; RFC 6531).

// Tests may unwrap: a panic is the failure report (the workspace lints warn on it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, Ipv6Addr};

use smtp_wire::path::{
    AddressLiteral, Domain, ForwardPath, MAX_LOCAL_PART, MAX_PATH, Mailbox, PathError, ReversePath,
};

#[test]
fn good_mailboxes_parse_and_serialize() {
    // (input, local part after unquoting, domain as displayed, canonical form)
    let table: &[(&str, &str, &str, &str)] = &[
        (
            "user@example.com",
            "user",
            "example.com",
            "user@example.com",
        ),
        (
            "First.Last@Sub.Example.CO.uk",
            "First.Last",
            "Sub.Example.CO.uk",
            "First.Last@Sub.Example.CO.uk",
        ),
        (
            "!#$%&'*+-/=?^_`{|}~@example.com",
            "!#$%&'*+-/=?^_`{|}~",
            "example.com",
            "!#$%&'*+-/=?^_`{|}~@example.com",
        ),
        ("a@b", "a", "b", "a@b"),
        ("a@123.example", "a", "123.example", "a@123.example"),
        (
            "a@x-y--z.example",
            "a",
            "x-y--z.example",
            "a@x-y--z.example",
        ),
        (
            r#""john doe"@example.com"#,
            "john doe",
            "example.com",
            r#""john doe"@example.com"#,
        ),
        (
            r#""a\"b"@example.com"#,
            "a\"b",
            "example.com",
            r#""a\"b"@example.com"#,
        ),
        (
            r#""a\\b"@example.com"#,
            "a\\b",
            "example.com",
            r#""a\\b"@example.com"#,
        ),
        (
            r#""a..b"@example.com"#,
            "a..b",
            "example.com",
            r#""a..b"@example.com"#,
        ),
        (
            r#""@"@example.com"#,
            "@",
            "example.com",
            r#""@"@example.com"#,
        ),
        (r#"""@example.com"#, "", "example.com", r#"""@example.com"#),
        // Quotes that are not needed are dropped on output.
        (
            r#""abc"@example.com"#,
            "abc",
            "example.com",
            "abc@example.com",
        ),
        (
            r#""\a\b"@example.com"#,
            "ab",
            "example.com",
            "ab@example.com",
        ),
        (
            "user@[192.0.2.1]",
            "user",
            "[192.0.2.1]",
            "user@[192.0.2.1]",
        ),
        // Snum allows leading zeros (RFC 5321 §4.1.3).
        (
            "user@[192.000.002.001]",
            "user",
            "[192.0.2.1]",
            "user@[192.0.2.1]",
        ),
        (
            "user@[IPv6:2001:db8::1]",
            "user",
            "[IPv6:2001:db8::1]",
            "user@[IPv6:2001:db8::1]",
        ),
        (
            "user@[ipv6:2001:DB8:0:0:0:0:0:1]",
            "user",
            "[IPv6:2001:db8::1]",
            "user@[IPv6:2001:db8::1]",
        ),
        (
            "user@[IPv6:::ffff:192.0.2.1]",
            "user",
            "[IPv6:::ffff:192.0.2.1]",
            "user@[IPv6:::ffff:192.0.2.1]",
        ),
        (
            "user@[x-tag:some.thing]",
            "user",
            "[x-tag:some.thing]",
            "user@[x-tag:some.thing]",
        ),
        // RFC 6531: UTF-8 local parts and domains.
        (
            "δοκιμή@παράδειγμα.δοκιμή",
            "δοκιμή",
            "παράδειγμα.δοκιμή",
            "δοκιμή@παράδειγμα.δοκιμή",
        ),
        ("用户@例子.广告", "用户", "例子.广告", "用户@例子.广告"),
        (
            "\"hé llo\"@example.com",
            "hé llo",
            "example.com",
            "\"hé llo\"@example.com",
        ),
    ];
    for &(input, local, domain, canonical) in table {
        let m = Mailbox::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(m.local, local, "{input:?}");
        assert_eq!(m.domain.to_string(), domain, "{input:?}");
        assert_eq!(m.to_string(), canonical, "{input:?}");
        let again: Mailbox = canonical.parse().unwrap();
        assert_eq!(again, m, "{input:?}");
    }
}

#[test]
fn bad_mailboxes_are_refused() {
    let table: &[&str] = &[
        "",
        "@example.com",
        "user@",
        "user",
        "user@@example.com",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a b@example.com",
        "a(b)@example.com",
        "a,b@example.com",
        "a@-x.example",
        "a@x-.example",
        "a@x..example",
        "a@x.example.",
        "a@.x.example",
        "a@x_y.example",
        "a@x y.example",
        // Controls are never accepted (CR, LF, NUL, TAB, DEL, C1).
        "a\r@example.com",
        "a\n@example.com",
        "a\0@example.com",
        "a\t@example.com",
        "a\x7f@example.com",
        "a\u{85}@example.com",
        "a@exam\rple.com",
        "a@example.com\n",
        "a@example.com\0",
        "a@exa\u{85}mple.com",
        "\"a\rb\"@example.com",
        "\"a\nb\"@example.com",
        "\"a\0b\"@example.com",
        "\"a\\\rb\"@example.com",
        "\"a\u{9f}b\"@example.com",
        // Quoting errors.
        "\"abc@example.com",
        "\"a\"b\"@example.com",
        "\"a\\",
        "a\"b\"@example.com",
        // Address literals.
        "a@[1.2.3]",
        "a@[1.2.3.4.5]",
        "a@[256.1.1.1]",
        "a@[1.2.3.1234]",
        "a@[1..2.3]",
        "a@[IPv6:zz::1]",
        "a@[IPv6:1.2.3.4]",
        "a@[IPv6:1:2:3:4:5:6:7:8:9]",
        "a@[foo]",
        "a@[tag:]",
        "a@[:content]",
        "a@[tag-:content]",
        "a@[tag:con[tent]",
        "a@[tag:con\\tent]",
        "a@[tag:con tent]",
        "a@[tag:a]b]",
        "a@[192.0.2.1",
        "a@[]",
    ];
    for &input in table {
        assert!(Mailbox::parse(input).is_err(), "{input:?} was accepted");
        let path = format!("<{input}>");
        // "<>" is the valid null reverse-path; every other wrapping must fail.
        assert!(
            input.is_empty() || ReversePath::parse(&path).is_err(),
            "{path:?} was accepted"
        );
        assert!(ForwardPath::parse(&path).is_err(), "{path:?} was accepted");
    }
}

#[test]
fn length_limits_are_enforced() {
    // RFC 5321 §4.5.3.1.1: local part 64 octets.
    let local64 = "l".repeat(MAX_LOCAL_PART);
    assert!(Mailbox::parse(&format!("{local64}@example.com")).is_ok());
    assert_eq!(
        Mailbox::parse(&format!("{local64}x@example.com")),
        Err(PathError::LocalPartTooLong)
    );
    // Measured on the wire form, quotes included: 62 characters + 2 quotes.
    let quoted = format!("\"{} \"@example.com", "q".repeat(61));
    assert!(Mailbox::parse(&quoted).is_ok());
    let quoted = format!("\"{} \"@example.com", "q".repeat(62));
    assert_eq!(Mailbox::parse(&quoted), Err(PathError::LocalPartTooLong));
    // UTF-8 counts octets, not characters: 32 two-octet characters = 64 octets.
    assert!(Mailbox::parse(&format!("{}@example.com", "é".repeat(32))).is_ok());
    assert_eq!(
        Mailbox::parse(&format!("{}x@example.com", "é".repeat(32))),
        Err(PathError::LocalPartTooLong)
    );

    // RFC 5321 §4.5.3.1.2: domain 255 octets.
    let label = "d".repeat(63);
    let domain255 = format!("{label}.{label}.{label}.{}", "d".repeat(63));
    assert_eq!(domain255.len(), 255);
    assert!(Domain::parse(&domain255).is_ok());
    assert!(Mailbox::parse(&format!("a@{domain255}")).is_ok());
    let domain256 = format!("{domain255}d");
    assert_eq!(Domain::parse(&domain256), Err(PathError::DomainTooLong));
    assert_eq!(
        Mailbox::parse(&format!("a@{domain256}")),
        Err(PathError::DomainTooLong)
    );
    // A huge input is refused, not scanned into a huge value.
    assert_eq!(
        Domain::parse(&"x".repeat(100_000)),
        Err(PathError::DomainTooLong)
    );

    // RFC 5321 §4.5.3.1.3: path 256 octets, "<" and ">" included.
    let domain = format!("{}.example", "d".repeat(256 - 2 - 64 - 1 - 8));
    let path256 = format!("<{local64}@{domain}>");
    assert_eq!(path256.len(), MAX_PATH);
    assert!(ReversePath::parse(&path256).is_ok());
    assert!(ForwardPath::parse(&path256).is_ok());
    let path257 = format!("<{local64}@x{domain}>");
    assert_eq!(ReversePath::parse(&path257), Err(PathError::PathTooLong));
    assert_eq!(ForwardPath::parse(&path257), Err(PathError::PathTooLong));
    // The source route counts towards the path length.
    let routed = format!("<@relay.example:{}>", &path256[1..path256.len() - 1]);
    assert_eq!(ReversePath::parse(&routed), Err(PathError::PathTooLong));
}

#[test]
fn reverse_paths() {
    assert_eq!(ReversePath::parse("<>"), Ok(ReversePath::Null));
    assert_eq!(ReversePath::Null.to_string(), "<>");
    let a = ReversePath::parse("<user@example.com>").unwrap();
    assert_eq!(a.to_string(), "<user@example.com>");
    assert_eq!(a.mailbox().unwrap().local, "user");
    // Source routes are accepted and dropped (RFC 5321 §3.3, Appendix C).
    for routed in [
        "<@relay.example:user@example.com>",
        "<@r1.example,@r2.example:user@example.com>",
        "<@[192.0.2.1]:user@example.com>",
    ] {
        assert_eq!(ReversePath::parse(routed), Ok(a.clone()), "{routed}");
        assert_eq!(
            ForwardPath::parse(routed).unwrap().to_string(),
            "<user@example.com>"
        );
    }
    for bad in [
        "",
        "<",
        ">",
        "user@example.com",
        "<user@example.com",
        "user@example.com>",
        "<user@example.com>x",
        "<user@example.com> ",
        "< user@example.com>",
        "<user@example.com >",
        "<<user@example.com>>",
        "<@relay.example:>",
        "<@relay.example,user@example.com>",
        "<@relay.example:@x:user@example.com>",
        "<@:user@example.com>",
        "<@relay.example,:user@example.com>",
        "<@-bad.example:user@example.com>",
        "<Postmaster>",
        "< >",
        "<>x",
    ] {
        assert!(ReversePath::parse(bad).is_err(), "{bad:?} was accepted");
    }
    // parse_prefix returns what follows the ">".
    let (path, rest) = ReversePath::parse_prefix("<> SIZE=10").unwrap();
    assert_eq!((path, rest), (ReversePath::Null, " SIZE=10"));
    let (path, rest) = ReversePath::parse_prefix("<a@b> BODY=8BITMIME").unwrap();
    assert_eq!(path.to_string(), "<a@b>");
    assert_eq!(rest, " BODY=8BITMIME");
}

#[test]
fn forward_paths() {
    for postmaster in [
        "<Postmaster>",
        "<postmaster>",
        "<POSTMASTER>",
        "<pOsTmAsTeR>",
    ] {
        assert_eq!(
            ForwardPath::parse(postmaster),
            Ok(ForwardPath::Postmaster),
            "{postmaster}"
        );
    }
    assert_eq!(ForwardPath::Postmaster.to_string(), "<Postmaster>");
    assert_eq!(ForwardPath::Postmaster.mailbox(), None);
    // "<Postmaster@domain>" is an ordinary mailbox (RFC 5321 §4.1.1.3).
    let pm = ForwardPath::parse("<Postmaster@example.com>").unwrap();
    assert_eq!(pm.mailbox().unwrap().local, "Postmaster");
    for bad in [
        "<>",
        "<Postmaster",
        "<Postmaster>x",
        "Postmaster",
        "<Post master>",
    ] {
        assert!(ForwardPath::parse(bad).is_err(), "{bad:?} was accepted");
    }
    let (path, rest) = ForwardPath::parse_prefix("<postmaster> NOTIFY=NEVER").unwrap();
    assert_eq!((path, rest), (ForwardPath::Postmaster, " NOTIFY=NEVER"));
}

#[test]
fn domains_and_literals() {
    let table: &[(&str, Domain)] = &[
        ("example.com", Domain::Name("example.com".into())),
        ("localhost", Domain::Name("localhost".into())),
        (
            "[127.0.0.1]",
            Domain::Literal(AddressLiteral::V4(Ipv4Addr::LOCALHOST)),
        ),
        (
            "[IPv6:::1]",
            Domain::Literal(AddressLiteral::V6(Ipv6Addr::LOCALHOST)),
        ),
        (
            "[IPV6:0:0:0:0:0:0:0:1]",
            Domain::Literal(AddressLiteral::V6(Ipv6Addr::LOCALHOST)),
        ),
        (
            "[tag:x]",
            Domain::Literal(AddressLiteral::General("tag".into(), "x".into())),
        ),
    ];
    for (input, want) in table {
        assert_eq!(&Domain::parse(input).unwrap(), want, "{input}");
        assert_eq!(&Domain::parse(&want.to_string()).unwrap(), want, "{input}");
    }
    assert_eq!(
        Domain::Literal(AddressLiteral::V6("2001:db8::1".parse().unwrap())).to_string(),
        "[IPv6:2001:db8::1]"
    );
    for bad in [
        "",
        " ",
        "example.com ",
        "exa mple.com",
        "a@b",
        "[1.2.3.4",
        "[1.2.3.4]x",
        "-a",
        "a-",
        "a.",
    ] {
        assert!(Domain::parse(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn domain_comparison_ignores_ascii_case() {
    let d = Domain::parse("Mail.Example.COM").unwrap();
    assert!(d.eq_ignore_case("mail.example.com"));
    assert!(d.eq_ignore_case("MAIL.EXAMPLE.COM"));
    assert!(!d.eq_ignore_case("mail.example.org"));
    assert!(!d.eq_ignore_case("[192.0.2.1]"));
    let lit = Domain::parse("[192.0.2.1]").unwrap();
    assert!(lit.eq_ignore_case("[192.000.002.001]"));
    assert!(!lit.eq_ignore_case("[192.0.2.2]"));
    assert!(!lit.eq_ignore_case("example.com"));
    let v6 = Domain::parse("[IPv6:2001:db8::1]").unwrap();
    assert!(v6.eq_ignore_case("[ipv6:2001:DB8:0::1]"));
    let general = Domain::parse("[X-Tag:abc]").unwrap();
    assert!(general.eq_ignore_case("[x-tag:abc]"));
    assert!(!general.eq_ignore_case("[x-tag:ABC]"));
}

#[test]
fn utf8_is_a_checkable_property() {
    // RFC 6531: a receiver refuses these unless MAIL carried SMTPUTF8.
    let table: &[(&str, bool)] = &[
        ("<user@example.com>", false),
        ("<üser@example.com>", true),
        ("<user@exämple.com>", true),
        ("<\"ü ser\"@example.com>", true),
        ("<user@[192.0.2.1]>", false),
        ("<user@xn--exmple-cua.com>", false),
    ];
    for &(input, utf8) in table {
        let reverse = ReversePath::parse(input).unwrap();
        assert_eq!(reverse.is_utf8(), utf8, "{input}");
        let forward = ForwardPath::parse(input).unwrap();
        assert_eq!(forward.is_utf8(), utf8, "{input}");
        assert_eq!(reverse.mailbox().unwrap().is_utf8(), utf8, "{input}");
    }
    assert!(!ReversePath::Null.is_utf8());
    assert!(!ForwardPath::Postmaster.is_utf8());
    assert!(Domain::parse("例子.广告").unwrap().is_utf8());
    assert!(!Domain::parse("example.com").unwrap().is_utf8());
}

#[test]
fn errors_say_what_was_expected() {
    let err = Mailbox::parse("user").unwrap_err();
    assert_eq!(err.to_string(), "expected \"@\" after the local part");
    let err = ReversePath::parse("<user@example.com").unwrap_err();
    assert_eq!(err.to_string(), "expected \">\" at the end of the path");
    assert_eq!(
        PathError::PathTooLong.to_string(),
        "path longer than 256 octets"
    );
}

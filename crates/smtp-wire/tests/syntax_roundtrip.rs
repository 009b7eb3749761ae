//! Property tests: serialize-then-parse is the identity for paths, parameters
//! and commands, and `Command::parse` never panics on arbitrary bytes.
//!
//! The strategies generate *valid* values: dot-atom and quoted local parts
//! (with spaces, quotes, backslashes, UTF-8), domain names and U-labels, IPv4 /
//! IPv6 / general address literals, typed and unknown parameters including
//! values that need xtext.

use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use proptest::prelude::*;
use smtp_wire::command::Command;
use smtp_wire::param::{Body, MailParams, Notify, Orcpt, Param, RcptParams, Ret};
use smtp_wire::path::{
    AddressLiteral, Domain, ForwardPath, MAX_LOCAL_PART, MAX_PATH, Mailbox, ReversePath,
};

fn dot_atom() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        4 => "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}",
        1 => "[a-zé用δü0-9]{1,6}",
    ];
    prop::collection::vec(atom, 1..4).prop_map(|atoms| atoms.join("."))
}

/// Any content of a Quoted-string: printable ASCII (space, `"` and `\`
/// included) and UTF-8.
fn quoted_local() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ -~]{0,30}",
        1 => "[ a-z\"\\\\é用]{0,12}",
    ]
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9]([a-zA-Z0-9-]{0,12}[a-zA-Z0-9])?",
        1 => "[a-zü例δ]{1,6}",
    ]
}

fn domain_name() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..5).prop_map(|labels| labels.join("."))
}

fn address_literal() -> impl Strategy<Value = AddressLiteral> {
    let general = (
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?".prop_filter("IPv6 tag is not general", |t| {
            !t.eq_ignore_ascii_case("IPv6")
        }),
        // dcontent = %d33-90 / %d94-126 (RFC 5321 §4.1.3)
        "[!-Z^-~]{1,16}",
    )
        .prop_map(|(tag, content)| AddressLiteral::General(tag, content));
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| AddressLiteral::V4(Ipv4Addr::from(o))),
        any::<u128>().prop_map(|v| AddressLiteral::V6(Ipv6Addr::from(v))),
        general,
    ]
}

fn domain() -> impl Strategy<Value = Domain> {
    prop_oneof![
        4 => domain_name().prop_map(Domain::Name),
        1 => address_literal().prop_map(Domain::Literal),
    ]
}

/// The length of the local part on the wire, as `Display` writes it.
fn local_wire_len(m: &Mailbox) -> usize {
    m.to_string().len() - 1 - m.domain.to_string().len()
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    (prop_oneof![dot_atom(), quoted_local()], domain())
        .prop_map(|(local, domain)| Mailbox { local, domain })
        // RFC 5321 §4.5.3.1.1 / §4.5.3.1.3: keep generated values within the limits.
        .prop_filter("within RFC 5321 length limits", |m| {
            local_wire_len(m) <= MAX_LOCAL_PART && m.to_string().len() + 2 <= MAX_PATH
        })
}

fn reverse_path() -> impl Strategy<Value = ReversePath> {
    prop_oneof![1 => Just(ReversePath::Null), 6 => mailbox().prop_map(ReversePath::Mailbox)]
}

fn forward_path() -> impl Strategy<Value = ForwardPath> {
    prop_oneof![1 => Just(ForwardPath::Postmaster), 6 => mailbox().prop_map(ForwardPath::Mailbox)]
}

/// Unknown parameters with distinct keywords (case-insensitively) that no
/// typed field claims.
fn other_params() -> impl Strategy<Value = Vec<Param>> {
    let param = (
        "X-[A-Za-z0-9-]{1,8}",
        // esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531 §3.3)
        prop::option::of(prop_oneof!["[!-<>-~]{1,12}", "[a-zé]{1,4}"]),
    )
        .prop_map(|(keyword, value)| Param { keyword, value });
    prop::collection::vec(param, 0..4).prop_map(|mut params| {
        let mut seen = std::collections::HashSet::new();
        params.retain(|p| seen.insert(p.keyword.to_ascii_uppercase()));
        params
    })
}

fn mail_params() -> impl Strategy<Value = MailParams> {
    let auth = prop_oneof![Just("<>".to_owned()), mailbox().prop_map(|m| m.to_string())];
    // ENVID: printable ASCII incl. "+", "=" and space (xtext-encoded on the wire), <= 100 encoded.
    let envid = "[ -~]{1,30}".prop_filter("ENVID <= 100 after xtext", |e| {
        smtp_wire::param::xtext_encode(e).len() <= 100
    });
    (
        prop::option::of(any::<u64>()),
        prop::option::of(prop_oneof![
            Just(Body::SevenBit),
            Just(Body::EightBitMime),
            Just(Body::BinaryMime)
        ]),
        any::<bool>(),
        prop::option::of(auth),
        prop::option::of(prop_oneof![Just(Ret::Full), Just(Ret::Hdrs)]),
        prop::option::of(envid),
        other_params(),
    )
        .prop_map(
            |(size, body, smtputf8, auth, ret, envid, other)| MailParams {
                size,
                body,
                smtputf8,
                auth,
                ret,
                envid,
                other,
            },
        )
}

fn rcpt_params() -> impl Strategy<Value = RcptParams> {
    let notify =
        (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(success, failure, delay)| {
            Notify {
                success,
                failure,
                delay,
            }
        });
    let orcpt = (
        "[a-zA-Z0-9-]{1,8}",
        prop_oneof!["[ -~]{1,40}", "[a-zü@.+=]{1,20}"],
    )
        .prop_map(|(addr_type, addr)| Orcpt {
            addr_type: addr_type.into(),
            addr,
        });
    (
        prop::option::of(notify),
        prop::option::of(orcpt),
        other_params(),
    )
        .prop_map(|(notify, orcpt, other)| RcptParams {
            notify,
            orcpt,
            other,
        })
}

/// Free text for VRFY / EXPN / HELP / NOOP: printable, no leading or trailing space.
fn text_arg() -> impl Strategy<Value = String> {
    prop_oneof!["[!-~]([ -~]{0,20}[!-~])?", "[a-zé用]{1,8}"]
}

fn initial_response() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| {
        if bytes.is_empty() {
            "=".to_owned()
        } else {
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
    })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        domain().prop_map(Command::Helo),
        domain().prop_map(Command::Ehlo),
        (reverse_path(), mail_params()).prop_map(|(from, params)| Command::Mail { from, params }),
        (forward_path(), rcpt_params()).prop_map(|(to, params)| Command::Rcpt { to, params }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        Just(Command::Quit),
        Just(Command::StartTls),
        Just(Command::Turn),
        reverse_path().prop_map(Command::Send),
        reverse_path().prop_map(Command::Soml),
        reverse_path().prop_map(Command::Saml),
        text_arg().prop_map(Command::Vrfy),
        text_arg().prop_map(Command::Expn),
        prop::option::of(text_arg()).prop_map(Command::Help),
        prop::option::of(text_arg()).prop_map(Command::Noop),
        ("[A-Z0-9_-]{1,20}", prop::option::of(initial_response())).prop_map(
            |(mechanism, initial_response)| Command::Auth {
                mechanism,
                initial_response
            }
        ),
    ]
}

proptest! {
    #[test]
    fn mailbox_roundtrip(m in mailbox()) {
        let text = m.to_string();
        prop_assert_eq!(Mailbox::parse(&text), Ok(m), "{}", text);
    }

    #[test]
    fn domain_roundtrip(d in domain()) {
        let text = d.to_string();
        prop_assert_eq!(Domain::parse(&text), Ok(d.clone()), "{}", text);
        // Names compare ignoring ASCII case; literals by value (a general
        // literal's content is compared exactly).
        if let Domain::Name(_) = d {
            prop_assert!(d.eq_ignore_case(&text.to_ascii_uppercase()));
        }
        prop_assert!(d.eq_ignore_case(&text));
    }

    #[test]
    fn reverse_path_roundtrip(p in reverse_path()) {
        let text = p.to_string();
        prop_assert_eq!(ReversePath::parse(&text), Ok(p), "{}", text);
    }

    #[test]
    fn forward_path_roundtrip(p in forward_path()) {
        let text = p.to_string();
        prop_assert_eq!(ForwardPath::parse(&text), Ok(p), "{}", text);
    }

    #[test]
    fn mail_params_roundtrip(p in mail_params()) {
        let text = p.to_string();
        prop_assert!(!text.starts_with(' ') && !text.ends_with(' '));
        prop_assert_eq!(MailParams::parse(&text), Ok(p), "{}", text);
    }

    #[test]
    fn rcpt_params_roundtrip(p in rcpt_params()) {
        let text = p.to_string();
        prop_assert_eq!(RcptParams::parse(&text), Ok(p), "{}", text);
    }

    #[test]
    fn command_roundtrip(c in command()) {
        let text = c.to_string();
        prop_assert_eq!(Command::parse(text.as_bytes()), Ok(c.clone()), "{}", text);
        let mut wire = Vec::new();
        c.write_to(&mut wire);
        prop_assert_eq!(wire, format!("{text}\r\n").into_bytes());
        prop_assert!(text.starts_with(c.verb()));
    }

    #[test]
    fn command_roundtrip_with_random_verb_case(c in command(), mask in any::<u8>()) {
        // RFC 5321 §2.4: the verb's case does not matter.
        let text = c.to_string();
        let verb_len = c.verb().len();
        let mixed: String = text
            .char_indices()
            .map(|(i, ch)| if i < verb_len && mask & (1 << (i % 8)) != 0 { ch.to_ascii_lowercase() } else { ch })
            .collect();
        prop_assert_eq!(Command::parse(mixed.as_bytes()), Ok(c), "{}", mixed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Command::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_near_miss_lines(
        verb in prop_oneof![
            Just("MAIL FROM:"), Just("RCPT TO:"), Just("EHLO "), Just("HELO "), Just("BDAT "),
            Just("AUTH "), Just("VRFY "), Just("NOOP "), Just("SEND FROM:"), Just("DATA"),
        ],
        tail in "[<>@\\[\\]\":.,=+ a-zA-Z0-9\\\\\u{0}\r\n\u{85}é-]{0,80}",
    ) {
        let line = format!("{verb}{tail}");
        if let Ok(cmd) = Command::parse(line.as_bytes()) {
            // Whatever is accepted serializes to something that parses back the same.
            let text = cmd.to_string();
            prop_assert_eq!(Command::parse(text.as_bytes()), Ok(cmd), "{} -> {}", line, text);
        } else if let Err(e) = Command::parse(line.as_bytes()) {
            let reply = e.reply();
            prop_assert!(reply.code == 500 || reply.code == 501);
        }
    }
}

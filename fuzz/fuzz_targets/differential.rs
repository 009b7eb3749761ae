//! Differential target: the same bytes to smtp-wire and to an independent
//! codec, Stalwart's smtp-proto. Where both accept a command or a reply,
//! their meanings (a small normalized form) must agree; a disagreement is
//! either one of the named differences below, each decided by RFC text in
//! docs/fuzzing.md ("Differences with smtp-proto"), or a panic.
//!
//! Input layout: byte 0 chooses (odd, as "C": a command line; even, as
//! "R": a reply), the rest is the wire, so seeds read as text. A command
//! line is the bytes up to the first LF, without a CR before it: smtp-wire's `Command::parse` gets it as the line framer
//! hands it over, smtp-proto's `Request::parse` gets it with CRLF, since it
//! frames the line itself. A reply goes as it is to both parsers, which
//! read the first reply of it.
#![no_main]

use std::borrow::Cow;
use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{MailFrom, RcptTo, Request};
use smtp_wire::command::Command;
use smtp_wire::param::{Body, MailParams, RcptParams, Ret};
use smtp_wire::path::{Domain, ForwardPath, Mailbox, ReversePath};
use smtp_wire::reply::ReplyParser;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, wire)) = data.split_first() else {
        return;
    };
    if choice & 1 == 1 {
        let line = wire.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        compare_command(line);
    } else {
        compare_reply(wire);
    }
});

// ------------------------------------------------------------ differences

/// The named differences: where the two codecs read the same accepted bytes
/// differently for a reason docs/fuzzing.md gives with the RFC text that
/// decides it. A disagreement that is none of these panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Difference {
    /// VRFY, EXPN, HELP, NOOP with an argument outside RFC 5321 §4.1.2
    /// `String = Atom / Quoted-string`: smtp-wire keeps the text verbatim
    /// (its documented leniency), smtp-proto keeps its first word,
    /// unquoting as it goes, and drops the rest.
    FreeTextArgument,
    /// AUTH with one of the registered names KERBEROS_V4, KERBEROS_V5,
    /// NMAS_AUTHEN, NMAS_LOGIN: smtp-proto knows them as KERBEROS-V4, ...
    /// and reads the registered spelling as an unknown mechanism (and the
    /// hyphen spelling as the registered one). RFC 4422 §3.1 and the IANA
    /// registry: the names are what they are registered as.
    MechanismSpelling,
    /// AUTH with a registered name of more than 16 characters
    /// (SCRAM-SHA-256-PLUS) whose 17th is written in lower case: smtp-proto
    /// upper-cases the first 16 only and reads an unknown mechanism.
    /// RFC 4422 §3.1 names are upper case; both accept lower case, and
    /// smtp-proto does so for every other character.
    MechanismCase,
    /// A space inside a parameter where smtp-proto expects a token, a number
    /// or an id to start (after `TRANSID=<`, after ";" in BY= and RRVS=,
    /// after a sign in BY= and MT-PRIORITY=, after ":" in MTRK=, as in
    /// `BY=1; R`): smtp-proto skips it and reads on; smtp-wire ends the
    /// parameter at the space and reads the rest as the next one (RFC 5321
    /// §4.1.2: `esmtp-param *(SP esmtp-param)`, no SP in `esmtp-value`).
    SpaceInsideParameter,
    /// An xtext value (AUTH=, ENVID=, ORCPT=) with "+XX" octets above 0x7F:
    /// smtp-proto makes each octet a character (ISO 8859-1), smtp-wire reads
    /// the octets as UTF-8. RFC 3461 §4: xtext encodes "an octet sequence";
    /// RFC 6531 §3.3: non-ASCII in an address is `UTF8-non-ascii`.
    XtextOctets,
    /// A number past 2^64-1 (2^63-1 for signed values): smtp-proto's number
    /// reader saturates, then starts again from the next digit and reads on
    /// past a space, so `SIZE=18446744073709551615 1` is SIZE=1 there.
    /// smtp-wire reads the parameters as RFC 5321 §4.1.2 separates them,
    /// one SP each.
    DecimalOverflow,
    /// `TRANSID=<id>X`: smtp-proto reads `X` as the next parameter, with no
    /// space before it; smtp-wire reads one parameter whose value is
    /// `<id>X` (RFC 5321 §4.1.2: `esmtp-param *(SP esmtp-param)`,
    /// `esmtp-value` includes ">").
    ParameterAfterAngle,
    /// A reply line with an empty text, or a text of digits and dots that
    /// is no enhanced code (`250 \r\n`, `250 1\r\n`): smtp-proto keeps the
    /// line end (CR, or LF after a bare LF) in the text. RFC 5321 §4.2: the
    /// CRLF ends the line, it is not text.
    LineEndInText,
    /// smtp-proto takes as an enhanced code what RFC 3463 §2 does not:
    /// a class other than 2, 4, 5, several digits in the class, empty
    /// fields, more than three digits or leading zeros.
    EnhancedOutsideRfc3463,
    /// A well-formed RFC 3463 code whose class is not the reply's
    /// (`250 5.1.1 ...`): smtp-proto takes it, smtp-wire keeps it as text
    /// (RFC 2034 §4: codes "must agree with the primary response code").
    EnhancedClassMismatch,
    /// A later line starts with another code than the first line (or the
    /// first had none): smtp-proto takes each line's and keeps the last,
    /// smtp-wire keeps the first line's and the others as text (RFC 2034 §4:
    /// "the same status code must appear ... in each line").
    EnhancedOnLaterLine,
    /// A subject or detail above 255 (RFC 3463 allows 0..999): smtp-proto
    /// holds it in a u8 and saturates at 255.
    EnhancedAbove255,
}

impl Difference {
    const ALL: [Difference; 12] = [
        Difference::FreeTextArgument,
        Difference::MechanismSpelling,
        Difference::MechanismCase,
        Difference::SpaceInsideParameter,
        Difference::XtextOctets,
        Difference::DecimalOverflow,
        Difference::ParameterAfterAngle,
        Difference::LineEndInText,
        Difference::EnhancedOutsideRfc3463,
        Difference::EnhancedClassMismatch,
        Difference::EnhancedOnLaterLine,
        Difference::EnhancedAbove255,
    ];
}

/// Records that `difference` explained a disagreement; the first example of
/// each kind in a process goes to stderr, so a run shows what it met.
fn noted(difference: Difference, input: &[u8]) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SEEN: [AtomicBool; Difference::ALL.len()] =
        [const { AtomicBool::new(false) }; Difference::ALL.len()];
    // `ALL` lists the kinds in declaration order, so the discriminant is
    // the index.
    if !SEEN[difference as usize].swap(true, Ordering::Relaxed) {
        eprintln!(
            "differential: first {difference:?}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

// ---------------------------------------------------------------- commands

/// A domain as both sides can state it: a name as written (both keep the
/// case), an address literal in smtp-wire's canonical text, since RFC 5321
/// §4.1.3 gives one address several spellings (`[192.0.2.1]`,
/// `[192.000.002.001]`).
fn host(text: &str) -> String {
    match Domain::parse(text) {
        Ok(literal @ Domain::Literal(_)) => literal.to_string(),
        _ => text.to_owned(),
    }
}

fn wire_host(domain: &Domain) -> String {
    domain.to_string()
}

/// `local@domain`, the local part unquoted (a Quoted-string means its
/// content, RFC 5321 §4.1.2), the domain as [`host`] states it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Address {
    local: String,
    domain: String,
}

fn wire_address(mailbox: &Mailbox) -> Address {
    Address {
        local: mailbox.local.clone(),
        domain: wire_host(&mailbox.domain),
    }
}

/// smtp-proto's address is `local@domain` with the quotes removed; the
/// domain has no `@`, the unquoted local part may.
fn proto_address(text: &str) -> Address {
    match text.rsplit_once('@') {
        Some((local, domain)) => Address {
            local: local.to_owned(),
            domain: host(domain),
        },
        None => Address {
            local: text.to_owned(),
            domain: String::new(),
        },
    }
}

/// MAIL parameters. smtp-proto has `size: usize` with 0 for "absent", so
/// `SIZE=0` and no SIZE read the same here. `extensions` are the keywords
/// smtp-proto types and smtp-wire keeps untyped (RFC 2852 BY, RFC 4865
/// HOLDFOR and HOLDUNTIL, RFC 8689 REQUIRETLS, RFC 3865 SOLICIT, RFC 3885
/// MTRK, RFC 6710 MT-PRIORITY, RFC 4141 CONPERM, and TRANSID): their
/// presence is compared, not their values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct MailMeaning {
    size: u64,
    body: Option<&'static str>,
    smtputf8: bool,
    auth: Option<String>,
    ret: Option<&'static str>,
    envid: Option<String>,
    extensions: BTreeSet<String>,
    /// smtp-proto only: MT-PRIORITY and HOLDUNTIL are numbers there with 0
    /// for "absent", so `MT-PRIORITY=0` leaves no trace. Each of them held
    /// at 0 is listed here, and [`agree`] does not compare its presence.
    untraceable: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct RcptMeaning {
    /// `[SUCCESS, FAILURE, DELAY]`, all false for NEVER.
    notify: Option<[bool; 3]>,
    /// The rfc822 address (smtp-proto takes no other address type).
    orcpt: Option<String>,
    extensions: BTreeSet<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Meaning {
    /// HELO, EHLO, LHLO and the domain.
    Hello(&'static str, String),
    /// The reverse-path (None for `<>`) and the parameters.
    Mail(Option<Address>, MailMeaning),
    /// The forward-path (None for `<Postmaster>`) and the parameters.
    Rcpt(Option<Address>, RcptMeaning),
    /// DATA, RSET, QUIT, STARTTLS.
    Bare(&'static str),
    /// The chunk size and LAST.
    Bdat(u64, bool),
    /// The mechanism as smtp-proto's bit (0: a mechanism it does not know)
    /// and the initial response ("" for none).
    Auth(u64, String),
    /// VRFY, EXPN, HELP, NOOP and the argument ("" for none).
    Text(&'static str, String),
}

/// The SASL mechanisms smtp-proto names, by their registered names
/// (IANA "SASL Mechanisms"); anything else is 0, as smtp-proto reads it.
fn mechanism_bit(name: &str) -> u64 {
    use smtp_proto::*;
    const TABLE: &[(&str, u64)] = &[
        ("9798-M-DSA-SHA1", AUTH_9798_M_DSA_SHA1),
        ("9798-M-ECDSA-SHA1", AUTH_9798_M_ECDSA_SHA1),
        ("9798-M-RSA-SHA1-ENC", AUTH_9798_M_RSA_SHA1_ENC),
        ("9798-U-DSA-SHA1", AUTH_9798_U_DSA_SHA1),
        ("9798-U-ECDSA-SHA1", AUTH_9798_U_ECDSA_SHA1),
        ("9798-U-RSA-SHA1-ENC", AUTH_9798_U_RSA_SHA1_ENC),
        ("ANONYMOUS", AUTH_ANONYMOUS),
        ("CRAM-MD5", AUTH_CRAM_MD5),
        ("DIGEST-MD5", AUTH_DIGEST_MD5),
        ("EAP-AES128", AUTH_EAP_AES128),
        ("EAP-AES128-PLUS", AUTH_EAP_AES128_PLUS),
        ("ECDH-X25519-CHALLENGE", AUTH_ECDH_X25519_CHALLENGE),
        ("ECDSA-NIST256P-CHALLENGE", AUTH_ECDSA_NIST256P_CHALLENGE),
        ("EXTERNAL", AUTH_EXTERNAL),
        ("GS2-KRB5", AUTH_GS2_KRB5),
        ("GS2-KRB5-PLUS", AUTH_GS2_KRB5_PLUS),
        ("GSS-SPNEGO", AUTH_GSS_SPNEGO),
        ("GSSAPI", AUTH_GSSAPI),
        ("KERBEROS_V4", AUTH_KERBEROS_V4),
        ("KERBEROS_V5", AUTH_KERBEROS_V5),
        ("LOGIN", AUTH_LOGIN),
        ("NMAS-SAMBA-AUTH", AUTH_NMAS_SAMBA_AUTH),
        ("NMAS_AUTHEN", AUTH_NMAS_AUTHEN),
        ("NMAS_LOGIN", AUTH_NMAS_LOGIN),
        ("NTLM", AUTH_NTLM),
        ("OAUTH10A", AUTH_OAUTH10A),
        ("OAUTHBEARER", AUTH_OAUTHBEARER),
        ("OPENID20", AUTH_OPENID20),
        ("OTP", AUTH_OTP),
        ("PLAIN", AUTH_PLAIN),
        ("SAML20", AUTH_SAML20),
        ("SCRAM-SHA-1", AUTH_SCRAM_SHA_1),
        ("SCRAM-SHA-1-PLUS", AUTH_SCRAM_SHA_1_PLUS),
        ("SCRAM-SHA-256", AUTH_SCRAM_SHA_256),
        ("SCRAM-SHA-256-PLUS", AUTH_SCRAM_SHA_256_PLUS),
        ("SECURID", AUTH_SECURID),
        ("SKEY", AUTH_SKEY),
        ("SPNEGO", AUTH_SPNEGO),
        ("SPNEGO-PLUS", AUTH_SPNEGO_PLUS),
        ("SXOVER-PLUS", AUTH_SXOVER_PLUS),
        ("XOAUTH", AUTH_XOAUTH),
        ("XOAUTH2", AUTH_XOAUTH2),
    ];
    TABLE
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |&(_, bit)| bit)
}

/// RFC 5322 §3.2.3 `atext` (what RFC 5321 §4.1.2 `Atom` is made of), with
/// RFC 6531 §3.3's UTF-8 characters.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// RFC 5321 §4.1.2 `String = Atom / Quoted-string` read for its meaning:
/// an Atom as it is, a Quoted-string as its content (`quoted-pairSMTP =
/// %d92 %d32-126` stands for the second octet). None outside the grammar.
fn rfc_string(arg: &str) -> Option<String> {
    if !arg.is_empty() && arg.chars().all(is_atext) {
        return Some(arg.to_owned());
    }
    let inner = arg.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(q @ ' '..='~') => out.push(q),
                _ => return None,
            },
            // qtextSMTP = %d32-33 / %d35-91 / %d93-126, and UTF-8.
            ' ' | '!' | '#'..='[' | ']'..='~' => out.push(c),
            c if !c.is_ascii() && !c.is_control() => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// A free-text argument's meaning: the RFC `String`'s when it is one, the
/// text verbatim otherwise (smtp-wire accepts any printable text there).
fn string_meaning(arg: &str) -> String {
    rfc_string(arg).unwrap_or_else(|| arg.to_owned())
}

fn wire_mail(from: &ReversePath, params: &MailParams) -> Meaning {
    let meaning = MailMeaning {
        size: params.size.unwrap_or(0),
        body: params.body.map(Body::as_str),
        smtputf8: params.smtputf8,
        auth: params.auth.clone(),
        ret: params.ret.map(Ret::as_str),
        envid: params.envid.clone(),
        extensions: params
            .other
            .iter()
            .map(|p| p.keyword.to_ascii_uppercase())
            .collect(),
        untraceable: BTreeSet::new(),
    };
    Meaning::Mail(from.mailbox().map(wire_address), meaning)
}

fn wire_rcpt(to: &ForwardPath, params: &RcptParams) -> Meaning {
    let meaning = RcptMeaning {
        notify: params.notify.map(|n| [n.success, n.failure, n.delay]),
        orcpt: params.orcpt.as_ref().map(|o| {
            if o.addr_type.eq_ignore_ascii_case("rfc822") {
                o.addr.clone()
            } else {
                format!("{};{}", o.addr_type, o.addr)
            }
        }),
        extensions: params
            .other
            .iter()
            .map(|p| p.keyword.to_ascii_uppercase())
            .collect(),
    };
    Meaning::Rcpt(to.mailbox().map(wire_address), meaning)
}

fn wire_meaning(command: &Command) -> Option<Meaning> {
    Some(match command {
        Command::Helo(d) => Meaning::Hello("HELO", wire_host(d)),
        Command::Ehlo(d) => Meaning::Hello("EHLO", wire_host(d)),
        Command::Lhlo(d) => Meaning::Hello("LHLO", wire_host(d)),
        Command::Mail { from, params } => wire_mail(from, params),
        Command::Rcpt { to, params } => wire_rcpt(to, params),
        Command::Data => Meaning::Bare("DATA"),
        Command::Rset => Meaning::Bare("RSET"),
        Command::Quit => Meaning::Bare("QUIT"),
        Command::StartTls => Meaning::Bare("STARTTLS"),
        Command::Bdat { size, last } => Meaning::Bdat(*size, *last),
        Command::Auth {
            mechanism,
            initial_response,
        } => Meaning::Auth(
            mechanism_bit(mechanism),
            initial_response.clone().unwrap_or_default(),
        ),
        Command::Vrfy(s) => Meaning::Text("VRFY", string_meaning(s)),
        Command::Expn(s) => Meaning::Text("EXPN", string_meaning(s)),
        Command::Help(s) => {
            Meaning::Text("HELP", s.as_deref().map(string_meaning).unwrap_or_default())
        }
        Command::Noop(s) => {
            Meaning::Text("NOOP", s.as_deref().map(string_meaning).unwrap_or_default())
        }
        // smtp-proto has none of these (TURN, SEND, SOML, SAML, XCLIENT).
        _ => return None,
    })
}

fn proto_mail(from: &MailFrom<Cow<'_, str>>) -> Meaning {
    use smtp_proto::*;
    let flag = |bit: u64| from.flags & bit != 0;
    let body = [
        (MAIL_BODY_7BIT, "7BIT"),
        (MAIL_BODY_8BITMIME, "8BITMIME"),
        (MAIL_BODY_BINARYMIME, "BINARYMIME"),
    ];
    let ret = [(MAIL_RET_FULL, "FULL"), (MAIL_RET_HDRS, "HDRS")];
    let mut extensions = BTreeSet::new();
    for (present, keyword) in [
        (flag(MAIL_BY_NOTIFY | MAIL_BY_RETURN), "BY"),
        (from.hold_for != 0, "HOLDFOR"),
        (from.hold_until != 0, "HOLDUNTIL"),
        (flag(MAIL_REQUIRETLS), "REQUIRETLS"),
        (from.solicit.is_some(), "SOLICIT"),
        (from.trans_id.is_some(), "TRANSID"),
        (from.mtrk.is_some(), "MTRK"),
        (from.mt_priority != 0, "MT-PRIORITY"),
        (flag(MAIL_CONPERM), "CONPERM"),
    ] {
        if present {
            extensions.insert(keyword.to_owned());
        }
    }
    let mut untraceable = BTreeSet::new();
    for (zero, keyword) in [
        (from.hold_until == 0, "HOLDUNTIL"),
        (from.mt_priority == 0, "MT-PRIORITY"),
    ] {
        if zero {
            untraceable.insert(keyword.to_owned());
        }
    }
    let meaning = MailMeaning {
        size: from.size as u64,
        body: body
            .iter()
            .find(|(bit, _)| flag(*bit))
            .map(|(_, name)| *name),
        smtputf8: flag(MAIL_SMTPUTF8),
        auth: from.auth.as_ref().map(|a| a.to_string()),
        ret: ret
            .iter()
            .find(|(bit, _)| flag(*bit))
            .map(|(_, name)| *name),
        envid: from.env_id.as_ref().map(|e| e.to_string()),
        extensions,
        untraceable,
    };
    let address = (!from.address.is_empty()).then(|| proto_address(&from.address));
    Meaning::Mail(address, meaning)
}

fn proto_rcpt(to: &RcptTo<Cow<'_, str>>) -> Meaning {
    use smtp_proto::*;
    let flag = |bit: u64| to.flags & bit != 0;
    let notify = if flag(RCPT_NOTIFY_NEVER) {
        Some([false; 3])
    } else if flag(RCPT_NOTIFY_SUCCESS | RCPT_NOTIFY_FAILURE | RCPT_NOTIFY_DELAY) {
        Some([
            flag(RCPT_NOTIFY_SUCCESS),
            flag(RCPT_NOTIFY_FAILURE),
            flag(RCPT_NOTIFY_DELAY),
        ])
    } else {
        None
    };
    let mut extensions = BTreeSet::new();
    for (present, keyword) in [
        (flag(RCPT_RRVS_REJECT | RCPT_RRVS_CONTINUE), "RRVS"),
        (flag(RCPT_CONNEG), "CONNEG"),
    ] {
        if present {
            extensions.insert(keyword.to_owned());
        }
    }
    let meaning = RcptMeaning {
        notify,
        orcpt: to.orcpt.as_ref().map(|o| o.to_string()),
        extensions,
    };
    // smtp-proto reads `<Postmaster>` as "" (and `<>` too, which smtp-wire
    // refuses in RCPT, RFC 5321 §4.1.1.3).
    let address = (!to.address.is_empty()).then(|| proto_address(&to.address));
    Meaning::Rcpt(address, meaning)
}

fn proto_meaning(request: &Request<Cow<'_, str>>) -> Option<Meaning> {
    Some(match request {
        Request::Helo { host: h } => Meaning::Hello("HELO", host(h)),
        Request::Ehlo { host: h } => Meaning::Hello("EHLO", host(h)),
        Request::Lhlo { host: h } => Meaning::Hello("LHLO", host(h)),
        Request::Mail { from } => proto_mail(from),
        Request::Rcpt { to } => proto_rcpt(to),
        Request::Data => Meaning::Bare("DATA"),
        Request::Rset => Meaning::Bare("RSET"),
        Request::Quit => Meaning::Bare("QUIT"),
        Request::StartTls => Meaning::Bare("STARTTLS"),
        Request::Bdat {
            chunk_size,
            is_last,
        } => Meaning::Bdat(*chunk_size as u64, *is_last),
        Request::Auth {
            mechanism,
            initial_response,
        } => Meaning::Auth(*mechanism, initial_response.to_string()),
        Request::Vrfy { value } => Meaning::Text("VRFY", value.to_string()),
        Request::Expn { value } => Meaning::Text("EXPN", value.to_string()),
        Request::Help { value } => Meaning::Text("HELP", value.to_string()),
        Request::Noop { value } => Meaning::Text("NOOP", value.to_string()),
        // smtp-wire has none of these (ETRN, ATRN, BURL).
        _ => return None,
    })
}

fn compare_command(line: &[u8]) {
    let Ok(ours) = Command::parse(line) else {
        return;
    };
    let mut framed = line.to_vec();
    framed.extend_from_slice(b"\r\n");
    let Ok(theirs) = Request::parse(&mut framed.iter()) else {
        return;
    };
    let (a, b) = (wire_meaning(&ours), proto_meaning(&theirs));
    if agree(&a, &b) {
        return;
    }
    match explain_command(line, &ours, &a, &b) {
        Some(differences) => differences.into_iter().for_each(|d| noted(d, line)),
        None => panic!(
            "command {:?}\n smtp-wire:  {a:?}\n smtp-proto: {b:?}",
            String::from_utf8_lossy(line)
        ),
    }
}

/// smtp-wire's meaning `a` and smtp-proto's `b` are the same, but for the
/// presence of a keyword smtp-proto cannot show (see `untraceable`).
fn agree(a: &Option<Meaning>, b: &Option<Meaning>) -> bool {
    match (a, b) {
        (Some(Meaning::Mail(ours_from, ours)), Some(Meaning::Mail(theirs_from, theirs))) => {
            let mut theirs = theirs.clone();
            let hidden: Vec<String> = theirs
                .untraceable
                .intersection(&ours.extensions)
                .cloned()
                .collect();
            theirs.extensions.extend(hidden);
            theirs.untraceable.clear();
            ours_from == theirs_from && *ours == theirs
        }
        _ => a == b,
    }
}

/// The registered SASL names with "_" (IANA "SASL Mechanisms") that
/// smtp-proto spells with "-", and so reads as unknown.
const UNDERSCORED: [&str; 4] = ["KERBEROS_V4", "KERBEROS_V5", "NMAS_AUTHEN", "NMAS_LOGIN"];

/// Which named differences explain a command both accepted and read
/// differently, if some do.
fn explain_command(
    line: &[u8],
    ours: &Command,
    a: &Option<Meaning>,
    b: &Option<Meaning>,
) -> Option<Vec<Difference>> {
    match ours {
        Command::Vrfy(arg)
        | Command::Expn(arg)
        | Command::Help(Some(arg))
        | Command::Noop(Some(arg))
            if rfc_string(arg).is_none() =>
        {
            // Explained when smtp-proto holds the first word of it.
            let (Some(Meaning::Text(_, theirs)), Some(Meaning::Text(_, _))) = (b, a) else {
                return None;
            };
            return (*theirs == first_word(arg)).then(|| vec![Difference::FreeTextArgument]);
        }
        Command::Auth { mechanism, .. } => {
            // Only the mechanism may differ, and only for these reasons.
            let (Some(Meaning::Auth(_, ours)), Some(Meaning::Auth(_, theirs))) = (a, b) else {
                return None;
            };
            if ours != theirs {
                return None;
            }
            if UNDERSCORED.contains(&mechanism.replace('-', "_").as_str()) {
                return Some(vec![Difference::MechanismSpelling]);
            }
            // The name as written: the 17th character in lower case.
            let written = line.get(5..5 + mechanism.len()).unwrap_or_default();
            if written.get(16).is_some_and(u8::is_ascii_lowercase) && mechanism_bit(mechanism) != 0
            {
                return Some(vec![Difference::MechanismCase]);
            }
            return None;
        }
        _ => {}
    }
    // The others are explained by rewriting the line the way smtp-proto
    // read it, in RFC 5321 §4.1.2 syntax, and checking that smtp-wire reads
    // the rewritten line (its xtext values read octet by octet, for
    // XtextOctets) as smtp-proto read the original. Every combination of
    // the rewrites is tried, fewest first.
    let mut combinations: Vec<u8> = (1..32).collect();
    combinations.sort_by_key(|m| m.count_ones());
    'combinations: for mask in combinations {
        let mut rewritten = line.to_vec();
        let mut differences = Vec::new();
        // In the order smtp-proto's reading needs them: the TRANSID id and
        // the skipped spaces decide where a number starts.
        if mask & 1 != 0 {
            let Some((again, found)) = transid_as_split(&rewritten) else {
                continue;
            };
            rewritten = again;
            differences.extend(found);
        }
        if mask & 2 != 0 {
            let Some(again) = no_space_inside_parameters(&rewritten) else {
                continue;
            };
            rewritten = again;
            differences.push(Difference::SpaceInsideParameter);
        }
        for (bit, signed) in [(4, false), (8, true)] {
            if mask & bit != 0 {
                let Some(again) = saturated_numbers(&rewritten, signed) else {
                    continue 'combinations;
                };
                rewritten = again;
                differences.push(Difference::DecimalOverflow);
            }
        }
        if mask & 15 != 0 {
            rewritten = once_each_flag(&rewritten);
        }
        let Ok(again) = Command::parse(&rewritten) else {
            continue;
        };
        let mut meaning = wire_meaning(&again);
        if mask & 16 != 0 {
            meaning = octet_by_octet(meaning);
            differences.push(Difference::XtextOctets);
        }
        if agree(&meaning, b) {
            differences.sort_by_key(|d| *d as u8);
            differences.dedup();
            return Some(differences);
        }
    }
    None
}

/// Where the parameters of a MAIL or RCPT line start: after the ">" that
/// closes the path, a ">" inside a quoted local part not counted.
fn params_start(line: &[u8]) -> Option<usize> {
    let open = line.iter().position(|&c| c == b'<')?;
    let mut quoted = false;
    let mut i = open + 1;
    while let Some(&c) = line.get(i) {
        match c {
            b'"' => quoted = !quoted,
            b'\\' if quoted => i += 1,
            b'>' if !quoted => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// smtp-proto's reading of a VRFY, EXPN, HELP or NOOP argument: up to the
/// first space outside double quotes after something was read, without the
/// quotes and without the backslash of a pair inside them.
fn first_word(arg: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = arg.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => out.extend(chars.next()),
            ' ' if !quoted && !out.is_empty() => break,
            ' ' if !quoted => {}
            c => out.push(c),
        }
    }
    out
}

/// smtp-proto's number reader past its exact range: the value saturates at
/// usize::MAX (i64::MAX for the signed values of MT-PRIORITY= and BY=);
/// once there, the next digit starts it again, and spaces (signs too, when
/// signed) are skipped instead of ending it. Each number that gets there is
/// rewritten as the value smtp-proto ends with, what it swallowed included.
/// Numbers are where smtp-proto reads them: SIZE=, HOLDFOR=, the timeout
/// after ":" in MTRK=, and after the signs in MT-PRIORITY= and BY=.
fn saturated_numbers(line: &[u8], signed: bool) -> Option<Vec<u8>> {
    let limit = if signed { i64::MAX as u64 } else { u64::MAX };
    let mut i = params_start(line)?;
    let mut out = line[..i].to_vec();
    let mut changed = false;
    while i < line.len() {
        // The parameter so far, in upper case.
        let from = out.iter().rposition(|&c| c == b' ').map_or(0, |p| p + 1);
        let current = out[from..].to_ascii_uppercase();
        let unsigned_field = current == b"SIZE="
            || current == b"HOLDFOR="
            || (current.starts_with(b"MTRK=") && current.ends_with(b":"));
        let signed_field = [&b"MT-PRIORITY="[..], b"BY="].iter().any(|k| {
            current
                .strip_prefix(*k)
                .is_some_and(|signs| signs.iter().all(|c| matches!(c, b'+' | b'-')))
        });
        let number = line[i].is_ascii_digit() && if signed { signed_field } else { unsigned_field };
        if !number {
            out.push(line[i]);
            i += 1;
            continue;
        }
        let start = i;
        let mut value: u64 = 0;
        let mut saturated = false;
        while let Some(&c) = line.get(i) {
            if c.is_ascii_digit() {
                let digit = u64::from(c - b'0');
                value = if value == limit {
                    digit
                } else {
                    value.saturating_mul(10).saturating_add(digit).min(limit)
                };
                saturated |= value == limit;
            } else if value != limit || !(c == b' ' || (signed && (c == b'+' || c == b'-'))) {
                break;
            }
            i += 1;
        }
        if saturated {
            out.extend_from_slice(value.to_string().as_bytes());
            changed = true;
        } else {
            out.extend_from_slice(&line[start..i]);
        }
    }
    changed.then_some(out)
}

/// smtp-wire's xtext values (AUTH=, ENVID=, ORCPT=) read as smtp-proto
/// reads xtext: each octet a character (ISO 8859-1).
fn octet_by_octet(meaning: Option<Meaning>) -> Option<Meaning> {
    let latin1 = |s: String| s.bytes().map(char::from).collect::<String>();
    match meaning {
        Some(Meaning::Mail(from, params)) => Some(Meaning::Mail(
            from,
            MailMeaning {
                auth: params.auth.map(latin1),
                envid: params.envid.map(latin1),
                ..params
            },
        )),
        Some(Meaning::Rcpt(to, params)) => Some(Meaning::Rcpt(
            to,
            RcptMeaning {
                orcpt: params.orcpt.map(latin1),
                ..params
            },
        )),
        other => other,
    }
}

/// smtp-proto reads `TRANSID=<id>` as: spaces skipped after "<", the id up
/// to ">", and the next parameter straight after it. The rewrite writes that
/// as `TRANSID=<t> ` (the id itself is not compared), and says which of
/// the two was needed.
fn transid_as_split(line: &[u8]) -> Option<(Vec<u8>, Vec<Difference>)> {
    let params = params_start(line)?;
    let upper = line[params..].to_ascii_uppercase();
    let at = params + upper.windows(9).position(|w| w == b"TRANSID=<")? + 9;
    let close = at + line[at..].iter().position(|&c| c == b'>')?;
    let mut differences = Vec::new();
    if line[at] == b' ' {
        differences.push(Difference::SpaceInsideParameter);
    }
    let mut out = line[..at].to_vec();
    out.extend_from_slice(b"t>");
    match line.get(close + 1) {
        None | Some(b' ') => {}
        Some(_) => {
            out.push(b' ');
            differences.push(Difference::ParameterAfterAngle);
        }
    }
    out.extend_from_slice(&line[close + 1..]);
    Some((out, differences))
}

/// Where smtp-proto skips spaces inside a parameter that smtp-wire
/// accepted: after ";" in BY= and RRVS= (before N, R, C ...), after a sign
/// in BY= and MT-PRIORITY= (before the digits), after ":" in MTRK= (before
/// the timeout); the space is dropped (`BY=1; R` becomes `BY=1;R`). The
/// rest of the line is kept as it is.
fn no_space_inside_parameters(line: &[u8]) -> Option<Vec<u8>> {
    let path_end = params_start(line)?;
    let (head, params) = line.split_at(path_end);
    let mut out = head.to_vec();
    let mut joining = false;
    let mut changed = false;
    for (i, item) in params.split(|&c| c == b' ').enumerate() {
        if i > 0 {
            if joining {
                changed = true;
            } else {
                out.push(b' ');
            }
        }
        out.extend_from_slice(item);
        // The parameter as joined so far.
        let start = out.iter().rposition(|&c| c == b' ').map_or(0, |p| p + 1);
        let current = out[start..].to_ascii_uppercase();
        let keyword = current.split(|&c| c == b'=').next().unwrap_or_default();
        let skips: &[u8] = match keyword {
            b"BY" => b";+-",
            b"RRVS" => b";",
            b"MT-PRIORITY" => b"+-",
            b"MTRK" => b":",
            _ => b"",
        };
        joining = current.contains(&b'=') && current.last().is_some_and(|c| skips.contains(c));
    }
    changed.then_some(out)
}

/// A flag parameter (no value) given twice is given once: smtp-proto sets
/// its bit twice, smtp-wire refuses the repetition; used on a line
/// rewritten into smtp-proto's split, where a repetition can appear.
fn once_each_flag(line: &[u8]) -> Vec<u8> {
    let Some(path_end) = params_start(line) else {
        return line.to_vec();
    };
    let (head, params) = line.split_at(path_end);
    let mut out = head.to_vec();
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for (i, item) in params.split(|&c| c == b' ').enumerate() {
        let upper = item.to_ascii_uppercase();
        if i > 0 && !item.is_empty() && !item.contains(&b'=') {
            if seen.contains(&upper) {
                continue;
            }
            seen.push(upper);
        }
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(item);
    }
    out
}

// ----------------------------------------------------------------- replies

/// A reply as both sides can state it.
#[derive(Debug, PartialEq, Eq)]
struct ReplyMeaning {
    /// Octets of the input the reply took (the rest is the next reply).
    consumed: usize,
    code: u16,
    /// RFC 3463 class.subject.detail.
    enhanced: Option<[u16; 3]>,
    /// The text lines joined with LF, enhanced codes removed.
    text: String,
}

/// One line of a reply that smtp-wire accepted: `code [SP / "-"] text`,
/// ended by CRLF or a bare LF, with no other CR and no other control
/// character than TAB.
struct Line<'a> {
    code: u16,
    /// False for a line that is the code alone (`250\r\n`).
    separator: bool,
    text: &'a [u8],
    crlf: bool,
}

fn lines(reply: &[u8]) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for raw in reply.split_inclusive(|&b| b == b'\n') {
        let raw = &raw[..raw.len() - 1];
        let (raw, crlf) = match raw.strip_suffix(b"\r") {
            Some(raw) => (raw, true),
            None => (raw, false),
        };
        let code = raw[..3].iter().fold(0, |n, d| n * 10 + u16::from(d - b'0'));
        out.push(Line {
            code,
            separator: raw.len() > 3,
            text: raw.get(4..).unwrap_or_default(),
            crlf,
        });
    }
    out
}

/// RFC 3463 §2, at the start of `text` and followed by SP or the end:
/// "status-code = class "." subject "." detail; class = "2"/"4"/"5";
/// subject = 1*3digit; detail = 1*3digit", and "Each numeric sub-code
/// within the status-code MUST be expressed without leading zero digits."
fn rfc3463(text: &[u8]) -> Option<([u16; 3], usize)> {
    let len = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    let mut fields = text[..len].split(|&b| b == b'.');
    let mut code = [0u16; 3];
    for (i, slot) in code.iter_mut().enumerate() {
        let field = fields.next()?;
        let digits = if i == 0 { 1..=1 } else { 1..=3 };
        if !digits.contains(&field.len())
            || !field.iter().all(u8::is_ascii_digit)
            || (field.len() > 1 && field[0] == b'0')
        {
            return None;
        }
        *slot = field.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0'));
    }
    (fields.next().is_none() && matches!(code[0], 2 | 4 | 5)).then_some((code, len))
}

/// The reading RFC 5321 §4.2 and RFC 2034 §4 give, which smtp-wire is
/// checked against first: the first line may start with an RFC 3463 code of
/// the reply's class ("All status codes returned by the server must agree
/// with the primary response code"); later lines lose the same code ("the
/// same status code must appear at the beginning of the text in each
/// line"), and keep anything else as text. Returns the code and each
/// line's text.
fn rfc_reading<'a>(lines: &[Line<'a>]) -> (Option<[u16; 3]>, Vec<&'a [u8]>) {
    let code = lines[0].code;
    let enhanced = rfc3463(lines[0].text).filter(|(e, _)| e[0] == code / 100);
    let mut texts = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let mut t = line.text;
        if let Some((e, len)) = enhanced
            && (i == 0 || rfc3463(t).is_some_and(|(other, _)| other == e))
        {
            t = &t[len..];
            t = t.strip_prefix(b" ").unwrap_or(t);
        }
        texts.push(t);
    }
    (enhanced.map(|(e, _)| e), texts)
}

/// Lines' texts joined with LF, as both codecs present them.
fn joined<T: AsRef<[u8]>>(texts: &[T]) -> String {
    let texts: Vec<&[u8]> = texts.iter().map(AsRef::as_ref).collect();
    String::from_utf8_lossy(&texts.join(&b'\n')).into_owned()
}

/// How smtp-proto 0.2.5 reads the text of one line (its `ResponseReceiver`,
/// as read in its source): what it took as an enhanced code, how many
/// octets that was, the text, and whether the line end went into the text.
struct ProtoLine {
    esc: Option<[u8; 3]>,
    taken: usize,
    text: Vec<u8>,
    kept_line_end: bool,
}

fn proto_line(line: &Line<'_>) -> ProtoLine {
    let (text, crlf) = (line.text, line.crlf);
    // The code alone: no text to read.
    if !line.separator {
        return ProtoLine {
            esc: None,
            taken: 0,
            text: Vec::new(),
            kept_line_end: false,
        };
    }
    let end = if crlf { b'\r' } else { b'\n' };
    let plain = |kept_line_end: bool| {
        let mut t = text.to_vec();
        if kept_line_end {
            t.push(end);
        }
        ProtoLine {
            esc: None,
            taken: 0,
            text: t,
            kept_line_end,
        }
    };
    // A text that starts with neither a digit nor "." is text.
    if text
        .first()
        .is_some_and(|c| !c.is_ascii_digit() && *c != b'.')
    {
        return plain(false);
    }
    // The octet after the text is the line end (CR of CRLF, or LF).
    let seen = |i: usize| text.get(i).copied().unwrap_or(end);
    // One digit per field and SP or CR after it: taken at once.
    if let [c, b'.', s, b'.', d, ..] = text
        && [c, s, d].iter().all(|b| b.is_ascii_digit())
        && matches!(seen(5), b' ' | b'\r')
    {
        let rest = text.get(6..).unwrap_or_default();
        return ProtoLine {
            esc: Some([c - b'0', s - b'0', d - b'0']),
            taken: 5,
            text: rest.to_vec(),
            kept_line_end: false,
        };
    }
    // Otherwise octet by octet: digits add to a field (u8, saturating) while
    // it is below 100 and at most 10 octets were taken; "." moves to the
    // next field; SP, CR or LF after the third field ends the code, even
    // with empty fields. Anything else puts the octets back into the text,
    // that one included, even when it is the line end.
    let mut fields = [0u8; 3];
    let mut field = 0;
    let mut taken = 0;
    for i in 0..=text.len() {
        match seen(i) {
            d @ b'0'..=b'9' if fields[field] < 100 && taken < 10 => {
                fields[field] = fields[field].saturating_mul(10).saturating_add(d - b'0');
                taken += 1;
            }
            b'.' if field < 2 && taken < 10 => {
                field += 1;
                taken += 1;
            }
            b' ' | b'\r' | b'\n' if field == 2 => {
                let rest = text.get(i + 1..).unwrap_or_default();
                return ProtoLine {
                    esc: Some(fields),
                    taken: i,
                    text: rest.to_vec(),
                    kept_line_end: false,
                };
            }
            _ => return plain(i == text.len()),
        }
    }
    plain(false)
}

fn compare_reply(wire: &[u8]) {
    let Ok((consumed, Some(ours))) = ReplyParser::new().decode(wire) else {
        return;
    };
    let mut rest = wire.iter();
    let Ok(theirs) = ResponseReceiver::default().parse(&mut rest) else {
        return;
    };
    let a = ReplyMeaning {
        consumed,
        code: ours.code,
        enhanced: ours
            .enhanced
            .map(|e| [u16::from(e.class), e.subject, e.detail]),
        text: ours.text().to_string(),
    };
    let b = ReplyMeaning {
        consumed: wire.len() - rest.as_slice().len(),
        code: theirs.code,
        enhanced: (theirs.esc != [0; 3]).then(|| theirs.esc.map(u16::from)),
        text: theirs.message.clone(),
    };
    if a == b {
        return;
    }
    // Before a disagreement is put down to the named differences, each
    // reading is checked against a model of it: smtp-wire's against the RFC
    // reading, smtp-proto's against its reading as its source has it
    // (`ResponseReceiver`: the first line's code, the last enhanced code it
    // took on any line, the texts joined with LF). Then every line where
    // the models differ must show a named difference.
    let show = String::from_utf8_lossy(wire);
    let lines = lines(&wire[..consumed]);
    let code = lines[0].code;
    let (enhanced, texts) = rfc_reading(&lines);
    let rfc = ReplyMeaning {
        consumed,
        code,
        enhanced,
        text: joined(&texts),
    };
    assert_eq!(
        a, rfc,
        "reply {show:?}: smtp-wire departs from the RFC reading"
    );
    let read: Vec<ProtoLine> = lines.iter().map(proto_line).collect();
    let esc = read.iter().rev().find_map(|l| l.esc).unwrap_or_default();
    let model = ReplyMeaning {
        consumed,
        code,
        enhanced: (esc != [0; 3]).then(|| esc.map(u16::from)),
        text: joined(&read.iter().map(|l| &l.text).collect::<Vec<_>>()),
    };
    assert_eq!(
        b, model,
        "reply {show:?}: smtp-proto departs from its model"
    );
    let mut last_code_taken = None;
    for ((line, theirs), ours) in lines.iter().zip(&read).zip(&texts) {
        let difference = if theirs.kept_line_end {
            Some(Difference::LineEndInText)
        } else if let Some(esc) = theirs.esc {
            match rfc3463(&line.text[..theirs.taken]) {
                None => Some(Difference::EnhancedOutsideRfc3463),
                Some((e, _)) if e[0] != code / 100 => Some(Difference::EnhancedClassMismatch),
                // The first line had none, or another one.
                Some((e, _)) if enhanced != Some(e) => Some(Difference::EnhancedOnLaterLine),
                Some((e, _)) if e.iter().zip(esc).any(|(&o, t)| o != u16::from(t)) => {
                    Some(Difference::EnhancedAbove255)
                }
                Some(_) => None,
            }
        } else {
            None
        };
        if theirs.esc.is_some() {
            last_code_taken = Some(difference);
        }
        if *ours != theirs.text.as_slice() {
            let Some(difference) = difference else {
                panic!(
                    "reply {show:?}: line {:?} read differently, no named difference",
                    String::from_utf8_lossy(line.text)
                );
            };
            noted(difference, wire);
        }
    }
    if a.enhanced != b.enhanced {
        // smtp-proto's code is the last one it took: that line explains it.
        let Some(Some(difference)) = last_code_taken else {
            panic!(
                "reply {show:?}: enhanced codes differ, no named difference\n smtp-wire:  {a:?}\n smtp-proto: {b:?}"
            );
        };
        noted(difference, wire);
    }
}

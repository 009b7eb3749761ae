//! The client rules as plain functions of what was seen, shared by the two
//! judges: the active one ([`super::judge`], a receiver that answers the
//! client itself) and the passive one ([`crate::observe`], which reads a
//! recorded session). Each rule is written once, here (the message text
//! scan is [`super::body::BodyScanner`]); the judges only differ in how they
//! learn the facts (their own replies, or the recorded ones).

use smtp_wire::{Body, Capabilities, CommandError, MAX_COMMAND_LINE, MailParams, RcptParams};

use super::checks::Check;

/// A broken rule: the check, and one line saying how.
pub(crate) type Fault = (Check, String);

/// Commands that must end a pipelined group: "EHLO, DATA, VRFY, EXPN, TURN,
/// QUIT, and NOOP ... can only appear as the last command in a group"
/// (RFC 2920 §3.1); HELO for the same reason; STARTTLS (RFC 3207 §4.2: the
/// client waits for the 220 before the handshake); AUTH and each response
/// (RFC 4954 §4: the exchange is a dialogue). `greeting` is the server's
/// first reply (RFC 5321 §4.3.1: the client waits for it).
pub(crate) const GROUP_ENDERS: &[&str] = &[
    "greeting",
    "EHLO",
    "HELO",
    "DATA",
    "VRFY",
    "EXPN",
    "TURN",
    "QUIT",
    "NOOP",
    "STARTTLS",
    "AUTH",
    "AUTH response",
];

/// `verb` was sent before the reply to `prev` (the greeting, or the
/// previous command) was written. RFC 5321 §4.3.1: the client waits for
/// the greeting; RFC 2920 §3.1: it waits for every reply unless PIPELINING
/// was offered, and even then the group enders end a group.
pub(crate) fn sent_early(verb: &str, prev: &str, pipelining: bool) -> Option<Fault> {
    if prev == "greeting" {
        return Some((
            Check::GreetingWait,
            format!("{verb} sent before the greeting was complete"),
        ));
    }
    if !pipelining {
        Some((
            Check::WaitsForReplies,
            format!("{verb} sent before the reply to {prev} (PIPELINING not offered)"),
        ))
    } else if GROUP_ENDERS.contains(&prev) {
        Some((
            Check::WaitsForReplies,
            format!("{verb} sent before the reply to {prev}, which must end a pipelined group"),
        ))
    } else {
        None
    }
}

/// RFC 5321 §4.1.1.4 (message text after DATA waits for the 354), in the
/// words of RFC 2920 §3.1: DATA ends a group.
pub(crate) fn text_before_354() -> Fault {
    (
        Check::WaitsForReplies,
        "message text sent before the 354 reply to DATA".into(),
    )
}

/// RFC 5321 §2.3.8: a command line ends with CRLF, and holds no other CR.
pub(crate) fn command_line_end(line: &[u8], bare_lf: bool) -> Option<Fault> {
    if !bare_lf && !line.contains(&b'\r') {
        return None;
    }
    let what = if bare_lf { "a bare LF" } else { "a bare CR" };
    let shown = String::from_utf8_lossy(line);
    Some((
        Check::Crlf,
        format!("command line {shown:?} ends with {what}"),
    ))
}

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CRLF.
/// `len` counts the line end.
pub(crate) fn fits_command_line(len: u64) -> bool {
    len <= MAX_COMMAND_LINE as u64
}

/// A command line over the limit of [`fits_command_line`].
pub(crate) fn command_too_long() -> Fault {
    (
        Check::LineLength,
        format!("a command line longer than {MAX_COMMAND_LINE} octets"),
    )
}

/// RFC 5321 §4.1.1, §4.1.2: the command grammar (smtp-wire's parser
/// decides; this says how the line broke it).
pub(crate) fn bad_syntax(line: &[u8], error: &CommandError) -> Fault {
    let shown = String::from_utf8_lossy(line);
    (Check::CommandSyntax, format!("{shown:?}: {error}"))
}

/// RFC 5321 §4.1.1.4: after a DATA that did not get 354 the client sends
/// no message text (the reaction of the `rcpt-refused` scenario). `line`
/// is a line that is no command.
pub(crate) fn text_after_refused_data(line: &[u8]) -> String {
    let shown = String::from_utf8_lossy(line);
    format!("message text ({shown:?}) sent although DATA was refused")
}

/// What the client could know of the session when it sent a command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// EHLO or HELO was accepted (or its reply is not known yet).
    pub(crate) greeted: bool,
    /// MAIL was accepted (or its reply is not known yet).
    pub(crate) mail: bool,
    /// RCPT commands sent in the transaction.
    pub(crate) rcpts: usize,
}

/// RFC 5321 §4.1.1.1 and §3.2: a client opens with EHLO, and uses HELO only
/// when EHLO is refused.
pub(crate) fn helo_first(ehlo_tried: bool) -> Option<Fault> {
    (!ehlo_tried).then(|| {
        (
            Check::EhloPreferred,
            "opened with HELO without trying EHLO".into(),
        )
    })
}

/// RFC 5321 §4.1.4 and §3.3: EHLO/HELO before MAIL, then MAIL, RCPT, DATA
/// in order. `was_early`: sent before the reply to the previous command
/// (RFC 2920 §3.1: with pipelining the client cannot know yet whether MAIL
/// or RCPT was accepted, so the order is judged on what it sent).
pub(crate) fn order(verb: &str, p: Progress, was_early: bool) -> Option<Fault> {
    if matches!(verb, "MAIL" | "RCPT" | "DATA") && !p.greeted {
        return Some((
            Check::EhloFirst,
            format!("{verb} before a successful EHLO/HELO"),
        ));
    }
    if was_early {
        return None;
    }
    let text = match verb {
        "MAIL" if p.mail => "MAIL inside an open transaction",
        "RCPT" if !p.mail => "RCPT without an accepted MAIL",
        "DATA" if !p.mail || p.rcpts == 0 => "DATA without MAIL and RCPT",
        "BDAT" if !p.greeted || !p.mail => "BDAT without MAIL and RCPT",
        _ => return None,
    };
    Some((Check::CommandOrder, text.into()))
}

/// RFC 5321 §4.1.1.2 and §2.2.2: MAIL parameters only for extensions the
/// server offered.
pub(crate) fn mail_params(p: &MailParams, caps: &Capabilities) -> Option<Fault> {
    let mut bad = Vec::new();
    for (used, keyword, name) in [
        (p.size.is_some(), "SIZE", "SIZE"),
        (p.body.is_some(), "8BITMIME", "BODY"),
        (p.smtputf8, "SMTPUTF8", "SMTPUTF8"),
        (p.auth.is_some(), "AUTH", "AUTH"),
        (p.ret.is_some() || p.envid.is_some(), "DSN", "RET/ENVID"),
    ] {
        if used && !caps.has(keyword) {
            bad.push(name.to_string());
        }
    }
    bad.extend(p.other.iter().map(|o| o.keyword.clone()));
    unoffered("MAIL", bad)
}

/// RFC 5321 §4.1.1.3: RCPT parameters only for offered extensions (RFC
/// 3461's NOTIFY and ORCPT need DSN).
pub(crate) fn rcpt_params(p: &RcptParams, caps: &Capabilities) -> Option<Fault> {
    let mut bad: Vec<String> = p.other.iter().map(|o| o.keyword.clone()).collect();
    if (p.notify.is_some() || p.orcpt.is_some()) && !caps.has("DSN") {
        bad.push("NOTIFY/ORCPT".into());
    }
    unoffered("RCPT", bad)
}

fn unoffered(verb: &str, bad: Vec<String>) -> Option<Fault> {
    (!bad.is_empty()).then(|| {
        (
            Check::ParamsOffered,
            format!("{verb} carries {} though not offered", bad.join(", ")),
        )
    })
}

/// RFC 3030 §2: BDAT only when CHUNKING was offered.
pub(crate) fn bdat_offered(caps: &Capabilities) -> Option<Fault> {
    (!caps.has("CHUNKING")).then(|| {
        (
            Check::ParamsOffered,
            "BDAT used though CHUNKING was not offered".into(),
        )
    })
}

/// RFC 6531 §3.4: a non-ASCII address only in a transaction declared with
/// SMTPUTF8 (on an offered extension).
pub(crate) fn utf8_address(utf8: bool, declared: bool, verb: &str) -> Option<Fault> {
    (utf8 && !declared).then(|| {
        (
            Check::SmtpUtf8,
            format!("non-ASCII address in {verb} without SMTPUTF8"),
        )
    })
}

/// Does MAIL declare an 8-bit body (RFC 6152 §2, RFC 3030 §3)?
pub(crate) fn declares_8bit(p: &MailParams) -> bool {
    matches!(p.body, Some(Body::EightBitMime | Body::BinaryMime))
}

/// RFC 6152 §3: octets with the high bit set only with 8BITMIME offered
/// and BODY=8BITMIME declared.
pub(crate) fn eight_bit(octets: u64, declared: bool, caps: &Capabilities) -> Option<Fault> {
    let offered = caps.has("8BITMIME");
    (octets > 0 && !(declared && offered)).then(|| {
        (
            Check::EightBit,
            format!(
                "{octets} octets with the high bit set without BODY=8BITMIME (offered: {offered})"
            ),
        )
    })
}

/// RFC 1870 §6 (with SIZE offered): MAIL declares SIZE=, not less than the
/// message. Ok: what passed.
pub(crate) fn size_declared(declared: Option<u64>, size: u64) -> Result<String, Fault> {
    match declared {
        None => Err((
            Check::SizeDeclared,
            "SIZE was offered but MAIL declared no SIZE=".into(),
        )),
        Some(d) if d < size => Err((
            Check::SizeDeclared,
            format!("SIZE={d} declared, {size} octets sent"),
        )),
        Some(d) => Ok(format!("SIZE={d} for {size} octets")),
    }
}

/// RFC 1870 §6: a message larger than the advertised SIZE is not sent (the
/// reaction of the `size-too-small` scenario).
pub(crate) fn over_size_limit(size: u64, limit: u64) -> Option<String> {
    (size > limit)
        .then(|| format!("a {size}-octet message was sent though SIZE {limit} was advertised"))
}

/// RFC 4954 §4, RFC 3207 §6: no AUTH (credentials) before TLS.
pub(crate) fn auth_before_tls(mechanism: &str) -> Fault {
    (
        Check::NoAuthInClear,
        format!("AUTH {mechanism} sent before TLS"),
    )
}

/// RFC 4954 §4, RFC 3207 §6: credentials (an initial response, or the
/// answer to a challenge) sent without TLS, where the server offered AUTH
/// in the clear. Only a recording shows it: the active judge never offers
/// AUTH before TLS.
pub(crate) fn credentials_in_clear(mechanism: &str) -> Fault {
    (
        Check::NoAuthInClear,
        format!("credentials sent in the clear (AUTH {mechanism} without TLS)"),
    )
}

/// RFC 3207 §4.2: the first command after the handshake is EHLO (the
/// client forgets what it learnt in the clear).
pub(crate) fn first_after_tls(verb: &str) -> Option<Fault> {
    (verb != "EHLO").then(|| {
        (
            Check::EhloAfterTls,
            format!("the first command after TLS was {verb}"),
        )
    })
}

/// RFC 5321 §4.1.1.10: nothing after QUIT.
pub(crate) fn after_quit(verb: &str) -> Fault {
    (Check::Quit, format!("{verb} sent after QUIT"))
}

/// RFC 5321 §4.1.1.10: the client does not close without QUIT. `how`: how
/// the session ended.
pub(crate) fn no_quit(how: &str) -> Fault {
    (Check::Quit, format!("no QUIT: {how}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_commands_are_judged_by_what_came_before() {
        assert_eq!(
            sent_early("EHLO", "greeting", true).map(|f| f.0),
            Some(Check::GreetingWait)
        );
        assert_eq!(sent_early("RCPT", "MAIL", true), None);
        assert_eq!(
            sent_early("RCPT", "MAIL", false).map(|f| f.0),
            Some(Check::WaitsForReplies)
        );
        assert!(
            sent_early("MAIL", "EHLO", true)
                .is_some_and(|f| f.1.contains("must end a pipelined group"))
        );
    }

    #[test]
    fn order_trusts_a_pipelined_client_until_it_could_know() {
        let none = Progress::default();
        assert_eq!(
            order("MAIL", none, false).map(|f| f.0),
            Some(Check::EhloFirst)
        );
        let greeted = Progress {
            greeted: true,
            ..none
        };
        assert_eq!(order("RCPT", greeted, true), None);
        assert_eq!(
            order("RCPT", greeted, false).map(|f| f.0),
            Some(Check::CommandOrder)
        );
        let one = Progress {
            greeted: true,
            mail: true,
            rcpts: 1,
        };
        assert_eq!(order("DATA", one, false), None);
        assert!(order("MAIL", one, false).is_some());
    }

    #[test]
    fn size_rules() {
        assert!(size_declared(None, 10).is_err());
        assert!(size_declared(Some(9), 10).is_err());
        assert_eq!(
            size_declared(Some(10), 10),
            Ok("SIZE=10 for 10 octets".into())
        );
        assert_eq!(over_size_limit(64, 64), None);
        assert!(over_size_limit(65, 64).is_some());
        assert!(fits_command_line(512));
        assert!(!fits_command_line(513));
    }
}

//! Greeting, EHLO and HELO (RFC 5321 §3.1, §4.1.1.1, §4.1.4, §4.2, §2.4).

use smtp_wire::{Capability, Reply};

use super::{Body, Case, Need, case, custom, pass, violation};
use crate::model::Level::{Must, Should};
use crate::model::Verdict;
use crate::server::ctx::{Ctx, Flow, checked, is_domain_or_literal, setup};
use crate::server::script::Step::*;
use crate::server::want::Want::*;

/// EHLO and HELO themselves: LMTP has LHLO instead (RFC 2033 §4.1), and
/// the `lmtp` cases check it. The other `ehlo` cases are about the
/// ESMTP greeting in general and run with LHLO there.
const SMTP_ONLY: &[Need] = &[Need::Smtp];

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "greet.code-220",
            Must,
            "RFC 5321 §3.1, §4.3.2",
            "The connection greeting is a 220 reply",
            &[],
            custom!(greeting_code),
        ),
        case(
            "greet.domain",
            Should,
            "RFC 5321 §4.2, §4.3.1",
            "The greeting names the server (a domain or address literal) as its first word",
            &[],
            custom!(greeting_domain),
        ),
        case(
            "ehlo.accepted",
            Must,
            "RFC 5321 §4.5.1, §4.1.1.1",
            "EHLO is supported and answered with 250",
            SMTP_ONLY,
            Body::Script(&[Connect, Check("EHLO {helo}", Codes(&[250]))]),
        ),
        case(
            "ehlo.reply-syntax",
            Must,
            "RFC 5321 §4.2.1",
            "The EHLO reply is one well-formed multi-line reply: same code on every line, '-' on all but the last",
            &[],
            custom!(ehlo_reply_syntax),
        ),
        case(
            "ehlo.first-line-domain",
            Must,
            "RFC 5321 §4.1.1.1",
            "The first line of the EHLO reply starts with the server's domain",
            &[],
            custom!(ehlo_first_line),
        ),
        case(
            "ehlo.keyword-syntax",
            Must,
            "RFC 5321 §4.1.1.1",
            "Every EHLO line after the first is `ehlo-keyword *(SP ehlo-param)`",
            &[],
            custom!(ehlo_keywords),
        ),
        case(
            "ehlo.missing-domain",
            Should,
            "RFC 5321 §4.1.1.1, §4.1.4",
            "EHLO without its domain argument is refused with 501",
            &[],
            Body::Script(&[Fresh, Check("{ehlo}", Codes(&[501, 500]))]),
        ),
        case(
            "ehlo.address-literal",
            Must,
            "RFC 5321 §4.1.1.1, §4.1.3",
            "EHLO with an address literal ([127.0.0.1]) is accepted",
            &[],
            Body::Script(&[Fresh, Check("{ehlo} [127.0.0.1]", Codes(&[250]))]),
        ),
        case(
            "ehlo.repeat-resets",
            Must,
            "RFC 5321 §4.1.4",
            "A second EHLO is accepted and resets the transaction like RSET",
            &[],
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Check("{ehlo} {helo}", Codes(&[250])),
                Check("RCPT TO:<{rcpt}>", Codes(&[503])),
            ]),
        ),
        case(
            "ehlo.advertised-commands",
            Must,
            "RFC 5321 §4.2.4",
            "Commands advertised in EHLO (HELP, VRFY, EXPN...) are not answered 500/502",
            &[],
            custom!(advertised_commands),
        ),
        case(
            "helo.accepted",
            Must,
            "RFC 5321 §4.1.1.1, App. F.3",
            "HELO is accepted with 250 and opens a session usable for mail",
            SMTP_ONLY,
            Body::Script(&[
                Fresh,
                Check("HELO {helo}", Codes(&[250])),
                Check("MAIL FROM:<{from}>", Codes(&[250])),
            ]),
        ),
        case(
            "helo.plain-reply",
            Must,
            "RFC 5321 §3.2",
            "HELO is not answered with an EHLO-style list of extensions",
            SMTP_ONLY,
            custom!(helo_plain),
        ),
        case(
            "cmd.case-insensitive",
            Must,
            "RFC 5321 §2.4",
            "Verbs and FROM:/TO: are case-insensitive",
            &[],
            Body::Script(&[
                Fresh,
                Check("{ehlo-lc} {helo}", Codes(&[250])),
                Check("mail from:<{from}>", Codes(&[250])),
                Check("rCpT tO:<{rcpt}>", Codes(&[250, 251])),
                Check("rset", Codes(&[250])),
            ]),
        ),
    ]
}

async fn greeting_code(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.open().await?;
    let greeting = checked(conn.reply().await, "the greeting")?;
    match greeting.code {
        220 => pass(format!("{greeting}")),
        // RFC 5321 §3.1: 554 says "no SMTP service here"; legal, but then
        // nothing else can be tested.
        554 => Ok(Verdict::Inconclusive(format!(
            "the server refuses service: {greeting}"
        ))),
        _ => violation(format!("the greeting is {greeting}")),
    }
}

async fn greeting_domain(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.open().await?;
    let greeting = setup(conn.reply().await, "the greeting")?;
    let first = first_word(&greeting);
    if is_domain_or_literal(first) {
        pass(format!("names itself {first}"))
    } else {
        violation(format!(
            "the greeting's first word {first:?} is not a domain"
        ))
    }
}

fn first_word(reply: &Reply) -> &str {
    reply
        .first_line()
        .split_ascii_whitespace()
        .next()
        .unwrap_or("")
}

async fn ehlo_reply_syntax(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.connect().await?;
    let line = ctx.expand("{ehlo} {helo}");
    let reply = checked(conn.command(&line).await, &line)?;
    // RFC 5321 §4.2.1: a reply ends at the line with a space after the
    // code; anything after it is not part of this reply.
    match conn.reply_within(ctx.grace()).await {
        Ok(None) if !conn.has_pending() => pass(format!("{} lines", reply.line_count())),
        Ok(None) => violation("stray bytes after the last line of the EHLO reply"),
        Ok(Some(extra)) => violation(format!(
            "the EHLO reply ended early: another reply followed ({extra})"
        )),
        Err(e) => violation(format!("after the EHLO reply: {e}")),
    }
}

async fn ehlo_first_line(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.connect().await?;
    let caps = ctx.ehlo(&mut conn).await?;
    let first = caps.domain().split_ascii_whitespace().next().unwrap_or("");
    if is_domain_or_literal(first) {
        pass(format!("names itself {first}"))
    } else {
        violation(format!(
            "the first EHLO line {:?} does not start with a domain",
            caps.domain()
        ))
    }
}

/// RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
/// ehlo-param = 1*(%d33-126).
fn ehlo_line_ok(line: &str) -> bool {
    let mut words = line.split(' ');
    let keyword = words.next().unwrap_or("");
    let keyword_ok = keyword
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && keyword
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    keyword_ok && words.all(|p| !p.is_empty() && p.bytes().all(|b| (33..=126).contains(&b)))
}

async fn ehlo_keywords(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.connect().await?;
    let line = ctx.expand("{ehlo} {helo}");
    let reply = ctx.expect(&mut conn, &line, &Codes(&[250])).await?;
    let bad: Vec<&str> = reply.lines().skip(1).filter(|l| !ehlo_line_ok(l)).collect();
    if bad.is_empty() {
        pass(format!("{} keywords", reply.line_count() - 1))
    } else {
        violation(format!("malformed EHLO lines: {bad:?}"))
    }
}

async fn advertised_commands(ctx: &mut Ctx) -> Flow<Verdict> {
    let probes = [
        ("HELP", "HELP"),
        ("VRFY", "VRFY postmaster"),
        ("EXPN", "EXPN postmaster"),
    ];
    let offered: Vec<(&str, &str)> = probes
        .into_iter()
        .filter(|(kw, _)| ctx.caps().has(kw))
        .collect();
    if offered.is_empty() {
        return Ok(Verdict::Skip(
            "no command keyword (HELP, VRFY, EXPN) advertised".into(),
        ));
    }
    let mut conn = ctx.session().await?;
    let mut seen = Vec::new();
    for (keyword, line) in offered {
        let reply = ctx.command(&mut conn, line).await?;
        if matches!(reply.code, 500 | 502) {
            return violation(format!("{keyword} is advertised but {line} got {reply}"));
        }
        seen.push(format!("{line} -> {}", reply.code));
    }
    pass(seen.join("; "))
}

async fn helo_plain(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.fresh().await?;
    let reply = ctx.expect(&mut conn, "HELO {helo}", &Codes(&[250])).await?;
    let keywords: Vec<&str> = reply
        .lines()
        .skip(1)
        .filter(|l| !matches!(Capability::parse(l), Capability::Other { .. }))
        .collect();
    if keywords.is_empty() {
        pass(format!("{reply}"))
    } else {
        violation(format!(
            "HELO answered with extension keywords {keywords:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::ehlo_line_ok;

    #[test]
    fn ehlo_line_grammar() {
        assert!(ehlo_line_ok("SIZE 10240000"));
        assert!(ehlo_line_ok("AUTH PLAIN LOGIN"));
        assert!(ehlo_line_ok("X-EXPS LOGIN"));
        assert!(!ehlo_line_ok("X_BAD"));
        assert!(!ehlo_line_ok(""));
        assert!(!ehlo_line_ok("SIZE  10"));
        assert!(!ehlo_line_ok("-LEADING"));
    }
}

//! SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), CHUNKING
//! (RFC 3030), ENHANCEDSTATUSCODES (RFC 2034, RFC 3463) and DSN
//! (RFC 3461).

use smtp_wire::{Capability, EnhancedCode, Reply};

use super::data::HEADER;
use super::{Body, Case, Need, case, custom, pass, violation};
use crate::model::Level::{Must, Should};
use crate::model::Verdict;
use crate::server::conn::{Conn, ConnError};
use crate::server::ctx::{Ctx, Flow, checked, short};
use crate::server::script::Step::*;
use crate::server::want::Want::*;

pub(super) fn cases() -> Vec<Case> {
    let size: &[Need] = &[Need::Ext("SIZE")];
    let eight: &[Need] = &[Need::Ext("8BITMIME")];
    let chunking: &[Need] = &[Need::Ext("CHUNKING")];
    let enhanced: &[Need] = &[Need::Ext("ENHANCEDSTATUSCODES")];
    let dsn: &[Need] = &[Need::Ext("DSN")];
    vec![
        case(
            "dsn.mail-params",
            Must,
            "RFC 3461 §4.3, §4.4",
            "With DSN, MAIL FROM takes RET=HDRS and ENVID=",
            dsn,
            Body::Script(&[
                Session,
                Check("MAIL FROM:<{from}> RET=HDRS ENVID=QQ314159", Codes(&[250])),
            ]),
        ),
        case(
            "dsn.rcpt-params",
            Must,
            "RFC 3461 §4.1, §4.2",
            "With DSN, RCPT TO takes NOTIFY=SUCCESS,FAILURE and ORCPT=rfc822;...",
            dsn,
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}> RET=FULL", Codes(&[250])),
                Check(
                    "RCPT TO:<{rcpt}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{rcpt}",
                    Codes(&[250]),
                ),
            ]),
        ),
        case(
            "dsn.notify-never-alone",
            Should,
            "RFC 3461 §4.1",
            "NOTIFY=NEVER combined with another value is refused (501 or 555)",
            dsn,
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Check("RCPT TO:<{rcpt}> NOTIFY=NEVER,SUCCESS", Codes(&[501, 555])),
            ]),
        ),
        case(
            "dsn.bad-ret-value",
            Should,
            "RFC 3461 §4.3",
            "RET= with a value other than FULL or HDRS is refused (501 or 555)",
            dsn,
            Body::Script(&[
                Session,
                Check("MAIL FROM:<{from}> RET=EVERYTHING", Codes(&[501, 555])),
            ]),
        ),
        case(
            "size.keyword-syntax",
            Must,
            "RFC 1870 §4",
            "The SIZE keyword has at most one parameter, a number",
            size,
            custom!(size_syntax),
        ),
        case(
            "size.declared-ok",
            Must,
            "RFC 1870 §6.1",
            "MAIL FROM with a small SIZE= is accepted",
            size,
            Body::Script(&[
                Session,
                Check("MAIL FROM:<{from}> SIZE=1000", Codes(&[250])),
            ]),
        ),
        case(
            "size.declared-over-limit",
            Must,
            "RFC 1870 §6.1",
            "MAIL FROM declaring more than the advertised limit is refused with 552",
            &[Need::SizeLimit],
            custom!(declared_over),
        ),
        case(
            "size.actual-over-limit",
            Must,
            "RFC 1870 §6.3",
            "A message larger than the limit (whatever SIZE= said) is refused with 552",
            &[Need::SizeLimit],
            custom!(actual_over),
        ),
        case(
            "8bitmime.body-8bitmime",
            Must,
            "RFC 6152 §3",
            "MAIL BODY=8BITMIME is accepted, and so is an 8-bit body",
            eight,
            custom!(eight_bit_body),
        ),
        case(
            "8bitmime.body-7bit",
            Must,
            "RFC 6152 §3",
            "MAIL BODY=7BIT is accepted",
            eight,
            Body::Script(&[
                Session,
                Check("MAIL FROM:<{from}> BODY=7BIT", Codes(&[250])),
            ]),
        ),
        case(
            "8bitmime.bad-body-value",
            Should,
            "RFC 6152 §3",
            "MAIL BODY=9BIT (no such value) is refused with 501 or 555",
            eight,
            Body::Script(&[
                Session,
                Check("MAIL FROM:<{from}> BODY=9BIT", Codes(&[501, 555, 504])),
            ]),
        ),
        case(
            "smtputf8.address",
            Must,
            "RFC 6531 §3.4",
            "A UTF-8 address with the SMTPUTF8 parameter is accepted",
            &[Need::Ext("SMTPUTF8")],
            Body::Script(&[
                Session,
                Check("MAIL FROM:<jörg@exämple.net> SMTPUTF8", Codes(&[250])),
            ]),
        ),
        case(
            "chunking.bdat-last",
            Must,
            "RFC 3030 §2",
            "BDAT <n> LAST with the message gets 250",
            chunking,
            custom!(bdat_last),
        ),
        case(
            "chunking.dot-is-data",
            Must,
            "RFC 3030 §2",
            "Inside a BDAT chunk <CRLF>.<CRLF> is data: one reply per chunk",
            chunking,
            custom!(bdat_dot),
        ),
        case(
            "chunking.multi-chunk",
            Must,
            "RFC 3030 §2",
            "Several chunks, then BDAT 0 LAST, each get 250",
            chunking,
            custom!(bdat_multi),
        ),
        case(
            "chunking.refused-chunk-consumed",
            Must,
            "RFC 3030 §2",
            "A refused BDAT still consumes its octets: they are never run as commands",
            chunking,
            custom!(bdat_refused),
        ),
        case(
            "chunking.no-rcpt",
            Must,
            "RFC 3030 §2, RFC 5321 §4.1.4",
            "BDAT after MAIL with no accepted recipient is refused (503/554) and its octets swallowed",
            chunking,
            custom!(bdat_no_rcpt),
        ),
        case(
            "chunking.data-after-bdat",
            Must,
            "RFC 3030 §2",
            "DATA after a BDAT chunk of the same transaction is refused with 503",
            chunking,
            custom!(data_after_bdat),
        ),
        case(
            "chunking.rset-discards",
            Must,
            "RFC 3030 §2",
            "RSET between chunks clears the transaction: a BDAT LAST after it is refused",
            chunking,
            custom!(rset_discards),
        ),
        case(
            "chunking.after-last",
            Must,
            "RFC 3030 §2",
            "A BDAT after BDAT LAST (no new MAIL) is refused with 503",
            chunking,
            custom!(after_last),
        ),
        case(
            "chunking.bad-size",
            Must,
            "RFC 3030 §2, RFC 5321 §4.2.4",
            "BDAT with a missing or non-numeric size is refused (501; or closing), never taken as a chunk",
            chunking,
            custom!(bdat_bad_size),
        ),
        case(
            "chunking.over-size-limit",
            Must,
            "RFC 1870 §6.3, RFC 3030 §2",
            "Chunks adding up to more than the SIZE limit are refused (552) and swallowed",
            &[Need::Ext("CHUNKING"), Need::SizeLimit],
            custom!(bdat_over_size),
        ),
        case(
            "chunking.pipelined",
            Must,
            "RFC 3030 §2, RFC 2920 §3.1",
            "MAIL, RCPT and several BDAT chunks sent in one group each get their reply, in order",
            &[Need::Ext("CHUNKING"), Need::Ext("PIPELINING")],
            custom!(bdat_pipelined),
        ),
        case(
            "enhanced.present",
            Must,
            "RFC 2034 §3",
            "With ENHANCEDSTATUSCODES, every 2yz/4yz/5yz reply but the greeting and EHLO carries a status code",
            enhanced,
            custom!(enhanced_present),
        ),
        case(
            "enhanced.class-matches",
            Must,
            "RFC 3463 §2, RFC 2034 §3",
            "The status code's class equals the reply code's first digit",
            enhanced,
            custom!(enhanced_class),
        ),
    ]
}

async fn size_syntax(ctx: &mut Ctx) -> Flow<Verdict> {
    let found = ctx
        .caps()
        .list()
        .find(|c| c.keyword().eq_ignore_ascii_case("SIZE"));
    match found {
        Some(Capability::Size(n)) => pass(match n {
            Some(n) => format!("SIZE {n}"),
            None => "SIZE (no limit given)".into(),
        }),
        Some(other) => violation(format!("malformed SIZE line: {other}")),
        None => Ok(Verdict::Skip("SIZE not advertised".into())),
    }
}

fn limit(ctx: &Ctx) -> u64 {
    ctx.caps().size_limit().unwrap_or(u64::MAX)
}

async fn declared_over(ctx: &mut Ctx) -> Flow<Verdict> {
    let over = limit(ctx).saturating_add(1);
    let mut conn = ctx.session().await?;
    let line = format!("MAIL FROM:<{{from}}> SIZE={over}");
    ctx.check(&mut conn, &line, &Codes(&[552])).await?;
    pass(format!("SIZE={over} -> 552"))
}

async fn actual_over(ctx: &mut Ctx) -> Flow<Verdict> {
    let limit = limit(ctx);
    let max = ctx.options().max_message;
    if limit > max {
        return Ok(Verdict::Skip(format!(
            "the limit ({limit} octets) is above --max-message ({max})"
        )));
    }
    let mut conn = ctx.session().await?;
    // Declare a size within the limit, then send more than the limit.
    ctx.expect(&mut conn, "MAIL FROM:<{from}> SIZE=1000", &Codes(&[250]))
        .await?;
    ctx.expect(&mut conn, "RCPT TO:<{rcpt}>", &Codes(&[250, 251]))
        .await?;
    ctx.expect(&mut conn, "DATA", &Codes(&[354])).await?;
    checked(conn.send(ctx.expand(HEADER).as_bytes()).await, "the header")?;
    // 76-octet lines, like base64, until past the limit.
    let line = format!("{}\r\n", "A".repeat(76));
    let lines_needed = limit / line.len() as u64 + 2;
    let block: String = line.repeat(1000);
    let mut sent = 0u64;
    while sent < lines_needed {
        let n = (lines_needed - sent).min(1000);
        let chunk = if n == 1000 {
            &block[..]
        } else {
            &block[..(n as usize) * line.len()]
        };
        match conn.send(chunk.as_bytes()).await {
            Ok(()) => sent += n,
            // A server may refuse and close as soon as the limit is passed.
            Err(_) => break,
        }
    }
    let _ = conn.send(b".\r\n").await;
    match conn.reply().await {
        Ok(reply) if reply.is_permanent() => pass(format!("{} octets sent: {reply}", sent * 78)),
        Ok(reply) => violation(format!(
            "a message of {} octets over a {limit}-octet limit got {reply}",
            sent * 78
        )),
        Err(e) => pass(format!("refused: {e}")),
    }
}

async fn eight_bit_body(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.check(
        &mut conn,
        "MAIL FROM:<{from}> BODY=8BITMIME",
        &Codes(&[250]),
    )
    .await?;
    ctx.expect(&mut conn, "RCPT TO:<{rcpt}>", &Codes(&[250, 251]))
        .await?;
    ctx.expect(&mut conn, "DATA", &Codes(&[354])).await?;
    let mut body = ctx.expand(HEADER);
    body.push_str("Grüße, ½ €, ünïcödé in 8 bits.\r\n.\r\n");
    checked(conn.send(body.as_bytes()).await, "the 8-bit body")?;
    let reply = checked(conn.reply().await, "end of data")?;
    if reply.code == 250 {
        pass("BODY=8BITMIME and an 8-bit body accepted")
    } else {
        violation(format!("the 8-bit body got {reply}"))
    }
}

fn message(ctx: &Ctx, text: &str) -> String {
    let mut m = ctx.expand(HEADER);
    m.push_str(text);
    m
}

async fn bdat_last(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.envelope(&mut conn).await?;
    let m = message(ctx, "Sent with BDAT.\r\n");
    let bytes = format!("BDAT {} LAST\r\n{m}", m.len());
    checked(conn.send(bytes.as_bytes()).await, "BDAT")?;
    let reply = checked(conn.reply().await, "BDAT LAST")?;
    if reply.code == 250 {
        pass(format!("BDAT {} LAST -> 250", m.len()))
    } else {
        violation(format!("BDAT LAST got {reply}"))
    }
}

async fn bdat_dot(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.envelope(&mut conn).await?;
    let m = message(ctx, "line\r\n.\r\nNOOP\r\nstill data\r\n");
    let bytes = format!("BDAT {} LAST\r\n{m}", m.len());
    checked(conn.send(bytes.as_bytes()).await, "BDAT")?;
    let reply = checked(conn.reply().await, "BDAT LAST")?;
    let (extra, _) = checked(conn.replies_until_quiet(ctx.grace()).await, "after BDAT")?;
    if !extra.is_empty() {
        return violation(format!(
            "{} replies for one chunk ({reply}, then {}): the dot inside the chunk ended it",
            extra.len() + 1,
            extra[0]
        ));
    }
    if reply.code == 250 {
        pass("one 250 for the chunk")
    } else {
        violation(format!("the chunk got {reply}"))
    }
}

async fn bdat_multi(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.envelope(&mut conn).await?;
    let m = message(ctx, "Sent in chunks.\r\n");
    let (a, b) = m.split_at(m.len() / 2);
    for (i, chunk) in [a, b].into_iter().enumerate() {
        let bytes = format!("BDAT {}\r\n{chunk}", chunk.len());
        checked(conn.send(bytes.as_bytes()).await, "BDAT")?;
        let reply = checked(conn.reply().await, "BDAT")?;
        if reply.code != 250 {
            return violation(format!("chunk {} got {reply}", i + 1));
        }
    }
    ctx.check(&mut conn, "BDAT 0 LAST", &Codes(&[250])).await?;
    pass("two chunks and BDAT 0 LAST -> 250 each")
}

async fn bdat_refused(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    // No MAIL: the BDAT must be refused, and its 12 octets swallowed.
    checked(conn.send(b"BDAT 12 LAST\r\nNOOP\r\nNOOP\r\n").await, "BDAT")?;
    let reply = checked(conn.reply().await, "BDAT without MAIL")?;
    let (extra, _) = checked(conn.replies_until_quiet(ctx.grace()).await, "after BDAT")?;
    if !extra.is_empty() {
        return violation(format!(
            "the chunk of a refused BDAT ({reply}) was run as commands: {} more replies",
            extra.len()
        ));
    }
    if reply.is_positive() {
        return violation(format!("BDAT without MAIL was accepted: {reply}"));
    }
    ctx.check(&mut conn, "NOOP", &Codes(&[250])).await?;
    pass(format!("refused ({}) and the chunk swallowed", reply.code))
}

/// Sends one chunk (`BDAT <len>[ LAST]` and the octets) and reads its reply.
async fn chunk(conn: &mut Conn, text: &str, last: bool) -> Flow<Reply> {
    let bytes = format!(
        "BDAT {}{}\r\n{text}",
        text.len(),
        if last { " LAST" } else { "" }
    );
    checked(conn.send(bytes.as_bytes()).await, "BDAT")?;
    checked(conn.reply().await, "BDAT")
}

/// No reply may follow within the grace period, and NOOP then gets 250:
/// what a swallowed chunk leaves behind.
async fn in_step(ctx: &Ctx, conn: &mut Conn, what: &str) -> Flow<()> {
    let (extra, _) = checked(conn.replies_until_quiet(ctx.grace()).await, what)?;
    if let Some(first) = extra.first() {
        return violation(format!(
            "{} unexpected replies after {what} (first: {first}): its octets ran as commands",
            extra.len()
        ));
    }
    ctx.check(conn, "NOOP", &Codes(&[250])).await?;
    Ok(())
}

async fn bdat_no_rcpt(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.expect(&mut conn, "MAIL FROM:<{from}>", &Codes(&[250]))
        .await?;
    // The 12 octets look like commands: run, they would earn replies.
    let reply = chunk(&mut conn, "NOOP\r\nNOOP\r\n", true).await?;
    if reply.is_positive() {
        return violation(format!("BDAT without an accepted RCPT got {reply}"));
    }
    in_step(ctx, &mut conn, "the refused chunk").await?;
    pass(format!("refused ({}) and the chunk swallowed", reply.code))
}

async fn data_after_bdat(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.envelope(&mut conn).await?;
    let m = message(ctx, "The first chunk.\r\n");
    let reply = chunk(&mut conn, &m, false).await?;
    if reply.code != 250 {
        return Err(Verdict::Inconclusive(format!("the chunk got {reply}")));
    }
    let reply = ctx.command(&mut conn, "DATA").await?;
    if reply.code == 354 {
        // Leave the server a terminated message rather than a hung DATA.
        let _ = conn.send(b".\r\n").await;
        return violation("DATA after a BDAT chunk got 354: DATA and BDAT were mixed");
    }
    if reply.code != 503 {
        return violation(format!("DATA after a BDAT chunk got {reply}, expected 503"));
    }
    pass("DATA after BDAT -> 503")
}

async fn rset_discards(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.envelope(&mut conn).await?;
    let m = message(ctx, "A chunk RSET must discard.\r\n");
    let reply = chunk(&mut conn, &m, false).await?;
    if reply.code != 250 {
        return Err(Verdict::Inconclusive(format!("the chunk got {reply}")));
    }
    ctx.expect(&mut conn, "RSET", &Codes(&[250])).await?;
    let reply = chunk(&mut conn, "the end\r\n", true).await?;
    if reply.is_positive() {
        return violation(format!(
            "BDAT LAST after RSET got {reply}: the chunks before RSET were kept as a message"
        ));
    }
    in_step(ctx, &mut conn, "the refused chunk").await?;
    pass(format!("after RSET, BDAT LAST -> {}", reply.code))
}

async fn after_last(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.envelope(&mut conn).await?;
    let m = message(ctx, "Complete with BDAT LAST.\r\n");
    let reply = chunk(&mut conn, &m, true).await?;
    if reply.code != 250 {
        return Err(Verdict::Inconclusive(format!("BDAT LAST got {reply}")));
    }
    let reply = chunk(&mut conn, "more\r\n", true).await?;
    if reply.code != 503 {
        return violation(format!("a BDAT after BDAT LAST got {reply}, expected 503"));
    }
    in_step(ctx, &mut conn, "the refused chunk").await?;
    pass("BDAT after BDAT LAST -> 503")
}

async fn bdat_bad_size(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.envelope(&mut conn).await?;
    let mut seen = Vec::new();
    // RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF,
    // chunk-size = 1*DIGIT. No octets follow these lines: the size is
    // unknown, so the client cannot send a chunk either.
    for line in ["BDAT ten LAST", "BDAT"] {
        let reply = match conn.command(line).await {
            Ok(reply) => reply,
            // Refused, then closed: safe (see below).
            Err(ConnError::Closed) if !seen.is_empty() => {
                return pass(format!("{}; then the server closed", seen.join("; ")));
            }
            Err(e) => return checked(Err(e), line),
        };
        if reply.is_positive() {
            return violation(format!("{line} got {reply}: taken as a chunk"));
        }
        if reply.code / 100 != 5 && reply.code != 421 {
            return violation(format!("{line} got {reply}, expected 501"));
        }
        seen.push(format!("{line} -> {}", reply.code));
        if matches!(reply.code, 421 | 521) {
            // Closing is a safe answer: a server that cannot parse the size
            // cannot tell where the chunk would end.
            return pass(format!("{}, closing", seen.join("; ")));
        }
    }
    ctx.check(&mut conn, "NOOP", &Codes(&[250])).await?;
    pass(format!("{}; NOOP -> 250", seen.join("; ")))
}

async fn bdat_over_size(ctx: &mut Ctx) -> Flow<Verdict> {
    let limit = limit(ctx);
    let max = ctx.options().max_message;
    if limit > max {
        return Ok(Verdict::Skip(format!(
            "the limit ({limit} octets) is above --max-message ({max})"
        )));
    }
    let mut conn = ctx.session().await?;
    ctx.envelope(&mut conn).await?;
    // Two chunks: half the limit, then the rest and one octet more.
    let first = limit / 2;
    let second = limit - first + 1;
    let mut refused = None;
    for (size, last) in [(first, false), (second, true)] {
        let head = format!("BDAT {size}{}\r\n", if last { " LAST" } else { "" });
        checked(conn.send(head.as_bytes()).await, "BDAT")?;
        let line = "B".repeat(76) + "\r\n";
        let block = line.repeat(1000);
        let mut left = size as usize;
        while left > 0 {
            let n = left.min(block.len());
            if conn.send(&block.as_bytes()[..n]).await.is_err() {
                // Refused and closed as soon as the limit was passed.
                return pass("the connection was closed while the chunk was sent");
            }
            left -= n;
        }
        match conn.reply().await {
            Ok(reply) if reply.is_positive() => {}
            Ok(reply) => {
                refused = Some(reply);
                break;
            }
            Err(e) => return pass(format!("refused: {e}")),
        }
    }
    let Some(reply) = refused else {
        return violation(format!(
            "{} octets in two chunks over a {limit}-octet limit were accepted",
            limit + 1
        ));
    };
    if !reply.is_permanent() {
        return violation(format!("the oversized chunks got {reply}, expected 552"));
    }
    in_step(ctx, &mut conn, "the refused chunk").await?;
    pass(format!("{} octets in chunks -> {reply}", limit + 1))
}

async fn bdat_pipelined(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    let m = message(ctx, "Chunks in one group.\r\n");
    let (a, b) = m.split_at(m.len() / 2);
    let group = format!(
        "{}\r\n{}\r\nBDAT {}\r\n{a}BDAT {} LAST\r\n{b}",
        ctx.expand("MAIL FROM:<{from}>"),
        ctx.expand("RCPT TO:<{rcpt}>"),
        a.len(),
        b.len()
    );
    checked(conn.send(group.as_bytes()).await, "the group")?;
    let mut codes = Vec::new();
    for what in ["MAIL", "RCPT", "the first chunk", "BDAT LAST"] {
        let reply = checked(conn.reply().await, what)?;
        if !reply.is_positive() {
            return violation(format!(
                "{what} in the group got {reply} (replies so far: {codes:?})"
            ));
        }
        codes.push(reply.code);
    }
    in_step(ctx, &mut conn, "the group").await?;
    pass(format!("four replies in order: {codes:?}"))
}

/// Commands whose replies must carry enhanced codes, and the replies.
async fn enhanced_replies(ctx: &mut Ctx) -> Flow<Vec<(String, Reply)>> {
    let mut conn = ctx.session().await?;
    let mut out = Vec::new();
    for line in [
        "NOOP",
        "MAIL FROM:<{from}>",
        "RCPT TO:<{rcpt}>",
        "RCPT TO:<>",
        "RSET",
        "XYZZY",
        "QUIT",
    ] {
        let reply = ctx.command(&mut conn, line).await?;
        out.push((ctx.expand(line), reply));
    }
    Ok(out)
}

async fn enhanced_present(ctx: &mut Ctx) -> Flow<Verdict> {
    let replies = enhanced_replies(ctx).await?;
    let missing: Vec<String> = replies
        .iter()
        .filter(|(_, r)| r.enhanced.is_none())
        .map(|(c, r)| format!("{} -> {r}", short(c)))
        .collect();
    if missing.is_empty() {
        pass(format!("{} replies, all with status codes", replies.len()))
    } else {
        violation(format!(
            "replies without a status code: {}",
            missing.join("; ")
        ))
    }
}

async fn enhanced_class(ctx: &mut Ctx) -> Flow<Verdict> {
    let replies = enhanced_replies(ctx).await?;
    // A status code whose class differs from the reply code's first digit
    // is not recognised as one by the parser and stays in the text.
    let wrong: Vec<String> = replies
        .iter()
        .filter(|(_, r)| {
            r.enhanced.is_none()
                && r.first_line()
                    .split(' ')
                    .next()
                    .is_some_and(|w| w.parse::<EnhancedCode>().is_ok())
        })
        .map(|(c, r)| format!("{} -> {r}", short(c)))
        .collect();
    if wrong.is_empty() {
        pass("every status code matches its reply class")
    } else {
        violation(format!(
            "status code class differs from the reply code: {}",
            wrong.join("; ")
        ))
    }
}

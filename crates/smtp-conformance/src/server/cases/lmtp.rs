//! LMTP (RFC 2033): run when the target is `lmtp:HOST:PORT` or
//! `lmtp:unix:PATH`, skipped otherwise.
//!
//! LMTP is SMTP with two changes that matter to a client: the session
//! opens with LHLO (EHLO and HELO do not exist, §4.1), and the end of the
//! message text earns one reply per recipient that RCPT accepted, in RCPT
//! order (§4.2; for BDAT LAST too, §4.3), so that a mailbox server never
//! has to queue a message it could store for some recipients only.

use smtp_wire::Reply;

use super::data::HEADER;
use super::{Body, Case, Need, case, custom, pass, violation};
use crate::model::Level::Must;
use crate::model::Verdict;
use crate::server::conn::Conn;
use crate::server::ctx::{Ctx, Flow, checked, short};
use crate::server::script::Step::*;
use crate::server::want::Want::*;

const LMTP: &[Need] = &[Need::Lmtp];

/// A RCPT every server refuses: the null path is a reverse-path only
/// (RFC 5321 §4.1.1.3: RCPT takes a forward-path, which is never `<>`).
const REFUSED_RCPT: &str = "RCPT TO:<>";

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "lmtp.lhlo",
            Must,
            "RFC 2033 §4.1",
            "LHLO is answered with 250 and the server's extensions, as EHLO is in SMTP",
            LMTP,
            Body::Script(&[Connect, Check("LHLO {helo}", Codes(&[250]))]),
        ),
        case(
            "lmtp.ehlo-refused",
            Must,
            "RFC 2033 §4.1",
            "EHLO gets no positive completion reply (500 is recommended)",
            LMTP,
            Body::Script(&[Connect, Check("EHLO {helo}", NotClass(2))]),
        ),
        case(
            "lmtp.helo-refused",
            Must,
            "RFC 2033 §4.1",
            "HELO gets no positive completion reply (500 is recommended)",
            LMTP,
            Body::Script(&[Connect, Check("HELO {helo}", NotClass(2))]),
        ),
        case(
            "lmtp.reply-per-recipient",
            Must,
            "RFC 2033 §4.2",
            "After the final dot, exactly one reply for each recipient RCPT accepted",
            LMTP,
            custom!(reply_per_recipient),
        ),
        case(
            "lmtp.refused-rcpt-no-reply",
            Must,
            "RFC 2033 §4.2",
            "A recipient refused at RCPT gets no reply after the final dot",
            LMTP,
            custom!(refused_no_reply),
        ),
        case(
            "lmtp.reply-order",
            Must,
            "RFC 2033 §4.2",
            "The replies after the final dot come in the order of the RCPT commands",
            LMTP,
            custom!(reply_order),
        ),
        case(
            "lmtp.data-no-recipients",
            Must,
            "RFC 2033 §4.2",
            "DATA after every RCPT was refused is answered 503",
            LMTP,
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Do(REFUSED_RCPT, Class(5)),
                Check("DATA", Codes(&[503])),
            ]),
        ),
        case(
            "lmtp.bdat-per-recipient",
            Must,
            "RFC 2033 §4.3",
            "BDAT LAST gets one reply per accepted recipient, a BDAT without LAST one reply",
            &[Need::Lmtp, Need::Ext("CHUNKING")],
            custom!(bdat_per_recipient),
        ),
    ]
}

/// The recipients the options name as accepted, each once, the primary
/// one first.
fn known_recipients(ctx: &Ctx) -> Vec<String> {
    let o = ctx.options();
    let mut all = vec![o.rcpt.clone()];
    for more in &o.more_rcpts {
        if !all.iter().any(|a| a.eq_ignore_ascii_case(more)) {
            all.push(more.clone());
        }
    }
    all
}

/// One RCPT the case sends: the line, and the recipient it names when it
/// is meant to be accepted.
struct Rcpt {
    line: String,
    address: Option<String>,
}

fn accepted(address: &str) -> Rcpt {
    Rcpt {
        line: format!("RCPT TO:<{address}>"),
        address: Some(address.to_string()),
    }
}

fn refused() -> Rcpt {
    Rcpt {
        line: REFUSED_RCPT.to_string(),
        address: None,
    }
}

/// A session and a transaction with these RCPTs; returns the addresses of
/// the recipients the server accepted, in RCPT order (a recipient meant to
/// be refused that was accepted counts as accepted, and is named by its
/// line). No accepted recipient at all makes the case inconclusive.
async fn transaction(ctx: &mut Ctx, rcpts: &[Rcpt]) -> Flow<(Conn, Vec<String>)> {
    let mut conn = ctx.session().await?;
    ctx.expect(&mut conn, "MAIL FROM:<{from}>", &Codes(&[250]))
        .await?;
    let mut ok = Vec::new();
    for rcpt in rcpts {
        let reply = ctx.command(&mut conn, &rcpt.line).await?;
        if reply.is_positive() {
            ok.push(rcpt.address.clone().unwrap_or_else(|| rcpt.line.clone()));
        }
    }
    if ok.is_empty() {
        return Err(Verdict::Inconclusive(
            "no recipient was accepted (check --rcpt)".into(),
        ));
    }
    Ok((conn, ok))
}

/// After the message text: reads exactly `n` replies, then makes sure no
/// further reply comes. Fewer or more than `n` is the violation.
async fn replies_after_data(ctx: &Ctx, conn: &mut Conn, n: usize) -> Flow<Vec<Reply>> {
    let mut replies = Vec::with_capacity(n);
    for i in 0..n {
        // A 421 is the server closing the session (RFC 5321 §3.8), not
        // the fate of a recipient.
        let reply = match conn.reply().await {
            Ok(reply) if reply.code == 421 => Err(format!("the server closed with {reply}")),
            Ok(reply) => Ok(reply),
            Err(e) => Err(e.to_string()),
        };
        match reply {
            Ok(reply) => replies.push(reply),
            Err(e) => {
                let got: Vec<String> = replies.iter().map(|r| r.to_string()).collect();
                return violation(format!(
                    "{n} recipients accepted, but reply {} of {n} never came ({e}); got: {}",
                    i + 1,
                    if got.is_empty() {
                        "nothing".to_string()
                    } else {
                        got.join("; ")
                    }
                ));
            }
        }
    }
    let (extra, _) = checked(
        conn.replies_until_quiet(ctx.grace()).await,
        "after the replies",
    )?;
    if let Some(first) = extra.first() {
        return violation(format!(
            "{} replies for {n} accepted recipients: {} more after the {n} expected (first: {first})",
            n + extra.len(),
            extra.len()
        ));
    }
    Ok(replies)
}

/// Sends a short message with DATA and returns the replies after the dot.
async fn send_message(ctx: &Ctx, conn: &mut Conn, n: usize) -> Flow<Vec<Reply>> {
    ctx.expect(conn, "DATA", &Codes(&[354])).await?;
    let mut text = ctx.expand(HEADER);
    text.push_str("One message, a reply per recipient (RFC 2033 section 4.2).\r\n.\r\n");
    checked(conn.send(text.as_bytes()).await, "the message")?;
    replies_after_data(ctx, conn, n).await
}

fn codes(replies: &[Reply]) -> String {
    let codes: Vec<String> = replies.iter().map(|r| r.code.to_string()).collect();
    codes.join(", ")
}

async fn reply_per_recipient(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut known = known_recipients(ctx);
    if known.len() == 1 {
        // One address given: the same recipient twice is still two
        // successful RCPT commands, each owed a reply.
        known.push(known[0].clone());
    }
    let rcpts: Vec<Rcpt> = known.iter().take(3).map(|a| accepted(a)).collect();
    let (mut conn, ok) = transaction(ctx, &rcpts).await?;
    if ok.len() < 2 {
        return Ok(Verdict::Inconclusive(format!(
            "only {} recipient accepted: give --rcpt twice (two addresses the server accepts)",
            ok.len()
        )));
    }
    let replies = send_message(ctx, &mut conn, ok.len()).await?;
    pass(format!(
        "{} recipients, {} replies ({})",
        ok.len(),
        replies.len(),
        codes(&replies)
    ))
}

async fn refused_no_reply(ctx: &mut Ctx) -> Flow<Verdict> {
    let known = known_recipients(ctx);
    // The refused one in the middle: a server counting every RCPT, or
    // answering for the wrong ones, gets the count wrong.
    let mut rcpts = vec![accepted(&known[0]), refused()];
    if let Some(second) = known.get(1) {
        rcpts.push(accepted(second));
    }
    let (mut conn, ok) = transaction(ctx, &rcpts).await?;
    if ok.len() == rcpts.len() {
        return Ok(Verdict::Inconclusive(format!(
            "{} was accepted: no recipient was refused",
            REFUSED_RCPT
        )));
    }
    let replies = send_message(ctx, &mut conn, ok.len()).await?;
    pass(format!(
        "{} RCPTs, {} accepted, {} replies after the data ({})",
        rcpts.len(),
        ok.len(),
        replies.len(),
        codes(&replies)
    ))
}

/// Which of `accepted` a reply names (`<address>` in its text), if any.
fn named(reply: &Reply, accepted: &[String]) -> Option<usize> {
    let text = reply.text().replace('\n', " ").to_ascii_lowercase();
    accepted
        .iter()
        .position(|a| text.contains(&format!("<{}>", a.to_ascii_lowercase())))
        .or_else(|| {
            accepted
                .iter()
                .position(|a| text.contains(&a.to_ascii_lowercase()))
        })
}

async fn reply_order(ctx: &mut Ctx) -> Flow<Verdict> {
    let known = known_recipients(ctx);
    if known.len() < 2 {
        return Ok(Verdict::Inconclusive(
            "the order needs two different recipients: give --rcpt twice".into(),
        ));
    }
    let rcpts: Vec<Rcpt> = known.iter().take(3).map(|a| accepted(a)).collect();
    let (mut conn, ok) = transaction(ctx, &rcpts).await?;
    if ok.len() < 2 {
        return Ok(Verdict::Inconclusive(format!(
            "only {} recipient accepted: the order cannot be seen",
            ok.len()
        )));
    }
    let replies = send_message(ctx, &mut conn, ok.len()).await?;
    let names: Vec<Option<usize>> = replies.iter().map(|r| named(r, &ok)).collect();
    if names.iter().all(Option::is_none) {
        // Not a violation: RFC 2033 does not make a reply name its
        // recipient, so the order is invisible from here.
        return Ok(Verdict::Skip(format!(
            "the replies do not name their recipients ({}): the order cannot be seen",
            codes(&replies)
        )));
    }
    for (i, name) in names.iter().enumerate() {
        if let Some(j) = *name
            && j != i
        {
            return violation(format!(
                "reply {} is for {} but recipient {} was {} ({})",
                i + 1,
                ok[j],
                i + 1,
                ok[i],
                short(&replies[i].to_string())
            ));
        }
    }
    pass(format!(
        "{} replies, each naming its recipient in RCPT order",
        replies.len()
    ))
}

async fn bdat_per_recipient(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut known = known_recipients(ctx);
    if known.len() == 1 {
        known.push(known[0].clone());
    }
    let rcpts: Vec<Rcpt> = known.iter().take(2).map(|a| accepted(a)).collect();
    let (mut conn, ok) = transaction(ctx, &rcpts).await?;
    if ok.len() < 2 {
        return Ok(Verdict::Inconclusive(format!(
            "only {} recipient accepted: give --rcpt twice",
            ok.len()
        )));
    }
    let mut text = ctx.expand(HEADER);
    text.push_str("Sent in two chunks over LMTP.\r\n");
    let (a, b) = text.split_at(text.len() / 2);
    // RFC 2033 §4.3: a BDAT without LAST earns one reply, as in SMTP.
    let first = format!("BDAT {}\r\n{a}", a.len());
    checked(conn.send(first.as_bytes()).await, "BDAT")?;
    let reply = checked(conn.reply().await, "BDAT (first chunk)")?;
    if reply.code != 250 {
        return Ok(Verdict::Inconclusive(format!(
            "the first chunk got {reply}"
        )));
    }
    let (extra, _) = checked(conn.replies_until_quiet(ctx.grace()).await, "after BDAT")?;
    if !extra.is_empty() {
        return violation(format!(
            "a BDAT without LAST got {} replies ({reply}, then {})",
            extra.len() + 1,
            extra[0]
        ));
    }
    let last = format!("BDAT {} LAST\r\n{b}", b.len());
    checked(conn.send(last.as_bytes()).await, "BDAT LAST")?;
    let replies = replies_after_data(ctx, &mut conn, ok.len()).await?;
    pass(format!(
        "first chunk: one reply; BDAT LAST: {} replies for {} recipients ({})",
        replies.len(),
        ok.len(),
        codes(&replies)
    ))
}

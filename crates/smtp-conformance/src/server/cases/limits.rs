//! Limits: lengths, recipients, errors, idle and slow clients, concurrent
//! sessions (RFC 5321 §4.5.3, §7.8, and attack classes no RFC names).

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::data::{HEADER, open_data};
use super::{Case, Need, case, custom, pass, violation};
use crate::model::Level::{Hardening, Must};
use crate::model::Verdict;
use crate::server::conn::{Conn, ConnError};
use crate::server::ctx::{Ctx, Flow, checked};
use crate::server::want::Want::*;

/// `NOOP ` padded to exactly 512 octets with its CRLF (RFC 5321 §4.5.3.1.4).
fn noop_512() -> String {
    let mut line = String::from("NOOP ");
    line.push_str(&"a".repeat(512 - 2 - line.len()));
    line
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "limit.command-line-512",
            Must,
            "RFC 5321 §4.5.3.1.4, §4.3.2",
            "A 512-octet command line is not refused as too long",
            &[],
            custom!(line_512),
        ),
        case(
            "limit.command-line-overlong",
            Hardening,
            "RFC 5321 §4.5.3.1.4 (CVE-2020-28026)",
            "The tail of an over-long command line is never run as a command",
            &[],
            custom!(overlong),
        ),
        case(
            "limit.message-64k",
            Must,
            "RFC 5321 §4.5.3.1.7",
            "A message of 64K octets and more is accepted",
            &[],
            custom!(message_64k),
        ),
        case(
            "limit.recipients-100",
            Must,
            "RFC 5321 §4.5.3.1.8",
            "100 recipients in one transaction are accepted",
            &[],
            custom!(recipients_100),
        ),
        case(
            "limit.recipients-bounded",
            Hardening,
            "RFC 5321 §4.5.3.1.10",
            "The number of recipients per transaction is bounded (452 past the limit)",
            &[],
            custom!(recipients_bounded),
        ),
        case(
            "limit.error-limit",
            Hardening,
            "RFC 5321 §7.8",
            "A client sending error after error is disconnected",
            &[],
            custom!(error_limit),
        ),
        case(
            "limit.idle-timeout",
            Hardening,
            "RFC 5321 §4.5.3.2.7",
            "An idle session is closed after a bounded time (421 first)",
            &[Need::IdleWait],
            custom!(idle_timeout),
        ),
        case(
            "limit.slow-command",
            Hardening,
            "RFC 5321 §4.5.3.2.7 (slowloris)",
            "A command line trickled one byte at a time is cut off after a bounded time",
            &[Need::IdleWait],
            custom!(slow_command),
        ),
        case(
            "limit.concurrent-sessions",
            Hardening,
            "RFC 5321 §4.3.1, §7.8",
            "Many sessions at once are each greeted (or refused with 421), none left hanging",
            &[],
            custom!(concurrent),
        ),
    ]
}

async fn line_512(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    let reply = ctx.command(&mut conn, &noop_512()).await?;
    if reply.code == 500 {
        violation(format!("a 512-octet line got {reply}"))
    } else {
        pass(format!("512 octets -> {}", reply.code))
    }
}

/// Lengths at which a reader with a fixed buffer would cut a command line.
const CUT_AT: [usize; 6] = [510, 512, 1000, 1024, 2048, 4096];

async fn overlong(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    let mut bytes = Vec::new();
    for n in CUT_AT {
        bytes.extend(std::iter::repeat_n(b'X', n));
        bytes.extend_from_slice(b"NOOP\r\n");
    }
    bytes.extend_from_slice(b"NOOP\r\n");
    checked(conn.send(&bytes).await, "over-long lines")?;
    let mut replies = Vec::new();
    let mut closed = false;
    while replies.len() < CUT_AT.len() + 1 {
        match conn.reply().await {
            Ok(reply) => replies.push(reply),
            Err(ConnError::Closed) => {
                closed = true;
                break;
            }
            Err(e) => return checked(Err(e), "replies to the over-long lines"),
        }
    }
    if !closed {
        let (extra, _) = checked(conn.replies_until_quiet(ctx.grace()).await, "extra replies")?;
        replies.extend(extra);
    }
    let positive = replies.iter().filter(|r| r.is_positive()).count();
    let expected_positive = usize::from(!closed);
    if positive > expected_positive || replies.len() > CUT_AT.len() + 1 {
        let codes: Vec<String> = replies.iter().map(|r| r.code.to_string()).collect();
        violation(format!(
            "{} over-long lines and one NOOP got {} replies ({}): a line tail ran as a command",
            CUT_AT.len(),
            replies.len(),
            codes.join(", ")
        ))
    } else if closed {
        pass("the server closed the connection on over-long lines")
    } else {
        pass(format!(
            "one error per over-long line, then NOOP -> {}",
            replies.last().map(|r| r.code).unwrap_or_default()
        ))
    }
}

async fn message_64k(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = open_data(ctx).await?;
    let mut body = ctx.expand(HEADER);
    let line = format!("{}\r\n", "B".repeat(76));
    while body.len() < 70_000 {
        body.push_str(&line);
    }
    let size = body.len();
    body.push_str(".\r\n");
    checked(conn.send(body.as_bytes()).await, "the message")?;
    let reply = checked(conn.reply().await, "end of data")?;
    if reply.code == 250 {
        pass(format!("{size} octets accepted"))
    } else {
        violation(format!("a {size}-octet message got {reply}"))
    }
}

/// Sends `count` RCPTs (grouped when PIPELINING is offered) and returns
/// how many were accepted before the first refusal, and that refusal.
async fn recipients(
    ctx: &Ctx,
    conn: &mut Conn,
    count: usize,
) -> Flow<(usize, Option<smtp_wire::Reply>)> {
    let line = ctx.expand("RCPT TO:<{rcpt}>\r\n");
    let group = if ctx.caps().has("PIPELINING") { 50 } else { 1 };
    let mut accepted = 0;
    let mut sent = 0;
    while sent < count {
        let n = group.min(count - sent);
        checked(conn.send(line.repeat(n).as_bytes()).await, "RCPT")?;
        sent += n;
        for _ in 0..n {
            let reply = checked(conn.reply().await, &format!("RCPT #{}", accepted + 1))?;
            if reply.is_positive() {
                accepted += 1;
            } else {
                // Read the rest of the group so the session stays in step.
                return Ok((accepted, Some(reply)));
            }
        }
    }
    Ok((accepted, None))
}

async fn recipients_100(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    ctx.expect(&mut conn, "MAIL FROM:<{from}>", &Codes(&[250]))
        .await?;
    match recipients(ctx, &mut conn, 100).await? {
        (n, None) => pass(format!("{n} recipients accepted")),
        (n, Some(reply)) => violation(format!("RCPT #{} refused after {n}: {reply}", n + 1)),
    }
}

async fn recipients_bounded(ctx: &mut Ctx) -> Flow<Verdict> {
    let probe = ctx.options().rcpt_probe;
    let mut conn = ctx.session().await?;
    ctx.expect(&mut conn, "MAIL FROM:<{from}>", &Codes(&[250]))
        .await?;
    match recipients(ctx, &mut conn, probe).await? {
        (n, None) => violation(format!(
            "{n} recipients accepted in one transaction: no limit"
        )),
        (n, Some(reply)) if reply.code == 452 => pass(format!("limit after {n}: {reply}")),
        (n, Some(reply)) => pass(format!(
            "limit after {n}: {reply} (RFC 5321 §4.5.3.1.10 prefers 452 for an implementation limit)"
        )),
    }
}

async fn error_limit(ctx: &mut Ctx) -> Flow<Verdict> {
    const BAD: usize = 60;
    let mut conn = ctx.session().await?;
    checked(
        conn.send("XYZZY\r\n".repeat(BAD).as_bytes()).await,
        "bad commands",
    )?;
    let wait = conn.timeout() * 3;
    let (replies, closed) = checked(conn.wait_close(wait).await, "error replies")?;
    if closed {
        pass(format!(
            "disconnected after {} error replies",
            replies.len()
        ))
    } else {
        violation(format!(
            "still connected after {BAD} bad commands ({} replies in {wait:?})",
            replies.len()
        ))
    }
}

async fn idle_timeout(ctx: &mut Ctx) -> Flow<Verdict> {
    let wait = ctx.options().idle_wait.unwrap_or_default();
    let mut conn = ctx.session().await?;
    let start = Instant::now();
    let (replies, closed) = checked(conn.wait_close(wait).await, "idle")?;
    let took = start.elapsed().as_secs();
    if !closed {
        return still_open(
            ctx,
            format!("an idle session was still open after {wait:?}"),
        );
    }
    let said_421 = replies.iter().any(|r| r.code == 421);
    let mut detail = format!(
        "closed after {took} s{}",
        if said_421 {
            " with 421"
        } else {
            " without a 421 reply"
        }
    );
    if took < 300 {
        detail.push_str(" (RFC 5321 §4.5.3.2.7 suggests waiting at least 5 minutes)");
    }
    pass(detail)
}

async fn slow_command(ctx: &mut Ctx) -> Flow<Verdict> {
    let wait = ctx.options().idle_wait.unwrap_or_default();
    let step = (wait / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut conn = ctx.session().await?;
    let start = Instant::now();
    let line = b"NOOP slowly";
    let mut i = 0usize;
    while start.elapsed() < wait {
        // One byte of a line that never ends ("NOOP slowly" then x's).
        let byte = line.get(i).copied().unwrap_or(b'x');
        i += 1;
        if conn.send(&[byte]).await.is_err() {
            return pass(format!("cut off after {} s", start.elapsed().as_secs()));
        }
        match conn.reply_within(step).await {
            Ok(_) => {}
            Err(ConnError::Closed) => {
                return pass(format!("cut off after {} s", start.elapsed().as_secs()));
            }
            Err(ConnError::Io(_)) => {
                return pass(format!("reset after {} s", start.elapsed().as_secs()));
            }
            Err(e) => return violation(format!("while trickling: {e}")),
        }
    }
    still_open(
        ctx,
        format!(
            "a command line trickled at one byte per {} ms was still accepted after {wait:?}",
            step.as_millis()
        ),
    )
}

/// A session outlived `--idle-wait`: a failure only when the wait is longer
/// than the 5 minutes RFC 5321 §4.5.3.2.7 lets a server wait.
fn still_open(ctx: &Ctx, text: String) -> Flow<Verdict> {
    let floor = ctx.options().idle_floor;
    if ctx.options().idle_wait.unwrap_or_default() > floor {
        violation(text)
    } else {
        Ok(Verdict::Inconclusive(format!(
            "{text}; RFC 5321 §4.5.3.2.7 lets a server wait {} s: use --idle-wait {} to decide",
            floor.as_secs(),
            floor.as_secs() + 30
        )))
    }
}

async fn concurrent(ctx: &mut Ctx) -> Flow<Verdict> {
    let n = ctx.options().sessions;
    let mut set = JoinSet::new();
    for _ in 0..n {
        let target = ctx.target.clone();
        set.spawn(async move { greet(&target).await });
    }
    let (mut greeted, mut refused, mut silent) = (0, 0, 0);
    let mut held = Vec::new();
    while let Some(result) = set.join_next().await {
        match result {
            Ok(Greeting::Greeted(conn)) => {
                greeted += 1;
                held.push(conn);
            }
            Ok(Greeting::Refused) => refused += 1,
            Ok(Greeting::Silent) | Err(_) => silent += 1,
        }
    }
    ctx.note(&format!(
        "{n} sessions: {greeted} greeted, {refused} refused, {silent} silent"
    ));
    drop(held);
    if silent > 0 {
        return violation(format!(
            "{silent} of {n} concurrent sessions got no greeting within the timeout ({greeted} greeted, {refused} refused)"
        ));
    }
    // The server must serve again once they are gone.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut conn = ctx.connect().await?;
    ctx.check(&mut conn, "NOOP", &Codes(&[250])).await?;
    pass(format!(
        "{n} sessions: {greeted} greeted, {refused} refused with 421/554"
    ))
}

enum Greeting {
    Greeted(Conn),
    Refused,
    Silent,
}

async fn greet(target: &crate::server::ctx::Target) -> Greeting {
    let log = std::sync::Arc::new(std::sync::Mutex::new(smtp_wire::Transcript::new()));
    let implicit = match target.options.tls {
        crate::server::TlsMode::Implicit => Some((&target.tls, &target.server_name)),
        _ => None,
    };
    let mut conn = match Conn::open(&target.endpoint, implicit, target.options.timeout, log).await {
        Ok(conn) => conn,
        Err(ConnError::Timeout(_)) => return Greeting::Silent,
        Err(_) => return Greeting::Refused,
    };
    match conn.reply().await {
        Ok(reply) if reply.code == 220 => Greeting::Greeted(conn),
        Ok(_) | Err(ConnError::Closed) | Err(ConnError::Io(_)) => Greeting::Refused,
        Err(_) => Greeting::Silent,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn noop_line_is_512_octets_with_crlf() {
        assert_eq!(super::noop_512().len() + 2, 512);
    }
}

//! PIPELINING (RFC 2920): commands sent in groups, replies in order.

use std::time::Duration;

use smtp_wire::Reply;

use super::{Case, Need, case, custom, pass, violation};
use crate::model::Level::{Must, Should};
use crate::model::Verdict;
use crate::server::conn::Conn;
use crate::server::ctx::{Ctx, Flow, checked};
use crate::server::want::Want::{self, *};

const NEEDS: &[Need] = &[Need::Ext("PIPELINING")];

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "pipe.replies-in-order",
            Must,
            "RFC 2920 §3.1, §3.2",
            "A group of commands gets one reply per command, in order",
            NEEDS,
            custom!(replies_in_order),
        ),
        case(
            "pipe.grouped-replies",
            Should,
            "RFC 2920 §3.2",
            "The replies to a group arrive together, not one per round trip",
            NEEDS,
            custom!(grouped_replies),
        ),
        case(
            "pipe.transaction-group",
            Must,
            "RFC 2920 §3.1, §3.2",
            "MAIL+RCPT+DATA in one group work, and commands right after the final dot are not lost",
            NEEDS,
            custom!(transaction_group),
        ),
        case(
            "pipe.data-all-rcpt-rejected",
            Must,
            "RFC 2920 §3.1, RFC 5321 §3.3",
            "In a group whose RCPTs all failed, DATA is refused (503/554), not 354",
            NEEDS,
            custom!(data_all_rejected),
        ),
    ]
}

/// Sends `group` in one write and checks one reply per `wants`.
async fn group(ctx: &Ctx, conn: &mut Conn, group: &str, wants: &[Want]) -> Flow<Vec<Reply>> {
    let bytes = ctx.expand(group);
    checked(conn.send(bytes.as_bytes()).await, "sending the group")?;
    let commands: Vec<&str> = bytes.split("\r\n").collect();
    let mut replies = Vec::new();
    for (i, want) in wants.iter().enumerate() {
        let what = commands.get(i).copied().unwrap_or("the group");
        let reply = checked(conn.reply().await, &format!("reply {} ({what})", i + 1))?;
        if !want.accepts(&reply) {
            return violation(format!(
                "reply {} to the group ({what}) is {reply}, {want}",
                i + 1
            ));
        }
        replies.push(reply);
    }
    Ok(replies)
}

const BATCH: &str = "MAIL FROM:<{from}>\r\nRCPT TO:<{rcpt}>\r\nRCPT TO:<>\r\nNOOP\r\n";
const BATCH_WANTS: [Want; 4] = [Codes(&[250]), Codes(&[250, 251]), Class(5), Codes(&[250])];

async fn replies_in_order(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    let replies = group(ctx, &mut conn, BATCH, &BATCH_WANTS).await?;
    let codes: Vec<String> = replies.iter().map(|r| r.code.to_string()).collect();
    pass(format!("replies {}", codes.join(", ")))
}

/// The longest spread between the first and the last reply of a group
/// that still counts as "together".
const TOGETHER: Duration = Duration::from_millis(100);

async fn grouped_replies(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    let bytes = ctx.expand(BATCH);
    checked(conn.send(bytes.as_bytes()).await, "sending the group")?;
    let mut times = Vec::new();
    for i in 0..BATCH_WANTS.len() {
        let timeout = conn.timeout();
        match checked(conn.reply_timed(timeout).await, &format!("reply {}", i + 1))? {
            Some((_, at)) => times.push(at),
            None => return violation(format!("reply {} did not come within {timeout:?}", i + 1)),
        }
    }
    let spread = match (times.first(), times.last()) {
        (Some(first), Some(last)) => last.duration_since(*first),
        _ => Duration::ZERO,
    };
    if spread <= TOGETHER {
        pass(format!("4 replies within {} ms", spread.as_millis()))
    } else {
        violation(format!(
            "the 4 replies of one group were spread over {} ms",
            spread.as_millis()
        ))
    }
}

async fn transaction_group(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    group(
        ctx,
        &mut conn,
        "MAIL FROM:<{from}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n",
        &[Codes(&[250]), Codes(&[250, 251]), Codes(&[354])],
    )
    .await?;
    let body = concat!(
        "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: smtp-conform pipelining\r\n\r\n",
        "Hello.\r\n.\r\nNOOP\r\n"
    );
    group(ctx, &mut conn, body, &[Codes(&[250]), Codes(&[250])]).await?;
    pass("250, 250, 354, then 250 for the message and 250 for the NOOP after it")
}

async fn data_all_rejected(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    let replies = group(
        ctx,
        &mut conn,
        "MAIL FROM:<{from}>\r\nRCPT TO:<>\r\nDATA\r\n",
        &[Codes(&[250]), Class(5), Codes(&[503, 554])],
    )
    .await?;
    // The server must be back to reading commands, not message text.
    ctx.check(&mut conn, "NOOP", &Codes(&[250])).await?;
    pass(format!(
        "DATA -> {}",
        replies.last().map(|r| r.code).unwrap_or_default()
    ))
}

//! DATA: the end of data, dot transparency, line lengths, the transaction
//! after DATA (RFC 5321 §4.1.1.4, §4.5.2, §4.5.3.1.6).

use super::{Body, Case, case, custom, pass, violation};
use crate::model::Level::{Hardening, Must, Should};
use crate::model::Verdict;
use crate::server::conn::Conn;
use crate::server::ctx::{Ctx, Flow, checked};
use crate::server::script::Step::*;
use crate::server::want::Want::*;

/// The header of every test message.
pub(crate) const HEADER: &str =
    "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: smtp-conform test message\r\n\r\n";

const MESSAGE: &str = "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: smtp-conform test message\r\n\r\nHello from smtp-conform.\r\n.\r\n";

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "data.accepted",
            Must,
            "RFC 5321 §4.1.1.4",
            "DATA gets 354, and the message ended by <CRLF>.<CRLF> gets 250",
            &[],
            Body::Script(&[
                Session,
                Envelope,
                Check("DATA", Codes(&[354])),
                Send(MESSAGE),
                Expect(Codes(&[250])),
            ]),
        ),
        case(
            "data.dot-stuffing",
            Must,
            "RFC 5321 §4.5.2",
            "Stuffed lines (\"..\", \"...x\") are data: only <CRLF>.<CRLF> ends the message",
            &[],
            Body::Script(&[
                Session,
                Envelope,
                Do("DATA", Codes(&[354])),
                Send(concat!(
                    "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: smtp-conform dots\r\n\r\n",
                    "..\r\n...three dots\r\n..\r\nend\r\n"
                )),
                Silence,
                Send(".\r\n"),
                Expect(Codes(&[250])),
                Silence,
            ]),
        ),
        case(
            "data.leading-dot",
            Must,
            "RFC 5321 §4.5.2",
            "A line starting with one dot and more text (\".hidden\") does not end the data",
            &[],
            Body::Script(&[
                Session,
                Envelope,
                Do("DATA", Codes(&[354])),
                Send(concat!(
                    "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: smtp-conform dot\r\n\r\n",
                    ".hidden line\r\nafter it\r\n"
                )),
                Silence,
                Send(".\r\n"),
                Expect(Codes(&[250])),
            ]),
        ),
        case(
            "data.dot-mid-line",
            Must,
            "RFC 5321 §4.1.1.4",
            "\".<CRLF>\" at the end of a line of text (\"the end.\") does not end the data",
            &[],
            Body::Script(&[
                Session,
                Envelope,
                Do("DATA", Codes(&[354])),
                Send(concat!(
                    "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: smtp-conform\r\n\r\n",
                    "the end.\r\n"
                )),
                Silence,
                Send(".\r\n"),
                Expect(Codes(&[250])),
            ]),
        ),
        case(
            "data.empty",
            Must,
            "RFC 5321 §4.1.1.4",
            "\".<CRLF>\" right after DATA ends the data (the DATA line's CRLF counts)",
            &[],
            Body::Script(&[
                Session,
                Envelope,
                Do("DATA", Codes(&[354])),
                Send(".\r\n"),
                Expect(Not(&[])),
            ]),
        ),
        case(
            "data.line-998",
            Must,
            "RFC 5321 §4.5.3.1.6, §4.5.3.1",
            "A text line of 1000 octets including CRLF is accepted",
            &[],
            custom!(line_998),
        ),
        case(
            "data.long-line-split",
            Hardening,
            "RFC 5321 §4.5.3.1.6, §4.1.1.4",
            "An over-long line is never split so that its tail \".\" ends the data",
            &[],
            custom!(long_line_split),
        ),
        case(
            "data.transaction-cleared",
            Must,
            "RFC 5321 §4.1.1.4",
            "After the message is accepted the envelope is cleared: RCPT gets 503",
            &[],
            Body::Script(&[
                Session,
                Envelope,
                Do("DATA", Codes(&[354])),
                Send(MESSAGE),
                Expect(Codes(&[250])),
                Check("RCPT TO:<{rcpt}>", Codes(&[503])),
            ]),
        ),
        case(
            "data.second-transaction",
            Must,
            "RFC 5321 §4.1.4",
            "A second transaction in the same session works",
            &[],
            Body::Script(&[
                Session,
                Envelope,
                Do("DATA", Codes(&[354])),
                Send(MESSAGE),
                Await(Codes(&[250])),
                Check("MAIL FROM:<{from}>", Codes(&[250])),
                Check("RCPT TO:<{rcpt}>", Codes(&[250, 251])),
                Check("DATA", Codes(&[354])),
                Send(MESSAGE),
                Expect(Codes(&[250])),
            ]),
        ),
        case(
            "data.argument",
            Should,
            "RFC 5321 §4.1.1, §4.3.2",
            "DATA with an argument is refused with 501",
            &[],
            Body::Script(&[Session, Envelope, Check("DATA now", Codes(&[501]))]),
        ),
    ]
}

/// Session, envelope, DATA with 354 (setup).
pub(crate) async fn open_data(ctx: &mut Ctx) -> Flow<Conn> {
    let mut conn = ctx.session().await?;
    ctx.envelope(&mut conn).await?;
    ctx.expect(&mut conn, "DATA", &Codes(&[354])).await?;
    Ok(conn)
}

async fn line_998(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = open_data(ctx).await?;
    let mut body = ctx.expand(HEADER);
    body.push_str(&"x".repeat(998));
    body.push_str("\r\n.\r\n");
    checked(conn.send(body.as_bytes()).await, "sending the message")?;
    let reply = checked(conn.reply().await, "end of data")?;
    if reply.code == 250 {
        pass("998 octets + CRLF accepted")
    } else {
        violation(format!("a 1000-octet line was refused: {reply}"))
    }
}

/// Line lengths at which a reader with a fixed buffer would cut a line:
/// each test line is `n` x's, then ".", CRLF, then "NOOP". A reader that
/// cuts at exactly `n` octets sees a "." line (end of data) and then runs
/// NOOP as a command.
const SPLIT_AT: [usize; 13] = [
    998, 999, 1000, 1001, 1022, 1023, 1024, 2047, 2048, 4095, 4096, 8191, 8192,
];

async fn long_line_split(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = open_data(ctx).await?;
    let mut body = ctx.expand(HEADER);
    for n in SPLIT_AT {
        body.push_str(&"x".repeat(n));
        body.push_str(".\r\nNOOP\r\n");
    }
    checked(conn.send(body.as_bytes()).await, "sending the body")?;
    // Nothing may come back before the real end of data.
    match conn.reply_within(ctx.grace()).await {
        Ok(None) => {}
        Ok(Some(reply)) => {
            return violation(format!(
                "the server answered ({reply}) before the end of data: it split an over-long line and took its \".\" tail for the end"
            ));
        }
        Err(e) => return violation(format!("inside the body: {e}")),
    }
    checked(conn.send(b".\r\n").await, "sending the end of data")?;
    let reply = checked(conn.reply().await, "end of data")?;
    match conn.reply_within(ctx.grace()).await {
        Ok(None) => pass(format!("one reply at the end of data: {}", reply.code)),
        Ok(Some(extra)) => violation(format!(
            "extra replies after the data: {reply} then {extra}"
        )),
        Err(e) => violation(format!("after the end of data: {e}")),
    }
}

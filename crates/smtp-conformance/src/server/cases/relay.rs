//! Relaying (RFC 5321 §4.4, §4.5.2, §2.3.8; RFC 6152 §3): run only with
//! `--relay-to ADDR --judge-listen ADDR`, when the server under test is
//! set up to forward that recipient to the suite's judge
//! ([`crate::server::judge`]).
//!
//! Each case sends one message through the server, marked with a token of
//! its own, waits for it at the judge and reads what arrived: the trace
//! field the server added, the dots, the 8-bit text, and whether a
//! smuggling attempt turned into a second message.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Case, Need, case, custom, pass, violation};
use crate::model::Level::{Must, Should};
use crate::model::Verdict;
use crate::server::conn::{Conn, ConnError};
use crate::server::ctx::{Ctx, Flow, checked};
use crate::server::judge::{Arrival, Judge, memfind};
use crate::server::want::Want::*;

const RELAY: &[Need] = &[Need::Relay];

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "relay.trace-added",
            Must,
            "RFC 5321 §4.4",
            "A relayed message gets a Received: field above it from the relay: from, by, and a date after ';'",
            RELAY,
            custom!(trace_added),
        ),
        case(
            "relay.no-return-path",
            Should,
            "RFC 5321 §4.4",
            "A relay adds no Return-Path: (final delivery does)",
            RELAY,
            custom!(no_return_path),
        ),
        case(
            "relay.dot-stuffing",
            Must,
            "RFC 5321 §4.5.2",
            "Lines beginning with '.' arrive intact at the next hop (the relay stuffs them again)",
            RELAY,
            custom!(dot_stuffing),
        ),
        case(
            "relay.8bit-kept",
            Must,
            "RFC 6152 §3",
            "An 8-bit message sent with BODY=8BITMIME arrives byte for byte, declared BODY=8BITMIME",
            &[Need::Relay, Need::Ext("8BITMIME")],
            custom!(eight_bit_kept),
        ),
        case(
            "relay.no-smuggling",
            Must,
            "RFC 5321 §4.1.1.4, §2.3.8",
            "A bare-LF end-of-data look-alike does not make a second message at the next hop",
            RELAY,
            custom!(no_smuggling),
        ),
    ]
}

/// A token no other message carries: the case name, the process and time.
fn token(case: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{case}-{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The relay recipient and the judge (setup; `Need::Relay` makes sure
/// both exist when a case runs).
fn relay_parts(ctx: &Ctx) -> Flow<(String, Duration)> {
    match (&ctx.options().relay, &ctx.target.judge) {
        (Some(relay), Some(_)) => Ok((relay.rcpt.clone(), relay.wait)),
        _ => Err(Verdict::Skip("no relay judge".into())),
    }
}

fn judge(ctx: &Ctx) -> Flow<&Judge> {
    ctx.target
        .judge
        .as_ref()
        .ok_or_else(|| Verdict::Skip("no relay judge".into()))
}

/// The header of a message for the relay recipient, carrying `token`.
fn header(ctx: &Ctx, rcpt: &str, token: &str) -> String {
    format!(
        "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: smtp-conform relay check {token}\r\n\
         Message-ID: <{token}@conform.example.net>\r\nX-Conform-Token: {token}\r\n\r\n",
        from = ctx.options().from
    )
}

/// A session, MAIL (with `mail_params`) and RCPT to the relay recipient,
/// DATA: everything before the text (setup).
async fn open_transaction(ctx: &mut Ctx, rcpt: &str, mail_params: &str) -> Flow<Conn> {
    let mut conn = ctx.session().await?;
    let mail = format!("MAIL FROM:<{{from}}>{mail_params}");
    ctx.expect(&mut conn, &mail, &Codes(&[250])).await?;
    let line = format!("RCPT TO:<{rcpt}>");
    if let Err(Verdict::Inconclusive(why)) = ctx.expect(&mut conn, &line, &Codes(&[250, 251])).await
    {
        return Err(Verdict::Inconclusive(format!(
            "{why}: the server does not take mail for the relay recipient (check --relay-to)"
        )));
    }
    ctx.expect(&mut conn, "DATA", &Codes(&[354])).await?;
    Ok(conn)
}

/// Sends `wire` (text already dot-stuffed, ending with `.<CRLF>`) and
/// requires the 250 (setup: a refusal leaves nothing to judge).
async fn relay_message(ctx: &mut Ctx, mail_params: &str, wire: &str) -> Flow<()> {
    let (rcpt, _) = relay_parts(ctx)?;
    let mut conn = open_transaction(ctx, &rcpt, mail_params).await?;
    checked(conn.send(wire.as_bytes()).await, "the message")?;
    let reply = checked(conn.reply().await, "end of data")?;
    if reply.code != 250 {
        return Err(Verdict::Inconclusive(format!(
            "the server did not take the message to relay: {reply}"
        )));
    }
    let _ = conn.command("QUIT").await;
    Ok(())
}

/// Waits at the judge for the message carrying `token` (setup: none within
/// the wait is inconclusive, since the route is the operator's to set).
async fn arrived(ctx: &Ctx, token: &str) -> Flow<Arrival> {
    let (rcpt, wait) = relay_parts(ctx)?;
    let judge = judge(ctx)?;
    let found = judge.wait_for(token, wait).await;
    match found.into_iter().next() {
        Some(arrival) => {
            ctx.note(&format!(
                "the judge received {} octets ({}; {})",
                arrival.content.len(),
                arrival.mail,
                arrival.rcpts.join(", ")
            ));
            for line in arrival.header().lines().take(8) {
                ctx.note(&format!("  {line}"));
            }
            Ok(arrival)
        }
        None => Err(Verdict::Inconclusive(format!(
            "nothing reached the judge at {} within {wait:?}: is {rcpt} routed there?",
            judge.local_addr()
        ))),
    }
}

/// The header fields of a header section, unfolded (RFC 5322 §2.2.3), as
/// (name, value).
fn fields(header: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in header.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

/// What is wrong with a Received: value, per RFC 5321 §4.4's Stamp:
/// `From-domain By-domain Opt-info [CFWS] ";" FWS date-time`.
fn stamp_problem(value: &str) -> Option<String> {
    let words: Vec<String> = value
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if words.first().map(String::as_str) != Some("from") || words.len() < 2 {
        return Some("it does not begin with a from clause (From-domain)".into());
    }
    let by = words.iter().position(|w| w == "by");
    if by.is_none_or(|i| i + 1 >= words.len()) {
        return Some("it has no by clause (By-domain)".into());
    }
    let Some((_, date)) = value.rsplit_once(';') else {
        return Some("it has no ';' before a date".into());
    };
    // date-time (RFC 5322 §3.3): at least a 4-digit year and hh:mm.
    let has_year = date
        .split_whitespace()
        .any(|w| w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()));
    if !has_year || !date.contains(':') {
        return Some(format!("{:?} after ';' is not a date-time", date.trim()));
    }
    None
}

async fn trace_added(ctx: &mut Ctx) -> Flow<Verdict> {
    let (rcpt, _) = relay_parts(ctx)?;
    let token = token("trace");
    let mut wire = header(ctx, &rcpt, &token);
    wire.push_str("Checking the trace field a relay adds.\r\n.\r\n");
    relay_message(ctx, "", &wire).await?;
    let arrival = arrived(ctx, &token).await?;
    // The message was sent without trace fields, beginning with From:;
    // what arrives above that From: was added on the way.
    let fields = fields(&arrival.header());
    let added: Vec<&(String, String)> = fields
        .iter()
        .take_while(|(name, _)| !name.eq_ignore_ascii_case("From"))
        .collect();
    let Some((_, value)) = added
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("Received"))
    else {
        let names: Vec<&str> = added.iter().map(|(n, _)| n.as_str()).collect();
        return violation(format!(
            "no Received: field was added above the message (added: {names:?})"
        ));
    };
    match stamp_problem(value) {
        Some(problem) => violation(format!("Received: {value}: {problem}")),
        None => pass(format!("Received: {value}")),
    }
}

async fn no_return_path(ctx: &mut Ctx) -> Flow<Verdict> {
    let (rcpt, _) = relay_parts(ctx)?;
    let token = token("return-path");
    let mut wire = header(ctx, &rcpt, &token);
    wire.push_str("A relay adds no Return-Path.\r\n.\r\n");
    relay_message(ctx, "", &wire).await?;
    let arrival = arrived(ctx, &token).await?;
    let found: Vec<String> = fields(&arrival.header())
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Return-Path"))
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    if found.is_empty() {
        pass("no Return-Path: in the relayed message")
    } else {
        violation(format!(
            "the relay added {} (RFC 5321 §4.4: final delivery adds it)",
            found.join("; ")
        ))
    }
}

/// The lines with dots the dot-stuffing case sends, as the message has
/// them (before stuffing).
const DOT_LINES: [&str; 4] = [".leading dot", ".", "..", ". space"];

async fn dot_stuffing(ctx: &mut Ctx) -> Flow<Verdict> {
    let (rcpt, _) = relay_parts(ctx)?;
    let token = token("dots");
    let mut wire = header(ctx, &rcpt, &token);
    wire.push_str("before the dots\r\n");
    for line in DOT_LINES {
        // RFC 5321 §4.5.2: a line beginning with '.' gets one more.
        wire.push('.');
        wire.push_str(line);
        wire.push_str("\r\n");
    }
    wire.push_str("after the dots\r\n.\r\n");
    relay_message(ctx, "", &wire).await?;
    let arrival = arrived(ctx, &token).await?;
    let mut expected = String::from("\r\nbefore the dots\r\n");
    for line in DOT_LINES {
        expected.push_str(line);
        expected.push_str("\r\n");
    }
    expected.push_str("after the dots\r\n");
    if memfind(&arrival.content, expected.as_bytes()) {
        return pass(format!(
            "{} dot lines arrived intact, stuffed on the wire",
            DOT_LINES.len()
        ));
    }
    let body = String::from_utf8_lossy(&arrival.content);
    let seen: Vec<&str> = body
        .split("\r\n")
        .skip_while(|l| *l != "before the dots")
        .take(DOT_LINES.len() + 2)
        .collect();
    violation(format!(
        "the lines after 'before the dots' arrived as {seen:?}, expected {:?} then 'after the dots'",
        DOT_LINES
    ))
}

/// 8-bit text, in UTF-8.
const EIGHT_BIT: &str = "Grüße, ½ €, ünïcödé: eight bits through the relay.";

async fn eight_bit_kept(ctx: &mut Ctx) -> Flow<Verdict> {
    let (rcpt, _) = relay_parts(ctx)?;
    let token = token("8bit");
    let mut wire = header(ctx, &rcpt, &token);
    wire.push_str(EIGHT_BIT);
    wire.push_str("\r\n.\r\n");
    relay_message(ctx, " BODY=8BITMIME", &wire).await?;
    let arrival = arrived(ctx, &token).await?;
    if !arrival.contains(EIGHT_BIT) {
        return violation(
            "the 8-bit line did not arrive byte for byte (the judge offers 8BITMIME: \
             there was nothing to convert)",
        );
    }
    if !arrival.mail.to_ascii_uppercase().contains("BODY=8BITMIME") {
        return violation(format!(
            "8-bit text passed on without BODY=8BITMIME: {}",
            arrival.mail
        ));
    }
    pass(format!("intact, and passed on with {}", arrival.mail))
}

async fn no_smuggling(ctx: &mut Ctx) -> Flow<Verdict> {
    let (rcpt, _) = relay_parts(ctx)?;
    let token = token("smuggle");
    let smuggled = format!("smuggled-{token}");
    let mut wire = header(ctx, &rcpt, &token);
    // The look-alike (bare LFs), then a whole second transaction for the
    // same recipient: a server or a next hop that takes "\n.\n" for the
    // end of data runs it.
    wire.push_str(&format!(
        "first line\r\n\n.\nMAIL FROM:<smuggler@example.net>\nRCPT TO:<{rcpt}>\nDATA\n\
         From: <smuggler@example.net>\nSubject: {smuggled}\n\n{smuggled}\n.\n\
         last line\r\n.\r\n"
    ));
    let mut conn = open_transaction(ctx, &rcpt, "").await?;
    checked(conn.send(wire.as_bytes()).await, "the message")?;
    let first = match conn.reply().await {
        Ok(reply) => reply,
        Err(ConnError::Closed) => return pass("refused: the server closed the connection"),
        Err(e) => return checked(Err(e), "end of data"),
    };
    if !first.is_positive() {
        return pass(format!("refused at the end of data: {first}"));
    }
    // More replies mean the look-alike ended the data and what followed ran.
    let (more, _) = checked(
        conn.replies_until_quiet(ctx.grace()).await,
        "after the end of data",
    )?;
    let mut replies = vec![first];
    replies.extend(more);
    let (_, wait) = relay_parts(ctx)?;
    let judge = judge(ctx)?;
    // Wait for the message, then a little longer for a second one. The
    // smuggled message's text holds the token too (inside `smuggled`).
    let first_seen = judge.wait_for(&token, wait).await;
    if !first_seen.is_empty() {
        tokio::time::sleep(ctx.grace().max(Duration::from_secs(2))).await;
    }
    let all = judge.with(&token);
    let marker = format!("X-Conform-Token: {token}");
    let (mine, second): (Vec<Arrival>, Vec<Arrival>) =
        all.into_iter().partition(|a| a.contains(&marker));
    let codes: Vec<String> = replies.iter().map(|r| r.code.to_string()).collect();
    if !second.is_empty() || mine.len() > 1 {
        return violation(format!(
            "the judge received {} messages for the one sent (replies to it: {}): the \
             look-alike ended the data and the smuggled MAIL ran",
            mine.len() + second.len(),
            codes.join(", ")
        ));
    }
    if replies.len() > 1 {
        return violation(format!(
            "{} replies to one end of data ({}): the server ended the data at the look-alike \
             and ran what followed as commands",
            replies.len(),
            codes.join(", ")
        ));
    }
    let Some(arrival) = mine.first() else {
        return Err(Verdict::Inconclusive(format!(
            "the server accepted the message but nothing reached the judge within {wait:?}"
        )));
    };
    if bare_lf_dot_line(&arrival.raw) {
        return violation(
            "the relay passed the bare-LF look-alike on as it came: a next hop that takes \
             LF for a line end would run the smuggled MAIL (RFC 5321 §2.3.8: send CRLF only)",
        );
    }
    if arrival.bare > 0 {
        return violation(format!(
            "the relay sent {} bare CR or LF octets to the next hop (RFC 5321 §2.3.8)",
            arrival.bare
        ));
    }
    pass(format!(
        "one message at the judge, the look-alike kept as data with CRLF line ends ({} replies)",
        replies.len()
    ))
}

/// True when `raw` (data as sent, dot-stuffed) holds a line "." whose line
/// end before or after is a bare LF: an end of data to a next hop that
/// takes LF for a line end. The real terminator (`<CRLF>.<CRLF>`) is not.
fn bare_lf_dot_line(raw: &[u8]) -> bool {
    raw.iter().enumerate().any(|(i, &b)| {
        let before = i >= 1 && raw[i - 1] == b'\n' && (i < 2 || raw[i - 2] != b'\r');
        let after_lf = raw.get(i + 1) == Some(&b'\n');
        let after_crlf = raw.get(i + 1) == Some(&b'\r') && raw.get(i + 2) == Some(&b'\n');
        let after_line = after_lf || after_crlf;
        let line_start = i >= 1 && raw[i - 1] == b'\n';
        b == b'.' && line_start && after_line && (before || after_lf)
    })
}

#[cfg(test)]
mod tests {
    use super::{bare_lf_dot_line, fields, stamp_problem};

    #[test]
    fn bare_lf_dot_lines() {
        assert!(!bare_lf_dot_line(b"a\r\n..\r\nb\r\n.\r\n"));
        assert!(bare_lf_dot_line(b"a\n.\nMAIL\r\n.\r\n"));
        assert!(bare_lf_dot_line(b"a\n.\r\nMAIL\r\n.\r\n"));
        assert!(bare_lf_dot_line(b"a\r\n.\nMAIL\r\n.\r\n"));
    }

    #[test]
    fn stamps() {
        let ok = "from conform.example.net (localhost [127.0.0.1]) by mx.example (Postfix) \
                  with ESMTP id 4A2B for <a@b>; Tue, 1 Dec 2026 10:00:00 +0000 (UTC)";
        assert_eq!(stamp_problem(ok), None);
        assert!(stamp_problem("by mx.example; Tue, 1 Dec 2026 10:00:00 +0000").is_some());
        assert!(stamp_problem("from a.example with SMTP; Tue, 1 Dec 2026 10:00:00").is_some());
        assert!(stamp_problem("from a.example by b.example").is_some());
        assert!(stamp_problem("from a.example by b.example; yesterday").is_some());
    }

    #[test]
    fn unfolds_fields() {
        let f = fields("Received: from a\r\n\tby b; date 2026 10:00\r\nSubject: x\r\n");
        assert_eq!(
            f[0],
            ("Received".into(), "from a by b; date 2026 10:00".into())
        );
        assert_eq!(f[1].0, "Subject");
    }
}

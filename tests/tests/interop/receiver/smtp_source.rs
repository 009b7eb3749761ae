//! Postfix's smtp-source to `smtp-receive`: a hundred connections, and
//! many messages over a few reused ones with several recipients.

use std::path::Path;

use anyhow::{Context as _, Result, ensure};
use smtp_peers::{Peer, SourceOptions, StoredFile, smtp_source};

use super::{CLIENT_TIMEOUT, Expect, delivered};
use crate::ours::Receiver;
use crate::{Case, Ctx, TlsMode};

#[test]
fn smtp_source_100_msgs_100_conns() {
    Case::new(
        "smtp-source-100-msgs-100-conns",
        Peer::SmtpSource,
        TlsMode::None,
        "-",
    )
    .run(|ctx, dir| {
        let options = SourceOptions {
            reuse_connection: false,
            sessions: 4,
            messages: 100,
            size: 2000,
            recipients: 1,
            from: "source@client.test".into(),
            to: "alice@example.test".into(),
        };
        source_case(ctx, dir, options)
    });
}

#[test]
fn smtp_source_60_msgs_3_conns_3_rcpts() {
    Case::new(
        "smtp-source-60-msgs-3-conns-3-rcpts",
        Peer::SmtpSource,
        TlsMode::None,
        "-",
    )
    .run(|ctx, dir| {
        let options = SourceOptions {
            reuse_connection: true,
            sessions: 3,
            messages: 60,
            size: 20_000,
            recipients: 3,
            from: "source@client.test".into(),
            to: "rcpt@example.test".into(),
        };
        source_case(ctx, dir, options)
    });
}

fn source_case(ctx: &Ctx, dir: &Path, options: SourceOptions) -> Result<String> {
    let mut receiver = Receiver::start(ctx, dir, false)?;
    smtp_source(receiver.smtp, &options, dir, CLIENT_TIMEOUT)?.success("smtp-source")?;
    let stored = delivered(&mut receiver, options.messages as usize)?;
    // smtp-source -r N sends `to`, then `2to` ... `Nto` (in reverse order).
    let rcpts: Vec<String> = std::iter::once(options.to.clone())
        .chain((2..=options.recipients).map(|n| format!("{n}{}", options.to)))
        .collect();
    let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    // smtp-source greets with HELO (RFC 821): the receiver records `with SMTP`.
    let expect = Expect {
        from: &options.from,
        rcpts: &rcpts,
        protocol: "SMTP",
    };
    for file in &stored {
        expect.check_trace(file)?;
        check_source_body(file, options.size)?;
    }
    let sessions = receiver
        .stop_and_transcript()
        .matches("--- session ")
        .count();
    // -d: `sessions` connections carry all messages; else one per message.
    let expected = if options.reuse_connection {
        options.sessions
    } else {
        options.messages
    };
    ensure!(
        sessions == expected as usize,
        "{sessions} sessions, expected {expected}"
    );
    Ok(format!("{} msgs, {sessions} sessions, HELO", stored.len()))
}

/// smtp-source's message: From/To/Date/Message-Id, then about `size`
/// octets (CRLF included) of numbered `XXXX` lines of at most 80 characters.
fn check_source_body(file: &StoredFile, size: u32) -> Result<()> {
    let text = String::from_utf8_lossy(&file.normalized()).into_owned();
    let (_, body) = text
        .split_once("\n\n")
        .context("no header/body separator")?;
    let on_wire: usize = body.lines().map(|l| l.len() + 2).sum();
    let lines_ok = body.lines().all(|l| {
        l.len() <= 80
            && l.trim_start_matches(|c: char| c.is_ascii_digit())
                .chars()
                .all(|c| c == 'X')
    });
    ensure!(lines_ok, "{}: unexpected body line", file.path.display());
    ensure!(
        on_wire.abs_diff(size as usize) <= 100,
        "{}: body of {on_wire} octets, expected about {size}",
        file.path.display()
    );
    Ok(())
}

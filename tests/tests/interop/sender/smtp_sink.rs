//! `smtp-send` to Postfix's smtp-sink: PIPELINING over three sessions,
//! and HELO.

use std::path::Path;

use anyhow::{Result, ensure};
use smtp_peers::{CommandOutput, Peer, PeerMessage, SinkMode, SmtpSink};

use super::{FROM, Send, check_accepted, message};
use crate::messages::MessageSpec;
use crate::{Case, Ctx, DELIVERY_TIMEOUT, TlsMode, pipelined};

#[test]
fn smtp_sink_3_msgs_pipelining() {
    Case::new(
        "smtp-sink-3-msgs-pipelining",
        Peer::SmtpSink,
        TlsMode::None,
        "-",
    )
    .run(pipelining);
}

#[test]
fn smtp_sink_classic_helo() {
    Case::new("smtp-sink-classic-helo", Peer::SmtpSink, TlsMode::None, "-").run(classic);
}

fn sink_case(
    ctx: &Ctx,
    dir: &Path,
    count: usize,
    extra: &[&str],
) -> Result<(Vec<PeerMessage>, Vec<CommandOutput>)> {
    let sink = SmtpSink::start(SinkMode::Dump)?;
    let to = ["alice@example.test", "bob@example.test"];
    let mut outs = Vec::new();
    let mut sent = Vec::new();
    for n in 1..=count {
        let sub = dir.join(format!("msg{n}"));
        std::fs::create_dir_all(&sub)?;
        let subject = format!("to smtp-sink #{n}");
        let (bytes, file) = message(&sub, MessageSpec::new(FROM, &to, &subject))?;
        outs.push(check_accepted(
            Send::new(sink.addr().port(), "none", &to)
                .extra(extra)
                .run(ctx, &sub, &file)?,
            &to,
        )?);
        sent.push(bytes);
    }
    let dumps = sink.wait_for_dumps(count, DELIVERY_TIMEOUT)?;
    ensure!(
        dumps.len() == count,
        "smtp-sink dumped {} transactions, expected {count}",
        dumps.len()
    );
    for d in &dumps {
        ensure!(
            d.envelope.mail_from == FROM,
            "X-Mail-Args {:?}",
            d.envelope.mail_from
        );
        ensure!(
            d.envelope.rcpt_to == to,
            "X-Rcpt-Args {:?}",
            d.envelope.rcpt_to
        );
        // A dump ends with an empty line after the message.
        let matches = |s: &Vec<u8>| d.file.ends_with_message(&[s.as_slice(), b"\n"].concat());
        ensure!(
            sent.iter().any(matches),
            "{}: not one of the messages sent",
            d.file.path.display()
        );
    }
    Ok((dumps, outs))
}

/// Three sessions; smtp-sink offers PIPELINING and ends its EHLO reply with
/// an empty `250 ` line (RFC 5321 §4.2.1 allows empty text).
fn pipelining(ctx: &Ctx, dir: &Path) -> Result<String> {
    let (dumps, outs) = sink_case(ctx, dir, 3, &[])?;
    ensure!(
        outs.iter().all(|o| o.stderr.contains("S: 250 2.0.0")),
        "no 250 2.0.0 after the data"
    );
    // RFC 2920 §3.1: MAIL, both RCPTs and DATA in one group.
    let group = ["MAIL FROM", "RCPT TO", "RCPT TO", "DATA"];
    ensure!(
        outs.iter().all(|o| pipelined(&o.stderr, &["C: "], &group)),
        "smtp-send did not pipeline MAIL/RCPT/RCPT/DATA although smtp-sink offers PIPELINING"
    );
    Ok(format!(
        "{} transactions, 2 rcpts each, pipelined",
        dumps.len()
    ))
}

fn classic(ctx: &Ctx, dir: &Path) -> Result<String> {
    let (dumps, outs) = sink_case(ctx, dir, 1, &["--classic"])?;
    ensure!(
        outs[0].stderr.contains("C: HELO"),
        "no HELO in the transcript"
    );
    let proto = dumps[0].file.header("X-Client-Proto").unwrap_or_default();
    ensure!(proto == "SMTP", "X-Client-Proto {proto:?}, expected SMTP");
    Ok("HELO, X-Client-Proto: SMTP".into())
}

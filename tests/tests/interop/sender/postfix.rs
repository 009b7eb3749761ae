//! `smtp-send` to a private Postfix smtpd, shared by these cases while
//! they run: every TLS mode, CHUNKING, a refused recipient, HELO, AUTH.

use std::path::Path;

use anyhow::{Result, ensure};
use smtp_peers::{CommandOutput, Peer, Postfix, StoredFile};

use super::{FROM, Send, check_accepted, check_same, message};
use crate::messages::MessageSpec;
use crate::ours::USER;
use crate::{Case, Ctx, DELIVERY_TIMEOUT, TlsMode};

#[test]
fn postfix_starttls_two_rcpts() {
    Case::new(
        "postfix-starttls-two-rcpts",
        Peer::PostfixSmtpd,
        TlsMode::StartTls,
        "-",
    )
    .run(|ctx, dir| {
        let to = ["pf-starttls-1@example.test", "pf-starttls-2@example.test"];
        postfix_tls_case(ctx, dir, "starttls", &to)
    });
}

#[test]
fn postfix_implicit() {
    Case::new(
        "postfix-implicit",
        Peer::PostfixSmtpd,
        TlsMode::Implicit,
        "-",
    )
    .run(|ctx, dir| postfix_tls_case(ctx, dir, "implicit", &["pf-implicit@example.test"]));
}

#[test]
fn postfix_none() {
    Case::new("postfix-none", Peer::PostfixSmtpd, TlsMode::None, "-")
        .run(|ctx, dir| postfix_tls_case(ctx, dir, "none", &["pf-none@example.test"]));
}

#[test]
fn postfix_opportunistic() {
    Case::new(
        "postfix-opportunistic",
        Peer::PostfixSmtpd,
        TlsMode::Opportunistic,
        "-",
    )
    .run(|ctx, dir| {
        postfix_tls_case(
            ctx,
            dir,
            "opportunistic",
            &["pf-opportunistic@example.test"],
        )
    });
}

#[test]
fn postfix_starttls_chunking_1mib() {
    Case::new(
        "postfix-starttls-chunking-1mib",
        Peer::PostfixSmtpd,
        TlsMode::StartTls,
        "-",
    )
    .run(chunking);
}

#[test]
fn postfix_relay_denied_rcpt() {
    Case::new(
        "postfix-relay-denied-rcpt",
        Peer::PostfixSmtpd,
        TlsMode::StartTls,
        "-",
    )
    .run(relay_denied);
}

#[test]
fn postfix_classic_helo() {
    Case::new(
        "postfix-classic-helo",
        Peer::PostfixSmtpd,
        TlsMode::None,
        "-",
    )
    .run(classic);
}

#[test]
fn postfix_starttls_auth() {
    Case::new(
        "postfix-starttls-auth",
        Peer::PostfixSmtpd,
        TlsMode::StartTls,
        "PLAIN",
    )
    .with_sasl()
    .run(|ctx, dir| postfix_auth_case(ctx, dir, "starttls", "pf-auth@example.test"));
}

#[test]
fn postfix_implicit_auth() {
    Case::new(
        "postfix-implicit-auth",
        Peer::PostfixSmtpd,
        TlsMode::Implicit,
        "PLAIN",
    )
    .with_sasl()
    .run(|ctx, dir| postfix_auth_case(ctx, dir, "implicit", "pf-implicit-auth@example.test"));
}

/// Sends `spec` through the shared Postfix and checks every delivery: one
/// Maildir file per accepted recipient (`Delivered-To:`), the content,
/// and the Received: line Postfix wrote (TLS, AUTH, protocol).
/// `send.port` is ignored: the shared Postfix's port for `send.tls`
/// (implicit TLS: the wrapper-mode port) is used.
fn postfix_case(
    ctx: &Ctx,
    dir: &Path,
    mut send: Send<'_>,
    size: usize,
) -> Result<(Vec<StoredFile>, CommandOutput)> {
    let postfix = ctx.postfix()?;
    send.port = if send.tls == "implicit" {
        postfix.smtps_addr().port()
    } else {
        postfix.smtp_addr().port()
    };
    let to = send.to;
    let subject = format!("to Postfix, {} {}", send.tls, to.join(" "));
    let (bytes, file) = message(dir, MessageSpec::new(FROM, to, &subject).attachment(size))?;
    let out = check_accepted(send.run(ctx, dir, &file)?, to)?;
    let stored = postfix_delivered(&postfix, to)?;
    for f in &stored {
        check_same(f, &bytes)?;
        let return_path = f.header("Return-Path").unwrap_or_default();
        ensure!(
            return_path == format!("<{FROM}>"),
            "Return-Path {return_path:?}"
        );
    }
    Ok((stored, out))
}

/// The deliveries to `to` (unique per case): Postfix delivers after its 250.
fn postfix_delivered(postfix: &Postfix, to: &[&str]) -> Result<Vec<StoredFile>> {
    let wanted = |f: &StoredFile| {
        f.header("Delivered-To")
            .is_some_and(|d| to.contains(&d.as_str()))
    };
    let stored = postfix.wait_for_messages(to.len(), DELIVERY_TIMEOUT, wanted)?;
    ensure!(
        stored.len() == to.len(),
        "{} deliveries, expected {}",
        stored.len(),
        to.len()
    );
    Ok(stored)
}

/// `(using TLSv1.3 with cipher ...)` (smtpd_tls_received_header) or not.
fn received_tls(file: &StoredFile) -> Option<String> {
    let received = file.header("Received")?;
    let start = received.find("(using ")? + "(using ".len();
    received[start..]
        .split_whitespace()
        .next()
        .map(str::to_string)
}

fn postfix_tls_case(ctx: &Ctx, dir: &Path, mode: &str, to: &[&str]) -> Result<String> {
    let (stored, _) = postfix_case(ctx, dir, Send::new(0, mode, to), 24 * 1024)?;
    let tls = received_tls(&stored[0]);
    ensure!(
        tls.is_some() == (mode != "none"),
        "Received: says TLS {tls:?} with --tls {mode}"
    );
    Ok(format!(
        "{} delivered byte-exact, {}",
        stored.len(),
        tls.unwrap_or_else(|| "no TLS".into())
    ))
}

/// CHUNKING (RFC 3030): BDAT instead of DATA, no dot-stuffing on the wire.
fn chunking(ctx: &Ctx, dir: &Path) -> Result<String> {
    let to = ["pf-chunking@example.test"];
    let (stored, out) = postfix_case(
        ctx,
        dir,
        Send::new(0, "starttls", &to).extra(&["--chunking"]),
        1 << 20,
    )?;
    ensure!(
        out.stderr.contains("C: BDAT"),
        "smtp-send did not use BDAT although Postfix offers CHUNKING"
    );
    ensure!(
        !out.stderr.contains("C: DATA"),
        "smtp-send used DATA as well"
    );
    Ok(format!(
        "{} octets via BDAT, byte-exact",
        stored[0].bytes.len()
    ))
}

/// One recipient refused (554 5.7.1 relay denied): reported, the other delivered.
fn relay_denied(ctx: &Ctx, dir: &Path) -> Result<String> {
    let postfix = ctx.postfix()?;
    let good = "pf-partial@example.test";
    let bad = "someone@elsewhere.invalid";
    let (bytes, file) = message(dir, MessageSpec::new(FROM, &[good, bad], "partly refused"))?;
    let out =
        Send::new(postfix.smtp_addr().port(), "starttls", &[good, bad]).run(ctx, dir, &file)?;
    ensure!(
        out.status.code() == Some(69),
        "exit {:?}, expected 69 (a recipient refused for good): {}",
        out.status.code(),
        out.both()
    );
    let refused = out
        .stdout
        .lines()
        .find(|l| l.contains(bad))
        .unwrap_or_default();
    ensure!(
        refused.starts_with("refused") && refused.contains("554"),
        "report for {bad}: {refused:?}"
    );
    ensure!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("accepted") && l.contains(good)),
        "{good} not accepted: {}",
        out.stdout
    );
    let stored = postfix_delivered(&postfix, &[good])?;
    check_same(&stored[0], &bytes)?;
    Ok("554 5.7.1 reported per recipient, other one delivered".into())
}

/// `--classic`: HELO and no extensions (RFC 821): Postfix records `with SMTP`.
fn classic(ctx: &Ctx, dir: &Path) -> Result<String> {
    let (stored, out) = postfix_case(
        ctx,
        dir,
        Send::new(0, "none", &["pf-classic@example.test"]).extra(&["--classic"]),
        4096,
    )?;
    ensure!(out.stderr.contains("C: HELO"), "no HELO in the transcript");
    let received = stored[0].header("Received").unwrap_or_default();
    ensure!(received.contains(" with SMTP "), "Received: {received:?}");
    Ok("HELO, Received: with SMTP".into())
}

fn postfix_auth_case(ctx: &Ctx, dir: &Path, mode: &str, rcpt: &str) -> Result<String> {
    let (stored, out) = postfix_case(ctx, dir, Send::new(0, mode, &[rcpt]).auth(true), 8192)?;
    ensure!(
        out.stderr.contains("C: AUTH PLAIN"),
        "no AUTH in the transcript"
    );
    let received = stored[0].header("Received").unwrap_or_default();
    // Cyrus SASL qualifies the name with the realm (smtpd_sasl_local_domain).
    let who = format!("(Authenticated sender: {USER}@localhost)");
    ensure!(
        received.contains(&who),
        "Received: {received:?} lacks {who}"
    );
    ensure!(received.contains("with ESMTPSA"), "Received: {received:?}");
    Ok(format!(
        "ESMTPSA, authenticated as {USER}, {}",
        received_tls(&stored[0]).unwrap_or_default()
    ))
}

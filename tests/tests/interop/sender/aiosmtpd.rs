//! `smtp-send` to aiosmtpd: every TLS mode, AUTH, a composed message, and
//! the two refusals (STARTTLS missing, wrong password).

use std::path::Path;

use anyhow::{Context as _, Result, ensure};
use smtp_peers::{Aiosmtpd, AiosmtpdConfig, AiosmtpdTls, Peer};

use super::{FROM, Send, check_accepted, check_envelope, check_same, message};
use crate::messages::{MessageSpec, TRANSPARENCY_LINES, pseudo_random};
use crate::ours::{PASSWORD, USER, args, smtp_send};
use crate::{Case, Ctx, DELIVERY_TIMEOUT, TlsMode};

/// The one recipient of most cases.
const ALICE: &[&str] = &["alice@example.test"];

#[test]
fn aiosmtpd_plain_two_rcpts() {
    Case::new(
        "aiosmtpd-plain-two-rcpts",
        Peer::Aiosmtpd,
        TlsMode::None,
        "-",
    )
    .run(|ctx, dir| {
        let to = ["alice@example.test", "bob@example.test"];
        aio_case(ctx, dir, AiosmtpdConfig::plain(), "none", &to, false)
    });
}

#[test]
fn aiosmtpd_starttls_required_composed() {
    Case::new(
        "aiosmtpd-starttls-required-composed",
        Peer::Aiosmtpd,
        TlsMode::StartTls,
        "-",
    )
    .run(starttls_composed);
}

#[test]
fn aiosmtpd_starttls_auth() {
    Case::new(
        "aiosmtpd-starttls-auth",
        Peer::Aiosmtpd,
        TlsMode::StartTls,
        "PLAIN",
    )
    .run(|ctx, dir| {
        let config = aio_config(ctx, AiosmtpdTls::StartTls { required: true }).user(USER, PASSWORD);
        aio_case(ctx, dir, config, "starttls", ALICE, true)
    });
}

#[test]
fn aiosmtpd_implicit_auth() {
    Case::new(
        "aiosmtpd-implicit-auth",
        Peer::Aiosmtpd,
        TlsMode::Implicit,
        "PLAIN",
    )
    .run(|ctx, dir| {
        let config = aio_config(ctx, AiosmtpdTls::Implicit).user(USER, PASSWORD);
        aio_case(ctx, dir, config, "implicit", ALICE, true)
    });
}

#[test]
fn aiosmtpd_opportunistic_offered() {
    Case::new(
        "aiosmtpd-opportunistic-offered",
        Peer::Aiosmtpd,
        TlsMode::Opportunistic,
        "-",
    )
    .run(|ctx, dir| {
        let config = aio_config(ctx, AiosmtpdTls::StartTls { required: false });
        aio_case(ctx, dir, config, "opportunistic", ALICE, false)
    });
}

#[test]
fn aiosmtpd_opportunistic_not_offered() {
    Case::new(
        "aiosmtpd-opportunistic-not-offered",
        Peer::Aiosmtpd,
        TlsMode::Opportunistic,
        "-",
    )
    .run(|ctx, dir| {
        let config = AiosmtpdConfig::plain();
        aio_case(ctx, dir, config, "opportunistic", ALICE, false)
    });
}

#[test]
fn aiosmtpd_starttls_not_offered_refused() {
    Case::new(
        "aiosmtpd-starttls-not-offered-refused",
        Peer::Aiosmtpd,
        TlsMode::StartTls,
        "-",
    )
    .run(starttls_missing);
}

#[test]
fn aiosmtpd_auth_wrong_password() {
    Case::new(
        "aiosmtpd-auth-wrong-password",
        Peer::Aiosmtpd,
        TlsMode::StartTls,
        "PLAIN",
    )
    .run(wrong_password);
}

fn aio_config(ctx: &Ctx, tls: AiosmtpdTls) -> AiosmtpdConfig {
    match tls {
        AiosmtpdTls::Plain => AiosmtpdConfig::plain(),
        _ => AiosmtpdConfig::tls(tls, &ctx.pki().server_cert, &ctx.pki().server_key),
    }
}

/// One message to aiosmtpd, checked end to end.
fn aio_case(
    ctx: &Ctx,
    dir: &Path,
    server: AiosmtpdConfig,
    mode: &str,
    to: &[&str],
    auth: bool,
) -> Result<String> {
    let tls_expected = server.tls == AiosmtpdTls::Implicit
        || (matches!(server.tls, AiosmtpdTls::StartTls { .. }) && mode != "none");
    let peer = Aiosmtpd::start(&server)?;
    let (bytes, file) = message(
        dir,
        MessageSpec::new(FROM, to, &format!("to aiosmtpd, {mode}")),
    )?;
    let out = check_accepted(
        Send::new(peer.addr().port(), mode, to)
            .auth(auth)
            .run(ctx, dir, &file)?,
        to,
    )?;
    // smtp-send prefers PLAIN (one round trip, RFC 4616) when offered.
    ensure!(
        !auth || out.stderr.contains("C: AUTH PLAIN"),
        "no AUTH PLAIN in the transcript"
    );
    let stored = peer.wait_for_messages(1, DELIVERY_TIMEOUT)?;
    ensure!(stored.len() == 1, "{} messages stored", stored.len());
    check_same(&stored[0].file, &bytes)?;
    check_envelope(&stored[0], to, tls_expected, auth.then_some(USER))?;
    let tls = stored[0]
        .envelope
        .tls
        .clone()
        .unwrap_or_else(|| "no TLS".into());
    Ok(format!(
        "stored byte-exact, {tls}{}",
        if auth { ", login alice" } else { "" }
    ))
}

/// A message composed by smtp-send (smtp-mime) from options, checked by
/// parsing what aiosmtpd stored.
fn starttls_composed(ctx: &Ctx, dir: &Path) -> Result<String> {
    let peer = Aiosmtpd::start(&aio_config(ctx, AiosmtpdTls::StartTls { required: true }))?;
    let to = ["alice@example.test"];
    let text = TRANSPARENCY_LINES.join("\n");
    let data = pseudo_random(100_000, 7);
    let attachment = dir.join("data.bin");
    std::fs::write(&attachment, &data)?;
    let subject = "composed by smtp-send";
    let mut a = args([
        "--server".to_string(),
        format!("127.0.0.1:{}", peer.addr().port()),
    ]);
    a.extend(args([
        "--tls",
        "starttls",
        "--from",
        FROM,
        "--to",
        to[0],
        "--subject",
        subject,
        "--text",
        &text,
        "--attach",
    ]));
    a.push(attachment.into_os_string());
    check_accepted(smtp_send(ctx, dir, "smtp-send", &a, false)?, &to)?;
    let stored = peer.wait_for_messages(1, DELIVERY_TIMEOUT)?;
    check_envelope(&stored[0], &to, true, None)?;
    let seen = smtp_mime::inspect(&stored[0].file.bytes);
    ensure!(
        seen.subject.as_deref() == Some(subject),
        "subject {:?}",
        seen.subject
    );
    let body = seen.text.unwrap_or_default().replace("\r\n", "\n");
    for line in TRANSPARENCY_LINES.iter().filter(|l| !l.is_empty()) {
        ensure!(
            body.lines().any(|l| l == *line),
            "text line {line:?} lost; text: {body:?}"
        );
    }
    let got = seen
        .attachments
        .iter()
        .find(|a| a.filename == "data.bin")
        .context("attachment data.bin missing")?;
    ensure!(
        got.bytes == data,
        "attachment differs ({} octets, sent {})",
        got.bytes.len(),
        data.len()
    );
    Ok("text + 100 kB attachment intact (parsed)".into())
}

/// `--tls starttls` to a server without STARTTLS: nothing may be sent in clear.
fn starttls_missing(ctx: &Ctx, dir: &Path) -> Result<String> {
    let peer = Aiosmtpd::start(&AiosmtpdConfig::plain())?;
    let to = ["alice@example.test"];
    let (_, file) = message(dir, MessageSpec::new(FROM, &to, "must not be sent"))?;
    let out = Send::new(peer.addr().port(), "starttls", &to).run(ctx, dir, &file)?;
    ensure!(
        !out.status.success(),
        "smtp-send succeeded without TLS: {}",
        out.both()
    );
    ensure!(
        !out.stderr.contains("C: MAIL FROM"),
        "MAIL was sent in plain text"
    );
    ensure!(peer.messages()?.is_empty(), "aiosmtpd stored a message");
    Ok(format!(
        "refused before MAIL, exit {}",
        out.status.code().unwrap_or(-1)
    ))
}

/// A wrong password: 535 (RFC 4954 §6), permanent, nothing sent.
fn wrong_password(ctx: &Ctx, dir: &Path) -> Result<String> {
    let config =
        aio_config(ctx, AiosmtpdTls::StartTls { required: true }).user(USER, "another-password");
    let peer = Aiosmtpd::start(&config)?;
    let to = ["alice@example.test"];
    let (_, file) = message(dir, MessageSpec::new(FROM, &to, "must not be sent"))?;
    let out = Send::new(peer.addr().port(), "starttls", &to)
        .auth(true)
        .run(ctx, dir, &file)?;
    ensure!(
        out.status.code() == Some(69),
        "exit {:?}, expected 69 (permanent): {}",
        out.status.code(),
        out.both()
    );
    ensure!(
        out.stderr.contains("S: 535"),
        "no 535 reply in the transcript"
    );
    ensure!(peer.messages()?.is_empty(), "aiosmtpd stored a message");
    Ok("535 -> exit 69, nothing stored".into())
}

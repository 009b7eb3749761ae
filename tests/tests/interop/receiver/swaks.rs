//! swaks to `smtp-receive`: every TLS mode, AUTH LOGIN and PLAIN, and
//! PIPELINING seen in what swaks wrote.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, ensure};
use smtp_peers::Peer;

use super::{Expect, FROM, check_content, check_mechanism, delivered, message_file, run_client};
use crate::ours::{PASSWORD, Receiver, USER};
use crate::{Case, Ctx, TlsMode, pipelined};

#[test]
fn swaks_plain() {
    Case::new("swaks-plain", Peer::Swaks, TlsMode::None, "-")
        .run(|ctx, dir| swaks_case(ctx, dir, TlsMode::None, None, false));
}

#[test]
fn swaks_pipeline() {
    Case::new("swaks-pipeline", Peer::Swaks, TlsMode::None, "-")
        .run(|ctx, dir| swaks_case(ctx, dir, TlsMode::None, None, true));
}

#[test]
fn swaks_starttls() {
    Case::new("swaks-starttls", Peer::Swaks, TlsMode::StartTls, "-")
        .run(|ctx, dir| swaks_case(ctx, dir, TlsMode::StartTls, None, false));
}

#[test]
fn swaks_starttls_auth_login_pipeline() {
    Case::new(
        "swaks-starttls-auth-login-pipeline",
        Peer::Swaks,
        TlsMode::StartTls,
        "LOGIN",
    )
    .run(|ctx, dir| swaks_case(ctx, dir, TlsMode::StartTls, Some("LOGIN"), true));
}

#[test]
fn swaks_tls_on_connect() {
    Case::new("swaks-tls-on-connect", Peer::Swaks, TlsMode::Implicit, "-")
        .run(|ctx, dir| swaks_case(ctx, dir, TlsMode::Implicit, None, false));
}

#[test]
fn swaks_tls_on_connect_auth_plain() {
    Case::new(
        "swaks-tls-on-connect-auth-plain",
        Peer::Swaks,
        TlsMode::Implicit,
        "PLAIN",
    )
    .run(|ctx, dir| swaks_case(ctx, dir, TlsMode::Implicit, Some("PLAIN"), false));
}

fn swaks_case(
    ctx: &Ctx,
    dir: &Path,
    tls: TlsMode,
    auth: Option<&str>,
    pipeline: bool,
) -> Result<String> {
    let mut receiver = Receiver::start(ctx, dir, auth.is_some())?;
    let to = ["alice@example.test"];
    let (bytes, _) = message_file(dir, &to, "swaks data file")?;
    // swaks sends its --data, then CRLF.CRLF: a final CRLF in the file would
    // become an extra empty line at the end of the message.
    let file_for_swaks = dir.join("message-for-swaks.eml");
    std::fs::write(
        &file_for_swaks,
        bytes.strip_suffix(b"\r\n").unwrap_or(&bytes),
    )?;
    let port = if tls == TlsMode::Implicit {
        receiver.smtps.port()
    } else {
        receiver.smtp.port()
    };
    let mut cmd = Command::new("swaks");
    cmd.args(["--server", "127.0.0.1", "--port", &port.to_string()])
        .args(["--helo", "swaks.client.test", "--from", FROM, "--to", to[0]])
        .arg("--data")
        .arg(&file_for_swaks)
        .args(["--timeout", "30"]);
    match tls {
        TlsMode::StartTls => cmd.arg("--tls"),
        TlsMode::Implicit => cmd.arg("--tls-on-connect"),
        _ => &mut cmd,
    };
    if tls != TlsMode::None {
        // swaks checks the chain (not the name) with --tls-verify.
        cmd.args(["--tls-verify", "--tls-ca-path"])
            .arg(&ctx.pki().ca_cert);
    }
    if let Some(mech) = auth {
        cmd.args([
            "--auth",
            mech,
            "--auth-user",
            USER,
            "--auth-password",
            PASSWORD,
        ]);
    }
    if pipeline {
        cmd.arg("--pipeline");
    }
    let out = run_client(dir, "swaks", &mut cmd, None)?;
    if pipeline {
        // swaks prints what it writes (`->`, `~>` under TLS) as it writes it.
        ensure!(
            pipelined(
                &out.stdout,
                &["-> ", "~> "],
                &["MAIL FROM", "RCPT TO", "DATA"]
            ),
            "swaks did not pipeline MAIL, RCPT, DATA (was PIPELINING offered?)"
        );
    }
    let protocol = match (tls, auth) {
        (TlsMode::None, _) => "ESMTP",
        (_, None) => "ESMTPS",
        (_, Some(_)) => "ESMTPSA",
    };
    let expect = Expect {
        from: FROM,
        rcpts: &to,
        protocol,
    };
    for stored in delivered(&mut receiver, 1)? {
        expect.check_trace(&stored)?;
        check_content(&stored, &bytes)?;
    }
    if let Some(mech) = auth {
        check_mechanism(&mut receiver, mech)?;
    }
    Ok(format!(
        "1 msg, {protocol}{}",
        if pipeline { ", pipelined" } else { "" }
    ))
}

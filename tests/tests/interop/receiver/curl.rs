//! curl's SMTP upload to `smtp-receive`: plain with two recipients,
//! STARTTLS required with AUTH PLAIN, implicit TLS with AUTH LOGIN.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use smtp_peers::Peer;

use super::{Expect, FROM, check_content, check_mechanism, delivered, message_file, run_client};
use crate::ours::{PASSWORD, Receiver, USER};
use crate::{Case, Ctx, TlsMode};

#[test]
fn curl_plain_two_rcpts() {
    Case::new("curl-plain-two-rcpts", Peer::Curl, TlsMode::None, "-")
        .run(|ctx, dir| curl_case(ctx, dir, TlsMode::None));
}

#[test]
fn curl_starttls_ssl_reqd_auth_plain() {
    Case::new(
        "curl-starttls-ssl-reqd-auth-plain",
        Peer::Curl,
        TlsMode::StartTls,
        "PLAIN",
    )
    .run(|ctx, dir| curl_case(ctx, dir, TlsMode::StartTls));
}

#[test]
fn curl_smtps_auth_login() {
    Case::new(
        "curl-smtps-auth-login",
        Peer::Curl,
        TlsMode::Implicit,
        "LOGIN",
    )
    .run(|ctx, dir| curl_case(ctx, dir, TlsMode::Implicit));
}

fn curl(
    ctx: &Ctx,
    dir: &Path,
    url: &str,
    port: u16,
    extra: &[&str],
    to: &[&str],
    file: &Path,
) -> Result<()> {
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--max-time", "60", "--url", url])
        // Verify the certificate against the name `localhost`, on 127.0.0.1.
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg("--cacert")
        .arg(&ctx.pki().ca_cert)
        .args(["--mail-from", FROM])
        .args(extra)
        .arg("--upload-file")
        .arg(file);
    for r in to {
        cmd.args(["--mail-rcpt", r]);
    }
    run_client(dir, "curl", &mut cmd, None)?;
    Ok(())
}

fn curl_case(ctx: &Ctx, dir: &Path, tls: TlsMode) -> Result<String> {
    let mut receiver = Receiver::start(ctx, dir, tls != TlsMode::None)?;
    let to: &[&str] = if tls == TlsMode::None {
        &["alice@example.test", "bob@example.test"]
    } else {
        &["alice@example.test"]
    };
    let (bytes, file) = message_file(dir, to, "curl upload")?;
    let user = format!("{USER}:{PASSWORD}");
    let (url, protocol, mech) = match tls {
        TlsMode::None => (
            format!("smtp://localhost:{}", receiver.smtp.port()),
            "ESMTP",
            "",
        ),
        TlsMode::StartTls => (
            format!("smtp://localhost:{}", receiver.smtp.port()),
            "ESMTPSA",
            "PLAIN",
        ),
        _ => (
            format!("smtps://localhost:{}", receiver.smtps.port()),
            "ESMTPSA",
            "LOGIN",
        ),
    };
    let port = url.rsplit(':').next().unwrap_or_default().parse::<u16>()?;
    let login_options = format!("AUTH={mech}");
    let mut extra = vec![];
    if tls == TlsMode::StartTls {
        extra.push("--ssl-reqd");
    }
    if !mech.is_empty() {
        extra.extend(["--user", &user, "--login-options", &login_options]);
    }
    curl(ctx, dir, &url, port, &extra, to, &file)?;
    let expect = Expect {
        from: FROM,
        rcpts: to,
        protocol,
    };
    for stored in delivered(&mut receiver, 1)? {
        expect.check_trace(&stored)?;
        check_content(&stored, &bytes)?;
    }
    if !mech.is_empty() {
        check_mechanism(&mut receiver, mech)?;
    }
    Ok(format!("1 msg, {protocol}"))
}

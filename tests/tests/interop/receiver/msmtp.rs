//! msmtp to `smtp-receive`, the message on stdin: STARTTLS with AUTH
//! PLAIN, implicit TLS with AUTH LOGIN.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use smtp_peers::Peer;

use super::{Expect, FROM, check_content, check_mechanism, delivered, message_file, run_client};
use crate::ours::{PASSWORD, Receiver, USER};
use crate::{Case, Ctx, TlsMode};

#[test]
fn msmtp_starttls_auth_plain() {
    Case::new(
        "msmtp-starttls-auth-plain",
        Peer::Msmtp,
        TlsMode::StartTls,
        "PLAIN",
    )
    .run(|ctx, dir| msmtp_case(ctx, dir, TlsMode::StartTls, "PLAIN"));
}

#[test]
fn msmtp_tls_auth_login() {
    Case::new(
        "msmtp-tls-auth-login",
        Peer::Msmtp,
        TlsMode::Implicit,
        "LOGIN",
    )
    .run(|ctx, dir| msmtp_case(ctx, dir, TlsMode::Implicit, "LOGIN"));
}

fn msmtp_case(ctx: &Ctx, dir: &Path, tls: TlsMode, mech: &str) -> Result<String> {
    let mut receiver = Receiver::start(ctx, dir, true)?;
    let to = ["alice@example.test"];
    let (bytes, file) = message_file(dir, &to, "msmtp from stdin")?;
    let password_file = dir.join("password");
    std::fs::write(&password_file, PASSWORD)?;
    let (port, starttls) = match tls {
        TlsMode::Implicit => (receiver.smtps.port(), "off"),
        _ => (receiver.smtp.port(), "on"),
    };
    let mut cmd = Command::new("msmtp");
    cmd.args([
        "--host=127.0.0.1",
        &format!("--port={port}"),
        "--tls=on",
        &format!("--tls-starttls={starttls}"),
    ])
    .arg(format!("--tls-trust-file={}", ctx.pki().ca_cert.display()))
    .arg("--tls-host-override=localhost")
    .arg(format!("--auth={}", mech.to_ascii_lowercase()))
    .arg(format!("--user={USER}"))
    .arg(format!("--passwordeval=cat {}", password_file.display()))
    .args([
        "--domain=msmtp.client.test",
        &format!("--from={FROM}"),
        "--",
    ])
    .args(to);
    run_client(dir, "msmtp", &mut cmd, Some(&file))?;
    let expect = Expect {
        from: FROM,
        rcpts: &to,
        protocol: "ESMTPSA",
    };
    for stored in delivered(&mut receiver, 1)? {
        expect.check_trace(&stored)?;
        check_content(&stored, &bytes)?;
    }
    check_mechanism(&mut receiver, mech)?;
    Ok("1 msg from stdin, ESMTPSA".into())
}

//! Independent clients driving `smtp-receive`: Python's smtplib, curl,
//! swaks, msmtp and Postfix's smtp-source. Each case starts its own
//! receiver (fresh Maildir) and checks every message that should have
//! arrived: how many, the envelope in the trace fields, the RFC 3848
//! protocol name (which tells TLS and AUTH as the receiver saw them), and
//! the content byte for byte after the trace fields.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};

use super::messages::MessageSpec;
use super::ours::{PASSWORD, Receiver, USER};
use super::{Case, Ctx, Peer, TlsMode};
use crate::peers::{CommandOutput, SourceOptions, StoredFile, run_with_timeout, smtp_source};

const SMTPLIB_CLIENT: &str = include_str!("smtplib_client.py");
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
const FROM: &str = "sender@client.test";

/// The cases of this direction.
pub fn cases() -> Vec<Case> {
    let case = |name, peer, tls, auth, run| Case {
        name,
        peer,
        tls,
        auth,
        run,
    };
    vec![
        case(
            "smtplib-plain-sendmail",
            Peer::Smtplib,
            TlsMode::None,
            "-",
            smtplib_plain_sendmail,
        ),
        case(
            "smtplib-starttls-login-send_message",
            Peer::Smtplib,
            TlsMode::StartTls,
            "PLAIN",
            smtplib_starttls_send_message,
        ),
        case(
            "smtplib-ssl-login-sendmail",
            Peer::Smtplib,
            TlsMode::Implicit,
            "PLAIN",
            smtplib_ssl_sendmail,
        ),
        case(
            "smtplib-ssl-login-send_message",
            Peer::Smtplib,
            TlsMode::Implicit,
            "PLAIN",
            smtplib_ssl_send_message,
        ),
        case(
            "curl-plain-two-rcpts",
            Peer::Curl,
            TlsMode::None,
            "-",
            curl_plain,
        ),
        case(
            "curl-starttls-ssl-reqd-auth-plain",
            Peer::Curl,
            TlsMode::StartTls,
            "PLAIN",
            curl_starttls,
        ),
        case(
            "curl-smtps-auth-login",
            Peer::Curl,
            TlsMode::Implicit,
            "LOGIN",
            curl_smtps,
        ),
        case("swaks-plain", Peer::Swaks, TlsMode::None, "-", swaks_plain),
        case(
            "swaks-pipeline",
            Peer::Swaks,
            TlsMode::None,
            "-",
            swaks_pipeline,
        ),
        case(
            "swaks-starttls",
            Peer::Swaks,
            TlsMode::StartTls,
            "-",
            swaks_starttls,
        ),
        case(
            "swaks-starttls-auth-login-pipeline",
            Peer::Swaks,
            TlsMode::StartTls,
            "LOGIN",
            swaks_starttls_auth,
        ),
        case(
            "swaks-tls-on-connect",
            Peer::Swaks,
            TlsMode::Implicit,
            "-",
            swaks_tls_on_connect,
        ),
        case(
            "swaks-tls-on-connect-auth-plain",
            Peer::Swaks,
            TlsMode::Implicit,
            "PLAIN",
            swaks_tls_on_connect_auth,
        ),
        case(
            "msmtp-starttls-auth-plain",
            Peer::Msmtp,
            TlsMode::StartTls,
            "PLAIN",
            msmtp_starttls,
        ),
        case(
            "msmtp-tls-auth-login",
            Peer::Msmtp,
            TlsMode::Implicit,
            "LOGIN",
            msmtp_implicit,
        ),
        case(
            "smtp-source-100-msgs-100-conns",
            Peer::SmtpSource,
            TlsMode::None,
            "-",
            smtp_source_sessions,
        ),
        case(
            "smtp-source-60-msgs-3-conns-3-rcpts",
            Peer::SmtpSource,
            TlsMode::None,
            "-",
            smtp_source_reuse,
        ),
    ]
}

/// What one delivered message must look like.
struct Expect<'a> {
    from: &'a str,
    rcpts: &'a [&'a str],
    /// RFC 3848 `with` keyword: ESMTP, ESMTPS (TLS), ESMTPSA (TLS + AUTH).
    protocol: &'a str,
}

impl Expect<'_> {
    /// Checks the trace fields the receiver prepended (RFC 5321 §4.4).
    fn check_trace(&self, file: &StoredFile) -> Result<()> {
        let name = file.path.display();
        let return_path = file.header("Return-Path").unwrap_or_default();
        ensure!(
            return_path == format!("<{}>", self.from),
            "{name}: Return-Path {return_path:?}, expected <{}>",
            self.from
        );
        let mut seen: Vec<String> = file
            .header("X-Original-To")
            .unwrap_or_default()
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        let mut want: Vec<String> = self.rcpts.iter().map(|r| r.to_string()).collect();
        seen.sort();
        want.sort();
        ensure!(
            seen == want,
            "{name}: recipients {seen:?}, expected {want:?}"
        );
        let received = file.header("Received").unwrap_or_default();
        ensure!(
            received.contains(&format!(" with {} ", self.protocol)),
            "{name}: Received: {received:?} does not say `with {}` (RFC 3848)",
            self.protocol
        );
        Ok(())
    }
}

/// Every stored file holds `expected` after the receiver's trace fields.
fn check_content(file: &StoredFile, expected: &[u8]) -> Result<()> {
    match file.prefix_before(expected) {
        Some(prefix) if prefix.starts_with("Return-Path:") => Ok(()),
        Some(prefix) => bail!(
            "{}: unexpected text before the message: {prefix:?}",
            file.path.display()
        ),
        None => bail!(
            "{}: the stored message differs from what the client sent ({} stored octets, {} sent; first difference near {:?})",
            file.path.display(),
            file.bytes.len(),
            expected.len(),
            first_difference(
                &file.normalized(),
                &crate::peers::normalize_newlines(expected)
            )
        ),
    }
}

/// Where the stored tail stops matching the expected text, for messages.
fn first_difference(stored: &[u8], expected: &[u8]) -> String {
    let common = stored
        .iter()
        .rev()
        .zip(expected.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let at = expected.len().saturating_sub(common);
    let from = at.saturating_sub(40);
    String::from_utf8_lossy(&expected[from..(at + 20).min(expected.len())]).into_owned()
}

/// Waits briefly for `count` messages (delivery is done before 250, but the
/// client may exit a moment before the receiver renames the file).
fn delivered(receiver: &mut Receiver, count: usize) -> Result<Vec<StoredFile>> {
    let got = crate::peers::poll_until(Duration::from_secs(5), || {
        receiver.messages().ok().filter(|m| m.len() >= count)
    });
    receiver.check_running()?;
    let messages = receiver.messages()?;
    ensure!(
        got.is_some() && messages.len() == count,
        "{} message(s) in the Maildir, expected {count}",
        messages.len()
    );
    Ok(messages)
}

/// The receiver's transcript shows `AUTH MECH` (smtplib's login() picks
/// PLAIN when offered; curl and msmtp are told which one to use).
fn check_mechanism(receiver: &mut Receiver, mech: &str) -> Result<()> {
    ensure!(
        receiver
            .stop_and_transcript()
            .contains(&format!("C: AUTH {mech}")),
        "no `AUTH {mech}` in the receiver's transcript"
    );
    Ok(())
}

/// A case's test message, written to `DIR/message.eml`.
fn message_file(dir: &Path, to: &[&str], subject: &str) -> Result<(Vec<u8>, std::path::PathBuf)> {
    let bytes = MessageSpec::new(FROM, to, subject).build();
    let path = dir.join("message.eml");
    std::fs::write(&path, &bytes)?;
    Ok((bytes, path))
}

fn run_client(
    dir: &Path,
    name: &str,
    cmd: &mut Command,
    stdin: Option<&Path>,
) -> Result<CommandOutput> {
    run_with_timeout(name, cmd, stdin, dir, CLIENT_TIMEOUT)?.success(name)
}

// --- Python smtplib -------------------------------------------------------

enum Api<'a> {
    Sendmail(&'a Path),
    SendMessage,
}

/// One run of smtplib_client.py.
struct Smtplib<'a> {
    port: u16,
    /// `plain`, `starttls` or `ssl`.
    mode: &'a str,
    auth: bool,
    api: Api<'a>,
    to: &'a [&'a str],
    /// Recipients the receiver must refuse (sendmail's refused dict).
    refused: &'a [&'a str],
    count: usize,
}

impl Smtplib<'_> {
    fn run(&self, ctx: &Ctx, dir: &Path) -> Result<()> {
        let script = dir.join("smtplib_client.py");
        std::fs::write(&script, SMTPLIB_CLIENT)?;
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .args([
                "--host",
                "localhost",
                "--port",
                &self.port.to_string(),
                "--mode",
                self.mode,
            ])
            .arg("--ca")
            .arg(&ctx.pki.ca_cert)
            .args(["--from", FROM, "--count", &self.count.to_string()])
            .arg("--out")
            .arg(dir.join("sent"));
        for r in self.to {
            cmd.args(["--to", r]);
        }
        for r in self.refused {
            cmd.args(["--to", r, "--refused", r]);
        }
        match self.api {
            Api::Sendmail(file) => cmd.args(["--api", "sendmail", "--message"]).arg(file),
            Api::SendMessage => cmd.args(["--api", "send_message"]),
        };
        if self.auth {
            cmd.args(["--user", USER]).env("SMTP_PASSWORD", PASSWORD);
        }
        run_client(dir, "smtplib", &mut cmd, None)?;
        Ok(())
    }
}

/// The message smtplib wrote as sent number `n`.
fn sent(dir: &Path, n: usize) -> Result<Vec<u8>> {
    let path = dir.join(format!("sent/sent-{n}.eml"));
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

fn smtplib_plain_sendmail(ctx: &Ctx, dir: &Path) -> Result<String> {
    let mut receiver = Receiver::start(ctx, dir, false)?;
    let to = ["alice@example.test", "bob@example.test"];
    let (bytes, file) = message_file(dir, &to, "smtplib sendmail, plain")?;
    // One recipient outside example.test: refused by RCPT (550), reported
    // by sendmail() in its dict, the others still get the message.
    Smtplib {
        port: receiver.smtp.port(),
        mode: "plain",
        auth: false,
        api: Api::Sendmail(&file),
        to: &to,
        refused: &["carol@elsewhere.invalid"],
        count: 3,
    }
    .run(ctx, dir)?;
    let expect = Expect {
        from: FROM,
        rcpts: &to,
        protocol: "ESMTP",
    };
    for stored in delivered(&mut receiver, 3)? {
        expect.check_trace(&stored)?;
        check_content(&stored, &bytes)?;
    }
    Ok("3 msgs in 1 session, 1 rcpt refused (550)".into())
}

fn smtplib_send_message(
    ctx: &Ctx,
    dir: &Path,
    port: impl Fn(&Receiver) -> u16,
    mode: &str,
) -> Result<String> {
    let mut receiver = Receiver::start(ctx, dir, true)?;
    let to = ["alice@example.test"];
    Smtplib {
        port: port(&receiver),
        mode,
        auth: true,
        api: Api::SendMessage,
        to: &to,
        refused: &[],
        count: 2,
    }
    .run(ctx, dir)?;
    let expect = Expect {
        from: FROM,
        rcpts: &to,
        protocol: "ESMTPSA",
    };
    for (i, stored) in delivered(&mut receiver, 2)?.iter().enumerate() {
        expect.check_trace(stored)?;
        check_content(stored, &sent(dir, i + 1)?)?;
        ensure!(stored.header("Bcc").is_none(), "Bcc was transmitted");
    }
    check_mechanism(&mut receiver, "PLAIN")?;
    Ok("2 msgs (email pkg, RFC 2047 subject, attachment), ESMTPSA".into())
}

fn smtplib_starttls_send_message(ctx: &Ctx, dir: &Path) -> Result<String> {
    smtplib_send_message(ctx, dir, |r| r.smtp.port(), "starttls")
}

fn smtplib_ssl_send_message(ctx: &Ctx, dir: &Path) -> Result<String> {
    smtplib_send_message(ctx, dir, |r| r.smtps.port(), "ssl")
}

fn smtplib_ssl_sendmail(ctx: &Ctx, dir: &Path) -> Result<String> {
    let mut receiver = Receiver::start(ctx, dir, true)?;
    let to = ["alice@example.test"];
    let (bytes, file) = message_file(dir, &to, "smtplib SMTP_SSL sendmail")?;
    Smtplib {
        port: receiver.smtps.port(),
        mode: "ssl",
        auth: true,
        api: Api::Sendmail(&file),
        to: &to,
        refused: &[],
        count: 2,
    }
    .run(ctx, dir)?;
    let expect = Expect {
        from: FROM,
        rcpts: &to,
        protocol: "ESMTPSA",
    };
    for stored in delivered(&mut receiver, 2)? {
        expect.check_trace(&stored)?;
        check_content(&stored, &bytes)?;
    }
    check_mechanism(&mut receiver, "PLAIN")?;
    Ok("2 msgs, ESMTPSA".into())
}

// --- curl -------------------------------------------------------------------

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
        .arg(&ctx.pki.ca_cert)
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

fn curl_plain(ctx: &Ctx, dir: &Path) -> Result<String> {
    curl_case(ctx, dir, TlsMode::None)
}

fn curl_starttls(ctx: &Ctx, dir: &Path) -> Result<String> {
    curl_case(ctx, dir, TlsMode::StartTls)
}

fn curl_smtps(ctx: &Ctx, dir: &Path) -> Result<String> {
    curl_case(ctx, dir, TlsMode::Implicit)
}

// --- swaks --------------------------------------------------------------------

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
            .arg(&ctx.pki.ca_cert);
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
            super::pipelined(
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

fn swaks_plain(ctx: &Ctx, dir: &Path) -> Result<String> {
    swaks_case(ctx, dir, TlsMode::None, None, false)
}

fn swaks_pipeline(ctx: &Ctx, dir: &Path) -> Result<String> {
    swaks_case(ctx, dir, TlsMode::None, None, true)
}

fn swaks_starttls(ctx: &Ctx, dir: &Path) -> Result<String> {
    swaks_case(ctx, dir, TlsMode::StartTls, None, false)
}

fn swaks_starttls_auth(ctx: &Ctx, dir: &Path) -> Result<String> {
    swaks_case(ctx, dir, TlsMode::StartTls, Some("LOGIN"), true)
}

fn swaks_tls_on_connect(ctx: &Ctx, dir: &Path) -> Result<String> {
    swaks_case(ctx, dir, TlsMode::Implicit, None, false)
}

fn swaks_tls_on_connect_auth(ctx: &Ctx, dir: &Path) -> Result<String> {
    swaks_case(ctx, dir, TlsMode::Implicit, Some("PLAIN"), false)
}

// --- msmtp ----------------------------------------------------------------------

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
    .arg(format!("--tls-trust-file={}", ctx.pki.ca_cert.display()))
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

fn msmtp_starttls(ctx: &Ctx, dir: &Path) -> Result<String> {
    msmtp_case(ctx, dir, TlsMode::StartTls, "PLAIN")
}

fn msmtp_implicit(ctx: &Ctx, dir: &Path) -> Result<String> {
    msmtp_case(ctx, dir, TlsMode::Implicit, "LOGIN")
}

// --- smtp-source --------------------------------------------------------------------

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

fn smtp_source_sessions(ctx: &Ctx, dir: &Path) -> Result<String> {
    let options = SourceOptions {
        sessions: 4,
        messages: 100,
        size: 2000,
        recipients: 1,
        from: "source@client.test".into(),
        to: "alice@example.test".into(),
        reuse_connection: false,
    };
    source_case(ctx, dir, options)
}

fn smtp_source_reuse(ctx: &Ctx, dir: &Path) -> Result<String> {
    let options = SourceOptions {
        sessions: 3,
        messages: 60,
        size: 20_000,
        recipients: 3,
        from: "source@client.test".into(),
        to: "rcpt@example.test".into(),
        reuse_connection: true,
    };
    source_case(ctx, dir, options)
}

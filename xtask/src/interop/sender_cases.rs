//! `smtp-send` talking to independent servers: aiosmtpd, a private Postfix
//! smtpd, Postfix's smtp-sink and Python's smtpd. Each case checks the
//! sender's exit code and per-recipient report, and what the server stored:
//! the content byte for byte (LF-normalised), the envelope, and whether the
//! session used TLS and AUTH as the server saw it.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context as _, Result, ensure};

use super::messages::{MessageSpec, TRANSPARENCY_LINES, pseudo_random};
use super::ours::{USER, args, smtp_send};
use super::{Case, Ctx, DELIVERY_TIMEOUT, Peer, TlsMode};
use crate::peers::{
    Aiosmtpd, AiosmtpdConfig, AiosmtpdTls, CommandOutput, PeerMessage, Postfix, PythonSmtpd,
    SmtpSink, StoredFile,
};

const FROM: &str = "sender@example.test";

/// The cases of this direction.
pub fn cases() -> Vec<Case> {
    let case = |name, peer, tls, auth, run| Case {
        name,
        peer,
        tls,
        auth,
        run,
    };
    let mut cases = vec![
        case(
            "aiosmtpd-plain-two-rcpts",
            Peer::Aiosmtpd,
            TlsMode::None,
            "-",
            aio_plain,
        ),
        case(
            "aiosmtpd-starttls-required-composed",
            Peer::Aiosmtpd,
            TlsMode::StartTls,
            "-",
            aio_starttls_composed,
        ),
        case(
            "aiosmtpd-starttls-auth",
            Peer::Aiosmtpd,
            TlsMode::StartTls,
            "PLAIN",
            aio_starttls_auth,
        ),
        case(
            "aiosmtpd-implicit-auth",
            Peer::Aiosmtpd,
            TlsMode::Implicit,
            "PLAIN",
            aio_implicit_auth,
        ),
        case(
            "aiosmtpd-opportunistic-offered",
            Peer::Aiosmtpd,
            TlsMode::Opportunistic,
            "-",
            aio_opportunistic_tls,
        ),
        case(
            "aiosmtpd-opportunistic-not-offered",
            Peer::Aiosmtpd,
            TlsMode::Opportunistic,
            "-",
            aio_opportunistic_plain,
        ),
        case(
            "aiosmtpd-starttls-not-offered-refused",
            Peer::Aiosmtpd,
            TlsMode::StartTls,
            "-",
            aio_starttls_missing,
        ),
        case(
            "aiosmtpd-auth-wrong-password",
            Peer::Aiosmtpd,
            TlsMode::StartTls,
            "PLAIN",
            aio_wrong_password,
        ),
        case(
            "postfix-starttls-two-rcpts",
            Peer::Postfix,
            TlsMode::StartTls,
            "-",
            postfix_starttls,
        ),
        case(
            "postfix-implicit",
            Peer::Postfix,
            TlsMode::Implicit,
            "-",
            postfix_implicit,
        ),
        case(
            "postfix-none",
            Peer::Postfix,
            TlsMode::None,
            "-",
            postfix_none,
        ),
        case(
            "postfix-opportunistic",
            Peer::Postfix,
            TlsMode::Opportunistic,
            "-",
            postfix_opportunistic,
        ),
        case(
            "postfix-starttls-chunking-1mib",
            Peer::Postfix,
            TlsMode::StartTls,
            "-",
            postfix_chunking,
        ),
        case(
            "postfix-relay-denied-rcpt",
            Peer::Postfix,
            TlsMode::StartTls,
            "-",
            postfix_relay_denied,
        ),
        case(
            "postfix-classic-helo",
            Peer::Postfix,
            TlsMode::None,
            "-",
            postfix_classic,
        ),
    ];
    if Postfix::sasl_available() {
        cases.push(case(
            "postfix-starttls-auth",
            Peer::Postfix,
            TlsMode::StartTls,
            "PLAIN",
            postfix_auth,
        ));
        cases.push(case(
            "postfix-implicit-auth",
            Peer::Postfix,
            TlsMode::Implicit,
            "PLAIN",
            postfix_implicit_auth,
        ));
    }
    cases.extend([
        case(
            "smtp-sink-3-msgs-pipelining",
            Peer::SmtpSink,
            TlsMode::None,
            "-",
            sink_pipelining,
        ),
        case(
            "smtp-sink-classic-helo",
            Peer::SmtpSink,
            TlsMode::None,
            "-",
            sink_classic,
        ),
        case(
            "python-smtpd-plain",
            Peer::PythonSmtpd,
            TlsMode::None,
            "-",
            smtpd_plain,
        ),
        case(
            "python-smtpd-opportunistic",
            Peer::PythonSmtpd,
            TlsMode::Opportunistic,
            "-",
            smtpd_opportunistic,
        ),
    ]);
    cases
}

/// Writes the case's test message (`MessageSpec`) to `DIR/message.eml`.
fn message(dir: &Path, spec: MessageSpec<'_>) -> Result<(Vec<u8>, OsString)> {
    let bytes = spec.build();
    let path = dir.join("message.eml");
    std::fs::write(&path, &bytes)?;
    Ok((bytes, path.into_os_string()))
}

/// One `smtp-send --message FILE` run.
struct Send<'a> {
    port: u16,
    /// `--tls` mode.
    tls: &'a str,
    to: &'a [&'a str],
    extra: &'a [&'a str],
    auth: bool,
}

impl<'a> Send<'a> {
    fn new(port: u16, tls: &'a str, to: &'a [&'a str]) -> Send<'a> {
        Send {
            port,
            tls,
            to,
            extra: &[],
            auth: false,
        }
    }

    fn extra(mut self, extra: &'a [&'a str]) -> Send<'a> {
        self.extra = extra;
        self
    }

    fn auth(mut self, auth: bool) -> Send<'a> {
        self.auth = auth;
        self
    }

    /// `--server 127.0.0.1:PORT --tls MODE --from FROM --to R... [extra] --message FILE`.
    fn run(&self, ctx: &Ctx, dir: &Path, file: &OsString) -> Result<CommandOutput> {
        let mut a = args([
            "--server".to_string(),
            format!("127.0.0.1:{}", self.port),
            "--tls".into(),
            self.tls.into(),
            "--from".into(),
            FROM.into(),
        ]);
        for r in self.to {
            a.extend(args(["--to", r]));
        }
        a.extend(args(self.extra.iter().copied()));
        a.extend([OsString::from("--message"), file.clone()]);
        smtp_send(ctx, dir, "smtp-send", &a, self.auth)
    }
}

/// Exit 0 and one `accepted <rcpt>` line per recipient.
fn check_accepted(out: CommandOutput, to: &[&str]) -> Result<CommandOutput> {
    let out = out.success("smtp-send")?;
    for r in to {
        ensure!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("accepted") && l.contains(&format!("<{r}>"))),
            "no `accepted <{r}>` line in: {}",
            out.stdout
        );
    }
    Ok(out)
}

/// The stored file is the message, modulo line ends (the peer added nothing
/// or only trace fields before it).
fn check_same(file: &StoredFile, expected: &[u8]) -> Result<()> {
    ensure!(
        file.ends_with_message(expected),
        "{}: stored {} octets that do not end with the {} sent",
        file.path.display(),
        file.bytes.len(),
        expected.len()
    );
    Ok(())
}

/// Envelope and session as the Python peer recorded them.
fn check_envelope(m: &PeerMessage, to: &[&str], tls: bool, login: Option<&str>) -> Result<()> {
    let e = &m.envelope;
    ensure!(e.mail_from == FROM, "MAIL FROM {:?}", e.mail_from);
    ensure!(e.rcpt_to == to, "RCPT TO {:?}, expected {to:?}", e.rcpt_to);
    ensure!(
        e.tls.is_some() == tls,
        "the peer saw TLS {:?}, expected {}",
        e.tls,
        if tls { "TLS" } else { "none" }
    );
    ensure!(
        e.login.as_deref() == login,
        "the peer saw login {:?}, expected {login:?}",
        e.login
    );
    Ok(())
}

// --- aiosmtpd ---------------------------------------------------------------------

fn aio_config(ctx: &Ctx, tls: AiosmtpdTls) -> AiosmtpdConfig {
    match tls {
        AiosmtpdTls::Plain => AiosmtpdConfig::plain(),
        _ => AiosmtpdConfig::tls(tls, &ctx.pki.server_cert, &ctx.pki.server_key),
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

fn aio_plain(ctx: &Ctx, dir: &Path) -> Result<String> {
    aio_case(
        ctx,
        dir,
        AiosmtpdConfig::plain(),
        "none",
        &["alice@example.test", "bob@example.test"],
        false,
    )
}

fn aio_starttls_auth(ctx: &Ctx, dir: &Path) -> Result<String> {
    let config =
        aio_config(ctx, AiosmtpdTls::StartTls { required: true }).user(USER, super::ours::PASSWORD);
    aio_case(ctx, dir, config, "starttls", &["alice@example.test"], true)
}

fn aio_implicit_auth(ctx: &Ctx, dir: &Path) -> Result<String> {
    let config = aio_config(ctx, AiosmtpdTls::Implicit).user(USER, super::ours::PASSWORD);
    aio_case(ctx, dir, config, "implicit", &["alice@example.test"], true)
}

fn aio_opportunistic_tls(ctx: &Ctx, dir: &Path) -> Result<String> {
    aio_case(
        ctx,
        dir,
        aio_config(ctx, AiosmtpdTls::StartTls { required: false }),
        "opportunistic",
        &["alice@example.test"],
        false,
    )
}

fn aio_opportunistic_plain(ctx: &Ctx, dir: &Path) -> Result<String> {
    aio_case(
        ctx,
        dir,
        AiosmtpdConfig::plain(),
        "opportunistic",
        &["alice@example.test"],
        false,
    )
}

/// A message composed by smtp-send (smtp-mime) from options, checked by
/// parsing what aiosmtpd stored.
fn aio_starttls_composed(ctx: &Ctx, dir: &Path) -> Result<String> {
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
fn aio_starttls_missing(ctx: &Ctx, dir: &Path) -> Result<String> {
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
fn aio_wrong_password(ctx: &Ctx, dir: &Path) -> Result<String> {
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

// --- Postfix smtpd ----------------------------------------------------------------------

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
    let stored = postfix_delivered(postfix, to)?;
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

fn postfix_starttls(ctx: &Ctx, dir: &Path) -> Result<String> {
    postfix_tls_case(
        ctx,
        dir,
        "starttls",
        &["pf-starttls-1@example.test", "pf-starttls-2@example.test"],
    )
}

fn postfix_implicit(ctx: &Ctx, dir: &Path) -> Result<String> {
    postfix_tls_case(ctx, dir, "implicit", &["pf-implicit@example.test"])
}

fn postfix_none(ctx: &Ctx, dir: &Path) -> Result<String> {
    postfix_tls_case(ctx, dir, "none", &["pf-none@example.test"])
}

fn postfix_opportunistic(ctx: &Ctx, dir: &Path) -> Result<String> {
    postfix_tls_case(
        ctx,
        dir,
        "opportunistic",
        &["pf-opportunistic@example.test"],
    )
}

/// CHUNKING (RFC 3030): BDAT instead of DATA, no dot-stuffing on the wire.
fn postfix_chunking(ctx: &Ctx, dir: &Path) -> Result<String> {
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
fn postfix_relay_denied(ctx: &Ctx, dir: &Path) -> Result<String> {
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
    let stored = postfix_delivered(postfix, &[good])?;
    check_same(&stored[0], &bytes)?;
    Ok("554 5.7.1 reported per recipient, other one delivered".into())
}

/// `--classic`: HELO and no extensions (RFC 821): Postfix records `with SMTP`.
fn postfix_classic(ctx: &Ctx, dir: &Path) -> Result<String> {
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

fn postfix_auth(ctx: &Ctx, dir: &Path) -> Result<String> {
    postfix_auth_case(ctx, dir, "starttls", "pf-auth@example.test")
}

fn postfix_implicit_auth(ctx: &Ctx, dir: &Path) -> Result<String> {
    postfix_auth_case(ctx, dir, "implicit", "pf-implicit-auth@example.test")
}

// --- smtp-sink -----------------------------------------------------------------------------

fn sink_case(
    ctx: &Ctx,
    dir: &Path,
    count: usize,
    extra: &[&str],
) -> Result<(Vec<PeerMessage>, Vec<CommandOutput>)> {
    let sink = SmtpSink::start(&[])?;
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
fn sink_pipelining(ctx: &Ctx, dir: &Path) -> Result<String> {
    let (dumps, outs) = sink_case(ctx, dir, 3, &[])?;
    ensure!(
        outs.iter().all(|o| o.stderr.contains("S: 250 2.0.0")),
        "no 250 2.0.0 after the data"
    );
    // RFC 2920 §3.1: MAIL, both RCPTs and DATA in one group.
    let group = ["MAIL FROM", "RCPT TO", "RCPT TO", "DATA"];
    ensure!(
        outs.iter()
            .all(|o| super::pipelined(&o.stderr, &["C: "], &group)),
        "smtp-send did not pipeline MAIL/RCPT/RCPT/DATA although smtp-sink offers PIPELINING"
    );
    Ok(format!(
        "{} transactions, 2 rcpts each, pipelined",
        dumps.len()
    ))
}

fn sink_classic(ctx: &Ctx, dir: &Path) -> Result<String> {
    let (dumps, outs) = sink_case(ctx, dir, 1, &["--classic"])?;
    ensure!(
        outs[0].stderr.contains("C: HELO"),
        "no HELO in the transcript"
    );
    let proto = dumps[0].file.header("X-Client-Proto").unwrap_or_default();
    ensure!(proto == "SMTP", "X-Client-Proto {proto:?}, expected SMTP");
    Ok("HELO, X-Client-Proto: SMTP".into())
}

// --- Python smtpd ----------------------------------------------------------------------------

fn smtpd_case(ctx: &Ctx, dir: &Path, mode: &str) -> Result<String> {
    let peer = PythonSmtpd::start()?;
    let to = ["alice@example.test", "bob@example.test"];
    let (bytes, file) = message(
        dir,
        MessageSpec::new(FROM, &to, &format!("to smtpd, {mode}")),
    )?;
    check_accepted(
        Send::new(peer.addr().port(), mode, &to).run(ctx, dir, &file)?,
        &to,
    )?;
    let stored = peer.wait_for_messages(1, DELIVERY_TIMEOUT)?;
    // smtpd joins the data lines with LF and drops the last line end (the
    // CRLF before `.` that RFC 5321 §4.1.1.4 counts as part of the message).
    check_same(
        &stored[0].file,
        bytes.strip_suffix(b"\r\n").unwrap_or(&bytes),
    )?;
    check_envelope(&stored[0], &to, false, None)?;
    Ok("stored intact (LF-normalised), plain".into())
}

fn smtpd_plain(ctx: &Ctx, dir: &Path) -> Result<String> {
    smtpd_case(ctx, dir, "none")
}

fn smtpd_opportunistic(ctx: &Ctx, dir: &Path) -> Result<String> {
    smtpd_case(ctx, dir, "opportunistic")
}

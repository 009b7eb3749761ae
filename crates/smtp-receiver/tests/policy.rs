//! The content policies (docs/receiver.md, "Policy") against clients
//! nobody here wrote, over loopback sockets, with the `smtp-receive`
//! binary as users run it: by default (liberal, as Postfix 3.9+) and with
//! `--strict`. Python's smtplib and curl send bare-LF lines, msmtp sends
//! UTF-8 addresses without SMTPUTF8, a raw client sends a 1500-octet line.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Client, code, files, strip_trace};
use smtp_peers::{CommandOutput, Peer, run_with_timeout};
use smtp_testkit::bins::RunningReceiver;
use tempfile::TempDir;
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_smtp-receive");
/// How long one client may take (each finishes in well under a second).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
/// `Subject: x\n\nhi\n`, as smtplib and curl send it, stored with LF line
/// ends: the CRLF that ends the data is the last line end.
const LF_MESSAGE_STORED: &[u8] = b"Subject: x\n\nhi\n\n";

/// `smtp-receive` storing into a fresh Maildir; stopped when dropped.
struct Receive {
    running: RunningReceiver,
    dir: TempDir,
}

impl Receive {
    fn start(strict: bool) -> Receive {
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<OsString> = [
            "--listen",
            "127.0.0.1:0",
            "--hostname",
            "mx.test",
            "--accept-any-recipient",
            "--maildir",
        ]
        .map(OsString::from)
        .to_vec();
        args.push(dir.path().join("mail").into());
        if strict {
            args.push("--strict".into());
        }
        let running = RunningReceiver::start(Path::new(BIN), &args, dir.path()).unwrap();
        Receive { running, dir }
    }

    fn port(&self) -> u16 {
        self.running.plain().unwrap().port()
    }

    /// The stored files, whole.
    fn files(&self) -> Vec<Vec<u8>> {
        files(&self.dir.path().join("mail/new"))
            .iter()
            .map(|path| std::fs::read(path).unwrap())
            .collect()
    }

    /// Runs a client to its end (its output goes to the run's folder).
    fn run(&self, name: &str, command: &mut Command, stdin: Option<&Path>) -> CommandOutput {
        run_with_timeout(name, command, stdin, self.dir.path(), CLIENT_TIMEOUT).unwrap()
    }
}

/// True when `peer` can run here; otherwise says so on stderr.
fn usable(peer: Peer) -> bool {
    match peer.usable() {
        Ok(_) => true,
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

const SMTPLIB: &str = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.example", timeout=10)
try:
    s.sendmail("alice@client.example", ["bob@example.org"], b"Subject: x\n\nhi\n")
    print("accepted")
except smtplib.SMTPDataError as e:
    print("refused", e.smtp_code, e.smtp_error.decode())
s.quit()
"#;

/// The issue's first reproduction: bytes with LF line ends, very common in
/// scripts, were refused with `550 5.6.11`.
#[tokio::test(flavor = "multi_thread")]
async fn smtplib_lf_bytes_are_accepted_by_default_and_refused_when_strict() {
    if !usable(Peer::Smtplib) {
        return;
    }
    for (strict, said) in [
        (false, "accepted\n"),
        (
            true,
            "refused 550 5.6.11 Message refused: bare CR/LF not allowed\n",
        ),
    ] {
        let receive = tokio::task::block_in_place(|| Receive::start(strict));
        let port = receive.port().to_string();
        let out = tokio::task::block_in_place(|| {
            let mut python = Command::new("python3");
            python.args(["-c", SMTPLIB, &port]);
            receive.run("smtplib", &mut python, None)
        });
        assert!(out.status.success(), "{}", out.both());
        assert_eq!(out.stdout, said, "strict={strict}");
        let stored = receive.files();
        if strict {
            assert!(stored.is_empty(), "a refused message is never stored");
        } else {
            assert_eq!(stored.len(), 1);
            assert_eq!(strip_trace(&stored[0]), LF_MESSAGE_STORED);
        }
    }
}

/// `curl --upload-file lf.eml`: curl sends the file as it is (bare LFs),
/// then CRLF . CRLF. It used to fail with `(8) Weird server reply`.
#[tokio::test(flavor = "multi_thread")]
async fn curl_upload_of_an_lf_file_is_accepted_by_default_and_refused_when_strict() {
    if !usable(Peer::Curl) {
        return;
    }
    for strict in [false, true] {
        let receive = tokio::task::block_in_place(|| Receive::start(strict));
        let file = receive.dir.path().join("lf.eml");
        std::fs::write(&file, "Subject: x\n\nhi\n").unwrap();
        let url = format!("smtp://127.0.0.1:{}/client.example", receive.port());
        let out = tokio::task::block_in_place(|| {
            let mut curl = Command::new("curl");
            curl.args(["-sS", "--max-time", "10", &url])
                .args(["--mail-from", "alice@client.example"])
                .args(["--mail-rcpt", "bob@example.org", "--upload-file"])
                .arg(&file);
            receive.run("curl", &mut curl, None)
        });
        let stored = receive.files();
        if strict {
            assert!(!out.status.success(), "{}", out.both());
            assert!(stored.is_empty());
        } else {
            assert!(out.status.success(), "curl exits 0: {}", out.both());
            assert_eq!(stored.len(), 1);
            assert_eq!(strip_trace(&stored[0]), LF_MESSAGE_STORED);
        }
    }
}

/// msmtp never sends the SMTPUTF8 parameter. By default the message is
/// accepted and the `Received:` line says what happened; `--strict` gives
/// RFC 6531 §3.4's `553 5.6.7`.
#[tokio::test(flavor = "multi_thread")]
async fn msmtp_utf8_addresses_without_smtputf8_are_accepted_by_default_and_refused_when_strict() {
    if !usable(Peer::Msmtp) {
        return;
    }
    for strict in [false, true] {
        let receive = tokio::task::block_in_place(|| Receive::start(strict));
        let message = receive.dir.path().join("message.txt");
        std::fs::write(&message, "Subject: utf\n\nhi\n").unwrap();
        let port = format!("--port={}", receive.port());
        let out = tokio::task::block_in_place(|| {
            let mut msmtp = Command::new("msmtp");
            msmtp
                .args(["--host=127.0.0.1", &port, "--domain=client.example"])
                .args(["--from=jörg@client.example", "bö@example.org"]);
            receive.run("msmtp", &mut msmtp, Some(&message))
        });
        let stored = receive.files();
        if strict {
            assert!(!out.status.success(), "{}", out.both());
            assert!(
                out.stderr
                    .contains("553 5.6.7 Non-ASCII address requires SMTPUTF8"),
                "{}",
                out.both()
            );
            assert!(stored.is_empty());
        } else {
            assert!(out.status.success(), "{}", out.both());
            assert_eq!(stored.len(), 1);
            let text = String::from_utf8(stored[0].clone()).unwrap();
            assert!(
                text.starts_with("Return-Path: <jörg@client.example>\n"),
                "{text}"
            );
            assert!(
                text.contains("\tby mx.test with ESMTP (UTF-8 address without SMTPUTF8) id "),
                "{text}"
            );
            assert!(text.contains("\tfor <bö@example.org>;\n"), "{text}");
        }
    }
}

/// A text line of 1500 octets: kept whole by default (RFC 5321 §4.5.3.1
/// asks to avoid such limits), `550 5.6.0` with `--strict` (§4.5.3.1.6).
#[tokio::test(flavor = "multi_thread")]
async fn a_1500_octet_line_is_kept_by_default_and_refused_when_strict() {
    let line = "L".repeat(1500);
    for strict in [false, true] {
        let receive = tokio::task::block_in_place(|| Receive::start(strict));
        let mut c = Client::new(
            TcpStream::connect(("127.0.0.1", receive.port()))
                .await
                .unwrap(),
        );
        assert_eq!(code(&c.reply().await), 220);
        for command in [
            "EHLO client.example",
            "MAIL FROM:<alice@client.example>",
            "RCPT TO:<bob@example.org>",
            "DATA",
        ] {
            assert!(code(&c.cmd(command).await) < 400, "{command}");
        }
        let reply = c.cmd(&format!("Subject: long\r\n\r\n{line}\r\n.")).await;
        let stored = receive.files();
        if strict {
            assert!(
                reply.starts_with("550 5.6.0 Message refused: text line longer than 1000 octets"),
                "{reply}"
            );
            assert!(stored.is_empty());
        } else {
            assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
            assert_eq!(
                strip_trace(&stored[0]),
                format!("Subject: long\n\n{line}\n").as_bytes()
            );
        }
    }
}

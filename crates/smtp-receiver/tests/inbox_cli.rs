//! `smtp-receive inbox`: the preset's listener lines, its own certificate
//! (the CA written where it says), Python's smtplib and smtp-send
//! delivering, and the npm Mailpit client `mailpit-api` used unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod inbox_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-receive");

/// The running preset; killed when dropped.
struct Preset {
    child: Child,
    smtp: String,
    http: String,
    ca: PathBuf,
    maildir: PathBuf,
}

impl Drop for Preset {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_preset(maildir: Option<&Path>) -> Preset {
    let mut command = Command::new(BIN);
    command.args(["inbox", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    if let Some(dir) = maildir {
        command.arg("--maildir").arg(dir);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().unwrap().unwrap();
    let maildir = PathBuf::from(next().strip_prefix("maildir: ").unwrap());
    let ca = PathBuf::from(next().strip_prefix("CA certificate: ").unwrap());
    let smtp = next();
    let http = next();
    let addr = |line: &str, kind: &str| {
        let rest = line.strip_prefix("listening on ").unwrap();
        assert!(rest.ends_with(kind), "{line}");
        rest.split(' ').next().unwrap().to_string()
    };
    Preset {
        smtp: addr(&smtp, "(smtp, starttls)"),
        http: addr(&http, "(http)"),
        child,
        ca,
        maildir,
    }
}

fn send_with_smtplib(preset: &Preset, subject: &str) {
    let (host, port) = preset.smtp.rsplit_once(':').unwrap();
    let ca = preset.ca.to_string_lossy();
    let out = inbox_support::python(inbox_support::SMTPLIB_SEND, &[host, port, &ca, subject]);
    assert_eq!(out.trim(), "sent");
}

fn get(preset: &Preset, path: &str) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("http://{}{path}", preset.http);
        reqwest::get(url).await.unwrap().json().await.unwrap()
    })
}

#[test]
fn the_preset_names_its_maildir_and_ca_and_takes_mail() {
    let preset = start_preset(None);
    assert!(preset.maildir.join("new").is_dir());
    assert!(
        std::fs::read_to_string(&preset.ca)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    send_with_smtplib(&preset, "via the preset");
    let list = get(&preset, "/api/v1/messages");
    assert_eq!(list["messages"][0]["Subject"], "via the preset");
    assert_eq!(
        list["messages"][0]["Username"], "tester",
        "any AUTH is accepted and shown"
    );
    let maildir = preset.maildir.clone();
    drop(preset); // SIGKILL: the temporary Maildir stays; remove it here
    let _ = std::fs::remove_dir_all(maildir);
}

#[test]
fn smtp_send_delivers_into_the_inbox() {
    let bins = match smtp_testkit::bins::Bins::for_tests() {
        Ok(bins) => bins,
        Err(error) => panic!("cannot build smtp-send: {error}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let preset = start_preset(Some(dir.path()));
    let out = Command::new(&bins.send)
        .args([
            "--server",
            &preset.smtp,
            "--from",
            "sender@example.com",
            "--to",
            "rcpt@example.org",
        ])
        .args([
            "--subject",
            "from smtp-send",
            "--text",
            "hello from smtp-send",
        ])
        .args(["--servername", "localhost", "--ca"])
        .arg(&preset.ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msg = get(&preset, "/api/v1/message/latest");
    assert_eq!(msg["Subject"], "from smtp-send");
    assert_eq!(
        msg["Envelope"]["To"],
        serde_json::json!(["rcpt@example.org"])
    );
    assert!(
        msg["Text"]
            .as_str()
            .unwrap()
            .contains("hello from smtp-send")
    );
}

#[test]
fn the_npm_mailpit_client_works_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let module = root.join(".peers/node/node_modules/mailpit-api");
    if !module.join("package.json").is_file()
        || Command::new("node").arg("--version").output().is_err()
    {
        eprintln!("skipped: mailpit-api (npm) not installed (run .ci/install-peers)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let preset = start_preset(Some(dir.path()));
    send_with_smtplib(&preset, "Welcome aboard");
    send_with_smtplib(&preset, "Second");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/mailpit_api.test.cjs");
    let out = Command::new("node")
        .arg("--test")
        .arg(&script)
        .env("MAILPIT_URL", format!("http://{}", preset.http))
        .env("MAILPIT_API", module.canonicalize().unwrap())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("# pass 1"), "{report}");
}

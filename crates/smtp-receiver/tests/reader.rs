//! A real mail reader opens the Maildir that `smtp-receive` writes: s-nail
//! prints a multipart message (built and sent by Python's `email` and
//! smtplib) with its attachments, and `smtp-receive show --save` gives back
//! each attachment byte for byte. With CRLF files s-nail could not find
//! the multipart boundary at all; Maildir files hold LF line ends, as
//! Postfix and Dovecot write them (docs/receiver.md, "Storage format").
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::files;
use smtp_peers::{Peer, run_with_timeout};
use smtp_testkit::bins::RunningReceiver;

const BIN: &str = env!("CARGO_BIN_EXE_smtp-receive");
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The attachments: binary (every octet value, CR and LF among them), and
/// text with LF lines, one of them starting with a dot.
const NOTES: &str = "line one\nline two\n.dotted line\n";

fn binary() -> Vec<u8> {
    (0..=255u8).cycle().take(4096).collect()
}

const SEND: &str = r#"
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "Alice <alice@client.example>"
m["To"] = "Bob <bob@example.org>"
m["Subject"] = "with attachments"
m.set_content("Hello Bob,\n\nthe files.\n")
m.add_attachment(bytes(b % 256 for b in range(4096)), maintype="application",
                 subtype="octet-stream", filename="data.bin")
m.add_attachment(sys.argv[2], filename="notes.txt")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.example", timeout=10) as s:
    s.send_message(m)
"#;

#[test]
fn s_nail_reads_the_maildir_and_saved_attachments_are_exact() {
    let Some(s_nail) = s_nail() else {
        return;
    };
    if let Err(why) = Peer::Smtplib.usable() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let receive = RunningReceiver::start(
        Path::new(BIN),
        [
            "--listen",
            "127.0.0.1:0",
            "--domain",
            "example.org",
            "--maildir",
            maildir.to_str().unwrap(),
        ],
        dir.path(),
    )
    .unwrap();
    let port = receive.plain().unwrap().port().to_string();
    let run = |name: &str, command: &mut Command, stdin: Option<&Path>| {
        let out = run_with_timeout(name, command, stdin, dir.path(), CLIENT_TIMEOUT).unwrap();
        assert!(out.status.success(), "{name}: {}", out.both());
        out
    };
    run(
        "smtplib",
        Command::new("python3").args(["-c", SEND, &port, NOTES]),
        None,
    );
    drop(receive);

    // s-nail, as a person would read it; `-:/` loads no resource file.
    let commands = dir.path().join("commands");
    std::fs::write(&commands, "p 1\n").unwrap();
    let url = format!("maildir://{}", maildir.display());
    let out = run(
        "s-nail",
        Command::new(s_nail).args(["-:/", "-N", "-R", "-f", &url]),
        Some(&commands),
    );
    let shown = &out.stdout;
    // The three parts found, numbered as s-nail numbers MIME parts.
    for part in [
        "Subject: with attachments\n",
        "[-- #1.1 ",
        "Hello Bob,\n\nthe files.\n",
        "[-- #1.2 ",
        "filename=\"data.bin\"",
        "[-- #1.3 ",
        "filename=\"notes.txt\"",
        "line one\nline two\n.dotted line\n",
    ] {
        assert!(
            shown.contains(part),
            "s-nail shows no {part:?}:\n{}",
            out.both()
        );
    }
    for trouble in [
        "Missing multipart boundary",
        "Malformed message",
        "Not a header line",
        "\u{240d}", // how s-nail shows a CR
    ] {
        assert!(!out.both().contains(trouble), "{trouble}:\n{}", out.both());
    }

    // The queue id starts the file name.
    let stored = files(&maildir.join("new"));
    assert_eq!(stored.len(), 1);
    let name = stored[0].file_name().unwrap().to_str().unwrap();
    let id = name.split('.').next().unwrap();
    for (attachment, sent) in [
        ("data.bin", binary()),
        ("notes.txt", NOTES.as_bytes().to_vec()),
    ] {
        let saved = dir.path().join(format!("saved-{attachment}"));
        run(
            "show",
            Command::new(BIN)
                .args(["show", "--maildir"])
                .arg(&maildir)
                .args([id, "--save", attachment, "--out"])
                .arg(&saved),
            None,
        );
        assert_eq!(std::fs::read(&saved).unwrap(), sent, "{attachment}");
    }
}

/// s-nail's path, or `None` after saying that the test is skipped.
fn s_nail() -> Option<&'static str> {
    const S_NAIL: &str = "s-nail";
    let found = Command::new(S_NAIL)
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: s-nail not installed (run .ci/install-peers)");
    }
    found.then_some(S_NAIL)
}

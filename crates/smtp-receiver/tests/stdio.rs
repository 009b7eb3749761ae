//! `smtp-receive --stdio`: one session on standard input and output, as
//! inetd, systemd socket activation and `swaks --pipe` start it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use smtp_peers::Peer;

const BIN: &str = env!("CARGO_BIN_EXE_smtp-receive");

fn stored(maildir: &Path) -> Vec<String> {
    std::fs::read_dir(maildir.join("new"))
        .map(|dir| {
            dir.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_session_typed_on_standard_input_is_answered_on_standard_output() {
    let mail = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--stdio",
            "--accept-any-recipient",
            "--hostname",
            "mx.stdio.test",
        ])
        .arg("--maildir")
        .arg(mail.path())
        // ucspi-tcp's tcpserver says who the client is.
        .env("TCPREMOTEIP", "192.0.2.9")
        .env("TCPREMOTEPORT", "40000")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Pipelined, as a script would write it; the server answers in order.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n\
              Subject: typed\r\n\r\nover a pipe\r\n.\r\nQUIT\r\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let codes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .map(|l| &l[..3])
        .collect();
    assert_eq!(
        codes,
        ["220", "250", "250", "250", "354", "250", "221"],
        "{stdout}"
    );
    // Only SMTP on stdout: no "listening on" line for scripts to trip on.
    assert!(stdout.starts_with("220 mx.stdio.test "), "{stdout}");
    let messages = stored(mail.path());
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].contains("from client.test ([192.0.2.9])"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains("\n\nover a pipe\n"), "{}", messages[0]);
}

#[test]
fn the_end_of_input_ends_the_session_without_a_message() {
    let mail = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--stdio", "--accept-any-recipient"])
        .arg("--maildir")
        .arg(mail.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The client goes away in the middle of the data.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"HELO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: cut\r\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("354 "));
    assert!(
        stored(mail.path()).is_empty(),
        "a cut message is not stored"
    );
}

#[test]
fn swaks_pipe_delivers_through_stdio() {
    if let Err(why) = Peer::Swaks.version() {
        eprintln!("skipped: {why}");
        return;
    }
    let mail = tempfile::tempdir().unwrap();
    let command = format!(
        "{BIN} --stdio --accept-any-recipient --maildir {}",
        mail.path().display()
    );
    let out = Command::new("swaks")
        .args(["--pipe", &command])
        .args(["--from", "a@x.test", "--to", "b@y.test"])
        .args(["--header", "Subject: through swaks --pipe"])
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{transcript}");
    assert!(
        transcript.contains("<-  250 2.0.0 Ok: queued as"),
        "{transcript}"
    );
    let messages = stored(mail.path());
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("Subject: through swaks --pipe"));
}

#[test]
fn typing_in_a_terminal_ends_each_line_at_enter() {
    // `script` (util-linux) runs the server on a pseudo-terminal: its stdin
    // is a terminal, and what we write arrives as typed keys, Enter as LF.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: script (util-linux) not installed");
        return;
    }
    let mut child = Command::new("script")
        .args(["-qec", &format!("{BIN} --stdio --sink"), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"HELO me\nMAIL FROM:<a@x.test>\nQUIT\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    // Answered as commands, not refused as bare-LF lines.
    for reply in ["250 ", "250 2.1.0", "221 2.0.0"] {
        assert!(screen.contains(reply), "{screen}");
    }
    assert!(!screen.contains("500 "), "{screen}");
}

#[test]
fn explain_prints_each_session_with_a_note_per_line() {
    let mut child = Command::new(BIN)
        .args(["--stdio", "--sink", "--accept-any-recipient", "--explain"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"EHLO me\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nQUIT\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let explained = String::from_utf8_lossy(&out.stderr);
    assert!(
        explained.contains("--- session 127.0.0.1:0 (smtp) ---"),
        "{explained}"
    );
    let mail = explained
        .lines()
        .find(|l| l.contains("C: MAIL FROM:<a@x.test>"))
        .unwrap_or_else(|| panic!("{explained}"));
    assert!(mail.contains("# RFC 5321 §4.1.1.2:"), "{mail}");
    assert!(explained.contains("S: 221 2.0.0"), "{explained}");
    // Redirected: no colour codes.
    assert!(!explained.contains('\x1b'), "{explained}");
}

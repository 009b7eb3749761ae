//! `smtp-conform judge` on what `smtp-receive -v` recorded for real clients:
//! Python's smtplib (nothing to say), curl (8-bit text without
//! BODY=8BITMIME), msmtp (a refused recipient, then no QUIT).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use smtp_testkit::bins::{Bins, RunningReceiver};

/// A client program: whether it is there, else a visible skip.
fn installed(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("skipped: {program} not installed (run .ci/install-peers)");
    }
    found
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn judge(file: &Path) -> (Option<i32>, String) {
    let out = run(Command::new(env!("CARGO_BIN_EXE_smtp-conform"))
        .arg("judge")
        .arg(file));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code(),
        stdout + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn judges_what_smtp_receive_recorded_for_real_clients() {
    let clients: Vec<&str> = ["python3", "curl", "msmtp"]
        .into_iter()
        .filter(|p| installed(p))
        .collect();
    if clients.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bins = Bins::for_tests().unwrap();
    let maildir = dir.path().join("maildir");
    let mut receiver = RunningReceiver::start(
        &bins.receive,
        [
            "-v".as_ref(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--domain".as_ref(),
            "example.test".as_ref(),
            "--maildir".as_ref(),
            maildir.as_os_str(),
        ],
        dir.path(),
    )
    .unwrap();
    let addr = receiver.plain().unwrap();
    let message = dir.path().join("message.eml");
    std::fs::write(
        &message,
        "Subject: Grüße\r\n\r\nGrüße aus Köln\r\n.a dot\r\n",
    )
    .unwrap();
    // (client, what the judge must say about its session)
    let mut expected: Vec<(&str, &str)> = Vec::new();
    for client in &clients {
        let out = match *client {
            "python3" => {
                let script = format!(
                    "import smtplib\ns = smtplib.SMTP('127.0.0.1', {port}, timeout=10)\n\
                     s.sendmail('a@example.test', ['b@example.test'], 'Subject: hi\\r\\n\\r\\n.dotted\\r\\nbye\\r\\n')\n\
                     s.quit()\n",
                    port = addr.port()
                );
                expected.push(("python3", "badge: conforming"));
                run(Command::new("python3").arg("-c").arg(script))
            }
            "curl" => {
                expected.push(("curl", "✗ client.8bit-data (MUST"));
                run(Command::new("curl")
                    .arg("-sS")
                    .arg(format!("smtp://{addr}"))
                    .args(["--mail-from", "a@example.test"])
                    .args(["--mail-rcpt", "b@example.test", "-T"])
                    .arg(&message))
            }
            _ => {
                expected.push(("msmtp", "✗ client.quit (MUST"));
                // The recipient is refused: msmtp gives up.
                run(Command::new("msmtp")
                    .arg("--host=127.0.0.1")
                    .arg(format!("--port={}", addr.port()))
                    .args(["--from=a@example.test", "c@elsewhere.test"])
                    .stdin(std::fs::File::open(&message).unwrap()))
            }
        };
        let refused = *client == "msmtp";
        assert_eq!(out.status.success(), !refused, "{client}: {out:?}");
    }
    // Each transcript is printed when its session ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.process().stderr().matches("--- session").count() < clients.len() {
        assert!(Instant::now() < deadline, "{}", receiver.process().stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    let recorded = receiver.process().stderr();
    drop(receiver);
    let file = dir.path().join("sessions.txt");
    std::fs::write(&file, &recorded).unwrap();

    let (status, out) = judge(&file);
    let sessions: Vec<&str> = out.split("== session ").skip(1).collect();
    assert_eq!(sessions.len(), clients.len(), "{out}");
    for ((client, finding), shown) in expected.iter().zip(&sessions) {
        assert!(
            shown.contains(finding),
            "{client}: {finding:?} expected in\n{shown}"
        );
        assert!(
            shown.contains("# RFC 5321 §4.1.1.1: "),
            "{client}: notes\n{shown}"
        );
    }
    let violations = expected.iter().any(|(_, f)| f.starts_with('✗'));
    assert_eq!(status, Some(if violations { 1 } else { 0 }), "{out}");

    // The clean session alone passes.
    if let Some(at) = recorded.find("--- session") {
        let first = recorded[at..]
            .split("\n--- session")
            .next()
            .unwrap_or_default();
        if clients[0] == "python3" {
            std::fs::write(&file, first).unwrap();
            assert_eq!(judge(&file).0, Some(0), "{}", judge(&file).1);
        }
    }
    let (status, out) = judge(&dir.path().join("message.eml"));
    assert_eq!(status, Some(2), "not a transcript: {out}");
}

#[test]
fn explains_what_swaks_printed_against_a_real_server() {
    if !installed("swaks") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bins = Bins::for_tests().unwrap();
    let receiver = RunningReceiver::start(
        &bins.receive,
        [
            "--listen",
            "127.0.0.1:0",
            "--accept-any-recipient",
            "--sink",
            "--user",
            "alice:secret",
            "--allow-plaintext-auth-on-loopback",
        ],
        dir.path(),
    )
    .unwrap();
    let addr = receiver.plain().unwrap();
    let out = run(Command::new("swaks")
        .args(["--server", &addr.to_string()])
        .args(["--from", "a@example.test", "--to", "b@example.test"])
        .args(["--auth", "PLAIN", "--auth-user", "alice"])
        .args(["--auth-password", "secret"]));
    assert!(out.status.success(), "{out:?}");
    let printed = dir.path().join("swaks.txt");
    std::fs::write(&printed, &out.stdout).unwrap();
    drop(receiver);

    let out = run(Command::new(env!("CARGO_BIN_EXE_smtp-conform"))
        .arg("explain")
        .arg(&printed));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with(&format!("== swaks to {addr} ==")),
        "{text}"
    );
    for expected in [
        "C: EHLO ",
        "# RFC 5321 §4.1.1.1",
        "C: AUTH PLAIN <redacted>",
        "S: 235 2.7.0",
        "# RFC 5321 §4.1.1.4: <CRLF>.<CRLF>",
        "C: QUIT",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    // The password (base64 of "\0alice\0secret") never reaches the output.
    assert!(!text.contains("AGFsaWNlAHNlY3JldA=="), "{text}");
    assert!(!text.contains("badge:"), "explain does not judge:\n{text}");
}

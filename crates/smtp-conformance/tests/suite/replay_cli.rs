//! `smtp-conform replay`: a session that Python's smtplib held with
//! `smtp-receive` (STARTTLS, a dot-stuffed line), recorded by
//! `smtp-receive -v`, replayed against a second receiver configured the
//! same way (no difference) and against one that refuses the recipient
//! (the difference shown, the replay stopped before the message lines).
//! And a session `smtp-send -v` held with Postfix, replayed against
//! Postfix (no difference) and against `smtp-receive` (the same codes, the
//! known differences in the text: the greeting, the queue id).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use smtp_peers::{Peer, Postfix, PostfixConfig};
use smtp_testkit::bins::{Bins, RunningReceiver};
use smtp_testkit::certs::TestPki;

/// `smtp-receive -v` for `domain`, storing into `dir/name`.
fn receiver(bins: &Bins, dir: &Path, name: &str, domain: &str, tls: [&Path; 2]) -> RunningReceiver {
    let [cert, key] = tls;
    let maildir = dir.join(name);
    RunningReceiver::start(
        &bins.receive,
        [
            "-v".as_ref(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--domain".as_ref(),
            domain.as_ref(),
            "--maildir".as_ref(),
            maildir.as_os_str(),
            "--cert".as_ref(),
            cert.as_os_str(),
            "--key".as_ref(),
            key.as_os_str(),
        ],
        dir,
    )
    .unwrap()
}

fn replay(bins: &Bins, file: &Path, server: &str, ca: &Path) -> (Option<i32>, String) {
    let out: Output = Command::new(&bins.conform)
        .arg("replay")
        .arg(file)
        .args(["--server", server, "--servername", "localhost", "--ca"])
        .arg(ca)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn replays_a_recorded_starttls_session_and_shows_the_differences() {
    let python = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !python {
        eprintln!("skipped: python3 not installed (run .ci/install-peers)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bins = Bins::for_tests().unwrap();
    let files = TestPki::generate().unwrap().write(dir.path()).unwrap();
    let tls = [files.server_cert.as_path(), files.server_key.as_path()];

    let mut first = receiver(&bins, dir.path(), "first", "example.test", tls);
    let addr = first.plain().unwrap();
    let script = format!(
        "import smtplib, ssl\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         s = smtplib.SMTP('localhost', {port}, timeout=10)\n\
         s.starttls(context=ctx)\n\
         s.sendmail('a@example.test', ['b@example.test'], 'Subject: hi\\r\\n\\r\\n.dotted\\r\\nbye\\r\\n')\n\
         s.quit()\n",
        ca = files.ca_cert.display().to_string(),
        port = addr.port()
    );
    let sent = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(sent.status.success(), "{sent:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !first.process().stderr().contains("--- session") {
        assert!(Instant::now() < deadline, "{}", first.process().stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    let recorded = first.process().stderr();
    drop(first);
    assert!(recorded.contains("-- TLS started --"), "{recorded}");
    let file = dir.path().join("session.txt");
    std::fs::write(&file, &recorded).unwrap();

    // The same configuration: every reply has its recorded code (the
    // queue id in the 250 after the data differs; codes are compared).
    let same = receiver(&bins, dir.path(), "same", "example.test", tls);
    let (status, out) = replay(
        &bins,
        &file,
        &same.plain().unwrap().to_string(),
        &files.ca_cert,
    );
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("  C: STARTTLS"), "{out}");
    assert!(
        out.contains("  C: ..dotted"),
        "dot-stuffed as recorded: {out}"
    );
    assert!(out.contains("= recorded S: 250 2.0.0"), "{out}");
    assert!(out.ends_with("as recorded\n"), "{out}");
    // What the replay sent arrived: the second receiver stored the message.
    let stored = std::fs::read_dir(dir.path().join("same/new"))
        .unwrap()
        .count();
    assert_eq!(stored, 1, "{out}");
    drop(same);

    // A receiver for another domain refuses the recipient: the difference
    // is shown whole, and the message lines are not sent as commands.
    let other = receiver(&bins, dir.path(), "other", "other.test", tls);
    let (status, out) = replay(
        &bins,
        &file,
        &other.plain().unwrap().to_string(),
        &files.ca_cert,
    );
    assert_eq!(status, Some(1), "{out}");
    assert!(out.contains("≠ recorded S: 250 2.1.5"), "{out}");
    assert!(out.contains("≠      got S: 550 5.7.1"), "{out}");
    assert!(out.contains("stopped: line"), "{out}");
    assert!(!out.contains("Command unrecognized"), "{out}");
    drop(other);

    // Nobody listening: an error, exit 2.
    let (status, out) = replay(&bins, &file, "127.0.0.1:1", &files.ca_cert);
    assert_eq!(status, Some(2), "{out}");
    assert!(out.contains("cannot connect to 127.0.0.1:1"), "{out}");
}

#[test]
fn a_postfix_session_replays_against_postfix_without_a_difference() {
    if let Err(missing) = Peer::PostfixSmtpd.usable() {
        eprintln!("skipped: {missing}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bins = Bins::for_tests().unwrap();
    let files = TestPki::generate().unwrap().write(dir.path()).unwrap();
    let postfix = Postfix::start(&PostfixConfig::new(&files.server_cert, &files.server_key))
        .expect("Postfix starts");
    let server = postfix.smtp_addr().to_string();
    let sent = Command::new(&bins.send)
        .args(["--server", &server, "--tls", "starttls", "--ca"])
        .arg(&files.ca_cert)
        .args(["--from", "a@example.test", "--to", "b@example.test"])
        .args(["--subject", "replayed", "--text", ".a dotted line", "-v"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(sent.status.success(), "{sent:?}\n{}", postfix.log());
    let recorded = String::from_utf8_lossy(&sent.stderr).into_owned();
    assert!(recorded.contains("-- TLS started --"), "{recorded}");
    let file = dir.path().join("postfix.txt");
    std::fs::write(&file, &recorded).unwrap();

    let (status, out) = replay(&bins, &file, &server, &files.ca_cert);
    assert_eq!(status, Some(0), "{out}\n{}", postfix.log());
    assert!(out.contains("  C: ..a dotted line"), "{out}");
    assert!(!out.contains('≠'), "{out}");

    // This project's receiver answers with the same codes; the text shows
    // whose server it is.
    let ours = receiver(
        &bins,
        dir.path(),
        "ours",
        "example.test",
        [files.server_cert.as_path(), files.server_key.as_path()],
    );
    let (status, out) = replay(
        &bins,
        &file,
        &ours.plain().unwrap().to_string(),
        &files.ca_cert,
    );
    assert_eq!(status, Some(0), "{out}");
    assert!(
        out.contains("= recorded S: 220 localhost ESMTP Postfix"),
        "{out}"
    );
    assert!(out.contains("smtp-receiver ready"), "{out}");
}

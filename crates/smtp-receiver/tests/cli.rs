//! The `smtp-receive` binary: port 0, the listener lines, SIGTERM, and the
//! `list` / `show` subcommands.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};

use common::{Client, TestCerts, code};
use smtp_wire::sasl;
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_smtp-receive");

/// Kills the server if a test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn listeners(child: &mut Child, n: usize) -> Vec<(SocketAddr, String)> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    (0..n)
        .map(|_| {
            let line = lines.next().unwrap().unwrap();
            // "listening on 127.0.0.1:41234 (smtp, starttls)"
            let rest = line
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("{line}"));
            let (addr, kind) = rest.split_once(' ').unwrap();
            (addr.parse().unwrap(), kind.to_string())
        })
        .collect()
}

/// SIGTERM (a graceful shutdown), then the exit status and all of stderr.
fn terminate(server: &mut Running) -> (ExitStatus, String) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(server.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::block_in_place(|| server.0.wait()).unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut server.0.stderr.take().unwrap(), &mut stderr).unwrap();
    (exit, stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_on_port_zero_then_list_and_show() {
    let certs = TestCerts::generate();
    let mail = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--listen-tls",
            "127.0.0.1:0",
            "--hostname",
            "mx.cli.test",
        ])
        .arg("--cert")
        .arg(&certs.files.server_cert)
        .arg("--key")
        .arg(&certs.files.server_key)
        .arg("--maildir")
        .arg(mail.path())
        .args(["--domain", "example.org", "--user", "alice:pw", "-v"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let bound = tokio::task::block_in_place(|| listeners(&mut server.0, 2));
    assert_eq!(bound[0].1, "(smtp, starttls)");
    assert_eq!(bound[1].1, "(smtps)");
    assert_ne!(bound[0].0.port(), 0);

    let mut c = Client::new(TcpStream::connect(bound[0].0).await.unwrap());
    assert!(c.reply().await.starts_with("220 mx.cli.test "));
    for line in [
        "EHLO client.example",
        "MAIL FROM:<alice@client.example>",
        "RCPT TO:<bob@example.org>",
        "DATA",
    ] {
        assert!(code(&c.cmd(line).await) < 400, "{line}");
    }
    let reply = c
        .cmd("From: Alice <alice@client.example>\r\nSubject: from the CLI test\r\n\r\nHello.\r\n.")
        .await;
    let id = reply.trim_end().rsplit(' ').next().unwrap().to_string();
    c.cmd("QUIT").await;

    // SIGTERM: graceful shutdown, exit 0.
    let (exit, stderr) = terminate(&mut server);
    assert!(exit.success(), "{exit:?}");
    assert!(
        stderr.contains("C: MAIL FROM:<alice@client.example>"),
        "-v prints transcripts: {stderr}"
    );

    let list = Command::new(BIN)
        .args(["list", "--maildir"])
        .arg(mail.path())
        .output()
        .unwrap();
    assert!(list.status.success());
    assert!(String::from_utf8_lossy(&list.stdout).contains("from the CLI test"));

    let show = Command::new(BIN)
        .args(["show", "--maildir"])
        .arg(mail.path())
        .arg(&id)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    assert!(
        text.contains("from the CLI test") && text.contains("Hello."),
        "{text}"
    );
}

#[test]
fn help_has_examples_and_errors_are_one_line() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Examples:")
            && help.contains("--listen-tls")
            && help.contains("show --maildir")
    );

    let no_store = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!no_store.status.success());
    let stderr = String::from_utf8_lossy(&no_store.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("smtp-receive: error: "), "{stderr}");

    let missing = Command::new(BIN)
        .args(["show", "--maildir", "/nonexistent/maildir", "x"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert_eq!(String::from_utf8_lossy(&missing.stderr).lines().count(), 1);
}

/// Every AUTH failure is one log line at the default level, with the
/// client's address and the count, for fail2ban-style tools
/// (docs/receiver.md gives the pattern); with `--trusted-network none`
/// loopback clients are counted like any other (the lockout itself is
/// tested in attacks.rs, with short delays).
#[tokio::test(flavor = "multi_thread")]
async fn auth_failures_are_logged_on_one_line_with_the_client_address() {
    let child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--sink",
            "--accept-any-recipient",
        ])
        .args(["--user", "alice:pw", "--allow-plaintext-auth-on-loopback"])
        .args(["--trusted-network", "none"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let addr = tokio::task::block_in_place(|| listeners(&mut server.0, 1))[0].0;
    let wrong = sasl::plain_response(&sasl::Credentials::new("mallory", "x"));
    let mut c = Client::new(TcpStream::connect(addr).await.unwrap());
    c.reply().await;
    c.cmd("EHLO client.example").await;
    for _ in 0..2 {
        let reply = c.cmd(&format!("AUTH PLAIN {wrong}")).await;
        assert!(reply.starts_with("535 5.7.8 "), "{reply}");
    }
    c.cmd("QUIT").await;

    let (_, stderr) = terminate(&mut server);
    // No user name in it: often a password typed in the wrong field.
    let line = "authentication failed client=127.0.0.1 mechanism=PLAIN";
    let failed: Vec<&str> = stderr.lines().filter(|l| l.contains(line)).collect();
    assert_eq!(failed.len(), 2, "{stderr}");
    assert!(
        failed[0].ends_with(" failures=1") && failed[1].ends_with(" failures=2"),
        "{stderr}"
    );
    assert!(failed[0].contains(" WARN "), "{stderr}");
    assert!(!stderr.contains("mallory"), "{stderr}");
}

/// A certificate or key file that is missing or not PEM is a
/// configuration error: exit 78 (EX_CONFIG, sysexits(3)), one line naming
/// the file, before anything is bound.
#[test]
fn a_bad_cert_or_key_file_exits_78() {
    let certs = TestCerts::generate();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n\x00\x01").unwrap();
    let (cert, key) = (&certs.files.server_cert, &certs.files.server_key);
    for (cert, key, named) in [
        (&missing, key, &missing),
        (&garbage, key, &garbage),
        (cert, &missing, &missing),
        (cert, &garbage, &garbage),
    ] {
        let out = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--sink"])
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&named.display().to_string()), "{stderr}");
    }
}

/// A storage fault is an operator's problem: besides the `451 4.3.0` the
/// client gets (and retries after), one line at the default log level
/// names the path and the OS error. `tmp/` is made a regular file after
/// start (permission bits would not stop root, as CI runs).
#[tokio::test(flavor = "multi_thread")]
async fn a_storage_error_is_logged_with_the_path_and_the_os_error() {
    let mail = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--accept-any-recipient"])
        .arg("--maildir")
        .arg(mail.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let addr = tokio::task::block_in_place(|| listeners(&mut server.0, 1))[0].0;
    let tmp = mail.path().join("tmp");
    std::fs::remove_dir(&tmp).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();

    let mut c = Client::new(TcpStream::connect(addr).await.unwrap());
    c.reply().await;
    for line in [
        "EHLO client.example",
        "MAIL FROM:<alice@client.example>",
        "RCPT TO:<bob@example.org>",
        "DATA",
    ] {
        assert!(code(&c.cmd(line).await) < 400, "{line}");
    }
    let reply = c.cmd("Subject: lost?\r\n\r\nno\r\n.").await;
    assert!(reply.starts_with("451 4.3.0 "), "{reply}");
    c.cmd("QUIT").await;

    let (_, stderr) = terminate(&mut server);
    let logged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("storage failed"))
        .collect();
    assert_eq!(logged.len(), 1, "{stderr}");
    let line = logged[0];
    assert!(line.contains(" ERROR "), "{line}");
    assert!(
        line.contains(&format!("path={}/", tmp.display())),
        "the file it tried to create: {line}"
    );
    assert!(line.contains("Not a directory (os error 20)"), "{line}");
    assert!(line.contains("reply=451"), "{line}");
}

/// A file in `tmp/` with its access and modification times `ago`.
fn plant(dir: &std::path::Path, name: &str, ago: std::time::Duration) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, b"Subject: partial\n").unwrap();
    let when = std::time::SystemTime::now() - ago;
    let times = std::fs::FileTimes::new()
        .set_accessed(when)
        .set_modified(when);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_times(times)
        .unwrap();
    path
}

/// At start, `tmp/` loses what crashes left (docs/receiver.md, Faults):
/// anything untouched for 36 hours (the Maildir convention), and this
/// host's files whose writer is gone, once untouched for an hour. Files
/// of running processes, fresh files and other hosts' files stay. Each
/// removal is one line at info level.
#[tokio::test(flavor = "multi_thread")]
async fn stale_files_in_tmp_are_removed_at_start() {
    const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);
    let mail = tempfile::tempdir().unwrap();
    let tmp = mail.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // Above the kernel's largest pid (2^22): never a running process.
    let gone = 999_999_999;
    let alive = std::process::id();
    let ours = |pid: u32, n: u32| format!("1796000000M000001P{pid}Q{n}.mx.cli.test");
    let removed = [
        plant(&tmp, "written-by-another-program", HOUR * 40),
        plant(&tmp, &ours(gone, 1), HOUR * 2),
        plant(
            &tmp,
            &format!("1796000000M000001P{gone}Q2_1.mx.cli.test"),
            HOUR * 2,
        ),
    ];
    let kept = [
        plant(&tmp, &ours(alive, 3), HOUR * 2),
        plant(&tmp, &ours(gone, 4), std::time::Duration::from_secs(60)),
        plant(
            &tmp,
            &format!("1796000000M000001P{gone}Q5.other.test"),
            HOUR * 2,
        ),
        plant(
            &tmp,
            "fresh-from-another-program",
            std::time::Duration::ZERO,
        ),
    ];
    let child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--accept-any-recipient"])
        .args(["--hostname", "mx.cli.test", "--maildir"])
        .arg(mail.path())
        .env("RUST_LOG", "smtp_receiver=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    // The sweep runs before the listeners are announced.
    tokio::task::block_in_place(|| listeners(&mut server.0, 1));
    for path in &removed {
        assert!(!path.exists(), "{} stayed", path.display());
    }
    for path in &kept {
        assert!(path.exists(), "{} was removed", path.display());
    }
    let (_, stderr) = terminate(&mut server);
    let logged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("removed a stale file from tmp/"))
        .collect();
    assert_eq!(logged.len(), removed.len(), "{stderr}");
    assert!(logged.iter().all(|l| l.contains(" INFO ")), "{stderr}");
    assert!(
        logged
            .iter()
            .any(|l| l.contains("written-by-another-program")
                && l.contains("untouched for 36 hours")),
        "{stderr}"
    );
    assert!(
        logged
            .iter()
            .any(|l| l.contains(&format!("its writer, pid {gone}, is not running"))),
        "{stderr}"
    );
}

/// `--proxy-protocol --trusted-proxy`: the greeting comes after a PROXY
/// header; `--proxy-protocol` alone is a usage error.
#[tokio::test]
async fn proxy_protocol_flags() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let alone = Command::new(BIN)
        .args(["--proxy-protocol"])
        .output()
        .unwrap();
    assert!(!alone.status.success());
    assert!(String::from_utf8_lossy(&alone.stderr).contains("--trusted-proxy"));

    let mut child = Running(
        Command::new(BIN)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--sink",
                "--proxy-protocol",
                "--trusted-proxy",
                "127.0.0.1/32",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = listeners(&mut child.0, 1)[0].0;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"PROXY TCP4 192.0.2.44 127.0.0.1 40000 25\r\n")
        .await
        .unwrap();
    let mut greeting = [0u8; 4];
    stream.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"220 ");
}

/// SIGTERM drains: `/readyz` answers 503 at once (a balancer sends nobody
/// new), while the message in progress still gets its 250.
#[tokio::test(flavor = "multi_thread")]
async fn readyz_says_503_while_draining_and_the_message_in_progress_is_kept() {
    let mail = tempfile::tempdir().unwrap();
    let mut running = smtp_testkit::bins::RunningReceiver::start(
        std::path::Path::new(BIN),
        [
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--accept-any-recipient",
            "--maildir",
        ]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([mail.path().as_os_str()]),
        mail.path(),
    )
    .unwrap();
    let readyz = format!("http://{}/readyz", running.http().unwrap());
    let status = || async { reqwest::get(&readyz).await.unwrap().status().as_u16() };
    assert_eq!(status().await, 200);

    let mut c = Client::new(TcpStream::connect(running.plain().unwrap()).await.unwrap());
    c.reply().await;
    for line in [
        "EHLO client.example",
        "MAIL FROM:<a@client.example>",
        "RCPT TO:<b@example.org>",
        "DATA",
    ] {
        assert!(code(&c.cmd(line).await) < 400, "{line}");
    }
    c.send("Subject: in flight\r\n\r\nfirst half\r\n").await;
    let pid = running.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut drained = false;
    for _ in 0..50 {
        if status().await == 503 {
            drained = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(drained, "/readyz turns 503");
    let reply = c.cmd("second half\r\n.").await;
    assert!(reply.starts_with("250 "), "{reply}");
    let exited = tokio::task::block_in_place(|| {
        smtp_peers::poll_until(std::time::Duration::from_secs(30), || {
            running.process().exited()
        })
    });
    assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
    assert_eq!(common::files(&mail.path().join("new")).len(), 1);
}

/// Sends SIGHUP and waits until stderr says `text`; returns all of stderr.
fn hang_up_until(running: &mut smtp_testkit::bins::RunningReceiver, text: &str) -> String {
    let pid = running.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::task::block_in_place(|| {
        smtp_peers::poll_until(std::time::Duration::from_secs(10), || {
            let err = running.process().stderr();
            err.contains(text).then_some(err)
        })
    })
    .unwrap_or_else(|| panic!("stderr never said {text:?}"))
}

/// SIGHUP reads the certificate, the users and the rules again; the
/// listeners and a session opened before it go on.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_certificate_users_and_rules_without_dropping_sessions() {
    let (old, new) = (TestCerts::generate(), TestCerts::generate());
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (users, rules) = (dir.path().join("users"), dir.path().join("rules"));
    std::fs::copy(&old.files.server_cert, &cert).unwrap();
    std::fs::copy(&old.files.server_key, &key).unwrap();
    std::fs::write(&users, "alice:old-pw\n").unwrap();
    std::fs::write(&rules, "# none yet\n").unwrap();
    let mail = dir.path().join("mail");
    let args: Vec<std::ffi::OsString> = [
        "--listen-tls",
        "127.0.0.1:0",
        "--accept-any-recipient",
        "--maildir",
    ]
    .iter()
    .map(Into::into)
    .chain([mail.clone().into()])
    .chain([
        "--cert".into(),
        cert.clone().into(),
        "--key".into(),
        key.clone().into(),
    ])
    .chain([
        "--users-file".into(),
        users.clone().into(),
        "--rules".into(),
        rules.clone().into(),
    ])
    .collect();
    let mut running =
        smtp_testkit::bins::RunningReceiver::start(std::path::Path::new(BIN), &args, dir.path())
            .unwrap();
    let addr = running.implicit_tls().unwrap();
    let login = |user: &str, pw: &str| {
        format!(
            "AUTH PLAIN {}",
            sasl::plain_response(&sasl::Credentials::new(user, pw))
        )
    };
    let open = |certs: &TestCerts| {
        let connector = certs.connector();
        async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let mut c = Client::new(tcp).upgrade(&connector, "localhost").await;
            c.reply().await;
            c.cmd("EHLO client.example").await;
            c
        }
    };

    let mut before = open(&old).await;
    assert!(
        before
            .cmd(&login("alice", "old-pw"))
            .await
            .starts_with("235")
    );

    std::fs::copy(&new.files.server_cert, &cert).unwrap();
    std::fs::copy(&new.files.server_key, &key).unwrap();
    std::fs::write(&users, "alice:new-pw\n").unwrap();
    std::fs::write(&rules, "rcpt:*@bounce.test=550 5.1.1 no such user\n").unwrap();
    let reloaded = hang_up_until(&mut running, "reloaded the rules");
    for what in ["the certificate", "the users", "the rules"] {
        assert!(reloaded.contains(&format!("reloaded {what}")), "{reloaded}");
    }

    // The session opened before goes on, under its old certificate.
    for line in [
        "MAIL FROM:<alice@client.example>",
        "RCPT TO:<bob@example.org>",
        "DATA",
    ] {
        assert!(code(&before.cmd(line).await) < 400, "{line}");
    }
    assert!(
        before
            .cmd("Subject: across the reload\r\n\r\nhi\r\n.")
            .await
            .starts_with("250")
    );
    // A new one gets the new certificate, the new password, the new rule.
    let mut after = open(&new).await;
    assert!(
        after
            .cmd(&login("alice", "old-pw"))
            .await
            .starts_with("535")
    );
    assert!(
        after
            .cmd(&login("alice", "new-pw"))
            .await
            .starts_with("235")
    );
    after.cmd("MAIL FROM:<alice@client.example>").await;
    assert!(
        after
            .cmd("RCPT TO:<x@bounce.test>")
            .await
            .starts_with("550 5.1.1")
    );

    // A broken file keeps what is in use.
    std::fs::write(&key, "not a key").unwrap();
    hang_up_until(&mut running, "cannot reload the certificate");
    open(&new).await.cmd("QUIT").await;
}

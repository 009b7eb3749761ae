//! The `smtp-send` binary: output, exit codes, options, against Python's
//! smtpd and the scripted server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use smtp_testkit::certs::self_signed_leaf;
use smtp_testkit::server::{serve, serve_tls};
use support::cli::smtp_send;
use support::python::{as_smtpd_sees_it, envelope, start_smtpd, stored};

#[tokio::test]
async fn help_has_examples() {
    let out = smtp_send(&["--help"], None, &[]).await;
    assert_eq!(out.code, 0);
    for needle in [
        "Examples:",
        "--insecure-skip-verify",
        "SMTP_PASSWORD",
        "EX_TEMPFAIL",
        "--message",
    ] {
        assert!(out.stdout.contains(needle), "missing {needle}");
    }
}

#[tokio::test]
async fn usage_errors_exit_64_in_one_line() {
    let out = smtp_send(&["--server", "x", "--password", "secret"], None, &[]).await;
    assert_eq!(out.code, 64);
    let out = smtp_send(
        &[
            "--server",
            "127.0.0.1:1",
            "--user",
            "u",
            "--from",
            "a@b.c",
            "--to",
            "d@e.f",
            "--text",
            "x",
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(out.code, 64);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("SMTP_PASSWORD"));
}

#[tokio::test]
async fn composed_message_to_python_smtpd() {
    let Some(smtpd) = start_smtpd().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let attachment = dir.path().join("notes.txt");
    std::fs::write(&attachment, "attached text\n").unwrap();
    let server = smtpd.addr().to_string();
    let out = smtp_send(
        &[
            "--server",
            &server,
            "--tls",
            "none",
            "--from",
            "Alice <alice@example.com>",
            "--to",
            "bob@example.org",
            "--cc",
            "carol@example.org",
            "--bcc",
            "dave@example.net",
            "--subject",
            "CLI test",
            "--text",
            "Hello from the CLI",
            "--attach",
            attachment.to_str().unwrap(),
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.lines().count(), 3);
    assert!(out.stdout.lines().all(|l| l.starts_with("accepted")));
    let arrived = stored(&smtpd, 1);
    assert_eq!(
        envelope(&arrived[0]),
        [
            "alice@example.com",
            "bob@example.org",
            "carol@example.org",
            "dave@example.net"
        ]
    );
    let received = &arrived[0].file.bytes;
    let parsed = smtp_mime::inspect(received);
    assert_eq!(parsed.subject.as_deref(), Some("CLI test"));
    assert_eq!(parsed.attachments[0].bytes, b"attached text\n");
    assert!(
        !String::from_utf8_lossy(received)
            .to_ascii_lowercase()
            .contains("dave@"),
        "Bcc leaked"
    );
}

#[tokio::test]
async fn message_file_and_stdin_arrive_byte_identical() {
    let Some(smtpd) = start_smtpd().await else {
        return;
    };
    let message = b"From: alice@example.com\r\nTo: bob@example.org\r\nBcc: eve@example.net\r\nSubject: file\r\n\r\n.dot\r\nbody\r\n";
    let without_bcc =
        b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: file\r\n\r\n.dot\r\nbody\r\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.eml");
    std::fs::write(&file, message).unwrap();
    let server = smtpd.addr().to_string();

    let out = smtp_send(
        &[
            "--server",
            &server,
            "--tls",
            "none",
            "--message",
            file.to_str().unwrap(),
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = smtp_send(
        &[
            "--server",
            &server,
            "--tls",
            "none",
            "-m",
            "-",
            "--to",
            "zed@example.org",
        ],
        Some(message),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let arrived = stored(&smtpd, 2);
    assert_eq!(
        envelope(&arrived[0]),
        ["alice@example.com", "bob@example.org", "eve@example.net"]
    );
    assert_eq!(
        envelope(&arrived[1]),
        ["alice@example.com", "zed@example.org"]
    );
    for message in &arrived {
        assert_eq!(message.file.bytes, as_smtpd_sees_it(without_bcc));
    }
}

/// A server that accepts `a`, refuses `b` with `code_b`, then takes the message.
async fn refusing_server(code_b: &'static str) -> u16 {
    let (addr, _) = serve(move |mut c| async move {
        c.greet("250-mx\r\n250 ENHANCEDSTATUSCODES\r\n").await;
        c.expect("MAIL").await;
        c.send("250 2.1.0 ok\r\n").await;
        c.expect("RCPT").await;
        c.send("250 2.1.5 ok\r\n").await;
        c.expect("RCPT").await;
        c.send(code_b).await;
        c.expect("DATA").await;
        c.send("354 go\r\n").await;
        c.read_data().await;
        c.send("250 2.0.0 queued\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
    })
    .await;
    addr.port()
}

#[tokio::test]
async fn exit_codes_follow_the_recipients() {
    let args = |port: u16| {
        vec![
            "--server".to_string(),
            format!("127.0.0.1:{port}"),
            "--tls".into(),
            "none".into(),
            "--from".into(),
            "a@example.com".into(),
            "--to".into(),
            "ok@example.org".into(),
            "--to".into(),
            "no@example.org".into(),
            "--text".into(),
            "hi".into(),
        ]
    };
    let port = refusing_server("550 5.1.1 no such user\r\n").await;
    let a = args(port);
    let out = smtp_send(&a.iter().map(String::as_str).collect::<Vec<_>>(), None, &[]).await;
    assert_eq!(out.code, 69, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "accepted <ok@example.org>: 250 2.0.0 queued");
    assert!(
        lines[1].starts_with("refused  <no@example.org>: 550 5.1.1 no such user ("),
        "{}",
        lines[1]
    );

    let port = refusing_server("450 4.2.1 mailbox busy\r\n").await;
    let a = args(port);
    let out = smtp_send(&a.iter().map(String::as_str).collect::<Vec<_>>(), None, &[]).await;
    assert_eq!(out.code, 75);
    assert!(
        out.stdout
            .contains("deferred <no@example.org>: 450 4.2.1 mailbox busy")
    );
}

#[tokio::test]
async fn connection_refused_is_temporary() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = format!("127.0.0.1:{port}");
    let out = smtp_send(
        &[
            "--server",
            &server,
            "--tls",
            "none",
            "--from",
            "a@b.example",
            "--to",
            "c@d.example",
            "--text",
            "x",
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(out.code, 75);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("deferred <c@d.example>: cannot connect")
    );
}

#[tokio::test]
async fn verbose_transcript_with_redacted_auth_and_insecure_warning() {
    let (addr, _) = serve_tls(
        self_signed_leaf().unwrap().server_config(),
        |c| async move {
            let mut c = c.expect("handshake");
            c.greet("250-mx\r\n250 AUTH PLAIN\r\n").await;
            c.expect("AUTH PLAIN").await;
            c.send("235 ok\r\n").await;
            c.expect("MAIL").await;
            c.send("250 ok\r\n").await;
            c.expect("RCPT").await;
            c.send("250 ok\r\n").await;
            c.expect("DATA").await;
            c.send("354 go\r\n").await;
            c.read_data().await;
            c.send("250 queued\r\n").await;
            c.expect("QUIT").await;
            c.send("221 bye\r\n").await;
        },
    )
    .await;
    let server = format!("localhost:{}", addr.port());
    let out = smtp_send(
        &[
            "--server",
            &server,
            "--tls",
            "implicit",
            "--insecure-skip-verify",
            "--user",
            "alice",
            "--from",
            "a@example.com",
            "--to",
            "b@example.org",
            "--text",
            "hi",
            "-v",
        ],
        None,
        &[("SMTP_PASSWORD", "s3cret")],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning: --insecure-skip-verify"));
    assert!(out.stderr.contains("-- TLS started --"), "{}", out.stderr);
    assert!(
        out.stderr.contains("C: AUTH PLAIN <redacted>"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("C: MAIL FROM:<a@example.com>"));
    assert!(out.stderr.contains("S: 250 queued"));
    assert!(
        !out.stderr.contains("s3cret") && !out.stderr.contains("AGFsaWNlAHMzY3JldA"),
        "secret leaked"
    );
}

#[tokio::test]
async fn local_input_errors_exit_65_or_66_not_69() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.eml");
    let missing = missing.to_str().unwrap();
    let no_from = dir.path().join("no-from.eml");
    std::fs::write(&no_from, "To: b@example.org\r\n\r\nhi\r\n").unwrap();
    let no_from = no_from.to_str().unwrap();
    let base = ["--server", "127.0.0.1:1", "--tls", "none"];
    let cases: [(&[&str], i32); 4] = [
        // sysexits(3) EX_NOINPUT: an input file that cannot be read.
        (&["--message", missing], 66),
        (
            &[
                "--from",
                "a@b.example",
                "--to",
                "c@d.example",
                "--attach",
                missing,
            ],
            66,
        ),
        // EX_DATAERR: the input is there but wrong.
        (
            &[
                "--from",
                "a@b.example",
                "--to",
                "not an address",
                "--text",
                "x",
            ],
            65,
        ),
        (&["--message", no_from], 65),
    ];
    for (extra, code) in cases {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = smtp_send(&args, None, &[]).await;
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
}

/// A `--ca` file that is missing or holds no certificate is our own
/// configuration error, found before any server is asked: exit 78
/// (EX_CONFIG), not 75 (it will not fix itself) nor 69 (no server refused
/// anything), one line on stderr naming the file, no recipient line.
#[tokio::test]
async fn a_bad_ca_file_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    for ca in [&missing, &garbage] {
        let ca = ca.to_str().unwrap();
        let args = [
            "--server",
            "127.0.0.1:1",
            "--ca",
            ca,
            "--from",
            "a@b.example",
            "--to",
            "c@d.example",
            "--text",
            "x",
        ];
        let out = smtp_send(&args, None, &[]).await;
        assert_eq!(out.code, 78, "{}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(ca), "{}", out.stderr);
        assert_eq!(out.stdout, "", "nothing was sent");
    }
}

fn one_recipient(port: u16, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--server",
        &format!("127.0.0.1:{port}"),
        "--tls",
        "none",
        "--from",
        "a@example.com",
        "--to",
        "x@y.example",
        "--text",
        "hi",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The reviewer's reproduction: an extra reply after MAIL's made the 550
/// to RCPT look like an acceptance. Now: out of step, temporary, nothing
/// reported as accepted.
#[tokio::test]
async fn an_extra_reply_is_never_an_acceptance() {
    let (addr, _) = serve(|mut c| async move {
        c.greet("250-mx\r\n250 ENHANCEDSTATUSCODES\r\n").await;
        c.expect("MAIL").await;
        c.send("250 mail ok\r\n250 2.1.5 bogus extra\r\n").await;
        if c.line().await.is_some() {
            c.send("550 5.1.1 no such user\r\n").await;
            if c.line().await.is_some() {
                c.send("354 go\r\n").await;
                c.read_data().await;
                c.send("250 queued\r\n").await;
            }
        }
        c.drain().await;
    })
    .await;
    let args = one_recipient(addr.port(), &["--no-pipelining"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(out.code, 75, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("accepted"), "{}", out.stdout);
    assert!(
        out.stdout
            .starts_with("deferred <x@y.example>: lost synchronisation")
    );
}

/// RFC 5321 §3.3: a 550 to a pipelined MAIL, then a close: permanent (69),
/// with the server's words.
#[tokio::test]
async fn a_refused_sender_then_a_close_exits_69() {
    let (addr, _) = serve(|mut c| async move {
        c.greet("250-mx\r\n250 PIPELINING\r\n").await;
        c.expect("MAIL").await;
        c.expect("RCPT").await;
        c.expect("DATA").await;
        c.send("550 5.7.1 sender blocked\r\n").await;
    })
    .await;
    let args = one_recipient(addr.port(), &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(out.code, 69, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("550 5.7.1 sender blocked"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn explained_transcript_has_a_note_per_step_and_no_colour_in_a_pipe() {
    let (addr, _) = serve(|mut c| async move {
        c.greet("250 mx\r\n").await;
        c.expect("MAIL").await;
        c.send("250 ok\r\n").await;
        c.expect("RCPT").await;
        c.send("550 5.1.1 no such user\r\n").await;
        c.expect("RCPT").await;
        c.send("250 ok\r\n").await;
        c.expect("DATA").await;
        c.send("354 go\r\n").await;
        c.read_data().await;
        c.send("250 queued\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
    })
    .await;
    let server = format!("127.0.0.1:{}", addr.port());
    let out = smtp_send(
        &[
            "--server",
            &server,
            "--tls",
            "none",
            "--from",
            "a@example.com",
            "--to",
            "gone@example.org",
            "--to",
            "b@example.org",
            "--text",
            ".hi",
            "--explain",
        ],
        None,
        &[],
    )
    .await;
    // One recipient refused, one accepted: exit 0 is for all accepted.
    assert_ne!(out.code, 0, "{}", out.stderr);
    let line = |needle: &str| {
        out.stderr
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} in\n{}", out.stderr))
            .to_string()
    };
    assert!(
        line("-- connected to").starts_with("   1  "),
        "{}",
        out.stderr
    );
    assert!(line("C: MAIL FROM:<a@example.com>").contains("# RFC 5321 §4.1.1.2"));
    assert!(line("S: 550 5.1.1 no such user").contains("§4.2.2: this recipient is refused"));
    assert!(line("C: ..hi").contains("dot-stuffing"));
    assert!(line("C: QUIT").contains("# RFC 5321 §4.1.1.10"));
    assert!(
        !out.stderr.contains('\x1b'),
        "plain when piped: {}",
        out.stderr
    );
}

//! `smtp-send --header "Name: value"`: extra fields of a composed message
//! reach a real server (aiosmtpd) as a reader sees them, and fields that
//! would break the message or the envelope are refused before any
//! connection is made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use smtp_peers::{Aiosmtpd, AiosmtpdConfig, Peer};
use support::cli::smtp_send;

const MESSAGE: [&str; 6] = [
    "--from",
    "alice@example.org",
    "--to",
    "bob@example.org",
    "--text",
    "hi",
];

#[tokio::test]
async fn header_fields_reach_a_real_server() {
    if let Err(missing) = Peer::Aiosmtpd.usable() {
        eprintln!("skipped: {missing}");
        return;
    }
    let peer = tokio::task::spawn_blocking(|| Aiosmtpd::start(&AiosmtpdConfig::plain()))
        .await
        .unwrap()
        .expect("aiosmtpd starts");
    let server = peer.addr().to_string();
    let mut args = vec!["--server", &server, "--tls", "none"];
    args.extend(MESSAGE);
    args.extend([
        "--header",
        "X-Campaign: spring",
        "--header",
        "subject:  Hello by header ",
        "--header",
        "Reply-To: Help Desk <help@example.org>",
        "--header",
        "X-Note: café ☕",
        "--header",
        "X-Campaign: a second one",
    ]);
    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let stored =
        tokio::task::spawn_blocking(move || peer.wait_for_messages(1, Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap();
    let raw = &stored[0].file.bytes;
    let seen = smtp_mime::inspect(raw);
    let field = |name: &str| -> Vec<&str> {
        seen.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(field("X-Campaign"), ["spring", "a second one"]);
    assert_eq!(seen.subject.as_deref(), Some("Hello by header"));
    assert_eq!(field("Subject").len(), 1);
    assert!(field("Reply-To")[0].contains("help@example.org"), "{raw:?}");
    assert_eq!(field("X-Note"), ["café ☕"]);
    // RFC 2047: the header section itself stays ASCII.
    assert!(stored[0].file.header_section().is_ascii());
    assert_eq!(seen.text.as_deref().map(str::trim_end), Some("hi"));
}

#[tokio::test]
async fn bad_header_fields_are_refused_before_any_connection() {
    // A listener that must never see a connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let server = listener.local_addr().unwrap().to_string();
    for (header, extra, says) in [
        (
            "X-Evil: a\r\nBcc: victim@example.net",
            None,
            "header injection",
        ),
        (
            "X-Evil: a\nBcc: victim@example.net",
            None,
            "header injection",
        ),
        ("Bad Name: x", None, "printable ASCII"),
        ("X-Tab\t: x", None, "printable ASCII"),
        ("No colon at all", None, "expected \"Name: value\""),
        ("To: mallory@example.net", None, "--to"),
        ("BCC: mallory@example.net", None, "--bcc"),
        ("Date: yesterday", None, "written by the builder"),
        ("Content-Type: text/html", None, "written by the builder"),
        ("Subject: one", Some("two"), "given twice"),
        ("Reply-To: not an address", None, "Reply-To"),
    ] {
        let mut args = vec!["--server", &server, "--tls", "none", "--header", header];
        args.extend(MESSAGE);
        if let Some(subject) = extra {
            args.extend(["--subject", subject]);
        }
        let out = smtp_send(&args, None, &[]).await;
        assert_eq!(out.code, 65, "{header:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{header:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{header:?}");
    }
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "smtp-send connected"
    );
    // A file is sent as it is: --header is for composed messages.
    let out = smtp_send(
        &[
            "--server",
            &server,
            "--message",
            "letter.eml",
            "--header",
            "X-A: b",
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(out.code, 64, "{}", out.stderr);
}

//! `smtp-send shell`: the built binary, its commands piped to standard
//! input line by line, against real servers on loopback: this project's
//! receiver in-process (plain, STARTTLS, implicit TLS, AUTH) and aiosmtpd
//! where it is installed (skipped visibly otherwise). What the servers
//! stored is checked, not only what the shell printed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtp_peers::{Aiosmtpd, AiosmtpdConfig, AiosmtpdTls, Peer};
use smtp_receiver::config::{ListenerKind, RecipientPolicy};
use smtp_receiver::{
    Envelope as Received, Handler, MessageBody, Reply, Server, ServerConfig, Users, WithUsers,
};
use smtp_wire::sasl;
use support::Pki;
use support::cli::{Output, smtp_send};

/// A message as the receiver took it: its envelope and its text.
type Taken = (Received, Vec<u8>);

/// Every message this receiver took.
#[derive(Clone, Default)]
struct Recorder {
    got: Arc<Mutex<Vec<Taken>>>,
}

impl Recorder {
    fn messages(&self) -> Vec<Taken> {
        self.got.lock().unwrap().clone()
    }
}

impl Handler for Recorder {
    async fn data(&mut self, envelope: &Received, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        let mut bytes = Vec::new();
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            bytes.extend_from_slice(chunk);
        }
        self.got.lock().unwrap().push((envelope.clone(), bytes));
        Ok(())
    }
}

/// How the test receiver listens.
#[derive(Clone, Copy, PartialEq)]
enum Listen {
    /// Plain text, no TLS at all.
    Plain,
    /// Plain text with STARTTLS.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

/// This project's receiver on 127.0.0.1, recording what it takes; AUTH
/// (inside TLS) for alice with `password` when one is given.
async fn receiver(listen: Listen, pki: &Pki, password: Option<&str>) -> (SocketAddr, Recorder) {
    let mut config = ServerConfig::new("mx.test");
    let any = "127.0.0.1:0".parse().unwrap();
    let kind = match listen {
        Listen::Implicit => {
            config.listen_tls(any);
            ListenerKind::ImplicitTls
        }
        _ => {
            config.listen_plain(any);
            ListenerKind::Plain
        }
    };
    if listen != Listen::Plain {
        config.tls = Some(pki.leaf());
        config.session.starttls = listen == Listen::StartTls;
    }
    config.session.recipients = RecipientPolicy::domains(["example.org"]);
    let recorder = Recorder::default();
    let addr = if let Some(password) = password {
        config.session.auth.enabled = true;
        let mut users = Users::new();
        users.insert("alice", password);
        let server = Server::bind(config, WithUsers::new(recorder.clone(), users))
            .await
            .unwrap();
        let addr = server.local_addr(kind).unwrap();
        tokio::spawn(server.run());
        addr
    } else {
        let server = Server::bind(config, recorder.clone()).await.unwrap();
        let addr = server.local_addr(kind).unwrap();
        tokio::spawn(server.run());
        addr
    };
    (addr, recorder)
}

/// Runs `smtp-send shell` with `lines` piped in, one per line.
async fn shell(args: &[&str], lines: &[&str]) -> Output {
    let mut input = lines.join("\n");
    input.push('\n');
    let mut all = vec!["shell"];
    all.extend(args);
    smtp_send(&all, Some(input.as_bytes()), &[]).await
}

/// The whole output, for assertion messages.
fn shown(out: &Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.code, out.stdout, out.stderr
    )
}

/// The printed lines that carry a client or server line with this text
/// (`C: ...` / `S: ...`, after the line number).
fn count(out: &Output, line: &str) -> usize {
    out.stdout
        .lines()
        .filter(|l| {
            l.trim_start()
                .split_once("  ")
                .is_some_and(|(_, rest)| rest.starts_with(line))
        })
        .count()
}

/// The typed session of a message with lines that start with a dot.
const DOTS: [&str; 9] = [
    "MAIL FROM:<alice@example.org>",
    "RCPT TO:<bob@example.org>",
    "DATA",
    "Subject: typed by hand",
    "",
    ".a line that starts with a dot",
    "..and one with two",
    "last line",
    ".",
];

/// The stored text of [`DOTS`], as the server got it (un-stuffed).
const DOTS_TEXT: &str = "Subject: typed by hand\r\n\r\n.a line that starts with a dot\r\n\
                         ..and one with two\r\nlast line\r\n";

#[tokio::test]
async fn a_plain_transaction_typed_line_by_line_arrives_intact() {
    let pki = Pki::new("Shell Plain CA");
    let (addr, recorder) = receiver(Listen::Plain, &pki, None).await;
    let server = addr.to_string();
    let mut lines = vec!["EHLO client.example"];
    lines.extend(DOTS);
    lines.push("QUIT");
    let out = shell(&[&server], &lines).await;
    assert_eq!(out.code, 0, "{}", shown(&out));
    let messages = recorder.messages();
    assert_eq!(messages.len(), 1, "{}", shown(&out));
    let (envelope, body) = &messages[0];
    assert_eq!(envelope.from.to_string(), "<alice@example.org>");
    let body = String::from_utf8_lossy(body);
    // The trace header comes first; then the text exactly as typed.
    assert!(body.ends_with(DOTS_TEXT), "{body:?}");
    // On the wire, the dot lines went out stuffed, and the notes say why.
    assert_eq!(
        count(&out, "C: ..a line that starts with a dot"),
        1,
        "{}",
        shown(&out)
    );
    assert_eq!(count(&out, "C: ...and one with two"), 1, "{}", shown(&out));
    assert!(out.stdout.contains("RFC 5321 §4.5.2"), "{}", shown(&out));
    let octets = DOTS_TEXT.len();
    assert!(
        out.stdout.contains(&format!(
            "{octets} octets of message in 5 lines, {} on the wire",
            octets + 2 + 3
        )),
        "{}",
        shown(&out)
    );
    for reply in ["S: 220 ", "S: 250-mx.test", "S: 354 ", "S: 221 "] {
        assert_eq!(count(&out, reply), 1, "{reply}: {}", shown(&out));
    }
    // Each reply carries its note, as --explain prints them.
    assert!(
        out.stdout.contains("# RFC 5321 §4.1.1.1"),
        "{}",
        shown(&out)
    );
    assert!(!out.stdout.contains('\x1b'), "no colour in a pipe");
}

#[tokio::test]
async fn starttls_with_the_ca_and_refused_with_another() {
    let pki = Pki::new("Shell STARTTLS CA");
    let (addr, recorder) = receiver(Listen::StartTls, &pki, None).await;
    let server = addr.to_string();
    let ca = pki.ca_file.display().to_string();
    let mut lines = vec!["EHLO client.example", "STARTTLS", "EHLO client.example"];
    lines.extend(DOTS);
    lines.push("QUIT");
    let args = [server.as_str(), "--ca", &ca, "--servername", "localhost"];
    let out = shell(&args, &lines).await;
    assert_eq!(out.code, 0, "{}", shown(&out));
    let messages = recorder.messages();
    assert_eq!(messages.len(), 1, "{}", shown(&out));
    assert!(messages[0].0.tls, "the message came inside TLS");
    assert!(String::from_utf8_lossy(&messages[0].1).ends_with(DOTS_TEXT));
    let text = &out.stdout;
    let tls_at = text
        .find("-- TLS started --")
        .expect("the handshake is shown");
    assert!(text[..tls_at].contains("C: STARTTLS"), "{}", shown(&out));
    assert!(text[tls_at..].contains("the certificate is valid for localhost"));
    assert!(text[tls_at..].contains("say EHLO again"), "{}", shown(&out));
    // Twice STARTTLS in the EHLO replies? Only before TLS (RFC 3207 §4.2).
    assert_eq!(count(&out, "S: 250-STARTTLS"), 1, "{}", shown(&out));

    // Another CA: the handshake is refused, nothing more is sent.
    let other = Pki::new("Another CA");
    let ca = other.ca_file.display().to_string();
    let args = [server.as_str(), "--ca", &ca, "--servername", "localhost"];
    let out = shell(&args, &lines).await;
    assert_eq!(out.code, 75, "{}", shown(&out));
    assert!(
        out.stderr.contains("TLS failed") && out.stderr.contains("unknown certificate authority"),
        "{}",
        shown(&out)
    );
    assert!(!out.stdout.contains("TLS started"), "{}", shown(&out));
    assert_eq!(count(&out, "C: MAIL"), 0, "{}", shown(&out));
    assert_eq!(recorder.messages().len(), 1, "no second message");
}

#[tokio::test]
async fn implicit_tls_before_the_greeting() {
    let pki = Pki::new("Shell Implicit CA");
    let (addr, _) = receiver(Listen::Implicit, &pki, None).await;
    let server = addr.to_string();
    let ca = pki.ca_file.display().to_string();
    let args = [
        server.as_str(),
        "--tls",
        "implicit",
        "--ca",
        &ca,
        "--servername",
        "localhost",
    ];
    let out = shell(&args, &["EHLO client.example", "QUIT"]).await;
    assert_eq!(out.code, 0, "{}", shown(&out));
    let text = &out.stdout;
    let tls_at = text
        .find("-- TLS started --")
        .expect("the handshake is shown");
    let greeting_at = text.find("S: 220 ").expect("the greeting is shown");
    assert!(tls_at < greeting_at, "RFC 8314: TLS first\n{}", shown(&out));
    assert!(text.contains("(TLS: implicit)"));
    // No reminder to say EHLO again: nothing was said before TLS.
    assert!(!text.contains("say EHLO again"), "{}", shown(&out));
    assert_eq!(count(&out, "S: 221 "), 1, "{}", shown(&out));

    // Without the CA the server's certificate is not trusted.
    let args = [
        server.as_str(),
        "--tls",
        "implicit",
        "--servername",
        "localhost",
    ];
    let out = shell(&args, &["QUIT"]).await;
    let untrusted = out.code == 75 && out.stderr.contains("unknown certificate authority");
    // A machine without a system trust store says so before connecting.
    let no_roots = out.code == 78 && out.stderr.contains("no trust roots");
    assert!(untrusted || no_roots, "{}", shown(&out));
    assert_eq!(count(&out, "S: 220 "), 0, "{}", shown(&out));
}

#[tokio::test]
async fn auth_plain_is_encoded_by_the_tool_and_the_password_never_shown() {
    let pki = Pki::new("Shell AUTH CA");
    let password = "correct horse battery";
    let (addr, recorder) = receiver(Listen::StartTls, &pki, Some(password)).await;
    let server = addr.to_string();
    let ca = pki.ca_file.display().to_string();
    let typed_auth = format!("AUTH PLAIN alice {password}");
    let mut lines = vec![
        "EHLO client.example",
        // Refused by the tool: no TLS yet.
        &typed_auth,
        "STARTTLS",
        "EHLO client.example",
        &typed_auth,
    ];
    lines.extend(DOTS);
    lines.push("QUIT");
    let args = [server.as_str(), "--ca", &ca, "--servername", "localhost"];
    let out = shell(&args, &lines).await;
    assert_eq!(out.code, 0, "{}", shown(&out));
    let messages = recorder.messages();
    assert_eq!(messages.len(), 1, "{}", shown(&out));
    assert_eq!(messages[0].0.authenticated.as_deref(), Some("alice"));
    // Once refused before TLS, once sent, encoded, and redacted.
    let refused_at = out
        .stdout
        .find("AUTH on a connection without TLS")
        .expect("refused");
    assert!(
        refused_at < out.stdout.find("C: STARTTLS").unwrap(),
        "{}",
        shown(&out)
    );
    assert_eq!(
        count(&out, "C: AUTH PLAIN <redacted>"),
        1,
        "{}",
        shown(&out)
    );
    assert_eq!(count(&out, "S: 235 "), 1, "{}", shown(&out));
    let encoded = sasl::encode(format!("\0alice\0{password}"));
    for secret in [password, "horse", encoded.as_str()] {
        assert!(
            !out.stdout.contains(secret),
            "{secret:?} shown: {}",
            shown(&out)
        );
        assert!(
            !out.stderr.contains(secret),
            "{secret:?} shown: {}",
            shown(&out)
        );
    }
}

#[tokio::test]
async fn a_warning_before_an_extension_the_server_did_not_offer() {
    let pki = Pki::new("Shell Warning CA");
    let (addr, recorder) = receiver(Listen::Plain, &pki, None).await;
    let server = addr.to_string();
    let lines = [
        "STARTTLS",
        "EHLO client.example",
        "STARTTLS",
        "HELO client.example",
        "MAIL FROM:<alice@example.org> SIZE=100",
        "!MAIL FROM:<alice@example.org> SIZE=100",
        "MAIL <alice@example.org>",
        "QUIT",
    ];
    let out = shell(&[&server], &lines).await;
    assert_eq!(out.code, 0, "{}", shown(&out));
    // Not offered, never sent: warned, with the reason.
    assert_eq!(count(&out, "C: STARTTLS"), 0, "{}", shown(&out));
    let text = &out.stdout;
    assert!(
        text.contains("STARTTLS (RFC 3207 §4) was not offered: no EHLO"),
        "{}",
        shown(&out)
    );
    assert!(
        text.contains("STARTTLS (RFC 3207 §4) was not offered: the server's EHLO reply"),
        "{}",
        shown(&out)
    );
    assert!(
        text.contains("after HELO a server offers no extensions"),
        "{}",
        shown(&out)
    );
    assert!(text.contains("not sent (type !STARTTLS"), "{}", shown(&out));
    // Forced with "!": sent once, and the server has its say.
    assert_eq!(
        count(&out, "C: MAIL FROM:<alice@example.org> SIZE=100"),
        1,
        "{}",
        shown(&out)
    );
    let forced = text
        .find("C: MAIL FROM:<alice@example.org> SIZE=100")
        .unwrap();
    let reply = text[forced..].lines().nth(1).unwrap_or_default();
    assert!(
        reply.trim_start().contains("S: 5"),
        "{reply}\n{}",
        shown(&out)
    );
    // An invalid command is explained and not sent.
    assert!(
        text.contains("not sent: expected \"MAIL FROM:<reverse-path>\""),
        "{}",
        shown(&out)
    );
    assert_eq!(count(&out, "C: MAIL <"), 0, "{}", shown(&out));
    assert!(recorder.messages().is_empty());
}

#[tokio::test]
async fn input_that_ends_inside_a_message_delivers_nothing() {
    let pki = Pki::new("Shell Abandon CA");
    let (addr, recorder) = receiver(Listen::Plain, &pki, None).await;
    let server = addr.to_string();
    // DOTS without its final "." line: the tool must not end it.
    let mut lines = vec!["EHLO client.example"];
    lines.extend(&DOTS[..DOTS.len() - 1]);
    let out = shell(&[&server], &lines).await;
    assert_eq!(out.code, 65, "{}", shown(&out));
    assert!(out.stdout.contains("abandoned"), "{}", shown(&out));
    // No end-of-data line ("C: ." and its note).
    assert_eq!(count(&out, "C: . "), 0, "{}", shown(&out));
    // The receiver had time to store anything it was going to.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(recorder.messages().is_empty());

    // Only implicit TLS or none can be asked for: STARTTLS is typed.
    let out = shell(&[&server, "--tls", "starttls"], &["QUIT"]).await;
    assert_eq!(out.code, 64, "{}", shown(&out));
    assert!(
        out.stderr.contains("type STARTTLS in the session"),
        "{}",
        shown(&out)
    );
}

/// aiosmtpd, or a line on stderr saying why the test is skipped.
async fn aiosmtpd(config: AiosmtpdConfig) -> Option<Aiosmtpd> {
    if let Err(missing) = Peer::Aiosmtpd.usable() {
        eprintln!("skipped: {missing}");
        return None;
    }
    Some(
        tokio::task::spawn_blocking(move || Aiosmtpd::start(&config))
            .await
            .unwrap()
            .expect("aiosmtpd starts"),
    )
}

#[tokio::test]
async fn aiosmtpd_takes_the_typed_message_and_lacks_chunking_and_dsn() {
    let Some(peer) = aiosmtpd(AiosmtpdConfig::plain()).await else {
        return;
    };
    let server = peer.addr().to_string();
    let mut lines = vec![
        "EHLO client.example",
        "BDAT 10 LAST",
        "MAIL FROM:<alice@example.org>",
        "RCPT TO:<bob@example.org> NOTIFY=SUCCESS",
    ];
    lines.extend(&DOTS[1..]);
    lines.push("QUIT");
    let out = shell(&[&server], &lines).await;
    assert_eq!(out.code, 0, "{}", shown(&out));
    let text = &out.stdout;
    assert!(
        text.contains("CHUNKING (RFC 3030 §2) was not offered"),
        "{}",
        shown(&out)
    );
    assert!(
        text.contains("DSN (RFC 3461 §4) was not offered"),
        "{}",
        shown(&out)
    );
    assert_eq!(count(&out, "C: BDAT"), 0, "{}", shown(&out));
    assert_eq!(count(&out, "C: RCPT TO:<bob@example.org> NOTIFY"), 0);
    let stored =
        tokio::task::spawn_blocking(move || peer.wait_for_messages(1, Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored[0].envelope.rcpt_to, ["bob@example.org"]);
    assert_eq!(
        stored[0].file.normalized(),
        DOTS_TEXT.replace("\r\n", "\n").into_bytes()
    );
}

#[tokio::test]
async fn auth_login_against_aiosmtpd_after_starttls() {
    let pki = Pki::new("Shell aiosmtpd CA");
    let config = AiosmtpdConfig::tls(
        AiosmtpdTls::StartTls { required: false },
        &pki.files.server_cert,
        &pki.files.server_key,
    )
    .user("carol", "Tr0ub4dor&3");
    let Some(peer) = aiosmtpd(config).await else {
        return;
    };
    let server = peer.addr().to_string();
    let ca = pki.ca_file.display().to_string();
    // Without a terminal, the user name and the password are the next lines.
    let mut lines = vec![
        "EHLO client.example",
        "STARTTLS",
        "EHLO client.example",
        "AUTH LOGIN",
        "carol",
        "Tr0ub4dor&3",
    ];
    lines.extend(DOTS);
    lines.push("QUIT");
    let args = [server.as_str(), "--ca", &ca, "--servername", "localhost"];
    let out = shell(&args, &lines).await;
    assert_eq!(out.code, 0, "{}", shown(&out));
    assert_eq!(count(&out, "S: 235 "), 1, "{}", shown(&out));
    // aiosmtpd's challenges are "User Name\0" and "Password\0".
    assert!(
        out.stdout.contains("the challenge decodes to \"User Name"),
        "{}",
        shown(&out)
    );
    let encoded = sasl::encode("Tr0ub4dor&3");
    for secret in ["Tr0ub4dor", encoded.as_str()] {
        assert!(
            !out.stdout.contains(secret),
            "{secret:?} shown: {}",
            shown(&out)
        );
    }
    let stored =
        tokio::task::spawn_blocking(move || peer.wait_for_messages(1, Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored[0].envelope.login.as_deref(), Some("carol"));
    assert!(stored[0].envelope.tls.is_some());
}

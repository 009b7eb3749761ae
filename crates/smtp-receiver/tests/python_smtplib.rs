//! An independent client: Python's smtplib, with STARTTLS + login and with
//! implicit TLS (SMTP_SSL) + login, sending a multipart message built with
//! Python's `email` package. The stored file must be, after the trace
//! header lines, byte for byte what Python sent, with LF line ends (the
//! Maildir's local format, docs/receiver.md).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{TestCerts, files, lf, start, strip_trace, test_config};
use smtp_receiver::{MaildirHandler, Users, WithUsers};

const CLIENT: &str = r#"
import base64, smtplib, ssl, sys
from email.message import EmailMessage
from email.generator import BytesGenerator
from io import BytesIO

host, port, tls_port, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def build(subject):
    m = EmailMessage()
    m["From"] = "Alice <alice@client.example>"
    m["To"] = "Bob <bob@example.org>"
    m["Subject"] = subject
    m.set_content("Hello Bob,\n\nplain text, with a line starting with a dot:\n.like this\n")
    m.add_alternative("<p>Hello <b>Bob</b></p>\n", subtype="html")
    m.add_attachment(bytes(range(256)) * 40, maintype="application", subtype="octet-stream", filename="data.bin")
    out = BytesIO()
    BytesGenerator(out).flatten(m, linesep="\r\n")
    flat = out.getvalue()
    assert flat.endswith(b"\r\n")
    return flat

def report(tag, flat):
    print(tag, base64.b64encode(flat).decode(), flush=True)

ctx = ssl.create_default_context(cafile=ca)

with smtplib.SMTP(host, port, local_hostname="client.example", timeout=20) as s:
    s.starttls(context=ctx)
    s.ehlo("client.example")
    s.login("alice", "s3cret")
    flat = build("via STARTTLS")
    refused = s.sendmail("alice@client.example", ["bob@example.org"], flat)
    assert refused == {}, refused
    report("STARTTLS", flat)

with smtplib.SMTP_SSL(host, tls_port, local_hostname="client.example", context=ctx, timeout=20) as s:
    s.login("alice", "s3cret")
    flat = build("via SMTP_SSL")
    s.sendmail("alice@client.example", ["bob@example.org"], flat)
    report("SMTP_SSL", flat)

# A wrong password is refused with 535.
try:
    with smtplib.SMTP_SSL(host, tls_port, local_hostname="client.example", context=ctx, timeout=20) as s:
        s.login("alice", "wrong")
    print("LOGIN-WRONG accepted")
except smtplib.SMTPAuthenticationError as e:
    print("LOGIN-WRONG", e.smtp_code)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn python_smtplib_starttls_and_smtp_ssl_deliver_byte_for_byte() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("python3 not found: python_smtplib test skipped");
        return;
    }
    let certs = TestCerts::generate();
    let mail = tempfile::tempdir().unwrap();
    let mut users = Users::new();
    users.insert("alice", "s3cret");
    let handler = WithUsers::new(MaildirHandler::open(mail.path(), "mx.test").unwrap(), users);
    let server = start(test_config(Some(&certs)), handler).await;

    let args = [
        "127.0.0.1".to_string(),
        server.plain.port().to_string(),
        server.tls.unwrap().port().to_string(),
        certs.files.ca_cert.display().to_string(),
    ];
    let stdout = common::python(CLIENT, &args).await;

    let mut sent = std::collections::HashMap::new();
    for line in stdout.lines() {
        let (tag, value) = line.split_once(' ').unwrap();
        sent.insert(tag.to_string(), value.to_string());
    }
    assert_eq!(sent["LOGIN-WRONG"], "535");

    let stored = files(&mail.path().join("new"));
    assert_eq!(stored.len(), 2, "two messages stored");
    for (tag, protocol) in [("STARTTLS", "ESMTPSA"), ("SMTP_SSL", "ESMTPSA")] {
        let expected = smtp_wire::sasl::decode(sent[tag].as_bytes()).unwrap();
        let subject = format!("Subject: via {tag}\n");
        let path = stored
            .iter()
            .find(|p| std::fs::read_to_string(p).unwrap().contains(&subject))
            .unwrap_or_else(|| panic!("no stored message for {tag}"));
        let bytes = std::fs::read(path).unwrap();
        let expected = lf(expected);
        assert_eq!(
            strip_trace(&bytes),
            &expected[..],
            "{tag}: stored message differs from what was sent"
        );
        let trace = String::from_utf8_lossy(&bytes[..bytes.len() - expected.len()]).into_owned();
        assert!(
            trace.starts_with(
                "Return-Path: <alice@client.example>\nX-Original-To: bob@example.org\n"
            ),
            "{trace}"
        );
        assert!(
            trace.contains("Received: from client.example ([127.0.0.1])\n\tby mx.test with "),
            "{trace}"
        );
        assert!(trace.contains(&format!(" with {protocol} id ")), "{trace}");
        assert!(trace.contains("\tfor <bob@example.org>;\n"), "{trace}");
    }
    server.stop().await;
}

/// RFC 3461 from an independent client: smtplib's `mail_options` and
/// `rcpt_options` pass RET, ENVID, NOTIFY and ORCPT; the receiver
/// advertises DSN, accepts them, and keeps them with the stored message.
#[tokio::test(flavor = "multi_thread")]
async fn python_smtplib_dsn_parameters_are_kept_with_the_message() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("python3 not found: python_smtplib test skipped");
        return;
    }
    let mail = tempfile::tempdir().unwrap();
    let handler = MaildirHandler::open(mail.path(), "mx.test").unwrap();
    let server = start(test_config(None), handler).await;
    let script = r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.example", timeout=20) as s:
    s.ehlo()
    assert s.has_extn("dsn"), s.esmtp_features
    s.sendmail("alice@client.example", ["bob@example.org"], b"Subject: dsn\r\n\r\nhi\r\n",
               mail_options=["RET=HDRS", "ENVID=QQ314159"],
               rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.org"])
    code, _ = s.docmd("MAIL FROM:<alice@client.example>")
    assert code == 250, code
    code, text = s.docmd("RCPT TO:<bob@example.org> NOTIFY=NEVER,SUCCESS")
    print("MIXED", code)
"#;
    let stdout = common::python(script, &[server.plain.port().to_string()]).await;
    assert_eq!(
        stdout.trim(),
        "MIXED 501",
        "NOTIFY=NEVER stands alone (RFC 3461 §4.1)"
    );
    let stored = files(&mail.path().join("new"));
    assert_eq!(stored.len(), 1);
    let text = std::fs::read_to_string(&stored[0]).unwrap();
    assert!(
        text.contains("X-Envelope-DSN: MAIL FROM:<> RET=HDRS ENVID=QQ314159\n"),
        "{text}"
    );
    assert!(
        text.contains("X-Envelope-DSN: RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org\n"),
        "{text}"
    );
    assert_eq!(strip_trace(text.as_bytes()), b"Subject: dsn\n\nhi\n");
}

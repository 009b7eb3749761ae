//! nodemailer's smtp-server and the private Exim start, take a message over
//! STARTTLS with AUTH from Python's smtplib, refuse a relay recipient, and
//! are gone once their guard is dropped. Skipped, with a message, when the
//! peer is not installed (`bash .ci/install-peers`) or cannot run here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use smtp_peers::{Exim, EximConfig, NodeSmtpServer, NodeSmtpServerConfig, NodeSmtpTls, Peer};
use smtp_testkit::certs::{PkiFiles, TestPki};

const USER: &str = "alice";
const PASSWORD: &str = "peer-s3cret";

fn pki(dir: &Path) -> PkiFiles {
    TestPki::generate().unwrap().write(dir).unwrap()
}

/// smtplib over STARTTLS with AUTH: one message to inbox@example.test, then
/// RCPT to a foreign domain alone. Prints `sent` and then `refused` or
/// `relayed`.
fn smtplib_session(addr: SocketAddr, ca: &Path) -> String {
    let script = format!(
        "import smtplib, ssl\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         with smtplib.SMTP('localhost', {port}, timeout=30) as s:\n\
         \x20   s.starttls(context=ctx)\n\
         \x20   s.login({USER:?}, {PASSWORD:?})\n\
         \x20   s.sendmail('a@example.test', ['inbox@example.test'], b'Subject: hi\\r\\n\\r\\nhello\\r\\n')\n\
         \x20   print('sent')\n\
         \x20   try:\n\
         \x20       s.sendmail('a@example.test', ['x@elsewhere.test'], b'Subject: relay\\r\\n\\r\\nno\\r\\n')\n\
         \x20       print('relayed')\n\
         \x20   except smtplib.SMTPRecipientsRefused as e:\n\
         \x20       print('refused', list(e.recipients.values())[0][0])\n",
        ca = ca.display().to_string(),
        port = addr.port(),
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "smtplib failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn gone(pid: u32) -> bool {
    // The guard waited for it: no zombie is left either.
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn smtp_server_takes_a_message_over_starttls_with_auth_and_refuses_relaying() {
    if let Err(why) = Peer::NodeSmtpServer.version() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let config =
        NodeSmtpServerConfig::tls(NodeSmtpTls::StartTls, &pki.server_cert, &pki.server_key)
            .user(USER, PASSWORD)
            .domain("example.test");
    let server = NodeSmtpServer::start(&config).expect("smtp-server starts");
    let said = smtplib_session(server.addr(), &pki.ca_cert);
    assert_eq!(said, "sent\nrefused 550\n");
    let stored = server
        .wait_for_messages(1, Duration::from_secs(10))
        .unwrap();
    assert_eq!(stored.len(), 1);
    let envelope = &stored[0].envelope;
    assert_eq!(envelope.login.as_deref(), Some(USER));
    assert_eq!(envelope.rcpt_to, ["inbox@example.test"]);
    assert_eq!(envelope.tls.as_deref(), Some("TLS"));
    assert!(
        stored[0]
            .file
            .ends_with_message(b"Subject: hi\r\n\r\nhello\r\n")
    );
}

#[test]
fn exim_takes_a_message_over_starttls_with_auth_refuses_relaying_and_stops() {
    if let Err(why) = Peer::Exim.usable() {
        eprintln!("skipped: {why}");
        return;
    }
    let passwd_before = std::fs::read_to_string("/etc/passwd").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let mut config = EximConfig::new(&pki.server_cert, &pki.server_key);
    config.users.push((USER.into(), PASSWORD.into()));
    let mut exim = Exim::start(&config).expect("Exim starts");
    let pid = exim.process().pid();
    let said = smtplib_session(exim.addr(), &pki.ca_cert);
    assert_eq!(said, "sent\nrefused 550\n");
    let log = exim.log();
    assert!(
        log.contains("<= a@example.test") && log.contains("A=plain:alice"),
        "{log}"
    );
    drop(exim);
    assert!(gone(pid), "Exim (pid {pid}) outlived its guard");
    // The namespace's passwd was private: the system's is as it was.
    assert_eq!(
        std::fs::read_to_string("/etc/passwd").unwrap(),
        passwd_before
    );
}

#[test]
fn a_bad_exim_user_name_is_refused_before_anything_starts() {
    let mut config = EximConfig::new(Path::new("c.pem"), Path::new("k.pem"));
    config.users.push(("alice".into(), "pass}word".into()));
    if Peer::Exim.usable().is_err() {
        eprintln!("skipped: Exim is not installed or cannot run here");
        return;
    }
    let err = Exim::start(&config).unwrap_err();
    assert!(err.to_string().contains("letters, digits"), "{err}");
}

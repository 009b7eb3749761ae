//! Behind HAProxy: the PROXY protocol (v1 and v2) names the real client,
//! and the receiver uses that address (here: in the stored `Received:`
//! line). Python's smtplib connects from 127.0.0.9 to HAProxy, which
//! connects from 127.0.0.1 to the receiver. A connection that does not
//! come from a trusted proxy, or brings no header, is closed without a
//! greeting.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{files, start, test_config};
use smtp_peers::{Haproxy, Peer, ProxyVersion};
use smtp_receiver::MaildirHandler;
use smtp_receiver::network::Cidr;
use smtp_receiver::server::ProxyProtocol;
use tokio::io::AsyncReadExt;

async fn send_from(source: &str, port: u16, subject: &str) {
    let script = r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.example",
                  source_address=(sys.argv[2], 0), timeout=20) as s:
    s.sendmail("alice@client.example", ["bob@example.org"], f"Subject: {sys.argv[3]}\r\n\r\nhi\r\n")
"#;
    common::python(script, &[port.to_string(), source.into(), subject.into()]).await;
}

/// The server closes `stream` within 5 s, having sent nothing.
async fn closed_without_greeting(stream: &mut tokio::net::TcpStream) {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got))
        .await
        .expect("closed at once")
        .unwrap();
    assert!(
        got.is_empty(),
        "no greeting: {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_v1_and_v2_name_the_real_client() {
    if let Err(missing) = Peer::Haproxy.version() {
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let mail = tempfile::tempdir().unwrap();
    let mut config = test_config(None);
    config.proxy_protocol = Some(ProxyProtocol {
        trusted: vec!["127.0.0.1/32".parse::<Cidr>().unwrap()],
    });
    let server = start(
        config,
        MaildirHandler::open(mail.path(), "mx.test").unwrap(),
    )
    .await;

    for (version, source) in [
        (ProxyVersion::V2, "127.0.0.9"),
        (ProxyVersion::V1, "127.0.0.10"),
    ] {
        let proxy = Haproxy::start(&[server.plain], version).unwrap();
        let port = proxy.addr().port();
        send_from(source, port, "via haproxy").await;
        let stored = files(&mail.path().join("new"));
        let text = stored
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .find(|t| t.contains(&format!("([{source}])")))
            .unwrap_or_else(|| panic!("{version:?}: no message from {source}: {stored:?}"));
        assert!(
            text.contains(&format!("Received: from client.example ([{source}])")),
            "{text}"
        );
    }

    // Not from the trusted proxy (127.0.0.5 directly): closed, no greeting.
    let direct = tokio::net::TcpSocket::new_v4().unwrap();
    direct.bind("127.0.0.5:0".parse().unwrap()).unwrap();
    let mut direct = direct.connect(server.plain).await.unwrap();
    closed_without_greeting(&mut direct).await;

    // From the trusted address but without a header: closed, no greeting.
    let mut bare = tokio::net::TcpStream::connect(server.plain).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut bare, b"EHLO client.example\r\n")
        .await
        .unwrap();
    closed_without_greeting(&mut bare).await;
    server.stop().await;
}

/// XCLIENT (Postfix's extension, what nginx's mail proxy sends) from
/// Python's smtplib on a trusted address: the client it names is the one
/// in the stored `Received:` line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_from_a_trusted_mail_proxy() {
    let mail = tempfile::tempdir().unwrap();
    let mut config = test_config(None);
    config.xclient_hosts = vec!["127.0.0.1/32".parse::<Cidr>().unwrap()];
    let server = start(
        config,
        MaildirHandler::open(mail.path(), "mx.test").unwrap(),
    )
    .await;
    let port = server.plain.port().to_string();
    let script = r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="proxy.example", timeout=20) as s:
    s.ehlo()
    assert s.has_extn("xclient"), s.esmtp_features
    code, text = s.docmd("XCLIENT", "NAME=client.example ADDR=192.0.2.77 PORT=4025 PROTO=ESMTP")
    assert code == 220, (code, text)
    s.ehlo_resp = None
    s.ehlo("client.example")
    s.sendmail("alice@client.example", ["bob@example.org"], b"Subject: via xclient\r\n\r\nhi\r\n")
"#;
    common::python(script, &[port]).await;
    let stored = files(&mail.path().join("new"));
    let text = std::fs::read_to_string(&stored[0]).unwrap();
    assert!(
        text.contains("Received: from client.example ([192.0.2.77])"),
        "{text}"
    );
    server.stop().await;
}

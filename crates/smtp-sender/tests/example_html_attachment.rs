//! `examples/html_attachment.rs` end to end: its message goes over real
//! implicit TLS (a certificate from the test CA, the CA in a file as on its
//! command line) to the scripted server, which takes it apart with
//! smtp-mime: the HTML body, its text alternative and the attachment arrive
//! intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../examples/html_attachment.rs"]
#[allow(dead_code)]
mod example;
mod support;

use smtp_mime::{attachment_by_name, inspect};
use smtp_testkit::server::serve_tls;
use support::Pki;

#[tokio::test]
async fn the_example_sends_html_and_an_attachment_over_implicit_tls() {
    let pki = Pki::new("Example CA");
    let (addr, server) = serve_tls(pki.leaf(), |conn| async move {
        let mut c = conn.expect("the client completes the TLS handshake");
        c.send("220 mx.example.org ESMTP\r\n").await;
        c.expect("EHLO").await;
        c.send("250-mx.example.org\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n")
            .await;
        c.expect("MAIL FROM:<alice@example.com> SIZE=").await;
        c.send("250 2.1.0 ok\r\n").await;
        c.expect("RCPT TO:<bob@example.org>").await;
        c.send("250 2.1.5 ok\r\n").await;
        c.expect("DATA").await;
        c.send("354 go ahead\r\n").await;
        let message = c.read_data().await;
        c.send("250 2.0.0 queued\r\n").await;
        c.expect("QUIT").await;
        c.send("221 2.0.0 bye\r\n").await;
        message
    })
    .await;

    let message = example::compose("alice@example.com", "bob@example.org").unwrap();
    let server_name = format!("localhost:{}", addr.port());
    let report = example::send(
        &server_name,
        &pki.ca_file,
        "alice@example.com",
        "bob@example.org",
        &message,
    )
    .await
    .unwrap();
    assert!(report.all_accepted(), "{report}");
    assert_eq!(
        report.to_string(),
        "accepted <bob@example.org>: 250 2.0.0 queued\n"
    );

    let received = server.await.unwrap();
    assert_eq!(received, message, "byte for byte");
    let seen = inspect(&received);
    assert_eq!(seen.subject.as_deref(), Some("Quarterly figures"));
    assert!(
        seen.html
            .as_deref()
            .unwrap()
            .contains("<b>quarterly figures</b>")
    );
    assert!(
        seen.text
            .as_deref()
            .unwrap()
            .contains("quarterly figures are attached")
    );
    let attached = attachment_by_name(&seen, "figures.csv").expect("the attachment");
    assert_eq!(attached.bytes, example::FIGURES);
    assert!(attached.content_type.starts_with("text/csv"));
}

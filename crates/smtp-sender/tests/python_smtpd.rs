//! Against an independent Receiver-SMTP, Python 3.11's smtpd: every message
//! must arrive byte-identical (as smtpd represents it: lines joined by LF).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use smtp_mime::{Address, Attachment, MessageBuilder};
use smtp_sender::{Client, ClientConfig, Envelope, EnvelopeFromHeaders, Timeouts, TlsMode};
use support::python::{as_smtpd_sees_it, envelope, start_smtpd, stored};

fn config(port: u16) -> ClientConfig {
    let mut c = ClientConfig::new("127.0.0.1", port);
    c.tls = TlsMode::None;
    c.ehlo_name = Some("client.example".into());
    c.timeouts = Timeouts::all(Duration::from_secs(10));
    c
}

fn messages() -> Vec<Vec<u8>> {
    let big: String = (0..4000)
        .map(|i| format!("line {i:05} {}\r\n", "z".repeat(40)))
        .collect();
    vec![
        b"Subject: plain\r\n\r\nHello.\r\n".to_vec(),
        b"Subject: dots\r\n\r\n.leading dot\r\n.\r\n..two dots\r\nend\r\n".to_vec(),
        "Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e\r\n"
            .as_bytes()
            .to_vec(),
        format!("Subject: big\r\n\r\n{big}").into_bytes(),
        b"Subject: bare line ends\nX-Test: yes\n\nbare LF\nbare CR\rend".to_vec(),
        b"Subject: smuggling attempt\r\n\r\nbody\n.\nMAIL FROM:<evil@example>\r\nend\r\n".to_vec(),
    ]
}

#[tokio::test]
async fn every_message_arrives_byte_identical_over_one_connection() {
    let Some(smtpd) = start_smtpd().await else {
        return;
    };
    let mut client = Client::connect(config(smtpd.addr().port())).await.unwrap();
    assert!(
        client.server_info().offers("8BITMIME"),
        "smtpd with decode_data=False offers 8BITMIME"
    );
    let env = Envelope::new(
        "alice@example.com",
        &["bob@example.org", "carol@example.org"],
    )
    .unwrap();
    let sent = messages();
    for message in &sent {
        let report = client.send(&env, message).await.unwrap();
        assert!(report.all_accepted(), "{report}");
    }
    client.quit().await.unwrap();

    let arrived = stored(&smtpd, sent.len());
    for (i, (message, arrived)) in sent.iter().zip(&arrived).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(&arrived.file.bytes),
            String::from_utf8_lossy(&as_smtpd_sees_it(message)),
            "message {}",
            i + 1
        );
        assert_eq!(
            envelope(arrived),
            ["alice@example.com", "bob@example.org", "carol@example.org"]
        );
    }
    // The transcript shows the RSET between messages.
    assert!(client.transcript().render().contains("C: RSET"));
}

#[tokio::test]
async fn composed_message_with_attachment_and_headers_envelope() {
    let Some(smtpd) = start_smtpd().await else {
        return;
    };
    let composed = MessageBuilder::new()
        .from(Address {
            name: Some("Alice".into()),
            email: "alice@example.com".into(),
        })
        .to("bob@example.org".parse().unwrap())
        .cc("carol@example.org".parse().unwrap())
        .subject("Report")
        .text("See the attachment.\n")
        .attach(Attachment {
            filename: "data.bin".into(),
            content_type: "application/octet-stream".into(),
            bytes: (0..=255u8).cycle().take(5000).collect(),
        })
        .build()
        .unwrap();
    // A Bcc header the way a user might write one: it must not be transmitted.
    let mut with_bcc = b"Bcc: dave@example.net\r\n".to_vec();
    with_bcc.extend_from_slice(&composed.bytes);
    let (env, to_send) = Envelope::from_headers(&with_bcc).unwrap();
    assert_eq!(to_send, composed.bytes);

    let report = smtp_sender::send_mail(config(smtpd.addr().port()), &env, &to_send)
        .await
        .unwrap();
    assert_eq!(report.recipients.len(), 3);
    assert!(report.all_accepted());
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
    assert_eq!(arrived[0].file.bytes, as_smtpd_sees_it(&composed.bytes));
}

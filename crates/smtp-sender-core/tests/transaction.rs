//! The transaction machine and the extension planner against scripted
//! replies, through the connection: per-recipient results, pipelining,
//! BDAT, RSET, SIZE, 8BITMIME, SMTPUTF8, dot-stuffing. No sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use smtp_sender_core::{
    Capabilities, Domain, Envelope, ForwardPath, Message, Outcome, Plan, Preferences,
    ProtocolError, Reply, Report, SendError, ServerInfo, Transaction, TransportError,
    headers_need_smtputf8, plan,
};
use smtp_wire::path::Mailbox;
use support::script::{Run, protocol_error, run};

/// A server that announced these EHLO keywords (one per line).
fn server(keywords: &[&str]) -> ServerInfo {
    let mut text = String::from("mx.example.org");
    for k in keywords {
        text.push('\n');
        text.push_str(k);
    }
    ServerInfo {
        greeting: Reply::new(220, "mx.example.org"),
        capabilities: Capabilities::from_ehlo_reply(&Reply::new(250, &text)),
        esmtp: true,
        tls: true,
        authenticated: false,
        lmtp: false,
    }
}

fn envelope(to: &[&str]) -> Envelope {
    Envelope::new("alice@example.com", to).unwrap()
}

const ALL_ON: Preferences = Preferences {
    pipelining: true,
    chunking: true,
};

fn transaction<'a>(
    env: &Envelope,
    message: &'a [u8],
    srv: &ServerInfo,
    reset_first: bool,
) -> Transaction<'a> {
    let message = Message::new(message);
    let plan = plan(env, &message, srv, ALL_ON).unwrap();
    Transaction::new(
        env,
        message,
        plan,
        reset_first,
        srv.offers("ENHANCEDSTATUSCODES"),
    )
    .unwrap()
}

/// Runs the transaction and returns the run and the report.
fn send(tx: Transaction<'_>, script: &str) -> (Run, Result<Report, SendError>) {
    let mut tx = tx;
    let mut r = run(&mut tx, script);
    assert!(!r.starved, "the script ran out: client wrote\n{}", r.text());
    if let Err(e) = std::mem::replace(&mut r.result, Ok(())) {
        return (r, Err(e));
    }
    let report = tx.into_report();
    (r, report)
}

/// The protocol error behind a failed report.
fn refusal(report: Result<Report, SendError>) -> ProtocolError {
    match report {
        Err(SendError::Protocol(error)) => error,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

const MESSAGE: &[u8] = b"Subject: test\r\n\r\nHello\r\n";

#[test]
fn one_refused_one_deferred_the_others_still_get_it() {
    let srv = server(&["ENHANCEDSTATUSCODES"]);
    let env = envelope(&["a@example.org", "b@example.org", "c@example.org"]);
    let (r, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n450 4.2.1 mailbox busy\r\n\
         354 go\r\n250 2.0.0 queued\r\n",
    );
    let report = report.unwrap();
    assert_eq!(
        r.lines(),
        [
            "MAIL FROM:<alice@example.com>",
            "RCPT TO:<a@example.org>",
            "RCPT TO:<b@example.org>",
            "RCPT TO:<c@example.org>",
            "DATA",
            "Subject: test",
            "Hello",
            "."
        ]
    );
    // Without PIPELINING every command is its own write.
    assert!(r.writes.len() >= 5);
    let outcomes: Vec<Outcome> = report.recipients.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Accepted, Outcome::Refused, Outcome::Deferred]
    );
    assert_eq!(report.recipients[1].reply.code, 550);
    assert_eq!(
        report.recipients[1].reply.enhanced.unwrap().to_string(),
        "5.1.1"
    );
    assert_eq!(report.recipients[0].reply.code, 250);
    assert!(report.enhanced_status_codes);
    assert!(!report.all_accepted());
}

/// RFC 2033 §4.2: after the final dot, one reply per accepted recipient,
/// in RCPT order; each decides its own recipient.
#[test]
fn lmtp_reads_one_reply_per_accepted_recipient_after_the_data() {
    let srv = ServerInfo {
        lmtp: true,
        ..server(&["PIPELINING", "CHUNKING", "ENHANCEDSTATUSCODES"])
    };
    let env = envelope(&[
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
    ]);
    let tx = transaction(&env, MESSAGE, &srv, false);
    let (r, report) = send(
        tx,
        "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n\
         354 go\r\n250 2.0.0 <a> saved\r\n452 4.2.2 <c> over quota\r\n552 5.2.2 <d> mailbox full\r\n",
    );
    assert!(
        r.lines().contains(&"DATA".to_string()),
        "DATA, not BDAT, on LMTP: {:?}",
        r.lines()
    );
    let report = report.unwrap();
    let got: Vec<(Outcome, u16)> = report
        .recipients
        .iter()
        .map(|r| (r.outcome, r.reply.code))
        .collect();
    assert_eq!(
        got,
        [
            (Outcome::Accepted, 250),
            (Outcome::Refused, 550),
            (Outcome::Deferred, 452),
            (Outcome::Refused, 552),
        ]
    );
    assert_eq!(report.data_reply.unwrap().code, 250);
}

/// RFC 2033 §4.2: a recipient whose reply never came (the connection
/// broke) was not delivered: deferred, never reported delivered.
#[test]
fn lmtp_recipients_without_a_reply_are_deferred() {
    let srv = ServerInfo {
        lmtp: true,
        ..server(&["PIPELINING"])
    };
    let env = envelope(&["a@example.org", "b@example.org"]);
    let mut tx = transaction(&env, MESSAGE, &srv, false);
    let r = run(
        &mut tx,
        "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 <a> saved\r\n",
    );
    assert!(r.starved, "the script ends before b's reply");
    let report = tx
        .report_after_failure(TransportError::Io(std::io::ErrorKind::ConnectionReset.into()).into())
        .unwrap();
    assert_eq!(report.recipients[0].outcome, Outcome::Accepted);
    assert_eq!(report.recipients[1].outcome, Outcome::Deferred);
}

/// A refused DATA on LMTP answers for every accepted recipient, as in
/// SMTP: no per-recipient replies follow a refusal.
#[test]
fn lmtp_data_refused_refuses_every_recipient() {
    let srv = ServerInfo {
        lmtp: true,
        ..server(&["PIPELINING"])
    };
    let env = envelope(&["a@example.org", "b@example.org"]);
    let (_, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "250 ok\r\n250 ok\r\n250 ok\r\n554 5.3.0 mailbox store off\r\n250 reset\r\n",
    );
    let report = report.unwrap();
    for r in &report.recipients {
        assert_eq!(r.reply.code, 554, "{report}");
        assert_eq!(r.outcome, Outcome::Refused);
    }
}

#[test]
fn no_recipient_accepted_means_no_data_then_rset() {
    let srv = server(&[]);
    let env = envelope(&["a@example.org", "b@example.org"]);
    let (r, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "250 ok\r\n550 no\r\n451 later\r\n250 reset\r\n",
    );
    assert_eq!(
        r.lines(),
        [
            "MAIL FROM:<alice@example.com>",
            "RCPT TO:<a@example.org>",
            "RCPT TO:<b@example.org>",
            "RSET"
        ]
    );
    let report = report.unwrap();
    assert_eq!(report.data_reply, None);
    assert_eq!(report.refused().count(), 1);
    assert_eq!(report.deferred().count(), 1);
}

#[test]
fn pipelining_sends_one_flight_and_matches_replies_in_order() {
    let srv = server(&["PIPELINING"]);
    let env = envelope(&["a@example.org", "b@example.org"]);
    let (r, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n354 go\r\n250 queued\r\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&r.writes[0]),
        "MAIL FROM:<alice@example.com>\r\nRCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    );
    let report = report.unwrap();
    assert_eq!(report.recipients[0].outcome, Outcome::Refused);
    assert_eq!(report.recipients[1].outcome, Outcome::Accepted);
    assert_eq!(report.data_reply.unwrap().code, 250);
}

#[test]
fn pipelining_with_nobody_accepted_handles_the_data_refusal_and_resets() {
    let srv = server(&["PIPELINING"]);
    let env = envelope(&["a@example.org"]);
    let (r, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "250 ok\r\n550 no\r\n554 5.5.1 no valid recipients\r\n250 reset\r\n",
    );
    assert_eq!(r.lines().last().unwrap(), "RSET");
    assert!(!r.text().contains("Hello"));
    let report = report.unwrap();
    assert_eq!(report.recipients[0].outcome, Outcome::Refused);
    assert_eq!(report.recipients[0].reply.code, 550);
}

#[test]
fn pipelining_with_nobody_accepted_but_354_sends_a_lone_dot() {
    // RFC 2920 §3.1: "the client SMTP should send a single dot".
    let srv = server(&["PIPELINING"]);
    let env = envelope(&["a@example.org"]);
    let (r, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "250 ok\r\n550 no\r\n354 go ahead anyway\r\n554 no recipients\r\n250 reset\r\n",
    );
    assert_eq!(r.writes[1], b".\r\n");
    assert_eq!(r.lines().last().unwrap(), "RSET");
    assert!(!r.text().contains("Hello"));
    assert_eq!(report.unwrap().recipients[0].outcome, Outcome::Refused);
}

#[test]
fn refused_sender_stops_the_transaction() {
    let srv = server(&[]);
    let env = envelope(&["a@example.org"]);
    let (r, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "553 5.7.1 not you\r\n250 reset\r\n",
    );
    assert_eq!(r.lines(), ["MAIL FROM:<alice@example.com>", "RSET"]);
    let err = refusal(report);
    assert!(matches!(err, ProtocolError::SenderRefused(_)));
    assert!(err.is_permanent());
}

#[test]
fn refused_sender_with_pipelining_consumes_every_reply() {
    let srv = server(&["PIPELINING"]);
    let env = envelope(&["a@example.org", "b@example.org"]);
    let (r, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "451 4.3.0 try later\r\n503 need MAIL\r\n503 need MAIL\r\n503 need MAIL\r\n250 reset\r\n",
    );
    assert_eq!(r.lines().last().unwrap(), "RSET");
    let err = refusal(report);
    assert!(matches!(err, ProtocolError::SenderRefused(_)));
    assert!(err.is_temporary());
}

#[test]
fn service_closing_in_the_middle() {
    let srv = server(&[]);
    let env = envelope(&["a@example.org", "b@example.org"]);
    let mut tx = transaction(&env, MESSAGE, &srv, false);
    let r = run(&mut tx, "250 ok\r\n421 4.3.2 shutting down\r\n");
    let err = protocol_error(r.result);
    assert!(matches!(err, ProtocolError::ServiceClosing(_)));
    assert!(err.is_temporary());
}

#[test]
fn content_refused_after_the_dot() {
    let srv = server(&[]);
    let env = envelope(&["a@example.org", "b@example.org"]);
    let (_, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n554 5.7.1 spam\r\n",
    );
    let report = report.unwrap();
    assert!(
        report
            .recipients
            .iter()
            .all(|r| r.outcome == Outcome::Refused)
    );
    assert!(report.recipients.iter().all(|r| r.rcpt_reply.code == 250));

    let (_, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n451 4.3.0 disk full\r\n",
    );
    assert!(
        report
            .unwrap()
            .recipients
            .iter()
            .all(|r| r.outcome == Outcome::Deferred)
    );
}

#[test]
fn data_refused_before_the_content() {
    let srv = server(&[]);
    let env = envelope(&["a@example.org"]);
    let (r, report) = send(
        transaction(&env, MESSAGE, &srv, false),
        "250 ok\r\n250 ok\r\n451 4.3.0 not now\r\n250 reset\r\n",
    );
    assert_eq!(r.lines().last().unwrap(), "RSET");
    assert_eq!(report.unwrap().recipients[0].outcome, Outcome::Deferred);
}

#[test]
fn a_250_to_data_is_a_protocol_error() {
    let srv = server(&[]);
    let env = envelope(&["a@example.org"]);
    let mut tx = transaction(&env, MESSAGE, &srv, false);
    let r = run(&mut tx, "250 ok\r\n250 ok\r\n250 what\r\n");
    assert!(matches!(
        r.protocol_error(),
        ProtocolError::UnexpectedReply {
            command: "DATA",
            ..
        }
    ));
}

#[test]
fn rset_first_for_a_further_message() {
    let srv = server(&[]);
    let env = envelope(&["a@example.org"]);
    let (r, _) = send(
        transaction(&env, MESSAGE, &srv, true),
        "250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
    );
    assert_eq!(r.lines()[0], "RSET");

    let srv = server(&["PIPELINING"]);
    let (r, _) = send(
        transaction(&env, MESSAGE, &srv, true),
        "250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
    );
    assert!(String::from_utf8_lossy(&r.writes[0]).starts_with("RSET\r\nMAIL FROM:"));
}

#[test]
fn dot_stuffing_and_no_smuggling() {
    let srv = server(&[]);
    let env = envelope(&["a@example.org"]);
    // A bare-LF "." line and a CRLF "." line followed by a command: neither
    // may end the data; both leading dots are doubled.
    let message =
        b"Subject: x\r\n\r\nline\n.\nMAIL FROM:<evil@example>\r\n.\r\nRSET\r\n.hidden\r\nend";
    let (r, report) = send(
        transaction(&env, message, &srv, false),
        "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
    );
    report.unwrap();
    let data_start = r.text().find("DATA\r\n").unwrap() + 6;
    let data = &r.text()[data_start..];
    assert_eq!(
        data,
        "Subject: x\r\n\r\nline\r\n..\r\nMAIL FROM:<evil@example>\r\n..\r\nRSET\r\n..hidden\r\nend\r\n.\r\n"
    );
    assert_eq!(
        data.matches("\r\n.\r\n").count(),
        1,
        "exactly one end of data"
    );
}

#[test]
fn empty_message_is_still_terminated() {
    let srv = server(&[]);
    let env = envelope(&["a@example.org"]);
    let (r, report) = send(
        transaction(&env, b"", &srv, false),
        "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
    );
    report.unwrap();
    assert!(r.text().ends_with("DATA\r\n.\r\n") || r.text().ends_with("DATA\r\n\r\n.\r\n"));
}

#[test]
fn chunking_sends_bdat_without_dot_stuffing() {
    let srv = server(&["CHUNKING"]);
    let env = envelope(&["a@example.org"]);
    let message = b"Subject: x\r\n\r\n.dot stays\r\n";
    let (r, report) = send(
        transaction(&env, message, &srv, false),
        "250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n",
    );
    let text = r.text();
    assert!(
        text.ends_with(&format!(
            "BDAT {} LAST\r\nSubject: x\r\n\r\n.dot stays\r\n",
            message.len()
        )),
        "{text}"
    );
    assert!(!text.contains("DATA\r\n"));
    assert_eq!(report.unwrap().recipients[0].outcome, Outcome::Accepted);
}

#[test]
fn chunking_big_message_in_several_chunks_and_failure_resets() {
    let srv = server(&["CHUNKING"]);
    let env = envelope(&["a@example.org"]);
    let line = "x".repeat(998) + "\r\n";
    let message = line.repeat(600); // 600,000 octets: three chunks of 256 KiB at most
    let (r, report) = send(
        transaction(&env, message.as_bytes(), &srv, false),
        "250 ok\r\n250 ok\r\n250 chunk\r\n250 chunk\r\n250 done\r\n",
    );
    assert_eq!(r.text().matches("BDAT ").count(), 3);
    assert_eq!(r.text().matches(" LAST\r\n").count(), 1);
    assert_eq!(report.unwrap().data_reply.unwrap().text(), "done");

    // The second chunk is refused: no third chunk, RSET instead.
    let (r, report) = send(
        transaction(&env, message.as_bytes(), &srv, false),
        "250 ok\r\n250 ok\r\n250 chunk\r\n552 5.3.4 too big\r\n250 reset\r\n",
    );
    assert_eq!(r.text().matches("BDAT ").count(), 2);
    assert_eq!(r.writes.last().unwrap(), b"RSET\r\n");
    assert_eq!(report.unwrap().recipients[0].outcome, Outcome::Refused);
}

#[test]
fn chunking_with_pipelining_sends_all_chunks_then_reads_replies() {
    let srv = server(&["CHUNKING", "PIPELINING"]);
    let env = envelope(&["a@example.org"]);
    let message = ("y".repeat(998) + "\r\n").repeat(300); // two chunks
    let (r, report) = send(
        transaction(&env, message.as_bytes(), &srv, false),
        "250 ok\r\n250 ok\r\n250 chunk\r\n250 done\r\n",
    );
    assert_eq!(r.text().matches("BDAT ").count(), 2);
    assert!(report.unwrap().all_accepted());
}

#[test]
fn size_declared_and_enforced_locally() {
    let env = envelope(&["a@example.org"]);
    let content = Message::new(MESSAGE);
    let srv = server(&["SIZE 10"]);
    let err = plan(&env, &content, &srv, ALL_ON).unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::MessageTooLarge { limit: 10, .. }
    ));
    assert!(err.is_permanent());

    let srv = server(&["SIZE 1000"]);
    let p: Plan = plan(&env, &content, &srv, ALL_ON).unwrap();
    assert_eq!(p.mail_params.size, Some(content.size()));
    let mut tx = Transaction::new(&env, content.clone(), p, false, false).unwrap();
    let r = run(&mut tx, "");
    assert_eq!(
        r.lines()[0],
        format!("MAIL FROM:<alice@example.com> SIZE={}", content.size())
    );

    // SIZE without a number: declare, no limit. No SIZE: nothing declared.
    assert!(
        plan(&env, &content, &server(&["SIZE"]), ALL_ON)
            .unwrap()
            .mail_params
            .size
            .is_some()
    );
    assert!(
        plan(&env, &content, &server(&[]), ALL_ON)
            .unwrap()
            .mail_params
            .size
            .is_none()
    );
}

#[test]
fn eight_bit_needs_8bitmime() {
    let env = envelope(&["a@example.org"]);
    let content = Message::new("Subject: x\r\n\r\ncafé\r\n".as_bytes());
    let err = plan(&env, &content, &server(&[]), ALL_ON).unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::ExtensionRequired {
            extension: "8BITMIME",
            ..
        }
    ));
    let p = plan(&env, &content, &server(&["8BITMIME"]), ALL_ON).unwrap();
    let mut tx = Transaction::new(&env, content.clone(), p, false, false).unwrap();
    assert_eq!(
        run(&mut tx, "").lines()[0],
        "MAIL FROM:<alice@example.com> BODY=8BITMIME"
    );
    // Plain ASCII: no BODY parameter.
    let p = plan(&env, &Message::new(MESSAGE), &server(&["8BITMIME"]), ALL_ON).unwrap();
    assert_eq!(p.mail_params.body, None);
    // Classic mode (no ESMTP): refused even if the keyword was seen.
    let mut classic = server(&["8BITMIME"]);
    classic.esmtp = false;
    assert!(plan(&env, &content, &classic, ALL_ON).is_err());
}

#[test]
fn utf8_addresses_and_headers_need_smtputf8() {
    let env = Envelope::new("jöran@example.com", &["a@example.org"]).unwrap();
    let content = Message::new(MESSAGE);
    let err = plan(&env, &content, &server(&["8BITMIME"]), ALL_ON).unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::ExtensionRequired {
            extension: "SMTPUTF8",
            ..
        }
    ));
    let p = plan(&env, &content, &server(&["SMTPUTF8", "8BITMIME"]), ALL_ON).unwrap();
    assert!(p.mail_params.smtputf8);

    let ascii = envelope(&["a@example.org"]);
    let utf8_header = Message::new("Subject: grüße\r\n\r\nhi\r\n".as_bytes());
    assert!(headers_need_smtputf8(utf8_header.as_bytes()));
    assert!(!headers_need_smtputf8(
        "Subject: x\r\n\r\ngrüße\r\n".as_bytes()
    ));
    assert!(plan(&ascii, &utf8_header, &server(&["8BITMIME"]), ALL_ON).is_err());
    let p = plan(
        &ascii,
        &utf8_header,
        &server(&["8BITMIME", "SMTPUTF8"]),
        ALL_ON,
    )
    .unwrap();
    assert!(p.mail_params.smtputf8);
}

#[test]
fn pipelining_and_chunking_only_when_offered_and_wanted() {
    let env = envelope(&["a@example.org"]);
    let content = Message::new(MESSAGE);
    let none = Preferences {
        pipelining: false,
        chunking: false,
    };
    let p = plan(&env, &content, &server(&["PIPELINING", "CHUNKING"]), none).unwrap();
    assert!(!p.pipelining && !p.chunking);
    let p = plan(&env, &content, &server(&[]), ALL_ON).unwrap();
    assert!(!p.pipelining && !p.chunking);
}

#[test]
fn control_characters_are_refused_before_anything_is_sent() {
    for bad in [
        "a@example.org\r\nRSET",
        "a@exam\nple.org",
        "a\0@example.org",
    ] {
        let err = Envelope::new("alice@example.com", &[bad]).unwrap_err();
        assert!(matches!(err, ProtocolError::InvalidInput { .. }), "{bad:?}");
    }
    assert!(Envelope::new("alice@example.com\r\n", &["a@example.org"]).is_err());

    // Even a hand-built mailbox that bypassed the parser cannot get through.
    let env = Envelope {
        from: smtp_wire::path::ReversePath::Null,
        to: vec![ForwardPath::Mailbox(Mailbox {
            local: "x\r\nRSET".into(),
            domain: Domain::parse("example.org").unwrap(),
        })],
        dsn: None,
    };
    let content = Message::new(MESSAGE);
    let p = plan(&env, &content, &server(&[]), ALL_ON).unwrap();
    assert!(matches!(
        Transaction::new(&env, content, p, false, false),
        Err(ProtocolError::InvalidInput { .. })
    ));
}

#[test]
fn null_sender_and_postmaster() {
    let env = Envelope::new("", &["<Postmaster>"]).unwrap();
    let srv = server(&[]);
    let mut tx = transaction(&env, MESSAGE, &srv, false);
    let r = run(&mut tx, "");
    assert_eq!(r.lines()[0], "MAIL FROM:<>");
    assert!(Envelope::new("<>", &["postmaster"]).is_ok());
}

#[test]
fn empty_envelope_is_refused() {
    let env = Envelope::new::<&str>("alice@example.com", &[]).unwrap();
    let content = Message::new(MESSAGE);
    let p = plan(&env, &content, &server(&[]), ALL_ON).unwrap();
    assert!(matches!(
        Transaction::new(&env, content, p, false, false),
        Err(ProtocolError::NoRecipients)
    ));
}

/// The session breaks before the transaction ends: the replies already
/// received decide (RFC 5321 §3.3, §4.1.1.4, §4.2.1).
#[test]
fn a_broken_session_keeps_what_the_replies_said() {
    let srv = server(&["PIPELINING"]);
    let env = envelope(&["a@example.org", "b@example.org", "c@example.org"]);
    let lost = || {
        SendError::from(TransportError::ConnectionClosed {
            during: "the reply to RCPT",
        })
    };
    let starved = |script: &str| {
        let mut tx = transaction(&env, MESSAGE, &srv, false);
        let r = run(&mut tx, script);
        assert!(r.starved && r.result.is_ok(), "{}", r.text());
        tx
    };

    // MAIL refused for good, then nothing: a permanent SenderRefused.
    let error = starved("550 5.7.1 blocked\r\n")
        .report_after_failure(lost())
        .unwrap_err();
    assert!(
        matches!(&error, SendError::Protocol(ProtocolError::SenderRefused(r)) if r.code == 550)
    );
    assert!(error.is_permanent());

    // One recipient refused for good, one deferred, one undecided.
    let report = starved("250 ok\r\n550 5.1.1 no\r\n450 4.2.1 busy\r\n")
        .report_after_failure(lost())
        .unwrap();
    let outcomes: Vec<_> = report.recipients.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Refused, Outcome::Deferred, Outcome::Deferred]
    );
    assert_eq!(report.recipients[0].reply.code, 550);
    assert_eq!(report.recipients[1].rcpt_reply.code, 450);
    assert!(report.data_reply.is_none());

    // Nothing refused for good yet: the error itself, as before.
    let error = starved("250 ok\r\n250 ok\r\n")
        .report_after_failure(lost())
        .unwrap_err();
    assert!(matches!(
        error,
        SendError::Transport(TransportError::ConnectionClosed { .. })
    ));

    // Replies out of step or malformed are not trusted.
    let error = starved("550 5.7.1 blocked\r\n")
        .report_after_failure(
            ProtocolError::UnexpectedServerReply {
                before: "RSET".into(),
                received: "250 extra".into(),
            }
            .into(),
        )
        .unwrap_err();
    assert!(matches!(
        error,
        SendError::Protocol(ProtocolError::UnexpectedServerReply { .. })
    ));
}

/// RFC 3461 §4: RET, ENVID, NOTIFY and ORCPT go to a server that offers
/// DSN, xtext-encoded, and are left out for one that does not.
#[test]
fn dsn_requests_travel_only_to_a_dsn_server() {
    use smtp_sender_core::Dsn;
    use smtp_wire::param::{Notify, Orcpt, Ret};
    let mut env = envelope(&["a@example.org", "b@example.org"]);
    let mut dsn = Dsn {
        ret: Some(Ret::Hdrs),
        envid: Some("QQ+314159".into()),
        ..Dsn::default()
    };
    dsn.recipient_mut(1).notify = Some(Notify {
        success: true,
        failure: true,
        delay: false,
    });
    dsn.recipient_mut(1).orcpt = Some(Orcpt {
        addr_type: "rfc822".into(),
        addr: "b@example.org".into(),
    });
    env.dsn = Some(dsn);
    let replies = "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";

    let (r, report) = send(
        transaction(&env, MESSAGE, &server(&["DSN"]), false),
        replies,
    );
    assert!(report.unwrap().all_accepted());
    assert_eq!(
        r.lines()[..3],
        [
            "MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ+2B314159",
            "RCPT TO:<a@example.org>",
            "RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org",
        ]
    );

    let (r, report) = send(transaction(&env, MESSAGE, &server(&[]), false), replies);
    assert!(report.unwrap().all_accepted());
    assert_eq!(
        r.lines()[..3],
        [
            "MAIL FROM:<alice@example.com>",
            "RCPT TO:<a@example.org>",
            "RCPT TO:<b@example.org>",
        ]
    );
}

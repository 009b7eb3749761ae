//! Policy: EHLO keywords, limits, relay, parameters, pipelining. (Content
//! policies, SMTPUTF8 among them: `content_policy.rs`.)

use smtp_wire::{EnhancedCode, Reply};

use super::harness::{Harness, config};
use crate::config::RecipientPolicy;
use crate::session::Request;

#[test]
fn ehlo_advertises_the_extensions_before_tls() {
    let mut h = Harness::greeted();
    let out = h.send("EHLO c.example\r\n");
    assert_eq!(
        out,
        "250-mx.example.org greets c.example\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n250-8BITMIME\r\n\
         250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-DSN\r\n250-STARTTLS\r\n\
         250 HELP\r\n"
    );
}

#[test]
fn ehlo_inside_tls_offers_auth_not_starttls() {
    let mut h = Harness::with(config(), true);
    let out = h.send("EHLO c.example\r\n");
    assert!(out.contains("250-AUTH PLAIN LOGIN\r\n"), "{out}");
    assert!(!out.contains("STARTTLS"), "{out}");
}

#[test]
fn helo_reply_has_no_extensions_and_no_enhanced_code() {
    let mut h = Harness::greeted();
    assert_eq!(
        h.send("HELO c.example\r\n"),
        "250 mx.example.org greets c.example\r\n"
    );
}

#[test]
fn every_other_reply_carries_an_enhanced_code() {
    let mut h = Harness::greeted();
    let out = h.send(
        "EHLO c.example\r\nNOOP\r\nVRFY x\r\nHELP\r\nFROB\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\n\
         RCPT TO:<u@elsewhere.example>\r\nRSET\r\nQUIT\r\n",
    );
    for line in out.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with("250-") || line.starts_with("250 HELP") {
            continue; // the EHLO reply (RFC 2034 §3)
        }
        let text = &line[4..];
        let first = text.split(' ').next().unwrap();
        assert!(
            first.parse::<EnhancedCode>().is_ok(),
            "no enhanced code: {line:?}"
        );
        assert_eq!(
            first.as_bytes()[0],
            line.as_bytes()[0],
            "class matches: {line:?}"
        );
    }
}

#[test]
fn pipelined_commands_get_every_reply_in_order() {
    let mut h = Harness::greeted();
    let input = "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nRCPT TO:<x@nowhere.example>\r\n\
                 RCPT TO:<v@EXAMPLE.ORG>\r\nNOOP\r\nRSET\r\nMAIL FROM:<b@c.example>\r\nRCPT TO:<w@example.org>\r\nDATA\r\n";
    let out = h.send(input);
    assert_eq!(
        Harness::codes(&out),
        [250, 250, 250, 550, 250, 250, 250, 250, 250, 354]
    );
}

#[test]
fn relay_is_denied_except_for_our_domains_and_postmaster() {
    let mut h = Harness::greeted();
    h.send("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\n");
    let cases = [
        ("<u@example.org>", 250),
        ("<U@Example.ORG>", 250),
        ("<u@sub.example.org>", 550),
        ("<u@elsewhere.example>", 550),
        ("<Postmaster>", 250),
        ("<postmaster@MX.example.org>", 250),
        ("<postmaster@elsewhere.example>", 550),
    ];
    for (to, want) in cases {
        let out = h.send(&format!("RCPT TO:{to}\r\n"));
        assert_eq!(Harness::codes(&out), [want], "{to}: {out}");
        if want == 550 {
            assert!(out.starts_with("550 5.7.1 "), "{out}");
        }
    }
}

#[test]
fn by_default_nothing_but_postmaster_is_accepted() {
    let mut c = config();
    c.recipients = RecipientPolicy::default();
    let mut h = Harness::with(c, false);
    let out = h.send("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nRCPT TO:<Postmaster>\r\n");
    assert_eq!(Harness::codes(&out)[2..], [250, 550, 250]);
    let mut c = config();
    c.recipients = RecipientPolicy::AcceptAny;
    let mut h = Harness::with(c, false);
    let out = h
        .send("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<anyone@anywhere.example>\r\n");
    assert_eq!(Harness::codes(&out)[2..], [250, 250]);
}

#[test]
fn recipient_limit_gives_452_after_the_limit() {
    let mut h = Harness::greeted();
    h.send("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\n");
    let rcpts: String = (0..101)
        .map(|i| format!("RCPT TO:<u{i}@example.org>\r\n"))
        .collect();
    let out = h.send(&rcpts);
    let codes = Harness::codes(&out);
    assert_eq!(codes.len(), 101);
    assert!(codes[..100].iter().all(|&c| c == 250));
    assert_eq!(codes[100], 452);
    assert!(out.ends_with("452 4.5.3 Too many recipients\r\n"));
}

#[test]
fn unsupported_parameters_get_555() {
    let mut h = Harness::greeted();
    h.send("EHLO c.example\r\n");
    for mail in ["BODY=BINARYMIME", "FOO=bar"] {
        let out = h.send(&format!("MAIL FROM:<a@c.example> {mail}\r\n"));
        assert!(out.starts_with("555 5.5.4 "), "{mail}: {out}");
    }
    assert_eq!(
        h.codes_of("MAIL FROM:<a@c.example> BODY=8BITMIME SIZE=10\r\n"),
        [250]
    );
    let out = h.send("RCPT TO:<u@example.org> X-TRACK=1\r\n");
    assert!(out.starts_with("555 5.5.4 "), "{out}");
    let mut h = Harness::greeted();
    let out = h.send("HELO c.example\r\nMAIL FROM:<a@c.example> SIZE=10\r\n");
    assert_eq!(
        Harness::codes(&out),
        [250, 555],
        "ESMTP parameters need EHLO"
    );
}

#[test]
fn too_many_errors_close_the_session() {
    let mut h = Harness::greeted();
    let out = h.send(&"FROB\r\n".repeat(12));
    let codes = Harness::codes(&out);
    assert_eq!(codes.len(), 11, "{out}");
    assert!(codes[..10].iter().all(|&c| c == 500));
    assert!(out.ends_with("421 4.7.0 mx.example.org too many errors, closing connection\r\n"));
    assert!(h.closed);
}

#[test]
fn long_command_lines_are_refused_once_and_skipped() {
    let mut h = Harness::greeted();
    let long = format!("NOOP {}\r\n", "x".repeat(600));
    let out = h.send(&format!("{long}NOOP\r\n"));
    assert_eq!(Harness::codes(&out), [500, 250], "{out}");
    assert!(out.starts_with("500 5.5.2 Line too long"));
}

#[test]
fn pipelined_help_floods_are_flushed_in_pieces() {
    // Not the junk-command limit under test here (see time.rs): the output.
    let mut c = config();
    c.limits.junk_commands = u32::MAX;
    let mut h = Harness::greeted_with(c);
    let out = h.send(&"HELP\r\n".repeat(1000));
    assert_eq!(Harness::codes(&out).len(), 1000);
    assert!(
        h.flushes > 0,
        "output was written out before all input was read"
    );
}

#[test]
fn the_application_can_refuse_each_step() {
    let mut h = Harness::greeted();
    h.verdict = Box::new(|request| match request {
        Request::Rcpt { to, .. } if to.to_string() == "<nobody@example.org>" => Err(
            Reply::enhanced(550, EnhancedCode::new(5, 1, 1), "No such user"),
        ),
        Request::Mail { from, .. } if from.to_string() == "<spam@c.example>" => {
            Err(Reply::enhanced(550, EnhancedCode::new(5, 7, 1), "Go away"))
        }
        _ => Ok(()),
    });
    let out = h.send(
        "EHLO c.example\r\nMAIL FROM:<spam@c.example>\r\nMAIL FROM:<ok@c.example>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n",
    );
    assert_eq!(Harness::codes(&out), [250, 550, 250, 550, 503]);
    assert!(out.contains("550 5.1.1 No such user\r\n"));
}

/// RFC 5321 §3.1: the application may refuse a client with a 554
/// instead of the greeting; nothing the client sent is read.
#[test]
fn refused_connections_say_so_and_close() {
    let mut h = Harness::new();
    h.verdict = Box::new(|r| match r {
        Request::Connect => Err(Reply::enhanced(
            554,
            EnhancedCode::new(5, 7, 1),
            "Not welcome",
        )),
        _ => Ok(()),
    });
    let (out, used) = h.feed(b"EHLO c.example\r\n");
    assert_eq!(out, "554 5.7.1 Not welcome\r\n");
    assert_eq!(used, 0);
    assert!(h.closed);
    assert_eq!(h.asked, [Request::Connect]);
}

#[test]
fn ehlo_again_resets_the_transaction() {
    let mut h = Harness::greeted();
    h.send("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\n");
    let resets = h.resets;
    assert_eq!(
        h.codes_of("EHLO c.example\r\nRCPT TO:<u@example.org>\r\n"),
        [250, 503]
    );
    assert_eq!(h.resets, resets + 1);
}

#[test]
fn require_auth_refuses_mail_before_auth() {
    let mut c = config();
    c.auth.required = true;
    let mut h = Harness::with(c, true);
    let out = h.send("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nAUTH PLAIN AHUAcA==\r\nMAIL FROM:<a@c.example>\r\n");
    assert_eq!(Harness::codes(&out)[1..], [250, 530, 235, 250]);
}

/// RFC 5321 §3.8: an application's 421 (a fault a test inbox injects, a
/// server going away) closes the channel, at a command or at a message.
#[test]
fn an_application_421_closes_the_session() {
    let mut h = Harness::greeted();
    h.verdict = Box::new(|request| match request {
        Request::Mail { .. } => Err(Reply::new(421, "closing")),
        _ => Ok(()),
    });
    assert_eq!(
        h.codes_of("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nNOOP\r\n"),
        [250, 421]
    );
    assert!(h.closed);

    let mut h = Harness::greeted();
    h.data_verdict = Err(Reply::new(421, "closing"));
    let out = h.send(
        "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
         x\r\n.\r\nNOOP\r\n",
    );
    assert_eq!(Harness::codes(&out), [250, 250, 250, 354, 421], "{out}");
    assert!(h.closed);
}

/// RFC 3461: DSN is advertised, and RET, ENVID, NOTIFY and ORCPT reach the
/// envelope decoded; NOTIFY=NEVER stands alone (§4.1).
#[test]
fn dsn_parameters_are_kept_with_the_message() {
    use smtp_wire::param::Ret;
    let mut h = Harness::greeted();
    h.send("EHLO c.example\r\n");
    let codes = h.codes_of(
        "MAIL FROM:<a@c.example> RET=HDRS ENVID=QQ+2B314159\r\n\
         RCPT TO:<u@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+40example.org\r\n\
         RCPT TO:<v@example.org> NOTIFY=NEVER\r\n\
         RCPT TO:<w@example.org> NOTIFY=NEVER,SUCCESS\r\n\
         DATA\r\n",
    );
    assert_eq!(codes, [250, 250, 250, 501, 354]);
    h.send("Subject: x\r\n\r\nhi\r\n.\r\n");
    let envelope = h.envelopes.last().expect("a message");
    assert_eq!(envelope.mail_params.ret, Some(Ret::Hdrs));
    assert_eq!(envelope.mail_params.envid.as_deref(), Some("QQ+314159"));
    let first = &envelope.recipients[0].params;
    assert!(
        first
            .notify
            .is_some_and(|n| n.success && n.failure && !n.delay)
    );
    let orcpt = first.orcpt.as_ref().expect("ORCPT kept");
    assert_eq!(
        (&*orcpt.addr_type, orcpt.addr.as_str()),
        ("rfc822", "Bob@example.org")
    );
    let never = envelope.recipients[1].params.notify.expect("NOTIFY kept");
    assert!(!(never.success || never.failure || never.delay), "NEVER");
    // ... and in the trace lines of the stored message, as commands.
    let trace = String::from_utf8_lossy(&envelope.trace).to_string();
    for line in [
        "X-Envelope-DSN: MAIL FROM:<> RET=HDRS ENVID=QQ+2B314159\r\n",
        "X-Envelope-DSN: RCPT TO:<u@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@example.org\r\n",
        "X-Envelope-DSN: RCPT TO:<v@example.org> NOTIFY=NEVER\r\n",
    ] {
        assert!(trace.contains(line), "{line:?} not in {trace}");
        let command = line.trim_start_matches("X-Envelope-DSN: ").trim_end();
        assert!(
            smtp_wire::command::Command::parse(command.as_bytes()).is_ok(),
            "{command}"
        );
    }
}

/// RFC 2033: LMTP greets with LHLO (EHLO and HELO refused), and answers
/// the end of the data once per accepted recipient, in order; SMTP does
/// not know LHLO.
#[test]
fn lmtp_lhlo_and_one_reply_per_recipient() {
    use crate::ListenerKind;
    let mut h = Harness::with_listener(config(), ListenerKind::Lmtp);
    h.feed(b"");
    assert_eq!(
        h.codes_of("EHLO c.example\r\nHELO c.example\r\n"),
        [500, 500]
    );
    let out = h.send("LHLO c.example\r\n");
    assert!(
        out.starts_with("250-mx.example.org greets c.example\r\n"),
        "{out}"
    );
    let codes = h.codes_of(
        "MAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nRCPT TO:<x@elsewhere.example>\r\n\
         RCPT TO:<v@example.org>\r\nDATA\r\n",
    );
    assert_eq!(codes, [250, 250, 550, 250, 354]);
    let out = h.send("Subject: x\r\n\r\nhi\r\n.\r\n");
    assert_eq!(
        Harness::codes(&out),
        [250, 250],
        "one per accepted recipient: {out}"
    );
    let stored = String::from_utf8_lossy(&h.messages[0]).to_string();
    assert!(stored.contains(" with LMTP id "), "{stored}");

    let mut smtp = Harness::greeted();
    assert_eq!(smtp.codes_of("LHLO c.example\r\n"), [500]);
}

/// Postfix's XCLIENT: only for a trusted proxy; it names the client (used
/// in `Received:` from then on), can mark the session authenticated, and
/// starts the session again with a 220.
#[test]
fn xclient_from_a_trusted_proxy_names_the_client() {
    let mut h = Harness::greeted();
    let out = h.send("EHLO proxy.example\r\n");
    assert!(!out.contains("XCLIENT"), "{out}");
    assert_eq!(
        h.codes_of("XCLIENT ADDR=192.0.2.7\r\n"),
        [550],
        "not trusted"
    );

    let mut info = super::harness::info("127.0.0.1:40000");
    info.xclient = true;
    let mut h = Harness::from_session(crate::Session::new(std::sync::Arc::new(config()), info));
    h.feed(b"");
    let out = h.send("EHLO proxy.example\r\n");
    assert!(
        out.contains("250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN\r\n"),
        "{out}"
    );
    assert_eq!(h.codes_of("XCLIENT ADDR=192.0.2.300\r\n"), [501]);
    assert_eq!(h.codes_of("XCLIENT FOO=bar\r\n"), [501]);
    let out = h.send("XCLIENT NAME=client.example ADDR=IPV6:2001:db8::7 PORT=4000 LOGIN=carol\r\n");
    assert!(
        out.starts_with("220 mx.example.org "),
        "a new greeting: {out}"
    );
    assert_eq!(
        h.codes_of("MAIL FROM:<a@c.example>\r\n"),
        [503],
        "EHLO again first"
    );
    let codes = h.codes_of(
        "EHLO client.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n",
    );
    assert_eq!(codes, [250, 250, 250, 354]);
    h.send("Subject: x\r\n\r\nhi\r\n.\r\n");
    let stored = String::from_utf8_lossy(&h.messages[0]).to_string();
    assert!(stored.contains("([IPv6:2001:db8::7])"), "{stored}");
    assert_eq!(h.envelopes[0].authenticated.as_deref(), Some("carol"));
    assert_eq!(h.envelopes[0].peer.port(), 4000);
}

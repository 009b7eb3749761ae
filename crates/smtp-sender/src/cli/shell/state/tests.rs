//! The shell's protocol side, driven line by line as the driver would.

#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;

/// The server's reply, as the driver hands it over.
fn answer(shell: &mut Shell, code: u16, text: &str) -> Answer {
    let reply = Reply::new(code, text);
    let wire = String::from_utf8(reply.to_bytes()).unwrap();
    let lines: Vec<String> = wire.lines().map(str::to_string).collect();
    shell.reply(&lines, &reply)
}

fn sent(step: Step) -> (Vec<u8>, String) {
    match step {
        Step::Send { out, bytes } => (bytes, out.join("\n")),
        other => panic!("expected bytes to send, got {other:?}"),
    }
}

fn printed(step: Step) -> String {
    match step {
        Step::Print(out) => out.join("\n"),
        other => panic!("expected text only, got {other:?}"),
    }
}

/// A shell after the greeting and an EHLO answered with `extensions`.
fn greeted(extensions: &str) -> Shell {
    let mut shell = Shell::new(Style::Plain, true);
    assert!(shell.awaits_reply(), "the greeting comes first");
    answer(&mut shell, 220, "mx.example ESMTP");
    assert!(!shell.awaits_reply());
    let (bytes, _) = sent(shell.input("EHLO client.example"));
    assert_eq!(bytes, b"EHLO client.example\r\n");
    let said = answer(&mut shell, 250, &format!("mx.example\n{extensions}"));
    assert_eq!(said.next, Next::Input);
    shell
}

#[test]
fn a_typed_message_is_dot_stuffed_and_counted() {
    let mut shell = greeted("SIZE 1000\n8BITMIME");
    let (bytes, out) = sent(shell.input("MAIL FROM:<a@example.org> SIZE=12"));
    assert_eq!(bytes, b"MAIL FROM:<a@example.org> SIZE=12\r\n");
    assert!(
        out.contains("C: MAIL FROM:<a@example.org> SIZE=12"),
        "{out}"
    );
    answer(&mut shell, 250, "ok");
    sent(shell.input("RCPT TO:<b@example.org>"));
    answer(&mut shell, 250, "ok");
    sent(shell.input("DATA"));
    assert_eq!(shell.reply_wait_seconds(), 120, "RFC 5321 §4.5.3.2.4");
    let said = answer(&mut shell, 354, "go ahead");
    assert!(
        said.out
            .join("\n")
            .contains("A line holding only \".\" ends it")
    );
    assert_eq!(shell.prompt(), "data> ");
    let (bytes, out) = sent(shell.input(".hidden"));
    assert_eq!(bytes, b"..hidden\r\n");
    assert!(
        out.contains("C: ..hidden") && out.contains("RFC 5321 §4.5.2"),
        "{out}"
    );
    assert!(!shell.awaits_reply(), "message lines earn no reply");
    assert_eq!(sent(shell.input("x")).0, b"x\r\n");
    // A bare CR inside a typed line is no line end: CRLF goes out.
    assert_eq!(sent(shell.input("a\rb")).0, b"a\r\nb\r\n");
    let (bytes, out) = sent(shell.input("."));
    assert_eq!(bytes, b".\r\n");
    assert!(
        out.contains("18 octets of message in 4 lines, 22 on the wire"),
        "{out}"
    );
    assert!(shell.awaits_reply());
    assert_eq!(shell.reply_wait_seconds(), 600, "RFC 5321 §4.5.3.2.6");
    answer(&mut shell, 250, "queued");
    assert_eq!(shell.prompt(), "smtp> ");
    // A line of one dot is a command again: refused locally.
    assert!(printed(shell.input(".")).contains("not sent"));
}

#[test]
fn from_a_pipe_a_line_not_sent_is_shown_without_its_password() {
    let mut shell = greeted("AUTH PLAIN");
    let said = printed(shell.input("AUTH PLAIN alice s3cret"));
    assert!(said.starts_with("      > AUTH PLAIN alice\n"), "{said}");
    assert!(!said.contains("s3cret"), "{said}");
    let Step::Confirm(out) = shell.input("BDAT 1 LAST") else {
        panic!("CHUNKING was not offered")
    };
    assert_eq!(out[0], "      > BDAT 1 LAST");
}

#[test]
fn message_lines_are_shown_only_when_changed_on_a_terminal() {
    let mut shell = Shell::new(Style::Plain, false);
    answer(&mut shell, 220, "mx");
    sent(shell.input("DATA"));
    answer(&mut shell, 354, "go");
    let (_, out) = sent(shell.input("plain"));
    assert!(out.is_empty(), "{out}");
    let (_, out) = sent(shell.input(".dot"));
    assert!(out.contains("C: ..dot"), "{out}");
}

#[test]
fn an_unoffered_extension_waits_for_a_yes() {
    let mut shell = greeted("PIPELINING");
    let Step::Confirm(warnings) = shell.input("STARTTLS") else {
        panic!("expected a question")
    };
    // From a pipe: the line typed, then why it waits.
    assert_eq!(warnings[0], "      > STARTTLS");
    assert!(warnings[1].contains("STARTTLS (RFC 3207 §4) was not offered"));
    let no = printed(shell.confirm(false));
    assert!(no.contains("not sent") && no.contains("!STARTTLS"), "{no}");
    assert!(!shell.awaits_reply());
    assert!(matches!(shell.input("STARTTLS"), Step::Confirm(_)));
    assert_eq!(sent(shell.confirm(true)).0, b"STARTTLS\r\n");
    answer(&mut shell, 454, "TLS not available");
    // "!" sends without a question.
    assert_eq!(
        sent(shell.input("!MAIL FROM:<a@example.org> BODY=8BITMIME")).0,
        b"MAIL FROM:<a@example.org> BODY=8BITMIME\r\n"
    );
}

#[test]
fn an_invalid_command_is_explained_and_sent_only_when_forced() {
    let mut shell = greeted("PIPELINING");
    let said = printed(shell.input("MAIL <a@example.org>"));
    assert!(
        said.contains("expected \"MAIL FROM:<reverse-path>\""),
        "{said}"
    );
    assert!(said.contains("501"), "{said}");
    assert!(!shell.awaits_reply());
    assert_eq!(
        sent(shell.input("!MAIL <a@example.org>")).0,
        b"MAIL <a@example.org>\r\n"
    );
    assert!(shell.awaits_reply());
    let said = printed(shell.input("help"));
    assert!(said.contains("RFC 5321 §4.1.1.2") && said.contains("PIPELINING"));
}

#[test]
fn auth_plain_is_encoded_for_the_user_and_never_shown() {
    let mut shell = greeted("AUTH PLAIN LOGIN");
    // Not over a plain connection, unless forced.
    let refused = printed(shell.input("AUTH PLAIN alice s3cret words"));
    assert!(refused.contains("RFC 4954 §4"), "{refused}");
    assert!(!refused.contains("s3cret"), "{refused}");
    assert!(!shell.awaits_reply());
    let out = shell.tls_started("TLSv1.3; checked");
    assert!(out.join("\n").contains("say EHLO again"));
    sent(shell.input("EHLO client.example"));
    answer(&mut shell, 250, "mx\nAUTH PLAIN LOGIN");
    let (bytes, out) = sent(shell.input("AUTH PLAIN alice s3cret words"));
    let encoded = sasl::encode("\0alice\0s3cret words");
    assert_eq!(bytes, format!("AUTH PLAIN {encoded}\r\n").into_bytes());
    assert!(out.contains("C: AUTH PLAIN <redacted>"), "{out}");
    assert!(!out.contains("s3cret") && !out.contains(&encoded), "{out}");
    answer(&mut shell, 235, "2.7.0 ok");
    // A second AUTH is warned about.
    assert!(matches!(shell.input("AUTH PLAIN a b"), Step::Confirm(_)));
}

#[test]
fn a_typed_initial_response_is_never_repeated() {
    let mut shell = greeted("AUTH PLAIN XOAUTH2");
    let secret = sasl::encode("\0bob\0hunter2");
    let said = printed(shell.input(&format!("AUTH PLAIN {secret}")));
    assert!(said.contains("!AUTH PLAIN <redacted>"), "{said}");
    assert!(!said.contains(&secret), "{said}");
    shell.tls_started("TLS");
    let token = sasl::xoauth2_response("bob@example.org", "ya29.secret");
    let Step::Confirm(out) = shell.input(&format!("AUTH XOAUTH2 {token}")) else {
        panic!("not offered since TLS started")
    };
    assert!(!out.join("\n").contains(&token), "{out:?}");
    let no = printed(shell.confirm(false));
    assert!(
        no.contains("!AUTH XOAUTH2 <redacted>") && !no.contains(&token),
        "{no}"
    );
}

#[test]
fn missing_credentials_are_asked_for() {
    let mut shell = greeted("AUTH PLAIN");
    shell.tls_started("TLS");
    sent(shell.input("EHLO c.example"));
    answer(&mut shell, 250, "mx\nAUTH PLAIN");
    assert_eq!(shell.input("AUTH PLAIN"), Step::Credentials { user: None });
    let (bytes, _) = sent(shell.credentials("bob".into(), "pw".into()));
    assert_eq!(
        bytes,
        format!("AUTH PLAIN {}\r\n", sasl::encode("\0bob\0pw")).into_bytes()
    );
    // The initial response written already goes as typed.
    let mut shell = greeted("AUTH PLAIN");
    shell.tls_started("TLS");
    sent(shell.input("EHLO c.example"));
    answer(&mut shell, 250, "mx\nAUTH PLAIN");
    let typed = format!("AUTH PLAIN {}", sasl::encode("\0bob\0pw"));
    let (bytes, out) = sent(shell.input(&typed));
    assert_eq!(bytes, format!("{typed}\r\n").into_bytes());
    assert!(out.contains("<redacted>"), "{out}");
}

#[test]
fn auth_login_answers_both_challenges() {
    let mut shell = greeted("AUTH LOGIN");
    shell.tls_started("TLS");
    sent(shell.input("EHLO c.example"));
    answer(&mut shell, 250, "mx\nAUTH LOGIN");
    let (bytes, _) = sent(shell.input("AUTH LOGIN carol Tr0ub4dor&3"));
    assert_eq!(bytes, b"AUTH LOGIN\r\n");
    let user = answer(&mut shell, 334, "VXNlcm5hbWU6");
    assert_eq!(user.next, Next::Send(b"Y2Fyb2w=\r\n".to_vec()));
    assert!(user.out.join("\n").contains("\"Username:\""));
    let password = answer(&mut shell, 334, "UGFzc3dvcmQ6");
    let expected = format!("{}\r\n", sasl::encode("Tr0ub4dor&3"));
    assert_eq!(password.next, Next::Send(expected.into_bytes()));
    let shown = password.out.join("\n");
    assert!(
        shown.contains("C: <redacted>") && !shown.contains("Tr0ub4dor"),
        "{shown}"
    );
    answer(&mut shell, 235, "ok");
    assert!(matches!(shell.input("AUTH LOGIN x y"), Step::Confirm(_)));
}

#[test]
fn a_typed_auth_exchange_and_its_cancel() {
    let mut shell = greeted("AUTH CRAM-MD5");
    shell.tls_started("TLS");
    sent(shell.input("EHLO c.example"));
    answer(&mut shell, 250, "mx\nAUTH CRAM-MD5");
    assert_eq!(sent(shell.input("AUTH CRAM-MD5")).0, b"AUTH CRAM-MD5\r\n");
    answer(
        &mut shell,
        334,
        "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
    );
    assert!(shell.secret_input());
    assert_eq!(shell.prompt(), "base64> ");
    let (bytes, out) = sent(shell.end_of_input());
    assert_eq!(bytes, b"*\r\n", "RFC 4954 §4: * cancels");
    assert!(out.contains("C: *"));
    answer(&mut shell, 501, "5.7.0 cancelled");
    assert!(shell.wants_quit());
    assert_eq!(sent(shell.end_of_input()).0, b"QUIT\r\n");
    assert_eq!(
        answer(&mut shell, 221, "bye").next,
        Next::Closed { clean: true }
    );
}

#[test]
fn starttls_makes_the_extensions_unknown() {
    let mut shell = greeted("STARTTLS\nSIZE 100");
    assert_eq!(sent(shell.input("STARTTLS")).0, b"STARTTLS\r\n");
    assert_eq!(answer(&mut shell, 220, "go ahead").next, Next::StartTls);
    shell.tls_started("TLS");
    assert_eq!(shell.capabilities(), None);
    let Step::Confirm(warnings) = shell.input("MAIL FROM:<a@example.org> SIZE=10") else {
        panic!("expected a question")
    };
    assert!(warnings[1].contains("RFC 3207 §4.2"), "{warnings:?}");
    shell.confirm(false);
    assert!(
        matches!(shell.input("STARTTLS"), Step::Confirm(_)),
        "TLS is on already"
    );
}

#[test]
fn a_bdat_chunk_is_exactly_its_size() {
    let mut shell = greeted("CHUNKING");
    let (bytes, out) = sent(shell.input("BDAT 7 LAST"));
    assert_eq!(bytes, b"BDAT 7 LAST\r\n");
    assert!(out.contains("exactly 7 octets"));
    assert!(!shell.awaits_reply(), "the chunk comes before the reply");
    assert_eq!(sent(shell.input(".abc")).0, b".abc\r\n", "no dot-stuffing");
    let (bytes, out) = sent(shell.input("xyz"));
    assert_eq!(bytes, b"x");
    assert!(out.contains("cut to the 1 octets left"), "{out}");
    assert!(shell.awaits_reply());
    answer(&mut shell, 250, "2.0.0 queued");
    assert_eq!(shell.prompt(), "smtp> ");
}

#[test]
fn the_end_of_input_quits_or_abandons_a_message() {
    let mut shell = greeted("PIPELINING");
    sent(shell.input("DATA"));
    answer(&mut shell, 354, "go");
    sent(shell.input("Subject: unfinished"));
    let Step::Abandon(out) = shell.end_of_input() else {
        panic!("a message is never ended for the user")
    };
    assert!(out[0].contains("abandoned"), "{out:?}");
    let mut shell = greeted("PIPELINING");
    assert_eq!(sent(shell.end_of_input()).0, b"QUIT\r\n");
    assert!(shell.closing && shell.quit_sent());
}

#[test]
fn a_421_out_of_turn_ends_the_session() {
    let mut shell = greeted("PIPELINING");
    let said = answer(&mut shell, 421, "4.4.2 timeout");
    assert_eq!(said.next, Next::Closed { clean: false });
    assert!(said.out.join("\n").contains("no command was waiting"));
    assert!(shell.closing && !shell.quit_sent());
    let closed = shell.closed_by_server().join("\n");
    assert!(closed.contains("without being asked"), "{closed}");
}

#[test]
fn the_history_keeps_no_password() {
    assert_eq!(
        history_entry("AUTH PLAIN alice s3cret").as_deref(),
        Some("AUTH PLAIN alice")
    );
    assert_eq!(
        history_entry("!auth login bob pw x").as_deref(),
        Some("!auth login bob")
    );
    let typed = format!("AUTH PLAIN {}", sasl::encode("\0a\0b"));
    assert_eq!(history_entry(&typed).as_deref(), Some("AUTH PLAIN"));
    assert_eq!(
        history_entry("AUTH XOAUTH2 dXNlcj1i").as_deref(),
        Some("AUTH XOAUTH2")
    );
    assert_eq!(history_entry("EHLO x").as_deref(), Some("EHLO x"));
    assert_eq!(history_entry("  "), None);
}

#[test]
fn control_characters_are_shown_escaped() {
    assert_eq!(visible("a\x1b[31mb\t"), "a\\u{1b}[31mb\\t");
}

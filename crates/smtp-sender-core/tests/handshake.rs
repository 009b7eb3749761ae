//! The handshake machine against scripted replies, through the connection:
//! every branch, no sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use smtp_sender_core::{Credentials, Domain, Handshake, HandshakeSettings, ProtocolError, TlsMode};
use support::script::{protocol_error, run};

fn settings(tls: TlsMode) -> HandshakeSettings {
    HandshakeSettings {
        ehlo_name: Domain::parse("client.example").unwrap(),
        tls,
        tls_active: tls == TlsMode::Implicit,
        classic: false,
        lmtp: false,
        credentials: None,
        allow_plaintext_auth: false,
    }
}

fn with_credentials(mut s: HandshakeSettings) -> HandshakeSettings {
    s.credentials = Some(Credentials::new("alice", "s3cret"));
    s
}

#[test]
fn multi_line_greeting_then_ehlo() {
    let mut hs = Handshake::new(settings(TlsMode::None)).unwrap();
    let r = run(
        &mut hs,
        "220-mx.example.org ESMTP\r\n220-second line\r\n220 last line\r\n\
         250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
    );
    r.result.as_ref().unwrap();
    assert!(!r.starved);
    assert_eq!(r.lines(), ["EHLO client.example"]);
    let info = hs.server_info();
    assert_eq!(info.greeting.line_count(), 3);
    assert!(info.esmtp);
    assert!(info.offers("PIPELINING"));
    assert_eq!(info.capabilities.size_limit(), Some(1000));
}

#[test]
fn ehlo_not_recognized_falls_back_to_helo() {
    for code in ["500", "502"] {
        let mut hs = Handshake::new(settings(TlsMode::None)).unwrap();
        let script = format!("220 old\r\n{code} command not recognized\r\n250 hello\r\n");
        let r = run(&mut hs, &script);
        r.result.as_ref().unwrap();
        assert_eq!(r.lines(), ["EHLO client.example", "HELO client.example"]);
        let info = hs.server_info();
        assert!(!info.esmtp, "no extensions after HELO");
        assert!(!info.offers("PIPELINING"));
    }
}

#[test]
fn ehlo_refused_otherwise_is_an_error() {
    let mut hs = Handshake::new(settings(TlsMode::None)).unwrap();
    let r = run(&mut hs, "220 mx\r\n550 go away\r\n");
    assert!(matches!(
        r.protocol_error(),
        ProtocolError::Rejected {
            command: "EHLO",
            ..
        }
    ));
}

#[test]
fn greeting_554_and_421() {
    let mut hs = Handshake::new(settings(TlsMode::None)).unwrap();
    let r = run(&mut hs, "554 no SMTP service here\r\n");
    let err = protocol_error(r.result);
    assert!(matches!(err, ProtocolError::GreetingRefused(_)));
    assert!(err.is_permanent());
    assert!(r.wrote.is_empty());

    let mut hs = Handshake::new(settings(TlsMode::None)).unwrap();
    let err = protocol_error(run(&mut hs, "421 busy, try later\r\n").result);
    assert!(matches!(err, ProtocolError::ServiceClosing(_)));
    assert!(err.is_temporary());
}

#[test]
fn service_closing_at_ehlo() {
    let mut hs = Handshake::new(settings(TlsMode::None)).unwrap();
    let err = protocol_error(run(&mut hs, "220 mx\r\n421 4.3.2 shutting down\r\n").result);
    assert!(matches!(err, ProtocolError::ServiceClosing(_)));
    assert!(err.is_temporary());
}

#[test]
fn starttls_then_ehlo_again_and_forget_old_capabilities() {
    let mut hs = Handshake::new(settings(TlsMode::StartTls)).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250-STARTTLS\r\n250-AUTH PLAIN\r\n250 PIPELINING\r\n\
         220 go ahead\r\n250-mx\r\n250 SIZE 2000\r\n",
    );
    r.result.as_ref().unwrap();
    assert_eq!(
        r.lines(),
        [
            "EHLO client.example",
            "STARTTLS",
            "<TLS>",
            "EHLO client.example"
        ]
    );
    let info = hs.server_info();
    assert!(info.tls);
    assert!(
        !info.offers("PIPELINING"),
        "pre-TLS capabilities are forgotten (RFC 3207 §4.2)"
    );
    assert!(!info.offers("AUTH"));
    assert_eq!(info.capabilities.size_limit(), Some(2000));
}

#[test]
fn starttls_required_but_not_offered_stops_before_anything_else() {
    let mut hs = Handshake::new(with_credentials(settings(TlsMode::StartTls))).unwrap();
    let r = run(&mut hs, "220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n");
    assert!(matches!(
        r.protocol_error(),
        ProtocolError::StartTlsUnavailable
    ));
    assert_eq!(r.lines(), ["EHLO client.example"], "no AUTH, no MAIL");
}

#[test]
fn starttls_required_but_refused() {
    let mut hs = Handshake::new(settings(TlsMode::StartTls)).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250 STARTTLS\r\n454 4.7.0 TLS not available\r\n",
    );
    let err = r.protocol_error();
    assert!(matches!(err, ProtocolError::StartTlsRefused(_)));
    assert!(err.is_temporary());
    assert_eq!(r.lines(), ["EHLO client.example", "STARTTLS"]);
}

#[test]
fn opportunistic_goes_on_in_plain_text_when_not_offered_or_refused() {
    let mut hs = Handshake::new(settings(TlsMode::Opportunistic)).unwrap();
    let r = run(&mut hs, "220 mx\r\n250-mx\r\n250 PIPELINING\r\n");
    r.result.as_ref().unwrap();
    assert!(!hs.server_info().tls);

    let mut hs = Handshake::new(settings(TlsMode::Opportunistic)).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250 STARTTLS\r\n454 not now\r\n",
    );
    r.result.as_ref().unwrap();
    assert_eq!(r.lines(), ["EHLO client.example", "STARTTLS"]);
    assert!(!hs.server_info().tls);
}

#[test]
fn opportunistic_uses_starttls_when_offered() {
    let mut hs = Handshake::new(settings(TlsMode::Opportunistic)).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\n250 mx\r\n",
    );
    r.result.as_ref().unwrap();
    assert!(r.text().contains("<TLS>"));
    assert!(hs.server_info().tls);
}

#[test]
fn none_never_sends_starttls() {
    let mut hs = Handshake::new(settings(TlsMode::None)).unwrap();
    let r = run(&mut hs, "220 mx\r\n250-mx\r\n250 STARTTLS\r\n");
    r.result.as_ref().unwrap();
    assert_eq!(r.lines(), ["EHLO client.example"]);
}

#[test]
fn classic_mode_says_helo_and_uses_no_extensions() {
    let mut s = settings(TlsMode::None);
    s.classic = true;
    let mut hs = Handshake::new(s).unwrap();
    let r = run(&mut hs, "220 mx\r\n250 mx hello\r\n");
    r.result.as_ref().unwrap();
    assert_eq!(r.lines(), ["HELO client.example"]);
    assert!(!hs.server_info().esmtp);
}

#[test]
fn classic_mode_with_starttls_learns_it_with_ehlo_then_says_helo() {
    let mut s = settings(TlsMode::StartTls);
    s.classic = true;
    let mut hs = Handshake::new(s).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n220 go\r\n250 mx hello\r\n",
    );
    r.result.as_ref().unwrap();
    assert_eq!(
        r.lines(),
        [
            "EHLO client.example",
            "STARTTLS",
            "<TLS>",
            "HELO client.example"
        ]
    );
    let info = hs.server_info();
    assert!(info.tls);
    assert!(!info.esmtp && !info.offers("PIPELINING"));
}

/// RFC 2033 §4.1: LMTP says LHLO, before and after STARTTLS, and a
/// refused LHLO is not followed by HELO (LMTP has none).
#[test]
fn lmtp_says_lhlo_and_never_falls_back_to_helo() {
    let mut s = settings(TlsMode::StartTls);
    s.lmtp = true;
    let mut hs = Handshake::new(s).unwrap();
    let r = run(
        &mut hs,
        "220 lmtp\r\n250-lmtp\r\n250 STARTTLS\r\n220 go\r\n250-lmtp\r\n250 PIPELINING\r\n",
    );
    r.result.as_ref().unwrap();
    assert_eq!(
        r.lines(),
        [
            "LHLO client.example",
            "STARTTLS",
            "<TLS>",
            "LHLO client.example"
        ]
    );
    assert!(hs.server_info().lmtp && hs.server_info().offers("PIPELINING"));

    let mut s = settings(TlsMode::None);
    s.lmtp = true;
    let mut hs = Handshake::new(s).unwrap();
    let r = run(&mut hs, "220 lmtp\r\n500 5.5.1 unknown command\r\n");
    assert_eq!(r.lines(), ["LHLO client.example"]);
    assert!(matches!(
        protocol_error(r.result),
        ProtocolError::Rejected {
            command: "LHLO",
            ..
        }
    ));
}

#[test]
fn classic_mode_cannot_authenticate() {
    let mut s = with_credentials(settings(TlsMode::Implicit));
    s.classic = true;
    assert!(matches!(Handshake::new(s), Err(ProtocolError::Config(_))));
}

#[test]
fn auth_plain_under_tls() {
    let mut hs = Handshake::new(with_credentials(settings(TlsMode::Implicit))).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250 AUTH LOGIN PLAIN\r\n235 2.7.0 Authentication successful\r\n",
    );
    r.result.as_ref().unwrap();
    // base64("\0alice\0s3cret")
    assert_eq!(
        r.lines(),
        ["EHLO client.example", "AUTH PLAIN AGFsaWNlAHMzY3JldA=="]
    );
    assert!(hs.server_info().authenticated);
}

#[test]
fn auth_login_when_plain_is_not_offered() {
    let mut hs = Handshake::new(with_credentials(settings(TlsMode::Implicit))).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n",
    );
    r.result.as_ref().unwrap();
    assert_eq!(
        r.lines(),
        ["EHLO client.example", "AUTH LOGIN", "YWxpY2U=", "czNjcmV0"]
    );
}

#[test]
fn auth_failure_is_reported_by_class() {
    let mut hs = Handshake::new(with_credentials(settings(TlsMode::Implicit))).unwrap();
    let err = protocol_error(
        run(
            &mut hs,
            "220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n535 5.7.8 bad credentials\r\n",
        )
        .result,
    );
    assert!(matches!(err, ProtocolError::AuthFailed(_)));
    assert!(err.is_permanent());

    let mut hs = Handshake::new(with_credentials(settings(TlsMode::Implicit))).unwrap();
    let err = protocol_error(
        run(
            &mut hs,
            "220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n454 4.7.0 try later\r\n",
        )
        .result,
    );
    assert!(err.is_temporary());
}

/// RFC 7628 / XOAUTH2: a token goes with the token mechanism the server
/// offers, never with PLAIN; a refused token gets its error challenge
/// acknowledged, then the failure reply is the error.
#[test]
fn bearer_tokens_use_oauthbearer_or_xoauth2() {
    let token = |mut s: HandshakeSettings| {
        s.credentials = Some(Credentials::bearer("alice@example.com", "ya29.tok"));
        s
    };
    let mut hs = Handshake::new(token(settings(TlsMode::Implicit))).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250 AUTH PLAIN XOAUTH2 OAUTHBEARER\r\n235 ok\r\n",
    );
    r.result.as_ref().unwrap();
    assert_eq!(
        r.lines()[1],
        format!(
            "AUTH OAUTHBEARER {}",
            smtp_wire::sasl::oauthbearer_response("alice@example.com", "ya29.tok")
        )
    );

    let mut hs = Handshake::new(token(settings(TlsMode::Implicit))).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250 AUTH PLAIN XOAUTH2\r\n334 eyJzdGF0dXMiOiI0MDEifQ==\r\n535 5.7.8 bad token\r\n",
    );
    let ProtocolError::AuthFailed(reply) = r.protocol_error() else {
        panic!("{:?}", r.result)
    };
    assert_eq!(reply.code, 535);
    let xoauth2 = smtp_wire::sasl::xoauth2_response("alice@example.com", "ya29.tok");
    assert!(
        r.text()
            .ends_with(&format!("AUTH XOAUTH2 {xoauth2}\r\n\r\n")),
        "XOAUTH2 acknowledges the error with an empty line: {:?}",
        r.text()
    );

    let mut hs = Handshake::new(token(settings(TlsMode::Implicit))).unwrap();
    let r = run(&mut hs, "220 mx\r\n250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    assert!(matches!(
        r.protocol_error(),
        ProtocolError::AuthUnavailable { .. }
    ));
    assert_eq!(r.lines(), ["EHLO client.example"], "no token sent to PLAIN");
}

#[test]
fn unexpected_challenge_to_plain_is_cancelled() {
    let mut hs = Handshake::new(with_credentials(settings(TlsMode::Implicit))).unwrap();
    let r = run(
        &mut hs,
        "220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n334 \r\n501 cancelled\r\n",
    );
    assert!(matches!(r.protocol_error(), ProtocolError::AuthFailed(_)));
    assert_eq!(r.lines().last().unwrap(), "*");
}

#[test]
fn no_credentials_in_the_clear_unless_allowed() {
    let mut hs = Handshake::new(with_credentials(settings(TlsMode::None))).unwrap();
    let r = run(&mut hs, "220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n");
    assert!(matches!(r.protocol_error(), ProtocolError::AuthRequiresTls));
    assert_eq!(
        r.lines(),
        ["EHLO client.example"],
        "nothing secret was written"
    );

    let mut s = with_credentials(settings(TlsMode::None));
    s.allow_plaintext_auth = true;
    let mut hs = Handshake::new(s).unwrap();
    let r = run(&mut hs, "220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n235 ok\r\n");
    r.result.as_ref().unwrap();
    assert!(r.text().contains("AUTH PLAIN"));
}

#[test]
fn auth_with_no_common_mechanism() {
    let mut hs = Handshake::new(with_credentials(settings(TlsMode::Implicit))).unwrap();
    let r = run(&mut hs, "220 mx\r\n250-mx\r\n250 AUTH CRAM-MD5 XOAUTH2\r\n");
    match r.protocol_error() {
        ProtocolError::AuthUnavailable { offered } => assert_eq!(offered, "CRAM-MD5 XOAUTH2"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn implicit_tls_comes_before_the_greeting() {
    let mut s = settings(TlsMode::Implicit);
    s.tls_active = false;
    let mut hs = Handshake::new(s).unwrap();
    let r = run(&mut hs, "220 mx\r\n250-mx\r\n250 STARTTLS\r\n");
    r.result.as_ref().unwrap();
    // RFC 8314 §3.3: TLS first; no STARTTLS on top of it, one EHLO.
    assert_eq!(r.lines(), ["<TLS>", "EHLO client.example"]);
    assert!(hs.server_info().tls);
    assert!(
        r.connection
            .transcript()
            .render()
            .starts_with("-- TLS started --\nS: 220 mx\n")
    );
}

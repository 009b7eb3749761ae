//! STARTTLS (RFC 3207) and AUTH (RFC 4954) in the session.

use std::sync::Arc;

use smtp_wire::Reply;
use smtp_wire::sasl::{self, Credentials};

use super::harness::{Harness, config, info};
use crate::{Mechanism, Request, Session};

fn plain(user: &str, password: &str) -> String {
    sasl::plain_response(&Credentials::new(user, password))
}

#[test]
fn starttls_stops_reading_and_resets_the_session() {
    let mut h = Harness::greeted();
    // A man in the middle appends a command after STARTTLS (CVE-2011-0411).
    let input = b"EHLO c.example\r\nSTARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n";
    let (out, used) = h.feed(input);
    assert_eq!(Harness::codes(&out), [250, 220]);
    assert!(out.ends_with("220 2.0.0 Ready to start TLS\r\n"));
    assert!(h.starttls);
    // RFC 3207 §4.2: the session itself drops what came after STARTTLS.
    assert_eq!(used, input.len(), "everything was consumed");
    assert_eq!(h.discarded, "MAIL FROM:<injected@evil.example>\r\n".len());
    h.session.tls_established();
    assert!(h.session.is_tls());
    // A new EHLO is required; STARTTLS is not offered again; AUTH is.
    assert_eq!(h.codes_of("MAIL FROM:<a@c.example>\r\n"), [503]);
    let ehlo = h.send("EHLO c.example\r\n");
    assert!(
        !ehlo.contains("STARTTLS") && ehlo.contains("AUTH PLAIN LOGIN"),
        "{ehlo}"
    );
    assert_eq!(h.codes_of("STARTTLS\r\n"), [503]);
}

#[test]
fn starttls_without_a_certificate_is_not_implemented() {
    let mut c = config();
    c.starttls = false;
    let mut h = Harness::with(c, false);
    let out = h.send("EHLO c.example\r\nSTARTTLS\r\n");
    assert!(!out.contains("250-STARTTLS"));
    assert!(
        out.ends_with("502 5.5.1 STARTTLS not implemented\r\n"),
        "{out}"
    );
}

#[test]
fn auth_plain_with_initial_response() {
    let mut h = Harness::with(config(), true);
    h.verdict = Box::new(|r| match r {
        Request::Auth { credentials: c, .. }
            if c.username == "alice" && c.password() == "s3cret" =>
        {
            Ok(())
        }
        Request::Auth { .. } => Err(crate::replies::auth_failed()),
        _ => Ok(()),
    });
    h.send("EHLO c.example\r\n");
    let out = h.send(&format!("AUTH PLAIN {}\r\n", plain("alice", "s3cret")));
    assert_eq!(out, "235 2.7.0 Authentication successful\r\n");
    let Some(Request::Auth { mechanism, .. }) = h.asked.last() else {
        panic!()
    };
    assert_eq!(*mechanism, Mechanism::Plain);
    // Authenticated + TLS: ESMTPSA in the trace.
    h.send("MAIL FROM:<alice@c.example>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nx\r\n.\r\n");
    let stored = String::from_utf8(h.messages[0].clone()).unwrap();
    assert!(stored.contains(" with ESMTPSA id "), "{stored}");
    assert_eq!(h.envelopes[0].authenticated.as_deref(), Some("alice"));
}

#[test]
fn auth_plain_with_a_challenge_and_login() {
    let mut h = Harness::with(config(), true);
    h.send("EHLO c.example\r\n");
    assert_eq!(h.send("AUTH PLAIN\r\n"), "334 \r\n");
    assert!(h.session.in_auth());
    assert_eq!(h.codes_of(&format!("{}\r\n", plain("bob", "pw"))), [235]);

    let mut h = Harness::with(config(), true);
    h.send("EHLO c.example\r\n");
    assert_eq!(h.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(
        h.send(&format!("{}\r\n", sasl::encode("carol"))),
        "334 UGFzc3dvcmQ6\r\n"
    );
    assert_eq!(h.codes_of(&format!("{}\r\n", sasl::encode("pw"))), [235]);
    let Some(Request::Auth {
        mechanism,
        credentials: c,
    }) = h.asked.last()
    else {
        panic!()
    };
    assert_eq!(
        (*mechanism, c.username.as_str(), c.password()),
        (Mechanism::Login, "carol", "pw")
    );
}

#[test]
fn auth_errors() {
    let mut h = Harness::with(config(), true);
    h.send("EHLO c.example\r\n");
    assert!(
        h.send("AUTH PLAIN\r\n*\r\n")
            .ends_with("501 5.0.0 Authentication cancelled\r\n")
    );
    assert!(h.send("AUTH PLAIN !!!notbase64\r\n").starts_with("501 5."));
    assert!(
        h.send("AUTH PLAIN\r\n!!!notbase64\r\n")
            .ends_with("501 5.5.2 Invalid base64 in AUTH response\r\n")
    );
    assert!(h.send("AUTH CRAM-MD5\r\n").starts_with("504 5.5.4 "));
    assert!(
        h.send("AUTH PLAIN\r\nNOOP\n")
            .starts_with("334 \r\n500 5.5.2 "),
        "bare LF in a SASL line"
    );
    let long = "A".repeat(13_000);
    assert!(
        h.send(&format!("AUTH PLAIN\r\n{long}\r\n"))
            .ends_with("500 5.5.6 Authentication exchange line is too long\r\n")
    );
    // Still usable: the line decoder resynchronised.
    assert_eq!(h.codes_of("NOOP\r\n"), [250]);
}

#[test]
fn repeated_auth_failures_close_the_session() {
    let mut h = Harness::with(config(), true);
    h.verdict = Box::new(|r| match r {
        Request::Auth { .. } => Err(Reply::enhanced(
            535,
            smtp_wire::EnhancedCode::new(5, 7, 8),
            "Bad",
        )),
        _ => Ok(()),
    });
    h.send("EHLO c.example\r\n");
    let attempt = format!("AUTH PLAIN {}\r\n", plain("mallory", "guess"));
    let out = h.send(&attempt.repeat(4));
    assert_eq!(Harness::codes(&out), [535, 535, 535, 421], "{out}");
    assert!(h.closed);
}

#[test]
fn auth_needs_tls_unless_loopback_is_explicitly_allowed() {
    let mut h = Harness::greeted();
    let out = h.send("EHLO c.example\r\nAUTH PLAIN AHUAcA==\r\n");
    assert!(!out.contains("AUTH PLAIN LOGIN"));
    assert!(
        out.ends_with("538 5.7.11 Encryption required: use STARTTLS first\r\n"),
        "{out}"
    );

    let mut c = config();
    c.auth.allow_plaintext_on_loopback = true;
    let from_afar = Session::new(Arc::new(c.clone()), info("192.0.2.1:4000"));
    let mut h = Harness::from_session(from_afar);
    assert!(
        h.send("EHLO c.example\r\nAUTH PLAIN AHUAcA==\r\n")
            .ends_with("538 5.7.11 Encryption required: use STARTTLS first\r\n")
    );
    for peer in ["127.0.0.1:4000", "[::1]:4000"] {
        let mut h = Harness::from_session(Session::new(Arc::new(c.clone()), info(peer)));
        let out = h.send("EHLO c.example\r\nAUTH PLAIN AHUAcA==\r\n");
        assert!(
            out.contains("250-AUTH PLAIN LOGIN\r\n")
                && out.ends_with("235 2.7.0 Authentication successful\r\n"),
            "{peer}: {out}"
        );
    }
}

#[test]
fn auth_is_not_implemented_when_disabled() {
    let mut c = config();
    c.auth.enabled = false;
    let mut h = Harness::with(c, true);
    let out = h.send("EHLO c.example\r\nAUTH PLAIN AHUAcA==\r\n");
    assert!(!out.contains("AUTH PLAIN LOGIN"));
    assert!(out.ends_with("502 5.5.1 AUTH not implemented\r\n"));
}

/// RFC 4616 §2 (UTF8SAFE) and RFC 4954 §4: control characters in a user
/// name or authorization identity are refused with 501 5.5.2 before the
/// application (or a log line) ever sees them.
#[test]
fn control_characters_in_identities_are_refused() {
    for (input, what) in [
        (
            format!("AUTH PLAIN {}\r\n", sasl::encode("\0ali\r\nce\0pw")),
            "CRLF in a PLAIN user name",
        ),
        (
            format!("AUTH PLAIN {}\r\n", sasl::encode("ad\x1bmin\0alice\0pw")),
            "ESC in a PLAIN authorization identity",
        ),
        (
            format!("AUTH LOGIN {}\r\n", sasl::encode("bob\nINFO forged")),
            "LF in a LOGIN user name",
        ),
        (
            format!("AUTH PLAIN {}\r\n", sasl::encode("\0al\u{85}ice\0pw")),
            "a C1 control (NEL) in a PLAIN user name",
        ),
    ] {
        let mut h = Harness::with(config(), true);
        h.send("EHLO c.example\r\n");
        let out = h.send(&input);
        assert!(out.starts_with("501 5.5.2 "), "{what}: {out}");
        assert!(
            h.asked.iter().all(|r| !matches!(r, Request::Auth { .. })),
            "{what}"
        );
    }
    // A password may hold anything but NUL (it is never logged).
    let mut h = Harness::with(config(), true);
    h.send("EHLO c.example\r\n");
    let out = h.send(&format!(
        "AUTH PLAIN {}\r\n",
        sasl::encode("\0alice\0p\tw\r\n")
    ));
    assert!(out.starts_with("235 "), "{out}");
}

/// OAUTHBEARER and XOAUTH2 (RFC 7628): offered only with `auth.tokens`;
/// the token reaches the application; a refused one gets the error
/// challenge, and the refusal follows the client's acknowledgement.
#[test]
fn bearer_tokens_with_the_rfc_7628_error_dance() {
    let mut h = Harness::with(config(), true);
    let out = h.send("EHLO c.example\r\n");
    assert!(
        out.contains("250-AUTH PLAIN LOGIN\r\n"),
        "not offered by default: {out}"
    );
    assert_eq!(h.codes_of("AUTH XOAUTH2 eA==\r\n"), [504]);

    let mut c = config();
    c.auth.tokens = true;
    let mut h = Harness::with(c, true);
    h.verdict = Box::new(|r| match r {
        Request::Auth { credentials: c, .. } if c.token() == Some("good") => Ok(()),
        Request::Auth { .. } => Err(crate::replies::auth_failed()),
        _ => Ok(()),
    });
    let out = h.send("EHLO c.example\r\n");
    assert!(
        out.contains("250-AUTH PLAIN LOGIN OAUTHBEARER XOAUTH2\r\n"),
        "{out}"
    );
    let bad = sasl::oauthbearer_response("alice@example.org", "expired");
    let out = h.send(&format!("AUTH OAUTHBEARER {bad}\r\n"));
    assert_eq!(out, format!("334 {}\r\n", sasl::oauth_error_challenge()));
    assert!(h.session.in_auth());
    assert_eq!(
        h.send("AQ==\r\n"),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    let good = sasl::xoauth2_response("alice@example.org", "good");
    assert_eq!(h.codes_of(&format!("AUTH XOAUTH2 {good}\r\n")), [235]);
    let Some(Request::Auth {
        mechanism,
        credentials,
    }) = h.asked.last()
    else {
        panic!()
    };
    assert_eq!(*mechanism, Mechanism::XOAuth2);
    assert_eq!(credentials.username, "alice@example.org");
}

/// A mechanism added by the application, through the trait: advertised,
/// challenged, and its credentials handed over, without a session change.
#[test]
fn an_added_mechanism_runs_through_the_trait() {
    use smtp_wire::sasl::{MechanismExchange, MechanismStep, ServerMechanism};

    #[derive(Debug)]
    struct Otp;
    #[derive(Debug)]
    struct OtpExchange {
        user: Option<String>,
    }
    impl ServerMechanism for Otp {
        fn name(&self) -> &'static str {
            "X-OTP"
        }
        fn start(&self) -> Box<dyn MechanismExchange> {
            Box::new(OtpExchange { user: None })
        }
    }
    impl MechanismExchange for OtpExchange {
        fn step(&mut self, response: Option<&[u8]>) -> MechanismStep {
            let text = response.map(|r| String::from_utf8_lossy(r).into_owned());
            match (self.user.take(), text) {
                (None, Some(user)) if !user.is_empty() => {
                    self.user = Some(user);
                    MechanismStep::Challenge(b"code?".to_vec())
                }
                (Some(user), Some(code)) => MechanismStep::Done(Credentials::bearer(user, code)),
                _ => MechanismStep::Fail("X-OTP needs the user name first".into()),
            }
        }
    }

    let mut c = config();
    c.extra_mechanisms.push(std::sync::Arc::new(Otp));
    let mut h = Harness::with(c, true);
    assert!(
        h.send("EHLO c.example\r\n")
            .contains("250-AUTH PLAIN LOGIN X-OTP\r\n")
    );
    assert_eq!(
        h.send(&format!("AUTH x-otp {}\r\n", sasl::encode("dave"))),
        format!("334 {}\r\n", sasl::encode("code?"))
    );
    assert_eq!(
        h.codes_of(&format!("{}\r\n", sasl::encode("123456"))),
        [235]
    );
    let Some(Request::Auth {
        mechanism,
        credentials,
    }) = h.asked.last()
    else {
        panic!()
    };
    assert_eq!(*mechanism, Mechanism::Custom("X-OTP"));
    assert_eq!(
        (credentials.username.as_str(), credentials.token()),
        ("dave", Some("123456"))
    );

    let mut h = Harness::with(config_with(Otp), true);
    h.send("EHLO c.example\r\n");
    assert_eq!(h.codes_of("AUTH X-OTP\r\n"), [501], "Fail becomes 501");
    assert_eq!(
        h.codes_of(&format!("AUTH X-OTP {}\r\n", sasl::encode("e"))),
        [334]
    );
    assert_eq!(h.codes_of("*\r\n"), [501], "cancelled");
    assert_eq!(h.codes_of("NOOP\r\n"), [250], "back to commands");

    fn config_with(m: Otp) -> crate::SessionConfig {
        let mut c = config();
        c.extra_mechanisms.push(std::sync::Arc::new(m));
        c
    }
}

//! What the shell warns about before it sends a command: an extension the
//! server did not offer in its EHLO reply, TLS asked for twice, a command
//! RFC 5321 retired. The server stays the judge of everything else (a
//! command out of sequence earns its 503 from the server, which is what a
//! learner should see).

use smtp_wire::capability::Capabilities;
use smtp_wire::command::Command;
use smtp_wire::param::{Body, MailParams, RcptParams};

/// What the shell knows about the server's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offered {
    /// No EHLO answered yet: nothing is known.
    NotYet,
    /// TLS started since the last EHLO: RFC 3207 §4.2 makes both sides
    /// forget what was offered, until EHLO is answered again.
    ForgottenByTls,
    /// The session was opened with HELO: no extensions (RFC 5321 §3.2).
    Helo,
    /// The keywords of the last EHLO reply.
    Ehlo(Capabilities),
}

impl Offered {
    /// True when `keyword` was in the last EHLO reply (RFC 5321 §2.4: any case).
    pub fn has(&self, keyword: &str) -> bool {
        matches!(self, Offered::Ehlo(caps) if caps.has(keyword))
    }

    /// The capabilities to complete from: `None` when not known.
    pub fn capabilities(&self) -> Option<Capabilities> {
        match self {
            Offered::Ehlo(caps) => Some(caps.clone()),
            Offered::Helo => Some(Capabilities::default()),
            Offered::NotYet | Offered::ForgottenByTls => None,
        }
    }

    /// Why `extension` cannot be used, or `None` when it was offered.
    fn missing(&self, extension: &str, rfc: &str) -> Option<String> {
        let why = match self {
            Offered::Ehlo(caps) if caps.has(extension) => return None,
            Offered::Ehlo(_) => "the server's EHLO reply does not list it",
            Offered::Helo => "after HELO a server offers no extensions (RFC 5321 §3.2)",
            Offered::NotYet => {
                "no EHLO has been answered yet, so nothing is known to be offered \
                 (RFC 5321 §4.1.1.1)"
            }
            Offered::ForgottenByTls => {
                "TLS started since the last EHLO, and RFC 3207 §4.2 makes both sides \
                 forget the extensions: say EHLO again"
            }
        };
        Some(format!("{extension} ({rfc}) was not offered: {why}"))
    }
}

/// What the session is like when a command is about to go.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// Under TLS (implicit, or after STARTTLS).
    pub tls: bool,
    /// AUTH succeeded in this session.
    pub authenticated: bool,
    /// The parameters of the MAIL command the server accepted, while its
    /// transaction is open.
    pub mail: Option<&'a MailParams>,
}

/// The warnings for `command`, each one sentence with its RFC; empty when
/// nothing is wrong that the shell can tell.
pub fn warnings(command: &Command, offered: &Offered, context: Context<'_>) -> Vec<String> {
    let mut out = Vec::new();
    match command {
        Command::StartTls if context.tls => out.push(
            "TLS is already on: STARTTLS is neither offered nor accepted a second time \
             (RFC 3207 §4.2)"
                .to_string(),
        ),
        Command::StartTls => out.extend(offered.missing("STARTTLS", "RFC 3207 §4")),
        Command::Auth { mechanism, .. } => {
            if context.authenticated {
                out.push(
                    "this session is already authenticated: a second AUTH is refused with \
                     503 (RFC 4954 §4)"
                        .to_string(),
                );
            }
            match offered.missing("AUTH", "RFC 4954 §3") {
                Some(missing) => out.push(missing),
                None => {
                    let offered_mechanisms = match offered {
                        Offered::Ehlo(caps) => caps.auth_mechanisms(),
                        _ => Vec::new(),
                    };
                    if !offered_mechanisms.iter().any(|m| m == mechanism) {
                        out.push(format!(
                            "the server offers AUTH {}, not {mechanism} (RFC 4954 §3)",
                            offered_mechanisms.join(" ")
                        ));
                    }
                }
            }
        }
        Command::Mail { from, params } => {
            out.extend(mail_params(params, offered));
            // RFC 6531 §3.4: a UTF-8 address is only sent with SMTPUTF8.
            if !from.to_string().is_ascii() && !params.smtputf8 {
                out.push(
                    "this address is not ASCII: it needs the SMTPUTF8 parameter \
                     (RFC 6531 §3.4)"
                        .to_string(),
                );
            }
        }
        Command::Rcpt { to, params } => {
            out.extend(rcpt_params(params, offered));
            let utf8 = context.mail.is_some_and(|mail| mail.smtputf8);
            if !to.to_string().is_ascii() && !utf8 {
                out.push(
                    "this address is not ASCII: the MAIL command needed the SMTPUTF8 \
                     parameter (RFC 6531 §3.4)"
                        .to_string(),
                );
            }
        }
        Command::Data
            if context
                .mail
                .is_some_and(|mail| mail.body == Some(Body::BinaryMime)) =>
        {
            out.push(
                "BODY=BINARYMIME was declared: such a message goes with BDAT, never \
                 DATA (RFC 3030 §3)"
                    .to_string(),
            );
        }
        Command::Bdat { .. } => out.extend(offered.missing("CHUNKING", "RFC 3030 §2")),
        Command::Xclient(_) => out.extend(offered.missing("XCLIENT", "Postfix's extension")),
        Command::Turn => out.push(
            "TURN is obsolete and unsafe: RFC 5321 §4.1.1 (Appendix F.1) says servers \
             answer 502"
                .to_string(),
        ),
        Command::Send(_) | Command::Soml(_) | Command::Saml(_) => out.push(
            "SEND, SOML and SAML are obsolete: RFC 5321 Appendix F.6 says servers answer 502"
                .to_string(),
        ),
        _ => {}
    }
    out
}

/// MAIL parameters whose extension was not offered.
fn mail_params(params: &MailParams, offered: &Offered) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(size) = params.size {
        match offered.missing("SIZE", "RFC 1870") {
            Some(missing) => out.push(format!("SIZE=: {missing}")),
            None => {
                if let Offered::Ehlo(caps) = offered
                    && let Some(limit) = caps.size_limit()
                    && size > limit
                {
                    out.push(format!(
                        "SIZE={size} is more than the {limit} octets the server takes: it \
                         will refuse the message at once (RFC 1870 §6.1)"
                    ));
                }
            }
        }
    }
    match params.body {
        Some(Body::EightBitMime | Body::SevenBit) => out.extend(
            offered
                .missing("8BITMIME", "RFC 6152 §3")
                .map(|m| format!("BODY=: {m}")),
        ),
        Some(Body::BinaryMime) => {
            out.extend(
                offered
                    .missing("BINARYMIME", "RFC 3030 §3")
                    .map(|m| format!("BODY=BINARYMIME: {m}")),
            );
            out.extend(
                offered
                    .missing("CHUNKING", "RFC 3030 §2")
                    .map(|m| format!("BODY=BINARYMIME needs BDAT: {m}")),
            );
        }
        None => {}
    }
    if params.smtputf8 {
        out.extend(offered.missing("SMTPUTF8", "RFC 6531 §3.4"));
    }
    if params.ret.is_some() || params.envid.is_some() {
        out.extend(
            offered
                .missing("DSN", "RFC 3461 §4")
                .map(|m| format!("RET=/ENVID=: {m}")),
        );
    }
    if params.auth.is_some() {
        out.extend(
            offered
                .missing("AUTH", "RFC 4954 §5")
                .map(|m| format!("AUTH=: {m}")),
        );
    }
    for param in &params.other {
        out.extend(unknown_param(&param.keyword, offered));
    }
    out
}

/// RCPT parameters whose extension was not offered.
fn rcpt_params(params: &RcptParams, offered: &Offered) -> Vec<String> {
    let mut out = Vec::new();
    if params.notify.is_some() || params.orcpt.is_some() {
        out.extend(
            offered
                .missing("DSN", "RFC 3461 §4")
                .map(|m| format!("NOTIFY=/ORCPT=: {m}")),
        );
    }
    for param in &params.other {
        out.extend(unknown_param(&param.keyword, offered));
    }
    out
}

/// A parameter this codec has no type for: an extension of the same name
/// must have been offered, or the server answers 555 (RFC 5321 §4.1.1.11).
fn unknown_param(keyword: &str, offered: &Offered) -> Option<String> {
    if offered.has(keyword) {
        return None;
    }
    Some(format!(
        "{keyword}= belongs to no extension the server offered: it answers 555 \
         (RFC 5321 §4.1.1.11)"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use smtp_wire::reply::Reply;

    fn ehlo(lines: &str) -> Offered {
        Offered::Ehlo(Capabilities::from_ehlo_reply(&Reply::new(250, lines)))
    }

    fn warn(line: &str, offered: &Offered) -> Vec<String> {
        warnings(
            &Command::parse(line.as_bytes()).unwrap(),
            offered,
            Context::default(),
        )
    }

    #[test]
    fn an_offered_extension_is_quiet_and_a_missing_one_is_named_with_its_rfc() {
        let full = ehlo("mx\nSIZE 1000\n8BITMIME\nSMTPUTF8\nDSN\nCHUNKING\nSTARTTLS\nAUTH PLAIN");
        for line in [
            "MAIL FROM:<a@example.org> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS",
            "RCPT TO:<b@example.org> NOTIFY=SUCCESS",
            "BDAT 10 LAST",
            "STARTTLS",
            "AUTH PLAIN",
        ] {
            assert!(
                warn(line, &full).is_empty(),
                "{line}: {:?}",
                warn(line, &full)
            );
        }
        let bare = ehlo("mx\nPIPELINING");
        let said = warn("MAIL FROM:<a@example.org> SIZE=10 BODY=8BITMIME", &bare);
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].contains("SIZE") && said[0].contains("RFC 1870"));
        assert!(said[1].contains("8BITMIME (RFC 6152 §3)"), "{said:?}");
        assert!(warn("RCPT TO:<b@example.org> NOTIFY=NEVER", &bare)[0].contains("DSN"));
        assert!(warn("BDAT 10", &bare)[0].contains("CHUNKING (RFC 3030 §2)"));
        assert!(warn("STARTTLS", &bare)[0].contains("EHLO reply does not list it"));
        assert!(warn("MAIL FROM:<a@example.org> MT-PRIORITY=3", &bare)[0].contains("555"));
    }

    #[test]
    fn the_reason_says_what_is_known() {
        assert!(warn("STARTTLS", &Offered::NotYet)[0].contains("no EHLO"));
        assert!(warn("AUTH PLAIN", &Offered::ForgottenByTls)[0].contains("RFC 3207 §4.2"));
        assert!(warn("MAIL FROM:<a@b.example> SMTPUTF8", &Offered::Helo)[0].contains("HELO"));
        // Plain MAIL needs no extension at all.
        assert!(warn("MAIL FROM:<a@b.example>", &Offered::Helo).is_empty());
    }

    #[test]
    fn size_over_the_limit_mechanism_not_offered_tls_twice() {
        let caps = ehlo("mx\nSIZE 1000\nAUTH LOGIN");
        assert!(warn("MAIL FROM:<a@b.example> SIZE=2000", &caps)[0].contains("RFC 1870 §6.1"));
        assert!(warn("AUTH PLAIN", &caps)[0].contains("offers AUTH LOGIN, not PLAIN"));
        let tls = Context {
            tls: true,
            ..Context::default()
        };
        let said = warnings(&Command::StartTls, &ehlo("mx"), tls);
        assert!(said[0].contains("already on"), "{said:?}");
    }

    #[test]
    fn utf8_addresses_need_smtputf8() {
        let caps = ehlo("mx\nSMTPUTF8");
        assert!(warn("MAIL FROM:<josé@example.org>", &caps)[0].contains("RFC 6531 §3.4"));
        assert!(warn("MAIL FROM:<josé@example.org> SMTPUTF8", &caps).is_empty());
        let declared = MailParams::parse("SMTPUTF8").unwrap();
        let context = Context {
            mail: Some(&declared),
            ..Context::default()
        };
        let rcpt = Command::parse("RCPT TO:<zoë@example.org>".as_bytes()).unwrap();
        assert!(warnings(&rcpt, &caps, context).is_empty());
        assert!(!warnings(&rcpt, &caps, Context::default()).is_empty());
    }
}

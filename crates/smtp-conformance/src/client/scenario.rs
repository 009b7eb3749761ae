//! Scenarios: ways the judging receiver misbehaves on purpose, and the
//! reaction each expects from a well-behaved client.

use std::fmt;
use std::str::FromStr;

use crate::model::{CaseInfo, Level};

/// How the judging receiver behaves for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// A well-behaved modern server: PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
    /// CHUNKING, ENHANCEDSTATUSCODES, STARTTLS (with TLS), AUTH inside TLS.
    Normal,
    /// An RFC 5321 server with no extensions but STARTTLS/AUTH: the client
    /// must wait for every reply and send 7-bit data only.
    Minimal,
    /// EHLO is refused with 502; HELO works.
    EhloRefused,
    /// The first RCPT of each transaction is refused with 550.
    RcptRefused,
    /// SIZE advertises 64 octets: smaller than any message.
    SizeTooSmall,
    /// MAIL is answered with 421 and the connection is closed.
    Shutdown421,
    /// MAIL is answered with 451 (temporary failure).
    TempfailMail,
    /// The greeting has three lines, the last one sent after a pause.
    MultilineGreeting,
    /// The 220 reply to STARTTLS is followed by injected plaintext lines.
    StartTlsInjection,
    /// STARTTLS is not offered (run it with the client set to require TLS).
    NoStartTls,
    /// The certificate is signed by the trusted CA but for another name.
    BadCertName,
    /// The certificate is for the right name but signed by an unknown CA.
    UntrustedCert,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 12] = [
        Scenario::Normal,
        Scenario::Minimal,
        Scenario::EhloRefused,
        Scenario::RcptRefused,
        Scenario::SizeTooSmall,
        Scenario::Shutdown421,
        Scenario::TempfailMail,
        Scenario::MultilineGreeting,
        Scenario::StartTlsInjection,
        Scenario::NoStartTls,
        Scenario::BadCertName,
        Scenario::UntrustedCert,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Normal => "normal",
            Scenario::Minimal => "minimal",
            Scenario::EhloRefused => "ehlo-refused",
            Scenario::RcptRefused => "rcpt-refused",
            Scenario::SizeTooSmall => "size-too-small",
            Scenario::Shutdown421 => "421-mid-session",
            Scenario::TempfailMail => "tempfail-mail",
            Scenario::MultilineGreeting => "multiline-greeting",
            Scenario::StartTlsInjection => "starttls-injection",
            Scenario::NoStartTls => "no-starttls",
            Scenario::BadCertName => "bad-cert-name",
            Scenario::UntrustedCert => "untrusted-cert",
        }
    }

    /// True when the scenario needs TLS to mean anything.
    pub fn needs_tls(self) -> bool {
        matches!(
            self,
            Scenario::StartTlsInjection | Scenario::BadCertName | Scenario::UntrustedCert
        )
    }

    /// The rule the client's reaction is judged by (None: no reaction expected).
    pub fn reaction(self) -> Option<CaseInfo> {
        let (title, rfc, level) = match self {
            Scenario::Normal | Scenario::Minimal => return None,
            Scenario::EhloRefused => (
                "After EHLO is refused the client falls back to HELO",
                "RFC 5321 §3.2, §4.1.4",
                Level::Should,
            ),
            Scenario::RcptRefused => (
                "After a refused RCPT the client goes on with the others, and sends no message text unless DATA got 354",
                "RFC 5321 §3.3, §4.1.1.4",
                Level::Must,
            ),
            Scenario::SizeTooSmall => (
                "The client does not transmit a message larger than the advertised SIZE",
                "RFC 1870 §6",
                Level::Should,
            ),
            Scenario::Shutdown421 => (
                "After a 421 the client sends nothing but QUIT",
                "RFC 5321 §3.8, §4.2.1",
                Level::Should,
            ),
            Scenario::TempfailMail => (
                "After a 4yz reply to MAIL the client sends no RCPT or DATA for it",
                "RFC 5321 §3.3, §4.2.1",
                Level::Must,
            ),
            Scenario::MultilineGreeting => (
                "The client waits for the last line of a multi-line greeting",
                "RFC 5321 §4.2.1",
                Level::Must,
            ),
            Scenario::StartTlsInjection => (
                "Plaintext after the STARTTLS reply is discarded, not read as the EHLO reply inside TLS",
                "RFC 3207 §4.2 (\"NO STARTTLS\" response injection)",
                Level::Must,
            ),
            Scenario::NoStartTls => (
                "A client requiring TLS sends no mail when STARTTLS is not offered",
                "RFC 3207 §4.1, §6",
                Level::Hardening,
            ),
            Scenario::BadCertName => (
                "A certificate for another name is refused",
                "RFC 3207 §4.1, RFC 6125 §6",
                Level::Hardening,
            ),
            Scenario::UntrustedCert => (
                "A certificate from an unknown CA is refused",
                "RFC 3207 §4.1, RFC 5280 §6",
                Level::Hardening,
            ),
        };
        Some(CaseInfo {
            id: reaction_id(self),
            title,
            rfc,
            level,
        })
    }

    /// One line for `--help` and the docs.
    pub fn describe(self) -> &'static str {
        match self {
            Scenario::Normal => "a well-behaved server offering the usual extensions",
            Scenario::Minimal => {
                "no extensions (except STARTTLS/AUTH): every reply must be awaited, 7-bit only"
            }
            Scenario::EhloRefused => "EHLO gets 502, HELO works",
            Scenario::RcptRefused => "the first RCPT of each transaction gets 550",
            Scenario::SizeTooSmall => "SIZE 64 is advertised",
            Scenario::Shutdown421 => "MAIL gets 421 and the connection closes",
            Scenario::TempfailMail => "MAIL gets 451",
            Scenario::MultilineGreeting => "a three-line greeting whose last line comes late",
            Scenario::StartTlsInjection => "the 220 to STARTTLS carries injected lines",
            Scenario::NoStartTls => "STARTTLS is not offered",
            Scenario::BadCertName => "the certificate is for wrong-name.invalid",
            Scenario::UntrustedCert => "the certificate is signed by an unknown CA",
        }
    }
}

fn reaction_id(s: Scenario) -> &'static str {
    match s {
        Scenario::Normal => "scenario.normal",
        Scenario::Minimal => "scenario.minimal",
        Scenario::EhloRefused => "scenario.ehlo-refused",
        Scenario::RcptRefused => "scenario.rcpt-refused",
        Scenario::SizeTooSmall => "scenario.size-too-small",
        Scenario::Shutdown421 => "scenario.421-mid-session",
        Scenario::TempfailMail => "scenario.tempfail-mail",
        Scenario::MultilineGreeting => "scenario.multiline-greeting",
        Scenario::StartTlsInjection => "scenario.starttls-injection",
        Scenario::NoStartTls => "scenario.no-starttls",
        Scenario::BadCertName => "scenario.bad-cert-name",
        Scenario::UntrustedCert => "scenario.untrusted-cert",
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown scenario name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown scenario {0:?}")]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownScenario(s.to_string()))
    }
}

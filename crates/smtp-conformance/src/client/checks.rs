//! The rules every client session is judged by, and the record of what
//! was found.

use std::collections::HashMap;

use crate::model::{CaseInfo, Level, Verdict};

macro_rules! checks {
    ($($name:ident = $id:literal, $level:ident, $rfc:literal, $title:literal;)*) => {
        /// The id of each client check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Check { $(
            #[doc = $title]
            $name,
        )* }

        impl Check {
            /// Every check, in report order.
            pub const ALL: &'static [Check] = &[$(Check::$name),*];

            /// Id, title, RFC section and level.
            pub fn info(self) -> CaseInfo {
                match self { $(
                    Check::$name => CaseInfo { id: $id, title: $title, rfc: $rfc, level: Level::$level },
                )* }
            }
        }
    };
}

checks! {
    GreetingWait = "client.greeting-wait", Should, "RFC 5321 §4.3.1",
        "Waits for the 220 greeting before sending anything";
    Crlf = "client.crlf", Must, "RFC 5321 §2.3.8, §4.1.1.4",
        "Every command and text line ends with CRLF (no bare CR or LF)";
    CommandSyntax = "client.command-syntax", Must, "RFC 5321 §4.1.1, §4.1.2",
        "Every command is well-formed";
    EhloFirst = "client.ehlo-first", Must, "RFC 5321 §4.1.1.1, §4.1.4",
        "EHLO or HELO is accepted before MAIL";
    EhloPreferred = "client.ehlo-preferred", Should, "RFC 5321 §4.1.1.1, §3.2",
        "The session opens with EHLO (HELO only after EHLO is refused)";
    CommandOrder = "client.command-order", Must, "RFC 5321 §3.3, §4.1.4",
        "MAIL, RCPT, DATA in order: no RCPT without MAIL, no DATA without a recipient, no nested MAIL";
    WaitsForReplies = "client.waits-for-replies", Must, "RFC 5321 §4.3.1, RFC 2920 §3.1",
        "Waits for each reply unless PIPELINING is offered; EHLO, DATA, STARTTLS, AUTH, QUIT, NOOP end a group";
    DotStuffing = "client.dot-stuffing", Must, "RFC 5321 §4.5.2",
        "Body lines starting with a dot are doubled";
    LineLength = "client.line-length", Must, "RFC 5321 §4.5.3.1.4, §4.5.3.1.6",
        "Command lines fit 512 octets, text lines 1000 octets (with CRLF)";
    EightBit = "client.8bit-data", Must, "RFC 6152 §3, RFC 5321 §2.4",
        "8-bit octets in the body only after 8BITMIME was offered and BODY=8BITMIME declared";
    SmtpUtf8 = "client.smtputf8", Must, "RFC 6531 §3.2, §3.4",
        "Non-ASCII addresses only after SMTPUTF8 was offered and declared on MAIL";
    ParamsOffered = "client.params-offered", Must, "RFC 5321 §4.1.1.3, §2.2.2",
        "MAIL/RCPT parameters only for extensions the server offered";
    SizeDeclared = "client.size-declared", Should, "RFC 1870 §6",
        "With SIZE offered, MAIL declares SIZE= at least the message's size";
    NoAuthInClear = "client.no-auth-in-clear", Hardening, "RFC 4954 §4, RFC 3207 §6",
        "No AUTH (credentials) before TLS";
    EhloAfterTls = "client.ehlo-after-starttls", Should, "RFC 3207 §4.2",
        "The first command after the TLS handshake is EHLO";
    Quit = "client.quit", Must, "RFC 5321 §4.1.1.10, §4.1.4",
        "The session ends with QUIT, and nothing follows it";
}

/// What one check found.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub(crate) text: String,
    pub(crate) evidence: Vec<String>,
    pub(crate) more: usize,
}

/// Violations and notes gathered during a session.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    violations: HashMap<Check, Finding>,
    /// Checks that had something to look at (else they are skipped).
    exercised: HashMap<Check, String>,
}

impl Findings {
    /// Records a violation of `check`; the first one is kept, later ones counted.
    pub(crate) fn violate(&mut self, check: Check, text: String, evidence: Vec<String>) {
        self.violations
            .entry(check)
            .and_modify(|f| f.more += 1)
            .or_insert(Finding {
                text,
                evidence,
                more: 0,
            });
    }

    /// Marks `check` as having seen what it checks (with a pass detail).
    pub(crate) fn exercised(&mut self, check: Check, detail: &str) {
        self.exercised
            .entry(check)
            .or_insert_with(|| detail.to_string());
    }

    /// The verdict of `check`, with evidence; `skip` says why it was not
    /// exercised when it was not.
    pub(crate) fn verdict(&self, check: Check, skip: &str) -> (Verdict, Vec<String>) {
        if let Some(f) = self.violations.get(&check) {
            let text = if f.more > 0 {
                format!("{} (and {} more)", f.text, f.more)
            } else {
                f.text.clone()
            };
            return (Verdict::Violation(text), f.evidence.clone());
        }
        match self.exercised.get(&check) {
            Some(detail) => (Verdict::Pass(detail.clone()), Vec::new()),
            None => (Verdict::Skip(skip.to_string()), Vec::new()),
        }
    }
}

//! The client judge's verdicts on a recorded session, in the API's shape:
//! the judge itself is `smtp_conformance::observe::judge`, the same rules
//! that `smtp-conform client` applies (one copy of each rule), read off
//! the transcript the receiver recorded.

use smtp_conformance::observe;

/// One finding on one transcript line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Index into `Transcript::lines()`.
    #[serde(rename = "Line")]
    pub line: usize,
    /// The stable id of the client check.
    #[serde(rename = "Check")]
    pub check: String,
    /// `MUST`, `SHOULD`, ...
    #[serde(rename = "Level")]
    pub level: String,
    /// One line for people.
    #[serde(rename = "Text")]
    pub text: String,
    /// `RFC 5321 §2.3.8`.
    #[serde(rename = "RFC")]
    pub rfc: String,
}

/// The judge's word on a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts {
    /// `conforming`, `warnings`, `violations`; `None` when not judged.
    pub badge: Option<&'static str>,
    /// Findings, by line.
    pub findings: Vec<Finding>,
}

impl From<observe::Judgement> for Verdicts {
    /// The judge's findings (`observe::judge` or `observe::judge_lines`)
    /// in the API's shape.
    fn from(judgement: observe::Judgement) -> Verdicts {
        Verdicts {
            badge: Some(judgement.badge.as_str()),
            findings: judgement
                .findings
                .into_iter()
                .map(|f| Finding {
                    line: f.line,
                    check: f.check.to_owned(),
                    level: f.level.as_str().to_owned(),
                    text: f.text,
                    rfc: f.rfc.to_owned(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_wire::Transcript;

    #[test]
    fn a_session_without_quit_is_judged_with_a_finding_on_a_line() {
        let mut transcript = Transcript::new();
        transcript.server(b"220 mx.example ESMTP\r\n");
        transcript.client(b"EHLO client.example\r\n");
        transcript.server(b"250 mx.example\r\n");
        let verdicts = Verdicts::from(observe::judge(&transcript));
        assert!(verdicts.badge.is_some());
        assert_ne!(verdicts.badge, Some("conforming"), "{verdicts:?}");
        assert!(!verdicts.findings.is_empty());
        assert!(verdicts.findings.iter().all(|f| f.line < 3));
    }
}

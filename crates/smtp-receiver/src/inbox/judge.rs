//! The client judge's verdicts on a recorded session, shaped as the
//! contract of `smtp_conformance::observe::judge` (findings per transcript
//! line, a badge). Until that function is on main this adapter has no
//! verdicts to give: the API then says `"Badge": null` and lists no
//! findings, rather than claim a session conforms. Switching over is this
//! file only.

use smtp_wire::Transcript;

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

/// Judges what the client did in `transcript`.
pub fn judge(transcript: &Transcript) -> Verdicts {
    let _ = transcript;
    Verdicts::default()
}

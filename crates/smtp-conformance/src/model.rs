//! What a suite reports: cases, requirement levels, outcomes.
//!
//! Both suites (server and client) describe every rule they check with a
//! [`CaseInfo`] (stable id, one-line title, RFC section, [`Level`]) and
//! report a [`CaseResult`] per case, collected in a [`Report`].

use std::fmt;
use std::time::Duration;

use smtp_wire::TranscriptLine;

/// How strongly a rule is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// An absolute requirement (RFC 2119 MUST / MUST NOT / REQUIRED).
    Must,
    /// A recommendation (RFC 2119 SHOULD / SHOULD NOT): not meeting it is a warning.
    Should,
    /// An option (RFC 2119 MAY): not meeting it is a warning at most.
    May,
    /// Resistance to an attack class that no RFC names (or names without a
    /// requirement keyword): line splitting, command injection, resource limits.
    Hardening,
}

impl Level {
    /// `"MUST"`, `"SHOULD"`, `"MAY"` or `"hardening"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Hardening => "hardening",
        }
    }

    /// The outcome of a case at this level whose rule was broken: a failure
    /// for MUST and hardening, a warning for SHOULD and MAY.
    pub fn violated(self) -> Outcome {
        match self {
            Level::Must | Level::Hardening => Outcome::Fail,
            Level::Should | Level::May => Outcome::Warn,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule a suite checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseInfo {
    /// Stable identifier, `family.name` (e.g. `order.rcpt-before-mail`).
    pub id: &'static str,
    /// One line saying what a conforming peer does.
    pub title: &'static str,
    /// Where the rule is written, e.g. `RFC 5321 §3.3`.
    pub rfc: &'static str,
    /// How strongly it is required.
    pub level: Level,
}

/// The result of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The peer did what the rule asks.
    Pass,
    /// A MUST or hardening rule was broken.
    Fail,
    /// A SHOULD (or MAY) rule was not met.
    Warn,
    /// Not applicable (e.g. the extension is not offered); the detail says why.
    Skip,
    /// The case could not reach the point it tests (e.g. a setup command was
    /// refused, a timeout); the detail says why. Counts neither way.
    Inconclusive,
}

impl Outcome {
    /// `"pass"`, `"fail"`, `"warn"`, `"skip"` or `"inconclusive"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Warn => "warn",
            Outcome::Skip => "skip",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a case found, before the level turns it into an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The rule holds; the text says what was seen (may be empty).
    Pass(String),
    /// The rule is broken; the text says how.
    Violation(String),
    /// Not applicable; the text says why.
    Skip(String),
    /// Could not be decided; the text says why.
    Inconclusive(String),
}

impl Verdict {
    /// The outcome of this verdict for a rule of `level`.
    pub fn outcome(&self, level: Level) -> Outcome {
        match self {
            Verdict::Pass(_) => Outcome::Pass,
            Verdict::Violation(_) => level.violated(),
            Verdict::Skip(_) => Outcome::Skip,
            Verdict::Inconclusive(_) => Outcome::Inconclusive,
        }
    }

    /// The explanation.
    pub fn detail(&self) -> &str {
        match self {
            Verdict::Pass(s)
            | Verdict::Violation(s)
            | Verdict::Skip(s)
            | Verdict::Inconclusive(s) => s,
        }
    }
}

/// The result of one case in a run.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case.
    pub info: CaseInfo,
    /// Its outcome.
    pub outcome: Outcome,
    /// What was seen, or why it was skipped / inconclusive.
    pub detail: String,
    /// For failures, warnings and inconclusive cases: the part of the
    /// transcript that shows it (`C:` / `S:` lines).
    pub evidence: Vec<String>,
    /// Every line the case exchanged (all its connections), for the HTML
    /// report; long transcripts keep their start and end. Empty when the
    /// suite judges one session for all its cases (the client suite: see
    /// [`Report::session`]) and for skipped cases.
    pub transcript: Vec<TranscriptLine>,
    /// How long the case took.
    pub duration: Duration,
}

/// Counts of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases passed.
    pub passed: usize,
    /// Cases failed (MUST and hardening).
    pub failed: usize,
    /// Cases warned (SHOULD / MAY not met).
    pub warned: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// Cases that could not be decided.
    pub inconclusive: usize,
    /// Of the failures, how many are MUST rules.
    pub must_failed: usize,
    /// Of the failures, how many are hardening rules.
    pub hardening_failed: usize,
}

impl std::fmt::Display for Summary {
    /// `3 passed, 1 failed (1 MUST, 0 hardening), 0 warned, 0 skipped, 0
    /// inconclusive`: the line the text and HTML reports share.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed ({} MUST, {} hardening), {} warned, {} skipped, {} inconclusive",
            self.passed,
            self.failed,
            self.must_failed,
            self.hardening_failed,
            self.warned,
            self.skipped,
            self.inconclusive
        )
    }
}

/// The results of one suite run against one peer (or one client session).
#[derive(Debug, Clone)]
pub struct Report {
    /// `"server"` or `"client"`.
    pub suite: &'static str,
    /// What was tested: `HOST:PORT` for the server suite, the peer address
    /// and scenario for a client session.
    pub target: String,
    /// Free-form facts worth showing above the results (greeting, EHLO keywords...).
    pub notes: Vec<String>,
    /// One result per case, in suite order.
    pub results: Vec<CaseResult>,
    /// The one session every case judged (the client suite); empty when
    /// each case has its own transcript (the server suite).
    pub session: Vec<TranscriptLine>,
    /// Wall-clock time of the run.
    pub duration: Duration,
}

impl Report {
    /// Counts the outcomes.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for r in &self.results {
            match r.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Fail => {
                    s.failed += 1;
                    match r.info.level {
                        Level::Must => s.must_failed += 1,
                        Level::Hardening => s.hardening_failed += 1,
                        Level::Should | Level::May => {}
                    }
                }
                Outcome::Warn => s.warned += 1,
                Outcome::Skip => s.skipped += 1,
                Outcome::Inconclusive => s.inconclusive += 1,
            }
        }
        s
    }

    /// True when no MUST case failed: the exit status of `smtp-conform` is 0
    /// exactly then.
    pub fn conforms(&self) -> bool {
        self.summary().must_failed == 0
    }

    /// The result of case `id`, if it ran.
    pub fn result(&self, id: &str) -> Option<&CaseResult> {
        self.results.iter().find(|r| r.info.id == id)
    }
}

/// Most transcript lines a report keeps for one case or session.
pub const REPORT_LINES: usize = 400;

/// `lines`, or when longer than [`REPORT_LINES`] its start and its end
/// with a marker saying how many lines were left out between them.
pub fn report_lines(mut lines: Vec<TranscriptLine>) -> Vec<TranscriptLine> {
    if lines.len() <= REPORT_LINES {
        return lines;
    }
    let half = REPORT_LINES / 2;
    let left_out = lines.len() - 2 * half;
    let tail = lines.split_off(lines.len() - half);
    lines.truncate(half);
    lines.push(TranscriptLine {
        dir: None,
        text: format!("-- {left_out} lines left out of the report --"),
    });
    lines.extend(tail);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_transcripts_keep_their_start_and_end() {
        let lines = |n: usize| -> Vec<TranscriptLine> {
            (0..n)
                .map(|i| TranscriptLine {
                    dir: Some(smtp_wire::Direction::Client),
                    text: format!("NOOP {i}"),
                })
                .collect()
        };
        assert_eq!(report_lines(lines(REPORT_LINES)), lines(REPORT_LINES));
        let kept = report_lines(lines(1000));
        assert_eq!(kept.len(), REPORT_LINES + 1);
        assert_eq!(kept[0].text, "NOOP 0");
        assert_eq!(kept[REPORT_LINES / 2].dir, None);
        assert_eq!(
            kept[REPORT_LINES / 2].text,
            "-- 600 lines left out of the report --"
        );
        assert_eq!(kept[REPORT_LINES].text, "NOOP 999");
    }
}

//! Rendering reports: human text, JSON, JUnit XML, one HTML page.
//!
//! JSON, XML and HTML are written by hand (a few escaping rules) rather
//! than pulling in a serialisation framework for three flat structures.

mod html;

use std::fmt::Write as _;

pub use html::html;

use crate::model::{Outcome, Report};

/// The report as text: one line per case, failures and warnings with their
/// evidence; `verbose` adds the detail of passing cases.
pub fn text(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "smtp-conform {} suite: {} ({:.1} s)",
        report.suite,
        report.target,
        report.duration.as_secs_f64()
    );
    for note in &report.notes {
        let _ = writeln!(out, "  {note}");
    }
    let id_width = report
        .results
        .iter()
        .map(|r| r.info.id.len())
        .max()
        .unwrap_or(0);
    for r in &report.results {
        let _ = writeln!(
            out,
            "{:<5} {:<id_width$}  {:<9} {}",
            label(r.outcome),
            r.info.id,
            r.info.level.as_str(),
            r.info.title,
        );
        let show_detail = verbose
            || matches!(
                r.outcome,
                Outcome::Fail | Outcome::Warn | Outcome::Skip | Outcome::Inconclusive
            );
        if show_detail && !r.detail.is_empty() {
            let _ = writeln!(out, "      {} [{}]", r.detail, r.info.rfc);
        }
        if matches!(r.outcome, Outcome::Fail | Outcome::Warn) || (verbose && !r.evidence.is_empty())
        {
            for line in &r.evidence {
                let _ = writeln!(out, "      | {line}");
            }
        }
    }
    let s = report.summary();
    let _ = writeln!(
        out,
        "summary: {s}: {}",
        if report.conforms() {
            "no MUST failed"
        } else {
            "MUST failures"
        }
    );
    out
}

/// A five-letter label for the text and HTML reports.
pub(crate) fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Warn => "WARN",
        Outcome::Skip => "SKIP",
        Outcome::Inconclusive => "INCON",
    }
}

/// A JSON string literal (RFC 8259 §7 escaping).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| json_string(s)).collect();
    format!("[{}]", parts.join(","))
}

/// The report as one JSON object.
pub fn json(report: &Report) -> String {
    let s = report.summary();
    let results: Vec<String> = report
        .results
        .iter()
        .map(|r| {
            format!(
                "{{\"id\":{},\"title\":{},\"rfc\":{},\"level\":{},\"outcome\":{},\"detail\":{},\"evidence\":{},\"duration_ms\":{}}}",
                json_string(r.info.id),
                json_string(r.info.title),
                json_string(r.info.rfc),
                json_string(r.info.level.as_str()),
                json_string(r.outcome.as_str()),
                json_string(&r.detail),
                json_list(&r.evidence),
                r.duration.as_millis()
            )
        })
        .collect();
    format!(
        "{{\"suite\":{},\"target\":{},\"duration_ms\":{},\"conforms\":{},\"notes\":{},\"summary\":{{\"passed\":{},\"failed\":{},\"warned\":{},\"skipped\":{},\"inconclusive\":{},\"must_failed\":{},\"hardening_failed\":{}}},\"results\":[{}]}}",
        json_string(report.suite),
        json_string(&report.target),
        report.duration.as_millis(),
        report.conforms(),
        json_list(&report.notes),
        s.passed,
        s.failed,
        s.warned,
        s.skipped,
        s.inconclusive,
        s.must_failed,
        s.hardening_failed,
        results.join(",")
    )
}

/// Text escaped for XML (and HTML) content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// Reports as JUnit XML: one `<testsuite>` per report, one `<testcase>` per
/// case. Failures are `<failure>`, skipped and inconclusive cases
/// `<skipped>`, warnings pass with the warning in `<system-out>`.
pub fn junit(reports: &[Report]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for report in reports {
        let s = report.summary();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            xml_escape(&format!("smtp-conform {} {}", report.suite, report.target)),
            report.results.len(),
            s.failed,
            s.skipped + s.inconclusive,
            report.duration.as_secs_f64()
        );
        for r in &report.results {
            let family = r.info.id.split('.').next().unwrap_or("");
            let _ = write!(
                out,
                "    <testcase classname=\"smtp-conform.{}.{}\" name=\"{}\" time=\"{:.3}\">",
                report.suite,
                xml_escape(family),
                xml_escape(r.info.id),
                r.duration.as_secs_f64()
            );
            let message = xml_escape(&format!("{} [{} {}]", r.detail, r.info.level, r.info.rfc));
            let evidence = xml_escape(&r.evidence.join("\n"));
            match r.outcome {
                Outcome::Fail => {
                    let _ = write!(out, "<failure message=\"{message}\">{evidence}</failure>");
                }
                Outcome::Skip => {
                    let _ = write!(out, "<skipped message=\"{message}\"/>");
                }
                Outcome::Inconclusive => {
                    let _ = write!(out, "<skipped message=\"inconclusive: {message}\"/>");
                }
                Outcome::Warn => {
                    let _ = write!(
                        out,
                        "<system-out>warning: {message}\n{evidence}</system-out>"
                    );
                }
                Outcome::Pass => {}
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_controls_and_quotes() {
        assert_eq!(
            json_string("a\"b\\c\r\n\u{1}é"),
            "\"a\\\"b\\\\c\\r\\n\\u0001é\""
        );
    }

    #[test]
    fn xml_escapes_markup() {
        assert_eq!(
            xml_escape("<a href=\"x\">&'\u{7}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;?"
        );
    }
}

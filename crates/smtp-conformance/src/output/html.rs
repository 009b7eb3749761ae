//! The report as one self-contained HTML page: inline CSS, no script, no
//! external resource, so that it can be kept as a CI artifact and opened
//! anywhere. Everything that came from the peer (replies, commands, the
//! details and evidence quoting them) is escaped.
//!
//! Transcript lines are laid out by [`smtp_wire::annotate::explained_line`]
//! with the notes of [`smtp_wire::annotate::Annotator`], as on a terminal.

use std::fmt::Write as _;

use smtp_wire::annotate::{Annotator, Style, explained_line};
use smtp_wire::{Direction, TranscriptLine};

use super::{label, xml_escape as esc};
use crate::model::{CaseResult, Outcome, Report};

/// Light and dark (`prefers-color-scheme`), outcome badges, transcript
/// colours that follow the terminal's (client cyan, replies by class).
const STYLE: &str = r#"
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1b1b; --muted: #666; --line: #ddd;
  --pass: #1a7f37; --fail: #cf222e; --warn: #9a6700; --skip: #6e7781; --incon: #8250df;
  --client: #0969da; --marker: #8250df; --code: #f6f8fa; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #30363d;
    --pass: #3fb950; --fail: #f85149; --warn: #d29922; --skip: #9198a1; --incon: #bc8cff;
    --client: #58a6ff; --marker: #bc8cff; --code: #161b22; }
}
body { background: var(--bg); color: var(--fg); font: 15px/1.45 system-ui, sans-serif;
  margin: 0 auto; max-width: 78rem; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.4rem; margin: 1.5rem 0 .3rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.muted { color: var(--muted); }
.badge { display: inline-block; min-width: 3.5rem; text-align: center; font-weight: 600;
  border-radius: .3rem; padding: 0 .3rem; color: #fff; font-size: .85rem; }
.pass { background: var(--pass); } .fail { background: var(--fail); } .warn { background: var(--warn); }
.skip { background: var(--skip); } .inconclusive { background: var(--incon); }
.verdict-ok { color: var(--pass); font-weight: 600; } .verdict-bad { color: var(--fail); font-weight: 600; }
details { border: 1px solid var(--line); border-radius: .4rem; margin: .4rem 0; padding: .3rem .6rem; }
details > summary { cursor: pointer; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .5rem 0; }
dt { color: var(--muted); }
dd { margin: 0; }
pre { background: var(--code); border-radius: .3rem; padding: .5rem; overflow-x: auto;
  font: 13px/1.35 ui-monospace, monospace; margin: .3rem 0; }
pre span { white-space: pre; }
.c { color: var(--client); } .s2 { color: var(--pass); } .s4 { color: var(--warn); }
.s5 { color: var(--fail); } .m { color: var(--marker); } .n { color: var(--muted); }
a { color: var(--client); }
"#;

/// The reports as one HTML page: per report a summary, a table of every
/// case (outcome, id, level, RFC section, title), then each case with its
/// detail, evidence and annotated transcript; failed and warned cases are
/// open, the others folded. The client suite's session transcript is shown
/// once per report, since all its checks judge it.
pub fn html(reports: &[Report]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    let title = match reports {
        [one] => format!("smtp-conform {} suite: {}", one.suite, one.target),
        _ => format!("smtp-conform: {} reports", reports.len()),
    };
    let _ = writeln!(out, "<title>{}</title>", esc(&title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    for (n, report) in reports.iter().enumerate() {
        write_report(&mut out, n, report);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn write_report(out: &mut String, n: usize, report: &Report) {
    let s = report.summary();
    let _ = writeln!(
        out,
        "<section id=\"report-{n}\">\n<h1>smtp-conform {} suite: {}</h1>",
        esc(report.suite),
        esc(&report.target)
    );
    let (class, verdict) = if report.conforms() {
        ("verdict-ok", "no MUST failed")
    } else {
        ("verdict-bad", "MUST failures")
    };
    let _ = writeln!(
        out,
        "<p><span class=\"{class}\">{verdict}</span>: {s} <span class=\"muted\">({} cases, {:.1} s)</span></p>",
        report.results.len(),
        report.duration.as_secs_f64()
    );
    if !report.notes.is_empty() {
        out.push_str("<ul class=\"muted\">\n");
        for note in &report.notes {
            let _ = writeln!(out, "<li>{}</li>", esc(note));
        }
        out.push_str("</ul>\n");
    }
    out.push_str(
        "<table>\n<thead><tr><th>outcome</th><th>case</th><th>level</th><th>RFC</th>\
         <th>rule</th></tr></thead>\n<tbody>\n",
    );
    for (i, r) in report.results.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            badge(r.outcome),
            anchor(n, i),
            esc(r.info.id),
            esc(r.info.level.as_str()),
            esc(r.info.rfc),
            esc(r.info.title)
        );
    }
    out.push_str("</tbody>\n</table>\n<h2>Cases</h2>\n");
    for (i, r) in report.results.iter().enumerate() {
        write_case(out, &anchor(n, i), r, !report.session.is_empty());
    }
    if !report.session.is_empty() {
        let _ = writeln!(
            out,
            "<h2 id=\"session-{n}\">The session ({} lines)</h2>",
            report.session.len()
        );
        write_transcript(out, &report.session);
    }
    out.push_str("</section>\n");
}

fn anchor(report: usize, case: usize) -> String {
    format!("case-{report}-{case}")
}

fn badge(outcome: Outcome) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        outcome.as_str(),
        label(outcome)
    )
}

fn write_case(out: &mut String, anchor: &str, r: &CaseResult, one_session: bool) {
    let open = if matches!(r.outcome, Outcome::Fail | Outcome::Warn) {
        " open"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<details id=\"{anchor}\"{open}>\n<summary>{} <code>{}</code> {}</summary>\n<dl>",
        badge(r.outcome),
        esc(r.info.id),
        esc(r.info.title)
    );
    let _ = writeln!(
        out,
        "<dt>level</dt><dd>{}</dd>\n<dt>RFC</dt><dd>{}</dd>\n<dt>outcome</dt><dd>{}</dd>",
        esc(r.info.level.as_str()),
        esc(r.info.rfc),
        esc(r.outcome.as_str()),
    );
    // The client suite's checks have no time of their own.
    if !r.duration.is_zero() {
        let _ = writeln!(
            out,
            "<dt>time</dt><dd>{:.1} ms</dd>",
            r.duration.as_secs_f64() * 1000.0
        );
    }
    if !r.detail.is_empty() {
        let _ = writeln!(out, "<dt>detail</dt><dd>{}</dd>", esc(&r.detail));
    }
    out.push_str("</dl>\n");
    if !r.evidence.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">evidence</p>\n<pre>{}</pre>",
            esc(&r.evidence.join("\n"))
        );
    }
    if !r.transcript.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">transcript ({} lines)</p>",
            r.transcript.len()
        );
        write_transcript(out, &r.transcript);
    } else if one_session {
        out.push_str("<p class=\"muted\">judged on the session below</p>\n");
    }
    out.push_str("</details>\n");
}

/// Each line numbered, laid out with its note by the annotator, in the
/// colour of its direction and reply class.
fn write_transcript(out: &mut String, lines: &[TranscriptLine]) {
    let mut notes = Annotator::new();
    out.push_str("<pre>");
    for (i, line) in lines.iter().enumerate() {
        let note = notes.note(line);
        let text = explained_line(i + 1, line, note.as_ref(), Style::Plain);
        let class = match line.dir {
            None => "m",
            Some(Direction::Client) => "c",
            Some(Direction::Server) => match line.text.as_bytes().first() {
                Some(b'4') => "s4",
                Some(b'5') => "s5",
                _ => "s2",
            },
        };
        // The note (the layout ends with it) in a quieter colour.
        let note = note.map(|n| format!("# {}", n.text));
        let split = note
            .as_deref()
            .and_then(|n| Some((text.strip_suffix(n)?, n)));
        let (shown, note) = split.unwrap_or((text.as_str(), ""));
        let _ = write!(out, "<span class=\"{class}\">{}</span>", esc(shown));
        if !note.is_empty() {
            let _ = write!(out, "<span class=\"n\">{}</span>", esc(note));
        }
        out.push('\n');
    }
    out.push_str("</pre>\n");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{CaseInfo, Level};

    fn line(dir: Option<Direction>, text: &str) -> TranscriptLine {
        TranscriptLine {
            dir,
            text: text.into(),
        }
    }

    #[test]
    fn peer_text_is_escaped_and_cases_are_listed() {
        let report = Report {
            suite: "server",
            target: "127.0.0.1:25".into(),
            notes: vec!["greeting: 220 <b>x</b>".into()],
            results: vec![CaseResult {
                info: CaseInfo {
                    id: "basic.quit",
                    title: "QUIT is answered with 221",
                    rfc: "RFC 5321 §4.1.1.10",
                    level: Level::Must,
                },
                outcome: Outcome::Fail,
                detail: "got \"<script>\"".into(),
                evidence: vec!["S: 220 <script>alert(1)</script>".into()],
                transcript: vec![
                    line(Some(Direction::Server), "220 <script>alert(1)</script>"),
                    line(Some(Direction::Client), "QUIT"),
                    line(Some(Direction::Server), "500 & no"),
                ],
                duration: Duration::from_millis(3),
            }],
            session: Vec::new(),
            duration: Duration::from_millis(10),
        };
        let page = html(std::slice::from_ref(&report));
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<b>x"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("500 &amp; no"));
        assert!(page.contains("basic.quit"));
        assert!(page.contains("RFC 5321 §4.1.1.10"));
        assert!(page.contains("<span class=\"s5\">"), "{page}");
        assert!(
            page.contains("<span class=\"n\"># RFC 5321 §4.1.1.10"),
            "annotated: {page}"
        );
        assert!(page.contains("<details id=\"case-0-0\" open>"));
    }
}

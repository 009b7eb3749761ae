//! The result table: plain text for the terminal, Markdown for the docs.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// How a case ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Passed; what was checked.
    Pass(String),
    /// Failed; why.
    Fail(String),
    /// Not run: the peer cannot exist here (e.g. `smtpd` on Python 3.12+).
    Skip(String),
}

impl Outcome {
    /// True for `Pass`.
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Pass(_))
    }

    /// True for `Fail`.
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Fail(_))
    }

    /// One word for the progress line.
    pub fn short(&self) -> &'static str {
        match self {
            Outcome::Pass(_) => "pass",
            Outcome::Fail(_) => "FAIL",
            Outcome::Skip(_) => "skipped",
        }
    }

    /// The result column: `pass: note`, or `FAIL` and the first line of why.
    fn cell(&self, width: usize) -> String {
        let text = match self {
            Outcome::Pass(note) => format!("pass: {note}"),
            Outcome::Fail(why) => format!("FAIL: {}", why.lines().next().unwrap_or_default()),
            Outcome::Skip(why) => format!("skipped: {why}"),
        };
        shorten(&text, width)
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Case name.
    pub case: &'static str,
    /// Peer name.
    pub peer: &'static str,
    /// Peer version (or `missing`).
    pub version: String,
    /// `peer → smtp-receive` or `smtp-send → peer`.
    pub direction: String,
    /// TLS mode.
    pub tls: &'static str,
    /// AUTH mechanism or `-`.
    pub auth: &'static str,
    /// Result.
    pub outcome: Outcome,
    /// Run time.
    pub elapsed: Duration,
    /// Its logs.
    pub dir: PathBuf,
}

const HEADERS: [&str; 8] = [
    "case",
    "peer",
    "version",
    "direction",
    "TLS",
    "AUTH",
    "result",
    "time",
];

fn cells(row: &Row, result_width: usize) -> [String; 8] {
    [
        row.case.to_string(),
        row.peer.to_string(),
        row.version.clone(),
        row.direction.clone(),
        row.tls.to_string(),
        row.auth.to_string(),
        row.outcome.cell(result_width),
        format!("{:.1}s", row.elapsed.as_secs_f64()),
    ]
}

/// Columns padded to the widest cell.
pub fn table(rows: &[Row]) -> String {
    let body: Vec<[String; 8]> = rows.iter().map(|r| cells(r, 60)).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &body {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (cell, w) in cells.iter().zip(widths) {
            let pad = w.saturating_sub(cell.chars().count());
            let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&HEADERS.map(String::from));
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    for row in &body {
        out.push_str(&line(row));
    }
    out
}

/// The same table in Markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for row in rows {
        let cells = cells(row, 200).map(|c| c.replace('|', "\\|"));
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The full reason of every failed case, with its log folder.
pub fn failures(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows.iter().filter(|r| r.outcome.failed()) {
        if let Outcome::Fail(why) = &row.outcome {
            let _ = writeln!(
                out,
                "\n--- {} failed ({}) ---\n{why}",
                row.case,
                row.dir.display()
            );
        }
    }
    out
}

fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(case: &'static str, outcome: Outcome) -> Row {
        Row {
            case,
            peer: "swaks",
            version: "1.0".into(),
            direction: "swaks → smtp-receive".into(),
            tls: "STARTTLS",
            auth: "-",
            outcome,
            elapsed: Duration::from_millis(1500),
            dir: PathBuf::from("/tmp/x"),
        }
    }

    #[test]
    fn the_table_is_aligned_and_says_why_a_case_failed() {
        let rows = [
            row("short", Outcome::Pass("ok".into())),
            row("a-longer-name", Outcome::Fail("bad | news\nmore".into())),
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let column = |l: &str| l.find("swaks").unwrap();
        assert!(lines[2..].iter().all(|l| column(l) == column(lines[2])));
        assert!(lines[3].contains("FAIL: bad | news") && !lines[3].contains("more"));
        assert!(markdown(&rows).contains("FAIL: bad \\| news"));
        assert!(failures(&rows).contains("more") && !failures(&rows).contains("short"));
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}

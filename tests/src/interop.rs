//! The results of the interop tests (`tests/tests/interop/`), as records
//! the tests write and `cargo xtask interop` reads to print its table.
//!
//! A test writes one [`Record`] per case when [`WORK_ENV`] names a folder;
//! under a plain `cargo test` nothing is written. The format is private to
//! this module: `key=value` lines, a `--` line, then the free text (what
//! was checked, or why the case failed).
//!
//! ```
//! use std::time::Duration;
//! use smtp_e2e::interop::{Outcome, Record};
//! use smtp_peers::Peer;
//! let dir = tempfile::tempdir()?;
//! let record = Record {
//!     case: "swaks-plain".into(),
//!     peer: Peer::Swaks,
//!     version: "20201014.0".into(),
//!     tls: "none".into(),
//!     auth: "-".into(),
//!     outcome: Outcome::Pass("1 msg, ESMTP".into()),
//!     elapsed: Duration::from_millis(200),
//!     dir: dir.path().join("swaks-plain"),
//! };
//! record.write_in(dir.path())?;
//! assert_eq!(smtp_e2e::interop::read_records(dir.path())?, [record]);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use smtp_peers::Peer;

/// Names a folder for the run: each case works in `FOLDER/CASE/` (kept),
/// peers put their folders there, and the records go to
/// `FOLDER/results/CASE.txt`. Unset: temporary folders, no records.
pub const WORK_ENV: &str = "SMTP_INTEROP_WORK";

/// The sub-folder of the work folder that holds the records.
const RESULTS: &str = "results";

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed; what was checked.
    Pass(String),
    /// Failed; why.
    Fail(String),
    /// Not run: the peer is not installed here.
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

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Outcome::Pass(text) => ("pass", text),
            Outcome::Fail(text) => ("FAIL", text),
            Outcome::Skip(text) => ("skipped", text),
        }
    }

    /// The result column: `pass: note`, `FAIL: ` and the first line of why,
    /// or `skipped: why`.
    fn cell(&self, width: usize) -> String {
        let (word, text) = self.parts();
        shorten(
            &format!("{word}: {}", text.lines().next().unwrap_or_default()),
            width,
        )
    }
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Case name, e.g. `postfix-starttls-two-rcpts`.
    pub case: String,
    /// The independent program.
    pub peer: Peer,
    /// Its version, or `missing`.
    pub version: String,
    /// TLS mode label (`none`, `STARTTLS`, `implicit`, `opportunistic`).
    pub tls: String,
    /// AUTH mechanism, or `-`.
    pub auth: String,
    /// Result.
    pub outcome: Outcome,
    /// Run time.
    pub elapsed: Duration,
    /// Its work folder (logs, transcripts, stored mail).
    pub dir: PathBuf,
}

impl Record {
    /// `peer → smtp-receive` or `smtp-send → peer`.
    pub fn direction(&self) -> String {
        if self.peer.is_client() {
            format!("{} → smtp-receive", self.peer.name())
        } else {
            format!("smtp-send → {}", self.peer.name())
        }
    }

    /// Writes `WORK/results/CASE.txt`.
    pub fn write_in(&self, work: &Path) -> io::Result<()> {
        let dir = work.join(RESULTS);
        fs::create_dir_all(&dir)?;
        let (outcome, text) = self.outcome.parts();
        let mut out = String::new();
        for (key, value) in [
            ("case", self.case.as_str()),
            ("peer", self.peer.name()),
            ("version", &self.version),
            ("tls", &self.tls),
            ("auth", &self.auth),
            ("outcome", outcome),
            ("elapsed_ms", &self.elapsed.as_millis().to_string()),
            ("dir", &self.dir.display().to_string()),
        ] {
            let _ = writeln!(out, "{key}={}", value.replace('\n', " "));
        }
        let _ = write!(out, "--\n{text}");
        fs::write(dir.join(format!("{}.txt", self.case)), out)
    }

    fn parse(text: &str) -> Option<Record> {
        let (head, text) = text.split_once("\n--\n")?;
        let field = |key: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        };
        let peer_name = field("peer")?;
        let text = text.to_string();
        Some(Record {
            case: field("case")?.to_string(),
            peer: Peer::ALL.into_iter().find(|p| p.name() == peer_name)?,
            version: field("version")?.to_string(),
            tls: field("tls")?.to_string(),
            auth: field("auth")?.to_string(),
            outcome: match field("outcome")? {
                "pass" => Outcome::Pass(text),
                "FAIL" => Outcome::Fail(text),
                _ => Outcome::Skip(text),
            },
            elapsed: Duration::from_millis(field("elapsed_ms")?.parse().ok()?),
            dir: PathBuf::from(field("dir")?),
        })
    }
}

/// Every record under `WORK/results`, in table order: clients first, by
/// peer ([`Peer::ALL`]), then by case name. A record that cannot be read
/// is an `InvalidData` error (it was written by a different version).
pub fn read_records(work: &Path) -> io::Result<Vec<Record>> {
    let dir = work.join(RESULTS);
    let mut records = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(records),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let text = fs::read_to_string(&path)?;
        let record = Record::parse(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not an interop record", path.display()),
            )
        })?;
        records.push(record);
    }
    records.sort_by(|a, b| (a.peer, &a.case).cmp(&(b.peer, &b.case)));
    Ok(records)
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

fn cells(record: &Record, result_width: usize) -> [String; 8] {
    [
        record.case.clone(),
        record.peer.name().to_string(),
        record.version.clone(),
        record.direction(),
        record.tls.clone(),
        record.auth.clone(),
        record.outcome.cell(result_width),
        format!("{:.1}s", record.elapsed.as_secs_f64()),
    ]
}

/// The table for a terminal: columns padded to the widest cell.
pub fn table(records: &[Record]) -> String {
    let body: Vec<[String; 8]> = records.iter().map(|r| cells(r, 60)).collect();
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

/// The same table in Markdown (as in docs/interop.md).
pub fn markdown(records: &[Record]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for record in records {
        let cells = cells(record, 200).map(|c| c.replace('|', "\\|"));
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The full reason of every failed case, with its work folder.
pub fn failures(records: &[Record]) -> String {
    let mut out = String::new();
    for record in records {
        if let Outcome::Fail(why) = &record.outcome {
            let _ = writeln!(
                out,
                "\n--- {} failed ({}) ---\n{why}",
                record.case,
                record.dir.display()
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(case: &str, peer: Peer, outcome: Outcome) -> Record {
        Record {
            case: case.into(),
            peer,
            version: "1.0".into(),
            tls: "STARTTLS".into(),
            auth: "-".into(),
            outcome,
            elapsed: Duration::from_millis(1500),
            dir: PathBuf::from("/tmp/x"),
        }
    }

    #[test]
    fn the_table_is_aligned_and_says_why_a_case_failed() {
        let rows = [
            record("short", Peer::Swaks, Outcome::Pass("ok".into())),
            record(
                "a-longer-name",
                Peer::Swaks,
                Outcome::Fail("bad | news\nmore".into()),
            ),
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

    #[test]
    fn records_round_trip_and_come_back_in_table_order() {
        let dir = tempfile::tempdir().unwrap();
        let written = [
            record("z-sink", Peer::SmtpSink, Outcome::Skip("not here".into())),
            record("b-curl", Peer::Curl, Outcome::Fail("line 1\nline 2".into())),
            record("a-curl", Peer::Curl, Outcome::Pass("ok".into())),
            record("a-smtplib", Peer::Smtplib, Outcome::Pass("ok".into())),
        ];
        for r in &written {
            r.write_in(dir.path()).unwrap();
        }
        let read = read_records(dir.path()).unwrap();
        let order: Vec<&str> = read.iter().map(|r| r.case.as_str()).collect();
        assert_eq!(order, ["a-smtplib", "a-curl", "b-curl", "z-sink"]);
        assert_eq!(read[2], written[1]);
        assert_eq!(read[1].direction(), "curl → smtp-receive");
        assert_eq!(read[3].direction(), "smtp-send → Postfix smtp-sink");
        fs::write(dir.path().join("results/bad.txt"), "nonsense").unwrap();
        assert!(read_records(dir.path()).is_err());
        assert!(read_records(&dir.path().join("none")).unwrap().is_empty());
    }
}

//! `smtp-conform judge FILE` and `smtp-conform explain FILE`: recorded
//! sessions, line by line, with the RFC note of each step, and for
//! `judge`, what the client judge found on it.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use smtp_conformance::observe::{self, Badge, Finding, Judgement, Recorded, SessionEnd};
use smtp_wire::annotate::{Annotator, Style, explained_line};

/// Options of `smtp-conform judge`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// A recorded transcript: `C:`/`S:` lines as `smtp-receive -v` and
    /// `smtp-send -v` print them, or as the RFCs write examples (several
    /// sessions, log lines in between, are fine), or swaks output; `-`
    /// reads standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The sessions are still in progress: judge them as far as they went,
    /// not how they end (QUIT).
    #[arg(long)]
    open: bool,
}

/// The sessions recorded in `file` (`-`: standard input), in any format
/// [`observe::read`] knows; an error when it holds none.
pub(crate) fn read_recording(file: &Path) -> anyhow::Result<Vec<Recorded>> {
    let shown = file.display();
    let mut bytes = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
    } else {
        bytes = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
    }
    // The rendering is UTF-8 (smtp-wire escapes everything else); a stray
    // invalid byte is shown, not fatal.
    let sessions = observe::read(&String::from_utf8_lossy(&bytes));
    if sessions.iter().all(|s| s.lines.is_empty()) {
        anyhow::bail!("{shown}: no C:/S: or swaks lines: not a recorded transcript");
    }
    Ok(sessions)
}

/// What to print of each session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The notes only (`explain`); exit 0.
    Explain,
    /// The notes, the judge's findings and a badge (`judge`); exit 1 on a
    /// violation.
    Judge,
}

pub(crate) fn run(args: &Args, mode: Mode) -> anyhow::Result<ExitCode> {
    let sessions = read_recording(&args.file)?;
    let end = if args.open {
        SessionEnd::Open
    } else {
        SessionEnd::Closed
    };
    let mut worst = Badge::Conforming;
    for (n, session) in sessions.iter().enumerate() {
        if n > 0 {
            println!();
        }
        let judgement = observe::judge_lines(&session.lines, end);
        print_session(session, &judgement, mode);
        if judgement.badge == Badge::Violations || worst == Badge::Conforming {
            worst = judgement.badge;
        }
    }
    let skipped: usize = sessions.iter().map(|s| s.skipped).sum();
    if skipped > 0 {
        let shown = args.file.display();
        let lines = plural(skipped, "line", "lines");
        println!("({skipped} {lines} of {shown} skipped: not part of a transcript)");
    }
    Ok(match (mode, worst) {
        (Mode::Judge, Badge::Violations) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

fn print_session(session: &Recorded, judgement: &Judgement, mode: Mode) {
    let style = Style::for_output(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    );
    if let Some(title) = &session.title {
        println!("== {title} ==");
    }
    let mut notes = Annotator::new();
    for (n, line) in session.lines.iter().enumerate() {
        let note = notes.note(line);
        println!("{}", explained_line(n + 1, line, note.as_ref(), style));
        if mode == Mode::Explain {
            continue;
        }
        for finding in judgement.on_line(n) {
            println!("        {}", finding_text(finding));
        }
    }
    if mode == Mode::Explain {
        return;
    }
    let violations = judgement
        .findings
        .iter()
        .filter(|f| f.is_violation())
        .count();
    let warnings = judgement.findings.len() - violations;
    println!(
        "badge: {} ({violations} {}, {warnings} {})",
        judgement.badge,
        plural(violations, "violation", "violations"),
        plural(warnings, "warning", "warnings"),
    );
}

/// `✗ client.crlf (MUST, RFC 5321 §2.3.8, §4.1.1.4): bare LF in data`; a
/// warning starts with `!`.
fn finding_text(f: &Finding) -> String {
    let mark = if f.is_violation() { '✗' } else { '!' };
    format!("{mark} {} ({}, {}): {}", f.check, f.level, f.rfc, f.text)
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

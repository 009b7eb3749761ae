//! Golden files: the annotated transcripts (each line with its RFC note,
//! as every `--explain` prints them) of the demo's conversations, and of a
//! session swaks recorded against this project's receiver, stay true. A
//! note or a step that changes fails here until its golden file in
//! `tests/golden/` changes with it: rerun with `UPDATE_GOLDEN=1` and read
//! the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::path::{Path, PathBuf};

use smtp_e2e::harness::Receiver;
use smtp_e2e::{demo, walkthrough};
use smtp_wire::annotate::{Style, explain};
use smtp_wire::transcript::TranscriptLine;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Compares `now` with the golden file `name`, or writes it with
/// `UPDATE_GOLDEN=1`. Returns a description of the difference, if any.
fn check(name: &str, now: &str) -> Option<String> {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, now).unwrap();
        return None;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    if golden == now {
        return None;
    }
    let first = golden
        .lines()
        .zip(now.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| golden.lines().count().min(now.lines().count()));
    Some(format!(
        "{name} differs from line {}:\n  golden: {:?}\n  now:    {:?}",
        first + 1,
        golden.lines().nth(first).unwrap_or("(end)"),
        now.lines().nth(first).unwrap_or("(end)"),
    ))
}

/// The transcript with what changes from run to run replaced (before the
/// notes are laid out, so that their column does not move): ports, queue
/// ids, the sizes (also of the body lines left out), Message-ID, Date and
/// MIME boundaries a message is built with.
fn steady(transcript: &[TranscriptLine]) -> Vec<TranscriptLine> {
    let boundaries: Vec<String> = transcript
        .iter()
        .filter_map(|l| {
            let at = l.text.find("boundary=\"")? + "boundary=\"".len();
            let rest = &l.text[at..];
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect();
    transcript
        .iter()
        .map(|line| {
            let mut text = walkthrough::normalize(&line.text).trim_end().to_string();
            for boundary in &boundaries {
                text = text.replace(boundary, "BOUNDARY");
            }
            if let Some(at) = text.find("SIZE=") {
                let digits = text[at + 5..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .count();
                text.replace_range(at + 5..at + 5 + digits, "N");
            }
            // The elided octets include the boundaries, Message-ID and Date
            // that vary in length: "-- 25 body lines (N bytes) not shown --".
            if let Some(end) = text.find(" bytes) not shown")
                && let Some(open) = text[..end].rfind('(')
            {
                text.replace_range(open + 1..end, "N");
            }
            for header in ["Message-ID: ", "Date: "] {
                if text.starts_with(header) {
                    text = format!("{header}{}", header.trim_end_matches(": ").to_uppercase());
                }
            }
            TranscriptLine {
                text,
                ..line.clone()
            }
        })
        .collect()
}

/// The file name of a conversation's golden file.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    format!("demo-{}.txt", out.trim_matches('-'))
}

#[tokio::test]
async fn the_demo_conversations_explained_match_their_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start_in(dir.path()).await.unwrap();
    let conversations = demo::run_all(&receiver).await;
    receiver.stop().await.unwrap();
    let mut differences = Vec::new();
    for c in &conversations {
        assert!(c.passed(), "{}: {:?}", c.title, c.checks);
        let explained = explain(&steady(&c.transcript), Style::Plain);
        differences.extend(check(&slug(c.title), &explained));
    }
    assert!(
        differences.is_empty(),
        "annotated transcripts changed (UPDATE_GOLDEN=1 to accept):\n{}",
        differences.join("\n")
    );
}

#[test]
fn a_recorded_swaks_session_explained_matches_its_golden_file() {
    let recorded = std::fs::read_to_string(golden_dir().join("swaks-session.log")).unwrap();
    let sessions = smtp_conformance::observe::read(&recorded);
    let recorded: Vec<_> = sessions.iter().filter(|s| !s.lines.is_empty()).collect();
    assert_eq!(recorded.len(), 1, "one swaks session");
    let explained = explain(&recorded[0].lines, Style::Plain);
    assert!(
        explained.contains("RFC"),
        "notes cite their RFC: {explained}"
    );
    if let Some(difference) = check("swaks-session.explained.txt", &explained) {
        panic!("(UPDATE_GOLDEN=1 to accept)\n{difference}");
    }
}

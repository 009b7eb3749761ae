//! Plain-text rendering for a terminal: a Maildir listing and one message in full.
//!
//! Everything that comes from a message is sanitised first: control characters (an
//! escape sequence in a subject could rewrite the terminal) and bidirectional overrides
//! (which can disguise a file name) are replaced by `�`.

use std::fmt::Write as _;

use mail_parser::decoders::html::html_to_text;

use crate::inspect::{Inspected, Part};
use crate::maildir::Summary;

const FROM_WIDTH: usize = 28;
const SUBJECT_WIDTH: usize = 44;
const MIN_ID_WIDTH: usize = 8;

/// Renders a listing as a table, one message per line, oldest first. The ID column shows
/// the shortest prefix that is unique in the listing, which
/// [`find_message`](crate::find_message) accepts.
///
/// ```
/// let table = smtp_mime::render_listing(&[]);
/// assert!(table.contains("no messages"));
/// ```
pub fn render_listing(list: &[Summary]) -> String {
    if list.is_empty() {
        return "(no messages)\n".to_string();
    }
    let id_len = unique_prefix_len(list.iter().map(|s| s.id.as_str()));
    let ids: Vec<String> = list
        .iter()
        .map(|s| clean_line(&s.id.chars().take(id_len).collect::<String>()))
        .collect();
    let id_width = ids
        .iter()
        .map(|i| i.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<id_width$}  {:<16}  {:<FROM_WIDTH$}  {:<SUBJECT_WIDTH$}  {:>9}  ATT",
        "ID", "DATE", "FROM", "SUBJECT", "SIZE"
    );
    for (summary, id) in list.iter().zip(&ids) {
        let date = summary.date.as_deref().map(clean_line).unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<id_width$}  {:<16}  {:<FROM_WIDTH$}  {:<SUBJECT_WIDTH$}  {:>9}  {:>3}",
            id,
            truncate(&date, 16),
            truncate(&clean_line(&summary.from), FROM_WIDTH),
            truncate(&clean_line(&summary.subject), SUBJECT_WIDTH),
            human_size(summary.size),
            summary.attachments
        );
    }
    let total: u64 = list.iter().map(|s| s.size).sum();
    let _ = writeln!(out, "{} message(s), {}", list.len(), human_size(total));
    out
}

/// Renders one message: header fields, the tree of parts, the text (or the HTML turned
/// into text) and the numbered list of attachments.
///
/// ```
/// let msg = smtp_mime::inspect(b"From: a@example.org\r\nSubject: hi\r\n\r\nHello\r\n");
/// let shown = smtp_mime::render_message(&msg);
/// assert!(shown.contains("Subject: hi") && shown.contains("Hello"));
/// ```
pub fn render_message(msg: &Inspected) -> String {
    let mut out = String::new();
    for (name, value) in &msg.headers {
        let _ = writeln!(out, "{}: {}", clean_line(name), clean_line(value));
    }
    if msg.headers.is_empty() {
        out.push_str("(no header fields)\n");
    }

    out.push_str("\n--- parts ---\n");
    render_tree(&msg.parts, "", "", &mut out);

    match (&msg.text, &msg.html) {
        (Some(text), _) => {
            out.push_str("\n--- text ---\n");
            push_body(&mut out, text);
        }
        (None, Some(html)) => {
            out.push_str("\n--- text (from the HTML part) ---\n");
            push_body(&mut out, &html_to_text(html));
        }
        (None, None) => out.push_str("\n--- no text ---\n"),
    }

    if !msg.attachments.is_empty() {
        out.push_str("\n--- attachments (save with --save NAME or --save NUMBER) ---\n");
        for (n, a) in msg.attachments.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:>3}. {}  {}  {}",
                n + 1,
                clean_line(&a.filename),
                clean_line(&a.content_type),
                human_size(a.bytes.len() as u64)
            );
        }
    }
    out
}

fn render_tree(part: &Part, first_prefix: &str, rest_prefix: &str, out: &mut String) {
    let _ = write!(out, "{first_prefix}{}", clean_line(&part.content_type));
    if let Some(name) = &part.filename {
        let _ = write!(out, " \"{}\"", clean_line(name));
    }
    let _ = writeln!(out, "  {}", human_size(part.size as u64));
    let count = part.children.len();
    for (i, child) in part.children.iter().enumerate() {
        let last = i + 1 == count;
        let (branch, continuation) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        render_tree(
            child,
            &format!("{rest_prefix}{branch}"),
            &format!("{rest_prefix}{continuation}"),
            out,
        );
    }
}

fn push_body(out: &mut String, text: &str) {
    let text = text.replace("\r\n", "\n");
    for line in text.lines() {
        out.push_str(&clean(line, true));
        out.push('\n');
    }
}

/// One line of untrusted text, safe to print.
fn clean_line(s: &str) -> String {
    clean(s, false)
}

fn clean(s: &str, keep_tabs: bool) -> String {
    s.chars()
        .map(|c| match c {
            '\t' if keep_tabs => c,
            '\t' => ' ',
            c if c.is_control() || is_bidi_control(c) => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// Unicode bidirectional formatting characters (UAX #9), used in "Trojan Source" style
/// spoofing such as `invoice<U+202E>fdp.exe`, shown as `invoiceexe.pdf`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut cut: String = s.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Shortest prefix length (at least 8) that tells every id apart.
fn unique_prefix_len<'a>(ids: impl Iterator<Item = &'a str> + Clone) -> usize {
    let longest = ids.clone().map(|i| i.chars().count()).max().unwrap_or(0);
    (MIN_ID_WIDTH..longest)
        .find(|&len| {
            let mut seen = std::collections::HashSet::new();
            ids.clone()
                .all(|id| seen.insert(id.chars().take(len).collect::<String>()))
        })
        .unwrap_or(longest)
}

/// `512 B`, `1.5 KiB`, `3.0 MiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_and_bidi_overrides_are_neutralised() {
        assert_eq!(
            clean_line("a\x1b[2Jb\r\nc"),
            "a\u{FFFD}[2Jb\u{FFFD}\u{FFFD}c"
        );
        assert_eq!(
            clean_line("invoice\u{202E}fdp.exe"),
            "invoice\u{FFFD}fdp.exe"
        );
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn prefixes_are_unique_and_at_least_eight() {
        assert_eq!(
            unique_prefix_len(["1700000000.A", "1700000000.B"].into_iter()),
            12
        );
        assert_eq!(
            unique_prefix_len(["abcdefghij", "zzzzzzzzzz"].into_iter()),
            8
        );
        assert_eq!(unique_prefix_len(["short"].into_iter()), 5);
    }

    #[test]
    fn tree_is_drawn_with_branches() {
        let tree = Part {
            content_type: "multipart/mixed".into(),
            filename: None,
            size: 3,
            children: vec![
                Part {
                    content_type: "text/plain".into(),
                    filename: None,
                    size: 1,
                    children: vec![],
                },
                Part {
                    content_type: "image/png".into(),
                    filename: Some("a.png".into()),
                    size: 2,
                    children: vec![],
                },
            ],
        };
        let mut out = String::new();
        render_tree(&tree, "", "", &mut out);
        assert_eq!(
            out,
            "multipart/mixed  3 B\n├── text/plain  1 B\n└── image/png \"a.png\"  2 B\n"
        );
    }
}

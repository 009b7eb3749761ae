//! Transcript lines laid out with their notes, for a terminal or a file:
//! what `smtp-receive --explain`, `smtp-conform explain` and
//! `smtp-conform judge` print.
//!
//! ```text
//!    3  C: EHLO client.example                       # RFC 5321 §4.1.1.1: the client names itself ...
//! ```

use super::{Annotator, Note};
use crate::transcript::{Direction, TranscriptLine};

/// The column where notes start, when the line leaves room for them.
pub const NOTE_COLUMN: usize = 52;

/// How explained lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Text only: for files, pipes and `NO_COLOR`.
    Plain,
    /// ANSI colours for a terminal: the client's lines cyan, replies by
    /// class (green 2xx/3xx, yellow 4xx, red 5xx), markers magenta, notes
    /// dim.
    Ansi,
}

impl Style {
    /// [`Style::Ansi`] when `is_terminal` and the `NO_COLOR` convention
    /// (no-color.org) does not ask otherwise, else [`Style::Plain`].
    pub fn for_output(is_terminal: bool, no_color: bool) -> Style {
        if is_terminal && !no_color {
            Style::Ansi
        } else {
            Style::Plain
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Style::Plain => text.to_string(),
            Style::Ansi => format!("\x1b[{code}m{text}\x1b[0m"),
        }
    }
}

/// One line, numbered from 1, with its note beside it, or under it when
/// the line is too long to leave room. No trailing newline.
///
/// ```
/// use smtp_wire::annotate::{Style, explained_line};
/// use smtp_wire::{Direction, TranscriptLine};
///
/// let line = TranscriptLine { dir: Some(Direction::Client), text: "QUIT".into() };
/// assert_eq!(explained_line(9, &line, None, Style::Plain), "   9  C: QUIT");
/// ```
pub fn explained_line(
    number: usize,
    line: &TranscriptLine,
    note: Option<&Note>,
    style: Style,
) -> String {
    let prefix = line.dir.map(|d| d.prefix()).unwrap_or_default();
    let shown = format!("{prefix}{}", line.text);
    let width = format!("{number:>4}  ").len() + shown.chars().count();
    let colour = match line.dir {
        None => "35",
        Some(Direction::Client) => "36",
        Some(Direction::Server) => match line.text.as_bytes().first() {
            Some(b'4') => "33",
            Some(b'5') => "31",
            _ => "32",
        },
    };
    let mut out = format!("{number:>4}  {}", style.paint(colour, &shown));
    if let Some(note) = note {
        let note = style.paint("2", &format!("# {}", note.text));
        if width < NOTE_COLUMN {
            out.push_str(&" ".repeat(NOTE_COLUMN - width));
        } else {
            out.push('\n');
            out.push_str(&" ".repeat(NOTE_COLUMN));
        }
        out.push(' ');
        out.push_str(&note);
    }
    out
}

/// A whole session, each line numbered and explained, each ending with a
/// newline.
pub fn explain(lines: &[TranscriptLine], style: Style) -> String {
    let mut notes = Annotator::new();
    let mut out = String::new();
    for (n, line) in lines.iter().enumerate() {
        let note = notes.note(line);
        out.push_str(&explained_line(n + 1, line, note.as_ref(), style));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transcript;

    fn session() -> Vec<TranscriptLine> {
        let mut t = Transcript::new();
        t.server(b"220 mx ready\r\n");
        t.client(b"MAIL FROM:<a@example.test>\r\n");
        t.server(b"550 5.7.1 no\r\n");
        t.lines()
    }

    #[test]
    fn plain_lines_carry_their_notes_in_a_column() {
        let text = explain(&session(), Style::Plain);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("   1  S: 220 mx ready "), "{text}");
        assert_eq!(lines[0].find(" # "), Some(NOTE_COLUMN), "{text}");
        assert!(lines[1].contains("# RFC 5321 §4.1.1.2"), "{text}");
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn a_long_line_has_its_note_underneath() {
        let line = TranscriptLine {
            dir: Some(Direction::Client),
            text: format!("RCPT TO:<{}@example.test>", "x".repeat(60)),
        };
        let mut notes = Annotator::new();
        let note = notes.note(&line);
        let text = explained_line(1, &line, note.as_ref(), Style::Plain);
        let (first, second) = text.split_once('\n').unwrap();
        assert!(!first.contains('#'));
        assert!(second.starts_with(&format!("{} # RFC 5321", " ".repeat(NOTE_COLUMN))));
    }

    #[test]
    fn colours_follow_the_direction_and_the_reply_class() {
        let text = explain(&session(), Style::Ansi);
        assert!(text.contains("\x1b[32mS: 220 mx ready\x1b[0m"), "{text:?}");
        assert!(text.contains("\x1b[36mC: MAIL FROM:<a@example.test>\x1b[0m"));
        assert!(text.contains("\x1b[31mS: 550 5.7.1 no\x1b[0m"));
        assert!(text.contains("\x1b[2m# RFC"));
        assert_eq!(Style::for_output(true, true), Style::Plain);
        assert_eq!(Style::for_output(false, false), Style::Plain);
    }
}

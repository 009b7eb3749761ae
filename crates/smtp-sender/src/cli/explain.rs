//! `smtp-send --explain`: the conversation as it happens, each line
//! numbered with its RFC note beside it (`smtp_wire::annotate`, the notes
//! of the demo, `smtp-receive --explain` and `smtp-conform explain`).
//!
//! The client logs each transcript line as it is sent or received (target
//! `smtp_sender::transcript`, `C: `/`S: ` lines and `-- marker --` lines);
//! this layer reads those lines back, keeps one [`Annotator`] for the
//! session, and writes each explained line to standard error at once.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;

use smtp_wire::TranscriptLine;
use smtp_wire::annotate::{Annotator, Style, explained_line};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;

/// A [`tracing_subscriber::Layer`] that explains transcript lines.
pub struct ExplainLayer {
    style: Style,
    state: Mutex<(usize, Annotator)>,
}

impl ExplainLayer {
    /// Coloured when standard error is a terminal and `NO_COLOR` is unset.
    pub fn new(style: Style) -> Self {
        ExplainLayer {
            style,
            state: Mutex::new((0, Annotator::new())),
        }
    }
}

/// A logged line back as the transcript line it was made from (the
/// client logs `C: `/`S: ` lines and `-- marker --` lines; anything else
/// is shown as a note).
fn transcript_line(logged: &str) -> TranscriptLine {
    TranscriptLine::read(logged).unwrap_or_else(|| TranscriptLine {
        dir: None,
        text: logged.to_string(),
    })
}

/// The `message` field of an event.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for ExplainLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = Message::default();
        event.record(&mut message);
        let line = transcript_line(&message.0);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (count, notes) = &mut *state;
        *count += 1;
        let note = notes.note(&line);
        let text = explained_line(*count, &line, note.as_ref(), self.style);
        // One write per line, so a line is never split by other output.
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_wire::Direction;

    #[test]
    fn logged_lines_read_back_with_their_direction() {
        let client = transcript_line("C: EHLO a.example");
        assert_eq!(client.dir, Some(Direction::Client));
        assert_eq!(client.text, "EHLO a.example");
        let server = transcript_line("S: 250 ok");
        assert_eq!(server.dir, Some(Direction::Server));
        let marker = transcript_line("-- TLS started --");
        assert_eq!(marker.dir, None);
        assert_eq!(marker.text, "-- TLS started --");
    }
}

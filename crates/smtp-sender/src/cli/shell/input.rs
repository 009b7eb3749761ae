//! Where the shell's lines come from: rustyline on a terminal (editing,
//! history, Tab completion, a masked password prompt), plain lines from a
//! pipe or a file otherwise (no prompt, no echo: tests and scripts).
//!
//! Reading blocks, so it runs on a thread of its own; the driver asks for
//! one line at a time and can watch the server meanwhile (a `421` while
//! the user is thinking is shown at once). Asking is cancel-safe: a
//! question is asked once and its answer waits in the channel.

use std::io::{BufRead as _, IsTerminal as _};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rustyline::config::Configurer as _;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{ColorMode, CompletionType, Config, Editor};
use smtp_wire::Capabilities;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::complete::LineHelper;
use super::state::history_entry;

/// What the reader gives back.
#[derive(Debug)]
pub enum Line {
    /// A line, without its line end.
    Text(String),
    /// Ctrl-C on a terminal: the line being typed is dropped.
    Interrupted,
    /// The end of the input (Ctrl-D, or the end of the pipe).
    End,
}

struct Ask {
    prompt: String,
    secret: bool,
}

/// The line reader, on its own thread.
pub struct Input {
    asks: mpsc::Sender<Ask>,
    lines: UnboundedReceiver<std::io::Result<Line>>,
    asked: bool,
    terminal: bool,
}

impl Input {
    /// Starts the reader: rustyline when standard input is a terminal,
    /// completing from `offered`.
    pub fn start(offered: Arc<Mutex<Option<Capabilities>>>) -> Input {
        let terminal = std::io::stdin().is_terminal();
        let (asks, questions) = mpsc::channel::<Ask>();
        let (answers, lines) = unbounded_channel();
        std::thread::spawn(move || {
            let editor = terminal.then(|| editor(offered)).and_then(Result::ok);
            match editor {
                Some(editor) => terminal_lines(editor, &questions, &answers),
                None => plain_lines(&questions, &answers),
            }
        });
        Input {
            asks,
            lines,
            asked: false,
            terminal,
        }
    }

    /// True when the lines are typed on a terminal (prompts are shown,
    /// questions can be asked).
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// The next line, after `prompt` (on a terminal); `secret` masks it
    /// and keeps it out of the history.
    pub async fn line(&mut self, prompt: &str, secret: bool) -> std::io::Result<Line> {
        if !self.asked {
            let ask = Ask {
                prompt: prompt.to_string(),
                secret,
            };
            if self.asks.send(ask).is_err() {
                return Ok(Line::End);
            }
            self.asked = true;
        }
        let answer = self.lines.recv().await;
        self.asked = false;
        answer.unwrap_or(Ok(Line::End))
    }
}

fn editor(
    offered: Arc<Mutex<Option<Capabilities>>>,
) -> rustyline::Result<Editor<LineHelper, DefaultHistory>> {
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .build();
    let mut editor = Editor::with_config(config)?;
    editor.set_helper(Some(LineHelper {
        offered,
        masking: false,
    }));
    Ok(editor)
}

fn terminal_lines(
    mut editor: Editor<LineHelper, DefaultHistory>,
    questions: &mpsc::Receiver<Ask>,
    answers: &UnboundedSender<std::io::Result<Line>>,
) {
    while let Ok(ask) = questions.recv() {
        if let Some(helper) = editor.helper_mut() {
            helper.masking = ask.secret;
        }
        // The mask is drawn by the highlighter, so it must run even where
        // colour is off.
        editor.set_color_mode(if ask.secret {
            ColorMode::Forced
        } else {
            ColorMode::Enabled
        });
        let line = match editor.readline(&ask.prompt) {
            Ok(line) => {
                if !ask.secret
                    && let Some(entry) = history_entry(&line)
                {
                    let _ = editor.add_history_entry(entry);
                }
                Ok(Line::Text(line))
            }
            Err(ReadlineError::Interrupted) => Ok(Line::Interrupted),
            Err(ReadlineError::Eof) => Ok(Line::End),
            Err(error) => Err(std::io::Error::other(error)),
        };
        if answers.send(line).is_err() {
            return;
        }
    }
}

fn plain_lines(questions: &mpsc::Receiver<Ask>, answers: &UnboundedSender<std::io::Result<Line>>) {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    while questions.recv().is_ok() {
        let mut bytes = Vec::new();
        let line = match stdin.read_until(b'\n', &mut bytes) {
            Ok(0) => Ok(Line::End),
            Ok(_) => {
                // The line end: LF, or CRLF from a file written that way.
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                    if bytes.last() == Some(&b'\r') {
                        bytes.pop();
                    }
                }
                Ok(Line::Text(String::from_utf8_lossy(&bytes).into_owned()))
            }
            Err(error) => Err(error),
        };
        if answers.send(line).is_err() {
            return;
        }
    }
}

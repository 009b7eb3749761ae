//! Server lines: each final reply answers the oldest command waiting for
//! one (RFC 2920 §3.1), and tells what the client can know from then on.

use smtp_wire::Capabilities;

use super::message::Message;
use super::session::{Mode, Walk};
use super::steps::{Step, Wire};
use crate::client::rules;

impl Walk {
    /// One server line.
    pub(super) fn server(&mut self, line: &Wire) {
        // RFC 5321 §4.2: a code, then `-` on every line but the last.
        let text = String::from_utf8_lossy(&line.bytes);
        let Some(code) = text
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok())
        else {
            return;
        };
        let rest = &text[3..];
        let more = rest.starts_with('-');
        let rest = rest.strip_prefix(['-', ' ']).unwrap_or(rest);
        self.reply.push(rest.to_string());
        if !more {
            let lines = std::mem::take(&mut self.reply);
            self.final_reply(code, lines);
        }
    }

    fn final_reply(&mut self, code: u16, lines: Vec<String>) {
        // RFC 5321 §3.8: 421, whatever it answers, closes the session.
        if code == 421 {
            self.closing = Some(421);
        }
        let Some(&answers) = self.pending.front() else {
            return;
        };
        let positive = (200..300).contains(&code);
        match answers {
            // RFC 5321 §3.1: 554 instead of 220 refuses the session.
            "greeting" if code != 220 => {
                self.closing.get_or_insert(code);
            }
            "EHLO" if positive => {
                // The lines as the transcript has them: a `Reply` would
                // sanitize them first and change what the server offered.
                self.caps = Capabilities::from_ehlo_lines(lines.iter().map(String::as_str));
                self.greeted = true;
                self.reset();
            }
            "HELO" if positive => {
                // RFC 5321 §3.2: no extensions after HELO.
                self.caps = Capabilities::default();
                self.greeted = true;
                self.reset();
            }
            "MAIL" => self.mail = positive,
            "RSET" | "the message" | "BDAT LAST" => self.reset(),
            "DATA" => self.data_reply(code),
            // RFC 4954 §4: a challenge; the exchange goes on.
            "AUTH" if code == 334 => return self.challenge(),
            "AUTH" => self.auth_done(),
            "QUIT" => self.quit_answered = true,
            "STARTTLS" => self.starttls = code == 220,
            _ => {}
        }
        self.pending.pop_front();
    }

    /// RFC 5321 §4.1.1.4: 354 makes what the client sent after DATA message
    /// text (sent before the 354 if it was already there); any other reply
    /// refuses DATA, and what followed were commands.
    fn data_reply(&mut self, code: u16) {
        let held = self.take_held();
        if code == 354 {
            self.mode = Mode::Body(Message::new(true));
            if let Some(Step::Client(first)) = held.iter().find(|s| matches!(s, Step::Client(_))) {
                self.fault(first.index, Some(rules::text_before_354()));
            }
        } else {
            self.data_refused = true;
        }
        for step in &held {
            self.client(step);
        }
    }

    /// A 334 to AUTH: the next line is the response. A line already sent
    /// was that response, sent before the challenge.
    fn challenge(&mut self) {
        let mut held = self.take_held().into_iter();
        self.mode = Mode::AuthResponse;
        let Some(first) = held.next() else {
            return;
        };
        if let Step::Client(line) = &first {
            let pipelining = self.caps.has("PIPELINING");
            let fault = rules::sent_early("AUTH response", self.auth_step, pipelining);
            self.fault(line.index, fault);
            self.auth_response(line);
        }
        for step in held {
            self.client(&step);
        }
    }

    /// The final reply to AUTH: what was sent meanwhile were commands.
    fn auth_done(&mut self) {
        let held = self.take_held();
        for step in &held {
            self.client(step);
        }
    }

    /// The lines waiting for a reply; client lines are commands from here
    /// on, unless the caller says otherwise.
    fn take_held(&mut self) -> Vec<Step> {
        match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::Held(held) => held,
            _ => Vec::new(),
        }
    }
}

//! Message text typed after DATA (dot-stuffed, RFC 5321 §4.5.2) or as a
//! BDAT chunk (RFC 3030), line by line.

use super::*;

impl Shell {
    pub(super) fn body_line(&mut self, line: &str) -> Step {
        let Phase::Data(body) = &mut self.phase else {
            return Step::Print(Vec::new());
        };
        if line == "." {
            let mut wire = Vec::new();
            body.wire.finish(&mut wire);
            body.wire_octets += wire.len() as u64;
            let summary = format!(
                "{} octets of message in {} line{}, {} on the wire (the dots added by \
                 dot-stuffing and the end-of-data line; SIZE= counts the message only, \
                 RFC 1870 §3)",
                body.text_octets,
                body.lines,
                if body.lines == 1 { "" } else { "s" },
                body.wire_octets
            );
            self.phase = Phase::Commands;
            self.expect = Some(Expect::EndOfData);
            let out = vec![self.client("."), self.note(&summary)];
            return Step::Send { out, bytes: wire };
        }
        let mut wire = Vec::new();
        body.wire.encode(line.as_bytes(), &mut wire);
        body.wire.encode(b"\r\n", &mut wire);
        let mut text = Vec::new();
        body.text.encode(line.as_bytes(), &mut text);
        body.text.encode(b"\r\n", &mut text);
        body.text_octets += text.len() as u64;
        body.wire_octets += wire.len() as u64;
        body.lines += text.iter().filter(|&&b| b == b'\n').count() as u64;
        let mut warn = Vec::new();
        if text.len() > MAX_TEXT_LINE {
            warn.push(format!(
                "this line is {} octets with its CRLF: RFC 5321 §4.5.3.1.6 promises only \
                 {MAX_TEXT_LINE}, and a server may refuse the message",
                text.len()
            ));
        }
        if !line.is_ascii() && !body.eight_bit_declared && !body.eight_bit_warned {
            body.eight_bit_warned = true;
            warn.push(
                "octets above 127 in a message declared without BODY=8BITMIME: a 7-bit \
                 path may damage them (RFC 6152 §3; RFC 2045 encodes them for 7-bit)"
                    .to_string(),
            );
        }
        let changed = wire.len() != line.len() + 2;
        let echo = changed || self.echo_text;
        let sent = String::from_utf8_lossy(&wire).into_owned();
        let mut lines: Vec<&str> = sent.split("\r\n").collect();
        // What follows the last CRLF is empty.
        lines.pop();
        let mut out = Vec::new();
        for text in lines {
            let line = TranscriptLine {
                dir: Some(Direction::Client),
                text: visible(text),
            };
            if echo {
                out.push(self.shown(line));
            } else {
                // The annotator still follows the message, unnumbered.
                let _ = self.annotator.note(&line);
            }
        }
        out.extend(warn.iter().map(|w| self.warning(w)));
        Step::Send { out, bytes: wire }
    }

    pub(super) fn chunk_line(&mut self, line: &str) -> Step {
        let Phase::Chunk(chunk) = &mut self.phase else {
            return Step::Print(Vec::new());
        };
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        let mut notes = Vec::new();
        let remaining = usize::try_from(chunk.remaining).unwrap_or(usize::MAX);
        if bytes.len() > remaining {
            bytes.truncate(remaining);
            notes.push(format!(
                "cut to the {remaining} octets left: a BDAT chunk is exactly the size its \
                 command gave (RFC 3030 §2)"
            ));
        }
        chunk.remaining -= bytes.len() as u64;
        let (done, size, last) = (chunk.remaining == 0, chunk.size, chunk.last);
        let mut out = Vec::new();
        if self.echo_text || !notes.is_empty() {
            // Not given to the annotator: it would take chunk octets for
            // commands (the transcript knows BDAT, the notes do not).
            self.number += 1;
            let shown = TranscriptLine {
                dir: Some(Direction::Client),
                text: visible(String::from_utf8_lossy(&bytes).trim_end_matches(['\r', '\n'])),
            };
            out.push(explained_line(self.number, &shown, None, self.style));
        }
        out.extend(notes.iter().map(|n| self.note(n)));
        if done {
            out.push(self.note(&format!("the {size} octets of the chunk are sent")));
            self.phase = Phase::Commands;
            self.expect = Some(Expect::Bdat { last });
        }
        Step::Send { out, bytes }
    }
}

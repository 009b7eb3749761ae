//! How message content reaches the transcript without costing more than
//! sending it.
//!
//! The transcript keeps only the first and last lines of a message body
//! anyway (smtp-wire's `TranscriptLimits`), but it looks at every line to
//! do so, with an allocation or two per line: for a 100 MiB message that
//! is more CPU time than encrypting it. So the connection gives it the first
//! block of DATA content and the last one whole, and of each block in
//! between only the ends of the lines that cross the block boundaries:
//! whole lines in the middle are skipped, counted, and reported in one
//! note before the last lines (`-- 104702240 octets of message content
//! (whole lines) not recorded --`). Skipping whole lines keeps the
//! transcript's view of where lines start intact, so the end-of-data line
//! `.` (RFC 5321 §4.1.1.4) is still recognised. Messages of up to two
//! blocks are recorded exactly as before.

use smtp_wire::Transcript;

/// Per-message state: how many blocks were seen, what was skipped.
#[derive(Debug, Default)]
pub(crate) struct ContentSampler {
    blocks: u64,
    skipped_octets: u64,
}

impl ContentSampler {
    /// Records one block of dot-stuffed DATA content, as written.
    pub(crate) fn record(&mut self, transcript: &mut Transcript, block: &[u8]) {
        self.blocks += 1;
        // After dot-stuffing, `<CRLF>.<CRLF>` only ever ends the data.
        let last = block == b".\r\n" || block.ends_with(b"\r\n.\r\n");
        let first = self.blocks == 1;
        let (Some(head_end), Some(tail_start)) = (
            memchr::memchr(b'\n', block).map(|i| i + 1),
            memchr::memrchr(b'\n', block).map(|i| i + 1),
        ) else {
            // No line end at all: a piece of one long line; keep it.
            return transcript.client(block);
        };
        if first || (last && self.skipped_octets == 0) {
            return transcript.client(block);
        }
        // The line the previous block left open ends here.
        transcript.client(&block[..head_end]);
        if last {
            transcript.note(&format!(
                "{} octets of message content (whole lines) not recorded",
                self.skipped_octets
            ));
            return transcript.client(&block[head_end..]);
        }
        self.skipped_octets += (tail_start - head_end) as u64;
        // The start of a line the next block ends.
        transcript.client(&block[tail_start..]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn blocks_of(content: &[u8], size: usize) -> Vec<&[u8]> {
        content.chunks(size).collect()
    }

    #[test]
    fn messages_of_two_blocks_are_recorded_whole() {
        let data = b"Subject: x\r\n\r\nline 1\r\nline 2\r\n.\r\n";
        for size in [data.len(), data.len() / 2 + 1] {
            let mut plain = Transcript::new();
            plain.client(b"DATA\r\n");
            let mut sampled = Transcript::new();
            sampled.client(b"DATA\r\n");
            let mut sampler = ContentSampler::default();
            for block in blocks_of(data, size) {
                plain.client(block);
                sampler.record(&mut sampled, block);
            }
            assert_eq!(plain.render(), sampled.render());
        }
    }

    #[test]
    fn the_middle_of_a_large_message_is_counted_not_recorded() {
        let mut content = b"Subject: big\r\n\r\n".to_vec();
        for i in 0..5000 {
            content.extend_from_slice(format!("line {i:05} of the body\r\n").as_bytes());
        }
        content.extend_from_slice(b".\r\n");
        let mut transcript = Transcript::new();
        transcript.client(b"DATA\r\n");
        transcript.server(b"354 go ahead\r\n");
        let mut sampler = ContentSampler::default();
        for block in blocks_of(&content, 4096) {
            sampler.record(&mut transcript, block);
        }
        // The session goes on: the end of data was recognised.
        transcript.server(b"250 ok\r\n");
        transcript.client(b"QUIT\r\n");
        let text = transcript.render();
        assert!(text.contains("C: line 00000 of the body"), "{text}");
        assert!(text.contains("C: line 04999 of the body"), "{text}");
        assert!(
            text.contains("of message content (whole lines) not recorded"),
            "{text}"
        );
        assert!(text.contains("C: .\n"), "{text}");
        assert!(text.ends_with("S: 250 ok\nC: QUIT\n"), "{text}");
        assert!(sampler.skipped_octets > 100_000);
    }
}

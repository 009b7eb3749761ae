//! The messages the cases send: built here, byte for byte, so the copy a
//! peer stored can be compared with what was meant to arrive.

use base64::Engine as _;

/// The longest line RFC 5322 §2.1.1 allows: 998 characters before CRLF.
const LONGEST_LINE: usize = 998;

/// Lines that only survive SMTP if the sender dot-stuffs and the receiver
/// unstuffs (RFC 5321 §4.5.2), including a lone `.` that would end DATA
/// early, and lines a careless implementation trims or re-wraps.
pub const TRANSPARENCY_LINES: &[&str] = &[
    "Lines that SMTP transparency (RFC 5321 4.5.2) must carry unchanged:",
    ".",
    "..",
    ".leading dot",
    "..two leading dots",
    " . space then dot",
    ".",
    "",
    "QUIT",
    "trailing spaces   ",
    "tab\tinside",
];

/// What one test message is made of.
#[derive(Debug, Clone)]
pub struct MessageSpec<'a> {
    /// `From:` address.
    pub from: &'a str,
    /// `To:` addresses.
    pub to: &'a [&'a str],
    /// Subject (ASCII).
    pub subject: &'a str,
    /// Size of the base64 attachment before encoding (0: none).
    pub attachment: usize,
    /// Seed for the attachment bytes, so every case sends different data.
    pub seed: u64,
}

impl<'a> MessageSpec<'a> {
    /// A message with a 24 KiB attachment.
    pub fn new(from: &'a str, to: &'a [&'a str], subject: &'a str) -> MessageSpec<'a> {
        MessageSpec {
            from,
            to,
            subject,
            attachment: 24 * 1024,
            seed: subject.bytes().fold(0x9E37_79B9_7F4A_7C15, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
            }),
        }
    }

    /// Changes the attachment size.
    pub fn attachment(mut self, octets: usize) -> MessageSpec<'a> {
        self.attachment = octets;
        self
    }

    /// The message, CRLF line ends, 7-bit, every line at most 998 octets.
    pub fn build(&self) -> Vec<u8> {
        let boundary = "=_interop_boundary_7";
        let mut lines: Vec<String> = vec![
            format!("From: Interop Sender <{}>", self.from),
            format!("To: {}", self.to.join(", ")),
            format!("Subject: {}", self.subject),
            "Date: Mon, 01 Jan 2024 12:00:00 +0000".into(),
            format!("Message-ID: <{:016x}@interop.example.test>", self.seed),
            "MIME-Version: 1.0".into(),
            format!("Content-Type: multipart/mixed; boundary=\"{boundary}\""),
            String::new(),
            "This is a multi-part message in MIME format.".into(),
            String::new(),
            format!("--{boundary}"),
            "Content-Type: text/plain; charset=us-ascii".into(),
            "Content-Transfer-Encoding: 7bit".into(),
            String::new(),
        ];
        lines.extend(TRANSPARENCY_LINES.iter().map(|l| l.to_string()));
        lines.push(long_line(LONGEST_LINE));
        lines.push(format!("end of text for {}", self.subject));
        if self.attachment > 0 {
            lines.extend([
                format!("--{boundary}"),
                "Content-Type: application/octet-stream; name=\"data.bin\"".into(),
                "Content-Disposition: attachment; filename=\"data.bin\"".into(),
                "Content-Transfer-Encoding: base64".into(),
                String::new(),
            ]);
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(pseudo_random(self.attachment, self.seed));
            // RFC 2045 §6.8: encoded lines of at most 76 characters.
            lines.extend(
                encoded
                    .as_bytes()
                    .chunks(76)
                    .map(|c| String::from_utf8_lossy(c).into_owned()),
            );
        }
        lines.push(format!("--{boundary}--"));
        let mut text = lines.join("\r\n");
        text.push_str("\r\n");
        text.into_bytes()
    }
}

/// Deterministic bytes (xorshift64*), so a failure can be reproduced.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A line of `len` printable characters that starts with a digit.
fn long_line(len: usize) -> String {
    let pattern = "0123456789 abcdefghijklmnopqrstuvwxyz ";
    pattern.chars().cycle().take(len).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_crlf_7bit_and_within_line_limits() {
        let m = MessageSpec::new("a@example.test", &["b@example.test"], "subject").build();
        assert!(m.ends_with(b"\r\n"));
        assert!(m.is_ascii());
        let text = String::from_utf8_lossy(&m);
        assert!(
            !text.replace("\r\n", "").contains(['\r', '\n']),
            "bare CR or LF"
        );
        assert!(text.split("\r\n").all(|l| l.len() <= LONGEST_LINE));
        assert!(text.split("\r\n").any(|l| l.len() == LONGEST_LINE));
        // A lone dot: what a sender that does not dot-stuff gets wrong.
        assert!(text.contains("\r\n.\r\n"));
    }

    #[test]
    fn messages_are_reproducible_and_differ_by_subject() {
        let a = MessageSpec::new("a@x.test", &["b@x.test"], "one").build();
        assert_eq!(
            a,
            MessageSpec::new("a@x.test", &["b@x.test"], "one").build()
        );
        assert_ne!(
            a,
            MessageSpec::new("a@x.test", &["b@x.test"], "two").build()
        );
        let big = MessageSpec::new("a@x.test", &["b@x.test"], "one")
            .attachment(1 << 20)
            .build();
        assert!(big.len() > 4 * (1 << 20) / 3);
        assert_eq!(pseudo_random(10, 1), pseudo_random(10, 1));
        assert_eq!(pseudo_random(0, 1).len(), 0);
    }
}

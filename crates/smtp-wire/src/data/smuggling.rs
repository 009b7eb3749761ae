//! The SMTP smuggling corpus (RFC 5321 §4.1.1.4 and §2.3.8; the 2023
//! attacks, CVE-2023-51764, -51765, -51766): every look-alike of the end of
//! data that some implementation once honoured.
//!
//! Only `<CRLF>.<CRLF>`, made of two real CR LF pairs, ends the mail data.
//! An attacker hides one of these [`VECTORS`] in a message body, followed by
//! a complete second transaction: a receiver that takes the look-alike for
//! the end of data runs the smuggled `MAIL`/`RCPT`/`DATA` as commands, and
//! the hidden message leaves with the outer session's authority. Each
//! vector must yield one message or one refusal, never a second
//! transaction. This list is the one copy the codec's tests, both halves,
//! the conformance suite and the demo use.
//!
//! ```
//! use smtp_wire::data::{DataDecoder, smuggling};
//! for vector in smuggling::VECTORS {
//!     let wire = [b"hello", vector.fake, b"MAIL FROM:<evil@x>\r\n\r\n.\r\n"].concat();
//!     let mut body = Vec::new();
//!     let progress = DataDecoder::new().decode(&wire, &mut body);
//!     // The data ends only at the real terminator, at the very end.
//!     assert!(progress.done && progress.consumed == wire.len(), "{}", vector.name);
//! }
//! ```

/// One end-of-data look-alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vector {
    /// A stable, readable name (`"lf-dot-lf"`), used in case ids and reports.
    pub name: &'static str,
    /// How it is written in prose (`"<LF>.<LF>"`).
    pub display: &'static str,
    /// The octets that stand between two body lines.
    pub fake: &'static [u8],
    /// Whether it relies on a bare LF (RFC 5321 §2.3.8 forbids bare LF;
    /// the others rely on a bare CR, which the RFC also forbids but which
    /// fewer receivers ever honoured).
    pub bare_lf: bool,
}

/// Every look-alike, the ones built on a bare LF first.
pub const VECTORS: &[Vector] = &[
    Vector {
        name: "lf-dot-lf",
        display: "<LF>.<LF>",
        fake: b"\n.\n",
        bare_lf: true,
    },
    Vector {
        name: "lf-dot-crlf",
        display: "<LF>.<CRLF>",
        fake: b"\n.\r\n",
        bare_lf: true,
    },
    Vector {
        name: "crlf-dot-lf",
        display: "<CRLF>.<LF>",
        fake: b"\r\n.\n",
        bare_lf: true,
    },
    Vector {
        name: "cr-dot-cr",
        display: "<CR>.<CR>",
        fake: b"\r.\r",
        bare_lf: false,
    },
    Vector {
        name: "crlf-dot-cr",
        display: "<CRLF>.<CR>",
        fake: b"\r\n.\r",
        bare_lf: false,
    },
    Vector {
        name: "cr-dot-crlf",
        display: "<CR>.<CRLF>",
        fake: b"\r.\r\n",
        bare_lf: false,
    },
    Vector {
        name: "crcrlf-dot-crcrlf",
        display: "<CR><CR><LF>.<CR><CR><LF>",
        fake: b"\r\r\n.\r\r\n",
        bare_lf: false,
    },
];

/// A complete second transaction, as an attacker hides it after a vector:
/// if it is ever run as commands, the receiver is vulnerable.
pub const SMUGGLED_TRANSACTION: &[u8] = b"MAIL FROM:<evil@attacker.example>\r\n\
RCPT TO:<victim@example.org>\r\nDATA\r\nFrom: <ceo@example.org>\r\n\
Subject: smuggled\r\n\r\nIf you read this as a separate message, the receiver is vulnerable.\r\n";

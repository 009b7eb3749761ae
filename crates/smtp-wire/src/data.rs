//! The message body on the wire: DATA dot-stuffing (RFC 5321 §4.5.2) and
//! BDAT chunks (RFC 3030).
//!
//! After `DATA` and a `354` reply the client sends the message as lines and
//! ends it with a line holding a single dot: `<CRLF>.<CRLF>`. So that a body
//! line consisting of `.` cannot end the message early, the sender doubles
//! every dot that begins a line and the receiver removes it again
//! ("transparency", RFC 5321 §4.5.2).
//!
//! * [`DotStuffer`] is the sender side: it turns *any* bytes into a safe body
//!   (bare CR and bare LF become CRLF, leading dots are doubled, a final CRLF
//!   and the `.` line are added), whatever the chunk boundaries.
//! * [`DataDecoder`] is the receiver side: it ends the data **only** at
//!   `<CRLF>.<CRLF>` made of two real CR LF pairs, removes the stuffed dots,
//!   and counts what the receiver's policy may want to refuse (bare CR, bare LF,
//!   over-long lines). This is what makes a receiver immune to SMTP smuggling:
//!   `<LF>.<LF>`, `<CR>.<CR>` and friends are data, never an end of data.
//! * [`smuggling`] lists the end-of-data look-alikes the decoder must
//!   treat as data.
//! * [`BdatReader`] takes exactly the announced number of octets of a `BDAT`
//!   chunk, with no dot handling at all (RFC 3030 §2).
//!
//! All three follow the crate's decoder pattern: the caller owns the input
//! buffer, each call looks at a `&[u8]`, appends to a caller-owned `Vec<u8>`
//! and reports how much input it consumed. The state kept between calls is a
//! handful of bytes, so memory stays bounded whatever the body size.
//!
//! ```
//! use smtp_wire::data::{DataDecoder, DotStuffer};
//!
//! // Sender: the body "a\n.b" becomes a safe DATA stream.
//! let mut wire = Vec::new();
//! let mut stuffer = DotStuffer::new();
//! stuffer.encode(b"a\n.b", &mut wire);
//! stuffer.finish(&mut wire);
//! assert_eq!(wire, b"a\r\n..b\r\n.\r\n");
//!
//! // Receiver: back to the (normalised) body, fed in two pieces.
//! let mut body = Vec::new();
//! let mut decoder = DataDecoder::new();
//! let first = decoder.decode(&wire[..4], &mut body);
//! assert!(!first.done);
//! let rest = decoder.decode(&wire[first.consumed..], &mut body);
//! assert!(rest.done);
//! assert_eq!(body, b"a\r\n.b\r\n");
//! ```

mod bdat;
mod decoder;
mod encoder;
pub mod smuggling;

pub use bdat::BdatReader;
pub use decoder::{DataDecoder, DataProgress, DataStats};
pub use encoder::DotStuffer;

/// Maximum length of a text line in the body, **including** the CRLF and not
/// counting a leading dot doubled for transparency (RFC 5321 §4.5.3.1.6).
///
/// [`DataDecoder`] counts longer lines in [`DataStats::long_lines`]; whether
/// to refuse such a message is the receiver's policy.
pub const MAX_TEXT_LINE: usize = 1000;

//! Deciding, before any byte is sent, how a message travels on this session.
//!
//! The server's EHLO reply says what it offers; the message and the envelope
//! say what they need. Where they do not meet, the message is refused here,
//! locally, with a clear error, rather than sent and corrupted or bounced.

use smtp_wire::DotStuffer;
use smtp_wire::param::{Body, MailParams};

use super::handshake::ServerInfo;
use crate::envelope::Envelope;
use crate::error::SendError;

/// What the caller allows (both on by default except chunking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    /// Use PIPELINING when offered.
    pub pipelining: bool,
    /// Use CHUNKING (BDAT) when offered.
    pub chunking: bool,
}

/// How one message will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The MAIL FROM parameters (SIZE=, BODY=8BITMIME, SMTPUTF8).
    pub mail_params: MailParams,
    /// RFC 2920: MAIL, the RCPTs and DATA in one flight.
    pub pipelining: bool,
    /// RFC 3030: BDAT instead of DATA.
    pub chunking: bool,
    /// Octets of content, CRLF line ends, before dot-stuffing.
    pub size: u64,
}

/// Turns every line end into CRLF (RFC 5321 §2.3.8: bare CR and bare LF are
/// not line ends in SMTP) and makes sure the content ends with CRLF. This is
/// what gets counted for SIZE and sent with BDAT; DATA dot-stuffs it on top.
///
/// ```
/// use smtp_sender::client::canonical_message;
/// assert_eq!(canonical_message(b"a\nb"), b"a\r\nb\r\n");
/// ```
pub fn canonical_message(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 2);
    let mut normaliser = DotStuffer::crlf_only();
    normaliser.encode(message, &mut out);
    normaliser.finish(&mut out);
    out
}

/// RFC 6532 §3: non-ASCII in the header section is only allowed in an
/// SMTPUTF8 transaction.
pub fn headers_need_smtputf8(message: &[u8]) -> bool {
    let end = find(message, b"\r\n\r\n").unwrap_or(message.len());
    message[..end].iter().any(|&b| b >= 0x80)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decides the MAIL parameters and the transfer method, or refuses the
/// message when it cannot be sent faithfully to this server.
///
/// `content` must already be [`canonical_message`].
pub fn plan(
    envelope: &Envelope,
    content: &[u8],
    server: &ServerInfo,
    prefs: Preferences,
) -> Result<Plan, SendError> {
    let size = content.len() as u64;
    let mut mail_params = MailParams::default();

    if server.offers("SIZE") {
        // RFC 1870 §6.1: do not send a message the server said it would refuse.
        if let Some(limit) = server.capabilities.size_limit()
            && size > limit
        {
            return Err(SendError::MessageTooLarge { size, limit });
        }
        // RFC 1870 §6.2: declare the size so the server can refuse early.
        mail_params.size = Some(size);
    }

    // RFC 6152 §3: octets above 127 need BODY=8BITMIME; without it the
    // server may strip the high bit. Refuse instead of corrupting.
    if smtp_mime::needs_8bitmime(content) {
        if !server.offers("8BITMIME") {
            return Err(SendError::ExtensionRequired {
                extension: "8BITMIME",
                why: "the message contains octets above 127",
            });
        }
        mail_params.body = Some(Body::EightBitMime);
    }

    // RFC 6531 §3.4: UTF-8 addresses or headers need SMTPUTF8 on MAIL FROM.
    let utf8_why = if envelope.needs_smtputf8() {
        Some("an address is not ASCII")
    } else if headers_need_smtputf8(content) {
        Some("the header section is not ASCII")
    } else {
        None
    };
    if let Some(why) = utf8_why {
        if !server.offers("SMTPUTF8") {
            return Err(SendError::ExtensionRequired {
                extension: "SMTPUTF8",
                why,
            });
        }
        mail_params.smtputf8 = true;
    }

    Ok(Plan {
        mail_params,
        pipelining: prefs.pipelining && server.offers("PIPELINING"),
        chunking: prefs.chunking && server.offers("CHUNKING"),
        size,
    })
}

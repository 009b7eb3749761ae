//! Deciding, before any byte is sent, how a message travels on this session.
//!
//! The server's EHLO reply says what it offers; the message and the envelope
//! say what they need. Where they do not meet, the message is refused here,
//! locally, with a clear error, rather than sent and corrupted or bounced.

use smtp_wire::param::{Body, MailParams};

use crate::envelope::Envelope;
use crate::error::ProtocolError;
use crate::handshake::ServerInfo;
use crate::message::{Message, headers_need_smtputf8};

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
    /// RFC 2033 §4.2: an LMTP session, so the end of the data earns one
    /// reply per accepted recipient.
    pub lmtp: bool,
    /// RFC 3461: the envelope's DSN requests go on MAIL and RCPT (the
    /// server offers DSN). Without it they are left out, and the caller,
    /// now the last DSN-aware hop, answers for them (§4: "relayed").
    pub dsn: bool,
    /// Octets of content, CRLF line ends, before dot-stuffing.
    pub size: u64,
}

/// Decides the MAIL parameters and the transfer method, or refuses the
/// message when it cannot be sent faithfully to this server.
///
/// ```
/// use smtp_sender_core::{Envelope, Message, Preferences, ServerInfo, plan};
/// let envelope = Envelope::new("a@example.org", &["b@example.org"])?;
/// let prefs = Preferences { pipelining: true, chunking: false };
/// let p = plan(&envelope, &Message::new(b"Hi\r\n"), &ServerInfo::default(), prefs)?;
/// assert!(!p.pipelining, "not offered: nothing learned from EHLO yet");
/// assert_eq!(p.size, 4);
/// # Ok::<(), smtp_sender_core::ProtocolError>(())
/// ```
pub fn plan(
    envelope: &Envelope,
    message: &Message<'_>,
    server: &ServerInfo,
    prefs: Preferences,
) -> Result<Plan, ProtocolError> {
    let size = message.size();
    let mut mail_params = MailParams::default();

    if server.offers("SIZE") {
        // RFC 1870 §6.1: do not send a message the server said it would refuse.
        if let Some(limit) = server.capabilities.size_limit()
            && size > limit
        {
            return Err(ProtocolError::MessageTooLarge { size, limit });
        }
        // RFC 1870 §6.2: declare the size so the server can refuse early.
        mail_params.size = Some(size);
    }

    // RFC 6152 §3: octets above 127 need BODY=8BITMIME; without it the
    // server may strip the high bit. Refuse instead of corrupting.
    if message.is_eight_bit() {
        if !server.offers("8BITMIME") {
            return Err(ProtocolError::ExtensionRequired {
                extension: "8BITMIME",
                why: "the message contains octets above 127",
            });
        }
        mail_params.body = Some(Body::EightBitMime);
    }

    // RFC 6531 §3.4: UTF-8 addresses or headers need SMTPUTF8 on MAIL FROM.
    let utf8_why = if envelope.needs_smtputf8() {
        Some("an address is not ASCII")
    } else if headers_need_smtputf8(message.as_bytes()) {
        Some("the header section is not ASCII")
    } else {
        None
    };
    if let Some(why) = utf8_why {
        if !server.offers("SMTPUTF8") {
            return Err(ProtocolError::ExtensionRequired {
                extension: "SMTPUTF8",
                why,
            });
        }
        mail_params.smtputf8 = true;
    }

    // RFC 3461 §4: the requests travel only to a server that offers DSN
    // (a server that does not would refuse the unknown parameters, 555).
    let dsn = match &envelope.dsn {
        Some(request) if server.offers("DSN") => {
            mail_params.ret = request.ret;
            mail_params.envid.clone_from(&request.envid);
            true
        }
        _ => false,
    };

    Ok(Plan {
        mail_params,
        dsn,
        pipelining: prefs.pipelining && server.offers("PIPELINING"),
        // LMTP goes with DATA only: its per-recipient replies then follow
        // the final dot (RFC 2033 §4.2), one code path for every server.
        chunking: prefs.chunking && server.offers("CHUNKING") && !server.lmtp,
        lmtp: server.lmtp,
        size,
    })
}

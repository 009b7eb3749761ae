//! The envelope from the message's own headers, the way Python's
//! `smtplib.send_message` derives it. (The [`Envelope`] type itself lives
//! in `smtp-sender-core`; reading headers takes `smtp-mime`, which the
//! protocol core does without.)

use smtp_sender_core::{Envelope, ProtocolError};

/// [`Envelope::from_headers`]: bring this trait into scope to call it.
pub trait EnvelopeFromHeaders: Sized {
    /// Derives the envelope from the message's `From`, `To`, `Cc` and `Bcc`
    /// headers and returns it with the copy of the message to transmit, from
    /// which `Bcc` has been removed (as `smtplib.send_message` does).
    ///
    /// ```
    /// use smtp_sender::{Envelope, EnvelopeFromHeaders};
    /// let message = b"From: alice@example.com\r\nTo: bob@example.org\r\nBcc: carol@example.net\r\n\r\nHi\r\n";
    /// let (envelope, to_send) = Envelope::from_headers(message)?;
    /// assert_eq!(envelope.to.len(), 2);
    /// assert!(!String::from_utf8_lossy(&to_send).contains("carol"));
    /// # Ok::<(), smtp_sender::ProtocolError>(())
    /// ```
    fn from_headers(message: &[u8]) -> Result<(Self, Vec<u8>), ProtocolError>;
}

impl EnvelopeFromHeaders for Envelope {
    fn from_headers(message: &[u8]) -> Result<(Envelope, Vec<u8>), ProtocolError> {
        let found = smtp_mime::envelope_from_headers(message);
        let from = found.from.ok_or_else(|| ProtocolError::InvalidInput {
            what: "message",
            value: String::new(),
            reason: "it has no From header and no sender was given".into(),
        })?;
        if found.recipients.is_empty() {
            return Err(ProtocolError::NoRecipients);
        }
        Ok((Envelope::new(&from, &found.recipients)?, found.message))
    }
}

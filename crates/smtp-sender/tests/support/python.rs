//! Python 3.11's `smtpd` as an independent Receiver-SMTP, from
//! smtp-peers (`PythonSmtpd`): every message it receives is stored as the
//! data smtpd hands to `process_message`, with its envelope beside it.

use smtp_peers::{Peer, PeerMessage, PythonSmtpd};

/// Starts smtpd on 127.0.0.1; `None`, said on stderr, where it is missing
/// (`python3` without the `smtpd` module, gone since Python 3.12): the test
/// is then skipped visibly.
pub async fn start_smtpd() -> Option<PythonSmtpd> {
    if let Err(missing) = Peer::PythonSmtpd.version() {
        eprintln!("skipped: {missing}");
        return None;
    }
    let started = tokio::task::spawn_blocking(PythonSmtpd::start)
        .await
        .unwrap();
    Some(started.expect("python smtpd starts"))
}

/// The messages `smtpd` stored, which must be `count`: more would be a
/// message smuggled inside another. smtpd stores each before its 250, so
/// all are there once the client has its replies.
pub fn stored(smtpd: &PythonSmtpd, count: usize) -> Vec<PeerMessage> {
    let messages = smtpd.messages().unwrap();
    assert_eq!(
        messages.len(),
        count,
        "one delivery per message: nothing smuggled"
    );
    messages
}

/// A stored message's envelope: [MAIL FROM, RCPT TO...].
pub fn envelope(message: &PeerMessage) -> Vec<String> {
    let envelope = &message.envelope;
    std::iter::once(envelope.mail_from.clone())
        .chain(envelope.rcpt_to.iter().cloned())
        .collect()
}

/// What smtpd hands to `process_message` for `sent` (with CRLF line ends):
/// the lines joined with LF, without the final line end.
pub fn as_smtpd_sees_it(sent: &[u8]) -> Vec<u8> {
    let canonical = smtp_sender_core::canonical_message(sent);
    let text = canonical.strip_suffix(b"\r\n").unwrap_or(&canonical);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(b"\r\n") {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

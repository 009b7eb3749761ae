//! An SMTP envelope from a message's header fields, as Python's `smtplib.send_message`
//! derives one, and the 8BITMIME test.
//!
//! ```
//! let msg = b"From: Ann <ann@example.org>\r\nTo: bob@example.net\r\nBcc: eve@example.net\r\nSubject: hi\r\n\r\nbody\r\n";
//! let env = smtp_mime::envelope_from_headers(msg);
//! assert_eq!(env.from.as_deref(), Some("ann@example.org"));
//! assert_eq!(env.recipients, ["bob@example.net", "eve@example.net"]);
//! assert_eq!(env.message, b"From: Ann <ann@example.org>\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nbody\r\n");
//! ```

use std::ops::Range;

use mail_parser::HeaderValue;
use mail_parser::parsers::MessageStream;

/// What [`envelope_from_headers`] derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderEnvelope {
    /// The reverse-path: the Sender address if present, else the first From address.
    pub from: Option<String>,
    /// To + Cc + Bcc addresses (or their Resent- forms), in that order, duplicates removed.
    pub recipients: Vec<String>,
    /// The message with every Bcc and Resent-Bcc field removed, otherwise byte-identical.
    pub message: Vec<u8>,
}

/// Derives an envelope from the header fields, as `smtplib.send_message` does:
///
/// * when the message has been resent (RFC 5322 §3.6.6: a `Resent-Date` is present), the
///   most recent resent block is used: `Resent-Sender`/`Resent-From` and
///   `Resent-To`/`Resent-Cc`/`Resent-Bcc`;
/// * otherwise `Sender` (or `From`) and `To`/`Cc`/`Bcc`;
/// * Bcc and Resent-Bcc fields are removed from the copy to transmit (RFC 5322 §3.6.3:
///   blind recipients must not be revealed), and nothing else changes.
pub fn envelope_from_headers(message: &[u8]) -> HeaderEnvelope {
    let fields = header_fields(message);
    let resent_block = resent_block(&fields);
    let prefix = if resent_block.is_some() {
        "resent-"
    } else {
        ""
    };
    let in_scope = |i: usize| resent_block.as_ref().is_none_or(|block| block.contains(&i));
    let named = |name: &str| -> Vec<&Field<'_>> {
        fields
            .iter()
            .enumerate()
            .filter(|(i, f)| in_scope(*i) && f.name.eq_ignore_ascii_case(name))
            .map(|(_, f)| f)
            .collect()
    };
    let first_address = |name: &str| {
        named(name)
            .into_iter()
            .flat_map(|f| addresses(&message[f.value.clone()]))
            .next()
    };
    let from = first_address(&format!("{prefix}sender"))
        .or_else(|| first_address(&format!("{prefix}from")));
    let mut recipients: Vec<String> = Vec::new();
    for kind in ["to", "cc", "bcc"] {
        for field in named(&format!("{prefix}{kind}")) {
            for address in addresses(&message[field.value.clone()]) {
                if !recipients.contains(&address) {
                    recipients.push(address);
                }
            }
        }
    }
    let mut stripped = Vec::with_capacity(message.len());
    let mut at = 0;
    for field in &fields {
        if field.name.eq_ignore_ascii_case("bcc") || field.name.eq_ignore_ascii_case("resent-bcc") {
            stripped.extend_from_slice(&message[at..field.whole.start]);
            at = field.whole.end;
        }
    }
    stripped.extend_from_slice(&message[at..]);
    HeaderEnvelope {
        from,
        recipients,
        message: stripped,
    }
}

/// True when any octet is >= 0x80: such a message may only be sent with
/// `BODY=8BITMIME` (RFC 6152) or SMTPUTF8 (RFC 6531).
///
/// ```
/// assert!(!smtp_mime::needs_8bitmime(b"Subject: hi\r\n\r\nplain\r\n"));
/// assert!(smtp_mime::needs_8bitmime("Subject: hi\r\n\r\ncafé\r\n".as_bytes()));
/// ```
pub fn needs_8bitmime(message: &[u8]) -> bool {
    message.iter().any(|b| *b >= 0x80)
}

/// One header field: its name and where it lies in the message.
struct Field<'a> {
    name: &'a str,
    /// The value, after the colon, up to and including the final line break.
    value: Range<usize>,
    /// The whole field including continuation lines and the final line break.
    whole: Range<usize>,
}

/// Splits the header section (RFC 5322 §2.2: fields up to the first empty line; a line
/// starting with SP or HTAB continues the previous field, §2.2.3). Lines without a colon
/// are skipped, as mail readers do.
fn header_fields(message: &[u8]) -> Vec<Field<'_>> {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut at = 0;
    while at < message.len() {
        let end = memchr_newline(message, at).map_or(message.len(), |nl| nl + 1);
        let line = &message[at..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = fields.last_mut() {
                last.value.end = end;
                last.whole.end = end;
            }
        } else if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = std::str::from_utf8(&line[..colon])
                .unwrap_or_default()
                .trim_end();
            fields.push(Field {
                name,
                value: at + colon + 1..end,
                whole: at..end,
            });
        }
        at = end;
    }
    fields
}

fn memchr_newline(message: &[u8], from: usize) -> Option<usize> {
    message
        .get(from..)?
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| p + from)
}

/// The indexes of the most recent resent block: the run of consecutive `Resent-*` fields
/// around the first `Resent-Date` (blocks are prepended, RFC 5322 §3.6.6).
fn resent_block(fields: &[Field<'_>]) -> Option<Range<usize>> {
    let is_resent = |f: &Field<'_>| f.name.len() > 7 && f.name[..7].eq_ignore_ascii_case("resent-");
    let date = fields
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case("resent-date"))?;
    let start = (0..date)
        .rev()
        .take_while(|&i| is_resent(&fields[i]))
        .last()
        .unwrap_or(date);
    let end = (date..fields.len())
        .take_while(|&i| is_resent(&fields[i]))
        .last()
        .unwrap_or(date);
    Some(start..end + 1)
}

/// The addr-specs of an address-list (RFC 5322 §3.4), groups flattened.
fn addresses(value: &[u8]) -> Vec<String> {
    match MessageStream::new(value).parse_address() {
        HeaderValue::Address(list) => list
            .iter()
            .filter_map(|a| a.address.as_deref())
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

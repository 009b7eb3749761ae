//! Inspect stored messages (over `mail-parser`): header fields decoded, trace fields,
//! the tree of parts, text and HTML bodies, attachments byte for byte.
//!
//! [`inspect`] never panics: a message with broken boundaries, bad encodings, 8-bit
//! garbage or no end still yields whatever can be read.
//!
//! ```
//! let raw = b"From: Ann <ann@example.org>\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nHello\r\n";
//! let msg = smtp_mime::inspect(raw);
//! assert_eq!(msg.subject.as_deref(), Some("café"));
//! assert_eq!(msg.from[0].email, "ann@example.org");
//! assert_eq!(msg.text.as_deref(), Some("Hello\r\n"));
//! ```

use std::borrow::Cow;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    Encoding, Header, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders,
    PartType,
};

use crate::compose::{Address, Attachment};
use crate::decode::{header_text, lenient_base64, squeeze, unfold};

/// Deeper part trees are cut short: nesting is unbounded in hostile input and the
/// conversion below is recursive.
const MAX_TREE_DEPTH: usize = 64;

/// What a stored message says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspected {
    /// All top-level header fields in order, names as written, values unfolded and
    /// decoded (RFC 2047 encoded words, address lists).
    pub headers: Vec<(String, String)>,
    /// From (RFC 5322 §3.6.2).
    pub from: Vec<Address>,
    /// To (RFC 5322 §3.6.3).
    pub to: Vec<Address>,
    /// Cc.
    pub cc: Vec<Address>,
    /// Bcc, when the sender left it in the message (RFC 5322 §3.6.3).
    pub bcc: Vec<Address>,
    /// Reply-To (RFC 5322 §3.6.2).
    pub reply_to: Vec<Address>,
    /// Subject, decoded.
    pub subject: Option<String>,
    /// Date, as written by the sender (unfolded).
    pub date: Option<String>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// Return-Path added on delivery (RFC 5321 §4.4), without angle brackets; `Some("")`
    /// for the null reverse-path `<>`.
    pub return_path: Option<String>,
    /// Received fields (RFC 5321 §4.4), unfolded, most recent first.
    pub received: Vec<String>,
    /// The MIME tree.
    pub parts: Part,
    /// The text/plain body (several inline text parts are joined with a newline).
    pub text: Option<String>,
    /// The text/html body.
    pub html: Option<String>,
    /// Everything that is neither the text nor the HTML body: attachments, inline images,
    /// attached messages; bytes exactly as they were before transfer encoding.
    pub attachments: Vec<Attachment>,
}

/// A node of the MIME tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Part {
    /// `type/subtype`, lower case (RFC 2045 §5.2 default `text/plain` when absent).
    pub content_type: String,
    /// The file name, from Content-Disposition or Content-Type `name`.
    pub filename: Option<String>,
    /// Decoded size in octets (for a multipart, the sum of its children).
    pub size: usize,
    /// The parts of a multipart, or the root of an attached message.
    pub children: Vec<Part>,
}

/// Parses a message. Never panics; malformed input yields what can be read.
pub fn inspect(message: &[u8]) -> Inspected {
    // mail-parser promises not to panic; should it break that promise on hostile input,
    // the reader still gets the raw text rather than a crash.
    let parsed = std::panic::catch_unwind(|| {
        MessageParser::new()
            .parse(message)
            .and_then(|m| convert(&m))
    });
    match parsed {
        Ok(Some(inspected)) => inspected,
        _ => unparsed(message),
    }
}

/// [`inspect`] and [`parts`](crate::parts()) from one parse of the message:
/// what an index needs of each stored message, at half the cost of calling
/// both. Never panics.
pub fn inspect_with_parts(message: &[u8]) -> (Inspected, Vec<crate::LeafPart>) {
    let parsed = std::panic::catch_unwind(|| {
        MessageParser::new().parse(message).and_then(|m| {
            let inspected = convert(&m)?;
            Some((inspected, crate::parts::leaves(&m)))
        })
    });
    match parsed {
        Ok(Some(both)) => both,
        _ => (unparsed(message), crate::parts(message)),
    }
}

/// Finds an attachment by file name, or by its 1-based number in the list
/// (`"2"`) when no attachment has that name.
///
/// ```
/// let msg = smtp_mime::MessageBuilder::new()
///     .from("a@example.org".parse().unwrap())
///     .attach(smtp_mime::Attachment { filename: "a.bin".into(), content_type: "application/octet-stream".into(), bytes: vec![1, 2] })
///     .build().unwrap();
/// let seen = smtp_mime::inspect(&msg.bytes);
/// assert_eq!(smtp_mime::attachment_by_name(&seen, "a.bin").unwrap().bytes, [1, 2]);
/// assert_eq!(smtp_mime::attachment_by_name(&seen, "1").unwrap().filename, "a.bin");
/// ```
pub fn attachment_by_name<'a>(msg: &'a Inspected, name: &str) -> Option<&'a Attachment> {
    msg.attachments
        .iter()
        .find(|a| a.filename == name)
        .or_else(|| {
            let n: usize = name.parse().ok()?;
            msg.attachments.get(n.checked_sub(1)?)
        })
}

/// What is left when no header could be found: the bytes as text.
fn unparsed(message: &[u8]) -> Inspected {
    let text = (!message.is_empty()).then(|| String::from_utf8_lossy(message).into_owned());
    Inspected {
        parts: Part {
            content_type: "text/plain".into(),
            filename: None,
            size: message.len(),
            children: Vec::new(),
        },
        text,
        ..Inspected::default()
    }
}

fn convert(m: &Message<'_>) -> Option<Inspected> {
    let root = m.parts.first()?;
    // RFC 5322 §3.6.8: field-name = 1*ftext. Without a single proper field this is not a
    // message at all, and the caller shows the bytes as text.
    let proper_name =
        |name: &str| !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !root.headers.iter().any(|h| proper_name(h.name.as_str())) {
        return None;
    }
    let raw = m.raw_message.as_ref();
    let mut out = Inspected::default();
    for h in &root.headers {
        let (value, mailboxes) = read_header(h, raw);
        match h.name {
            HeaderName::From => out.from.extend(mailboxes),
            HeaderName::To => out.to.extend(mailboxes),
            HeaderName::Cc => out.cc.extend(mailboxes),
            HeaderName::Bcc => out.bcc.extend(mailboxes),
            HeaderName::ReplyTo => out.reply_to.extend(mailboxes),
            HeaderName::Subject if out.subject.is_none() => out.subject = Some(value.clone()),
            HeaderName::Date if out.date.is_none() => out.date = Some(value.clone()),
            HeaderName::MessageId if out.message_id.is_none() => {
                out.message_id = Some(strip_angles(&value).to_string())
            }
            HeaderName::ReturnPath if out.return_path.is_none() => {
                out.return_path = Some(strip_angles(&value).to_string())
            }
            HeaderName::Received => out.received.push(value.clone()),
            _ => {}
        }
        out.headers.push((h.name.as_str().to_string(), value));
    }
    out.parts = part_tree(m, 0, 0);
    out.text = joined_bodies(m, &m.text_body, false);
    out.html = joined_bodies(m, &m.html_body, true);
    let mut unreadable_multiparts = Vec::new();
    for &id in &m.attachments {
        let Some(part) = m.parts.get(id as usize) else {
            continue;
        };
        // A body part the parser demoted (e.g. cut short before its closing boundary) is
        // still the body when there is no other: a text part without file name.
        if let PartType::Text(body) | PartType::Html(body) = &part.body
            && part.attachment_name().is_none()
            && !part
                .content_disposition()
                .is_some_and(|d| d.is_attachment())
        {
            let slot = if matches!(part.body, PartType::Html(_)) {
                &mut out.html
            } else {
                &mut out.text
            };
            let plain_or_html =
                matches!(content_type_of(part).as_str(), "text/plain" | "text/html");
            if slot.is_none() && plain_or_html {
                *slot = Some(body.to_string());
                continue;
            }
        }
        if is_failed_multipart(part) {
            unreadable_multiparts.push(String::from_utf8_lossy(&body_bytes(m, part)).into_owned());
        } else {
            out.attachments.push(attachment(m, id, part));
        }
    }
    // A multipart whose boundary never appears is still text a person can read.
    if out.text.is_none() && out.html.is_none() && !unreadable_multiparts.is_empty() {
        out.text = Some(unreadable_multiparts.join("\n"));
    }
    Some(out)
}

/// A multipart the parser could not split (its boundary is missing or empty) comes back
/// as one text part.
fn is_failed_multipart(part: &MessagePart<'_>) -> bool {
    !matches!(part.body, PartType::Multipart(_) | PartType::Message(_))
        && part
            .content_type()
            .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"))
}

/// Decodes one header field: the value for display (address lists formatted, encoded
/// words decoded, folding removed) and, for address fields, the mailboxes.
fn read_header(h: &Header<'_>, raw: &[u8]) -> (String, Vec<Address>) {
    let bytes = raw
        .get(h.offset_start as usize..h.offset_end as usize)
        .unwrap_or_default();
    let text = header_text(bytes);
    if matches!(h.value, HeaderValue::Address(_)) {
        let mailboxes = addresses(&MessageStream::new(text.as_bytes()).parse_address());
        let value = if mailboxes.is_empty() {
            squeeze(&text)
        } else {
            mailboxes
                .iter()
                .map(Address::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return (value, mailboxes);
    }
    let decoded = match MessageStream::new(text.as_bytes()).parse_unstructured() {
        HeaderValue::Text(decoded) => decoded.into_owned(),
        _ => text.into_owned(),
    };
    let structured = matches!(
        h.name,
        HeaderName::Received | HeaderName::ReturnPath | HeaderName::Date | HeaderName::MessageId
    );
    let value = if structured {
        squeeze(&decoded)
    } else {
        unfold(&decoded)
    };
    (value, Vec::new())
}

fn strip_angles(value: &str) -> &str {
    let v = value.trim();
    v.strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(v)
}

fn addresses(value: &HeaderValue<'_>) -> Vec<Address> {
    let HeaderValue::Address(list) = value else {
        return Vec::new();
    };
    list.iter()
        .filter(|a| a.address.is_some() || a.name.is_some())
        .map(|a| Address {
            name: a.name.as_deref().map(str::to_string),
            email: a.address.as_deref().unwrap_or_default().to_string(),
        })
        .collect()
}

pub(crate) fn content_type_of(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => match part.body {
            PartType::Message(_) => "message/rfc822".into(),
            PartType::Binary(_) | PartType::InlineBinary(_) => "application/octet-stream".into(),
            PartType::Html(_) => "text/html".into(),
            // RFC 2045 §5.2: the default is text/plain; charset=us-ascii.
            _ => "text/plain".into(),
        },
    }
}

fn part_tree(m: &Message<'_>, id: u32, depth: usize) -> Part {
    let Some(part) = m.parts.get(id as usize) else {
        return Part::default();
    };
    let children: Vec<Part> = if depth >= MAX_TREE_DEPTH {
        Vec::new()
    } else {
        match &part.body {
            PartType::Multipart(ids) => ids
                .iter()
                .filter(|&&child| child != id)
                .map(|&child| part_tree(m, child, depth + 1))
                .collect(),
            PartType::Message(nested) if !nested.parts.is_empty() => {
                vec![part_tree(nested, 0, depth + 1)]
            }
            _ => Vec::new(),
        }
    };
    let size = match &part.body {
        PartType::Multipart(_) => children.iter().map(|c| c.size).sum(),
        _ => body_bytes(m, part).len(),
    };
    Part {
        content_type: content_type_of(part),
        filename: part.attachment_name().map(str::to_string),
        size,
        children,
    }
}

fn joined_bodies(m: &Message<'_>, ids: &[u32], html: bool) -> Option<String> {
    let bodies: Vec<&str> = ids
        .iter()
        .filter_map(|&id| match &m.parts.get(id as usize)?.body {
            PartType::Html(t) if html => Some(t.as_ref()),
            PartType::Text(t) if !html => Some(t.as_ref()),
            _ => None,
        })
        .collect();
    (!bodies.is_empty()).then(|| bodies.join("\n"))
}

fn attachment(m: &Message<'_>, id: u32, part: &MessagePart<'_>) -> Attachment {
    let content_type = content_type_of(part);
    let filename = match part.attachment_name() {
        Some(name) if !name.trim().is_empty() => name.to_string(),
        _ => format!("part{id}{}", extension_for(&content_type)),
    };
    Attachment {
        filename,
        content_type,
        bytes: body_bytes(m, part).into_owned(),
    }
}

/// The body after transfer decoding but before any charset conversion, so that text
/// attachments come back byte for byte.
pub(crate) fn body_bytes<'a>(m: &'a Message<'_>, part: &'a MessagePart<'_>) -> Cow<'a, [u8]> {
    match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => Cow::Borrowed(b.as_ref()),
        PartType::Multipart(_) => Cow::Borrowed(&[]),
        PartType::Text(text) | PartType::Html(text) => {
            let raw = m
                .raw_message
                .get(part.offset_body as usize..part.offset_end as usize);
            let declared_base64 = part
                .content_transfer_encoding()
                .is_some_and(|cte| cte.trim().eq_ignore_ascii_case("base64"));
            if part.is_encoding_problem && declared_base64 {
                // Truncated or polluted base64: recover what it still carries.
                return Cow::Owned(lenient_base64(raw.unwrap_or_default()));
            }
            let decoded = match (raw, part.encoding) {
                (Some(raw), Encoding::None) => Some(Cow::Borrowed(raw)),
                (Some(raw), Encoding::Base64) => base64_decode(raw).map(Cow::Owned),
                (Some(raw), Encoding::QuotedPrintable) => {
                    quoted_printable_decode(raw).map(Cow::Owned)
                }
                (None, _) => None,
            };
            decoded.unwrap_or(Cow::Borrowed(text.as_bytes()))
        }
        PartType::Message(nested) => match part.encoding {
            // Not encoded: the parser kept the outer buffer; the body is our slice of it.
            Encoding::None => Cow::Borrowed(
                m.raw_message
                    .get(part.offset_body as usize..part.offset_end as usize)
                    .unwrap_or_default(),
            ),
            _ => Cow::Borrowed(nested.raw_message.as_ref()),
        },
    }
}

/// A file extension for unnamed parts so that a saved file opens with the right program.
fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "text/plain" => ".txt",
        "text/html" => ".html",
        "message/rfc822" => ".eml",
        "application/pdf" => ".pdf",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        _ => ".bin",
    }
}

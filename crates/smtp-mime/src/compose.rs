//! Compose the messages users send (over `mail-builder`).
//!
//! ```
//! use smtp_mime::{Attachment, MessageBuilder};
//! let msg = MessageBuilder::new()
//!     .from("Zoë <zoe@example.org>".parse().unwrap())
//!     .to("bob@example.net".parse().unwrap())
//!     .subject("Café ☕")
//!     .text("Hello Bob\n")
//!     .html("<p>Hello <b>Bob</b></p>")
//!     .attach(Attachment { filename: "notes.txt".into(), content_type: "text/plain".into(), bytes: b"hi".to_vec() })
//!     .build()
//!     .unwrap();
//! assert!(msg.bytes.starts_with(b"From: "));
//! assert!(!msg.needs_8bitmime && !msg.needs_smtputf8);
//! assert_eq!(msg.size(), msg.bytes.len());
//! ```

use std::path::Path;

use mail_builder::headers::HeaderType;
use mail_builder::headers::address::Address as BuilderAddress;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart, make_boundary};

pub use crate::address::Address;
use crate::content_type::{content_type_for_path, parse_content_type};
use crate::{MimeError, envelope};

/// RFC 5322 §2.1.1: each line of characters MUST be no more than 998 characters,
/// excluding the CRLF.
pub const MAX_LINE_OCTETS: usize = 998;

/// An attachment: a file name, a MIME content type and the bytes.
///
/// The same type is returned by [`inspect`](crate::inspect()) for the attachments it finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name offered to the recipient (RFC 2231-encoded on the wire when non-ASCII).
    pub filename: String,
    /// The MIME type, e.g. `application/pdf`; parameters such as `; charset=utf-8` are allowed.
    pub content_type: String,
    /// The content, carried byte for byte.
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// Reads a file; the content type is guessed from the extension.
    pub fn from_file(path: &Path) -> Result<Self, MimeError> {
        let bytes = std::fs::read(path).map_err(|source| MimeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".to_string());
        Ok(Attachment {
            filename,
            content_type: content_type_for_path(path).to_string(),
            bytes,
        })
    }
}

/// Builds a message step by step; nothing is checked until [`build`](Self::build).
#[derive(Debug, Clone, Default)]
pub struct MessageBuilder {
    from: Option<Address>,
    to: Vec<Address>,
    cc: Vec<Address>,
    bcc: Vec<Address>,
    reply_to: Vec<Address>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
    inline_images: Vec<(String, Attachment)>,
    headers: Vec<(String, String)>,
}

/// Header fields the builder writes itself; a custom header may not replace them.
const BUILDER_FIELDS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
];

impl MessageBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the author (RFC 5322 §3.6.2); required.
    pub fn from(mut self, a: Address) -> Self {
        self.from = Some(a);
        self
    }

    /// Adds a To recipient.
    pub fn to(mut self, a: Address) -> Self {
        self.to.push(a);
        self
    }

    /// Adds a Cc recipient.
    pub fn cc(mut self, a: Address) -> Self {
        self.cc.push(a);
        self
    }

    /// Adds a Bcc recipient. The field is written so that
    /// [`envelope_from_headers`](crate::envelope_from_headers) can collect it and strip it
    /// before transmission, as `smtplib.send_message` does.
    pub fn bcc(mut self, a: Address) -> Self {
        self.bcc.push(a);
        self
    }

    /// Adds a Reply-To address.
    pub fn reply_to(mut self, a: Address) -> Self {
        self.reply_to.push(a);
        self
    }

    /// Sets the subject; encoded per RFC 2047 when it is not plain ASCII. Leading and
    /// trailing spaces and tabs are dropped (readers would drop them anyway).
    pub fn subject(mut self, s: impl Into<String>) -> Self {
        self.subject = Some(s.into().trim_matches([' ', '\t']).to_string());
        self
    }

    /// Sets the plain text body. Line ends become CRLF and the last line gets one
    /// (RFC 2046 §4.1.1 canonical form).
    pub fn text(mut self, body: impl Into<String>) -> Self {
        self.text = Some(body.into());
        self
    }

    /// Sets the HTML alternative (sent as `multipart/alternative` with the text).
    pub fn html(mut self, body: impl Into<String>) -> Self {
        self.html = Some(body.into());
        self
    }

    /// Adds an attachment.
    pub fn attach(mut self, a: Attachment) -> Self {
        self.attachments.push(a);
        self
    }

    /// Adds a file as attachment; the content type comes from the extension.
    pub fn attach_file(self, path: &Path) -> Result<Self, MimeError> {
        Ok(self.attach(Attachment::from_file(path)?))
    }

    /// Adds an inline image that the HTML refers to as `cid:CONTENT_ID` (RFC 2392);
    /// the HTML and its images go into a `multipart/related` (RFC 2387).
    pub fn inline_image(mut self, content_id: impl Into<String>, a: Attachment) -> Self {
        self.inline_images.push((content_id.into(), a));
        self
    }

    /// Adds a custom header field. [`build`](Self::build) rejects CR or LF in the name or
    /// value (header injection), names that are not RFC 5322 §3.6.8 `ftext`, and the fields
    /// the builder writes itself (From, Date, Content-Type, ...).
    /// Leading and trailing spaces and tabs of the value are dropped.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let value = value.into().trim_matches([' ', '\t']).to_string();
        self.headers.push((name.into(), value));
        self
    }

    /// Checks everything and writes the message, with a generated Date and Message-ID.
    pub fn build(self) -> Result<ComposedMessage, MimeError> {
        let from = self
            .from
            .clone()
            .ok_or_else(|| MimeError::Build("a From address is required (RFC 5322 §3.6)".into()))?;
        let all_addresses = || {
            std::iter::once(&from)
                .chain(&self.to)
                .chain(&self.cc)
                .chain(&self.bcc)
                .chain(&self.reply_to)
        };
        for address in all_addresses() {
            address.validate()?;
        }
        let needs_smtputf8 = all_addresses().any(Address::needs_smtputf8);
        if let Some(subject) = &self.subject {
            check_no_line_break("Subject", subject)?;
        }
        for (name, value) in &self.headers {
            check_custom_header(name, value)?;
        }

        let message_id = generate_message_id(&from);
        let mut builder = mail_builder::MessageBuilder::new().from(builder_address(&from));
        for (field, list) in [
            ("To", &self.to),
            ("Cc", &self.cc),
            ("Bcc", &self.bcc),
            ("Reply-To", &self.reply_to),
        ] {
            if !list.is_empty() {
                builder = builder.header(field, builder_list(list));
            }
        }
        if let Some(subject) = &self.subject {
            builder = builder.subject(Text::new(subject.clone()));
        }
        builder = builder
            .message_id(MessageId::new(message_id.clone()))
            .date(Date::now());
        for (name, value) in &self.headers {
            builder = builder.header(name.clone(), custom_value(value));
        }
        let body = self.body_tree()?;
        let mut bytes = builder
            .body(body)
            .write_to_vec()
            .map_err(|e| MimeError::Build(e.to_string()))?;
        if !bytes.ends_with(b"\r\n") {
            bytes.extend_from_slice(b"\r\n");
        }
        check_lines(&bytes)?;
        Ok(ComposedMessage {
            needs_8bitmime: envelope::needs_8bitmime(&bytes),
            needs_smtputf8,
            message_id,
            bytes,
        })
    }

    /// Lays out the MIME tree: mixed[ alternative[ text, related[ html, images ] ], attachments ].
    fn body_tree(&self) -> Result<MimePart<'_>, MimeError> {
        let text = self
            .text
            .as_deref()
            .map(|t| MimePart::new("text/plain", BodyPart::Text(canonical_text(t).into())));
        let mut loose_images = Vec::new();
        let html = match self.html.as_deref() {
            Some(html) => {
                let html = MimePart::new("text/html", BodyPart::Text(canonical_text(html).into()));
                if self.inline_images.is_empty() {
                    Some(html)
                } else {
                    let mut parts = vec![html];
                    for (cid, image) in &self.inline_images {
                        parts.push(inline_part(cid, image)?);
                    }
                    // RFC 2387 §3.1: the type parameter names the root part's type.
                    let related =
                        ContentType::new("multipart/related").attribute("type", "text/html");
                    Some(MimePart::new(related, parts))
                }
            }
            None => {
                for (cid, image) in &self.inline_images {
                    loose_images.push(inline_part(cid, image)?);
                }
                None
            }
        };
        let core = match (text, html) {
            (Some(text), Some(html)) => {
                Some(MimePart::new("multipart/alternative", vec![text, html]))
            }
            (Some(only), None) | (None, Some(only)) => Some(only),
            (None, None) => None,
        };
        let mut extras = loose_images;
        for attachment in &self.attachments {
            let content_type = parse_content_type(&attachment.content_type)?;
            extras.push(
                // Borrowed, not copied: attachments can be large.
                MimePart::new(
                    content_type,
                    BodyPart::Binary(attachment.bytes.as_slice().into()),
                )
                .attachment(attachment.filename.as_str()),
            );
        }
        Ok(match (core, extras.is_empty()) {
            (Some(core), true) => core,
            (core, false) => MimePart::new(
                "multipart/mixed",
                core.into_iter().chain(extras).collect::<Vec<_>>(),
            ),
            (None, true) => MimePart::new("text/plain", BodyPart::Text("".into())),
        })
    }
}

/// A composed message, ready for SMTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposedMessage {
    /// The message: CRLF line ends, no line over 998 octets (RFC 5322 §2.1.1).
    pub bytes: Vec<u8>,
    /// The generated Message-ID, without angle brackets.
    pub message_id: String,
    /// True when the message contains octets >= 0x80, so the server must offer
    /// 8BITMIME (RFC 6152) and MAIL FROM carries `BODY=8BITMIME`.
    pub needs_8bitmime: bool,
    /// True when an address is not ASCII, so the server must offer SMTPUTF8 (RFC 6531).
    pub needs_smtputf8: bool,
}

impl ComposedMessage {
    /// The size in octets, for the RFC 1870 `SIZE=` parameter.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }
}

fn builder_address(a: &Address) -> BuilderAddress<'static> {
    BuilderAddress::new_address(a.name.clone(), a.email.clone())
}

fn builder_list(list: &[Address]) -> HeaderType<'static> {
    BuilderAddress::new_list(list.iter().map(builder_address).collect()).into()
}

/// A Message-ID unique enough (time, counter, per-process entropy) whose right side is the
/// author's domain rather than this host's name (RFC 5322 §3.6.4).
fn generate_message_id(from: &Address) -> String {
    let domain = from
        .email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| {
            d.is_ascii() && !d.is_empty() && d.bytes().all(|b| b.is_ascii_graphic() && b != b'>')
        })
        .unwrap_or("localhost");
    format!("{}@{domain}", make_boundary("."))
}

/// Text in canonical form: every line break is CRLF, and the last line has one.
fn canonical_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32 + 2);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\r\n");
            }
            '\n' => out.push_str("\r\n"),
            c => out.push(c),
        }
    }
    if !out.is_empty() && !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

fn inline_part<'a>(cid: &str, image: &'a Attachment) -> Result<MimePart<'a>, MimeError> {
    let cid = cid.trim().trim_start_matches('<').trim_end_matches('>');
    // RFC 2392 §2: a content-id is an ASCII addr-spec; no spaces, controls or brackets.
    if cid.is_empty()
        || !cid
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    {
        return Err(MimeError::InvalidHeader {
            name: "Content-ID".into(),
            reason: "a content id is printable ASCII without spaces or angle brackets",
        });
    }
    let content_type = parse_content_type(&image.content_type)?;
    let disposition = ContentType::new("inline").attribute("filename", image.filename.as_str());
    Ok(MimePart::new(
        content_type,
        BodyPart::Binary(image.bytes.as_slice().into()),
    )
    .header("Content-Disposition", disposition)
    .cid(cid.to_string()))
}

fn check_no_line_break(name: &str, value: &str) -> Result<(), MimeError> {
    if value.contains(['\r', '\n']) {
        return Err(MimeError::InvalidHeader {
            name: name.to_string(),
            reason: "CR or LF in a header value (header injection)",
        });
    }
    Ok(())
}

fn check_custom_header(name: &str, value: &str) -> Result<(), MimeError> {
    let invalid = |reason| MimeError::InvalidHeader {
        name: name.to_string(),
        reason,
    };
    if name.contains(['\r', '\n']) {
        return Err(invalid("CR or LF in a header name (header injection)"));
    }
    // RFC 5322 §3.6.8: field-name = 1*ftext, printable US-ASCII except ":".
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return Err(invalid(
            "a field name is printable ASCII without ':' or spaces",
        ));
    }
    if name.len() > 76 {
        return Err(invalid(
            "field names longer than 76 characters are not supported",
        ));
    }
    if BUILDER_FIELDS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(invalid("this field is written by the builder"));
    }
    check_no_line_break(name, value)
}

/// Printable ASCII with short words is folded as it is; anything else becomes RFC 2047
/// encoded words, which keeps every line short whatever the value.
fn custom_value(value: &str) -> HeaderType<'static> {
    let plain = value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
        && value.split([' ', '\t']).all(|word| word.len() < 900)
        && !value.contains("=?");
    if plain {
        Raw::new(value.to_string()).into()
    } else {
        Text::new(value.to_string()).into()
    }
}

/// Final guarantee of RFC 5322 §2.1.1 and §2.3: CRLF only, lines of at most 998 octets.
fn check_lines(bytes: &[u8]) -> Result<(), MimeError> {
    let mut line_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' if i > 0 && bytes[i - 1] == b'\r' => {
                if i - 1 - line_start > MAX_LINE_OCTETS {
                    return Err(MimeError::Build(format!(
                        "line of {} octets",
                        i - 1 - line_start
                    )));
                }
                line_start = i + 1;
            }
            b'\n' => return Err(MimeError::Build("bare LF in output".into())),
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                return Err(MimeError::Build("bare CR in output".into()));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_uses_crlf_and_ends_lines() {
        assert_eq!(canonical_text("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd\r\n");
        assert_eq!(canonical_text(""), "");
        assert_eq!(canonical_text("x\r\n"), "x\r\n");
    }

    #[test]
    fn line_check_catches_violations() {
        assert!(check_lines(b"a\r\nb\r\n").is_ok());
        assert!(check_lines(b"a\nb\r\n").is_err());
        assert!(check_lines(b"a\rb\r\n").is_err());
        let long = [vec![b'x'; 999], b"\r\n".to_vec()].concat();
        assert!(check_lines(&long).is_err());
        let ok = [vec![b'x'; 998], b"\r\n".to_vec()].concat();
        assert!(check_lines(&ok).is_ok());
    }
}

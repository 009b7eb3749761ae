//! The JSON shapes of Mailpit's API v1 (PascalCase keys, arrays never
//! null, RFC 3339 times), built from index rows and message files, plus
//! the SMTP envelope and the session id, which Mailpit clients ignore.

use std::collections::BTreeMap;

use md5::Md5;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::inbox::entry::{MailAddress, is_attachment};
use crate::inbox::store::{MessageRow, Page};
use crate::inbox::time::rfc3339;

/// The SMTP envelope: what the client said in MAIL FROM and RCPT TO
/// (where Bcc recipients show).
#[derive(Debug, Serialize)]
pub struct EnvelopeView {
    #[serde(rename = "From")]
    from: String,
    #[serde(rename = "To")]
    to: Vec<String>,
}

/// An item of a listing (`messages[]`).
#[derive(Debug, Serialize)]
pub struct Summary {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "MessageID")]
    message_id: String,
    #[serde(rename = "Read")]
    read: bool,
    #[serde(rename = "From")]
    from: MailAddress,
    #[serde(rename = "To")]
    to: Vec<MailAddress>,
    #[serde(rename = "Cc")]
    cc: Vec<MailAddress>,
    #[serde(rename = "Bcc")]
    bcc: Vec<MailAddress>,
    #[serde(rename = "ReplyTo")]
    reply_to: Vec<MailAddress>,
    #[serde(rename = "Subject")]
    subject: String,
    #[serde(rename = "Created")]
    created: String,
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Tags")]
    tags: Vec<String>,
    #[serde(rename = "Size")]
    size: u64,
    #[serde(rename = "Attachments")]
    attachments: u32,
    #[serde(rename = "Snippet")]
    snippet: String,
    #[serde(rename = "Envelope")]
    envelope: EnvelopeView,
    #[serde(rename = "SessionID")]
    session_id: Option<String>,
}

impl Summary {
    /// The listing item of `row`.
    pub fn new(row: MessageRow) -> Summary {
        let e = row.entry;
        Summary {
            id: e.id,
            message_id: e.message_id,
            read: row.read,
            from: e.from,
            to: e.to,
            cc: e.cc,
            bcc: e.bcc,
            reply_to: e.reply_to,
            subject: e.subject,
            created: rfc3339(e.created_ms),
            username: row.username,
            tags: e.tags,
            size: e.size,
            attachments: e.attachments,
            snippet: e.snippet,
            envelope: EnvelopeView {
                from: e.mail_from,
                to: e.rcpt_to,
            },
            session_id: row.session_id,
        }
    }
}

/// `MessagesSummary`: a page with Mailpit's counters.
#[derive(Debug, Serialize)]
pub struct Listing {
    total: u64,
    unread: u64,
    count: usize,
    messages_count: u64,
    messages_unread: u64,
    start: u64,
    tags: Vec<String>,
    messages: Vec<Summary>,
}

impl Listing {
    /// The listing of `page`, which started at `start`.
    pub fn new(page: Page, start: u64) -> Listing {
        Listing {
            total: page.total,
            unread: page.unread,
            count: page.rows.len(),
            messages_count: page.matched,
            messages_unread: page.matched_unread,
            start,
            tags: page.tags,
            messages: page.rows.into_iter().map(Summary::new).collect(),
        }
    }
}

/// An attachment or inline part.
#[derive(Debug, Serialize)]
pub struct AttachmentView {
    #[serde(rename = "PartID")]
    part_id: String,
    #[serde(rename = "FileName")]
    file_name: String,
    #[serde(rename = "ContentType")]
    content_type: String,
    #[serde(rename = "ContentID")]
    content_id: String,
    #[serde(rename = "Size")]
    size: usize,
    #[serde(rename = "Checksums")]
    checksums: BTreeMap<&'static str, String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl AttachmentView {
    fn new(part: &smtp_mime::LeafPart) -> AttachmentView {
        let content_id = part.content_id.clone().unwrap_or_default();
        AttachmentView {
            part_id: part.part_id.clone(),
            file_name: part.filename.clone().unwrap_or_else(|| content_id.clone()),
            content_type: part.content_type.clone(),
            content_id,
            size: part.bytes.len(),
            checksums: BTreeMap::from([
                ("MD5", hex(&Md5::digest(&part.bytes))),
                ("SHA1", hex(&Sha1::digest(&part.bytes))),
                ("SHA256", hex(&Sha256::digest(&part.bytes))),
            ]),
        }
    }
}

#[derive(Debug, Serialize)]
struct ListUnsubscribe {
    #[serde(rename = "Header")]
    header: String,
    #[serde(rename = "Links")]
    links: Vec<String>,
    #[serde(rename = "Errors")]
    errors: String,
    #[serde(rename = "HeaderPost")]
    header_post: String,
}

/// `Message`: one message in full.
#[derive(Debug, Serialize)]
pub struct MessageView {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "MessageID")]
    message_id: String,
    #[serde(rename = "From")]
    from: MailAddress,
    #[serde(rename = "To")]
    to: Vec<MailAddress>,
    #[serde(rename = "Cc")]
    cc: Vec<MailAddress>,
    #[serde(rename = "Bcc")]
    bcc: Vec<MailAddress>,
    #[serde(rename = "ReplyTo")]
    reply_to: Vec<MailAddress>,
    #[serde(rename = "ReturnPath")]
    return_path: String,
    #[serde(rename = "Subject")]
    subject: String,
    #[serde(rename = "ListUnsubscribe")]
    list_unsubscribe: ListUnsubscribe,
    #[serde(rename = "Date")]
    date: String,
    #[serde(rename = "Created")]
    created: String,
    #[serde(rename = "Tags")]
    tags: Vec<String>,
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Text")]
    text: String,
    #[serde(rename = "HTML")]
    html: String,
    #[serde(rename = "Size")]
    size: u64,
    #[serde(rename = "Inline")]
    inline: Vec<AttachmentView>,
    #[serde(rename = "Attachments")]
    attachments: Vec<AttachmentView>,
    #[serde(rename = "Envelope")]
    envelope: EnvelopeView,
    #[serde(rename = "SessionID")]
    session_id: Option<String>,
}

impl MessageView {
    /// The full message: the row, and the file's bytes for the bodies and parts.
    pub fn new(row: MessageRow, raw: &[u8]) -> MessageView {
        let msg = smtp_mime::inspect(raw);
        let parts = smtp_mime::parts(raw);
        let e = row.entry;
        let header = |name: &str| {
            msg.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let unsubscribe = header("List-Unsubscribe");
        let date = msg
            .date
            .as_deref()
            .and_then(mail_parser::DateTime::parse_rfc822)
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| rfc3339(e.created_ms));
        let (attachments, inline): (Vec<_>, Vec<_>) = parts.iter().partition(|p| is_attachment(p));
        MessageView {
            return_path: if e.mail_from.is_empty() {
                e.from.address.clone()
            } else {
                e.mail_from.clone()
            },
            id: e.id,
            message_id: e.message_id,
            from: e.from,
            to: e.to,
            cc: e.cc,
            bcc: e.bcc,
            reply_to: e.reply_to,
            subject: e.subject,
            list_unsubscribe: ListUnsubscribe {
                links: unsubscribe_links(&unsubscribe),
                header: unsubscribe,
                errors: String::new(),
                header_post: header("List-Unsubscribe-Post"),
            },
            date,
            created: rfc3339(e.created_ms),
            tags: e.tags,
            username: row.username,
            text: msg
                .text
                .clone()
                .unwrap_or_else(|| crate::inbox::entry::body_text(&msg)),
            html: msg.html.clone().unwrap_or_default(),
            size: e.size,
            inline: inline.into_iter().map(AttachmentView::new).collect(),
            attachments: attachments.into_iter().map(AttachmentView::new).collect(),
            envelope: EnvelopeView {
                from: e.mail_from,
                to: e.rcpt_to,
            },
            session_id: row.session_id,
        }
    }
}

/// The `<...>` entries of List-Unsubscribe (RFC 2369): at most one mailto
/// and one http(s) link.
fn unsubscribe_links(header: &str) -> Vec<String> {
    let mut links = Vec::new();
    for part in header.split('<').skip(1) {
        let Some(link) = part.split('>').next() else {
            continue;
        };
        let kind = |l: &String| l.starts_with("mailto:");
        if links.iter().any(|l| kind(l) == link.starts_with("mailto:")) {
            continue;
        }
        links.push(link.trim().to_string());
    }
    links
}

/// The header fields as Mailpit shows them: names in Go's canonical form
/// (`Message-Id`), every value of a name in order, folding removed, no
/// decoding; sorted by name.
pub fn headers(raw: &[u8]) -> BTreeMap<String, Vec<String>> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len());
    let text = String::from_utf8_lossy(&raw[..end]);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((canonical(name.trim()), value.trim().to_string()));
        }
    }
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in fields {
        map.entry(name).or_default().push(value);
    }
    map
}

/// `message-ID` -> `Message-Id` (Go's `CanonicalMIMEHeaderKey`).
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_go_form() {
        let raw =
            b"message-ID: <a@b>\r\nReceived: one\r\n two\r\nReceived: three\r\n\r\nbody: no\r\n";
        let h = headers(raw);
        assert_eq!(h["Message-Id"], ["<a@b>"]);
        assert_eq!(h["Received"], ["one two", "three"]);
        assert!(!h.contains_key("Body"));
    }

    #[test]
    fn unsubscribe_takes_one_link_of_each_kind() {
        assert_eq!(
            unsubscribe_links("<mailto:u@x>, <https://x/u>, <https://y/u>"),
            ["mailto:u@x", "https://x/u"]
        );
    }
}

//! The leaf parts of a message, each with a stable part id, for tools that
//! address one part at a time (an HTTP API serving `/part/{id}`).
//!
//! Part ids number the MIME tree the way enmime (and so Mailpit) does: the
//! root is `0`, the children of the top-level multipart are `1`, `2`, ...,
//! and each deeper level adds `.n` (`1.1`, `1.2`). For
//! `multipart/mixed{ multipart/alternative{text, html}, report.pdf }` the PDF
//! is part `2`. The text and HTML bodies are not listed here (they are
//! [`Inspected::text`](crate::Inspected::text) and
//! [`Inspected::html`](crate::Inspected::html)); everything else is, with its
//! bytes after transfer decoding.
//!
//! ```
//! let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
//! Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf\r\n\
//! Content-Disposition: attachment; filename=r.pdf\r\n\r\n%PDF\r\n--b--\r\n";
//! let parts = smtp_mime::parts(raw);
//! assert_eq!(parts.len(), 1);
//! assert_eq!((parts[0].part_id.as_str(), parts[0].filename.as_deref()), ("2", Some("r.pdf")));
//! assert_eq!(parts[0].bytes, b"%PDF");
//! ```

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::inspect::{body_bytes, content_type_of};

/// Deeper trees are cut short (hostile input nests without end).
const MAX_DEPTH: usize = 64;

/// One leaf part that is not the text or HTML body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafPart {
    /// `0`, `1`, `1.2`... (see the module documentation).
    pub part_id: String,
    /// `type/subtype`, lower case, without parameters.
    pub content_type: String,
    /// The file name (Content-Disposition `filename` or Content-Type `name`).
    pub filename: Option<String>,
    /// The Content-ID without angle brackets.
    pub content_id: Option<String>,
    /// `Content-Disposition: attachment` (RFC 2183 §2.2).
    pub attachment: bool,
    /// `Content-Disposition: inline` (RFC 2183 §2.1).
    pub inline: bool,
    /// The bytes after transfer decoding (base64, quoted-printable).
    pub bytes: Vec<u8>,
}

/// A node of the MIME tree with its part id (numbered as [`parts`]
/// numbers leaves), for a tool that draws the tree and offers each leaf
/// for download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartNode {
    /// `0`, `1`, `1.2`... (see the module documentation).
    pub part_id: String,
    /// `type/subtype`, lower case, without parameters.
    pub content_type: String,
    /// The file name (Content-Disposition `filename` or Content-Type `name`).
    pub filename: Option<String>,
    /// The Content-ID without angle brackets.
    pub content_id: Option<String>,
    /// `Content-Disposition: attachment` (RFC 2183 §2.2).
    pub attachment: bool,
    /// The text or HTML body (not listed by [`parts`]).
    pub body: bool,
    /// Octets after transfer decoding (a multipart: the sum of its children).
    pub size: usize,
    /// The parts of a multipart (an attached message is a leaf).
    pub children: Vec<PartNode>,
}

/// The MIME tree of `message`; `None` when it cannot be parsed. Never panics.
pub fn part_tree(message: &[u8]) -> Option<PartNode> {
    std::panic::catch_unwind(|| {
        let m = MessageParser::new().parse(message)?;
        Some(node(&m, 0, "0", 0))
    })
    .ok()
    .flatten()
}

fn node(m: &mail_parser::Message<'_>, id: u32, part_id: &str, depth: usize) -> PartNode {
    let mut out = PartNode {
        part_id: part_id.to_string(),
        content_type: String::new(),
        filename: None,
        content_id: None,
        attachment: false,
        body: false,
        size: 0,
        children: Vec::new(),
    };
    let Some(part) = m.parts.get(id as usize) else {
        return out;
    };
    out.content_type = content_type_of(part);
    out.filename = part.attachment_name().map(str::to_string);
    out.content_id = part.content_id().map(|cid| {
        cid.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    });
    out.attachment = part
        .content_disposition()
        .is_some_and(|d| d.is_attachment());
    if let PartType::Multipart(children) = &part.body {
        if depth < MAX_DEPTH {
            let children = children.iter().filter(|&&child| child != id);
            for (n, &child) in children.enumerate() {
                let child_id = if depth == 0 {
                    (n + 1).to_string()
                } else {
                    format!("{part_id}.{}", n + 1)
                };
                out.children.push(node(m, child, &child_id, depth + 1));
            }
        }
        out.size = out.children.iter().map(|c| c.size).sum();
        return out;
    }
    let is_body = m.text_body.contains(&id) || m.html_body.contains(&id);
    out.body = is_body && !out.attachment && out.filename.is_none();
    out.size = body_bytes(m, part).len();
    out
}

/// The leaf parts of `message` other than its text and HTML bodies, in
/// tree order. Never panics; a message that cannot be parsed has none.
pub fn parts(message: &[u8]) -> Vec<LeafPart> {
    std::panic::catch_unwind(|| collect(message)).unwrap_or_default()
}

fn collect(message: &[u8]) -> Vec<LeafPart> {
    let Some(m) = MessageParser::new().parse(message) else {
        return Vec::new();
    };
    leaves(&m)
}

/// The leaf parts of a parsed message.
pub(crate) fn leaves(m: &mail_parser::Message<'_>) -> Vec<LeafPart> {
    let mut out = Vec::new();
    walk(m, 0, "0", 0, &mut out);
    out
}

fn walk(
    m: &mail_parser::Message<'_>,
    id: u32,
    part_id: &str,
    depth: usize,
    out: &mut Vec<LeafPart>,
) {
    let Some(part) = m.parts.get(id as usize) else {
        return;
    };
    if let PartType::Multipart(children) = &part.body {
        if depth >= MAX_DEPTH {
            return;
        }
        let children = children.iter().filter(|&&child| child != id);
        for (n, &child) in children.enumerate() {
            let child_id = if depth == 0 {
                (n + 1).to_string()
            } else {
                format!("{part_id}.{}", n + 1)
            };
            walk(m, child, &child_id, depth + 1, out);
        }
        return;
    }
    let disposition = part.content_disposition();
    let attachment = disposition.is_some_and(|d| d.is_attachment());
    let is_body = m.text_body.contains(&id) || m.html_body.contains(&id);
    if is_body && !attachment && part.attachment_name().is_none() {
        return;
    }
    out.push(LeafPart {
        part_id: part_id.to_string(),
        content_type: content_type_of(part),
        filename: part.attachment_name().map(str::to_string),
        content_id: part.content_id().map(|cid| {
            cid.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        }),
        attachment,
        inline: disposition.is_some_and(|d| d.is_inline()),
        bytes: body_bytes(m, part).into_owned(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_parts_are_numbered_like_enmime() {
        let raw = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\
Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\n\
Content-Type: text/html\r\n\r\n<img src=cid:logo>\r\n--r\r\n\
Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw==\r\n--r--\r\n--o\r\nContent-Type: text/csv; name=a.csv\r\n\
Content-Disposition: attachment; filename=a.csv\r\n\r\nx,y\r\n--o--\r\n";
        let parts = parts(raw);
        let ids: Vec<&str> = parts.iter().map(|p| p.part_id.as_str()).collect();
        assert_eq!(ids, ["1.2", "2"]);
        assert_eq!(parts[0].content_id.as_deref(), Some("logo"));
        assert_eq!(parts[0].bytes, [0x89, b'P', b'N', b'G']);
        assert!(parts[1].attachment && !parts[0].attachment);
        assert_eq!(parts[1].bytes, b"x,y");
    }

    #[test]
    fn the_tree_numbers_parts_as_the_leaf_list_does() {
        let raw = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\
Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\n\
Content-Type: text/html\r\n\r\n<img src=cid:logo>\r\n--r\r\n\
Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw==\r\n--r--\r\n--o\r\nContent-Type: text/csv; name=a.csv\r\n\
Content-Disposition: attachment; filename=a.csv\r\n\r\nx,y\r\n--o--\r\n";
        let tree = part_tree(raw).unwrap();
        assert_eq!(tree.content_type, "multipart/mixed");
        let related = &tree.children[0];
        assert_eq!((related.part_id.as_str(), related.children.len()), ("1", 2));
        let (html, png) = (&related.children[0], &related.children[1]);
        assert!(html.body && !png.body);
        assert_eq!(
            (png.part_id.as_str(), png.content_id.as_deref(), png.size),
            ("1.2", Some("logo"), 4)
        );
        let csv = &tree.children[1];
        assert_eq!((csv.part_id.as_str(), csv.attachment), ("2", true));
        assert_eq!(tree.size, html.size + 4 + 3);
        let leaves: Vec<String> = parts(raw).into_iter().map(|p| p.part_id).collect();
        assert_eq!(leaves, ["1.2", "2"]);
    }

    #[test]
    fn garbage_is_at_most_its_root() {
        assert!(parts(b"").is_empty());
        let garbage = parts(b"\xff\xfe no headers at all");
        assert!(garbage.iter().all(|p| p.part_id == "0"), "{garbage:?}");
    }
}

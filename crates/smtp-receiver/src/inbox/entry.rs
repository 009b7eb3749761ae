//! What the index holds about one stored message, read from its file: the
//! header summary, the SMTP envelope, the search text, the tags.
//!
//! The file is the truth: an [`Entry`] is made from the Maildir file alone
//! (the envelope from the trace lines the receiver wrote on top of it:
//! `Return-Path:` and `X-Original-To:`), so the index can be rebuilt from
//! the Maildir at any time and gives the same listing.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use smtp_mime::{Address, Inspected};

/// Snippet length in characters, as Mailpit (then `...`).
const SNIPPET_CHARS: usize = 200;
/// The search text kept per message: enough for any body a test looks
/// for, bounded so that 100,000 messages stay a small index.
const SEARCH_TEXT_BYTES: usize = 16 * 1024;
/// Whether a Maildir file name carries the "seen" flag: its info is
/// `:2,` followed by flags in ASCII order, `S` among them
/// (cr.yp.to/proto/maildir.html).
pub fn seen_in_file_name(name: &str) -> bool {
    name.rsplit_once(":2,")
        .is_some_and(|(_, flags)| flags.contains('S'))
}

/// Tags are cut to this many characters (Mailpit's limit).
const TAG_CHARS: usize = 100;

/// A mailbox as Mailpit's API shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MailAddress {
    /// The display name, `""` when absent.
    #[serde(rename = "Name")]
    pub name: String,
    /// The address, `""` when absent.
    #[serde(rename = "Address")]
    pub address: String,
}

impl From<&Address> for MailAddress {
    fn from(a: &Address) -> MailAddress {
        MailAddress {
            name: a.name.clone().unwrap_or_default(),
            address: a.email.clone(),
        }
    }
}

/// One message as the index stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The API id: the queue id that starts the file name.
    pub id: String,
    /// The file, relative to the Maildir root (`new/<name>`).
    pub path: String,
    /// When it arrived, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Octets of the stored file.
    pub size: u64,
    /// `Message-ID` without angle brackets.
    pub message_id: String,
    /// Subject, decoded.
    pub subject: String,
    /// First From mailbox.
    pub from: MailAddress,
    /// To, Cc, Bcc (header Bcc plus envelope recipients named in no
    /// header, as Mailpit shows hidden recipients), Reply-To.
    pub to: Vec<MailAddress>,
    /// Cc.
    pub cc: Vec<MailAddress>,
    /// Bcc.
    pub bcc: Vec<MailAddress>,
    /// Reply-To.
    pub reply_to: Vec<MailAddress>,
    /// The envelope: MAIL FROM (`""` for the null reverse-path).
    pub mail_from: String,
    /// The envelope: every RCPT TO.
    pub rcpt_to: Vec<String>,
    /// Attachment parts.
    pub attachments: u32,
    /// Inline parts.
    pub inline: u32,
    /// The first words of the text.
    pub snippet: String,
    /// Lower-case text that bare search words match.
    pub search_text: String,
    /// Tags from `X-Tags:` and plus-addressing, sorted.
    pub tags: Vec<String>,
    /// A mail reader marked it seen: the Maildir flag `S` in the file
    /// name's info (`:2,S`), so a rebuilt index keeps what was read there.
    pub seen: bool,
}

impl Entry {
    /// Reads `raw`, the file `path` (relative to the Maildir root) whose
    /// name gives the id. `modified` is the file's time, used when the name
    /// carries none.
    pub fn read(path: &str, raw: &[u8], modified: SystemTime) -> Entry {
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = id_from_file_name(&name);
        let created_ms = created_from_id(&id).unwrap_or_else(|| millis(modified));
        let (msg, parts) = smtp_mime::inspect_with_parts(raw);
        let header = |name: &str| {
            msg.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let mail_from = msg.return_path.clone().unwrap_or_default();
        let rcpt_to: Vec<String> = header("X-Original-To")
            .map(|v| {
                v.split(',')
                    .map(|a| a.trim().trim_start_matches('<').trim_end_matches('>'))
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let to: Vec<MailAddress> = msg.to.iter().map(MailAddress::from).collect();
        let cc: Vec<MailAddress> = msg.cc.iter().map(MailAddress::from).collect();
        let mut bcc: Vec<MailAddress> = msg.bcc.iter().map(MailAddress::from).collect();
        for rcpt in &rcpt_to {
            let named =
                |list: &[MailAddress]| list.iter().any(|a| a.address.eq_ignore_ascii_case(rcpt));
            if !named(&to) && !named(&cc) && !named(&bcc) {
                bcc.push(MailAddress {
                    name: String::new(),
                    address: rcpt.clone(),
                });
            }
        }
        let attachments = parts.iter().filter(|p| is_attachment(p)).count() as u32;
        let inline = parts.len() as u32 - attachments;
        let mut tags = header_tags(header("X-Tags"));
        for address in msg
            .from
            .iter()
            .chain(&msg.to)
            .chain(&msg.cc)
            .chain(&msg.bcc)
        {
            tags.extend(plus_tags(&address.email));
        }
        tags.sort_by_key(|t| t.to_lowercase());
        tags.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        let file_names: Vec<&str> = parts.iter().filter_map(|p| p.filename.as_deref()).collect();
        let body = body_text(&msg);
        Entry {
            id,
            path: path.to_string(),
            created_ms,
            size: raw.len() as u64,
            message_id: msg.message_id.clone().unwrap_or_default(),
            subject: msg.subject.clone().unwrap_or_default(),
            from: msg.from.first().map(MailAddress::from).unwrap_or_default(),
            search_text: search_text(&msg, &body, &file_names),
            snippet: snippet(&body),
            to,
            cc,
            bcc,
            reply_to: msg.reply_to.iter().map(MailAddress::from).collect(),
            mail_from,
            rcpt_to,
            attachments,
            inline,
            tags,
            seen: seen_in_file_name(&name),
        }
    }
}

/// Mailpit's split between `Attachments` and `Inline`: a part marked
/// `attachment`, or one with a file name and neither an inline
/// disposition nor a Content-ID, is an attachment; the rest (inline
/// images, related parts) are inline.
pub fn is_attachment(part: &smtp_mime::LeafPart) -> bool {
    part.attachment || (!part.inline && part.content_id.is_none())
}

/// The id of a Maildir file: the receiver's queue id (the name up to the
/// first `.`, e.g. `1751371200M000042P4242Q7` or `..._1` when a name was
/// taken). A file not written by this receiver keeps its whole unique part
/// (up to the `:2,` flags), with characters unsafe in a URL replaced.
pub fn id_from_file_name(name: &str) -> String {
    let unique = name.split(':').next().unwrap_or(name);
    let stem = unique.split('.').next().unwrap_or(unique);
    let ours = created_from_id(stem).is_some();
    let id = if ours { stem } else { unique };
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The arrival time in a queue id `<secs>M<micros>P<pid>Q<seq>`, in ms.
fn created_from_id(id: &str) -> Option<i64> {
    let (secs, rest) = id.split_once('M')?;
    let micros = rest.split('P').next()?;
    if !rest.contains('Q') {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let micros: i64 = micros.parse().ok()?;
    Some(secs * 1000 + micros / 1000)
}

/// Milliseconds since the Unix epoch.
pub fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as i64)
}

/// `X-Tags: a, b` (Mailpit's convention).
fn header_tags(value: Option<&str>) -> Vec<String> {
    value
        .map(|v| v.split(',').filter_map(clean_tag).collect())
        .unwrap_or_default()
}

/// Plus-addressing: `bob+signup@example.com` is tagged `signup`
/// (`a+b+c@` gives `b` and `c`).
fn plus_tags(address: &str) -> Vec<String> {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    local.split('+').skip(1).filter_map(clean_tag).collect()
}

/// Mailpit's tag rule: characters other than `[A-Za-z0-9 _.@-]` become
/// spaces, spaces collapse, at most 100 characters; empty is no tag.
pub fn clean_tag(tag: &str) -> Option<String> {
    let mapped: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " _.@-".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    let cleaned: String = mapped
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(TAG_CHARS)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Mailpit's search cleaning: `< > " , ; ( )` and control whitespace become
/// spaces, runs of spaces collapse, lower case.
pub fn clean_search(text: &str) -> String {
    // One pass, one allocation: this runs over every stored message's
    // text on the delivery path.
    let mut cleaned = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if matches!(c, '<' | '>' | '"' | ',' | ';' | '(' | ')') || c.is_whitespace() {
            space = !cleaned.is_empty();
            continue;
        }
        if space {
            cleaned.push(' ');
            space = false;
        }
        if c.is_ascii() {
            cleaned.push(c.to_ascii_lowercase());
        } else {
            cleaned.extend(c.to_lowercase());
        }
    }
    cleaned
}

/// The body as plain text: the HTML with its tags removed when there is
/// HTML, else the text body.
pub fn body_text(msg: &Inspected) -> String {
    match (&msg.html, &msg.text) {
        (Some(html), _) => strip_tags(html),
        (None, Some(text)) => text.clone(),
        (None, None) => String::new(),
    }
}

/// HTML to text, roughly: tags, `<style>` and `<script>` content dropped.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let after = &rest[open..];
        let lower_head: String = after.chars().take(8).collect::<String>().to_lowercase();
        let skip_to = if lower_head.starts_with("<style") {
            "</style"
        } else if lower_head.starts_with("<script") {
            "</script"
        } else {
            ""
        };
        let after = if skip_to.is_empty() {
            after
        } else {
            let lower = after.to_lowercase();
            lower.find(skip_to).map_or("", |at| &after[at..])
        };
        rest = after.find('>').map_or("", |close| &after[close + 1..]);
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn snippet(body: &str) -> String {
    // The words joined by single spaces, only as far as the snippet needs:
    // not the whole body of every stored message.
    let mut joined = String::with_capacity(SNIPPET_CHARS + 16);
    let mut chars = 0;
    for word in body.split_whitespace() {
        if chars > SNIPPET_CHARS {
            break;
        }
        if !joined.is_empty() {
            joined.push(' ');
            chars += 1;
        }
        joined.push_str(word);
        chars += word.chars().count();
    }
    if chars > SNIPPET_CHARS {
        let cut: String = joined.chars().take(SNIPPET_CHARS).collect();
        format!("{}...", cut.trim_end())
    } else {
        joined
    }
}

fn search_text(msg: &Inspected, body: &str, file_names: &[&str]) -> String {
    let mut text = String::new();
    for name in [
        "From",
        "Subject",
        "To",
        "Cc",
        "Bcc",
        "Reply-To",
        "Return-Path",
    ] {
        for (_, value) in msg
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            text.push_str(value);
            text.push(' ');
        }
    }
    text.push_str(body);
    for name in file_names {
        text.push(' ');
        text.push_str(name);
    }
    let mut cleaned = clean_search(&text);
    if cleaned.len() > SEARCH_TEXT_BYTES {
        let mut cut = SEARCH_TEXT_BYTES;
        while !cleaned.is_char_boundary(cut) {
            cut -= 1;
        }
        cleaned.truncate(cut);
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &[u8] = b"Return-Path: <alice@example.com>\r\n\
X-Original-To: bob@example.org, hidden@example.org\r\n\
Received: from c by s with ESMTP id 1751371200M000042P4242Q7\r\n\
From: Alice <alice+news@example.com>\r\nTo: Bob <bob@example.org>\r\n\
Subject: Hello there\r\nMessage-ID: <m1@example.com>\r\nX-Tags: Signup, a/b\r\n\r\n\
Some <b>body</b> text\r\n";

    #[test]
    fn an_entry_from_a_file_of_ours() {
        let e = Entry::read("new/1751371200M000042P4242Q7.mx", RAW, UNIX_EPOCH);
        assert_eq!(e.id, "1751371200M000042P4242Q7");
        assert_eq!(e.created_ms, 1_751_371_200_000);
        assert_eq!(e.mail_from, "alice@example.com");
        assert_eq!(e.rcpt_to, ["bob@example.org", "hidden@example.org"]);
        assert_eq!(e.bcc.len(), 1);
        assert_eq!(e.bcc[0].address, "hidden@example.org");
        assert_eq!(e.from.name, "Alice");
        assert_eq!(e.subject, "Hello there");
        assert_eq!(e.message_id, "m1@example.com");
        assert_eq!(e.tags, ["a b", "news", "Signup"]);
        assert!(e.search_text.contains("hello there"));
        assert_eq!(e.snippet, "Some <b>body</b> text");
    }

    #[test]
    fn the_snippet_is_the_first_words_joined_by_single_spaces() {
        // What it stands for: every word joined, then cut.
        let whole = |body: &str| {
            let joined = body.split_whitespace().collect::<Vec<_>>().join(" ");
            if joined.chars().count() > SNIPPET_CHARS {
                let cut: String = joined.chars().take(SNIPPET_CHARS).collect();
                format!("{}...", cut.trim_end())
            } else {
                joined
            }
        };
        let long = "Ärger  über\tdie\r\n Straße ".repeat(40);
        let exact = "x".repeat(SNIPPET_CHARS);
        let one_more = format!("{} y", "x".repeat(SNIPPET_CHARS - 1));
        for body in ["", "  ", "one", " a  b ", &long, &exact, &one_more] {
            assert_eq!(snippet(body), whole(body), "{body:?}");
        }
    }

    #[test]
    fn search_text_is_cleaned_as_mailpit_does() {
        assert_eq!(
            clean_search("  \"Alice\" <Alice@Example.TEST>,\t(Bob);\r\nÄrger  "),
            "alice alice@example.test bob ärger"
        );
        assert_eq!(clean_search("<>;"), "");
        assert_eq!(clean_search("x"), "x");
    }

    #[test]
    fn the_seen_flag_is_read_from_the_maildir_info() {
        assert!(seen_in_file_name("1234.M5P6Q7.host:2,S"));
        assert!(seen_in_file_name("1234.M5P6Q7.host:2,FRS"));
        assert!(!seen_in_file_name("1234.M5P6Q7.host:2,F"));
        assert!(!seen_in_file_name("1234.M5P6Q7.host"));
        // An `S` in the unique part is not a flag.
        assert!(!seen_in_file_name("1234.SSS.host"));
    }

    #[test]
    fn foreign_file_names_keep_their_unique_part() {
        assert_eq!(
            id_from_file_name("1234.M5P6Q7.host:2,S"),
            "1234-M5P6Q7-host"
        );
        assert_eq!(
            id_from_file_name("17M000001P2Q3_1.mx.example"),
            "17M000001P2Q3_1"
        );
    }

    #[test]
    fn html_is_searched_as_text() {
        assert_eq!(
            clean_search(&strip_tags(
                "<style>p{}</style><p>Hi &amp; bye</p><script>x()</script>"
            )),
            "hi & bye"
        );
    }
}

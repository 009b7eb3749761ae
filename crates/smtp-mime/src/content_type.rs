//! Content types: guessing them from file extensions and checking user-supplied ones.

use mail_builder::headers::content_type::ContentType;

use crate::MimeError;

/// Guesses a MIME type from a file name's extension (case-insensitive);
/// `application/octet-stream` (RFC 2046 §4.5.1) when unknown.
///
/// ```
/// assert_eq!(smtp_mime::content_type_for_path("Report.PDF".as_ref()), "application/pdf");
/// assert_eq!(smtp_mime::content_type_for_path("data.unknown".as_ref()), "application/octet-stream");
/// ```
pub fn content_type_for_path(path: &std::path::Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "css" => "text/css",
        "md" => "text/markdown",
        "ics" => "text/calendar",
        "vcf" => "text/vcard",
        "xml" => "application/xml",
        "json" => "application/json",
        "js" => "text/javascript",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "rtf" => "application/rtf",
        "eml" => "message/rfc822",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "bmp" => "image/bmp",
        "ico" => "image/vnd.microsoft.icon",
        "tif" | "tiff" => "image/tiff",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// RFC 2045 §5.1: `token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// Parses `type/subtype; name=value; ...` into a header value for mail-builder, refusing
/// anything that is not RFC 2045 §5.1 syntax (which also rules out CR/LF injection).
pub(crate) fn parse_content_type(value: &str) -> Result<ContentType<'static>, MimeError> {
    let bad = |reason| MimeError::InvalidHeader {
        name: format!("Content-Type: {value}"),
        reason,
    };
    let mut pieces = value.split(';');
    let media = pieces.next().unwrap_or_default().trim();
    let (kind, sub) = media.split_once('/').ok_or(bad("expected type/subtype"))?;
    if !is_token(kind) || !is_token(sub) {
        return Err(bad("type and subtype must be RFC 2045 tokens"));
    }
    let mut content_type = ContentType::new(media.to_ascii_lowercase());
    for piece in pieces {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let (name, raw) = piece
            .split_once('=')
            .ok_or(bad("parameters are name=value"))?;
        let name = name.trim();
        let raw = raw.trim();
        let unquoted = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw);
        if !is_token(name) || unquoted.chars().any(char::is_control) {
            return Err(bad("bad parameter"));
        }
        // The builder chooses multipart boundaries itself.
        if name.eq_ignore_ascii_case("boundary") {
            return Err(bad("the boundary is chosen by the builder"));
        }
        content_type = content_type.attribute(name.to_ascii_lowercase(), unquoted.to_string());
    }
    Ok(content_type)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_types_with_parameters() {
        let ct = parse_content_type("Text/Plain; charset=\"iso-8859-1\"; format=flowed").unwrap();
        assert_eq!(ct.c_type, "text/plain");
        assert_eq!(ct.attributes.len(), 2);
    }

    #[test]
    fn rejects_injection_and_nonsense() {
        for bad in [
            "text",
            "text/plain\r\nBcc: x@y",
            "text/ plain",
            "/plain",
            "text/plain; charset",
            "text/plain; a=\"b\r\nc\"",
            "multipart/mixed; boundary=x",
        ] {
            assert!(parse_content_type(bad).is_err(), "{bad:?}");
        }
    }
}

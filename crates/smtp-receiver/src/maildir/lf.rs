//! Maildir files hold LF line ends (see the [module](super) documentation):
//! the CRLFs of the SMTP text are made LF while the chunks stream into the
//! delivery's write buffer.

/// Appends `bytes` to `out` with every CRLF made LF; `held_cr` says the
/// previous piece ended with a CR not yet written. Returns whether this
/// piece ends with such a CR. Copies runs between CRLFs, found with memchr.
pub(super) fn push_with_lf_line_ends(out: &mut Vec<u8>, bytes: &[u8], held_cr: bool) -> bool {
    match bytes.first() {
        None => return held_cr,
        Some(&first) if held_cr && first != b'\n' => out.push(b'\r'),
        Some(_) => {}
    }
    let mut from = 0;
    for cr in memchr::memchr_iter(b'\r', bytes) {
        match bytes.get(cr + 1) {
            Some(b'\n') => {
                out.extend_from_slice(&bytes[from..cr]);
                from = cr + 1;
            }
            Some(_) => {}
            None => {
                out.extend_from_slice(&bytes[from..cr]);
                return true;
            }
        }
    }
    out.extend_from_slice(&bytes[from..]);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRLF becomes LF wherever the chunks are cut; any other CR stays.
    #[test]
    fn line_ends_become_lf_across_chunks() {
        let text = b"a\r\nb\rc\r\n\r\nd\r\r\ne\r";
        let want = b"a\nb\rc\n\nd\r\ne\r";
        for cut in 0..=text.len() {
            for second in cut..=text.len() {
                let mut out = Vec::new();
                let mut held = false;
                for piece in [&text[..cut], &text[cut..second], &text[second..]] {
                    held = push_with_lf_line_ends(&mut out, piece, held);
                }
                if held {
                    out.push(b'\r');
                }
                assert_eq!(out, want, "cut at {cut} and {second}");
            }
        }
    }
}

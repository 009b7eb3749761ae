//! EHLO capabilities (RFC 5321 §4.1.1.1), typed in both directions: parse
//! them from an EHLO reply (sender) and build the EHLO reply (receiver).
//!
//! ```text
//! ehlo-ok-rsp = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
//!             / ( "250-" Domain [ SP ehlo-greet ] CRLF
//!                 *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF )
//! ehlo-line   = ehlo-keyword *( SP ehlo-param )
//! ```
//!
//! ```
//! use smtp_wire::capability::{Capabilities, Capability};
//! use smtp_wire::reply::Reply;
//! let reply = Reply::new(250, "mx.example.com Hello\nPIPELINING\nSIZE 10240000\nAUTH plain LOGIN\n");
//! let caps = Capabilities::from_ehlo_reply(&reply);
//! assert_eq!(caps.domain, "mx.example.com Hello");
//! assert!(caps.has("pipelining"));
//! assert_eq!(caps.size_limit(), Some(10_240_000));
//! assert_eq!(caps.auth_mechanisms(), ["PLAIN", "LOGIN"]);
//! assert_eq!(caps.to_reply(), Reply::new(250, "mx.example.com Hello\nPIPELINING\nSIZE 10240000\nAUTH PLAIN LOGIN"));
//! ```

use std::fmt::{self, Write as _};

use crate::reply::Reply;

/// One EHLO keyword with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// RFC 2920: commands may be sent in groups without waiting for each reply.
    Pipelining,
    /// RFC 1870: the maximum message size; `None` when SIZE has no number,
    /// `Some(0)` means "no fixed limit" (RFC 1870 §4).
    Size(Option<u64>),
    /// RFC 6152: 8-bit MIME bodies (`BODY=8BITMIME`).
    EightBitMime,
    /// RFC 6531: UTF-8 addresses and headers.
    SmtpUtf8,
    /// RFC 3030: the BDAT command.
    Chunking,
    /// RFC 3030: binary bodies (`BODY=BINARYMIME`, needs CHUNKING).
    BinaryMime,
    /// RFC 3207: STARTTLS.
    StartTls,
    /// RFC 2034: replies carry RFC 3463 enhanced status codes.
    EnhancedStatusCodes,
    /// RFC 3461: delivery status notifications (NOTIFY, RET, ENVID, ORCPT).
    Dsn,
    /// RFC 5321 §4.1.1.8: the HELP command.
    Help,
    /// RFC 4954: AUTH with the offered SASL mechanisms, upper-cased.
    Auth(Vec<String>),
    /// Any other keyword (or a known one with unexpected parameters), verbatim.
    Other {
        /// The keyword as written.
        keyword: String,
        /// The space-separated parameters as written.
        params: Vec<String>,
    },
}

impl Capability {
    /// Parse one EHLO line (`ehlo-keyword *( SP ehlo-param )`). Never fails:
    /// anything unrecognised is kept as [`Capability::Other`]. Keywords are
    /// case-insensitive (RFC 5321 §2.4).
    ///
    /// ```
    /// use smtp_wire::capability::Capability;
    /// assert_eq!(Capability::parse("size 1000"), Capability::Size(Some(1000)));
    /// assert_eq!(Capability::parse("AUTH cram-md5"), Capability::Auth(vec!["CRAM-MD5".into()]));
    /// assert_eq!(Capability::parse("XFOO a b").to_string(), "XFOO a b");
    /// ```
    pub fn parse(line: &str) -> Capability {
        // RFC 5321 §4.1.1.1: SP separates keyword and parameters; be lenient
        // about runs of whitespace.
        // The keyword is found by position and the parameters are only
        // split where they are read: most lines have none.
        let line = line.trim_ascii();
        let (keyword, params) = match line.bytes().position(|b| b.is_ascii_whitespace()) {
            Some(end) => (&line[..end], line[end..].trim_ascii_start()),
            None => (line, ""),
        };
        let no_params = params.is_empty();
        let params = params.split_ascii_whitespace();
        // RFC 5321 §2.4: keywords are case-insensitive. Upper-case a copy on
        // the stack (no allocation per line); a keyword longer than the
        // longest known one, ENHANCEDSTATUSCODES, is none of them.
        let mut buffer = [0u8; 19];
        let upper: &[u8] = match buffer.get_mut(..keyword.len()) {
            Some(upper) => {
                upper.copy_from_slice(keyword.as_bytes());
                upper.make_ascii_uppercase();
                upper
            }
            None => b"",
        };
        let bare = |cap: Capability| no_params.then_some(cap);
        let typed = match upper {
            b"PIPELINING" => bare(Capability::Pipelining),
            // RFC 1870 §4: "SIZE" [ SP number ], number = 1*20DIGIT.
            b"SIZE" => {
                let mut numbers = params.clone();
                match (numbers.next(), numbers.next()) {
                    (None, _) => Some(Capability::Size(None)),
                    (Some(n), None) if n.bytes().all(|b| b.is_ascii_digit()) => {
                        n.parse().ok().map(|n| Capability::Size(Some(n)))
                    }
                    _ => None,
                }
            }
            b"8BITMIME" => bare(Capability::EightBitMime),
            b"SMTPUTF8" => bare(Capability::SmtpUtf8),
            b"CHUNKING" => bare(Capability::Chunking),
            b"BINARYMIME" => bare(Capability::BinaryMime),
            b"STARTTLS" => bare(Capability::StartTls),
            b"ENHANCEDSTATUSCODES" => bare(Capability::EnhancedStatusCodes),
            b"DSN" => bare(Capability::Dsn),
            b"HELP" => bare(Capability::Help),
            // RFC 4954 §3: "AUTH" SP mechanism *( SP mechanism ); SASL
            // mechanism names are upper-case (RFC 4422 §3.1).
            b"AUTH" => Some(Capability::Auth(
                params.clone().map(|m| m.to_ascii_uppercase()).collect(),
            )),
            _ => None,
        };
        typed.unwrap_or_else(|| Capability::Other {
            keyword: keyword.to_string(),
            params: params.map(|p| p.to_string()).collect(),
        })
    }

    /// The keyword: `"SIZE"`, `"AUTH"`, ... or an [`Capability::Other`] keyword as written.
    pub fn keyword(&self) -> &str {
        match self {
            Capability::Pipelining => "PIPELINING",
            Capability::Size(_) => "SIZE",
            Capability::EightBitMime => "8BITMIME",
            Capability::SmtpUtf8 => "SMTPUTF8",
            Capability::Chunking => "CHUNKING",
            Capability::BinaryMime => "BINARYMIME",
            Capability::StartTls => "STARTTLS",
            Capability::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
            Capability::Dsn => "DSN",
            Capability::Help => "HELP",
            Capability::Auth(_) => "AUTH",
            Capability::Other { keyword, .. } => keyword,
        }
    }
}

/// The EHLO line: `SIZE 10240000`, `AUTH PLAIN LOGIN`, `PIPELINING`.
impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())?;
        match self {
            Capability::Size(Some(n)) => write!(f, " {n}"),
            Capability::Auth(mechanisms) => mechanisms.iter().try_for_each(|m| write!(f, " {m}")),
            Capability::Other { params, .. } => params.iter().try_for_each(|p| write!(f, " {p}")),
            _ => Ok(()),
        }
    }
}

/// Everything an EHLO reply says: the first line (domain and greeting) and
/// the capabilities on the following lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// The first line of the EHLO reply: the server's domain, optionally
    /// followed by a greeting (RFC 5321 §4.1.1.1).
    pub domain: String,
    /// The capabilities, in the order advertised.
    pub list: Vec<Capability>,
}

impl Capabilities {
    /// Read the capabilities from an EHLO reply: its first line is the
    /// domain and greeting, every further non-blank line a capability.
    /// Blank lines are skipped (Postfix's smtp-sink ends its EHLO reply with
    /// a bare `250 `).
    pub fn from_ehlo_reply(reply: &Reply) -> Capabilities {
        // Sized once: one capability per line after the first, or fewer.
        Capabilities::read(reply.lines(), reply.line_count() - 1)
    }

    /// Like [`Capabilities::from_ehlo_reply`], from the text lines of an
    /// EHLO reply as they were written (a transcript, say), without making
    /// a [`Reply`] of them first: nothing in them is changed before it is
    /// read.
    ///
    /// ```
    /// use smtp_wire::capability::Capabilities;
    /// let caps = Capabilities::from_ehlo_lines(["mx.example.com", "SIZE 1000", ""]);
    /// assert_eq!((caps.domain.as_str(), caps.size_limit()), ("mx.example.com", Some(1000)));
    /// assert_eq!(caps.list.len(), 1);
    /// ```
    pub fn from_ehlo_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Capabilities {
        let lines = lines.into_iter();
        let capacity = lines.size_hint().0.saturating_sub(1);
        Capabilities::read(lines, capacity)
    }

    fn read<'a>(mut lines: impl Iterator<Item = &'a str>, capacity: usize) -> Capabilities {
        let domain = lines.next().unwrap_or_default().to_string();
        let mut list = Vec::with_capacity(capacity);
        for line in lines {
            if !line.trim().is_empty() {
                list.push(Capability::parse(line));
            }
        }
        Capabilities { domain, list }
    }

    /// The receiver's EHLO reply: `250-domain`, then one line per
    /// capability. No enhanced code: RFC 2034 §4 exempts the EHLO reply.
    pub fn to_reply(&self) -> Reply {
        let mut text = self.domain.clone();
        for capability in &self.list {
            // Writing to a String cannot fail.
            let _ = write!(text, "\n{capability}");
        }
        Reply::from_lines(250, [text])
    }

    /// Is `keyword` advertised? Case-insensitive (RFC 5321 §2.4).
    pub fn has(&self, keyword: &str) -> bool {
        self.list
            .iter()
            .any(|c| c.keyword().eq_ignore_ascii_case(keyword))
    }

    /// The advertised size limit: `Some(n)` for `SIZE n` with `n > 0`;
    /// `None` when SIZE is absent, has no number, or is 0 (RFC 1870 §4:
    /// no fixed limit).
    pub fn size_limit(&self) -> Option<u64> {
        self.list.iter().find_map(|c| match c {
            Capability::Size(Some(n)) if *n > 0 => Some(*n),
            _ => None,
        })
    }

    /// The SASL mechanisms offered, upper-cased, without duplicates; empty
    /// when AUTH is not offered. The pre-standard `AUTH=PLAIN LOGIN` form
    /// (sent by old servers next to `AUTH`) is read too.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        let mut mechanisms: Vec<String> = Vec::new();
        for c in &self.list {
            let found: Vec<String> = match c {
                Capability::Auth(m) => m.clone(),
                Capability::Other { keyword, params } => {
                    // Byte-wise check: the keyword comes from the network and
                    // may hold multi-byte characters; "AUTH=" is ASCII, so
                    // byte 5 is then a character boundary.
                    let Some(first) = keyword
                        .as_bytes()
                        .get(..5)
                        .filter(|p| p.eq_ignore_ascii_case(b"AUTH="))
                        .and_then(|_| keyword.get(5..))
                    else {
                        continue;
                    };
                    std::iter::once(first)
                        .filter(|m| !m.is_empty())
                        .chain(params.iter().map(String::as_str))
                        .map(str::to_ascii_uppercase)
                        .collect()
                }
                _ => continue,
            };
            for m in found {
                if !mechanisms.contains(&m) {
                    mechanisms.push(m);
                }
            }
        }
        mechanisms
    }
}

#[cfg(test)]
mod tests {
    //! `Capability::parse` against the code it replaced (an upper-cased
    //! `String` per keyword, parameters collected first), kept here as the
    //! reference.

    use proptest::prelude::*;

    use super::*;

    fn reference(line: &str) -> Capability {
        let mut words = line.split_ascii_whitespace();
        let keyword = words.next().unwrap_or("");
        let params: Vec<&str> = words.collect();
        let upper = keyword.to_ascii_uppercase();
        let bare = |cap: Capability| {
            if params.is_empty() { Some(cap) } else { None }
        };
        let typed = match upper.as_str() {
            "PIPELINING" => bare(Capability::Pipelining),
            "SIZE" => match params.as_slice() {
                [] => Some(Capability::Size(None)),
                [n] if n.bytes().all(|b| b.is_ascii_digit()) => {
                    n.parse().ok().map(|n| Capability::Size(Some(n)))
                }
                _ => None,
            },
            "8BITMIME" => bare(Capability::EightBitMime),
            "SMTPUTF8" => bare(Capability::SmtpUtf8),
            "CHUNKING" => bare(Capability::Chunking),
            "BINARYMIME" => bare(Capability::BinaryMime),
            "STARTTLS" => bare(Capability::StartTls),
            "ENHANCEDSTATUSCODES" => bare(Capability::EnhancedStatusCodes),
            "DSN" => bare(Capability::Dsn),
            "HELP" => bare(Capability::Help),
            "AUTH" => Some(Capability::Auth(
                params.iter().map(|m| m.to_ascii_uppercase()).collect(),
            )),
            _ => None,
        };
        typed.unwrap_or_else(|| Capability::Other {
            keyword: keyword.to_string(),
            params: params.iter().map(|p| p.to_string()).collect(),
        })
    }

    /// EHLO lines: known keywords in any case, with and without parameters,
    /// unknown ones, keywords longer than the longest known one.
    fn line() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            Just("size"),
            Just("SIZE"),
            Just("Auth"),
            Just("PIPELINING"),
            Just("enhancedstatuscodes"),
            Just("ENHANCEDSTATUSCODESX"),
            Just("8bitmime"),
            Just("dsn"),
            Just("plain"),
            Just("1000"),
            Just("99999999999999999999999"),
            Just("x-é"),
            Just(""),
        ];
        let gap = prop_oneof![Just(" "), Just("  "), Just("\t")];
        prop::collection::vec((gap, word), 0..4).prop_map(|parts| {
            parts
                .into_iter()
                .flat_map(|(gap, word)| [gap, word])
                .collect::<String>()
        })
    }

    proptest! {
        #[test]
        fn parses_as_before(line in line()) {
            prop_assert_eq!(Capability::parse(&line), reference(&line));
        }
    }
}

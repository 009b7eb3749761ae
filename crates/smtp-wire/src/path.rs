//! Paths and addresses, RFC 5321 §4.1.2 (with RFC 6531 UTF-8 forms).
//!
//! ```text
//! Reverse-path   = Path / "<>"
//! Forward-path   = Path / "<Postmaster>"  (case-insensitive)
//! Path           = "<" [ A-d-l ":" ] Mailbox ">"     ; source route accepted, dropped
//! Mailbox        = Local-part "@" ( Domain / address-literal )
//! Local-part     = Dot-string / Quoted-string
//! ```
//! Limits (RFC 5321 §4.5.3.1.1-3): local part 64 octets, domain 255 octets,
//! path 256 octets including the angle brackets.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 5321 §4.5.3.1.1: the maximum total length of a local part is 64 octets.
pub const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2: the maximum total length of a domain name is 255 octets.
pub const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3: the maximum total length of a path is 256 octets
/// (including the punctuation and element separators).
pub const MAX_PATH: usize = 256;

/// Why a path, mailbox or domain could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The input did not match the grammar; `expected` says what was wanted.
    #[error("expected {expected}")]
    Syntax {
        /// A short description of what the grammar wanted at this point.
        expected: &'static str,
    },
    /// The local part is longer than 64 octets (RFC 5321 §4.5.3.1.1).
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    /// The domain is longer than 255 octets (RFC 5321 §4.5.3.1.2).
    #[error("domain longer than 255 octets")]
    DomainTooLong,
    /// The path is longer than 256 octets (RFC 5321 §4.5.3.1.3).
    #[error("path longer than 256 octets")]
    PathTooLong,
}

/// An address literal, RFC 5321 §4.1.3.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressLiteral {
    /// `[192.0.2.1]`
    V4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`
    V6(Ipv6Addr),
    /// `[tag:content]`: a General-address-literal, kept verbatim (tag, content).
    General(String, String),
}

/// The part after `@`: a domain name or an address literal.
///
/// Domain names keep the case they were written in; compare them with
/// [`Domain::eq_ignore_case`] (RFC 5321 §2.4: domain names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A domain name, e.g. `example.com`, or a U-label form under RFC 6531.
    Name(String),
    /// An address literal, e.g. `[192.0.2.1]`.
    Literal(AddressLiteral),
}

/// `local-part@domain`, RFC 5321 §4.1.2.
///
/// `local` holds the local part as written on the wire for a Dot-string, and
/// *unquoted* (escapes removed) for a Quoted-string; serialization re-quotes
/// when needed, so `parse(serialize(m)) == m`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The local part, unquoted.
    pub local: String,
    /// The domain or address literal.
    pub domain: Domain,
}

/// MAIL FROM's argument: a mailbox or the null path `<>` (RFC 5321 §4.5.5,
/// used for bounces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`
    Null,
    /// `<local@domain>`
    Mailbox(Mailbox),
}

/// RCPT TO's argument: a mailbox or the special `<Postmaster>` with no domain
/// (RFC 5321 §4.1.1.3, §4.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` (case-insensitive, no domain).
    Postmaster,
    /// `<local@domain>`
    Mailbox(Mailbox),
}

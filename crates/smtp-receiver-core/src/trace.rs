//! Trace information (RFC 5321 §4.4): the `Return-Path:` and `Received:`
//! header lines prepended to every message, queue ids, and the RFC 5322
//! date they carry.

use core::fmt;
use core::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use smtp_wire::path::{AddressLiteral, Domain, ForwardPath, ReversePath};

/// A queue id, unique within this host: seconds, microseconds, the
/// instance (the server's process id, see
/// [`SessionConfig::instance_id`](crate::config::SessionConfig::instance_id))
/// and a process-wide counter, e.g. `1751371200M000042P4242Q7`.
///
/// It is an RFC 5322 atom (letters and digits only), so it can be the
/// `id` clause of a `Received:` line (RFC 5321 §4.4), and it starts the
/// Maildir file name, so `smtp-receive show ID` finds the message that
/// `250 2.0.0 Ok: queued as ID` announced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueId(String);

static QUEUE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl QueueId {
    /// A new id for a message received at `now` by `instance`.
    pub fn generate(now: SystemTime, instance: u32) -> QueueId {
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seq = QUEUE_COUNTER.fetch_add(1, Ordering::Relaxed);
        QueueId(format!(
            "{}M{:06}P{}Q{}",
            since.as_secs(),
            since.subsec_micros(),
            instance,
            seq
        ))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `with` protocol name of a `Received:` line (RFC 3848, RFC 6531 §3.7.3).
pub fn protocol_name(extended: bool, tls: bool, authenticated: bool, utf8: bool) -> &'static str {
    match (extended, utf8, tls, authenticated) {
        (false, _, _, _) => "SMTP",
        (true, false, false, false) => "ESMTP",
        (true, false, false, true) => "ESMTPA",
        (true, false, true, false) => "ESMTPS",
        (true, false, true, true) => "ESMTPSA",
        (true, true, false, false) => "UTF8SMTP",
        (true, true, false, true) => "UTF8SMTPA",
        (true, true, true, false) => "UTF8SMTPS",
        (true, true, true, true) => "UTF8SMTPSA",
    }
}

/// The LMTP form of a `with` protocol name (RFC 3848 §3: `LMTP`,
/// `LMTPA`, `LMTPS`, `LMTPSA`; RFC 6531 §3.7.3 adds the `UTF8LMTP` ones).
pub fn lmtp_name(smtp: &'static str) -> &'static str {
    match smtp {
        "ESMTPA" => "LMTPA",
        "ESMTPS" => "LMTPS",
        "ESMTPSA" => "LMTPSA",
        "UTF8SMTP" => "UTF8LMTP",
        "UTF8SMTPA" => "UTF8LMTPA",
        "UTF8SMTPS" => "UTF8LMTPS",
        "UTF8SMTPSA" => "UTF8LMTPSA",
        _ => "LMTP",
    }
}

/// An IP address as an RFC 5321 §4.1.3 address literal: `[192.0.2.1]`,
/// `[IPv6:2001:db8::1]` (IPv4-mapped IPv6 addresses shown as IPv4).
pub fn address_literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("[{v4}]"),
            None => format!("[IPv6:{v6}]"),
        },
    }
}

/// What the trace lines say about one message.
#[derive(Debug, Clone)]
pub struct TraceInput<'a> {
    /// The client's EHLO/HELO name.
    pub helo: &'a Domain,
    /// The client's IP address.
    pub peer: IpAddr,
    /// Our host name.
    pub hostname: &'a str,
    /// RFC 3848 protocol name.
    pub protocol: &'a str,
    /// The queue id.
    pub id: &'a QueueId,
    /// MAIL FROM.
    pub from: &'a ReversePath,
    /// The accepted recipients.
    pub recipients: &'a [ForwardPath],
    /// Whether to add `X-Original-To:` with the recipients (and
    /// `X-Envelope-DSN:` with their DSN requests).
    pub record_recipients: bool,
    /// The DSN requests (RFC 3461) of the transaction: `RET` and `ENVID`,
    /// and each recipient's `NOTIFY` and `ORCPT` (same order as
    /// `recipients`).
    pub dsn: DsnRequests<'a>,
    /// A UTF-8 address came without SMTPUTF8 (accepted by the liberal
    /// policy): said in a comment after the protocol name.
    pub undeclared_utf8: bool,
    /// When the message arrived.
    pub now: SystemTime,
}

/// The DSN parameters of one transaction, for [`trace_headers`].
#[derive(Debug, Clone, Copy)]
pub struct DsnRequests<'a> {
    /// MAIL's parameters (RET and ENVID are used).
    pub mail: &'a smtp_wire::param::MailParams,
    /// Each recipient's parameters (NOTIFY and ORCPT are used).
    pub recipients: &'a [smtp_wire::param::RcptParams],
}

impl DsnRequests<'_> {
    /// One `X-Envelope-DSN:` line per command that carried DSN
    /// parameters, written as the command itself (xtext-encoded values),
    /// so that `Command::parse` reads it back: the requests stay with the
    /// stored message for whoever delivers it further or reports on it.
    fn header_lines(&self, recipients: &[ForwardPath], out: &mut String) {
        use smtp_wire::param::{MailParams, RcptParams};
        let mail = MailParams {
            ret: self.mail.ret,
            envid: self.mail.envid.clone(),
            ..MailParams::default()
        };
        if mail.ret.is_some() || mail.envid.is_some() {
            out.push_str(&format!("X-Envelope-DSN: MAIL FROM:<> {mail}\r\n"));
        }
        for (to, params) in recipients.iter().zip(self.recipients) {
            let rcpt = RcptParams {
                notify: params.notify,
                orcpt: params.orcpt.clone(),
                other: Vec::new(),
            };
            if rcpt.notify.is_some() || rcpt.orcpt.is_some() {
                out.push_str(&format!("X-Envelope-DSN: RCPT TO:{to} {rcpt}\r\n"));
            }
        }
    }
}

/// The header lines prepended to a message, CRLF-terminated, in this order:
///
/// ```text
/// Return-Path: <alice@example.com>                          RFC 5321 §4.4
/// X-Original-To: bob@example.org, carol@example.org         the envelope recipients
/// X-Envelope-DSN: RCPT TO:<bob@example.org> NOTIFY=FAILURE  DSN requests (RFC 3461), if any
/// Received: from client.example ([192.0.2.1])               RFC 5321 §4.4
///         by mx.example.org with ESMTPS id 1751371200M000042P4242Q7
///         for <bob@example.org>; Tue, 01 Jul 2025 12:00:00 +0000
/// ```
///
/// The `for` clause names the recipient only when there is exactly one
/// (RFC 5321 §7.2: never disclose other recipients in a single copy's trace).
pub fn trace_headers(t: &TraceInput<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str(&format!("Return-Path: {}\r\n", t.from));
    if t.record_recipients && !t.recipients.is_empty() {
        let list: Vec<String> = t.recipients.iter().map(recipient_text).collect();
        // Folded one recipient per line so no header line exceeds 998 octets
        // (RFC 5322 §2.1.1) whatever the number of recipients.
        out.push_str(&format!("X-Original-To: {}\r\n", list.join(",\r\n\t")));
        t.dsn.header_lines(t.recipients, &mut out);
    }
    // RFC 5321 §4.4: `With = CFWS "WITH" FWS Protocol`, and the CFWS
    // before `ID` may carry a comment: where the undeclared UTF-8 is said.
    let note = if t.undeclared_utf8 {
        " (UTF-8 address without SMTPUTF8)"
    } else {
        ""
    };
    out.push_str(&format!(
        "Received: from {}\r\n\tby {} with {}{note} id {}",
        from_clause(t.helo, t.peer),
        t.hostname,
        t.protocol,
        t.id
    ));
    if let [only] = t.recipients {
        out.push_str(&format!("\r\n\tfor {only}"));
    }
    out.push_str(&format!(";\r\n\t{}\r\n", rfc5322_date(t.now)));
    out.into_bytes()
}

/// The part of a [`trace_headers`] block that a relay passes on: the
/// `Received:` field alone. `Return-Path:` is written at final delivery
/// only (RFC 5321 §4.4: "the final delivery SMTP server"; the next hop adds
/// its own), and `X-Original-To:` and `X-Envelope-DSN:` name every envelope
/// recipient, Bcc ones included, which a copy sent on must not disclose
/// (RFC 5321 §7.2). The envelope itself goes on in MAIL and RCPT.
///
/// ```
/// use smtp_receiver_core::trace::relay_trace;
///
/// let block = b"Return-Path: <a@b>\r\nX-Original-To: c@d,\r\n\te@f\r\n\
///               Received: from x ([192.0.2.1])\r\n\tby y with ESMTP id 1; date\r\n";
/// assert!(relay_trace(block).starts_with(b"Received: from x"));
/// ```
pub fn relay_trace(trace: &[u8]) -> &[u8] {
    const FIELD: &[u8] = b"Received: ";
    if trace.starts_with(FIELD) {
        return trace;
    }
    // Every line of the block but the first follows a CRLF, and folded
    // lines start with a tab: a line starting with the field name is it.
    trace
        .windows(FIELD.len() + 2)
        .position(|w| w.starts_with(b"\r\n") && w.ends_with(FIELD))
        .map_or(trace, |at| &trace[at + 2..])
}

/// The `from` clause of `Received:` (RFC 5321 §4.4): `From-domain = "FROM"
/// FWS Extended-Domain`, `Extended-Domain = Domain / (Domain FWS "("
/// TCP-info ")") / (address-literal FWS "(" TCP-info ")")`.
///
/// A plain ASCII LDH name or a standard IPv4/IPv6 literal is written as
/// given: `c.example ([192.0.2.1])`. Anything else the EHLO grammar allows
/// (a U-label without SMTPUTF8 would put raw 8-bit octets in the header; a
/// general literal may hold `;`, `(` or `)`, which would forge the date
/// separator or the comment) is written in the comment, percent-encoded,
/// after the peer's literal: `[192.0.2.1] ([192.0.2.1] helo=[x:a%3Bb])`.
fn from_clause(helo: &Domain, peer: IpAddr) -> String {
    let peer = address_literal(peer);
    let plain = match helo {
        Domain::Name(name) => name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
        Domain::Literal(AddressLiteral::V4(_) | AddressLiteral::V6(_)) => true,
        Domain::Literal(AddressLiteral::General(..)) => false,
    };
    if plain {
        format!("{helo} ({peer})")
    } else {
        format!("{peer} ({peer} helo={})", comment_safe(&helo.to_string()))
    }
}

/// Percent-encodes every octet but letters, digits and `-._:[]`, so the
/// text is RFC 5322 `ctext` and cannot end or nest the comment (`()\`),
/// start another clause (`;`), or carry non-ASCII octets.
fn comment_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._:[]".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn recipient_text(to: &ForwardPath) -> String {
    match to {
        ForwardPath::Postmaster => "Postmaster".to_string(),
        ForwardPath::Mailbox(mailbox) => mailbox.to_string(),
    }
}

/// A date in RFC 5322 §3.3 form, in UTC: `Tue, 01 Jul 2025 12:00:00 +0000`
/// ([`smtp_wire::date::rfc5322`]).
pub fn rfc5322_date(now: SystemTime) -> String {
    smtp_wire::date::rfc5322(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn queue_ids_are_atoms_and_unique() {
        let a = QueueId::generate(at(1_751_371_200), 4242);
        let b = QueueId::generate(at(1_751_371_200), 4242);
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("1751371200M000000P4242Q"));
        assert!(a.as_str().bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn protocol_names_follow_rfc3848() {
        assert_eq!(protocol_name(false, true, true, false), "SMTP");
        assert_eq!(protocol_name(true, false, false, false), "ESMTP");
        assert_eq!(protocol_name(true, true, false, false), "ESMTPS");
        assert_eq!(protocol_name(true, true, true, false), "ESMTPSA");
        assert_eq!(protocol_name(true, false, true, false), "ESMTPA");
        assert_eq!(protocol_name(true, true, true, true), "UTF8SMTPSA");
    }

    #[test]
    fn address_literals() {
        assert_eq!(address_literal("192.0.2.1".parse().unwrap()), "[192.0.2.1]");
        assert_eq!(address_literal("::1".parse().unwrap()), "[IPv6:::1]");
        assert_eq!(
            address_literal("::ffff:192.0.2.1".parse().unwrap()),
            "[192.0.2.1]"
        );
    }

    #[test]
    fn a_relay_passes_on_the_received_field_alone() {
        use smtp_wire::param::{MailParams, RcptParams};
        let from: ReversePath = "<alice@example.com>".parse().unwrap();
        let recipients: Vec<ForwardPath> = ["<bob@example.org>", "<\"Received: x\"@example.org>"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        let mail = MailParams {
            envid: Some("x".into()),
            ..MailParams::default()
        };
        let rcpt = vec![RcptParams::default(); 2];
        let id = QueueId::generate(at(1_751_371_200), 1);
        for record_recipients in [true, false] {
            let block = trace_headers(&TraceInput {
                helo: &"client.example".parse().unwrap(),
                peer: "192.0.2.1".parse().unwrap(),
                hostname: "mx.example.org",
                protocol: "ESMTP",
                id: &id,
                from: &from,
                recipients: &recipients,
                record_recipients,
                dsn: DsnRequests {
                    mail: &mail,
                    recipients: &rcpt,
                },
                undeclared_utf8: false,
                now: at(1_751_371_200),
            });
            let relayed = relay_trace(&block);
            assert!(block.ends_with(relayed));
            let text = String::from_utf8_lossy(relayed);
            assert!(text.starts_with("Received: from client.example"), "{text}");
            for field in ["Return-Path", "X-Original-To", "X-Envelope-DSN", "bob@"] {
                assert!(!text.contains(field), "{field} in {text}");
            }
        }
        let received = b"Received: from x\r\n\tby y; date\r\n";
        assert_eq!(relay_trace(received), received);
    }
}

//! Delivery status notifications (RFC 3464): the message the engine
//! queues for the sender when recipients failed for good, or, on request
//! (RFC 3461 NOTIFY), were delayed or relayed to a server without DSN.
//!
//! ```text
//! multipart/report; report-type=delivery-status     RFC 6522
//!   text/plain                 what happened, for a person
//!   message/delivery-status    per-message fields, then per recipient:
//!                              Final-Recipient, Action, Status, Remote-MTA,
//!                              Diagnostic-Code, Last-Attempt-Date (§2.2, §2.3)
//!   message/rfc822             the original (RET=FULL, the default), or
//!   text/rfc822-headers        its header section only (RET=HDRS, §4.3 of RFC 3461)
//! ```
//!
//! The report goes from the null reverse-path (RFC 5321 §4.5.5), so that
//! a report about a report is never made.

use std::fmt::Write as _;
use std::time::SystemTime;

use smtp_wire::date::rfc5322;

use super::entry::{QueuedMessage, QueuedRecipient, RecipientState, time_of};

/// What a report says about its recipients (RFC 3464 §2.3.3 `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Failed for good.
    Failed,
    /// Still being retried.
    Delayed,
    /// Handed to a server that does not offer DSN (NOTIFY=SUCCESS).
    Relayed,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Relayed => "relayed",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Action::Failed => "Undelivered Mail Returned to Sender",
            Action::Delayed => "Delayed Mail (still being retried)",
            Action::Relayed => "Successful Mail Delivery Report",
        }
    }
}

/// The reports one record needs now, each with the indices of the
/// recipients it covers, and the record marked so that none is made
/// twice. A record from the null reverse-path gets none (RFC 3461 §6.2:
/// no notification about a notification) and is marked all the same.
pub fn reports_due(record: &mut QueuedMessage) -> Vec<(Action, Vec<usize>)> {
    let null_sender = record.from.is_empty();
    let mut failed = Vec::new();
    let mut delayed = Vec::new();
    let mut relayed = Vec::new();
    for (i, r) in record.recipients.iter_mut().enumerate() {
        match r.state {
            RecipientState::Failed if !r.reported => {
                r.reported = true;
                if !null_sender && r.notify_includes("FAILURE") {
                    failed.push(i);
                }
            }
            RecipientState::Delivered if !r.reported => {
                r.reported = true;
                if !null_sender {
                    relayed.push(i);
                }
            }
            RecipientState::Deferred if !r.delay_reported && r.notify_includes("DELAY") => {
                r.delay_reported = true;
                if !null_sender {
                    delayed.push(i);
                }
            }
            _ => {}
        }
    }
    [
        (Action::Failed, failed),
        (Action::Delayed, delayed),
        (Action::Relayed, relayed),
    ]
    .into_iter()
    .filter(|(_, list)| !list.is_empty())
    .collect()
}

/// Who writes the report: the `Reporting-MTA` name, also the domain of
/// the `From:` address and of the boundary and Message-ID.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// This host's name (`mail.example.com`).
    pub host: String,
}

impl Reporter {
    /// The report about `recipients` of `record`, a complete RFC 5322
    /// message with CRLF line ends. `original` is the queued message.
    pub fn report(
        &self,
        record: &QueuedMessage,
        action: Action,
        recipients: &[usize],
        original: &[u8],
        now: SystemTime,
    ) -> Vec<u8> {
        let boundary = format!("{}/{}", record.id, self.host);
        let date = rfc5322(now);
        let mut out = String::new();
        let _ = write!(
            out,
            "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n\
             To: <{to}>\r\n\
             Subject: {subject}\r\n\
             Date: {date}\r\n\
             Message-ID: <{id}.report@{host}>\r\n\
             Auto-Submitted: auto-replied\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status;\r\n\
             \tboundary=\"{boundary}\"\r\n\
             \r\n\
             This is a MIME-encapsulated delivery status notification (RFC 3464).\r\n\
             \r\n\
             --{boundary}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\
             \r\n",
            host = self.host,
            to = record.from,
            subject = action.subject(),
            id = record.id,
        );
        out.push_str(&human_part(record, action, recipients, &self.host));
        let _ = write!(
            out,
            "\r\n--{boundary}\r\n\
             Content-Type: message/delivery-status\r\n\
             \r\n\
             Reporting-MTA: dns; {host}\r\n",
            host = self.host
        );
        if let Some(envid) = &record.envid {
            let _ = write!(out, "Original-Envelope-Id: {}\r\n", one_line(envid));
        }
        let _ = write!(
            out,
            "Arrival-Date: {}\r\n",
            rfc5322(time_of(record.created))
        );
        for r in recipients.iter().filter_map(|&i| record.recipients.get(i)) {
            out.push_str("\r\n");
            out.push_str(&recipient_fields(r, action, now));
        }
        let headers_only = record
            .ret
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("HDRS"));
        let mut bytes = out.into_bytes();
        if headers_only {
            let _ = write!(
                Sink(&mut bytes),
                "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            );
            bytes.extend_from_slice(header_section(original));
        } else {
            let _ = write!(
                Sink(&mut bytes),
                "\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
            );
            bytes.extend_from_slice(original);
        }
        if !bytes.ends_with(b"\r\n") {
            bytes.extend_from_slice(b"\r\n");
        }
        let _ = write!(Sink(&mut bytes), "\r\n--{boundary}--\r\n");
        bytes
    }
}

/// The part a person reads.
fn human_part(record: &QueuedMessage, action: Action, recipients: &[usize], host: &str) -> String {
    let mut text = format!("This is the mail system at host {host}.\r\n\r\n");
    text.push_str(match action {
        Action::Failed => {
            "Your message could not be delivered to one or more recipients.\r\n\
             It is attached below. The reasons follow.\r\n"
        }
        Action::Delayed => {
            "Your message could not be delivered yet to one or more recipients.\r\n\
             Delivery will be tried again; you do not need to resend it.\r\n"
        }
        Action::Relayed => {
            "Your message was handed to a mail server that does not report\r\n\
             delivery; no further notification will come for these recipients.\r\n"
        }
    });
    text.push_str("\r\n");
    for r in recipients.iter().filter_map(|&i| record.recipients.get(i)) {
        let _ = write!(
            text,
            "<{}>: {}\r\n",
            r.address,
            one_line(r.last_reply.as_deref().unwrap_or("no reply"))
        );
    }
    text
}

/// The per-recipient fields of RFC 3464 §2.3.
fn recipient_fields(r: &QueuedRecipient, action: Action, now: SystemTime) -> String {
    let mut out = String::new();
    if let Some((kind, addr)) = r.orcpt.as_deref().and_then(|o| o.split_once(';')) {
        let _ = write!(
            out,
            "Original-Recipient: {}; {}\r\n",
            one_line(kind),
            one_line(addr)
        );
    }
    let status = match (&r.status, action) {
        (Some(s), _) => s.clone(),
        (None, Action::Failed) => "5.0.0".into(),
        (None, Action::Delayed) => "4.0.0".into(),
        (None, Action::Relayed) => "2.0.0".into(),
    };
    let _ = write!(
        out,
        "Final-Recipient: rfc822; {}\r\nAction: {}\r\nStatus: {}\r\n",
        r.address,
        action.as_str(),
        one_line(&status)
    );
    if let Some(remote) = &r.remote {
        let _ = write!(out, "Remote-MTA: dns; {}\r\n", one_line(remote));
    }
    if let Some(reply) = &r.last_reply {
        // §2.3.6: "smtp" diagnostics are the reply as the server gave it;
        // anything else (a DNS failure, a lost connection) is "x-local".
        let kind = if reply.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            "smtp"
        } else {
            "x-local"
        };
        let _ = write!(out, "Diagnostic-Code: {kind}; {}\r\n", one_line(reply));
    }
    let _ = write!(out, "Last-Attempt-Date: {}\r\n", rfc5322(now));
    out
}

/// The header section of a message, up to and including the empty line.
fn header_section(message: &[u8]) -> &[u8] {
    find(message, b"\r\n\r\n").map_or(message, |end| &message[..end + 4])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A value for one header line: no CR or LF (a reply text comes from the
/// network), at most 900 octets (RFC 5322 §2.1.1 allows 998).
fn one_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.len() > 900 {
        let mut cut = 900;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line
}

/// `write!` into a byte buffer.
struct Sink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::outbound::entry::{RetryPolicy, Verdict};
    use smtp_sender_core::Envelope;

    fn failed_record(from: &str) -> QueuedMessage {
        let envelope = Envelope::new(from, &["bob@example.org", "carol@example.org"]).unwrap();
        let mut record = QueuedMessage::new("id7".into(), &envelope, 10, time_of(1_000_000));
        record.envid = Some("QQ314159".into());
        record.recipients[0].orcpt = Some("rfc822;Bob@Example.org".into());
        record.record(
            0,
            Verdict::Failed {
                reply: "550 5.1.1 no such user\r\nRSET".into(),
                status: "5.1.1".into(),
            },
            Some("mx1.example.org"),
            time_of(1_000_100),
            &RetryPolicy::default(),
        );
        record
    }

    #[test]
    fn a_failure_is_reported_once_and_never_for_a_report() {
        let mut record = failed_record("alice@example.com");
        assert_eq!(reports_due(&mut record), [(Action::Failed, vec![0])]);
        assert!(reports_due(&mut record).is_empty(), "once");

        let mut bounce = failed_record("");
        assert!(reports_due(&mut bounce).is_empty());
        assert!(bounce.recipients[0].reported);
    }

    #[test]
    fn the_report_has_the_rfc_3464_parts() {
        let record = failed_record("alice@example.com");
        let original = b"Subject: hi\r\nFrom: alice@example.com\r\n\r\nbody line\r\n";
        let reporter = Reporter {
            host: "mta.example.net".into(),
        };
        let text = String::from_utf8(reporter.report(
            &record,
            Action::Failed,
            &[0],
            original,
            time_of(1_000_200),
        ))
        .unwrap();
        for needle in [
            "To: <alice@example.com>\r\n",
            "Content-Type: multipart/report; report-type=delivery-status;",
            "Reporting-MTA: dns; mta.example.net\r\n",
            "Original-Envelope-Id: QQ314159\r\n",
            "Original-Recipient: rfc822; Bob@Example.org\r\n",
            "Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            "Remote-MTA: dns; mx1.example.org\r\n",
            "Diagnostic-Code: smtp; 550 5.1.1 no such user  RSET\r\n",
            "Content-Type: message/rfc822\r\n\r\nSubject: hi\r\n",
            "body line\r\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("carol"), "only the failed recipient");
        assert!(text.ends_with("--\r\n"));

        let mut hdrs = record.clone();
        hdrs.ret = Some("HDRS".into());
        let text =
            String::from_utf8(reporter.report(&hdrs, Action::Failed, &[0], original, time_of(0)))
                .unwrap();
        assert!(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\n"));
        assert!(!text.contains("body line"), "RET=HDRS: headers only");
    }

    #[test]
    fn delays_and_relays_are_reported_only_on_request() {
        let policy = RetryPolicy::default();
        let envelope = Envelope::new("alice@example.com", &["a@x.example", "b@x.example"]).unwrap();
        let mut record = QueuedMessage::new("id9".into(), &envelope, 1, time_of(0));
        record.recipients[0].notify = Some("DELAY,FAILURE".into());
        record.recipients[1].notify = Some("SUCCESS".into());
        let later = Verdict::Deferred {
            reply: "451 4.3.0 busy".into(),
            status: "4.3.0".into(),
        };
        record.record(0, later.clone(), None, time_of(10), &policy);
        record.record(
            1,
            Verdict::Delivered {
                reply: "250 ok".into(),
                passed_on: false,
            },
            Some("mx.x.example"),
            time_of(10),
            &policy,
        );
        assert_eq!(
            reports_due(&mut record),
            [(Action::Delayed, vec![0]), (Action::Relayed, vec![1])]
        );
        record.record(0, later, None, time_of(400), &policy);
        assert!(
            reports_due(&mut record).is_empty(),
            "one delay report per recipient"
        );
        let reporter = Reporter {
            host: "mta.example".into(),
        };
        let text = String::from_utf8(reporter.report(
            &record,
            Action::Delayed,
            &[0],
            b"S: x\r\n\r\n",
            time_of(400),
        ))
        .unwrap();
        assert!(
            text.contains("Action: delayed\r\nStatus: 4.3.0\r\n"),
            "{text}"
        );
    }
}

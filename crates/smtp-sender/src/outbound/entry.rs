//! One queued message's envelope record: who it is from, each recipient's
//! state, what it asked to be told (DSN), and what happened so far. It is
//! the `ID.env` file of the spool, JSON, rewritten whole after each attempt.
//!
//! Everything here is pure: the state changes take the time as a value,
//! so a test moves the clock by passing a later `now`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use smtp_sender_core::{Dsn, Envelope, RecipientDsn};
use smtp_wire::param::{MailParams, Notify, Orcpt, RcptParams, Ret};
use smtp_wire::path::{Domain, ForwardPath};

/// The version of the record format this code writes and reads.
pub const FORMAT: u32 = 1;

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientState {
    /// Not tried yet.
    Pending,
    /// Tried and refused for now (4yz, no connection, DNS failure): it
    /// is tried again at `next_attempt`.
    Deferred,
    /// A server accepted it (2yz after the content, RFC 5321 §6.1): final.
    Delivered,
    /// Refused for good (5yz, null MX, no such domain) or given up after
    /// the maximal lifetime: final, reported to the sender.
    Failed,
}

impl RecipientState {
    /// Delivered or failed: nothing more will be tried.
    pub fn is_final(self) -> bool {
        matches!(self, RecipientState::Delivered | RecipientState::Failed)
    }

    /// `pending`, `deferred`, `delivered` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Pending => "pending",
            RecipientState::Deferred => "deferred",
            RecipientState::Delivered => "delivered",
            RecipientState::Failed => "failed",
        }
    }
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRecipient {
    /// The forward-path, as given to RCPT TO (without angle brackets).
    pub address: String,
    /// Where it stands.
    pub state: RecipientState,
    /// `NOTIFY=` as written (`SUCCESS,FAILURE`, `NEVER`), RFC 3461 §4.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
    /// `ORCPT=` decoded, `addr-type;address` (RFC 3461 §4.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orcpt: Option<String>,
    /// Delivery attempts that reached a decision for this recipient.
    #[serde(default)]
    pub attempts: u32,
    /// Unix time (seconds) of the next attempt; 0: as soon as possible.
    #[serde(default)]
    pub next_attempt: u64,
    /// The last reply or failure, as text (`451 4.3.0 try later`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply: Option<String>,
    /// The RFC 3463 status of the last outcome (`5.1.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The exchanger that gave the last reply (`mx1.example.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// A report about the final state was queued (or none is due).
    #[serde(default)]
    pub reported: bool,
    /// A "delayed" report was queued (RFC 3461 §4.1, NOTIFY=DELAY).
    #[serde(default)]
    pub delay_reported: bool,
}

/// One attempt, for `queue list` and the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Unix time, seconds.
    pub at: u64,
    /// The destination tried: an exchanger, the relay, or the domain.
    pub destination: String,
    /// What happened, one line.
    pub result: String,
}

/// The envelope record of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    /// [`FORMAT`].
    pub format: u32,
    /// The spool id (file names `ID.msg`, `ID.env`).
    pub id: String,
    /// Unix time (seconds) the message entered the spool.
    pub created: u64,
    /// The reverse-path without angle brackets; empty for `<>` (a report,
    /// which is never reported on: RFC 3461 §6.2, RFC 5321 §4.5.5).
    pub from: String,
    /// Octets of the message file.
    pub size: u64,
    /// `RET=FULL` or `RET=HDRS` (RFC 3461 §4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ret: Option<String>,
    /// `ENVID=`, decoded (RFC 3461 §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envid: Option<String>,
    /// The recipients, in the order given.
    pub recipients: Vec<QueuedRecipient>,
    /// The last attempts, newest last (at most [`HISTORY`]).
    #[serde(default)]
    pub history: Vec<Attempt>,
}

/// How many attempts a record remembers.
pub const HISTORY: usize = 20;

/// What one attempt decided for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted by `remote`; `passed_on` when the next hop took the DSN
    /// requests along (it then reports success itself, RFC 3461 §4).
    Delivered {
        /// The reply, as text.
        reply: String,
        /// The next hop offered DSN.
        passed_on: bool,
    },
    /// Refused for now.
    Deferred {
        /// The reply or failure, as text.
        reply: String,
        /// Its RFC 3463 status (`4.4.1`).
        status: String,
    },
    /// Refused for good.
    Failed {
        /// The reply or failure, as text.
        reply: String,
        /// Its RFC 3463 status (`5.1.1`).
        status: String,
    },
}

/// When to try again: exponential back-off per recipient, capped, and a
/// lifetime after which a deferred recipient fails.
///
/// The defaults are Postfix's: `minimal_backoff_time` 300 s,
/// `maximal_backoff_time` 4000 s, `maximal_queue_lifetime` 5 days.
///
/// ```
/// use std::time::Duration;
/// use smtp_sender::outbound::RetryPolicy;
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.delay(1), Duration::from_secs(300));
/// assert_eq!(policy.delay(2), Duration::from_secs(600));
/// assert_eq!(policy.delay(10), Duration::from_secs(4000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first deferral.
    pub first: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
    /// How long a message may stay: a recipient still deferred after
    /// this fails (status 4.4.7, RFC 3463 "delivery time expired").
    pub lifetime: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_secs(300),
            max: Duration::from_secs(4000),
            lifetime: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempts`-th deferral: `first`, doubling, at
    /// most `max`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.max.max(self.first))
    }
}

/// Unix seconds of a time (0 before 1970).
pub fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The time of unix seconds.
pub fn time_of(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Why a record cannot be used (it goes to `bad/` with this reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

impl QueuedMessage {
    /// A new record for `envelope`, every recipient pending.
    pub fn new(id: String, envelope: &Envelope, size: u64, now: SystemTime) -> QueuedMessage {
        let dsn = envelope.dsn.clone().unwrap_or_default();
        let recipients = envelope
            .to
            .iter()
            .enumerate()
            .map(|(i, to)| {
                let RecipientDsn { notify, orcpt } = dsn.recipient(i);
                QueuedRecipient {
                    address: bare(&to.to_string()),
                    state: RecipientState::Pending,
                    notify: notify.map(|n| n.to_string()),
                    orcpt: orcpt.map(|o| format!("{};{}", o.addr_type, o.addr)),
                    attempts: 0,
                    next_attempt: 0,
                    last_reply: None,
                    status: None,
                    remote: None,
                    reported: false,
                    delay_reported: false,
                }
            })
            .collect();
        QueuedMessage {
            format: FORMAT,
            id,
            created: unix(now),
            from: bare(&envelope.from.to_string()),
            size,
            ret: dsn.ret.map(|r| r.as_str().to_string()),
            envid: dsn.envid,
            recipients,
            history: Vec::new(),
        }
    }

    /// Parses a record file, checking every address and parameter with the
    /// same parsers the session uses.
    pub fn from_json(bytes: &[u8]) -> Result<QueuedMessage, Malformed> {
        let record: QueuedMessage =
            serde_json::from_slice(bytes).map_err(|e| Malformed(format!("not a record: {e}")))?;
        if record.format != FORMAT {
            return Err(Malformed(format!(
                "record format {} (this program reads {FORMAT})",
                record.format
            )));
        }
        if record.recipients.is_empty() {
            return Err(Malformed("no recipients".into()));
        }
        record.envelope_for(&(0..record.recipients.len()).collect::<Vec<_>>())?;
        Ok(record)
    }

    /// The record as the JSON written to `ID.env`.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// The envelope to send for the recipients at `indices`, with their
    /// DSN requests.
    pub fn envelope_for(&self, indices: &[usize]) -> Result<Envelope, Malformed> {
        let to: Vec<&str> = indices
            .iter()
            .filter_map(|&i| self.recipients.get(i))
            .map(|r| r.address.as_str())
            .collect();
        let mut envelope = Envelope::new(&self.from, &to).map_err(|e| Malformed(e.to_string()))?;
        let ret = match self.ret.as_deref() {
            None => None,
            Some(r) if r.eq_ignore_ascii_case("FULL") => Some(Ret::Full),
            Some(r) if r.eq_ignore_ascii_case("HDRS") => Some(Ret::Hdrs),
            Some(other) => return Err(Malformed(format!("RET {other:?}"))),
        };
        let mut dsn = Dsn {
            ret,
            envid: self.envid.clone(),
            recipients: Vec::new(),
        };
        for (slot, &i) in indices.iter().enumerate() {
            let Some(r) = self.recipients.get(i) else {
                continue;
            };
            *dsn.recipient_mut(slot) = r.dsn()?;
        }
        let any = dsn.ret.is_some()
            || dsn.envid.is_some()
            || dsn.recipients.iter().any(|r| *r != RecipientDsn::default());
        envelope.dsn = any.then_some(dsn);
        Ok(envelope)
    }

    /// The domain of recipient `index`, lower-case, as routing keys it.
    pub fn domain_of(&self, index: usize) -> Option<String> {
        let r = self.recipients.get(index)?;
        match smtp_sender_core::parse_forward_path(&r.address).ok()? {
            ForwardPath::Mailbox(m) => Some(match m.domain {
                Domain::Name(name) => name.to_ascii_lowercase(),
                literal => literal.to_string(),
            }),
            // RFC 5321 §4.1.1.3: <Postmaster> alone is the receiving host's.
            ForwardPath::Postmaster => None,
        }
    }

    /// The recipients due at `now` (not final, next attempt reached), or
    /// every recipient that is not final when `force`.
    pub fn due(&self, now: SystemTime, force: bool) -> Vec<usize> {
        let now = unix(now);
        self.recipients
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.state.is_final() && (force || r.next_attempt <= now))
            .map(|(i, _)| i)
            .collect()
    }

    /// True when every recipient is delivered or failed.
    pub fn is_final(&self) -> bool {
        self.recipients.iter().all(|r| r.state.is_final())
    }

    /// The earliest next attempt among the recipients still to deliver.
    pub fn next_attempt(&self) -> Option<u64> {
        self.recipients
            .iter()
            .filter(|r| !r.state.is_final())
            .map(|r| r.next_attempt)
            .min()
    }

    /// Records what one attempt decided for recipient `index`. A deferral
    /// past the policy's lifetime becomes a failure (4.4.7).
    pub fn record(
        &mut self,
        index: usize,
        verdict: Verdict,
        remote: Option<&str>,
        now: SystemTime,
        policy: &RetryPolicy,
    ) {
        let created = self.created;
        let Some(r) = self.recipients.get_mut(index) else {
            return;
        };
        r.attempts = r.attempts.saturating_add(1);
        r.remote = remote.map(str::to_string);
        let now_secs = unix(now);
        match verdict {
            Verdict::Delivered { reply, passed_on } => {
                r.state = RecipientState::Delivered;
                r.status = Some("2.0.0".into());
                r.last_reply = Some(reply);
                // RFC 3461 §4: a success report is ours to send only when
                // the next hop did not take the request along ("relayed").
                r.reported = passed_on || !r.notify_includes("SUCCESS");
            }
            Verdict::Failed { reply, status } => {
                r.state = RecipientState::Failed;
                r.status = Some(status);
                r.last_reply = Some(reply);
            }
            Verdict::Deferred { reply, status } => {
                if now_secs.saturating_sub(created) >= policy.lifetime.as_secs() {
                    r.state = RecipientState::Failed;
                    r.status = Some("4.4.7".into());
                    r.last_reply = Some(format!("delivery time expired; last: {reply}"));
                } else {
                    r.state = RecipientState::Deferred;
                    r.status = Some(status);
                    r.last_reply = Some(reply);
                    r.next_attempt = now_secs.saturating_add(policy.delay(r.attempts).as_secs());
                }
            }
        }
    }

    /// Adds one line to the history, forgetting the oldest beyond [`HISTORY`].
    pub fn remember(&mut self, now: SystemTime, destination: &str, result: &str) {
        self.history.push(Attempt {
            at: unix(now),
            destination: destination.to_string(),
            result: result.to_string(),
        });
        if self.history.len() > HISTORY {
            let extra = self.history.len() - HISTORY;
            self.history.drain(..extra);
        }
    }

    /// Makes every recipient still to deliver due now (`queue flush`).
    pub fn make_due(&mut self) {
        for r in self.recipients.iter_mut().filter(|r| !r.state.is_final()) {
            r.next_attempt = 0;
        }
    }
}

impl QueuedRecipient {
    /// The RFC 3461 requests, parsed by the wire grammar.
    pub fn dsn(&self) -> Result<RecipientDsn, Malformed> {
        let notify = match &self.notify {
            None => None,
            Some(n) => Some(parse_notify(n)?),
        };
        let orcpt = match &self.orcpt {
            None => None,
            Some(o) => {
                let (addr_type, addr) = o
                    .split_once(';')
                    .ok_or_else(|| Malformed(format!("ORCPT {o:?} has no ';'")))?;
                Some(Orcpt {
                    addr_type: addr_type.to_string().into(),
                    addr: addr.to_string(),
                })
            }
        };
        Ok(RecipientDsn { notify, orcpt })
    }

    /// True when NOTIFY names `what` (`SUCCESS`, `FAILURE`, `DELAY`).
    /// Without NOTIFY, RFC 3461 §4.1 leaves it to the MTA: failures are
    /// reported, delays and successes are not.
    pub fn notify_includes(&self, what: &str) -> bool {
        match &self.notify {
            None => what == "FAILURE",
            Some(n) => n.split(',').any(|v| v.trim().eq_ignore_ascii_case(what)),
        }
    }
}

/// `NOTIFY=` value through the wire grammar (RFC 3461 §4.1).
pub fn parse_notify(value: &str) -> Result<Notify, Malformed> {
    RcptParams::parse(&format!("NOTIFY={value}"))
        .ok()
        .and_then(|p| p.notify)
        .ok_or_else(|| Malformed(format!("NOTIFY {value:?}")))
}

/// `RET=` value through the wire grammar (RFC 3461 §4.3).
pub fn parse_ret(value: &str) -> Result<Ret, Malformed> {
    MailParams::parse(&format!("RET={value}"))
        .ok()
        .and_then(|p| p.ret)
        .ok_or_else(|| Malformed(format!("RET {value:?} (FULL or HDRS)")))
}

/// An `ENVID` as given (not encoded) through the wire grammar (RFC 3461
/// §4.4: at most 100 characters of xtext, printable ASCII once decoded).
pub fn parse_envid(value: &str) -> Result<String, Malformed> {
    MailParams::parse(&format!("ENVID={}", smtp_wire::param::xtext_encode(value)))
        .ok()
        .and_then(|p| p.envid)
        .ok_or_else(|| {
            Malformed(format!(
                "ENVID {value:?} (at most 100 printable ASCII characters once xtext-encoded)"
            ))
        })
}

/// `<a@b>` -> `a@b`; `<>` -> ``.
fn bare(path: &str) -> String {
    path.trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(secs: u64) -> SystemTime {
        time_of(secs)
    }

    fn message() -> QueuedMessage {
        let envelope = Envelope::new(
            "alice@example.com",
            &["bob@example.org", "carol@example.net"],
        )
        .unwrap();
        QueuedMessage::new("id1".into(), &envelope, 10, at(1000))
    }

    #[test]
    fn round_trips_through_json_with_dsn() {
        let mut envelope = Envelope::new("alice@example.com", &["bob@example.org"]).unwrap();
        let mut dsn = Dsn {
            ret: Some(Ret::Hdrs),
            envid: Some("QQ314159".into()),
            ..Dsn::default()
        };
        dsn.recipient_mut(0).notify = Some(parse_notify("SUCCESS,DELAY").unwrap());
        dsn.recipient_mut(0).orcpt = Some(Orcpt {
            addr_type: "rfc822".into(),
            addr: "bob@example.org".into(),
        });
        envelope.dsn = Some(dsn.clone());
        let record = QueuedMessage::new("id".into(), &envelope, 3, at(5));
        let back = QueuedMessage::from_json(&record.to_json()).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.envelope_for(&[0]).unwrap(), envelope);
        assert_eq!(back.recipients[0].notify.as_deref(), Some("SUCCESS,DELAY"));
    }

    #[test]
    fn malformed_records_say_why() {
        for (bytes, why) in [
            (&b"{"[..], "not a record"),
            (br#"{"format":9,"id":"x","created":0,"from":"","size":0,"recipients":[]}"#, "format 9"),
            (br#"{"format":1,"id":"x","created":0,"from":"","size":0,"recipients":[]}"#, "no recipients"),
            (
                br#"{"format":1,"id":"x","created":0,"from":"a@b","size":0,"recipients":[{"address":"x\r\nRSET","state":"pending"}]}"#,
                "CR",
            ),
        ] {
            let err = QueuedMessage::from_json(bytes).unwrap_err();
            assert!(err.0.contains(why), "{err} should mention {why}");
        }
    }

    #[test]
    fn deferrals_back_off_then_expire() {
        let policy = RetryPolicy {
            first: Duration::from_secs(60),
            max: Duration::from_secs(300),
            lifetime: Duration::from_secs(3600),
        };
        let mut m = message();
        assert_eq!(m.due(at(1000), false), [0, 1]);
        let later = |s: &str| Verdict::Deferred {
            reply: s.into(),
            status: "4.3.0".into(),
        };
        m.record(0, later("451 try later"), Some("mx"), at(1000), &policy);
        m.record(
            1,
            Verdict::Delivered {
                reply: "250 ok".into(),
                passed_on: false,
            },
            Some("mx"),
            at(1000),
            &policy,
        );
        assert_eq!(m.recipients[0].next_attempt, 1060);
        assert!(m.due(at(1059), false).is_empty());
        assert_eq!(m.due(at(1060), false), [0]);
        m.record(0, later("451 again"), None, at(1060), &policy);
        assert_eq!(m.recipients[0].next_attempt, 1180, "doubled");
        for step in 0..5 {
            m.record(0, later("451"), None, at(1200 + step), &policy);
        }
        assert_eq!(m.recipients[0].next_attempt - 1204, 300, "capped");
        assert!(!m.is_final());
        m.record(0, later("451 last"), None, at(1000 + 3600), &policy);
        assert_eq!(m.recipients[0].state, RecipientState::Failed);
        assert_eq!(m.recipients[0].status.as_deref(), Some("4.4.7"));
        assert!(m.is_final());
    }

    #[test]
    fn notify_defaults_to_failures_only() {
        let mut m = message();
        m.recipients[1].notify = Some("SUCCESS".into());
        assert!(m.recipients[0].notify_includes("FAILURE"));
        assert!(!m.recipients[0].notify_includes("DELAY"));
        assert!(!m.recipients[1].notify_includes("FAILURE"));
        let policy = RetryPolicy::default();
        let ok = |passed_on| Verdict::Delivered {
            reply: "250".into(),
            passed_on,
        };
        m.record(0, ok(false), None, at(1000), &policy);
        m.record(1, ok(true), None, at(1000), &policy);
        assert!(m.recipients[0].reported, "no success report asked");
        assert!(m.recipients[1].reported, "the next hop reports it");
        m.recipients[1].reported = false;
        m.record(1, ok(false), None, at(1000), &policy);
        assert!(!m.recipients[1].reported, "ours to report: relayed");
    }

    #[test]
    fn domains_are_routing_keys() {
        let envelope =
            Envelope::new("", &["Bob@Example.ORG", "x@[127.0.0.2]", "<Postmaster>"]).unwrap();
        let m = QueuedMessage::new("i".into(), &envelope, 0, at(0));
        assert_eq!(m.from, "");
        assert_eq!(m.domain_of(0).as_deref(), Some("example.org"));
        assert_eq!(m.domain_of(1).as_deref(), Some("[127.0.0.2]"));
        assert_eq!(m.domain_of(2), None);
    }
}

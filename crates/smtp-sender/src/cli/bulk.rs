//! Bulk mode (`--count N --sessions S --size BYTES`): a load generator, the
//! counterpart of Postfix's `smtp-source`. N generated messages of one size
//! go over S concurrent sessions; each session takes the next message from
//! a shared counter (so a slow session sends fewer), keeps its connection
//! for all of them (RFC 5321 §4.1.1.5: RSET, here pipelined with the next
//! MAIL, separates the transactions), and QUITs at the end. With
//! PIPELINING each message's commands leave with the previous message's
//! final dot (`Client::send_each`): one round trip per message.
//!
//! It prints one line a script can parse:
//!
//! ```text
//! bulk messages=20000 accepted=20000 failed=0 sessions=20 sessions_failed=0 size=10000 seconds=1.482113 msgs_per_s=13494.5 mb_per_s=134.9
//! ```
//!
//! `failed` counts messages not accepted, `sessions_failed` sessions that
//! ended in an error (e.g. refused with `421` at the greeting: their share
//! of the messages went over the other sessions, so every message may
//! still be accepted). The exit status is 0 only when both are 0, and each
//! distinct session error is printed on stderr with how many sessions met it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use smtp_mime::{Address, MessageBuilder};
use smtp_sender::{Client, ClientConfig, Envelope, SendError};
use tokio::task::JoinSet;

/// Body lines of the generated message: 76 printable octets and CRLF, well
/// under RFC 5321 §4.5.3.1.6's 1000-octet text line limit.
const LINE: usize = 76;

/// What to send and how.
pub struct Bulk {
    /// Messages in all.
    pub count: u64,
    /// Concurrent sessions (each a connection of its own).
    pub sessions: u64,
}

/// What the sessions achieved.
#[derive(Debug, Default)]
struct Tally {
    accepted: AtomicU64,
    /// Index of the next message to send.
    next: AtomicU64,
}

/// `10000`, `64K`, `100M` (binary multiples).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let (digits, multiplier) = match text.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&text[..text.len() - 1], 1usize << 10),
        Some('M') => (&text[..text.len() - 1], 1 << 20),
        Some('G') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("expected a number of octets (suffix K, M or G), got {text:?}"))?;
    n.checked_mul(multiplier)
        .ok_or_else(|| format!("{text} is too large"))
}

/// A message of exactly `size` octets when `size` leaves room for the
/// header section (else the header section alone): the header section
/// comes from smtp-mime (From, To, Subject, Date, Message-ID, MIME headers:
/// RFC 5322 §3.6), the body is lines of printable ASCII.
pub fn generate_message(from: &str, to: &str, size: usize) -> Result<Vec<u8>> {
    let composed = MessageBuilder::new()
        .from(from.parse::<Address>().context("--from")?)
        .to(to.parse::<Address>().context("--to")?)
        .subject("smtp-send bulk message")
        .text("x")
        .build()
        .context("composing the bulk message")?;
    // RFC 5322 §2.1: the header section ends at the first empty line.
    let bytes = composed.bytes;
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| i + 4);
    let mut message = bytes[..end].to_vec();
    let pattern: Vec<u8> = (0..LINE).map(|i| b'a' + (i % 26) as u8).collect();
    while message.len() < size {
        let left = size - message.len();
        let mut n = left.saturating_sub(2).min(LINE);
        // Never leave 1 or 2 octets for a last line: shorten this one.
        if matches!(left.saturating_sub(n + 2), 1 | 2) {
            n -= 2;
        }
        // With 1 octet left this adds an empty line: one octet too many,
        // but every line still ends with CRLF (RFC 5321 §2.3.8).
        message.extend_from_slice(&pattern[..n]);
        message.extend_from_slice(b"\r\n");
    }
    Ok(message)
}

/// Runs the bulk send; prints the summary line; fails when any message failed.
pub async fn run(
    config: ClientConfig,
    envelope: Envelope,
    message: Vec<u8>,
    bulk: Bulk,
) -> Result<()> {
    if bulk.sessions == 0 {
        bail!("--sessions must be at least 1");
    }
    let sessions = bulk.sessions.min(bulk.count.max(1));
    let tally = Arc::new(Tally::default());
    let message: Arc<[u8]> = message.into();
    let envelope = Arc::new(envelope);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..sessions {
        let (config, envelope, message, tally) = (
            config.clone(),
            envelope.clone(),
            message.clone(),
            tally.clone(),
        );
        tasks.spawn(async move { session(config, &envelope, &message, bulk.count, &tally).await });
    }
    // Each distinct session error, with how many sessions met it, in the
    // order first met (SendError's message already names its cause).
    let mut errors: Vec<(String, u64)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Err(error) = joined.context("a bulk session panicked")? {
            let error = error.to_string();
            match errors.iter_mut().find(|(seen, _)| *seen == error) {
                Some((_, count)) => *count += 1,
                None => errors.push((error, 1)),
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let accepted = tally.accepted.load(Ordering::Relaxed);
    let failed = bulk.count - accepted;
    let sessions_failed: u64 = errors.iter().map(|(_, count)| count).sum();
    let octets = accepted as f64 * message.len() as f64;
    println!(
        "bulk messages={} accepted={accepted} failed={failed} sessions={sessions} sessions_failed={sessions_failed} size={} seconds={seconds:.6} msgs_per_s={:.1} mb_per_s={:.1}",
        bulk.count,
        message.len(),
        accepted as f64 / seconds,
        octets / seconds / 1e6,
    );
    for (error, count) in &errors {
        eprintln!("smtp-send: {count} of {sessions} sessions failed: {error}");
    }
    match (failed, sessions_failed) {
        (0, 0) => Ok(()),
        (0, _) => bail!(
            "{sessions_failed} of {sessions} sessions failed \
             (every message was accepted over the others)"
        ),
        _ => bail!("{failed} of {} messages were not accepted", bulk.count),
    }
}

/// One session: connect, send messages while there are any left, QUIT.
async fn session(
    config: ClientConfig,
    envelope: &Envelope,
    message: &[u8],
    count: u64,
    tally: &Tally,
) -> Result<(), SendError> {
    // Nothing to do: do not even connect.
    if tally.next.load(Ordering::Relaxed) >= count {
        return Ok(());
    }
    let mut client = Client::connect(config).await?;
    // The first message not accepted by everyone, if it came with an error
    // (a refused sender, a session failure): it ends the session.
    let failure: OnceLock<SendError> = OnceLock::new();
    let messages = std::iter::from_fn(|| {
        let go = failure.get().is_none() && tally.next.fetch_add(1, Ordering::Relaxed) < count;
        go.then_some((envelope, message))
    });
    let sent = client
        .send_each(messages, |_, report| match report {
            // A message not accepted by everyone counts as failed (the
            // count minus the accepted ones).
            Ok(report) => {
                if report.all_accepted() {
                    tally.accepted.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(error) => {
                let _ = failure.set(error);
            }
        })
        .await;
    let _ = client.quit().await;
    match failure.into_inner() {
        Some(error) => Err(error),
        None => sent,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10000"), Ok(10000));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("100m"), Ok(100 << 20));
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn generated_messages_have_the_asked_size_and_short_lines() {
        for size in [300, 1024, 1025, 1026, 10_000, 100_003] {
            let m = generate_message("a@example.test", "b@example.test", size).unwrap();
            assert_eq!(m.len(), size, "size {size}");
            assert!(m.ends_with(b"\r\n"));
            assert!(m.split(|&b| b == b'\n').all(|line| line.len() <= 1000));
            // Every LF is part of a CRLF pair.
            let lfs = m.iter().filter(|&&b| b == b'\n').count();
            assert_eq!(lfs, m.windows(2).filter(|w| w == b"\r\n").count());
        }
        // Smaller than the header section: the header section alone.
        let m = generate_message("a@example.test", "b@example.test", 10).unwrap();
        assert!(m.ends_with(b"\r\n\r\n"));
    }
}

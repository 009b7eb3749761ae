//! Independent clients driving `smtp-receive`: Python's smtplib, curl,
//! swaks, msmtp and Postfix's smtp-source. Each case starts its own
//! receiver (fresh Maildir) and checks every message that should have
//! arrived: how many, the envelope in the trace fields, the RFC 3848
//! protocol name (which tells TLS and AUTH as the receiver saw them), and
//! the content byte for byte after the trace fields.

mod curl;
mod msmtp;
mod smtp_source;
mod smtplib;
mod swaks;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Result, bail, ensure};
use smtp_peers::{CommandOutput, StoredFile, run_with_timeout};

use super::messages::MessageSpec;
use super::ours::Receiver;

/// How long a client may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// The envelope sender of every client.
const FROM: &str = "sender@client.test";

/// What one delivered message must look like.
pub struct Expect<'a> {
    /// MAIL FROM.
    pub from: &'a str,
    /// RCPT TO, in any order.
    pub rcpts: &'a [&'a str],
    /// RFC 3848 `with` keyword: ESMTP, ESMTPS (TLS), ESMTPSA (TLS + AUTH).
    pub protocol: &'a str,
}

impl Expect<'_> {
    /// Checks the trace fields the receiver prepended (RFC 5321 §4.4).
    pub fn check_trace(&self, file: &StoredFile) -> Result<()> {
        let name = file.path.display();
        let return_path = file.header("Return-Path").unwrap_or_default();
        ensure!(
            return_path == format!("<{}>", self.from),
            "{name}: Return-Path {return_path:?}, expected <{}>",
            self.from
        );
        let mut seen: Vec<String> = file
            .header("X-Original-To")
            .unwrap_or_default()
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        let mut want: Vec<String> = self.rcpts.iter().map(|r| r.to_string()).collect();
        seen.sort();
        want.sort();
        ensure!(
            seen == want,
            "{name}: recipients {seen:?}, expected {want:?}"
        );
        let received = file.header("Received").unwrap_or_default();
        ensure!(
            received.contains(&format!(" with {} ", self.protocol)),
            "{name}: Received: {received:?} does not say `with {}` (RFC 3848)",
            self.protocol
        );
        Ok(())
    }
}

/// Every stored file holds `expected` after the receiver's trace fields.
pub fn check_content(file: &StoredFile, expected: &[u8]) -> Result<()> {
    match file.prefix_before(expected) {
        Some(prefix) if prefix.starts_with("Return-Path:") => Ok(()),
        Some(prefix) => bail!(
            "{}: unexpected text before the message: {prefix:?}",
            file.path.display()
        ),
        None => bail!(
            "{}: the stored message differs from what the client sent ({} stored octets, {} sent; first difference near {:?})",
            file.path.display(),
            file.bytes.len(),
            expected.len(),
            first_difference(
                &file.normalized(),
                &smtp_peers::normalize_newlines(expected)
            )
        ),
    }
}

/// Where the stored tail stops matching the expected text, for messages.
fn first_difference(stored: &[u8], expected: &[u8]) -> String {
    let common = stored
        .iter()
        .rev()
        .zip(expected.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let at = expected.len().saturating_sub(common);
    let from = at.saturating_sub(40);
    String::from_utf8_lossy(&expected[from..(at + 20).min(expected.len())]).into_owned()
}

/// Waits briefly for `count` messages (delivery is done before 250, but the
/// client may exit a moment before the receiver renames the file).
pub fn delivered(receiver: &mut Receiver, count: usize) -> Result<Vec<StoredFile>> {
    let got = smtp_peers::poll_until(Duration::from_secs(5), || {
        receiver.messages().ok().filter(|m| m.len() >= count)
    });
    receiver.check_running()?;
    let messages = receiver.messages()?;
    ensure!(
        got.is_some() && messages.len() == count,
        "{} message(s) in the Maildir, expected {count}",
        messages.len()
    );
    Ok(messages)
}

/// The receiver's transcript shows `AUTH MECH` (smtplib's login() picks
/// PLAIN when offered; curl and msmtp are told which one to use).
pub fn check_mechanism(receiver: &mut Receiver, mech: &str) -> Result<()> {
    ensure!(
        receiver
            .stop_and_transcript()
            .contains(&format!("C: AUTH {mech}")),
        "no `AUTH {mech}` in the receiver's transcript"
    );
    Ok(())
}

/// A case's test message, written to `DIR/message.eml`.
pub fn message_file(dir: &Path, to: &[&str], subject: &str) -> Result<(Vec<u8>, PathBuf)> {
    let bytes = MessageSpec::new(FROM, to, subject).build();
    let path = dir.join("message.eml");
    std::fs::write(&path, &bytes)?;
    Ok((bytes, path))
}

pub fn run_client(
    dir: &Path,
    name: &str,
    cmd: &mut Command,
    stdin: Option<&Path>,
) -> Result<CommandOutput> {
    Ok(run_with_timeout(name, cmd, stdin, dir, CLIENT_TIMEOUT)?.success(name)?)
}

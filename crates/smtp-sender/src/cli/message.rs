//! Turning the command line into an envelope and the message bytes.

use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use smtp_mime::{Address, MessageBuilder};
use smtp_sender::Envelope;

use super::args::MessageArgs;
use super::header;

/// What to send, to whom.
pub struct Prepared {
    /// MAIL FROM / RCPT TO.
    pub envelope: Envelope,
    /// The message as it will be transmitted.
    pub message: Vec<u8>,
}

/// `--message FILE` (or `-`), or a message composed from the options.
pub fn prepare(args: &MessageArgs) -> Result<Prepared> {
    match &args.message {
        Some(path) => from_file(args, path),
        None => compose(args),
    }
}

/// The recipients of the options (`--to`, `--cc`, `--bcc`), as bare addresses.
pub fn given_recipients(args: &MessageArgs) -> Result<Vec<String>> {
    args.to
        .iter()
        .chain(&args.cc)
        .chain(&args.bcc)
        .map(|r| email_of(r))
        .collect()
}

/// `Name <a@b>` or `a@b` -> `a@b`.
pub fn email_of(address: &str) -> Result<String> {
    let parsed = Address::from_str(address).with_context(|| format!("address {address:?}"))?;
    Ok(parsed.email)
}

/// As `smtplib.send_message`: the envelope from the options when given, else
/// from the headers; Bcc is always removed from the transmitted copy.
fn from_file(args: &MessageArgs, path: &Path) -> Result<Prepared> {
    let raw = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the message from stdin")?;
        buf
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
    };
    let found = smtp_mime::envelope_from_headers(&raw);
    let from = match &args.from {
        Some(from) => email_of(from)?,
        None => found
            .from
            .context("the message has no From header: give the sender with --from")?,
    };
    let mut recipients = given_recipients(args)?;
    if recipients.is_empty() {
        recipients = found.recipients;
    }
    if recipients.is_empty() {
        bail!("no recipients: the message has no To/Cc/Bcc header; give them with --to");
    }
    Ok(Prepared {
        envelope: Envelope::new(&from, &recipients)?,
        message: found.message,
    })
}

/// A new message through smtp-mime (Date and Message-ID generated).
fn compose(args: &MessageArgs) -> Result<Prepared> {
    let Some(from) = &args.from else {
        bail!("--from is required to compose a message (or send a file with --message)");
    };
    let recipients = given_recipients(args)?;
    if recipients.is_empty() {
        bail!("no recipients: give at least one --to, --cc or --bcc");
    }
    let from_address = Address::from_str(from).with_context(|| format!("--from {from:?}"))?;
    let envelope = Envelope::new(&from_address.email, &recipients)?;

    let mut builder = MessageBuilder::new().from(from_address);
    for to in &args.to {
        builder = builder.to(Address::from_str(to)?);
    }
    for cc in &args.cc {
        builder = builder.cc(Address::from_str(cc)?);
    }
    // Bcc recipients are in the envelope only: no header would hide them better.
    if let Some(subject) = &args.subject {
        builder = builder.subject(subject);
    }
    builder = header::add_headers(builder, args)?;
    let text = match (&args.text, &args.text_file) {
        (Some(text), _) => Some(text.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        (None, None) => None,
    };
    let html = match &args.html_file {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => None,
    };
    if text.is_none() && html.is_none() && args.attach.is_empty() {
        bail!("nothing to send: give --text, --text-file, --html-file, --attach or --message");
    }
    if let Some(text) = text {
        builder = builder.text(text);
    }
    if let Some(html) = html {
        builder = builder.html(html);
    }
    for path in &args.attach {
        builder = builder
            .attach_file(path)
            .with_context(|| format!("attaching {}", path.display()))?;
    }
    let composed = builder.build().context("composing the message")?;
    Ok(Prepared {
        envelope,
        message: composed.bytes,
    })
}

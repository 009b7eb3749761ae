//! The demo's conversations between `smtp-sender` and `smtp-receiver`,
//! shared by `cargo xtask demo` (which prints them) and the end-to-end tests
//! (which assert on them), so the two never drift apart.
//!
//! Each conversation returns what a learner should see (the client's
//! transcript, the per-recipient report, what landed in the Maildir) and the
//! checks that make the demo fail when something is wrong.

use std::collections::BTreeSet;

use smtp_mime::{Address, Attachment, MessageBuilder, inspect};
use smtp_sender::{Client, ClientConfig, Envelope, Outcome, Report, TlsMode};
use smtp_wire::transcript::TranscriptLine;

use crate::harness::{DOMAIN, Receiver, StoredMessage};

pub mod raw;

/// One check of a conversation: what was expected, and whether it held.
#[derive(Debug, Clone)]
pub struct Check {
    /// Whether it held.
    pub passed: bool,
    /// What was checked, in words.
    pub what: String,
}

/// What one conversation showed.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// A short title.
    pub title: &'static str,
    /// What the conversation demonstrates and where the rules are written.
    pub about: &'static str,
    /// The client-side transcript (`C:` / `S:`), AUTH redacted.
    pub transcript: Vec<TranscriptLine>,
    /// The per-recipient report, one line each.
    pub report: Vec<String>,
    /// The messages this conversation added to the Maildir.
    pub delivered: Vec<StoredMessage>,
    /// The checks; the demo fails when one does not pass.
    pub checks: Vec<Check>,
}

impl Conversation {
    fn new(title: &'static str, about: &'static str) -> Self {
        Conversation {
            title,
            about,
            transcript: Vec::new(),
            report: Vec::new(),
            delivered: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// True when every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    fn check(&mut self, passed: bool, what: impl Into<String>) {
        self.checks.push(Check {
            passed,
            what: what.into(),
        });
    }
}

/// Runs every conversation, in order, against `receiver`.
pub async fn run_all(receiver: &Receiver) -> Vec<Conversation> {
    vec![
        classic_rfc821(receiver).await,
        esmtp_auth_mime(receiver).await,
        pipelined_refusal(receiver).await,
        dots_and_smuggling(receiver).await,
        raw::smuggling_attack(receiver).await,
    ]
}

/// 1. The classic RFC 821 exchange (HELO, MAIL, RCPT, DATA, QUIT), inside
///    STARTTLS.
pub async fn classic_rfc821(receiver: &Receiver) -> Conversation {
    let mut c = Conversation::new(
        "The classic RFC 821 exchange, over STARTTLS",
        "HELO, MAIL, RCPT, DATA, the message, <CRLF>.<CRLF>, QUIT: the exchange of RFC 821 \
         §3.1, unchanged in RFC 5321 §3.3. EHLO comes first only to learn that STARTTLS is \
         offered (RFC 3207); after the switch the client speaks plain HELO, no extensions.",
    );
    let message = b"From: Alice <alice@client.example.com>\r\n\
To: Bob <bob@example.org>\r\n\
Subject: Hello, RFC 821\r\n\
\r\n\
Bob,\r\n\
this travelled the way RFC 821 describes it in 1982:\r\n\
a reverse-path, a forward-path, and the mail data.\r\n\
-- Alice\r\n";
    let mut config = receiver.client_config(TlsMode::StartTls);
    config.classic = true;
    let sent = send_one(
        &mut c,
        receiver,
        config,
        "alice@client.example.com",
        &["bob@example.org"],
        message,
    )
    .await;
    if let Some(report) = sent {
        c.check(report.all_accepted(), "the recipient accepted the message");
        let helo = c.transcript.iter().any(|l| l.text.starts_with("HELO "));
        c.check(helo, "the client greeted with HELO after the TLS switch");
        let terminator = c.transcript.iter().any(|l| l.text == ".");
        c.check(terminator, "the data ended with <CRLF>.<CRLF>");
    }
    expect_delivered(&mut c, &[message.as_slice()]);
    c
}

/// 2. ESMTP over implicit TLS, with AUTH PLAIN and a MIME message.
pub async fn esmtp_auth_mime(receiver: &Receiver) -> Conversation {
    let mut c = Conversation::new(
        "ESMTP over implicit TLS, AUTH PLAIN, a MIME message",
        "TLS from the first byte (RFC 8314 §3.3, the port-465 style of smtplib.SMTP_SSL), \
         EHLO and its extensions (RFC 5321 §4.1.1.1), AUTH PLAIN (RFC 4954, RFC 4616), and a \
         multipart message with an HTML alternative and an attachment (RFC 2045-2049).",
    );
    let text = "Hi Bob,\n\nthe figures are attached; the HTML part has them in bold.\n\nAlice\n";
    let html = "<p>Hi Bob,</p><p>the figures are <b>attached</b>.</p><p>Alice</p>";
    let attachment = Attachment {
        filename: "figures.csv".into(),
        content_type: "text/csv".into(),
        // A text file as it sits on a Unix disk: LF lines, which is how a
        // Maildir stores text (docs/receiver.md, "Storage format").
        bytes: b"month,messages\njanuary,1821\nfebruary,5321\n".to_vec(),
    };
    let composed = MessageBuilder::new()
        .from(Address {
            name: Some("Alice".into()),
            email: "alice@client.example.com".into(),
        })
        .to(Address {
            name: Some("Bob".into()),
            email: format!("bob@{DOMAIN}"),
        })
        .subject("Quarterly figures")
        .text(text)
        .html(html)
        .attach(attachment.clone())
        .build();
    let composed = match composed {
        Ok(m) => m,
        Err(e) => {
            c.check(false, format!("composing the message: {e}"));
            return c;
        }
    };
    let config = receiver.client_config_with_auth(TlsMode::Implicit);
    let sent = send_one(
        &mut c,
        receiver,
        config,
        "alice@client.example.com",
        &["bob@example.org"],
        &composed.bytes,
    )
    .await;
    if let Some(report) = sent {
        c.check(report.all_accepted(), "the recipient accepted the message");
    }
    let redacted = c
        .transcript
        .iter()
        .any(|l| l.text == "AUTH PLAIN <redacted>");
    c.check(redacted, "AUTH PLAIN was used and its secret redacted");
    expect_delivered(&mut c, &[composed.bytes.as_slice()]);
    if let Some(stored) = c.delivered.first() {
        let seen = inspect(&stored.bytes);
        let esmtpsa = seen.received.iter().any(|r| r.contains("ESMTPSA"));
        c.check(
            esmtpsa,
            "Received: says `with ESMTPSA` (TLS + AUTH, RFC 3848)",
        );
        let same_text = seen.text.as_deref().map(normalize) == Some(normalize(text));
        c.check(same_text, "the text part arrived intact");
        let same_html = seen.html.as_deref().map(normalize) == Some(normalize(html));
        c.check(same_html, "the HTML alternative arrived intact");
        let same_attachment = seen
            .attachments
            .iter()
            .any(|a| a.filename == attachment.filename && a.bytes == attachment.bytes);
        c.check(same_attachment, "the attachment arrived byte for byte");
    }
    c
}

/// 3. PIPELINING with one recipient refused.
pub async fn pipelined_refusal(receiver: &Receiver) -> Conversation {
    let mut c = Conversation::new(
        "A pipelined transaction with one recipient refused",
        "With PIPELINING (RFC 2920 §3.1) MAIL, every RCPT and DATA go out in one flight and \
         the replies come back in order. The receiver is not an open relay (RFC 5321 §3.6.2): \
         it refuses the recipient outside its domain, and the others still get the message.",
    );
    let message = b"From: alice@client.example.com\r\n\
To: bob@example.org, carol@example.org, mallory@elsewhere.test\r\n\
Subject: Pipelined\r\n\
\r\n\
One flight of commands, three recipients, one refusal.\r\n";
    let recipients = [
        "bob@example.org",
        "carol@example.org",
        "mallory@elsewhere.test",
    ];
    let config = receiver.client_config(TlsMode::StartTls);
    let sent = send_one(
        &mut c,
        receiver,
        config,
        "alice@client.example.com",
        &recipients,
        message,
    )
    .await;
    if let Some(report) = sent {
        let outcome = |n: usize| report.recipients.get(n).map(|r| r.outcome);
        c.check(
            outcome(0) == Some(Outcome::Accepted) && outcome(1) == Some(Outcome::Accepted),
            "bob and carol accepted",
        );
        let refused = report
            .recipients
            .get(2)
            .is_some_and(|r| r.outcome == Outcome::Refused && r.reply.code == 550);
        c.check(
            refused,
            "mallory@elsewhere.test refused with 550 (relay denied)",
        );
    }
    let flight = pipelined_flight(&c.transcript);
    c.check(
        flight >= 5,
        format!("MAIL, 3 RCPT and DATA left in one flight ({flight} commands before a reply)"),
    );
    expect_delivered(&mut c, &[message.as_slice()]);
    c
}

/// 4. Dots at the start of lines and a bare-LF smuggling attempt, through
///    the sender: dot-stuffing on the wire, one message stored.
pub async fn dots_and_smuggling(receiver: &Receiver) -> Conversation {
    let mut c = Conversation::new(
        "Leading dots and a smuggling attempt, through the sender",
        "The sender's encoder doubles every leading '.' (RFC 5321 §4.5.2) and turns every bare \
         LF or CR into CRLF (§2.3.8), so the '\\n.\\n' hidden in this body can never end the \
         data early: the smuggled MAIL/RCPT/DATA arrive as text of the one message.",
    );
    let message: &[u8] = b"From: alice@client.example.com\r\n\
To: bob@example.org\r\n\
Subject: Dots\r\n\
\r\n\
.a line that starts with a dot\r\n\
..and one with two\r\n\
.\r\n\
the line above held a single dot.\r\n\
Next, a bare-LF smuggling attempt:\n.\nMAIL FROM:<mallory@attacker.test>\n\
RCPT TO:<victim@example.org>\nDATA\nSubject: smuggled\n\nthis must never become a message\n.\n\
The end.\r\n";
    let mut config = receiver.client_config(TlsMode::StartTls);
    // Show the whole body: the smuggling attempt is the point.
    config.transcript_limits.body_head_lines = 100;
    let sent = send_one(
        &mut c,
        receiver,
        config,
        "alice@client.example.com",
        &["bob@example.org"],
        message,
    )
    .await;
    if let Some(report) = sent {
        c.check(report.all_accepted(), "the recipient accepted the message");
    }
    let stuffed = c
        .transcript
        .iter()
        .any(|l| l.text == "..a line that starts with a dot");
    c.check(stuffed, "a leading '.' went out doubled");
    let bare = c.transcript.iter().any(|l| l.text.contains("\\n"));
    c.check(!bare, "no bare LF reached the wire");
    let expected = normalize_line_ends(message);
    expect_delivered(&mut c, &[expected.as_slice()]);
    c
}

/// Sends `message` over a fresh connection, recording the transcript and the
/// report in `c`; `None` when the session failed (recorded as a failed check).
async fn send_one(
    c: &mut Conversation,
    receiver: &Receiver,
    config: ClientConfig,
    from: &str,
    to: &[&str],
    message: &[u8],
) -> Option<Report> {
    let before = maildir_names(receiver);
    let envelope = match Envelope::new(from, to) {
        Ok(e) => e,
        Err(e) => {
            c.check(false, format!("building the envelope: {e}"));
            return None;
        }
    };
    let mut client = match Client::connect(config).await {
        Ok(client) => client,
        Err(e) => {
            c.check(false, format!("connecting: {e}"));
            return None;
        }
    };
    let result = client.send(&envelope, message).await;
    let quit = client.quit().await;
    c.transcript = client.transcript().lines();
    collect_delivered(c, receiver, &before);
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            c.check(false, format!("sending: {e}"));
            return None;
        }
    };
    c.check(
        quit.is_ok(),
        "QUIT was answered and the session closed cleanly",
    );
    c.report = report
        .recipients
        .iter()
        .map(|r| format!("{:<8} {}  {}", r.outcome, r.recipient, r.reply))
        .collect();
    if let Some(data) = &report.data_reply {
        c.report.push(format!("message  {data}"));
    }
    Some(report)
}

fn maildir_names(receiver: &Receiver) -> BTreeSet<std::path::PathBuf> {
    receiver
        .messages()
        .map(|all| all.into_iter().map(|m| m.path).collect())
        .unwrap_or_default()
}

fn collect_delivered(
    c: &mut Conversation,
    receiver: &Receiver,
    before: &BTreeSet<std::path::PathBuf>,
) {
    match receiver.messages() {
        Ok(all) => c
            .delivered
            .extend(all.into_iter().filter(|m| !before.contains(&m.path))),
        Err(e) => c.check(false, format!("reading the Maildir: {e}")),
    }
}

/// Checks that exactly `expected` arrived (after the trace fields).
fn expect_delivered(c: &mut Conversation, expected: &[&[u8]]) {
    c.check(
        c.delivered.len() == expected.len(),
        format!(
            "{} message(s) landed in the Maildir (expected {})",
            c.delivered.len(),
            expected.len()
        ),
    );
    for (stored, want) in c.delivered.iter().zip(expected) {
        // Maildir files hold LF line ends (docs/receiver.md, "Storage format").
        let same = stored.without_trace() == smtp_peers::normalize_newlines(want);
        c.checks.push(Check {
            passed: same,
            what: "the stored message is what was sent, byte for byte but for the Maildir's LF \
                   line ends (after its trace fields)"
                .into(),
        });
        let traced = stored.bytes.starts_with(b"Return-Path: <")
            && stored.bytes.windows(10).any(|w| w == b"\nReceived:");
        c.checks.push(Check {
            passed: traced,
            what: "Return-Path: and Received: trace fields were added (RFC 5321 §4.4)".into(),
        });
    }
}

/// How many client commands were written before the first reply after the
/// first MAIL: the size of the pipelined flight.
fn pipelined_flight(transcript: &[TranscriptLine]) -> usize {
    use smtp_wire::transcript::Direction;
    let start = transcript
        .iter()
        .position(|l| l.dir == Some(Direction::Client) && l.text.starts_with("MAIL "));
    start.map_or(0, |start| {
        transcript[start..]
            .iter()
            .take_while(|l| l.dir == Some(Direction::Client))
            .count()
    })
}

/// Line ends as they travel: every bare CR or LF becomes CRLF (RFC 5321 §2.3.8).
pub fn normalize_line_ends(input: &[u8]) -> Vec<u8> {
    let mut encoder = smtp_wire::DotStuffer::crlf_only();
    let mut out = Vec::with_capacity(input.len() + 16);
    encoder.encode(input, &mut out);
    encoder.finish(&mut out);
    out
}

/// Text compared without regard to line ends or trailing white space.
fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n").trim_end().to_string()
}

/// Renders a transcript the way it is recorded (for documents and tests).
pub fn render(transcript: &[TranscriptLine]) -> String {
    let mut out = String::new();
    for line in transcript {
        if let Some(dir) = line.dir {
            out.push_str(dir.prefix());
        }
        out.push_str(&line.text);
        out.push('\n');
    }
    out
}

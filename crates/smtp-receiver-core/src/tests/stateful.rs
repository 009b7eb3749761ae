//! Stateful property tests of the session machine.
//!
//! * [`the_session_follows_the_reference_model`]: random sequences of
//!   well-formed commands (pipelined in random batches, cut at random read
//!   boundaries) get, reply for reply, the codes a small reference model of
//!   RFC 5321 §4.1.4 (with RFC 3030 and RFC 3207) predicts.
//! * [`invariants_hold_under_arbitrary_input`]: random commands, message
//!   text, garbage, TLS handshakes, application refusals and the passing of
//!   time; whatever comes, every reply is well-formed, there is never more
//!   than one reply per line received, never a message without an accepted
//!   recipient nor more messages than DATA/BDAT commands, never a `250` to
//!   the end of the data that the application did not give, and the replies
//!   do not depend on how the input was cut into reads.

use proptest::prelude::*;
use smtp_wire::Reply;

use super::harness::Harness;

/// A well-formed client step of the model test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Ehlo,
    Helo,
    Mail,
    MailNull,
    RcptLocal,
    RcptForeign,
    /// DATA, then a five-line message ending in `<CRLF>.<CRLF>`.
    Data,
    /// `BDAT 5` and its five octets.
    Bdat,
    /// `BDAT 3 LAST` and its three octets.
    BdatLast,
    Rset,
    Noop,
    Help,
    Unknown,
    StartTls,
    Quit,
}

/// The message lines sent after `DATA` (five lines, the last the dot).
const MESSAGE: &str = "Subject: x\r\n\r\nhi\r\n..dot\r\n.\r\n";

impl Cmd {
    fn bytes(self) -> &'static str {
        match self {
            Cmd::Ehlo => "EHLO client.example\r\n",
            Cmd::Helo => "HELO client.example\r\n",
            Cmd::Mail => "MAIL FROM:<a@client.example>\r\n",
            Cmd::MailNull => "MAIL FROM:<>\r\n",
            Cmd::RcptLocal => "RCPT TO:<b@example.org>\r\n",
            Cmd::RcptForeign => "RCPT TO:<b@elsewhere.test>\r\n",
            Cmd::Data => "DATA\r\nSubject: x\r\n\r\nhi\r\n..dot\r\n.\r\n",
            Cmd::Bdat => "BDAT 5\r\nhello",
            Cmd::BdatLast => "BDAT 3 LAST\r\nbye",
            Cmd::Rset => "RSET\r\n",
            Cmd::Noop => "NOOP\r\n",
            Cmd::Help => "HELP\r\n",
            Cmd::Unknown => "XYZZY\r\n",
            Cmd::StartTls => "STARTTLS\r\n",
            Cmd::Quit => "QUIT\r\n",
        }
    }
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        3 => Just(Cmd::Ehlo),
        1 => Just(Cmd::Helo),
        4 => Just(Cmd::Mail),
        1 => Just(Cmd::MailNull),
        5 => Just(Cmd::RcptLocal),
        2 => Just(Cmd::RcptForeign),
        3 => Just(Cmd::Data),
        2 => Just(Cmd::Bdat),
        2 => Just(Cmd::BdatLast),
        2 => Just(Cmd::Rset),
        1 => Just(Cmd::Noop),
        1 => Just(Cmd::Help),
        1 => Just(Cmd::Unknown),
        1 => Just(Cmd::StartTls),
        1 => Just(Cmd::Quit),
    ]
}

/// What the client said hello with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hello {
    None,
    Helo,
    Ehlo,
}

/// The reference model: the state RFC 5321 §4.1.4 and RFC 3030 talk
/// about, and nothing else.
#[derive(Debug, Clone)]
struct Model {
    hello: Hello,
    /// A transaction (after MAIL): its accepted recipients, and whether a
    /// BDAT transfer is under way.
    transaction: Option<(usize, bool)>,
    tls: bool,
    closed: bool,
    /// Errors answered so far.
    errors: u32,
}

/// What the model predicts for one step: the reply codes, and whether the
/// TLS handshake follows.
struct Predicted {
    codes: Vec<u16>,
    handshake: bool,
}

impl Model {
    fn new() -> Model {
        Model {
            hello: Hello::None,
            transaction: None,
            tls: false,
            closed: false,
            errors: 0,
        }
    }

    fn in_bdat(&self) -> bool {
        matches!(self.transaction, Some((_, true)))
    }

    fn step(&mut self, cmd: Cmd) -> Predicted {
        let mut handshake = false;
        // RFC 3030 §3: between BDAT chunks only BDAT, RSET, QUIT and the
        // commands allowed anywhere (NOOP, HELP; RFC 5321 §4.1.4).
        let between_chunks_refused = self.in_bdat()
            && !matches!(
                cmd,
                Cmd::Bdat | Cmd::BdatLast | Cmd::Rset | Cmd::Quit | Cmd::Noop | Cmd::Help
            );
        let codes = if between_chunks_refused {
            match cmd {
                // The message lines after a refused DATA are read as
                // commands: none of them is one (RFC 2920 §3.1).
                Cmd::Data => vec![503, 500, 500, 500, 500, 500],
                Cmd::Unknown => vec![500],
                _ => vec![503],
            }
        } else {
            match cmd {
                // RFC 5321 §4.1.4: EHLO and HELO clear the transaction.
                Cmd::Ehlo | Cmd::Helo => {
                    self.hello = if cmd == Cmd::Ehlo {
                        Hello::Ehlo
                    } else {
                        Hello::Helo
                    };
                    self.transaction = None;
                    vec![250]
                }
                // RFC 5321 §4.1.4: MAIL needs a hello and no transaction
                // under way.
                Cmd::Mail | Cmd::MailNull => {
                    if self.hello == Hello::None || self.transaction.is_some() {
                        vec![503]
                    } else {
                        self.transaction = Some((0, false));
                        vec![250]
                    }
                }
                Cmd::RcptLocal => match &mut self.transaction {
                    None => vec![503],
                    Some((n, _)) => {
                        *n += 1;
                        vec![250]
                    }
                },
                // RFC 5321 §3.6: no relaying for a domain not ours.
                Cmd::RcptForeign => match self.transaction {
                    None => vec![503],
                    Some(_) => vec![550],
                },
                // RFC 5321 §3.3: DATA needs an accepted recipient; when it
                // is refused, the message lines are read as commands.
                Cmd::Data => match self.transaction {
                    Some((n, false)) if n > 0 => {
                        self.transaction = None;
                        vec![354, 250]
                    }
                    _ => vec![503, 500, 500, 500, 500, 500],
                },
                // RFC 3030 §2: BDAT needs EHLO, MAIL and a recipient; its
                // octets are read whatever the reply.
                Cmd::Bdat | Cmd::BdatLast => match self.transaction {
                    Some((n, _)) if n > 0 && self.hello == Hello::Ehlo => {
                        self.transaction = if cmd == Cmd::Bdat {
                            Some((n, true))
                        } else {
                            None
                        };
                        vec![250]
                    }
                    _ => vec![503],
                },
                Cmd::Rset => {
                    self.transaction = None;
                    vec![250]
                }
                Cmd::Noop => vec![250],
                Cmd::Help => vec![214],
                Cmd::Unknown => vec![500],
                // RFC 3207 §4: once, after EHLO; §4.2: afterwards the
                // client knows nothing and says EHLO again.
                Cmd::StartTls => {
                    if self.tls || self.hello != Hello::Ehlo || self.transaction.is_some() {
                        vec![503]
                    } else {
                        handshake = true;
                        self.tls = true;
                        self.hello = Hello::None;
                        self.transaction = None;
                        vec![220]
                    }
                }
                Cmd::Quit => {
                    self.closed = true;
                    vec![221]
                }
            }
        };
        self.counted(codes, handshake)
    }

    /// The codes as the client sees them: RFC 5321 §4.1.4 leaves a server
    /// free to close after repeated errors; this one counts each 5xx to a
    /// command (`Limits::errors`, 10 by default) and then says 421 and
    /// closes. Nothing after that is answered.
    fn counted(&mut self, codes: Vec<u16>, handshake: bool) -> Predicted {
        let mut out = Vec::new();
        for code in codes {
            if self.closed && code != 221 {
                break;
            }
            out.push(code);
            if code >= 500 {
                self.errors += 1;
                if self.errors >= 10 {
                    out.push(421);
                    self.closed = true;
                }
            }
        }
        Predicted {
            codes: out,
            handshake: handshake && !self.closed,
        }
    }
}

/// `input` fed in pieces cut at `cuts` (offsets, any order), after what
/// the session left unused before: `pending` is the driver's read buffer,
/// whose unused octets are given again with the next ones (the contract of
/// [`crate::Session::poll`]).
fn feed_in_pieces(h: &mut Harness, pending: &mut Vec<u8>, input: &[u8], cuts: &[usize]) -> String {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    let mut out = String::new();
    let mut from = 0;
    for cut in cuts {
        pending.extend_from_slice(&input[from..cut]);
        from = cut;
        let (text, used) = h.feed(pending);
        out.push_str(&text);
        pending.drain(..used);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_session_follows_the_reference_model(
        steps in proptest::collection::vec((cmd(), any::<bool>(), proptest::collection::vec(any::<usize>(), 0..4)), 1..40),
    ) {
        let mut h = Harness::greeted();
        let mut pending = Vec::new();
        let mut model = Model::new();
        let mut batch = String::new();
        let mut expected: Vec<u16> = Vec::new();
        let mut cuts = Vec::new();
        for (n, (cmd, ends_batch, cut)) in steps.iter().enumerate() {
            if model.closed {
                break;
            }
            batch.push_str(cmd.bytes());
            let predicted = model.step(*cmd);
            expected.extend(&predicted.codes);
            cuts.extend(cut.iter().copied());
            // A batch is what a pipelining client sends before it reads
            // the replies; it ends at a STARTTLS (RFC 2920 §3.1: STARTTLS
            // ends a group) and at QUIT.
            if *ends_batch || *cmd == Cmd::StartTls || model.closed || n + 1 == steps.len() {
                let out = feed_in_pieces(&mut h, &mut pending, batch.as_bytes(), &cuts);
                let got = Harness::codes(&out);
                prop_assert_eq!(&got, &expected, "after {:?}\n{}", &steps[..=n], out);
                if predicted.handshake {
                    prop_assert!(h.starttls, "the handshake follows the 220");
                    h.starttls = false;
                    h.session.tls_established();
                }
                batch.clear();
                expected.clear();
                cuts.clear();
            }
        }
        prop_assert_eq!(h.closed, model.closed);
    }
}

/// One step of the invariants test.
#[derive(Debug, Clone)]
enum Step {
    /// Bytes from the client: a command of the model, message text, or
    /// anything.
    Bytes(Vec<u8>),
    /// The application refuses what it is asked from now on (or accepts).
    AppRefuses(bool),
    /// Time passes by this many seconds (the deadlines apply).
    Wait(u16),
}

fn step() -> impl Strategy<Value = Step> {
    let text = prop_oneof![
        Just(MESSAGE.to_string()),
        Just("..\r\n".to_string()),
        Just(".\r\n".to_string()),
        Just("line\nbare\r\n".to_string()),
        Just("BDAT 10\r\n".to_string()),
        Just("AUTH PLAIN AGEAYg==\r\n".to_string()),
        Just("MAIL FROM:<a@x.example> BODY=8BITMIME SIZE=10\r\n".to_string()),
    ];
    prop_oneof![
        8 => cmd().prop_map(|c| Step::Bytes(c.bytes().as_bytes().to_vec())),
        2 => text.prop_map(|t| Step::Bytes(t.into_bytes())),
        2 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Step::Bytes),
        1 => any::<bool>().prop_map(Step::AppRefuses),
        1 => (0u16..700).prop_map(Step::Wait),
    ]
}

/// Checks every reply line: a code from 2xx to 5xx, `-` or space, at most
/// 512 octets with its CRLF (RFC 5321 §4.2, §4.5.3.1.5); returns how many
/// replies there were (multi-line replies once).
fn check_replies(out: &str) -> Result<usize, TestCaseError> {
    prop_assert!(out.is_empty() || out.ends_with("\r\n"), "{out:?}");
    let mut replies = 0;
    for line in out.split_terminator("\r\n") {
        let bytes = line.as_bytes();
        prop_assert!(bytes.len() >= 3 && bytes.len() + 2 <= 512, "{line:?}");
        prop_assert!(
            (b'2'..=b'5').contains(&bytes[0]) && bytes[1..3].iter().all(u8::is_ascii_digit),
            "{line:?}"
        );
        match bytes.get(3) {
            None | Some(b' ') => replies += 1,
            Some(b'-') => {}
            Some(_) => prop_assert!(false, "{line:?}"),
        }
    }
    Ok(replies)
}

/// Runs `steps` on a fresh session, the input cut at `cuts`; returns the
/// output and checks the invariants on the way.
fn run_steps(steps: &[Step], cuts: &[usize]) -> Result<String, TestCaseError> {
    let mut h = Harness::greeted();
    let mut pending = Vec::new();
    let mut out = String::new();
    let mut lines_in = 0;
    let mut transfers_in = 0;
    let mut refuses = false;
    let mut accepted_by_app = 0;
    for step in steps {
        if h.closed {
            break;
        }
        match step {
            Step::Bytes(bytes) => {
                lines_in += bytes.iter().filter(|&&b| b == b'\n').count();
                let upper = String::from_utf8_lossy(bytes).to_ascii_uppercase();
                transfers_in += upper.matches("DATA").count() + upper.matches("BDAT").count();
                let before = h.messages.len();
                out.push_str(&feed_in_pieces(&mut h, &mut pending, bytes, cuts));
                if !refuses {
                    accepted_by_app += h.messages.len() - before;
                }
                if h.starttls {
                    h.starttls = false;
                    h.session.tls_established();
                    pending.clear();
                }
            }
            Step::AppRefuses(no) => {
                refuses = *no;
                let verdict = if *no {
                    Err(Reply::new(554, "5.7.1 refused by the application"))
                } else {
                    Ok(())
                };
                h.data_verdict = verdict.clone();
                h.verdict = Box::new(move |_| verdict.clone());
            }
            Step::Wait(secs) => {
                h.advance(std::time::Duration::from_secs(u64::from(*secs)));
                out.push_str(&h.send(""));
            }
        }
    }
    let replies = check_replies(&out)?;
    // One reply per line received at most, and one 421 when time runs out
    // (RFC 2920 §3.1, RFC 5321 §4.5.3.2).
    prop_assert!(
        replies <= lines_in + 1,
        "{replies} replies to {lines_in} lines:\n{out}"
    );
    // A message needs an accepted recipient (RFC 5321 §3.3), and one DATA
    // or BDAT transfer gives one message at most.
    prop_assert!(h.envelopes.iter().all(|e| !e.recipients.is_empty()));
    prop_assert!(
        h.envelopes.len() <= transfers_in,
        "{} messages from {transfers_in} transfers",
        h.envelopes.len()
    );
    // A 250 to the end of the data only for what the application took.
    let queued = out.matches("250 2.0.0 Ok: queued as").count();
    prop_assert!(
        queued <= accepted_by_app,
        "{queued} queued, {accepted_by_app} accepted:\n{out}"
    );
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn invariants_hold_under_arbitrary_input(
        steps in proptest::collection::vec(step(), 1..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let whole = run_steps(&steps, &[])?;
        let cut = run_steps(&steps, &cuts)?;
        // Replies do not depend on how the input was read, except for the
        // queue ids, which count the messages of the process.
        let ids = |s: &str| {
            let mut pieces = s.split("queued as ");
            let first = pieces.next().unwrap_or_default().to_string();
            std::iter::once(first)
                .chain(pieces.map(|p| p.split_once("\r\n").map_or("", |(_, rest)| rest).to_string()))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(ids(&whole), ids(&cut));
    }
}

//! One transaction after another with PIPELINING (RFC 2920 §3.1): the next
//! transaction's group leaves right after the previous message's final dot,
//! before that message's reply is read, and the replies are shared out in
//! order. Driven by bytes alone, as a driver would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

mod support;

use smtp_sender_core::{
    Action, Connection, Envelope, Handover, Input, Machine, Message, Outcome, Preferences,
    ProtocolError, Quit, SendError, Timeouts, TlsMode, Transaction, TranscriptLimits, UntilWritten,
};
use smtp_sender_core::{Capabilities, Reply, ServerInfo, Step, TransportError, plan};
use support::steps::{handshake, protocol};

const PIPELINED: Preferences = Preferences {
    pipelining: true,
    chunking: false,
};

fn envelope() -> Envelope {
    Envelope::new("alice@example.com", &["bob@example.org"]).unwrap()
}

/// A connection after greeting and EHLO with these EHLO lines.
fn opened(ehlo: &str, now: Instant) -> Connection {
    let mut conn = Connection::new(Timeouts::default(), TranscriptLimits::default());
    let mut hs = handshake(TlsMode::None);
    let mut server = [&b"220 mx ESMTP\r\n"[..], ehlo.as_bytes()].into_iter();
    run(&mut conn, &mut hs, now, &mut server).unwrap();
    conn.handshake_done(&hs);
    conn
}

/// Runs `machine` to its end: every write is returned, every read gets the
/// next piece of `server` (the input check gets nothing).
fn run<'s>(
    conn: &mut Connection,
    machine: &mut impl Machine,
    now: Instant,
    server: &mut impl Iterator<Item = &'s [u8]>,
) -> Result<Vec<String>, SendError> {
    let mut writes = Vec::new();
    loop {
        match conn.poll(machine, now)? {
            Action::ReadReady => {}
            Action::Write(bytes) => writes.push(String::from_utf8(bytes).unwrap()),
            Action::Read => conn.handle(Input::Bytes(server.next().expect("a read too many"))),
            Action::Done => return Ok(writes),
            other => panic!("{other:?}"),
        }
    }
}

fn transaction<'a>(conn: &mut Connection, message: &'a [u8]) -> Transaction<'a> {
    conn.transaction(&envelope(), Message::new(message), PIPELINED)
        .unwrap()
}

/// A pipelining session whose first message ("One") is written, its
/// final dot included, and the second ("Two") prepared to follow it.
fn first_written(t0: Instant) -> (Connection, Transaction<'static>, Transaction<'static>) {
    let mut conn = opened("250-mx\r\n250 PIPELINING\r\n", t0);
    let mut first = transaction(&mut conn, b"One\r\n");
    let mut server = [&b"250 ok\r\n250 ok\r\n354 go\r\n"[..]].into_iter();
    let writes = run(&mut conn, &mut UntilWritten(&mut first), t0, &mut server).unwrap();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes[0].starts_with("MAIL FROM:<alice@example.com>"));
    assert_eq!(writes[1], "One\r\n.\r\n");
    assert!(first.awaits_only_final_reply());
    let second = conn
        .transaction_after(&first, &envelope(), Message::new(b"Two\r\n"), PIPELINED)
        .unwrap();
    (conn, first, second)
}

/// Runs [`Handover`] from `first` to `second`.
fn hand_over<'s, 'a>(
    conn: &mut Connection,
    first: &mut Transaction<'a>,
    second: &mut Transaction<'a>,
    now: Instant,
    server: &mut impl Iterator<Item = &'s [u8]>,
) -> Result<Vec<String>, SendError> {
    run(conn, &mut Handover::new(first, second), now, server)
}

fn accepted(conn: &mut Connection, tx: Transaction<'_>) -> bool {
    let report = conn.transaction_done(tx, Ok(())).unwrap();
    report.recipients[0].outcome == Outcome::Accepted
}

#[test]
fn the_next_group_follows_the_final_dot_in_one_round_trip() {
    let t0 = Instant::now();
    let (mut conn, mut first, mut second) = first_written(t0);
    // One read answers the first message and the second's whole group.
    let mut server =
        [&b"250 queued 1\r\n250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n"[..]].into_iter();
    let writes = hand_over(&mut conn, &mut first, &mut second, t0, &mut server).unwrap();
    // RSET: the first ran to its end (the connection's policy, RFC 5321
    // §4.1.1.5), then the group of RFC 2920 §3.1.
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(
        writes[0].starts_with("RSET\r\nMAIL FROM:<alice@example.com>"),
        "{writes:?}"
    );
    assert!(writes[0].ends_with("DATA\r\n"), "{writes:?}");
    assert!(server.next().is_none());
    assert!(accepted(&mut conn, first));

    // The second's replies are already in: its content leaves at once.
    let mut server = [&b"250 queued 2\r\n"[..]].into_iter();
    let writes = run(
        &mut conn,
        &mut UntilWritten(&mut second),
        t0,
        &mut std::iter::empty(),
    )
    .unwrap();
    assert_eq!(writes, ["Two\r\n.\r\n"]);
    run(&mut conn, &mut second, t0, &mut server).unwrap();
    assert!(accepted(&mut conn, second));

    // The transcript shows the order on the wire.
    let text = conn.transcript().render();
    let dot = text.find("C: .").unwrap();
    let rset = text.find("C: RSET").unwrap();
    let queued = text.find("S: 250 queued 1").unwrap();
    assert!(dot < rset && rset < queued, "{text}");
}

#[test]
fn a_final_reply_already_received_is_not_taken_for_an_unsolicited_one() {
    let t0 = Instant::now();
    let (mut conn, mut first, mut second) = first_written(t0);
    // The reply to the final dot came before the next group was written.
    conn.handle(Input::Bytes(b"250 queued 1\r\n"));
    let mut server = [&b"250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n"[..]].into_iter();
    let mut handover = Handover::new(&mut first, &mut second);
    assert!(handover.owes_reply());
    // No input check before the group: what is there answers the dot.
    assert!(matches!(
        conn.poll(&mut handover, t0).unwrap(),
        Action::Write(_)
    ));
    let writes = run(&mut conn, &mut handover, t0, &mut server).unwrap();
    assert!(writes.is_empty());
    assert!(!handover.owes_reply());
    assert!(accepted(&mut conn, first));
    let writes = run(&mut conn, &mut UntilWritten(&mut second), t0, &mut server).unwrap();
    assert_eq!(writes, ["Two\r\n.\r\n"]);

    let mut server = [&b"250 queued 2\r\n250 extra\r\n"[..]].into_iter();
    run(&mut conn, &mut second, t0, &mut server).unwrap();
    assert!(accepted(&mut conn, second));

    // Once nothing is owed, an extra reply is unsolicited again.
    let error = run(&mut conn, &mut Quit::new(), t0, &mut std::iter::empty()).unwrap_err();
    assert!(matches!(
        protocol(error),
        ProtocolError::UnexpectedServerReply { .. }
    ));
}

#[test]
fn a_refused_message_is_reported_and_the_next_one_goes_on() {
    let t0 = Instant::now();
    let (mut conn, mut first, mut second) = first_written(t0);
    // RFC 5321 §4.1.1.4: the dot ends the transaction whatever the reply,
    // so the group after it stands.
    let mut server = [
        &b"554 5.7.1 no thanks\r\n250 reset\r\n"[..],
        b"250 ok\r\n250 ok\r\n354 go\r\n",
    ]
    .into_iter();
    hand_over(&mut conn, &mut first, &mut second, t0, &mut server).unwrap();
    let report = conn.transaction_done(first, Ok(())).unwrap();
    assert!(matches!(report.recipients[0].outcome, Outcome::Refused));
    let writes = run(&mut conn, &mut UntilWritten(&mut second), t0, &mut server).unwrap();
    assert_eq!(writes, ["Two\r\n.\r\n"]);
    let mut server = [&b"250 queued 2\r\n"[..]].into_iter();
    run(&mut conn, &mut second, t0, &mut server).unwrap();
    assert!(accepted(&mut conn, second));
}

#[test]
fn a_421_after_the_dot_ends_both_transactions() {
    let t0 = Instant::now();
    let (mut conn, mut first, mut second) = first_written(t0);
    let mut server = [&b"421 4.3.2 going down\r\n"[..]].into_iter();
    let error = hand_over(&mut conn, &mut first, &mut second, t0, &mut server).unwrap_err();
    assert!(matches!(protocol(error), ProtocolError::ServiceClosing(_)));
    // Neither message was delivered, and both may be tried again.
    let closing = ProtocolError::ServiceClosing(Reply::new(421, "going down"));
    let first = conn.transaction_done(first, Err(closing.into()));
    assert!(first.is_err_and(|e| e.is_temporary()));
    let broken = TransportError::SessionBroken;
    let second = conn.transaction_done(second, Err(broken.into()));
    assert!(second.is_err_and(|e| e.is_temporary()));
}

#[test]
fn lmtp_hands_over_only_when_one_reply_is_owed() {
    let info = |rcpts: usize| {
        let env: Vec<String> = (0..rcpts).map(|i| format!("r{i}@example.org")).collect();
        let env = Envelope::new("alice@example.com", &env).unwrap();
        let server = ServerInfo {
            greeting: Reply::new(220, "mx"),
            capabilities: Capabilities::from_ehlo_lines(["mx", "PIPELINING"]),
            esmtp: true,
            tls: false,
            authenticated: false,
            lmtp: true,
        };
        (env, server)
    };
    for rcpts in [1, 2] {
        let (env, server) = info(rcpts);
        let message = Message::new(b"Hi\r\n");
        let plan = plan(&env, &message, &server, PIPELINED).unwrap();
        let mut tx = Transaction::new(&env, message, plan, false, false).unwrap();
        assert!(matches!(tx.next_step(), Step::Send { .. }), "the group");
        for _ in 0..=rcpts {
            tx.on_reply(Reply::new(250, "ok")).unwrap();
        }
        tx.on_reply(Reply::new(354, "go")).unwrap();
        assert!(matches!(tx.next_step(), Step::Send { .. }), "the content");
        // RFC 2033 §4.2: one reply per accepted recipient after the dot.
        assert_eq!(tx.awaits_only_final_reply(), rcpts == 1, "{rcpts}");
        if rcpts == 2 {
            tx.on_reply(Reply::new(250, "r0 saved")).unwrap();
            assert!(tx.awaits_only_final_reply(), "the last one");
        }
    }
}

#[test]
fn without_pipelining_the_next_transaction_waits_for_the_reply() {
    let t0 = Instant::now();
    let mut conn = opened("250-mx\r\n250 8BITMIME\r\n", t0);
    let mut first = transaction(&mut conn, b"One\r\n");
    assert!(!first.is_pipelined());
    let mut server = [&b"250 ok\r\n"[..], b"250 ok\r\n", b"354 go\r\n"].into_iter();
    let writes = run(&mut conn, &mut UntilWritten(&mut first), t0, &mut server).unwrap();
    assert_eq!(writes.len(), 4, "MAIL, RCPT, DATA, content: {writes:?}");
    let mut second = conn
        .transaction_after(&first, &envelope(), Message::new(b"Two\r\n"), PIPELINED)
        .unwrap();
    let mut server = [&b"250 queued 1\r\n"[..]].into_iter();
    let writes = hand_over(&mut conn, &mut first, &mut second, t0, &mut server).unwrap();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(accepted(&mut conn, first));
    // Now the second, one command per reply, RSET first.
    let mut server = [
        &b"250 reset\r\n"[..],
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"354 go\r\n",
    ]
    .into_iter();
    let writes = run(&mut conn, &mut UntilWritten(&mut second), t0, &mut server).unwrap();
    assert_eq!(writes[0], "RSET\r\n");
    assert_eq!(writes.last().map(String::as_str), Some("Two\r\n.\r\n"));
}

#[test]
fn bdat_and_refusals_are_not_handed_over() {
    let t0 = Instant::now();
    let mut conn = opened("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n", t0);
    let chunked = Preferences {
        pipelining: true,
        chunking: true,
    };
    // BDAT: a refused last chunk is followed by RSET, so the transaction
    // runs to its end before anything else is written.
    let mut tx = conn
        .transaction(&envelope(), Message::new(b"One\r\n"), chunked)
        .unwrap();
    let mut server = [&b"250 ok\r\n250 ok\r\n"[..], b"250 queued\r\n"].into_iter();
    let writes = run(&mut conn, &mut UntilWritten(&mut tx), t0, &mut server).unwrap();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes[1].starts_with("BDAT 5 LAST\r\n"));
    assert!(!tx.awaits_only_final_reply());
    assert!(server.next().is_none(), "run to its end");
    assert!(accepted(&mut conn, tx));

    // A refused sender (after the RSET of the completed transaction
    // before): RSET again, the transaction ends by itself.
    let mut tx = transaction(&mut conn, b"One\r\n");
    let mut server = [
        &b"250 reset\r\n550 no\r\n503 no\r\n503 no\r\n"[..],
        b"250 reset\r\n",
    ]
    .into_iter();
    run(&mut conn, &mut UntilWritten(&mut tx), t0, &mut server).unwrap();
    assert!(!tx.awaits_only_final_reply());
    assert!(server.next().is_none());
}

//! Timeouts (RFC 5321 §4.5.3.2) and graceful shutdown with injected time:
//! no sleeps, every instant chosen by the test.

use std::time::Duration;

use super::harness::{Harness, config, wall_clock};
use crate::{Abort, Event};

const SEC: Duration = Duration::from_secs(1);
const ENVELOPE: &str = "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<u@example.org>\r\n";

/// The deadline the session gives, as seconds from the harness's clock.
fn deadline_in(h: &Harness) -> Option<u64> {
    h.session
        .poll_timeout()
        .map(|at| at.duration_since(h.now).as_secs())
}

#[test]
fn the_command_deadline_is_five_minutes_per_line_not_per_read() {
    let mut h = Harness::greeted();
    assert_eq!(deadline_in(&h), Some(300), "RFC 5321 §4.5.3.2.7");
    // A line trickling in: each piece is read, the deadline stays.
    h.send("NO");
    h.advance(200 * SEC);
    h.send("O");
    assert_eq!(deadline_in(&h), Some(100));
    h.advance(99 * SEC);
    assert_eq!(h.send("P"), "", "one second left");
    h.advance(SEC);
    assert!(h.send("").starts_with("421 4.4.2 mx.example.org timeout"));
    assert!(h.closed);
}

#[test]
fn a_complete_line_renews_the_command_deadline() {
    let mut h = Harness::greeted();
    h.advance(299 * SEC);
    assert_eq!(h.codes_of("NOOP\r\n"), [250]);
    assert_eq!(deadline_in(&h), Some(300));
    h.advance(299 * SEC);
    assert_eq!(h.codes_of("NOOP\r\n"), [250]);
    assert!(!h.closed);
}

#[test]
fn message_data_has_three_minutes_per_64_kib_block() {
    let mut c = config();
    c.limits.text_line = None;
    let mut h = Harness::with(c, false);
    h.send(ENVELOPE);
    assert_eq!(h.codes_of("DATA\r\n"), [354]);
    assert_eq!(deadline_in(&h), Some(180), "RFC 5321 §4.5.3.2.5");
    // Less than a block: the deadline stays where it was.
    h.advance(100 * SEC);
    h.send(&"x".repeat(60_000));
    assert_eq!(deadline_in(&h), Some(80));
    // The block completes: a fresh three minutes for the next one.
    h.advance(70 * SEC);
    h.send(&"x".repeat(6_000));
    assert_eq!(deadline_in(&h), Some(180));
    // The next block never completes: 421, the message is abandoned.
    h.send("trickle");
    h.advance(180 * SEC);
    assert!(h.send("").starts_with("421 4.4.2 "), "cut off");
    assert_eq!(h.aborts, [Abort::Timeout]);
    assert!(h.messages.is_empty());
}

/// RFC 5321 §4.5.3.2.2: the client waits for the 354; writing it gets a
/// full command deadline however long the DATA line took.
#[test]
fn the_354_is_written_within_a_fresh_command_deadline() {
    let mut h = Harness::greeted();
    h.send(ENVELOPE);
    h.now += 299 * SEC;
    let (_, event) = h
        .session
        .poll(b"DATA\r\n", &mut Vec::new(), h.now, wall_clock());
    assert!(matches!(event, Event::Message(_)), "{event:?}");
    assert!(h.session.output().starts_with(b"354 "));
    assert_eq!(deadline_in(&h), Some(300));
}

#[test]
fn the_tls_handshake_has_its_own_deadline_and_times_out_silently() {
    let mut h = Harness::greeted();
    let out = h.send("EHLO c.example\r\nSTARTTLS\r\n");
    assert!(out.ends_with("220 2.0.0 Ready to start TLS\r\n"));
    assert!(h.starttls);
    assert_eq!(deadline_in(&h), Some(60));
    h.advance(60 * SEC);
    // RFC 3207 §4.1: no plaintext reply in the middle of a handshake.
    assert_eq!(h.send(""), "");
    assert!(h.closed);

    // Implicit TLS: the deadline runs from the first poll.
    let mut h = Harness::with_listener(config(), crate::ListenerKind::ImplicitTls);
    assert_eq!(h.feed(b"").0, "");
    assert!(h.starttls);
    assert_eq!(deadline_in(&h), Some(60));
    h.advance(60 * SEC);
    assert_eq!(h.send(""), "");
    assert!(h.closed);
}

#[test]
fn the_last_replies_have_a_deadline_too_then_none() {
    let mut h = Harness::greeted();
    assert_eq!(h.codes_of("QUIT\r\n"), [221]);
    assert_eq!(deadline_in(&h), Some(300), "for writing the 221");
    h.advance(300 * SEC);
    h.send("");
    assert_eq!(deadline_in(&h), None, "after that the driver gives up");
}

#[test]
fn a_shutdown_closes_an_idle_session_at_once() {
    let mut h = Harness::greeted();
    h.send("EHLO c.example\r\n");
    h.session.begin_shutdown(h.now + 30 * SEC);
    assert_eq!(
        h.send(""),
        "421 4.3.2 mx.example.org shutting down, try again later\r\n"
    );
    assert!(h.closed);
}

#[test]
fn a_message_in_data_may_finish_within_the_grace_period() {
    let mut h = Harness::greeted();
    h.send(ENVELOPE);
    h.send("DATA\r\nSubject: in flight\r\n\r\nfirst half\r\n");
    h.session.begin_shutdown(h.now + 30 * SEC);
    assert_eq!(
        deadline_in(&h),
        Some(30),
        "the grace period is the nearest deadline"
    );
    h.advance(20 * SEC);
    // The rest of the message, and a command pipelined behind it: the
    // command is answered, then the session closes.
    let out = h.send("second half\r\n.\r\nNOOP\r\n");
    assert_eq!(Harness::codes(&out), [250, 250, 421], "{out}");
    assert!(out.ends_with("421 4.3.2 mx.example.org shutting down, try again later\r\n"));
    assert_eq!(h.messages.len(), 1);
}

#[test]
fn the_grace_period_ends_a_message_that_does_not_finish() {
    let mut h = Harness::greeted();
    h.send(ENVELOPE);
    h.send("DATA\r\nSubject: never finished\r\n\r\n");
    h.session.begin_shutdown(h.now + 30 * SEC);
    h.advance(29 * SEC);
    assert_eq!(h.send("more\r\n"), "");
    h.advance(SEC);
    assert!(h.send("").starts_with("421 4.3.2 "));
    assert_eq!(h.aborts, [Abort::Shutdown]);
    assert!(h.messages.is_empty());
}

/// RFC 3030 §2: between two BDAT chunks the message is still in flight.
#[test]
fn between_bdat_chunks_the_message_gets_the_grace_period() {
    let mut h = Harness::greeted();
    h.send(ENVELOPE);
    assert_eq!(h.codes_of("BDAT 14\r\nSubject: x\r\n\r\n"), [250]);
    h.session.begin_shutdown(h.now + 30 * SEC);
    assert_eq!(h.send(""), "", "not closed yet");
    let out = h.send("BDAT 6 LAST\r\nbody\r\n");
    assert_eq!(Harness::codes(&out), [250, 421], "{out}");
    assert_eq!(h.messages.len(), 1);
    assert!(h.messages[0].ends_with(b"\r\nSubject: x\r\n\r\nbody\r\n"));
}

#[test]
fn an_application_still_deciding_gets_the_grace_period() {
    let mut h = Harness::greeted();
    h.hold_verdict = true;
    h.send(ENVELOPE);
    h.send("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
    h.session.begin_shutdown(h.now + 30 * SEC);
    assert!(!h.session.is_closed());
    h.advance(10 * SEC);
    h.session.finish_message(Ok(()));
    h.hold_verdict = false;
    let out = h.send("");
    assert!(out.starts_with("250 2.0.0 Ok: queued as "), "{out}");
    assert!(out.ends_with("421 4.3.2 mx.example.org shutting down, try again later\r\n"));
}

#[test]
fn under_stress_the_running_command_deadline_drops_to_ten_seconds() {
    let mut h = Harness::greeted();
    h.advance(5 * SEC);
    h.session.set_stress(true);
    // Counted from when the wait began: 10 s, 5 of them gone.
    assert_eq!(deadline_in(&h), Some(5));
    h.session.set_stress(false);
    assert_eq!(deadline_in(&h), Some(295), "stress over: back to 5 minutes");
    h.session.set_stress(true);
    h.advance(5 * SEC);
    assert!(h.send("").starts_with("421 4.4.2 "), "cut under stress");
    assert!(h.closed);
}

#[test]
fn under_stress_an_idle_session_is_cut_at_once_and_data_blocks_get_ten_seconds() {
    let mut h = Harness::greeted();
    h.advance(60 * SEC);
    h.session.set_stress(true);
    assert_eq!(deadline_in(&h), Some(0));
    h.advance(Duration::ZERO);
    assert!(h.send("").starts_with("421 4.4.2 "));

    let mut h = Harness::greeted();
    h.session.set_stress(true);
    h.send(ENVELOPE);
    assert_eq!(h.codes_of("DATA\r\n"), [354]);
    assert_eq!(deadline_in(&h), Some(10));
    h.advance(10 * SEC);
    assert!(h.send("").starts_with("421 4.4.2 "));
    assert_eq!(h.aborts, [Abort::Timeout]);
}

#[test]
fn a_session_ends_after_its_maximum_length_whatever_it_does() {
    let mut c = config();
    c.timeouts.session = 100 * SEC;
    let mut h = Harness::greeted_with(c);
    for _ in 0..9 {
        h.advance(10 * SEC);
        assert_eq!(h.codes_of("EHLO c.example\r\n"), [250]);
    }
    assert_eq!(deadline_in(&h), Some(10), "the session's end comes first");
    h.advance(10 * SEC);
    assert!(
        h.send("")
            .starts_with("421 4.7.0 mx.example.org session too long")
    );
    assert!(h.closed);
}

#[test]
fn junk_commands_beyond_the_limit_get_421_and_a_message_starts_the_count_again() {
    let mut c = config();
    c.limits.junk_commands = 3;
    let mut h = Harness::greeted_with(c);
    assert_eq!(h.codes_of("NOOP\r\nRSET\r\nVRFY x\r\n"), [250, 250, 252]);
    h.send(ENVELOPE);
    assert_eq!(h.codes_of("DATA\r\n"), [354]);
    assert_eq!(h.codes_of("Subject: x\r\n\r\nhi\r\n.\r\n"), [250]);
    assert_eq!(h.codes_of("NOOP\r\nHELP\r\nNOOP\r\n"), [250, 214, 250]);
    let reply = h.send("EXPN x\r\nNOOP\r\n");
    assert!(
        reply.starts_with("421 4.7.0 mx.example.org too many commands without mail"),
        "{reply}"
    );
    assert!(h.closed);
}

#[test]
fn under_stress_fewer_junk_commands_are_allowed() {
    let mut c = config();
    c.limits.junk_commands_under_stress = 2;
    let mut h = Harness::greeted_with(c);
    h.session.set_stress(true);
    assert_eq!(h.codes_of("NOOP\r\nNOOP\r\nNOOP\r\n"), [250, 250, 421]);
}

//! A tiny language for the simple cases: a list of steps run on one
//! connection. Setup steps that go wrong make the case inconclusive; check
//! steps that go wrong are violations of the case's rule.
//!
//! ```text
//! Session,                                   greeting + EHLO (+ STARTTLS + EHLO)
//! Do("MAIL FROM:<{from}>", Want::Codes(&[250])),   setup
//! Check("RCPT TO:<>", Want::Class(5)),       the rule under test
//! ```

use super::conn::Conn;
use super::ctx::{Ctx, Flow, checked, short};
use super::want::Want;
use crate::model::Verdict;

/// One step of a scripted case.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// Connect and read a 220 greeting (setup).
    Connect,
    /// Greeting, EHLO, and STARTTLS + EHLO with `--tls starttls` (setup).
    Session,
    /// A session where no EHLO is in effect yet (greeting; with `--tls
    /// starttls` also EHLO + STARTTLS) (setup).
    Fresh,
    /// MAIL FROM:<{from}> and RCPT TO:<{rcpt}>, both accepted (setup).
    Envelope,
    /// A command whose reply must match, or the case is inconclusive (setup).
    Do(&'static str, Want),
    /// A command whose reply must match, or the rule is violated.
    Check(&'static str, Want),
    /// Raw bytes (template expanded), no reply read.
    Send(&'static str),
    /// Read one reply; it must match, or the rule is violated.
    Expect(Want),
    /// Read one reply; it must match, or the case is inconclusive (setup).
    Await(Want),
    /// No reply may arrive within the grace period.
    Silence,
    /// The server must close the connection within the reply timeout.
    Closes,
}

/// Runs a script; the verdict of the first step that decides, else a pass
/// describing the last checked reply.
pub(crate) async fn run(ctx: &mut Ctx, steps: &[Step]) -> Verdict {
    match run_steps(ctx, steps).await {
        Ok(v) | Err(v) => v,
    }
}

async fn run_steps(ctx: &mut Ctx, steps: &[Step]) -> Flow<Verdict> {
    let mut conn: Option<Conn> = None;
    let mut seen = Vec::new();
    for step in steps {
        match step {
            Step::Connect => conn = Some(ctx.connect().await?),
            Step::Session => conn = Some(ctx.session().await?),
            Step::Fresh => conn = Some(ctx.fresh().await?),
            _ => {
                let Some(c) = conn.as_mut() else {
                    return Err(Verdict::Inconclusive("script has no connection".into()));
                };
                if let Some(text) = run_step(ctx, c, step).await? {
                    seen.push(text);
                }
            }
        }
    }
    Ok(Verdict::Pass(seen.join("; ")))
}

/// Runs one step on `conn`; returns a description of a checked reply.
async fn run_step(ctx: &mut Ctx, conn: &mut Conn, step: &Step) -> Flow<Option<String>> {
    match step {
        Step::Connect | Step::Session | Step::Fresh => Ok(None),
        Step::Envelope => ctx.envelope(conn).await.map(|_| None),
        Step::Do(line, want) => ctx.expect(conn, line, want).await.map(|_| None),
        Step::Check(line, want) => {
            let reply = ctx.check(conn, line, want).await?;
            Ok(Some(format!(
                "{} -> {}",
                short(&ctx.expand(line)),
                reply.code
            )))
        }
        Step::Send(raw) => {
            let bytes = ctx.expand(raw);
            checked(conn.send(bytes.as_bytes()).await, "sending")?;
            Ok(None)
        }
        Step::Expect(want) => {
            let reply = checked(conn.reply().await, "waiting for a reply")?;
            if want.accepts(&reply) {
                Ok(Some(format!("-> {}", reply.code)))
            } else {
                Err(Verdict::Violation(format!("got {reply}, {want}")))
            }
        }
        Step::Await(want) => {
            let reply = super::ctx::setup(conn.reply().await, "waiting for a reply")?;
            if want.accepts(&reply) {
                Ok(None)
            } else {
                Err(Verdict::Inconclusive(format!("set-up got {reply}, {want}")))
            }
        }
        Step::Silence => match conn.reply_within(ctx.grace()).await {
            Ok(None) => Ok(None),
            Ok(Some(reply)) => Err(Verdict::Violation(format!("unexpected reply: {reply}"))),
            Err(e) => Err(Verdict::Violation(format!("expected no reply, but {e}"))),
        },
        Step::Closes => {
            let wait = conn.timeout();
            match conn.wait_close(wait).await {
                Ok((_, true)) => Ok(Some("connection closed".into())),
                Ok((replies, false)) => Err(Verdict::Violation(format!(
                    "the connection was still open after {wait:?}{}",
                    if replies.is_empty() {
                        String::new()
                    } else {
                        format!(" (and {} more replies came)", replies.len())
                    }
                ))),
                Err(e) => Err(Verdict::Violation(format!(
                    "while waiting for the close: {e}"
                ))),
            }
        }
    }
}

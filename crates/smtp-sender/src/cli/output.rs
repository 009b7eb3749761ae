//! What `smtp-send` prints, and its exit codes (sysexits(3)).

use std::process::ExitCode;

use smtp_sender::{Envelope, Outcome, Report, SendError};

/// sysexits(3) EX_USAGE: the command line was wrong.
pub const EX_USAGE: u8 = 64;
/// sysexits(3) EX_UNAVAILABLE: permanent failure.
pub const EX_UNAVAILABLE: u8 = 69;
/// sysexits(3) EX_TEMPFAIL: temporary failure, try again later.
pub const EX_TEMPFAIL: u8 = 75;

/// An error in the options: one line, EX_USAGE.
pub fn usage_error(error: &anyhow::Error) -> ExitCode {
    eprintln!("smtp-send: {error:#}");
    ExitCode::from(EX_USAGE)
}

/// A message that cannot be read or composed: one line, permanent.
pub fn input_error(error: &anyhow::Error) -> ExitCode {
    eprintln!("smtp-send: {error:#}");
    ExitCode::from(EX_UNAVAILABLE)
}

/// One line per recipient on stdout; errors in one line on stderr.
pub fn report(envelope: &Envelope, result: Result<Report, SendError>) -> ExitCode {
    match result {
        Ok(report) => {
            for r in &report.recipients {
                println!(
                    "{:<8} {}: {}{}",
                    r.outcome,
                    r.recipient,
                    r.reply,
                    explain(r)
                );
            }
            if report.all_accepted() {
                ExitCode::SUCCESS
            } else if report.deferred().next().is_some() {
                // A retry may still reach the deferred ones.
                ExitCode::from(EX_TEMPFAIL)
            } else {
                ExitCode::from(EX_UNAVAILABLE)
            }
        }
        Err(error) => {
            let outcome = if error.is_temporary() {
                Outcome::Deferred
            } else {
                Outcome::Refused
            };
            for recipient in &envelope.to {
                println!("{outcome:<8} {recipient}: {error}");
            }
            eprintln!("smtp-send: error: {error}");
            ExitCode::from(if error.is_temporary() {
                EX_TEMPFAIL
            } else {
                EX_UNAVAILABLE
            })
        }
    }
}

/// RFC 3463: what the enhanced code means, for refusals.
fn explain(r: &smtp_sender::RecipientReport) -> String {
    match (r.outcome, &r.reply.enhanced) {
        (Outcome::Accepted, _) | (_, None) => String::new(),
        (_, Some(code)) => format!(" ({})", code.explain()),
    }
}

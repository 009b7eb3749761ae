//! What `smtp-send` prints, and its exit codes (sysexits(3)).

use std::process::ExitCode;

use smtp_sender::{Envelope, Outcome, Report, SendError};

/// sysexits(3) EX_USAGE: the command line was wrong.
pub const EX_USAGE: u8 = 64;
/// sysexits(3) EX_DATAERR: the input data was incorrect (an address that
/// is not one, a message that cannot be sent as given).
pub const EX_DATAERR: u8 = 65;
/// sysexits(3) EX_NOINPUT: an input file did not exist or was not readable.
pub const EX_NOINPUT: u8 = 66;
/// sysexits(3) EX_UNAVAILABLE: permanent failure.
pub const EX_UNAVAILABLE: u8 = 69;
/// sysexits(3) EX_TEMPFAIL: temporary failure, try again later.
pub const EX_TEMPFAIL: u8 = 75;
/// sysexits(3) EX_CONFIG: our own configuration cannot work (a `--ca`
/// file missing or without a certificate); no server was asked.
pub const EX_CONFIG: u8 = 78;

/// An error in the options: one line, EX_USAGE (EX_NOINPUT when a file
/// named in them, e.g. --password-file, cannot be read).
pub fn usage_error(error: &anyhow::Error) -> ExitCode {
    eprintln!("smtp-send: {error:#}");
    ExitCode::from(if is_unreadable_file(error) {
        EX_NOINPUT
    } else {
        EX_USAGE
    })
}

/// A message that cannot be read or composed: one line, EX_NOINPUT for a
/// file that cannot be read, else EX_DATAERR. Never 69 or 75: those say
/// what the server did, and no server was asked.
pub fn input_error(error: &anyhow::Error) -> ExitCode {
    eprintln!("smtp-send: {error:#}");
    ExitCode::from(if is_unreadable_file(error) {
        EX_NOINPUT
    } else {
        EX_DATAERR
    })
}

/// Reading the message, a body, an attachment or the password failed.
fn is_unreadable_file(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some())
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
        Err(SendError::Transport(error)) if error.is_local_config() => {
            // Nothing was sent, so there is no recipient line to print, and
            // neither 69 nor 75: those say what the server did.
            eprintln!("smtp-send: error: {error}");
            ExitCode::from(EX_CONFIG)
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

//! `smtp-conform replay FILE --server HOST:PORT`: the client side of
//! recorded sessions sent again to a server, each reply set beside the
//! recorded one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use smtp_conformance::server::host_of;
use smtp_conformance::server::replay::{ReplayError, ReplayOptions, Replayed, replay};
use smtp_conformance::tls;

use super::TrustArgs;
use super::judge::read_recording;

/// Options of `smtp-conform replay`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// A recorded transcript (the formats `explain` reads); `-` reads
    /// standard input. Each session in it is replayed on its own
    /// connection.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The server to replay against, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    server: String,
    /// Start with TLS (port 465 style, RFC 8314). A STARTTLS in the
    /// recording is replayed wherever it is.
    #[arg(long)]
    implicit_tls: bool,
    #[command(flatten)]
    trust: TrustArgs,
    /// Seconds to wait for each reply.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
}

/// Exit 0 when every reply had its recorded code, 1 when one differed or
/// the replay stopped early, 2 on an error (no server, no TLS trust).
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sessions = read_recording(&args.file)?;
    let addr = tokio::net::lookup_host(&args.server)
        .await
        .with_context(|| format!("resolving {}", args.server))?
        .next()
        .with_context(|| format!("{}: no address", args.server))?;
    let trust = args.trust.trust();
    let host = args
        .trust
        .servername
        .clone()
        .unwrap_or_else(|| host_of(&args.server));
    // Trust is only needed when the recording (or --implicit-tls) asks for
    // TLS: a plain replay runs on a machine without any CA too.
    let tls = match (tls::client_config(&trust), tls::server_name(&host)) {
        (Ok(config), Some(name)) => Some((config, name)),
        _ => None,
    };
    let options = ReplayOptions {
        addr,
        tls,
        implicit_tls: args.implicit_tls,
        timeout: Duration::from_secs_f64(args.timeout.max(0.1)),
    };
    let mut all_same = true;
    for (n, session) in sessions.iter().enumerate() {
        if n > 0 {
            println!();
        }
        let title = session.title.as_deref().unwrap_or("the recording");
        println!("-- replaying {title} against {addr} --");
        let replayed = match replay(&session.lines, &options).await {
            Ok(replayed) => replayed,
            Err(ReplayError::NoTls) => anyhow::bail!(
                "the recording uses TLS: give --ca FILE or --insecure (and --servername NAME if the host is an address)"
            ),
            Err(e) => return Err(e.into()),
        };
        print_replayed(&replayed);
        all_same &= replayed.matches();
    }
    Ok(if all_same {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A reply's first line, and how many lines follow (a matching EHLO
/// reply need not be shown keyword by keyword).
fn short(lines: &[String]) -> String {
    match lines {
        [] => String::new(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} lines)", rest.len()),
    }
}

/// Every line of a reply, for a difference.
fn whole(lines: &[String]) -> String {
    lines.join(" / ")
}

/// Each step: what was sent, then the recorded reply and the one the
/// server gave, marked `=` (same code) or `≠` (shown whole).
fn print_replayed(replayed: &Replayed) {
    for step in &replayed.steps {
        for line in &step.sent {
            println!("  C: {line}");
        }
        let (mark, shown) = if step.same() {
            ('=', short as fn(&[String]) -> String)
        } else {
            ('≠', whole as fn(&[String]) -> String)
        };
        println!("{mark} recorded S: {}", shown(&step.recorded));
        match &step.got {
            Ok(got) => println!("{mark}      got S: {}", shown(got)),
            Err(why) => println!("{mark}      got nothing: {why}"),
        }
    }
    for note in &replayed.notes {
        println!("note: {note}");
    }
    if let Some(why) = &replayed.stopped {
        println!("stopped: {why}");
    }
    let same = replayed.steps.iter().filter(|s| s.same()).count();
    let total = replayed.steps.len();
    let verdict = if replayed.matches() {
        "as recorded"
    } else {
        "differences"
    };
    println!("{same} of {total} replies with the recorded code: {verdict}");
}

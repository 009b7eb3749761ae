//! `smtp-send`: send a message over SMTP, report recipient by recipient.
//!
//! See `smtp-send --help` for the options and examples.

mod cli;

use std::process::ExitCode;

use std::io::IsTerminal as _;

use clap::Parser;
use smtp_wire::annotate::Style;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::prelude::*;

fn main() -> ExitCode {
    let first = std::env::args().nth(1);
    if cli::queue::is_queue_command(first.as_deref()) {
        let cli = match parse::<cli::queue::QueueCli>() {
            Ok(cli) => cli,
            Err(code) => return code,
        };
        init_logging(cli.verbose(), false);
        // The runner delivers to many destinations at once.
        return run(
            tokio::runtime::Builder::new_multi_thread(),
            cli::queue::run(cli),
        );
    }
    if cli::shell::is_shell_command(first.as_deref()) {
        let cli = match parse::<cli::shell::ShellCli>() {
            Ok(cli) => cli,
            Err(code) => return code,
        };
        init_logging(false, false);
        return run(
            tokio::runtime::Builder::new_current_thread(),
            cli::shell::run(cli),
        );
    }
    let args = match parse::<cli::args::Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    init_logging(args.verbose, args.explain);
    run(
        tokio::runtime::Builder::new_current_thread(),
        cli::run(args),
    )
}

/// The command line, or the exit code after clap printed why not: 64
/// (EX_USAGE) for a usage error, 0 for --help and --version.
fn parse<P: Parser>() -> Result<P, ExitCode> {
    P::try_parse().map_err(|error| {
        let usage = error.use_stderr();
        let _ = error.print();
        if usage {
            ExitCode::from(cli::EX_USAGE)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// Runs `work` on a runtime made by `builder`.
fn run(
    mut builder: tokio::runtime::Builder,
    work: impl std::future::Future<Output = ExitCode>,
) -> ExitCode {
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(work),
        Err(error) => {
            eprintln!("smtp-send: cannot start the runtime: {error}");
            ExitCode::from(cli::EX_TEMPFAIL)
        }
    }
}

/// RUST_LOG for everything (default: warnings); `-v` adds the transcript,
/// printed bare (`C: EHLO ...`) so it reads like the RFC's examples;
/// `--explain` prints it numbered, each line with its RFC note.
fn init_logging(verbose: bool, explain: bool) {
    let mut general = EnvFilter::builder()
        .with_default_directive(LevelFilter::WARN.into())
        .from_env_lossy();
    // The CLI prints its own warning for --insecure-skip-verify, and the
    // transcript goes through the second layer only.
    for directive in ["smtp_sender::tls=error", "smtp_sender::transcript=off"] {
        if let Ok(directive) = directive.parse() {
            general = general.add_directive(directive);
        }
    }
    let transcript = || Targets::new().with_target("smtp_sender::transcript", LevelFilter::DEBUG);
    let bare = (verbose && !explain).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .without_time()
            .with_target(false)
            .with_level(false)
            .with_filter(transcript())
    });
    let explained = explain.then(|| {
        let style = Style::for_output(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        );
        cli::explain::ExplainLayer::new(style).with_filter(transcript())
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(general),
        )
        .with(bare)
        .with(explained)
        .init();
}

//! `smtp-receive`: an SMTP server that stores mail in a Maildir (or
//! nowhere, with `--sink`), plus `list` / `show` to read what arrived.
//! Run `smtp-receive --help` for the options and examples.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line on stderr, the whole cause chain.
            eprintln!("smtp-receive: error: {error:#}");
            cli::exit_code(&error)
        }
    }
}

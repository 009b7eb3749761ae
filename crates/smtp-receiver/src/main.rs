//! `smtp-receive`: an SMTP server that stores mail in a Maildir (or
//! nowhere, with `--sink`), plus `list` / `show` to read what arrived.
//! Run `smtp-receive --help` for the options and examples.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

/// The program's allocator on glibc Linux: jemalloc, for the speed of the
/// copies between TLS and SMTP rather than of allocation.
///
/// rustls copies every decrypted record (its payload 5 octets into a
/// buffer) into a new `Vec`. glibc's `malloc` places that `Vec` 16 octets
/// off a 64-octet line, and glibc 2.36's `memcpy` copies 8 KiB and more
/// with `rep movsb`, which on AMD Zen 4 runs at 3.5 GB/s instead of 50 to
/// 90 when the destination is off a 64-octet line and not 16-octet aligned
/// with the source (measured here; `GLIBC_TUNABLES=
/// glibc.cpu.x86_rep_movsb_threshold=4294967295` confirms it). jemalloc's
/// size classes of 1 KiB and more are multiples of 64 octets, and 16 KiB
/// blocks start on a page: 100 MiB over TLS at 1.6 GB/s instead of 1.0,
/// half the receiver's CPU (docs/benchmarks.md, "rep movsb"). Libraries
/// set no allocator; an embedder chooses its own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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

//! The machine's own limits that issue 20 states goals against, measured
//! in the same run as the figures they judge: one core's AES-128-GCM rate
//! (`openssl speed`), the disk's sequential write rate with fsync
//! (`dd conv=fsync`) in the file system of the Maildir, and how fast the
//! kernel moves one TCP stream over loopback with nothing on top.
//!
//! The first two run as guarded one-shot children with a deadline, like
//! every load generator (smtp-peers' `run_with_timeout`); the third is two
//! threads of this process, with socket timeouts as its deadline.

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use smtp_peers::{first_line_of, run_with_timeout};

use crate::error::{BenchError, Context as _, Result};

/// The contender name of the AES-GCM reference (goals find it by it).
pub const AES_GCM: &str = "openssl speed AES-128-GCM, one core";
/// The contender name of the disk reference (goals find it by it).
pub const DD_FSYNC: &str = "dd conv=fsync, same file system";
/// The contender name of the loopback reference (goals find it by it).
pub const LOOPBACK_TCP: &str = "loopback TCP alone (no TLS, no SMTP)";

/// Octets per write and per read of the loopback reference: large, so the
/// figure is the kernel's best case, not the cost of many system calls.
const LOOPBACK_IO: usize = 256 * 1024;

/// The openssl arguments: 16 KiB blocks, the size of a TLS record, so the
/// rate is the one a TLS stream can reach at best.
const OPENSSL_SPEED: [&str; 7] = [
    "speed",
    "-evp",
    "aes-128-gcm",
    "-bytes",
    "16384",
    "-seconds",
    "1",
];

/// `OpenSSL 3.0.19` when `openssl` runs, `None` when it is missing or is
/// another program (LibreSSL: its `speed` output is not the one parsed
/// here). Without it the TLS goal is judged on its absolute part only.
pub fn openssl_version() -> Option<String> {
    let line = first_line_of("openssl", &["version"])?;
    let words: Vec<&str> = line.split_whitespace().take(2).collect();
    (words.first() == Some(&"OpenSSL")).then(|| words.join(" "))
}

/// The openssl command line for the report.
pub fn openssl_command_line() -> String {
    format!("openssl {}", OPENSSL_SPEED.join(" "))
}

/// One core's AES-128-GCM rate in MB/s (10^6 octets per second).
///
/// openssl counts user CPU time, not wall time (its "... in 0.33s" line),
/// so the figure is what one core does while it runs, also on a shared
/// machine; ours, measured on the wall clock, is judged against that.
pub fn aes_gcm_mb_per_s(log_dir: &Path, timeout: Duration) -> Result<f64> {
    let out = run_with_timeout(
        "openssl-speed",
        Command::new("openssl").args(OPENSSL_SPEED),
        None,
        log_dir,
        timeout,
    )?
    .success("openssl speed")?;
    parse_openssl_speed(&out.stdout).ok_or_else(|| {
        BenchError::Measurement(format!(
            "no AES-128-GCM line in openssl speed's output: {}",
            out.stdout.trim()
        ))
    })
}

/// The 16384-byte column of `AES-128-GCM  4396174.74k`: openssl's unit is
/// 1000s of bytes per second, so /1000 gives MB/s.
pub fn parse_openssl_speed(stdout: &str) -> Option<f64> {
    let line = stdout.lines().find(|l| {
        l.trim_start()
            .to_ascii_uppercase()
            .starts_with("AES-128-GCM")
    })?;
    let last = line.split_whitespace().last()?;
    let thousands: f64 = last.strip_suffix('k')?.parse().ok()?;
    (thousands.is_finite() && thousands > 0.0).then_some(thousands / 1000.0)
}

/// The dd command line for the report (`DIR`: the Maildir's folder).
pub fn dd_command_line(mib: u64) -> String {
    format!("dd if=/dev/zero of=DIR/ddtest bs=1M count={mib} conv=fsync")
}

/// Writes `mib` MiB of zeros to `DIR/ddtest` with `dd ... conv=fsync`
/// (dd fsyncs the file before it stops its clock), removes the file, and
/// returns dd's rate in MB/s (10^6 octets per second, as ours).
pub fn dd_fsync_mb_per_s(dir: &Path, mib: u64, log_dir: &Path, timeout: Duration) -> Result<f64> {
    let file = dir.join("ddtest");
    let out = run_with_timeout(
        "dd",
        Command::new("dd")
            // dd's summary line is localised (decimal comma, words).
            .env("LC_ALL", "C")
            .arg("if=/dev/zero")
            .arg(format!("of={}", file.display()))
            .args(["bs=1M", &format!("count={mib}"), "conv=fsync"]),
        None,
        log_dir,
        timeout,
    );
    // Removed whatever happened: 100 MiB left behind would fill the disk
    // over the rounds and slow the next write.
    let removed = match fs::remove_file(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    let out = out?.success("dd")?;
    removed.context_with(|| format!("removing {}", file.display()))?;
    let bytes = mib << 20;
    match parse_dd(&out.stderr) {
        Some((copied, seconds)) if copied == bytes => Ok(copied as f64 / seconds / 1e6),
        Some((copied, _)) => Err(BenchError::Measurement(format!(
            "dd copied {copied} bytes instead of {bytes}"
        ))),
        // Another dd (busybox, a future coreutils): its wall time from
        // spawn to exit instead, as every load generator here is timed.
        None => Ok(bytes as f64 / out.elapsed.as_secs_f64() / 1e6),
    }
}

/// How fast one TCP connection on 127.0.0.1 carries `bytes` octets from
/// one thread to another, in MB/s (10^6 octets per second): the first
/// write to the receiver's one-octet answer after the last read, as our
/// sender times a message from its first command to the last reply.
///
/// Nothing is computed on either side (no TLS, no SMTP, no copy but the
/// kernel's), so this is what any two programs on this machine can move
/// over loopback at best; the DATA over TLS figure is read against it.
/// The two threads take the machine's two cores, as `smtp-send` and
/// `smtp-receive` do.
pub fn loopback_tcp_mb_per_s(bytes: u64, timeout: Duration) -> Result<f64> {
    let context = "the loopback TCP reference";
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context(context)?;
    // Connected before the receiver's thread starts: the kernel finishes
    // the handshake into the backlog, so the accept cannot wait forever.
    let mut sender =
        TcpStream::connect(listener.local_addr().context(context)?).context(context)?;
    let (mut receiver, _) = listener.accept().context(context)?;
    for stream in [&sender, &receiver] {
        stream.set_read_timeout(Some(timeout)).context(context)?;
        stream.set_write_timeout(Some(timeout)).context(context)?;
    }
    let block = vec![b'x'; LOOPBACK_IO];
    let elapsed = std::thread::scope(|scope| {
        let reading =
            std::thread::Builder::new().spawn_scoped(scope, move || -> std::io::Result<()> {
                let mut buf = vec![0u8; LOOPBACK_IO];
                let mut left = bytes;
                while left > 0 {
                    match receiver.read(&mut buf)? {
                        0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                        n => left = left.saturating_sub(n as u64),
                    }
                }
                receiver.write_all(b"k")
            })?;
        let started = Instant::now();
        let mut left = bytes;
        let sent = (|| {
            while left > 0 {
                let n = left.min(LOOPBACK_IO as u64) as usize;
                sender.write_all(&block[..n])?;
                left -= n as u64;
            }
            sender.read_exact(&mut [0u8; 1])
        })();
        let elapsed = started.elapsed();
        // A failed send closes the connection, which ends the reader too.
        drop(sender);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the reading thread panicked")));
        sent.and(read).map(|()| elapsed)
    })
    .context(context)?;
    Ok(bytes as f64 / elapsed.as_secs_f64() / 1e6)
}

/// (bytes, seconds) from dd's summary line, e.g. `104857600 bytes (105 MB,
/// 100 MiB) copied, 1.34883 s, 77.7 MB/s` (coreutils) or `... copied,
/// 0.5 seconds, 200MB/s` (busybox).
pub fn parse_dd(stderr: &str) -> Option<(u64, f64)> {
    let line = stderr.lines().find(|l| l.contains(" copied, "))?;
    let bytes = line.split_whitespace().next()?.parse().ok()?;
    let (_, after) = line.split_once(" copied, ")?;
    let seconds: f64 = after.split_whitespace().next()?.parse().ok()?;
    (seconds > 0.0).then_some((bytes, seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_speed_is_read_in_thousands_of_bytes() {
        let out = "version: 3.0.19\n\
                   The 'numbers' are in 1000s of bytes per second processed.\n\
                   type          16384 bytes\n\
                   AES-128-GCM    4396174.74k\n";
        let mb = parse_openssl_speed(out).unwrap_or(f64::NAN);
        assert!((mb - 4396.17474).abs() < 1e-6, "{mb}");
        assert_eq!(parse_openssl_speed("type 16384 bytes\n"), None);
        assert_eq!(parse_openssl_speed("AES-128-GCM  0.00k\n"), None);
    }

    #[test]
    fn the_loopback_reference_moves_every_octet() {
        // 1 MiB and 3 octets: not a multiple of the write size either.
        match loopback_tcp_mb_per_s((1 << 20) + 3, Duration::from_secs(10)) {
            Ok(mb) => assert!(mb.is_finite() && mb > 0.0, "{mb}"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn dd_summaries_parse() {
        let coreutils = "100+0 records in\n100+0 records out\n\
                         104857600 bytes (105 MB, 100 MiB) copied, 1.34883 s, 77.7 MB/s\n";
        assert_eq!(parse_dd(coreutils), Some((104_857_600, 1.34883)));
        let busybox = "104857600 bytes (100.0MB) copied, 0.5 seconds, 200MB/s\n";
        assert_eq!(parse_dd(busybox), Some((104_857_600, 0.5)));
        assert_eq!(parse_dd("dd: error writing: No space left\n"), None);
    }
}

//! How many sessions one process can hold: the default total is the
//! configured one, lowered to what the file-descriptor limit allows.
//!
//! The arithmetic (docs/receiver.md, "Limits and attacks"): a session uses
//! one descriptor for its socket and, only while a message is being
//! stored, one for its file in the Maildir's `tmp/`; a few more are the
//! process's own (listeners, the Maildir directories, the runtime,
//! logging). A quarter of the descriptors left after those is kept for
//! message files: that many sessions may be inside DATA at one moment,
//! and idle sessions (the many) need their socket only. Memory is
//! the other bound: the default total (2048, `Limits::default`) is chosen
//! so that every session busy at once (64 KiB input buffer, a 64 KiB body
//! chunk, the Maildir writer's 256 KiB, TLS buffers: about 420 KiB) stays
//! under 1 GiB; idle sessions cost 9 KiB (16 KiB with TLS).

/// Descriptors kept for the process itself.
const RESERVED_DESCRIPTORS: usize = 64;
/// The share (in percent) of the other descriptors kept for the files of
/// messages being stored.
const FILE_SHARE_PERCENT: usize = 25;

/// The session total to enforce: `configured`, or less when the process
/// may not open enough files for that many busy sessions (each would then
/// fail at accept or at its Maildir file, worse than a 421).
pub(crate) fn fitting_total(configured: usize) -> usize {
    match open_files_limit() {
        Some(limit) => {
            let fits = sessions_within(limit);
            if fits < configured {
                tracing::info!(
                    configured,
                    open_files_limit = limit,
                    sessions = fits.max(1),
                    "session limit lowered to what the open-files limit allows"
                );
            }
            configured.min(fits.max(1))
        }
        None => configured,
    }
}

/// Sessions that fit in `limit` descriptors: one socket each, after the
/// process's own and the share kept for message files.
fn sessions_within(limit: usize) -> usize {
    let available = limit.saturating_sub(RESERVED_DESCRIPTORS);
    available - available * FILE_SHARE_PERCENT / 100
}

/// The soft limit on open files (RLIMIT_NOFILE), read from
/// `/proc/self/limits` on Linux (no unsafe `getrlimit` call needed);
/// `None` elsewhere or when unlimited.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files(&limits)
}

/// The soft "Max open files" value of a `/proc/PID/limits` text.
fn parse_open_files(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_open_files_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             63432                63432                processes \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_files(text), Some(1024));
        assert_eq!(
            parse_open_files("Max open files  unlimited unlimited files"),
            None
        );
        assert_eq!(parse_open_files(""), None);
    }

    #[test]
    fn the_total_fits_the_descriptors() {
        // Whatever this machine's limit, the result never exceeds the
        // configured total and is never zero.
        assert!(fitting_total(5) <= 5);
        assert!(fitting_total(1) == 1);
        if let Some(limit) = open_files_limit() {
            assert!(fitting_total(usize::MAX) <= limit);
        }
    }

    #[test]
    fn a_quarter_of_the_descriptors_is_kept_for_message_files() {
        // The common soft limit: 720 sessions, 240 descriptors for files.
        assert_eq!(sessions_within(1024), 720);
        // The default total (2048) needs a limit of about 2800.
        assert!(sessions_within(2800) >= 2048);
        assert_eq!(sessions_within(10), 0, "fitting_total keeps one");
    }
}

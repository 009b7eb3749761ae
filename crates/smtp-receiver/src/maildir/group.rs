//! Group commit of the `new/` directory: the last durability step of a
//! delivery (fsync of the directory, so that the new entry survives a
//! crash) shared by every delivery that reached that step meanwhile.
//!
//! A delivery links its file into `new/`, then calls [`DirSync::sync`],
//! which returns once an fsync of `new/` that *started after the call*
//! has succeeded: only then does the session say 250 (RFC 5321 §6.1).
//! The first caller to find no fsync running starts one (the leader) for
//! every ticket taken so far; the others wait for it, and a caller whose
//! ticket came after a running fsync started waits for the next one. With
//! 20 sessions delivering at once, one directory fsync serves many
//! messages instead of one each. Each file's own fsync stays per file, in
//! the delivery's blocking task, where the file system's journal already
//! merges concurrent ones.

use std::io;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

/// The group committer of one directory.
#[derive(Debug)]
pub(crate) struct DirSync {
    dir: PathBuf,
    state: Mutex<State>,
    /// The highest ticket an fsync has covered.
    done: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out: one per `sync` call, in order.
    issued: u64,
    /// An fsync is running.
    syncing: bool,
    /// fsyncs performed (for tests and logs).
    fsyncs: u64,
}

impl DirSync {
    /// The committer of `dir`.
    pub(crate) fn new(dir: PathBuf) -> DirSync {
        DirSync {
            dir,
            state: Mutex::default(),
            done: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a plain assignment: a poisoned lock is consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// fsyncs of the directory so far.
    #[cfg(test)]
    pub(crate) fn fsyncs(&self) -> u64 {
        self.lock().fsyncs
    }

    /// Returns once everything done to the directory before this call is
    /// durable (an fsync that started after it succeeded), or the error of
    /// the fsync this call led.
    pub(crate) async fn sync(&self) -> io::Result<()> {
        let ticket = {
            let mut state = self.lock();
            state.issued += 1;
            state.issued
        };
        loop {
            // Subscribed before looking, so a completion in between is seen.
            let mut done = self.done.subscribe();
            if *done.borrow_and_update() >= ticket {
                return Ok(());
            }
            let lead = {
                let mut state = self.lock();
                (!state.syncing).then(|| {
                    state.syncing = true;
                    state.issued
                })
            };
            let Some(target) = lead else {
                // Someone else's fsync is running: wait for it to end (it
                // may or may not cover this ticket; the loop checks).
                let _ = done.changed().await;
                continue;
            };
            let dir = self.dir.clone();
            let result = super::blocking(move || std::fs::File::open(&dir)?.sync_all()).await;
            {
                let mut state = self.lock();
                state.syncing = false;
                state.fsyncs += 1;
            }
            match result {
                Ok(()) => {
                    self.done
                        .send_modify(|covered| *covered = (*covered).max(target));
                    return Ok(());
                }
                Err(error) => {
                    // Wake the waiters: one of them leads the next attempt
                    // (its own entry is durable only if a later fsync works).
                    self.done.send_modify(|_| {});
                    return Err(error);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_fsyncs_and_all_return() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(DirSync::new(dir.path().to_path_buf()));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let sync = sync.clone();
            tasks.spawn(async move { sync.sync().await });
        }
        while let Some(result) = tasks.join_next().await {
            result.unwrap().unwrap();
        }
        let fsyncs = sync.fsyncs();
        assert!((1..=64).contains(&fsyncs), "{fsyncs}");
        // A later call is never served by an earlier fsync.
        sync.sync().await.unwrap();
        assert_eq!(sync.fsyncs(), fsyncs + 1);
    }

    #[tokio::test]
    async fn a_failed_fsync_is_reported_to_its_leader() {
        let sync = DirSync::new(PathBuf::from("/nonexistent/smtp-receiver-test"));
        assert!(sync.sync().await.is_err());
        assert!(
            sync.sync().await.is_err(),
            "no success is invented afterwards"
        );
    }
}

//! Messages being committed, which the shutdown's hard deadline must not
//! cut (RFC 5321 §6.1: no mail lost, or stored twice, around a 250).
//!
//! A message is *committing* from the moment the application has read its
//! body to the end until the reply to it has been handed to the socket.
//! Inside that window the application is storing it (fsync, link into
//! `new/`, fsync of the directory) and the session then writes the 250.
//! Dropping the session there, as the hard deadline used to do, could
//! leave the message stored without the 250: the client, told nothing,
//! sends it again, and it is stored twice. So the hard deadline waits for
//! a committing session (up to [`COMMIT_LIMIT`]) and drops it only after
//! its reply is out; before the end of the body, dropping is harmless (the
//! unfinished file is removed, nothing was promised).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// How long the shutdown waits, after its hard deadline, for a message
/// being committed: RFC 5321 §4.5.3.2.6 lets the client wait 10 minutes
/// for the reply to the end of its data; past that it has given up and
/// will send the message again whatever we do. Only an application that
/// hangs after reading a whole message ever reaches this limit.
pub(crate) const COMMIT_LIMIT: Duration = Duration::from_secs(10 * 60);

/// The server's count of messages being committed (the drain at shutdown
/// waits for it to reach zero).
#[derive(Debug, Clone)]
pub(crate) struct Commits(Arc<watch::Sender<usize>>);

impl Default for Commits {
    fn default() -> Commits {
        Commits(Arc::new(watch::Sender::new(0)))
    }
}

impl Commits {
    /// The commit state of a new session.
    pub(crate) fn session(&self) -> SessionCommit {
        SessionCommit {
            all: self.clone(),
            mine: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Messages being committed now.
    pub(crate) fn in_progress(&self) -> usize {
        *self.0.borrow()
    }

    /// Resolves once no message is being committed.
    pub(crate) async fn none(&self) {
        let _ = self.0.subscribe().wait_for(|n| *n == 0).await;
    }
}

/// One session's commit state, shared by its driver (which begins and
/// ends commits) and its hard stop (which waits for them).
#[derive(Debug, Clone)]
pub(crate) struct SessionCommit {
    all: Commits,
    mine: Arc<watch::Sender<bool>>,
}

impl SessionCommit {
    /// The body was read to its end: the application is storing it.
    pub(crate) fn begin(&self) {
        if !self.mine.send_replace(true) {
            self.all.0.send_modify(|n| *n += 1);
        }
    }

    /// The reply is out (or the connection is gone): nothing left to wait for.
    pub(crate) fn end(&self) {
        if self.mine.send_replace(false) {
            self.all.0.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    /// True between [`begin`](Self::begin) and [`end`](Self::end).
    pub(crate) fn is_active(&self) -> bool {
        *self.mine.borrow()
    }

    /// Resolves once no commit is in progress in this session.
    pub(crate) async fn finished(&self) {
        let _ = self.mine.subscribe().wait_for(|active| !active).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_count_towards_the_server_once_each() {
        let commits = Commits::default();
        let (a, b) = (commits.session(), commits.session());
        a.begin();
        a.begin();
        b.begin();
        assert_eq!(commits.in_progress(), 2);
        assert!(a.is_active());
        a.end();
        a.end();
        assert_eq!(commits.in_progress(), 1);
        a.finished().await;
        let waiting = tokio::spawn({
            let commits = commits.clone();
            async move { commits.none().await }
        });
        b.end();
        waiting.await.unwrap();
        assert_eq!(commits.in_progress(), 0);
    }
}

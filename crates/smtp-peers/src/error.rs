//! What can go wrong when starting, waiting for or reading a peer.

use std::process::ExitStatus;
use std::time::Duration;

/// An error of this crate. Every variant carries what a person needs to
/// act on it: which program, what it printed last, how long was waited.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The program is not on this machine (see [`crate::Peer::version`]).
    #[error("{peer} not installed ({hint})")]
    NotInstalled {
        /// The peer's name, as in [`crate::Peer::name`].
        peer: &'static str,
        /// How to get it, e.g. `run .ci/install-peers`.
        hint: &'static str,
    },
    /// The program is here but cannot run as this user (a private Postfix
    /// instance chowns its folders to `postfix` and `nobody`).
    #[error("{peer} needs root here ({why})")]
    NeedsRoot {
        /// The peer's name, as in [`crate::Peer::name`].
        peer: &'static str,
        /// What root is needed for.
        why: &'static str,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A server exited while it should have been running.
    #[error("{name} exited ({status}): {output}")]
    Exited {
        /// The process.
        name: String,
        /// How it exited.
        status: ExitStatus,
        /// The end of what it printed.
        output: String,
    },
    /// A one-shot command exited with a non-zero status.
    #[error("{what} failed ({status}): {output}")]
    Failed {
        /// The command.
        what: String,
        /// How it exited.
        status: ExitStatus,
        /// The end of what it printed.
        output: String,
    },
    /// Something did not happen in time (a port, a line, a message, a client's exit).
    #[error("{what} (waited {waited:?})")]
    TimedOut {
        /// What was expected, with what is known about why not.
        what: String,
        /// How long was waited.
        waited: Duration,
    },
    /// Ctrl-C or SIGTERM arrived: nothing new is started.
    #[error("interrupted: {name} not started")]
    Interrupted {
        /// What was about to start.
        name: String,
    },
    /// A configuration that cannot work.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
}

impl PeerError {
    /// The same error with the end of a log (`name: text`) added to what it
    /// says, for peers that explain themselves in a log file of their own.
    pub(crate) fn with_log(self, name: &str, text: &str) -> PeerError {
        let add = |said: String| format!("{said}; {name}: {text}");
        match self {
            PeerError::Exited {
                name: process,
                status,
                output,
            } => PeerError::Exited {
                name: process,
                status,
                output: add(output),
            },
            PeerError::TimedOut { what, waited } => PeerError::TimedOut {
                what: add(what),
                waited,
            },
            other => other,
        }
    }
}

/// This crate's result.
pub type Result<T, E = PeerError> = std::result::Result<T, E>;

/// Adds what was being done to an `io::Error`.
pub(crate) trait IoContext<T> {
    /// `Err(e)` becomes [`PeerError::Io`] with the context `what()`.
    fn context_with(self, what: impl FnOnce() -> String) -> Result<T>;

    /// `Err(e)` becomes [`PeerError::Io`] with the context `what`.
    fn context(self, what: &str) -> Result<T>
    where
        Self: Sized,
    {
        self.context_with(|| what.to_string())
    }
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn context_with(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| PeerError::Io {
            context: what(),
            source,
        })
    }
}

//! What can stop a benchmark.

use smtp_peers::PeerError;
use smtp_testkit::bins::BinsError;
use smtp_testkit::certs::CertError;

/// An error of the bench. A measurement that lost messages is an error:
/// a figure for work not done would be a lie.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A peer or a load generator could not be started, or failed.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// This workspace's binaries could not be built or started.
    #[error(transparent)]
    Bins(#[from] BinsError),
    /// The test PKI could not be made.
    #[error(transparent)]
    Certs(#[from] CertError),
    /// A file, a folder or a socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A run finished but its result is wrong (messages missing, no summary line).
    #[error("{0}")]
    Measurement(String),
    /// An option that cannot work.
    #[error("{0}")]
    Usage(String),
    /// One of the sections failed; the others ran.
    #[error("{} section(s) failed: {}", .0.len(), .0.join("; "))]
    Sections(Vec<String>),
    /// The same error, with what was being measured.
    #[error("{what}: {source}")]
    During {
        /// The comparison, contender and round.
        what: String,
        /// What went wrong.
        #[source]
        source: Box<BenchError>,
    },
}

/// This crate's result.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// Adds what was being done to an error.
pub(crate) trait Context<T> {
    /// `Err(e)` becomes an error saying `what()` first.
    fn context_with(self, what: impl FnOnce() -> String) -> Result<T>;

    /// `Err(e)` becomes an error saying `what` first.
    fn context(self, what: &str) -> Result<T>
    where
        Self: Sized,
    {
        self.context_with(|| what.to_string())
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn context_with(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| BenchError::Io {
            context: what(),
            source,
        })
    }
}

impl<T> Context<T> for Result<T> {
    fn context_with(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| BenchError::During {
            what: what(),
            source: Box::new(source),
        })
    }
}

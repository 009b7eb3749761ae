//! The error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while composing a message or reading a Maildir.
#[derive(Debug, thiserror::Error)]
pub enum MimeError {
    /// A file could not be read or a directory listed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A header name or value contains CR or LF (header injection), or the name is not a valid field name.
    #[error("invalid header field {name:?}: {reason}")]
    InvalidHeader {
        /// The offending field name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An address could not be parsed or contains forbidden characters.
    #[error("invalid address {0:?}")]
    InvalidAddress(String),
    /// The message cannot be built (e.g. no From address).
    #[error("cannot build message: {0}")]
    Build(String),
    /// No message matches the given id in the Maildir.
    #[error("no message {0:?} in the maildir")]
    NotFound(String),
    /// More than one message matches the given id prefix.
    #[error("message id prefix {0:?} is ambiguous")]
    Ambiguous(String),
    /// The directory has neither `new/` nor `cur/`.
    #[error("{0}: not a maildir (no new/ or cur/ directory)")]
    NotMaildir(PathBuf),
    /// The message has no attachment with that name or number.
    #[error("no attachment named {0:?}")]
    NoAttachment(String),
}

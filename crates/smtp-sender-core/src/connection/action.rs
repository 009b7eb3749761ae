//! The vocabulary between the [`Connection`](super::Connection) and its
//! driver: what the driver must do, and what happened when it did.

use std::io;

use crate::error::TransportError;

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read once *without waiting* and hand over what was there
    /// ([`Input::Bytes`]); nothing, an end of file or an error are not
    /// reported (the write or the next read will meet them). Asked before
    /// each command so that a reply that answers nothing is caught before
    /// the next command could be paired with it.
    ReadReady,
    /// Write all these bytes, before [`Connection::poll_timeout`](super::Connection::poll_timeout);
    /// report a failure with [`Input::WriteFailed`].
    Write(Vec<u8>),
    /// Read (waiting, until [`Connection::poll_timeout`](super::Connection::poll_timeout)) and hand over
    /// what arrived ([`Input::Bytes`], [`Input::Eof`] or [`Input::ReadFailed`]).
    Read,
    /// Do the TLS handshake now, before [`Connection::poll_timeout`](super::Connection::poll_timeout);
    /// report [`Input::TlsEstablished`] or [`Input::TlsFailed`].
    StartTls,
    /// The machine has finished.
    Done,
}

/// What happened, as the driver tells it.
#[derive(Debug)]
pub enum Input<'a> {
    /// Bytes arrived (any amount, any boundaries).
    Bytes(&'a [u8]),
    /// The server closed the connection.
    Eof,
    /// Reading failed.
    ReadFailed(io::Error),
    /// Writing failed (the server may have said why before closing).
    WriteFailed(io::Error),
    /// The TLS handshake succeeded.
    TlsEstablished,
    /// The TLS handshake failed (the driver explains the certificate).
    TlsFailed(TransportError),
}

//! # smtp-io: the tokio side both halves share
//!
//! The protocol cores (`smtp-receiver-core`, `smtp-sender-core`) never
//! touch a socket; their drivers do, and the pieces every driver needs live
//! here once:
//!
//! | module | what |
//! |---|---|
//! | [`stream`] | [`MaybeTls`]: any `AsyncRead + AsyncWrite` byte stream, upgraded to TLS in place (STARTTLS, RFC 3207) or from the first byte (RFC 8314) |
//! | [`tls`] | rustls with the ring provider: PEM loading, server configurations, the system's trust roots, the accept-any verifier behind [`tls::dangerous`], and (feature `self-signed`) certificates made at run time |
//! | [`host`] | the local host name, and the EHLO name a client should give (RFC 5321 §4.1.4) |
//!
//! Nothing here knows SMTP's rules; it only moves and protects bytes.

pub mod host;
pub mod stream;
pub mod tls;

pub use stream::{MaybeTls, TlsParameters};
pub use tls::TlsError;

//! The PROXY protocol (HAProxy's, versions 1 and 2): a load balancer in
//! front of the receiver sends, before any SMTP byte, a header naming the
//! real client; that address is then the one used everywhere (limits,
//! `Received:`, logs, transcripts, rules). The header is parsed by the
//! `ppp` crate.
//!
//! - Only from [`ProxyProtocol::trusted`] peers: anyone else could name
//!   any address. An untrusted peer, a missing or malformed header, or one
//!   that does not arrive within [`HEADER_TIMEOUT`] closes the connection
//!   without a greeting (sending one would make a client out of a port
//!   scanner, and an SMTP reply to a balancer that expected none is noise).
//! - `LOCAL` (v2) and `UNKNOWN` (v1) headers, which balancers send for
//!   their health checks, keep the balancer's own address.
//! - Bytes after the header (an implicit-TLS client's ClientHello follows
//!   at once) are kept and read first by the session.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ppp::{HeaderResult, PartialResult as _, v1, v2};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::connection::Io;
use crate::network::Cidr;

/// What the listeners expect from a load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyProtocol {
    /// The balancers whose headers are believed; a connection from anyone
    /// else is closed without a greeting.
    pub trusted: Vec<Cidr>,
}

/// How long a trusted peer may take to send its header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest header read: v1 is at most 107 octets; v2 is 16 plus its
/// addresses and TLVs, a few hundred in practice (HAProxy's own limit).
const MAX_HEADER: usize = 4096;

/// Why a connection was closed before the session.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The peer is not a trusted balancer.
    #[error("PROXY header expected from a trusted proxy, but {0} is not one")]
    Untrusted(IpAddr),
    /// The header is malformed or missing (the first bytes were something else).
    #[error("malformed or missing PROXY header: {0}")]
    Malformed(String),
    /// The header did not arrive in time, or the connection closed first.
    #[error("no PROXY header: {0}")]
    Io(#[from] io::Error),
}

impl ProxyProtocol {
    /// Reads the header from `stream` (connected from `peer`): the client's
    /// address (`None` for a health check's `LOCAL`/`UNKNOWN`), and the
    /// stream with any bytes read past the header put back in front.
    pub(super) async fn accept(
        &self,
        mut stream: Io,
        peer: SocketAddr,
    ) -> Result<(Option<SocketAddr>, Io), ProxyError> {
        if !self.trusted.iter().any(|c| c.contains(peer.ip())) {
            return Err(ProxyError::Untrusted(peer.ip()));
        }
        let mut buf = Vec::with_capacity(256);
        let read = async {
            loop {
                let mut chunk = [0u8; 512];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(ProxyError::Malformed("connection closed".into()));
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(parsed) = parse_proxy_header(&buf)? {
                    return Ok(parsed);
                }
                if buf.len() > MAX_HEADER {
                    return Err(ProxyError::Malformed("header too long".into()));
                }
            }
        };
        let (client, used) = tokio::time::timeout(HEADER_TIMEOUT, read)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "timed out"))??;
        let rest = buf.split_off(used);
        let stream: Io = if rest.is_empty() {
            stream
        } else {
            Box::new(Prefixed {
                head: rest,
                at: 0,
                inner: stream,
            })
        };
        Ok((client, stream))
    }
}

/// Parses a PROXY header (v1 or v2) at the start of `buf`: `Ok(None)`
/// when more bytes are needed, `Ok(Some((client, length)))` for a whole
/// header of `length` octets (`client` is `None` for `LOCAL`/`UNKNOWN`),
/// `Err` for anything else. Never reads past `buf`; public for the fuzz
/// target.
///
/// ```
/// use smtp_receiver::server::parse_proxy_header;
/// let parsed = parse_proxy_header(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\nEHLO").unwrap();
/// assert_eq!(parsed, Some((Some("192.0.2.7:40000".parse().unwrap()), 41)));
/// assert_eq!(parse_proxy_header(b"PROXY TCP4 192.0").unwrap(), None);
/// assert!(parse_proxy_header(b"EHLO client.example\r\n").is_err());
/// ```
pub fn parse_proxy_header(buf: &[u8]) -> Result<Option<(Option<SocketAddr>, usize)>, ProxyError> {
    let result = HeaderResult::parse(buf);
    if result.is_incomplete() {
        return Ok(None);
    }
    let malformed = |e: &dyn std::fmt::Display| ProxyError::Malformed(e.to_string());
    match result {
        HeaderResult::V1(Ok(header)) => {
            let client = match header.addresses {
                v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
                v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
                v1::Addresses::Unknown => None,
            };
            Ok(Some((client, header.header.len())))
        }
        HeaderResult::V2(Ok(header)) => {
            let client = match (header.command, header.addresses) {
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => {
                    Some(SocketAddr::from((a.source_address, a.source_port)))
                }
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => {
                    Some(SocketAddr::from((a.source_address, a.source_port)))
                }
                _ => None,
            };
            Ok(Some((client, header.len())))
        }
        HeaderResult::V1(Err(e)) => Err(malformed(&e)),
        HeaderResult::V2(Err(e)) => Err(malformed(&e)),
    }
}

/// A stream that first yields `head` (what was read past the header).
struct Prefixed {
    head: Vec<u8>,
    at: usize,
    inner: Io,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.head.len() {
            let n = out.remaining().min(self.head.len() - self.at);
            let at = self.at;
            out.put_slice(&self.head[at..at + n]);
            self.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, out)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn loopback() -> ProxyProtocol {
        ProxyProtocol {
            trusted: Cidr::loopback(),
        }
    }

    async fn through(
        bytes: &[u8],
        peer: &str,
    ) -> Result<(Option<SocketAddr>, Vec<u8>), ProxyError> {
        let (ours, mut theirs) = tokio::io::duplex(8192);
        let bytes = bytes.to_vec();
        // Written from a task of its own: more than the pipe holds must not
        // block the reader (and the reader may stop reading).
        tokio::spawn(async move {
            let _ = theirs.write_all(&bytes).await;
        });
        let (client, mut stream) = loopback()
            .accept(Box::new(ours), peer.parse().unwrap())
            .await?;
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        Ok((client, rest))
    }

    #[tokio::test]
    async fn v1_v2_and_health_checks() {
        let (client, rest) = through(
            b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\nEHLO x\r\n",
            "127.0.0.1:9",
        )
        .await
        .unwrap();
        assert_eq!(client, Some("192.0.2.7:40000".parse().unwrap()));
        assert_eq!(rest, b"EHLO x\r\n", "bytes after the header are kept");
        let (client, _) = through(b"PROXY UNKNOWN\r\n", "127.0.0.1:9").await.unwrap();
        assert_eq!(client, None);

        let mut v2 = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        v2.extend([0x21, 0x21, 0, 36]);
        v2.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        v2.extend([0u8; 15]);
        v2.push(1);
        v2.extend([0x9c, 0x40, 0, 25]);
        v2.extend(b"\x16\x03\x01");
        let (client, rest) = through(&v2, "[::1]:9").await.unwrap();
        assert_eq!(client, Some("[2001:db8::9]:40000".parse().unwrap()));
        assert_eq!(rest, b"\x16\x03\x01", "a ClientHello right behind it");
    }

    #[tokio::test]
    async fn refusals() {
        assert!(matches!(
            through(b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\n", "192.0.2.1:9").await,
            Err(ProxyError::Untrusted(_))
        ));
        assert!(matches!(
            through(b"EHLO client.example\r\n", "127.0.0.1:9").await,
            Err(ProxyError::Malformed(_))
        ));
        assert!(matches!(
            through(b"PROXY TCP4 not-an-ip 127.0.0.1 1 2\r\n", "127.0.0.1:9").await,
            Err(ProxyError::Malformed(_))
        ));
        assert!(matches!(
            through(b"PROXY TCP4 192.0.2", "127.0.0.1:9").await,
            Err(ProxyError::Malformed(_))
        ));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use std::net::{Ipv4Addr, Ipv6Addr};

        /// A v2 PROXY header for `client` → `server`, with TLVs appended.
        fn v2(client: SocketAddr, server: SocketAddr, tlvs: &[(u8, Vec<u8>)]) -> Vec<u8> {
            let mut body = Vec::new();
            let family = match (client, server) {
                (SocketAddr::V4(c), SocketAddr::V4(s)) => {
                    body.extend(c.ip().octets());
                    body.extend(s.ip().octets());
                    0x11
                }
                (SocketAddr::V6(c), SocketAddr::V6(s)) => {
                    body.extend(c.ip().octets());
                    body.extend(s.ip().octets());
                    0x21
                }
                _ => unreachable!("same family"),
            };
            body.extend(client.port().to_be_bytes());
            body.extend(server.port().to_be_bytes());
            for (kind, value) in tlvs {
                body.push(*kind);
                body.extend((value.len() as u16).to_be_bytes());
                body.extend(value);
            }
            let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
            out.extend([0x21, family]);
            out.extend((body.len() as u16).to_be_bytes());
            out.extend(body);
            out
        }

        fn v1(client: SocketAddr, server: SocketAddr) -> Vec<u8> {
            let family = if client.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {family} {} {} {} {}\r\n",
                client.ip(),
                server.ip(),
                client.port(),
                server.port()
            )
            .into_bytes()
        }

        fn pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
            prop_oneof![
                (any::<u32>(), any::<u16>(), any::<u32>(), any::<u16>()).prop_map(
                    |(a, p, b, q)| (
                        SocketAddr::from((Ipv4Addr::from(a), p)),
                        SocketAddr::from((Ipv4Addr::from(b), q))
                    )
                ),
                (any::<u128>(), any::<u16>(), any::<u128>(), any::<u16>()).prop_map(
                    |(a, p, b, q)| (
                        SocketAddr::from((Ipv6Addr::from(a), p)),
                        SocketAddr::from((Ipv6Addr::from(b), q))
                    )
                ),
            ]
        }

        /// TLVs of types no version of the protocol defines (0xE0-0xEF
        /// are reserved for applications): they are skipped, not refused.
        fn tlvs() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
            prop::collection::vec(
                (0xE0u8..=0xEF, prop::collection::vec(any::<u8>(), 0..64)),
                0..5,
            )
        }

        proptest! {
            #[test]
            fn whole_headers_name_the_client_and_their_length(
                (client, server) in pair(),
                tlvs in tlvs(),
                rest in prop::collection::vec(any::<u8>(), 0..32),
                version in 1u8..=2,
            ) {
                let header = if version == 1 { v1(client, server) } else { v2(client, server, &tlvs) };
                let mut bytes = header.clone();
                bytes.extend(&rest);
                let parsed = parse_proxy_header(&bytes).unwrap();
                prop_assert_eq!(parsed, Some((Some(client), header.len())));
            }

            #[test]
            fn a_truncated_header_waits_or_fails_but_never_succeeds(
                (client, server) in pair(),
                tlvs in tlvs(),
                cut in any::<prop::sample::Index>(),
                version in 1u8..=2,
            ) {
                let header = if version == 1 { v1(client, server) } else { v2(client, server, &tlvs) };
                let cut = cut.index(header.len());
                prop_assert!(!matches!(parse_proxy_header(&header[..cut]), Ok(Some(_))));
            }

            #[test]
            fn any_bytes_never_panic_nor_claim_more_than_given(
                bytes in prop::collection::vec(any::<u8>(), 0..600),
            ) {
                if let Ok(Some((_, used))) = parse_proxy_header(&bytes) {
                    prop_assert!(used <= bytes.len());
                }
            }

            #[test]
            fn a_wrong_signature_is_refused(
                first in any::<u8>().prop_filter("not a signature start", |b| *b != b'P' && *b != b'\r'),
                rest in prop::collection::vec(any::<u8>(), 15..64),
            ) {
                let mut bytes = vec![first];
                bytes.extend(rest);
                prop_assert!(parse_proxy_header(&bytes).is_err());
            }
        }

        /// Longer than any real header: closed, never buffered without end.
        #[tokio::test]
        async fn an_oversized_header_is_refused() {
            let mut bytes = b"PROXY TCP4 ".to_vec();
            bytes.extend(std::iter::repeat_n(b'1', 2 * MAX_HEADER));
            assert!(matches!(
                super::through(&bytes, "127.0.0.1:9").await,
                Err(ProxyError::Malformed(_))
            ));
            let mut v2 = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
            v2.extend([0x21, 0x11, 0xff, 0xff]);
            v2.extend(std::iter::repeat_n(0u8, 2 * MAX_HEADER));
            assert!(matches!(
                super::through(&v2, "127.0.0.1:9").await,
                Err(ProxyError::Malformed(_))
            ));
        }
    }
}

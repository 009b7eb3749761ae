//! One server to hand everything to, as written on a command line:
//! `smtp:HOST:PORT`, `lmtp:HOST:PORT` or `lmtp:unix:PATH`.
//!
//! A smarthost takes mail over SMTP and routes it on; a mailbox server
//! (Dovecot, Cyrus) takes final delivery over LMTP (RFC 2033), on TCP or,
//! more often, on a Unix socket.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use smtp_sender_core::TlsMode;

use crate::ClientConfig;

/// Where a relay or a forwarding receiver sends everything.
///
/// ```
/// use smtp_sender::outbound::NextHop;
/// let hop: NextHop = "lmtp:unix:/run/dovecot/lmtp".parse()?;
/// assert!(hop.is_lmtp());
/// let hop: NextHop = "mail.example.com:587".parse()?;
/// assert_eq!(hop.to_string(), "smtp:mail.example.com:587");
/// assert!("lmtp:127.0.0.1".parse::<NextHop>().is_err(), "LMTP has no default port");
/// # Ok::<(), smtp_sender::outbound::NextHopError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextHop {
    /// SMTP to a smarthost (`smtp:HOST[:PORT]`, or plain `HOST[:PORT]`);
    /// port 25 when none is given.
    Smtp {
        /// Host name or IP address (IPv6 in brackets on the command line).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// LMTP over TCP (`lmtp:HOST:PORT`). The port is required: LMTP has
    /// no well-known port, and must not use 25 (RFC 2033 §5).
    Lmtp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// LMTP on a Unix socket (`lmtp:unix:PATH`).
    LmtpUnix(PathBuf),
}

/// A next hop that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?}: {reason} (expected smtp:HOST:PORT, lmtp:HOST:PORT or lmtp:unix:PATH)")]
pub struct NextHopError {
    /// What was given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl NextHop {
    /// True for LMTP, on TCP or a Unix socket.
    pub fn is_lmtp(&self) -> bool {
        !matches!(self, NextHop::Smtp { .. })
    }

    /// Points `config` here: host and port, LMTP, the Unix socket. A TLS
    /// mode still at its port-derived default becomes, for LMTP,
    /// opportunistic on TCP (mailbox servers inside one site often offer
    /// no STARTTLS) and none on a Unix socket (nothing to protect on the
    /// machine itself).
    pub fn configure(&self, config: &mut ClientConfig, tls_chosen: bool) {
        let (host, port) = match self {
            NextHop::Smtp { host, port } | NextHop::Lmtp { host, port } => (host.clone(), *port),
            NextHop::LmtpUnix(_) => ("localhost".to_string(), 0),
        };
        config.host = host;
        config.port = port;
        config.lmtp = self.is_lmtp();
        config.unix_socket = match self {
            NextHop::LmtpUnix(path) => Some(path.clone()),
            _ => None,
        };
        if !tls_chosen {
            // Guessed, not chosen: a silent server is given up early, as
            // for any port-derived mode (ClientConfig::silence_limit).
            config.silence_limit = TlsMode::default_silence_limit(port);
            match self {
                NextHop::Smtp { port, .. } => config.tls = TlsMode::default_for_port(*port),
                NextHop::Lmtp { .. } => config.tls = TlsMode::Opportunistic,
                NextHop::LmtpUnix(_) => config.tls = TlsMode::None,
            }
        }
    }
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bracketed = |host: &str| {
            if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_string()
            }
        };
        match self {
            NextHop::Smtp { host, port } => write!(f, "smtp:{}:{port}", bracketed(host)),
            NextHop::Lmtp { host, port } => write!(f, "lmtp:{}:{port}", bracketed(host)),
            NextHop::LmtpUnix(path) => write!(f, "lmtp:unix:{}", path.display()),
        }
    }
}

impl FromStr for NextHop {
    type Err = NextHopError;

    fn from_str(value: &str) -> Result<NextHop, NextHopError> {
        let error = |reason| NextHopError {
            value: value.to_string(),
            reason,
        };
        if let Some(path) = value.strip_prefix("lmtp:unix:") {
            if path.is_empty() {
                return Err(error("the socket path is empty"));
            }
            return Ok(NextHop::LmtpUnix(PathBuf::from(path)));
        }
        let (lmtp, rest) = match value.split_once(':') {
            Some(("lmtp", rest)) => (true, rest),
            Some(("smtp", rest)) => (false, rest),
            _ => (false, value),
        };
        let (host, port) = host_and_port(rest).map_err(error)?;
        match (lmtp, port) {
            (true, None) => Err(error("LMTP needs a port: it has no well-known one")),
            (true, Some(25)) => Err(error("LMTP must not use port 25 (RFC 2033 §5)")),
            (true, Some(port)) => Ok(NextHop::Lmtp { host, port }),
            (false, port) => Ok(NextHop::Smtp {
                host,
                port: port.unwrap_or(25),
            }),
        }
    }
}

/// Splits `HOST`, `HOST:PORT`, `[IPv6]`, `[IPv6]:PORT` or a bare IPv6
/// address (no port then) into the host and the port, if any.
///
/// ```
/// use smtp_sender::outbound::host_and_port;
/// assert_eq!(host_and_port("mx:587"), Ok(("mx".into(), Some(587))));
/// assert_eq!(host_and_port("[::1]:2525"), Ok(("::1".into(), Some(2525))));
/// assert_eq!(host_and_port("::1"), Ok(("::1".into(), None)));
/// assert!(host_and_port("mx:99999").is_err());
/// ```
pub fn host_and_port(value: &str) -> Result<(String, Option<u16>), &'static str> {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("missing ']' after an IPv6 address")?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err("unexpected text after ']'"),
        }
    } else {
        match value.split_once(':') {
            Some(_) if value.parse::<std::net::Ipv6Addr>().is_ok() => (value, None),
            Some((_, port)) if port.contains(':') => {
                return Err("an IPv6 address goes in brackets");
            }
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty");
    }
    let port = port
        .map(|p| p.parse::<u16>().ok().filter(|&p| p != 0).ok_or("bad port"))
        .transpose()?;
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn forms() {
        let parse = |s: &str| s.parse::<NextHop>();
        assert_eq!(
            parse("smtp:[::1]:2525").unwrap(),
            NextHop::Smtp {
                host: "::1".into(),
                port: 2525
            }
        );
        assert_eq!(
            parse("relay.example").unwrap().to_string(),
            "smtp:relay.example:25"
        );
        assert_eq!(
            parse("lmtp:127.0.0.1:24").unwrap(),
            NextHop::Lmtp {
                host: "127.0.0.1".into(),
                port: 24
            }
        );
        assert_eq!(parse("lmtp:[::1]:24").unwrap().to_string(), "lmtp:[::1]:24");
        for bad in [
            "lmtp:host",
            "lmtp:host:25",
            "lmtp:unix:",
            "smtp::25",
            "h:0",
            "h:x",
            "a:b:c",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn configure_points_the_client_there() {
        let mut config = ClientConfig::new("x", 25);
        "lmtp:unix:/run/lmtp"
            .parse::<NextHop>()
            .unwrap()
            .configure(&mut config, false);
        assert!(config.lmtp);
        assert_eq!(config.unix_socket, Some(PathBuf::from("/run/lmtp")));
        assert_eq!(config.tls, TlsMode::None);
        let mut config = ClientConfig::new("x", 25);
        config.tls = TlsMode::StartTls;
        "lmtp:10.0.0.1:24"
            .parse::<NextHop>()
            .unwrap()
            .configure(&mut config, true);
        assert_eq!((config.host.as_str(), config.port), ("10.0.0.1", 24));
        assert_eq!(config.tls, TlsMode::StartTls, "a chosen mode stays");
        assert!(config.unix_socket.is_none());
    }
}

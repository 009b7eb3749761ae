//! Where a recipient domain's mail goes: its mail exchangers, found in
//! the DNS as RFC 5321 §5.1 says, or one relay for everything.
//!
//! - MX records, lowest preference first; equal preferences in random
//!   order, so that load spreads (§5.1).
//! - No MX at all: the domain itself is the exchanger, preference 0
//!   (the "implicit MX", §5.1).
//! - A single MX whose exchange is the root `.`: the domain accepts no
//!   mail (null MX, RFC 7505 §3), a permanent failure with 5.1.10.
//! - A domain that does not exist (NXDOMAIN) fails for good (5.1.2); a
//!   DNS failure (SERVFAIL, timeout) is temporary (4.4.3).
//! - Each exchanger's IPv6 and IPv4 addresses are tried in turn.
//! - An address literal (`bob@[192.0.2.1]`) goes to that address.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::{ResolveError, ResolveErrorKind, TokioResolver};

/// One place to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchanger {
    /// The exchanger's name: what TLS checks and what reports show.
    pub name: String,
    /// Where to connect: an IP address, or a host name for the system
    /// resolver (a relay given by name).
    pub connect: String,
    /// The TCP port.
    pub port: u16,
}

impl std::fmt::Display for Exchanger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name == self.connect {
            write!(f, "{}:{}", self.name, self.port)
        } else {
            write!(f, "{}[{}]:{}", self.name, self.connect, self.port)
        }
    }
}

/// Why a domain has no exchanger to try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Try again later (SERVFAIL, timeout, no answer): status 4.4.3.
    #[error("{0}")]
    Temporary(String),
    /// Never deliverable as addressed.
    #[error("{reason}")]
    Permanent {
        /// What the DNS said, in words.
        reason: String,
        /// The RFC 3463 status (5.1.2 no such domain, 5.1.10 null MX).
        status: &'static str,
    },
}

/// How recipients are routed.
#[derive(Clone)]
pub enum Router {
    /// Every recipient through one server (a smarthost).
    Relay {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// Per domain, through its mail exchangers.
    Mx {
        /// The resolver to ask (boxed: it is large, and a relay has none).
        resolver: Box<TokioResolver>,
        /// The port on the exchangers (25; another for tests).
        port: u16,
    },
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Router::Relay { host, port } => write!(f, "relay {host}:{port}"),
            Router::Mx { port, .. } => write!(f, "MX, port {port}"),
        }
    }
}

impl Router {
    /// MX routing through the system's resolver (`/etc/resolv.conf`), or
    /// the DNS server at `dns` (all loopback in tests).
    pub fn mx(dns: Option<SocketAddr>, port: u16) -> Result<Router, RouteError> {
        let builder = match dns {
            Some(server) => {
                let group =
                    NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], group),
                    TokioConnectionProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio().map_err(|e| {
                RouteError::Temporary(format!("reading the resolver configuration: {e}"))
            })?,
        };
        let mut builder = builder;
        let options: &mut ResolverOpts = builder.options_mut();
        // The answers drive retries and failures, so they must be the
        // server's: no search domains appended, no stale cache beyond TTLs.
        options.ndots = 0;
        options.attempts = 2;
        Ok(Router::Mx {
            resolver: Box::new(builder.build()),
            port,
        })
    }

    /// Everything through the server `client` is configured for (its
    /// host and port, or its Unix socket).
    pub fn relay_to(client: &crate::ClientConfig) -> Router {
        let host = match &client.unix_socket {
            Some(path) => format!("unix:{}", path.display()),
            None => client.host.clone(),
        };
        Router::Relay {
            host,
            port: client.port,
        }
    }

    /// The routing key of a recipient domain: all the same for a relay.
    pub fn key(&self, domain: &str) -> String {
        match self {
            Router::Relay { host, port } => format!("relay {host}:{port}"),
            Router::Mx { .. } => domain.to_string(),
        }
    }

    /// The exchangers for `domain` (lower-case; an address literal in
    /// brackets), in the order to try them.
    pub async fn exchangers(&self, domain: &str) -> Result<Vec<Exchanger>, RouteError> {
        let (resolver, port) = match self {
            Router::Relay { host, port } => {
                return Ok(vec![Exchanger {
                    name: host.clone(),
                    connect: host.clone(),
                    port: *port,
                }]);
            }
            Router::Mx { resolver, port } => (resolver, *port),
        };
        if domain.is_empty() {
            return Err(RouteError::Permanent {
                reason: "<Postmaster> without a domain has no mail exchanger (use a relay)".into(),
                status: "5.1.3",
            });
        }
        if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            let ip: IpAddr = literal
                .strip_prefix("IPv6:")
                .unwrap_or(literal)
                .parse()
                .map_err(|_| RouteError::Permanent {
                    reason: format!("address literal {domain} is not an IP address"),
                    status: "5.1.2",
                })?;
            return Ok(vec![Exchanger {
                name: ip.to_string(),
                connect: ip.to_string(),
                port,
            }]);
        }
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        let hosts = match resolver.mx_lookup(fqdn.as_str()).await {
            Ok(answer) => {
                let records: Vec<(u16, String)> = answer
                    .iter()
                    .map(|mx| (mx.preference(), mx.exchange().to_utf8()))
                    .collect();
                if records.len() == 1 && records[0].1 == "." {
                    return Err(RouteError::Permanent {
                        reason: format!("{domain} accepts no mail (null MX, RFC 7505)"),
                        status: "5.1.10",
                    });
                }
                let seed = RandomState::new();
                order_by_preference(records, |name| seed.hash_one(name))
                    .into_iter()
                    .filter(|(_, name)| name != ".")
                    .map(|(_, name)| name)
                    .collect()
            }
            Err(e) if no_records(&e) => vec![fqdn.clone()],
            Err(e) => return Err(classify(domain, "MX", &e)),
        };
        let mut exchangers = Vec::new();
        let mut last_error = None;
        for host in hosts {
            match resolver.lookup_ip(host.as_str()).await {
                Ok(ips) => exchangers.extend(ips.iter().map(|ip| Exchanger {
                    name: host.trim_end_matches('.').to_string(),
                    connect: ip.to_string(),
                    port,
                })),
                Err(e) => last_error = Some(classify(&host, "A/AAAA", &e)),
            }
        }
        match (exchangers.is_empty(), last_error) {
            (false, _) => Ok(exchangers),
            (true, Some(error)) => Err(error),
            (true, None) => Err(RouteError::Temporary(format!("{domain}: no exchanger"))),
        }
    }
}

/// True for "the name exists, with no record of this type".
fn no_records(e: &ResolveError) -> bool {
    response_code(e) == Some(ResponseCode::NoError)
}

fn response_code(e: &ResolveError) -> Option<ResponseCode> {
    match e.kind() {
        ResolveErrorKind::Proto(proto) => match proto.kind() {
            ProtoErrorKind::NoRecordsFound { response_code, .. } => Some(*response_code),
            _ => None,
        },
        _ => None,
    }
}

/// NXDOMAIN, or "no address" for a name, is permanent; anything else
/// (SERVFAIL, REFUSED, a timeout) may heal.
fn classify(name: &str, what: &str, e: &ResolveError) -> RouteError {
    match response_code(e) {
        Some(ResponseCode::NXDomain) => RouteError::Permanent {
            reason: format!("{} does not exist (NXDOMAIN)", name.trim_end_matches('.')),
            status: "5.1.2",
        },
        Some(ResponseCode::NoError) => RouteError::Permanent {
            reason: format!("{} has no address", name.trim_end_matches('.')),
            status: "5.1.2",
        },
        _ => RouteError::Temporary(format!(
            "{what} lookup for {} failed: {e}",
            name.trim_end_matches('.')
        )),
    }
}

/// RFC 5321 §5.1: lowest preference first; among equal preferences, the
/// order `shuffle_key` gives (random in use, fixed in tests).
pub fn order_by_preference(
    mut records: Vec<(u16, String)>,
    shuffle_key: impl Fn(&str) -> u64,
) -> Vec<(u16, String)> {
    records.sort_by_cached_key(|(preference, name)| (*preference, shuffle_key(name)));
    records
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn preference_first_then_the_shuffle() {
        let records = vec![
            (20, "c".to_string()),
            (10, "b".to_string()),
            (10, "a".to_string()),
            (5, "z".to_string()),
        ];
        let by_name = order_by_preference(records.clone(), |n| n.as_bytes()[0].into());
        assert_eq!(
            by_name.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            ["z", "a", "b", "c"]
        );
        let reversed = order_by_preference(records, |n| u64::MAX - u64::from(n.as_bytes()[0]));
        assert_eq!(
            reversed.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            ["z", "b", "a", "c"]
        );
    }

    #[test]
    fn random_order_spreads_over_equal_preferences() {
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..64 {
            let seed = RandomState::new();
            let ordered = order_by_preference(
                vec![(10, "a".into()), (10, "b".into()), (10, "c".into())],
                |n| seed.hash_one(n),
            );
            firsts.insert(ordered[0].1.clone());
        }
        assert!(firsts.len() > 1, "always the same first exchanger");
    }

    #[tokio::test]
    async fn literals_and_relays_need_no_dns() {
        let relay = Router::Relay {
            host: "smarthost.example".into(),
            port: 587,
        };
        let got = relay.exchangers("example.org").await.unwrap();
        assert_eq!(got[0].to_string(), "smarthost.example:587");
        assert_eq!(relay.key("a.example"), relay.key("b.example"));
        let mx = Router::mx(Some(SocketAddr::from(([127, 0, 0, 1], 9))), 2525).unwrap();
        let got = mx.exchangers("[IPv6:::1]").await.unwrap();
        assert_eq!(got.first().map(|e| e.connect.as_str()), Some("::1"));
        assert!(matches!(
            mx.exchangers("[not-an-ip]").await,
            Err(RouteError::Permanent {
                status: "5.1.2",
                ..
            })
        ));
    }
}

//! Networks written as CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`): the
//! trusted networks that per-client limits do not apply to
//! ([`ServerConfig::trusted_networks`](crate::ServerConfig::trusted_networks),
//! `smtp-receive --trusted-network`).
//!
//! ```
//! use smtp_receiver::network::Cidr;
//! let net: Cidr = "192.0.2.0/24".parse().unwrap();
//! assert!(net.contains("192.0.2.77".parse().unwrap()));
//! assert!(!net.contains("198.51.100.1".parse().unwrap()));
//! // An IPv4 client seen on an IPv6 socket (`::ffff:192.0.2.77`) matches too.
//! assert!(net.contains("::ffff:192.0.2.77".parse().unwrap()));
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A CIDR block that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a network {0:?} (expected ADDRESS/PREFIX such as 192.0.2.0/24 or 2001:db8::/32)")]
pub struct CidrError(String);

impl Cidr {
    /// The network of `addr` with `prefix` leading bits (at most 32 for
    /// IPv4, 128 for IPv6; more is taken as the maximum).
    pub fn new(addr: IpAddr, prefix: u8) -> Cidr {
        let addr = unmapped(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        Cidr {
            addr,
            prefix: prefix.min(max),
        }
    }

    /// The loopback networks, 127.0.0.0/8 and ::1/128: the default trusted
    /// networks.
    pub fn loopback() -> Vec<Cidr> {
        vec![
            Cidr::new(IpAddr::from([127, 0, 0, 0]), 8),
            Cidr::new(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]), 128),
        ]
    }

    /// True when `ip` is in this network (IPv4-mapped IPv6 addresses count
    /// as their IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, unmapped(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                net.to_bits() & mask == ip.to_bits() & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                net.to_bits() & mask == ip.to_bits() & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4 address.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// `ADDRESS/PREFIX`, or a bare address (a network of one host).
    fn from_str(text: &str) -> Result<Cidr, CidrError> {
        let error = || CidrError(text.to_string());
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| error())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(error)?,
        };
        Ok(Cidr::new(addr, prefix))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_matches() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(!net.contains(ip("2001:db8::1")));
        let v6: Cidr = "2001:db8:1::/48".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1:ffff::1")));
        assert!(!v6.contains(ip("2001:db8:2::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        let host: Cidr = "192.0.2.1".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.1/32");
        assert!(host.contains(ip("192.0.2.1")) && !host.contains(ip("192.0.2.2")));
    }

    #[test]
    fn refuses_what_is_not_a_network() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/x",
            "host/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_covers_all_of_127_8_and_the_ipv6_loopback() {
        let nets = Cidr::loopback();
        for addr in [
            "127.0.0.1",
            "127.0.0.77",
            "127.255.0.1",
            "::1",
            "::ffff:127.0.0.5",
        ] {
            assert!(nets.iter().any(|n| n.contains(ip(addr))), "{addr}");
        }
        assert!(!nets.iter().any(|n| n.contains(ip("::2"))));
    }
}

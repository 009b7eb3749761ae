//! The local host's name: what a server calls itself in its greeting and
//! `Received:` lines, and what a client says in EHLO.

use std::net::{IpAddr, SocketAddr};

use smtp_wire::path::{AddressLiteral, Domain};

/// The machine's host name as the system knows it (the kernel's, else
/// `/etc/hostname`, else `$HOSTNAME`), trimmed; `None` when none is set.
pub fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .into_iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty())
}

/// The host name when it is a fully qualified domain name (it has a dot and
/// is valid RFC 5321 domain syntax), as RFC 5321 §4.1.4 wants in EHLO.
pub fn fully_qualified_name() -> Option<Domain> {
    host_name()
        .filter(|name| name.contains('.'))
        .and_then(|name| Domain::parse(&name).ok())
}

/// The name a server gives itself by default: the host name, else
/// `localhost`.
pub fn server_name() -> String {
    host_name().unwrap_or_else(|| "localhost".to_string())
}

/// The EHLO argument a client gives by default. RFC 5321 §4.1.4: the
/// client's fully qualified domain name, or, when it has none, an address
/// literal of the connection's local address (`[192.0.2.1]`,
/// `[IPv6:2001:db8::1]`).
///
/// ```
/// use smtp_io::host::ehlo_name;
/// let name = ehlo_name("192.0.2.1:25000".parse().unwrap()).to_string();
/// assert!(name == "[192.0.2.1]" || name.contains('.'));
/// ```
pub fn ehlo_name(local: SocketAddr) -> Domain {
    fully_qualified_name().unwrap_or_else(|| address_literal(local.ip()))
}

/// An IP address as an RFC 5321 §4.1.3 address literal.
pub fn address_literal(ip: IpAddr) -> Domain {
    Domain::Literal(match ip {
        IpAddr::V4(ip) => AddressLiteral::V4(ip),
        IpAddr::V6(ip) => AddressLiteral::V6(ip),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_for_both_families() {
        assert_eq!(
            address_literal("192.0.2.1".parse().unwrap()).to_string(),
            "[192.0.2.1]"
        );
        assert_eq!(
            address_literal("2001:db8::1".parse().unwrap()).to_string(),
            "[IPv6:2001:db8::1]"
        );
    }

    #[test]
    fn the_server_name_is_never_empty() {
        assert!(!server_name().is_empty());
    }
}

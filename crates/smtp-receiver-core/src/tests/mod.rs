//! Unit tests of the sans-IO session: no sockets, bytes in, bytes out.

mod content_policy;
mod harness;
mod matrix;
mod messages;
mod policy;
mod stateful;
mod time;
mod tls_auth;

/// Every string of up to `max_len` octets over `alphabet`, shortest first:
/// for the tests that try every case a small alphabet can make.
pub(crate) fn every_string(alphabet: &[u8], max_len: u32) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..=max_len).flat_map(move |len| {
        (0..alphabet.len().pow(len)).map(move |mut n| {
            (0..len)
                .map(|_| {
                    let octet = alphabet[n % alphabet.len()];
                    n /= alphabet.len();
                    octet
                })
                .collect()
        })
    })
}

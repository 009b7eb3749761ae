//! The PROXY protocol header parser (v1 and v2, what HAProxy sends before
//! SMTP): never panics; a header it accepts lies within the input, and
//! every shorter prefix of that header is "incomplete" or an error, never a
//! different header (a balancer's bytes arrive in pieces).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_receiver::server::parse_proxy_header;

fuzz_target!(|data: &[u8]| {
    let Ok(Some((client, used))) = parse_proxy_header(data) else {
        return;
    };
    assert!(used > 0 && used <= data.len(), "claimed {used} of {}", data.len());
    // The same header with anything after it: the same answer.
    let mut longer = data[..used].to_vec();
    longer.extend_from_slice(b"EHLO x\r\n");
    assert_eq!(parse_proxy_header(&longer).ok(), Some(Some((client, used))));
    for cut in [used / 2, used.saturating_sub(1)] {
        if cut < used {
            assert!(!matches!(parse_proxy_header(&data[..cut]), Ok(Some(_))), "a prefix of {cut} parsed");
        }
    }
});

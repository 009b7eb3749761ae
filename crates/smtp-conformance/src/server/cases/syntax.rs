//! Syntax of paths and parameters (RFC 5321 §4.1.2, §4.1.1.2-3, §4.1.1.11,
//! §4.5.1, §4.5.3.1; RFC 6531 §3.4).

use super::{Body, Case, case};
use crate::model::Level::{Must, Should};
use crate::server::script::Step::*;
use crate::server::want::Want::*;

/// A local part of exactly 64 octets, the RFC 5321 §4.5.3.1.1 maximum.
const MAIL_LOCAL_64: &str =
    "MAIL FROM:<aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd@example.net>";

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "syntax.null-reverse-path",
            Must,
            "RFC 5321 §4.1.1.2, §6.1",
            "MAIL FROM:<> (the null reverse-path of bounces) is accepted",
            &[],
            Body::Script(&[Session, Check("MAIL FROM:<>", Codes(&[250]))]),
        ),
        case(
            "syntax.postmaster",
            Must,
            "RFC 5321 §4.5.1",
            "RCPT TO:<Postmaster> (no domain) is accepted",
            &[],
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Check("RCPT TO:<Postmaster>", Codes(&[250, 251])),
            ]),
        ),
        case(
            "syntax.postmaster-any-case",
            Must,
            "RFC 5321 §4.1.1.3, §4.5.1",
            "\"Postmaster\" is recognised in any case: RCPT TO:<pOsTmAsTeR> is accepted",
            &[],
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Check("RCPT TO:<pOsTmAsTeR>", Codes(&[250, 251])),
            ]),
        ),
        case(
            "syntax.quoted-local-part",
            Must,
            "RFC 5321 §4.1.2",
            "A quoted local part (\"john doe\"@example.net) is accepted",
            &[],
            Body::Script(&[
                Session,
                Check("MAIL FROM:<\"john doe\"@example.net>", Codes(&[250])),
            ]),
        ),
        case(
            "syntax.source-route",
            Must,
            "RFC 5321 §4.1.2, App. F.2",
            "Source-route syntax (<@relay:user@domain>) is accepted (and may be ignored)",
            &[],
            Body::Script(&[
                Session,
                Check("MAIL FROM:<@relay.example.net:{from}>", Codes(&[250])),
            ]),
        ),
        case(
            "syntax.missing-brackets",
            Should,
            "RFC 5321 §4.1.1.2, §3.3",
            "MAIL FROM without angle brackets is refused with 501",
            &[],
            Body::Script(&[Session, Check("MAIL FROM:{from}", Codes(&[501, 553]))]),
        ),
        case(
            "syntax.unknown-mail-param",
            Should,
            "RFC 5321 §4.1.1.11",
            "An unknown MAIL parameter is refused with 555 (or 501)",
            &[],
            Body::Script(&[
                Session,
                Check("MAIL FROM:<{from}> X-CONFORM-UNKNOWN=1", Codes(&[555, 501])),
            ]),
        ),
        case(
            "syntax.unknown-rcpt-param",
            Should,
            "RFC 5321 §4.1.1.11",
            "An unknown RCPT parameter is refused with 555 (or 501)",
            &[],
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Check("RCPT TO:<{rcpt}> X-CONFORM-UNKNOWN=1", Codes(&[555, 501])),
            ]),
        ),
        case(
            "syntax.rcpt-null-path",
            Must,
            "RFC 5321 §4.1.1.3",
            "RCPT TO:<> (not a forward-path) is refused with a 5yz reply",
            &[],
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Check("RCPT TO:<>", Class(5)),
            ]),
        ),
        case(
            "syntax.non-ascii-address",
            Must,
            "RFC 5321 §4.1.2, RFC 6531 §3.4",
            "A non-ASCII address without the SMTPUTF8 parameter is refused",
            &[],
            Body::Script(&[Session, Check("MAIL FROM:<jörg@example.net>", Class(5))]),
        ),
        case(
            "syntax.underscore-domain",
            Must,
            "RFC 5321 §4.1.2",
            "A domain with an underscore is refused with 501",
            &[],
            Body::Script(&[
                Session,
                Check("MAIL FROM:<user@bad_label.example.net>", Codes(&[501, 553])),
            ]),
        ),
        case(
            "syntax.local-part-64",
            Must,
            "RFC 5321 §4.5.3.1.1, §4.5.3.1",
            "A 64-octet local part (the minimum maximum) is accepted",
            &[],
            Body::Script(&[Session, Check(MAIL_LOCAL_64, Codes(&[250]))]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_part_is_64_octets() {
        let start = super::MAIL_LOCAL_64.find('<').unwrap_or(0) + 1;
        let at = super::MAIL_LOCAL_64.find('@').unwrap_or(0);
        assert_eq!(at - start, 64);
    }
}

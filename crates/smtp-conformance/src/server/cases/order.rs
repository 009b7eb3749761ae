//! Command order and the 5xx for each violation (RFC 5321 §3.3, §4.1.4).

use super::{Body, Case, case};
use crate::model::Level::{Must, Should};
use crate::server::script::Step::*;
use crate::server::want::Want::*;

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "order.mail-before-ehlo",
            Should,
            "RFC 5321 §4.1.1.1, §4.1.4",
            "MAIL before EHLO/HELO is refused with 503",
            &[],
            Body::Script(&[Fresh, Check("MAIL FROM:<{from}>", Codes(&[503]))]),
        ),
        case(
            "order.rcpt-before-mail",
            Must,
            "RFC 5321 §3.3",
            "RCPT without a previous MAIL is refused with 503",
            &[],
            Body::Script(&[Session, Check("RCPT TO:<{rcpt}>", Codes(&[503]))]),
        ),
        case(
            "order.data-before-mail",
            Must,
            "RFC 5321 §3.3, §4.1.4",
            "DATA without MAIL is refused with 503 (or 554)",
            &[],
            Body::Script(&[Session, Check("DATA", Codes(&[503, 554]))]),
        ),
        case(
            "order.data-before-rcpt",
            Must,
            "RFC 5321 §3.3, §4.1.4",
            "DATA without RCPT is refused with 503 (or 554)",
            &[],
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Check("DATA", Codes(&[503, 554])),
            ]),
        ),
        case(
            "order.nested-mail",
            Must,
            "RFC 5321 §4.1.4",
            "MAIL inside an open transaction is refused with 503",
            &[],
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Check("MAIL FROM:<{from}>", Codes(&[503])),
            ]),
        ),
        case(
            "order.rset-clears",
            Must,
            "RFC 5321 §4.1.1.5",
            "After RSET the transaction is gone: RCPT is refused with 503",
            &[],
            Body::Script(&[
                Session,
                Envelope,
                Check("RSET", Codes(&[250])),
                Check("RCPT TO:<{rcpt}>", Codes(&[503])),
            ]),
        ),
        case(
            "order.data-after-rejected-rcpt",
            Must,
            "RFC 5321 §3.3",
            "DATA after every RCPT was rejected is refused with 503 or 554",
            &[],
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Do("RCPT TO:<>", Class(5)),
                Check("DATA", Codes(&[503, 554])),
            ]),
        ),
        case(
            "order.state-kept-after-error",
            Must,
            "RFC 5321 §4.1.4",
            "A refused command leaves the transaction as it was (the next RCPT still works)",
            &[],
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Do("RCPT TO:<unclosed@example.net", Class(5)),
                Check("RCPT TO:<{rcpt}>", Codes(&[250, 251])),
            ]),
        ),
    ]
}

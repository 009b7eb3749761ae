//! AUTH (RFC 4954 §4, §6), with the PLAIN mechanism (RFC 4616).

use smtp_wire::sasl::{Credentials, plain_response};

use super::{Body, Case, Need, case, custom, pass};
use crate::model::Level::Must;
use crate::model::Verdict;
use crate::server::conn::Conn;
use crate::server::ctx::{Ctx, Flow};
use crate::server::script::Step::*;
use crate::server::want::Want::*;

/// `AUTH PLAIN` for the user "conform-nobody" with a wrong password:
/// base64 of "\0conform-nobody\0wrong-password" (a test checks it).
const BAD_PLAIN: &str = "AUTH PLAIN AGNvbmZvcm0tbm9ib2R5AHdyb25nLXBhc3N3b3Jk";

/// The credentials behind [`BAD_PLAIN`].
pub(super) fn nobody() -> Credentials {
    Credentials::new("conform-nobody", "wrong-password")
}

pub(super) fn cases() -> Vec<Case> {
    let plain: &[Need] = &[Need::AuthPlain];
    let creds: &[Need] = &[Need::AuthPlain, Need::Credentials];
    vec![
        case(
            "auth.bad-credentials",
            Must,
            "RFC 4954 §4, §6",
            "AUTH with a wrong password is refused with 535",
            plain,
            Body::Script(&[Session, Check(BAD_PLAIN, Codes(&[535]))]),
        ),
        case(
            "auth.good-credentials",
            Must,
            "RFC 4954 §4",
            "AUTH with the right password (--auth) gets 235",
            creds,
            custom!(good_credentials),
        ),
        case(
            "auth.twice",
            Must,
            "RFC 4954 §4",
            "After a successful AUTH, another AUTH is refused with 503",
            creds,
            custom!(twice),
        ),
        case(
            "auth.cancel",
            Must,
            "RFC 4954 §4",
            "Answering a 334 challenge with \"*\" cancels the exchange with 501",
            plain,
            Body::Script(&[
                Session,
                Do("AUTH PLAIN", Codes(&[334])),
                Check("*", Codes(&[501])),
            ]),
        ),
        case(
            "auth.in-transaction",
            Must,
            "RFC 4954 §4",
            "AUTH during a mail transaction is refused with 503",
            plain,
            Body::Script(&[
                Session,
                Do("MAIL FROM:<{from}>", Codes(&[250])),
                Check(BAD_PLAIN, Codes(&[503])),
            ]),
        ),
        case(
            "auth.unknown-mechanism",
            Must,
            "RFC 4954 §4",
            "AUTH with an unsupported mechanism is refused with 504",
            plain,
            Body::Script(&[Session, Check("AUTH X-CONFORM-UNKNOWN", Codes(&[504]))]),
        ),
        case(
            "auth.bad-base64",
            Must,
            "RFC 4954 §4",
            "A response that is not base64 is refused with 501",
            plain,
            Body::Script(&[Session, Check("AUTH PLAIN !!!not-base64!!!", Codes(&[501]))]),
        ),
    ]
}

/// `AUTH PLAIN <base64("\0user\0password")>` for the `--auth` credentials.
fn good_plain(ctx: &Ctx) -> String {
    let (user, password) = ctx.options().auth.clone().unwrap_or_default();
    let credentials = Credentials::new(user, password);
    format!("AUTH PLAIN {}", plain_response(&credentials))
}

async fn authenticated(ctx: &mut Ctx, check: bool) -> Flow<Conn> {
    let mut conn = ctx.session().await?;
    let line = good_plain(ctx);
    if check {
        ctx.check(&mut conn, &line, &Codes(&[235])).await?;
    } else {
        ctx.expect(&mut conn, &line, &Codes(&[235])).await?;
    }
    Ok(conn)
}

async fn good_credentials(ctx: &mut Ctx) -> Flow<Verdict> {
    authenticated(ctx, true).await?;
    pass("235")
}

async fn twice(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = authenticated(ctx, false).await?;
    let line = good_plain(ctx);
    let reply = ctx.check(&mut conn, &line, &Codes(&[503])).await?;
    pass(format!("second AUTH -> {}", reply.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bad_plain_line_carries_the_nobody_credentials() {
        assert_eq!(
            BAD_PLAIN,
            format!("AUTH PLAIN {}", plain_response(&nobody()))
        );
    }
}

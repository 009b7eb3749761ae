//! RSET, NOOP, VRFY, EXPN, HELP, unknown commands, QUIT and the RFC 821
//! relics (RFC 5321 §4.1.1.5-10, §4.2, §4.2.4, §4.5.1, App. F).

use super::{Body, Case, case, custom, pass, violation};
use crate::model::Level::{Must, Should};
use crate::model::Verdict;
use crate::server::ctx::{Ctx, Flow};
use crate::server::script::Step::*;
use crate::server::want::Want::*;

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "basic.noop",
            Must,
            "RFC 5321 §4.1.1.9",
            "NOOP is answered with 250",
            &[],
            Body::Script(&[Session, Check("NOOP", Codes(&[250]))]),
        ),
        case(
            "basic.noop-argument",
            Should,
            "RFC 5321 §4.1.1.9",
            "NOOP with an argument ignores it and answers 250",
            &[],
            Body::Script(&[Session, Check("NOOP conformance check", Codes(&[250]))]),
        ),
        case(
            "basic.rset",
            Must,
            "RFC 5321 §4.1.1.5",
            "RSET is answered with 250 and does not close the connection",
            &[],
            Body::Script(&[
                Session,
                Envelope,
                Check("RSET", Codes(&[250])),
                Check("NOOP", Codes(&[250])),
            ]),
        ),
        case(
            "basic.rset-argument",
            Should,
            "RFC 5321 §4.1.1, §4.3.2",
            "RSET with an argument is refused with 501",
            &[],
            Body::Script(&[Session, Check("RSET now", Codes(&[501]))]),
        ),
        case(
            "basic.before-ehlo",
            Should,
            "RFC 5321 §4.1.4",
            "NOOP and RSET work before EHLO (no 503)",
            &[],
            Body::Script(&[
                Fresh,
                Check("NOOP", Codes(&[250])),
                Check("RSET", Codes(&[250])),
            ]),
        ),
        case(
            "basic.vrfy",
            Must,
            "RFC 5321 §4.5.1, §3.5.3",
            "VRFY is implemented: not answered 500 or 502 (252 is the way to decline)",
            &[],
            Body::Script(&[Session, Check("VRFY postmaster", Not(&[500, 502]))]),
        ),
        case(
            "basic.vrfy-syntax",
            Should,
            "RFC 5321 §4.1.1.6",
            "VRFY without its argument is refused with 501",
            &[],
            Body::Script(&[Session, Check("VRFY", Codes(&[501]))]),
        ),
        case(
            "basic.expn",
            Should,
            "RFC 5321 §4.2.4, §4.3.2",
            "EXPN is a known command: 502 when disabled, never 500 'unrecognized'",
            &[],
            Body::Script(&[Session, Check("EXPN postmaster", Not(&[500]))]),
        ),
        case(
            "basic.help",
            Should,
            "RFC 5321 §4.1.1.8",
            "HELP without argument is answered with 211 or 214",
            &[],
            Body::Script(&[Session, Check("HELP", Codes(&[211, 214]))]),
        ),
        case(
            "basic.unknown-command",
            Should,
            "RFC 5321 §4.2.4",
            "An unrecognised command is answered with 500",
            &[],
            Body::Script(&[Session, Check("XYZZY", Codes(&[500]))]),
        ),
        case(
            "basic.one-reply",
            Must,
            "RFC 5321 §4.2",
            "Every command gets exactly one reply",
            &[],
            Body::Script(&[Session, Check("NOOP", Codes(&[250])), Silence]),
        ),
        case(
            "relic.turn",
            Should,
            "RFC 5321 App. F.1",
            "TURN (role reversal without authentication) is not accepted",
            &[],
            Body::Script(&[Session, Check("TURN", Not(&[250]))]),
        ),
        case(
            "relic.send",
            Must,
            "RFC 5321 App. F.6",
            "SEND is refused, or advertised in EHLO when implemented",
            &[],
            custom!(relic_send),
        ),
        case(
            "relic.soml",
            Must,
            "RFC 5321 App. F.6",
            "SOML is refused, or advertised in EHLO when implemented",
            &[],
            custom!(relic_soml),
        ),
        case(
            "relic.saml",
            Must,
            "RFC 5321 App. F.6",
            "SAML is refused, or advertised in EHLO when implemented",
            &[],
            custom!(relic_saml),
        ),
        case(
            "quit.reply-and-close",
            Must,
            "RFC 5321 §4.1.1.10",
            "QUIT is answered with 221 and the server closes the connection",
            &[],
            Body::Script(&[Session, Check("QUIT", Codes(&[221])), Closes]),
        ),
        case(
            "quit.in-transaction",
            Must,
            "RFC 5321 §4.1.1.10",
            "QUIT inside a transaction is answered with 221 and closes",
            &[],
            Body::Script(&[Session, Envelope, Check("QUIT", Codes(&[221])), Closes]),
        ),
        case(
            "quit.before-ehlo",
            Must,
            "RFC 5321 §4.1.1.10, §4.1.4",
            "QUIT before EHLO is answered with 221",
            &[],
            Body::Script(&[Fresh, Check("QUIT", Codes(&[221]))]),
        ),
    ]
}

/// RFC 5321 App. F.6: servers MAY implement SEND, SOML and SAML, but then
/// MUST list them in the EHLO reply.
async fn relic(ctx: &mut Ctx, verb: &str) -> Flow<Verdict> {
    let mut conn = ctx.session().await?;
    let line = format!("{verb} FROM:<{{from}}>");
    let reply = ctx.command(&mut conn, &line).await?;
    if reply.is_positive() && !ctx.caps().has(verb) {
        violation(format!(
            "{verb} accepted ({reply}) but not advertised in EHLO"
        ))
    } else {
        pass(format!("{verb} -> {}", reply.code))
    }
}

async fn relic_send(ctx: &mut Ctx) -> Flow<Verdict> {
    relic(ctx, "SEND").await
}

async fn relic_soml(ctx: &mut Ctx) -> Flow<Verdict> {
    relic(ctx, "SOML").await
}

async fn relic_saml(ctx: &mut Ctx) -> Flow<Verdict> {
    relic(ctx, "SAML").await
}

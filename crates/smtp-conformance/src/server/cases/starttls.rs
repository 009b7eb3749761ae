//! STARTTLS (RFC 3207) and what must not happen before it (RFC 4954 §4).

use super::{Body, Case, Need, case, custom, pass, violation};
use crate::model::Level::{Hardening, Must, Should};
use crate::model::Verdict;
use crate::server::TlsMode;
use crate::server::conn::{Conn, ConnError};
use crate::server::ctx::{Ctx, Flow, checked, setup};
use crate::server::script::Step::*;
use crate::server::want::Want::*;

const STARTTLS: &[Need] = &[Need::StartTls];

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "tls.handshake",
            Must,
            "RFC 3207 §4",
            "STARTTLS gets 220 and the TLS handshake completes",
            STARTTLS,
            custom!(handshake),
        ),
        case(
            "tls.no-starttls-after-tls",
            Must,
            "RFC 3207 §4.2",
            "STARTTLS is not advertised again once TLS is active",
            &[Need::Tls],
            custom!(not_offered_twice),
        ),
        case(
            "tls.starttls-again",
            Should,
            "RFC 3207 §4.2",
            "STARTTLS inside TLS is refused",
            &[Need::Tls],
            custom!(starttls_again),
        ),
        case(
            "tls.state-reset",
            Must,
            "RFC 3207 §4.2",
            "The handshake resets the session: MAIL before a new EHLO is refused",
            STARTTLS,
            custom!(state_reset),
        ),
        case(
            "tls.command-injection",
            Hardening,
            "RFC 3207 §4.2 (CVE-2011-0411)",
            "Commands pipelined after STARTTLS in the clear are not run inside TLS",
            STARTTLS,
            custom!(injection),
        ),
        case(
            "tls.starttls-argument",
            Should,
            "RFC 3207 §4",
            "STARTTLS with an argument is refused with 501",
            STARTTLS,
            Body::Script(&[
                Connect,
                Do("{ehlo} {helo}", Codes(&[250])),
                Check("STARTTLS now", Codes(&[501])),
            ]),
        ),
        case(
            "tls.auth-not-offered-in-clear",
            Should,
            "RFC 4954 §4",
            "AUTH PLAIN/LOGIN are not advertised before TLS",
            &[Need::Plaintext],
            custom!(auth_not_offered),
        ),
        case(
            "tls.auth-refused-in-clear",
            Should,
            "RFC 4954 §4",
            "A password sent with AUTH PLAIN before TLS is not checked (refused unseen)",
            &[Need::Plaintext],
            custom!(auth_refused),
        ),
    ]
}

/// Connect, EHLO, STARTTLS with 220 (setup).
async fn before_handshake(ctx: &mut Ctx) -> Flow<Conn> {
    let mut conn = ctx.connect().await?;
    ctx.ehlo(&mut conn).await?;
    ctx.expect(&mut conn, "STARTTLS", &Codes(&[220])).await?;
    Ok(conn)
}

async fn handshake(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.connect().await?;
    ctx.ehlo(&mut conn).await?;
    ctx.check(&mut conn, "STARTTLS", &Codes(&[220])).await?;
    let (config, name) = (ctx.target.tls.clone(), ctx.target.server_name.clone());
    match conn.handshake(&config, &name).await {
        Ok(()) => {}
        Err(ConnError::Tls(e)) if e.to_string().contains("certificate") => {
            return Ok(Verdict::Inconclusive(format!(
                "certificate not trusted: {e} (use --ca FILE or --insecure)"
            )));
        }
        Err(e) => return violation(format!("after 220: {e}")),
    }
    ctx.check(&mut conn, "{ehlo} {helo}", &Codes(&[250]))
        .await?;
    pass("220, handshake, EHLO 250")
}

/// A TLS session and its EHLO capabilities.
async fn tls_session(ctx: &mut Ctx) -> Flow<(Conn, smtp_wire::Capabilities)> {
    let mut conn = ctx.connect().await?;
    if ctx.options().tls != TlsMode::Implicit {
        ctx.ehlo(&mut conn).await?;
        ctx.starttls(&mut conn).await?;
    }
    let caps = ctx.ehlo(&mut conn).await?;
    Ok((conn, caps))
}

async fn not_offered_twice(ctx: &mut Ctx) -> Flow<Verdict> {
    let (_conn, caps) = tls_session(ctx).await?;
    if caps.has("STARTTLS") {
        violation("the EHLO reply inside TLS advertises STARTTLS")
    } else {
        pass("STARTTLS not advertised inside TLS")
    }
}

async fn starttls_again(ctx: &mut Ctx) -> Flow<Verdict> {
    let (mut conn, _) = tls_session(ctx).await?;
    let reply = ctx.command(&mut conn, "STARTTLS").await?;
    if reply.code == 220 {
        violation(format!("STARTTLS inside TLS got {reply}"))
    } else {
        pass(format!("refused: {reply}"))
    }
}

async fn state_reset(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = before_handshake(ctx).await?;
    ctx.handshake(&mut conn).await?;
    let reply = ctx.command(&mut conn, "MAIL FROM:<{from}>").await?;
    if reply.code == 503 {
        return pass("MAIL before the new EHLO -> 503");
    }
    if !reply.is_positive() {
        return Ok(Verdict::Inconclusive(format!("MAIL after TLS got {reply}")));
    }
    // Does this server require EHLO at all? Only then is a kept EHLO visible.
    let mut fresh = ctx.connect().await?;
    let probe = ctx.command(&mut fresh, "MAIL FROM:<{from}>").await?;
    if probe.is_positive() {
        Ok(Verdict::Inconclusive(
            "the server accepts MAIL without any EHLO, so the reset cannot be observed".into(),
        ))
    } else {
        violation(format!(
            "MAIL right after the handshake got {reply}, though MAIL without EHLO gets {}: the EHLO from before TLS was kept",
            probe.code
        ))
    }
}

async fn injection(ctx: &mut Ctx) -> Flow<Verdict> {
    let mut conn = ctx.connect().await?;
    ctx.ehlo(&mut conn).await?;
    checked(conn.send(b"STARTTLS\r\nNOOP\r\n").await, "STARTTLS + NOOP")?;
    let reply = checked(conn.reply().await, "STARTTLS")?;
    if reply.code != 220 {
        return pass(format!(
            "STARTTLS with a command behind it was refused: {reply}"
        ));
    }
    let (config, name) = (ctx.target.tls.clone(), ctx.target.server_name.clone());
    if let Err(e) = conn.handshake(&config, &name).await {
        return pass(format!(
            "the injected bytes were not taken as a command ({e})"
        ));
    }
    match conn.reply_within(ctx.grace()).await {
        Ok(Some(reply)) => violation(format!(
            "the NOOP sent in the clear before the handshake was answered inside TLS: {reply}"
        )),
        Ok(None) | Err(ConnError::Closed) => {
            ctx.check(&mut conn, "{ehlo} {helo}", &Codes(&[250]))
                .await?;
            pass("nothing answered the injected NOOP")
        }
        Err(e) => pass(format!("the connection ended after the handshake ({e})")),
    }
}

/// The plaintext EHLO reply, read fresh (the probe is in the session mode).
async fn plain_caps(ctx: &mut Ctx) -> Flow<(Conn, smtp_wire::Capabilities)> {
    let mut conn = ctx.connect().await?;
    let caps = ctx.ehlo(&mut conn).await?;
    Ok((conn, caps))
}

async fn auth_not_offered(ctx: &mut Ctx) -> Flow<Verdict> {
    let (_conn, caps) = plain_caps(ctx).await?;
    let exposed: Vec<String> = caps
        .auth_mechanisms()
        .into_iter()
        .filter(|m| m == "PLAIN" || m == "LOGIN")
        .collect();
    if exposed.is_empty() {
        pass("no plaintext password mechanism before TLS")
    } else {
        violation(format!(
            "AUTH {} advertised in the clear",
            exposed.join(" ")
        ))
    }
}

async fn auth_refused(ctx: &mut Ctx) -> Flow<Verdict> {
    let (mut conn, _) = plain_caps(ctx).await?;
    let response = smtp_wire::sasl::plain_response(&super::auth::nobody());
    let line = format!("AUTH PLAIN {response}");
    let reply = setup(conn.command(&line).await, "AUTH PLAIN")?;
    match reply.code {
        235 | 334 | 535 => violation(format!(
            "AUTH PLAIN in the clear was processed: {reply} (the password crossed the network unencrypted)"
        )),
        _ => pass(format!("refused unseen: {reply}")),
    }
}

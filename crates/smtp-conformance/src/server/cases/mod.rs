//! The server cases, one module per family. Each module has a `cases()`
//! table; simple cases are scripts ([`super::script`]), the others small
//! async functions.

use std::future::Future;
use std::pin::Pin;

use super::ctx::{Ctx, Flow};
use super::script::Step;
use crate::model::{CaseInfo, Level, Verdict};

mod auth;
mod basic;
mod data;
mod extensions;
mod greeting;
mod limits;
mod lmtp;
mod order;
mod pipelining;
mod relay;
mod smuggling;
mod starttls;
mod syntax;

/// A boxed case future.
pub(crate) type CaseFuture<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

/// How a case runs.
#[derive(Clone, Copy)]
pub(crate) enum Body {
    /// A list of steps.
    Script(&'static [Step]),
    /// A function.
    Custom(for<'a> fn(&'a mut Ctx) -> CaseFuture<'a>),
}

/// What a case needs from the server or the options; without it the case
/// is skipped with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// The EHLO keyword is advertised in the session mode.
    Ext(&'static str),
    /// A plaintext session that can be upgraded: not implicit TLS, STARTTLS offered.
    StartTls,
    /// A plaintext EHLO exists (not implicit TLS).
    Plaintext,
    /// TLS is in use in the session (implicit, or STARTTLS mode).
    Tls,
    /// AUTH PLAIN is advertised in the session mode.
    AuthPlain,
    /// `--auth USER` was given.
    Credentials,
    /// `--idle-wait` was given.
    IdleWait,
    /// SIZE is advertised with a number.
    SizeLimit,
    /// The target speaks LMTP (`lmtp:HOST:PORT`, `lmtp:unix:PATH`).
    Lmtp,
    /// The target speaks SMTP: the case is about a command LMTP does not
    /// have (EHLO, HELO: RFC 2033 §4.1).
    Smtp,
    /// `--relay-to` and `--judge-listen` were given (SMTP targets only).
    Relay,
}

/// One server case: what it checks and how.
#[derive(Clone, Copy)]
pub struct Case {
    /// Id, title, RFC section, level.
    pub info: CaseInfo,
    pub(crate) needs: &'static [Need],
    pub(crate) body: Body,
}

/// Builds a [`Case`] from its parts.
pub(crate) const fn case(
    id: &'static str,
    level: Level,
    rfc: &'static str,
    title: &'static str,
    needs: &'static [Need],
    body: Body,
) -> Case {
    Case {
        info: CaseInfo {
            id,
            title,
            rfc,
            level,
        },
        needs,
        body,
    }
}

/// Wraps `async fn(&mut Ctx) -> Flow<Verdict>` into a [`Body::Custom`].
macro_rules! custom {
    ($f:path) => {{
        fn boxed(ctx: &mut $crate::server::ctx::Ctx) -> $crate::server::cases::CaseFuture<'_> {
            Box::pin(async move {
                match $f(ctx).await {
                    Ok(v) | Err(v) => v,
                }
            })
        }
        $crate::server::cases::Body::Custom(boxed)
    }};
}
pub(crate) use custom;

/// Every case, in the order they run.
pub(crate) fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(greeting::cases());
    cases.extend(order::cases());
    cases.extend(syntax::cases());
    cases.extend(basic::cases());
    cases.extend(data::cases());
    cases.extend(smuggling::cases());
    cases.extend(pipelining::cases());
    cases.extend(extensions::cases());
    cases.extend(starttls::cases());
    cases.extend(auth::cases());
    cases.extend(limits::cases());
    cases.extend(lmtp::cases());
    cases.extend(relay::cases());
    cases
}

/// A verdict for a reply that should not have been positive, etc.: helper
/// shared by the families.
pub(crate) fn violation<T>(text: impl Into<String>) -> Flow<T> {
    Err(Verdict::Violation(text.into()))
}

/// Ends a custom case with a pass.
pub(crate) fn pass(text: impl Into<String>) -> Flow<Verdict> {
    Ok(Verdict::Pass(text.into()))
}

//! Rules applied as the application's answers: a [`Backend`] wrapper for
//! the connect stage, a [`Handler`] wrapper for the others.

use smtp_wire::Reply;
use smtp_wire::param::{MailParams, RcptParams};
use smtp_wire::path::{Domain, ForwardPath, ReversePath};
use smtp_wire::sasl::{Credentials, Mechanism};

use super::{Action, Rules, Stage};
use crate::{Backend, ConnectionInfo, Envelope, Handler, MessageBody};

/// A backend whose sessions obey `rules` before asking the inner backend.
///
/// ```
/// use smtp_receiver::rules::{Rules, WithRules};
/// use smtp_receiver::SinkHandler;
/// let rules = Rules::new(1);
/// rules.add("rcpt:*@bounce.test=550 5.1.1 no such user".parse().unwrap());
/// let backend = WithRules::new(SinkHandler::default(), rules);
/// # let _ = backend;
/// ```
#[derive(Debug, Clone)]
pub struct WithRules<B> {
    inner: B,
    rules: Rules,
}

impl<B: Backend> WithRules<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, rules: Rules) -> WithRules<B> {
        WithRules { inner, rules }
    }
}

/// The handler of one session under rules.
#[derive(Debug)]
pub struct RuledHandler<H> {
    inner: H,
    rules: Rules,
}

/// Carries out an action: `Err` with the reply to send, or `Ok` to go on
/// (after the delay, if any).
async fn apply(action: Option<Action>) -> Result<(), Reply> {
    match action {
        None => Ok(()),
        Some(Action::Reply(reply)) => Err(reply),
        // RFC 5321 §3.8: 421 and the session closes (the core does).
        Some(Action::Drop) => Err(drop_reply()),
        Some(Action::Delay(d)) => {
            tokio::time::sleep(d).await;
            Ok(())
        }
    }
}

fn drop_reply() -> Reply {
    Reply::enhanced(
        421,
        smtp_wire::reply::EnhancedCode::new(4, 3, 2),
        "Closing by rule",
    )
}

impl<B: Backend> Backend for WithRules<B> {
    type Handler = RuledHandler<B::Handler>;

    async fn connect(&self, info: &ConnectionInfo) -> Result<Self::Handler, Reply> {
        let ip = info.peer.ip().to_string();
        apply(self.rules.decide(Stage::Connect, &[&ip])).await?;
        Ok(RuledHandler {
            inner: self.inner.connect(info).await?,
            rules: self.rules.clone(),
        })
    }
}

/// The address of a path without angle brackets (`""` for `<>`).
fn address(path: &impl std::fmt::Display) -> String {
    let text = path.to_string();
    text.trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

impl<H: Handler> Handler for RuledHandler<H> {
    async fn ehlo(&mut self, domain: &Domain, extended: bool) -> Result<(), Reply> {
        apply(self.rules.decide(Stage::Ehlo, &[&domain.to_string()])).await?;
        self.inner.ehlo(domain, extended).await
    }

    async fn auth(&mut self, mechanism: Mechanism, credentials: &Credentials) -> Result<(), Reply> {
        apply(self.rules.decide(Stage::Auth, &[&credentials.username])).await?;
        self.inner.auth(mechanism, credentials).await
    }

    async fn mail(&mut self, from: &ReversePath, params: &MailParams) -> Result<(), Reply> {
        apply(self.rules.decide(Stage::Mail, &[&address(from)])).await?;
        self.inner.mail(from, params).await
    }

    async fn rcpt(&mut self, to: &ForwardPath, params: &RcptParams) -> Result<(), Reply> {
        apply(self.rules.decide(Stage::Rcpt, &[&address(to)])).await?;
        self.inner.rcpt(to, params).await
    }

    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        let mut subjects = vec![address(&envelope.from)];
        subjects.extend(envelope.recipients.iter().map(|r| address(&r.to)));
        let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
        // An early Err: the session reads and discards the rest, then
        // sends the reply (see `Handler::data`).
        apply(self.rules.decide(Stage::Data, &subjects)).await?;
        self.inner.data(envelope, body).await
    }

    async fn reset(&mut self) {
        self.inner.reset().await;
    }

    async fn disconnect(&mut self) {
        self.inner.disconnect().await;
    }
}

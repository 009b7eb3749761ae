//! A fixed table of users and passwords, and a handler wrapper that
//! answers AUTH from it (what `smtp-receive --user` / `--users-file` use).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use smtp_wire::Reply;
use smtp_wire::param::{MailParams, RcptParams};
use smtp_wire::path::{Domain, ForwardPath, ReversePath};

use smtp_wire::sasl::{Credentials, Mechanism};

use crate::session::replies;
use crate::{Envelope, Handler, MessageBody};

/// Why a user table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not `NAME:PASSWORD`.
    #[error("{origin}: expected NAME:PASSWORD with a non-empty name")]
    Syntax {
        /// Where: `--user` or `FILE line N`.
        origin: String,
    },
}

/// User names and passwords. `Debug` shows names only.
#[derive(Clone, Default)]
pub struct Users {
    passwords: HashMap<String, String>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.passwords.keys()).finish()
    }
}

impl Users {
    /// An empty table.
    pub fn new() -> Users {
        Users::default()
    }

    /// Adds or replaces a user.
    pub fn insert(&mut self, name: impl Into<String>, password: impl Into<String>) {
        self.passwords.insert(name.into(), password.into());
    }

    /// Adds a user from `NAME:PASSWORD` (the password may contain `:`).
    pub fn insert_line(&mut self, line: &str, origin: &str) -> Result<(), UsersError> {
        match line.split_once(':') {
            Some((name, password)) if !name.is_empty() => {
                self.insert(name, password);
                Ok(())
            }
            _ => Err(UsersError::Syntax {
                origin: origin.to_string(),
            }),
        }
    }

    /// Reads `NAME:PASSWORD` lines; blank lines and `#` comments are skipped.
    pub fn from_file(path: &Path) -> Result<Users, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut users = Users::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            users.insert_line(line, &format!("{} line {}", path.display(), n + 1))?;
        }
        Ok(users)
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.passwords.len()
    }

    /// True without users.
    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }

    /// The answer to AUTH with `credentials`: `Ok`, or `535 5.7.8`.
    pub fn authenticate(&self, credentials: &Credentials) -> Result<(), Reply> {
        // RFC 4616 §2: an authorization identity other than the user is
        // a request to act as someone else, which this table cannot grant.
        let authzid_ok = credentials
            .authzid
            .as_ref()
            .is_none_or(|z| *z == credentials.username);
        // A table of passwords cannot check a bearer token.
        let password = credentials.token().is_none();
        if authzid_ok && password && self.check(&credentials.username, credentials.password()) {
            // `?`: Debug escapes CR, LF and other controls, so a user name
            // cannot forge log lines (the session refuses them anyway).
            tracing::info!(user = ?credentials.username, "authenticated");
            Ok(())
        } else {
            // Only at debug: a failed "user name" is often a password typed
            // into the wrong field.
            tracing::debug!(user = ?credentials.username, "authentication failed");
            Err(replies::auth_failed())
        }
    }

    /// True when `password` is `name`'s (compared in constant time).
    pub fn check(&self, name: &str, password: &str) -> bool {
        match self.passwords.get(name) {
            Some(expected) => constant_time_eq(expected.as_bytes(), password.as_bytes()),
            None => {
                // Spend the same time for unknown users.
                let _ = constant_time_eq(password.as_bytes(), password.as_bytes());
                false
            }
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Wraps a handler so that AUTH is checked against a [`Users`] table;
/// everything else goes to the inner handler.
#[derive(Debug, Clone)]
pub struct WithUsers<H> {
    inner: H,
    /// Shared by every clone (every connection), so that
    /// [`replace_users`](Self::replace_users) reaches them all.
    users: Arc<RwLock<Users>>,
}

impl<H: Handler> WithUsers<H> {
    /// `inner` with AUTH answered from `users`.
    pub fn new(inner: H, users: Users) -> WithUsers<H> {
        WithUsers {
            inner,
            users: Arc::new(RwLock::new(users)),
        }
    }

    /// Puts a new table in place (`smtp-receive` does it at SIGHUP): every
    /// clone of this value, so every connection, checks the next AUTH
    /// against it; sessions already authenticated stay so.
    pub fn replace_users(&self, users: Users) {
        match self.users.write() {
            Ok(mut current) => *current = users,
            Err(poisoned) => *poisoned.into_inner() = users,
        }
    }

    /// The wrapped handler.
    pub fn inner(&self) -> &H {
        &self.inner
    }
}

impl<H: Handler> Handler for WithUsers<H> {
    async fn ehlo(&mut self, domain: &Domain, extended: bool) -> Result<(), Reply> {
        self.inner.ehlo(domain, extended).await
    }

    async fn auth(&mut self, _: Mechanism, credentials: &Credentials) -> Result<(), Reply> {
        match self.users.read() {
            Ok(users) => users.authenticate(credentials),
            Err(poisoned) => poisoned.into_inner().authenticate(credentials),
        }
    }

    async fn mail(&mut self, from: &ReversePath, params: &MailParams) -> Result<(), Reply> {
        self.inner.mail(from, params).await
    }

    async fn rcpt(&mut self, to: &ForwardPath, params: &RcptParams) -> Result<(), Reply> {
        self.inner.rcpt(to, params).await
    }

    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        self.inner.data(envelope, body).await
    }

    async fn reset(&mut self) {
        self.inner.reset().await;
    }

    async fn disconnect(&mut self) {
        self.inner.disconnect().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_checks() {
        let mut users = Users::new();
        users.insert_line("alice:pa:ss", "--user").unwrap();
        assert!(users.check("alice", "pa:ss"));
        assert!(!users.check("alice", "pa:s"));
        assert!(!users.check("bob", "pa:ss"));
        assert!(users.insert_line(":x", "--user").is_err());
        assert!(users.insert_line("nocolon", "--user").is_err());
        assert!(!format!("{users:?}").contains("pa:ss"));
    }

    /// Log lines written while `f` runs, at `level` and above.
    fn captured_logs(level: tracing::Level, f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = sink.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn try_auth(handler: &mut WithUsers<crate::SinkHandler>, user: &str, password: &str) -> bool {
        let credentials = Credentials::new(user, password);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(handler.auth(Mechanism::Plain, &credentials))
            .is_ok()
    }

    /// A user name cannot forge log lines (it is logged escaped), and a
    /// failed attempt's name, which is often a mistyped password, is only
    /// logged at debug level.
    #[test]
    fn user_names_are_logged_escaped_and_failures_only_at_debug() {
        let mut users = Users::new();
        users.insert("alice", "s3cret");
        users.insert("eve\nINFO forged: admin logged in", "pw");
        let mut handler = WithUsers::new(crate::SinkHandler::default(), users);
        let logs = captured_logs(tracing::Level::INFO, || {
            assert!(try_auth(
                &mut handler,
                "eve\nINFO forged: admin logged in",
                "pw"
            ));
            assert!(!try_auth(&mut handler, "hunter2-typed-as-user", "x"));
        });
        assert_eq!(logs.lines().count(), 1, "{logs}");
        assert!(
            logs.contains(r#"user="eve\nINFO forged: admin logged in""#),
            "{logs}"
        );
        assert!(!logs.contains("hunter2"), "{logs}");
        let logs = captured_logs(tracing::Level::DEBUG, || {
            assert!(!try_auth(&mut handler, "mallory\r\nWARN x", "x"));
        });
        assert_eq!(logs.lines().count(), 1, "{logs}");
        assert!(logs.contains(r#"user="mallory\r\nWARN x""#), "{logs}");
    }
}

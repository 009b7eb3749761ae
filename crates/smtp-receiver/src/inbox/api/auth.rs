//! `--http-auth FILE`: HTTP basic authentication (RFC 7617) against
//! htpasswd lines `name:$2y$...` (bcrypt, as `htpasswd -B` writes them).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Why an htpasswd file was refused.
#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not `name:bcrypt-hash`.
    #[error("{path} line {line}: expected NAME:HASH with a bcrypt hash ($2a$, $2b$ or $2y$)")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line number.
        line: usize,
    },
    /// No user in it.
    #[error("{0}: no users")]
    Empty(PathBuf),
}

/// The users allowed in, and the credentials already checked (bcrypt is
/// slow on purpose; a client sends the same header with every request).
#[derive(Clone, Default)]
pub struct HtpasswdUsers {
    hashes: Arc<HashMap<String, String>>,
    verified: Arc<Mutex<HashSet<[u8; 32]>>>,
}

impl std::fmt::Debug for HtpasswdUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.hashes.keys()).finish()
    }
}

impl HtpasswdUsers {
    /// Reads an htpasswd file: `name:hash` lines, `#` comments.
    pub fn from_file(path: &Path) -> Result<HtpasswdUsers, HtpasswdError> {
        let text = std::fs::read_to_string(path).map_err(|source| HtpasswdError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        HtpasswdUsers::parse(&text, path)
    }

    fn parse(text: &str, path: &Path) -> Result<HtpasswdUsers, HtpasswdError> {
        let mut hashes = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((name, hash))
                    if !name.is_empty()
                        && ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) =>
                {
                    hashes.insert(name.to_string(), hash.to_string());
                }
                _ => {
                    return Err(HtpasswdError::Syntax {
                        path: path.to_path_buf(),
                        line: n + 1,
                    });
                }
            }
        }
        if hashes.is_empty() {
            return Err(HtpasswdError::Empty(path.to_path_buf()));
        }
        Ok(HtpasswdUsers {
            hashes: Arc::new(hashes),
            verified: Arc::default(),
        })
    }

    /// True when `name` and `password` are right.
    pub fn check(&self, name: &str, password: &str) -> bool {
        let key: [u8; 32] = Sha256::new()
            .chain_update(name.as_bytes())
            .chain_update([0])
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        if self.verified.lock().is_ok_and(|v| v.contains(&key)) {
            return true;
        }
        let good = self
            .hashes
            .get(name)
            .is_some_and(|hash| bcrypt::verify(password, hash).unwrap_or(false));
        if good && let Ok(mut verified) = self.verified.lock() {
            verified.insert(key);
        }
        good
    }
}

/// The middleware: 401 with a `WWW-Authenticate` challenge unless the
/// request carries good Basic credentials.
pub(super) async fn require(
    State(users): State<HtpasswdUsers>,
    request: Request,
    next: Next,
) -> Response {
    let credentials = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let allowed = match credentials.as_deref().and_then(|c| c.split_once(':')) {
        Some((name, password)) => {
            let (name, password) = (name.to_string(), password.to_string());
            // bcrypt takes tens of milliseconds: not on a runtime thread.
            tokio::task::spawn_blocking(move || users.check(&name, &password))
                .await
                .unwrap_or(false)
        }
        None => false,
    };
    if allowed {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({"Error": "Unauthorized"})),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"smtp-receive\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_lines() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let users =
            HtpasswdUsers::parse(&format!("# users\nalice:{hash}\n"), Path::new("f")).unwrap();
        assert!(users.check("alice", "secret"));
        assert!(users.check("alice", "secret")); // cached
        assert!(!users.check("alice", "wrong"));
        assert!(!users.check("bob", "secret"));
        assert!(HtpasswdUsers::parse("alice:plain\n", Path::new("f")).is_err());
        assert!(HtpasswdUsers::parse("# none\n", Path::new("f")).is_err());
    }
}

//! The thin async driver around the [`Judge`]: socket, delays, TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use smtp_io::MaybeTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use smtp_wire::Transcript;

use super::judge::{Action, Judge, JudgeConfig};
use crate::model::Report;

type Stream = MaybeTls<TcpStream>;

/// Runs one judged session on an accepted connection; returns the report
/// and the judge's recording of the session.
pub(crate) async fn judge_session(
    tcp: TcpStream,
    cfg: JudgeConfig,
    tls: Option<Arc<ServerConfig>>,
    implicit: bool,
    idle: Duration,
) -> (Report, Transcript) {
    let started = Instant::now();
    let peer = tcp
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let target = format!("{peer} (scenario {})", cfg.scenario);
    let _ = tcp.set_nodelay(true);
    let mut judge = Judge::new(cfg);
    let mut stream = MaybeTls::plain(tcp);
    if implicit {
        match handshake(&mut stream, tls.clone(), idle).await {
            Ok(()) => judge.implicit_tls_started(),
            Err(e) => {
                judge.tls_failed(&e);
                return judge.finish(target, started.elapsed());
            }
        }
    }
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match judge.next() {
            Action::Read => match tokio::time::timeout(idle, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    judge.eof();
                }
                Ok(Ok(n)) => judge.received(&chunk[..n]),
                Err(_) => judge.timed_out(),
            },
            Action::Write(parts) => {
                let mut ok = true;
                for (delay, bytes) in parts {
                    if !read_for(&mut stream, &mut judge, &mut chunk, delay).await {
                        ok = false;
                    }
                    if write_flush(&mut stream, &bytes).await.is_err() {
                        ok = false;
                        break;
                    }
                    judge.sent(&bytes);
                }
                judge.written();
                if !ok {
                    judge.eof();
                }
            }
            Action::StartTls => {
                judge.tls_starting();
                match handshake(&mut stream, tls.clone(), idle).await {
                    Ok(()) => judge.tls_started(),
                    Err(e) => judge.tls_failed(&e),
                }
            }
            Action::Linger(wait) => {
                read_for(&mut stream, &mut judge, &mut chunk, wait).await;
            }
            Action::Close => {
                let _ = stream.shutdown().await;
                break;
            }
        }
    }
    judge.finish(target, started.elapsed())
}

/// Reads for `wait`, handing everything to the judge. False when the
/// client closed the connection meanwhile.
async fn read_for(
    stream: &mut Stream,
    judge: &mut Judge,
    chunk: &mut [u8],
    wait: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(chunk)).await {
            Err(_) => return true,
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            Ok(Ok(n)) => judge.received(&chunk[..n]),
        }
    }
}

async fn write_flush(stream: &mut Stream, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// The TLS handshake; a failure leaves the stream closed.
async fn handshake(
    stream: &mut Stream,
    tls: Option<Arc<ServerConfig>>,
    timeout: Duration,
) -> Result<(), String> {
    let Some(config) = tls else {
        return Err("no TLS configuration".into());
    };
    match stream.accept(&TlsAcceptor::from(config), timeout).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            Err(format!("no handshake within {timeout:?}"))
        }
        Err(e) => Err(e.to_string()),
    }
}

//! The thin async driver around the [`Judge`]: socket, delays, TLS.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::judge::{Action, Judge, JudgeConfig};
use crate::model::Report;

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Gone,
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
            Stream::Gone => Ok(0),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    async fn shutdown(&mut self) {
        let _ = match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
            Stream::Gone => Ok(()),
        };
    }
}

/// Runs one judged session on an accepted connection.
pub(crate) async fn judge_session(
    tcp: TcpStream,
    cfg: JudgeConfig,
    tls: Option<Arc<ServerConfig>>,
    implicit: bool,
    idle: Duration,
) -> Report {
    let started = Instant::now();
    let peer = tcp
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let target = format!("{peer} (scenario {})", cfg.scenario);
    let _ = tcp.set_nodelay(true);
    let mut judge = Judge::new(cfg);
    let mut stream = Stream::Plain(tcp);
    if implicit {
        match handshake(stream, tls.clone(), idle).await {
            Ok(s) => stream = s,
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
                    if stream.write(&bytes).await.is_err() {
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
                match handshake(stream, tls.clone(), idle).await {
                    Ok(s) => {
                        stream = s;
                        judge.tls_started();
                    }
                    Err(e) => {
                        stream = Stream::Gone;
                        judge.tls_failed(&e);
                    }
                }
            }
            Action::Linger(wait) => {
                read_for(&mut stream, &mut judge, &mut chunk, wait).await;
            }
            Action::Close => {
                stream.shutdown().await;
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

async fn handshake(
    stream: Stream,
    tls: Option<Arc<ServerConfig>>,
    timeout: Duration,
) -> Result<Stream, String> {
    let Some(config) = tls else {
        return Err("no TLS configuration".into());
    };
    let Stream::Plain(tcp) = stream else {
        return Err("TLS already active".into());
    };
    let acceptor = TlsAcceptor::from(config);
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Ok(Stream::Tls(Box::new(tls))),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no handshake within {timeout:?}")),
    }
}

//! A minimal, fast SMTP sink: accepts everything, answers at once, supports
//! PIPELINING by answering every complete command in a batch with one write.
//! Used by the sender's throughput benchmark (`bench_pipelining`) and its
//! tests. Message content is parsed with the smtp-wire DataDecoder, so the
//! count of delivered messages is exact.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use smtp_wire::DataDecoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const EHLO_REPLY: &[u8] =
    b"250-sink.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 100000000\r\n250 ENHANCEDSTATUSCODES\r\n";

/// A running sink on 127.0.0.1.
pub struct Sink {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Messages received completely.
    pub delivered: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Sink {
    /// Binds an ephemeral port and serves connections until dropped.
    pub async fn start() -> std::io::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let delivered = Arc::new(AtomicUsize::new(0));
        let counter = delivered.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let _ = session(tcp, counter).await;
                });
            }
        });
        Ok(Sink {
            addr,
            delivered,
            task,
        })
    }

    /// How many messages have arrived.
    pub fn delivered(&self) -> usize {
        self.delivered.load(Ordering::SeqCst)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(tcp: TcpStream, delivered: Arc<AtomicUsize>) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let (mut rd, mut wr) = tcp.into_split();
    wr.write_all(b"220 sink.example ESMTP ready\r\n").await?;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut out = Vec::with_capacity(4096);
    let mut body = Vec::new();
    let mut data: Option<DataDecoder> = None;
    loop {
        if rd.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        let mut pos = 0;
        loop {
            if let Some(decoder) = data.as_mut() {
                let progress = decoder.decode(&buf[pos..], &mut body);
                pos += progress.consumed;
                if !progress.done {
                    break;
                }
                data = None;
                body.clear();
                delivered.fetch_add(1, Ordering::SeqCst);
                out.extend_from_slice(b"250 2.0.0 accepted\r\n");
                continue;
            }
            let Some(len) = buf[pos..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let line = &buf[pos..pos + len];
            pos += len + 1;
            let verb = line
                .get(..4)
                .map(|v| v.to_ascii_uppercase())
                .unwrap_or_default();
            match verb.as_slice() {
                b"EHLO" => out.extend_from_slice(EHLO_REPLY),
                b"HELO" | b"MAIL" | b"RCPT" | b"RSET" | b"NOOP" => {
                    out.extend_from_slice(b"250 2.0.0 ok\r\n")
                }
                b"DATA" => {
                    out.extend_from_slice(b"354 go ahead\r\n");
                    data = Some(DataDecoder::new());
                }
                b"QUIT" => {
                    out.extend_from_slice(b"221 2.0.0 bye\r\n");
                    wr.write_all(&out).await?;
                    return Ok(());
                }
                _ => out.extend_from_slice(b"500 5.5.1 unknown command\r\n"),
            }
        }
        buf.drain(..pos);
        if !out.is_empty() {
            wr.write_all(&out).await?;
            out.clear();
        }
    }
}

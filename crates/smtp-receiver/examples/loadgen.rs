//! A small load generator for `smtp-receive`: N concurrent sessions, each
//! sending M messages of a given size (MAIL/RCPT/DATA pipelined, RFC 2920),
//! and prints messages per second.
//!
//! ```text
//! cargo build --release -p smtp-receiver --bin smtp-receive --example loadgen
//! target/release/smtp-receive --listen 127.0.0.1:2525 --maildir /tmp/bench-mail --accept-any-recipient &
//! target/release/examples/loadgen --addr 127.0.0.1:2525 --sessions 10 --messages 200 --size 4096
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Instant;

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Sends messages to an SMTP server as fast as it accepts them.
#[derive(Debug, Parser)]
struct Args {
    /// The server (plain SMTP).
    #[arg(long)]
    addr: SocketAddr,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 10)]
    sessions: usize,
    /// Messages per session.
    #[arg(long, default_value_t = 100)]
    messages: usize,
    /// Message size in octets (approximate, whole lines of 78 octets + CRLF).
    #[arg(long, default_value_t = 4096)]
    size: usize,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for session in 0..args.sessions {
        tasks.push(tokio::spawn(run_session(
            args.addr,
            session,
            args.messages,
            args.size,
        )));
    }
    let mut sent = 0;
    for task in tasks {
        sent += task.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "{sent} messages of {} octets in {:.2} s: {:.0} messages/s ({} sessions)",
        args.size,
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        args.sessions
    );
}

async fn reply(io: &mut BufReader<TcpStream>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        assert!(io.read_line(&mut line).await.unwrap() > 0, "server closed");
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

async fn run_session(addr: SocketAddr, session: usize, messages: usize, size: usize) -> usize {
    let mut io = BufReader::new(TcpStream::connect(addr).await.unwrap());
    io.get_mut().set_nodelay(true).unwrap();
    reply(&mut io).await;
    io.get_mut()
        .write_all(b"EHLO loadgen.example\r\n")
        .await
        .unwrap();
    reply(&mut io).await;
    let line = format!("{}\r\n", "x".repeat(78));
    let block: String = line.repeat(64 * 1024 / line.len());
    for n in 0..messages {
        let head = format!(
            "MAIL FROM:<load{session}@loadgen.example>\r\nRCPT TO:<sink@example.org>\r\nDATA\r\n"
        );
        io.get_mut().write_all(head.as_bytes()).await.unwrap();
        for _ in 0..3 {
            let r = reply(&mut io).await;
            assert!(r.starts_with('2') || r.starts_with('3'), "{r}");
        }
        let header = format!("Subject: load {session}/{n}\r\n\r\n");
        io.get_mut().write_all(header.as_bytes()).await.unwrap();
        let mut left = size.saturating_sub(header.len());
        while left >= line.len() {
            let take = (left / line.len()).min(block.len() / line.len()) * line.len();
            io.get_mut()
                .write_all(&block.as_bytes()[..take])
                .await
                .unwrap();
            left -= take;
        }
        io.get_mut().write_all(b".\r\n").await.unwrap();
        let r = reply(&mut io).await;
        assert!(r.starts_with("250"), "{r}");
    }
    io.get_mut().write_all(b"QUIT\r\n").await.unwrap();
    messages
}

//! Throughput: 1,000 small messages over one connection, with PIPELINING on
//! and off, against an in-process sink that answers at once.
//!
//! ```text
//! cargo run --release -p smtp-sender --example bench_pipelining [-- MESSAGES ROUNDS]
//! ```
//! Prints messages per second for each mode (best and median of the rounds).

use std::time::{Duration, Instant};

use smtp_sender::{Client, ClientConfig, Envelope, TlsMode};
use smtp_testkit::server::Sink;

const MESSAGE: &[u8] = b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: bench\r\n\
Message-ID: <bench@example.com>\r\n\r\nA small message for the benchmark.\r\n.A dotted line.\r\n";

async fn round(sink: &Sink, pipelining: bool, messages: usize) -> anyhow::Result<Duration> {
    let mut config = ClientConfig::new("127.0.0.1", sink.addr.port());
    config.tls = TlsMode::None;
    config.ehlo_name = Some("bench.example".into());
    config.pipelining = pipelining;
    let envelope = Envelope::new("alice@example.com", &["bob@example.org"])?;
    let mut client = Client::connect(config).await?;
    let before = sink.delivered();
    let start = Instant::now();
    for _ in 0..messages {
        let report = client.send(&envelope, MESSAGE).await?;
        anyhow::ensure!(report.all_accepted(), "refused: {report}");
    }
    let elapsed = start.elapsed();
    client.quit().await?;
    anyhow::ensure!(
        sink.delivered() - before == messages,
        "the sink lost messages"
    );
    Ok(elapsed)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let messages: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let sink = Sink::start().await?;
    println!(
        "{messages} messages of {} octets over one connection, {rounds} rounds",
        MESSAGE.len()
    );
    for pipelining in [true, false] {
        // One warm-up round, not counted.
        round(&sink, pipelining, messages.min(100)).await?;
        let mut rates = Vec::new();
        for _ in 0..rounds {
            let elapsed = round(&sink, pipelining, messages).await?;
            rates.push(messages as f64 / elapsed.as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "pipelining {:<3}: best {:>8.0} msg/s, median {:>8.0} msg/s",
            if pipelining { "on" } else { "off" },
            rates[rates.len() - 1],
            rates[rates.len() / 2]
        );
    }
    Ok(())
}

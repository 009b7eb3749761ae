//! `smtp-conform server` from the command line with the new targets and
//! options: `lmtp:HOST:PORT` with `--rcpt` given three times, and
//! `--relay-to DOMAIN --judge-listen ADDR` (the recipient becomes
//! conform-relay@DOMAIN), against the reference server.

use std::process::{Command, Stdio};

use crate::refserver;
use crate::server_cases::{judge_addr, reference};
use smtp_conformance::server::TlsMode;

/// Runs `smtp-conform server ARGS --json` (plain sessions, short waits);
/// returns the exit status and the (id, outcome) of every case.
async fn conform(args: Vec<String>) -> (Option<i32>, Vec<(String, String)>) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_smtp-conform"))
            .arg("server")
            .args(&args)
            .args(["--timeout", "2", "--grace", "300", "--json"])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |part: &str, name: &str| -> String {
        let key = format!("\"{name}\":\"");
        let start = part.find(&key).map_or(part.len(), |i| i + key.len());
        part[start..].split('"').next().unwrap_or("").to_string()
    };
    let cases = json
        .split("{\"id\":")
        .skip(1)
        .map(|part| {
            let part = format!("\"id\":{part}");
            (field(&part, "id"), field(&part, "outcome"))
        })
        .collect();
    (out.status.code(), cases)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_lmtp_target_on_the_command_line() {
    let mut config = reference(TlsMode::None, vec![]);
    config.lmtp = true;
    let server = refserver::spawn(config).await;
    let mut args = vec![format!("lmtp:{}", server.addr)];
    for rcpt in [
        "inbox@example.test",
        "second@example.test",
        "third@example.test",
    ] {
        args.extend(["--rcpt".to_string(), rcpt.to_string()]);
    }
    args.extend(["--only".into(), "lmtp,ehlo".into()]);
    let (status, cases) = conform(args).await;
    assert_eq!(status, Some(0), "{cases:?}");
    let lmtp: Vec<_> = cases
        .iter()
        .filter(|(id, _)| id.starts_with("lmtp."))
        .collect();
    assert_eq!(lmtp.len(), 8);
    assert!(lmtp.iter().all(|(_, o)| o == "pass"), "{lmtp:?}");
    assert!(
        cases.contains(&("ehlo.accepted".into(), "skip".into())),
        "{cases:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_options_on_the_command_line() {
    let judge = judge_addr();
    let mut config = reference(TlsMode::None, vec![]);
    config.relay = Some(("conform-relay@relay.test".into(), judge));
    let server = refserver::spawn(config).await;
    let args = [
        server.addr.to_string().as_str(),
        "--rcpt",
        "inbox@example.test",
        "--relay-to",
        "relay.test",
        "--judge-listen",
        &judge.to_string(),
        "--relay-wait",
        "5",
        "--only",
        "relay",
    ]
    .map(str::to_string)
    .to_vec();
    let (status, cases) = conform(args).await;
    assert_eq!(status, Some(0), "{cases:?}");
    assert_eq!(cases.len(), 5, "{cases:?}");
    assert!(cases.iter().all(|(_, o)| o == "pass"), "{cases:?}");
    // --relay-to without --judge-listen is a usage error (exit 2).
    let (status, _) = conform(
        [
            "127.0.0.1:1",
            "--rcpt",
            "a@b.example",
            "--relay-to",
            "x.example",
        ]
        .map(str::to_string)
        .to_vec(),
    )
    .await;
    assert_eq!(status, Some(2));
}

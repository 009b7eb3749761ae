//! A test inbox in this process: the SMTP server (plain + STARTTLS with the
//! test PKI), the index, the HTTP API on a port of its own, and a real
//! HTTP client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use smtp_receiver::config::RecipientPolicy;
use smtp_receiver::inbox::api::{self, ApiOptions, HttpListener};
use smtp_receiver::inbox::{Inbox, InboxConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::common::{TestCerts, TestServer, start, test_config};

pub struct TestInbox {
    pub server: TestServer,
    pub inbox: Inbox,
    pub base: String,
    pub http: reqwest::Client,
    pub certs: TestCerts,
    pub dir: PathBuf,
    stop_http: watch::Sender<bool>,
    http_task: JoinHandle<()>,
}

/// Starts an inbox on `dir` (a Maildir), `configure` adjusting its configuration.
pub async fn start_inbox(
    dir: &Path,
    options: ApiOptions,
    configure: impl FnOnce(&mut InboxConfig),
) -> TestInbox {
    let certs = TestCerts::generate();
    let mut config = test_config(Some(&certs));
    config.session.recipients = RecipientPolicy::AcceptAny;
    // The concurrency test's 20 sessions all come from 127.0.0.1.
    config.session.limits.connections_per_ip = 64;
    let mut inbox_config = InboxConfig::new(dir, "mx.test");
    inbox_config.accept_any_auth = true;
    configure(&mut inbox_config);
    let inbox = Inbox::open(inbox_config).await.unwrap();
    inbox.attach(&mut config);
    let server = start(config, inbox.backend()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_http, mut stopped) = watch::channel(false);
    let router = api::router(inbox.clone(), options);
    let http_task = tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        api::serve(HttpListener::Plain(listener), router, stop)
            .await
            .unwrap();
    });
    TestInbox {
        server,
        inbox,
        base,
        http: reqwest::Client::new(),
        certs,
        dir: dir.to_path_buf(),
        stop_http,
        http_task,
    }
}

impl TestInbox {
    pub fn smtp(&self) -> SocketAddr {
        self.server.plain
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET, expecting 200 and JSON.
    pub async fn json(&self, path: &str) -> Value {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Waits until the session count reaches `n` (sessions are recorded
    /// when they end).
    pub async fn sessions(&self, n: u64) -> Value {
        for _ in 0..200 {
            let list = self.json("/api/v1/sessions").await;
            if list["total"].as_u64().unwrap() >= n {
                return list;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("fewer than {n} sessions recorded");
    }

    pub async fn stop(self) {
        let _ = self.stop_http.send(true);
        self.http_task.await.unwrap();
        self.server.stop().await;
    }
}

/// Runs a Python script with the given arguments; stdout back.
pub fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// smtplib over STARTTLS with AUTH: a text+HTML message with a binary
/// attachment to a visible and a hidden (Bcc) recipient.
pub const SMTPLIB_SEND: &str = r#"
import smtplib, ssl, sys
from email.message import EmailMessage
host, port, ca, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
m = EmailMessage()
m["From"] = "Alice Example <alice@example.com>"
m["To"] = "bob+signup@example.org"
m["Subject"] = subject
m["Message-ID"] = "<" + subject.replace(" ", "-") + "@example.com>"
m.set_content("plain body of " + subject)
m.add_alternative("<p>html <b>body</b></p>", subtype="html")
m.add_attachment(bytes(range(256)) * 3, maintype="application", subtype="octet-stream", filename="blob.bin")
with smtplib.SMTP(host, port) as s:
    s.starttls(context=ssl.create_default_context(cafile=ca))
    s.login("tester", "hunter2-secret")
    s.send_message(m, to_addrs=["bob+signup@example.org", "hidden@example.org"])
print("sent")
"#;

/// Sends `subject` with [`SMTPLIB_SEND`] (off the runtime's threads).
pub async fn smtplib_send(inbox: &TestInbox, subject: &str) {
    let port = inbox.smtp().port().to_string();
    let ca = inbox.certs.files.ca_cert.to_string_lossy().into_owned();
    let subject = subject.to_string();
    let out = tokio::task::spawn_blocking(move || {
        python(SMTPLIB_SEND, &["localhost", &port, &ca, &subject])
    })
    .await
    .unwrap();
    assert_eq!(out.trim(), "sent");
}

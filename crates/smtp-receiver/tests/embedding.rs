//! The embedding API on transports other than the server's own TCP
//! listeners: a Unix socket through `Server::serve`, in-memory duplex
//! streams through `Server::serve_connection` (plain, STARTTLS, implicit
//! TLS), each with a real conversation; and the per-connection `Backend`
//! with its `disconnect` hook.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Client, PATIENCE, TestCerts, code, codes, envelope, test_config};
use smtp_receiver::config::ListenerKind;
use smtp_receiver::{
    Backend, ConnectionInfo, Envelope, Handler, MessageBody, NO_ADDRESS, Reply, Server,
};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::task::JoinHandle;

/// What the application saw, over all connections.
#[derive(Default)]
struct Seen {
    connected: Vec<ConnectionInfo>,
    messages: Vec<(Envelope, Vec<u8>)>,
    disconnected: Vec<u32>,
}

/// A backend that numbers its connections and records everything.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Seen>>);

/// One connection's handler.
struct Recorded {
    number: u32,
    seen: Arc<Mutex<Seen>>,
}

impl Backend for Recorder {
    type Handler = Recorded;

    async fn connect(&self, info: &ConnectionInfo) -> Result<Recorded, Reply> {
        let mut seen = self.0.lock().unwrap();
        seen.connected.push(info.clone());
        Ok(Recorded {
            number: seen.connected.len() as u32,
            seen: Arc::clone(&self.0),
        })
    }
}

impl Handler for Recorded {
    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        let mut message = Vec::new();
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            message.extend_from_slice(chunk);
        }
        let mut seen = self.seen.lock().unwrap();
        seen.messages.push((envelope.clone(), message));
        Ok(())
    }

    async fn disconnect(&mut self) {
        self.seen.lock().unwrap().disconnected.push(self.number);
    }
}

/// EHLO, one message (with a dot to unstuff), QUIT: every reply checked.
async fn conversation<S: AsyncRead + AsyncWrite + Unpin>(c: &mut Client<S>, subject: &str) {
    envelope(c).await;
    assert_eq!(code(&c.cmd("DATA").await), 354);
    let reply = c
        .cmd(&format!("Subject: {subject}\r\n\r\n..dot\r\n."))
        .await;
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    assert!(c.cmd("QUIT").await.starts_with("221 2.0.0 mx.test "));
    assert_eq!(c.read_to_end().await, "");
}

fn duplex_info(kind: ListenerKind) -> ConnectionInfo {
    ConnectionInfo::new(
        "192.0.2.7:4242".parse().unwrap(),
        "192.0.2.25:25".parse().unwrap(),
        kind,
    )
}

/// Serves one end of a duplex pipe in a task; the test talks on the other.
fn serve_duplex(
    server: &Arc<Server<Recorder>>,
    kind: ListenerKind,
) -> (Client<DuplexStream>, JoinHandle<()>) {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let server = Arc::clone(server);
    let task =
        tokio::spawn(async move { server.serve_connection(theirs, duplex_info(kind)).await });
    (Client::new(ours), task)
}

/// Waits for a session served by [`serve_duplex`] to end.
async fn ended(task: JoinHandle<()>) {
    tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_conversation_over_an_in_memory_duplex() {
    let recorder = Recorder::default();
    let server = Arc::new(Server::new(test_config(None), recorder.clone()));
    let (mut c, task) = serve_duplex(&server, ListenerKind::Plain);
    assert_eq!(c.reply().await, "220 mx.test ESMTP smtp-receiver ready\r\n");
    conversation(&mut c, "in memory").await;
    ended(task).await;

    let seen = recorder.0.lock().unwrap();
    assert_eq!(seen.connected, [duplex_info(ListenerKind::Plain)]);
    let (envelope, message) = &seen.messages[0];
    assert_eq!(envelope.peer, "192.0.2.7:4242".parse().unwrap());
    assert!(message.ends_with(b"\r\nSubject: in memory\r\n\r\n.dot\r\n"));
    // The peer the caller gave is the one in the trace header.
    assert!(String::from_utf8_lossy(message).contains("from client.example ([192.0.2.7])"));
    assert_eq!(seen.disconnected, [1], "the disconnect hook ran");
}

#[tokio::test]
async fn starttls_and_implicit_tls_over_duplex_streams() {
    let certs = TestCerts::generate();
    let recorder = Recorder::default();
    let server = Arc::new(Server::new(test_config(Some(&certs)), recorder.clone()));

    let (mut c, task) = serve_duplex(&server, ListenerKind::Plain);
    assert_eq!(code(&c.reply().await), 220);
    let mut c = c.starttls(&certs.connector(), "localhost").await;
    conversation(&mut c, "after STARTTLS").await;
    ended(task).await;

    let (c, task) = serve_duplex(&server, ListenerKind::ImplicitTls);
    let mut c = c.upgrade(&certs.connector(), "localhost").await;
    assert_eq!(code(&c.reply().await), 220);
    conversation(&mut c, "implicit TLS").await;
    ended(task).await;

    let seen = recorder.0.lock().unwrap();
    let trace: Vec<String> = seen
        .messages
        .iter()
        .map(|(e, _)| String::from_utf8_lossy(&e.trace).into_owned())
        .collect();
    assert!(
        trace.iter().all(|t| t.contains(" with ESMTPS id ")),
        "{trace:?}"
    );
    assert!(seen.messages.iter().all(|(e, _)| e.tls));
    assert_eq!(seen.disconnected.len(), 2);
}

/// A backend that turns a client away gets its reply sent instead of the
/// greeting (RFC 5321 §3.1), and no handler is made.
#[tokio::test]
async fn a_backend_can_refuse_a_connection() {
    struct Closed;
    impl Backend for Closed {
        type Handler = Recorded;
        async fn connect(&self, _: &ConnectionInfo) -> Result<Recorded, Reply> {
            Err(Reply::new(554, "No SMTP service here"))
        }
    }
    let server = Server::new(test_config(None), Closed);
    let (ours, theirs) = tokio::io::duplex(1024);
    let serving = tokio::spawn(async move {
        server
            .serve_connection(theirs, duplex_info(ListenerKind::Plain))
            .await;
    });
    let mut c = Client::new(ours);
    assert_eq!(c.read_to_end().await, "554 No SMTP service here\r\n");
    tokio::time::timeout(PATIENCE, serving)
        .await
        .unwrap()
        .unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_conversation_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smtp.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let recorder = Recorder::default();
    let server = Arc::new(Server::new(test_config(None), recorder.clone()));
    let shutdown = server.shutdown_handle();
    let serving = {
        let server = Arc::clone(&server);
        tokio::spawn(async move { server.serve(listener, ListenerKind::Plain).await })
    };

    let mut c = Client::new(tokio::net::UnixStream::connect(&path).await.unwrap());
    assert_eq!(code(&c.reply().await), 220);
    // Pipelined (RFC 2920), as over TCP.
    c.send("EHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
        .await;
    assert_eq!(codes(&c.replies(4).await.concat()), [250, 250, 250, 354]);
    let reply = c.cmd("Subject: over a socket file\r\n\r\nhi\r\n.").await;
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");

    // An idle session is told at shutdown; serve() returns once it ended.
    shutdown.shutdown();
    assert!(
        c.read_to_end()
            .await
            .starts_with("421 4.3.2 mx.test shutting down")
    );
    tokio::time::timeout(PATIENCE, serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let seen = recorder.0.lock().unwrap();
    // A Unix socket has no IP addresses: the documented stand-in.
    assert_eq!(seen.connected[0].peer, NO_ADDRESS);
    assert_eq!(seen.messages.len(), 1);
    assert_eq!(seen.disconnected, [1]);
}

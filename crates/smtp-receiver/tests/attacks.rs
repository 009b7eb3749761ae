//! Limits that hold against attackers but not against users, over real
//! loopback sockets: floods from distinct client addresses (all of 127/8
//! is loopback; each client socket is bound to its own 127.0.0.x), the
//! loopback and trusted-network exemption, stress mode freeing the slots
//! of idle sessions, the junk-command limit and the maximum session
//! length. Short configured deadlines keep every test within seconds.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::{Client, TestServer, code, start, test_config};
use smtp_receiver::config::{AuthThrottle, ServerConfig};
use smtp_receiver::{SinkHandler, Users, WithUsers};
use smtp_wire::sasl::{self, Credentials};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to `server` from the loopback address `from` (127.0.0.x).
async fn connect_from(server: &TestServer, from: &str) -> Client<TcpStream> {
    let from: IpAddr = from.parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    Client::new(socket.connect(server.plain).await.unwrap())
}

/// A test configuration where loopback is not trusted, so that the
/// per-client limit is visible from 127.0.0.x addresses.
fn untrusted_loopback() -> ServerConfig {
    let mut config = test_config(None);
    config.trusted_networks.clear();
    config
}

/// Opens `n` sessions from `from`, each greeted with 220.
async fn open_sessions(server: &TestServer, from: &str, n: usize) -> Vec<Client<TcpStream>> {
    let mut clients = Vec::new();
    for i in 0..n {
        let mut client = connect_from(server, from).await;
        let greeting = client.reply().await;
        assert_eq!(
            code(&greeting),
            220,
            "session {i} from {from}: {greeting:?}"
        );
        clients.push(client);
    }
    clients
}

#[tokio::test]
async fn a_flood_from_one_address_is_refused_past_50_while_other_clients_get_through() {
    let config = untrusted_loopback();
    assert_eq!(config.session.limits.connections_per_ip, 50, "the default");
    let server = start(config, SinkHandler::default()).await;
    let _flood = open_sessions(&server, "127.0.0.2", 50).await;
    for _ in 0..5 {
        let mut extra = connect_from(&server, "127.0.0.2").await;
        let refused = extra.read_to_end().await;
        assert!(
            refused.starts_with("421 4.7.0 mx.test too many connections"),
            "{refused:?}"
        );
    }
    // Other clients are not locked out by the flood.
    for other in ["127.0.0.3", "127.0.0.4", "127.0.0.5"] {
        let _ = open_sessions(&server, other, 3).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn loopback_is_exempt_from_the_per_client_limit_by_default() {
    let mut config = test_config(None);
    config.session.limits.connections_per_ip = 3;
    let server = start(config, SinkHandler::default()).await;
    let _many = open_sessions(&server, "127.0.0.2", 10).await;
    server.stop().await;
}

#[tokio::test]
async fn trusted_networks_are_exempt_and_the_others_are_not() {
    let mut config = untrusted_loopback();
    config.session.limits.connections_per_ip = 3;
    config.trusted_networks = vec!["127.0.1.0/24".parse().unwrap()];
    let server = start(config, SinkHandler::default()).await;
    let _trusted = open_sessions(&server, "127.0.1.9", 10).await;
    let _limited = open_sessions(&server, "127.0.2.9", 3).await;
    let mut refused = connect_from(&server, "127.0.2.9").await;
    assert!(refused.read_to_end().await.starts_with("421 4.7.0 "));
    server.stop().await;
}

#[tokio::test]
async fn the_total_still_applies_to_trusted_clients() {
    let mut config = test_config(None);
    config.session.limits.connections = 4;
    let server = start(config, SinkHandler::default()).await;
    let _all = open_sessions(&server, "127.0.0.2", 4).await;
    let mut refused = connect_from(&server, "127.0.0.3").await;
    assert!(refused.read_to_end().await.starts_with("421 4.7.0 "));
    server.stop().await;
}

/// Sixteen addresses holding idle sessions used to lock every other
/// client out. Under stress (80 % of the slots taken) the deadlines drop,
/// for the sessions already running too, so idle sessions free their
/// slots and a new client gets in. Without stress mode every attempt of
/// the newcomer below would be refused for the 30 s the idle sessions may
/// wait.
#[tokio::test]
async fn under_stress_idle_sessions_free_their_slots_for_new_clients() {
    let mut config = untrusted_loopback();
    config.session.limits.connections = 10;
    config.session.timeouts.command = Duration::from_secs(30);
    config.session.timeouts.under_stress = Duration::from_millis(500);
    let server = start(config, SinkHandler::default()).await;
    // Seven idle sessions (70 %: no stress yet), from seven addresses.
    let mut idle = Vec::new();
    for i in 1..=7 {
        idle.extend(open_sessions(&server, &format!("127.0.3.{i}"), 1).await);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Three more take every slot; the eighth puts the server under stress,
    // and the seven, idle for longer than the stress deadline, are cut.
    let started = Instant::now();
    let mut attackers = Vec::new();
    for i in 1..=3 {
        attackers.push(connect_from(&server, &format!("127.0.4.{i}")).await);
    }
    let mut newcomer = loop {
        let mut client = connect_from(&server, "127.0.5.1").await;
        let greeting = client.reply().await;
        if code(&greeting) == 220 {
            break client;
        }
        assert!(greeting.starts_with("421 4.7.0 "), "{greeting:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the newcomer is still locked out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(code(&newcomer.cmd("EHLO c.example").await), 250);
    let mut cut = 0;
    for client in &mut idle {
        // Those not cut (stress ends below 60 %) wait for their 30 s.
        let rest = tokio::time::timeout(Duration::from_secs(1), client.read_to_end()).await;
        if rest.is_ok_and(|rest| rest.starts_with("421 4.4.2 mx.test timeout")) {
            cut += 1;
        }
    }
    assert!(cut >= 1, "no idle session was cut");
    server.stop().await;
}

#[tokio::test]
async fn junk_commands_past_100_get_421() {
    let server = start(test_config(None), SinkHandler::default()).await;
    let mut client = server.connect().await;
    client.reply().await;
    for _ in 0..100 {
        assert_eq!(code(&client.cmd("NOOP").await), 250);
    }
    let reply = client.cmd("RSET").await;
    assert!(
        reply.starts_with("421 4.7.0 mx.test too many commands without mail"),
        "{reply:?}"
    );
    assert_eq!(client.read_to_end().await, "");
    server.stop().await;
}

#[tokio::test]
async fn a_session_ends_after_its_maximum_length() {
    let mut config = test_config(None);
    config.session.timeouts.session = Duration::from_secs(1);
    let server = start(config, SinkHandler::default()).await;
    let mut client = server.connect().await;
    client.reply().await;
    let started = Instant::now();
    // Busy for a while (each command renews the command deadline), then
    // waiting: the session ends at its maximum length either way.
    for _ in 0..3 {
        assert_eq!(code(&client.cmd("EHLO c.example").await), 250);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reply = client.read_to_end().await;
    assert!(
        reply.starts_with("421 4.7.0 mx.test session too long"),
        "{reply:?}"
    );
    let elapsed = started.elapsed();
    assert!(elapsed > Duration::from_millis(800) && elapsed < Duration::from_secs(3));
    server.stop().await;
}

/// A server with AUTH over plaintext on loopback (no TLS needed to count
/// guesses), loopback not trusted, and a fast throttle: 5 failures lock
/// out, delays of 100 ms per failure up to 300 ms.
async fn guarded_server() -> TestServer {
    let mut config = untrusted_loopback();
    config.session.auth.enabled = true;
    config.session.auth.allow_plaintext_on_loopback = true;
    config.auth_throttle = AuthThrottle {
        failures: 5,
        delay_step: Duration::from_millis(100),
        max_delay: Duration::from_millis(300),
        ..AuthThrottle::default()
    };
    let mut users = Users::new();
    users.insert("alice", "s3cret");
    start(config, WithUsers::new(SinkHandler::default(), users)).await
}

/// `AUTH PLAIN` for `user` from `from`, on a new connection; the reply.
async fn auth_from(server: &TestServer, from: &str, user: &str, password: &str) -> String {
    let mut client = open_sessions(server, from, 1).await.remove(0);
    client.cmd("EHLO c.example").await;
    let response = sasl::plain_response(&Credentials::new(user, password));
    client.cmd(&format!("AUTH PLAIN {response}")).await
}

/// Before: 70 connections × 3 guesses in 0.14 s. Now the failures of one
/// client are counted across its connections, answered later and later,
/// and at the threshold AUTH is refused, even with the right password,
/// while other clients still log in.
#[tokio::test]
async fn auth_guessing_over_many_connections_is_slowed_then_locked_out() {
    let server = guarded_server().await;
    let started = Instant::now();
    for guess in 0..5 {
        let reply = auth_from(&server, "127.0.6.1", "admin", &format!("guess{guess}")).await;
        assert!(reply.starts_with("535 5.7.8 "), "guess {guess}: {reply:?}");
    }
    // Delays 0, 100, 200, 300, 300 ms.
    assert!(started.elapsed() >= Duration::from_millis(900));
    let locked = auth_from(&server, "127.0.6.1", "alice", "s3cret").await;
    assert!(locked.starts_with("454 4.7.0 "), "{locked:?}");
    let other = auth_from(&server, "127.0.6.2", "alice", "s3cret").await;
    assert!(other.starts_with("235 "), "another client: {other:?}");
    server.stop().await;
}

/// One user name guessed from many addresses (a botnet's way round the
/// per-client count) is locked out for everyone who is not trusted.
#[tokio::test]
async fn one_user_guessed_from_many_addresses_is_locked_out() {
    let server = guarded_server().await;
    for n in 1..=5 {
        let reply = auth_from(&server, &format!("127.0.7.{n}"), "alice", "wrong").await;
        assert!(reply.starts_with("535 "), "{reply:?}");
    }
    let locked = auth_from(&server, "127.0.7.9", "alice", "s3cret").await;
    assert!(locked.starts_with("454 4.7.0 "), "{locked:?}");
    server.stop().await;
}

/// Trusted networks (loopback by default) are not throttled: a developer's
/// test suite failing AUTH on purpose is never locked out.
#[tokio::test]
async fn trusted_clients_are_not_throttled() {
    let mut config = test_config(None);
    config.session.auth.enabled = true;
    config.session.auth.allow_plaintext_on_loopback = true;
    config.auth_throttle.failures = 2;
    let mut users = Users::new();
    users.insert("alice", "s3cret");
    let server = start(config, WithUsers::new(SinkHandler::default(), users)).await;
    for _ in 0..4 {
        let reply = auth_from(&server, "127.0.0.1", "alice", "wrong").await;
        assert!(reply.starts_with("535 "), "{reply:?}");
    }
    let ok = auth_from(&server, "127.0.0.1", "alice", "s3cret").await;
    assert!(ok.starts_with("235 "), "{ok:?}");
    server.stop().await;
}

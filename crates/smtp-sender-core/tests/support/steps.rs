//! Driving a [`Connection`] step by step with injected time (the tests of
//! deadlines and first words): a handshake to drive, polls past the input
//! check, and the errors taken apart.

use std::time::Instant;

use smtp_sender_core::{
    Action, Connection, Domain, Handshake, HandshakeSettings, Machine, ProtocolError, SendError,
    TlsMode, TransportError,
};

/// A handshake that has not started, saying EHLO `client.example`.
pub fn handshake(tls: TlsMode) -> Handshake {
    Handshake::new(HandshakeSettings {
        ehlo_name: Domain::parse("client.example").unwrap(),
        tls,
        tls_active: false,
        classic: false,
        lmtp: false,
        credentials: None,
        allow_plaintext_auth: false,
    })
    .unwrap()
}

/// Polls until the connection wants something other than the input
/// check, answering that check with nothing.
pub fn next(conn: &mut Connection, machine: &mut impl Machine, now: Instant) -> Action {
    loop {
        match conn.poll(machine, now).unwrap() {
            Action::ReadReady => continue,
            action => return action,
        }
    }
}

/// The bytes of a write, as text.
pub fn write_of(action: Action) -> String {
    match action {
        Action::Write(bytes) => String::from_utf8(bytes).unwrap(),
        other => panic!("expected a write, got {other:?}"),
    }
}

/// The protocol error inside `error`.
pub fn protocol(error: SendError) -> ProtocolError {
    match error {
        SendError::Protocol(error) => error,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The transport error inside `error`.
pub fn transport(error: SendError) -> TransportError {
    match error {
        SendError::Transport(error) => error,
        other => panic!("expected a transport error, got {other:?}"),
    }
}

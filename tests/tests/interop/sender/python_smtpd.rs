//! `smtp-send` to Python's stdlib smtpd (Python 3.11 and older).

use std::path::Path;

use anyhow::Result;
use smtp_peers::{Peer, PythonSmtpd};

use super::{FROM, Send, check_accepted, check_envelope, check_same, message};
use crate::messages::MessageSpec;
use crate::{Case, Ctx, DELIVERY_TIMEOUT, TlsMode};

#[test]
fn python_smtpd_plain() {
    Case::new("python-smtpd-plain", Peer::PythonSmtpd, TlsMode::None, "-")
        .run(|ctx, dir| smtpd_case(ctx, dir, "none"));
}

#[test]
fn python_smtpd_opportunistic() {
    Case::new(
        "python-smtpd-opportunistic",
        Peer::PythonSmtpd,
        TlsMode::Opportunistic,
        "-",
    )
    .run(|ctx, dir| smtpd_case(ctx, dir, "opportunistic"));
}

fn smtpd_case(ctx: &Ctx, dir: &Path, mode: &str) -> Result<String> {
    let peer = PythonSmtpd::start()?;
    let to = ["alice@example.test", "bob@example.test"];
    let (bytes, file) = message(
        dir,
        MessageSpec::new(FROM, &to, &format!("to smtpd, {mode}")),
    )?;
    check_accepted(
        Send::new(peer.addr().port(), mode, &to).run(ctx, dir, &file)?,
        &to,
    )?;
    let stored = peer.wait_for_messages(1, DELIVERY_TIMEOUT)?;
    // smtpd joins the data lines with LF and drops the last line end (the
    // CRLF before `.` that RFC 5321 §4.1.1.4 counts as part of the message).
    check_same(
        &stored[0].file,
        bytes.strip_suffix(b"\r\n").unwrap_or(&bytes),
    )?;
    check_envelope(&stored[0], &to, false, None)?;
    Ok("stored intact (LF-normalised), plain".into())
}

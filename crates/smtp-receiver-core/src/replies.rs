//! Every reply the session sends, in one place, with its code, its enhanced
//! status code and the rule behind it.
//!
//! RFC 2034 §3: with ENHANCEDSTATUSCODES every 2xx, 4xx and 5xx reply carries
//! an enhanced code (RFC 3463), except the greeting and the replies to
//! EHLO/HELO. 3xx replies (354, 334) have none either: RFC 2034 defines
//! codes for success and failure only, and a 334's text is base64.

use smtp_wire::{EnhancedCode, Reply};

const fn code(class: u8, subject: u16, detail: u16) -> EnhancedCode {
    EnhancedCode::new(class, subject, detail)
}

/// 220: the greeting (RFC 5321 §4.2, §3.1). No enhanced code (RFC 2034 §3).
pub fn greeting(hostname: &str) -> Reply {
    Reply::new(220, &format!("{hostname} ESMTP smtp-receiver ready"))
}

/// 221: reply to QUIT (RFC 5321 §4.1.1.10).
pub fn closing(hostname: &str) -> Reply {
    Reply::enhanced(
        221,
        code(2, 0, 0),
        &format!("{hostname} closing connection"),
    )
}

/// 250 to HELO: our name, no extensions (RFC 5321 §4.1.1.1).
pub fn helo(hostname: &str, client: &str) -> Reply {
    Reply::new(250, &format!("{hostname} greets {client}"))
}

/// 250 to MAIL (RFC 3463: X.1.0 other address status).
pub fn mail_ok() -> Reply {
    Reply::enhanced(250, code(2, 1, 0), "Sender OK")
}

/// 250 to RCPT (RFC 3463: X.1.5 destination address valid).
pub fn rcpt_ok() -> Reply {
    Reply::enhanced(250, code(2, 1, 5), "Recipient OK")
}

/// 354 to DATA (RFC 5321 §4.1.1.4).
pub fn start_data() -> Reply {
    Reply::new(354, "End data with <CR><LF>.<CR><LF>")
}

/// 250 after a complete message (RFC 5321 §4.1.1.4, §6.1: only once it is safely stored).
pub fn queued(id: &str) -> Reply {
    Reply::enhanced(250, code(2, 0, 0), &format!("Ok: queued as {id}"))
}

/// 250 to an intermediate BDAT chunk (RFC 3030 §2).
pub fn chunk_ok(octets: u64) -> Reply {
    Reply::enhanced(250, code(2, 0, 0), &format!("{octets} octets received"))
}

/// 250 to RSET (RFC 5321 §4.1.1.5).
pub fn reset() -> Reply {
    Reply::enhanced(250, code(2, 0, 0), "Reset OK")
}

/// 250 to NOOP (RFC 5321 §4.1.1.9).
pub fn noop() -> Reply {
    Reply::enhanced(250, code(2, 0, 0), "OK")
}

/// 252 to VRFY: we do not disclose mailboxes (RFC 5321 §3.5.3, §7.3).
pub fn vrfy() -> Reply {
    Reply::enhanced(
        252,
        code(2, 0, 0),
        "Cannot VRFY user, but will accept message and attempt delivery",
    )
}

/// 502 to EXPN: lists are not disclosed (RFC 5321 §3.5.2, §7.3).
pub fn expn() -> Reply {
    Reply::enhanced(502, code(5, 5, 1), "EXPN not available")
}

/// 214 to HELP (RFC 5321 §4.1.1.8).
pub fn help() -> Reply {
    Reply::enhanced(
        214,
        code(2, 0, 0),
        "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY EXPN STARTTLS AUTH\n\
         See RFC 5321 for their meaning",
    )
}

/// 220 to STARTTLS (RFC 3207 §4).
pub fn ready_for_tls() -> Reply {
    Reply::enhanced(220, code(2, 0, 0), "Ready to start TLS")
}

/// 235 after a successful AUTH (RFC 4954 §6).
pub fn auth_ok() -> Reply {
    Reply::enhanced(235, code(2, 7, 0), "Authentication successful")
}

/// 334 challenge (RFC 4954 §4); `challenge` is already base64.
pub fn auth_challenge(challenge: &str) -> Reply {
    Reply::new(334, challenge)
}

/// 535: credentials refused (RFC 4954 §6); what an application answers to bad credentials.
pub fn auth_failed() -> Reply {
    Reply::enhanced(535, code(5, 7, 8), "Authentication credentials invalid")
}

/// 501: the client cancelled AUTH with `*` (RFC 4954 §4).
pub fn auth_cancelled() -> Reply {
    Reply::enhanced(501, code(5, 0, 0), "Authentication cancelled")
}

/// 501: a SASL response that is not valid base64 or not a valid message (RFC 4954 §4).
pub fn auth_bad_response(what: &str) -> Reply {
    Reply::enhanced(501, code(5, 5, 2), what)
}

/// 504: a mechanism we do not offer (RFC 4954 §4, §6).
pub fn auth_unknown_mechanism() -> Reply {
    Reply::enhanced(
        504,
        code(5, 5, 4),
        "Unrecognized authentication type; use PLAIN or LOGIN",
    )
}

/// 538: AUTH over a plaintext channel (RFC 4954 §6).
pub fn auth_needs_tls() -> Reply {
    Reply::enhanced(
        538,
        code(5, 7, 11),
        "Encryption required: use STARTTLS first",
    )
}

/// 530: MAIL before AUTH when authentication is required (RFC 4954 §6).
pub fn auth_required() -> Reply {
    Reply::enhanced(530, code(5, 7, 0), "Authentication required")
}

/// 503: a command in the wrong place (RFC 5321 §4.1.4, §3.3).
pub fn bad_sequence(text: &str) -> Reply {
    Reply::enhanced(503, code(5, 5, 1), text)
}

/// 502: a command we do not implement (RFC 5321 §4.2.4).
pub fn not_implemented(verb: &str) -> Reply {
    Reply::enhanced(502, code(5, 5, 1), &format!("{verb} not implemented"))
}

/// 500: a line we refuse to read as a command.
pub fn bad_line(text: &str) -> Reply {
    Reply::enhanced(500, code(5, 5, 2), text)
}

/// 500: a command (or AUTH response) line ended by a bare LF: not executed
/// (RFC 5321 §2.3.8), and the reply says why, so that a client author sees
/// the cause at once.
pub fn bare_lf_line(what: &str) -> Reply {
    bad_line(&format!(
        "{what} line ended in a bare LF, not CRLF: not executed (RFC 5321 section 2.3.8)"
    ))
}

/// 500: EHLO or HELO on an LMTP listener (RFC 2033 §4.1: LHLO).
pub fn lmtp_needs_lhlo() -> Reply {
    Reply::enhanced(
        500,
        code(5, 5, 1),
        "This is LMTP: greet with LHLO (RFC 2033 section 4.1)",
    )
}

/// 550: XCLIENT from a client that is not a trusted proxy (Postfix's words).
pub fn xclient_not_authorized() -> Reply {
    Reply::enhanced(550, code(5, 7, 0), "Error: insufficient authorization")
}

/// 501: an XCLIENT attribute or value this server does not take.
pub fn xclient_bad(what: &str) -> Reply {
    Reply::enhanced(501, code(5, 5, 4), &format!("Bad XCLIENT {what}"))
}

/// 500: LHLO on an SMTP listener.
pub fn lhlo_in_smtp() -> Reply {
    Reply::enhanced(
        500,
        code(5, 5, 1),
        "LHLO is LMTP's (RFC 2033); greet with EHLO",
    )
}

/// 555: a MAIL/RCPT parameter we do not support (RFC 5321 §4.1.1.11).
pub fn unsupported_parameter(keyword: &str) -> Reply {
    Reply::enhanced(
        555,
        code(5, 5, 4),
        &format!("{keyword} parameter not supported"),
    )
}

/// 555: ESMTP parameters after HELO, which announced no extensions (RFC 5321 §4.1.1.11).
pub fn params_need_ehlo() -> Reply {
    Reply::enhanced(555, code(5, 5, 4), "MAIL parameters require EHLO")
}

/// 552: SIZE beyond the limit (RFC 1870 §6.1) or a message that grew past it.
pub fn too_big(limit: u64) -> Reply {
    Reply::enhanced(
        552,
        code(5, 3, 4),
        &format!("Message size exceeds fixed maximum message size ({limit} octets)"),
    )
}

/// 452: too many recipients (RFC 5321 §4.5.3.1.10).
pub fn too_many_recipients() -> Reply {
    Reply::enhanced(452, code(4, 5, 3), "Too many recipients")
}

/// 550: a recipient outside our domains: we are not a relay (RFC 5321 §3.6.2, §7.1).
pub fn relay_denied() -> Reply {
    Reply::enhanced(550, code(5, 7, 1), "Relay access denied")
}

/// 553: a UTF-8 address without SMTPUTF8 (RFC 6531 §3.5).
pub fn needs_smtputf8() -> Reply {
    Reply::enhanced(553, code(5, 6, 7), "Non-ASCII address requires SMTPUTF8")
}

/// 550: bare CR or bare LF in the message (RFC 5321 §2.3.8).
pub fn bare_line_ending() -> Reply {
    Reply::enhanced(
        550,
        code(5, 6, 11),
        "Message refused: bare CR/LF not allowed",
    )
}

/// 550: a NUL octet in the message: RFC 5322 §3.5 text and RFC 2045
/// §2.7/§2.8 7bit and 8bit data exclude it, and BINARYMIME is not offered.
pub fn nul_octet() -> Reply {
    Reply::enhanced(
        550,
        code(5, 6, 0),
        "Message refused: NUL octets not allowed",
    )
}

/// 550: a text line longer than the limit (RFC 5321 §4.5.3.1.6).
pub fn line_too_long(limit: usize) -> Reply {
    Reply::enhanced(
        550,
        code(5, 6, 0),
        &format!("Message refused: text line longer than {limit} octets"),
    )
}

/// 421: too many errors in this session.
pub fn too_many_errors(hostname: &str) -> Reply {
    Reply::enhanced(
        421,
        code(4, 7, 0),
        &format!("{hostname} too many errors, closing connection"),
    )
}

/// 421: too many failed AUTH attempts.
pub fn too_many_auth_failures(hostname: &str) -> Reply {
    Reply::enhanced(
        421,
        code(4, 7, 0),
        &format!("{hostname} too many authentication failures, closing connection"),
    )
}

/// 454: AUTH refused for a while: too many failures from this client or
/// for this user name, across connections (RFC 4954 §6 gives 454 4.7.0 for
/// a temporary authentication failure).
pub fn auth_locked_out() -> Reply {
    Reply::enhanced(
        454,
        code(4, 7, 0),
        "Too many authentication failures, try again later",
    )
}

/// 421: too many NOOP, RSET, VRFY, HELP or EXPN without a message.
pub fn too_many_junk_commands(hostname: &str) -> Reply {
    Reply::enhanced(
        421,
        code(4, 7, 0),
        &format!("{hostname} too many commands without mail, closing connection"),
    )
}

/// 421: the session reached its maximum length.
pub fn session_too_long(hostname: &str) -> Reply {
    Reply::enhanced(
        421,
        code(4, 7, 0),
        &format!("{hostname} session too long, closing connection"),
    )
}

/// 421: the client was too slow (RFC 5321 §4.5.3.2).
pub fn timeout(hostname: &str) -> Reply {
    Reply::enhanced(
        421,
        code(4, 4, 2),
        &format!("{hostname} timeout, closing connection"),
    )
}

/// 421: the server is shutting down (RFC 5321 §3.8).
pub fn shutting_down(hostname: &str) -> Reply {
    Reply::enhanced(
        421,
        code(4, 3, 2),
        &format!("{hostname} shutting down, try again later"),
    )
}

/// 421: too many connections in total or from this address.
pub fn too_many_connections(hostname: &str) -> Reply {
    Reply::enhanced(
        421,
        code(4, 7, 0),
        &format!("{hostname} too many connections, try again later"),
    )
}

/// 421: the client's octets can no longer be told apart from its commands
/// (an unreadable BDAT size, a chunk or message too big to skip).
pub fn cannot_resynchronize(hostname: &str, after: &str) -> Reply {
    Reply::enhanced(
        421,
        code(4, 5, 0),
        &format!("{hostname} cannot resynchronize after {after}, closing connection"),
    )
}

/// 451: a local error while storing the message (RFC 3463 X.3.0).
pub fn local_error() -> Reply {
    Reply::enhanced(
        451,
        code(4, 3, 0),
        "Local error in processing; try again later",
    )
}

/// 452: out of storage (RFC 3463 X.3.1).
pub fn storage_full() -> Reply {
    Reply::enhanced(
        452,
        code(4, 3, 1),
        "Insufficient system storage; try again later",
    )
}

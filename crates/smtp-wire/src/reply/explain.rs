//! Teaching texts for basic reply codes (RFC 5321 §4.2.2-§4.2.3) and enhanced
//! status codes (RFC 3463 and the later additions collected in the IANA
//! registry created by RFC 5248).

/// A short human explanation of a basic reply code, for teaching output.
///
/// Every code listed in RFC 5321 §4.2.2-§4.2.3 has its own text, as do the
/// codes added by RFC 4954 (AUTH), RFC 3207 (STARTTLS) and RFC 7504 (521/556);
/// any other code in 200..=599 gets a text for its class (RFC 5321 §4.2.1),
/// anything else says it is not an SMTP reply code.
///
/// ```
/// use smtp_wire::reply::explain_code;
/// assert!(explain_code(354).contains("mail input"));
/// assert!(explain_code(299).starts_with("Positive completion"));
/// ```
pub fn explain_code(code: u16) -> &'static str {
    specific_code_text(code).unwrap_or_else(|| class_code_text(code))
}

/// The codes named in RFC 5321 §4.2.2-§4.2.3 and its extensions.
fn specific_code_text(code: u16) -> Option<&'static str> {
    let text = match code {
        // RFC 5321 §4.2.2 / §4.2.3, with the RFC 4954 (AUTH) and RFC 7504 codes.
        211 => "System status, or system help reply",
        214 => {
            "Help message: information on how to use the receiver or the meaning of a non-standard command"
        }
        220 => "Service ready: the server greets the client",
        221 => "Service closing transmission channel: goodbye after QUIT",
        235 => "Authentication successful (RFC 4954)",
        250 => "Requested mail action okay, completed",
        251 => "User not local; will forward to the given forward-path",
        252 => "Cannot VRFY user, but will accept the message and attempt delivery",
        334 => "Server challenge during AUTH: send the next (base64) response (RFC 4954)",
        354 => "Start mail input; end with <CRLF>.<CRLF>",
        421 => {
            "Service not available, closing transmission channel (e.g. shutting down or too busy)"
        }
        432 => "A password transition is needed (RFC 4954)",
        450 => {
            "Requested mail action not taken: mailbox unavailable (busy or temporarily blocked); try later"
        }
        451 => "Requested action aborted: local error in processing; try later",
        452 => {
            "Requested action not taken: insufficient system storage (or too many recipients); try later"
        }
        454 => {
            "TLS not available, or temporary authentication failure; try later (RFC 3207, RFC 4954)"
        }
        455 => "Server unable to accommodate parameters (for now)",
        500 => "Syntax error, command unrecognized (or command line too long)",
        501 => "Syntax error in parameters or arguments",
        502 => "Command not implemented",
        503 => "Bad sequence of commands: this command is not valid at this point",
        504 => "Command parameter not implemented",
        521 => "Host does not accept mail (RFC 7504)",
        530 => "Authentication required (RFC 4954), or must issue STARTTLS first (RFC 3207)",
        534 => "Authentication mechanism is too weak (RFC 4954)",
        535 => "Authentication credentials invalid (RFC 4954)",
        538 => "Encryption required for the requested authentication mechanism (RFC 4954)",
        550 => {
            "Requested action not taken: mailbox unavailable (not found, no access, or rejected by policy)"
        }
        551 => "User not local; please try the given forward-path",
        552 => "Requested mail action aborted: exceeded storage allocation (message too big)",
        553 => "Requested action not taken: mailbox name not allowed (e.g. bad syntax)",
        554 => "Transaction failed (or, in the greeting, no SMTP service here)",
        555 => "MAIL FROM/RCPT TO parameters not recognized or not implemented",
        556 => "Domain does not accept mail (RFC 7504)",
        _ => return None,
    };
    Some(text)
}

/// RFC 5321 §4.2.1: the first digit tells the class.
fn class_code_text(code: u16) -> &'static str {
    match code {
        200..=299 => "Positive completion: the requested action has been completed",
        300..=399 => "Positive intermediate: the command is accepted, more information is needed",
        400..=499 => "Transient negative completion: not done now, the client may try again later",
        500..=599 => "Permanent negative completion: not done, do not repeat the same request",
        _ => "Not an SMTP reply code (RFC 5321 §4.2 uses 2yz-5yz)",
    }
}

/// RFC 3463 §3.1: the meaning of the class digit.
pub(super) fn class_text(class: u8) -> &'static str {
    match class {
        2 => "Success",
        4 => "Persistent transient failure",
        5 => "Permanent failure",
        _ => "Not a valid class (RFC 3463 §3.1 defines 2, 4 and 5)",
    }
}

/// RFC 3463 §3.2-§3.9 (and later registrations): the meaning of `subject.detail`.
/// An unknown detail falls back to the subject's "other or undefined" text.
pub(super) fn subject_detail_text(subject: u16, detail: u16) -> &'static str {
    match (subject, detail) {
        (0, 0) => "Other undefined status",
        // RFC 3463 §3.2 Addressing status.
        (1, 0) => "Other address status",
        (1, 1) => "Bad destination mailbox address: the mailbox does not exist",
        (1, 2) => {
            "Bad destination system address: the host part does not exist or cannot accept mail"
        }
        (1, 3) => "Bad destination mailbox address syntax",
        (1, 4) => "Destination mailbox address ambiguous",
        (1, 5) => "Destination address valid",
        (1, 6) => "Destination mailbox has moved, no forwarding address",
        (1, 7) => "Bad sender's mailbox address syntax",
        (1, 8) => "Bad sender's system address",
        (1, 9) => "Message relayed to non-compliant mailer (RFC 3886)",
        (1, 10) => "Recipient address has null MX (RFC 7505)",
        // RFC 3463 §3.3 Mailbox status.
        (2, 0) => "Other or undefined mailbox status",
        (2, 1) => "Mailbox disabled, not accepting messages",
        (2, 2) => "Mailbox full",
        (2, 3) => "Message length exceeds administrative limit",
        (2, 4) => "Mailing list expansion problem",
        // RFC 3463 §3.4 Mail system status.
        (3, 0) => "Other or undefined mail system status",
        (3, 1) => "Mail system full",
        (3, 2) => "System not accepting network messages",
        (3, 3) => "System not capable of selected features",
        (3, 4) => "Message too big for system",
        (3, 5) => "System incorrectly configured",
        (3, 6) => "Requested priority was changed (RFC 6710)",
        // RFC 3463 §3.5 Network and routing status.
        (4, 0) => "Other or undefined network or routing status",
        (4, 1) => "No answer from host",
        (4, 2) => "Bad connection",
        (4, 3) => "Directory server failure",
        (4, 4) => "Unable to route",
        (4, 5) => "Mail system congestion",
        (4, 6) => "Routing loop detected",
        (4, 7) => "Delivery time expired",
        // RFC 3463 §3.6 Mail delivery protocol status.
        (5, 0) => "Other or undefined protocol status",
        (5, 1) => "Invalid command",
        (5, 2) => "Syntax error",
        (5, 3) => "Too many recipients",
        (5, 4) => "Invalid command arguments",
        (5, 5) => "Wrong protocol version",
        (5, 6) => "Authentication exchange line is too long (RFC 4954)",
        // RFC 3463 §3.7 Message content or media status.
        (6, 0) => "Other or undefined media error",
        (6, 1) => "Media not supported",
        (6, 2) => "Conversion required and prohibited",
        (6, 3) => "Conversion required but not supported",
        (6, 4) => "Conversion with loss performed",
        (6, 5) => "Conversion failed",
        (6, 6) => "Message content not available (RFC 4468)",
        (6, 7) => "Non-ASCII addresses not permitted for that sender/recipient (RFC 6531)",
        (6, 8) => "UTF-8 string reply is required, but not permitted by the SMTP client (RFC 6531)",
        (6, 9) | (6, 10) => {
            "UTF-8 header message cannot be transferred to one or more recipients (RFC 6531)"
        }
        // RFC 3463 §3.8 Security or policy status.
        (7, 0) => {
            "Other or undefined security status (RFC 4954: with 530 \"authentication required\", with 454 \"temporary authentication failure\")"
        }
        (7, 1) => "Delivery not authorized, message refused",
        (7, 2) => "Mailing list expansion prohibited",
        (7, 3) => "Security conversion required but not possible",
        (7, 4) => "Security features not supported",
        (7, 5) => "Cryptographic failure",
        (7, 6) => "Cryptographic algorithm not supported",
        (7, 7) => "Message integrity failure",
        (7, 8) => "Authentication credentials invalid (RFC 4954)",
        (7, 9) => "Authentication mechanism is too weak (RFC 4954)",
        (7, 10) => "Encryption needed (RFC 5248)",
        (7, 11) => "Encryption required for requested authentication mechanism (RFC 4954)",
        (7, 12) => "A password transition is needed (RFC 4954)",
        (7, 13) => "User account disabled (RFC 5248)",
        (7, 14) => "Trust relationship required (RFC 5248)",
        (7, 15) => "Priority level is too low (RFC 6710)",
        (7, 16) => "Message is too big for the specified priority (RFC 6710)",
        (7, 17) => "Mailbox owner has changed (RFC 7293)",
        (7, 18) => "Domain owner has changed (RFC 7293)",
        (7, 19) => "RRVS test cannot be completed (RFC 7293)",
        (7, 20) => "No passing DKIM signature found (RFC 7372)",
        (7, 21) => "No acceptable DKIM signature found (RFC 7372)",
        (7, 22) => "No valid author-matched DKIM signature found (RFC 7372)",
        (7, 23) => "SPF validation failed (RFC 7372)",
        (7, 24) => "SPF validation error (RFC 7372)",
        (7, 25) => "Reverse DNS validation failed (RFC 7372)",
        (7, 26) => "Multiple authentication checks failed (RFC 7372)",
        (7, 27) => "Sender address has null MX (RFC 7505)",
        // Unknown detail: RFC 3463 §2 says a client that does not know the
        // detail must still understand the subject.
        (0, _) => "Other undefined status",
        (1, _) => "Other address status",
        (2, _) => "Other or undefined mailbox status",
        (3, _) => "Other or undefined mail system status",
        (4, _) => "Other or undefined network or routing status",
        (5, _) => "Other or undefined protocol status",
        (6, _) => "Other or undefined media error",
        (7, _) => "Other or undefined security status",
        _ => "Unknown subject (RFC 3463 defines subjects 0 to 7)",
    }
}

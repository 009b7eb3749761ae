//! `help` in the shell: the commands, each with the RFC section that
//! defines it, and what the tool does for the user.

use super::checks::Offered;

/// The commands, as (what to type, where it is defined, what it does).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "EHLO name",
        "RFC 5321 §4.1.1.1",
        "greet; the reply lists the extensions",
    ),
    (
        "HELO name",
        "RFC 5321 §4.1.1.1",
        "greet the RFC 821 way: no extensions",
    ),
    (
        "STARTTLS",
        "RFC 3207 §4",
        "switch to TLS; the tool does the handshake and checks the certificate",
    ),
    (
        "AUTH PLAIN [user [password]]",
        "RFC 4954 §4, RFC 4616",
        "log in; the tool asks what is missing and encodes it",
    ),
    (
        "AUTH LOGIN [user [password]]",
        "RFC 4954 §4",
        "log in; the tool answers both challenges",
    ),
    (
        "MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8] [RET=FULL|HDRS] [ENVID=id]",
        "RFC 5321 §4.1.1.2, RFC 1870, 6152, 6531, 3461",
        "start a transaction; <> for no return address",
    ),
    (
        "RCPT TO:<address> [NOTIFY=SUCCESS,FAILURE,DELAY|NEVER] [ORCPT=rfc822;address]",
        "RFC 5321 §4.1.1.3, RFC 3461",
        "add a recipient",
    ),
    (
        "DATA",
        "RFC 5321 §4.1.1.4",
        "after 354 type the message; a line holding only . ends it (the tool dot-stuffs)",
    ),
    (
        "BDAT size [LAST]",
        "RFC 3030 §2",
        "then type exactly size octets (each line counts with its CRLF)",
    ),
    (
        "RSET",
        "RFC 5321 §4.1.1.5",
        "abandon the transaction, keep the session",
    ),
    (
        "VRFY string",
        "RFC 5321 §4.1.1.6",
        "ask whether a user exists",
    ),
    (
        "EXPN string",
        "RFC 5321 §4.1.1.7",
        "ask what a list expands to",
    ),
    (
        "HELP topic",
        "RFC 5321 §4.1.1.8",
        "ask the server (!HELP without a topic)",
    ),
    (
        "NOOP",
        "RFC 5321 §4.1.1.9",
        "nothing; the server answers 250",
    ),
    (
        "QUIT (or quit, Ctrl-D)",
        "RFC 5321 §4.1.1.10",
        "end the session; the server answers 221",
    ),
];

/// The help text, as lines: the commands, the shell's own words, and what
/// the server offered when that is known.
pub fn text(offered: &Offered) -> Vec<String> {
    let mut out = vec!["SMTP commands (type them as a client sends them):".to_string()];
    for (typed, rfc, what) in COMMANDS {
        out.push(format!("  {typed}"));
        out.push(format!("      {what} ({rfc})"));
    }
    out.extend(
        [
            "The shell's own words:",
            "  help, ?         this list",
            "  quit, exit      send QUIT and end",
            "  !line           send the line as typed: no check, no question",
            "Before a command the server did not offer (STARTTLS, AUTH, BDAT, SIZE=, BODY=,",
            "SMTPUTF8, DSN's RET=/ENVID=/NOTIFY=/ORCPT=) the tool warns and asks; an invalid",
            "command is explained and not sent. Tab completes commands and parameters.",
        ]
        .map(String::from),
    );
    out.push(match offered {
        Offered::Ehlo(caps) if caps.is_empty() => {
            "The server offered no extensions in its EHLO reply.".to_string()
        }
        Offered::Ehlo(caps) => format!(
            "The server offered: {}.",
            caps.lines().collect::<Vec<_>>().join(", ")
        ),
        Offered::Helo => "HELO was answered: no extensions in this session.".to_string(),
        Offered::NotYet => "Nothing is known of the server's extensions: say EHLO.".to_string(),
        Offered::ForgottenByTls => {
            "TLS started since the last EHLO: say EHLO again (RFC 3207 §4.2).".to_string()
        }
    });
    out
}

//! Tab completion for the shell: commands first, then the parameters of
//! MAIL, RCPT, AUTH and BDAT, taken from what the server offered when its
//! EHLO reply is known (every one otherwise). [`candidates`] is a pure
//! function; [`LineHelper`] hands it to rustyline and masks secrets.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use rustyline::completion::Completer;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use smtp_wire::Capabilities;

/// The first words: SMTP's commands as they are typed, and the shell's own.
const COMMANDS: &[&str] = &[
    "EHLO ",
    "HELO ",
    "STARTTLS",
    "AUTH ",
    "MAIL FROM:<",
    "RCPT TO:<",
    "DATA",
    "BDAT ",
    "RSET",
    "VRFY ",
    "EXPN ",
    "HELP",
    "NOOP",
    "QUIT",
    "help",
    "quit",
];

/// MAIL parameters, each with the EHLO keyword that allows it.
const MAIL_PARAMS: &[(&str, &str)] = &[
    ("SIZE=", "SIZE"),
    ("BODY=8BITMIME", "8BITMIME"),
    ("BODY=7BIT", "8BITMIME"),
    ("BODY=BINARYMIME", "BINARYMIME"),
    ("SMTPUTF8", "SMTPUTF8"),
    ("RET=FULL", "DSN"),
    ("RET=HDRS", "DSN"),
    ("ENVID=", "DSN"),
    ("AUTH=<>", "AUTH"),
];

/// RCPT parameters, each with the EHLO keyword that allows it.
const RCPT_PARAMS: &[(&str, &str)] = &[
    ("NOTIFY=SUCCESS,FAILURE,DELAY", "DSN"),
    ("NOTIFY=FAILURE", "DSN"),
    ("NOTIFY=NEVER", "DSN"),
    ("ORCPT=rfc822;", "DSN"),
];

/// The completions of `line` with the cursor at byte `pos`: where the
/// replaced word starts, and the candidates. `offered` is the server's
/// EHLO reply, `None` when not known (then everything is offered).
pub fn candidates(line: &str, pos: usize, offered: Option<&Capabilities>) -> (usize, Vec<String>) {
    let before = line.get(..pos).unwrap_or(line);
    let start = before.rfind(' ').map_or(0, |space| space + 1);
    let word = &before[start..];
    let starts = |candidate: &str| {
        candidate.len() >= word.len()
            && candidate.as_bytes()[..word.len()].eq_ignore_ascii_case(word.as_bytes())
    };
    let matching = |list: Vec<String>| list.into_iter().filter(|c| starts(c)).collect();
    let bare = before.strip_prefix('!').unwrap_or(before);
    let first = bare
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if start == 0 || (start == 1 && before.starts_with('!')) {
        // The first word (after a forcing "!").
        let from = if before.starts_with('!') { 1 } else { 0 };
        let word = &before[from..];
        let list = COMMANDS
            .iter()
            .filter(|c| {
                c.len() >= word.len()
                    && c.as_bytes()[..word.len()].eq_ignore_ascii_case(word.as_bytes())
            })
            .map(|c| (*c).to_string())
            .collect();
        return (from, list);
    }
    let allowed = |keyword: &str| offered.is_none_or(|caps| caps.has(keyword));
    let params = |table: &[(&str, &str)]| {
        table
            .iter()
            .filter(|(_, keyword)| allowed(keyword))
            .map(|(param, _)| (*param).to_string())
            .collect::<Vec<_>>()
    };
    let list = match first.as_str() {
        // The second word of `MAIL` or `RCPT` typed without its keyword.
        "MAIL" if start == bare_start(before) + 5 => vec!["FROM:<".to_string()],
        "RCPT" if start == bare_start(before) + 5 => vec!["TO:<".to_string()],
        "MAIL" => params(MAIL_PARAMS),
        "RCPT" => params(RCPT_PARAMS),
        "AUTH" if start == bare_start(before) + 5 => {
            let mut mechanisms = vec!["PLAIN ".to_string(), "LOGIN".to_string()];
            if let Some(caps) = offered {
                // Read from the EHLO lines on each call: once here.
                let offered_mechanisms = caps.auth_mechanisms();
                mechanisms.retain(|m| offered_mechanisms.iter().any(|o| o == m.trim()));
                for other in offered_mechanisms {
                    if !mechanisms.iter().any(|m| m.trim() == other) {
                        mechanisms.push(other);
                    }
                }
            }
            mechanisms
        }
        "BDAT" if before[bare_start(before)..].split(' ').count() == 3 => vec!["LAST".to_string()],
        "HELP" => COMMANDS
            .iter()
            .filter(|c| c.chars().next().is_some_and(|ch| ch.is_ascii_uppercase()))
            .map(|c| c.split([' ', ':']).next().unwrap_or_default().to_string())
            .collect(),
        _ => Vec::new(),
    };
    (start, matching(list))
}

/// Where the command starts: after a forcing `!`.
fn bare_start(line: &str) -> usize {
    usize::from(line.starts_with('!'))
}

/// The rustyline helper: completion from [`candidates`], and a mask over
/// what is typed at a password prompt.
pub struct LineHelper {
    /// The server's EHLO reply as the shell last saw it.
    pub offered: Arc<Mutex<Option<Capabilities>>>,
    /// Typing a secret: show `*` for each character, complete nothing.
    pub masking: bool,
}

impl Completer for LineHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        if self.masking {
            return Ok((pos, Vec::new()));
        }
        let offered = self.offered.lock().unwrap_or_else(|e| e.into_inner());
        Ok(candidates(line, pos, offered.as_ref()))
    }
}

impl Highlighter for LineHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if self.masking {
            Cow::Owned("*".repeat(line.chars().count()))
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        // Redraw on every key while masking, so no character shows.
        self.masking && kind != CmdKind::MoveCursor
    }
}

impl Hinter for LineHelper {
    type Hint = String;
}

impl Validator for LineHelper {}

impl rustyline::Helper for LineHelper {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use smtp_wire::reply::Reply;

    fn complete(line: &str, offered: Option<&Capabilities>) -> (usize, Vec<String>) {
        candidates(line, line.len(), offered)
    }

    #[test]
    fn commands_complete_in_any_case() {
        assert_eq!(complete("ma", None), (0, vec!["MAIL FROM:<".to_string()]));
        assert_eq!(complete("r", None).1, ["RCPT TO:<", "RSET"]);
        assert_eq!(complete("!st", None), (1, vec!["STARTTLS".to_string()]));
        assert_eq!(complete("", None).1.len(), COMMANDS.len());
        assert_eq!(complete("mail ", None), (5, vec!["FROM:<".to_string()]));
    }

    #[test]
    fn parameters_follow_what_the_server_offered() {
        let line = "MAIL FROM:<a@example.org> ";
        let all = complete(line, None).1;
        assert!(all.contains(&"SIZE=".to_string()) && all.contains(&"RET=HDRS".to_string()));
        let caps = Capabilities::from_ehlo_reply(&Reply::new(250, "mx\nSIZE 1000\n8BITMIME"));
        assert_eq!(
            complete(line, Some(&caps)).1,
            ["SIZE=", "BODY=8BITMIME", "BODY=7BIT"]
        );
        let (start, list) = complete("MAIL FROM:<a@example.org> SIZE=10 bo", Some(&caps));
        assert_eq!(start, 34);
        assert_eq!(list, ["BODY=8BITMIME", "BODY=7BIT"]);
        assert_eq!(
            complete("RCPT TO:<b@example.org> N", None).1,
            [
                "NOTIFY=SUCCESS,FAILURE,DELAY",
                "NOTIFY=FAILURE",
                "NOTIFY=NEVER"
            ]
        );
        assert!(
            complete("RCPT TO:<b@example.org> N", Some(&caps))
                .1
                .is_empty()
        );
    }

    #[test]
    fn auth_mechanisms_bdat_last_and_help_topics() {
        assert_eq!(complete("AUTH ", None).1, ["PLAIN ", "LOGIN"]);
        let caps = Capabilities::from_ehlo_reply(&Reply::new(250, "mx\nAUTH LOGIN XOAUTH2"));
        assert_eq!(complete("auth ", Some(&caps)).1, ["LOGIN", "XOAUTH2"]);
        assert_eq!(complete("BDAT 100 L", None).1, ["LAST"]);
        assert!(complete("BDAT 10", None).1.is_empty());
        assert!(complete("HELP M", None).1.contains(&"MAIL".to_string()));
    }
}

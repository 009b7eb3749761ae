//! The command-line parser behind [`Command::parse`].
//!
//! One pass, no allocation except the values it returns: the verb is matched
//! by copying its four bytes into an array and upper-casing that in place;
//! paths are scanned in place by [`crate::path`]'s prefix parsers.

use super::{Command, CommandError};
use crate::param::{MailParams, RcptParams};
use crate::path::{Domain, ForwardPath, ReversePath};

// The `expected` texts. CommandError::reply() matches on some of them to pick
// the enhanced code, so they are constants.
pub(super) const EXPECT_HELO: &str = "HELO <domain>";
pub(super) const EXPECT_LHLO: &str = "LHLO <domain>";
pub(super) const EXPECT_EHLO: &str = "EHLO <domain>";
pub(super) const EXPECT_MAIL: &str = "MAIL FROM:<reverse-path>";
pub(super) const EXPECT_MAIL_PARAMS: &str = "MAIL FROM:<reverse-path> [SP <mail-parameters>]";
pub(super) const EXPECT_RCPT: &str = "RCPT TO:<forward-path>";
pub(super) const EXPECT_RCPT_PARAMS: &str = "RCPT TO:<forward-path> [SP <rcpt-parameters>]";
pub(super) const EXPECT_SEND: &str = "SEND FROM:<reverse-path>";
pub(super) const EXPECT_SOML: &str = "SOML FROM:<reverse-path>";
pub(super) const EXPECT_SAML: &str = "SAML FROM:<reverse-path>";
const EXPECT_VRFY: &str = "VRFY <string>";
const EXPECT_EXPN: &str = "EXPN <string>";
const EXPECT_HELP: &str = "HELP [<string>]";
const EXPECT_NOOP: &str = "NOOP [<string>]";
const EXPECT_AUTH: &str = "AUTH <mechanism> [<initial-response>]";
const EXPECT_BDAT: &str = "BDAT <chunk-size> [LAST]";

const fn syntax(expected: &'static str) -> CommandError {
    CommandError::Syntax { expected }
}

/// See [`Command::parse`].
pub(super) fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
    if line.bytes().all(|b| b == b' ') {
        return Err(CommandError::Empty);
    }
    // RFC 5321 §4.1.1: the verb, then (for most commands) one SP and the
    // arguments. `args` is None when the line is the bare verb.
    // The verb is four octets (eight for STARTTLS and XCLIENT): a plain
    // loop finds the space sooner than a vectorised search is set up.
    let (verb, args) = match line.bytes().position(|b| b == b' ') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    // RFC 5321 §2.4: verbs are case-insensitive. Upper-case a copy of the
    // four bytes on the stack instead of allocating.
    if let Ok(four) = <[u8; 4]>::try_from(verb.as_bytes()) {
        let mut upper = four;
        upper.make_ascii_uppercase();
        return match &upper {
            b"MAIL" => mail(args),
            b"RCPT" => rcpt(args),
            b"EHLO" => domain_arg(args, EXPECT_EHLO).map(Command::Ehlo),
            b"HELO" => domain_arg(args, EXPECT_HELO).map(Command::Helo),
            b"LHLO" => domain_arg(args, EXPECT_LHLO).map(Command::Lhlo),
            b"DATA" => no_args(args, "DATA", Command::Data),
            b"BDAT" => bdat(args),
            b"RSET" => no_args(args, "RSET", Command::Rset),
            b"QUIT" => no_args(args, "QUIT", Command::Quit),
            b"TURN" => no_args(args, "TURN", Command::Turn),
            b"NOOP" => optional_string(args, EXPECT_NOOP).map(Command::Noop),
            b"HELP" => optional_string(args, EXPECT_HELP).map(Command::Help),
            b"VRFY" => required_string(args, EXPECT_VRFY).map(Command::Vrfy),
            b"EXPN" => required_string(args, EXPECT_EXPN).map(Command::Expn),
            b"AUTH" => auth(args),
            b"SEND" => from_path(args, EXPECT_SEND).map(Command::Send),
            b"SOML" => from_path(args, EXPECT_SOML).map(Command::Soml),
            b"SAML" => from_path(args, EXPECT_SAML).map(Command::Saml),
            _ => Err(unknown(verb)),
        };
    }
    if verb.eq_ignore_ascii_case("XCLIENT") {
        return xclient(args);
    }
    if verb.eq_ignore_ascii_case("STARTTLS") {
        // RFC 3207 §4: "STARTTLS" takes no parameters (501 otherwise).
        return no_args(args, "STARTTLS", Command::StartTls);
    }
    Err(unknown(verb))
}

/// Postfix's XCLIENT: `XCLIENT SP attribute-name "=" attribute-value
/// *(SP ...)`, names alphabetic, values xtext (`[UNAVAILABLE]` and
/// `[TEMPUNAVAIL]` stand for unknown values).
fn xclient(args: Option<&str>) -> Result<Command, CommandError> {
    const EXPECT: &str = "XCLIENT attribute=value ...";
    let args = args.ok_or(syntax(EXPECT))?;
    let mut attributes = Vec::new();
    for item in args.split(' ') {
        let (name, value) = item.split_once('=').ok_or(syntax(EXPECT))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(syntax(EXPECT));
        }
        let value = crate::param::xtext_decode(value).map_err(|_| syntax(EXPECT))?;
        attributes.push((name.to_ascii_uppercase(), value));
    }
    Ok(Command::Xclient(attributes))
}

/// `CommandError::Unknown` with a verb that is safe to echo: at most 16
/// characters, anything but printable ASCII replaced by `?`.
fn unknown(verb: &str) -> CommandError {
    let safe = verb
        .chars()
        .take(16)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect();
    CommandError::Unknown(safe)
}

/// A command that takes no argument (DATA, RSET, QUIT, TURN, STARTTLS):
/// anything after the verb, even a lone space, is a syntax error
/// (RFC 5321 §4.1.1.4 `data = "DATA" CRLF`, etc.).
fn no_args(
    args: Option<&str>,
    expected: &'static str,
    command: Command,
) -> Result<Command, CommandError> {
    match args {
        None => Ok(command),
        Some(_) => Err(syntax(expected)),
    }
}

/// HELO / EHLO: RFC 5321 §4.1.1.1 `"EHLO" SP ( Domain / address-literal )`.
/// HELO's grammar only has `Domain`; we accept a literal there too, since
/// clients without a name send one.
fn domain_arg(args: Option<&str>, expected: &'static str) -> Result<Domain, CommandError> {
    let arg = args.ok_or(syntax(expected))?;
    Domain::parse(arg).map_err(|source| CommandError::Path { expected, source })
}

/// Strips an ASCII keyword such as `FROM:` case-insensitively (RFC 5321
/// §2.4), then tolerates one space (our documented leniency: RFC 5321 §3.3
/// forbids it, many clients send it).
#[inline]
fn after_keyword<'a>(
    args: Option<&'a str>,
    keyword: &str,
    expected: &'static str,
) -> Result<&'a str, CommandError> {
    let args = args.ok_or(syntax(expected))?;
    let head = args
        .as_bytes()
        .get(..keyword.len())
        .ok_or(syntax(expected))?;
    if !head.eq_ignore_ascii_case(keyword.as_bytes()) {
        return Err(syntax(expected));
    }
    let rest = &args[keyword.len()..];
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    if !rest.starts_with('<') {
        return Err(syntax(expected));
    }
    Ok(rest)
}

/// What follows a path: nothing, or one SP and a non-empty parameter list.
#[inline]
fn params_part<'a>(after_path: &'a str, expected: &'static str) -> Result<&'a str, CommandError> {
    if after_path.is_empty() {
        return Ok("");
    }
    match after_path.strip_prefix(' ') {
        Some(params) if !params.is_empty() => Ok(params),
        _ => Err(syntax(expected)),
    }
}

/// RFC 5321 §4.1.1.2: `"MAIL FROM:" Reverse-path [SP Mail-parameters]`.
///
/// The path is checked first and copied last, after the parameters
/// (see `ScannedMailbox`).
#[inline]
fn mail(args: Option<&str>) -> Result<Command, CommandError> {
    let path_error = |source| CommandError::Path {
        expected: EXPECT_MAIL,
        source,
    };
    let rest = after_keyword(args, "FROM:", EXPECT_MAIL)?;
    let (from, after) = ReversePath::scan_prefix(rest).map_err(path_error)?;
    // The common case, no parameters, skips the parameter parser entirely.
    let mut params = MailParams::default();
    match params_part(after, EXPECT_MAIL_PARAMS)? {
        "" => {}
        list => params.read(list)?,
    }
    Ok(Command::Mail {
        from: ReversePath::build(from).map_err(path_error)?,
        params,
    })
}

/// RFC 5321 §4.1.1.3: `"RCPT TO:" ( "<Postmaster@" Domain ">" /
/// "<Postmaster>" / Forward-path ) [SP Rcpt-parameters]`.
#[inline]
fn rcpt(args: Option<&str>) -> Result<Command, CommandError> {
    let path_error = |source| CommandError::Path {
        expected: EXPECT_RCPT,
        source,
    };
    let rest = after_keyword(args, "TO:", EXPECT_RCPT)?;
    let (to, after) = ForwardPath::scan_prefix(rest).map_err(path_error)?;
    let mut params = RcptParams::default();
    match params_part(after, EXPECT_RCPT_PARAMS)? {
        "" => {}
        list => params.read(list)?,
    }
    Ok(Command::Rcpt {
        to: ForwardPath::build(to).map_err(path_error)?,
        params,
    })
}

/// RFC 821 §4.1.2: `SEND <SP> FROM:<reverse-path>` (and SOML, SAML); no
/// parameters.
fn from_path(args: Option<&str>, expected: &'static str) -> Result<ReversePath, CommandError> {
    let rest = after_keyword(args, "FROM:", expected)?;
    let (from, after) = ReversePath::parse_prefix(rest)
        .map_err(|source| CommandError::Path { expected, source })?;
    if !after.is_empty() {
        return Err(syntax(expected));
    }
    Ok(from)
}

/// A free-text argument (VRFY, EXPN, HELP, NOOP). RFC 5321 §4.1.2 says
/// `String = Atom / Quoted-string`, but VRFY/EXPN are used with user names
/// and `<mailbox>` forms in practice (§3.5), so we accept any printable text
/// (UTF-8 included), kept verbatim, that does not start or end with a space.
/// Control characters are refused.
fn is_text_arg(arg: &str) -> bool {
    !arg.is_empty()
        && !arg.starts_with(' ')
        && !arg.ends_with(' ')
        && !arg.chars().any(char::is_control)
}

/// VRFY / EXPN: `"VRFY" SP String` (RFC 5321 §4.1.1.6-7).
fn required_string(args: Option<&str>, expected: &'static str) -> Result<String, CommandError> {
    match args {
        Some(arg) if is_text_arg(arg) => Ok(arg.to_owned()),
        _ => Err(syntax(expected)),
    }
}

/// HELP / NOOP: `"NOOP" [ SP String ]` (RFC 5321 §4.1.1.8-9).
fn optional_string(
    args: Option<&str>,
    expected: &'static str,
) -> Result<Option<String>, CommandError> {
    match args {
        None => Ok(None),
        Some(arg) if is_text_arg(arg) => Ok(Some(arg.to_owned())),
        Some(_) => Err(syntax(expected)),
    }
}

/// RFC 4422 §3.1 `sasl-mech = 1*20mech-char`, `mech-char = UPPER-ALPHA /
/// DIGIT / "-" / "_"`. Lower case is accepted and upper-cased.
fn is_mechanism(s: &str) -> bool {
    (1..=20).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 4954 §4 `initial-response = base64 / "="`, with base64 as in
/// RFC 4648 §4: groups of four alphabet characters, `=` padding only at the
/// end.
fn is_initial_response(s: &str) -> bool {
    if s == "=" {
        return true;
    }
    let bytes = s.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return false;
    }
    let body = bytes
        .strip_suffix(b"==")
        .or_else(|| bytes.strip_suffix(b"="))
        .unwrap_or(bytes);
    body.iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// RFC 4954 §4: `"AUTH" SP sasl-mech [SP initial-response]`.
fn auth(args: Option<&str>) -> Result<Command, CommandError> {
    let args = args.ok_or(syntax(EXPECT_AUTH))?;
    let (mechanism, response) = match args.split_once(' ') {
        Some((m, r)) => (m, Some(r)),
        None => (args, None),
    };
    if !is_mechanism(mechanism) || response.is_some_and(|r| !is_initial_response(r)) {
        return Err(syntax(EXPECT_AUTH));
    }
    Ok(Command::Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial_response: response.map(str::to_owned),
    })
}

/// RFC 3030 §2: `"BDAT" SP chunk-size [SP end-marker]`, `chunk-size =
/// 1*DIGIT`, `end-marker = "LAST"`. The size must fit in a u64 (checked, no
/// overflow).
fn bdat(args: Option<&str>) -> Result<Command, CommandError> {
    let args = args.ok_or(syntax(EXPECT_BDAT))?;
    let (digits, last) = match args.split_once(' ') {
        Some((d, marker)) if marker.eq_ignore_ascii_case("LAST") => (d, true),
        Some(_) => return Err(syntax(EXPECT_BDAT)),
        None => (args, false),
    };
    if digits.is_empty() {
        return Err(syntax(EXPECT_BDAT));
    }
    let size = digits.bytes().try_fold(0u64, |acc, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    });
    let size = size.ok_or(syntax(EXPECT_BDAT))?;
    Ok(Command::Bdat { size, last })
}

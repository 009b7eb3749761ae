//! `smtp-send shell HOST[:PORT]`: an SMTP session typed by hand, as with
//! the telnet of old, for learners. The tool does what a person cannot
//! type: the TLS handshake (implicit, or after STARTTLS, with the
//! certificate checked), base64 for AUTH, dot-stuffing and CRLF line ends
//! for DATA; it shows each reply with its RFC note and warns before a
//! command the server did not offer.
//!
//! The protocol side is [`state::Shell`], sans-IO and unit-tested; this
//! file is the driver: it moves typed lines to the shell and bytes to and
//! from the server, and does the TLS handshake when told.

mod checks;
mod complete;
mod help;
mod input;
mod state;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Parser, Subcommand};
use smtp_io::MaybeTls;
use smtp_sender::{ClientConfig, SendError, TlsMode, TlsUpgrade};
use smtp_wire::annotate::Style;
use smtp_wire::{Capabilities, Reply, ReplyParser};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use super::args::CertArgs;
use super::output::{EX_CONFIG, EX_DATAERR, EX_TEMPFAIL};
use super::parse_server;
use input::{Input, Line};
use state::{Next, Shell, Step};

const EXAMPLES: &str = "\
Examples:
  # A plain session with a local test server (type EHLO, MAIL, RCPT, DATA, ...):
  smtp-send shell 127.0.0.1:2525

  # Implicit TLS with a private CA; the certificate is checked against localhost:
  smtp-send shell localhost:4650 --tls implicit --ca .certs/ca.pem

  # A script of commands from a file (no prompts, every line sent shown):
  smtp-send shell 127.0.0.1:2525 < session.txt

In the session: help lists the commands, Tab completes them, !LINE sends a
line as typed without checks, quit (or Ctrl-D) sends QUIT.

Exit status: 0 the session ended with QUIT; 75 (EX_TEMPFAIL) the
connection failed, was lost or closed by the server (421), or TLS failed;
65 (EX_DATAERR) the input ended inside a message, which was abandoned;
64 (EX_USAGE) a usage error; 78 (EX_CONFIG) a --ca file that cannot be used.";

/// The `shell` command of smtp-send.
#[derive(Debug, Parser)]
#[command(name = "smtp-send", version)]
pub struct ShellCli {
    #[command(subcommand)]
    command: ShellCommand,
}

#[derive(Debug, Subcommand)]
enum ShellCommand {
    /// Type SMTP commands to a server yourself: each reply is shown with
    /// its RFC note; the tool does TLS, AUTH's base64 and DATA's
    /// dot-stuffing
    #[command(after_help = EXAMPLES)]
    Shell(ShellArgs),
}

#[derive(Debug, clap::Args)]
struct ShellArgs {
    /// The server: HOST, HOST:PORT or [IPv6]:PORT (default port 465 with --tls implicit, else 25)
    #[arg(value_name = "HOST[:PORT]")]
    server: String,

    /// TLS from the first byte (implicit, RFC 8314) or not (none); type
    /// STARTTLS in the session to upgrade a plain one [default: implicit
    /// on port 465, else none]
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    tls: Option<TlsMode>,

    /// How the server's certificate is checked (implicit TLS and STARTTLS).
    #[command(flatten)]
    cert: CertArgs,

    /// Wait this many seconds for each reply [default: RFC 5321 §4.5.3.2's
    /// timeouts: 5 minutes, 2 for DATA, 10 for the end of the data]
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
}

/// `--tls`: the two modes a typed session starts in.
fn parse_mode(mode: &str) -> Result<TlsMode, String> {
    match mode.parse::<TlsMode>() {
        Ok(mode @ (TlsMode::Implicit | TlsMode::None)) => Ok(mode),
        Ok(_) => Err("implicit or none (type STARTTLS in the session to upgrade)".into()),
        Err(error) => Err(error.to_string()),
    }
}

/// True for `smtp-send shell ...`.
pub fn is_shell_command(first: Option<&str>) -> bool {
    first == Some("shell")
}

/// Runs the session; the exit code follows sysexits(3).
pub async fn run(cli: ShellCli) -> ExitCode {
    let ShellCommand::Shell(args) = cli.command;
    match open(&args).await {
        Ok(mut driver) => driver.run().await,
        Err(code) => code,
    }
}

/// Prints an error in one line on stderr; the exit code.
fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("smtp-send: {message}");
    ExitCode::from(code)
}

/// Connects (and shakes hands for implicit TLS): the driver, ready for
/// the greeting.
async fn open(args: &ShellArgs) -> Result<Driver, ExitCode> {
    let (host, port) = parse_server(&args.server).map_err(|e| super::output::usage_error(&e))?;
    let mode = args.tls.unwrap_or(if port == Some(465) {
        TlsMode::Implicit
    } else {
        TlsMode::None
    });
    let implicit = mode == TlsMode::Implicit;
    let port = port.unwrap_or(if implicit { 465 } else { 25 });
    let mut config = ClientConfig::new(host.clone(), port);
    config.tls = mode;
    args.cert.apply(&mut config);
    // Built now, so that a bad --ca stops the session before it starts; a
    // plain session on a machine without trust roots may still go on.
    let tls = match TlsUpgrade::new(&config) {
        Ok(tls) => Ok(tls),
        Err(error) if implicit || args.cert.ca.is_some() => {
            return Err(fail(config_code(&error), &format!("error: {error}")));
        }
        Err(error) => Err(error),
    };
    if args.cert.insecure_skip_verify {
        eprintln!(
            "smtp-send: warning: --insecure-skip-verify: the server's certificate is NOT \
             checked; anyone on the path can read and change this session"
        );
    }
    let addr = format!("{host}:{port}");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = match timeout(config.timeouts.connect, TcpStream::connect((bare, port))).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) => {
            return Err(fail(
                EX_TEMPFAIL,
                &format!("cannot connect to {addr}: {error}"),
            ));
        }
        Err(_) => {
            return Err(fail(
                EX_TEMPFAIL,
                &format!("cannot connect to {addr}: timed out"),
            ));
        }
    };
    // Each typed line should leave at once, not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    let offered = Arc::new(Mutex::new(None));
    let input = Input::start(offered.clone());
    let style = Style::for_output(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    );
    let mut shell = Shell::new(style, !input.is_terminal());
    print(&shell.connected(&addr, implicit));
    let mut driver = Driver {
        stream: MaybeTls::plain(tcp),
        shell,
        input,
        parser: ReplyParser::new(),
        received: Vec::new(),
        reply_bytes: Vec::new(),
        tls,
        insecure: args.cert.insecure_skip_verify,
        offered,
        timeout: args.timeout.map(Duration::from_secs),
        server_closed: false,
    };
    if implicit {
        // RFC 8314 §3.3: the handshake comes before the greeting.
        driver.start_tls().await?;
    }
    Ok(driver)
}

/// 78 for a CA file or trust store that cannot be used, else 75.
fn config_code(error: &SendError) -> u8 {
    match error {
        SendError::Transport(transport) if transport.is_local_config() => EX_CONFIG,
        _ => EX_TEMPFAIL,
    }
}

/// Writes lines to standard output at once (the user is waiting for them).
fn print(lines: &[String]) {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
}

/// One session: the connection, the shell, the typed lines.
struct Driver {
    stream: MaybeTls<TcpStream>,
    shell: Shell,
    input: Input,
    parser: ReplyParser,
    /// Received and not yet parsed.
    received: Vec<u8>,
    /// The octets of the reply being parsed, to show its lines as sent.
    reply_bytes: Vec<u8>,
    tls: Result<TlsUpgrade, SendError>,
    insecure: bool,
    /// What completion offers, updated after every reply.
    offered: Arc<Mutex<Option<Capabilities>>>,
    timeout: Option<Duration>,
    server_closed: bool,
}

impl Driver {
    async fn run(&mut self) -> ExitCode {
        loop {
            let result = if self.shell.awaits_reply() {
                self.await_reply().await
            } else if self.shell.wants_quit() {
                let step = self.shell.end_of_input();
                self.act(step).await
            } else {
                self.await_line().await
            };
            if let Err(code) = result {
                return code;
            }
        }
    }

    /// The reply now due, and what follows it.
    async fn await_reply(&mut self) -> Result<(), ExitCode> {
        let wait = self
            .timeout
            .unwrap_or(Duration::from_secs(self.shell.reply_wait_seconds()));
        let Some((lines, reply)) = self.next_reply(Instant::now() + wait).await? else {
            print(&self.shell.closed_by_server());
            return Err(if self.shell.quit_sent() {
                ExitCode::SUCCESS
            } else {
                fail(
                    EX_TEMPFAIL,
                    "the server closed the connection while a reply was due",
                )
            });
        };
        let answer = self.shell.reply(&lines, &reply);
        print(&answer.out);
        *self.offered.lock().unwrap_or_else(|e| e.into_inner()) = self.shell.capabilities();
        match answer.next {
            Next::Input => Ok(()),
            Next::Send(bytes) => self.write(&bytes).await,
            Next::StartTls => self.start_tls().await,
            Next::Closed { clean: true } => Err(ExitCode::SUCCESS),
            Next::Closed { clean: false } => Err(ExitCode::from(EX_TEMPFAIL)),
        }
    }

    /// The user's next line, while showing whatever the server says
    /// meanwhile (a 421 before it closes).
    async fn await_line(&mut self) -> Result<(), ExitCode> {
        let prompt = self.shell.prompt();
        let secret = self.shell.secret_input();
        let mut chunk = [0u8; 4096];
        let line = tokio::select! {
            line = self.input.line(&prompt, secret) => line,
            read = self.stream.read(&mut chunk), if !self.server_closed => {
                if self.input.is_terminal() {
                    // The prompt is on the screen: start below it.
                    print(&[String::new()]);
                }
                match read {
                    Ok(n) if n > 0 => {
                        self.received.extend_from_slice(&chunk[..n]);
                        while let Some((lines, reply)) = self.parse()? {
                            let answer = self.shell.reply(&lines, &reply);
                            print(&answer.out);
                        }
                    }
                    _ => {
                        self.server_closed = true;
                        print(&self.shell.closed_by_server());
                    }
                }
                return Ok(());
            }
        };
        if self.server_closed {
            // Only now: the line editor had the terminal until the line
            // was typed, and leaving earlier would leave it in raw mode.
            return Err(if self.shell.quit_sent() {
                ExitCode::SUCCESS
            } else {
                fail(EX_TEMPFAIL, "the server closed the connection")
            });
        }
        let step = match line {
            Ok(Line::Text(text)) => self.shell.input(&text),
            Ok(Line::Interrupted) => {
                print(&[
                    "^C: type quit to leave (in a message, a line holding only . ends it)"
                        .to_string(),
                ]);
                return Ok(());
            }
            Ok(Line::End) => self.shell.end_of_input(),
            Err(error) => {
                eprintln!("smtp-send: reading the input: {error}");
                self.shell.end_of_input()
            }
        };
        self.act(step).await
    }

    /// Does what the shell said for a typed line.
    async fn act(&mut self, mut step: Step) -> Result<(), ExitCode> {
        loop {
            step = match step {
                Step::Print(out) => {
                    print(&out);
                    return Ok(());
                }
                Step::Send { out, bytes } => {
                    print(&out);
                    return self.write(&bytes).await;
                }
                Step::Abandon(out) => {
                    print(&out);
                    return Err(ExitCode::from(EX_DATAERR));
                }
                Step::Confirm(warnings) => {
                    print(&warnings);
                    // Without a terminal there is nobody to ask: not sent.
                    let yes = self.input.is_terminal()
                        && matches!(
                            self.input.line("send it anyway? [y/N] ", false).await,
                            Ok(Line::Text(answer)) if answer.trim().eq_ignore_ascii_case("y")
                                || answer.trim().eq_ignore_ascii_case("yes")
                        );
                    self.shell.confirm(yes)
                }
                Step::Credentials { user } => {
                    let user = match user {
                        Some(user) => Some(user),
                        None => self.ask("user name: ", false).await,
                    };
                    let password = match &user {
                        Some(_) => self.ask("password: ", true).await,
                        None => None,
                    };
                    match (user, password) {
                        (Some(user), Some(password)) => self.shell.credentials(user, password),
                        _ => Step::Print(vec!["AUTH not sent: no credentials".to_string()]),
                    }
                }
            };
        }
    }

    /// One answer to a question of the tool; `None` at the end of input.
    async fn ask(&mut self, prompt: &str, secret: bool) -> Option<String> {
        match self.input.line(prompt, secret).await {
            Ok(Line::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// Writes and flushes `bytes`.
    async fn write(&mut self, bytes: &[u8]) -> Result<(), ExitCode> {
        let stream = &mut self.stream;
        let io = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match timeout(Duration::from_secs(300), io).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(fail(EX_TEMPFAIL, &format!("sending failed: {error}"))),
            Err(_) => Err(fail(EX_TEMPFAIL, "sending failed: timed out")),
        }
    }

    /// The next complete reply; `None` when the server closed first.
    async fn next_reply(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<(Vec<String>, Reply)>, ExitCode> {
        loop {
            if let Some(reply) = self.parse()? {
                return Ok(Some(reply));
            }
            if self.server_closed {
                return Ok(None);
            }
            let mut chunk = [0u8; 4096];
            match timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) => self.server_closed = true,
                Ok(Ok(n)) => self.received.extend_from_slice(&chunk[..n]),
                Ok(Err(error)) => {
                    return Err(fail(
                        EX_TEMPFAIL,
                        &format!("reading from the server: {error}"),
                    ));
                }
                Err(_) => {
                    return Err(fail(
                        EX_TEMPFAIL,
                        "no reply in time (RFC 5321 §4.5.3.2); --timeout changes the wait",
                    ));
                }
            }
        }
    }

    /// A complete reply from what was received, with its lines as sent.
    fn parse(&mut self) -> Result<Option<(Vec<String>, Reply)>, ExitCode> {
        let (used, reply) = match self.parser.decode(&self.received) {
            Ok(decoded) => decoded,
            Err(error) => {
                let shown = self.received.escape_ascii().to_string();
                return Err(fail(
                    EX_TEMPFAIL,
                    &format!("the server's answer is not an SMTP reply ({error}): {shown:.200}"),
                ));
            }
        };
        self.reply_bytes.extend(self.received.drain(..used));
        let Some(reply) = reply else {
            return Ok(None);
        };
        let bytes = std::mem::take(&mut self.reply_bytes);
        let text = String::from_utf8_lossy(&bytes);
        let mut lines: Vec<String> = text
            .split('\n')
            .map(|line| line.trim_end_matches('\r').to_string())
            .collect();
        // What follows the last line end is empty.
        lines.pop();
        Ok(Some((lines, reply)))
    }

    /// The TLS handshake: implicit TLS before the greeting, or after the
    /// 220 to STARTTLS.
    async fn start_tls(&mut self) -> Result<(), ExitCode> {
        // RFC 3207 §4.2 (CVE-2011-0411): nothing may follow the 220 in
        // plain text; such bytes would be taken as replies under TLS.
        if !self.received.is_empty() {
            return Err(fail(
                EX_TEMPFAIL,
                &format!(
                    "the server sent {} octets after its 220 to STARTTLS, before the TLS \
                     handshake: a response injection (CVE-2011-0411); closing",
                    self.received.len()
                ),
            ));
        }
        let tls = match &self.tls {
            Ok(tls) => tls,
            Err(error) => return Err(fail(config_code(error), &format!("TLS: {error}"))),
        };
        let limit = self.timeout.unwrap_or(Duration::from_secs(60));
        if let Err(error) = tls.handshake(&mut self.stream, limit).await {
            let code = if error.is_local_config() {
                EX_CONFIG
            } else {
                EX_TEMPFAIL
            };
            return Err(fail(code, &format!("TLS failed: {error}")));
        }
        let parameters = self
            .stream
            .tls_parameters()
            .map(|p| format!("{} {}", p.version, p.cipher))
            .unwrap_or_default();
        let checked = if self.insecure {
            "the certificate was NOT checked (--insecure-skip-verify)".to_string()
        } else {
            format!("the certificate is valid for {}", tls.name())
        };
        print(&self.shell.tls_started(&format!("{parameters}; {checked}")));
        Ok(())
    }
}

//! `cargo xtask demo`: the receiver and the sender talk over loopback TLS,
//! and a learner watches every line, each step tied to its RFC section.
//!
//! The conversations themselves live in `smtp_e2e::demo`, where the
//! end-to-end tests run them too; this module only starts things and prints.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use smtp_e2e::demo::{self, Conversation};
use smtp_e2e::harness::{DOMAIN, Receiver};
use smtp_receiver::inbox::Inbox;
use smtp_receiver::inbox::api::{self, HttpListener};
use smtp_testkit::certs::TestPki;
use smtp_wire::annotate::Annotator;
use smtp_wire::transcript::{Direction, TranscriptLine};

/// Transcript lines longer than this get their note on the next line.
const NOTE_COLUMN: usize = 46;

/// Runs the demo from the repository root `root`; fails when any check of
/// any conversation failed. With `web`, the receiver delivers through the
/// test inbox, and its web page is served at the end until Ctrl-C.
pub fn run(root: &Path, web: bool) -> anyhow::Result<()> {
    let style = Style::detect();
    let (pki, _) = TestPki::ensure(&root.join(".certs")).context("making test certificates")?;
    let maildir = root.join(".demo").join("maildir");
    if maildir.exists() {
        std::fs::remove_dir_all(&maildir)
            .with_context(|| format!("clearing {}", maildir.display()))?;
    }
    let runtime = runtime()?;
    let (conversations, inbox) = runtime.block_on(async {
        let (receiver, inbox) = if web {
            let (receiver, inbox) = Receiver::start_with_inbox(&maildir, &pki).await?;
            (receiver, Some(inbox))
        } else {
            (Receiver::start(&maildir, &pki).await?, None)
        };
        print_intro(&style, &receiver, &maildir);
        let conversations = demo::run_all(&receiver).await;
        receiver.stop().await?;
        anyhow::Ok((conversations, inbox))
    })?;

    for (n, c) in conversations.iter().enumerate() {
        print_conversation(&style, n + 1, c);
    }
    let failed: Vec<&str> = conversations
        .iter()
        .filter(|c| !c.passed())
        .map(|c| c.title)
        .collect();
    let checks: usize = conversations.iter().map(|c| c.checks.len()).sum();
    println!();
    if failed.is_empty() {
        println!(
            "{}",
            style.good(&format!(
                "All {} conversations behaved as RFC 5321 says ({checks} checks passed).",
                conversations.len()
            ))
        );
        println!(
            "The Maildir is still there: cargo run -q -p smtp-receiver -- list --maildir {}",
            maildir.display()
        );
        match inbox {
            Some(inbox) => runtime.block_on(serve_web(&style, inbox)),
            None => Ok(()),
        }
    } else {
        anyhow::bail!("conversations with failed checks: {}", failed.join("; "))
    }
}

/// Serves the inbox's web page on 127.0.0.1:8025 (or a free port) until Ctrl-C.
async fn serve_web(style: &Style, inbox: Inbox) -> anyhow::Result<()> {
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:8025").await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen for the web page")?,
    };
    let addr = listener.local_addr().context("local address")?;
    println!();
    println!(
        "{} {}",
        style.bold("The demo's messages and conversations, in a browser:"),
        style.good(&format!("http://{addr}/#/sessions"))
    );
    println!("{}", style.dim("Serving until Ctrl-C."));
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    api::serve(HttpListener::Plain(listener), inbox.router(), stop)
        .await
        .context("serving the web page")
}

fn print_intro(style: &Style, receiver: &Receiver, maildir: &Path) {
    println!(
        "{}",
        style.title("SMTP, both halves: a guided tour of RFC 821 / RFC 5321")
    );
    println!();
    println!("Receiver-SMTP (smtp-receiver, in this process):");
    println!("  listening on {} (smtp, starttls)", receiver.plain);
    println!("  listening on {} (smtps, implicit TLS)", receiver.implicit);
    println!(
        "  accepts mail for @{DOMAIN} only, stores it in {}",
        maildir.display()
    );
    println!("Sender-SMTP (smtp-sender) connects to `localhost` and checks the certificate");
    println!("against the test CA in .certs/ (made with rcgen; never committed).");
    println!();
    println!(
        "{}",
        style.dim("C: is the client (sender), S: the server (receiver). Notes on the right.")
    );
}

fn print_conversation(style: &Style, n: usize, c: &Conversation) {
    println!();
    println!("{}", style.title(&format!("{n}. {}", c.title)));
    for line in wrap(c.about, 78) {
        println!("   {}", style.dim(&line));
    }
    println!();
    let mut notes = Annotator::new();
    for line in &c.transcript {
        let note = notes.note(line);
        print_line(style, line, note.as_ref().map(|n| n.text.as_str()));
    }
    if !c.report.is_empty() {
        println!();
        println!(
            "   {}",
            style.bold("What the sender reports, recipient by recipient:")
        );
        for line in &c.report {
            println!("     {line}");
        }
    }
    println!();
    if c.delivered.is_empty() {
        println!("   {}", style.bold("What landed in the Maildir: nothing."));
    }
    for stored in &c.delivered {
        let name = stored
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned());
        println!(
            "   {} new/{}",
            style.bold("What landed in the Maildir:"),
            name.unwrap_or_default()
        );
        let shown = smtp_mime::render_message(&smtp_mime::inspect(&stored.bytes));
        for line in shown.lines().take(40) {
            println!("     {}", style.dim(line));
        }
    }
    println!();
    for check in &c.checks {
        if check.passed {
            println!("   {} {}", style.good("✓"), check.what);
        } else {
            println!("   {} {}", style.bad("✗"), check.what);
        }
    }
}

fn print_line(style: &Style, line: &TranscriptLine, note: Option<&str>) {
    let (shown, width) = match line.dir {
        Some(Direction::Client) => {
            let text = format!("C: {}", line.text);
            (style.client(&text), text.chars().count())
        }
        Some(Direction::Server) => {
            let text = format!("S: {}", line.text);
            let negative = matches!(line.text.as_bytes().first(), Some(b'4' | b'5'));
            let painted = if negative {
                style.bad(&text)
            } else {
                style.server(&text)
            };
            (painted, text.chars().count())
        }
        None => (style.marker(&line.text), line.text.chars().count()),
    };
    match note {
        None => println!("   {shown}"),
        Some(note) if width < NOTE_COLUMN => {
            let pad = " ".repeat(NOTE_COLUMN - width);
            println!("   {shown}{pad} {}", style.dim(&format!("# {note}")));
        }
        Some(note) => {
            println!("   {shown}");
            let pad = " ".repeat(NOTE_COLUMN);
            println!("   {pad} {}", style.dim(&format!("# {note}")));
        }
    }
}

/// Greedy word wrap.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().map(|l| l.len()).unwrap_or_default();
        if last > 0 && last + 1 + word.len() > width {
            lines.push(String::new());
        }
        if let Some(line) = lines.last_mut() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// ANSI colours when stdout is a terminal (and `NO_COLOR` is unset), plain
/// text otherwise.
struct Style {
    colour: bool,
}

impl Style {
    fn detect() -> Style {
        Style {
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn title(&self, text: &str) -> String {
        self.paint("1;4", text)
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
    fn client(&self, text: &str) -> String {
        self.paint("36", text)
    }
    fn server(&self, text: &str) -> String {
        self.paint("32", text)
    }
    fn marker(&self, text: &str) -> String {
        self.paint("1;33", text)
    }
    fn good(&self, text: &str) -> String {
        self.paint("1;32", text)
    }
    fn bad(&self, text: &str) -> String {
        self.paint("1;31", text)
    }
}

/// Rewrites the transcript in `docs/rfc821-walkthrough.md` from a fresh run
/// of the first conversation.
pub fn write_walkthrough(root: &Path) -> anyhow::Result<()> {
    use smtp_e2e::walkthrough;
    let path = root.join("docs").join("rfc821-walkthrough.md");
    let doc =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let dir = tempfile::tempdir().context("making a temporary folder")?;
    let runtime = runtime()?;
    let conversation = runtime.block_on(async {
        let receiver = Receiver::start_in(dir.path()).await?;
        let c = demo::classic_rfc821(&receiver).await;
        receiver.stop().await?;
        anyhow::Ok(c)
    })?;
    anyhow::ensure!(
        conversation.passed(),
        "the classic conversation failed its checks"
    );
    let transcript = walkthrough::normalize(&demo::render(&conversation.transcript));
    let new = walkthrough::embed(&doc, &transcript)
        .context("the transcript markers are missing from the walkthrough")?;
    std::fs::write(&path, new).with_context(|| format!("writing {}", path.display()))?;
    println!("updated {}", path.display());
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

//! `smtp-conform server ... --html FILE --junit FILE`: the page lists every
//! case and escapes what the peer said, the JUnit file parses (Python's
//! `xml.etree.ElementTree`) with one testcase per case and one failure per
//! failed case, and the page opens in headless chromium without errors.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::maildir_receiver;
use smtp_conformance::server::TlsMode;
use smtp_testkit::browser::Browser;

use crate::refserver::{self, Fault};
use crate::server_cases::reference;

/// A greeting that tries to run script in the report.
const HOSTILE: &str =
    "220 ref.example.test <script>document.title='pwned'</script> & <b>bold</b>\r\n";

fn conform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smtp-conform"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The ids and outcomes of the cases in `smtp-conform --json` output (the
/// only objects holding an `"id"` are the results).
fn cases(json: &str) -> Vec<(String, String)> {
    let field = |part: &str, name: &str| -> String {
        let key = format!("\"{name}\":\"");
        let start = part.find(&key).unwrap() + key.len();
        part[start..].split('"').next().unwrap().to_string()
    };
    json.split("{\"id\":")
        .skip(1)
        .map(|part| {
            let part = format!("\"id\":{part}");
            (field(&part, "id"), field(&part, "outcome"))
        })
        .collect()
}

/// (testcases, failures, names of failed testcases) as Python's
/// ElementTree reads the JUnit file.
fn junit_counts(path: &Path) -> (usize, usize, Vec<String>) {
    let script = "import sys, xml.etree.ElementTree as ET\n\
                  root = ET.parse(sys.argv[1]).getroot()\n\
                  assert root.tag == 'testsuites', root.tag\n\
                  cases = root.findall('./testsuite/testcase')\n\
                  failed = [c.get('name') for c in cases if c.find('failure') is not None]\n\
                  for s in root.findall('testsuite'):\n    \
                      assert int(s.get('tests')) == len(s.findall('testcase'))\n    \
                      assert int(s.get('failures')) == len(s.findall('testcase/failure'))\n\
                  print(len(cases)); print(len(failed)); print(' '.join(failed))\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let cases = lines.next().unwrap().parse().unwrap();
    let failures = lines.next().unwrap().parse().unwrap();
    let names = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    (cases, failures, names)
}

/// Runs `smtp-conform server ADDR --json --html --junit` with `extra`
/// arguments; checks the page and the JUnit file against the JSON report
/// and returns the page and the exit status.
fn run_with_reports(dir: &Path, addr: &str, extra: &[&str]) -> (String, Option<i32>) {
    let html = dir.join("report.html");
    let junit = dir.join("report.xml");
    let mut args = vec![
        "server",
        addr,
        "--rcpt",
        "inbox@example.test",
        "--timeout",
        "3",
        "--grace",
        "300",
        "--json",
        "--html",
        html.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = conform(&args);
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{json}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cases = cases(&json);
    assert!(!cases.is_empty(), "{json}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    for (id, outcome) in &cases {
        assert!(
            page.contains(&format!("<code>{id}</code>")),
            "case {id} missing from the page"
        );
        assert!(page.contains(&format!("badge {outcome}")), "{outcome}");
    }
    assert_eq!(
        page.matches("<details id=\"case-").count(),
        cases.len(),
        "one section per case"
    );
    let (testcases, failures, failed) = junit_counts(&junit);
    let mut expected: Vec<&str> = cases
        .iter()
        .filter(|(_, o)| o == "fail")
        .map(|(id, _)| id.as_str())
        .collect();
    expected.sort_unstable();
    let mut failed: Vec<&str> = failed.iter().map(String::as_str).collect();
    failed.sort_unstable();
    assert_eq!(testcases, cases.len());
    assert_eq!(failures, expected.len());
    assert_eq!(failed, expected);
    (page, out.status.code())
}

#[test]
fn reports_on_this_projects_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = maildir_receiver(dir.path(), "--listen", &[]);
    let addr = receiver.plain().unwrap();
    let (page, status) = run_with_reports(
        dir.path(),
        &addr.to_string(),
        &["--only", "greet,ehlo,helo,quit,order,syntax,data,smuggle"],
    );
    // The exit status and the page's verdict agree (the receiver may fail
    // a case: that is the suite's finding, not this test's).
    let conforms = page.contains("<span class=\"verdict-ok\">");
    assert_eq!(status, Some(if conforms { 0 } else { 1 }));
    // Transcripts come with the annotator's notes.
    assert!(page.contains("# RFC 5321 §4.1.1.1"), "EHLO explained");
    assert!(page.contains("<span class=\"c\">"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peers_text_is_escaped() {
    let server = refserver::spawn(reference(
        TlsMode::None,
        vec![Fault::Greeting(HOSTILE), Fault::QuitRefusedInTransaction],
    ))
    .await;
    let addr = server.addr.to_string();
    let (page, status) = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        run_with_reports(dir.path(), &addr, &["--only", "quit,cmd", "--tls", "none"])
    })
    .await
    .unwrap();
    assert_eq!(status, Some(1), "quit.in-transaction fails, a MUST");
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<b>bold"), "{page}");
    assert!(page.contains("&lt;script&gt;document.title=&apos;pwned&apos;&lt;/script&gt;"));
    assert!(page.contains("&amp; &lt;b&gt;bold&lt;/b&gt;"));
    assert!(page.contains("badge fail"));
}

/// Opens the page, collects console messages, page errors and requests
/// other than the page itself; prints them as JSON with the title, the
/// number of cases and of script elements.
const OPEN_PAGE: &str = r#"
const { chromium } = require(process.env.PLAYWRIGHT);
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true });
  const errors = [];
  const requests = [];
  for (const scheme of ["light", "dark"]) {
    const page = await browser.newPage({ colorScheme: scheme });
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("request", (r) => { if (r.url() !== process.env.PAGE_URL) requests.push(r.url()); });
    await page.goto(process.env.PAGE_URL, { waitUntil: "load" });
    const facts = await page.evaluate(() => ({
      title: document.title,
      cases: document.querySelectorAll("details[id^=case-]").length,
      scripts: document.scripts.length,
      background: getComputedStyle(document.body).backgroundColor,
    }));
    console.log(JSON.stringify({ scheme, ...facts }));
    await page.close();
  }
  await browser.close();
  console.log(JSON.stringify({ errors, requests }));
})().catch((e) => { console.error(e); process.exit(1); });
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_opens_in_headless_chromium() {
    let browser = match Browser::find() {
        Ok(browser) => browser,
        Err(missing) => return eprintln!("skipped: {missing}"),
    };
    let server = refserver::spawn(reference(
        TlsMode::None,
        vec![Fault::Greeting(HOSTILE), Fault::QuitRefusedInTransaction],
    ))
    .await;
    let mut options = crate::common::options(server.addr, TlsMode::None);
    options.only = vec!["quit".into(), "cmd".into(), "order".into()];
    let report = smtp_conformance::server::run(&options).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    std::fs::write(
        &path,
        smtp_conformance::output::html(std::slice::from_ref(&report)),
    )
    .unwrap();
    let url = format!("file://{}", path.display());
    let out = browser
        .node()
        .args(["-e", OPEN_PAGE])
        .env("PAGE_URL", &url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let cases = format!("\"cases\":{}", report.results.len());
    for line in &lines[..2] {
        assert!(line.contains(&cases), "{line}");
        assert!(line.contains("\"scripts\":0"), "{line}");
        assert!(
            line.contains("\"title\":\"smtp-conform server suite: "),
            "{line}"
        );
    }
    assert!(
        lines[0].contains("rgb(255, 255, 255)"),
        "light: {}",
        lines[0]
    );
    assert!(
        !lines[1].contains("rgb(255, 255, 255)"),
        "dark: {}",
        lines[1]
    );
    assert_eq!(lines[2], "{\"errors\":[],\"requests\":[]}", "{stdout}");
}

/// `smtp-conform client --once --html --junit`, judging Python's smtplib:
/// every check is on the page, the session is shown once with its notes,
/// and the JUnit file has one testcase per check.
#[test]
fn client_reports_on_smtplib() {
    use std::io::{BufRead as _, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("client.html");
    let junit = dir.path().join("client.xml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtp-conform"))
        .args([
            "client",
            "--listen",
            "127.0.0.1:0",
            "--tls",
            "none",
            "--once",
        ])
        .args(["--reply-delay", "0", "--json", "--html"])
        .arg(&html)
        .arg("--junit")
        .arg(&junit)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("smtp-conform: listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let script = "import smtplib, sys\n\
                  s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10)\n\
                  s.sendmail('a@example.test', ['b@example.test'], \
                  'Subject: <i>hi</i>\\r\\n\\r\\n.dotted\\r\\nbye\\r\\n')\n\
                  s.quit()\n";
    let sent = Command::new("python3")
        .args(["-c", script, host, port])
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let json = rest
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("{rest}"));
    let cases = cases(json);
    assert!(!cases.is_empty(), "{json}");
    let page = std::fs::read_to_string(&html).unwrap();
    for (id, _) in &cases {
        assert!(page.contains(&format!("<code>{id}</code>")), "{id}");
    }
    assert_eq!(page.matches("<details id=\"case-").count(), cases.len());
    assert!(page.contains("<h2 id=\"session-0\">"), "the session, once");
    assert!(page.contains("# RFC 5321 §4.1.1.4"), "DATA explained");
    assert!(
        page.contains("&lt;i&gt;hi&lt;/i&gt;"),
        "the client's text escaped"
    );
    assert!(!page.contains("<i>hi"));
    let (testcases, failures, _) = junit_counts(&junit);
    assert_eq!(testcases, cases.len());
    let failed = cases.iter().filter(|(_, o)| o == "fail").count();
    assert_eq!(failures, failed);
    let conforms = page.contains("<span class=\"verdict-ok\">");
    assert_eq!(status.code(), Some(if conforms { 0 } else { 1 }));
}

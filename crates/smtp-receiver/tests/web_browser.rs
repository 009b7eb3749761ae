//! The web page in a real headless browser: `smtp-receive inbox` on
//! loopback, Debian's `chromium` driven by npm `playwright-core` (both
//! installed by `.ci/install-peers`), Python's smtplib delivering while the
//! page is open. The checks are in `tests/node/web_browser.test.cjs`: the
//! message appears without reload and opens (subject, envelope with the
//! Bcc recipient), its HTML is in a sandboxed frame, the conversation has
//! its arrows, the STARTTLS step with its RFC 3207 note, the TLS band and
//! the `<CRLF>.<CRLF>` mark; an attachment downloads byte for byte; search
//! narrows the list; delete removes; script in a message does not run; the
//! page logs no error and no CSP violation. Screenshots, light and dark,
//! go to `target/tmp/web-screenshots/` (or `$WEB_SCREENSHOTS`).
//!
//! Skipped, saying so, when chromium, node or playwright-core is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use smtp_testkit::browser::Browser;

const BIN: &str = env!("CARGO_BIN_EXE_smtp-receive");

/// `smtp-receive inbox`, killed when dropped.
struct Preset {
    child: Child,
    smtp: String,
    http: String,
    ca: PathBuf,
}

impl Drop for Preset {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_preset(maildir: &Path) -> Preset {
    let mut child = Command::new(BIN)
        .args(["inbox", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--maildir")
        .arg(maildir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut smtp, mut http, mut ca) = (None, None, None);
    while smtp.is_none() || http.is_none() || ca.is_none() {
        let line = lines.next().expect("the preset's start-up lines").unwrap();
        if let Some(path) = line.strip_prefix("CA certificate: ") {
            ca = Some(PathBuf::from(path));
        } else if let Some(rest) = line.strip_prefix("listening on ") {
            let addr = rest.split(' ').next().unwrap().to_string();
            if rest.ends_with("(http)") {
                http = Some(addr);
            } else {
                smtp = Some(addr);
            }
        }
    }
    Preset {
        child,
        smtp: smtp.unwrap(),
        http: http.unwrap(),
        ca: ca.unwrap(),
    }
}

#[test]
fn the_page_in_headless_chromium() {
    let browser = match Browser::find() {
        Ok(browser) => browser,
        Err(missing) => return eprintln!("skipped: {missing}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let preset = start_preset(dir.path());
    let shots = std::env::var_os("WEB_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots"));
    let (host, port) = preset.smtp.rsplit_once(':').unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/web_browser.test.cjs");
    let out = browser
        .node()
        .arg("--test")
        .arg(&script)
        .env("WEB_URL", format!("http://{}", preset.http))
        // smtplib checks the certificate's name: localhost, not 127.0.0.1.
        .env(
            "SMTP_HOST",
            if host == "127.0.0.1" {
                "localhost"
            } else {
                host
            },
        )
        .env("SMTP_PORT", port)
        .env("SMTP_CA", &preset.ca)
        .env("SCREENSHOTS", &shots)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("# fail 0"), "{report}");
    assert!(!report.contains("# pass 0"), "{report}");
    eprintln!("screenshots in {}", shots.display());
}

//! Python 3.11's `smtpd` as an independent Receiver-SMTP: every message it
//! receives is written to a directory (`NNN.eml` = the data smtpd hands to
//! `process_message`, `NNN.env` = MAIL FROM and the RCPT TO addresses).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const SCRIPT: &str = r#"
import asyncore, os, smtpd, sys
out = sys.argv[1]
class Sink(smtpd.SMTPServer):
    count = 0
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.count += 1
        base = os.path.join(out, '%03d' % Sink.count)
        with open(base + '.env.tmp', 'w') as f:
            f.write('\n'.join([mailfrom] + rcpttos))
        os.rename(base + '.env.tmp', base + '.env')
        with open(base + '.eml.tmp', 'wb') as f:
            f.write(data)
        os.rename(base + '.eml.tmp', base + '.eml')
server = Sink(('127.0.0.1', 0), None, decode_data=False)
print(server.socket.getsockname()[1], flush=True)
asyncore.loop()
"#;

/// A running smtpd; killed (this process only) when dropped.
pub struct PythonSmtpd {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl PythonSmtpd {
    /// Starts `python3 -W ignore -c SCRIPT DIR` and waits for its port.
    ///
    /// `None`, said on stderr, when `python3` or its `smtpd` module (gone
    /// since Python 3.12) is missing: the test is then skipped visibly.
    pub fn start() -> Option<PythonSmtpd> {
        let available = Command::new("python3")
            .args(["-W", "ignore", "-c", "import asyncore, smtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            eprintln!(
                "skipped: this test needs python3 with the smtpd module (Python 3.11 or older)"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .args(["-W", "ignore", "-c", SCRIPT])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is needed for this test");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let port = line.trim().parse().expect("smtpd printed its port");
        Some(PythonSmtpd { child, port, dir })
    }

    fn path(&self, n: usize, ext: &str) -> PathBuf {
        self.dir.path().join(format!("{n:03}.{ext}"))
    }

    /// Message number `n` (from 1) as smtpd saw it.
    pub fn message(&self, n: usize) -> Vec<u8> {
        std::fs::read(self.path(n, "eml")).unwrap_or_else(|e| panic!("message {n}: {e}"))
    }

    /// Its envelope: [MAIL FROM, RCPT TO...].
    pub fn envelope(&self, n: usize) -> Vec<String> {
        std::fs::read_to_string(self.path(n, "env"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// How many messages arrived.
    pub fn count(&self) -> usize {
        (1..).take_while(|&n| self.path(n, "eml").exists()).count()
    }

    /// The directory the messages land in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PythonSmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What smtpd hands to `process_message` for `sent` (with CRLF line ends):
/// the lines joined with LF, without the final line end.
pub fn as_smtpd_sees_it(sent: &[u8]) -> Vec<u8> {
    let canonical = smtp_sender_core::canonical_message(sent);
    let text = canonical.strip_suffix(b"\r\n").unwrap_or(&canonical);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(b"\r\n") {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

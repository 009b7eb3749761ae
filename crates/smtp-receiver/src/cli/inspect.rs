//! `smtp-receive list` and `smtp-receive show`: reading the Maildir with
//! smtp-mime's inspector.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Prints the listing of a Maildir.
pub fn list(maildir: &Path) -> anyhow::Result<()> {
    let messages = smtp_mime::list_maildir(maildir)
        .with_context(|| format!("cannot list {}", maildir.display()))?;
    print_out(&smtp_mime::render_listing(&messages))
}

/// Prints one message, or saves one of its attachments.
pub fn show(
    maildir: &Path,
    id: &str,
    save: Option<&str>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    // An id from "queued as ID" is the file name up to the first dot:
    // look for exactly that first, so `Q7` does not also match `Q70`.
    let path = match smtp_mime::find_message(maildir, &format!("{id}.")) {
        Ok(path) if !id.contains('.') => path,
        _ => smtp_mime::find_message(maildir, id)
            .with_context(|| format!("no message {id:?} in {}", maildir.display()))?,
    };
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let message = smtp_mime::inspect(&bytes);
    match (save, out) {
        (Some(name), Some(out)) => {
            let written = smtp_mime::save_attachment(&message, name, out)
                .with_context(|| format!("cannot save attachment {name:?}"))?;
            print_out(&format!(
                "saved {name} ({written} octets) to {}\n",
                out.display()
            ))
        }
        _ => print_out(&smtp_mime::render_message(&message)),
    }
}

fn print_out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")
}

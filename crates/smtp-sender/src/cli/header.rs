//! `--header "Name: value"` (repeatable): extra header fields for a
//! composed message, as swaks' `--header` and curl's `-H` add them.
//!
//! Each field goes through smtp-mime's `MessageBuilder::header`, which
//! refuses what would break the message: a CR or LF in the name or value
//! (header injection), a name that is not RFC 5322 §2.2 printable US-ASCII
//! without a colon, and the fields the builder writes itself (Date,
//! Message-ID, MIME-Version, Content-*); a value that is not plain ASCII
//! is encoded (RFC 2047). Fields that have an option of their own are
//! routed there: `Subject` is `--subject` (curl users set it with `-H`),
//! `Reply-To` adds a Reply-To address, and From, To, Cc and Bcc are
//! refused in favour of `--from`/`--to`/`--cc`/`--bcc`, which also make
//! the envelope.

use std::str::FromStr;

use anyhow::{Context, Result, bail};
use smtp_mime::{Address, MessageBuilder};

use super::args::MessageArgs;

/// The builder with every `--header` of `args` added; `--subject` and a
/// `Subject` header together are refused (which one should win?).
pub fn add_headers(mut builder: MessageBuilder, args: &MessageArgs) -> Result<MessageBuilder> {
    let mut subject_given = args.subject.is_some();
    for field in &args.header {
        // RFC 5322 §2.2: the name, a colon, the body; names compare
        // without regard to case (§1.2.2).
        let Some((name, value)) = field.split_once(':') else {
            bail!("--header {field:?}: expected \"Name: value\"");
        };
        builder = match name.to_ascii_lowercase().as_str() {
            "subject" if subject_given => {
                bail!(
                    "--header {field:?}: the subject is given twice (also --subject or another Subject header)"
                )
            }
            "subject" => {
                subject_given = true;
                builder.subject(value)
            }
            "reply-to" => {
                let address = Address::from_str(value)
                    .with_context(|| format!("--header {field:?}: one address per Reply-To"))?;
                builder.reply_to(address)
            }
            "from" | "to" | "cc" | "bcc" => bail!(
                "--header {field:?}: give it with --{}, which also makes the envelope",
                name.to_ascii_lowercase()
            ),
            _ => builder.header(name, value),
        };
    }
    Ok(builder)
}

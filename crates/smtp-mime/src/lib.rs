//! MIME for both halves of SMTP.
//!
//! * [`compose`]: build the messages users send (over `mail-builder`).
//! * [`inspect`](mod@inspect): read stored messages (over `mail-parser`), never panicking.
//! * [`envelope`]: derive an SMTP envelope from header fields, as Python's `smtplib.send_message` does.
//! * [`maildir`]: list a Maildir, find a message, save an attachment.
//! * [`render`]: a listing or one message as text for a terminal.
//!
//! The modules depend on each other in one direction only: `render` reads
//! `maildir` and `inspect`; `maildir` reads `inspect`.

mod address;
pub mod compose;
mod content_type;
pub mod decode;
pub mod envelope;
pub mod error;
pub mod inspect;
pub mod maildir;
pub mod parts;
pub mod render;

pub use compose::{Address, Attachment, ComposedMessage, MAX_LINE_OCTETS, MessageBuilder};
pub use content_type::content_type_for_path;
pub use envelope::{HeaderEnvelope, envelope_from_headers, needs_8bitmime};
pub use error::MimeError;
pub use inspect::{Inspected, Part, attachment_by_name, inspect, inspect_with_parts};
pub use maildir::{Summary, find_message, list_maildir, save_attachment};
pub use parts::{LeafPart, PartNode, part_tree, parts};
pub use render::{render_listing, render_message};

//! Ending the session: `QUIT`, RFC 5321 §4.1.1.10.
//!
//! ```text
//! C: QUIT
//! S: 221 2.0.0 Bye
//! ```

use smtp_wire::Reply;
use smtp_wire::command::Command;

use crate::error::ProtocolError;
use crate::step::{Exchange, Machine, Step, Wait};

/// Sends QUIT and reads the 221.
#[derive(Debug)]
pub struct Quit {
    exchange: Exchange<()>,
    reply: Option<Reply>,
}

impl Quit {
    /// A QUIT exchange.
    pub fn new() -> Quit {
        let mut exchange = Exchange::new();
        exchange.command(&Command::Quit, (), Wait::Command);
        Quit {
            exchange,
            reply: None,
        }
    }

    /// The server's reply (221 normally), once done.
    pub fn reply(&self) -> Option<&Reply> {
        self.reply.as_ref()
    }
}

impl Default for Quit {
    fn default() -> Self {
        Quit::new()
    }
}

impl Machine for Quit {
    fn next_step(&mut self) -> Step {
        self.exchange.next_step().unwrap_or(Step::Done)
    }

    fn on_reply(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        // Whatever the server says, the session is over: the connection is
        // closed next either way (RFC 5321 §4.1.1.10).
        self.exchange.reply_arrived();
        self.reply = Some(reply);
        Ok(())
    }
}

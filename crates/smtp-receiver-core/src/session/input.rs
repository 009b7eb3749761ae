//! Input dispatch: command lines, SASL lines, message octets and skipped
//! chunks, each read with the decoder its phase calls for.

use smtp_wire::command::Command;
use smtp_wire::{LineEvent, Reply};

use super::commands::{allowed_between_chunks, looks_like_bdat};
use super::{Abort, Event, Phase, Session};
use crate::ListenerKind;
use crate::message::Reached;
use crate::replies;

/// Above this many octets of queued replies the session asks the driver to
/// write them out before it reads more commands, so pipelined HELPs cannot
/// grow memory.
const OUTPUT_HIGH_WATER: usize = 16 * 1024;

impl Session {
    /// [`Phase::Commands`] and [`Phase::Auth`]: the next command or SASL line.
    pub(super) fn read_line(&mut self, input: &[u8]) -> (usize, Option<Event>) {
        if self.out.len() >= OUTPUT_HIGH_WATER {
            return (0, Some(Event::Flush));
        }
        let decoder = match self.phase {
            Phase::Auth(..) | Phase::AuthCustom(..) => &mut self.auth_lines,
            _ => &mut self.commands,
        };
        let (n, line) = decoder.decode(input);
        match line {
            LineEvent::NeedMore => return (n, Some(Event::NeedMore)),
            LineEvent::TooLong => {
                self.timer.unit_done();
                self.line_too_long();
            }
            LineEvent::Line { line, bare_lf } => {
                self.timer.unit_done();
                self.on_line(line, bare_lf);
            }
        }
        (n, None)
    }

    /// [`Phase::SkipChunk`]: reads and drops a refused chunk, then replies.
    pub(super) fn skip_chunk(
        &mut self,
        input: &[u8],
        scratch: &mut Vec<u8>,
    ) -> (usize, Option<Event>) {
        let Phase::SkipChunk { reader, .. } = &mut self.phase else {
            return (0, None);
        };
        let before = scratch.len();
        let n = reader.read(input, scratch);
        scratch.truncate(before);
        if !reader.is_done() {
            return (n, (n == 0).then_some(Event::NeedMore));
        }
        self.timer.unit_done();
        if let Phase::SkipChunk { reply, counted, .. } =
            std::mem::replace(&mut self.phase, Phase::Commands)
        {
            if counted {
                self.error(reply);
            } else {
                self.send(reply);
            }
        }
        (n, None)
    }

    /// [`Phase::Body`]: message octets, for the application in `body`.
    pub(super) fn read_body(&mut self, input: &[u8], body: &mut Vec<u8>) -> (usize, Option<Event>) {
        let Some(message) = self.message.as_mut() else {
            self.phase = Phase::Commands; // unreachable: Body always has a message
            return (0, None);
        };
        let limits = &self.config.limits;
        let before = body.len();
        let (n, reached) = message.read(input, body, limits);
        // RFC 1870 §6.2 asks to read an oversized message to its end before
        // the 552, but a client that goes on sending would hold the session
        // for ever: past twice the limit the session gives up. (BDAT never
        // gets here: a chunk that cannot fit is refused unread, see `bdat`.)
        if reached == Reached::More && message.size > limits.message_size.saturating_mul(2) {
            self.give_up_oversized("a message far beyond the size limit");
            return (n, None);
        }
        if let Some(refusal) = message.refusal_to_announce() {
            self.events.push_back(Event::BodyRefused(refusal));
        }
        match reached {
            Reached::More => {}
            Reached::ChunkEnd { size } => {
                self.timer.unit_done();
                self.chunk_end(size);
            }
            Reached::End => {
                self.timer.unit_done();
                self.body_complete();
            }
        }
        if body.len() > before {
            return (n, Some(Event::Body));
        }
        if n == 0 && reached == Reached::More {
            return (n, Some(Event::NeedMore));
        }
        (n, None)
    }

    fn on_line(&mut self, line: &[u8], bare_lf: bool) {
        if let Phase::AuthCustom(..) = self.phase {
            let Phase::AuthCustom(mechanism, mut exchange) =
                std::mem::replace(&mut self.phase, Phase::Commands)
            else {
                return;
            };
            // RFC 4954 §4: "*" cancels; every other line is base64.
            let step = if bare_lf {
                return self.error(replies::bare_lf_line("AUTH response"));
            } else if line == b"*" {
                return self.error(crate::auth::failure_reply(
                    smtp_wire::sasl::SaslError::Cancelled,
                ));
            } else {
                match smtp_wire::sasl::decode(line) {
                    Ok(bytes) => exchange.step(Some(&bytes)),
                    Err(error) => return self.error(crate::auth::failure_reply(error)),
                }
            };
            self.custom_auth_step(mechanism, exchange, step);
            return;
        }
        if let Phase::Auth(..) = self.phase {
            let Phase::Auth(mechanism, exchange) =
                std::mem::replace(&mut self.phase, Phase::Commands)
            else {
                return;
            };
            if bare_lf {
                self.error(replies::bare_lf_line("AUTH response"));
            } else {
                self.auth_step(mechanism, exchange.respond(line));
            }
            return;
        }
        if bare_lf {
            // RFC 5321 §2.3.8: lines end with CRLF; a command ended by a
            // bare LF is refused, never executed, at every content policy
            // (docs/receiver.md, "Policy").
            self.error(replies::bare_lf_line("Command"));
            return;
        }
        match Command::parse(line) {
            Ok(command) => self.on_command(command),
            Err(error) => {
                self.error(error.reply());
                if looks_like_bdat(line) {
                    // RFC 3030 gives no way to find the end of a chunk whose
                    // size we could not read; its octets would be taken for
                    // commands, so the session cannot go on.
                    self.close_with(
                        replies::cannot_resynchronize(
                            &self.config.hostname,
                            "an invalid BDAT command",
                        ),
                        Abort::Closed,
                    );
                }
            }
        }
    }

    fn line_too_long(&mut self) {
        if let Phase::Auth(..) | Phase::AuthCustom(..) = self.phase {
            self.phase = Phase::Commands;
            // RFC 4954 §6: 500 5.5.6 Authentication Exchange line is too long.
            self.error(Reply::enhanced(
                500,
                smtp_wire::EnhancedCode::new(5, 5, 6),
                "Authentication exchange line is too long",
            ));
        } else {
            // RFC 5321 §4.5.3.1.4 and §4.2.2 (500 "command line too long").
            self.error(replies::bad_line("Line too long"));
        }
    }

    fn on_command(&mut self, command: Command) {
        if !matches!(command, Command::Bdat { .. }) {
            // RFC 3030 §4: only chunks already in the pipeline belong to a
            // failed transfer; any other command starts afresh.
            self.failed_bdat = None;
        }
        if self.message.is_some() && !allowed_between_chunks(&command) {
            // RFC 3030 §3: a BDAT transfer is ended by BDAT ... LAST or RSET.
            let reply = if command == Command::Data {
                replies::bad_sequence("DATA cannot be mixed with BDAT (RFC 3030 section 3)")
            } else {
                replies::bad_sequence("BDAT transfer in progress: send BDAT ... LAST or RSET")
            };
            self.error(reply);
            return;
        }
        if is_junk(&command) && self.junk_limit_reached() {
            return;
        }
        // RFC 2033 §4.1: an LMTP session greets with LHLO, never EHLO or
        // HELO; an SMTP session does not know LHLO.
        let lmtp = self.info.listener == ListenerKind::Lmtp;
        match command {
            Command::Lhlo(domain) if lmtp => self.hello(domain, true),
            Command::Ehlo(_) | Command::Helo(_) if lmtp => {
                self.error(replies::lmtp_needs_lhlo());
            }
            Command::Lhlo(_) => self.error(replies::lhlo_in_smtp()),
            Command::Xclient(attributes) => self.xclient(&attributes),
            Command::Ehlo(domain) => self.hello(domain, true),
            Command::Helo(domain) => self.hello(domain, false),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => self.rset(),
            Command::Quit => {
                self.abort_message(Abort::Client);
                self.send(replies::closing(&self.config.hostname));
                self.phase = Phase::Closed;
            }
            Command::StartTls => self.starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                self.auth(&mechanism, initial_response.as_deref());
            }
            Command::Noop(_) => self.send(replies::noop()),
            Command::Help(_) => self.send(replies::help()),
            Command::Vrfy(_) => self.send(replies::vrfy()),
            Command::Expn(_) => self.send(replies::expn()),
            // RFC 5321 §4.5.1 / Appendix F: obsolete RFC 821 commands.
            Command::Turn | Command::Send(_) | Command::Soml(_) | Command::Saml(_) => {
                self.error(replies::not_implemented(command.verb()));
            }
        }
    }
}

/// Commands that carry no mail: counted against
/// [`Limits::junk_commands`](crate::config::Limits::junk_commands).
fn is_junk(command: &Command) -> bool {
    matches!(
        command,
        Command::Noop(_) | Command::Rset | Command::Vrfy(_) | Command::Help(_) | Command::Expn(_)
    )
}

impl Session {
    /// Counts a junk command; past the limit (lower under stress) the
    /// session ends with `421 4.7.0` and the command is not answered.
    fn junk_limit_reached(&mut self) -> bool {
        self.junk += 1;
        let limits = &self.config.limits;
        let limit = if self.timer.stressed() {
            limits.junk_commands_under_stress
        } else {
            limits.junk_commands
        };
        if self.junk <= limit {
            return false;
        }
        self.close_with(
            replies::too_many_junk_commands(&self.config.hostname),
            Abort::Closed,
        );
        true
    }
}

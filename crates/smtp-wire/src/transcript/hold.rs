//! What the transcript keeps aside while it cannot tell what the client's
//! bytes are: everything recorded after a `DATA` or `AUTH` line until the
//! server's reply to it, in the order it was recorded.
//!
//! When the reply comes the held bytes are read again, now knowing what
//! they are (a body after 354, a response after 334, commands otherwise).
//! If they have to be shown before that ([`Transcript::lines`], a TLS switch,
//! or too much to hold) they are shown as the *preview* reads them, which
//! hides whatever any reading could make a credential: they could be a body
//! and commands after its end, or commands with BDAT chunks ending anywhere
//! in a line, so lines are cut at LF only, an `AUTH` command may start
//! anywhere in a line, and from the first `AUTH` everything is `<redacted>`.

use std::collections::VecDeque;

use super::render::Ending;
use super::tracker::{ClientMode, Tracker};
use super::{Direction, Transcript};

/// One thing recorded while bytes were held.
#[derive(Debug, Clone)]
pub(super) enum Held {
    /// Client bytes, as sent; `secret` when sent during an AUTH exchange
    /// (they are shown as `<redacted>` whatever they turn out to be).
    Client { bytes: VecDeque<u8>, secret: bool },
    /// A complete server line that decided nothing (with its line end).
    Server { bytes: Vec<u8>, cut: u64 },
    /// A note from the application.
    Note(String),
}

impl Held {
    fn size(&self) -> usize {
        match self {
            Held::Client { bytes, .. } => bytes.len(),
            Held::Server { bytes, .. } => bytes.len(),
            Held::Note(text) => text.len(),
        }
    }
}

/// The held items and their total size (bounded by the transcript's limit).
#[derive(Debug, Clone, Default)]
pub(super) struct Hold {
    items: VecDeque<Held>,
    bytes: usize,
}

impl Hold {
    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn push_back(&mut self, item: Held) {
        self.bytes += item.size();
        if let (
            Some(Held::Client { bytes, secret }),
            Held::Client {
                bytes: more,
                secret: more_secret,
            },
        ) = (self.items.back_mut(), &item)
            && secret == more_secret
        {
            bytes.extend(more);
            return;
        }
        self.items.push_back(item);
    }

    fn push_front(&mut self, item: Held) {
        self.bytes += item.size();
        self.items.push_front(item);
    }

    fn pop_front(&mut self) -> Option<Held> {
        let item = self.items.pop_front()?;
        self.bytes -= item.size();
        Some(item)
    }
}

impl Transcript {
    /// The client's bytes must wait (or wait behind bytes already held).
    pub(super) fn holding(&self) -> bool {
        !self.held.is_empty() || self.tracker.mode() == ClientMode::Hold
    }

    /// Keep client bytes aside until the reply that says what they are.
    pub(super) fn hold_client(&mut self, bytes: &[u8], secret: bool) {
        // RFC 4954 §4: bytes sent while an AUTH exchange is open are meant
        // as responses; whatever the server makes of them, they stay hidden.
        let secret = secret || self.tracker.auth_open();
        self.hold(Held::Client {
            bytes: bytes.iter().copied().collect(),
            secret,
        });
    }

    /// Keep a server line or a note behind held client bytes (order).
    pub(super) fn hold(&mut self, item: Held) {
        let room = self
            .limits
            .max_total_bytes
            .saturating_sub(self.stored_bytes);
        if self.held.bytes.saturating_add(item.size()) <= room {
            self.held.push_back(item);
            return;
        }
        // Too much to hold: show what is held as the preview reads it, and
        // stop recording the client (it is no longer known what its bytes are).
        self.settle_held();
        let lost = match &item {
            Held::Client { bytes, .. } => bytes.len() as u64,
            _ => 0,
        };
        self.blind = Some(lost);
        self.note_now(
            "client not recorded from here: too much sent before the reply that says what it is",
        );
        match item {
            Held::Client { .. } => {}
            Held::Server { bytes, cut } => self.store_raw(Direction::Server, &bytes, cut),
            Held::Note(text) => self.note_now(&text),
        }
    }

    /// A reply decided: read the held bytes again, until they must wait again.
    pub(super) fn drain_held(&mut self) {
        while self.blind.is_none() && self.tracker.mode() != ClientMode::Hold {
            let Some(item) = self.held.pop_front() else {
                break;
            };
            match item {
                Held::Client { mut bytes, secret } => {
                    let (first, second) = bytes.as_slices();
                    let mut used = self.feed_client(first, secret);
                    if used == first.len() {
                        used += self.feed_client(second, secret);
                    }
                    if used < bytes.len() {
                        bytes.drain(..used);
                        let secret = secret || self.tracker.auth_open();
                        self.held.push_front(Held::Client { bytes, secret });
                    }
                }
                Held::Server { bytes, cut } => self.store_raw(Direction::Server, &bytes, cut),
                Held::Note(text) => self.note_now(&text),
            }
        }
    }

    /// The held bytes as they are shown before their reply: a scratch
    /// transcript that read them in preview mode (it never holds).
    pub(super) fn preview(&self) -> Transcript {
        let mut scratch = Transcript {
            limits: self.limits,
            events: Vec::new(),
            stored_bytes: self.stored_bytes,
            dropped_lines: 0,
            client_line: Default::default(),
            server_line: Default::default(),
            tracker: Tracker::preview_of(&self.tracker),
            body: None,
            held: Hold::default(),
            blind: None,
        };
        for item in &self.held.items {
            match item {
                Held::Client { bytes, secret } => {
                    let (first, second) = bytes.as_slices();
                    scratch.feed_client(first, *secret);
                    scratch.feed_client(second, *secret);
                }
                Held::Server { bytes, cut } => scratch.store_raw(Direction::Server, bytes, *cut),
                Held::Note(text) => scratch.note_now(text),
            }
        }
        scratch
    }

    /// Record the held bytes for good, as the preview shows them (before a
    /// TLS switch, or when there is too much to hold).
    pub(super) fn settle_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut scratch = self.preview();
        scratch.flush_partial();
        scratch.finish_body();
        self.held = Hold::default();
        self.stored_bytes = scratch.stored_bytes;
        self.dropped_lines += scratch.dropped_lines;
        for event in scratch.events {
            self.push_event(event);
        }
    }
}

/// The line end of a held server line, for [`Held::Server`].
pub(super) fn with_ending(content: &[u8], ending: Ending) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(content.len() + 2);
    bytes.extend_from_slice(content);
    bytes.extend_from_slice(ending.bytes());
    bytes
}

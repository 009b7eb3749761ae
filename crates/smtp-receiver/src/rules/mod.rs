//! Reply rules: fault injection for the application under test. A rule
//! says, for one stage of the conversation and an address pattern, what
//! to answer instead of going on: a reply, a delay, or closing the
//! connection, optionally with a probability.
//!
//! ```text
//! STAGE:PATTERN=[PERCENT% ]ACTION
//!
//! rcpt:*@bounce.test=550 5.1.1 no such user
//! mail:*@slow.test=delay 10s
//! data:*=451 4.3.0 try later
//! auth:*=535 5.7.8
//! connect:*=drop
//! rcpt:*@flaky.test=30% 451 4.3.0 try again
//! ```
//!
//! | stage | the pattern matches |
//! |---|---|
//! | `connect` | the client's IP address |
//! | `ehlo` | the EHLO/HELO name |
//! | `auth` | the user name |
//! | `mail` | the reverse-path's address (`""` for `<>`) |
//! | `rcpt` | the recipient's address |
//! | `data` | the sender or any recipient |
//!
//! Patterns are globs (`*` any run of characters, `?` one), compared
//! without regard to case. Actions: a reply `CODE [X.Y.Z] [text]` (4xx or
//! 5xx), `drop` (`421 4.3.2`, then the connection closes: RFC 5321 §3.8;
//! at `connect` it replaces the greeting), `delay DURATION` (`500ms`,
//! `10s`, `2m`; then the conversation goes on as if there were no rule).
//! The first rule of a stage that matches (and whose dice say so) applies.
//!
//! Rules are applied by a [`Handler`](crate::Handler) wrapper
//! ([`WithRules`]) so the session machine sees them as the application's
//! answers; the driver has no special case. Probabilities come from a
//! small seeded generator, so a test fixes the seed and gets the same
//! sequence every run.
//!
//! ```
//! use smtp_receiver::rules::{Rule, Rules};
//! let rules = Rules::new(7);
//! rules.add("rcpt:*@bounce.test=550 5.1.1 no such user".parse::<Rule>().unwrap());
//! assert_eq!(rules.list()[0].to_string(), "rcpt:*@bounce.test=550 5.1.1 no such user");
//! ```

mod chaos;
mod handler;
mod parse;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use smtp_wire::Reply;

pub use chaos::{ChaosTrigger, ChaosTriggers};
pub use handler::{RuledHandler, WithRules};
pub use parse::{RuleError, parse_duration};

/// Where in the conversation a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// A client connected (before the greeting).
    Connect,
    /// EHLO or HELO.
    Ehlo,
    /// AUTH, with the credentials decoded.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// The message (after DATA, or at the first BDAT chunk).
    Data,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer this instead.
    Reply(Reply),
    /// `421 4.3.2` and close the connection.
    Drop,
    /// Wait, then go on.
    Delay(Duration),
}

/// One rule (parse one with `str::parse`; [`Display`](std::fmt::Display)
/// writes it back in the same syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The stage.
    pub stage: Stage,
    /// The glob the stage's subject must match.
    pub pattern: String,
    /// Chance in percent (100: always).
    pub percent: u8,
    /// What to do.
    pub action: Action,
    /// Set by the chaos endpoint (its rules are replaced as a group).
    pub chaos: bool,
}

/// The rule set of a server: shared by every session, changeable while
/// it runs (the chaos endpoint, the API). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Arc<RwLock<Vec<Rule>>>,
    dice: Arc<Mutex<SplitMix64>>,
}

impl Rules {
    /// No rules yet; `seed` fixes the sequence of probability draws.
    pub fn new(seed: u64) -> Rules {
        Rules {
            rules: Arc::default(),
            dice: Arc::new(Mutex::new(SplitMix64(seed))),
        }
    }

    /// Adds a rule after the others.
    pub fn add(&self, rule: Rule) {
        if let Ok(mut rules) = self.rules.write() {
            rules.push(rule);
        }
    }

    /// Every rule, in order.
    pub fn list(&self) -> Vec<Rule> {
        self.rules.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Replaces every rule that did not come from the chaos endpoint.
    pub fn replace(&self, new: Vec<Rule>) {
        if let Ok(mut rules) = self.rules.write() {
            rules.retain(|r| r.chaos);
            rules.extend(new.into_iter().map(|r| Rule { chaos: false, ..r }));
        }
    }

    /// The action for `subject` at `stage`, if a rule applies (the dice
    /// are rolled for rules with a probability under 100).
    pub fn decide(&self, stage: Stage, subjects: &[&str]) -> Option<Action> {
        let rules = self.rules.read().ok()?;
        for rule in rules.iter().filter(|r| r.stage == stage) {
            if !subjects.iter().any(|s| glob(&rule.pattern, s)) {
                continue;
            }
            if rule.percent >= 100 || self.roll() < u64::from(rule.percent) {
                return Some(rule.action.clone());
            }
        }
        None
    }

    /// A uniform draw in 0..100.
    fn roll(&self) -> u64 {
        self.dice.lock().map(|mut d| d.next() % 100).unwrap_or(0)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator, plenty for
/// deciding whether to inject a fault; seeded, so tests repeat.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Glob match, `*` and `?`, ASCII case-insensitive.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (
        pattern.to_lowercase().chars().collect(),
        text.to_lowercase().chars().collect(),
    );
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*@bounce.test", "Bob@Bounce.test"));
        assert!(glob("*", ""));
        assert!(glob("a?c*", "abcdef"));
        assert!(!glob("*@bounce.test", "bob@bounce.test.org"));
    }

    #[test]
    fn a_seeded_probability_repeats() {
        let draws = |seed| {
            let rules = Rules::new(seed);
            rules.add("rcpt:*=50% 451 4.3.0 later".parse().unwrap());
            (0..64)
                .map(|_| rules.decide(Stage::Rcpt, &["a@b"]).is_some())
                .collect::<Vec<_>>()
        };
        let first = draws(42);
        assert_eq!(first, draws(42));
        let hits = first.iter().filter(|h| **h).count();
        assert!((16..48).contains(&hits), "{hits} of 64");
    }

    #[test]
    fn the_first_matching_rule_of_the_stage_wins() {
        let rules = Rules::new(1);
        rules.add("mail:*@a.test=550 no".parse().unwrap());
        rules.add("mail:*=451 later".parse().unwrap());
        let code = |s: &str| match rules.decide(Stage::Mail, &[s]) {
            Some(Action::Reply(r)) => r.code,
            _ => 0,
        };
        assert_eq!((code("x@a.test"), code("y@b.test")), (550, 451));
        assert_eq!(rules.decide(Stage::Rcpt, &["x@a.test"]), None);
    }
}

//! Mailpit's chaos triggers (`GET/PUT /api/v1/chaos`) as rules: Sender is
//! a `mail:*` rule, Recipient `rcpt:*`, Authentication `auth:*`, each with
//! its error code and probability.

use smtp_wire::Reply;

use super::{Action, Rule, Rules, Stage};

/// One trigger: the reply code and the chance in percent (0: off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChaosTrigger {
    /// 400..=599.
    pub error_code: u16,
    /// 0..=100.
    pub probability: u8,
}

/// The three triggers Mailpit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChaosTriggers {
    /// At MAIL FROM (default code 451).
    pub sender: ChaosTrigger,
    /// At each RCPT TO (default code 451).
    pub recipient: ChaosTrigger,
    /// At AUTH (default code 535).
    pub authentication: ChaosTrigger,
}

impl Default for ChaosTriggers {
    fn default() -> ChaosTriggers {
        let off = |error_code| ChaosTrigger {
            error_code,
            probability: 0,
        };
        ChaosTriggers {
            sender: off(451),
            recipient: off(451),
            authentication: off(535),
        }
    }
}

const KINDS: [(Stage, &str); 3] = [
    (Stage::Mail, "Chaos sender error"),
    (Stage::Rcpt, "Chaos recipient error"),
    (Stage::Auth, "Chaos authentication error"),
];

impl Rules {
    /// The chaos triggers now in force.
    pub fn chaos(&self) -> ChaosTriggers {
        let mut triggers = ChaosTriggers::default();
        for rule in self.list().into_iter().filter(|r| r.chaos) {
            let Action::Reply(reply) = &rule.action else {
                continue;
            };
            let trigger = ChaosTrigger {
                error_code: reply.code,
                probability: rule.percent,
            };
            match rule.stage {
                Stage::Mail => triggers.sender = trigger,
                Stage::Rcpt => triggers.recipient = trigger,
                Stage::Auth => triggers.authentication = trigger,
                _ => {}
            }
        }
        triggers
    }

    /// Replaces the chaos rules (a trigger with probability 0 is kept, so
    /// that its code shows, and never fires). Chaos rules come before the
    /// others, as Mailpit checks them first.
    pub fn set_chaos(&self, triggers: ChaosTriggers) {
        let new = [triggers.sender, triggers.recipient, triggers.authentication]
            .into_iter()
            .zip(KINDS)
            .map(|(t, (stage, text))| Rule {
                stage,
                pattern: "*".into(),
                percent: t.probability.min(100),
                action: Action::Reply(Reply::new(t.error_code, text)),
                chaos: true,
            });
        if let Ok(mut rules) = self.rules.write() {
            rules.retain(|r| !r.chaos);
            let rest = std::mem::take(&mut *rules);
            rules.extend(new);
            rules.extend(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_round_trip_and_zero_never_fires() {
        let rules = Rules::new(3);
        assert_eq!(rules.chaos(), ChaosTriggers::default());
        let t = ChaosTriggers {
            recipient: ChaosTrigger {
                error_code: 550,
                probability: 100,
            },
            ..ChaosTriggers::default()
        };
        rules.set_chaos(t);
        assert_eq!(rules.chaos(), t);
        assert_eq!(rules.decide(Stage::Mail, &["a@b"]), None);
        assert!(matches!(
            rules.decide(Stage::Rcpt, &["a@b"]),
            Some(Action::Reply(r)) if r.code == 550 && r.text() == "Chaos recipient error"
        ));
    }
}

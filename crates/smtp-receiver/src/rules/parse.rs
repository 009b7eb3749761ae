//! The rule syntax, both ways: `STAGE:PATTERN=[PERCENT% ]ACTION`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use smtp_wire::Reply;
use smtp_wire::reply::EnhancedCode;

use super::{Action, Rule, Stage};

/// Why a rule could not be read; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule:?}: {reason}")]
pub struct RuleError {
    rule: String,
    reason: &'static str,
}

impl Stage {
    /// `connect`, `ehlo`, `auth`, `mail`, `rcpt`, `data`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Ehlo => "ehlo",
            Stage::Auth => "auth",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
        }
    }

    fn from_name(name: &str) -> Option<Stage> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "connect" => Stage::Connect,
            "ehlo" | "helo" => Stage::Ehlo,
            "auth" => Stage::Auth,
            "mail" => Stage::Mail,
            "rcpt" => Stage::Rcpt,
            "data" => Stage::Data,
            _ => return None,
        })
    }
}

impl FromStr for Rule {
    type Err = RuleError;

    fn from_str(text: &str) -> Result<Rule, RuleError> {
        let error = |reason| RuleError {
            rule: text.to_string(),
            reason,
        };
        let (head, action) = text
            .split_once('=')
            .ok_or_else(|| error("expected STAGE:PATTERN=ACTION"))?;
        let (stage, pattern) = head
            .split_once(':')
            .ok_or_else(|| error("expected STAGE:PATTERN before '='"))?;
        let stage = Stage::from_name(stage)
            .ok_or_else(|| error("the stage is one of connect, ehlo, auth, mail, rcpt, data"))?;
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err(error("empty pattern (use * for any)"));
        }
        let mut action = action.trim();
        let mut percent = 100;
        if let Some((number, rest)) = action.split_once('%')
            && !number.trim().is_empty()
            && number.trim().bytes().all(|b| b.is_ascii_digit())
        {
            percent = number
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| error("a probability is 0% to 100%"))?;
            action = rest.trim();
        }
        Ok(Rule {
            stage,
            pattern: pattern.to_string(),
            percent,
            action: parse_action(action).map_err(error)?,
            chaos: false,
        })
    }
}

fn parse_action(text: &str) -> Result<Action, &'static str> {
    let lower = text.to_ascii_lowercase();
    if lower == "drop" {
        return Ok(Action::Drop);
    }
    if let Some(duration) = lower.strip_prefix("delay") {
        return parse_duration(duration.trim())
            .map(Action::Delay)
            .ok_or("delay takes a duration: 500ms, 10s, 2m");
    }
    let (code, rest) = text.split_once(' ').unwrap_or((text, ""));
    let code: u16 = code
        .parse()
        .ok()
        .filter(|c| (400..600).contains(c))
        .ok_or("the action is drop, delay DURATION, or a 4xx/5xx reply")?;
    let rest = rest.trim();
    let (enhanced, text) = match rest.split_once(' ').unwrap_or((rest, "")) {
        (first, more) if first.parse::<EnhancedCode>().is_ok() => {
            (first.parse::<EnhancedCode>().ok(), more.trim())
        }
        _ => (None, rest),
    };
    let text = if text.is_empty() {
        "Refused by rule"
    } else {
        text
    };
    Ok(Action::Reply(match enhanced {
        Some(e) => Reply::enhanced(code, e, text),
        None => Reply::new(code, text),
    }))
}

/// `500ms`, `10s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n: u64 = text[..split].parse().ok()?;
    Some(match text[split..].trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    })
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}=", self.stage.name(), self.pattern)?;
        if self.percent < 100 {
            write!(f, "{}% ", self.percent)?;
        }
        match &self.action {
            Action::Reply(reply) => write!(f, "{reply}"),
            Action::Drop => f.write_str("drop"),
            Action::Delay(d) if d.subsec_millis() != 0 || d.as_secs() == 0 => {
                write!(f, "delay {}ms", d.as_millis())
            }
            Action::Delay(d) => write!(f, "delay {}s", d.as_secs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_and_write_back() {
        for text in [
            "rcpt:*@bounce.test=550 5.1.1 no such user",
            "mail:*@slow.test=delay 10s",
            "data:*=451 4.3.0 try later",
            "auth:*=535 5.7.8 Refused by rule",
            "connect:*=drop",
            "rcpt:*@flaky.test=30% 451 4.3.0 try again",
            "ehlo:bad.example=delay 250ms",
        ] {
            let rule: Rule = text.parse().unwrap();
            assert_eq!(rule.to_string(), text);
        }
    }

    #[test]
    fn bad_rules_say_why() {
        for bad in [
            "rcpt=550",
            "nope:*=550",
            "rcpt:*=250 ok",
            "rcpt:*=101% 550",
            "mail:*=delay soon",
            "rcpt: =550",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad}");
        }
        let rule: Rule = "auth:*=535".parse().unwrap();
        assert_eq!(rule.to_string(), "auth:*=535 Refused by rule");
    }
}

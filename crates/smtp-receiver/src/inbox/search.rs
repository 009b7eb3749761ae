//! The common part of Mailpit's search syntax, turned into an SQL filter.
//!
//! Tokens are split on spaces outside double quotes (the quotes are then
//! removed), all tokens must match (AND), and a token starting with `-` or
//! `!` is negated. Supported: bare words and `"phrases"` (the search text:
//! addresses, subject, body, file names), `from:`, `to:`, `cc:`, `bcc:`,
//! `reply-to:`, `addressed:`, `subject:`, `message-id:`, `tag:`,
//! `is:read`, `is:unread`, `is:tagged`, `has:attachment(s)`,
//! `has:inline(s)`, `larger:`/`smaller:` (`10k`, `2mb`), and beyond
//! Mailpit, `envelope-from:`, `envelope-to:` and `session:`. Any other
//! `x:y` is a bare word, as in Mailpit.
//!
//! ```
//! use smtp_receiver::inbox::search::Filter;
//! let f = Filter::parse("from:alice subject:\"order 42\" -is:read");
//! assert_eq!(f.terms(), 3);
//! ```

use rusqlite::types::Value;

use super::entry::clean_search;

/// A parsed search: an SQL condition over the `messages` table and its
/// parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    conditions: Vec<String>,
    params: Vec<Value>,
}

impl Filter {
    /// Everything (no condition).
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Parses a search string (never fails: what is not an operator is a word).
    pub fn parse(query: &str) -> Filter {
        let mut filter = Filter::default();
        for token in tokens(query) {
            filter.add(&token);
        }
        filter
    }

    /// How many conditions the search has.
    pub fn terms(&self) -> usize {
        self.conditions.len()
    }

    /// `WHERE ...` (or nothing), for a query on `messages`.
    pub fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// The parameters, in the order of [`where_clause`](Self::where_clause).
    pub fn params(&self) -> &[Value] {
        &self.params
    }

    fn add(&mut self, token: &str) {
        let (negated, token) = match token.strip_prefix(['-', '!']) {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, token),
        };
        let Some(condition) = self.condition(token) else {
            return;
        };
        self.conditions.push(if negated {
            format!("NOT ({condition})")
        } else {
            condition
        });
    }

    /// The SQL for one (non-negated) token, pushing its parameters.
    fn condition(&mut self, token: &str) -> Option<String> {
        let lower = token.to_lowercase();
        let (op, value) = match lower.split_once(':') {
            Some((op, _)) => (op, &token[op.len() + 1..]),
            None => ("", token),
        };
        if VALUE_OPERATORS.contains(&op) && value.trim().is_empty() {
            return None; // an operator without a value does nothing (Mailpit)
        }
        let like = |column: &str| format!("{column} LIKE ? ESCAPE '\\'");
        let sql = match op {
            "from" => like("from_json"),
            "to" => like("to_json"),
            "cc" => like("cc_json"),
            "bcc" => like("bcc_json"),
            "reply-to" => like("reply_to_json"),
            "addressed" => format!(
                "({})",
                [
                    "from_json",
                    "to_json",
                    "cc_json",
                    "bcc_json",
                    "reply_to_json"
                ]
                .map(|c| {
                    self.params.push(contains(&clean_search(value)));
                    like(c)
                })
                .join(" OR ")
            ),
            "subject" => like("subject"),
            "message-id" => like("message_id"),
            "envelope-from" => like("mail_from"),
            "envelope-to" => like("rcpt_json"),
            "session" => {
                "id IN (SELECT message_id FROM delivered WHERE session_id = ?)".to_string()
            }
            "tag" => "EXISTS (SELECT 1 FROM json_each(messages.tags) \
                      WHERE lower(json_each.value) = lower(?))"
                .to_string(),
            "is" => {
                return match value.to_lowercase().as_str() {
                    "read" => Some("read = 1".into()),
                    "unread" => Some("read = 0".into()),
                    "tagged" => Some("tags != '[]'".into()),
                    _ => self.word(token),
                };
            }
            "has" => {
                return match value.to_lowercase().as_str() {
                    "attachment" | "attachments" => Some("attachments > 0".into()),
                    "inline" | "inlines" => Some("inline > 0".into()),
                    _ => self.word(token),
                };
            }
            "larger" | "smaller" => {
                return match parse_size(value) {
                    Some(size) => {
                        self.params.push(Value::Integer(size));
                        Some(
                            if op == "larger" {
                                "size > ?"
                            } else {
                                "size < ?"
                            }
                            .into(),
                        )
                    }
                    None => self.word(token),
                };
            }
            "" => return self.word(token),
            _ => return self.word(token),
        };
        if op == "addressed" {
            return Some(sql);
        }
        let param = match op {
            "tag" => Value::Text(value.trim().to_string()),
            "session" => Value::Text(value.trim().to_string()),
            "subject" | "message-id" => contains(value),
            _ => contains(&clean_search(value)),
        };
        self.params.push(param);
        Some(sql)
    }

    /// A bare word or phrase: the search text contains it.
    fn word(&mut self, token: &str) -> Option<String> {
        let cleaned = clean_search(token);
        if cleaned.is_empty() {
            return None;
        }
        self.params.push(contains(&cleaned));
        Some("id IN (SELECT id FROM message_text WHERE text LIKE ? ESCAPE '\\')".to_string())
    }
}

/// The operators that take a value matched against a column.
const VALUE_OPERATORS: [&str; 12] = [
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "addressed",
    "subject",
    "message-id",
    "envelope-from",
    "envelope-to",
    "session",
    "tag",
];

/// `%value%` with LIKE's wildcards escaped.
fn contains(value: &str) -> Value {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Value::Text(format!("%{escaped}%"))
}

/// `\d+(\.\d+)?\s?(k|kb|m|mb)?`, K = 1024.
fn parse_size(text: &str) -> Option<i64> {
    let t = text.trim().to_lowercase();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let number: f64 = t[..digits_end].parse().ok()?;
    let multiplier = match t[digits_end..].trim() {
        "" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * multiplier) as i64)
}

/// Splits on spaces outside double quotes; quotes are removed.
fn tokens(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_group_and_vanish() {
        assert_eq!(
            tokens(r#"subject:"order 42"  -"two words" x"#),
            ["subject:order 42", "-two words", "x"]
        );
    }

    #[test]
    fn operators_become_conditions() {
        let f = Filter::parse("from:Alice is:UNREAD has:attachment -tag:x larger:10k");
        assert_eq!(
            f.where_clause(),
            "WHERE from_json LIKE ? ESCAPE '\\' AND read = 0 AND attachments > 0 AND NOT \
             (EXISTS (SELECT 1 FROM json_each(messages.tags) WHERE lower(json_each.value) = \
             lower(?))) AND size > ?"
        );
        assert_eq!(
            f.params(),
            [
                Value::Text("%alice%".into()),
                Value::Text("x".into()),
                Value::Integer(10240)
            ]
        );
    }

    #[test]
    fn unknown_operators_and_bad_sizes_are_words() {
        let f = Filter::parse("foo:bar larger:huge 100%");
        assert_eq!(f.terms(), 3);
        assert_eq!(f.params()[2], Value::Text("%100\\%%".into()));
        assert_eq!(Filter::parse("subject: ").terms(), 0);
    }
}

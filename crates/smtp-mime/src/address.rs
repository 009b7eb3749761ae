//! Mailboxes with display names: parsing, validation and display.
//!
//! The grammar accepted is the useful subset of RFC 5322 §3.4 that people type on a
//! command line: `Name <local@domain>`, `"Quoted, Name" <local@domain>` or `local@domain`.

use std::fmt;
use std::str::FromStr;

use crate::MimeError;

/// A mailbox with an optional display name.
///
/// ```
/// use smtp_mime::Address;
/// let a: Address = "Zoë Dupont <zoe@example.org>".parse().unwrap();
/// assert_eq!(a.name.as_deref(), Some("Zoë Dupont"));
/// assert_eq!(a.email, "zoe@example.org");
/// assert_eq!(a.to_string(), "Zoë Dupont <zoe@example.org>");
/// let b: Address = "\"Doe, John\" <john@example.org>".parse().unwrap();
/// assert_eq!(b.to_string(), "\"Doe, John\" <john@example.org>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// The display name, if any (plain text; encoded on the wire when non-ASCII).
    pub name: Option<String>,
    /// The addr-spec, `local@domain`.
    pub email: String,
}

impl Address {
    /// A mailbox without display name. Not validated until used.
    pub fn new(email: impl Into<String>) -> Self {
        Address {
            name: None,
            email: email.into(),
        }
    }

    /// A mailbox with a display name. Not validated until used.
    pub fn with_name(name: impl Into<String>, email: impl Into<String>) -> Self {
        Address {
            name: Some(name.into()),
            email: email.into(),
        }
    }

    /// True when the address itself (not the display name) has non-ASCII characters,
    /// which RFC 6531 §3.4 allows only when the server offers SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        !self.email.is_ascii()
    }

    /// Checks the address and display name; used by the builder before writing header fields.
    pub fn validate(&self) -> Result<(), MimeError> {
        validate_email(&self.email)?;
        if let Some(name) = &self.name
            && name.chars().any(char::is_control)
        {
            // CR/LF in a display name would be an attempt at header injection; other controls
            // have no business in a name either.
            return Err(MimeError::InvalidAddress(self.to_string()));
        }
        Ok(())
    }
}

impl FromStr for Address {
    type Err = MimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let address = match (s.rfind('<'), s.strip_suffix('>')) {
            (Some(lt), Some(without_gt)) => {
                let email = without_gt.get(lt + 1..).unwrap_or_default().trim();
                let name = unquote(s.get(..lt).unwrap_or_default().trim());
                Address {
                    name: (!name.is_empty()).then_some(name),
                    email: email.to_string(),
                }
            }
            _ => Address::new(s),
        };
        address
            .validate()
            .map_err(|_| MimeError::InvalidAddress(s.to_string()))?;
        Ok(address)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) if needs_quoting(name) => {
                let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "\"{escaped}\" <{}>", self.email)
            }
            Some(name) => write!(f, "{name} <{}>", self.email),
            None => f.write_str(&self.email),
        }
    }
}

/// Removes the quotes of an RFC 5322 §3.2.4 quoted-string, undoing quoted-pairs.
fn unquote(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => name.to_string(),
    }
}

/// RFC 5322 §3.2.3: a phrase made of atoms needs no quotes; anything with specials does.
fn needs_quoting(name: &str) -> bool {
    name.chars().any(|c| "()<>[]:;@\\,.\"".contains(c)) || name.trim() != name
}

/// Checks an addr-spec: `local@domain`, no controls, no angle brackets, no unquoted spaces.
fn validate_email(email: &str) -> Result<(), MimeError> {
    let bad = || MimeError::InvalidAddress(email.to_string());
    // RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
    if email.is_empty() || email.len() > 254 {
        return Err(bad());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || domain.is_empty() {
        return Err(bad());
    }
    if email
        .chars()
        .any(|c| c.is_control() || c == '<' || c == '>')
    {
        return Err(bad());
    }
    // RFC 5321 §4.1.2: spaces and list separators only inside a quoted local part.
    let quoted_local = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let unquoted = if quoted_local { domain } else { email };
    if unquoted
        .chars()
        .any(|c| c.is_whitespace() || c == ',' || c == ';' || c == '"')
    {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let a: Address = "a@b.example".parse().unwrap();
        assert_eq!(a, Address::new("a@b.example"));
        let a: Address = "  Ann Lee   <ann@b.example> ".parse().unwrap();
        assert_eq!(a, Address::with_name("Ann Lee", "ann@b.example"));
        let a: Address = "<ann@b.example>".parse().unwrap();
        assert_eq!(a, Address::new("ann@b.example"));
        let a: Address = r#""Lee, \"Ann\"" <ann@b.example>"#.parse().unwrap();
        assert_eq!(a.name.as_deref(), Some(r#"Lee, "Ann""#));
        assert_eq!(a.to_string().parse::<Address>().unwrap(), a);
        let a: Address = "\"two words\"@b.example".parse().unwrap();
        assert_eq!(a.email, "\"two words\"@b.example");
    }

    #[test]
    fn rejects_broken_or_dangerous_addresses() {
        for bad in [
            "",
            "no-at-sign",
            "@b.example",
            "a@",
            "a b@c.example",
            "Ann <a@b.example>\r\nBcc: x@y.example",
            "a@b.example\r\nBcc: x@y.example",
            "Ann <a@b>>",
            "a,b@c.example",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad:?} accepted");
        }
        let injected = Address::with_name("Ann\r\nBcc: x@y.example", "a@b.example");
        assert!(injected.validate().is_err());
    }

    #[test]
    fn utf8_addresses_need_smtputf8() {
        assert!(Address::new("zoë@example.org").needs_smtputf8());
        assert!(!Address::with_name("Zoë", "zoe@example.org").needs_smtputf8());
    }
}

//! SMTP AUTH (RFC 4954) on the receiving side: the SASL exchange itself is
//! [`smtp_wire::sasl::ServerExchange`] (PLAIN, RFC 4616, and LOGIN); this
//! turns its steps into replies.
//!
//! ```text
//! C: AUTH PLAIN AGFsaWNlAHNlY3JldA==          initial response (RFC 4954 §4)
//! S: 235 2.7.0 Authentication successful
//!
//! C: AUTH LOGIN
//! S: 334 VXNlcm5hbWU6                          "Username:"
//! C: YWxpY2U=
//! S: 334 UGFzc3dvcmQ6                          "Password:"
//! C: c2VjcmV0
//! S: 235 2.7.0 Authentication successful
//! ```

use smtp_wire::Reply;
use smtp_wire::sasl::SaslError;

use crate::replies;

/// The reply to a failed exchange. RFC 4954 §4: a cancelled exchange
/// (`*`) gets 501; so does a response that is not base64 or not the
/// mechanism's message (`501 5.5.2`, the error's own words as the text).
pub(crate) fn failure_reply(error: SaslError) -> Reply {
    match error {
        SaslError::Cancelled => replies::auth_cancelled(),
        other => {
            let text = other.to_string();
            let mut chars = text.chars();
            let capitalised: String = chars
                .next()
                .map(|first| first.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect();
            replies::auth_bad_response(&capitalised)
        }
    }
}

#[cfg(test)]
mod tests {
    use smtp_wire::sasl::Mechanism;

    use super::*;

    #[test]
    fn replies_have_the_rfc4954_codes_and_readable_text() {
        let reply = failure_reply(SaslError::Cancelled);
        assert_eq!(reply.to_string(), "501 5.0.0 Authentication cancelled");
        let reply = failure_reply(SaslError::InvalidBase64);
        assert_eq!(
            reply.to_string(),
            "501 5.5.2 Invalid base64 in AUTH response"
        );
        let reply = failure_reply(SaslError::Malformed(Mechanism::Plain));
        assert_eq!(reply.to_string(), "501 5.5.2 Malformed PLAIN response");
    }
}

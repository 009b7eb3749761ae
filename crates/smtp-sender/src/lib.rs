//! Sender-SMTP.

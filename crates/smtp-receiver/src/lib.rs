//! Receiver-SMTP.

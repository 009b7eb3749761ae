//! MIME for both halves of SMTP.

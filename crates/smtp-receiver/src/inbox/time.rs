//! Times as the API writes them: RFC 3339 in UTC with milliseconds
//! (`2025-03-01T10:20:30.120Z`), which every Mailpit client reads.

pub use smtp_wire::date::rfc3339_millis as rfc3339;

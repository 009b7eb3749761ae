//! Dates as mail writes them, from a time the caller supplies (this crate
//! reads no clock): RFC 5322 §3.3 for header fields (`Received:`, `Date:`,
//! the dates of a delivery-status report) and RFC 3339 for APIs.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use smtp_wire::date::{rfc3339_millis, rfc5322};
//! assert_eq!(rfc5322(UNIX_EPOCH + Duration::from_secs(951_782_400)),
//!            "Tue, 29 Feb 2000 00:00:00 +0000");
//! assert_eq!(rfc3339_millis(1_751_371_200_120), "2025-07-01T12:00:00.120Z");
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

/// A date in RFC 5322 §3.3 form, in UTC: `Tue, 01 Jul 2025 12:00:00 +0000`.
/// Times before 1970 are written as the epoch.
pub fn rfc5322(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let secs = i64::try_from(secs).unwrap_or(i64::MAX / 2);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize], // 1970-01-01 was a Thursday
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Milliseconds since the Unix epoch as RFC 3339 in UTC with milliseconds
/// (`2025-03-01T10:20:30.120Z`), the form JSON APIs (Mailpit's among them)
/// write.
pub fn rfc3339_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic
/// Gregorian calendar (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn rfc5322_dates_match_known_instants() {
        assert_eq!(rfc5322(at(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
        // `date -u -d @951782400`: the leap day of 2000.
        assert_eq!(rfc5322(at(951_782_400)), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322(at(1_751_371_199)),
            "Tue, 01 Jul 2025 11:59:59 +0000"
        );
        assert_eq!(
            rfc5322(at(4_102_444_800)),
            "Fri, 01 Jan 2100 00:00:00 +0000"
        );
    }

    #[test]
    fn rfc3339_dates_match_known_instants() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_751_371_200_120),
            "2025-07-01T12:00:00.120Z"
        );
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
    }
}

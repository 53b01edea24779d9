//! Secrets and tokens: a wrapper that cannot be printed by accident, the
//! validation every secret passes before it reaches git, and expiry times.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A secret string (a token or the workspace bearer).
///
/// It has no `Display`, its `Debug` prints `REDACTED`, and [`Secret::expose`]
/// marks each place where the secret deliberately leaves the program: the
/// stdout writer, the HTTP header, a child's stdin or environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(REDACTED)")
    }
}

/// A token to hand out, with its expiry in unix seconds when one is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub secret: Secret,
    pub expires_at: Option<i64>,
}

/// Why a secret was refused. Never carries the secret itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    Empty,
    /// A byte outside printable ASCII without space (0x21..=0x7E): it could
    /// inject a line into git's protocol or a header into HTTP.
    BadByte,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Empty => f.write_str("it is empty"),
            Invalid::BadByte => f.write_str(
                "it contains a character that is not printable ASCII \
                 (a space, control character or non-ASCII byte)",
            ),
        }
    }
}

/// Accept only non-empty printable ASCII without spaces (bytes 0x21 to 0x7E).
pub fn validate(secret: &str) -> Result<(), Invalid> {
    if secret.is_empty() {
        return Err(Invalid::Empty);
    }
    if secret.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        Ok(())
    } else {
        Err(Invalid::BadByte)
    }
}

/// Parse an RFC 3339 timestamp into unix seconds; `None` if it is not one,
/// or if it is not one in UTC either (`9999-12-31T23:00:00-01:00` is in the
/// year 10000), so that [`format_rfc3339`] can always write the result.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
        .filter(|t| (0..=9999).contains(&t.year()))
        .map(|t| t.unix_timestamp())
}

/// Format unix seconds as RFC 3339 in UTC (`2026-11-23T12:34:56Z`).
pub fn format_rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// The current time in unix seconds.
pub fn now_unix() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2-value".into());
        assert_eq!(format!("{s:?}"), "Secret(REDACTED)");
        let t = Token {
            secret: s,
            expires_at: Some(1),
        };
        assert!(!format!("{t:?}").contains("hunter2"));
    }

    #[test]
    fn validation_accepts_printable_ascii_only() {
        assert_eq!(validate("ghs_abcDEF0123456789-._~!"), Ok(()));
        assert_eq!(validate(""), Err(Invalid::Empty));
        for bad in [
            "a b", "a\nb", "a\rb", "a\0b", "a\tb", "a\x7fb", "tökén", "a\x1bb",
        ] {
            assert_eq!(validate(bad), Err(Invalid::BadByte), "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-23T12:34:56Z"), Some(1_795_437_296));
        assert_eq!(
            parse_rfc3339("2026-11-23T13:34:56+01:00"),
            Some(1_795_437_296)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T12:34:56.789Z"),
            Some(1_795_437_296)
        );
        assert_eq!(format_rfc3339(1_795_437_296), "2026-11-23T12:34:56Z");
    }

    #[test]
    fn rfc3339_rejects_other_shapes() {
        for bad in [
            "",
            "tomorrow",
            "2026-11-23",
            "2026-11-23T12:34:56",
            "1795437296",
            "2026-13-01T00:00:00Z",
            "2026-11-23 12:34:56",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    /// Found by src/fuzz.rs: a time that is RFC 3339 where it was written but
    /// outside the years 0000 to 9999 in UTC, which format_rfc3339 cannot
    /// write (it fell back to the bare number).
    #[test]
    fn rfc3339_only_what_utc_can_write() {
        assert_eq!(parse_rfc3339("9999-12-31T23:00:00-01:00"), None);
        assert_eq!(parse_rfc3339("0000-01-01T00:30:00+01:00"), None);
        let last = parse_rfc3339("9999-12-31T23:59:59Z").unwrap();
        assert_eq!(format_rfc3339(last), "9999-12-31T23:59:59Z");
        let first = parse_rfc3339("0000-01-01T00:00:00Z").unwrap();
        assert_eq!(format_rfc3339(first), "0000-01-01T00:00:00Z");
    }
}

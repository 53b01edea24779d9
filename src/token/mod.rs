//! The token engine: a fresh token for the platform's hosts, from the
//! on-disk cache while it is fresh, else from the platform, one fetch for
//! all the processes that ask at once (`engine.rs`), for one [`Request`]
//! (`request.rs`: the key every caller passes); and `forget`, which drops a
//! token git rejected (`forget.rs`). Here: the token, where it came from, and
//! its expiry arithmetic.

pub mod absent;
pub mod answer;
pub mod cache;
mod engine;
pub mod entry;
mod failure;
mod forget;
pub mod lock;
pub mod memory;
pub mod platform;
pub mod platform_state;
pub mod request;
pub mod slot;
pub mod sweep;

pub use forget::forget;
pub use request::Request;

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::journal::{self, Event, Kind};
use crate::owner::Owner;
use crate::secret::{self, Secret};
use crate::settings::{SecretHost, Settings};

/// A token to hand out, with its expiry in unix seconds when one is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub secret: Secret,
    pub expires_at: Option<i64>,
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

/// A token, and where it came from (for `status` and debug lines).
pub struct Served {
    pub token: Token,
    pub from_cache: bool,
}

/// The token of a secret-backed host, from its file: never from the
/// platform, never cached. Errors name the path.
pub fn secret_host_token(settings: &Settings, secret: &SecretHost) -> Result<Secret> {
    secret::read_file(
        &settings.secret_path(secret),
        &format!("the secret file for {}", secret.host),
        secret::MAX_SECRET_FILE,
    )
}

/// A fresh token for the platform's hosts: from the cache while it is fresh,
/// else from the platform, one fetch for all the processes that ask at once.
pub fn platform_token(settings: &Settings) -> Result<Token> {
    token_for(settings, &Request::default())
}

/// [`platform_token`] for `request`.
pub fn token_for(settings: &Settings, request: &Request) -> Result<Token> {
    Ok(serve_request(settings, request)?.token)
}

/// [`token_for`] the request for `owner`'s installation (`None`: the
/// default); a shorthand for `Request::for_owner`.
pub fn platform_token_for(settings: &Settings, owner: Option<&Owner>) -> Result<Token> {
    token_for(settings, &Request::for_owner(owner))
}

/// A token for `request` from the engine ([`engine::serve`]), and whether
/// it came from the cache; journaled as a `serve`, or as a `fail` with the
/// error's one line.
pub fn serve_request(settings: &Settings, request: &Request) -> Result<Served> {
    let served = engine::serve(settings, request);
    let owner = request.owner().map(Owner::to_string);
    let event = match &served {
        Ok(served) => {
            let source = match served.from_cache {
                true => journal::Source::Cache,
                false => journal::Source::Platform,
            };
            Event::new(Kind::Serve)
                .token(&served.token.secret, served.token.expires_at)
                .source(source)
        }
        Err(error) => Event::new(Kind::Fail).error(format!("{error:#}")),
    };
    // A narrowed token is never served wider than asked: the scope asked
    // is what it carries (with GitHub's own metadata: read).
    let mut event = event.owner(owner.as_deref());
    event.permissions = request.scope.permissions().map(|list| {
        list.iter()
            .map(|(name, level)| (name.clone(), level.as_str().to_string()))
            .collect()
    });
    event.repositories = request.scope.repositories().map(<[String]>::to_vec);
    journal::record(event);
    served
}

/// The platform answered (`platform::fetch`): a `fetch` line, with how long
/// it took.
fn journal_fetch(answer: &answer::Answer, asked: Option<&Owner>, took: std::time::Duration) {
    let owner = answer.owner.as_ref().or(asked).map(Owner::to_string);
    let mut event = Event::new(Kind::Fetch)
        .token(&answer.token.secret, answer.token.expires_at)
        .source(journal::Source::Platform)
        .owner(owner.as_deref());
    event.duration_ms = Some(took.as_millis() as u64);
    // What the platform says the token carries.
    event.permissions = answer.permissions.clone();
    event.repositories = answer.repositories.clone();
    journal::record(event);
}

/// [`serve_request`] with no owner: the default entry.
pub fn serve(settings: &Settings) -> Result<Served> {
    serve_request(settings, &Request::default())
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

    /// Found by tests/fuzz.rs: a time that is RFC 3339 where it was written but
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

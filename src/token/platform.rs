//! The one HTTP call: `GET {PLATFORM_URL}/admin/github-installation-token`.
//!
//! One deadline covers the whole fetch, retries included. A platform that
//! cannot be reached at all (refused, no such host) is retried at most twice
//! within about a second, so git reaches its fallback helper quickly; 429,
//! 502, 503, 504, resets and timeouts are retried with backoff while the
//! deadline allows. Redirects are never followed (the bearer goes only to
//! `PLATFORM_URL`), no proxy is used for the same reason, and at most 64 KiB
//! of body is read. Error messages never contain the body: it may hold a
//! token.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use reqwest::header::{HeaderValue, RETRY_AFTER};
use serde::Deserialize;

use crate::diag::debug;
use crate::http::{self, authorized_get, root_cause};
use crate::secret::{self, Secret};
use crate::settings::Settings;
use crate::token::{Token, now_unix, parse_rfc3339};

/// At most this much of a response body is read.
pub const MAX_BODY: usize = 64 * 1024;

/// Delays before the two retries of an unreachable platform.
const UNREACHABLE_DELAYS: [Duration; 2] = [Duration::from_millis(150), Duration::from_millis(350)];
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Fetch a fresh token by `deadline` (the caller's: time spent waiting for
/// another process's fetch counts against it). Builds a current-thread
/// runtime and an HTTP client for this one call; nothing is started unless a
/// fetch is needed.
pub fn fetch(settings: &Settings, bearer: &Secret, deadline: Instant) -> Result<Token> {
    http::runtime()?.block_on(fetch_with_retries(
        &settings.token_url(),
        bearer,
        settings.timeout,
        deadline,
    ))
}

/// How an attempt failed, and whether trying again can help.
#[derive(Debug)]
struct AttemptError {
    message: String,
    kind: Kind,
}

#[derive(Debug, PartialEq)]
enum Kind {
    /// Trying again will not help (refused bearer, bad body, 404, …).
    Final,
    /// Nothing listens there, or the name does not resolve.
    Unreachable,
    /// Worth another try after a pause (the server's, when it named one).
    Transient(Option<Duration>),
}

fn fail(kind: Kind, message: String) -> AttemptError {
    AttemptError { message, kind }
}

async fn fetch_with_retries(
    url: &str,
    bearer: &Secret,
    timeout: Duration,
    deadline: Instant,
) -> Result<Token> {
    let client = http::client(
        url.starts_with("https:"),
        deadline.saturating_duration_since(Instant::now()),
    )?;
    let mut unreachable_retries = 0;
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1.. {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt_started = Instant::now();
        let outcome = tokio::time::timeout(remaining, attempt_once(&client, url, bearer)).await;
        let error = match outcome {
            Ok(Ok(token)) => {
                debug!(
                    "attempt {attempt}: token received in {} ms",
                    attempt_started.elapsed().as_millis()
                );
                return Ok(token);
            }
            Ok(Err(error)) => error,
            Err(_) => {
                return Err(anyhow!(
                    "the platform at {url} did not answer within the {} deadline \
                     (attempt {attempt})",
                    seconds(timeout)
                ));
            }
        };
        debug!(
            "attempt {attempt} failed after {} ms: {}",
            attempt_started.elapsed().as_millis(),
            error.message
        );
        let delay = match error.kind {
            Kind::Final => return Err(anyhow!(error.message)),
            Kind::Unreachable => match UNREACHABLE_DELAYS.get(unreachable_retries) {
                Some(&delay) => {
                    unreachable_retries += 1;
                    delay
                }
                None => return Err(anyhow!(error.message)),
            },
            Kind::Transient(hint) => {
                let delay = hint.unwrap_or(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                delay
            }
        };
        if Instant::now() + delay >= deadline {
            return Err(anyhow!(
                "{} (gave up after {attempt} attempts: a retry would pass the {} deadline)",
                error.message,
                seconds(timeout)
            ));
        }
        debug!("retrying in {} ms", delay.as_millis());
        tokio::time::sleep(delay).await;
    }
    unreachable!("the retry loop only ends by returning")
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

async fn attempt_once(
    client: &reqwest::Client,
    url: &str,
    bearer: &Secret,
) -> Result<Token, AttemptError> {
    let request = authorized_get(client, url, "Bearer", bearer).ok_or_else(|| {
        fail(
            Kind::Final,
            "the workspace bearer cannot be sent in an HTTP header".into(),
        )
    })?;
    let mut response = request.send().await.map_err(|e| transport_error(&e, url))?;
    let status = response.status().as_u16();
    debug!("GET {url}: HTTP {status}");
    match status {
        200 => {}
        401 | 403 => {
            return Err(fail(
                Kind::Final,
                format!("the platform refused the workspace bearer (HTTP {status}) at {url}"),
            ));
        }
        404 => {
            return Err(fail(
                Kind::Final,
                format!("the platform has no GitHub App configured (HTTP 404) at {url}"),
            ));
        }
        429 => {
            let hint = retry_after(response.headers().get(RETRY_AFTER));
            return Err(fail(
                Kind::Transient(hint),
                format!("the platform is rate limiting (HTTP 429) at {url}"),
            ));
        }
        502..=504 => {
            return Err(fail(
                Kind::Transient(None),
                format!("platform error (HTTP {status}) from {url}"),
            ));
        }
        300..=399 => {
            return Err(fail(
                Kind::Final,
                format!(
                    "the platform answered with a redirect (HTTP {status}) from {url}; \
                     redirects are not followed"
                ),
            ));
        }
        _ => {
            return Err(fail(
                Kind::Final,
                format!("platform error (HTTP {status}) from {url}"),
            ));
        }
    }

    let too_large = || {
        fail(
            Kind::Final,
            format!(
                "the platform's response from {url} is larger than {} KiB",
                MAX_BODY / 1024
            ),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(&e, url))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    decode(&body, now_unix()).map_err(|why| {
        fail(
            Kind::Final,
            format!("the platform's response from {url} was refused: {why}"),
        )
    })
}

/// `Retry-After` in seconds (the HTTP-date form is rare; it falls back to
/// our own backoff).
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    text.parse::<u64>().ok().map(Duration::from_secs)
}

fn transport_error(error: &reqwest::Error, url: &str) -> AttemptError {
    let reason = root_cause(error);
    if error.is_timeout() {
        fail(
            Kind::Transient(None),
            format!("the platform at {url} timed out: {reason}"),
        )
    } else if error.is_connect() {
        fail(
            Kind::Unreachable,
            format!("cannot connect to the platform at {url}: {reason}"),
        )
    } else {
        fail(
            Kind::Transient(None),
            format!("the connection to the platform at {url} failed: {reason}"),
        )
    }
}

#[derive(Deserialize)]
struct Wire {
    token: String,
    #[serde(default)]
    expires_at: Option<serde_json::Value>,
}

/// Decode and check the platform's JSON. The reason returned never quotes
/// the body: serde's own messages can, so they are not used.
pub fn decode(body: &[u8], now: i64) -> Result<Token, String> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            "it is not of the form {\"token\": \"…\", \"expires_at\": \"<RFC 3339>\"}".to_string()
        }
        _ => format!("it is not JSON (line {}, column {})", e.line(), e.column()),
    })?;
    secret::validate(&wire.token).map_err(|why| format!("the token is not usable: {why}"))?;
    let expires_at = match &wire.expires_at {
        None | Some(serde_json::Value::Null) => {
            debug!("the platform gave no expires_at; the token is served without an expiry");
            None
        }
        Some(serde_json::Value::String(text)) => match parse_rfc3339(text) {
            Some(t) => Some(t),
            None => {
                debug!("expires_at is not RFC 3339; the token is served without an expiry");
                None
            }
        },
        Some(_) => {
            debug!("expires_at is not a string; the token is served without an expiry");
            None
        }
    };
    if let Some(t) = expires_at
        && t <= now
    {
        return Err(format!(
            "the token expired already, at {}",
            crate::token::format_rfc3339(t)
        ));
    }
    Ok(Token {
        secret: Secret::new(wire.token),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_437_296; // 2026-11-23T12:34:56Z

    #[test]
    fn decodes_token_and_expiry() {
        let t = decode(
            br#"{"token":"ghs_x1","expires_at":"2026-11-23T13:34:56Z"}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(t.secret.expose(), "ghs_x1");
        assert_eq!(t.expires_at, Some(NOW + 3600));
    }

    #[test]
    fn expiry_missing_null_or_not_rfc3339_means_none() {
        for body in [
            r#"{"token":"t"}"#,
            r#"{"token":"t","expires_at":null}"#,
            r#"{"token":"t","expires_at":"in an hour"}"#,
            r#"{"token":"t","expires_at":1795440896}"#,
            r#"{"token":"t","extra":[1,2],"expires_at":"2026-11-23"}"#,
            // Found by tests/fuzz.rs: the year 10000 in UTC, which RFC 3339
            // cannot write (fetch-token --json printed a bare number).
            r#"{"token":"t","expires_at":"9999-12-31T23:00:00-01:00"}"#,
        ] {
            assert_eq!(
                decode(body.as_bytes(), NOW).unwrap().expires_at,
                None,
                "{body}"
            );
        }
    }

    #[test]
    fn refuses_expired_bad_or_missing_tokens_without_quoting_them() {
        let cases: [&[u8]; 9] = [
            br#"{"token":"secret-1","expires_at":"2026-11-23T12:34:56Z"}"#,
            b"{\"token\":\"secret-2\\nx\"}",
            b"{\"token\":\"secret-3\\u0000\"}",
            br#"{"token":"secret 4"}"#,
            br#"{"token":""}"#,
            br#"{"expires_at":"2026-11-23T13:34:56Z"}"#,
            br#"{"token":["secret-5"]}"#,
            b"<html>secret-6</html>",
            b"{\"token\":\"secret-7\xff\"}",
        ];
        for body in cases {
            let why = decode(body, NOW).unwrap_err();
            assert!(!why.contains("secret"), "{why}");
        }
    }

    #[test]
    fn retry_after_seconds() {
        let v = HeaderValue::from_static(" 2 ");
        assert_eq!(retry_after(Some(&v)), Some(Duration::from_secs(2)));
        let v = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(Some(&v)), None);
        assert_eq!(retry_after(None), None);
    }
}

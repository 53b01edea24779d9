//! The one HTTP call: `GET {PLATFORM_URL}/admin/github-installation-token`.
//!
//! With an owner, `?owner=OWNER` asks for that owner's installation's token
//! (`docs/platform-api.md`); the answer says whose token it is (`owner`) or
//! does not (the platform ignored the query: its token serves every owner).
//!
//! One deadline covers the whole fetch, retries included. A platform that
//! cannot be reached at all (refused, no such host) is retried at most twice
//! within about a second, so git reaches its fallback helper quickly; 429,
//! 502, 503, 504, resets and timeouts are retried with backoff while the
//! deadline allows. A server's `Retry-After` may lengthen a wait, never
//! shorten it below the backoff, and is clamped to an hour; a wait that would
//! pass the deadline means giving up at once, naming the last status. A
//! response that is not HTTP/1.1 (a head too large, HTTP/0.9) is not retried:
//! the same bytes would come back. Redirects are never followed (the bearer
//! goes only to `PLATFORM_URL`), no proxy is used for the same reason, and at
//! most 64 KiB of body is read. Error messages never contain the body: it
//! may hold a token. Each failure says whether the platform is unavailable
//! or answered badly ([`Failure`]), for the engine's failure memory.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, RETRY_AFTER};

use crate::diag::debug;
use crate::http::{self, authorized_get, root_cause};
use crate::owner::Owner;
use crate::scope::Scope;
use crate::secret::Secret;
use crate::settings::Settings;
use crate::token::answer::{Answer, decode_answer};
use crate::token::now_unix;

/// At most this much of a response body is read.
pub const MAX_BODY: usize = 64 * 1024;

/// Delays before the two retries of an unreachable platform.
const UNREACHABLE_DELAYS: [Duration; 2] = [Duration::from_millis(150), Duration::from_millis(350)];
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The longest wait a server's `Retry-After` can ask for; anything longer
/// is this (and is past every deadline, so the fetch gives up at once).
const MAX_SERVER_WAIT: Duration = Duration::from_secs(3600);

/// Why a fetch failed, and who else should hear about it (the token engine
/// remembers a failure in the cache directory so that processes queued
/// behind this fetch, or arriving just after it, fail at once).
#[derive(Debug)]
pub struct FetchError {
    pub failure: Failure,
    message: String,
}

/// What kind of failure a fetch ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The platform is not available: no connection, no such name, a
    /// timeout, a 5xx, a 429. Asking again in a moment will not help.
    Unavailable,
    /// The platform answered, badly: a refused bearer (401, 403), no App
    /// configured (404 with no owner asked for), an expired or malformed
    /// token, something that is not HTTP. The next command asks again.
    BadAnswer,
    /// The platform has no installation of the App for the owner asked for
    /// (404): remembered for that owner for a few minutes.
    NoInstallation,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FetchError {}

/// Fetch a fresh token of `owner`'s installation (`None`: the platform's
/// default) by `deadline` (the caller's: time spent waiting for another
/// process's fetch counts against it). Builds a current-thread runtime and
/// an HTTP client for this one call; nothing is started unless a fetch is
/// needed. An answer for another owner than the one asked for is refused.
pub fn fetch(
    settings: &Settings,
    bearer: &Secret,
    deadline: Instant,
    owner: Option<&Owner>,
) -> Result<Answer, FetchError> {
    fetch_scoped(settings, bearer, deadline, owner, &Scope::full())
}

/// [`fetch`], narrowed to `scope`: an answer that does not say what the
/// token carries, or says it carries more than `scope` asks, is refused
/// (fail closed: `Failure::BadAnswer`, nothing to cache).
pub fn fetch_scoped(
    settings: &Settings,
    bearer: &Secret,
    deadline: Instant,
    owner: Option<&Owner>,
    scope: &Scope,
) -> Result<Answer, FetchError> {
    let local = |e: anyhow::Error| FetchError {
        failure: Failure::BadAnswer,
        message: format!("{e:#}"),
    };
    let started = Instant::now();
    let mut query = Vec::new();
    if let Some(owner) = owner {
        // A login needs no percent-encoding (letters, digits, hyphens).
        query.push(format!("owner={owner}"));
    }
    if !scope.is_full() {
        // Neither do a scope's names (`scope.rs`).
        query.push(scope.query());
    }
    let mut url = settings.token_url();
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let answer = http::runtime()
        .map_err(local)?
        .block_on(fetch_with_retries(
            &url,
            owner,
            bearer,
            settings.timeout,
            deadline,
        ))?;
    match (owner, &answer.owner) {
        (Some(asked), Some(minted)) if asked != minted => Err(FetchError {
            failure: Failure::BadAnswer,
            message: format!(
                "the platform at {url} answered with a token for {minted}, not for {asked}; \
                 not using it"
            ),
        }),
        _ => match scope.admits(answer.permissions.as_ref(), answer.repositories.as_deref()) {
            Ok(()) => {
                crate::token::journal_fetch(&answer, owner, started.elapsed());
                Ok(answer)
            }
            Err(why) => Err(FetchError {
                failure: Failure::BadAnswer,
                message: format!(
                    "the platform at {} did not narrow the token as asked ({scope}): {why}; \
                     not using it",
                    crate::secret::redact_url_userinfo(&settings.token_url())
                ),
            }),
        },
    }
}

/// How an attempt failed, and whether trying again can help.
#[derive(Debug)]
struct AttemptError {
    message: String,
    retry: Retry,
    failure: Failure,
}

#[derive(Debug, PartialEq)]
enum Retry {
    /// Trying again will not help (refused bearer, bad body, 404, 500, …).
    Final,
    /// Nothing listens there, or the name does not resolve.
    Unreachable,
    /// Worth another try after a pause: our backoff, or longer when the
    /// server asked for longer.
    Transient(Option<Duration>),
}

fn fail(retry: Retry, message: String) -> AttemptError {
    let failure = match retry {
        Retry::Final => Failure::BadAnswer,
        Retry::Unreachable | Retry::Transient(_) => Failure::Unavailable,
    };
    AttemptError {
        message,
        retry,
        failure,
    }
}

impl AttemptError {
    /// A 404 for an owner: that owner has no installation.
    fn no_installation(mut self, for_an_owner: bool) -> AttemptError {
        if for_an_owner {
            self.failure = Failure::NoInstallation;
        }
        self
    }

    fn unavailable(mut self) -> AttemptError {
        self.failure = Failure::Unavailable;
        self
    }

    fn end(self, why: Option<String>) -> FetchError {
        FetchError {
            failure: self.failure,
            message: match why {
                Some(why) => format!("{} ({why})", self.message),
                None => self.message,
            },
        }
    }
}

async fn fetch_with_retries(
    url: &str,
    owner: Option<&Owner>,
    bearer: &Secret,
    timeout: Duration,
    deadline: Instant,
) -> Result<Answer, FetchError> {
    let client = http::client(
        url.starts_with("https:"),
        deadline.saturating_duration_since(Instant::now()),
    )
    .map_err(|e| FetchError {
        failure: Failure::BadAnswer,
        message: format!("{e:#}"),
    })?;
    let mut unreachable_retries = 0;
    let mut backoff = FIRST_BACKOFF;
    let mut last: Option<AttemptError> = None;
    for attempt in 1.. {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt_started = Instant::now();
        let outcome =
            tokio::time::timeout(remaining, attempt_once(&client, url, owner, bearer)).await;
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
                let waited = format!(
                    "the platform at {url} did not answer within the {} deadline \
                     (attempt {attempt})",
                    seconds(timeout)
                );
                // Name what the platform said last, if it said anything.
                return Err(match last {
                    Some(last) => last.end(Some(format!(
                        "then {}",
                        waited.replacen("the platform at ", "", 1)
                    ))),
                    None => FetchError {
                        failure: Failure::Unavailable,
                        message: waited,
                    },
                });
            }
        };
        debug!(
            "attempt {attempt} failed after {} ms: {}",
            attempt_started.elapsed().as_millis(),
            error.message
        );
        let delay = match error.retry {
            Retry::Final => return Err(error.end(None)),
            Retry::Unreachable => match UNREACHABLE_DELAYS.get(unreachable_retries) {
                Some(&delay) => {
                    unreachable_retries += 1;
                    delay
                }
                None => return Err(error.end(None)),
            },
            // A server's hint may lengthen the wait, never shorten it:
            // `Retry-After: 0` must not turn the backoff off.
            Retry::Transient(hint) => {
                let delay = hint.map_or(backoff, |h| h.min(MAX_SERVER_WAIT).max(backoff));
                backoff = (backoff * 2).min(MAX_BACKOFF);
                delay
            }
        };
        // Compared as durations: an instant plus a server's number can
        // overflow.
        if delay >= deadline.saturating_duration_since(Instant::now()) {
            let why = format!(
                "gave up after {attempt} attempt{}: waiting {} more would pass the {} deadline",
                if attempt == 1 { "" } else { "s" },
                seconds(delay),
                seconds(timeout)
            );
            return Err(error.end(Some(why)));
        }
        debug!("retrying in {} ms", delay.as_millis());
        tokio::time::sleep(delay).await;
        last = Some(error);
    }
    unreachable!("the retry loop only ends by returning")
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

async fn attempt_once(
    client: &reqwest::Client,
    url: &str,
    owner: Option<&Owner>,
    bearer: &Secret,
) -> Result<Answer, AttemptError> {
    let request = authorized_get(client, url, "Bearer", bearer).ok_or_else(|| {
        fail(
            Retry::Final,
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
                Retry::Final,
                format!("the platform refused the workspace bearer (HTTP {status}) at {url}"),
            ));
        }
        404 => {
            return Err(fail(
                Retry::Final,
                match owner {
                    Some(owner) => format!(
                        "the platform has no GitHub App installation for {owner} (HTTP 404) \
                         at {url}"
                    ),
                    None => {
                        format!("the platform has no GitHub App configured (HTTP 404) at {url}")
                    }
                },
            )
            .no_installation(owner.is_some()));
        }
        429 => {
            let hint = retry_after(response.headers().get(RETRY_AFTER));
            return Err(fail(
                Retry::Transient(hint),
                format!("the platform is rate limiting (HTTP 429) at {url}"),
            ));
        }
        502..=504 => {
            return Err(fail(
                Retry::Transient(None),
                format!("platform error (HTTP {status}) from {url}"),
            ));
        }
        300..=399 => {
            return Err(fail(
                Retry::Final,
                format!(
                    "the platform answered with a redirect (HTTP {status}) from {url}; \
                     redirects are not followed"
                ),
            ));
        }
        // Not retried, but the platform is failing: shared with every
        // process for a few seconds.
        500..=599 => {
            return Err(fail(
                Retry::Final,
                format!("platform error (HTTP {status}) from {url}"),
            )
            .unavailable());
        }
        _ => {
            return Err(fail(
                Retry::Final,
                format!("platform error (HTTP {status}) from {url}"),
            ));
        }
    }

    let too_large = || {
        fail(
            Retry::Final,
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
    decode_answer(&body, now_unix()).map_err(|why| {
        fail(
            Retry::Final,
            format!("the platform's response from {url} was refused: {why}"),
        )
    })
}

/// `Retry-After` in seconds, at most [`MAX_SERVER_WAIT`] whatever the
/// server wrote (the HTTP-date form is rare; it falls back to our own
/// backoff).
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits too many for a u64 are a very long wait, not no wait.
    let secs = text.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs.min(MAX_SERVER_WAIT.as_secs())))
}

fn transport_error(error: &reqwest::Error, url: &str) -> AttemptError {
    let reason = root_cause(error);
    if is_protocol_error(error) {
        // The same bytes will come back: asking again cannot help.
        fail(
            Retry::Final,
            format!("the platform at {url} did not answer in HTTP/1.1: {reason}"),
        )
    } else if is_tls_error(error) {
        // A certificate refused now is refused again: not retried, and not
        // remembered for others (fixing the trust takes effect at once).
        fail(
            Retry::Final,
            format!(
                "cannot connect to the platform at {url}: {reason} (to trust a private CA, \
                 see SSL_CERT_FILE in the README)"
            ),
        )
    } else if error.is_timeout() {
        fail(
            Retry::Transient(None),
            format!("the platform at {url} timed out: {reason}"),
        )
    } else if error.is_connect() {
        fail(
            Retry::Unreachable,
            format!("cannot connect to the platform at {url}: {reason}"),
        )
    } else {
        fail(
            Retry::Transient(None),
            format!("the connection to the platform at {url} failed: {reason}"),
        )
    }
}

/// A response hyper could not parse (a head too large, HTTP/0.9, a bad
/// status line or header): deterministic, so never retried.
fn is_protocol_error(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            return hyper.is_parse() || hyper.is_parse_status();
        }
        cause = e.source();
    }
    false
}

/// A TLS failure (rustls refused the certificate, say), wherever it sits
/// in the chain of causes (inside an io::Error too).
fn is_tls_error(error: &reqwest::Error) -> bool {
    fn has_tls(e: &(dyn std::error::Error + 'static)) -> bool {
        if e.is::<rustls::Error>() {
            return true;
        }
        // An io::Error's source() skips the error it wraps: look at it.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if has_tls(inner) {
                return true;
            }
        }
        e.source().is_some_and(has_tls)
    }
    has_tls(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds() {
        let v = HeaderValue::from_static(" 2 ");
        assert_eq!(retry_after(Some(&v)), Some(Duration::from_secs(2)));
        let v = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(Some(&v)), None);
        // A server's number is clamped, never an overflow.
        for huge in ["18446744073709551615", "99999999999999999999999", "3601"] {
            let v = HeaderValue::from_str(huge).unwrap();
            assert_eq!(retry_after(Some(&v)), Some(MAX_SERVER_WAIT), "{huge}");
        }
        for odd in ["-1", "+5", "1.5", ""] {
            let v = HeaderValue::from_str(odd).unwrap();
            assert_eq!(retry_after(Some(&v)), None, "{odd}");
        }
        assert_eq!(retry_after(None), None);
    }
}

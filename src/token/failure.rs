//! A failed fetch, beyond its entry: what it says of the platform (an
//! outage, for every request) or of the owner (no installation), recorded
//! ([`record`]); and a failure remembered from another process's fetch,
//! as this process's own error ([`remembered`]).

use std::path::Path;

use anyhow::anyhow;

use crate::diag::debug;
use crate::owner::Owner;
use crate::token::absent;
use crate::token::cache::{self, Unusable};
use crate::token::entry::Key;
use crate::token::platform::{Failure, FetchError};
use crate::token::platform_state::{Outage, PlatformState, Store};

/// Record what `error` (met at `at_ms`, asking for `owner`) says beyond its
/// entry: an unavailable platform in the platform's state, for every
/// request (longer for another outage in a row); a 404 for the owner. The
/// outage, if it was one.
pub fn record(
    platform: &Store,
    dir: &Path,
    key: &Key,
    owner: Option<&Owner>,
    error: &FetchError,
    at_ms: i64,
) -> Option<Outage> {
    match error.failure {
        Failure::Unavailable => {
            let state = platform.read();
            let outage = Outage::next(state.outage.as_ref(), at_ms, &error.to_string());
            debug!(
                "cache: remembering the outage for {} s, for every request",
                outage.memory().as_secs()
            );
            platform.write(&PlatformState {
                outage: Some(outage.clone()),
                ..state
            });
            Some(outage)
        }
        Failure::NoInstallation => {
            if let Some(owner) = owner {
                debug!(
                    "cache: remembering for {} s that {owner} has no installation",
                    absent::ABSENT_MEMORY.as_secs()
                );
                if let Err(Unusable(why)) =
                    absent::write(dir, key, owner, at_ms, &error.to_string())
                {
                    debug!("cache: {why}");
                }
            }
            None
        }
        Failure::BadAnswer => None,
    }
}

/// The error of a fetch another process made (at `at_ms`), as this
/// process's own.
pub fn remembered(message: &str, at_ms: i64) -> anyhow::Error {
    let age = cache::now_ms()
        .checked_sub(at_ms)
        .map_or(0.0, |ms| ms as f64 / 1000.0)
        .max(0.0);
    debug!("cache: answering with the failure another process met {age:.1} s ago");
    // The file is ours (checked), but its text goes to a terminal: no
    // control characters.
    let message: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    anyhow!("{message} (another helper process's fetch, {age:.1} s ago)")
}

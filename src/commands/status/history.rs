//! What happened, from the `token.history` of the default entry and the
//! `token@OWNER.history` of every owner: the last platform failure (when,
//! what, how many since the last success), the last time git rejected a
//! cached token, and the owners the platform has no installation for (a
//! 404: "orgx: no installation of the App (HTTP 404)"). A warning while
//! failures are the last word (no success since). Past a handful of
//! owners the line says how many more there are.

use super::checks::ago;
use super::owners::{SHOWN, owner_caches};
use super::render::{Check, Mark, check};
use crate::settings::Settings;
use crate::token::cache::{self, Cache};
use crate::token::memory::{self, History};

/// The history check.
pub fn history(settings: &Settings, checks: &mut Vec<Check>) {
    let Some(dir) = &settings.cache_dir else {
        return;
    };
    let now_ms = cache::now_ms();
    let mut parts = Vec::new();
    let mut failing = false;
    let default = memory::read_history(&Cache::new(dir));
    failing |= default.failures_since_success > 0;
    parts.extend(describe(&default, now_ms));
    // Every owner's, the owners with failures since their last success
    // first (a 404 is one), then the rest, SHOWN of them at most.
    let mut owners: Vec<(String, History)> = owner_caches(dir)
        .into_iter()
        .filter_map(|cache| {
            let history = memory::read_history(&cache);
            (history != History::default())
                .then(|| (cache.owner().unwrap_or_default().to_string(), history))
        })
        .collect();
    owners.sort_by_key(|(_, h)| h.failures_since_success == 0);
    failing |= owners.iter().any(|(_, h)| h.failures_since_success > 0);
    let more = owners.len().saturating_sub(SHOWN);
    for (owner, history) in owners.iter().take(SHOWN) {
        let said = describe(history, now_ms).join("; ");
        parts.push(format!("{owner}: {said}"));
    }
    if more > 0 {
        parts.push(format!(
            "and {more} more owner{}",
            if more == 1 { "" } else { "s" }
        ));
    }
    if parts.is_empty() {
        checks.push(check(
            "history",
            Mark::Ok,
            "no platform failure and no rejected token recorded",
        ));
        return;
    }
    let mark = if failing { Mark::Warn } else { Mark::Ok };
    checks.push(check("history", mark, parts.join("; ")));
}

/// One entry's history in phrases (none when nothing happened).
fn describe(history: &History, now_ms: i64) -> Vec<String> {
    // A time from the future (the clock went back) is shown as such.
    let when = |at_ms: i64| match now_ms - at_ms {
        age if age < 0 => format!("at {} (in the future)", format_ms(at_ms)),
        age => format!("{} ago", ago(age / 1000)),
    };
    let mut parts = Vec::new();
    if let Some((at_ms, message)) = &history.last_failure {
        let count = history.failures_since_success;
        let times = if count == 1 { "" } else { "s" };
        if count > 0 && message.contains("(HTTP 404)") {
            // The platform has no installation for this owner: git falls
            // through to the next helper for its repositories.
            parts.push(format!(
                "no installation of the App (HTTP 404), {count} failure{times} since the last \
                 success, the last {}",
                when(*at_ms)
            ));
        } else {
            parts.push(format!(
                "last platform failure {}: {message}; {count} failure{times} since the last \
                 success",
                when(*at_ms)
            ));
        }
        if let Some(at_ms) = history.recovered_at {
            parts.push(format!("recovered {}", when(at_ms)));
        }
    }
    if let Some(at_ms) = history.last_rejected {
        parts.push(format!("git last rejected a token {}", when(at_ms)));
    }
    parts
}

/// Unix milliseconds as RFC 3339.
fn format_ms(at_ms: i64) -> String {
    crate::token::format_rfc3339(at_ms.div_euclid(1000))
}

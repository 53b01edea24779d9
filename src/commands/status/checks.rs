//! The checks of the workspace itself: the bearer, the token as git would
//! get it, a live request to the platform, the token cache (what happened
//! is in `history.rs`).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use super::render::{Check, Mark, check};
use crate::secret::{self, Secret};
use crate::settings::Settings;
use crate::token::cache::{self, Cache};
use crate::token::memory;
use crate::token::{self, Token, now_unix, platform};

/// Permission bits a secret file should not have.
const GROUP_OR_OTHER: u32 = 0o077;

/// The bearer's file: there, usable, and private.
pub fn bearer(settings: &Settings, checks: &mut Vec<Check>) -> Option<Secret> {
    let path = settings.bearer_path();
    let (result, secret) = secret_file("bearer", "", &path, secret::read_bearer(&path));
    checks.push(result);
    secret
}

/// A secret's file (the bearer, or a secret host's): there, usable, and
/// not readable by other users. `label` goes before the path.
pub fn secret_file(
    name: &'static str,
    label: &str,
    path: &Path,
    read: anyhow::Result<Secret>,
) -> (Check, Option<Secret>) {
    match read {
        Ok(secret) => {
            let meta = std::fs::metadata(path).ok();
            let mode = meta.as_ref().map_or(0, |m| m.mode() & 0o777);
            let detail = format!(
                "{label}{} (mode {mode:04o}, {} bytes)",
                path.display(),
                meta.map_or(0, |m| m.len())
            );
            let result = if mode & GROUP_OR_OTHER != 0 {
                check(
                    name,
                    Mark::Warn,
                    format!("{detail}: readable by other users; chmod 600 it"),
                )
            } else {
                check(name, Mark::Ok, detail)
            };
            (result, Some(secret))
        }
        Err(e) => (check(name, Mark::Fail, format!("{e:#}")), None),
    }
}

/// The token as git would get it: from the cache when it is fresh.
pub fn token(settings: &Settings, have_bearer: bool, checks: &mut Vec<Check>) -> Option<Token> {
    if !have_bearer {
        checks.push(check("token", Mark::Skip, "no bearer to ask with"));
        return None;
    }
    match token::serve(settings) {
        Ok(served) => {
            let source = if served.from_cache {
                "from the cache"
            } else {
                "just fetched from the platform"
            };
            let message = match served.token.expires_at {
                Some(at) => format!("{} min left, {source}", (at - now_unix()).max(0) / 60),
                None => format!("no expiry given, {source} (not cached)"),
            };
            checks.push(check("token", Mark::Ok, message));
            Some(served.token)
        }
        Err(e) => {
            checks.push(check("token", Mark::Fail, format!("{e:#}")));
            None
        }
    }
}

/// A live request, whatever the cache holds: is the platform there now?
/// Returns the token it got (only to be redacted wherever it appears).
pub fn platform(
    settings: &Settings,
    bearer: Option<&Secret>,
    checks: &mut Vec<Check>,
) -> Option<Token> {
    let url = settings.token_url();
    let Some(bearer) = bearer else {
        checks.push(check(
            "platform",
            Mark::Skip,
            format!("{url}: no bearer to ask with"),
        ));
        return None;
    };
    let started = Instant::now();
    match platform::fetch(settings, bearer, started + settings.timeout, None) {
        Ok(answer) => {
            checks.push(check(
                "platform",
                Mark::Ok,
                format!(
                    "{url} answered HTTP 200 in {} ms",
                    started.elapsed().as_millis()
                ),
            ));
            Some(answer.token)
        }
        Err(e) => {
            checks.push(check("platform", Mark::Fail, format!("{e:#}")));
            None
        }
    }
}

pub fn cache(settings: &Settings, checks: &mut Vec<Check>) {
    let Some(dir) = &settings.cache_dir else {
        checks.push(check(
            "cache",
            Mark::Skip,
            "off (--no-cache or MOLECULE_TOKEN_NO_CACHE)",
        ));
        return;
    };
    let cache = Cache::new(dir);
    let dir_meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(_) => {
            checks.push(check(
                "cache",
                Mark::Ok,
                format!("{} (not created yet)", dir.display()),
            ));
            return;
        }
    };
    let shown = dir.display();
    if !dir_meta.is_dir() {
        checks.push(check(
            "cache",
            Mark::Warn,
            format!("{shown} is not a directory: working uncached"),
        ));
        return;
    }
    let dir_mode = dir_meta.mode() & 0o777;
    let mut problems = Vec::new();
    if dir_mode & cache::WRITABLE_BY_OTHERS != 0 {
        problems.push(format!(
            "directory mode {dir_mode:04o}: writable by others, so it is not used"
        ));
    } else if dir_mode & cache::NOT_PRIVATE != 0 {
        problems.push(format!("directory mode {dir_mode:04o}, expected 0700"));
    }
    let entry = match cache.read() {
        Ok(Some(entry)) => {
            let mode = file_mode(&cache.entry_path());
            if mode & cache::NOT_PRIVATE != 0 {
                problems.push(format!("entry mode {mode:04o}, expected 0600"));
            }
            format!(
                "entry {mode:04o}, fetched {} ago, {}",
                ago(now_unix() - entry.fetched_at),
                match entry.key.platform == settings.platform_url {
                    true => "for this platform",
                    false => "for another platform (will be replaced)",
                }
            )
        }
        Ok(None) => "no entry".to_string(),
        Err(why) => {
            problems.push(format!("{why} (it will be replaced)"));
            "entry unusable".to_string()
        }
    };
    let lock_mode = file_mode(&cache.lock_path());
    if lock_mode & cache::NOT_PRIVATE != 0 {
        problems.push(format!(
            "{} mode {lock_mode:04o}, expected 0600",
            cache::LOCK_FILE
        ));
    }
    let mut message = format!("{shown} ({dir_mode:04o}); {entry}");
    if let Some(entries) = super::owners::entries(settings) {
        message.push_str(&format!("; tokens cached: {entries}"));
    }
    // A failure other processes are answered with for a few seconds.
    if let Some(failed) = memory::read_failed(&cache) {
        let age = (cache::now_ms() - failed.at_ms).max(0) / 1000;
        if age < 60 {
            message.push_str(&format!(
                "; a fetch failed {} ago ({})",
                ago(age),
                if failed.unavailable {
                    "platform unavailable"
                } else {
                    "bad answer"
                }
            ));
        }
    }
    if problems.is_empty() {
        checks.push(check("cache", Mark::Ok, message));
    } else {
        checks.push(check(
            "cache",
            Mark::Warn,
            format!("{message}: {}", problems.join("; ")),
        ));
    }
}

fn file_mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).map_or(0, |m| m.mode() & 0o777)
}

pub(super) fn ago(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{} s", s.max(0)),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_well() {
        assert_eq!(ago(5), "5 s");
        assert_eq!(ago(300), "5 min");
        assert_eq!(ago(3900), "1 h 5 min");
    }
}

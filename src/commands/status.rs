//! `status`: named checks, each ok/warn/fail/skip, for a person debugging a
//! failed push at 2 a.m. (Git Credential Manager's `diagnose` shape). Exit 1
//! when any check fails; warnings alone leave 0. Never prints the token or
//! the bearer: only paths, modes, times and HTTP statuses.

use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use crate::bearer;
use crate::cache::{self, Cache};
use crate::cli::StatusArgs;
use crate::commands::configure::{self, HelperEntry, Line};
use crate::platform;
use crate::settings::Settings;
use crate::token::{Secret, now_unix};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Mark {
    fn word(self) -> &'static str {
        match self {
            Mark::Ok => "ok",
            Mark::Warn => "warn",
            Mark::Fail => "fail",
            Mark::Skip => "skip",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Mark::Ok => "\x1b[32m",
            Mark::Warn => "\x1b[33m",
            Mark::Fail => "\x1b[31m",
            Mark::Skip => "\x1b[2m",
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Mark,
    pub message: String,
}

fn check(name: &'static str, status: Mark, message: impl Into<String>) -> Check {
    Check {
        name,
        status,
        message: message.into(),
    }
}

pub fn run(settings: &Settings, args: &StatusArgs) -> Result<ExitCode> {
    let checks = checks(settings);
    let failed = checks.iter().any(|c| c.status == Mark::Fail);
    let text = if args.json {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            ok: bool,
            checks: &'a [Check],
        }
        let mut json = serde_json::to_string_pretty(&Report {
            ok: !failed,
            checks: &checks,
        })?;
        json.push('\n');
        json
    } else {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        render(&checks, colour)
    };
    super::write_stdout(text.as_bytes())?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Short aligned lines: `ok    bearer    /configs/.auth_token (0600, 44 bytes)`.
fn render(checks: &[Check], colour: bool) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        let word = c.status.word();
        let mark = if colour {
            format!("{}{word:<4}\x1b[0m", c.status.colour())
        } else {
            format!("{word:<4}")
        };
        out.push_str(&format!("{mark}  {:<width$}  {}\n", c.name, c.message));
    }
    out
}

/// Every check, in the order a person would follow the trail.
pub fn checks(settings: &Settings) -> Vec<Check> {
    let mut checks = Vec::new();
    let bearer = bearer_check(settings, &mut checks);
    token_check(settings, bearer.is_some(), &mut checks);
    platform_check(settings, bearer.as_ref(), &mut checks);
    cache_check(settings, &mut checks);
    checks.extend(git_checks(settings));
    checks
}

fn bearer_check(settings: &Settings, checks: &mut Vec<Check>) -> Option<Secret> {
    let path = settings.bearer_path();
    match bearer::read(&path) {
        Ok(secret) => {
            let meta = std::fs::metadata(&path).ok();
            let mode = meta.as_ref().map_or(0, |m| m.mode() & 0o777);
            let detail = format!(
                "{} (mode {mode:04o}, {} bytes)",
                path.display(),
                meta.map_or(0, |m| m.len())
            );
            if mode & 0o077 != 0 {
                checks.push(check(
                    "bearer",
                    Mark::Warn,
                    format!("{detail}: readable by other users; chmod 600 it"),
                ));
            } else {
                checks.push(check("bearer", Mark::Ok, detail));
            }
            Some(secret)
        }
        Err(e) => {
            checks.push(check("bearer", Mark::Fail, format!("{e:#}")));
            None
        }
    }
}

/// The token as git would get it: from the cache when it is fresh.
fn token_check(settings: &Settings, have_bearer: bool, checks: &mut Vec<Check>) {
    if !have_bearer {
        checks.push(check("token", Mark::Skip, "no bearer to ask with"));
        return;
    }
    match super::fresh_token(settings) {
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
        }
        Err(e) => checks.push(check("token", Mark::Fail, format!("{e:#}"))),
    }
}

/// A live request, whatever the cache holds: is the platform there now?
fn platform_check(settings: &Settings, bearer: Option<&Secret>, checks: &mut Vec<Check>) {
    let url = settings.token_url();
    let Some(bearer) = bearer else {
        checks.push(check(
            "platform",
            Mark::Skip,
            format!("{url}: no bearer to ask with"),
        ));
        return;
    };
    let started = Instant::now();
    match platform::fetch(settings, bearer, started + settings.timeout) {
        Ok(_) => checks.push(check(
            "platform",
            Mark::Ok,
            format!(
                "{url} answered HTTP 200 in {} ms",
                started.elapsed().as_millis()
            ),
        )),
        Err(e) => checks.push(check("platform", Mark::Fail, format!("{e:#}"))),
    }
}

fn cache_check(settings: &Settings, checks: &mut Vec<Check>) {
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
    if dir_mode & 0o077 != 0 {
        problems.push(format!("directory mode {dir_mode:04o}, expected 0700"));
    }
    let entry = match cache.read() {
        Ok(Some(entry)) => {
            let mode = file_mode(&cache.entry_path());
            if mode & 0o077 != 0 {
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
    if lock_mode & 0o077 != 0 {
        problems.push(format!(
            "{} mode {lock_mode:04o}, expected 0600",
            cache::LOCK_FILE
        ));
    }
    let message = format!("{shown} ({dir_mode:04o}); {entry}");
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

/// For each served host, the helpers git would run, in order, and what
/// would go wrong: another helper answering first, a storing helper that
/// would keep our token, a configured path that no longer exists.
fn git_checks(settings: &Settings) -> Vec<Check> {
    settings
        .hosts
        .iter()
        .map(|host| match configure::helpers_for(host) {
            Ok(list) => host_check(host, &list),
            Err(e) => check("git", Mark::Fail, format!("{host}: {e:#}")),
        })
        .collect()
}

fn host_check(host: &str, list: &[HelperEntry]) -> Check {
    if list.is_empty() {
        return check(
            "git",
            Mark::Warn,
            format!("{host}: no credential helper; run `molecule-git-token-helper configure`"),
        );
    }
    let describe = |e: &HelperEntry| {
        let what = match &e.line {
            Line::Ours { .. } => "this helper".to_string(),
            Line::Fallback { wrapped, .. } => format!("{wrapped} (wrapped)"),
            Line::Other => e.value.clone(),
        };
        format!("{what} [{}]", e.origin.trim_start_matches("file:"))
    };
    let order = list
        .iter()
        .map(describe)
        .collect::<Vec<_>>()
        .join(", then ");
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    match list.iter().position(HelperEntry::is_ours) {
        None => warns.push(
            "this helper is not configured; run `molecule-git-token-helper configure`".to_string(),
        ),
        Some(0) => {}
        Some(_) => warns.push(format!("{} answers first", describe(&list[0]))),
    }
    for e in list {
        if e.receives_our_token {
            warns.push(format!(
                "{} would store the short-lived token after each successful push",
                describe(e)
            ));
        }
        if e.program_exists == Some(false) {
            fails.push(format!(
                "{} names a program that does not exist",
                describe(e)
            ));
        }
    }
    let (mark, problems) = match (fails.is_empty(), warns.is_empty()) {
        (false, _) => (Mark::Fail, [fails, warns].concat()),
        (true, false) => (Mark::Warn, warns),
        (true, true) => (Mark::Ok, Vec::new()),
    };
    let mut message = format!("{host}: {order}");
    if !problems.is_empty() {
        message = format!("{message}: {}", problems.join("; "));
    }
    check("git", mark, message)
}

fn file_mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).map_or(0, |m| m.mode() & 0o777)
}

fn ago(seconds: i64) -> String {
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
    fn lines_are_aligned_and_plain_without_a_terminal() {
        let checks = [
            check(
                "bearer",
                Mark::Ok,
                "/configs/.auth_token (mode 0600, 44 bytes)",
            ),
            check("platform", Mark::Fail, "platform error (HTTP 500)"),
        ];
        assert_eq!(
            render(&checks, false),
            "ok    bearer    /configs/.auth_token (mode 0600, 44 bytes)\n\
             fail  platform  platform error (HTTP 500)\n"
        );
        assert!(render(&checks, true).contains("\x1b[31mfail\x1b[0m"));
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(ago(5), "5 s");
        assert_eq!(ago(300), "5 min");
        assert_eq!(ago(3900), "1 h 5 min");
    }
}

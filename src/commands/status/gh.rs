//! The checks of what gh gets: the token variables it reads before its own
//! login, whether `gh` on PATH is the proxy, and when `gh-login` last
//! logged it in. Never prints a token: only variable names, paths, times.

use std::time::SystemTime;

use super::checks::ago;
use super::render::{Check, Mark, check};
use crate::gh::{ThisProgram, fingerprint_path, gh_on_path, gh_token_variables};
use crate::settings::Settings;
use crate::token::Token;

/// A login older than this means gh-login has not run for a token's life.
const LOGIN_TOO_OLD: u64 = 2 * 3600;

pub fn checks(settings: &Settings, token: Option<&Token>, checks: &mut Vec<Check>) {
    let proxy = on_path(checks);
    variables(settings, token, proxy, checks);
    login(settings, checks);
}

/// `gh` on PATH: is it the proxy? Returns whether it is.
fn on_path(checks: &mut Vec<Check>) -> bool {
    let Ok(me) = ThisProgram::find() else {
        checks.push(check(
            "gh",
            Mark::Skip,
            "cannot find this program's own path",
        ));
        return false;
    };
    let path = std::env::var_os("PATH");
    let mut found = gh_on_path(path.as_deref(), &me);
    let Some(first) = found.next() else {
        checks.push(check("gh", Mark::Skip, "no gh on PATH"));
        return false;
    };
    if !first.is_proxy {
        checks.push(check(
            "gh",
            Mark::Ok,
            format!(
                "{} is gh on PATH, not the proxy (configure --gh-proxy puts it first)",
                first.path.display()
            ),
        ));
        return false;
    }
    match found.find(|g| !g.is_proxy) {
        Some(real) => checks.push(check(
            "gh",
            Mark::Ok,
            format!(
                "{} is gh on PATH: the proxy, which runs {} with a fresh token",
                first.path.display(),
                real.path.display()
            ),
        )),
        None => checks.push(check(
            "gh",
            Mark::Warn,
            format!(
                "{} is gh on PATH: the proxy, but no other gh follows it; install the GitHub \
                 CLI (apt-get install gh)",
                first.path.display()
            ),
        )),
    }
    true
}

/// The variables gh reads before its login: unset, or the current token.
fn variables(settings: &Settings, token: Option<&Token>, proxy: bool, checks: &mut Vec<Check>) {
    let names = gh_token_variables(settings);
    let set: Vec<(&str, String)> = names
        .iter()
        .filter_map(|n| std::env::var(n).ok().map(|v| (*n, v)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if set.is_empty() {
        checks.push(check(
            "gh-env",
            Mark::Ok,
            format!("{} unset", names.join(", ")),
        ));
        return;
    }
    let Some(token) = token else {
        let set: Vec<&str> = set.iter().map(|(n, _)| *n).collect();
        checks.push(check(
            "gh-env",
            Mark::Skip,
            format!("{} set; no current token to compare with", set.join(", ")),
        ));
        return;
    };
    let stale: Vec<&str> = set
        .iter()
        .filter(|(_, v)| v.as_str() != token.secret.expose())
        .map(|(n, _)| *n)
        .collect();
    if stale.is_empty() {
        let set: Vec<&str> = set.iter().map(|(n, _)| *n).collect();
        checks.push(check(
            "gh-env",
            Mark::Ok,
            format!(
                "{} hold the current token{}",
                set.join(", "),
                super::shell::here(super::shell::parent_shell().as_deref())
            ),
        ));
        return;
    }
    let (names, verb) = match stale.as_slice() {
        [one] => (one.to_string(), "holds"),
        more => (more.join(", "), "hold"),
    };
    let shell = super::shell::parent_shell();
    checks.push(check(
        "gh-env",
        Mark::Warn,
        format!(
            "{names} {verb} a token other than the current one{}: {}",
            super::shell::here(shell.as_deref()),
            super::shell::fix(shell.as_deref(), &stale, proxy)
        ),
    ));
}

/// When gh-login last logged gh in or checked its login with GitHub, per
/// platform host: its fingerprint's modification time (it rewrites the file
/// at each).
fn login(settings: &Settings, checks: &mut Vec<Check>) {
    let Some(dir) = &settings.cache_dir else {
        checks.push(check(
            "gh-login",
            Mark::Skip,
            "no cache directory, so gh-login keeps no record (--no-cache)",
        ));
        return;
    };
    let now = SystemTime::now();
    let mut seen = Vec::new();
    let mut old = false;
    for host in &settings.hosts {
        let Ok(modified) =
            std::fs::symlink_metadata(fingerprint_path(dir, host)).and_then(|m| m.modified())
        else {
            continue;
        };
        let age = now.duration_since(modified).map_or(0, |d| d.as_secs());
        old |= age > LOGIN_TOO_OLD;
        seen.push(format!("{host} {} ago", ago(age as i64)));
    }
    if seen.is_empty() {
        checks.push(check(
            "gh-login",
            Mark::Skip,
            format!(
                "gh-login has not logged gh in (no gh-login.HOST in {})",
                dir.display()
            ),
        ));
    } else if old {
        checks.push(check(
            "gh-login",
            Mark::Warn,
            format!(
                "gh's login last checked by gh-login: {}; is its cron line running?",
                seen.join(", ")
            ),
        ));
    } else {
        checks.push(check(
            "gh-login",
            Mark::Ok,
            format!("gh's login last checked by gh-login: {}", seen.join(", ")),
        ));
    }
}

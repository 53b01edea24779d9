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
use crate::settings::{SecretHost, Settings};
use crate::token::{Secret, now_unix};
use crate::{diag, gitea, platform};

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
    if let Some(api) = args
        .api_url
        .iter()
        .find(|a| settings.secret_host(&a.host).is_none())
    {
        diag::write_line(
            "error",
            &format!(
                "--api-url names {}, which is not a secret host (serving {}; see --secret-host)",
                api.host,
                settings.describe_hosts()
            ),
        );
        return Ok(ExitCode::from(2));
    }
    let checks = checks(settings, args);
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
pub fn checks(settings: &Settings, args: &StatusArgs) -> Vec<Check> {
    let mut checks = Vec::new();
    let bearer = bearer_check(settings, &mut checks);
    token_check(settings, bearer.is_some(), &mut checks);
    platform_check(settings, bearer.as_ref(), &mut checks);
    cache_check(settings, &mut checks);
    secret_checks(settings, args, &mut checks);
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

/// For each served host (platform and secret-backed), the helpers git would
/// run, in order, and what would go wrong: another helper answering first,
/// a storing helper that would keep our short-lived token, a configured path
/// that no longer exists.
fn git_checks(settings: &Settings) -> Vec<Check> {
    settings
        .all_hosts()
        .iter()
        .map(|host| match configure::helpers_for(host) {
            Ok(list) => host_check(host, &list, settings.serves_host(host)),
            Err(e) => check("git", Mark::Fail, format!("{host}: {e:#}")),
        })
        .collect()
}

/// `short_lived`: the host is served the platform's token, which a storing
/// helper must not keep (a secret host's token lives as long as its file).
fn host_check(host: &str, list: &[HelperEntry], short_lived: bool) -> Check {
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
        if e.receives_our_token && short_lived {
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

/// For each secret host: its file, and with `--probe` its API.
fn secret_checks(settings: &Settings, args: &StatusArgs, checks: &mut Vec<Check>) {
    if settings.secret_hosts.is_empty() {
        if args.probe {
            checks.push(check(
                "api",
                Mark::Skip,
                "no secret host to probe (--secret-host, MOLECULE_SECRET_HOSTS)",
            ));
        }
        return;
    }
    // One deadline for every probe, as for one fetch from the platform.
    let deadline = Instant::now() + settings.timeout;
    for secret in &settings.secret_hosts {
        let host = &secret.host;
        let token = secret_file_check(settings, secret, checks);
        let api = match args.api_url.iter().find(|a| &a.host == host) {
            Some(a) => a.url.clone(),
            None => gitea::default_api(host),
        };
        if !args.probe {
            checks.push(check(
                "api",
                Mark::Skip,
                format!("{host}: {api} not asked (status --probe asks it)"),
            ));
            continue;
        }
        let Some(token) = token else {
            checks.push(check(
                "api",
                Mark::Skip,
                format!("{host}: no usable secret to ask {api} with"),
            ));
            continue;
        };
        let probe = Probe {
            secret,
            base: &api,
            token: &token,
            repos: &args.probe_repo,
        };
        probe.run(deadline, settings.timeout, checks);
    }
}

/// The secret's file: there, usable, and private.
fn secret_file_check(
    settings: &Settings,
    secret: &SecretHost,
    checks: &mut Vec<Check>,
) -> Option<Secret> {
    let path = settings.secret_path(secret);
    match super::secret_token(settings, secret) {
        Ok(token) => {
            let meta = std::fs::metadata(&path).ok();
            let mode = meta.as_ref().map_or(0, |m| m.mode() & 0o777);
            let detail = format!(
                "{}: {} (mode {mode:04o}, {} bytes)",
                secret.host,
                path.display(),
                meta.map_or(0, |m| m.len())
            );
            if mode & 0o077 != 0 {
                checks.push(check(
                    "secret",
                    Mark::Warn,
                    format!("{detail}: readable by other users; chmod 600 it"),
                ));
            } else {
                checks.push(check("secret", Mark::Ok, detail));
            }
            Some(token)
        }
        Err(e) => {
            checks.push(check("secret", Mark::Fail, format!("{e:#}")));
            None
        }
    }
}

/// `status --probe` for one secret host.
struct Probe<'a> {
    secret: &'a SecretHost,
    base: &'a str,
    token: &'a Secret,
    repos: &'a [String],
}

impl Probe<'_> {
    fn run(&self, deadline: Instant, timeout: std::time::Duration, checks: &mut Vec<Check>) {
        let host = &self.secret.host;
        let api = match gitea::Api::new(self.base, deadline, timeout) {
            Ok(api) => api,
            Err(e) => {
                checks.push(check("api", Mark::Fail, format!("{host}: {e:#}")));
                return;
            }
        };
        let user = api.get("/user", self.token);
        let (user_check, usable) = user_check(self.secret, &api.url("/user"), self.base, &user);
        checks.push(user_check);
        for repo in self.repos {
            if !usable {
                checks.push(check(
                    "api",
                    Mark::Skip,
                    format!("{host}: {repo} not probed: /user did not answer as Gitea does"),
                ));
                continue;
            }
            let status = |path: &str| api.get(path, self.token).map(|a| a.status);
            let pulls = status(&format!("/repos/{repo}/pulls?state=open&limit=1"));
            let issues = status(&format!("/repos/{repo}/issues?state=open&limit=1"));
            checks.push(repo_check(self.secret, repo, &pulls, &issues));
        }
    }
}

/// What to do about a token that is missing `scopes`, or is not valid.
fn new_token_advice(secret: &SecretHost, scopes: &[&str]) -> String {
    let with = match scopes {
        [] => String::new(),
        _ => format!(" with {}", scopes.join(" and ")),
    };
    format!(
        "issue a new token{with}, update the workspace secret {}, and restart the workspace",
        secret.name
    )
}

/// The `/user` probe's line, and whether the repository probes are worth
/// making after it.
fn user_check(
    secret: &SecretHost,
    url: &str,
    base: &str,
    answer: &Result<gitea::Answer, String>,
) -> (Check, bool) {
    let host = &secret.host;
    let answer = match answer {
        Ok(answer) => answer,
        Err(why) => return (check("api", Mark::Fail, format!("{host}: {why}")), false),
    };
    let status = answer.status;
    match status {
        200 => {
            let user = match &answer.login {
                Some(login) => format!(" (user {login})"),
                None => String::new(),
            };
            let message = format!(
                "{host}: {url} answered HTTP 200 in {} ms: the token is valid{user}",
                answer.elapsed.as_millis()
            );
            (check("api", Mark::Ok, message), true)
        }
        401 => (
            check(
                "api",
                Mark::Fail,
                format!(
                    "{host}: {url} answered HTTP 401: the token is not valid (revoked, expired \
                     or mistyped); {}",
                    new_token_advice(secret, &[])
                ),
            ),
            false,
        ),
        // Gitea: a valid token without the user scope, which git does not need.
        403 => (
            check(
                "api",
                Mark::Warn,
                format!(
                    "{host}: {url} answered HTTP 403: the token lacks the read:user scope \
                     (git does not need it; tools that ask who they are do)"
                ),
            ),
            true,
        ),
        300..=399 => (
            check(
                "api",
                Mark::Fail,
                format!(
                    "{host}: {url} answered with a redirect (HTTP {status}), which is not \
                     followed: is the API at {base}? (--api-url HOST=URL)"
                ),
            ),
            false,
        ),
        _ => (
            check(
                "api",
                Mark::Fail,
                format!("{host}: {url} answered HTTP {status}: is the API at {base}?"),
            ),
            false,
        ),
    }
}

/// The line for one `--probe-repo`, from the statuses of its pull request
/// and issue lists (or why there was none).
fn repo_check(
    secret: &SecretHost,
    repo: &str,
    pulls: &Result<u16, String>,
    issues: &Result<u16, String>,
) -> Check {
    let host = &secret.host;
    let mut fails: Vec<String> = Vec::new();
    let mut warns: Vec<String> = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    let pulls_listed = matches!(pulls, Ok(200));
    let other = |what: &str, status: u16| match status {
        401 => format!("{what} refused (HTTP 401): the token is not valid"),
        300..=399 => format!(
            "{what}: a redirect (HTTP {status}), which is not followed (renamed or moved? \
             probe it by its new name)"
        ),
        _ => format!("{what}: HTTP {status}"),
    };
    match pulls {
        Ok(200) => {}
        Ok(403) => {
            fails.push("pull requests refused (HTTP 403)".into());
            missing.push("read:repository");
        }
        Ok(404) => fails.push(
            "not found (HTTP 404): no such repository, or the token's user cannot see it".into(),
        ),
        Ok(status) => fails.push(other("pull requests", *status)),
        Err(why) => fails.push(why.clone()),
    }
    match issues {
        Ok(200) => {}
        // Gitea checks the scope before it looks for the repository.
        Ok(403) => {
            let what = if pulls_listed {
                "issues refused (HTTP 403) while pull requests are listed"
            } else {
                "issues refused (HTTP 403)"
            };
            warns.push(what.into());
            missing.push("read:issue");
        }
        Ok(404) if pulls_listed => {
            warns.push("issues not found (HTTP 404): are issues turned off for it?".into())
        }
        Ok(404) => {}
        Ok(status) => fails.push(other("issues", *status)),
        // The API did not answer for pull requests either: said once.
        Err(_) if pulls.is_err() => {}
        Err(why) => fails.push(why.clone()),
    }
    if fails.is_empty() && warns.is_empty() {
        return check(
            "api",
            Mark::Ok,
            format!("{host}: {repo}: open pull requests and issues listed"),
        );
    }
    let mark = if fails.is_empty() {
        Mark::Warn
    } else {
        Mark::Fail
    };
    let mut message = format!("{host}: {repo}: {}", [fails, warns].concat().join("; "));
    if !missing.is_empty() {
        let scope = if missing.len() == 1 {
            "scope"
        } else {
            "scopes"
        };
        message.push_str(&format!(
            ": the token lacks the {} {scope}; {}",
            missing.join(" and "),
            new_token_advice(secret, &missing)
        ));
    }
    check("api", mark, message)
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

    fn gitea() -> SecretHost {
        SecretHost {
            host: "git.example.test".into(),
            name: "GITEA_TOKEN".into(),
        }
    }

    #[test]
    fn a_repo_whose_issues_are_refused_names_the_read_issue_scope() {
        let c = repo_check(&gitea(), "o/r", &Ok(200), &Ok(403));
        assert_eq!(c.status, Mark::Warn);
        assert_eq!(
            c.message,
            "git.example.test: o/r: issues refused (HTTP 403) while pull requests are listed: \
             the token lacks the read:issue scope; issue a new token with read:issue, update \
             the workspace secret GITEA_TOKEN, and restart the workspace"
        );
    }

    #[test]
    fn repo_probe_outcomes() {
        let s = gitea();
        let mark = |pulls: Result<u16, String>, issues: Result<u16, String>| {
            let c = repo_check(&s, "o/r", &pulls, &issues);
            (c.status, c.message)
        };
        let (m, text) = mark(Ok(200), Ok(200));
        assert_eq!(m, Mark::Ok);
        assert_eq!(
            text,
            "git.example.test: o/r: open pull requests and issues listed"
        );

        let (m, text) = mark(Ok(403), Ok(403));
        assert_eq!(m, Mark::Fail);
        assert!(
            text.contains("the token lacks the read:repository and read:issue scopes")
                && text.contains("issue a new token with read:repository and read:issue"),
            "{text}"
        );

        let (m, text) = mark(Ok(403), Ok(200));
        assert_eq!(m, Mark::Fail);
        assert!(text.contains("lacks the read:repository scope"), "{text}");

        let (m, text) = mark(Ok(404), Ok(404));
        assert_eq!(m, Mark::Fail);
        assert!(text.contains("o/r: not found (HTTP 404)"), "{text}");
        assert!(!text.contains("issues"), "{text}");

        let (m, text) = mark(Ok(200), Ok(404));
        assert_eq!(m, Mark::Warn);
        assert!(text.contains("issues not found"), "{text}");

        let (m, text) = mark(Ok(200), Ok(500));
        assert_eq!(m, Mark::Fail);
        assert!(text.contains("issues: HTTP 500"), "{text}");

        let (m, text) = mark(Ok(301), Ok(200));
        assert_eq!(m, Mark::Fail);
        assert!(text.contains("redirect (HTTP 301)"), "{text}");

        let down = Err("cannot connect to http://x/pulls: connection refused".to_string());
        let (m, text) = mark(
            down.clone(),
            Err("cannot connect to http://x/issues".into()),
        );
        assert_eq!(m, Mark::Fail);
        assert_eq!(
            text,
            "git.example.test: o/r: cannot connect to http://x/pulls: connection refused"
        );
    }

    #[test]
    fn user_probe_outcomes() {
        let s = gitea();
        let url = "https://git.example.test/api/v1/user";
        let base = "https://git.example.test/api/v1";
        let answer = |status: u16, login: Option<&str>| {
            Ok(gitea::Answer {
                status,
                login: login.map(str::to_string),
                elapsed: std::time::Duration::from_millis(7),
            })
        };
        let (c, go_on) = user_check(&s, url, base, &answer(200, Some("alice")));
        assert_eq!((c.status, go_on), (Mark::Ok, true));
        assert_eq!(
            c.message,
            format!(
                "git.example.test: {url} answered HTTP 200 in 7 ms: the token is valid (user alice)"
            )
        );
        let (c, go_on) = user_check(&s, url, base, &answer(401, None));
        assert_eq!((c.status, go_on), (Mark::Fail, false));
        assert!(
            c.message.contains("the token is not valid"),
            "{}",
            c.message
        );
        assert!(
            c.message
                .contains("update the workspace secret GITEA_TOKEN")
        );
        let (c, go_on) = user_check(&s, url, base, &answer(403, None));
        assert_eq!((c.status, go_on), (Mark::Warn, true));
        assert!(c.message.contains("read:user"), "{}", c.message);
        let (c, go_on) = user_check(&s, url, base, &answer(302, None));
        assert_eq!((c.status, go_on), (Mark::Fail, false));
        assert!(c.message.contains("not followed"), "{}", c.message);
        let (c, go_on) = user_check(&s, url, base, &answer(404, None));
        assert_eq!((c.status, go_on), (Mark::Fail, false));
        let (c, go_on) = user_check(&s, url, base, &Err("cannot connect".into()));
        assert_eq!((c.status, go_on), (Mark::Fail, false));
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(ago(5), "5 s");
        assert_eq!(ago(300), "5 min");
        assert_eq!(ago(3900), "1 h 5 min");
    }
}

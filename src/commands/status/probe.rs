//! Secret-backed hosts: each one's file, and with `--probe` its Gitea API
//! (is the token valid? can it list pull requests and issues?).

use std::time::Instant;

use super::Options;
use super::checks::secret_file;
use super::gitea;
use super::render::{Check, Mark, check};
use crate::secret::Secret;
use crate::settings::{SecretHost, Settings};
use crate::token;

/// For each secret host: its file, and with `--probe` its API. Returns the
/// secrets read (only to be redacted wherever they appear).
pub fn secret_hosts(settings: &Settings, args: &Options, checks: &mut Vec<Check>) -> Vec<Secret> {
    let mut read = Vec::new();
    if settings.secret_hosts.is_empty() {
        if args.probe {
            checks.push(check(
                "api",
                Mark::Skip,
                "no secret host to probe (--secret-host, MOLECULE_SECRET_HOSTS)",
            ));
        }
        return read;
    }
    // One deadline for every probe, as for one fetch from the platform.
    let deadline = Instant::now() + settings.timeout;
    for secret in &settings.secret_hosts {
        let host = &secret.host;
        let token = secret_file_check(settings, secret, checks);
        read.extend(token.clone());
        let api = match args.api_urls.iter().find(|a| &a.host == host) {
            Some(a) => a.url.clone(),
            None => gitea::default_api(host),
        };
        if args.probe && !args.probes_host(host) {
            continue;
        }
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
            repos: &args.probe_repos,
        };
        probe.run(deadline, settings.timeout, checks);
    }
    read
}

/// The secret's file: there, usable, and private.
fn secret_file_check(
    settings: &Settings,
    secret: &SecretHost,
    checks: &mut Vec<Check>,
) -> Option<Secret> {
    let path = settings.secret_path(secret);
    let read = token::secret_host_token(settings, secret);
    let (result, token) = secret_file("secret", &format!("{}: ", secret.host), &path, read);
    checks.push(result);
    token
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

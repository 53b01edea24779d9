//! The platform's hosts (GitHub): with `--probe`, ask each one's API and git
//! with the platform's token what the GitHub App behind it may do: the rate
//! limit left, how many repositories the installation sees, and for each
//! `--probe-repo` whether the App sees it, can list its pull requests and
//! issues, and can push. A refusal names the permission GitHub asked for
//! (`X-Accepted-GitHub-Permissions`) and where it is granted. The answers are
//! fetched by `github.rs`; the functions here only judge them, and quote
//! nothing of a body but GitHub's short `message`.

use std::time::{Duration, Instant};

use super::Options;
use super::github::{self, Auth, Reply};
use super::render::{Check, Mark, check};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::token::{Token, format_rfc3339, now_unix};

/// What to do about a permission the App lacks.
const GRANT: &str = "grant it in the GitHub App's permissions (the App's settings: Permissions \
                     & events), then accept the new permissions on the installation";

/// For each platform host: with `--probe`, its API and git, asked with
/// `token` (the one the token check got, as git would); without, one line
/// saying what `--probe` would ask.
pub fn platform_hosts(
    settings: &Settings,
    options: &Options,
    token: Option<&Token>,
    checks: &mut Vec<Check>,
) {
    let api = |host: &str| match options.api_urls.iter().find(|a| a.host == host) {
        Some(a) => a.url.clone(),
        None => github::default_api(host),
    };
    let git = |host: &str| match options.git_urls.iter().find(|a| a.host == host) {
        Some(a) => a.url.clone(),
        None => github::default_git(host),
    };
    if !options.probe {
        for host in &settings.hosts {
            checks.push(check(
                "api",
                Mark::Skip,
                format!(
                    "{host}: {} not asked whether it accepts the token (status --probe asks it)",
                    api(host)
                ),
            ));
        }
        return;
    }
    let hosts: Vec<&String> = (settings.hosts.iter())
        .filter(|h| options.probes_host(h))
        .collect();
    if hosts.is_empty() {
        return;
    }
    let token = match token {
        Some(token) => &token.secret,
        None => {
            for host in hosts {
                checks.push(check(
                    "api",
                    Mark::Skip,
                    format!(
                        "{host}: no token to ask {} with (see the token check)",
                        api(host)
                    ),
                ));
            }
            return;
        }
    };
    // One deadline for every probe, as for one fetch from the platform.
    let deadline = Instant::now() + settings.timeout;
    let platform = settings.token_url();
    for host in hosts {
        let probe = Probe {
            target: Target {
                host,
                platform: &platform,
            },
            api: api(host),
            git: git(host),
            token,
            repos: &options.probe_repos,
        };
        probe.run(deadline, settings.timeout, checks);
    }
}

/// One answer, or why there was none (one line naming the URL).
type Answer = Result<Reply, String>;

/// The host asked, and the platform that handed out the token (named when
/// the host refuses it).
struct Target<'a> {
    host: &'a str,
    platform: &'a str,
}

/// `status --probe` for one platform host.
struct Probe<'a> {
    target: Target<'a>,
    /// The API base, without a trailing slash.
    api: String,
    /// Where git reaches the repositories, without a trailing slash.
    git: String,
    token: &'a Secret,
    repos: &'a [String],
}

impl Probe<'_> {
    fn run(&self, deadline: Instant, timeout: Duration, checks: &mut Vec<Check>) {
        let t = &self.target;
        let host = t.host;
        let https = self.api.starts_with("https:") || self.git.starts_with("https:");
        let client = match github::Client::new(https, deadline, timeout) {
            Ok(client) => client,
            Err(e) => {
                checks.push(check("api", Mark::Fail, format!("{host}: {e:#}")));
                return;
            }
        };
        let get = |url: &str, auth| client.get(url, auth, self.token);

        let url = format!("{}/rate_limit", self.api);
        let (result, gate) = rate_check(t, &url, &self.api, &get(&url, Auth::Api), now_unix());
        checks.push(result);
        if let Err(why) = gate {
            let what = match self.repos.len() {
                0 => "the installation".to_string(),
                _ => format!("the installation and {}", self.repos.join(", ")),
            };
            checks.push(check(
                "api",
                Mark::Skip,
                format!("{host}: {what} not probed: {why}"),
            ));
            return;
        }

        let url = format!("{}/installation/repositories?per_page=1", self.api);
        checks.push(installation_check(t, &url, &get(&url, Auth::Api)));

        for repo in self.repos {
            let url = format!("{}/repos/{repo}", self.api);
            let seen = get(&url, Auth::Api);
            let lists = matches!(&seen, Ok(r) if r.status == 200).then(|| {
                (
                    get(&format!("{url}/pulls?per_page=1"), Auth::Api),
                    get(&format!("{url}/issues?per_page=1"), Auth::Api),
                )
            });
            checks.push(repo_check(t, repo, &url, &seen, lists.as_ref()));
            if lists.is_some() {
                let url = format!("{}/{repo}.git/info/refs?service=git-receive-pack", self.git);
                checks.push(push_check(t, repo, &url, &self.git, &get(&url, Auth::Git)));
            }
        }
    }
}

/// GitHub's `message` from a JSON error body, when it is short and plain:
/// the one piece of a body ever quoted.
fn message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        message: String,
    }
    let text = serde_json::from_slice::<Body>(body).ok()?.message;
    let text: String = (text.chars())
        .filter(|c| !c.is_control() && *c != '"')
        .take(160)
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `HTTP 403 "Resource not accessible by integration"`, or `HTTP 403`.
fn said(reply: &Reply) -> String {
    match message(&reply.body) {
        Some(m) => format!("HTTP {} \"{m}\"", reply.status),
        None => format!("HTTP {}", reply.status),
    }
}

/// The permission GitHub asked for, when the header names it plainly.
fn accepted_permission(reply: &Reply) -> Option<String> {
    let text = reply.accepted_permissions.as_deref()?.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || "_=,; ".contains(c);
    (!text.is_empty() && text.len() <= 100 && text.chars().all(plain)).then(|| text.to_string())
}

/// A refusal because the rate limit is spent, not for want of a permission.
fn rate_spent(reply: &Reply) -> bool {
    matches!(reply.status, 403 | 429) && reply.rate_remaining == Some(0)
}

/// `2026-12-01T23:26:56Z (in 59 min)`.
fn when(reset: i64, now: i64) -> String {
    let left = reset - now;
    let within = match left {
        s if s <= 0 => "now".to_string(),
        s if s < 60 => format!("in {s} s"),
        s if s < 3600 => format!("in {} min", s / 60),
        s if s % 3600 < 60 => format!("in {} h", s / 3600),
        s => format!("in {} h {} min", s / 3600, s % 3600 / 60),
    };
    format!("{} ({within})", format_rfc3339(reset))
}

/// A 401: the token the platform handed out is dead.
fn dead_token(t: &Target, url: &str, reply: &Reply) -> String {
    format!(
        "{}: {url} answered {}: the token is not valid; the platform ({}) handed out a token \
         {} does not accept (revoked, expired, or from another GitHub App)",
        t.host,
        said(reply),
        t.platform,
        t.host
    )
}

/// Why a refusal for a spent rate limit: until when.
fn spent_until(reply: &Reply, now: i64) -> String {
    match reply.rate_reset {
        Some(reset) => format!("the rate limit is spent until {}", when(reset, now)),
        None => "the rate limit is spent".to_string(),
    }
}

/// The `/rate_limit` line, and whether the other probes are worth making
/// (`Err(why)` when not).
fn rate_check(
    t: &Target,
    url: &str,
    base: &str,
    reply: &Answer,
    now: i64,
) -> (Check, Result<(), String>) {
    let host = t.host;
    let reply = match reply {
        Ok(reply) => reply,
        Err(why) => {
            let gate = Err("the API did not answer".to_string());
            return (check("api", Mark::Fail, format!("{host}: {why}")), gate);
        }
    };
    let not_github = || Err("the API did not answer as GitHub's does".to_string());
    match reply.status {
        200 => {}
        401 => {
            let gate = Err("the token is not valid".to_string());
            return (check("api", Mark::Fail, dead_token(t, url, reply)), gate);
        }
        // GitHub Enterprise Server with rate limiting turned off.
        404 if message(&reply.body).is_some_and(|m| m.contains("not enabled")) => {
            let text = format!("{host}: {url} answered HTTP 404: rate limiting is not enabled");
            return (check("api", Mark::Ok, text), Ok(()));
        }
        status @ 300..=399 => {
            let text = format!(
                "{host}: {url} answered with a redirect (HTTP {status}), which is not followed: \
                 is the API at {base}? (--api-url HOST=URL)"
            );
            return (check("api", Mark::Fail, text), not_github());
        }
        _ => {
            let text = format!(
                "{host}: {url} answered {}: is the API at {base}? (--api-url HOST=URL)",
                said(reply)
            );
            return (check("api", Mark::Fail, text), not_github());
        }
    }
    #[derive(serde::Deserialize)]
    struct Budget {
        limit: u64,
        remaining: u64,
        reset: i64,
    }
    #[derive(serde::Deserialize)]
    struct Resources {
        core: Budget,
        graphql: Option<Budget>,
    }
    #[derive(serde::Deserialize)]
    struct Limits {
        resources: Resources,
    }
    let Ok(limits) = serde_json::from_slice::<Limits>(&reply.body) else {
        let text = format!(
            "{host}: {url} answered HTTP 200, but not as GitHub does: is the API at {base}? \
             (--api-url HOST=URL)"
        );
        return (check("api", Mark::Warn, text), Ok(()));
    };
    let resources = [
        ("core", Some(&limits.resources.core)),
        ("graphql", limits.resources.graphql.as_ref()),
    ];
    let mut mark = Mark::Ok;
    let mut parts = Vec::new();
    let mut low = Vec::new();
    let mut spent = Vec::new();
    for (name, budget) in resources {
        let Some(b) = budget else { continue };
        let percent = match b.limit {
            0 => 100,
            limit => b.remaining.min(limit) * 100 / limit,
        };
        let mut part = format!("{name} {}/{} left", b.remaining, b.limit);
        if b.remaining == 0 {
            mark = Mark::Fail;
            spent.push(format!("{name} until {}", when(b.reset, now)));
        } else if b.remaining * 10 < b.limit {
            if mark == Mark::Ok {
                mark = Mark::Warn;
            }
            part.push_str(&format!(" ({percent} %)"));
            low.push(name);
        }
        part.push_str(&format!(", resets {}", when(b.reset, now)));
        parts.push(part);
    }
    let mut text = format!("{host}: {url}: {}", parts.join("; "));
    if !spent.is_empty() {
        text.push_str(&format!(
            ": spent, GitHub refuses this installation's requests: {}",
            spent.join(", ")
        ));
    } else if !low.is_empty() {
        text.push_str(&format!(
            ": under 10 % of {} left; something is spending this installation's budget",
            low.join(" and ")
        ));
    }
    let gate = match limits.resources.core.remaining {
        0 => Err(format!(
            "the core rate limit is spent until {}",
            when(limits.resources.core.reset, now)
        )),
        _ => Ok(()),
    };
    (check("api", mark, text), gate)
}

/// The `/installation/repositories` line: how many repositories the App's
/// installation sees.
fn installation_check(t: &Target, url: &str, reply: &Answer) -> Check {
    let host = t.host;
    let reply = match reply {
        Ok(reply) => reply,
        Err(why) => return check("api", Mark::Fail, format!("{host}: {why}")),
    };
    match reply.status {
        200 => {
            #[derive(serde::Deserialize)]
            struct Page {
                total_count: u64,
            }
            match serde_json::from_slice::<Page>(&reply.body) {
                Ok(Page { total_count: 0 }) => check(
                    "api",
                    Mark::Warn,
                    format!(
                        "{host}: the App's installation can see no repository: add them in the \
                         App's installation settings (Repository access)"
                    ),
                ),
                Ok(Page { total_count: n }) => check(
                    "api",
                    Mark::Ok,
                    format!(
                        "{host}: the App's installation can see {n} {}",
                        if n == 1 { "repository" } else { "repositories" }
                    ),
                ),
                Err(_) => check(
                    "api",
                    Mark::Warn,
                    format!("{host}: {url} answered HTTP 200 without a total_count"),
                ),
            }
        }
        401 => check("api", Mark::Fail, dead_token(t, url, reply)),
        _ if rate_spent(reply) => check(
            "api",
            Mark::Fail,
            format!("{host}: {url} refused: {}", spent_until(reply, now_unix())),
        ),
        403 => check(
            "api",
            Mark::Warn,
            format!(
                "{host}: {url} answered {}: is it an installation token? (the platform should \
                 hand out the GitHub App's installation token)",
                said(reply)
            ),
        ),
        _ => check(
            "api",
            Mark::Fail,
            format!("{host}: {url} answered {}", said(reply)),
        ),
    }
}

/// The line for one `--probe-repo`: `GET /repos/O/R` (`seen`), and when it
/// answered 200, its pull request and issue lists.
fn repo_check(
    t: &Target,
    repo: &str,
    url: &str,
    seen: &Answer,
    lists: Option<&(Answer, Answer)>,
) -> Check {
    let host = t.host;
    let seen = match seen {
        Ok(reply) => reply,
        Err(why) => return check("api", Mark::Fail, format!("{host}: {repo}: {why}")),
    };
    match seen.status {
        200 => {}
        404 => {
            return check(
                "api",
                Mark::Warn,
                format!(
                    "{host}: {repo}: {url} answered {}: the App's installation cannot see \
                     {repo} (the App is not installed there, or there is no such repository); \
                     the fix is in the App's installation settings: Repository access, add {repo}",
                    said(seen)
                ),
            );
        }
        401 => return check("api", Mark::Fail, dead_token(t, url, seen)),
        _ if rate_spent(seen) => {
            let why = spent_until(seen, now_unix());
            return check("api", Mark::Fail, format!("{host}: {repo}: refused: {why}"));
        }
        status @ 300..=399 => {
            return check(
                "api",
                Mark::Fail,
                format!(
                    "{host}: {repo}: {url} answered with a redirect (HTTP {status}), which is \
                     not followed (renamed or moved? probe it by its new name)"
                ),
            );
        }
        _ => {
            let text = format!("{host}: {repo}: {url} answered {}", said(seen));
            return check("api", Mark::Fail, text);
        }
    }
    let Some((pulls, issues)) = lists else {
        return check(
            "api",
            Mark::Ok,
            format!("{host}: {repo}: the App can see it"),
        );
    };
    let mut fails: Vec<String> = Vec::new();
    let mut warns: Vec<String> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    let mut listed: Vec<&str> = Vec::new();
    for (what, needed, reply) in [
        ("pull requests", "pull_requests=read", pulls),
        ("issues", "issues=read", issues),
    ] {
        let reply = match reply {
            Ok(reply) => reply,
            Err(why) => {
                fails.push(why.clone());
                continue;
            }
        };
        match reply.status {
            200 => listed.push(what),
            401 => fails.push(format!(
                "{what} refused ({}): the token is not valid",
                said(reply)
            )),
            _ if rate_spent(reply) => fails.push(format!(
                "{what} refused: {}",
                spent_until(reply, now_unix())
            )),
            403 => {
                warns.push(format!("{what} refused ({})", said(reply)));
                missing.push(accepted_permission(reply).unwrap_or_else(|| needed.to_string()));
            }
            404 | 410 => warns.push(format!(
                "{what} not found ({}): are {what} turned off for it?",
                said(reply)
            )),
            _ => fails.push(format!("{what}: {}", said(reply))),
        }
    }
    if fails.is_empty() && warns.is_empty() {
        return check(
            "api",
            Mark::Ok,
            format!("{host}: {repo}: the App can see it; open pull requests and issues listed"),
        );
    }
    let mark = if fails.is_empty() {
        Mark::Warn
    } else {
        Mark::Fail
    };
    let listed = listed.iter().map(|what| format!("{what} listed"));
    let found: Vec<String> = listed.chain(warns).chain(fails).collect();
    let mut text = format!("{host}: {repo}: {}", found.join("; "));
    if !missing.is_empty() {
        let grant = match missing.len() {
            1 => GRANT.to_string(),
            _ => GRANT.replace("grant it", "grant them"),
        };
        text.push_str(&format!(
            ": the App lacks {}; {grant}",
            missing.join(" and ")
        ));
    }
    check("api", mark, text)
}

/// The push line: `GET {git}/O/R.git/info/refs?service=git-receive-pack`
/// with the token as git sends it (nothing is written).
fn push_check(t: &Target, repo: &str, url: &str, base: &str, reply: &Answer) -> Check {
    let host = t.host;
    let reply = match reply {
        Ok(reply) => reply,
        Err(why) => return check("push", Mark::Fail, format!("{host}: {repo}: {why}")),
    };
    match reply.status {
        200 => check(
            "push",
            Mark::Ok,
            format!(
                "{host}: {repo}: the token can push ({url} answered HTTP 200; nothing written)"
            ),
        ),
        401 => check("push", Mark::Fail, dead_token(t, url, reply)),
        403 => check(
            "push",
            Mark::Warn,
            format!(
                "{host}: {repo}: the token cannot push ({url} answered HTTP 403): the App lacks \
                 contents=write; {GRANT}"
            ),
        ),
        404 => check(
            "push",
            Mark::Warn,
            format!(
                "{host}: {repo}: {url} answered HTTP 404: git cannot see {repo} with the token; \
                 the fix is in the App's installation settings (Repository access)"
            ),
        ),
        status @ 300..=399 => check(
            "push",
            Mark::Fail,
            format!(
                "{host}: {repo}: {url} answered with a redirect (HTTP {status}), which is not \
                 followed: is git at {base}? (--git-url HOST=URL)"
            ),
        ),
        status => check(
            "push",
            Mark::Fail,
            format!("{host}: {repo}: {url} answered HTTP {status}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn target() -> Target<'static> {
        Target {
            host: "github.com",
            platform: "http://platform:8080/admin/github-installation-token",
        }
    }

    fn reply(status: u16, body: &str) -> Answer {
        Ok(Reply {
            status,
            body: body.as_bytes().to_vec(),
            ..Reply::default()
        })
    }

    fn forbidden(permission: Option<&str>) -> Answer {
        Ok(Reply {
            status: 403,
            accepted_permissions: permission.map(str::to_string),
            rate_remaining: Some(4000),
            body: br#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}"#.to_vec(),
            ..Reply::default()
        })
    }

    fn limits(core: (u64, u64), graphql: (u64, u64)) -> Answer {
        reply(
            200,
            &format!(
                r#"{{"resources":{{"core":{{"limit":{},"remaining":{},"reset":{},"used":0}},"graphql":{{"limit":{},"remaining":{},"reset":{},"used":0}}}},"rate":{{}}}}"#,
                core.0,
                core.1,
                NOW + 3540,
                graphql.0,
                graphql.1,
                NOW + 90
            ),
        )
    }

    const RATE: &str = "https://api.github.com/rate_limit";
    const API: &str = "https://api.github.com";

    #[test]
    fn rate_limit_outcomes() {
        let t = target();
        let (c, gate) = rate_check(&t, RATE, API, &limits((5000, 4990), (5000, 5000)), NOW);
        assert_eq!((c.status, gate), (Mark::Ok, Ok(())));
        assert_eq!(
            c.message,
            "github.com: https://api.github.com/rate_limit: core 4990/5000 left, resets \
             2026-01-01T00:59:00Z (in 59 min); graphql 5000/5000 left, resets \
             2026-01-01T00:01:30Z (in 1 min)"
        );

        // 2 % left: a warning with the reset time.
        let (c, gate) = rate_check(&t, RATE, API, &limits((5000, 100), (5000, 5000)), NOW);
        assert_eq!((c.status, gate), (Mark::Warn, Ok(())));
        assert!(
            c.message
                .contains("core 100/5000 left (2 %), resets 2026-01-01T00:59:00Z")
                && c.message.contains("under 10 % of core left"),
            "{}",
            c.message
        );
        // 10 % exactly is not under 10 %.
        let (c, _) = rate_check(&t, RATE, API, &limits((5000, 500), (5000, 5000)), NOW);
        assert_eq!(c.status, Mark::Ok, "{}", c.message);
        let (c, _) = rate_check(&t, RATE, API, &limits((5000, 5000), (5000, 1)), NOW);
        assert_eq!(c.status, Mark::Warn, "{}", c.message);
        assert!(
            c.message.contains("under 10 % of graphql left"),
            "{}",
            c.message
        );

        // Spent: a failure saying when it resets; the other probes are skipped.
        let (c, gate) = rate_check(&t, RATE, API, &limits((5000, 0), (5000, 5000)), NOW);
        assert_eq!(c.status, Mark::Fail);
        assert!(
            c.message
                .contains("GitHub refuses this installation's requests: core until 2026-01-01T00:59:00Z (in 59 min)"),
            "{}",
            c.message
        );
        assert_eq!(
            gate,
            Err("the core rate limit is spent until 2026-01-01T00:59:00Z (in 59 min)".into())
        );
        // graphql spent alone fails the line but leaves the REST probes worth making.
        let (c, gate) = rate_check(&t, RATE, API, &limits((5000, 5000), (5000, 0)), NOW);
        assert_eq!((c.status, gate), (Mark::Fail, Ok(())));

        let (c, gate) = rate_check(
            &t,
            RATE,
            API,
            &reply(401, r#"{"message":"Bad credentials"}"#),
            NOW,
        );
        assert_eq!(c.status, Mark::Fail);
        assert_eq!(
            c.message,
            "github.com: https://api.github.com/rate_limit answered HTTP 401 \"Bad credentials\": \
             the token is not valid; the platform (http://platform:8080/admin/github-installation-token) \
             handed out a token github.com does not accept (revoked, expired, or from another GitHub App)"
        );
        assert!(gate.is_err());

        let (c, gate) = rate_check(
            &t,
            RATE,
            API,
            &reply(404, r#"{"message":"Rate limiting is not enabled."}"#),
            NOW,
        );
        assert_eq!((c.status, gate), (Mark::Ok, Ok(())));
        let (c, gate) = rate_check(&t, RATE, API, &reply(404, "<html>"), NOW);
        assert_eq!(c.status, Mark::Fail);
        assert!(
            c.message
                .contains("is the API at https://api.github.com? (--api-url HOST=URL)")
        );
        assert!(gate.is_err());
        let (c, gate) = rate_check(&t, RATE, API, &reply(301, ""), NOW);
        assert!(
            c.message
                .contains("redirect (HTTP 301), which is not followed")
        );
        assert!(gate.is_err());
        let (c, gate) = rate_check(&t, RATE, API, &reply(200, "{}"), NOW);
        assert_eq!((c.status, gate), (Mark::Warn, Ok(())));
        let (c, gate) = rate_check(&t, RATE, API, &Err("cannot connect to x".into()), NOW);
        assert_eq!(c.message, "github.com: cannot connect to x");
        assert_eq!(gate, Err("the API did not answer".into()));
    }

    #[test]
    fn installation_outcomes() {
        let t = target();
        let url = "https://api.github.com/installation/repositories?per_page=1";
        let c = installation_check(
            &t,
            url,
            &reply(200, r#"{"total_count":3,"repositories":[]}"#),
        );
        assert_eq!(c.status, Mark::Ok);
        assert_eq!(
            c.message,
            "github.com: the App's installation can see 3 repositories"
        );
        let c = installation_check(&t, url, &reply(200, r#"{"total_count":1}"#));
        assert!(c.message.ends_with("can see 1 repository"), "{}", c.message);
        let c = installation_check(&t, url, &reply(200, r#"{"total_count":0}"#));
        assert_eq!(c.status, Mark::Warn);
        assert!(c.message.contains("Repository access"), "{}", c.message);
        let c = installation_check(&t, url, &reply(401, ""));
        assert_eq!(c.status, Mark::Fail);
        assert!(
            c.message.contains("the token is not valid"),
            "{}",
            c.message
        );
        let c = installation_check(&t, url, &forbidden(None));
        assert_eq!(c.status, Mark::Warn);
        assert!(c.message.contains("installation token"), "{}", c.message);
        let c = installation_check(&t, url, &reply(500, ""));
        assert_eq!(c.status, Mark::Fail);
    }

    const REPO: &str = "https://api.github.com/repos/o/r";

    #[test]
    fn a_repo_whose_issues_are_refused_names_issues_read() {
        let t = target();
        let lists = (reply(200, "[]"), forbidden(Some("issues=read")));
        let c = repo_check(&t, "o/r", REPO, &reply(200, "{}"), Some(&lists));
        assert_eq!(c.status, Mark::Warn);
        assert_eq!(
            c.message,
            format!(
                "github.com: o/r: pull requests listed; issues refused (HTTP 403 \"Resource not \
                 accessible by integration\"): the App lacks issues=read; {GRANT}"
            )
        );
    }

    #[test]
    fn repo_outcomes() {
        let t = target();
        let ok = reply(200, "{}");
        let check = |seen: &Answer, pulls, issues| {
            let lists = (pulls, issues);
            repo_check(&t, "o/r", REPO, seen, Some(&lists))
        };
        let c = check(&ok, reply(200, "[]"), reply(200, "[]"));
        assert_eq!(c.status, Mark::Ok);
        assert_eq!(
            c.message,
            "github.com: o/r: the App can see it; open pull requests and issues listed"
        );

        // Both refused: both permissions named, in GitHub's words.
        let c = check(
            &ok,
            forbidden(Some("pull_requests=read")),
            forbidden(Some("issues=read")),
        );
        assert_eq!(c.status, Mark::Warn);
        assert!(
            c.message
                .contains("the App lacks pull_requests=read and issues=read; grant them"),
            "{}",
            c.message
        );
        // No header: the permission the endpoint is known to need.
        let c = check(&ok, forbidden(None), reply(200, "[]"));
        assert!(
            c.message.contains("issues listed; pull requests refused"),
            "{}",
            c.message
        );
        assert!(
            c.message.contains("lacks pull_requests=read"),
            "{}",
            c.message
        );
        // A header with odd characters is not repeated.
        let c = check(
            &ok,
            reply(200, "[]"),
            forbidden(Some("issues=read\u{1b}[31m")),
        );
        assert!(c.message.contains("lacks issues=read;"), "{}", c.message);

        // Refused for a spent rate limit: not a permission.
        let spent = Ok(Reply {
            status: 403,
            rate_remaining: Some(0),
            rate_reset: Some(NOW + 60),
            body: br#"{"message":"API rate limit exceeded for installation."}"#.to_vec(),
            ..Reply::default()
        });
        let c = check(&ok, reply(200, "[]"), spent);
        assert_eq!(c.status, Mark::Fail);
        assert!(
            c.message
                .contains("issues refused: the rate limit is spent until"),
            "{}",
            c.message
        );
        assert!(!c.message.contains("lacks"), "{}", c.message);

        let c = check(
            &ok,
            reply(200, "[]"),
            reply(410, r#"{"message":"Issues are disabled for this repo"}"#),
        );
        assert_eq!(c.status, Mark::Warn);
        assert!(
            c.message
                .contains("issues not found (HTTP 410 \"Issues are disabled for this repo\")"),
            "{}",
            c.message
        );
        let c = check(&ok, reply(200, "[]"), reply(502, ""));
        assert_eq!(c.status, Mark::Fail);
        assert!(c.message.contains("issues: HTTP 502"), "{}", c.message);
        let c = check(
            &ok,
            Err("x did not answer within the 1 s deadline".into()),
            reply(200, "[]"),
        );
        assert_eq!(c.status, Mark::Fail);

        // Outside the installation.
        let c = repo_check(
            &t,
            "o/r",
            REPO,
            &reply(404, r#"{"message":"Not Found"}"#),
            None,
        );
        assert_eq!(c.status, Mark::Warn);
        assert_eq!(
            c.message,
            "github.com: o/r: https://api.github.com/repos/o/r answered HTTP 404 \"Not Found\": \
             the App's installation cannot see o/r (the App is not installed there, or there is \
             no such repository); the fix is in the App's installation settings: Repository \
             access, add o/r"
        );
        let c = repo_check(&t, "o/r", REPO, &reply(401, ""), None);
        assert_eq!(c.status, Mark::Fail);
        assert!(
            c.message.contains("the platform (http://platform:8080/"),
            "{}",
            c.message
        );
        let c = repo_check(&t, "o/r", REPO, &reply(301, ""), None);
        assert_eq!(c.status, Mark::Fail);
        assert!(c.message.contains("not followed"), "{}", c.message);
    }

    #[test]
    fn push_outcomes() {
        let t = target();
        let url = "https://github.com/o/r.git/info/refs?service=git-receive-pack";
        let base = "https://github.com";
        let c = push_check(&t, "o/r", url, base, &reply(200, ""));
        assert_eq!(c.status, Mark::Ok);
        assert!(c.message.contains("the token can push"), "{}", c.message);
        let c = push_check(
            &t,
            "o/r",
            url,
            base,
            &reply(403, "Permission to o/r.git denied"),
        );
        assert_eq!(c.status, Mark::Warn);
        assert_eq!(
            c.message,
            format!(
                "github.com: o/r: the token cannot push ({url} answered HTTP 403): the App lacks \
                 contents=write; {GRANT}"
            )
        );
        let c = push_check(&t, "o/r", url, base, &reply(401, ""));
        assert_eq!(c.status, Mark::Fail);
        assert!(
            c.message.contains("the token is not valid"),
            "{}",
            c.message
        );
        let c = push_check(&t, "o/r", url, base, &reply(404, ""));
        assert_eq!(c.status, Mark::Warn);
        let c = push_check(&t, "o/r", url, base, &reply(302, ""));
        assert_eq!(c.status, Mark::Fail);
        assert!(c.message.contains("(--git-url HOST=URL)"), "{}", c.message);
        let c = push_check(&t, "o/r", url, base, &Err("cannot connect".into()));
        assert_eq!(c.status, Mark::Fail);
    }

    #[test]
    fn only_github_s_short_message_is_quoted() {
        assert_eq!(
            message(br#"{"message":"Bad credentials","documentation_url":"x"}"#).as_deref(),
            Some("Bad credentials")
        );
        assert_eq!(
            message(br#"{"message":"a\u001b[31m\"b"}"#).as_deref(),
            Some("a[31mb")
        );
        assert_eq!(
            message(&format!(r#"{{"message":"{}"}}"#, "x".repeat(500)).into_bytes())
                .map(|m| m.len()),
            Some(160)
        );
        assert_eq!(message(b"<html>secret page</html>"), None);
        assert_eq!(message(br#"{"message":""}"#), None);
        let r = Reply {
            status: 404,
            body: b"Not Found".to_vec(),
            ..Reply::default()
        };
        assert_eq!(said(&r), "HTTP 404");
    }

    #[test]
    fn reset_times_read_well() {
        assert_eq!(when(NOW, NOW), "2026-01-01T00:00:00Z (now)");
        assert_eq!(when(NOW + 30, NOW), "2026-01-01T00:00:30Z (in 30 s)");
        assert_eq!(when(NOW + 3900, NOW), "2026-01-01T01:05:00Z (in 1 h 5 min)");
        assert_eq!(when(NOW + 3601, NOW), "2026-01-01T01:00:01Z (in 1 h)");
    }
}

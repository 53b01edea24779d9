//! The installation, repository and push probes: what the App's
//! installation sees, whether it can list a repository's pull requests and
//! issues, and whether its token can push.

use super::words::{GRANT, accepted_permission, dead_token, rate_spent, said, spent_until};
use super::{Answer, Target};
use crate::commands::status::render::{Check, Mark, check};
use crate::token::now_unix;

/// The `/installation/repositories` line: how many repositories the App's
/// installation sees.
pub(super) fn installation_check(t: &Target, url: &str, reply: &Answer) -> Check {
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
pub(super) fn repo_check(
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
pub(super) fn push_check(t: &Target, repo: &str, url: &str, base: &str, reply: &Answer) -> Check {
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
    use super::super::fixtures::{NOW, forbidden, reply, target};
    use super::*;
    use crate::commands::status::github::Reply;

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
}

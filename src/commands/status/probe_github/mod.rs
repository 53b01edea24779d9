//! The platform's hosts (GitHub): with `--probe`, ask each one's API and git
//! with the platform's token what the GitHub App behind it may do: the rate
//! limit left, how many repositories the installation sees, and for each
//! `--probe-repo` whether the App sees it, can list its pull requests and
//! issues, and can push. A refusal names the permission GitHub asked for
//! (`X-Accepted-GitHub-Permissions`) and where it is granted. The answers are
//! fetched by `github.rs`; the functions here only judge them, and quote
//! nothing of a body but GitHub's short `message`.
//!
//! The session (which hosts, which URLs, one deadline, the order of the
//! probes) is here; what one reply means is in `rate.rs` (`/rate_limit`) and
//! `access.rs` (the installation, each `--probe-repo`, push), in the words of
//! `words.rs`.

mod access;
#[cfg(test)]
mod fixtures;
mod rate;
mod words;

use std::time::{Duration, Instant};

use super::Options;
use super::github::{self, Auth, Reply};
use super::render::{Check, Mark, check};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::token::{Token, now_unix};
use access::{installation_check, push_check, repo_check};
use rate::rate_check;

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

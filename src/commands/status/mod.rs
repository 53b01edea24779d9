//! `status`: named checks, each ok/warn/fail/skip, for a person debugging a
//! failed push at 2 a.m. (Git Credential Manager's `diagnose` shape). Exit 1
//! when any check fails; warnings alone leave 0. Never prints the token or
//! the bearer: only paths, modes, times and HTTP statuses.
//!
//! The checks are in `checks.rs` (bearer, token, platform, cache),
//! `history.rs` (what happened, for every owner), `journal.rs` (the
//! journal: where, how big, the last fail),
//! `git.rs` (the helpers git runs for each host), `probe.rs` (secret
//! hosts and their APIs, through `gitea.rs`), `probe_github/` (the
//! platform's hosts, through `github.rs`) and `gh.rs` (what gh gets: its
//! token variables, the proxy, gh-login); `cargo.rs` (whether cargo runs
//! git, and so this helper); `owners.rs` lists the cached
//! entries per owner and probes each `--probe-repo` with its owner's
//! token; `render.rs` prints them.

mod cargo;
mod checks;
mod gh;
mod git;
mod gitea;
mod github;
mod history;
mod journal;
mod owners;
mod probe;
mod probe_github;
mod redact;
mod render;
mod shell;

use crate::error::{Error, Result};
use crate::settings::{ApiUrl, Route, Settings};
pub use redact::Redactor;
pub use render::{Check, Mark};

/// What `status` was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Print the checks as JSON.
    pub json: bool,
    /// Also ask each served host's API.
    pub probe: bool,
    /// `OWNER/REPO` to probe on each probed host.
    pub probe_repos: Vec<String>,
    /// Where a host's API is, when not at its default URL.
    pub api_urls: Vec<ApiUrl>,
    /// Where git reaches a platform host, when not at `https://HOST`.
    pub git_urls: Vec<ApiUrl>,
    /// Probe only these hosts (empty: every served host).
    pub probe_hosts: Vec<String>,
}

impl Options {
    /// Whether `--probe` asks `host` (`--probe-host` names it, or none is named).
    pub fn probes_host(&self, host: &str) -> bool {
        self.probe_hosts.is_empty()
            || self
                .probe_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
    }
}

pub fn run(settings: &Settings, options: &Options) -> Result<()> {
    let named = (options.api_urls.iter().map(|a| ("--api-url", &a.host)))
        .chain(options.probe_hosts.iter().map(|h| ("--probe-host", h)));
    for (flag, host) in named {
        if settings.route(host) == Route::NotServed {
            return Err(Error::Usage(format!(
                "{flag} names {host}, which is not served (serving {}; see --host and \
                 --secret-host)",
                settings.describe_hosts()
            )));
        }
    }
    if let Some(git) = (options.git_urls.iter()).find(|g| !settings.serves_host(&g.host)) {
        return Err(Error::Usage(format!(
            "--git-url names {}, which is not served from the platform (serving {}; see --host)",
            git.host,
            settings.describe_hosts()
        )));
    }
    let (checks, redactor) = checks(settings, options);
    let text = render::report(&checks, options.json, &redactor)?;
    super::write_stdout(text.as_bytes())?;
    match checks.iter().any(|c| c.status == Mark::Fail) {
        true => Err(Error::ChecksFailed),
        false => Ok(()),
    }
}

/// Every check, in the order a person would follow the trail, and the
/// redactor that knows every secret they read (the one way to print them).
pub fn checks(settings: &Settings, options: &Options) -> (Vec<Check>, Redactor) {
    let mut checks = Vec::new();
    let mut redactor = Redactor::default();
    let bearer = checks::bearer(settings, &mut checks);
    let token = checks::token(settings, bearer.is_some(), &mut checks);
    let fetched = checks::platform(settings, bearer.as_ref(), &mut checks);
    checks::cache(settings, &mut checks);
    history::history(settings, &mut checks);
    journal::journal(settings, &mut checks);
    let secrets = probe::secret_hosts(settings, options, &mut checks);
    // Each --probe-repo O/R with O's installation's token.
    let groups = owners::probe_groups(settings, options, token.as_ref(), &mut checks);
    for (options, owner_token) in &groups {
        probe_github::platform_hosts(settings, options, owner_token.as_ref(), &mut checks);
    }
    checks.extend(git::checks(settings));
    cargo::check_cargo(&mut checks);
    gh::checks(settings, token.as_ref(), &mut checks);
    let owner_tokens = groups.iter().filter_map(|(_, t)| t.as_ref());
    let tokens = [&token, &fetched]
        .into_iter()
        .flatten()
        .chain(owner_tokens)
        .map(|t| &t.secret);
    for secret in bearer.iter().chain(tokens).chain(&secrets) {
        redactor.know(secret);
    }
    // The token variables gh would read (stale ones too).
    for name in crate::gh::ALL_VARIABLES {
        if let Some(value) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
            redactor.know(&crate::secret::Secret::new(value));
        }
    }
    (checks, redactor)
}

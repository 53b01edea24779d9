//! `status`: named checks, each ok/warn/fail/skip, for a person debugging a
//! failed push at 2 a.m. (Git Credential Manager's `diagnose` shape). Exit 1
//! when any check fails; warnings alone leave 0. Never prints the token or
//! the bearer: only paths, modes, times and HTTP statuses.
//!
//! The checks are in `checks.rs` (bearer, token, platform, cache),
//! `git.rs` (the helpers git runs for each host) and `probe.rs` (secret
//! hosts and their APIs, through `gitea.rs`) and `gh.rs` (what gh gets:
//! its token variables, the proxy, gh-login); `render.rs` prints them.

mod checks;
mod gh;
mod git;
mod gitea;
mod probe;
mod render;

use crate::error::{Error, Result};
use crate::settings::{ApiUrl, Settings};
pub use render::{Check, Mark};

/// What `status` was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Print the checks as JSON.
    pub json: bool,
    /// Also ask each secret host's API.
    pub probe: bool,
    /// `OWNER/REPO` to probe on each secret host.
    pub probe_repos: Vec<String>,
    /// Where a host's API is, when not at its default URL.
    pub api_urls: Vec<ApiUrl>,
}

pub fn run(settings: &Settings, options: &Options) -> Result<()> {
    if let Some(api) = options
        .api_urls
        .iter()
        .find(|a| settings.secret_host(&a.host).is_none())
    {
        return Err(Error::Usage(format!(
            "--api-url names {}, which is not a secret host (serving {}; see --secret-host)",
            api.host,
            settings.describe_hosts()
        )));
    }
    let checks = checks(settings, options);
    let text = render::report(&checks, options.json)?;
    super::write_stdout(text.as_bytes())?;
    match checks.iter().any(|c| c.status == Mark::Fail) {
        true => Err(Error::ChecksFailed),
        false => Ok(()),
    }
}

/// Every check, in the order a person would follow the trail.
pub fn checks(settings: &Settings, options: &Options) -> Vec<Check> {
    let mut checks = Vec::new();
    let bearer = checks::bearer(settings, &mut checks);
    let token = checks::token(settings, bearer.is_some(), &mut checks);
    checks::platform(settings, bearer.as_ref(), &mut checks);
    checks::cache(settings, &mut checks);
    probe::secret_hosts(settings, options, &mut checks);
    checks.extend(git::checks(settings));
    gh::checks(settings, token.as_ref(), &mut checks);
    checks
}

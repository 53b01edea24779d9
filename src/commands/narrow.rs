//! The owner and scope a command asks for: the owner as before (git's
//! path, gh's `-R`/`GH_REPO`/`origin`, `--owner`), and the scope the
//! settings narrow every token to (`Settings::narrowing`). Per repository,
//! the repository the client names: git's path (`get`), gh's (the proxy:
//! `gh::gh_repository`), or the current directory's `origin` (fetch-token,
//! exec, env). A request that asks per repository and names none is an
//! error: it is not served a wider token instead.

use anyhow::anyhow;

use crate::error::Result;
use crate::git::repo::origin_url;
use crate::owner::{Owner, Repository};
use crate::settings::{Route, Settings};
use crate::token::Request;

/// The owner and scope of a request from a command run in the current
/// directory, for `owner` (`--owner`; `None`: the default installation,
/// or per repository the origin's owner).
pub fn here(settings: &Settings, owner: Option<&Owner>) -> Result<Request> {
    let narrowing = &settings.narrowing;
    if !narrowing.per_repository {
        return Ok(Request::new(owner.cloned(), narrowing.scope.clone()));
    }
    let serves = |host: &str| settings.route(host) == Route::Platform;
    let git_dir = std::env::var_os("GIT_DIR").map(std::path::PathBuf::from);
    let origin = std::env::current_dir()
        .ok()
        .and_then(|cwd| origin_url(&cwd, git_dir.as_deref()))
        .and_then(|url| Repository::from_remote_url(&url, &serves));
    if let (Some(asked), Some(repo)) = (owner, &origin)
        && *asked != repo.owner
    {
        return Err(anyhow!(
            "--per-repository: the current directory's origin is {}/{}, not a repository of \
             {asked} (--owner)",
            repo.owner,
            repo.name
        )
        .into());
    }
    of_repository(settings, owner.cloned(), origin.as_ref())
}

/// The owner and scope of a request naming `repository` (`None`: none
/// named), whose owner is otherwise `owner`.
pub fn of_repository(
    settings: &Settings,
    owner: Option<Owner>,
    repository: Option<&Repository>,
) -> Result<Request> {
    let scope = settings
        .narrowing
        .scope_for(repository.map(|r| r.name.as_str()))
        .map_err(|why| anyhow!("{why}"))?;
    let owner = match repository {
        Some(repo) if settings.narrowing.per_repository => Some(repo.owner.clone()),
        _ => owner,
    };
    Ok(Request::new(owner, scope))
}

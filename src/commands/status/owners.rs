//! One installation per owner, as `status` shows it: the cached entries
//! (owner, a narrowed token's scope, and minutes left, never a token), and `--probe-repo O/R` probed
//! with O's installation's token.

use super::Options;
use super::render::{Check, Mark, check};
use crate::owner::Owner;
use crate::settings::{Route, Settings};
use crate::token::cache::Cache;
use crate::token::{self, Token, now_unix};

/// The cached entries, for the cache check: `default 52 min left (serves
/// every owner), orgb 58 min left`; `None` when there is none.
pub fn entries(settings: &Settings) -> Option<String> {
    let dir = settings.cache_dir.as_ref()?;
    let now = now_unix();
    let listed: Vec<String> = Cache::all(dir)
        .iter()
        .filter_map(|cache| {
            let entry = cache.read().ok()??;
            let mut name = cache.owner().unwrap_or("default").to_string();
            // A narrowed token's entry: its scope, as asked.
            if let Some(scope) = &entry.key.scope {
                name.push_str(&format!(" narrowed to {scope}"));
            }
            let left = entry.good_until() - now;
            let state = match (left > 0, entry.key.platform == settings.platform_url) {
                (false, _) => "expired".to_string(),
                (true, true) => format!("{} min left", left / 60),
                (true, false) => "for another platform".to_string(),
            };
            let every = if entry.any_owner {
                " (serves every owner: the platform ignores owners)"
            } else {
                ""
            };
            Some(format!("{name} {state}{every}"))
        })
        .collect();
    (!listed.is_empty()).then(|| listed.join(", "))
}

/// The `--probe-repo`s grouped by owner, each group with its owner's
/// token: the options to probe each group with, and its token. Without
/// `--probe` or repositories, one group: all of them with `default`.
pub fn probe_groups(
    settings: &Settings,
    options: &Options,
    default: Option<&Token>,
    checks: &mut Vec<Check>,
) -> Vec<(Options, Option<Token>)> {
    if !options.probe || options.probe_repos.is_empty() {
        return vec![(options.clone(), default.cloned())];
    }
    let serves = |host: &str| settings.route(host) == Route::Platform;
    let mut groups: Vec<(Option<Owner>, Vec<String>)> = Vec::new();
    for repo in &options.probe_repos {
        let owner = Owner::from_repo_arg(repo, &serves);
        match groups.iter_mut().find(|(o, _)| *o == owner) {
            Some((_, repos)) => repos.push(repo.clone()),
            None => groups.push((owner, vec![repo.clone()])),
        }
    }
    groups
        .into_iter()
        .filter_map(|(owner, repos)| {
            let token = match &owner {
                None => default.cloned(),
                Some(owner) => match token::platform_token_for(settings, Some(owner)) {
                    Ok(token) => Some(token),
                    Err(e) => {
                        checks.push(check(
                            "api",
                            Mark::Fail,
                            format!(
                                "{}: no token of {owner}'s installation: {e:#}",
                                repos.join(", ")
                            ),
                        ));
                        return None;
                    }
                },
            };
            let options = Options {
                probe_repos: repos,
                ..options.clone()
            };
            Some((options, token))
        })
        .collect()
}

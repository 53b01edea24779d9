//! One installation per owner, as `status` shows it: the cached entries
//! (owner, a narrowed token's scope, and minutes left, never a token), and `--probe-repo O/R` probed
//! with O's installation's token.

use super::Options;
use super::render::{Check, Mark, check};
use crate::owner::Owner;
use crate::settings::{Route, Settings};
use std::path::Path;

use crate::token::cache::{Cache, ENTRY_FILE};
use crate::token::{self, Token, now_unix};

/// How many owners a line of `status` names; past them it says how many
/// more there are (300 owners' entries made a 6 KB line).
pub const SHOWN: usize = 5;

/// The cached entries, for the cache check: `default 52 min left (serves
/// every owner), orgb 58 min left`, the live ones first, at most [`SHOWN`]
/// owners and then `and N more (M expired)`; `None` when there is none.
pub fn entries(settings: &Settings) -> Option<String> {
    let dir = settings.cache_dir.as_ref()?;
    let now = now_unix();
    let mut listed: Vec<(bool, bool, String)> = Cache::all(dir)
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
            Some((
                cache.owner().is_some(),
                left <= 0,
                format!("{name} {state}{every}"),
            ))
        })
        .collect();
    // The default entry first, then the live ones (a stable sort: by owner).
    listed.sort_by_key(|(owner, expired, _)| (*owner, *expired));
    let more = listed.len().saturating_sub(SHOWN);
    let expired_more = listed.iter().skip(SHOWN).filter(|(_, e, _)| *e).count();
    let mut shown: Vec<String> = listed.into_iter().take(SHOWN).map(|(.., s)| s).collect();
    if more > 0 {
        shown.push(format!("and {more} more ({expired_more} expired)"));
    }
    (!shown.is_empty()).then(|| shown.join(", "))
}

/// Every owner's entry the cache directory has a file of (its token, or
/// only its history: an owner the platform has no installation for has
/// no token), sorted by owner.
pub fn owner_caches(dir: &Path) -> Vec<Cache> {
    let mut owners: Vec<Owner> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let rest = name.strip_prefix(ENTRY_FILE)?.strip_prefix('@')?;
            // `token@OWNER`, `token@OWNER.history`, …: owners have no dot.
            Owner::parse(rest.split('.').next()?)
        })
        .collect();
    owners.sort_by_key(Owner::key);
    owners.dedup_by_key(|o| o.key());
    owners
        .iter()
        .map(|o| Cache::for_owner(dir, Some(o)))
        .collect()
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

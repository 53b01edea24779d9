//! `env [--shell sh|bash|zsh|fish] [--json]`: the assignments that bring
//! gh's token variables up to date, for `eval` (ssh-agent's `-s`, direnv's
//! `export`). Whose token: `--owner`'s, else that of the owner of the
//! current repository's `origin` (the gh proxy's rule), else the default.
//! Which variables: [`gh_token_variables`], the one rule. Printed whole or
//! not at all, so a failed `eval "$(… env)"` changes nothing; except when
//! narrowed (`MOLECULE_TOKEN_PERMISSIONS`, …): then a failure empties the
//! variables, so that the shell never keeps a wider token.
//!
//! With the hidden `--hook` (what the scripts of `shell-init` pass before
//! each prompt and from `BASH_ENV`), a failure prints its line once and then
//! stays quiet until a success, or until a token's life has passed: a
//! platform outage must not print a line at every prompt or in the output
//! of every command an agent runs. The memory is a file in the cache
//! directory, `shell-warned`, holding no secret.

use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::gh::{current_repo_owner, gh_token_variables};
use crate::owner::Owner;
use crate::secret::Secret;
use crate::settings::Settings;
use crate::token;

/// How `env` spells its assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// POSIX sh, and bash and zsh: `export NAME='…'`.
    Sh,
    /// fish: `set -gx NAME '…'`.
    Fish,
    /// `{"NAME":"…",…}`, as `direnv export json` prints.
    Json,
}

/// The hook's memory of a failure it reported.
const WARNED: &str = "shell-warned";
/// A reported failure is not reported again for this long (a token's life),
/// unless a success comes between.
const WARN_AGAIN_AFTER: Duration = Duration::from_secs(3600);

/// `owner`: whose installation's token (`--owner`); `None`: the owner of
/// the current repository's `origin` (as the gh proxy takes it, git not
/// run), else the default.
pub fn run(settings: &Settings, syntax: Syntax, hook: bool, owner: Option<&Owner>) -> Result<()> {
    let from_origin = match owner {
        Some(_) => None,
        None => std::env::current_dir().ok().and_then(|cwd| {
            let git_dir = std::env::var_os("GIT_DIR").map(std::path::PathBuf::from);
            current_repo_owner(settings, &cwd, git_dir.as_deref())
        }),
    };
    let owner = owner.or(from_origin.as_ref());
    let names = gh_token_variables(settings);
    if names.is_empty() {
        // No platform host that gh reads a variable for: nothing to set.
        return super::write_stdout(render(syntax, &[], None).as_bytes());
    }
    super::journal_target(settings, owner, None);
    let fetched = super::narrow::here(settings, owner)
        .and_then(|wanted| Ok(token::token_for(settings, &wanted)?));
    // Fail closed: a narrowed shell never keeps the wider token its
    // environment may hold (the container's, from its start); the
    // variables are emptied, and the failure reported all the same.
    if fetched.is_err() && !settings.narrowing.is_full() {
        super::write_stdout(render(syntax, &names, None).as_bytes())?;
    }
    match fetched {
        Ok(token) => {
            if hook {
                forget_warning(settings);
            }
            super::write_stdout(render(syntax, &names, Some(&token.secret)).as_bytes())
        }
        Err(e) if hook && !warn_now(settings) => {
            crate::diag::debug!("env --hook: not repeating: {e}");
            Err(Error::Reported)
        }
        Err(e) => Err(e),
    }
}

/// The assignments of `token` to `names`, whole.
pub fn render(syntax: Syntax, names: &[&str], token: Option<&Secret>) -> String {
    let value = token.map(Secret::expose).unwrap_or_default();
    match syntax {
        Syntax::Sh => names
            .iter()
            .map(|n| format!("export {n}={}\n", sh_quote(value)))
            .collect(),
        Syntax::Fish => names
            .iter()
            .map(|n| format!("set -gx {n} {}\n", fish_quote(value)))
            .collect(),
        Syntax::Json => {
            let map: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .map(|n| (n.to_string(), value.into()))
                .collect();
            format!("{}\n", serde_json::Value::Object(map))
        }
    }
}

/// One word for sh, bash and zsh, always single-quoted.
pub fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// One word for fish: inside single quotes fish reads `\\` and `\'`.
pub fn fish_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

/// Should the hook print this failure? Yes unless it printed one less than
/// [`WARN_AGAIN_AFTER`] ago with no success since; remembers that it did.
/// Without a cache directory there is no memory: every failure prints.
fn warn_now(settings: &Settings) -> bool {
    let Some(dir) = &settings.cache_dir else {
        return true;
    };
    let path = dir.join(WARNED);
    let recent = std::fs::symlink_metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < WARN_AGAIN_AFTER);
    if recent {
        return false;
    }
    let cache = token::cache::Cache::new(dir);
    if let Err(e) = cache.write_file(WARNED, "") {
        crate::diag::debug!("env --hook: cannot remember the warning: {}", e.0);
    }
    true
}

/// A success: the next failure is news again.
fn forget_warning(settings: &Settings) {
    if let Some(dir) = &settings.cache_dir {
        let _ = std::fs::remove_file(dir.join(WARNED));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s.to_string())
    }

    #[test]
    fn assignments_per_syntax() {
        let t = secret("ab'c\\d");
        let names = ["GH_TOKEN", "GITHUB_TOKEN"];
        assert_eq!(
            render(Syntax::Sh, &names, Some(&t)),
            "export GH_TOKEN='ab'\\''c\\d'\nexport GITHUB_TOKEN='ab'\\''c\\d'\n"
        );
        assert_eq!(
            render(Syntax::Fish, &names, Some(&t)),
            "set -gx GH_TOKEN 'ab\\'c\\\\d'\nset -gx GITHUB_TOKEN 'ab\\'c\\\\d'\n"
        );
        assert_eq!(
            render(Syntax::Json, &names, Some(&t)),
            "{\"GH_TOKEN\":\"ab'c\\\\d\",\"GITHUB_TOKEN\":\"ab'c\\\\d\"}\n"
        );
        assert_eq!(render(Syntax::Sh, &[], None), "");
        assert_eq!(render(Syntax::Json, &[], None), "{}\n");
    }
}

//! Conditional includes (`[includeIf "gitdir:~/work/"] path = work.inc`)
//! that bring in a credential helper for a host configure serves.
//!
//! configure keeps as fallbacks only the helpers that apply everywhere
//! (location.rs reads the config from outside any repository): a helper
//! that applies in some repositories only must not become a fallback in
//! every one, and configure cannot write a conditional fallback into the
//! user's included file (it owns only its own lines). Inside a matching
//! repository git reads the included helper where the `includeIf` stands,
//! before configure's block, whose reset line then hides it. That is never
//! silent: configure warns, naming the condition, the file holding it, the
//! included file and what the user can do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::git::config::{self, Entry};
use crate::git::helpers::helper_key;
use crate::git::url::{Applies, applies};

/// One conditional include that brings in a helper for the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conditional {
    /// The condition as written: `gitdir:~/work/`.
    pub condition: String,
    /// The file holding the `includeIf`.
    pub file: String,
    /// The included file.
    pub included: PathBuf,
}

impl Conditional {
    /// The warning for `host`, one line.
    pub fn warning(&self, host: &str, target: &Path) -> String {
        format!(
            "[includeIf \"{}\"] in {} brings in a credential helper for https://{host}/ from {}; \
             inside matching repositories it now comes before this helper's section in {}, \
             whose reset line hides it: to keep it there as a fallback, move that includeIf \
             below the section and wrap the helper in the included file as \
             `molecule-git-token-helper fallback -- 'HELPER'` (README: conditional includes)",
            self.condition,
            self.file,
            self.included.display(),
            target.display()
        )
    }
}

/// The conditional includes among `entries` (as read from outside any
/// repository) whose file holds a helper for `host` (includes in it
/// followed).
pub fn conditional_helpers(entries: &[Entry], host: &str) -> Vec<Conditional> {
    let mut found = Vec::new();
    for entry in entries {
        let Some(condition) = entry
            .key
            .strip_prefix("includeif.")
            .and_then(|k| k.strip_suffix(".path"))
        else {
            continue;
        };
        let (Some(value), Some(file)) = (entry.value.as_deref(), entry.file()) else {
            continue;
        };
        let Some(included) = include_path(value, file) else {
            continue;
        };
        if !included.is_file() {
            continue; // git ignores an include that is not there
        }
        let args: Vec<OsString> = vec![
            "--file".into(),
            included.clone().into(),
            "--includes".into(),
        ];
        let what = format!("git config --file {} --list", included.display());
        let Ok(inside) = config::list_everywhere(&args, &what) else {
            continue;
        };
        let has_helper = inside.iter().any(|e| {
            let Some(pattern) = helper_key(&e.key) else {
                return false;
            };
            let for_host = pattern.is_none_or(|p| applies(p, host) != Applies::No);
            for_host && e.value.as_deref().is_some_and(|v| !v.is_empty())
        });
        if has_helper {
            found.push(Conditional {
                condition: condition.to_string(),
                file: file.display().to_string(),
                included,
            });
        }
    }
    found
}

/// An include's path as git resolves it (config.c, handle_path_include):
/// `~/` is the home directory; a relative path is relative to the
/// directory of the file holding the include.
fn include_path(value: &str, holder: &Path) -> Option<PathBuf> {
    let path = match value.strip_prefix("~/") {
        Some(rest) => PathBuf::from(std::env::var_os("HOME")?).join(rest),
        None if value.starts_with('~') => return None, // ~user: not followed here
        None => PathBuf::from(value),
    };
    if path.is_absolute() {
        return Some(path);
    }
    Some(holder.parent()?.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_paths_as_git_resolves_them() {
        let holder = Path::new("/h/.gitconfig");
        assert_eq!(
            include_path("work.inc", holder),
            Some(PathBuf::from("/h/work.inc"))
        );
        assert_eq!(
            include_path("/etc/x", holder),
            Some(PathBuf::from("/etc/x"))
        );
        assert_eq!(include_path("~bob/x", holder), None);
    }
}

//! The `origin` remote of the repository a directory is in, read from the
//! repository's config file without running git (the gh proxy asks on every
//! gh command; spawning git would cost more than the rest of the proxy).
//!
//! Found as git finds it, in the common cases: `GIT_DIR` when set; else the
//! nearest `.git` from the directory up, a directory or a `gitdir: PATH`
//! file (a linked worktree, a submodule), whose `commondir` names the main
//! repository's directory where the config lives. Not followed: `include`
//! and `includeIf` (an origin URL defined only in an included file is not
//! seen) and `url.*.insteadOf` rewriting; the answer is then "no owner",
//! and gh gets the default token.

use std::fs;
use std::path::{Path, PathBuf};

/// The largest config file read.
const MAX_CONFIG: u64 = 1024 * 1024;

/// The URL of `remote.origin.url` of the repository `dir` is in, if any.
pub fn origin_url(dir: &Path, git_dir_var: Option<&Path>) -> Option<String> {
    let git_dir = match git_dir_var {
        Some(git_dir) => dir.join(git_dir),
        None => find_git_dir(dir)?,
    };
    let common = match read_small(&git_dir.join("commondir")) {
        Some(text) => git_dir.join(text.trim_end_matches(['\n', '\r'])),
        None => git_dir,
    };
    remote_url(&read_small(&common.join("config"))?, "origin")
}

/// The nearest `.git` from `dir` up: its directory, or the one a
/// `gitdir:` file names.
fn find_git_dir(dir: &Path) -> Option<PathBuf> {
    for candidate in dir.ancestors() {
        let dot_git = candidate.join(".git");
        let Ok(meta) = fs::metadata(&dot_git) else {
            continue;
        };
        if meta.is_dir() {
            return Some(dot_git);
        }
        let text = read_small(&dot_git)?;
        let target = text.strip_prefix("gitdir:")?.trim();
        return Some(candidate.join(target));
    }
    None
}

fn read_small(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_CONFIG {
        return None;
    }
    fs::read_to_string(path).ok()
}

/// The first `url` of `[remote "NAME"]` in a config file's text: section
/// names without case, the subsection exact, keys without case, a value
/// unquoted and with its comment cut.
pub fn remote_url(config: &str, name: &str) -> Option<String> {
    let mut in_section = false;
    for line in config.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.split(']').next().unwrap_or("");
            in_section = match header.split_once(char::is_whitespace) {
                Some((section, sub)) => {
                    section.eq_ignore_ascii_case("remote")
                        && sub
                            .trim()
                            .strip_prefix('"')
                            .and_then(|s| s.strip_suffix('"'))
                            == Some(name)
                }
                // The old `[remote.NAME]` form.
                None => header.eq_ignore_ascii_case(&format!("remote.{name}")),
            };
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("url") {
            return Some(config_value(value.trim()));
        }
    }
    None
}

/// A value as git reads it, for the simple values URLs are: quotes
/// removed, a comment (`#`, `;` outside quotes) cut.
fn config_value(raw: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in raw.chars() {
        match c {
            '"' => quoted = !quoted,
            '#' | ';' if !quoted => break,
            c => out.push(c),
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_origin_among_other_sections() {
        let config = "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://x/u/v\n\
                      [Remote \"origin\"] # ours\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n\
                      \tURL = \"https://github.com/orgB/x.git\" ; a comment\n";
        assert_eq!(
            remote_url(config, "origin").as_deref(),
            Some("https://github.com/orgB/x.git")
        );
        assert_eq!(
            remote_url(config, "upstream").as_deref(),
            Some("https://x/u/v")
        );
        assert_eq!(remote_url(config, "none"), None);
        assert_eq!(
            remote_url("[remote.origin]\nurl = git@github.com:o/r\n", "origin").as_deref(),
            Some("git@github.com:o/r")
        );
    }

    #[test]
    fn a_worktree_reads_the_main_repositorys_config() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main/.git");
        fs::create_dir_all(main.join("worktrees/wt")).unwrap();
        fs::write(
            main.join("config"),
            "[remote \"origin\"]\n\turl = https://github.com/orgA/m\n",
        )
        .unwrap();
        fs::write(main.join("worktrees/wt/commondir"), "../..\n").unwrap();
        let wt = dir.path().join("wt/sub/dir");
        fs::create_dir_all(&wt).unwrap();
        fs::write(
            dir.path().join("wt/.git"),
            format!("gitdir: {}\n", main.join("worktrees/wt").display()),
        )
        .unwrap();
        assert_eq!(
            origin_url(&wt, None).as_deref(),
            Some("https://github.com/orgA/m")
        );
        assert_eq!(
            origin_url(dir.path(), Some(&main)).as_deref(),
            Some("https://github.com/orgA/m")
        );
        assert_eq!(origin_url(dir.path(), None), None);
    }
}

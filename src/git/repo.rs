//! The `origin` remote of the repository a directory is in, read from the
//! config files without running git (the gh proxy asks on every gh
//! command, and the shell hook before every prompt; spawning git would
//! cost more than the rest of either).
//!
//! Found as git finds it, in the common cases: `GIT_DIR` when set; else,
//! from the directory up, the nearest `.git` (a directory, or a `gitdir:
//! PATH` file: a linked worktree, a submodule) or a directory that is
//! itself a git directory (a bare repository: `HEAD`, `objects/` and
//! `refs/` at its top, its config there). A git directory's `commondir`
//! names the main repository's directory, where the config lives.
//!
//! The URL is rewritten as git rewrites it for a fetch: by the
//! `url.BASE.insteadOf` whose value is the longest prefix of it, from the
//! system config (`GIT_CONFIG_SYSTEM`, else `/etc/gitconfig`; none with
//! `GIT_CONFIG_NOSYSTEM`), the global ones (`GIT_CONFIG_GLOBAL`, else
//! `$XDG_CONFIG_HOME/git/config` and `~/.gitconfig`) and the repository's.
//! Not followed: `include` and `includeIf` (an origin URL or an insteadOf
//! defined only in an included file is not seen), `GIT_CONFIG_COUNT`'s
//! variables, `-c`, a worktree's own `config.worktree`, and
//! `pushInsteadOf` (pushes only). The answer is then the URL as written, or
//! "no owner", and gh gets the default token.

use std::fs;
use std::path::{Path, PathBuf};

/// The largest config file read.
const MAX_CONFIG: u64 = 1024 * 1024;

/// The URL of `remote.origin.url` of the repository `dir` is in, if any,
/// rewritten by `url.*.insteadOf`.
pub fn origin_url(dir: &Path, git_dir_var: Option<&Path>) -> Option<String> {
    let git_dir = match git_dir_var {
        Some(git_dir) => dir.join(git_dir),
        None => find_git_dir(dir)?,
    };
    let common = match read_small(&git_dir.join("commondir")) {
        Some(text) => git_dir.join(text.trim_end_matches(['\n', '\r'])),
        None => git_dir,
    };
    let config = read_small(&common.join("config"))?;
    let url = remote_url(&config, "origin")?;
    let mut configs: Vec<String> = outer_config_paths()
        .iter()
        .filter_map(|path| read_small(path))
        .collect();
    configs.push(config);
    Some(rewrite(&url, &configs))
}

/// The nearest `.git` from `dir` up (its directory, or the one a `gitdir:`
/// file names), or a directory that is a git directory itself (a bare
/// repository).
fn find_git_dir(dir: &Path) -> Option<PathBuf> {
    for candidate in dir.ancestors() {
        let dot_git = candidate.join(".git");
        let Ok(meta) = fs::metadata(&dot_git) else {
            if is_git_dir(candidate) {
                return Some(candidate.to_path_buf());
            }
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

/// Git's own test (setup.c's `is_git_directory`), without reading HEAD:
/// `HEAD` a file, `objects/` and `refs/` directories.
fn is_git_dir(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}

/// The config files git reads before the repository's (see the module's
/// comment), those that may exist.
fn outer_config_paths() -> Vec<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let truthy = |name: &str| {
        var(name).is_some_and(|v| {
            let v = v.to_string_lossy().to_ascii_lowercase();
            !matches!(v.as_str(), "0" | "false" | "no" | "off")
        })
    };
    let mut paths = Vec::new();
    if !truthy("GIT_CONFIG_NOSYSTEM") {
        paths.push(var("GIT_CONFIG_SYSTEM").map_or_else(|| "/etc/gitconfig".into(), PathBuf::from));
    }
    match std::env::var_os("GIT_CONFIG_GLOBAL") {
        Some(global) => paths.push(PathBuf::from(global)),
        None => {
            let home = var("HOME").map(PathBuf::from);
            match (var("XDG_CONFIG_HOME"), &home) {
                (Some(xdg), _) => paths.push(PathBuf::from(xdg).join("git/config")),
                (None, Some(home)) => paths.push(home.join(".config/git/config")),
                (None, None) => {}
            }
            if let Some(home) = home {
                paths.push(home.join(".gitconfig"));
            }
        }
    }
    paths
}

fn read_small(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_CONFIG {
        return None;
    }
    fs::read_to_string(path).ok()
}

/// One `key = value` of a config file, with the section it is in.
struct Item {
    /// Lower case.
    section: String,
    /// Exact (`[remote "origin"]`), or of the old `[remote.origin]` form.
    subsection: Option<String>,
    /// Lower case.
    key: String,
    value: String,
}

/// The items of a config file's text, in order: section names without
/// case, the subsection exact (its `\"` and `\\` unescaped), keys without
/// case, a value unquoted and with its comment cut. A key without `=` (a
/// boolean) has an empty value.
fn items(config: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut section = String::new();
    let mut subsection = None;
    for line in config.lines() {
        let mut line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let Some(end) = header.rfind(']') else {
                continue;
            };
            let (head, rest) = (&header[..end], header[end + 1..].trim());
            match head.split_once(char::is_whitespace) {
                Some((name, sub)) => {
                    section = name.to_ascii_lowercase();
                    let sub = sub.trim();
                    subsection = sub
                        .strip_prefix('"')
                        .and_then(|s| s.strip_suffix('"'))
                        .map(|s| s.replace("\\\"", "\"").replace("\\\\", "\\"));
                }
                None => match head.split_once('.') {
                    Some((name, sub)) => {
                        section = name.to_ascii_lowercase();
                        subsection = Some(sub.to_ascii_lowercase());
                    }
                    None => {
                        section = head.to_ascii_lowercase();
                        subsection = None;
                    }
                },
            }
            // `[section] key = value` on one line.
            if rest.is_empty() || rest.starts_with(['#', ';']) {
                continue;
            }
            line = rest;
        }
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key.trim(), config_value(value.trim())),
            None => (line, String::new()),
        };
        items.push(Item {
            section: section.clone(),
            subsection: subsection.clone(),
            key: key.to_ascii_lowercase(),
            value,
        });
    }
    items
}

/// The first `url` of `[remote "NAME"]` in a config file's text.
pub fn remote_url(config: &str, name: &str) -> Option<String> {
    items(config)
        .into_iter()
        .find(|i| i.section == "remote" && i.subsection.as_deref() == Some(name) && i.key == "url")
        .map(|i| i.value)
}

/// `url` rewritten as git rewrites a fetch URL: the `url.BASE.insteadOf`
/// value that is its longest prefix, in any of `configs`, replaced by
/// BASE (the first of equally long ones); `url` itself when none is.
pub fn rewrite(url: &str, configs: &[String]) -> String {
    let mut best: Option<(usize, String)> = None;
    for config in configs {
        for item in items(config) {
            let (Some(base), true) = (
                &item.subsection,
                item.section == "url" && item.key == "insteadof",
            ) else {
                continue;
            };
            let prefix = &item.value;
            if url.starts_with(prefix.as_str())
                && best.as_ref().is_none_or(|(len, _)| prefix.len() > *len)
            {
                best = Some((prefix.len(), format!("{base}{}", &url[prefix.len()..])));
            }
        }
    }
    best.map_or_else(|| url.to_string(), |(_, rewritten)| rewritten)
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

    #[test]
    fn a_bare_repository_has_its_config_at_its_top() {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("x.git");
        fs::create_dir_all(bare.join("objects/pack")).unwrap();
        fs::create_dir_all(bare.join("refs/heads")).unwrap();
        fs::write(bare.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(
            bare.join("config"),
            "[core]\n\tbare = true\n[remote \"origin\"]\n\turl = https://github.com/orgB/x\n",
        )
        .unwrap();
        for inside in [bare.clone(), bare.join("objects/pack")] {
            assert_eq!(
                origin_url(&inside, None).as_deref(),
                Some("https://github.com/orgB/x"),
                "{}",
                inside.display()
            );
        }
    }

    #[test]
    fn insteadof_rewrites_by_the_longest_prefix() {
        let global = "[url \"https://github.com/\"]\n\tinsteadOf = gh:\n\
                      [url \"https://github.com/orgC/\"]\n\tinsteadOf = gh:orgB/\n"
            .to_string();
        let local = "[url \"https://github.com/orgD/\"] insteadOf = \"gh:orgB/sp\"\n\
                     [url \"https://other/\"]\n\tpushInsteadOf = gh:\n"
            .to_string();
        let configs = [global, local];
        assert_eq!(rewrite("gh:orgA/x", &configs), "https://github.com/orgA/x");
        assert_eq!(rewrite("gh:orgB/x", &configs), "https://github.com/orgC/x");
        assert_eq!(
            rewrite("gh:orgB/special", &configs),
            "https://github.com/orgD/ecial"
        );
        assert_eq!(rewrite("https://x/y", &configs), "https://x/y");
    }
}

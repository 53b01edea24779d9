//! cargo's configuration, as far as this helper cares: whether cargo fetches
//! git dependencies with the git CLI (`net.git-fetch-with-cli`), which runs
//! git's credential helpers as git's config lists them, or with its own
//! libgit2 transport, which runs none of the helpers configure registers
//! (git2-rs reads only the last value of `credential.helper`,
//! `credential.https://HOST.helper` and the full URL's key: never the
//! reset line and helpers of a `[credential "https://HOST/"]` section).
//!
//! cargo reads, deepest first, `.cargo/config.toml` in the current directory
//! and each of its parents, then `$CARGO_HOME/config.toml` (default
//! `~/.cargo`); in each directory the legacy name `config` comes before
//! `config.toml` (cargo uses `config` when both exist). The variable
//! `CARGO_NET_GIT_FETCH_WITH_CLI` beats every file.

use std::path::{Path, PathBuf};

/// The key, in the `[net]` table.
pub const KEY: &str = "git-fetch-with-cli";

/// The variable that overrides the files.
pub const VARIABLE: &str = "CARGO_NET_GIT_FETCH_WITH_CLI";

/// `$CARGO_HOME` (when absolute), else `~/.cargo`.
pub fn home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")))
}

/// The config file cargo reads in `dir` (a `.cargo` directory or
/// `$CARGO_HOME`): `config` when it exists, since cargo then reads it and
/// not `config.toml`; else `config.toml`.
pub fn file_in(dir: &Path) -> PathBuf {
    let legacy = dir.join("config");
    match legacy.exists() {
        true => legacy,
        false => dir.join("config.toml"),
    }
}

/// `net.git-fetch-with-cli` as `text` sets it: `Ok(None)` when it does not
/// (or not as a boolean), `Err` when the text is not TOML.
pub fn fetch_with_cli(text: &str) -> Result<Option<bool>, String> {
    let doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        e.message().lines().next().unwrap_or("not TOML").to_string()
    })?;
    Ok(doc
        .get("net")
        .and_then(|net| net.get(KEY))
        .and_then(toml_edit::Item::as_bool))
}

/// What cargo run in a directory will do, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// Whether cargo fetches git dependencies with the git CLI.
    pub with_cli: bool,
    /// Where that comes from: the variable, a file, or cargo's default.
    pub source: String,
    /// Files cargo would read that are not TOML, with why.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// What cargo run in `cwd` will do: the variable, else the first file that
/// sets the key, deepest first, then `$CARGO_HOME`'s; else false.
pub fn effective(cwd: &Path) -> Effective {
    let mut unreadable = Vec::new();
    if let Some(value) = std::env::var_os(VARIABLE) {
        // cargo takes only `true` and `false`.
        let value = value.to_string_lossy();
        if let Ok(with_cli) = value.parse::<bool>() {
            return Effective {
                with_cli,
                source: format!("{VARIABLE}={value}"),
                unreadable,
            };
        }
    }
    let mut dirs: Vec<PathBuf> = cwd.ancestors().map(|d| d.join(".cargo")).collect();
    if let Some(home) = home()
        && !dirs.iter().any(|d| same_dir(d, &home))
    {
        dirs.push(home);
    }
    for dir in dirs {
        let file = file_in(&dir);
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        match fetch_with_cli(&text) {
            Ok(Some(with_cli)) => {
                return Effective {
                    with_cli,
                    source: file.display().to_string(),
                    unreadable,
                };
            }
            Ok(None) => {}
            Err(e) => unreadable.push((file, e)),
        }
    }
    Effective {
        with_cli: false,
        source: "cargo's default".to_string(),
        unreadable,
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(a), Ok(b)) if a == b
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_key_in_every_spelling() {
        for text in [
            "[net]\ngit-fetch-with-cli = true\n",
            "net.git-fetch-with-cli = true\n",
            "net = { retry = 2, git-fetch-with-cli = true }\n",
            "[net]\nretry = 2\ngit-fetch-with-cli = true\n[net.ssh]\nknown-hosts = []\n",
        ] {
            assert_eq!(fetch_with_cli(text), Ok(Some(true)), "{text}");
        }
        assert_eq!(
            fetch_with_cli("[net]\ngit-fetch-with-cli = false\n"),
            Ok(Some(false))
        );
        assert_eq!(
            fetch_with_cli("[net]\ngit-fetch-with-cli = 'yes'\n"),
            Ok(None)
        );
        assert_eq!(fetch_with_cli("[http]\ncainfo = '/x'\n"), Ok(None));
        assert!(fetch_with_cli("[net\n").is_err());
    }

    #[test]
    fn a_legacy_config_is_the_file_cargo_reads() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(file_in(dir.path()), dir.path().join("config.toml"));
        std::fs::write(dir.path().join("config.toml"), "").unwrap();
        std::fs::write(dir.path().join("config"), "").unwrap();
        assert_eq!(file_in(dir.path()), dir.path().join("config"));
    }
}

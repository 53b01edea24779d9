//! Where configure and unconfigure act: the config file `git config
//! --global`/`--system`/`--file` would write, the entries git reads up to
//! it, and the program path to write into it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

use crate::diag::io_reason;
use crate::git::config::{self, Entry};
use crate::git::helpers::PROGRAM_NAME;

/// The path to write into git's config: the copy found on PATH when it is
/// this very program (as gh does, so that an upgrade which replaces the file
/// or repoints a symlink on PATH leaves a working path), else this program's
/// canonical path.
pub fn program_path() -> Result<String> {
    let exe = std::env::current_exe()
        .and_then(fs::canonicalize)
        .map_err(|e| anyhow!("cannot find this program's own path: {}", io_reason(&e)))?;
    if exe.file_name() != Some(PROGRAM_NAME.as_ref()) {
        bail!(
            "this program is {}; configure needs it installed as {PROGRAM_NAME}, the name by \
             which it recognises its own lines in git's config",
            exe.display()
        );
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join(PROGRAM_NAME))
            .find(|candidate| fs::canonicalize(candidate).is_ok_and(|c| c == exe))
    });
    let path = on_path.unwrap_or(exe);
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("this program's path {} is not UTF-8", path.display()))
}

/// The config file configure and unconfigure edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `git config --global` (honours `GIT_CONFIG_GLOBAL`).
    Global,
    /// `git config --system` (honours `GIT_CONFIG_SYSTEM`).
    System,
    /// `git config --file PATH`.
    File(PathBuf),
}

impl Location {
    /// The file `git config --global`/`--system`/`--file` would write, with
    /// symbolic links followed as git's lock file does.
    pub fn target(&self) -> Result<PathBuf> {
        let path = match self {
            Location::File(file) => file.clone(),
            Location::Global => {
                let out = git_var("GIT_CONFIG_GLOBAL", false)?;
                let paths: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
                // git_global_config(): GIT_CONFIG_GLOBAL alone; else ~/.gitconfig
                // unless only the XDG file ($XDG_CONFIG_HOME/git/config) is readable.
                match paths[..] {
                    [only] if std::env::var_os("GIT_CONFIG_GLOBAL").is_some() => only.into(),
                    [xdg, user] => {
                        let readable = |p: &str| fs::File::open(p).is_ok();
                        if !readable(user) && readable(xdg) {
                            xdg.into()
                        } else {
                            user.into()
                        }
                    }
                    _ => bail!("git names no global config file (is HOME set?)"),
                }
            }
            Location::System => {
                let out = git_var("GIT_CONFIG_SYSTEM", true)?;
                match out.lines().next() {
                    Some(path) if !path.is_empty() => path.into(),
                    _ => bail!("git names no system config file"),
                }
            }
        };
        let path = std::path::absolute(&path)
            .map_err(|e| anyhow!("cannot resolve {}: {}", path.display(), io_reason(&e)))?;
        Ok(fs::canonicalize(&path).unwrap_or(path))
    }

    /// The entries git reads up to and including `target`, in order: for
    /// --global the system and global scopes as git reads them here; for
    /// --system and --file the file itself, includes followed.
    pub fn entries_up_to(&self, target: &Path) -> Result<Vec<Entry>> {
        match self {
            Location::Global => Ok(config::list(&[], "git config --list")?
                .into_iter()
                .filter(|e| e.scope == "system" || e.scope == "global")
                .collect()),
            Location::System | Location::File(_) if !target.exists() => Ok(Vec::new()),
            Location::System | Location::File(_) => config::list(
                &["--file".into(), target.into(), "--includes".into()],
                &format!("git config --file {} --list", target.display()),
            ),
        }
    }
}

fn git_var(name: &str, with_system: bool) -> Result<String> {
    // `git config --system` writes the file even when GIT_CONFIG_NOSYSTEM
    // keeps git from reading it; `git var` names it only without.
    let env_remove: &[&str] = if with_system {
        &["GIT_CONFIG_NOSYSTEM"]
    } else {
        &[]
    };
    let args = ["var".into(), name.into()];
    let out = config::git_with(&args, &format!("git var {name}"), env_remove)?;
    String::from_utf8(out).map_err(|_| anyhow!("git var {name}: the path is not UTF-8"))
}

pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b || fs::canonicalize(a).is_ok_and(|a| a == b)
}

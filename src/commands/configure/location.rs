//! Where configure and unconfigure act: the config file `git config
//! --global`/`--system`/`--file` would write, the entries git reads up to
//! it, and the program path to write into it.

use std::ffi::OsString;
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
    /// symbolic links followed as git's lock file does. Worked out as every
    /// supported git documents it (git-config(1), FILES and ENVIRONMENT),
    /// not with `git var GIT_CONFIG_GLOBAL` (git 2.42 and later only).
    pub fn target(&self) -> Result<PathBuf> {
        let path = match self {
            Location::File(file) => file.clone(),
            Location::Global => global_file(&|name| std::env::var_os(name), &|p| {
                fs::File::open(p).is_ok()
            })?,
            Location::System => match std::env::var_os("GIT_CONFIG_SYSTEM") {
                Some(path) if path.is_empty() => bail!("GIT_CONFIG_SYSTEM is set but empty"),
                Some(path) => path.into(),
                None => compiled_in_system_file()?,
            },
        };
        let path = std::path::absolute(&path)
            .map_err(|e| anyhow!("cannot resolve {}: {}", path.display(), io_reason(&e)))?;
        Ok(fs::canonicalize(&path).unwrap_or(path))
    }

    /// The entries git reads up to and including `target`, in order, as
    /// they apply in every repository (conditional includes not followed:
    /// `conditional.rs` warns about those): for --global the system and
    /// global scopes; for --system and --file the file itself, includes
    /// followed.
    pub fn entries_up_to(&self, target: &Path) -> Result<Vec<Entry>> {
        match self {
            Location::Global => Ok(config::list_everywhere(&[], "git config --list")?
                .into_iter()
                .filter(|e| e.scope == "system" || e.scope == "global")
                .collect()),
            Location::System | Location::File(_) if !target.exists() => Ok(Vec::new()),
            Location::System | Location::File(_) => config::list_everywhere(
                &["--file".into(), target.into(), "--includes".into()],
                &format!("git config --file {} --list", target.display()),
            ),
        }
    }
}

/// The file `git config --global` writes (config.c's git_global_config):
/// `$GIT_CONFIG_GLOBAL` when set; else `~/.gitconfig`, unless that is not
/// readable and the XDG file (`$XDG_CONFIG_HOME/git/config`, by default
/// `~/.config/git/config`) is.
fn global_file(
    var: &dyn Fn(&str) -> Option<OsString>,
    readable: &dyn Fn(&Path) -> bool,
) -> Result<PathBuf> {
    if let Some(path) = var("GIT_CONFIG_GLOBAL") {
        if path.is_empty() {
            bail!("GIT_CONFIG_GLOBAL is set but empty");
        }
        return Ok(path.into());
    }
    let Some(home) = var("HOME") else {
        bail!("HOME is not set, so git has no global config file (set HOME or GIT_CONFIG_GLOBAL)");
    };
    let user = Path::new(&home).join(".gitconfig");
    let xdg = match var("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        Some(dir) => Path::new(&dir).join("git/config"),
        None => Path::new(&home).join(".config/git/config"),
    };
    Ok(if !readable(&user) && readable(&xdg) {
        xdg
    } else {
        user
    })
}

/// The system file this git was built with (`$(prefix)/etc/gitconfig`;
/// Debian's is `/etc/gitconfig`). Every supported git names it to the
/// editor of `git config --system --edit`, which reads the file only when
/// it exists and creates none: with `printf` as the editor, that is all it
/// does. (`git var GIT_CONFIG_SYSTEM` says it too, from git 2.42 on.)
fn compiled_in_system_file() -> Result<PathBuf> {
    let what = "GIT_EDITOR='printf %s' git config --system --edit";
    let args: Vec<OsString> = ["config", "--system", "--edit"].map(OsString::from).into();
    let out = config::git_env(
        &args,
        what,
        &["GIT_CONFIG_SYSTEM", "GIT_DIR", "GIT_WORK_TREE"],
        &[("GIT_EDITOR", "printf %s")],
        // Outside any repository: a repository's config is none of this.
        Some(Path::new("/")),
    )?;
    let path = String::from_utf8(out).map_err(|_| anyhow!("`{what}`: the path is not UTF-8"))?;
    if !path.starts_with('/') || path.contains('\n') {
        bail!("`{what}` printed {path:?}, not a path");
    }
    Ok(path.into())
}

pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b || fs::canonicalize(a).is_ok_and(|a| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(vars: &[(&str, &str)], readable: &[&str]) -> String {
        let var = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        };
        let readable = |p: &Path| readable.iter().any(|r| Path::new(r) == p);
        match global_file(&var, &readable) {
            Ok(p) => p.display().to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn the_global_file_as_git_picks_it_for_writing() {
        let home = ("HOME", "/h");
        assert_eq!(global(&[home, ("GIT_CONFIG_GLOBAL", "/g")], &[]), "/g");
        assert_eq!(global(&[home], &[]), "/h/.gitconfig");
        assert_eq!(
            global(&[home], &["/h/.config/git/config"]),
            "/h/.config/git/config"
        );
        assert_eq!(
            global(&[home], &["/h/.gitconfig", "/h/.config/git/config"]),
            "/h/.gitconfig"
        );
        let xdg = ("XDG_CONFIG_HOME", "/x");
        assert_eq!(global(&[home, xdg], &["/x/git/config"]), "/x/git/config");
        assert_eq!(
            global(&[home, xdg], &["/h/.config/git/config"]),
            "/h/.gitconfig"
        );
        assert_eq!(
            global(&[home, ("XDG_CONFIG_HOME", "")], &["/h/.config/git/config"]),
            "/h/.config/git/config"
        );
        assert!(global(&[xdg], &["/x/git/config"]).starts_with("error: HOME is not set"));
        assert!(global(&[("GIT_CONFIG_GLOBAL", "")], &[]).contains("empty"));
    }
}

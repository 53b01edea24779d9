//! What gh needs, shared by `exec`, the gh proxy, `gh-login`, `configure
//! --gh-proxy` and `status`: the variables gh reads a token from and the rule
//! for which of them get the platform's token; the `gh`s on PATH and whether
//! one is this program (the proxy's link); where `gh-login` keeps what it
//! last gave gh.

use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::secret::Secret;
use crate::settings::Settings;

/// The name the proxy answers to.
pub const GH: &str = "gh";

/// The variables gh reads a github.com token from.
const GITHUB_VARIABLES: [&str; 2] = ["GH_TOKEN", "GITHUB_TOKEN"];
/// The same and those gh reads an Enterprise host's token from.
pub const ALL_VARIABLES: [&str; 4] = [
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
];

/// The environment gh needs: the variables that get the platform's token.
/// `GH_TOKEN` and `GITHUB_TOKEN` always; `GH_ENTERPRISE_TOKEN` and
/// `GITHUB_ENTERPRISE_TOKEN` only when a served platform host is not
/// github.com, since gh hands those to any Enterprise host it talks to and
/// the token must never reach a host this program does not serve. The others
/// are left as they were. Used by `exec`, the gh proxy and `status`.
pub fn gh_token_variables(settings: &Settings) -> &'static [&'static str] {
    if settings.serves_enterprise() {
        &ALL_VARIABLES
    } else {
        &GITHUB_VARIABLES
    }
}

/// Put `token` in `command`'s environment as [`gh_token_variables`] says.
pub fn set_gh_token(command: &mut Command, settings: &Settings, token: &Secret) {
    for name in gh_token_variables(settings) {
        command.env(name, token.expose());
    }
}

/// This program's file, to tell it apart from the other `gh`s on PATH.
pub struct ThisProgram {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl ThisProgram {
    pub fn find() -> std::io::Result<ThisProgram> {
        let path = std::env::current_exe()?;
        let meta = std::fs::metadata(&path)?;
        Ok(ThisProgram {
            path,
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Does `candidate` (a symbolic link, say) resolve to this program? The
    /// same file, by its resolved path or its inode (a hard link).
    pub fn is(&self, candidate: &Path) -> bool {
        match std::fs::metadata(candidate) {
            Ok(meta) if meta.dev() == self.dev && meta.ino() == self.ino => true,
            Ok(_) => std::fs::canonicalize(candidate).is_ok_and(|c| c == self.path),
            Err(_) => false,
        }
    }
}

/// One `gh` found on PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundGh {
    /// `DIR/gh`, DIR as PATH has it.
    pub path: PathBuf,
    /// It resolves to this program: a proxy link.
    pub is_proxy: bool,
}

/// Every executable `gh` on `path` (a PATH value), in PATH's order.
pub fn gh_on_path<'a>(
    path: Option<&'a OsStr>,
    me: &'a ThisProgram,
) -> impl Iterator<Item = FoundGh> + 'a {
    let dirs = path.map(std::env::split_paths).into_iter().flatten();
    dirs.filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(GH))
        .filter(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|candidate| FoundGh {
            is_proxy: me.is(&candidate),
            path: candidate,
        })
}

/// The file in the cache directory remembering what `gh-login` last gave
/// gh for `host`: `gh-login.HOST`, mode 0600.
pub fn fingerprint_path(cache_dir: &Path, host: &str) -> PathBuf {
    cache_dir.join(format!("gh-login.{host}"))
}

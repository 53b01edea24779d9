//! What gh needs, shared by `exec`, the gh proxy, `gh-login`, `configure
//! --gh-proxy` and `status`: the variables gh reads a token from and the rule
//! for which of them get the platform's token; the `gh`s on PATH and whether
//! one is this program (the proxy's link); where `gh-login` keeps what it
//! last gave gh; whose installation's token a gh command gets.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::git::repo::origin_url;
use crate::owner::{Owner, Repository};
use crate::secret::Secret;
use crate::settings::{Route, Settings};

/// The name the proxy answers to.
pub const GH: &str = "gh";

/// The variables gh reads a github.com token from.
pub const GITHUB_VARIABLES: [&str; 2] = ["GH_TOKEN", "GITHUB_TOKEN"];
/// The variables gh reads an Enterprise host's token from.
pub const ENTERPRISE_VARIABLES: [&str; 2] = ["GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"];
/// All four.
pub const ALL_VARIABLES: [&str; 4] = [
    GITHUB_VARIABLES[0],
    GITHUB_VARIABLES[1],
    ENTERPRISE_VARIABLES[0],
    ENTERPRISE_VARIABLES[1],
];

/// The variable rule, in one place: which of gh's variables get the
/// platform's token. The github.com pair only when github.com is served
/// (gh sends `GH_TOKEN`/`GITHUB_TOKEN` to github.com whatever else it talks
/// to); the enterprise pair only when a served platform host is not
/// github.com (gh hands those to any Enterprise host). The others are left as
/// they were: the token must never reach a host this program does not serve.
/// Every place that sets, prints or checks these variables (the gh proxy,
/// `exec`, `env`, `shell-init`, `status`) asks this function.
pub fn gh_token_variables(settings: &Settings) -> Vec<&'static str> {
    let mut names = Vec::with_capacity(4);
    if settings.serves_host(crate::settings::DEFAULT_HOST) {
        names.extend(GITHUB_VARIABLES);
    }
    if settings.serves_enterprise() {
        names.extend(ENTERPRISE_VARIABLES);
    }
    names
}

/// Put `token` in `command`'s environment as [`gh_token_variables`] says.
pub fn set_gh_token(command: &mut Command, settings: &Settings, token: &Secret) {
    for name in gh_token_variables(settings) {
        command.env(name, token.expose());
    }
}

/// Where gh's command will work, as gh itself decides it: its `-R`/`--repo`
/// argument, else `GH_REPO`, else the current directory's repository.
pub struct GhContext<'a> {
    /// gh's arguments, without argv[0].
    pub args: &'a [OsString],
    pub gh_repo: Option<&'a OsStr>,
    pub cwd: Option<&'a Path>,
    /// `GIT_DIR`, when set.
    pub git_dir: Option<&'a Path>,
}

/// The owner whose installation's token gh gets: from `-R`/`--repo
/// [HOST/]OWNER/REPO`, else `GH_REPO`, else the `origin` remote of the
/// repository the current directory is in (its config file read, git not
/// run), when that names a served platform host. The first of these that is
/// present decides; `None` (no owner, or not a valid login): the default
/// token.
pub fn gh_owner(settings: &Settings, context: &GhContext<'_>) -> Option<Owner> {
    let serves = |host: &str| settings.route(host) == Route::Platform;
    if let Some(repo) = repo_argument(context.args) {
        return Owner::from_repo_arg(&repo.to_string_lossy(), &serves);
    }
    if let Some(repo) = context.gh_repo.filter(|r| !r.is_empty()) {
        return Owner::from_repo_arg(&repo.to_string_lossy(), &serves);
    }
    current_repo_owner(settings, context.cwd?, context.git_dir)
}

/// The owner of the `origin` remote of the repository `cwd` is in (`GIT_DIR`
/// when given), when it names a served platform host: its config files
/// read, git not run (see `git::repo`). What `env` and the shell hook ask
/// for when no `--owner` is given, as the proxy does.
pub fn current_repo_owner(
    settings: &Settings,
    cwd: &Path,
    git_dir: Option<&Path>,
) -> Option<Owner> {
    let serves = |host: &str| settings.route(host) == Route::Platform;
    let url = origin_url(cwd, git_dir)?;
    Owner::from_remote_url(&url, &serves)
}

/// The repository gh's command names, for the journal: `-R`/`--repo`,
/// else `GH_REPO` (not the current directory's); any user information in
/// it (a URL's password) redacted.
pub fn gh_repo_named(context: &GhContext<'_>) -> Option<String> {
    let named = repo_argument(context.args).or_else(|| {
        context
            .gh_repo
            .filter(|r| !r.is_empty())
            .map(OsStr::to_os_string)
    })?;
    Some(crate::secret::redact_url_userinfo(&named.to_string_lossy()))
}

/// The repository gh's command is about, from the same places as
/// [`gh_owner`] (for a token narrowed to it: `--per-repository`); `None`
/// when the first place present names none.
pub fn gh_repository(settings: &Settings, context: &GhContext<'_>) -> Option<Repository> {
    let serves = |host: &str| settings.route(host) == Route::Platform;
    if let Some(repo) = repo_argument(context.args) {
        return Repository::from_repo_arg(&repo.to_string_lossy(), &serves);
    }
    if let Some(repo) = context.gh_repo.filter(|r| !r.is_empty()) {
        return Repository::from_repo_arg(&repo.to_string_lossy(), &serves);
    }
    let url = origin_url(context.cwd?, context.git_dir)?;
    Repository::from_remote_url(&url, &serves)
}

/// The value of gh's `-R`/`--repo` (`-R X`, `-RX`, `--repo X`,
/// `--repo=X`), before any `--`.
fn repo_argument(args: &[OsString]) -> Option<OsString> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let bytes = arg.as_encoded_bytes();
        if bytes == b"--" {
            return None;
        }
        if bytes == b"-R" || bytes == b"--repo" {
            return args.next().cloned();
        }
        if let Some(value) = arg.to_str().and_then(|a| {
            a.strip_prefix("--repo=")
                .or_else(|| a.strip_prefix("-R").filter(|v| !v.is_empty()))
        }) {
            return Some(value.into());
        }
    }
    None
}

/// This program's file, to tell it apart from the other `gh`s on PATH.
pub struct ThisProgram {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl ThisProgram {
    /// This program's file: `/proc/self/exe`, or where there is no `/proc`
    /// (a sandbox), the path the kernel was asked to run (`AT_EXECFN`),
    /// else `argv[0]` as `execvp` would have found it on PATH. Told apart
    /// from other files by device and inode, as the kernel would.
    pub fn find() -> std::io::Result<ThisProgram> {
        let mut last = None;
        let candidates = [std::env::current_exe(), exec_fn(), argv0_on_path()];
        for candidate in candidates {
            let found = candidate.and_then(|path| {
                let meta = std::fs::metadata(&path)?;
                Ok(ThisProgram {
                    path,
                    dev: meta.dev(),
                    ino: meta.ino(),
                })
            });
            match found {
                Ok(me) => return Ok(me),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one way was tried"))
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

/// The path this process was started with, from the auxiliary vector
/// (`AT_EXECFN`): no `/proc` needed.
fn exec_fn() -> std::io::Result<PathBuf> {
    // SAFETY: getauxval has no preconditions; AT_EXECFN, when present, is
    // the address of the NUL-terminated path given to execve, which lives
    // as long as the process.
    let address = unsafe { libc::getauxval(libc::AT_EXECFN) };
    if address == 0 {
        return Err(std::io::Error::other("no AT_EXECFN"));
    }
    // SAFETY: see above.
    let name = unsafe { std::ffi::CStr::from_ptr(address as *const libc::c_char) };
    use std::os::unix::ffi::OsStrExt;
    Ok(PathBuf::from(OsStr::from_bytes(name.to_bytes())))
}

/// `argv[0]`, or the first executable of that name on PATH when it names
/// no directory (as `execvp` finds it).
fn argv0_on_path() -> std::io::Result<PathBuf> {
    let argv0 = std::env::args_os()
        .next()
        .ok_or_else(|| std::io::Error::other("no argv[0]"))?;
    let argv0 = PathBuf::from(argv0);
    if argv0.components().count() > 1 {
        return Ok(argv0);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(&argv0))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
}

/// A regular file this process may execute (its effective ids, as the
/// kernel checks at exec; a mode bit someone else has is not enough).
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(name) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, name.as_ptr(), libc::X_OK, libc::AT_EACCESS) == 0 }
}

/// One `gh` found on PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundGh {
    /// `DIR/gh`, DIR as PATH has it.
    pub path: PathBuf,
    /// It resolves to this program: a proxy link.
    pub is_proxy: bool,
}

/// Every `gh` on `path` (a PATH value) that this process may execute, in
/// PATH's order (one it may not is skipped, as `execvp` skips it).
pub fn gh_on_path<'a>(
    path: Option<&'a OsStr>,
    me: &'a ThisProgram,
) -> impl Iterator<Item = FoundGh> + 'a {
    let dirs = path.map(std::env::split_paths).into_iter().flatten();
    dirs.filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(GH))
        .filter(|candidate| is_executable(candidate))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Flags, resolve};

    fn rule(hosts: &str) -> Vec<&'static str> {
        let env = |name: &str| match name {
            "MOLECULE_GIT_HOSTS" => Some(hosts.into()),
            "XDG_RUNTIME_DIR" => Some("/run/user/7".into()),
            _ => None,
        };
        gh_token_variables(&resolve(&Flags::default(), &env).unwrap())
    }

    #[test]
    fn the_variable_rule() {
        assert_eq!(rule("github.com"), GITHUB_VARIABLES);
        assert_eq!(rule("GitHub.COM"), GITHUB_VARIABLES);
        // An Enterprise-only workspace: github.com's pair is not ours.
        assert_eq!(rule("ghe.corp.example"), ENTERPRISE_VARIABLES);
        assert_eq!(rule("GitHub.com,ghe.corp.example"), ALL_VARIABLES);
        // A port makes it another host: not github.com.
        assert_eq!(rule("github.com:8443"), ENTERPRISE_VARIABLES);
    }

    #[test]
    fn the_owner_of_a_gh_command() {
        let env = |name: &str| match name {
            "XDG_RUNTIME_DIR" => Some("/run/user/7".into()),
            _ => None,
        };
        let settings = resolve(&Flags::default(), &env).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("clone");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::write(
            repo.join(".git/config"),
            "[remote \"origin\"]\n\turl = https://github.com/orgB/y.git\n",
        )
        .unwrap();
        let owner = |args: &[&str], gh_repo: Option<&str>, cwd: &Path| {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            let context = GhContext {
                args: &args,
                gh_repo: gh_repo.map(OsStr::new),
                cwd: Some(cwd),
                git_dir: None,
            };
            gh_owner(&settings, &context).map(|o| o.to_string())
        };
        let orgb = Some("orgB".to_string());
        let orga = Some("orgA".to_string());
        assert_eq!(owner(&["pr", "list"], None, &repo), orgb);
        assert_eq!(owner(&["pr", "list"], None, &repo.join(".git")), orgb);
        assert_eq!(owner(&["pr", "list", "-R", "orgA/x"], None, &repo), orga);
        assert_eq!(owner(&["pr", "list", "-RorgA/x"], None, &repo), orga);
        assert_eq!(owner(&["pr", "list", "--repo=orgA/x"], None, &repo), orga);
        assert_eq!(
            owner(&["--repo", "github.com/orgA/x", "pr"], None, &repo),
            orga
        );
        assert_eq!(owner(&["pr", "list"], Some("orgA/x"), &repo), orga);
        // -R wins over GH_REPO, as in gh.
        assert_eq!(owner(&["-R", "orgB/x"], Some("orgA/x"), &repo), orgb);
        // Another host's repository, or no repository: the default token.
        assert_eq!(owner(&["-R", "gitlab.com/orgA/x"], None, &repo), None);
        assert_eq!(owner(&["api", "user"], None, dir.path()), None);
        // After `--` it is the command's argument, not gh's.
        assert_eq!(
            owner(&["api", "--", "-R", "orgA/x"], None, dir.path()),
            None
        );
    }
}

//! The gh proxy, the way rustup's proxies work: run under the name `gh` (a
//! symbolic link that `configure --gh-proxy` makes), this program finds the
//! next `gh` on `PATH` that is not itself and becomes it (exec, not a child:
//! argv, stdin, stdout, the exit status and signals pass through untouched),
//! with `GH_TOKEN` and `GITHUB_TOKEN` (and, when an Enterprise host is
//! served, `GH_ENTERPRISE_TOKEN` and `GITHUB_ENTERPRISE_TOKEN`) set to a fresh
//! token, whatever the environment held: gh reads those before its own
//! login, and a workspace's hold the stale token of its start.
//!
//! The token is that of the installation of the repository gh will work on
//! (`gh::gh_owner`: `-R`/`--repo`, `GH_REPO`, or the current repository's
//! `origin`), else the default one.
//!
//! Settings come from the environment only (gh's arguments are gh's). The
//! warm path is the token engine's: one small cache file, no runtime, no
//! HTTP client. When no token can be had, one stderr line says why and gh
//! runs with the environment as it was (it may have a login of its own).

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::diag::{self, debug, io_reason};
use crate::error::Error;
use crate::gh::{
    GH, GhContext, ThisProgram, gh_on_path, gh_owner, gh_repository, gh_token_variables,
    set_gh_token,
};
use crate::scope;
use crate::settings::{self, Flags};

use super::narrow;
use crate::token;

/// Set in the environment of the gh the proxy execs, to
/// `PID:PARENT_PID:UNIX_MS` (the proxy's process id, its parent's, and when):
/// exec keeps both ids, so a proxy that finds its own ids there, from less
/// than a minute ago, was exec'd by a proxy (two proxies, or a loop through
/// a wrapper), and stops. The children gh starts have other ids, so a gh
/// alias that runs gh again reaches the proxy as usual; and a process that
/// inherited the marker from a long-lived descendant of gh, with a reused
/// process id, does not match its parent and its time too.
pub const LOOP_MARKER: &str = "MOLECULE_GH_PROXY_PID";

/// How long a loop marker can be this process's own: a loop runs through
/// the proxy again within moments.
const LOOP_WINDOW_MS: i64 = 60_000;

/// This process's marker, made now.
fn loop_marker() -> String {
    format!(
        "{}:{}:{}",
        std::process::id(),
        parent_pid(),
        crate::token::cache::now_ms()
    )
}

fn parent_pid() -> i32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    unsafe { libc::getppid() }
}

/// Whether `marker` (the variable's value) was set by this very process
/// before an exec, less than a minute ago.
fn is_own_marker(marker: &OsStr) -> bool {
    let Some(text) = marker.to_str() else {
        return false;
    };
    let mut parts = text.split(':');
    let (Some(pid), Some(ppid), Some(at_ms), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let age = at_ms
        .parse::<i64>()
        .map(|at| crate::token::cache::now_ms() - at);
    pid == std::process::id().to_string()
        && ppid == parent_pid().to_string()
        && age.is_ok_and(|age| (0..LOOP_WINDOW_MS).contains(&age))
}

/// Is this program being run as `gh` (argv[0]'s file name)?
pub fn invoked_as_gh(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name() == Some(OsStr::new(GH))
}

/// Run as gh: become the next gh. Returns only on failure.
pub fn run(argv: &[OsString]) -> Error {
    let me = match ThisProgram::find() {
        Ok(me) => me,
        Err(e) => {
            return Error::CannotRun {
                code: 126,
                message: format!(
                    "gh proxy: cannot find this program's own file (not from /proc/self/exe, \
                     the path it was run by, nor argv[0] on PATH): {}",
                    io_reason(&e)
                ),
            };
        }
    };
    if std::env::var_os(LOOP_MARKER).is_some_and(|v| is_own_marker(&v)) {
        return Error::CannotRun {
            code: 127,
            message: format!(
                "gh proxy: another gh proxy ran this one ({}): PATH leads from one proxy to \
                 another instead of to the real gh; keep one gh link to this program on PATH",
                me.path().display()
            ),
        };
    }
    let path_var = std::env::var_os("PATH");
    let Some(gh) = gh_on_path(path_var.as_deref(), &me).find(|g| !g.is_proxy) else {
        return Error::CannotRun {
            code: 127,
            message: format!(
                "gh proxy: no gh on PATH but this proxy ({}); install the GitHub CLI \
                 (apt-get install gh) in a directory on PATH",
                me.path().display()
            ),
        };
    };

    let mut command = Command::new(&gh.path);
    if let Some(argv0) = argv.first() {
        command.arg0(argv0);
    }
    command
        .args(argv.iter().skip(1))
        .env(LOOP_MARKER, loop_marker());

    let env = |name: &str| std::env::var_os(name);
    match settings::resolve(&Flags::default(), &env) {
        Ok(settings) => {
            diag::set_verbose(settings.verbose);
            let cwd = std::env::current_dir().ok();
            let gh_repo = env("GH_REPO");
            let git_dir = env("GIT_DIR").map(std::path::PathBuf::from);
            let context = GhContext {
                args: argv.get(1..).unwrap_or_default(),
                gh_repo: gh_repo.as_deref(),
                cwd: cwd.as_deref(),
                git_dir: git_dir.as_deref(),
            };
            let owner = gh_owner(&settings, &context);
            super::start_journal(&settings, crate::journal::Command::GhProxy);
            let repo = crate::gh::gh_repo_named(&context);
            super::journal_target(&settings, owner.as_ref(), repo.as_deref());
            let repository = gh_repository(&settings, &context);
            let narrowed = !settings.narrowing.is_full();
            let asked =
                narrow::of_repository(&settings, owner, repository.as_ref()).and_then(|wanted| {
                    let token = token::token_for(&settings, &wanted)?;
                    Ok((wanted.owner, token))
                });
            match asked {
                Ok((owner, token)) => {
                    debug!(
                        "gh proxy: running {} with a fresh token of {} in {}",
                        gh.path.display(),
                        owner
                            .as_ref()
                            .map_or("the default installation".to_string(), |o| {
                                format!("{o}'s installation")
                            }),
                        gh_token_variables(&settings).join(", ")
                    );
                    set_gh_token(&mut command, &settings, &token.secret);
                }
                // Fail closed: a narrowed gh never runs with the wider token
                // the environment may hold (the container's, from its start).
                Err(e) if narrowed => {
                    for name in gh_token_variables(&settings) {
                        command.env_remove(name);
                    }
                    diag::write_line(
                        "warning",
                        &format!(
                            "gh proxy: no narrowed token ({e}); running {} without {}",
                            gh.path.display(),
                            gh_token_variables(&settings).join(", ")
                        ),
                    );
                }
                Err(e) => no_token(&gh.path, &e.to_string()),
            }
        }
        // A narrowing that cannot be read is not ignored (gh would run with
        // the environment's wider token): a usage error, as in every mode.
        Err(e)
            if [
                scope::PERMISSIONS_VAR,
                scope::REPOSITORIES_VAR,
                scope::PER_REPOSITORY_VAR,
            ]
            .iter()
            .any(|name| e.0.contains(name)) =>
        {
            return Error::Usage(e.0);
        }
        Err(e) => no_token(&gh.path, &e.0),
    }
    crate::secret::allow_core_dumps();
    Error::cannot_run(gh.path.as_os_str(), &command.exec())
}

fn no_token(gh: &Path, why: &str) {
    diag::write_line(
        "warning",
        &format!(
            "gh proxy: no fresh token ({why}); running {} with the environment as it is",
            gh.display()
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_process_s_own_recent_marker_is_a_loop() {
        assert!(is_own_marker(OsStr::new(&loop_marker())));
        let pid = std::process::id();
        let ppid = parent_pid();
        let now = crate::token::cache::now_ms();
        for foreign in [
            // A bare process id (the old form, or anyone's): not ours.
            pid.to_string(),
            // Another parent: a reused id.
            format!("{pid}:{}:{now}", ppid + 1),
            // Set long ago, or in the future.
            format!("{pid}:{ppid}:{}", now - 2 * LOOP_WINDOW_MS),
            format!("{pid}:{ppid}:{}", now + 5_000),
            format!("{pid}:{ppid}:{now}:x"),
            String::new(),
        ] {
            assert!(!is_own_marker(OsStr::new(&foreign)), "{foreign}");
        }
    }
}

//! Git's configuration as the helper needs it: `git config` run as a
//! subprocess and its listing parsed; git's rule for which
//! `credential.<url>.helper` entries apply to a host (urlmatch.c, with
//! credential.c's partial-URL fallback); and how git turns a helper value
//! into a command line (credential.c's `credential_do`); and a config file
//! edited under git's own lock, so that an edit is all or nothing.
//!
//! A config may hold bytes that are not UTF-8 (`name = Jos\xe9`): the
//! listing is read lossily and the file itself is edited as bytes.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use crate::child::{Bounds, Failure};
use crate::diag::io_reason;

/// One `key=value` of git's configuration, in the order git reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `system`, `global`, `local`, `worktree` or `command`.
    pub scope: String,
    /// As git reports it: `file:/home/u/.gitconfig`, `command line:`, …
    pub origin: String,
    /// Section and variable in lower case, the subsection as written:
    /// `credential.https://GitHub.com.helper`.
    pub key: String,
    /// `None` for a key written without `=`.
    pub value: Option<String>,
}

impl Entry {
    /// The file this entry was read from, when it came from a file.
    pub fn file(&self) -> Option<&Path> {
        self.origin.strip_prefix("file:").map(Path::new)
    }
}

/// What a git run here may take: it reads or edits config files, which
/// takes milliseconds; a git stuck on something else (a lock on a network
/// file system) is killed rather than waited for.
const GIT_BOUNDS: Bounds = Bounds {
    deadline: Duration::from_secs(60),
    limit: 16 * 1024 * 1024,
};

/// Run `git ARGS…` (bounded: [`GIT_BOUNDS`]) and return its stdout. On failure the error names the
/// command as `what` (never the values, which may hold a secret) with git's
/// exit status and first stderr line.
pub fn git(args: &[OsString], what: &str) -> Result<Vec<u8>> {
    git_env(args, what, &[], &[], None)
}

/// [`git`] with the variables `env_remove` taken out of git's environment
/// and those of `env_set` set, run in `dir` when given.
pub fn git_env(
    args: &[OsString],
    what: &str,
    env_remove: &[&str],
    env_set: &[(&str, &str)],
    dir: Option<&Path>,
) -> Result<Vec<u8>> {
    let mut command = Command::new("git");
    for name in env_remove {
        command.env_remove(name);
    }
    command.envs(env_set.iter().copied());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    // Whatever git creates (its FILE.lock of a config it edits) is private
    // from its creation: a 0600 config must not be readable through it.
    // SAFETY: umask is async-signal-safe and touches no memory.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0o077);
            Ok(())
        });
    }
    command.args(args);
    let output = match crate::child::run(&mut command, None, GIT_BOUNDS) {
        Ok(output) if output.cut => bail!(
            "`{what}` printed more than {} MiB",
            GIT_BOUNDS.limit / (1024 * 1024)
        ),
        Ok(output) => output,
        Err(Failure::Spawn(e)) => bail!("cannot run git for `{what}`: {}", io_reason(&e)),
        Err(failure) => bail!("`{what}`: git: {}", crate::child::describe(&failure)),
    };
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message");
    let status = match output.status.code() {
        Some(code) => format!("exit {code}"),
        None => "killed by a signal".to_string(),
    };
    bail!("`{what}` failed ({status}): {reason}")
}

/// `git config LOCATION… --list` with scope and origin: every entry, in the
/// order git reads them.
pub fn list(location: &[OsString], what: &str) -> Result<Vec<Entry>> {
    let mut args: Vec<OsString> = vec!["config".into()];
    args.extend(location.iter().cloned());
    args.extend(["--list", "--show-scope", "--show-origin", "-z"].map(OsString::from));
    parse_listing(&git(&args, what)?)
}

/// [`list`] as it applies in every repository: run outside any
/// repository (in `/`, with no `GIT_DIR`), so that git follows `[include]`
/// but no conditional include (`[includeIf "gitdir:…"]`, `onbranch:`,
/// `hasconfig:` all need a repository to match), and reads no repository's
/// config.
pub fn list_everywhere(location: &[OsString], what: &str) -> Result<Vec<Entry>> {
    let mut args: Vec<OsString> = vec!["config".into()];
    args.extend(location.iter().cloned());
    args.extend(["--list", "--show-scope", "--show-origin", "-z"].map(OsString::from));
    let not_here = ["GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR"];
    let out = git_env(&args, what, &not_here, &[], Some(Path::new("/")))?;
    parse_listing(&out)
}

/// Parse `git config --list --show-scope --show-origin -z`: for each entry
/// `scope NUL origin NUL key [LF value] NUL`. Bytes that are not UTF-8 (a
/// `user.name` in Latin-1, say) become U+FFFD: they must not stop configure
/// or status, and no helper line of ours holds one.
pub fn parse_listing(bytes: &[u8]) -> Result<Vec<Entry>> {
    let text = String::from_utf8_lossy(bytes);
    let mut fields = text.split('\0');
    let mut entries = Vec::new();
    while let Some(scope) = fields.next() {
        if scope.is_empty() {
            break; // the terminator after the last entry
        }
        let (Some(origin), Some(pair)) = (fields.next(), fields.next().filter(|p| !p.is_empty()))
        else {
            bail!("cannot read the output of git config --list");
        };
        let (key, value) = match pair.split_once('\n') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (pair, None),
        };
        entries.push(Entry {
            scope: scope.to_string(),
            origin: origin.to_string(),
            key: key.to_string(),
            value,
        });
    }
    Ok(entries)
}

/// A config file held under git's lock: `FILE.lock` is created exclusively
/// (git's own protocol, so no git command writes FILE meanwhile) and 0600
/// (not with the umask, then chmod: another user could open it meanwhile),
/// filled with a copy of FILE and edited as bytes; it gets FILE's mode and
/// replaces FILE by rename on commit, or is removed when dropped.
pub struct Locked {
    target: PathBuf,
    lock: PathBuf,
    committed: bool,
    /// FILE's mode, given to the new FILE; `None` for a new file.
    mode: Option<u32>,
}

impl Locked {
    pub fn acquire(target: &Path) -> Result<Locked> {
        let mut lock_name = target.as_os_str().to_owned();
        lock_name.push(".lock");
        let lock = PathBuf::from(lock_name);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&lock)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => anyhow!(
                    "cannot lock {}: {} exists (another git command is writing the file, or \
                     one stopped half-way; remove the lock file if no git is running)",
                    target.display(),
                    lock.display()
                ),
                _ => anyhow!(
                    "cannot lock {}: cannot create {}: {}",
                    target.display(),
                    lock.display(),
                    io_reason(&e)
                ),
            })?;
        let mut locked = Locked {
            target: target.to_path_buf(),
            lock,
            committed: false,
            mode: None,
        };
        match fs::read(target) {
            Ok(bytes) => {
                file.write_all(&bytes).map_err(|e| {
                    locked.failed(&format!(
                        "cannot write {}: {}",
                        locked.lock.display(),
                        io_reason(&e)
                    ))
                })?;
                locked.mode = fs::metadata(target).ok().map(|m| m.permissions().mode());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(locked.failed(&format!(
                    "cannot read {}: {}",
                    target.display(),
                    io_reason(&e)
                )));
            }
        }
        Ok(locked)
    }

    /// The lock file, which holds the edited copy.
    pub fn path(&self) -> &Path {
        &self.lock
    }

    /// An error that says the target was left as it was.
    pub fn failed(&self, what: &str) -> anyhow::Error {
        anyhow!("{what}; {} is unchanged", self.target.display())
    }

    /// The locked copy's bytes.
    pub fn text(&self) -> Result<Vec<u8>> {
        fs::read(&self.lock).map_err(|e| {
            self.failed(&format!(
                "cannot read {}: {}",
                self.lock.display(),
                io_reason(&e)
            ))
        })
    }

    /// Replace the locked copy's bytes.
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        // Opened without O_CREAT: the lock is there, 0600, since acquire.
        let written = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.lock)
            .and_then(|mut f| f.write_all(bytes));
        written.map_err(|e| {
            self.failed(&format!(
                "cannot write {}: {}",
                self.lock.display(),
                io_reason(&e)
            ))
        })
    }

    pub fn entries(&self) -> Result<Vec<Entry>> {
        list(
            &["--file".into(), self.lock.clone().into()],
            &format!("git config --file {} --list", self.lock.display()),
        )
        .map_err(|e| self.failed(&format!("{e:#}")))
    }

    pub fn commit(mut self) -> Result<()> {
        // FILE's own mode; a new file's as git would create it (0666 less
        // the umask).
        let mode = self.mode.unwrap_or_else(|| 0o666 & !current_umask());
        fs::set_permissions(&self.lock, fs::Permissions::from_mode(mode)).map_err(|e| {
            self.failed(&format!(
                "cannot set the mode of {}: {}",
                self.lock.display(),
                io_reason(&e)
            ))
        })?;
        fs::rename(&self.lock, &self.target).map_err(|e| {
            self.failed(&format!(
                "cannot rename {} to {}: {}",
                self.lock.display(),
                self.target.display(),
                io_reason(&e)
            ))
        })?;
        self.committed = true;
        Ok(())
    }
}

/// The process's umask (read by setting it and setting it back; this
/// program has one thread when it edits a config).
fn current_umask() -> u32 {
    // SAFETY: umask cannot fail and touches no memory.
    unsafe {
        let mask = libc::umask(0o077);
        libc::umask(mask);
        mask as u32
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.lock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_with_scope_origin_and_valueless_keys() {
        let bytes = b"system\0file:/etc/gitconfig\0credential.helper\nstore --file=/a b\0\
                      global\0file:/h/.gitconfig\0credential.https://GitHub.com.helper\n\0\
                      global\0file:/h/.gitconfig\0credential.novalue\0\
                      command\0command line:\0a.b\nmulti\nline\0";
        let e = parse_listing(bytes).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].scope, "system");
        assert_eq!(e[0].file(), Some(Path::new("/etc/gitconfig")));
        assert_eq!(e[0].value.as_deref(), Some("store --file=/a b"));
        assert_eq!(e[1].key, "credential.https://GitHub.com.helper");
        assert_eq!(e[1].value.as_deref(), Some(""));
        assert_eq!(e[2].value, None);
        assert_eq!(e[3].file(), None);
        assert_eq!(e[3].value.as_deref(), Some("multi\nline"));
        assert!(parse_listing(b"").unwrap().is_empty());
        // Not UTF-8: read, not refused.
        let e = parse_listing(b"global\0file:/x\0user.name\nJos\xe9\0").unwrap();
        assert_eq!(e[0].value.as_deref(), Some("Jos\u{FFFD}"));
        assert!(parse_listing(b"global\0file:/x\0").is_err());
    }
}

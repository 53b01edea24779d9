//! `gh-login`: `gh auth login --with-token` with a fresh token, for cron,
//! for the processes that use gh's stored login (those without the stale
//! `GH_TOKEN`/`GITHUB_TOKEN` of the workspace's start, or after the proxy).
//!
//! Only platform hosts get the platform's token. Every host is attempted;
//! each failure is one line. A host whose login still holds the current
//! token is not logged in again: a fingerprint of what gh was last given
//! (never the token) is kept per host in the cache directory, so cron can
//! run this every minute for the cost of a warm `get`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::anyhow;

use crate::diag::{self, debug, io_reason, warning};
use crate::error::{Error, Result};
use crate::gh::{ALL_VARIABLES, GH, ThisProgram, fingerprint_path, gh_on_path};
use crate::secret::Secret;
use crate::settings::{Route, Settings};
use crate::token::{self, cache::Cache};

/// The first line of a fingerprint file.
const FINGERPRINT_MAGIC: &str = "molecule-git-token-helper gh-login v1";

/// What `gh-login` was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The hosts to log in to (default: every platform host).
    pub hostnames: Vec<String>,
    /// The gh to run.
    pub gh: PathBuf,
    /// Log in even when gh's login holds the current token already.
    pub force: bool,
}

pub fn run(settings: &Settings, options: &Options) -> Result<()> {
    let hosts: Vec<String> = if options.hostnames.is_empty() {
        settings.hosts.clone()
    } else {
        let mut hosts = Vec::new();
        for name in &options.hostnames {
            let host = name.trim().to_ascii_lowercase();
            // Named in a message only with any user information redacted.
            let shown = crate::secret::redact_url_userinfo(&host);
            match settings.route(&host) {
                Route::Platform => hosts.push(host),
                Route::Secret(secret) => {
                    return Err(Error::Usage(format!(
                        "--hostname {shown}: it is served from secrets.d/{}, not from the \
                         platform; gh-login gives gh the platform's token only",
                        secret.name
                    )));
                }
                Route::NotServed => {
                    return Err(Error::Usage(format!(
                        "--hostname {shown}: not a platform host (serving {}); gh-login gives \
                         gh the platform's token only to the hosts it serves (--host, \
                         MOLECULE_GIT_HOSTS)",
                        settings.describe_hosts()
                    )));
                }
            }
        }
        hosts
    };
    // gh 2.23 refuses `--hostname HOST:PORT`.
    let hosts: Vec<String> = hosts
        .into_iter()
        .filter(|host| {
            let has_port = host.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']'));
            if has_port {
                warning!(
                    "gh-login: skipping {host}: gh cannot log in to a host with a port \
                     (gh auth login --hostname refuses HOST:PORT)"
                );
            }
            !has_port
        })
        .collect();
    if hosts.is_empty() {
        return Ok(());
    }
    let gh = real_gh(&options.gh)?;
    let token = token::platform_token(settings)?;
    let config = gh_config_dir();
    // Every host is attempted; each failure is gh's own words and one line.
    let mut failures: Vec<(String, anyhow::Error)> = Vec::new();
    for host in &hosts {
        let mark = Fingerprint::new(settings.cache_dir.as_deref(), host, &token.secret, &config);
        if !options.force && mark.as_ref().is_some_and(Fingerprint::unchanged) {
            debug!("gh-login: {host}: gh already holds the current token");
            continue;
        }
        let outcome = login(&gh, host, &token.secret);
        match (&outcome, &mark) {
            (Ok(()), Some(mark)) => mark.write(),
            (Err(_), Some(mark)) => mark.remove(),
            (_, None) => {}
        }
        match outcome {
            Ok(()) => {}
            Err(LoginError::Refused { said, message }) => {
                // As `erase` would: the next run asks the platform.
                let dropped = match token::forget(settings, token.secret.expose()) {
                    Ok(()) => {
                        "dropped it from the cache, so the next run asks the platform".to_string()
                    }
                    Err(e) => format!("could not drop it from the cache: {e:#}"),
                };
                let error = anyhow!("{message}: gh says the token is bad (HTTP 401); {dropped}");
                failures.push((said, error));
            }
            Err(LoginError::Other { said, error }) => failures.push((said, error)),
        }
    }
    // gh's words, then our line, host by host; main prints the last line.
    let last = failures.pop();
    for (said, error) in failures {
        diag::write_raw(&said);
        diag::write_line("error", &format!("{error:#}"));
    }
    match last {
        Some((said, error)) => {
            diag::write_raw(&said);
            Err(Error::Failed(error))
        }
        None => Ok(()),
    }
}

/// The gh to run. `--gh gh` (the default) is looked up on PATH the way the
/// proxy looks it up, skipping links to this program: after `configure
/// --gh-proxy` the first `gh` on PATH is the proxy, which would put back the
/// variables this command removes, and gh refuses to log in while they are
/// set. A `--gh` naming the proxy itself is refused for the same reason.
fn real_gh(given: &Path) -> Result<PathBuf> {
    let me = ThisProgram::find().map_err(|e| {
        Error::Failed(anyhow!(
            "cannot find this program's own path: {}",
            io_reason(&e)
        ))
    })?;
    if given.as_os_str() == GH {
        let path = std::env::var_os("PATH");
        let mut proxy = None;
        for found in gh_on_path(path.as_deref(), &me) {
            if !found.is_proxy {
                return Ok(found.path);
            }
            proxy.get_or_insert(found.path);
        }
        return match proxy {
            Some(proxy) => Err(Error::Failed(anyhow!(
                "no gh on PATH but the gh proxy ({}); install the GitHub CLI (apt-get \
                 install gh) in a directory on PATH, or name it with --gh PATH",
                proxy.display()
            ))),
            // No gh at all: spawning it says "not found", naming the way out.
            None => Ok(given.to_path_buf()),
        };
    }
    if given.components().count() > 1 && me.is(given) {
        return Err(Error::Failed(anyhow!(
            "--gh {}: it is the gh proxy (a link to this program), which would set GH_TOKEN \
             again, and gh refuses to log in while it is set; name the real gh",
            given.display()
        )));
    }
    Ok(given.to_path_buf())
}

/// Why one login failed; `said` is gh's stderr (token masked), to show
/// before our line.
enum LoginError {
    /// gh said HTTP 401: the token is bad.
    Refused {
        said: String,
        message: String,
    },
    Other {
        said: String,
        error: anyhow::Error,
    },
}

fn login(gh: &Path, host: &str, token: &Secret) -> std::result::Result<(), LoginError> {
    let mut command = Command::new(gh);
    command
        .args(["auth", "login", "--with-token", "--hostname", host])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // gh refuses to log in while one of these is set, and they hold the
    // stale token this command exists to replace.
    for name in ALL_VARIABLES {
        command.env_remove(name);
    }
    let other = |error| LoginError::Other {
        said: String::new(),
        error,
    };
    let mut child = command.spawn().map_err(|e| {
        other(match e.kind() {
            std::io::ErrorKind::NotFound => anyhow!(
                "cannot run {}: not found (install the GitHub CLI, or name it with --gh PATH)",
                gh.display()
            ),
            _ => anyhow!("cannot run {}: {}", gh.display(), io_reason(&e)),
        })
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A gh that exits without reading closes the pipe; its exit status
        // then says what went wrong, so a write error is not reported.
        let _ = stdin.write_all(format!("{}\n", token.expose()).as_bytes());
    }
    let output = child.wait_with_output().map_err(|e| {
        other(anyhow!(
            "cannot wait for {}: {}",
            gh.display(),
            io_reason(&e)
        ))
    })?;
    if output.status.success() {
        debug!("gh auth login --hostname {host}: ok");
        return Ok(());
    }
    // gh's own words (with the token masked, should gh ever echo it).
    let said = String::from_utf8_lossy(&output.stderr).replace(token.expose(), "********");
    let said = match said.trim_end() {
        "" => String::new(),
        text => format!("{text}\n"),
    };
    let message = format!(
        "{} auth login --with-token --hostname {host} failed ({})",
        gh.display(),
        output.status
    );
    if said.contains("HTTP 401") {
        Err(LoginError::Refused { said, message })
    } else {
        Err(LoginError::Other {
            said,
            error: anyhow!(message),
        })
    }
}

/// Where gh keeps its login (`hosts.yml`): `GH_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/gh`, else `~/.config/gh`. Part of the fingerprint, so
/// that another gh configuration is logged in afresh.
fn gh_config_dir() -> String {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let dir = match (var("GH_CONFIG_DIR"), var("XDG_CONFIG_HOME"), var("HOME")) {
        (Some(dir), _, _) => PathBuf::from(dir),
        (None, Some(xdg), _) => PathBuf::from(xdg).join("gh"),
        (None, None, Some(home)) => PathBuf::from(home).join(".config").join("gh"),
        (None, None, None) => PathBuf::new(),
    };
    dir.to_string_lossy().into_owned()
}

/// What gh was given for one host, as a digest: SHA-256 over the host,
/// gh's configuration directory and the token, domain-separated. It tells
/// a changed token apart without keeping it anywhere.
struct Fingerprint {
    cache: Cache,
    path: PathBuf,
    digest: String,
}

impl Fingerprint {
    /// `None` when there is no cache directory (then every run logs in).
    fn new(dir: Option<&Path>, host: &str, token: &Secret, config: &str) -> Option<Fingerprint> {
        let dir = dir?;
        let mut data = b"molecule-git-token-helper gh-login\0".to_vec();
        for part in [host, config, token.expose()] {
            data.extend_from_slice(part.as_bytes());
            data.push(0);
        }
        Some(Fingerprint {
            cache: Cache::new(dir),
            path: fingerprint_path(dir, host),
            digest: crate::secret::sha256_hex(&data),
        })
    }

    fn text(&self) -> String {
        format!("{FINGERPRINT_MAGIC}\nsha256 {}\n", self.digest)
    }

    fn name(&self) -> String {
        let name = self.path.file_name().unwrap_or_default();
        name.to_string_lossy().into_owned()
    }

    /// Does the file hold this fingerprint? Anything unreadable is "no".
    fn unchanged(&self) -> bool {
        self.cache.read_file(&self.name()) == Some(self.text())
    }

    /// Remember this fingerprint, as the cache writes its files (0600, in
    /// the 0700 cache directory, atomically). A failure costs only a login
    /// next time, so it is a debug line.
    fn write(&self) {
        if let Err(why) = self.cache.write_file(&self.name(), &self.text()) {
            debug!("gh-login: {}", why.0);
        }
    }

    /// Forget it, so the next run logs in whatever the token.
    fn remove(&self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => debug!(
                "gh-login: cannot remove {}: {}",
                self.path.display(),
                io_reason(&e)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_depend_on_host_config_and_token_and_hide_the_token() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("cache");
        let token = Secret::new("ghs_fingerprintedtoken0001".into());
        let other = Secret::new("ghs_fingerprintedtoken0002".into());
        let a = Fingerprint::new(Some(&dir), "github.com", &token, "/c").unwrap();
        assert!(!a.text().contains(token.expose()));
        assert_eq!(a.path, dir.join("gh-login.github.com"));
        for b in [
            Fingerprint::new(Some(&dir), "ghe.example", &token, "/c").unwrap(),
            Fingerprint::new(Some(&dir), "github.com", &other, "/c").unwrap(),
            Fingerprint::new(Some(&dir), "github.com", &token, "/d").unwrap(),
        ] {
            assert_ne!(a.digest, b.digest);
        }
        assert!(!a.unchanged());
        a.write();
        assert!(a.unchanged());
        let b = Fingerprint::new(Some(&dir), "github.com", &other, "/c").unwrap();
        assert!(!b.unchanged());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&a.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        a.remove();
        assert!(!a.unchanged());
        assert!(Fingerprint::new(None, "github.com", &token, "/c").is_none());
    }
}

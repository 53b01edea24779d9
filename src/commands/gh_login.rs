//! `gh-login`: `gh auth login --with-token` with a fresh token, for cron,
//! for the processes that use gh's stored login (those without the stale
//! `GH_TOKEN`/`GITHUB_TOKEN` of the workspace's start, or after the proxy).
//!
//! Only platform hosts get the platform's token. Every host is attempted;
//! each failure is one line. A host whose login still holds the current
//! token is not logged in again: a fingerprint of what gh was last given
//! (never the token) is kept per host in the cache directory, so cron can
//! run this every minute for the cost of a warm `get`. A token can die
//! before it expires (revoked): every 10 minutes an unchanged login is
//! checked with one cheap `gh api rate_limit`, and on HTTP 401 the token is
//! dropped from the cache and gh logged in with a fresh one.
//!
//! Every gh is bounded ([`crate::child`]): it gets three times the
//! platform's deadline (`--timeout`; 30 s by default), then it is killed
//! with its process group and the host's failure is one line naming gh.
//! One gh-login runs at a time: a second one, started while the first
//! runs (a cron line every minute and a gh that hangs), finds the lock
//! file `gh-login-run.lock` in the cache directory held, and exits at once,
//! quietly, with 0, starting no gh.
//!
//! The gh run is the real one: `gh` is looked up on PATH as the gh proxy
//! looks it up, skipping links to this program (the proxy would put back
//! the variables gh must not see while it logs in).

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::anyhow;

use crate::child::{self, Bounds, Failure};
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

/// The hosts to log in to: `--hostname`s (each must be a platform host),
/// else every platform host; a host with a port is skipped with a warning.
fn hosts(settings: &Settings, options: &Options) -> Result<Vec<String>> {
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
    Ok(hosts)
}

pub fn run(settings: &Settings, options: &Options) -> Result<()> {
    let hosts = hosts(settings, options)?;
    if hosts.is_empty() {
        return Ok(());
    }
    let Some(_running) = one_at_a_time(settings.cache_dir.as_deref()) else {
        debug!("gh-login: another gh-login is running; leaving the login to it");
        return Ok(());
    };
    let bounds = gh_bounds(settings.timeout);
    let gh = real_gh(&options.gh)?;
    let mut token = login_token(settings)?;
    let config = gh_config_dir();
    // Every host is attempted; each failure is gh's own words and one line.
    let mut failures: Vec<(String, anyhow::Error)> = Vec::new();
    for host in &hosts {
        let mut mark =
            Fingerprint::new(settings.cache_dir.as_deref(), host, &token.secret, &config);
        if !options.force {
            match mark.as_ref().map(Fingerprint::state) {
                Some(State::Checked) => {
                    debug!("gh-login: {host}: gh already holds the current token");
                    continue;
                }
                Some(State::Unchecked) => match check(&gh, host, &token.secret, bounds) {
                    Checked::Accepted => {
                        debug!("gh-login: {host}: GitHub accepts the token gh holds");
                        mark.iter().for_each(Fingerprint::write);
                        continue;
                    }
                    Checked::Unknown(why) => {
                        debug!("gh-login: {host}: could not check gh's login: {why}");
                        continue;
                    }
                    Checked::Failed(error) => {
                        failures.push((String::new(), error));
                        continue;
                    }
                    Checked::Refused => match renew(settings, &token, host) {
                        Ok(fresh) => {
                            token = fresh;
                            mark = Fingerprint::new(
                                settings.cache_dir.as_deref(),
                                host,
                                &token.secret,
                                &config,
                            );
                        }
                        Err(error) => {
                            failures.push((String::new(), error));
                            continue;
                        }
                    },
                    Checked::NotLoggedIn => {}
                },
                Some(State::Changed) | None => {}
            }
        }
        let outcome = login(&gh, host, &token.secret, bounds);
        journal_login(host, &token, outcome.as_ref().err());
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
    report(failures)
}

/// gh's words, then our line, host by host; main prints the last line.
fn report(mut failures: Vec<(String, anyhow::Error)>) -> Result<()> {
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

/// How long a login checked with GitHub is trusted before the next check:
/// a token revoked (not expired) is noticed by a cron run within this.
const CHECK_EVERY: i64 = 10 * 60;

/// What GitHub said about the token gh holds for a host.
enum Checked {
    Accepted,
    /// HTTP 401: revoked, or otherwise dead.
    Refused,
    /// gh holds no login for the host (its hosts.yml lost it).
    NotLoggedIn,
    /// No answer that tells (no connection, a 5xx, …): asked again next run.
    Unknown(String),
    /// gh could not be run, or was killed at its deadline: a failure line.
    Failed(anyhow::Error),
}

/// One cheap question with gh's stored login: `gh api --hostname HOST
/// rate_limit` (GitHub does not count it against the rate limit), with the
/// token variables removed, as for the login.
fn check(gh: &Path, host: &str, token: &Secret, bounds: Bounds) -> Checked {
    let mut command = Command::new(gh);
    command.args(["api", "--hostname", host, "rate_limit", "--silent"]);
    for name in ALL_VARIABLES {
        command.env_remove(name);
    }
    let output = match child::run(&mut command, None, bounds) {
        Ok(output) => output,
        Err(failure) => {
            return Checked::Failed(anyhow!(
                "{} api --hostname {host} rate_limit: {}",
                gh.display(),
                child::describe(&failure)
            ));
        }
    };
    // gh's own words, with the token masked should gh ever echo it.
    let said = String::from_utf8_lossy(&output.stderr).replace(token.expose(), "********");
    match output.status.code() {
        Some(0) => Checked::Accepted,
        _ if said.contains("HTTP 401") => Checked::Refused,
        // gh's exit status for "authentication required".
        Some(4) => Checked::NotLoggedIn,
        _ => Checked::Unknown(format!("{} ({})", said.trim(), output.status)),
    }
}

/// The token gh is logged in with: the default installation's, narrowed as
/// the settings say (`MOLECULE_TOKEN_PERMISSIONS`, …: a narrowed process
/// tree's cron never gives gh's stored login a wider token).
fn login_token(settings: &Settings) -> anyhow::Result<token::Token> {
    let wanted = super::narrow::here(settings, None).map_err(|e| anyhow!("{e}"))?;
    token::token_for(settings, &wanted)
}

/// GitHub refused the token gh holds for `host`, which is the cached one:
/// drop it from the cache (as `erase` does) and get a fresh one. One warning
/// line says so, since a revoked token is news to the operator.
fn renew(settings: &Settings, refused: &token::Token, host: &str) -> anyhow::Result<token::Token> {
    let said = format!("gh-login: {host}: GitHub refused the token gh held (HTTP 401)");
    token::forget(settings, refused.secret.expose())
        .map_err(|e| anyhow!("{said}; could not drop it from the cache: {e:#}"))?;
    let fresh = login_token(settings)
        .map_err(|e| anyhow!("{said}; dropped it from the cache, but no fresh token: {e:#}"))?;
    warning!("{said}; dropped it from the cache and logging gh in with a fresh token");
    Ok(fresh)
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

fn login(
    gh: &Path,
    host: &str,
    token: &Secret,
    bounds: Bounds,
) -> std::result::Result<(), LoginError> {
    let mut command = Command::new(gh);
    command.args(["auth", "login", "--with-token", "--hostname", host]);
    // gh refuses to log in while one of these is set, and they hold the
    // stale token this command exists to replace.
    for name in ALL_VARIABLES {
        command.env_remove(name);
    }
    let input = format!("{}\n", token.expose()).into_bytes();
    let output = child::run(&mut command, Some(input), bounds).map_err(|failure| {
        let error = match &failure {
            Failure::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow!(
                "cannot run {}: not found (install the GitHub CLI, or name it with --gh PATH)",
                gh.display()
            ),
            Failure::Spawn(_) => {
                anyhow!("cannot run {}: {}", gh.display(), child::describe(&failure))
            }
            Failure::TimedOut(_) | Failure::Wait(_) => anyhow!(
                "{} auth login --with-token --hostname {host}: {}",
                gh.display(),
                child::describe(&failure)
            ),
        };
        LoginError::Other {
            said: String::new(),
            error,
        }
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

/// What one gh may take: three times the platform's deadline (a login is
/// one or two requests to GitHub; gh 2.23 itself waits 60 s for an API
/// that never answers), and 64 KiB of what it says.
fn gh_bounds(timeout: Duration) -> Bounds {
    Bounds {
        deadline: timeout.saturating_mul(3),
        limit: 64 * 1024,
    }
}

/// The lock that keeps gh-login to one run at a time: `gh-login-run.lock` in
/// the cache directory (0600, never through a symlink), held for the run.
/// (Not `gh-login.…`: that is a host's fingerprint, `gh-login.HOST`.)
/// `None` when another run holds it. Without a usable cache directory
/// there is no lock, and the run goes on (a debug line says why).
fn one_at_a_time(dir: Option<&Path>) -> Option<Option<File>> {
    let Some(dir) = dir else {
        return Some(None);
    };
    let cache = Cache::new(dir);
    if let Err(why) = cache.ensure_dir() {
        debug!("gh-login: running without the one-run lock: {}", why.0);
        return Some(None);
    }
    let path = dir.join("gh-login-run.lock");
    let opened = crate::token::cache::open_nofollow(
        &path,
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600),
    );
    let file = match opened {
        Ok(file) => file,
        Err(e) => {
            debug!(
                "gh-login: running without the one-run lock: cannot open {}: {}",
                path.display(),
                io_reason(&e)
            );
            return Some(None);
        }
    };
    match file.try_lock() {
        Ok(()) => Some(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => None,
        Err(std::fs::TryLockError::Error(e)) => {
            debug!(
                "gh-login: running without the one-run lock: cannot lock {}: {}",
                path.display(),
                io_reason(&e)
            );
            Some(Some(file))
        }
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

/// What a fingerprint file says about the token gh was last given.
#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Another token (or none recorded): log in.
    Changed,
    /// This token, and GitHub accepted it within [`CHECK_EVERY`]: nothing to do.
    Checked,
    /// This token, last checked longer ago (or at an unknown or future time):
    /// ask GitHub once whether it still accepts it.
    Unchecked,
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

    /// Does the file hold this fingerprint, and was gh's login checked with
    /// GitHub within [`CHECK_EVERY`]? Anything unreadable is "changed"; no
    /// time, or one in the future (written while the clock was ahead), is
    /// "unchecked".
    fn state(&self) -> State {
        let Some(text) = self.cache.read_file(&self.name()) else {
            return State::Changed;
        };
        let Some(rest) = text.strip_prefix(&self.text()) else {
            return State::Changed;
        };
        let checked = rest
            .strip_prefix("checked ")
            .and_then(|t| t.trim_end().parse::<i64>().ok());
        let age = checked.map(|at| token::now_unix() - at);
        match age {
            Some(age) if (0..CHECK_EVERY).contains(&age) => State::Checked,
            _ => State::Unchecked,
        }
    }

    /// Remember this fingerprint, checked now, as the cache writes its files
    /// (0600, in the 0700 cache directory, atomically). A failure costs only
    /// a login next time, so it is a debug line.
    fn write(&self) {
        let text = format!("{}checked {}\n", self.text(), token::now_unix());
        if let Err(why) = self.cache.write_file(&self.name(), &text) {
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

/// A `gh-login` line: gh was given `token` for `host` (`failed`: and said no).
fn journal_login(host: &str, token: &token::Token, failed: Option<&LoginError>) {
    use crate::journal::{Event, Kind};
    let mut event = Event::new(Kind::GhLogin)
        .host(host)
        .token(&token.secret, token.expires_at);
    event.error = failed.map(|e| match e {
        LoginError::Refused { message, .. } => format!("{message}: gh says the token is bad"),
        LoginError::Other { error, .. } => format!("{error:#}"),
    });
    crate::journal::record(event);
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
        assert_eq!(a.state(), State::Changed);
        a.write();
        assert_eq!(a.state(), State::Checked);
        let b = Fingerprint::new(Some(&dir), "github.com", &other, "/c").unwrap();
        assert_eq!(b.state(), State::Changed);
        // Checked long ago, at an unknown time, or in the future: check again.
        let now = token::now_unix();
        for checked in [
            format!("checked {}\n", now - CHECK_EVERY),
            String::new(),
            format!("checked {}\n", now + 3600),
            "checked soon\n".to_string(),
        ] {
            std::fs::write(&a.path, format!("{}{checked}", a.text())).unwrap();
            assert_eq!(a.state(), State::Unchecked, "{checked}");
        }
        a.write();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&a.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        a.remove();
        assert_eq!(a.state(), State::Changed);
        assert!(Fingerprint::new(None, "github.com", &token, "/c").is_none());
    }
}

//! `fallback -- HELPER OPERATION` (hidden; `configure` writes it): run a kept
//! fallback helper exactly as git would run it, except that `store` of a
//! short-lived credential is not passed on.
//!
//! Why: after every successful push git hands the credential that worked to
//! the `store` action of every helper in its list. A storing fallback
//! (`store`, `cache`, a keyring) would then save the installation token,
//! which dies within the hour, ahead of the operator's long-lived token, and
//! git would try the dead token first at the next platform outage.
//!
//! What is withheld: `store` of a credential whose request carries
//! `password_expiry_utc` (git only sends it for a credential that expires;
//! this helper always reports it when the platform gave an expiry) or whose
//! username is `x-access-token` (every token this helper serves has it, with
//! or without an expiry), and `store` of the secret this helper serves for a
//! secret-backed host (the same long-lived token copied into a store would
//! outlive a rotation of the workspace secret).
//!
//! `erase` is passed on only when the kept helper holds the rejected
//! credential: its own `get`, for the same request without the password,
//! answers with the rejected password. git ≥ 2.41's `store` and `cache`
//! erase only the entry holding that password, but older gits' erase every
//! entry for the host and user name, and the platform's tokens and an
//! operator's PAT often share the user name `x-access-token`: an erase of
//! a platform token that reached such a store would cost the operator the
//! PAT. The user name and the `ghs_` prefix cannot tell a platform token
//! from a dead one an old entrypoint stored; the helper's own answer can.
//! So a dead token stored above the PAT still goes when git rejects it (on
//! a git older than 2.41, with every other entry of that host and user name:
//! what that git's store does without this wrapper too). The `get` runs
//! with prompts off (`GIT_TERMINAL_PROMPT=0`, `GCM_INTERACTIVE=never`), its
//! stdin closed after the request, its stderr discarded, and is killed with
//! its process group after [`ERASE_CHECK_TIMEOUT`]: a helper that would ask
//! someone (Git Credential Manager's sign-in) holds nothing to erase.
//! Everything else, and `get` always, is
//! passed on: the request bytes verbatim on the helper's stdin (but for
//! `path=`, below), its stdout and exit status back to git. The request is
//! read bounded (64 KiB).
//!
//! `path=` is taken out of every request but a secret host's: configure
//! turns on `useHttpPath` for platform hosts, so that this helper learns
//! the repository's owner, and git's `credential_match` does not match a
//! stored entry without a path (the operator's PAT in `store`) against a
//! request with one. The kept helpers get the request they got before.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Result, anyhow};

use super::Exit;
use crate::child::{self, Bounds};
use crate::diag::{debug, io_reason};
use crate::git::helpers::helper_command;
use crate::git::protocol::{self, Request, TOKEN_USERNAME};
use crate::git::stdin;
use crate::settings::{Route, Settings};
use crate::token;

/// The shell git runs helpers with (its SHELL_PATH; `git var GIT_SHELL_PATH`).
const SHELL: &str = "/bin/sh";

/// How long the kept helper's `get` may take to say whether it holds a
/// credential git rejected.
pub const ERASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How much of the kept helper's answer to its `get` is read (and of its
/// stderr, which is thrown away): a credential is a few lines; a helper that
/// says more holds nothing this wrapper erases.
pub const ERASE_CHECK_LIMIT: usize = 64 * 1024;

/// `settings` is `None` when they did not resolve: the kept helper must
/// still run (see main.rs), with the default deadline.
/// `helper`: the kept helper's config value; `operation`: git's.
pub fn run(
    helper: &OsStr,
    operation: &OsStr,
    settings: Option<&Settings>,
) -> crate::error::Result<Exit> {
    if let Some(settings) = settings {
        super::start_journal(settings, crate::journal::Command::Fallback);
    }
    let limit = settings.map_or(crate::settings::DEFAULT_TIMEOUT, |s| s.timeout);
    let code = run_with(helper, operation, settings, stdin::with_deadline(limit))?;
    Ok(Exit::Status(code))
}

/// Is `request` for a secret-backed host, with the very secret this helper
/// serves for it? A secret that cannot be read is not ours to protect.
fn is_served_secret(settings: Option<&Settings>, request: &Request) -> bool {
    let (Some(settings), Some(host), Some(password)) =
        (settings, request.host.as_deref(), request.password.as_ref())
    else {
        return false;
    };
    let Route::Secret(secret) = settings.route(host) else {
        return false;
    };
    token::secret_host_token(settings, secret).is_ok_and(|s| s == *password)
}

/// Is `request` for a secret-backed host (whose requests keep their path:
/// configure does not turn `useHttpPath` on for them)?
fn is_secret_host(settings: Option<&Settings>, request: &Request) -> bool {
    let (Some(settings), Some(host)) = (settings, request.host.as_deref()) else {
        return false;
    };
    matches!(settings.route(host), Route::Secret(_))
}

/// The request's lines without its `path=` lines.
pub fn without_path(raw: &[u8]) -> Vec<u8> {
    raw.split_inclusive(|&b| b == b'\n')
        .filter(|line| !line.starts_with(b"path="))
        .flatten()
        .copied()
        .collect()
}

/// Why `operation` of `request` is withheld from the kept helper, or `None`
/// when it is passed on.
pub fn withheld(operation: &OsStr, request: &Request) -> Option<&'static str> {
    if operation != "store" {
        return None;
    }
    if request.password_expiry_utc.is_some() {
        return Some("it carries password_expiry_utc");
    }
    if request.username.as_deref() == Some(TOKEN_USERNAME) {
        return Some("its username is x-access-token");
    }
    None
}

/// A `withhold` line: `store` of this request's credential (from `source`,
/// when known) was not passed on. The wrapper runs only in the sections
/// configure wrote, for the hosts it was configured for.
fn journal_withhold(request: &Request, source: Option<crate::journal::Source>) {
    use crate::journal::{Event, Kind};
    let owner = (request.path.as_deref())
        .and_then(crate::owner::Owner::from_git_path)
        .map(|o| o.to_string());
    crate::journal::target(
        request.host.as_deref(),
        owner.as_deref(),
        request.path.as_deref(),
    );
    let mut event = Event::new(Kind::Withhold);
    event.source = source;
    if let Some(password) = &request.password {
        let expiry = request
            .password_expiry_utc
            .as_deref()
            .and_then(|e| e.parse().ok());
        event = event.token(password, expiry);
    }
    crate::journal::record(event);
}

/// Run the kept helper for one request; its exit status.
fn run_with(
    helper: &OsStr,
    op: &OsStr,
    settings: Option<&Settings>,
    input: impl Read,
) -> Result<u8> {
    let (request, raw) = protocol::read_request_verbatim(input)?;
    let operation = op.to_string_lossy();
    if op == "store" && is_served_secret(settings, &request) {
        debug!(
            "fallback: not passing {operation} on to the kept helper: it is the secret this \
             helper serves for {}",
            request.host.as_deref().unwrap_or_default()
        );
        journal_withhold(&request, Some(crate::journal::Source::Secret));
        return Ok(0);
    }
    if let Some(why) = withheld(op, &request) {
        debug!(
            "fallback: not passing {operation} on to the kept helper: the credential is short-lived ({why})"
        );
        journal_withhold(&request, None);
        return Ok(0);
    }
    let raw = if request.path.is_some() && !is_secret_host(settings, &request) {
        debug!("fallback: passing the request on without its path");
        without_path(&raw)
    } else {
        raw
    };
    // An erase without a password (nothing to compare) is passed on.
    let rejected = request.password.as_ref().filter(|_| op == "erase");
    if let Some(password) = rejected
        && !holds(helper, &raw, password.expose())
    {
        debug!(
            "fallback: not passing erase on to the kept helper: its get does not answer with \
             the rejected password (it was never stored there)"
        );
        return Ok(0);
    }
    debug!("fallback: passing {operation} on to the kept helper");
    let mut child = helper_process(helper, op)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow!("cannot run the kept helper with {SHELL}: {}", io_reason(&e)))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    match stdin.write_all(&raw) {
        // A helper that does not read its input is no error: git ignores
        // SIGPIPE there too.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(anyhow!(
                "cannot pass the request on to the kept helper: {}",
                io_reason(&e)
            ));
        }
        _ => {}
    }
    drop(stdin);
    let status = child
        .wait()
        .map_err(|e| anyhow!("cannot wait for the kept helper: {}", io_reason(&e)))?;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    Ok(code.clamp(0, 255) as u8)
}

/// The kept helper run for `op` as git's run-command runs it: `sh -c CMD CMD`.
fn helper_process(helper: &OsStr, op: &OsStr) -> Command {
    let command = helper_command(helper, op);
    let mut c = Command::new(SHELL);
    c.arg("-c").arg(&command).arg(&command);
    c
}

/// The request git sent for `erase`, as a `get` request: without the
/// password and what belongs to it.
fn as_get_request(raw: &[u8]) -> Vec<u8> {
    raw.split_inclusive(|&b| b == b'\n')
        .filter(|line| {
            !["password=", "password_expiry_utc=", "oauth_refresh_token="]
                .iter()
                .any(|key| line.starts_with(key.as_bytes()))
        })
        .flat_map(|line| line.iter().copied())
        .collect()
}

/// Does the kept helper hold `password`: does its own `get`, for the erase
/// request without the password, answer with it? No, when it answers
/// anything else, nothing, fails, or takes longer than
/// [`ERASE_CHECK_TIMEOUT`] (then it is killed, with its process group), or
/// says more than [`ERASE_CHECK_LIMIT`] (read, and the rest thrown away).
fn holds(helper: &OsStr, raw: &[u8], password: &str) -> bool {
    let mut command = helper_process(helper, OsStr::new("get"));
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GCM_INTERACTIVE", "never");
    let bounds = Bounds {
        deadline: ERASE_CHECK_TIMEOUT,
        limit: ERASE_CHECK_LIMIT,
    };
    let out = match child::run(&mut command, Some(as_get_request(raw)), bounds) {
        Ok(out) => out,
        Err(failure) => {
            debug!(
                "fallback: the kept helper's get: {}",
                child::describe(&failure)
            );
            return false;
        }
    };
    if !out.status.success() {
        return false;
    }
    if out.cut {
        debug!(
            "fallback: the kept helper's get said more than {} KiB: not a credential",
            ERASE_CHECK_LIMIT / 1024
        );
        return false;
    }
    let answered = String::from_utf8_lossy(&out.stdout);
    answered
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter_map(|l| l.strip_prefix("password="))
        .next_back()
        .is_some_and(|p| p == password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Request {
        protocol::read_request(text.as_bytes()).unwrap()
    }

    #[test]
    fn the_path_is_taken_out_and_nothing_else() {
        let raw = b"protocol=https\nhost=github.com\npath=orgA/x.git\nusername=op\n\n";
        assert_eq!(
            without_path(raw),
            b"protocol=https\nhost=github.com\nusername=op\n\n"
        );
        let no_path = b"protocol=https\nhost=h\nwwwauth[]=Basic realm=\"path=x\"\n";
        assert_eq!(without_path(no_path), no_path);
    }

    #[test]
    fn short_lived_credentials_are_withheld_from_store_only() {
        let ours = "protocol=https\nhost=github.com\nusername=x-access-token\npassword=ghs_x\n\
                    password_expiry_utc=1999999999\n";
        let no_expiry = "protocol=https\nhost=github.com\nusername=x-access-token\npassword=t\n";
        let expiring = "protocol=https\nhost=h\nusername=bob\npassword=p\npassword_expiry_utc=5\n";
        let pat = "protocol=https\nhost=github.com\nusername=operator\npassword=pat\n";
        let store = OsStr::new("store");
        assert!(withheld(store, &request(ours)).is_some());
        assert!(withheld(store, &request(no_expiry)).is_some());
        assert!(withheld(store, &request(expiring)).is_some());
        assert_eq!(withheld(store, &request(pat)), None);
        // Never withheld from store alone (erase is decided by the kept
        // helper's own get: `holds`).
        for op in ["get", "erase", "future-op"] {
            assert_eq!(withheld(OsStr::new(op), &request(ours)), None);
        }
    }
}

#[cfg(test)]
mod erase_tests {
    use super::*;

    #[test]
    fn the_get_request_has_no_password() {
        let raw = b"protocol=https\nhost=github.com\nusername=x-access-token\npassword=p\n\
                    password_expiry_utc=5\nwwwauth[]=Basic\n\n";
        assert_eq!(
            as_get_request(raw),
            b"protocol=https\nhost=github.com\nusername=x-access-token\nwwwauth[]=Basic\n\n"
        );
    }

    #[test]
    fn a_helper_holds_what_its_get_answers() {
        let holds = |snippet: &str| holds(OsStr::new(snippet), b"host=h\n\n", "dead");
        assert!(holds(
            "!cat >/dev/null; echo username=u; echo password=dead; :"
        ));
        // Prompts off; the request ends (cat returns at the closed stdin).
        assert!(holds(
            "!cat >/dev/null; [ \"$GIT_TERMINAL_PROMPT\" = 0 ] && [ \"$GCM_INTERACTIVE\" = never ] \
             && echo password=dead; :"
        ));
        assert!(!holds("!cat >/dev/null; echo password=live; :"));
        assert!(!holds("!cat >/dev/null; :"));
        assert!(!holds("!cat >/dev/null; echo password=dead; exit 1; :"));
        // It saw the request without the password.
        assert!(holds(
            "!grep -q password= && echo password=wrong || echo password=dead; :"
        ));
    }

    #[test]
    fn a_helper_that_waits_is_killed_with_its_children() {
        let started = std::time::Instant::now();
        // The helper's child holds stdout open: only the group kill ends it
        // before its 30 s; and one that closed its stdout is waited for in
        // the time allowed too.
        for snippet in [
            "!(sleep 30; echo password=dead) & wait; :",
            "!exec >&-; sleep 30; :",
        ] {
            assert!(!holds(OsStr::new(snippet), b"host=h\n\n", "dead"));
        }
        assert!(started.elapsed() < Duration::from_secs(30), "not cut short");
    }
}

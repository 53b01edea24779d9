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
//! `erase` is always passed on: a dead installation token that an old
//! entrypoint stored above the operator's PAT must go when git rejects it,
//! or it hides the PAT at every platform outage. git ≥ 2.41's `store` (and
//! `cache`) erase only the entry holding that very password, so the PAT is
//! safe.
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

use anyhow::{Result, anyhow};

use super::Exit;
use crate::diag::{debug, io_reason};
use crate::git::helpers::helper_command;
use crate::git::protocol::{self, Request, TOKEN_USERNAME};
use crate::git::stdin;
use crate::settings::{Route, Settings};
use crate::token;

/// The shell git runs helpers with (its SHELL_PATH; `git var GIT_SHELL_PATH`).
const SHELL: &str = "/bin/sh";

/// `settings` is `None` when they did not resolve: the kept helper must
/// still run (see main.rs), with the default deadline.
/// `helper`: the kept helper's config value; `operation`: git's.
pub fn run(
    helper: &OsStr,
    operation: &OsStr,
    settings: Option<&Settings>,
) -> crate::error::Result<Exit> {
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
        return Ok(0);
    }
    if let Some(why) = withheld(op, &request) {
        debug!(
            "fallback: not passing {operation} on to the kept helper: the credential is short-lived ({why})"
        );
        return Ok(0);
    }
    let raw = if request.path.is_some() && !is_secret_host(settings, &request) {
        debug!("fallback: passing the request on without its path");
        without_path(&raw)
    } else {
        raw
    };
    debug!("fallback: passing {operation} on to the kept helper");
    // As git's run-command does for a helper: `sh -c CMD CMD`.
    let command = helper_command(helper, op);
    let mut child = Command::new(SHELL)
        .arg("-c")
        .arg(&command)
        .arg(&command)
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
        // A dead token erased from the kept store: it must not hide the PAT.
        for op in ["get", "erase", "future-op"] {
            assert_eq!(withheld(OsStr::new(op), &request(ours)), None);
        }
    }
}

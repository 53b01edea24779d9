//! `gh-login`: `gh auth login --with-token` with a fresh token, for cron.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Result, anyhow, bail};

use crate::diag::{self, debug, io_reason};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::token;

/// gh refuses to log in while one of these is set, and they hold the stale
/// token this command exists to replace.
const STALE_VARIABLES: [&str; 4] = [
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
];

/// `hostnames`: the hosts to log in to (default: every platform host);
/// `gh`: the gh to run.
pub fn run(settings: &Settings, hostnames: &[String], gh: &Path) -> Result<()> {
    let hosts: Vec<String> = if hostnames.is_empty() {
        settings.hosts.clone()
    } else {
        hostnames.iter().map(|h| h.to_ascii_lowercase()).collect()
    };
    let token = token::platform_token(settings)?;
    for host in &hosts {
        login(gh, host, &token.secret)?;
    }
    Ok(())
}

fn login(gh: &Path, host: &str, token: &Secret) -> Result<()> {
    let mut command = Command::new(gh);
    command
        .args(["auth", "login", "--with-token", "--hostname", host])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in STALE_VARIABLES {
        command.env_remove(name);
    }
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow!(
            "cannot run {}: not found (install the GitHub CLI, or name it with --gh PATH)",
            gh.display()
        ),
        _ => anyhow!("cannot run {}: {}", gh.display(), io_reason(&e)),
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A gh that exits without reading closes the pipe; its exit status
        // then says what went wrong, so a write error is not reported.
        let _ = stdin.write_all(format!("{}\n", token.expose()).as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| anyhow!("cannot wait for {}: {}", gh.display(), io_reason(&e)))?;
    if output.status.success() {
        debug!("gh auth login --hostname {host}: ok");
        return Ok(());
    }
    // Show gh's own words (with the token masked, should gh ever echo it).
    let said = String::from_utf8_lossy(&output.stderr).replace(token.expose(), "********");
    let said = said.trim_end();
    if !said.is_empty() {
        diag::write_raw(&format!("{said}\n"));
    }
    bail!(
        "{} auth login --with-token --hostname {host} failed ({})",
        gh.display(),
        output.status
    )
}

//! `configure` / `unconfigure`: put this helper first in git's list of
//! credential helpers for each served host, keep the helpers it displaces
//! after it as wrapped fallbacks, and take exactly that out again.
//!
//! Git runs the helpers that apply to a URL in config order (system, global,
//! repository; top to bottom; generic and host-scoped alike), an empty value
//! forgetting those listed before, and stops at the first that answers. So
//! for each served HOST, `configure` appends to the end of the config file:
//!
//! ```text
//! [credential "https://HOST/"]
//!     helper =
//!     helper = /usr/local/bin/molecule-git-token-helper --timeout 5
//!     helper = /usr/local/bin/molecule-git-token-helper fallback -- 'store --file=/x'
//!
//!     useHttpPath = true
//! ```
//!
//! the empty reset line; this helper with the settings given as flags; in
//! their order, the helpers git ran for `https://HOST/` before (from the
//! file written and the files git reads before it), each through the hidden
//! `fallback` wrapper, which keeps short-lived tokens from their `store`;
//! and, for a platform host (not a secret host), `useHttpPath`, so that git
//! sends the repository's path and the helper knows its owner (the wrapper
//! takes the path out again for the kept helpers, whose stored entries have
//! none).
//!
//! The section is spelled with the trailing slash (`https://HOST/`, git's
//! own normal form of the URL, which matches exactly what `https://HOST`
//! does), and always appended as a section of its own at the end of the
//! file. configure recognises only what it wrote (block.rs): a reset line
//! followed by this helper's line and wrapped fallbacks. A user's own
//! `helper =` for the host, even in a section of the same name, is theirs:
//! before our block it means what it meant (no fallback for that host), and
//! `unconfigure` leaves it. unconfigure takes out exactly the block's lines,
//! so the file comes back byte for byte.
//!
//! Every edit is made on a copy under git's own lock (`FILE.lock`, created
//! 0600), which replaces the file only when all steps succeeded and git read
//! the result back as planned: never a partial configuration.

mod block;
pub mod cargo_config;
mod conditional;
mod file;
pub mod gh_link;
mod location;
mod plan;
pub mod shell_rc;

use anyhow::{Result, bail};

use crate::diag::{debug, io_reason, warning};
use crate::git::config::{Entry, Locked};
use crate::git::helpers::{Line, classify, helper_line};
use crate::git::version;
use crate::settings::{HelperFlags, Route, Settings};
pub use location::Location;
pub use location::program_path;
use location::same_file;
use plan::{HostPlan, block_entries, our_key, plan_host};

/// `configure`: for each served host, the block described in the module
/// documentation; unchanged when it is already there and last.
/// Returns one line per section written, for the user.
pub fn configure(settings: &Settings, flags: &HelperFlags, location: &Location) -> Result<String> {
    version::require_minimum()?;
    let program = program_path()?;
    let args = flags.to_args();
    let ours = helper_line(&program, args.iter().map(String::as_str));
    if !matches!(classify(&ours), Line::Ours { .. }) {
        bail!("cannot write a helper line that this program would read back as its own");
    }
    // When secret hosts were given as flags, the wrappers get them too (with
    // the hosts and the configs directory they depend on), so that they know
    // which secret this helper serves and keep it out of a storing fallback.
    let wrapper_flags = flags.for_wrapper().to_args();
    let wrap = |value: &str| {
        let words = wrapper_flags.iter().map(String::as_str);
        helper_line(&program, words.chain(["fallback", "--", value]))
    };
    let target = location.target()?;
    let locked = Locked::acquire(&target)?;
    let entries = location
        .entries_up_to(&target)
        .map_err(|e| locked.failed(&format!("{e:#}")))?;
    let in_target = |e: &Entry| e.file().is_some_and(|f| same_file(f, &target));
    let text = locked.text()?;
    let present = block::find(&text);
    // git sends the path (for the owner) to platform hosts only.
    let use_http_path = |host: &str| settings.route(host) == Route::Platform;
    let mut plans = Vec::new();
    // Secret-backed hosts get the same line: `get` tells them apart.
    for host in &settings.all_hosts() {
        let plan = plan_host(&entries, &in_target, host, &ours, &wrap)
            .map_err(|e| locked.failed(&format!("{e:#}")))?;
        warn_about_hidden_helpers(&entries, &in_target, &plan, &target);
        let path_as_planned = present
            .iter()
            .any(|b| b.host == plan.host && b.use_http_path == use_http_path(host));
        if plan.unchanged() && path_as_planned {
            debug!(
                "configure: https://{host}/ is already configured in {}",
                target.display()
            );
        } else {
            plans.push(plan);
        }
    }
    if plans.is_empty() {
        return Ok(String::new());
    }
    // Our present blocks for these hosts go; the new ones go at the end.
    let redone: Vec<&block::Found> = present
        .iter()
        .filter(|b| plans.iter().any(|p| p.host == b.host))
        .collect();
    let blocks: Vec<(String, Vec<String>, bool)> = plans
        .iter()
        .map(|p| (p.host.clone(), p.desired.clone(), use_http_path(&p.host)))
        .collect();
    locked.write(&block::append(&block::remove(&text, &redone), &blocks))?;
    for plan in &plans {
        debug!(
            "configure: https://{}/ gets this helper and {} kept fallback(s) in {}",
            plan.host,
            plan.desired.len() - 2,
            target.display()
        );
    }
    // Check the result before it replaces the file.
    let written = locked.entries()?;
    let in_lock = |_: &Entry| true;
    for plan in &plans {
        let again = plan_host(&written, &in_lock, &plan.host, &ours, &wrap)
            .map_err(|e| locked.failed(&format!("{e:#}")))?;
        if again.current != plan.desired
            || !again.last
            || use_http_path(&plan.host) && !reads_use_http_path(&written, &plan.host)
        {
            return Err(locked.failed(&format!(
                "after editing, the helpers for https://{}/ in {} are not as planned (another \
                 [credential \"https://{}/\"] section in the way?)",
                plan.host,
                locked.path().display(),
                plan.host
            )));
        }
    }
    locked.commit()?;
    Ok(plans
        .iter()
        .map(|p| format!("configured https://{}/ in {}\n", p.host, target.display()))
        .collect())
}

/// Whether git reads `credential.https://HOST/.useHttpPath` as true (the
/// last value wins).
fn reads_use_http_path(entries: &[Entry], host: &str) -> bool {
    let key = format!("{}.usehttppath", plan::our_section(host)).to_ascii_lowercase();
    entries
        .iter()
        .rev()
        .find(|e| e.key.eq_ignore_ascii_case(&key))
        .and_then(|e| e.value.as_deref())
        .and_then(crate::settings::parse_bool)
        == Some(true)
}

/// One warning line for each helper the block's reset line hides from some
/// requests: those that an `includeIf` read before the block brings in
/// (an `includeIf` after a block left in place is not hidden), and those
/// scoped to a path or a user name.
fn warn_about_hidden_helpers(
    entries: &[Entry],
    in_target: &dyn Fn(&Entry) -> bool,
    plan: &HostPlan,
    target: &std::path::Path,
) {
    let host = &plan.host;
    let block_end = match plan.unchanged() {
        true => block_entries(entries, in_target, &our_key(host))
            .last()
            .map_or(entries.len(), |i| i + 1),
        false => entries.len(),
    };
    for found in conditional::conditional_helpers(&entries[..block_end], host) {
        warning!("{}", found.warning(host, target));
    }
    for hidden in &plan.hidden {
        warning!(
            "{hidden} applies to some https://{host} URLs only: the reset line hides it there \
             and it is not kept as a fallback"
        );
    }
}

/// `unconfigure`: remove the blocks configure wrote to the file, for the
/// hosts in `only` or for every host.
/// Returns one line per section removed, for the user.
pub fn unconfigure(only: Option<&[String]>, location: &Location) -> Result<String> {
    version::require_minimum()?;
    let target = location.target()?;
    if !target.exists() {
        debug!(
            "unconfigure: {} does not exist; nothing to remove",
            target.display()
        );
        return Ok(String::new());
    }
    // A file with nothing of ours is not even locked (a system file that
    // other programs edit, say): read first, lock only to edit.
    let ours_in = |text: &[u8]| {
        block::find(text)
            .iter()
            .any(|b| only.is_none_or(|only| only.contains(&b.host)))
    };
    let unlocked = std::fs::read(&target)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {}", target.display(), io_reason(&e)))?;
    if !ours_in(&unlocked) {
        debug!("unconfigure: nothing of ours in {}", target.display());
        return Ok(String::new());
    }
    let locked = Locked::acquire(&target)?;
    let text = locked.text()?;
    let found = block::find(&text);
    let removed: Vec<&block::Found> = found
        .iter()
        .filter(|b| only.is_none_or(|only| only.contains(&b.host)))
        .collect();
    let mut hosts: Vec<&str> = Vec::new();
    for b in &removed {
        if !hosts.contains(&b.host.as_str()) {
            hosts.push(&b.host);
        }
    }
    if hosts.is_empty() {
        debug!("unconfigure: nothing of ours in {}", target.display());
        return Ok(String::new());
    }
    locked.write(&block::remove(&text, &removed))?;
    for host in &hosts {
        debug!(
            "unconfigure: removed https://{host}/ from {}",
            target.display()
        );
    }
    // git must agree that nothing of ours is left.
    let left = locked.entries()?;
    let in_lock = |_: &Entry| true;
    if let Some(host) = hosts
        .iter()
        .find(|h| !block_entries(&left, &in_lock, &our_key(h)).is_empty())
    {
        return Err(locked.failed(&format!(
            "{} in {} still holds this helper after removing it (edited by hand?); remove \
             those lines by hand",
            our_key(host),
            target.display()
        )));
    }
    locked.commit()?;
    Ok(hosts
        .iter()
        .map(|h| format!("removed https://{h}/ from {}\n", target.display()))
        .collect())
}

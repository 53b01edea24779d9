//! For each served host, the helpers git would run, in order, and what
//! would go wrong with them.

use super::render::{Check, Mark, check};
use crate::git::helpers::{self, HelperEntry, Line};
use crate::settings::{DEFAULT_HOST, Settings};

/// For each served host (platform and secret-backed), the helpers git would
/// run, in order, and what would go wrong: another helper answering first,
/// a storing helper that would keep our short-lived token, a configured path
/// that no longer exists.
pub fn checks(settings: &Settings) -> Vec<Check> {
    let entries = match helpers::read_all() {
        Ok(entries) => entries,
        Err(e) => return vec![check("git", Mark::Fail, format!("{e:#}"))],
    };
    settings
        .all_hosts()
        .iter()
        .map(|host| {
            let host = host.to_ascii_lowercase();
            let list = helpers::helpers_in(&entries, &host);
            let sends_path = helpers::sends_path(&entries, &host);
            host_check(&host, &list, settings.serves_host(&host), sends_path)
        })
        .collect()
}

/// `short_lived`: the host is served the platform's token, which a storing
/// helper must not keep (a secret host's token lives as long as its file).
/// `sends_path`: git sends the host's helpers the repository's path
/// (`useHttpPath`, which configure turns on for platform hosts).
fn host_check(host: &str, list: &[HelperEntry], short_lived: bool, sends_path: bool) -> Check {
    if list.is_empty() {
        return check(
            "git",
            Mark::Warn,
            format!("{host}: no credential helper; run `molecule-git-token-helper configure`"),
        );
    }
    // A helper line may hold a password inline: the message is redacted
    // when printed, as every message of status is (redact.rs).
    let describe = |e: &HelperEntry| {
        let what = match &e.line {
            Line::Ours { .. } => "this helper".to_string(),
            Line::Fallback { wrapped, .. } => format!("{wrapped} (wrapped)"),
            Line::Other => e.value.clone(),
        };
        format!("{what} [{}]", e.origin.trim_start_matches("file:"))
    };
    let order = list
        .iter()
        .map(describe)
        .collect::<Vec<_>>()
        .join(", then ");
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    match list.iter().position(HelperEntry::is_ours) {
        None => warns.push(
            "this helper is not configured; run `molecule-git-token-helper configure`".to_string(),
        ),
        Some(0) => {}
        Some(_) => warns.push(format!("{} answers first", describe(&list[0]))),
    }
    if let Some(ours) = list.iter().find(|e| e.is_ours()) {
        let (platform, secret) = helpers::hosts_named(&ours.value);
        // The list the line names for this kind of host, the flag that names
        // one, and whether the line serves the host without naming it (the
        // default platform host).
        let (named, flag, default) = match short_lived {
            true => (platform, "--host", host == DEFAULT_HOST),
            false => (secret, "--secret-host", false),
        };
        let example = match short_lived {
            true => format!("--host {host}"),
            false => format!("--secret-host {host}=NAME"),
        };
        if named.is_empty() && !default {
            warns.push(format!(
                "this helper's line in git's config does not name {host}, so git gets a \
                 credential for it only while MOLECULE_GIT_HOSTS or MOLECULE_SECRET_HOSTS \
                 names it in git's own environment; write it into the line with \
                 `molecule-git-token-helper configure {example}`"
            ));
        } else if !named.is_empty() && !named.iter().any(|h| h == host) {
            warns.push(format!(
                "this helper's line names {flag} {} but not {host}, so git gets nothing from \
                 it for {host}; run configure again with {example} among its flags",
                named.join(", ")
            ));
        }
    }
    for e in list {
        // configure turns useHttpPath on for platform hosts and takes the
        // path out for the helpers it wrapped; any other one (a
        // repository's own config, say) now gets the path. Without
        // useHttpPath (after unconfigure, say) git sends no path.
        if short_lived && sends_path && matches!(e.line, Line::Other) {
            warns.push(format!(
                "{} is not wrapped by configure: git sends it the repository's path \
                 (useHttpPath, so that this helper knows the owner), and a credential it \
                 stored without a path no longer matches; run `molecule-git-token-helper \
                 configure` for that file (--file or --system), or set useHttpPath = false \
                 in its section",
                describe(e)
            ));
        }
        if e.receives_our_token && short_lived {
            warns.push(format!(
                "{} would store the short-lived token after each successful push",
                describe(e)
            ));
        }
        if e.program_exists == Some(false) {
            fails.push(format!(
                "{} names a program that does not exist",
                describe(e)
            ));
        }
    }
    let (mark, problems) = match (fails.is_empty(), warns.is_empty()) {
        (false, _) => (Mark::Fail, [fails, warns].concat()),
        (true, false) => (Mark::Warn, warns),
        (true, true) => (Mark::Ok, Vec::new()),
    };
    let mut message = format!("{host}: {order}");
    if !problems.is_empty() {
        message = format!("{message}: {}", problems.join("; "));
    }
    check("git", mark, message)
}

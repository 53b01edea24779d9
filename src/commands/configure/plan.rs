//! The plan for one host's block: what configure writes (the reset line,
//! this helper, every helper that applied before, wrapped) and whether what
//! is there already is it; and how a block is removed again.

use std::fs;
use std::path::Path;

use anyhow::{Result, bail};

use crate::git::config::{Entry, Locked};
use crate::git::helpers::{Line, classify, helper_key};
use crate::git::url::{Applies, applies};

/// The config key whose `helper` lines configure owns for `host`.
pub fn our_key(host: &str) -> String {
    format!("{}.helper", our_section(host))
}

pub fn our_section(host: &str) -> String {
    format!("credential.https://{host}/")
}

/// What configure does for one host.
#[derive(Debug, PartialEq, Eq)]
pub struct HostPlan {
    pub host: String,
    /// Our block's values as they are in the file (empty: none).
    pub current: Vec<String>,
    /// Our block as it should be: reset, ours, wrapped fallbacks.
    pub desired: Vec<String>,
    /// The present block comes after every other helper for the host.
    pub last: bool,
    /// Helpers for some requests to the host only (a path or user in the
    /// pattern) that the reset line will hide; named for a warning.
    pub hidden: Vec<String>,
}

impl HostPlan {
    pub fn unchanged(&self) -> bool {
        self.last && self.current == self.desired
    }
}

/// Plan `host`'s block from the entries git reads up to and including the
/// target file (`in_target` tells which are in it): the block replaces any
/// present one and comes after everything, so every helper that applied to
/// the host before it is kept, in order, wrapped.
pub fn plan_host(
    entries: &[Entry],
    in_target: &dyn Fn(&Entry) -> bool,
    host: &str,
    ours: &str,
    wrap: &dyn Fn(&str) -> String,
) -> Result<HostPlan> {
    let key = our_key(host);
    let is_block = |e: &Entry| e.key == key && in_target(e);
    let first = entries.iter().position(is_block);
    let current: Vec<String> = entries
        .iter()
        .filter(|e| is_block(e))
        .map(|e| e.value.clone().unwrap_or_default())
        .collect();
    if let Some(foreign) = entries.iter().filter(|e| is_block(e)).find(|e| {
        let value = e.value.as_deref().unwrap_or_default();
        !value.is_empty() && classify(value) == Line::Other
    }) {
        bail!(
            "{key} in {} holds a helper that configure did not write; move it to \
             credential.https://{host}.helper or remove it, then run configure again",
            foreign.file().unwrap_or(Path::new("?")).display()
        );
    }
    let applies_to_host =
        |e: &Entry| helper_key(&e.key).map(|p| p.map_or(Applies::All, |p| applies(p, host)));
    let last = first.is_some_and(|i| {
        entries[i..]
            .iter()
            .all(|e| is_block(e) || e.value.is_none() || applies_to_host(e) != Some(Applies::All))
    });
    // The entries the block will follow: all of them when it is rewritten.
    let before = match (last, first) {
        (true, Some(i)) => &entries[..i],
        _ => entries,
    };
    let mut kept: Vec<&str> = Vec::new();
    let mut hidden = Vec::new();
    for entry in before.iter().filter(|e| !is_block(e)) {
        let Some(value) = entry.value.as_deref() else {
            continue;
        };
        match applies_to_host(entry) {
            Some(Applies::All) if value.is_empty() => kept.clear(),
            Some(Applies::All) => kept.push(value),
            Some(Applies::Some) if !value.is_empty() => {
                hidden.push(format!("{} ({})", entry.key, entry.origin))
            }
            _ => {}
        }
    }
    let mut desired = vec![String::new(), ours.to_string()];
    for value in kept {
        match classify(value) {
            Line::Ours { .. } => {}
            Line::Fallback { .. } => desired.push(value.to_string()),
            Line::Other => desired.push(wrap(value)),
        }
    }
    Ok(HostPlan {
        host: host.to_string(),
        current,
        desired,
        last,
        hidden,
    })
}

/// Remove `host`'s block from the locked file: its helper lines, and its
/// section header when nothing else is left in it (git keeps a header that
/// a comment precedes).
pub fn remove_block(locked: &Locked, host: &str) -> Result<()> {
    let key = our_key(host);
    locked.config(&["--unset-all", &key], &format!("--unset-all {key}"))?;
    let section = our_section(host);
    let prefix = format!("{section}.");
    let header = format!("[credential \"https://{host}/\"]");
    let keys_left = locked.entries()?.iter().any(|e| e.key.starts_with(&prefix));
    let text = fs::read_to_string(locked.path()).unwrap_or_default();
    if !keys_left && text.contains(&header) {
        locked.config(
            &["--remove-section", &section],
            &format!("--remove-section {section}"),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::helpers::tests::{P, entry, global_github, wrap};

    fn plan(entries: &[Entry], host: &str) -> HostPlan {
        let in_target = |e: &Entry| e.file() == Some(Path::new("/h/.gitconfig"));
        plan_host(entries, &in_target, host, P, &wrap).unwrap()
    }

    #[test]
    fn a_new_block_keeps_every_earlier_helper_in_order_wrapped() {
        let entries = vec![
            entry("system", "/etc/gitconfig", "credential.helper", "cache"),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://github.com.username",
                "bob",
            ),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://github.com.helper",
                "",
            ),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://github.com.helper",
                "!gh auth git-credential",
            ),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.helper",
                "store --file=/s",
            ),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://gitlab.com.helper",
                "z",
            ),
        ];
        let p = plan(&entries, "github.com");
        assert_eq!(p.current, Vec::<String>::new());
        assert!(!p.last);
        assert_eq!(
            p.desired,
            [
                "",
                P,
                &wrap("!gh auth git-credential"),
                &wrap("store --file=/s")
            ]
        );
        assert!(p.hidden.is_empty());
    }

    #[test]
    fn a_block_in_place_is_left_alone_and_a_block_overtaken_is_redone() {
        let mut entries = vec![
            entry("global", "/h/.gitconfig", "credential.helper", "store"),
            global_github(""),
            global_github(P),
            global_github(&wrap("store")),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://gitlab.com/.helper",
                "",
            ),
        ];
        let p = plan(&entries, "github.com");
        assert!(p.unchanged(), "{p:?}");
        // Another scope's entry with our key is not our block.
        entries.push(entry(
            "global",
            "/h/other",
            "credential.https://github.com/.helper",
            "cache",
        ));
        let p = plan(&entries, "github.com");
        assert!(!p.last);
        assert_eq!(p.desired, ["", P, &wrap("store"), &wrap("cache")]);
        assert_eq!(p.current, ["", P, &wrap("store")]);
    }

    #[test]
    fn our_own_lines_are_not_kept_as_fallbacks_of_ourselves() {
        let old = "/old/molecule-git-token-helper --timeout 3";
        let entries = vec![
            entry(
                "system",
                "/etc/gitconfig",
                "credential.https://github.com/.helper",
                "",
            ),
            entry(
                "system",
                "/etc/gitconfig",
                "credential.https://github.com/.helper",
                old,
            ),
            entry(
                "system",
                "/etc/gitconfig",
                "credential.https://github.com/.helper",
                &wrap("cache"),
            ),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://github.com.helper",
                old,
            ),
        ];
        let p = plan(&entries, "github.com");
        assert_eq!(p.desired, ["", P, &wrap("cache")]);
    }

    #[test]
    fn path_scoped_helpers_are_named_and_foreign_lines_refused() {
        let entries = vec![
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://github.com/org.helper",
                "cache",
            ),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://bob@github.com.helper",
                "store",
            ),
        ];
        let p = plan(&entries, "github.com");
        assert_eq!(p.desired, ["", P]);
        assert_eq!(p.hidden.len(), 2);
        assert!(p.hidden[0].contains("credential.https://github.com/org.helper"));

        let entries = vec![global_github(""), global_github("store")];
        let in_target = |_: &Entry| true;
        let err = plan_host(&entries, &in_target, "github.com", P, &wrap).unwrap_err();
        assert!(err.to_string().contains("configure did not write"), "{err}");
    }
}

//! The plan for one host's block: what configure writes (the reset line,
//! this helper, every helper that applied before, wrapped) and whether what
//! is there already is it. (The block's text: `block.rs`.)

use anyhow::{Result, bail};

use crate::git::config::Entry;
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
    let blocks = block_entries(entries, in_target, &key);
    let is_block = |i: usize| blocks.contains(&i);
    let first = blocks.first().copied();
    let current: Vec<String> = blocks
        .iter()
        .map(|&i| entries[i].value.clone().unwrap_or_default())
        .collect();
    let applies_to_host =
        |e: &Entry| helper_key(&e.key).map(|p| p.map_or(Applies::All, |p| applies(p, host)));
    let last = first.is_some_and(|first| {
        entries.iter().enumerate().skip(first).all(|(i, e)| {
            is_block(i) || e.value.is_none() || applies_to_host(e) != Some(Applies::All)
        })
    });
    // The entries the block will follow: all of them when it is rewritten.
    let before = match (last, first) {
        (true, Some(i)) => i,
        _ => entries.len(),
    };
    let mut kept: Vec<&str> = Vec::new();
    let mut hidden = Vec::new();
    for (_, entry) in entries[..before]
        .iter()
        .enumerate()
        .filter(|(i, _)| !is_block(*i))
    {
        let Some(value) = entry.value.as_deref() else {
            continue;
        };
        match applies_to_host(entry) {
            Some(Applies::All) if value.is_empty() => kept.clear(),
            Some(Applies::All) => kept.push(value),
            Some(Applies::Some) if !value.is_empty() => {
                hidden.push(format!("{} ({})", shown_key(&entry.key), entry.origin))
            }
            _ => {}
        }
    }
    let mut desired = vec![String::new(), ours.to_string()];
    for value in kept {
        // git's listing was read lossily: a helper that is not UTF-8 cannot
        // be written back as it was.
        if value.contains('\u{FFFD}') {
            bail!(
                "a credential helper for https://{host}/ is not UTF-8 text; configure cannot \
                 keep it as a fallback (fix or remove it, then run configure again)"
            );
        }
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

/// The indices of the entries that are configure's blocks for `key` in the
/// target: a reset line immediately followed by this helper's line, then
/// the wrapped fallbacks. A user's own `helper =` (or any other line) with
/// the same key is not ours.
pub fn block_entries(
    entries: &[Entry],
    in_target: &dyn Fn(&Entry) -> bool,
    key: &str,
) -> Vec<usize> {
    let is_key = |i: usize| entries.get(i).is_some_and(|e| e.key == key && in_target(e));
    let value = |i: usize| entries[i].value.as_deref();
    let mut found = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let starts = is_key(i)
            && value(i) == Some("")
            && is_key(i + 1)
            && matches!(classify(value(i + 1).unwrap_or("")), Line::Ours { .. });
        if !starts {
            i += 1;
            continue;
        }
        found.extend([i, i + 1]);
        i += 2;
        while is_key(i) && matches!(classify(value(i).unwrap_or("")), Line::Fallback { .. }) {
            found.push(i);
            i += 1;
        }
    }
    found
}

/// A config key as a warning may show it: a user name tells the person
/// which entry is meant; a password (`user:password@`) is redacted.
fn shown_key(key: &str) -> String {
    let userinfo = key
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(userinfo, _)| userinfo);
    match userinfo {
        Some(userinfo) if userinfo.contains(':') => crate::secret::redact_url_userinfo(key),
        _ => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_show_a_user_name_but_no_password() {
        assert_eq!(
            shown_key("credential.https://bob@github.com.helper"),
            "credential.https://bob@github.com.helper"
        );
        assert_eq!(
            shown_key("credential.https://bob:Secret99@github.com/org.helper"),
            "credential.https://***@github.com/org.helper"
        );
        assert_eq!(
            shown_key("credential.https://github.com/org.helper"),
            "credential.https://github.com/org.helper"
        );
    }
    use crate::git::helpers::tests::{P, entry, global_github, wrap};
    use std::path::Path;

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
    fn path_scoped_helpers_are_named_and_a_users_lines_of_our_name_kept() {
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

        // The user's own lines under our section's name are theirs: a reset
        // and a helper, which is kept; a lone reset, which means no fallback.
        let entries = vec![global_github(""), global_github("store")];
        let p = plan(&entries, "github.com");
        assert_eq!(
            (p.current.len(), p.desired),
            (0, vec!["".into(), P.into(), wrap("store")])
        );
        let entries = vec![
            entry("global", "/h/.gitconfig", "credential.helper", "store"),
            global_github(""),
            global_github(""),
            global_github(P),
        ];
        let p = plan(&entries, "github.com");
        assert_eq!(p.current, ["", P]);
        assert!(p.unchanged(), "{p:?}");
    }
}

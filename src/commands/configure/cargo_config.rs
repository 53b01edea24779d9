//! `configure --cargo`: `net.git-fetch-with-cli = true` in cargo's own
//! config (`$CARGO_HOME/config.toml`, or `config` when that legacy name
//! exists, since cargo then reads it), so that cargo fetches git
//! dependencies with the git CLI, which runs the helpers configure
//! registers; and `unconfigure`, which takes exactly that out again.
//!
//! The key goes into the file's `[net]` table (a new one at the end when
//! there is none), after a comment line that marks it as ours:
//!
//! ```text
//! # >>> molecule-git-token-helper configure --cargo >>>
//! [net]
//! # molecule-git-token-helper configure --cargo: cargo fetches with git, …
//! git-fetch-with-cli = true
//! ```
//!
//! The first line marks a table configure added (and says so when it
//! created the file); a line before the key's mark says when configure
//! added the final newline the file lacked. The file is edited with `toml_edit`, which keeps
//! every other byte, and written whole beside itself and renamed over it
//! with its mode. An edit is made only when taking it out again gives the
//! file back byte for byte (checked before writing). A file that already
//! sets the key is left alone: `true` is what we want; `false` is the
//! user's choice, and configure warns.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use toml_edit::{DocumentMut, Item, Table, value};

use super::file::{read, real_path, write};
use crate::cargo::{KEY, file_in, home};
use crate::diag::{io_reason, warning};

const KEY_MARK: &str = "# molecule-git-token-helper configure --cargo: cargo fetches git \
                        dependencies with git, which runs git's credential helpers\n";
const TABLE_MARK: &str = "# >>> molecule-git-token-helper configure --cargo >>>\n";
const FILE_MARK: &str =
    "# >>> molecule-git-token-helper configure --cargo (created this file) >>>\n";
/// Before the key's mark, when the file did not end with a newline.
const NEWLINE_MARK: &str = "# (configure --cargo added the newline above)\n";

/// What configure makes of a config's text (`None`: no file).
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// The key is already `true` (ours or the user's).
    AlreadyOn,
    /// The user set it `false`: left alone.
    UserOff,
    /// The new text.
    Write(String),
}

fn parse(text: &str) -> Result<DocumentMut, String> {
    text.parse::<DocumentMut>()
        .map_err(|e| e.message().lines().next().unwrap_or("not TOML").to_string())
}

/// The text with our key added, checked to come out again byte for byte.
fn plan(text: Option<&str>) -> Result<Plan, String> {
    let newline = text.is_some_and(|t| !t.is_empty() && !t.ends_with('\n'));
    let mut doc = parse(&format!(
        "{}{}",
        text.unwrap_or(""),
        if newline { "\n" } else { "" }
    ))?;
    // Set in any spelling (a table, dotted keys, an inline table): left.
    if let Some(item) = doc.get("net").and_then(|net| net.get(KEY)) {
        return match item.as_bool() {
            Some(true) => Ok(Plan::AlreadyOn),
            Some(false) => Ok(Plan::UserOff),
            None => Err(format!("its net.{KEY} is not true or false")),
        };
    }
    let net = match doc.get("net") {
        None => None,
        Some(Item::Table(t)) if !t.is_implicit() && !t.is_dotted() => Some(t),
        Some(_) => {
            return Err(
                "its net is not a [net] table of its own (an inline table, dotted keys or only \
                 sub-tables)"
                    .to_string(),
            );
        }
    };
    if net.is_none() {
        let mut table = Table::new();
        let mark = match text {
            None => FILE_MARK.to_string(),
            Some("") => TABLE_MARK.to_string(),
            Some(_) => format!("\n{TABLE_MARK}"),
        };
        table.decor_mut().set_prefix(mark);
        doc.insert("net", Item::Table(table));
    }
    let Some(Item::Table(net)) = doc.get_mut("net") else {
        unreachable!("[net] is a table")
    };
    net.insert(KEY, value(true));
    if let Some(mut key) = net.key_mut(KEY) {
        let mark = if newline {
            format!("{NEWLINE_MARK}{KEY_MARK}")
        } else {
            KEY_MARK.to_string()
        };
        key.leaf_decor_mut().set_prefix(mark);
    }
    let new = doc.to_string();
    let back = unplan(&new);
    let restored = match (&back, text) {
        (Some(Unplanned::Remove), None) => true,
        (Some(Unplanned::Write(back)), Some(text)) => back == text,
        _ => false,
    };
    if !restored
        || parse(&new)
            .ok()
            .and_then(|d| d.get("net")?.get(KEY)?.as_bool())
            != Some(true)
    {
        return Err(format!(
            "adding net.{KEY} there could not be undone byte for byte"
        ));
    }
    Ok(Plan::Write(new))
}

/// What unconfigure makes of a config's text: `None` when nothing is ours.
#[derive(Debug, PartialEq, Eq)]
enum Unplanned {
    /// The file held nothing but what configure created: remove it.
    Remove,
    Write(String),
}

fn unplan(text: &str) -> Option<Unplanned> {
    let mut doc = parse(text).ok()?;
    let Some(Item::Table(net)) = doc.get_mut("net") else {
        return None;
    };
    let mark = net.key(KEY).and_then(|k| k.leaf_decor().prefix()?.as_str());
    let newline = mark == Some(&format!("{NEWLINE_MARK}{KEY_MARK}"));
    if mark != Some(KEY_MARK) && !newline {
        return None;
    }
    net.remove(KEY);
    let table_mark = net
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .map(str::to_string);
    let created = table_mark.as_deref() == Some(FILE_MARK);
    let added = created
        || table_mark
            .as_deref()
            .is_some_and(|m| m.ends_with(TABLE_MARK));
    if added && net.is_empty() {
        doc.remove("net");
    }
    let mut new = doc.to_string();
    if newline && new.ends_with('\n') {
        new.pop();
    }
    match created && new.trim().is_empty() {
        true => Some(Unplanned::Remove),
        false => Some(Unplanned::Write(new)),
    }
}

/// The file to edit: cargo's own (`config` when it exists), where a link points.
fn target() -> Result<PathBuf> {
    let dir = home().ok_or_else(|| anyhow!("cannot find cargo's home (CARGO_HOME, HOME)"))?;
    Ok(real_path(&file_in(&dir)))
}

fn legacy_note(path: &Path) -> &'static str {
    match path.file_name().is_some_and(|n| n == "config") {
        true => " (cargo's legacy name, which it reads before config.toml)",
        false => "",
    }
}

/// `configure --cargo`. Returns a line for the user when the file changed.
pub fn configure() -> Result<String> {
    let path = target()?;
    let text = read(&path)?;
    match plan(text.as_deref()) {
        Ok(Plan::AlreadyOn) => {
            crate::diag::debug!(
                "configure: {} already sets net.{KEY} = true",
                path.display()
            );
            Ok(String::new())
        }
        Ok(Plan::UserOff) => {
            warning!(
                "{} sets net.{KEY} = false: left as it is, so cargo fetches git dependencies \
                 without this helper (set it to true to use it)",
                path.display()
            );
            Ok(String::new())
        }
        Ok(Plan::Write(new)) => {
            write(&path, &new)?;
            Ok(format!(
                "{}{}: net.{KEY} = true{}\n",
                path.display(),
                legacy_note(&path),
                if text.is_none() { " (created)" } else { "" }
            ))
        }
        Err(why) => bail!(
            "not editing {}: {why}; set net.{KEY} = true there by hand",
            path.display()
        ),
    }
}

/// `unconfigure`: take our key (and a table or file configure created) out
/// of cargo's config files. Returns one line per file changed.
pub fn unconfigure() -> Result<String> {
    let dir = home().ok_or_else(|| anyhow!("cannot find cargo's home (CARGO_HOME, HOME)"))?;
    let mut done = String::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for name in ["config", "config.toml"] {
        let path = real_path(&dir.join(name));
        if seen.contains(&path) {
            continue;
        }
        seen.push(path.clone());
        let Some(text) = read(&path)? else { continue };
        match unplan(&text) {
            None => {}
            Some(Unplanned::Remove) => {
                std::fs::remove_file(&path)
                    .map_err(|e| anyhow!("cannot remove {}: {}", path.display(), io_reason(&e)))?;
                done += &format!(
                    "{}: removed (configure --cargo had created it)\n",
                    path.display()
                );
            }
            Some(Unplanned::Write(new)) => {
                write(&path, &new)?;
                done += &format!("{}: no longer sets net.{KEY}\n", path.display());
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: Option<&str>) -> String {
        let Ok(Plan::Write(new)) = plan(text) else {
            panic!("{text:?}: {:?}", plan(text))
        };
        assert_eq!(crate::cargo::fetch_with_cli(&new), Ok(Some(true)), "{new}");
        match (unplan(&new), text) {
            (Some(Unplanned::Remove), None) => {}
            (Some(Unplanned::Write(back)), Some(text)) => assert_eq!(back, text),
            (other, _) => panic!("{new}: {other:?}"),
        }
        new
    }

    #[test]
    fn adds_a_marked_key_and_takes_it_out_byte_for_byte() {
        let new = round_trip(None);
        assert_eq!(new, format!("{FILE_MARK}[net]\n{KEY_MARK}{KEY} = true\n"));
        round_trip(Some(""));
        let new = round_trip(Some("# mine\n[http]\ncainfo = \"/ca.pem\"  # trust\n\n"));
        assert!(
            new.starts_with("# mine\n[http]\ncainfo = \"/ca.pem\"  # trust\n\n# >>>"),
            "{new:?}"
        );
        round_trip(Some("[build]\njobs = 2"));
        let new = round_trip(Some(
            "[net]\nretry = 3 # three\n\n[registries.x]\nindex = \"sparse+https://x/\"\n",
        ));
        assert!(new.contains(&format!(
            "retry = 3 # three\n{KEY_MARK}{KEY} = true\n\n[reg"
        )));
        round_trip(Some("top = 1\n[net]\n[net.ssh]\nknown-hosts = []\n"));
        round_trip(Some("[net]\nretry = 3"));
    }

    #[test]
    fn leaves_a_set_key_and_refuses_what_it_cannot_edit() {
        assert_eq!(
            plan(Some("[net]\ngit-fetch-with-cli = true\n")),
            Ok(Plan::AlreadyOn)
        );
        assert_eq!(
            plan(Some("net.git-fetch-with-cli = false\n")),
            Ok(Plan::UserOff)
        );
        assert_eq!(
            plan(Some("net = { git-fetch-with-cli = true }\n")),
            Ok(Plan::AlreadyOn)
        );
        assert!(plan(Some("net.retry = 2\n")).is_err());
        assert!(plan(Some("net = { retry = 2 }\n")).is_err());
        assert!(plan(Some("[net.ssh]\nknown-hosts = []\n")).is_err());
        assert!(plan(Some("[net\n")).is_err());
        // Not ours: the user's own line stays.
        assert_eq!(unplan("[net]\ngit-fetch-with-cli = true\n"), None);
    }
}

//! The helper lines in git's config, as configure writes them and status
//! reads them: which `credential.*.helper` keys there are, which of their
//! values are this helper's own lines or its wrapped fallbacks, which
//! helpers git runs for a host and in what order, and how git turns a helper
//! value into a command.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Result;

use crate::git::config::{self, Entry};
use crate::git::shell;
use crate::git::url::{Applies, applies};
use crate::settings::{self, HelperArgs};

/// The program's file name, by which configure recognises its own lines.
pub const PROGRAM_NAME: &str = "molecule-git-token-helper";

/// For a key `credential.helper` → `Some(None)`; `credential.<url>.helper`
/// → `Some(Some(url))`; any other key → `None`.
pub fn helper_key(key: &str) -> Option<Option<&str>> {
    if key == "credential.helper" {
        return Some(None);
    }
    let url = key.strip_prefix("credential.")?.strip_suffix(".helper")?;
    Some(Some(url))
}

/// What a `credential.*.helper` value is, as far as this helper is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// This helper (`PROGRAM [FLAGS…]`; git appends get/store/erase).
    Ours { program: String },
    /// A fallback kept by configure: `PROGRAM fallback -- 'WRAPPED'`.
    Fallback { program: String, wrapped: String },
    /// Any other helper.
    Other,
}

/// Read a helper value: ours when git would run this program (by file name,
/// as an absolute path or a `!` command) and it parses as `get` once git
/// appends the operation; a fallback when it parses as `fallback`.
pub fn classify(value: &str) -> Line {
    let command = match value.strip_prefix('!') {
        Some(snippet) => snippet,
        None if value.starts_with('/') => value,
        None => return Line::Other, // git runs `git credential-VALUE`
    };
    let Some(words) = shell::split(command) else {
        return Line::Other;
    };
    let Some(program) = words.first() else {
        return Line::Other;
    };
    if Path::new(program).file_name() != Some(PROGRAM_NAME.as_ref()) {
        return Line::Other;
    }
    match settings::parse_helper_args(&words[1..]) {
        Some(HelperArgs::Get) => Line::Ours {
            program: program.clone(),
        },
        Some(HelperArgs::Fallback(wrapped)) => Line::Fallback {
            program: program.clone(),
            wrapped,
        },
        None => Line::Other,
    }
}

/// The hosts a helper line of this program names: with `--host` (served
/// from the platform) and with `--secret-host` (lower case). Either list
/// empty means the line leaves that choice to git's environment
/// (`MOLECULE_GIT_HOSTS`, default github.com; `MOLECULE_SECRET_HOSTS`).
pub fn hosts_named(value: &str) -> (Vec<String>, Vec<String>) {
    let command = value.strip_prefix('!').unwrap_or(value);
    let (mut platform, mut secret) = (Vec::new(), Vec::new());
    let Some(words) = shell::split(command) else {
        return (platform, secret);
    };
    let mut words = words.iter().skip(1).map(String::as_str);
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (word, None),
        };
        if flag != "--host" && flag != "--secret-host" {
            continue;
        }
        let Some(value) = inline.or_else(|| words.next()) else {
            break;
        };
        match flag {
            "--secret-host" => {
                let host = value.split_once('=').map_or(value, |(h, _)| h);
                secret.push(host.trim().to_ascii_lowercase());
            }
            _ => platform.push(value.trim().to_ascii_lowercase()),
        }
    }
    (platform, secret)
}

/// One helper git would run for a host, in the order it would run them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperEntry {
    /// The value in git's config, verbatim.
    pub value: String,
    /// The scope git read it in: `system`, `global`, `local`, `worktree`, `command`.
    pub scope: String,
    /// Where it is, as git reports it: `file:/home/u/.gitconfig`, `command line:`.
    pub origin: String,
    /// Ours, one of our wrapped fallbacks, or another helper.
    pub line: Line,
    /// Another helper that may keep what git asks it to store: anything but
    /// ours, our fallbacks, and helpers known to store nothing (gh, netrc,
    /// oauth). Unknown helpers and `!` snippets count as storing.
    pub may_store: bool,
    /// `may_store`, and one of our lines is in the same list: after every
    /// successful push with our token, git hands the token to this helper's
    /// `store` unwrapped. `status` warns about these.
    pub receives_our_token: bool,
    /// For ours and our fallbacks: whether the program path in the line
    /// exists and is executable (an upgrade may have removed it); `None`
    /// for other helpers.
    pub program_exists: Option<bool>,
}

impl HelperEntry {
    pub fn is_ours(&self) -> bool {
        matches!(self.line, Line::Ours { .. })
    }
}

/// The helpers git would run, in order, for a request to `https://HOST/…`
/// made from the current directory (all config scopes git reads here,
/// repository included): generic and host-scoped `credential.*.helper`
/// entries, with each empty value forgetting the ones before it. Entries
/// scoped to a path or a user name (`https://HOST/org`, `https://bob@HOST`)
/// apply to some requests only and are not listed. The first entry is the
/// one git asks first; a `status` warning belongs wherever another helper
/// comes before our first line, or `receives_our_token` is set.
pub fn helpers_for(host: &str) -> Result<Vec<HelperEntry>> {
    Ok(helpers_in(&read_all()?, &host.to_ascii_lowercase()))
}

/// Every entry of git's configuration as git reads it here, for
/// [`helpers_in`] and [`sends_path`].
pub fn read_all() -> Result<Vec<Entry>> {
    config::list(&[], "git config --list")
}

/// [`helpers_for`] on entries already read (in git's order).
pub fn helpers_in(entries: &[Entry], host: &str) -> Vec<HelperEntry> {
    let mut list: Vec<&Entry> = Vec::new();
    for entry in entries {
        let Some(pattern) = helper_key(&entry.key) else {
            continue;
        };
        if pattern.is_some_and(|p| applies(p, host) != Applies::All) {
            continue;
        }
        match entry.value.as_deref() {
            Some("") => list.clear(),
            Some(_) => list.push(entry),
            None => {}
        }
    }
    let lines: Vec<Line> = list
        .iter()
        .map(|e| classify(e.value.as_deref().unwrap_or_default()))
        .collect();
    let any_ours = lines.iter().any(|l| matches!(l, Line::Ours { .. }));
    list.iter()
        .zip(lines)
        .map(|(entry, line)| {
            let value = entry.value.clone().unwrap_or_default();
            let (may_store, program_exists) = match &line {
                Line::Ours { program } | Line::Fallback { program, .. } => {
                    (false, Some(program_exists(program)))
                }
                Line::Other => (may_store(&value), None),
            };
            HelperEntry {
                value,
                scope: entry.scope.clone(),
                origin: entry.origin.clone(),
                line,
                may_store,
                receives_our_token: may_store && any_ours,
                program_exists,
            }
        })
        .collect()
}

/// Whether git sends the repository's path to `host`'s helpers: the last
/// `credential.useHttpPath` (generic, or scoped to a URL that covers the
/// whole host) in git's order says so, as a git boolean.
pub fn sends_path(entries: &[Entry], host: &str) -> bool {
    let mut on = false;
    for entry in entries {
        let Some(rest) = entry.key.strip_prefix("credential.") else {
            continue;
        };
        let pattern = match rest.strip_suffix(".usehttppath") {
            Some(url) => Some(url),
            None if rest == "usehttppath" => None,
            None => continue,
        };
        if pattern.is_some_and(|p| applies(p, host) != Applies::All) {
            continue;
        }
        on = match entry.value.as_deref() {
            None => true,
            Some(v) => matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1"),
        };
    }
    on
}

/// Helpers known to store nothing: gh's (`gh auth git-credential`),
/// git's contrib `netrc`, and git-credential-oauth. Anything else may store.
fn may_store(value: &str) -> bool {
    let command = value.strip_prefix('!').unwrap_or(value);
    let first = command.split_whitespace().next().unwrap_or_default();
    let name = Path::new(first)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(first);
    let name = name.strip_prefix("git-credential-").unwrap_or(name);
    !matches!(name, "gh" | "netrc" | "oauth")
}

/// Whether `program` (absolute, or a name looked up on PATH as the shell
/// would) is an executable file.
fn program_exists(program: &str) -> bool {
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| executable(&d.join(program))))
}

/// The helper line for `program` and `args`: the bare path when it needs no
/// quoting (git runs a value starting with `/` through the shell), else a
/// `!` command with the path quoted; each argument shell-quoted.
pub fn helper_line<'a>(program: &str, args: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = if program.starts_with('/') && shell::quote(program) == program {
        program.to_string()
    } else {
        format!("!{}", shell::quote(program))
    };
    for arg in args {
        line.push(' ');
        line.push_str(&shell::quote(arg));
    }
    line
}

/// The shell command git runs for helper `value` and `operation`, as
/// credential.c's `credential_do` builds it: `!cmd` runs `cmd`, an absolute
/// path runs as it is, anything else is `git credential-VALUE`; then a space
/// and the operation. Git hands the result to `sh -c`.
pub fn helper_command(value: &OsStr, operation: &OsStr) -> OsString {
    let value = value.as_bytes();
    let mut cmd = if let Some(snippet) = value.strip_prefix(b"!") {
        snippet.to_vec()
    } else if value.first() == Some(&b'/') {
        value.to_vec()
    } else {
        [b"git credential-", value].concat()
    };
    cmd.push(b' ');
    cmd.extend_from_slice(operation.as_bytes());
    OsString::from_vec(cmd)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_hosts_a_line_names() {
        let none: (Vec<String>, Vec<String>) = (vec![], vec![]);
        assert_eq!(hosts_named(P), none);
        assert_eq!(
            hosts_named(&format!(
                "{P} --host GitHub.com --timeout 3 --secret-host=git.example.test=T --host=ghe:8443"
            )),
            (
                vec!["github.com".to_string(), "ghe:8443".to_string()],
                vec!["git.example.test".to_string()]
            )
        );
        assert_eq!(
            hosts_named("!'/opt/my tools/molecule-git-token-helper' --secret-host g.test=T"),
            (vec![], vec!["g.test".to_string()])
        );
    }

    pub const P: &str = "/usr/local/bin/molecule-git-token-helper";

    pub fn entry(scope: &str, file: &str, key: &str, value: &str) -> Entry {
        Entry {
            scope: scope.into(),
            origin: format!("file:{file}"),
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A line of `[credential "https://github.com/"]` in the global file.
    pub fn global_github(value: &str) -> Entry {
        entry(
            "global",
            "/h/.gitconfig",
            "credential.https://github.com/.helper",
            value,
        )
    }

    pub fn wrap(value: &str) -> String {
        helper_line(P, ["fallback", "--", value])
    }

    #[test]
    fn helper_lines_quote_what_the_shell_would_change() {
        assert_eq!(helper_line(P, []), P);
        assert_eq!(
            helper_line(P, ["--configs-dir", "/c d", "--timeout", "2.5"]),
            format!("{P} --configs-dir '/c d' --timeout 2.5")
        );
        assert_eq!(
            helper_line("/opt/my tools/molecule-git-token-helper", ["--host", "a"]),
            "!'/opt/my tools/molecule-git-token-helper' --host a"
        );
        assert_eq!(
            wrap("!f() { echo \"it's\"; }; f"),
            format!(r#"{P} fallback -- '!f() {{ echo "it'\''s"; }}; f'"#)
        );
    }

    #[test]
    fn classify_recognises_our_lines_and_round_trips_wrapped_values() {
        let program = P.to_string();
        assert_eq!(
            classify(P),
            Line::Ours {
                program: program.clone()
            }
        );
        assert_eq!(
            classify(&format!("{P} --timeout 3 --host a --no-cache")),
            Line::Ours {
                program: program.clone()
            }
        );
        assert_eq!(
            classify("!'/opt/my tools/molecule-git-token-helper' --host a"),
            Line::Ours {
                program: "/opt/my tools/molecule-git-token-helper".into()
            }
        );
        for wrapped in [
            "store",
            "store --file=/tmp/a b",
            "!f() { echo \"password=$X\"; }; f",
            "/usr/lib/git-core/git-credential-cache --timeout 60",
            "it's",
            "",
        ] {
            assert_eq!(
                classify(&wrap(wrapped)),
                Line::Fallback {
                    program: program.clone(),
                    wrapped: wrapped.into()
                },
                "{wrapped}"
            );
        }
        for other in [
            "",
            "store",
            "molecule-git-token-helper",
            "/usr/bin/git-credential-store",
            "!gh auth git-credential",
            "/usr/bin/molecule-git-token-helper-old",
            &format!("{P} fetch-token"),
            &format!("{P} --help"),
            &format!("{P}; rm -rf /"),
        ] {
            assert_eq!(classify(other), Line::Other, "{other}");
        }
    }

    #[test]
    fn helpers_in_follows_resets_and_scopes() {
        let entries = vec![
            entry("system", "/etc/gitconfig", "credential.helper", "cache"),
            entry("global", "/h/.gitconfig", "credential.helper", "store"),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://gitlab.com.helper",
                "x",
            ),
            entry(
                "global",
                "/h/.gitconfig",
                "credential.https://github.com/org.helper",
                "y",
            ),
            global_github(""),
            global_github(P),
            global_github(&wrap("store")),
            entry(
                "local",
                "/r/.git/config",
                "credential.helper",
                "!gh auth git-credential",
            ),
            entry(
                "local",
                "/r/.git/config",
                "credential.helper",
                "osxkeychain",
            ),
        ];
        let list = helpers_in(&entries, "github.com");
        let values: Vec<&str> = list.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(
            values,
            [P, &wrap("store"), "!gh auth git-credential", "osxkeychain"]
        );
        assert!(list[0].is_ours());
        assert!(matches!(list[1].line, Line::Fallback { .. }));
        assert_eq!(list[2].scope, "local");
        assert_eq!(list[2].origin, "file:/r/.git/config");
        let receives: Vec<bool> = list.iter().map(|h| h.receives_our_token).collect();
        assert_eq!(receives, [false, false, false, true]);
        assert_eq!(list[0].program_exists, Some(Path::new(P).exists()));
        assert_eq!(list[3].program_exists, None);

        // Without our line nobody receives our token.
        let list = helpers_in(&entries, "gitlab.com");
        let values: Vec<&str> = list.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(
            values,
            [
                "cache",
                "store",
                "x",
                "!gh auth git-credential",
                "osxkeychain"
            ]
        );
        assert!(list.iter().all(|h| !h.receives_our_token));
    }
    #[test]
    fn storing_helpers() {
        for storing in [
            "store",
            "cache --timeout 9",
            "osxkeychain",
            "/usr/bin/git-credential-libsecret",
            "!f() { :; }; f",
            "manager",
        ] {
            assert!(may_store(storing), "{storing}");
        }
        for not in [
            "!gh auth git-credential",
            "!/usr/bin/gh auth git-credential",
            "netrc -f /x",
            "oauth",
        ] {
            assert!(!may_store(not), "{not}");
        }
    }

    #[test]
    fn helper_keys() {
        assert_eq!(helper_key("credential.helper"), Some(None));
        assert_eq!(
            helper_key("credential.https://a.b/c.d.helper"),
            Some(Some("https://a.b/c.d"))
        );
        assert_eq!(helper_key("credential.https://a.b.username"), None);
        assert_eq!(helper_key("credentialx.helper"), None);
        assert_eq!(helper_key("url.x.helper"), None);
    }

    #[test]
    fn helper_commands_as_git_builds_them() {
        let cmd = |v: &str, op: &str| helper_command(OsStr::new(v), OsStr::new(op));
        assert_eq!(
            cmd("store --file=/x", "get"),
            "git credential-store --file=/x get"
        );
        assert_eq!(cmd("!f() { cat; }; f", "store"), "f() { cat; }; f store");
        assert_eq!(
            cmd("/usr/bin/h --x 'a b'", "erase"),
            "/usr/bin/h --x 'a b' erase"
        );
        assert_eq!(cmd("", "get"), "git credential- get");
    }
}

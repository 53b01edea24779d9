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
//! ```
//!
//! the empty reset line; this helper with the settings given as flags; and,
//! in their order, the helpers git ran for `https://HOST/` before (from the
//! file written and the files git reads before it), each through the hidden
//! `fallback` wrapper, which keeps short-lived tokens from their `store`.
//!
//! The section is spelled with the trailing slash (`https://HOST/`, git's
//! own normal form of the URL, which matches exactly what `https://HOST`
//! does) so that it is this helper's alone: git config appends to the last
//! section of a name, and the user's `[credential "https://HOST"]` may sit
//! early in the file, above helpers ours must come after. With a section of
//! its own, configure can recognise its lines, move them to the end when
//! something was appended after them, and `unconfigure` can remove them
//! without guessing which empty `helper =` line was whose.
//!
//! Every edit is made with `git config --file` on a copy under git's own
//! lock (`FILE.lock`), which replaces the file only when all steps succeeded
//! and the result was checked: never a partial configuration.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use clap::Parser;

use crate::cli::{Cli, Command, ConfigureArgs};
use crate::diag::{debug, io_reason};
use crate::git_config::{self, Applies, Entry, Locked, applies, helper_key};
use crate::settings::Settings;
use crate::shell;

/// The program's file name, by which configure recognises its own lines.
pub const PROGRAM_NAME: &str = "molecule-git-token-helper";

/// The config key whose `helper` lines configure owns for `host`.
pub fn our_key(host: &str) -> String {
    format!("{}.helper", our_section(host))
}

fn our_section(host: &str) -> String {
    format!("credential.https://{host}/")
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
    let argv = words.iter().map(String::as_str).chain(["get"]);
    match Cli::try_parse_from(argv).map(|cli| cli.command) {
        Ok(Command::Get) => Line::Ours {
            program: program.clone(),
        },
        Ok(Command::Fallback(args)) if args.operation == "get" => match args.helper.into_string() {
            Ok(wrapped) => Line::Fallback {
                program: program.clone(),
                wrapped,
            },
            Err(_) => Line::Other,
        },
        _ => Line::Other,
    }
}

/// One helper git would run for a host, in the order it would run them.
#[allow(dead_code)] // for `status`, which lands separately
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
    let entries = git_config::list(&[], "git config --list")?;
    Ok(helpers_in(&entries, &host.to_ascii_lowercase()))
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
fn helper_line<'a>(program: &str, args: impl IntoIterator<Item = &'a str>) -> String {
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

/// The path to write into git's config: the copy found on PATH when it is
/// this very program (as gh does, so that an upgrade which replaces the file
/// or repoints a symlink on PATH leaves a working path), else this program's
/// canonical path.
fn program_path() -> Result<String> {
    let exe = std::env::current_exe()
        .and_then(fs::canonicalize)
        .map_err(|e| anyhow!("cannot find this program's own path: {}", io_reason(&e)))?;
    if exe.file_name() != Some(PROGRAM_NAME.as_ref()) {
        bail!(
            "this program is {}; configure needs it installed as {PROGRAM_NAME}, the name by \
             which it recognises its own lines in git's config",
            exe.display()
        );
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join(PROGRAM_NAME))
            .find(|candidate| fs::canonicalize(candidate).is_ok_and(|c| c == exe))
    });
    let path = on_path.unwrap_or(exe);
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("this program's path {} is not UTF-8", path.display()))
}

/// The config file configure and unconfigure edit.
enum Location {
    Global,
    System,
    File(PathBuf),
}

impl Location {
    fn of(args: &ConfigureArgs) -> Location {
        match (&args.file, args.system) {
            (Some(file), _) => Location::File(file.clone()),
            (None, true) => Location::System,
            (None, false) => Location::Global,
        }
    }

    /// The file `git config --global`/`--system`/`--file` would write, with
    /// symbolic links followed as git's lock file does.
    fn target(&self) -> Result<PathBuf> {
        let path = match self {
            Location::File(file) => file.clone(),
            Location::Global => {
                let out = git_var("GIT_CONFIG_GLOBAL", false)?;
                let paths: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
                // git_global_config(): GIT_CONFIG_GLOBAL alone; else ~/.gitconfig
                // unless only the XDG file ($XDG_CONFIG_HOME/git/config) is readable.
                match paths[..] {
                    [only] if std::env::var_os("GIT_CONFIG_GLOBAL").is_some() => only.into(),
                    [xdg, user] => {
                        let readable = |p: &str| fs::File::open(p).is_ok();
                        if !readable(user) && readable(xdg) {
                            xdg.into()
                        } else {
                            user.into()
                        }
                    }
                    _ => bail!("git names no global config file (is HOME set?)"),
                }
            }
            Location::System => {
                let out = git_var("GIT_CONFIG_SYSTEM", true)?;
                match out.lines().next() {
                    Some(path) if !path.is_empty() => path.into(),
                    _ => bail!("git names no system config file"),
                }
            }
        };
        let path = std::path::absolute(&path)
            .map_err(|e| anyhow!("cannot resolve {}: {}", path.display(), io_reason(&e)))?;
        Ok(fs::canonicalize(&path).unwrap_or(path))
    }

    /// The entries git reads up to and including `target`, in order: for
    /// --global the system and global scopes as git reads them here; for
    /// --system and --file the file itself, includes followed.
    fn entries_up_to(&self, target: &Path) -> Result<Vec<Entry>> {
        match self {
            Location::Global => Ok(git_config::list(&[], "git config --list")?
                .into_iter()
                .filter(|e| e.scope == "system" || e.scope == "global")
                .collect()),
            Location::System | Location::File(_) if !target.exists() => Ok(Vec::new()),
            Location::System | Location::File(_) => git_config::list(
                &["--file".into(), target.into(), "--includes".into()],
                &format!("git config --file {} --list", target.display()),
            ),
        }
    }
}

fn git_var(name: &str, with_system: bool) -> Result<String> {
    // `git config --system` writes the file even when GIT_CONFIG_NOSYSTEM
    // keeps git from reading it; `git var` names it only without.
    let env_remove: &[&str] = if with_system {
        &["GIT_CONFIG_NOSYSTEM"]
    } else {
        &[]
    };
    let args = ["var".into(), name.into()];
    let out = git_config::git_with(&args, &format!("git var {name}"), env_remove)?;
    String::from_utf8(out).map_err(|_| anyhow!("git var {name}: the path is not UTF-8"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || fs::canonicalize(a).is_ok_and(|a| a == b)
}

/// What configure does for one host.
#[derive(Debug, PartialEq, Eq)]
struct HostPlan {
    host: String,
    /// Our block's values as they are in the file (empty: none).
    current: Vec<String>,
    /// Our block as it should be: reset, ours, wrapped fallbacks.
    desired: Vec<String>,
    /// The present block comes after every other helper for the host.
    last: bool,
    /// Helpers for some requests to the host only (a path or user in the
    /// pattern) that the reset line will hide; named for a warning.
    hidden: Vec<String>,
}

impl HostPlan {
    fn unchanged(&self) -> bool {
        self.last && self.current == self.desired
    }
}

/// Plan `host`'s block from the entries git reads up to and including the
/// target file (`in_target` tells which are in it): the block replaces any
/// present one and comes after everything, so every helper that applied to
/// the host before it is kept, in order, wrapped.
fn plan_host(
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
fn remove_block(locked: &Locked, host: &str) -> Result<()> {
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

/// The frozen flags a fallback wrapper needs: `--secret-host`, and the
/// `--host` and `--configs-dir` it is resolved with; none when no secret
/// host was given as a flag (the environment governs the wrapper then).
fn wrapper_flags(flags: &[String]) -> Vec<String> {
    if !flags.iter().any(|f| f == "--secret-host") {
        return Vec::new();
    }
    let mut kept = Vec::new();
    let mut words = flags.iter();
    while let Some(flag) = words.next() {
        if flag == "--no-cache" {
            continue; // the one flag without a value
        }
        let value = words.next();
        if matches!(flag.as_str(), "--secret-host" | "--host" | "--configs-dir") {
            kept.push(flag.clone());
            kept.extend(value.cloned());
        }
    }
    kept
}

/// `configure`: for each served host, the block described in the module
/// documentation; unchanged when it is already there and last.
pub fn configure(settings: &Settings, flags: &[String], args: &ConfigureArgs) -> Result<()> {
    let program = program_path()?;
    let ours = helper_line(&program, flags.iter().map(String::as_str));
    if !matches!(classify(&ours), Line::Ours { .. }) {
        bail!("cannot write a helper line that this program would read back as its own");
    }
    // When secret hosts were given as flags, the wrappers get them too (with
    // the hosts and the configs directory they depend on), so that they know
    // which secret this helper serves and keep it out of a storing fallback.
    let wrapper_flags = wrapper_flags(flags);
    let wrap = |value: &str| {
        let words = wrapper_flags.iter().map(String::as_str);
        helper_line(&program, words.chain(["fallback", "--", value]))
    };
    let location = Location::of(args);
    let target = location.target()?;
    let locked = Locked::acquire(&target)?;
    let entries = location
        .entries_up_to(&target)
        .map_err(|e| locked.failed(&format!("{e:#}")))?;
    let in_target = |e: &Entry| e.file().is_some_and(|f| same_file(f, &target));
    let mut plans = Vec::new();
    // Secret-backed hosts get the same line: `get` tells them apart.
    for host in &settings.all_hosts() {
        let plan = plan_host(&entries, &in_target, host, &ours, &wrap)
            .map_err(|e| locked.failed(&format!("{e:#}")))?;
        for hidden in &plan.hidden {
            crate::diag::write_line(
                "warning",
                &format!(
                    "{hidden} applies to some https://{host} URLs only: the reset line hides it \
                     there and it is not kept as a fallback"
                ),
            );
        }
        if plan.unchanged() {
            debug!(
                "configure: https://{host}/ is already configured in {}",
                target.display()
            );
        } else {
            plans.push(plan);
        }
    }
    if plans.is_empty() {
        return Ok(());
    }
    for plan in &plans {
        let key = our_key(&plan.host);
        if !plan.current.is_empty() {
            remove_block(&locked, &plan.host)?;
        }
        for value in &plan.desired {
            locked.config(&["--add", &key, value], &format!("--add {key}"))?;
        }
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
        if again.current != plan.desired || !again.last {
            return Err(locked.failed(&format!(
                "after editing, the helpers for https://{}/ in {} are not as planned (another \
                 [credential \"https://{}/\"] section in the way?)",
                plan.host,
                locked.path().display(),
                plan.host
            )));
        }
    }
    locked.commit()
}

/// `unconfigure`: remove the blocks configure wrote to the file, for the
/// hosts in `only` or for every host.
pub fn unconfigure(only: Option<&[String]>, args: &ConfigureArgs) -> Result<()> {
    let location = Location::of(args);
    let target = location.target()?;
    if !target.exists() {
        debug!(
            "unconfigure: {} does not exist; nothing to remove",
            target.display()
        );
        return Ok(());
    }
    let locked = Locked::acquire(&target)?;
    let entries = locked.entries()?;
    let mut hosts: Vec<&str> = Vec::new();
    for entry in &entries {
        let Some(Some(url)) = helper_key(&entry.key) else {
            continue;
        };
        let Some(host) = url
            .strip_prefix("https://")
            .and_then(|u| u.strip_suffix('/'))
        else {
            continue;
        };
        let value = entry.value.as_deref().unwrap_or_default();
        if host.contains('/')
            || hosts.contains(&host)
            || only.is_some_and(|only| !only.iter().any(|h| h == host))
            || classify(value) == Line::Other
        {
            continue;
        }
        hosts.push(host);
    }
    for host in &hosts {
        let key = our_key(host);
        let foreign = entries.iter().any(|e| {
            let value = e.value.as_deref().unwrap_or_default();
            e.key == key && !value.is_empty() && classify(value) == Line::Other
        });
        if foreign {
            return Err(locked.failed(&format!(
                "{key} in {} also holds a helper that configure did not write; remove that \
                 line by hand, then run unconfigure again",
                target.display()
            )));
        }
    }
    if hosts.is_empty() {
        debug!("unconfigure: nothing of ours in {}", target.display());
        return Ok(());
    }
    for host in &hosts {
        remove_block(&locked, host)?;
        debug!(
            "unconfigure: removed https://{host}/ from {}",
            target.display()
        );
    }
    let left = locked.entries()?;
    if let Some(host) = hosts
        .iter()
        .find(|h| left.iter().any(|e| e.key == our_key(h)))
    {
        return Err(locked.failed(&format!(
            "{} is still there after removing it",
            our_key(host)
        )));
    }
    locked.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/usr/local/bin/molecule-git-token-helper";

    fn entry(scope: &str, file: &str, key: &str, value: &str) -> Entry {
        Entry {
            scope: scope.into(),
            origin: format!("file:{file}"),
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A line of `[credential "https://github.com/"]` in the global file.
    fn global_github(value: &str) -> Entry {
        entry(
            "global",
            "/h/.gitconfig",
            "credential.https://github.com/.helper",
            value,
        )
    }

    fn wrap(value: &str) -> String {
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
    fn wrappers_get_the_secret_hosts_and_what_they_depend_on() {
        let flags = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert!(wrapper_flags(&flags(&["--host", "a", "--timeout", "5"])).is_empty());
        assert_eq!(
            wrapper_flags(&flags(&[
                "--host",
                "a",
                "--secret-host",
                "g=T",
                "--no-cache",
                "--configs-dir",
                "/c",
                "--timeout",
                "5",
            ])),
            flags(&["--host", "a", "--secret-host", "g=T", "--configs-dir", "/c"])
        );
    }
}

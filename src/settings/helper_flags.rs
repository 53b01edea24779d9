//! What a helper line in git's config carries: the settings given as flags
//! ([`HelperFlags`], rendered to argv in one place), and reading such a
//! line's words back ([`parse_helper_args`]).

use std::path::PathBuf;

use super::{Flags, GLOBAL_FLAGS, SecretHost, Settings, Source, UsageError, invalid};

/// The settings a helper line in git's config carries: those that were
/// given as flags, since git runs the helper without them. Settings that came
/// from the environment are left out, so the environment keeps governing
/// them. Rendered to argv in one place, [`HelperFlags::to_args`], and read
/// back by [`parse_helper_args`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelperFlags {
    pub hosts: Vec<String>,
    pub secret_hosts: Vec<SecretHost>,
    pub platform_url: Option<String>,
    /// Absolute (git runs the helper from any repository).
    pub configs_dir: Option<String>,
    /// Absolute.
    pub cache_dir: Option<String>,
    pub no_cache: bool,
    pub timeout: Option<String>,
    pub refresh_window: Option<String>,
    /// Absolute, or `off`.
    pub journal: Option<String>,
}

impl HelperFlags {
    /// From the flags given and the settings they resolved to. Relative
    /// directories are made absolute; `--verbose` is not kept (it would print
    /// on every git run).
    pub fn new(flags: &Flags, settings: &Settings) -> Result<HelperFlags, UsageError> {
        // Destructured so that a new flag cannot be forgotten here.
        let Flags {
            platform_url,
            configs_dir,
            hosts,
            secret_hosts,
            cache_dir,
            no_cache,
            timeout,
            refresh_window,
            verbose: _,
            journal,
            // Asked per command, never kept in a helper line.
            narrow: _,
        } = flags;
        let absolute = |flag: &'static str, dir: &PathBuf| -> Result<String, UsageError> {
            std::path::absolute(dir)
                .ok()
                .and_then(|d| d.to_str().map(str::to_string))
                .ok_or_else(|| {
                    invalid(
                        Source::Flag(flag),
                        &dir.to_string_lossy(),
                        "expected a directory whose absolute path is valid UTF-8",
                    )
                })
        };
        Ok(HelperFlags {
            hosts: match hosts.is_empty() {
                true => Vec::new(),
                false => settings.hosts.clone(),
            },
            secret_hosts: match secret_hosts.is_empty() {
                true => Vec::new(),
                false => settings.secret_hosts.clone(),
            },
            platform_url: platform_url.as_ref().map(|_| settings.platform_url.clone()),
            configs_dir: configs_dir
                .as_ref()
                .map(|d| absolute("configs-dir", d))
                .transpose()?,
            cache_dir: cache_dir
                .as_ref()
                .map(|d| absolute("cache-dir", d))
                .transpose()?,
            no_cache: *no_cache,
            timeout: timeout.as_ref().map(|t| t.trim().to_string()),
            refresh_window: refresh_window.as_ref().map(|w| w.trim().to_string()),
            journal: journal.as_ref().map(|_| match &settings.journal {
                Some(path) => path.to_string_lossy().into_owned(),
                None => super::journal::OFF.to_string(),
            }),
        })
    }

    /// What a fallback wrapper needs: `--secret-host`, and the `--host` and
    /// `--configs-dir` it is resolved with; nothing when no secret host was
    /// given as a flag (the environment governs the wrapper then).
    pub fn for_wrapper(&self) -> HelperFlags {
        if self.secret_hosts.is_empty() {
            return HelperFlags::default();
        }
        HelperFlags {
            hosts: self.hosts.clone(),
            secret_hosts: self.secret_hosts.clone(),
            configs_dir: self.configs_dir.clone(),
            ..HelperFlags::default()
        }
    }

    /// The arguments that give these settings again.
    pub fn to_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut pair = |flag: &str, value: &str| out.extend([format!("--{flag}"), value.into()]);
        for host in &self.hosts {
            pair("host", host);
        }
        for secret in &self.secret_hosts {
            pair("secret-host", &format!("{}={}", secret.host, secret.name));
        }
        if let Some(url) = &self.platform_url {
            pair("platform-url", url);
        }
        if let Some(dir) = &self.configs_dir {
            pair("configs-dir", dir);
        }
        if let Some(dir) = &self.cache_dir {
            pair("cache-dir", dir);
        }
        if self.no_cache {
            out.push("--no-cache".to_string());
        }
        if let Some(t) = &self.timeout {
            out.extend(["--timeout".to_string(), t.clone()]);
        }
        if let Some(w) = &self.refresh_window {
            out.extend(["--refresh-window".to_string(), w.clone()]);
        }
        if let Some(j) = &self.journal {
            out.extend(["--journal".to_string(), j.clone()]);
        }
        out
    }
}

/// What the words of a helper line of this program (after the program,
/// before the operation git appends) ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperArgs {
    /// Global flags only: this helper, answering git.
    Get,
    /// `fallback [--] HELPER`: a kept helper, wrapped.
    Fallback(String),
}

/// Read the words of a helper line back, as the command line parser would
/// once git appends the operation: global flags ([`GLOBAL_FLAGS`], as
/// `--flag value`, `--flag=value` or `-v`) and then nothing, or `fallback`
/// and the wrapped helper. `None` for anything else.
pub fn parse_helper_args(words: &[String]) -> Option<HelperArgs> {
    let mut words = words.iter().map(String::as_str);
    let mut wrapped: Option<String> = None;
    let mut in_fallback = false;
    while let Some(word) = words.next() {
        if in_fallback && wrapped.is_none() && word == "--" {
            wrapped = Some(words.next()?.to_string());
            continue;
        }
        if word == "-v" {
            continue;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            let &(_, takes_value) = GLOBAL_FLAGS.iter().find(|(n, _)| *n == name)?;
            match (takes_value, inline) {
                (true, None) => {
                    words.next()?;
                }
                (false, Some(_)) => return None,
                _ => {}
            }
            continue;
        }
        match (in_fallback, &wrapped) {
            (false, _) if word == "fallback" => in_fallback = true,
            (true, None) if !word.starts_with('-') => wrapped = Some(word.to_string()),
            _ => return None,
        }
    }
    match (in_fallback, wrapped) {
        (false, _) => Some(HelperArgs::Get),
        (true, Some(wrapped)) => Some(HelperArgs::Fallback(wrapped)),
        (true, None) => None,
    }
}

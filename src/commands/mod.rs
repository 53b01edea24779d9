//! One file (or folder) per subcommand; this file only dispatches. Commands
//! take plain values ([`Action`], [`Settings`]), never clap's types, and
//! return an [`Error`] that `main` prints: none of them writes an error line
//! or picks an exit code of its own.

pub mod configure;
pub mod credential;
pub mod env;
pub mod exec;
pub mod fallback;
pub mod fetch_token;
pub mod gh_login;
pub mod gh_proxy;
pub mod journal;
pub mod narrow;
pub mod shell_init;
pub mod status;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::git::stdin;
use crate::owner::Owner;
use crate::settings::{Flags, HelperFlags, Settings};

/// What the command line asks for, resolved from clap's parse by `cli.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// git's `get`: answer with a token for a served host.
    Get,
    /// git's `store`: read the request, store nothing.
    Store,
    /// git's `erase`: forget the cached token if it is the rejected one.
    Erase,
    /// Print a token (`--json`: with its expiry).
    FetchToken {
        host: Option<String>,
        json: bool,
        /// The installation to ask for (`--owner`); `None`: the default.
        owner: Option<Owner>,
    },
    /// `gh auth login --with-token` for each platform host (or each named one).
    GhLogin(gh_login::Options),
    /// Become `command` with a fresh token in its environment.
    Exec {
        command: Vec<OsString>,
        owner: Option<Owner>,
    },
    /// Register the helper in one git config file; with `gh_proxy`, also
    /// link the gh proxy (`Some(None)`: in the default directory).
    Configure {
        location: configure::Location,
        gh_proxy: Option<Option<PathBuf>>,
        shell_init: bool,
        cargo: bool,
    },
    /// Print the assignments that bring gh's variables up to date.
    Env {
        syntax: env::Syntax,
        hook: bool,
        /// The installation to ask for (`--owner`); `None`: the default.
        owner: Option<Owner>,
    },
    /// Print the script that keeps a shell's variables up to date.
    ShellInit(shell_init::Shell),
    /// Remove what configure wrote from one git config file (and the gh
    /// proxy's link, from `gh_proxy` or the default directory).
    Unconfigure {
        location: configure::Location,
        gh_proxy: Option<PathBuf>,
    },
    Status(status::Options),
    /// Print the journal of token decisions.
    Journal(journal::Options),
    /// The hidden wrapper configure writes around a kept helper.
    Fallback {
        helper: OsString,
        operation: OsString,
    },
}

/// How a command that did its work ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// The wrapped helper's own status (`fallback`), passed on to git.
    Status(u8),
}

/// Run `action`. `flags` are the settings as given on the command line
/// (configure writes those into git's config).
pub fn run(action: Action, flags: &Flags, settings: &Settings) -> Result<Exit> {
    let stdin = || stdin::with_deadline(settings.timeout);
    if let Some(command) = action.journaled_as() {
        start_journal(settings, command);
    }
    match action {
        Action::Get => credential::get(settings, stdin())?,
        Action::Store => credential::store(stdin())?,
        Action::Erase => credential::erase(settings, stdin())?,
        Action::FetchToken { host, json, owner } => {
            fetch_token::run(settings, host.as_deref(), json, owner.as_ref())?
        }
        Action::GhLogin(options) => gh_login::run(settings, &options)?,
        Action::Exec { command, owner } => {
            return Err(exec::run(settings, &command, owner.as_ref()));
        }
        Action::Env {
            syntax,
            hook,
            owner,
        } => env::run(settings, syntax, hook, owner.as_ref())?,
        Action::ShellInit(shell) => shell_init::run(shell, &HelperFlags::new(flags, settings)?)?,
        Action::Configure {
            location,
            gh_proxy,
            shell_init,
            cargo,
        } => {
            let helper_flags = HelperFlags::new(flags, settings)?;
            // Refuse before git's config is touched.
            let link = match &gh_proxy {
                Some(dir) => Some(configure::gh_link::plan(dir.as_deref())?),
                None => None,
            };
            let mut done = configure::configure(settings, &helper_flags, &location)?;
            if let Some(link) = link {
                done += &link.create()?;
            }
            if shell_init {
                let helper = shell_init::helper_words(&helper_flags)?;
                done +=
                    &configure::shell_rc::configure(&|shell| shell_init::rc_line(shell, &helper))?;
            }
            if cargo {
                done += &configure::cargo_config::configure()?;
            }
            write_stdout(done.as_bytes())?;
        }
        Action::Unconfigure { location, gh_proxy } => {
            // The hosts given as flags, platform or secret-backed; else all.
            let mut only = Vec::new();
            if !flags.hosts.is_empty() {
                only.extend(settings.hosts.iter().cloned());
            }
            if !flags.secret_hosts.is_empty() {
                only.extend(settings.secret_hosts.iter().map(|s| s.host.clone()));
            }
            let only = (!only.is_empty()).then_some(only.as_slice());
            let mut done = configure::unconfigure(only, &location)?;
            // The gh link serves every platform host: removed when all go,
            // or when named.
            if only.is_none() || gh_proxy.is_some() {
                done += &configure::gh_link::remove(gh_proxy.as_deref())?;
                done += &configure::shell_rc::unconfigure()?;
                done += &configure::cargo_config::unconfigure()?;
            }
            write_stdout(done.as_bytes())?;
        }
        Action::Status(options) => status::run(settings, &options)?,
        Action::Journal(options) => journal::run(settings, &options)?,
        Action::Fallback { helper, operation } => {
            return fallback::run(&helper, &operation, Some(settings));
        }
    }
    Ok(Exit::Success)
}

impl Action {
    /// The command this action's token decisions are journaled as; `None`
    /// for actions that decide nothing about a token.
    fn journaled_as(&self) -> Option<crate::journal::Command> {
        use crate::journal::Command;
        Some(match self {
            Action::Get => Command::Get,
            Action::Erase => Command::Erase,
            Action::FetchToken { .. } => Command::FetchToken,
            Action::GhLogin(_) => Command::GhLogin,
            Action::Exec { .. } => Command::Exec,
            Action::Env { .. } => Command::Env,
            Action::Fallback { .. } => Command::Fallback,
            _ => return None,
        })
    }
}

/// Journal this process's token decisions as `command`, where the
/// settings say (nowhere when the journal is off).
pub fn start_journal(settings: &Settings, command: crate::journal::Command) {
    let path = settings.journal.as_deref();
    let in_cache_dir =
        path.and_then(std::path::Path::parent) == settings.cache_dir.as_deref() && path.is_some();
    crate::journal::start(path, in_cache_dir, command);
}

/// The journal's target for a command that serves the platform's token to
/// every platform host (exec, env, the gh proxy): the first host, `owner`,
/// and the repository named (gh's `-R`), if any.
pub fn journal_target(settings: &Settings, owner: Option<&Owner>, repo: Option<&str>) {
    let owner = owner.map(Owner::to_string);
    let host = settings.hosts.first().map(String::as_str);
    crate::journal::target(host, owner.as_deref(), repo);
}

/// Write the whole of `bytes` to stdout at once. A reader that went away
/// (a broken pipe) is not an error: nobody is left to tell.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Failed(anyhow::anyhow!(
            "cannot write to stdout: {}",
            crate::diag::io_reason(&e)
        ))),
    }
}

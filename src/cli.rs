//! The command line, as clap sees it. Syntax only: [`Cli::into_parts`]
//! hands the rest of the program plain values ([`Flags`] and an
//! [`Action`]); the environment, defaults and validation of values are
//! resolved into `Settings` by `settings.rs`. With `main.rs`, the only
//! module that imports clap; it also renders the shell completions (and the
//! tests render the man page) from this definition.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::commands::{Action, env, gh_login, shell_init};
use crate::owner::Owner;
use crate::settings::Flags;

mod configure;
mod journal;
mod status;

use configure::{CONFIGURE_ABOUT, UNCONFIGURE_ABOUT};
pub use configure::{ConfigureArgs, ConfigureCommand, UnconfigureCommand};
use journal::JOURNAL_ABOUT;
pub use journal::JournalArgs;
use status::STATUS_ABOUT;
pub use status::StatusArgs;

const ABOUT: &str = "Serve git, gh and scripts a fresh GitHub App installation token from the \
                     Molecule platform";

const LONG_ABOUT: &str = "\
Serve git, gh and scripts a fresh GitHub App installation token from the Molecule platform.

As a git credential helper it answers `get` for https requests to the served hosts \
with username=x-access-token and a token fetched from \
$PLATFORM_URL/admin/github-installation-token, authenticated by the workspace bearer in \
$CONFIGS_DIR/.auth_token. For any other host or protocol it answers nothing, so git asks \
the next helper. On failure it prints one line on stderr and exits 1, so git falls \
through to the next helper (an operator's fallback token, say).

Hosts named with --secret-host HOST=NAME (a team's Gitea, say) are served instead from the \
secret the platform wrote to $CONFIGS_DIR/secrets.d/NAME, with the username git sent (else \
x-access-token) and no expiry, and never from the platform.

Linked as `gh` (configure --gh-proxy), it is a proxy for the gh CLI: it runs the next gh on \
PATH with GH_TOKEN and GITHUB_TOKEN set to a fresh token (when github.com is served; the \
enterprise pair when an Enterprise host is), since gh prefers those variables (stale in every \
workspace process) to its own login.";

const AFTER_HELP: &str = "\
Every setting is a flag or an environment variable; a flag wins. Boolean variables take \
1/true/yes/on or 0/false/no/off.

Exit status: 0 success (and `get` for a host or protocol it does not serve), 1 a failure \
reported on stderr, 2 a usage error. `exec` exits with the command's status.";

#[derive(Debug, Parser)]
#[command(
    name = "molecule-git-token-helper",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Settings shared by every subcommand; given before or after it.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Base URL of the Molecule platform [env: PLATFORM_URL] [default: http://platform:8080]
    #[arg(long, global = true, value_name = "URL")]
    pub platform_url: Option<String>,

    /// Directory holding the workspace bearer, .auth_token [env: CONFIGS_DIR] [default: /configs]
    #[arg(long, global = true, value_name = "DIR")]
    pub configs_dir: Option<PathBuf>,

    /// A host to serve the platform's tokens for; repeat for more [env: MOLECULE_GIT_HOSTS,
    /// comma-separated]
    /// [default: github.com]
    #[arg(long = "host", global = true, value_name = "HOST")]
    pub hosts: Vec<String>,

    /// Serve HOST with the secret in CONFIGS_DIR/secrets.d/NAME (a Gitea token, say), never
    /// from the platform; repeat for more [env: MOLECULE_SECRET_HOSTS, HOST=NAME,…]
    #[arg(long = "secret-host", global = true, value_name = "HOST=NAME")]
    pub secret_hosts: Vec<String>,

    /// Directory of the token cache, an absolute path [env: MOLECULE_TOKEN_CACHE_DIR] [default:
    /// $XDG_RUNTIME_DIR/molecule-git-token-helper, else the per-user cache directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Do not read or write the token cache [env: MOLECULE_TOKEN_NO_CACHE=1]
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// Give up on the platform after this long, name lookup and retries included (and on
    /// status --probe's requests): seconds, or with an s/ms suffix [env: MOLECULE_TOKEN_TIMEOUT]
    /// [default: 10]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<String>,

    /// Re-fetch a cached token with less than this many seconds left
    /// [env: MOLECULE_TOKEN_REFRESH_WINDOW] [default: 300]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub refresh_window: Option<String>,

    /// Print debug lines on stderr (never a token or the bearer) [env: MOLECULE_TOKEN_LOG=debug]
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Journal every token decision to this file (an absolute path), or off; never a token, only
    /// its hash [env: MOLECULE_TOKEN_JOURNAL] [default: journal.jsonl in the cache directory]
    #[arg(long, global = true, value_name = "PATH|off")]
    pub journal: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// (git) Answer git's credential request on stdin with a fresh token
    Get,
    /// (git) Read git's request and store nothing: the platform owns the token's life
    Store,
    /// (git) Forget the cached token if it is the one git rejected
    Erase,
    /// Print the token and a newline, nothing else (for scripts and cron)
    #[command(alias = "_fetch_token")]
    FetchToken(FetchTokenArgs),
    /// Log the gh CLI in with a fresh token (for cron)
    #[command(long_about = "Log the gh CLI in with a fresh token (for cron).\n\n\
        Runs `gh auth login --with-token --hostname HOST` for each platform host (or each \
        --hostname, which must be one), with the token on gh's stdin and with GH_TOKEN, \
        GITHUB_TOKEN, GH_ENTERPRISE_TOKEN and GITHUB_ENTERPRISE_TOKEN removed from gh's \
        environment, since gh refuses to log in while one is set. Quiet on success.\n\n\
        Every host is attempted; each that fails is one line on stderr, and the exit status is \
        1. When gh says the token is bad (HTTP 401), the cached token is dropped, so the next \
        run asks the platform. A host with a port is skipped with a warning (gh cannot log in \
        to one). A fingerprint of what gh was last given for each host (SHA-256, never the \
        token) is kept in the cache directory as gh-login.HOST, and a host whose login \
        already holds the current token is not logged in again unless --force is given: run \
        it from cron every minute. A token can be revoked before it expires: every 10 minutes \
        such a login is checked with one `gh api --hostname HOST rate_limit` (free of rate \
        limit), and when GitHub answers HTTP 401 the token is dropped from the cache and gh \
        logged in with a fresh one, in the same run, with one warning line.\n\n\
        The gh run is the first gh on PATH that is not a link to this program (the gh proxy \
        that configure --gh-proxy puts first would set GH_TOKEN again).\n\n\
        Each gh gets three times --timeout (30 s by default), then it is killed with its \
        process group, and the host's failure is one line naming gh. One gh-login runs at a \
        time: a second one, started while one runs, exits at once with 0 and runs no gh (the \
        lock file gh-login-run.lock in the cache directory).")]
    GhLogin(GhLoginArgs),
    /// Run a command with GH_TOKEN and GITHUB_TOKEN set to a fresh token
    #[command(
        long_about = "Run a command with GH_TOKEN and GITHUB_TOKEN set to a fresh token.\n\n\
        The variable rule: GH_TOKEN and GITHUB_TOKEN get it only when github.com is served (gh \
        sends them to github.com); GH_ENTERPRISE_TOKEN and GITHUB_ENTERPRISE_TOKEN only when a \
        served platform host is not github.com (gh reads those for an Enterprise host); a \
        variable the rule does not name is left as it is. The command replaces this process and its exit status is passed on. If no token \
        can be had, the command is not run and the exit status is 1; a command that \
        cannot be found exits 127, one that cannot be run 126, as in a shell."
    )]
    Exec(ExecArgs),
    /// Register the helper in git's config for each served host, first in line
    #[command(long_about = CONFIGURE_ABOUT)]
    Configure(ConfigureCommand),
    /// Remove exactly what `configure` wrote from git's config
    #[command(long_about = UNCONFIGURE_ABOUT)]
    Unconfigure(UnconfigureCommand),
    /// Diagnose the bearer, the platform, the token, the cache, the secret hosts and git's config
    #[command(long_about = STATUS_ABOUT)]
    Status(StatusArgs),
    /// Print the assignments that bring GH_TOKEN, GITHUB_TOKEN (…) up to date, for eval
    #[command(long_about = ENV_ABOUT)]
    Env(EnvArgs),
    /// Print a script for bash, zsh or fish that keeps GH_TOKEN, GITHUB_TOKEN (…) current
    #[command(long_about = SHELL_INIT_ABOUT)]
    ShellInit(ShellInitArgs),
    /// Print the journal of token decisions (which process got which token), never a token
    #[command(long_about = JOURNAL_ABOUT)]
    Journal(JournalArgs),
    /// Print shell completions for bash, zsh or fish
    Completions(CompletionsArgs),
    /// (git, written by `configure`) Pass a request on to a kept fallback helper,
    /// withholding short-lived tokens from its store
    #[command(hide = true)]
    Fallback(FallbackArgs),
}

const ENV_ABOUT: &str = "\
Print the assignments that bring gh's token variables up to date, for eval.

GH_TOKEN and GITHUB_TOKEN get the platform's token when github.com is served; \
GH_ENTERPRISE_TOKEN and GITHUB_ENTERPRISE_TOKEN when a served platform host is not github.com; \
the others are not printed, so eval leaves them as they were. Every process of a workspace \
starts with the container's variables, dead after an hour; this brings a shell's up to date:

  eval \"$(molecule-git-token-helper env)\"                  (sh, bash, zsh)
  molecule-git-token-helper env --shell fish | source

Output is whole or nothing: on failure nothing is printed on stdout, one line on stderr, and \
the exit status is 1, so a failed eval changes nothing. The token is read from the cache as \
`get` reads it (a warm call starts no network client). To keep a shell current before every \
prompt, and every bash -c an agent runs, see shell-init.";

const SHELL_INIT_ABOUT: &str = "\
Print a script for bash, zsh or fish that keeps gh's token variables current.

Sourcing it runs `env` at once and, in an interactive shell, again before each prompt: a hook \
put first in bash's PROMPT_COMMAND (a string or, bash 5.1 and later, an array; the user's \
commands and the last exit status are kept), in zsh's precmd and preexec hooks \
(add-zsh-hook), or on fish's fish_prompt and fish_preexec events, beside the user's own. So a \
shell left open for a day runs every command with a live token. It is silent while it works; a failure leaves the variables alone and prints one line, \
not again until a success or an hour has passed. Add to the shell's rc file (configure \
--shell-init does this):

  ~/.bashrc                    eval \"$(molecule-git-token-helper shell-init bash)\"
  ~/.zshrc                     eval \"$(molecule-git-token-helper shell-init zsh)\"
  ~/.config/fish/config.fish   molecule-git-token-helper shell-init fish | source

The bash script also serves as BASH_ENV, which bash reads before every non-interactive \
`bash -c`: start an agent with BASH_ENV set to the installed copy \
(PREFIX/share/molecule-git-token-helper/env.bash, written by install.sh) and every command \
it runs starts with a live token. The script's first line names this program by its path and \
the settings given as flags, so the hook runs the same helper whatever PATH holds. The token \
is never in a command's arguments: the helper prints assignments that the shell evaluates.";

#[derive(Debug, Args)]
#[command(
    after_help = "Install the output where your shell looks for completions, e.g. \
    ~/.local/share/bash-completion/completions/molecule-git-token-helper (bash), a directory \
    on $fpath as _molecule-git-token-helper (zsh), or \
    ~/.config/fish/completions/molecule-git-token-helper.fish (fish). install.sh does this."
)]
pub struct CompletionsArgs {
    /// The shell to print completions for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// What to narrow the token to (fetch-token, exec, env); the variables
/// narrow every mode.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Narrowing (a token that can do less)")]
pub struct NarrowArgs {
    /// Ask for a token with only these GitHub App permissions, NAME:LEVEL with LEVEL read,
    /// write or admin, comma-separated (contents:read,pull_requests:write)
    /// [env: MOLECULE_TOKEN_PERMISSIONS]
    #[arg(long, value_name = "NAME:LEVEL,…")]
    pub permissions: Option<String>,

    /// Ask for a token of only these repositories of the owner (names, comma-separated, at
    /// most 500) [env: MOLECULE_TOKEN_REPOSITORIES]
    #[arg(long, value_name = "NAME,…")]
    pub repositories: Option<String>,

    /// Ask for a token of only the repository the command is about: the current directory's
    /// origin (git: its path; gh: -R, GH_REPO, origin); none: fail
    /// [env: MOLECULE_TOKEN_PER_REPOSITORY=1]
    #[arg(long)]
    pub per_repository: bool,
}

impl NarrowArgs {
    fn flags(self) -> crate::settings::NarrowFlags {
        crate::settings::NarrowFlags {
            permissions: self.permissions,
            repositories: self.repositories,
            per_repository: self.per_repository,
        }
    }
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The shell the assignments are for: sh, bash and zsh read `export NAME='…'`, fish
    /// `set -gx NAME '…'`
    #[arg(long, value_enum, value_name = "SHELL", default_value = "sh")]
    pub shell: EnvShell,

    /// Print {"NAME":"…",…} instead
    #[arg(long, conflicts_with = "shell")]
    pub json: bool,

    /// (shell-init's hook) After a failure is reported, stay quiet until a success or an hour
    #[arg(long, hide = true)]
    pub hook: bool,

    /// The token of OWNER's GitHub App installation, as fetch-token --owner [default: the owner
    /// of the current repository's origin, as the gh proxy takes it, else the default
    /// installation]
    #[arg(long, value_name = "OWNER", value_parser = parse_owner)]
    pub owner: Option<Owner>,

    #[command(flatten)]
    pub narrow: NarrowArgs,
}

/// The shells `env` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvShell {
    Sh,
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct ShellInitArgs {
    /// The shell to print the script for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// The shells `completions` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// `fallback -- HELPER OPERATION`: HELPER is the kept helper's config value,
/// exactly as it was (one shell word in git's config); git appends OPERATION.
#[derive(Debug, Args)]
pub struct FallbackArgs {
    /// The wrapped helper, as git's config had it: `store --file=F`, `!snippet`, `/abs/path args`
    #[arg(value_name = "HELPER", allow_hyphen_values = true)]
    pub helper: OsString,

    /// get, store or erase (added by git)
    #[arg(value_name = "OPERATION", allow_hyphen_values = true)]
    pub operation: OsString,
}

#[derive(Debug, Args)]
pub struct FetchTokenArgs {
    /// Which served host's token to print: a platform host's token, or a secret host's
    /// secret (see --secret-host) [default: the first platform host]
    #[arg(value_name = "HOST")]
    pub host: Option<String>,

    /// Print {"token":"…","expires_at":"<RFC 3339>"} (null when the platform gave no expiry,
    /// and for a secret host)
    #[arg(long)]
    pub json: bool,

    /// The token of OWNER's GitHub App installation (an organisation or user login), from a
    /// platform that mints per owner; a platform that ignores owners gives its one token
    /// [default: the platform's default installation]
    #[arg(long, value_name = "OWNER", value_parser = parse_owner)]
    pub owner: Option<Owner>,

    #[command(flatten)]
    pub narrow: NarrowArgs,
}

/// A `--owner` value: a GitHub login (letters, digits, hyphens, at most 39).
fn parse_owner(value: &str) -> Result<Owner, String> {
    Owner::parse(value).ok_or_else(|| {
        format!(
            "{value:?} is not a GitHub login (letters, digits and hyphens, at most {})",
            crate::owner::MAX_LOGIN
        )
    })
}

#[derive(Debug, Args)]
pub struct GhLoginArgs {
    /// Log in to this host instead of every served host; repeatable
    #[arg(long, value_name = "HOST")]
    pub hostname: Vec<String>,

    /// The gh binary to run [default: gh, found on PATH, skipping the gh proxy]
    #[arg(long, value_name = "PATH", default_value = "gh")]
    pub gh: PathBuf,

    /// Log in even when gh's login already holds the current token
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The token of OWNER's GitHub App installation, as fetch-token --owner
    #[arg(long, value_name = "OWNER", value_parser = parse_owner)]
    pub owner: Option<Owner>,

    #[command(flatten)]
    pub narrow: NarrowArgs,

    /// The command and its arguments, after `--`
    #[arg(
        value_name = "CMD",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<OsString>,
}

/// What the command line asks for, in plain values.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one value per process, moved once
pub enum Parsed {
    /// Work that needs the settings.
    Run(Flags, Action),
    /// Print completions: needs nothing but this definition.
    Completions(Shell),
}

impl Cli {
    /// Hand the parse over as plain values: nothing past this point sees
    /// clap's types.
    pub fn into_parts(self) -> Parsed {
        let GlobalArgs {
            platform_url,
            configs_dir,
            hosts,
            secret_hosts,
            cache_dir,
            no_cache,
            timeout,
            refresh_window,
            verbose,
            journal,
        } = self.global;
        let mut flags = Flags {
            platform_url,
            configs_dir,
            hosts,
            secret_hosts,
            cache_dir,
            no_cache,
            timeout,
            refresh_window,
            verbose,
            journal,
            narrow: Default::default(),
        };
        let action = match self.command {
            Command::Get => Action::Get,
            Command::Store => Action::Store,
            Command::Erase => Action::Erase,
            Command::FetchToken(FetchTokenArgs {
                host,
                json,
                owner,
                narrow,
            }) => {
                flags.narrow = narrow.flags();
                Action::FetchToken { host, json, owner }
            }
            Command::GhLogin(GhLoginArgs {
                hostname,
                gh,
                force,
            }) => Action::GhLogin(gh_login::Options {
                hostnames: hostname,
                gh,
                force,
            }),
            Command::Exec(ExecArgs {
                owner,
                narrow,
                command,
            }) => {
                flags.narrow = narrow.flags();
                Action::Exec { command, owner }
            }
            Command::Configure(ConfigureCommand {
                location,
                gh_proxy,
                shell_init,
                cargo,
            }) => Action::Configure {
                location: location.location(),
                gh_proxy,
                shell_init,
                cargo,
            },
            Command::Env(EnvArgs {
                shell,
                json,
                hook,
                owner,
                narrow,
            }) => {
                flags.narrow = narrow.flags();
                Action::Env {
                    syntax: match (json, shell) {
                        (true, _) => env::Syntax::Json,
                        (false, EnvShell::Fish) => env::Syntax::Fish,
                        (false, _) => env::Syntax::Sh,
                    },
                    hook,
                    owner,
                }
            }
            Command::ShellInit(ShellInitArgs { shell }) => Action::ShellInit(match shell {
                Shell::Bash => shell_init::Shell::Bash,
                Shell::Zsh => shell_init::Shell::Zsh,
                Shell::Fish => shell_init::Shell::Fish,
            }),
            Command::Unconfigure(UnconfigureCommand { location, gh_proxy }) => {
                Action::Unconfigure {
                    location: location.location(),
                    gh_proxy,
                }
            }
            Command::Status(StatusArgs {
                json,
                probe,
                probe_repo,
                probe_host,
                api_url,
                git_url,
            }) => Action::Status(crate::commands::status::Options {
                json,
                probe,
                probe_repos: probe_repo,
                api_urls: api_url,
                git_urls: git_url,
                probe_hosts: probe_host,
            }),
            Command::Journal(args) => Action::Journal(args.options()),
            Command::Completions(CompletionsArgs { shell }) => return Parsed::Completions(shell),
            Command::Fallback(FallbackArgs { helper, operation }) => {
                Action::Fallback { helper, operation }
            }
        };
        Parsed::Run(flags, action)
    }
}

const NAME: &str = "molecule-git-token-helper";

/// The completion script for `shell`, whole, generated from this
/// definition so that it cannot drift from `--help`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = without_hidden_subcommands(&Cli::command());
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, NAME, &mut out);
    if shell == clap_complete::Shell::Bash {
        out = fix_bash_states(&out);
    }
    out
}

/// The command as completions should offer it. clap_complete offers hidden
/// subcommands (the `fallback` wrapper that `configure` writes into git's
/// config), and clap cannot remove one, so copy what completion uses: the
/// arguments and the visible subcommands.
fn without_hidden_subcommands(cli: &clap::Command) -> clap::Command {
    debug_assert_eq!(cli.get_name(), NAME);
    let mut command = clap::Command::new(NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(true)
        .args(cli.get_arguments().cloned())
        .subcommands(cli.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cli.get_about() {
        command = command.about(about.clone());
    }
    command
}

/// clap_complete 4.6 spells bash's state names two ways when the binary's
/// name has a hyphen (clap-rs/clap#6421): the loop that reads the words
/// escapes `-` in the binary's name as `__`, the case arms as `__subcmd__`, so
/// no subcommand ever completes its own options. Spell the arms as the loop
/// does. Once clap_complete is fixed the wrong spelling no longer occurs and
/// this changes nothing.
fn fix_bash_states(script: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let wrong = format!("{}__subcmd__", NAME.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", NAME.replace('-', "__"));
    text.replace(&wrong, &right).into_bytes()
}

#[cfg(test)]
mod tests;

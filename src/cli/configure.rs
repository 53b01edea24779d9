//! `configure` and `unconfigure` as clap sees them: their long help, the
//! file they act on, and their own flags.

use std::path::PathBuf;

use clap::Args;

use crate::commands::configure::Location;

pub(super) const CONFIGURE_ABOUT: &str = "\
Register the helper in git's config for each served host, first in line.

Git runs credential helpers in config order (system, global, repository; top to bottom) \
and stops at the first that answers, so for each served HOST configure appends, at the end \
of the config file, a section [credential \"https://HOST/\"] holding:

  helper =                                    (an empty value: forget the helpers listed before)
  helper = /path/to/molecule-git-token-helper [FLAGS]      (this helper, first)
  helper = /path/to/molecule-git-token-helper fallback -- 'OLD'   (each helper forgotten, in order)

Each helper that git would have run for https://HOST before is kept after this one as a \
fallback, through the hidden `fallback` wrapper: it answers git as before, but is never asked \
to store a short-lived token (one with password_expiry_utc, or username \
x-access-token), so a storing helper keeps the operator's token and not an installation \
token that will have died by the next platform outage. erase reaches a kept helper only \
when that helper's own get (prompts off, at most 2 s) answers with the rejected password, so \
a dead token that an older setup stored goes when git rejects it, and a rejected platform \
token never costs the operator a stored PAT (git < 2.41's store erases by host and user name).

Needs git 2.34 or newer (it refuses, naming the version found, below). The file is the one \
git itself writes: --global is $GIT_CONFIG_GLOBAL, else ~/.gitconfig unless only \
$XDG_CONFIG_HOME/git/config (default ~/.config/git/config) exists; --system is \
$GIT_CONFIG_SYSTEM, else the file git was built with. Helpers are read as they apply in every \
repository: one that an [includeIf] brings in is never kept as a fallback everywhere, and \
configure warns, naming the condition and the file, when this section's reset line hides it \
inside matching repositories (README: conditional includes).

Secret-backed hosts are registered the same way: name them with --secret-host, which is \
written into the helper's line (a host named only in MOLECULE_SECRET_HOSTS is registered, but \
git run without that variable then gets nothing for it). \
Settings given as flags (--host, --secret-host, --platform-url, --configs-dir, --cache-dir, \
--no-cache, --timeout, --refresh-window) are written into the helper's line, since git runs it without \
them; settings from the environment are not, so the environment keeps governing them. \
The path written is the one found on PATH when that is this same program (it survives \
upgrades that replace the file), otherwise this program's own absolute path.

Running it again changes nothing unless something changed; it touches no other line, and \
`unconfigure` removes exactly these sections. The file is edited with git config on a \
locked copy that replaces the file only when every step succeeded.

With --gh-proxy [DIR], configure also makes DIR/gh a symbolic link to this program (DIR: \
the directory this program is installed in, unless given). Run as gh, this program execs the \
next gh on PATH with GH_TOKEN and GITHUB_TOKEN set to a fresh token when github.com is served \
(and GH_ENTERPRISE_TOKEN and GITHUB_ENTERPRISE_TOKEN when a served host is not github.com), \
whatever the environment held: gh prefers those variables to its own login. configure refuses when DIR is not on \
PATH, or when the real gh is in DIR or in a directory before it on PATH, since gh would then \
not reach the proxy; the git config is left alone then.

With --shell-init, configure also adds the line that sources shell-init (with the settings \
given as flags) to ~/.bashrc (created if missing), and to ${ZDOTDIR:-~}/.zshrc and \
${XDG_CONFIG_HOME:-~/.config}/fish/config.fish when they exist or the shell is on PATH, \
between '# >>> molecule-git-token-helper shell-init >>>' and '# <<< … <<<' lines, and says \
which files it changed; unconfigure takes the block out, leaving each file as it was.

With --cargo, configure also sets net.git-fetch-with-cli = true in cargo's config \
($CARGO_HOME/config.toml, default ~/.cargo/config.toml; the legacy `config` instead when it \
exists, since cargo then reads that one), so that cargo fetches git dependencies with the git \
CLI, which runs this helper: cargo's own libgit2 transport reads only the last \
credential.helper value and never runs the helpers of a [credential \"https://HOST/\"] \
section. The key goes into the [net] table (a new one at the end when there is none) after \
a comment marking it; the rest of the file is kept byte for byte. A file that already sets \
the key is left alone, with a warning when it sets it to false.";

pub(super) const UNCONFIGURE_ABOUT: &str = "\
Remove exactly what `configure` wrote from git's config: the [credential \"https://HOST/\"] \
helper lines (the empty reset line, this helper, the wrapped fallbacks), for the hosts given \
with --host or --secret-host, or for every host when none is given. Every other line is left as it was, so the \
helpers that configure had wrapped are in charge again. Nothing to remove is not an error.

When no host is given it also removes the gh proxy's link, DIR/gh, if it is a link to this \
program (DIR: the directory this program is installed in, or --gh-proxy DIR), and the \
shell-init block that configure --shell-init added to each shell rc file, and the \
net.git-fetch-with-cli line that configure --cargo added to cargo's config (with the [net] \
table or the file, when configure created them), byte for byte.";

#[derive(Debug, Default, Args)]
pub struct ConfigureCommand {
    #[command(flatten)]
    pub location: ConfigureArgs,

    /// Also make DIR/gh a symbolic link to this program, the gh proxy, so that `gh` found on
    /// PATH runs with a fresh token [default DIR: the directory this program is installed in]
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    pub gh_proxy: Option<Option<PathBuf>>,

    /// Also add the line that sources shell-init to ~/.bashrc, and to ~/.zshrc and fish's
    /// config.fish when they exist or the shell is installed, in a marked block
    #[arg(long)]
    pub shell_init: bool,

    /// Also make cargo fetch git dependencies with the git CLI, which runs this helper
    /// (net.git-fetch-with-cli = true in $CARGO_HOME/config.toml)
    #[arg(long)]
    pub cargo: bool,
}

#[derive(Debug, Default, Args)]
pub struct UnconfigureCommand {
    #[command(flatten)]
    pub location: ConfigureArgs,

    /// Remove the gh proxy's link from DIR rather than from the directory this program is
    /// installed in
    #[arg(long, value_name = "DIR")]
    pub gh_proxy: Option<PathBuf>,
}

/// Where `configure` and `unconfigure` act: one git config file.
#[derive(Debug, Default, Args)]
#[group(multiple = false)]
pub struct ConfigureArgs {
    /// The user's global config (the default): git config --global, which honours
    /// GIT_CONFIG_GLOBAL
    #[arg(long)]
    pub global: bool,

    /// The system config: git config --system, which honours GIT_CONFIG_SYSTEM
    #[arg(long)]
    pub system: bool,

    /// This config file; the helpers of other files are not looked at
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

impl ConfigureArgs {
    pub(super) fn location(self) -> Location {
        match (self.file, self.system) {
            (Some(file), _) => Location::File(file),
            (None, true) => Location::System,
            (None, false) => Location::Global,
        }
    }
}

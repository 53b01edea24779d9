//! The manual page, `man/molecule-git-token-helper.1`: the clap definition
//! rendered by clap_mangen, then the sections clap cannot know (environment,
//! files, exit status, security, examples).
//!
//! Test-only: clap_mangen is a dev-dependency, so the shipped binary does not
//! carry it. `man_page_matches_the_definition` fails when the checked-in page
//! differs from what the code renders; `UPDATE_MAN=1 cargo test --locked
//! man_page` rewrites it.

use std::io::Write;

use clap::CommandFactory;
use clap_mangen::Man;

use molecule_git_token_helper::cli::Cli;

/// The page, relative to the repository root.
pub const PAGE: &str = "man/molecule-git-token-helper.1";

/// The command that rewrites the page; the failing test names it.
pub const REGENERATE: &str = "UPDATE_MAN=1 cargo test --locked man_page";

/// What roff's writer puts before every piece it renders; kept once.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

type Render = fn(&Man, &mut dyn Write) -> std::io::Result<()>;

/// The whole page.
pub fn render() -> String {
    let cli = Cli::command();
    let name = cli.get_name().to_string();
    let man = Man::new(cli.clone());

    // The title by hand: clap_mangen leaves an empty date unquoted, which
    // shifts the source and manual into the wrong fields of `.TH`.
    let version = cli.get_version().unwrap_or_default();
    let mut page = format!(
        ".\\\" Generated from src/cli.rs and tests/man_page.rs by `{REGENERATE}`; do not edit.\n\
         {PREAMBLE}.TH {} 1 \"\" \"{name} {version}\" \"User Commands\"\n",
        name.to_uppercase().replace('-', "\\-"),
    );
    for render in [
        Man::render_name_section as Render,
        Man::render_synopsis_section,
        Man::render_description_section,
        Man::render_options_section,
    ] {
        page += &preformat_indented(&with_value_names(&cli, &section(&man, render)));
    }

    // One subsection per visible command, in the order of `--help`: its
    // usage, its description and its own options (the global ones are
    // under OPTIONS above, so they are not repeated).
    page += ".SH COMMANDS\n";
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let bin = format!("{name} {}", sub.get_name());
        let sub = sub.clone().bin_name(bin).disable_help_flag(true);
        let man = Man::new(sub.clone());
        page += &format!(".SS {}\n", sub.get_name().replace('-', "\\-"));
        page += &with_value_names(&sub, &body(&man, Man::render_synopsis_section));
        page += ".PP\n";
        page += &preformat_indented(&body(&man, Man::render_description_section));
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            page += &nested_headings(&body(&man, Man::render_options_section));
        }
        if sub.get_after_help().is_some() {
            page += ".PP\n";
            page += &body(&man, Man::render_extra_section);
        }
    }

    page += EXTRA_SECTIONS;
    page += &section(&man, Man::render_version_section);
    ascii(&page)
}

/// clap_mangen's synopsis names an option without its value
/// (`[--timeout]`): give each one that takes a value its name, as `--help`
/// does (`[--timeout SECONDS]`).
fn with_value_names(command: &clap::Command, text: &str) -> String {
    let mut text = text.to_string();
    for arg in command.get_arguments() {
        let (Some(long), Some(names)) = (arg.get_long(), arg.get_value_names()) else {
            continue;
        };
        if !arg.get_action().takes_values() {
            continue;
        }
        let Some(value) = names.first() else {
            continue;
        };
        let bare = format!("[\\fB\\-\\-{}\\fR]", long.replace('-', "\\-"));
        let named = format!(
            "[\\fB\\-\\-{}\\fR \\fI{}\\fR]",
            long.replace('-', "\\-"),
            value.replace('-', "\\-")
        );
        text = text.replace(&bare, &named);
    }
    text
}

/// One section as clap_mangen renders it, without the preamble that roff's
/// writer puts before each (the page has it once, at the top).
fn section(man: &Man, render: Render) -> String {
    let mut out = Vec::new();
    render(man, &mut out).expect("writing to a Vec cannot fail");
    let text = String::from_utf8(out).expect("clap_mangen writes UTF-8");
    match text.strip_prefix(PREAMBLE) {
        Some(section) => section.to_string(),
        None => panic!("clap_mangen's output no longer starts as expected: {text:?}"),
    }
}

/// A section without its `.SH` heading, to nest it under a command's `.SS`.
fn body(man: &Man, render: Render) -> String {
    let text = section(man, render);
    let (heading, rest) = text.split_once('\n').unwrap_or((&text, ""));
    assert!(heading.starts_with(".SH "), "no heading in {text:?}");
    rest.to_string()
}

/// A command's options grouped under a help heading (`Narrowing …`):
/// clap_mangen opens each group with a top-level `.SH`, which would end
/// COMMANDS in the middle of a command; under the command's `.SS` the
/// group's name is a bold line of its own instead.
fn nested_headings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.strip_prefix(".SH ") {
            Some(heading) => {
                let heading = heading.trim_matches('"');
                let mut words = heading.to_lowercase();
                if let Some(first) = words.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                out += &format!(".PP\n\\fB{words}\\fR\n");
            }
            None => {
                out += line;
                out.push('\n');
            }
        }
    }
    out
}

/// Lines of a help text that start with spaces (a small table, a config
/// excerpt) kept as written: clap_mangen passes them on as text lines, which
/// roff would refill into one paragraph.
fn preformat_indented(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut verbatim = false;
    for line in text.lines() {
        let indented = line.starts_with(' ');
        if indented != verbatim {
            out += if indented { ".nf\n" } else { ".fi\n" };
            verbatim = indented;
        }
        out += line;
        out.push('\n');
    }
    if verbatim {
        out += ".fi\n";
    }
    out
}

/// The page in ASCII, which every roff reads in any locale: the `…` of some
/// help texts as `\&...` (never a control line), dashes as roff's, anything
/// else as `\[uXXXX]`.
fn ascii(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for c in page.chars() {
        match c {
            c if c.is_ascii() => out.push(c),
            '\u{2026}' => out.push_str("\\&..."),
            '\u{2014}' => out.push_str("\\(em"),
            '\u{2013}' => out.push_str("\\(en"),
            c => out.push_str(&format!("\\[u{:04X}]", c as u32)),
        }
    }
    out
}

/// What clap cannot know, in roff. Keep ENVIRONMENT in step with the
/// `[env: …]` of every flag in src/cli.rs (a test checks the names).
const EXTRA_SECTIONS: &str = r#".SH "GH PROXY"
gh reads
.BR GH_TOKEN " or " GITHUB_TOKEN
(for an Enterprise host,
.BR GH_ENTERPRISE_TOKEN " or " GITHUB_ENTERPRISE_TOKEN )
before the login it stored with
.BR "gh auth login" ,
and a workspace's processes inherit the ones of the container's start, which die after an hour.
Run under the name
.B gh
(a symbolic link that
.B configure \-\-gh\-proxy
makes), this program finds the next
.B gh
on
.B PATH
that is not itself and execs it with
.BR GH_TOKEN " and " GITHUB_TOKEN
set to a fresh token, whatever the environment held.
Its arguments, stdin, stdout, exit status and signals are gh's own.
Settings come from the environment only.
When no token can be had, one line on stderr says why and gh runs with the
environment as it was; with no other
.B gh
on
.BR PATH ,
one error line and exit status 127.
A proxy run by another proxy (through a wrapper that execs
.B gh
again, say) stops with one error line and exit status 127.
It finds its own file without
.I /proc
too, and skips a
.B gh
it may not execute, as
.BR execvp (3)
does.
.PP
The variable rule, the same for the proxy, env, shell\-init,
.B exec
and
.BR status :
.BR GH_TOKEN " and " GITHUB_TOKEN
get the token only when github.com is served (gh sends them to github.com
whatever else it talks to);
.BR GH_ENTERPRISE_TOKEN " and " GITHUB_ENTERPRISE_TOKEN
only when a served platform host is not github.com (gh hands them to any
Enterprise host).
A variable the rule does not name is left as it was, so that the token never
reaches a host that is not served: in an Enterprise-only workspace
.RB ( MOLECULE_GIT_HOSTS=ghe.corp.example )
.B gh auth token \-\-hostname github.com
prints what the environment held.
.PP
.B gh\-login
runs the real gh: the first
.B gh
on
.B PATH
that is not a link to this program, since the proxy would set
.B GH_TOKEN
again and gh refuses to log in while it is set.
Every 10 minutes it checks an unchanged login with one
.BR "gh api \-\-hostname HOST rate_limit" ;
on HTTP 401 (a token revoked before it expires) it drops the token from the
cache and logs gh in with a fresh one, with one warning line.
.SH OWNERS
A GitHub App is installed per account (organisation or user), and each
installation's token serves only that account's repositories.
A platform that mints per owner is asked
.RB "GET .../admin/github\-installation\-token?owner=" OWNER
and answers with
.B owner
in its JSON; one that ignores the query (today's platform) gives one token
for every owner, and the helper then asks once per token life, as before.
An owner without an installation (HTTP 404) falls through to the next git
helper, for that owner only, and is remembered for 5 minutes (the platform
is not asked again). A path with an empty,
.B .
or
.B ..
segment, or a
.B %
in one, names no owner.
.PP
The owner is chosen the same way everywhere, and must be a GitHub login
(letters, digits and hyphens, at most 39); anything else means "the default
token":
.TP
.B git
the first segment of the repository's path:
.B configure
turns on
.B credential.https://HOST/.useHttpPath
for platform hosts (not secret hosts), so that git sends
.BR path= .
git then no longer matches a stored credential without a path against the
request, so the kept fallback helpers get the request without
.BR path= ;
a helper that configure did not wrap (in a repository's own config) gets the
path, and
.B status
says so.
.TP
.B gh (the proxy)
.BR \-R / \-\-repo " OWNER/REPO" ,
else
.BR GH_REPO ,
else the
.B origin
remote of the repository the current directory is in (its config file is
read; git is not run).
.TP
.BR "fetch\-token" ", " exec ", " env
.B \-\-owner
.IR OWNER .
.TP
.B gh\-login
the default token (gh keeps one login per host).
.SH "NARROWED TOKENS"
A process may ask for less than the installation's full token: only some
GitHub App permissions
.RB ( \-\-permissions " NAME:LEVEL,..., e.g. " contents:read,pull_requests:write ),
only some repositories of the owner
.RB ( \-\-repositories " NAME,...",
at most 500), or only the repository its client names
.RB ( \-\-per\-repository :
git's path; gh's
.BR \-R ,
.B GH_REPO
or
.BR origin ;
the current directory's
.B origin
for fetch\-token, exec and env; none named: no token).
The flags belong to fetch\-token, exec and env; the variables
.BR MOLECULE_TOKEN_PERMISSIONS ,
.B MOLECULE_TOKEN_REPOSITORIES
and
.B MOLECULE_TOKEN_PER_REPOSITORY
narrow every mode (get, the gh proxy, the shell hook), and
.B exec
exports them to its command, so one variable narrows a process tree.
Levels are read, write and admin; names are GitHub's (contents, issues,
pull_requests, workflows, ...); anything else is a usage error (exit status 2)
naming the flag or variable.
.PP
The platform is asked
.RB "...?owner=" O "&permissions=" ... "&repositories=" ...
and must say in its answer what the token carries.
An answer that does not say (today's platform, which ignores the parameters),
or says more than was asked (metadata:read aside, which GitHub grants every
token), is never served or cached: a direct command prints one line and
exits 1; get falls through to the next helper; a narrowed gh runs without
the token variables.
Each (owner, permissions, repositories) has its own cache entry: a narrowed
request never gets the full token, nor the full request a narrowed one.
.PP
Narrowing protects against mistakes and against commands that use the
environment's token; it is not a sandbox: a process that unsets the variable
or reads the bearer file gets the full token.
A ceiling per workspace is the platform's to enforce.
.SH "SHELLS AND BASH_ENV"
Everything else that reads the variables (curl, scripts, the
.B bash \-c
an agent runs) gets them from its shell.
.B env
prints the assignments that bring them up to date under the rule above, for
.BR eval ;
on failure it prints nothing on stdout and exits 1, so a failed
.B eval
changes nothing.
.B shell\-init
prints a script that runs
.B env
when sourced and again before each prompt: first in bash's
.B PROMPT_COMMAND
(a string or an array; the user's commands and
.B $?
are kept), in zsh's
.BR precmd " and " preexec
hooks, on fish's
.BR fish_prompt " and " fish_preexec
events, beside the user's own.
It is silent while it works; when the platform fails it prints one line, and
no other until a success or an hour has passed, leaving the variables alone.
.PP
bash reads the file named by
.B BASH_ENV
before every non\-interactive shell, so an agent started with
.B BASH_ENV
set to the installed
.I env.bash
runs every command with the current token.
.B configure \-\-shell\-init
adds the line that sources the script to the shells' rc files, in a marked
block that
.B unconfigure
removes, leaving each file byte for byte as it was.
The token is never in an argument list: the helper prints the assignments and
the shell evaluates them.
.SH ENVIRONMENT
Each setting is a flag (see
.BR OPTIONS )
or an environment variable; a flag wins, and an empty variable counts as unset.
Boolean variables take
.BR 1 ", " true ", " yes " or " on
to turn a setting on and
.BR 0 ", " false ", " no " or " off
to leave it off, in any case.
An invalid value is a usage error (exit status 2) that names the variable.
.TP
.B PLATFORM_URL
Base URL of the Molecule platform
.RB ( \-\-platform\-url ).
Default: http://platform:8080.
.TP
.B CONFIGS_DIR
Directory holding the workspace bearer,
.I .auth_token
.RB ( \-\-configs\-dir ).
Default: /configs.
.TP
.B MOLECULE_GIT_HOSTS
The hosts to serve, comma\-separated
.RB ( \-\-host ,
repeatable).
Default: github.com.
Hosts match without regard to case, and a port is part of the host:
github.com:8443 is not github.com.
.TP
.B MOLECULE_SECRET_HOSTS
Hosts served from a secret file rather than the platform, as
.IB HOST = NAME
pairs, comma\-separated
.RB ( \-\-secret\-host ,
repeatable), e.g. git.example.com=GITEA_TOKEN.
For https requests to HOST,
.B get
answers with the secret in
.IR $CONFIGS_DIR/secrets.d/NAME ,
with the username git sent (else x\-access\-token) and no expiry;
the platform is not asked and the token cache is not used.
NAME is a file name (letters, digits, .\& _ \-).
A host is served one way: naming it here and in
.B MOLECULE_GIT_HOSTS
(or leaving github.com, the default, there) is a usage error.
.B configure
writes only the settings given to it as flags into git's config: register a secret host with
.BR "configure \-\-secret\-host" ,
not with this variable.
Default: none.
.TP
.B MOLECULE_TOKEN_CACHE_DIR
Directory of the token cache
.RB ( \-\-cache\-dir ).
Default:
.IR $XDG_RUNTIME_DIR/molecule\-git\-token\-helper ,
else the per\-user cache directory,
.IR ${XDG_CACHE_HOME:\-~/.cache}/molecule\-git\-token\-helper .
.TP
.B MOLECULE_TOKEN_NO_CACHE
Boolean: do not read or write the token cache
.RB ( \-\-no\-cache ).
Default: off.
.TP
.B MOLECULE_TOKEN_TIMEOUT
How long to wait for the platform, retries included: seconds, or with an
.B s
or
.B ms
suffix
.RB ( \-\-timeout ).
Default: 10.
.TP
.B MOLECULE_TOKEN_REFRESH_WINDOW
A cached token with fewer seconds than this left is fetched again
.RB ( \-\-refresh\-window ).
Default: 300.
.TP
.B MOLECULE_TOKEN_LOG
.B debug
prints debug lines on stderr, never a token or the bearer
.RB ( \-v ).
Default: quiet.
.TP
.B MOLECULE_TOKEN_JOURNAL
Where every token decision is journaled, one JSON line each (see
.BR FILES ),
an absolute path, or
.B off
.RB ( \-\-journal ).
Default:
.I journal.jsonl
in the cache directory; none when caching is off and no path is named.
.TP
.BR GIT_CONFIG_GLOBAL ", " GIT_CONFIG_SYSTEM
The global and system git config files that
.B configure
and
.B unconfigure
change (the global one, unless
.B \-\-system
or
.B \-\-file
is given), as for git itself.
.TP
.BR GH_TOKEN ", " GITHUB_TOKEN
Set to a fresh token for the command that
.B exec
runs and for gh run through the gh proxy, when github.com is served (see
.BR "GH PROXY" ).
.B gh\-login
removes them, and
.BR GH_ENTERPRISE_TOKEN " and " GITHUB_ENTERPRISE_TOKEN ,
from gh's environment.
The helper never uses them as a token: they hold the stale token it replaces.
.B status
warns when they hold a token other than the current one.
.TP
.BR GH_ENTERPRISE_TOKEN ", " GITHUB_ENTERPRISE_TOKEN
Set like
.B GH_TOKEN
only when a served platform host is not github.com (see
.BR "GH PROXY" );
otherwise left as they are.
.TP
.B MOLECULE_TOKEN_PERMISSIONS
Narrow every token to these permissions, NAME:LEVEL comma\-separated
.RB ( \-\-permissions ;
see
.BR "NARROWED TOKENS" ).
.TP
.B MOLECULE_TOKEN_REPOSITORIES
Narrow every token to these repositories of the owner
.RB ( \-\-repositories ).
.TP
.B MOLECULE_TOKEN_PER_REPOSITORY
Boolean: narrow every token to the repository its client names
.RB ( \-\-per\-repository ).
.TP
.B MOLECULE_GH_PROXY_PID
Set by the gh proxy in gh's environment, to its process id, its parent's and
the time (PID:PPID:UNIX_MS), to catch a proxy that execs a proxy.
.TP
.BR GH_CONFIG_DIR ", " XDG_CONFIG_HOME
Where gh keeps its login; part of what
.B gh\-login
fingerprints, so that another gh configuration is logged in afresh.
.SH FILES
.TP
.I $CONFIGS_DIR/.auth_token
The workspace bearer (default
.IR /configs/.auth_token ),
written when the workspace is created.
Read for every fetch and sent only to
.BR PLATFORM_URL .
.TP
.I $CONFIGS_DIR/secrets.d/NAME
The token of a secret host
.RB ( \-\-secret\-host
.IR HOST = NAME ),
a Gitea personal access token, say, written by the platform.
Whitespace around it is ignored; it must be printable ASCII without spaces.
Read for each request to HOST; never copied into the cache.
.B status
warns when other users can read it.
.TP
.I $MOLECULE_TOKEN_CACHE_DIR
The token cache, a directory created mode 0700.
Every file in it is created mode 0600:
.RS
.TP
.I token
the cached token and its expiry, for one platform URL and bearer;
kept at most one hour after its fetch
.TP
.I token.lock
locked by the one process fetching, whatever owner it fetches for, so that
processes asking at once cause one fetch; a holder stuck past the deadline
plus 5 seconds (stopped) is taken over
.TP
.I token.failed
the last failed fetch, so that the processes queued behind it fail at once
.TP
.I platform.state
the platform's state, for every owner: an unavailable platform is
remembered for 5 seconds after the first failure, doubling while the outage
lasts, 60 seconds at most (when the cache directory cannot be written, in
.IR $XDG_RUNTIME_DIR/molecule\-git\-token\-helper\-state/ ,
else a per-user directory in the temporary directory)
.TP
.I token@OWNER.absent
an owner the platform has no installation for (HTTP 404), remembered for 5 minutes
.TP
.I token.history
what happened: the last failed fetch (when, its message), how many failed
since the last success, and when git last rejected the cached token; shown by
.B status
(never a token)
.TP
.I .token.*.tmp
an entry being written, renamed over
.I token
once complete
.TP
.I shell\-warned
a failure that the shell hook
.RB ( "env \-\-hook" )
reported: while it is less than an hour old, the hook reports no other;
a success removes it
.TP
.I gh\-login.HOST
what
.B gh\-login
last gave gh for HOST: a SHA\-256 fingerprint of the host, gh's configuration
directory and the token, never the token, and when GitHub last accepted it
(a login, or the check made every 10 minutes); its modification time is when
gh's login was last checked
.TP
.I journal.jsonl
the journal of token decisions (unless
.B \-\-journal
names another file, or
.BR off ):
one JSON object per line for each token fetched, served, not served (with the
error line stderr showed), rejected by git, withheld from a fallback helper's
store, or given to gh by
.BR gh\-login :
the time, the command, the host, owner and repository, the token's
.B hashed_token
(the base64 of its SHA\-256, as GitHub's audit log names it; never the
token), its expiry, where it came from, and the process chain (the
helper's ancestors, nearest first, git's own plumbing left out). Appended in
one write per line; rotated at 1 MiB to
.IR journal.jsonl.1 .
Read with
.BR journal ;
a journal that cannot be written never fails a command.
.RE
.TP
.IR ~/.gitconfig ", " $XDG_CONFIG_HOME/git/config ", " /etc/gitconfig
Where
.B configure
registers the helper
.RB ( "[credential \(dqhttps://HOST/\(dq]" :
an empty
.B helper
line, this helper, then the helpers that were there before, each through the
wrapper that keeps the short\-lived token out of storing helpers)
and
.B unconfigure
removes it: the global file by default
.RB ( $GIT_CONFIG_GLOBAL ,
else
.I ~/.gitconfig
unless only the XDG file is there), as git picks it for writing;
.B \-\-system
writes
.B $GIT_CONFIG_SYSTEM
or the file git was built with.
They need git 2.34 or newer and refuse, naming the version found, below it.
A helper that an
.B includeIf
brings in is never kept as a fallback for every repository; when it comes
before the section, configure warns that inside matching repositories the
reset line hides it.
The wrapper passes
.B erase
to a kept helper only when that helper's own
.B get
(prompts off, at most 2 s) answers with the rejected password.
.TP
.IR ~/.bashrc ", " ${ZDOTDIR:\-~}/.zshrc ", " ${XDG_CONFIG_HOME:\-~/.config}/fish/config.fish
Where
.B configure \-\-shell\-init
adds the line that sources
.B shell\-init
(the bash file always, created if missing; the others when they exist or the
shell is installed), between
.B "\&# >>> molecule\-git\-token\-helper shell\-init >>>"
and
.B "\&# <<< molecule\-git\-token\-helper shell\-init <<<"
lines, and
.B unconfigure
removes it.
.TP
.IR PREFIX/share/molecule\-git\-token\-helper/env.bash ", " env.zsh ", " env.fish
The
.B shell\-init
scripts, written by
.BR install.sh ,
naming the installed binary by its path:
.I env.bash
is the
.B BASH_ENV
of an agent.
.SH "EXIT STATUS"
.TP
.B 0
Success, including
.B get
for a host or protocol that is not served: it prints nothing, so git asks the next helper.
.TP
.B 1
A failure, reported in one line on stderr that names the file, URL or HTTP status;
nothing on stdout.
Git then falls through to the next helper.
.B status
exits 1 when any check fails.
.TP
.B 2
A usage error: clap's message, or an invalid setting that names its flag or variable.
.TP
.BR 126 ", " 127
.BR exec :
the command could not be run, or was not found.
The gh proxy: gh could not be run, or there is no other gh on
.BR PATH .
Otherwise
.B exec
exits with the command's own status.
.SH SECURITY
The token and the bearer never go to stderr, to debug lines, to logs, or into
the argument list of any child process.
Git reads the token on the helper's stdout,
.B gh\-login
gives it to gh on its stdin, and
.B exec
and the gh proxy pass it in the command's environment, which is their point.
.B fetch\-token
prints it on stdout: do not run it where stdout is logged.
.B env
prints it on stdout too, for a shell to evaluate; the scripts of
.B shell\-init
turn tracing off
.RB ( "set \-x" )
while they do.
.PP
The bearer goes only to
.BR PLATFORM_URL :
redirects are never followed and no proxy is used, whatever
.B HTTPS_PROXY
or
.B ALL_PROXY
say.
.PP
The secret of a secret host goes to git on stdout, to
.B fetch\-token HOST
on stdout, and with
.B status \-\-probe
to HOST's API
.RI ( https://HOST/api/v1 ,
or the URL given with
.BR \-\-api\-url ),
in an
.B Authorization: token
header, under the same rules: no redirect, no proxy.
.PP
The cache directory is created mode 0700 and every file in it 0600.
.PP
A credential is given only for
.B protocol=https
and a served host.
A token must be printable ASCII without spaces, at most 4096 bytes; anything
else could inject lines into git's credential protocol and is refused, as is a
token that has already expired.
.PP
.B status
passes every message it prints, text or JSON, through one redaction step:
the token, the bearer and the secrets it read, a URL's password, the values of
secret\-looking arguments in helper lines
.RB ( \-\-password ", " \-\-token ", " \-p ", " password= ,
the arguments of a
.B printf
whose format has
.BR password= )
become
.BR *** .
.PP
During an outage at most one process waits on the platform, whatever owner
it asks for: the others,
with nothing valid cached, fall through within about a second, and the
outage is remembered for every owner for 5 seconds after the first failure,
doubling while the outage lasts, 60 seconds at most. The files of owners
whose token expired a day ago are removed after a fetch, at most once an
hour.
.B \-\-timeout
bounds the name lookup too.
.SH EXAMPLES
A container's entrypoint script: it runs before the agent, then becomes the
agent (the container's command):
.PP
.RS 4
.nf
molecule\-git\-token\-helper configure \-\-gh\-proxy \-\-shell\-init
export BASH_ENV=/usr/local/share/molecule\-git\-token\-helper/env.bash
exec "$@"
.fi
.RE
.PP
.B configure
registers the helper in the global git config for each served host, ahead of
the helpers already there, which stay as fallbacks. With
.BR \-\-gh\-proxy ,
.B gh
on
.B PATH
becomes the gh proxy (see
.BR "GH PROXY" );
with
.BR \-\-shell\-init ,
every interactive shell keeps the current token. Give every flag on this one
line:
.B configure
writes what its flags say.
.B BASH_ENV
gives every
.B bash \-c
the agent runs the current token, although the agent's own environment keeps
the container's;
.B exec \(dq$@\(dq
puts the agent in the script's place (with no arguments, it does nothing).
.PP
This shell, and what it starts from now on:
.PP
.RS 4
.nf
eval "$(molecule\-git\-token\-helper env)"
.fi
.RE
.PP
From cron, keep gh's stored login fresh for what does not go through the proxy
(quiet on success; gh is run only when the token changed, and every 10
minutes for one check that GitHub still accepts it):
.PP
.RS 4
.nf
* * * * * /usr/local/bin/molecule\-git\-token\-helper gh\-login
.fi
.RE
.PP
Run one command with
.BR GH_TOKEN " and " GITHUB_TOKEN
set to a fresh token:
.PP
.RS 4
.nf
molecule\-git\-token\-helper exec \-\- gh pr list
.fi
.RE
.PP
When a push fails, see what is wrong without printing a secret:
.PP
.RS 4
.nf
molecule\-git\-token\-helper status
.fi
.RE
.PP
Serve a team's Gitea from the token the platform wrote to
.IR /configs/secrets.d/GITEA_TOKEN ,
GitHub from the platform, and check that the token may list issues.
Give
.B configure
the host as a flag: it writes
.B \-\-secret\-host
into the helper's line in git's config, so git needs nothing in its
environment (a host named only in
.B MOLECULE_SECRET_HOSTS
is registered, but git run without that variable gets nothing for it).
The commands run by hand, from scripts or from cron read the variable:
.PP
.RS 4
.nf
molecule\-git\-token\-helper configure \-\-secret\-host git.example.com=GITEA_TOKEN
export MOLECULE_SECRET_HOSTS=git.example.com=GITEA_TOKEN
molecule\-git\-token\-helper status \-\-probe \-\-probe\-repo team/repo
curl \-H "Authorization: token $(molecule\-git\-token\-helper fetch\-token git.example.com)" \e
    https://git.example.com/api/v1/repos/team/repo/issues
.fi
.RE
.SH "SEE ALSO"
.BR gitcredentials (7),
.BR git\-credential (1),
.BR git\-config (1),
.BR gh (1)
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn page_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(PAGE)
    }

    #[test]
    fn man_page_matches_the_definition() {
        let rendered = render();
        let path = page_path();
        if std::env::var_os("UPDATE_MAN").is_some_and(|v| !v.is_empty() && v != "0") {
            // Beside the page, then renamed: never a half-written page.
            let tmp = path.with_extension("1.tmp");
            std::fs::write(&tmp, &rendered).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
            return;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        if checked_in != rendered {
            let line = checked_in
                .lines()
                .zip(rendered.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| checked_in.lines().count().min(rendered.lines().count()));
            panic!(
                "{PAGE} is out of date with src/cli.rs or src/man.rs (first difference at line \
                 {}: {:?} in the file, {:?} from the code).\nRegenerate it with:\n\n    \
                 {REGENERATE}\n",
                line + 1,
                checked_in.lines().nth(line).unwrap_or("<end>"),
                rendered.lines().nth(line).unwrap_or("<end>"),
            );
        }
    }

    /// Every variable a flag's help names (`[env: NAME…]`) is described under
    /// ENVIRONMENT, so a new setting cannot be left out of the page.
    #[test]
    fn man_page_describes_every_variable_of_the_flags() {
        let page = render();
        let environment = page
            .split_once(".SH ENVIRONMENT\n")
            .and_then(|(_, rest)| rest.split_once("\n.SH "))
            .map(|(section, _)| section)
            .expect("an ENVIRONMENT section");
        let mut names = Vec::new();
        for arg in Cli::command().get_arguments() {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            for (_, rest) in help
                .match_indices("[env: ")
                .map(|(i, _)| help.split_at(i + 6))
            {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                names.push(name);
            }
        }
        assert!(
            names.len() >= 8,
            "too few [env: …] in src/cli.rs: {names:?}"
        );
        for name in names {
            assert!(
                environment.contains(&format!(".B {name}\n")),
                "ENVIRONMENT in src/man.rs does not describe {name}"
            );
        }
    }

    #[test]
    fn indented_help_lines_stay_as_written() {
        let text = "A paragraph\n  helper =\n  helper = x\n.PP\nMore\n  last\n";
        assert_eq!(
            preformat_indented(text),
            "A paragraph\n.nf\n  helper =\n  helper = x\n.fi\n.PP\nMore\n.nf\n  last\n.fi\n"
        );
        assert_eq!(preformat_indented("plain\n"), "plain\n");
    }

    #[test]
    fn man_page_has_the_sections_clap_cannot_know() {
        let page = render();
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "COMMANDS",
            "OWNERS",
            "NARROWED TOKENS",
            "ENVIRONMENT",
            "FILES",
            "EXIT STATUS",
            "SECURITY",
            "EXAMPLES",
        ] {
            let heading = if section.contains(' ') {
                format!("\n.SH \"{section}\"\n")
            } else {
                format!("\n.SH {section}\n")
            };
            assert!(page.contains(&heading), "no {section} section");
        }
        for command in [
            "get",
            "fetch-token",
            "gh-login",
            "exec",
            "env",
            "shell-init",
            "completions",
        ] {
            let heading = format!(".SS {}\n", command.replace('-', "\\-"));
            assert!(page.contains(&heading), "no {command}");
        }
        assert!(
            !page.contains(".SS fallback"),
            "the hidden fallback is documented"
        );
        // Every command's subsection stands under COMMANDS: a group of
        // options with a heading of its own (narrowing) opens no section
        // that would end it.
        let commands = page
            .split_once(".SH COMMANDS\n")
            .map(|(_, rest)| rest.split_once("\n.SH ").map_or(rest, |(c, _)| c))
            .expect("a COMMANDS section");
        for command in [
            "get",
            "fetch-token",
            "gh-login",
            "exec",
            "env",
            "journal",
            "completions",
        ] {
            let heading = format!(".SS {}\n", command.replace('-', "\\-"));
            assert!(
                commands.contains(&heading),
                "{command} is not under COMMANDS"
            );
        }
    }
}

//! `status` as clap sees it: its long help, its flags, and the value
//! parsers that check them without echoing a secret.

use clap::Args;

use crate::settings::{self, ApiUrl};

pub(super) const STATUS_ABOUT: &str = "\
Diagnose the bearer, the platform, the token, the cache, the secret hosts and git's config.

Each check prints one line: ok, warn, fail or skip, its name, and what it found. The exit \
status is 1 when any check fails; warnings alone leave 0. No token, bearer or secret is \
ever printed: every message, text or JSON, passes one redaction step (the secrets status \
read, a URL's password, secret-looking arguments in helper lines).

The history check says what happened: the last platform failure (when, what, how many since \
the last success) and the last time git rejected a token.

When cargo is on PATH, the cargo check says whether cargo fetches git dependencies with the \
git CLI, which runs this helper (net.git-fetch-with-cli in its config, from the current \
directory up, then $CARGO_HOME; or CARGO_NET_GIT_FETCH_WITH_CLI), or with its own libgit2 \
transport, which never does (a warning naming configure --cargo). npm, pip and go run git.

For each secret host (--secret-host), the secret check looks at its file: present, \
non-empty, usable, and not readable by other users. With --probe, the api checks ask the \
host's Gitea API with the secret (Authorization: token …), within --timeout, following no \
redirect and using no proxy:

  GET {api}/user                                         is the token valid? (401: it is not)
  GET {api}/repos/OWNER/REPO/pulls?state=open&limit=1    for each --probe-repo
  GET {api}/repos/OWNER/REPO/issues?state=open&limit=1   for each --probe-repo

{api} is https://HOST/api/v1 unless --api-url HOST=URL says otherwise. Gitea lets a token \
list pull requests with the repository scope but issues only with read:issue: a 403 on \
issues while pull requests answer is a warning that names the missing scope and what to \
do (issue a new token with read:issue, update the workspace secret, restart the workspace).

For each platform host (--host), --probe asks its GitHub API with the platform's token \
(Authorization: token …) and its git as git would (Basic x-access-token), within --timeout, \
following no redirect; an https URL goes through HTTPS_PROXY when it is set (CONNECT keeps \
TLS end to end), an http one never:

  GET {api}/rate_limit                            core and graphql left (warn under 10 %, fail at 0)
  GET {api}/installation/repositories?per_page=1  how many repositories the App's installation sees
  GET {api}/repos/OWNER/REPO                      for each --probe-repo (404: outside the installation)
  GET {api}/repos/OWNER/REPO/pulls?per_page=1     403: the App lacks pull_requests=read
  GET {api}/repos/OWNER/REPO/issues?per_page=1    403: the App lacks issues=read
  GET {git}/OWNER/REPO.git/info/refs?service=git-receive-pack    can push? (403: contents=write)

{api} is https://api.github.com for github.com and https://HOST/api/v3 for another host, \
{git} is https://HOST, unless --api-url HOST=URL or --git-url HOST=URL says otherwise. A 403 \
names the permission GitHub asked for (X-Accepted-GitHub-Permissions) and the fix: grant it \
in the GitHub App's permissions, then accept the new permissions on the installation. A 401 \
means the platform handed out a token the host does not accept. Nothing is written. \
Certificates are checked against the system's roots, or SSL_CERT_FILE and SSL_CERT_DIR in \
their place.";

/// `OWNER/REPO` as Gitea names them: letters, digits, `-`, `_`, `.`.
fn probe_repo(value: &str) -> Result<String, String> {
    let name = |part: &str| {
        !part.is_empty()
            && part != "."
            && !part.contains("..")
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    match value.split_once('/') {
        Some((owner, repo)) if name(owner) && name(repo) => Ok(value.to_string()),
        _ => Err("expected OWNER/REPO, such as molecule/workspace".to_string()),
    }
}

#[derive(Debug, Default, Args)]
pub struct StatusArgs {
    /// Print the checks as JSON
    #[arg(long)]
    pub json: bool,

    /// Also ask each served host whether its token works: a secret host's Gitea API with its
    /// secret, a platform host's GitHub API and git with the platform's token (below), within
    /// --timeout
    #[arg(long)]
    pub probe: bool,

    /// With --probe, also probe OWNER/REPO on each probed host: list one open pull request and
    /// one open issue, and on a platform host ask whether the token can push; repeatable
    #[arg(long, value_name = "OWNER/REPO", requires = "probe", value_parser = probe_repo)]
    pub probe_repo: Vec<String>,

    /// With --probe, probe only HOST (a served host) [default: every served host]; repeatable
    #[arg(long, value_name = "HOST", requires = "probe", value_parser = host_arg())]
    pub probe_host: Vec<String>,

    /// With --probe, HOST's API is at URL (a proxy, a test server) [default: https://HOST/api/v1
    /// for a secret host; https://api.github.com for github.com, https://HOST/api/v3 for another
    /// platform host]; repeatable
    #[arg(long, value_name = "HOST=URL", requires = "probe", value_parser = api_url_arg())]
    pub api_url: Vec<ApiUrl>,

    /// With --probe, git reaches platform host HOST at URL (a proxy, a test server): the push
    /// probe asks URL/OWNER/REPO.git/info/refs [default: https://HOST]; repeatable
    #[arg(long, value_name = "HOST=URL", requires = "probe", value_parser = api_url_arg())]
    pub git_url: Vec<ApiUrl>,
}

/// A value parser whose refusal echoes the value with any URL user
/// information redacted: clap's own message would quote a password pasted
/// into `--api-url`, `--git-url` or `--probe-host`.
#[derive(Clone)]
struct Redacting<T>(fn(&str) -> Result<T, String>);

impl<T: Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Redacting<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        (self.0)(&text).map_err(|why| {
            let arg = arg.map_or_else(|| "the value".to_string(), |a| format!("'{a}'"));
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!(
                    "invalid value '{}' for {arg}: {why}\n",
                    crate::secret::redact_url_userinfo(&text)
                ),
            )
            .with_cmd(cmd)
        })
    }
}

/// `--api-url HOST=URL` and `--git-url HOST=URL`.
fn api_url_arg() -> Redacting<ApiUrl> {
    Redacting(settings::parse_api_url_arg)
}

/// `--probe-host HOST`.
fn host_arg() -> Redacting<String> {
    Redacting(|value| settings::parse_host(value).map_err(String::from))
}

//! Flags and environment resolved into one `Settings` value. Defaults live
//! here and nowhere else. A flag wins over its environment variable; an empty
//! variable counts as unset; an invalid value is a usage error naming the flag
//! or the variable it came from.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_PLATFORM_URL: &str = "http://platform:8080";
pub const DEFAULT_CONFIGS_DIR: &str = "/configs";
pub const DEFAULT_HOST: &str = "github.com";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(300);
pub const TOKEN_PATH: &str = "/admin/github-installation-token";
pub const BEARER_FILE: &str = ".auth_token";
/// Where the secrets of secret-backed hosts are, under the configs directory.
pub const SECRETS_DIR: &str = "secrets.d";
pub const CACHE_DIR_NAME: &str = "molecule-git-token-helper";

/// The settings as given on the command line, before the environment and
/// defaults are applied: `None`/empty/false for a flag not given. Plain
/// data; `cli.rs` fills it from clap's parse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub platform_url: Option<String>,
    pub configs_dir: Option<PathBuf>,
    pub hosts: Vec<String>,
    pub secret_hosts: Vec<String>,
    pub cache_dir: Option<PathBuf>,
    pub no_cache: bool,
    pub timeout: Option<String>,
    pub refresh_window: Option<String>,
    pub verbose: bool,
    /// `--journal PATH|off`.
    pub journal: Option<PathBuf>,
    /// `--permissions`, `--repositories`, `--per-repository` (fetch-token,
    /// exec, env): what to narrow the token to ([`narrowing`]).
    pub narrow: narrowing::NarrowFlags,
}

/// The global flags by their long names, and whether each takes a value:
/// what a helper line in git's config may carry before the operation git
/// appends. `cli.rs` checks in a test that its definition agrees.
pub const GLOBAL_FLAGS: &[(&str, bool)] = &[
    ("platform-url", true),
    ("configs-dir", true),
    ("host", true),
    ("secret-host", true),
    ("cache-dir", true),
    ("no-cache", false),
    ("timeout", true),
    ("refresh-window", true),
    ("verbose", false),
    ("journal", true),
];

/// How this program serves a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// With the platform's token.
    Platform,
    /// With the secret in its file, never the platform's token.
    Secret(&'a SecretHost),
    /// Not at all: git asks the next helper.
    NotServed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Without a trailing slash.
    pub platform_url: String,
    pub configs_dir: PathBuf,
    /// The hosts served from the platform. Lower-case, in the order given;
    /// never empty.
    pub hosts: Vec<String>,
    /// The hosts served from a secret file, in the order given; none of
    /// them is in `hosts`.
    pub secret_hosts: Vec<SecretHost>,
    /// `None` when caching is off or no cache directory can be named.
    pub cache_dir: Option<PathBuf>,
    pub timeout: Duration,
    pub refresh_window: Duration,
    pub verbose: bool,
    /// Where token decisions are journaled; `None`: off (see
    /// `settings/journal.rs`).
    pub journal: Option<PathBuf>,
    /// What every token this process asks for is narrowed to (default:
    /// nothing, the installation's full token).
    pub narrowing: crate::scope::Narrowing,
}

impl Settings {
    pub fn bearer_path(&self) -> PathBuf {
        self.configs_dir.join(BEARER_FILE)
    }

    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.platform_url)
    }

    /// How `host` is served: from the platform, from a secret file, or not
    /// at all. Case-insensitive; a port is part of the host.
    pub fn route(&self, host: &str) -> Route<'_> {
        match self.secret_host(host) {
            Some(secret) => Route::Secret(secret),
            None if self.serves_host(host) => Route::Platform,
            None => Route::NotServed,
        }
    }

    /// Whether a served platform host is not github.com: gh then reads
    /// `GH_ENTERPRISE_TOKEN`/`GITHUB_ENTERPRISE_TOKEN` for it.
    pub fn serves_enterprise(&self) -> bool {
        self.hosts.iter().any(|h| h != DEFAULT_HOST)
    }

    /// Does this helper answer for `host` with the platform's token?
    /// Case-insensitive; a port is part of the host, so `github.com:8443` is
    /// not `github.com`.
    pub fn serves_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// The secret-backed host `host` (matched as in [`Settings::serves_host`]).
    pub fn secret_host(&self, host: &str) -> Option<&SecretHost> {
        self.secret_hosts
            .iter()
            .find(|s| s.host.eq_ignore_ascii_case(host))
    }

    /// The file holding `secret`'s token: `CONFIGS_DIR/secrets.d/NAME`.
    pub fn secret_path(&self, secret: &SecretHost) -> PathBuf {
        self.configs_dir.join(SECRETS_DIR).join(&secret.name)
    }

    /// Every served host: the platform's, then the secret-backed ones.
    pub fn all_hosts(&self) -> Vec<String> {
        let secret = self.secret_hosts.iter().map(|s| s.host.clone());
        self.hosts.iter().cloned().chain(secret).collect()
    }

    /// The served hosts as a message lists them: `github.com`, or
    /// `github.com from the platform, git.example.com from secrets.d`.
    pub fn describe_hosts(&self) -> String {
        let platform = self.hosts.join(", ");
        if self.secret_hosts.is_empty() {
            return platform;
        }
        let secret: Vec<&str> = self.secret_hosts.iter().map(|s| s.host.as_str()).collect();
        format!(
            "{platform} from the platform, {} from {SECRETS_DIR}",
            secret.join(", ")
        )
    }
}

/// A host served from a secret file rather than the platform
/// (`--secret-host HOST=NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHost {
    /// Lower-case, as git sends it (a port is part of it).
    pub host: String,
    /// The file's name in `CONFIGS_DIR/secrets.d`.
    pub name: String,
}

/// `status --api-url HOST=URL`: where a host's API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl {
    /// Lower-case.
    pub host: String,
    /// Without a trailing slash.
    pub url: String,
}

/// Parse `HOST=URL` for `--api-url`.
pub fn parse_api_url_arg(value: &str) -> Result<ApiUrl, String> {
    let (host, url) = value.split_once('=').ok_or_else(|| {
        "expected HOST=URL, such as git.example.com=https://proxy.example/api/v1".to_string()
    })?;
    Ok(ApiUrl {
        host: parse_host(host)?,
        url: parse_api_url(url)?,
    })
}

/// A setting with an invalid value: exit 2, like clap's own errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Where a value came from, for error messages.
#[derive(Clone, Copy)]
enum Source<'a> {
    Flag(&'a str),
    Env(&'a str),
}

impl fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) => write!(f, "--{name}"),
            Source::Env(name) => write!(f, "{name}"),
        }
    }
}

fn invalid(source: Source, value: &str, expected: &str) -> UsageError {
    // A URL's password is never echoed, not even in the message refusing it.
    UsageError(format!(
        "invalid value '{}' for {source}: {expected}",
        crate::secret::redact_url_userinfo(value).escape_debug()
    ))
}

/// Resolve `args` and the environment (through `env`, so tests need not
/// touch the process environment).
pub fn resolve(
    args: &Flags,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Settings, UsageError> {
    // An unset or empty variable is None; one that is not UTF-8 is an error.
    let var = |name: &'static str| -> Result<Option<(String, Source<'static>)>, UsageError> {
        match env(name) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => match v.into_string() {
                Ok(s) => Ok(Some((s, Source::Env(name)))),
                Err(v) => Err(invalid(
                    Source::Env(name),
                    &v.to_string_lossy(),
                    "not valid UTF-8",
                )),
            },
        }
    };
    let pick = |flag: &Option<String>, flag_name: &'static str, env_name: &'static str| {
        Ok::<_, UsageError>(match flag {
            Some(v) => Some((v.clone(), Source::Flag(flag_name))),
            None => var(env_name)?,
        })
    };

    let platform_url = match pick(&args.platform_url, "platform-url", "PLATFORM_URL")? {
        Some((v, src)) => parse_platform_url(&v).map_err(|e| invalid(src, &v, e))?,
        None => DEFAULT_PLATFORM_URL.to_string(),
    };

    let configs_dir = match &args.configs_dir {
        Some(dir) => dir.clone(),
        None => match env("CONFIGS_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(DEFAULT_CONFIGS_DIR),
        },
    };

    let mut hosts = Vec::new();
    let mut hosts_source = "--host";
    if !args.hosts.is_empty() {
        for h in &args.hosts {
            hosts.push(parse_host(h).map_err(|e| invalid(Source::Flag("host"), h, e))?);
        }
    } else if let Some((list, _)) = var("MOLECULE_GIT_HOSTS")? {
        hosts_source = "MOLECULE_GIT_HOSTS";
        for h in list.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            hosts
                .push(parse_host(h).map_err(|e| invalid(Source::Env("MOLECULE_GIT_HOSTS"), h, e))?);
        }
    }
    if hosts.is_empty() {
        hosts_source = "the default of --host and MOLECULE_GIT_HOSTS";
        hosts.push(DEFAULT_HOST.to_string());
    }
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));

    let (items, secret_source) = if !args.secret_hosts.is_empty() {
        (args.secret_hosts.clone(), Source::Flag("secret-host"))
    } else if let Some((list, src)) = var("MOLECULE_SECRET_HOSTS")? {
        let items = list
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(str::to_string)
            .collect();
        (items, src)
    } else {
        (Vec::new(), Source::Env("MOLECULE_SECRET_HOSTS"))
    };
    let mut secret_hosts: Vec<SecretHost> = Vec::new();
    for item in &items {
        let secret = parse_secret_host(item).map_err(|e| invalid(secret_source, item, e))?;
        match secret_hosts.iter().find(|s| s.host == secret.host) {
            Some(s) if s.name == secret.name => {}
            Some(s) => {
                return Err(UsageError(format!(
                    "{secret_source} names {} twice, with the secrets {} and {}: give it once",
                    s.host, s.name, secret.name
                )));
            }
            None => secret_hosts.push(secret),
        }
    }
    if let Some(s) = secret_hosts.iter().find(|s| hosts.contains(&s.host)) {
        return Err(UsageError(format!(
            "{} is named by {secret_source} (served from secrets.d/{}) and by {hosts_source} \
             (served from the platform): a host is served one way; name it in one of them only",
            s.host, s.name
        )));
    }

    let no_cache = args.no_cache
        || match var("MOLECULE_TOKEN_NO_CACHE")? {
            Some((v, src)) => parse_bool(&v).ok_or_else(|| invalid(src, &v, BOOL_EXPECTED))?,
            None => false,
        };
    // A relative cache directory would put the token wherever git runs,
    // inside a repository where `git add -A` stages it: refused when asked
    // for, ignored in XDG_RUNTIME_DIR (the XDG spec says so).
    let absolute = |dir: PathBuf, source: Source| {
        if dir.is_absolute() {
            Ok(dir)
        } else {
            Err(invalid(
                source,
                &dir.to_string_lossy(),
                "expected an absolute path (a relative one would put the token cache in \
                 whatever directory git runs in)",
            ))
        }
    };
    let cache_dir = if no_cache {
        None
    } else if let Some(dir) = &args.cache_dir {
        Some(absolute(dir.clone(), Source::Flag("cache-dir"))?)
    } else if let Some(dir) = env("MOLECULE_TOKEN_CACHE_DIR").filter(|v| !v.is_empty()) {
        Some(absolute(
            PathBuf::from(dir),
            Source::Env("MOLECULE_TOKEN_CACHE_DIR"),
        )?)
    } else if let Some(dir) = env("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
    {
        Some(dir.join(CACHE_DIR_NAME))
    } else {
        dirs::cache_dir()
            .filter(|d| d.is_absolute())
            .map(|d| d.join(CACHE_DIR_NAME))
    };

    let timeout = match pick(&args.timeout, "timeout", "MOLECULE_TOKEN_TIMEOUT")? {
        Some((v, src)) => match parse_duration(&v) {
            Some(d) if !d.is_zero() && d <= Duration::from_secs(3600) => d,
            _ => {
                return Err(invalid(
                    src,
                    &v,
                    "expected seconds between 0 and 3600, e.g. 10, 2.5 or 500ms",
                ));
            }
        },
        None => DEFAULT_TIMEOUT,
    };

    let refresh_window = match pick(
        &args.refresh_window,
        "refresh-window",
        "MOLECULE_TOKEN_REFRESH_WINDOW",
    )? {
        Some((v, src)) => match parse_duration(&v) {
            Some(d) if d <= Duration::from_secs(3600) => d,
            _ => {
                return Err(invalid(
                    src,
                    &v,
                    "expected seconds between 0 and 3600, e.g. 300",
                ));
            }
        },
        None => DEFAULT_REFRESH_WINDOW,
    };

    let verbose = args.verbose
        || match var("MOLECULE_TOKEN_LOG")? {
            Some((v, src)) => match v.to_ascii_lowercase().as_str() {
                "debug" | "trace" => true,
                "info" | "warn" | "error" | "quiet" => false,
                other => parse_bool(other).ok_or_else(|| {
                    invalid(src, &v, "expected debug to turn debug lines on, or off")
                })?,
            },
            None => false,
        };

    let journal = journal::resolve(args.journal.as_deref(), env, cache_dir.as_deref())?;
    let narrowing = narrowing::resolve(&args.narrow, &var)?;

    Ok(Settings {
        platform_url,
        configs_dir,
        hosts,
        secret_hosts,
        cache_dir,
        timeout,
        refresh_window,
        verbose,
        journal,
        narrowing,
    })
}

const BOOL_EXPECTED: &str = "expected 1, true, yes, on or 0, false, no, off";

/// `1`/`true`/`yes`/`on` and `0`/`false`/`no`/`off`/empty, any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// `10`, `2.5`, `10s` or `500ms`.
pub fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (number, scale) = if let Some(n) = value.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1.0)
    } else {
        (value, 1.0)
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let seconds = number.parse::<f64>().ok()? * scale;
    Duration::try_from_secs_f64(seconds).ok()
}

/// An http(s) URL with a host and nothing that would leak or surprise: no
/// credentials, query or fragment. Returned without a trailing slash.
fn parse_platform_url(value: &str) -> Result<String, &'static str> {
    parse_http_url(
        value,
        "expected an http:// or https:// URL such as http://platform:8080",
    )
}

/// The base URL of a secret host's API (`status --api-url HOST=URL`), as
/// strict as the platform's URL: the token goes there.
pub fn parse_api_url(value: &str) -> Result<String, &'static str> {
    parse_http_url(
        value,
        "expected an http:// or https:// URL such as https://git.example.com/api/v1",
    )
}

fn parse_http_url(value: &str, expected: &'static str) -> Result<String, &'static str> {
    let url = reqwest::Url::parse(value.trim()).map_err(|_| expected)?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(expected);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not contain credentials");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL must not have a query or fragment");
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A host name as git sends it: `github.com`, `ghe.example:8443`, `[::1]:443`.
pub fn parse_host(value: &str) -> Result<String, &'static str> {
    let host = value.trim().to_ascii_lowercase();
    if host.contains("://") || host.contains('/') {
        return Err("expected a host name such as github.com, not a URL");
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b);
    if host.is_empty() || !host.bytes().all(allowed) {
        return Err("expected a host name such as github.com or ghe.example.com:8443");
    }
    Ok(host)
}

/// `HOST=NAME`: a host as for `--host`, and the name of a file in
/// `CONFIGS_DIR/secrets.d` (letters, digits, `.`, `_`, `-`; never a path).
fn parse_secret_host(value: &str) -> Result<SecretHost, &'static str> {
    let Some((host, name)) = value.split_once('=') else {
        return Err("expected HOST=NAME, such as git.example.com=GITEA_TOKEN");
    };
    let host = parse_host(host)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(
            "the NAME after = is empty: expected HOST=NAME, such as git.example.com=GITEA_TOKEN",
        );
    }
    if name.contains('/') || name.contains("..") || name == "." {
        return Err("NAME must be a file name in CONFIGS_DIR/secrets.d, without / or ..");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err("NAME may hold only letters, digits, '.', '_' and '-'");
    }
    Ok(SecretHost {
        host,
        name: name.to_string(),
    })
}

mod helper_flags;
mod journal;
mod narrowing;
pub use helper_flags::{HelperArgs, HelperFlags, parse_helper_args};
pub use narrowing::NarrowFlags;

#[cfg(test)]
mod tests;

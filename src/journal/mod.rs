//! The journal: one JSON line per token decision (a fetch, a serve, a
//! failure, an erase, a withheld store, a gh login), appended to
//! `journal.jsonl` in the cache directory, so that a token seen in GitHub's
//! audit log (by its `hashed_token`) can be traced to the workspace process
//! that held it. The format is a stable interface: docs/contract.md.
//!
//! A sink, not a participant: the engine and the commands hand it a typed
//! [`Event`]; it adds what the process knows (the time, the command, the
//! request's host and repository, the process chain, the directory) and
//! appends one line ([`file`]). It never receives a token to keep: only
//! its hash. It never fails a command: a journal that cannot be written is
//! one debug line.
//!
//! Low in the house: it uses `secret` and `diag`, nothing of `token/` or
//! `commands/`.

pub mod file;
pub mod line;
pub mod process;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::diag::debug;
use crate::secret::Secret;

pub use line::Line;

/// The journal's file name in the cache directory (the default place).
pub const FILE_NAME: &str = "journal.jsonl";

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The platform answered with a token.
    Fetch,
    /// A token was handed to a client.
    Serve,
    /// Nothing was served: git falls through, the command fails.
    Fail,
    /// git rejected a token (`erase`).
    Erase,
    /// The fallback wrapper did not pass `store` of a token on.
    Withhold,
    /// gh was logged in with a token (or refused it: `error`).
    GhLogin,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Fetch,
        Kind::Serve,
        Kind::Fail,
        Kind::Erase,
        Kind::Withhold,
        Kind::GhLogin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Fetch => "fetch",
            Kind::Serve => "serve",
            Kind::Fail => "fail",
            Kind::Erase => "erase",
            Kind::Withhold => "withhold",
            Kind::GhLogin => "gh-login",
        }
    }
}

/// Which command of this program decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Get,
    Erase,
    FetchToken,
    Env,
    Exec,
    GhProxy,
    GhLogin,
    Fallback,
}

impl Command {
    pub fn name(self) -> &'static str {
        match self {
            Command::Get => "get",
            Command::Erase => "erase",
            Command::FetchToken => "fetch-token",
            Command::Env => "env",
            Command::Exec => "exec",
            Command::GhProxy => "gh proxy",
            Command::GhLogin => "gh-login",
            Command::Fallback => "fallback",
        }
    }
}

/// Where a served token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Cache,
    Platform,
    /// A secret-backed host's file (`secrets.d`), never the platform.
    Secret,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Platform => "platform",
            Source::Secret => "secret",
        }
    }
}

/// One decision, as the engine or a command hands it over. The token is
/// borrowed only to be hashed.
#[derive(Debug)]
pub struct Event<'a> {
    pub kind: Kind,
    /// The host, when it is not the request's ([`target`]).
    pub host: Option<&'a str>,
    /// The owner, when it is not the request's.
    pub owner: Option<&'a str>,
    pub token: Option<&'a Secret>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub source: Option<Source>,
    /// Permission name → level, when the token was narrowed.
    pub permissions: Option<BTreeMap<String, String>>,
    /// The repositories, when the token was narrowed to some.
    pub repositories: Option<Vec<String>>,
    /// For `fail` (and a refused gh login): the one line stderr shows.
    pub error: Option<String>,
    /// For `fetch`: how long the platform took.
    pub duration_ms: Option<u64>,
}

impl<'a> Event<'a> {
    pub fn new(kind: Kind) -> Event<'a> {
        Event {
            kind,
            host: None,
            owner: None,
            token: None,
            expires_at: None,
            source: None,
            permissions: None,
            repositories: None,
            error: None,
            duration_ms: None,
        }
    }

    /// A token and its expiry.
    pub fn token(mut self, token: &'a Secret, expires_at: Option<i64>) -> Event<'a> {
        self.token = Some(token);
        self.expires_at = expires_at;
        self
    }

    pub fn source(mut self, source: Source) -> Event<'a> {
        self.source = Some(source);
        self
    }

    pub fn host(mut self, host: &'a str) -> Event<'a> {
        self.host = Some(host);
        self
    }

    pub fn owner(mut self, owner: Option<&'a str>) -> Event<'a> {
        self.owner = owner;
        self
    }

    pub fn error(mut self, error: String) -> Event<'a> {
        self.error = Some(error);
        self
    }
}

/// Where this process journals, and for which command: set once, by the
/// command that decides ([`start`]). A process that never starts the
/// journal (`status`, `configure`) writes nothing.
struct Sink {
    path: PathBuf,
    command: Command,
    /// The path is the default one, in the cache directory (created 0700
    /// when missing, as the cache creates it).
    in_cache_dir: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// What the request named: the host, the owner, the repository (git's
/// `path`, gh's `-R`).
#[derive(Clone, Debug, Default)]
struct Target {
    host: Option<String>,
    owner: Option<String>,
    repo: Option<String>,
}

static TARGET: Mutex<Target> = Mutex::new(Target {
    host: None,
    owner: None,
    repo: None,
});

/// Journal this process's decisions for `command` to `path` (`None`: off).
/// `in_cache_dir`: the path is the default one in the cache directory. The
/// first call wins.
pub fn start(path: Option<&Path>, in_cache_dir: bool, command: Command) {
    let Some(path) = path else {
        debug!("journal: off");
        return;
    };
    let _ = SINK.set(Sink {
        path: path.to_path_buf(),
        command,
        in_cache_dir,
    });
}

/// What the request names, for every event after this one that does not
/// name its own.
pub fn target(host: Option<&str>, owner: Option<&str>, repo: Option<&str>) {
    if let Ok(mut target) = TARGET.lock() {
        *target = Target {
            host: host.map(str::to_string),
            owner: owner.map(str::to_string),
            repo: repo.map(str::to_string),
        };
    }
}

/// Append one line for `event`. Never fails: a journal that cannot be
/// written is one debug line.
pub fn record(event: Event) {
    let Some(sink) = SINK.get() else {
        return;
    };
    let target = TARGET.lock().map(|t| t.clone()).unwrap_or_default();
    let line = Line::new(&event, sink.command, target.host, target.owner, target.repo);
    let text = line.to_text();
    if let Err(why) = file::append(&sink.path, text.as_bytes(), sink.in_cache_dir) {
        debug!("journal: {why}; not recorded");
    }
}

/// The hash GitHub's audit log names a token by: base64 of its SHA-256
/// (`echo -n TOKEN | openssl dgst -sha256 -binary | base64`).
pub fn hashed_token(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    base64(digest.as_ref())
}

/// Standard base64 with padding (RFC 4648), as `base64(1)` writes it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input}");
        }
    }

    /// As `echo -n abc | openssl dgst -sha256 -binary | base64` prints it.
    #[test]
    fn hashed_token_is_what_githubs_audit_log_shows() {
        assert_eq!(
            hashed_token("abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}

//! `get`, `store` and `erase`: the git credential helper actions.
//!
//! `get` either answers (a credential on stdout), answers nothing because
//! the request is not ours ([`Answer::NotOurs`]: exit 0, git asks the next
//! helper quietly), or fails (an error: exit 1, git asks the next helper and
//! shows our line).

use std::io::Read;

use anyhow::anyhow;

use crate::diag::debug;
use crate::error::Result;
use crate::git::protocol::{self, Request, TOKEN_USERNAME};
use crate::journal::{self, Event, Kind, Source};
use crate::owner::Owner;
use crate::settings::{Route, SecretHost, Settings};
use crate::token;

/// What `get` says to git.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// The credential lines, whole.
    Credential(Vec<u8>),
    /// Not a request this helper serves (why, for `-v`).
    NotOurs(String),
}

/// The pure decision: `protocol=https` and a served host, nothing else.
pub fn route<'a>(settings: &'a Settings, request: &Request) -> Result<Route<'a>, String> {
    let protocol = request.protocol.as_deref().unwrap_or("");
    if !protocol.eq_ignore_ascii_case("https") {
        return Err(format!("protocol {protocol:?} is not https"));
    }
    let Some(host) = request.host.as_deref() else {
        return Err("the request names no host".into());
    };
    match settings.route(host) {
        Route::NotServed => Err(format!(
            "host {host:?} is not served (serving {})",
            settings.describe_hosts()
        )),
        route => Ok(route),
    }
}

pub fn get(settings: &Settings, input: impl Read) -> Result<()> {
    let request = protocol::read_request(input)?;
    match answer(settings, &request)? {
        Answer::Credential(bytes) => super::write_stdout(&bytes),
        Answer::NotOurs(why) => {
            debug!("get: {why}; answering nothing");
            Ok(())
        }
    }
}

/// The answer to `request`.
pub fn answer(settings: &Settings, request: &Request) -> Result<Answer> {
    let secret = match route(settings, request) {
        Err(why) => return Ok(Answer::NotOurs(why)),
        Ok(Route::Secret(secret)) => secret,
        Ok(Route::Platform | Route::NotServed) => {
            let repository = request
                .path
                .as_deref()
                .and_then(crate::owner::Repository::from_git_path);
            let wanted = super::narrow::of_repository(
                settings,
                request_owner(request),
                repository.as_ref(),
            )?;
            journal_target(request);
            let served = token::serve_request(settings, &wanted)?;
            debug!(
                "get: answering with the token {} ({wanted})",
                if served.from_cache {
                    "from the cache"
                } else {
                    "just fetched"
                },
            );
            let token = served.token;
            return Ok(Answer::Credential(protocol::credential_response(
                TOKEN_USERNAME,
                &token.secret,
                token.expires_at,
            )));
        }
    };
    journal_target(request);
    secret_answer(settings, secret, request)
}

/// What the journal names for this request's decisions: its host, owner
/// and path.
fn journal_target(request: &Request) {
    let owner = request_owner(request).map(|o| o.to_string());
    journal::target(
        request.host.as_deref(),
        owner.as_deref(),
        request.path.as_deref(),
    );
}

/// The owner of the repository git asks for: the first segment of `path=`
/// (git sends it for platform hosts, where configure turns on
/// `useHttpPath`), when it is a GitHub login; else unknown.
pub fn request_owner(request: &Request) -> Option<Owner> {
    request.path.as_deref().and_then(Owner::from_git_path)
}

/// A secret-backed host: the secret from its file, with the username git
/// sent (from the remote URL) or else `x-access-token`, and no expiry. No
/// platform request, and the token cache is not touched.
fn secret_answer(settings: &Settings, secret: &SecretHost, request: &Request) -> Result<Answer> {
    let username = match request.username.as_deref() {
        Some(name) if name.chars().any(char::is_control) => {
            return Err(anyhow!(
                "credential request refused: the username contains a control character"
            )
            .into());
        }
        Some(name) if !name.is_empty() => name,
        _ => TOKEN_USERNAME,
    };
    let token = token::secret_host_token(settings, secret);
    journal::record(match &token {
        Ok(token) => Event::new(Kind::Serve)
            .token(token, None)
            .source(Source::Secret),
        Err(error) => Event::new(Kind::Fail).error(format!("{error:#}")),
    });
    let token = token?;
    debug!(
        "get: answering {} with the secret in {}",
        secret.host,
        settings.secret_path(secret).display()
    );
    Ok(Answer::Credential(protocol::credential_response(
        username, &token, None,
    )))
}

/// Nothing is stored: the platform owns the token's life.
pub fn store(input: impl Read) -> Result<()> {
    protocol::read_request(input)?;
    debug!("store: nothing to store");
    Ok(())
}

/// git rejected a credential: if it is the cached token, forget it.
pub fn erase(settings: &Settings, input: impl Read) -> Result<()> {
    let request = protocol::read_request(input)?;
    if let Ok(Route::Secret(secret)) = route(settings, &request) {
        debug!(
            "erase: {} is served from {}, which is not cached; nothing to forget",
            secret.host,
            settings.secret_path(secret).display()
        );
        return Ok(());
    }
    match &request.password {
        Some(password) => {
            // Only a platform host's: another host's password is not ours
            // to record, even hashed.
            if route(settings, &request) == Ok(Route::Platform) {
                journal_target(&request);
                journal::record(Event::new(Kind::Erase).token(password, None));
            }
            Ok(token::forget(settings, password.expose())?)
        }
        None => {
            debug!("erase: the request has no password; nothing to forget");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Flags;

    fn settings(hosts: &[&str]) -> Settings {
        settings_with(hosts, &[])
    }

    fn settings_with(hosts: &[&str], secret_hosts: &[&str]) -> Settings {
        let args = Flags {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            secret_hosts: secret_hosts.iter().map(|h| h.to_string()).collect(),
            ..Flags::default()
        };
        crate::settings::resolve(&args, &|_| None).unwrap()
    }

    fn request(protocol: Option<&str>, host: Option<&str>) -> Request {
        Request {
            protocol: protocol.map(str::to_string),
            host: host.map(str::to_string),
            ..Request::default()
        }
    }

    #[test]
    fn serves_https_for_served_hosts_only() {
        let s = settings(&["github.com", "ghe.example:8443"]);
        let serve = |p, h| route(&s, &request(p, h)) == Ok(Route::Platform);
        assert!(serve(Some("https"), Some("github.com")));
        assert!(serve(Some("HTTPS"), Some("GitHub.com")));
        assert!(serve(Some("https"), Some("ghe.example:8443")));
        assert!(!serve(Some("http"), Some("github.com")));
        assert!(!serve(Some("ssh"), Some("github.com")));
        assert!(!serve(None, Some("github.com")));
        assert!(!serve(Some("https"), None));
        assert!(!serve(Some("https"), Some("gitlab.com")));
        assert!(!serve(Some("https"), Some("github.com:443")));
        assert!(!serve(Some("https"), Some("ghe.example")));
    }

    #[test]
    fn secret_hosts_are_served_from_their_secret_never_the_platform() {
        let s = settings_with(&["github.com"], &["git.example.test=GITEA_TOKEN"]);
        let gitea = &s.secret_hosts[0];
        let d = |p, h| route(&s, &request(p, h));
        assert_eq!(
            d(Some("https"), Some("git.example.test")),
            Ok(Route::Secret(gitea))
        );
        assert_eq!(
            d(Some("HTTPS"), Some("Git.Example.Test")),
            Ok(Route::Secret(gitea))
        );
        assert_eq!(d(Some("https"), Some("github.com")), Ok(Route::Platform));
        for (p, h) in [
            (Some("http"), Some("git.example.test")),
            (Some("ssh"), Some("git.example.test")),
            (Some("https"), Some("git.example.test:3000")),
            (Some("https"), Some("example.test")),
        ] {
            assert!(d(p, h).is_err(), "{p:?} {h:?}");
        }
    }
}

//! `get`, `store` and `erase`: the git credential helper actions.

use std::io::Read;

use anyhow::{Result, bail};

use crate::diag::debug;
use crate::protocol::{self, Request, TOKEN_USERNAME};
use crate::settings::{SecretHost, Settings};

/// Whether a request is ours to answer, from where, and if not, why (for `-v`).
#[derive(Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    /// A platform host: the platform's token.
    Serve,
    /// A secret-backed host: the secret in its file, never the platform.
    Secret(&'a SecretHost),
    NotOurs(String),
}

/// The pure decision: `protocol=https` and a served host, nothing else.
pub fn decide<'a>(settings: &'a Settings, request: &Request) -> Decision<'a> {
    let protocol = request.protocol.as_deref().unwrap_or("");
    if !protocol.eq_ignore_ascii_case("https") {
        return Decision::NotOurs(format!("protocol {protocol:?} is not https"));
    }
    let Some(host) = request.host.as_deref() else {
        return Decision::NotOurs("the request names no host".into());
    };
    if let Some(secret) = settings.secret_host(host) {
        return Decision::Secret(secret);
    }
    if !settings.serves_host(host) {
        return Decision::NotOurs(format!(
            "host {host:?} is not served (serving {})",
            settings.describe_hosts()
        ));
    }
    Decision::Serve
}

pub fn get(settings: &Settings, input: impl Read) -> Result<()> {
    let request = protocol::read_request(input)?;
    match decide(settings, &request) {
        Decision::NotOurs(why) => {
            debug!("get: {why}; answering nothing");
            return Ok(());
        }
        Decision::Secret(secret) => return get_secret(settings, secret, &request),
        Decision::Serve => {}
    }
    let served = super::fresh_token(settings)?;
    debug!(
        "get: answering with the token {}",
        if served.from_cache {
            "from the cache"
        } else {
            "just fetched"
        }
    );
    let token = served.token;
    super::write_stdout(&protocol::credential_response(
        TOKEN_USERNAME,
        &token.secret,
        token.expires_at,
    ))
}

/// A secret-backed host: the secret from its file, with the username git
/// sent (from the remote URL) or else `x-access-token`, and no expiry. No
/// platform request, and the token cache is not touched.
fn get_secret(settings: &Settings, secret: &SecretHost, request: &Request) -> Result<()> {
    let username = match request.username.as_deref() {
        Some(name) if name.chars().any(char::is_control) => {
            bail!("credential request refused: the username contains a control character")
        }
        Some(name) if !name.is_empty() => name,
        _ => TOKEN_USERNAME,
    };
    let token = super::secret_token(settings, secret)?;
    debug!(
        "get: answering {} with the secret in {}",
        secret.host,
        settings.secret_path(secret).display()
    );
    super::write_stdout(&protocol::credential_response(username, &token, None))
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
    if let Decision::Secret(secret) = decide(settings, &request) {
        debug!(
            "erase: {} is served from {}, which is not cached; nothing to forget",
            secret.host,
            settings.secret_path(secret).display()
        );
        return Ok(());
    }
    match &request.password {
        Some(password) => super::forget_token(settings, password.expose()),
        None => {
            debug!("erase: the request has no password; nothing to forget");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::GlobalArgs;

    fn settings(hosts: &[&str]) -> Settings {
        settings_with(hosts, &[])
    }

    fn settings_with(hosts: &[&str], secret_hosts: &[&str]) -> Settings {
        let args = GlobalArgs {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            secret_hosts: secret_hosts.iter().map(|h| h.to_string()).collect(),
            ..GlobalArgs::default()
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
        let serve = |p, h| decide(&s, &request(p, h)) == Decision::Serve;
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
        let d = |p, h| decide(&s, &request(p, h));
        assert_eq!(
            d(Some("https"), Some("git.example.test")),
            Decision::Secret(gitea)
        );
        assert_eq!(
            d(Some("HTTPS"), Some("Git.Example.Test")),
            Decision::Secret(gitea)
        );
        assert_eq!(d(Some("https"), Some("github.com")), Decision::Serve);
        for (p, h) in [
            (Some("http"), Some("git.example.test")),
            (Some("ssh"), Some("git.example.test")),
            (Some("https"), Some("git.example.test:3000")),
            (Some("https"), Some("example.test")),
        ] {
            assert!(matches!(d(p, h), Decision::NotOurs(_)), "{p:?} {h:?}");
        }
    }
}

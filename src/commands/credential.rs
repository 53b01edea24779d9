//! `get`, `store` and `erase`: the git credential helper actions.

use std::io::Read;

use anyhow::Result;

use crate::diag::debug;
use crate::protocol::{self, Request, TOKEN_USERNAME};
use crate::settings::Settings;

/// Whether a request is ours to answer, and if not, why (for `-v`).
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Serve,
    NotOurs(String),
}

/// The pure decision: `protocol=https` and a served host, nothing else.
pub fn decide(settings: &Settings, request: &Request) -> Decision {
    let protocol = request.protocol.as_deref().unwrap_or("");
    if !protocol.eq_ignore_ascii_case("https") {
        return Decision::NotOurs(format!("protocol {protocol:?} is not https"));
    }
    let Some(host) = request.host.as_deref() else {
        return Decision::NotOurs("the request names no host".into());
    };
    if !settings.serves_host(host) {
        return Decision::NotOurs(format!(
            "host {host:?} is not served (serving {})",
            settings.hosts.join(", ")
        ));
    }
    Decision::Serve
}

pub fn get(settings: &Settings, input: impl Read) -> Result<()> {
    let request = protocol::read_request(input)?;
    if let Decision::NotOurs(why) = decide(settings, &request) {
        debug!("get: {why}; answering nothing");
        return Ok(());
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

/// Nothing is stored: the platform owns the token's life.
pub fn store(input: impl Read) -> Result<()> {
    protocol::read_request(input)?;
    debug!("store: nothing to store");
    Ok(())
}

/// git rejected a credential: if it is the cached token, forget it.
pub fn erase(settings: &Settings, input: impl Read) -> Result<()> {
    let request = protocol::read_request(input)?;
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
        let args = GlobalArgs {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
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
}

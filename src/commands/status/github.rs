//! Asking a GitHub host about the platform's token, for `status --probe`:
//! its REST API with `Authorization: token …`, and its git smart HTTP with
//! `Basic x-access-token:…` as git sends it. One GET at a time, all within
//! one deadline, no redirect followed; an https URL may go through the
//! `HTTPS_PROXY` proxy (CONNECT keeps TLS end to end), an http one never.
//! What the answers mean is `probe_github/`'s business; this module only
//! fetches them. Nothing here puts the token or a response body into an
//! error message.

use std::time::{Duration, Instant};

use anyhow::Result;
use reqwest::header::HeaderMap;

use crate::diag::debug;
use crate::http;
use crate::secret::Secret;

/// At most this much of a body is read; a larger one is dropped whole.
const MAX_BODY: usize = 64 * 1024;

/// GitHub's REST API for `host`: `https://api.github.com` for github.com,
/// `https://HOST/api/v3` for a GitHub Enterprise Server.
pub fn default_api(host: &str) -> String {
    match host {
        "github.com" => "https://api.github.com".to_string(),
        _ => format!("https://{host}/api/v3"),
    }
}

/// Where git reaches `host`'s repositories: `https://HOST`.
pub fn default_git(host: &str) -> String {
    format!("https://{host}")
}

/// How a request carries the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: token …`, `Accept: application/json`: the API.
    Api,
    /// `Authorization: Basic base64(x-access-token:…)`: git smart HTTP.
    Git,
}

/// An answer: the status, the headers a probe reads, and the body (empty
/// when it was larger than [`MAX_BODY`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// `X-Accepted-GitHub-Permissions`: what the endpoint needs.
    pub accepted_permissions: Option<String>,
    /// `X-RateLimit-Remaining`.
    pub rate_remaining: Option<u64>,
    /// `X-RateLimit-Reset`, unix seconds.
    pub rate_reset: Option<i64>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

/// The probes of the platform's hosts, within one deadline.
pub struct Client {
    session: http::Session,
}

impl Client {
    /// `https`: whether any URL asked will be https (TLS roots are loaded
    /// only then, and only then may `HTTPS_PROXY` be used); `timeout` is the
    /// whole budget that `deadline` ends, named in messages.
    pub fn new(https: bool, deadline: Instant, timeout: Duration) -> Result<Client> {
        let proxy = match https {
            true => http::https_proxy_from_env()?,
            false => None,
        };
        Ok(Client {
            session: http::Session::new(https, proxy, deadline, timeout)?,
        })
    }

    /// `GET url` with the token as `auth` says. An error is one line naming
    /// the URL.
    pub fn get(&self, url: &str, auth: Auth, token: &Secret) -> Result<Reply, String> {
        let started = Instant::now();
        let request = get(self.session.client(), url, auth, token);
        let mut reply = self.session.run(url, request)?;
        debug!("GET {url}: HTTP {}", reply.status);
        reply.elapsed = started.elapsed();
        Ok(reply)
    }
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    auth: Auth,
    token: &Secret,
) -> Result<Reply, String> {
    let request = match auth {
        Auth::Api => http::authorized_get(client, url, "token", token)
            .ok_or_else(|| "the token cannot be sent in an HTTP header".to_string())?
            .header("X-GitHub-Api-Version", "2022-11-28"),
        Auth::Git => {
            debug!("GET {url}");
            // reqwest marks the header sensitive.
            client
                .get(url)
                .basic_auth("x-access-token", Some(token.expose()))
        }
    };
    let mut response = request
        .send()
        .await
        .map_err(|e| http::send_error(&e, url))?;
    let mut reply = headers(response.status().as_u16(), response.headers());
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if body.len() + chunk.len() > MAX_BODY {
            body.clear();
            break;
        }
        body.extend_from_slice(&chunk);
    }
    reply.body = body;
    Ok(reply)
}

/// The parts of an answer's head a probe reads.
fn headers(status: u16, headers: &HeaderMap) -> Reply {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    Reply {
        status,
        accepted_permissions: text("x-accepted-github-permissions"),
        rate_remaining: text("x-ratelimit-remaining").and_then(|v| v.parse().ok()),
        rate_reset: text("x-ratelimit-reset").and_then(|v| v.parse().ok()),
        ..Reply::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn default_urls() {
        assert_eq!(default_api("github.com"), "https://api.github.com");
        assert_eq!(
            default_api("ghe.example.com"),
            "https://ghe.example.com/api/v3"
        );
        assert_eq!(
            default_api("ghe.example.com:8443"),
            "https://ghe.example.com:8443/api/v3"
        );
        assert_eq!(default_git("github.com"), "https://github.com");
    }

    #[test]
    fn the_headers_a_probe_reads() {
        let mut map = HeaderMap::new();
        let set = |map: &mut HeaderMap, name: &'static str, value: &str| {
            map.insert(name, HeaderValue::from_str(value).unwrap());
        };
        set(&mut map, "x-accepted-github-permissions", " issues=read ");
        set(&mut map, "x-ratelimit-remaining", "0");
        set(&mut map, "x-ratelimit-reset", "1767225600");
        let reply = headers(403, &map);
        assert_eq!(reply.status, 403);
        assert_eq!(reply.accepted_permissions.as_deref(), Some("issues=read"));
        assert_eq!(reply.rate_remaining, Some(0));
        assert_eq!(reply.rate_reset, Some(1767225600));
        set(&mut map, "x-ratelimit-remaining", "lots");
        assert_eq!(headers(200, &map).rate_remaining, None);
        assert_eq!(
            headers(200, &HeaderMap::new()),
            Reply {
                status: 200,
                ..Reply::default()
            }
        );
    }
}

//! Asking a Gitea host's API about a token, for `status --probe`: one GET at
//! a time with `Authorization: token …`, all within one deadline, through
//! the platform's HTTP client (no redirects followed, no proxy). What the
//! answers mean is `status`'s business; this module only fetches them.
//! Nothing here puts the token or a response body into an error message.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::diag::debug;
use crate::http;
use crate::secret::Secret;

/// At most this much of `/user`'s body is read, for the login name.
const MAX_BODY: usize = 64 * 1024;

/// `https://HOST/api/v1`, Gitea's API for a host served on the default port.
pub fn default_api(host: &str) -> String {
    format!("https://{host}/api/v1")
}

/// An answer: the HTTP status, and for `/user` the login name when the
/// body had a plain one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub login: Option<String>,
    pub elapsed: Duration,
}

/// The probes of one API, within one deadline.
pub struct Api {
    session: http::Session,
    base: String,
}

impl Api {
    /// `base` without a trailing slash; `timeout` is the whole budget that
    /// `deadline` ends, named in messages.
    pub fn new(base: &str, deadline: Instant, timeout: Duration) -> Result<Api> {
        Ok(Api {
            session: http::Session::new(base.starts_with("https:"), None, deadline, timeout)?,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET {base}{path}`. An error is one line naming the URL.
    pub fn get(&self, path: &str, token: &Secret) -> Result<Answer, String> {
        let url = self.url(path);
        let started = Instant::now();
        let request = get(self.session.client(), &url, token, path == "/user");
        let (status, login) = self.session.run(&url, request)?;
        debug!("GET {url}: HTTP {status}");
        Ok(Answer {
            status,
            login,
            elapsed: started.elapsed(),
        })
    }
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    token: &Secret,
    want_login: bool,
) -> Result<(u16, Option<String>), String> {
    let request = http::authorized_get(client, url, "token", token)
        .ok_or_else(|| "the token cannot be sent in an HTTP header".to_string())?;
    let mut response = request
        .send()
        .await
        .map_err(|e| http::send_error(&e, url))?;
    let status = response.status().as_u16();
    if status != 200 || !want_login {
        return Ok((status, None));
    }
    // The login name is a nicety: a body too large or odd just goes without.
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if body.len() + chunk.len() > MAX_BODY {
            return Ok((status, None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, login(&body)))
}

/// The `login` of Gitea's user object, when it is a plain name (nothing
/// that could play tricks on a terminal).
fn login(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct User {
        login: String,
    }
    let user: User = serde_json::from_slice(body).ok()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    (!user.login.is_empty() && user.login.len() <= 100 && user.login.chars().all(plain))
        .then_some(user.login)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_is_taken_only_when_plain() {
        assert_eq!(
            login(br#"{"id":1,"login":"alice-2.b_c","full_name":"A"}"#),
            Some("alice-2.b_c".into())
        );
        for body in [
            &br#"{"login":""}"#[..],
            br#"{"login":"\u001b[31mred"}"#,
            br#"{"login":"a b"}"#,
            br#"{"id":1}"#,
            br#"[]"#,
            b"not json",
        ] {
            assert_eq!(login(body), None, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn the_default_api_is_https_on_the_host() {
        assert_eq!(
            default_api("git.example.com"),
            "https://git.example.com/api/v1"
        );
        assert_eq!(
            default_api("git.example.com:3000"),
            "https://git.example.com:3000/api/v1"
        );
    }
}

//! A mock of the part of Gitea's API that `status --probe` asks, std only:
//!
//! ```text
//! GET /api/v1/user                          needs read:user         200 {"id":1,"login":…}
//! GET /api/v1/repos/OWNER/REPO/pulls        needs read:repository   200 []
//! GET /api/v1/repos/OWNER/REPO/issues       needs read:issue        200 []
//! ```
//!
//! Tokens are registered with their login and scopes, as Gitea 1.22 names
//! them (`read:issue`, `write:repository`, …; `write:X` implies `read:X`,
//! `all` implies every scope), and are sent as `Authorization: token T`
//! (or `Bearer T`, which Gitea takes too). A missing or unknown token gets
//! 401; a token without the route's scope gets 403 with Gitea's message.
//! As in Gitea, the scope is checked before the repository is looked up, so
//! an unknown repository gets 404 only from a token with the scope, and a
//! renamed one a 307 to its new name (Gitea's RedirectToRepo). Any other
//! path gets 404, any other method 405. Every request is recorded.
//!
//! It runs on the hand-written server of `http_server.rs`, like the mock
//! platform: one accept thread, one detached thread per connection,
//! `Connection: close`. Used by integration tests (`support::mock_gitea`) and
//! by `examples/mock-gitea.rs` through `#[path]` (with `http_server.rs` beside
//! it), so it must not use any crate.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;

use super::http_server::{
    Conn, Head, Log, Mock, Recorded, Shared, TooLarge, json_escape, reason, response_head,
};

/// The API's base path.
pub const API_PATH: &str = "/api/v1";

/// What a token may do.
#[derive(Clone, Debug)]
struct TokenInfo {
    login: String,
    scopes: Vec<String>,
}

impl TokenInfo {
    /// Does the token carry `needed` (`read:X`)? `write:X` and `all` imply it.
    fn has(&self, needed: &str) -> bool {
        let category = needed.split_once(':').map_or(needed, |(_, c)| c);
        self.scopes
            .iter()
            .any(|s| s == "all" || s == needed || *s == format!("write:{category}"))
    }
}

struct State {
    tokens: HashMap<String, TokenInfo>,
    /// `owner/repo`, lower-case.
    repos: HashSet<String>,
    /// Renamed repositories: old `owner/repo` (lower-case) to the new one.
    renamed: HashMap<String, String>,
    requests: Vec<Recorded>,
}

/// The running mock; dropping it stops the server (at once, live connections included).
pub struct MockGitea {
    mock: Mock<State>,
}

impl MockGitea {
    /// Start on 127.0.0.1 with a random port; panics if it cannot bind.
    pub fn start() -> MockGitea {
        Self::start_on(0).expect("mock gitea: cannot bind 127.0.0.1:0")
    }

    /// Start on 127.0.0.1:`port` (0 = random), with no token and no repository.
    pub fn start_on(port: u16) -> io::Result<MockGitea> {
        let state = State {
            tokens: HashMap::new(),
            repos: HashSet::new(),
            renamed: HashMap::new(),
            requests: Vec::new(),
        };
        let log = Log::from_env("mock gitea", "MOCK_GITEA_LOG");
        let mock = Mock::start("mock-gitea", port, state, log, handle)?;
        Ok(MockGitea { mock })
    }

    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub fn url(&self) -> String {
        self.mock.server().url()
    }

    /// The API's base URL, `url()` + "/api/v1": what `status --api-url HOST=URL` takes.
    pub fn api_url(&self) -> String {
        format!("{}{API_PATH}", self.url())
    }

    pub fn port(&self) -> u16 {
        self.mock.server().port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.mock.server().addr()
    }

    /// Accept `token` as `login`'s, with these scopes (e.g. `["read:user", "write:repository"]`).
    pub fn add_token(&self, token: &str, login: &str, scopes: &[&str]) {
        self.mock.state().tokens.insert(
            token.to_string(),
            TokenInfo {
                login: login.to_string(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    /// Forget `token`: from now on it gets 401, as a revoked token does.
    pub fn revoke(&self, token: &str) {
        self.mock.state().tokens.remove(token);
    }

    /// A repository that exists, `owner/repo` (matched without regard to case).
    pub fn add_repo(&self, owner_repo: &str) {
        self.mock
            .state()
            .repos
            .insert(owner_repo.to_ascii_lowercase());
    }

    /// `old` (`owner/repo`) was renamed to `new`, which exists: requests for `old` get a 307
    /// to the same list of `new`.
    pub fn rename_repo(&self, old: &str, new: &str) {
        self.add_repo(new);
        self.mock
            .state()
            .renamed
            .insert(old.to_ascii_lowercase(), new.to_string());
    }

    /// Requests received (any path, any token), counted when the head has been read.
    pub fn count(&self) -> usize {
        self.mock.state().requests.len()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.mock.state().requests.clone()
    }

    /// One line per request on stderr, "mock gitea: GET /path -> 200" (never a token). Initially on
    /// only when MOCK_GITEA_LOG is set and not empty.
    pub fn set_log(&self, on: bool) {
        self.mock.log().set(on);
    }
}

fn handle(shared: &Shared<State>, mut conn: Conn<'_>, head: Result<Head, TooLarge>) {
    let Ok(head) = head else {
        respond(&mut conn, &Answer::new(431, message_body(reason(431), "")));
        return;
    };
    let recorded = head.record();
    let (method, path) = (head.method.as_str(), head.path.as_str());
    let answer = {
        let mut state = shared.state();
        let answer = route(&state, method, path, head.header("authorization"));
        state.requests.push(recorded);
        answer
    };
    shared.log.line(method, path, &answer.code.to_string());
    if conn.consume_head() && respond(&mut conn, &answer) {
        conn.finish();
    }
}

/// A response: status, JSON body, and a Location for redirects.
struct Answer {
    code: u16,
    body: String,
    location: Option<String>,
}

impl Answer {
    fn new(code: u16, body: String) -> Answer {
        Answer {
            code,
            body,
            location: None,
        }
    }
}

/// Gitea's answer to `method path` with this Authorization header.
fn route(state: &State, method: &str, path: &str, authorization: Option<&str>) -> Answer {
    let url = path;
    let not_found = || Answer::new(404, message_body("The target couldn't be found.", url));
    let Some(rest) = path.strip_prefix(API_PATH) else {
        return not_found();
    };
    enum Route {
        User,
        Pulls(String),
        Issues(String),
    }
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let route = match parts[..] {
        ["", "user"] => Route::User,
        ["", "repos", owner, repo, list] if !owner.is_empty() && !repo.is_empty() => match list {
            "pulls" => Route::Pulls(format!("{owner}/{repo}")),
            "issues" => Route::Issues(format!("{owner}/{repo}")),
            _ => return not_found(),
        },
        _ => return not_found(),
    };
    if method != "GET" {
        return Answer::new(405, message_body(reason(405), url));
    }
    let token = authorization.and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
            .then(|| token.trim())
    });
    let Some(token) = token else {
        return Answer::new(401, message_body("token is required", url));
    };
    let Some(info) = state.tokens.get(token) else {
        return Answer::new(401, message_body("invalid token", url));
    };
    let needed = match route {
        Route::User => "read:user",
        Route::Pulls(_) => "read:repository",
        Route::Issues(_) => "read:issue",
    };
    if !info.has(needed) {
        return Answer::new(
            403,
            message_body(
                &format!("token does not have at least one of required scope(s): [{needed}]"),
                url,
            ),
        );
    }
    let (repo, list) = match route {
        Route::User => {
            let user = format!(
                "{{\"id\":1,\"login\":\"{0}\",\"username\":\"{0}\",\"full_name\":\"\"}}",
                json_escape(&info.login)
            );
            return Answer::new(200, user);
        }
        Route::Pulls(repo) => (repo, "pulls"),
        Route::Issues(repo) => (repo, "issues"),
    };
    let key = repo.to_ascii_lowercase();
    if let Some(new) = state.renamed.get(&key) {
        let mut answer = Answer::new(307, String::new());
        answer.location = Some(format!("{API_PATH}/repos/{new}/{list}"));
        return answer;
    }
    if state.repos.contains(&key) {
        Answer::new(200, "[]".to_string())
    } else {
        not_found()
    }
}

/// Gitea's error body: {"message":"…","url":"…"}.
fn message_body(message: &str, url: &str) -> String {
    format!(
        "{{\"message\":\"{}\",\"url\":\"{}\"}}",
        json_escape(message),
        json_escape(url)
    )
}

/// Write a whole JSON response; false if the client went away.
fn respond(conn: &mut Conn<'_>, answer: &Answer) -> bool {
    let location: Vec<(String, String)> = answer
        .location
        .iter()
        .map(|l| ("Location".to_string(), l.clone()))
        .collect();
    conn.write(&response_head(
        answer.code,
        "application/json;charset=utf-8",
        Some(answer.body.len()),
        &location,
    )) && conn.write(answer.body.as_bytes())
}

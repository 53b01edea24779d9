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
//! Hand-written over `std::net::TcpListener` like the mock platform: one
//! accept thread, one detached thread per connection, `Connection: close`.
//! Used by integration tests (`support::mock_gitea`) and by
//! `examples/mock-gitea.rs` through `#[path]`, beside the mock platform whose
//! helpers it shares, so it must not use any crate.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::mock_platform::{Recorded, find, is_timeout, json_escape, reason};

/// The API's base path.
pub const API_PATH: &str = "/api/v1";

/// Largest request head accepted; larger gets 431.
const MAX_HEAD: usize = 64 * 1024;

/// A connection that sends no complete head for this long is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often blocked reads wake up to look at the shutdown flag.
const POLL: Duration = Duration::from_millis(50);

/// After a response, how long to wait for the client to close before dropping the socket.
const LINGER: Duration = Duration::from_secs(1);

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

struct Shared {
    state: Mutex<State>,
    shutdown: AtomicBool,
    log: AtomicBool,
    /// live connections, so that Drop can shut them down at once
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }
}

/// The running mock; dropping it stops the server.
pub struct MockGitea {
    shared: Arc<Shared>,
    port: u16,
    accept: Option<JoinHandle<()>>,
}

impl MockGitea {
    /// Start on 127.0.0.1 with a random port; panics if it cannot bind.
    pub fn start() -> MockGitea {
        Self::start_on(0).expect("mock gitea: cannot bind 127.0.0.1:0")
    }

    /// Start on 127.0.0.1:`port` (0 = random), with no token and no repository.
    pub fn start_on(port: u16) -> io::Result<MockGitea> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                tokens: HashMap::new(),
                repos: HashSet::new(),
                renamed: HashMap::new(),
                requests: Vec::new(),
            }),
            shutdown: AtomicBool::new(false),
            log: AtomicBool::new(std::env::var_os("MOCK_GITEA_LOG").is_some_and(|v| !v.is_empty())),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
        });
        let for_thread = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("mock-gitea-accept-{port}"))
            .spawn(move || accept_loop(listener, for_thread))?;
        Ok(MockGitea {
            shared,
            port,
            accept: Some(accept),
        })
    }

    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The API's base URL, `url()` + "/api/v1": what `status --api-url HOST=URL` takes.
    pub fn api_url(&self) -> String {
        format!("{}{API_PATH}", self.url())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Accept `token` as `login`'s, with these scopes (e.g. `["read:user", "write:repository"]`).
    pub fn add_token(&self, token: &str, login: &str, scopes: &[&str]) {
        self.shared.state().tokens.insert(
            token.to_string(),
            TokenInfo {
                login: login.to_string(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    /// Forget `token`: from now on it gets 401, as a revoked token does.
    pub fn revoke(&self, token: &str) {
        self.shared.state().tokens.remove(token);
    }

    /// A repository that exists, `owner/repo` (matched without regard to case).
    pub fn add_repo(&self, owner_repo: &str) {
        self.shared
            .state()
            .repos
            .insert(owner_repo.to_ascii_lowercase());
    }

    /// `old` (`owner/repo`) was renamed to `new`, which exists: requests for `old` get a 307
    /// to the same list of `new`.
    pub fn rename_repo(&self, old: &str, new: &str) {
        self.add_repo(new);
        self.shared
            .state()
            .renamed
            .insert(old.to_ascii_lowercase(), new.to_string());
    }

    /// Requests received (any path, any token), counted when the head has been read.
    pub fn count(&self) -> usize {
        self.shared.state().requests.len()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state().requests.clone()
    }

    /// One line per request on stderr, "mock gitea: GET /path -> 200" (never a token). Initially on
    /// only when MOCK_GITEA_LOG is set and not empty.
    pub fn set_log(&self, on: bool) {
        self.shared.log.store(on, Ordering::Relaxed);
    }
}

impl Drop for MockGitea {
    /// Stop accepting, shut down every live connection, close the listener.
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for stream in self.shared.conns().values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Unblock accept(); the loop sees the flag and returns, closing the listener.
        let woke = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1)).is_ok();
        if let Some(handle) = self.accept.take()
            && woke
        {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) if shared.stopping() => return,
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if shared.stopping() {
            return;
        }
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        {
            let mut conns = shared.conns();
            if shared.stopping() {
                return;
            }
            if let Ok(clone) = stream.try_clone() {
                conns.insert(id, clone);
            }
        }
        let for_thread = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("mock-gitea-conn-{id}"))
            .spawn(move || {
                handle_connection(stream, &for_thread);
                for_thread.conns().remove(&id);
            });
        if spawned.is_err() {
            shared.conns().remove(&id);
        }
    }
}

/// Read up to and including the blank line that ends the head; `None` if the client went away,
/// idled, or the mock is stopping; `Err(())` when the head is too large.
fn read_head(stream: &mut TcpStream, shared: &Shared) -> Option<Result<Vec<u8>, ()>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let mut last_data = Instant::now();
    loop {
        if shared.stopping() {
            return None;
        }
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => {
                last_data = Instant::now();
                head.extend_from_slice(&buf[..n]);
                if let Some(end) = find(&head, b"\r\n\r\n") {
                    head.truncate(end + 4);
                    return Some(Ok(head));
                }
                if head.len() > MAX_HEAD {
                    return Some(Err(()));
                }
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                if last_data.elapsed() > IDLE_TIMEOUT {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

fn handle_connection(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let raw = match read_head(&mut stream, shared) {
        Some(Ok(raw)) => raw,
        Some(Err(())) => {
            respond(
                &mut stream,
                &Answer::new(431, message_body(reason(431), "")),
            );
            return;
        }
        None => return,
    };
    let text = String::from_utf8_lossy(&raw);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let target = request_line.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let path = target.split(['?', '#']).next().unwrap_or("").to_string();
    let recorded = Recorded {
        method: method.clone(),
        path: path.clone(),
        target: target.clone(),
        headers,
        at: Instant::now(),
    };
    let answer = {
        let mut state = shared.state();
        let answer = route(&state, &method, &path, recorded.header("authorization"));
        state.requests.push(recorded);
        answer
    };
    if shared.log.load(Ordering::Relaxed) {
        eprintln!("mock gitea: {method} {path} -> {}", answer.code);
    }
    if respond(&mut stream, &answer) {
        finish(stream, shared);
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
fn respond(stream: &mut TcpStream, answer: &Answer) -> bool {
    let location = match &answer.location {
        Some(l) => format!("Location: {l}\r\n"),
        None => String::new(),
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json;charset=utf-8\r\n\
         Content-Length: {}\r\n{location}Connection: close\r\n\r\n",
        answer.code,
        reason(answer.code),
        answer.body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(answer.body.as_bytes()))
        .and_then(|()| stream.flush())
        .is_ok()
}

/// Graceful end: FIN, then wait (bounded) for the client to close, so the close is not a reset.
fn finish(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline && !shared.stopping() {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

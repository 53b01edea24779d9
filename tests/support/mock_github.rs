//! An HTTPS mock of the GitHub REST API (and the bits of GraphQL and git
//! smart HTTP that gh and `status --probe` touch), for the real gh.
//!
//! One TLS listener on 127.0.0.1 (certificate from [`TestCa`] for
//! `api.github.com`, `github.com` and `ghe.example.test`) answers by `Host`:
//!
//! - `api.github.com`: the REST API at `/`, GraphQL at `/graphql`;
//! - `ghe.example.test`: the REST API at `/api/v3/`, GraphQL at `/api/graphql`,
//!   git smart HTTP at `/OWNER/REPO.git/...`;
//! - `github.com`: git smart HTTP.
//!
//! Clients reach it by name through [`ConnectProxy`] (see [`GithubStack`]).
//! Whether a token is valid is decided by the callback given at start (for
//! example the mock platform's `TokenChecker::is_live`). Every request is
//! logged with the last 4 characters of its token only, never the token.
//!
//! Routes (API base as above; `O/R` a repository added with [`MockGithub::add_repo`]):
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | 200 `{"current_user_url":…}`, `X-OAuth-Scopes` only when set (installation tokens have none) |
//! | `GET /user` | 200 `{"login":…}` |
//! | `POST /graphql` (`viewer { login }`) | 200 `{"data":{"viewer":{"login":…}}}` |
//! | `GET /rate_limit` | 200 `{"resources":{"core":…,"graphql":…},"rate":…}` (spends nothing) |
//! | `GET /installation/repositories` | 200 `{"total_count":N,"repositories":[…]}` (`per_page`, `page`) |
//! | `GET /repos/O/R` | 200 repository, 404 `{"message":"Not Found"}` outside the installation |
//! | `GET /repos/O/R/pulls` | 200 `[…]`, or 403 `X-Accepted-GitHub-Permissions: pull_requests=read` |
//! | `GET /repos/O/R/pulls/N` | 200 the pull request, or 403 as above |
//! | `GET /repos/O/R/issues` | 200 `[…]`, or 403 `X-Accepted-GitHub-Permissions: issues=read` |
//! | `POST /repos/O/R/issues/N/comments` | 201 the comment with issues=write or pull_requests=write, else 403 |
//! | `GET /O/R.git/info/refs?service=git-receive-pack` (web host, Basic `x-access-token:TOKEN`) | 200 advertisement with contents=write, 403 otherwise, 404 outside the installation |
//!
//! With [`MockGithub::set_owner_check`], a valid token is good for `/repos/O/…` only when the check says it serves owner `O`: otherwise 404 `Not Found`, as
//! GitHub answers an installation token for another installation's repository.
//! With [`MockGithub::set_scope_check`], a token is also held to what it was narrowed to
//! (`docs/platform-api.md`): a repository it does not name is 404; a permission it lacks, or
//! holds at a lower level, is 403, as GitHub holds a narrowed installation token.
//!
//! No or an invalid token: 401 `{"message":"Bad credentials",…}` (`Requires
//! authentication` when there is none; the git routes add
//! `WWW-Authenticate: Basic realm="GitHub"`). Every authenticated API request
//! but `/rate_limit` spends one unit of the `core` budget (GraphQL: of
//! `graphql`); an empty budget answers 403 "API rate limit exceeded". Every
//! API answer carries `X-RateLimit-Limit/Remaining/Reset/Used/Resource`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::connect_proxy::ConnectProxy;
use super::tls::{self, TestCa};

/// github.com's API host.
pub const API_HOST: &str = "api.github.com";
/// github.com's web (git) host.
pub const WEB_HOST: &str = "github.com";
/// The GitHub Enterprise Server host the mock plays (API under /api/v3).
pub const GHE_HOST: &str = "ghe.example.test";

/// Most connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;

/// A connection idle this long while a request is being read is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

const DOCS: &str = "https://docs.github.com/rest";

/// The bad-credentials body GitHub sends with 401.
pub const BAD_CREDENTIALS: &str =
    r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#;

/// Decides whether a token is valid.
pub type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Decides whether a (valid) token serves an owner's repositories: (token, owner).
pub type OwnerCheck = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// Decides whether a token may use a permission at a level on a repository: (token, owner,
/// repository name, permission name, `read`/`write`).
pub type ScopeCheck = Arc<dyn Fn(&str, &str, &str, &str, &str) -> bool + Send + Sync>;

/// One permission level of a GitHub App on a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    None,
    Read,
    Write,
}

impl Access {
    fn parse(text: &str) -> Option<Access> {
        match text {
            "none" => Some(Access::None),
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            _ => None,
        }
    }
}

/// What the App may do in one repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    pub contents: Access,
    pub pulls: Access,
    pub issues: Access,
}

impl Perms {
    /// contents, pulls and issues: write.
    pub fn all() -> Perms {
        Perms {
            contents: Access::Write,
            pulls: Access::Write,
            issues: Access::Write,
        }
    }

    /// Everything readable, nothing writable.
    pub fn read_only() -> Perms {
        Perms {
            contents: Access::Read,
            pulls: Access::Read,
            issues: Access::Read,
        }
    }

    /// "contents=write,pulls=read,issues=none" (names not given: none; `pull_requests` = `pulls`).
    /// Panics on anything else, it is test input.
    pub fn parse(text: &str) -> Perms {
        let mut perms = Perms {
            contents: Access::None,
            pulls: Access::None,
            issues: Access::None,
        };
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, level) = item
                .split_once('=')
                .unwrap_or_else(|| panic!("permission {item:?}: expected NAME=LEVEL"));
            let level = Access::parse(level)
                .unwrap_or_else(|| panic!("permission {item:?}: level is none, read or write"));
            match name {
                "contents" => perms.contents = level,
                "pulls" | "pull_requests" => perms.pulls = level,
                "issues" => perms.issues = level,
                _ => panic!("permission {item:?}: name is contents, pulls or issues"),
            }
        }
        perms
    }
}

/// One rate-limit budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub remaining: u64,
    /// unix seconds
    pub reset: u64,
}

impl Budget {
    fn used(&self) -> u64 {
        self.limit.saturating_sub(self.remaining)
    }

    fn json(&self) -> String {
        format!(
            r#"{{"limit":{},"remaining":{},"reset":{},"used":{}}}"#,
            self.limit,
            self.remaining,
            self.reset,
            self.used()
        )
    }
}

/// One request the mock answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GhRequest {
    pub method: String,
    /// the Host header without a port, lower case
    pub host: String,
    /// the path without the query
    pub path: String,
    /// the query string without '?' ("" when none)
    pub query: String,
    pub status: u16,
    /// "token", "bearer", "basic" or "none"
    pub scheme: String,
    /// the last 4 characters of the token sent, if any (never more)
    pub token_tail: Option<String>,
}

/// The last 4 characters of `token`: what the log keeps of it.
pub fn tail4(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

struct State {
    repos: BTreeMap<String, Perms>,
    login: String,
    scopes: Option<String>,
    core: Budget,
    graphql: Budget,
    requests: Vec<GhRequest>,
    owner_check: Option<OwnerCheck>,
    scope_check: Option<ScopeCheck>,
}

struct Inner {
    state: Mutex<State>,
    check: TokenCheck,
    config: Arc<rustls::ServerConfig>,
    stopping: AtomicBool,
    live: AtomicUsize,
    /// one stderr line per request
    log: AtomicBool,
    /// Never answer: hold each request (counted in `held`) until the client goes or the mock stops.
    hang: AtomicBool,
    held: AtomicUsize,
    /// Held requests whose client closed the connection.
    released: AtomicUsize,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running mock; dropping it stops it.
pub struct MockGithub {
    inner: Arc<Inner>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl MockGithub {
    /// Start on 127.0.0.1 (random port) with a certificate from `ca`, accepting the tokens `check`
    /// says are valid. No repositories; budgets 5000/5000 (core and graphql) resetting in an hour;
    /// login "molecule-app[bot]"; no X-OAuth-Scopes.
    pub fn start(ca: &TestCa, check: TokenCheck) -> MockGithub {
        Self::start_on(0, ca, check).expect("mock github: cannot bind 127.0.0.1:0")
    }

    /// [`MockGithub::start`] on 127.0.0.1:`port` (0 = random).
    pub fn start_on(port: u16, ca: &TestCa, check: TokenCheck) -> io::Result<MockGithub> {
        let config = ca.server_config(&[API_HOST, WEB_HOST, GHE_HOST, "127.0.0.1"]);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let addr = listener.local_addr()?;
        let reset = unix_now() + 3600;
        let budget = Budget {
            limit: 5000,
            remaining: 5000,
            reset,
        };
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                repos: BTreeMap::new(),
                login: "molecule-app[bot]".to_string(),
                scopes: None,
                core: budget,
                graphql: budget,
                requests: Vec::new(),
                owner_check: None,
                scope_check: None,
            }),
            check,
            config,
            stopping: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            log: AtomicBool::new(
                std::env::var_os("MOCK_GITHUB_LOG").is_some_and(|v| !v.is_empty()),
            ),
            hang: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
        });
        let for_thread = Arc::clone(&inner);
        let accept = thread::Builder::new()
            .name(format!("mock-github-{}", addr.port()))
            .spawn(move || accept_loop(listener, for_thread))?;
        Ok(MockGithub {
            inner,
            addr,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The CONNECT targets that should reach this mock (for [`ConnectProxy`]).
    pub fn proxy_routes(&self) -> Vec<(&'static str, SocketAddr)> {
        vec![
            ("api.github.com:443", self.addr),
            ("github.com:443", self.addr),
            ("ghe.example.test:443", self.addr),
        ]
    }

    /// From now on a valid token reaches `O`'s repositories only when `check(token, O)` says it
    /// serves `O` (else 404, as GitHub); `None`: every valid token reaches every repository.
    pub fn set_owner_check(&self, check: Option<OwnerCheck>) {
        self.inner.state().owner_check = check;
    }

    /// From now on a valid token is held to its narrowed scope (`check(token, O, R, permission,
    /// level)`); `None`: every valid token may do what the installation may.
    pub fn set_scope_check(&self, check: Option<ScopeCheck>) {
        self.inner.state().scope_check = check;
    }

    /// Put `owner/repo` in the installation with these permissions (replacing earlier ones).
    pub fn add_repo(&self, full_name: &str, perms: Perms) {
        assert_eq!(
            full_name.split('/').filter(|p| !p.is_empty()).count(),
            2,
            "{full_name:?}: expected OWNER/REPO"
        );
        self.inner
            .state()
            .repos
            .insert(full_name.to_ascii_lowercase(), perms);
    }

    /// Take `owner/repo` out of the installation (it answers 404 from now on).
    pub fn remove_repo(&self, full_name: &str) {
        self.inner
            .state()
            .repos
            .remove(&full_name.to_ascii_lowercase());
    }

    /// The `core` budget: `limit` requests, `remaining` of them left (reset time unchanged).
    pub fn set_rate_limit(&self, limit: u64, remaining: u64) {
        let mut state = self.inner.state();
        state.core.limit = limit;
        state.core.remaining = remaining.min(limit);
    }

    /// The `graphql` budget.
    pub fn set_graphql_rate_limit(&self, limit: u64, remaining: u64) {
        let mut state = self.inner.state();
        state.graphql.limit = limit;
        state.graphql.remaining = remaining.min(limit);
    }

    /// When both budgets reset (unix seconds).
    pub fn set_rate_limit_reset(&self, unix: u64) {
        let mut state = self.inner.state();
        state.core.reset = unix;
        state.graphql.reset = unix;
    }

    /// The `core` budget now.
    pub fn rate_limit(&self) -> Budget {
        self.inner.state().core
    }

    /// The `graphql` budget now.
    pub fn graphql_rate_limit(&self) -> Budget {
        self.inner.state().graphql
    }

    /// The login `GET /user` and GraphQL `viewer` answer.
    pub fn set_login(&self, login: &str) {
        self.inner.state().login = login.to_string();
    }

    /// The `X-OAuth-Scopes` header on API answers (None: no header, as for installation tokens).
    pub fn set_oauth_scopes(&self, scopes: Option<&str>) {
        self.inner.state().scopes = scopes.map(str::to_string);
    }

    /// When on, one line per request on stderr as in [`MockGithub::describe`] (never more of a
    /// token than its last 4 characters). Initially on only when MOCK_GITHUB_LOG is set and not empty.
    /// An API that never answers: every request from now on is read and held, unanswered, until
    /// the client closes the connection or the mock stops (TLS completes; the HTTP answer never comes).
    pub fn set_hang(&self, on: bool) {
        self.inner.hang.store(on, Ordering::SeqCst);
    }

    /// How many requests were held unanswered since the start.
    pub fn held(&self) -> usize {
        self.inner.held.load(Ordering::SeqCst)
    }

    /// How many held requests ended with the client closing the connection.
    pub fn released(&self) -> usize {
        self.inner.released.load(Ordering::SeqCst)
    }

    pub fn set_log(&self, on: bool) {
        self.inner.log.store(on, Ordering::Relaxed);
    }

    /// Every request answered, in order.
    pub fn requests(&self) -> Vec<GhRequest> {
        self.inner.state().requests.clone()
    }

    /// The requests answered on `host` at `path` (no query).
    pub fn requests_to(&self, host: &str, path: &str) -> Vec<GhRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.host == host && r.path == path)
            .collect()
    }

    /// Forget the requests answered so far.
    pub fn clear_requests(&self) {
        self.inner.state().requests.clear();
    }

    /// The requests, one per line: "GET api.github.com /repos/o/r -> 200 (token …abcd)".
    pub fn describe(&self) -> String {
        self.requests()
            .iter()
            .map(|r| format!("{}\n", r.line()))
            .collect()
    }
}

impl GhRequest {
    /// "GET api.github.com /repos/o/r?x=1 -> 200 (token …abcd)"
    pub fn line(&self) -> String {
        let query = if self.query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.query)
        };
        let who = match &self.token_tail {
            Some(t) => format!("{} …{t}", self.scheme),
            None => self.scheme.clone(),
        };
        format!(
            "{} {} {}{query} -> {} ({who})",
            self.method, self.host, self.path, self.status
        )
    }
}

impl Drop for MockGithub {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(handle) = self.accept.take()
            && woke
        {
            let _ = handle.join();
        }
    }
}

/// The whole setup gh needs: a CA, the mock, and a CONNECT proxy sending github.com,
/// api.github.com and ghe.example.test (port 443) to the mock.
pub struct GithubStack {
    pub ca: TestCa,
    pub github: MockGithub,
    pub proxy: ConnectProxy,
}

impl GithubStack {
    /// The CA's PEM goes into `dir` (it must outlive the stack's use).
    pub fn start(dir: &std::path::Path, check: TokenCheck) -> GithubStack {
        let ca = TestCa::new(dir);
        let github = MockGithub::start(&ca, check);
        let proxy = ConnectProxy::start(&github.proxy_routes());
        GithubStack { ca, github, proxy }
    }

    /// The variables a Go client (gh) needs to reach the mock by name: HTTPS_PROXY (both
    /// spellings) = the proxy, SSL_CERT_FILE = the CA, NO_PROXY/no_proxy empty (Go never proxies
    /// loopback anyway), GH_NO_UPDATE_NOTIFIER, GH_PROMPT_DISABLED, NO_COLOR.
    pub fn env(&self) -> Vec<(String, String)> {
        let proxy = self.proxy.url();
        let ca = self.ca.ca_pem_path().display().to_string();
        [
            ("HTTPS_PROXY", proxy.as_str()),
            ("https_proxy", proxy.as_str()),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
            ("SSL_CERT_FILE", ca.as_str()),
            ("GH_NO_UPDATE_NOTIFIER", "1"),
            ("GH_PROMPT_DISABLED", "1"),
            ("NO_COLOR", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) if inner.stopping.load(Ordering::SeqCst) => return,
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        if inner.live.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            inner.live.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let for_thread = Arc::clone(&inner);
        let spawned = thread::Builder::new()
            .name("mock-github-conn".to_string())
            .spawn(move || {
                serve_connection(stream, &for_thread);
                for_thread.live.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            inner.live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A parsed request.
struct Request {
    method: String,
    host: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// An answer: status, extra headers, body (JSON unless a Content-Type is among the headers).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, body: impl Into<String>) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into().into_bytes(),
        }
    }

    fn message(status: u16, message: &str) -> Answer {
        Answer::json(
            status,
            format!(r#"{{"message":"{message}","documentation_url":"{DOCS}"}}"#),
        )
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Answer {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

fn serve_connection(stream: TcpStream, inner: &Inner) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let Ok(mut tls) = tls::accept(&inner.config, stream) else {
        return;
    };
    // Keep-alive: answer requests until the client closes, errs or idles, or the mock stops.
    while !inner.stopping.load(Ordering::SeqCst) {
        let Some(request) = read_request(&mut tls) else {
            break;
        };
        if inner.hang.load(Ordering::SeqCst) {
            inner.held.fetch_add(1, Ordering::SeqCst);
            if hold(&mut tls, inner) {
                inner.released.fetch_add(1, Ordering::SeqCst);
            }
            break;
        }
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let answer = route(inner, &request);
        if write_answer(&mut tls, &answer, close).is_err() || close {
            break;
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
    let _ = tls.sock.shutdown(Shutdown::Both);
}

/// Read and discard until the client closes, errs, or the mock stops (reads time out every
/// READ_TIMEOUT, so the stop flag is seen); true when the client went.
fn hold(stream: &mut impl Read, inner: &Inner) -> bool {
    let mut sink = [0u8; 4096];
    while !inner.stopping.load(Ordering::SeqCst) {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return None;
        }
        match stream.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut words = lines.next()?.split(' ');
    let method = words.next()?.to_string();
    let target = words.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    if find("transfer-encoding").is_some() {
        return None; // gh and git send Content-Length for what the mock serves
    }
    let length: usize = find("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if length > 1024 * 1024 {
        return None;
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    let host = find("host")
        .unwrap_or_default()
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Request {
        method,
        host,
        path,
        query,
        headers,
        body,
    })
}

fn write_answer(stream: &mut impl Write, answer: &Answer, close: bool) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    if !answer
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json; charset=utf-8\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n", answer.body.len()));
    if close {
        head.push_str("Connection: close\r\n");
    }
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&answer.body)?;
    stream.flush()
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Status",
    }
}

/// The credential a request carries: (scheme, token).
fn credential(request: &Request) -> (&'static str, Option<String>) {
    let Some(value) = request.header("authorization") else {
        return ("none", None);
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "token" => ("token", Some(rest.to_string())),
        "bearer" => ("bearer", Some(rest.to_string())),
        "basic" => {
            let password = base64_decode(rest)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.split_once(':').map(|(_, p)| p.to_string()));
            ("basic", password)
        }
        _ => ("other", None),
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Which surface a request is for.
enum Surface {
    /// the REST API, with the path below the API base ("/repos/o/r")
    Rest(String),
    Graphql,
    /// git smart HTTP on a web host
    Git,
    Unknown,
}

fn surface(request: &Request) -> Surface {
    match request.host.as_str() {
        API_HOST if request.path == "/graphql" => Surface::Graphql,
        API_HOST => Surface::Rest(request.path.clone()),
        GHE_HOST if request.path == "/api/graphql" => Surface::Graphql,
        GHE_HOST if request.path == "/api/v3" => Surface::Rest("/".to_string()),
        GHE_HOST if request.path.starts_with("/api/v3/") => {
            Surface::Rest(request.path["/api/v3".len()..].to_string())
        }
        GHE_HOST | WEB_HOST => Surface::Git,
        _ => Surface::Unknown,
    }
}

fn route(inner: &Inner, request: &Request) -> Answer {
    let (scheme, token) = credential(request);
    let valid = token.as_deref().is_some_and(|t| (inner.check)(t));
    let answer = match surface(request) {
        Surface::Git => git(inner, request, token.is_some(), valid),
        Surface::Unknown => Answer::message(404, "Not Found"),
        _ if token.is_none() => Answer::message(401, "Requires authentication"),
        _ if !valid => Answer::json(401, BAD_CREDENTIALS),
        Surface::Rest(path) if !serves_owner(inner, token.as_deref(), &path) => {
            Answer::message(404, "Not Found")
        }
        Surface::Rest(path) if !in_scope(inner, token.as_deref(), &path, "metadata", "read") => {
            Answer::message(404, "Not Found")
        }
        Surface::Graphql => graphql(inner, request),
        Surface::Rest(path) => rest(inner, request, &path, token.as_deref()),
    };
    let logged = GhRequest {
        method: request.method.clone(),
        host: request.host.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        status: answer.status,
        scheme: scheme.to_string(),
        token_tail: token.as_deref().map(tail4),
    };
    if inner.log.load(Ordering::Relaxed) {
        eprintln!("mock github: {}", logged.line());
    }
    inner.state().requests.push(logged);
    answer
}

/// Whether `token` may reach the repository a REST `path` names (`/repos/O/…`); paths that name
/// no repository, and every path without an owner check, are not limited.
fn serves_owner(inner: &Inner, token: Option<&str>, path: &str) -> bool {
    let Some(check) = inner.state().owner_check.clone() else {
        return true;
    };
    match path.strip_prefix("/repos/") {
        Some(rest) => {
            let owner = rest.split('/').next().unwrap_or("");
            token.is_some_and(|t| check(t, owner))
        }
        None => true,
    }
}

/// Whether `token`'s narrowed scope lets it use `permission` at `level` on the repository a
/// REST `path` (`/repos/O/R/…`) or a git path (`/O/R.git/…`) names; true without a scope check
/// or a repository.
fn in_scope(inner: &Inner, token: Option<&str>, path: &str, permission: &str, level: &str) -> bool {
    let Some(check) = inner.state().scope_check.clone() else {
        return true;
    };
    let rest = path
        .strip_prefix("/repos/")
        .unwrap_or(path.trim_start_matches('/'));
    let mut parts = rest.split('/');
    match (parts.next(), parts.next()) {
        (Some(owner), Some(repo)) if !repo.is_empty() => {
            token.is_some_and(|t| check(t, owner, repo.trim_end_matches(".git"), permission, level))
        }
        _ => true,
    }
}

fn rate_headers(answer: Answer, budget: &Budget, resource: &str) -> Answer {
    answer
        .header("X-RateLimit-Limit", budget.limit.to_string())
        .header("X-RateLimit-Remaining", budget.remaining.to_string())
        .header("X-RateLimit-Reset", budget.reset.to_string())
        .header("X-RateLimit-Used", budget.used().to_string())
        .header("X-RateLimit-Resource", resource)
}

fn rate_exceeded() -> Answer {
    Answer::json(
        403,
        r#"{"message":"API rate limit exceeded for installation.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}"#,
    )
}

fn graphql(inner: &Inner, request: &Request) -> Answer {
    let mut state = inner.state();
    if state.graphql.remaining == 0 {
        let budget = state.graphql;
        return rate_headers(rate_exceeded(), &budget, "graphql");
    }
    state.graphql.remaining -= 1;
    let budget = state.graphql;
    let query = String::from_utf8_lossy(&request.body);
    let answer = if request.method == "POST" && query.contains("viewer") {
        Answer::json(
            200,
            format!(r#"{{"data":{{"viewer":{{"login":"{}"}}}}}}"#, state.login),
        )
    } else {
        Answer::json(
            200,
            r#"{"errors":[{"message":"the mock GitHub answers only viewer { login }"}]}"#,
        )
    };
    rate_headers(answer, &budget, "graphql")
}

fn rest(inner: &Inner, request: &Request, path: &str, token: Option<&str>) -> Answer {
    let allows = |permission: &str, level: &str| in_scope(inner, token, path, permission, level);
    let scope = Scope {
        pulls_read: allows("pull_requests", "read"),
        pulls_write: allows("pull_requests", "write"),
        issues_read: allows("issues", "read"),
        issues_write: allows("issues", "write"),
    };
    let mut state = inner.state();
    if path == "/rate_limit" {
        let (core, graphql) = (state.core, state.graphql);
        let body = format!(
            r#"{{"resources":{{"core":{},"graphql":{}}},"rate":{}}}"#,
            core.json(),
            graphql.json(),
            core.json()
        );
        return rate_headers(Answer::json(200, body), &core, "core");
    }
    if state.core.remaining == 0 {
        let budget = state.core;
        return rate_headers(rate_exceeded(), &budget, "core");
    }
    state.core.remaining -= 1;
    let budget = state.core;
    let mut answer = match request.method.as_str() {
        "GET" => rest_get(&state, request, path, scope),
        "POST" => rest_post(&state, request, path, scope),
        _ => Answer::message(404, "Not Found"),
    };
    if let Some(scopes) = &state.scopes {
        answer = answer.header("X-OAuth-Scopes", scopes.clone());
    }
    rate_headers(answer, &budget, "core")
}

fn api_url(host: &str) -> String {
    if host == GHE_HOST {
        format!("https://{GHE_HOST}/api/v3")
    } else {
        format!("https://{API_HOST}")
    }
}

fn web_url(host: &str) -> String {
    if host == GHE_HOST {
        format!("https://{GHE_HOST}")
    } else {
        format!("https://{WEB_HOST}")
    }
}

fn repo_json(state: &State, host: &str, full_name: &str, id: usize) -> String {
    let perms = state.repos[full_name];
    let (owner, name) = full_name.split_once('/').unwrap();
    format!(
        r#"{{"id":{id},"node_id":"R_mock{id}","name":"{name}","full_name":"{full_name}","private":true,"owner":{{"login":"{owner}","type":"Organization"}},"html_url":"{web}/{full_name}","url":"{api}/repos/{full_name}","default_branch":"main","permissions":{{"admin":false,"maintain":false,"push":{push},"triage":false,"pull":true}}}}"#,
        web = web_url(host),
        api = api_url(host),
        push = perms.contents == Access::Write,
    )
}

fn forbidden(permission: &str) -> Answer {
    Answer::message(403, "Resource not accessible by integration")
        .header("X-Accepted-GitHub-Permissions", permission)
}

/// What a token's narrowed scope allows on the repository of a REST request (all true without
/// a scope check).
#[derive(Clone, Copy)]
struct Scope {
    pulls_read: bool,
    pulls_write: bool,
    issues_read: bool,
    issues_write: bool,
}

/// `POST /repos/O/R/issues/N/comments`: a comment on an issue or a pull request, which GitHub
/// allows with issues=write or pull_requests=write.
fn rest_post(state: &State, request: &Request, path: &str, scope: Scope) -> Answer {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ["repos", owner, repo, "issues", number, "comments"] = segments.as_slice() else {
        return Answer::message(404, "Not Found");
    };
    let full_name = format!("{owner}/{repo}").to_ascii_lowercase();
    let Some(perms) = state.repos.get(&full_name) else {
        return Answer::message(404, "Not Found");
    };
    let may = (perms.issues >= Access::Write && scope.issues_write)
        || (perms.pulls >= Access::Write && scope.pulls_write);
    if !may {
        return forbidden("issues=write; pull_requests=write");
    }
    let body = String::from_utf8_lossy(&request.body);
    let text = if body.contains("\"body\"") {
        "a comment"
    } else {
        ""
    };
    Answer::json(
        201,
        format!(
            r#"{{"id":7,"body":"{text}","html_url":"{}/{full_name}/pull/{number}#issuecomment-7"}}"#,
            web_url(&request.host)
        ),
    )
}

fn rest_get(state: &State, request: &Request, path: &str, scope: Scope) -> Answer {
    let host = request.host.as_str();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => Answer::json(
            200,
            format!(
                r#"{{"current_user_url":"{api}/user","repository_url":"{api}/repos/{{owner}}/{{repo}}","rate_limit_url":"{api}/rate_limit"}}"#,
                api = api_url(host)
            ),
        ),
        ["user"] => Answer::json(
            200,
            format!(
                r#"{{"login":"{}","id":1,"type":"Bot","site_admin":false}}"#,
                state.login
            ),
        ),
        ["installation", "repositories"] => {
            let per_page: usize = request
                .query_param("per_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(30)
                .clamp(1, 100);
            let page: usize = request
                .query_param("page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1)
                .max(1);
            let repos: Vec<String> = state
                .repos
                .keys()
                .enumerate()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|(i, name)| repo_json(state, host, name, i + 1))
                .collect();
            Answer::json(
                200,
                format!(
                    r#"{{"total_count":{},"repository_selection":"selected","repositories":[{}]}}"#,
                    state.repos.len(),
                    repos.join(",")
                ),
            )
        }
        ["repos", owner, repo, rest @ ..] => {
            let full_name = format!("{owner}/{repo}").to_ascii_lowercase();
            let Some(perms) = state.repos.get(&full_name) else {
                return Answer::message(404, "Not Found");
            };
            let id = state.repos.keys().position(|k| *k == full_name).unwrap() + 1;
            match rest {
                [] => Answer::json(200, repo_json(state, host, &full_name, id)),
                ["pulls"] if perms.pulls >= Access::Read && scope.pulls_read => Answer::json(
                    200,
                    format!(
                        r#"[{{"number":1,"state":"open","title":"A mock pull request","html_url":"{}/{full_name}/pull/1"}}]"#,
                        web_url(host)
                    ),
                ),
                ["pulls"] => forbidden("pull_requests=read"),
                ["pulls", number] if perms.pulls >= Access::Read && scope.pulls_read => {
                    Answer::json(
                        200,
                        format!(
                            r#"{{"number":{number},"state":"open","title":"A mock pull request","html_url":"{}/{full_name}/pull/{number}"}}"#,
                            web_url(host)
                        ),
                    )
                }
                ["pulls", _] => forbidden("pull_requests=read"),
                ["issues"] if perms.issues >= Access::Read && scope.issues_read => Answer::json(
                    200,
                    format!(
                        r#"[{{"number":2,"state":"open","title":"A mock issue","html_url":"{}/{full_name}/issues/2"}}]"#,
                        web_url(host)
                    ),
                ),
                ["issues"] => forbidden("issues=read"),
                _ => Answer::message(404, "Not Found"),
            }
        }
        _ => Answer::message(404, "Not Found"),
    }
}

/// One pkt-line.
fn pkt(line: &str) -> String {
    format!("{:04x}{line}", line.len() + 4)
}

fn git(inner: &Inner, request: &Request, has_token: bool, valid: bool) -> Answer {
    let unauthorized = || {
        Answer {
            status: 401,
            headers: vec![],
            body: b"Invalid username or token.\n".to_vec(),
        }
        .header("Content-Type", "text/plain")
        .header("WWW-Authenticate", "Basic realm=\"GitHub\"")
    };
    let plain = |status: u16, text: &str| {
        Answer {
            status,
            headers: vec![],
            body: text.as_bytes().to_vec(),
        }
        .header("Content-Type", "text/plain")
    };
    let Some(repo_path) = request.path.strip_suffix("/info/refs") else {
        return plain(404, "Not Found\n");
    };
    let service = request.query_param("service").unwrap_or("");
    if request.method != "GET" || !matches!(service, "git-receive-pack" | "git-upload-pack") {
        return plain(404, "Not Found\n");
    }
    if !has_token || !valid {
        return unauthorized();
    }
    let full_name = repo_path
        .trim_start_matches('/')
        .trim_end_matches(".git")
        .to_ascii_lowercase();
    let Some(perms) = inner.state().repos.get(&full_name).copied() else {
        return plain(404, "Repository not found.\n");
    };
    let needed = if service == "git-receive-pack" {
        Access::Write
    } else {
        Access::Read
    };
    let level = if needed == Access::Write {
        "write"
    } else {
        "read"
    };
    let token = credential(request).1;
    if perms.contents < needed
        || !in_scope(inner, token.as_deref(), &request.path, "contents", level)
    {
        return plain(
            403,
            &format!("Permission to {full_name}.git denied to x-access-token.\n"),
        );
    }
    let zero = "0".repeat(40);
    let caps = if service == "git-receive-pack" {
        "report-status report-status-v2 delete-refs side-band-64k quiet atomic ofs-delta agent=mock-github"
    } else {
        "multi_ack thin-pack side-band side-band-64k ofs-delta shallow no-progress include-tag agent=mock-github"
    };
    let body = format!(
        "{}0000{}0000",
        pkt(&format!("# service={service}\n")),
        pkt(&format!("{zero} capabilities^{{}}\0{caps}\n"))
    );
    Answer {
        status: 200,
        headers: vec![],
        body: body.into_bytes(),
    }
    .header(
        "Content-Type",
        format!("application/x-{service}-advertisement"),
    )
    .header("Cache-Control", "no-cache")
}

//! A real git remote over HTTPS for the integration tests: bare repositories in a temp dir,
//! served by git's own `git http-backend` run as a CGI, behind HTTP Basic auth checked on every
//! request, plus a minimal git-lfs server (batch API, basic transfers) on the same port and auth.
//!
//! Accepted credentials: user `x-access-token` with a token the [`TokenCheck`] callback says is
//! live (the tests wire it to the mock platform: minted, not expired, not revoked), or the
//! operator PAT the test names. With [`GitServer::set_owner_check`] a token is accepted for a
//! repository only when the check says it serves the repository's owner (the first segment of
//! the path: repositories named `orgA/x` and `orgB/y` belong to two organisations), as GitHub
//! accepts an installation token only for its installation's repositories. With
//! [`GitServer::set_scope_check`] a narrowed token is held to what it carries, as GitHub holds
//! it: `contents:read` to clone and fetch, `contents:write` to push (`git-receive-pack`), and
//! only the repositories it names; a refusal is `403` (GitHub's "Permission to … denied"), which
//! git reports without asking for other credentials. Anything else gets `401` with `WWW-Authenticate: Basic
//! realm="test"`. Every decision is kept ([`GitServer::decisions`]) with the password shown only
//! as its last 4 characters, and printed on stderr when `MOCK_GIT_LOG` is set and not empty.
//!
//! HTTP/1.1 with keep-alive, one thread per connection (at most [`MAX_CONNS`] at once), over
//! rustls (or plain TCP with [`GitServer::start_plain`]). Dropping the server stops it.
//!
//! Reached as `support::git_server` in the tests and through a `#[path]` include in
//! `examples/git-server.rs`; it uses only std and crates of the package (rustls, ring,
//! serde_json, tempfile).
#![allow(dead_code)] // an API for the tests and the example; each uses a part of it

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Says whether an `x-access-token` password is a live token.
pub type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Says whether an `x-access-token` password serves the repositories of an owner (token, owner).
pub type OwnerCheck = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// Says whether an `x-access-token` password may use the `contents` permission at a level
/// (`read`, `write`) on a repository: (token, owner, repository name, level).
pub type ScopeCheck = Arc<dyn Fn(&str, &str, &str, &str) -> bool + Send + Sync>;

/// Most connections served at once; the accept loop waits for a free slot beyond that.
pub const MAX_CONNS: usize = 64;

/// A connection silent this long (idle between requests, or mid-request) is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Largest LFS batch request body accepted.
const MAX_BATCH: usize = 1024 * 1024;

/// The user name of installation tokens.
pub const TOKEN_USER: &str = "x-access-token";

/// One authorisation decision, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub method: String,
    /// The request path, without the query.
    pub path: String,
    /// The Basic user name, `None` when the request had no (readable) Basic credentials.
    pub user: Option<String>,
    /// The last 4 characters of the password (never more).
    pub password_tail: Option<String>,
    pub accepted: bool,
    /// Why: "token", "pat" (accepted); "no credentials", "malformed credentials",
    /// "token refused", "token of another owner", [`OUT_OF_SCOPE`], "wrong pat", "unknown user",
    /// "refusing all"
    /// (refused).
    pub reason: &'static str,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} user={} password=…{} -> {} ({})",
            self.method,
            self.path,
            self.user.as_deref().unwrap_or("-"),
            self.password_tail.as_deref().unwrap_or(""),
            if self.accepted { "accepted" } else { "refused" },
            self.reason
        )
    }
}

/// The last 4 characters of a secret, all that is ever shown of it.
pub fn tail(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

struct Auth {
    check: TokenCheck,
    owner_check: Option<OwnerCheck>,
    scope_check: Option<ScopeCheck>,
    pat: Option<(String, String)>,
    refuse_all: bool,
    decisions: Vec<Decision>,
}

struct Inner {
    auth: Mutex<Auth>,
    /// GIT_PROJECT_ROOT: the bare repositories
    repos: PathBuf,
    /// LFS objects, one directory per repository
    lfs: PathBuf,
    /// HOME of the git processes the server runs
    home: PathBuf,
    backend: PathBuf,
    base_url: String,
    port: u16,
    log: AtomicBool,
    stopping: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    /// live connection threads, and the signal that one ended
    active: Mutex<usize>,
    freed: Condvar,
}

/// A mutex's guard, poisoned or not: a panicking connection thread must not break the server.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running server; dropping it stops it and removes its repositories.
pub struct GitServer {
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
    dir: tempfile::TempDir,
}

impl GitServer {
    /// An HTTPS server on 127.0.0.1 (random port) with this TLS configuration (its ALPN is set
    /// to http/1.1), accepting `x-access-token` with a token `check` approves, and `pat`
    /// (user, password).
    pub fn start(
        tls: Arc<rustls::ServerConfig>,
        check: TokenCheck,
        pat: Option<(&str, &str)>,
    ) -> GitServer {
        Self::start_on(0, Some(tls), check, pat).expect("cannot start the git server")
    }

    /// The same over plain HTTP (`http://` URLs), for tests of the HTTP and CGI side alone.
    pub fn start_plain(check: TokenCheck, pat: Option<(&str, &str)>) -> GitServer {
        Self::start_on(0, None, check, pat).expect("cannot start the git server")
    }

    /// On 127.0.0.1:`port` (0 = random), HTTPS when `tls` is given.
    pub fn start_on(
        port: u16,
        tls: Option<Arc<rustls::ServerConfig>>,
        check: TokenCheck,
        pat: Option<(&str, &str)>,
    ) -> io::Result<GitServer> {
        let backend = git_exec_path()?.join("git-http-backend");
        if !backend.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no git-http-backend at {}", backend.display()),
            ));
        }
        let tls = tls.map(|config| {
            let mut config = (*config).clone();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        });
        let dir = tempfile::Builder::new().prefix("git-server").tempdir()?;
        let (repos, lfs, home) = (
            dir.path().join("repos"),
            dir.path().join("lfs"),
            dir.path().join("home"),
        );
        for d in [&repos, &lfs, &home] {
            std::fs::create_dir_all(d)?;
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let port = listener.local_addr()?.port();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let inner = Arc::new(Inner {
            auth: Mutex::new(Auth {
                check,
                owner_check: None,
                scope_check: None,
                pat: pat.map(|(u, p)| (u.to_string(), p.to_string())),
                refuse_all: false,
                decisions: Vec::new(),
            }),
            repos,
            lfs,
            home,
            backend,
            base_url: format!("{scheme}://127.0.0.1:{port}"),
            port,
            log: AtomicBool::new(std::env::var_os("MOCK_GIT_LOG").is_some_and(|v| !v.is_empty())),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            active: Mutex::new(0),
            freed: Condvar::new(),
        });
        let for_thread = Arc::clone(&inner);
        let accept = thread::Builder::new()
            .name(format!("git-server-accept-{port}"))
            .spawn(move || accept_loop(listener, for_thread, tls))?;
        Ok(GitServer {
            inner,
            accept: Some(accept),
            dir,
        })
    }

    /// `https://127.0.0.1:PORT` (or `http://` from [`GitServer::start_plain`]).
    pub fn url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// `127.0.0.1:PORT`, the host in git's credential requests.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.inner.port)
    }

    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// The clone URL of repository `name` (`URL/NAME.git`).
    pub fn repo_url(&self, name: &str) -> String {
        format!("{}/{name}.git", self.inner.base_url)
    }

    /// The directory of bare repository `name` (`NAME.git` under the project root).
    pub fn bare_path(&self, name: &str) -> PathBuf {
        self.inner.repos.join(format!("{name}.git"))
    }

    /// A new empty bare repository `name` (default branch `main`, pushes allowed); its URL.
    pub fn create_bare(&self, name: &str) -> String {
        let path = self.bare_path(name);
        self.git(
            &self.inner.repos,
            &["init", "--quiet", "--bare", "-b", "main"],
        )
        .arg(&path)
        .status()
        .map(|s| assert!(s.success(), "git init --bare {name} failed"))
        .expect("cannot run git");
        self.run_git(&path, &["config", "http.receivepack", "true"], None);
        self.repo_url(name)
    }

    /// A new bare repository `name` whose `main` holds one commit with these files (paths may
    /// contain `/`); its URL.
    pub fn create_bare_with(&self, name: &str, files: &[(&str, &str)]) -> String {
        let url = self.create_bare(name);
        let path = self.bare_path(name);
        let index = self
            .dir
            .path()
            .join(format!("index-{}", name.replace('/', "-")));
        let index_env = [("GIT_INDEX_FILE", index.as_os_str())];
        for (file, contents) in files {
            let oid = self.run_git(&path, &["hash-object", "-w", "--stdin"], Some(contents));
            let cacheinfo = format!("100644,{oid},{file}");
            let mut c = self.git(&path, &["update-index", "--add", "--cacheinfo", &cacheinfo]);
            c.envs(index_env);
            assert!(c.status().unwrap().success(), "git update-index failed");
        }
        let mut c = self.git(&path, &["write-tree"]);
        c.envs(index_env);
        let tree = output(c);
        let commit = self.run_git(&path, &["commit-tree", &tree, "-m", "initial commit"], None);
        self.run_git(&path, &["update-ref", "refs/heads/main", &commit], None);
        let _ = std::fs::remove_file(index);
        url
    }

    /// A git command in `dir` isolated from the user's configuration, fixed identity and dates.
    fn git(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(&super::test_git().program);
        c.env_clear()
            .env("PATH", super::test_git::path())
            .env("HOME", &self.inner.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Git Server")
            .env("GIT_AUTHOR_EMAIL", "git-server@example.invalid")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_NAME", "Git Server")
            .env("GIT_COMMITTER_EMAIL", "git-server@example.invalid")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .current_dir(dir)
            .args(args);
        c
    }

    /// Run git in `dir` (stdin from `input`), assert success, return stdout trimmed.
    fn run_git(&self, dir: &Path, args: &[&str], input: Option<&str>) -> String {
        let mut c = self.git(dir, args);
        let Some(input) = input else {
            return output(c);
        };
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot run git");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Every decision so far, oldest first.
    pub fn decisions(&self) -> Vec<Decision> {
        lock(&self.inner.auth).decisions.clone()
    }

    /// Forget the decisions so far.
    pub fn clear_decisions(&self) {
        lock(&self.inner.auth).decisions.clear();
    }

    /// Requests accepted for `user` (`None`: without credentials, never accepted).
    pub fn accepted(&self, user: Option<&str>) -> usize {
        self.count(user, true)
    }

    /// Requests refused for `user` (`None`: those without credentials).
    pub fn refused(&self, user: Option<&str>) -> usize {
        self.count(user, false)
    }

    fn count(&self, user: Option<&str>, accepted: bool) -> usize {
        lock(&self.inner.auth)
            .decisions
            .iter()
            .filter(|d| d.accepted == accepted && d.user.as_deref() == user)
            .count()
    }

    /// Accept this operator PAT (user, password) from now on, or none.
    pub fn set_pat(&self, pat: Option<(&str, &str)>) {
        lock(&self.inner.auth).pat = pat.map(|(u, p)| (u.to_string(), p.to_string()));
    }

    /// Replace the token check.
    pub fn set_token_check(&self, check: TokenCheck) {
        lock(&self.inner.auth).check = check;
    }

    /// From now on a live token is accepted for a repository only when `check(token, owner)`
    /// says it serves the owner (the path's first segment); `None`: any live token for any path.
    pub fn set_owner_check(&self, check: Option<OwnerCheck>) {
        lock(&self.inner.auth).owner_check = check;
    }

    /// From now on a live token is held to its narrowed scope: `check(token, owner, repo,
    /// level)` for the `contents` permission (`write` to push); refused with 403.
    pub fn set_scope_check(&self, check: Option<ScopeCheck>) {
        lock(&self.inner.auth).scope_check = check;
    }

    /// Refuse every request (tokens and PAT alike) while on.
    pub fn refuse_all(&self, on: bool) {
        lock(&self.inner.auth).refuse_all = on;
    }

    /// Print each decision on stderr (initially on when MOCK_GIT_LOG is set and not empty).
    pub fn set_log(&self, on: bool) {
        self.inner.log.store(on, Ordering::Relaxed);
    }

    /// The oids of the LFS objects stored for repository `name`, sorted.
    pub fn lfs_objects(&self, name: &str) -> Vec<String> {
        let dir = self.inner.lfs.join(format!("{name}.git"));
        let mut oids: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| is_oid(n))
                    .collect()
            })
            .unwrap_or_default();
        oids.sort();
        oids
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.freed.notify_all();
        for conn in lock(&self.inner.conns).values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
        // Wake the accept loop.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.inner.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn git_exec_path() -> io::Result<PathBuf> {
    // http-backend of the git the tests drive.
    let out = Command::new(&super::test_git().program)
        .arg("--exec-path")
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other("git --exec-path failed"));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn output(mut c: Command) -> String {
    let out = c.stderr(Stdio::inherit()).output().expect("cannot run git");
    assert!(out.status.success(), "{c:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>, tls: Option<Arc<rustls::ServerConfig>>) {
    loop {
        {
            let mut active = lock(&inner.active);
            while *active >= MAX_CONNS && !inner.stopping.load(Ordering::SeqCst) {
                active = inner.freed.wait(active).unwrap_or_else(|e| e.into_inner());
            }
        }
        let Ok((stream, _)) = listener.accept() else {
            if inner.stopping.load(Ordering::SeqCst) {
                return;
            }
            continue;
        };
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let id = inner.next_conn.fetch_add(1, Ordering::Relaxed);
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
        let _ = stream.set_nodelay(true);
        lock(&inner.conns).insert(id, clone);
        *lock(&inner.active) += 1;
        let for_conn = Arc::clone(&inner);
        let tls = tls.clone();
        let spawned = thread::Builder::new()
            .name(format!("git-server-conn-{id}"))
            .spawn(move || {
                let inner = for_conn;
                let stream: Box<dyn Stream> = match tls {
                    Some(config) => match rustls::ServerConnection::new(config) {
                        Ok(conn) => Box::new(Tls(rustls::StreamOwned::new(conn, stream))),
                        Err(_) => Box::new(Closed),
                    },
                    None => Box::new(Plain(stream)),
                };
                serve(&inner, stream);
                lock(&inner.conns).remove(&id);
                *lock(&inner.active) -= 1;
                inner.freed.notify_all();
            });
        if spawned.is_err() {
            lock(&inner.conns).remove(&id);
            *lock(&inner.active) -= 1;
        }
    }
}

/// A connection's byte stream: TLS or plain.
trait Stream: Read + Write + Send {
    /// Say goodbye before the socket closes (TLS close_notify).
    fn close(&mut self) {}
}

struct Plain(TcpStream);
struct Tls(rustls::StreamOwned<rustls::ServerConnection, TcpStream>);
/// A connection that could not be set up.
struct Closed;

impl Read for Plain {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}
impl Write for Plain {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
impl Stream for Plain {}

impl Read for Tls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}
impl Write for Tls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
impl Stream for Tls {
    fn close(&mut self) {
        self.0.conn.send_close_notify();
        let _ = self.0.flush();
    }
}

impl Read for Closed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}
impl Write for Closed {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
impl Stream for Closed {}

type Conn = BufReader<Box<dyn Stream>>;

/// A request head.
struct Head {
    method: String,
    path: String,
    query: String,
    http10: bool,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The client wants the connection closed after this request.
    fn wants_close(&self) -> bool {
        match self.header("connection") {
            Some(v) => v.eq_ignore_ascii_case("close"),
            None => self.http10,
        }
    }
}

/// Serve requests on one connection until either side closes it.
fn serve(inner: &Inner, stream: Box<dyn Stream>) {
    let mut conn: Conn = BufReader::with_capacity(64 * 1024, stream);
    while !inner.stopping.load(Ordering::SeqCst) {
        let head = match read_head(&mut conn) {
            Ok(Some(head)) => head,
            Ok(None) => break,
            Err(_) => {
                let _ = respond(&mut conn, 400, "text/plain", b"bad request\n", &[], true);
                break;
            }
        };
        match handle(inner, &mut conn, &head) {
            Ok(true) if !head.wants_close() => continue,
            _ => break,
        }
    }
    conn.get_mut().close();
}

/// The next request head; `None` when the client closed the connection between requests.
fn read_head(conn: &mut Conn) -> io::Result<Option<Head>> {
    let mut lines = Vec::new();
    let mut size = 0;
    loop {
        let mut line = Vec::new();
        let n = conn.by_ref().take(8192).read_until(b'\n', &mut line)?;
        if n == 0 {
            return if lines.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        size += n;
        if size > MAX_HEAD || !line.ends_with(b"\n") {
            return Err(io::ErrorKind::InvalidData.into());
        }
        let line = String::from_utf8(line)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // tolerate blank lines before a request
            }
            break;
        }
        lines.push(line);
    }
    let mut request = lines[0].split(' ');
    let (Some(method), Some(target), Some(version)) =
        (request.next(), request.next(), request.next())
    else {
        return Err(io::ErrorKind::InvalidData.into());
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Some(Head {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        http10: version == "HTTP/1.0",
        headers,
    }))
}

/// Write a complete response with a body; `close` adds `Connection: close`.
fn respond(
    conn: &mut Conn,
    code: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
    close: bool,
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        reason(code),
        body.len()
    );
    if close {
        out.push_str("Connection: close\r\n");
    }
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    let stream = conn.get_mut();
    stream.write_all(&out)?;
    stream.flush()
}

fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        _ => "",
    }
}

/// Handle one request; Ok(true) when the connection may serve another.
fn handle(inner: &Inner, conn: &mut Conn, head: &Head) -> io::Result<bool> {
    let decision = authorize(inner, head);
    let (accepted, user) = (decision.accepted, decision.user.clone());
    let out_of_scope = decision.reason == OUT_OF_SCOPE;
    if inner.log.load(Ordering::Relaxed) {
        eprintln!("git server: {decision}");
    }
    lock(&inner.auth).decisions.push(decision);
    if !accepted {
        // A body stays unread: close the connection after the answer. Without one, keep it
        // (as real servers do), so the retry with credentials costs no new TLS handshake.
        let bodyless = matches!(Body::new(head), Ok(Body::Length(0)));
        if out_of_scope {
            respond(
                conn,
                403,
                "text/plain",
                b"Permission denied: the token's scope does not allow this\n",
                &[],
                !bodyless,
            )?;
            return Ok(bodyless);
        }
        respond(
            conn,
            401,
            "text/plain",
            b"authentication required\n",
            &[("WWW-Authenticate", "Basic realm=\"test\"")],
            !bodyless,
        )?;
        return Ok(bodyless);
    }
    if head
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let stream = conn.get_mut();
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        stream.flush()?;
    }
    let mut body = Body::new(head)?;
    let user = user.unwrap_or_default();
    let keep = if let Some((repo, rest)) = head.path.split_once("/info/lfs/") {
        lfs(inner, conn, head, &mut body, repo, rest)?
    } else {
        cgi(inner, conn, head, &mut body, &user)?
    };
    // Whatever the handler left of the body must go before the next request.
    Ok(keep && body.drain(conn).is_ok())
}

/// The decision on a request's credentials.
fn authorize(inner: &Inner, head: &Head) -> Decision {
    let credentials = head.header("authorization").map(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
            .and_then(|b64| base64_decode(b64.trim()))
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            })
    });
    let mut decision = Decision {
        method: head.method.clone(),
        path: head.path.clone(),
        user: None,
        password_tail: None,
        accepted: false,
        reason: "no credentials",
    };
    let (user, password) = match credentials {
        None => return decision,
        Some(None) => {
            decision.reason = "malformed credentials";
            return decision;
        }
        Some(Some(pair)) => pair,
    };
    decision.user = Some(user.clone());
    decision.password_tail = Some(tail(&password));
    let (check, owner_check, scope_check, pat, refuse_all) = {
        let auth = lock(&inner.auth);
        (
            Arc::clone(&auth.check),
            auth.owner_check.clone(),
            auth.scope_check.clone(),
            auth.pat.clone(),
            auth.refuse_all,
        )
    };
    let repo = head
        .path
        .trim_start_matches('/')
        .split('/')
        .nth(1)
        .unwrap_or("")
        .trim_end_matches(".git");
    let push =
        head.path.ends_with("/git-receive-pack") || head.query.contains("service=git-receive-pack");
    let level = if push { "write" } else { "read" };
    let owner = head
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let is_pat = pat.as_ref().is_some_and(|(u, _)| *u == user);
    decision.reason = if refuse_all {
        "refusing all"
    } else if is_pat {
        if pat.as_ref().is_some_and(|(_, p)| *p == password) {
            "pat"
        } else {
            "wrong pat"
        }
    } else if user == TOKEN_USER {
        // Called without the lock: it may ask the mock platform.
        if !check(&password) {
            "token refused"
        } else if owner_check.is_some_and(|serves| !serves(&password, owner)) {
            "token of another owner"
        } else if scope_check.is_some_and(|allows| !allows(&password, owner, repo, level)) {
            OUT_OF_SCOPE
        } else {
            "token"
        }
    } else {
        "unknown user"
    };
    decision.accepted = matches!(decision.reason, "token" | "pat");
    decision
}

/// The reason of a refusal by [`ScopeCheck`] (answered 403).
pub const OUT_OF_SCOPE: &str = "outside the token's scope";

/// A request body: by Content-Length, chunked, or none.
enum Body {
    Length(u64),
    Chunked { left: u64, done: bool },
}

impl Body {
    fn new(head: &Head) -> io::Result<Body> {
        if head
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            return Ok(Body::Chunked {
                left: 0,
                done: false,
            });
        }
        match head.header("content-length") {
            None => Ok(Body::Length(0)),
            Some(v) => v
                .parse()
                .map(Body::Length)
                .map_err(|_| io::ErrorKind::InvalidData.into()),
        }
    }

    /// The length when the client said it.
    fn length(&self) -> Option<u64> {
        match self {
            Body::Length(n) => Some(*n),
            Body::Chunked { .. } => None,
        }
    }

    /// Read some of the body into `buf` (0 at its end).
    fn read(&mut self, conn: &mut Conn, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Length(0) => Ok(0),
            Body::Length(left) => {
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = conn.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                Ok(n)
            }
            Body::Chunked { done: true, .. } => Ok(0),
            Body::Chunked { left, done } => {
                if *left == 0 {
                    let size = chunk_size(conn)?;
                    if size == 0 {
                        // trailers, up to the blank line
                        while !read_line(conn)?.is_empty() {}
                        *done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = conn.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                if *left == 0 && !read_line(conn)?.is_empty() {
                    return Err(io::ErrorKind::InvalidData.into());
                }
                Ok(n)
            }
        }
    }

    /// Read and drop the rest.
    fn drain(&mut self, conn: &mut Conn) -> io::Result<()> {
        let mut buf = [0; 16 * 1024];
        while self.read(conn, &mut buf)? > 0 {}
        Ok(())
    }

    /// The rest, at most `max` bytes.
    fn read_all(&mut self, conn: &mut Conn, max: usize) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut buf = [0; 16 * 1024];
        loop {
            let n = self.read(conn, &mut buf)?;
            if n == 0 {
                return Ok(all);
            }
            all.extend_from_slice(&buf[..n]);
            if all.len() > max {
                return Err(io::ErrorKind::InvalidData.into());
            }
        }
    }
}

fn read_line(conn: &mut Conn) -> io::Result<String> {
    let mut line = Vec::new();
    conn.by_ref().take(4096).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(io::ErrorKind::InvalidData.into());
    }
    String::from_utf8(line)
        .map(|l| l.trim_end_matches(['\r', '\n']).to_string())
        .map_err(|_| io::ErrorKind::InvalidData.into())
}

fn chunk_size(conn: &mut Conn) -> io::Result<u64> {
    let line = read_line(conn)?;
    let hex = line.split(';').next().unwrap_or("").trim();
    u64::from_str_radix(hex, 16).map_err(|_| io::ErrorKind::InvalidData.into())
}

/// Run `git http-backend` for this request: the body to its stdin, its answer back chunked.
fn cgi(
    inner: &Inner,
    conn: &mut Conn,
    head: &Head,
    body: &mut Body,
    user: &str,
) -> io::Result<bool> {
    let mut c = Command::new(&inner.backend);
    c.env_clear()
        .env("PATH", super::test_git::path())
        .env("HOME", &inner.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &inner.repos)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("SERVER_SOFTWARE", "molecule-test-git-server")
        .env("SERVER_NAME", "127.0.0.1")
        .env("SERVER_PORT", inner.port.to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REMOTE_USER", user)
        .env("AUTH_TYPE", "Basic")
        .env("REQUEST_METHOD", &head.method)
        .env("SCRIPT_NAME", "")
        .env("PATH_INFO", &head.path)
        .env("QUERY_STRING", &head.query)
        .current_dir(&inner.home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(v) = head.header("content-type") {
        c.env("CONTENT_TYPE", v);
    }
    if let Some(n) = body.length() {
        c.env("CONTENT_LENGTH", n.to_string());
    }
    if let Some(v) = head.header("content-encoding") {
        c.env("HTTP_CONTENT_ENCODING", v);
    }
    if let Some(v) = head.header("git-protocol") {
        c.env("GIT_PROTOCOL", v).env("HTTP_GIT_PROTOCOL", v);
    }
    let mut child = c.spawn()?;
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // stdout and stderr drain on threads of their own, so that the child never blocks on them
    // while it is still being fed its stdin.
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let out_thread = thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let err_thread = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    // The body to the child's stdin; if the child stops reading, the rest is drained anyway.
    let mut buf = vec![0; 64 * 1024];
    let fed = loop {
        match body.read(conn, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Some(input) = stdin.as_mut()
                    && input.write_all(&buf[..n]).is_err()
                {
                    stdin = None;
                }
            }
            Err(e) => break Err(e),
        }
    };
    drop(stdin);
    if let Err(e) = fed {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }

    // The CGI head, then the body, relayed chunked.
    let mut pending = Vec::new();
    let mut head_end = None;
    for chunk in rx.iter() {
        pending.extend_from_slice(&chunk);
        if let Some(end) = cgi_head_end(&pending) {
            head_end = Some(end);
            break;
        }
    }
    let result = match head_end {
        None => {
            let _ = child.wait();
            let _ = out_thread.join();
            let stderr = err_thread.join().unwrap_or_default();
            if inner.log.load(Ordering::Relaxed) {
                eprintln!("git server: http-backend gave no CGI head: {stderr}");
            }
            respond(
                conn,
                500,
                "text/plain",
                b"git http-backend failed\n",
                &[],
                true,
            )?;
            return Ok(false);
        }
        Some((end, body_start)) => {
            let cgi_head = String::from_utf8_lossy(&pending[..end]).into_owned();
            let mut code = 200;
            let mut out = String::new();
            for line in cgi_head.lines().map(|l| l.trim_end_matches('\r')) {
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                let value = value.trim();
                if name.eq_ignore_ascii_case("status") {
                    code = value
                        .split(' ')
                        .next()
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(500);
                } else if !name.eq_ignore_ascii_case("content-length")
                    && !name.eq_ignore_ascii_case("transfer-encoding")
                    && !name.eq_ignore_ascii_case("connection")
                {
                    out.push_str(&format!("{name}: {value}\r\n"));
                }
            }
            let mut first = format!("HTTP/1.1 {code} {}\r\n", reason(code));
            first.push_str(&out);
            first.push_str("Transfer-Encoding: chunked\r\n\r\n");
            relay(conn, first.into_bytes(), &pending[body_start..], rx.iter())
        }
    };
    let _ = child.wait();
    let _ = out_thread.join();
    let stderr = err_thread.join().unwrap_or_default();
    if !stderr.trim().is_empty() && inner.log.load(Ordering::Relaxed) {
        eprintln!("git server: http-backend: {}", stderr.trim_end());
    }
    result.map(|()| true)
}

/// Where a CGI head ends: (end of the head, start of the body).
fn cgi_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    let lf = buf
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Write the response head, then `first` and every further chunk as HTTP chunks, then the end.
fn relay(
    conn: &mut Conn,
    head: Vec<u8>,
    first: &[u8],
    rest: impl Iterator<Item = Vec<u8>>,
) -> io::Result<()> {
    let stream = conn.get_mut();
    let mut out = head;
    let add_chunk = |out: &mut Vec<u8>, data: &[u8]| {
        if !data.is_empty() {
            out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
    };
    add_chunk(&mut out, first);
    stream.write_all(&out)?;
    for data in rest {
        out.clear();
        add_chunk(&mut out, &data);
        stream.write_all(&out)?;
    }
    stream.write_all(b"0\r\n\r\n")?;
    stream.flush()
}

const LFS_JSON: &str = "application/vnd.git-lfs+json";

fn is_oid(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The git-lfs endpoints under `REPO/info/lfs/` (`repo` begins with `/`).
fn lfs(
    inner: &Inner,
    conn: &mut Conn,
    head: &Head,
    body: &mut Body,
    repo: &str,
    rest: &str,
) -> io::Result<bool> {
    let repo_name = repo.trim_start_matches('/');
    let known = !repo_name.is_empty()
        && !repo_name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        && inner.repos.join(repo_name).is_dir();
    if !known {
        respond(
            conn,
            404,
            LFS_JSON,
            br#"{"message":"no such repository"}"#,
            &[],
            false,
        )?;
        return Ok(true);
    }
    let store = inner.lfs.join(repo_name.replace('/', "%2F"));
    match (head.method.as_str(), rest) {
        ("POST", "objects/batch") => {
            let Ok(request) = body.read_all(conn, MAX_BATCH) else {
                respond(
                    conn,
                    413,
                    LFS_JSON,
                    br#"{"message":"too large"}"#,
                    &[],
                    true,
                )?;
                return Ok(false);
            };
            let (code, answer) = match lfs_batch(inner, repo, &store, &request) {
                Ok(answer) => (200, answer),
                Err(message) => (422, serde_json::json!({ "message": message })),
            };
            respond(
                conn,
                code,
                LFS_JSON,
                answer.to_string().as_bytes(),
                &[],
                false,
            )?;
        }
        ("POST", "locks/verify") => {
            body.drain(conn)?;
            respond(
                conn,
                200,
                LFS_JSON,
                br#"{"ours":[],"theirs":[]}"#,
                &[],
                false,
            )?;
        }
        ("PUT", object) if object.strip_prefix("objects/").is_some_and(is_oid) => {
            let oid = &object["objects/".len()..];
            match lfs_put(conn, body, &store, oid) {
                Ok(true) => respond(conn, 200, LFS_JSON, b"{}", &[], false)?,
                Ok(false) => respond(
                    conn,
                    422,
                    LFS_JSON,
                    br#"{"message":"the content does not match the oid"}"#,
                    &[],
                    false,
                )?,
                Err(e) => return Err(e),
            }
        }
        ("GET", object) if object.strip_prefix("objects/").is_some_and(is_oid) => {
            let oid = &object["objects/".len()..];
            match std::fs::read(store.join(oid)) {
                Ok(data) => respond(conn, 200, "application/octet-stream", &data, &[], false)?,
                Err(_) => respond(
                    conn,
                    404,
                    LFS_JSON,
                    br#"{"message":"not found"}"#,
                    &[],
                    false,
                )?,
            }
        }
        _ => {
            body.drain(conn)?;
            respond(
                conn,
                404,
                LFS_JSON,
                br#"{"message":"not found"}"#,
                &[],
                false,
            )?;
        }
    }
    Ok(true)
}

/// Answer a batch request: basic transfers, hrefs back to this server.
fn lfs_batch(
    inner: &Inner,
    repo: &str,
    store: &Path,
    request: &[u8],
) -> Result<serde_json::Value, String> {
    use serde_json::{Value, json};
    let request: Value = serde_json::from_slice(request).map_err(|e| e.to_string())?;
    let operation = request["operation"].as_str().unwrap_or("");
    if operation != "upload" && operation != "download" {
        return Err(format!("unknown operation {operation:?}"));
    }
    let objects = request["objects"].as_array().ok_or("no objects")?;
    let mut answers = Vec::new();
    for object in objects {
        let oid = object["oid"].as_str().unwrap_or("");
        let size = object["size"].as_u64().unwrap_or(0);
        if !is_oid(oid) {
            answers.push(json!({
                "oid": oid, "size": size,
                "error": { "code": 422, "message": "invalid oid" }
            }));
            continue;
        }
        let href = format!("{}{repo}/info/lfs/objects/{oid}", inner.base_url);
        let stored = std::fs::metadata(store.join(oid)).ok().map(|m| m.len());
        let answer = match (operation, stored) {
            ("upload", Some(n)) if n == size => json!({ "oid": oid, "size": size }),
            ("upload", _) => json!({
                "oid": oid, "size": size, "authenticated": false,
                "actions": { "upload": { "href": href, "expires_in": 3600 } }
            }),
            (_, Some(n)) => json!({
                "oid": oid, "size": n, "authenticated": false,
                "actions": { "download": { "href": href, "expires_in": 3600 } }
            }),
            (_, None) => json!({
                "oid": oid, "size": size,
                "error": { "code": 404, "message": "object does not exist" }
            }),
        };
        answers.push(answer);
    }
    Ok(json!({ "transfer": "basic", "objects": answers, "hash_algo": "sha256" }))
}

/// Store an uploaded object if its content hashes to `oid`; Ok(false) when it does not.
fn lfs_put(conn: &mut Conn, body: &mut Body, store: &Path, oid: &str) -> io::Result<bool> {
    std::fs::create_dir_all(store)?;
    let mut file = tempfile::NamedTempFile::new_in(store)?;
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = body.read(conn, &mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        file.write_all(&buf[..n])?;
    }
    let digest: String = hash
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != oid {
        return Ok(false);
    }
    file.persist(store.join(oid)).map_err(|e| e.error)?;
    Ok(true)
}

/// Standard base64 (padding optional); `None` if malformed.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

//! A stateful mock of the Molecule platform's token endpoint, std only.
//!
//! `GET /admin/github-installation-token` with `Authorization: Bearer <bearer>`
//! answers with the next scripted [`Reply`] (FIFO), or the default reply once
//! the script is empty (initially [`Reply::Token`]). Any other path gets 404;
//! a wrong or missing bearer gets 401 without consuming the script.
//!
//! With [`MockPlatform::set_owners`] (`--owner ORG` in the example) it serves several GitHub App
//! installations, as a platform that implements `docs/platform-api.md`: `?owner=O` for a listed
//! owner gets a token minted for O and `"owner":"O"` in the answer, any other owner 404, no query
//! the first listed owner's token (the default installation). Without owners it ignores the query
//! (today's platform): every token serves every owner.
//!
//! Narrowed tokens (`docs/platform-api.md`): `?permissions=NAME:LEVEL,…&repositories=NAME,…`
//! gets a token that carries only those, and an answer that says so (`"permissions":{…,
//! "metadata":"read"}`, `"repositories":[…]`), as GitHub mints them. [`MockPlatform::set_narrowing`]
//! (`--narrowing ignore|wider` in the example) plays today's platform instead (the parameters
//! ignored, a full token, nothing said), or a faulty one (a full token, an answer wider than
//! asked). [`TokenChecker::allows`] tells the mock servers what a token may do.
//!
//! It runs on the hand-written server of `http_server.rs`, so that faults can
//! be injected at the byte level: one accept thread, one detached thread per
//! connection, `Connection: close` on every response.
//!
//! Used by integration tests (`mod support;` -> `support::mock_platform`) and
//! by `examples/mock-platform.rs` through `#[path]` (with `http_server.rs`
//! beside it), so it must not use any crate.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::http_server::{Conn, Head, Log, Mock, POLL, Shared, TooLarge, response_head};
// Part of this module's API since before the server was shared (the examples use less of it).
#[allow(unused_imports)]
pub use super::http_server::{
    IDLE_TIMEOUT, MAX_HEAD, Recorded, find, is_timeout, json_escape, reason,
};

/// The one path the platform serves tokens on.
pub const TOKEN_PATH: &str = "/admin/github-installation-token";

/// Pause between the partial write and the reset in [`Reply::ResetMidResponse`].
const RESET_PAUSE: Duration = Duration::from_millis(50);

/// What the mock answers to an authorised token request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 {"token": <fresh token>, "expires_at": <now + expires_in, RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ">}
    Token,
    /// 200 with a token that never expires: {"token": <fresh token>} (no expires_at key)
    TokenNoExpiry,
    /// 200 with {"token": <given token string, JSON-escaped>, "expires_at": <given, JSON-escaped, or omitted when None>}
    TokenWith {
        /// the token string, sent JSON-escaped (so CR, LF, NUL… survive the JSON)
        token: String,
        /// the expires_at string as given (not validated), or no key at all
        expires_at: Option<String>,
    },
    /// 200, Content-Type application/json, exactly this body
    Body(String),
    /// 200 with the given content type and body bytes (e.g. HTML, invalid UTF-8)
    BodyBytes {
        /// the Content-Type header value
        content_type: String,
        /// the body, sent as is
        body: Vec<u8>,
    },
    /// this status with a small JSON error body {"error":"<reason phrase, lower case>"} and extra headers
    /// (e.g. Retry-After); an extra header named like a default one (Content-Type…) replaces it.
    /// 1xx, 204 and 304 are sent with no body and no Content-Length.
    Status {
        /// the HTTP status code
        code: u16,
        /// extra response headers, in order
        headers: Vec<(String, String)>,
    },
    /// 3xx with a Location header and an empty body
    Redirect {
        /// the HTTP status code (301, 302, 303, 307, 308…)
        code: u16,
        /// the Location header value
        location: String,
    },
    /// write these bytes as the whole response, then close (FIN)
    Raw(Vec<u8>),
    /// sleep, then give the inner reply (the sleep is cut short when the mock is dropped)
    Delay(Duration, Box<Reply>),
    /// read the request and never answer (hold the socket until the client goes away or the mock is dropped)
    Hang,
    /// hold the request until the gate is opened ([`Gate::open`]), then give the inner reply
    Gated(Gate, Box<Reply>),
    /// 200 with Content-Length of the full body, then exactly the first `sent` bytes of a token JSON body,
    /// then hang like [`Reply::Hang`]. The body is padded (a "pad" key) when needed so that it is always
    /// longer than `sent`: the response is never complete. Its token is not recorded in `tokens()`.
    StallMidBody {
        /// how many body bytes to send before stalling
        sent: usize,
    },
    /// 200 headers (Content-Length of the full body) and the first half of a token JSON body, a 50 ms pause,
    /// then a TCP reset: the last byte of the request head is deliberately left unread, and on Linux
    /// `close()` with unread received data sends RST instead of FIN (RFC 2525 2.17), so the client's next
    /// read fails with ECONNRESET. Its token is not recorded in `tokens()`.
    ResetMidResponse,
    /// 200 JSON-looking body of exactly `size` bytes ({"token":"…","pad":"xxxx…"}), to test body caps;
    /// below the size of that object the body is its first `size` bytes (and the token is not recorded)
    Oversized(usize),
}

/// What a [`Reply::Gated`] request waits for: opened once, from any thread.
#[derive(Clone, Debug, Default)]
pub struct Gate(Arc<std::sync::atomic::AtomicBool>);

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Let every request held at this gate have its reply.
    pub fn open(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn is_open(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Reply {
    /// This status with the default small JSON error body and no extra headers.
    pub fn status(code: u16) -> Reply {
        Reply::Status {
            code,
            headers: vec![],
        }
    }
}

/// One request the mock received (any path, any bearer).
struct State {
    bearer: String,
    default: Reply,
    script: VecDeque<Reply>,
    expires_in: i64,
    requests: Vec<Recorded>,
    tokens: Vec<String>,
    ledger: Arc<Mutex<Ledger>>,
    /// the installations (owner logins), first = the default; empty: the query is ignored
    owners: Vec<String>,
    narrowing: Narrowing,
}

/// How the mock answers a request for a narrowed token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Narrowing {
    /// Mint what was asked, and say so (the extension).
    Honour,
    /// Ignore the parameters: a full token, and an answer that says nothing (today's platform).
    Ignore,
    /// A full token, with an answer that says more than was asked (a faulty platform).
    Wider,
}

/// What a token may do: `None` in a field is "not narrowed so" (everything).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// (name, level) pairs, as asked.
    pub permissions: Option<Vec<(String, String)>>,
    /// Repository names, as asked.
    pub repositories: Option<Vec<String>>,
}

impl Grant {
    /// What `?permissions=…&repositories=…` asks for; `None` when neither is there.
    fn asked(target: &str) -> Option<Grant> {
        let decode = |v: String| {
            v.replace("%3A", ":")
                .replace("%3a", ":")
                .replace("%2C", ",")
                .replace("%2c", ",")
        };
        let permissions = query_param(target, "permissions").map(decode).map(|v| {
            v.split(',')
                .filter_map(|p| p.split_once(':'))
                .map(|(n, l)| (n.to_string(), l.to_string()))
                .collect()
        });
        let repositories = query_param(target, "repositories")
            .map(decode)
            .map(|v| v.split(',').map(str::to_string).collect());
        let grant = Grant {
            permissions,
            repositories,
        };
        (grant != Grant::default()).then_some(grant)
    }

    /// Whether a token of this grant may use `permission` at `level` on `repo`.
    fn allows(&self, repo: &str, permission: &str, level: &str) -> bool {
        let rank = |l: &str| match l {
            "read" => 1,
            "write" => 2,
            "admin" => 3,
            _ => 0,
        };
        let repo_ok = self
            .repositories
            .as_ref()
            .is_none_or(|r| r.iter().any(|r| r.eq_ignore_ascii_case(repo)));
        let permission_ok = match &self.permissions {
            None => true,
            Some(p) => {
                (permission == "metadata" && level == "read")
                    || p.iter()
                        .any(|(n, l)| n == permission && rank(l) >= rank(level) && rank(level) > 0)
            }
        };
        repo_ok && permission_ok
    }

    /// `,"permissions":{…},"repositories":[…]` for an answer body.
    fn json(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.permissions {
            let items: Vec<String> = p
                .iter()
                .map(|(n, l)| format!("\"{}\":\"{}\"", json_escape(n), json_escape(l)))
                .collect();
            out.push_str(&format!(",\"permissions\":{{{}}}", items.join(",")));
        }
        if let Some(r) = &self.repositories {
            let items: Vec<String> = r
                .iter()
                .map(|n| format!("\"{}\"", json_escape(n)))
                .collect();
            out.push_str(&format!(",\"repositories\":[{}]", items.join(",")));
        }
        out
    }
}

/// What a token request is answered with beyond the token: the owner it names, what the token
/// carries (`None`: everything) and what the answer says it carries (`None`: nothing said).
#[derive(Clone, Debug, Default)]
struct Minting {
    owner: Option<String>,
    carried: Option<Grant>,
    said: Option<Grant>,
}

impl Minting {
    fn new(owner: Option<String>, asked: Option<Grant>, narrowing: Narrowing) -> Minting {
        let Some(asked) = asked else {
            return Minting {
                owner,
                ..Minting::default()
            };
        };
        let (carried, said) = match narrowing {
            Narrowing::Honour => {
                let mut said = asked.clone();
                if let Some(p) = &mut said.permissions
                    && !p.iter().any(|(n, _)| n == "metadata")
                {
                    p.push(("metadata".into(), "read".into()));
                }
                (Some(asked), Some(said))
            }
            Narrowing::Ignore => (None, None),
            Narrowing::Wider => {
                let mut said = asked;
                let p = said.permissions.get_or_insert_with(Vec::new);
                for (_, level) in p.iter_mut() {
                    *level = if level == "read" { "write" } else { "admin" }.into();
                }
                p.push(("administration".into(), "write".into()));
                if let Some(r) = &mut said.repositories {
                    r.push("every-other-repository".into());
                }
                (None, Some(said))
            }
        };
        Minting {
            owner,
            carried,
            said,
        }
    }
}

/// What the platform knows about the tokens it minted: when each expires (unix seconds, None for
/// never or unparsable) and which were revoked.
#[derive(Default)]
struct Ledger {
    /// token -> (expires_at, the owner whose installation it was minted for; None = every owner,
    /// what it carries; None = everything)
    minted: HashMap<String, MintedToken>,
    revoked: HashSet<String>,
}

impl Ledger {
    fn is_live(&self, token: &str) -> bool {
        match self.minted.get(token) {
            Some((expires, _, _)) => {
                !self.revoked.contains(token) && expires.is_none_or(|at| unix_now() < at)
            }
            None => false,
        }
    }

    fn serves(&self, token: &str, owner: &str) -> bool {
        self.is_live(token)
            && self.minted.get(token).is_some_and(|(_, minted_for, _)| {
                minted_for
                    .as_deref()
                    .is_none_or(|o| o.eq_ignore_ascii_case(owner))
            })
    }
}

/// A minted token: (expires_at, the owner it was minted for, what it carries).
type MintedToken = (Option<i64>, Option<String>, Option<Grant>);

fn lock_ledger(ledger: &Mutex<Ledger>) -> MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(|e| e.into_inner())
}

/// A cheap, cloneable view of the platform's tokens, usable from any thread (for example by a mock
/// GitHub API deciding whether a token is valid): it outlives the mock and sees later changes.
#[derive(Clone)]
pub struct TokenChecker {
    ledger: Arc<Mutex<Ledger>>,
}

impl TokenChecker {
    /// Minted by this platform, not revoked, and not past its expires_at.
    pub fn is_live(&self, token: &str) -> bool {
        lock_ledger(&self.ledger).is_live(token)
    }

    /// Live, and good for `owner`'s repositories: minted for that owner's installation (any case),
    /// or by a platform that ignores owners (every token serves every owner).
    pub fn serves(&self, token: &str, owner: &str) -> bool {
        lock_ledger(&self.ledger).serves(token, owner)
    }

    /// The owner `token` was minted for: `Some(None)` for a token of a platform that ignores
    /// owners, `None` for a token this platform never minted.
    pub fn owner_of(&self, token: &str) -> Option<Option<String>> {
        lock_ledger(&self.ledger)
            .minted
            .get(token)
            .map(|(_, owner, _)| owner.clone())
    }

    /// What `token` carries: `Some(None)` for a full token, `None` for one never minted.
    pub fn grant_of(&self, token: &str) -> Option<Option<Grant>> {
        lock_ledger(&self.ledger)
            .minted
            .get(token)
            .map(|(_, _, grant)| grant.clone())
    }

    /// Live, good for `owner`'s repositories, and narrowed to nothing that refuses `permission` at
    /// `level` (`read`, `write`) on `owner/repo`: what GitHub checks for a narrowed token.
    pub fn allows(
        &self,
        token: &str,
        owner: &str,
        repo: &str,
        permission: &str,
        level: &str,
    ) -> bool {
        let ledger = lock_ledger(&self.ledger);
        ledger.serves(token, owner)
            && ledger.minted.get(token).is_some_and(|(_, _, grant)| {
                grant
                    .as_ref()
                    .is_none_or(|g| g.allows(repo, permission, level))
            })
    }
}

/// The running mock; dropping it stops the server (at once, live connections included).
pub struct MockPlatform {
    mock: Mock<State>,
}

impl MockPlatform {
    /// Start on 127.0.0.1 with a random port, expecting `Authorization: Bearer <bearer>`; panics if it cannot bind.
    pub fn start(bearer: &str) -> MockPlatform {
        Self::start_on(0, bearer).expect("mock platform: cannot bind 127.0.0.1:0")
    }

    /// Start on 127.0.0.1:`port` (0 = random), expecting `Authorization: Bearer <bearer>`.
    pub fn start_on(port: u16, bearer: &str) -> io::Result<MockPlatform> {
        let state = State {
            bearer: bearer.to_string(),
            default: Reply::Token,
            script: VecDeque::new(),
            expires_in: 3600,
            requests: Vec::new(),
            tokens: Vec::new(),
            ledger: Arc::new(Mutex::new(Ledger::default())),
            owners: Vec::new(),
            narrowing: Narrowing::Honour,
        };
        let log = Log::from_env("mock platform", "MOCK_PLATFORM_LOG");
        let mock = Mock::start("mock-platform", port, state, log, handle)?;
        Ok(MockPlatform { mock })
    }

    /// The base URL, "http://127.0.0.1:PORT" (no trailing slash).
    pub fn url(&self) -> String {
        self.mock.server().url()
    }

    /// The full token URL, `url()` + TOKEN_PATH.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.url())
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.mock.server().port()
    }

    /// The bound address (127.0.0.1:PORT).
    pub fn addr(&self) -> SocketAddr {
        self.mock.server().addr()
    }

    /// Rotate the accepted bearer (takes effect for requests whose head is read from now on).
    pub fn set_bearer(&self, bearer: &str) {
        self.mock.state().bearer = bearer.to_string();
    }

    /// The reply used when the script is empty (initially `Reply::Token`).
    pub fn set_default(&self, reply: Reply) {
        self.mock.state().default = reply;
    }

    /// Serve one installation per owner in `owners` (the first is the default installation, for
    /// requests without `?owner=`); empty: ignore the query, as today's platform does.
    pub fn set_owners(&self, owners: &[&str]) {
        self.mock.state().owners = owners.iter().map(|o| o.to_string()).collect();
    }

    /// How a request for a narrowed token is answered (initially [`Narrowing::Honour`]).
    pub fn set_narrowing(&self, narrowing: Narrowing) {
        self.mock.state().narrowing = narrowing;
    }

    /// The query (after `?`) of every token request received, in order (`None`: none).
    pub fn requested_queries(&self) -> Vec<Option<String>> {
        self.mock
            .state()
            .requests
            .iter()
            .filter(|r| r.path == TOKEN_PATH)
            .map(|r| r.target.split_once('?').map(|(_, q)| q.to_string()))
            .collect()
    }

    /// The `owner` query of every token request received, in order (`None`: no query).
    pub fn requested_owners(&self) -> Vec<Option<String>> {
        self.mock
            .state()
            .requests
            .iter()
            .filter(|r| r.path == TOKEN_PATH)
            .map(|r| owner_query(&r.target))
            .collect()
    }

    /// Token requests received (the token path, any bearer).
    pub fn token_requests(&self) -> usize {
        self.requested_owners().len()
    }

    /// Queue a scripted reply: FIFO, each used once, by authorised token requests only.
    pub fn push(&self, reply: Reply) {
        self.mock.state().script.push_back(reply);
    }

    /// Scripted replies not used yet.
    pub fn pending(&self) -> usize {
        self.mock.state().script.len()
    }

    /// Drop every scripted reply not used yet.
    pub fn clear_script(&self) {
        self.mock.state().script.clear();
    }

    /// Lifetime of `Reply::Token` tokens in seconds (default 3600); may be negative (already expired).
    pub fn set_expires_in(&self, secs: i64) {
        self.mock.state().expires_in = secs;
    }

    /// Requests received (any path, any bearer), counted when the request head has been read.
    pub fn count(&self) -> usize {
        self.mock.state().requests.len()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.mock.state().requests.clone()
    }

    /// Every token string this mock has put in a complete response body, in order
    /// (recorded just before the body is written).
    pub fn tokens(&self) -> Vec<String> {
        self.mock.state().tokens.clone()
    }

    /// Revoke `token` (as GitHub does when an installation token is revoked): `is_live` is false
    /// from now on. The scripted replies are not affected.
    pub fn revoke(&self, token: &str) {
        let ledger = Arc::clone(&self.mock.state().ledger);
        lock_ledger(&ledger).revoked.insert(token.to_string());
    }

    /// `token` was handed out by this mock, has not been revoked, and is not past its expires_at
    /// (a token sent without expires_at, or with one that does not parse, lives until revoked).
    pub fn is_live(&self, token: &str) -> bool {
        self.checker().is_live(token)
    }

    /// A cloneable handle answering `is_live` from any thread.
    pub fn checker(&self) -> TokenChecker {
        TokenChecker {
            ledger: Arc::clone(&self.mock.state().ledger),
        }
    }

    /// The last entry of `tokens()`.
    pub fn last_token(&self) -> Option<String> {
        self.mock.state().tokens.last().cloned()
    }

    /// When on, one line per request on stderr: "mock platform: GET /path -> 200" (never the bearer or
    /// token). Initially on only when the environment variable MOCK_PLATFORM_LOG is set and not empty.
    pub fn set_log(&self, on: bool) {
        self.mock.log().set(on);
    }

    /// Wait until at least `n` requests have been counted; false if `timeout` passed first.
    pub fn wait_for_count(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.count() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A 200 head announcing all of `body`, then only its first `sent` bytes.
fn write_partial_200(conn: &mut Conn<'_>, body: &str, sent: usize) -> bool {
    conn.write(&response_head(
        200,
        "application/json",
        Some(body.len()),
        &[],
    )) && conn.write(&body.as_bytes()[..sent])
}

fn handle(shared: &Shared<State>, mut conn: Conn<'_>, head: Result<Head, TooLarge>) {
    let Ok(head) = head else {
        let body = error_body(431);
        conn.write(&response_head(
            431,
            "application/json",
            Some(body.len()),
            &[],
        ));
        conn.write(body.as_bytes());
        // Unread request bytes are left: this close may well be a reset. It is a fault anyway.
        return;
    };
    let recorded = head.record();
    // Decide under the lock, together with the recording, so count() and the script stay consistent.
    let reply = {
        let mut state = shared.state();
        state.requests.push(recorded);
        if !head.valid {
            Err(400)
        } else if head.path != TOKEN_PATH {
            Err(404)
        } else {
            let expected = format!("Bearer {}", state.bearer);
            if head.header("authorization") != Some(expected.as_str()) {
                Err(401)
            } else {
                match installation(&state.owners, owner_query(&head.target)) {
                    Some(owner) => Ok((
                        state
                            .script
                            .pop_front()
                            .unwrap_or_else(|| state.default.clone()),
                        Minting::new(owner, Grant::asked(&head.target), state.narrowing),
                    )),
                    None => Err(404),
                }
            }
        }
    };
    let method = head.method.as_str();
    let path = head.path.as_str();
    match reply {
        Err(code) => {
            shared.log.line(method, path, &code.to_string());
            if !conn.consume_head() {
                return;
            }
            let message = match code {
                401 => "invalid bearer",
                404 if path == TOKEN_PATH => "the GitHub App is not installed for this owner",
                404 => "not found",
                _ => "bad request",
            };
            let body = format!("{{\"error\":\"{message}\"}}");
            if conn.write(&response_head(
                code,
                "application/json",
                Some(body.len()),
                &[],
            )) && conn.write(body.as_bytes())
            {
                conn.finish();
            }
        }
        Ok((reply, owner)) => serve(shared, conn, reply, &owner, method, path),
    }
}

/// The value of `owner=` in a request target's query, percent-decoding nothing (a login needs
/// none).
fn owner_query(target: &str) -> Option<String> {
    query_param(target, "owner")
}

/// The value of `name=` in a request target's query, as sent.
fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .map(str::to_string)
}

/// Which installation answers: `Some(None)` when the platform ignores owners, `Some(Some(o))` for
/// a listed owner (the first when none was asked for), `None` (404) for an owner not listed.
fn installation(owners: &[String], asked: Option<String>) -> Option<Option<String>> {
    if owners.is_empty() {
        return Some(None);
    }
    match asked {
        None => Some(owners.first().cloned()),
        Some(asked) => owners
            .iter()
            .find(|o| o.eq_ignore_ascii_case(&asked))
            .map(|o| Some(o.clone())),
    }
}

fn serve(
    shared: &Shared<State>,
    mut conn: Conn<'_>,
    reply: Reply,
    owner: &Minting,
    method: &str,
    path: &str,
) {
    if let Reply::Gated(gate, inner) = reply {
        while !gate.is_open() {
            if conn.stopping() {
                return;
            }
            thread::sleep(POLL);
        }
        return serve(shared, conn, *inner, owner, method, path);
    }
    if let Reply::Delay(delay, inner) = reply {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if conn.stopping() {
                return;
            }
            thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
        return serve(shared, conn, *inner, owner, method, path);
    }
    if let Reply::ResetMidResponse = reply {
        // Deliberately leave the last byte(s) of the request head unread.
        shared.log.line(method, path, "200 (reset mid-body)");
        let body = token_body(
            &new_token(),
            Some(&expires_at_in(shared.state().expires_in)),
        );
        if write_partial_200(&mut conn, &body, body.len() / 2) {
            thread::sleep(RESET_PAUSE);
        }
        // Dropping `conn` closes the socket with unread data: RST on Linux.
        return;
    }
    if !conn.consume_head() {
        return;
    }
    let (code, content_type, body, extra): (u16, String, Vec<u8>, Vec<(String, String)>) =
        match reply {
            Reply::Token => {
                let token = new_token();
                let expires_at = expires_at_in(shared.state().expires_in);
                let body = owned(token_body(&token, Some(&expires_at)), owner);
                mint_for(shared, token, parse_rfc3339(&expires_at), owner);
                (200, json(), body.into_bytes(), vec![])
            }
            Reply::TokenNoExpiry => {
                let token = new_token();
                let body = owned(token_body(&token, None), owner);
                mint_for(shared, token, None, owner);
                (200, json(), body.into_bytes(), vec![])
            }
            Reply::TokenWith { token, expires_at } => {
                let body = owned(token_body(&token, expires_at.as_deref()), owner);
                let at = expires_at.as_deref().and_then(parse_rfc3339);
                mint_for(shared, token, at, owner);
                (200, json(), body.into_bytes(), vec![])
            }
            Reply::Body(body) => (200, json(), body.into_bytes(), vec![]),
            Reply::BodyBytes { content_type, body } => (200, content_type, body, vec![]),
            Reply::Status { code, headers } => {
                let body = if has_body(code) {
                    error_body(code).into_bytes()
                } else {
                    Vec::new()
                };
                (code, json(), body, headers)
            }
            Reply::Redirect { code, location } => (
                code,
                json(),
                Vec::new(),
                vec![("Location".to_string(), location)],
            ),
            Reply::Raw(bytes) => {
                shared.log.line(method, path, "raw");
                if conn.write(&bytes) {
                    conn.finish();
                }
                return;
            }
            Reply::Hang => {
                shared.log.line(method, path, "hang");
                conn.hang();
                return;
            }
            Reply::StallMidBody { sent } => {
                shared.log.line(
                    method,
                    path,
                    &format!("200 (stall after {sent} body bytes)"),
                );
                let token = new_token();
                let expires_at = expires_at_in(shared.state().expires_in);
                let mut body = token_body(&token, Some(&expires_at));
                if body.len() <= sent {
                    body = padded_body(&token, sent + 64);
                }
                if write_partial_200(&mut conn, &body, sent) {
                    conn.hang();
                }
                return;
            }
            Reply::Oversized(size) => {
                let token = new_token();
                let body = padded_body(&token, size);
                if body.contains(&token) {
                    mint(shared, token, None);
                }
                (200, json(), body.into_bytes(), vec![])
            }
            Reply::Delay(..) | Reply::Gated(..) | Reply::ResetMidResponse => {
                unreachable!("handled above")
            }
        };
    shared.log.line(method, path, &code.to_string());
    let length = has_body(code).then_some(body.len());
    if conn.write(&response_head(code, &content_type, length, &extra))
        && (body.is_empty() || conn.write(&body))
    {
        conn.finish();
    }
}

/// Record `token` as handed out, expiring at `expires_at` (unix seconds; None = never).
fn mint(shared: &Shared<State>, token: String, expires_at: Option<i64>) {
    mint_for(shared, token, expires_at, &Minting::default())
}

/// [`mint`], for the installation and the grant of `minting`.
fn mint_for(shared: &Shared<State>, token: String, expires_at: Option<i64>, minting: &Minting) {
    let mut state = shared.state();
    lock_ledger(&state.ledger).minted.insert(
        token.clone(),
        (expires_at, minting.owner.clone(), minting.carried.clone()),
    );
    state.tokens.push(token);
}

/// A token body with `"owner":"O"` added when the token was minted for O's installation, and
/// what it carries when the answer says so.
fn owned(body: String, minting: &Minting) -> String {
    let mut extra = String::new();
    if let Some(owner) = &minting.owner {
        extra.push_str(&format!(",\"owner\":\"{}\"", json_escape(owner)));
    }
    if let Some(said) = &minting.said {
        extra.push_str(&said.json());
    }
    format!("{}{extra}}}", body.strip_suffix('}').unwrap_or(&body))
}

fn json() -> String {
    "application/json".to_string()
}

fn has_body(code: u16) -> bool {
    !(code < 200 || code == 204 || code == 304)
}

/// The status line and headers, ending with the blank line. Headers in `extra` replace defaults of
/// the same name (case-insensitive).
fn error_body(code: u16) -> String {
    format!(
        "{{\"error\":\"{}\"}}",
        json_escape(&reason(code).to_ascii_lowercase())
    )
}

/// {"token":"…","expires_at":"…"} (no expires_at key when None), values JSON-escaped.
pub fn token_body(token: &str, expires_at: Option<&str>) -> String {
    match expires_at {
        Some(at) => format!(
            "{{\"token\":\"{}\",\"expires_at\":\"{}\"}}",
            json_escape(token),
            json_escape(at)
        ),
        None => format!("{{\"token\":\"{}\"}}", json_escape(token)),
    }
}

/// {"token":"<token>","pad":"xxx…"} of exactly `size` bytes, or the first `size` bytes of the
/// unpadded object when `size` is smaller than it. `token` must need no JSON escaping.
fn padded_body(token: &str, size: usize) -> String {
    let mut body = format!("{{\"token\":\"{token}\",\"pad\":\"");
    let min = body.len() + 2;
    if size < min {
        body.push_str("\"}");
        body.truncate(size);
        return body;
    }
    body.push_str(&"x".repeat(size - min));
    body.push_str("\"}");
    body
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// RFC 3339 UTC time `secs` seconds from now.
pub fn expires_at_in(secs: i64) -> String {
    rfc3339(unix_now().saturating_add(secs))
}

/// Unix seconds as RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SSZ" (proleptic Gregorian; negative years are not
/// meaningful in RFC 3339 and come out as "-YYY").
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// "YYYY-MM-DDTHH:MM:SSZ" (fractional seconds and a numeric offset accepted) as unix seconds;
/// None when it does not parse.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = text.get(from..to)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

/// Howard Hinnant's days-from-civil: (year, month, day) -> days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-from-civil inverse: days since 1970-01-01 -> (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

static TOKEN_COUNTER: AtomicU64 = AtomicU64::new(0);

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fresh installation-token-shaped string: "ghs_" and 36 characters of [A-Za-z0-9], different on
/// every call and across processes (seeded from the clock, the process id and a global counter).
pub fn new_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut pid = u64::from(std::process::id());
    let mut count = TOKEN_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut state = nanos ^ splitmix64(&mut pid).rotate_left(17) ^ splitmix64(&mut count);
    let mut token = String::with_capacity(40);
    token.push_str("ghs");
    token.push('_');
    for _ in 0..36 {
        let i = (splitmix64(&mut state) % ALPHABET.len() as u64) as usize;
        token.push(ALPHABET[i] as char);
    }
    token
}

//! The HTTP/1.1 server under the std-only mocks (`mock_platform.rs`,
//! `mock_gitea.rs`), hand-written over `std::net::TcpListener` so that a mock
//! can misbehave at the byte level: one accept thread, one detached thread per
//! connection, `Connection: close` on every response. A mock supplies only
//! what it answers to a request head ([`Server::start`]'s handler).
//!
//! Reached as `super::http_server` from the mocks: in the tests through
//! `support/mod.rs`, in the examples through a `#[path]` include beside them,
//! so it must not use any crate.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Largest request head accepted (request line and headers); the handler is told when it is larger.
pub const MAX_HEAD: usize = 64 * 1024;

/// A connection that sends no data for this long before its head is complete is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often blocked reads and sleeps wake up to look at the shutdown flag.
pub const POLL: Duration = Duration::from_millis(50);

/// After a complete response, how long to wait for the client to close before dropping the socket.
pub const LINGER: Duration = Duration::from_secs(1);

/// A mutex's guard, poisoned or not: a panicking connection thread must not break the mock.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a mock shares with its connection threads: its state, behind a lock, and its log.
pub struct Shared<S> {
    state: Mutex<S>,
    pub log: Log,
}

impl<S> Shared<S> {
    /// The mock's state (also after a connection thread panicked holding it).
    pub fn state(&self) -> MutexGuard<'_, S> {
        lock(&self.state)
    }
}

/// A running mock: a [`Server`] whose `handler` answers each request head with the mock's
/// [`Shared`] state at hand. Dropping it stops the server (at once, live connections included).
pub struct Mock<S> {
    shared: Arc<Shared<S>>,
    server: Server,
}

/// A mock's answer to one connection, given its request head (see [`Server::start`]).
pub type MockHandler<S> = fn(&Shared<S>, Conn<'_>, Result<Head, TooLarge>);

impl<S: Send + 'static> Mock<S> {
    /// Start `name` (thread names) on 127.0.0.1:`port` (0 = random) with this initial state.
    pub fn start(
        name: &str,
        port: u16,
        state: S,
        log: Log,
        handler: MockHandler<S>,
    ) -> io::Result<Mock<S>> {
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            log,
        });
        let for_server = Arc::clone(&shared);
        let server = Server::start(name, port, move |conn, head| {
            handler(&for_server, conn, head)
        })?;
        Ok(Mock { shared, server })
    }
}

impl<S> Mock<S> {
    /// The mock's state.
    pub fn state(&self) -> MutexGuard<'_, S> {
        self.shared.state()
    }

    /// The mock's request log.
    pub fn log(&self) -> &Log {
        &self.shared.log
    }

    /// The server under the mock.
    pub fn server(&self) -> &Server {
        &self.server
    }
}

/// What a mock answers on a connection whose head has been read: the request head, or
/// `Err(TooLarge)` when it exceeded [`MAX_HEAD`].
type Handler = dyn Fn(Conn<'_>, Result<Head, TooLarge>) + Send + Sync;

/// The request head exceeded [`MAX_HEAD`]; part of it is still unread.
#[derive(Debug)]
pub struct TooLarge;

struct Control {
    shutdown: AtomicBool,
    /// live connections, so that Drop can shut them down at once
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
}

impl Control {
    fn conns(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        lock(&self.conns)
    }

    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }
}

/// A running server on 127.0.0.1; dropping it stops it.
pub struct Server {
    control: Arc<Control>,
    port: u16,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Bind 127.0.0.1:`port` (0 = random) and serve each connection on a thread of its own
    /// (`{name}-conn-{id}`; the accept thread is `{name}-accept-{port}`): read the request head
    /// ([`IDLE_TIMEOUT`], [`MAX_HEAD`]), then hand the connection and the head to `handler`.
    pub fn start<H>(name: &str, port: u16, handler: H) -> io::Result<Server>
    where
        H: Fn(Conn<'_>, Result<Head, TooLarge>) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let port = listener.local_addr()?.port();
        let control = Arc::new(Control {
            shutdown: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
        });
        let for_thread = Arc::clone(&control);
        let handler: Arc<Handler> = Arc::new(handler);
        let conn_name = format!("{name}-conn");
        let accept = thread::Builder::new()
            .name(format!("{name}-accept-{port}"))
            .spawn(move || accept_loop(listener, for_thread, handler, conn_name))?;
        Ok(Server {
            control,
            port,
            accept: Some(accept),
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound address (127.0.0.1:PORT).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    /// Stop accepting, shut down every live connection (hanging, stalled or delayed ones included) and
    /// close the listener; takes a few milliseconds.
    fn drop(&mut self) {
        self.control.shutdown.store(true, Ordering::SeqCst);
        for stream in self.control.conns().values() {
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

fn accept_loop(listener: TcpListener, control: Arc<Control>, handler: Arc<Handler>, name: String) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) if control.stopping() => return,
            Err(_) => {
                // EMFILE and the like: back off a little rather than spin.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if control.stopping() {
            return;
        }
        let id = control.next_conn.fetch_add(1, Ordering::Relaxed);
        {
            // Registration under the lock, after the flag check, so Drop cannot miss a connection.
            let mut conns = control.conns();
            if control.stopping() {
                return;
            }
            if let Ok(clone) = stream.try_clone() {
                conns.insert(id, clone);
            }
        }
        let for_thread = Arc::clone(&control);
        let handler = Arc::clone(&handler);
        let spawned = thread::Builder::new()
            .name(format!("{name}-{id}"))
            .spawn(move || {
                // Declared first, dropped last: the registry's clone of the socket is closed only
                // after the handler's, so a close with unread data still resets.
                let _registered = Registered {
                    control: Arc::clone(&for_thread),
                    id,
                };
                handle_connection(stream, &for_thread, &*handler);
            });
        if spawned.is_err() {
            control.conns().remove(&id);
        }
    }
}

/// Removes a connection from the registry when its thread ends, however it ends.
struct Registered {
    control: Arc<Control>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.control.conns().remove(&self.id);
    }
}

fn handle_connection(mut stream: TcpStream, control: &Control, handler: &Handler) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let (head, unconsumed) = match read_head(&mut stream, control) {
        Ok((raw, unconsumed)) => (Ok(parse_head(&raw)), unconsumed),
        Err(HeadError::TooLarge) => (Err(TooLarge), 0),
        Err(HeadError::Gone | HeadError::Idle) => return,
    };
    let conn = Conn {
        stream,
        unconsumed,
        control,
    };
    handler(conn, head);
}

pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A connection whose request head has been seen; `unconsumed` of its last bytes are still in the
/// kernel's receive buffer (only peeked), so that a mock can leave them there: dropping the
/// connection then closes it with unread data, which Linux turns into a reset (RFC 2525 2.17).
pub struct Conn<'a> {
    stream: TcpStream,
    unconsumed: usize,
    control: &'a Control,
}

impl Conn<'_> {
    /// Is the server being dropped?
    pub fn stopping(&self) -> bool {
        self.control.stopping()
    }

    /// Read the rest of the request head out of the kernel; false if the client is gone.
    pub fn consume_head(&mut self) -> bool {
        let mut buf = vec![0u8; self.unconsumed];
        let ok = read_fully(&mut self.stream, &mut buf, self.control);
        self.unconsumed = 0;
        ok
    }

    /// Write all of `bytes`; false if the client went away.
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .is_ok()
    }

    /// Graceful end: FIN, then wait (bounded) for the client to close, reading and discarding whatever
    /// it still sends, so that the close does not turn into a reset.
    pub fn finish(mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        let mut sink = [0u8; 4096];
        while Instant::now() < deadline && !self.stopping() {
            match self.stream.read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Hold the socket, discarding input, until the client closes it or the server is dropped.
    pub fn hang(mut self) {
        let mut sink = [0u8; 4096];
        while !self.stopping() {
            match self.stream.read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

/// read_exact that tolerates the poll timeout and gives up on shutdown.
fn read_fully(stream: &mut TcpStream, mut buf: &mut [u8], control: &Control) -> bool {
    let started = Instant::now();
    while !buf.is_empty() {
        if control.stopping() || started.elapsed() > IDLE_TIMEOUT {
            return false;
        }
        match stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => buf = &mut buf[n..],
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

enum HeadError {
    /// the client went away, errored, or the server is stopping
    Gone,
    /// no data for IDLE_TIMEOUT
    Idle,
    /// the head exceeds MAX_HEAD
    TooLarge,
}

/// Read the request head up to and including "\r\n\r\n". Everything before the chunk that holds the
/// terminator is read; that last chunk is only peeked. Returns the head and how many of its bytes are
/// still unread in the kernel (at least one).
fn read_head(stream: &mut TcpStream, control: &Control) -> Result<(Vec<u8>, usize), HeadError> {
    let mut consumed: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 8192];
    let mut last_data = Instant::now();
    loop {
        if control.stopping() {
            return Err(HeadError::Gone);
        }
        match stream.peek(&mut buf) {
            Ok(0) => return Err(HeadError::Gone),
            Ok(n) => {
                last_data = Instant::now();
                let keep = consumed.len().min(3);
                let mut window = consumed[consumed.len() - keep..].to_vec();
                window.extend_from_slice(&buf[..n]);
                if let Some(pos) = find(&window, b"\r\n\r\n") {
                    let in_peek = pos + 4 - keep;
                    if consumed.len() + in_peek > MAX_HEAD {
                        return Err(HeadError::TooLarge);
                    }
                    consumed.extend_from_slice(&buf[..in_peek]);
                    return Ok((consumed, in_peek));
                }
                if consumed.len() + n > MAX_HEAD {
                    return Err(HeadError::TooLarge);
                }
                // These bytes are already in the kernel buffer: reading them does not block.
                if !read_fully(stream, &mut buf[..n], control) {
                    return Err(HeadError::Gone);
                }
                consumed.extend_from_slice(&buf[..n]);
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                if last_data.elapsed() > IDLE_TIMEOUT {
                    return Err(HeadError::Idle);
                }
            }
            Err(_) => return Err(HeadError::Gone),
        }
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A parsed request head.
pub struct Head {
    /// the request method, as sent
    pub method: String,
    /// the request target exactly as sent (path and query)
    pub target: String,
    /// the target's path without the query string (origin form, even from an absolute-form target)
    pub path: String,
    /// the request headers in order, names lower-cased, values trimmed
    pub headers: Vec<(String, String)>,
    /// a well-formed HTTP/1.x request line, and a name and a colon on every header line
    pub valid: bool,
}

impl Head {
    /// The first value of header `name` (lower case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// This request as a mock records it, stamped now.
    pub fn record(&self) -> Recorded {
        Recorded {
            method: self.method.clone(),
            path: self.path.clone(),
            target: self.target.clone(),
            headers: self.headers.clone(),
            at: Instant::now(),
        }
    }
}

fn parse_head(raw: &[u8]) -> Head {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let version = parts.next().unwrap_or("");
    let mut valid = !method.is_empty()
        && !target.is_empty()
        && version.starts_with("HTTP/1.")
        && parts.next().is_none();
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains(' ') => {
                headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
            _ => valid = false,
        }
    }
    // Absolute form (http://host:port/path) as a proxy client would send: keep the path.
    let origin = match target.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => rest[i..].to_string(),
            None => "/".to_string(),
        },
        None => target.clone(),
    };
    let path = origin.split(['?', '#']).next().unwrap_or("").to_string();
    Head {
        method,
        target,
        path,
        headers,
        valid,
    }
}

/// One request a mock received (any path, any credential).
#[derive(Clone, Debug)]
pub struct Recorded {
    /// the request method, as sent
    pub method: String,
    /// the request path without the query string (origin form, even when the client sent absolute form)
    pub path: String,
    /// the request target exactly as sent (path and query)
    pub target: String,
    /// the request headers in order, names lower-cased, values trimmed
    pub headers: Vec<(String, String)>,
    /// when the request head had been read
    pub at: Instant,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A mock's switchable request log on stderr: "NAME: GET /path -> 200".
pub struct Log {
    name: &'static str,
    on: AtomicBool,
}

impl Log {
    /// On when the environment variable `var` is set and not empty.
    pub fn from_env(name: &'static str, var: &str) -> Log {
        Log {
            name,
            on: AtomicBool::new(std::env::var_os(var).is_some_and(|v| !v.is_empty())),
        }
    }

    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// One line for this request, if the log is on.
    pub fn line(&self, method: &str, path: &str, outcome: &str) {
        if self.on.load(Ordering::Relaxed) {
            eprintln!("{}: {method} {path} -> {outcome}", self.name);
        }
    }
}

/// The status line and headers, ending with the blank line: Content-Type, Content-Length (when
/// given), `Connection: close`, then `extra`. Headers in `extra` replace defaults of the same name
/// (case-insensitive).
pub fn response_head(
    code: u16,
    content_type: &str,
    content_length: Option<usize>,
    extra: &[(String, String)],
) -> Vec<u8> {
    let overridden = |name: &str| extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    if !overridden("content-type") {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    if let Some(length) = content_length
        && !overridden("content-length")
    {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    if !overridden("connection") {
        head.push_str("Connection: close\r\n");
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The reason phrase for a status code ("Status" when unknown).
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        418 => "I'm a teapot",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// JSON string escaping (without the quotes): `"`, `\` and control characters.
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

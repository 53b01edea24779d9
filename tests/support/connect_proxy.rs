//! An HTTP CONNECT proxy on 127.0.0.1 that sends named targets to local
//! addresses, so that a client which must use real names (gh refuses
//! `host:port`, and Go never proxies 127.0.0.1 or localhost) reaches a mock:
//! `HTTPS_PROXY=http://127.0.0.1:PORT` and a route `api.github.com:443` ->
//! the mock's `127.0.0.1:PORT`. TLS stays end to end (the proxy only pipes
//! bytes), so the client still verifies the mock's certificate for the name.
//!
//! A target without a route gets `403 Forbidden`, any method but CONNECT
//! `405`. Every CONNECT target is logged, routed or not. At most
//! [`MAX_TUNNELS`] tunnels at a time (one more gets `503`). Dropping the
//! proxy stops it and cuts its live tunnels. std only.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Most tunnels open at once.
pub const MAX_TUNNELS: usize = 64;

/// A client must finish its CONNECT request within this.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest CONNECT request head accepted.
const MAX_HEAD: usize = 16 * 1024;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One CONNECT request the proxy received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// the target as requested, `host:port`
    pub target: String,
    /// the status answered: 200 (tunnel opened), 403 (no route), 502 (route unreachable), 503 (full)
    pub status: u16,
}

struct Inner {
    stopping: AtomicBool,
    routes: Mutex<HashMap<String, SocketAddr>>,
    log: Mutex<Vec<Connect>>,
    /// every live socket (both ends of each tunnel), so that Drop can cut them
    live: Mutex<HashMap<u64, TcpStream>>,
    next: AtomicU64,
}

impl Inner {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Register a socket to be shut down on drop; None when stopping or full.
    fn register(&self, stream: &TcpStream) -> Option<u64> {
        let mut live = lock(&self.live);
        if self.stopping() || live.len() >= 2 * MAX_TUNNELS + 2 {
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        live.insert(id, stream.try_clone().ok()?);
        Some(id)
    }

    fn unregister(&self, id: u64) {
        lock(&self.live).remove(&id);
    }
}

/// The running proxy; dropping it stops it.
pub struct ConnectProxy {
    inner: Arc<Inner>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl ConnectProxy {
    /// Start on 127.0.0.1 with a random port and these routes (`host:port` -> local address).
    pub fn start(routes: &[(&str, SocketAddr)]) -> ConnectProxy {
        Self::start_on(0, routes).expect("connect proxy: cannot bind 127.0.0.1:0")
    }

    /// Start on 127.0.0.1:`port` (0 = random).
    pub fn start_on(port: u16, routes: &[(&str, SocketAddr)]) -> io::Result<ConnectProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            stopping: AtomicBool::new(false),
            routes: Mutex::new(
                routes
                    .iter()
                    .map(|(t, a)| (t.to_ascii_lowercase(), *a))
                    .collect(),
            ),
            log: Mutex::new(Vec::new()),
            live: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        });
        let for_thread = Arc::clone(&inner);
        let accept = thread::Builder::new()
            .name(format!("connect-proxy-{}", addr.port()))
            .spawn(move || accept_loop(listener, for_thread))?;
        Ok(ConnectProxy {
            inner,
            addr,
            accept: Some(accept),
        })
    }

    /// Route CONNECT `target` (`host:port`, case-insensitive) to `to`, replacing any route it had.
    pub fn add_route(&self, target: &str, to: SocketAddr) {
        lock(&self.inner.routes).insert(target.to_ascii_lowercase(), to);
    }

    /// The proxy URL for `HTTPS_PROXY`: "http://127.0.0.1:PORT".
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every CONNECT received, in order.
    pub fn connects(&self) -> Vec<Connect> {
        lock(&self.inner.log).clone()
    }

    /// Every CONNECT target received, in order (routed or not).
    pub fn targets(&self) -> Vec<String> {
        self.connects().into_iter().map(|c| c.target).collect()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        for stream in lock(&self.inner.live).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(handle) = self.accept.take()
            && woke
        {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) if inner.stopping() => return,
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if inner.stopping() {
            return;
        }
        let Some(id) = inner.register(&stream) else {
            let _ = (&stream).write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            continue;
        };
        let for_thread = Arc::clone(&inner);
        let spawned = thread::Builder::new()
            .name(format!("connect-proxy-conn-{id}"))
            .spawn(move || {
                serve(stream, &for_thread);
                for_thread.unregister(id);
            });
        if spawned.is_err() {
            inner.unregister(id);
        }
    }
}

/// Read the request head (bytes up to the blank line, nothing after it).
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let started = Instant::now();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD || started.elapsed() > HEAD_TIMEOUT {
            return None;
        }
        match stream.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn answer(stream: &mut TcpStream, code: u16, reason: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

fn serve(mut client: TcpStream, inner: &Inner) {
    let _ = client.set_read_timeout(Some(HEAD_TIMEOUT));
    let Some(head) = read_head(&mut client) else {
        return;
    };
    let mut words = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if !method.eq_ignore_ascii_case("CONNECT") {
        answer(&mut client, 405, "Method Not Allowed");
        return;
    }
    let route = lock(&inner.routes)
        .get(&target.to_ascii_lowercase())
        .copied();
    let log = |status| {
        lock(&inner.log).push(Connect {
            target: target.to_string(),
            status,
        })
    };
    let Some(to) = route else {
        log(403);
        answer(&mut client, 403, "Forbidden");
        return;
    };
    let upstream = match TcpStream::connect_timeout(&to, Duration::from_secs(5)) {
        Ok(s) => s,
        Err(_) => {
            log(502);
            answer(&mut client, 502, "Bad Gateway");
            return;
        }
    };
    let Some(upstream_id) = inner.register(&upstream) else {
        log(503);
        answer(&mut client, 503, "Service Unavailable");
        return;
    };
    log(200);
    let _ = client.set_read_timeout(None);
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_ok()
        && let (Ok(client_w), Ok(upstream_r)) = (client.try_clone(), upstream.try_clone())
    {
        // Upstream -> client on a second thread, client -> upstream here.
        let back = thread::spawn(move || pipe(upstream_r, client_w));
        pipe(client, upstream);
        let _ = back.join();
    }
    inner.unregister(upstream_id);
}

/// Copy until EOF or error, then pass the EOF on (half-close).
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

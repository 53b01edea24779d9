//! A TLS front for a plain-HTTP mock: accepts TLS on 127.0.0.1 with a leaf
//! certificate of a [`TestCa`], and relays each connection's bytes to the
//! mock's address and back, so that the mock platform can be served over
//! https with a private CA without changing the mock.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::tls::{self, TestCa};

/// How long one side is waited for before the other is looked at.
const POLL: Duration = Duration::from_millis(10);

/// A running TLS front; dropping it stops accepting.
pub struct TlsFront {
    port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl TlsFront {
    /// Serve TLS for `names` (DNS names or IP addresses) signed by `ca`,
    /// relaying to `backend`.
    pub fn start(ca: &TestCa, names: &[&str], backend: SocketAddr) -> TlsFront {
        let config = ca.server_config(names);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the TLS front");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let accept = thread::Builder::new()
            .name(format!("tls-front-{port}"))
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let config = Arc::clone(&config);
                    let _ = thread::Builder::new()
                        .name("tls-front-conn".into())
                        .spawn(move || {
                            let _ = relay(&config, stream, backend);
                        });
                }
            })
            .expect("spawn the TLS front");
        TlsFront {
            port,
            stop,
            accept: Some(accept),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake accept() so that the loop sees the flag.
        let woke = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok();
        if let (Some(handle), true) = (self.accept.take(), woke) {
            let _ = handle.join();
        }
    }
}

fn relay(
    config: &Arc<rustls::ServerConfig>,
    client: TcpStream,
    backend: SocketAddr,
) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    client.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = tls::accept(config, client)?;
    let mut plain = TcpStream::connect(backend)?;
    tls.sock.set_read_timeout(Some(POLL))?;
    plain.set_read_timeout(Some(POLL))?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => {
                let _ = plain.shutdown(Shutdown::Write);
                // The answer may still come: relay it until the backend ends.
                return copy_until_end(&mut plain, &mut tls);
            }
            Ok(n) => plain.write_all(&buf[..n])?,
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
        match plain.read(&mut buf) {
            Ok(0) => {
                tls.conn.send_close_notify();
                let _ = tls.flush();
                return Ok(());
            }
            Ok(n) => {
                tls.write_all(&buf[..n])?;
                tls.flush()?;
            }
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

fn copy_until_end(plain: &mut TcpStream, tls: &mut tls::TlsServerStream) -> io::Result<()> {
    plain.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match plain.read(&mut buf)? {
            0 => {
                tls.conn.send_close_notify();
                return tls.flush();
            }
            n => {
                tls.write_all(&buf[..n])?;
                tls.flush()?;
            }
        }
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

//! Reading git's request from stdin with a deadline. git writes the whole
//! request at once and then closes the pipe or sends a blank line; a caller
//! that does neither must not hold the helper (and a push) forever.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// A reader that waits at most until `deadline` for each read.
pub struct DeadlineReader<R> {
    inner: R,
    fd: RawFd,
    deadline: Instant,
    limit: Duration,
}

impl<R: Read + AsRawFd> DeadlineReader<R> {
    pub fn new(inner: R, limit: Duration) -> DeadlineReader<R> {
        let fd = inner.as_raw_fd();
        DeadlineReader {
            inner,
            fd,
            deadline: Instant::now() + limit,
            limit,
        }
    }
}

/// stdin, waited on for at most `limit` in all.
pub fn with_deadline(limit: Duration) -> DeadlineReader<io::StdinLock<'static>> {
    DeadlineReader::new(io::stdin().lock(), limit)
}

impl<R: Read> Read for DeadlineReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            let millis = left.as_millis().min(i32::MAX as u128) as i32;
            let mut fd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let ready = unsafe { libc::poll(&mut fd, 1, millis) };
            match ready {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no blank line or end of input within {} s",
                            self.limit.as_secs_f64()
                        ),
                    ));
                }
                n if n < 0 => {
                    let error = io::Error::last_os_error();
                    if error.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(error);
                }
                // Readable, closed or in error: read says which.
                _ => return self.inner.read(buf),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn reads_what_is_there_and_gives_up_on_silence() {
        let (mut writer, reader) = UnixStream::pair().unwrap();
        let mut timed = DeadlineReader::new(reader, Duration::from_millis(100));
        writer.write_all(b"host=x\n").unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(timed.read(&mut buf).unwrap(), 7);
        let started = Instant::now();
        let error = timed.read(&mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(error.to_string().contains("within 0.1 s"), "{error}");
    }

    #[test]
    fn end_of_input_is_not_a_timeout() {
        let (writer, reader) = UnixStream::pair().unwrap();
        drop(writer);
        let mut timed = DeadlineReader::new(reader, Duration::from_secs(10));
        let mut buf = [0u8; 8];
        assert_eq!(timed.read(&mut buf).unwrap(), 0);
    }
}

//! The cache's lock, `token.lock`: held exclusively (`flock`) by the one
//! process asking the platform, so that processes asking at once cause one
//! fetch. The holder writes when it took the lock into the file, so that a
//! process finding it held knows how long the holder has been at it: it
//! waits for a fetch that began less than [`WAIT_FOR_OTHERS`] ago, never
//! behind one that has taken longer (a platform that stalls holds up one
//! process, not every process).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::diag::io_reason;
use crate::token::cache::{Cache, Unusable, check_ours, now_ms, open_nofollow, reason};

/// How long a process with nothing valid to serve waits for another
/// process's fetch, counted from when that fetch began: a healthy platform
/// answers well within it (one request for every process asking at once);
/// past it, the process falls through and git goes on to its next helper.
pub const WAIT_FOR_OTHERS: Duration = Duration::from_secs(1);

/// The exclusive lock; released when dropped (or when the process ends).
pub struct Lock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process held it past the deadline.
    Timeout,
    /// The cache cannot be used at all (the caller works uncached).
    Unusable(Unusable),
}

impl From<Unusable> for LockError {
    fn from(why: Unusable) -> LockError {
        LockError::Unusable(why)
    }
}

/// Take the exclusive lock, waiting no later than `deadline` for a
/// process that holds it (it is fetching; its entry is what we want).
pub fn lock(cache: &Cache, deadline: Instant) -> Result<Lock, LockError> {
    match try_lock(cache)? {
        Attempt::Locked(lock) => Ok(lock),
        Attempt::Held(held) => held.wait(deadline),
    }
}

/// Take the lock if nobody holds it; else the means to wait for it.
pub fn try_lock(cache: &Cache) -> Result<Attempt, LockError> {
    cache.ensure_dir()?;
    let path = cache.lock_path();
    let file = open_nofollow(
        &path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600),
    )
    .map_err(|e| Unusable(format!("cannot open {}: {}", path.display(), reason(&e))))?;
    check_ours(&file, &path).map_err(Unusable)?;
    match file.try_lock() {
        Ok(()) => Ok(Attempt::Locked(Lock::stamped(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Attempt::Held(Held { file, path })),
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Unusable(Unusable(format!(
            "cannot lock {}: {}",
            path.display(),
            io_reason(&e)
        )))),
    }
}

/// The stamp's width: unix milliseconds, zero-padded, and a newline. Every
/// holder writes the same number of bytes at offset 0, so no truncation
/// is needed and a reader sees one stamp or the next, never a mixture
/// that parses (a torn read is refused as not a number, or as the future).
const STAMP_LEN: usize = 21;

impl Lock {
    /// The lock just taken: write when, for the processes that will find it
    /// held. A stamp that cannot be written only makes them wait the whole
    /// [`WAIT_FOR_OTHERS`].
    fn stamped(file: File) -> Lock {
        let stamp = format!("{:020}\n", now_ms().max(0));
        let _ = file.write_all_at(stamp.as_bytes(), 0);
        Lock { _file: file }
    }
}

/// What [`try_lock`] found.
pub enum Attempt {
    /// The lock is ours.
    Locked(Lock),
    /// Another process holds it.
    Held(Held),
}

/// The lock, held by another process (it is fetching).
pub struct Held {
    file: File,
    path: PathBuf,
}

impl Held {
    /// How long ago the holder took the lock; `None` when that cannot be
    /// read, or is in the future (the clock went back).
    pub fn held_for(&self) -> Option<Duration> {
        let mut stamp = [0u8; STAMP_LEN];
        let n = self.file.read_at(&mut stamp, 0).ok()?;
        let text = std::str::from_utf8(&stamp[..n]).ok()?;
        let at: i64 = text.strip_suffix('\n')?.parse().ok()?;
        let age = now_ms().checked_sub(at)?;
        u64::try_from(age).ok().map(Duration::from_millis)
    }

    /// Wait for a fetch that began less than [`WAIT_FOR_OTHERS`] ago, until
    /// it is that old (or `deadline`, if sooner). `Err(Timeout)` when the
    /// holder has been at it longer.
    pub fn wait_for_fetch(self, deadline: Instant) -> Result<Lock, LockError> {
        let held_for = self.held_for().unwrap_or(Duration::ZERO);
        let patience = WAIT_FOR_OTHERS.saturating_sub(held_for);
        self.wait(deadline.min(Instant::now() + patience))
    }

    /// Wait for the lock until `deadline`.
    pub fn wait(self, deadline: Instant) -> Result<Lock, LockError> {
        let Held { file, path } = self;
        // Block in a thread so that we can give up at the deadline; the
        // lock is the file's, so it comes back with it.
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let outcome = file.lock().map(|()| file);
            let _ = send.send(outcome);
        });
        let wait = deadline.saturating_duration_since(Instant::now());
        match receive.recv_timeout(wait) {
            Ok(Ok(file)) => Ok(Lock::stamped(file)),
            Ok(Err(e)) => Err(LockError::Unusable(Unusable(format!(
                "cannot lock {}: {}",
                path.display(),
                io_reason(&e)
            )))),
            Err(_) => Err(LockError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_and_waiting_gives_up_at_the_deadline() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let held = lock(&cache, Instant::now()).unwrap();
        let again = lock(&cache, Instant::now() + Duration::from_millis(50));
        assert!(
            matches!(again, Err(LockError::Timeout)),
            "a second lock while the first is held"
        );
        drop(held);
        // The waiter that gave up is still blocked in its thread; it takes
        // the lock now and lets go of it as soon as it finds nobody waiting
        // for its answer. (In the helper, the process exits after giving up.)
        let deadline = Instant::now() + Duration::from_secs(10);
        assert!(lock(&cache, deadline).is_ok());
    }

    #[test]
    fn a_holder_says_since_when_and_a_long_fetch_is_not_waited_for() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let held = lock(&cache, Instant::now()).unwrap();
        let Ok(Attempt::Held(other)) = try_lock(&cache) else {
            panic!("the lock is not held")
        };
        assert!(other.held_for().unwrap() < Duration::from_secs(5));
        // A holder that took the lock 2 s ago: not waited for at all.
        let stamp = format!("{:020}\n", now_ms() - 2000);
        std::fs::write(cache.lock_path(), stamp).unwrap();
        assert!(other.held_for().unwrap() >= Duration::from_secs(2));
        let started = Instant::now();
        let far = Instant::now() + Duration::from_secs(30);
        assert!(matches!(other.wait_for_fetch(far), Err(LockError::Timeout)));
        assert!(started.elapsed() < Duration::from_millis(500));
        // One from the future (the clock went back), or unreadable: counted
        // as just begun, so waited for at most WAIT_FOR_OTHERS.
        for text in [format!("{:020}\n", now_ms() + 60_000), "garbage\n".into()] {
            std::fs::write(cache.lock_path(), text).unwrap();
            let Ok(Attempt::Held(other)) = try_lock(&cache) else {
                panic!("the lock is not held")
            };
            assert_eq!(other.held_for(), None);
            let started = Instant::now();
            assert!(matches!(other.wait_for_fetch(far), Err(LockError::Timeout)));
            let waited = started.elapsed();
            assert!(
                waited >= WAIT_FOR_OTHERS && waited < Duration::from_secs(5),
                "{waited:?}"
            );
        }
        drop(held);
    }
}

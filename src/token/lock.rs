//! The cache's lock, `token.lock`: held exclusively (`flock`) by the one
//! process asking the platform, whatever it asks for, so that processes
//! asking at once cause one fetch, and at most one process waits on a
//! platform that does not answer. The holder writes when it took the lock
//! into the file, so that a process finding it held knows how long the
//! holder has been at it: it waits for a fetch that began less than
//! [`WAIT_FOR_OTHERS`] ago, never behind one that has taken longer (a
//! platform that stalls holds up one process, not every process).
//!
//! A holder that has held the lock for longer than its deadline plus
//! [`TAKEOVER_MARGIN`] is presumed stuck (stopped by SIGSTOP or Ctrl-Z's
//! SIGTSTP: a stopped process keeps its `flock`). The next process takes
//! over ([`Held::take_over`]): it removes the stuck holder's lock file from
//! the directory, under a short guard lock (`token.lock.takeover`, held
//! for a few system calls, never while fetching) so that two takers never
//! remove each other's new lock, and locks a new one. The stuck holder
//! keeps a lock on a file nobody opens any more; when it comes back it
//! finds its lock no longer the cache's ([`Lock::still_ours`]) and writes
//! nothing.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::diag::{debug, io_reason};
use crate::token::cache::{Cache, Unusable, check_ours, now_ms, open_nofollow, reason};

/// How long a process with nothing valid to serve waits for another
/// process's fetch, counted from when that fetch began: a healthy platform
/// answers well within it (one request for every process asking at once);
/// past it, the process falls through and git goes on to its next helper.
pub const WAIT_FOR_OTHERS: Duration = Duration::from_secs(1);

/// A holder is presumed stuck once it has held the lock for longer than
/// its deadline plus this (it writes the sum in its stamp).
pub const TAKEOVER_MARGIN: Duration = Duration::from_secs(5);

/// The exclusive lock; released when dropped (or when the process ends).
pub struct Lock {
    file: File,
    path: PathBuf,
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
/// process that holds it (it is fetching; its entry is what we want), and
/// taking it over from a stuck holder. `stuck_after`: this process's
/// deadline plus [`TAKEOVER_MARGIN`] (see [`try_lock`]).
pub fn lock(cache: &Cache, deadline: Instant, stuck_after: Duration) -> Result<Lock, LockError> {
    match try_lock(cache, stuck_after)? {
        Attempt::Locked(lock) => Ok(lock),
        Attempt::Held(held) if held.is_stuck() => match held.take_over()? {
            Attempt::Locked(lock) => Ok(lock),
            Attempt::Held(held) => held.wait(deadline),
        },
        Attempt::Held(held) => held.wait(deadline),
    }
}

/// Take the lock if nobody holds it; else the means to wait for it.
/// `stuck_after`: this process's deadline plus [`TAKEOVER_MARGIN`],
/// written in its stamp when it takes the lock (the others take it over
/// past that), and the figure used for a holder whose stamp lacks one.
pub fn try_lock(cache: &Cache, stuck_after: Duration) -> Result<Attempt, LockError> {
    cache.ensure_dir()?;
    let path = cache.lock_path();
    let file = open_private(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Attempt::Locked(Lock::stamped(file, path, stuck_after))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Attempt::Held(Held {
            file,
            cache: cache.clone(),
            stuck_after,
        })),
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Unusable(Unusable(format!(
            "cannot lock {}: {}",
            path.display(),
            io_reason(&e)
        )))),
    }
}

/// Open (creating it 0600) a lock file of ours.
fn open_private(path: &std::path::Path) -> Result<File, Unusable> {
    let file = open_nofollow(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600),
    )
    .map_err(|e| Unusable(format!("cannot open {}: {}", path.display(), reason(&e))))?;
    check_ours(&file, path).map_err(Unusable)?;
    Ok(file)
}

/// The stamp's width: unix milliseconds, zero-padded, a space, after how
/// many milliseconds the holder is stuck (its deadline plus
/// [`TAKEOVER_MARGIN`]), zero-padded, and a newline. Every holder writes
/// the same number of bytes at offset 0, so no truncation is needed and a
/// reader sees one stamp or the next, never a mixture that parses (a torn
/// read is refused as not a number, or as the future).
const STAMP_LEN: usize = 32;

impl Lock {
    /// The lock just taken: write when, and after how long it is stuck, for
    /// the processes that will find it held. A stamp that cannot be written
    /// only makes them wait the whole [`WAIT_FOR_OTHERS`].
    fn stamped(file: File, path: PathBuf, stuck_after: Duration) -> Lock {
        let stuck_ms = u64::try_from(stuck_after.as_millis()).unwrap_or(u64::MAX);
        let stamp = format!(
            "{:020} {:010}\n",
            now_ms().max(0),
            stuck_ms.min(9_999_999_999)
        );
        let _ = file.write_all_at(stamp.as_bytes(), 0);
        Lock { file, path }
    }

    /// Whether this is still the cache's lock: no other process took it
    /// over while this one was stopped (the file at the lock's path is the
    /// one this process locked).
    pub fn still_ours(&self) -> bool {
        same_file(&self.file, &self.path)
    }
}

/// Whether `file` is the file at `path` (not followed).
fn same_file(file: &File, path: &std::path::Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(mine), Ok(there)) => mine.dev() == there.dev() && mine.ino() == there.ino(),
        _ => false,
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
    cache: Cache,
    /// This process's deadline plus the margin (see [`try_lock`]).
    stuck_after: Duration,
}

/// The holder's stamp in `file`: when it took the lock (unix ms) and, if
/// written, after how long it is stuck. `None` when it cannot be read.
fn read_stamp(file: &File) -> Option<(i64, Option<Duration>)> {
    let mut stamp = [0u8; STAMP_LEN];
    let n = file.read_at(&mut stamp, 0).ok()?;
    let text = std::str::from_utf8(&stamp[..n]).ok()?;
    let (line, _) = text.split_once('\n')?;
    let (at, stuck) = match line.split_once(' ') {
        Some((at, stuck)) => (at, stuck.parse().ok().map(Duration::from_millis)),
        None => (line, None),
    };
    Some((at.parse().ok()?, stuck))
}

/// How long ago the holder of `file` took the lock; `None` when that
/// cannot be read, or is in the future (the clock went back).
fn stamp_age(file: &File) -> Option<Duration> {
    let (at, _) = read_stamp(file)?;
    let age = now_ms().checked_sub(at)?;
    u64::try_from(age).ok().map(Duration::from_millis)
}

impl Held {
    /// How long ago the holder took the lock; `None` when that cannot be
    /// read, or is in the future (the clock went back).
    pub fn held_for(&self) -> Option<Duration> {
        stamp_age(&self.file)
    }

    /// Whether the holder has held the lock for longer than its deadline
    /// plus [`TAKEOVER_MARGIN`] (as its stamp says; else as this process
    /// counts): it is stopped, or stuck.
    pub fn is_stuck(&self) -> bool {
        let stuck_after = read_stamp(&self.file)
            .and_then(|(_, stuck)| stuck)
            .unwrap_or(self.stuck_after);
        self.held_for().is_some_and(|age| age > stuck_after)
    }

    /// Take the lock over from a stuck holder: its lock file leaves the
    /// directory (it keeps its lock on a file nobody opens any more) and a
    /// new one is tried. Under the guard, and only while the stuck holder's
    /// file is still the lock: of two takers, the second finds the first's
    /// new lock held. A guard held by another taker: the lock as found.
    pub fn take_over(self) -> Result<Attempt, LockError> {
        let cache = self.cache.clone();
        let stuck_after = self.stuck_after;
        let path = cache.lock_path();
        let guard_path = cache.dir().join(cache.file_name(".lock.takeover"));
        let guard = open_private(&guard_path)?;
        if guard.try_lock().is_err() {
            return Ok(Attempt::Held(self));
        }
        if same_file(&self.file, &path) && self.is_stuck() {
            debug!(
                "cache: the process holding {} has held it past its deadline; taking over",
                path.display(),
            );
            let _ = std::fs::remove_file(&path);
        }
        drop(guard);
        try_lock(&cache, stuck_after)
    }

    /// Wait for a fetch that began less than [`WAIT_FOR_OTHERS`] ago, until
    /// it is that old (or `deadline`, if sooner); a new holder that took the
    /// lock meanwhile (the next fetch in line) is waited for the same way.
    /// `Err(Timeout)` when the holder has been at it longer.
    pub fn wait_for_fetch(self, deadline: Instant) -> Result<Lock, LockError> {
        self.wait_while(deadline, true)
    }

    /// Wait for the lock until `deadline`.
    pub fn wait(self, deadline: Instant) -> Result<Lock, LockError> {
        self.wait_while(deadline, false)
    }

    fn wait_while(self, deadline: Instant, only_young: bool) -> Result<Lock, LockError> {
        let Held {
            file,
            cache,
            stuck_after,
        } = self;
        let path = cache.lock_path();
        // The holder's stamp, read again when patience runs out.
        let stamp = file.try_clone().ok();
        let age = || stamp.as_ref().and_then(stamp_age);
        // Block in a thread so that we can give up; the lock is the
        // file's, so it comes back with it.
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let outcome = file.lock().map(|()| file);
            let _ = send.send(outcome);
        });
        let mut patience = WAIT_FOR_OTHERS.saturating_sub(age().unwrap_or(Duration::ZERO));
        loop {
            let until = match only_young {
                true => deadline.min(Instant::now() + patience),
                false => deadline,
            };
            match receive.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(Ok(file)) => {
                    let lock = Lock::stamped(file, path, stuck_after);
                    if lock.still_ours() {
                        return Ok(lock);
                    }
                    // Taken over while we waited: the lock is the new file.
                    drop(lock);
                    return match try_lock(&cache, stuck_after)? {
                        Attempt::Locked(lock) => Ok(lock),
                        Attempt::Held(held) => held.wait_while(deadline, only_young),
                    };
                }
                Ok(Err(e)) => {
                    return Err(LockError::Unusable(Unusable(format!(
                        "cannot lock {}: {}",
                        path.display(),
                        io_reason(&e)
                    ))));
                }
                Err(_) if Instant::now() >= deadline => return Err(LockError::Timeout),
                Err(_) => match age() {
                    // Another process took the lock since (the next fetch
                    // in line): it is waited for as long.
                    Some(age) if age < WAIT_FOR_OTHERS => patience = WAIT_FOR_OTHERS - age,
                    _ => return Err(LockError::Timeout),
                },
            }
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
        let held = lock(&cache, Instant::now(), Duration::from_secs(60)).unwrap();
        let again = lock(
            &cache,
            Instant::now() + Duration::from_millis(50),
            Duration::from_secs(60),
        );
        assert!(
            matches!(again, Err(LockError::Timeout)),
            "a second lock while the first is held"
        );
        drop(held);
        // The waiter that gave up is still blocked in its thread; it takes
        // the lock now and lets go of it as soon as it finds nobody waiting
        // for its answer. (In the helper, the process exits after giving up.)
        let deadline = Instant::now() + Duration::from_secs(10);
        assert!(lock(&cache, deadline, Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn a_holder_says_since_when_and_a_long_fetch_is_not_waited_for() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let held = lock(&cache, Instant::now(), Duration::from_secs(60)).unwrap();
        let Ok(Attempt::Held(other)) = try_lock(&cache, Duration::from_secs(60)) else {
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
            let Ok(Attempt::Held(other)) = try_lock(&cache, Duration::from_secs(60)) else {
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

    #[test]
    fn a_stuck_holder_is_taken_over_once_and_finds_its_lock_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let stuck_after = Duration::from_secs(10);
        let stuck = lock(&cache, Instant::now(), stuck_after).unwrap();
        let held = || match try_lock(&cache, Duration::from_secs(60)) {
            Ok(Attempt::Held(held)) => held,
            _ => panic!("the lock is not held"),
        };
        // Held for a moment: not stuck, and not taken over.
        assert!(!held().is_stuck());
        assert!(matches!(held().take_over(), Ok(Attempt::Held(_))));
        assert!(stuck.still_ours());
        // Held for a minute: two processes find it stuck at once.
        let stamp = format!("{:020} {:010}\n", now_ms() - 60_000, 10_000);
        std::fs::write(cache.lock_path(), stamp).unwrap();
        let (first, second) = (held(), held());
        assert!(first.is_stuck() && second.is_stuck());
        let Ok(Attempt::Locked(taker)) = first.take_over() else {
            panic!("not taken over")
        };
        assert!(taker.still_ours());
        assert!(!stuck.still_ours(), "the stuck holder still has the lock");
        // The second finds the first's new lock, held and young.
        let Ok(Attempt::Held(again)) = second.take_over() else {
            panic!("the new lock was taken over")
        };
        assert!(!again.is_stuck());
        assert!(taker.still_ours());
        // The new lock is the cache's from now on.
        drop(taker);
        assert!(lock(&cache, Instant::now() + Duration::from_secs(5), stuck_after).is_ok());
    }
}

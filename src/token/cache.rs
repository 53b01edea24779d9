//! The on-disk token cache: one small entry file, written atomically, and a
//! lock file beside it so that processes asking at once cause one fetch.
//!
//! Layout of the cache directory (created 0700):
//!
//! - `token`: the entry (0600), a few `key value` lines; see [`Entry`].
//! - `token.lock`: locked exclusively (`flock`) by the one process fetching;
//!   see [`super::lock`].
//! - `token.failed`, `token.history`: the failure memory and the record of
//!   what happened (0600); see [`super::memory`].
//! - `.token.<pid>.<nanos>.tmp`: an entry (or another file) being written,
//!   renamed over `token` (or its own name) once it is complete.
//!
//! Every file is opened with `O_NOFOLLOW` and checked to be a regular file
//! owned by this user before it is read or written: a symlink or another
//! user's file is never read or written through. Every fault (a corrupt
//! entry, an unwritable directory) is a miss or "uncached", never an error
//! of its own.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diag::io_reason;
use crate::secret::Secret;
use crate::token::Token;

pub const ENTRY_FILE: &str = "token";
pub const LOCK_FILE: &str = "token.lock";
const MAGIC: &str = "molecule-git-token-helper cache v1";
/// The largest file this module reads or writes: an entry holding the
/// longest token [`crate::secret::validate`] accepts, with room for a long
/// platform URL. An entry that would be larger is not written (the helper
/// works uncached), so what is written is always read back.
const MAX_FILE: u64 = 16 * 1024;
/// An entry is kept at most this long after its fetch, whatever its
/// `expires_at` says (a platform clock or bug cannot pin a token for days).
pub const MAX_AGE: i64 = 3600;
/// Within the refresh window a re-fetch is tried at most this often.
pub const REFRESH_INTERVAL: i64 = 30;
/// Permission bits the cache never gives its directory and files (created
/// 0700 and 0600): `status` warns about any of them, since the entry holds
/// the token.
pub const NOT_PRIVATE: u32 = 0o077;
/// A directory others may write to is refused: the helper works uncached.
pub const WRITABLE_BY_OTHERS: u32 = 0o022;

/// What makes an entry ours to serve: the platform and the bearer that got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub platform: String,
    /// SHA-256 of the bearer (domain-separated), in hex: comparing it tells
    /// a rotated bearer apart without keeping the bearer anywhere.
    pub bearer_sha256: String,
}

impl Key {
    pub fn new(platform_url: &str, bearer: &Secret) -> Key {
        let mut data = b"molecule-git-token-helper bearer\0".to_vec();
        data.extend_from_slice(bearer.expose().as_bytes());
        Key {
            platform: platform_url.to_string(),
            bearer_sha256: crate::secret::sha256_hex(&data),
        }
    }
}

/// One cached token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Key,
    pub secret: Secret,
    /// Unix seconds; a token without an expiry is never cached.
    pub expires_at: i64,
    /// When it was fetched (unix seconds).
    pub fetched_at: i64,
    /// When a re-fetch within the refresh window was last tried, if ever.
    pub refresh_tried_at: Option<i64>,
}

impl Entry {
    pub fn token(&self) -> Token {
        Token {
            secret: self.secret.clone(),
            expires_at: Some(self.expires_at),
        }
    }

    /// When this entry stops being served: its expiry, or an hour after
    /// its fetch, whichever comes first.
    pub fn good_until(&self) -> i64 {
        self.expires_at.min(self.fetched_at.saturating_add(MAX_AGE))
    }

    fn encode(&self) -> String {
        format!(
            "{MAGIC}\nplatform {}\nbearer-sha256 {}\nfetched {}\nrefresh-tried {}\nexpires {}\ntoken {}\n",
            self.key.platform,
            self.key.bearer_sha256,
            self.fetched_at,
            self.refresh_tried_at
                .map_or_else(|| "-".to_string(), |t| t.to_string()),
            self.expires_at,
            self.secret.expose(),
        )
    }

    /// Parse an entry; `None` for anything that is not one we wrote whole.
    fn decode(text: &str) -> Option<Entry> {
        let mut fields = Fields::open(text, MAGIC)?;
        let key = fields.key()?;
        let mut field = |name: &str| fields.field(name);
        let fetched_at = field("fetched")?.parse().ok()?;
        let refresh_tried_at = match field("refresh-tried")?.as_str() {
            "-" => None,
            t => Some(t.parse().ok()?),
        };
        let expires_at = field("expires")?.parse().ok()?;
        let secret = field("token")?;
        if !fields.done() || crate::secret::validate(&secret).is_err() {
            return None;
        }
        Some(Entry {
            key,
            secret: Secret::new(secret),
            expires_at,
            fetched_at,
            refresh_tried_at,
        })
    }
}

/// What to do with an entry, at `now`, for `key`, with a refresh window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// More than the refresh window left: serve it.
    Fresh,
    /// Within the window, but a re-fetch was tried less than 30 s ago:
    /// serve it without asking the platform.
    Hold,
    /// Within the window: try a re-fetch; serve this if that fails.
    Refresh,
    /// Another platform or bearer, expired, too old, or from the future.
    Unusable,
}

pub fn freshness(entry: &Entry, key: &Key, now: i64, window: Duration) -> Freshness {
    // Fetched in the future: the clock went back, and how old the entry
    // really is cannot be known.
    if entry.key != *key || entry.fetched_at > now {
        return Freshness::Unusable;
    }
    let left = entry.good_until() - now;
    if left <= 0 {
        Freshness::Unusable
    } else if left > window.as_secs() as i64 {
        Freshness::Fresh
    } else if entry
        .refresh_tried_at
        .is_some_and(|t| now - t < REFRESH_INTERVAL && t <= now)
    {
        Freshness::Hold
    } else {
        Freshness::Refresh
    }
}

/// The `name value` lines of a file this module wrote, after its magic
/// first line, read in the order they were written.
pub(crate) struct Fields<'a> {
    lines: std::str::Split<'a, char>,
}

impl<'a> Fields<'a> {
    /// `None` unless `text` is whole (ends with a newline) and starts with `magic`.
    pub(crate) fn open(text: &'a str, magic: &str) -> Option<Fields<'a>> {
        let mut lines = text.strip_suffix('\n')?.split('\n');
        (lines.next()? == magic).then_some(Fields { lines })
    }

    /// The next line's value, if the line is `name value`.
    pub(crate) fn field(&mut self, name: &str) -> Option<String> {
        let line = self.lines.next()?;
        Some(line.strip_prefix(name)?.strip_prefix(' ')?.to_string())
    }

    /// The platform and bearer fingerprint that every file starts with.
    pub(crate) fn key(&mut self) -> Option<Key> {
        Some(Key {
            platform: self.field("platform")?,
            bearer_sha256: self.field("bearer-sha256")?,
        })
    }

    /// Nothing follows the last field.
    pub(crate) fn done(&mut self) -> bool {
        self.lines.next().is_none()
    }
}

/// The current time in unix milliseconds.
pub fn now_ms() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The cache directory. Nothing is created until something is written.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

/// Why the cache cannot be used for a write (the caller works uncached).
#[derive(Debug)]
pub struct Unusable(pub String);

impl Cache {
    pub fn new(dir: &Path) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
        }
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entry_path(&self) -> PathBuf {
        self.dir.join(ENTRY_FILE)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Read the entry. `Ok(None)` when there is none; `Err` (a reason, for
    /// the debug line) when there is something unusable in its place.
    pub fn read(&self) -> Result<Option<Entry>, String> {
        let path = self.entry_path();
        match read_small(&path)? {
            None => Ok(None),
            Some(text) => match Entry::decode(&text) {
                Some(entry) => Ok(Some(entry)),
                None => Err(format!("{} is not a cache entry", path.display())),
            },
        }
    }

    /// Create the directory (0700) if needed and check that it is a real
    /// directory of ours that nobody else can write to.
    pub fn ensure_dir(&self) -> Result<(), Unusable> {
        let dir = &self.dir;
        let meta = match std::fs::symlink_metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| {
                        Unusable(format!(
                            "cannot create {}: {}",
                            dir.display(),
                            io_reason(&e)
                        ))
                    })?;
                std::fs::symlink_metadata(dir).map_err(|e| {
                    Unusable(format!(
                        "cannot look at {}: {}",
                        dir.display(),
                        io_reason(&e)
                    ))
                })?
            }
            Err(e) => {
                return Err(Unusable(format!(
                    "cannot look at {}: {}",
                    dir.display(),
                    io_reason(&e)
                )));
            }
        };
        if !meta.is_dir() {
            return Err(Unusable(format!("{} is not a directory", dir.display())));
        }
        if meta.uid() != euid() {
            return Err(Unusable(format!(
                "{} belongs to another user (uid {})",
                dir.display(),
                meta.uid()
            )));
        }
        if meta.mode() & WRITABLE_BY_OTHERS != 0 {
            return Err(Unusable(format!(
                "{} is writable by others (mode {:o})",
                dir.display(),
                meta.mode() & 0o777
            )));
        }
        Ok(())
    }
}

impl Cache {
    /// Replace the entry atomically: a temporary file in the same directory
    /// (0600 from its creation), written, synced, renamed over the entry.
    /// Call with the lock held: leftovers of killed writers are removed.
    pub fn write(&self, entry: &Entry) -> Result<(), Unusable> {
        self.ensure_dir()?;
        self.remove_leftovers();
        self.replace(&self.entry_path(), &entry.encode(), true)
    }

    /// Replace `path` with `text` atomically: a temporary file in the same
    /// directory, 0600 from its creation, written (synced when `sync`),
    /// renamed over `path`.
    fn replace(&self, path: &Path, text: &str, sync: bool) -> Result<(), Unusable> {
        if text.len() as u64 > MAX_FILE {
            // It could not be read back: better not written at all.
            return Err(Unusable(format!(
                "not writing {} in {}: it would be larger than {} KiB",
                path.file_name().unwrap_or_default().to_string_lossy(),
                self.dir.display(),
                MAX_FILE / 1024
            )));
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = self
            .dir
            .join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
        let written = open_nofollow(
            &tmp,
            OpenOptions::new().write(true).create_new(true).mode(0o600),
        )
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            if sync { f.sync_all() } else { Ok(()) }
        })
        .and_then(|()| std::fs::rename(&tmp, path));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Unusable(format!(
                "cannot write {} in {}: {}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                self.dir.display(),
                io_reason(&e)
            ))
        })
    }

    /// Temporary files of writers that were killed mid-write. With the lock
    /// held nobody else is writing, so every one of them is a leftover.
    fn remove_leftovers(&self) {
        let Ok(names) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for name in names.flatten().map(|e| e.file_name()) {
            let name = name.to_string_lossy();
            if name.starts_with(".token.") && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(self.dir.join(&*name));
            }
        }
    }

    /// Another command's small file in the cache directory (`gh-login`'s
    /// fingerprints), read as the entry is: never through a symlink, only
    /// a regular file of this user. `None` for none, or anything unusable.
    pub fn read_file(&self, name: &str) -> Option<String> {
        read_small(&self.dir.join(name)).ok().flatten()
    }

    /// Write such a file as the entry is written: the directory 0700, the
    /// file 0600 from its creation, replaced atomically.
    pub fn write_file(&self, name: &str, text: &str) -> Result<(), Unusable> {
        self.ensure_dir()?;
        self.replace(&self.dir.join(name), text, false)
    }

    /// Remove the entry. Call with the lock held.
    pub fn remove(&self) -> Result<(), Unusable> {
        match std::fs::remove_file(self.entry_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Unusable(format!(
                "cannot remove {}: {}",
                self.entry_path().display(),
                io_reason(&e)
            ))),
        }
    }
}

/// Read a small file of ours (at most [`MAX_FILE`]): `None` when there is
/// none; `Err` (a reason) when something unusable is in its place.
fn read_small(path: &Path) -> Result<Option<String>, String> {
    let mut file = match open_nofollow(path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open {}: {}", path.display(), reason(&e))),
    };
    check_ours(&file, path)?;
    let mut bytes = Vec::with_capacity(512);
    (&mut file)
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!(
            "{} is larger than {} KiB",
            path.display(),
            MAX_FILE / 1024
        ));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(_) => Err(format!("{} is not UTF-8", path.display())),
    }
}

/// Open without following a symlink in the last component, and without
/// blocking on a FIFO someone put there.
pub(crate) fn open_nofollow(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// `O_NOFOLLOW` on a symlink fails with ELOOP: say what it means.
pub(crate) fn reason(error: &io::Error) -> String {
    if error.raw_os_error() == Some(libc::ELOOP) {
        "it is a symbolic link (never followed)".to_string()
    } else {
        io_reason(error)
    }
}

/// A regular file owned by this user, or a reason why not.
pub(crate) fn check_ours(file: &File, path: &Path) -> Result<(), String> {
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot look at {}: {}", path.display(), io_reason(&e)))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.uid() != euid() {
        return Err(format!(
            "{} belongs to another user (uid {})",
            path.display(),
            meta.uid()
        ));
    }
    Ok(())
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(300);

    fn key() -> Key {
        Key::new("http://platform:8080", &Secret::new("bearer-one".into()))
    }

    fn entry(fetched_at: i64, expires_at: i64, refresh_tried_at: Option<i64>) -> Entry {
        Entry {
            key: key(),
            secret: Secret::new("ghs_cached".into()),
            expires_at,
            fetched_at,
            refresh_tried_at,
        }
    }

    #[test]
    fn key_depends_on_platform_and_bearer_and_hides_the_bearer() {
        let k = key();
        assert_eq!(k.bearer_sha256.len(), 64);
        assert!(!k.bearer_sha256.contains("bearer-one"));
        assert_eq!(k, key());
        assert_ne!(
            k,
            Key::new("http://platform:8080", &Secret::new("bearer-two".into()))
        );
        assert_ne!(
            k,
            Key::new("http://other:8080", &Secret::new("bearer-one".into()))
        );
    }

    #[test]
    fn entries_round_trip_and_anything_else_is_refused() {
        let e = entry(1000, 4000, Some(1200));
        assert_eq!(Entry::decode(&e.encode()), Some(e.clone()));
        let e = entry(1000, 4000, None);
        let text = e.encode();
        assert_eq!(Entry::decode(&text), Some(e));
        // Truncated at every byte: never a different entry, only none.
        for cut in 0..text.len() - 1 {
            assert_eq!(Entry::decode(&text[..cut]), None, "cut at {cut}");
        }
        assert_eq!(Entry::decode(&format!("{text}extra\n")), None);
        assert_eq!(Entry::decode(&text.replace("v1", "v2")), None);
        assert_eq!(Entry::decode(&text.replace("ghs_cached", "ghs bad")), None);
        assert_eq!(Entry::decode(&text.replace("4000", "soon")), None);
        assert_eq!(Entry::decode(""), None);
    }

    #[test]
    fn fresh_while_more_than_the_window_is_left() {
        let k = key();
        let now = 10_000;
        let e = entry(now - 60, now + 3000, None);
        assert_eq!(freshness(&e, &k, now, WINDOW), Freshness::Fresh);
        assert_eq!(
            freshness(&e, &k, now, Duration::from_secs(3000)),
            Freshness::Refresh
        );
    }

    #[test]
    fn within_the_window_refresh_at_most_every_30_seconds() {
        let k = key();
        let now = 10_000;
        let e = entry(now - 10, now + 60, None);
        assert_eq!(freshness(&e, &k, now, WINDOW), Freshness::Refresh);
        let e = entry(now - 10, now + 60, Some(now - 5));
        assert_eq!(freshness(&e, &k, now, WINDOW), Freshness::Hold);
        let e = entry(now - 100, now + 60, Some(now - 30));
        assert_eq!(freshness(&e, &k, now, WINDOW), Freshness::Refresh);
        // A refresh time in the future (the clock went back) does not hold.
        let e = entry(now - 100, now + 60, Some(now + 100));
        assert_eq!(freshness(&e, &k, now, WINDOW), Freshness::Refresh);
    }

    #[test]
    fn unusable_when_expired_too_old_or_not_ours() {
        let now = 10_000;
        let k = key();
        assert_eq!(
            freshness(&entry(now - 100, now, None), &k, now, WINDOW),
            Freshness::Unusable
        );
        // An hour past the fetch, whatever expires_at says.
        let old = entry(now - MAX_AGE, now + 86_400, None);
        assert_eq!(freshness(&old, &k, now, WINDOW), Freshness::Unusable);
        let nearly = entry(now - MAX_AGE + 200, now + 86_400, None);
        assert_eq!(freshness(&nearly, &k, now, WINDOW), Freshness::Refresh);
        let future = entry(now + 1000, now + 3000, None);
        assert_eq!(freshness(&future, &k, now, WINDOW), Freshness::Unusable);
        let other = Key::new("http://platform:8080", &Secret::new("rotated".into()));
        let e = entry(now, now + 3000, None);
        assert_eq!(freshness(&e, &other, now, WINDOW), Freshness::Unusable);
    }

    #[test]
    fn write_then_read_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let cache = Cache::new(&dir);
        assert_eq!(cache.read(), Ok(None));
        let e = entry(1000, 4000, None);
        cache.write(&e).unwrap();
        assert_eq!(cache.read(), Ok(Some(e)));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&cache.entry_path()), 0o600);
        let lock = crate::token::lock::lock(&cache, std::time::Instant::now()).unwrap();
        assert_eq!(mode(&cache.lock_path()), 0o600);
        drop(lock);
        cache.remove().unwrap();
        assert_eq!(cache.read(), Ok(None));
        cache.remove().unwrap();
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [LOCK_FILE]);
    }

    #[test]
    fn a_symlinked_entry_is_never_read_or_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, entry(1000, 4000, None).encode()).unwrap();
        std::os::unix::fs::symlink(&target, cache.entry_path()).unwrap();
        let err = cache.read().unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
        cache.write(&entry(2000, 5000, None)).unwrap();
        // The link was replaced, not written through.
        assert_eq!(
            Entry::decode(&std::fs::read_to_string(&target).unwrap()),
            Some(entry(1000, 4000, None))
        );
        assert_eq!(cache.read(), Ok(Some(entry(2000, 5000, None))));
    }

    #[test]
    fn a_directory_that_is_a_file_or_open_to_others_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = Cache::new(&file).write(&entry(1, 2, None)).unwrap_err();
        assert!(err.0.contains("not a directory"), "{}", err.0);
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let err = Cache::new(&open).write(&entry(1, 2, None)).unwrap_err();
        assert!(err.0.contains("writable by others"), "{}", err.0);
    }
}

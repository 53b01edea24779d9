//! The on-disk token cache: one small entry file, written atomically, and a
//! lock file beside it so that processes asking at once cause one fetch.
//!
//! Layout of the cache directory (created 0700):
//!
//! - `token`: the default entry (0600), a few `key value` lines; see
//!   [`Entry`]. It holds the token of a request that named no owner, and
//!   the token of a platform that ignored the owner asked for (which serves
//!   every owner: [`Entry::any_owner`]).
//! - `token@OWNER%SCOPE`, `token%SCOPE`: a narrowed token's entry (one
//!   per owner and scope, [`crate::scope::Scope::short`]: never a `.`).
//! - `token@OWNER` (the owner's login in lower case): the entry of one
//!   owner's installation, from a platform that mints per owner (the name
//!   is the request's: `request.rs`); each entry has its own failure memory
//!   and history (`token@OWNER.failed`, `token@OWNER.history`), and an
//!   owner the platform has no installation for its `token@OWNER.absent`
//!   (`absent.rs`).
//! - `token.lock`: locked exclusively (`flock`) by the one process fetching,
//!   whatever it fetches for; see [`super::lock`]. (`token@OWNER.lock`
//!   files of earlier versions are no longer used.)
//! - `token.failed`, `token.history`: the default entry's failure memory and
//!   record of what happened (0600); see [`super::memory`].
//! - `platform.state`: the platform's state, one for every request: its
//!   outage memory, and whether it names owners; see
//!   [`super::platform_state`].
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

use crate::diag::io_reason;
use crate::owner::Owner;
use crate::token::entry::Entry;
use crate::token::request::Request;

pub const ENTRY_FILE: &str = "token";
pub const LOCK_FILE: &str = "token.lock";
/// The largest file this module reads or writes: an entry holding the
/// longest token [`crate::secret::validate`] accepts, with room for a long
/// platform URL. An entry that would be larger is not written (the helper
/// works uncached), so what is written is always read back.
const MAX_FILE: u64 = 16 * 1024;
/// Permission bits the cache never gives its directory and files (created
/// 0700 and 0600): `status` warns about any of them, since the entry holds
/// the token.
pub const NOT_PRIVATE: u32 = 0o077;
/// A directory others may write to is refused: the helper works uncached.
pub const WRITABLE_BY_OTHERS: u32 = 0o022;

/// The current time in unix milliseconds.
pub fn now_ms() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// One entry's files in the cache directory (the default entry's, or an
/// owner's). Nothing is created until something is written.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
    /// The entry's file name, which its other files' names start with:
    /// `token`, or `token@OWNER`.
    stem: String,
}

/// Why the cache cannot be used for a write (the caller works uncached).
#[derive(Debug)]
pub struct Unusable(pub String);

impl Cache {
    /// The default entry's files in `dir`.
    pub fn new(dir: &Path) -> Cache {
        Cache::for_owner(dir, None)
    }

    /// `owner`'s entry's files in `dir` (`None`: the default entry's).
    pub fn for_owner(dir: &Path, owner: Option<&Owner>) -> Cache {
        Cache::for_request(dir, &Request::for_owner(owner))
    }

    /// The files of the entry that serves `request` in `dir`.
    pub fn for_request(dir: &Path, request: &Request) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
            stem: request.stem(),
        }
    }

    /// The default entry's and every other one's (an owner's, a narrowed
    /// token's), found by their entry files: the default first, then by
    /// name.
    pub fn all(dir: &Path) -> Vec<Cache> {
        let mut stems: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let rest = name.strip_prefix(ENTRY_FILE)?;
                let (owner, scope) = match rest.split_once('%') {
                    Some((_, "")) => return None,
                    Some((owner, scope)) => (owner, scope),
                    None => (rest, ""),
                };
                let owner_ok = match owner.strip_prefix('@') {
                    Some(login) => Owner::parse(login).is_some_and(|o| o.key() == login),
                    None => owner.is_empty(),
                };
                let scope_ok = scope.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b"_:,+#-".contains(&b)
                });
                (!rest.is_empty() && owner_ok && scope_ok).then_some(name)
            })
            .collect();
        stems.sort();
        std::iter::once(Cache::new(dir))
            .chain(stems.into_iter().map(|stem| Cache {
                dir: dir.to_path_buf(),
                stem,
            }))
            .collect()
    }

    /// The owner of this entry (lower case), `None` for the default one.
    pub fn owner(&self) -> Option<&str> {
        let stem = self.stem.split('%').next().unwrap_or(&self.stem);
        stem.split_once('@').map(|(_, owner)| owner)
    }

    /// The short form of this entry's scope, `None` for a full token's.
    pub fn scope(&self) -> Option<&str> {
        self.stem.split_once('%').map(|(_, scope)| scope)
    }

    /// The entry's file name: which entry this is.
    pub fn stem(&self) -> &str {
        &self.stem
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entry_path(&self) -> PathBuf {
        self.dir.join(&self.stem)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(self.file_name(".lock"))
    }

    /// The name of this entry's file with `suffix` (`.failed`, …).
    pub fn file_name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.stem)
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
        self.write_unlocked(entry)
    }

    /// [`Cache::write`] without its lock held (another entry's fetch
    /// brought this one's token): leftovers are left to its lock holder.
    pub fn write_unlocked(&self, entry: &Entry) -> Result<(), Unusable> {
        self.ensure_dir()?;
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

    /// Temporary files of this entry's writers that were killed mid-write.
    /// With its lock held nobody else is writing them, so every one of them
    /// is a leftover (another entry's are its lock holder's).
    fn remove_leftovers(&self) {
        let Ok(names) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!(".{}.", self.stem);
        for name in names.flatten().map(|e| e.file_name()) {
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".tmp") {
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
    use crate::token::entry::tests::{WINDOW, entry, key};
    use crate::token::entry::{Freshness, freshness};

    #[test]
    fn an_owners_entry_has_files_of_its_own_and_a_key_of_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let orgb = Owner::parse("OrgB").unwrap();
        let cache = Cache::for_owner(tmp.path(), Some(&orgb));
        assert_eq!(cache.entry_path(), tmp.path().join("token@orgb"));
        assert_eq!(cache.lock_path(), tmp.path().join("token@orgb.lock"));
        assert_eq!(cache.owner(), Some("orgb"));
        assert_eq!(Cache::new(tmp.path()).owner(), None);
        let mut e = entry(1000, 4000, None);
        e.key = key().for_owner(Some(&orgb));
        cache.write(&e).unwrap();
        assert_eq!(cache.read(), Ok(Some(e.clone())));
        assert_eq!(Cache::new(tmp.path()).read(), Ok(None));
        // Not the default entry's key, nor another owner's.
        assert_eq!(freshness(&e, &key(), 1000, WINDOW), Freshness::Unusable);
        let orga = Owner::parse("orgA").unwrap();
        assert_eq!(
            freshness(&e, &key().for_owner(Some(&orga)), 1000, WINDOW),
            Freshness::Unusable
        );
        assert_eq!(
            freshness(&e, &key().for_owner(Some(&orgb)), 1000, WINDOW),
            Freshness::Fresh
        );
        std::fs::write(tmp.path().join("token@not_a_login"), "x").unwrap();
        std::fs::write(tmp.path().join("token@orgb.failed"), "x").unwrap();
        let owners: Vec<Option<String>> = Cache::all(tmp.path())
            .iter()
            .map(|c| c.owner().map(str::to_string))
            .collect();
        assert_eq!(owners, [None, Some("orgb".to_string())]);
        // A narrowed token's entry, with and without an owner.
        let read = crate::scope::Scope::full()
            .with_permissions("contents:read")
            .unwrap();
        let narrowed =
            Cache::for_request(tmp.path(), &Request::new(Some(orgb.clone()), read.clone()));
        assert_eq!(narrowed.stem(), "token@orgb%contents:read");
        assert_eq!(
            (narrowed.owner(), narrowed.scope()),
            (Some("orgb"), Some("contents:read"))
        );
        narrowed.write(&e).unwrap();
        Cache::for_request(tmp.path(), &Request::new(None, read))
            .write(&e)
            .unwrap();
        std::fs::write(tmp.path().join("token@orgb%contents:read.lock"), "").unwrap();
        std::fs::write(tmp.path().join("token%"), "").unwrap();
        let stems: Vec<String> = Cache::all(tmp.path())
            .iter()
            .map(|c| c.stem().to_string())
            .collect();
        assert_eq!(
            stems,
            [
                "token",
                "token%contents:read",
                "token@orgb",
                "token@orgb%contents:read"
            ]
        );
        // A any-owner flag survives the round trip.
        let mut d = entry(1000, 4000, None);
        d.any_owner = true;
        assert_eq!(Entry::decode(&d.encode()), Some(d));
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
        let lock = crate::token::lock::lock(
            &cache,
            std::time::Instant::now(),
            std::time::Duration::from_secs(60),
        )
        .unwrap();
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

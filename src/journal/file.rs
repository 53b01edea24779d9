//! The journal's file: appended one line per `write(2)` under `O_APPEND`
//! (the kernel appends each whole, whoever else writes at once), created
//! 0600, never through a symlink, only a regular file of this user's; and
//! rotated at [`ROTATE_AT`] to `NAME.1` (one old file kept).
//!
//! Rotation under concurrency: every writer that finds the file over the
//! limit tries to rotate it, so two may race. Each first writes its own
//! line to the file it opened, then rotates only under an exclusive `flock`
//! of that file and only while the path still names that file (same device
//! and inode): the second of two racing writers finds the path naming a
//! new file and renames nothing, so it never pushes the first one's
//! `NAME.1`, nor a new file's lines, out. A writer that does not get the
//! lock at once leaves the rotation to its holder. Every line so lands in
//! the file the path named when it was opened, which is the journal or
//! `NAME.1`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::diag::{debug, io_reason};

/// The journal is rotated once it holds this many bytes.
pub const ROTATE_AT: u64 = 1024 * 1024;

/// At most this much of each file is read back (a journal whose rotation
/// keeps failing grows past [`ROTATE_AT`]).
pub const MAX_READ: u64 = 16 * ROTATE_AT;

/// `NAME.1`: the journal before the last rotation.
pub fn rotated_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".1");
    PathBuf::from(name)
}

/// Append `line` (one whole line) in one write. `create_dir`: create the
/// missing parent directory (0700), as the cache creates its own.
pub fn append(path: &Path, line: &[u8], create_dir: bool) -> Result<(), String> {
    let file = match open_append(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && create_dir => {
            let dir = path.parent().unwrap_or(Path::new("/"));
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("cannot create {}: {}", dir.display(), io_reason(&e)))?;
            open_append(path)
        }
        other => other,
    }
    .map_err(|e| format!("cannot open {}: {}", path.display(), reason(&e)))?;
    append_opened(&file, path, line)
}

/// Append `line` to `file`, which was opened at `path`, rotating it when
/// it is over the limit and still the journal.
fn append_opened(file: &File, path: &Path, line: &[u8]) -> Result<(), String> {
    let meta = check_ours(file, path)?;
    if meta.mode() & 0o077 != 0 {
        // Ours, but readable by others (made by hand?): ours alone again.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    if meta.len() < ROTATE_AT {
        return write_once(file, path, line);
    }
    match file.try_lock() {
        Ok(()) => {
            let current = std::fs::symlink_metadata(path)
                .is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()));
            let written = write_once(file, path, line);
            if current {
                let old = rotated_path(path);
                match std::fs::rename(path, &old) {
                    Ok(()) => debug!("journal: rotated {} to {}", path.display(), old.display()),
                    Err(e) => debug!(
                        "journal: cannot rotate {} to {}: {}",
                        path.display(),
                        old.display(),
                        io_reason(&e)
                    ),
                }
            }
            written
        }
        // Another writer is rotating this very file: the line goes with it.
        Err(_) => write_once(file, path, line),
    }
}

/// One `write(2)`: a short write (a full disk) is reported, never
/// completed by a second write that another line could come between.
fn write_once(mut file: &File, path: &Path, line: &[u8]) -> Result<(), String> {
    match file.write(line) {
        Ok(n) if n == line.len() => Ok(()),
        Ok(n) => Err(format!(
            "{}: wrote {n} of {} bytes (disk full?)",
            path.display(),
            line.len()
        )),
        Err(e) => Err(format!(
            "cannot write {}: {}",
            path.display(),
            io_reason(&e)
        )),
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

/// A regular file owned by this user (its metadata), or why not.
fn check_ours(file: &File, path: &Path) -> Result<std::fs::Metadata, String> {
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot look at {}: {}", path.display(), io_reason(&e)))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "{} belongs to another user (uid {})",
            path.display(),
            meta.uid()
        ));
    }
    Ok(meta)
}

/// `O_NOFOLLOW` on a symlink fails with ELOOP, and opening a directory for
/// writing with EISDIR: say what they mean.
fn reason(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(libc::ELOOP) => "it is a symbolic link (never followed)".to_string(),
        Some(libc::EISDIR) => "it is a directory".to_string(),
        _ => io_reason(error),
    }
}

/// The text of the journal at `path` (`Ok(None)`: there is none), read as
/// it is written: never through a symlink, only this user's regular file,
/// at most [`MAX_READ`] bytes (the last ones, if it is larger).
pub fn read(path: &Path) -> Result<Option<String>, String> {
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open {}: {}", path.display(), reason(&e))),
    };
    let meta = check_ours(&file, path)?;
    if meta.len() > MAX_READ {
        use std::io::Seek;
        let _ = file.seek(io::SeekFrom::Start(meta.len() - MAX_READ));
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_READ)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The size of the journal at `path` and of its rotated file, as far as
/// they can be seen (for `status`).
pub fn sizes(path: &Path) -> (Option<u64>, Option<u64>) {
    let size = |p: &Path| std::fs::symlink_metadata(p).ok().map(|m| m.len());
    (size(path), size(&rotated_path(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn appends_whole_lines_creating_the_directory_and_a_private_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("cache/journal.jsonl");
        assert!(append(&path, b"{}\n", false).is_err());
        append(&path, b"{\"a\":1}\n", true).unwrap();
        append(&path, b"{\"a\":2}\n", false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(read(&path).unwrap().unwrap(), "{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(read(&tmp.path().join("none")).unwrap(), None);
    }

    #[test]
    fn a_symlink_or_a_directory_in_its_place_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        let link = tmp.path().join("journal.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let why = append(&link, b"x\n", true).unwrap_err();
        assert!(why.contains("symbolic link"), "{why}");
        assert!(read(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
        let dir = tmp.path().join("dir.jsonl");
        std::fs::create_dir(&dir).unwrap();
        let why = append(&dir, b"x\n", true).unwrap_err();
        assert!(why.contains("directory"), "{why}");
    }

    #[test]
    fn rotates_past_the_limit_keeping_the_line_that_rotated() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("journal.jsonl");
        let filler = "x".repeat(ROTATE_AT as usize);
        std::fs::write(&path, &filler).unwrap();
        append(&path, b"last\n", false).unwrap();
        append(&path, b"first\n", false).unwrap();
        let old = std::fs::read_to_string(rotated_path(&path)).unwrap();
        assert!(old.starts_with("xxx") && old.ends_with("last\n"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");
    }

    /// A writer that opened the journal before another rotated it finds
    /// the path naming a new file: it writes its line to the file it
    /// opened (now NAME.1) and renames nothing, so neither the first
    /// rotation's NAME.1 nor the new file's lines are pushed out.
    #[test]
    fn the_second_of_two_rotations_renames_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("journal.jsonl");
        std::fs::write(&path, "x".repeat(ROTATE_AT as usize)).unwrap();
        let late = open_append(&path).unwrap();
        append(&path, b"first rotation\n", false).unwrap();
        append(&path, b"new file\n", false).unwrap();
        append_opened(&late, &path, b"late\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new file\n");
        let old = std::fs::read_to_string(rotated_path(&path)).unwrap();
        assert!(
            old.ends_with("first rotation\nlate\n"),
            "{}",
            &old[old.len() - 40..]
        );
    }
}

//! An owner's state: the platform said it has no installation of the App
//! for this owner (HTTP 404). Remembered for [`ABSENT_MEMORY`] in
//! `token@OWNER.absent`, so that every git command in a repository of that
//! owner falls through to git's next helper without asking the platform
//! again. A token fetched for the owner ends it.
//!
//! It belongs to the owner, not to an entry: a narrowed request for the
//! same owner reads the same record.

use std::time::Duration;

use crate::owner::Owner;
use crate::token::cache::{Cache, Unusable};
use crate::token::entry::{Fields, Key};
use crate::token::memory::{MAX_FAILED_MESSAGE, cut, one_line};
use crate::token::request::Request;

/// How long "no installation for this owner" is remembered.
pub const ABSENT_MEMORY: Duration = Duration::from_secs(300);
const SUFFIX: &str = ".absent";
const MAGIC: &str = "molecule-git-token-helper no-installation v1";

/// The platform has no installation for an owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoInstallation {
    /// The platform, bearer and owner it was said for.
    pub key: Key,
    /// When (unix ms).
    pub at_ms: i64,
    /// The fetch's error, one line, never a secret.
    pub message: String,
}

impl NoInstallation {
    /// Whether it still answers at `now_ms` (not one from the future).
    pub fn is_remembered(&self, now_ms: i64) -> bool {
        now_ms
            .checked_sub(self.at_ms)
            .and_then(|age| u64::try_from(age).ok())
            .is_some_and(|age| Duration::from_millis(age) < ABSENT_MEMORY)
    }

    fn encode(&self) -> String {
        let mut message = one_line(&self.message);
        cut(&mut message, MAX_FAILED_MESSAGE);
        format!(
            "{MAGIC}\n{}at-ms {}\nmessage {message}\n",
            self.key.encode(),
            self.at_ms
        )
    }

    fn decode(text: &str) -> Option<NoInstallation> {
        let mut fields = Fields::open(text, MAGIC)?;
        let key = fields.key()?;
        let at_ms = fields.field("at-ms")?.parse().ok()?;
        let message = fields.field("message")?;
        fields.done().then_some(NoInstallation {
            key,
            at_ms,
            message,
        })
    }
}

/// The owner's files (named after the owner alone, whatever else the
/// request narrows).
fn owners(dir: &std::path::Path, owner: &Owner) -> Cache {
    Cache::for_request(dir, &Request::for_owner(Some(owner)))
}

/// What is remembered of `owner` under `key` (its owner is replaced).
pub fn read(dir: &std::path::Path, key: &Key, owner: &Owner) -> Option<NoInstallation> {
    let cache = owners(dir, owner);
    let found = NoInstallation::decode(&cache.read_file(&cache.file_name(SUFFIX))?)?;
    (found.key == key.for_owner(Some(owner))).then_some(found)
}

/// Remember that the platform has no installation for `owner`.
pub fn write(
    dir: &std::path::Path,
    key: &Key,
    owner: &Owner,
    at_ms: i64,
    message: &str,
) -> Result<(), Unusable> {
    let cache = owners(dir, owner);
    let record = NoInstallation {
        key: key.for_owner(Some(owner)),
        at_ms,
        message: message.to_string(),
    };
    cache.write_file(&cache.file_name(SUFFIX), &record.encode())
}

/// Forget it (a token was fetched for the owner).
pub fn remove(dir: &std::path::Path, owner: &Owner) {
    let cache = owners(dir, owner);
    let path = cache.dir().join(cache.file_name(SUFFIX));
    if std::fs::symlink_metadata(&path).is_ok() {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn a_404_is_remembered_for_the_owner_for_five_minutes() {
        let tmp = tempfile::tempdir().unwrap();
        let key = Key::new("http://p", &Secret::new("bearer".into()));
        let orgx = Owner::parse("OrgX").unwrap();
        let orgy = Owner::parse("orgY").unwrap();
        assert_eq!(read(tmp.path(), &key, &orgx), None);
        write(
            tmp.path(),
            &key,
            &orgx,
            1_000_000,
            "no installation\n(HTTP 404)",
        )
        .unwrap();
        assert!(tmp.path().join("token@orgx.absent").is_file());
        let found = read(tmp.path(), &key, &orgx).unwrap();
        assert_eq!(found.message, "no installation (HTTP 404)");
        assert!(found.is_remembered(1_000_000 + 299_000));
        assert!(!found.is_remembered(1_000_000 + 300_000));
        assert!(!found.is_remembered(999_000));
        assert_eq!(read(tmp.path(), &key, &orgy), None);
        let rotated = Key::new("http://p", &Secret::new("other".into()));
        assert_eq!(read(tmp.path(), &rotated, &orgx), None);
        remove(tmp.path(), &orgx);
        assert_eq!(read(tmp.path(), &key, &orgx), None);
    }
}

//! The platform's state, shared by every request whatever its owner (or,
//! later, its scope): whether the platform is unavailable ([`Outage`]: the
//! outage memory) and whether it has ever named an owner in an answer
//! ([`PlatformState::names_owners`]). One record per platform URL and
//! bearer ([`Key`] with no owner): `platform.state` in the cache directory.
//!
//! An outage is remembered for [`FIRST_MEMORY`] after the first failure
//! that says the platform is unavailable (refused, reset, timeout, name
//! lookup, TLS, 5xx, 429), doubling with each one in a row up to
//! [`MAX_MEMORY`]; while it is, every request falls through at once. The
//! first success ends it for everyone.
//!
//! The memory survives a cache directory that cannot be written (full,
//! read-only, a file in its place): the record then goes to a second,
//! per-user place ([`second_place`]), checked the same way (a directory of
//! ours, 0700, nobody else can write to it), so that against a hung
//! platform only the first request waits. Reading takes the newer record of
//! the two.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diag::debug;
use crate::token::cache::{Cache, Unusable};
use crate::token::entry::{Fields, Key};
use crate::token::memory::{MAX_FAILED_MESSAGE, cut, one_line};

/// The record's name in the cache directory.
pub const STATE_FILE: &str = "platform.state";
const MAGIC: &str = "molecule-git-token-helper platform v1";
/// The second place's directory under `$XDG_RUNTIME_DIR`.
const RUNTIME_DIR_NAME: &str = "molecule-git-token-helper-state";

/// How long an unavailable platform is remembered after its first failure
/// in a row; each further failure in a row doubles it, up to [`MAX_MEMORY`].
pub const FIRST_MEMORY: Duration = Duration::from_secs(5);
/// The longest an outage is remembered before one process asks again.
pub const MAX_MEMORY: Duration = Duration::from_secs(60);

/// The platform found unavailable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    /// When the last fetch that found it unavailable failed (unix ms).
    pub at_ms: i64,
    /// Fetches in a row that found it unavailable (1 for the first).
    pub streak: u32,
    /// That fetch's error, one line, never a secret.
    pub message: String,
}

impl Outage {
    /// How long it answers for every request: [`FIRST_MEMORY`], doubling
    /// with each failure in a row, at most [`MAX_MEMORY`].
    pub fn memory(&self) -> Duration {
        let doublings = self.streak.saturating_sub(1).min(16);
        (FIRST_MEMORY * (1u32 << doublings)).min(MAX_MEMORY)
    }

    /// How long ago, at `now_ms`; `None` when in the future (the clock
    /// went back): then it is stale, and answers for nobody.
    pub fn age(&self, now_ms: i64) -> Option<Duration> {
        let age = now_ms.checked_sub(self.at_ms)?;
        u64::try_from(age).ok().map(Duration::from_millis)
    }

    /// Whether it still answers for every request at `now_ms`.
    pub fn is_remembered(&self, now_ms: i64) -> bool {
        self.age(now_ms).is_some_and(|age| age < self.memory())
    }

    /// The outage after one more failure at `at_ms` with `message`: the
    /// streak goes on from `last` (not from one in the future).
    pub fn next(last: Option<&Outage>, at_ms: i64, message: &str) -> Outage {
        let streak = match last {
            Some(last) if last.age(at_ms).is_some() => last.streak.saturating_add(1),
            _ => 1,
        };
        Outage {
            at_ms,
            streak,
            message: message.to_string(),
        }
    }
}

/// What is known of one platform (URL and bearer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformState {
    pub key: Key,
    /// It has named an owner in an answer: it mints per owner, and an
    /// answer without one serves only the owner it was asked for.
    pub names_owners: bool,
    pub outage: Option<Outage>,
    /// When this record was written (unix ms): of two places, the newer.
    pub written_ms: i64,
}

impl PlatformState {
    /// Nothing known of the platform of `key`.
    pub fn unknown(key: &Key) -> PlatformState {
        PlatformState {
            key: key.for_owner(None),
            names_owners: false,
            outage: None,
            written_ms: 0,
        }
    }

    fn encode(&self) -> String {
        let (outage_at, streak, mut message) = match &self.outage {
            Some(o) => (o.at_ms.to_string(), o.streak, one_line(&o.message)),
            None => ("-".to_string(), 0, String::new()),
        };
        cut(&mut message, MAX_FAILED_MESSAGE);
        format!(
            "{MAGIC}\n{}written-ms {}\nnames-owners {}\noutage-ms {outage_at}\nstreak {streak}\nmessage {message}\n",
            self.key.encode(),
            self.written_ms,
            if self.names_owners { "yes" } else { "no" },
        )
    }

    fn decode(text: &str) -> Option<PlatformState> {
        let mut fields = Fields::open(text, MAGIC)?;
        let key = fields.key()?;
        let mut field = |name: &str| fields.field(name);
        let written_ms = field("written-ms")?.parse().ok()?;
        let names_owners = match field("names-owners")?.as_str() {
            "yes" => true,
            "no" => false,
            _ => return None,
        };
        let outage_at = field("outage-ms")?;
        let streak: u32 = field("streak")?.parse().ok()?;
        let message = field("message")?;
        if !fields.done() || key.owner.is_some() {
            return None;
        }
        let outage = match outage_at.as_str() {
            "-" => None,
            at => Some(Outage {
                at_ms: at.parse().ok()?,
                streak: streak.max(1),
                message,
            }),
        };
        Some(PlatformState {
            key,
            names_owners,
            outage,
            written_ms,
        })
    }
}

/// Where one platform's record is kept: the cache directory (if there is
/// one) and the second place.
pub struct Store {
    key: Key,
    /// (directory, file name), the cache directory's first.
    places: Vec<(Cache, String)>,
}

impl Store {
    /// The record of the platform of `key` (its owner is ignored), in
    /// `cache_dir` and in the second place.
    pub fn new(cache_dir: Option<&Path>, key: &Key) -> Store {
        let key = key.for_owner(None);
        let mut places = Vec::with_capacity(2);
        if let Some(dir) = cache_dir {
            places.push((Cache::new(dir), STATE_FILE.to_string()));
        }
        if let Some(dir) = second_place(cache_dir) {
            // Shared by every cache directory of this user: named after
            // the platform and bearer.
            let tag = crate::secret::sha256_hex(key.encode().as_bytes());
            places.push((Cache::new(&dir), format!("platform-{}.state", &tag[..16])));
        }
        Store { key, places }
    }

    /// The newer record of the two places; nothing known when neither
    /// holds one for this platform.
    pub fn read(&self) -> PlatformState {
        self.places
            .iter()
            .filter_map(|(cache, name)| PlatformState::decode(&cache.read_file(name)?))
            .filter(|state| state.key == self.key)
            .max_by_key(|state| state.written_ms)
            .unwrap_or_else(|| PlatformState::unknown(&self.key))
    }

    /// Write `state` (stamped now) to the cache directory, else to the
    /// second place. A record that can be written nowhere is a debug line.
    pub fn write(&self, state: &PlatformState) {
        let state = PlatformState {
            key: self.key.clone(),
            written_ms: crate::token::cache::now_ms(),
            ..state.clone()
        };
        let text = state.encode();
        let mut why = Vec::new();
        for (i, (cache, name)) in self.places.iter().enumerate() {
            match cache.write_file(name, &text) {
                Ok(()) => {
                    // A record left in the second place is older now.
                    for (other, other_name) in &self.places[i + 1..] {
                        let path = other.dir().join(other_name);
                        if std::fs::symlink_metadata(&path).is_ok() {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                    return;
                }
                Err(Unusable(reason)) => why.push(reason),
            }
        }
        debug!(
            "cache: the platform's state was not kept: {}",
            why.join("; ")
        );
    }

    /// The record's path in the cache directory, if there is one.
    pub fn path(&self) -> Option<PathBuf> {
        let (cache, name) = self.places.first()?;
        Some(cache.dir().join(name))
    }
}

/// The second place for the platform's state, for when the cache directory
/// cannot be written: `$XDG_RUNTIME_DIR/molecule-git-token-helper-state`
/// when that is an absolute path that does not hold the cache directory,
/// else `molecule-git-token-helper-<uid>` in the temporary directory.
/// Either is used only if it is a directory of this user that nobody else
/// can write to (created 0700).
pub fn second_place(cache_dir: Option<&Path>) -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .filter(|d| !cache_dir.is_some_and(|c| c.starts_with(d)));
    match runtime {
        Some(dir) => Some(dir.join(RUNTIME_DIR_NAME)),
        None => {
            let tmp = std::env::temp_dir();
            // SAFETY: geteuid has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            tmp.is_absolute()
                .then(|| tmp.join(format!("{}-{uid}", crate::settings::CACHE_DIR_NAME)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn key() -> Key {
        Key::new("http://platform:8080", &Secret::new("bearer-one".into()))
    }

    fn outage(streak: u32, at_ms: i64) -> Outage {
        Outage {
            at_ms,
            streak,
            message: "down".into(),
        }
    }

    #[test]
    fn an_outage_is_remembered_longer_while_it_lasts_up_to_a_minute() {
        let secs = |streak| outage(streak, 0).memory().as_secs();
        let memories: Vec<u64> = (1..=7).map(secs).collect();
        assert_eq!(memories, [5, 10, 20, 40, 60, 60, 60]);
        assert_eq!(secs(u32::MAX), 60);
        let now = 1_795_437_296_000;
        assert!(outage(1, now - 4_000).is_remembered(now));
        assert!(!outage(1, now - 5_000).is_remembered(now));
        let ahead = outage(1, now + 3_600_000);
        assert!(!ahead.is_remembered(now));
        assert_eq!(Outage::next(Some(&ahead), now, "x").streak, 1);
        assert_eq!(Outage::next(Some(&outage(3, now - 1)), now, "x").streak, 4);
        assert_eq!(Outage::next(None, now, "x").streak, 1);
    }

    #[test]
    fn one_record_per_platform_whatever_the_owner_and_the_newer_of_two_places() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let orgb = crate::owner::Owner::parse("orgB").unwrap();
        let store = Store::new(Some(&dir), &key().for_owner(Some(&orgb)));
        assert_eq!(store.read(), PlatformState::unknown(&key()));
        let mut state = PlatformState::unknown(&key());
        state.outage = Some(outage(2, 1234));
        state.names_owners = true;
        store.write(&state);
        let back = Store::new(Some(&dir), &key()).read();
        assert_eq!(
            (back.outage, back.names_owners),
            (state.outage.clone(), true)
        );
        assert!(dir.join(STATE_FILE).is_file());
        // Another bearer's platform knows nothing of it.
        let rotated = Key::new("http://platform:8080", &Secret::new("rotated".into()));
        assert_eq!(Store::new(Some(&dir), &rotated).read().outage, None);
        // Cut anywhere, it is not read.
        let text = std::fs::read_to_string(dir.join(STATE_FILE)).unwrap();
        for cut in 0..text.len() - 1 {
            assert_eq!(PlatformState::decode(&text[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn an_unwritable_cache_directory_keeps_the_record_in_the_second_place() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let second = tmp.path().join("second");
        let store = Store {
            key: key(),
            places: vec![
                (Cache::new(&file), STATE_FILE.into()),
                (Cache::new(&second), "platform-x.state".into()),
            ],
        };
        let mut state = PlatformState::unknown(&key());
        state.outage = Some(outage(1, 99));
        store.write(&state);
        assert_eq!(store.read().outage, Some(outage(1, 99)));
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&second).unwrap().mode() & 0o777, 0o700);
        assert_eq!(
            std::fs::metadata(second.join("platform-x.state"))
                .unwrap()
                .mode()
                & 0o777,
            0o600
        );
    }
}

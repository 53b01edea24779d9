//! What the engine remembers of one entry's fetches, in the cache
//! directory (every file 0600, written atomically, never a token):
//!
//! - `token.failed`: the last fetch of this entry that failed, keyed like
//!   the entry, so that the processes that were queued behind it fail at
//!   once (git reaches its next helper) instead of each asking again, and
//!   for `status`. Whether the platform is unavailable for everyone is not
//!   this file's to say: that is the platform's state
//!   (`platform_state.rs`, read by every request); an owner without an
//!   installation is the owner's (`absent.rs`). A success removes it.
//! - `token.history`, what happened, for `status` and the person debugging
//!   a failed push: the last failure (when, what), how many since the last
//!   success, and the last time git rejected a token. A few lines, bounded.
//!
//! An owner's entry (`token@OWNER`) has its own, `token@OWNER.failed` and
//! `token@OWNER.history`.

use std::path::PathBuf;
use std::time::Duration;

use crate::diag::debug;
use crate::token::cache::{Cache, Unusable};
use crate::token::entry::{Fields, Key};

/// The default entry's failure memory; an owner's is `token@OWNER.failed`.
pub const FAILED_FILE: &str = "token.failed";
/// The default entry's record; an owner's is `token@OWNER.history`.
pub const HISTORY_FILE: &str = "token.history";
const FAILED_SUFFIX: &str = ".failed";
const HISTORY_SUFFIX: &str = ".history";
const FAILED_MAGIC: &str = "molecule-git-token-helper failure v3";
const HISTORY_MAGIC: &str = "molecule-git-token-helper history v1";
/// A failure's message is cut to this many bytes when it is remembered.
pub(crate) const MAX_FAILED_MESSAGE: usize = 1024;

/// A remembered failed fetch: so that processes queued behind it, or
/// arriving just after it while the platform is down, fail at once (and git
/// reaches its next helper quickly) instead of each asking again in turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    pub key: Key,
    /// When the fetch failed, in unix milliseconds.
    pub at_ms: i64,
    /// Whether the platform was unavailable (the platform's outage memory,
    /// `platform_state`, shares it with every process) or answered badly (shared only with the processes
    /// that were already waiting behind that fetch).
    pub unavailable: bool,
    /// Fetches in a row that found the platform unavailable, this one
    /// included (0 for a bad answer): the memory grows with it.
    pub streak: u32,
    /// The fetch's error, one line, never a secret.
    pub message: String,
}

impl Failed {
    /// How long ago it failed, at `now_ms`; `None` when it failed in the
    /// future (the clock went back): then it is stale, and answers for
    /// nobody.
    pub fn age(&self, now_ms: i64) -> Option<Duration> {
        let age = now_ms.checked_sub(self.at_ms)?;
        u64::try_from(age).ok().map(Duration::from_millis)
    }

    fn encode(&self) -> String {
        let mut message = one_line(&self.message);
        cut(&mut message, MAX_FAILED_MESSAGE);
        format!(
            "{FAILED_MAGIC}\n{}at-ms {}\nkind {}\nstreak {}\nmessage {message}\n",
            self.key.encode(),
            self.at_ms,
            if self.unavailable {
                "unavailable"
            } else {
                "bad-answer"
            },
            self.streak,
        )
    }

    fn decode(text: &str) -> Option<Failed> {
        let mut fields = Fields::open(text, FAILED_MAGIC)?;
        let key = fields.key()?;
        let mut field = |name: &str| fields.field(name);
        let at_ms = field("at-ms")?.parse().ok()?;
        let unavailable = match field("kind")?.as_str() {
            "unavailable" => true,
            "bad-answer" => false,
            _ => return None,
        };
        let streak = field("streak")?.parse().ok()?;
        let message = field("message")?;
        if !fields.done() {
            return None;
        }
        Some(Failed {
            key,
            at_ms,
            unavailable,
            streak,
            message,
        })
    }
}

/// The failure memory's path in `cache`.
pub fn failed_path(cache: &Cache) -> PathBuf {
    cache.dir().join(cache.file_name(FAILED_SUFFIX))
}

/// Read the remembered failure, if there is one (anything unreadable or
/// not one we wrote is none).
pub fn read_failed(cache: &Cache) -> Option<Failed> {
    Failed::decode(&cache.read_file(&cache.file_name(FAILED_SUFFIX))?)
}

/// Remember a failed fetch, atomically (0600 from its creation), for the
/// processes that come next. Call with the lock held.
pub fn write_failed(cache: &Cache, failed: &Failed) -> Result<(), Unusable> {
    cache.write_file(&cache.file_name(FAILED_SUFFIX), &failed.encode())
}

/// Forget the remembered failure (a fetch succeeded). Call with the lock
/// held.
pub fn remove_failed(cache: &Cache) {
    let _ = std::fs::remove_file(failed_path(cache));
}

/// `text` on one line: control characters become spaces (it goes to a
/// terminal, and must not break the file's lines).
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Cut `text` to at most `max` bytes, on a character boundary.
pub(crate) fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
}

/// What happened, for `status`: read from `token.history`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// The last fetch that failed (a refresh too): when, in unix
    /// milliseconds, and its one-line message.
    pub last_failure: Option<(i64, String)>,
    /// Fetches that failed since the last success (or ever, if none).
    pub failures_since_success: u32,
    /// When a fetch last succeeded after failures (unix milliseconds); a
    /// success with no failure before it is not written down (the cold
    /// path stays one file write).
    pub recovered_at: Option<i64>,
    /// When git last rejected the token this helper had cached (`erase`).
    pub last_rejected: Option<i64>,
}

impl History {
    fn encode(&self) -> String {
        let time = |t: Option<i64>| t.map_or_else(|| "-".to_string(), |t| t.to_string());
        let (failed_at, mut message) = match &self.last_failure {
            Some((at, message)) => (Some(*at), one_line(message)),
            None => (None, String::new()),
        };
        cut(&mut message, MAX_FAILED_MESSAGE);
        format!(
            "{HISTORY_MAGIC}\nfailures {}\nlast-failure-ms {}\nrecovered-ms {}\nrejected-ms {}\nlast-failure {message}\n",
            self.failures_since_success,
            time(failed_at),
            time(self.recovered_at),
            time(self.last_rejected),
        )
    }

    fn decode(text: &str) -> Option<History> {
        let mut fields = Fields::open(text, HISTORY_MAGIC)?;
        let mut field = |name: &str| fields.field(name);
        let time = |value: String| -> Option<Option<i64>> {
            match value.as_str() {
                "-" => Some(None),
                t => Some(Some(t.parse().ok()?)),
            }
        };
        let failures_since_success = field("failures")?.parse().ok()?;
        let failed_at = time(field("last-failure-ms")?)?;
        let recovered_at = time(field("recovered-ms")?)?;
        let last_rejected = time(field("rejected-ms")?)?;
        let message = field("last-failure")?;
        if !fields.done() {
            return None;
        }
        Some(History {
            last_failure: failed_at.map(|at| (at, message)),
            failures_since_success,
            recovered_at,
            last_rejected,
        })
    }
}

/// The record of what happened; empty when there is none (or it is not
/// one we wrote).
pub fn read_history(cache: &Cache) -> History {
    cache
        .read_file(&cache.file_name(HISTORY_SUFFIX))
        .and_then(|text| History::decode(&text))
        .unwrap_or_default()
}

/// Change the record (call with the lock held). A record that cannot be
/// written costs only `status` its story: a debug line.
fn update_history(cache: &Cache, change: impl FnOnce(&mut History) -> bool) {
    let mut history = read_history(cache);
    if !change(&mut history) {
        return;
    }
    if let Err(Unusable(why)) =
        cache.write_file(&cache.file_name(HISTORY_SUFFIX), &history.encode())
    {
        debug!("cache: {why}");
    }
}

/// A fetch failed at `at_ms` with `message` (never a secret).
pub fn record_failure(cache: &Cache, at_ms: i64, message: &str) {
    update_history(cache, |h| {
        h.last_failure = Some((at_ms, message.to_string()));
        h.failures_since_success = h.failures_since_success.saturating_add(1);
        true
    });
}

/// A fetch succeeded at `at_ms`: written down only when failures came
/// before it.
pub fn record_success(cache: &Cache, at_ms: i64) {
    update_history(cache, |h| {
        if h.failures_since_success == 0 {
            return false;
        }
        h.failures_since_success = 0;
        h.recovered_at = Some(at_ms);
        true
    });
}

/// git rejected the cached token at `at_ms`.
pub fn record_rejected(cache: &Cache, at_ms: i64) {
    update_history(cache, |h| {
        h.last_rejected = Some(at_ms);
        true
    });
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use super::*;
    use crate::secret::Secret;

    fn key() -> Key {
        Key::new("http://platform:8080", &Secret::new("bearer-one".into()))
    }

    fn unavailable(streak: u32, at_ms: i64) -> Failed {
        Failed {
            key: key(),
            at_ms,
            unavailable: true,
            streak,
            message: "down".into(),
        }
    }

    #[test]
    fn a_failure_from_the_future_has_no_age() {
        let now = 1_795_437_296_000;
        assert_eq!(
            unavailable(1, now - 4_000).age(now),
            Some(Duration::from_secs(4))
        );
        // The clock went back an hour after it was written: no age at all
        // (the engine then takes it for no failure met while waiting).
        assert_eq!(unavailable(1, now + 3_600_000).age(now), None);
    }

    #[test]
    fn the_history_counts_failures_until_a_success_and_keeps_a_rejection() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(&tmp.path().join("h"));
        assert_eq!(read_history(&cache), History::default());
        // A success with nothing before it writes nothing.
        record_success(&cache, 1);
        assert!(cache.read_file(HISTORY_FILE).is_none());
        record_failure(&cache, 10, "platform error\n(HTTP 503)");
        record_failure(&cache, 20, "platform error (HTTP 503) again");
        let h = read_history(&cache);
        assert_eq!(h.failures_since_success, 2);
        assert_eq!(
            h.last_failure,
            Some((20, "platform error (HTTP 503) again".into()))
        );
        record_success(&cache, 30);
        record_rejected(&cache, 40);
        let h = read_history(&cache);
        assert_eq!(
            (h.failures_since_success, h.recovered_at, h.last_rejected),
            (0, Some(30), Some(40))
        );
        assert_eq!(h.last_failure.unwrap().0, 20);
        let path = cache.dir().join(HISTORY_FILE);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        // Bounded, whatever the message.
        record_failure(&cache, 50, &"x".repeat(100_000));
        assert!(std::fs::metadata(&path).unwrap().len() < 2048);
        let text = std::fs::read_to_string(&path).unwrap();
        for cut in 0..text.len() - 1 {
            assert_eq!(History::decode(&text[..cut]), None, "cut at {cut}");
        }
        let _ = Path::new("");
    }

    #[test]
    fn a_failure_is_remembered_privately_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let cache = Cache::new(&dir);
        assert_eq!(read_failed(&cache), None);
        let failed = Failed {
            key: key(),
            at_ms: 1_795_437_296_123,
            unavailable: true,
            streak: 3,
            message: "cannot connect\nto the platform".into(),
        };
        write_failed(&cache, &failed).unwrap();
        let back = read_failed(&cache).unwrap();
        assert_eq!(back.message, "cannot connect to the platform");
        assert_eq!(
            (back.key, back.at_ms, back.unavailable, back.streak),
            (key(), failed.at_ms, true, 3)
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&failed_path(&cache)), 0o600);
        let text = std::fs::read_to_string(failed_path(&cache)).unwrap();
        for cut in 0..text.len() - 1 {
            assert_eq!(Failed::decode(&text[..cut]), None, "cut at {cut}");
        }
        assert_eq!(Failed::decode(&text.replace("unavailable", "maybe")), None);
        let long = Failed {
            message: "é".repeat(2000),
            unavailable: false,
            ..failed
        };
        write_failed(&cache, &long).unwrap();
        let back = read_failed(&cache).unwrap();
        assert!(back.message.len() <= MAX_FAILED_MESSAGE && !back.unavailable);
        remove_failed(&cache);
        assert_eq!(read_failed(&cache), None);
    }
}

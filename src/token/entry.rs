//! The cache entry's format: what makes an entry ours to serve ([`Key`]:
//! the platform, the bearer, the owner), the entry itself ([`Entry`]),
//! whether to serve it ([`freshness`]), and the `name value` lines every
//! file of the cache is written in ([`Fields`]). Where the files are, and
//! how they are read and written: `cache.rs`.

use std::time::Duration;

use crate::owner::Owner;
use crate::scope::Scope;
use crate::secret::Secret;
use crate::token::Token;

const MAGIC: &str = "molecule-git-token-helper cache v2";
/// An entry is kept at most this long after its fetch, whatever its
/// `expires_at` says (a platform clock or bug cannot pin a token for days).
pub const MAX_AGE: i64 = 3600;
/// Within the refresh window a re-fetch is tried at most this often.
pub const REFRESH_INTERVAL: i64 = 30;

/// What makes an entry ours to serve: the platform and the bearer that got
/// it, and the owner whose installation's token it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub platform: String,
    /// SHA-256 of the bearer (domain-separated), in hex: comparing it tells
    /// a rotated bearer apart without keeping the bearer anywhere.
    pub bearer_sha256: String,
    /// The owner's login in lower case; `None` for the default entry.
    pub owner: Option<String>,
    /// A narrowed token's scope ([`Scope::query`]); `None` for a full
    /// token's.
    pub scope: Option<String>,
}

impl Key {
    pub fn new(platform_url: &str, bearer: &Secret) -> Key {
        let mut data = b"molecule-git-token-helper bearer\0".to_vec();
        data.extend_from_slice(bearer.expose().as_bytes());
        Key {
            platform: platform_url.to_string(),
            bearer_sha256: crate::secret::sha256_hex(&data),
            owner: None,
            scope: None,
        }
    }

    /// This key for the entry of `owner`'s token narrowed to `scope`.
    pub fn for_request(&self, owner: Option<&Owner>, scope: &Scope) -> Key {
        Key {
            owner: owner.map(Owner::key),
            scope: (!scope.is_full()).then(|| scope.query()),
            ..self.clone()
        }
    }

    /// This key for `owner`'s entry (`None`: the default entry).
    pub fn for_owner(&self, owner: Option<&Owner>) -> Key {
        self.for_request(owner, &Scope::full())
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
    /// The platform ignored the owner it was asked for (today's platform):
    /// this token serves every owner, and other owners are served from it
    /// with no request of their own. Only the default entry has it.
    pub any_owner: bool,
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

    pub(crate) fn encode(&self) -> String {
        format!(
            "{MAGIC}\n{}fetched {}\nrefresh-tried {}\nany-owner {}\nexpires {}\ntoken {}\n",
            self.key.encode(),
            self.fetched_at,
            self.refresh_tried_at
                .map_or_else(|| "-".to_string(), |t| t.to_string()),
            if self.any_owner { "yes" } else { "no" },
            self.expires_at,
            self.secret.expose(),
        )
    }

    /// Parse an entry; `None` for anything that is not one we wrote whole.
    pub(crate) fn decode(text: &str) -> Option<Entry> {
        let mut fields = Fields::open(text, MAGIC)?;
        let key = fields.key()?;
        let mut field = |name: &str| fields.field(name);
        let fetched_at = field("fetched")?.parse().ok()?;
        let refresh_tried_at = match field("refresh-tried")?.as_str() {
            "-" => None,
            t => Some(t.parse().ok()?),
        };
        let any_owner = match field("any-owner")?.as_str() {
            "yes" => true,
            "no" => false,
            _ => return None,
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
            any_owner,
        })
    }
}

impl Key {
    /// The key's lines, as every file of the cache starts with them.
    pub(crate) fn encode(&self) -> String {
        let scope = match &self.scope {
            Some(scope) => format!("scope {scope}\n"),
            None => String::new(),
        };
        format!(
            "platform {}\nbearer-sha256 {}\nowner {}\n{scope}",
            self.platform,
            self.bearer_sha256,
            self.owner.as_deref().unwrap_or("-")
        )
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
    lines: std::iter::Peekable<std::str::Split<'a, char>>,
}

impl<'a> Fields<'a> {
    /// `None` unless `text` is whole (ends with a newline) and starts with `magic`.
    pub(crate) fn open(text: &'a str, magic: &str) -> Option<Fields<'a>> {
        let mut lines = text.strip_suffix('\n')?.split('\n');
        (lines.next()? == magic).then_some(Fields {
            lines: lines.peekable(),
        })
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
            owner: match self.field("owner")?.as_str() {
                "-" => None,
                owner => Some(Owner::parse(owner)?.key()),
            },
            // Only a narrowed token's key has it: a full token's files are
            // as they were.
            scope: match self.lines.peek() {
                Some(line) if line.starts_with("scope ") => Some(self.field("scope")?),
                _ => None,
            },
        })
    }

    /// Nothing follows the last field.
    pub(crate) fn done(&mut self) -> bool {
        self.lines.next().is_none()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The refresh window the tests of the cache's files use.
    pub(crate) const WINDOW: Duration = Duration::from_secs(300);

    /// The default entry's key for one platform and bearer.
    pub(crate) fn key() -> Key {
        Key::new("http://platform:8080", &Secret::new("bearer-one".into()))
    }

    /// An entry under [`key`] holding `ghs_cached`.
    pub(crate) fn entry(fetched_at: i64, expires_at: i64, refresh_tried_at: Option<i64>) -> Entry {
        Entry {
            key: key(),
            secret: Secret::new("ghs_cached".into()),
            expires_at,
            fetched_at,
            refresh_tried_at,
            any_owner: false,
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
        assert_eq!(Entry::decode(&text.replace("v2", "v1")), None);
        assert_eq!(
            Entry::decode(&text.replace("any-owner no", "any-owner maybe")),
            None
        );
        assert_eq!(Entry::decode(&text.replace("owner -", "owner a_b")), None);
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
}

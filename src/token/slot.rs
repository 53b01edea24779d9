//! One installation per owner: which cache entry serves a request for an
//! owner, and which entry the platform's answer goes to.
//!
//! A request names an owner (a repository's organisation or user) or none.
//! The owner's own entry (`token@OWNER`) serves it while it is usable. A
//! platform that mints per owner names the owner in every answer (its
//! default installation's login when no owner was asked for:
//! `docs/platform-api.md`); an answer that names none comes from a platform
//! that ignores owners (today's), whose token serves every owner. That
//! token is the default entry's, marked [`Entry::any_owner`]: every owner
//! is then served from that entry, and asks the platform (with its owner,
//! so that a platform that learns owners is noticed) only when that entry
//! needs a refresh. So today's platform sees one request per token life,
//! as before, whoever asks first.

use std::path::Path;
use std::time::Duration;

use super::cache::Cache;
use super::entry::{self, Entry, Freshness, Key};
use crate::owner::Owner;
use crate::scope::Scope;
use crate::token::request::Request;

/// The entry a request is served from (and whose failure memory and history
/// its fetch uses), and the owner its fetch asks for.
pub struct Slot {
    pub cache: Cache,
    pub key: Key,
    /// `?owner=` of the fetch, if one is needed.
    pub query: Option<Owner>,
    /// What the token is narrowed to (the full scope: not narrowed).
    pub scope: Scope,
    /// The entry as read (`Err`: something unusable is in its place).
    pub seen: Result<Option<Entry>, String>,
}

/// The slot for `request`, with `key` the default entry's key.
///
/// A narrowed request is served from its own entry only: never from the
/// default entry of a platform that ignores owners (a full token).
pub fn choose(dir: &Path, key: &Key, request: &Request, now: i64, window: Duration) -> Slot {
    let owner = request.owner();
    if request.is_narrowed() {
        let cache = Cache::for_request(dir, request);
        return Slot {
            seen: cache.read(),
            cache,
            key: key.for_request(owner, request.scope()),
            query: owner.cloned(),
            scope: request.scope().clone(),
        };
    }
    let default = || Slot {
        cache: Cache::new(dir),
        key: key.clone(),
        query: owner.cloned(),
        scope: Scope::full(),
        seen: Cache::new(dir).read(),
    };
    let Some(owner) = owner else {
        return default();
    };
    let own = Slot {
        cache: Cache::for_request(dir, request),
        key: key.for_owner(Some(owner)),
        query: Some(owner.clone()),
        scope: Scope::full(),
        seen: Cache::for_request(dir, request).read(),
    };
    let usable = |slot: &Slot| match &slot.seen {
        Ok(Some(entry)) => entry::freshness(entry, &slot.key, now, window) != Freshness::Unusable,
        _ => false,
    };
    if usable(&own) {
        return own;
    }
    let shared = default();
    let serves_every_owner = matches!(&shared.seen, Ok(Some(entry)) if entry.any_owner);
    if serves_every_owner && usable(&shared) {
        return shared;
    }
    own
}

/// Where a fetched token goes: the entry (files and key) and whether it
/// serves every owner. `answered`: the owner the platform named;
/// `names_owners`: the platform has named an owner before.
pub fn destination(
    slot: &Slot,
    dir: &Path,
    default_key: &Key,
    answered: Option<&Owner>,
    names_owners: bool,
) -> (Cache, Key, bool) {
    // A narrowed token: the entry it was asked for (an answer for another
    // owner was refused before this).
    if !slot.scope.is_full() {
        return (slot.cache.clone(), slot.key.clone(), false);
    }
    match (&slot.query, answered) {
        // Minted for the owner asked for: its own entry.
        (Some(_), Some(owner)) => (
            Cache::for_owner(dir, Some(owner)),
            default_key.for_owner(Some(owner)),
            false,
        ),
        // A platform that has named owners answered without one: the token
        // serves the owner asked for, never every owner.
        (Some(asked), None) if names_owners => (
            Cache::for_owner(dir, Some(asked)),
            default_key.for_owner(Some(asked)),
            false,
        ),
        // No owner asked for, and the platform named its default
        // installation's: it mints per owner; the default entry serves
        // requests that name no owner.
        (None, Some(_)) => (Cache::new(dir), default_key.clone(), false),
        // An answer that names no owner: the platform ignores owners, and
        // its token serves every owner.
        (_, None) => (Cache::new(dir), default_key.clone(), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    const WINDOW: Duration = Duration::from_secs(300);
    const NOW: i64 = 10_000;

    fn key() -> Key {
        Key::new("http://platform:8080", &Secret::new("bearer-one".into()))
    }

    fn entry(key: Key, any_owner: bool) -> Entry {
        Entry {
            key,
            secret: Secret::new("ghs_cached".into()),
            expires_at: NOW + 3000,
            fetched_at: NOW - 60,
            refresh_tried_at: None,
            any_owner,
        }
    }

    #[test]
    fn an_owner_is_served_by_its_entry_else_by_a_default_that_serves_every_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let orgb = Owner::parse("orgB").unwrap();
        let slot =
            |owner: Option<&Owner>| choose(dir, &key(), &Request::for_owner(owner), NOW, WINDOW);
        // Nothing cached: the owner's own entry, asking for the owner.
        let s = slot(Some(&orgb));
        assert_eq!(s.cache.owner(), Some("orgb"));
        assert_eq!(s.query, Some(orgb.clone()));
        // A default entry of a platform that names owners: not for orgB.
        Cache::new(dir).write(&entry(key(), false)).unwrap();
        assert_eq!(slot(Some(&orgb)).cache.owner(), Some("orgb"));
        // One that ignored the owner: orgB is served from it.
        Cache::new(dir).write(&entry(key(), true)).unwrap();
        let s = slot(Some(&orgb));
        assert_eq!((s.cache.owner(), s.query.is_some()), (None, true));
        assert!(matches!(s.seen, Ok(Some(_))));
        // orgB's own entry, once there, wins.
        Cache::for_owner(dir, Some(&orgb))
            .write(&entry(key().for_owner(Some(&orgb)), false))
            .unwrap();
        assert_eq!(slot(Some(&orgb)).cache.owner(), Some("orgb"));
        // No owner: the default entry, no query.
        let s = slot(None);
        assert_eq!((s.cache.owner(), s.query), (None, None));
        // A default entry of another bearer serves nobody.
        let other = Key::new("http://platform:8080", &Secret::new("rotated".into()));
        let orgc = Owner::parse("orgC").unwrap();
        assert_eq!(
            choose(dir, &other, &Request::for_owner(Some(&orgc)), NOW, WINDOW)
                .cache
                .owner(),
            Some("orgc")
        );
    }

    #[test]
    fn an_answer_goes_to_the_entry_of_the_owner_it_names() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let orgb = Owner::parse("orgB").unwrap();
        let asked = choose(dir, &key(), &Request::for_owner(Some(&orgb)), NOW, WINDOW);
        let (cache, k, any) = destination(&asked, dir, &key(), Some(&orgb), false);
        assert_eq!(
            (cache.owner(), k.owner.as_deref(), any),
            (Some("orgb"), Some("orgb"), false)
        );
        let (cache, k, any) = destination(&asked, dir, &key(), None, false);
        assert_eq!((cache.owner(), k, any), (None, key(), true));
        // Once the platform has named an owner, an answer without one
        // serves the owner asked for only.
        let (cache, k, any) = destination(&asked, dir, &key(), None, true);
        assert_eq!(
            (cache.owner(), k.owner.as_deref(), any),
            (Some("orgb"), Some("orgb"), false)
        );
        // No owner asked for: an answer naming the default installation's
        // owner comes from a platform that mints per owner; one naming
        // none, from a platform whose token serves every owner.
        let none = choose(dir, &key(), &Request::default(), NOW, WINDOW);
        let orga = Owner::parse("orgA").unwrap();
        let (cache, k, any) = destination(&none, dir, &key(), Some(&orga), false);
        assert_eq!((cache.owner(), k, any), (None, key(), false));
        assert!(destination(&none, dir, &key(), None, false).2);
        assert!(destination(&none, dir, &key(), None, true).2);
    }
}

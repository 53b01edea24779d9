//! The engine: a token for a request, from the cache while it is fresh,
//! else from the platform with one fetch for all the processes that ask at
//! once ([`serve_for`], in steps); and [`forget`], which drops a token git
//! rejected.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use super::cache::{self, Cache};
use super::entry::{self, Entry, Freshness};
use super::lock::{self, Attempt, Lock, LockError};
use super::memory::{self, Failed};
use super::{Served, Token, answer, now_unix, platform, slot};
use crate::diag::debug;
use crate::owner::Owner;
use crate::scope::Scope;
use crate::secret::{self, Secret};
use crate::settings::Settings;

/// How long a refresh may take while a still-valid cached token waits.
const REFRESH_BUDGET: Duration = Duration::from_secs(2);

/// [`platform_token_for`], and whether it came from the cache.
///
/// The entry is `owner`'s own, or the default entry when the platform
/// ignored owners ([`slot`]): single flight, the refresh window and the
/// failure memory below hold per entry.
///
/// The warm path (a fresh entry) reads one small file (two for an owner
/// served from the default entry): no lock, no runtime, no client.
/// Otherwise, in order:
/// - a platform found unavailable a moment ago (within the failure memory,
///   [`Failed::memory`]: 5 s, doubling while the outage lasts, at most a
///   minute) is not asked again: the still-valid cached token is served if
///   there is one, else the remembered failure is the answer;
/// - the lock is tried; when another process holds it (it is fetching, or
///   stalled), a still-valid cached token is served at once. A process with
///   nothing valid waits only for a fetch that began less than
///   [`lock::WAIT_FOR_OTHERS`] ago, and not at all while an outage is
///   known (the holder is asking again after one): it falls through, so at
///   most one process waits on a failing platform;
/// - with the lock, the cache is read again: another process's new token is
///   served, and so is its failure when it failed while we waited (any
///   failure: a bad answer is shared only with the processes that were
///   waiting behind that fetch; the next command asks again);
/// - else the platform is asked, and its token, or its failure, written.
///
/// A remembered time from the future (the clock went back) is stale: it
/// never blocks a fetch, and never keeps an entry alive.
pub fn serve_for(settings: &Settings, owner: Option<&Owner>) -> Result<Served> {
    serve_scoped(settings, owner, &Scope::full())
}

/// [`serve_for`], for a token narrowed to `scope`: its own entry (one per
/// owner and scope), never a full token's, and an answer wider than
/// `scope` is never served nor cached ([`platform::fetch_scoped`]).
pub fn serve_scoped(settings: &Settings, owner: Option<&Owner>, scope: &Scope) -> Result<Served> {
    let started_ms = cache::now_ms();
    let deadline = Instant::now() + settings.timeout;
    let bearer = secret::read_bearer(&settings.bearer_path())?;
    let Some(dir) = &settings.cache_dir else {
        debug!("cache: off");
        return fetched(platform::fetch_scoped(settings, &bearer, deadline, owner, scope)?.token);
    };
    let ask = Ask {
        settings,
        dir,
        default_key: entry::Key::new(&settings.platform_url, &bearer),
        bearer: &bearer,
        deadline,
        window: settings.refresh_window,
        started_ms,
    };

    // The fast path: one small file, no lock, no runtime, no client.
    let mut slot = slot::choose_scoped(dir, &ask.default_key, owner, scope, now_unix(), ask.window);
    if owner.is_some() && slot.cache.owner().is_none() {
        debug!("cache: the platform ignored owners; serving from the default entry");
    }
    let seen = match std::mem::replace(&mut slot.seen, Ok(None)) {
        Ok(entry) => entry,
        Err(why) => {
            debug!("cache: {why}; treating it as empty");
            None
        }
    };
    // A token that is due for a refresh but still works.
    let mut valid = None;
    if let Some(entry) = &seen {
        match entry::freshness(entry, &slot.key, now_unix(), ask.window) {
            f @ (Freshness::Fresh | Freshness::Hold) => return Ok(hit(entry, f)),
            Freshness::Refresh => valid = Some(entry),
            f => debug!("cache: entry is {f:?}"),
        }
    }

    // A fetch looks needed.
    let outage = match ask.recent_failure(&slot, valid) {
        ControlFlow::Continue(outage) => outage,
        ControlFlow::Break(served) => return served,
    };
    let _lock = match ask.lock(&slot, valid, outage.as_ref()) {
        ControlFlow::Continue(lock) => lock,
        ControlFlow::Break(served) => return served,
    };
    let now = now_unix();
    let (stale, failed) = match ask.look_again(&slot, seen.as_ref(), now) {
        ControlFlow::Continue(found) => found,
        ControlFlow::Break(served) => return served,
    };
    ask.fetch(&slot, now, stale, failed)
}

/// What every step of a request that found no fresh entry needs.
struct Ask<'a> {
    settings: &'a Settings,
    dir: &'a Path,
    /// The default entry's key.
    default_key: entry::Key,
    bearer: &'a Secret,
    /// One deadline for the whole request.
    deadline: Instant,
    window: Duration,
    /// When the request began (a failure since was met while it waited).
    started_ms: i64,
}

impl Ask<'_> {
    /// A platform that was unavailable a moment ago is not asked again: the
    /// still-valid token (`valid`) or the remembered failure is the answer.
    /// Else the outage the last fetch found, if no fetch has succeeded since
    /// (whoever holds the lock is asking the platform again).
    fn recent_failure(
        &self,
        slot: &slot::Slot,
        valid: Option<&Entry>,
    ) -> ControlFlow<Result<Served>, Option<Failed>> {
        let (cache, key) = (&slot.cache, &slot.key);
        let failed = memory::read_failed(cache).filter(|f| f.key == *key);
        if let Some(failed) = failed.as_ref().filter(|f| f.is_remembered(cache::now_ms())) {
            return ControlFlow::Break(match valid {
                Some(entry) => {
                    debug!("cache: the platform failed a moment ago; not asking it again");
                    Ok(hit(entry, Freshness::Refresh))
                }
                None => Err(remembered(failed)),
            });
        }
        ControlFlow::Continue(failed.filter(|f| f.unavailable && f.age(cache::now_ms()).is_some()))
    }

    /// Take the lock; or, when another process holds it, serve the
    /// still-valid token (`valid`), answer with the `outage`, or wait for
    /// its fetch within the rules ([`serve_for`]).
    fn lock(
        &self,
        slot: &slot::Slot,
        valid: Option<&Entry>,
        outage: Option<&Failed>,
    ) -> ControlFlow<Result<Served>, Lock> {
        let cache = &slot.cache;
        let (settings, deadline) = (self.settings, self.deadline);
        let give_up = |error| lock_failed(settings, slot, self.bearer, deadline, error);
        let lock = match (lock::try_lock(cache), valid) {
            (Ok(Attempt::Locked(lock)), _) => lock,
            // Another process is fetching, or is stalled: a token that still
            // works is served now rather than after its fetch.
            (Ok(Attempt::Held(_)), Some(entry)) => {
                debug!("cache: another process holds the lock; serving the still-valid token");
                return ControlFlow::Break(Ok(hit(entry, Freshness::Refresh)));
            }
            // One process asks a platform that was down; the others do not
            // queue behind it.
            (Ok(Attempt::Held(_)), None) if outage.is_some() => {
                debug!("cache: another process is asking the platform again after an outage");
                return ControlFlow::Break(Err(remembered(outage.expect("checked"))));
            }
            (Ok(Attempt::Held(held)), None) => match held.wait_for_fetch(deadline) {
                Ok(lock) => lock,
                Err(LockError::Timeout) if Instant::now() < deadline => {
                    return ControlFlow::Break(Err(anyhow!(
                        "another helper process has been asking the platform at {} for over {} s \
                         (it holds {}); not waiting for it",
                        crate::secret::redact_url_userinfo(&settings.token_url()),
                        lock::WAIT_FOR_OTHERS.as_secs_f64(),
                        cache.lock_path().display()
                    )));
                }
                Err(error) => return ControlFlow::Break(give_up(error)),
            },
            // The cache cannot be written (no lock can be taken): a token that
            // still works is served; a refresh could be neither shared nor kept.
            (Err(LockError::Unusable(cache::Unusable(why))), Some(entry)) => {
                debug!("cache: {why}; serving the still-valid token");
                return ControlFlow::Break(Ok(hit(entry, Freshness::Refresh)));
            }
            (Err(error), _) => return ControlFlow::Break(give_up(error)),
        };
        ControlFlow::Continue(lock)
    }

    /// With the lock, the cache read again: whoever held it may have just
    /// fetched (its token is served) or failed (its failure is the answer).
    /// Else the entry to refresh, if it still works (`seen`, unchanged), and
    /// the failure remembered.
    fn look_again(
        &self,
        slot: &slot::Slot,
        seen: Option<&Entry>,
        now: i64,
    ) -> ControlFlow<Result<Served>, (Option<Entry>, Option<Failed>)> {
        let (cache, key) = (&slot.cache, &slot.key);
        let current = cache.read().unwrap_or_default();
        let mut stale = None;
        if let Some(entry) = current {
            let freshness = entry::freshness(&entry, key, now, self.window);
            match freshness {
                Freshness::Fresh | Freshness::Hold => {
                    return ControlFlow::Break(Ok(hit(&entry, freshness)));
                }
                // Another process replaced the entry while we waited: that was
                // the fetch we were about to make.
                Freshness::Refresh if seen != Some(&entry) => {
                    return ControlFlow::Break(Ok(hit(&entry, freshness)));
                }
                Freshness::Refresh => stale = Some(entry),
                Freshness::Unusable => {}
            }
        }
        // A fetch failed while we waited for it (or the platform was found
        // unavailable a moment ago): that was the fetch we were about to make.
        // Not one from the future: the clock went back, and it says nothing
        // about this wait.
        let failed = memory::read_failed(cache).filter(|f| f.key == *key);
        let now_ms = cache::now_ms();
        if let Some(failed) = failed.as_ref().filter(|f| {
            let while_waiting = f.at_ms >= self.started_ms && f.age(now_ms).is_some();
            while_waiting || f.is_remembered(now_ms)
        }) {
            return ControlFlow::Break(match stale {
                Some(entry) => Ok(hit(&entry, Freshness::Refresh)),
                None => Err(remembered(failed)),
            });
        }
        ControlFlow::Continue((stale, failed))
    }

    /// Ask the platform (a short budget when `stale` still works: git
    /// should not wait out a platform's retries for a token it has); write
    /// back its token, or its failure.
    fn fetch(
        &self,
        slot: &slot::Slot,
        now: i64,
        stale: Option<Entry>,
        failed: Option<Failed>,
    ) -> Result<Served> {
        let fetch_deadline = match stale {
            Some(_) => self.deadline.min(Instant::now() + REFRESH_BUDGET),
            None => self.deadline,
        };
        let outcome = platform::fetch_scoped(
            self.settings,
            self.bearer,
            fetch_deadline,
            slot.query.as_ref(),
            &slot.scope,
        );
        match outcome {
            Ok(answer) => self.write_back(slot, now, answer, stale.as_ref(), failed.is_some()),
            Err(error) => serve_stale(slot, now, error, stale, failed.as_ref()),
        }
    }

    /// The platform's token: written to the entry it belongs to (with its
    /// expiry; a token without one is not cached), and the outage, if one
    /// was remembered (`failed`), over.
    fn write_back(
        &self,
        slot: &slot::Slot,
        now: i64,
        answer: answer::Answer,
        stale: Option<&Entry>,
        failed: bool,
    ) -> Result<Served> {
        let cache = &slot.cache;
        let token = answer.token;
        let (target, target_key, any_owner) =
            slot::destination(slot, self.dir, &self.default_key, answer.owner.as_ref());
        if let Some(expires_at) = token.expires_at {
            let mut entry = Entry {
                key: target_key,
                secret: token.secret.clone(),
                expires_at,
                fetched_at: now,
                refresh_tried_at: None,
                any_owner,
            };
            // The fetch that brought a token already within the window
            // (a short-lived one, or the platform's cache lags) was its
            // refresh attempt: the next is not tried for 30 s. One with
            // more left has had none: once it enters the window, the
            // next get tries a refresh.
            if entry.good_until() - now <= self.window.as_secs() as i64 {
                entry.refresh_tried_at = Some(now);
            }
            let written = if target.stem() == cache.stem() {
                cache.write(&entry)
            } else {
                // Another entry's: its lock is not ours (the write is
                // atomic all the same).
                target.write_unlocked(&entry)
            };
            match written {
                Ok(()) => debug!(
                    "cache: stored the new token in {}",
                    target.entry_path().display()
                ),
                Err(cache::Unusable(why)) => debug!("cache: {why}; working uncached"),
            }
            moved_elsewhere(slot, &target, stale);
        } else {
            debug!("cache: the token has no expiry; not cached");
        }
        // The first success ends an outage for everyone at once.
        if failed {
            memory::remove_failed(cache);
        }
        memory::record_success(cache, cache::now_ms());
        fetched(token)
    }
}

/// The platform failed: the failure is recorded; the cached token (`stale`)
/// is served if it still works, and tried again in 30 s; else the failure
/// is remembered for the processes that ask next (longer for another
/// outage in a row after `failed`) and is the answer.
fn serve_stale(
    slot: &slot::Slot,
    now: i64,
    error: platform::FetchError,
    stale: Option<Entry>,
    failed: Option<&Failed>,
) -> Result<Served> {
    let (cache, key) = (&slot.cache, &slot.key);
    let at_ms = cache::now_ms();
    memory::record_failure(cache, at_ms, &error.to_string());
    match stale {
        // The cached token still works: serve it, and try again in 30 s.
        Some(mut entry) => {
            debug!(
                "cache: re-fetch failed ({error:#}); serving the cached token, {} s left",
                entry.good_until() - now
            );
            entry.refresh_tried_at = Some(now);
            if let Err(cache::Unusable(why)) = cache.write(&entry) {
                debug!("cache: {why}");
            }
            Ok(Served {
                token: entry.token(),
                from_cache: true,
            })
        }
        None => {
            let unavailable = error.failure == platform::Failure::Unavailable;
            // Another failure in a row (not one from the future):
            // the outage is remembered longer.
            let streak = match failed {
                _ if !unavailable => 0,
                Some(last) if last.unavailable && last.age(at_ms).is_some() => {
                    last.streak.saturating_add(1)
                }
                _ => 1,
            };
            let failed = Failed {
                key: key.clone(),
                at_ms,
                unavailable,
                streak,
                message: error.to_string(),
            };
            debug!(
                "cache: remembering the failure for {} s",
                failed.memory().as_secs()
            );
            if let Err(cache::Unusable(why)) = memory::write_failed(cache, &failed) {
                debug!("cache: {why}");
            }
            Err(error.into())
        }
    }
}

/// The answer went to another entry than the one the request was served
/// from (whose lock is held): that entry no longer holds what it should. An
/// owner's entry, when the platform turned out to ignore owners, goes (the
/// default entry serves the owner now); the default entry, when the
/// platform turned out to mint per owner, no longer serves every owner.
fn moved_elsewhere(slot: &slot::Slot, target: &Cache, stale: Option<&Entry>) {
    if target.stem() == slot.cache.stem() {
        return;
    }
    let done = match (slot.cache.owner(), stale) {
        (Some(_), _) => slot.cache.remove(),
        (None, Some(entry)) if entry.any_owner => slot.cache.write(&Entry {
            any_owner: false,
            ..entry.clone()
        }),
        (None, _) => Ok(()),
    };
    if let Err(cache::Unusable(why)) = done {
        debug!("cache: {why}");
    }
}

/// The lock could not be had: given up at the deadline, or the cache is not
/// usable at all (then the fetch is made uncached).
fn lock_failed(
    settings: &Settings,
    slot: &slot::Slot,
    bearer: &Secret,
    deadline: Instant,
    error: LockError,
) -> Result<Served> {
    let cache = &slot.cache;
    match error {
        LockError::Timeout => bail!(
            "gave up after {} s waiting for another helper process to fetch the token \
             (it holds {})",
            settings.timeout.as_secs_f64(),
            cache.lock_path().display()
        ),
        LockError::Unusable(cache::Unusable(why)) => {
            debug!("cache: {why}; working uncached");
            fetched(
                platform::fetch_scoped(
                    settings,
                    bearer,
                    deadline,
                    slot.query.as_ref(),
                    &slot.scope,
                )?
                .token,
            )
        }
    }
}

/// The error of a fetch another process made, as this process's own.
fn remembered(failed: &Failed) -> anyhow::Error {
    let age = failed
        .age(cache::now_ms())
        .unwrap_or_default()
        .as_secs_f64();
    debug!("cache: answering with the failure another process met {age:.1} s ago");
    // The file is ours (checked), but its text goes to a terminal: no
    // control characters.
    let message: String = failed
        .message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    anyhow!("{message} (another helper process's fetch, {age:.1} s ago)")
}

fn hit(entry: &Entry, freshness: Freshness) -> Served {
    debug!(
        "cache: hit ({freshness:?}, {} s left)",
        entry.good_until() - now_unix()
    );
    Served {
        token: entry.token(),
        from_cache: true,
    }
}

fn fetched(token: Token) -> Result<Served> {
    Ok(Served {
        token,
        from_cache: false,
    })
}

/// git rejected `password`: if it is a cached token, drop the entry that
/// holds it (the default entry or an owner's; only that one) so the next
/// `get` fetches a fresh one. Only that exact token: a newer one that
/// another process cached meanwhile is kept.
pub fn forget(settings: &Settings, password: &str) -> Result<()> {
    let Some(dir) = &settings.cache_dir else {
        return Ok(());
    };
    let is_cached = |cache: &Cache| matches!(cache.read(), Ok(Some(entry)) if entry.secret.expose() == password);
    let Some(cache) = Cache::all(dir).into_iter().find(is_cached) else {
        debug!("erase: not a cached token; nothing to forget");
        return Ok(());
    };
    let deadline = Instant::now() + settings.timeout;
    match lock::lock(&cache, deadline) {
        Ok(_lock) => {
            if is_cached(&cache) {
                match cache.remove() {
                    Ok(()) => debug!(
                        "erase: dropped the cached token ({})",
                        cache.entry_path().display()
                    ),
                    Err(cache::Unusable(why)) => bail!("{why}"),
                }
                memory::record_rejected(&cache, cache::now_ms());
            }
            Ok(())
        }
        Err(LockError::Timeout) => bail!(
            "gave up after {} s waiting for {}",
            settings.timeout.as_secs_f64(),
            cache.lock_path().display()
        ),
        Err(LockError::Unusable(cache::Unusable(why))) => bail!("{why}"),
    }
}

//! The engine: a token for a request, from the cache while it is fresh,
//! else from the platform with one fetch for all the processes that ask at
//! once ([`serve`], in steps). Its decision points, in order: served from
//! the cache ([`hit`]), a remembered failure ([`remembered`]), the fetch
//! ([`Ask::fetch`]), then its token stored ([`Ask::write_back`]) or its
//! failure recorded ([`Ask::serve_stale`]).

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use super::cache::{self, Cache};
use super::entry::{self, Entry, Freshness};
use super::failure::{self, remembered};
use super::lock::{self, Attempt, Lock, LockError};
use super::memory::{self, Failed};
use super::platform_state::{Outage, PlatformState, Store};
use super::request::Request;
use super::{Served, Token, absent, answer, now_unix, platform, slot, sweep};
use crate::diag::debug;
use crate::secret::{self, Secret};
use crate::settings::Settings;

/// How long a refresh may take while a still-valid cached token waits.
const REFRESH_BUDGET: Duration = Duration::from_secs(2);
/// A fetch that ends later than this past its deadline was stopped (or
/// starved) on the way: what it met is its own lateness, not the
/// platform's state, and is not recorded.
const LATE: Duration = Duration::from_secs(1);

/// A token for `request`, and whether it came from the cache.
///
/// The entry is the request's own, or the default entry when the platform
/// ignored owners ([`slot`]). The platform's state ([`Store`]: its outage
/// memory) is one record for every request; an owner's 404 ([`absent`]) is
/// the owner's; the token is the entry's.
///
/// The warm path (a fresh entry) reads one small file (two for an owner
/// served from the default entry): no lock, no runtime, no client.
/// Otherwise, in order:
/// - an owner the platform said it has no installation for (HTTP 404, a
///   moment ago: [`absent::ABSENT_MEMORY`]) and a platform found
///   unavailable a moment ago (within the outage memory, [`Outage::memory`]:
///   5 s, doubling while the outage lasts, at most a minute), whatever was
///   asked of it, are not asked again: the still-valid cached token is
///   served if there is one, else the remembered failure is the answer;
/// - the lock (one for every request: at most one process asks the
///   platform at a time) is tried; one held for longer than the deadline
///   plus [`lock::TAKEOVER_MARGIN`] is taken over. When another process
///   holds it (it is fetching, or stalled), a still-valid cached token is
///   served at once. A process with nothing valid waits only for a fetch
///   that began less than [`lock::WAIT_FOR_OTHERS`] ago, and not at all
///   while an outage is known (the holder is asking again after one): it
///   falls through, so at most one process waits on a failing platform;
/// - with the lock, the cache is read again: another process's new token is
///   served, and so is its failure when it failed while we waited (any
///   failure: a bad answer is shared only with the processes that were
///   waiting behind that fetch; the next command asks again);
/// - else the platform is asked, and its token, or its failure, written;
///   unless this process was stopped meanwhile and another took over (its
///   token is served, not stored), or it ends past its deadline (its
///   failure is not recorded).
///
/// A remembered time from the future (the clock went back) is stale: it
/// never blocks a fetch, and never keeps an entry alive.
pub fn serve(settings: &Settings, request: &Request) -> Result<Served> {
    let started_ms = cache::now_ms();
    let deadline = Instant::now() + settings.timeout;
    let bearer = secret::read_bearer(&settings.bearer_path())?;
    let Some(dir) = &settings.cache_dir else {
        debug!("cache: off");
        let answer = platform::fetch_scoped(
            settings,
            &bearer,
            deadline,
            request.owner(),
            request.scope(),
        )?;
        return fetched(answer.token);
    };
    let default_key = entry::Key::new(&settings.platform_url, &bearer);
    let window = settings.refresh_window;

    // The fast path: one small file, no lock, no runtime, no client.
    let mut slot = slot::choose(dir, &default_key, request, now_unix(), window);
    if request.owner().is_some() && slot.cache.owner().is_none() {
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
        match entry::freshness(entry, &slot.key, now_unix(), window) {
            f @ (Freshness::Fresh | Freshness::Hold) => return Ok(hit(entry, f)),
            Freshness::Refresh => valid = Some(entry),
            f => debug!("cache: entry is {f:?}"),
        }
    }

    let ask = Ask {
        settings,
        dir,
        platform: Store::new(Some(dir), &default_key),
        default_key,
        bearer: &bearer,
        deadline,
        window,
        started_ms,
    };

    // A fetch looks needed.
    let state = ask.platform.read();
    let outage = match ask.recent_failure(&slot, valid, &state) {
        ControlFlow::Continue(outage) => outage,
        ControlFlow::Break(served) => return served,
    };
    let lock = match ask.lock(&slot, valid, outage.as_ref()) {
        ControlFlow::Continue(lock) => lock,
        ControlFlow::Break(served) => return served,
    };
    let now = now_unix();
    let (stale, failed) = match ask.look_again(&slot, seen.as_ref(), now) {
        ControlFlow::Continue(found) => found,
        ControlFlow::Break(served) => return served,
    };
    ask.fetch(&slot, &lock, now, stale, failed)
}

/// What every step of a request that found no fresh entry needs.
struct Ask<'a> {
    settings: &'a Settings,
    dir: &'a Path,
    /// The platform's state, one record for every request.
    platform: Store,
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
    /// An owner without an installation, or a platform that was unavailable
    /// a moment ago, is not asked again: the still-valid token (`valid`) or
    /// the remembered failure is the answer. Else the outage the last fetch
    /// found, if no fetch has succeeded since (whoever holds the lock is
    /// asking the platform again).
    fn recent_failure(
        &self,
        slot: &slot::Slot,
        valid: Option<&Entry>,
        state: &PlatformState,
    ) -> ControlFlow<Result<Served>, Option<Outage>> {
        let now_ms = cache::now_ms();
        let serve_valid_or = |error: anyhow::Error| match valid {
            Some(entry) => {
                debug!("cache: the platform failed a moment ago; not asking it again");
                Ok(hit(entry, Freshness::Refresh))
            }
            None => Err(error),
        };
        if let Some(owner) = &slot.query
            && let Some(absent) = absent::read(self.dir, &self.default_key, owner)
            && absent.is_remembered(now_ms)
        {
            return ControlFlow::Break(serve_valid_or(remembered(&absent.message, absent.at_ms)));
        }
        if let Some(outage) = state.outage.as_ref().filter(|o| o.is_remembered(now_ms)) {
            return ControlFlow::Break(serve_valid_or(remembered(&outage.message, outage.at_ms)));
        }
        ControlFlow::Continue(state.outage.clone().filter(|o| o.age(now_ms).is_some()))
    }

    /// The lock: one for every request.
    fn lock_files(&self) -> Cache {
        Cache::new(self.dir)
    }

    /// A holder that has held the lock longer than this is stuck.
    fn stuck_after(&self) -> Duration {
        self.settings.timeout + lock::TAKEOVER_MARGIN
    }

    /// Take the lock (over from a stuck holder, when nothing valid can be
    /// served instead); or, when another process holds it, serve the
    /// still-valid token (`valid`), answer with the `outage`, or wait for
    /// its fetch within the rules ([`serve`]).
    fn lock(
        &self,
        slot: &slot::Slot,
        valid: Option<&Entry>,
        outage: Option<&Outage>,
    ) -> ControlFlow<Result<Served>, Lock> {
        let files = self.lock_files();
        let (settings, deadline) = (self.settings, self.deadline);
        let give_up = |error| self.lock_failed(slot, &files, error);
        let attempt = match lock::try_lock(&files, self.stuck_after()) {
            Ok(Attempt::Held(held)) if valid.is_none() && held.is_stuck() => held.take_over(),
            other => other,
        };
        let lock = match (attempt, valid) {
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
                let outage = outage.expect("checked");
                return ControlFlow::Break(Err(remembered(&outage.message, outage.at_ms)));
            }
            (Ok(Attempt::Held(held)), None) => match held.wait_for_fetch(deadline) {
                Ok(lock) => lock,
                Err(LockError::Timeout) if Instant::now() < deadline => {
                    return ControlFlow::Break(Err(anyhow!(
                        "another helper process has been asking the platform at {} for over {} s \
                         (it holds {}); not waiting for it",
                        crate::secret::redact_url_userinfo(&settings.token_url()),
                        lock::WAIT_FOR_OTHERS.as_secs_f64(),
                        files.lock_path().display()
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
        // A fetch of this entry failed while we waited for it: that was the
        // fetch we were about to make. Not one from the future: the clock
        // went back, and it says nothing about this wait. And the platform
        // found unavailable while we waited, by a fetch for any request.
        let now_ms = cache::now_ms();
        let failed = memory::read_failed(cache).filter(|f| f.key == *key);
        let while_waiting = failed
            .as_ref()
            .filter(|f| f.at_ms >= self.started_ms && f.age(now_ms).is_some())
            .map(|f| (f.message.clone(), f.at_ms));
        let outage = || {
            self.platform
                .read()
                .outage
                .filter(|o| o.is_remembered(now_ms))
                .map(|o| (o.message, o.at_ms))
        };
        if let Some((message, at_ms)) = while_waiting.or_else(outage) {
            return ControlFlow::Break(match stale {
                Some(entry) => Ok(hit(&entry, Freshness::Refresh)),
                None => Err(remembered(&message, at_ms)),
            });
        }
        ControlFlow::Continue((stale, failed))
    }

    /// Ask the platform (a short budget when `stale` still works: git
    /// should not wait out a platform's retries for a token it has); write
    /// back its token, or its failure. A holder that was stopped and taken
    /// over stores nothing; one that ends past its deadline records no
    /// failure.
    fn fetch(
        &self,
        slot: &slot::Slot,
        lock: &Lock,
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
        let taken_over = !lock.still_ours();
        let late = taken_over || Instant::now() > fetch_deadline + LATE;
        let served = match outcome {
            Ok(answer) if taken_over => {
                debug!(
                    "cache: another process took the lock over while this one was stopped; \
                     not storing this token"
                );
                fetched(answer.token)
            }
            Ok(answer) => self.write_back(slot, now, answer, stale.as_ref(), failed.is_some()),
            Err(error) if late => {
                debug!("cache: this fetch ended past its deadline; not recording its failure");
                match stale {
                    Some(entry) => Ok(hit(&entry, Freshness::Refresh)),
                    None => Err(error.into()),
                }
            }
            Err(error) => self.serve_stale(slot, now, error, stale),
        };
        // Off the warm path, with the lock held: at most once an hour.
        if !taken_over {
            sweep::maybe_sweep(self.dir);
        }
        served
    }

    /// The platform's token: written to the entry it belongs to (with its
    /// expiry; a token without one is not cached), and the outage (and the
    /// owner's 404), if one was remembered, over.
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
        let state = self.platform.read();
        let (target, target_key, any_owner) = slot::destination(
            slot,
            self.dir,
            &self.default_key,
            answer.owner.as_ref(),
            state.names_owners,
        );
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
            let written = if target.entry_path() == cache.entry_path() {
                cache.write(&entry)
            } else {
                // Another entry's: the lock is held all the same (one for
                // every entry), but its leftovers are not looked for.
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
        // The first success ends an outage for everyone at once; an answer
        // naming an owner says the platform mints per owner.
        let names_owners = state.names_owners || answer.owner.is_some();
        if state.outage.is_some() || names_owners != state.names_owners {
            self.platform.write(&PlatformState {
                names_owners,
                outage: None,
                ..state
            });
        }
        if let Some(owner) = &slot.query {
            absent::remove(self.dir, owner);
        }
        if failed {
            memory::remove_failed(cache);
        }
        memory::record_success(cache, cache::now_ms());
        fetched(token)
    }

    /// The platform failed: the failure is recorded (an unavailable
    /// platform for every request, a 404 for the owner); the cached token
    /// (`stale`) is served if it still works, and tried again in 30 s;
    /// else the failure is remembered for the processes waiting behind
    /// this fetch and is the answer.
    fn serve_stale(
        &self,
        slot: &slot::Slot,
        now: i64,
        error: platform::FetchError,
        stale: Option<Entry>,
    ) -> Result<Served> {
        let (cache, key) = (&slot.cache, &slot.key);
        let at_ms = cache::now_ms();
        let message = error.to_string();
        memory::record_failure(cache, at_ms, &message);
        let outage = failure::record(
            &self.platform,
            self.dir,
            &self.default_key,
            slot.query.as_ref(),
            &error,
            at_ms,
        );
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
                // For the processes waiting behind this fetch (and status).
                let failed = Failed {
                    key: key.clone(),
                    at_ms,
                    unavailable: outage.is_some(),
                    streak: outage.as_ref().map_or(0, |o| o.streak),
                    message,
                };
                if let Err(cache::Unusable(why)) = memory::write_failed(cache, &failed) {
                    debug!("cache: {why}");
                }
                Err(error.into())
            }
        }
    }

    /// The lock could not be had: given up at the deadline, or the cache is
    /// not usable at all (then the fetch is made uncached, and an outage it
    /// meets is remembered in the platform state's second place).
    fn lock_failed(&self, slot: &slot::Slot, files: &Cache, error: LockError) -> Result<Served> {
        let settings = self.settings;
        match error {
            LockError::Timeout => bail!(
                "gave up after {} s waiting for another helper process to fetch the token \
                 (it holds {})",
                settings.timeout.as_secs_f64(),
                files.lock_path().display()
            ),
            LockError::Unusable(cache::Unusable(why)) => {
                debug!("cache: {why}; working uncached");
                let outcome = platform::fetch_scoped(
                    settings,
                    self.bearer,
                    self.deadline,
                    slot.query.as_ref(),
                    &slot.scope,
                );
                let late = Instant::now() > self.deadline + LATE;
                match outcome {
                    Ok(answer) => {
                        let state = self.platform.read();
                        if state.outage.is_some() {
                            self.platform.write(&PlatformState {
                                outage: None,
                                ..state
                            });
                        }
                        fetched(answer.token)
                    }
                    Err(error) => {
                        if !late {
                            failure::record(
                                &self.platform,
                                self.dir,
                                &self.default_key,
                                slot.query.as_ref(),
                                &error,
                                cache::now_ms(),
                            );
                        }
                        Err(error.into())
                    }
                }
            }
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

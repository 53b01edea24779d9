//! One file per subcommand. Commands take `Settings`, never clap's types
//! beyond their own arguments.

pub mod completions;
pub mod configure;
pub mod credential;
pub mod exec;
pub mod fallback;
pub mod fetch_token;
pub mod gh_login;
pub mod status;

use std::io::Write;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::cache::{self, Cache, Entry, Freshness};
use crate::diag::debug;
use crate::settings::{SecretHost, Settings};
use crate::token::{Secret, Token, now_unix};
use crate::{bearer, platform, secret_file};

/// How long a refresh may take while a still-valid cached token waits.
const REFRESH_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// A token, and where it came from (for `status` and debug lines).
pub struct Served {
    pub token: Token,
    pub from_cache: bool,
}

/// The token of a secret-backed host, from its file: never from the
/// platform, never cached. Errors name the path.
pub fn secret_token(settings: &Settings, secret: &SecretHost) -> Result<Secret> {
    secret_file::read(
        &settings.secret_path(secret),
        &format!("the secret file for {}", secret.host),
        secret_file::MAX_SECRET_FILE,
    )
}

/// A fresh token for the platform's hosts: from the cache while it is fresh,
/// else from the platform, one fetch for all the processes that ask at once.
pub fn platform_token(settings: &Settings) -> Result<Token> {
    Ok(fresh_token(settings)?.token)
}

pub fn fresh_token(settings: &Settings) -> Result<Served> {
    let deadline = Instant::now() + settings.timeout;
    let bearer = bearer::read(&settings.bearer_path())?;
    let Some(dir) = &settings.cache_dir else {
        debug!("cache: off");
        return fetched(platform::fetch(settings, &bearer, deadline)?);
    };
    let cache = Cache::new(dir);
    let key = cache::Key::new(&settings.platform_url, &bearer);
    let window = settings.refresh_window;

    // The fast path: one small file, no lock, no runtime, no client.
    let seen = match cache.read() {
        Ok(entry) => entry,
        Err(why) => {
            debug!("cache: {why}; treating it as empty");
            None
        }
    };
    if let Some(entry) = &seen {
        match cache::freshness(entry, &key, now_unix(), window) {
            f @ (Freshness::Fresh | Freshness::Hold) => return Ok(hit(entry, f)),
            f => debug!("cache: entry is {f:?}"),
        }
    }

    // A fetch looks needed. Take the lock; whoever held it may have just
    // fetched, so look again before asking the platform.
    let _lock = match cache.lock(deadline) {
        Ok(Ok(lock)) => lock,
        Ok(Err(cache::LockTimeout)) => bail!(
            "gave up after {} s waiting for another helper process to fetch the token \
             (it holds {})",
            settings.timeout.as_secs_f64(),
            cache.lock_path().display()
        ),
        Err(cache::Unusable(why)) => {
            debug!("cache: {why}; working uncached");
            return fetched(platform::fetch(settings, &bearer, deadline)?);
        }
    };
    let now = now_unix();
    let current = cache.read().unwrap_or_default();
    let mut stale = None;
    if let Some(entry) = current {
        let freshness = cache::freshness(&entry, &key, now, window);
        match freshness {
            Freshness::Fresh | Freshness::Hold => return Ok(hit(&entry, freshness)),
            // Another process replaced the entry while we waited: that was
            // the fetch we were about to make.
            Freshness::Refresh if seen.as_ref() != Some(&entry) => {
                return Ok(hit(&entry, freshness));
            }
            Freshness::Refresh => stale = Some(entry),
            Freshness::Unusable => {}
        }
    }

    // With a working token in hand, a refresh gets a short budget: git
    // should not wait out a platform's retries for a token it has.
    let fetch_deadline = match stale {
        Some(_) => deadline.min(Instant::now() + REFRESH_BUDGET),
        None => deadline,
    };
    match platform::fetch(settings, &bearer, fetch_deadline) {
        Ok(token) => {
            if let Some(expires_at) = token.expires_at {
                let entry = Entry {
                    key,
                    secret: token.secret.clone(),
                    expires_at,
                    fetched_at: now,
                    // A re-fetch that brought a token already within the
                    // window (the platform's cache lags) is not tried again
                    // for 30 s.
                    refresh_tried_at: stale.is_some().then_some(now),
                };
                match cache.write(&entry) {
                    Ok(()) => debug!("cache: stored the new token"),
                    Err(cache::Unusable(why)) => debug!("cache: {why}; working uncached"),
                }
            } else {
                debug!("cache: the token has no expiry; not cached");
            }
            fetched(token)
        }
        // The cached token still works: serve it, and try again in 30 s.
        Err(error) => match stale {
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
            None => Err(error),
        },
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

/// git rejected `password`: if it is the cached token, drop the entry so the
/// next `get` fetches a fresh one. Only that exact token: a newer one that
/// another process cached meanwhile is kept.
pub fn forget_token(settings: &Settings, password: &str) -> Result<()> {
    let Some(dir) = &settings.cache_dir else {
        return Ok(());
    };
    let cache = Cache::new(dir);
    let is_cached = |cache: &Cache| matches!(cache.read(), Ok(Some(entry)) if entry.secret.expose() == password);
    if !is_cached(&cache) {
        debug!("erase: not the cached token; nothing to forget");
        return Ok(());
    }
    let deadline = Instant::now() + settings.timeout;
    match cache.lock(deadline) {
        Ok(Ok(_lock)) => {
            if is_cached(&cache) {
                match cache.remove() {
                    Ok(()) => debug!("erase: dropped the cached token"),
                    Err(cache::Unusable(why)) => bail!("{why}"),
                }
            }
            Ok(())
        }
        Ok(Err(cache::LockTimeout)) => bail!(
            "gave up after {} s waiting for {}",
            settings.timeout.as_secs_f64(),
            cache.lock_path().display()
        ),
        Err(cache::Unusable(why)) => bail!("{why}"),
    }
}

/// Write the whole of `bytes` to stdout at once. A reader that went away
/// (a broken pipe) is not an error: nobody is left to tell.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            "cannot write to stdout: {}",
            crate::diag::io_reason(&e)
        )),
    }
}

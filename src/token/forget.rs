//! [`forget`]: drop the cached token git rejected, so that the next `get`
//! fetches a fresh one.

use std::time::Instant;

use anyhow::{Result, bail};

use super::cache::{self, Cache};
use super::lock::{self, LockError};
use super::memory;
use crate::diag::debug;
use crate::settings::Settings;

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
    // The lock every fetch takes: one for every entry.
    let stuck_after = settings.timeout + lock::TAKEOVER_MARGIN;
    match lock::lock(&Cache::new(dir), deadline, stuck_after) {
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
            Cache::new(dir).lock_path().display()
        ),
        Err(LockError::Unusable(cache::Unusable(why))) => bail!("{why}"),
    }
}

//! The cache stays small: the files of owners whose tokens expired a day
//! ago (the entry `token@OWNER` and its `.failed`, `.history`, `.absent`
//! and lock files; a narrowed entry's `token@OWNER%SCOPE`, `token%SCOPE`
//! alike), and temporary files a killed writer left, are removed.
//!
//! Off the warm path: a sweep runs only after a fetch (with the lock held),
//! at most once an hour (the `sweep.stamp` file's time says when the last
//! one ran: one `stat` on a fetch's path), and removes at most
//! [`MAX_REMOVED`] files (the next sweep goes on). A warm `get` reads one
//! file whatever the number of owners.
//!
//! An owner's files go when none of them says anything current: its entry
//! (if it is readable) expired more than [`KEEP_EXPIRED`] ago, and every
//! one of its files was last written more than that ago.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::diag::debug;
use crate::token::cache::Cache;
use crate::token::request::ENTRY_STEM;

/// How long the files of an owner whose token expired are kept.
pub const KEEP_EXPIRED: Duration = Duration::from_secs(24 * 3600);
/// How often a sweep runs at most.
pub const EVERY: Duration = Duration::from_secs(3600);
/// The most files one sweep removes.
pub const MAX_REMOVED: usize = 256;
/// A temporary file older than this was left by a killed writer.
const STALE_TEMP: Duration = Duration::from_secs(3600);
const STAMP_FILE: &str = "sweep.stamp";

/// Sweep `dir` if the last sweep was more than [`EVERY`] ago (or never).
/// Call with the lock held, after a fetch. How many files went.
pub fn maybe_sweep(dir: &Path) -> usize {
    let stamp = dir.join(STAMP_FILE);
    let now = SystemTime::now();
    let due = match std::fs::symlink_metadata(&stamp).and_then(|m| m.modified()) {
        // A stamp from the future (the clock went back) is not trusted.
        Ok(at) => now.duration_since(at).is_ok_and(|age| age >= EVERY),
        Err(_) => true,
    };
    if !due {
        return 0;
    }
    // The stamp first: a sweep that fails part-way is not retried by every
    // fetch of the next hour.
    if Cache::new(dir).write_file(STAMP_FILE, "").is_err() {
        return 0;
    }
    let removed = sweep(dir, now);
    if removed > 0 {
        debug!("cache: removed {removed} files of tokens expired a day ago");
    }
    removed
}

/// Remove, at `now`, what [`maybe_sweep`] removes; at most [`MAX_REMOVED`].
pub fn sweep(dir: &Path, now: SystemTime) -> usize {
    let Ok(names) = std::fs::read_dir(dir) else {
        return 0;
    };
    let old = |path: &Path, keep: Duration| {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|at| now.duration_since(at).is_ok_and(|age| age > keep))
    };
    // Every owner's files, by owner; stale temporary files.
    let mut owners: HashMap<String, Vec<String>> = HashMap::new();
    let mut doomed: Vec<String> = Vec::new();
    let prefix = format!("{ENTRY_STEM}@");
    let narrowed = format!("{ENTRY_STEM}%");
    for name in names
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
    {
        if name.starts_with('.') && name.ends_with(".tmp") {
            if old(&dir.join(&name), STALE_TEMP) {
                doomed.push(name);
            }
        } else if name.starts_with(&prefix) || name.starts_with(&narrowed) {
            // An owner's entry or a narrowed one (`token@O`, `token@O%S`,
            // `token%S`): its files are its name and a `.suffix`.
            let stem = name.split('.').next().unwrap_or(&name).to_string();
            owners.entry(stem).or_default().push(name);
        }
    }
    let now_unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for (entry, files) in owners {
        let cache = Cache::new(dir);
        let expired = match cache
            .read_file(&entry)
            .and_then(|t| crate::token::entry::Entry::decode(&t).map(|e| e.good_until()))
        {
            Some(until) => now_unix - until > KEEP_EXPIRED.as_secs() as i64,
            None => true,
        };
        if expired && files.iter().all(|f| old(&dir.join(f), KEEP_EXPIRED)) {
            doomed.extend(files);
        }
    }
    let mut removed = 0;
    for name in doomed.iter().take(MAX_REMOVED) {
        if std::fs::remove_file(dir.join(name)).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::Owner;
    use crate::token::entry::tests::{entry, key};

    fn age(path: &Path, by: Duration) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn the_files_of_tokens_expired_a_day_ago_go_and_the_rest_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let now = crate::token::now_unix();
        let day = KEEP_EXPIRED;
        let write = |owner: &str, expires_at: i64| {
            let o = Owner::parse(owner).unwrap();
            let cache = Cache::for_owner(dir, Some(&o));
            let mut e = entry(expires_at - 3000, expires_at, None);
            e.key = key().for_owner(Some(&o));
            cache.write(&e).unwrap();
            cache.write_file(&cache.file_name(".history"), "h").unwrap();
            cache.entry_path()
        };
        // Expired two days ago, its files untouched since: gone.
        let gone = write("gone", now - 2 * 86_400);
        for f in [gone.clone(), dir.join("token@gone.history")] {
            age(&f, day * 2);
        }
        std::fs::write(dir.join("token@gone.lock"), "").unwrap();
        age(&dir.join("token@gone.lock"), day * 2);
        // Expired two days ago, but a 404 was remembered an hour ago: kept.
        let recent = write("recent", now - 2 * 86_400);
        age(&recent, day * 2);
        age(&dir.join("token@recent.history"), day * 2);
        std::fs::write(dir.join("token@recent.absent"), "x").unwrap();
        // Valid: kept, however old its files.
        let live = write("live", now + 3000);
        age(&live, day * 2);
        // Only a history (a 404 owner), two days old: gone.
        std::fs::write(dir.join("token@nobody.history"), "x").unwrap();
        age(&dir.join("token@nobody.history"), day * 2);
        // A killed writer's leftover, and a write in progress.
        std::fs::write(dir.join(".token@live.1.2.tmp"), "x").unwrap();
        age(&dir.join(".token@live.1.2.tmp"), Duration::from_secs(7200));
        std::fs::write(dir.join(".token.3.4.tmp"), "x").unwrap();
        // The default entry is never swept.
        std::fs::write(dir.join("token"), "x").unwrap();
        age(&dir.join("token"), day * 3);
        // Narrowed entries: one without an owner expired two days ago
        // (gone), a live owner's (kept).
        let read = crate::scope::Scope::full()
            .with_permissions("contents:read")
            .unwrap();
        let narrowed = |owner: Option<&str>, expires_at: i64| {
            let o = owner.map(|o| Owner::parse(o).unwrap());
            let request = crate::token::Request::new(o.clone(), read.clone());
            let cache = Cache::for_request(dir, &request);
            let mut e = entry(expires_at - 3000, expires_at, None);
            e.key = key().for_request(o.as_ref(), &read);
            cache.write(&e).unwrap();
            cache.entry_path()
        };
        age(&narrowed(None, now - 2 * 86_400), day * 2);
        age(&narrowed(Some("live"), now + 3000), day * 2);

        assert_eq!(sweep(dir, SystemTime::now()), 6);
        let mut left: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".token.3.4.tmp",
                "token",
                "token@live",
                "token@live%contents:read",
                "token@live.history",
                "token@recent",
                "token@recent.absent",
                "token@recent.history",
            ]
        );
    }

    #[test]
    fn a_sweep_runs_at_most_once_an_hour_and_removes_a_bounded_number() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for i in 0..MAX_REMOVED + 10 {
            let path = dir.join(format!("token@o{i}.history"));
            std::fs::write(&path, "x").unwrap();
            age(&path, KEEP_EXPIRED * 2);
        }
        assert_eq!(maybe_sweep(dir), MAX_REMOVED);
        // Not again within the hour.
        assert_eq!(maybe_sweep(dir), 0);
        age(&dir.join(STAMP_FILE), EVERY + Duration::from_secs(1));
        assert_eq!(maybe_sweep(dir), 10);
    }
}

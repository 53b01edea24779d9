//! The token cache as git sees it: the real `git credential fill`, `reject`
//! and the real binary against the mock platform, counting the platform's
//! requests.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use crate::support::*;

const URL: &str = "https://github.com/org/repo.git";

fn mode(path: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn twenty_sequential_fills_ask_the_platform_once() {
    let ws = Workspace::new();
    ws.configure_generic();
    let first = ws.fill(URL).served_token();
    for _ in 1..20 {
        assert_eq!(ws.fill(URL).served_token(), first);
    }
    assert_eq!(ws.platform.count(), 1);
    assert_eq!(ws.platform.last_token().as_deref(), Some(first.as_str()));
}

/// `n` `git credential fill`s at once, with a cold cache and a platform
/// that takes 300 ms: all get the same token, from one request.
fn concurrent_cold_fills_cause_one_request(ws: &Workspace, n: usize) {
    ws.configure_generic();
    ws.platform.set_default(Reply::Delay(
        Duration::from_millis(300),
        Box::new(Reply::Token),
    ));
    let outs: Vec<Out> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|_| s.spawn(|| ws.fill(URL))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(ws.platform.count(), 1, "{:?}", ws.platform.requests());
    let token = ws.platform.last_token().unwrap();
    for out in &outs {
        assert_eq!(out.served_token(), token);
    }
}

#[test]
fn thirty_two_concurrent_cold_fills_cause_one_request() {
    concurrent_cold_fills_cause_one_request(&Workspace::new(), 32);
}

#[test]
fn concurrent_cold_fills_share_even_a_short_lived_token() {
    // The platform's own cache lags: every token it hands out has 60 s
    // left. The processes that waited must take the one just fetched,
    // not each start a refresh of their own.
    let ws = Workspace::new();
    ws.platform.set_expires_in(60);
    concurrent_cold_fills_cause_one_request(&ws, 8);
}

#[test]
fn the_cache_is_private_from_its_creation() {
    let ws = Workspace::new();
    ws.configure_generic();
    // A permissive umask: the modes must come from the helper, not from it.
    let mut c = ws.command("sh");
    c.args(["-c", "umask 000; exec git credential fill"]);
    let out = ws.run(c, &format!("url={URL}\n\n"));
    out.served_token();
    assert_eq!(mode(&ws.cache), 0o700);
    let names: Vec<String> = std::fs::read_dir(&ws.cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.contains(&"token".to_string()), "{names:?}");
    assert!(names.contains(&"token.lock".to_string()), "{names:?}");
    for name in names {
        assert_eq!(mode(&ws.cache.join(&name)), 0o600, "{name}");
    }
    // The bearer is not in the cache; only the token is.
    let entry = std::fs::read_to_string(ws.cache_entry()).unwrap();
    assert!(!entry.contains(&ws.bearer), "the bearer is in the cache");
}

#[test]
fn rejecting_the_served_token_makes_the_next_fill_fetch_a_new_one() {
    let ws = Workspace::new();
    ws.configure_generic();
    let first = ws.fill(URL).served_token();

    // Rejecting some other password leaves the cached token alone.
    let other = "protocol=https\nhost=github.com\nusername=x-access-token\npassword=ghs_other\n\n";
    assert_eq!(ws.git(&["credential", "reject"], other).code(), 0);
    assert_eq!(ws.fill(URL).served_token(), first);
    assert_eq!(ws.platform.count(), 1);

    let reject =
        format!("protocol=https\nhost=github.com\nusername=x-access-token\npassword={first}\n\n");
    let out = ws.git(&["credential", "reject"], &reject);
    assert_eq!(out.code(), 0, "{out:?}");
    let second = ws.fill(URL).served_token();
    assert_ne!(second, first);
    assert_eq!(ws.platform.count(), 2);
    assert_eq!(ws.fill(URL).served_token(), second);
    assert_eq!(ws.platform.count(), 2);
}

#[test]
fn erase_through_the_helper_drops_only_the_exact_token() {
    let ws = Workspace::new();
    let first = ws.helper(&["fetch-token"], "").stdout.trim().to_string();
    let erase = |password: &str| {
        let out = ws.helper(
            &["erase"],
            &format!("protocol=https\nhost=github.com\npassword={password}\n\n"),
        );
        assert_eq!(out.code(), 0, "{out:?}");
        assert_eq!(out.stdout, "");
    };
    erase(&format!("{first}x"));
    erase("");
    assert!(ws.cache_entry().exists());
    erase(&first);
    assert!(!ws.cache_entry().exists());
    // The next ask fetches.
    let second = ws.helper(&["fetch-token"], "").stdout.trim().to_string();
    assert_ne!(second, first);
    assert_eq!(ws.platform.count(), 2);
}

#[test]
fn a_new_bearer_is_sent_to_the_platform_on_the_next_fill() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    let first = ws.fill(URL).served_token();
    let rotated = format!("bearer-rotated-{}", unique());
    ws.write_bearer(&format!("{rotated}\n"));
    ws.platform.set_bearer(&rotated);
    let second = ws.fill(URL).served_token();
    assert_ne!(second, first);
    let requests = ws.platform.requests();
    assert_eq!(requests.len(), 2);
    let expected = format!("Bearer {rotated}");
    assert_eq!(requests[1].header("authorization"), Some(expected.as_str()));
}

#[test]
fn another_platform_url_never_gets_the_cached_token() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    let first = ws.fill(URL).served_token();
    let other = MockPlatform::start(&ws.bearer);
    ws.set_env("PLATFORM_URL", other.url());
    let second = ws.fill(URL).served_token();
    assert_ne!(second, first);
    assert_eq!(other.last_token().as_deref(), Some(second.as_str()));
    ws.add_secret(&second);
}

#[test]
fn garbage_in_the_cache_file_is_a_miss_and_is_overwritten() {
    let ws = Workspace::new();
    ws.configure_generic();
    std::fs::create_dir_all(&ws.cache).unwrap();
    std::fs::set_permissions(&ws.cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    for garbage in [
        &b"\x00\xffnot an entry at all"[..],
        b"molecule-git-token-helper cache v1\nplatform http://x\n",
        b"",
    ] {
        std::fs::write(ws.cache_entry(), garbage).unwrap();
        let token = ws.fill(URL).served_token();
        assert_eq!(ws.platform.last_token().as_deref(), Some(token.as_str()));
        // Overwritten with a good entry: the next fill is served from it.
        let before = ws.platform.count();
        assert_eq!(ws.fill(URL).served_token(), token);
        assert_eq!(ws.platform.count(), before);
    }
}

#[test]
fn an_unwritable_cache_directory_means_working_uncached() {
    let ws = Workspace::new();
    ws.configure_generic();
    std::fs::create_dir_all(&ws.cache).unwrap();
    std::fs::set_permissions(&ws.cache, std::fs::Permissions::from_mode(0o500)).unwrap();
    // Root ignores permission bits; without these capabilities it cannot.
    let unprivileged = |program: &str| ws.unprivileged(program);
    let probe = ws.cache.join("probe");
    let mut touch = unprivileged("touch");
    touch.arg(&probe);
    assert_ne!(
        ws.run(touch, "").code(),
        0,
        "the cache directory is writable"
    );

    for _ in 0..2 {
        let mut fill = unprivileged("git");
        fill.args(["credential", "fill"]);
        let out = ws.run(fill, &format!("url={URL}\n\n"));
        let token = out.served_token();
        assert_eq!(out.stderr, "", "an uncached fill is not an error");
        assert_eq!(ws.platform.last_token().as_deref(), Some(token.as_str()));
    }
    assert_eq!(ws.platform.count(), 2, "uncached: every fill asks");
    assert_eq!(std::fs::read_dir(&ws.cache).unwrap().count(), 0);
}

#[test]
fn a_cache_directory_that_is_a_file_means_working_uncached() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    let file = ws.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    ws.set_env("MOLECULE_TOKEN_CACHE_DIR", &file);
    ws.fill(URL).served_token();
    ws.fill(URL).served_token();
    assert_eq!(ws.platform.count(), 2);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn a_symlinked_cache_entry_is_never_read_or_written_through() {
    let ws = Workspace::new();
    ws.configure_generic();
    let first = ws.fill(URL).served_token();
    // Someone moves the entry elsewhere and leaves a link in its place.
    let elsewhere = ws.path().join("elsewhere");
    std::fs::rename(ws.cache_entry(), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, ws.cache_entry()).unwrap();
    let before = std::fs::read(&elsewhere).unwrap();

    let second = ws.fill(URL).served_token();
    assert_ne!(second, first, "the entry behind the link was read");
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        before,
        "written through"
    );
    assert!(!ws.cache_entry().is_symlink(), "the link was not replaced");
}

#[test]
fn a_token_with_60_seconds_left_is_refetched_at_most_every_30_seconds() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_expires_in(60);
    let first = ws.fill(URL).served_token();
    assert_eq!(ws.platform.count(), 1);
    // Within the 5-minute window already: the fetch that brought it was its
    // refresh attempt, so the next fills are served from the cache.
    assert_eq!(ws.fill(URL).served_token(), first);
    assert_eq!(ws.platform.count(), 1);
    // 30 s later (the entry says so), the next fill asks again.
    let entry = std::fs::read_to_string(ws.cache_entry()).unwrap();
    let tried = entry
        .lines()
        .find_map(|l| l.strip_prefix("refresh-tried "))
        .expect("a refresh-tried line");
    let earlier: i64 = tried.parse::<i64>().unwrap() - 31;
    std::fs::write(
        ws.cache_entry(),
        entry.replace(
            &format!("refresh-tried {tried}\n"),
            &format!("refresh-tried {earlier}\n"),
        ),
    )
    .unwrap();
    let second = ws.fill(URL).served_token();
    assert_eq!(ws.platform.count(), 2);
    assert_ne!(second, first);
    // The platform handed out another short one: hold it for 30 s.
    assert_eq!(ws.fill(URL).served_token(), second);
    assert_eq!(ws.platform.count(), 2);
}

#[test]
fn a_failed_refresh_serves_the_still_valid_cached_token() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_expires_in(600);
    let first = ws.fill(URL).served_token();
    // 600 s left, a 900 s window: due for a refresh.
    ws.set_env("MOLECULE_TOKEN_REFRESH_WINDOW", "900");
    ws.platform.set_default(Reply::status(500));
    let out = ws.fill(URL);
    assert_eq!(
        out.served_token(),
        first,
        "fell through instead of serving the cache"
    );
    assert_eq!(out.stderr, "");
    let asked = ws.platform.count();
    assert!(asked >= 2, "no refresh was tried");
    // ... and is not retried for 30 s.
    assert_eq!(ws.fill(URL).served_token(), first);
    assert_eq!(ws.platform.count(), asked);
}

#[test]
fn the_refresh_window_is_a_setting() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_expires_in(600);
    let first = ws.fill(URL).served_token();
    assert_eq!(ws.fill(URL).served_token(), first);
    assert_eq!(ws.platform.count(), 1);
    ws.set_env("MOLECULE_TOKEN_REFRESH_WINDOW", "900");
    assert_ne!(ws.fill(URL).served_token(), first);
    assert_eq!(ws.platform.count(), 2);
}

#[test]
fn tokens_without_an_expiry_are_not_cached() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_default(Reply::TokenNoExpiry);
    let first = ws.fill(URL).served_token();
    let second = ws.fill(URL).served_token();
    assert_ne!(first, second);
    assert_eq!(ws.platform.count(), 2);
    assert!(!ws.cache_entry().exists());
}

#[test]
fn no_cache_turns_it_off() {
    for (flag, env) in [(true, None), (false, Some("1")), (false, Some("yes"))] {
        let mut ws = Workspace::new();
        if let Some(v) = env {
            ws.set_env("MOLECULE_TOKEN_NO_CACHE", v);
        }
        let args: &[&str] = if flag {
            &["--no-cache", "fetch-token"]
        } else {
            &["fetch-token"]
        };
        for _ in 0..2 {
            assert_eq!(ws.helper(args, "").code(), 0);
        }
        assert_eq!(ws.platform.count(), 2, "{flag} {env:?}");
        assert!(!ws.cache.exists());
    }
}

#[test]
fn scripts_gh_and_exec_share_the_cached_token() {
    let ws = Workspace::new();
    ws.configure_generic();
    let token = ws.fill(URL).served_token();
    let out = ws.helper(&["fetch-token"], "");
    assert_eq!(out.stdout, format!("{token}\n"));
    let mut c = ws.command(BIN);
    c.args([
        "exec",
        "--",
        "sh",
        "-c",
        "test \"$GH_TOKEN\" = \"$GITHUB_TOKEN\" && echo ${#GH_TOKEN}",
    ]);
    let out = ws.run(c, "");
    assert_eq!(out.stdout.trim(), token.len().to_string(), "{out:?}");
    assert_eq!(ws.platform.count(), 1);
}

#[test]
fn a_cache_entry_of_another_user_is_not_read() {
    // Only root can make a file owned by someone else.
    let ws = Workspace::new();
    ws.configure_generic();
    let first = ws.fill(URL).served_token();
    let status = Command::new("chown")
        .arg("65534")
        .arg(ws.cache_entry())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "chown needs root; these tests run as root in CI"
    );
    let second = ws.fill(URL).served_token();
    assert_ne!(second, first);
}

#[test]
fn erase_keeps_a_newer_token_cached_while_it_waited_for_the_lock() {
    let ws = Workspace::new();
    let fetch = || ws.helper(&["fetch-token"], "").stdout.trim().to_string();
    let old = fetch();
    let old_entry = std::fs::read(ws.cache_entry()).unwrap();
    ws.forget_cache();
    let new = fetch();
    assert_ne!(old, new);
    let new_entry = std::fs::read(ws.cache_entry()).unwrap();
    std::fs::write(ws.cache_entry(), &old_entry).unwrap();

    // Hold the lock as a fetching process would, and let erase wait on it.
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(ws.cache.join("token.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut erase = ws.command(BIN);
    erase
        .arg("erase")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = erase.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        write!(stdin, "protocol=https\nhost=github.com\npassword={old}\n\n").unwrap();
    }
    assert!(
        wait_until(|| blocked_on_a_lock(child.id())),
        "erase never waited for the lock"
    );
    // Meanwhile the process holding the lock cached a newer token.
    let tmp = ws.cache.join("swap");
    std::fs::write(&tmp, &new_entry).unwrap();
    std::fs::rename(&tmp, ws.cache_entry()).unwrap();
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    ws.assert_no_secret_in(&String::from_utf8_lossy(&out.stderr), "stderr");
    assert_eq!(std::fs::read(ws.cache_entry()).unwrap(), new_entry);
    assert_eq!(fetch(), new);
}

/// Poll a condition (not a sleep standing in for one) for up to 10 s.
fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Does /proc/locks show process `pid` waiting for a lock?
fn blocked_on_a_lock(pid: u32) -> bool {
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    locks.lines().any(|line| {
        let mut fields = line.split_whitespace().skip(1);
        fields.next() == Some("->") && line.split_whitespace().nth(5) == Some(&pid.to_string())
    })
}

/// Every file in the cache directory, sorted.
fn cache_files(ws: &Workspace) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&ws.cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn the_files_of_owners_whose_tokens_expired_a_day_ago_go_after_a_fetch() {
    let ws = Workspace::new();
    let owners: Vec<String> = (0..20).map(|i| format!("org{i}")).collect();
    let mut listed: Vec<&str> = owners.iter().map(String::as_str).collect();
    listed.push("orgNew");
    ws.platform.set_owners(&listed);
    for owner in &owners {
        let out = ws.helper(&["fetch-token", "--owner", owner], "");
        assert_eq!(out.code(), 0, "{out:?}");
    }
    // A 404 owner leaves a history and its memory.
    let out = ws.helper(&["fetch-token", "--owner", "orgGone"], "");
    assert_eq!(out.code(), 1, "{out:?}");
    // Two days pass: every token expired a day and more ago.
    let two_days = 2 * 86_400;
    let now = std::time::SystemTime::now();
    for name in cache_files(&ws) {
        let path = ws.cache.join(&name);
        if name.starts_with("token@") && !name.contains('.') {
            let text = std::fs::read_to_string(&path).unwrap();
            let aged: String = text
                .lines()
                .map(|l| match l.split_once(' ') {
                    Some((field @ ("fetched" | "expires"), value)) => {
                        let t: i64 = value.parse().unwrap();
                        format!("{field} {}\n", t - two_days)
                    }
                    _ => format!("{l}\n"),
                })
                .collect();
            std::fs::write(&path, aged).unwrap();
        }
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(now - Duration::from_secs(two_days as u64))
            .unwrap();
    }
    assert!(cache_files(&ws).len() > 20, "{:?}", cache_files(&ws));
    // The next fetch sweeps them.
    let out = ws.helper(&["fetch-token", "--owner", "orgNew"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let left: Vec<String> = cache_files(&ws)
        .into_iter()
        .filter(|n| n.starts_with("token@"))
        .collect();
    assert_eq!(left, ["token@orgnew"]);
}

//! Regression tests for issue 12, "Hardening, round two": each numbered
//! defect (1 to 10) as a hostile platform, a look-alike URL, a stalled
//! neighbour or the user's own config shows it, black-box against the built
//! binary and the real git. Each test asserts the behaviour the issue asks
//! for; a section's comment names the defect it covers.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const URL: &str = "https://github.com/org/repo.git";
const GET: &str = "protocol=https\nhost=github.com\n\n";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// configure or unconfigure succeeded, quietly but for its one line per
/// section changed.
fn ok(out: &Out) {
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    assert!(
        out.stdout
            .lines()
            .all(|l| l.starts_with("configured ") || l.starts_with("removed ")),
        "{out:?}"
    );
}

/// Poll a condition (not a sleep standing in for one) for up to 10 s.
fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// A 429 with this Retry-After value.
fn too_many(retry_after: &str) -> Reply {
    Reply::Status {
        code: 429,
        headers: vec![("Retry-After".into(), retry_after.into())],
    }
}

/// Start `command` with piped stdio, write `stdin` and close it.
fn spawn_with_input(mut command: Command, stdin: &str) -> Child {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child
}

/// Wait for a child started by [`spawn_with_input`], checking its stderr for secrets.
fn finish(ws: &Workspace, child: Child) -> Out {
    let output = child.wait_with_output().unwrap();
    let out = Out {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    ws.assert_no_secret_in(&out.stderr, "stderr");
    out
}

/// `git credential fill` of URL with the platform unreachable.
fn fill_with_platform_down(ws: &Workspace) -> Out {
    let mut c = ws.command("git");
    c.env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()))
        .args(["credential", "fill"]);
    ws.run(c, &format!("url={URL}\n\n"))
}

// ---- 1. url= is split as git splits it ------------------------------------------

const GITEA: &str = "git.example.test";

/// A workspace serving github.com, github.com:8443 and [::1]:8443 from the
/// platform and git.example.test from the secret GITEA_TOKEN, with git's
/// only helper a recorder of what git sends it.
fn url_workspace() -> (Workspace, PathBuf) {
    let mut ws = Workspace::new();
    ws.set_env(
        "MOLECULE_GIT_HOSTS",
        "github.com,github.com:8443,[::1]:8443",
    );
    ws.set_env("MOLECULE_SECRET_HOSTS", format!("{GITEA}=GITEA_TOKEN"));
    ws.write_secret("GITEA_TOKEN", &format!("gitea{}\n", unique()));
    let got = ws.path().join("git-sent");
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = \"!f() {{ cat > {}; }}; f\"\n",
        got.display()
    ));
    (ws, got)
}

/// What the real `git credential fill` sends a helper for `url`.
fn git_sends(ws: &Workspace, got: &Path, url: &str) -> String {
    let _ = std::fs::remove_file(got);
    let out = ws.fill(url);
    assert!(
        got.exists(),
        "git ran no helper for {url:?} (pick another URL): {out:?}"
    );
    read(got)
}

/// `url=URL` given to our `get` must be answered exactly as the request
/// git itself makes of URL (its `host=`, `username=`…). None when it is;
/// else what differs.
fn url_mismatch(ws: &Workspace, got: &Path, url: &str) -> Option<String> {
    let sent = git_sends(ws, got, url);
    let as_git = ws.helper(&["get"], &format!("{sent}\n"));
    let as_url = ws.helper(&["get"], &format!("url={url}\n\n"));
    let same = as_url.stdout == as_git.stdout
        && (as_url.code() == as_git.code() || (as_git.code() != 0 && as_url.stdout.is_empty()));
    (!same).then(|| {
        format!(
            "url={url:?}: git sends {sent:?}, answered with exit {} and {:?}; url= answered \
             with exit {} and {:?} (stderr {:?})",
            as_git.code(),
            redact(&as_git.stdout),
            as_url.code(),
            redact(&as_url.stdout),
            as_url.stderr
        )
    })
}

/// A helper's answer with the password replaced, for messages.
fn redact(stdout: &str) -> String {
    stdout
        .lines()
        .map(|l| match l.split_once('=') {
            Some(("password", _)) => "password=<served>\n".to_string(),
            _ => format!("{l}\n"),
        })
        .collect()
}

fn assert_url_answered_as_git_sends(url: &str) {
    let (ws, got) = url_workspace();
    if let Some(mismatch) = url_mismatch(&ws, &got, url) {
        panic!("{mismatch}");
    }
}

#[test]
fn url_with_hash_before_at_is_not_our_host() {
    // git: host=evil.test.
    assert_url_answered_as_git_sends("https://evil.test#@github.com/");
}

#[test]
fn url_with_query_before_at_is_not_our_host() {
    // git: host=evil.test.
    assert_url_answered_as_git_sends("https://evil.test?@github.com/");
}

#[test]
fn url_with_two_ats_ends_the_user_at_the_first() {
    // git: username=x, host=evil.test@github.com.
    assert_url_answered_as_git_sends("https://x@evil.test@github.com/");
}

#[test]
fn url_with_query_before_at_gets_no_secret_of_a_secret_host() {
    let (ws, got) = url_workspace();
    let url = format!("https://evil.test?@{GITEA}/x.git");
    assert_eq!(
        git_sends(&ws, &got, &url),
        "protocol=https\nhost=evil.test\n"
    );
    let out = ws.helper(&["get"], &format!("url={url}\n\n"));
    assert_eq!(
        (out.code(), redact(&out.stdout).as_str()),
        (0, ""),
        "the Gitea secret went to evil.test"
    );
}

#[test]
fn url_splitting_matches_git_on_a_table() {
    let (ws, got) = url_workspace();
    let urls = [
        "https://evil.test#@github.com/",
        "https://evil.test?@github.com/",
        "https://evil.test/@github.com/",
        "https://x@evil.test@github.com/",
        "https://github.com@evil.test/",
        "https://x@github.com/org/repo.git",
        "https://a%40b@github.com/org/repo.git",
        "https://evil.test%40github.com/",
        "https://evil.test%2f@github.com/",
        "https://github.com%2fevil/",
        "https://gith%75b.com/org/repo.git",
        "https://GitHub.COM/org/repo.git",
        "HTTPS://github.com/org/repo.git",
        "https://github.com./org/repo.git",
        "https://github.com:443/org/repo.git",
        "https://github.com:8443/org/repo.git",
        "https://github.com:/org/repo.git",
        "https://github.com#frag",
        "https://github.com?q=1",
        "https://github.com",
        "https://[::1]:8443/org/repo.git",
        "https://[::1]/org/repo.git",
        "https://x@[::1]:8443/",
        "https://git.example.test/o/r.git",
        "https://agent@git.example.test/o/r.git",
        "https://evil.test#@git.example.test/x.git",
        "https://evil.test?@git.example.test/x.git",
        "https://x@evil.test@git.example.test/x.git",
        "https://GIT.example.test./o/r.git",
    ];
    let mismatches: Vec<String> = urls
        .iter()
        .filter_map(|url| url_mismatch(&ws, &got, url))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} URLs answered unlike git's request:\n{}",
        mismatches.len(),
        urls.len(),
        mismatches.join("\n")
    );
}

// ---- 2. a huge Retry-After: no panic, and a crash cannot leak ---------------------

#[test]
fn retry_after_of_u64_max_gives_up_with_one_line_naming_http_429() {
    let ws = Workspace::new();
    ws.platform.set_default(too_many("18446744073709551615"));
    // As git runs it: in a working directory, here with core dumps allowed.
    let cwd = ws.path().join("work");
    std::fs::create_dir(&cwd).unwrap();
    let mut c = ws.command("sh");
    c.args([
        "-c",
        "ulimit -c unlimited; exec \"$0\" \"$@\"",
        BIN,
        "--timeout",
        "3",
        "get",
    ])
    .current_dir(&cwd);
    let started = Instant::now();
    let out = ws.run(c, GET);
    let took = started.elapsed();
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stdout, "");
    out.assert_one_error("HTTP 429");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let left: Vec<_> = std::fs::read_dir(&cwd).unwrap().collect();
    assert!(left.is_empty(), "left in git's working directory: {left:?}");
}

/// The core files in `dir` (any name starting with "core").
fn cores_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("core"))
        .collect()
}

/// Start `argv` under `sh -c 'ulimit -c unlimited; exec …'` in `cwd`, kill it
/// with SIGABRT once `ready(pid)` holds, and return the core files it left.
fn abort_with_cores_allowed(
    ws: &Workspace,
    cwd: &Path,
    argv: &[&str],
    mut ready: impl FnMut(u32) -> bool,
) -> Vec<String> {
    let mut c = ws.command("sh");
    c.args(["-c", "ulimit -c unlimited; exec \"$0\" \"$@\""])
        .args(argv)
        .current_dir(cwd);
    let child = spawn_with_input(c, GET);
    let pid = child.id();
    assert!(wait_until(|| ready(pid)), "{argv:?} never got ready");
    let status = Command::new("kill")
        .args(["-ABRT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = finish(ws, child);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(libc::SIGABRT),
        "{out:?}"
    );
    cores_in(cwd)
}

#[test]
fn a_crash_mid_fetch_writes_no_core_file() {
    let ws = Workspace::new();
    ws.platform.set_default(Reply::Hang);
    // The control: a process that does nothing about core dumps leaves one
    // here (else this machine's core_pattern hides them and the test below
    // would prove nothing).
    let control = ws.path().join("control");
    std::fs::create_dir(&control).unwrap();
    let cores = abort_with_cores_allowed(&ws, &control, &["sleep", "60"], |pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    assert!(
        !cores.is_empty(),
        "no core file from the control process: /proc/sys/kernel/core_pattern is {:?}; \
         this test needs `echo core > /proc/sys/kernel/core_pattern`",
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default()
    );
    // The helper, holding the bearer, blocked on the platform.
    let cwd = ws.path().join("work");
    std::fs::create_dir(&cwd).unwrap();
    let cores = abort_with_cores_allowed(&ws, &cwd, &[BIN, "--timeout", "30", "get"], |_| {
        ws.platform.count() >= 1
    });
    assert!(
        cores.is_empty(),
        "a crashed helper left {cores:?} in git's working directory"
    );
}

#[test]
fn the_helper_is_not_dumpable_and_has_no_core_limit() {
    // A dumpable process's /proc/PID files belong to its own uid, a
    // non-dumpable one's to root: run the helper as nobody to tell them
    // apart (as root, both are root's).
    let ws = Workspace::new();
    ws.platform.set_default(Reply::Hang);
    for dir in [ws.path(), ws.configs.as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        ws.configs.join(".auth_token"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut c = ws.command("sh");
    c.args([
        "-c",
        "ulimit -c unlimited; exec setpriv --reuid=65534 --regid=65534 --clear-groups \"$0\" \"$@\"",
        BIN,
        "--no-cache",
        "--timeout",
        "30",
        "get",
    ]);
    let mut child = spawn_with_input(c, GET);
    let pid = child.id();
    assert!(
        ws.platform.wait_for_count(1, Duration::from_secs(10)),
        "the helper never asked the platform"
    );
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let owner =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(proc_dir.join("status")).unwrap());
    let limits = read(&proc_dir.join("limits"));
    let _ = child.kill();
    let out = finish(&ws, child);
    assert!(
        killed_by_us(&out),
        "the helper ended before it was killed: {out:?}"
    );
    let core_limit = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap()
        .split_whitespace()
        .nth(4)
        .unwrap()
        .to_string();
    assert_eq!(
        (owner, core_limit.as_str()),
        (0, "0"),
        "the helper is dumpable (its /proc files belong to uid {owner}) or may dump core \
         (soft limit {core_limit})"
    );
}

/// The child was killed by us (SIGKILL), not stopped by an error of its own.
fn killed_by_us(out: &Out) -> bool {
    std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(libc::SIGKILL)
}

// ---- 3. Retry-After: 0 does not turn backoff off; protocol errors are final ----

#[test]
fn endless_429_with_retry_after_zero_is_retried_with_backoff() {
    let ws = Workspace::new();
    ws.platform.set_default(too_many("0"));
    let out = ws.helper(&["--timeout", "3", "get"], GET);
    assert_eq!(out.code(), 1, "{out:?}");
    out.assert_one_error("HTTP 429");
    let asked = ws.platform.count();
    assert!(asked <= 10, "{asked} requests in 3 s");
}

#[test]
fn oversized_response_headers_are_not_retried() {
    let ws = Workspace::new();
    let mut head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: ".to_vec();
    head.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    head.extend(b"\r\nContent-Length: 2\r\n\r\n{}");
    ws.platform.set_default(Reply::Raw(head));
    let out = ws.helper(&["--timeout", "5", "get"], GET);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(ws.platform.count(), 1, "retried: {out:?}");
}

#[test]
fn an_http_0_9_answer_is_not_retried() {
    let ws = Workspace::new();
    ws.platform
        .set_default(Reply::Raw(b"{\"token\":\"ghs_nine\"}\n".to_vec()));
    let out = ws.helper(&["--timeout", "5", "get"], GET);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(ws.platform.count(), 1, "retried: {out:?}");
}

// ---- 4. stalled neighbours and a failing platform -----------------------------------

/// Hold the cache's lock as a stalled process would; released on drop.
fn hold_cache_lock(ws: &Workspace) -> std::fs::File {
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(ws.cache.join("token.lock"))
        .expect("the cache's token.lock");
    lock.lock().unwrap();
    lock
}

#[test]
fn a_valid_cached_token_is_served_at_once_while_another_process_holds_the_lock() {
    let ws = Workspace::new();
    ws.platform.set_expires_in(600);
    let first = ws.helper(&["fetch-token"], "").stdout.trim().to_string();
    assert!(first.starts_with("ghs_"));
    let _held = hold_cache_lock(&ws);
    // 600 s left, a 900 s window: the token is due for a refresh, and valid.
    let started = Instant::now();
    let out = ws.helper(&["--refresh-window", "900", "--timeout", "10", "get"], GET);
    let took = started.elapsed();
    assert_eq!(out.code(), 0, "after {took:?}: {out:?}");
    assert_eq!(out.attr("password").as_deref(), Some(first.as_str()));
    assert!(
        took < Duration::from_secs(3),
        "waited {took:?} for the lock"
    );
    assert_eq!(ws.platform.count(), 1);
}

/// Run `n` `get`s at once; their outputs and the slowest one's time.
fn concurrent_gets(ws: &Workspace, n: usize) -> (Vec<Out>, Duration) {
    let started = Instant::now();
    let outs = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| s.spawn(|| ws.helper(&["get"], GET)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    (outs, started.elapsed())
}

/// The cache directory holds a remembered failure: a file besides the
/// lock (and no entry), every file 0600.
fn assert_failure_remembered(ws: &Workspace) {
    let names: Vec<String> = std::fs::read_dir(&ws.cache)
        .unwrap_or_else(|e| panic!("{}: {e}", ws.cache.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!names.contains(&"token".to_string()), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n != "token.lock" && !n.starts_with("journal.jsonl")),
        "no failure remembered in the cache directory: {names:?}"
    );
    for name in &names {
        let path = ws.cache.join(name);
        assert!(path.is_file(), "{name}");
        assert_eq!(mode(&path), 0o600, "{name}");
    }
}

#[test]
fn twenty_four_gets_against_a_failing_platform_make_at_most_four_requests() {
    let ws = Workspace::new();
    ws.platform.set_default(Reply::status(500));
    let (outs, _) = concurrent_gets(&ws, 24);
    for out in &outs {
        assert_ne!(out.code(), 0, "{out:?}");
        assert_eq!(out.stdout, "", "{out:?}");
    }
    let asked = ws.platform.count();
    assert!(asked <= 4, "{asked} platform requests for 24 gets");
    assert_failure_remembered(&ws);
}

#[test]
fn twenty_four_gets_against_a_refused_port_do_not_wait_in_line() {
    let mut ws = Workspace::new();
    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    // The debug lines count each process's connection attempts: a refused
    // port records no request anywhere else. (How long they take is the
    // benchmark's business, not a test's.)
    ws.set_env("MOLECULE_TOKEN_LOG", "debug");
    let (outs, _) = concurrent_gets(&ws, 24);
    let mut attempts = 0;
    for out in &outs {
        assert_ne!(out.code(), 0, "{out:?}");
        assert_eq!(out.stdout, "", "{out:?}");
        attempts += out
            .stderr
            .lines()
            .filter(|l| l.contains("debug: attempt ") && l.contains(" failed after "))
            .count();
    }
    // One fetch makes three attempts; the processes queued behind it fail
    // at once on the remembered failure instead of three attempts each (72
    // in all). A process that starts after the memory has lapsed (a loaded
    // machine) makes its own three.
    assert!(
        (1..=6).contains(&attempts),
        "{attempts} connection attempts for 24 gets"
    );
    assert_failure_remembered(&ws);
}

#[test]
fn an_unavailable_platform_is_remembered_and_a_bad_answer_is_not() {
    // A 500: the next get, a moment later, does not ask again.
    let ws = Workspace::new();
    ws.platform.set_default(Reply::status(500));
    assert_ne!(ws.helper(&["get"], GET).code(), 0);
    let asked = ws.platform.count();
    ws.platform.set_default(Reply::Token);
    let out = ws.helper(&["get"], GET);
    assert_ne!(out.code(), 0, "the 500 was not remembered: {out:?}");
    assert_eq!(ws.platform.count(), asked, "the 500 was not remembered");

    // A 401, an expired token: the next get asks again, and is served.
    for bad in [
        Reply::status(401),
        Reply::TokenWith {
            token: format!("ghs_expired{}", unique()),
            expires_at: Some("2001-01-01T00:00:00Z".into()),
        },
    ] {
        let ws = Workspace::new();
        ws.platform.push(bad.clone());
        assert_ne!(ws.helper(&["get"], GET).code(), 0, "{bad:?}");
        let out = ws.helper(&["get"], GET);
        assert_eq!(out.code(), 0, "{bad:?} was remembered: {out:?}");
        assert_eq!(out.attr("password"), ws.platform.last_token(), "{bad:?}");
        assert_eq!(ws.platform.count(), 2, "{bad:?}");
    }
}

#[test]
fn a_valid_entry_in_an_unwritable_cache_directory_is_served() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_expires_in(600);
    let first = ws.fill(URL).served_token();
    // 600 s left, a 900 s window: the token is due for a refresh, and valid.
    ws.set_env("MOLECULE_TOKEN_REFRESH_WINDOW", "900");
    // A read-only cache: the entry is there, no lock can be created.
    std::fs::remove_file(ws.cache.join("token.lock")).unwrap();
    std::fs::set_permissions(&ws.cache, std::fs::Permissions::from_mode(0o500)).unwrap();
    // Root ignores permission bits; without these capabilities it cannot.
    let unprivileged = |program: &str| ws.unprivileged(program);
    let mut touch = unprivileged("touch");
    touch.arg(ws.cache.join("probe"));
    assert_ne!(
        ws.run(touch, "").code(),
        0,
        "the cache directory is writable"
    );
    // With the platform failing, as in the issue: only the cache can serve.
    // (The platform stays at the same URL: the entry is the platform's.)
    ws.platform.set_default(Reply::status(503));
    let mut fill = unprivileged("git");
    fill.args(["credential", "fill"]);
    let out = ws.run(fill, &format!("url={URL}\n\n"));
    assert_eq!(out.served_token(), first, "{out:?}");
    assert_eq!(ws.platform.count(), 1, "the cached token was not used");
}

// ---- 5. erase reaches the fallback ------------------------------------------------

#[test]
fn rejecting_a_dead_token_in_the_fallback_store_erases_it_and_the_pat_comes_back() {
    let ws = Workspace::new();
    ws.add_secret(FALLBACK_PAT);
    let dead = format!("ghs_dead{}", unique());
    ws.add_secret(&dead);
    let pat_line = read(&ws.fallback);
    // An old entrypoint's store, the dead token above the operator's PAT.
    std::fs::write(
        &ws.fallback,
        format!("https://x-access-token:{dead}@github.com\n{pat_line}"),
    )
    .unwrap();
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    ok(&ws.helper(&["configure"], ""));
    // The platform is down: ours fails and the store answers, dead token first.
    let filled = fill_with_platform_down(&ws);
    assert_eq!(filled.attr("password").as_deref(), Some(dead.as_str()));
    // The push fails; git rejects what it was given.
    let out = ws.git(&["credential", "reject"], &format!("{}\n", filled.stdout));
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        read(&ws.fallback),
        pat_line,
        "the dead token is still in the store"
    );
    fill_with_platform_down(&ws).assert_fallback();
}

// ---- 6. a short-lived token's fetch counts as its refresh attempt ---------------

#[test]
fn a_token_with_less_than_the_window_left_is_not_fetched_again_at_once() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_expires_in(200);
    // 200 s left, inside the 300 s window: the fetch that brought it was
    // its refresh attempt, so the next 30 s are served from the cache.
    let mut tokens = Vec::new();
    let mut counts = Vec::new();
    for _ in 0..4 {
        tokens.push(ws.fill(URL).served_token());
        counts.push(ws.platform.count());
    }
    assert_eq!(counts, [1, 1, 1, 1], "platform requests after each fill");
    assert!(tokens.iter().all(|t| *t == tokens[0]));
}

// ---- 7. configure and unconfigure respect the user's file ----------------------

/// The path configure writes: this binary, canonical.
fn ours() -> String {
    std::fs::canonicalize(BIN)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn configure_keeps_the_users_reset_line_and_unconfigure_restores_it() {
    let ws = Workspace::new();
    ws.add_secret(FALLBACK_PAT);
    std::fs::copy(&ws.fallback, ws.home.join(".git-credentials")).unwrap();
    let start =
        "[credential]\n\thelper = store\n[credential \"https://github.com/\"]\n\thelper =\n";
    ws.write_gitconfig(start);
    // The user switched store off for github.com: git gets no PAT.
    let before = fill_with_platform_down(&ws);
    assert_ne!(before.code(), 0, "{before:?}");

    ok(&ws.helper(&["configure"], ""));
    let configured = read(&ws.gitconfig);
    assert!(
        !configured.contains("fallback"),
        "store adopted as a fallback for github.com:\n{configured}"
    );
    let out = fill_with_platform_down(&ws);
    assert_ne!(
        out.attr("password").as_deref(),
        Some(FALLBACK_PAT),
        "after configure store hands out the PAT:\n{configured}"
    );
    let out = ws.fill(URL);
    assert_eq!(out.attr("password"), ws.platform.last_token(), "{out:?}");

    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), start);
}

#[test]
fn unconfigure_restores_the_users_file_byte_for_byte() {
    let ws = Workspace::new();
    let starts = [
        ("no final newline", "[user]\n\tname = Op"),
        (
            "no final newline after a helper",
            "[credential]\n\thelper = store",
        ),
        (
            "trailing comments",
            "[credential]\n\thelper = store ; the PAT\n# the end\n; really\n",
        ),
        (
            "a comment after a section header",
            "[credential] # mine\n\thelper = store\n",
        ),
        (
            "runs of blank lines",
            "[user]\n\tname = Op\n\n\n\n[credential]\n\thelper = store\n\n\n",
        ),
        (
            "a comment-only section of our name",
            "[credential \"https://github.com/\"]\n\t# the PAT is in store\n\
             [credential]\n\thelper = store\n",
        ),
        (
            "a comment-only section of our name, last",
            "[credential]\n\thelper = store\n\
             [credential \"https://github.com/\"]\n\t# the PAT is in store\n",
        ),
    ];
    let mut failures = Vec::new();
    for (name, start) in starts {
        ws.write_gitconfig(start);
        let configure = ws.helper(&["configure"], "");
        if configure.code() != 0 {
            failures.push(format!("{name}: configure failed: {}", configure.stderr));
            continue;
        }
        let helpers = ws.git(
            &[
                "config",
                "--global",
                "--get-all",
                "credential.https://github.com/.helper",
            ],
            "",
        );
        if !helpers.stdout.lines().any(|l| l == ours()) {
            failures.push(format!("{name}: not configured:\n{}", read(&ws.gitconfig)));
        }
        let unconfigure = ws.helper(&["unconfigure"], "");
        let after = read(&ws.gitconfig);
        if unconfigure.code() != 0 || after != start {
            failures.push(format!(
                "{name}: unconfigure (exit {}) left {after:?}, not {start:?}",
                unconfigure.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_config_with_a_non_utf8_byte_can_be_configured_unconfigured_and_diagnosed() {
    let ws = Workspace::new();
    let start = b"[user]\n\tname = Jos\xe9\n[credential]\n\thelper = store\n".to_vec();
    std::fs::write(&ws.gitconfig, &start).unwrap();
    let out = ws.helper(&["configure"], "");
    assert_eq!(out.code(), 0, "configure: {out:?}");
    let helpers = ws.git(
        &[
            "config",
            "--global",
            "--get-all",
            "credential.https://github.com/.helper",
        ],
        "",
    );
    assert!(helpers.stdout.lines().any(|l| l == ours()), "{helpers:?}");
    let status = ws.helper(&["status"], "");
    let git_line = status
        .stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("git"))
        .unwrap_or_else(|| panic!("no git line: {status:?}"));
    assert!(git_line.starts_with("ok"), "status: {status:?}");
    let json = ws.helper(&["status", "--json"], "");
    let value: serde_json::Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {json:?}"));
    assert!(value["checks"].is_array(), "{value}");
    let out = ws.helper(&["unconfigure"], "");
    assert_eq!(out.code(), 0, "unconfigure: {out:?}");
    assert_eq!(std::fs::read(&ws.gitconfig).unwrap(), start);
}

#[test]
fn the_config_lock_is_created_private() {
    // Observed with strace: the mode each FILE.lock* file (ours, and git's
    // own FILE.lock.lock when it edits ours) is created with, after the
    // creating process's umask, before any chmod. A 0600 config, umask 022.
    let ws = Workspace::new();
    ws.write_gitconfig("[credential]\n\thelper = store\n");
    std::fs::set_permissions(&ws.gitconfig, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = ws.path().join("strace.log");
    let lock = format!("{}.lock", ws.gitconfig.display());
    for command in ["configure", "unconfigure"] {
        let mut c = ws.command("sh");
        c.args([
            "-c",
            "umask 022; exec strace -f -qq -e trace=open,openat,creat,umask,clone,clone3,fork,vfork \
             -o \"$0\" \"$@\"",
        ])
        .arg(&log)
        .args([BIN, command]);
        let out = ws.run(c, "");
        assert_ne!(
            out.code(),
            127,
            "strace is missing: apt-get install -y strace"
        );
        assert_eq!(out.code(), 0, "{command}: {out:?}");
        let created = creations(&read(&log), &lock);
        assert!(
            !created.is_empty(),
            "{command}: no lock created?\n{}",
            read(&log)
        );
        for (line, mode) in created {
            assert_eq!(
                mode & 0o077,
                0,
                "{command}: created {mode:o}, readable by others: {line}"
            );
        }
        assert_eq!(mode(&ws.gitconfig), 0o600, "{command}");
    }
}

/// In an `strace -f` log of open/openat/creat, umask and the clone calls,
/// each file created whose path starts with `prefix`, with the mode it got:
/// the mode asked for less the umask of the creating process (set by an
/// umask call of its own, else inherited from its parent when it was
/// cloned; 022 for the first process).
fn creations(log: &str, prefix: &str) -> Vec<(String, u32)> {
    let lines: Vec<(u32, &str)> = log
        .lines()
        .filter_map(|l| {
            let (pid, rest) = l.trim_start().split_once(' ')?;
            Some((pid.parse().ok()?, rest.trim_start()))
        })
        .collect();
    let mut parent = std::collections::HashMap::new();
    for (i, (pid, rest)) in lines.iter().enumerate() {
        let cloned = (rest.contains("clone") || rest.contains("fork")) && !rest.ends_with("...>");
        if let Some(child) = rest
            .rsplit_once("= ")
            .and_then(|(_, n)| n.trim().parse::<u32>().ok())
            .filter(|_| cloned)
        {
            parent.insert(child, (*pid, i));
        }
    }
    fn umask_at(
        lines: &[(u32, &str)],
        parent: &std::collections::HashMap<u32, (u32, usize)>,
        pid: u32,
        at: usize,
    ) -> u32 {
        let own = lines[..at].iter().rev().find_map(|(p, rest)| {
            let arg = rest.strip_prefix("umask(")?.split(')').next()?;
            (*p == pid).then(|| u32::from_str_radix(arg, 8).ok())?
        });
        match (own, parent.get(&pid)) {
            (Some(umask), _) => umask,
            (None, Some(&(up, i))) => umask_at(lines, parent, up, i),
            (None, None) => 0o022,
        }
    }
    let quoted = format!("\"{prefix}");
    lines
        .iter()
        .enumerate()
        .filter(|(_, (_, rest))| {
            rest.contains(&quoted) && (rest.contains("O_CREAT") || rest.starts_with("creat("))
        })
        .map(|(i, (pid, rest))| {
            let asked = rest
                .rsplit_once(", 0")
                .and_then(|(_, m)| m.split(')').next())
                .and_then(|m| u32::from_str_radix(m, 8).ok())
                .unwrap_or_else(|| panic!("no mode in {rest}"));
            (
                rest.to_string(),
                asked & !umask_at(&lines, &parent, *pid, i),
            )
        })
        .collect()
}

// ---- 8. status never shows a secret inside a helper line ---------------------

#[test]
fn status_does_not_print_a_password_inside_a_helper_line() {
    let ws = Workspace::new();
    // Made at run time: a token-shaped literal in the source would trip
    // secret scanners.
    let pat = &format!("ghp_{}{}", "abcdefghijklmnopqrstuvwxyz", "0123456789");
    ws.add_secret(pat);
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = \"!f() {{ echo username=op; echo password={pat}; }}; f\"\n"
    ));
    ok(&ws.helper(&["configure"], ""));
    for args in [&["status"][..], &["status", "--json"]] {
        let out = ws.helper(args, "");
        // Not the PAT, nor any piece of it six characters long.
        let secret = pat.strip_prefix("ghp_").unwrap();
        let pieces: Vec<&str> = (0..=secret.len() - 6)
            .map(|i| &secret[i..i + 6])
            .filter(|piece| out.stdout.contains(piece))
            .collect();
        assert!(
            pieces.is_empty(),
            "{args:?} shows {pieces:?} of the PAT:\n{}",
            out.stdout
        );
    }
}

// ---- 9. relative cache directories ---------------------------------------------

#[test]
fn a_relative_xdg_runtime_dir_puts_no_cache_in_the_repository() {
    let ws = Workspace::new();
    ws.configure_generic();
    let repo = ws.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    assert_eq!(
        ws.git(&["init", "-q", repo.to_str().unwrap()], "").code(),
        0
    );
    let mut c = ws.command("git");
    c.env_remove("MOLECULE_TOKEN_CACHE_DIR")
        .env("XDG_RUNTIME_DIR", "run")
        .current_dir(&repo)
        .args(["credential", "fill"]);
    ws.run(c, &format!("url={URL}\n\n")).served_token();
    assert!(
        !repo.join("run").exists(),
        "the token cache is inside the repository"
    );
}

#[test]
fn a_relative_cache_dir_setting_is_a_usage_error_naming_it() {
    let mut ws = Workspace::new();
    let out = ws.helper(&["--cache-dir", "rel", "fetch-token"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
    assert!(out.stderr.contains("--cache-dir"), "{out:?}");
    ws.set_env("MOLECULE_TOKEN_CACHE_DIR", "rel");
    let out = ws.helper(&["fetch-token"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
    out.assert_one_error("MOLECULE_TOKEN_CACHE_DIR");
    assert!(!ws.path().join("rel").exists());
    assert_eq!(ws.platform.count(), 0);
}

// ---- 10. userinfo is redacted in every message -----------------------------------

const URL_PASSWORD: &str = "Pw0rd-9f8e7d6c";

#[test]
fn a_platform_url_with_a_password_is_refused_without_echoing_it() {
    let mut ws = Workspace::new();
    ws.add_secret(URL_PASSWORD);
    ws.set_env(
        "PLATFORM_URL",
        format!("http://svc:{URL_PASSWORD}@platform:8080"),
    );
    let out = ws.helper(&["get"], GET);
    assert_eq!(out.code(), 2, "{out:?}");
    out.assert_one_error("PLATFORM_URL");
}

#[test]
fn a_probe_api_url_with_a_password_is_refused_without_echoing_it() {
    let mut ws = Workspace::new();
    ws.add_secret(URL_PASSWORD);
    ws.set_env("MOLECULE_SECRET_HOSTS", "h=GITEA_TOKEN");
    let api = format!("h=https://u:{URL_PASSWORD}@x/api");
    let out = ws.helper(&["status", "--probe", "--api-url", &api], "");
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains("--api-url"), "{out:?}");
}

/// A URL pasted where a host belongs (`--probe-host`, `fetch-token HOST`,
/// `gh-login --hostname`) is refused without its password.
#[test]
fn a_host_argument_holding_a_password_is_refused_without_echoing_it() {
    let ws = Workspace::new();
    ws.add_secret(URL_PASSWORD);
    let url = format!("https://u:{URL_PASSWORD}@github.com");
    let host = format!("u:{URL_PASSWORD}@github.com");
    for (args, code) in [
        (vec!["status", "--probe", "--probe-host", url.as_str()], 2),
        (vec!["fetch-token", url.as_str()], 1),
        (vec!["gh-login", "--hostname", host.as_str()], 2),
    ] {
        let out = ws.helper(&args, "");
        assert_eq!(out.code(), code, "{args:?}: {out:?}");
        assert!(out.stderr.contains("***@github.com"), "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}: {out:?}");
    }
    assert_eq!(ws.platform.count(), 0);
}

// ---- 11. an https platform with a private CA ---------------------------------

#[test]
fn an_https_platform_with_a_private_ca_is_trusted_through_ssl_cert_file_or_dir() {
    let mut ws = Workspace::new();
    let ca = tls::TestCa::new(ws.path());
    let front = tls_front::TlsFront::start(&ca, &["127.0.0.1"], ws.platform.addr());
    ws.set_env("PLATFORM_URL", front.url());
    // The test CA is in no store: the platform's certificate is refused.
    let out = ws.helper(&["--no-cache", "fetch-token"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error(&front.url());
    assert!(out.stderr.contains("certificate"), "{out:?}");
    assert!(out.stderr.contains("SSL_CERT_FILE"), "{out:?}");
    assert_eq!(ws.platform.count(), 0, "a request went through: {out:?}");
    // SSL_CERT_FILE: a PEM bundle holding the CA.
    let mut with_file = ws.command(BIN);
    with_file
        .env("SSL_CERT_FILE", ca.ca_pem_path())
        .args(["--no-cache", "fetch-token"]);
    let out = ws.run(with_file, "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(Some(out.stdout.trim()), ws.platform.last_token().as_deref());
    // SSL_CERT_DIR: a directory holding it (any file name).
    let dir = ws.path().join("ca-dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(ca.ca_pem_path(), dir.join("platform-ca.pem")).unwrap();
    let mut with_dir = ws.command(BIN);
    with_dir
        .env("SSL_CERT_DIR", &dir)
        .args(["--no-cache", "fetch-token"]);
    let out = ws.run(with_dir, "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(Some(out.stdout.trim()), ws.platform.last_token().as_deref());
    assert_eq!(ws.platform.count(), 2);
    // And through git, as an operator runs it.
    ws.configure_generic();
    let mut fill = ws.command("git");
    fill.env("SSL_CERT_FILE", ca.ca_pem_path())
        .args(["credential", "fill"]);
    let out = ws.run(fill, &format!("url={URL}\n\n"));
    assert_eq!(out.served_token(), ws.platform.last_token().unwrap());
}

//! Outages across owners (issue 24): an unavailable platform is the
//! platform's, not an owner's (one record for every owner, at most one
//! process waits on it); a 404 is one owner's, remembered for a few
//! minutes; a stopped lock holder is taken over; the failure memory
//! survives a cache directory that cannot be written; an answer without an
//! owner from a platform that names owners serves only the owner asked for;
//! a path with a `..` segment names no owner. Through the real
//! `git credential fill` (with `useHttpPath`, so git sends the owner) and a
//! kept `store` helper as the fallback.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::mock_platform::Gate;
use crate::support::*;

/// A fill slower than this waited on the platform.
const SLOW: Duration = Duration::from_millis(1500);

/// Our helper, then the operator's PAT in a kept `store` (through
/// `fallback`, which takes `path=` out, as `configure` writes it), with
/// git sending the path.
fn configure_with_paths(ws: &Workspace) {
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = {BIN}\n\thelper = {BIN} fallback -- 'store --file={}'\n\
         \tuseHttpPath = true\n",
        ws.fallback.display()
    ));
}

fn url(owner: &str) -> String {
    format!("https://github.com/{owner}/repo.git")
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

/// 12 concurrent fills across 6 owners, then one fill each for 6 new
/// owners, against a per-owner platform that is out (`reply`): every fill
/// reaches the fallback; how long each took.
fn owners_during_an_outage(reply: Reply) -> Vec<Duration> {
    let mut ws = Workspace::new();
    let owners: Vec<String> = (0..12).map(|i| format!("org{i}")).collect();
    let names: Vec<&str> = owners.iter().map(String::as_str).collect();
    ws.platform.set_owners(&names);
    ws.platform.set_default(reply);
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "4");
    configure_with_paths(&ws);
    let mut took: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let ws = &ws;
                let owner = &owners[i % 6];
                s.spawn(move || {
                    let (out, took) = timed(|| ws.fill(&url(owner)));
                    out.assert_fallback();
                    took
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for owner in &owners[6..] {
        let (out, t) = timed(|| ws.fill(&url(owner)));
        out.assert_fallback();
        took.push(t);
    }
    // One process asked the platform (with its retries), for one owner.
    let mut asked = ws.platform.requested_owners();
    asked.dedup();
    assert_eq!(asked.len(), 1, "{asked:?}");
    took
}

fn assert_at_most_two_slow(kind: &str, took: &[Duration]) {
    let slow = took.iter().filter(|t| **t > SLOW).count();
    assert!(
        slow <= 2,
        "{kind}: {slow} of {} fills took over {SLOW:?}: {took:?}",
        took.len()
    );
}

#[test]
fn a_hung_platform_is_waited_on_once_whatever_the_owner() {
    let took = owners_during_an_outage(Reply::Hang);
    assert_at_most_two_slow("hung", &took);
}

#[test]
fn a_failing_platform_is_waited_on_once_whatever_the_owner() {
    let took = owners_during_an_outage(Reply::status(503));
    assert_at_most_two_slow("503", &took);
}

#[test]
fn an_owner_without_an_installation_is_asked_about_once() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA"]);
    configure_with_paths(&ws);
    for _ in 0..20 {
        let out = ws.fill(&url("orgX"));
        out.assert_fallback();
        out.assert_one_error("no GitHub App installation for orgX (HTTP 404)");
    }
    assert_eq!(ws.platform.token_requests(), 1);
    // Written down in the owner's history, for status.
    let history = std::fs::read_to_string(ws.cache.join("token@orgx.history")).unwrap();
    assert!(history.contains("HTTP 404"), "{history}");
    // Other owners are asked for as usual.
    ws.fill(&url("orgA")).served_token();
    assert_eq!(ws.platform.token_requests(), 2);
}

/// A `fetch-token --owner orgA` running in the background.
fn spawn_fetch(ws: &Workspace) -> Child {
    let mut c = ws.command(BIN);
    c.args(["fetch-token", "--owner", "orgA"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on the pid of a child we have not waited for.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// Write a lock stamp `ago_ms` old into every lock of the cache (as if
/// its holder took it then).
fn age_lock(ws: &Workspace, ago_ms: i64) {
    use std::os::unix::fs::FileExt;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut aged = 0;
    for entry in std::fs::read_dir(&ws.cache).unwrap().flatten() {
        if entry.file_name().to_string_lossy().ends_with(".lock") {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(entry.path())
                .unwrap();
            // The time only: the holder's own "stuck after" stays.
            file.write_all_at(format!("{:020}", now - ago_ms).as_bytes(), 0)
                .unwrap();
            aged += 1;
        }
    }
    assert!(aged > 0, "no lock in the cache");
}

fn cached_token(ws: &Workspace, name: &str) -> Option<String> {
    std::fs::read_to_string(ws.cache.join(name))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("token ").map(str::to_string))
}

fn outage_known(ws: &Workspace) -> bool {
    let text = std::fs::read_to_string(ws.cache.join("platform.state")).unwrap_or_default();
    text.lines()
        .any(|l| l.starts_with("outage-ms ") && l != "outage-ms -")
}

#[test]
fn a_stopped_lock_holder_is_taken_over_and_stores_nothing_when_it_comes_back() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA"]);
    configure_with_paths(&ws);
    let gate = Gate::new();
    ws.platform
        .push(Reply::Gated(gate.clone(), Box::new(Reply::Token)));
    let mut holder = spawn_fetch(&ws);
    assert!(
        ws.platform.wait_for_count(1, Duration::from_secs(10)),
        "the holder never asked"
    );
    signal(&holder, libc::SIGSTOP);
    // It has held the lock past its deadline and the margin (10 + 5 s).
    age_lock(&ws, 16_000);
    let (out, took) = timed(|| ws.fill(&url("orgA")));
    let token = out.served_token();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(ws.platform.token_requests(), 2);
    assert_eq!(cached_token(&ws, "token@orga").as_deref(), Some(&*token));
    // The holder comes back and gets its answer: it does not store it.
    gate.open();
    signal(&holder, libc::SIGCONT);
    let status = holder.wait().unwrap();
    let mut stdout = String::new();
    use std::io::Read;
    holder
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(status.success(), "{stdout}");
    assert_ne!(stdout.trim(), token);
    assert_eq!(cached_token(&ws, "token@orga").as_deref(), Some(&*token));
    assert!(!outage_known(&ws));
    // And everyone is served from the cache.
    assert_eq!(ws.fill(&url("orgA")).served_token(), token);
    assert_eq!(ws.platform.token_requests(), 2);
}

#[test]
fn a_holder_stopped_past_its_deadline_records_no_outage() {
    let mut ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgB"]);
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "1");
    configure_with_paths(&ws);
    let gate = Gate::new();
    ws.platform
        .push(Reply::Gated(gate.clone(), Box::new(Reply::Token)));
    let started = Instant::now();
    let mut holder = spawn_fetch(&ws);
    assert!(ws.platform.wait_for_count(1, Duration::from_secs(10)));
    signal(&holder, libc::SIGSTOP);
    // Its deadline (1 s) and more pass while it is stopped.
    while started.elapsed() < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&holder, libc::SIGCONT);
    let status = holder.wait().unwrap();
    assert!(!status.success());
    gate.open();
    assert!(!outage_known(&ws), "the holder recorded its own lateness");
    assert!(!ws.cache.join("token@orga.failed").exists());
    // Nobody is turned away: the next fills ask, and are served.
    for owner in ["orgA", "orgB"] {
        let (out, took) = timed(|| ws.fill(&url(owner)));
        out.served_token();
        assert!(took < SLOW, "{took:?}");
    }
}

#[test]
fn an_unwritable_cache_directory_keeps_the_outage_memory_elsewhere() {
    let mut ws = Workspace::new();
    ws.platform.set_default(Reply::Hang);
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "2");
    // A file where the cache directory should be.
    std::fs::write(&ws.cache, "not a directory").unwrap();
    let runtime = ws.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    ws.set_env("XDG_RUNTIME_DIR", &runtime);
    configure_with_paths(&ws);
    let (out, first) = timed(|| ws.fill(&url("orgA")));
    out.assert_fallback();
    assert!(first >= Duration::from_secs(2), "{first:?}");
    for owner in ["orgA", "orgB", "orgC"] {
        let (out, took) = timed(|| ws.fill(&url(owner)));
        out.assert_fallback();
        out.assert_one_error("did not answer within the 2 s deadline");
        assert!(took < SLOW, "{owner}: {took:?}");
    }
    assert_eq!(ws.platform.count(), 1);
    // Kept privately, in a directory of its own.
    use std::os::unix::fs::MetadataExt;
    let place = runtime.join("molecule-git-token-helper-state");
    assert_eq!(std::fs::metadata(&place).unwrap().mode() & 0o777, 0o700);
    let files: Vec<_> = std::fs::read_dir(&place).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].metadata().unwrap().mode() & 0o777, 0o600);
}

#[test]
fn an_answer_without_an_owner_after_owners_were_named_serves_only_the_owner_asked_for() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgC", "orgD"]);
    configure_with_paths(&ws);
    let a = ws.fill(&url("orgA")).served_token();
    // orgC's answer names no owner.
    let c = crate::support::mock_platform::new_token();
    ws.add_secret(&c);
    ws.platform.push(Reply::Body(format!(
        r#"{{"token":"{c}","expires_at":"{}"}}"#,
        crate::support::mock_platform::expires_at_in(3600)
    )));
    assert_eq!(ws.fill(&url("orgC")).served_token(), c);
    assert_eq!(ws.fill(&url("orgC")).served_token(), c);
    // Not orgD's, nor the default's.
    let d = ws.fill(&url("orgD")).served_token();
    assert_ne!(d, c);
    let out = ws.helper(&["fetch-token"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_ne!(out.stdout.trim(), c);
    assert_ne!(out.stdout.trim(), a);
    assert_eq!(ws.platform.token_requests(), 4);
}

#[test]
fn a_path_through_dot_dot_names_no_owner() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgB"]);
    configure_with_paths(&ws);
    for path in ["orgA/%2e%2e/orgB/y.git", "orgA//y.git", "./orgA/y.git"] {
        ws.fill(&format!("https://github.com/{path}"))
            .served_token();
    }
    // Only the default installation was asked for, once.
    assert_eq!(ws.platform.requested_owners(), vec![None]);
}

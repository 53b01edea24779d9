//! The journal of token decisions (`journal.jsonl`): one whole JSON line
//! per decision under hundreds of concurrent writers and a rotation, the
//! process chain and repository of a real `git push` from a bash script,
//! the hash of the token the git server saw, the fail, erase and withhold
//! lines, a symlink or a directory in its place, `off`, and the `journal`
//! command finding a token by its hash without printing it. Every test's
//! journal is scanned for every secret it handled (support's `Drop`).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::life::Life;
use crate::support::*;

const GET: &str = "protocol=https\nhost=github.com\npath=molecule-ai/app.git\n\n";

/// The entries of the journal at `path` (its rotated file first), each a
/// JSON object; panics on a line that is not one (an interleaved write).
fn entries(path: &Path) -> Vec<Value> {
    let mut old = path.as_os_str().to_os_string();
    old.push(".1");
    let mut all = Vec::new();
    for file in [PathBuf::from(old), path.to_path_buf()] {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines() {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line:?}"));
            assert!(value.is_object(), "{line}");
            all.push(value);
        }
    }
    all
}

fn journal(ws: &Workspace) -> PathBuf {
    ws.cache.join("journal.jsonl")
}

fn events<'a>(entries: &'a [Value], event: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["event"] == event).collect()
}

/// What GitHub's audit log calls the token: base64 of its SHA-256, as
/// `openssl dgst -sha256 -binary | base64` prints it.
fn hashed(token: &str) -> String {
    let mut c = std::process::Command::new("sh");
    c.args(["-c", "openssl dgst -sha256 -binary | base64"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().expect("openssl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `n` `get`s at once (threads, each one process); every one served.
fn concurrent_gets(ws: &Workspace, n: usize) {
    let outs: Vec<Out> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| s.spawn(|| ws.helper(&["get"], GET)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert_eq!(out.code(), 0, "{out:?}");
        assert!(out.stdout.contains("password="), "{out:?}");
    }
}

#[test]
fn two_hundred_concurrent_gets_write_two_hundred_whole_serve_lines() {
    let ws = Workspace::new();
    // Warm: one fetch, one serve.
    let first = ws.helper(&["get"], GET);
    assert_eq!(first.code(), 0, "{first:?}");
    let token = ws.platform.last_token().unwrap();
    concurrent_gets(&ws, 200);
    let all = entries(&journal(&ws));
    assert_eq!(events(&all, "fetch").len(), 1, "{all:#?}");
    let serves = events(&all, "serve");
    assert_eq!(serves.len(), 201);
    assert_eq!(all.len(), 202);
    let hash = hashed(&token);
    let pids: HashSet<u64> = serves.iter().map(|e| e["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 201, "one line per process");
    for e in &serves {
        assert_eq!(e["hashed_token"], hash.as_str());
        assert_eq!(e["command"], "get");
        assert_eq!(e["host"], "github.com");
        assert_eq!(e["owner"], "molecule-ai");
        assert_eq!(e["repo"], "molecule-ai/app.git");
    }
    assert_eq!(serves[0]["source"], "platform");
    assert!(serves[1..].iter().all(|e| e["source"] == "cache"));
    let fetch = events(&all, "fetch")[0];
    assert!(fetch["duration_ms"].is_u64(), "{fetch}");
    assert_eq!(fetch["hashed_token"], hash.as_str());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(journal(&ws))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// `n` `get`s released at once: all started, each blocked reading its
/// request, then the requests written one after another; every one served.
fn released_gets(ws: &Workspace, n: usize) {
    use std::process::Stdio;
    let mut children: Vec<std::process::Child> = (0..n)
        .map(|_| {
            let mut c = ws.command(BIN);
            c.arg("get")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for child in &mut children {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(GET.as_bytes()).unwrap();
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        ws.assert_no_secret_in(&stderr, "stderr");
        assert!(out.status.success(), "{stderr}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("password="));
    }
}

/// A journal at 1 MiB, and 200 gets started, held at their request and
/// released at once: most of them find the journal due for a rotation, so
/// they race to rotate it. Every line (the filler and the serves) is whole
/// in one of the two files.
#[test]
fn a_rotation_raced_by_two_hundred_writers_keeps_every_line() {
    let ws = Workspace::new();
    assert_eq!(ws.helper(&["get"], GET).code(), 0);
    let path = journal(&ws);
    let mut filler = std::fs::read_to_string(&path).unwrap();
    let mut n = 0;
    while filler.len() < 1024 * 1024 {
        filler.push_str(&format!(
            "{{\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":\"filler\",\"n\":{n},\"pad\":\"{}\"}}\n",
            "x".repeat(400)
        ));
        n += 1;
    }
    std::fs::write(&path, filler).unwrap();
    released_gets(&ws, 200);
    let mut old = path.clone().into_os_string();
    old.push(".1");
    assert!(Path::new(&old).exists(), "no rotation");
    let all = entries(&path);
    let fillers: Vec<u64> = events(&all, "filler")
        .iter()
        .map(|e| e["n"].as_u64().unwrap())
        .collect();
    assert_eq!(fillers, (0..n).collect::<Vec<u64>>(), "a filler line lost");
    assert_eq!(events(&all, "fetch").len(), 1, "the fetch line lost");
    assert_eq!(events(&all, "serve").len(), 201, "a serve line lost");
    let now_size = std::fs::metadata(&path).unwrap().len();
    assert!(now_size < 1024 * 1024, "{now_size}");
}

/// A workspace's life ([`Life`]) whose git server records every password
/// it is asked to check, and accepts the live platform tokens.
fn remote() -> (Life, Arc<Mutex<Vec<String>>>) {
    let passwords: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&passwords);
    let life = Life::with_check(
        |_| {},
        |ws| {
            let checker = ws.platform.checker();
            Arc::new(move |t: &str| {
                seen.lock().unwrap().push(t.to_string());
                checker.is_live(t)
            })
        },
    );
    (life, passwords)
}

/// An agent's bash runs a script that pushes: the serve line names git and
/// bash in the process chain, the repository, and the hash of the token
/// the git server saw; git's approve afterwards is a withhold line (the
/// wrapper kept the token from the operator's store).
#[test]
fn a_push_from_a_bash_script_names_git_bash_the_repository_and_the_token_the_server_saw() {
    let (life, seen) = remote();
    let ws = &life.ws;
    let url = life
        .server
        .create_bare_with("app", &[("README.md", "hello\n")]);
    let clone = ws.path().join("app");
    let out = ws.git(&["clone", "--quiet", &url, clone.to_str().unwrap()], "");
    assert_eq!(out.code(), 0, "{out:?}");
    std::fs::write(clone.join("x.txt"), "x\n").unwrap();
    for args in [&["add", "x.txt"][..], &["commit", "--quiet", "-m", "x"]] {
        let mut c = ws.command("git");
        c.current_dir(&clone).args(args);
        assert_eq!(ws.run(c, "").code(), 0);
    }
    std::fs::remove_file(journal(ws)).unwrap();
    seen.lock().unwrap().clear();
    let script = ws.path().join("push.sh");
    std::fs::write(&script, "#!/bin/bash\ncd \"$1\" && git push --quiet\n").unwrap();
    let mut c = ws.command("bash");
    c.arg(&script).arg(&clone);
    let out = ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");

    let token = ws.platform.last_token().unwrap();
    let passwords = seen.lock().unwrap().clone();
    assert!(!passwords.is_empty() && passwords.iter().all(|p| *p == token));
    let hash = hashed(&passwords[0]);
    let all = entries(&journal(ws));
    let serves = events(&all, "serve");
    assert!(!serves.is_empty(), "{all:#?}");
    for serve in &serves {
        assert_eq!(serve["hashed_token"], hash.as_str(), "{serve}");
        assert_eq!(serve["command"], "get");
        assert_eq!(serve["host"], life.server.host().as_str());
        assert_eq!(serve["repo"], "app.git", "{serve}");
        assert_eq!(serve["cwd"], clone.to_str().unwrap(), "{serve}");
        let names: Vec<&str> = serve["process"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(names.len() <= 4, "{names:?} {}", serve["process"]);
        assert!(names.contains(&"git"), "{names:?}");
        assert!(names.contains(&"bash"), "{names:?}");
        let git = &serve["process"][names.iter().position(|n| *n == "git").unwrap()];
        assert!(git["exe"].as_str().unwrap().ends_with("/git"), "{git}");
    }
    let withheld = events(&all, "withhold");
    assert_eq!(withheld.len(), 1, "{all:#?}");
    assert_eq!(withheld[0]["hashed_token"], hash.as_str());
    assert_eq!(withheld[0]["command"], "fallback");
    assert_eq!(withheld[0]["repo"], "app.git");
}

#[test]
fn an_outage_is_a_fail_line_with_the_reason_stderr_gave() {
    let mut ws = Workspace::new();
    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    let out = ws.helper(&["get"], GET);
    assert_eq!(out.code(), 1, "{out:?}");
    let line = out.helper_lines()[0];
    let said = line.split_once("error: ").unwrap().1;
    let all = entries(&journal(&ws));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["event"], "fail");
    assert_eq!(all[0]["error"], said);
    assert!(said.contains("cannot connect to the platform"), "{said}");
    assert_eq!(all[0]["hashed_token"], Value::Null);
    assert_eq!(all[0]["repo"], "molecule-ai/app.git");
}

#[test]
fn a_token_git_rejects_is_an_erase_line() {
    let ws = Workspace::new();
    ws.configure_generic();
    let token = ws
        .fill("https://github.com/molecule-ai/app.git")
        .served_token();
    let out = ws.git(
        &["credential", "reject"],
        &format!("protocol=https\nhost=github.com\nusername=x-access-token\npassword={token}\n\n"),
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!ws.cache_entry().exists());
    let all = entries(&journal(&ws));
    let erased = events(&all, "erase");
    assert_eq!(erased.len(), 1, "{all:#?}");
    assert_eq!(erased[0]["hashed_token"], hashed(&token).as_str());
    assert_eq!(erased[0]["command"], "erase");
    assert_eq!(erased[0]["host"], "github.com");
}

/// A symlink or a directory where the journal goes: not followed, not
/// written through, and the get is served all the same (quietly; `-v`
/// says why in one debug line).
#[test]
fn a_symlink_or_a_directory_in_the_journals_place_does_not_fail_the_get() {
    let ws = Workspace::new();
    std::fs::create_dir_all(&ws.cache).unwrap();
    let target = ws.path().join("elsewhere");
    std::fs::write(&target, "").unwrap();
    std::os::unix::fs::symlink(&target, journal(&ws)).unwrap();
    let out = ws.helper(&["get"], GET);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("password="));
    assert_eq!(out.stderr, "");
    let out = ws.helper(&["-v", "get"], GET);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("journal") && out.stderr.contains("symbolic link"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    std::fs::remove_file(journal(&ws)).unwrap();
    std::fs::create_dir(journal(&ws)).unwrap();
    let out = ws.helper(&["get"], GET);
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    assert_eq!(std::fs::read_dir(journal(&ws)).unwrap().count(), 0);
}

#[test]
fn off_writes_nothing_and_a_path_is_written_there() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_TOKEN_JOURNAL", "off");
    assert_eq!(ws.helper(&["get"], GET).code(), 0);
    assert_eq!(ws.helper(&["fetch-token"], "").code(), 0);
    assert!(!journal(&ws).exists());
    let elsewhere = ws.path().join("audit/j.jsonl");
    std::fs::create_dir(ws.path().join("audit")).unwrap();
    let out = ws.helper(&["--journal", elsewhere.to_str().unwrap(), "get"], GET);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(events(&entries(&elsewhere), "serve").len(), 1);
    assert!(!journal(&ws).exists());
    let out = ws.helper(&["--journal", "off", "get"], GET);
    assert_eq!(out.code(), 0);
    assert_eq!(entries(&elsewhere).len(), 1);
    let out = ws.helper(&["--journal", "rel.jsonl", "get"], GET);
    assert_eq!(out.code(), 2, "{out:?}");
    out.assert_one_error("--journal");
}

/// The person holding a token finds its entries by the token itself (on
/// stdin) or by its hash, and never sees the token printed.
#[test]
fn journal_finds_a_token_by_stdin_or_hash_and_never_prints_it() {
    let ws = Workspace::new();
    assert_eq!(ws.helper(&["get"], GET).code(), 0);
    let token = ws.platform.last_token().unwrap();
    ws.forget_cache();
    let out = ws.helper(&["fetch-token", "--owner", "other-org"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let second = ws.platform.last_token().unwrap();
    assert_ne!(token, second);
    let hash = hashed(&token);

    let by_token = ws.helper(&["journal", "--token-stdin"], &format!("{token}\n"));
    assert_eq!(by_token.code(), 0, "{by_token:?}");
    let lines: Vec<&str> = by_token.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", by_token.stdout);
    assert!(lines[0].contains("fetch") && lines[1].contains("serve"));
    for line in &lines {
        assert!(line.contains(&hash[..12]), "{line}");
        assert!(line.contains("github.com/molecule-ai/app.git"), "{line}");
    }
    let by_hash = ws.helper(&["journal", "--hashed-token", &hash], "");
    assert_eq!(by_hash.stdout, by_token.stdout);
    let json = ws.helper(&["journal", "--hashed-token", &hash[..10], "--json"], "");
    let objects: Vec<Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 2);
    assert!(objects.iter().all(|o| o["hashed_token"] == hash.as_str()));
    let by_event = ws.helper(&["journal", "--event", "serve", "--owner", "OTHER-ORG"], "");
    assert_eq!(by_event.stdout.lines().count(), 1, "{by_event:?}");
    assert!(by_event.stdout.contains("fetch-token"), "{by_event:?}");
    let recent = ws.helper(&["journal", "--since", "1h"], "");
    assert_eq!(recent.stdout.lines().count(), 4, "{recent:?}");
    let unknown = ws.helper(
        &["journal", "--token-stdin"],
        "ghs_notatokenanyonewasgiven\n",
    );
    assert_eq!((unknown.code(), unknown.stdout.as_str()), (0, ""));
    for out in [&by_token, &by_hash, &json, &by_event, &recent] {
        ws.assert_no_secret_in(&out.stdout, "journal's stdout");
    }
}

#[test]
fn status_says_where_the_journal_is_and_its_last_fail() {
    let mut ws = Workspace::new();
    assert_eq!(ws.helper(&["get"], GET).code(), 0);
    let out = ws.helper(&["status"], "");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("journal"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(line.contains(journal(&ws).to_str().unwrap()), "{line}");
    assert!(line.contains("no fail recorded"), "{line}");
    ws.forget_cache();
    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    assert_eq!(ws.helper(&["get"], GET).code(), 1);
    let out = ws.helper(&["status"], "");
    let line = out.stdout.lines().find(|l| l.contains("journal")).unwrap();
    assert!(
        line.contains("last fail") && line.contains("cannot connect to the platform"),
        "{line}"
    );
}

/// `gh-login` is a `gh-login` line for the host with the hash of the token
/// gh was given; the gh proxy's token a `serve` of the `gh proxy` naming
/// the repository gh was pointed at (`GH_REPO`, as `-R`).
#[test]
fn gh_login_and_the_gh_proxy_are_journaled() {
    let mut ws = Workspace::new();
    let (_stack, _gh_config) = ws.start_github();
    let out = ws.helper(&["gh-login"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let token = ws.platform.last_token().unwrap();
    let all = entries(&journal(&ws));
    let logins = events(&all, "gh-login");
    assert_eq!(logins.len(), 1, "{all:#?}");
    assert_eq!(logins[0]["host"], "github.com");
    assert_eq!(logins[0]["hashed_token"], hashed(&token).as_str());
    assert_eq!(logins[0]["error"], Value::Null);
    assert_eq!(events(&all, "serve")[0]["command"], "gh-login");

    let proxy_dir = ws.path().join("proxy-bin");
    std::fs::create_dir_all(&proxy_dir).unwrap();
    std::os::unix::fs::symlink(BIN, proxy_dir.join("gh")).unwrap();
    let path = format!("{}:{}", proxy_dir.display(), test_git::path_string());
    let mut c = ws.command("sh");
    c.args(["-c", "exec gh --version"])
        .env("PATH", path)
        .env("GH_REPO", "molecule-ai/app");
    let out = ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    let all = entries(&journal(&ws));
    let proxied: Vec<&Value> = events(&all, "serve")
        .into_iter()
        .filter(|e| e["command"] == "gh proxy")
        .collect();
    assert_eq!(proxied.len(), 1, "{all:#?}");
    assert_eq!(proxied[0]["repo"], "molecule-ai/app");
    assert_eq!(proxied[0]["owner"], "molecule-ai");
    // sh exec'd the proxy: its parent is the test itself.
    assert_eq!(
        proxied[0]["process"][0]["pid"].as_u64(),
        Some(u64::from(std::process::id()))
    );
}

/// A narrowed token's lines carry its scope: the `fetch` what the platform
/// said the token carries, the `serve` what was asked (never wider); the
/// installation's full token has `null` in both.
#[test]
fn a_narrowed_token_is_journaled_with_its_permissions_and_repositories() {
    let ws = Workspace::new();
    let args = [
        "fetch-token",
        "--owner",
        "molecule-ai",
        "--permissions",
        "contents:read",
        "--repositories",
        "app",
    ];
    let out = ws.helper(&args, "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(ws.helper(&["fetch-token"], "").code(), 0);
    let all = entries(&journal(&ws));
    let fetches = events(&all, "fetch");
    let serves = events(&all, "serve");
    assert_eq!((fetches.len(), serves.len()), (2, 2), "{all:#?}");
    assert_eq!(
        fetches[0]["permissions"]["contents"], "read",
        "{}",
        fetches[0]
    );
    assert_eq!(fetches[0]["repositories"], serde_json::json!(["app"]));
    assert_eq!(
        serves[0]["permissions"],
        serde_json::json!({"contents": "read"})
    );
    assert_eq!(serves[0]["repositories"], serde_json::json!(["app"]));
    assert_eq!(serves[0]["hashed_token"], fetches[0]["hashed_token"]);
    for full in [fetches[1], serves[1]] {
        assert_eq!(full["permissions"], Value::Null, "{full}");
        assert_eq!(full["repositories"], Value::Null, "{full}");
    }
}

//! Faults not covered elsewhere, each named for the table in docs/faults.md:
//! the platform misbehaving, bad input, and filesystem trouble. Through the
//! real git where git is the caller; the binary alone where only a broken
//! caller could cause the fault.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

const URL: &str = "https://github.com/org/repo.git";

fn short_deadline() -> Workspace {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "1");
    ws.configure_generic();
    ws
}

// ---- the platform ------------------------------------------------------

#[test]
fn platform_reset_mid_response_is_retried_then_falls_through() {
    let ws = short_deadline();
    ws.platform.set_default(Reply::ResetMidResponse);
    ws.assert_falls_through(URL, "connection reset by peer");
    assert!(ws.platform.count() >= 2, "a reset is worth a retry");

    // One reset, then an answer: served.
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::ResetMidResponse);
    let token = ws.fill(URL).served_token();
    assert_eq!(ws.platform.last_token().as_deref(), Some(token.as_str()));
    assert_eq!(ws.platform.count(), 2);
}

#[test]
fn platform_delay_before_headers_past_the_deadline_falls_through() {
    let ws = short_deadline();
    ws.platform.set_default(Reply::Delay(
        Duration::from_secs(30),
        Box::new(Reply::Token),
    ));
    ws.assert_falls_through(URL, "did not answer within the 1 s deadline");
}

#[test]
fn platform_stall_mid_body_falls_through() {
    let ws = short_deadline();
    ws.platform.set_default(Reply::StallMidBody { sent: 12 });
    ws.assert_falls_through(URL, "did not answer within the 1 s deadline");
}

#[test]
fn platform_body_of_invalid_utf8_falls_through() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::BodyBytes {
        content_type: "application/json".into(),
        body: b"{\"token\":\"ghs_\xff\xfe\",\"expires_at\":\"2030-01-02T03:04:05Z\"}".to_vec(),
    });
    ws.assert_falls_through(URL, "not JSON");
}

#[test]
fn platform_body_far_past_the_cap_is_not_read_to_the_end() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::Oversized(64 * 1024 * 1024));
    ws.assert_falls_through(URL, "larger than 64 KiB");
}

#[test]
fn platform_expiry_that_is_not_rfc3339_is_served_without_one_and_not_cached() {
    let ws = Workspace::new();
    ws.configure_generic();
    for _ in 0..2 {
        ws.platform.push(Reply::TokenWith {
            token: format!("ghs_odd{}", unique()),
            expires_at: Some("tomorrow at noon".into()),
        });
    }
    let first = ws.fill(URL);
    assert_eq!(first.served_token(), ws.platform.tokens()[0]);
    assert_eq!(first.attr("password_expiry_utc"), None, "{first:?}");
    assert_ne!(ws.fill(URL).served_token(), first.served_token());
    assert_eq!(ws.platform.count(), 2);
    assert!(!ws.cache_entry().exists());
}

#[test]
fn platform_expiry_absurdly_far_ahead_is_cached_one_hour_at_most() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::TokenWith {
        token: format!("ghs_far{}", unique()),
        expires_at: Some("9999-12-31T23:59:59Z".into()),
    });
    let first = ws.fill(URL).served_token();
    assert_eq!(ws.fill(URL).served_token(), first);
    assert_eq!(ws.platform.count(), 1);
    // Make the entry two hours old: it is no longer served.
    let entry = std::fs::read_to_string(ws.cache_entry()).unwrap();
    let fetched = entry
        .lines()
        .find_map(|l| l.strip_prefix("fetched "))
        .expect("a fetched line")
        .to_string();
    let aged = (fetched.parse::<i64>().unwrap() - 7200).to_string();
    std::fs::write(
        ws.cache_entry(),
        entry.replace(
            &format!("fetched {fetched}\n"),
            &format!("fetched {aged}\n"),
        ),
    )
    .unwrap();
    assert_ne!(ws.fill(URL).served_token(), first);
    assert_eq!(ws.platform.count(), 2);
}

// ---- bad input -----------------------------------------------------------

#[test]
fn input_with_duplicate_keys_uses_the_last() {
    let ws = Workspace::new();
    let out = ws.helper(
        &["get"],
        "protocol=https\nhost=gitlab.com\nhost=github.com\n\n",
    );
    assert_eq!(out.attr("password"), ws.platform.last_token(), "{out:?}");
    let out = ws.helper(
        &["get"],
        "protocol=https\nhost=github.com\nhost=gitlab.com\n\n",
    );
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout, "", "{out:?}");
    assert_eq!(ws.platform.count(), 1);
}

#[test]
fn input_url_alone_is_refused_with_one_line() {
    let ws = Workspace::new();
    for input in ["url=\n\n", "url=github.com\n\n"] {
        let out = ws.helper(&["get"], input);
        assert_eq!(out.code(), 1, "{input:?}: {out:?}");
        assert_eq!(out.stdout, "");
        out.assert_one_error("has no scheme://host");
    }
    // A whole url= is a request like any other.
    let out = ws.helper(&["get"], "url=https://github.com/org/repo.git\n\n");
    assert_eq!(out.attr("password"), ws.platform.last_token(), "{out:?}");
}

#[test]
fn input_that_never_ends_is_given_up_on_at_the_deadline() {
    let ws = Workspace::new();
    for action in ["get", "store", "erase"] {
        let mut c = ws.command(BIN);
        c.args(["--timeout", "1", action])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        // Half a request, then silence: no blank line, no end of input.
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"protocol=https\nhost=github.com\n")
            .unwrap();
        let started = Instant::now();
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        let out = Out {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        ws.assert_no_secret_in(&out.stderr, "stderr");
        assert_eq!(out.code(), 1, "{action}: {out:?}");
        assert_eq!(out.stdout, "");
        out.assert_one_error("no blank line or end of input within 1 s");
        assert!(started.elapsed() < Duration::from_secs(8), "{action}");
    }
    assert_eq!(ws.platform.count(), 0);
}

// ---- the filesystem --------------------------------------------------------

/// Run git without the capabilities that let root ignore file modes.
fn fill_unprivileged(ws: &Workspace) -> Out {
    let mut c = ws.unprivileged("git");
    c.args(["credential", "fill"]);
    ws.run(c, &format!("url={URL}\n\n"))
}

#[test]
fn bearer_unreadable_falls_through_naming_it() {
    let ws = Workspace::new();
    ws.configure_generic();
    let bearer = ws.configs.join(".auth_token");
    std::fs::set_permissions(&bearer, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = fill_unprivileged(&ws);
    out.assert_fallback();
    out.assert_one_error(&format!("{}: permission denied", bearer.display()));
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn bearer_that_is_a_directory_falls_through_naming_it() {
    let ws = Workspace::new();
    ws.configure_generic();
    let bearer = ws.configs.join(".auth_token");
    std::fs::remove_file(&bearer).unwrap();
    std::fs::create_dir(&bearer).unwrap();
    ws.assert_falls_through(URL, &format!("{}: it is a directory", bearer.display()));
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn bearer_that_is_huge_falls_through_unread() {
    let ws = Workspace::new();
    ws.configure_generic();
    let bearer = ws.configs.join(".auth_token");
    std::fs::write(&bearer, "x".repeat(1 << 20)).unwrap();
    ws.assert_falls_through(URL, "is too large");
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn bearer_symlinked_to_a_secret_mount_is_followed() {
    // Kubernetes and Docker secret mounts are symlinks into a ..data
    // directory: following the link is the documented choice.
    let ws = Workspace::new();
    ws.configure_generic();
    let data = ws.path().join("secret-mount/..data");
    std::fs::create_dir_all(&data).unwrap();
    let rotated = format!("bearer-mounted-{}", unique());
    std::fs::write(data.join(".auth_token"), format!("{rotated}\n")).unwrap();
    ws.add_secret(&rotated);
    let bearer = ws.configs.join(".auth_token");
    std::fs::remove_file(&bearer).unwrap();
    std::os::unix::fs::symlink(data.join(".auth_token"), &bearer).unwrap();
    ws.platform.set_bearer(&rotated);
    ws.fill(URL).served_token();
    let expected = format!("Bearer {rotated}");
    assert_eq!(
        ws.platform.requests()[0].header("authorization"),
        Some(expected.as_str())
    );
}

#[test]
fn cache_entry_killed_mid_write_is_old_new_or_absent_never_torn() {
    // Two platforms, one bearer: each call's entry belongs to the other
    // platform, so every call fetches and rewrites the entry.
    let mut ws = Workspace::new();
    let other = MockPlatform::start(&ws.bearer);
    let urls = [ws.platform.url(), other.url()];
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "5");
    let mut seen_entries = 0;
    let mut rng = unique_seed();
    let stderr_log = ws.path().join("killed-stderr");
    // Kill within the time a whole call takes here (a loaded machine is
    // slower), so that some calls get as far as writing.
    let timed = std::time::Instant::now();
    assert_eq!(ws.helper(&["fetch-token"], "").code(), 0);
    let window_us = (timed.elapsed().as_micros() as u64 * 3 / 2).max(4000);
    ws.forget_cache();
    for i in 0..150 {
        let mut c = ws.command(BIN);
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_log)
            .unwrap();
        c.env("PLATFORM_URL", &urls[i % 2])
            .arg("fetch-token")
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = c.spawn().unwrap();
        // Kill at a random moment of the call's life.
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_micros((rng >> 33) % window_us));
        let _ = child.kill();
        let _ = child.wait();
        match std::fs::read_to_string(ws.cache_entry()) {
            Ok(text) => {
                seen_entries += 1;
                let mut handed_out = ws.platform.tokens();
                handed_out.extend(other.tokens());
                assert_whole_entry(&text, &handed_out);
            }
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        }
    }
    for t in other.tokens() {
        ws.add_secret(&t);
    }
    let stderr = std::fs::read_to_string(&stderr_log).unwrap();
    ws.assert_no_secret_in(&stderr, "the killed calls' stderr");
    assert!(
        seen_entries > 0,
        "no call ever got to write: the loop tested nothing"
    );
    // The cache still works, and the next writer clears what killed
    // writers left behind.
    ws.forget_cache();
    let out = ws.helper(&["fetch-token"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let leftovers: Vec<_> = std::fs::read_dir(&ws.cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
}

/// The entry is one whole entry for a token the platforms handed out.
fn assert_whole_entry(text: &str, handed_out: &[String]) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 9, "torn entry: {} lines", lines.len());
    assert_eq!(lines[0], "molecule-git-token-helper cache v2");
    assert!(text.ends_with('\n'), "torn entry: no final newline");
    let token = lines[8].strip_prefix("token ").expect("a token line");
    assert!(
        handed_out.iter().any(|t| t == token),
        "torn entry: its token was never handed out"
    );
}

fn unique_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

//! The helper as git uses it: the real `git credential fill` with the
//! helper in a temp global config, a `store` fallback holding the
//! operator's PAT after it, and the mock platform on 127.0.0.1.

use std::time::{Duration, Instant};

use crate::support::*;

const URL: &str = "https://github.com/org/repo.git";
const FUTURE: &str = "2030-01-02T03:04:05Z";
const FUTURE_UNIX: &str = "1893553445";

/// A token made at run time, registered with the mock so leaks are caught.
fn scripted_token(ws: &Workspace) -> String {
    let token = format!("ghs_test{}", unique().replace('x', "X"));
    ws.platform.push(Reply::TokenWith {
        token: token.clone(),
        expires_at: Some(FUTURE.into()),
    });
    token
}

fn assert_platform_token(out: &Out, token: &str) {
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        out.attr("username").as_deref(),
        Some("x-access-token"),
        "{out:?}"
    );
    assert_eq!(out.attr("password").as_deref(), Some(token), "{out:?}");
    assert_eq!(
        out.attr("password_expiry_utc").as_deref(),
        git_passes_expiry().then_some(FUTURE_UNIX),
        "{out:?}"
    );
}

#[test]
fn generic_helper_serves_the_platform_token_with_its_expiry() {
    let ws = Workspace::new();
    ws.configure_generic();
    let token = scripted_token(&ws);
    let out = ws.fill("https://github.com/org/repo.git");
    assert_platform_token(&out, &token);
    assert_eq!(out.stderr, "");
    assert_eq!(ws.platform.count(), 1);
    let request = &ws.platform.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/admin/github-installation-token");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", ws.bearer).as_str())
    );
    assert_eq!(request.header("accept"), Some("application/json"));
}

#[test]
fn host_scoped_helper_serves_the_platform_token() {
    let ws = Workspace::new();
    ws.configure_host_scoped();
    let token = scripted_token(&ws);
    assert_platform_token(&ws.fill("https://github.com/org/repo.git"), &token);
}

#[test]
fn expiry_from_the_mock_clock_is_reported_in_unix_seconds_needs_git_2_41() {
    if !git_at_least(
        2,
        41,
        "expiry_from_the_mock_clock_is_reported_in_unix_seconds_needs_git_2_41",
    ) {
        return;
    }
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_expires_in(1800);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = ws.fill("https://github.com");
    assert_eq!(out.attr("password"), ws.platform.last_token());
    let expiry: u64 = out.attr("password_expiry_utc").unwrap().parse().unwrap();
    assert!(
        (before + 1800..=before + 1800 + 60).contains(&expiry),
        "{expiry}"
    );
}

#[test]
fn a_token_without_expiry_is_served_without_an_expiry_line() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::TokenNoExpiry);
    let out = ws.fill("https://github.com");
    assert_eq!(out.attr("password"), ws.platform.last_token());
    assert_eq!(out.attr("password_expiry_utc"), None);
}

#[test]
fn other_hosts_and_protocols_get_nothing_and_cost_no_request() {
    let ws = Workspace::new();
    ws.configure_generic();
    std::fs::write(
        &ws.fallback,
        format!(
            "https://{FALLBACK_USER}:{FALLBACK_PAT}@gitlab.com\n\
             http://{FALLBACK_USER}:{FALLBACK_PAT}@github.com\n"
        ),
    )
    .unwrap();
    ws.fill("https://gitlab.com/org/repo.git").assert_fallback();
    ws.fill("http://github.com/org/repo.git").assert_fallback();
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn a_port_is_part_of_the_host() {
    let ws = Workspace::new();
    ws.configure_generic();
    std::fs::write(
        &ws.fallback,
        format!("https://{FALLBACK_USER}:{FALLBACK_PAT}@github.com:8443\n"),
    )
    .unwrap();
    let out = ws.git(
        &["credential", "fill"],
        "protocol=https\nhost=github.com:8443\n\n",
    );
    assert_eq!(
        out.attr("password").as_deref(),
        Some(FALLBACK_PAT),
        "{out:?}"
    );
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn served_hosts_come_from_the_environment_case_insensitively() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_GIT_HOSTS", "ghe.example.test:8443,github.com");
    ws.configure_generic();
    let token = scripted_token(&ws);
    let out = ws.git(
        &["credential", "fill"],
        "protocol=https\nhost=GHE.Example.test:8443\n\n",
    );
    assert_platform_token(&out, &token);
}

#[test]
fn platform_down_falls_through() {
    let mut ws = Workspace::new();
    let url = format!("http://127.0.0.1:{}", dead_port());
    ws.set_env("PLATFORM_URL", &url);
    ws.configure_generic();
    ws.assert_falls_through(URL, &format!("cannot connect to the platform at {url}"));
}

#[test]
fn refused_bearer_falls_through() {
    for code in [401, 403] {
        let ws = Workspace::new();
        ws.configure_generic();
        ws.platform.push(Reply::status(code));
        ws.assert_falls_through(
            URL,
            &format!("the platform refused the workspace bearer (HTTP {code})"),
        );
        assert_eq!(ws.platform.count(), 1);
    }
}

#[test]
fn a_wrong_bearer_is_refused_by_the_platform() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    ws.write_bearer("not-the-bearer-the-platform-knows\n");
    ws.assert_falls_through(URL, "the platform refused the workspace bearer (HTTP 401)");
}

#[test]
fn no_github_app_falls_through() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::status(404));
    ws.assert_falls_through(URL, "the platform has no GitHub App configured (HTTP 404)");
}

#[test]
fn platform_error_falls_through_without_retry() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_default(Reply::status(500));
    ws.assert_falls_through(URL, "platform error (HTTP 500)");
    assert_eq!(ws.platform.count(), 1);
}

#[test]
fn missing_or_empty_bearer_falls_through_without_a_request() {
    let ws = Workspace::new();
    ws.configure_generic();
    let path = ws.configs.join(".auth_token");
    std::fs::remove_file(&path).unwrap();
    ws.assert_falls_through(URL, &format!("{}", path.display()));

    let mut ws = Workspace::new();
    ws.configure_generic();
    ws.write_bearer("\n");
    ws.assert_falls_through(URL, "is empty");
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn a_token_that_would_inject_lines_is_refused() {
    for bad in [
        "line\nbreak",
        "carriage\rreturn",
        "nul\0byte",
        "with space",
        "tab\there",
        "esc\x1bape",
        "del\x7fete",
        "bell\x07",
        "non-ascii-é",
    ] {
        let ws = Workspace::new();
        ws.configure_generic();
        let token = format!("ghs_{}{bad}{}", unique(), unique());
        ws.add_secret(&token);
        ws.platform.push(Reply::TokenWith {
            token,
            expires_at: Some(FUTURE.into()),
        });
        ws.assert_falls_through(URL, "the token is not usable");
    }
}

#[test]
fn an_expired_token_is_refused() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_expires_in(-60);
    ws.assert_falls_through(URL, "expired");
}

#[test]
fn a_platform_that_never_answers_does_not_hang_git() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "1");
    ws.configure_generic();
    ws.platform.set_default(Reply::Hang);
    let started = Instant::now();
    ws.assert_falls_through(URL, "did not answer within the 1 s deadline");
    // Proves the setting took effect: the default deadline is 10 s.
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[test]
fn the_timeout_flag_in_the_helper_line_is_honoured() {
    let ws = Workspace::new();
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = {BIN} --timeout 1\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    ws.platform.set_default(Reply::Hang);
    ws.assert_falls_through(URL, "did not answer within the 1 s deadline");
}

#[test]
fn transient_errors_are_retried_within_the_deadline() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::status(503));
    ws.platform.push(Reply::status(502));
    let token = scripted_token(&ws);
    assert_platform_token(&ws.fill("https://github.com"), &token);
    assert_eq!(ws.platform.count(), 3);
}

#[test]
fn rate_limiting_honours_retry_after() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::Status {
        code: 429,
        headers: vec![("Retry-After".into(), "1".into())],
    });
    let token = scripted_token(&ws);
    assert_platform_token(&ws.fill("https://github.com"), &token);
    let requests = ws.platform.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at.duration_since(requests[0].at) >= Duration::from_millis(950));
}

#[test]
fn a_retry_after_past_the_deadline_gives_up() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "2");
    ws.configure_generic();
    ws.platform.push(Reply::Status {
        code: 429,
        headers: vec![("Retry-After".into(), "30".into())],
    });
    ws.assert_falls_through(URL, "HTTP 429");
    assert_eq!(ws.platform.count(), 1);
}

#[test]
fn a_redirect_is_not_followed_and_the_bearer_goes_nowhere_else() {
    let ws = Workspace::new();
    ws.configure_generic();
    let elsewhere = MockPlatform::start("another-bearer");
    ws.platform.push(Reply::Redirect {
        code: 302,
        location: format!("{}/admin/github-installation-token", elsewhere.url()),
    });
    ws.assert_falls_through(URL, "redirect (HTTP 302)");
    assert_eq!(elsewhere.count(), 0);
}

#[test]
fn html_and_oversized_bodies_are_refused() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::BodyBytes {
        content_type: "text/html".into(),
        body: b"<html><body>Bad gateway</body></html>".to_vec(),
    });
    ws.assert_falls_through(URL, "not JSON");

    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.push(Reply::Oversized(200 * 1024));
    ws.assert_falls_through(URL, "larger than 64 KiB");
}

#[test]
fn verbose_lines_never_show_the_token_or_bearer() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_TOKEN_LOG", "debug");
    ws.configure_generic();
    let token = scripted_token(&ws);
    let out = ws.fill("https://github.com");
    assert_platform_token(&out, &token);
    assert!(
        out.stderr.contains("debug: GET http://127.0.0.1:"),
        "{}",
        out.stderr
    );
    // Workspace::run has checked stderr for the token and the bearer.
}

#[test]
fn a_reset_line_then_ours_then_the_fallback_puts_the_helper_ahead_of_an_earlier_generic_one() {
    let ws = Workspace::new();
    // An operator's generic fallback, configured before the entrypoint runs.
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    let key = "credential.https://github.com.helper";
    for value in ["", BIN, &format!("store --file={}", ws.fallback.display())] {
        let out = ws.git(&["config", "--global", "--add", key, value], "");
        assert_eq!(out.code(), 0, "{out:?}");
    }
    let token = scripted_token(&ws);
    assert_platform_token(&ws.fill("https://github.com/org/repo.git"), &token);

    // The fallback still answers when the platform cannot.
    ws.forget_cache();
    ws.platform.set_default(Reply::status(500));
    ws.assert_falls_through(URL, "platform error (HTTP 500)");
}

#[test]
fn proxy_variables_never_see_the_bearer() {
    let mut ws = Workspace::new();
    let proxy = MockPlatform::start("proxy-bearer");
    ws.set_proxies(&proxy.url());
    ws.configure_generic();
    let token = scripted_token(&ws);
    assert_platform_token(&ws.fill("https://github.com"), &token);
    assert_eq!(proxy.count(), 0);
    assert_eq!(ws.platform.count(), 1);
}

#[test]
fn an_absent_platform_is_tried_three_times_then_git_moves_on() {
    let mut ws = Workspace::new();
    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    ws.set_env("MOLECULE_TOKEN_LOG", "debug");
    ws.configure_generic();
    let out = ws.fill("https://github.com");
    out.assert_fallback();
    let attempts = out.stderr.matches("debug: GET ").count();
    assert_eq!(attempts, 3, "one try and two retries: {}", out.stderr);
    assert_eq!(out.stderr.matches("error:").count(), 1, "{}", out.stderr);
}

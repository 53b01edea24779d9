//! The binary run directly: the credential actions with raw input,
//! fetch-token, gh-login (with a fake gh that records what it got), exec,
//! and the usage rules.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;

const GET_GITHUB: &str = "protocol=https\nhost=github.com\n\n";

// ---- get / store / erase with raw input ------------------------------------

#[test]
fn get_ignores_unknown_attributes() {
    let ws = Workspace::new();
    let out = ws.helper(
        &["get"],
        "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=github.com\n\
         path=org/repo.git\nwwwauth[]=Basic realm=\"GitHub\"\n\n",
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let token = ws.platform.last_token().unwrap();
    let expiry = out.attr("password_expiry_utc").unwrap();
    assert_eq!(
        out.stdout,
        format!("username=x-access-token\npassword={token}\npassword_expiry_utc={expiry}\n")
    );
}

#[test]
fn get_for_another_host_or_protocol_prints_nothing_and_exits_0() {
    let ws = Workspace::new();
    for input in [
        "protocol=https\nhost=gitlab.com\n\n",
        "protocol=http\nhost=github.com\n\n",
        "protocol=ssh\nhost=github.com\n\n",
        "host=github.com\n\n",
        "protocol=https\n\n",
        "",
    ] {
        let out = ws.helper(&["get"], input);
        assert_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "{input:?}"
        );
    }
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn get_says_why_a_host_is_not_served_when_verbose() {
    let ws = Workspace::new();
    let out = ws.helper(&["-v", "get"], "protocol=https\nhost=gitlab.com\n\n");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("\"gitlab.com\" is not served"),
        "{}",
        out.stderr
    );
}

#[test]
fn malformed_requests_are_refused_with_one_line() {
    let ws = Workspace::new();
    let huge = format!(
        "protocol=https\nhost=github.com\npath={}\n\n",
        "a".repeat(70_000)
    );
    let cases: [(&str, &str); 4] = [
        (
            "protocol=https\nhost=github.com",
            "ended in the middle of a line",
        ),
        ("protocol=https\nhost=git\0hub.com\n\n", "NUL"),
        ("protocol=https\nthis line has no equals sign\n\n", "line 2"),
        (&huge, "larger than 64 KiB"),
    ];
    for action in ["get", "store", "erase"] {
        for (input, needle) in cases {
            let out = ws.helper(&[action], input);
            assert_eq!(out.code(), 1, "{action} {needle}: {out:?}");
            assert_eq!(out.stdout, "");
            out.assert_one_error(needle);
        }
    }
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn crlf_requests_are_understood() {
    let ws = Workspace::new();
    let out = ws.helper(&["get"], "protocol=https\r\nhost=github.com\r\n\r\n");
    assert_eq!(out.attr("password"), ws.platform.last_token());
}

#[test]
fn store_and_erase_store_nothing_and_ask_nothing() {
    let ws = Workspace::new();
    let input = "protocol=https\nhost=github.com\nusername=x-access-token\npassword=whatever\n\n";
    for action in ["store", "erase"] {
        let out = ws.helper(&[action], input);
        assert_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (0, "", "")
        );
    }
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn a_failed_get_prints_nothing_on_stdout() {
    let ws = Workspace::new();
    ws.platform.set_default(Reply::status(500));
    let out = ws.helper(&["get"], GET_GITHUB);
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""));
    out.assert_one_error("platform error (HTTP 500)");
}

// ---- fetch-token ------------------------------------------------------------

#[test]
fn fetch_token_prints_the_token_and_a_newline() {
    let ws = Workspace::new();
    for name in ["fetch-token", "_fetch_token"] {
        let out = ws.helper(&[name], "");
        assert_eq!(out.code(), 0, "{out:?}");
        assert_eq!(
            out.stdout,
            format!("{}\n", ws.platform.last_token().unwrap())
        );
        assert_eq!(out.stderr, "");
    }
}

#[test]
fn fetch_token_json() {
    let ws = Workspace::new();
    ws.platform.push(Reply::TokenWith {
        token: format!("ghs_json{}", unique()),
        expires_at: Some("2030-01-02T04:04:05+01:00".into()),
    });
    let out = ws.helper(&["fetch-token", "--json"], "");
    assert_eq!(
        out.stdout,
        format!(
            "{{\"token\":\"{}\",\"expires_at\":\"2030-01-02T03:04:05Z\"}}\n",
            ws.platform.last_token().unwrap()
        )
    );
    ws.forget_cache();
    ws.platform.push(Reply::TokenNoExpiry);
    let out = ws.helper(&["_fetch_token", "--json"], "");
    assert_eq!(
        out.stdout,
        format!(
            "{{\"token\":\"{}\",\"expires_at\":null}}\n",
            ws.platform.last_token().unwrap()
        )
    );
}

#[test]
fn fetch_token_takes_a_served_host_and_refuses_others() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_GIT_HOSTS", "github.com,ghe.example.test");
    let out = ws.helper(&["fetch-token", "GHE.example.test"], "");
    assert_eq!(
        out.stdout,
        format!("{}\n", ws.platform.last_token().unwrap())
    );
    let out = ws.helper(&["fetch-token", "gitlab.com"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""));
    out.assert_one_error("gitlab.com is not a served host");
    assert_eq!(ws.platform.count(), 1);
}

#[test]
fn fetch_token_failures_print_nothing_on_stdout() {
    let ws = Workspace::new();
    ws.platform.set_default(Reply::status(403));
    for args in [
        &["fetch-token"][..],
        &["fetch-token", "--json"],
        &["_fetch_token"],
    ] {
        let out = ws.helper(args, "");
        assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{args:?}");
        out.assert_one_error("HTTP 403");
    }
}

// ---- exec -------------------------------------------------------------------

#[test]
fn exec_runs_the_command_with_a_fresh_token() {
    let mut ws = Workspace::new();
    ws.set_env("GH_TOKEN", "stale-token-from-container-start");
    let out = ws.helper(
        &[
            "exec",
            "--",
            "sh",
            "-c",
            "echo \"$GH_TOKEN\"; echo \"$GITHUB_TOKEN\"; exit 7",
        ],
        "",
    );
    let token = ws.platform.last_token().unwrap();
    assert_eq!(out.stdout, format!("{token}\n{token}\n"));
    assert_eq!(out.code(), 7, "the command's status is passed on");
}

#[test]
fn exec_exit_codes_follow_the_shell() {
    let ws = Workspace::new();
    let out = ws.helper(&["exec", "--", "no-such-command-anywhere"], "");
    assert_eq!(out.code(), 127);
    out.assert_one_error("no-such-command-anywhere: command not found");

    let script = ws.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ws.helper(&["exec", "--", script.to_str().unwrap()], "");
    assert_eq!(out.code(), 126);
    out.assert_one_error("permission denied");
}

#[test]
fn exec_without_a_token_does_not_run_the_command() {
    let ws = Workspace::new();
    ws.platform.set_default(Reply::status(500));
    let marker = ws.path().join("ran");
    let out = ws.helper(&["exec", "--", "touch", marker.to_str().unwrap()], "");
    assert_eq!(out.code(), 1);
    out.assert_one_error("HTTP 500");
    assert!(!marker.exists());
}

#[test]
fn exec_keeps_the_token_out_of_the_childs_argv() {
    let ws = Workspace::new();
    // The child prints its own command line, as the kernel has it.
    let out = ws.helper(
        &["exec", "--", "sh", "-c", "tr '\\0' ' ' < /proc/$$/cmdline"],
        "",
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.starts_with("sh -c"), "{}", out.stdout);
    ws.assert_no_secret_in(&out.stdout, "the child's argv");
}

// ---- gh-login ---------------------------------------------------------------

/// A fake `gh` that records its argv, stdin and environment, then exits
/// with `status` (writing `stderr` first).
fn fake_gh(ws: &Workspace, status: i32, stderr: &str) -> std::path::PathBuf {
    let bin = ws.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gh = bin.join("gh");
    let log = ws.path().join("gh-log");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\n\
             n=$(ls {log}.*.argv 2>/dev/null | wc -l)\n\
             printf '%s\\n' \"$@\" > {log}.$n.argv\n\
             cat > {log}.$n.stdin\n\
             env > {log}.$n.env\n\
             tr '\\0' ' ' < /proc/$$/cmdline > {log}.$n.cmdline\n\
             printf '%s' '{stderr}' >&2\n\
             exit {status}\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    gh
}

fn gh_call(ws: &Workspace, n: usize, what: &str) -> String {
    std::fs::read_to_string(ws.path().join(format!("gh-log.{n}.{what}"))).unwrap_or_default()
}

#[test]
fn gh_login_hands_gh_the_token_on_stdin_only() {
    let mut ws = Workspace::new();
    let gh = fake_gh(&ws, 0, "");
    let path = format!(
        "{}:{}",
        gh.parent().unwrap().display(),
        crate::support::test_git::path_string()
    );
    ws.set_env("PATH", path);
    for stale in [
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
    ] {
        ws.set_env(stale, "stale-token-from-container-start");
    }
    let out = ws.helper(&["gh-login"], "");
    assert_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "quiet for cron"
    );

    let token = ws.platform.last_token().unwrap();
    assert_eq!(
        gh_call(&ws, 0, "argv"),
        "auth\nlogin\n--with-token\n--hostname\ngithub.com\n"
    );
    assert_eq!(gh_call(&ws, 0, "stdin"), format!("{token}\n"));
    let env = gh_call(&ws, 0, "env");
    assert!(env.contains("PATH="), "the environment was recorded");
    for line in env.lines() {
        let name = line.split('=').next().unwrap();
        assert!(
            ![
                "GH_TOKEN",
                "GITHUB_TOKEN",
                "GH_ENTERPRISE_TOKEN",
                "GITHUB_ENTERPRISE_TOKEN"
            ]
            .contains(&name),
            "{name} reached gh"
        );
    }
    ws.assert_no_secret_in(&gh_call(&ws, 0, "cmdline"), "gh's argv");
    ws.assert_no_secret_in(&env, "gh's environment");
}

#[test]
fn gh_login_logs_in_to_each_host_with_one_fetch() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_GIT_HOSTS", "github.com,ghe.example.test");
    let gh = fake_gh(&ws, 0, "");
    let out = ws.helper(
        &[
            "gh-login",
            "--gh",
            gh.to_str().unwrap(),
            "--hostname",
            "github.com",
            "--hostname",
            "GHE.example.test",
        ],
        "",
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(gh_call(&ws, 0, "argv").ends_with("--hostname\ngithub.com\n"));
    assert!(gh_call(&ws, 1, "argv").ends_with("--hostname\nghe.example.test\n"));
    assert_eq!(ws.platform.count(), 1);
}

#[test]
fn gh_login_failure_shows_ghs_stderr_and_exits_non_zero() {
    let ws = Workspace::new();
    let gh = fake_gh(&ws, 4, "error validating token: HTTP 401");
    let out = ws.helper(&["gh-login", "--gh", gh.to_str().unwrap()], "");
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr.contains("error validating token: HTTP 401"),
        "{}",
        out.stderr
    );
    out.assert_one_error("auth login --with-token --hostname github.com failed");
}

#[test]
fn gh_login_without_gh_says_so() {
    let ws = Workspace::new();
    let out = ws.helper(&["gh-login", "--gh", "/nonexistent/gh"], "");
    assert_eq!(out.code(), 1);
    out.assert_one_error("cannot run /nonexistent/gh: not found");
}

// ---- usage --------------------------------------------------------------------

#[test]
fn invalid_settings_are_usage_errors_naming_the_variable() {
    for (name, value) in [
        ("MOLECULE_TOKEN_TIMEOUT", "soon"),
        ("MOLECULE_TOKEN_NO_CACHE", "perhaps"),
        ("MOLECULE_TOKEN_REFRESH_WINDOW", "-5"),
        ("MOLECULE_TOKEN_LOG", "chatty"),
        ("PLATFORM_URL", "platform:8080"),
        ("MOLECULE_GIT_HOSTS", "https://github.com"),
    ] {
        let mut ws = Workspace::new();
        ws.set_env(name, value);
        let out = ws.helper(&["get"], GET_GITHUB);
        assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{name}");
        out.assert_one_error(name);
        assert_eq!(ws.platform.count(), 0);
    }
}

#[test]
fn unknown_subcommands_and_flags_are_usage_errors() {
    let ws = Workspace::new();
    for args in [&["frobnicate"][..], &["get", "--frobnicate"], &[]] {
        let out = ws.helper(args, "");
        assert_eq!(out.code(), 2, "{args:?}: {out:?}");
        assert_eq!(out.stdout, "");
    }
}

#[test]
fn help_and_version_answer_on_stdout() {
    let ws = Workspace::new();
    let out = ws.helper(&["--version"], "");
    assert_eq!(
        out.stdout,
        format!("molecule-git-token-helper {}\n", env!("CARGO_PKG_VERSION"))
    );
    for sub in ["get", "store", "erase", "fetch-token", "gh-login", "exec"] {
        let out = ws.helper(&[sub, "--help"], "");
        assert_eq!(out.code(), 0, "{sub}");
        assert!(
            out.stdout.contains("Usage: molecule-git-token-helper"),
            "{sub}: {}",
            out.stdout
        );
    }
    let out = ws.helper(&["--help"], "");
    for needle in [
        "PLATFORM_URL",
        "CONFIGS_DIR",
        "MOLECULE_GIT_HOSTS",
        "MOLECULE_TOKEN_TIMEOUT",
        "Exit status",
    ] {
        assert!(out.stdout.contains(needle), "--help lacks {needle}");
    }
    assert_eq!(ws.platform.count(), 0);
}

//! Narrowed tokens (issue 25), with the real clients: the real git over
//! HTTPS against a git server that holds a token to what it was narrowed to
//! (`contents:read` fetches, a push is refused 403; a token of `org/app`
//! does not open `org/lib`), the real gh through the proxy against the HTTPS
//! mock GitHub API (a pull request read, a comment refused), the mock
//! platform minting what is asked (or, as today's platform, ignoring it, or
//! answering wider: fail closed), and one cache entry per scope.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::life::Life;
use crate::support::git_server::{OUT_OF_SCOPE, ScopeCheck, TOKEN_USER};
use crate::support::mock_github;
use crate::support::mock_platform::{Narrowing, Reply};
use crate::support::*;

const PERMISSIONS: &str = "MOLECULE_TOKEN_PERMISSIONS";
const REPOSITORIES: &str = "MOLECULE_TOKEN_REPOSITORIES";
const PER_REPOSITORY: &str = "MOLECULE_TOKEN_PER_REPOSITORY";

/// A [`Life`] whose git server holds every token to its narrowed scope.
fn life() -> Life {
    let l = Life::new();
    let checker = l.ws.platform.checker();
    let check: ScopeCheck = Arc::new(move |token: &str, owner: &str, repo: &str, level: &str| {
        checker.allows(token, owner, repo, "contents", level)
    });
    l.server.set_scope_check(Some(check));
    l
}

/// The real git with `args` and extra variables.
fn git(l: &Life, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut c = l.ws.command("git");
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    l.ws.run(c, "")
}

/// The helper with `args` and extra variables, in `dir` when given.
fn helper(ws: &Workspace, dir: Option<&Path>, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut c = ws.command(BIN);
    c.args(args);
    if let Some(dir) = dir {
        c.current_dir(dir);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    ws.run(c, "")
}

fn commit_file(l: &Life, repo: &str, name: &str) {
    std::fs::write(Path::new(&l.p(repo)).join(name), name).unwrap();
    l.ok(&["-C", &l.p(repo), "add", name]);
    l.ok(&["-C", &l.p(repo), "commit", "--quiet", "-m", name]);
}

/// The token requests' queries, in order.
fn queries(ws: &Workspace) -> Vec<String> {
    ws.platform
        .requested_queries()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect()
}

#[test]
fn with_contents_read_git_clones_and_fetches_but_a_push_is_refused() {
    let l = life();
    let url = l.server.create_bare_with("org/app", &[("a.txt", "a\n")]);
    let read = [(PERMISSIONS, "contents:read")];
    let out = git(&l, &read, &["clone", "--quiet", &url, &l.p("app")]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = git(&l, &read, &["-C", &l.p("app"), "fetch", "--quiet"]);
    assert_eq!(out.code(), 0, "{out:?}");
    commit_file(&l, "app", "b.txt");
    let push = git(&l, &read, &["-C", &l.p("app"), "push", "--quiet"]);
    assert_ne!(push.code(), 0, "{push:?}");
    assert!(push.stderr.contains("403"), "{push:?}");
    assert!(
        l.server
            .decisions()
            .iter()
            .any(|d| d.reason == OUT_OF_SCOPE && d.user.as_deref() == Some(TOKEN_USER)),
        "{:#?}",
        l.server.decisions()
    );
    // One narrowed request served the clone, the fetch and the push.
    assert_eq!(queries(&l.ws), ["owner=org&permissions=contents:read"]);
    // The same workspace without the narrowing pushes, with a token of its
    // own: the narrowed entry never serves the full request.
    let push = git(&l, &[], &["-C", &l.p("app"), "push", "--quiet"]);
    assert_eq!(push.code(), 0, "{push:?}");
    assert_eq!(
        queries(&l.ws),
        ["owner=org&permissions=contents:read", "owner=org"]
    );
    l.assert_store_has_no_token();
}

#[test]
fn per_repository_a_token_for_app_does_not_open_lib() {
    let l = life();
    let app = l.server.create_bare_with("org/app", &[("a.txt", "a\n")]);
    let lib = l.server.create_bare_with("org/lib", &[("l.txt", "l\n")]);
    let per = [(PER_REPOSITORY, "1")];
    let out = git(&l, &per, &["clone", "--quiet", &app, &l.p("app")]);
    assert_eq!(out.code(), 0, "{out:?}");
    // fetch-token in the clone: the token of its origin alone.
    let host = l.server.host();
    let out = helper(
        &l.ws,
        Some(&l.dir("app")),
        &per,
        &["fetch-token", "--host", &host],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let app_token = out.stdout.trim().to_string();
    assert_eq!(queries(&l.ws), ["owner=org&repositories=app"]);
    // The real git, given that token for lib (a helper that answers with it
    // from the environment): refused.
    let mut c = l.ws.command("git");
    c.args([
        "-c",
        "credential.helper=",
        "-c",
        "credential.helper=!f() { echo username=x-access-token; echo \"password=$APP_TOKEN\"; }; f",
        "ls-remote",
        &lib,
    ])
    .env("APP_TOKEN", &app_token);
    let out = l.ws.run(c, "");
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("403"), "{out:?}");
    // lib, asked per repository, gets a token of its own.
    let out = git(&l, &per, &["clone", "--quiet", &lib, &l.p("lib")]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        queries(&l.ws),
        ["owner=org&repositories=app", "owner=org&repositories=lib"]
    );
    // A command that names no repository (no origin here) gets nothing.
    let out = helper(
        &l.ws,
        Some(l.ws.path()),
        &per,
        &["fetch-token", "--host", &host],
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stdout, "");
    out.assert_one_error(PER_REPOSITORY);
}

#[test]
fn today_s_platform_and_a_wider_answer_are_never_served() {
    for narrowing in [Narrowing::Ignore, Narrowing::Wider] {
        let l = life();
        l.ws.platform.set_narrowing(narrowing);
        let url = l.server.create_bare_with("org/app", &[("a.txt", "a\n")]);
        // A direct command: nothing on stdout, one line, exit 1.
        let out = helper(
            &l.ws,
            None,
            &[],
            &["fetch-token", "--permissions", "contents:read"],
        );
        assert_eq!(out.code(), 1, "{narrowing:?}: {out:?}");
        assert_eq!(out.stdout, "", "{narrowing:?}");
        out.assert_one_error("contents:read");
        // git's get falls through to the operator's PAT.
        let read = [(PERMISSIONS, "contents:read")];
        let out = git(&l, &read, &["clone", "--quiet", &url, &l.p("app")]);
        assert_eq!(out.code(), 0, "{narrowing:?}: {out:?}");
        assert_eq!(l.server.accepted(Some(TOKEN_USER)), 0, "{narrowing:?}");
        assert!(l.server.accepted(Some(FALLBACK_USER)) > 0, "{narrowing:?}");
        // Nothing was cached: each request asked again.
        let asked = l.ws.platform.token_requests();
        let out = helper(&l.ws, None, &read, &["fetch-token"]);
        assert_eq!(out.code(), 1, "{narrowing:?}: {out:?}");
        assert_eq!(l.ws.platform.token_requests(), asked + 1, "{narrowing:?}");
        let minted = l.ws.platform.tokens();
        for entry in std::fs::read_dir(&l.ws.cache).into_iter().flatten() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                !minted.iter().any(|t| text.contains(t.as_str())),
                "{narrowing:?}: {} holds a token",
                path.display()
            );
        }
        // exec runs nothing.
        let out = helper(&l.ws, None, &read, &["exec", "--", "sh", "-c", "echo ran"]);
        assert_eq!(out.code(), 1, "{narrowing:?}: {out:?}");
        assert_eq!(out.stdout, "");
    }
}

#[test]
fn narrowed_and_full_tokens_never_serve_each_other() {
    for narrowed_first in [true, false] {
        let ws = Workspace::new();
        let narrowed = |ws: &Workspace| {
            let out = helper(
                ws,
                None,
                &[],
                &["fetch-token", "--permissions", "contents:read"],
            );
            assert_eq!(out.code(), 0, "{out:?}");
            out.stdout.trim().to_string()
        };
        let full = |ws: &Workspace| {
            let out = helper(ws, None, &[], &["fetch-token"]);
            assert_eq!(out.code(), 0, "{out:?}");
            out.stdout.trim().to_string()
        };
        let (n, f) = if narrowed_first {
            let n = narrowed(&ws);
            (n, full(&ws))
        } else {
            let f = full(&ws);
            (narrowed(&ws), f)
        };
        assert_ne!(n, f);
        assert_eq!(ws.platform.token_requests(), 2);
        // Each from its own entry, with no new request.
        assert_eq!(narrowed(&ws), n);
        assert_eq!(full(&ws), f);
        assert_eq!(ws.platform.token_requests(), 2);
        let checker = ws.platform.checker();
        assert!(checker.grant_of(&n).flatten().is_some());
        assert_eq!(checker.grant_of(&f), Some(None));
        // The same scope asked in another order and spelling shares the entry.
        let out = helper(
            &ws,
            None,
            &[(PERMISSIONS, " contents:read,contents:read ")],
            &["fetch-token"],
        );
        assert_eq!(out.stdout.trim(), n);
        assert_eq!(ws.platform.token_requests(), 2);
    }
}

#[test]
fn erase_drops_only_the_entry_of_the_rejected_token() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    let url = "https://github.com/org/app.git";
    let full = ws.fill(url).served_token();
    ws.set_env(PERMISSIONS, "contents:read");
    let narrowed = ws.fill(url).served_token();
    assert_ne!(full, narrowed);
    let reject = format!(
        "protocol=https\nhost=github.com\npath=org/app.git\nusername=x-access-token\npassword={narrowed}\n\n"
    );
    let out = ws.git(&["credential", "reject"], &reject);
    assert_eq!(out.code(), 0, "{out:?}");
    // The narrowed request fetches again; the full one keeps its token.
    let again = ws.fill(url).served_token();
    assert_ne!(again, narrowed);
    ws.set_env(PERMISSIONS, "");
    assert_eq!(ws.fill(url).served_token(), full);
    assert_eq!(ws.platform.token_requests(), 3);
}

#[test]
fn an_outage_met_by_one_scope_is_every_scope_s() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "8");
    ws.platform.set_default(Reply::status(500));
    let url = "https://github.com/org/app.git";
    ws.assert_falls_through(url, "HTTP 500");
    let asked = ws.platform.token_requests();
    // Another scope, another owner: the platform is not asked again.
    for (permissions, url) in [
        ("contents:read", url),
        ("issues:write", "https://github.com/other/x.git"),
    ] {
        ws.set_env(PERMISSIONS, permissions);
        let started = Instant::now();
        ws.assert_falls_through(url, "HTTP 500");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(ws.platform.token_requests(), asked);
}

#[test]
fn invalid_names_and_levels_are_usage_errors_naming_the_flag_or_variable() {
    let ws = Workspace::new();
    for (args, env, needle) in [
        (
            vec!["fetch-token", "--permissions", "contents:everything"],
            vec![],
            "--permissions",
        ),
        (
            vec!["exec", "--permissions", "kontents:read", "--", "true"],
            vec![],
            "--permissions",
        ),
        (
            vec!["env", "--repositories", "org/app"],
            vec![],
            "--repositories",
        ),
        (vec!["get"], vec![(PERMISSIONS, "contents")], PERMISSIONS),
        (
            vec!["fetch-token"],
            vec![(REPOSITORIES, "a b")],
            REPOSITORIES,
        ),
        (vec!["get"], vec![(PER_REPOSITORY, "maybe")], PER_REPOSITORY),
    ] {
        let out = helper(&ws, None, &env, &args);
        assert_eq!(out.code(), 2, "{args:?} {env:?}: {out:?}");
        assert_eq!(out.stdout, "");
        assert!(out.stderr.contains(needle), "{args:?}: {out:?}");
    }
    // The gh proxy too: it never runs gh with the environment's token then.
    let dir = ws.path().join("proxy-bin");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(BIN, dir.join("gh")).unwrap();
    let mut c = ws.command(dir.join("gh"));
    c.args(["api", "user"]).env(PERMISSIONS, "contents:nope");
    let out = ws.run(c, "");
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains(PERMISSIONS), "{out:?}");
    assert_eq!(ws.platform.token_requests(), 0);
}

#[test]
fn exec_exports_the_narrowing_and_its_git_asks_for_the_same() {
    let l = life();
    let url = l.server.create_bare_with("org/app", &[("a.txt", "a\n")]);
    l.ok(&["clone", "--quiet", &url, &l.p("app")]);
    commit_file(&l, "app", "b.txt");
    let out = helper(
        &l.ws,
        Some(&l.dir("app")),
        &[],
        &[
            "exec",
            "--permissions",
            "contents:read",
            "--",
            "sh",
            "-c",
            "echo \"$MOLECULE_TOKEN_PERMISSIONS\"; git push --quiet",
        ],
    );
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stdout.starts_with("contents:read\n"), "{out:?}");
    assert!(out.stderr.contains("403"), "{out:?}");
}

/// A workspace for the real gh through the proxy: the HTTPS mock GitHub API
/// with `org/app` (the App may write everything), holding every token to its
/// scope; stale `GH_TOKEN`/`GITHUB_TOKEN`; the proxy first on PATH.
fn gh_world() -> (Workspace, mock_github::GithubStack) {
    real_gh_dir();
    let mut ws = Workspace::new();
    let (stack, _gh_config) = ws.start_github();
    let checker = ws.platform.checker();
    let check: mock_github::ScopeCheck = Arc::new(move |t, owner, repo, permission, level| {
        checker.allows(t, owner, repo, permission, level)
    });
    stack.github.set_scope_check(Some(check));
    stack.github.add_repo("org/app", mock_github::Perms::all());
    stack.github.add_repo("org/lib", mock_github::Perms::all());
    let stale = ws.mint();
    ws.set_env("GH_TOKEN", &stale);
    ws.set_env("GITHUB_TOKEN", &stale);
    let proxy_dir = ws.path().join("proxy-bin");
    std::fs::create_dir_all(&proxy_dir).unwrap();
    std::os::unix::fs::symlink(BIN, proxy_dir.join("gh")).unwrap();
    let mut path = std::ffi::OsString::from(&proxy_dir);
    path.push(":");
    path.push(crate::support::test_git::path());
    ws.set_env("PATH", path);
    (ws, stack)
}

fn gh(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = ws.command("sh");
    c.current_dir(ws.path())
        .args(["-c", "exec gh \"$@\"", "gh"])
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    ws.run(c, "")
}

#[test]
fn gh_through_the_proxy_reads_a_pull_request_but_cannot_comment() {
    let (ws, stack) = gh_world();
    let comment = [
        "api",
        "-X",
        "POST",
        "repos/org/app/issues/1/comments",
        "-f",
        "body=looks good",
    ];
    let reviewer = [(PERMISSIONS, "contents:read,pull_requests:read")];
    let out = gh(&ws, &["api", "repos/org/app/pulls/1"], &reviewer);
    assert_eq!(out.code(), 0, "{out:?}\n{}", stack.github.describe());
    assert!(out.stdout.contains("A mock pull request"), "{out:?}");
    let out = gh(&ws, &comment, &reviewer);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("403"), "{out:?}");
    // With pull_requests:write it may; the stale token never reached GitHub.
    let out = gh(
        &ws,
        &comment,
        &[(PERMISSIONS, "contents:read,pull_requests:write")],
    );
    assert_eq!(out.code(), 0, "{out:?}\n{}", stack.github.describe());
    // Per repository, with GH_REPO: a token of app alone; lib is out of reach
    // with it.
    let out = gh(
        &ws,
        &["api", "repos/org/lib"],
        &[(PER_REPOSITORY, "1"), ("GH_REPO", "org/app")],
    );
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("404"), "{out:?}");
    // Fail closed: against today's platform, gh runs without a token (401),
    // never with the environment's.
    ws.platform.set_narrowing(Narrowing::Ignore);
    stack.github.clear_requests();
    let out = gh(
        &ws,
        &["api", "repos/org/app/pulls/1"],
        &[(PERMISSIONS, "contents:read")],
    );
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        stack
            .github
            .requests()
            .iter()
            .all(|r| r.token_tail.is_none()),
        "{}",
        stack.github.describe()
    );
}

#[test]
fn a_narrowed_shell_never_keeps_the_environment_s_wider_token() {
    let mut ws = Workspace::new();
    ws.platform.set_narrowing(Narrowing::Ignore);
    // The container's token, from its start: live, and the installation's.
    let wide = ws.mint();
    ws.set_env("GH_TOKEN", &wide);
    ws.set_env("GITHUB_TOKEN", &wide);
    let mut c = ws.command("sh");
    c.args([
        "-c",
        "eval \"$(\"$0\" env)\"; printf '%s|%s' \"$GH_TOKEN\" \"$GITHUB_TOKEN\"",
        BIN,
    ])
    .env(PERMISSIONS, "contents:read");
    let out = ws.run(c, "");
    assert_eq!(out.stdout, "|", "{out:?}");
    out.assert_one_error("contents:read");
    // Not narrowed, a failure leaves the variables as they were.
    ws.platform.set_default(Reply::status(404));
    let mut c = ws.command("sh");
    c.args(["-c", "eval \"$(\"$0\" env)\"; printf %s \"$GH_TOKEN\"", BIN]);
    let out = ws.run(c, "");
    assert_eq!(out.stdout, wide, "{out:?}");
}

#[test]
fn gh_login_in_a_narrowed_tree_stores_the_narrowed_token() {
    let (ws, _stack) = gh_world();
    let out = helper(&ws, None, &[(PERMISSIONS, "contents:read")], &["gh-login"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let mut c = ws.command(real_gh_dir().join("gh"));
    c.args(["auth", "token", "--hostname", "github.com"])
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_TOKEN");
    let out = ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    let grant = ws.platform.checker().grant_of(out.stdout.trim());
    assert_eq!(
        grant.flatten().and_then(|g| g.permissions),
        Some(vec![("contents".to_string(), "read".to_string())])
    );
}

#[test]
fn status_lists_the_narrowed_entries_never_a_token() {
    let ws = Workspace::new();
    for args in [
        &["fetch-token"][..],
        &[
            "fetch-token",
            "--permissions",
            "pull_requests:write,contents:read",
        ],
    ] {
        let out = helper(&ws, None, &[], args);
        assert_eq!(out.code(), 0, "{out:?}");
    }
    let out = helper(&ws, None, &[], &["status"]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("tokens cached"))
        .unwrap_or_else(|| panic!("no cache line: {out:?}"));
    assert!(
        line.contains("default narrowed to permissions=contents:read,pull_requests:write"),
        "{line}"
    );
    ws.assert_no_secret_in(&out.stdout, "status");
}

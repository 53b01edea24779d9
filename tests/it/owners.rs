//! One installation per owner (issue 21), with the real clients: the real
//! git over HTTPS against a git server that accepts each organisation's
//! repositories only with a token minted for that organisation (or the
//! operator's PAT), and the real gh through the proxy against the HTTPS mock
//! GitHub API, which checks the owner of the token against the repository in
//! the request. The mock platform runs in both modes: one installation per
//! owner (`set_owners`), and today's (the query ignored).

use std::path::Path;
use std::sync::Arc;

use crate::life::Life;
use crate::support::git_server::{OwnerCheck, TOKEN_USER};
use crate::support::mock_github;
use crate::support::*;

/// A [`Life`] whose git server checks the owner of every token against the
/// repository's organisation; with `owners`, the platform mints per owner.
fn life(owners: &[&str]) -> Life {
    let l = Life::new();
    l.ws.platform.set_owners(owners);
    let checker = l.ws.platform.checker();
    let check: OwnerCheck = Arc::new(move |token: &str, owner: &str| checker.serves(token, owner));
    l.server.set_owner_check(Some(check));
    l
}

fn commit_file(l: &Life, repo: &str, name: &str, text: &str) {
    std::fs::write(Path::new(&l.p(repo)).join(name), text).unwrap();
    l.ok(&["-C", &l.p(repo), "add", name]);
    l.ok(&["-C", &l.p(repo), "commit", "--quiet", "-m", name]);
}

/// Every token decision of the server was an acceptance, and the PAT was
/// never needed.
fn assert_tokens_only(l: &Life) {
    let decisions = l.server.decisions();
    assert_eq!(l.server.refused(Some(TOKEN_USER)), 0, "{decisions:#?}");
    assert!(l.server.accepted(Some(TOKEN_USER)) > 0, "{decisions:#?}");
    assert_eq!(l.server.accepted(Some(FALLBACK_USER)), 0, "{decisions:#?}");
}

/// The owners the platform was asked for, sorted (`None`: no query).
fn asked(l: &Life) -> Vec<Option<String>> {
    let mut owners = l.ws.platform.requested_owners();
    owners.sort();
    owners
}

fn some(owners: &[&str]) -> Vec<Option<String>> {
    owners.iter().map(|o| Some(o.to_string())).collect()
}

#[test]
fn a_submodule_of_another_org_clones_and_pushes_with_each_orgs_own_token() {
    let l = life(&["orgA", "orgB"]);
    let lib = l
        .server
        .create_bare_with("orgB/lib", &[("lib.txt", "library\n")]);
    let app = l
        .server
        .create_bare_with("orgA/app", &[("app.txt", "app\n")]);
    l.ok(&["clone", "--quiet", &app, &l.p("work")]);
    l.ok(&[
        "-C",
        &l.p("work"),
        "submodule",
        "--quiet",
        "add",
        &lib,
        "lib",
    ]);
    l.ok(&["-C", &l.p("work"), "commit", "--quiet", "-m", "add lib"]);
    l.ok(&["-C", &l.p("work"), "push", "--quiet"]);
    assert_eq!(asked(&l), some(&["orgA", "orgB"]));

    // A fresh workspace (an empty cache): the recursive clone needs both.
    std::fs::remove_dir_all(&l.ws.cache).unwrap();
    let before = l.ws.platform.token_requests();
    l.ok(&[
        "clone",
        "--quiet",
        "--recurse-submodules",
        &app,
        &l.p("fresh"),
    ]);
    assert_eq!(
        std::fs::read_to_string(l.dir("fresh/lib/lib.txt")).unwrap(),
        "library\n"
    );
    assert_eq!(l.ws.platform.token_requests() - before, 2);
    // Push to each: the cached tokens, no new request.
    l.ok(&["-C", &l.p("fresh/lib"), "checkout", "--quiet", "main"]);
    commit_file(&l, "fresh/lib", "b.txt", "b\n");
    l.ok(&["-C", &l.p("fresh/lib"), "push", "--quiet"]);
    commit_file(&l, "fresh", "a.txt", "a\n");
    l.ok(&["-C", &l.p("fresh"), "push", "--quiet"]);
    assert_eq!(l.ws.platform.token_requests() - before, 2);
    assert_tokens_only(&l);
    // Each organisation's repositories saw its own installation's tokens.
    let checker = l.ws.platform.checker();
    let tokens = l.ws.platform.tokens();
    for d in l.server.decisions() {
        if d.user.as_deref() != Some(TOKEN_USER) {
            continue;
        }
        let owner = d.path.trim_start_matches('/').split('/').next().unwrap();
        let tail = d.password_tail.clone().unwrap_or_default();
        let token = tokens.iter().find(|t| t.ends_with(&tail)).unwrap();
        assert_eq!(
            checker.owner_of(token),
            Some(Some(owner.to_string())),
            "{d}"
        );
    }
    l.assert_store_has_no_token();
}

#[test]
fn a_repository_of_an_org_without_an_installation_reaches_the_pat() {
    let l = life(&["orgA", "orgB"]);
    let url = l.server.create_bare_with("orgC/x", &[("x.txt", "x\n")]);
    let out = l.ok(&["clone", "--quiet", &url, &l.p("c")]);
    assert!(
        out.stderr.contains("404") && out.stderr.contains("orgC"),
        "{out:?}"
    );
    assert!(l.server.accepted(Some(FALLBACK_USER)) > 0);
    commit_file(&l, "c", "y.txt", "y\n");
    l.ok(&["-C", &l.p("c"), "push", "--quiet"]);
    assert!(asked(&l).iter().all(|o| o.as_deref() == Some("orgC")));
    // The other organisations are unaffected.
    let a = l.server.create_bare_with("orgA/a", &[("a.txt", "a\n")]);
    l.server.clear_decisions();
    l.ok(&["clone", "--quiet", &a, &l.p("a")]);
    assert_tokens_only(&l);
    l.assert_store_has_no_token();
}

#[test]
fn sixteen_parallel_clones_across_two_orgs_make_two_platform_requests() {
    let l = life(&["orgA", "orgB"]);
    let a = l.server.create_bare_with("orgA/a", &[("a.txt", "a\n")]);
    let b = l.server.create_bare_with("orgB/b", &[("b.txt", "b\n")]);
    let outs: Vec<Out> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (l, url) = (&l, if i % 2 == 0 { &a } else { &b });
                s.spawn(move || {
                    l.ws.git(&["clone", "--quiet", url, &l.p(&format!("c{i}"))], "")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert_eq!(out.code(), 0, "{out:?}");
    }
    assert_eq!(asked(&l), some(&["orgA", "orgB"]));
    assert_tokens_only(&l);
}

#[test]
fn todays_platform_serves_every_org_with_one_request_per_token_life() {
    let l = life(&[]);
    let a = l.server.create_bare_with("orgA/a", &[("a.txt", "a\n")]);
    let b = l.server.create_bare_with("orgB/b", &[("b.txt", "b\n")]);
    l.ok(&["clone", "--quiet", &a, &l.p("a")]);
    l.ok(&["clone", "--quiet", &b, &l.p("b")]);
    commit_file(&l, "b", "c.txt", "c\n");
    l.ok(&["-C", &l.p("b"), "push", "--quiet"]);
    // It was asked for orgA once, ignored the owner, and that was enough.
    assert_eq!(asked(&l), some(&["orgA"]));
    assert_tokens_only(&l);
    // Its token dies (revoked): one command fails, git's erase drops it
    // (a request for orgB drops the token orgA's request brought), and one
    // new request serves both again.
    let token = l.ws.platform.last_token().unwrap();
    l.ws.platform.revoke(&token);
    let failed = l.ws.git(&["-C", &l.p("b"), "fetch", "--quiet"], "");
    assert_eq!(failed.code(), 128, "{failed:?}");
    assert!(!l.ws.cache_entry().exists(), "erase dropped the token");
    l.ok(&["-C", &l.p("a"), "fetch", "--quiet"]);
    l.ok(&["-C", &l.p("b"), "fetch", "--quiet"]);
    assert_eq!(l.ws.platform.token_requests(), 2, "{:?}", asked(&l));
    l.assert_store_has_no_token();
}

#[test]
fn in_an_outage_the_pat_in_a_store_entry_without_a_path_is_still_reached() {
    let mut l = life(&[]);
    let a = l.server.create_bare_with("orgA/a", &[("a.txt", "a\n")]);
    l.platform_down();
    let out = l.ok(&["clone", "--quiet", &a, &l.p("a")]);
    assert!(
        out.stderr.contains("cannot connect to the platform"),
        "{out:?}"
    );
    assert!(l.server.accepted(Some(FALLBACK_USER)) > 0);
    assert_eq!(l.server.accepted(Some(TOKEN_USER)), 0);
    commit_file(&l, "a", "b.txt", "b\n");
    l.ok(&["-C", &l.p("a"), "push", "--quiet"]);
    // The operator's store is as it was: one entry, without a path.
    let store = std::fs::read_to_string(&l.store).unwrap();
    assert_eq!(store.lines().count(), 1, "{store}");
    assert!(!store.contains("/orgA"), "{store}");
}

/// A workspace for the real gh through the proxy: the HTTPS mock GitHub API
/// with `orgA/x` and `orgB/y`, accepting for each only a token of its
/// owner; stale `GH_TOKEN`/`GITHUB_TOKEN`; the proxy first on PATH.
fn gh_world(owners: &[&str]) -> (Workspace, mock_github::GithubStack) {
    // Fails naming the install command when gh is missing.
    real_gh_dir();
    let mut ws = Workspace::new();
    ws.platform.set_owners(owners);
    let (stack, _gh_config) = ws.start_github();
    let checker = ws.platform.checker();
    let check: mock_github::OwnerCheck =
        Arc::new(move |token: &str, owner: &str| checker.serves(token, owner));
    stack.github.set_owner_check(Some(check));
    for repo in ["orgA/x", "orgB/y"] {
        stack.github.add_repo(repo, mock_github::Perms::all());
    }
    let stale = ws.mint();
    ws.platform.revoke(&stale);
    ws.set_env("GH_TOKEN", &stale);
    ws.set_env("GITHUB_TOKEN", &stale);
    let proxy_dir = ws.path().join("proxy-bin");
    std::fs::create_dir_all(&proxy_dir).unwrap();
    std::os::unix::fs::symlink(BIN, proxy_dir.join("gh")).unwrap();
    // The proxy first, then the git the tests drive and the rest.
    let mut path = std::ffi::OsString::from(&proxy_dir);
    path.push(":");
    path.push(crate::support::test_git::path());
    ws.set_env("PATH", path);
    (ws, stack)
}

/// `gh ARGS` found on PATH (the proxy), run in `dir`.
fn gh(ws: &Workspace, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = ws.command("sh");
    c.current_dir(dir)
        .args(["-c", "exec gh \"$@\"", "gh"])
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    ws.run(c, "")
}

/// The owner of the token the mock GitHub saw on its last request to `path`.
fn owner_seen(ws: &Workspace, stack: &mock_github::GithubStack, path: &str) -> Option<String> {
    let request = stack
        .github
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no request to {path}:\n{}", stack.github.describe()));
    let tail = request.token_tail.expect("a token");
    let token = ws
        .platform
        .tokens()
        .into_iter()
        .find(|t| t.ends_with(&tail))
        .expect("a token the platform minted");
    ws.platform.checker().owner_of(&token).flatten()
}

#[test]
fn gh_through_the_proxy_gets_the_token_of_the_repository_it_works_on() {
    let (ws, stack) = gh_world(&["orgA", "orgB"]);
    // A clone of an orgB repository (its origin is what gh and the proxy read).
    let clone = ws.path().join("y");
    let init = ws.git(&["init", "-q", clone.to_str().unwrap()], "");
    assert_eq!(init.code(), 0, "{init:?}");
    let remote = ws.git(
        &[
            "-C",
            clone.to_str().unwrap(),
            "remote",
            "add",
            "origin",
            "https://github.com/orgB/y.git",
        ],
        "",
    );
    assert_eq!(remote.code(), 0, "{remote:?}");
    let sub = clone.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();

    let out = gh(&ws, &sub, &["api", "repos/{owner}/{repo}"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", stack.github.describe());
    // (The mock keeps repository names in lower case.)
    assert!(out.stdout.contains("\"full_name\":\"orgb/y\""), "{out:?}");
    assert_eq!(
        owner_seen(&ws, &stack, "/repos/orgB/y").as_deref(),
        Some("orgB")
    );

    // GH_REPO names another repository: its owner's token.
    let out = gh(
        &ws,
        &sub,
        &["api", "repos/{owner}/{repo}"],
        &[("GH_REPO", "orgA/x")],
    );
    assert_eq!(out.code(), 0, "{out:?}\n{}", stack.github.describe());
    assert_eq!(
        owner_seen(&ws, &stack, "/repos/orgA/x").as_deref(),
        Some("orgA")
    );

    // -R wins over the current repository.
    let _ = gh(&ws, &sub, &["run", "list", "-R", "orgA/x"], &[]);
    assert_eq!(
        owner_seen(&ws, &stack, "/repos/orgA/x/actions/runs").as_deref(),
        Some("orgA")
    );
    // Two owners, two platform requests; the stale variables never sent.
    assert_eq!(ws.platform.token_requests(), 3, "the stale one, orgB, orgA");
}

#[test]
fn fetch_token_and_exec_take_an_owner() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgB"]);
    let checker = ws.platform.checker();
    let fetch = |args: &[&str]| {
        let out = ws.helper(args, "");
        assert_eq!(out.code(), 0, "{out:?}");
        out.stdout.trim().to_string()
    };
    let b = fetch(&["fetch-token", "--owner", "orgB"]);
    assert_eq!(checker.owner_of(&b), Some(Some("orgB".to_string())));
    // Cached per owner, whatever the case of the login.
    assert_eq!(fetch(&["fetch-token", "--owner", "ORGB"]), b);
    let default = fetch(&["fetch-token"]);
    assert_eq!(checker.owner_of(&default), Some(Some("orgA".to_string())));
    let json = fetch(&["fetch-token", "--json", "--owner", "orgB"]);
    assert!(json.starts_with(&format!("{{\"token\":\"{b}\"")), "{json}");
    assert_eq!(ws.platform.token_requests(), 2);

    // exec hands the command the owner's token.
    let out = ws.helper(
        &[
            "exec",
            "--owner",
            "orgB",
            "--",
            "sh",
            "-c",
            "test \"$GH_TOKEN\" = \"$1\"",
            "sh",
            &b,
        ],
        "",
    );
    assert_eq!(out.code(), 0, "{out:?}");

    // Not a login: a usage error naming the value; nothing asked.
    for bad in ["org/x", "org_x", &"a".repeat(40), ""] {
        let out = ws.helper(&["fetch-token", "--owner", bad], "");
        assert_eq!(out.code(), 2, "{bad}: {out:?}");
        assert!(out.stderr.contains("not a GitHub login"), "{out:?}");
    }
    // An owner without an installation: one line naming it, exit 1.
    let out = ws.helper(&["fetch-token", "--owner", "orgC"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error("orgC");
    assert!(out.stderr.contains("404"), "{out:?}");
    assert_eq!(ws.platform.token_requests(), 3);
}

/// The line of `status` for check `name` that contains `needle`.
fn status_line<'a>(out: &'a Out, name: &str, needle: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name) && l.contains(needle))
        .unwrap_or_else(|| panic!("no {name} line with {needle:?}: {out:?}"))
}

#[test]
fn status_lists_the_entries_and_probes_each_repository_with_its_owners_token() {
    let (ws, stack) = gh_world(&["orgA", "orgB"]);
    let token = |args: &[&str]| {
        let out = ws.helper(args, "");
        assert_eq!(out.code(), 0, "{out:?}");
        out.stdout.trim().to_string()
    };
    token(&["fetch-token"]);
    token(&["fetch-token", "--owner", "orgB"]);
    let out = ws.helper(&["status"], "");
    ws.assert_no_secret_in(&out.stdout, "stdout");
    let cache = status_line(&out, "cache", "tokens cached");
    for name in ["default", "orgb"] {
        let shown = |m: u32| cache.contains(&format!("{name} {m} min left"));
        assert!(shown(59) || shown(60), "{name}: {out:?}");
    }

    let out = ws.helper(
        &[
            "status",
            "--probe",
            "--probe-repo",
            "orgA/x",
            "--probe-repo",
            "orgB/y",
        ],
        "",
    );
    ws.assert_no_secret_in(&out.stdout, "stdout");
    for repo in ["orgA/x", "orgB/y"] {
        let line = status_line(&out, "api", &format!("{repo}:"));
        assert!(
            line.starts_with("ok"),
            "{repo}: {out:?}\n{}",
            stack.github.describe()
        );
    }
    assert_eq!(
        owner_seen(&ws, &stack, "/repos/orgA/x").as_deref(),
        Some("orgA")
    );
    assert_eq!(
        owner_seen(&ws, &stack, "/repos/orgB/y").as_deref(),
        Some("orgB")
    );

    // An owner without an installation: that repository's probe fails, naming it.
    let out = ws.helper(&["status", "--probe", "--probe-repo", "orgC/z"], "");
    assert_eq!(out.code(), 1, "{out:?}");
    let line = status_line(&out, "api", "orgC/z");
    assert!(line.starts_with("fail") && line.contains("404"), "{out:?}");
}

#[test]
fn erase_drops_only_the_entry_that_holds_the_rejected_token() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgB"]);
    let fetch = |owner: &str| {
        let out = ws.helper(&["fetch-token", "--owner", owner], "");
        assert_eq!(out.code(), 0, "{out:?}");
        out.stdout.trim().to_string()
    };
    let (a, b) = (fetch("orgA"), fetch("orgB"));
    assert_ne!(a, b);
    let erase = |token: &str, path: &str| {
        let out = ws.helper(
            &["erase"],
            &format!(
                "protocol=https\nhost=github.com\npath={path}\nusername=x-access-token\npassword={token}\n\n"
            ),
        );
        assert_eq!(out.code(), 0, "{out:?}");
    };
    // Whatever path git sends with it, the entry holding orgB's token goes.
    erase(&b, "orgA/x.git");
    assert!(ws.cache.join("token@orga").exists());
    assert!(!ws.cache.join("token@orgb").exists());
    assert_eq!(fetch("orgA"), a, "orgA's entry is untouched");
    assert_ne!(fetch("orgB"), b, "orgB's is fetched again");
    // A token no entry holds changes nothing.
    erase(&b, "orgB/y.git");
    assert!(ws.cache.join("token@orgb").exists());
    assert_eq!(ws.platform.token_requests(), 3);
}

#[test]
fn an_outage_met_for_one_owner_is_the_platforms_and_a_404_is_the_owners() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgB"]);
    // orgA's fetch meets a platform error: the platform is failing ...
    ws.platform.set_default(Reply::status(503));
    let out = ws.helper(&["--timeout", "1", "fetch-token", "--owner", "orgA"], "");
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(ws.cache.join("platform.state").exists());
    let asked = ws.platform.token_requests();
    // ... for every owner: orgB is answered from that memory, at once.
    for owner in ["orgA", "orgB", "orgC"] {
        let out = ws.helper(&["fetch-token", "--owner", owner], "");
        assert_eq!(out.code(), 1, "{out:?}");
        out.assert_one_error("HTTP 503");
        assert!(out.stderr.contains("another helper process"), "{out:?}");
    }
    let out = ws.helper(&["fetch-token"], "");
    assert!(out.stderr.contains("another helper process"), "{out:?}");
    assert_eq!(ws.platform.token_requests(), asked);
}

#[test]
fn an_answer_for_another_owner_is_refused_and_not_cached() {
    let ws = Workspace::new();
    let token = crate::support::mock_platform::new_token();
    ws.platform.push(Reply::Body(format!(
        r#"{{"token":"{token}","expires_at":"{}","owner":"orgZ"}}"#,
        crate::support::mock_platform::expires_at_in(3600)
    )));
    let out = ws.helper(&["fetch-token", "--owner", "orgA"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error("answered with a token for orgZ, not for orgA");
    assert!(!out.stderr.contains(&token));
    let names: Vec<String> = std::fs::read_dir(&ws.cache)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !names
            .iter()
            .any(|n| n == "token" || n.starts_with("token@") && !n.contains('.')),
        "{names:?}"
    );
}

#[test]
fn todays_platform_answering_a_request_without_an_owner_serves_every_owner_after_it() {
    let ws = Workspace::new();
    let fetch = |args: &[&str]| {
        let out = ws.helper(args, "");
        assert_eq!(out.code(), 0, "{out:?}");
        out.stdout.trim().to_string()
    };
    // Its answer names no owner: the platform ignores owners.
    let default = fetch(&["fetch-token"]);
    assert_eq!(fetch(&["fetch-token", "--owner", "orgA"]), default);
    assert_eq!(fetch(&["fetch-token", "--owner", "orgB"]), default);
    assert_eq!(ws.platform.requested_owners(), vec![None]);
    // A platform that mints per owner names its default installation's
    // owner even then: orgB gets its own token.
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgB"]);
    let out = ws.helper(&["fetch-token"], "");
    let default = out.stdout.trim().to_string();
    let out = ws.helper(&["fetch-token", "--owner", "orgB"], "");
    assert_ne!(out.stdout.trim(), default, "{out:?}");
    assert_eq!(ws.platform.token_requests(), 2);
}

#[test]
fn env_takes_an_owner() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgB"]);
    let out = ws.helper(&["fetch-token", "--owner", "orgB"], "");
    let b = out.stdout.trim().to_string();
    let out = ws.helper(&["env", "--owner", "orgB"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        out.stdout,
        format!("export GH_TOKEN='{b}'\nexport GITHUB_TOKEN='{b}'\n")
    );
    let out = ws.helper(&["env", "--owner", "org_b"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
    assert_eq!(ws.platform.token_requests(), 1);
}

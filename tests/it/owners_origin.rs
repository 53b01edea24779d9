//! The owner of the current repository's `origin`, read without git (issue
//! 24 item 13): `env` and the shell hook take it when no `--owner` is
//! given, as the gh proxy does; an `origin` that `url.BASE.insteadOf`
//! rewrites, and one in a bare repository, give their owner.

use std::path::{Path, PathBuf};

use crate::owners::{gh, gh_world, owner_seen};
use crate::support::*;

/// A repository at `dir` (bare when `bare`) whose origin is `url`.
fn repo(ws: &Workspace, dir: &Path, url: &str, bare: bool) {
    let mut args = vec!["init", "-q"];
    if bare {
        args.push("--bare");
    }
    args.push(dir.to_str().unwrap());
    let out = ws.git(&args, "");
    assert_eq!(out.code(), 0, "{out:?}");
    let out = ws.git(
        &["-C", dir.to_str().unwrap(), "remote", "add", "origin", url],
        "",
    );
    assert_eq!(out.code(), 0, "{out:?}");
}

/// Whose installation `token` is of.
fn owner_of(ws: &Workspace, token: &str) -> Option<String> {
    ws.platform.checker().owner_of(token).flatten()
}

#[test]
fn env_and_the_bash_hook_inside_an_orgb_repository_hold_orgbs_token() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgB"]);
    let clone = ws.path().join("y");
    repo(&ws, &clone, "https://github.com/orgB/y.git", false);
    let deep = clone.join("src/deep");
    std::fs::create_dir_all(&deep).unwrap();
    // env, in a directory of the repository.
    let mut c = ws.command(BIN);
    c.arg("env").current_dir(&deep);
    let out = ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    let token = out
        .stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("export GH_TOKEN='"))
        .and_then(|l| l.strip_suffix('\''))
        .unwrap_or_else(|| panic!("{out:?}"))
        .to_string();
    assert_eq!(owner_of(&ws, &token).as_deref(), Some("orgB"));
    // --owner still wins; outside any repository, the default.
    let mut c = ws.command(BIN);
    c.args(["env", "--owner", "orgA"]).current_dir(&deep);
    let out = ws.run(c, "");
    assert!(!out.stdout.contains(&token), "{out:?}");

    // The bash hook (BASH_ENV, as an agent's `bash -c`) in the repository.
    let env_bash = ws.path().join("env.bash");
    std::fs::write(&env_bash, ws.helper(&["shell-init", "bash"], "").stdout).unwrap();
    let mut c = ws.command("bash");
    c.args(["-c", "printf '%s\\n' \"$GH_TOKEN\""])
        .env("BASH_ENV", &env_bash)
        .current_dir(&deep);
    let out = ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.trim(), token, "{out:?}");
    let mut c = ws.command("bash");
    c.args(["-c", "printf '%s\\n' \"$GH_TOKEN\""])
        .env("BASH_ENV", &env_bash);
    let out = ws.run(c, "");
    assert_eq!(
        owner_of(&ws, out.stdout.trim()).as_deref(),
        Some("orgA"),
        "the default: {out:?}"
    );
}

#[test]
fn gh_through_the_proxy_follows_insteadof() {
    let (ws, stack) = gh_world(&["orgA", "orgB"]);
    // `gh:` stands for https://github.com/ in the global config; a longer
    // prefix in the repository's own config wins for orgB.
    ws.write_gitconfig(
        "[url \"https://github.com/\"]\n\tinsteadOf = gh:\n\
         [url \"https://github.com/orgB/\"]\n\tinsteadOf = gh:b/\n",
    );
    let clone = ws.path().join("via-insteadof");
    repo(&ws, &clone, "gh:b/y", false);
    let out = gh(&ws, &clone, &["api", "repos/{owner}/{repo}"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", stack.github.describe());
    assert_eq!(
        owner_seen(&ws, &stack, "/repos/orgB/y").as_deref(),
        Some("orgB")
    );
}

#[test]
fn gh_through_the_proxy_in_a_bare_repository_gets_its_owners_token() {
    let (ws, stack) = gh_world(&["orgA", "orgB"]);
    // Its config at the top of the git directory.
    let bare: PathBuf = ws.path().join("bare-y.git");
    repo(&ws, &bare, "https://github.com/orgB/y.git", true);
    let out = gh(&ws, &bare, &["api", "repos/{owner}/{repo}"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", stack.github.describe());
    assert_eq!(
        owner_seen(&ws, &stack, "/repos/orgB/y").as_deref(),
        Some("orgB")
    );
}

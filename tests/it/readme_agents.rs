//! Agent classes (issue 25), started as the README's entrypoint starts an
//! agent: its first ```` ```sh workspace ```` block, run as written, with
//! `MOLECULE_TOKEN_PERMISSIONS=contents:read` set before it (as an
//! entrypoint of a reviewer class would). The agent's `git push`, its gh
//! through the proxy and its `bash -c` through `BASH_ENV` all hold the
//! narrowed token; a second agent, started without it, pushes.

use std::path::Path;
use std::sync::Arc;

use crate::readme::{Sandbox, workspace_blocks};
use crate::support::git_server::ScopeCheck;
use crate::support::mock_github::{self, API_HOST};

/// What an agent does, each step's exit status appended to `log` in @OUT@:
/// clone, commit, push; read the repository and comment on a pull request
/// with gh (the proxy, first on PATH); and a `bash -c` that writes the
/// `GITHUB_TOKEN` it holds (through `BASH_ENV`) to `bash-token`.
const AGENT: &str = r#"#!/bin/sh
cd "@OUT@" || exit 1
git clone --quiet https://github.com/molecule/workspace.git work 2>>err
echo "clone $?" >> log
cd work || exit 1
echo "from $$" > "agent-$$.txt"
git add . && git commit --quiet -m "agent $$"
git push --quiet origin HEAD:main 2>>../err
echo "push $?" >> ../log
gh api repos/molecule/workspace > /dev/null 2>>../err
echo "read $?" >> ../log
gh api -X POST repos/molecule/workspace/issues/1/comments -f body=hi > /dev/null 2>>../err
echo "comment $?" >> ../log
bash -c 'printf %s "$GITHUB_TOKEN"' > ../bash-token
"#;

/// Start an agent through the README's entrypoint block, with `env` set
/// before it; its log and the token its `bash -c` held.
fn start_agent(s: &Sandbox, name: &str, env: &[(&str, &str)]) -> (String, String, String) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let entrypoint = workspace_blocks(&readme).remove(0);
    let out_dir = s.ws.path().join(name);
    std::fs::create_dir_all(&out_dir).unwrap();
    let agent = s.ws.path().join(format!("{name}.sh"));
    std::fs::write(&agent, AGENT.replace("@OUT@", out_dir.to_str().unwrap())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = s.ws.command(&entrypoint.shell);
    c.args(["-e", "-c", &entrypoint.text, &entrypoint.shell])
        .arg(&agent)
        .current_dir(&s.ws.home);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = s.ws.run(c, "");
    assert_eq!(out.code(), 0, "the entrypoint: {out:?}");
    let read = |f: &str| std::fs::read_to_string(out_dir.join(f)).unwrap_or_default();
    (read("log"), read("err"), read("bash-token"))
}

fn status<'a>(log: &'a str, step: &str) -> &'a str {
    log.lines()
        .find_map(|l| l.strip_prefix(step)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {step} in the agent's log:\n{log}"))
}

/// What `token` carries: its narrowed permissions, `None` for a full token.
fn permissions_of(s: &Sandbox, token: &str) -> Option<Vec<(String, String)>> {
    s.ws.platform
        .checker()
        .grant_of(token)
        .unwrap_or_else(|| panic!("a token the platform never minted"))
        .and_then(|g| g.permissions)
}

#[test]
fn an_agent_narrowed_by_its_entrypoint_holds_the_narrowed_token_everywhere() {
    let s = Sandbox::new();
    let checker = s.ws.platform.checker();
    let git_check: ScopeCheck = Arc::new(move |t: &str, o: &str, r: &str, level: &str| {
        checker.allows(t, o, r, "contents", level)
    });
    s.github_git.set_scope_check(Some(git_check));
    let checker = s.ws.platform.checker();
    let api_check: mock_github::ScopeCheck =
        Arc::new(move |t, o, r, p, level| checker.allows(t, o, r, p, level));
    s.stack.github.set_scope_check(Some(api_check));

    // The reviewer: contents:read.
    let (log, err, bash_token) = start_agent(
        &s,
        "reviewer",
        &[("MOLECULE_TOKEN_PERMISSIONS", "contents:read")],
    );
    assert_eq!(status(&log, "clone"), "0", "{log}{err}");
    assert_ne!(status(&log, "push"), "0", "{log}{err}");
    assert!(err.contains("403"), "{err}");
    assert_eq!(status(&log, "read"), "0", "{log}{err}");
    assert_ne!(status(&log, "comment"), "0", "{log}{err}");
    let narrowed = Some(vec![("contents".to_string(), "read".to_string())]);
    assert_eq!(permissions_of(&s, &bash_token), narrowed, "bash -c");
    // Every token gh sent the API was a narrowed one.
    let tokens = s.ws.platform.tokens();
    let api = s
        .stack
        .github
        .requests_to(API_HOST, "/repos/molecule/workspace");
    assert!(!api.is_empty(), "{}", s.stack.github.describe());
    for request in s.stack.github.requests() {
        let tail = request.token_tail.clone().expect("a token");
        let token = tokens
            .iter()
            .find(|t| t.ends_with(&tail))
            .unwrap_or_else(|| panic!("{request:?}: not a token the platform minted"));
        assert_eq!(permissions_of(&s, token), narrowed, "{request:?}");
    }
    // git's push was refused for its scope, with a narrowed token.
    assert!(
        s.github_git
            .decisions()
            .iter()
            .any(|d| d.reason == crate::support::git_server::OUT_OF_SCOPE),
        "{:#?}",
        s.github_git.decisions()
    );
    s.ws.assert_no_secret_in(&err, "the agent's stderr");

    // The engineer, started the same way without the variable, pushes.
    let (log, err, bash_token) = start_agent(&s, "engineer", &[]);
    assert_eq!(status(&log, "push"), "0", "{log}{err}");
    assert_eq!(status(&log, "comment"), "0", "{log}{err}");
    assert_eq!(permissions_of(&s, &bash_token), None, "bash -c");
    assert!(Path::new(&s.ws.cache).is_dir());
}

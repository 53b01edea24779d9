//! `status`: passes and fails for what a person debugging a push meets.

use crate::support::*;

/// Run `status` (and `status --json`); neither may show a secret anywhere.
fn status(ws: &Workspace) -> (Out, serde_json::Value) {
    let out = ws.helper(&["status"], "");
    ws.assert_no_secret_in(&out.stdout, "stdout");
    let json = ws.helper(&["status", "--json"], "");
    ws.assert_no_secret_in(&json.stdout, "stdout");
    assert_eq!(json.code(), out.code(), "{json:?}");
    let value: serde_json::Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {json:?}"));
    (out, value)
}

fn private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The line for check `name`, e.g. `fail  platform  …`.
fn line<'a>(out: &'a Out, name: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no {name} line: {out:?}"))
}

fn mark(out: &Out, name: &str) -> String {
    line(out, name)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn json_status(value: &serde_json::Value, name: &str) -> String {
    value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {value}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn healthy() {
    let ws = Workspace::new();
    assert_eq!(ws.helper(&["configure"], "").code(), 0);
    private(&ws.configs.join(".auth_token"));
    let (out, json) = status(&ws);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr, "");
    for name in ["bearer", "token", "platform", "cache", "git"] {
        assert_eq!(mark(&out, name), "ok", "{name}: {out:?}");
        assert_eq!(json_status(&json, name), "ok");
    }
    assert_eq!(json["ok"], true);
    assert!(
        line(&out, "bearer").contains(".auth_token (mode 0600"),
        "{out:?}"
    );
    assert!(
        line(&out, "platform").contains("answered HTTP 200"),
        "{out:?}"
    );
    // The first status fetched and cached the token; the second found it.
    assert!(
        line(&out, "token").contains("min left, just fetched"),
        "{out:?}"
    );
    let token = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "token")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.contains("from the cache"), "{token}");
    // No colour codes when stdout is not a terminal.
    assert!(!out.stdout.contains('\x1b'), "{out:?}");
}

#[test]
fn bearer_missing() {
    let ws = Workspace::new();
    std::fs::remove_file(ws.configs.join(".auth_token")).unwrap();
    let (out, json) = status(&ws);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(mark(&out, "bearer"), "fail");
    assert!(
        line(&out, "bearer").contains(&format!(
            "{}: no such file",
            ws.configs.join(".auth_token").display()
        )),
        "{out:?}"
    );
    assert_eq!(json["ok"], false);
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn platform_down() {
    let mut ws = Workspace::new();
    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    private(&ws.configs.join(".auth_token"));
    let (out, json) = status(&ws);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(mark(&out, "bearer"), "ok", "{out:?}");
    assert_eq!(mark(&out, "platform"), "fail", "{out:?}");
    assert_eq!(mark(&out, "token"), "fail", "{out:?}");
    assert!(line(&out, "platform").contains("127.0.0.1"), "{out:?}");
    assert_eq!(json_status(&json, "platform"), "fail");
}

#[test]
fn platform_without_a_github_app() {
    let ws = Workspace::new();
    ws.platform.set_default(Reply::status(404));
    let (out, _) = status(&ws);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(mark(&out, "platform"), "fail", "{out:?}");
    assert!(
        line(&out, "platform").contains("no GitHub App configured (HTTP 404)"),
        "{out:?}"
    );
}

#[test]
fn a_cached_token_keeps_git_working_while_the_platform_is_down() {
    let ws = Workspace::new();
    assert_eq!(ws.helper(&["fetch-token"], "").code(), 0);
    ws.platform.set_default(Reply::status(500));
    let (out, _) = status(&ws);
    // The platform check fails, but the token git would get is fine.
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(mark(&out, "token"), "ok", "{out:?}");
    assert!(line(&out, "token").contains("from the cache"), "{out:?}");
    assert_eq!(mark(&out, "platform"), "fail", "{out:?}");
}

#[test]
fn warns_about_a_bearer_others_can_read_and_a_cache_open_to_others() {
    let ws = Workspace::new();
    use std::os::unix::fs::PermissionsExt;
    let bearer = ws.configs.join(".auth_token");
    std::fs::set_permissions(&bearer, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, _) = status(&ws);
    assert_eq!(out.code(), 0, "warnings alone leave 0: {out:?}");
    assert_eq!(mark(&out, "bearer"), "warn", "{out:?}");
    assert!(
        line(&out, "bearer").contains("readable by other users"),
        "{out:?}"
    );
    private(&bearer);
    std::fs::set_permissions(&ws.cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (out, _) = status(&ws);
    assert_eq!(out.code(), 0, "warnings alone leave 0: {out:?}");
    assert_eq!(mark(&out, "bearer"), "ok", "{out:?}");
    assert_eq!(mark(&out, "cache"), "warn", "{out:?}");
    assert!(line(&out, "cache").contains("expected 0700"), "{out:?}");
}

#[test]
fn git_config_problems_are_named() {
    let ws = Workspace::new();
    private(&ws.configs.join(".auth_token"));
    // Nothing configured.
    let (out, _) = status(&ws);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(mark(&out, "git"), "warn", "{out:?}");
    assert!(
        line(&out, "git").contains("no credential helper"),
        "{out:?}"
    );

    // Ours, then a storing helper that would keep the token.
    ws.configure_generic();
    let (out, _) = status(&ws);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(mark(&out, "git"), "warn", "{out:?}");
    assert!(
        line(&out, "git").contains("would store the short-lived token"),
        "{out:?}"
    );

    // Another helper first.
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = store --file={}\n\thelper = {BIN}\n",
        ws.fallback.display()
    ));
    let (out, _) = status(&ws);
    assert!(line(&out, "git").contains("answers first"), "{out:?}");

    // A configured path that an upgrade removed.
    ws.write_gitconfig(
        "[credential \"https://github.com/\"]\n\thelper =\n\thelper = /nonexistent/molecule-git-token-helper\n",
    );
    let (out, json) = status(&ws);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(mark(&out, "git"), "fail", "{out:?}");
    assert!(line(&out, "git").contains("does not exist"), "{out:?}");
    assert_eq!(json_status(&json, "git"), "fail");
}

/// A host served only because a variable names it in this shell: git, run
/// elsewhere without the variable, gets nothing for it. `status` says so
/// until configure writes the host into the helper's line.
#[test]
fn a_host_the_helper_line_does_not_name_is_a_warning() {
    let mut ws = Workspace::new();
    private(&ws.configs.join(".auth_token"));
    ws.set_env("MOLECULE_SECRET_HOSTS", "git.example.test=GITEA_TOKEN");
    ws.write_secret("GITEA_TOKEN", "gitea-token-0123456789\n");
    assert_eq!(ws.helper(&["configure"], "").code(), 0);
    let (out, _) = status(&ws);
    let gitea = out
        .stdout
        .lines()
        .find(|l| l.contains(" git ") && l.contains("git.example.test:"))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(gitea.starts_with("warn"), "{out:?}");
    assert!(
        gitea.contains("--secret-host git.example.test=NAME"),
        "{out:?}"
    );
    // github.com is the default: served whatever git's environment holds.
    let github = out
        .stdout
        .lines()
        .find(|l| l.contains(" git ") && l.contains("github.com:"))
        .unwrap();
    assert!(!github.contains("does not name"), "{out:?}");

    let out = ws.helper(&["unconfigure"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let out = ws.helper(
        &["configure", "--secret-host", "git.example.test=GITEA_TOKEN"],
        "",
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let (out, _) = status(&ws);
    assert!(!out.stdout.contains("does not name"), "{out:?}");
    assert!(!out.stdout.contains("but not"), "{out:?}");
}

// ---- secret hosts and --probe ------------------------------------------------

const GITEA: &str = "git.example.test";

/// A workspace serving git.example.test from the secret GITEA_TOKEN, which
/// holds `token`, with the mock Gitea as its API (`--api-url`).
fn gitea_workspace(token: &str) -> (Workspace, MockGitea) {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_SECRET_HOSTS", format!("{GITEA}=GITEA_TOKEN"));
    private(&ws.configs.join(".auth_token"));
    let secret_host = format!("{GITEA}=GITEA_TOKEN");
    let out = ws.helper(&["configure", "--secret-host", &secret_host], "");
    assert_eq!(out.code(), 0, "{out:?}");
    ws.write_secret("GITEA_TOKEN", &format!("{token}\n"));
    let gitea = MockGitea::start();
    gitea.add_repo("o/r");
    (ws, gitea)
}

fn gitea_token() -> String {
    format!("gitea{}", unique().replace('x', "0"))
}

/// `status --probe --probe-repo o/r` against the mock, as text and as JSON;
/// the token may appear in neither stdout nor stderr.
/// `status --probe --probe-repo REPO --api-url GITEA=API` (and `extra`),
/// with the token checked absent from stdout as from stderr. Only the Gitea
/// host is probed (github.com is the probe_github tests' business).
fn run_probe(ws: &Workspace, api: &str, repo: &str, extra: &[&str]) -> Out {
    let api = format!("{GITEA}={api}");
    let args = [
        "status",
        "--probe",
        "--probe-host",
        GITEA,
        "--probe-repo",
        repo,
        "--api-url",
        &api,
    ];
    let out = ws.helper(&[&args[..], extra].concat(), "");
    ws.assert_no_secret_in(&out.stdout, "stdout");
    out
}

fn probe(ws: &Workspace, gitea: &MockGitea) -> (Out, serde_json::Value) {
    let out = run_probe(ws, &gitea.api_url(), "o/r", &[]);
    let json = run_probe(ws, &gitea.api_url(), "o/r", &["--json"]);
    assert_eq!(json.code(), out.code(), "{json:?}");
    let value: serde_json::Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {json:?}"));
    (out, value)
}

/// The lines of check `name`, e.g. every `api` line.
fn lines<'a>(out: &'a Out, name: &str) -> Vec<&'a str> {
    out.stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(name))
        .collect()
}

/// The requests the mock Gitea saw: each with `Authorization: token T`, and
/// the paths (with queries) asked, in order.
fn gitea_targets(gitea: &MockGitea, token: &str) -> Vec<String> {
    gitea
        .requests()
        .iter()
        .map(|r| {
            assert_eq!(r.method, "GET");
            assert_eq!(
                r.header("authorization"),
                Some(format!("token {token}").as_str())
            );
            assert_eq!(r.header("accept"), Some("application/json"));
            r.target.clone()
        })
        .collect()
}

#[test]
fn probe_with_every_scope_is_ok() {
    let token = gitea_token();
    let (ws, gitea) = gitea_workspace(&token);
    gitea.add_token(&token, "agent-7", &["all"]);
    let (out, json) = probe(&ws, &gitea);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    let secret = line(&out, "secret");
    assert!(secret.starts_with("ok"), "{out:?}");
    assert!(
        secret.contains(&format!(
            "{GITEA}: {} (mode 0600,",
            ws.configs.join("secrets.d/GITEA_TOKEN").display()
        )),
        "{out:?}"
    );
    let api = lines(&out, "api");
    assert_eq!(api.len(), 2, "{out:?}");
    assert!(api[0].starts_with("ok"), "{out:?}");
    assert!(
        api[0].contains(&format!("{}/user answered HTTP 200", gitea.api_url()))
            && api[0].contains("the token is valid (user agent-7)"),
        "{out:?}"
    );
    assert_eq!(
        api[1],
        format!("ok    api       {GITEA}: o/r: open pull requests and issues listed")
    );
    assert_eq!(json["ok"], true);
    // Both runs asked the same three things, with the token as Gitea wants it.
    let asked = [
        "/api/v1/user",
        "/api/v1/repos/o/r/pulls?state=open&limit=1",
        "/api/v1/repos/o/r/issues?state=open&limit=1",
    ];
    assert_eq!(gitea_targets(&gitea, &token), [asked, asked].concat());
    // The token went to the Gitea API only, never to the platform.
    for request in ws.platform.requests() {
        assert!(!format!("{request:?}").contains(&token), "{request:?}");
    }
    // The secret host is in git's helper list too.
    assert!(
        lines(&out, "git")
            .iter()
            .any(|l| l.starts_with("ok") && l.contains(&format!("{GITEA}: this helper"))),
        "{out:?}"
    );
}

#[test]
fn probe_of_a_token_without_read_issue_warns_and_names_the_scope() {
    let token = gitea_token();
    let (ws, gitea) = gitea_workspace(&token);
    gitea.add_token(&token, "agent-7", &["read:user", "write:repository"]);
    let (out, json) = probe(&ws, &gitea);
    assert_eq!(out.code(), 0, "warnings alone leave 0: {out:?}");
    let api = lines(&out, "api");
    assert!(api[0].starts_with("ok"), "{out:?}");
    assert_eq!(
        api[1],
        format!(
            "warn  api       {GITEA}: o/r: issues refused (HTTP 403) while pull requests are \
             listed: the token lacks the read:issue scope; issue a new token with read:issue, \
             update the workspace secret GITEA_TOKEN, and restart the workspace"
        ),
        "{out:?}"
    );
    assert_eq!(json["ok"], true);
    let statuses: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "api")
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "warn"]);
}

#[test]
fn probe_of_an_unknown_token_fails() {
    let token = gitea_token();
    let (ws, gitea) = gitea_workspace(&token);
    gitea.add_token("some-other-token", "agent-7", &["all"]);
    let (out, json) = probe(&ws, &gitea);
    assert_eq!(out.code(), 1, "{out:?}");
    let api = lines(&out, "api");
    assert!(api[0].starts_with("fail"), "{out:?}");
    assert!(
        api[0].contains("/user answered HTTP 401: the token is not valid")
            && api[0].contains("update the workspace secret GITEA_TOKEN"),
        "{out:?}"
    );
    // Asking about repositories with a dead token tells nothing more.
    assert!(
        api[1].starts_with("skip") && api[1].contains("o/r not probed"),
        "{out:?}"
    );
    assert_eq!(gitea.count(), 2, "only /user, once per run");
    assert_eq!(json["ok"], false);
}

#[test]
fn without_probe_the_secret_file_is_checked_and_the_api_is_not_asked() {
    let token = gitea_token();
    let (ws, gitea) = gitea_workspace(&token);
    gitea.add_token(&token, "agent-7", &["all"]);
    let (out, _) = status(&ws);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(mark(&out, "secret"), "ok", "{out:?}");
    assert_eq!(mark(&out, "api"), "skip", "{out:?}");
    assert!(line(&out, "api").contains("status --probe"), "{out:?}");
    assert_eq!(gitea.count(), 0);

    // Readable by others: a warning, exit 0.
    use std::os::unix::fs::PermissionsExt;
    let path = ws.configs.join("secrets.d/GITEA_TOKEN");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, _) = status(&ws);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(mark(&out, "secret"), "warn", "{out:?}");
    assert!(line(&out, "secret").contains("mode 0644"), "{out:?}");
    assert!(
        line(&out, "secret").contains("readable by other users"),
        "{out:?}"
    );

    // Missing: a failure naming the path; the probe has nothing to ask with.
    std::fs::remove_file(&path).unwrap();
    let (out, json) = probe(&ws, &gitea);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(mark(&out, "secret"), "fail", "{out:?}");
    assert!(
        line(&out, "secret").contains(&format!("{}: no such file", path.display())),
        "{out:?}"
    );
    assert_eq!(mark(&out, "api"), "skip", "{out:?}");
    assert_eq!(json_status(&json, "secret"), "fail");
    assert_eq!(gitea.count(), 0);
}

#[test]
fn probes_give_up_at_the_deadline() {
    let token = gitea_token();
    let (mut ws, _gitea) = gitea_workspace(&token);
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "1");
    // Accepts connections (the kernel does) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}/api/v1", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let out = run_probe(&ws, &api, "o/r", &[]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{out:?}"
    );
    assert_eq!(out.code(), 1, "{out:?}");
    let api_lines = lines(&out, "api");
    assert!(
        api_lines[0].starts_with("fail")
            && api_lines[0].contains("did not answer within the 1 s deadline"),
        "{out:?}"
    );
    ws.assert_no_secret_in(&out.stdout, "stdout");
}

#[test]
fn probe_usage() {
    let ws = Workspace::new();
    // No secret host: nothing to probe, said once (github.com's API is a
    // dead local port here: no test goes out to the network).
    let dead = format!("github.com=http://127.0.0.1:{}", dead_port());
    let out = ws.helper(&["status", "--probe", "--api-url", &dead], "");
    assert_eq!(mark(&out, "api"), "skip", "{out:?}");
    assert!(line(&out, "api").contains("no secret host"), "{out:?}");
    // --api-url must name a secret host.
    let out = ws.helper(
        &[
            "status",
            "--probe",
            "--api-url",
            "gitea.example=http://127.0.0.1:9/api/v1",
        ],
        "",
    );
    assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
    out.assert_one_error("--api-url names gitea.example, which is not served");
    // So must --probe-host; --git-url names a platform host.
    let out = ws.helper(&["status", "--probe", "--probe-host", "gitea.example"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
    out.assert_one_error("--probe-host names gitea.example, which is not served");
    // Repositories are for probing, and are OWNER/REPO.
    let out = ws.helper(&["status", "--probe-repo", "o/r"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
    let out = ws.helper(&["status", "--probe", "--probe-repo", "o/r/../x"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
}

#[test]
fn probes_use_no_proxy() {
    let token = gitea_token();
    let (mut ws, gitea) = gitea_workspace(&token);
    gitea.add_token(&token, "agent-7", &["all"]);
    let proxy = MockGitea::start();
    ws.set_proxies(&proxy.url());
    let out = run_probe(&ws, &gitea.api_url(), "o/r", &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    ws.assert_no_secret_in(&out.stdout, "stdout");
    assert_eq!(proxy.count(), 0, "{:?}", proxy.requests());
    assert_eq!(gitea.count(), 3);
}

#[test]
fn probes_follow_no_redirect() {
    let token = gitea_token();
    let (ws, gitea) = gitea_workspace(&token);
    gitea.add_token(&token, "agent-7", &["all"]);
    gitea.rename_repo("o/old", "o/new");
    let out = run_probe(&ws, &gitea.api_url(), "o/old", &[]);
    assert_eq!(out.code(), 1, "{out:?}");
    ws.assert_no_secret_in(&out.stdout, "stdout");
    let api_lines = lines(&out, "api");
    assert!(
        api_lines[1].starts_with("fail")
            && api_lines[1]
                .contains("o/old: pull requests: a redirect (HTTP 307), which is not followed"),
        "{out:?}"
    );
    // /user, then pulls and issues of the old name; nothing of the new one.
    assert_eq!(
        gitea_targets(&gitea, &token),
        [
            "/api/v1/user",
            "/api/v1/repos/o/old/pulls?state=open&limit=1",
            "/api/v1/repos/o/old/issues?state=open&limit=1",
        ]
    );
}

#[test]
fn a_repositorys_own_helper_that_configure_did_not_wrap_is_named() {
    let ws = Workspace::new();
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    assert_eq!(ws.helper(&["configure"], "").code(), 0);
    private(&ws.configs.join(".auth_token"));
    let repo = ws.path().join("repo");
    let init = ws.git(&["init", "-q", repo.to_str().unwrap()], "");
    assert_eq!(init.code(), 0, "{init:?}");
    // Outside the repository: the global store is wrapped, nothing to say.
    let (out, _) = status(&ws);
    assert_eq!(mark(&out, "git"), "ok", "{out:?}");
    // The repository's own helper runs after ours, unwrapped: it gets paths.
    let mut c = ws.command("git");
    c.current_dir(&repo)
        .args(["config", "credential.helper", "cache --timeout=60"]);
    assert_eq!(ws.run(c, "").code(), 0);
    let mut c = ws.command(BIN);
    c.current_dir(&repo).arg("status");
    let out = ws.run(c, "");
    assert_eq!(mark(&out, "git"), "warn", "{out:?}");
    let git = line(&out, "git");
    assert!(
        git.contains("cache --timeout=60 [") && git.contains("is not wrapped by configure"),
        "{out:?}"
    );
    assert!(git.contains("useHttpPath"), "{out:?}");
    // One sentence, not the source's indentation.
    assert!(
        git.contains("repository's path (useHttpPath, so"),
        "{out:?}"
    );
}

#[test]
fn after_unconfigure_a_helper_that_gets_no_path_is_not_said_to_get_one() {
    // unconfigure takes useHttpPath away with our section: git sends no
    // path, so the user's own helper is no longer "not wrapped" for it.
    let ws = Workspace::new();
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    private(&ws.configs.join(".auth_token"));
    assert_eq!(ws.helper(&["configure"], "").code(), 0);
    assert_eq!(ws.helper(&["unconfigure"], "").code(), 0);
    let (out, _) = status(&ws);
    let git = line(&out, "git");
    assert!(git.contains("this helper is not configured"), "{out:?}");
    assert!(!git.contains("not wrapped by configure"), "{out:?}");
    // A useHttpPath of the user's own makes git send the path again.
    let mut c = ws.command("git");
    c.args([
        "config",
        "--global",
        "credential.https://github.com.useHttpPath",
        "true",
    ]);
    assert_eq!(ws.run(c, "").code(), 0);
    let (out, _) = status(&ws);
    assert!(
        line(&out, "git").contains("not wrapped by configure"),
        "{out:?}"
    );
}

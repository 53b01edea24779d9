//! `status`: passes and fails for what a person debugging a push meets.

mod support;

use support::*;

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

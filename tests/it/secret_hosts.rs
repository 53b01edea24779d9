//! Secret-backed hosts (`--secret-host HOST=NAME`, `MOLECULE_SECRET_HOSTS`)
//! through the real git: the Gitea host is served from
//! `$CONFIGS_DIR/secrets.d/NAME` and never from the platform, GitHub still
//! from the platform, and a missing secret lets git fall through to the
//! operator's fallback.

use crate::support::*;

const GITEA: &str = "git.example.test";
const SECRETS: &str = "git.example.test=GITEA_TOKEN";

/// A Gitea-shaped token made at run time (40 hex characters in real life).
fn gitea_token() -> String {
    format!("gitea{}", unique().replace('x', "0"))
}

/// A workspace serving git.example.test from the secret GITEA_TOKEN (set
/// through the environment), with the store fallback holding the
/// operator's PAT for both hosts, configured with the real `configure`.
fn workspace() -> (Workspace, String) {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_SECRET_HOSTS", SECRETS);
    std::fs::write(
        &ws.fallback,
        format!(
            "https://{FALLBACK_USER}:{FALLBACK_PAT}@github.com\n\
             https://{FALLBACK_USER}:{FALLBACK_PAT}@{GITEA}\n"
        ),
    )
    .unwrap();
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    let out = ws.helper(&["configure"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    let token = gitea_token();
    ws.write_secret("GITEA_TOKEN", &format!("  {token}\n"));
    (ws, token)
}

fn assert_secret(out: &Out, username: &str, token: &str) {
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.attr("username").as_deref(), Some(username), "{out:?}");
    assert_eq!(out.attr("password").as_deref(), Some(token), "{out:?}");
    assert_eq!(out.attr("password_expiry_utc"), None, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
}

#[test]
fn the_secret_host_gets_the_secret_and_the_platform_is_not_asked() {
    let (ws, token) = workspace();
    let out = ws.fill(&format!("https://{GITEA}/o/r.git"));
    assert_secret(&out, "x-access-token", &token);
    // The username in the remote URL is kept.
    let out = ws.fill(&format!("https://alice@{GITEA}/o/r.git"));
    assert_secret(&out, "alice", &token);
    // Case-insensitive, as git's hosts are.
    let out = ws.git(
        &["credential", "fill"],
        "protocol=https\nhost=Git.Example.TEST\n\n",
    );
    assert_secret(&out, "x-access-token", &token);
    assert_eq!(ws.platform.count(), 0, "{:?}", ws.platform.requests());
    // The secret is never cached: the cache directory holds nothing but the
    // journal of the three serves (which holds no secret: support's Drop).
    let names: Vec<String> = std::fs::read_dir(&ws.cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["journal.jsonl"], "the cache was touched");
    let journal = std::fs::read_to_string(ws.cache.join("journal.jsonl")).unwrap();
    assert_eq!(
        journal.matches("\"source\":\"secret\"").count(),
        3,
        "{journal}"
    );

    // GitHub still gets the platform's token.
    let out = ws.fill("https://github.com/org/repo.git");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.attr("username").as_deref(), Some("x-access-token"));
    assert_eq!(out.attr("password"), ws.platform.last_token(), "{out:?}");
    assert_eq!(
        out.attr("password_expiry_utc").is_some(),
        git_passes_expiry(),
        "{out:?}"
    );
    assert_eq!(ws.platform.count(), 1);
    // The platform never saw the Gitea token, and the cache holds only GitHub's.
    for request in ws.platform.requests() {
        assert!(
            !format!("{request:?}").contains(&token),
            "the Gitea token went to the platform"
        );
    }
    let cached = std::fs::read_to_string(ws.cache_entry()).unwrap();
    assert!(!cached.contains(&token), "the Gitea token was cached");
}

#[test]
fn other_protocols_and_ports_of_the_secret_host_are_not_served() {
    let (ws, _token) = workspace();
    std::fs::write(
        &ws.fallback,
        format!(
            "http://{FALLBACK_USER}:{FALLBACK_PAT}@{GITEA}\n\
             https://{FALLBACK_USER}:{FALLBACK_PAT}@{GITEA}:3000\n"
        ),
    )
    .unwrap();
    // http: our section is for https only, so the store answers directly.
    let out = ws.fill(&format!("http://{GITEA}/o/r.git"));
    assert_eq!(
        out.attr("password").as_deref(),
        Some(FALLBACK_PAT),
        "{out:?}"
    );
    // Another port is another host: the helper answers nothing.
    let out = ws.git(
        &["credential", "fill"],
        &format!("protocol=https\nhost={GITEA}:3000\n\n"),
    );
    assert_eq!(
        out.attr("password").as_deref(),
        Some(FALLBACK_PAT),
        "{out:?}"
    );
    let direct = ws.helper(&["get"], &format!("protocol=https\nhost={GITEA}:3000\n\n"));
    assert_eq!(
        (direct.code(), direct.stdout.as_str()),
        (0, ""),
        "{direct:?}"
    );
    assert_eq!(ws.platform.count(), 0);
}

/// git falls through to the operator's PAT, and the helper says why in one
/// line that names the secret's path.
fn assert_falls_through(ws: &Workspace, needle: &str) {
    let out = ws.fill(&format!("https://{GITEA}/o/r.git"));
    out.assert_fallback();
    let path = ws.configs.join("secrets.d/GITEA_TOKEN");
    out.assert_one_error(&path.display().to_string());
    out.assert_one_error(needle);
    assert_eq!(ws.platform.count(), 0, "{:?}", ws.platform.requests());
}

#[test]
fn a_missing_secret_falls_through_to_the_fallback() {
    let (ws, _token) = workspace();
    std::fs::remove_file(ws.configs.join("secrets.d/GITEA_TOKEN")).unwrap();
    assert_falls_through(&ws, "no such file or directory");
}

#[test]
fn an_empty_unusable_or_unreadable_secret_falls_through() {
    let (ws, _token) = workspace();
    ws.write_secret("GITEA_TOKEN", " \n");
    assert_falls_through(&ws, "is empty");

    // A secret that would inject a line into git's answer.
    let injected = format!("{}\nusername=mallory", gitea_token());
    ws.write_secret("GITEA_TOKEN", &injected);
    assert_falls_through(&ws, "is not usable");

    let path = ws.configs.join("secrets.d/GITEA_TOKEN");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert_falls_through(&ws, "is a directory");
}

#[test]
fn fetch_token_prints_the_secret_for_the_secret_host() {
    let (ws, token) = workspace();
    let out = ws.helper(&["fetch-token", GITEA], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    assert_eq!(out.stdout, format!("{token}\n"));
    let out = ws.helper(&["fetch-token", "--json", "GIT.example.test"], "");
    assert_eq!(
        out.stdout,
        format!("{{\"token\":\"{token}\",\"expires_at\":null}}\n")
    );
    assert_eq!(ws.platform.count(), 0);

    // The platform's hosts still get the platform's token.
    let out = ws.helper(&["fetch-token", "github.com"], "");
    assert_eq!(
        out.stdout,
        format!("{}\n", ws.platform.last_token().unwrap())
    );
    let out = ws.helper(&["fetch-token"], "");
    assert_eq!(
        out.stdout,
        format!("{}\n", ws.platform.last_token().unwrap())
    );

    // A missing secret: nothing on stdout, one line naming the path.
    let path = ws.configs.join("secrets.d/GITEA_TOKEN");
    std::fs::remove_file(&path).unwrap();
    let out = ws.helper(&["fetch-token", GITEA], "");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error(&path.display().to_string());

    // Neither kind of host: the message names both settings.
    let out = ws.helper(&["fetch-token", "gitlab.com"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error("gitlab.com is not a served host");
    assert!(out.stderr.contains("MOLECULE_SECRET_HOSTS"), "{out:?}");
}

#[test]
fn erase_of_the_secret_touches_nothing() {
    let (ws, token) = workspace();
    let request =
        format!("protocol=https\nhost={GITEA}\nusername=x-access-token\npassword={token}\n\n");
    let out = ws.git(&["credential", "reject"], &request);
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    assert!(!ws.cache.exists(), "the cache was touched");
    // The secret is the platform's to replace: it is still served.
    assert_secret(
        &ws.fill(&format!("https://{GITEA}")),
        "x-access-token",
        &token,
    );
}

#[test]
fn configure_writes_a_secret_host_flag_into_the_helper_line() {
    let ws = Workspace::new();
    let out = ws.helper(
        &["configure", "--secret-host", "Git.Example.Test=GITEA_TOKEN"],
        "",
    );
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    let ours = std::fs::canonicalize(BIN).unwrap();
    let line = format!("{} --secret-host {SECRETS}", ours.display());
    let config = std::fs::read_to_string(&ws.gitconfig).unwrap();
    for host in ["github.com", GITEA] {
        let section = format!("[credential \"https://{host}/\"]\n\thelper = \n\thelper = {line}\n");
        assert!(
            config.contains(&section),
            "no section for {host}:\n{config}"
        );
    }
    // git runs that line without the variable, and gets the secret.
    let token = gitea_token();
    ws.write_secret("GITEA_TOKEN", &token);
    assert_secret(
        &ws.fill(&format!("https://{GITEA}/o/r.git")),
        "x-access-token",
        &token,
    );
    assert_eq!(ws.platform.count(), 0);

    // Running it again changes nothing; unconfigure --secret-host removes that host only.
    let out = ws.helper(&["configure", "--secret-host", SECRETS], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(std::fs::read_to_string(&ws.gitconfig).unwrap(), config);
    let out = ws.helper(&["unconfigure", "--secret-host", SECRETS], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    let config = std::fs::read_to_string(&ws.gitconfig).unwrap();
    assert!(
        !config.contains(&format!("[credential \"https://{GITEA}/\"]")),
        "{config}"
    );
    assert!(
        config.contains("[credential \"https://github.com/\"]"),
        "{config}"
    );
}

#[test]
fn a_host_named_both_ways_is_a_usage_error() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_SECRET_HOSTS", SECRETS);
    ws.set_env("MOLECULE_GIT_HOSTS", format!("github.com,{GITEA}"));
    let request = format!("protocol=https\nhost={GITEA}\n\n");
    let out = ws.helper(&["get"], &request);
    assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
    out.assert_one_error("MOLECULE_SECRET_HOSTS");
    out.assert_one_error("MOLECULE_GIT_HOSTS");
    assert_eq!(ws.platform.count(), 0);

    // An invalid NAME names the variable too.
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_SECRET_HOSTS", format!("{GITEA}=../.auth_token"));
    let out = ws.helper(&["get"], &request);
    assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
    out.assert_one_error("invalid value '");
    out.assert_one_error("for MOLECULE_SECRET_HOSTS");
}

/// What git does after a successful push: `approve` the credential that
/// worked, which reaches the `store` of every helper in the list.
fn approve(ws: &Workspace, filled: &Out) {
    let out = ws.git(&["credential", "approve"], &filled.stdout);
    assert_eq!(out.code(), 0, "{out:?}");
}

#[test]
fn the_secret_is_kept_out_of_a_storing_fallback() {
    // Secret hosts from the environment: the wrapper sees them too.
    let (ws, token) = workspace();
    let before = std::fs::read_to_string(&ws.fallback).unwrap();
    for url in [
        format!("https://{GITEA}/o/r.git"),
        format!("https://alice@{GITEA}/o/r.git"),
    ] {
        let filled = ws.fill(&url);
        assert_eq!(filled.attr("password").as_deref(), Some(token.as_str()));
        approve(&ws, &filled);
    }
    assert_eq!(std::fs::read_to_string(&ws.fallback).unwrap(), before);

    // Secret hosts given to configure as a flag: frozen into the wrappers.
    let ws = Workspace::new();
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    let out = ws.helper(&["configure", "--secret-host", SECRETS], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    let token = gitea_token();
    ws.write_secret("GITEA_TOKEN", &token);
    let before = std::fs::read_to_string(&ws.fallback).unwrap();
    let filled = ws.fill(&format!("https://alice@{GITEA}/o/r.git"));
    assert_eq!(filled.attr("password").as_deref(), Some(token.as_str()));
    approve(&ws, &filled);
    assert_eq!(std::fs::read_to_string(&ws.fallback).unwrap(), before);

    // Any other credential for that host still reaches the store.
    let other = format!("protocol=https\nhost={GITEA}\nusername=bob\npassword=bobs-pat-42\n\n");
    let out = ws.git(&["credential", "approve"], &other);
    assert_eq!(out.code(), 0, "{out:?}");
    let after = std::fs::read_to_string(&ws.fallback).unwrap();
    assert!(
        after.contains("bob:bobs-pat-42@git.example.test"),
        "{after}"
    );
}

//! `configure`, `unconfigure` and the hidden `fallback` wrapper, with the
//! real binary and the real git: a table of starting configs (as GCM tests
//! its configure), then what git does with the result.

use std::path::{Path, PathBuf};

use crate::support::*;

/// The path configure writes: this binary, canonical (it is not on PATH).
fn ours() -> String {
    std::fs::canonicalize(BIN)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

/// A kept fallback as configure writes it (for values without a quote):
/// quoted unless every character is one the shell leaves alone.
fn fb(value: &str) -> String {
    let bare = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if bare {
        format!("{} fallback -- {value}", ours())
    } else {
        format!("{} fallback -- '{value}'", ours())
    }
}

/// Our section for platform host `host` with the given lines after the
/// reset line, and useHttpPath (git sends the path: the owner).
fn block(host: &str, lines: &[&str]) -> String {
    let mut text = format!("[credential \"https://{host}/\"]\n\thelper = \n");
    for line in lines {
        text.push_str(&format!("\thelper = {line}\n"));
    }
    text.push_str("\tuseHttpPath = true\n");
    text
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Success, quietly: nothing on stderr, and on stdout only the one line per
/// section that configure wrote or unconfigure removed.
fn ok(out: &Out) {
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    for line in out.stdout.lines() {
        assert!(
            line.starts_with("configured https://") || line.starts_with("removed https://"),
            "{out:?}"
        );
    }
}

fn lock_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", path.display()))
}

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    start: String,
    configured: String,
    /// What unconfigure leaves; the start when `None`.
    unconfigured: Option<String>,
}

fn cases(ws: &Workspace) -> Vec<Case> {
    let f = ws.fallback.display().to_string();
    let store = format!("store --file={f}");
    let o = ours();
    let inc = ws.path().join("included");
    std::fs::write(&inc, "[credential]\n\thelper = cache --timeout=60\n").unwrap();
    vec![
        Case {
            name: "no helper",
            args: &[],
            start: String::new(),
            configured: block("github.com", &[&o]),
            unconfigured: None,
        },
        Case {
            name: "other settings, no helper",
            args: &[],
            start: "[user]\n\tname = Op\n".into(),
            configured: format!("[user]\n\tname = Op\n{}", block("github.com", &[&o])),
            unconfigured: None,
        },
        Case {
            name: "a generic helper before",
            args: &[],
            start: format!("[credential]\n\thelper = {store}\n"),
            configured: format!(
                "[credential]\n\thelper = {store}\n{}",
                block("github.com", &[&o, &fb(&store)])
            ),
            unconfigured: None,
        },
        Case {
            name: "a host section with a username, then a generic helper after it",
            args: &[],
            start: format!(
                "[credential \"https://github.com\"]\n\tusername = operator\n\
                 [credential]\n\thelper = {store}\n"
            ),
            configured: format!(
                "[credential \"https://github.com\"]\n\tusername = operator\n\
                 [credential]\n\thelper = {store}\n{}",
                block("github.com", &[&o, &fb(&store)])
            ),
            unconfigured: None,
        },
        Case {
            name: "gh's setup-git lines, a generic helper after them",
            args: &[],
            start: format!(
                "[credential \"https://github.com\"]\n\thelper = \n\thelper = !gh auth git-credential\n\
                 [credential]\n\thelper = {store}\n"
            ),
            configured: format!(
                "[credential \"https://github.com\"]\n\thelper = \n\thelper = !gh auth git-credential\n\
                 [credential]\n\thelper = {store}\n{}",
                block(
                    "github.com",
                    &[&o, &fb("!gh auth git-credential"), &fb(&store)]
                )
            ),
            unconfigured: None,
        },
        Case {
            name: "an earlier reset line drops what came before it",
            args: &[],
            start: format!(
                "[credential]\n\thelper = cache\n\
                 [credential \"https://github.com\"]\n\thelper = \n\thelper = {store}\n"
            ),
            configured: format!(
                "[credential]\n\thelper = cache\n\
                 [credential \"https://github.com\"]\n\thelper = \n\thelper = {store}\n{}",
                block("github.com", &[&o, &fb(&store)])
            ),
            unconfigured: None,
        },
        Case {
            name: "helpers for other hosts and protocols are not kept",
            args: &[],
            start: "[credential \"https://gitlab.com\"]\n\thelper = cache\n\
                    [credential \"http://github.com\"]\n\thelper = cache\n"
                .into(),
            configured: format!(
                "[credential \"https://gitlab.com\"]\n\thelper = cache\n\
                 [credential \"http://github.com\"]\n\thelper = cache\n{}",
                block("github.com", &[&o])
            ),
            unconfigured: None,
        },
        Case {
            name: "our own hand-written lines already there",
            args: &[],
            start: format!(
                "[credential]\n\thelper = {store}\n\
                 [credential \"https://github.com\"]\n\thelper = \n\thelper = {o}\n\thelper = {store}\n"
            ),
            configured: format!(
                "[credential]\n\thelper = {store}\n\
                 [credential \"https://github.com\"]\n\thelper = \n\thelper = {o}\n\thelper = {store}\n{}",
                block("github.com", &[&o, &fb(&store)])
            ),
            unconfigured: None,
        },
        Case {
            name: "an earlier configure with another path and flags",
            args: &[],
            start: format!(
                "[credential]\n\thelper = {store}\n{}",
                block(
                    "github.com",
                    &[
                        "/old/bin/molecule-git-token-helper --timeout 3",
                        &format!("/old/bin/molecule-git-token-helper fallback -- '{store}'"),
                    ]
                )
            ),
            configured: format!(
                "[credential]\n\thelper = {store}\n{}",
                block("github.com", &[&o, &fb(&store)])
            ),
            unconfigured: Some(format!("[credential]\n\thelper = {store}\n")),
        },
        Case {
            name: "a helper appended after our block",
            args: &[],
            start: format!(
                "{}[credential]\n\thelper = cache --timeout=5\n",
                block("github.com", &[&o])
            ),
            configured: format!(
                "[credential]\n\thelper = cache --timeout=5\n{}",
                block("github.com", &[&o, &fb("cache --timeout=5")])
            ),
            unconfigured: Some("[credential]\n\thelper = cache --timeout=5\n".into()),
        },
        Case {
            name: "two hosts",
            args: &["--host", "github.com", "--host", "GHE.example:8443"],
            start: format!("[credential]\n\thelper = {store}\n"),
            configured: format!(
                "[credential]\n\thelper = {store}\n{}{}",
                block(
                    "github.com",
                    &[
                        &format!("{o} --host github.com --host ghe.example:8443"),
                        &fb(&store)
                    ]
                ),
                block(
                    "ghe.example:8443",
                    &[
                        &format!("{o} --host github.com --host ghe.example:8443"),
                        &fb(&store)
                    ]
                )
            ),
            unconfigured: None,
        },
        Case {
            name: "a helper from an included file",
            args: &[],
            start: format!("[include]\n\tpath = {}\n", inc.display()),
            configured: format!(
                "[include]\n\tpath = {}\n{}",
                inc.display(),
                block("github.com", &[&o, &fb("cache --timeout=60")])
            ),
            unconfigured: None,
        },
        Case {
            name: "comments, and a comment last",
            args: &[],
            start: format!("# entrypoint\n[credential]\n\thelper = {store} # PAT\n; the end\n"),
            configured: format!(
                "# entrypoint\n[credential]\n\thelper = {store} # PAT\n; the end\n{}",
                block("github.com", &[&o, &fb(&store)])
            ),
            unconfigured: None,
        },
    ]
}

#[test]
fn configure_and_unconfigure_on_a_table_of_starting_configs() {
    let ws = Workspace::new();
    for case in cases(&ws) {
        let name = case.name;
        ws.write_gitconfig(&case.start);
        let args: Vec<&str> = ["configure"].iter().chain(case.args).copied().collect();
        ok(&ws.helper(&args, ""));
        assert_eq!(read(&ws.gitconfig), case.configured, "configure: {name}");

        let before = std::fs::metadata(&ws.gitconfig)
            .unwrap()
            .modified()
            .unwrap();
        ok(&ws.helper(&args, ""));
        assert_eq!(
            read(&ws.gitconfig),
            case.configured,
            "configure again: {name}"
        );
        let after = std::fs::metadata(&ws.gitconfig)
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after, "configure again rewrote the file: {name}");

        ok(&ws.helper(&["unconfigure"], ""));
        let expected = case.unconfigured.as_ref().unwrap_or(&case.start);
        assert_eq!(&read(&ws.gitconfig), expected, "unconfigure: {name}");
        ok(&ws.helper(&["unconfigure"], ""));
        assert_eq!(&read(&ws.gitconfig), expected, "unconfigure again: {name}");
        assert!(!lock_of(&ws.gitconfig).exists(), "{name}");
    }
}

#[test]
fn configure_twice_leaves_one_entry_per_host() {
    let ws = Workspace::new();
    ws.write_gitconfig("[credential]\n\thelper = store\n");
    for _ in 0..2 {
        ok(&ws.helper(
            &["configure", "--host", "github.com", "--host", "ghe.example"],
            "",
        ));
    }
    for host in ["github.com", "ghe.example"] {
        let key = format!("credential.https://{host}/.helper");
        let out = ws.git(&["config", "--global", "--get-all", &key], "");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{host}: {lines:?}");
        assert_eq!(lines[0], "");
        assert!(lines[1].starts_with(&ours()) && !lines[1].contains("fallback"));
        assert_eq!(lines[2], fb("store"));
    }
}

#[test]
fn configure_and_unconfigure_say_what_they_changed_and_nothing_else() {
    let ws = Workspace::new();
    let file = ws.path().join("gitconfig");
    let args = ["--host", "github.com", "--host", "ghe.example"];
    let run = |action: &str| {
        let out = ws.helper(&[&[action][..], &args[..]].concat(), "");
        ok(&out);
        out.stdout
    };
    assert_eq!(
        run("configure"),
        format!(
            "configured https://github.com/ in {f}\nconfigured https://ghe.example/ in {f}\n",
            f = file.display()
        )
    );
    assert_eq!(run("configure"), "", "nothing changed, nothing said");
    assert_eq!(
        run("unconfigure"),
        format!(
            "removed https://github.com/ from {f}\nremoved https://ghe.example/ from {f}\n",
            f = file.display()
        )
    );
    assert_eq!(run("unconfigure"), "", "nothing left, nothing said");
}

/// The operator's PAT in `~/.git-credentials`, git's `store` default.
fn home_store(ws: &Workspace) -> PathBuf {
    let file = ws.home.join(".git-credentials");
    std::fs::copy(&ws.fallback, &file).unwrap();
    file
}

fn platform_down(ws: &mut Workspace) {
    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
}

fn assert_platform_token(ws: &Workspace, out: &Out) {
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        out.attr("username").as_deref(),
        Some("x-access-token"),
        "{out:?}"
    );
    assert_eq!(out.attr("password"), ws.platform.last_token(), "{out:?}");
    assert_eq!(
        out.attr("password_expiry_utc").is_some(),
        git_passes_expiry(),
        "{out:?}"
    );
}

#[test]
fn a_generic_store_configured_before_becomes_the_fallback_and_comes_back_on_unconfigure() {
    let mut ws = Workspace::new();
    ws.add_secret(FALLBACK_PAT);
    let _store = home_store(&ws);
    let start = "[credential]\n\thelper = store\n";
    ws.write_gitconfig(start);
    // Before: the generic store answers first; the platform is never asked.
    ws.fill("https://github.com/org/repo.git").assert_fallback();
    assert_eq!(ws.platform.count(), 0);

    ok(&ws.helper(&["configure"], ""));
    ok(&ws.helper(&["configure"], ""));
    let out = ws.fill("https://github.com/org/repo.git");
    assert_platform_token(&ws, &out);
    assert_eq!(ws.platform.count(), 1);
    // Other hosts still get the store, unwrapped and untouched.
    std::fs::write(
        ws.home.join(".git-credentials"),
        format!("https://{FALLBACK_USER}:{FALLBACK_PAT}@gitlab.com\n"),
    )
    .unwrap();
    ws.fill("https://gitlab.com/org/repo.git").assert_fallback();
    home_store(&ws);

    platform_down(&mut ws);
    let out = ws.fill("https://github.com/org/repo.git");
    out.assert_fallback();
    out.assert_one_error("cannot connect to the platform");

    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), start);
}

/// Git's `approve` after a fill is what a successful push does.
fn approve(ws: &Workspace, filled: &Out) -> Out {
    let out = ws.git(&["credential", "approve"], &format!("{}\n", filled.stdout));
    assert_eq!(out.code(), 0, "{out:?}");
    out
}

#[test]
fn approve_after_fill_leaves_no_installation_token_in_the_fallback_store() {
    let mut ws = Workspace::new();
    ws.add_secret(FALLBACK_PAT);
    let store_before = read(&ws.fallback);
    let start = format!(
        "[credential]\n\thelper = store --file={}\n",
        ws.fallback.display()
    );
    ws.write_gitconfig(&start);
    ok(&ws.helper(&["configure"], ""));

    let filled = ws.fill("https://github.com/org/repo.git");
    assert_platform_token(&ws, &filled);
    approve(&ws, &filled);
    assert_eq!(read(&ws.fallback), store_before);
    // The same without password_expiry_utc (a token served without expiry).
    let no_expiry: String = filled
        .stdout
        .lines()
        .filter(|l| !l.starts_with("password_expiry_utc="))
        .map(|l| format!("{l}\n"))
        .collect();
    ws.git(&["credential", "approve"], &format!("{no_expiry}\n"));
    assert_eq!(read(&ws.fallback), store_before);
    // A rejected token's erase reaches the store, which erases only an
    // entry with that very password (git >= 2.41): the PAT stays.
    ws.git(&["credential", "reject"], &format!("{}\n", filled.stdout));
    assert_eq!(read(&ws.fallback), store_before);

    platform_down(&mut ws);
    let out = ws.fill("https://github.com/org/repo.git");
    out.assert_fallback();

    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), start);
}

#[test]
fn without_the_wrapper_the_store_keeps_the_installation_token() {
    // The control for the test above: the README's former hand-written
    // lines, whose unwrapped store saves the token above the PAT.
    let ws = Workspace::new();
    ws.write_gitconfig(&format!(
        "[credential \"https://github.com\"]\n\thelper = \n\thelper = {BIN}\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    let filled = ws.fill("https://github.com/org/repo.git");
    assert_platform_token(&ws, &filled);
    approve(&ws, &filled);
    let token = ws.platform.last_token().unwrap();
    assert!(read(&ws.fallback).starts_with(&format!("https://x-access-token:{token}@github.com")));
}

#[test]
fn other_credentials_still_reach_the_fallback_store_and_erase() {
    let ws = Workspace::new();
    ws.add_secret(FALLBACK_PAT);
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    ok(&ws.helper(&["configure"], ""));
    let pat = format!(
        "protocol=https\nhost=github.com\nusername={FALLBACK_USER}\npassword={FALLBACK_PAT}\n\n"
    );
    // A rejected PAT is erased, as git always does.
    ws.git(&["credential", "reject"], &pat);
    assert_eq!(read(&ws.fallback), "");
    // An approved long-lived credential is stored.
    ws.git(&["credential", "approve"], &pat);
    assert_eq!(
        read(&ws.fallback),
        format!("https://{FALLBACK_USER}:{FALLBACK_PAT}@github.com\n")
    );
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn the_fallback_sequence_git_runs_is_the_same_after_configure() {
    // Recording helpers under many patterns; with the platform down git runs
    // ours, then exactly the helpers it ran before, in the same order.
    let mut ws = Workspace::new();
    let log = ws.path().join("log");
    let system = ws.path().join("system-config");
    let rec = |name: &str| format!("\"!f() {{ echo {name} >> {}; }}; f\"", log.display());
    std::fs::write(
        &system,
        format!("[credential]\n\thelper = {}\n", rec("system-generic")),
    )
    .unwrap();
    ws.set_env("GIT_CONFIG_NOSYSTEM", "0");
    ws.set_env("GIT_CONFIG_SYSTEM", &system);
    let patterns = [
        ("credential", "generic"),
        ("credential \"https://github.com\"", "exact"),
        // A reset line: forgets system-generic, generic and exact.
        ("credential \"https://github.com\"", ""),
        ("credential \"HTTPS://GitHub.COM/\"", "upper"),
        ("credential \"https://*.com\"", "glob"),
        ("credential \"https://github.com:443\"", "default-port"),
        ("credential \"github.com\"", "partial-host"),
        ("credential \"https://\"", "partial-scheme"),
        ("credential \"http://github.com\"", "http"),
        ("credential \"https://github.com:8443\"", "other-port"),
        ("credential \"https://gitlab.com\"", "other-host"),
        ("credential \"https://github.com/org\"", "other-path"),
        ("credential \"https://bob@github.com\"", "user"),
    ];
    let mut config = String::new();
    for (section, name) in patterns {
        let value = if name.is_empty() {
            String::new()
        } else {
            rec(name)
        };
        config.push_str(&format!("[{section}]\n\thelper = {value}\n"));
    }
    ws.write_gitconfig(&config);
    ws.add_secret(FALLBACK_PAT);
    platform_down(&mut ws);

    let url = "https://github.com/elsewhere/repo.git";
    assert_eq!(ws.fill(url).code(), 128);
    let before = read(&log);
    assert_eq!(
        before.lines().collect::<Vec<_>>(),
        [
            "upper",
            "glob",
            "default-port",
            "partial-host",
            "partial-scheme"
        ]
    );
    let out = ws.helper(&["configure"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    // The path- and user-scoped helpers are named, once each.
    assert_eq!(out.helper_lines().len(), 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("credential.https://github.com/org.helper")
    );
    assert!(
        out.stderr
            .contains("credential.https://bob@github.com.helper"),
        "{}",
        out.stderr
    );

    std::fs::remove_file(&log).unwrap();
    let out = ws.fill(url);
    assert_eq!(out.code(), 128);
    out.assert_one_error("cannot connect to the platform");
    assert_eq!(read(&log), before);

    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), config);
}

#[test]
fn settings_given_as_flags_are_frozen_quoted_and_environment_settings_are_not() {
    let mut ws = Workspace::new();
    // A bearer directory whose name the shell would split and unquote.
    let configs = ws.path().join("con figs 'q' $HOME");
    std::fs::create_dir(&configs).unwrap();
    std::fs::copy(ws.configs.join(".auth_token"), configs.join(".auth_token")).unwrap();
    ws.set_env("CONFIGS_DIR", ws.path().join("nowhere"));
    let out = ws.helper(
        &[
            "configure",
            "--configs-dir",
            configs.to_str().unwrap(),
            "--timeout",
            "5",
        ],
        "",
    );
    ok(&out);
    let line = ws
        .git(
            &[
                "config",
                "--global",
                "--get-all",
                "credential.https://github.com/.helper",
            ],
            "",
        )
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(
        line,
        format!(
            "{} --configs-dir '{}' --timeout 5",
            ours(),
            configs.display().to_string().replace('\'', r"'\''")
        )
    );
    assert!(!line.contains("--platform-url"), "{line}");
    // git runs the line through the shell: the frozen directory is used,
    // the environment's PLATFORM_URL still governs.
    let out = ws.fill("https://github.com/org/repo.git");
    assert_platform_token(&ws, &out);

    // A relative flag is written absolute: git runs the helper anywhere.
    ok(&ws.helper(&["configure", "--configs-dir", "rel/dir"], ""));
    let text = read(&ws.gitconfig);
    let abs = ws.path().join("rel/dir");
    assert!(
        text.contains(&format!("--configs-dir {}\n", abs.display())),
        "{text}"
    );
}

#[test]
fn the_path_written_is_the_one_on_path_when_it_is_this_program() {
    let mut ws = Workspace::new();
    let bin = ws.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let link = bin.join("molecule-git-token-helper");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let path = crate::support::test_git::path();
    let mut dirs = vec![bin.clone()];
    dirs.extend(std::env::split_paths(&path));
    ws.set_env("PATH", std::env::join_paths(dirs).unwrap());
    ok(&ws.helper(&["configure"], ""));
    assert_eq!(
        read(&ws.gitconfig),
        block("github.com", &[link.to_str().unwrap()])
    );
    assert_platform_token(&ws, &ws.fill("https://github.com/org/repo.git"));
}

#[test]
fn system_and_file_locations() {
    let mut ws = Workspace::new();
    let system = ws.path().join("etc-gitconfig");
    ws.set_env("GIT_CONFIG_SYSTEM", &system);
    ws.write_gitconfig("[credential]\n\thelper = cache\n");
    ok(&ws.helper(&["configure", "--system"], ""));
    // The global config is read after the system one: its cache is not kept.
    assert_eq!(read(&system), block("github.com", &[&ours()]));
    assert_eq!(read(&ws.gitconfig), "[credential]\n\thelper = cache\n");
    ok(&ws.helper(&["unconfigure", "--system"], ""));
    assert_eq!(read(&system), "");

    // --global keeps the system's helpers (read first) as fallbacks.
    std::fs::write(&system, "[credential]\n\thelper = store\n").unwrap();
    ws.set_env("GIT_CONFIG_NOSYSTEM", "0");
    ok(&ws.helper(&["configure", "--global"], ""));
    assert_eq!(
        read(&ws.gitconfig),
        format!(
            "[credential]\n\thelper = cache\n{}",
            block("github.com", &[&ours(), &fb("store"), &fb("cache")])
        )
    );

    let file = ws.path().join("other-config");
    std::fs::write(&file, "[credential]\n\thelper = osxkeychain\n").unwrap();
    ok(&ws.helper(&["configure", "--file", file.to_str().unwrap()], ""));
    assert_eq!(
        read(&file),
        format!(
            "[credential]\n\thelper = osxkeychain\n{}",
            block("github.com", &[&ours(), &fb("osxkeychain")])
        )
    );
    ok(&ws.helper(&["unconfigure", "--file", file.to_str().unwrap()], ""));
    assert_eq!(read(&file), "[credential]\n\thelper = osxkeychain\n");
    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), "[credential]\n\thelper = cache\n");
}

#[test]
fn unconfigure_with_hosts_removes_only_theirs() {
    let ws = Workspace::new();
    ws.write_gitconfig("");
    ok(&ws.helper(&["configure", "--host", "a.example"], ""));
    ok(&ws.helper(&["configure", "--host", "b.example"], ""));
    ok(&ws.helper(&["unconfigure", "--host", "a.example"], ""));
    assert_eq!(
        read(&ws.gitconfig),
        block("b.example", &[&format!("{} --host b.example", ours())])
    );
    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), "");
}

#[test]
fn a_held_lock_is_reported_and_nothing_is_written() {
    let ws = Workspace::new();
    ws.write_gitconfig("[credential]\n\thelper = store\n");
    let lock = lock_of(&ws.gitconfig);
    std::fs::write(&lock, "someone else's").unwrap();
    for command in ["configure", "unconfigure"] {
        if command == "unconfigure" {
            // unconfigure locks only a file it has something to remove from.
            std::fs::remove_file(&lock).unwrap();
            ok(&ws.helper(&["configure"], ""));
            std::fs::write(&lock, "someone else's").unwrap();
        }
        let start = read(&ws.gitconfig);
        let out = ws.helper(&[command], "");
        assert_eq!(out.code(), 1, "{out:?}");
        out.assert_one_error(&format!("{} exists", lock.display()));
        assert_eq!(read(&ws.gitconfig), start);
        assert_eq!(read(&lock), "someone else's");
    }
}

#[test]
fn failures_name_the_file_and_leave_it_unchanged() {
    let ws = Workspace::new();
    // A directory that does not exist.
    let missing = ws.path().join("no/such/dir/config");
    let out = ws.helper(&["configure", "--file", missing.to_str().unwrap()], "");
    assert_eq!(out.code(), 1, "{out:?}");
    out.assert_one_error(&missing.display().to_string());
    assert!(!missing.exists());

    // A config git cannot parse.
    ws.write_gitconfig("[credential\n");
    let out = ws.helper(&["configure"], "");
    assert_eq!(out.code(), 1, "{out:?}");
    out.assert_one_error(&format!(
        "bad config line 1 in file {}",
        ws.gitconfig.display()
    ));
    assert_eq!(read(&ws.gitconfig), "[credential\n");
    assert!(!lock_of(&ws.gitconfig).exists());
}

#[test]
fn a_users_lines_under_our_section_name_are_theirs() {
    let ws = Workspace::new();
    // The user's own section of our spelling: a reset and a helper. It is
    // theirs (configure recognises only what it wrote): cache applies to
    // github.com, so it is kept after ours; unconfigure gives the file back.
    let start = "[credential \"https://github.com/\"]\n\thelper = \n\thelper = cache\n";
    ws.write_gitconfig(start);
    ok(&ws.helper(&["configure"], ""));
    assert_eq!(
        read(&ws.gitconfig),
        format!("{start}{}", block("github.com", &[&ours(), &fb("cache")]))
    );
    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), start);

    // Our block in a section of our spelling that also holds the user's
    // key, above a helper: the block moves to the end, the user's key and
    // its header stay.
    let start = format!(
        "[credential \"https://github.com/\"]\n\tusername = op\n\thelper = \n\thelper = {}\n\
         [credential]\n\thelper = cache\n",
        ours()
    );
    ws.write_gitconfig(&start);
    ok(&ws.helper(&["configure"], ""));
    let kept =
        "[credential \"https://github.com/\"]\n\tusername = op\n[credential]\n\thelper = cache\n";
    assert_eq!(
        read(&ws.gitconfig),
        format!("{kept}{}", block("github.com", &[&ours(), &fb("cache")]))
    );
    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), kept);
}

#[test]
fn unconfigure_without_a_file_or_our_lines_changes_nothing() {
    let mut ws = Workspace::new();
    let missing = ws.path().join("absent");
    ws.set_env("GIT_CONFIG_GLOBAL", &missing);
    ok(&ws.helper(&["unconfigure"], ""));
    assert!(!missing.exists());
    let file = ws.path().join("plain");
    std::fs::write(&file, "[credential]\n\thelper = store\n").unwrap();
    ok(&ws.helper(&["unconfigure", "--file", file.to_str().unwrap()], ""));
    assert_eq!(read(&file), "[credential]\n\thelper = store\n");
}

#[test]
fn configure_creates_a_missing_global_file() {
    let mut ws = Workspace::new();
    let missing = ws.path().join("created");
    ws.set_env("GIT_CONFIG_GLOBAL", &missing);
    ok(&ws.helper(&["configure"], ""));
    assert_eq!(read(&missing), block("github.com", &[&ours()]));
    // unconfigure leaves it empty, which git reads as no file.
    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&missing), "");
}

#[test]
fn no_child_sees_a_token_in_its_argv() {
    // Every helper git and the wrapper start records its argv; with ours
    // serving and then an approve, the token shows up in none of them.
    let ws = Workspace::new();
    let argv = ws.path().join("argv");
    let stdin = ws.path().join("stdin");
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = \"!f() {{ echo \\\"$0 $*\\\" >> {}; cat >> {}; }}; f\"\n",
        argv.display(),
        stdin.display()
    ));
    ok(&ws.helper(&["configure"], ""));
    let filled = ws.fill("https://github.com/org/repo.git");
    assert_platform_token(&ws, &filled);
    approve(&ws, &filled);
    let token = ws.platform.last_token().unwrap();
    // The recorder never saw the token: not in argv, and (withheld) not on stdin.
    assert!(
        !std::fs::read_to_string(&argv)
            .unwrap_or_default()
            .contains(&token)
    );
    assert!(
        !std::fs::read_to_string(&stdin)
            .unwrap_or_default()
            .contains(&token)
    );
    // Long-lived credentials reach it on stdin only.
    let pat = "protocol=https\nhost=github.com\nusername=bob\npassword=long-lived-pw\n";
    ws.git(&["credential", "approve"], &format!("{pat}\n"));
    assert!(read(&stdin).contains("password=long-lived-pw"));
    assert!(!read(&argv).contains("long-lived-pw"));
}

/// `git config --get KEY` in the workspace: the value, or "" when unset.
fn git_get(ws: &Workspace, key: &str) -> String {
    ws.git(&["config", "--get", key], "")
        .stdout
        .trim()
        .to_string()
}

#[test]
fn use_http_path_for_platform_hosts_only_and_an_older_block_gets_it() {
    let ws = Workspace::new();
    let start = "[credential]\n\thelper = store\n";
    ws.write_gitconfig(start);
    let secret = "git.example.test=GITEA_TOKEN";
    ok(&ws.helper(&["configure", "--secret-host", secret], ""));
    assert_eq!(
        git_get(&ws, "credential.https://github.com/.useHttpPath"),
        "true"
    );
    // git applies it to every repository of the host.
    assert_eq!(
        ws.git(
            &[
                "config",
                "--get-urlmatch",
                "credential.useHttpPath",
                "https://github.com/o/r.git"
            ],
            ""
        )
        .stdout
        .trim(),
        "true"
    );
    assert_eq!(
        git_get(&ws, "credential.https://git.example.test/.useHttpPath"),
        ""
    );
    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), start);

    // A block an earlier version wrote (no useHttpPath) is redone, once.
    let old = format!(
        "{start}[credential \"https://github.com/\"]\n\thelper = \n\thelper = {}\n\thelper = {}\n",
        ours(),
        fb("store")
    );
    ws.write_gitconfig(&old);
    let out = ws.helper(&["configure"], "");
    ok(&out);
    assert!(
        out.stdout.contains("configured https://github.com/"),
        "{out:?}"
    );
    assert_eq!(
        read(&ws.gitconfig),
        format!("{start}{}", block("github.com", &[&ours(), &fb("store")]))
    );
    let again = ws.helper(&["configure"], "");
    ok(&again);
    assert_eq!(again.stdout, "", "{again:?}");
    ok(&ws.helper(&["unconfigure"], ""));
    assert_eq!(read(&ws.gitconfig), start);
}

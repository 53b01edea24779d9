//! configure and unconfigure on every supported git (2.34 and later): the
//! files they pick as git documents them for writing, not with `git var`
//! (2.42 and later only); and the refusal below the minimum. Run with each
//! git the machine has (scripts/test.sh; MOLECULE_TEST_GIT).

use std::path::Path;

use crate::support::*;

fn ours() -> String {
    std::fs::canonicalize(BIN)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The helper with `args`, `GIT_CONFIG_GLOBAL` unset (git picks the global
/// file itself) and `XDG_CONFIG_HOME` as given.
fn without_global_variable(ws: &Workspace, xdg: Option<&Path>, args: &[&str]) -> Out {
    let mut c = ws.command(BIN);
    c.env_remove("GIT_CONFIG_GLOBAL").args(args);
    if let Some(xdg) = xdg {
        c.env("XDG_CONFIG_HOME", xdg);
    }
    ws.run(c, "")
}

/// The real git's own answer for the helpers of https://github.com/, from
/// its global file as it finds it.
fn global_helpers(ws: &Workspace, xdg: Option<&Path>) -> String {
    let mut c = ws.command("git");
    c.env_remove("GIT_CONFIG_GLOBAL").args([
        "config",
        "--global",
        "--get-all",
        "credential.https://github.com/.helper",
    ]);
    if let Some(xdg) = xdg {
        c.env("XDG_CONFIG_HOME", xdg);
    }
    ws.run(c, "").stdout
}

#[test]
fn configure_writes_the_global_file_git_picks_without_git_config_global() {
    let ws = Workspace::new();
    let user = ws.home.join(".gitconfig");
    let default_xdg = ws.home.join(".config/git/config");

    // Neither file: ~/.gitconfig is created.
    let out = without_global_variable(&ws, None, &["configure"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        out.stdout,
        format!("configured https://github.com/ in {}\n", user.display())
    );
    assert_eq!(global_helpers(&ws, None), format!("\n{}\n", ours()));
    let out = without_global_variable(&ws, None, &["unconfigure"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(read(&user), "");
    std::fs::remove_file(&user).unwrap();

    // Only the XDG file (default place): git writes that one.
    std::fs::create_dir_all(default_xdg.parent().unwrap()).unwrap();
    std::fs::write(&default_xdg, "[credential]\n\thelper = cache\n").unwrap();
    let out = without_global_variable(&ws, None, &["configure"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!user.exists(), "configure created ~/.gitconfig");
    assert!(read(&default_xdg).contains("\thelper = \n"));
    assert_eq!(
        global_helpers(&ws, None),
        format!("\n{}\n{} fallback -- cache\n", ours(), ours())
    );
    let out = without_global_variable(&ws, None, &["unconfigure"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(read(&default_xdg), "[credential]\n\thelper = cache\n");

    // XDG_CONFIG_HOME moves it.
    let xdg_home = ws.path().join("xdg");
    let xdg = xdg_home.join("git/config");
    std::fs::create_dir_all(xdg.parent().unwrap()).unwrap();
    std::fs::write(&xdg, "").unwrap();
    std::fs::remove_file(&default_xdg).unwrap();
    let out = without_global_variable(&ws, Some(&xdg_home), &["configure"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!user.exists());
    assert_eq!(
        global_helpers(&ws, Some(&xdg_home)),
        format!("\n{}\n", ours())
    );

    // With ~/.gitconfig there too, git writes ~/.gitconfig.
    std::fs::write(&user, "").unwrap();
    let out = without_global_variable(&ws, Some(&xdg_home), &["configure"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(read(&user).contains("\thelper = \n"), "{}", read(&user));
}

#[test]
fn unconfigure_system_names_the_file_this_git_was_built_with() {
    // Read-only: the machine's system file holds nothing of ours, so
    // unconfigure neither writes nor locks it; -v names the file.
    let ws = Workspace::new();
    let mut c = ws.command(BIN);
    c.env_remove("GIT_CONFIG_NOSYSTEM")
        .args(["-v", "unconfigure", "--system"]);
    let out = ws.run(c, "");
    assert_eq!((out.code(), out.stdout.as_str()), (0, ""), "{out:?}");
    let named = out
        .stderr
        .lines()
        .find_map(|l| {
            l.split_once("unconfigure: nothing of ours in ")
                .or_else(|| l.split_once("unconfigure: "))
                .map(|(_, rest)| rest.split(' ').next().unwrap_or_default().to_string())
        })
        .unwrap_or_else(|| panic!("no file named: {out:?}"));
    // The oracle: git's own word, where this git gives one.
    let mut origin = ws.command("git");
    origin.env_remove("GIT_CONFIG_NOSYSTEM").args([
        "config",
        "--system",
        "--list",
        "--show-origin",
    ]);
    let listed = ws.run(origin, "").stdout;
    let mut var = ws.command("git");
    var.env_remove("GIT_CONFIG_NOSYSTEM")
        .args(["var", "GIT_CONFIG_SYSTEM"]);
    let said = ws.run(var, "");
    if let Some(file) = listed.lines().find_map(|l| l.strip_prefix("file:")) {
        let file = file.split('\t').next().unwrap();
        assert_eq!(named, file, "{out:?}");
    } else if said.code() == 0 {
        assert_eq!(named, said.stdout.trim(), "{out:?}");
    } else {
        // An old git and no system file: no oracle but the name.
        assert!(
            named.starts_with('/') && named.ends_with("gitconfig"),
            "{out:?}"
        );
    }
}

#[test]
fn configure_and_unconfigure_refuse_a_git_older_than_the_minimum() {
    // A fake git for the refusal only: it prints an old version.
    let mut ws = Workspace::new();
    let dir = ws.path().join("old-git");
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("git");
    std::fs::write(&fake, "#!/bin/sh\necho 'git version 2.33.8'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    ws.set_env(
        "PATH",
        format!("{}:{}", dir.display(), test_git::path_string()),
    );
    ws.write_gitconfig("[credential]\n\thelper = store\n");
    for args in [
        &["configure"][..],
        &["configure", "--system"],
        &["unconfigure"],
    ] {
        let out = ws.helper(args, "");
        assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
        out.assert_one_error("git 2.33.8 is too old: configure needs git 2.34 or newer");
        assert_eq!(read(&ws.gitconfig), "[credential]\n\thelper = store\n");
    }
}

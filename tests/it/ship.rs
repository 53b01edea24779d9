//! What ships beside the binary: shell completions from the real binary,
//! and install.sh putting every file in place and taking it away again.
//! (The static release build itself is proven by .ci/run: it takes minutes.)

use std::path::Path;

use crate::support::*;

const SHELLS: [&str; 3] = ["bash", "zsh", "fish"];

// ---- completions -------------------------------------------------------------

#[test]
fn completions_for_each_shell_name_the_commands() {
    let ws = Workspace::new();
    for shell in SHELLS {
        let out = ws.helper(&["completions", shell], "");
        assert_eq!(out.code(), 0, "{shell}: {out:?}");
        assert_eq!(out.stderr, "", "{shell}");
        for word in ["fetch-token", "gh-login", "exec", "platform-url"] {
            assert!(out.stdout.contains(word), "{shell}: no {word}");
        }
        assert!(
            !out.stdout.contains("fallback"),
            "{shell}: a hidden command"
        );
    }
    assert_eq!(ws.platform.count(), 0);
}

#[test]
fn completions_reject_an_unknown_shell_as_a_usage_error() {
    let ws = Workspace::new();
    let out = ws.helper(&["completions", "tcsh"], "");
    assert_eq!(out.code(), 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("bash, zsh, fish"), "{}", out.stderr);
}

#[test]
fn completions_do_not_need_valid_settings() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "soon");
    let out = ws.helper(&["completions", "bash"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    // While every other command still refuses the setting.
    assert_eq!(ws.helper(&["fetch-token"], "").code(), 2);
}

/// Bash asks the completion function the way it does for a TAB: the words so
/// far and the index of the one being completed.
fn bash_complete(ws: &Workspace, script: &Path, words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\n\
         COMP_WORDS=({})\n\
         COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
         _molecule__git__token__helper molecule-git-token-helper \
         \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.join(" ")
    );
    let mut c = ws.command("bash");
    c.args(["--norc", "--noprofile", "-c", &program]);
    let out = ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    out.stdout.lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_the_options_of_a_subcommand() {
    // clap_complete 4.6 breaks this for a binary name with a hyphen
    // (clap-rs/clap#6421); src/commands/completions.rs works around it.
    let ws = Workspace::new();
    let script = ws.path().join("completion.bash");
    std::fs::write(&script, ws.helper(&["completions", "bash"], "").stdout).unwrap();

    let commands = bash_complete(&ws, &script, &["molecule-git-token-helper", "fe"]);
    assert_eq!(commands, ["fetch-token"]);
    let options = bash_complete(
        &ws,
        &script,
        &["molecule-git-token-helper", "fetch-token", "--j"],
    );
    // Its own option, then the global one (--journal) with the same start.
    assert_eq!(options, ["--json", "--journal"]);
    let shells = bash_complete(
        &ws,
        &script,
        &["molecule-git-token-helper", "completions", "z"],
    );
    assert_eq!(shells, ["zsh"]);
}

// ---- install.sh ----------------------------------------------------------------
//
// With --binary, install.sh installs the binary cargo built for these tests
// instead of building the static release one: the same script, in seconds.

const INSTALLED: [(&str, u32); 8] = [
    ("bin/molecule-git-token-helper", 0o755),
    ("share/man/man1/molecule-git-token-helper.1", 0o644),
    (
        "share/bash-completion/completions/molecule-git-token-helper",
        0o644,
    ),
    ("share/zsh/site-functions/_molecule-git-token-helper", 0o644),
    (
        "share/fish/vendor_completions.d/molecule-git-token-helper.fish",
        0o644,
    ),
    ("share/molecule-git-token-helper/env.bash", 0o644),
    ("share/molecule-git-token-helper/env.zsh", 0o644),
    ("share/molecule-git-token-helper/env.fish", 0o644),
];

fn install_sh() -> String {
    format!("{}/install.sh", env!("CARGO_MANIFEST_DIR"))
}

fn install(ws: &Workspace, args: &[&str]) -> Out {
    let mut c = ws.command(install_sh());
    c.args(args);
    ws.run(c, "")
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn install_puts_every_file_in_place_and_uninstall_removes_exactly_those() {
    let ws = Workspace::new();
    let prefix = ws.path().join("a prefix");
    let p = prefix.to_str().unwrap();
    // Somebody else's files, which uninstall must leave alone.
    let others = ["bin/other-tool", "share/man/man1/other.1"];
    for other in others {
        std::fs::create_dir_all(prefix.join(other).parent().unwrap()).unwrap();
        std::fs::write(prefix.join(other), "not ours").unwrap();
    }

    let out = install(&ws, &["--prefix", p, "--binary", BIN]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!("installed {p}/bin/")),
        "{out:?}"
    );

    let mut expected: Vec<String> = INSTALLED.iter().map(|(f, _)| f.to_string()).collect();
    expected.extend(others.iter().map(|f| f.to_string()));
    expected.sort();
    for (file, want) in INSTALLED {
        assert_eq!(mode(&prefix.join(file)), want, "{file}");
    }
    assert_eq!(
        std::fs::read(prefix.join(INSTALLED[0].0)).unwrap(),
        std::fs::read(BIN).unwrap()
    );
    let man_page = std::fs::read_to_string(prefix.join(INSTALLED[1].0)).unwrap();
    let checked_in = format!(
        "{}/man/molecule-git-token-helper.1",
        env!("CARGO_MANIFEST_DIR")
    );
    assert_eq!(man_page, std::fs::read_to_string(checked_in).unwrap());
    for (shell, (file, _)) in SHELLS.iter().zip(&INSTALLED[2..5]) {
        let installed = std::fs::read_to_string(prefix.join(file)).unwrap();
        assert_eq!(installed, ws.helper(&["completions", shell], "").stdout);
    }
    // The shell-init scripts run the installed binary, named by its path.
    for (shell, (file, _)) in SHELLS.iter().zip(&INSTALLED[5..]) {
        let installed = std::fs::read_to_string(prefix.join(file)).unwrap();
        let mut c = ws.command(prefix.join(INSTALLED[0].0));
        c.args(["shell-init", shell]);
        assert_eq!(installed, ws.run(c, "").stdout);
        let bin = prefix.join(INSTALLED[0].0).display().to_string();
        assert!(
            installed.lines().next().unwrap().contains(&bin),
            "{installed}"
        );
    }
    let mut run_installed = ws.command(prefix.join(INSTALLED[0].0));
    run_installed.arg("--version");
    let version = ws.run(run_installed, "");
    assert_eq!(version.code(), 0, "{version:?}");
    assert_eq!(
        version.stdout,
        format!("molecule-git-token-helper {}\n", env!("CARGO_PKG_VERSION"))
    );

    // Again: the same files, nothing left beside them.
    let again = install(&ws, &["--prefix", p, "--binary", BIN]);
    assert_eq!(again.code(), 0, "{again:?}");
    assert_eq!(files_under(&prefix), expected);

    let out = install(&ws, &["--uninstall", "--prefix", p]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.matches("removed ").count(), INSTALLED.len());
    assert_eq!(files_under(&prefix), others);

    let out = install(&ws, &["--uninstall", "--prefix", p]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("nothing to remove"), "{out:?}");
}

#[test]
fn install_without_cargo_says_how_to_get_it_and_installs_nothing() {
    let ws = Workspace::new();
    let prefix = ws.path().join("prefix");
    let mut c = ws.command(install_sh());
    c.args(["--prefix", prefix.to_str().unwrap()])
        .env("CARGO", ws.path().join("no-such-cargo"));
    let out = ws.run(c, "");
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("cargo not found"), "{}", out.stderr);
    assert!(out.stderr.contains("--binary"), "{}", out.stderr);
    assert_eq!(files_under(&prefix), Vec::<String>::new());
}

#[test]
fn install_rejects_unknown_options() {
    let ws = Workspace::new();
    let out = install(&ws, &["--prefix"]);
    assert_eq!(out.code(), 1, "{out:?}");
    let out = install(&ws, &["--frobnicate"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("unknown option: --frobnicate"),
        "{out:?}"
    );
    let out = install(&ws, &["--help"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("--uninstall"), "{out:?}");
}

/// A stand-in for the helper that records how install.sh runs it.
fn fake_helper(ws: &Workspace) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = ws.path().join("fake-helper");
    let log = ws.path().join("fake-helper.log");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n\
             case $1 in\n\
             --version) echo 'fake 1' ;;\n\
             completions|shell-init) echo \"# $2\" ;;\n\
             *) echo \"$0 $*\" >> '{}' ;;\n\
             esac\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn fake_log(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.path().join("fake-helper.log")).unwrap_or_default()
}

#[test]
fn configure_runs_the_installed_helper_and_uninstall_unconfigures_only_when_asked() {
    let ws = Workspace::new();
    let fake = fake_helper(&ws);
    let prefix = ws.path().join("prefix");
    let p = prefix.to_str().unwrap();
    let installed = format!("{p}/bin/molecule-git-token-helper");

    let out = install(&ws, &["--prefix", p, "--binary", fake.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(fake_log(&ws), "", "configure ran without --configure");

    let out = install(
        &ws,
        &[
            "--prefix",
            p,
            "--configure",
            "--binary",
            fake.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(fake_log(&ws), format!("{installed} configure --global\n"));

    // Without --configure, uninstall leaves git's config alone, and says
    // that it still names the removed helper.
    ws.write_gitconfig(&format!(
        "[credential \"https://github.com\"]\n\thelper = {installed}\n"
    ));
    let out = install(&ws, &["--uninstall", "--prefix", p]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("still names"), "{out:?}");
    assert_eq!(fake_log(&ws), format!("{installed} configure --global\n"));
    assert_eq!(files_under(&prefix), Vec::<String>::new());

    let out = install(&ws, &["--prefix", p, "--binary", fake.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = install(&ws, &["--uninstall", "--configure", "--prefix", p]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        fake_log(&ws),
        format!("{installed} configure --global\n{installed} unconfigure --global\n")
    );
    assert_eq!(files_under(&prefix), Vec::<String>::new());
}

#[test]
fn install_binary_demo_without_cargo_refuses_before_installing() {
    let ws = Workspace::new();
    let prefix = ws.path().join("prefix");
    let mut c = ws.command(install_sh());
    c.args([
        "--prefix",
        prefix.to_str().unwrap(),
        "--binary",
        BIN,
        "--demo",
    ])
    .env("CARGO", ws.path().join("no-such-cargo"))
    .env_remove("MOCK_PLATFORM");
    let out = ws.run(c, "");
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("--demo builds the mock platform with cargo"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("MOCK_PLATFORM"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert_eq!(files_under(&prefix), Vec::<String>::new());
}

// ---- install.sh --archive --------------------------------------------------------

/// A release tarball as scripts/release.sh lays it out (bin/, share/...),
/// of the test build, with a SHA256SUMS beside it naming it; its path.
fn release_tarball(ws: &Workspace, dir: &str) -> std::path::PathBuf {
    let root = ws.path().join(format!("{dir}-root"));
    let man = format!(
        "{}/man/molecule-git-token-helper.1",
        env!("CARGO_MANIFEST_DIR")
    );
    for (file, src) in [(INSTALLED[0].0, BIN), (INSTALLED[1].0, man.as_str())] {
        std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
        std::fs::copy(src, root.join(file)).unwrap();
    }
    let out_dir = ws.path().join(dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let name = "molecule-git-token-helper-0.0.0-x86_64-linux.tar.gz";
    let mut tar = ws.command("tar");
    tar.arg("-czf")
        .arg(out_dir.join(name))
        .arg("-C")
        .arg(&root)
        .args([INSTALLED[0].0, INSTALLED[1].0]);
    assert_eq!(ws.run(tar, "").code(), 0);
    let mut sums = ws.command("sha256sum");
    sums.arg(name).current_dir(&out_dir);
    let listed = ws.run(sums, "");
    assert_eq!(listed.code(), 0, "{listed:?}");
    // Another artifact's line too, as in a real SHA256SUMS.
    let other = format!(
        "{}  molecule-git-token-helper_0.0.0-1_amd64.deb\n",
        "0".repeat(64)
    );
    std::fs::write(out_dir.join("SHA256SUMS"), other + &listed.stdout).unwrap();
    out_dir.join(name)
}

/// install.sh --archive, with no cargo to be found.
fn install_archive(ws: &Workspace, archive: &Path, prefix: &Path) -> Out {
    let mut c = ws.command(install_sh());
    c.arg("--archive")
        .arg(archive)
        .arg("--prefix")
        .arg(prefix)
        .env("CARGO", ws.path().join("no-such-cargo"));
    ws.run(c, "")
}

#[test]
fn install_archive_checks_the_tarball_then_installs_without_cargo() {
    let ws = Workspace::new();
    let archive = release_tarball(&ws, "dist");
    let prefix = ws.path().join("prefix");

    let out = install_archive(&ws, &archive, &prefix);
    assert_eq!(out.code(), 0, "{out:?}");
    let mut expected: Vec<String> = INSTALLED.iter().map(|(f, _)| f.to_string()).collect();
    expected.sort();
    assert_eq!(files_under(&prefix), expected);
    for (file, want) in INSTALLED {
        assert_eq!(mode(&prefix.join(file)), want, "{file}");
    }
    assert_eq!(
        std::fs::read(prefix.join(INSTALLED[0].0)).unwrap(),
        std::fs::read(BIN).unwrap()
    );
    // The shell-init scripts name the binary where it was installed.
    let env_bash = std::fs::read_to_string(prefix.join(INSTALLED[5].0)).unwrap();
    let bin = prefix.join(INSTALLED[0].0).display().to_string();
    assert!(
        env_bash.lines().next().unwrap().contains(&bin),
        "{env_bash}"
    );
    // Nothing of the unpacked archive is left in the temp directory.
    let again = install_archive(&ws, &archive, &prefix);
    assert_eq!(again.code(), 0, "{again:?}");
    assert_eq!(files_under(&prefix), expected);

    let out = install(&ws, &["--uninstall", "--prefix", prefix.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(files_under(&prefix), Vec::<String>::new());
}

#[test]
fn install_archive_refuses_a_flipped_byte_or_a_missing_entry_and_installs_nothing() {
    let ws = Workspace::new();
    let prefix = ws.path().join("prefix");

    let flipped = release_tarball(&ws, "flipped");
    let mut bytes = std::fs::read(&flipped).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&flipped, bytes).unwrap();
    let out = install_archive(&ws, &flipped, &prefix);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("does not match its SHA-256")
            && out.stderr.contains("nothing installed"),
        "{}",
        out.stderr
    );
    assert!(!prefix.exists(), "the prefix was created");

    let unlisted = release_tarball(&ws, "unlisted");
    let sums = unlisted.with_file_name("SHA256SUMS");
    let kept: String = std::fs::read_to_string(&sums)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("tar.gz"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&sums, kept).unwrap();
    let out = install_archive(&ws, &unlisted, &prefix);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("has no entry for"), "{}", out.stderr);
    assert!(!prefix.exists(), "the prefix was created");

    std::fs::remove_file(&sums).unwrap();
    let out = install_archive(&ws, &unlisted, &prefix);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("SHA256SUMS"), "{}", out.stderr);
    assert!(!prefix.exists(), "the prefix was created");
}

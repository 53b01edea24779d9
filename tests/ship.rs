//! What ships beside the binary: shell completions from the real binary,
//! and install.sh putting every file in place and taking it away again.
//! (The static release build itself is proven by .ci/run: it takes minutes.)

mod support;

use std::path::Path;

use support::*;

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
    assert_eq!(options, ["--json"]);
    let shells = bash_complete(
        &ws,
        &script,
        &["molecule-git-token-helper", "completions", "z"],
    );
    assert_eq!(shells, ["zsh"]);
}

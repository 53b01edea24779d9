//! `env`, `shell-init`, `BASH_ENV` and `configure --shell-init` with the
//! real shells (dash as sh, bash, zsh, fish), every one starting with the
//! container's stale `GH_TOKEN`/`GITHUB_TOKEN`, as every workspace process
//! does; meanwhile every process's argv is sampled: the token is never in
//! one. The interactive shells, under a pseudo-terminal, are in prompt.rs.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::life::sample_argv;
use crate::support::*;

/// A dead container-start token, made at run time.
fn stale_token() -> String {
    format!("ghs_containerStart{}", unique().replace('x', "X"))
}

/// A workspace whose processes start with stale GH_TOKEN/GITHUB_TOKEN.
pub fn stale_workspace() -> (Workspace, String) {
    let mut ws = Workspace::new();
    let stale = stale_token();
    ws.add_secret(&stale);
    ws.set_env("GH_TOKEN", &stale);
    ws.set_env("GITHUB_TOKEN", &stale);
    (ws, stale)
}

/// Run `f` while every process's argv is sampled; then no token of `ws`'s
/// platform (nor `stale`) may have been in one.
pub fn watching_argv<T>(ws: &Workspace, stale: &str, f: impl FnOnce() -> T) -> T {
    let stop = AtomicBool::new(false);
    let seen = Mutex::new(Vec::new());
    /// Stops the sampler however `f` ends, a failed assertion included.
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let result = std::thread::scope(|s| {
        s.spawn(|| sample_argv(&stop, &seen));
        let _stop = Stop(&stop);
        f()
    });
    let mut tokens = ws.platform.tokens();
    tokens.push(stale.to_string());
    let leaked: Vec<String> = seen
        .into_inner()
        .unwrap()
        .into_iter()
        .filter(|argv| tokens.iter().any(|t| argv.contains(t.as_str())))
        .collect();
    assert_eq!(leaked, Vec::<String>::new(), "a token in an argv");
    result
}

/// Poll `done` until it holds, for at most 20 s.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `shell -c script` in the workspace.
pub fn shell(ws: &Workspace, shell: &str, script: &str) -> Out {
    let mut c = ws.command(shell);
    c.args(["-c", script]);
    ws.run(c, "")
}

/// The shell commands that print GH_TOKEN and GITHUB_TOKEN, one a line.
pub const PRINT_PAIR: &str = r#"printf '%s\n%s\n' "$GH_TOKEN" "$GITHUB_TOKEN""#;

pub fn pair(token: &str) -> String {
    format!("{token}\n{token}\n")
}

/// `eval "$(… env)"` (fish: `… env --shell fish | source`) in `shell`, then
/// the two variables.
fn eval_env(ws: &Workspace, sh: &str) -> Out {
    let script = match sh {
        "fish" => format!("{BIN} env --shell fish | source; {PRINT_PAIR}"),
        "sh" => format!("eval \"$({BIN} env)\"; {PRINT_PAIR}"),
        _ => format!("eval \"$({BIN} env --shell {sh})\"; {PRINT_PAIR}"),
    };
    shell(ws, sh, &script)
}

const ALL_SHELLS: [&str; 4] = ["sh", "bash", "zsh", "fish"];

#[test]
fn eval_env_sets_the_current_token_in_sh_bash_zsh_and_fish() {
    let (ws, stale) = stale_workspace();
    watching_argv(&ws, &stale, || {
        for sh in ALL_SHELLS {
            let out = eval_env(&ws, sh);
            assert_eq!(out.code(), 0, "{sh}: {out:?}");
            let current = ws.platform.last_token().expect("a token");
            assert_eq!(out.stdout, pair(&current), "{sh}");
            assert_eq!(out.stderr, "", "{sh}");
        }
    });
    // One fetch: the others read the cache.
    assert_eq!(ws.platform.count(), 1);
}

#[test]
fn eval_env_with_the_platform_down_changes_nothing() {
    let (mut ws, stale) = stale_workspace();
    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    let out = ws.helper(&["env"], "");
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stdout, "");
    out.assert_one_error("cannot connect to the platform");
    for sh in ALL_SHELLS {
        let out = eval_env(&ws, sh);
        assert_eq!(out.code(), 0, "{sh}: {out:?}");
        assert_eq!(out.stdout, pair(&stale), "{sh}: the variables changed");
        assert_eq!(out.helper_lines().len(), 1, "{sh}: {out:?}");
    }
}

#[test]
fn env_follows_the_variable_rule_and_prints_json() {
    let (mut ws, stale) = stale_workspace();
    ws.set_env("GH_ENTERPRISE_TOKEN", &stale);
    ws.set_env("MOLECULE_GIT_HOSTS", "github.com,ghe.example.test");
    let all = r#"printf '%s\n' "$GH_TOKEN" "$GITHUB_TOKEN" "$GH_ENTERPRISE_TOKEN" "$GITHUB_ENTERPRISE_TOKEN""#;
    let out = shell(&ws, "sh", &format!("eval \"$({BIN} env)\"; {all}"));
    let current = ws.platform.last_token().unwrap();
    assert_eq!(out.stdout, format!("{current}\n").repeat(4), "{out:?}");

    // Only an Enterprise host: github.com's pair is not ours to set.
    ws.set_env("MOLECULE_GIT_HOSTS", "ghe.example.test");
    let out = shell(&ws, "sh", &format!("eval \"$({BIN} env)\"; {all}"));
    assert_eq!(
        out.stdout,
        format!("{stale}\n{stale}\n{current}\n{current}\n"),
        "{out:?}"
    );

    let out = ws.helper(&["env", "--json"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"GH_ENTERPRISE_TOKEN": current, "GITHUB_ENTERPRISE_TOKEN": current})
    );
}

/// The scripts lint clean: shellcheck for bash (as printed by shell-init
/// too), the shells' own syntax check for zsh and fish.
#[test]
fn the_shell_init_scripts_pass_shellcheck_and_the_shells_syntax_checks() {
    let ws = Workspace::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("shell");
    let printed = ws.path().join("printed.bash");
    std::fs::write(&printed, ws.helper(&["shell-init", "bash"], "").stdout).unwrap();
    for file in [root.join("molecule.bash"), printed] {
        let mut c = ws.command("shellcheck");
        c.args(["--shell=bash", "--severity=style"]).arg(&file);
        let out = ws.run(c, "");
        assert_eq!(out.code(), 0, "shellcheck {}: {out:?}", file.display());
    }
    for (sh, file) in [("zsh", "molecule.zsh"), ("fish", "molecule.fish")] {
        let mut c = ws.command(sh);
        c.arg("-n").arg(root.join(file));
        let out = ws.run(c, "");
        assert_eq!(out.code(), 0, "{sh} -n {file}: {out:?}");
    }
}

/// install.sh's env.bash as BASH_ENV: a `bash -c` that calls the GitHub API
/// with `$GITHUB_TOKEN` succeeds where the same command without it gets 401:
/// at first (the container's token is dead) and after a rotation (the
/// token the agent's environment got earlier is revoked).
#[test]
fn bash_env_gives_every_bash_c_a_live_token() {
    let (mut ws, stale) = stale_workspace();
    let (stack, _gh) = ws.start_github();
    let ws = ws;
    let prefix = ws.path().join("prefix");
    let mut c = ws.command(format!("{}/install.sh", env!("CARGO_MANIFEST_DIR")));
    c.args(["--prefix", prefix.to_str().unwrap(), "--binary", BIN]);
    let out = ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    let env_bash = prefix.join("share/molecule-git-token-helper/env.bash");
    assert!(env_bash.is_file());
    // The token goes to curl on its stdin (-K -), never in its argv.
    let curl = format!(
        "printf 'header = \"Authorization: token %s\"\\n' \"$GITHUB_TOKEN\" | \
         curl -sS -o /dev/null -w '%{{http_code}}' -K - --cacert {ca} \
         https://api.github.com/repos/o/r",
        ca = stack.ca.ca_pem_path().display()
    );
    // `held`: the GITHUB_TOKEN the agent's environment holds, if not the stale one.
    let run = |ws: &Workspace, bash_env: bool, held: Option<&str>| {
        let mut c = ws.command("bash");
        c.args(["-c", &curl]);
        if bash_env {
            c.env("BASH_ENV", &env_bash);
        }
        if let Some(held) = held {
            c.env("GITHUB_TOKEN", held);
        }
        ws.run(c, "")
    };
    watching_argv(&ws, &stale, || {
        assert_eq!(run(&ws, false, None).stdout, "401");
        let with = run(&ws, true, None);
        assert_eq!(with.stdout, "200", "{with:?}");
        assert_eq!(with.stderr, "");

        // The agent's environment holds the token of its start; it rotates.
        let first = ws.platform.last_token().unwrap();
        let held = Some(first.as_str());
        assert_eq!(run(&ws, false, held).stdout, "200");
        ws.platform.revoke(&first);
        ws.forget_cache();
        assert_eq!(run(&ws, false, held).stdout, "401");
        assert_eq!(run(&ws, true, held).stdout, "200");
        assert_eq!(ws.platform.count(), 2);
    });
}

/// BASH_ENV with `set -x` (`bash -xc`): the trace shows no token.
#[test]
fn bash_env_under_xtrace_traces_no_token() {
    let (ws, _stale) = stale_workspace();
    let env_bash = ws.path().join("env.bash");
    std::fs::write(&env_bash, ws.helper(&["shell-init", "bash"], "").stdout).unwrap();
    let mut c = ws.command("bash");
    c.args(["-xeuc", "test ${#GH_TOKEN} -gt 4"])
        .env("BASH_ENV", &env_bash);
    let out = ws.run(c, ""); // run() checks stderr for every token
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("set +x"), "{out:?}");
    assert!(ws.platform.count() == 1);
}

/// `configure --shell-init` adds the line to ~/.bashrc, ~/.zshrc and
/// config.fish (created: fish is installed), which each shell then runs;
/// again changes nothing; `unconfigure` leaves every file as it was, byte
/// for byte.
#[test]
fn configure_shell_init_then_unconfigure_leaves_the_rc_files_byte_for_byte() {
    let (ws, stale) = stale_workspace();
    let bashrc = ws.home.join(".bashrc");
    let zshrc = ws.home.join(".zshrc");
    let fish = ws.home.join(".config/fish/config.fish");
    // No newline at the end of .bashrc.
    std::fs::write(&bashrc, "alias ll='ls -l'\nexport EDITOR=vi").unwrap();
    std::fs::write(&zshrc, "setopt autocd\n").unwrap();
    let before = |p: &Path| std::fs::read(p).ok();
    let (b, z) = (before(&bashrc), before(&zshrc));
    assert!(!fish.exists());

    let out = ws.helper(&["configure", "--shell-init"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    for file in [&bashrc, &zshrc, &fish] {
        assert!(
            out.stdout.contains(&file.display().to_string()),
            "{file:?}: {out:?}"
        );
    }
    let bash_text = std::fs::read_to_string(&bashrc).unwrap();
    assert!(
        bash_text
            .starts_with("alias ll='ls -l'\nexport EDITOR=vi\n# >>> molecule-git-token-helper"),
        "{bash_text}"
    );
    assert!(
        bash_text.contains(&format!("eval \"$('{BIN}' shell-init bash)\"\n")),
        "{bash_text}"
    );
    let again = ws.helper(&["configure", "--shell-init"], "");
    assert_eq!((again.code(), again.stdout.as_str()), (0, ""), "{again:?}");

    // Each shell, interactive, runs the line.
    for (sh, args) in [
        ("bash", vec!["-ic"]),
        ("zsh", vec!["-ic"]),
        ("fish", vec!["-i", "-c"]),
    ] {
        let mut c = ws.command(sh);
        c.args(args).arg(PRINT_PAIR);
        let out = ws.run(c, "");
        let current = ws.platform.last_token().expect("a token");
        assert_eq!(out.stdout, pair(&current), "{sh}: {out:?}");
        assert_ne!(current, stale);
    }

    let out = ws.helper(&["unconfigure"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(before(&bashrc), b);
    assert_eq!(before(&zshrc), z);
    assert!(
        !fish.exists(),
        "configure created it; unconfigure removes it"
    );
    let out = ws.helper(&["unconfigure"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (0, ""), "{out:?}");
}

/// `status`, run from a shell, says whether that shell's variables are
/// current and, when they are stale, names the fix for that shell.
#[test]
fn status_names_the_fix_for_the_shell_it_runs_in() {
    let (ws, _stale) = stale_workspace();
    let gh_env = |out: &Out| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("gh-env"))
            .unwrap_or_else(|| panic!("no gh-env line: {out:?}"))
            .to_string()
    };
    for sh in ["bash", "zsh"] {
        let out = shell(&ws, sh, &format!("{BIN} status; :"));
        let line = gh_env(&out);
        assert!(
            line.starts_with("warn")
                && line.contains(&format!("in this {sh}"))
                && line.contains(&format!("shell-init {sh}"))
                && line.contains("configure --shell-init")
                && line.contains("BASH_ENV")
                && line.contains("configure --gh-proxy"),
            "{line}"
        );
    }
    let out = shell(&ws, "fish", &format!("{BIN} status; true"));
    let line = gh_env(&out);
    assert!(
        line.contains("in this fish") && line.contains("shell-init fish | source"),
        "{line}"
    );
    // Run by a program, not a shell: no shell named, the generic fix.
    let line = gh_env(&ws.helper(&["status"], ""));
    assert!(
        !line.contains(" in this ") && line.contains("env)\" brings this shell up to date"),
        "{line}"
    );
    // After eval: current, and said so for this shell.
    let out = shell(
        &ws,
        "bash",
        &format!("eval \"$({BIN} env)\"; {BIN} status; :"),
    );
    let line = gh_env(&out);
    assert!(
        line.starts_with("ok") && line.contains("hold the current token in this bash"),
        "{line}"
    );
}

/// Sourced twice (an rc file read again), the hooks are there once; under
/// `bash -euc` a failing platform does not stop the command.
#[test]
fn sourcing_twice_hooks_once_and_a_failure_under_set_eu_does_not_stop_bash() {
    let (mut ws, _stale) = stale_workspace();
    let init = |sh: &str| format!("eval \"$({BIN} shell-init {sh})\"");
    let mut c = ws.command("bash");
    c.args([
        "-ic",
        &format!(
            "PROMPT_COMMAND='echo mine'; {i}; {i}; declare -p PROMPT_COMMAND",
            i = init("bash")
        ),
    ]);
    let out = ws.run(c, "");
    assert!(
        out.stdout
            .contains("PROMPT_COMMAND=\"__molecule_token_hook;echo mine\""),
        "{out:?}"
    );
    let mut c = ws.command("zsh");
    c.args([
        "-ic",
        &format!(
            "{i}; {i}; print -r -- $precmd_functions / $preexec_functions",
            i = init("zsh")
        ),
    ]);
    let out = ws.run(c, "");
    assert_eq!(
        out.stdout.trim(),
        "__molecule_token_update / __molecule_token_update",
        "{out:?}"
    );

    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    let env_bash = ws.path().join("env.bash");
    std::fs::write(&env_bash, ws.helper(&["shell-init", "bash"], "").stdout).unwrap();
    let mut c = ws.command("bash");
    c.args(["-euc", "echo ran"]).env("BASH_ENV", &env_bash);
    let out = ws.run(c, "");
    assert_eq!((out.code(), out.stdout.as_str()), (0, "ran\n"), "{out:?}");
    out.assert_one_error("cannot connect to the platform");
}

/// The per-prompt call is as light as a warm `get`: with the token cached,
/// `env --hook` opens no socket and starts no thread (no runtime, no HTTP
/// client). Its cold call, the control, connects to the platform.
#[test]
fn a_warm_env_opens_no_socket_and_starts_no_thread() {
    let ws = Workspace::new();
    let traced = |name: &str| {
        let log = ws.path().join(name);
        let mut c = ws.command("strace");
        c.args(["-f", "-qq", "-e", "trace=socket,connect,clone,clone3", "-o"])
            .arg(&log)
            .args([BIN, "env", "--shell", "bash", "--hook"]);
        let out = ws.run(c, "");
        assert_eq!(
            out.code(),
            0,
            "strace is missing? apt-get install -y strace: {out:?}"
        );
        assert!(out.stdout.starts_with("export GH_TOKEN='"), "{out:?}");
        std::fs::read_to_string(log).unwrap()
    };
    let cold = traced("cold.log");
    assert!(cold.contains("connect("), "{cold}");
    let warm = traced("warm.log");
    assert_eq!(warm.trim(), "", "a warm env made these calls");
    assert_eq!(ws.platform.count(), 1);
}

/// Issue 24 item 7: bash's verbose mode (`bash -v`, `set -v`, an inherited
/// `SHELLOPTS=verbose`), xtrace, and a user's DEBUG trap with `set -T`
/// printed `export GH_TOKEN='ghs_…'` (what eval read) to stderr. Each
/// `bash -c` reads env.bash as BASH_ENV, or sources it after the user's
/// settings; stderr holds no token and no assignment.
#[test]
fn bash_under_verbose_xtrace_and_a_debug_trap_prints_no_token() {
    let (ws, _stale) = stale_workspace();
    let env_bash = ws.path().join("env.bash");
    std::fs::write(&env_bash, ws.helper(&["shell-init", "bash"], "").stdout).unwrap();
    // (Only the length: xtrace would show the test's own comparison.)
    let check = "test ${#GH_TOKEN} -gt 4 && test ${#GITHUB_TOKEN} -gt 4";
    let trap = r#"set -T; trap 'printf "debug: %s\n" "$BASH_COMMAND" >&2' DEBUG"#;
    let sourced = |before: &str| format!("{before}; . \"$BASH_ENV\"; {check}");
    // What, bash's arguments, a variable to set.
    type Case<'a> = (&'a str, Vec<String>, Option<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("bash -v", vec!["-vc".into(), check.into()], None),
        ("bash -xv", vec!["-xvc".into(), check.into()], None),
        ("set -v", vec!["-c".into(), sourced("set -v")], None),
        (
            "SHELLOPTS=verbose",
            vec!["-c".into(), check.into()],
            Some(("SHELLOPTS", "verbose")),
        ),
        ("DEBUG trap", vec!["-c".into(), sourced(trap)], None),
        (
            "DEBUG trap, verbose and xtrace",
            vec!["-c".into(), sourced(&format!("set -xv; {trap}"))],
            None,
        ),
    ];
    for (what, args, env) in cases {
        let mut c = ws.command("bash");
        c.args(&args).env("BASH_ENV", &env_bash);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let out = ws.run(c, ""); // run() checks stderr for every token
        assert_eq!(out.code(), 0, "{what}: {out:?}");
        assert!(!out.stderr.contains("GH_TOKEN='"), "{what}: {out:?}");
        assert!(!out.stderr.contains("GH_TOKEN=gh"), "{what}: {out:?}");
        if what.contains("trap") {
            assert!(
                out.stderr.contains("debug: "),
                "{what}: the trap ran: {out:?}"
            );
        } else {
            assert!(
                out.stderr.contains("__molecule"),
                "{what}: verbose: {out:?}"
            );
        }
    }
}

/// A read-only GH_TOKEN: one line for the shell's life, not one per update
/// (each prompt runs one); GITHUB_TOKEN is still set.
#[test]
fn a_read_only_gh_token_gets_one_line_in_bash_and_zsh() {
    let (ws, stale) = stale_workspace();
    for (sh, update) in [
        ("bash", "__molecule_token_hook"),
        ("zsh", "__molecule_token_update"),
    ] {
        let script = ws.path().join(format!("env.{sh}"));
        std::fs::write(&script, ws.helper(&["shell-init", sh], "").stdout).unwrap();
        let run = format!(
            "readonly GH_TOKEN; . {}; {update}; {update}; {update}; {PRINT_PAIR}",
            script.display()
        );
        let out = shell(&ws, sh, &run);
        assert_eq!(out.code(), 0, "{sh}: {out:?}");
        let token = ws.platform.last_token().unwrap();
        // GH_TOKEN keeps the value it had when it was made read-only.
        assert_eq!(out.stdout, format!("{stale}\n{token}\n"), "{sh}: {out:?}");
        assert_eq!(
            out.stderr,
            "molecule-git-token-helper: GH_TOKEN is read-only in this shell: not updating it\n",
            "{sh}"
        );
    }
}

/// zsh's verbose mode, xtrace and a DEBUG trap print no token either.
#[test]
fn zsh_under_verbose_xtrace_and_a_debug_trap_prints_no_token() {
    let (ws, _stale) = stale_workspace();
    let env_zsh = ws.path().join("env.zsh");
    std::fs::write(&env_zsh, ws.helper(&["shell-init", "zsh"], "").stdout).unwrap();
    let check = "test ${#GH_TOKEN} -gt 4";
    let trap = r#"trap 'print -r -- "debug: $ZSH_DEBUG_CMD" >&2' DEBUG"#;
    for (what, before) in [
        ("setopt verbose", "setopt verbose"),
        ("setopt xtrace verbose", "setopt xtrace verbose"),
        ("DEBUG trap", trap),
    ] {
        let script = format!(
            "{before}; . {}; __molecule_token_update; {check}",
            env_zsh.display()
        );
        let out = shell(&ws, "zsh", &script);
        assert_eq!(out.code(), 0, "{what}: {out:?}");
        assert!(!out.stderr.contains("GH_TOKEN='"), "{what}: {out:?}");
        assert!(
            !out.stderr.is_empty(),
            "{what}: the mode printed nothing: {out:?}"
        );
    }
}

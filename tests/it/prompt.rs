//! Interactive shells with `shell-init` sourced, each the real shell in a
//! tmux pane of its own (a pseudo-terminal), started with the container's
//! stale `GH_TOKEN`/`GITHUB_TOKEN`: a rotation reaches the next command, the
//! user's own prompt hooks still run, a failing platform costs one line.
//! Every process's argv is sampled meanwhile (shells.rs's `watching_argv`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::shells::{PRINT_PAIR, pair, stale_workspace, wait_for, watching_argv};
use crate::support::*;

/// A real interactive shell in a tmux pane of its own.
struct Pane<'a> {
    ws: &'a Workspace,
    socket: PathBuf,
}

impl<'a> Pane<'a> {
    fn start(ws: &'a Workspace, argv: &[&str]) -> Pane<'a> {
        let socket = ws.path().join(format!("tmux-{}", unique()));
        let pane = Pane { ws, socket };
        let mut c = pane.tmux();
        c.args(["new-session", "-d", "-x", "200", "-y", "50"])
            .args(argv);
        let out = ws.run(c, "");
        assert_eq!(out.code(), 0, "tmux: {out:?}");
        pane
    }

    fn tmux(&self) -> Command {
        let mut c = self.ws.command("tmux");
        c.arg("-S").arg(&self.socket).args(["-f", "/dev/null"]);
        c
    }

    /// Type `line` and Enter.
    fn type_line(&self, line: &str) {
        let mut c = self.tmux();
        c.args(["send-keys", "-l", line]);
        assert_eq!(self.ws.run(c, "").code(), 0);
        let mut c = self.tmux();
        c.args(["send-keys", "Enter"]);
        assert_eq!(self.ws.run(c, "").code(), 0);
    }

    /// Everything the pane shows, its history included.
    fn text(&self) -> String {
        let mut c = self.tmux();
        c.args(["capture-pane", "-p", "-J", "-S", "-"]);
        self.ws.run(c, "").stdout
    }

    /// Type a command that writes the two variables to a new file, and
    /// wait for that file.
    fn variables(&self, name: &str) -> String {
        let file = self.ws.path().join(name);
        let tmp = self.ws.path().join(format!("{name}.tmp"));
        self.type_line(&format!(
            "{PRINT_PAIR} > {tmp} ; mv {tmp} {file}",
            tmp = tmp.display(),
            file = file.display()
        ));
        wait_for(&format!("{name} ({})", self.text()), || file.exists());
        self.wait_for_prompt();
        std::fs::read_to_string(file).unwrap()
    }

    /// Wait until the pane's last line is a bare prompt (`$`): the hooks
    /// that run before a prompt have finished.
    fn wait_for_prompt(&self) {
        let bare = |text: &str| {
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim() == "$")
        };
        wait_for(&format!("a prompt ({})", self.text()), || {
            bare(&self.text())
        });
    }
}

impl Drop for Pane<'_> {
    fn drop(&mut self) {
        let mut c = self.tmux();
        c.arg("kill-server");
        let _ = c.output();
    }
}

/// How each shell is started with an rc file that sets a user's own prompt
/// hook (logging to `log`), then sources shell-init, then touches `ready`.
fn interactive(ws: &mut Workspace, sh: &str, log: &Path, ready: &Path) -> Vec<String> {
    let (log, ready) = (log.display(), ready.display());
    match sh {
        "bash" | "bash-array" => {
            // The user's own PROMPT_COMMAND, as a string or (bash 5.1) an array.
            let user = match sh {
                "bash" => format!("'echo user-hook >> {log}'"),
                _ => format!("('echo user-hook >> {log}' 'true')"),
            };
            let rc = ws.path().join(format!("{sh}rc"));
            std::fs::write(
                &rc,
                format!(
                    "PS1='$ '\nPROMPT_COMMAND={user}\n\
                     eval \"$({BIN} shell-init bash)\"\ntouch {ready}\n"
                ),
            )
            .unwrap();
            let rc = rc.display().to_string();
            ["bash", "--noprofile", "--rcfile", &rc, "-i"]
                .map(String::from)
                .to_vec()
        }
        "zsh" => {
            let dir = ws.path().join("zdotdir");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join(".zshrc"),
                format!(
                    "PS1='$ '\nprecmd() {{ echo user-hook >> {log} }}\n\
                     eval \"$({BIN} shell-init zsh)\"\ntouch {ready}\n"
                ),
            )
            .unwrap();
            ws.set_env("ZDOTDIR", &dir);
            vec!["zsh".into(), "-i".into()]
        }
        "fish" => {
            let dir = ws.path().join("xdg-config");
            std::fs::create_dir_all(dir.join("fish")).unwrap();
            std::fs::write(
                dir.join("fish/config.fish"),
                format!(
                    "set -g fish_greeting ''\nfunction fish_prompt\n echo -n '$ '\nend\n\
                     function user_hook --on-event fish_prompt\n echo user-hook >> {log}\nend\n\
                     {BIN} shell-init fish | source\ntouch {ready}\n"
                ),
            )
            .unwrap();
            ws.set_env("XDG_CONFIG_HOME", &dir);
            vec!["fish".into(), "-i".into()]
        }
        other => panic!("no shell {other}"),
    }
}

/// An interactive shell with shell-init sourced: it starts with the
/// current token in place of the stale one; the platform rotates the token
/// (a new one, the old one revoked) and the next command (bash: typed at
/// the next prompt) sees the new one, in the same shell; the user's own
/// prompt hook still runs.
fn a_rotation_reaches_the_next_command(sh: &str) {
    let (mut ws, stale) = stale_workspace();
    let log = ws.path().join("user-hook.log");
    let ready = ws.path().join("ready");
    let argv = interactive(&mut ws, sh, &log, &ready);
    watching_argv(&ws, &stale, || {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let pane = Pane::start(&ws, &argv);
        wait_for(&format!("{sh} to start: {}", pane.text()), || {
            ready.exists()
        });
        let first = ws.platform.last_token().expect("sourcing fetched a token");
        assert_eq!(pane.variables("one"), pair(&first), "{sh}");

        // The rotation.
        ws.platform.revoke(&first);
        ws.forget_cache();
        if sh.starts_with("bash") {
            // bash updates before a prompt: the next prompt.
            pane.type_line("");
        }
        let second = pane.variables("two");
        let current = ws.platform.last_token().unwrap();
        assert_ne!(current, first);
        assert_eq!(second, pair(&current), "{sh}: {}", pane.text());
        assert!(ws.platform.is_live(&current));

        let text = pane.text();
        assert!(!text.contains("molecule-git-token-helper"), "{sh}: {text}");
        let hook_runs = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            hook_runs.lines().filter(|l| *l == "user-hook").count() >= 2,
            "{sh}: the user's own hook did not run: {hook_runs:?}"
        );
    });
}

#[test]
fn interactive_bash_gets_the_rotated_token_and_keeps_the_users_prompt_command() {
    a_rotation_reaches_the_next_command("bash");
}

#[test]
fn interactive_bash_with_an_array_prompt_command_gets_the_rotated_token() {
    a_rotation_reaches_the_next_command("bash-array");
}

#[test]
fn interactive_zsh_gets_the_rotated_token_and_keeps_the_users_precmd() {
    a_rotation_reaches_the_next_command("zsh");
}

#[test]
fn interactive_fish_gets_the_rotated_token_and_keeps_the_users_prompt_handler() {
    a_rotation_reaches_the_next_command("fish");
}

/// With the platform failing, an interactive shell says so once, not at
/// every prompt, and keeps its variables; a success makes the next failure
/// news again.
#[test]
fn a_failing_platform_prints_one_line_not_one_per_prompt() {
    let (mut ws, stale) = stale_workspace();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "1");
    ws.platform.set_default(Reply::status(500));
    let log = ws.path().join("user-hook.log");
    let ready = ws.path().join("ready");
    let argv = interactive(&mut ws, "bash", &log, &ready);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let pane = Pane::start(&ws, &argv);
    wait_for("bash to start", || ready.exists());
    for _ in 0..3 {
        pane.type_line("");
    }
    assert_eq!(pane.variables("down"), pair(&stale));
    let errors = |text: &str| text.matches("molecule-git-token-helper: error").count();
    let text = pane.text();
    assert_eq!(errors(&text), 1, "{text}");
    assert!(text.contains("HTTP 500"), "{text}");

    // Back up: once the helper's memory of the failure (a few seconds) has
    // passed, a prompt brings the token; until then prompts stay quiet.
    ws.platform.set_default(Reply::Token);
    let mut n = 0;
    let up = loop {
        n += 1;
        pane.type_line("");
        let seen = pane.variables(&format!("up{n}"));
        if seen != pair(&stale) {
            break seen;
        }
        assert!(n < 400, "the token never came: {}", pane.text());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(up, pair(&ws.platform.last_token().unwrap()));
    assert_eq!(errors(&pane.text()), 1, "{}", pane.text());
    ws.platform.set_default(Reply::status(500));
    ws.forget_cache();
    pane.type_line("");
    let again = pane.variables("again");
    assert_eq!(again, up, "a failure leaves the variables alone");
    assert_eq!(errors(&pane.text()), 2, "{}", pane.text());
}

/// Issue 24 item 7, at a prompt: an interactive bash whose rc file turns on
/// verbose mode, sets a DEBUG trap with `set -T` (printing BASH_COMMAND)
/// and makes GITHUB_TOKEN read-only, then sources shell-init. Over a
/// rotation and several prompts the pane never shows a token or an
/// assignment, and the read-only variable costs one line in all.
#[test]
fn interactive_bash_under_verbose_and_a_debug_trap_shows_no_token() {
    let (ws, stale) = stale_workspace();
    let ready = ws.path().join("ready");
    let rc = ws.path().join("bashrc");
    std::fs::write(
        &rc,
        format!(
            "PS1='$ '\nset -v\nset -T\ntrap 'printf \"debug: %s\\n\" \"$BASH_COMMAND\" >&2' DEBUG\n\
             readonly GITHUB_TOKEN\n\
             eval \"$({BIN} shell-init bash)\"\ntouch {}\n",
            ready.display()
        ),
    )
    .unwrap();
    let rc = rc.display().to_string();
    let pane = Pane::start(&ws, &["bash", "--noprofile", "--rcfile", &rc, "-i"]);
    wait_for(&format!("bash to start: {}", pane.text()), || {
        ready.exists()
    });
    let first = ws.platform.last_token().expect("sourcing fetched a token");
    assert_eq!(pane.variables("one"), format!("{first}\n{stale}\n"));
    ws.platform.revoke(&first);
    ws.forget_cache();
    for _ in 0..3 {
        pane.type_line("");
    }
    let two = pane.variables("two");
    let current = ws.platform.last_token().unwrap();
    assert_ne!(current, first);
    assert_eq!(two, format!("{current}\n{stale}\n"));
    let text = pane.text();
    assert!(text.contains("debug: "), "the trap ran: {text}");
    for token in ws.platform.tokens() {
        assert!(!text.contains(&token), "a token on the pane: {text}");
    }
    assert!(!text.contains("GH_TOKEN='"), "{text}");
    let said = "GITHUB_TOKEN is read-only in this shell";
    assert_eq!(text.matches(said).count(), 1, "{text}");
}

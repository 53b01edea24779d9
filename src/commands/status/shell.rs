//! For `gh-env`: the shell `status` runs in (its parent process), and the
//! fix for stale token variables there: `shell-init` for an interactive
//! shell, `BASH_ENV` for the `bash -c` an agent runs, the gh proxy for gh.

/// The shells `status` names.
const SHELLS: [&str; 8] = ["bash", "zsh", "fish", "sh", "dash", "ksh", "mksh", "ash"];

/// The shell that started this process (`bash`, `zsh`, `fish`, `sh`…),
/// from `/proc`; `None` when the parent is not a shell (cron, a program)
/// or cannot be read.
pub fn parent_shell() -> Option<String> {
    let ppid = std::os::unix::process::parent_id();
    let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).ok()?;
    let name = comm.trim().trim_start_matches('-');
    SHELLS.contains(&name).then(|| name.to_string())
}

/// Where this shell says it is: ` in this bash`, or nothing.
pub fn here(shell: Option<&str>) -> String {
    shell.map(|s| format!(" in this {s}")).unwrap_or_default()
}

/// What brings `stale` up to date in `shell`, and for gh.
pub fn fix(shell: Option<&str>, stale: &[&str], proxy: bool) -> String {
    let eval = match shell {
        Some(s @ ("bash" | "zsh")) => format!(
            "eval \"$(molecule-git-token-helper shell-init {s})\" in ~/.{s}rc keeps this \
             shell current (configure --shell-init writes it), or run eval \"$(molecule-git-token-helper env)\" now"
        ),
        Some("fish") => "molecule-git-token-helper shell-init fish | source in config.fish keeps \
                         this shell current (configure --shell-init writes it)"
            .to_string(),
        _ => "eval \"$(molecule-git-token-helper env)\" brings this shell up to date; \
              shell-init keeps an interactive one current"
            .to_string(),
    };
    let it = if stale.len() == 1 { "it" } else { "them" };
    let gh = if proxy {
        format!("gh on PATH is the proxy, which replaces {it} for gh")
    } else {
        format!(
            "gh uses {it} before its own login and fails with HTTP 401 once the token dies: \
             configure --gh-proxy, or unset {}",
            stale.join(" ")
        )
    };
    format!(
        "{eval}; for the bash -c an agent runs, start it with \
         BASH_ENV=PREFIX/share/molecule-git-token-helper/env.bash; {gh}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_fix_for_the_shell() {
        let f = fix(Some("bash"), &["GH_TOKEN"], false);
        assert!(
            f.contains("shell-init bash") && f.contains("~/.bashrc"),
            "{f}"
        );
        assert!(f.contains("BASH_ENV") && f.contains("--gh-proxy"), "{f}");
        let f = fix(Some("fish"), &["GH_TOKEN"], true);
        assert!(
            f.contains("shell-init fish | source") && f.contains("is the proxy"),
            "{f}"
        );
        assert!(fix(None, &["GH_TOKEN"], true).contains("env)\""));
    }
}

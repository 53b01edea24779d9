//! `shell-init bash|zsh|fish`: the script a shell sources to keep gh's
//! token variables current (direnv's `hook`, mise's `activate`). The
//! scripts are files of their own (`shell/molecule.{bash,zsh,fish}`, linted
//! by shellcheck and tested as scripts); this prints one with a first line
//! naming this program and the settings given as flags, so the hook runs
//! the same helper with the same settings from any PATH (an agent's
//! `BASH_ENV`, say). `install.sh` writes them under
//! `share/molecule-git-token-helper/` as `env.bash`, `env.zsh`, `env.fish`.

use crate::commands::configure::program_path;
use crate::commands::env::{fish_quote, sh_quote};
use crate::error::Result;
use crate::settings::HelperFlags;

/// The shells `shell-init` has a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    /// The script, as it is in the repository.
    pub fn script(self) -> &'static str {
        match self {
            Shell::Bash => include_str!("../../shell/molecule.bash"),
            Shell::Zsh => include_str!("../../shell/molecule.zsh"),
            Shell::Fish => include_str!("../../shell/molecule.fish"),
        }
    }

    /// The line that sources the script from the shell's rc file, running
    /// `helper` (already quoted words).
    pub fn rc_line(self, helper: &[String]) -> String {
        let helper = helper.join(" ");
        match self {
            Shell::Bash | Shell::Zsh => {
                format!("eval \"$({helper} shell-init {})\"", self.name())
            }
            Shell::Fish => format!("{helper} shell-init fish | source"),
        }
    }

    /// `words` as one word each, for this shell.
    pub fn quote_all(self, words: &[String]) -> Vec<String> {
        let quote = match self {
            Shell::Bash | Shell::Zsh => sh_quote,
            Shell::Fish => fish_quote,
        };
        words.iter().map(|w| quote(w)).collect()
    }
}

/// This program and the settings given as flags: what the hook runs.
pub fn helper_words(flags: &HelperFlags) -> Result<Vec<String>> {
    let mut words = vec![program_path()?];
    words.extend(flags.to_args());
    Ok(words)
}

/// The line that sources the script from `shell`'s rc file (`bash`,
/// `zsh`, `fish`), running `helper`: what `configure --shell-init` writes.
pub fn rc_line(shell: &str, helper: &[String]) -> String {
    let shell = match shell {
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        _ => Shell::Bash,
    };
    shell.rc_line(&shell.quote_all(helper))
}

/// The script for `shell`, running `helper`.
pub fn render(shell: Shell, helper: &[String]) -> String {
    let words = shell.quote_all(helper).join(" ");
    let first = match shell {
        Shell::Bash => format!("__molecule_helper=({words})\n"),
        Shell::Zsh => format!("typeset -ga __molecule_helper=({words})\n"),
        Shell::Fish => format!("set -g __molecule_helper {words}\n"),
    };
    first + shell.script()
}

pub fn run(shell: Shell, flags: &HelperFlags) -> Result<()> {
    let helper = helper_words(flags)?;
    super::write_stdout(render(shell, &helper).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_names_the_helper_quoted_for_the_shell() {
        let helper = [
            "/opt/it's/molecule-git-token-helper".to_string(),
            "--host".into(),
        ];
        let bash = render(Shell::Bash, &helper);
        assert!(bash.starts_with(
            "__molecule_helper=('/opt/it'\\''s/molecule-git-token-helper' '--host')\n# shellcheck"
        ));
        let fish = render(Shell::Fish, &helper);
        assert!(fish.starts_with(
            "set -g __molecule_helper '/opt/it\\'s/molecule-git-token-helper' '--host'\n"
        ));
        assert_eq!(
            Shell::Zsh.rc_line(&["'/x'".into()]),
            "eval \"$('/x' shell-init zsh)\""
        );
        assert_eq!(
            Shell::Fish.rc_line(&["'/x'".into()]),
            "'/x' shell-init fish | source"
        );
    }
}

//! `completions SHELL`: print shell completions generated from the clap
//! definition, so they cannot drift from `--help`.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, Shell};

pub fn run(args: &CompletionsArgs) -> Result<()> {
    super::write_stdout(&render(args.shell))
}

/// The completion script for `shell`, whole.
pub fn render(shell: Shell) -> Vec<u8> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = without_hidden_subcommands(&Cli::command());
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, NAME, &mut out);
    if shell == clap_complete::Shell::Bash {
        out = fix_bash_states(&out);
    }
    out
}

const NAME: &str = "molecule-git-token-helper";

/// The command as completions should offer it. clap_complete offers hidden
/// subcommands (the `fallback` wrapper that `configure` writes into git's
/// config), and clap cannot remove one, so copy what completion uses: the
/// arguments and the visible subcommands.
fn without_hidden_subcommands(cli: &clap::Command) -> clap::Command {
    debug_assert_eq!(cli.get_name(), NAME);
    let mut command = clap::Command::new(NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(true)
        .args(cli.get_arguments().cloned())
        .subcommands(cli.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cli.get_about() {
        command = command.about(about.clone());
    }
    command
}

/// clap_complete 4.6 spells bash's state names two ways when the binary's
/// name has a hyphen (clap-rs/clap#6421): the loop that reads the words
/// escapes `-` in the binary's name as `__`, the case arms as `__subcmd__`, so
/// no subcommand ever completes its own options. Spell the arms as the loop
/// does. Once clap_complete is fixed the wrong spelling no longer occurs and
/// this changes nothing.
fn fix_bash_states(script: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let wrong = format!("{}__subcmd__", NAME.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", NAME.replace('-', "__"));
    text.replace(&wrong, &right).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_offer_visible_commands_only() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(render(shell)).unwrap();
            for visible in ["fetch-token", "gh-login", "completions", "platform-url"] {
                assert!(text.contains(visible), "{shell:?}: no {visible}");
            }
            assert!(
                !text.contains("fallback"),
                "{shell:?} offers the hidden fallback"
            );
            assert!(
                !text.contains("_fetch_token"),
                "{shell:?} offers a hidden alias"
            );
        }
    }
}

//! molecule-git-token-helper: wiring. Parse, resolve settings, dispatch, and
//! turn an error into one stderr line and an exit code. This is the one
//! place that prints an error and picks the exit code.

use std::process::ExitCode;

use clap::Parser;

use molecule_git_token_helper::cli::{self, Cli, Parsed};
use molecule_git_token_helper::commands::{self, Action, Exit, fallback, gh_proxy};
use molecule_git_token_helper::diag;
use molecule_git_token_helper::error::Error;
use molecule_git_token_helper::secret;
use molecule_git_token_helper::settings;

fn main() -> ExitCode {
    // Before anything reads a secret, for every command: a crash must not
    // write the bearer or a token into a core file.
    secret::protect_process();
    // Run as `gh` (the proxy's link): gh's arguments are gh's, untouched.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.first().is_some_and(|a| gh_proxy::invoked_as_gh(a)) {
        return finish(Err(gh_proxy::run(&argv)));
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let (flags, action) = match cli.into_parts() {
        Parsed::Run(flags, action) => (flags, action),
        // Completions need nothing but the definition: a bad setting in the
        // environment must not stop install.sh from generating them.
        Parsed::Completions(shell) => {
            return finish(
                commands::write_stdout(&cli::completions(shell)).map(|()| Exit::Success),
            );
        }
    };
    let settings = settings::resolve(&flags, &|name| std::env::var_os(name));
    // The fallback wrapper runs even when the settings do not resolve: a bad
    // one must not cost git the operator's fallback.
    if let Action::Fallback { helper, operation } = &action {
        diag::set_verbose(settings.as_ref().is_ok_and(|s| s.verbose));
        return finish(fallback::run(helper, operation, settings.as_ref().ok()));
    }
    let settings = match settings {
        Ok(s) => s,
        Err(e) => return finish(Err(e.into())),
    };
    diag::set_verbose(settings.verbose);
    finish(commands::run(action, &flags, &settings))
}

/// The exit code for `result`, after printing its error line, if any.
fn finish(result: Result<Exit, Error>) -> ExitCode {
    match result {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Status(code)) => ExitCode::from(code),
        Err(error) => {
            if let Some(line) = error.line() {
                diag::write_line("error", &line);
            }
            ExitCode::from(error.exit_code())
        }
    }
}

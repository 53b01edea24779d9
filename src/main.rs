//! molecule-git-token-helper: wiring. Parse, resolve settings, dispatch, and
//! turn an error into one stderr line and an exit code. Nothing else prints
//! errors.

mod bearer;
mod cache;
mod cli;
mod commands;
mod diag;
#[cfg(test)]
mod fuzz;
mod git_config;
mod gitea;
#[cfg(test)]
mod man;
mod platform;
mod protocol;
mod secret_file;
mod settings;
mod shell;
mod stdin;
mod token;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::settings::Settings;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    // Completions need nothing but the definition: a bad setting in the
    // environment must not stop install.sh from generating them.
    if let Command::Completions(args) = &cli.command {
        return finish(commands::completions::run(args).map(|()| ExitCode::SUCCESS));
    }
    let settings = settings::resolve(&cli.global, &|name| std::env::var_os(name));
    // The fallback wrapper needs no settings: a bad one must not cost git
    // the operator's fallback.
    if let Command::Fallback(args) = &cli.command {
        diag::set_verbose(settings.as_ref().is_ok_and(|s| s.verbose));
        return finish(commands::fallback::run(args, settings.as_ref().ok()));
    }
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            diag::write_line("error", &e.0);
            return ExitCode::from(2);
        }
    };
    diag::set_verbose(settings.verbose);
    finish(run(cli.command, &cli.global, &settings))
}

fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            diag::write_line("error", &format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, global: &GlobalArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let stdin = || stdin::with_deadline(settings.timeout);
    match command {
        Command::Get => commands::credential::get(settings, stdin())?,
        Command::Store => commands::credential::store(stdin())?,
        Command::Erase => commands::credential::erase(settings, stdin())?,
        Command::FetchToken(args) => commands::fetch_token::run(settings, &args)?,
        Command::GhLogin(args) => commands::gh_login::run(settings, &args)?,
        Command::Exec(args) => return commands::exec::run(settings, &args),
        Command::Configure(args) => {
            let flags = settings::flag_args(global, settings)?;
            commands::configure::configure(settings, &flags, &args)?
        }
        Command::Unconfigure(args) => {
            // The hosts given as flags, platform or secret-backed; else all.
            let mut only = Vec::new();
            if !global.hosts.is_empty() {
                only.extend(settings.hosts.iter().cloned());
            }
            if !global.secret_hosts.is_empty() {
                only.extend(settings.secret_hosts.iter().map(|s| s.host.clone()));
            }
            let only = (!only.is_empty()).then_some(only.as_slice());
            commands::configure::unconfigure(only, &args)?
        }
        Command::Status(args) => return commands::status::run(settings, &args),
        Command::Completions(args) => commands::completions::run(&args)?,
        Command::Fallback(args) => return commands::fallback::run(&args, Some(settings)),
    }
    Ok(ExitCode::SUCCESS)
}

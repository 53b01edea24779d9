//! `exec -- CMD ARGS…`: become CMD with a fresh token in its environment.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use anyhow::Result;

use crate::cli::ExecArgs;
use crate::diag::io_reason;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &ExecArgs) -> Result<ExitCode> {
    let (program, rest) = args
        .command
        .split_first()
        .expect("clap requires at least the command");
    let token = super::platform_token(settings)?;
    let error = Command::new(program)
        .args(rest)
        .env("GH_TOKEN", token.secret.expose())
        .env("GITHUB_TOKEN", token.secret.expose())
        .exec();
    // exec only returns on failure; the shell's codes: 127 not found, 126 not runnable.
    let (code, why) = match error.kind() {
        std::io::ErrorKind::NotFound => (127, "command not found".to_string()),
        _ => (126, io_reason(&error)),
    };
    crate::diag::write_line(
        "error",
        &format!("cannot run {}: {why}", program.to_string_lossy()),
    );
    Ok(ExitCode::from(code))
}

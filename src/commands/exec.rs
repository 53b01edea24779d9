//! `exec -- CMD ARGS…`: become CMD with a fresh token in its environment.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::diag::io_reason;
use crate::error::Error;
use crate::settings::Settings;
use crate::token;

/// Become `command` (program and arguments); returns only on failure.
pub fn run(settings: &Settings, command: &[OsString]) -> Error {
    let Some((program, rest)) = command.split_first() else {
        return Error::Usage("exec needs a command after --".into());
    };
    let token = match token::platform_token(settings) {
        Ok(token) => token,
        Err(e) => return e.into(),
    };
    crate::secret::allow_core_dumps();
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
    Error::CannotRun {
        code,
        message: format!("cannot run {}: {why}", program.to_string_lossy()),
    }
}

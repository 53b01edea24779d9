//! `exec -- CMD ARGS…`: become CMD with a fresh token in its environment.
//! Also the rule, shared with the gh proxy, for which variables get it.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::diag::io_reason;
use crate::error::Error;
use crate::secret::Secret;
use crate::settings::Settings;
use crate::token;

/// The variables gh reads a github.com token from.
const GITHUB_VARIABLES: [&str; 2] = ["GH_TOKEN", "GITHUB_TOKEN"];
/// The same and those gh reads an Enterprise host's token from.
const ALL_VARIABLES: [&str; 4] = [
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
];

/// The environment gh needs: the variables that get the platform's token.
/// `GH_TOKEN` and `GITHUB_TOKEN` always; `GH_ENTERPRISE_TOKEN` and
/// `GITHUB_ENTERPRISE_TOKEN` only when a served platform host is not
/// github.com, since gh hands those to any Enterprise host it talks to and
/// the token must never reach a host this program does not serve. The others
/// are left as they were. Used by `exec`, the gh proxy and `status`.
pub fn gh_token_variables(settings: &Settings) -> &'static [&'static str] {
    if settings.serves_enterprise() {
        &ALL_VARIABLES
    } else {
        &GITHUB_VARIABLES
    }
}

/// Put `token` in `command`'s environment as [`gh_token_variables`] says.
pub fn set_gh_token(command: &mut Command, settings: &Settings, token: &Secret) {
    for name in gh_token_variables(settings) {
        command.env(name, token.expose());
    }
}

/// Become `command` (program and arguments); returns only on failure.
pub fn run(settings: &Settings, command: &[OsString]) -> Error {
    let Some((program, rest)) = command.split_first() else {
        return Error::Usage("exec needs a command after --".into());
    };
    let token = match token::platform_token(settings) {
        Ok(token) => token,
        Err(e) => return e.into(),
    };
    let mut child = Command::new(program);
    child.args(rest);
    set_gh_token(&mut child, settings, &token.secret);
    cannot_run(program, &child.exec())
}

/// What a failed exec of `program` means, in a shell's codes: 127 not
/// found, 126 not runnable.
pub fn cannot_run(program: &std::ffi::OsStr, error: &std::io::Error) -> Error {
    let (code, why) = match error.kind() {
        std::io::ErrorKind::NotFound => (127, "command not found".to_string()),
        _ => (126, io_reason(error)),
    };
    Error::CannotRun {
        code,
        message: format!("cannot run {}: {why}", program.to_string_lossy()),
    }
}

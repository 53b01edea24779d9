//! `exec -- CMD ARGS…`: become CMD with a fresh token in its environment,
//! in the variables `gh::set_gh_token` names (the rule the gh proxy follows).
//! A narrowed token's narrowing is exported too (`MOLECULE_TOKEN_*`), so
//! that the git and gh the command runs ask for no more.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::error::Error;
use crate::gh::set_gh_token;
use crate::owner::Owner;
use crate::settings::Settings;
use crate::token;

/// Become `command` (program and arguments) with `owner`'s token (`None`:
/// the default installation's); returns only on failure.
pub fn run(settings: &Settings, command: &[OsString], owner: Option<&Owner>) -> Error {
    let Some((program, rest)) = command.split_first() else {
        return Error::Usage("exec needs a command after --".into());
    };
    super::journal_target(settings, owner, None);
    let wanted = super::narrow::here(settings, owner);
    let token = match wanted.and_then(|wanted| Ok(token::token_for(settings, &wanted)?)) {
        Ok(token) => token,
        Err(e) => return e,
    };
    let mut child = Command::new(program);
    child.args(rest);
    set_gh_token(&mut child, settings, &token.secret);
    // The command's own git and gh ask for the same narrowing.
    for (name, value) in settings.narrowing.variables() {
        match value {
            Some(value) => child.env(name, value),
            None => child.env_remove(name),
        };
    }
    crate::secret::allow_core_dumps();
    Error::cannot_run(program, &child.exec())
}

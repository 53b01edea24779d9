//! One file per subcommand. Commands take `Settings`, never clap's types
//! beyond their own arguments.

pub mod completions;
pub mod configure;
pub mod credential;
pub mod exec;
pub mod fallback;
pub mod fetch_token;
pub mod gh_login;
pub mod status;

use std::io::Write;

use anyhow::Result;

use crate::settings::Settings;
use crate::token::Token;
use crate::{bearer, platform};

/// A fresh token for the platform's hosts: read the bearer, ask the platform.
pub fn platform_token(settings: &Settings) -> Result<Token> {
    let bearer = bearer::read(&settings.bearer_path())?;
    platform::fetch(settings, &bearer)
}

/// Write the whole of `bytes` to stdout at once. A reader that went away
/// (a broken pipe) is not an error: nobody is left to tell.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            "cannot write to stdout: {}",
            crate::diag::io_reason(&e)
        )),
    }
}

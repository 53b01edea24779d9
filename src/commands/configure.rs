//! `configure` / `unconfigure`: register the helper in git's config.

use anyhow::{Result, bail};

use crate::cli::ConfigureArgs;
use crate::settings::Settings;

pub fn configure(_settings: &Settings, _args: &ConfigureArgs) -> Result<()> {
    bail!("configure is not implemented yet")
}

pub fn unconfigure(_settings: &Settings, _args: &ConfigureArgs) -> Result<()> {
    bail!("unconfigure is not implemented yet")
}

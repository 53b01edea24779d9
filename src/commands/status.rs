//! `status`: named checks, each ok/warn/fail, for a person at 2 a.m.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::StatusArgs;
use crate::settings::Settings;

pub fn run(_settings: &Settings, _args: &StatusArgs) -> Result<ExitCode> {
    bail!("status is not implemented yet")
}

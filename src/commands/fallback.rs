//! `fallback` (hidden): run a kept fallback helper, withholding short-lived
//! tokens from its `store` and `erase`.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::FallbackArgs;

pub fn run(_args: &FallbackArgs) -> Result<ExitCode> {
    bail!("fallback is not implemented yet")
}

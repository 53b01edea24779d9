//! `completions SHELL`: print shell completions generated from the clap definition.

use anyhow::{Result, bail};

use crate::cli::CompletionsArgs;

pub fn run(_args: &CompletionsArgs) -> Result<()> {
    bail!("completions is not implemented yet")
}

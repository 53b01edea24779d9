//! molecule-git-token-helper as a library: the binary (`main.rs`) is wiring
//! only, and the tests in `tests/` reach every module through here. The one
//! way through the code is drawn in docs/architecture.md.

pub mod cargo;
pub mod child;
pub mod cli;
pub mod commands;
pub mod diag;
pub mod error;
pub mod gh;
pub mod git;
pub mod http;
pub mod journal;
pub mod owner;
pub mod scope;
pub mod secret;
pub mod settings;
pub mod token;

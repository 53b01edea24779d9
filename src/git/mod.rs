//! Everything that speaks git's language: the credential protocol on
//! stdin/stdout, git's URL rules, its configuration, the helper lines in it,
//! and the shell quoting git's helper lines use.

pub mod config;
pub mod helpers;
pub mod protocol;
pub mod repo;
pub mod shell;
pub mod stdin;
pub mod url;
pub mod version;

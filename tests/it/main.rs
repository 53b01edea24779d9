//! The integration tests, one binary (one compile of the support code): the
//! real built helper, the real git, and the mocks in `tests/support`, a
//! module per area.

#[path = "../support/mod.rs"]
mod support;

mod cache;
mod clients;
mod commands;
mod configure;
mod configure_gits;
mod configure_includes;
mod fallback;
mod faults;
mod gh;
mod git_fill;
mod git_server;
mod hardening;
mod journal;
mod life;
mod mock_gitea;
mod mock_github;
mod mock_platform;
mod narrowed;
mod outage;
mod outage_owners;
mod owners;
mod owners_origin;
mod probe_github;
mod prompt;
mod proxy_sandbox;
mod readme;
mod readme_agents;
mod secret_hosts;
mod shells;
mod ship;
mod status;
mod status_owners;
mod status_redaction;

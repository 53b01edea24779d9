//! `fetch-token [HOST] [--json]` (and its old name `_fetch_token`).

use anyhow::{Result, bail};

use crate::cli::FetchTokenArgs;
use crate::settings::Settings;
use crate::token::{Token, format_rfc3339};

pub fn run(settings: &Settings, args: &FetchTokenArgs) -> Result<()> {
    let token = match &args.host {
        Some(host) => match settings.secret_host(host) {
            // A secret-backed host: its secret, which has no expiry.
            Some(secret) => Token {
                secret: super::secret_token(settings, secret)?,
                expires_at: None,
            },
            None if settings.serves_host(host) => super::platform_token(settings)?,
            None => bail!(
                "{host} is not a served host (serving {}; add it with --host or \
                 MOLECULE_GIT_HOSTS, or --secret-host or MOLECULE_SECRET_HOSTS)",
                settings.describe_hosts()
            ),
        },
        None => super::platform_token(settings)?,
    };
    let mut out = if args.json {
        // A struct, not json!{}, so the keys keep SPEC.md's order.
        #[derive(serde::Serialize)]
        struct Out<'a> {
            token: &'a str,
            expires_at: Option<String>,
        }
        serde_json::to_string(&Out {
            token: token.secret.expose(),
            expires_at: token.expires_at.map(format_rfc3339),
        })?
    } else {
        token.secret.expose().to_string()
    };
    out.push('\n');
    super::write_stdout(out.as_bytes())
}

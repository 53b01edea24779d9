//! `fetch-token [HOST] [--json] [--owner OWNER]` (and its old name
//! `_fetch_token`).

use anyhow::anyhow;

use crate::error::Result;
use crate::journal::{self, Event, Kind, Source};
use crate::owner::Owner;
use crate::settings::{Route, Settings};
use crate::token::{self, Token, format_rfc3339};

/// `host`: which served host's token (default: the first platform host);
/// `owner`: which installation's (a secret host has one secret: ignored).
pub fn run(
    settings: &Settings,
    host: Option<&str>,
    json: bool,
    owner: Option<&Owner>,
) -> Result<()> {
    let named = host.or(settings.hosts.first().map(String::as_str));
    let owner_name = owner.map(Owner::to_string);
    journal::target(named, owner_name.as_deref(), None);
    let token = match host {
        Some(host) => match settings.route(host) {
            // A secret-backed host: its secret, which has no expiry.
            Route::Secret(secret) => {
                let read = token::secret_host_token(settings, secret);
                journal::record(match &read {
                    Ok(secret) => Event::new(Kind::Serve)
                        .token(secret, None)
                        .source(Source::Secret),
                    Err(error) => Event::new(Kind::Fail).error(format!("{error:#}")),
                });
                Token {
                    secret: read?,
                    expires_at: None,
                }
            }
            Route::Platform => platform_token(settings, owner)?,
            Route::NotServed => {
                return Err(anyhow!(
                    "{} is not a served host (serving {}; add it with --host or \
                 MOLECULE_GIT_HOSTS, or --secret-host or MOLECULE_SECRET_HOSTS)",
                    crate::secret::redact_url_userinfo(host),
                    settings.describe_hosts()
                )
                .into());
            }
        },
        None => platform_token(settings, owner)?,
    };
    let mut out = if json {
        // A struct, not json!{}, so the keys keep the contract's order.
        #[derive(serde::Serialize)]
        struct Out<'a> {
            token: &'a str,
            expires_at: Option<String>,
        }
        serde_json::to_string(&Out {
            token: token.secret.expose(),
            expires_at: token.expires_at.map(format_rfc3339),
        })
        .map_err(anyhow::Error::from)?
    } else {
        token.secret.expose().to_string()
    };
    out.push('\n');
    super::write_stdout(out.as_bytes())
}

/// The platform's token for `owner`, narrowed as the settings say.
fn platform_token(settings: &Settings, owner: Option<&Owner>) -> Result<Token> {
    let wanted = super::narrow::here(settings, owner)?;
    Ok(token::token_for(settings, &wanted)?)
}

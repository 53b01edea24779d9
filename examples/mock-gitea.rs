//! The test suite's mock Gitea API, runnable by hand or from scripts:
//!
//! ```text
//! cargo run --example mock-gitea -- --port 3000 --token-file /tmp/configs/secrets.d/GITEA_TOKEN \
//!     --scopes read:user,write:repository --repo team/repo
//! ```

mod common;
#[allow(dead_code)] // the mocks use what they need of it
#[path = "../tests/support/http_server.rs"]
mod http_server;
#[path = "../tests/support/mock_gitea.rs"]
mod mock_gitea;

use common::{Args, Listening};
use mock_gitea::MockGitea;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: mock-gitea [OPTIONS] (--token TOKEN | --token-file PATH)

Serves on 127.0.0.1 the part of Gitea's API that `status --probe` asks:
GET /api/v1/user (needs read:user), /api/v1/repos/OWNER/REPO/pulls (needs
read:repository) and /api/v1/repos/OWNER/REPO/issues (needs read:issue),
for `Authorization: token TOKEN`. An unknown or missing token gets 401, a
missing scope 403, an unknown repository 404. Runs until killed.

Options:
  --port N             port to listen on (default 3000; 0 = random)
  --token TOKEN        the accepted token
  --token-file PATH    read the accepted token from PATH (whitespace trimmed)
  --scopes LIST        the token's scopes, comma-separated (default all), e.g.
                       read:user,write:repository (write:X implies read:X)
  --login NAME         the token's user (default mock-user)
  --repo OWNER/REPO    a repository that exists; repeatable
  --port-file PATH     once listening, write the port number to PATH (atomically)
  --quiet              no per-request log line on stderr
  -h, --help           print this help

Point the helper at it with
  status --probe --api-url HOST=http://127.0.0.1:PORT/api/v1 --probe-repo OWNER/REPO
(add --probe-host HOST to leave the platform's GitHub hosts unasked)
";

/// mock-gitea's own options.
struct Own {
    scopes: Vec<String>,
    login: String,
    repos: Vec<String>,
}

fn own_option(own: &mut Own, option: &str, args: &mut Args) -> Result<bool, String> {
    match option {
        "--scopes" => {
            own.scopes = args
                .value(option)?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }
        "--login" => own.login = args.value(option)?,
        "--repo" => {
            let value = args.value(option)?;
            if value.split('/').filter(|p| !p.is_empty()).count() != 2 {
                return Err(format!("--repo {value:?}: expected OWNER/REPO"));
            }
            own.repos.push(value)
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn main() -> ExitCode {
    let own = Own {
        scopes: vec!["all".to_string()],
        login: "mock-user".to_string(),
        repos: Vec::new(),
    };
    let parsed = common::parse(std::env::args().skip(1), 3000, "token", own, own_option);
    common::main("mock-gitea", USAGE, parsed, |options| {
        let mock = MockGitea::start_on(options.port)?;
        mock.set_log(!options.quiet);
        let scopes: Vec<&str> = options.own.scopes.iter().map(String::as_str).collect();
        mock.add_token(&options.secret, &options.own.login, &scopes);
        for repo in &options.own.repos {
            mock.add_repo(repo);
        }
        Ok(Listening {
            port: mock.port(),
            banner: format!(
                "mock gitea listening on {} (token scopes: {})",
                mock.api_url(),
                options.own.scopes.join(",")
            ),
            mock,
        })
    })
}

//! The test suite's HTTPS git remote, runnable by hand beside the mock platform:
//!
//! ```text
//! cargo run --example git-server -- --port 8443 --pat-file /tmp/pat --accept-any-token
//! git -c http.sslCAInfo=/tmp/git-server-ca.pem clone https://127.0.0.1:8443/demo.git
//! ```

mod common;
#[path = "../tests/support/git_server.rs"]
mod git_server;
#[path = "../tests/support/test_git.rs"]
#[allow(dead_code)]
mod test_git;
#[path = "../tests/support/tls.rs"]
mod tls;

use common::{Args, Listening};
use git_server::{GitServer, TokenCheck};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use test_git::test_git;

const USAGE: &str = "\
Usage: git-server [OPTIONS] (--pat PAT | --pat-file PATH)

Serves bare git repositories over HTTPS on 127.0.0.1 with git http-backend,
plus a minimal git-lfs batch endpoint, with HTTP Basic auth checked on every
request. A test CA is made at start; give its certificate to git as
http.sslCAInfo (the path is printed, or see --ca-file). GIT_SSL_CAINFO, when
set in the environment, overrides http.sslCAInfo: unset it, or set it to the
CA file. Runs until killed.

Accepted credentials: the operator PAT (--pat-user, --pat), and with
--accept-any-token any password for the user x-access-token. This example
does not ask the mock platform whether a token is live (the tests do that
through the server's token check); without --accept-any-token tokens are
refused, so git falls through to a PAT.

Options:
  --port N             port to listen on (default 8443; 0 = random)
  --pat PAT            the accepted operator password
  --pat-file PATH      read the accepted operator password from PATH (trimmed)
  --pat-user NAME      the operator's user name (default operator)
  --accept-any-token   accept any password for the user x-access-token
  --repo NAME          serve a repository NAME.git with one commit (README.md);
                       may be repeated (default: demo)
  --ca-file PATH       also write the CA certificate (PEM) to PATH
  --port-file PATH     once listening, write the port number to PATH (atomically)
  --quiet              no per-request decision line on stderr
  -h, --help           print this help
";

/// git-server's own options.
struct Own {
    pat_user: String,
    accept_any_token: bool,
    repos: Vec<String>,
    ca_file: Option<PathBuf>,
}

fn own_option(own: &mut Own, option: &str, args: &mut Args) -> Result<bool, String> {
    match option {
        "--pat-user" => own.pat_user = args.value(option)?,
        "--accept-any-token" => own.accept_any_token = true,
        "--repo" => {
            let name = args.value(option)?;
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && !name.starts_with('.');
            if !valid {
                return Err(format!("invalid repository name {name:?}"));
            }
            own.repos.push(name);
        }
        "--ca-file" => own.ca_file = Some(PathBuf::from(args.value(option)?)),
        _ => return Ok(false),
    }
    Ok(true)
}

fn main() -> ExitCode {
    let own = Own {
        pat_user: "operator".to_string(),
        accept_any_token: false,
        repos: Vec::new(),
        ca_file: None,
    };
    let parsed = common::parse(std::env::args().skip(1), 8443, "pat", own, own_option);
    common::main("git-server", USAGE, parsed, |options| {
        let own = &options.own;
        let ca_dir = tempfile::Builder::new().prefix("git-server-ca").tempdir()?;
        let ca = tls::TestCa::new(ca_dir.path());
        let mut ca_path = ca.ca_pem_path().to_path_buf();
        if let Some(path) = &own.ca_file {
            std::fs::copy(ca.ca_pem_path(), path)?;
            ca_path = path.clone();
        }
        let any = own.accept_any_token;
        let check: TokenCheck = Arc::new(move |_: &str| any);
        let server = GitServer::start_on(
            options.port,
            Some(ca.server_config(&["127.0.0.1", "localhost"])),
            check,
            Some((&own.pat_user, &options.secret)),
        )?;
        server.set_log(!options.quiet);
        let repos = if own.repos.is_empty() {
            vec!["demo".to_string()]
        } else {
            own.repos.clone()
        };
        let urls: Vec<String> = repos
            .iter()
            .map(|name| server.create_bare_with(name, &[("README.md", &format!("# {name}\n"))]))
            .collect();
        let tokens = if any {
            "any x-access-token"
        } else {
            "no tokens"
        };
        let banner = format!(
            "git server listening on {} (PAT user {}, {tokens}); repositories: {}; \
             CA certificate for http.sslCAInfo (GIT_SSL_CAINFO overrides it): {}",
            server.url(),
            own.pat_user,
            urls.join(" "),
            ca_path.display()
        );
        Ok(Listening {
            port: server.port(),
            banner,
            mock: (server, ca, ca_dir),
        })
    })
}
